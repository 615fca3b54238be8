//! TLS on FTP connections (RFC 4217) with rustls: the server's configuration from vsftpd.conf's
//! certificate and key, and one connection's TLS state driven over compio's owned-buffer I/O.
//!
//! rustls is used without an I/O adapter: ciphertext read from the socket is handed to the
//! `ServerConnection`, and what it has to send is written out, so that the connection's
//! resumption state (`require_ssl_reuse`) can be read after the handshake.

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use compio::buf::{BufResult, IntoInner, IoBuf};
use compio::io::{AsyncRead, AsyncWriteExt};
use compio::net::TcpStream;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, HandshakeKind, RootCertStore,
    ServerConfig, ServerConnection, SignatureScheme,
};
use thiserror::Error;

use crate::config::vsftpd::FtpConfig;

/// Ciphertext read from the socket at a time: one TLS record and its overhead.
const RECORD_READ: usize = 16 * 1024 + 512;
/// TLS 1.2 session IDs one FTP session's cache holds, for clients that refuse tickets: its
/// control connection's session, and one more.
const SESSION_CACHE: usize = 2;

#[derive(Debug, Error)]
pub enum TlsSetupError {
    #[error("rsa_cert_file {}: {source}; give a PEM file holding the server's certificate chain", .path.display())]
    Certificate {
        path: std::path::PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("rsa_cert_file {}: no certificate in it; give a PEM file holding the server's certificate chain", .path.display())]
    NoCertificate { path: std::path::PathBuf },
    #[error("{option} {}: {source}; give a PEM file holding the server's private key", .path.display())]
    Key {
        option: &'static str,
        path: std::path::PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("rsa_cert_file {}: the certificate and its key do not go together, or TLS cannot use their kind ({source}); give the key that belongs to the certificate, RSA or ECDSA", .path.display())]
    Mismatch {
        path: std::path::PathBuf,
        source: rustls::Error,
    },
    #[error(
        "the TLS versions asked for cannot be served ({0}); set ssl_tlsv1_2=YES or ssl_tlsv1_3=YES"
    )]
    Versions(rustls::Error),
    #[error("ca_certs_file {}: {reason}; give a PEM file holding the CA certificates client certificates are issued by", .path.display())]
    CaCertificates {
        path: std::path::PathBuf,
        reason: String,
    },
}

/// The TLS settings every session of a configuration starts from.
pub struct TlsServer {
    config: ServerConfig,
}

/// One FTP session's TLS: its control connection, and the settings its data connections are
/// accepted with.
///
/// Each session has its own ticket key and session cache, as each vsftpd session process has
/// its own OpenSSL cache: a data connection can resume only a session its own control
/// connection made, so `require_ssl_reuse` also stops a client resuming its own session on
/// another client's data port. Tickets are stateless, so a client may resume with one ticket
/// for every data connection, as OpenSSL-based clients (curl, lftp) do under TLS 1.3;
/// rustls's stateful TLS 1.3 tickets are single-use.
pub struct ControlTls {
    pub connection: TlsConnection,
    /// The session's settings without TLS 1.3 tickets: a data connection resumes the control
    /// connection's session and needs none, and a client that never reads them (an upload)
    /// would reset the connection at its close, for the unread bytes, instead of ending it.
    data: Arc<ServerConfig>,
}

impl TlsServer {
    /// Loads the certificate chain and key that `config` names; `None` without `ssl_enable`.
    pub fn load(config: &FtpConfig) -> Result<Option<TlsServer>, TlsSetupError> {
        if !config.ssl_enable {
            return Ok(None);
        }
        let chain = read_chain(&config.rsa_cert_file)?;
        // vsftpd reads the key from the certificate's file when no key file is named.
        let (option, key_path) = match &config.rsa_private_key_file {
            Some(path) => ("rsa_private_key_file", path.as_path()),
            None => ("rsa_cert_file", config.rsa_cert_file.as_path()),
        };
        let key = PrivateKeyDer::from_pem_file(key_path).map_err(|source| TlsSetupError::Key {
            option,
            path: key_path.to_path_buf(),
            source,
        })?;
        let provider = crypto_provider();
        let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
            (config.ssl_tlsv1_2, &rustls::version::TLS12),
            (config.ssl_tlsv1_3, &rustls::version::TLS13),
        ]
        .into_iter()
        .filter_map(|(offered, version)| offered.then_some(version))
        .collect();
        let provider = Arc::new(provider);
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&versions)
            .map_err(TlsSetupError::Versions)?;
        let builder = match ClientCertificates::from_config(config, &provider)? {
            Some(verifier) => builder.with_client_cert_verifier(Arc::new(verifier)),
            None => builder.with_no_client_auth(),
        };
        let server =
            builder
                .with_single_cert(chain, key)
                .map_err(|source| TlsSetupError::Mismatch {
                    path: config.rsa_cert_file.clone(),
                    source,
                })?;
        Ok(Some(TlsServer { config: server }))
    }

    /// Runs the handshake of a session's control connection on `stream`, with settings of
    /// the session's own (see [`ControlTls`]).
    pub async fn accept_control(&self, stream: &mut TcpStream) -> io::Result<ControlTls> {
        let mut control = self.config.clone();
        control.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE);
        control.ticketer = ticketer().map_err(tls_error)?;
        let mut data = control.clone();
        data.send_tls13_tickets = 0;
        let connection = TlsConnection::accept(Arc::new(control), stream).await?;
        Ok(ControlTls {
            connection,
            data: Arc::new(data),
        })
    }
}

impl ControlTls {
    /// Runs the handshake of one of the session's data connections on `stream`.
    pub async fn accept_data(&self, stream: &mut TcpStream) -> io::Result<TlsConnection> {
        TlsConnection::accept(Arc::clone(&self.data), stream).await
    }
}

/// vsftpd's client certificate options: a certificate is asked for with `ssl_request_cert`,
/// required with `require_cert`, and checked against `ca_certs_file` with `validate_cert`.
/// Without `validate_cert` any certificate is taken, as vsftpd's verify callback takes it, but
/// the client must still prove it holds the certificate's key.
#[derive(Debug)]
struct ClientCertificates {
    mandatory: bool,
    /// The subjects of `ca_certs_file`'s certificates, sent with the request (OpenSSL's
    /// client CA list).
    hints: Vec<DistinguishedName>,
    /// With `validate_cert`: the chain check against `ca_certs_file`; `None` there refuses
    /// every certificate, as vsftpd with no CA file does.
    validation: Option<Validation>,
    algorithms: WebPkiSupportedAlgorithms,
}

#[derive(Debug)]
enum Validation {
    Chain(Arc<dyn ClientCertVerifier>),
    NoAuthorities,
}

impl ClientCertificates {
    /// `None` when no certificate is asked for: OpenSSL acts on `require_cert` only together
    /// with `ssl_request_cert`.
    fn from_config(
        config: &FtpConfig,
        provider: &Arc<CryptoProvider>,
    ) -> Result<Option<ClientCertificates>, TlsSetupError> {
        if !config.ssl_request_cert {
            return Ok(None);
        }
        let mut authorities = RootCertStore::empty();
        if let Some(path) = &config.ca_certs_file {
            let error = |reason: String| TlsSetupError::CaCertificates {
                path: path.clone(),
                reason,
            };
            let certificates = CertificateDer::pem_file_iter(path)
                .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
                .map_err(|err| error(err.to_string()))?;
            if certificates.is_empty() {
                return Err(error("no certificate in it".to_string()));
            }
            for certificate in certificates {
                authorities
                    .add(certificate)
                    .map_err(|err| error(format!("a certificate in it cannot be used ({err})")))?;
            }
        }
        let hints = authorities.subjects();
        let validation = match (config.validate_cert, authorities.is_empty()) {
            (false, _) => None,
            (true, true) => Some(Validation::NoAuthorities),
            (true, false) => {
                let verifier = WebPkiClientVerifier::builder_with_provider(
                    Arc::new(authorities),
                    Arc::clone(provider),
                )
                .allow_unauthenticated()
                .build()
                .map_err(|err| TlsSetupError::CaCertificates {
                    path: config.ca_certs_file.clone().unwrap_or_default(),
                    reason: err.to_string(),
                })?;
                Some(Validation::Chain(verifier))
            }
        };
        Ok(Some(ClientCertificates {
            mandatory: config.require_cert,
            hints,
            validation,
            algorithms: provider.signature_verification_algorithms,
        }))
    }
}

impl ClientCertVerifier for ClientCertificates {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match &self.validation {
            None => Ok(ClientCertVerified::assertion()),
            Some(Validation::Chain(verifier)) => {
                verifier.verify_client_cert(end_entity, intermediates, now)
            }
            Some(Validation::NoAuthorities) => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The cryptography under TLS: ring, unless ringd is built with the `aws-lc-rs` feature.
/// docs/benchmarks.md ("TLS crypto provider") has the measurement behind the choice.
pub fn crypto_provider() -> CryptoProvider {
    #[cfg(feature = "aws-lc-rs")]
    return rustls::crypto::aws_lc_rs::default_provider();
    // rustls deprecates ring for its lack of post-quantum key exchange, which FTP clients
    // (curl, lftp, FileZilla) do not offer yet.
    #[cfg(not(feature = "aws-lc-rs"))]
    #[allow(deprecated, reason = "see above")]
    rustls::crypto::ring::default_provider()
}

/// Session tickets encrypted with a fresh key of the [`crypto_provider`]'s.
pub fn ticketer() -> Result<Arc<dyn rustls::server::ProducesTickets>, rustls::Error> {
    #[cfg(feature = "aws-lc-rs")]
    return rustls::crypto::aws_lc_rs::Ticketer::new();
    #[cfg(not(feature = "aws-lc-rs"))]
    rustls::crypto::ring::Ticketer::new()
}

/// OpenSSL's name of a suite rustls offers, as vsftpd's logs show it.
fn openssl_cipher_name(suite: rustls::CipherSuite) -> &'static str {
    use rustls::CipherSuite as Suite;
    match suite {
        Suite::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        Suite::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        Suite::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        Suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        Suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        Suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-ECDSA-CHACHA20-POLY1305",
        Suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        Suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        Suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        _ => "(unknown)",
    }
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsSetupError::Certificate {
            path: path.to_path_buf(),
            source,
        })?;
    if chain.is_empty() {
        return Err(TlsSetupError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(chain)
}

/// One connection's TLS state: what the handshake agreed, and the records in flight.
pub struct TlsConnection {
    connection: ServerConnection,
    /// Ciphertext read from the socket that rustls has not taken yet: it takes a record's
    /// worth at a time, and no more while its plaintext is unread.
    unread: Vec<u8>,
    /// The records being written, kept between writes for its allocation.
    outgoing: Vec<u8>,
}

fn tls_error(err: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, err)
}

impl TlsConnection {
    /// Runs the server side of the handshake on `stream`.
    pub(crate) async fn accept(
        config: Arc<ServerConfig>,
        stream: &mut TcpStream,
    ) -> io::Result<TlsConnection> {
        let connection = ServerConnection::new(config).map_err(tls_error)?;
        let mut tls = TlsConnection {
            connection,
            unread: Vec::new(),
            outgoing: Vec::new(),
        };
        while tls.connection.is_handshaking() {
            tls.send_pending(stream).await?;
            if !tls.connection.is_handshaking() {
                break;
            }
            match tls.receive(stream).await {
                Ok(true) => {}
                Ok(false) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Err(err) => {
                    // rustls queued the alert that says why (an unknown CA, a missing
                    // certificate): sent, as OpenSSL sends it, the client can tell the admin.
                    let _ = tls.send_pending(stream).await;
                    return Err(err);
                }
            }
        }
        // TLS 1.2's last flight ends the handshake and goes now; the tickets TLS 1.3 queues
        // after it go with the next reply (the greeting under implicit TLS, the answer to USER
        // after AUTH): one write, not two, which measured 15 % more TLS sessions/s.
        if tls.connection.protocol_version() != Some(rustls::ProtocolVersion::TLSv1_3) {
            tls.send_pending(stream).await?;
        }
        Ok(tls)
    }

    /// Key material derived from the session (RFC 5705), as NTS-KE takes its keys.
    pub fn export_keying_material<const N: usize>(
        &self,
        label: &[u8],
        context: &[u8],
    ) -> io::Result<[u8; N]> {
        self.connection
            .export_keying_material([0u8; N], label, Some(context))
            .map_err(tls_error)
    }

    /// Whether the handshake resumed an earlier session (a data connection resuming the
    /// control connection's, as `require_ssl_reuse` wants).
    pub fn resumed(&self) -> bool {
        self.connection.handshake_kind() == Some(HandshakeKind::Resumed)
    }

    /// What vsftpd's `debug_ssl` logs of a handshake, with OpenSSL's names:
    /// `SSL version: TLSv1.3, SSL cipher: TLS_AES_256_GCM_SHA384, not reused, no cert`.
    pub fn debug_summary(&self) -> String {
        let version = match self.connection.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
            _ => "TLSv1.2",
        };
        let cipher = self
            .connection
            .negotiated_cipher_suite()
            .map_or("(NONE)", |suite| openssl_cipher_name(suite.suite()));
        format!(
            "SSL version: {version}, SSL cipher: {cipher}, {}, {}",
            if self.resumed() {
                "reused"
            } else {
                "not reused"
            },
            if self.client_certificate().is_some() {
                "CERT PRESENTED"
            } else {
                "no cert"
            },
        )
    }

    /// The certificate the client showed, if any (restored with a resumed session).
    pub fn client_certificate(&self) -> Option<&CertificateDer<'static>> {
        self.connection.peer_certificates()?.first()
    }

    /// Hands rustls the next ciphertext, reading `stream` when none is left over; false at
    /// the end of the stream. Called only once the plaintext so far has been read.
    async fn receive(&mut self, stream: &mut TcpStream) -> io::Result<bool> {
        if self.unread.is_empty() {
            // The emptied buffer is read into again: one allocation per connection.
            let mut buffer = std::mem::take(&mut self.unread);
            buffer.reserve(RECORD_READ);
            let BufResult(read, buffer) = stream.read(buffer).await;
            self.unread = buffer;
            if read? == 0 {
                return Ok(false);
            }
        }
        let mut ciphertext = &self.unread[..];
        let taken = self.connection.read_tls(&mut ciphertext)?;
        self.unread.drain(..taken);
        self.connection.process_new_packets().map_err(tls_error)?;
        if taken == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "TLS took none of the data received",
            ));
        }
        Ok(true)
    }

    /// Writes out whatever TLS has to send.
    async fn send_pending(&mut self, stream: &mut TcpStream) -> io::Result<()> {
        while self.connection.wants_write() {
            let mut records = std::mem::take(&mut self.outgoing);
            records.clear();
            self.connection.write_tls(&mut records)?;
            let BufResult(written, records) = AsyncWriteExt::write_all(stream, records).await;
            self.outgoing = records;
            written?;
        }
        Ok(())
    }

    /// Reads the next plaintext from `stream` into `plaintext`, returning how much: 0 at the
    /// end of the stream or once the peer sent close_notify.
    pub async fn read(
        &mut self,
        stream: &mut TcpStream,
        plaintext: &mut [u8],
    ) -> io::Result<usize> {
        loop {
            match self.connection.reader().read(plaintext) {
                Ok(n) => return Ok(n),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(err) => return Err(err),
            }
            if !self.receive(stream).await? {
                // The stream ended: after close_notify the reader says 0; without it, rustls
                // reports the truncation (UnexpectedEof), as strict_ssl_read_eof wants.
                return self.connection.reader().read(plaintext);
            }
            self.send_pending(stream).await?;
        }
    }

    /// Reads the `available` bytes of ciphertext a peek of `stream` saw, so the read does not
    /// wait, and appends the plaintext they complete to `plaintext` (none while a record is
    /// still partial). False at the end of the stream or after close_notify.
    pub async fn read_peeked(
        &mut self,
        stream: &mut TcpStream,
        available: usize,
        plaintext: &mut Vec<u8>,
    ) -> io::Result<bool> {
        let buffer = Vec::with_capacity(available).slice(..available);
        let BufResult(read, buffer) = stream.read(buffer).await;
        let read = read?;
        if read == 0 {
            return Ok(false);
        }
        self.unread.extend_from_slice(&buffer.into_inner()[..read]);
        while !self.unread.is_empty() {
            let mut ciphertext = &self.unread[..];
            let taken = self.connection.read_tls(&mut ciphertext)?;
            self.unread.drain(..taken);
            let state = self.connection.process_new_packets().map_err(tls_error)?;
            let start = plaintext.len();
            plaintext.resize(start + state.plaintext_bytes_to_read(), 0);
            self.connection
                .reader()
                .read_exact(&mut plaintext[start..])?;
            if state.peer_has_closed() {
                return Ok(false);
            }
            if taken == 0 {
                break;
            }
        }
        self.send_pending(stream).await?;
        Ok(true)
    }

    /// Encrypts `plaintext` and writes it to `stream`, as much at a time as rustls buffers.
    pub async fn write_all(&mut self, stream: &mut TcpStream, plaintext: &[u8]) -> io::Result<()> {
        let mut rest = plaintext;
        while !rest.is_empty() {
            let taken = self.connection.writer().write(rest)?;
            rest = &rest[taken..];
            self.send_pending(stream).await?;
        }
        Ok(())
    }

    /// Sends close_notify: the peer learns the data ended here, not by a cut connection.
    pub async fn close(&mut self, stream: &mut TcpStream) -> io::Result<()> {
        self.connection.send_close_notify();
        self.send_pending(stream).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dirs::TempDir;

    /// A server's TLS settings for a fresh self-signed localhost certificate, and that
    /// certificate for a client to trust.
    fn server_and_root(dir: &TempDir) -> (TlsServer, CertificateDer<'static>) {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert = dir.write("cert.pem", made.cert.pem());
        let key = dir.write("key.pem", made.signing_key.serialize_pem());
        let config = crate::config::vsftpd::parse_str(
            format!(
                "ssl_enable=YES\nrsa_cert_file={}\nrsa_private_key_file={}\n",
                cert.display(),
                key.display()
            ),
            "test",
        )
        .unwrap();
        let server = TlsServer::load(&config).unwrap().expect("ssl_enable");
        (server, made.cert.der().clone())
    }

    #[test]
    fn many_small_records_read_back_whole() {
        let dir = TempDir::new("tls-records");
        let (server, root) = server_and_root(&dir);
        // 4000 records of 9 bytes: a read of the socket holds far more plaintext than rustls
        // buffers, and must be handed over a record's worth at a time.
        let records = 4000;
        let received = compio::runtime::Runtime::new().unwrap().block_on(async {
            let listener = compio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let client = std::thread::spawn(move || {
                let mut roots = rustls::RootCertStore::empty();
                roots.add(root).unwrap();
                #[allow(deprecated, reason = "the server's provider, for the test's client")]
                let provider = rustls::crypto::ring::default_provider();
                let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                let name = "localhost".try_into().unwrap();
                let mut connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
                let mut socket = std::net::TcpStream::connect(addr).unwrap();
                let mut stream = rustls::Stream::new(&mut connection, &mut socket);
                for i in 0..records {
                    stream.write_all(format!("{i:08}\n").as_bytes()).unwrap();
                }
                connection.send_close_notify();
                connection.complete_io(&mut socket).unwrap();
            });
            let (mut stream, _) = listener.accept().await.unwrap();
            // A data connection's settings: no tickets, which this client would leave unread.
            let mut data = server.config.clone();
            data.send_tls13_tickets = 0;
            let mut tls = TlsConnection::accept(Arc::new(data), &mut stream)
                .await
                .unwrap();
            let mut received = Vec::new();
            let mut buffer = vec![0; 256 * 1024];
            loop {
                let n = tls.read(&mut stream, &mut buffer).await.unwrap();
                if n == 0 {
                    break;
                }
                received.extend_from_slice(&buffer[..n]);
            }
            client.join().unwrap();
            received
        });
        let expected: String = (0..records).map(|i| format!("{i:08}\n")).collect();
        assert_eq!(received.len(), expected.len());
        assert!(received == expected.as_bytes());
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_naming_the_file() {
        let dir = TempDir::new("tls-mismatch");
        server_and_root(&dir);
        let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let key = dir.write("other.key", other.signing_key.serialize_pem());
        let config = crate::config::vsftpd::parse_str(
            format!(
                "ssl_enable=YES\nrsa_cert_file={}\nrsa_private_key_file={}\n",
                dir.join("cert.pem").display(),
                key.display()
            ),
            "test",
        )
        .unwrap();
        let err = TlsServer::load(&config).err().unwrap().to_string();
        assert!(
            err.starts_with(&format!(
                "rsa_cert_file {}: the certificate and its key do not go together",
                dir.join("cert.pem").display()
            )) && err.ends_with("give the key that belongs to the certificate, RSA or ECDSA"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_certificate_names_the_option_and_the_file() {
        let config = crate::config::vsftpd::parse_str(
            "ssl_enable=YES\nrsa_cert_file=/nonexistent/cert.pem\n",
            "test",
        )
        .unwrap();
        let err = TlsServer::load(&config).err().unwrap().to_string();
        assert!(
            err.starts_with("rsa_cert_file /nonexistent/cert.pem: ")
                && err.ends_with("give a PEM file holding the server's certificate chain"),
            "{err}"
        );
        let plain = crate::config::vsftpd::parse_str("ssl_enable=NO\n", "test").unwrap();
        assert!(TlsServer::load(&plain).unwrap().is_none());
    }
}
