//! The clock state every reply is built from, shared by all shards and read per packet without locks.

use std::sync::atomic::{fence, AtomicU64, Ordering};

use super::packet::{leap, NtpShort, NtpTimestamp, UnixTime};

/// What to add to the system clock's readings to get the time served, when ringd tracks the
/// true time without steering the system clock (as `chronyd -x` does): an offset at a moment,
/// growing at a rate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClockCorrection {
    /// System clock reading (Unix nanoseconds) at which `offset_ns` holds.
    pub at_ns: i64,
    pub offset_ns: i64,
    /// How much the correction grows per second, in picoseconds.
    pub rate_ps_per_s: i64,
}

impl ClockCorrection {
    pub const NONE: ClockCorrection = ClockCorrection {
        at_ns: 0,
        offset_ns: 0,
        rate_ps_per_s: 0,
    };

    /// The served time for a system clock reading.
    pub fn apply(&self, reading: UnixTime) -> UnixTime {
        if *self == ClockCorrection::NONE {
            return reading;
        }
        let raw = reading.as_nanos();
        let elapsed = raw - i128::from(self.at_ns);
        let total = raw
            + i128::from(self.offset_ns)
            + elapsed * i128::from(self.rate_ps_per_s) / 1_000_000_000_000;
        UnixTime {
            secs: total.div_euclid(1_000_000_000) as i64,
            nanos: total.rem_euclid(1_000_000_000) as u32,
        }
    }
}

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
    /// Applied to the receive and transmit timestamps.
    pub correction: ClockCorrection,
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
        correction: ClockCorrection::NONE,
    };

    fn pack(&self) -> [u64; WORDS] {
        [
            u64::from(self.leap) << 40
                | u64::from(self.stratum) << 32
                | u64::from(self.reference_id),
            self.reference_time.0,
            u64::from(self.root_delay.0) << 32 | u64::from(self.root_dispersion.0),
            self.correction.at_ns as u64,
            self.correction.offset_ns as u64,
            self.correction.rate_ps_per_s as u64,
        ]
    }

    fn unpack(words: [u64; WORDS]) -> Self {
        ClockSnapshot {
            leap: (words[0] >> 40) as u8 & 0x03,
            stratum: (words[0] >> 32) as u8,
            reference_id: words[0] as u32,
            reference_time: NtpTimestamp(words[1]),
            root_delay: NtpShort((words[2] >> 32) as u32),
            root_dispersion: NtpShort(words[2] as u32),
            correction: ClockCorrection {
                at_ns: words[3] as i64,
                offset_ns: words[4] as i64,
                rate_ps_per_s: words[5] as i64,
            },
        }
    }
}

const WORDS: usize = 6;

/// A sequence lock over a [`ClockSnapshot`]: one writer (about once a second), many readers
/// that never wait for each other and retry only if they raced the writer.
#[derive(Debug)]
pub struct ClockCell {
    sequence: AtomicU64,
    words: [AtomicU64; WORDS],
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
            let words: [u64; WORDS] =
                std::array::from_fn(|i| self.words[i].load(Ordering::Relaxed));
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
            correction: ClockCorrection {
                at_ns: i64::from(n) << 20,
                offset_ns: -i64::from(n),
                rate_ps_per_s: i64::from(n) * 3,
            },
        }
    }

    #[test]
    fn corrections_shift_and_stretch_the_readings() {
        let reading = UnixTime {
            secs: 1_700_000_010,
            nanos: 500,
        };
        assert_eq!(ClockCorrection::NONE.apply(reading), reading);
        let correction = ClockCorrection {
            at_ns: 1_700_000_000 * 1_000_000_000,
            offset_ns: -2_000,
            // 20 ppb: 200 ns over the 10 s since `at_ns`.
            rate_ps_per_s: 20_000,
        };
        assert_eq!(
            correction.apply(reading),
            UnixTime {
                secs: 1_700_000_009,
                nanos: 1_000_000_000 - 1_300,
            }
        );
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
