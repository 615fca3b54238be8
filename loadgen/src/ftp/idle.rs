//! `ringload ftp --scenario idle`: holds N logged-in sessions, keeps them alive with NOOP, counts what the server held and what it cost.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::ftp::control::{Control, FtpError};
use crate::ftp::memory::{tree_memory, TreeMemory};
use crate::ftp::tls::{TlsClient, TlsMode, TlsReport};
use crate::step_stats::{error_lines, latency_table, step_p99s, Percentiles, Tally};
use crate::verdict::Measured;

/// Threads that open the sessions (login round trips overlap; holding needs no threads).
const OPENING_THREADS: usize = 32;
const OPENING_STACK: usize = 128 * 1024;
/// How long to sleep at most between deadline checks while holding.
const HOLD_TICK: Duration = Duration::from_millis(500);
/// Most NOOP rounds, whatever the duration and interval.
const MAX_KEEPALIVE_ROUNDS: u64 = 100_000;

/// Settings of an idle run.
#[derive(Clone, Debug)]
pub struct IdleSettings {
    pub destination: SocketAddr,
    pub duration: Duration,
    pub keepalive: Duration,
    pub user: String,
    pub pass: String,
    pub io_timeout: Duration,
    /// One source address per session.
    pub sources: Vec<SocketAddr>,
    pub server_pid: Option<u32>,
    /// FTPS: sessions held after AUTH TLS (or implicit TLS), login, PBSZ and PROT P.
    pub tls: Option<Arc<TlsClient>>,
}

/// The server's memory during the run.
#[derive(Clone, Debug, Serialize)]
pub struct IdleMemory {
    pub server_pid: u32,
    /// Before any session was opened.
    pub before: TreeMemory,
    /// With every session held.
    pub holding: TreeMemory,
    /// `holding` PSS divided by the sessions held.
    pub pss_kib_per_session: f64,
    /// (`holding` - `before`) PSS divided by the sessions held: what one more session costs.
    pub added_pss_kib_per_session: f64,
}

/// The report of an idle run.
#[derive(Clone, Debug, Serialize)]
pub struct IdleReport {
    pub server: SocketAddr,
    pub sessions: usize,
    pub logged_in: usize,
    pub held_at_end: usize,
    pub open_s: f64,
    pub held_s: f64,
    pub keepalive_rounds: u64,
    pub memory: Option<IdleMemory>,
    pub latency_us: std::collections::BTreeMap<String, Percentiles>,
    pub errors_total: u64,
    pub errors: std::collections::BTreeMap<String, u64>,
    pub error_texts: std::collections::BTreeMap<String, String>,
    #[serde(flatten)]
    pub tls: Option<TlsReport>,
}

fn open_session(
    settings: &IdleSettings,
    source: SocketAddr,
    tally: &mut Tally,
) -> Result<Control, FtpError> {
    let tls = settings
        .tls
        .as_ref()
        .map(|client| (client.mode, client.session()));
    let start = Instant::now();
    let mut control = Control::connect_greeted(
        source,
        settings.destination,
        settings.io_timeout,
        tls.as_ref(),
    )?;
    tally.record("connect-to-220", start.elapsed());
    let start = Instant::now();
    if let Some((TlsMode::Explicit, session)) = &tls {
        control.auth_tls(session)?;
    }
    control.login(&settings.user, &settings.pass)?;
    if tls.is_some() {
        control.protect()?;
    }
    tally.record("login", start.elapsed());
    Ok(control)
}

/// Opens every session, OPENING_THREADS at a time.
fn open_all(settings: &IdleSettings) -> std::io::Result<(Vec<Control>, Tally)> {
    let chunk = settings.sources.len().div_ceil(OPENING_THREADS).max(1);
    std::thread::scope(|scope| {
        let handles = settings
            .sources
            .chunks(chunk)
            .map(|sources| {
                std::thread::Builder::new()
                    .stack_size(OPENING_STACK)
                    .spawn_scoped(scope, move || {
                        let mut tally = Tally::default();
                        let mut opened = Vec::new();
                        for source in sources {
                            match open_session(settings, *source, &mut tally) {
                                Ok(control) => opened.push(control),
                                Err(error) => tally.error(error.class(), || error.to_string()),
                            }
                        }
                        (opened, tally)
                    })
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        let mut all = Vec::new();
        let mut tally = Tally::default();
        for handle in handles {
            let (opened, part) = handle.join().expect("an opening thread panicked");
            all.extend(opened);
            tally.merge(part);
        }
        Ok((all, tally))
    })
}

/// One NOOP on every session: all sent first, then the replies read, so that a round costs
/// about one round trip rather than one per session. Sessions that fail are dropped.
fn keepalive_round(sessions: Vec<Control>, tally: &mut Tally) -> Vec<Control> {
    let start = Instant::now();
    let sent: Vec<(Control, Result<(), FtpError>)> = sessions
        .into_iter()
        .map(|mut c| {
            let sent = c.send("NOOP", "NOOP");
            (c, sent)
        })
        .collect();
    let mut alive = Vec::with_capacity(sent.len());
    for (mut control, sent) in sent {
        match sent.and_then(|()| control.expect("NOOP", |c| c == 200)) {
            Ok(_) => alive.push(control),
            Err(error) => tally.error(error.class(), || error.to_string()),
        }
    }
    tally.record("NOOP round", start.elapsed());
    alive
}

fn measure(pid: u32, tally: &mut Tally) -> Option<TreeMemory> {
    tree_memory(pid)
        .map_err(|error| {
            tally.error("memory_unreadable".into(), || {
                format!("reading the memory of pid {pid}: {error}")
            })
        })
        .ok()
}

/// Opens, holds (NOOP every `keepalive`) until the duration ends, checks, quits.
pub fn run_idle(settings: &IdleSettings) -> std::io::Result<IdleReport> {
    let mut side_tally = Tally::default();
    let before = settings
        .server_pid
        .and_then(|pid| measure(pid, &mut side_tally));
    let start = Instant::now();
    let (mut sessions, mut tally) = open_all(settings)?;
    tally.merge(side_tally);
    let logged_in = sessions.len();
    let open_s = start.elapsed().as_secs_f64();
    let tls = settings.tls.as_ref().map(|client| TlsReport {
        tls: client.mode,
        negotiated: sessions.first().and_then(Control::negotiated),
        tls_data_not_resumed: 0,
    });
    let holding = settings.server_pid.and_then(|pid| measure(pid, &mut tally));

    let hold_start = Instant::now();
    let deadline = hold_start + settings.duration;
    let mut next_keepalive = hold_start + settings.keepalive;
    let mut keepalive_rounds = 0;
    while keepalive_rounds < MAX_KEEPALIVE_ROUNDS {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if now >= next_keepalive {
            sessions = keepalive_round(sessions, &mut tally);
            keepalive_rounds += 1;
            next_keepalive += settings.keepalive;
            continue;
        }
        std::thread::sleep(HOLD_TICK.min(deadline.min(next_keepalive) - now));
    }
    // The final round is the count: a session the server dropped silently fails here.
    sessions = keepalive_round(sessions, &mut tally);
    let held_at_end = sessions.len();
    let held_s = hold_start.elapsed().as_secs_f64();
    for control in &mut sessions {
        let _ = control.send("QUIT", "QUIT");
    }
    for control in &mut sessions {
        control.wait_for_close(Duration::from_millis(200));
        control.shutdown();
    }

    let memory = match (settings.server_pid, before, holding) {
        (Some(server_pid), Some(before), Some(holding)) => {
            let per = |kib: u64| kib as f64 / logged_in.max(1) as f64;
            Some(IdleMemory {
                server_pid,
                before,
                holding,
                pss_kib_per_session: per(holding.pss_kib),
                added_pss_kib_per_session: per(holding.pss_kib.saturating_sub(before.pss_kib)),
            })
        }
        _ => None,
    };
    Ok(IdleReport {
        server: settings.destination,
        sessions: settings.sources.len(),
        logged_in,
        held_at_end,
        open_s,
        held_s,
        keepalive_rounds,
        memory,
        latency_us: tally.percentiles(),
        errors_total: tally.errors_total(),
        errors: tally.errors,
        error_texts: tally.error_texts,
        tls,
    })
}

impl IdleReport {
    /// The figures thresholds are checked against: the sessions asked for that were not held
    /// to the end are the loss; holding sessions has no rate.
    pub fn measured(&self) -> Measured {
        let dropped = self.sessions.saturating_sub(self.held_at_end);
        Measured {
            succeeded: self.held_at_end as u64,
            loss_percent: dropped as f64 * 100.0 / self.sessions.max(1) as f64,
            latency_p99_us: step_p99s(&self.latency_us),
            server_p99_us: None,
            rate: None,
            errors: self.errors_total,
            generator_fell_behind: false,
            rate_is_lower_bound: false,
        }
    }
}

impl fmt::Display for IdleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "ringload ftp {} --scenario idle: {} sessions asked",
            self.server, self.sessions
        )?;
        writeln!(
            f,
            "logged in {:>8} (in {:.1} s)\nheld      {:>8} at the end of {:.1} s ({} NOOP rounds)",
            self.logged_in, self.open_s, self.held_at_end, self.held_s, self.keepalive_rounds
        )?;
        if let Some(memory) = &self.memory {
            writeln!(
                f,
                "server pid {} ({} processes): PSS {} KiB before, {} KiB holding: {:.1} KiB per session ({:.1} KiB added per session)",
                memory.server_pid,
                memory.holding.processes,
                memory.before.pss_kib,
                memory.holding.pss_kib,
                memory.pss_kib_per_session,
                memory.added_pss_kib_per_session
            )?;
        }
        if let Some(tls) = &self.tls {
            write!(f, "{tls}")?;
        }
        f.write_str(&latency_table(&self.latency_us))?;
        f.write_str(&error_lines(&self.errors, &self.error_texts))
    }
}
