//! Bandwidth limits: token buckets for `anon_max_rate`/`local_max_rate` and ringd's `max_rate_total`.
//!
//! Buckets are driven by the caller's clock (nanoseconds on any monotonic scale), so the
//! arithmetic is exact and testable; the transfer engine sleeps on io_uring timeouts for the
//! waits they return. A bucket starts empty and holds at most 10 ms of its rate, so the rate
//! achieved over any window of a few seconds stays within a fraction of a percent of the limit
//! (vsftpd, which sleeps after it has overshot, is about 1.7% over across 3 s).

use std::sync::{Arc, Mutex};
use std::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;
/// The most a bucket holds, as time at its rate.
const CAPACITY: Duration = Duration::from_millis(10);
/// A bucket never hands out less than this at once (unless asked for less), so very low rates
/// still move in sensible chunks instead of byte by byte.
const MIN_GRANT: u64 = 512;

/// What a bucket allows now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// Send this many bytes now (at least 1, at most what was asked).
    Bytes(u64),
    /// Nothing may be sent for this long.
    Wait(Duration),
}

/// A token bucket of `rate` bytes per second.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate: u64,
    /// Tokens in byte-nanoseconds per second: `bytes * 1e9`, so refills are exact integers.
    tokens: u128,
    capacity: u128,
    last_refill: u64,
}

impl TokenBucket {
    /// An empty bucket for `rate` bytes per second (must be positive), starting at `now`.
    pub fn new(rate: u64, now: u64) -> TokenBucket {
        let rate = rate.max(1);
        let capacity_bytes =
            ((u128::from(rate) * CAPACITY.as_nanos()) / NANOS_PER_SEC).max(u128::from(MIN_GRANT));
        TokenBucket {
            rate,
            tokens: 0,
            capacity: capacity_bytes * NANOS_PER_SEC,
            last_refill: now,
        }
    }

    fn refill(&mut self, now: u64) {
        let elapsed = u128::from(now.saturating_sub(self.last_refill));
        self.last_refill = self.last_refill.max(now);
        self.tokens = (self.tokens + elapsed * u128::from(self.rate)).min(self.capacity);
    }

    /// Bytes available now, without taking them.
    #[cfg(test)]
    fn available(&mut self, now: u64) -> u64 {
        self.refill(now);
        (self.tokens / NANOS_PER_SEC) as u64
    }

    /// Takes up to `want` bytes, or says how long until `min(want, MIN_GRANT)` are there.
    pub fn take(&mut self, want: u64, now: u64) -> Grant {
        self.take_chunk(want, MIN_GRANT, now)
    }

    /// Takes up to `want` bytes once at least `min(want, chunk)` are there, or says how long
    /// until then.
    fn take_chunk(&mut self, want: u64, chunk: u64, now: u64) -> Grant {
        if want == 0 {
            return Grant::Bytes(0);
        }
        self.refill(now);
        let available = (self.tokens / NANOS_PER_SEC) as u64;
        let needed = want.min(chunk);
        if available >= needed {
            let granted = available.min(want);
            self.tokens -= u128::from(granted) * NANOS_PER_SEC;
            return Grant::Bytes(granted);
        }
        let missing = u128::from(needed) * NANOS_PER_SEC - self.tokens;
        let nanos = missing.div_ceil(u128::from(self.rate));
        Grant::Wait(Duration::from_nanos(nanos.min(u128::from(u64::MAX)) as u64))
    }

    /// Gives back bytes that were granted but not sent.
    pub fn refund(&mut self, bytes: u64) {
        self.tokens = (self.tokens + u128::from(bytes) * NANOS_PER_SEC).min(self.capacity);
    }
}

#[derive(Debug)]
struct SharedState {
    bucket: TokenBucket,
    sessions: u64,
}

/// One bucket shared by every transfer of the server (`max_rate_total`). Each grant is capped
/// at an equal share of the bucket's capacity, so concurrent transfers get fair shares.
#[derive(Clone, Debug)]
pub struct SharedBucket {
    state: Arc<Mutex<SharedState>>,
}

/// A transfer's place among those sharing the bucket; leaves it when dropped.
#[derive(Debug)]
pub struct SharedTicket {
    state: Arc<Mutex<SharedState>>,
}

impl SharedBucket {
    pub fn new(rate: u64, now: u64) -> SharedBucket {
        SharedBucket {
            state: Arc::new(Mutex::new(SharedState {
                bucket: TokenBucket::new(rate, now),
                sessions: 0,
            })),
        }
    }

    /// Registers a transfer for as long as the ticket lives.
    pub fn join(&self) -> SharedTicket {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .sessions += 1;
        SharedTicket {
            state: Arc::clone(&self.state),
        }
    }
}

impl SharedTicket {
    /// Like [`TokenBucket::take`], in chunks of this transfer's fair share: each transfer
    /// waits for a whole share, so whichever order they wake in, each gets the same amount.
    pub fn take(&self, want: u64, now: u64) -> Grant {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let capacity = (state.bucket.capacity / NANOS_PER_SEC) as u64;
        let share = (capacity / state.sessions.max(1)).max(MIN_GRANT);
        let want = want.min(share);
        state.bucket.take_chunk(want, want, now)
    }

    pub fn refund(&self, bytes: u64) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .bucket
            .refund(bytes);
    }
}

impl Drop for SharedTicket {
    fn drop(&mut self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.sessions = state.sessions.saturating_sub(1);
    }
}

/// The limits one transfer obeys: its session's rate and the server's total, either optional.
#[derive(Debug, Default)]
pub struct Throttle {
    own: Option<TokenBucket>,
    total: Option<SharedTicket>,
}

impl Throttle {
    pub fn new(own: Option<TokenBucket>, total: Option<SharedTicket>) -> Throttle {
        Throttle { own, total }
    }

    pub fn is_limited(&self) -> bool {
        self.own.is_some() || self.total.is_some()
    }

    /// How much of `want` may move now under both limits, or how long to wait.
    pub fn take(&mut self, want: u64, now: u64) -> Grant {
        let granted = match self.own.as_mut().map(|own| own.take(want, now)) {
            Some(Grant::Wait(wait)) => return Grant::Wait(wait),
            Some(Grant::Bytes(bytes)) => bytes,
            None => want,
        };
        let Some(total) = &self.total else {
            return Grant::Bytes(granted);
        };
        match total.take(granted, now) {
            Grant::Bytes(bytes) => {
                if let Some(own) = self.own.as_mut() {
                    own.refund(granted - bytes);
                }
                Grant::Bytes(bytes)
            }
            Grant::Wait(wait) => {
                if let Some(own) = self.own.as_mut() {
                    own.refund(granted);
                }
                Grant::Wait(wait)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const SEC: u64 = 1_000_000_000;

    /// Runs a greedy sender against `throttle` on a simulated clock for `duration`, sending
    /// every grant at once and sleeping exactly as told; returns (time, total bytes) samples.
    fn simulate(throttle: &mut Throttle, duration: u64) -> Vec<(u64, u64)> {
        let mut now = 0;
        let mut sent = 0;
        let mut samples = vec![(0, 0)];
        while now < duration {
            match throttle.take(64 * 1024, now) {
                Grant::Bytes(bytes) => {
                    sent += bytes;
                    samples.push((now, sent));
                }
                Grant::Wait(wait) => now += wait.as_nanos() as u64,
            }
        }
        samples
    }

    fn sent_by(samples: &[(u64, u64)], time: u64) -> u64 {
        samples
            .iter()
            .take_while(|(t, _)| *t <= time)
            .last()
            .map_or(0, |s| s.1)
    }

    #[test]
    fn a_new_bucket_is_empty_and_fills_at_its_rate() {
        let mut bucket = TokenBucket::new(1_000_000, 0);
        assert_eq!(
            bucket.take(1000, 0),
            Grant::Wait(Duration::from_micros(512))
        );
        assert_eq!(bucket.take(1000, MS), Grant::Bytes(1000));
        // Capped at 10 ms worth, however long it rested.
        assert_eq!(bucket.available(10 * SEC), 10_000);
    }

    #[test]
    fn refunds_return_tokens() {
        let mut bucket = TokenBucket::new(1_000_000, 0);
        assert_eq!(bucket.take(u64::MAX, 5 * MS), Grant::Bytes(5000));
        bucket.refund(2000);
        assert_eq!(bucket.available(5 * MS), 2000);
    }

    #[test]
    fn any_three_second_window_is_within_one_percent() {
        let rate = 1_000_000;
        let mut throttle = Throttle::new(Some(TokenBucket::new(rate, 0)), None);
        let samples = simulate(&mut throttle, 10 * SEC);
        let mut start = 100 * MS;
        while start + 3 * SEC <= 10 * SEC {
            let bytes = sent_by(&samples, start + 3 * SEC) - sent_by(&samples, start);
            let achieved = bytes as f64 / 3.0;
            let error = (achieved - rate as f64).abs() / rate as f64;
            assert!(error < 0.01, "window at {start}: {achieved} B/s");
            start += 37 * MS;
        }
    }

    #[test]
    fn waits_are_never_zero_while_starved() {
        let mut bucket = TokenBucket::new(100, 0);
        match bucket.take(10_000, 0) {
            Grant::Wait(wait) => assert_eq!(wait, Duration::from_millis(5120)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn shared_total_gives_fair_shares() {
        let total = SharedBucket::new(10_000_000, 0);
        let mut sessions: Vec<Throttle> = (0..10)
            .map(|_| Throttle::new(None, Some(total.join())))
            .collect();
        let mut sent = [0u64; 10];
        let mut wake = [0u64; 10];
        let mut last_served = [0u64; 10];
        let mut turn = 0;
        // Whoever is due next asks for a large chunk; timers due at the same moment fire in
        // the order they were set, like the runtime's.
        while let Some(i) = (0..10).min_by_key(|&i| (wake[i], last_served[i])) {
            let now = wake[i];
            if now > 5 * SEC {
                break;
            }
            turn += 1;
            last_served[i] = turn;
            match sessions[i].take(1 << 20, now) {
                Grant::Bytes(bytes) => sent[i] += bytes,
                Grant::Wait(wait) => wake[i] = now + wait.as_nanos() as u64,
            }
        }
        let total_sent: u64 = sent.iter().sum();
        let fair = total_sent as f64 / 10.0;
        for (i, s) in sent.iter().enumerate() {
            assert!(
                (*s as f64 - fair).abs() / fair < 0.05,
                "session {i}: {s} vs {fair}"
            );
        }
        let achieved = total_sent as f64 / 5.0;
        assert!(
            (achieved - 10_000_000.0).abs() / 10_000_000.0 < 0.01,
            "{achieved}"
        );
    }

    #[test]
    fn both_limits_apply_and_the_lower_wins() {
        let total = SharedBucket::new(500_000, 0);
        let mut throttle = Throttle::new(Some(TokenBucket::new(1_000_000, 0)), Some(total.join()));
        let samples = simulate(&mut throttle, 4 * SEC);
        let achieved = (sent_by(&samples, 4 * SEC) - sent_by(&samples, SEC)) as f64 / 3.0;
        assert!(
            (achieved - 500_000.0).abs() / 500_000.0 < 0.01,
            "{achieved}"
        );
    }

    #[test]
    fn leaving_tickets_enlarge_the_others_share() {
        let total = SharedBucket::new(1_000_000, 0);
        let a = total.join();
        let b = total.join();
        assert_eq!(a.take(1 << 20, SEC), Grant::Bytes(5000));
        drop(b);
        assert_eq!(a.take(1 << 20, 2 * SEC), Grant::Bytes(10_000));
    }
}
