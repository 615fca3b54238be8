//! The `ntp` subcommand: its arguments, checked, turned into settings and run as a fixed-rate run or a ramp.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use clap::Args;
use ntp_wire::symmetric_keys::SymmetricKey;

use crate::cli::{create_html, output, seconds};
use crate::clients::{client_addresses, open_client_sockets, MAX_LOOPBACK_CLIENTS};
use crate::document::{to_json, Invocation};
use crate::ntp::kernel_t1::T1Source;
use crate::ntp::report::{ramp_step_line, RAMP_TABLE_HEADER};
use crate::ntp::run::{LoadSettings, NtpLoad, RampSettings, RequestAuth};
use crate::nts_ke::handshake::KeTarget;
use crate::progress::{wanted, ProgressLines, Unit};
use crate::raw::RawFile;
use crate::start_at;
use crate::target::resolve_destination;
use crate::thresholds::{parse_duration, ThresholdArgs};
use crate::verdict::{Thresholds, Verdict};

/// Longest run or ramp step ringload accepts, seconds.
const MAX_DURATION_S: f64 = 3_600.0;
/// Highest rate ringload accepts, requests/s.
const MAX_RATE: f64 = 20_000_000.0;
/// Most steps a ramp may be given.
const MAX_RAMP_STEPS: usize = 100;
/// A ramp's growth per step.
const RAMP_FACTOR: f64 = 1.5;
/// Default rate of a fixed run and default first step of a ramp.
const DEFAULT_RATE: f64 = 10_000.0;

#[derive(Args)]
pub struct NtpArgs {
    /// Server to load, HOST:PORT (loopback only unless --allow-non-loopback).
    server: String,
    /// Requests per second (with --ramp: the first step's rate) [default: 10000].
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds of sending for a fixed-rate run (fractions allowed).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Ramp: multiply the rate by 1.5 each step until a step loses over 1 %, report the highest
    /// rate that lost at most 0.1 %.
    #[arg(long)]
    ramp: bool,
    /// Seconds per ramp step.
    #[arg(long, default_value_t = 2.0)]
    step_duration: f64,
    /// Highest rate a ramp tries.
    #[arg(long, default_value_t = 2_000_000.0)]
    max_rate: f64,
    /// Most steps a ramp runs.
    #[arg(long, default_value_t = 30)]
    max_steps: usize,
    /// Simulated clients, each a socket on its own source address (127.0.x.y on loopback).
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// First source address of the clients (client i uses base + i), for load inside a network
    /// namespace where that prefix is local (e.g. `ip route add local 198.18.0.0/16 dev lo`).
    #[arg(long)]
    source_net: Option<IpAddr>,
    /// Generator threads; the clients are dealt out among them.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Pin generator thread i to the i-th core of this comma-separated list.
    #[arg(long, value_delimiter = ',')]
    cpu: Vec<usize>,
    /// Most requests per sendmmsg (each batch leaves from one client socket).
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Microseconds a due request may wait for others to share its sendmmsg.
    #[arg(long, default_value_t = 20)]
    coalesce_us: u64,
    /// Take T1 from each request's kernel software TX timestamp instead of the clock read
    /// before sendmmsg (which is early by the send path and flatters the offset); each request
    /// is then sent on its own. Replies whose timestamp never came are counted and left out of
    /// latency and offset.
    #[arg(long)]
    kernel_t1: bool,
    /// Milliseconds to wait for late replies after the last send before counting loss.
    #[arg(long, default_value_t = 200)]
    grace_ms: u64,
    /// NTP version of the requests.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=4))]
    ntp_version: u8,
    /// Authenticate every request with this symmetric key, as chrony's key file writes it:
    /// ID:TYPE:KEY (e.g. 1:SHA1:HEX:1dc7...); every reply must carry the key's MAC.
    #[arg(long, value_name = "ID:TYPE:KEY")]
    key: Option<String>,
    /// Authenticate with NTS (RFC 8915): each generator thread makes one NTS-KE handshake
    /// with the server's address on --nts-port, then spends and renews cookies.
    #[arg(long, conflicts_with = "key", requires = "nts_ca")]
    nts: bool,
    /// The CA certificate(s) (PEM) the NTS-KE server's certificate is checked against.
    #[arg(long, value_name = "FILE")]
    nts_ca: Option<PathBuf>,
    /// The name the NTS-KE server's certificate must carry.
    #[arg(long, default_value = "localhost")]
    nts_name: String,
    /// The NTS-KE port.
    #[arg(long, default_value_t = ntp_wire::nts_ke::DEFAULT_PORT)]
    nts_port: u16,
    /// Print one JSON object (its fields are documented in loadgen/README.md).
    #[arg(long)]
    json: bool,
    /// Also write the report as one self-contained HTML page of charts and tables to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Allow a destination outside loopback (only ever your own test hosts or namespaces).
    #[arg(long)]
    allow_non_loopback: bool,
    /// Start sending at this wall-clock time, RFC 3339 UTC (2026-12-06T04:00:00Z) or Unix
    /// seconds, so that generators on several NTP-synchronised machines run together (see
    /// `ringload merge`); at most 24 h ahead, at most 1 s past.
    #[arg(long, value_name = "TIME")]
    start_at: Option<String>,
    /// A progress line on stderr every second (offered, answered, loss so far); printed
    /// without this flag when stderr is a terminal.
    #[arg(long)]
    progress: bool,
    /// Also write one CSV line per request to FILE: send_unix_ns,latency_ns,outcome
    /// (see loadgen/README.md).
    #[arg(long, value_name = "FILE")]
    raw: Option<PathBuf>,
    #[command(flatten)]
    thresholds: ThresholdArgs,
    /// Exit 1 when the 99th percentile of the server's response time (T3 - T2, the time it
    /// held each request, which NTP clients subtract from the round trip) is above DURATION.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    max_p99_server: Option<Duration>,
}

fn check_rate(value: f64, what: &str) -> anyhow::Result<f64> {
    if !(value > 0.0 && value <= MAX_RATE) {
        bail!("{what} must be above 0 and at most {MAX_RATE}/s, not {value}");
    }
    Ok(value)
}

/// A `--key` value: ID, type and key as in chrony's key file, joined by colons.
fn parse_key(spec: &str) -> anyhow::Result<SymmetricKey> {
    let mut words = spec.splitn(3, ':');
    let (Some(id), Some(type_name), Some(key)) = (words.next(), words.next(), words.next()) else {
        bail!("--key {spec}: expected ID:TYPE:KEY, e.g. 1:SHA1:HEX:1dc764e0791b11fa67ef");
    };
    SymmetricKey::from_words(id, type_name, key).map_err(|why| anyhow::anyhow!("--key: {why}"))
}

/// `ringload ntp`: the run's verdict against the thresholds given.
pub fn run_ntp(args: NtpArgs) -> anyhow::Result<Verdict> {
    let mut invocation = Invocation::begin("ntp", &args.server);
    let start_at = args
        .start_at
        .as_deref()
        .map(start_at::start_time)
        .transpose()?;
    let destination = resolve_destination(&args.server, args.allow_non_loopback)?;
    let thresholds = Thresholds {
        max_p99_server: args.max_p99_server,
        ..args.thresholds.thresholds()
    };
    if args.ramp && !thresholds.only_min_rate() {
        bail!(
            "with --ramp only --min-rate applies (to the highest rate that passed); \
             check loss and latency with a fixed-rate run at that rate"
        );
    }
    if args.clients == 0 || args.clients > MAX_LOOPBACK_CLIENTS {
        bail!("--clients must be between 1 and {MAX_LOOPBACK_CLIENTS}");
    }
    if !(1..=1024).contains(&args.batch) {
        bail!("--batch must be between 1 and 1024");
    }
    if args.coalesce_us > 10_000 {
        bail!("--coalesce-us must be at most 10000");
    }
    if args.grace_ms > 10_000 {
        bail!("--grace-ms must be at most 10000");
    }
    if !(1..=MAX_RAMP_STEPS).contains(&args.max_steps) {
        bail!("--max-steps must be between 1 and {MAX_RAMP_STEPS}");
    }
    let rate = check_rate(args.rate.unwrap_or(DEFAULT_RATE), "--rate")?;
    let duration = seconds(args.duration, MAX_DURATION_S, "--duration")?;
    let ramp = RampSettings {
        start_rate: rate,
        factor: RAMP_FACTOR,
        max_rate: check_rate(args.max_rate, "--max-rate")?,
        max_steps: args.max_steps,
        step_duration: seconds(args.step_duration, MAX_DURATION_S, "--step-duration")?,
    };
    let addresses = client_addresses(destination, args.clients, args.source_net)?;
    let sockets = open_client_sockets(&addresses).context("opening the client sockets")?;
    let auth = match (&args.key, &args.nts_ca) {
        (Some(key), _) => RequestAuth::Key(parse_key(key)?),
        (None, Some(ca)) if args.nts => RequestAuth::Nts(KeTarget::new(
            SocketAddr::new(destination.ip(), args.nts_port),
            &args.nts_name,
            ca,
        )?),
        _ => RequestAuth::None,
    };
    if args.nts && args.ntp_version != 4 {
        bail!("--nts needs NTPv4 (--ntp-version 4)");
    }
    let raw = args
        .raw
        .as_deref()
        .map(RawFile::create)
        .transpose()?
        .map(Arc::new);
    let progress = wanted(args.progress).then(|| ProgressLines::start(Unit::Requests));
    let settings = LoadSettings {
        destination,
        ntp_version: args.ntp_version,
        auth,
        batch: args.batch,
        coalesce: Duration::from_micros(args.coalesce_us),
        grace: Duration::from_millis(args.grace_ms),
        cpus: args.cpu,
        progress: progress.as_ref().map(ProgressLines::counters),
        raw: raw.clone(),
        t1_source: if args.kernel_t1 {
            T1Source::Kernel
        } else {
            T1Source::Userspace
        },
    };
    let load = NtpLoad::new(settings, sockets, args.threads)?;
    if let Some(at) = start_at {
        start_at::sleep_until(at);
        invocation.started = SystemTime::now();
    }
    let html = create_html(args.html, &invocation)?;
    if args.ramp {
        // Steps are shown as they end: on stdout as the human table, on stderr as progress
        // when stdout carries the JSON.
        let show = |line: &str| {
            if args.json {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        };
        show(&format!(
            "ringload ntp {destination} --ramp: {} clients, {} s per step",
            args.clients, args.step_duration
        ));
        show(RAMP_TABLE_HEADER);
        let report = load.ramp(&ramp, |step| show(&ramp_step_line(step)))?;
        drop(progress);
        raw.as_deref().map_or(Ok(()), RawFile::finish)?;
        let verdict = Verdict::judge(&report.measured(), &thresholds);
        if args.json {
            println!("{}", to_json(&invocation, "ramp", &report, &verdict)?);
        } else {
            println!("{}", report.summary());
        }
        if let Some(html) = html {
            html.write(&report)?;
        }
        Ok(verdict)
    } else {
        let report = load.run(rate, duration)?;
        drop(progress);
        raw.as_deref().map_or(Ok(()), RawFile::finish)?;
        let verdict = Verdict::judge(&report.measured(), &thresholds);
        output(
            args.json.then_some(&invocation),
            "run",
            html,
            &report,
            &verdict,
        )?;
        Ok(verdict)
    }
}
