//! The pages of `ringload ntp --html`: a fixed-rate run, and a ramp step by step.

use super::markup::{count, measured, number, Page};
use super::svg::{bar_chart, line_chart, BarChart, Bars, Line, LineChart, Rule, ValueAxis};
use super::{HtmlPage, RunInfo};
use crate::ntp::ramp::{SERVED_LOSS_PERCENT, STOP_LOSS_PERCENT};
use crate::ntp::report::{Percentiles, RampReport, RunReport};

const PERCENTILE_NAMES: [&str; 5] = ["p50", "p90", "p99", "p99.9", "max"];
const LATENCY_NAME: &str = "latency T4-T1";
const RESPONSE_NAME: &str = "response T3-T2";
const FELL_BEHIND: &str = "The generator fell behind its schedule: the load was lower than asked, \
                           and the figures show what this generator offered, not the server's limit.";
const SAME_CLOCK: &str = "Client and server read the same clock, so the true offset is 0: \
                          the offset measured is the error of the timestamps.";

fn percentile_values(percentiles: &Option<Percentiles>) -> [f64; 5] {
    percentiles
        .as_ref()
        .map_or([f64::NAN; 5], |p| [p.p50, p.p90, p.p99, p.p99_9, p.max])
}

fn percentile_row(name: &str, percentiles: &Option<Percentiles>) -> Vec<String> {
    std::iter::once(name.to_string())
        .chain(percentile_values(percentiles).map(number))
        .collect()
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_string()
}

fn percent(value: f64) -> String {
    format!("{} %", number(value))
}

fn optional_count(value: Option<u64>) -> String {
    value.map_or_else(|| "unknown".to_string(), count)
}

fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// Rows naming each counted kind, `label code` then its count.
fn counts_by_name<'a>(
    label: &'a str,
    counts: &'a std::collections::BTreeMap<String, u64>,
) -> impl Iterator<Item = Vec<String>> + 'a {
    counts
        .iter()
        .map(move |(name, n)| vec![format!("{label} {name}"), count(*n)])
}

impl HtmlPage for RunReport {
    fn html_page(&self, run: &RunInfo) -> String {
        let mut facts = run.facts(&self.server);
        facts.push((
            "load",
            format!(
                "{}/s for {} s from {}, {}",
                number(self.target_rate),
                number(self.duration_s),
                plural(self.clients, "client", "clients"),
                plural(self.threads, "thread", "threads")
            ),
        ));
        let mut page = Page::new(&format!("ringload ntp {}", self.server), &facts);
        if self.generator_fell_behind {
            page.warning(FELL_BEHIND);
        }
        page.tiles(&[
            ("answered/s", number(self.answered_rate)),
            ("lost", percent(self.loss_percent)),
            (
                "latency p99",
                measured(self.latency_us.as_ref().map(|p| p.p99), "µs"),
            ),
            ("p99 |offset|", measured(self.offset_abs_p99_us, "µs")),
        ]);

        page.heading("Latency and server response time");
        page.chart(&bar_chart(&BarChart {
            title: "Latency and server response time percentiles",
            value_label: "microseconds",
            unit: "µs",
            categories: PERCENTILE_NAMES.map(String::from).to_vec(),
            series: vec![
                Bars {
                    name: LATENCY_NAME.to_string(),
                    values: percentile_values(&self.latency_us).to_vec(),
                },
                Bars {
                    name: RESPONSE_NAME.to_string(),
                    values: percentile_values(&self.response_us).to_vec(),
                },
            ],
        }));
        page.table(
            &["µs", "p50", "p90", "p99", "p99.9", "max"],
            &[
                percentile_row(LATENCY_NAME, &self.latency_us),
                percentile_row(RESPONSE_NAME, &self.response_us),
            ],
        );
        page.note(&format!(
            "Latency from the {} timed requests (the first of each send batch, whose T1 is \
             exact); response time from all {} valid replies.",
            count(self.timed_samples),
            count(self.answered)
        ));

        page.heading("Offset accuracy");
        page.note(SAME_CLOCK);
        page.table(
            &["", "value"],
            &[
                vec![
                    "mean offset".to_string(),
                    measured(self.offset_mean_us, "µs"),
                ],
                vec![
                    "p99 of |offset|".to_string(),
                    measured(self.offset_abs_p99_us, "µs"),
                ],
                vec!["timed requests".to_string(), count(self.timed_samples)],
            ],
        );

        page.heading("Summary");
        let mut rows = vec![
            vec!["target rate /s".to_string(), number(self.target_rate)],
            vec!["offered rate /s".to_string(), number(self.offered_rate)],
            vec!["sent".to_string(), count(self.sent)],
            vec!["refused by the kernel".to_string(), count(self.send_failed)],
            vec!["sent over 1 ms late".to_string(), count(self.sent_late)],
            vec![
                "generator fell behind".to_string(),
                yes_no(self.generator_fell_behind),
            ],
            vec!["answered".to_string(), count(self.answered)],
            vec!["answered rate /s".to_string(), number(self.answered_rate)],
            vec!["lost".to_string(), count(self.lost)],
            vec!["loss".to_string(), percent(self.loss_percent)],
            vec![
                "client socket queue drops".to_string(),
                optional_count(self.client_socket_drops),
            ],
            vec![
                "server socket queue drops".to_string(),
                optional_count(self.server_socket_drops),
            ],
            vec!["KoD".to_string(), count(self.kod_total)],
        ];
        rows.extend(counts_by_name("KoD", &self.kod));
        rows.push(vec!["invalid".to_string(), count(self.invalid_total)]);
        rows.extend(counts_by_name("invalid", &self.invalid));
        rows.push(vec!["unmatched".to_string(), count(self.unmatched)]);
        rows.push(vec![
            "no kernel RX timestamp".to_string(),
            count(self.missing_rx_timestamps),
        ]);
        page.table(&["", "value"], &rows);
        page.finish()
    }
}

/// One line per step, x the step's offered rate and y what `value` reads from it.
fn per_step(name: &str, steps: &[RunReport], value: impl Fn(&RunReport) -> f64) -> Line {
    Line {
        name: name.to_string(),
        points: steps.iter().map(|s| (s.offered_rate, value(s))).collect(),
        dashed: false,
    }
}

/// One percentile of a step's latency; not a number for a step without samples.
fn latency(pick: fn(&Percentiles) -> f64) -> impl Fn(&RunReport) -> f64 {
    move |step| step.latency_us.as_ref().map_or(f64::NAN, pick)
}

const OFFERED_AXIS: &str = "offered requests/s";

impl HtmlPage for RampReport {
    fn html_page(&self, run: &RunInfo) -> String {
        let server = self.steps.first().map_or("", |s| s.server.as_str());
        let mut facts = run.facts(server);
        if let Some(first) = self.steps.first() {
            facts.push((
                "load",
                format!(
                    "{} of {} s from {}, {}",
                    plural(self.steps.len(), "step", "steps"),
                    number(first.duration_s),
                    plural(first.clients, "client", "clients"),
                    plural(first.threads, "thread", "threads")
                ),
            ));
        }
        let mut page = Page::new(&format!("ringload ntp {server} --ramp"), &facts);
        let served = format!("max rate with loss ≤ {SERVED_LOSS_PERCENT} %");
        page.tiles(&[
            (
                &served,
                self.max_rate
                    .map_or_else(|| "none".to_string(), |r| format!("{}/s", number(r))),
            ),
            (
                "most answered/s",
                number(
                    self.steps
                        .iter()
                        .map(|s| s.answered_rate)
                        .fold(0.0, f64::max),
                ),
            ),
            ("stopped", self.stop_reason.to_string()),
        ]);
        if self.steps.iter().any(|s| s.generator_fell_behind) {
            page.warning(
                "The generator fell behind its schedule in the steps marked \"behind\": \
                 those do not count towards the maximum rate.",
            );
        }

        page.heading("Answered against offered");
        page.chart(&line_chart(&LineChart {
            title: "Answered rate against offered rate",
            x_label: OFFERED_AXIS,
            x_ticks: vec![],
            y_label: "requests/s",
            y_axis: ValueAxis::Linear,
            lines: vec![
                per_step("answered", &self.steps, |s| s.answered_rate),
                Line {
                    dashed: true,
                    ..per_step("all answered", &self.steps, |s| s.offered_rate)
                },
            ],
            rules: vec![],
        }));
        page.table(
            &[
                "target /s",
                "offered /s",
                "answered /s",
                "answered",
                "generator",
            ],
            &self
                .steps
                .iter()
                .map(|s| {
                    vec![
                        number(s.target_rate),
                        number(s.offered_rate),
                        number(s.answered_rate),
                        count(s.answered),
                        if s.generator_fell_behind {
                            "behind"
                        } else {
                            "ok"
                        }
                        .to_string(),
                    ]
                })
                .collect::<Vec<_>>(),
        );

        page.heading("Loss");
        page.chart(&line_chart(&LineChart {
            title: "Loss against offered rate",
            x_label: OFFERED_AXIS,
            x_ticks: vec![],
            y_label: "loss %",
            y_axis: ValueAxis::Fitting,
            lines: vec![per_step("loss %", &self.steps, |s| s.loss_percent)],
            rules: vec![
                Rule {
                    value: SERVED_LOSS_PERCENT,
                    label: format!("served: loss ≤ {SERVED_LOSS_PERCENT} %"),
                },
                Rule {
                    value: STOP_LOSS_PERCENT,
                    label: format!("ramp stops: loss > {STOP_LOSS_PERCENT} %"),
                },
            ],
        }));
        page.table(
            &[
                "offered /s",
                "sent",
                "lost",
                "loss",
                "client queue drops",
                "server queue drops",
                "KoD",
                "invalid",
            ],
            &self
                .steps
                .iter()
                .map(|s| {
                    vec![
                        number(s.offered_rate),
                        count(s.sent),
                        count(s.lost),
                        percent(s.loss_percent),
                        optional_count(s.client_socket_drops),
                        optional_count(s.server_socket_drops),
                        count(s.kod_total),
                        count(s.invalid_total),
                    ]
                })
                .collect::<Vec<_>>(),
        );

        page.heading("Latency per step");
        page.chart(&line_chart(&LineChart {
            title: "Latency T4-T1 against offered rate",
            x_label: OFFERED_AXIS,
            x_ticks: vec![],
            y_label: "microseconds",
            y_axis: ValueAxis::Fitting,
            lines: vec![
                per_step("p50", &self.steps, latency(|p| p.p50)),
                per_step("p99", &self.steps, latency(|p| p.p99)),
                per_step("p99.9", &self.steps, latency(|p| p.p99_9)),
            ],
            rules: vec![],
        }));
        page.table(
            &[
                "offered /s",
                "latency p50 µs",
                "p90",
                "p99",
                "p99.9",
                "max",
                "response p99 µs",
            ],
            &self
                .steps
                .iter()
                .map(|s| {
                    std::iter::once(number(s.offered_rate))
                        .chain(percentile_values(&s.latency_us).map(number))
                        .chain(std::iter::once(number(
                            s.response_us.as_ref().map_or(f64::NAN, |p| p.p99),
                        )))
                        .collect()
                })
                .collect::<Vec<_>>(),
        );

        page.heading("Offset accuracy per step");
        page.note(SAME_CLOCK);
        page.table(
            &[
                "offered /s",
                "mean offset µs",
                "p99 |offset| µs",
                "timed requests",
            ],
            &self
                .steps
                .iter()
                .map(|s| {
                    vec![
                        number(s.offered_rate),
                        number(s.offset_mean_us.unwrap_or(f64::NAN)),
                        number(s.offset_abs_p99_us.unwrap_or(f64::NAN)),
                        count(s.timed_samples),
                    ]
                })
                .collect::<Vec<_>>(),
        );
        page.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html::well_formed::assert_well_formed;
    use crate::ntp::kernel_t1::T1Source;
    use crate::ntp::report::{RampStop, RunHistograms};
    use crate::ntp::tally::Tally;

    fn run_info() -> RunInfo {
        RunInfo {
            command_line: "ringload ntp 127.0.0.1:123 --html 'a<b>.html'".to_string(),
            started: "2020-07-14 12:38:00 UTC".to_string(),
            version: "0.1.0",
        }
    }

    fn percentiles(p50: f64) -> Option<Percentiles> {
        Some(Percentiles {
            p50,
            p90: p50 * 2.0,
            p99: p50 * 5.0,
            p99_9: p50 * 20.0,
            max: p50 * 400.0,
        })
    }

    fn step(target_rate: f64, loss_percent: f64) -> RunReport {
        RunReport {
            server: "127.0.0.1:123".to_string(),
            clients: 16,
            threads: 1,
            duration_s: 2.0,
            target_rate,
            offered_rate: target_rate,
            sent: (target_rate * 2.0) as u64,
            send_failed: 0,
            sent_late: 0,
            generator_fell_behind: false,
            answered: 19_876,
            answered_rate: target_rate * (1.0 - loss_percent / 100.0),
            lost: 124,
            loss_percent,
            kod_total: 1,
            kod: [("RATE".to_string(), 1)].into(),
            invalid_total: 2,
            invalid: [("<wrong-mode>".to_string(), 2)].into(),
            unmatched: 0,
            missing_rx_timestamps: 0,
            t1_source: T1Source::Userspace,
            t1_kernel_missing: 0,
            timed_samples: 600,
            latency_us: percentiles(20.0),
            response_us: percentiles(1.5),
            offset_mean_us: Some(-0.25),
            offset_abs_p99_us: Some(3.5),
            client_socket_drops: Some(0),
            server_socket_drops: None,
            histograms: RunHistograms::of(&Tally::default()),
        }
    }

    #[test]
    fn a_run_page_shows_its_figures_escaped_in_charts_and_tables() {
        let html = step(10_000.0, 0.62).html_page(&run_info());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert_well_formed(&html);
        assert_eq!(html.matches("<svg").count(), 1);
        for text in [
            "19,876",
            "&#39;a&lt;b&gt;.html&#39;",
            "2020-07-14 12:38:00 UTC",
            "invalid &lt;wrong-mode&gt;",
            "KoD RATE",
            "-0.250 µs",
            "0.620 %",
            "8,000",
            "20,000",
        ] {
            assert!(html.contains(text), "{text} missing");
        }
        assert!(!html.contains("<wrong-mode>"));
    }

    #[test]
    fn a_run_without_samples_renders_without_numbers_that_are_not() {
        let mut report = step(10.0, 100.0);
        report.latency_us = None;
        report.response_us = None;
        report.offset_mean_us = None;
        report.offset_abs_p99_us = None;
        report.generator_fell_behind = true;
        let html = report.html_page(&run_info());
        assert_well_formed(&html);
        assert!(html.contains("no samples"));
        assert!(html.contains("class=\"warning\""));
    }

    #[test]
    fn a_ramp_page_charts_every_step_and_handles_none_or_one() {
        let mut behind = step(22_500.0, 3.0);
        behind.generator_fell_behind = true;
        behind.latency_us = None;
        let ramp = RampReport {
            steps: vec![step(10_000.0, 0.0), step(15_000.0, 0.05), behind],
            max_rate: Some(15_000.0),
            stop_reason: RampStop::LossAboveLimit,
        };
        let html = ramp.html_page(&run_info());
        assert_well_formed(&html);
        assert_eq!(html.matches("<svg").count(), 3);
        assert!(html.contains("15,000/s"));
        assert!(html.contains("loss above 1 %"));
        assert!(html.contains("behind"));
        assert_eq!(
            html.matches("<circle").count(),
            3 + 3 + (2 * 3),
            "answered, loss, and latency for the steps with samples"
        );
        for steps in [vec![], vec![step(10_000.0, 0.0)]] {
            let ramp = RampReport {
                steps,
                max_rate: None,
                stop_reason: RampStop::MaxStepsReached,
            };
            let html = ramp.html_page(&run_info());
            assert_well_formed(&html);
            assert!(html.contains("step limit reached"));
        }
    }
}
