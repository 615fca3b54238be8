//! One exchange with an upstream server turned into a sample: validation, offset and delay.

use thiserror::Error;

use crate::ntp::packet::{leap, Header, NtpTimestamp, MODE_SERVER};

/// A server's answer to one of our requests, measured against our clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Server time minus local time at the exchange, in seconds: the seed's
    /// `((T2 - T1) + (T3 - T4)) / 2`.
    pub offset: f64,
    /// Round-trip delay without the server's processing time: `(T4 - T1) - (T3 - T2)`.
    pub delay: f64,
    pub stratum: u8,
    pub leap: u8,
    pub reference_id: u32,
    /// The server's own distance to its reference, in seconds.
    pub root_delay: f64,
    pub root_dispersion: f64,
    /// The poll the server asked for (log2 seconds).
    pub poll: i8,
}

/// A Kiss-o'-Death code, as RFC 5905 defines the ones a client must act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kiss {
    /// Polling too fast: poll less often.
    Rate,
    /// Access denied: stop polling this server.
    Deny,
    /// Access restricted: stop polling this server.
    Restricted,
    Other(u32),
}

impl Kiss {
    fn from_code(code: u32) -> Kiss {
        match &code.to_be_bytes() {
            b"RATE" => Kiss::Rate,
            b"DENY" => Kiss::Deny,
            b"RSTR" => Kiss::Restricted,
            _ => Kiss::Other(code),
        }
    }

    /// The four ASCII letters of the code, for logs and reports.
    pub fn code(self) -> String {
        let code = match self {
            Kiss::Rate => *b"RATE",
            Kiss::Deny => *b"DENY",
            Kiss::Restricted => *b"RSTR",
            Kiss::Other(code) => code.to_be_bytes(),
        };
        code.iter()
            .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
            .collect()
    }
}

/// Why a reply gave no sample.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum Rejection {
    #[error("shorter than an NTP header")]
    Short,
    #[error("not a server-mode reply (mode {0})")]
    NotServerMode(u8),
    /// Its origin is not the transmit timestamp of our outstanding request: a late duplicate,
    /// or a forgery by someone who did not see the request.
    #[error("does not answer our last request")]
    Bogus,
    #[error("kiss-o'-death {}", .0.code())]
    KissOfDeath(Kiss),
    #[error("server is not synchronised")]
    Unsynchronised,
    #[error("impossible timestamps (server transmit before its receive)")]
    BadTimestamps,
    /// No valid MAC by the source's key, or no authentic NTS fields (chronyd's test 5).
    #[error("failed authentication")]
    NotAuthentic,
}

/// Largest stratum a usable server may announce.
const MAX_STRATUM: u8 = 15;

/// `later - earlier` in seconds.
pub fn seconds_between(later: NtpTimestamp, earlier: NtpTimestamp) -> f64 {
    // Fixed-point difference first, so 2^-32 s resolution survives any epoch.
    later.0.wrapping_sub(earlier.0) as i64 as f64 / 4_294_967_296.0
}

/// The exchange's offset (server minus local) and round-trip delay without the server's
/// processing time, whether or not the reply is usable.
pub fn offset_and_delay(header: &Header, t1: NtpTimestamp, t4: NtpTimestamp) -> (f64, f64) {
    let server_time = seconds_between(header.transmit, header.receive);
    let t2_minus_t1 = seconds_between(header.receive, t1);
    let t3_minus_t4 = seconds_between(header.transmit, t4);
    let round_trip = seconds_between(t4, t1);
    (
        (t2_minus_t1 + t3_minus_t4) / 2.0,
        (round_trip - server_time).max(0.0),
    )
}

/// Checks `reply` against the request we sent with transmit timestamp `t1` and received at
/// `t4`, and measures it.
pub fn evaluate(reply: &[u8], t1: NtpTimestamp, t4: NtpTimestamp) -> Result<Sample, Rejection> {
    let header = Header::parse(reply).ok_or(Rejection::Short)?;
    if header.mode != MODE_SERVER {
        return Err(Rejection::NotServerMode(header.mode));
    }
    if header.origin != t1 {
        return Err(Rejection::Bogus);
    }
    if header.stratum == 0 {
        return Err(Rejection::KissOfDeath(Kiss::from_code(header.reference_id)));
    }
    if header.leap == leap::UNSYNCHRONISED || header.stratum > MAX_STRATUM {
        return Err(Rejection::Unsynchronised);
    }
    if seconds_between(header.transmit, header.receive) < 0.0 {
        return Err(Rejection::BadTimestamps);
    }
    let (offset, delay) = offset_and_delay(&header, t1, t4);
    Ok(Sample {
        offset,
        delay,
        stratum: header.stratum,
        leap: header.leap,
        reference_id: header.reference_id,
        root_delay: header.root_delay.to_seconds(),
        root_dispersion: header.root_dispersion.to_seconds(),
        poll: header.poll,
    })
}

/// The client request for an exchange whose T1 is `transmit`.
pub fn request(transmit: NtpTimestamp, poll: i8) -> [u8; crate::ntp::packet::HEADER_LEN] {
    Header {
        leap: leap::UNSYNCHRONISED,
        version: crate::ntp::packet::NTP_VERSION,
        mode: crate::ntp::packet::MODE_CLIENT,
        poll,
        transmit,
        ..Header::default()
    }
    .to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntp::packet::{NtpShort, KISS_RATE};

    fn ts(seconds: f64) -> NtpTimestamp {
        NtpTimestamp((seconds * 4_294_967_296.0) as u64)
    }

    fn reply(t1: NtpTimestamp, t2: NtpTimestamp, t3: NtpTimestamp) -> Header {
        Header {
            version: 4,
            mode: MODE_SERVER,
            stratum: 1,
            poll: 6,
            root_delay: NtpShort::from_seconds(0.001),
            root_dispersion: NtpShort::from_seconds(0.002),
            reference_id: 0x4750_5300,
            origin: t1,
            receive: t2,
            transmit: t3,
            ..Header::default()
        }
    }

    #[test]
    fn offset_and_delay_follow_the_four_timestamps() {
        // Server 5 ms ahead; 1 ms each way; 0.25 ms in the server.
        let (t1, t4) = (ts(1000.0), ts(1_000.002_25));
        let (t2, t3) = (ts(1000.006), ts(1_000.006_25));
        let sample = evaluate(&reply(t1, t2, t3).to_bytes(), t1, t4).unwrap();
        assert!((sample.offset - 0.005).abs() < 1e-9, "{}", sample.offset);
        assert!((sample.delay - 0.002).abs() < 1e-9, "{}", sample.delay);
        assert_eq!(sample.stratum, 1);
        assert_eq!(sample.reference_id, 0x4750_5300);
        assert!((sample.root_delay - 0.001).abs() < 1e-4);
        assert!((sample.root_dispersion - 0.002).abs() < 1e-4);
    }

    #[test]
    fn a_reply_to_another_request_is_bogus() {
        let (t1, t4) = (ts(5.0), ts(5.1));
        let bytes = reply(ts(4.0), ts(5.05), ts(5.05)).to_bytes();
        assert_eq!(evaluate(&bytes, t1, t4), Err(Rejection::Bogus));
    }

    #[test]
    fn kiss_codes_are_decoded_only_for_genuine_replies() {
        let (t1, t4) = (ts(5.0), ts(5.1));
        let mut kod = reply(t1, ts(5.05), ts(5.05));
        kod.stratum = 0;
        kod.leap = leap::UNSYNCHRONISED;
        kod.reference_id = KISS_RATE;
        assert_eq!(
            evaluate(&kod.to_bytes(), t1, t4),
            Err(Rejection::KissOfDeath(Kiss::Rate))
        );
        kod.reference_id = u32::from_be_bytes(*b"DENY");
        assert_eq!(
            evaluate(&kod.to_bytes(), t1, t4),
            Err(Rejection::KissOfDeath(Kiss::Deny))
        );
        kod.origin = ts(1.0);
        assert_eq!(evaluate(&kod.to_bytes(), t1, t4), Err(Rejection::Bogus));
        assert_eq!(Kiss::Restricted.code(), "RSTR");
    }

    #[test]
    fn unsynchronised_and_malformed_replies_give_no_sample() {
        let (t1, t4) = (ts(5.0), ts(5.1));
        let mut unsync = reply(t1, ts(5.05), ts(5.05));
        unsync.leap = leap::UNSYNCHRONISED;
        assert_eq!(
            evaluate(&unsync.to_bytes(), t1, t4),
            Err(Rejection::Unsynchronised)
        );
        let mut client = reply(t1, ts(5.05), ts(5.05));
        client.mode = 3;
        assert_eq!(
            evaluate(&client.to_bytes(), t1, t4),
            Err(Rejection::NotServerMode(3))
        );
        let backwards = reply(t1, ts(5.06), ts(5.05));
        assert_eq!(
            evaluate(&backwards.to_bytes(), t1, t4),
            Err(Rejection::BadTimestamps)
        );
        assert_eq!(evaluate(&[0u8; 47], t1, t4), Err(Rejection::Short));
    }

    #[test]
    fn requests_carry_t1_as_transmit_timestamp() {
        let bytes = request(ts(77.5), 6);
        let header = Header::parse(&bytes).unwrap();
        assert_eq!(header.mode, crate::ntp::packet::MODE_CLIENT);
        assert_eq!(header.version, 4);
        assert_eq!(header.transmit, ts(77.5));
        assert_eq!(header.poll, 6);
    }
}
