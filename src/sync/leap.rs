//! Leap seconds: the known ones, from `leapsectz right/UTC` (a TZif file) or a `leapseclist`
//! file, the sources' vote, and which one to announce today.

use thiserror::Error;

use crate::calendar::civil_from_days;
use crate::config::source_file::SourceFileError;

use crate::ntp::packet::NTP_UNIX_OFFSET_SECS;

const DAY: i64 = 86_400;

/// A leap second the clock should take at the end of the current UTC day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LeapStatus {
    #[default]
    None,
    Insert,
    Delete,
}

#[derive(Debug, Error)]
pub enum LeapTableError {
    #[error(transparent)]
    File(#[from] SourceFileError),
    #[error("{path}: not a TZif file with leap second records (is it a right/ zone?)")]
    NotTzif { path: String },
    #[error("{path}:{line}: expected `NTP-seconds TAI-offset`, found `{text}`")]
    BadListLine {
        path: String,
        line: usize,
        text: String,
    },
}

/// Leap seconds as the POSIX times of the midnights (UTC) at which they end, with the change
/// in TAI - UTC (+1 inserted, -1 deleted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeapTable {
    leaps: Vec<(i64, i32)>,
    /// POSIX time after which a leap-seconds list no longer says whether a leap is due (its
    /// `#@` line); TZif zones carry no such date.
    expires_at: Option<i64>,
}

/// Whether a leap second may end the UTC day containing `posix_seconds`: as chronyd, only
/// the last day of June or of December, whatever a source or a table says.
pub fn is_leap_second_day(posix_seconds: f64) -> bool {
    let days = (posix_seconds / DAY as f64).floor() as i64;
    matches!(civil_from_days(days), (_, 6, 30) | (_, 12, 31))
}

/// chronyd's vote: an insertion or deletion is announced when more than half of the sources
/// that vote (those inside the majority's interval) announce it.
pub fn majority(votes: impl IntoIterator<Item = LeapStatus>) -> LeapStatus {
    let (mut voters, mut inserts, mut deletes) = (0, 0, 0);
    for vote in votes {
        voters += 1;
        match vote {
            LeapStatus::Insert => inserts += 1,
            LeapStatus::Delete => deletes += 1,
            LeapStatus::None => {}
        }
    }
    if inserts > voters / 2 {
        LeapStatus::Insert
    } else if deletes > voters / 2 {
        LeapStatus::Delete
    } else {
        LeapStatus::None
    }
}

impl LeapStatus {
    /// The NTP leap indicator that announces this status.
    pub fn indicator(self) -> u8 {
        match self {
            LeapStatus::None => crate::ntp::packet::leap::NONE,
            LeapStatus::Insert => crate::ntp::packet::leap::INSERT_SECOND,
            LeapStatus::Delete => crate::ntp::packet::leap::DELETE_SECOND,
        }
    }
}

/// A source's leap indicator as a vote.
pub fn announced(leap_indicator: u8) -> LeapStatus {
    match leap_indicator {
        crate::ntp::packet::leap::INSERT_SECOND => LeapStatus::Insert,
        crate::ntp::packet::leap::DELETE_SECOND => LeapStatus::Delete,
        _ => LeapStatus::None,
    }
}

fn be_i32(bytes: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

impl LeapTable {
    pub fn new(mut leaps: Vec<(i64, i32)>) -> Self {
        leaps.sort_unstable();
        LeapTable {
            leaps,
            expires_at: None,
        }
    }

    /// When a leap-seconds list stops being authoritative, if it said.
    pub fn expires_at(&self) -> Option<i64> {
        self.expires_at
    }

    /// Whether the list's expiry date has passed at `posix_seconds`: its publisher no longer
    /// vouches that no leap second is due, so a newer list is needed.
    pub fn is_expired(&self, posix_seconds: f64) -> bool {
        self.expires_at.is_some_and(|at| posix_seconds >= at as f64)
    }

    /// chronyd's warning once the list has expired at `posix_seconds`; `None` before.
    pub fn expiry_warning(&self, posix_seconds: f64) -> Option<String> {
        let expiry = self.expires_at.filter(|_| self.is_expired(posix_seconds))?;
        Some(format!(
            "Leap second list needs update: it expired on {} UTC",
            crate::calendar::date_time(expiry)
        ))
    }

    pub fn len(&self) -> usize {
        self.leaps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.leaps.is_empty()
    }

    /// Reads the leap records of a TZif file such as `/usr/share/zoneinfo/right/UTC`.
    pub fn from_tzif(bytes: &[u8], path: &str) -> Result<Self, LeapTableError> {
        let not_tzif = || LeapTableError::NotTzif {
            path: path.to_string(),
        };
        if !bytes.starts_with(b"TZif") {
            return Err(not_tzif());
        }
        let count = |index: usize| {
            be_i32(bytes, 20 + 4 * index)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(not_tzif)
        };
        let (leap_count, transitions, types, chars) = (count(2)?, count(3)?, count(4)?, count(5)?);
        // Version 1 data block: transition times and types, type records, abbreviations, then
        // the leap records as (time in the right/ scale, total correction) pairs.
        let start = 44 + transitions * 5 + types * 6 + chars;
        let mut leaps = Vec::with_capacity(leap_count);
        let mut previous_correction = 0;
        for n in 0..leap_count {
            let at = start + 8 * n;
            let (time, correction) = be_i32(bytes, at)
                .zip(be_i32(bytes, at + 4))
                .ok_or_else(not_tzif)?;
            // The record's time counts the leap seconds before it; POSIX time does not.
            let midnight = i64::from(time) - i64::from(previous_correction);
            leaps.push((midnight, correction - previous_correction));
            previous_correction = correction;
        }
        if leaps.is_empty() {
            return Err(not_tzif());
        }
        Ok(LeapTable::new(leaps))
    }

    /// Reads an IERS/NIST `leap-seconds.list`: lines of NTP seconds and TAI - UTC.
    pub fn from_list(text: &str, path: &str) -> Result<Self, LeapTableError> {
        let mut leaps = Vec::new();
        let mut previous_offset = None;
        let mut expires_at = None;
        for (index, line) in text.lines().enumerate() {
            if let Some(expiry) = line.strip_prefix("#@") {
                expires_at = expiry
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .map(|ntp_seconds| ntp_seconds - NTP_UNIX_OFFSET_SECS as i64);
                continue;
            }
            let content = line.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let mut fields = content.split_whitespace();
            let parsed = fields
                .next()
                .and_then(|s| s.parse::<i64>().ok())
                .zip(fields.next().and_then(|s| s.parse::<i32>().ok()));
            let Some((ntp_seconds, tai_offset)) = parsed else {
                return Err(LeapTableError::BadListLine {
                    path: path.to_string(),
                    line: index + 1,
                    text: line.to_string(),
                });
            };
            if let Some(previous) = previous_offset {
                leaps.push((
                    ntp_seconds - NTP_UNIX_OFFSET_SECS as i64,
                    tai_offset - previous,
                ));
            }
            previous_offset = Some(tai_offset);
        }
        Ok(LeapTable {
            expires_at,
            ..LeapTable::new(leaps)
        })
    }

    /// Seconds inserted (negative: deleted) from the first known leap up to `posix_seconds`.
    pub fn inserted_by(&self, posix_seconds: f64) -> i32 {
        self.leaps
            .iter()
            .take_while(|&&(at, _)| at as f64 <= posix_seconds)
            .map(|&(_, change)| change)
            .sum()
    }

    /// What the table alone announces at `posix_seconds`: its leap second at the end of that
    /// UTC day, when the day may end with one (see [`is_leap_second_day`]).
    pub fn announced_at(&self, posix_seconds: f64) -> LeapStatus {
        if is_leap_second_day(posix_seconds) {
            self.status_at(posix_seconds)
        } else {
            LeapStatus::None
        }
    }

    /// The leap second the table puts at the end of the UTC day containing `posix_seconds`.
    pub fn status_at(&self, posix_seconds: f64) -> LeapStatus {
        let next_midnight = ((posix_seconds / DAY as f64).floor() as i64 + 1) * DAY;
        match self.leaps.iter().find(|&&(at, _)| at == next_midnight) {
            Some(&(_, change)) if change > 0 => LeapStatus::Insert,
            Some(&(_, change)) if change < 0 => LeapStatus::Delete,
            _ => LeapStatus::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2016-12-31 00:00:00 UTC: the day of the last inserted leap second.
    const DEC_31_2016: f64 = 1_483_142_400.0;

    #[test]
    fn a_leap_seconds_list_gives_the_leap_days() {
        let list = "#@\t3960057600\n\
                    2272060800\t10\t# 1 Jan 1972\n\
                    2287785600\t11\t# 1 Jul 1972\n\
                    3692217600\t12\t# 1 Jan 2017 (abridged)\n";
        let table = LeapTable::from_list(list, "test.list").unwrap();
        assert_eq!(table.len(), 2);
        assert_eq!(table.status_at(DEC_31_2016 + 3600.0), LeapStatus::Insert);
        assert_eq!(table.status_at(DEC_31_2016 + 86_399.5), LeapStatus::Insert);
        assert_eq!(table.status_at(DEC_31_2016 - 1.0), LeapStatus::None);
        assert_eq!(table.status_at(DEC_31_2016 + 86_400.0), LeapStatus::None);
        assert_eq!(table.status_at(78_796_800.0 - 10.0), LeapStatus::Insert);
        assert_eq!(table.inserted_by(78_796_800.0 - 1.0), 0);
        assert_eq!(table.inserted_by(78_796_800.0), 1);
        assert_eq!(table.inserted_by(DEC_31_2016 + 86_400.0), 2);
    }

    #[test]
    fn a_list_knows_when_it_expires() {
        // The #@ line of the IERS list published for 28 June 2025: 28 June 2026.
        let list = "#@\t3991593600\n2272060800\t10\n";
        let table = LeapTable::from_list(list, "test.list").unwrap();
        let expiry = 3_991_593_600 - NTP_UNIX_OFFSET_SECS as i64;
        assert_eq!(table.expires_at(), Some(expiry));
        assert!(!table.is_expired(expiry as f64 - 1.0));
        assert!(table.is_expired(expiry as f64));
        let undated = LeapTable::from_list("2272060800\t10\n", "test.list").unwrap();
        assert!(!undated.is_expired(1e12));
    }

    #[test]
    fn leap_seconds_end_only_june_or_december() {
        assert!(is_leap_second_day(DEC_31_2016 + 3600.0));
        assert!(is_leap_second_day(1_435_622_400.0), "2015-06-30");
        assert!(!is_leap_second_day(DEC_31_2016 - 1.0), "30 December");
        assert!(!is_leap_second_day(DEC_31_2016 + 86_400.0), "1 January");
        assert!(
            !is_leap_second_day(1_443_571_200.0),
            "2015-09-30, a quarter's end"
        );
    }

    #[test]
    fn more_than_half_of_the_voters_decide() {
        use LeapStatus::*;
        assert_eq!(majority([Insert, Insert, None]), Insert);
        assert_eq!(
            majority([Insert, None]),
            None,
            "one of two is not a majority"
        );
        assert_eq!(majority([Delete, Delete, Insert]), Delete);
        assert_eq!(majority([Insert]), Insert);
        assert_eq!(majority([]), None);
        assert_eq!(announced(crate::ntp::packet::leap::INSERT_SECOND), Insert);
        assert_eq!(announced(crate::ntp::packet::leap::UNSYNCHRONISED), None);
    }

    #[test]
    fn a_bad_list_line_is_named() {
        let err = LeapTable::from_list("2272060800 10\nnonsense\n", "x.list").unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.list:2: expected `NTP-seconds TAI-offset`, found `nonsense`"
        );
    }

    fn tzif(records: &[(i32, i32)]) -> Vec<u8> {
        let mut bytes = b"TZif2".to_vec();
        bytes.resize(20, 0);
        for count in [0, 0, records.len() as i32, 1, 1, 4] {
            bytes.extend(count.to_be_bytes());
        }
        bytes.extend(0i32.to_be_bytes());
        bytes.push(0);
        bytes.extend([0, 0, 0, 0, 0, 0]);
        bytes.extend(b"UTC\0");
        for (time, correction) in records {
            bytes.extend(time.to_be_bytes());
            bytes.extend(correction.to_be_bytes());
        }
        bytes
    }

    #[test]
    fn tzif_leap_records_are_converted_to_posix_midnights() {
        let table =
            LeapTable::from_tzif(&tzif(&[(78_796_800, 1), (94_694_401, 2)]), "right/UTC").unwrap();
        assert_eq!(table.leaps, [(78_796_800, 1), (94_694_400, 1)]);
        assert!(matches!(
            LeapTable::from_tzif(b"not a zone", "x"),
            Err(LeapTableError::NotTzif { .. })
        ));
        assert!(LeapTable::from_tzif(&tzif(&[]), "UTC").is_err());
    }

    #[test]
    fn the_system_right_utc_knows_2016() {
        let path = "/usr/share/zoneinfo/right/UTC";
        if let Ok(table) = std::fs::read(path).map(|bytes| LeapTable::from_tzif(&bytes, path)) {
            let table = table.unwrap();
            assert_eq!(table.status_at(DEC_31_2016 + 1.0), LeapStatus::Insert);
            assert!(table.len() >= 27);
        }
    }
}
