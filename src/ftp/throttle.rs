//! Bandwidth limits: token buckets for `anon_max_rate`/`local_max_rate` and ringd's `max_rate_total`.
//!
//! Buckets are driven by the caller's clock (nanoseconds on any monotonic scale), so the
//! arithmetic is exact and testable; the transfer engine sleeps on io_uring timeouts for the
//! waits they return. A bucket starts empty when the data starts moving and holds up to
//! 100 ms of its rate: that is how far behind a transfer may fall and still make it up. A
//! timer that fires late, a shard busy with other sessions or a thread the kernel preempted
//! then costs nothing over a window of seconds, where a bucket of a few milliseconds throws
//! the tokens of a longer delay away for good (at 10 ms, the worst 3 s of a real 1 MB/s
//! transfer were 1.5% short). The rate achieved over any 3 s window stays within 1% of the
//! limit as long as the client keeps up. The price: a transfer whose client took less than
//! the limit for a while may then send up to 100 ms of its rate at once. (vsftpd, which
//! sleeps after it has overshot, is about 1.7% off across 3 s.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;
/// The most a bucket holds, as time at its rate.
const CAPACITY: Duration = Duration::from_millis(100);
/// `max_rate_total` hands out equal shares of this much time at its rate, so concurrent
/// transfers take turns at this pace.
const QUANTUM: Duration = Duration::from_millis(10);
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

/// Bytes that `rate` allows in `time`.
fn bytes_in(rate: u64, time: Duration) -> u64 {
    (u128::from(rate) * time.as_nanos() / NANOS_PER_SEC) as u64
}

/// How long `rate` bytes per second take to make up `missing` bytes * 1e9, rounded up.
fn time_for(missing: u128, rate: u128) -> Duration {
    let nanos = missing.div_ceil(rate.max(1));
    Duration::from_nanos(nanos.min(u128::from(u64::MAX)) as u64)
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
        let capacity_bytes = bytes_in(rate, CAPACITY).max(MIN_GRANT);
        TokenBucket {
            rate,
            tokens: 0,
            capacity: u128::from(capacity_bytes) * NANOS_PER_SEC,
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

    /// How long until `bytes` are there, if they are not yet.
    fn shortfall(&mut self, bytes: u64, now: u64) -> Option<Duration> {
        self.refill(now);
        let needed = u128::from(bytes) * NANOS_PER_SEC;
        (self.tokens < needed).then(|| time_for(needed - self.tokens, u128::from(self.rate)))
    }

    /// Takes up to `want` bytes, or says how long until `min(want, MIN_GRANT)` are there.
    pub fn take(&mut self, want: u64, now: u64) -> Grant {
        if want == 0 {
            return Grant::Bytes(0);
        }
        if let Some(wait) = self.shortfall(want.min(MIN_GRANT), now) {
            return Grant::Wait(wait);
        }
        let granted = ((self.tokens / NANOS_PER_SEC) as u64).min(want);
        self.tokens -= u128::from(granted) * NANOS_PER_SEC;
        Grant::Bytes(granted)
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
    /// Transfers whose last take was told to wait.
    waiting: u64,
    /// What each transfer has been entitled to since the bucket was made, in the bucket's
    /// units: the rate divided among the transfers, summed over time.
    entitled: u128,
    entitled_at: u64,
}

impl SharedState {
    fn advance(&mut self, now: u64) {
        let elapsed = u128::from(now.saturating_sub(self.entitled_at));
        self.entitled_at = self.entitled_at.max(now);
        self.entitled += elapsed * u128::from(self.bucket.rate) / u128::from(self.sessions.max(1));
    }
}

/// One bucket shared by every transfer of the server (`max_rate_total`), handed out in equal
/// shares and in turns: while others wait for the bucket, a transfer that has had its part
/// of the rate waits too, so a transfer whose timer fires first cannot take what built up for
/// the others while theirs were late. A transfer that does not use its part (its client is
/// slower) leaves it to the others.
#[derive(Clone, Debug)]
pub struct SharedBucket {
    state: Arc<Mutex<SharedState>>,
}

/// A transfer's place among those sharing the bucket; leaves it when dropped.
#[derive(Debug)]
pub struct SharedTicket {
    state: Arc<Mutex<SharedState>>,
    /// How much of `entitled` this transfer has used: below it, the transfer is owed.
    used: u128,
    waiting: bool,
}

impl SharedBucket {
    pub fn new(rate: u64, now: u64) -> SharedBucket {
        SharedBucket {
            state: Arc::new(Mutex::new(SharedState {
                bucket: TokenBucket::new(rate, now),
                sessions: 0,
                waiting: 0,
                entitled: 0,
                entitled_at: now,
            })),
        }
    }

    /// Registers a transfer starting at `now`, for as long as the ticket lives.
    pub fn join(&self, now: u64) -> SharedTicket {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.advance(now);
        if state.sessions == 0 {
            // What built up while nobody was sending is nobody's to make up.
            state.bucket = TokenBucket::new(state.bucket.rate, now);
        }
        state.sessions += 1;
        SharedTicket {
            state: Arc::clone(&self.state),
            used: state.entitled,
            waiting: false,
        }
    }
}

impl SharedTicket {
    /// Like [`TokenBucket::take`], in chunks of this transfer's fair share: each transfer
    /// waits for a whole share, and for its turn while others wait, so whichever order they
    /// wake in, each gets the same amount.
    pub fn take(&mut self, want: u64, now: u64) -> Grant {
        if want == 0 {
            return Grant::Bytes(0);
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.advance(now);
        let sessions = state.sessions.max(1);
        let share = (bytes_in(state.bucket.rate, QUANTUM) / sessions).max(MIN_GRANT);
        let want = want.min(share);
        let needed = u128::from(want) * NANOS_PER_SEC;
        // Owed at most its part of the bucket: a transfer that sent less than its share for
        // a while does not come back owed more than the bucket could hold for it.
        let most_owed = state.bucket.capacity / u128::from(sessions);
        self.used = self.used.max(state.entitled.saturating_sub(most_owed));
        let owed = state.entitled.saturating_sub(self.used);
        let others_waiting = state.waiting - u64::from(self.waiting);
        let rate = state.bucket.rate;
        let wait = if owed >= needed {
            state.bucket.shortfall(want, now)
        } else if others_waiting > 0 {
            // Not owed a share while others wait: it waits its turn, until it is owed one.
            let turn = time_for(needed - owed, u128::from(rate) / u128::from(sessions));
            let tokens = state.bucket.shortfall(want, now);
            Some(tokens.map_or(turn, |tokens| tokens.max(turn)))
        } else {
            // Taking what the others leave, it leaves a share for each of them (as much as
            // the bucket holds besides), so one that comes back finds its share there and
            // need not wait for its turn.
            let room = (state.bucket.capacity / NANOS_PER_SEC) as u64 - want;
            let leave = ((sessions - 1) * share)
                .min(bytes_in(rate, QUANTUM))
                .min(room);
            state.bucket.shortfall(want + leave, now)
        };
        if let Some(wait) = wait {
            if !self.waiting {
                self.waiting = true;
                state.waiting += 1;
            }
            return Grant::Wait(wait);
        }
        stop_waiting(&mut self.waiting, &mut state);
        state.bucket.tokens -= needed;
        // What it sent while nobody else waited took nothing from anyone: beyond one share,
        // that is not held against it.
        let share = u128::from(share) * NANOS_PER_SEC;
        self.used = (self.used + needed).min(state.entitled + share);
        Grant::Bytes(want)
    }

    /// This transfer waits for something else (its own limit): the others need not leave
    /// it its turn meanwhile.
    fn waits_elsewhere(&mut self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        stop_waiting(&mut self.waiting, &mut state);
    }
}

/// A transfer's `waiting` flag goes down, and the count of those waiting with it.
fn stop_waiting(waiting: &mut bool, state: &mut SharedState) {
    if std::mem::take(waiting) {
        state.waiting -= 1;
    }
}

impl Drop for SharedTicket {
    fn drop(&mut self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.sessions = state.sessions.saturating_sub(1);
        stop_waiting(&mut self.waiting, &mut state);
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
            Some(Grant::Wait(wait)) => {
                if let Some(total) = self.total.as_mut() {
                    total.waits_elsewhere();
                }
                return Grant::Wait(wait);
            }
            Some(Grant::Bytes(bytes)) => bytes,
            None => want,
        };
        let Some(total) = self.total.as_mut() else {
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
    const WINDOW: u64 = 3 * SEC;

    /// (time, total bytes sent by then) after each grant.
    type Samples = Vec<(u64, u64)>;

    /// How late a sleeper wakes: uniformly 0..=`max` ns, from a fixed seed (splitmix64), so
    /// every run simulates the same wake-ups.
    fn lateness(seed: u64, max: u64) -> impl FnMut() -> u64 {
        let mut state = seed;
        move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) % (max + 1)
        }
    }

    /// Senders `0` and `1` each wake late by their own `lateness`, independently (as on two
    /// shards).
    fn each_late(seeds: [u64; 2]) -> impl FnMut(usize) -> u64 {
        let mut late = seeds.map(|seed| lateness(seed, 20 * MS));
        move |i| late[i]()
    }

    /// Runs greedy senders against `sessions` on one simulated clock until `duration`:
    /// whoever is due next asks for a large chunk and sends what it gets at once; timers due
    /// at the same moment fire in the order they were set, like the runtime's. Sender `i`,
    /// told to wait, wakes `late(i)` after the wait; having sent, it is busy for `busy[i]`.
    fn simulate_all(
        sessions: &mut [Throttle],
        duration: u64,
        busy: &[u64],
        late: &mut dyn FnMut(usize) -> u64,
    ) -> Vec<Samples> {
        let n = sessions.len();
        let mut samples = vec![vec![(0, 0)]; n];
        let mut wake = vec![0; n];
        let mut last_served = vec![0; n];
        let mut turn = 0;
        while let Some(i) = (0..n).min_by_key(|&i| (wake[i], last_served[i])) {
            let now = wake[i];
            if now > duration {
                break;
            }
            turn += 1;
            last_served[i] = turn;
            match sessions[i].take(256 * 1024, now) {
                Grant::Bytes(bytes) => {
                    let sent = samples[i].last().map_or(0, |s| s.1) + bytes;
                    samples[i].push((now, sent));
                    wake[i] = now + busy[i];
                }
                Grant::Wait(wait) => wake[i] = now + wait.as_nanos() as u64 + late(i),
            }
        }
        samples
    }

    fn simulate(throttle: Throttle, duration: u64, mut late: impl FnMut() -> u64) -> Samples {
        simulate_all(&mut [throttle], duration, &[0], &mut |_| late()).remove(0)
    }

    fn sent_by(samples: &[(u64, u64)], time: u64) -> u64 {
        let after = samples.partition_point(|(t, _)| *t <= time);
        samples[..after].last().map_or(0, |s| s.1)
    }

    fn sent_in(samples: &[(u64, u64)], start: u64, length: u64) -> u64 {
        sent_by(samples, start + length) - sent_by(samples, start)
    }

    /// The start of every 3 s window from 100 ms on, 1 ms apart, that ends by `duration`.
    fn windows(duration: u64) -> impl Iterator<Item = u64> {
        (100 * MS..=duration - WINDOW).step_by(MS as usize)
    }

    /// Asserts that every 3 s window of `samples` is within 1% of `rate`.
    fn assert_windows_within_one_percent(samples: &[(u64, u64)], rate: u64, duration: u64) {
        for start in windows(duration) {
            let achieved = sent_in(samples, start, WINDOW) as f64 / 3.0;
            let error = (achieved - rate as f64) / rate as f64;
            assert!(
                error.abs() < 0.01,
                "{rate} B/s, window at {} ms: {achieved} B/s",
                start / MS
            );
        }
    }

    #[test]
    fn a_new_bucket_is_empty_and_fills_at_its_rate() {
        let mut bucket = TokenBucket::new(1_000_000, 0);
        assert_eq!(
            bucket.take(1000, 0),
            Grant::Wait(Duration::from_micros(512))
        );
        assert_eq!(bucket.take(1000, MS), Grant::Bytes(1000));
        // Capped at 100 ms worth, however long it rested.
        assert_eq!(bucket.available(10 * SEC), 100_000);
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
        let throttle = Throttle::new(Some(TokenBucket::new(rate, 0)), None);
        let samples = simulate(throttle, 10 * SEC, || 0);
        assert_windows_within_one_percent(&samples, rate, 10 * SEC);
        // Never ahead of the rate.
        for &(time, sent) in &samples {
            assert!(u128::from(sent) * NANOS_PER_SEC <= u128::from(time) * u128::from(rate));
        }
    }

    #[test]
    fn time_lost_to_late_wake_ups_is_made_up() {
        // Every sleep ends 0 to 20 ms late, as on a busy shard; 10 ms buckets lost the
        // tokens of any delay beyond their capacity and fell short by a few percent.
        for (seed, rate) in [
            (1, 1_000_000),
            (2, 10_000_000),
            (3, 100_000_000),
            (4, 250_000),
        ] {
            let throttle = Throttle::new(Some(TokenBucket::new(rate, 0)), None);
            let samples = simulate(throttle, 10 * SEC, lateness(seed, 20 * MS));
            assert_windows_within_one_percent(&samples, rate, 10 * SEC);
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

    /// Asserts that in every 3 s window each of `samples` has its equal part of what all
    /// sent, within `tolerance`, and that all together are within 1% of `rate`.
    fn assert_fair(samples: &[Samples], rate: u64, duration: u64, tolerance: f64) {
        for start in windows(duration) {
            let sent: Vec<u64> = samples.iter().map(|s| sent_in(s, start, WINDOW)).collect();
            let total: u64 = sent.iter().sum();
            let fair = total as f64 / sent.len() as f64;
            for (i, s) in sent.iter().enumerate() {
                assert!(
                    (*s as f64 - fair).abs() / fair < tolerance,
                    "window at {} ms, session {i}: {s} vs {fair}",
                    start / MS
                );
            }
            let achieved = total as f64 / 3.0;
            assert!(
                (achieved - rate as f64).abs() / (rate as f64) < 0.01,
                "window at {} ms: {achieved} B/s in all",
                start / MS
            );
        }
    }

    #[test]
    fn shared_total_gives_fair_shares() {
        let rate = 10_000_000;
        let total = SharedBucket::new(rate, 0);
        let mut sessions: Vec<Throttle> = (0..10)
            .map(|_| Throttle::new(None, Some(total.join(0))))
            .collect();
        let samples = simulate_all(&mut sessions, 5 * SEC, &[0; 10], &mut |_| 0);
        assert_fair(&samples, rate, 5 * SEC, 0.05);
    }

    #[test]
    fn shared_total_stays_fair_when_timers_fire_late() {
        // Each sleeper wakes 0 to 20 ms late, independently (sessions on different shards):
        // the first awake must not take what built up for the other.
        let rate = 10_000_000;
        let total = SharedBucket::new(rate, 0);
        let mut sessions = [
            Throttle::new(None, Some(total.join(0))),
            Throttle::new(None, Some(total.join(0))),
        ];
        let samples = simulate_all(&mut sessions, 10 * SEC, &[0, 0], &mut each_late([5, 6]));
        assert_fair(&samples, rate, 10 * SEC, 0.02);
    }

    #[test]
    fn what_a_slow_transfer_leaves_goes_to_the_others() {
        // The second transfer's client takes 50 KB per 50 ms (1 MB/s): the first gets the
        // other 9 MB/s, not just its half.
        let rate = 10_000_000;
        let total = SharedBucket::new(rate, 0);
        let mut sessions = [
            Throttle::new(None, Some(total.join(0))),
            Throttle::new(None, Some(total.join(0))),
        ];
        let samples = simulate_all(
            &mut sessions,
            10 * SEC,
            &[0, 50 * MS],
            &mut each_late([7, 8]),
        );
        let slow = sent_in(&samples[1], SEC, 8 * SEC) as f64 / 8.0;
        let fast = sent_in(&samples[0], SEC, 8 * SEC) as f64 / 8.0;
        assert!((slow - 1_000_000.0).abs() < 50_000.0, "{slow}");
        assert!(
            ((fast + slow) - rate as f64).abs() / (rate as f64) < 0.01,
            "{fast}"
        );
    }

    #[test]
    fn a_transfer_held_back_by_its_own_limit_does_not_hold_up_the_others() {
        let rate = 10_000_000;
        let total = SharedBucket::new(rate, 0);
        let mut sessions = [
            Throttle::new(Some(TokenBucket::new(1_000_000, 0)), Some(total.join(0))),
            Throttle::new(None, Some(total.join(0))),
        ];
        let samples = simulate_all(&mut sessions, 10 * SEC, &[0, 0], &mut each_late([9, 10]));
        assert_windows_within_one_percent(&samples[0], 1_000_000, 10 * SEC);
        assert_windows_within_one_percent(&samples[1], 9_000_000, 10 * SEC);
    }

    #[test]
    fn both_limits_apply_and_the_lower_wins() {
        let total = SharedBucket::new(500_000, 0);
        let throttle = Throttle::new(Some(TokenBucket::new(1_000_000, 0)), Some(total.join(0)));
        let samples = simulate(throttle, 4 * SEC, || 0);
        let achieved = sent_in(&samples, SEC, WINDOW) as f64 / 3.0;
        assert!(
            (achieved - 500_000.0).abs() / 500_000.0 < 0.01,
            "{achieved}"
        );
    }

    #[test]
    fn leaving_tickets_enlarge_the_others_share() {
        let total = SharedBucket::new(1_000_000, 0);
        let mut a = total.join(0);
        let b = total.join(0);
        assert_eq!(a.take(1 << 20, SEC), Grant::Bytes(5000));
        drop(b);
        assert_eq!(a.take(1 << 20, 2 * SEC), Grant::Bytes(10_000));
    }

    #[test]
    fn the_total_starts_empty_when_the_first_transfer_joins() {
        let total = SharedBucket::new(1_000_000, 0);
        let mut first = total.join(10 * SEC);
        assert_eq!(
            first.take(1 << 20, 10 * SEC),
            Grant::Wait(Duration::from_millis(10))
        );
    }
}
