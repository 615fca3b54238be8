//! NTP packet wire format (RFC 5905 header): timestamps, parsing and serialisation.

use std::fmt;

/// Length of the NTP header; every valid request is at least this long.
pub const HEADER_LEN: usize = 48;

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
pub const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

pub const MODE_SYMMETRIC_ACTIVE: u8 = 1;
pub const MODE_SYMMETRIC_PASSIVE: u8 = 2;
pub const MODE_CLIENT: u8 = 3;
pub const MODE_SERVER: u8 = 4;
pub const MODE_CONTROL: u8 = 6;
pub const MODE_PRIVATE: u8 = 7;

/// Highest NTP version this server speaks.
pub const NTP_VERSION: u8 = 4;

/// chrony's reference ID of its local reference, 127.127.1.1.
pub const REFID_LOCAL: u32 = 0x7F7F_0101;

/// Kiss code asking the client to reduce its request rate.
pub const KISS_RATE: u32 = u32::from_be_bytes(*b"RATE");

/// Leap indicator values (RFC 5905, figure 9).
pub mod leap {
    pub const NONE: u8 = 0;
    pub const INSERT_SECOND: u8 = 1;
    pub const DELETE_SECOND: u8 = 2;
    pub const UNSYNCHRONISED: u8 = 3;
}

/// A point in Unix time with nanosecond resolution, as the kernel reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime {
    pub secs: i64,
    pub nanos: u32,
}

impl UnixTime {
    pub fn from_system_time(time: std::time::SystemTime) -> Self {
        match time.duration_since(std::time::UNIX_EPOCH) {
            Ok(since) => Self {
                secs: since.as_secs() as i64,
                nanos: since.subsec_nanos(),
            },
            Err(before) => {
                let before = before.duration();
                let mut secs = -(before.as_secs() as i64);
                let mut nanos = before.subsec_nanos();
                if nanos > 0 {
                    secs -= 1;
                    nanos = 1_000_000_000 - nanos;
                }
                Self { secs, nanos }
            }
        }
    }

    /// Nanoseconds since the Unix epoch.
    pub fn as_nanos(self) -> i128 {
        self.secs as i128 * 1_000_000_000 + self.nanos as i128
    }
}

/// 64-bit NTP timestamp: 32 bits of seconds since 1900 (modulo the era) and 32 bits of fraction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NtpTimestamp(pub u64);

impl NtpTimestamp {
    pub const ZERO: NtpTimestamp = NtpTimestamp(0);

    pub fn from_unix(time: UnixTime) -> Self {
        let secs = (time.secs as u64).wrapping_add(NTP_UNIX_OFFSET_SECS) & 0xFFFF_FFFF;
        // Round to the nearest fraction unit (2^-32 s, about 0.23 ns).
        let fraction = ((u64::from(time.nanos) << 32) + 500_000_000) / 1_000_000_000;
        NtpTimestamp((secs << 32).wrapping_add(fraction))
    }

    /// Converts back to Unix time, taking the era that puts the result nearest to `pivot`.
    pub fn to_unix_near(self, pivot: UnixTime) -> UnixTime {
        let pivot_ntp = NtpTimestamp::from_unix(pivot);
        let delta = self.0.wrapping_sub(pivot_ntp.0) as i64;
        let delta_nanos = (i128::from(delta) * 1_000_000_000) >> 32;
        let total = pivot.as_nanos() + delta_nanos;
        UnixTime {
            secs: total.div_euclid(1_000_000_000) as i64,
            nanos: total.rem_euclid(1_000_000_000) as u32,
        }
    }

    pub fn seconds(self) -> u32 {
        (self.0 >> 32) as u32
    }

    pub fn fraction(self) -> u32 {
        self.0 as u32
    }

    /// `self - earlier` in nanoseconds, correct across era boundaries for spans under 68 years.
    pub fn nanos_since(self, earlier: NtpTimestamp) -> i64 {
        let delta = self.0.wrapping_sub(earlier.0) as i64;
        ((i128::from(delta) * 1_000_000_000) >> 32) as i64
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for NtpTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}.{:08x}", self.seconds(), self.fraction())
    }
}

/// 32-bit NTP short format (16.16 seconds), used for root delay and root dispersion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NtpShort(pub u32);

impl NtpShort {
    /// Converts seconds, saturating at the format's range and rounding up so that an
    /// error bound is never understated.
    pub fn from_seconds(seconds: f64) -> Self {
        if seconds.is_nan() || seconds <= 0.0 {
            return NtpShort(0);
        }
        let units = (seconds * 65536.0).ceil();
        if units >= u32::MAX as f64 {
            NtpShort(u32::MAX)
        } else {
            NtpShort(units as u32)
        }
    }

    pub fn from_micros(micros: u64) -> Self {
        let units = (u128::from(micros) * 65536).div_ceil(1_000_000);
        NtpShort(units.min(u128::from(u32::MAX)) as u32)
    }

    pub fn to_seconds(self) -> f64 {
        f64::from(self.0) / 65536.0
    }
}

/// The fixed 48-byte NTP header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub leap: u8,
    pub version: u8,
    pub mode: u8,
    pub stratum: u8,
    pub poll: i8,
    pub precision: i8,
    pub root_delay: NtpShort,
    pub root_dispersion: NtpShort,
    pub reference_id: u32,
    pub reference: NtpTimestamp,
    pub origin: NtpTimestamp,
    pub receive: NtpTimestamp,
    pub transmit: NtpTimestamp,
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn be_u64(bytes: &[u8], at: usize) -> u64 {
    (u64::from(be_u32(bytes, at)) << 32) | u64::from(be_u32(bytes, at + 4))
}

impl Header {
    /// Parses the header at the start of `datagram`; `None` when it is shorter than 48 bytes.
    /// Anything after the header (extension fields, a MAC) is left alone.
    pub fn parse(datagram: &[u8]) -> Option<Header> {
        let bytes = datagram.get(..HEADER_LEN)?;
        Some(Header {
            leap: bytes[0] >> 6,
            version: (bytes[0] >> 3) & 0x07,
            mode: bytes[0] & 0x07,
            stratum: bytes[1],
            poll: bytes[2] as i8,
            precision: bytes[3] as i8,
            root_delay: NtpShort(be_u32(bytes, 4)),
            root_dispersion: NtpShort(be_u32(bytes, 8)),
            reference_id: be_u32(bytes, 12),
            reference: NtpTimestamp(be_u64(bytes, 16)),
            origin: NtpTimestamp(be_u64(bytes, 24)),
            receive: NtpTimestamp(be_u64(bytes, 32)),
            transmit: NtpTimestamp(be_u64(bytes, 40)),
        })
    }

    pub fn write(&self, out: &mut [u8; HEADER_LEN]) {
        out[0] = (self.leap & 0x03) << 6 | (self.version & 0x07) << 3 | (self.mode & 0x07);
        out[1] = self.stratum;
        out[2] = self.poll as u8;
        out[3] = self.precision as u8;
        out[4..8].copy_from_slice(&self.root_delay.0.to_be_bytes());
        out[8..12].copy_from_slice(&self.root_dispersion.0.to_be_bytes());
        out[12..16].copy_from_slice(&self.reference_id.to_be_bytes());
        out[16..24].copy_from_slice(&self.reference.0.to_be_bytes());
        out[24..32].copy_from_slice(&self.origin.0.to_be_bytes());
        out[32..40].copy_from_slice(&self.receive.0.to_be_bytes());
        out[40..48].copy_from_slice(&self.transmit.0.to_be_bytes());
    }

    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        self.write(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_every_field() {
        let header = Header {
            leap: 2,
            version: 4,
            mode: 4,
            stratum: 3,
            poll: -6,
            precision: -25,
            root_delay: NtpShort(0x0001_8000),
            root_dispersion: NtpShort(0x0000_0042),
            reference_id: 0xC0A8_0001,
            reference: NtpTimestamp(0x0102_0304_0506_0708),
            origin: NtpTimestamp(0x1112_1314_1516_1718),
            receive: NtpTimestamp(0x2122_2324_2526_2728),
            transmit: NtpTimestamp(0x3132_3334_3536_3738),
        };
        let bytes = header.to_bytes();
        assert_eq!(bytes[0], 0b10_100_100);
        assert_eq!(bytes[2], (-6i8) as u8);
        assert_eq!(
            &bytes[40..48],
            &[0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38]
        );
        assert_eq!(Header::parse(&bytes), Some(header));
    }

    #[test]
    fn short_datagram_has_no_header() {
        assert_eq!(Header::parse(&[0u8; 47]), None);
        assert!(Header::parse(&[0u8; 48]).is_some());
    }

    #[test]
    fn unix_time_converts_to_ntp_and_back() {
        let t = UnixTime {
            secs: 1_700_000_000,
            nanos: 123_456_789,
        };
        let ntp = NtpTimestamp::from_unix(t);
        assert_eq!(
            u64::from(ntp.seconds()),
            1_700_000_000 + NTP_UNIX_OFFSET_SECS
        );
        let back = ntp.to_unix_near(UnixTime {
            secs: 1_700_000_100,
            nanos: 0,
        });
        assert_eq!(back.secs, t.secs);
        assert!((i64::from(back.nanos) - i64::from(t.nanos)).abs() <= 1);
    }

    #[test]
    fn era_boundary_differences_are_small() {
        let before = NtpTimestamp(u64::MAX - (1 << 31) + 1);
        let after = NtpTimestamp(1 << 31);
        assert_eq!(after.nanos_since(before), 1_000_000_000);
        assert_eq!(before.nanos_since(after), -1_000_000_000);
    }

    #[test]
    fn short_format_rounds_up_and_saturates() {
        assert_eq!(NtpShort::from_seconds(1.0), NtpShort(65536));
        assert_eq!(NtpShort::from_seconds(1e-9), NtpShort(1));
        assert_eq!(NtpShort::from_seconds(-1.0), NtpShort(0));
        assert_eq!(NtpShort::from_seconds(1e9), NtpShort(u32::MAX));
        assert_eq!(NtpShort::from_micros(1_000_000), NtpShort(65536));
        assert_eq!(NtpShort::from_micros(16), NtpShort(2));
    }
}
