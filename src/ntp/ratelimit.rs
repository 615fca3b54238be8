//! Per-client response rate limiting with chrony's `ratelimit` semantics: token buckets, leak, KoD.
//!
//! Each client address has a bucket refilled by one reply's worth of tokens per `2^interval`
//! seconds and holding `burst` replies. A request that finds too few tokens is dropped, except
//! that one in `2^leak` is answered anyway (so a spoofed flood cannot silence a real client), and
//! with `kod K` one in `2^K` of the refused ones gets a KoD RATE instead. Clients that speed up
//! when unanswered are detected as chrony does, and then mostly answered. Memory is bounded: the
//! table grows up to `clientloglimit` bytes, then the least recently seen client in a full slot
//! is forgotten.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use super::packet::UnixTime;

/// What to do with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Answer,
    Drop,
    KissRate,
}

/// Timestamps are kept as 32-bit fixed point seconds with this many fraction bits.
const TS_FRAC: i32 = 4;
/// Request rates are kept as log2 values scaled by this factor.
const RATE_SCALE: i32 = 4;
const MIN_RATE: i32 = -14 * RATE_SCALE;
const INVALID_RATE: i8 = -128;
const INVALID_TS: u32 = 0;
const MIN_INTERVAL: i32 = -15 - TS_FRAC;
const MAX_INTERVAL: i32 = 12;
const SLOT_BITS: usize = 3;
const SLOT_SIZE: usize = 1 << SLOT_BITS;
const MAX_SLOTS: usize = 1 << (24 - SLOT_BITS);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Client {
    Empty,
    V4(u32),
    V6(u128),
}

impl Client {
    fn from_ip(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Client::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client::V4(u32::from(v4)),
                None => Client::V6(u128::from(v6)),
            },
        }
    }

    fn ip(self) -> Option<IpAddr> {
        match self {
            Client::Empty => None,
            Client::V4(v4) => Some(Ipv4Addr::from(v4).into()),
            Client::V6(v6) => Some(Ipv6Addr::from(v6).into()),
        }
    }

    fn hash(self, seed: u64) -> u64 {
        let value = match self {
            Client::Empty => 0,
            Client::V4(v4) => u64::from(v4),
            Client::V6(v6) => (v6 as u64) ^ ((v6 >> 64) as u64).rotate_left(17),
        };
        let mixed = (value ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        mixed ^ (mixed >> 29)
    }
}

#[derive(Clone, Copy, Debug)]
struct Record {
    client: Client,
    last_hit: u32,
    tokens: u16,
    /// Request rate while answered, as a scaled log2.
    rate: i8,
    /// Request rate while unanswered: much higher means a client that retries aggressively.
    timeout_rate: i8,
    last_dropped: bool,
    /// Requests seen and requests dropped, for `ringctl clients` (chrony's widths; they stop at
    /// their maximum). They fit in the padding the 16-byte aligned address leaves.
    hits: u32,
    drops: u16,
}

const EMPTY: Record = Record {
    client: Client::Empty,
    last_hit: INVALID_TS,
    tokens: 0,
    rate: INVALID_RATE,
    timeout_rate: INVALID_RATE,
    last_dropped: false,
    hits: 0,
    drops: 0,
};

/// One client as `chronyc clients` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ClientRecord {
    pub address: IpAddr,
    pub ntp_hits: u32,
    /// Requests dropped by the rate limit (KoD replies are not drops).
    pub ntp_drops: u16,
    /// Average interval between requests as a log2 of seconds; `None` before there is one.
    pub ntp_interval: Option<i8>,
    /// The same while the client was not answered (chronyc's `IntL`).
    pub ntp_timeout_interval: Option<i8>,
    /// Whole seconds since the last request.
    pub last_hit_ago: Option<u32>,
}

/// Counters of the limiter's own work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimiterStats {
    /// Clients forgotten because the memory limit was reached.
    pub evictions: u64,
}

/// The rate limiter of one shard (each client always lands on the same shard).
#[derive(Debug)]
pub struct RateLimiter {
    records: Vec<Record>,
    slots: usize,
    max_slots: usize,
    tokens_per_hit: u16,
    max_tokens: u16,
    token_shift: i32,
    leak_rate: u32,
    kod_rate: u32,
    interval: i32,
    ts_offset_nanos: u32,
    hash_seed: u64,
    rng_state: u64,
    random_pool: u64,
    random_bits: u32,
    stats: LimiterStats,
}

impl RateLimiter {
    /// `interval`, `burst`, `leak` and `kod` as in chrony's `ratelimit` (clamped to chrony's
    /// ranges); `memory_limit` in bytes; `seed` randomises leaks and hashing.
    pub fn new(
        interval: i32,
        burst: i32,
        leak: i32,
        kod: i32,
        memory_limit: u64,
        seed: u64,
    ) -> Self {
        let interval = interval.clamp(MIN_INTERVAL, MAX_INTERVAL);
        let mut burst = burst.clamp(1, 255);
        let token_shift;
        if interval >= -TS_FRAC {
            let mut shift = 0;
            while shift < interval + TS_FRAC && (burst << (TS_FRAC + interval - shift)) >= 1 << 16 {
                shift += 1;
            }
            token_shift = shift;
        } else {
            token_shift = interval + TS_FRAC;
            burst = burst.max(1 << -token_shift);
        }
        let tokens_per_hit = 1u16 << (TS_FRAC + interval - token_shift).max(0);
        let max_tokens = (u32::from(tokens_per_hit) * burst as u32).min(u32::from(u16::MAX)) as u16;

        let max_slots = slots_for(memory_limit, std::mem::size_of::<Record>());

        RateLimiter {
            records: vec![EMPTY; SLOT_SIZE],
            slots: 1,
            max_slots,
            tokens_per_hit,
            max_tokens,
            token_shift,
            leak_rate: leak.clamp(1, 4) as u32,
            kod_rate: kod.clamp(0, 4) as u32,
            interval,
            ts_offset_nanos: (seed % (1_000_000_000 / (1 << TS_FRAC))) as u32,
            hash_seed: seed.rotate_left(32) ^ 0x5DEE_CE66_D1CE_4E5B,
            rng_state: seed | 1,
            random_pool: 0,
            random_bits: 0,
            stats: LimiterStats::default(),
        }
    }

    /// The smallest poll exponent replies should announce.
    pub fn min_poll(&self) -> i8 {
        self.interval as i8
    }

    pub fn stats(&self) -> LimiterStats {
        self.stats
    }

    /// How many clients the table can hold before it starts forgetting them.
    pub fn capacity(&self) -> usize {
        self.max_slots * SLOT_SIZE
    }

    /// Logs a request from `client` received at `now` and decides whether it is answered.
    pub fn check(&mut self, client: IpAddr, now: UnixTime) -> Decision {
        let now_ts = self.fixed_point_time(now);
        let index = self.record_index(Client::from_ip(client));
        self.update(index, now_ts);
        let record = &mut self.records[index];
        record.hits = record.hits.saturating_add(1);
        self.limit(index)
    }

    /// Every client in the table, as seen at `now`, in table order.
    pub fn clients(&self, now: UnixTime) -> impl Iterator<Item = ClientRecord> + '_ {
        let now_ts = self.fixed_point_time(now);
        self.records.iter().filter_map(move |record| {
            Some(ClientRecord {
                address: record.client.ip()?,
                ntp_hits: record.hits,
                ntp_drops: record.drops,
                ntp_interval: log2_interval(record.rate),
                ntp_timeout_interval: log2_interval(record.timeout_rate),
                last_hit_ago: (record.last_hit != INVALID_TS)
                    .then(|| now_ts.wrapping_sub(record.last_hit))
                    .filter(|ago| (*ago as i32) >= 0)
                    .map(|ago| ago >> TS_FRAC),
            })
        })
    }

    fn fixed_point_time(&self, now: UnixTime) -> u32 {
        let mut secs = now.secs as u32;
        let mut nanos = now.nanos + self.ts_offset_nanos;
        if nanos >= 1_000_000_000 {
            nanos -= 1_000_000_000;
            secs = secs.wrapping_add(1);
        }
        let fraction = ((u64::from(nanos) << TS_FRAC) / 1_000_000_000) as u32;
        let ts = secs << TS_FRAC | fraction;
        if ts == INVALID_TS {
            1
        } else {
            ts
        }
    }

    fn record_index(&mut self, client: Client) -> usize {
        loop {
            let first = (client.hash(self.hash_seed) as usize % self.slots) * SLOT_SIZE;
            let mut oldest: Option<(usize, u32)> = None;
            for index in first..first + SLOT_SIZE {
                let record = &self.records[index];
                if record.client == client {
                    return index;
                }
                if record.client == Client::Empty {
                    self.records[index] = self.fresh_record(client);
                    return index;
                }
                let older = match oldest {
                    None => true,
                    Some((_, oldest_hit)) => (record.last_hit.wrapping_sub(oldest_hit) as i32) < 0,
                };
                if older {
                    oldest = Some((index, record.last_hit));
                }
            }
            if self.grow() {
                continue;
            }
            let (index, _) = oldest.expect("a full slot has an oldest record");
            self.stats.evictions += 1;
            self.records[index] = self.fresh_record(client);
            return index;
        }
    }

    fn fresh_record(&self, client: Client) -> Record {
        Record {
            client,
            tokens: self.max_tokens,
            ..EMPTY
        }
    }

    fn grow(&mut self) -> bool {
        if self.slots * 2 > self.max_slots {
            return false;
        }
        let old = std::mem::replace(&mut self.records, vec![EMPTY; self.slots * 2 * SLOT_SIZE]);
        self.slots *= 2;
        for record in old.into_iter().filter(|r| r.client != Client::Empty) {
            let index = self.record_index(record.client);
            self.records[index] = record;
        }
        true
    }

    fn update(&mut self, index: usize, now_ts: u32) {
        let (max_tokens, token_shift) = (self.max_tokens, self.token_shift);
        let record = &mut self.records[index];
        let previous = record.last_hit;
        record.last_hit = now_ts;
        let mut interval = now_ts.wrapping_sub(previous);
        if previous == INVALID_TS || (interval as i32) < 0 {
            return;
        }
        let refill = if token_shift >= 0 {
            (now_ts >> token_shift).wrapping_sub(previous >> token_shift)
        } else if interval > u32::from(max_tokens) {
            u32::from(max_tokens)
        } else {
            interval << -token_shift
        };
        record.tokens = (u32::from(record.tokens) + refill).min(u32::from(max_tokens)) as u16;

        let log_interval = if interval > 0 {
            interval += interval >> 1;
            let mut log = -RATE_SCALE * TS_FRAC;
            while log < -MIN_RATE && interval > 1 {
                interval >>= 1;
                log += RATE_SCALE;
            }
            log
        } else {
            -RATE_SCALE * (TS_FRAC + 1)
        };
        let rate = if record.last_dropped {
            &mut record.timeout_rate
        } else {
            &mut record.rate
        };
        let target = -log_interval;
        if *rate == INVALID_RATE {
            *rate = target as i8;
        } else {
            let current = i32::from(*rate);
            if current < target {
                *rate += 1;
            } else if current > target {
                *rate = if current > RATE_SCALE * 5 / 2 + target {
                    (RATE_SCALE * 5 / 2 + target) as i8
                } else {
                    ((current + target - 1) / 2) as i8
                };
            }
        }
    }

    fn limit(&mut self, index: usize) -> Decision {
        let tokens_per_hit = self.tokens_per_hit;
        self.records[index].last_dropped = false;
        if self.records[index].tokens >= tokens_per_hit {
            self.records[index].tokens -= tokens_per_hit;
            return Decision::Answer;
        }
        let mut drop = self.random_nonzero(self.leak_rate);
        let record = self.records[index];
        if record.timeout_rate != INVALID_RATE
            && i32::from(record.timeout_rate) > i32::from(record.rate) + RATE_SCALE
        {
            drop = !drop;
        }
        if !drop {
            self.records[index].tokens = 0;
            return Decision::Answer;
        }
        if self.kod_rate > 0 && !self.random_nonzero(self.kod_rate) {
            return Decision::KissRate;
        }
        let record = &mut self.records[index];
        record.last_dropped = true;
        record.drops = record.drops.saturating_add(1);
        Decision::Drop
    }

    /// True except, on average, once in `2^bits` calls.
    fn random_nonzero(&mut self, bits: u32) -> bool {
        if self.random_bits < bits {
            self.random_pool = self.next_random_word();
            self.random_bits = 64;
        }
        let value = self.random_pool & ((1 << bits) - 1);
        self.random_pool >>= bits;
        self.random_bits -= bits;
        value != 0
    }

    fn next_random_word(&mut self) -> u64 {
        // xorshift64*: cheap and good enough to decide leaks; not a secret.
        let mut x = self.rng_state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng_state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// A scaled log2 request rate as the log2 interval between requests, rounded half away from
/// zero as chrony's report does.
fn log2_interval(rate: i8) -> Option<i8> {
    if rate == INVALID_RATE {
        return None;
    }
    let rate = i32::from(rate);
    let rounded = rate
        + if rate > 0 {
            RATE_SCALE / 2
        } else {
            -RATE_SCALE / 2
        };
    Some((rounded / -RATE_SCALE) as i8)
}

/// How many hash slots of clients fit in `memory_limit` bytes when each client costs
/// `client_bytes`, leaving room, as chrony does, for the table's copy while it grows.
fn slots_for(memory_limit: u64, client_bytes: usize) -> usize {
    let budget_slots = memory_limit / (client_bytes as u64 * SLOT_SIZE as u64 * 3 / 2);
    prev_power_of_two((budget_slots as usize).clamp(1, MAX_SLOTS))
}

/// How many clients chrony's client log holds in `memory_limit` bytes when each also costs
/// `extra_bytes` of other per-client state (chronyd sizes its interleaved-mode timestamps so).
pub fn clients_for(memory_limit: u64, extra_bytes: usize) -> usize {
    slots_for(memory_limit, std::mem::size_of::<Record>() + extra_bytes) * SLOT_SIZE
}

fn prev_power_of_two(n: usize) -> usize {
    if n.is_power_of_two() {
        n
    } else {
        n.next_power_of_two() / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMORY: u64 = 524_288;

    fn at(millis: i64) -> UnixTime {
        let base = 1_700_000_000_000i64 + millis;
        UnixTime {
            secs: base / 1000,
            nanos: (base % 1000) as u32 * 1_000_000,
        }
    }

    fn client(n: u32) -> IpAddr {
        IpAddr::from([10, (n >> 16) as u8, (n >> 8) as u8, n as u8])
    }

    #[test]
    fn bucket_sizes_follow_chrony() {
        let limiter = RateLimiter::new(3, 8, 2, 0, MEMORY, 1);
        assert_eq!(limiter.tokens_per_hit, 128);
        assert_eq!(limiter.max_tokens, 1024);
        assert_eq!(limiter.token_shift, 0);
        let big = RateLimiter::new(12, 255, 2, 0, MEMORY, 1);
        assert!(u32::from(big.tokens_per_hit) * 255 < 1 << 16);
        assert_eq!(big.token_shift, 8);
        assert_eq!(big.tokens_per_hit, 256);
        assert_eq!(
            RateLimiter::new(-30, 8, 2, 0, MEMORY, 1).interval,
            MIN_INTERVAL
        );
        assert_eq!(RateLimiter::new(3, 8, 2, 0, MEMORY, 1).min_poll(), 3);
    }

    #[test]
    fn a_burst_is_answered_then_leaks_only() {
        let mut limiter = RateLimiter::new(3, 8, 4, 0, MEMORY, 7);
        let answered: Vec<Decision> = (0..8).map(|_| limiter.check(client(1), at(0))).collect();
        assert!(
            answered.iter().all(|d| *d == Decision::Answer),
            "burst of 8"
        );
        let later: Vec<Decision> = (0..1600).map(|_| limiter.check(client(1), at(0))).collect();
        let leaked = later.iter().filter(|d| **d == Decision::Answer).count();
        // leak 4: one in 16 of the over-limit requests is answered anyway.
        assert!((60..=140).contains(&leaked), "leaked {leaked} of 1600");
        assert!(later.iter().all(|d| *d != Decision::KissRate));
    }

    #[test]
    fn tokens_refill_at_one_reply_per_interval() {
        let mut limiter = RateLimiter::new(1, 1, 4, 0, MEMORY, 3);
        let mut answered = 0;
        // One request every 500 ms for 60 s against an interval of 2 s: about a quarter pass,
        // plus a few leaks (1 in 16 of the rest).
        for step in 0..120 {
            if limiter.check(client(2), at(step * 500)) == Decision::Answer {
                answered += 1;
            }
        }
        assert!((30..=45).contains(&answered), "answered {answered}");
        // A client that respects the interval is always answered.
        let mut polite = RateLimiter::new(1, 1, 4, 0, MEMORY, 3);
        for step in 0..50 {
            assert_eq!(polite.check(client(3), at(step * 2000)), Decision::Answer);
        }
    }

    #[test]
    fn clients_are_independent() {
        let mut limiter = RateLimiter::new(3, 2, 4, 0, MEMORY, 11);
        for c in 0..100 {
            assert_eq!(limiter.check(client(c), at(0)), Decision::Answer);
            assert_eq!(limiter.check(client(c), at(0)), Decision::Answer);
        }
    }

    #[test]
    fn leaks_stay_rare_over_a_long_flood() {
        let mut limiter = RateLimiter::new(10, 4, 4, 0, MEMORY, 77);
        let answered = (0..10_000)
            .filter(|_| limiter.check(client(6), at(0)) == Decision::Answer)
            .count();
        assert!(
            (4 + 450..=4 + 800).contains(&answered),
            "answered {answered}"
        );
    }

    #[test]
    fn kod_replaces_some_drops() {
        let mut limiter = RateLimiter::new(3, 1, 4, 1, MEMORY, 5);
        limiter.check(client(4), at(0));
        let decisions: Vec<Decision> = (0..1000).map(|_| limiter.check(client(4), at(0))).collect();
        let kisses = decisions
            .iter()
            .filter(|d| **d == Decision::KissRate)
            .count();
        let drops = decisions.iter().filter(|d| **d == Decision::Drop).count();
        assert!(
            kisses > 300 && drops > 300,
            "kod 1: about half of the refused get a KoD ({kisses} / {drops})"
        );
    }

    #[test]
    fn clients_that_speed_up_when_refused_get_answers() {
        // A client that polled at the interval and then retries every 62 ms once refused looks
        // like a broken client hammering harder: chrony inverts the leak for it, answering
        // most requests until its answered-request rate catches up.
        let fast_burst = |limiter: &mut RateLimiter, mut t: i64| {
            (0..400)
                .filter(|_| {
                    t += 62;
                    limiter.check(client(5), at(t)) == Decision::Answer
                })
                .count()
        };
        let mut with_history = RateLimiter::new(4, 1, 4, 0, MEMORY, 9);
        for step in 0..20 {
            assert_eq!(
                with_history.check(client(5), at(step * 16_000)),
                Decision::Answer
            );
        }
        let inverted = fast_burst(&mut with_history, 20 * 16_000);
        let mut without_history = RateLimiter::new(4, 1, 4, 0, MEMORY, 9);
        let plain = fast_burst(&mut without_history, 0);
        assert!(
            inverted > plain + 15,
            "inverted {inverted}, plain leak {plain}"
        );
    }

    #[test]
    fn memory_is_bounded() {
        let limiter = RateLimiter::new(3, 8, 2, 0, 4096, 1);
        let capacity = limiter.capacity();
        assert!(capacity * std::mem::size_of::<Record>() <= 4096);
        let mut limiter = limiter;
        for c in 0..10_000 {
            limiter.check(client(c), at(i64::from(c)));
        }
        assert_eq!(limiter.records.len(), capacity);
        assert!(limiter.stats().evictions >= 10_000 - capacity as u64);
        // A client seen just now is still known: its bucket is partly spent, not fresh.
        let mut limiter = RateLimiter::new(3, 1, 4, 0, 4096, 1);
        for c in 0..10_000 {
            limiter.check(client(c), at(0));
        }
        let refused = (0..32)
            .filter(|_| limiter.check(client(9_999), at(0)) != Decision::Answer)
            .count();
        assert!(refused > 20);
    }

    #[test]
    fn the_client_log_reports_hits_drops_intervals_and_age() {
        let mut limiter = RateLimiter::new(3, 1, 4, 0, MEMORY, 13);
        assert_eq!(limiter.clients(at(0)).count(), 0);
        for step in 0..10 {
            limiter.check(client(7), at(step * 16_000));
        }
        // A second client floods: most of its requests are dropped.
        let dropped = (0..100)
            .filter(|_| limiter.check(client(8), at(0)) == Decision::Drop)
            .count();
        let now = at(9 * 16_000 + 5_500);
        let mut records: Vec<ClientRecord> = limiter.clients(now).collect();
        records.sort_by_key(|r| r.address);
        assert_eq!(
            records[0],
            ClientRecord {
                address: client(7),
                ntp_hits: 10,
                ntp_drops: 0,
                ntp_interval: Some(4),
                ntp_timeout_interval: None,
                last_hit_ago: Some(5),
            }
        );
        assert_eq!(records[1].address, client(8));
        assert_eq!(records[1].ntp_hits, 100);
        assert_eq!(usize::from(records[1].ntp_drops), dropped);
        assert!(dropped > 50, "dropped {dropped}");
        assert!(records[1].ntp_timeout_interval.is_some());
        // A request from the future (the clock stepped back) has no age.
        assert_eq!(
            limiter.clients(at(-60_000)).next().unwrap().last_hit_ago,
            None
        );
    }

    #[test]
    fn counting_clients_costs_no_memory() {
        // The counters live in the padding of the 16-byte aligned record, so `clientloglimit`
        // still buys as many clients as before.
        assert_eq!(std::mem::size_of::<Record>(), 48);
    }

    #[test]
    fn mapped_ipv6_is_the_same_client() {
        let mut limiter = RateLimiter::new(3, 1, 4, 0, MEMORY, 2);
        assert_eq!(
            limiter.check("10.0.0.9".parse().unwrap(), at(0)),
            Decision::Answer
        );
        let refused = (0..32)
            .filter(|_| {
                limiter.check("::ffff:10.0.0.9".parse().unwrap(), at(0)) != Decision::Answer
            })
            .count();
        assert!(refused > 20);
    }
}
