//! The `ringd` daemon: reads the configuration, starts the services, stops on SIGINT/SIGTERM.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tracing::{error, info, warn};

use ringd::cli::{Cli, Tool};
use ringd::config::{self, FtpConfig, NtpConfig};
use ringd::control::paths;
use ringd::control::server::ControlServer;
use ringd::control::state::{ControlState, SyncControl};
use ringd::ftp::context::SessionContext;
use ringd::ftp::users::{read_password_without_echo, VirtualUsers};
use ringd::metrics::NtpTotals;
use ringd::shard::ftp_service::FtpService;
use ringd::shard::ntp_service::{NtpService, ServiceOptions};
use ringd::shard::sync_service::SyncService;
use ringd::sys::cpu;

/// The configurations to serve: from the files given, or the built-in demo when none is.
struct Plan {
    ntp: Option<NtpConfig>,
    ftp: Option<FtpConfig>,
    demo: bool,
}

fn plan(cli: &Cli) -> Result<Plan, String> {
    let demo = cli.ntp_conf.is_none() && cli.ftp_conf.is_none();
    let ntp = match &cli.ntp_conf {
        Some(path) => Some(config::chrony::parse_file(path).map_err(|e| e.to_string())?),
        None if demo => Some(config::chrony::demo()),
        None => None,
    };
    let ftp = match &cli.ftp_conf {
        Some(path) => Some(config::vsftpd::parse_file(path).map_err(|e| e.to_string())?),
        None if demo => {
            let here = std::env::current_dir()
                .map_err(|e| format!("cannot read the current directory: {e}"))?;
            Some(config::vsftpd::demo(&here))
        }
        None => None,
    };
    Ok(Plan { ntp, ftp, demo })
}

/// Starts the control socket for ringctl. ringd serves on without it when it cannot be
/// created: status queries must never cost the service.
fn start_control(
    cli: &Cli,
    plan: &Plan,
    ntp: Option<&NtpService>,
    sync: Option<&SyncService>,
    ftp: Option<&FtpService>,
) -> Option<ControlServer> {
    let path = cli
        .control_socket
        .clone()
        .or_else(|| plan.ntp.as_ref().and_then(|c| c.control_socket.clone()))
        .unwrap_or_else(|| paths::default_socket(plan.demo));
    if path == Path::new("/") {
        info!("no control socket (`/` given): ringctl cannot reach this ringd");
        return None;
    }
    let state = ControlState {
        sync: sync.map(|service| Arc::new(service.handle()) as Arc<dyn SyncControl + Send + Sync>),
        ntp_counters: ntp.map(NtpService::counters).unwrap_or_default(),
        client_logs: ntp.map(NtpService::client_logs).unwrap_or_default(),
        ftp_sessions: ftp.map(FtpService::sessions),
    };
    match ControlServer::start(&path, state) {
        Ok(server) => {
            info!("control socket on {}", path.display());
            Some(server)
        }
        Err(err) => {
            warn!("{err}");
            None
        }
    }
}

fn ftp_passwd(file: &Path, name: &str) -> ExitCode {
    // Before asking for a password: a name that cannot be stored is refused whatever it is.
    if let Err(err) = VirtualUsers::check_name(name) {
        error!("{err}");
        return ExitCode::FAILURE;
    }
    let mut users = match VirtualUsers::load(file) {
        Ok(users) => users,
        Err(ringd::ftp::users::UsersError::File(err)) if err.is_not_found() => {
            VirtualUsers::empty()
        }
        Err(err) => {
            error!("{err}");
            return ExitCode::FAILURE;
        }
    };
    let password = match read_password_without_echo(&format!("Password for {name}: ")) {
        Ok(password) => password,
        Err(err) => {
            error!("cannot read the password: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(err) = users.set(name, &password) {
        error!("{err}");
        return ExitCode::FAILURE;
    }
    if let Err(err) = users.save(file) {
        error!("cannot write {}: {err}", file.display());
        return ExitCode::FAILURE;
    }
    info!("{}: password of {name} set", file.display());
    ExitCode::SUCCESS
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
    if let Some(Tool::FtpPasswd { file, name }) = &cli.command {
        return ftp_passwd(file, name);
    }

    let plan = match plan(&cli) {
        Ok(plan) => plan,
        Err(err) => {
            error!("{err}");
            return ExitCode::FAILURE;
        }
    };
    // Loading the FTP context reads the files the configuration names, so --check sees their
    // errors too.
    let ftp_context = match plan.ftp.clone().map(SessionContext::load).transpose() {
        Ok(context) => context.map(Arc::new),
        Err(err) => {
            let origin = plan
                .ftp
                .as_ref()
                .map(|c| c.origin.clone())
                .unwrap_or_default();
            error!("{origin}: {err}");
            return ExitCode::FAILURE;
        }
    };

    if cli.check {
        if let Some(config) = &plan.ntp {
            println!("# NTP settings in effect ({})", config.origin);
            print!("{config}");
        }
        if let Some(config) = &plan.ftp {
            println!(
                "# FTP settings in effect ({}), options that differ from vsftpd's defaults",
                config.origin
            );
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
    if plan.demo {
        info!("no configuration given: running the built-in demo (NTP on 127.0.0.1:1123 at local stratum 10 for 127.0.0.0/8; anonymous read-only FTP of the current directory on 127.0.0.1:2121)");
    }

    let mut ntp = None;
    let mut sync = None;
    if let Some(config) = &plan.ntp {
        if let Some(note) = config.upstream_note() {
            warn!("{note}");
        }
        let options = ServiceOptions {
            shards,
            backend: cli.io.into(),
            wake_interval: Duration::from_micros(u64::from(cli.ntp_wake_interval)),
        };
        match NtpService::start(config, options) {
            Ok(service) => ntp = Some(service),
            Err(err) => {
                error!("{err}");
                return ExitCode::FAILURE;
            }
        }
        let upstream = ntp.as_ref().filter(|_| !config.upstream.sources.is_empty());
        if let Some(service) = upstream {
            match SyncService::start(config, service.clock(), cli.control_clock) {
                Ok(service) => sync = Some(service),
                Err(err) => {
                    error!("cannot start synchronising: {err}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    let mut ftp = None;
    if let Some(context) = ftp_context {
        match FtpService::start(context, shards) {
            Ok(service) => ftp = Some(service),
            Err(err) => {
                error!("{err}");
                return ExitCode::FAILURE;
            }
        }
    }
    let control = start_control(&cli, &plan, ntp.as_ref(), sync.as_ref(), ftp.as_ref());

    let mut signals = signals;
    if let Some(signal) = signals.forever().next() {
        info!("signal {signal} received: shutting down");
    }
    if let Some(mut control) = control {
        control.stop();
    }
    if let Some(mut service) = ftp {
        service.stop();
        info!("FTP stopped");
    }
    if let Some(mut service) = sync {
        service.stop();
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
