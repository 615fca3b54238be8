//! The NTS-KE server's I/O shell: its own thread and runtime, TLS 1.3 on `ntsport`, keys exported from each session, cookies, key rotation and `ntsdumpdir`.
//!
//! It runs beside the NTP shards, never on them: a handshake's cryptography would otherwise
//! delay time requests.

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use compio::net::{TcpListener, TcpStream};
use futures_util::future::{select, Either};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tracing::{info, warn};

use crate::ntp::nts_cookies::{KeyMaterial, ServerKeys, SessionKeys, DUMP_FILE_NAME};
use crate::ntp::nts_ke::{
    self, Negotiation, NtpService, RequestState, COOKIES_PER_HANDSHAKE, EXPORTER_LABEL,
};
use crate::output_files::replace_file;
use crate::shard::ftp::tls::{crypto_provider, TlsConnection};
use crate::sys::crypt::fill_random;

/// How long a client has for its handshake and request, as chronyd (SERVER_TIMEOUT).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);
/// Connections the kernel queues beyond the ones being served.
const LISTEN_BACKLOG: i32 = 128;
/// How often the loops look at the stop flag and the rotation clock.
const TICK: Duration = Duration::from_millis(100);

/// The cookie keys the KE server seals with and the NTP shards open with.
pub type SharedServerKeys = Arc<RwLock<ServerKeys>>;

/// What the KE server needs from chrony.conf.
pub struct KeSettings {
    pub tls: Arc<ServerConfig>,
    /// `maxntsconnections`: connections in progress at once; more wait in the backlog.
    pub max_connections: usize,
    pub service: NtpService,
    /// `ntsrotate`: seconds between key rotations; 0 leaves the keys to the admin.
    pub rotate_every: Duration,
    /// `ntsdumpdir`: where the keys are saved and read back at start.
    pub dump_dir: Option<PathBuf>,
}

/// A running KE server.
pub struct KeService {
    local: Vec<SocketAddr>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl KeService {
    /// The addresses it listens on (an ephemeral `ntsport` resolved).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local
    }
}

impl Drop for KeService {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Why the KE server's TLS cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum KeSetupError {
    #[error("ntsservercert {}: {reason}; give a PEM file holding the server's certificate chain", .path.display())]
    Certificate { path: PathBuf, reason: String },
    #[error("ntsserverkey {}: {source}; give a PEM file holding the server's private key", .path.display())]
    Key {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("ntsservercert {} and its ntsserverkey do not go together, or TLS cannot use their kind ({source}); give the key that belongs to the certificate", .path.display())]
    Mismatch {
        path: PathBuf,
        source: rustls::Error,
    },
}

/// TLS 1.3 only with ALPN `ntske/1`, as RFC 8915 requires, from `ntsservercert` and
/// `ntsserverkey`; no session tickets (a KE client makes one handshake).
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, KeSetupError> {
    let certificate_error = |reason: String| KeSetupError::Certificate {
        path: cert.to_path_buf(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|err| certificate_error(err.to_string()))?;
    if chain.is_empty() {
        return Err(certificate_error("no certificate in it".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|source| KeSetupError::Key {
        path: key.to_path_buf(),
        source,
    })?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(crypto_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("every provider serves TLS 1.3")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|source| KeSetupError::Mismatch {
            path: cert.to_path_buf(),
            source,
        })?;
    config.alpn_protocols = vec![nts_ke::ALPN.to_vec()];
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// A listening socket for `ntsport` on `addr`: IPv6 sockets take IPv6 only, so that `::`
/// and `0.0.0.0` both bind, as chronyd binds them.
pub fn bind(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// Random bytes for a new server key.
fn new_key_material() -> KeyMaterial {
    let mut material = [0u8; 36];
    fill_random(&mut material).expect("the kernel's random source");
    material
}

/// The keys saved in `dump_dir`, or new ones when there are none (or they cannot be read,
/// which is logged): what chronyd does at start.
pub fn initial_keys(dump_dir: Option<&Path>) -> ServerKeys {
    let saved = match dump_dir.map(read_saved_keys) {
        Some(Ok(saved)) => saved,
        Some(Err(why)) => {
            warn!("{why}; new NTS server keys made");
            None
        }
        None => None,
    };
    saved.unwrap_or_else(|| ServerKeys::generate(new_key_material))
}

/// Replaces the served keys with those saved in `dump_dir`, for a reload: how the servers of a
/// fleet that share one node's keys (`ntsrotate 0` on the others) take up a rotation. The
/// keys served stay when the file is missing or unreadable, which is logged.
pub fn reload_keys(dump_dir: &Path, keys: &SharedServerKeys) {
    match read_saved_keys(dump_dir) {
        Ok(Some(saved)) => *keys.write().unwrap_or_else(|e| e.into_inner()) = saved,
        Ok(None) => warn!(
            "{}: no saved NTS server keys; the keys served stay",
            dump_dir.join(DUMP_FILE_NAME).display()
        ),
        Err(why) => warn!("{why}; the NTS server keys served stay"),
    }
}

/// The keys in `dump_dir`'s file; `None` when there is no such file.
fn read_saved_keys(dump_dir: &Path) -> Result<Option<ServerKeys>, String> {
    let path = dump_dir.join(DUMP_FILE_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(format!("cannot read {}: {err}", path.display())),
    };
    let keys = ServerKeys::from_dump(&text, new_key_material)
        .map_err(|err| format!("{}: {err}", path.display()))?;
    info!("Loaded NTS server keys from {}", path.display());
    Ok(Some(keys))
}

fn save_keys(dir: &Path, keys: &ServerKeys, current_age: Duration) {
    let path = dir.join(DUMP_FILE_NAME);
    if let Err(err) = replace_file(&path, keys.to_dump(current_age).as_bytes(), 0o600) {
        warn!("cannot save NTS server keys to {}: {err}", path.display());
    }
}

/// Starts the KE server on its own thread, on `listeners` (bound to `ntsport`).
pub fn start(
    listeners: Vec<std::net::TcpListener>,
    settings: KeSettings,
    keys: SharedServerKeys,
) -> io::Result<KeService> {
    let local = listeners
        .iter()
        .map(std::net::TcpListener::local_addr)
        .collect::<io::Result<Vec<_>>>()?;
    if let Some(dir) = settings.dump_dir.as_deref() {
        // Saved before ringd says it is ready, so that other servers can copy the file then.
        if !settings.rotate_every.is_zero() {
            let keys = keys.read().unwrap_or_else(|e| e.into_inner());
            save_keys(dir, &keys, keys.current_age());
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = Arc::clone(&stop);
        crate::privileges::spawn("nts-ke".into(), crate::privileges::Role::NtsKe, move || {
            if let Err(err) = run(listeners, settings, keys, stop) {
                warn!("the NTS-KE server stopped: {err}");
            }
        })?
    };
    Ok(KeService {
        local,
        stop,
        thread: Some(thread),
    })
}

fn run(
    listeners: Vec<std::net::TcpListener>,
    settings: KeSettings,
    keys: SharedServerKeys,
    stop: Arc<AtomicBool>,
) -> io::Result<()> {
    let runtime = crate::shard::single_thread_runtime()?;
    runtime.block_on(async move {
        let settings = Rc::new(settings);
        let open = Rc::new(Cell::new(0usize));
        let mut loops = Vec::new();
        for listener in listeners {
            loops.push(compio::runtime::spawn(accept_loop(
                TcpListener::from_std(listener)?,
                Rc::clone(&settings),
                Arc::clone(&keys),
                Rc::clone(&open),
                Arc::clone(&stop),
            )));
        }
        rotate_keys(&settings, &keys, &stop).await;
        for task in loops {
            let _ = task.await;
        }
        Ok(())
    })
}

/// Rotates the keys every `ntsrotate` and saves them, the current key's age carried over a
/// restart through the file, as chronyd does.
async fn rotate_keys(settings: &KeSettings, keys: &SharedServerKeys, stop: &AtomicBool) {
    let start_age = keys.read().unwrap_or_else(|e| e.into_inner()).current_age();
    let mut current_since = Instant::now() - start_age;
    if settings.rotate_every.is_zero() {
        // chronyd saves nothing then: the keys are the admin's to manage (and share).
        while !stop.load(Ordering::Relaxed) {
            compio::time::sleep(TICK).await;
        }
        return;
    }
    while !stop.load(Ordering::Relaxed) {
        compio::time::sleep(TICK).await;
        if current_since.elapsed() < settings.rotate_every {
            continue;
        }
        let rotated = {
            let mut keys = keys.write().unwrap_or_else(|e| e.into_inner());
            keys.rotate(new_key_material());
            keys.clone()
        };
        current_since = Instant::now();
        info!("NTS server key rotated (key {:08X})", rotated.current_id());
        if let Some(dir) = &settings.dump_dir {
            save_keys(dir, &rotated, Duration::ZERO);
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    settings: Rc<KeSettings>,
    keys: SharedServerKeys,
    open: Rc<Cell<usize>>,
    stop: Arc<AtomicBool>,
) {
    let mut accept = std::pin::pin!(listener.accept());
    while !stop.load(Ordering::Relaxed) {
        if open.get() >= settings.max_connections {
            compio::time::sleep(TICK).await;
            continue;
        }
        let accepted = {
            let tick = std::pin::pin!(compio::time::sleep(TICK));
            match select(accept.as_mut(), tick).await {
                Either::Left((accepted, _)) => accepted,
                Either::Right(_) => continue,
            }
        };
        accept.set(listener.accept());
        let (stream, _) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                warn!("NTS-KE accept failed: {err}");
                compio::time::sleep(TICK).await;
                continue;
            }
        };
        // The answer and close_notify follow the handshake's flight at once: Nagle's algorithm
        // would hold them for the client's delayed ACK.
        let _ = stream.set_nodelay(true);
        open.set(open.get() + 1);
        let (settings, keys, open) = (Rc::clone(&settings), Arc::clone(&keys), Rc::clone(&open));
        compio::runtime::spawn(async move {
            let exchange = std::pin::pin!(exchange(stream, &settings, &keys));
            let timeout = std::pin::pin!(compio::time::sleep(CLIENT_TIMEOUT));
            // A client that errs or is too slow is dropped: it learns nothing from a reason.
            let _ = select(exchange, timeout).await;
            open.set(open.get() - 1);
        })
        .detach();
    }
}

/// One KE connection: handshake, request, answer with cookies, close_notify.
async fn exchange(
    mut stream: TcpStream,
    settings: &KeSettings,
    keys: &SharedServerKeys,
) -> io::Result<()> {
    let mut tls = TlsConnection::accept(Arc::clone(&settings.tls), &mut stream).await?;
    let mut request = Vec::new();
    let mut chunk = [0u8; 1024];
    let negotiation = loop {
        let read = tls.read(&mut stream, &mut chunk).await?;
        request.extend_from_slice(&chunk[..read]);
        match nts_ke::read_request(&request, read == 0) {
            RequestState::Complete(negotiation) => break negotiation,
            RequestState::Incomplete => {}
        }
    };
    let mut cookies = Vec::new();
    if negotiation == Negotiation::Agreed {
        let session = SessionKeys {
            c2s: tls.export_keying_material(EXPORTER_LABEL, &nts_ke::exporter_context(false))?,
            s2c: tls.export_keying_material(EXPORTER_LABEL, &nts_ke::exporter_context(true))?,
        };
        let keys = keys.read().unwrap_or_else(|e| e.into_inner());
        for _ in 0..COOKIES_PER_HANDSHAKE {
            let mut nonce = [0u8; 16];
            fill_random(&mut nonce)?;
            cookies.push(keys.seal(&session, nonce).to_vec());
        }
    }
    let answer = nts_ke::write_response(negotiation, &settings.service, &cookies);
    tls.write_all(&mut stream, &answer).await?;
    tls.close(&mut stream).await
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;
    use crate::test_dirs::TempDir;

    /// A KE client as RFC 8915 describes one: TLS 1.3 with ALPN `ntske/1`, the usual request,
    /// the answer read to the end; returns the answer and the keys the client exported.
    fn ke_client(
        addr: SocketAddr,
        root: CertificateDer<'static>,
        alpn: &[u8],
    ) -> io::Result<(Vec<u8>, SessionKeys)> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(root).unwrap();
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(crypto_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![alpn.to_vec()];
        let name = "localhost".try_into().unwrap();
        let mut connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut socket = std::net::TcpStream::connect(addr)?;
        socket.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut stream = rustls::Stream::new(&mut connection, &mut socket);
        // Next Protocol NTPv4 (critical), AEAD AES-SIV-CMAC-256, End of Message.
        stream.write_all(&[0x80, 1, 0, 2, 0, 0, 0, 4, 0, 2, 0, 15, 0x80, 0, 0, 0])?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        let export = |context| {
            connection
                .export_keying_material([0u8; 32], EXPORTER_LABEL, Some(context))
                .unwrap()
        };
        let keys = SessionKeys {
            c2s: export(&nts_ke::exporter_context(false)),
            s2c: export(&nts_ke::exporter_context(true)),
        };
        Ok((answer, keys))
    }

    /// The cookies (type 5 records) of an answer.
    fn cookies(answer: &[u8]) -> Vec<Vec<u8>> {
        let mut found = Vec::new();
        let mut at = 0;
        while at + 4 <= answer.len() {
            let kind = u16::from_be_bytes([answer[at], answer[at + 1]]) & 0x7fff;
            let len = usize::from(u16::from_be_bytes([answer[at + 2], answer[at + 3]]));
            if kind == 5 {
                found.push(answer[at + 4..at + 4 + len].to_vec());
            }
            at += 4 + len;
        }
        found
    }

    #[test]
    fn a_client_gets_eight_cookies_holding_the_keys_it_exported_and_they_survive_a_restart() {
        let dir = TempDir::new("nts-ke");
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert = dir.write("cert.pem", made.cert.pem());
        let key = dir.write("key.pem", made.signing_key.serialize_pem());
        let dump_dir = dir.join("dump");
        std::fs::create_dir(&dump_dir).unwrap();
        let start_service = || {
            let keys = Arc::new(RwLock::new(initial_keys(Some(&dump_dir))));
            let settings = KeSettings {
                tls: tls_config(&cert, &key).unwrap(),
                max_connections: 4,
                service: NtpService {
                    server: None,
                    port: Some(11123),
                },
                rotate_every: Duration::from_secs(3600),
                dump_dir: Some(dump_dir.clone()),
            };
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let service = start(vec![listener], settings, Arc::clone(&keys)).unwrap();
            (service, keys)
        };

        let (service, keys) = start_service();
        let addr = service.local_addrs()[0];
        let (answer, session) = ke_client(addr, made.cert.der().clone(), nts_ke::ALPN).unwrap();
        assert_eq!(&answer[..12], &[0x80, 1, 0, 2, 0, 0, 0x80, 4, 0, 2, 0, 15]);
        assert_eq!(&answer[12..18], &[0x80, 7, 0, 2, 0x2b, 0x73], "port 11123");
        let issued = cookies(&answer);
        assert_eq!(issued.len(), COOKIES_PER_HANDSHAKE);
        for cookie in &issued {
            let opened = keys.read().unwrap().open(cookie).unwrap();
            assert_eq!(
                opened, session,
                "the cookie holds the keys both sides exported"
            );
        }
        assert!(
            ke_client(addr, made.cert.der().clone(), b"http/1.1").is_err(),
            "no ALPN ntske/1, no handshake"
        );
        drop(service);

        // A restart reads the saved keys: the cookies issued before still open.
        let saved = std::fs::read_to_string(dump_dir.join(DUMP_FILE_NAME)).unwrap();
        assert!(saved.starts_with("NKS0\n15 "));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dump_dir.join(DUMP_FILE_NAME))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let (_service, restarted) = start_service();
        assert_eq!(restarted.read().unwrap().open(&issued[0]), Ok(session));
    }
}
