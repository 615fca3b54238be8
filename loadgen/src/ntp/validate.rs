//! Judging one reply against its request: valid (with its timings), kiss-o'-death, or invalid and why.

use ntp_wire::nts_ntp::{ReplyProblem, NAK_KISS};
use ntp_wire::packet::{leap, Header, NtpTimestamp, UnixTime, HEADER_LEN, MODE_SERVER};
use ntp_wire::symmetric_keys::SymmetricKey;

use super::nts::NtsSession;

use super::request::RequestInfo;

/// Why a reply was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InvalidReason {
    /// Shorter than the 48-byte header.
    Short,
    /// Came from another address than the one the requests went to.
    WrongSource,
    /// Mode other than 4 (server).
    WrongMode,
    /// Version differs from the request's.
    WrongVersion,
    /// Origin timestamp is not the request's transmit timestamp.
    OriginMismatch,
    /// Stratum 0 without a printable kiss code in the reference ID.
    ZeroStratumWithoutKissCode,
    /// Leap indicator 3: the server says it is not synchronised.
    Unsynchronised,
    /// Stratum 16 or above.
    StratumTooHigh,
    /// Receive (T2) or transmit (T3) timestamp is zero.
    MissingTimestamp,
    /// Transmit (T3) is earlier than receive (T2).
    TransmitBeforeReceive,
    /// The request carried a MAC (`--key`) and the reply none.
    Unauthenticated,
    /// The reply's MAC is not the key's.
    BadMac,
    /// An NTS reply without the request's unique identifier, or with broken fields.
    NtsMalformed,
    /// An NTS reply whose authenticator does not open with the session's key.
    NtsNotAuthentic,
}

impl InvalidReason {
    /// The name used in reports: a stable snake_case key.
    pub fn name(self) -> &'static str {
        match self {
            InvalidReason::Short => "short",
            InvalidReason::WrongSource => "wrong_source",
            InvalidReason::WrongMode => "wrong_mode",
            InvalidReason::WrongVersion => "wrong_version",
            InvalidReason::OriginMismatch => "origin_mismatch",
            InvalidReason::ZeroStratumWithoutKissCode => "stratum_0_without_kiss_code",
            InvalidReason::Unsynchronised => "unsynchronised",
            InvalidReason::StratumTooHigh => "stratum_too_high",
            InvalidReason::MissingTimestamp => "missing_timestamp",
            InvalidReason::TransmitBeforeReceive => "transmit_before_receive",
            InvalidReason::Unauthenticated => "unauthenticated",
            InvalidReason::BadMac => "bad_mac",
            InvalidReason::NtsMalformed => "nts_malformed",
            InvalidReason::NtsNotAuthentic => "nts_not_authentic",
        }
    }
}

/// The four timestamps of an accepted exchange, reduced to what the report shows (nanoseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timings {
    /// T4 - T1: round trip as the client saw it.
    pub latency_ns: i64,
    /// T3 - T2: time the server held the request.
    pub response_ns: i64,
    /// ((T2 - T1) + (T3 - T4)) / 2: the client's estimate of the server's clock offset.
    pub offset_ns: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Valid(Timings),
    /// A kiss-o'-death: stratum 0 with the kiss code (e.g. `RATE`) in the reference ID.
    KissOfDeath(u32),
    Invalid(InvalidReason),
}

/// A stratum-0 reference ID is a kiss code when it is one to four printable ASCII characters,
/// padded with NULs (RFC 5905, 7.4).
fn is_kiss_code(reference_id: u32) -> bool {
    let bytes = reference_id.to_be_bytes();
    let text_len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    text_len > 0
        && bytes[..text_len].iter().all(|b| b.is_ascii_graphic())
        && bytes[text_len..].iter().all(|&b| b == 0)
}

/// A kiss code as text, e.g. `RATE`.
pub fn kiss_code_text(code: u32) -> String {
    code.to_be_bytes()
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| char::from(b))
        .collect()
}

/// How the requests were authenticated, and so how their replies must be.
pub enum ReplyAuth<'a> {
    None,
    /// `--key`: the key's MAC after the header.
    Key(&'a SymmetricKey),
    /// `--nts`: the session's authenticator; the reply's cookies are kept.
    Nts(&'a mut NtsSession),
}

impl ReplyAuth<'_> {
    /// Err(verdict) when the reply is not authentic; an NTS NAK is a kiss code whose reply
    /// echoed the request's unique identifier, so it is believed.
    fn check(
        &mut self,
        reply: &[u8],
        header: &Header,
        request: &RequestInfo,
    ) -> Result<(), Verdict> {
        match self {
            ReplyAuth::None => Ok(()),
            ReplyAuth::Key(key) => {
                if reply.len() <= HEADER_LEN {
                    Err(Verdict::Invalid(InvalidReason::Unauthenticated))
                } else if !key.check_mac(reply, HEADER_LEN, header.version) {
                    Err(Verdict::Invalid(InvalidReason::BadMac))
                } else {
                    Ok(())
                }
            }
            ReplyAuth::Nts(session) => match session.take_reply(reply, request.transmit) {
                Ok(()) => Ok(()),
                Err(ReplyProblem::Nak) => Err(Verdict::KissOfDeath(u32::from_be_bytes(NAK_KISS))),
                Err(ReplyProblem::Malformed) => Err(Verdict::Invalid(InvalidReason::NtsMalformed)),
                Err(ReplyProblem::NotAuthentic) => {
                    Err(Verdict::Invalid(InvalidReason::NtsNotAuthentic))
                }
            },
        }
    }
}

/// Checks `reply` (received at `t4`, the kernel RX time) against the request it claims to answer,
/// authenticated as `auth` says.
pub fn validate_reply(
    request: &RequestInfo,
    reply: &[u8],
    t4: UnixTime,
    auth: &mut ReplyAuth<'_>,
) -> Verdict {
    let Some(header) = Header::parse(reply) else {
        return Verdict::Invalid(InvalidReason::Short);
    };
    if header.mode != MODE_SERVER {
        return Verdict::Invalid(InvalidReason::WrongMode);
    }
    if header.version != request.version {
        return Verdict::Invalid(InvalidReason::WrongVersion);
    }
    // Before anything else is believed, even a kiss code: only the one who saw the request
    // knows its transmit timestamp (RFC 5905's defence against off-path spoofing).
    if header.origin != request.transmit {
        return Verdict::Invalid(InvalidReason::OriginMismatch);
    }
    // An unauthenticated kiss code is not believed either: anyone on the path could send it.
    if let Err(verdict) = auth.check(reply, &header, request) {
        return verdict;
    }
    if header.stratum == 0 {
        return if is_kiss_code(header.reference_id) {
            Verdict::KissOfDeath(header.reference_id)
        } else {
            Verdict::Invalid(InvalidReason::ZeroStratumWithoutKissCode)
        };
    }
    if header.leap == leap::UNSYNCHRONISED {
        return Verdict::Invalid(InvalidReason::Unsynchronised);
    }
    if header.stratum >= 16 {
        return Verdict::Invalid(InvalidReason::StratumTooHigh);
    }
    if header.receive.is_zero() || header.transmit.is_zero() {
        return Verdict::Invalid(InvalidReason::MissingTimestamp);
    }
    let response_ns = header.transmit.nanos_since(header.receive);
    if response_ns < 0 {
        return Verdict::Invalid(InvalidReason::TransmitBeforeReceive);
    }
    let t1 = request.kernel_t1.unwrap_or(request.transmit);
    let t4 = NtpTimestamp::from_unix(t4);
    let forward_ns = header.receive.nanos_since(t1);
    let backward_ns = header.transmit.nanos_since(t4);
    Verdict::Valid(Timings {
        latency_ns: t4.nanos_since(t1),
        response_ns,
        offset_ns: (forward_ns + backward_ns) / 2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ntp_wire::packet::{NtpShort, KISS_RATE};

    const T1: UnixTime = UnixTime {
        secs: 1_700_000_000,
        nanos: 0,
    };

    fn at_micros(micros: u32) -> UnixTime {
        UnixTime {
            secs: T1.secs,
            nanos: micros * 1_000,
        }
    }

    fn request() -> RequestInfo {
        RequestInfo {
            transmit: NtpTimestamp::from_unix(T1),
            version: 4,
            timed: true,
            kernel_t1: None,
        }
    }

    /// A correct reply: received by the server 10 us after T1, sent 2 us later.
    fn good_reply() -> Header {
        Header {
            leap: leap::NONE,
            version: 4,
            mode: MODE_SERVER,
            stratum: 10,
            poll: 0,
            precision: -25,
            root_delay: NtpShort(0),
            root_dispersion: NtpShort(1),
            reference_id: 0x7F7F_0101,
            reference: NtpTimestamp::from_unix(T1),
            origin: NtpTimestamp::from_unix(T1),
            receive: NtpTimestamp::from_unix(at_micros(10)),
            transmit: NtpTimestamp::from_unix(at_micros(12)),
        }
    }

    fn judge(header: Header) -> Verdict {
        validate_reply(
            &request(),
            &header.to_bytes(),
            at_micros(22),
            &mut ReplyAuth::None,
        )
    }

    fn invalid(reason: InvalidReason) -> Verdict {
        Verdict::Invalid(reason)
    }

    fn near(actual: i64, expected: i64) -> bool {
        (actual - expected).abs() <= 2
    }

    #[test]
    fn with_a_key_only_a_reply_carrying_its_mac_is_valid() {
        let key = SymmetricKey::from_words("5", "SHA1", "HEX:00112233445566778899").unwrap();
        let other = SymmetricKey::from_words("5", "SHA1", "HEX:99887766554433221100").unwrap();
        let mut reply = [0u8; 72];
        reply[..HEADER_LEN].copy_from_slice(&good_reply().to_bytes());
        let len = key.append_mac(&mut reply, HEADER_LEN, 4).unwrap();
        let check = |bytes: &[u8], key| {
            validate_reply(&request(), bytes, at_micros(22), &mut ReplyAuth::Key(key))
        };
        assert!(matches!(check(&reply[..len], &key), Verdict::Valid(_)));
        assert_eq!(check(&reply[..len], &other), invalid(InvalidReason::BadMac));
        assert_eq!(
            check(&reply[..HEADER_LEN], &key),
            invalid(InvalidReason::Unauthenticated)
        );
        let mut kiss = good_reply();
        kiss.stratum = 0;
        kiss.reference_id = u32::from_be_bytes(*b"RATE");
        assert_eq!(
            check(&kiss.to_bytes(), &key),
            invalid(InvalidReason::Unauthenticated),
            "an unauthenticated kiss code is not believed"
        );
    }

    #[test]
    fn good_reply_yields_its_timings() {
        let Verdict::Valid(timings) = judge(good_reply()) else {
            panic!("expected a valid reply");
        };
        assert!(near(timings.latency_ns, 22_000), "{timings:?}");
        assert!(near(timings.response_ns, 2_000), "{timings:?}");
        // ((10 - 0) + (12 - 22)) / 2 = 0: same clock on both sides.
        assert!(near(timings.offset_ns, 0), "{timings:?}");
    }

    #[test]
    fn a_kernel_t1_times_the_exchange_while_the_wire_value_matches_it() {
        // The kernel sent the request 2 us after the clock read that went on the wire.
        let stamped = RequestInfo {
            kernel_t1: Some(NtpTimestamp::from_unix(at_micros(2))),
            ..request()
        };
        let verdict = validate_reply(
            &stamped,
            &good_reply().to_bytes(),
            at_micros(22),
            &mut ReplyAuth::None,
        );
        let Verdict::Valid(timings) = verdict else {
            panic!("the reply echoes the wire transmit timestamp: {verdict:?}");
        };
        assert!(near(timings.latency_ns, 20_000), "{timings:?}");
        // ((10 - 2) + (12 - 22)) / 2 = -1 us.
        assert!(near(timings.offset_ns, -1_000), "{timings:?}");
    }

    #[test]
    fn offset_sign_follows_the_server_clock() {
        let mut ahead = good_reply();
        ahead.receive = NtpTimestamp::from_unix(at_micros(110));
        ahead.transmit = NtpTimestamp::from_unix(at_micros(112));
        let Verdict::Valid(timings) = judge(ahead) else {
            panic!("expected a valid reply");
        };
        assert!(near(timings.offset_ns, 100_000), "{timings:?}");
    }

    #[test]
    fn longer_replies_with_extensions_are_accepted() {
        let mut bytes = good_reply().to_bytes().to_vec();
        bytes.extend_from_slice(&[0u8; 20]);
        assert!(matches!(
            validate_reply(&request(), &bytes, at_micros(22), &mut ReplyAuth::None),
            Verdict::Valid(_)
        ));
    }

    #[test]
    fn short_reply_is_invalid() {
        let bytes = good_reply().to_bytes();
        assert_eq!(
            validate_reply(
                &request(),
                &bytes[..47],
                at_micros(22),
                &mut ReplyAuth::None
            ),
            invalid(InvalidReason::Short)
        );
        assert_eq!(
            validate_reply(&request(), &[], at_micros(22), &mut ReplyAuth::None),
            invalid(InvalidReason::Short)
        );
    }

    #[test]
    fn every_mode_but_server_is_invalid() {
        for mode in [0, 1, 2, 3, 5, 6, 7] {
            let mut reply = good_reply();
            reply.mode = mode;
            assert_eq!(
                judge(reply),
                invalid(InvalidReason::WrongMode),
                "mode {mode}"
            );
        }
    }

    #[test]
    fn version_must_match_the_request() {
        for version in [0, 1, 2, 3, 5, 7] {
            let mut reply = good_reply();
            reply.version = version;
            assert_eq!(
                judge(reply),
                invalid(InvalidReason::WrongVersion),
                "version {version}"
            );
        }
        let mut v3_request = request();
        v3_request.version = 3;
        let mut v3_reply = good_reply();
        v3_reply.version = 3;
        assert!(matches!(
            validate_reply(
                &v3_request,
                &v3_reply.to_bytes(),
                at_micros(22),
                &mut ReplyAuth::None
            ),
            Verdict::Valid(_)
        ));
    }

    #[test]
    fn origin_must_echo_the_request_transmit() {
        let mut reply = good_reply();
        reply.origin = NtpTimestamp(reply.origin.0 + 1);
        assert_eq!(judge(reply), invalid(InvalidReason::OriginMismatch));
        reply.origin = NtpTimestamp::ZERO;
        assert_eq!(judge(reply), invalid(InvalidReason::OriginMismatch));
    }

    #[test]
    fn kiss_of_death_is_counted_by_code() {
        for code in [
            KISS_RATE,
            u32::from_be_bytes(*b"DENY"),
            u32::from_be_bytes(*b"RSTR"),
        ] {
            let mut reply = good_reply();
            reply.stratum = 0;
            reply.leap = leap::UNSYNCHRONISED;
            reply.reference_id = code;
            reply.receive = NtpTimestamp::ZERO;
            reply.transmit = NtpTimestamp::ZERO;
            assert_eq!(judge(reply), Verdict::KissOfDeath(code));
        }
        assert_eq!(kiss_code_text(KISS_RATE), "RATE");
    }

    #[test]
    fn short_kiss_codes_are_nul_padded() {
        let mut reply = good_reply();
        reply.stratum = 0;
        reply.reference_id = u32::from_be_bytes(*b"XY\0\0");
        assert_eq!(judge(reply), Verdict::KissOfDeath(reply.reference_id));
        assert_eq!(kiss_code_text(reply.reference_id), "XY");
    }

    #[test]
    fn kiss_of_death_with_a_wrong_origin_is_not_believed() {
        let mut reply = good_reply();
        reply.stratum = 0;
        reply.reference_id = KISS_RATE;
        reply.origin = NtpTimestamp(12345);
        assert_eq!(judge(reply), invalid(InvalidReason::OriginMismatch));
    }

    #[test]
    fn stratum_0_without_a_kiss_code_is_invalid() {
        for reference_id in [
            0,
            0x7F00_0001,
            u32::from_be_bytes(*b"\0ATE"),
            u32::from_be_bytes(*b"RA\0E"),
        ] {
            let mut reply = good_reply();
            reply.stratum = 0;
            reply.reference_id = reference_id;
            assert_eq!(
                judge(reply),
                invalid(InvalidReason::ZeroStratumWithoutKissCode),
                "refid {reference_id:08x}"
            );
        }
    }

    #[test]
    fn leap_3_is_unsynchronised() {
        let mut reply = good_reply();
        reply.leap = leap::UNSYNCHRONISED;
        assert_eq!(judge(reply), invalid(InvalidReason::Unsynchronised));
        for announced in [leap::INSERT_SECOND, leap::DELETE_SECOND] {
            reply.leap = announced;
            assert!(matches!(judge(reply), Verdict::Valid(_)));
        }
    }

    #[test]
    fn stratum_16_and_above_is_invalid() {
        for stratum in [16, 17, 255] {
            let mut reply = good_reply();
            reply.stratum = stratum;
            assert_eq!(
                judge(reply),
                invalid(InvalidReason::StratumTooHigh),
                "stratum {stratum}"
            );
        }
        for stratum in [1, 15] {
            let mut reply = good_reply();
            reply.stratum = stratum;
            assert!(
                matches!(judge(reply), Verdict::Valid(_)),
                "stratum {stratum}"
            );
        }
    }

    #[test]
    fn zero_receive_or_transmit_is_invalid() {
        let mut reply = good_reply();
        reply.receive = NtpTimestamp::ZERO;
        assert_eq!(judge(reply), invalid(InvalidReason::MissingTimestamp));
        let mut reply = good_reply();
        reply.transmit = NtpTimestamp::ZERO;
        assert_eq!(judge(reply), invalid(InvalidReason::MissingTimestamp));
    }

    #[test]
    fn transmit_before_receive_is_invalid() {
        let mut reply = good_reply();
        reply.transmit = NtpTimestamp(reply.receive.0 - 1);
        assert_eq!(judge(reply), invalid(InvalidReason::TransmitBeforeReceive));
        reply.transmit = reply.receive;
        assert!(
            matches!(judge(reply), Verdict::Valid(_)),
            "T2 == T3 is allowed"
        );
    }

    #[test]
    fn every_reason_has_a_distinct_name() {
        let all = [
            InvalidReason::Short,
            InvalidReason::WrongSource,
            InvalidReason::WrongMode,
            InvalidReason::WrongVersion,
            InvalidReason::OriginMismatch,
            InvalidReason::ZeroStratumWithoutKissCode,
            InvalidReason::Unsynchronised,
            InvalidReason::StratumTooHigh,
            InvalidReason::MissingTimestamp,
            InvalidReason::TransmitBeforeReceive,
        ];
        let names: std::collections::HashSet<_> = all.iter().map(|r| r.name()).collect();
        assert_eq!(names.len(), all.len());
    }
}
