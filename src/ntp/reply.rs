//! RFC 5905 server mode: which requests are answered, and every field of the reply.

use super::clock_state::ClockSnapshot;
use super::packet::{
    leap, Header, NtpTimestamp, HEADER_LEN, MODE_CLIENT, MODE_CONTROL, MODE_PRIVATE, MODE_SERVER,
    MODE_SYMMETRIC_ACTIVE, MODE_SYMMETRIC_PASSIVE, NTP_VERSION,
};

/// Why a datagram got no answer. Every drop is counted under one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Shorter than the 48-byte header.
    TooShort,
    /// Version 0 or above 4.
    BadVersion,
    /// Mode 2, 4 or 5, or mode 0 other than an NTPv1 request from a port other than 123.
    NotClientMode,
    /// Mode 6 or 7 (control, ntpdc monlist): never answered, so no amplification.
    ControlMode,
    /// The client's address is not allowed by `allow`/`deny`.
    Denied,
    /// Over the `ratelimit` budget and not leaked.
    RateLimited,
    /// Longer than the longest request chronyd reads ([`LONGEST_REQUEST`]).
    TooLong,
    /// A length that is not a multiple of 4 bytes.
    BadLength,
    /// NTPv4 bytes after the header that are neither extension fields nor a MAC.
    BadExtension,
    /// Carries a MAC, NTS fields or an MS-SNTP signing request, none of which this server can
    /// verify or answer (chronyd without keys, NTS or ntpsigndsocket drops them too).
    AuthFailed,
}

impl DropReason {
    pub const ALL: [DropReason; 10] = [
        DropReason::TooShort,
        DropReason::BadVersion,
        DropReason::NotClientMode,
        DropReason::ControlMode,
        DropReason::Denied,
        DropReason::RateLimited,
        DropReason::TooLong,
        DropReason::BadLength,
        DropReason::BadExtension,
        DropReason::AuthFailed,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            DropReason::TooShort => "too_short",
            DropReason::BadVersion => "bad_version",
            DropReason::NotClientMode => "not_client_mode",
            DropReason::ControlMode => "control_mode",
            DropReason::Denied => "denied",
            DropReason::RateLimited => "rate_limited",
            DropReason::TooLong => "too_long",
            DropReason::BadLength => "bad_length",
            DropReason::BadExtension => "bad_extension",
            DropReason::AuthFailed => "auth_failed",
        }
    }
}

/// The longest request chronyd reads: the header, 1024 bytes of extension fields and a MAC of
/// a key ID and a 64-byte digest. Longer datagrams are dropped; a shell that cuts datagrams
/// must keep at least one byte more, so that a cut one is still seen as too long.
pub const LONGEST_REQUEST: usize = HEADER_LEN + 1024 + MAC_KEY_ID_LEN + 64;

const MAC_KEY_ID_LEN: usize = 4;
/// An NTPv4 MAC is a key ID and a 16- or 20-byte digest (RFC 7822), which is how it is told
/// apart from an extension field.
const SHORTEST_MAC: usize = MAC_KEY_ID_LEN + 16;
const LONGEST_V4_MAC: usize = MAC_KEY_ID_LEN + 20;
const SHORTEST_EXTENSION: usize = 16;
const NTS_FIELD_TYPES: [u16; 4] = [0x0104, 0x0204, 0x0304, 0x0404];
/// The port NTPv1 servers send from; mode 0 from it is not a request.
const NTP_PORT: u16 = 123;
const MODE_UNSPECIFIED: u8 = 0;

/// How a request is authenticated. Only [`RequestAuth::None`] can be answered until keys and
/// NTS are configured; the others say where their data is, so it can then be verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestAuth {
    None,
    /// A symmetric-key MAC from `offset` to the end: a key ID and a digest (a lone zero key ID
    /// is a crypto-NAK).
    Mac {
        key_id: u32,
        offset: usize,
    },
    /// NTPv3 with a key ID and a zero digest: Microsoft's request for an ntp_signd signature.
    MsSntp {
        key_id: u32,
    },
    /// NTS extension fields (RFC 8915).
    Nts,
}

/// The parts of a request a reply depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientRequest {
    pub version: u8,
    /// The request's own mode; [`ClientRequest::reply_mode`] says whether and how to answer.
    pub mode: u8,
    pub poll: i8,
    /// In an interleaved request, a receive timestamp this server sent the client.
    pub origin: NtpTimestamp,
    /// In an interleaved request, when the client received the server's previous reply.
    pub receive: NtpTimestamp,
    pub transmit: NtpTimestamp,
    pub auth: RequestAuth,
}

impl ClientRequest {
    /// The mode of the reply, as chronyd answers a host it has no association with: server to
    /// a client, symmetric passive to symmetric active, and server to an NTPv1 request (whose
    /// mode field was reserved) unless it came from port 123, where it would be a reply.
    pub fn reply_mode(&self, client_port: u16) -> Result<u8, DropReason> {
        match self.mode {
            MODE_CLIENT => Ok(MODE_SERVER),
            MODE_SYMMETRIC_ACTIVE => Ok(MODE_SYMMETRIC_PASSIVE),
            MODE_UNSPECIFIED if self.version == 1 && client_port != NTP_PORT => Ok(MODE_SERVER),
            MODE_CONTROL | MODE_PRIVATE => Err(DropReason::ControlMode),
            _ => Err(DropReason::NotClientMode),
        }
    }

    /// Whether the request may be interleaved, by chronyd's test (RFC 9769): NTPv4, an origin
    /// with the lowest bit set (the mark a server puts on its receive timestamps, so only
    /// those origins are looked up) and receive and transmit timestamps that differ (a client
    /// asking for basic mode makes them equal).
    pub fn may_be_interleaved(&self) -> bool {
        self.version == NTP_VERSION && self.origin.0 & 1 == 1 && self.receive != self.transmit
    }
}

/// Checks the format of `datagram` as chronyd does before answering anything: length, version,
/// and what follows the header. In NTPv1-3 anything after the header is a MAC; in NTPv4 it is
/// extension fields, each at least 16 bytes, optionally followed by a MAC of 20 to 24 bytes.
pub fn parse_request(datagram: &[u8]) -> Result<ClientRequest, DropReason> {
    if datagram.len() > LONGEST_REQUEST {
        return Err(DropReason::TooLong);
    }
    let header = Header::parse(datagram).ok_or(DropReason::TooShort)?;
    if datagram.len() % 4 != 0 {
        return Err(DropReason::BadLength);
    }
    if header.version == 0 || header.version > NTP_VERSION {
        return Err(DropReason::BadVersion);
    }
    let trailer = &datagram[HEADER_LEN..];
    let auth = if header.version <= 3 {
        legacy_auth(header.version, trailer)
    } else {
        v4_auth(trailer)?
    };
    Ok(ClientRequest {
        version: header.version,
        mode: header.mode,
        poll: header.poll,
        origin: header.origin,
        receive: header.receive,
        transmit: header.transmit,
        auth,
    })
}

fn key_id_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// `trailer` (a multiple of 4 bytes) of an NTPv1-3 request: all of it is a MAC.
fn legacy_auth(version: u8, trailer: &[u8]) -> RequestAuth {
    if trailer.is_empty() {
        return RequestAuth::None;
    }
    let key_id = key_id_at(trailer, 0);
    let zero_digest = |digest_at: usize| trailer[digest_at..].iter().all(|&b| b == 0);
    let ms_sntp = match trailer.len() {
        20 => zero_digest(4),
        72 => zero_digest(8),
        _ => false,
    };
    if version == 3 && key_id != 0 && ms_sntp {
        RequestAuth::MsSntp { key_id }
    } else {
        RequestAuth::Mac {
            key_id,
            offset: HEADER_LEN,
        }
    }
}

/// `trailer` (a multiple of 4 bytes) of an NTPv4 request: extension fields, then maybe a MAC.
fn v4_auth(trailer: &[u8]) -> Result<RequestAuth, DropReason> {
    if trailer.len() == MAC_KEY_ID_LEN && key_id_at(trailer, 0) == 0 {
        return Ok(RequestAuth::Mac {
            key_id: 0,
            offset: HEADER_LEN,
        });
    }
    let mut auth = RequestAuth::None;
    let mut parsed = 0;
    // Each turn consumes at least SHORTEST_EXTENSION bytes or ends the loop.
    while parsed < trailer.len() {
        let remainder = trailer.len() - parsed;
        if (SHORTEST_MAC..=LONGEST_V4_MAC).contains(&remainder) {
            return Ok(RequestAuth::Mac {
                key_id: key_id_at(trailer, parsed),
                offset: HEADER_LEN + parsed,
            });
        }
        if remainder <= LONGEST_V4_MAC {
            return Err(DropReason::BadExtension);
        }
        let field_type = u16::from_be_bytes([trailer[parsed], trailer[parsed + 1]]);
        let length = usize::from(u16::from_be_bytes([
            trailer[parsed + 2],
            trailer[parsed + 3],
        ]));
        if length < SHORTEST_EXTENSION || length > remainder || length % 4 != 0 {
            return Err(DropReason::BadExtension);
        }
        if NTS_FIELD_TYPES.contains(&field_type) {
            auth = RequestAuth::Nts;
        }
        parsed += length;
    }
    Ok(auth)
}

/// Server properties that do not change while it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerParams {
    /// log2 seconds, measured at start-up.
    pub precision: i8,
    /// The poll a reply announces at least (see [`announced_min_poll`]).
    pub min_poll: i8,
}

/// chronyd's bounds on the rate-limit interval, which is also the least poll a reply announces:
/// without `ratelimit` a request's poll of -128 is answered with -19.
const LEAST_ANNOUNCED_POLL: i8 = -19;
const GREATEST_ANNOUNCED_POLL: i8 = 12;

/// The poll a reply announces at least: the rate-limit interval (log2 seconds) when there is
/// one, as chronyd suggests to clients polling faster than it answers, within chronyd's bounds.
pub fn announced_min_poll(rate_limit_interval: Option<i8>) -> i8 {
    rate_limit_interval
        .unwrap_or(LEAST_ANNOUNCED_POLL)
        .clamp(LEAST_ANNOUNCED_POLL, GREATEST_ANNOUNCED_POLL)
}

/// How a request is answered: the reply's mode and, for a Kiss-o'-Death, its code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    pub mode: u8,
    pub kiss: Option<u32>,
}

/// The three timestamps of a reply. Basic mode: the request's transmit timestamp returned as
/// origin, T2 (the kernel's receive time) and T3, read as late as possible; interleaved mode:
/// see `Responder::respond`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyStamps {
    pub origin: NtpTimestamp,
    pub receive: NtpTimestamp,
    pub transmit: NtpTimestamp,
}

/// Writes the reply to `request` with `stamps`. A Kiss-o'-Death is formed as chrony forms it: leap 3,
/// stratum 0, the code as reference ID.
pub fn write_reply(
    request: &ClientRequest,
    answer: Answer,
    clock: &ClockSnapshot,
    params: &ServerParams,
    stamps: ReplyStamps,
    out: &mut [u8; HEADER_LEN],
) {
    let (leap_indicator, stratum, reference_id) = match answer.kiss {
        Some(code) => (leap::UNSYNCHRONISED, 0, code),
        None => (clock.leap, clock.stratum, clock.reference_id),
    };
    Header {
        leap: leap_indicator,
        version: request.version,
        mode: answer.mode,
        stratum,
        poll: request.poll.max(params.min_poll),
        precision: params.precision,
        root_delay: clock.root_delay,
        root_dispersion: clock.root_dispersion,
        reference_id,
        reference: clock.reference_time,
        origin: stamps.origin,
        receive: stamps.receive,
        transmit: stamps.transmit,
    }
    .write(out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntp::packet::{NtpShort, KISS_RATE, REFID_LOCAL};

    fn request_bytes(version: u8, mode: u8) -> [u8; 48] {
        Header {
            version,
            mode,
            poll: 6,
            transmit: NtpTimestamp(0xAAAA_BBBB_CCCC_DDDD),
            ..Header::default()
        }
        .to_bytes()
    }

    fn clock() -> ClockSnapshot {
        ClockSnapshot {
            leap: leap::INSERT_SECOND,
            stratum: 10,
            reference_id: REFID_LOCAL,
            reference_time: NtpTimestamp(0x1111_0000_0000_0000),
            root_delay: NtpShort(3),
            root_dispersion: NtpShort(5),
            correction: crate::ntp::clock_state::ClockCorrection::NONE,
        }
    }

    fn basic(
        request: &ClientRequest,
        receive: NtpTimestamp,
        transmit: NtpTimestamp,
    ) -> ReplyStamps {
        ReplyStamps {
            origin: request.transmit,
            receive,
            transmit,
        }
    }

    const SERVE: Answer = Answer {
        mode: MODE_SERVER,
        kiss: None,
    };

    const PARAMS: ServerParams = ServerParams {
        precision: -25,
        min_poll: i8::MIN,
    };

    #[test]
    fn client_requests_of_versions_1_to_4_are_accepted() {
        for version in 1..=4 {
            let request = parse_request(&request_bytes(version, MODE_CLIENT)).unwrap();
            assert_eq!(request.version, version);
            assert_eq!(request.poll, 6);
            assert_eq!(request.transmit, NtpTimestamp(0xAAAA_BBBB_CCCC_DDDD));
        }
    }

    fn with_trailer(version: u8, trailer: &[u8]) -> Vec<u8> {
        let mut datagram = request_bytes(version, MODE_CLIENT).to_vec();
        datagram.extend_from_slice(trailer);
        datagram
    }

    /// An extension field of `length` bytes (header included) of type `field_type`.
    fn extension(field_type: u16, length: u16) -> Vec<u8> {
        let mut field = vec![0xA5; usize::from(length)];
        field[..2].copy_from_slice(&field_type.to_be_bytes());
        field[2..4].copy_from_slice(&length.to_be_bytes());
        field
    }

    #[test]
    fn every_format_drop_reason() {
        assert_eq!(parse_request(&[0x23; 47]), Err(DropReason::TooShort));
        assert_eq!(parse_request(&[]), Err(DropReason::TooShort));
        for version in [0, 5, 6, 7] {
            assert_eq!(
                parse_request(&request_bytes(version, MODE_CLIENT)),
                Err(DropReason::BadVersion)
            );
        }
        for extra in [1, 2, 3, 5] {
            assert_eq!(
                parse_request(&with_trailer(4, &vec![0; extra])),
                Err(DropReason::BadLength),
                "{extra} bytes after the header"
            );
        }
        let longest = with_trailer(4, &extension(0x2000, 1092));
        assert_eq!(longest.len(), LONGEST_REQUEST);
        assert_eq!(
            parse_request(&longest).map(|r| r.auth),
            Ok(RequestAuth::None)
        );
        let cut = [&longest[..], &[0u8; 1][..]].concat();
        assert_eq!(parse_request(&cut), Err(DropReason::TooLong));
    }

    #[test]
    fn reply_modes_as_chronyd_chooses_them() {
        let mode_of = |version, mode, port| {
            parse_request(&request_bytes(version, mode))
                .unwrap()
                .reply_mode(port)
        };
        assert_eq!(mode_of(4, MODE_CLIENT, 40000), Ok(MODE_SERVER));
        assert_eq!(
            mode_of(4, MODE_SYMMETRIC_ACTIVE, 40000),
            Ok(MODE_SYMMETRIC_PASSIVE)
        );
        assert_eq!(
            mode_of(1, 0, 40000),
            Ok(MODE_SERVER),
            "NTPv1's reserved mode"
        );
        assert_eq!(
            mode_of(1, 0, NTP_PORT),
            Err(DropReason::NotClientMode),
            "from port 123 it is a server's reply"
        );
        assert_eq!(mode_of(2, 0, 40000), Err(DropReason::NotClientMode));
        for mode in [2, 4, 5] {
            assert_eq!(mode_of(4, mode, 40000), Err(DropReason::NotClientMode));
        }
        for mode in [6, 7] {
            assert_eq!(mode_of(2, mode, 40000), Err(DropReason::ControlMode));
        }
    }

    #[test]
    fn v4_extension_fields_are_skipped_and_nts_ones_noted() {
        let auth = |trailer: &[u8]| parse_request(&with_trailer(4, trailer)).map(|r| r.auth);
        assert_eq!(auth(&extension(0x2000, 28)), Ok(RequestAuth::None));
        assert_eq!(
            auth(&[extension(0x2000, 16), extension(0x2001, 28)].concat()),
            Ok(RequestAuth::None)
        );
        assert_eq!(
            auth(&[extension(0x0104, 36), extension(0x0204, 104)].concat()),
            Ok(RequestAuth::Nts)
        );
    }

    #[test]
    fn malformed_v4_extension_fields() {
        let parse = |trailer: &[u8]| parse_request(&with_trailer(4, trailer)).map(|r| r.auth);
        let with_length = |length: u8| {
            let mut field = extension(0x2000, 32);
            field[3] = length;
            field
        };
        for (what, trailer) in [
            (
                "shorter than 16 bytes",
                [extension(0x2000, 12), vec![0; 16]].concat(),
            ),
            ("longer than what is left", with_length(36)),
            ("a length not a multiple of 4", with_length(30)),
            ("a length of 0", with_length(0)),
            ("16 bytes: too short for a MAC", vec![0x11; 16]),
            ("8 bytes", vec![0x11; 8]),
            (
                "a field then 4 bytes",
                [extension(0x2000, 28), vec![1; 4]].concat(),
            ),
        ] {
            assert_eq!(parse(&trailer), Err(DropReason::BadExtension), "{what}");
        }
    }

    #[test]
    fn macs_are_found_where_chronyd_finds_them() {
        let parse = |version, trailer: &[u8]| {
            parse_request(&with_trailer(version, trailer)).map(|r| r.auth)
        };
        let mac = |key_id: u32, digest: usize| {
            [key_id.to_be_bytes().to_vec(), vec![0x5A; digest]].concat()
        };
        for digest in [16, 20] {
            assert_eq!(
                parse(4, &mac(7, digest)),
                Ok(RequestAuth::Mac {
                    key_id: 7,
                    offset: 48
                })
            );
        }
        assert_eq!(
            parse(4, &[extension(0x2000, 28), mac(9, 20)].concat()),
            Ok(RequestAuth::Mac {
                key_id: 9,
                offset: 76
            })
        );
        assert_eq!(
            parse(4, &[0; 4]),
            Ok(RequestAuth::Mac {
                key_id: 0,
                offset: 48
            }),
            "a crypto-NAK"
        );
        // In NTPv1-3 everything after the header is a MAC, whatever it looks like.
        for version in 1..=3 {
            for trailer in [vec![0; 4], extension(0x2000, 16), mac(5, 64)] {
                assert!(
                    matches!(
                        parse(version, &trailer),
                        Ok(RequestAuth::Mac { offset: 48, .. })
                    ),
                    "v{version}, {} bytes",
                    trailer.len()
                );
            }
        }
        assert_eq!(
            parse(3, &[5u32.to_be_bytes().to_vec(), vec![0; 16]].concat()),
            Ok(RequestAuth::MsSntp { key_id: 5 })
        );
        assert_eq!(
            parse(3, &[5u32.to_be_bytes().to_vec(), vec![0; 68]].concat()),
            Ok(RequestAuth::MsSntp { key_id: 5 })
        );
    }

    #[test]
    fn poll_is_raised_to_chronyds_least() {
        assert_eq!(announced_min_poll(None), -19);
        assert_eq!(announced_min_poll(Some(-30)), -19);
        assert_eq!(announced_min_poll(Some(3)), 3);
        assert_eq!(announced_min_poll(Some(20)), 12);
        let mut request = parse_request(&request_bytes(4, MODE_CLIENT)).unwrap();
        request.poll = -128;
        let params = ServerParams {
            min_poll: announced_min_poll(None),
            ..PARAMS
        };
        let mut out = [0u8; 48];
        let (t2, t3) = (NtpTimestamp(1), NtpTimestamp(2));
        write_reply(
            &request,
            SERVE,
            &clock(),
            &params,
            basic(&request, t2, t3),
            &mut out,
        );
        assert_eq!(Header::parse(&out).unwrap().poll, -19);
    }

    #[test]
    fn every_reply_field() {
        let request = parse_request(&request_bytes(3, MODE_CLIENT)).unwrap();
        let mut out = [0u8; 48];
        let t2 = NtpTimestamp(0x2222_0000_0000_0001);
        let t3 = NtpTimestamp(0x2222_0000_0000_0002);
        write_reply(
            &request,
            SERVE,
            &clock(),
            &PARAMS,
            basic(&request, t2, t3),
            &mut out,
        );
        let reply = Header::parse(&out).unwrap();
        assert_eq!(reply.leap, leap::INSERT_SECOND);
        assert_eq!(reply.version, 3, "the request's version");
        assert_eq!(reply.mode, MODE_SERVER);
        assert_eq!(reply.stratum, 10);
        assert_eq!(reply.poll, 6, "the request's poll");
        assert_eq!(reply.precision, -25);
        assert_eq!(reply.root_delay, NtpShort(3));
        assert_eq!(reply.root_dispersion, NtpShort(5));
        assert_eq!(reply.reference_id, REFID_LOCAL);
        assert_eq!(reply.reference, NtpTimestamp(0x1111_0000_0000_0000));
        assert_eq!(reply.origin, request.transmit);
        assert_eq!(reply.receive, t2);
        assert_eq!(reply.transmit, t3);
    }

    #[test]
    fn poll_is_raised_to_the_rate_limit_interval() {
        let request = parse_request(&request_bytes(4, MODE_CLIENT)).unwrap();
        let reply_poll = |min_poll| {
            let mut out = [0u8; 48];
            let params = ServerParams { min_poll, ..PARAMS };
            write_reply(
                &request,
                SERVE,
                &clock(),
                &params,
                basic(&request, NtpTimestamp(1), NtpTimestamp(2)),
                &mut out,
            );
            Header::parse(&out).unwrap().poll
        };
        assert_eq!(reply_poll(8), 8);
        assert_eq!(reply_poll(3), 6, "the client's own poll when higher");
    }

    #[test]
    fn kiss_of_death_rate() {
        let request = parse_request(&request_bytes(4, MODE_CLIENT)).unwrap();
        let mut out = [0u8; 48];
        write_reply(
            &request,
            Answer {
                mode: MODE_SERVER,
                kiss: Some(KISS_RATE),
            },
            &clock(),
            &PARAMS,
            basic(&request, NtpTimestamp(1), NtpTimestamp(2)),
            &mut out,
        );
        let reply = Header::parse(&out).unwrap();
        assert_eq!(reply.leap, leap::UNSYNCHRONISED);
        assert_eq!(reply.stratum, 0);
        assert_eq!(&reply.reference_id.to_be_bytes(), b"RATE");
        assert_eq!(reply.origin, request.transmit);
    }
}
