//! The `ftp` and `ftp-limits` subcommands: their arguments, checked, turned into settings and run.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;

use crate::cli::{create_html, output, print, seconds};
use crate::clients::client_addresses;
use crate::document::Invocation;
use crate::ftp::idle::{run_idle, IdleSettings};
use crate::ftp::limits::{check_limits, LimitsSettings, EXTRA_CONNECTIONS};
use crate::ftp::load::{run_load, LoadSettings, Scenario};
use crate::ftp::open_loop::run_open_loop;
use crate::ftp::tls::{TlsClient, TlsMode};
use crate::progress::{wanted, ProgressLines, Unit};
use crate::raw::RawFile;
use crate::target::resolve_destination;
use crate::thresholds::ThresholdArgs;
use crate::verdict::Verdict;

/// Longest run ringload accepts, seconds.
const MAX_DURATION_S: f64 = 86_400.0;
/// Most concurrent client loops (one thread each).
const MAX_LOOP_SESSIONS: usize = 2_000;
/// Highest `--open-loop-rate`, sessions/s.
const MAX_OPEN_LOOP_RATE: f64 = 100_000.0;
/// Most idle sessions (one source address each, see `clients`).
const MAX_IDLE_SESSIONS: usize = 60_000;
/// Largest `--max-clients`/`--max-per-ip` checked (each is one held connection).
const MAX_LIMIT: usize = 10_000;
/// File descriptors kept free for everything that is not a session.
const SPARE_DESCRIPTORS: u64 = 64;

#[derive(Args)]
pub struct FtpArgs {
    /// Server to load, HOST:PORT (loopback only unless --allow-non-loopback).
    server: String,
    /// What each session does after logging in.
    #[arg(long, value_enum, default_value = "login")]
    scenario: Scenario,
    /// Concurrent sessions (idle: sessions held; open loop: most sessions in flight), each
    /// from its own 127.0.x.y address.
    #[arg(long, default_value_t = 8)]
    sessions: usize,
    /// Open loop: start this many sessions per second on a fixed schedule, whether or not
    /// earlier ones finished, each timed from its scheduled start (`session`); a session due
    /// while --sessions are in flight is dropped and counted. Without it each of --sessions
    /// clients starts its next session when its last ended (closed loop).
    #[arg(long, value_name = "N")]
    open_loop_rate: Option<f64>,
    /// Seconds to run (idle: to hold), fractions allowed.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    #[arg(long, default_value = "anonymous")]
    user: String,
    #[arg(long, default_value = "ringload@")]
    pass: String,
    /// File to download (retr, mixed).
    #[arg(long)]
    file: Option<String>,
    /// Bytes of each upload (stor, mixed).
    #[arg(long, default_value_t = 65_536)]
    size: u64,
    /// Seconds any connect, read or write may take.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Seconds a single transfer may take.
    #[arg(long, default_value_t = 300.0)]
    transfer_timeout: f64,
    /// Idle: seconds between NOOPs on every session.
    #[arg(long, default_value_t = 60.0)]
    keepalive: f64,
    /// Idle: report the memory (PSS) of this process and its descendants per session.
    #[arg(long)]
    server_pid: Option<u32>,
    /// First source address (session i uses base + i), for servers in a network namespace.
    #[arg(long)]
    source_net: Option<IpAddr>,
    /// Print one JSON object instead of the table (its fields are documented in
    /// loadgen/README.md).
    #[arg(long)]
    json: bool,
    /// Also write the report as one self-contained HTML page of charts and tables to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Allow a destination outside loopback (only ever your own test hosts or namespaces).
    #[arg(long)]
    allow_non_loopback: bool,
    /// A progress line on stderr every second (sessions offered, completed, failed so far);
    /// printed without this flag when stderr is a terminal.
    #[arg(long)]
    progress: bool,
    /// Also write one CSV line per session to FILE: send_unix_ns,latency_ns,outcome (the
    /// session's start, its length, `ok` or the error class; see loadgen/README.md).
    #[arg(long, value_name = "FILE")]
    raw: Option<PathBuf>,
    /// Explicit FTPS: AUTH TLS after the greeting, PBSZ 0 and PROT P after login; every
    /// session makes a full handshake and its data connections resume it.
    #[arg(long, requires = "tls_ca")]
    tls: bool,
    /// Implicit FTPS: TLS from the first byte (a server with implicit_ssl=YES), then as --tls.
    #[arg(long, conflicts_with = "tls", requires = "tls_ca")]
    implicit_tls: bool,
    /// PEM file of the certificates that may sign the server's (its own, if self-signed).
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// Name the server's certificate must carry.
    #[arg(long, value_name = "NAME", default_value = "localhost")]
    tls_name: String,
    #[command(flatten)]
    thresholds: ThresholdArgs,
}

#[derive(Args)]
pub struct FtpLimitsArgs {
    /// Server to check, HOST:PORT (loopback only unless --allow-non-loopback).
    server: String,
    /// The server's max_clients: that many connections from distinct addresses must get 220,
    /// two more must get vsftpd's "421 There are too many connected users...".
    #[arg(long)]
    max_clients: usize,
    /// The server's max_per_ip: that many connections from one address must get 220, two
    /// more must get "421 There are too many connections from your internet address.".
    #[arg(long)]
    max_per_ip: Option<usize>,
    /// Seconds each greeting (and each close after a 421) may take.
    #[arg(long, default_value_t = 2.0)]
    timeout: f64,
    /// Then open this many connections at the same moment (from distinct addresses, and from
    /// one): exactly the allowed number must be greeted while they race.
    #[arg(long)]
    burst: Option<usize>,
    /// First source address (connection i uses base + i), for servers in a network namespace.
    #[arg(long)]
    source_net: Option<IpAddr>,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    json: bool,
    /// Print the verdict line only (PASS or FAIL).
    #[arg(long, conflicts_with = "json")]
    quiet: bool,
    /// Allow a destination outside loopback (only ever your own test hosts or namespaces).
    #[arg(long)]
    allow_non_loopback: bool,
}

/// Source addresses for `count` connections, refusing a list that is not distinct when
/// distinct addresses are what the check needs.
fn distinct_sources(
    destination: SocketAddr,
    count: usize,
    source_net: Option<IpAddr>,
) -> anyhow::Result<Vec<SocketAddr>> {
    let sources = client_addresses(destination, count, source_net)?;
    if count > 1 && sources[0].ip() == sources[1].ip() {
        bail!(
            "distinct source addresses need an IPv4 loopback destination or --source-net \
             (a prefix local to this host)"
        );
    }
    Ok(sources)
}

/// Refuses a session count the open-file limit cannot hold (raise it with `ulimit -n`).
fn check_descriptors(sessions: usize) -> anyhow::Result<()> {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|soft| soft.parse::<u64>().ok());
    if let Some(soft) = soft {
        if sessions as u64 + SPARE_DESCRIPTORS > soft {
            bail!(
                "{sessions} sessions need more than the {soft} open files allowed; \
                 raise the limit (ulimit -n) or ask for fewer"
            );
        }
    }
    Ok(())
}

/// `ringload ftp`: the run's verdict against the thresholds given.
pub fn run_ftp(args: FtpArgs) -> anyhow::Result<Verdict> {
    let invocation = Invocation::begin("ftp", &args.server);
    let json = args.json.then_some(&invocation);
    let thresholds = args.thresholds.thresholds();
    let destination = resolve_destination(&args.server, args.allow_non_loopback)?;
    let duration = seconds(args.duration, MAX_DURATION_S, "--duration")?;
    let io_timeout = seconds(args.timeout, MAX_DURATION_S, "--timeout")?;
    let max_sessions = if args.scenario == Scenario::Idle {
        MAX_IDLE_SESSIONS
    } else {
        MAX_LOOP_SESSIONS
    };
    if !(1..=max_sessions).contains(&args.sessions) {
        bail!("--sessions must be between 1 and {max_sessions} for this scenario");
    }
    // Every session has a control connection, and a data connection while transferring (an
    // idle session never transfers).
    let per_session = if args.scenario == Scenario::Idle {
        1
    } else {
        2
    };
    check_descriptors(args.sessions * per_session)?;
    let sources = client_addresses(destination, args.sessions, args.source_net)?;
    let mode = match (args.tls, args.implicit_tls) {
        (true, _) => Some(TlsMode::Explicit),
        (_, true) => Some(TlsMode::Implicit),
        _ => None,
    };
    let tls = match (mode, &args.tls_ca) {
        (Some(mode), Some(ca)) => Some(Arc::new(TlsClient::new(mode, ca, &args.tls_name)?)),
        (None, Some(_)) => bail!("--tls-ca is for --tls or --implicit-tls"),
        _ => None,
    };
    if let Some(rate) = args.open_loop_rate {
        if !(rate > 0.0 && rate <= MAX_OPEN_LOOP_RATE) {
            bail!("--open-loop-rate must be above 0 and at most {MAX_OPEN_LOOP_RATE} sessions/s, not {rate}");
        }
        if args.scenario == Scenario::Idle {
            bail!("--open-loop-rate does not apply to --scenario idle: held sessions are not started at a rate");
        }
    }
    if args.scenario == Scenario::Idle {
        if thresholds.min_rate.is_some() {
            bail!("--min-rate does not apply to --scenario idle: held sessions have no rate");
        }
        let settings = IdleSettings {
            destination,
            duration,
            keepalive: seconds(args.keepalive, MAX_DURATION_S, "--keepalive")?,
            user: args.user,
            pass: args.pass,
            io_timeout,
            sources,
            server_pid: args.server_pid,
            tls,
        };
        let html = create_html(args.html, &invocation)?;
        let report = run_idle(&settings).context("running the idle sessions")?;
        let verdict = Verdict::judge(&report.measured(), &thresholds);
        output(json, "idle", html, &report, &verdict)?;
        return Ok(verdict);
    }
    if matches!(args.scenario, Scenario::Retr | Scenario::Mixed) && args.file.is_none() {
        bail!("--scenario retr and mixed need --file NAME (a file the server offers)");
    }
    let raw = args
        .raw
        .as_deref()
        .map(RawFile::create)
        .transpose()?
        .map(Arc::new);
    let progress = wanted(args.progress).then(|| ProgressLines::start(Unit::Sessions));
    let settings = LoadSettings {
        destination,
        scenario: args.scenario,
        duration,
        user: args.user,
        pass: args.pass,
        file: args.file,
        upload_size: args.size,
        io_timeout,
        transfer_timeout: seconds(args.transfer_timeout, MAX_DURATION_S, "--transfer-timeout")?,
        sources,
        tls,
        progress: progress.as_ref().map(ProgressLines::counters),
        raw: raw.clone(),
    };
    let html = create_html(args.html, &invocation)?;
    let report = match args.open_loop_rate {
        Some(rate) => run_open_loop(&settings, rate),
        None => run_load(&settings),
    }
    .context("starting the session threads")?;
    drop(progress);
    raw.as_deref().map_or(Ok(()), RawFile::finish)?;
    let verdict = Verdict::judge(&report.measured(), &thresholds);
    output(json, args.scenario.name(), html, &report, &verdict)?;
    Ok(verdict)
}

/// `ringload ftp-limits`: a broken verdict unless the server enforced the limits.
pub fn run_ftp_limits(args: FtpLimitsArgs) -> anyhow::Result<Verdict> {
    let invocation = Invocation::begin("ftp-limits", &args.server);
    let destination = resolve_destination(&args.server, args.allow_non_loopback)?;
    if !(1..=MAX_LIMIT).contains(&args.max_clients) {
        bail!("--max-clients must be between 1 and {MAX_LIMIT}");
    }
    if let Some(max_per_ip) = args.max_per_ip {
        if !(1..=MAX_LIMIT).contains(&max_per_ip) {
            bail!("--max-per-ip must be between 1 and {MAX_LIMIT}");
        }
    }
    if let Some(burst) = args.burst {
        if !(1..=MAX_LIMIT).contains(&burst) {
            bail!("--burst must be between 1 and {MAX_LIMIT}");
        }
    }
    let most_held = (args.max_clients.max(args.max_per_ip.unwrap_or(0)) + EXTRA_CONNECTIONS)
        .max(args.burst.unwrap_or(0));
    check_descriptors(most_held)?;
    let settings = LimitsSettings {
        destination,
        max_clients: args.max_clients,
        max_per_ip: args.max_per_ip,
        sources: distinct_sources(
            destination,
            (args.max_clients + EXTRA_CONNECTIONS).max(args.burst.unwrap_or(0)),
            args.source_net,
        )?,
        greeting_timeout: seconds(args.timeout, MAX_DURATION_S, "--timeout")?,
        burst: args.burst,
    };
    let report = check_limits(&settings);
    let verdict = if report.passed {
        Verdict::Passed
    } else {
        let wrong: usize = report.phases.iter().map(|p| p.wrong).sum();
        Verdict::CheckFailed {
            reasons: vec![format!(
                "{destination} does not enforce max_clients={}{}: {wrong} connection(s) got the wrong answer",
                args.max_clients,
                args.max_per_ip
                    .map(|m| format!(" max_per_ip={m}"))
                    .unwrap_or_default()
            )],
        }
    };
    if args.quiet {
        println!("{}", report.verdict());
    } else {
        print(args.json.then_some(&invocation), "check", &report, &verdict)?;
    }
    Ok(verdict)
}
