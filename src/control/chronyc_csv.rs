//! chronyc -c's layouts for ringctl -c: each report as comma-separated raw values, in chronyc 4.3's field order, so scripts written for chronyc (telegraf, chrony_exporter, chrony-wait) read ringctl unchanged.
//!
//! What chronyc prints in CSV mode: no text between the values, times as seconds (`.9f`),
//! frequencies as ppm (`.3f`), signed values without `+`, reference times as POSIX
//! `seconds.nanoseconds`, intervals as log2 seconds with 127 for none, seconds-ago with
//! 4294967295 for never, and addresses rather than names. Counters chronyd has and ringd has
//! not (command packets, NTS-KE, authenticated and interleaved packets) are 0.

use std::fmt::Write;

use super::chronyc_format::{
    auth_mode_name, leap_name, local_minus_source, mode_name, reference_text, stamp_name,
    test_groups, yes_no, JITTER_ASYMMETRY,
};
use super::server_stats::ServerStats;
use crate::ntp::ratelimit::ClientRecord;
use crate::sync::engine::reference_id;
use crate::sync::report::{
    ActivityReport, AuthDataReport, NtpDataReport, SourceReport, SourceStatsReport, TrackingReport,
};

/// chronyc's value for "no interval" in `clients`.
const NO_INTERVAL: i8 = 127;
/// chronyc's value for "never" in seconds-ago columns.
const NEVER: u32 = u32::MAX;

/// POSIX seconds as chronyc's `UTI_TimespecToString`: `seconds.nanoseconds`.
fn timespec(seconds: f64) -> String {
    let whole = seconds.floor();
    let nanos = ((seconds - whole) * 1e9).round().min(999_999_999.0);
    format!("{}.{:09}", whole as i64, nanos as u32)
}

/// `tracking -c`: reference ID, name, stratum, reference time, correction, last offset, RMS
/// offset, frequency, residual frequency, skew, root delay, root dispersion, update interval,
/// leap status.
pub fn tracking(report: &TrackingReport) -> String {
    format!(
        "{:08X},{},{},{},{:.9},{:.9},{:.9},{:.3},{:.3},{:.3},{:.9},{:.9},{:.1},{}\n",
        report.reference_id,
        report.reference_name,
        report.stratum,
        timespec(report.reference_time),
        // chronyc's correction and frequency are the opposites of the report's; `0.0 - x`
        // keeps a zero from printing as -0.
        0.0 - report.system_time_offset,
        report.last_offset,
        report.rms_offset,
        0.0 - report.frequency_ppm,
        report.residual_frequency_ppm,
        report.skew_ppm,
        report.root_delay,
        report.root_dispersion,
        report.update_interval,
        report.leap_status,
    )
}

/// `authdata -c`: name, mode, key ID, type, key length, seconds since the last key
/// establishment (4294967295 for never), attempts, NAK, cookies, cookie length.
pub fn auth_data(reports: &[AuthDataReport]) -> String {
    let mut text = String::new();
    for report in reports {
        let _ = writeln!(
            text,
            "{},{},{},{},{},{},{},{},{},{}",
            report.name,
            auth_mode_name(report.mode),
            report.key_id,
            report.key_type,
            report.key_bits,
            report.last_ke_ago.unwrap_or(NEVER),
            report.ke_attempts,
            u8::from(report.nak),
            report.cookies,
            report.cookie_length,
        );
    }
    text
}

/// `ntpdata -c`: one line per source with the text report's values in its order, the poll
/// and precision each followed by their seconds, the reference time as POSIX seconds.
pub fn ntp_data(reports: &[NtpDataReport]) -> String {
    let mut text = String::new();
    for report in reports {
        let exchange = &report.exchange;
        let (first_tests, second_tests, third_tests) = test_groups(&exchange.tests);
        let _ = writeln!(
            text,
            "{},{:08X},{},{},{:08X},{},{},{},{},{},{:.0},{},{:.9},{:.6},{:.6},{:08X},{},{},\
             {:.9},{:.9},{:.9},{:.9},{:.2},{first_tests},{second_tests},{third_tests},No,{},\
             {},{},{},{},{},{}",
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
            timespec(exchange.reference_time),
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

/// `sources -c`: mode, state, address, stratum, poll, reach (octal), seconds since the last
/// sample, adjusted offset, measured offset, error.
pub fn sources(sources: &[SourceReport]) -> String {
    let mut text = String::new();
    for source in sources {
        let _ = writeln!(
            text,
            "^,{},{},{},{},{:o},{},{:.9},{:.9},{:.9}",
            source.state,
            source.name,
            source.stratum,
            source.poll,
            source.reach,
            source.last_rx.map_or(NEVER, |s| s as u32),
            local_minus_source(source.adjusted_offset),
            local_minus_source(source.measured_offset),
            source.error,
        );
    }
    text
}

/// `sourcestats -c`: address, samples, runs, span, frequency, skew, offset, standard
/// deviation.
pub fn source_stats(stats: &[SourceStatsReport]) -> String {
    let mut text = String::new();
    for source in stats {
        let _ = writeln!(
            text,
            "{},{},{},{},{:.3},{:.3},{:.9},{:.9}",
            source.name,
            source.samples,
            source.runs,
            source.span as u32,
            source.frequency_ppm,
            source.frequency_skew_ppm,
            local_minus_source(source.offset),
            source.std_dev,
        );
    }
    text
}

/// `activity -c`: online, offline, bursting back to online, bursting back to offline,
/// unresolved.
pub fn activity(report: &ActivityReport) -> String {
    format!(
        "{},{},{},{},{}\n",
        report.online, report.offline, report.burst_online, report.burst_offline, report.unresolved
    )
}

/// `serverstats -c`, chronyc 4.3's eleven fields: NTP packets received and dropped, command
/// packets received and dropped, client log records dropped, NTS-KE connections accepted and
/// dropped, authenticated and interleaved NTP packets, timestamps held and their span.
pub fn server_stats(stats: &ServerStats) -> String {
    format!(
        "{},{},0,0,{},0,0,0,0,0,0\n",
        stats.ntp_packets_received, stats.ntp_packets_dropped, stats.client_log_records_dropped
    )
}

/// `clients -c`: address, NTP requests, drops, interval, interval while limited, seconds since
/// the last, then the four command-port columns (ringd has no command port).
pub fn clients(records: &[ClientRecord]) -> String {
    let mut text = String::new();
    for client in records {
        let _ = writeln!(
            text,
            "{},{},{},{},{},{},0,0,{NO_INTERVAL},{NEVER}",
            client.address,
            client.ntp_hits,
            client.ntp_drops,
            client.ntp_interval.unwrap_or(NO_INTERVAL),
            client.ntp_timeout_interval.unwrap_or(NO_INTERVAL),
            client.last_hit_ago.unwrap_or(NEVER),
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntpdata_as_chronyc_43_prints_it() {
        let report = super::super::chronyc_format::ntp_data_seen_from_chronyd();
        assert_eq!(
            ntp_data(&[report]),
            "127.0.0.1,7F000001,57346,127.0.0.1,7F000001,Normal,4,Server,1,0,1,-26,\
             0.000000015,0.000000,0.000000,7F7F0101,,1796454364.618355274,-0.000000382,\
             0.000007038,0.000000091,0.000067854,0.00,111,111,1111,No,No,Kernel,Kernel,\
             4,4,4,4\n"
        );
    }

    #[test]
    fn tracking_has_chronyc_43s_fourteen_fields() {
        // chronyc -c tracking against chronyd 4.3 with `local stratum 10` printed:
        // 7F7F0101,,10,1796423881.577350863,0.000000000,0.000000000,0.000000000,0.000,0.000,0.000,0.000000000,0.000000000,0.0,Normal
        let report = TrackingReport {
            reference_id: 0xC000_0201,
            reference_name: "192.0.2.1".into(),
            stratum: 3,
            reference_time: 1_796_423_881.577_350_8,
            system_time_offset: 0.000_002_5,
            last_offset: -0.000_001,
            rms_offset: 0.000_003,
            frequency_ppm: 1.25,
            residual_frequency_ppm: -0.01,
            skew_ppm: 0.2,
            root_delay: 0.000_03,
            root_dispersion: 0.000_01,
            update_interval: 16.0,
            leap_status: "Normal".into(),
            controls_clock: false,
        };
        let line = tracking(&report);
        assert_eq!(
            line,
            "C0000201,192.0.2.1,3,1796423881.577350855,-0.000002500,-0.000001000,0.000003000,\
             -1.250,-0.010,0.200,0.000030000,0.000010000,16.0,Normal\n"
        );
        assert_eq!(line.trim_end().split(',').count(), 14);
    }

    #[test]
    fn sources_and_sourcestats_in_chronycs_order() {
        let source = SourceReport {
            state: '*',
            name: "192.0.2.1".into(),
            stratum: 2,
            poll: 6,
            reach: 0o377,
            last_rx: Some(12.4),
            adjusted_offset: 0.000_001,
            measured_offset: 0.000_002,
            error: 0.000_015,
            stopped_by: None,
        };
        assert_eq!(
            sources(&[source]),
            "^,*,192.0.2.1,2,6,377,12,-0.000001000,-0.000002000,0.000015000\n"
        );
        let never = SourceReport {
            state: '?',
            name: "ntp.example".into(),
            stratum: 0,
            poll: 6,
            reach: 0,
            last_rx: None,
            adjusted_offset: 0.0,
            measured_offset: 0.0,
            error: 0.0,
            stopped_by: None,
        };
        assert!(sources(&[never]).contains(",0,4294967295,"));
        let stats = SourceStatsReport {
            name: "192.0.2.1".into(),
            samples: 8,
            runs: 5,
            span: 120.7,
            frequency_ppm: 0.012,
            frequency_skew_ppm: 0.3,
            offset: -0.000_004,
            std_dev: 0.000_002,
        };
        assert_eq!(
            source_stats(&[stats]),
            "192.0.2.1,8,5,120,0.012,0.300,0.000004000,0.000002000\n"
        );
    }

    #[test]
    fn clients_and_serverstats_match_chronyc_43() {
        // chronyc -c clients after two requests to chronyd 4.3:
        // 127.0.0.1,2,0,-5,127,0,0,0,127,4294967295
        let record = ClientRecord {
            address: "127.0.0.1".parse().unwrap(),
            ntp_hits: 2,
            ntp_drops: 0,
            ntp_interval: Some(-5),
            ntp_timeout_interval: None,
            last_hit_ago: Some(0),
        };
        assert_eq!(
            clients(&[record]),
            "127.0.0.1,2,0,-5,127,0,0,0,127,4294967295\n"
        );
        let line = server_stats(&ServerStats {
            ntp_packets_received: 2,
            ntp_packets_dropped: 1,
            client_log_records_dropped: 0,
            ntp_daemon_rx_timestamps: 0,
            ntp_daemon_tx_timestamps: 0,
            ntp_kernel_rx_timestamps: 0,
            ntp_packets_answered: 1,
            ntp_kod_rate_sent: 0,
            ntp_rate_limited: 0,
            ntp_dropped: Default::default(),
            ntp_send_failures: 0,
            ntp_receive_errors: 0,
        });
        // chronyd 4.3 after two requests: 2,0,3,0,0,0,0,0,0,0,0
        assert_eq!(line, "2,1,0,0,0,0,0,0,0,0,0\n");
    }
}
