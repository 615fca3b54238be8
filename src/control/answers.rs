//! The reply to each request, built from what the services report: pure functions.

use std::net::IpAddr;

use super::protocol::Reply;
use super::server_stats::{ServerStats, ServerStatsReport};
use super::{chronyc_csv, chronyc_format};
use crate::ftp::registry::SessionInfo;
use crate::metrics::NtpTotals;
use crate::ntp::ratelimit::ClientRecord;
use crate::sync::report::{NtpDataReport, SyncStatus, TrackingReport};

const NO_NTP: &str = "ringd serves no NTP (it was started with --ftp-conf alone)";
const NO_FTP: &str = "ringd serves no FTP (it was started with --ntp-conf alone)";
const NO_SOURCES: &str = "makestep: ringd has no time sources (no `server` or `pool` line in \
                          its chrony.conf), so there is nothing to step the clock to";

/// `tracking`; without a sync service, what chronyc shows for a chronyd with no sources.
pub fn tracking(status: Option<&SyncStatus>) -> Reply {
    let report = match status {
        Some(status) => status.tracking.clone(),
        None => TrackingReport {
            leap_status: "Not synchronised".into(),
            ..TrackingReport::default()
        },
    };
    Reply::report(&report, chronyc_format::tracking(&report))
        .with_csv(chronyc_csv::tracking(&report))
}

/// `sources`: no lines without a sync service.
pub fn sources(status: Option<&SyncStatus>, verbose: bool) -> Reply {
    let sources = status.map_or(&[][..], |status| &status.sources);
    Reply::report(&sources, chronyc_format::sources(sources, verbose))
        .with_csv(chronyc_csv::sources(sources))
}

/// `sourcestats`: no lines without a sync service.
pub fn source_stats(status: Option<&SyncStatus>, verbose: bool) -> Reply {
    let stats = status.map_or(&[][..], |status| &status.source_stats);
    Reply::report(&stats, chronyc_format::source_stats(stats, verbose))
        .with_csv(chronyc_csv::source_stats(stats))
}

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
    use crate::sync::report::SourceReport;

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
        let reply = tracking(None);
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
            unresolved_sources: 1,
        };
        assert!(text(&tracking(Some(&status))).contains("Stratum         : 3\n"));
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
