//! Tallies of load by step: latency histograms per step (FTP commands, NTS-KE handshakes), failures grouped by their text, and their percentiles.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency the histograms record, microseconds (longer ones are clamped to it).
const MAX_LATENCY_US: u64 = 600_000_000;

/// Percentiles of one step's latency, microseconds (the field names of `ringload ntp`'s).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub max: f64,
}

/// Latencies per step ("connect-to-220", "USER", "RETR", ...), and errors by their text.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    latencies: BTreeMap<&'static str, Histogram<u64>>,
    pub errors: BTreeMap<String, u64>,
}

impl Tally {
    pub fn record(&mut self, step: &'static str, latency: Duration) {
        let histogram = self.latencies.entry(step).or_insert_with(|| {
            Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
        });
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        histogram.saturating_record(micros.clamp(1, MAX_LATENCY_US));
    }

    pub fn error(&mut self, key: String) {
        *self.errors.entry(key).or_insert(0) += 1;
    }

    pub fn errors_total(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn merge(&mut self, other: Tally) {
        for (step, histogram) in other.latencies {
            match self.latencies.get_mut(step) {
                Some(mine) => mine.add(&histogram).expect("same histogram bounds"),
                None => {
                    self.latencies.insert(step, histogram);
                }
            }
        }
        for (key, count) in other.errors {
            *self.errors.entry(key).or_insert(0) += count;
        }
    }

    pub fn percentiles(&self) -> BTreeMap<String, Percentiles> {
        self.latencies
            .iter()
            .filter(|(_, h)| !h.is_empty())
            .map(|(step, h)| {
                (
                    step.to_string(),
                    Percentiles {
                        count: h.len(),
                        p50: h.value_at_quantile(0.50) as f64,
                        p90: h.value_at_quantile(0.90) as f64,
                        p99: h.value_at_quantile(0.99) as f64,
                        p99_9: h.value_at_quantile(0.999) as f64,
                        max: h.max() as f64,
                    },
                )
            })
            .collect()
    }
}

/// Each step's 99th percentile, microseconds, for the latency threshold.
pub fn step_p99s(percentiles: &BTreeMap<String, Percentiles>) -> Vec<(String, f64)> {
    percentiles
        .iter()
        .map(|(step, p)| (step.clone(), p.p99))
        .collect()
}

/// `failed` as a percentage of all that were started; 0 when none was.
pub fn failed_percent(completed: u64, failed: u64) -> f64 {
    let started = completed + failed;
    if started == 0 {
        0.0
    } else {
        failed as f64 * 100.0 / started as f64
    }
}

/// The latency table of a human report.
pub fn latency_table(percentiles: &BTreeMap<String, Percentiles>) -> String {
    let mut table = format!(
        "{:<16} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
        "latency (us)", "count", "p50", "p90", "p99", "p99.9", "max"
    );
    for (step, p) in percentiles {
        table.push_str(&format!(
            "{:<16} {:>9} {:>10.0} {:>10.0} {:>10.0} {:>10.0} {:>10.0}\n",
            step, p.count, p.p50, p.p90, p.p99, p.p99_9, p.max
        ));
    }
    table
}

/// The error lines of a human report.
pub fn error_lines(errors: &BTreeMap<String, u64>) -> String {
    if errors.is_empty() {
        return "errors: none\n".to_string();
    }
    let mut lines = format!("errors: {}\n", errors.values().sum::<u64>());
    for (key, count) in errors {
        lines.push_str(&format!("  {count:>9}  {key}\n"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_tallies_add_up() {
        let mut first = Tally::default();
        first.record("RETR", Duration::from_micros(100));
        first.error("530 Login incorrect. (after PASS)".into());
        let mut second = Tally::default();
        second.record("RETR", Duration::from_micros(300));
        second.record("QUIT", Duration::from_secs(10_000));
        second.error("530 Login incorrect. (after PASS)".into());
        first.merge(second);
        let percentiles = first.percentiles();
        assert_eq!(percentiles["RETR"].count, 2);
        assert!((299.0..=301.0).contains(&percentiles["RETR"].max));
        assert!(percentiles["QUIT"].max <= MAX_LATENCY_US as f64 * 1.001);
        assert_eq!(first.errors_total(), 2);
        assert!(latency_table(&percentiles).contains("RETR"));
        assert!(error_lines(&first.errors).contains("2  530 Login incorrect."));
        assert_eq!(
            step_p99s(&percentiles),
            vec![
                ("QUIT".to_string(), percentiles["QUIT"].p99),
                ("RETR".to_string(), percentiles["RETR"].p99)
            ]
        );
    }

    #[test]
    fn failures_are_a_share_of_all_started() {
        assert_eq!(failed_percent(0, 0), 0.0);
        assert_eq!(failed_percent(3, 1), 25.0);
        assert_eq!(failed_percent(0, 5), 100.0);
    }
}
