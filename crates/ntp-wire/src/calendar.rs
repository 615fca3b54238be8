//! Gregorian calendar dates from Unix time, without a date library: for logs and reports.

pub const SECS_PER_DAY: i64 = 86_400;

pub const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Year, month (1..=12) and day (1..=31) of a count of days since 1970-01-01 in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`): the year is counted from March so
/// the leap day is the last day of its year, and 400-year eras repeat exactly.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days from 1970-01-01 to the first day of `month` (1..=12) of `year`, the inverse of
/// [`civil_from_days`].
pub fn days_from_civil(year: i64, month: i64) -> i64 {
    // Count from March so the leap day is the last day of the (shifted) year.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `strftime("%Y-%m-%d %H:%M:%S")` of `secs` seconds since 1970-01-01: `2000-02-29 00:00:00`,
/// as chrony's log files and ringload's pages write dates.
pub fn date_time(secs: i64) -> String {
    let second_of_day = secs.rem_euclid(SECS_PER_DAY);
    let (year, month, day) = civil_from_days(secs.div_euclid(SECS_PER_DAY));
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    )
}

/// How a date pads the day of the month to two places.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayPadding {
    /// `%d`: `01`, as chronyc prints reference times.
    Zero,
    /// `%e`: ` 1`, as C's `ctime` and vsftpd's log write it.
    Space,
}

/// `strftime("%a %b %d %H:%M:%S %Y")` of `secs` seconds since 1970-01-01 (`%e` for the day
/// with [`DayPadding::Space`]): `Tue Feb 29 00:00:00 2000`.
pub fn weekday_date_time(secs: i64, padding: DayPadding) -> String {
    let days = secs.div_euclid(SECS_PER_DAY);
    let second_of_day = secs.rem_euclid(SECS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = WEEKDAYS[(days + 4).rem_euclid(7) as usize];
    let day = match padding {
        DayPadding::Zero => format!("{day:02}"),
        DayPadding::Space => format!("{day:>2}"),
    };
    format!(
        "{weekday} {} {day} {:02}:{:02}:{:02} {year}",
        MONTHS[month as usize - 1],
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_dates_are_utc() {
        assert_eq!(date_time(0), "1970-01-01 00:00:00");
        assert_eq!(date_time(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(date_time(1_735_689_599), "2024-12-31 23:59:59");
        assert_eq!(date_time(-1), "1969-12-31 23:59:59");
    }

    #[test]
    fn dates_pad_the_day_as_asked() {
        assert_eq!(
            weekday_date_time(0, DayPadding::Space),
            "Thu Jan  1 00:00:00 1970"
        );
        assert_eq!(
            weekday_date_time(951_868_799, DayPadding::Zero),
            "Tue Feb 29 23:59:59 2000"
        );
        assert_eq!(
            weekday_date_time(-1, DayPadding::Zero),
            "Wed Dec 31 23:59:59 1969"
        );
    }

    #[test]
    fn calendar_days_follow_one_another() {
        // Walk 1600-03-01 .. 2400-03-01 day by day: every step is the next calendar day.
        let month_length = |year: i64, month: u32| match month {
            2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let mut previous = civil_from_days(-135_080);
        assert_eq!(previous, (1600, 3, 1));
        for days in -135_079..=157_114 {
            let current = civil_from_days(days);
            let expected = if previous.2 < month_length(previous.0, previous.1) {
                (previous.0, previous.1, previous.2 + 1)
            } else if previous.1 < 12 {
                (previous.0, previous.1 + 1, 1)
            } else {
                (previous.0 + 1, 1, 1)
            };
            assert_eq!(current, expected, "day {days}");
            previous = current;
        }
        assert_eq!(previous, (2400, 3, 1));
    }

    #[test]
    fn first_days_of_months_go_back_to_their_day_count() {
        for days in (-135_080..=157_114).step_by(7) {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(
                days_from_civil(year, i64::from(month)) + i64::from(day) - 1,
                days
            );
        }
    }
}
