//! Starting and stopping the NTP service: sockets, shards, the clock refresher.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use thiserror::Error;
use tracing::{info, warn};

use super::client_log::ClientLogTap;
use super::clock_refresh::Refresher;
use super::handover::{Slot, SocketHandover};
use super::shard_loop::{self, WakeModeration};
use super::sockets;
use crate::config::source_file::{self, Expected, NO_ORIGINAL_LIMIT};
use crate::config::NtpConfig;
use crate::metrics::{NtpCounters, NtpTotals};
use crate::ntp::access::Family;
use crate::ntp::answer_policy::{AnswerPolicy, PolicyCell, PolicyFollower, SharedServerKeys};
use crate::ntp::clock_state::{ClockCell, ClockSnapshot};
use crate::ntp::nts_ke::NtpService as KeNtpService;
use crate::ntp::precision;
use crate::ntp::responder::Responder;
use crate::ntp::served_clock::ClockSource;
use crate::ntp::symmetric_keys::{KeyFile, KeyTable};
use crate::nts_ke_service::{self, KeService, KeSettings, KeSetupError};
use crate::shard::listen_port::{self, ListenError};
use crate::shard::{cpu_for_shard, Backend};
use crate::sys::clock::realtime_now;
use crate::sys::procnet::Transport;
use crate::sys::{cpu, uring};

#[derive(Debug, Error)]
pub enum StartError {
    #[error("cannot listen for NTP on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: ListenError,
    },
    #[error(transparent)]
    NtsKe(#[from] KeSetupError),
    #[error("cannot listen for NTS-KE on {addr}: {source}")]
    NtsKeBind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("cannot start NTP shard thread {shard}: {source}")]
    Thread {
        shard: usize,
        #[source]
        source: io::Error,
    },
}

/// How to run the service.
#[derive(Clone, Copy, Debug)]
pub struct ServiceOptions {
    pub shards: usize,
    /// The backend asked for; io_uring falls back to mmsg when this kernel cannot run it.
    pub backend: Backend,
    /// How often a busy shard takes its requests (see `shard_loop::WakeModeration`).
    pub wake_interval: Duration,
}

/// One running shard thread and what it shares with the rest of ringd.
struct Shard {
    thread: JoinHandle<()>,
    counters: Arc<NtpCounters>,
    client_log: Arc<ClientLogTap>,
    handover: Arc<SocketHandover>,
}

/// A running NTP service.
pub struct NtpService {
    stop: Arc<AtomicBool>,
    shards: Vec<Shard>,
    refresher: Option<(JoinHandle<()>, mpsc::Sender<()>)>,
    /// The state every shard serves, for the sync service to publish into.
    clock: Arc<ClockCell>,
    /// Which clients the shards answer and how often; replaced on reload.
    policy: Arc<PolicyCell>,
    /// The addresses the configuration asked for (port 0 before the kernel chose one), in
    /// the order of `local_addrs`.
    configured_addrs: Vec<SocketAddr>,
    pub local_addrs: Vec<SocketAddr>,
    pub backend: Backend,
    /// The NTS-KE server, when `ntsserverkey` and `ntsservercert` are given.
    nts_ke: Option<KeService>,
    /// The cookie keys the KE server and the shards share.
    nts_keys: Option<SharedServerKeys>,
}

/// Sockets bound for a reload's listening addresses, not yet served by the shards.
pub struct Rebind {
    per_shard: Vec<Vec<Slot>>,
    configured_addrs: Vec<SocketAddr>,
    local_addrs: Vec<SocketAddr>,
}

/// How long shards are given to take up new sockets; an idle shard looks every 100 ms.
const HANDOVER_WAIT: Duration = Duration::from_secs(2);

/// The addresses to listen on: like chronyd (ntp_core.c), a family's port is opened only when
/// an `allow` lets some client of that family in.
fn configured_addresses(config: &NtpConfig) -> Vec<SocketAddr> {
    config
        .bind_addresses
        .iter()
        .filter(|ip| config.access.any_allowed(Family::of(**ip)))
        .map(|ip| SocketAddr::new(*ip, config.port))
        .collect()
}

/// The keys of `config`'s `keyfile`, none without one. As chronyd, a file that cannot be read
/// and lines that cannot be used are logged, and the rest is served.
pub(crate) fn load_keys(config: &NtpConfig) -> KeyTable {
    const KEY_FILE: Expected = Expected::named_by("keyfile", NO_ORIGINAL_LIMIT);
    let Some(path) = &config.auth.keyfile else {
        return KeyTable::default();
    };
    let text = match source_file::read_text(path, KEY_FILE) {
        Ok(text) => text,
        Err(err) => {
            warn!("keyfile: {err}; requests with a MAC are not answered");
            return KeyTable::default();
        }
    };
    let file = KeyFile::parse(&text);
    for skipped in &file.skipped {
        warn!("{}:{}: {}", path.display(), skipped.line, skipped.reason);
    }
    for id in &file.short_keys {
        warn!("Key {id} is too short (less than 80 bits)");
    }
    info!(
        "Loaded {} symmetric keys from {}",
        file.table.len(),
        path.display()
    );
    file.table
}

/// Starts the NTS-KE server when `config` names a certificate and key.
fn start_nts_ke(
    config: &NtpConfig,
    ntp_port: u16,
) -> Result<Option<(KeService, SharedServerKeys)>, StartError> {
    let Some((cert, key)) = config.auth.nts_server() else {
        return Ok(None);
    };
    let tls = nts_ke_service::tls_config(cert, key)?;
    for note in config.auth.notes() {
        info!("{note}");
    }
    let mut listeners = Vec::new();
    for ip in &config.bind_addresses {
        let addr = SocketAddr::new(*ip, config.auth.nts_port);
        let listener =
            nts_ke_service::bind(addr).map_err(|source| StartError::NtsKeBind { addr, source })?;
        listeners.push(listener);
    }
    let keys: SharedServerKeys = Arc::new(std::sync::RwLock::new(nts_ke_service::initial_keys(
        config.auth.nts_dump_dir.as_deref(),
    )));
    let settings = KeSettings {
        tls,
        max_connections: config.auth.max_nts_connections.max(1),
        service: KeNtpService {
            server: config.auth.nts_ntp_server.clone(),
            port: (ntp_port != 123).then_some(ntp_port),
        },
        rotate_every: config.auth.nts_rotate,
        dump_dir: config.auth.nts_dump_dir.clone(),
    };
    let service = nts_ke_service::start(listeners, settings, Arc::clone(&keys))
        .map_err(|source| StartError::Thread { shard: 0, source })?;
    for addr in service.local_addrs() {
        info!("NTS-KE serving on {addr}");
    }
    Ok(Some((service, keys)))
}

/// Decides the backend: io_uring when asked for and this kernel passes the self-test.
pub fn choose_backend(requested: Backend) -> Backend {
    if requested == Backend::Mmsg {
        return Backend::Mmsg;
    }
    match uring::self_test() {
        Ok(()) => Backend::Uring,
        Err(err) => {
            warn!("io_uring is not usable here ({err}); falling back to recvmmsg/sendmmsg");
            Backend::Mmsg
        }
    }
}

impl NtpService {
    /// Refuses ports another process holds, naming it: run before ringd confines itself, while
    /// it may still look at other processes' sockets.
    pub fn claim_ports(config: &NtpConfig) -> Result<(), StartError> {
        for addr in configured_addresses(config) {
            listen_port::ensure_free(addr, Transport::Udp, sockets::PORT_OPTION)
                .map_err(|source| StartError::Bind { addr, source })?;
        }
        Ok(())
    }

    pub fn start(config: &NtpConfig, options: ServiceOptions) -> Result<NtpService, StartError> {
        let shard_count = options.shards.max(1);
        let backend = choose_backend(options.backend);
        let allowed_cpus = cpu::allowed_cpus().unwrap_or_default();
        if shard_count > allowed_cpus.len() && !allowed_cpus.is_empty() {
            warn!(
                "{shard_count} shards on {} allowed CPUs: some shards share a core",
                allowed_cpus.len()
            );
        }

        let mut listeners = Vec::new();
        for addr in configured_addresses(config) {
            let listener = sockets::bind(addr.ip(), addr.port(), shard_count)
                .map_err(|(addr, source)| StartError::Bind { addr, source })?;
            listeners.push(listener);
        }
        let local_addrs: Vec<SocketAddr> = listeners.iter().map(|l| l.local_addr).collect();

        let source = match config.local {
            Some(local) => ClockSource::LocalReference {
                stratum: local.stratum,
            },
            None => ClockSource::Kernel,
        };
        let clock = Arc::new(ClockCell::new(ClockSnapshot::UNSYNCHRONISED));
        // With `server` or `pool` lines the sync service publishes the state; until it starts,
        // the clock is served as unsynchronised.
        let refresher = if config.upstream.sources.is_empty() {
            let leaps = crate::sync_service::load_leaps(&config.upstream.leap_seconds);
            let mut refresher = Refresher::new(Arc::clone(&clock), source, leaps);
            refresher.refresh();
            let (refresh_tx, refresh_rx) = mpsc::channel();
            let thread = crate::privileges::spawn(
                "ntp-clock".into(),
                crate::privileges::Role::Clock,
                move || refresher.run(refresh_rx),
            )
            .map_err(|source| StartError::Thread { shard: 0, source })?;
            Some((thread, refresh_tx))
        } else {
            None
        };

        let precision = precision::measure(realtime_now);
        let ntp_port = local_addrs.first().map_or(config.port, SocketAddr::port);
        let (nts_ke, nts_keys) = match start_nts_ke(config, ntp_port)? {
            Some((service, keys)) => (Some(service), Some(keys)),
            None => (None, None),
        };
        let policy = Arc::new(PolicyCell::new(AnswerPolicy::of(config, load_keys(config))));
        let stop = Arc::new(AtomicBool::new(false));
        let mut service = NtpService {
            stop: Arc::clone(&stop),
            shards: Vec::new(),
            refresher,
            clock: Arc::clone(&clock),
            policy: Arc::clone(&policy),
            configured_addrs: configured_addresses(config),
            local_addrs,
            backend,
            nts_ke,
            nts_keys: nts_keys.clone(),
        };

        // Each shard gets the i-th socket of every listener.
        let mut per_shard: Vec<Vec<std::net::UdpSocket>> =
            (0..shard_count).map(|_| Vec::new()).collect();
        for listener in listeners {
            for (shard, socket) in listener.sockets.into_iter().enumerate() {
                per_shard[shard].push(socket);
            }
        }
        let seed_base = realtime_now().nanos as u64 ^ u64::from(std::process::id()) << 32;
        for (index, sockets) in per_shard.into_iter().enumerate() {
            let seed = seed_base.wrapping_add(index as u64 * 0x9E37_79B9);
            let follower = PolicyFollower::new(Arc::clone(&policy), shard_count as u64, seed);
            let counters = Arc::new(NtpCounters::default());
            let client_log = Arc::new(ClientLogTap::default());
            let mut responder = Responder::following(
                follower,
                (shard_count as u64, seed),
                Arc::clone(&clock),
                precision,
                Arc::clone(&counters),
            );
            if let Some(keys) = &nts_keys {
                responder.serve_nts(Arc::clone(keys));
            }
            let cpu = cpu_for_shard(&allowed_cpus, index);
            let moderation = WakeModeration {
                interval: options.wake_interval,
            };
            let stop = Arc::clone(&stop);
            let tap = Arc::clone(&client_log);
            let handover = Arc::new(SocketHandover::default());
            let shard_handover = Arc::clone(&handover);
            let handle = crate::privileges::spawn(
                format!("ntp-shard-{index}"),
                crate::privileges::Role::NtpShard,
                move || {
                    if let Some(cpu) = cpu {
                        if let Err(err) = cpu::pin_current_thread(cpu) {
                            warn!("NTP shard {index}: cannot pin to CPU {cpu}: {err}");
                        }
                    }
                    if let Err(err) = shard_loop::run(
                        backend,
                        sockets,
                        moderation,
                        &mut responder,
                        &tap,
                        &stop,
                        &shard_handover,
                    ) {
                        warn!("NTP shard {index} stopped: {err}");
                    }
                },
            )
            .map_err(|source| StartError::Thread {
                shard: index,
                source,
            });
            match handle {
                Ok(thread) => service.shards.push(Shard {
                    thread,
                    counters,
                    client_log,
                    handover,
                }),
                Err(err) => {
                    service.stop();
                    return Err(err);
                }
            }
        }
        if service.local_addrs.is_empty() {
            info!("NTP port not opened: no `allow` line lets a client in (as chronyd)");
        }
        for addr in &service.local_addrs {
            info!(
                "NTP serving on {addr} with {shard_count} shard{} ({backend} backend, kernel RX timestamps, precision 2^{precision} s)",
                if shard_count == 1 { "" } else { "s" }
            );
        }
        Ok(service)
    }

    /// Answers with `config`'s allow/deny and ratelimit from each shard's next request on.
    pub fn reconfigure(&self, config: &NtpConfig) {
        self.policy
            .publish(AnswerPolicy::of(config, load_keys(config)));
        // With rotation off the keys are the admin's: a copy from the node that rotates.
        let shared_dump_dir = config
            .auth
            .nts_dump_dir
            .as_deref()
            .filter(|_| config.auth.nts_rotate.is_zero());
        if let (Some(keys), Some(dir)) = (&self.nts_keys, shared_dump_dir) {
            nts_ke_service::reload_keys(dir, keys);
        }
    }

    /// Binds the addresses a reload's `config` listens on that the service does not, checking
    /// first that no other process holds them; None when the addresses are unchanged. The
    /// shards go on as they are until [`NtpService::rebind`].
    pub fn bind_new_addresses(&self, config: &NtpConfig) -> Result<Option<Rebind>, StartError> {
        let configured_addrs = configured_addresses(config);
        if configured_addrs == self.configured_addrs {
            return Ok(None);
        }
        let shard_count = self.shards.len();
        let mut per_shard: Vec<Vec<Slot>> = (0..shard_count).map(|_| Vec::new()).collect();
        let mut local_addrs = Vec::new();
        for addr in &configured_addrs {
            if let Some(kept) = self.configured_addrs.iter().position(|a| a == addr) {
                let local = self.local_addrs[kept];
                local_addrs.push(local);
                for slots in &mut per_shard {
                    slots.push(Slot::Keep(local));
                }
                continue;
            }
            listen_port::ensure_free_of_others(
                *addr,
                Transport::Udp,
                sockets::PORT_OPTION,
                &self.local_addrs,
            )
            .map_err(|source| StartError::Bind {
                addr: *addr,
                source,
            })?;
            let listener = sockets::bind(addr.ip(), addr.port(), shard_count)
                .map_err(|(addr, source)| StartError::Bind { addr, source })?;
            local_addrs.push(listener.local_addr);
            for (slots, socket) in per_shard.iter_mut().zip(listener.sockets) {
                slots.push(Slot::New(socket));
            }
        }
        Ok(Some(Rebind {
            per_shard,
            configured_addrs,
            local_addrs,
        }))
    }

    /// Has every shard serve `rebind`'s sockets and close those of addresses no longer
    /// configured; returns once they do. False when a shard did not take them in time.
    pub fn rebind(&mut self, rebind: Rebind) -> bool {
        for (shard, slots) in self.shards.iter().zip(rebind.per_shard) {
            shard.handover.offer(slots);
        }
        let deadline = Instant::now() + HANDOVER_WAIT;
        // Every shard is waited for, not only up to the first that failed.
        let served = self
            .shards
            .iter()
            .filter(|shard| shard.handover.wait_served(deadline))
            .count();
        let all_served = served == self.shards.len();
        self.configured_addrs = rebind.configured_addrs;
        self.local_addrs = rebind.local_addrs;
        all_served
    }

    /// The served clock state the shards read.
    pub fn clock(&self) -> Arc<ClockCell> {
        Arc::clone(&self.clock)
    }

    /// The shards' live counters, for the control socket to read whenever it is asked.
    pub fn counters(&self) -> Vec<Arc<NtpCounters>> {
        self.shards
            .iter()
            .map(|s| Arc::clone(&s.counters))
            .collect()
    }

    /// The shards' client log taps, for `ringctl clients`.
    pub fn client_logs(&self) -> Vec<Arc<ClientLogTap>> {
        self.shards
            .iter()
            .map(|s| Arc::clone(&s.client_log))
            .collect()
    }

    /// Stops every thread and returns each shard's final counters.
    /// Where the NTS-KE server listens, when it runs.
    pub fn nts_ke_addrs(&self) -> Option<&[SocketAddr]> {
        self.nts_ke.as_ref().map(KeService::local_addrs)
    }

    pub fn stop(&mut self) -> Vec<NtpTotals> {
        self.stop.store(true, Ordering::Relaxed);
        self.nts_ke = None;
        if let Some((handle, sender)) = self.refresher.take() {
            drop(sender);
            let _ = handle.join();
        }
        let mut totals = Vec::new();
        for shard in self.shards.drain(..) {
            let _ = shard.thread.join();
            totals.push(shard.counters.totals());
        }
        totals
    }
}

impl Drop for NtpService {
    fn drop(&mut self) {
        self.stop();
    }
}
