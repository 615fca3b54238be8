//! `--nts`: one NTS-KE handshake per generator thread, then cookies kept and spent as an NTS client keeps them.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use ntp_wire::nts_ke::{self, EXPORTER_LABEL};
use ntp_wire::nts_ntp::{self, ReplyProblem};
use ntp_wire::packet::{NtpTimestamp, HEADER_LEN};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// How long a KE handshake may take.
const KE_TIMEOUT: Duration = Duration::from_secs(10);
/// The cookies a client holds at most, as chronyd's client.
const MAX_COOKIES: usize = 8;
/// The longest KE answer read.
const MAX_ANSWER: u64 = 65536;

/// Where and how to make the KE handshake.
#[derive(Clone, Debug)]
pub struct KeTarget {
    pub address: SocketAddr,
    /// The name the server's certificate must carry.
    pub name: ServerName<'static>,
    pub roots: Arc<rustls::RootCertStore>,
}

impl KeTarget {
    /// The KE server at `address`, its certificate checked against `ca_file` for `name`.
    pub fn new(address: SocketAddr, name: &str, ca_file: &Path) -> anyhow::Result<KeTarget> {
        let mut roots = rustls::RootCertStore::empty();
        for certificate in CertificateDer::pem_file_iter(ca_file)
            .with_context(|| format!("--nts-ca {}", ca_file.display()))?
        {
            roots.add(certificate.with_context(|| format!("--nts-ca {}", ca_file.display()))?)?;
        }
        Ok(KeTarget {
            address,
            name: ServerName::try_from(name.to_string())
                .with_context(|| format!("--nts-name {name}"))?,
            roots: Arc::new(roots),
        })
    }
}

/// What one KE handshake gave: the keys, the cookies, and the NTP port the server named.
pub struct NtsSession {
    c2s: [u8; 32],
    s2c: [u8; 32],
    cookies: VecDeque<Vec<u8>>,
    /// The last cookie spent, used again when the server's replies stop bringing new ones.
    last_cookie: Vec<u8>,
    /// Random bytes that make this session's unique identifiers its own.
    salt: [u8; 24],
}

impl NtsSession {
    /// Runs the KE handshake with `target`.
    pub fn establish(target: &KeTarget) -> anyhow::Result<NtsSession> {
        #[allow(deprecated, reason = "ring, as the rest of ringload's TLS")]
        let provider = rustls::crypto::ring::default_provider();
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(Arc::clone(&target.roots))
            .with_no_client_auth();
        config.alpn_protocols = vec![nts_ke::ALPN.to_vec()];
        let mut connection = rustls::ClientConnection::new(Arc::new(config), target.name.clone())?;
        let mut socket = TcpStream::connect_timeout(&target.address, KE_TIMEOUT)
            .with_context(|| format!("NTS-KE connect to {}", target.address))?;
        socket.set_read_timeout(Some(KE_TIMEOUT))?;
        socket.set_write_timeout(Some(KE_TIMEOUT))?;
        let mut stream = rustls::Stream::new(&mut connection, &mut socket);
        stream.write_all(&nts_ke::client_request())?;
        let mut answer = Vec::new();
        stream
            .take(MAX_ANSWER)
            .read_to_end(&mut answer)
            .context("reading the NTS-KE answer")?;
        let agreed = nts_ke::read_answer(&answer).context("the NTS-KE answer")?;
        let export = |server_to_client| -> anyhow::Result<[u8; 32]> {
            Ok(connection.export_keying_material(
                [0u8; 32],
                EXPORTER_LABEL,
                Some(&nts_ke::exporter_context(server_to_client)),
            )?)
        };
        let mut salt = [0u8; 24];
        ringd_sys::crypt::fill_random(&mut salt)?;
        let Some(first) = agreed.cookies.first().cloned() else {
            bail!("the NTS-KE answer holds no cookie");
        };
        Ok(NtsSession {
            c2s: export(false)?,
            s2c: export(true)?,
            cookies: agreed.cookies.into(),
            last_cookie: first,
            salt,
        })
    }

    /// The unique identifier of the request sent at `transmit`: known again from the reply's
    /// origin timestamp, so nothing is stored per request.
    fn unique_id(&self, transmit: NtpTimestamp) -> [u8; 32] {
        let mut id = [0u8; 32];
        id[..24].copy_from_slice(&self.salt);
        id[24..].copy_from_slice(&transmit.0.to_be_bytes());
        id
    }

    /// Writes the NTS fields of the request whose header is in `buffer[..48]` and returns its
    /// length: the next cookie, and placeholders for the cookies the client lacks.
    pub fn write_request(&mut self, buffer: &mut [u8], transmit: NtpTimestamp) -> usize {
        if let Some(cookie) = self.cookies.pop_front() {
            self.last_cookie = cookie;
        }
        let wanted = MAX_COOKIES.saturating_sub(self.cookies.len() + 1);
        let mut nonce = [0u8; 16];
        ringd_sys::crypt::fill_random(&mut nonce).expect("the kernel's random source");
        nts_ntp::write_client_request(
            buffer,
            &self.unique_id(transmit),
            &self.last_cookie,
            wanted.min(placeholders_that_fit(buffer.len(), self.last_cookie.len())),
            &self.c2s,
            nonce,
        )
        .unwrap_or(HEADER_LEN)
    }

    /// Checks a reply to the request sent at `transmit` and keeps its cookies.
    pub fn take_reply(&mut self, reply: &[u8], transmit: NtpTimestamp) -> Result<(), ReplyProblem> {
        let id = self.unique_id(transmit);
        let cookies = &mut self.cookies;
        nts_ntp::open_reply(reply, &id, &self.s2c, |cookie| {
            if cookies.len() < MAX_COOKIES {
                cookies.push_back(cookie.to_vec());
            }
        })
    }
}

/// Placeholders that still leave room for the identifier, cookie and authenticator.
fn placeholders_that_fit(buffer: usize, cookie: usize) -> usize {
    let fixed = HEADER_LEN + 36 + (4 + cookie) + 40;
    buffer.saturating_sub(fixed) / (4 + cookie)
}
