//! `ringload ftp --scenario login|retr|stor|mixed`: concurrent client loops, one thread each, timed per step.

use std::fmt;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::ftp::control::{Control, FtpError};
use crate::ftp::tls::{Negotiated, Stream, TlsClient, TlsMode, TlsReport};
use crate::progress::ProgressCounters;
use crate::raw::{RawFile, RawLines};
use crate::step_stats::{
    error_lines, failed_percent, latency_table, step_p99s, Percentiles, Tally,
};
use crate::verdict::Measured;

/// Stack of each session thread: the loops keep their buffers on the heap.
pub(super) const SESSION_STACK: usize = 256 * 1024;
/// Pause after a failed session before the next, so a refusing server is not hammered in a spin.
const ERROR_BACKOFF: Duration = Duration::from_millis(20);
/// Longest wait, after a data connection failed, for the reply saying why (a refusing server
/// sends it at once).
const EXPLANATION_WAIT: Duration = Duration::from_secs(1);
/// Size of the data buffer each session reads into and uploads from.
const DATA_BUFFER: usize = 64 * 1024;
/// Most sessions one client loop runs, whatever the duration (a bound, not a target).
const MAX_SESSIONS_PER_LOOP: u64 = 100_000_000;

/// What each session does between login and QUIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// Nothing: connect, log in, quit.
    Login,
    /// Download `--file` over a passive data connection.
    Retr,
    /// Upload `--size` bytes to a new file name.
    Stor,
    /// Alternate downloads and uploads.
    Mixed,
    /// Hold logged-in sessions (see `ftp::idle`).
    Idle,
}

impl Scenario {
    /// The scenario as `--scenario` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Login => "login",
            Scenario::Retr => "retr",
            Scenario::Stor => "stor",
            Scenario::Mixed => "mixed",
            Scenario::Idle => "idle",
        }
    }
}

/// Settings of a `login|retr|stor|mixed` run.
#[derive(Clone, Debug)]
pub struct LoadSettings {
    pub destination: SocketAddr,
    pub scenario: Scenario,
    pub duration: Duration,
    pub user: String,
    pub pass: String,
    pub file: Option<String>,
    pub upload_size: u64,
    /// Timeout of every connect, read and write.
    pub io_timeout: Duration,
    /// Longest a single transfer may take.
    pub transfer_timeout: Duration,
    /// One source address per concurrent session (their count is the concurrency).
    pub sources: Vec<SocketAddr>,
    /// FTPS: every session makes a full handshake, its data connections resume it.
    pub tls: Option<Arc<TlsClient>>,
    /// Where the progress lines read the sessions so far, when they are printed.
    pub progress: Option<Arc<ProgressCounters>>,
    /// `--raw`: a line per session.
    pub raw: Option<Arc<RawFile>>,
}

/// What one client loop counted.
#[derive(Debug, Default)]
pub(super) struct LoopTally {
    sessions_completed: u64,
    sessions_failed: u64,
    transfers: u64,
    bytes: u64,
    tally: Tally,
    negotiated: Option<Negotiated>,
    data_not_resumed: u64,
    greeting: Option<String>,
}

/// The report of a run (`--json` prints it; latencies in microseconds).
#[derive(Clone, Debug, Serialize)]
pub struct LoadReport {
    pub server: SocketAddr,
    /// The text of the server's 220 greeting, as the first session received it (absent when
    /// no session was greeted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
    pub scenario: Scenario,
    pub sessions: usize,
    pub elapsed_s: f64,
    pub sessions_completed: u64,
    pub sessions_failed: u64,
    pub sessions_per_s: f64,
    pub transfers: u64,
    pub transfers_per_s: f64,
    pub bytes: u64,
    pub bytes_per_s: f64,
    pub latency_us: std::collections::BTreeMap<String, Percentiles>,
    pub errors_total: u64,
    pub errors: std::collections::BTreeMap<String, u64>,
    pub error_texts: std::collections::BTreeMap<String, String>,
    #[serde(flatten)]
    pub tls: Option<TlsReport>,
    /// Open loop: sessions started per second on a fixed schedule (absent: closed loop, each
    /// of `sessions` clients starting its next session when its previous one ended).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_loop_rate: Option<f64>,
    /// Open loop: sessions due while `sessions` were already in flight, so not started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_too_many_in_flight: Option<u64>,
}

/// How an open-loop run went, beside what its sessions counted.
#[derive(Clone, Copy, Debug)]
pub(super) struct OpenLoop {
    pub rate: f64,
    pub dropped: u64,
}

/// Which transfer a session makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transfer {
    None,
    Download,
    Upload,
}

fn transfer_of(scenario: Scenario, session_index: usize, iteration: u64) -> Transfer {
    match scenario {
        Scenario::Login | Scenario::Idle => Transfer::None,
        Scenario::Retr => Transfer::Download,
        Scenario::Stor => Transfer::Upload,
        // Loops start on alternate sides so the mix is even at every moment, not only overall.
        Scenario::Mixed => {
            if (session_index as u64 + iteration) % 2 == 0 {
                Transfer::Download
            } else {
                Transfer::Upload
            }
        }
    }
}

/// Bytes that do not compress or repeat in short order (xorshift64), for uploads.
fn noise(seed: u64, length: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// `time` in nanoseconds since the Unix epoch, as the `--raw` file writes send times.
fn unix_nanos(time: SystemTime) -> i128 {
    ntp_wire::packet::UnixTime::from_system_time(time).as_nanos()
}

/// A client loop's own state.
pub(super) struct ClientLoop<'a> {
    settings: &'a LoadSettings,
    index: usize,
    buffer: Vec<u8>,
    counts: LoopTally,
    raw: Option<RawLines<'a>>,
}

impl<'a> ClientLoop<'a> {
    /// The loop of session slot `index`; `seed` makes its upload bytes differ from others'.
    pub(super) fn new(settings: &'a LoadSettings, index: usize, seed: u64) -> ClientLoop<'a> {
        ClientLoop {
            settings,
            index,
            buffer: if matches!(settings.scenario, Scenario::Stor | Scenario::Mixed) {
                noise(seed.wrapping_add(index as u64), DATA_BUFFER)
            } else {
                vec![0; DATA_BUFFER]
            },
            counts: LoopTally::default(),
            raw: settings.raw.as_deref().map(RawFile::lines),
        }
    }

    /// What the loop counted; its `--raw` lines are written.
    pub(super) fn into_counts(self) -> LoopTally {
        self.counts
    }

    /// Session `iteration`, counted (and written to `--raw`) as started at `started`: now for
    /// a closed loop, its scheduled start for an open one. False when it failed.
    pub(super) fn counted_session(
        &mut self,
        iteration: u64,
        started: (SystemTime, Instant),
    ) -> bool {
        let transfer = transfer_of(self.settings.scenario, self.index, iteration);
        let progress = self.settings.progress.as_deref();
        progress.inspect(|p| p.offered(1));
        let outcome = self.one_session(transfer, iteration);
        if let Some(raw) = &mut self.raw {
            let class = outcome.as_ref().err().map(FtpError::class);
            raw.record(
                unix_nanos(started.0),
                Some(started.1.elapsed().as_nanos() as i128),
                class.as_deref().unwrap_or("ok"),
            );
        }
        match outcome {
            Ok(()) => {
                self.counts.sessions_completed += 1;
                progress.inspect(|p| p.answered(1));
                true
            }
            Err(error) => {
                self.counts.sessions_failed += 1;
                progress.inspect(|p| p.failed(1));
                self.counts.tally.error(error.class(), || error.to_string());
                false
            }
        }
    }

    /// Records `latency` under `step` beside the commands' latencies.
    pub(super) fn record(&mut self, step: &'static str, latency: Duration) {
        self.counts.tally.record(step, latency);
    }

    fn timed<T>(
        &mut self,
        step: &'static str,
        action: impl FnOnce(&mut Self) -> Result<T, FtpError>,
    ) -> Result<T, FtpError> {
        let start = Instant::now();
        let result = action(self)?;
        self.counts.tally.record(step, start.elapsed());
        Ok(result)
    }

    fn one_session(&mut self, transfer: Transfer, iteration: u64) -> Result<(), FtpError> {
        let settings = self.settings;
        let tls = settings
            .tls
            .as_ref()
            .map(|client| (client.mode, client.session()));
        let start = Instant::now();
        let mut control = Control::connect_greeted(
            settings.sources[self.index],
            settings.destination,
            settings.io_timeout,
            tls.as_ref(),
        )?;
        self.counts.tally.record("connect-to-220", start.elapsed());
        if self.counts.greeting.is_none() {
            self.counts.greeting = control.greeting().map(str::to_string);
        }
        if let Some((TlsMode::Explicit, session)) = &tls {
            self.timed("AUTH TLS", |_| control.auth_tls(session))?;
        }
        let reply = self.timed("USER", |_| {
            control.command(&format!("USER {}", settings.user), "USER", |c| {
                c == 331 || c == 230
            })
        })?;
        if reply.code == 331 {
            self.timed("PASS", |_| {
                control.command(&format!("PASS {}", settings.pass), "PASS", |c| c == 230)
            })?;
        }
        if tls.is_some() {
            self.timed("PBSZ+PROT", |_| control.protect())?;
            if self.counts.negotiated.is_none() {
                self.counts.negotiated = control.negotiated();
            }
        }
        if transfer != Transfer::None {
            self.timed("TYPE", |_| control.command("TYPE I", "TYPE", |c| c == 200))?;
            let data = self.timed("PASV", |_| control.open_passive(settings.io_timeout))?;
            match transfer {
                Transfer::Download => self.download(&mut control, data)?,
                Transfer::Upload => self.upload(&mut control, data, iteration)?,
                Transfer::None => {}
            }
            self.counts.transfers += 1;
        }
        self.timed("QUIT", |_| control.command("QUIT", "QUIT", |c| c == 221))?;
        Ok(())
    }

    /// The data connection as the transfer uses it, its TLS handshake done under `PROT P`.
    fn data_stream(
        &mut self,
        control: &Control,
        data: std::net::TcpStream,
        step: &'static str,
    ) -> Result<Stream, FtpError> {
        let stream = control.data_stream(data, step)?;
        if matches!(stream, Stream::Tls(_)) && !stream.resumed() {
            self.counts.data_not_resumed += 1;
        }
        Ok(stream)
    }

    /// How long a failed transfer waits for the server's reply explaining it.
    fn explanation_wait(&self) -> Duration {
        self.settings.io_timeout.min(EXPLANATION_WAIT)
    }

    fn download(
        &mut self,
        control: &mut Control,
        data: std::net::TcpStream,
    ) -> Result<(), FtpError> {
        let file = self.settings.file.as_deref().unwrap_or_default();
        let start = Instant::now();
        control.command(&format!("RETR {file}"), "RETR", |c| c == 150 || c == 125)?;
        if let Err(failure) = self.receive(control, data, start) {
            return Err(control.explain_data_failure(failure, "RETR", self.explanation_wait()));
        }
        control.expect("RETR", |c| c == 226 || c == 250)?;
        self.counts.tally.record("RETR", start.elapsed());
        Ok(())
    }

    /// The data of a download, to its end.
    fn receive(
        &mut self,
        control: &Control,
        data: std::net::TcpStream,
        start: Instant,
    ) -> Result<(), FtpError> {
        let mut data = self.data_stream(control, data, "RETR data handshake")?;
        let deadline = start + self.settings.transfer_timeout;
        loop {
            if Instant::now() > deadline {
                return Err(FtpError::Timeout { step: "RETR data" });
            }
            match data.read(&mut self.buffer) {
                Ok(0) => return Ok(()),
                Ok(read) => self.counts.bytes += read as u64,
                // A TLS server that ends the data without close_notify: the reply says
                // whether the file came whole.
                Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(error) => {
                    return Err(FtpError::Io {
                        step: "RETR data",
                        error,
                    })
                }
            }
        }
    }

    fn upload(
        &mut self,
        control: &mut Control,
        data: std::net::TcpStream,
        iteration: u64,
    ) -> Result<(), FtpError> {
        let name = format!(
            "ringload-{}-{}-{}.bin",
            std::process::id(),
            self.index,
            iteration
        );
        let start = Instant::now();
        control.command(&format!("STOR {name}"), "STOR", |c| c == 150 || c == 125)?;
        if let Err(failure) = self.send(control, data, start) {
            return Err(control.explain_data_failure(failure, "STOR", self.explanation_wait()));
        }
        control.expect("STOR", |c| c == 226 || c == 250)?;
        self.counts.tally.record("STOR", start.elapsed());
        Ok(())
    }

    /// The data of an upload, ended by the close (the end of the file in stream mode).
    fn send(
        &mut self,
        control: &Control,
        data: std::net::TcpStream,
        start: Instant,
    ) -> Result<(), FtpError> {
        let mut data = self.data_stream(control, data, "STOR data handshake")?;
        let deadline = start + self.settings.transfer_timeout;
        let mut left = self.settings.upload_size;
        while left > 0 {
            if Instant::now() > deadline {
                return Err(FtpError::Timeout { step: "STOR data" });
            }
            let chunk = left.min(self.buffer.len() as u64) as usize;
            data.write_all(&self.buffer[..chunk])
                .map_err(|error| FtpError::Io {
                    step: "STOR data",
                    error,
                })?;
            left -= chunk as u64;
            self.counts.bytes += chunk as u64;
        }
        // A failed close leaves the verdict to the server's reply.
        let _ = data.finish();
        Ok(())
    }

    fn run(mut self, deadline: Instant) -> LoopTally {
        for iteration in 0..MAX_SESSIONS_PER_LOOP {
            if Instant::now() >= deadline {
                break;
            }
            if !self.counted_session(iteration, (SystemTime::now(), Instant::now())) {
                std::thread::sleep(ERROR_BACKOFF);
            }
        }
        self.counts
    }
}

/// Runs one client loop per source address until the duration ends (sessions under way finish,
/// each bounded by the timeouts), then reports.
pub fn run_load(settings: &LoadSettings) -> std::io::Result<LoadReport> {
    let seed = noise_seed();
    let start = Instant::now();
    let deadline = start + settings.duration;
    let loops: Vec<LoopTally> = std::thread::scope(|scope| {
        let handles = (0..settings.sources.len())
            .map(|index| {
                let client = ClientLoop::new(settings, index, seed);
                std::thread::Builder::new()
                    .name(format!("ftp-session-{index}"))
                    .stack_size(SESSION_STACK)
                    .spawn_scoped(scope, move || client.run(deadline))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok::<_, std::io::Error>(
            handles
                .into_iter()
                .map(|h| h.join().expect("a session loop panicked"))
                .collect(),
        )
    })?;
    Ok(report(settings, loops, start.elapsed(), None))
}

/// A seed for the upload bytes that differs from run to run.
pub(super) fn noise_seed() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9e37_79b9_7f4a_7c15)
}

/// The report of the loops' counts over `elapsed`.
pub(super) fn report(
    settings: &LoadSettings,
    loops: Vec<LoopTally>,
    elapsed: Duration,
    open_loop: Option<OpenLoop>,
) -> LoadReport {
    let elapsed = elapsed.as_secs_f64();
    let mut total = LoopTally::default();
    for counts in loops {
        total.sessions_completed += counts.sessions_completed;
        total.sessions_failed += counts.sessions_failed;
        total.transfers += counts.transfers;
        total.bytes += counts.bytes;
        total.tally.merge(counts.tally);
        total.negotiated = total.negotiated.or(counts.negotiated);
        total.data_not_resumed += counts.data_not_resumed;
        total.greeting = total.greeting.or(counts.greeting);
    }
    let per_s = |n: u64| n as f64 / elapsed;
    LoadReport {
        server: settings.destination,
        greeting: total.greeting,
        scenario: settings.scenario,
        sessions: settings.sources.len(),
        elapsed_s: elapsed,
        sessions_completed: total.sessions_completed,
        sessions_failed: total.sessions_failed,
        sessions_per_s: per_s(total.sessions_completed),
        transfers: total.transfers,
        transfers_per_s: per_s(total.transfers),
        bytes: total.bytes,
        bytes_per_s: per_s(total.bytes),
        latency_us: total.tally.percentiles(),
        errors_total: total.tally.errors_total(),
        errors: total.tally.errors,
        error_texts: total.tally.error_texts,
        tls: settings.tls.as_ref().map(|client| TlsReport {
            tls: client.mode,
            negotiated: total.negotiated,
            tls_data_not_resumed: total.data_not_resumed,
        }),
        open_loop_rate: open_loop.map(|o| o.rate),
        dropped_too_many_in_flight: open_loop.map(|o| o.dropped),
    }
}

impl LoadReport {
    /// The figures thresholds are checked against: sessions are what succeed or fail, every
    /// step's latency is held to the latency threshold.
    pub fn measured(&self) -> Measured {
        Measured {
            succeeded: self.sessions_completed,
            // A session an open loop could not start counts as failed: the server held the
            // earlier ones too long.
            loss_percent: failed_percent(
                self.sessions_completed,
                self.sessions_failed + self.dropped_too_many_in_flight.unwrap_or(0),
            ),
            latency_p99_us: step_p99s(&self.latency_us),
            server_p99_us: None,
            rate: Some(self.sessions_per_s),
            errors: self.errors_total,
            generator_fell_behind: false,
            rate_is_lower_bound: false,
        }
    }
}

/// What the latencies of a closed- or open-loop run can be trusted for.
pub fn loop_note(open_loop: bool) -> &'static str {
    if open_loop {
        "latencies: open loop, each session timed from its scheduled start (`session`), so \
         server stalls show in full"
    } else {
        "latencies: closed loop, each client waits for its previous session, so server stalls \
         are under-counted (coordinated omission); --open-loop-rate avoids it"
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.open_loop_rate {
            Some(rate) => writeln!(
                f,
                "ringload ftp {} --scenario {}: open loop, {rate} sessions/s started on schedule \
                 (at most {} in flight) for {:.1} s",
                self.server,
                self.scenario.name(),
                self.sessions,
                self.elapsed_s
            )?,
            None => writeln!(
                f,
                "ringload ftp {} --scenario {}: {} concurrent sessions for {:.1} s",
                self.server,
                self.scenario.name(),
                self.sessions,
                self.elapsed_s
            )?,
        }
        writeln!(
            f,
            "sessions  {:>10} completed  {:>10.1}/s   ({} failed)",
            self.sessions_completed, self.sessions_per_s, self.sessions_failed
        )?;
        writeln!(
            f,
            "transfers {:>10} done       {:>10.1}/s",
            self.transfers, self.transfers_per_s
        )?;
        writeln!(
            f,
            "bytes     {:>10} moved      {:>10.1} MB/s",
            self.bytes,
            self.bytes_per_s / 1e6
        )?;
        if let Some(dropped) = self.dropped_too_many_in_flight {
            writeln!(f, "dropped   {dropped:>10} too many in flight")?;
        }
        if let Some(tls) = &self.tls {
            write!(f, "{tls}")?;
        }
        writeln!(f, "{}", loop_note(self.open_loop_rate.is_some()))?;
        f.write_str(&latency_table(&self.latency_us))?;
        f.write_str(&error_lines(&self.errors, &self.error_texts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_alternates_within_and_across_loops() {
        let kinds: Vec<_> = (0..4).map(|i| transfer_of(Scenario::Mixed, 0, i)).collect();
        assert_eq!(
            kinds,
            [
                Transfer::Download,
                Transfer::Upload,
                Transfer::Download,
                Transfer::Upload
            ]
        );
        assert_eq!(transfer_of(Scenario::Mixed, 1, 0), Transfer::Upload);
        assert_eq!(transfer_of(Scenario::Login, 1, 0), Transfer::None);
    }

    #[test]
    fn noise_does_not_repeat_bytes() {
        let bytes = noise(42, 4096);
        let distinct: std::collections::HashSet<_> = bytes.iter().collect();
        assert!(distinct.len() > 200);
        assert_ne!(noise(1, 64), noise(2, 64));
    }
}
