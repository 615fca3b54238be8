//! UTC calendar time from the system clock, for the HTML page and the JSON, without a date library.

use std::time::{SystemTime, UNIX_EPOCH};

use ntp_wire::calendar::date_time;

/// `2020-07-14 12:38:00 UTC`; a clock set before 1970 reads as the epoch.
pub fn format(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // u64 seconds since 1970 fit in i64 for the next 292 billion years.
    format!("{} UTC", date_time(seconds as i64))
}

/// RFC 3339 in UTC with milliseconds, `2020-07-14T12:38:00.250Z`; a clock set before 1970
/// reads as the epoch.
pub fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    // u64 seconds since 1970 fit in i64 for the next 292 billion years.
    let calendar = date_time(since.as_secs() as i64);
    format!(
        "{}.{:03}Z",
        calendar.replacen(' ', "T", 1),
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(seconds: u64) -> String {
        format(UNIX_EPOCH + Duration::from_secs(seconds))
    }

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(at(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(at(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(at(1_594_730_280), "2020-07-14 12:38:00 UTC");
        assert_eq!(at(1_735_689_599), "2024-12-31 23:59:59 UTC");
        assert_eq!(
            format(UNIX_EPOCH - Duration::from_secs(1)),
            "1970-01-01 00:00:00 UTC"
        );
    }

    #[test]
    fn json_times_are_rfc3339_utc() {
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(1_594_730_280_250)),
            "2020-07-14T12:38:00.250Z"
        );
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }
}
