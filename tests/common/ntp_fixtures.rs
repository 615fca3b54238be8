//! The NTP request and responder that tests and benchmarks (`benches/ntp_reply.rs`) share.

use std::sync::Arc;

use ringd::metrics::NtpCounters;
use ringd::ntp::access::{AccessTable, Subnet};
use ringd::ntp::clock_state::{ClockCell, ClockSnapshot};
use ringd::ntp::packet::{Header, NtpTimestamp, MODE_CLIENT};
use ringd::ntp::ratelimit::RateLimiter;
use ringd::ntp::responder::Responder;

/// A version 4 client request polling every 64 s, sent at `transmit`.
pub fn client_request(transmit: NtpTimestamp) -> [u8; 48] {
    Header {
        version: 4,
        mode: MODE_CLIENT,
        poll: 6,
        transmit,
        ..Header::default()
    }
    .to_bytes()
}

/// A responder serving an unsynchronised clock to 127.0.0.0/8 except 127.66.0.0/16 (so the
/// access check walks a table with an exception, as real ones have), with `limiter` if given.
pub fn loopback_responder(limiter: Option<RateLimiter>) -> Responder {
    let mut access = AccessTable::new();
    let subnet = |addr: &str, prefix_len| Subnet {
        addr: addr.parse().unwrap(),
        prefix_len,
    };
    access.set(subnet("127.0.0.0", 8), true, false);
    access.set(subnet("127.66.0.0", 16), false, false);
    Responder::new(
        Arc::new(access),
        limiter,
        Arc::new(ClockCell::new(ClockSnapshot::UNSYNCHRONISED)),
        -25,
        Arc::new(NtpCounters::default()),
    )
}
