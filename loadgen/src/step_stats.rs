//! Tallies of load by step: latency histograms per step (FTP commands, NTS-KE handshakes), failures grouped by their text, and their percentiles.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency the histograms record, microseconds (longer ones are clamped to it).
const MAX_LATENCY_US: u64 = 600_000_000;

/// Percentiles of one step's latency, microseconds (the field names of `ringload ntp`'s).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub max: f64,
}

/// Latencies per step ("connect-to-220", "USER", "RETR", ...), and errors by class: a stable
/// snake_case key (`reply_530_after_pass`), with the text of the first error of the class.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    latencies: BTreeMap<&'static str, Histogram<u64>>,
    pub errors: BTreeMap<String, u64>,
    pub error_texts: BTreeMap<String, String>,
}

/// `words` as a snake_case key: lower case, words split at spaces, punctuation and
/// camel-case humps (`ConnectionRefused`), joined by single underscores.
pub fn snake_case(words: &str) -> String {
    let mut key = String::with_capacity(words.len());
    let mut previous_lower = false;
    for c in words.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && previous_lower {
                key.push('_');
            }
            key.push(c.to_ascii_lowercase());
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !key.is_empty() && !key.ends_with('_') {
                key.push('_');
            }
            previous_lower = false;
        }
    }
    key.trim_end_matches('_').to_string()
}

impl Tally {
    pub fn record(&mut self, step: &'static str, latency: Duration) {
        let histogram = self.latencies.entry(step).or_insert_with(|| {
            Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
        });
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        histogram.saturating_record(micros.clamp(1, MAX_LATENCY_US));
    }

    /// One error of `class`; `text` is kept when it is the class's first.
    pub fn error(&mut self, class: String, text: impl FnOnce() -> String) {
        *self.errors.entry(class.clone()).or_insert(0) += 1;
        self.error_texts.entry(class).or_insert_with(text);
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
        for (class, count) in other.errors {
            *self.errors.entry(class).or_insert(0) += count;
        }
        for (class, text) in other.error_texts {
            self.error_texts.entry(class).or_insert(text);
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

/// The error lines of a human report: count, class and the class's text.
pub fn error_lines(errors: &BTreeMap<String, u64>, texts: &BTreeMap<String, String>) -> String {
    if errors.is_empty() {
        return "errors: none\n".to_string();
    }
    let mut lines = format!("errors: {}\n", errors.values().sum::<u64>());
    for (class, count) in errors {
        let text = texts.get(class).map_or("", String::as_str);
        lines.push_str(&format!("  {count:>9}  {class}: {text}\n"));
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
        first.error("reply_530_after_pass".into(), || {
            "530 Login incorrect. (after PASS)".into()
        });
        let mut second = Tally::default();
        second.record("RETR", Duration::from_micros(300));
        second.record("QUIT", Duration::from_secs(10_000));
        second.error("reply_530_after_pass".into(), || "530 Other text.".into());
        first.merge(second);
        let percentiles = first.percentiles();
        assert_eq!(percentiles["RETR"].count, 2);
        assert!((299.0..=301.0).contains(&percentiles["RETR"].max));
        assert!(percentiles["QUIT"].max <= MAX_LATENCY_US as f64 * 1.001);
        assert_eq!(first.errors_total(), 2);
        assert!(latency_table(&percentiles).contains("RETR"));
        assert_eq!(
            first.error_texts["reply_530_after_pass"],
            "530 Login incorrect. (after PASS)"
        );
        assert!(error_lines(&first.errors, &first.error_texts)
            .contains("2  reply_530_after_pass: 530 Login incorrect. (after PASS)"));
        assert_eq!(
            step_p99s(&percentiles),
            vec![
                ("QUIT".to_string(), percentiles["QUIT"].p99),
                ("RETR".to_string(), percentiles["RETR"].p99)
            ]
        );
    }

    #[test]
    fn classes_are_snake_case() {
        assert_eq!(snake_case("reply 530 after PASS"), "reply_530_after_pass");
        assert_eq!(
            snake_case("ConnectionRefused connect-to-220"),
            "connection_refused_connect_to_220"
        );
        assert_eq!(snake_case("timeout (RETR data)"), "timeout_retr_data");
        assert_eq!(snake_case("AUTH TLS"), "auth_tls");
    }

    #[test]
    fn failures_are_a_share_of_all_started() {
        assert_eq!(failed_percent(0, 0), 0.0);
        assert_eq!(failed_percent(3, 1), 25.0);
        assert_eq!(failed_percent(0, 5), 100.0);
    }
}
