//! The I/O shell of one FTP session: control connection, passive listener, data connections.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::{ControlFlow, RangeInclusive};
use std::sync::Arc;
use std::time::{Duration, Instant};

use compio::buf::{BufResult, IntoInner, IoBuf};
use compio::io::{AsyncRead, AsyncWrite};
use compio::net::{TcpListener, TcpSocket, TcpStream};
use futures_util::future::{select, Either};
use tracing::warn;

use super::service::FtpShared;
use super::session_fs::{Credentials, NoFilesystem, SessionFilesystem};
use super::tls::{ControlTls, TlsConnection};
use super::transfer;
use crate::config::vsftpd::FtpConfig;
use crate::ftp::action::{
    Action, DataChannel, DataJob, DataTlsFailure, ListingReply, Transfer, TransferOutcome,
};
use crate::ftp::command;
use crate::ftp::context::SessionContext;
use crate::ftp::filesystem::SessionFs;
use crate::ftp::limits::Admission;
use crate::ftp::login::OpenRoot;
use crate::ftp::registry::SessionHandle;
use crate::ftp::replies::{self, Reply};
use crate::ftp::session::Session;
use crate::ftp::telnet::{LineError, LineReader};
use crate::ftp::throttle::{Throttle, TokenBucket};
use crate::ftp::transfer_log::LogEvent;
use crate::metrics::Counter;
use crate::sys::clock::{monotonic_nanos, realtime_now};

/// Longest command line accepted (vsftpd's limit); longer ones get a 500 and are discarded.
const MAX_COMMAND_LINE: usize = 4096;
/// Bytes read from the control connection at a time.
const CONTROL_READ: usize = 256;

fn seconds(value: u32) -> Option<Duration> {
    (value > 0).then(|| Duration::from_secs(u64::from(value)))
}

struct Connection {
    control: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    output: Vec<u8>,
    passive: Option<TcpListener>,
    shared: Arc<FtpShared>,
    /// The session's options: the server's, then its user's once logged in.
    config: Arc<FtpConfig>,
    /// The session's files, with its credentials: nothing until it logs in.
    fs: Box<dyn SessionFs>,
    lines: LineReader,
    registration: SessionHandle,
    /// The control connection's TLS, after AUTH. Boxed: most sessions have none.
    tls: Option<Box<ControlTls>>,
}

/// One admitted control connection: its I/O shell, its session state machine, and its place
/// under max_clients/max_per_ip, held until the session ends.
///
/// Its future is what an idle session costs, so its layout is kept tight: the state lives in
/// this struct and is used in place (an async fn's moved arguments keep their slots), action
/// processing and line reading are separate futures that share space, and transfers are
/// boxed.
pub struct ControlSession {
    connection: Connection,
    session: Session,
    _admission: Admission,
}

enum NextLine {
    Line(Result<Vec<u8>, LineError>),
    Closed,
    IdleTimeout,
}

impl ControlSession {
    /// Prepares an accepted control connection; `registration` shows it in
    /// `ringctl ftp sessions` until it ends. `None` if the connection is already gone.
    pub fn new(
        control: TcpStream,
        peer: SocketAddr,
        shared: Arc<FtpShared>,
        admission: Admission,
        registration: SessionHandle,
    ) -> Option<ControlSession> {
        let local = control.local_addr().ok()?;
        // Replies are small writes that must leave at once: with Nagle's algorithm a reply
        // sent while the previous one is unacknowledged waits for the client's delayed ACK
        // (~40 ms).
        let _ = control.set_nodelay(true);
        // Clients send ABOR as urgent data (ftplib marks it MSG_OOB, others send Telnet
        // Synch): keep it in the stream so the command arrives whole.
        let _ = socket2::SockRef::from(&control).set_out_of_band_inline(true);
        Some(ControlSession {
            session: Session::new(
                Arc::clone(&shared.context),
                peer,
                local,
                admission.clients_at_admission(),
            ),
            connection: Connection {
                control,
                peer,
                local,
                output: Vec::new(),
                passive: None,
                config: Arc::clone(&shared.context.config),
                shared,
                fs: Box::new(NoFilesystem),
                lines: LineReader::new(MAX_COMMAND_LINE),
                registration,
                tls: None,
            },
            _admission: admission,
        })
    }

    /// Serves the session until it ends.
    #[allow(
        clippy::manual_async_fn,
        reason = "an async fn would keep `self` twice in its future, as the argument and as the \
                  local it is moved to; a block uses the capture in place"
    )]
    pub fn serve(mut self) -> impl Future<Output = ()> {
        async move {
            let mut queue = ActionQueue::from(self.session.greeting());
            loop {
                if self.perform(queue).await.is_break() {
                    break;
                }
                queue = ActionQueue::from(match self.connection.next_line().await {
                    NextLine::Line(line) => {
                        self.session
                            .on_line(line, realtime_now(), &*self.connection.fs)
                    }
                    NextLine::IdleTimeout => self.session.idle_timeout(),
                    NextLine::Closed => break,
                });
            }
            self.session.end(&*self.connection.fs);
        }
    }

    /// Carries out `queue` and the actions it leads to, then sends the replies; `Break` when
    /// the session is over.
    async fn perform(&mut self, mut queue: ActionQueue) -> ControlFlow<()> {
        let connection = &mut self.connection;
        let session = &mut self.session;
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Reply(reply) => reply.encode(&mut connection.output),
                Action::Pause(delay) => {
                    if connection.flush().await.is_err() {
                        return ControlFlow::Break(());
                    }
                    compio::time::sleep(delay).await;
                }
                Action::Close => {
                    let _ = connection.flush().await;
                    return ControlFlow::Break(());
                }
                Action::StartTls => {
                    if Box::pin(connection.start_tls()).await.is_err() {
                        return ControlFlow::Break(());
                    }
                }
                Action::ListenPassive => {
                    let port = connection.listen_passive();
                    queue.append(session.passive_listening(port));
                }
                Action::Authenticate(request) => {
                    if connection.flush().await.is_err() {
                        return ControlFlow::Break(());
                    }
                    let outcome = Box::pin(
                        connection
                            .shared
                            .authenticator
                            .verify(Arc::clone(&connection.shared.context), *request),
                    )
                    .await;
                    queue.append(session.authenticated(outcome));
                }
                Action::OpenRoot(open) => {
                    let opened = connection.open_root(&open);
                    queue.append(session.root_opened(opened, &*connection.fs));
                    connection.config = session.config_handle();
                }
                Action::ListingReply(reply) => {
                    if Box::pin(connection.stream_reply(*reply)).await.is_err() {
                        return ControlFlow::Break(());
                    }
                }
                Action::Lock(request) => {
                    if connection.flush().await.is_err() {
                        return ControlFlow::Break(());
                    }
                    let limit = seconds(connection.config.data_connection_timeout);
                    let locked = Box::pin(transfer::lock(&request.file, request.kind, limit)).await;
                    queue.append(session.file_locked(request.file, locked, &*connection.fs));
                }
                Action::Transfer(transfer) => {
                    // Boxed: the transfer's state is large, and an idle session, which is most
                    // sessions, should not carry room for it.
                    let outcome = Box::pin(connection.transfer(*transfer)).await;
                    queue.append(session.transfer_finished(outcome, &*connection.fs));
                }
                Action::Log(event) => {
                    // The session announces a login only through its log event.
                    if let LogEvent::Login { ok: true, user, .. } = &*event {
                        connection.registration.logged_in(user);
                    }
                    connection.context().log(&event, realtime_now());
                }
            }
        }
        match connection.flush().await {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        }
    }
}

/// The actions a session asked for, taken in order; actions they lead to go to the back.
/// Built from the session's own vector (no copy), and gone once drained: an idle session,
/// which waits with an empty queue, holds no buffer for it.
struct ActionQueue(VecDeque<Action>);

impl From<Vec<Action>> for ActionQueue {
    fn from(actions: Vec<Action>) -> ActionQueue {
        ActionQueue(actions.into())
    }
}

impl ActionQueue {
    fn pop_front(&mut self) -> Option<Action> {
        let action = self.0.pop_front();
        if self.0.is_empty() {
            self.0 = VecDeque::new();
        }
        action
    }

    fn append(&mut self, actions: Vec<Action>) {
        if self.0.is_empty() {
            self.0 = actions.into();
        } else {
            self.0.extend(actions);
        }
    }
}

impl Connection {
    fn context(&self) -> &SessionContext {
        &self.shared.context
    }

    /// Opens the session's root with the credentials it asked for and makes it the session's
    /// filesystem; false when it cannot be entered.
    fn open_root(&mut self, open: &OpenRoot) -> bool {
        let shared = &self.shared;
        let credentials = shared.identities.credentials(&open.identity);
        // vsftpd enters anonymous and guest roots as root. The session's own credentials are
        // tried first: they can nearly always, it spares two switches per login, and ringd's
        // rights are used only where the user's cannot reach the root.
        let opened = shared.roots.jail(&open.root, &credentials).or_else(|err| {
            if open.as_session {
                Err(err)
            } else {
                shared.roots.jail(&open.root, &Credentials::Process)
            }
        });
        match opened {
            Ok(jail) => {
                self.fs = Box::new(SessionFilesystem::new(jail, credentials));
                true
            }
            Err(err) => {
                tracing::info!(
                    "FTP login from {}: cannot enter {}: {err}",
                    self.peer.ip(),
                    open.root.display()
                );
                false
            }
        }
    }

    /// A multi-line reply whose middle is a listing (`STAT path`), written a chunk at a time
    /// so it never sits in memory whole.
    async fn stream_reply(&mut self, reply: ListingReply) -> io::Result<()> {
        replies::push_first_line(&mut self.output, reply.code, reply.first.as_bytes());
        if let Some(mut listing) = reply.listing {
            loop {
                let more = listing.next_chunk(&*self.fs, &mut self.output);
                self.flush().await?;
                if !more {
                    break;
                }
            }
        }
        Reply::new(reply.code, reply.last).encode(&mut self.output);
        Ok(())
    }

    /// The control connection's handshake: AUTH's, once its 234 is out, or implicit_ssl's
    /// before the greeting. The session ends when it fails, as vsftpd's, or when it takes
    /// longer than `idle_session_timeout`, which vsftpd's alarm also bounds it by.
    async fn start_tls(&mut self) -> io::Result<()> {
        self.flush().await?;
        // Bytes that came after AUTH in the clear would be taken as commands sent over TLS
        // (the STARTTLS injection of CVE-2011-0411): a client that sends any ends its session.
        if self.lines.buffered() > 0 {
            tracing::info!(
                "FTP AUTH from {}: commands sent in the clear after AUTH: session ended",
                self.peer.ip()
            );
            return Err(io::ErrorKind::InvalidData.into());
        }
        let shared = Arc::clone(&self.shared);
        let server = shared.tls.as_ref().ok_or(io::ErrorKind::Unsupported)?;
        let handshake = server.accept_control(&mut self.control);
        let accepted = match seconds(self.config.idle_session_timeout) {
            Some(limit) => compio::time::timeout(limit, handshake)
                .await
                .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into())),
            None => handshake.await,
        };
        match accepted {
            Ok(tls) => {
                self.debug_ssl(|| tls.connection.debug_summary());
                self.tls = Some(Box::new(tls));
                Ok(())
            }
            Err(err) => {
                tracing::info!(
                    "FTP TLS from {}: the control connection's handshake failed: {err}",
                    self.peer.ip()
                );
                self.debug_ssl(|| format!("SSL_accept failed: {err}"));
                Err(err)
            }
        }
    }

    /// `debug_ssl=YES`: a line about a handshake in vsftpd.log.
    fn debug_ssl(&self, message: impl FnOnce() -> String) {
        if self.config.debug_ssl {
            let event = LogEvent::Debug {
                remote_ip: self.peer.ip(),
                user: self.registration.user(),
                message: message(),
            };
            self.context().log(&event, realtime_now());
        }
    }

    /// Sends the queued replies. The buffer is dropped once written rather than kept for the
    /// next reply: an idle session then holds none. (A loop of writes, not write_all, whose
    /// larger future every session would carry.)
    async fn flush(&mut self) -> io::Result<()> {
        if let Some(tls) = &mut self.tls {
            let pending = std::mem::take(&mut self.output);
            // Boxed, as every TLS step here: a plain session's future keeps no room for it.
            return Box::pin(tls.connection.write_all(&mut self.control, &pending)).await;
        }
        let mut pending = std::mem::take(&mut self.output);
        while !pending.is_empty() {
            let BufResult(written, mut buffer) = self.control.write(pending).await;
            match written? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => {
                    buffer.drain(..n);
                    pending = buffer;
                }
            }
        }
        Ok(())
    }

    /// The next command line, reading the control connection as needed, within
    /// `idle_session_timeout`.
    ///
    /// The limit counts from the call, which follows the last command (or the greeting), as
    /// vsftpd's alarm does: the bytes of an unfinished line do not restart it, or a client
    /// sending one byte a second would hold its session forever.
    async fn next_line(&mut self) -> NextLine {
        let limit = seconds(self.config.idle_session_timeout);
        // One timer for every read of the line. Not compio::time::timeout: its future keeps
        // two copies of the read's.
        let mut expiry = std::pin::pin!(async move {
            match limit {
                Some(limit) => compio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        });
        loop {
            if let Some(line) = self.lines.next_line() {
                return NextLine::Line(line);
            }
            if let Some(tls) = &mut self.tls {
                let mut plaintext = vec![0; CONTROL_READ];
                let read = Box::pin(tls.connection.read(&mut self.control, &mut plaintext));
                let received = match select(read, expiry.as_mut()).await {
                    Either::Left((Ok(n), _)) if n > 0 => n,
                    Either::Left(_) => return NextLine::Closed,
                    Either::Right(_) => return NextLine::IdleTimeout,
                };
                self.lines.push(&plaintext[..received]);
                continue;
            }
            let read = std::pin::pin!(self.control.read(Vec::with_capacity(CONTROL_READ)));
            let result = match select(read, expiry.as_mut()).await {
                Either::Left((result, _)) => result,
                Either::Right(_) => return NextLine::IdleTimeout,
            };
            match result {
                BufResult(Ok(0), _) | BufResult(Err(_), _) => return NextLine::Closed,
                BufResult(Ok(n), buffer) => self.lines.push(&buffer[..n]),
            }
        }
    }

    /// Binds a passive listener on the control connection's local address within the
    /// configured port range; `None` if no port is free.
    fn listen_passive(&mut self) -> Option<u16> {
        self.passive = None;
        let (listener, port) = bind_in_range(self.local.ip(), self.config.pasv_ports())?;
        self.passive = Some(TcpListener::from_std(listener).ok()?);
        Some(port)
    }

    async fn open_data(&mut self, channel: DataChannel) -> Result<TcpStream, TransferOutcome> {
        let config = Arc::clone(&self.config);
        match channel {
            DataChannel::Passive { check_peer } => {
                let listener = self.passive.take().ok_or(TransferOutcome::NoConnection)?;
                let client = self.peer;
                let accept = async {
                    loop {
                        let (stream, from) = listener.accept().await?;
                        if !check_peer || same_host(from.ip(), client.ip()) {
                            return io::Result::Ok(stream);
                        }
                        // vsftpd fails the transfer here (425 Security: Bad IP connecting.),
                        // which lets anyone who reaches the port first break the client's
                        // transfer. Turning the stranger away keeps the port for the client.
                        warn!(
                            thief = %from,
                            client = %client,
                            "FTP passive data connection from another address than the \
                             client's: closed it, still waiting for the client"
                        );
                        drop(stream);
                    }
                };
                let accepted = match seconds(config.accept_timeout) {
                    Some(limit) => compio::time::timeout(limit, accept)
                        .await
                        .map_err(|_| TransferOutcome::NoConnection)?,
                    None => accept.await,
                };
                let stream = accepted.map_err(|_| TransferOutcome::NoConnection)?;
                let _ = stream.set_nodelay(true);
                Ok(stream)
            }
            DataChannel::Active(target) => {
                // The data connection leaves from the control connection's address; from
                // port 20 (ftp_data_port) with connect_from_port_20, which needs privilege.
                let port = if config.connect_from_port_20 {
                    config.ftp_data_port
                } else {
                    0
                };
                let source = SocketAddr::new(self.local.ip(), port);
                let connect = connect_from(source, target);
                let connected = match seconds(config.connect_timeout) {
                    Some(limit) => compio::time::timeout(limit, connect)
                        .await
                        .map_err(|_| TransferOutcome::NoConnection)?,
                    None => connect.await,
                };
                let stream = connected.map_err(|_| TransferOutcome::NoConnection)?;
                let _ = stream.set_nodelay(true);
                Ok(stream)
            }
        }
    }

    async fn transfer(&mut self, transfer: Transfer) -> TransferOutcome {
        let started = realtime_now();
        let clock = Instant::now();
        // Only file transfers carry a record; the rest are listings.
        let moved = match &transfer.record {
            Some(record) => self
                .registration
                .file_transfer(record.direction, &record.path),
            None => {
                self.registration.listing();
                Arc::new(Counter::default())
            }
        };
        let outcome = self
            .move_data(
                transfer.channel,
                transfer.opening,
                transfer.job,
                transfer.max_rate,
                transfer.private,
                &moved,
            )
            .await;
        self.registration.idle();
        if let Some(mut record) = transfer.record {
            record.start = started;
            record.duration = clock.elapsed();
            (record.bytes, record.complete) = match outcome {
                TransferOutcome::Complete { bytes } => (bytes, true),
                TransferOutcome::NetworkFailed { bytes }
                | TransferOutcome::FileFailed { bytes }
                | TransferOutcome::NoSpace { bytes }
                | TransferOutcome::Aborted { bytes }
                | TransferOutcome::TimedOut { bytes } => (bytes, false),
                TransferOutcome::NoConnection | TransferOutcome::TlsFailed { .. } => (0, false),
            };
            self.context()
                .log(&LogEvent::Transfer(record), realtime_now());
        }
        outcome
    }

    async fn move_data(
        &mut self,
        channel: DataChannel,
        opening: Reply,
        job: DataJob,
        max_rate: u64,
        private: bool,
        moved: &Counter,
    ) -> TransferOutcome {
        let mut data = match self.open_data(channel).await {
            Ok(data) => data,
            Err(outcome) => return outcome,
        };
        opening.encode(&mut self.output);
        if self.flush().await.is_err() {
            return TransferOutcome::NetworkFailed { bytes: 0 };
        }
        // PROT P: the handshake follows the 150, as vsftpd's.
        let tls = if private {
            match self.data_tls(&mut data).await {
                Ok(tls) => Some(tls),
                Err(outcome) => return outcome,
            }
        } else {
            None
        };
        // The limits start counting now the data can move: time spent waiting for the data
        // connection would otherwise fill the buckets and go out as a burst.
        let now = monotonic_nanos();
        let throttle = Throttle::new(
            (max_rate > 0).then(|| TokenBucket::new(max_rate, now)),
            self.shared
                .context
                .total_rate
                .as_ref()
                .map(|total| total.join(now)),
        );
        let stall = seconds(self.config.data_connection_timeout).unwrap_or(Duration::MAX);
        let engine = transfer::Engine::of(&self.config);
        // The listing reads the session's files while the transfer runs; the connection's
        // other fields are the transfer's meanwhile.
        let fs = std::mem::replace(&mut self.fs, Box::new(NoFilesystem));
        let outcome = match tls {
            Some(tls) => {
                self.watch_transfer(
                    transfer::run_tls(data, tls, job, stall, throttle, moved, &*fs),
                    moved,
                )
                .await
            }
            None => {
                self.watch_transfer(
                    transfer::run(data, job, engine, stall, throttle, moved, &*fs),
                    moved,
                )
                .await
            }
        };
        self.fs = fs;
        outcome
    }

    /// The data connection's TLS handshake, resuming the control connection's session when
    /// `require_ssl_reuse` asks for it: a data connection that does not resume may come from
    /// whoever took the data port, whatever certificate it shows.
    async fn data_tls(&mut self, data: &mut TcpStream) -> Result<TlsConnection, TransferOutcome> {
        let handshake_failed = TransferOutcome::TlsFailed(DataTlsFailure::Handshake);
        let Some(control) = self.tls.as_ref() else {
            return Err(handshake_failed);
        };
        let stall = seconds(self.config.data_connection_timeout).unwrap_or(Duration::MAX);
        let mut tls = match compio::time::timeout(stall, control.accept_data(data)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(err)) => {
                self.debug_ssl(|| format!("SSL_accept failed: {err}"));
                return Err(handshake_failed);
            }
            Err(_) => return Err(handshake_failed),
        };
        self.debug_ssl(|| tls.debug_summary());
        let refused = if self.config.require_ssl_reuse && !tls.resumed() {
            tracing::info!(
                "FTP data connection from {}: no TLS session reuse on the data channel",
                self.peer.ip()
            );
            Some(DataTlsFailure::NotResumed)
        } else {
            // A client that proved a certificate on the control connection must show the
            // same one here, as vsftpd checks.
            let expected = control.connection.client_certificate();
            (expected.is_some() && tls.client_certificate() != expected).then(|| {
                tracing::info!(
                    "FTP data connection from {}: not the control connection's client certificate",
                    self.peer.ip()
                );
                DataTlsFailure::OtherCertificate
            })
        };
        match refused {
            Some(failure) => {
                // Ended as vsftpd ends it, with close_notify: the client sees a refusal, not
                // a cut connection.
                let _ = compio::time::timeout(stall, tls.close(data)).await;
                Err(TransferOutcome::TlsFailed(failure))
            }
            None => Ok(tls),
        }
    }

    /// Runs `transfer` while watching the control connection for ABOR.
    async fn watch_transfer(
        &mut self,
        transfer: impl Future<Output = TransferOutcome>,
        moved: &Counter,
    ) -> TransferOutcome {
        let mut transfer = std::pin::pin!(transfer);
        // While the data moves, watch the control connection for ABOR, whose parts may come
        // in separate reads (a client's Ctrl-C sends Telnet IP and Synch as urgent data, then
        // the command). Lines read stay in the reader: any other command stops the watch and
        // is served once the transfer is over, as in vsftpd. The reader's line limit bounds
        // what the watch holds.
        loop {
            match self.lines.peek_line() {
                Some(Ok(line)) if command::verb(&line) == "ABOR" => {
                    let _ = self.lines.next_line();
                    return TransferOutcome::Aborted { bytes: moved.get() };
                }
                Some(_) => break,
                None => {}
            }
            // Peek, then read what the peek saw: a read raced against the transfer could
            // take bytes and be dropped with them when the transfer ends first, while a
            // dropped peek loses nothing, and a read of bytes already there completes.
            let available = {
                let peek = std::pin::pin!(self.control.peek(Vec::with_capacity(CONTROL_READ)));
                match select(transfer.as_mut(), peek).await {
                    Either::Left((outcome, _)) => return outcome,
                    Either::Right((BufResult(Ok(n), _), _)) if n > 0 => n,
                    // Closed or failed: the transfer finishes, and the session ends after.
                    Either::Right(_) => break,
                }
            };
            // Over TLS what the peek saw is records: taken whole, they give the lines they
            // complete (vsftpd does not watch for ABOR over TLS; clients send it all the same).
            if let Some(tls) = &mut self.tls {
                let mut plaintext = Vec::new();
                let read = Box::pin(tls.connection.read_peeked(
                    &mut self.control,
                    available,
                    &mut plaintext,
                ));
                match read.await {
                    Ok(open) => {
                        self.lines.push(&plaintext);
                        if !open {
                            break;
                        }
                    }
                    Err(_) => break,
                }
                continue;
            }
            let buffer = Vec::with_capacity(available).slice(..available);
            match self.control.read(buffer).await {
                BufResult(Ok(n), buffer) if n > 0 => self.lines.push(&buffer.into_inner()[..n]),
                BufResult(_, _) => break,
            }
        }
        transfer.await
    }
}

async fn connect_from(source: SocketAddr, target: SocketAddr) -> io::Result<TcpStream> {
    // An IPv4 client of a dual-stack listener (`listen_ipv6=YES`) reached us at an IPv4-mapped
    // address, but PORT and EPRT |1| name a plain IPv4 target, which an IPv6 socket cannot
    // reach: the data connection is IPv4 from the same address, as vsftpd's is.
    let (source, target) = (unmapped(source), unmapped(target));
    let socket = if source.is_ipv6() {
        TcpSocket::new_v6().await?
    } else {
        TcpSocket::new_v4().await?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(source).await?;
    socket.connect(target).await
}

fn unmapped(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

fn same_host(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

/// A listener on `ip` at a free port of `ports`, and that port.
fn bind_in_range(ip: IpAddr, ports: RangeInclusive<u16>) -> Option<(std::net::TcpListener, u16)> {
    use socket2::{Domain, Socket, Type};
    let try_port = |port: u16| -> Option<(std::net::TcpListener, u16)> {
        let addr = SocketAddr::new(ip, port);
        let socket =
            Socket::new(Domain::for_address(addr), Type::STREAM.nonblocking(), None).ok()?;
        // Passive ports are reused quickly under load; without this a port whose last data
        // connection is in TIME_WAIT (60 s) could not be listened on again.
        socket.set_reuse_address(true).ok()?;
        socket.bind(&addr.into()).ok()?;
        socket.listen(1).ok()?;
        // Port 0 (no range configured) lets the kernel choose; only then ask which it was.
        let port = match port {
            0 => socket.local_addr().ok()?.as_socket()?.port(),
            chosen => chosen,
        };
        Some((socket.into(), port))
    };
    let (first, last) = (u32::from(*ports.start()), u32::from(*ports.end()));
    if last < first {
        return None;
    }
    // Start at a pseudo-random port of the range so concurrent sessions rarely collide, and
    // so the next data port is not predictable.
    let span = last - first + 1;
    let start = realtime_now().nanos % span;
    (0..span).find_map(|i| try_port((first + (start + i) % span) as u16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_active_connection_from_an_ipv4_mapped_address_reaches_an_ipv4_client() {
        let client = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let target = client.local_addr().unwrap();
        let source: SocketAddr = "[::ffff:127.0.0.1]:0".parse().unwrap();
        let connected = compio::runtime::Runtime::new()
            .unwrap()
            .block_on(async { connect_from(source, target).await.map(|s| s.peer_addr()) });
        assert_eq!(connected.unwrap().unwrap(), target);
        let (_, from) = client.accept().unwrap();
        assert_eq!(from.ip(), IpAddr::from([127, 0, 0, 1]));
    }

    #[test]
    fn only_ipv4_mapped_addresses_are_unmapped() {
        let mapped: SocketAddr = "[::ffff:192.0.2.7]:20".parse().unwrap();
        assert_eq!(unmapped(mapped), "192.0.2.7:20".parse().unwrap());
        for kept in ["[::1]:20", "[2001:db8::7]:20", "127.0.0.1:20"] {
            let addr: SocketAddr = kept.parse().unwrap();
            assert_eq!(unmapped(addr), addr);
        }
    }
}
