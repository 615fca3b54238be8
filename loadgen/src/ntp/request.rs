//! Client requests: the bytes ringload sends, and the unique transmit timestamp that identifies each one.

use ntp_wire::packet::{Header, NtpTimestamp, HEADER_LEN, MODE_CLIENT};

/// Low fraction bits of the transmit timestamp that carry a per-request sequence number.
///
/// 12 bits of fraction are 4096 * 2^-32 s, just under 0.954 us: the stamped value stays an honest
/// T1 to within a microsecond, and two requests can only share a timestamp if 4096 of them were
/// sent within the same microsecond (impossible), or the clock was stepped back during the run.
const SEQUENCE_BITS: u32 = 12;
const SEQUENCE_MASK: u64 = (1 << SEQUENCE_BITS) - 1;

/// What the load generator remembers about a request until its reply arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestInfo {
    /// T1 as sent on the wire; the reply must echo it as its origin timestamp.
    pub transmit: NtpTimestamp,
    /// NTP version of the request; the reply must carry the same.
    pub version: u8,
    /// True when T1 was read right before this datagram left (the first of its sendmmsg batch),
    /// or its kernel TX timestamp came (`--kernel-t1`), so that its latency and offset measure
    /// the server, not the generator's own batching.
    pub timed: bool,
    /// With `--kernel-t1`: when the kernel handed the request to the device, the T1 of its
    /// latency and offset (`transmit` stays what the reply must echo).
    pub kernel_t1: Option<NtpTimestamp>,
}

/// Replaces the low fraction bits of `t1` with `sequence`, making each request's timestamp unique.
pub fn stamp_with_sequence(t1: NtpTimestamp, sequence: u32) -> NtpTimestamp {
    NtpTimestamp((t1.0 & !SEQUENCE_MASK) | (u64::from(sequence) & SEQUENCE_MASK))
}

/// A 48-byte client (mode 3) request of `version` with every field zero but the transmit
/// timestamp, as ntpperf and SNTP clients send: servers answer it in basic (non-interleaved) mode.
pub fn request_bytes(version: u8, transmit: NtpTimestamp) -> [u8; HEADER_LEN] {
    Header {
        version,
        mode: MODE_CLIENT,
        transmit,
        ..Header::default()
    }
    .to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ntp_wire::packet::UnixTime;

    fn transmit_timestamp(now: UnixTime, sequence: u32) -> NtpTimestamp {
        stamp_with_sequence(NtpTimestamp::from_unix(now), sequence)
    }

    #[test]
    fn request_is_a_bare_mode_3_header_carrying_the_transmit_timestamp() {
        let transmit = NtpTimestamp(0xE8D4_A510_1234_5678);
        let bytes = request_bytes(4, transmit);
        assert_eq!(bytes[0], 0b00_100_011, "LI 0, version 4, mode 3");
        assert!(bytes[1..40].iter().all(|&b| b == 0));
        assert_eq!(&bytes[40..48], &transmit.0.to_be_bytes());
        let parsed = Header::parse(&bytes).unwrap();
        assert_eq!((parsed.version, parsed.mode), (4, MODE_CLIENT));
    }

    #[test]
    fn request_carries_older_versions() {
        for version in 1..=4 {
            let parsed = Header::parse(&request_bytes(version, NtpTimestamp(1))).unwrap();
            assert_eq!(parsed.version, version);
        }
    }

    #[test]
    fn sequence_makes_timestamps_of_one_instant_unique() {
        let now = UnixTime {
            secs: 1_700_000_000,
            nanos: 500_000_000,
        };
        let stamps: std::collections::HashSet<u64> = (0..4096)
            .map(|seq| transmit_timestamp(now, seq).0)
            .collect();
        assert_eq!(stamps.len(), 4096);
    }

    #[test]
    fn stamped_time_stays_within_a_microsecond_of_the_clock() {
        let now = UnixTime {
            secs: 1_700_000_000,
            nanos: 123_456_789,
        };
        let exact = NtpTimestamp::from_unix(now);
        for seq in [0, 1, 2047, 4095, 4096, u32::MAX] {
            let stamped = transmit_timestamp(now, seq);
            assert!(stamped.nanos_since(exact).abs() < 1_000, "sequence {seq}");
        }
    }

    #[test]
    fn sequence_wraps_in_its_bits() {
        let t1 = NtpTimestamp(0xAAAA_BBBB_CCCC_D000);
        assert_eq!(
            stamp_with_sequence(t1, 4096 + 7),
            stamp_with_sequence(t1, 7)
        );
        assert_eq!(stamp_with_sequence(t1, 7).0, 0xAAAA_BBBB_CCCC_D007);
    }
}
