//! The `ringd` daemon: reads the configuration, starts the services, stops on SIGINT/SIGTERM.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tracing::{error, info, warn};

use ringd::cli::Cli;
use ringd::config::{self, NtpConfig};
use ringd::metrics::NtpTotals;
use ringd::shard::ntp_service::{NtpService, ServiceOptions};
use ringd::sys::cpu;

fn load_ntp_config(cli: &Cli) -> Result<Option<NtpConfig>, config::ConfigError> {
    match (&cli.ntp_conf, &cli.ftp_conf) {
        (Some(path), _) => config::chrony::parse_file(path).map(Some),
        (None, None) => Ok(Some(config::chrony::demo())),
        (None, Some(_)) => Ok(None),
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();

    if let Some(path) = &cli.ftp_conf {
        error!(
            "{}: the FTP service is not built yet in this version of ringd; run without --ftp-conf",
            path.display()
        );
        return ExitCode::FAILURE;
    }
    let ntp_config = match load_ntp_config(&cli) {
        Ok(config) => config,
        Err(err) => {
            error!("{err}");
            return ExitCode::FAILURE;
        }
    };

    if cli.check {
        if let Some(config) = &ntp_config {
            println!("# NTP settings in effect ({})", config.origin);
            print!("{config}");
        }
        return ExitCode::SUCCESS;
    }

    let signals = match Signals::new([SIGINT, SIGTERM]) {
        Ok(signals) => signals,
        Err(err) => {
            error!("cannot install the SIGINT/SIGTERM handlers: {err}");
            return ExitCode::FAILURE;
        }
    };

    let shards = match cli.shards {
        Some(n) => usize::from(n),
        None => cpu::allowed_cpus().map(|c| c.len()).unwrap_or(1).max(1),
    };
    let mut ntp = None;
    if let Some(config) = &ntp_config {
        if cli.ntp_conf.is_none() {
            info!("no configuration given: running the built-in demo (NTP on 127.0.0.1:1123, local stratum 10, clients from 127.0.0.0/8); the FTP service is not built yet");
        }
        if let Some(note) = config.upstream_note() {
            warn!("{note}");
        }
        match NtpService::start(
            config,
            ServiceOptions {
                shards,
                backend: cli.io.into(),
            },
        ) {
            Ok(service) => ntp = Some(service),
            Err(err) => {
                error!("{err}");
                return ExitCode::FAILURE;
            }
        }
    }

    let mut signals = signals;
    if let Some(signal) = signals.forever().next() {
        info!("signal {signal} received: shutting down");
    }
    if let Some(mut service) = ntp {
        let per_shard = service.stop();
        let mut total = NtpTotals::default();
        for (index, shard) in per_shard.iter().enumerate() {
            info!("NTP shard {index}: {shard}");
            total.add(shard);
        }
        info!("NTP total: {total}");
    }
    ExitCode::SUCCESS
}
