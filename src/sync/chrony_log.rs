//! chrony's log file lines (`log measurements statistics tracking`): what the engine records
//! and how chronyd 4.3 writes it, column for column, so that scripts reading chrony's files
//! read ringd's.

use ntp_wire::calendar::date_time;

use super::engine::SourceId;

/// Which records the engine makes: the files chrony.conf's `log` asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordSelection {
    /// Every reply (`rawmeasurements`), or with `valid_measurements_only` (`measurements`)
    /// those that passed every test.
    pub measurements: bool,
    pub valid_measurements_only: bool,
    pub statistics: bool,
    pub tracking: bool,
}

/// One line for one of the files.
#[derive(Clone, Debug, PartialEq)]
pub enum LogRecord {
    Measurement(MeasurementRecord),
    Statistics(StatisticsRecord),
    Tracking(TrackingRecord),
}

/// Which file a record goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogKind {
    Measurements,
    Statistics,
    Tracking,
}

/// How a timestamp of ours was taken: chrony's `D`aemon (read in userspace) or `K`ernel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub enum StampSource {
    #[default]
    Daemon,
    Kernel,
}

impl StampSource {
    fn letter(self) -> char {
        match self {
            StampSource::Daemon => 'D',
            StampSource::Kernel => 'K',
        }
    }
}

/// A reply from a source, as measurements.log shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct MeasurementRecord {
    pub source: SourceId,
    /// POSIX seconds of the sample.
    pub time: f64,
    pub leap: u8,
    pub stratum: u8,
    /// RFC 5905's tests 1, 2, 3, 5, 6 and 7, then chrony's A (delay and sample quality),
    /// B and C (delay ratios) and D (synchronisation loop); `true` passed.
    pub tests: [bool; 10],
    pub local_poll: i8,
    pub remote_poll: i8,
    /// How far the source has come towards a longer poll, 0 to 1.
    pub score: f64,
    /// Source minus local time (RFC 5905's theta).
    pub offset: f64,
    pub peer_delay: f64,
    pub peer_dispersion: f64,
    pub root_delay: f64,
    pub root_dispersion: f64,
    pub reference_id: u32,
    pub mode: u8,
    pub transmit_stamp: StampSource,
    pub receive_stamp: StampSource,
}

/// A source's regression after a sample, as statistics.log shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct StatisticsRecord {
    pub source: SourceId,
    pub time: f64,
    pub std_dev: f64,
    /// Local minus source time: positive when the local clock is fast.
    pub offset: f64,
    pub offset_sd: f64,
    /// How fast the local clock gains on the source, in s/s.
    pub frequency: f64,
    pub skew: f64,
    /// |old frequency - new frequency| / old frequency error.
    pub stress: f64,
    pub samples: usize,
    pub runs: usize,
}

/// A clock update, as tracking.log shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackingRecord {
    pub source: SourceId,
    pub time: f64,
    pub stratum: u8,
    pub frequency_ppm: f64,
    pub skew_ppm: f64,
    /// Local minus true time at the update: positive when the clock is fast.
    pub offset: f64,
    pub leap: u8,
    pub combined_sources: usize,
    pub offset_sd: f64,
    /// The part of the previous correction still to be slewed (positive: clock slow).
    pub remaining_correction: f64,
    pub root_delay: f64,
    pub root_dispersion: f64,
    pub max_error: f64,
}

impl LogRecord {
    pub fn kind(&self) -> LogKind {
        match self {
            LogRecord::Measurement(_) => LogKind::Measurements,
            LogRecord::Statistics(_) => LogKind::Statistics,
            LogRecord::Tracking(_) => LogKind::Tracking,
        }
    }

    pub fn source(&self) -> SourceId {
        match self {
            LogRecord::Measurement(m) => m.source,
            LogRecord::Statistics(s) => s.source,
            LogRecord::Tracking(t) => t.source,
        }
    }

    /// The line chronyd would write, with `address` for the source's column.
    pub fn line(&self, address: &str) -> String {
        match self {
            LogRecord::Measurement(m) => measurement_line(m, address),
            LogRecord::Statistics(s) => statistics_line(s, address),
            LogRecord::Tracking(t) => tracking_line(t, address),
        }
    }
}

impl LogKind {
    /// The file's name in `logdir`.
    pub fn file_name(self) -> &'static str {
        match self {
            LogKind::Measurements => "measurements.log",
            LogKind::Statistics => "statistics.log",
            LogKind::Tracking => "tracking.log",
        }
    }

    /// The column titles, between two rules of `=` as long as they are.
    pub fn banner(self) -> String {
        let titles = match self {
            LogKind::Measurements => "   Date (UTC) Time     IP Address   L St 123 567 ABCD  LP RP Score    Offset  Peer del. Peer disp.  Root del. Root disp. Refid     MTxRx",
            LogKind::Statistics => "   Date (UTC) Time     IP Address    Std dev'n Est offset  Offset sd  Diff freq   Est skew  Stress  Ns  Bs  Nr  Asym",
            LogKind::Tracking => "   Date (UTC) Time     IP Address   St   Freq ppm   Skew ppm     Offset L Co  Offset sd Rem. corr. Root delay Root disp. Max. error",
        };
        let rule = "=".repeat(titles.len());
        format!("{rule}\n{titles}\n{rule}")
    }
}

/// C's `%W.Pe`: a mantissa with `precision` decimals and an exponent of at least two digits,
/// right-aligned in `width`, where Rust's `{:e}` would write `1e-3`.
fn c_exponent(value: f64, width: usize, precision: usize) -> String {
    let text = if value.is_finite() {
        let rust = format!("{value:.precision$e}");
        let (mantissa, exponent) = rust.split_once('e').unwrap_or((&rust, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    } else if value.is_nan() {
        "nan".to_string()
    } else if value > 0.0 {
        "inf".to_string()
    } else {
        "-inf".to_string()
    };
    format!("{text:>width$}")
}

fn leap_letter(leap: u8) -> char {
    ['N', '+', '-', '?'][usize::from(leap & 3)]
}

fn timestamp(time: f64) -> String {
    date_time(time.floor() as i64)
}

fn measurement_line(m: &MeasurementRecord, address: &str) -> String {
    let bit = |index: usize| if m.tests[index] { '1' } else { '0' };
    let tests: String = [0, 1, 2, usize::MAX, 3, 4, 5, usize::MAX, 6, 7, 8, 9]
        .iter()
        .map(|&index| if index == usize::MAX { ' ' } else { bit(index) })
        .collect();
    format!(
        "{} {address:<15} {} {:2} {tests}  {:2} {:2} {:4.2} {} {} {} {} {} {:08X} {}B {} {}",
        timestamp(m.time),
        leap_letter(m.leap),
        m.stratum,
        m.local_poll,
        m.remote_poll,
        m.score,
        c_exponent(m.offset, 10, 3),
        c_exponent(m.peer_delay, 10, 3),
        c_exponent(m.peer_dispersion, 10, 3),
        c_exponent(m.root_delay, 10, 3),
        c_exponent(m.root_dispersion, 10, 3),
        m.reference_id,
        m.mode,
        m.transmit_stamp.letter(),
        m.receive_stamp.letter(),
    )
}

fn statistics_line(s: &StatisticsRecord, address: &str) -> String {
    format!(
        "{} {address:<15} {} {} {} {} {} {} {:3} {:3} {:3} {:5.2}",
        timestamp(s.time),
        c_exponent(s.std_dev, 10, 3),
        c_exponent(s.offset, 10, 3),
        c_exponent(s.offset_sd, 10, 3),
        c_exponent(s.frequency, 10, 3),
        c_exponent(s.skew, 10, 3),
        c_exponent(s.stress, 7, 1),
        s.samples,
        0,
        s.runs,
        0.0,
    )
}

fn tracking_line(t: &TrackingRecord, address: &str) -> String {
    format!(
        "{} {address:<15} {:2} {:10.3} {:10.3} {} {} {:2} {} {} {} {} {}",
        timestamp(t.time),
        t.stratum,
        t.frequency_ppm,
        t.skew_ppm,
        c_exponent(t.offset, 10, 3),
        leap_letter(t.leap),
        t.combined_sources,
        c_exponent(t.offset_sd, 10, 3),
        c_exponent(t.remaining_correction, 10, 3),
        c_exponent(t.root_delay, 10, 3),
        c_exponent(t.root_dispersion, 10, 3),
        c_exponent(t.max_error, 10, 3),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2016-11-09 05:40:50 UTC, the time of chrony.conf(5)'s measurements example.
    const EXAMPLE_TIME: f64 = 1_478_670_050.0;

    #[test]
    fn exponents_are_written_as_c_writes_them() {
        assert_eq!(c_exponent(-4.966e-3, 10, 3), "-4.966e-03");
        assert_eq!(c_exponent(2.296e-1, 10, 3), " 2.296e-01");
        assert_eq!(c_exponent(0.0, 10, 3), " 0.000e+00");
        assert_eq!(c_exponent(42.28, 10, 3), " 4.228e+01");
        assert_eq!(c_exponent(7.8e-2, 7, 1), "7.8e-02");
        assert_eq!(c_exponent(1.5e-120, 10, 3), "1.500e-120");
        assert_eq!(c_exponent(f64::NAN, 10, 3), "       nan");
    }

    #[test]
    fn a_measurement_line_matches_chronys_example() {
        let record = MeasurementRecord {
            source: SourceId(0),
            time: EXAMPLE_TIME,
            leap: 0,
            stratum: 2,
            tests: [true; 10],
            local_poll: 10,
            remote_poll: 10,
            score: 1.0,
            offset: -4.966e-3,
            peer_delay: 2.296e-1,
            peer_dispersion: 1.577e-5,
            root_delay: 1.615e-1,
            root_dispersion: 7.446e-3,
            reference_id: 0xCB00_717B,
            mode: 4,
            transmit_stamp: StampSource::Daemon,
            receive_stamp: StampSource::Kernel,
        };
        // chrony.conf(5), `log rawmeasurements`, joined into its one line.
        assert_eq!(
            LogRecord::Measurement(record.clone()).line("203.0.113.15"),
            "2016-11-09 05:40:50 203.0.113.15    N  2 111 111 1111  10 10 1.00 \
             -4.966e-03  2.296e-01  1.577e-05  1.615e-01  7.446e-03 CB00717B 4B D K"
        );
        let failed = MeasurementRecord {
            tests: [true, false, true, true, true, false, true, true, true, true],
            leap: 3,
            ..record
        };
        let line = LogRecord::Measurement(failed).line("192.0.2.1");
        assert!(line.contains(" ?  2 101 110 1111 "), "{line}");
    }

    #[test]
    fn a_statistics_line_matches_chronys_example() {
        let record = StatisticsRecord {
            source: SourceId(0),
            time: 1_470_807_650.0,
            std_dev: 6.261e-3,
            offset: -3.247e-3,
            offset_sd: 2.220e-3,
            frequency: 1.874e-6,
            skew: 1.080e-6,
            stress: 7.8e-2,
            samples: 16,
            runs: 8,
        };
        assert_eq!(
            LogRecord::Statistics(record).line("203.0.113.15"),
            "2016-08-10 05:40:50 203.0.113.15     6.261e-03 -3.247e-03  2.220e-03  1.874e-06  \
             1.080e-06 7.8e-02  16   0   8  0.00"
        );
    }

    #[test]
    fn a_tracking_line_matches_chronys_example() {
        let record = TrackingRecord {
            source: SourceId(0),
            time: 1_503_408_156.0,
            stratum: 2,
            frequency_ppm: -3.541,
            skew_ppm: 0.075,
            offset: -8.621e-6,
            leap: 0,
            combined_sources: 2,
            offset_sd: 2.940e-3,
            remaining_correction: -2.084e-4,
            root_delay: 1.534e-2,
            root_dispersion: 3.472e-4,
            max_error: 8.304e-3,
        };
        assert_eq!(
            LogRecord::Tracking(record).line("203.0.113.15"),
            "2017-08-22 13:22:36 203.0.113.15     2     -3.541      0.075 -8.621e-06 N  2  \
             2.940e-03 -2.084e-04  1.534e-02  3.472e-04  8.304e-03"
        );
    }

    #[test]
    fn banners_are_framed_by_rules_of_their_length() {
        let banner = LogKind::Tracking.banner();
        let lines: Vec<&str> = banner.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].len(), lines[1].len());
        assert!(lines[0].chars().all(|c| c == '='));
        assert_eq!(lines[0], lines[2]);
        assert!(lines[1].starts_with("   Date (UTC) Time     IP Address   St   Freq ppm"));
    }
}
