//! The pages of `ringload ftp --html`: a login, retr, stor or mixed run, and an idle run.

use std::collections::BTreeMap;

use super::markup::{count, number, Page};
use super::svg::{bar_chart, BarChart, Bars};
use super::{HtmlPage, RunInfo};
use crate::ftp::idle::IdleReport;
use crate::ftp::load::{loop_note, LoadReport};
use crate::step_stats::Percentiles;

/// Reads one percentile.
type Pick = fn(&Percentiles) -> f64;

/// The percentiles charted, by name.
const PERCENTILES: [(&str, Pick); 5] = [
    ("p50", |p| p.p50),
    ("p90", |p| p.p90),
    ("p99", |p| p.p99),
    ("p99.9", |p| p.p99_9),
    ("max", |p| p.max),
];

/// The histograms count whole microseconds.
fn micros(value: f64) -> String {
    count(value.round() as u64)
}

/// The latency chart, its table, then the errors: the end of every FTP page.
fn latency_and_errors(
    page: &mut Page,
    latency_us: &BTreeMap<String, Percentiles>,
    errors: &BTreeMap<String, u64>,
    error_texts: &BTreeMap<String, String>,
) {
    page.heading("Latency per step");
    page.chart(&bar_chart(&BarChart {
        title: "Latency percentiles per step",
        value_label: "microseconds",
        unit: "µs",
        categories: latency_us.keys().cloned().collect(),
        series: PERCENTILES
            .iter()
            .map(|(name, pick)| Bars {
                name: name.to_string(),
                values: latency_us.values().map(pick).collect(),
            })
            .collect(),
    }));
    page.table(
        &["µs", "count", "p50", "p90", "p99", "p99.9", "max"],
        &latency_us
            .iter()
            .map(|(step, p)| {
                [step.clone(), count(p.count)]
                    .into_iter()
                    .chain(PERCENTILES.iter().map(|(_, pick)| micros(pick(p))))
                    .collect()
            })
            .collect::<Vec<_>>(),
    );

    page.heading("Errors");
    if errors.is_empty() {
        page.note("No errors.");
    } else {
        let mut rows: Vec<Vec<String>> = errors
            .iter()
            .map(|(class, n)| {
                let text = error_texts.get(class).cloned().unwrap_or_default();
                vec![class.clone(), text, count(*n)]
            })
            .collect();
        rows.push(vec![
            "total".to_string(),
            String::new(),
            count(errors.values().sum()),
        ]);
        page.table(&["error", "first text", "count"], &rows);
    }
}

impl HtmlPage for LoadReport {
    fn html_page(&self, run: &RunInfo) -> String {
        let target = self.server.to_string();
        let scenario = self.scenario.name();
        let mut facts = run.facts(&target);
        if let Some(greeting) = &self.greeting {
            facts.push(("greeting", greeting.clone()));
        }
        facts.push((
            "load",
            match self.open_loop_rate {
                Some(rate) => format!(
                    "open loop, {} sessions/s (at most {} in flight) for {} s",
                    number(rate),
                    self.sessions,
                    number(self.elapsed_s)
                ),
                None => format!(
                    "{} concurrent sessions for {} s",
                    self.sessions,
                    number(self.elapsed_s)
                ),
            },
        ));
        let mut page = Page::new(
            &format!("ringload ftp {target} --scenario {scenario}"),
            &facts,
        );
        if self.sessions_completed == 0 {
            page.warning("No session completed: see the errors at the end.");
        }
        page.note(loop_note(self.open_loop_rate.is_some()));
        if let Some(dropped) = self.dropped_too_many_in_flight.filter(|d| *d > 0) {
            page.warning(&format!(
                "{} sessions due were not started: {} were already in flight (counted as failed).",
                count(dropped),
                self.sessions
            ));
        }
        page.tiles(&[
            ("sessions/s", number(self.sessions_per_s)),
            ("transfers/s", number(self.transfers_per_s)),
            ("MB/s", number(self.bytes_per_s / 1e6)),
            ("errors", count(self.errors_total)),
        ]);

        page.heading("Throughput");
        page.table(
            &["", "count", "per second"],
            &[
                vec![
                    "sessions completed".to_string(),
                    count(self.sessions_completed),
                    number(self.sessions_per_s),
                ],
                vec![
                    "sessions failed".to_string(),
                    count(self.sessions_failed),
                    number(self.sessions_failed as f64 / self.elapsed_s),
                ],
                vec![
                    "transfers".to_string(),
                    count(self.transfers),
                    number(self.transfers_per_s),
                ],
                vec![
                    "bytes".to_string(),
                    count(self.bytes),
                    number(self.bytes_per_s),
                ],
            ],
        );
        latency_and_errors(&mut page, &self.latency_us, &self.errors, &self.error_texts);
        page.finish()
    }
}

impl HtmlPage for IdleReport {
    fn html_page(&self, run: &RunInfo) -> String {
        let target = self.server.to_string();
        let facts = run.facts(&target);
        let mut page = Page::new(&format!("ringload ftp {target} --scenario idle"), &facts);
        if self.held_at_end < self.sessions {
            page.warning(&format!(
                "{} of the {} sessions asked were not held to the end: see the errors at the end.",
                self.sessions - self.held_at_end,
                self.sessions
            ));
        }
        let mut tiles = vec![
            ("held at the end", count(self.held_at_end as u64)),
            ("logged in", count(self.logged_in as u64)),
        ];
        if let Some(memory) = &self.memory {
            tiles.push((
                "KiB PSS added per session",
                number(memory.added_pss_kib_per_session),
            ));
        }
        tiles.push(("errors", count(self.errors_total)));
        page.tiles(&tiles);

        page.heading("Sessions");
        page.table(
            &["", "sessions", "seconds"],
            &[
                vec![
                    "asked".to_string(),
                    count(self.sessions as u64),
                    String::new(),
                ],
                vec![
                    "logged in".to_string(),
                    count(self.logged_in as u64),
                    number(self.open_s),
                ],
                vec![
                    "held at the end".to_string(),
                    count(self.held_at_end as u64),
                    number(self.held_s),
                ],
                vec![
                    "NOOP rounds".to_string(),
                    count(self.keepalive_rounds),
                    String::new(),
                ],
            ],
        );
        if let Some(memory) = &self.memory {
            page.heading("Server memory");
            page.note(&format!(
                "PSS of process {} and its descendants ({} processes while holding).",
                memory.server_pid, memory.holding.processes
            ));
            page.table(
                &["", "KiB"],
                &[
                    vec!["before".to_string(), count(memory.before.pss_kib)],
                    vec!["holding".to_string(), count(memory.holding.pss_kib)],
                    vec![
                        "per session held".to_string(),
                        number(memory.pss_kib_per_session),
                    ],
                    vec![
                        "added per session".to_string(),
                        number(memory.added_pss_kib_per_session),
                    ],
                ],
            );
        }
        latency_and_errors(&mut page, &self.latency_us, &self.errors, &self.error_texts);
        page.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ftp::idle::IdleMemory;
    use crate::ftp::load::Scenario;
    use crate::ftp::memory::TreeMemory;
    use crate::html::well_formed::assert_well_formed;

    fn run_info() -> RunInfo {
        RunInfo {
            command_line: "ringload ftp 127.0.0.1:21".to_string(),
            started: "2020-07-14 12:38:00 UTC".to_string(),
            version: "0.1.0",
        }
    }

    fn latencies() -> BTreeMap<String, Percentiles> {
        [("RETR", 900.0), ("connect-to-220", 120.0)]
            .into_iter()
            .map(|(step, p50)| {
                (
                    step.to_string(),
                    Percentiles {
                        count: 1_234,
                        p50,
                        p90: p50 * 2.0,
                        p99: p50 * 4.0,
                        p99_9: p50 * 8.0,
                        max: p50 * 100.0,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn a_load_page_charts_latency_and_escapes_error_texts() {
        let report = LoadReport {
            server: "127.0.0.1:2121".parse().unwrap(),
            greeting: Some("(vsFTPd 3.0.3)".to_string()),
            scenario: Scenario::Retr,
            sessions: 8,
            elapsed_s: 10.0,
            sessions_completed: 12_345,
            sessions_failed: 2,
            sessions_per_s: 1_234.5,
            transfers: 12_345,
            transfers_per_s: 1_234.5,
            bytes: 50_565_120,
            bytes_per_s: 5_056_512.0,
            latency_us: latencies(),
            errors_total: 2,
            errors: [("reply_550_after_retr".to_string(), 2)].into(),
            error_texts: [(
                "reply_550_after_retr".to_string(),
                "550 <no> such file (after RETR)".to_string(),
            )]
            .into(),
            tls: None,
            open_loop_rate: None,
            dropped_too_many_in_flight: None,
        };
        let html = report.html_page(&run_info());
        assert_well_formed(&html);
        assert!(html.contains("closed loop"));
        assert_eq!(html.matches("<svg").count(), 1);
        for text in [
            "--scenario retr",
            "(vsFTPd 3.0.3)",
            "12,345",
            "5.06",
            "connect-to-220",
            "reply_550_after_retr",
            "550 &lt;no&gt; such file",
        ] {
            assert!(html.contains(text), "{text} missing");
        }
        assert!(!html.contains("<no>"));

        let open = LoadReport {
            open_loop_rate: Some(200.0),
            dropped_too_many_in_flight: Some(17),
            ..report
        };
        let html = open.html_page(&run_info());
        assert_well_formed(&html);
        assert!(html.contains("open loop, 200 sessions/s (at most 8 in flight)"));
        assert!(html.contains("17 sessions due were not started"));
    }

    #[test]
    fn an_idle_page_without_latencies_or_memory_is_well_formed() {
        let mut report = IdleReport {
            server: "[::1]:21".parse().unwrap(),
            sessions: 6,
            logged_in: 0,
            held_at_end: 0,
            open_s: 0.0,
            held_s: 0.0,
            keepalive_rounds: 0,
            memory: None,
            latency_us: BTreeMap::new(),
            errors_total: 6,
            errors: [("connection_refused_connect".to_string(), 6)].into(),
            error_texts: [(
                "connection_refused_connect".to_string(),
                "connection refused (connect)".to_string(),
            )]
            .into(),
            tls: None,
        };
        let html = report.html_page(&run_info());
        assert_well_formed(&html);
        assert!(html.contains("no samples"));
        assert!(html.contains("6 of the 6 sessions"));

        let tree = |pss_kib| TreeMemory {
            processes: 1,
            pss_kib,
        };
        report.latency_us = latencies();
        report.memory = Some(IdleMemory {
            server_pid: 42,
            before: tree(1_000),
            holding: tree(7_000),
            pss_kib_per_session: 1_166.7,
            added_pss_kib_per_session: 1_000.0,
        });
        let html = report.html_page(&run_info());
        assert_well_formed(&html);
        assert!(html.contains("Server memory"));
        assert!(html.contains("7,000"));
    }
}
