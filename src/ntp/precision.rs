//! The precision field: log2 of the clock's reading resolution, measured at start-up.

use super::packet::UnixTime;

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
}
