//! A source's clock filter: a Kalman filter over (offset, frequency) of our clock against it.
//!
//! Each sample's noise is modelled from its delay: a sample whose round trip took `excess`
//! longer than the fastest recent one can be wrong by at most `excess / 2` (the extra time
//! was spent on one leg or the other, unknown which), so it is weighted by the inverse of that
//! uniform distribution's variance. Fast exchanges dominate; queued ones barely count.

use std::collections::VecDeque;

use super::local_time::LocalTime;

/// How many recent delays define the fastest path.
const DELAY_WINDOW: usize = 16;
/// How many samples are kept for statistics (chronyc sourcestats' NP).
const HISTORY: usize = 64;
/// Noise no sample is better than: timestamping resolution and interrupt latency.
const NOISE_FLOOR: f64 = 1e-7;
/// A sample this many standard deviations from the prediction is an outlier...
const OUTLIER_SIGMAS: f64 = 6.0;
/// ...unless this many arrive in a row: then the path or the server changed, and the filter
/// starts over.
const OUTLIERS_BEFORE_RESET: u32 = 3;
/// The largest frequency error a clock can have, as a prior before the first samples (500 ppm,
/// the kernel's limit).
pub const MAX_FREQUENCY_ERROR: f64 = 500e-6;

/// A rate of gain per second of our clock, as a rate per second of true time.
pub fn per_true_second(per_local_second: f64) -> f64 {
    per_local_second / (1.0 - per_local_second)
}

/// A rate of gain per second of true time, as a rate per second of our clock.
pub fn per_local_second(per_true_second: f64) -> f64 {
    per_true_second / (1.0 + per_true_second)
}

/// Offset and frequency of our clock against one source, with their uncertainties.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Local time minus source time at `time`, in seconds (positive: we are ahead).
    pub offset: f64,
    /// How fast `offset` grows, in seconds per second.
    pub frequency: f64,
    pub offset_variance: f64,
    pub frequency_variance: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct HistoricSample {
    time: LocalTime,
    /// The sample's offset in today's clock frame: corrected for every adjustment since.
    offset: f64,
}

/// What the filter did with a sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Outlier,
    /// The outliers persisted: the filter restarted from this sample.
    Reset,
}

#[derive(Clone, Debug)]
pub struct SourceFilter {
    /// Random-walk frequency noise of our oscillator, in (s/s)^2 per second.
    wander: f64,
    initial_frequency_variance: f64,
    time: LocalTime,
    offset: f64,
    frequency: f64,
    p: [[f64; 2]; 2],
    started: bool,
    delays: VecDeque<f64>,
    history: VecDeque<HistoricSample>,
    outliers_in_row: u32,
    samples: u64,
    /// Mean square of normalised innovations, for the poll adaptation.
    pub last_normalised_innovation: f64,
    /// Exponentially weighted mean square of raw innovations: the source's jitter.
    jitter_square: f64,
    /// Exponentially weighted mean of the samples' inverse noise variances: how precise a
    /// sample from this source typically is once weighted.
    precision_mean: f64,
}

impl SourceFilter {
    pub fn new(wander: f64, initial_frequency_sigma: f64) -> Self {
        SourceFilter {
            wander,
            initial_frequency_variance: initial_frequency_sigma.powi(2),
            time: LocalTime::EPOCH,
            offset: 0.0,
            frequency: 0.0,
            p: [[0.0; 2]; 2],
            started: false,
            delays: VecDeque::with_capacity(DELAY_WINDOW),
            history: VecDeque::with_capacity(HISTORY),
            outliers_in_row: 0,
            samples: 0,
            last_normalised_innovation: 0.0,
            jitter_square: 0.0,
            precision_mean: 0.0,
        }
    }

    pub fn sample_count(&self) -> u64 {
        self.samples
    }

    /// The fastest round trip among recent samples.
    pub fn min_delay(&self) -> f64 {
        self.delays.iter().copied().fold(f64::INFINITY, f64::min)
    }

    /// The variance of a sample's offset error, from how much slower than the fastest path its
    /// exchange was. The fastest recent exchange may itself have queued a little: the fewer
    /// delays seen, the more the true minimum may lie below it, so that uncertainty is added.
    fn noise_variance(&self, delay: f64) -> f64 {
        let n = self.delays.len() as f64;
        let min = self.min_delay();
        let spread = self.delays.iter().sum::<f64>() / n - min;
        let unknown_minimum = (spread + min / 2.0) / n;
        let excess = (delay - min).max(0.0) + unknown_minimum;
        excess * excess / 12.0 + NOISE_FLOOR * NOISE_FLOOR
    }

    /// The estimate extrapolated to `time`.
    pub fn estimate_at(&self, time: LocalTime) -> Estimate {
        let (offset, frequency, p) = self.predicted(time);
        Estimate {
            offset,
            frequency,
            offset_variance: p[0][0],
            frequency_variance: p[1][1],
        }
    }

    /// The standard deviation of a typical sample's offset error, weighting as the filter does.
    pub fn sample_noise(&self) -> f64 {
        if self.precision_mean > 0.0 {
            self.precision_mean.recip().sqrt()
        } else {
            f64::INFINITY
        }
    }

    /// Root-mean-square difference between samples and predictions.
    pub fn jitter(&self) -> f64 {
        self.jitter_square.sqrt()
    }

    fn predicted(&self, time: LocalTime) -> (f64, f64, [[f64; 2]; 2]) {
        let dt = (time - self.time).max(0.0);
        let p = self.p;
        let q = self.wander;
        // F P F^T + Q for the constant-frequency model with random-walk frequency noise.
        let p00 = p[0][0] + dt * (p[0][1] + p[1][0]) + dt * dt * p[1][1] + q * dt.powi(3) / 3.0;
        let p01 = p[0][1] + dt * p[1][1] + q * dt * dt / 2.0;
        let p11 = p[1][1] + q * dt;
        (
            self.offset + self.frequency * dt,
            self.frequency,
            [[p00, p01], [p01, p11]],
        )
    }

    fn restart(&mut self, time: LocalTime, measured: f64, variance: f64) {
        self.time = time;
        self.offset = measured;
        self.frequency = 0.0;
        self.p = [[variance, 0.0], [0.0, self.initial_frequency_variance]];
        self.started = true;
        self.history.clear();
        self.outliers_in_row = 0;
    }

    /// Feeds one sample: `offset` is server minus local time as measured, `delay` its round
    /// trip, both in seconds, taken at local `time`.
    pub fn add_sample(&mut self, time: LocalTime, offset: f64, delay: f64) -> Verdict {
        if self.delays.len() == DELAY_WINDOW {
            self.delays.pop_front();
        }
        self.delays.push_back(delay);
        let variance = self.noise_variance(delay);
        let measured = -offset;
        self.samples += 1;
        self.precision_mean = if self.samples == 1 {
            1.0 / variance
        } else {
            0.875 * self.precision_mean + 0.125 / variance
        };

        if !self.started {
            self.restart(time, measured, variance);
            self.remember(time, measured);
            return Verdict::Accepted;
        }
        let (x, f, p) = self.predicted(time);
        let innovation = measured - x;
        let innovation_variance = p[0][0] + variance;
        let normalised = innovation * innovation / innovation_variance;
        if normalised > OUTLIER_SIGMAS * OUTLIER_SIGMAS {
            self.outliers_in_row += 1;
            if self.outliers_in_row >= OUTLIERS_BEFORE_RESET {
                self.restart(time, measured, variance);
                self.remember(time, measured);
                return Verdict::Reset;
            }
            return Verdict::Outlier;
        }
        self.outliers_in_row = 0;
        let gain = [p[0][0] / innovation_variance, p[1][0] / innovation_variance];
        self.time = time;
        self.offset = x + gain[0] * innovation;
        self.frequency = f + gain[1] * innovation;
        self.p = [
            [(1.0 - gain[0]) * p[0][0], (1.0 - gain[0]) * p[0][1]],
            [p[1][0] - gain[1] * p[0][0], p[1][1] - gain[1] * p[0][1]],
        ];
        self.last_normalised_innovation = normalised;
        self.jitter_square = if self.samples <= 2 {
            innovation * innovation
        } else {
            0.875 * self.jitter_square + 0.125 * innovation * innovation
        };
        self.remember(time, measured);
        Verdict::Accepted
    }

    fn remember(&mut self, time: LocalTime, offset: f64) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(HistoricSample { time, offset });
    }

    /// Our clock was made faster by `frequency_change` (seconds per true second) at `time` and
    /// stepped forward by `step` seconds: the estimate and the kept samples move with it.
    pub fn clock_adjusted(&mut self, time: LocalTime, frequency_change: f64, step: f64) {
        if !self.started {
            return;
        }
        let (x, f, p) = self.predicted(time);
        // The filter counts time on our clock, which itself runs at the rate being changed:
        // during a fast slew (up to 8 %) the difference is far from negligible.
        let new_frequency = per_local_second(per_true_second(f) + frequency_change);
        let change = new_frequency - f;
        self.time = time;
        self.offset = x + step;
        self.frequency = new_frequency;
        self.p = p;
        for sample in &mut self.history {
            // Seen from today's clock, a past sample's offset changes by the new frequency over
            // the time since it was taken.
            sample.offset += step - change * (time - sample.time);
        }
    }

    /// chronyc sourcestats' columns for this source at `now`.
    pub fn stats(&self, now: LocalTime) -> FilterStats {
        let estimate = self.estimate_at(now);
        let residual =
            |s: &HistoricSample| s.offset - (estimate.offset + estimate.frequency * (s.time - now));
        let mut runs = 0;
        let mut last_sign = None;
        for sample in &self.history {
            let sign = residual(sample) >= 0.0;
            if last_sign != Some(sign) {
                runs += 1;
                last_sign = Some(sign);
            }
        }
        let span = match (self.history.front(), self.history.back()) {
            (Some(first), Some(last)) => last.time - first.time,
            _ => 0.0,
        };
        let n = self.history.len() as f64;
        let std_dev = if self.history.is_empty() {
            0.0
        } else {
            (self
                .history
                .iter()
                .map(|s| residual(s).powi(2))
                .sum::<f64>()
                / n)
                .sqrt()
        };
        FilterStats {
            samples: self.history.len(),
            runs,
            span,
            frequency: estimate.frequency,
            frequency_skew: estimate.frequency_variance.sqrt(),
            offset: estimate.offset,
            std_dev,
        }
    }
}

/// The statistics `chronyc sourcestats` shows, in seconds and s/s.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FilterStats {
    pub samples: usize,
    pub runs: usize,
    pub span: f64,
    pub frequency: f64,
    pub frequency_skew: f64,
    pub offset: f64,
    pub std_dev: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: f64) -> LocalTime {
        LocalTime::from_seconds_since_epoch(seconds)
    }

    #[test]
    fn a_steady_clock_is_learnt_exactly() {
        // Our clock runs 20 ppm fast and is 3 ms ahead at t = 0; every exchange is equally fast.
        let mut filter = SourceFilter::new(1e-18, MAX_FREQUENCY_ERROR);
        for n in 0..20 {
            let t = f64::from(n) * 64.0;
            let local_minus_true = 0.003 + 20e-6 * t;
            assert_eq!(
                filter.add_sample(at(t), -local_minus_true, 0.0002),
                Verdict::Accepted
            );
        }
        let estimate = filter.estimate_at(at(1280.0));
        assert!((estimate.offset - (0.003 + 20e-6 * 1280.0)).abs() < 1e-6);
        assert!((estimate.frequency - 20e-6).abs() < 1e-9);
        assert!(estimate.frequency_variance.sqrt() < 1e-7);
    }

    #[test]
    fn slow_exchanges_count_less_than_fast_ones() {
        let mut filter = SourceFilter::new(1e-18, MAX_FREQUENCY_ERROR);
        // Fast exchanges say 0; slow ones (1 ms extra, all on the way back) say +0.5 ms.
        for n in 0..40 {
            let t = f64::from(n) * 16.0;
            let (offset, delay) = if n % 2 == 0 {
                (0.0, 0.0002)
            } else {
                (0.0005, 0.0012)
            };
            filter.add_sample(at(t), offset, delay);
        }
        let estimate = filter.estimate_at(at(640.0));
        assert!(estimate.offset.abs() < 20e-6, "{}", estimate.offset);
    }

    #[test]
    fn a_lone_outlier_is_ignored_and_a_lasting_change_is_followed() {
        let mut filter = SourceFilter::new(1e-18, MAX_FREQUENCY_ERROR);
        for n in 0..10 {
            filter.add_sample(at(f64::from(n) * 64.0), 0.0, 0.0002);
        }
        assert_eq!(filter.add_sample(at(640.0), 0.05, 0.0002), Verdict::Outlier);
        assert!(filter.estimate_at(at(640.0)).offset.abs() < 1e-6);
        assert_eq!(filter.add_sample(at(704.0), 0.05, 0.0002), Verdict::Outlier);
        assert_eq!(filter.add_sample(at(768.0), 0.05, 0.0002), Verdict::Reset);
        assert!((filter.estimate_at(at(768.0)).offset + 0.05).abs() < 1e-6);
    }

    #[test]
    fn clock_adjustments_move_the_estimate_and_the_history() {
        let mut filter = SourceFilter::new(1e-18, MAX_FREQUENCY_ERROR);
        for n in 0..10 {
            let t = f64::from(n) * 64.0;
            filter.add_sample(at(t), -(0.001 + 10e-6 * t), 0.0002);
        }
        // Slow the clock by the 10 ppm it gains and step it back by what it is ahead.
        let now = at(640.0);
        let ahead = 0.001 + 10e-6 * now.seconds_since_epoch();
        filter.clock_adjusted(now, -10e-6, -ahead);
        let estimate = filter.estimate_at(now + 100.0);
        assert!(estimate.offset.abs() < 1e-6, "{}", estimate.offset);
        assert!(estimate.frequency.abs() < 1e-9);
        let stats = filter.stats(now);
        assert_eq!(stats.samples, 10);
        assert!(stats.std_dev < 1e-6, "{}", stats.std_dev);
        assert!((stats.span - 576.0).abs() < 1e-9);
    }
}
