//! The `nts-ke` subcommand: its arguments, checked, turned into settings and run.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;

use crate::cli::{print, seconds};
use crate::clients::client_addresses;
use crate::document::Invocation;
use crate::nts_ke::handshake::KeTarget;
use crate::nts_ke::load::{run_ke_load, KeLoadSettings};
use crate::target::resolve_destination;
use crate::thresholds::ThresholdArgs;
use crate::verdict::Verdict;

/// Longest run ringload accepts, seconds.
const MAX_DURATION_S: f64 = 3_600.0;
/// Most concurrent clients (one thread each).
const MAX_CLIENTS: usize = 2_000;
/// Most exchanges `--count` may ask for.
const MAX_COUNT: u64 = 100_000_000;

#[derive(Args)]
pub struct NtsKeArgs {
    /// NTS-KE server to load, HOST:PORT (loopback only unless --allow-non-loopback).
    server: String,
    /// Concurrent clients, each from its own 127.0.x.y address, each making one exchange
    /// after another: TCP connect, a full TLS 1.3 handshake (no resumption) with ALPN
    /// ntske/1, the request, the answer read until the server closes, checked (NTPv4,
    /// AES-SIV-CMAC-256, 8 cookies).
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Seconds during which exchanges start (fractions allowed); with --count, the most the
    /// run may take.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many exchanges in all (or at --duration, whichever comes first).
    #[arg(long)]
    count: Option<u64>,
    /// The CA certificate(s) (PEM) the server's certificate is checked against.
    #[arg(long, value_name = "FILE")]
    nts_ca: PathBuf,
    /// The name the server's certificate must carry.
    #[arg(long, default_value = "localhost")]
    nts_name: String,
    /// First source address (client i uses base + i), for servers in a network namespace.
    #[arg(long)]
    source_net: Option<IpAddr>,
    /// Print one JSON object (its fields are documented in loadgen/README.md).
    #[arg(long)]
    json: bool,
    /// Allow a destination outside loopback (only ever your own test hosts or namespaces).
    #[arg(long)]
    allow_non_loopback: bool,
    #[command(flatten)]
    thresholds: ThresholdArgs,
}

/// `ringload nts-ke`: the run's verdict against the thresholds given.
pub fn run_nts_ke(args: NtsKeArgs) -> anyhow::Result<Verdict> {
    let invocation = Invocation::begin("nts-ke", &args.server);
    let destination: SocketAddr = resolve_destination(&args.server, args.allow_non_loopback)?;
    if !(1..=MAX_CLIENTS).contains(&args.clients) {
        bail!("--clients must be between 1 and {MAX_CLIENTS}");
    }
    if let Some(count) = args.count {
        if !(1..=MAX_COUNT).contains(&count) {
            bail!("--count must be between 1 and {MAX_COUNT}");
        }
    }
    let settings = KeLoadSettings {
        target: KeTarget::new(destination, &args.nts_name, &args.nts_ca)?,
        sources: client_addresses(destination, args.clients, args.source_net)?,
        duration: seconds(args.duration, MAX_DURATION_S, "--duration")?,
        count: args.count,
    };
    let report = run_ke_load(&settings).context("starting the client threads")?;
    let verdict = Verdict::judge(&report.measured(), &args.thresholds.thresholds());
    print(
        args.json.then_some(&invocation),
        "handshakes",
        &report,
        &verdict,
    )?;
    Ok(verdict)
}
