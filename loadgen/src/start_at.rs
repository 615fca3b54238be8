//! `--start-at`: a wall-clock start time (RFC 3339 UTC or Unix seconds) shared by generators on several machines, checked and waited for.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ntp_wire::calendar::{days_from_civil, SECS_PER_DAY};

/// Furthest ahead a start may be set: further is taken for a typing mistake.
pub const MAX_AHEAD: Duration = Duration::from_secs(24 * 3600);
/// How long past a start may be and still run at once: processes an orchestrator starts
/// together reach their first instruction some milliseconds apart.
pub const MAX_PASSED: Duration = Duration::from_secs(1);
/// Longest single sleep of the wait, so that a wall clock stepped meanwhile is followed.
const WAIT_SLICE: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StartAtError {
    #[error(
        "--start-at {0:?}: expected an RFC 3339 UTC time (2026-12-06T04:00:00Z, fractions of \
         a second allowed) or Unix seconds (1796529600)"
    )]
    Unreadable(String),
    #[error(
        "--start-at {at} is {ahead_s:.0} s ahead, more than {max_h} h: check the date",
        max_h = MAX_AHEAD.as_secs() / 3600
    )]
    TooFarAhead { at: String, ahead_s: f64 },
    #[error(
        "--start-at {at} passed {passed_s:.3} s ago (more than {max} s): give every generator \
         a time a little ahead, e.g. date -u -d '+30 s' +%FT%TZ",
        max = MAX_PASSED.as_secs()
    )]
    Passed { at: String, passed_s: f64 },
}

/// The instant `text` names: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+00:00)` or Unix seconds
/// (fractions allowed).
pub fn parse(text: &str) -> Result<SystemTime, StartAtError> {
    let unreadable = || StartAtError::Unreadable(text.to_string());
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let seconds: f64 = text.parse().map_err(|_| unreadable())?;
        return Duration::try_from_secs_f64(seconds)
            .map(|since| UNIX_EPOCH + since)
            .map_err(|_| unreadable());
    }
    parse_rfc3339_utc(text).ok_or_else(unreadable)
}

/// An RFC 3339 time in UTC (`Z` or `+00:00`), as the JSON documents' `started_at` is written.
pub fn parse_rfc3339_utc(text: &str) -> Option<SystemTime> {
    let body = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix('z'))
        .or_else(|| text.strip_suffix("+00:00"))?;
    let (date, time) = body.split_once(['T', 't', ' '])?;
    let (clock, fraction) = match time.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (time, None),
    };
    let date: Vec<&str> = date.split('-').collect();
    let clock: Vec<&str> = clock.split(':').collect();
    let (&[year, month, day], &[hour, minute, second]) = (&date[..], &clock[..]) else {
        return None;
    };
    let field = |digits: &str, width: usize, max: u32| {
        (digits.len() == width && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse::<u32>().ok())
            .flatten()
            .filter(|value| *value <= max)
    };
    let year = field(year, 4, 9999)?;
    let month = field(month, 2, 12).filter(|m| *m >= 1)?;
    let day = field(day, 2, 31).filter(|d| *d >= 1)?;
    let days_in_month = days_from_civil(
        i64::from(year) + i64::from(month / 12),
        i64::from(month % 12 + 1),
    ) - days_from_civil(i64::from(year), i64::from(month));
    if i64::from(day) > days_in_month {
        return None;
    }
    let second_of_day = i64::from(field(hour, 2, 23)?) * 3600
        + i64::from(field(minute, 2, 59)?) * 60
        + i64::from(field(second, 2, 59)?);
    let nanos = match fraction {
        Some(digits)
            if !digits.is_empty()
                && digits.len() <= 9
                && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("{digits:0<9}").parse::<u32>().ok()?
        }
        Some(_) => return None,
        None => 0,
    };
    let seconds = (days_from_civil(i64::from(year), i64::from(month)) + i64::from(day) - 1)
        * SECS_PER_DAY
        + second_of_day;
    Some(UNIX_EPOCH + Duration::new(u64::try_from(seconds).ok()?, nanos))
}

/// How long to wait from `now` for a start at `at`; `text` is the flag's value, for errors.
pub fn wait_before(at: SystemTime, now: SystemTime, text: &str) -> Result<Duration, StartAtError> {
    match at.duration_since(now) {
        Ok(ahead) if ahead > MAX_AHEAD => Err(StartAtError::TooFarAhead {
            at: text.to_string(),
            ahead_s: ahead.as_secs_f64(),
        }),
        Ok(ahead) => Ok(ahead),
        Err(passed) if passed.duration() > MAX_PASSED => Err(StartAtError::Passed {
            at: text.to_string(),
            passed_s: passed.duration().as_secs_f64(),
        }),
        Err(_) => Ok(Duration::ZERO),
    }
}

/// Sleeps until the wall clock reads `at` (or later), re-reading it at least every half
/// second so that a clock stepped meanwhile (by NTP) is followed. The tool's own schedule:
/// the last slice ends within the sleep's wake-up latency of `at`.
pub fn sleep_until(at: SystemTime) {
    // Every slice but the last is WAIT_SLICE long, and `wait_before` bounds the wait to
    // MAX_AHEAD, so a clock that keeps its pace ends the loop; the bound covers one that does not.
    let most_slices = MAX_AHEAD.as_millis() / WAIT_SLICE.as_millis() * 2 + 2;
    for _ in 0..most_slices {
        match at.duration_since(SystemTime::now()) {
            Ok(left) if !left.is_zero() => std::thread::sleep(left.min(WAIT_SLICE)),
            _ => return,
        }
    }
}

/// Checks `--start-at TEXT` against the clock now: the instant to wait for, or why not.
pub fn start_time(text: &str) -> Result<SystemTime, StartAtError> {
    let at = parse(text)?;
    wait_before(at, SystemTime::now(), text)?;
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(seconds: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(seconds, nanos)
    }

    #[test]
    fn utc_times_and_unix_seconds_are_read() {
        assert_eq!(parse("2026-12-06T04:00:00Z"), Ok(unix(1_796_529_600, 0)));
        assert_eq!(
            parse("2026-12-06T04:00:00.25+00:00"),
            Ok(unix(1_796_529_600, 250_000_000))
        );
        assert_eq!(parse("2000-02-29T00:00:00Z"), Ok(unix(951_782_400, 0)));
        assert_eq!(parse("1796529600"), Ok(unix(1_796_529_600, 0)));
        assert_eq!(parse("1796529600.5"), Ok(unix(1_796_529_600, 500_000_000)));
        assert_eq!(
            parse_rfc3339_utc("2026-01-02T03:04:05.678Z"),
            Some(unix(1_767_323_045, 678_000_000))
        );
    }

    #[test]
    fn local_times_and_impossible_dates_are_refused() {
        for text in [
            "2026-12-06T04:00:00",
            "2026-12-06T04:00:00+01:00",
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-12-06T24:00:00Z",
            "2026-12-06T04:00:00.Z",
            "tomorrow",
            "",
        ] {
            assert_eq!(
                parse(text),
                Err(StartAtError::Unreadable(text.to_string())),
                "{text}"
            );
        }
    }

    #[test]
    fn a_start_far_ahead_or_long_past_is_refused() {
        let now = unix(1_000_000, 0);
        assert_eq!(
            wait_before(unix(1_000_010, 0), now, "t"),
            Ok(Duration::from_secs(10))
        );
        assert_eq!(
            wait_before(unix(999_999, 500_000_000), now, "t"),
            Ok(Duration::ZERO)
        );
        assert!(matches!(
            wait_before(unix(999_998, 0), now, "t"),
            Err(StartAtError::Passed { .. })
        ));
        assert!(matches!(
            wait_before(unix(1_000_000 + 86_401, 0), now, "t"),
            Err(StartAtError::TooFarAhead { .. })
        ));
        let passed = wait_before(unix(999_990, 0), now, "t").unwrap_err();
        assert!(
            passed.to_string().contains("passed 10.000 s ago"),
            "{passed}"
        );
    }

    #[test]
    fn the_wait_ends_on_the_wall_clock() {
        let at = SystemTime::now() + Duration::from_millis(30);
        sleep_until(at);
        assert!(SystemTime::now() >= at);
    }
}
