//! The clock ringd serves when it may not steer the system clock: the system clock's reading
//! plus a correction that the engine's commands shape exactly as they would the kernel's clock.

use super::discipline::ClockCommand;
use super::leap::LeapStatus;
use super::local_time::LocalTime;

const DAY: f64 = 86_400.0;

#[derive(Clone, Debug)]
pub struct SoftwareClock {
    /// System clock reading (seconds since the engine's epoch) at which `offset` holds.
    at: f64,
    offset: f64,
    /// How fast the correction grows per second of the system clock.
    rate: f64,
    leap: LeapStatus,
    epoch_posix: f64,
    last_reading_posix: f64,
}

impl SoftwareClock {
    pub fn new(epoch_posix: f64) -> Self {
        SoftwareClock {
            at: 0.0,
            offset: 0.0,
            rate: 0.0,
            leap: LeapStatus::None,
            epoch_posix,
            last_reading_posix: epoch_posix,
        }
    }

    /// The correction to add to system clock reading `raw`.
    pub fn correction(&self, raw: f64) -> f64 {
        self.offset + self.rate * (raw - self.at)
    }

    /// The corrected time for system clock reading `raw`. A leap second armed with
    /// [`ClockCommand::SetLeap`] is taken when the corrected time first passes UTC midnight.
    pub fn read(&mut self, raw: f64) -> LocalTime {
        let reading = raw + self.correction(raw);
        let posix = self.epoch_posix + reading;
        let midnight = (posix / DAY).floor() * DAY;
        if self.last_reading_posix < midnight && posix >= midnight {
            match self.leap {
                LeapStatus::Insert => self.offset -= 1.0,
                LeapStatus::Delete => self.offset += 1.0,
                LeapStatus::None => {}
            }
            self.leap = LeapStatus::None;
        }
        let reading = raw + self.correction(raw);
        self.last_reading_posix = self.epoch_posix + reading;
        LocalTime::from_seconds_since_epoch(reading)
    }

    /// The correction's state, for publishing: (system clock reading, offset there, rate).
    pub fn parameters(&self) -> (f64, f64, f64) {
        (self.at, self.offset, self.rate)
    }

    pub fn apply(&mut self, raw: f64, command: ClockCommand) {
        self.offset = self.correction(raw);
        self.at = raw;
        match command {
            ClockCommand::SetFrequency(rate) => self.rate = rate,
            ClockCommand::Step(step) => self.offset += step,
            ClockCommand::SetLeap(status) => self.leap = status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: f64) -> LocalTime {
        LocalTime::from_seconds_since_epoch(seconds)
    }

    #[test]
    fn commands_shape_the_correction() {
        let mut clock = SoftwareClock::new(1_700_000_000.0);
        assert_eq!(clock.read(10.0), at(10.0));
        clock.apply(10.0, ClockCommand::SetFrequency(50e-6));
        assert!((clock.read(110.0) - at(110.0 + 0.005)).abs() < 1e-12);
        clock.apply(110.0, ClockCommand::Step(-0.25));
        assert!((clock.read(110.0) - at(110.0 + 0.005 - 0.25)).abs() < 1e-12);
        assert!((clock.correction(210.0) - (0.005 - 0.25 + 0.005)).abs() < 1e-12);
    }

    #[test]
    fn an_armed_leap_second_is_taken_once_at_midnight() {
        let epoch = 1_483_228_800.0 - 100.0;
        let mut clock = SoftwareClock::new(epoch);
        clock.apply(0.0, ClockCommand::SetLeap(LeapStatus::Insert));
        assert_eq!(clock.read(99.5), at(99.5));
        assert_eq!(clock.read(100.5), at(99.5), "23:59:59.5 again");
        assert_eq!(clock.read(101.5), at(100.5));
        assert_eq!(clock.read(86_500.5), at(86_499.5), "one leap only");
    }
}
