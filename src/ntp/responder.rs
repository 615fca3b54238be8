//! One shard's per-packet decision: parse, access control, rate limit, reply, and the counting.

use std::net::IpAddr;
use std::sync::Arc;

use super::access::AccessTable;
use super::answer_policy::PolicyFollower;
use super::clock_state::ClockCell;
use super::packet::{NtpTimestamp, UnixTime, HEADER_LEN, KISS_RATE};
use super::ratelimit::{Decision, RateLimiter};
use super::reply::{self, DropReason, ServerParams};
use crate::metrics::NtpCounters;

/// Everything a shard needs to answer requests; fed datagrams by the I/O loop.
pub struct Responder {
    access: Arc<AccessTable>,
    limiter: Option<RateLimiter>,
    clock: Arc<ClockCell>,
    params: ServerParams,
    counters: Arc<NtpCounters>,
    /// Where a reloaded policy comes from, for a shard of a running service.
    policy: Option<PolicyFollower>,
}

impl Responder {
    pub fn new(
        access: Arc<AccessTable>,
        limiter: Option<RateLimiter>,
        clock: Arc<ClockCell>,
        precision: i8,
        counters: Arc<NtpCounters>,
    ) -> Self {
        let min_poll = limiter.as_ref().map_or(i8::MIN, RateLimiter::min_poll);
        Responder {
            access,
            limiter,
            clock,
            params: ServerParams {
                precision,
                min_poll,
            },
            counters,
            policy: None,
        }
    }

    /// A shard's responder, answering with the policy `follower` has in force and taking up
    /// each one published later.
    pub fn following(
        follower: PolicyFollower,
        shard_seed: (u64, u64),
        clock: Arc<ClockCell>,
        precision: i8,
        counters: Arc<NtpCounters>,
    ) -> Self {
        let (shards, seed) = shard_seed;
        let policy = follower.in_force();
        let mut responder = Responder::new(
            Arc::clone(&policy.access),
            policy.rate_limiter(shards, seed),
            clock,
            precision,
            counters,
        );
        responder.policy = Some(follower);
        responder
    }

    /// Takes up a policy published since the last request.
    fn follow_policy(&mut self) {
        let Some(change) = self.policy.as_mut().and_then(PolicyFollower::take_change) else {
            return;
        };
        self.access = change.access;
        if let Some(limiter) = change.rate_limiter {
            self.params.min_poll = limiter.as_ref().map_or(i8::MIN, RateLimiter::min_poll);
            self.limiter = limiter;
        }
    }

    pub fn counters(&self) -> &NtpCounters {
        &self.counters
    }

    /// The client log, when `ratelimit` keeps one.
    pub fn rate_limiter(&self) -> Option<&RateLimiter> {
        self.limiter.as_ref()
    }

    /// Handles one datagram from `client`. `rx_time` is the kernel's receive time when known;
    /// `read_clock` gives the current time and is called for T3 as the last step. Returns the
    /// reply length written to `out` (always the 48-byte header), or 0 when nothing is sent.
    pub fn respond(
        &mut self,
        datagram: &[u8],
        client: IpAddr,
        rx_time: Option<UnixTime>,
        mut read_clock: impl FnMut() -> UnixTime,
        out: &mut [u8; HEADER_LEN],
    ) -> usize {
        self.follow_policy();
        let counters = &*self.counters;
        counters.received.add(1);
        let request = match reply::parse_request(datagram) {
            Ok(request) => request,
            Err(reason) => {
                counters.dropped[reason.index()].add(1);
                return 0;
            }
        };
        if !self.access.is_allowed(client) {
            counters.dropped[DropReason::Denied.index()].add(1);
            return 0;
        }
        let rx_time = rx_time.unwrap_or_else(|| {
            counters.rx_time_fallbacks.add(1);
            read_clock()
        });
        let kiss = match self.limiter.as_mut().map(|l| l.check(client, rx_time)) {
            None | Some(Decision::Answer) => None,
            Some(Decision::Drop) => {
                counters.rate_limited.add(1);
                counters.dropped[DropReason::RateLimited.index()].add(1);
                return 0;
            }
            Some(Decision::KissRate) => {
                counters.rate_limited.add(1);
                counters.kod_sent.add(1);
                Some(KISS_RATE)
            }
        };
        let clock = self.clock.read();
        let receive = NtpTimestamp::from_unix(clock.correction.apply(rx_time));
        let transmit = NtpTimestamp::from_unix(clock.correction.apply(read_clock()));
        reply::write_reply(&request, &clock, &self.params, kiss, receive, transmit, out);
        if kiss.is_none() {
            counters.answered.add(1);
        }
        HEADER_LEN
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntp::access::Subnet;
    use crate::ntp::clock_state::ClockSnapshot;
    use crate::ntp::packet::{Header, MODE_CLIENT, MODE_SERVER};

    fn allow_loopback() -> Arc<AccessTable> {
        let mut table = AccessTable::new();
        table.set(
            Subnet {
                addr: "127.0.0.0".parse().unwrap(),
                prefix_len: 8,
            },
            true,
            false,
        );
        Arc::new(table)
    }

    fn request() -> [u8; 48] {
        Header {
            version: 4,
            mode: MODE_CLIENT,
            transmit: NtpTimestamp(42),
            ..Header::default()
        }
        .to_bytes()
    }

    fn responder(limiter: Option<RateLimiter>) -> Responder {
        Responder::new(
            allow_loopback(),
            limiter,
            Arc::new(ClockCell::new(ClockSnapshot {
                leap: 0,
                stratum: 10,
                ..ClockSnapshot::UNSYNCHRONISED
            })),
            -24,
            Arc::new(NtpCounters::default()),
        )
    }

    const T2: UnixTime = UnixTime {
        secs: 1_700_000_000,
        nanos: 1000,
    };
    const T3: UnixTime = UnixTime {
        secs: 1_700_000_000,
        nanos: 2000,
    };

    #[test]
    fn answers_with_kernel_t2_and_late_t3() {
        let mut r = responder(None);
        let mut out = [0u8; 48];
        let len = r.respond(
            &request(),
            "127.0.0.2".parse().unwrap(),
            Some(T2),
            || T3,
            &mut out,
        );
        assert_eq!(len, 48);
        let reply = Header::parse(&out).unwrap();
        assert_eq!(reply.mode, MODE_SERVER);
        assert_eq!(reply.origin, NtpTimestamp(42));
        assert_eq!(reply.receive, NtpTimestamp::from_unix(T2));
        assert_eq!(reply.transmit, NtpTimestamp::from_unix(T3));
        assert_eq!(r.counters().answered.get(), 1);
        assert_eq!(r.counters().rx_time_fallbacks.get(), 0);
    }

    #[test]
    fn missing_kernel_time_falls_back_and_is_counted() {
        let mut r = responder(None);
        let mut out = [0u8; 48];
        assert_eq!(
            r.respond(
                &request(),
                "127.0.0.2".parse().unwrap(),
                None,
                || T3,
                &mut out
            ),
            48
        );
        assert_eq!(r.counters().rx_time_fallbacks.get(), 1);
    }

    #[test]
    fn denied_and_malformed_are_dropped_and_counted() {
        let mut r = responder(None);
        let mut out = [0u8; 48];
        assert_eq!(
            r.respond(
                &request(),
                "10.0.0.1".parse().unwrap(),
                Some(T2),
                || T3,
                &mut out
            ),
            0
        );
        assert_eq!(
            r.respond(
                &[0u8; 20],
                "127.0.0.2".parse().unwrap(),
                Some(T2),
                || T3,
                &mut out
            ),
            0
        );
        let totals = r.counters().totals();
        assert_eq!(totals.received, 2);
        assert_eq!(totals.dropped[DropReason::Denied.index()], 1);
        assert_eq!(totals.dropped[DropReason::TooShort.index()], 1);
        assert_eq!(totals.answered, 0);
    }

    #[test]
    fn rate_limited_requests_are_dropped_or_kissed() {
        let limiter = RateLimiter::new(3, 1, 4, 4, 524_288, 1);
        let mut r = responder(Some(limiter));
        let mut out = [0u8; 48];
        let client: IpAddr = "127.0.0.3".parse().unwrap();
        assert_eq!(r.respond(&request(), client, Some(T2), || T3, &mut out), 48);
        assert_eq!(
            Header::parse(&out).unwrap().poll,
            3,
            "poll raised to the interval"
        );
        let mut kisses = 0;
        for _ in 0..200 {
            if r.respond(&request(), client, Some(T2), || T3, &mut out) == 48 {
                let reply = Header::parse(&out).unwrap();
                if reply.stratum == 0 {
                    assert_eq!(&reply.reference_id.to_be_bytes(), b"RATE");
                    kisses += 1;
                }
            }
        }
        let totals = r.counters().totals();
        assert_eq!(totals.kod_sent, kisses);
        assert!(totals.rate_limited > 150);
        assert_eq!(
            totals.rate_limited,
            totals.kod_sent + totals.dropped[DropReason::RateLimited.index()]
        );
    }
}
