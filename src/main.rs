//! The `ringd` daemon: reads the configuration, starts the services, stops on SIGINT/SIGTERM.

use std::io::IsTerminal;
use std::net::SocketAddr;
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
use ringd::confinement::{self, FtpRoots};
use ringd::control::paths;
use ringd::control::server::ControlServer;
use ringd::control::state::{ControlState, SyncControl};
use ringd::ftp::context::SessionContext;
use ringd::ftp::users::VirtualUsers;
use ringd::metrics::NtpTotals;
use ringd::privileges::{self, Needs, Role};
use ringd::shard::ftp::service::FtpService;
use ringd::shard::ntp::service::{NtpService, ServiceOptions};
use ringd::sync_service::SyncService;
use ringd::sys::terminal::read_password_without_echo;
use ringd::sys::{accounts, cpu, landlock};

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

/// Where ringctl's socket goes; `None` for none (`/`, as chrony's `bindcmdaddress /`).
fn control_socket_path(cli: &Cli, plan: &Plan) -> Option<std::path::PathBuf> {
    let path = cli
        .control_socket
        .clone()
        .or_else(|| plan.ntp.as_ref().and_then(|c| c.control_socket.clone()))
        .unwrap_or_else(|| paths::default_socket(plan.demo));
    (path != Path::new("/")).then_some(path)
}

/// Starts the control socket for ringctl. ringd serves on without it when it cannot be
/// created: status queries must never cost the service.
fn start_control(
    path: Option<&Path>,
    ntp: Option<&NtpService>,
    sync: Option<&SyncService>,
    ftp: Option<&FtpService>,
) -> Option<ControlServer> {
    let Some(path) = path else {
        info!("no control socket (`/` given): ringctl cannot reach this ringd");
        return None;
    };
    let state = ControlState {
        sync: sync.map(|service| Arc::new(service.handle()) as Arc<dyn SyncControl + Send + Sync>),
        ntp_counters: ntp.map(NtpService::counters).unwrap_or_default(),
        client_logs: ntp.map(NtpService::client_logs).unwrap_or_default(),
        ftp_sessions: ftp.map(FtpService::sessions),
    };
    match ControlServer::start(path, state) {
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

/// A port another process holds is an error at start, not a share (SO_REUSEPORT would let a
/// second ringd take half of the first one's clients).
fn claim_ports(plan: &Plan, ftp: Option<&SessionContext>) -> Result<(), String> {
    if let Some(config) = &plan.ntp {
        NtpService::claim_ports(config).map_err(|err| err.to_string())?;
    }
    if let Some(context) = ftp {
        FtpService::claim_ports(context).map_err(|err| err.to_string())?;
    }
    Ok(())
}

/// The addresses a service listens on, comma-separated, or `none` when it does not run.
fn listen_list(addrs: Option<&[SocketAddr]>) -> String {
    match addrs {
        Some(addrs) if !addrs.is_empty() => addrs
            .iter()
            .map(SocketAddr::to_string)
            .collect::<Vec<_>>()
            .join(","),
        _ => "none".to_string(),
    }
}

/// What the running configuration needs of root's rights.
fn privilege_needs(cli: &Cli, plan: &Plan, ftp: Option<&SessionContext>) -> Needs {
    let root = ringd::sys::privileges::started_as_root();
    let below_1024 = |port: u16| port != 0 && port < 1024;
    let ftp_config = ftp.map(|context| &*context.config);
    let privileged_ports = plan
        .ntp
        .as_ref()
        .map(|c| c.port)
        .into_iter()
        .chain(ftp_config.map(|c| c.listen_port))
        .filter(|&port| below_1024(port))
        .collect();
    Needs {
        root,
        privileged_ports,
        ntp: plan.ntp.is_some(),
        controls_clock: cli.control_clock
            && plan
                .ntp
                .as_ref()
                .is_some_and(|c| !c.upstream.sources.is_empty()),
        ntp_user: cli
            .user
            .clone()
            .or_else(|| plan.ntp.as_ref().and_then(|c| c.user.clone())),
        ftp: ftp.is_some(),
        ftp_switches_users: root && ftp_config.is_some_and(|c| !c.run_as_launching_user),
        ftp_chowns: ftp_config.is_some_and(|c| c.chown_uploads || c.atomic_uploads),
        ftp_data_port_below_1024: ftp_config
            .filter(|c| c.connect_from_port_20 && below_1024(c.ftp_data_port))
            .map(|c| c.ftp_data_port),
        ftp_system_accounts: ftp
            .is_some_and(|context| context.config.local_enable && context.virtual_users.is_none()),
        nopriv_user: ftp_config.map(|c| c.nopriv_user.clone()),
    }
}

/// uid, gid and groups of a system account, for becoming it.
fn account_ids(name: &str) -> Result<(u32, u32, Vec<u32>), String> {
    let account = accounts::user_by_name(name)
        .map_err(|err| format!("cannot look user {name} up: {err}"))?
        .ok_or_else(|| {
            format!("user {name} (chrony.conf `user` or -u) is not a user of this system")
        })?;
    let groups = accounts::group_ids(name, account.gid).unwrap_or_else(|_| vec![account.gid]);
    Ok((account.uid, account.gid, groups))
}

/// Gives up what the plan does not keep and confines the process to its files, before any
/// thread starts.
fn give_up_rights(
    needs: &Needs,
    plan: &Plan,
    ftp: Option<&SessionContext>,
    control_socket: Option<&Path>,
) -> Result<(), String> {
    let privilege_plan = privileges::Plan::from_needs(needs);
    let process_user = privilege_plan
        .process_user
        .as_deref()
        .map(account_ids)
        .transpose()?;
    let thread_user = privilege_plan.thread_user.as_deref().and_then(|name| {
        match accounts::user_by_name(name) {
            Ok(Some(account)) => Some((account.uid, account.gid)),
            _ => {
                warn!("nopriv_user={name} is not a user of this system: NTP shards and the control thread stay root, without capabilities");
                None
            }
        }
    });
    privileges::prepare(privilege_plan, process_user, thread_user)
        .map_err(|err| format!("cannot give up root's rights: {err}"))?;
    if let Some(socket) = control_socket.and_then(Path::parent) {
        // The directory must exist before it can be a Landlock rule.
        let _ = std::fs::create_dir_all(socket);
    }
    let roots = ftp.map(|context| FtpRoots {
        config: &context.config,
        anonymous_root: context.anonymous_root(),
        guest_home: context.guest_home(),
    });
    let rules = confinement::rules(plan.ntp.as_ref(), roots, control_socket);
    match landlock::confine(&rules) {
        Ok(landlock::Confinement::Enforced { abi, .. })
        | Ok(landlock::Confinement::Partial { abi, .. }) => {
            info!("Landlock: ringd can reach only the files its configuration names (ABI {abi})");
        }
        Ok(landlock::Confinement::Unsupported { reason }) => {
            warn!("Landlock is not available here ({reason}): ringd runs without that second wall");
        }
        Err(err) => return Err(err.to_string()),
    }
    Ok(())
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

    let needs = privilege_needs(&cli, &plan, ftp_context.as_deref());
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
        println!("# Privileges");
        print!("{}", privileges::Plan::from_needs(&needs));
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
    let control_socket = control_socket_path(&cli, &plan);
    if let Err(err) = claim_ports(&plan, ftp_context.as_deref()) {
        error!("{err}");
        return ExitCode::FAILURE;
    }
    if let Err(err) = give_up_rights(
        &needs,
        &plan,
        ftp_context.as_deref(),
        control_socket.as_deref(),
    ) {
        error!("{err}");
        return ExitCode::FAILURE;
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
    let control = start_control(
        control_socket.as_deref(),
        ntp.as_ref(),
        sync.as_ref(),
        ftp.as_ref(),
    );
    // Everything listens: the main thread keeps nothing of root's rights but its uid.
    privileges::enter_or_warn(Role::Main);
    // Tests and scripts wait for this line and read the bound addresses from it (port 0 picks
    // a free port): from here on, every thread holds only its rights.
    info!(
        "ready: every service listens and every thread keeps only the rights it needs; ntp={} ftp={}",
        listen_list(ntp.as_ref().map(|service| &service.local_addrs[..])),
        listen_list(ftp.as_ref().map(|service| &service.local_addrs[..])),
    );

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
