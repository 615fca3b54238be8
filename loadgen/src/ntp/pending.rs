//! Requests in flight, found again by the transmit timestamp that their reply echoes as origin.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use ntp_wire::packet::NtpTimestamp;

use super::request::RequestInfo;

/// Multiplicative (Fibonacci) hashing of a timestamp. The keys are unique by construction and
/// never chosen by an attacker, so SipHash's protection would only cost time on the hot path;
/// the multiplication spreads the sequence bits into the high bits the table's tags use.
#[derive(Default)]
struct TimestampHasher(u64);

impl Hasher for TimestampHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64((self.0 << 8) | u64::from(byte));
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub struct PendingRequests {
    by_transmit: HashMap<u64, RequestInfo, BuildHasherDefault<TimestampHasher>>,
}

impl PendingRequests {
    /// Room for `capacity` requests before the table grows.
    pub fn with_capacity(capacity: usize) -> Self {
        PendingRequests {
            by_transmit: HashMap::with_capacity_and_hasher(capacity, Default::default()),
        }
    }

    pub fn insert(&mut self, request: RequestInfo) {
        self.by_transmit.insert(request.transmit.0, request);
    }

    /// Removes and returns the request whose transmit timestamp is `origin`; a second reply to
    /// the same request finds nothing.
    pub fn take(&mut self, origin: NtpTimestamp) -> Option<RequestInfo> {
        self.by_transmit.remove(&origin.0)
    }

    /// Gives the request `transmit`, if still in flight, its kernel TX time as T1: from then on
    /// it is timed.
    pub fn set_kernel_t1(&mut self, transmit: NtpTimestamp, t1: NtpTimestamp) {
        if let Some(request) = self.by_transmit.get_mut(&transmit.0) {
            request.kernel_t1 = Some(t1);
            request.timed = true;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_transmit.is_empty()
    }

    /// Removes and returns every request still in flight: those never answered.
    pub fn drain(&mut self) -> impl Iterator<Item = RequestInfo> + '_ {
        self.by_transmit.drain().map(|(_, request)| request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(transmit: u64) -> RequestInfo {
        RequestInfo {
            transmit: NtpTimestamp(transmit),
            version: 4,
            timed: false,
            kernel_t1: None,
        }
    }

    #[test]
    fn a_request_is_taken_once() {
        let mut pending = PendingRequests::with_capacity(4);
        pending.insert(request(0xAAAA_0000_0000_0001));
        pending.insert(request(0xAAAA_0000_0000_0002));
        assert_eq!(
            pending.take(NtpTimestamp(0xAAAA_0000_0000_0002)),
            Some(request(0xAAAA_0000_0000_0002))
        );
        assert_eq!(pending.take(NtpTimestamp(0xAAAA_0000_0000_0002)), None);
        assert_eq!(pending.take(NtpTimestamp(0xBBBB_0000_0000_0001)), None);
        assert!(!pending.is_empty());
        assert!(pending.take(NtpTimestamp(0xAAAA_0000_0000_0001)).is_some());
        assert!(pending.is_empty());
        pending.insert(request(0xAAAA_0000_0000_0003));
        assert_eq!(
            pending.drain().collect::<Vec<_>>(),
            [request(0xAAAA_0000_0000_0003)]
        );
        assert!(pending.is_empty());
    }

    #[test]
    fn a_kernel_t1_makes_its_request_timed() {
        let mut pending = PendingRequests::with_capacity(4);
        pending.insert(request(0xAAAA_0000_0000_0001));
        pending.set_kernel_t1(NtpTimestamp(0xAAAA_0000_0000_0001), NtpTimestamp(7));
        pending.set_kernel_t1(NtpTimestamp(0xBBBB_0000_0000_0001), NtpTimestamp(8));
        let taken = pending.take(NtpTimestamp(0xAAAA_0000_0000_0001)).unwrap();
        assert_eq!(taken.kernel_t1, Some(NtpTimestamp(7)));
        assert!(taken.timed);
        assert!(
            pending.is_empty(),
            "a stamp for no request in flight adds none"
        );
    }
}
