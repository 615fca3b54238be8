//! NTS Key Establishment messages (RFC 8915 §4): the client's request read, the server's answer written.

/// The TCP port NTS-KE listens on by default (`ntsport`).
pub const DEFAULT_PORT: u16 = 4460;
/// The ALPN protocol a KE client must offer.
pub const ALPN: &[u8] = b"ntske/1";
/// The TLS exporter label the session keys come from (RFC 8915 §5.1).
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-network-time-security";
/// The longest request a server reads, as chronyd's; a longer one is a bad request.
pub const MAX_MESSAGE_LEN: usize = 16384;
/// Cookies handed out per handshake.
pub const COOKIES_PER_HANDSHAKE: usize = 8;
/// AEAD_AES_SIV_CMAC_256, the one algorithm served (and the cookies' own).
pub const AEAD_AES_SIV_CMAC_256: u16 = 15;
/// The key length of AEAD_AES_SIV_CMAC_256, per direction.
pub const SESSION_KEY_LEN: usize = 32;
const NEXT_PROTOCOL_NTPV4: u16 = 0;
const CRITICAL: u16 = 0x8000;

mod record {
    pub const END_OF_MESSAGE: u16 = 0;
    pub const NEXT_PROTOCOL: u16 = 1;
    pub const ERROR: u16 = 2;
    pub const WARNING: u16 = 3;
    pub const AEAD_ALGORITHM: u16 = 4;
    pub const NEW_COOKIE: u16 = 5;
    pub const NTPV4_SERVER: u16 = 6;
    pub const NTPV4_PORT: u16 = 7;
}

/// The error codes of an Error record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeError {
    UnrecognizedCriticalRecord = 0,
    BadRequest = 1,
    InternalServerError = 2,
}

/// What the server answers a complete request with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Negotiation {
    /// NTPv4 with AES-SIV-CMAC-256: keys are exported and cookies sent.
    Agreed,
    /// The client offered no protocol this server speaks: an empty Next Protocol record.
    NoProtocol,
    /// NTPv4, but no AEAD this server has: an empty AEAD record.
    NoAead,
    /// An Error record.
    Refused(KeError),
}

/// How far a request has arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestState {
    /// More bytes are needed (and may come).
    Incomplete,
    /// The request ended with its End of Message record: answer it.
    Complete(Negotiation),
}

/// Reads the bytes received so far on a KE connection. `closed` says the client will send no
/// more: an incomplete request is then a bad one. A request longer than MAX_MESSAGE_LEN, or a
/// record after End of Message, is a bad request at once.
pub fn read_request(received: &[u8], closed: bool) -> RequestState {
    let bad = RequestState::Complete(Negotiation::Refused(KeError::BadRequest));
    let mut request = Request::default();
    let mut at = 0;
    while received.len() >= at + 4 {
        let kind = u16::from_be_bytes([received[at], received[at + 1]]);
        let len = usize::from(u16::from_be_bytes([received[at + 2], received[at + 3]]));
        let Some(body) = received.get(at + 4..at + 4 + len) else {
            break;
        };
        at += 4 + len;
        let (critical, kind) = (kind & CRITICAL != 0, kind & !CRITICAL);
        if kind == record::END_OF_MESSAGE {
            if !critical || len != 0 || at != received.len() {
                return bad;
            }
            return RequestState::Complete(request.negotiation());
        }
        if let Err(error) = request.take(critical, kind, body) {
            return RequestState::Complete(Negotiation::Refused(error));
        }
    }
    if closed || received.len() > MAX_MESSAGE_LEN {
        bad
    } else {
        RequestState::Incomplete
    }
}

#[derive(Default)]
struct Request {
    protocol_records: usize,
    protocols_offered: usize,
    ntpv4: bool,
    aead_records: usize,
    aeads_offered: usize,
    siv: bool,
}

impl Request {
    fn take(&mut self, critical: bool, kind: u16, body: &[u8]) -> Result<(), KeError> {
        let values = || {
            body.chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
        };
        match kind {
            record::NEXT_PROTOCOL => {
                if !critical || body.is_empty() || body.len() % 2 != 0 {
                    return Err(KeError::BadRequest);
                }
                self.protocol_records += 1;
                self.protocols_offered += body.len() / 2;
                self.ntpv4 |= values().any(|v| v == NEXT_PROTOCOL_NTPV4);
            }
            record::AEAD_ALGORITHM => {
                if body.is_empty() || body.len() % 2 != 0 {
                    return Err(KeError::BadRequest);
                }
                self.aead_records += 1;
                self.aeads_offered += body.len() / 2;
                self.siv |= values().any(|v| v == AEAD_AES_SIV_CMAC_256);
            }
            record::ERROR | record::WARNING | record::NEW_COOKIE => {
                return Err(KeError::BadRequest)
            }
            // The client's preferred server and port are only hints to the server.
            _ if critical => return Err(KeError::UnrecognizedCriticalRecord),
            _ => {}
        }
        Ok(())
    }

    fn negotiation(&self) -> Negotiation {
        let one_protocol_record = self.protocol_records == 1 && self.protocols_offered > 0;
        let one_aead_record = self.aead_records == 1 && self.aeads_offered > 0;
        if !one_protocol_record || (self.ntpv4 && !one_aead_record) {
            Negotiation::Refused(KeError::BadRequest)
        } else if !self.ntpv4 {
            Negotiation::NoProtocol
        } else if !self.siv {
            Negotiation::NoAead
        } else {
            Negotiation::Agreed
        }
    }
}

/// Where the NTP service of an agreed session is, when it is not the KE server's own address
/// and port 123 (`ntsntpserver`, `port`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NtpService {
    pub server: Option<String>,
    pub port: Option<u16>,
}

/// The server's answer; `cookies` only for [`Negotiation::Agreed`].
pub fn write_response(
    negotiation: Negotiation,
    service: &NtpService,
    cookies: &[Vec<u8>],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + cookies.iter().map(|c| c.len() + 4).sum::<usize>());
    let mut add = |critical: bool, kind: u16, body: &[u8]| {
        let kind = if critical { kind | CRITICAL } else { kind };
        out.extend_from_slice(&kind.to_be_bytes());
        out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        out.extend_from_slice(body);
    };
    match negotiation {
        Negotiation::Refused(error) => add(true, record::ERROR, &(error as u16).to_be_bytes()),
        Negotiation::NoProtocol => add(true, record::NEXT_PROTOCOL, &[]),
        Negotiation::NoAead => {
            add(
                true,
                record::NEXT_PROTOCOL,
                &NEXT_PROTOCOL_NTPV4.to_be_bytes(),
            );
            add(true, record::AEAD_ALGORITHM, &[]);
        }
        Negotiation::Agreed => {
            add(
                true,
                record::NEXT_PROTOCOL,
                &NEXT_PROTOCOL_NTPV4.to_be_bytes(),
            );
            add(
                true,
                record::AEAD_ALGORITHM,
                &AEAD_AES_SIV_CMAC_256.to_be_bytes(),
            );
            if let Some(port) = service.port {
                add(true, record::NTPV4_PORT, &port.to_be_bytes());
            }
            if let Some(server) = &service.server {
                add(true, record::NTPV4_SERVER, server.as_bytes());
            }
            for cookie in cookies {
                add(false, record::NEW_COOKIE, cookie);
            }
        }
    }
    add(true, record::END_OF_MESSAGE, &[]);
    out
}

/// A client's request: NTPv4 (critical), AES-SIV-CMAC-256, End of Message.
pub fn client_request() -> Vec<u8> {
    let mut request = Vec::with_capacity(16);
    for (kind, body) in [
        (
            CRITICAL | record::NEXT_PROTOCOL,
            &NEXT_PROTOCOL_NTPV4.to_be_bytes()[..],
        ),
        (
            record::AEAD_ALGORITHM,
            &AEAD_AES_SIV_CMAC_256.to_be_bytes()[..],
        ),
        (CRITICAL | record::END_OF_MESSAGE, &[][..]),
    ] {
        request.extend_from_slice(&kind.to_be_bytes());
        request.extend_from_slice(&(body.len() as u16).to_be_bytes());
        request.extend_from_slice(body);
    }
    request
}

/// What a server agreed to, read by a client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    pub cookies: Vec<Vec<u8>>,
    /// The NTP server's name or address, when it is not the KE server's.
    pub server: Option<String>,
    pub port: Option<u16>,
}

/// Why a client cannot use a server's answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("the server answered with error {0} (0: unrecognised critical record, 1: bad request, 2: internal error)")]
    Refused(u16),
    #[error("the server agreed to no protocol or AEAD this client offered")]
    NotAgreed,
    #[error("the answer is cut short or malformed")]
    Malformed,
}

/// Reads a server's answer to [`client_request`].
pub fn read_answer(answer: &[u8]) -> Result<Answer, AnswerError> {
    let mut agreed = Answer::default();
    let (mut protocol, mut aead) = (false, false);
    let mut at = 0;
    while answer.len() >= at + 4 {
        let kind = u16::from_be_bytes([answer[at], answer[at + 1]]) & !CRITICAL;
        let len = usize::from(u16::from_be_bytes([answer[at + 2], answer[at + 3]]));
        let body = answer
            .get(at + 4..at + 4 + len)
            .ok_or(AnswerError::Malformed)?;
        at += 4 + len;
        let value = || (len == 2).then(|| u16::from_be_bytes([body[0], body[1]]));
        match kind {
            record::END_OF_MESSAGE => {
                return if protocol && aead {
                    Ok(agreed)
                } else {
                    Err(AnswerError::NotAgreed)
                };
            }
            record::ERROR => return Err(AnswerError::Refused(value().unwrap_or(u16::MAX))),
            record::NEXT_PROTOCOL => protocol = value() == Some(NEXT_PROTOCOL_NTPV4),
            record::AEAD_ALGORITHM => aead = value() == Some(AEAD_AES_SIV_CMAC_256),
            record::NEW_COOKIE => agreed.cookies.push(body.to_vec()),
            record::NTPV4_SERVER => {
                agreed.server = Some(String::from_utf8_lossy(body).into_owned())
            }
            record::NTPV4_PORT => agreed.port = value(),
            _ => {}
        }
    }
    Err(AnswerError::Malformed)
}

/// The exporter context of one direction's key (RFC 8915 §5.1): the NTPv4 protocol ID, the
/// AEAD, then 0 for client-to-server or 1 for server-to-client.
pub fn exporter_context(server_to_client: bool) -> [u8; 5] {
    let [aead_high, aead_low] = AEAD_AES_SIV_CMAC_256.to_be_bytes();
    [0, 0, aead_high, aead_low, u8::from(server_to_client)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u16, body: &[u8]) -> Vec<u8> {
        let mut out = kind.to_be_bytes().to_vec();
        out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    fn request(records: &[Vec<u8>]) -> Vec<u8> {
        records.concat()
    }

    const EOM: u16 = CRITICAL;
    const PROTO: u16 = CRITICAL | 1;

    #[test]
    fn a_usual_client_request_is_agreed_once_it_has_arrived_whole() {
        let whole = request(&[
            record(PROTO, &[0, 0]),
            record(4, &[0, 30, 0, 15]),
            record(EOM, &[]),
        ]);
        for cut in 0..whole.len() {
            assert_eq!(read_request(&whole[..cut], false), RequestState::Incomplete);
        }
        assert_eq!(
            read_request(&whole, false),
            RequestState::Complete(Negotiation::Agreed)
        );
        assert_eq!(
            read_request(&whole[..whole.len() - 1], true),
            RequestState::Complete(Negotiation::Refused(KeError::BadRequest)),
            "the client closed before its End of Message"
        );
    }

    #[test]
    fn requests_are_judged_as_chronyd_judges_them() {
        use KeError::*;
        use Negotiation::*;
        let eom = record(EOM, &[]);
        let cases: Vec<(Vec<Vec<u8>>, Negotiation)> = vec![
            (vec![record(PROTO, &[0x80, 1]), eom.clone()], NoProtocol),
            (
                vec![record(PROTO, &[0, 0]), record(4, &[0, 30]), eom.clone()],
                NoAead,
            ),
            (
                vec![record(PROTO, &[0, 0]), eom.clone()],
                Refused(BadRequest),
            ),
            (
                vec![record(1, &[0, 0]), record(4, &[0, 15]), eom.clone()],
                Refused(BadRequest),
            ),
            (
                vec![record(PROTO, &[0]), record(4, &[0, 15]), eom.clone()],
                Refused(BadRequest),
            ),
            (
                vec![
                    record(PROTO, &[0, 0]),
                    record(PROTO, &[0, 0]),
                    record(4, &[0, 15]),
                    eom.clone(),
                ],
                Refused(BadRequest),
            ),
            (
                vec![
                    record(PROTO, &[0, 0]),
                    record(4, &[0, 15]),
                    record(5, &[1; 100]),
                    eom.clone(),
                ],
                Refused(BadRequest),
            ),
            (
                vec![
                    record(PROTO, &[0, 0]),
                    record(4, &[0, 15]),
                    record(CRITICAL | 99, &[]),
                    eom.clone(),
                ],
                Refused(UnrecognizedCriticalRecord),
            ),
            (
                vec![
                    record(PROTO, &[0, 0]),
                    record(4, &[0, 15]),
                    record(99, &[]),
                    record(6, b"h"),
                    eom.clone(),
                ],
                Agreed,
            ),
            (
                vec![record(PROTO, &[0, 0]), record(4, &[0, 15]), record(0, &[])],
                Refused(BadRequest),
            ),
            (
                vec![
                    record(PROTO, &[0, 0]),
                    record(4, &[0, 15]),
                    eom.clone(),
                    record(99, &[]),
                ],
                Refused(BadRequest),
            ),
        ];
        for (index, (records, expected)) in cases.into_iter().enumerate() {
            assert_eq!(
                read_request(&request(&records), false),
                RequestState::Complete(expected),
                "case {index}"
            );
        }
    }

    #[test]
    fn a_request_that_never_ends_is_refused_at_the_limit() {
        let filler = record(99, &[0; 1000]);
        let endless: Vec<u8> = filler
            .iter()
            .copied()
            .cycle()
            .take(MAX_MESSAGE_LEN + 1)
            .collect();
        assert_eq!(
            read_request(&endless, false),
            RequestState::Complete(Negotiation::Refused(KeError::BadRequest))
        );
    }

    #[test]
    fn an_agreed_answer_carries_the_protocol_aead_service_and_cookies() {
        let service = NtpService {
            server: Some("ntp.example".into()),
            port: Some(1123),
        };
        let cookies = vec![vec![7u8; 100]; COOKIES_PER_HANDSHAKE];
        let answer = write_response(Negotiation::Agreed, &service, &cookies);
        let mut expected = request(&[
            record(PROTO, &[0, 0]),
            record(CRITICAL | 4, &[0, 15]),
            record(CRITICAL | 7, &[0x04, 0x63]),
            record(CRITICAL | 6, b"ntp.example"),
        ]);
        for cookie in &cookies {
            expected.extend(record(5, cookie));
        }
        expected.extend(record(EOM, &[]));
        assert_eq!(answer, expected);
        assert_eq!(
            write_response(Negotiation::Refused(KeError::BadRequest), &service, &[]),
            request(&[record(CRITICAL | 2, &[0, 1]), record(EOM, &[])])
        );
        assert_eq!(
            write_response(Negotiation::NoAead, &NtpService::default(), &[]),
            request(&[
                record(PROTO, &[0, 0]),
                record(CRITICAL | 4, &[]),
                record(EOM, &[])
            ])
        );
    }

    #[test]
    fn a_client_reads_what_a_server_writes() {
        assert_eq!(
            read_request(&client_request(), false),
            RequestState::Complete(Negotiation::Agreed)
        );
        let service = NtpService {
            server: Some("127.0.0.2".into()),
            port: Some(1123),
        };
        let cookies = vec![vec![1u8; 100], vec![2u8; 100]];
        let answer = write_response(Negotiation::Agreed, &service, &cookies);
        assert_eq!(
            read_answer(&answer),
            Ok(Answer {
                cookies,
                server: service.server.clone(),
                port: Some(1123)
            })
        );
        assert_eq!(
            read_answer(&answer[..answer.len() - 1]),
            Err(AnswerError::Malformed)
        );
        let refused = write_response(Negotiation::Refused(KeError::BadRequest), &service, &[]);
        assert_eq!(read_answer(&refused), Err(AnswerError::Refused(1)));
        let no_aead = write_response(Negotiation::NoAead, &service, &[]);
        assert_eq!(read_answer(&no_aead), Err(AnswerError::NotAgreed));
    }

    #[test]
    fn exporter_contexts_are_rfc_8915s() {
        assert_eq!(exporter_context(false), [0, 0, 0, 15, 0]);
        assert_eq!(exporter_context(true), [0, 0, 0, 15, 1]);
    }
}
