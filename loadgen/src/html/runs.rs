//! The page of `ringload report`: several runs of one kind on shared axes, one colour per run.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::markup::{count, number, Page};
use super::svg::{bar_chart, line_chart, BarChart, Bars, Line, LineChart, Rule, ValueAxis};
use crate::ntp::ramp::{SERVED_LOSS_PERCENT, STOP_LOSS_PERCENT};
use crate::ntp::report::Percentiles;
use crate::step_stats::Percentiles as StepPercentiles;

/// The figures of one NTP run or ramp step that the page draws (a `--json` document's fields).
#[derive(Clone, Debug, Deserialize)]
pub struct NtpFigures {
    pub target_rate: f64,
    pub offered_rate: f64,
    pub answered_rate: f64,
    pub loss_percent: f64,
    pub latency_us: Option<Percentiles>,
    pub response_us: Option<Percentiles>,
    #[serde(default)]
    pub generator_fell_behind: bool,
}

/// The figures of one FTP load run that the page draws.
#[derive(Clone, Debug, Deserialize)]
pub struct FtpFigures {
    /// The server's 220 text; absent from documents written before it was kept.
    #[serde(default)]
    pub greeting: Option<String>,
    pub scenario: String,
    pub sessions: usize,
    pub sessions_per_s: f64,
    pub errors_total: u64,
    pub latency_us: BTreeMap<String, StepPercentiles>,
    /// Absent from documents written before open-loop runs existed: those were closed-loop.
    #[serde(default)]
    pub open_loop_rate: Option<f64>,
}

/// What one document holds, by subcommand and mode.
#[derive(Clone, Debug)]
pub enum Figures {
    NtpRun(NtpFigures),
    NtpRamp {
        steps: Vec<NtpFigures>,
        max_rate: Option<f64>,
    },
    Ftp(FtpFigures),
}

impl Figures {
    /// The kind of run, as `ringload report` names it when runs cannot share a page.
    pub fn kind(&self) -> &'static str {
        match self {
            Figures::NtpRun(_) => "ntp run",
            Figures::NtpRamp { .. } => "ntp ramp",
            Figures::Ftp(_) => "ftp",
        }
    }
}

/// One run on the page: its legend name, where it came from and its figures.
#[derive(Clone, Debug)]
pub struct LabelledRun {
    pub label: String,
    pub target: String,
    pub started_at: String,
    pub command_line: String,
    pub figures: Figures,
}

/// Percentiles drawn along the distribution charts' x axis by their nines (p90 at 1, p99 at
/// 2, ...), so that the tail gets as much room as the body; the maximum one step past p99.9.
const PERCENTILE_POSITIONS: [(&str, f64); 5] = [
    ("p50", std::f64::consts::LOG10_2),
    ("p90", 1.0),
    ("p99", 2.0),
    ("p99.9", 3.0),
    ("max", 4.0),
];

const RESPONSE_NOTE: &str = "Server response time T3 − T2 is how long the server held each \
     request, from its receive timestamp to its transmit timestamp. NTP clients subtract it \
     from the round trip T4 − T1, so only the rest of the round trip (network and queues) \
     limits their accuracy.";
const CLOSED_LOOP_NOTE: &str = "Closed-loop latencies: each client starts its next session \
     only when the previous one ended, so while the server stalls fewer sessions are started \
     and the stall is under-counted (coordinated omission). Open-loop runs start sessions on a \
     fixed schedule and time them from their scheduled start.";
const OPEN_LOOP_NOTE: &str = "Open-loop latencies: sessions were started on a fixed schedule \
     whatever the server did, each timed from its scheduled start, so stalls show in full.";
/// Steps of an FTP session in the order a session makes them; other steps follow, by name.
const SESSION_ORDER: [&str; 11] = [
    "session",
    "connect-to-220",
    "AUTH TLS",
    "USER",
    "PASS",
    "PBSZ+PROT",
    "TYPE",
    "PASV",
    "RETR",
    "STOR",
    "QUIT",
];

fn percentile_line(label: &str, percentiles: Option<&Percentiles>) -> Line {
    let values = percentiles.map_or([f64::NAN; 5], |p| [p.p50, p.p90, p.p99, p.p99_9, p.max]);
    Line {
        name: label.to_string(),
        points: PERCENTILE_POSITIONS
            .iter()
            .zip(values)
            .map(|((_, x), y)| (*x, y))
            .collect(),
        dashed: false,
    }
}

fn percentile_ticks() -> Vec<(f64, String)> {
    PERCENTILE_POSITIONS
        .iter()
        .map(|(name, x)| (*x, name.to_string()))
        .collect()
}

/// A chart of one latency distribution per run; `pick` chooses it from the run.
fn distribution_chart<'a>(
    runs: &'a [LabelledRun],
    title: &str,
    pick: impl Fn(&'a LabelledRun) -> Option<&'a Percentiles>,
) -> String {
    line_chart(&LineChart {
        title,
        x_label: "percentile",
        x_ticks: percentile_ticks(),
        y_label: "microseconds",
        y_axis: ValueAxis::Fitting,
        lines: runs
            .iter()
            .map(|run| percentile_line(&run.label, pick(run)))
            .collect(),
        rules: vec![],
    })
}

/// The step of a ramp whose distribution is drawn: the one at its highest served rate, else
/// its first.
fn served_step(steps: &[NtpFigures], max_rate: Option<f64>) -> Option<&NtpFigures> {
    max_rate
        .and_then(|rate| steps.iter().find(|s| s.target_rate == rate))
        .or(steps.first())
}

fn ntp_figures(run: &LabelledRun) -> Option<&NtpFigures> {
    match &run.figures {
        Figures::NtpRun(figures) => Some(figures),
        Figures::NtpRamp { steps, max_rate } => served_step(steps, *max_rate),
        Figures::Ftp(_) => None,
    }
}

fn p(percentiles: &Option<Percentiles>, pick: fn(&Percentiles) -> f64) -> String {
    number(percentiles.as_ref().map_or(f64::NAN, pick))
}

/// Whether the generator fell behind its schedule in the run or in any step of the ramp.
fn fell_behind(run: &LabelledRun) -> bool {
    match &run.figures {
        Figures::NtpRun(figures) => figures.generator_fell_behind,
        Figures::NtpRamp { steps, .. } => steps.iter().any(|s| s.generator_fell_behind),
        Figures::Ftp(_) => false,
    }
}

fn ntp_sections(page: &mut Page, runs: &[LabelledRun], ramp: bool) {
    let behind: Vec<&str> = runs
        .iter()
        .filter(|run| fell_behind(run))
        .map(|run| run.label.as_str())
        .collect();
    if !behind.is_empty() {
        page.warning(&format!(
            "The generator fell behind its schedule in the runs of {}: there the load was lower \
             than asked and the figures show what the generator offered, not the server's limit \
             (a ramp's steps that fell behind do not count towards its maximum rate).",
            behind.join(", ")
        ));
    }
    page.heading("Round trip and server response time");
    if ramp {
        page.note(&format!(
            "Each ramp's distribution is that of its step at the highest rate that lost at most \
             {SERVED_LOSS_PERCENT} % (its first step when none did)."
        ));
    }
    for (title, pick) in [
        (
            "Round trip T4 − T1 by percentile",
            (|f: &NtpFigures| f.latency_us.as_ref()) as fn(&NtpFigures) -> Option<&Percentiles>,
        ),
        ("Server response time T3 − T2 by percentile", |f| {
            f.response_us.as_ref()
        }),
    ] {
        page.captioned_chart(
            title,
            &distribution_chart(runs, title, |run| ntp_figures(run).and_then(pick)),
        );
    }
    page.note(RESPONSE_NOTE);
    page.table(
        &[
            "",
            "answered /s",
            "loss %",
            "round trip p50 µs",
            "p99",
            "p99.9",
            "response p50 µs",
            "p99",
        ],
        &runs
            .iter()
            .filter_map(|run| Some((run, ntp_figures(run)?)))
            .map(|(run, f)| {
                vec![
                    run.label.clone(),
                    number(f.answered_rate),
                    number(f.loss_percent),
                    p(&f.latency_us, |p| p.p50),
                    p(&f.latency_us, |p| p.p99),
                    p(&f.latency_us, |p| p.p99_9),
                    p(&f.response_us, |p| p.p50),
                    p(&f.response_us, |p| p.p99),
                ]
            })
            .collect::<Vec<_>>(),
    );
    if !ramp {
        return;
    }
    let per_step = |value: fn(&NtpFigures) -> f64| -> Vec<Line> {
        runs.iter()
            .map(|run| Line {
                name: run.label.clone(),
                points: match &run.figures {
                    Figures::NtpRamp { steps, .. } => {
                        steps.iter().map(|s| (s.offered_rate, value(s))).collect()
                    }
                    _ => vec![],
                },
                dashed: false,
            })
            .collect()
    };
    page.heading("Ramp: answered and lost");
    page.captioned_chart(
        "Answered rate against offered rate",
        &line_chart(&LineChart {
            title: "Answered rate against offered rate",
            x_label: "offered requests/s",
            x_ticks: vec![],
            y_label: "answered requests/s",
            y_axis: ValueAxis::Linear,
            lines: per_step(|s| s.answered_rate),
            rules: vec![],
        }),
    );
    page.captioned_chart(
        "Loss against offered rate",
        &line_chart(&LineChart {
            title: "Loss against offered rate",
            x_label: "offered requests/s",
            x_ticks: vec![],
            y_label: "loss %",
            y_axis: ValueAxis::Fitting,
            lines: per_step(|s| s.loss_percent),
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
        }),
    );
    page.captioned_chart(
        "Round trip p99 against offered rate",
        &line_chart(&LineChart {
            title: "Round trip p99 against offered rate",
            x_label: "offered requests/s",
            x_ticks: vec![],
            y_label: "microseconds",
            y_axis: ValueAxis::Fitting,
            lines: per_step(|s| s.latency_us.as_ref().map_or(f64::NAN, |p| p.p99)),
            rules: vec![],
        }),
    );
    page.table(
        &[
            "",
            &format!("max rate with loss ≤ {SERVED_LOSS_PERCENT} %"),
            "steps",
        ],
        &runs
            .iter()
            .filter_map(|run| match &run.figures {
                Figures::NtpRamp { steps, max_rate } => Some(vec![
                    run.label.clone(),
                    max_rate.map_or_else(|| "none".to_string(), |r| format!("{}/s", number(r))),
                    count(steps.len() as u64),
                ]),
                _ => None,
            })
            .collect::<Vec<_>>(),
    );
}

fn ftp_figures(run: &LabelledRun) -> Option<&FtpFigures> {
    match &run.figures {
        Figures::Ftp(figures) => Some(figures),
        _ => None,
    }
}

/// Every step any run timed, in session order.
fn steps_in_session_order(runs: &[LabelledRun]) -> Vec<String> {
    let mut steps: Vec<String> = runs
        .iter()
        .filter_map(ftp_figures)
        .flat_map(|f| f.latency_us.keys().cloned())
        .collect();
    steps.sort_by_key(|step| {
        let rank = SESSION_ORDER
            .iter()
            .position(|known| known == step)
            .unwrap_or(SESSION_ORDER.len());
        (rank, step.clone())
    });
    steps.dedup();
    steps
}

fn ftp_sections(page: &mut Page, runs: &[LabelledRun]) {
    let figures: Vec<Option<&FtpFigures>> = runs.iter().map(ftp_figures).collect();
    let open_loop = |f: &&FtpFigures| f.open_loop_rate.is_some();
    if figures.iter().flatten().any(|f| !open_loop(f)) {
        page.warning(CLOSED_LOOP_NOTE);
    }
    if figures.iter().flatten().any(open_loop) {
        page.note(OPEN_LOOP_NOTE);
    }
    page.table(
        &["", "scenario", "load", "sessions/s", "errors"],
        &runs
            .iter()
            .zip(&figures)
            .filter_map(|(run, f)| Some((run, (*f)?)))
            .map(|(run, f)| {
                vec![
                    run.label.clone(),
                    f.scenario.clone(),
                    match f.open_loop_rate {
                        Some(rate) => format!("open loop, {} sessions/s", number(rate)),
                        None => format!("closed loop, {} sessions", f.sessions),
                    },
                    number(f.sessions_per_s),
                    count(f.errors_total),
                ]
            })
            .collect::<Vec<_>>(),
    );
    let steps = steps_in_session_order(runs);
    for (name, pick) in [
        (
            "p50",
            (|p: &StepPercentiles| p.p50) as fn(&StepPercentiles) -> f64,
        ),
        ("p99", |p| p.p99),
    ] {
        let title = format!("Latency {name} per step, in session order");
        page.captioned_chart(
            &title,
            &bar_chart(&BarChart {
                title: &title,
                value_label: "microseconds",
                unit: "µs",
                categories: steps.clone(),
                series: runs
                    .iter()
                    .zip(&figures)
                    .map(|(run, f)| Bars {
                        name: run.label.clone(),
                        values: steps
                            .iter()
                            .map(|step| {
                                f.and_then(|f| f.latency_us.get(step))
                                    .map_or(f64::NAN, pick)
                            })
                            .collect(),
                    })
                    .collect(),
            }),
        );
    }
}

/// The page comparing `runs`, which are all of one kind.
pub fn runs_page(runs: &[LabelledRun]) -> String {
    let kind = runs.first().map_or("", |run| run.figures.kind());
    let facts: Vec<(&str, String)> = runs
        .iter()
        .map(|run| {
            (
                run.label.as_str(),
                format!(
                    "{}, started {}: {}",
                    run.target, run.started_at, run.command_line
                ),
            )
        })
        .collect();
    let mut page = Page::new(&format!("ringload report: {kind}"), &facts);
    match runs.first().map(|run| &run.figures) {
        Some(Figures::NtpRun(_)) => ntp_sections(&mut page, runs, false),
        Some(Figures::NtpRamp { .. }) => ntp_sections(&mut page, runs, true),
        Some(Figures::Ftp(_)) => ftp_sections(&mut page, runs),
        None => page.note("No runs."),
    }
    page.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html::well_formed::assert_well_formed;

    fn percentiles(p50: f64) -> Option<Percentiles> {
        Some(Percentiles {
            p50,
            p90: p50 * 2.0,
            p99: p50 * 5.0,
            p99_9: p50 * 20.0,
            max: p50 * 400.0,
        })
    }

    fn step(rate: f64, p50: f64, loss_percent: f64) -> NtpFigures {
        NtpFigures {
            target_rate: rate,
            offered_rate: rate,
            answered_rate: rate * (1.0 - loss_percent / 100.0),
            loss_percent,
            latency_us: percentiles(p50),
            response_us: percentiles(p50 / 10.0),
            generator_fell_behind: false,
        }
    }

    fn run(label: &str, figures: Figures) -> LabelledRun {
        LabelledRun {
            label: label.to_string(),
            target: "127.0.0.1:123".to_string(),
            started_at: "2026-01-02T03:04:05Z".to_string(),
            command_line: "ringload ntp 127.0.0.1:123 --json".to_string(),
            figures,
        }
    }

    #[test]
    fn two_ramps_share_every_chart_one_colour_each() {
        let ramp = |p50| Figures::NtpRamp {
            steps: vec![step(1_000.0, p50, 0.0), step(1_500.0, p50 * 2.0, 3.0)],
            max_rate: Some(1_000.0),
        };
        let html = runs_page(&[run("ringd <a>", ramp(30.0)), run("chronyd", ramp(90.0))]);
        assert_well_formed(&html);
        assert_eq!(html.matches("<svg").count(), 5);
        // Both runs in every chart's legend.
        assert_eq!(html.matches(">ringd &lt;a&gt;</text>").count(), 5);
        assert_eq!(html.matches(">chronyd</text>").count(), 5);
        assert!(html.contains("stroke=\"#4e79a7\"") && html.contains("stroke=\"#f28e2b\""));
        assert!(html.contains("NTP clients subtract it"));
        assert!(html.contains(">p99.9</text>"));
        assert!(html.contains("<figcaption>Server response time T3 − T2 by percentile"));
        assert!(!html.contains("fell behind"));
    }

    #[test]
    fn a_run_without_samples_still_draws_a_well_formed_page() {
        let mut empty = step(1_000.0, 1.0, 100.0);
        empty.latency_us = None;
        empty.response_us = None;
        empty.generator_fell_behind = true;
        let html = runs_page(&[
            run("a", Figures::NtpRun(empty)),
            run("b", Figures::NtpRun(step(1_000.0, 40.0, 0.0))),
        ]);
        assert_well_formed(&html);
        assert_eq!(html.matches("<svg").count(), 2);
        assert!(html.contains("fell behind its schedule in the runs of a:"));
    }

    #[test]
    fn ftp_steps_come_in_session_order_and_closed_loops_are_named() {
        let latencies = |steps: &[&str]| {
            steps
                .iter()
                .map(|step| {
                    (
                        step.to_string(),
                        StepPercentiles {
                            count: 10,
                            p50: 100.0,
                            p90: 200.0,
                            p99: 300.0,
                            p99_9: 400.0,
                            max: 500.0,
                        },
                    )
                })
                .collect()
        };
        let ftp = |steps: &[&str], open_loop_rate| {
            Figures::Ftp(FtpFigures {
                greeting: None,
                scenario: "login".into(),
                sessions: 4,
                sessions_per_s: 100.0,
                errors_total: 0,
                latency_us: latencies(steps),
                open_loop_rate,
            })
        };
        let runs = [
            run("ringd", ftp(&["QUIT", "USER", "connect-to-220"], None)),
            run("vsftpd", ftp(&["PASS", "QUIT", "session"], Some(50.0))),
        ];
        assert_eq!(
            steps_in_session_order(&runs),
            ["session", "connect-to-220", "USER", "PASS", "QUIT"]
        );
        let html = runs_page(&runs);
        assert_well_formed(&html);
        assert!(html.contains("Closed-loop latencies"));
        assert!(html.contains("Open-loop latencies"));
        assert!(html.contains("open loop, 50.0 sessions/s"));
        assert!(html.contains("closed loop, 4 sessions"));
    }
}
