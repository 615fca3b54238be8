//! The reply to each request, built from what the services report: pure functions.

use std::net::IpAddr;

use super::json_view::{SourceJson, SourceStatsJson};
use super::protocol::Reply;
use super::server_stats::{ServerStats, ServerStatsReport};
use super::{chronyc_csv, chronyc_format};
use crate::ftp::registry::SessionInfo;
use crate::metrics::NtpTotals;
use crate::ntp::clock_state::ClockSnapshot;
use crate::ntp::packet::UnixTime;
use crate::ntp::ratelimit::ClientRecord;
use crate::sync::report::{NtpDataReport, SourceStatsReport, SyncStatus, TrackingReport};

const NO_NTP: &str = "ringd serves no NTP (it was started with --ftp-conf alone)";
const NO_FTP: &str = "ringd serves no FTP (it was started with --ntp-conf alone)";
const NO_SOURCES: &str = "makestep: ringd has no time sources (no `server` or `pool` line in \
                          its chrony.conf), so there is nothing to step the clock to";

/// The clock the shards serve, read at one moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServedClock {
    pub snapshot: ClockSnapshot,
    /// The system clock's reading at that moment.
    pub system_clock: UnixTime,
}

/// `tracking`: what the NTP replies say (reference ID, stratum, leap, root delay and
/// dispersion, reference time) beside the sync engine's statistics, so that monitoring sees
/// what clients see; without NTP, what chronyc shows for a chronyd with no sources.
pub fn tracking(status: Option<&SyncStatus>, served: Option<ServedClock>) -> Reply {
    let report = tracking_report(status.map(|status| &status.tracking), served);
    Reply::report(&report, chronyc_format::tracking(&report))
        .with_csv(chronyc_csv::tracking(&report))
}

fn tracking_report(engine: Option<&TrackingReport>, served: Option<ServedClock>) -> TrackingReport {
    let mut report = engine.cloned().unwrap_or_else(|| TrackingReport {
        leap_status: chronyc_format::leap_name(ClockSnapshot::UNSYNCHRONISED.leap).into(),
        ..TrackingReport::default()
    });
    let Some(ServedClock {
        snapshot,
        system_clock,
    }) = served
    else {
        return report;
    };
    if snapshot.reference_id != report.reference_id {
        // The local reference (or the kernel's state) has taken over: chronyc names neither.
        report.reference_name.clear();
    }
    report.reference_id = snapshot.reference_id;
    report.stratum = snapshot.stratum;
    report.leap_status = chronyc_format::leap_name(snapshot.leap).into();
    report.root_delay = snapshot.root_delay.to_seconds();
    report.root_dispersion = snapshot.root_dispersion.to_seconds();
    report.reference_time = if snapshot.reference_time.is_zero() {
        0.0
    } else {
        let reference = snapshot.reference_time.to_unix_near(system_clock);
        reference.as_nanos() as f64 * 1e-9
    };
    // Steering the clock, the engine's estimate is what the clock still has to be corrected
    // by; observing, the system clock stays where it is and its distance from the time
    // served is the correction the shards add, with the opposite sign.
    if !report.controls_clock {
        let served_time = snapshot.correction.apply(system_clock);
        report.system_time_offset =
            (system_clock.as_nanos() - served_time.as_nanos()) as f64 * 1e-9;
    }
    report
}

/// `sources`: no lines without a sync service.
pub fn sources(status: Option<&SyncStatus>, verbose: bool) -> Reply {
    let sources = status.map_or(&[][..], |status| &status.sources);
    let json: Vec<SourceJson> = sources.iter().map(SourceJson::from).collect();
    Reply::report(&json, chronyc_format::sources(sources, verbose))
        .with_csv(chronyc_csv::sources(sources))
}

/// `sourcestats`: no lines without a sync service.
pub fn source_stats(status: Option<&SyncStatus>, verbose: bool) -> Reply {
    let stats: Vec<SourceStatsReport> = status
        .map_or(&[][..], |status| &status.source_stats)
        .iter()
        .map(as_chronyd_reports)
        .collect();
    let json: Vec<SourceStatsJson> = stats.iter().map(SourceStatsJson::from).collect();
    Reply::report(&json, chronyc_format::source_stats(&stats, verbose))
        .with_csv(chronyc_csv::source_stats(&stats))
}

/// Before its first sample chronyd knows nothing of a source and says so with its
/// worst-case bounds (sourcestats.c's initial values): a skew of 2000 ppm and a standard
/// deviation of 4 s, where ringd's filter has its own starting values.
fn as_chronyd_reports(stats: &SourceStatsReport) -> SourceStatsReport {
    if stats.samples > 0 {
        return stats.clone();
    }
    SourceStatsReport {
        frequency_skew_ppm: NO_SAMPLE_SKEW_PPM,
        std_dev: NO_SAMPLE_STD_DEV,
        ..stats.clone()
    }
}

const NO_SAMPLE_SKEW_PPM: f64 = 2000.0;
const NO_SAMPLE_STD_DEV: f64 = 4.0;

/// `ntpdata`: every source, or the one at `address`; no blocks without a sync service.
pub fn ntp_data(status: Option<&SyncStatus>, address: Option<IpAddr>) -> Reply {
    let all = status.map_or(&[][..], |status| &status.ntp_data);
    let chosen: Vec<NtpDataReport> = all
        .iter()
        .filter(|report| address.is_none_or(|address| report.remote.ip() == address))
        .cloned()
        .collect();
    if let (Some(address), true) = (address, chosen.is_empty()) {
        return Reply::error(format!(
            "ntpdata: no source has the address {address} (`ringctl sources` lists them)"
        ));
    }
    Reply::report(
        &chosen,
        chronyc_format::ntp_data(&chosen, address.is_some()),
    )
    .with_csv(chronyc_csv::ntp_data(&chosen))
}

/// `authdata`: no lines without a sync service.
pub fn auth_data(status: Option<&SyncStatus>, verbose: bool) -> Reply {
    let reports = status.map_or(&[][..], |status| &status.auth_data);
    Reply::report(&reports, chronyc_format::auth_data(reports, verbose))
        .with_csv(chronyc_csv::auth_data(reports))
}

/// `activity`: chronyc's counts of sources; all 0 without a sync service, as chronyd without
/// sources reports.
pub fn activity(status: Option<&SyncStatus>) -> Reply {
    let report = status.map(SyncStatus::activity).unwrap_or_default();
    Reply::report(&report, chronyc_format::activity(&report))
        .with_csv(chronyc_csv::activity(&report))
}

/// `serverstats`, summed over the NTP shards; the JSON also has each shard's own counters,
/// for seeing how the kernel spreads clients over them.
pub fn server_stats(shards: &[NtpTotals]) -> Reply {
    if shards.is_empty() {
        return Reply::error(NO_NTP);
    }
    let mut total = NtpTotals::default();
    for shard in shards {
        total.add(shard);
    }
    let report = ServerStatsReport {
        total: ServerStats::from(&total),
        shards: shards.iter().map(ServerStats::from).collect(),
    };
    Reply::report(&report, chronyc_format::server_stats(&report.total))
        .with_csv(chronyc_csv::server_stats(&report.total))
}

/// `reload` and `cyclelogs`: what the main thread did, or why it did nothing.
pub fn lifecycle(outcome: Option<Result<String, String>>) -> Reply {
    match outcome {
        None => Reply::error("this ringd takes no reload or cyclelogs requests"),
        Some(Err(err)) => Reply::error(err),
        Some(Ok(done)) => Reply::report(
            &serde_json::json!({ "done": done }),
            format!("200 OK ({done})\n"),
        ),
    }
}

/// `clients`, by address; `None` when NTP is not served.
pub fn clients(records: Option<Vec<ClientRecord>>) -> Reply {
    let Some(mut records) = records else {
        return Reply::error(NO_NTP);
    };
    records.sort_by_key(|record| record.address);
    Reply::report(&records, chronyc_format::clients(&records))
        .with_csv(chronyc_csv::clients(&records))
}

/// `makestep`: the step taken, or why none was; `None` without a sync service.
pub fn make_step(result: Option<Result<f64, String>>) -> Reply {
    match result {
        None => Reply::error(NO_SOURCES),
        Some(Err(err)) => Reply::error(err),
        Some(Ok(step)) => Reply::report(
            &serde_json::json!({ "step": step }),
            format!("200 OK (clock stepped by {step:+.9} seconds)\n"),
        ),
    }
}

/// `ftp sessions`; `None` when FTP is not served.
pub fn ftp_sessions(sessions: Option<Vec<SessionInfo>>) -> Reply {
    match sessions {
        Some(sessions) => Reply::report(&sessions, chronyc_format::ftp_sessions(&sessions)),
        None => Reply::error(NO_FTP),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ftp::registry::SessionState;
    use crate::ntp::clock_state::ClockCorrection;
    use crate::ntp::packet::{NtpShort, NtpTimestamp};
    use crate::sync::report::{AuthDataReport, AuthMode, SourceReport};

    fn text(reply: &Reply) -> &str {
        match reply {
            Reply::Ok { text, .. } => text,
            Reply::Error { error } => panic!("error reply: {error}"),
        }
    }

    fn data(reply: &Reply) -> &serde_json::Value {
        match reply {
            Reply::Ok { data, .. } => data,
            Reply::Error { error } => panic!("error reply: {error}"),
        }
    }

    fn error(reply: &Reply) -> &str {
        match reply {
            Reply::Error { error } => error,
            Reply::Ok { text, .. } => panic!("ok reply: {text}"),
        }
    }

    #[test]
    fn without_sync_the_clock_is_not_synchronised_and_has_no_sources() {
        let reply = tracking(None, None);
        assert!(text(&reply).starts_with("Reference ID    : 00000000 ()\nStratum         : 0\n"));
        assert!(text(&reply).ends_with("Leap status     : Not synchronised\n"));
        assert_eq!(data(&reply)["stratum"], 0);
        assert_eq!(data(&reply)["leap_status"], "Not synchronised");
        let reply = sources(None, false);
        assert_eq!(text(&reply).lines().count(), 2);
        assert_eq!(data(&reply), &serde_json::json!([]));
        assert_eq!(text(&source_stats(None, true)).lines().count(), 11);
        assert_eq!(error(&make_step(None)), NO_SOURCES);
    }

    #[test]
    fn with_sync_the_reports_are_shown() {
        let status = SyncStatus {
            tracking: TrackingReport {
                stratum: 3,
                leap_status: "Normal".into(),
                ..TrackingReport::default()
            },
            sources: vec![SourceReport {
                state: '*',
                name: "192.0.2.1".into(),
                stratum: 2,
                poll: 6,
                reach: 0o17,
                last_rx: Some(3.0),
                adjusted_offset: 0.0,
                measured_offset: 0.0,
                error: 1e-3,
                stopped_by: None,
            }],
            source_stats: Vec::new(),
            ntp_data: vec![super::super::chronyc_format::ntp_data_seen_from_chronyd()],
            auth_data: vec![AuthDataReport {
                name: "192.0.2.1".into(),
                mode: AuthMode::Symmetric,
                key_id: 5,
                key_type: 3,
                key_bits: 256,
                ..AuthDataReport::default()
            }],
            unresolved_sources: 1,
        };
        assert!(text(&tracking(Some(&status), None)).contains("Stratum         : 3\n"));
        let activity = activity(Some(&status));
        assert!(text(&activity).starts_with("200 OK\n1 sources online\n0 sources offline\n"));
        assert!(text(&activity).ends_with("1 sources with unknown address\n"));
        let Reply::Ok { csv, .. } = &activity else {
            panic!("an activity report")
        };
        assert_eq!(csv.as_deref(), Some("1,0,0,0,1\n"));
        let reply = sources(Some(&status), false);
        assert!(text(&reply)
            .lines()
            .nth(2)
            .unwrap()
            .starts_with("^* 192.0.2.1 "));
        assert_eq!(data(&reply)[0]["reach"], 15);
        let every = ntp_data(Some(&status), None);
        assert!(text(&every).starts_with("\nRemote address  : 127.0.0.1 (7F000001)\n"));
        assert_eq!(data(&every)[0]["remote"], "127.0.0.1:57346");
        assert_eq!(data(&every)[0]["total_good_rx"], 4);
        let one = ntp_data(Some(&status), Some("127.0.0.1".parse().unwrap()));
        assert!(text(&one).starts_with("Remote address  : 127.0.0.1 (7F000001)\n"));
        assert_eq!(
            error(&ntp_data(Some(&status), Some("192.0.2.9".parse().unwrap()))),
            "ntpdata: no source has the address 192.0.2.9 (`ringctl sources` lists them)"
        );
        assert_eq!(text(&ntp_data(None, None)), "");
        let auth = auth_data(Some(&status), false);
        assert!(text(&auth)
            .lines()
            .nth(2)
            .unwrap()
            .starts_with("192.0.2.1                     SK     5    3  256    -"));
        assert_eq!(data(&auth)[0]["mode"], "Symmetric");
        assert_eq!(text(&auth_data(None, false)).lines().count(), 2);
        assert_eq!(
            error(&make_step(Some(Err(
                "makestep needs --control-clock".into()
            )))),
            "makestep needs --control-clock"
        );
        let stepped = make_step(Some(Ok(-0.25)));
        assert_eq!(
            text(&stepped),
            "200 OK (clock stepped by -0.250000000 seconds)\n"
        );
        assert_eq!(data(&stepped)["step"], -0.25);
    }

    const NOW: UnixTime = UnixTime {
        secs: 1_796_506_493,
        nanos: 184_446_994,
    };

    fn served(snapshot: ClockSnapshot) -> Option<ServedClock> {
        Some(ServedClock {
            snapshot,
            system_clock: NOW,
        })
    }

    fn local_reference(stratum: u8) -> ClockSnapshot {
        ClockSnapshot {
            leap: crate::ntp::packet::leap::NONE,
            stratum,
            reference_id: crate::ntp::packet::REFID_LOCAL,
            reference_time: NtpTimestamp::from_unix(UnixTime {
                secs: NOW.secs - 1,
                nanos: NOW.nanos,
            }),
            root_delay: NtpShort(0),
            root_dispersion: NtpShort(0),
            correction: ClockCorrection::NONE,
        }
    }

    fn csv(reply: &Reply) -> Vec<String> {
        match reply {
            Reply::Ok { csv: Some(csv), .. } => {
                csv.trim_end().split(',').map(str::to_string).collect()
            }
            other => panic!("no CSV in {other:?}"),
        }
    }

    #[test]
    fn a_local_reference_is_tracked_as_chronyd_shows_it() {
        // What chronyc 4.3 printed for `local stratum 10` with a source that never answered.
        let reply = tracking(None, served(local_reference(10)));
        assert!(
            text(&reply).starts_with(
                "Reference ID    : 7F7F0101 ()\nStratum         : 10\n\
                 Ref time (UTC)  : Sat Dec 05 21:34:52 2026\n\
                 System time     : 0.000000000 seconds fast of NTP time\n"
            ),
            "{}",
            text(&reply)
        );
        assert!(text(&reply).ends_with("Leap status     : Normal\n"));
        assert_eq!(data(&reply)["reference_id"], 0x7F7F_0101);
        assert_eq!(data(&reply)["stratum"], 10);
        assert_eq!(data(&reply)["leap_status"], "Normal");
        let fields = csv(&reply);
        assert_eq!(fields[..3], ["7F7F0101", "", "10"]);
        assert_eq!(fields[13], "Normal");

        // The engine's source lost to the local reference (its distance is over `local
        // distance`): the wire says local, and so does tracking.
        let engine = SyncStatus {
            tracking: TrackingReport {
                reference_id: 0xC000_0201,
                reference_name: "192.0.2.1".into(),
                stratum: 3,
                leap_status: "Normal".into(),
                last_offset: 1e-3,
                ..TrackingReport::default()
            },
            ..SyncStatus::default()
        };
        let reply = tracking(Some(&engine), served(local_reference(10)));
        assert!(text(&reply).starts_with("Reference ID    : 7F7F0101 ()\nStratum         : 10\n"));
        assert!(text(&reply).contains("Last offset     : +0.001000000 seconds\n"));
        assert_eq!(data(&reply)["reference_name"], "");
    }

    #[test]
    fn an_unsynchronised_server_says_so_as_its_replies_do() {
        let reply = tracking(None, served(ClockSnapshot::UNSYNCHRONISED));
        assert!(text(&reply).starts_with(
            "Reference ID    : 00000000 ()\nStratum         : 0\n\
             Ref time (UTC)  : Thu Jan 01 00:00:00 1970\n"
        ));
        assert!(text(&reply).contains("Root delay      : 1.000000000 seconds\n"));
        assert!(text(&reply).ends_with("Leap status     : Not synchronised\n"));
    }

    #[test]
    fn system_time_is_the_system_clock_against_the_time_served() {
        let engine = |controls_clock| SyncStatus {
            tracking: TrackingReport {
                reference_id: 0xC000_0201,
                reference_name: "192.0.2.1".into(),
                stratum: 3,
                system_time_offset: 0.25,
                controls_clock,
                leap_status: "Normal".into(),
                ..TrackingReport::default()
            },
            ..SyncStatus::default()
        };
        // The shards add 2.5 ms to the system clock's readings: it is 2.5 ms slow.
        let observing = ClockSnapshot {
            stratum: 3,
            reference_id: 0xC000_0201,
            correction: ClockCorrection {
                at_ns: NOW.as_nanos() as i64 - 1_000_000_000,
                offset_ns: 2_500_000,
                rate_ps_per_s: 0,
            },
            ..local_reference(3)
        };
        let reply = tracking(Some(&engine(false)), served(observing));
        assert!(
            text(&reply).contains("System time     : 0.002500000 seconds slow of NTP time\n"),
            "{}",
            text(&reply)
        );
        assert_eq!(data(&reply)["system_time_offset"], -0.0025);
        assert_eq!(data(&reply)["reference_name"], "192.0.2.1");
        assert_eq!(csv(&reply)[4], "0.002500000", "chronyc -c's correction");
        // A correction growing at 10 ppm for 1 s adds 10 us.
        let drifting = ClockSnapshot {
            correction: ClockCorrection {
                rate_ps_per_s: 10_000_000,
                ..observing.correction
            },
            ..observing
        };
        let reply = tracking(Some(&engine(false)), served(drifting));
        assert_eq!(data(&reply)["system_time_offset"], -0.00251);
        // Steering the clock, the system clock is what is served; what is left to correct is
        // the engine's estimate.
        let steering = ClockSnapshot {
            correction: ClockCorrection::NONE,
            ..observing
        };
        let reply = tracking(Some(&engine(true)), served(steering));
        assert!(text(&reply).contains("System time     : 0.250000000 seconds fast of NTP time\n"));
        assert_eq!(data(&reply)["system_time_offset"], 0.25);
    }

    #[test]
    fn json_offsets_have_the_signs_of_the_text_columns() {
        // The source is 1 ms ahead of the local clock: chronyc's columns say -1000us.
        let status = SyncStatus {
            sources: vec![SourceReport {
                state: '*',
                name: "192.0.2.1".into(),
                stratum: 2,
                poll: 6,
                reach: 0o377,
                last_rx: Some(3.0),
                adjusted_offset: 0.001,
                measured_offset: 0.002,
                error: 1e-4,
                stopped_by: None,
            }],
            source_stats: vec![SourceStatsReport {
                name: "192.0.2.1".into(),
                samples: 8,
                runs: 4,
                span: 448.0,
                frequency_ppm: 0.5,
                frequency_skew_ppm: 0.1,
                offset: 0.003,
                std_dev: 1e-5,
            }],
            ..SyncStatus::default()
        };
        let reply = sources(Some(&status), false);
        let row = text(&reply).lines().nth(2).unwrap().to_string();
        assert!(row.ends_with("-1000us[-2000us] +/-  100us"), "{row}");
        assert_eq!(data(&reply)[0]["adjusted_offset"], -0.001);
        assert_eq!(data(&reply)[0]["measured_offset"], -0.002);
        assert_eq!(csv(&reply)[7..9], ["-0.001000000", "-0.002000000"]);
        let reply = source_stats(Some(&status), false);
        let row = text(&reply).lines().nth(2).unwrap().to_string();
        assert!(row.contains(" -3000us "), "{row}");
        assert_eq!(data(&reply)[0]["offset"], -0.003);
        assert_eq!(csv(&reply)[6], "-0.003000000");
    }

    #[test]
    fn a_source_without_samples_is_shown_as_chronyc_shows_it() {
        let status = SyncStatus {
            sources: vec![SourceReport {
                state: '?',
                name: "127.0.0.1".into(),
                stratum: 0,
                poll: 6,
                reach: 0,
                last_rx: None,
                adjusted_offset: 0.0,
                measured_offset: 0.0,
                error: 0.0,
                stopped_by: None,
            }],
            source_stats: vec![SourceStatsReport {
                name: "127.0.0.1".into(),
                samples: 0,
                runs: 0,
                span: 0.0,
                frequency_ppm: 0.0,
                frequency_skew_ppm: 0.017,
                offset: 0.0,
                std_dev: 0.0,
            }],
            ..SyncStatus::default()
        };
        // Each line as chronyc 4.3 printed it for a server that never answered (with its
        // name, `localhost`, replaced by the address ringd shows).
        let reply = sources(Some(&status), false);
        assert_eq!(
            text(&reply).lines().nth(2).unwrap(),
            "^? 127.0.0.1                     0   6     0     -     +0ns[   +0ns] +/-    0ns"
        );
        assert_eq!(
            csv(&reply),
            "^,?,127.0.0.1,0,6,0,4294967295,0.000000000,0.000000000,0.000000000"
                .split(',')
                .collect::<Vec<_>>()
        );
        assert_eq!(data(&reply)[0]["last_rx"], serde_json::Value::Null);
        let reply = source_stats(Some(&status), false);
        assert_eq!(
            text(&reply).lines().nth(2).unwrap(),
            "127.0.0.1                   0   0     0     +0.000   2000.000     +0ns  4000ms"
        );
        assert_eq!(
            csv(&reply),
            "127.0.0.1,0,0,0,0.000,2000.000,0.000000000,4.000000000"
                .split(',')
                .collect::<Vec<_>>()
        );
        assert_eq!(data(&reply)[0]["frequency_skew_ppm"], 2000.0);
        assert_eq!(data(&reply)[0]["std_dev"], 4.0);
    }

    #[test]
    fn serverstats_sums_the_shards() {
        assert_eq!(error(&server_stats(&[])), NO_NTP);
        let shard = NtpTotals {
            received: 5,
            answered: 5,
            ..NtpTotals::default()
        };
        let other = NtpTotals {
            received: 2,
            ..NtpTotals::default()
        };
        let reply = server_stats(&[shard, other]);
        assert!(text(&reply).starts_with("NTP packets received       : 7\n"));
        assert_eq!(data(&reply)["ntp_packets_answered"], 5);
        assert_eq!(data(&reply)["shards"][0]["ntp_packets_answered"], 5);
        assert_eq!(data(&reply)["shards"][1]["ntp_packets_received"], 2);
    }

    #[test]
    fn clients_are_sorted_by_address() {
        assert_eq!(error(&clients(None)), NO_NTP);
        let record = |address: &str| ClientRecord {
            address: address.parse().unwrap(),
            ntp_hits: 1,
            ntp_drops: 0,
            ntp_interval: None,
            ntp_timeout_interval: None,
            last_hit_ago: Some(0),
        };
        let reply = clients(Some(vec![record("192.0.2.9"), record("192.0.2.10")]));
        let rows: Vec<&str> = text(&reply).lines().skip(2).collect();
        assert!(rows[0].starts_with("192.0.2.9 ") && rows[1].starts_with("192.0.2.10 "));
        assert_eq!(data(&reply)[1]["address"], "192.0.2.10");
        assert_eq!(text(&clients(Some(Vec::new()))).lines().count(), 2);
    }

    #[test]
    fn ftp_sessions_need_ftp() {
        assert_eq!(error(&ftp_sessions(None)), NO_FTP);
        let reply = ftp_sessions(Some(vec![SessionInfo {
            id: 1,
            client: "127.0.0.1:2000".parse().unwrap(),
            user: Some("ftp".into()),
            state: SessionState::Idle,
            connected_secs: 2,
        }]));
        assert!(text(&reply).lines().nth(2).unwrap().contains(" ftp "));
        assert_eq!(data(&reply)[0]["state"], "idle");
    }
}
