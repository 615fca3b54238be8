//! The page's date: UTC calendar time from the system clock, without a date library.

use std::time::{SystemTime, UNIX_EPOCH};

use ntp_wire::calendar::civil_from_days;

const SECONDS_PER_DAY: u64 = 86_400;

/// `2020-07-14 12:38:00 UTC`; a clock set before 1970 reads as the epoch.
pub fn format(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let of_day = seconds % SECONDS_PER_DAY;
    // u64 seconds hold under 2^48 days, which i64 holds.
    let (year, month, day) = civil_from_days((seconds / SECONDS_PER_DAY) as i64);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        of_day / 3_600,
        of_day / 60 % 60,
        of_day % 60
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
}
