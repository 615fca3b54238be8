//! RFC 5905 server mode: which requests are answered, and every field of the reply.

use super::clock_state::ClockSnapshot;
use super::packet::{
    leap, Header, NtpTimestamp, HEADER_LEN, MODE_CLIENT, MODE_CONTROL, MODE_PRIVATE, MODE_SERVER,
};

/// Why a datagram got no answer. Every drop is counted under one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Shorter than the 48-byte header.
    TooShort,
    /// Version 0 or above 4.
    BadVersion,
    /// Mode 0, 1, 2, 4 or 5: not a client request.
    NotClientMode,
    /// Mode 6 or 7 (control, ntpdc monlist): never answered, so no amplification.
    ControlMode,
    /// The client's address is not allowed by `allow`/`deny`.
    Denied,
    /// Over the `ratelimit` budget and not leaked.
    RateLimited,
}

impl DropReason {
    pub const ALL: [DropReason; 6] = [
        DropReason::TooShort,
        DropReason::BadVersion,
        DropReason::NotClientMode,
        DropReason::ControlMode,
        DropReason::Denied,
        DropReason::RateLimited,
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
        }
    }
}

/// The parts of a client request a reply depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientRequest {
    pub version: u8,
    pub poll: i8,
    pub transmit: NtpTimestamp,
}

/// Decides whether `datagram` is a client request this server answers. Bytes after the
/// header (extension fields, a MAC) are never parsed, so they cannot mislead the server.
pub fn parse_request(datagram: &[u8]) -> Result<ClientRequest, DropReason> {
    let header = Header::parse(datagram).ok_or(DropReason::TooShort)?;
    if header.version == 0 || header.version > 4 {
        return Err(DropReason::BadVersion);
    }
    match header.mode {
        MODE_CLIENT => Ok(ClientRequest {
            version: header.version,
            poll: header.poll,
            transmit: header.transmit,
        }),
        MODE_CONTROL | MODE_PRIVATE => Err(DropReason::ControlMode),
        _ => Err(DropReason::NotClientMode),
    }
}

/// Server properties that do not change while it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerParams {
    /// log2 seconds, measured at start-up.
    pub precision: i8,
    /// The poll a reply announces at least: the rate-limit interval, as chrony suggests to
    /// clients polling faster than it answers.
    pub min_poll: i8,
}

/// Writes the reply to `request`. `receive` is T2 (the kernel's receive time) and `transmit`
/// is T3, read as late as possible. With `kiss` set, the reply is a Kiss-o'-Death carrying that
/// code, formed as chrony forms it: leap 3, stratum 0, the code as reference ID.
pub fn write_reply(
    request: &ClientRequest,
    clock: &ClockSnapshot,
    params: &ServerParams,
    kiss: Option<u32>,
    receive: NtpTimestamp,
    transmit: NtpTimestamp,
    out: &mut [u8; HEADER_LEN],
) {
    let (leap_indicator, stratum, reference_id) = match kiss {
        Some(code) => (leap::UNSYNCHRONISED, 0, code),
        None => (clock.leap, clock.stratum, clock.reference_id),
    };
    Header {
        leap: leap_indicator,
        version: request.version,
        mode: MODE_SERVER,
        stratum,
        poll: request.poll.max(params.min_poll),
        precision: params.precision,
        root_delay: clock.root_delay,
        root_dispersion: clock.root_dispersion,
        reference_id,
        reference: clock.reference_time,
        origin: request.transmit,
        receive,
        transmit,
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

    #[test]
    fn every_drop_reason() {
        assert_eq!(parse_request(&[0x23; 47]), Err(DropReason::TooShort));
        assert_eq!(parse_request(&[]), Err(DropReason::TooShort));
        for version in [0, 5, 6, 7] {
            assert_eq!(
                parse_request(&request_bytes(version, MODE_CLIENT)),
                Err(DropReason::BadVersion)
            );
        }
        for mode in [0, 1, 2, 4, 5] {
            assert_eq!(
                parse_request(&request_bytes(4, mode)),
                Err(DropReason::NotClientMode)
            );
        }
        for mode in [6, 7] {
            assert_eq!(
                parse_request(&request_bytes(2, mode)),
                Err(DropReason::ControlMode)
            );
        }
    }

    #[test]
    fn extension_fields_are_skipped() {
        let mut long = request_bytes(4, MODE_CLIENT).to_vec();
        long.extend_from_slice(&[0xFF; 68]);
        assert!(parse_request(&long).is_ok());
    }

    #[test]
    fn every_reply_field() {
        let request = parse_request(&request_bytes(3, MODE_CLIENT)).unwrap();
        let mut out = [0u8; 48];
        let t2 = NtpTimestamp(0x2222_0000_0000_0001);
        let t3 = NtpTimestamp(0x2222_0000_0000_0002);
        write_reply(&request, &clock(), &PARAMS, None, t2, t3, &mut out);
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
                &clock(),
                &params,
                None,
                NtpTimestamp(1),
                NtpTimestamp(2),
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
            &clock(),
            &PARAMS,
            Some(KISS_RATE),
            NtpTimestamp(1),
            NtpTimestamp(2),
            &mut out,
        );
        let reply = Header::parse(&out).unwrap();
        assert_eq!(reply.leap, leap::UNSYNCHRONISED);
        assert_eq!(reply.stratum, 0);
        assert_eq!(&reply.reference_id.to_be_bytes(), b"RATE");
        assert_eq!(reply.origin, request.transmit);
    }
}
