//! The simulated world: a client clock with a wandering frequency, and servers behind lossy,
//! jittery, possibly asymmetric paths.

use super::rng::Rng;
use crate::sync::discipline::ClockCommand;
use crate::sync::leap::LeapStatus;
use crate::sync::local_time::LocalTime;

/// The client's clock. Its error `offset` (local minus true time) grows at its own frequency
/// error plus whatever frequency the engine commands.
#[derive(Clone, Debug)]
pub struct SimClock {
    offset: f64,
    at: f64,
    /// The oscillator's own error, wandering each second.
    natural_frequency: f64,
    commanded_frequency: f64,
    /// Random-walk step of the natural frequency per second (chrony's tests: 1e-9).
    wander: f64,
    leap: LeapStatus,
    /// POSIX time at true time 0, to find UTC midnights for leap seconds.
    epoch_posix: f64,
    /// The clock's POSIX reading at the last tick, to see it pass midnight.
    last_tick_reading: f64,
    pub steps: u32,
}

impl SimClock {
    pub fn new(offset: f64, frequency: f64, wander: f64, epoch_posix: f64) -> Self {
        SimClock {
            offset,
            at: 0.0,
            natural_frequency: frequency,
            commanded_frequency: 0.0,
            wander,
            leap: LeapStatus::None,
            epoch_posix,
            last_tick_reading: epoch_posix + offset,
            steps: 0,
        }
    }

    /// Local minus true time at true time `t` (not before the last change).
    pub fn offset_at(&self, t: f64) -> f64 {
        self.offset + self.frequency() * (t - self.at)
    }

    /// How fast the clock gains on true time now, commands included.
    pub fn frequency(&self) -> f64 {
        self.natural_frequency + self.commanded_frequency
    }

    /// What the clock reads at true time `t`.
    pub fn local_time(&self, t: f64) -> LocalTime {
        LocalTime::from_seconds_since_epoch(t + self.offset_at(t))
    }

    /// The true time at which the clock will read `local` (the clock's rate is within a few
    /// hundred ppm of 1, so one correction suffices).
    pub fn true_time_of(&self, local: LocalTime) -> f64 {
        let local = local.seconds_since_epoch();
        let guess = local - self.offset_at(local.max(self.at));
        (local - self.offset_at(guess.max(self.at))).max(self.at)
    }

    fn advance(&mut self, t: f64) {
        self.offset = self.offset_at(t);
        self.at = t;
    }

    /// The oscillator's frequency takes its random step for the second starting at `t`; a
    /// leap second the engine armed is taken when the local clock passes UTC midnight.
    pub fn tick(&mut self, t: f64, rng: &mut Rng) {
        self.advance(t);
        let before = self.last_tick_reading;
        let after = self.epoch_posix + self.local_time(t).seconds_since_epoch();
        let midnight = (after / 86_400.0).floor() * 86_400.0;
        self.last_tick_reading = after;
        if before < midnight && after >= midnight {
            match self.leap {
                LeapStatus::Insert => self.offset -= 1.0,
                LeapStatus::Delete => self.offset += 1.0,
                LeapStatus::None => {}
            }
            self.leap = LeapStatus::None;
        }
        self.natural_frequency += self.wander * rng.normal();
    }

    pub fn apply(&mut self, t: f64, command: ClockCommand) {
        self.advance(t);
        match command {
            ClockCommand::SetFrequency(frequency) => self.commanded_frequency = frequency,
            ClockCommand::Step(step) => {
                self.offset += step;
                self.steps += 1;
            }
            ClockCommand::SetLeap(status) => self.leap = status,
        }
    }
}

/// A server and the path to it.
#[derive(Clone, Debug)]
pub struct SimServer {
    /// Server time minus true time (a falseticker is far off).
    pub offset: f64,
    pub stratum: u8,
    pub base_delay: f64,
    /// Mean of the exponential extra delay on each leg.
    pub jitter: f64,
    /// chrony's `jitter_asymmetry`: the way out gets `1 - 2a` of the jitter, the way back
    /// `1 + 2a`.
    pub asymmetry: f64,
    pub loss: f64,
    /// True time from which the server no longer answers.
    pub gone_at: f64,
    /// POSIX time of a leap second the server's clock inserts, if any.
    pub inserts_leap_at: Option<f64>,
}

impl SimServer {
    /// A perfect stratum-1 server behind chrony's default test path.
    pub fn chrony_default() -> Self {
        SimServer {
            offset: 0.0,
            stratum: 1,
            base_delay: 1e-4,
            jitter: 1e-4,
            asymmetry: 0.0,
            loss: 0.0,
            gone_at: f64::INFINITY,
            inserts_leap_at: None,
        }
    }

    /// One leg's delay.
    pub fn delay(&self, outbound: bool, rng: &mut Rng) -> f64 {
        let share = if outbound {
            1.0 - 2.0 * self.asymmetry
        } else {
            1.0 + 2.0 * self.asymmetry
        };
        self.base_delay + share * self.jitter * rng.exponential()
    }

    /// The server's clock at true time `t`, given POSIX time at true 0.
    pub fn time(&self, t: f64, epoch_posix: f64) -> f64 {
        let leap = match self.inserts_leap_at {
            Some(at) if epoch_posix + t >= at => 1.0,
            _ => 0.0,
        };
        t + self.offset - leap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_drifts_and_obeys_commands() {
        let mut clock = SimClock::new(0.1, 100e-6, 0.0, 0.0);
        assert!((clock.offset_at(10.0) - 0.101).abs() < 1e-12);
        clock.apply(10.0, ClockCommand::SetFrequency(-100e-6));
        assert!((clock.offset_at(1000.0) - 0.101).abs() < 1e-12);
        clock.apply(1000.0, ClockCommand::Step(-0.101));
        assert!(clock.offset_at(1000.0).abs() < 1e-12);
        assert_eq!(clock.steps, 1);
        let local = LocalTime::from_seconds_since_epoch(2000.0);
        assert!((clock.local_time(clock.true_time_of(local)) - local).abs() < 1e-9);
    }

    #[test]
    fn an_armed_leap_second_is_inserted_at_utc_midnight() {
        let mut clock = SimClock::new(0.0, 0.0, 0.0, 86_400.0 - 10.0);
        let mut rng = Rng::new(1);
        clock.apply(0.0, ClockCommand::SetLeap(LeapStatus::Insert));
        for t in 1..=9 {
            clock.tick(f64::from(t), &mut rng);
        }
        assert_eq!(clock.offset_at(9.0), 0.0);
        clock.tick(10.0, &mut rng);
        assert_eq!(clock.offset_at(10.0), -1.0);
        clock.tick(86_410.0, &mut rng);
        assert_eq!(clock.offset_at(86_410.0), -1.0, "taken once");
    }

    #[test]
    fn asymmetric_paths_split_the_jitter() {
        let server = SimServer {
            asymmetry: 0.25,
            ..SimServer::chrony_default()
        };
        let (mut out, mut back) = (0.0, 0.0);
        let mut rng = Rng::new(3);
        for _ in 0..10_000 {
            out += server.delay(true, &mut rng);
            back += server.delay(false, &mut rng);
        }
        assert!((out / 1e4 - 1.5e-4).abs() < 5e-6);
        assert!((back / 1e4 - 2.5e-4).abs() < 1e-5);
    }
}
