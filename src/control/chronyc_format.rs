//! chronyc's text layouts for ringctl's reports: pure functions from a report to the text.
//!
//! `tracking`, `sources`, `sourcestats`, `ntpdata`, `authdata`, `serverstats` and `clients` print what chronyc 4.x
//! prints for the same data, column for column, so scripts and eyes trained on chronyc read
//! ringctl the same way. `ftp sessions` has no chronyc counterpart and follows the same style.

use std::fmt::Write;
use std::net::IpAddr;

use super::server_stats::ServerStats;
use crate::calendar::{weekday_date_time, DayPadding};
use crate::ftp::registry::{SessionInfo, SessionState};
use crate::ntp::ratelimit::ClientRecord;
use crate::ntp::reply::DropReason;
use crate::sync::chrony_log::StampSource;
use crate::sync::engine::reference_id;
use crate::sync::report::{
    ActivityReport, AuthDataReport, AuthMode, ExchangeReport, NtpDataReport, SourceReport,
    SourceStatsReport, TrackingReport,
};

/// chronyc cuts host names to this many characters, the last one replaced by `>`.
const NAME_WIDTH: usize = 25;

const SOURCES_HEADER: &str =
    "MS Name/IP address         Stratum Poll Reach LastRx Last sample               ";
const SOURCESTATS_HEADER: &str =
    "Name/IP Address            NP  NR  Span  Frequency  Freq Skew  Offset  Std Dev";
const AUTHDATA_HEADER: &str =
    "Name/IP address             Mode KeyID Type KLen Last Atmp  NAK Cook CLen";
const CLIENTS_HEADER: &str =
    "Hostname                      NTP   Drop Int IntL Last     Cmd   Drop Int  Last";

/// `sources -v`: the column guide chronyc prints above the header.
const SOURCES_LEGEND: &str = concat!(
    "\n",
    "  .-- Source mode  '^' = server, '=' = peer, '#' = local clock.\n",
    " / .- Source state '*' = current best, '+' = combined, '-' = not combined,\n",
    "| /             'x' = may be in error, '~' = too variable, '?' = unusable.\n",
    "||                                                 .- xxxx [ yyyy ] +/- zzzz\n",
    "||      Reachability register (octal) -.           |  xxxx = adjusted offset,\n",
    "||      Log2(Polling interval) --.      |          |  yyyy = measured offset,\n",
    "||                                \\     |          |  zzzz = estimated error.\n",
    "||                                 |    |           \\\n",
);

/// `sourcestats -v`.
const SOURCESTATS_LEGEND: &str = concat!(
    "                             .- Number of sample points in measurement set.\n",
    "                            /    .- Number of residual runs with same sign.\n",
    "                           |    /    .- Length of measurement set (time).\n",
    "                           |   |    /      .- Est. clock freq error (ppm).\n",
    "                           |   |   |      /           .- Est. error in freq.\n",
    "                           |   |   |     |           /         .- Est. offset.\n",
    "                           |   |   |     |          |          |   On the -.\n",
    "                           |   |   |     |          |          |   samples. \\\n",
    "                           |   |   |     |          |          |             |\n",
);

/// `authdata -v`.
const AUTHDATA_LEGEND: &str = concat!(
    "                             .- Auth. mechanism (NTS, SK - symmetric key)\n",
    "                            |   Key length -.  Cookie length (bytes) -.\n",
    "                            |       (bits)  |  Num. of cookies --.    |\n",
    "                            |               |  Key est. attempts  |   |\n",
    "                            |               |           |         |   |\n",
);

/// `tracking`.
pub fn tracking(report: &TrackingReport) -> String {
    // chronyc shows the correction still to apply: positive when the clock is behind.
    let correction = -report.system_time_offset;
    // ... and chrony's frequency is the clock's own error, the opposite of the correction.
    let clock_frequency = -report.frequency_ppm;
    format!(
        "Reference ID    : {:08X} ({})\n\
         Stratum         : {}\n\
         Ref time (UTC)  : {}\n\
         System time     : {:.9} seconds {} of NTP time\n\
         Last offset     : {:+.9} seconds\n\
         RMS offset      : {:.9} seconds\n\
         Frequency       : {:.3} ppm {}\n\
         Residual freq   : {:+.3} ppm\n\
         Skew            : {:.3} ppm\n\
         Root delay      : {:.9} seconds\n\
         Root dispersion : {:.9} seconds\n\
         Update interval : {:.1} seconds\n\
         Leap status     : {}\n",
        report.reference_id,
        report.reference_name,
        report.stratum,
        utc_date(report.reference_time.floor() as i64),
        correction.abs(),
        if correction > 0.0 { "slow" } else { "fast" },
        report.last_offset,
        report.rms_offset,
        clock_frequency.abs(),
        if clock_frequency > 0.0 {
            "fast"
        } else {
            "slow"
        },
        report.residual_frequency_ppm,
        report.skew_ppm,
        report.root_delay,
        report.root_dispersion,
        report.update_interval,
        report.leap_status,
    )
}

/// `ntpdata`: one block per source, each after an empty line when all sources are listed
/// (`one_source` false), as chronyc prints them.
pub fn ntp_data(reports: &[NtpDataReport], one_source: bool) -> String {
    let mut text = String::new();
    for report in reports {
        if !one_source {
            text.push('\n');
        }
        let exchange = &report.exchange;
        let (first_tests, second_tests, third_tests) = test_groups(&exchange.tests);
        let _ = write!(
            text,
            "Remote address  : {} ({:08X})\n\
             Remote port     : {}\n\
             Local address   : {} ({:08X})\n\
             Leap status     : {}\n\
             Version         : {}\n\
             Mode            : {}\n\
             Stratum         : {}\n\
             Poll interval   : {} ({:.0} seconds)\n\
             Precision       : {} ({:.9} seconds)\n\
             Root delay      : {:.6} seconds\n\
             Root dispersion : {:.6} seconds\n\
             Reference ID    : {:08X} ({})\n\
             Reference time  : {}\n\
             Offset          : {:+.9} seconds\n\
             Peer delay      : {:.9} seconds\n\
             Peer dispersion : {:.9} seconds\n\
             Response time   : {:.9} seconds\n\
             Jitter asymmetry: {:+.2}\n\
             NTP tests       : {first_tests} {second_tests} {third_tests}\n\
             Interleaved     : No\n\
             Authenticated   : {}\n\
             TX timestamping : {}\n\
             RX timestamping : {}\n\
             Total TX        : {}\n\
             Total RX        : {}\n\
             Total valid RX  : {}\n\
             Total good RX   : {}\n",
            report.remote.ip(),
            reference_id(report.remote.ip()),
            report.remote.port(),
            report.local_address,
            reference_id(report.local_address),
            leap_name(exchange.leap),
            exchange.version,
            mode_name(exchange.mode),
            exchange.stratum,
            exchange.poll,
            2f64.powi(exchange.poll.into()),
            exchange.precision,
            2f64.powi(exchange.precision.into()),
            exchange.root_delay,
            exchange.root_dispersion,
            exchange.reference_id,
            reference_text(exchange),
            utc_date(exchange.reference_time.floor() as i64),
            exchange.offset,
            exchange.peer_delay,
            exchange.peer_dispersion,
            exchange.response_time,
            JITTER_ASYMMETRY,
            yes_no(report.authenticated),
            stamp_name(exchange.tx_timestamping),
            stamp_name(exchange.rx_timestamping),
            exchange.total_tx,
            exchange.total_rx,
            exchange.total_valid_rx,
            exchange.total_good_rx,
        );
    }
    text
}

/// chrony estimates how much of the delay's jitter is on the way out rather than back; ringd's
/// filters take it as symmetric, which chronyc shows as 0.
pub(super) const JITTER_ASYMMETRY: f64 = 0.0;

/// A reply's leap indicator in chronyc's words.
pub(super) fn leap_name(leap: u8) -> &'static str {
    match leap {
        0 => "Normal",
        1 => "Insert second",
        2 => "Delete second",
        _ => "Not synchronised",
    }
}

/// A reply's mode in chronyc's words; a source before its first reply has mode 0.
pub(super) fn mode_name(mode: u8) -> &'static str {
    match mode {
        1 => "Active symmetric",
        2 => "Passive symmetric",
        4 => "Server",
        _ => "Invalid",
    }
}

pub(super) fn stamp_name(stamp: StampSource) -> &'static str {
    match stamp {
        StampSource::Daemon => "Daemon",
        StampSource::Kernel => "Kernel",
    }
}

/// The reference ID as text, as chronyc shows it for stratum 0 and 1 (`GPS`, `PPS`): its
/// printable characters; empty above, where the ID is an address.
pub(super) fn reference_text(exchange: &ExchangeReport) -> String {
    if exchange.stratum > 1 {
        return String::new();
    }
    exchange
        .reference_id
        .to_be_bytes()
        .iter()
        .filter(|byte| byte.is_ascii_graphic() || **byte == b' ')
        .map(|&byte| char::from(byte))
        .collect()
}

/// chrony's tests as its three groups of bits: 1-3, 5-7 and A-D.
pub(super) fn test_groups(tests: &[bool; 10]) -> (String, String, String) {
    let bits = |group: &[bool]| {
        group
            .iter()
            .map(|&passed| if passed { '1' } else { '0' })
            .collect::<String>()
    };
    (bits(&tests[..3]), bits(&tests[3..6]), bits(&tests[6..]))
}

/// `sources`, with chronyc's column guide when `verbose`. Every source is a server (`^`).
pub fn sources(sources: &[SourceReport], verbose: bool) -> String {
    let mut text = String::new();
    if verbose {
        text.push_str(SOURCES_LEGEND);
    }
    push_header(&mut text, SOURCES_HEADER);
    for source in sources {
        // chronyc's offsets are local minus source; the reports hold source minus local.
        let _ = writeln!(
            text,
            "^{} {:<27}  {:>2}  {:>2}   {:>3o}  {}  {}[{}] +/- {}",
            source.state,
            display_name(&source.name),
            source.stratum,
            source.poll,
            source.reach,
            compact_seconds(source.last_rx.map(|s| s as u32)),
            signed_duration(local_minus_source(source.adjusted_offset)),
            signed_duration(local_minus_source(source.measured_offset)),
            duration(source.error),
        );
    }
    text
}

/// chronyc's word for a flag.
pub(super) fn yes_no(flag: bool) -> &'static str {
    if flag {
        "Yes"
    } else {
        "No"
    }
}

/// chronyc's word for an authentication mode.
pub(super) fn auth_mode_name(mode: AuthMode) -> &'static str {
    match mode {
        AuthMode::None => "-",
        AuthMode::Symmetric => "SK",
        AuthMode::Nts => "NTS",
    }
}

/// `authdata`, with chronyc's column guide when `verbose`.
pub fn auth_data(reports: &[AuthDataReport], verbose: bool) -> String {
    let mut text = String::new();
    if verbose {
        text.push_str(AUTHDATA_LEGEND);
    }
    push_header(&mut text, AUTHDATA_HEADER);
    for report in reports {
        let _ = writeln!(
            text,
            "{:<27} {:>4} {:>5} {:>4} {:>4} {} {:>4} {:>4} {:>4} {:>4}",
            display_name(&report.name),
            auth_mode_name(report.mode),
            report.key_id,
            report.key_type,
            report.key_bits,
            compact_seconds(report.last_ke_ago),
            report.ke_attempts,
            u8::from(report.nak),
            report.cookies,
            report.cookie_length,
        );
    }
    text
}

/// `sourcestats`, with chronyc's column guide when `verbose`.
pub fn source_stats(stats: &[SourceStatsReport], verbose: bool) -> String {
    let mut text = String::new();
    if verbose {
        text.push_str(SOURCESTATS_LEGEND);
    }
    push_header(&mut text, SOURCESTATS_HEADER);
    for source in stats {
        let _ = writeln!(
            text,
            "{:<25} {:>3} {:>3}  {} {} {}  {}  {}",
            display_name(&source.name),
            source.samples,
            source.runs,
            compact_seconds(Some(source.span as u32)),
            signed_ppm(source.frequency_ppm),
            ppm(source.frequency_skew_ppm),
            signed_duration(local_minus_source(source.offset)),
            duration(source.std_dev),
        );
    }
    text
}

/// `activity`, as chronyc words it.
pub fn activity(report: &ActivityReport) -> String {
    format!(
        "200 OK\n\
         {} sources online\n\
         {} sources offline\n\
         {} sources doing burst (return to online)\n\
         {} sources doing burst (return to offline)\n\
         {} sources with unknown address\n",
        report.online, report.offline, report.burst_online, report.burst_offline, report.unresolved
    )
}

/// `serverstats`: chronyc's lines that ringd fills, then ringd's own in the same layout.
pub fn server_stats(stats: &ServerStats) -> String {
    let mut lines: Vec<(&str, u64)> = vec![
        ("NTP packets received", stats.ntp_packets_received),
        ("NTP packets dropped", stats.ntp_packets_dropped),
        (
            "Client log records dropped",
            stats.client_log_records_dropped,
        ),
        ("NTP daemon RX timestamps", stats.ntp_daemon_rx_timestamps),
        ("NTP daemon TX timestamps", stats.ntp_daemon_tx_timestamps),
        ("NTP kernel RX timestamps", stats.ntp_kernel_rx_timestamps),
        ("NTP packets answered", stats.ntp_packets_answered),
        ("NTP KoD RATE sent", stats.ntp_kod_rate_sent),
        ("NTP packets rate-limited", stats.ntp_rate_limited),
    ];
    for reason in DropReason::ALL {
        let label = match reason {
            DropReason::TooShort => "Dropped: too short",
            DropReason::BadVersion => "Dropped: bad version",
            DropReason::NotClientMode => "Dropped: not client mode",
            DropReason::ControlMode => "Dropped: mode 6/7",
            DropReason::Denied => "Dropped: denied",
            DropReason::RateLimited => "Dropped: rate limit",
            DropReason::TooLong => "Dropped: too long",
            DropReason::BadLength => "Dropped: bad length",
            DropReason::BadExtension => "Dropped: bad extension",
            DropReason::AuthFailed => "Dropped: auth failed",
        };
        let count = stats.ntp_dropped.get(reason.name()).copied().unwrap_or(0);
        lines.push((label, count));
    }
    lines.push(("NTP send failures", stats.ntp_send_failures));
    lines.push(("NTP receive errors", stats.ntp_receive_errors));
    let mut text = String::new();
    for (label, value) in lines {
        let _ = writeln!(text, "{label:<27}: {value}");
    }
    text
}

/// `clients`: addresses, never names; the command-port columns are empty (ringd has none).
pub fn clients(records: &[ClientRecord]) -> String {
    let mut text = String::new();
    push_header(&mut text, CLIENTS_HEADER);
    for client in records {
        let _ = writeln!(
            text,
            "{:<25}  {:>6}  {:>5}  {}  {}  {}  {:>6}  {:>5}  {}  {}",
            client.address.to_string(),
            client.ntp_hits,
            client.ntp_drops,
            log2_interval(client.ntp_interval),
            log2_interval(client.ntp_timeout_interval),
            compact_seconds(client.last_hit_ago),
            0,
            0,
            log2_interval(None),
            compact_seconds(None),
        );
    }
    text
}

/// `ftp sessions`: one line per session, the state last as it holds a path.
pub fn ftp_sessions(sessions: &[SessionInfo]) -> String {
    let mut text = String::new();
    let header = format!(
        "{:<5} {:<22} {:<12} {:>4}  {}",
        "Id", "Client address", "User", "Time", "State"
    );
    push_header(&mut text, &header);
    for session in sessions {
        let state = match &session.state {
            SessionState::Idle => "idle".to_string(),
            SessionState::List => "LIST".to_string(),
            SessionState::Retr { path, bytes } => format!("RETR {path} ({bytes} bytes)"),
            SessionState::Stor { path, bytes } => format!("STOR {path} ({bytes} bytes)"),
        };
        let _ = writeln!(
            text,
            "{:<5} {:<22} {:<12} {}  {}",
            session.id,
            session.client.to_string(),
            session.user.as_deref().unwrap_or("-"),
            compact_seconds(Some(
                u32::try_from(session.connected_secs).unwrap_or(u32::MAX)
            )),
            state,
        );
    }
    text
}

/// chronyc's offsets are local minus source, the reports' source minus local. `0.0 - x`
/// rather than `-x` so that a zero stays `+0`, as chronyc prints it.
pub(super) fn local_minus_source(source_minus_local: f64) -> f64 {
    0.0 - source_minus_local
}

/// A header line and its underline of `=`, as chronyc prints every table.
fn push_header(text: &mut String, header: &str) {
    text.push_str(header);
    text.push('\n');
    text.push_str(&"=".repeat(header.len()));
    text.push('\n');
}

/// Addresses whole, other names cut to chronyc's width.
fn display_name(name: &str) -> String {
    if name.parse::<IpAddr>().is_ok() || name.chars().count() <= NAME_WIDTH {
        return name.to_string();
    }
    let mut cut: String = name.chars().take(NAME_WIDTH - 1).collect();
    cut.push('>');
    cut
}

/// chronyc's 4-column age or span: seconds below 20 minutes, then minutes, hours, days,
/// years; `-` when unknown.
fn compact_seconds(seconds: Option<u32>) -> String {
    let Some(s) = seconds.filter(|s| *s != u32::MAX) else {
        return "   -".to_string();
    };
    match s {
        0..1200 => format!("{s:>4}"),
        1200..36_000 => format!("{:>3}m", s / 60),
        36_000..345_600 => format!("{:>3}h", s / 3600),
        _ if s / 86_400 > 999 => format!("{:>3}y", s / 86_400 / 365),
        _ => format!("{:>3}d", s / 86_400),
    }
}

/// The unit steps chronyc uses for durations: the value printed, its unit, and how many
/// seconds make one unit, for magnitudes below `below` seconds.
const DURATION_UNITS: [(f64, &str, f64); 4] = [
    (9999.5e-9, "ns", 1e-9),
    (9999.5e-6, "us", 1e-6),
    (9999.5e-3, "ms", 1e-3),
    (999.5, "s", 1.0),
];

/// The larger units, printed without decimals in a column one wider.
const LONG_DURATION_UNITS: [(f64, &str, f64); 4] = [
    (99_999.5, "s", 1.0),
    (99_999.5 * 60.0, "m", 60.0),
    (99_999.5 * 3600.0, "h", 3600.0),
    (99_999.5 * 86_400.0, "d", 86_400.0),
];

const SECONDS_PER_YEAR: f64 = 86_400.0 * 365.0;

/// An unsigned duration in chronyc's units: `4` columns and a 2-letter unit up to
/// milliseconds, then 5 columns and a 1-letter unit.
fn duration(seconds: f64) -> String {
    let magnitude = seconds.abs();
    for (below, unit, scale) in DURATION_UNITS {
        if magnitude < below {
            return if unit == "s" {
                format!("{:>5.1}{unit}", magnitude / scale)
            } else {
                format!("{:>4.0}{unit}", magnitude / scale)
            };
        }
    }
    for (below, unit, scale) in LONG_DURATION_UNITS {
        if magnitude < below {
            return format!("{:>5.0}{unit}", magnitude / scale);
        }
    }
    format!("{:>5.0}y", magnitude / SECONDS_PER_YEAR)
}

/// A signed duration: as [`duration`] with the sign always shown, one column wider.
fn signed_duration(seconds: f64) -> String {
    let magnitude = seconds.abs();
    for (below, unit, scale) in DURATION_UNITS {
        if magnitude < below {
            return if unit == "s" {
                format!("{:>+6.1}{unit}", seconds / scale)
            } else {
                format!("{:>+5.0}{unit}", seconds / scale)
            };
        }
    }
    for (below, unit, scale) in LONG_DURATION_UNITS {
        if magnitude < below {
            return format!("{:>+6.0}{unit}", seconds / scale);
        }
    }
    format!("{:>+6.0}y", seconds / SECONDS_PER_YEAR)
}

/// Frequencies in ppm, 10 columns, 3 decimals unless that would not fit.
fn ppm(value: f64) -> String {
    if value.abs() < 99_999.5 {
        format!("{value:>10.3}")
    } else {
        format!("{value:>10.0}")
    }
}

fn signed_ppm(value: f64) -> String {
    if value.abs() < 99_999.5 {
        format!("{value:>+10.3}")
    } else {
        format!("{value:>+10.0}")
    }
}

/// A log2 interval in 2 columns, `-` when there is none.
fn log2_interval(interval: Option<i8>) -> String {
    match interval {
        Some(interval) => format!("{interval:>2}"),
        None => " -".to_string(),
    }
}

/// `strftime("%a %b %d %T %Y")` in UTC, as chronyc prints reference times.
fn utc_date(secs: i64) -> String {
    weekday_date_time(secs, DayPadding::Zero)
}

/// What chronyc 4.3's `ntpdata` showed for a chronyd following another on loopback (kept
/// for the tests of both layouts).
#[cfg(test)]
pub(super) fn ntp_data_seen_from_chronyd() -> NtpDataReport {
    NtpDataReport {
        remote: "127.0.0.1:57346".parse().unwrap(),
        local_address: "127.0.0.1".parse().unwrap(),
        authenticated: false,
        exchange: ExchangeReport {
            leap: 0,
            version: 4,
            mode: 4,
            stratum: 1,
            poll: 0,
            precision: -26,
            root_delay: 0.0,
            root_dispersion: 0.0,
            reference_id: 0x7F7F_0101,
            reference_time: 1_796_454_364.618_355_3,
            offset: -0.000_000_382,
            peer_delay: 0.000_007_038,
            peer_dispersion: 0.000_000_091,
            response_time: 0.000_067_854,
            tests: [true; 10],
            tx_timestamping: StampSource::Kernel,
            rx_timestamping: StampSource::Kernel,
            total_tx: 4,
            total_rx: 4,
            total_valid_rx: 4,
            total_good_rx: 4,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::net::SocketAddr;

    fn source(state: char, name: &str, offsets: (f64, f64, f64)) -> SourceReport {
        SourceReport {
            state,
            name: name.into(),
            stratum: 2,
            poll: 6,
            reach: 0o377,
            last_rx: Some(23.7),
            adjusted_offset: offsets.0,
            measured_offset: offsets.1,
            error: offsets.2,
            stopped_by: None,
        }
    }

    #[test]
    fn authdata_rows_as_chronyc_43_prints_them() {
        let reports = [
            AuthDataReport {
                name: "127.0.0.1".into(),
                ..AuthDataReport::default()
            },
            AuthDataReport {
                name: "ntp1.example.net".into(),
                mode: AuthMode::Symmetric,
                key_id: 1,
                key_type: 2,
                key_bits: 160,
                ..AuthDataReport::default()
            },
            AuthDataReport {
                name: "a-very-long-host-name.example.net".into(),
                mode: AuthMode::Nts,
                key_id: 3,
                key_type: 15,
                key_bits: 256,
                last_ke_ago: Some(5000),
                ke_attempts: 0,
                nak: true,
                cookies: 8,
                cookie_length: 100,
            },
        ];
        let text = auth_data(&reports, false);
        let expected = "\
Name/IP address             Mode KeyID Type KLen Last Atmp  NAK Cook CLen
=========================================================================
127.0.0.1                      -     0    0    0    -    0    0    0    0
ntp1.example.net              SK     1    2  160    -    0    0    0    0
a-very-long-host-name.ex>    NTS     3   15  256  83m    0    1    8  100
";
        assert_eq!(text, expected);
        let header = text.lines().next().unwrap();
        for line in text.lines().skip(2) {
            assert_eq!(line.len(), header.len(), "{line:?}");
        }
        assert!(auth_data(&reports, true).starts_with(AUTHDATA_LEGEND));
        assert_eq!(
            super::super::chronyc_csv::auth_data(&reports[2..]),
            "a-very-long-host-name.example.net,NTS,3,15,256,5000,0,1,8,100\n"
        );
        assert_eq!(
            super::super::chronyc_csv::auth_data(&reports[..1]),
            "127.0.0.1,-,0,0,0,4294967295,0,0,0,0\n"
        );
    }

    #[test]
    fn headers_are_chronycs_with_their_trailing_spaces() {
        assert_eq!(SOURCES_HEADER.len(), 79);
        assert_eq!(SOURCESTATS_HEADER.len(), 78);
        assert_eq!(CLIENTS_HEADER.len(), 79);
        // chronyc builds the clients header with 20 spaces of padding and `Cmd` in 6 columns.
        assert_eq!(
            CLIENTS_HEADER,
            format!(
                "Hostname {:20} NTP   Drop Int IntL Last  {:>6}   Drop Int  Last",
                "", "Cmd"
            )
        );
    }

    #[test]
    fn tracking_when_not_synchronised() {
        let report = TrackingReport {
            leap_status: "Not synchronised".into(),
            ..TrackingReport::default()
        };
        assert_eq!(
            tracking(&report),
            "Reference ID    : 00000000 ()\n\
             Stratum         : 0\n\
             Ref time (UTC)  : Thu Jan 01 00:00:00 1970\n\
             System time     : 0.000000000 seconds fast of NTP time\n\
             Last offset     : +0.000000000 seconds\n\
             RMS offset      : 0.000000000 seconds\n\
             Frequency       : 0.000 ppm slow\n\
             Residual freq   : +0.000 ppm\n\
             Skew            : 0.000 ppm\n\
             Root delay      : 0.000000000 seconds\n\
             Root dispersion : 0.000000000 seconds\n\
             Update interval : 0.0 seconds\n\
             Leap status     : Not synchronised\n"
        );
    }

    #[test]
    fn tracking_of_the_chronyc_manual_example() {
        let report = TrackingReport {
            reference_id: 0xCB00_710F,
            reference_name: "ntp1.example.net".into(),
            stratum: 3,
            reference_time: 1_485_510_557.25,
            // 6.523 us slow of NTP time: the clock is behind.
            system_time_offset: -0.000_006_523,
            last_offset: -0.000_006_747,
            rms_offset: 0.000_035_822,
            // The clock alone runs slow, so it is sped up by 3.225 ppm.
            frequency_ppm: 3.225,
            residual_frequency_ppm: -0.000_1,
            skew_ppm: 0.129,
            root_delay: 0.013_639_022,
            root_dispersion: 0.001_100_737,
            update_interval: 64.2,
            leap_status: "Normal".into(),
            controls_clock: true,
        };
        assert_eq!(
            tracking(&report),
            "Reference ID    : CB00710F (ntp1.example.net)\n\
             Stratum         : 3\n\
             Ref time (UTC)  : Fri Jan 27 09:49:17 2017\n\
             System time     : 0.000006523 seconds slow of NTP time\n\
             Last offset     : -0.000006747 seconds\n\
             RMS offset      : 0.000035822 seconds\n\
             Frequency       : 3.225 ppm slow\n\
             Residual freq   : -0.000 ppm\n\
             Skew            : 0.129 ppm\n\
             Root delay      : 0.013639022 seconds\n\
             Root dispersion : 0.001100737 seconds\n\
             Update interval : 64.2 seconds\n\
             Leap status     : Normal\n"
        );
        let fast = TrackingReport {
            system_time_offset: 0.5,
            frequency_ppm: -12.0,
            ..report
        };
        let text = tracking(&fast);
        assert!(text.contains("System time     : 0.500000000 seconds fast of NTP time\n"));
        assert!(text.contains("Frequency       : 12.000 ppm fast\n"));
    }

    #[test]
    fn sources_with_no_sources_is_the_header_alone() {
        assert_eq!(
            sources(&[], false),
            format!("{SOURCES_HEADER}\n{}\n", "=".repeat(79))
        );
        let verbose = sources(&[], true);
        assert!(verbose.starts_with("\n  .-- Source mode  '^' = server"));
        assert!(verbose.ends_with(&format!(
            "||                                 |    |           \\\n{SOURCES_HEADER}\n{}\n",
            "=".repeat(79)
        )));
    }

    #[test]
    fn source_rows_as_chronyc_prints_them() {
        let rows = sources(
            &[
                source('?', "ntp1.example.net", (923e-6, 924e-6, 43e-3)),
                SourceReport {
                    stratum: 1,
                    last_rx: Some(21.0),
                    ..source('+', "ntp2.example.net", (2629e-6, 2619e-6, 86e-3))
                },
                SourceReport {
                    stratum: 1,
                    last_rx: Some(12.9),
                    ..source('*', "127.0.0.1", (-21e-6, -25e-6, 120e-6))
                },
            ],
            false,
        );
        let lines: Vec<&str> = rows.lines().skip(2).collect();
        assert_eq!(
            lines,
            [
                "^? ntp1.example.net              2   6   377    23   -923us[ -924us] +/-   43ms",
                "^+ ntp2.example.net              1   6   377    21  -2629us[-2619us] +/-   86ms",
                "^* 127.0.0.1                     1   6   377    12    +21us[  +25us] +/-  120us",
            ]
        );
    }

    #[test]
    fn source_rows_before_the_first_sample_and_with_long_names() {
        let row = sources(
            &[SourceReport {
                reach: 0,
                poll: -2,
                last_rx: None,
                stratum: 0,
                ..source(
                    '?',
                    "a-very-long-name.pool.ntp.example.org",
                    (0.0, 0.0, 0.0),
                )
            }],
            false,
        );
        assert_eq!(
            row.lines().nth(2).unwrap(),
            "^? a-very-long-name.pool.nt>     0  -2     0     -     +0ns[   +0ns] +/-    0ns"
        );
        let v6 = sources(
            &[source('-', "2001:db8:1234:5678::123", (1.5, 2.0, 20.0))],
            false,
        );
        assert_eq!(
            v6.lines().nth(2).unwrap(),
            "^- 2001:db8:1234:5678::123       2   6   377    23  -1500ms[-2000ms] +/-  20.0s"
        );
    }

    #[test]
    fn durations_use_chronyc_units() {
        let cases = [
            (0.0, "   0ns", "   +0ns"),
            (-479e-9, " 479ns", "  -479ns"),
            (9999.4e-9, "9999ns", "+9999ns"),
            (9999.6e-9, "  10us", "  +10us"),
            (0.0123, "  12ms", "  +12ms"),
            (-1.26, "1260ms", "-1260ms"),
            (-12.6, " 12.6s", " -12.6s"),
            (998.0, "998.0s", "+998.0s"),
            (5000.0, " 5000s", " +5000s"),
            (200_000.0, " 3333m", " +3333m"),
            (-36_000_000.0, "10000h", "-10000h"),
            (100_000.0 * 86_400.0, "  274y", "  +274y"),
        ];
        for (seconds, unsigned, signed) in cases {
            assert_eq!(duration(seconds), unsigned, "{seconds}");
            assert_eq!(
                signed_duration(seconds).trim_start(),
                signed.trim_start(),
                "{seconds}"
            );
        }
        assert_eq!(signed_duration(-479e-9), " -479ns");
        assert_eq!(signed_duration(998.0), "+998.0s");
        assert_eq!(signed_duration(-36_000_000.0), "-10000h");
    }

    #[test]
    fn compact_seconds_as_lastrx_and_span() {
        let cases = [
            (None, "   -"),
            (Some(u32::MAX), "   -"),
            (Some(0), "   0"),
            (Some(1199), "1199"),
            (Some(1200), " 20m"),
            (Some(2760), " 46m"),
            (Some(35_999), "599m"),
            (Some(36_000), " 10h"),
            (Some(345_599), " 95h"),
            (Some(345_600), "  4d"),
            (Some(999 * 86_400), "999d"),
            (Some(1000 * 86_400), "  2y"),
        ];
        for (seconds, text) in cases {
            assert_eq!(compact_seconds(seconds), text, "{seconds:?}");
        }
    }

    #[test]
    fn sourcestats_rows_as_chronyc_prints_them() {
        let stats = [SourceStatsReport {
            name: "ntp1.example.net".into(),
            samples: 11,
            runs: 5,
            span: 2790.0,
            frequency_ppm: -0.001,
            frequency_skew_ppm: 0.045,
            offset: -12e-6,
            std_dev: 25e-6,
        }];
        assert_eq!(
            source_stats(&stats, false),
            "Name/IP Address            NP  NR  Span  Frequency  Freq Skew  Offset  Std Dev\n\
             ==============================================================================\n\
             ntp1.example.net           11   5   46m     -0.001      0.045    +12us    25us\n"
        );
        let huge = SourceStatsReport {
            frequency_ppm: 123_456.0,
            frequency_skew_ppm: 200_000.4,
            ..stats[0].clone()
        };
        let row = source_stats(&[huge], false);
        assert!(
            row.ends_with("   46m    +123456     200000    +12us    25us\n"),
            "{row}"
        );
        let verbose = source_stats(&[], true);
        assert!(verbose.starts_with(
            "                             .- Number of sample points in measurement set.\n"
        ));
        assert!(verbose.ends_with(&format!("{SOURCESTATS_HEADER}\n{}\n", "=".repeat(78))));
    }

    #[test]
    fn serverstats_lines_line_up_like_chronycs() {
        let stats = ServerStats {
            ntp_packets_received: 1598,
            ntp_packets_dropped: 3,
            client_log_records_dropped: 0,
            ntp_daemon_rx_timestamps: 0,
            ntp_daemon_tx_timestamps: 1595,
            ntp_kernel_rx_timestamps: 1597,
            ntp_packets_answered: 1595,
            ntp_kod_rate_sent: 0,
            ntp_rate_limited: 0,
            ntp_dropped: BTreeMap::from([("too_short", 1), ("denied", 2)]),
            ntp_send_failures: 0,
            ntp_receive_errors: 0,
        };
        assert_eq!(
            server_stats(&stats),
            "NTP packets received       : 1598\n\
             NTP packets dropped        : 3\n\
             Client log records dropped : 0\n\
             NTP daemon RX timestamps   : 0\n\
             NTP daemon TX timestamps   : 1595\n\
             NTP kernel RX timestamps   : 1597\n\
             NTP packets answered       : 1595\n\
             NTP KoD RATE sent          : 0\n\
             NTP packets rate-limited   : 0\n\
             Dropped: too short         : 1\n\
             Dropped: bad version       : 0\n\
             Dropped: not client mode   : 0\n\
             Dropped: mode 6/7          : 0\n\
             Dropped: denied            : 2\n\
             Dropped: rate limit        : 0\n\
             Dropped: too long          : 0\n\
             Dropped: bad length        : 0\n\
             Dropped: bad extension     : 0\n\
             Dropped: auth failed       : 0\n\
             NTP send failures          : 0\n\
             NTP receive errors         : 0\n"
        );
    }

    #[test]
    fn clients_rows_as_chronyc_prints_them() {
        let records = [
            ClientRecord {
                address: "2001:db8::abcd:1".parse().unwrap(),
                ntp_hits: 12,
                ntp_drops: 0,
                ntp_interval: Some(6),
                ntp_timeout_interval: None,
                last_hit_ago: Some(23),
            },
            ClientRecord {
                address: "2001:db8::7".parse().unwrap(),
                ntp_hits: 1_234_567,
                ntp_drops: 65_535,
                ntp_interval: Some(-3),
                ntp_timeout_interval: Some(-4),
                last_hit_ago: Some(4000),
            },
        ];
        assert_eq!(
            clients(&records),
            "Hostname                      NTP   Drop Int IntL Last     Cmd   Drop Int  Last\n\
             ===============================================================================\n\
             2001:db8::abcd:1               12      0   6   -    23       0      0   -     -\n\
             2001:db8::7                1234567  65535  -3  -4   66m       0      0   -     -\n"
        );
        assert_eq!(clients(&[]).lines().count(), 2);
    }

    #[test]
    fn ftp_sessions_one_line_each() {
        let client: SocketAddr = "127.0.0.1:40312".parse().unwrap();
        let sessions = [
            SessionInfo {
                id: 1,
                client,
                user: None,
                state: SessionState::Idle,
                connected_secs: 3,
            },
            SessionInfo {
                id: 2,
                client,
                user: Some("ftp".into()),
                state: SessionState::Retr {
                    path: "/pub/big.iso".into(),
                    bytes: 1_048_576,
                },
                connected_secs: 4000,
            },
            SessionInfo {
                id: 3,
                client,
                user: Some("alice".into()),
                state: SessionState::Stor {
                    path: "/upload/a".into(),
                    bytes: 0,
                },
                connected_secs: 0,
            },
            SessionInfo {
                id: 4,
                client,
                user: Some("alice".into()),
                state: SessionState::List,
                connected_secs: 1,
            },
        ];
        assert_eq!(
            ftp_sessions(&sessions),
            "Id    Client address         User         Time  State\n\
             =====================================================\n\
             1     127.0.0.1:40312        -               3  idle\n\
             2     127.0.0.1:40312        ftp           66m  RETR /pub/big.iso (1048576 bytes)\n\
             3     127.0.0.1:40312        alice           0  STOR /upload/a (0 bytes)\n\
             4     127.0.0.1:40312        alice           1  LIST\n"
        );
    }

    #[test]
    fn ntpdata_as_chronyc_43_prints_it() {
        let captured = "Remote address  : 127.0.0.1 (7F000001)\n\
                        Remote port     : 57346\n\
                        Local address   : 127.0.0.1 (7F000001)\n\
                        Leap status     : Normal\n\
                        Version         : 4\n\
                        Mode            : Server\n\
                        Stratum         : 1\n\
                        Poll interval   : 0 (1 seconds)\n\
                        Precision       : -26 (0.000000015 seconds)\n\
                        Root delay      : 0.000000 seconds\n\
                        Root dispersion : 0.000000 seconds\n\
                        Reference ID    : 7F7F0101 ()\n\
                        Reference time  : Sat Dec 05 07:06:04 2026\n\
                        Offset          : -0.000000382 seconds\n\
                        Peer delay      : 0.000007038 seconds\n\
                        Peer dispersion : 0.000000091 seconds\n\
                        Response time   : 0.000067854 seconds\n\
                        Jitter asymmetry: +0.00\n\
                        NTP tests       : 111 111 1111\n\
                        Interleaved     : No\n\
                        Authenticated   : No\n\
                        TX timestamping : Kernel\n\
                        RX timestamping : Kernel\n\
                        Total TX        : 4\n\
                        Total RX        : 4\n\
                        Total valid RX  : 4\n\
                        Total good RX   : 4\n";
        let report = ntp_data_seen_from_chronyd();
        assert_eq!(ntp_data(std::slice::from_ref(&report), true), captured);
        // Listing every source, chronyc puts an empty line before each.
        let both = ntp_data(&[report.clone(), report.clone()], false);
        assert_eq!(both, format!("\n{captured}\n{captured}"));
        // chronyc 4.3 against a `key` or `nts` source (seen in the same run as authdata's).
        let authenticated = NtpDataReport {
            authenticated: true,
            ..report
        };
        let text = ntp_data(std::slice::from_ref(&authenticated), true);
        assert!(
            text.contains("Interleaved     : No\nAuthenticated   : Yes\n"),
            "{text}"
        );
        let csv = super::super::chronyc_csv::ntp_data(&[authenticated]);
        assert!(csv.contains(",111,111,1111,No,Yes,Kernel,"), "{csv}");
    }

    #[test]
    fn ntpdata_words_for_what_the_capture_did_not_show() {
        let mut report = ntp_data_seen_from_chronyd();
        report.exchange.leap = 3;
        report.exchange.mode = 0;
        report.exchange.reference_id = u32::from_be_bytes(*b"GPS\0");
        report.exchange.tests[4] = false;
        report.exchange.tests[6] = false;
        report.exchange.tx_timestamping = StampSource::Daemon;
        let text = ntp_data(&[report.clone()], true);
        assert!(
            text.contains("Leap status     : Not synchronised\n"),
            "{text}"
        );
        assert!(text.contains("Mode            : Invalid\n"), "{text}");
        assert!(
            text.contains("Reference ID    : 47505300 (GPS)\n"),
            "{text}"
        );
        assert!(text.contains("NTP tests       : 111 101 0111\n"), "{text}");
        assert!(text.contains("TX timestamping : Daemon\n"), "{text}");
        // Above stratum 1 the ID is an address, not a name.
        report.exchange.stratum = 2;
        let text = ntp_data(&[report], true);
        assert!(text.contains("Reference ID    : 47505300 ()\n"), "{text}");
    }

    #[test]
    fn dates_are_utc_with_zero_padded_days() {
        assert_eq!(utc_date(0), "Thu Jan 01 00:00:00 1970");
        assert_eq!(utc_date(951_782_400), "Tue Feb 29 00:00:00 2000");
        assert_eq!(utc_date(1_700_000_000), "Tue Nov 14 22:13:20 2023");
    }
}
