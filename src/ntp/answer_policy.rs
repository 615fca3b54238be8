//! What a reload may change in how the shards answer (chrony's allow/deny and ratelimit), published whole for each shard to take up at its next request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::access::AccessTable;
use super::interleaved::InterleavedTimestamps;
use super::nts_cookies::ServerKeys;
use super::ratelimit::RateLimiter;
use super::symmetric_keys::KeyTable;
use crate::config::{NtpConfig, RateLimitSettings};

/// The NTS cookie keys: sealed with by the NTS-KE server, opened and sealed with by the shards,
/// rotated by the KE server's thread.
pub type SharedServerKeys = Arc<RwLock<ServerKeys>>;

/// Which clients are answered, how often, and with which keys.
#[derive(Clone, Debug)]
pub struct AnswerPolicy {
    pub access: Arc<AccessTable>,
    pub ratelimit: Option<RateLimitSettings>,
    /// `clientloglimit`: the rate limiter's memory, shared out between the shards.
    pub client_log_limit: u64,
    /// `noclientlog`: no per-client state, so no interleaved mode either.
    pub no_client_log: bool,
    /// `keyfile`'s keys, read by the service (and again on reload).
    pub keys: Arc<KeyTable>,
}

impl AnswerPolicy {
    /// `config`'s policy with `keys` from its `keyfile`.
    pub fn of(config: &NtpConfig, keys: KeyTable) -> AnswerPolicy {
        AnswerPolicy {
            access: Arc::new(config.access.clone()),
            ratelimit: config.ratelimit,
            client_log_limit: config.client_log_limit,
            no_client_log: config.no_client_log,
            keys: Arc::new(keys),
        }
    }

    /// The rate limiter of one of `shards` shards, seeded with `seed`; `None` without
    /// `ratelimit`.
    pub fn rate_limiter(&self, shards: u64, seed: u64) -> Option<RateLimiter> {
        self.ratelimit.map(|r| {
            RateLimiter::new(
                r.interval,
                r.burst,
                r.leak,
                r.kod,
                self.client_log_limit / shards.max(1),
                seed,
            )
        })
    }

    /// Interleaved mode's timestamps for one of `shards` shards, in its share of
    /// `clientloglimit`; `None` with `noclientlog`.
    pub fn interleaved_timestamps(&self, shards: u64) -> Option<InterleavedTimestamps> {
        (!self.no_client_log)
            .then(|| InterleavedTimestamps::for_memory(self.client_log_limit / shards.max(1)))
    }
}

/// The policy in force, replaced whole on reload. Shards look at the generation before each
/// request (one relaxed load) and take the lock only when it changed.
#[derive(Debug)]
pub struct PolicyCell {
    generation: AtomicU64,
    current: Mutex<Arc<AnswerPolicy>>,
}

impl PolicyCell {
    pub fn new(policy: AnswerPolicy) -> PolicyCell {
        PolicyCell {
            generation: AtomicU64::new(0),
            current: Mutex::new(Arc::new(policy)),
        }
    }

    /// Makes `policy` the one shards answer with from their next request on.
    pub fn publish(&self, policy: AnswerPolicy) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(policy);
        self.generation.fetch_add(1, Ordering::Release);
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn current(&self) -> Arc<AnswerPolicy> {
        Arc::clone(&self.current.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A shard's view of the [`PolicyCell`]: what it has taken up, and how it builds its own
/// rate limiter when the limits change.
#[derive(Debug)]
pub struct PolicyFollower {
    cell: Arc<PolicyCell>,
    seen: u64,
    in_force: Arc<AnswerPolicy>,
    shards: u64,
    seed: u64,
}

/// What changed for a shard when it took up a new policy.
pub struct PolicyChange {
    pub access: Arc<AccessTable>,
    pub keys: Arc<KeyTable>,
    /// A new rate limiter (its client log starts empty) when the limits changed; `None` when
    /// they did not, so the shard keeps its own with the clients it remembers.
    pub rate_limiter: Option<Option<RateLimiter>>,
}

impl PolicyFollower {
    /// Follows `cell` for one of `shards` shards, whose rate limiter is seeded with `seed`.
    pub fn new(cell: Arc<PolicyCell>, shards: u64, seed: u64) -> PolicyFollower {
        PolicyFollower {
            seen: cell.generation(),
            in_force: cell.current(),
            cell,
            shards,
            seed,
        }
    }

    /// The policy in force, to build the shard's first responder from.
    pub fn in_force(&self) -> &AnswerPolicy {
        &self.in_force
    }

    /// What to change when a new policy was published since the last look.
    pub fn take_change(&mut self) -> Option<PolicyChange> {
        let generation = self.cell.generation();
        if generation == self.seen {
            return None;
        }
        self.seen = generation;
        let policy = self.cell.current();
        let limits_changed = policy.ratelimit != self.in_force.ratelimit
            || policy.client_log_limit != self.in_force.client_log_limit;
        let change = PolicyChange {
            access: Arc::clone(&policy.access),
            keys: Arc::clone(&policy.keys),
            rate_limiter: limits_changed.then(|| policy.rate_limiter(self.shards, self.seed)),
        };
        self.in_force = policy;
        Some(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::chrony;

    fn policy(text: &str) -> AnswerPolicy {
        AnswerPolicy::of(
            &chrony::parse_str(text, "test.conf").unwrap(),
            KeyTable::default(),
        )
    }

    #[test]
    fn a_published_policy_is_taken_up_once() {
        let cell = Arc::new(PolicyCell::new(policy("allow 127.0.0.0/8\n")));
        let mut follower = PolicyFollower::new(Arc::clone(&cell), 2, 7);
        assert!(follower.take_change().is_none());
        cell.publish(policy("allow 127.0.0.0/8\ndeny 127.0.0.2\n"));
        let change = follower.take_change().expect("the new policy");
        assert!(!change.access.is_allowed("127.0.0.2".parse().unwrap()));
        assert!(
            change.rate_limiter.is_none(),
            "same limits: the limiter stays"
        );
        assert!(follower.take_change().is_none());
    }

    #[test]
    fn new_limits_give_a_new_rate_limiter() {
        let cell = Arc::new(PolicyCell::new(policy("allow\n")));
        let mut follower = PolicyFollower::new(Arc::clone(&cell), 2, 7);
        cell.publish(policy("allow\nratelimit interval 4 burst 8\n"));
        let limiter = follower.take_change().unwrap().rate_limiter;
        assert_eq!(limiter.flatten().map(|l| l.min_poll()), Some(4));
        cell.publish(policy("allow\n"));
        let limiter = follower.take_change().unwrap().rate_limiter;
        assert!(matches!(limiter, Some(None)), "ratelimit removed");
    }
}
