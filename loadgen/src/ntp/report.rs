//! The results of a run or a ramp: computed from tallies, printed as a table or serialised as JSON.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::kernel_t1::T1Source;
use super::tally::Tally;
use super::validate::kiss_code_text;
use crate::histogram_text::HistogramText;
use crate::verdict::Measured;

/// A run whose offered rate is below this fraction of its target, or which sent more than
/// `LATE_FRACTION_LIMIT` of its requests over a millisecond late, says the generator fell behind.
/// A single preemption of the generator makes a few requests late and is caught up at once; only
/// a generator that cannot keep up (or is starved of its core) passes these limits.
const ACHIEVED_FRACTION_LIMIT: f64 = 0.99;
const LATE_FRACTION_LIMIT: f64 = 0.01;

/// Percentiles of a time distribution, in microseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub max: f64,
}

impl Percentiles {
    /// The percentiles of a histogram of nanoseconds; `None` when it holds no sample.
    pub fn of(histogram: &Histogram<u64>) -> Option<Percentiles> {
        if histogram.is_empty() {
            return None;
        }
        let micros = |ns: u64| ns as f64 / 1_000.0;
        Some(Percentiles {
            p50: micros(histogram.value_at_quantile(0.50)),
            p90: micros(histogram.value_at_quantile(0.90)),
            p99: micros(histogram.value_at_quantile(0.99)),
            p99_9: micros(histogram.value_at_quantile(0.999)),
            max: micros(histogram.max()),
        })
    }
}

/// How a run was set up, for the report.
#[derive(Clone, Debug)]
pub struct RunSetup {
    pub server: String,
    pub clients: usize,
    pub threads: usize,
    pub target_rate: f64,
    pub duration: Duration,
    pub t1_source: T1Source,
}

/// Receive-queue overflows counted by the kernel during the run (from /proc/net/udp);
/// `None` when the sockets could not be found there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketDrops {
    pub client: Option<u64>,
    pub server: Option<u64>,
}

/// The samples behind a run's percentiles, in nanoseconds, serialised so that the documents of
/// runs made at the same time (on several machines) merge into exact percentiles.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunHistograms {
    /// T4 - T1 of timed requests (`latency_us`).
    pub latency_histogram_ns: HistogramText,
    /// T3 - T2 of valid replies (`response_us`).
    pub response_histogram_ns: HistogramText,
    /// |offset| of timed requests (`offset_abs_p99_us`).
    pub offset_abs_histogram_ns: HistogramText,
}

impl RunHistograms {
    pub fn of(tally: &Tally) -> RunHistograms {
        RunHistograms {
            latency_histogram_ns: HistogramText(tally.latency_ns.clone()),
            response_histogram_ns: HistogramText(tally.response_ns.clone()),
            offset_abs_histogram_ns: HistogramText(tally.offset_abs_ns.clone()),
        }
    }
}

/// One fixed-rate run: the object `ringload ntp --json` prints. Rates are per second, times in
/// microseconds; a field that needs samples is `null` when there were none.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    /// Destination `ADDR:PORT`.
    pub server: String,
    /// Distinct client sockets (source addresses on loopback).
    pub clients: usize,
    /// Generator threads.
    pub threads: usize,
    /// Planned duration of sending, seconds.
    pub duration_s: f64,
    /// Requested rate.
    pub target_rate: f64,
    /// Rate actually offered: requests sent over the time it took to send them
    /// (never less than the planned duration).
    pub offered_rate: f64,
    /// Requests the kernel accepted.
    pub sent: u64,
    /// Requests the kernel refused; not part of `sent`.
    pub send_failed: u64,
    /// Requests sent more than 1 ms after their due time.
    pub sent_late: u64,
    /// True when `offered_rate` is under 99 % of `target_rate` or over 1 % of requests were
    /// late: then the generator, not the server, limited the load.
    pub generator_fell_behind: bool,
    /// Valid replies (see `validate_reply`).
    pub answered: u64,
    /// `answered` over the same time as `offered_rate`.
    pub answered_rate: f64,
    /// Requests without any reply after the grace period.
    pub lost: u64,
    /// `lost` as a percentage of `sent`.
    pub loss_percent: f64,
    /// Kiss-o'-death replies, all codes.
    pub kod_total: u64,
    /// Kiss-o'-death replies by code (`RATE`, `DENY`, ...).
    pub kod: BTreeMap<String, u64>,
    /// Invalid replies, all reasons.
    pub invalid_total: u64,
    /// Invalid replies by reason (`wrong_mode`, `origin_mismatch`, ...).
    pub invalid: BTreeMap<String, u64>,
    /// Replies matching no request in flight: duplicates, or arriving after the grace period
    /// of an earlier ramp step.
    pub unmatched: u64,
    /// Replies that came without a kernel RX timestamp (T4 read from the clock instead).
    pub missing_rx_timestamps: u64,
    /// The T1 of `latency_us` and the offsets: `userspace` (the clock read before sendmmsg)
    /// or `kernel` (the request's kernel TX timestamp, `--kernel-t1`).
    pub t1_source: T1Source,
    /// With `t1_source` `kernel`: valid replies whose request never got its kernel TX
    /// timestamp, left out of latency and offset; 0 otherwise.
    pub t1_kernel_missing: u64,
    /// Valid replies to timed requests (userspace T1: the first of each send batch, whose T1 is
    /// exact; kernel T1: those whose TX timestamp came): the samples behind `latency_us` and
    /// the offsets.
    pub timed_samples: u64,
    /// T4 - T1 of timed requests.
    pub latency_us: Option<Percentiles>,
    /// T3 - T2 of all valid replies: how long the server held a request.
    pub response_us: Option<Percentiles>,
    /// Mean of ((T2 - T1) + (T3 - T4)) / 2 over timed requests. Client and server read the same
    /// clock, so the truth is 0.
    pub offset_mean_us: Option<f64>,
    /// 99th percentile of |offset| over timed requests.
    pub offset_abs_p99_us: Option<f64>,
    /// Replies the kernel dropped because a client socket's receive queue was full.
    pub client_socket_drops: Option<u64>,
    /// Requests the kernel dropped because the server socket's receive queue was full.
    pub server_socket_drops: Option<u64>,
    #[serde(flatten)]
    pub histograms: RunHistograms,
}

fn per_second(count: u64, span: Duration) -> f64 {
    if span.is_zero() {
        0.0
    } else {
        count as f64 / span.as_secs_f64()
    }
}

impl RunReport {
    pub fn new(setup: &RunSetup, tally: &Tally, drops: SocketDrops) -> RunReport {
        // The last request is due one interval before the planned end, so a punctual run's
        // span is exactly the planned duration.
        let interval = Duration::from_secs_f64(1.0 / setup.target_rate);
        let span = setup.duration.max(tally.last_send + interval);
        let offered_rate = per_second(tally.sent, span);
        let lost = tally.lost();
        let timed_samples = tally.offset_abs_ns.len();
        let generator_fell_behind = offered_rate < setup.target_rate * ACHIEVED_FRACTION_LIMIT
            || tally.sent_late as f64 > tally.sent as f64 * LATE_FRACTION_LIMIT;
        RunReport {
            server: setup.server.clone(),
            clients: setup.clients,
            threads: setup.threads,
            duration_s: setup.duration.as_secs_f64(),
            target_rate: setup.target_rate,
            offered_rate,
            sent: tally.sent,
            send_failed: tally.send_failed,
            sent_late: tally.sent_late,
            generator_fell_behind,
            answered: tally.answered,
            answered_rate: per_second(tally.answered, span),
            lost,
            loss_percent: if tally.sent == 0 {
                0.0
            } else {
                lost as f64 * 100.0 / tally.sent as f64
            },
            kod_total: tally.kiss_total(),
            kod: tally
                .kiss_codes
                .iter()
                .map(|(code, count)| (kiss_code_text(*code), *count))
                .collect(),
            invalid_total: tally.invalid_total(),
            invalid: tally
                .invalid
                .iter()
                .map(|(reason, count)| (reason.name().to_string(), *count))
                .collect(),
            unmatched: tally.unmatched,
            missing_rx_timestamps: tally.missing_rx_timestamps,
            t1_source: setup.t1_source,
            t1_kernel_missing: tally.t1_kernel_missing,
            timed_samples,
            latency_us: Percentiles::of(&tally.latency_ns),
            response_us: Percentiles::of(&tally.response_ns),
            offset_mean_us: (timed_samples > 0)
                .then(|| tally.offset_sum_ns as f64 / timed_samples as f64 / 1_000.0),
            offset_abs_p99_us: (timed_samples > 0)
                .then(|| tally.offset_abs_ns.value_at_quantile(0.99) as f64 / 1_000.0),
            client_socket_drops: drops.client,
            server_socket_drops: drops.server,
            histograms: RunHistograms::of(tally),
        }
    }
}

impl RunReport {
    /// The figures thresholds are checked against. Errors are the replies that were not
    /// answers (invalid, KoD) and the requests the kernel refused to send.
    pub fn measured(&self) -> Measured {
        Measured {
            succeeded: self.answered,
            loss_percent: self.loss_percent,
            latency_p99_us: self
                .latency_us
                .iter()
                .map(|p| ("latency".to_string(), p.p99))
                .collect(),
            server_p99_us: self.response_us.as_ref().map(|p| p.p99),
            rate: Some(self.answered_rate),
            errors: self.invalid_total + self.kod_total + self.send_failed,
            generator_fell_behind: self.generator_fell_behind,
            rate_is_lower_bound: false,
        }
    }
}

fn optional_count(value: Option<u64>) -> String {
    value.map_or_else(|| "unknown".to_string(), |v| v.to_string())
}

/// ` (RATE 3, DENY 1)`, or nothing when there are no counts.
fn counts_by_name(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return String::new();
    }
    let listed: Vec<String> = counts
        .iter()
        .map(|(name, count)| format!("{name} {count}"))
        .collect();
    format!(" ({})", listed.join(", "))
}

fn percentile_row(
    f: &mut fmt::Formatter<'_>,
    label: &str,
    values: &Option<Percentiles>,
) -> fmt::Result {
    match values {
        Some(p) => writeln!(
            f,
            "  {label:<16}{:>10.1}{:>10.1}{:>10.1}{:>10.1}{:>10.1}",
            p.p50, p.p90, p.p99, p.p99_9, p.max
        ),
        None => writeln!(f, "  {label:<16}{:>10}", "no samples"),
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let threads = if self.threads == 1 {
            "thread"
        } else {
            "threads"
        };
        writeln!(
            f,
            "ringload ntp {}: {} clients, {} {threads}, {:.1} s",
            self.server, self.clients, self.threads, self.duration_s
        )?;
        writeln!(
            f,
            "  offered     {:.0}/s target, {:.0}/s achieved; {} sent, {} refused, {} sent > 1 ms late",
            self.target_rate, self.offered_rate, self.sent, self.send_failed, self.sent_late
        )?;
        if self.generator_fell_behind {
            writeln!(f, "  WARNING     the generator fell behind its schedule: the load was lower than asked")?;
        }
        writeln!(
            f,
            "  answered    {:.0}/s ({} replies)",
            self.answered_rate, self.answered
        )?;
        writeln!(
            f,
            "  lost        {} ({:.3} %); queue drops: client sockets {}, server socket {}",
            self.lost,
            self.loss_percent,
            optional_count(self.client_socket_drops),
            optional_count(self.server_socket_drops)
        )?;
        writeln!(
            f,
            "  KoD         {}{}",
            self.kod_total,
            counts_by_name(&self.kod)
        )?;
        writeln!(
            f,
            "  invalid     {}{}",
            self.invalid_total,
            counts_by_name(&self.invalid)
        )?;
        if self.unmatched > 0 {
            writeln!(
                f,
                "  unmatched   {} (duplicates or very late replies)",
                self.unmatched
            )?;
        }
        if self.t1_kernel_missing > 0 {
            writeln!(
                f,
                "  no kernel TX timestamp on {} answered requests (left out of latency and offset)",
                self.t1_kernel_missing
            )?;
        }
        if self.missing_rx_timestamps > 0 {
            writeln!(
                f,
                "  no kernel RX timestamp on {} replies",
                self.missing_rx_timestamps
            )?;
        }
        writeln!(
            f,
            "\n  {:<16}{:>10}{:>10}{:>10}{:>10}{:>10}   T1: {}",
            "(us)",
            "p50",
            "p90",
            "p99",
            "p99.9",
            "max",
            self.t1_source.name()
        )?;
        percentile_row(f, "latency T4-T1", &self.latency_us)?;
        percentile_row(f, "response T3-T2", &self.response_us)?;
        writeln!(
            f,
            "  (T3-T2: how long the server held each request; clients subtract it from the \
             round trip, so it costs them no accuracy)"
        )?;
        match (self.offset_mean_us, self.offset_abs_p99_us) {
            (Some(mean), Some(p99)) => writeln!(
                f,
                "  offset          mean {mean:.2} us, p99 |offset| {p99:.2} us ({} timed requests, {} T1)",
                self.timed_samples,
                self.t1_source.name()
            ),
            _ => writeln!(f, "  offset          no samples"),
        }
    }
}

/// Why a ramp stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RampStop {
    /// A step lost more than 1 % of its requests.
    LossAboveLimit,
    /// The generator offered under 90 % of a step's rate: the server's limit lies beyond what
    /// this generator can offer, and the ramp's result is a lower bound.
    GeneratorFellBehind,
    /// The next step would have exceeded `--max-rate`.
    MaxRateReached,
    /// The step count limit was reached.
    MaxStepsReached,
}

impl fmt::Display for RampStop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RampStop::LossAboveLimit => "loss above 1 %",
            RampStop::GeneratorFellBehind => {
                "the generator fell behind (the result is a lower bound)"
            }
            RampStop::MaxRateReached => "maximum rate reached",
            RampStop::MaxStepsReached => "step limit reached",
        })
    }
}

/// A ramp: what `ringload ntp --ramp --json` prints.
#[derive(Clone, Debug, Serialize)]
pub struct RampReport {
    /// Every step, in order, each a full run report.
    pub steps: Vec<RunReport>,
    /// Highest target rate of a step that lost at most 0.1 % while the generator kept up;
    /// `null` when no step did.
    pub max_rate: Option<f64>,
    pub stop_reason: RampStop,
}

/// One line of the ramp table (also printed as progress while the ramp runs).
pub fn ramp_step_line(step: &RunReport) -> String {
    format!(
        "{:>10.0}{:>10.0}{:>10.0}{:>9.3}{:>12}{:>9}",
        step.target_rate,
        step.offered_rate,
        step.answered_rate,
        step.loss_percent,
        step.latency_us
            .as_ref()
            .map_or_else(|| "-".to_string(), |p| format!("{:.1}", p.p99)),
        if step.generator_fell_behind {
            "behind"
        } else {
            "ok"
        }
    )
}

pub const RAMP_TABLE_HEADER: &str =
    "    target   offered  answered   loss %  p99 lat us  generator";

impl RampReport {
    /// A ramp's one figure is its highest passing rate (0 when no step passed); it is only a
    /// lower bound when the generator, not the server, ended the ramp.
    pub fn measured(&self) -> Measured {
        Measured {
            succeeded: self.steps.iter().map(|step| step.answered).sum(),
            loss_percent: 0.0,
            latency_p99_us: Vec::new(),
            server_p99_us: None,
            rate: Some(self.max_rate.unwrap_or(0.0)),
            errors: 0,
            generator_fell_behind: false,
            rate_is_lower_bound: self.stop_reason == RampStop::GeneratorFellBehind,
        }
    }

    /// The ramp's result in one line, printed after its step lines.
    pub fn summary(&self) -> String {
        let result = match self.max_rate {
            Some(rate) => format!("{rate:.0}/s"),
            None => "none (no step lost at most 0.1 % with the generator on schedule)".to_string(),
        };
        format!(
            "max rate with loss <= 0.1 %: {result} (stopped: {})",
            self.stop_reason
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntp::validate::{InvalidReason, Timings, Verdict};

    fn setup() -> RunSetup {
        RunSetup {
            server: "127.0.0.1:123".into(),
            clients: 4,
            threads: 1,
            target_rate: 1_000.0,
            duration: Duration::from_secs(2),
            t1_source: T1Source::Userspace,
        }
    }

    fn tally_with(sent: u64, answered: u64, last_send: Duration) -> Tally {
        let mut tally = Tally::default();
        tally.record_sent(sent as usize, 0, 0, last_send);
        for i in 0..answered {
            tally.record_reply(
                Verdict::Valid(Timings {
                    latency_ns: 20_000 + i as i64,
                    response_ns: 1_000,
                    offset_ns: if i % 2 == 0 { 300 } else { -100 },
                }),
                true,
            );
        }
        tally
    }

    #[test]
    fn punctual_run_offers_its_target() {
        let tally = tally_with(2_000, 1_990, Duration::from_millis(1_999));
        let report = RunReport::new(&setup(), &tally, SocketDrops::default());
        assert!((report.offered_rate - 1_000.0).abs() < 1e-6);
        assert!((report.answered_rate - 995.0).abs() < 1e-6);
        assert_eq!(report.lost, 10);
        assert!((report.loss_percent - 0.5).abs() < 1e-9);
        assert!(!report.generator_fell_behind);
        assert_eq!(report.offset_mean_us, Some(0.1));
        assert_eq!(report.timed_samples, 1_990);
        // A newcomer reads the server's hold time with what it means beside it.
        let text = report.to_string();
        let explained = text
            .lines()
            .skip_while(|line| !line.contains("response T3-T2"))
            .nth(1)
            .unwrap_or_default();
        assert!(explained.contains("clients subtract it"), "{text}");
        let latency = report.latency_us.unwrap();
        assert!(latency.p50 > 20.0 && latency.p50 < 21.1, "{latency:?}");
    }

    #[test]
    fn the_measured_figures_are_the_reports() {
        let mut tally = tally_with(2_000, 1_990, Duration::from_millis(1_999));
        tally.record_reply(Verdict::KissOfDeath(u32::from_be_bytes(*b"RATE")), false);
        tally.record_reply(Verdict::Invalid(InvalidReason::WrongMode), false);
        let report = RunReport::new(&setup(), &tally, SocketDrops::default());
        let measured = report.measured();
        assert_eq!(measured.succeeded, 1_990);
        assert_eq!(measured.errors, 2);
        assert_eq!(measured.rate, Some(report.answered_rate));
        assert_eq!(measured.server_p99_us, Some(1.0));
        assert_eq!(measured.latency_p99_us[0].0, "latency");
        assert!(!measured.generator_fell_behind);
    }

    #[test]
    fn slow_or_late_runs_say_the_generator_fell_behind() {
        let slow = tally_with(2_000, 0, Duration::from_millis(2_500));
        let report = RunReport::new(&setup(), &slow, SocketDrops::default());
        assert!(report.generator_fell_behind);
        assert!(report.offered_rate < 800.0);
        assert!(report.latency_us.is_none());
        assert_eq!(report.offset_mean_us, None);

        let mut late = tally_with(2_000, 0, Duration::from_millis(1_999));
        late.sent_late = 21;
        assert!(RunReport::new(&setup(), &late, SocketDrops::default()).generator_fell_behind);
    }

    #[test]
    fn json_names_kiss_codes_and_invalid_reasons() {
        let mut tally = tally_with(10, 0, Duration::from_millis(1_999));
        tally.record_reply(Verdict::KissOfDeath(u32::from_be_bytes(*b"RATE")), false);
        tally.record_reply(Verdict::Invalid(InvalidReason::WrongMode), false);
        let report = RunReport::new(
            &setup(),
            &tally,
            SocketDrops {
                client: Some(0),
                server: None,
            },
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["kod"]["RATE"], 1);
        assert_eq!(json["invalid"]["wrong_mode"], 1);
        assert_eq!(json["invalid_total"], 1);
        assert_eq!(json["client_socket_drops"], 0);
        assert!(json["server_socket_drops"].is_null());
        assert!(json["latency_us"].is_null());
        assert_eq!(json["t1_source"], "userspace");
        assert_eq!(json["t1_kernel_missing"], 0);
        let table = report.to_string();
        assert!(table.contains("KoD         1 (RATE 1)\n"), "{table}");
        assert!(table.contains("invalid     1 (wrong_mode 1)\n"), "{table}");
    }

    #[test]
    fn every_timing_figure_names_its_t1() {
        let setup = RunSetup {
            t1_source: T1Source::Kernel,
            ..setup()
        };
        let mut tally = tally_with(2_000, 1_990, Duration::from_millis(1_999));
        tally.t1_kernel_missing = 3;
        let report = RunReport::new(&setup, &tally, SocketDrops::default());
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["t1_source"], "kernel");
        assert_eq!(json["t1_kernel_missing"], 3);
        let table = report.to_string();
        assert!(table.contains("max   T1: kernel\n"), "{table}");
        assert!(
            table.contains("(1990 timed requests, kernel T1)"),
            "{table}"
        );
        assert!(
            table.contains("no kernel TX timestamp on 3 answered requests"),
            "{table}"
        );
    }

    #[test]
    fn ramp_report_states_its_result_and_why_it_stopped() {
        let step = RunReport::new(
            &setup(),
            &tally_with(2_000, 2_000, Duration::from_millis(1_999)),
            SocketDrops::default(),
        );
        let ramp = RampReport {
            steps: vec![step],
            max_rate: Some(1_000.0),
            stop_reason: RampStop::LossAboveLimit,
        };
        assert_eq!(
            ramp.summary(),
            "max rate with loss <= 0.1 %: 1000/s (stopped: loss above 1 %)"
        );
        let json = serde_json::to_value(&ramp).unwrap();
        assert_eq!(json["stop_reason"], "loss-above-limit");
        assert_eq!(json["max_rate"], 1_000.0);
    }
}
