//! One NTP run report from the reports of runs made together: counts and rates summed, percentiles read from the summed histograms.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::histogram_text::HistogramText;
use crate::ntp::report::{Percentiles, RunHistograms, RunReport};

/// Why reports could not be combined.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CombineError {
    #[error("nothing to merge")]
    Empty,
    #[error(
        "the {histogram} histograms have different ranges (written by different ringload \
         versions?): {reason}"
    )]
    Histograms {
        histogram: &'static str,
        reason: String,
    },
    #[error(
        "some runs took T1 from the kernel (--kernel-t1) and some from the clock read before \
         the send: their latencies and offsets do not add up; merge runs made alike"
    )]
    MixedT1Sources,
}

fn sum_histograms(
    parts: &[RunReport],
    histogram: &'static str,
    pick: fn(&RunHistograms) -> &HistogramText,
) -> Result<Histogram<u64>, CombineError> {
    let (first, rest) = parts.split_first().ok_or(CombineError::Empty)?;
    let mut sum = pick(&first.histograms).0.clone();
    for part in rest {
        sum.add(&pick(&part.histograms).0)
            .map_err(|error| CombineError::Histograms {
                histogram,
                reason: format!("{error:?}"),
            })?;
    }
    Ok(sum)
}

fn sum_by_name(maps: impl Iterator<Item = BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
    let mut sum = BTreeMap::new();
    for map in maps {
        for (name, count) in map {
            *sum.entry(name).or_default() += count;
        }
    }
    sum
}

/// The distinct `values` in order of first appearance, joined by ", ".
pub fn distinct_joined<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for value in values {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen.join(", ")
}

/// The report of all `parts` as one run. The runs are taken to have shared their window
/// (`--start-at`), so their rates add up; the server's socket drops, which every generator on
/// the server's machine reads from the same counter, are the largest count seen, not a sum.
pub fn combine(parts: &[RunReport]) -> Result<RunReport, CombineError> {
    let t1_source = parts.first().ok_or(CombineError::Empty)?.t1_source;
    if parts.iter().any(|p| p.t1_source != t1_source) {
        return Err(CombineError::MixedT1Sources);
    }
    let latency = sum_histograms(parts, "latency", |h| &h.latency_histogram_ns)?;
    let response = sum_histograms(parts, "response", |h| &h.response_histogram_ns)?;
    let offset_abs = sum_histograms(parts, "|offset|", |h| &h.offset_abs_histogram_ns)?;
    let sum = |field: fn(&RunReport) -> u64| parts.iter().map(field).sum::<u64>();
    let sum_rate = |field: fn(&RunReport) -> f64| parts.iter().map(field).sum::<f64>();
    let sent = sum(|p| p.sent);
    let lost = sum(|p| p.lost);
    let timed_samples = sum(|p| p.timed_samples);
    let offset_sum_us: f64 = parts
        .iter()
        .filter_map(|p| p.offset_mean_us.map(|mean| mean * p.timed_samples as f64))
        .sum();
    Ok(RunReport {
        server: distinct_joined(parts.iter().map(|p| p.server.as_str())),
        clients: parts.iter().map(|p| p.clients).sum(),
        threads: parts.iter().map(|p| p.threads).sum(),
        duration_s: parts.iter().map(|p| p.duration_s).fold(0.0, f64::max),
        target_rate: sum_rate(|p| p.target_rate),
        offered_rate: sum_rate(|p| p.offered_rate),
        sent,
        send_failed: sum(|p| p.send_failed),
        sent_late: sum(|p| p.sent_late),
        generator_fell_behind: parts.iter().any(|p| p.generator_fell_behind),
        answered: sum(|p| p.answered),
        answered_rate: sum_rate(|p| p.answered_rate),
        lost,
        loss_percent: if sent == 0 {
            0.0
        } else {
            lost as f64 * 100.0 / sent as f64
        },
        kod_total: sum(|p| p.kod_total),
        kod: sum_by_name(parts.iter().map(|p| p.kod.clone())),
        invalid_total: sum(|p| p.invalid_total),
        invalid: sum_by_name(parts.iter().map(|p| p.invalid.clone())),
        unmatched: sum(|p| p.unmatched),
        missing_rx_timestamps: sum(|p| p.missing_rx_timestamps),
        timed_samples,
        t1_source,
        t1_kernel_missing: sum(|p| p.t1_kernel_missing),
        latency_us: Percentiles::of(&latency),
        response_us: Percentiles::of(&response),
        offset_mean_us: (timed_samples > 0).then(|| offset_sum_us / timed_samples as f64),
        offset_abs_p99_us: (!offset_abs.is_empty())
            .then(|| offset_abs.value_at_quantile(0.99) as f64 / 1_000.0),
        client_socket_drops: parts.iter().map(|p| p.client_socket_drops).sum(),
        server_socket_drops: parts.iter().filter_map(|p| p.server_socket_drops).max(),
        histograms: RunHistograms {
            latency_histogram_ns: HistogramText(latency),
            response_histogram_ns: HistogramText(response),
            offset_abs_histogram_ns: HistogramText(offset_abs),
        },
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ntp::kernel_t1::T1Source;
    use crate::ntp::report::{RunSetup, SocketDrops};
    use crate::ntp::tally::Tally;
    use crate::ntp::validate::{InvalidReason, Timings, Verdict};

    fn setup(rate: f64) -> RunSetup {
        RunSetup {
            server: "127.0.0.1:123".into(),
            clients: 4,
            threads: 1,
            target_rate: rate,
            duration: Duration::from_secs(2),
            t1_source: T1Source::Userspace,
        }
    }

    /// `count` replies whose latencies spread over four decades (a fixed pseudo-random walk),
    /// so that percentiles fall in different HdrHistogram buckets.
    fn tally(count: u64, seed: u64) -> Tally {
        let mut tally = Tally::default();
        tally.record_sent(count as usize + 3, 0, 0, Duration::from_millis(1_999));
        let mut state = seed;
        for i in 0..count {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let spread = 10_000 + (state >> 33) % 90_000_000;
            tally.record_reply(
                Verdict::Valid(Timings {
                    latency_ns: spread as i64,
                    response_ns: (spread / 100) as i64,
                    offset_ns: (spread as i64 / 7) * if i % 3 == 0 { -1 } else { 1 },
                }),
                i % 2 == 0,
            );
        }
        tally.record_reply(Verdict::KissOfDeath(u32::from_be_bytes(*b"RATE")), false);
        tally.record_invalid(InvalidReason::WrongMode);
        tally
    }

    fn through_json(report: &RunReport) -> RunReport {
        serde_json::from_str(&serde_json::to_string(report).unwrap()).unwrap()
    }

    #[test]
    fn merged_percentiles_are_those_of_all_samples_together() {
        let (first, second) = (tally(5_000, 1), tally(3_001, 2));
        let mut all = tally(5_000, 1);
        all.merge(&second);
        let parts = [
            through_json(&RunReport::new(
                &setup(1_000.0),
                &first,
                SocketDrops::default(),
            )),
            through_json(&RunReport::new(
                &setup(2_000.0),
                &second,
                SocketDrops::default(),
            )),
        ];
        let merged = combine(&parts).unwrap();
        let truth = RunReport::new(&setup(3_000.0), &all, SocketDrops::default());
        assert_eq!(merged.latency_us, truth.latency_us);
        assert_eq!(merged.response_us, truth.response_us);
        assert_eq!(merged.offset_abs_p99_us, truth.offset_abs_p99_us);
        assert_eq!(merged.histograms, truth.histograms);
        let average_of_p99s = (parts[0].latency_us.as_ref().unwrap().p99
            + parts[1].latency_us.as_ref().unwrap().p99)
            / 2.0;
        assert_ne!(merged.latency_us.as_ref().unwrap().p99, average_of_p99s);
        let (merged_mean, true_mean) = (
            merged.offset_mean_us.unwrap(),
            truth.offset_mean_us.unwrap(),
        );
        assert!(
            (merged_mean - true_mean).abs() < 1e-6,
            "{merged_mean} {true_mean}"
        );
    }

    #[test]
    fn merged_counts_are_the_sums_of_the_parts() {
        let parts = [
            RunReport::new(
                &setup(1_000.0),
                &tally(100, 3),
                SocketDrops {
                    client: Some(2),
                    server: Some(5),
                },
            ),
            RunReport::new(
                &setup(2_000.0),
                &tally(50, 4),
                SocketDrops {
                    client: Some(1),
                    server: Some(7),
                },
            ),
        ];
        let merged = combine(&parts).unwrap();
        assert_eq!(merged.sent, 103 + 53);
        assert_eq!(merged.answered, 150);
        assert_eq!(merged.lost, 4);
        assert!((merged.loss_percent - 4.0 * 100.0 / 156.0).abs() < 1e-9);
        assert_eq!(merged.kod["RATE"], 2);
        assert_eq!(merged.invalid_total, 2);
        assert_eq!(merged.timed_samples, 50 + 25);
        assert_eq!(merged.clients, 8);
        assert_eq!(merged.target_rate, 3_000.0);
        assert!(
            (merged.answered_rate - parts[0].answered_rate - parts[1].answered_rate).abs() < 1e-9
        );
        assert_eq!(merged.client_socket_drops, Some(3));
        assert_eq!(merged.server_socket_drops, Some(7));
        assert_eq!(merged.server, "127.0.0.1:123");
    }

    #[test]
    fn a_run_merged_with_itself_doubles_its_counts_and_keeps_its_percentiles() {
        let run = RunReport::new(&setup(1_000.0), &tally(777, 5), SocketDrops::default());
        let merged = combine(&[run.clone(), run.clone()]).unwrap();
        assert_eq!(merged.sent, 2 * run.sent);
        assert_eq!(merged.latency_us, run.latency_us);
        assert_eq!(merged.response_us, run.response_us);
        assert_eq!(merged.client_socket_drops, None);
    }

    #[test]
    fn histograms_of_other_ranges_are_refused() {
        let run = RunReport::new(&setup(1_000.0), &tally(10, 6), SocketDrops::default());
        let mut narrow = run.clone();
        narrow.histograms.latency_histogram_ns =
            HistogramText(Histogram::new_with_bounds(1, 1_000, 3).unwrap());
        let error = combine(&[narrow, run]).unwrap_err();
        assert!(
            matches!(
                error,
                CombineError::Histograms {
                    histogram: "latency",
                    ..
                }
            ),
            "{error}"
        );
        assert_eq!(combine(&[]).unwrap_err(), CombineError::Empty);
    }

    #[test]
    fn runs_with_t1_from_different_sources_are_refused_and_alike_ones_keep_theirs() {
        let run = RunReport::new(&setup(1_000.0), &tally(10, 7), SocketDrops::default());
        let mut kernel = run.clone();
        kernel.t1_source = T1Source::Kernel;
        kernel.t1_kernel_missing = 2;
        assert_eq!(
            combine(&[run, kernel.clone()]).unwrap_err(),
            CombineError::MixedT1Sources
        );
        let merged = combine(&[kernel.clone(), kernel]).unwrap();
        assert_eq!(
            (merged.t1_source, merged.t1_kernel_missing),
            (T1Source::Kernel, 4)
        );
    }
}
