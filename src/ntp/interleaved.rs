//! Interleaved mode's server state, as chronyd 4.3 keeps it: the receive timestamps handed out, each reply's transmit time, and the sends awaiting the kernel's.

use super::packet::NtpTimestamp;
use super::ratelimit;

/// Entries of a hash set; the oldest receive timestamp of a full set makes room.
const WAYS: usize = 8;
/// A kernel transmit time more than this after the one read before the send is not this
/// reply's (chronyd's `MAX_TX_DELAY`: one second, in NTP units).
const LONGEST_TX_DELAY: u64 = 1 << 32;

#[derive(Clone, Copy, Debug, Default)]
struct Entry {
    /// The receive timestamp a reply carried; 0 for a free entry.
    receive: u64,
    /// When that reply left, as served (corrected, not fuzzed); 0 when unknown.
    transmit: u64,
    /// Already answered once in interleaved mode, or handed out twice: never again.
    spent: bool,
}

/// One shard's map from the receive timestamps it sent to the transmit time of each of those
/// replies. A request is interleaved when its origin timestamp is one of them (RFC 9769);
/// chronyd keys its map by the receive timestamp, not the client, so clients sharing an
/// address each keep their own. Bounded: as many entries as chronyd's client log has records
/// in the same memory.
#[derive(Debug)]
pub struct InterleavedTimestamps {
    entries: Box<[Entry]>,
    set_mask: usize,
    evictions: u64,
}

impl InterleavedTimestamps {
    /// A table for `memory_limit` bytes of `clientloglimit`, sized as chronyd sizes its
    /// timestamp map beside its client log.
    pub fn for_memory(memory_limit: u64) -> Self {
        Self::with_capacity(ratelimit::clients_for(
            memory_limit,
            std::mem::size_of::<Entry>(),
        ))
    }

    /// A table of at least `WAYS` entries, rounded down to a power of two.
    pub fn with_capacity(capacity: usize) -> Self {
        let sets = (capacity / WAYS).max(1);
        let sets = if sets.is_power_of_two() {
            sets
        } else {
            sets.next_power_of_two() / 2
        };
        InterleavedTimestamps {
            entries: vec![Entry::default(); sets * WAYS].into_boxed_slice(),
            set_mask: sets - 1,
            evictions: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// Entries overwritten to make room for newer ones.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    fn set_of(&self, receive: u64) -> std::ops::Range<usize> {
        // The low bits are random (below the precision), the middle ones change every request.
        let hash = receive.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        let start = (hash as usize & self.set_mask) * WAYS;
        start..start + WAYS
    }

    fn find(&self, receive: u64) -> Option<usize> {
        if receive == 0 {
            return None;
        }
        self.set_of(receive)
            .find(|&index| self.entries[index].receive == receive)
    }

    /// For a request whose origin is `origin`: the transmit time of the reply that carried it
    /// as its receive timestamp, to answer in interleaved mode. Each receive timestamp is
    /// answered so once; `None` (basic mode) when it is unknown, spent, or its transmit time
    /// is unknown.
    pub fn take_transmit(&mut self, origin: NtpTimestamp) -> Option<NtpTimestamp> {
        let index = self.find(origin.0)?;
        let entry = &mut self.entries[index];
        if entry.spent {
            return None;
        }
        entry.spent = true;
        (entry.transmit != 0).then_some(NtpTimestamp(entry.transmit))
    }

    /// Remembers that a reply carrying `receive` left at about `transmit`. A receive timestamp
    /// handed out twice is spent: the answer to it would be ambiguous.
    pub fn save(&mut self, receive: NtpTimestamp, transmit: NtpTimestamp) {
        if receive.0 == 0 {
            return;
        }
        if let Some(index) = self.find(receive.0) {
            self.entries[index].spent = true;
            return;
        }
        let set = self.set_of(receive.0);
        let newest = receive.0;
        // Age by distance back from the newest, so the NTP era's wrap orders correctly.
        let index = set
            .max_by_key(|&index| {
                let entry = &self.entries[index];
                if entry.receive == 0 {
                    u64::MAX
                } else {
                    newest.wrapping_sub(entry.receive)
                }
            })
            .expect("a set has WAYS entries");
        if self.entries[index].receive != 0 {
            self.evictions += 1;
        }
        self.entries[index] = Entry {
            receive: receive.0,
            transmit: transmit.0,
            spent: false,
        };
    }

    /// The kernel reports the reply carrying `receive` left at `transmit`: kept when it is at
    /// most a second after the time read before the send, as chronyd checks.
    pub fn update_transmit(&mut self, receive: NtpTimestamp, transmit: NtpTimestamp) -> bool {
        let Some(index) = self.find(receive.0) else {
            return false;
        };
        let entry = &mut self.entries[index];
        let delay = transmit.0.wrapping_sub(entry.transmit);
        if entry.spent || entry.transmit == 0 || delay > LONGEST_TX_DELAY {
            return false;
        }
        entry.transmit = transmit.0;
        true
    }
}

/// Sends waiting for a kernel transmit timestamp on one socket. The kernel numbers the
/// timestamped sends of a socket from 0 (SOF_TIMESTAMPING_OPT_ID) and reports that number
/// with each timestamp; a send the kernel refused takes no number.
#[derive(Debug)]
pub struct PendingTxStamps {
    next_key: u32,
    waiting: Box<[Option<(u32, NtpTimestamp)>]>,
}

/// Sends remembered per socket; a timestamp that comes later than this many sends is dropped.
/// As many as the shell reads from an error queue at one look.
const PENDING_SENDS: usize = 1024;

impl Default for PendingTxStamps {
    fn default() -> Self {
        PendingTxStamps {
            next_key: 0,
            waiting: vec![None; PENDING_SENDS].into_boxed_slice(),
        }
    }
}

impl PendingTxStamps {
    /// A reply carrying `receive` was sent with a transmit timestamp asked for.
    pub fn sent(&mut self, receive: NtpTimestamp) {
        let key = self.next_key;
        self.waiting[key as usize % PENDING_SENDS] = Some((key, receive));
        self.next_key = key.wrapping_add(1);
    }

    /// The kernel's timestamp numbered `key` came: the receive timestamp of that reply, if it
    /// is still awaited.
    pub fn arrived(&mut self, key: u32) -> Option<NtpTimestamp> {
        let slot = &mut self.waiting[key as usize % PENDING_SENDS];
        match *slot {
            Some((waited, receive)) if waited == key => {
                *slot = None;
                Some(receive)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(secs: u64, frac: u32) -> NtpTimestamp {
        NtpTimestamp(secs << 32 | u64::from(frac | 1))
    }

    #[test]
    fn a_saved_receive_timestamp_gives_its_transmit_time_once() {
        let mut table = InterleavedTimestamps::with_capacity(64);
        let receive = stamp(100, 0x1234_5600);
        let transmit = NtpTimestamp(stamp(100, 0x1234_9900).0 & !1);
        table.save(receive, transmit);
        assert_eq!(table.take_transmit(receive), Some(transmit));
        assert_eq!(table.take_transmit(receive), None, "answered once only");
    }

    #[test]
    fn an_unknown_origin_gets_basic_mode() {
        let mut table = InterleavedTimestamps::with_capacity(64);
        table.save(stamp(100, 0x10), NtpTimestamp(100 << 32));
        assert_eq!(table.take_transmit(stamp(100, 0x20)), None);
        assert_eq!(table.take_transmit(NtpTimestamp(0)), None);
    }

    #[test]
    fn a_receive_timestamp_handed_out_twice_is_spent() {
        let mut table = InterleavedTimestamps::with_capacity(64);
        let receive = stamp(100, 0x10);
        table.save(receive, NtpTimestamp(100 << 32));
        table.save(receive, NtpTimestamp(100 << 32));
        assert_eq!(table.take_transmit(receive), None);
    }

    #[test]
    fn the_kernel_time_replaces_the_one_read_before_the_send() {
        let mut table = InterleavedTimestamps::with_capacity(64);
        let receive = stamp(100, 0x10);
        let before_send = NtpTimestamp(100 << 32 | 0x100);
        table.save(receive, before_send);
        let kernel = NtpTimestamp(100 << 32 | 0x9000);
        assert!(
            !table.update_transmit(receive, NtpTimestamp(99 << 32)),
            "earlier"
        );
        assert!(
            !table.update_transmit(receive, NtpTimestamp(102 << 32)),
            "late"
        );
        assert!(table.update_transmit(receive, kernel));
        assert_eq!(table.take_transmit(receive), Some(kernel));
    }

    #[test]
    fn the_table_stays_within_its_capacity_and_forgets_the_oldest() {
        let mut table = InterleavedTimestamps::with_capacity(64);
        assert_eq!(table.capacity(), 64);
        let saved: Vec<NtpTimestamp> = (0..1000u64).map(|n| stamp(1000 + n, 0)).collect();
        for &receive in &saved {
            table.save(receive, NtpTimestamp(receive.0 + 0x100));
        }
        assert_eq!(table.evictions(), 1000 - 64);
        let kept = saved
            .iter()
            .filter(|&&receive| table.take_transmit(receive).is_some())
            .count();
        assert_eq!(kept, 64);
        assert!(table.find(saved[999].0).is_some(), "the newest stays");
        assert_eq!(table.find(saved[0].0), None, "the oldest went first");
    }

    #[test]
    fn clientloglimit_bounds_the_table() {
        let small = InterleavedTimestamps::for_memory(4096);
        let large = InterleavedTimestamps::for_memory(1 << 20);
        assert!(small.capacity() >= WAYS);
        assert!(large.capacity() > small.capacity());
        assert!(large.capacity() * std::mem::size_of::<Entry>() <= 1 << 20);
    }

    #[test]
    fn kernel_timestamps_are_matched_by_their_send_number() {
        let mut pending = PendingTxStamps::default();
        pending.sent(stamp(1, 1));
        pending.sent(stamp(2, 1));
        assert_eq!(pending.arrived(1), Some(stamp(2, 1)));
        assert_eq!(pending.arrived(0), Some(stamp(1, 1)));
        assert_eq!(pending.arrived(0), None, "once");
        assert_eq!(pending.arrived(7), None, "never sent");
        for n in 0..PENDING_SENDS as u64 {
            pending.sent(stamp(10 + n, 1));
        }
        assert_eq!(pending.arrived(1), None, "its slot taken by a later send");
    }
}
