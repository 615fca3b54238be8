//! The ramp's policy without I/O: the rate of each step, when to stop, and the result.
//!
//! As ntpperf does: start low, multiply the rate by a factor each step, stop once a step loses
//! more than 1 %, and report the highest rate that lost at most 0.1 %.

use super::report::RampStop;

/// A step losing more than this (percent) ends the ramp.
pub const STOP_LOSS_PERCENT: f64 = 1.0;
/// A step losing at most this (percent) counts as served.
pub const SERVED_LOSS_PERCENT: f64 = 0.1;
/// A step offering less than this fraction of its rate shows the generator's own limit: the
/// ramp stops there. (A step merely flagged as behind, e.g. by a preemption of the generator,
/// does not count as served but does not end the ramp.)
pub const GENERATOR_LIMIT_FRACTION: f64 = 0.9;

/// What the ramp needs to know about a finished step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepOutcome {
    pub rate: f64,
    pub offered_rate: f64,
    pub loss_percent: f64,
    pub generator_fell_behind: bool,
}

#[derive(Clone, Debug)]
pub struct RampPlan {
    next_rate: Option<f64>,
    factor: f64,
    max_rate: f64,
    steps_left: usize,
    best: Option<f64>,
    stop: Option<RampStop>,
}

impl RampPlan {
    pub fn new(start_rate: f64, factor: f64, max_rate: f64, max_steps: usize) -> Self {
        assert!(factor > 1.0, "a ramp must grow");
        let (next_rate, stop) = if max_steps == 0 {
            (None, Some(RampStop::MaxStepsReached))
        } else {
            (Some(start_rate.min(max_rate)), None)
        };
        RampPlan {
            next_rate,
            factor,
            max_rate,
            steps_left: max_steps,
            best: None,
            stop,
        }
    }

    /// The rate of the next step, or `None` when the ramp is over.
    pub fn next_rate(&self) -> Option<f64> {
        self.next_rate
    }

    /// Takes in the step just run at `next_rate()`.
    pub fn record(&mut self, outcome: StepOutcome) {
        self.steps_left = self.steps_left.saturating_sub(1);
        if !outcome.generator_fell_behind && outcome.loss_percent <= SERVED_LOSS_PERCENT {
            self.best = Some(
                self.best
                    .map_or(outcome.rate, |best| best.max(outcome.rate)),
            );
        }
        let stop = if outcome.loss_percent > STOP_LOSS_PERCENT {
            Some(RampStop::LossAboveLimit)
        } else if outcome.offered_rate < outcome.rate * GENERATOR_LIMIT_FRACTION {
            Some(RampStop::GeneratorFellBehind)
        } else if outcome.rate >= self.max_rate {
            Some(RampStop::MaxRateReached)
        } else if self.steps_left == 0 {
            Some(RampStop::MaxStepsReached)
        } else {
            None
        };
        self.next_rate = match stop {
            Some(_) => None,
            None => Some((outcome.rate * self.factor).min(self.max_rate)),
        };
        self.stop = stop;
    }

    /// Highest rate served with loss at most 0.1 % while the generator kept up.
    pub fn best_rate(&self) -> Option<f64> {
        self.best
    }

    pub fn stop_reason(&self) -> Option<RampStop> {
        self.stop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(rate: f64, loss_percent: f64) -> StepOutcome {
        StepOutcome {
            rate,
            offered_rate: rate,
            loss_percent,
            generator_fell_behind: false,
        }
    }

    /// Runs the plan against a server whose loss at each rate `loss_at` gives.
    fn ramp(mut plan: RampPlan, loss_at: impl Fn(f64) -> f64) -> (Vec<f64>, RampPlan) {
        let mut rates = Vec::new();
        while let Some(rate) = plan.next_rate() {
            rates.push(rate);
            plan.record(step(rate, loss_at(rate)));
            assert!(rates.len() < 100, "the ramp must end");
        }
        (rates, plan)
    }

    #[test]
    fn rates_grow_by_the_factor_until_loss_passes_one_percent() {
        let plan = RampPlan::new(10_000.0, 1.5, 1e9, 50);
        let (rates, plan) = ramp(plan, |rate| if rate > 40_000.0 { 5.0 } else { 0.0 });
        assert_eq!(
            rates,
            vec![10_000.0, 15_000.0, 22_500.0, 33_750.0, 50_625.0]
        );
        assert_eq!(plan.best_rate(), Some(33_750.0));
        assert_eq!(plan.stop_reason(), Some(RampStop::LossAboveLimit));
    }

    #[test]
    fn moderate_loss_neither_counts_nor_stops() {
        let plan = RampPlan::new(100.0, 2.0, 1e9, 50);
        let (rates, plan) = ramp(plan, |rate| match rate as u64 {
            0..=200 => 0.05,
            201..=800 => 0.5,
            _ => 2.0,
        });
        assert_eq!(rates, vec![100.0, 200.0, 400.0, 800.0, 1_600.0]);
        assert_eq!(plan.best_rate(), Some(200.0));
    }

    #[test]
    fn a_step_where_the_generator_fell_behind_does_not_count() {
        let mut plan = RampPlan::new(1_000.0, 1.5, 1e9, 50);
        plan.record(step(1_000.0, 0.0));
        plan.record(StepOutcome {
            rate: 1_500.0,
            offered_rate: 1_499.0,
            loss_percent: 0.0,
            generator_fell_behind: true,
        });
        assert_eq!(
            plan.next_rate(),
            Some(2_250.0),
            "a hiccup does not end the ramp"
        );
        assert_eq!(plan.best_rate(), Some(1_000.0));
    }

    #[test]
    fn a_generator_that_cannot_offer_the_rate_ends_the_ramp() {
        let mut plan = RampPlan::new(1_000.0, 1.5, 1e9, 50);
        plan.record(step(1_000.0, 0.0));
        plan.record(StepOutcome {
            rate: 1_500.0,
            offered_rate: 1_200.0,
            loss_percent: 0.0,
            generator_fell_behind: true,
        });
        assert_eq!(plan.next_rate(), None);
        assert_eq!(plan.best_rate(), Some(1_000.0));
        assert_eq!(plan.stop_reason(), Some(RampStop::GeneratorFellBehind));
    }

    #[test]
    fn the_last_step_runs_at_the_maximum_rate() {
        let plan = RampPlan::new(10_000.0, 1.5, 30_000.0, 50);
        let (rates, plan) = ramp(plan, |_| 0.0);
        assert_eq!(rates, vec![10_000.0, 15_000.0, 22_500.0, 30_000.0]);
        assert_eq!(plan.best_rate(), Some(30_000.0));
        assert_eq!(plan.stop_reason(), Some(RampStop::MaxRateReached));
    }

    #[test]
    fn the_step_count_is_bounded() {
        let (rates, plan) = ramp(RampPlan::new(1.0, 1.5, 1e12, 3), |_| 0.0);
        assert_eq!(rates.len(), 3);
        assert_eq!(plan.stop_reason(), Some(RampStop::MaxStepsReached));
        let none = RampPlan::new(1.0, 1.5, 1e12, 0);
        assert_eq!(none.next_rate(), None);
    }

    #[test]
    fn a_first_step_with_heavy_loss_serves_nothing() {
        let (rates, plan) = ramp(RampPlan::new(10_000.0, 1.5, 1e9, 50), |_| 50.0);
        assert_eq!(rates, vec![10_000.0]);
        assert_eq!(plan.best_rate(), None);
    }
}
