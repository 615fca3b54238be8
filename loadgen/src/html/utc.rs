//! The page's date: UTC calendar time from the system clock, without a date library.

use std::time::{SystemTime, UNIX_EPOCH};

use ntp_wire::calendar::date_time;

/// `2020-07-14 12:38:00 UTC`; a clock set before 1970 reads as the epoch.
pub fn format(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // u64 seconds since 1970 fit in i64 for the next 292 billion years.
    format!("{} UTC", date_time(seconds as i64))
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
}
