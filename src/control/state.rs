//! What the daemon hands the control socket at start, and how each request is answered from it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::answers::{self, ServedClock};
use super::protocol::{Reply, Request};
use crate::ftp::registry::SessionRegistry;
use crate::metrics::NtpCounters;
use crate::ntp::clock_state::ClockCell;
use crate::shard::ntp::client_log::ClientLogTap;
use crate::sync::report::SyncStatus;
use crate::sys::clock::realtime_now;

/// How long `clients` waits for the shards to copy their client logs. An idle shard looks
/// every 100 ms; a busy one between two batches.
const CLIENT_LOG_WAIT: Duration = Duration::from_secs(1);

/// The sync service as the control socket sees it.
pub trait SyncControl {
    /// The latest tracking, sources and sourcestats reports.
    fn status(&self) -> SyncStatus;
    /// Steps the clock to the current estimate at once; returns the step in seconds, or why
    /// it cannot (e.g. "makestep needs --control-clock").
    fn make_step(&self) -> Result<f64, String>;
}

/// What ringctl may ask of the daemon's main thread, which owns the running services.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    Reload,
    CycleLogs,
}

/// Carries a [`Lifecycle`] request to the main thread and brings back its outcome.
pub type LifecycleHandler = Arc<dyn Fn(Lifecycle) -> Result<String, String> + Send + Sync>;

/// The services' shared state the control socket reads; an empty part is a service ringd
/// does not run.
#[derive(Clone, Default)]
pub struct ControlState {
    pub sync: Option<Arc<dyn SyncControl + Send + Sync>>,
    /// The state NTP replies are built from.
    pub served_clock: Option<Arc<ClockCell>>,
    /// One per NTP shard.
    pub ntp_counters: Vec<Arc<NtpCounters>>,
    /// One per NTP shard.
    pub client_logs: Vec<Arc<ClientLogTap>>,
    pub ftp_sessions: Option<Arc<SessionRegistry>>,
    pub lifecycle: Option<LifecycleHandler>,
}

impl ControlState {
    /// Answers one request. Only `clients` may wait, for the shards' copies of their logs.
    pub fn answer(&self, request: Request) -> Reply {
        let status = || self.sync.as_ref().map(|sync| sync.status());
        match request {
            Request::Tracking => {
                let served = self.served_clock.as_ref().map(|cell| ServedClock {
                    system_clock: realtime_now(),
                    snapshot: cell.read(),
                });
                answers::tracking(status().as_ref(), served)
            }
            Request::Sources { verbose } => answers::sources(status().as_ref(), verbose),
            Request::SourceStats { verbose } => answers::source_stats(status().as_ref(), verbose),
            Request::NtpData { address } => answers::ntp_data(status().as_ref(), address),
            Request::AuthData { verbose } => answers::auth_data(status().as_ref(), verbose),
            Request::Activity => answers::activity(status().as_ref()),
            Request::ServerStats => {
                let shards: Vec<_> = self.ntp_counters.iter().map(|c| c.totals()).collect();
                answers::server_stats(&shards)
            }
            Request::Clients => answers::clients(
                (!self.ntp_counters.is_empty())
                    .then(|| ClientLogTap::collect(&self.client_logs, CLIENT_LOG_WAIT)),
            ),
            Request::MakeStep => {
                answers::make_step(self.sync.as_ref().map(|sync| sync.make_step()))
            }
            Request::Reload => {
                answers::lifecycle(self.lifecycle.as_ref().map(|ask| ask(Lifecycle::Reload)))
            }
            Request::CycleLogs => {
                answers::lifecycle(self.lifecycle.as_ref().map(|ask| ask(Lifecycle::CycleLogs)))
            }
            Request::FtpSessions => answers::ftp_sessions(
                self.ftp_sessions
                    .as_ref()
                    .map(|registry| registry.snapshot(Instant::now())),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntp::served_clock::{self, ClockSource};
    use crate::sync::report::TrackingReport;

    struct Steady;

    impl SyncControl for Steady {
        fn status(&self) -> SyncStatus {
            SyncStatus {
                tracking: TrackingReport {
                    stratum: 2,
                    leap_status: "Normal".into(),
                    ..TrackingReport::default()
                },
                ..SyncStatus::default()
            }
        }

        fn make_step(&self) -> Result<f64, String> {
            Err("makestep needs --control-clock".into())
        }
    }

    fn text(reply: Reply) -> String {
        match reply {
            Reply::Ok { text, .. } => text,
            Reply::Error { error } => format!("error: {error}"),
        }
    }

    #[test]
    fn each_request_reads_its_service() {
        let counters = Arc::new(NtpCounters::default());
        counters.received.add(3);
        let registry = Arc::new(SessionRegistry::default());
        let session = registry.open("192.0.2.4:3000".parse().unwrap(), std::time::Instant::now());
        session.logged_in(b"alice");
        let local_reference = served_clock::snapshot(
            ClockSource::LocalReference { stratum: 10 },
            None,
            &crate::sync::leap::LeapTable::default(),
            realtime_now(),
        );
        let state = ControlState {
            sync: Some(Arc::new(Steady)),
            served_clock: Some(Arc::new(ClockCell::new(local_reference))),
            ntp_counters: vec![counters],
            client_logs: Vec::new(),
            ftp_sessions: Some(Arc::clone(&registry)),
            lifecycle: Some(Arc::new(|request| match request {
                Lifecycle::Reload => Err("test.conf:3: unknown option".to_string()),
                Lifecycle::CycleLogs => Ok("2 log file(s) reopened".to_string()),
            })),
        };
        // The engine says stratum 2, but the shards serve the local reference.
        assert!(text(state.answer(Request::Tracking))
            .starts_with("Reference ID    : 7F7F0101 ()\nStratum         : 10\n"));
        assert_eq!(
            text(state.answer(Request::MakeStep)),
            "error: makestep needs --control-clock"
        );
        assert!(text(state.answer(Request::ServerStats))
            .starts_with("NTP packets received       : 3\n"));
        assert_eq!(text(state.answer(Request::Clients)).lines().count(), 2);
        let sessions = text(state.answer(Request::FtpSessions));
        assert!(sessions.lines().nth(2).unwrap().contains("192.0.2.4:3000"));
        assert!(sessions.lines().nth(2).unwrap().contains(" alice "));
        assert_eq!(
            text(state.answer(Request::Reload)),
            "error: test.conf:3: unknown option"
        );
        assert_eq!(
            text(state.answer(Request::CycleLogs)),
            "200 OK (2 log file(s) reopened)\n"
        );
    }

    #[test]
    fn missing_services_answer_as_chronyc_would_or_say_why() {
        let state = ControlState::default();
        assert!(text(state.answer(Request::Tracking)).ends_with("Not synchronised\n"));
        assert_eq!(
            text(state.answer(Request::Sources { verbose: false }))
                .lines()
                .count(),
            2
        );
        assert!(text(state.answer(Request::MakeStep)).starts_with("error: makestep: "));
        assert!(text(state.answer(Request::ServerStats)).starts_with("error: ringd serves no NTP"));
        assert!(text(state.answer(Request::Clients)).starts_with("error: ringd serves no NTP"));
        assert!(text(state.answer(Request::FtpSessions)).starts_with("error: ringd serves no FTP"));
    }
}
