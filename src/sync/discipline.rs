//! Turning estimates into clock corrections: frequency, slews, `makestep` steps, leap flags.

use super::filter::per_true_second;
use super::leap::LeapStatus;
use super::local_time::LocalTime;

/// chrony's default `maxslewrate`: 83,333 ppm, the most the kernel's tick can be changed by.
pub const MAX_SLEW_RATE: f64 = 83_333e-6;
/// The largest frequency correction ringd applies on top of slewing (the kernel's limit).
pub const MAX_FREQUENCY: f64 = 500e-6;
/// No slew is shorter, so that the clock's rate never jerks for a tiny correction.
const MIN_SLEW_DURATION: f64 = 1.0;

/// A change the clock must make, for the kernel or for a simulated or software clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ClockCommand {
    /// Run faster than nominal by this fraction (seconds per second; negative: slower).
    SetFrequency(f64),
    /// Jump forward by this many seconds (negative: back).
    Step(f64),
    /// Arm the kernel to insert or delete a second at the end of the UTC day.
    SetLeap(LeapStatus),
}

/// `makestep threshold limit`: step when the offset exceeds `threshold` seconds during the
/// first `limit` clock updates (a negative limit: any update).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MakeStep {
    pub threshold: f64,
    pub limit: i64,
}

/// How a correction changed the clock, for the filters to follow.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Adjustment {
    pub frequency_change: f64,
    pub step: f64,
}

#[derive(Clone, Debug)]
pub struct Steering {
    /// The correction that keeps the clock on time without any slew (driftfile's frequency).
    base_frequency: f64,
    slew_rate: f64,
    /// When the slew in progress ends; only read while `slew_rate` is not zero.
    slew_end: LocalTime,
    makestep: Option<MakeStep>,
    updates: u64,
    leap: LeapStatus,
}

impl Steering {
    pub fn new(initial_frequency: f64, makestep: Option<MakeStep>) -> Self {
        Steering {
            base_frequency: initial_frequency.clamp(-MAX_FREQUENCY, MAX_FREQUENCY),
            slew_rate: 0.0,
            slew_end: LocalTime::EPOCH,
            makestep,
            updates: 0,
            leap: LeapStatus::None,
        }
    }

    /// The clock's frequency correction without the slew in progress.
    pub fn base_frequency(&self) -> f64 {
        self.base_frequency
    }

    fn applied(&self) -> f64 {
        self.base_frequency + self.slew_rate
    }

    /// What the slew in progress has still to correct at `now`, in seconds (positive: the
    /// clock is behind and will be advanced).
    pub fn remaining_correction(&self, now: LocalTime) -> f64 {
        if self.slew_rate == 0.0 {
            return 0.0;
        }
        self.slew_rate * (self.slew_end - now).max(0.0)
    }

    /// When the slew in progress ends, if one is.
    pub fn next_event(&self) -> Option<LocalTime> {
        (self.slew_rate != 0.0).then_some(self.slew_end)
    }

    /// The commands that put a fresh clock into the starting state.
    pub fn start(&self, out: &mut Vec<ClockCommand>) {
        out.push(ClockCommand::SetFrequency(self.applied()));
    }

    /// Ends a finished slew.
    pub fn on_timer(&mut self, now: LocalTime, out: &mut Vec<ClockCommand>) -> Adjustment {
        if self.slew_rate == 0.0 || now < self.slew_end {
            return Adjustment::default();
        }
        let change = -self.slew_rate;
        self.slew_rate = 0.0;
        out.push(ClockCommand::SetFrequency(self.applied()));
        Adjustment {
            frequency_change: change,
            step: 0.0,
        }
    }

    /// Corrects the clock given its estimated `offset` (local minus true, seconds) and
    /// `frequency_error` (how fast the offset grows per second of this clock, slew included)
    /// at `now`; a slew takes `slew_time` unless
    /// the offset needs longer at the maximum rate.
    pub fn correct(
        &mut self,
        now: LocalTime,
        offset: f64,
        frequency_error: f64,
        slew_time: f64,
        out: &mut Vec<ClockCommand>,
    ) -> Adjustment {
        let before = self.applied();
        // The measured frequency includes the slew in progress, which is about to be replaced.
        let natural_error = per_true_second(frequency_error) - self.slew_rate;
        self.base_frequency =
            (self.base_frequency - natural_error).clamp(-MAX_FREQUENCY, MAX_FREQUENCY);
        self.updates += 1;
        let may_step = self.makestep.is_some_and(|rule| {
            offset.abs() > rule.threshold && (rule.limit < 0 || self.updates <= rule.limit as u64)
        });
        let mut step = 0.0;
        if may_step {
            step = -offset;
            self.slew_rate = 0.0;
            out.push(ClockCommand::Step(step));
        } else {
            self.start_slew(now, offset, slew_time);
        }
        out.push(ClockCommand::SetFrequency(self.applied()));
        Adjustment {
            frequency_change: self.applied() - before,
            step,
        }
    }

    fn start_slew(&mut self, now: LocalTime, offset: f64, slew_time: f64) {
        let duration = (offset.abs() / MAX_SLEW_RATE)
            .max(slew_time)
            .max(MIN_SLEW_DURATION);
        // The duration is counted on the clock being slewed.
        self.slew_rate = per_true_second(-offset / duration);
        self.slew_end = now + duration;
    }

    /// `ringctl makestep`: step the whole offset now, whatever `makestep` says.
    pub fn step_now(&mut self, offset: f64, out: &mut Vec<ClockCommand>) -> Adjustment {
        let before = self.applied();
        self.slew_rate = 0.0;
        out.push(ClockCommand::Step(-offset));
        out.push(ClockCommand::SetFrequency(self.applied()));
        Adjustment {
            frequency_change: self.applied() - before,
            step: -offset,
        }
    }

    /// Arms the leap second due today, when it changed.
    pub fn set_leap(&mut self, status: LeapStatus, out: &mut Vec<ClockCommand>) {
        if status != self.leap {
            self.leap = status;
            out.push(ClockCommand::SetLeap(status));
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
    fn a_small_offset_is_slewed_within_a_second_and_the_frequency_kept() {
        let mut steering = Steering::new(10e-6, None);
        let mut out = Vec::new();
        let adjustment = steering.correct(at(100.0), 0.0002, 2e-6, 0.0, &mut out);
        // Base 10 - 2 = 8 ppm, plus a slew of about -200 ppm for one second.
        assert!((steering.base_frequency() - 8e-6).abs() < 1e-10);
        assert!((adjustment.frequency_change - (-2e-6 - 200e-6)).abs() < 1e-7);
        assert_eq!(adjustment.step, 0.0);
        let [ClockCommand::SetFrequency(slewing)] = out[..] else {
            panic!("{out:?}");
        };
        assert!((slewing - (8e-6 - 200e-6)).abs() < 1e-7);
        assert_eq!(steering.next_event(), Some(at(101.0)));
        out.clear();
        assert_eq!(
            steering.on_timer(at(100.5), &mut out),
            Adjustment::default()
        );
        let end = steering.on_timer(at(101.0), &mut out);
        assert!((end.frequency_change - 200e-6).abs() < 1e-7);
        assert_eq!(out, [ClockCommand::SetFrequency(steering.base_frequency())]);
        assert_eq!(steering.next_event(), None);
    }

    #[test]
    fn a_large_offset_slews_at_the_maximum_rate() {
        let mut steering = Steering::new(0.0, None);
        let mut out = Vec::new();
        steering.correct(at(0.0), 0.1, 0.0, 0.0, &mut out);
        let end = steering.next_event().unwrap();
        assert!((end.seconds_since_epoch() - 0.1 / MAX_SLEW_RATE).abs() < 1e-9);
    }

    #[test]
    fn a_gentle_slew_takes_the_time_asked_for() {
        let mut steering = Steering::new(0.0, None);
        let mut out = Vec::new();
        let adjustment = steering.correct(at(50.0), 0.000_1, 0.0, 200.0, &mut out);
        assert_eq!(steering.next_event(), Some(at(250.0)));
        assert!((adjustment.frequency_change + 0.5e-6).abs() < 1e-12);
    }

    #[test]
    fn makestep_steps_only_above_the_threshold_and_within_the_limit() {
        let rule = MakeStep {
            threshold: 1.0,
            limit: 2,
        };
        let mut steering = Steering::new(0.0, Some(rule));
        let mut out = Vec::new();
        assert_eq!(steering.correct(at(0.0), 0.5, 0.0, 0.0, &mut out).step, 0.0);
        assert_eq!(
            steering.correct(at(1.0), 3.0, 0.0, 0.0, &mut out).step,
            -3.0
        );
        assert!(out.contains(&ClockCommand::Step(-3.0)));
        assert_eq!(
            steering.correct(at(2.0), 3.0, 0.0, 0.0, &mut out).step,
            0.0,
            "third update: beyond the limit, slewed"
        );
        let mut always = Steering::new(
            0.0,
            Some(MakeStep {
                threshold: 0.1,
                limit: -1,
            }),
        );
        for n in 0..10 {
            assert_eq!(
                always
                    .correct(at(f64::from(n)), 0.2, 0.0, 0.0, &mut out)
                    .step,
                -0.2
            );
        }
    }

    #[test]
    fn the_frequency_never_leaves_the_kernel_range() {
        let mut steering = Steering::new(450e-6, None);
        steering.correct(at(0.0), 0.0, -200e-6, 0.0, &mut Vec::new());
        assert_eq!(steering.base_frequency(), MAX_FREQUENCY);
    }

    #[test]
    fn leap_flags_are_sent_once_per_change() {
        let mut steering = Steering::new(0.0, None);
        let mut out = Vec::new();
        steering.set_leap(LeapStatus::Insert, &mut out);
        steering.set_leap(LeapStatus::Insert, &mut out);
        steering.set_leap(LeapStatus::None, &mut out);
        assert_eq!(
            out,
            [
                ClockCommand::SetLeap(LeapStatus::Insert),
                ClockCommand::SetLeap(LeapStatus::None)
            ]
        );
    }
}
