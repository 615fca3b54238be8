//! FTPS for ringload's sessions (RFC 4217): the client's TLS settings, one session's view of them, and streams that are plain TCP or TLS over it.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::sync::Arc;

use rustls::client::{ClientSessionMemoryCache, Resumption};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, HandshakeKind};
use serde::Serialize;

use crate::ftp::control::FtpError;
pub use crate::tls_trust::Negotiated;
use crate::tls_trust::{client_config, server_name};

/// Server names one session's resumption store remembers: the one server it talks to.
const SESSION_STORE: usize = 1;

/// How a session starts TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// `AUTH TLS` after the greeting (explicit FTPS, the usual port).
    Explicit,
    /// TLS from the first byte (implicit FTPS, usually port 990).
    Implicit,
}

/// The TLS settings every session starts from.
pub struct TlsClient {
    pub mode: TlsMode,
    template: ClientConfig,
    name: ServerName<'static>,
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient")
            .field("mode", &self.mode)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TlsClient {
    /// Trusts the certificates of `ca_file` (PEM) for the server `name`.
    pub fn new(mode: TlsMode, ca_file: &Path, name: &str) -> anyhow::Result<TlsClient> {
        let versions = rustls::DEFAULT_VERSIONS;
        Ok(TlsClient {
            mode,
            template: client_config(ca_file, "--tls-ca", versions)?,
            name: server_name(name, "--tls-name")?,
        })
    }

    /// One session's settings: a resumption store of its own, so that every session makes a
    /// full handshake (what a new client costs) and its data connections resume its own TLS
    /// session, as servers with `require_ssl_reuse` demand.
    pub fn session(&self) -> SessionTls {
        let mut config = self.template.clone();
        config.resumption =
            Resumption::store(Arc::new(ClientSessionMemoryCache::new(SESSION_STORE)));
        SessionTls {
            config: Arc::new(config),
            name: self.name.clone(),
        }
    }
}

/// One FTP session's TLS settings, shared by its control and data connections.
#[derive(Clone)]
pub struct SessionTls {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl SessionTls {
    /// Runs the client side of a handshake on `tcp`.
    pub fn connect(&self, mut tcp: TcpStream, step: &'static str) -> Result<Stream, FtpError> {
        let mut connection = ClientConnection::new(Arc::clone(&self.config), self.name.clone())
            .map_err(|error| FtpError::Protocol {
                step,
                what: error.to_string(),
            })?;
        while connection.is_handshaking() {
            connection
                .complete_io(&mut tcp)
                .map_err(|error| tls_failure(step, error))?;
        }
        Ok(Stream::Tls(Box::new(rustls::StreamOwned::new(
            connection, tcp,
        ))))
    }
}

/// A TLS failure as an error class: rustls's reason (the alert, the certificate problem) is
/// what tells the failures apart.
fn tls_failure(step: &'static str, error: io::Error) -> FtpError {
    match error.get_ref() {
        Some(inner) if error.kind() == io::ErrorKind::InvalidData => FtpError::Protocol {
            step,
            what: format!("TLS: {inner}"),
        },
        _ => FtpError::from_io(step, error),
    }
}

/// A control or data connection: plain TCP, or TLS over it.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<ClientConnection, TcpStream>>),
    /// Between a plain connection and its TLS one, while the handshake runs.
    Detached,
}

impl Stream {
    pub fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Stream::Plain(tcp) => Some(tcp),
            Stream::Tls(tls) => Some(tls.get_ref()),
            Stream::Detached => None,
        }
    }

    /// The TCP connection, for a handshake over it (a plain connection only).
    pub fn detach(&mut self) -> Option<TcpStream> {
        match std::mem::replace(self, Stream::Detached) {
            Stream::Plain(tcp) => Some(tcp),
            other => {
                *self = other;
                None
            }
        }
    }

    pub fn negotiated(&self) -> Option<Negotiated> {
        let Stream::Tls(tls) = self else {
            return None;
        };
        Negotiated::of(&tls.conn)
    }

    /// Whether the handshake resumed an earlier session (plain connections: no).
    pub fn resumed(&self) -> bool {
        matches!(self, Stream::Tls(tls) if tls.conn.handshake_kind() == Some(HandshakeKind::Resumed))
    }

    /// Ends what this side sends: close_notify over TLS (a server with vsftpd's
    /// `strict_ssl_read_eof` takes an upload without it as cut short), then the TCP FIN.
    pub fn finish(&mut self) -> io::Result<()> {
        if let Stream::Tls(tls) = self {
            tls.conn.send_close_notify();
            tls.flush()?;
        }
        if let Some(tcp) = self.tcp() {
            tcp.shutdown(Shutdown::Write)?;
        }
        Ok(())
    }
}

fn detached() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection in a TLS handshake")
}

impl Read for Stream {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.read(buffer),
            Stream::Tls(tls) => tls.read(buffer),
            Stream::Detached => Err(detached()),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.write(bytes),
            Stream::Tls(tls) => tls.write(bytes),
            Stream::Detached => Err(detached()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.flush(),
            Stream::Tls(tls) => tls.flush(),
            Stream::Detached => Err(detached()),
        }
    }
}

/// A run's TLS, as its report gives it.
#[derive(Clone, Debug, Serialize)]
pub struct TlsReport {
    pub tls: TlsMode,
    /// What the first session's handshake agreed on (absent when none completed).
    #[serde(flatten)]
    pub negotiated: Option<Negotiated>,
    /// Data connections whose handshake did not resume their session's: a server with
    /// `require_ssl_reuse` refuses them.
    pub tls_data_not_resumed: u64,
}

impl fmt::Display for TlsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.tls {
            TlsMode::Explicit => "explicit (AUTH TLS)",
            TlsMode::Implicit => "implicit",
        };
        match &self.negotiated {
            Some(negotiated) => write!(
                f,
                "tls       {mode}: {} {} {}",
                negotiated.tls_version, negotiated.tls_cipher_suite, negotiated.tls_key_exchange
            )?,
            None => write!(f, "tls       {mode}: no handshake completed")?,
        }
        writeln!(
            f,
            "; {} data connections not resumed",
            self.tls_data_not_resumed
        )
    }
}
