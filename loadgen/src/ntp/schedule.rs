//! Open-loop pacing without I/O: which requests are due at a given instant, in batches, and how late.
//!
//! Request `i` is due `i / rate` seconds after the start. The caller passes the time elapsed since
//! the start (its own clock, or a fake one in tests) and sends whatever is released. Due requests
//! are held back for at most `coalesce` so that one sendmmsg carries several of them; a generator
//! that cannot keep up releases full batches late, and the lateness is counted, never hidden.

use std::time::Duration;

/// A request released this much after its due time counts as sent late.
pub const LATE_AFTER: Duration = Duration::from_millis(1);

#[derive(Clone, Debug)]
pub struct Schedule {
    rate: f64,
    total: u64,
    released: u64,
    max_batch: u64,
    coalesce: Duration,
}

/// Requests to send now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Release {
    pub count: usize,
    /// How many of them are more than `LATE_AFTER` past their due time.
    pub late: usize,
}

impl Schedule {
    /// `total` requests at `rate` per second, at most `max_batch` per release.
    pub fn new(rate: f64, total: u64, max_batch: usize, coalesce: Duration) -> Self {
        assert!(rate > 0.0 && rate.is_finite(), "rate must be positive");
        assert!(max_batch > 0, "batches hold at least one request");
        Schedule {
            rate,
            total,
            released: 0,
            max_batch: max_batch as u64,
            coalesce,
        }
    }

    /// As many requests as `rate` gives in `duration` (at least one).
    pub fn for_duration(
        rate: f64,
        duration: Duration,
        max_batch: usize,
        coalesce: Duration,
    ) -> Self {
        let total = (rate * duration.as_secs_f64()).round().max(1.0) as u64;
        Self::new(rate, total, max_batch, coalesce)
    }

    pub fn is_finished(&self) -> bool {
        self.released == self.total
    }

    /// When request `index` is due, measured from the start.
    fn due_at(&self, index: u64) -> Duration {
        Duration::from_nanos((index as f64 * 1e9 / self.rate).round() as u64)
    }

    /// How many requests (counted from the first) are due at `elapsed`.
    fn due_by(&self, elapsed: Duration) -> u64 {
        // Integer nanoseconds keep exact boundaries exact: request i is due at i / rate, not a
        // rounding error later.
        ((elapsed.as_nanos() as f64 * self.rate / 1e9).floor() as u64 + 1).min(self.total)
    }

    /// The requests to send at `elapsed`, or `None` when nothing is due yet or the due ones may
    /// still wait to fill a batch.
    pub fn release(&mut self, elapsed: Duration) -> Option<Release> {
        let due = self.due_by(elapsed).saturating_sub(self.released);
        if due == 0 {
            return None;
        }
        let fills_batch = due >= self.max_batch;
        let is_last = self.released + due == self.total;
        let waited = elapsed.saturating_sub(self.due_at(self.released));
        if !fills_batch && !is_last && waited < self.coalesce {
            return None;
        }
        let count = due.min(self.max_batch);
        let late = match elapsed.checked_sub(LATE_AFTER) {
            Some(cutoff) => self.due_by(cutoff).saturating_sub(self.released).min(count),
            None => 0,
        };
        self.released += count;
        Some(Release {
            count: count as usize,
            late: late as usize,
        })
    }

    /// How long after `elapsed` the next release can happen; `None` once everything is released.
    pub fn next_release_in(&self, elapsed: Duration) -> Option<Duration> {
        if self.is_finished() {
            return None;
        }
        let first = self.released;
        let batch_full = (first + self.max_batch - 1).min(self.total - 1);
        let at = (self.due_at(first) + self.coalesce).min(self.due_at(batch_full));
        Some(at.saturating_sub(elapsed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(micros: u64) -> Duration {
        Duration::from_micros(micros)
    }

    /// 100,000 requests/s: one every 10 us.
    fn schedule(total: u64, max_batch: usize, coalesce: Duration) -> Schedule {
        Schedule::new(100_000.0, total, max_batch, coalesce)
    }

    #[test]
    fn first_request_is_due_at_the_start() {
        let mut s = schedule(10, 1, Duration::ZERO);
        assert_eq!(
            s.release(Duration::ZERO),
            Some(Release { count: 1, late: 0 })
        );
        assert_eq!(s.release(us(5)), None, "the next is due at 10 us");
        assert_eq!(s.release(us(10)), Some(Release { count: 1, late: 0 }));
    }

    #[test]
    fn releases_follow_the_rate() {
        let mut s = schedule(1_000, 4, Duration::ZERO);
        let mut sent = 0;
        for step in 0..=100 {
            while let Some(r) = s.release(us(step)) {
                sent += r.count as u64;
            }
        }
        assert_eq!(sent, 11, "requests due at 0, 10, ..., 100 us");
    }

    #[test]
    fn a_late_caller_gets_full_batches() {
        let mut s = schedule(1_000, 8, Duration::ZERO);
        assert_eq!(s.release(us(195)).map(|r| r.count), Some(8));
        assert_eq!(s.release(us(195)).map(|r| r.count), Some(8));
        assert_eq!(
            s.release(us(195)).map(|r| r.count),
            Some(4),
            "20 due in all"
        );
        assert_eq!(s.release(us(195)), None);
    }

    #[test]
    fn coalescing_holds_due_requests_until_the_batch_fills_or_the_wait_ends() {
        let mut s = schedule(1_000, 4, us(25));
        assert_eq!(s.release(Duration::ZERO), None, "one due, may wait 25 us");
        assert_eq!(s.release(us(20)), None, "three due, still waiting");
        assert_eq!(
            s.release(us(25)).map(|r| r.count),
            Some(3),
            "the first waited 25 us"
        );
        assert_eq!(
            s.release(us(60)).map(|r| r.count),
            Some(4),
            "requests 3..=6 fill a batch"
        );
    }

    #[test]
    fn the_last_requests_are_not_held_back() {
        let mut s = schedule(3, 8, Duration::from_secs(1));
        assert_eq!(s.release(us(20)).map(|r| r.count), Some(3));
        assert!(s.is_finished());
        assert_eq!(s.release(Duration::from_secs(5)), None);
        assert_eq!(s.next_release_in(Duration::from_secs(5)), None);
    }

    #[test]
    fn lateness_is_counted_per_request() {
        let mut s = schedule(1_000, 1_000, Duration::ZERO);
        // At 1.5 ms, requests due at 0..=0.5 ms are more than 1 ms late: 51 of the 151 due.
        assert_eq!(
            s.release(us(1_500)),
            Some(Release {
                count: 151,
                late: 51
            })
        );
        assert_eq!(s.release(us(1_510)), Some(Release { count: 1, late: 0 }));
    }

    /// Everything a schedule releases when its caller is very late.
    fn release_all(mut s: Schedule) -> usize {
        let mut sent = 0;
        while let Some(r) = s.release(Duration::from_secs(3_600)) {
            sent += r.count;
        }
        assert!(s.is_finished());
        sent
    }

    #[test]
    fn total_follows_rate_and_duration() {
        let s = Schedule::for_duration(80_000.0, Duration::from_millis(2_500), 32, Duration::ZERO);
        assert_eq!(release_all(s), 200_000);
        let tiny = Schedule::for_duration(1.0, Duration::from_millis(1), 32, Duration::ZERO);
        assert_eq!(release_all(tiny), 1);
    }

    #[test]
    fn next_release_is_the_earlier_of_coalescing_end_and_a_full_batch() {
        let mut s = schedule(1_000, 4, us(25));
        assert_eq!(s.next_release_in(Duration::ZERO), Some(us(25)));
        assert_eq!(s.next_release_in(us(30)), Some(Duration::ZERO));
        s.release(us(30));
        // Requests 0..=3 went out; request 4 is due at 40 us and may wait until 65 us, but the
        // batch of 4..=7 fills at 70 us, so 65 us it is.
        assert_eq!(s.next_release_in(us(30)), Some(us(35)));
        let eager = schedule(1_000, 2, us(25));
        assert_eq!(
            eager.next_release_in(Duration::ZERO),
            Some(us(10)),
            "a batch of 2 fills at 10 us"
        );
    }

    #[test]
    fn nothing_is_released_twice_or_beyond_the_total() {
        let mut s = schedule(57, 5, us(7));
        let mut sent = 0;
        let mut elapsed = Duration::ZERO;
        while !s.is_finished() {
            if let Some(r) = s.release(elapsed) {
                sent += r.count;
            }
            elapsed += us(3);
            assert!(elapsed < Duration::from_secs(1), "the schedule must finish");
        }
        assert_eq!(sent, 57);
    }
}
