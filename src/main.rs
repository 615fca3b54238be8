//! The `ringd` daemon: reads the configuration, starts the services, stops on SIGINT/SIGTERM.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGXFSZ};
use signal_hook::iterator::Signals;
use tracing::{error, info, warn};

use ringd::cli::{Cli, Tool};
use ringd::config::{self, FtpConfig, NtpConfig};
use ringd::confinement::{self, FtpRoots};
use ringd::control::paths;
use ringd::control::server::ControlServer;
use ringd::control::state::{ControlState, Lifecycle, LifecycleHandler, SyncControl};
use ringd::ftp::context::SessionContext;
use ringd::ftp::users::VirtualUsers;
use ringd::metrics::endpoint::MetricsEndpoint;
use ringd::metrics::exposition::{self, FtpGauges, MetricSources};
use ringd::metrics::NtpTotals;
use ringd::output_files;
use ringd::privileges::{self, Needs, Role};
use ringd::service_manager::{self, Notification, NotifySocket};
use ringd::shard::ftp::host_configs;
use ringd::shard::ftp::service::{FtpService, FtpStartError};
use ringd::shard::listen_port::ListenError;
use ringd::shard::ntp::service::{NtpService, ServiceOptions, StartError};
use ringd::sync_service::SyncService;
use ringd::sys::landlock::Rule;
use ringd::sys::terminal::read_password_without_echo;
use ringd::sys::{accounts, cpu, landlock};

/// SIGHUP reloads, SIGUSR1 reopens the logs, SIGTERM, SIGINT and SIGQUIT stop cleanly,
/// SIGUSR2 and SIGXFSZ are logged and ignored (a write past `ulimit -f` then fails with
/// EFBIG instead of killing ringd).
const HANDLED_SIGNALS: [i32; 7] = [SIGHUP, SIGUSR1, SIGUSR2, SIGTERM, SIGINT, SIGQUIT, SIGXFSZ];

/// How often the status line systemd shows is refreshed.
const STATUS_INTERVAL: Duration = Duration::from_secs(10);

/// Sends `notification` to systemd, if ringd runs under it; a failure is only logged.
fn tell_systemd(socket: Option<&NotifySocket>, notification: &Notification) {
    if let Err(err) = service_manager::notify(socket, notification) {
        warn!("cannot notify systemd ({notification:?}): {err}");
    }
}

/// How long `ringctl reload` waits for the main thread: a reload reads files and starts no
/// service, so this is generous.
const LIFECYCLE_WAIT: Duration = Duration::from_secs(30);

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

/// `--control-group`'s id: a group of the group database by name, or a number.
fn control_group(cli: &Cli) -> Result<Option<u32>, String> {
    let Some(group) = &cli.control_group else {
        return Ok(None);
    };
    if let Ok(gid) = group.parse::<u32>() {
        return Ok(Some(gid));
    }
    match accounts::group_id_by_name(group) {
        Ok(Some(gid)) => Ok(Some(gid)),
        Ok(None) => Err(format!(
            "--control-group {group}: no such group in the group database; create it \
             (groupadd --system {group}) or name another"
        )),
        Err(err) => Err(format!("--control-group {group}: {err}")),
    }
}

/// Starts the control socket for ringctl. ringd serves on without it when it cannot be
/// created: status queries must never cost the service. `reload` and `cyclelogs` go to the
/// main thread through `events`.
fn start_control(
    path: Option<&Path>,
    group: Option<u32>,
    ntp: Option<&NtpService>,
    sync: Option<&SyncService>,
    ftp: Option<&FtpService>,
    events: mpsc::Sender<Event>,
) -> Option<ControlServer> {
    let Some(path) = path else {
        info!("no control socket (`/` given): ringctl cannot reach this ringd");
        return None;
    };
    let lifecycle: LifecycleHandler = Arc::new(move |request| {
        let (answer, outcome) = mpsc::channel();
        events
            .send(Event::Control(request, answer))
            .map_err(|_| "ringd is stopping".to_string())?;
        outcome
            .recv_timeout(LIFECYCLE_WAIT)
            .map_err(|_| format!("ringd did not answer within {LIFECYCLE_WAIT:?}"))?
    });
    let state = ControlState {
        sync: sync.map(|service| Arc::new(service.handle()) as Arc<dyn SyncControl + Send + Sync>),
        served_clock: ntp.map(NtpService::clock),
        ntp_counters: ntp.map(NtpService::counters).unwrap_or_default(),
        client_logs: ntp.map(NtpService::client_logs).unwrap_or_default(),
        ftp_sessions: ftp.map(FtpService::sessions),
        lifecycle: Some(lifecycle),
    };
    match ControlServer::start(path, group, state) {
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

/// What the running configuration needs of root's rights; `root`: whether ringd was started
/// as root (asked once, at start: it gives up root's rights afterwards).
fn privilege_needs(cli: &Cli, plan: &Plan, ftp: Option<&SessionContext>, root: bool) -> Needs {
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

/// The files a reload reads again: the configuration files given, and those the FTP
/// configuration names.
fn reread_files(cli: &Cli, ftp: Option<&SessionContext>) -> Vec<PathBuf> {
    cli.ntp_conf
        .iter()
        .chain(cli.ftp_conf.iter())
        .cloned()
        .chain(ftp.into_iter().flat_map(|c| c.files_read().iter().cloned()))
        .collect()
}

/// The Landlock rules of a configuration.
fn confinement_rules(
    cli: &Cli,
    plan: &Plan,
    ftp: Option<&SessionContext>,
    control_socket: Option<&Path>,
) -> Vec<Rule> {
    let per_host = ftp.map(host_configs::usable).unwrap_or_default();
    let roots: Vec<FtpRoots> = ftp
        .into_iter()
        .chain(&per_host)
        .map(|context| FtpRoots {
            config: &context.config,
            anonymous_root: context.anonymous_root(),
            guest_home: context.guest_home(),
        })
        .collect();
    confinement::rules(
        plan.ntp.as_ref(),
        &roots,
        control_socket,
        &reread_files(cli, ftp),
        NotifySocket::from_env()
            .as_ref()
            .and_then(NotifySocket::path),
    )
}

/// Gives up what `privilege_plan` does not keep and confines the process to `rules`, before
/// any thread starts.
fn give_up_rights(
    privilege_plan: &privileges::Plan,
    rules: &[Rule],
    control_socket: Option<&Path>,
    log_dir: Option<&Path>,
) -> Result<(), String> {
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
    if let Some(dir) = log_dir {
        let clock_user = process_user
            .as_ref()
            .map(|(uid, gid, _)| (*uid, *gid))
            .or(thread_user);
        create_log_dir(dir, clock_user);
    }
    privileges::prepare(privilege_plan.clone(), process_user, thread_user)
        .map_err(|err| format!("cannot give up root's rights: {err}"))?;
    if let Some(socket) = control_socket.and_then(Path::parent) {
        // The directory must exist before it can be a Landlock rule.
        let _ = std::fs::create_dir_all(socket);
    }
    match landlock::confine(rules) {
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

/// Creates chrony.conf's `logdir` when it is missing, as chronyd does: mode 0750, owned by
/// the user the sync thread writes as. Like chronyd, a failure is logged and ringd goes on
/// without the files.
fn create_log_dir(dir: &Path, owner: Option<(u32, u32)>) {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return;
    }
    let created = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
        .and_then(|()| match owner {
            Some((uid, gid)) => std::os::unix::fs::chown(dir, Some(uid), Some(gid)),
            None => Ok(()),
        });
    if let Err(err) = created {
        warn!(
            "cannot create logdir {}: {err}; chrony's log files will not be written",
            dir.display()
        );
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

    let started_as_root = ringd::sys::privileges::started_as_root();
    let needs = privilege_needs(&cli, &plan, ftp_context.as_deref(), started_as_root);
    if cli.check {
        // The certificate and key too: a start would fail on them.
        if let Some(config) = &plan.ftp {
            if let Err(err) = ringd::shard::ftp::tls::TlsServer::load(config) {
                error!("{}: FTP over TLS (ssl_enable=YES): {err}", config.origin);
                return ExitCode::FAILURE;
            }
        }
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

    // Every signal a daemon is sent has a meaning (docs/operations.md); none ends ringd
    // without a log line.
    let signals = match Signals::new(HANDLED_SIGNALS) {
        Ok(signals) => signals,
        Err(err) => {
            error!("cannot install the signal handlers: {err}");
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
    let control_group = match control_group(&cli) {
        Ok(group) => group,
        Err(err) => {
            error!("{err}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(err) = claim_ports(&plan, ftp_context.as_deref()) {
        error!("{err}");
        return ExitCode::FAILURE;
    }
    let metrics_listener = match cli.metrics_listen.map(MetricsEndpoint::bind).transpose() {
        Ok(listener) => listener,
        Err(err) => {
            error!(
                "cannot listen for metrics on {}: {err}",
                cli.metrics_listen
                    .map(|a| a.to_string())
                    .unwrap_or_default()
            );
            return ExitCode::FAILURE;
        }
    };
    let privilege_plan = privileges::Plan::from_needs(&needs);
    let rules = confinement_rules(
        &cli,
        &plan,
        ftp_context.as_deref(),
        control_socket.as_deref(),
    );
    let log_dir = plan.ntp.as_ref().and_then(|ntp| ntp.logs.active_dir());
    if let Err(err) = give_up_rights(&privilege_plan, &rules, control_socket.as_deref(), log_dir) {
        error!("{err}");
        return ExitCode::FAILURE;
    }

    let mut ntp = None;
    let mut sync = None;
    if let Some(config) = &plan.ntp {
        for warning in config.start_up_warnings() {
            warn!("{warning}");
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
    if let Some(context) = &ftp_context {
        for warning in context.config.start_up_warnings() {
            warn!("{warning}");
        }
        match FtpService::start(Arc::clone(context), shards) {
            Ok(service) => ftp = Some(service),
            Err(err) => {
                error!("{err}");
                return ExitCode::FAILURE;
            }
        }
    }
    let (events, event_receiver) = mpsc::channel();
    let control = start_control(
        control_socket.as_deref(),
        control_group,
        ntp.as_ref(),
        sync.as_ref(),
        ftp.as_ref(),
        events.clone(),
    );
    let metrics = match metrics_listener {
        Some(listener) => {
            let sources = MetricSources {
                ntp: ntp.as_ref().map(NtpService::counters).unwrap_or_default(),
                ftp: ftp
                    .as_ref()
                    .map(|service| Arc::new(service.connection_limits()) as Arc<dyn FtpGauges>),
            };
            match MetricsEndpoint::start(listener, exposition::registry(sources)) {
                Ok(endpoint) => Some(endpoint),
                Err(err) => {
                    error!("cannot start the metrics endpoint: {err}");
                    return ExitCode::FAILURE;
                }
            }
        }
        None => None,
    };
    if let Err(err) = forward_signals(signals, events) {
        error!("{err}");
        return ExitCode::FAILURE;
    }
    // Everything listens: the main thread keeps of root's rights only what a reload that
    // changes a listening address needs.
    privileges::enter_or_warn(Role::Main);
    // Tests and scripts wait for this line and read the bound addresses from it (port 0 picks
    // a free port): from here on, every thread holds only its rights.
    info!(
        "ready: every service listens and every thread keeps only the rights it needs; ntp={} nts-ke={} ftp={} metrics={}",
        listen_list(ntp.as_ref().map(|service| &service.local_addrs[..])),
        listen_list(ntp.as_ref().and_then(NtpService::nts_ke_addrs)),
        listen_list(ftp.as_ref().map(|service| &service.local_addrs[..])),
        metrics.as_ref().map_or("none".to_string(), |endpoint| endpoint.local_addr.to_string()),
    );

    let notify_socket = NotifySocket::from_env();
    let ready = Notification::Ready {
        status: format!(
            "serving NTP on {}, FTP on {}",
            listen_list(ntp.as_ref().map(|service| &service.local_addrs[..])),
            listen_list(ftp.as_ref().map(|service| &service.local_addrs[..])),
        ),
    };
    tell_systemd(notify_socket.as_ref(), &ready);
    let mut running = Running {
        cli: &cli,
        started_as_root,
        plan,
        control_socket,
        rules,
        privilege_plan,
        ntp,
        sync,
        ftp,
        notify_socket,
    };
    running.serve_until_stopped(&event_receiver);
    tell_systemd(running.notify_socket.as_ref(), &Notification::Stopping);
    if let Some(mut control) = control {
        control.stop();
    }
    if let Some(mut metrics) = metrics {
        metrics.stop();
    }
    running.stop();
    ExitCode::SUCCESS
}

/// What reaches the main thread while ringd serves.
enum Event {
    Signal(i32),
    /// `ringctl reload` or `ringctl cyclelogs`, with where the outcome goes.
    Control(Lifecycle, mpsc::Sender<Result<String, String>>),
}

/// Hands the signals ringd acts on to the main thread as events, from a thread of its own.
fn forward_signals(mut signals: Signals, events: mpsc::Sender<Event>) -> Result<(), String> {
    // Waiting for signals needs none of root's rights.
    privileges::spawn("signals".into(), Role::Main, move || {
        for signal in signals.forever() {
            if events.send(Event::Signal(signal)).is_err() {
                return;
            }
        }
    })
    .map(drop)
    .map_err(|err| format!("cannot start the signal thread: {err}"))
}

/// The services as they run, and what a reload compares a new configuration with.
struct Running<'a> {
    cli: &'a Cli,
    started_as_root: bool,
    plan: Plan,
    control_socket: Option<PathBuf>,
    /// The Landlock rules and the rights ringd kept at start: a reload cannot widen them.
    rules: Vec<Rule>,
    privilege_plan: privileges::Plan,
    ntp: Option<NtpService>,
    sync: Option<SyncService>,
    ftp: Option<FtpService>,
    /// systemd's, under a `Type=notify` unit.
    notify_socket: Option<NotifySocket>,
}

impl Running<'_> {
    /// Acts on signals and control requests until SIGTERM, SIGINT or SIGQUIT; under systemd,
    /// refreshes the status line between them.
    fn serve_until_stopped(&mut self, events: &mpsc::Receiver<Event>) {
        loop {
            let event = match events.recv_timeout(STATUS_INTERVAL) {
                Ok(event) => event,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if self.notify_socket.is_some() {
                        let status = Notification::Status(self.status_line());
                        tell_systemd(self.notify_socket.as_ref(), &status);
                    }
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            };
            match event {
                Event::Signal(SIGHUP) => {
                    info!("SIGHUP: reloading the configuration and reopening the logs");
                    let _ = self.reload_and_report();
                }
                Event::Signal(SIGUSR1) => {
                    info!("SIGUSR1: reopening the logs");
                    let _ = cycle_logs_and_report();
                }
                Event::Signal(SIGUSR2) => {
                    info!("SIGUSR2 ignored (SIGHUP reloads, SIGUSR1 reopens the logs)");
                }
                Event::Signal(SIGXFSZ) => warn!(
                    "SIGXFSZ: a write went past the file size limit (ulimit -f) and failed; ringd goes on"
                ),
                Event::Signal(signal) => {
                    info!("signal {signal} received: shutting down");
                    return;
                }
                Event::Control(Lifecycle::Reload, answer) => {
                    let _ = answer.send(self.reload_and_report());
                }
                Event::Control(Lifecycle::CycleLogs, answer) => {
                    let _ = answer.send(cycle_logs_and_report());
                }
            }
        }
    }

    /// The counters `systemctl status` shows.
    fn status_line(&self) -> String {
        let mut parts = Vec::new();
        if let Some(ntp) = &self.ntp {
            let mut total = NtpTotals::default();
            for counters in ntp.counters() {
                total.add(&counters.totals());
            }
            parts.push(format!(
                "NTP: {} answered, {} dropped",
                total.answered,
                total.dropped_total()
            ));
        }
        if let Some(ftp) = &self.ftp {
            parts.push(format!("FTP: {} sessions", ftp.active_sessions()));
        }
        parts.join("; ")
    }

    /// Reloads both files and reopens the logs, logging the outcome.
    fn reload_and_report(&mut self) -> Result<String, String> {
        match self.reload() {
            Ok(notes) => {
                for note in &notes {
                    warn!("reload: {note}");
                }
                let logs = cycle_logs_and_report();
                info!("reload: the new configuration is in force for new sessions and requests");
                logs.map(|_| "configuration reloaded".to_string())
            }
            Err(err) => {
                error!("reload refused, the running configuration stays: {err}");
                Err(err)
            }
        }
    }

    /// Reads both configuration files again and puts into force what can change while ringd
    /// runs; the notes say what a restart is needed for. A file with an error, or a
    /// configuration needing rights or files ringd gave up at start, changes nothing.
    fn reload(&mut self) -> Result<Vec<String>, String> {
        let hint = |err: String| {
            if err.contains("Permission denied") {
                format!("{err} (after start ringd reads only the directories of the files its configuration named then: restart it to use files elsewhere)")
            } else {
                err
            }
        };
        let plan = plan(self.cli).map_err(hint)?;
        let ftp_context = match plan.ftp.clone().map(SessionContext::load).transpose() {
            Ok(context) => context.map(Arc::new),
            Err(err) => {
                let origin = plan.ftp.as_ref().map(|c| c.origin.clone());
                return Err(hint(format!("{}: {err}", origin.unwrap_or_default())));
            }
        };
        let privilege_plan = privileges::Plan::from_needs(&privilege_needs(
            self.cli,
            &plan,
            ftp_context.as_deref(),
            self.started_as_root,
        ));
        if !self.privilege_plan.covers(&privilege_plan) {
            return Err("the new configuration needs other rights than ringd kept at start (`ringd --check` lists them): restart ringd to apply it".into());
        }
        let rules = confinement_rules(
            self.cli,
            &plan,
            ftp_context.as_deref(),
            self.control_socket.as_deref(),
        );
        if let Some(rule) = rules.iter().find(|rule| !self.rules.contains(rule)) {
            return Err(format!(
                "the new configuration needs {:?} access to {}, which ringd gave up at start: restart ringd to apply it",
                rule.access,
                rule.path.display()
            ));
        }
        let mut notes = Vec::new();
        // Everything that can fail comes first: new listening sockets are bound, and the new
        // FTP state built, before anything changes.
        let ftp_rebind = match (&self.ftp, &ftp_context) {
            (Some(service), Some(context)) => {
                service.bind_new_addresses(context).map_err(|err| {
                    let denied = matches!(
                        &err,
                        FtpStartError::Bind {
                            source: ListenError::Denied,
                            ..
                        }
                    );
                    rebind_error(&err, denied)
                })?
            }
            _ => None,
        };
        let ntp_rebind = match (&self.ntp, &plan.ntp) {
            (Some(service), Some(config)) => service.bind_new_addresses(config).map_err(|err| {
                let denied = matches!(
                    &err,
                    StartError::Bind {
                        source: ListenError::Denied,
                        ..
                    }
                );
                rebind_error(&err, denied)
            })?,
            _ => None,
        };
        if let (Some(service), Some(context)) = (&mut self.ftp, &ftp_context) {
            service
                .reconfigure(Arc::clone(context))
                .map_err(|err| err.to_string())?;
            if let Some(rebind) = ftp_rebind {
                if !service.rebind(rebind) {
                    notes.push("an FTP shard did not take up the new listening addresses".into());
                }
                info!(
                    "FTP now listens on {}",
                    listen_list(Some(&service.local_addrs))
                );
            }
        }
        if let (Some(service), Some(old), Some(new)) = (&mut self.ntp, &self.plan.ntp, &plan.ntp) {
            notes.extend(reload_sources(self.sync.as_ref(), old, new));
            service.reconfigure(new);
            if let Some(rebind) = ntp_rebind {
                if !service.rebind(rebind) {
                    notes.push("an NTP shard did not take up the new listening addresses".into());
                }
                info!(
                    "NTP now listens on {}",
                    listen_list(Some(&service.local_addrs))
                );
            }
        }
        self.plan = plan;
        Ok(notes)
    }

    /// Stops every service: the drift file is written, sessions are closed.
    fn stop(self) {
        if let Some(mut service) = self.ftp {
            service.stop();
            info!("FTP stopped");
        }
        if let Some(mut service) = self.sync {
            service.stop();
        }
        if let Some(mut service) = self.ntp {
            let per_shard = service.stop();
            let mut total = NtpTotals::default();
            for (index, shard) in per_shard.iter().enumerate() {
                info!("NTP shard {index}: {shard}");
                total.add(shard);
            }
            info!("NTP total: {total}");
        }
    }
}

/// Has the sync service follow a reload's `server`/`pool` lines and `local` setting; the
/// notes say what waits for a restart.
fn reload_sources(sync: Option<&SyncService>, old: &NtpConfig, new: &NtpConfig) -> Vec<String> {
    let mut notes = Vec::new();
    let (was, is) = (&old.upstream, &new.upstream);
    let other_settings = |upstream: &config::chrony_upstream::UpstreamConfig| {
        (
            upstream.min_sources,
            upstream.max_distance,
            upstream.makestep,
            upstream.driftfile.clone(),
            upstream.rtcsync,
            upstream.leap_seconds.clone(),
            upstream.nts.clone(),
        )
    };
    if other_settings(was) != other_settings(is) {
        notes.push("changed clock settings (`makestep`, `driftfile`, `minsources`, `maxdistance`, `rtcsync`, leap seconds, `ntstrustedcerts`, `nosystemcert`, `ntsrefresh`) take effect at the next restart".into());
    }
    if old.logs != new.logs {
        notes.push(
            "changed `log`, `logdir` or `logbanner` lines take effect at the next restart".into(),
        );
    }
    let sources_changed = was.sources != is.sources || old.local != new.local;
    if !sources_changed {
        return notes;
    }
    match sync {
        Some(sync) if !is.sources.is_empty() => sync.reconfigure(new),
        _ => notes.push(if was.sources.is_empty() == is.sources.is_empty() {
            "a changed `local` line without `server`/`pool` lines takes effect at the next restart".into()
        } else {
            "adding the first `server`/`pool` line, or removing the last, takes effect at the next restart".into()
        }),
    }
    notes
}

/// A reload's bind error; `denied` when the port needs a right ringd gave up at start.
fn rebind_error(err: &dyn std::fmt::Display, denied: bool) -> String {
    if denied {
        format!("{err}; a ringd that bound no port below 1024 at start cannot bind one on reload: restart it")
    } else {
        err.to_string()
    }
}

/// Reopens the log files by name, logging the outcome.
fn cycle_logs_and_report() -> Result<String, String> {
    match output_files::reopen_logs() {
        Ok(count) => {
            info!("reopened {count} log file(s)");
            Ok(format!("{count} log file(s) reopened"))
        }
        Err(err) => {
            error!("{err}");
            Err(err)
        }
    }
}
