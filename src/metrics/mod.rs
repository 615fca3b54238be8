//! Counters and their exposition: per-shard counters written by their shard alone without atomic read-modify-write and summed on read, the Prometheus text (`exposition.rs`) and the endpoint serving it (`endpoint.rs`).

pub mod endpoint;
pub mod exposition;

use std::sync::atomic::{AtomicU64, Ordering};

use crate::ntp::reply::DropReason;

/// A counter with a single writer: an increment is a plain load and store, so the hot path pays
/// no locked instruction, while other threads can still read it at any time.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// For a count its writer keeps elsewhere and copies here now and then.
    pub fn set(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }
}

/// One NTP shard's counters.
#[derive(Debug, Default)]
pub struct NtpCounters {
    pub received: Counter,
    pub answered: Counter,
    pub kod_sent: Counter,
    /// Requests the rate limiter refused (dropped or answered with KoD).
    pub rate_limited: Counter,
    pub dropped: [Counter; DropReason::ALL.len()],
    /// Datagrams without a kernel receive timestamp; their T2 was read in userspace.
    pub rx_time_fallbacks: Counter,
    /// Replies the kernel did not take (send errors, no free send slot).
    pub send_failures: Counter,
    /// Receive operations that failed or delivered something unreadable.
    pub receive_errors: Counter,
    /// Times the io_uring backend ran out of receive buffers under load and re-armed.
    pub receive_buffer_exhaustions: Counter,
    /// Clients the rate limiter forgot to make room (`clientloglimit` reached), copied from
    /// the limiter between batches.
    pub client_log_evictions: Counter,
}

/// A plain copy of counters, for reporting and summing across shards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NtpTotals {
    pub received: u64,
    pub answered: u64,
    pub kod_sent: u64,
    pub rate_limited: u64,
    pub dropped: [u64; DropReason::ALL.len()],
    pub rx_time_fallbacks: u64,
    pub send_failures: u64,
    pub receive_errors: u64,
    pub receive_buffer_exhaustions: u64,
    pub client_log_evictions: u64,
}

impl NtpCounters {
    pub fn totals(&self) -> NtpTotals {
        NtpTotals {
            received: self.received.get(),
            answered: self.answered.get(),
            kod_sent: self.kod_sent.get(),
            rate_limited: self.rate_limited.get(),
            dropped: std::array::from_fn(|i| self.dropped[i].get()),
            rx_time_fallbacks: self.rx_time_fallbacks.get(),
            send_failures: self.send_failures.get(),
            receive_errors: self.receive_errors.get(),
            receive_buffer_exhaustions: self.receive_buffer_exhaustions.get(),
            client_log_evictions: self.client_log_evictions.get(),
        }
    }
}

impl NtpTotals {
    pub fn add(&mut self, other: &NtpTotals) {
        self.received += other.received;
        self.answered += other.answered;
        self.kod_sent += other.kod_sent;
        self.rate_limited += other.rate_limited;
        for (mine, theirs) in self.dropped.iter_mut().zip(other.dropped) {
            *mine += theirs;
        }
        self.rx_time_fallbacks += other.rx_time_fallbacks;
        self.send_failures += other.send_failures;
        self.receive_errors += other.receive_errors;
        self.receive_buffer_exhaustions += other.receive_buffer_exhaustions;
        self.client_log_evictions += other.client_log_evictions;
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }
}

impl std::fmt::Display for NtpTotals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "received={} answered={} kod_sent={} rate_limited={} dropped={}",
            self.received,
            self.answered,
            self.kod_sent,
            self.rate_limited,
            self.dropped_total()
        )?;
        for reason in DropReason::ALL {
            write!(
                f,
                " dropped_{}={}",
                reason.name(),
                self.dropped[reason.index()]
            )?;
        }
        write!(
            f,
            " rx_time_fallbacks={} send_failures={} receive_errors={} receive_buffer_exhaustions={} client_log_evictions={}",
            self.rx_time_fallbacks,
            self.send_failures,
            self.receive_errors,
            self.receive_buffer_exhaustions,
            self.client_log_evictions
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_sum_across_shards() {
        let a = NtpCounters::default();
        let b = NtpCounters::default();
        a.received.add(3);
        a.answered.add(2);
        a.dropped[DropReason::Denied.index()].add(1);
        b.received.add(4);
        b.answered.add(4);
        let mut sum = a.totals();
        sum.add(&b.totals());
        assert_eq!(sum.received, 7);
        assert_eq!(sum.answered, 6);
        assert_eq!(sum.dropped_total(), 1);
        let line = sum.to_string();
        assert!(line.contains("dropped_denied=1"), "{line}");
    }
}
