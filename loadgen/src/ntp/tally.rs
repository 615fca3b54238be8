//! What one load worker counts and measures; tallies of several threads merge into one.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::validate::{InvalidReason, Verdict};

/// Largest time recorded in a histogram (60 s in nanoseconds); anything longer is clamped.
const HISTOGRAM_MAX_NS: u64 = 60_000_000_000;

fn nanosecond_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HISTOGRAM_MAX_NS, 3).expect("static histogram bounds are valid")
}

pub struct Tally {
    /// Requests the kernel accepted.
    pub sent: u64,
    /// Requests the kernel refused (they never left).
    pub send_failed: u64,
    /// Requests released more than a millisecond after their due time.
    pub sent_late: u64,
    /// When the last request was sent, measured from the worker's start.
    pub last_send: Duration,
    /// Replies matched to a request, whatever their verdict.
    pub replied: u64,
    /// Valid replies.
    pub answered: u64,
    pub kiss_codes: BTreeMap<u32, u64>,
    pub invalid: BTreeMap<InvalidReason, u64>,
    /// Replies whose origin matches no request in flight: duplicates, or late past the grace period.
    pub unmatched: u64,
    /// Replies without a kernel RX timestamp (T4 then read from the clock after the fact).
    pub missing_rx_timestamps: u64,
    /// With `--kernel-t1`: valid replies to requests whose kernel TX timestamp never came; they
    /// are left out of latency and offset rather than mixed in with a userspace T1.
    pub t1_kernel_missing: u64,
    /// T4 - T1 of timed requests.
    pub latency_ns: Histogram<u64>,
    /// T3 - T2 of every valid reply.
    pub response_ns: Histogram<u64>,
    /// |offset| of timed requests.
    pub offset_abs_ns: Histogram<u64>,
    pub offset_sum_ns: i128,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            sent: 0,
            send_failed: 0,
            sent_late: 0,
            last_send: Duration::ZERO,
            replied: 0,
            answered: 0,
            kiss_codes: BTreeMap::new(),
            invalid: BTreeMap::new(),
            unmatched: 0,
            missing_rx_timestamps: 0,
            t1_kernel_missing: 0,
            latency_ns: nanosecond_histogram(),
            response_ns: nanosecond_histogram(),
            offset_abs_ns: nanosecond_histogram(),
            offset_sum_ns: 0,
        }
    }
}

impl Tally {
    pub fn record_sent(&mut self, sent: usize, failed: usize, late: usize, at: Duration) {
        self.sent += sent as u64;
        self.send_failed += failed as u64;
        self.sent_late += late as u64;
        self.last_send = at;
    }

    /// A reply matched to its request; `timed` says whether the request's T1 is exact.
    pub fn record_reply(&mut self, verdict: Verdict, timed: bool) {
        self.replied += 1;
        match verdict {
            Verdict::Valid(timings) => {
                self.answered += 1;
                self.response_ns
                    .saturating_record(timings.response_ns.max(0) as u64);
                if timed {
                    self.latency_ns
                        .saturating_record(timings.latency_ns.max(0) as u64);
                    self.offset_abs_ns
                        .saturating_record(timings.offset_ns.unsigned_abs());
                    self.offset_sum_ns += i128::from(timings.offset_ns);
                }
            }
            Verdict::KissOfDeath(code) => *self.kiss_codes.entry(code).or_default() += 1,
            Verdict::Invalid(reason) => self.record_invalid(reason),
        }
    }

    /// An invalid reply, matched or not.
    pub fn record_invalid(&mut self, reason: InvalidReason) {
        *self.invalid.entry(reason).or_default() += 1;
    }

    pub fn kiss_total(&self) -> u64 {
        self.kiss_codes.values().sum()
    }

    pub fn invalid_total(&self) -> u64 {
        self.invalid.values().sum()
    }

    /// Requests that left and got no reply at all.
    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.replied)
    }

    pub fn merge(&mut self, other: &Tally) {
        self.sent += other.sent;
        self.send_failed += other.send_failed;
        self.sent_late += other.sent_late;
        self.last_send = self.last_send.max(other.last_send);
        self.replied += other.replied;
        self.answered += other.answered;
        for (code, count) in &other.kiss_codes {
            *self.kiss_codes.entry(*code).or_default() += count;
        }
        for (reason, count) in &other.invalid {
            *self.invalid.entry(*reason).or_default() += count;
        }
        self.unmatched += other.unmatched;
        self.missing_rx_timestamps += other.missing_rx_timestamps;
        self.t1_kernel_missing += other.t1_kernel_missing;
        self.latency_ns
            .add(&other.latency_ns)
            .expect("histograms of equal bounds merge");
        self.response_ns
            .add(&other.response_ns)
            .expect("histograms of equal bounds merge");
        self.offset_abs_ns
            .add(&other.offset_abs_ns)
            .expect("histograms of equal bounds merge");
        self.offset_sum_ns += other.offset_sum_ns;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntp::validate::Timings;

    fn valid(latency_ns: i64, response_ns: i64, offset_ns: i64) -> Verdict {
        Verdict::Valid(Timings {
            latency_ns,
            response_ns,
            offset_ns,
        })
    }

    #[test]
    fn only_timed_replies_measure_latency_and_offset() {
        let mut tally = Tally::default();
        tally.record_reply(valid(20_000, 1_000, -500), true);
        tally.record_reply(valid(90_000, 2_000, 40_000), false);
        assert_eq!(tally.answered, 2);
        assert_eq!(tally.response_ns.len(), 2);
        assert_eq!(tally.latency_ns.len(), 1);
        assert_eq!(tally.offset_abs_ns.len(), 1);
        assert_eq!(tally.offset_sum_ns, -500);
    }

    #[test]
    fn loss_counts_requests_without_any_reply() {
        let mut tally = Tally::default();
        tally.record_sent(10, 0, 0, Duration::from_millis(1));
        tally.record_reply(valid(1, 1, 0), true);
        tally.record_reply(Verdict::KissOfDeath(u32::from_be_bytes(*b"RATE")), false);
        tally.record_reply(Verdict::Invalid(InvalidReason::WrongMode), false);
        tally.record_invalid(InvalidReason::WrongSource);
        assert_eq!(tally.lost(), 7);
        assert_eq!(tally.invalid_total(), 2);
        assert_eq!(tally.kiss_total(), 1);
    }

    #[test]
    fn merging_adds_everything() {
        let mut a = Tally::default();
        a.record_sent(5, 1, 2, Duration::from_millis(10));
        a.record_reply(valid(10, 1, 3), true);
        a.record_reply(Verdict::KissOfDeath(7), false);
        let mut b = Tally::default();
        b.record_sent(4, 0, 0, Duration::from_millis(20));
        b.record_reply(valid(30, 1, -1), true);
        b.record_reply(Verdict::KissOfDeath(7), false);
        b.record_invalid(InvalidReason::Short);
        b.unmatched = 3;
        b.t1_kernel_missing = 2;
        a.merge(&b);
        assert_eq!((a.sent, a.send_failed, a.sent_late), (9, 1, 2));
        assert_eq!(a.last_send, Duration::from_millis(20));
        assert_eq!((a.replied, a.answered, a.unmatched), (4, 2, 3));
        assert_eq!(a.t1_kernel_missing, 2);
        assert_eq!(a.kiss_codes.get(&7), Some(&2));
        assert_eq!(a.invalid.get(&InvalidReason::Short), Some(&1));
        assert_eq!(a.latency_ns.len(), 2);
        assert_eq!(a.offset_sum_ns, 2);
    }
}
