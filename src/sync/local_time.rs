//! The sync engine's notion of when things happen: readings of the clock it disciplines.

use std::ops::{Add, Sub};

/// A reading of the local clock, the one the engine disciplines: the system clock when ringd
/// steers it, the software clock when it only observes, the simulated client clock in the
/// simulator. Counted in seconds since the engine's epoch, the moment the clock read
/// [`EngineConfig::epoch_posix`](super::engine::EngineConfig::epoch_posix).
///
/// Not monotonic: it runs at the disciplined rate, jumps when the clock is stepped and takes
/// leap seconds as the clock does, so differences are seconds of this clock, not of true time.
/// Durations and offsets stay plain `f64` seconds.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct LocalTime(f64);

impl LocalTime {
    /// The engine's epoch itself.
    pub const EPOCH: LocalTime = LocalTime(0.0);

    pub fn from_seconds_since_epoch(seconds: f64) -> Self {
        LocalTime(seconds)
    }

    pub fn seconds_since_epoch(self) -> f64 {
        self.0
    }

    pub fn max(self, other: LocalTime) -> LocalTime {
        LocalTime(self.0.max(other.0))
    }

    pub fn min(self, other: LocalTime) -> LocalTime {
        LocalTime(self.0.min(other.0))
    }
}

/// Seconds of the local clock from `earlier` to `self` (negative if `self` is earlier).
impl Sub for LocalTime {
    type Output = f64;

    fn sub(self, earlier: LocalTime) -> f64 {
        self.0 - earlier.0
    }
}

/// The reading `seconds` later.
impl Add<f64> for LocalTime {
    type Output = LocalTime;

    fn add(self, seconds: f64) -> LocalTime {
        LocalTime(self.0 + seconds)
    }
}

/// The reading `seconds` earlier.
impl Sub<f64> for LocalTime {
    type Output = LocalTime;

    fn sub(self, seconds: f64) -> LocalTime {
        LocalTime(self.0 - seconds)
    }
}
