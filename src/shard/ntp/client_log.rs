//! Copies of the shards' client logs for `ringctl clients`, made by each shard between batches when asked.
//!
//! The client log is the rate limiter's table, owned by its shard thread and touched on every
//! request, so it is never locked. The control thread raises a flag instead; the shard sees it
//! with one relaxed load per loop iteration, copies its table into a buffer kept here, and
//! says so. Nothing is copied or allocated on the per-packet path.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::ntp::packet::UnixTime;
use crate::ntp::ratelimit::{ClientRecord, RateLimiter};

/// One shard's side of the exchange.
#[derive(Debug, Default)]
pub struct ClientLogTap {
    requested: AtomicBool,
    published: Mutex<Published>,
    fresh: Condvar,
}

#[derive(Debug, Default)]
struct Published {
    /// Counts the copies made, so a reader can tell a new copy from the one it already had.
    generation: u64,
    records: Vec<ClientRecord>,
}

impl ClientLogTap {
    /// Shard side, once per loop iteration: when a copy was asked for, replace the published
    /// one with the limiter's table as of `now` (an empty table without a limiter).
    pub fn serve(&self, limiter: Option<&RateLimiter>, now: impl FnOnce() -> UnixTime) {
        if !self.requested.load(Ordering::Relaxed) {
            return;
        }
        let mut published = lock(&self.published);
        published.records.clear();
        if let Some(limiter) = limiter {
            published.records.extend(limiter.clients(now()));
        }
        published.generation += 1;
        self.requested.store(false, Ordering::Relaxed);
        drop(published);
        self.fresh.notify_all();
    }

    /// Control side: asks every tap for a copy and waits until each has answered or `timeout`
    /// has passed, then returns all their records. A shard that does not answer in time (a
    /// stopped one) contributes the last copy it made.
    pub fn collect(taps: &[Arc<ClientLogTap>], timeout: Duration) -> Vec<ClientRecord> {
        let deadline = Instant::now() + timeout;
        let before: Vec<u64> = taps
            .iter()
            .map(|tap| {
                let generation = lock(&tap.published).generation;
                tap.requested.store(true, Ordering::Relaxed);
                generation
            })
            .collect();
        let mut records = Vec::new();
        for (tap, generation) in taps.iter().zip(before) {
            let mut published = lock(&tap.published);
            while published.generation == generation {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                published = match tap.fresh.wait_timeout(published, left) {
                    Ok((guard, _)) => guard,
                    Err(poisoned) => poisoned.into_inner().0,
                };
            }
            records.extend_from_slice(&published.records);
        }
        records
    }
}

/// The records are plain data, so a panic elsewhere while holding the lock leaves nothing
/// half-done that matters: keep using them.
fn lock(published: &Mutex<Published>) -> MutexGuard<'_, Published> {
    published
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    const NOW: UnixTime = UnixTime {
        secs: 1_700_000_000,
        nanos: 0,
    };

    fn limiter_with(clients: &[&str]) -> RateLimiter {
        let mut limiter = RateLimiter::new(3, 8, 2, 0, 524_288, 1);
        for client in clients {
            limiter.check(client.parse().unwrap(), NOW);
        }
        limiter
    }

    #[test]
    fn an_unasked_shard_copies_nothing() {
        let tap = ClientLogTap::default();
        let limiter = limiter_with(&["192.0.2.1"]);
        tap.serve(Some(&limiter), || panic!("no clock read when nobody asked"));
        assert_eq!(lock(&tap.published).generation, 0);
    }

    #[test]
    fn collect_gathers_every_shard_and_times_out_on_a_silent_one() {
        let taps = [
            Arc::new(ClientLogTap::default()),
            Arc::new(ClientLogTap::default()),
        ];
        let shards: Vec<_> = taps
            .iter()
            .zip([vec!["192.0.2.1", "192.0.2.2"], vec!["2001:db8::1"]])
            .map(|(tap, clients)| {
                let tap = Arc::clone(tap);
                std::thread::spawn(move || {
                    let limiter = limiter_with(&clients);
                    // A shard loop: serve until one copy was made.
                    while lock(&tap.published).generation == 0 {
                        tap.serve(Some(&limiter), || NOW);
                        std::thread::yield_now();
                    }
                })
            })
            .collect();
        let mut records = ClientLogTap::collect(&taps, Duration::from_secs(30));
        for shard in shards {
            shard.join().unwrap();
        }
        records.sort_by_key(|r| r.address);
        let addresses: Vec<IpAddr> = records.iter().map(|r| r.address).collect();
        assert_eq!(
            addresses,
            ["192.0.2.1", "192.0.2.2", "2001:db8::1"]
                .map(|a| a.parse::<IpAddr>().unwrap())
                .to_vec()
        );
        // Nobody serves now: the last copies come back after the timeout.
        let again = ClientLogTap::collect(&taps, Duration::from_millis(1));
        assert_eq!(again.len(), 3);
    }

    #[test]
    fn a_shard_without_a_limiter_publishes_an_empty_table() {
        let tap = Arc::new(ClientLogTap::default());
        let server = {
            let tap = Arc::clone(&tap);
            std::thread::spawn(move || {
                while lock(&tap.published).generation == 0 {
                    tap.serve(None, || NOW);
                    std::thread::yield_now();
                }
            })
        };
        assert!(ClientLogTap::collect(&[tap], Duration::from_secs(30)).is_empty());
        server.join().unwrap();
    }
}
