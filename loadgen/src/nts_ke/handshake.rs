//! One NTS-KE exchange as a client makes it (RFC 8915 §4): TCP, a full TLS 1.3 handshake with ALPN `ntske/1`, the request, the answer read to its end and checked, the keys exported.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ntp_wire::nts_ke::{self, AnswerError, EXPORTER_LABEL};
use rustls::client::Resumption;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

use crate::ftp::control::connect_from;
use crate::step_stats::snake_case;
use crate::tls_trust::{client_config, server_name, Negotiated};

/// How long a connect, and each read and write of an exchange, may take.
pub const KE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest answer read: a server that sends more is broken.
const MAX_ANSWER: usize = 65536;

/// Where and how to make the KE handshake.
#[derive(Clone, Debug)]
pub struct KeTarget {
    pub address: SocketAddr,
    name: ServerName<'static>,
    config: Arc<ClientConfig>,
}

impl KeTarget {
    /// The KE server at `address`, its certificate checked against `ca_file` for `name`.
    /// Resumption is off: every handshake is a full one, as a new NTS client's.
    pub fn new(address: SocketAddr, name: &str, ca_file: &Path) -> anyhow::Result<KeTarget> {
        let mut config = client_config(ca_file, "--nts-ca", &[&rustls::version::TLS13])?;
        config.alpn_protocols = vec![nts_ke::ALPN.to_vec()];
        config.resumption = Resumption::disabled();
        Ok(KeTarget {
            address,
            name: server_name(name, "--nts-name")?,
            config: Arc::new(config),
        })
    }
}

/// Why an exchange failed, by class: the report counts failures under these texts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeFailure {
    #[error("connect: {0}")]
    Connect(io::ErrorKind),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    Io(io::ErrorKind),
    #[error("the server agreed to no ALPN protocol ntske/1")]
    NoAlpn,
    #[error("answer: {0}")]
    Answer(AnswerError),
    #[error("answer: {0} cookies, not {want}", want = nts_ke::COOKIES_PER_HANDSHAKE)]
    Cookies(usize),
    #[error("key export: {0}")]
    Export(String),
}

impl KeFailure {
    /// The failure's class, a stable snake_case key (`connect_connection_refused`, `tls`,
    /// `answer_refused`); the text beside it in reports gives the detail.
    pub fn class(&self) -> String {
        match self {
            KeFailure::Connect(kind) => snake_case(&format!("connect {kind:?}")),
            KeFailure::Tls(_) => "tls".to_string(),
            KeFailure::Io(kind) => snake_case(&format!("{kind:?}")),
            KeFailure::NoAlpn => "no_alpn".to_string(),
            KeFailure::Answer(error) => snake_case(&format!("answer {error:?}")),
            KeFailure::Cookies(_) => "answer_cookie_count".to_string(),
            KeFailure::Export(_) => "key_export".to_string(),
        }
    }

    /// An I/O error of the TLS connection: rustls's own errors (alerts, certificates) are
    /// TLS failures, the rest the socket's.
    fn of_io(error: io::Error) -> KeFailure {
        match error.get_ref() {
            Some(inner) if error.kind() == io::ErrorKind::InvalidData => {
                KeFailure::Tls(inner.to_string())
            }
            _ => KeFailure::Io(error.kind()),
        }
    }
}

/// What a successful exchange gave.
pub struct Established {
    pub c2s: [u8; nts_ke::SESSION_KEY_LEN],
    pub s2c: [u8; nts_ke::SESSION_KEY_LEN],
    pub cookies: Vec<Vec<u8>>,
    pub negotiated: Option<Negotiated>,
    /// From the start of the connect to the end of the TLS handshake.
    pub tls_handshake: Duration,
}

/// Checks a whole answer: NTPv4 and AES-SIV-CMAC-256 agreed (what `read_answer` requires),
/// and the eight cookies a server hands out.
pub fn check_answer(answer: &[u8]) -> Result<nts_ke::Answer, KeFailure> {
    let agreed = nts_ke::read_answer(answer).map_err(KeFailure::Answer)?;
    if agreed.cookies.len() != nts_ke::COOKIES_PER_HANDSHAKE {
        return Err(KeFailure::Cookies(agreed.cookies.len()));
    }
    Ok(agreed)
}

/// Runs one exchange with `target`, from `source` (an unspecified address lets the kernel
/// choose): connect, full handshake, request, the answer read until the server closes, checked.
pub fn exchange(target: &KeTarget, source: SocketAddr) -> Result<Established, KeFailure> {
    let start = Instant::now();
    let mut tcp = connect_from(source, target.address, KE_TIMEOUT)
        .map_err(|error| KeFailure::Connect(error.kind()))?;
    let mut connection = ClientConnection::new(Arc::clone(&target.config), target.name.clone())
        .map_err(|error| KeFailure::Tls(error.to_string()))?;
    while connection.is_handshaking() {
        connection.complete_io(&mut tcp).map_err(KeFailure::of_io)?;
    }
    let tls_handshake = start.elapsed();
    if connection.alpn_protocol() != Some(nts_ke::ALPN) {
        return Err(KeFailure::NoAlpn);
    }
    let answer = request_and_read(&mut connection, &mut tcp)?;
    let agreed = check_answer(&answer)?;
    let export = |server_to_client| {
        connection
            .export_keying_material(
                [0u8; nts_ke::SESSION_KEY_LEN],
                EXPORTER_LABEL,
                Some(&nts_ke::exporter_context(server_to_client)),
            )
            .map_err(|error| KeFailure::Export(error.to_string()))
    };
    Ok(Established {
        c2s: export(false)?,
        s2c: export(true)?,
        cookies: agreed.cookies,
        negotiated: Negotiated::of(&connection),
        tls_handshake,
    })
}

/// Sends the request and reads the answer up to its End of Message record, or until the
/// server ends the connection, whichever comes first, then sends close_notify: as chronyd's
/// client, which closes once it holds the whole answer.
fn request_and_read(
    connection: &mut ClientConnection,
    tcp: &mut TcpStream,
) -> Result<Vec<u8>, KeFailure> {
    let mut stream = rustls::Stream::new(connection, tcp);
    stream
        .write_all(&nts_ke::client_request())
        .map_err(KeFailure::of_io)?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !answer_ended(&answer) && answer.len() < MAX_ANSWER {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => answer.extend_from_slice(&chunk[..read]),
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(error) => return Err(KeFailure::of_io(error)),
        }
    }
    stream.conn.send_close_notify();
    // The answer is what counts: a server that has already closed cannot take the alert.
    let _ = stream.flush();
    Ok(answer)
}

/// Whether `answer` holds a whole message: anything but a cut one.
fn answer_ended(answer: &[u8]) -> bool {
    !matches!(nts_ke::read_answer(answer), Err(AnswerError::Malformed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ntp_wire::nts_ke::{write_response, Negotiation, NtpService};

    fn answer_with(cookies: usize) -> Vec<u8> {
        let cookies: Vec<Vec<u8>> = (0..cookies).map(|i| vec![i as u8; 100]).collect();
        write_response(Negotiation::Agreed, &NtpService::default(), &cookies)
    }

    #[test]
    fn an_answer_with_eight_cookies_and_aes_siv_is_accepted() {
        let agreed = check_answer(&answer_with(8)).unwrap();
        assert_eq!(agreed.cookies.len(), 8);
        assert_eq!(agreed.cookies[7], vec![7u8; 100]);
    }

    #[test]
    fn fewer_or_more_cookies_are_a_failure_of_their_own() {
        assert_eq!(
            check_answer(&answer_with(7)).err(),
            Some(KeFailure::Cookies(7))
        );
        assert_eq!(
            check_answer(&answer_with(9)).err(),
            Some(KeFailure::Cookies(9))
        );
        assert_eq!(
            KeFailure::Cookies(0).to_string(),
            "answer: 0 cookies, not 8"
        );
    }

    #[test]
    fn refusals_other_aeads_and_cut_answers_are_told_apart() {
        let no_aead = write_response(Negotiation::NoAead, &NtpService::default(), &[]);
        assert_eq!(
            check_answer(&no_aead).err(),
            Some(KeFailure::Answer(AnswerError::NotAgreed))
        );
        let refused = write_response(
            Negotiation::Refused(nts_ke::KeError::BadRequest),
            &NtpService::default(),
            &[],
        );
        assert_eq!(
            check_answer(&refused).err(),
            Some(KeFailure::Answer(AnswerError::Refused(1)))
        );
        let whole = answer_with(8);
        assert_eq!(
            check_answer(&whole[..whole.len() - 4]).err(),
            Some(KeFailure::Answer(AnswerError::Malformed)),
            "no End of Message: the server closed before its answer ended"
        );
    }

    #[test]
    fn io_errors_are_classed_by_kind_and_tls_errors_by_reason() {
        let reset = KeFailure::of_io(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(reset.to_string(), "connection reset");
        let alert = KeFailure::of_io(io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure),
        ));
        assert_eq!(
            alert.to_string(),
            "TLS: received fatal alert: HandshakeFailure"
        );
        assert_eq!(reset.class(), "connection_reset");
        assert_eq!(alert.class(), "tls");
        assert_eq!(
            KeFailure::Connect(io::ErrorKind::ConnectionRefused).class(),
            "connect_connection_refused"
        );
        assert_eq!(
            KeFailure::Answer(AnswerError::Refused(1)).class(),
            "answer_refused_1"
        );
    }
}
