//! The sync engine's I/O shell: resolves `server`/`pool` names, exchanges packets with kernel
//! receive timestamps (authenticated as each source asks, NTS-KE on `nts_ke_client`'s
//! threads), applies the engine's clock commands and publishes the served state.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::{debug, info, warn};

use crate::config::chrony::{LocalStratum, NtpConfig};
use crate::config::chrony_upstream::{
    LeapSecondSource, NtsClientSettings, SourceAuthentication, UpstreamSource,
};
use crate::config::source_file::{self, Expected, SourceFileError, NO_ORIGINAL_LIMIT};
use crate::control::state::SyncControl;
use crate::ntp::clock_state::{ClockCell, ClockCorrection};
use crate::ntp::packet::{NtpTimestamp, UnixTime, HEADER_LEN};
use crate::ntp::served_clock;
use crate::ntp::symmetric_keys::KeyTable;
use crate::nts_ke_client::{self, KeDone, KeTarget};
use crate::output_files::replace_file;
use crate::sync::chrony_log::{LogRecord, StampSource};
use crate::sync::discipline::ClockCommand;
use crate::sync::driftfile::{self, Drift};
use crate::sync::engine::{self, Action, Engine, EngineConfig, ReplyTiming, SourceId, SourceSpec};
use crate::sync::leap::{LeapStatus, LeapTable, LeapTableError};
use crate::sync::local_time::LocalTime;
use crate::sync::measurement;
use crate::sync::nts_client::NtsClient;
use crate::sync::report::{NtpDataReport, SyncStatus};
use crate::sync::selection::SelectionRules;
use crate::sync::software_clock::SoftwareClock;
use crate::sync::source_auth::{self, SourceAuth};
use crate::sync_log_files::{self, ChronyLogFiles};
use crate::sys::clock::realtime_now;
use crate::sys::clock_control;
use crate::sys::crypt::fill_random;
use crate::sys::mmsg::{ReadinessPoller, RecvBatch};
use crate::sys::sockopt::enable_rx_timestamps;

/// How often the served state is republished between clock updates.
const PUBLISH_INTERVAL: f64 = 0.25;
/// The longest the thread sleeps, so that a stop request is seen promptly.
const MAX_WAIT: f64 = 0.25;
/// How long to wait before resolving a name again after it failed.
const RESOLVE_RETRY: f64 = 60.0;
/// chronyd writes its driftfile readable by all (0644).
const DRIFTFILE_MODE: u32 = 0o644;
/// A driftfile is two numbers on one line; chronyd reads it with one fscanf.
const DRIFT_FILE: Expected = Expected::named_by("driftfile", 4096);
/// chronyd reads the zone and the list with no limit of its own.
const LEAPSECTZ_FILE: Expected = Expected::named_by("leapsectz", NO_ORIGINAL_LIMIT);
const LEAPSECLIST_FILE: Expected = Expected::named_by("leapseclist", NO_ORIGINAL_LIMIT);

/// Requests the control socket passes to the sync thread.
enum SyncCommand {
    MakeStep(mpsc::Sender<Result<f64, String>>),
    /// A reload's `server`/`pool` lines, `local` setting and the keys its sources use.
    Reconfigure {
        sources: Vec<UpstreamSource>,
        local: Option<LocalStratum>,
        keys: KeyTable,
    },
}

/// What other threads may ask of the running sync service.
#[derive(Clone)]
pub struct SyncHandle {
    status: Arc<Mutex<SyncStatus>>,
    commands: mpsc::Sender<SyncCommand>,
}

impl SyncHandle {
    pub fn status(&self) -> SyncStatus {
        self.status
            .lock()
            .map(|status| status.clone())
            .unwrap_or_default()
    }

    /// Steps the clock by the whole current offset (`ringctl makestep`).
    pub fn make_step(&self) -> Result<f64, String> {
        let (reply, answer) = mpsc::channel();
        self.commands
            .send(SyncCommand::MakeStep(reply))
            .map_err(|_| "the sync service has stopped".to_string())?;
        answer
            .recv_timeout(Duration::from_secs(2))
            .map_err(|_| "the sync service did not answer".to_string())?
    }
}

impl SyncControl for SyncHandle {
    fn status(&self) -> SyncStatus {
        SyncHandle::status(self)
    }

    fn make_step(&self) -> Result<f64, String> {
        SyncHandle::make_step(self)
    }
}

pub struct SyncService {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    handle: SyncHandle,
}

/// A configured source and where it currently points.
struct Upstream {
    config: UpstreamSource,
    /// The engine's source for each address in use.
    members: Vec<(SourceId, SocketAddr)>,
    next_resolve: LocalTime,
}

struct Shell {
    engine: Engine,
    epoch: UnixTime,
    controls_clock: bool,
    rtcsync: bool,
    software: SoftwareClock,
    local: Option<LocalStratum>,
    clock: Arc<ClockCell>,
    status: Arc<Mutex<SyncStatus>>,
    upstreams: Vec<Upstream>,
    /// Which engine source an address belongs to, and the T1 of each outstanding request.
    by_address: HashMap<SocketAddr, SourceId>,
    outstanding: HashMap<SourceId, NtpTimestamp>,
    socket_v4: UdpSocket,
    socket_v6: Option<UdpSocket>,
    driftfile: Option<PathBuf>,
    drift_warned: bool,
    clock_warned: bool,
    /// The reference last announced in the log, to log changes only.
    announced: Option<(String, u8)>,
    /// chrony's `log` files, when chrony.conf asks for them.
    chrony_logs: Option<ChronyLogFiles>,
    /// The local address of each source address, for `ntpdata`; found once per address.
    local_addresses: HashMap<SocketAddr, IpAddr>,
    /// `keyfile`'s keys, when a source uses one.
    keys: KeyTable,
    nts: NtsClientSettings,
    /// How each source authenticates; absent means not at all.
    auth: HashMap<SourceId, SourceAuth>,
    /// Each NTS source's key establishment target and the number of its latest attempt,
    /// so that the outcome of an attempt for a replaced address is ignored.
    ke_targets: HashMap<SourceId, (KeTarget, u64)>,
    ke_attempts: u64,
    ke_done: (mpsc::Sender<KeDone>, mpsc::Receiver<KeDone>),
}

/// The keys `config`'s sources need, read only when one uses `key N`.
fn keys_for(config: &NtpConfig) -> KeyTable {
    let keyed = config
        .upstream
        .sources
        .iter()
        .any(|s| matches!(s.authentication, SourceAuthentication::Key(_)));
    if keyed {
        crate::shard::ntp::service::load_keys(config)
    } else {
        KeyTable::default()
    }
}

fn resolve(host: &str, port: u16) -> Vec<SocketAddr> {
    match (host, port).to_socket_addrs() {
        Ok(addrs) => {
            let mut unique = Vec::new();
            for addr in addrs {
                if !unique.contains(&addr) {
                    unique.push(addr);
                }
            }
            unique
        }
        Err(err) => {
            warn!("cannot resolve {host}: {err}; retrying in {RESOLVE_RETRY} s");
            Vec::new()
        }
    }
}

/// How a new source at `addr` authenticates, by its line; a key the keyfile lacks is warned
/// about in chronyd's words, and the source then sends nothing.
fn source_auth(
    config: &UpstreamSource,
    addr: SocketAddr,
    keys: &KeyTable,
    nts: &NtsClientSettings,
) -> (SourceAuth, Option<KeTarget>) {
    match config.authentication {
        SourceAuthentication::None => (SourceAuth::None, None),
        SourceAuthentication::Key(id) => {
            let key = keys.get(id).cloned();
            if key.is_none() {
                warn!("Key {id} is missing");
            }
            (SourceAuth::Symmetric { id, key }, None)
        }
        SourceAuthentication::Nts { ke_port, cert_set } => (
            SourceAuth::Nts(Box::new(NtsClient::new(nts.refresh as f64))),
            Some(KeTarget {
                host: config.host.clone(),
                ke_address: SocketAddr::new(addr.ip(), ke_port),
                default_ntp: addr,
                cert_set,
            }),
        ),
    }
}

fn spec(config: &UpstreamSource, name: String) -> SourceSpec {
    SourceSpec {
        name,
        iburst: config.iburst,
        min_poll: config.min_poll,
        max_poll: config.max_poll,
        prefer: config.prefer,
        no_select: config.no_select,
        from_pool: config.pool,
    }
}

/// The leap seconds of `leapsectz`'s TZif file or `leapseclist`'s list.
fn read_leap_table(path: &Path, tzif: bool) -> Result<LeapTable, LeapTableError> {
    let name = path.display().to_string();
    if tzif {
        let bytes = source_file::read(path, LEAPSECTZ_FILE)?;
        LeapTable::from_tzif(&bytes, &name)
    } else {
        let text = source_file::read_text(path, LEAPSECLIST_FILE)?;
        LeapTable::from_list(&text, &name)
    }
}

/// The leap seconds `source` names, an empty table when none or unreadable (logged).
pub(crate) fn load_leaps(source: &Option<LeapSecondSource>) -> LeapTable {
    let (path, loaded) = match source {
        None => return LeapTable::default(),
        Some(LeapSecondSource::TimeZone(path)) => (path, read_leap_table(path, true)),
        Some(LeapSecondSource::List(path)) => (path, read_leap_table(path, false)),
    };
    match loaded {
        Ok(table) => {
            info!(
                "leap seconds known from {}: {}",
                path.display(),
                table.len()
            );
            table
        }
        Err(err) => {
            warn!("{err}; leap seconds will not be announced");
            LeapTable::default()
        }
    }
}

/// The driftfile's content; `None` when there is none yet or it is not a driftfile.
fn read_drift(path: &Path) -> Result<Option<Drift>, SourceFileError> {
    match source_file::read_text(path, DRIFT_FILE) {
        Ok(text) => Ok(driftfile::parse(&text)),
        Err(err) if err.is_not_found() => Ok(None),
        Err(err) => Err(err),
    }
}

/// Replaces the driftfile whole, as chronyd does, so a crash never leaves half of one.
fn write_drift(path: &Path, drift: &Drift) -> std::io::Result<()> {
    replace_file(path, driftfile::format(drift).as_bytes(), DRIFTFILE_MODE)
}

/// The stratum from which sources count as orphans, with `local ... orphan`.
fn orphan_stratum(local: Option<LocalStratum>) -> Option<u8> {
    local.filter(|l| l.orphan).map(|l| l.stratum)
}

/// The address the kernel's routing table gives our packets to `remote`: what a UDP socket
/// connected to it (which sends nothing) is bound to. Unspecified when there is no route.
fn route_source(remote: SocketAddr) -> IpAddr {
    let unspecified: IpAddr = match remote {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    UdpSocket::bind(SocketAddr::new(unspecified, 0))
        .and_then(|socket| {
            socket.connect(remote)?;
            socket.local_addr()
        })
        .map_or(unspecified, |local| local.ip())
}

fn bind_client_socket(ip: IpAddr) -> std::io::Result<UdpSocket> {
    let socket = UdpSocket::bind(SocketAddr::new(ip, 0))?;
    socket.set_nonblocking(true)?;
    enable_rx_timestamps(socket.as_fd())?;
    Ok(socket)
}

impl SyncService {
    /// Starts synchronising to `config`'s sources, publishing into `clock`.
    pub fn start(
        config: &NtpConfig,
        clock: Arc<ClockCell>,
        controls_clock: bool,
    ) -> std::io::Result<SyncService> {
        let upstream = &config.upstream;
        let epoch = realtime_now();
        let epoch_posix = epoch.secs as f64 + f64::from(epoch.nanos) * 1e-9;
        let drift = match &upstream.driftfile {
            Some(path) => read_drift(path).unwrap_or_else(|err| {
                warn!("{err}; starting without the driftfile's frequency");
                None
            }),
            None => None,
        };
        let mut actions = Vec::new();
        let engine = Engine::new(
            EngineConfig {
                rules: SelectionRules {
                    min_sources: upstream.min_sources,
                    max_distance: upstream.max_distance,
                    orphan_stratum: orphan_stratum(config.local),
                    ..SelectionRules::default()
                },
                makestep: upstream.makestep,
                drift,
                leaps: load_leaps(&upstream.leap_seconds),
                epoch_posix,
                wander: engine::DEFAULT_WANDER,
                controls_clock,
                records: sync_log_files::record_selection(&config.logs),
            },
            &mut actions,
        );
        let status = Arc::new(Mutex::new(SyncStatus::default()));
        let (command_tx, command_rx) = mpsc::channel();
        let socket_v4 = bind_client_socket(Ipv4Addr::UNSPECIFIED.into())?;
        let socket_v6 = bind_client_socket(Ipv6Addr::UNSPECIFIED.into()).ok();
        let mut shell = Shell {
            engine,
            epoch,
            controls_clock,
            rtcsync: upstream.rtcsync,
            software: SoftwareClock::new(epoch_posix),
            local: config.local,
            clock,
            status: Arc::clone(&status),
            upstreams: upstream
                .sources
                .iter()
                .map(|source| Upstream {
                    config: source.clone(),
                    members: Vec::new(),
                    next_resolve: LocalTime::EPOCH,
                })
                .collect(),
            by_address: HashMap::new(),
            outstanding: HashMap::new(),
            socket_v4,
            socket_v6,
            driftfile: upstream.driftfile.clone(),
            drift_warned: false,
            clock_warned: false,
            announced: None,
            chrony_logs: ChronyLogFiles::new(&config.logs),
            local_addresses: HashMap::new(),
            keys: keys_for(config),
            nts: upstream.nts.clone(),
            auth: HashMap::new(),
            ke_targets: HashMap::new(),
            ke_attempts: 0,
            ke_done: mpsc::channel(),
        };
        shell.perform(actions);
        shell.publish();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            crate::privileges::spawn(
                "ntp-sync".into(),
                crate::privileges::Role::Clock,
                move || shell.run(&stop, &command_rx),
            )?
        };
        info!(
            "synchronising to {} source line{} ({})",
            upstream.sources.len(),
            if upstream.sources.len() == 1 { "" } else { "s" },
            if controls_clock {
                "steering the system clock: --control-clock"
            } else {
                "observing only, serving the estimated true time; --control-clock steers the system clock"
            }
        );
        Ok(SyncService {
            stop,
            thread: Some(thread),
            handle: SyncHandle {
                status,
                commands: command_tx,
            },
        })
    }

    /// Follows a reload's `server`/`pool` lines, `local` setting and keyfile: sources whose
    /// line stayed keep their state, removed ones are dropped and new ones resolved and
    /// polled.
    pub fn reconfigure(&self, config: &NtpConfig) {
        let _ = self.handle.commands.send(SyncCommand::Reconfigure {
            sources: config.upstream.sources.clone(),
            local: config.local,
            keys: keys_for(config),
        });
    }

    pub fn handle(&self) -> SyncHandle {
        self.handle.clone()
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for SyncService {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shell {
    /// The system clock now, as seconds since the engine's epoch.
    fn raw_now(&self) -> f64 {
        self.raw_seconds(realtime_now())
    }

    fn raw_seconds(&self, time: UnixTime) -> f64 {
        (time.as_nanos() - self.epoch.as_nanos()) as f64 * 1e-9
    }

    /// The engine's clock for a system clock reading: the system clock itself when ringd steers
    /// it, otherwise the software clock.
    fn local_time(&mut self, raw: f64) -> LocalTime {
        if self.controls_clock {
            LocalTime::from_seconds_since_epoch(raw)
        } else {
            self.software.read(raw)
        }
    }

    fn timestamp(&self, local: LocalTime) -> NtpTimestamp {
        let nanos = self.epoch.as_nanos() + (local.seconds_since_epoch() * 1e9).round() as i128;
        NtpTimestamp::from_unix(UnixTime {
            secs: nanos.div_euclid(1_000_000_000) as i64,
            nanos: nanos.rem_euclid(1_000_000_000) as u32,
        })
    }

    fn run(mut self, stop: &AtomicBool, commands: &mpsc::Receiver<SyncCommand>) {
        let mut batch = RecvBatch::new(16, 1024);
        let mut next_publish = LocalTime::EPOCH;
        while !stop.load(Ordering::Relaxed) {
            let raw = self.raw_now();
            let local = self.local_time(raw);
            self.resolve_due(local);
            while let Ok(command) = commands.try_recv() {
                match command {
                    SyncCommand::MakeStep(reply) => {
                        let _ = reply.send(self.make_step(local));
                    }
                    SyncCommand::Reconfigure {
                        sources,
                        local: stratum,
                        keys,
                    } => {
                        self.keys = keys;
                        self.reconfigure(sources, stratum, local);
                    }
                }
            }
            while let Ok(done) = self.ke_done.1.try_recv() {
                self.ke_finished(done, local);
            }
            let wakeup = self
                .engine
                .next_wakeup()
                .map_or(next_publish, |timer| timer.min(next_publish));
            let wait = (wakeup - local).clamp(0.0, MAX_WAIT);
            let ready = {
                let mut fds = vec![self.socket_v4.as_fd()];
                fds.extend(self.socket_v6.as_ref().map(|s| s.as_fd()));
                let mut poller = ReadinessPoller::new(&fds);
                match poller.wait(Duration::from_secs_f64(wait)) {
                    Ok(_) => (0..fds.len()).map(|i| poller.is_ready(i)).collect(),
                    Err(err) => {
                        warn!("sync service cannot wait for replies: {err}");
                        vec![false; fds.len()]
                    }
                }
            };
            let mut actions = Vec::new();
            let mut verdicts = Vec::new();
            for (index, ready) in ready.into_iter().enumerate() {
                if ready {
                    self.receive(index, &mut batch, &mut actions, &mut verdicts);
                }
            }
            let local = self.local_time(self.raw_now());
            let timer_due = self
                .engine
                .next_wakeup()
                .is_some_and(|timer| local >= timer);
            if timer_due {
                self.engine.on_timer(local, &mut actions);
            }
            let updated = !actions.is_empty();
            self.perform(actions);
            if updated || !verdicts.is_empty() || local >= next_publish {
                self.publish();
                next_publish = local + PUBLISH_INTERVAL;
            }
            // Logged once published, so that a report asked for on reading a line counts its
            // reply: scripts and tests wait for these lines. One per reply, at debug level.
            for (peer, verdict) in verdicts {
                match verdict {
                    Ok(()) => debug!("reply from {peer}: accepted"),
                    Err(rejection) => debug!("reply from {peer}: rejected, {rejection}"),
                }
            }
        }
        if let Some(path) = &self.driftfile {
            if self.engine.is_synchronised() {
                if let Err(err) = write_drift(path, &self.engine.drift()) {
                    warn!("cannot write driftfile {}: {err}", path.display());
                }
            }
        }
    }

    fn make_step(&mut self, local: LocalTime) -> Result<f64, String> {
        if !self.controls_clock {
            return Err("makestep needs --control-clock: ringd is only observing the clock".into());
        }
        let mut actions = Vec::new();
        let step = self
            .engine
            .make_step(local, &mut actions)
            .ok_or_else(|| "not synchronised: no offset to step by".to_string())?;
        self.perform(actions);
        Ok(step)
    }

    fn resolve_due(&mut self, local: LocalTime) {
        for index in 0..self.upstreams.len() {
            let upstream = &self.upstreams[index];
            let wanted = upstream.config.max_sources;
            if upstream.members.len() >= wanted || local < upstream.next_resolve {
                continue;
            }
            let config = upstream.config.clone();
            let addresses = resolve(&config.host, config.port);
            for addr in addresses {
                if self.upstreams[index].members.len() >= wanted {
                    break;
                }
                if self.by_address.contains_key(&addr) {
                    continue;
                }
                let name = if config.pool {
                    addr.ip().to_string()
                } else {
                    config.host.clone()
                };
                let id = self.engine.add_source(
                    spec(&config, name),
                    engine::reference_id(addr.ip()),
                    local,
                );
                self.set_auth(id, &config, addr);
                self.note_local_address(id, addr);
                self.by_address.insert(addr, id);
                self.upstreams[index].members.push((id, addr));
            }
            self.upstreams[index].next_resolve = local + RESOLVE_RETRY;
        }
    }

    fn reconfigure(
        &mut self,
        sources: Vec<UpstreamSource>,
        stratum: Option<LocalStratum>,
        local: LocalTime,
    ) {
        self.local = stratum;
        self.engine.set_orphan_stratum(orphan_stratum(stratum));
        let (kept, removed): (Vec<Upstream>, Vec<Upstream>) = std::mem::take(&mut self.upstreams)
            .into_iter()
            .partition(|upstream| sources.contains(&upstream.config));
        let mut actions = Vec::new();
        for upstream in &removed {
            for (id, addr) in &upstream.members {
                self.by_address.remove(addr);
                self.outstanding.remove(id);
                self.auth.remove(id);
                self.ke_targets.remove(id);
                self.engine.remove_source(*id, local, &mut actions);
            }
        }
        self.upstreams = kept;
        let added: Vec<Upstream> = sources
            .into_iter()
            .filter(|source| !self.upstreams.iter().any(|u| u.config == *source))
            .map(|config| Upstream {
                config,
                members: Vec::new(),
                next_resolve: LocalTime::EPOCH,
            })
            .collect();
        info!(
            "reload: {} source line(s) kept, {} removed, {} added",
            self.upstreams.len(),
            removed.len(),
            added.len()
        );
        self.upstreams.extend(added);
        self.resolve_due(local);
        self.perform(actions);
        self.publish();
    }

    /// A pool member stopped answering: give it an address of the pool not in use.
    fn replace(&mut self, id: SourceId, local: LocalTime) {
        let Some(index) = self
            .upstreams
            .iter()
            .position(|u| u.members.iter().any(|(member, _)| *member == id))
        else {
            return;
        };
        let config = self.upstreams[index].config.clone();
        let fresh = resolve(&config.host, config.port)
            .into_iter()
            .find(|addr| !self.by_address.contains_key(addr));
        let Some(addr) = fresh else {
            return;
        };
        if let Some(member) = self.upstreams[index]
            .members
            .iter_mut()
            .find(|(member, _)| *member == id)
        {
            info!(
                "pool {}: {} stopped answering, using {addr}",
                config.host, member.1
            );
            self.by_address.remove(&member.1);
            member.1 = addr;
        }
        self.by_address.insert(addr, id);
        self.engine.replace_source(
            id,
            addr.ip().to_string(),
            engine::reference_id(addr.ip()),
            local,
        );
        // A new address starts its authentication afresh, as chronyd's NTS client does.
        self.set_auth(id, &config, addr);
        self.note_local_address(id, addr);
    }

    fn set_auth(&mut self, id: SourceId, config: &UpstreamSource, addr: SocketAddr) {
        let (auth, target) = source_auth(config, addr, &self.keys, &self.nts);
        self.auth.insert(id, auth);
        match target {
            Some(target) => self.ke_targets.insert(id, (target, 0)),
            None => self.ke_targets.remove(&id),
        };
    }

    /// Starts a key establishment for the NTS source `id`, off this thread.
    fn start_ke(&mut self, id: SourceId) {
        let Some((target, attempt)) = self.ke_targets.get_mut(&id) else {
            return;
        };
        self.ke_attempts += 1;
        *attempt = self.ke_attempts;
        nts_ke_client::start(
            target.clone(),
            self.nts.clone(),
            id,
            self.ke_attempts,
            self.ke_done.0.clone(),
        );
    }

    /// A key establishment ended: its keys and cookies go to the source's NTS state, and
    /// its NTP requests go where the KE server said.
    fn ke_finished(&mut self, done: KeDone, local: LocalTime) {
        let current = self
            .ke_targets
            .get(&done.source)
            .is_some_and(|(_, attempt)| *attempt == done.attempt);
        let Some(client) = self
            .auth
            .get_mut(&done.source)
            .and_then(SourceAuth::nts)
            .filter(|_| current)
        else {
            return;
        };
        match done.outcome {
            Ok((established, ntp)) => {
                client.ke_finished(local, Ok(established));
                self.move_source(done.source, ntp);
            }
            Err(failure) => client.ke_finished(local, Err(failure)),
        }
    }

    /// Sends `id`'s requests to `addr` from now on.
    fn move_source(&mut self, id: SourceId, addr: SocketAddr) {
        let old = self
            .by_address
            .iter()
            .find(|(_, source)| **source == id)
            .map(|(addr, _)| *addr);
        if old == Some(addr) {
            return;
        }
        if self.by_address.get(&addr).is_some_and(|other| *other != id) {
            warn!("NTS: the NTP server negotiated, {addr}, is another source's; not used");
            return;
        }
        if let Some(old) = old {
            self.by_address.remove(&old);
        }
        self.by_address.insert(addr, id);
        for upstream in &mut self.upstreams {
            for member in &mut upstream.members {
                if member.0 == id {
                    member.1 = addr;
                }
            }
        }
        self.note_local_address(id, addr);
        info!("NTS: NTP goes to {addr}, as the NTS-KE server said");
    }

    /// Tells the engine our address on the way to a source, which `local ... orphan` needs.
    fn note_local_address(&mut self, id: SourceId, remote: SocketAddr) {
        let local_address = *self
            .local_addresses
            .entry(remote)
            .or_insert_with(|| route_source(remote));
        self.engine
            .set_local_reference_id(id, engine::reference_id(local_address));
    }

    /// Takes in the replies waiting on one socket; `verdicts` gets a line for each.
    fn receive(
        &mut self,
        socket_index: usize,
        batch: &mut RecvBatch,
        actions: &mut Vec<Action>,
        verdicts: &mut Vec<(SocketAddr, Result<(), measurement::Rejection>)>,
    ) {
        let socket = if socket_index == 0 {
            self.socket_v4.as_fd()
        } else {
            match &self.socket_v6 {
                Some(socket) => socket.as_fd(),
                None => return,
            }
        };
        let received = match batch.recv(socket, socket_index) {
            Ok(received) => received,
            Err(err) => {
                warn!("sync service cannot receive: {err}");
                return;
            }
        };
        for index in 0..received {
            let Some(datagram) = batch.get(index) else {
                continue;
            };
            let peer = datagram.peer;
            let Some(&id) = self.by_address.get(&peer) else {
                continue;
            };
            let Some(&t1) = self.outstanding.get(&id) else {
                continue;
            };
            let rx = datagram.rx_time.unwrap_or_else(realtime_now);
            let raw = self.raw_seconds(rx);
            let local = self.local_time(raw);
            let t4 = self.timestamp(local);
            let timing = ReplyTiming {
                t1,
                t4,
                t4_source: if datagram.rx_time.is_some() {
                    StampSource::Kernel
                } else {
                    StampSource::Daemon
                },
            };
            let authentic = self
                .auth
                .get_mut(&id)
                .is_none_or(|auth| auth.check_reply(datagram.payload));
            let reply = if authentic {
                self.engine
                    .on_reply(id, local, datagram.payload, timing, actions)
            } else {
                self.engine
                    .on_unauthentic_reply(id, local, datagram.payload, timing, actions)
            };
            verdicts.push((peer, reply));
            match reply {
                Ok(()) => {
                    self.outstanding.remove(&id);
                }
                Err(measurement::Rejection::KissOfDeath(kiss)) => {
                    self.outstanding.remove(&id);
                    if let Some(stopped) = self.engine.stopped_by(id) {
                        warn!(
                            "{peer} sent kiss-o'-death {}: no longer polled",
                            stopped.code()
                        );
                    } else {
                        info!(
                            "{peer} sent kiss-o'-death {}: polling less often",
                            kiss.code()
                        );
                    }
                }
                Err(_) => {}
            }
        }
    }

    fn perform(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Poll { source, poll } => self.send_request(source, poll),
                Action::Clock(command) => self.apply_clock(command),
                Action::Replace(id) => {
                    let local = self.local_time(self.raw_now());
                    self.replace(id, local);
                }
                Action::SaveDrift(drift) => self.save_drift(&drift),
                Action::Record(record) => self.write_record(&record),
            }
        }
    }

    fn send_request(&mut self, source: SourceId, poll: i8) {
        let Some(addr) = self
            .by_address
            .iter()
            .find(|(_, id)| **id == source)
            .map(|(addr, _)| *addr)
        else {
            return;
        };
        let raw = self.raw_now();
        let local = self.local_time(raw);
        let t1 = self.timestamp(local);
        let mut request = [0u8; source_auth::MAX_REQUEST_LEN];
        request[..HEADER_LEN].copy_from_slice(&measurement::request(t1, poll));
        let len = match self.auth.get_mut(&source) {
            None => HEADER_LEN,
            Some(auth) => {
                let mut random = [0u8; source_auth::RANDOM_LEN];
                if matches!(auth, SourceAuth::Nts(_)) {
                    if let Err(err) = fill_random(&mut random) {
                        warn!("no random bytes for an NTS request: {err}");
                        self.engine.request_not_sent(source);
                        return;
                    }
                }
                match auth.request(local, &mut request, &random) {
                    source_auth::Request::Send(len) => len,
                    source_auth::Request::StartKe => {
                        self.engine.request_not_sent(source);
                        self.start_ke(source);
                        return;
                    }
                    source_auth::Request::Skip => {
                        self.engine.request_not_sent(source);
                        return;
                    }
                }
            }
        };
        let socket = match (addr, &self.socket_v6) {
            (SocketAddr::V4(_), _) => &self.socket_v4,
            (SocketAddr::V6(_), Some(socket)) => socket,
            (SocketAddr::V6(_), None) => return,
        };
        match socket.send_to(&request[..len], addr) {
            Ok(_) => {
                self.outstanding.insert(source, t1);
            }
            Err(err) => {
                self.engine.request_not_sent(source);
                warn!("cannot send to {addr}: {err}");
            }
        }
    }

    fn apply_clock(&mut self, command: ClockCommand) {
        if !self.controls_clock {
            let raw = self.raw_now();
            self.software.apply(raw, command);
            return;
        }
        let result = match command {
            ClockCommand::SetFrequency(rate) => clock_control::set_frequency(rate * 1e6),
            ClockCommand::Step(seconds) => {
                info!("stepping the system clock by {seconds:+.6} s (makestep)");
                clock_control::step(seconds)
            }
            ClockCommand::SetLeap(status) => {
                clock_control::set_leap(status == LeapStatus::Insert, status == LeapStatus::Delete)
            }
        };
        if let Err(err) = result {
            if !self.clock_warned {
                warn!("cannot adjust the system clock ({err}): does ringd have CAP_SYS_TIME?");
                self.clock_warned = true;
            }
        }
    }

    /// A line for chrony's log files, with the source's address as chronyd writes it.
    fn write_record(&mut self, record: &LogRecord) {
        let Some(logs) = &mut self.chrony_logs else {
            return;
        };
        let source = record.source();
        let address = self
            .by_address
            .iter()
            .find(|(_, id)| **id == source)
            .map_or_else(|| "-".to_string(), |(addr, _)| addr.ip().to_string());
        logs.write(record, &address);
    }

    fn save_drift(&mut self, drift: &Drift) {
        let Some(path) = &self.driftfile else {
            return;
        };
        if let Err(err) = write_drift(path, drift) {
            if !self.drift_warned {
                warn!("cannot write driftfile {}: {err}", path.display());
                self.drift_warned = true;
            }
        }
    }

    /// `ntpdata`: the engine's view of each source with the addresses it is reached at.
    fn ntp_data(&mut self) -> Vec<NtpDataReport> {
        let in_use: HashMap<SourceId, SocketAddr> = self
            .by_address
            .iter()
            .map(|(addr, id)| (*id, *addr))
            .collect();
        self.local_addresses
            .retain(|addr, _| self.by_address.contains_key(addr));
        let mut reports = Vec::new();
        for (id, exchange) in self.engine.exchanges() {
            let Some(&remote) = in_use.get(&id) else {
                continue;
            };
            let local_address = *self
                .local_addresses
                .entry(remote)
                .or_insert_with(|| route_source(remote));
            reports.push(NtpDataReport {
                remote,
                local_address,
                authenticated: self
                    .auth
                    .get(&id)
                    .is_some_and(|auth| !matches!(auth, SourceAuth::None)),
                exchange,
            });
        }
        reports
    }

    /// Publishes the served state and the status reports.
    fn publish(&mut self) {
        let raw_time = realtime_now();
        let raw = self.raw_seconds(raw_time);
        let local = self.local_time(raw);
        let correction = if self.controls_clock {
            ClockCorrection::NONE
        } else {
            let (at, offset, rate) = self.software.parameters();
            ClockCorrection {
                at_ns: (self.epoch.as_nanos() + (at * 1e9).round() as i128) as i64,
                offset_ns: (offset * 1e9).round() as i64,
                rate_ps_per_s: (rate * 1e12).round() as i64,
            }
        };
        let synchronised = served_clock::followed_upstream(self.engine.served(local), self.local);
        let snapshot = served_clock::upstream_snapshot(
            synchronised,
            self.local,
            self.engine.leaps(),
            correction,
            correction.apply(raw_time),
        );
        self.clock.publish(snapshot);
        if self.controls_clock && self.rtcsync {
            if let Some(state) = synchronised {
                let error_us = (state.root_distance() * 1e6) as i64;
                if let Err(err) = clock_control::set_synchronised(error_us, error_us) {
                    if !self.clock_warned {
                        warn!("cannot mark the clock synchronised for rtcsync: {err}");
                        self.clock_warned = true;
                    }
                }
            }
        }
        let tracking = self.engine.tracking(local);
        let reference = synchronised.map(|s| (tracking.reference_name.clone(), s.stratum));
        if reference != self.announced {
            match &reference {
                Some((name, stratum)) => info!(
                    "synchronised to {name}: serving stratum {stratum}, offset {:+.6} s",
                    -tracking.system_time_offset
                ),
                None => warn!(
                    "no selectable source any more: serving {}",
                    match self.local {
                        Some(local) => format!("the local reference at stratum {}", local.stratum),
                        None => "as unsynchronised (leap 3)".to_string(),
                    }
                ),
            }
            self.announced = reference;
        }
        let status = SyncStatus {
            tracking,
            sources: self.engine.sources(local),
            source_stats: self.engine.source_stats(local),
            ntp_data: self.ntp_data(),
            auth_data: self
                .engine
                .source_names()
                .into_iter()
                .map(|(id, name)| match self.auth.get(&id) {
                    Some(auth) => auth.report(name, local),
                    None => SourceAuth::None.report(name, local),
                })
                .collect(),
            // A line whose name has not resolved yet has no address in the engine.
            unresolved_sources: self
                .upstreams
                .iter()
                .filter(|upstream| upstream.members.is_empty())
                .count(),
        };
        if let Ok(mut shared) = self.status.lock() {
            *shared = status;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dirs::TempDir;

    #[test]
    fn the_driftfile_is_read_as_a_bounded_regular_file() {
        let dir = TempDir::new("drift");
        let path = dir.join("drift");
        assert_eq!(read_drift(&path).unwrap(), None, "no driftfile yet");
        let drift = Drift {
            frequency_ppm: 17.25,
            skew_ppm: 0.031,
        };
        write_drift(&path, &drift).unwrap();
        assert_eq!(read_drift(&path).unwrap(), Some(drift));
        // A wrong path is refused without reading it, however much it would give.
        assert!(read_drift(Path::new("/dev/zero")).is_err());
    }

    #[test]
    fn a_leap_file_that_is_not_a_regular_file_is_refused() {
        let err = read_leap_table(Path::new("/dev/zero"), false).unwrap_err();
        assert!(err.to_string().contains("leapseclist"), "{err}");
    }
}
