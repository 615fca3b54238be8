//! Starting and stopping the FTP service: listeners on every shard, limits and access at accept.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use compio::buf::{BufResult, IntoInner, IoBuf};
use compio::io::{AsyncReadExt, AsyncWriteExt};
use compio::net::{TcpListener, TcpStream};
use futures_channel::mpsc::{UnboundedReceiver, UnboundedSender};
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use socket2::{Domain, Socket, Type};
use thiserror::Error;
use tracing::{info, warn};

use super::auth::Authenticator;
use super::connection::ControlSession;
use super::host_configs;
use super::roots::SharedRoots;
use super::session_fs::SessionIdentities;
use crate::ftp::context::{SessionContext, DAEMON_NAMES};
use crate::ftp::limits::{ConnectionLimits, Refusal};
use crate::ftp::proxy_header::{self, ProxiedAddresses, ProxyHeader};
use crate::ftp::registry::SessionRegistry;
use crate::ftp::replies::{self, Reply};
use crate::ftp::transfer_log::{ConnectRefusal, LogEvent};
use crate::shard::cpu_for_shard;
use crate::shard::listen_port::{self, ListenError};
use crate::sys::clock::realtime_now;
use crate::sys::cpu;
use crate::sys::procnet::Transport;

/// The vsftpd.conf option that sets the FTP port.
const PORT_OPTION: &str = "listen_port";

/// How often an idle accept loop looks at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(100);
const LISTEN_BACKLOG: i32 = 1024;

#[derive(Debug, Error)]
pub enum FtpStartError {
    #[error("cannot listen for FTP on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: ListenError,
    },
    #[error("cannot start FTP shard thread {shard}: {source}")]
    Thread {
        shard: usize,
        #[source]
        source: io::Error,
    },
    #[error("cannot start the FTP login threads: {0}")]
    Authenticator(#[source] io::Error),
    #[error("{0}")]
    Users(String),
    #[error("{origin}: FTP over TLS (ssl_enable=YES): {source}")]
    Tls {
        origin: String,
        #[source]
        source: super::tls::TlsSetupError,
    },
}

/// What every session of the service shares besides the configuration: the login roots, the
/// users sessions act as, the threads that verify logins, and the connection limits. A
/// session keeps the one it started with; a reload makes a new one for the sessions after it.
pub struct FtpShared {
    pub context: Arc<SessionContext>,
    pub roots: SharedRoots,
    pub identities: SessionIdentities,
    /// One pool for every generation: its threads were started with the rights PAM needs,
    /// which the thread that reloads no longer has to give.
    pub authenticator: Arc<Authenticator>,
    pub limits: ConnectionLimits,
    /// With `ssl_enable`: the certificate, read again by each reload, and the TLS session
    /// cache data connections resume from.
    pub tls: Option<super::tls::TlsServer>,
    /// What sessions from a host whose tcp_wrappers rule names a `setenv VSFTPD_LOAD_CONF`
    /// file get instead, by file: that file's configuration, or the `500 OOPS` reply vsftpd
    /// would end them with.
    per_host: HashMap<PathBuf, Result<Arc<FtpShared>, Reply>>,
}

impl FtpShared {
    /// Everything sessions of `context` share; `limits` counts the connections already open
    /// (a reload keeps counting them against the new limits).
    fn new(
        context: Arc<SessionContext>,
        limits: ConnectionLimits,
        authenticator: Arc<Authenticator>,
    ) -> Result<FtpShared, FtpStartError> {
        let per_host = host_configs::load_all(&context)
            .into_iter()
            .map(|(file, loaded)| {
                let shared = loaded.and_then(|host| {
                    FtpShared::serving(
                        Arc::new(host),
                        limits.clone(),
                        Arc::clone(&authenticator),
                        HashMap::new(),
                    )
                    .map(Arc::new)
                    .map_err(|err| {
                        warn!(
                            "tcp_wrappers setenv VSFTPD_LOAD_CONF {}: {err}",
                            file.display()
                        );
                        Reply::new(
                            500,
                            format!("OOPS: cannot use config file: {}", file.display()),
                        )
                    })
                });
                (file, shared)
            })
            .collect();
        FtpShared::serving(context, limits, authenticator, per_host)
    }

    /// Sessions of `context` alone, with `per_host` for the hosts that get another one.
    fn serving(
        context: Arc<SessionContext>,
        limits: ConnectionLimits,
        authenticator: Arc<Authenticator>,
        per_host: HashMap<PathBuf, Result<Arc<FtpShared>, Reply>>,
    ) -> Result<FtpShared, FtpStartError> {
        let switching =
            !context.config.run_as_launching_user && crate::sys::credentials::can_switch();
        let identities =
            SessionIdentities::resolve(&context.config, context.virtual_users.is_some(), switching)
                .map_err(FtpStartError::Users)?;
        if !switching {
            info!(
                "FTP sessions act as ringd's own user (uid {}): {}",
                rustix::process::geteuid().as_raw(),
                if context.config.run_as_launching_user {
                    "run_as_launching_user=YES"
                } else {
                    "not started as root"
                }
            );
        }
        let tls =
            super::tls::TlsServer::load(&context.config).map_err(|source| FtpStartError::Tls {
                origin: context.config.origin.clone(),
                source,
            })?;
        Ok(FtpShared {
            tls,
            authenticator,
            limits: limits.with_limits(context.config.max_clients, context.config.max_per_ip),
            context,
            roots: SharedRoots::default(),
            identities,
            per_host,
        })
    }

    /// What a connection from `peer` to `local` is served with, or the reply that refuses
    /// it: tcp_wrappers' verdict (always yes without `tcp_wrappers=YES`), then the per-host
    /// configuration the deciding rule names, if any.
    fn for_connection(
        self: &Arc<FtpShared>,
        peer: SocketAddr,
        local: Option<SocketAddr>,
    ) -> Result<Arc<FtpShared>, Refused> {
        let Some(hosts) = &self.context.hosts else {
            return Ok(Arc::clone(self));
        };
        let verdict = hosts.check(&DAEMON_NAMES, peer.ip(), local.map(|l| l.ip()));
        if !verdict.allowed {
            return Err(Refused::Host);
        }
        match verdict.load_conf.and_then(|file| self.per_host.get(file)) {
            None => Ok(Arc::clone(self)),
            Some(Ok(host)) => Ok(Arc::clone(host)),
            Some(Err(oops)) => Err(Refused::BrokenHostConfig(oops.clone())),
        }
    }
}

/// Why [`FtpShared::for_connection`] turned a connection away.
enum Refused {
    /// tcp_wrappers denies the host.
    Host,
    /// The host's `setenv VSFTPD_LOAD_CONF` file cannot be used: vsftpd's session dies.
    BrokenHostConfig(Reply),
}

/// The [`FtpShared`] new sessions get: swapped whole on reload.
type CurrentShared = Arc<RwLock<Arc<FtpShared>>>;

pub struct FtpService {
    stop: Arc<AtomicBool>,
    shards: Vec<JoinHandle<()>>,
    /// Each shard's channel for listener changes; dropped to let the shards stop.
    listener_changes: Vec<UnboundedSender<ListenerChange>>,
    sessions: Arc<SessionRegistry>,
    current: CurrentShared,
    /// The addresses the configuration asked for (port 0 before the kernel chose one).
    configured_addrs: Vec<SocketAddr>,
    pub local_addrs: Vec<SocketAddr>,
}

/// A reload's new listening sockets for one shard.
struct ListenerChange {
    /// The shard's listeners on these addresses stay; the others close.
    keep: Vec<SocketAddr>,
    add: Vec<std::net::TcpListener>,
    /// Told once the shard accepts on `add` and has closed what it did not keep.
    done: mpsc::Sender<()>,
}

/// Listeners bound for a reload's addresses, not yet accepted on by the shards.
pub struct FtpRebind {
    per_shard: Vec<(Vec<SocketAddr>, Vec<std::net::TcpListener>)>,
    configured_addrs: Vec<SocketAddr>,
    local_addrs: Vec<SocketAddr>,
}

/// How long shards are given to take up new listeners; an idle one looks every 100 ms.
const REBIND_WAIT: Duration = Duration::from_secs(2);

fn listen_socket(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        // vsftpd's `listen_ipv6=YES` socket takes IPv4 clients too, as v4-mapped addresses
        // (Debian's and Rocky's stock files rely on it): never IPv6 only, whatever the
        // system's `net.ipv6.bindv6only` says.
        socket.set_only_v6(false)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Binds `shards` listeners to `addr` (port 0: one ephemeral port for all).
fn bind_all(
    addr: SocketAddr,
    shards: usize,
) -> Result<(SocketAddr, Vec<std::net::TcpListener>), FtpStartError> {
    let failed = |addr: SocketAddr| {
        move |error: io::Error| FtpStartError::Bind {
            addr,
            source: ListenError::from_bind(error, addr, Transport::Tcp, PORT_OPTION),
        }
    };
    let mut local = addr;
    let mut listeners = Vec::with_capacity(shards);
    for _ in 0..shards {
        let listener = listen_socket(local).map_err(failed(local))?;
        if local.port() == 0 {
            local = listener.local_addr().map_err(failed(local))?;
        }
        listeners.push(listener);
    }
    Ok((local, listeners))
}

impl FtpService {
    /// Refuses ports another process holds, naming it: run before ringd confines itself, while
    /// it may still look at other processes' sockets.
    pub fn claim_ports(context: &SessionContext) -> Result<(), FtpStartError> {
        for addr in context.listen_addresses() {
            listen_port::ensure_free(addr, Transport::Tcp, PORT_OPTION)
                .map_err(|source| FtpStartError::Bind { addr, source })?;
        }
        Ok(())
    }

    pub fn start(
        context: Arc<SessionContext>,
        shard_count: usize,
    ) -> Result<FtpService, FtpStartError> {
        let shard_count = shard_count.max(1);
        let mut per_shard: Vec<Vec<std::net::TcpListener>> =
            (0..shard_count).map(|_| Vec::new()).collect();
        let mut local_addrs = Vec::new();
        for addr in context.listen_addresses() {
            let (local, listeners) = bind_all(addr, shard_count)?;
            local_addrs.push(local);
            for (shard, listener) in listeners.into_iter().enumerate() {
                per_shard[shard].push(listener);
            }
        }
        let limits = ConnectionLimits::new(context.config.max_clients, context.config.max_per_ip);
        let authenticator = Arc::new(Authenticator::start().map_err(FtpStartError::Authenticator)?);
        let current = Arc::new(RwLock::new(Arc::new(FtpShared::new(
            Arc::clone(&context),
            limits,
            authenticator,
        )?)));
        let allowed_cpus = cpu::allowed_cpus().unwrap_or_default();
        let stop = Arc::new(AtomicBool::new(false));
        let mut service = FtpService {
            stop: Arc::clone(&stop),
            shards: Vec::new(),
            listener_changes: Vec::new(),
            sessions: Arc::default(),
            current: Arc::clone(&current),
            configured_addrs: context.listen_addresses(),
            local_addrs,
        };
        for (index, listeners) in per_shard.into_iter().enumerate() {
            let cpu = cpu_for_shard(&allowed_cpus, index);
            let current = Arc::clone(&current);
            let sessions = Arc::clone(&service.sessions);
            let stop = Arc::clone(&stop);
            let (changes_tx, changes) = futures_channel::mpsc::unbounded();
            service.listener_changes.push(changes_tx);
            let spawned = crate::privileges::spawn(
                format!("ftp-shard-{index}"),
                crate::privileges::Role::FtpShard,
                move || {
                    if let Some(cpu) = cpu {
                        if let Err(err) = cpu::pin_current_thread(cpu) {
                            warn!("FTP shard {index}: cannot pin to CPU {cpu}: {err}");
                        }
                    }
                    if let Err(err) = run_shard(listeners, current, sessions, stop, changes) {
                        warn!("FTP shard {index} stopped: {err}");
                    }
                },
            );
            match spawned {
                Ok(handle) => service.shards.push(handle),
                Err(source) => {
                    service.stop();
                    return Err(FtpStartError::Thread {
                        shard: index,
                        source,
                    });
                }
            }
        }
        for addr in &service.local_addrs {
            info!(
                "FTP serving {} on {addr} with {shard_count} shard{} (compio io_uring runtime)",
                context.describe_root(),
                if shard_count == 1 { "" } else { "s" }
            );
        }
        Ok(service)
    }

    /// Serves new sessions with `context` (banners, users, limits, options); sessions in
    /// progress keep theirs. The listening addresses stay as they are.
    pub fn reconfigure(&self, context: Arc<SessionContext>) -> Result<(), FtpStartError> {
        let running = self.current_shared();
        let shared = Arc::new(FtpShared::new(
            context,
            running.limits.clone(),
            Arc::clone(&running.authenticator),
        )?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = shared;
        Ok(())
    }

    /// Binds the addresses a reload's `context` listens on that the service does not, checking
    /// first that no other process holds them; None when the addresses are unchanged. The
    /// shards go on as they are until [`FtpService::rebind`].
    pub fn bind_new_addresses(
        &self,
        context: &SessionContext,
    ) -> Result<Option<FtpRebind>, FtpStartError> {
        let configured_addrs = context.listen_addresses();
        if configured_addrs == self.configured_addrs {
            return Ok(None);
        }
        let mut per_shard: Vec<(Vec<SocketAddr>, Vec<std::net::TcpListener>)> =
            (0..self.shards.len()).map(|_| Default::default()).collect();
        let mut local_addrs = Vec::new();
        for addr in &configured_addrs {
            if let Some(kept) = self.configured_addrs.iter().position(|a| a == addr) {
                let local = self.local_addrs[kept];
                local_addrs.push(local);
                for (keep, _) in &mut per_shard {
                    keep.push(local);
                }
                continue;
            }
            listen_port::ensure_free_of_others(
                *addr,
                Transport::Tcp,
                PORT_OPTION,
                &self.local_addrs,
            )
            .map_err(|source| FtpStartError::Bind {
                addr: *addr,
                source,
            })?;
            let (local, listeners) = bind_all(*addr, self.shards.len())?;
            local_addrs.push(local);
            for ((_, add), listener) in per_shard.iter_mut().zip(listeners) {
                add.push(listener);
            }
        }
        Ok(Some(FtpRebind {
            per_shard,
            configured_addrs,
            local_addrs,
        }))
    }

    /// Has every shard accept on `rebind`'s listeners and close those of addresses no longer
    /// configured (sessions in progress go on); returns once they do. False when a shard did
    /// not in time.
    pub fn rebind(&mut self, rebind: FtpRebind) -> bool {
        let (done, shards_done) = mpsc::channel();
        let mut sent = 0;
        for (changes, (keep, add)) in self.listener_changes.iter().zip(rebind.per_shard) {
            let change = ListenerChange {
                keep,
                add,
                done: done.clone(),
            };
            sent += usize::from(changes.unbounded_send(change).is_ok());
        }
        let deadline = Instant::now() + REBIND_WAIT;
        let all_done = (0..sent).all(|_| {
            let left = deadline.saturating_duration_since(Instant::now());
            shards_done.recv_timeout(left).is_ok()
        });
        self.configured_addrs = rebind.configured_addrs;
        self.local_addrs = rebind.local_addrs;
        all_done && sent == self.shards.len()
    }

    /// The connection limits and their live counts, which reloads keep.
    pub fn connection_limits(&self) -> ConnectionLimits {
        self.current_shared().limits.clone()
    }

    /// Sessions open now.
    pub fn active_sessions(&self) -> u32 {
        self.current_shared().limits.active()
    }

    /// The addresses the configuration asked for, for a reload to compare with its own.
    pub fn configured_addresses(&self) -> Vec<SocketAddr> {
        self.configured_addrs.clone()
    }

    /// What new sessions are served with now.
    fn current_shared(&self) -> Arc<FtpShared> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The open sessions, for the control socket.
    pub fn sessions(&self) -> Arc<SessionRegistry> {
        Arc::clone(&self.sessions)
    }

    /// Stops accepting, closes every session, and waits for the shard threads.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.listener_changes.clear();
        for handle in self.shards.drain(..) {
            let _ = handle.join();
        }
    }
}

impl Drop for FtpService {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One listener's accept loop in a shard.
struct AcceptLoop {
    local: SocketAddr,
    retired: Arc<AtomicBool>,
    task: compio::runtime::JoinHandle<()>,
}

fn run_shard(
    listeners: Vec<std::net::TcpListener>,
    current: CurrentShared,
    sessions: Arc<SessionRegistry>,
    stop: Arc<AtomicBool>,
    mut changes: UnboundedReceiver<ListenerChange>,
) -> io::Result<()> {
    let runtime = crate::shard::single_thread_runtime()?;
    runtime.block_on(async move {
        let start_loop = |listener: std::net::TcpListener| -> io::Result<AcceptLoop> {
            let local = listener.local_addr()?;
            let retired = Arc::new(AtomicBool::new(false));
            let task = compio::runtime::spawn(accept_loop(
                TcpListener::from_std(listener)?,
                Arc::clone(&current),
                Arc::clone(&sessions),
                Arc::clone(&stop),
                Arc::clone(&retired),
            ));
            Ok(AcceptLoop {
                local,
                retired,
                task,
            })
        };
        let mut loops = listeners
            .into_iter()
            .map(start_loop)
            .collect::<io::Result<Vec<_>>>()?;
        // Changes come until the service stops and drops the sending side.
        while let Some(change) = changes.next().await {
            let (kept, retired): (Vec<_>, Vec<_>) = loops
                .into_iter()
                .partition(|accepting| change.keep.contains(&accepting.local));
            loops = kept;
            for accepting in &retired {
                accepting.retired.store(true, Ordering::Relaxed);
            }
            for accepting in retired {
                let _ = accepting.task.await;
            }
            for listener in change.add {
                match start_loop(listener) {
                    Ok(accepting) => loops.push(accepting),
                    Err(err) => warn!("FTP cannot accept on a reload's new listener: {err}"),
                }
            }
            let _ = change.done.send(());
        }
        for accepting in loops {
            let _ = accepting.task.await;
        }
        Ok(())
    })
}

async fn accept_loop(
    listener: TcpListener,
    current: CurrentShared,
    sessions: Arc<SessionRegistry>,
    stop: Arc<AtomicBool>,
    retired: Arc<AtomicBool>,
) {
    // One accept stays in flight across stop checks: dropping an accept that the kernel has
    // just completed would close the new connection without a word.
    let mut accept = std::pin::pin!(listener.accept());
    while !stop.load(Ordering::Relaxed) && !retired.load(Ordering::Relaxed) {
        let accepted = {
            let tick = std::pin::pin!(compio::time::sleep(STOP_CHECK));
            match select(accept.as_mut(), tick).await {
                Either::Left((accepted, _)) => accepted,
                Either::Right(_) => continue,
            }
        };
        accept.set(listener.accept());
        let (stream, peer) = match accepted {
            Err(err) => {
                warn!("FTP accept failed: {err}");
                compio::time::sleep(STOP_CHECK).await;
                continue;
            }
            Ok(accepted) => accepted,
        };
        // The configuration as it is now: a reload since the last connection counts.
        let shared = Arc::clone(&current.read().unwrap_or_else(|e| e.into_inner()));
        let config = &shared.context.config;
        if config.proxy_protocol
            && config
                .proxy_protocol_from
                .iter()
                .any(|balancer| balancer.contains(peer.ip()))
        {
            let sessions = Arc::clone(&sessions);
            compio::runtime::spawn(async move {
                let mut stream = stream;
                match read_proxy_header(&mut stream).await {
                    Ok(Some(addresses)) => {
                        start_session(&shared, &sessions, stream, addresses.client, true);
                    }
                    // LOCAL (HAProxy's health checks send it): the balancer's own connection,
                    // served but not logged as a client's.
                    Ok(None) => start_session(&shared, &sessions, stream, peer, false),
                    // A health check that connects and closes says nothing: no log line.
                    Err(None) => {}
                    Err(Some(why)) => info!("FTP connection from balancer {peer} closed: {why}"),
                }
            })
            .detach();
            continue;
        }
        start_session(&shared, &sessions, stream, peer, true);
    }
}

/// How long a load balancer may take to send the PROXY header: it sends it at once.
const PROXY_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the PROXY protocol header at the start of `stream`, and not a byte more: what
/// follows may be a TLS handshake (implicit FTPS) the session reads itself.
/// `Err(None)`: the balancer closed without sending a byte (a TCP health check).
async fn read_proxy_header(
    stream: &mut TcpStream,
) -> Result<Option<ProxiedAddresses>, Option<String>> {
    let reading = async {
        let mut received = Vec::with_capacity(proxy_header::MAX_HEADER_LEN);
        loop {
            match proxy_header::parse(&received).map_err(|err| Some(err.to_string()))? {
                ProxyHeader::Complete { addresses, .. } => return Ok(addresses),
                ProxyHeader::Incomplete { needed } => {
                    let start = received.len();
                    let BufResult(read, buffer) = stream
                        .read_exact(received.slice(start..start + needed))
                        .await;
                    received = buffer.into_inner();
                    if let Err(err) = read {
                        let nothing_sent =
                            received.is_empty() && err.kind() == io::ErrorKind::UnexpectedEof;
                        return Err(
                            (!nothing_sent).then(|| format!("before a whole PROXY header: {err}"))
                        );
                    }
                }
            }
        }
    };
    let timeout = compio::time::timeout(PROXY_HEADER_TIMEOUT, reading);
    timeout
        .await
        .unwrap_or_else(|_| Err(Some("no PROXY header within 10 s".to_string())))
}

/// Admits a connection from `peer` (the real client, a PROXY header's when there is one) under
/// the limits and tcp_wrappers, and starts its session or sends the refusal. `log_connect`:
/// whether an admitted connection gets its CONNECT line in vsftpd.log.
fn start_session(
    shared: &Arc<FtpShared>,
    sessions: &Arc<SessionRegistry>,
    stream: TcpStream,
    peer: SocketAddr,
    log_connect: bool,
) {
    let context = &shared.context;
    let admission = match shared.limits.admit(peer.ip()) {
        Ok(admission) => admission,
        Err(refusal) => {
            let (reply, logged) = match refusal {
                Refusal::TooManyClients => {
                    (replies::TOO_MANY_USERS, ConnectRefusal::TooManyClients)
                }
                Refusal::TooManyFromAddress => {
                    (replies::TOO_MANY_FROM_ADDRESS, ConnectRefusal::TooManyPerIp)
                }
            };
            compio::runtime::spawn(refuse(stream, reply.reply())).detach();
            context.log(
                &LogEvent::Connect {
                    remote_ip: peer.ip(),
                    refused: Some(logged),
                },
                realtime_now(),
            );
            return;
        }
    };
    let local = stream.local_addr().ok();
    let session_shared = match shared.for_connection(peer, local) {
        Ok(session_shared) => session_shared,
        Err(Refused::Host) => {
            compio::runtime::spawn(refuse(stream, replies::SERVICE_NOT_AVAILABLE.reply())).detach();
            drop(admission);
            context.log(
                &LogEvent::Connect {
                    remote_ip: peer.ip(),
                    refused: Some(ConnectRefusal::TcpWrappers),
                },
                realtime_now(),
            );
            return;
        }
        Err(Refused::BrokenHostConfig(oops)) => {
            compio::runtime::spawn(refuse(stream, oops)).detach();
            drop(admission);
            return;
        }
    };
    if log_connect {
        context.log(
            &LogEvent::Connect {
                remote_ip: peer.ip(),
                refused: None,
            },
            realtime_now(),
        );
    }
    let session = ControlSession::new(
        stream,
        peer,
        session_shared,
        admission,
        sessions.open(peer, Instant::now()),
    );
    if let Some(session) = session {
        compio::runtime::spawn(session.serve()).detach();
    }
}

async fn refuse(mut stream: TcpStream, reply: Reply) {
    let mut bytes = Vec::new();
    reply.encode(&mut bytes);
    let _ = compio::time::timeout(Duration::from_secs(5), stream.write_all(bytes)).await;
    // Directly: shutdown(2) never blocks, and io_uring would hand it to a worker thread.
    let _ = socket2::SockRef::from(&stream).shutdown(std::net::Shutdown::Write);
}
