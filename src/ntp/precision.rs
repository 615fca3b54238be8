//! The precision field: log2 of the clock's reading resolution, measured at start-up, and the random bits below it in served timestamps.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use super::packet::{NtpTimestamp, UnixTime};

/// Measures the smallest step between consecutive clock readings and returns it as the NTP
/// precision exponent (rounded up, so the claimed precision is never better than observed).
pub fn measure(mut read_clock: impl FnMut() -> UnixTime) -> i8 {
    let mut smallest_step = i128::MAX;
    let mut previous = read_clock().as_nanos();
    let mut steps = 0;
    for _ in 0..100_000 {
        let now = read_clock().as_nanos();
        let step = now - previous;
        previous = now;
        if step > 0 {
            smallest_step = smallest_step.min(step);
            steps += 1;
            if steps == 1000 {
                break;
            }
        }
    }
    if smallest_step == i128::MAX {
        return 0;
    }
    let seconds = smallest_step as f64 * 1e-9;
    (seconds.log2().ceil() as i32).clamp(-30, 0) as i8
}

/// Tries at drawing a timestamp unlike the ones it must differ from; with at least two random
/// bits (precision -30 or coarser) the chance that all of them collide is below 2^-8.
const STAMP_TRIES: usize = 8;

/// Fills the bits of a served timestamp below the precision with random ones, as chronyd does,
/// so that the low bits reveal nothing about the server's clock. One per shard: a wyrand
/// generator seeded once from the OS (std's hash keys), a multiply per timestamp and no
/// system call.
pub struct TimestampFuzz {
    state: u64,
    mask: u64,
}

impl TimestampFuzz {
    /// For a server of `precision` (log2 seconds, at least -32), seeded from the OS.
    pub fn new(precision: i8) -> TimestampFuzz {
        TimestampFuzz::seeded(precision, RandomState::new().build_hasher().finish())
    }

    pub fn seeded(precision: i8, seed: u64) -> TimestampFuzz {
        let random_bits = (i32::from(precision) + 32).clamp(0, 64) as u32;
        TimestampFuzz {
            state: seed,
            mask: u64::MAX.checked_shr(64 - random_bits).unwrap_or(0),
        }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0xA076_1D64_78BD_642F);
        let product = u128::from(self.state) * u128::from(self.state ^ 0xE703_7ED1_A0B4_28DB);
        (product >> 64) as u64 ^ product as u64
    }

    fn blur(&mut self, time: NtpTimestamp) -> NtpTimestamp {
        NtpTimestamp(time.0 ^ (self.next() & self.mask))
    }

    /// The receive timestamp (T2) to send: blurred, with the lowest bit set as chronyd sets it
    /// (its mark of a server's receive timestamp, used to detect interleaved requests), and
    /// unlike the request's `origin`.
    pub fn receive_stamp(&mut self, time: NtpTimestamp, origin: NtpTimestamp) -> NtpTimestamp {
        let mut stamp = NtpTimestamp(self.blur(time).0 | 1);
        for _ in 1..STAMP_TRIES {
            if stamp != origin {
                break;
            }
            stamp = NtpTimestamp(self.blur(time).0 | 1);
        }
        stamp
    }

    /// The transmit timestamp (T3) to send: blurred, lowest bit clear, and unlike both
    /// `receive` and `origin`, so a reply is never taken for its own request's answer.
    pub fn transmit_stamp(
        &mut self,
        time: NtpTimestamp,
        receive: NtpTimestamp,
        origin: NtpTimestamp,
    ) -> NtpTimestamp {
        let mut stamp = NtpTimestamp(self.blur(time).0 & !1);
        for _ in 1..STAMP_TRIES {
            if stamp != receive && stamp != origin {
                break;
            }
            stamp = NtpTimestamp(self.blur(time).0 & !1);
        }
        stamp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticking(step_nanos: i64) -> impl FnMut() -> UnixTime {
        let mut nanos = 0i64;
        move || {
            nanos += step_nanos;
            UnixTime {
                secs: 1_700_000_000 + nanos / 1_000_000_000,
                nanos: (nanos % 1_000_000_000) as u32,
            }
        }
    }

    #[test]
    fn exponent_follows_the_resolution() {
        assert_eq!(measure(ticking(29)), -25);
        assert_eq!(measure(ticking(30)), -24);
        assert_eq!(measure(ticking(1_000)), -19);
        assert_eq!(measure(ticking(1_000_000)), -9);
    }

    #[test]
    fn a_stuck_clock_claims_nothing() {
        assert_eq!(measure(UnixTime::default), 0);
    }

    #[test]
    fn only_the_bits_below_the_precision_change() {
        let time = NtpTimestamp(0x1234_5678_9ABC_DEF0);
        let mut fuzz = TimestampFuzz::seeded(-20, 1);
        let mut changed = 0u64;
        for _ in 0..1000 {
            let stamp = fuzz.transmit_stamp(time, NtpTimestamp(1), NtpTimestamp(2));
            changed |= stamp.0 ^ time.0;
            assert_eq!(stamp.0 & 1, 0, "T3's lowest bit is clear");
            let stamp = fuzz.receive_stamp(time, NtpTimestamp(2));
            assert_eq!(stamp.0 & 1, 1, "T2's lowest bit is set");
        }
        assert_eq!(
            changed,
            (1 << 12) - 2,
            "the 11 bits below 2^-20 s above the cleared lowest vary, none above"
        );
    }

    #[test]
    fn a_precision_of_zero_randomises_the_whole_fraction() {
        let mut fuzz = TimestampFuzz::seeded(0, 7);
        let mut changed = 0u64;
        for _ in 0..1000 {
            changed |= fuzz.blur(NtpTimestamp(0x4000_0000_0000_0000)).0 ^ 0x4000_0000_0000_0000;
        }
        assert_eq!(changed, 0xFFFF_FFFF);
    }

    #[test]
    fn shards_seeded_from_the_os_draw_differently() {
        let time = NtpTimestamp(0x1234_5678_0000_0000);
        let draw = |fuzz: &mut TimestampFuzz| (0..4).map(|_| fuzz.blur(time).0).collect::<Vec<_>>();
        assert_ne!(
            draw(&mut TimestampFuzz::new(-10)),
            draw(&mut TimestampFuzz::new(-10))
        );
    }

    #[test]
    fn a_stamp_equal_to_the_origin_is_drawn_again() {
        // Two random bits, one of them forced: half the draws would equal the origin.
        let time = NtpTimestamp(0x1234_5678_0000_0000);
        let origin = NtpTimestamp(time.0 | 1);
        let mut fuzz = TimestampFuzz::seeded(-30, 3);
        for _ in 0..20 {
            assert_ne!(fuzz.receive_stamp(time, origin), origin);
            let receive = NtpTimestamp(time.0 | 3);
            let transmit = fuzz.transmit_stamp(time, receive, NtpTimestamp(time.0));
            assert_ne!(transmit, NtpTimestamp(time.0));
        }
    }
}
