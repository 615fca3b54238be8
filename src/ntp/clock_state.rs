//! The clock state every reply is built from, shared by all shards and read per packet without locks.

use std::sync::atomic::{fence, AtomicU64, Ordering};

use super::packet::{leap, NtpShort, NtpTimestamp};

/// What the server says about its clock in each reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockSnapshot {
    pub leap: u8,
    /// Stratum on the wire: 0 means unsynchronised.
    pub stratum: u8,
    pub reference_id: u32,
    pub reference_time: NtpTimestamp,
    pub root_delay: NtpShort,
    pub root_dispersion: NtpShort,
}

impl ClockSnapshot {
    /// The state before anything is known: unsynchronised, as chrony announces it.
    pub const UNSYNCHRONISED: ClockSnapshot = ClockSnapshot {
        leap: leap::UNSYNCHRONISED,
        stratum: 0,
        reference_id: 0,
        reference_time: NtpTimestamp::ZERO,
        root_delay: NtpShort(65536),
        root_dispersion: NtpShort(65536),
    };

    fn pack(&self) -> [u64; 3] {
        [
            u64::from(self.leap) << 40
                | u64::from(self.stratum) << 32
                | u64::from(self.reference_id),
            self.reference_time.0,
            u64::from(self.root_delay.0) << 32 | u64::from(self.root_dispersion.0),
        ]
    }

    fn unpack(words: [u64; 3]) -> Self {
        ClockSnapshot {
            leap: (words[0] >> 40) as u8 & 0x03,
            stratum: (words[0] >> 32) as u8,
            reference_id: words[0] as u32,
            reference_time: NtpTimestamp(words[1]),
            root_delay: NtpShort((words[2] >> 32) as u32),
            root_dispersion: NtpShort(words[2] as u32),
        }
    }
}

/// A sequence lock over a [`ClockSnapshot`]: one writer (about once a second), many readers
/// that never wait for each other and retry only if they raced the writer.
#[derive(Debug)]
pub struct ClockCell {
    sequence: AtomicU64,
    words: [AtomicU64; 3],
}

impl ClockCell {
    pub fn new(initial: ClockSnapshot) -> Self {
        let words = initial.pack();
        ClockCell {
            sequence: AtomicU64::new(0),
            words: words.map(AtomicU64::new),
        }
    }

    /// Publishes a new state. Only one thread may publish (the clock refresher).
    pub fn publish(&self, snapshot: ClockSnapshot) {
        let sequence = self.sequence.load(Ordering::Relaxed);
        self.sequence
            .store(sequence.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        for (word, value) in self.words.iter().zip(snapshot.pack()) {
            word.store(value, Ordering::Relaxed);
        }
        self.sequence
            .store(sequence.wrapping_add(2), Ordering::Release);
    }

    pub fn read(&self) -> ClockSnapshot {
        loop {
            let before = self.sequence.load(Ordering::Acquire);
            if before & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let words = [
                self.words[0].load(Ordering::Relaxed),
                self.words[1].load(Ordering::Relaxed),
                self.words[2].load(Ordering::Relaxed),
            ];
            fence(Ordering::Acquire);
            if self.sequence.load(Ordering::Relaxed) == before {
                return ClockSnapshot::unpack(words);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn sample(n: u32) -> ClockSnapshot {
        ClockSnapshot {
            leap: (n % 4) as u8,
            stratum: (n % 16) as u8,
            reference_id: n,
            reference_time: NtpTimestamp(u64::from(n) << 32 | u64::from(n)),
            root_delay: NtpShort(n),
            root_dispersion: NtpShort(!n),
        }
    }

    #[test]
    fn reads_what_was_published() {
        let cell = ClockCell::new(ClockSnapshot::UNSYNCHRONISED);
        assert_eq!(cell.read(), ClockSnapshot::UNSYNCHRONISED);
        cell.publish(sample(7));
        assert_eq!(cell.read(), sample(7));
    }

    #[test]
    fn readers_never_see_a_torn_state() {
        let cell = Arc::new(ClockCell::new(sample(0)));
        let writer = {
            let cell = Arc::clone(&cell);
            std::thread::spawn(move || {
                for n in 1..200_000 {
                    cell.publish(sample(n));
                }
            })
        };
        let mut reads = 0u64;
        while !writer.is_finished() || reads < 1000 {
            let seen = cell.read();
            assert_eq!(
                seen,
                sample(seen.reference_id),
                "fields from one publication"
            );
            reads += 1;
        }
        writer.join().unwrap();
    }
}
