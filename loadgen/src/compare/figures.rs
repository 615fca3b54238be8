//! Which figures of each kind of report are compared, which direction is better for each, and when a change is a regression.

use std::fmt;

use serde_json::Value;

use crate::document::SCHEMA_VERSION;
use crate::verdict::Verdict;

/// Which way a figure improves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

impl fmt::Display for Better {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Better::Higher => "higher",
            Better::Lower => "lower",
        })
    }
}

/// One figure of both runs; `None` where a run has no value (no samples).
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// The field's path in the JSON, `/` between levels (`latency_us/RETR/p99`).
    pub name: String,
    pub better: Better,
    pub baseline: Option<f64>,
    pub current: Option<f64>,
}

impl Figure {
    /// Change from the baseline, percent of the baseline; `None` when either value is missing
    /// or the baseline is 0.
    pub fn change_percent(&self) -> Option<f64> {
        let (baseline, current) = (self.baseline?, self.current?);
        (baseline != 0.0).then(|| (current - baseline) * 100.0 / baseline.abs())
    }

    /// How much worse the current value is, percent of the baseline (negative: better). A
    /// zero baseline makes any worsening infinite: from no loss to some loss is a regression
    /// whatever the tolerance.
    pub fn worsening_percent(&self) -> Option<f64> {
        let (baseline, current) = (self.baseline?, self.current?);
        let worse_by = match self.better {
            Better::Higher => baseline - current,
            Better::Lower => current - baseline,
        };
        if baseline == 0.0 {
            return Some(if worse_by > 0.0 { f64::INFINITY } else { 0.0 });
        }
        Some(worse_by * 100.0 / baseline.abs())
    }

    pub fn regressed(&self, tolerance_percent: f64) -> bool {
        self.worsening_percent()
            .is_some_and(|worse| worse > tolerance_percent)
    }
}

/// Why two documents cannot be compared.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Incomparable {
    #[error("the {0} is not a ringload report of schema {SCHEMA_VERSION} (its \"schema\" is {1})")]
    Schema(&'static str, String),
    #[error("cannot compare reports of different kinds: the baseline is {baseline}, the current run {current}")]
    Kinds { baseline: String, current: String },
    #[error("{0} reports have no figures to compare")]
    NoFigures(String),
    #[error(
        "cannot compare latencies measured differently: the baseline's are {baseline}, the \
         current run's {current}"
    )]
    Methods { baseline: String, current: String },
}

/// The two runs' figures, in a fixed order.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// `SUBCOMMAND/MODE`, e.g. `ntp/run` or `ftp/retr`.
    pub kind: String,
    pub figures: Vec<Figure>,
}

fn kind(document: &Value, which: &'static str) -> Result<String, Incomparable> {
    if document["schema"] != SCHEMA_VERSION {
        return Err(Incomparable::Schema(which, document["schema"].to_string()));
    }
    let text = |key: &str| document[key].as_str().unwrap_or("?").to_string();
    Ok(format!("{}/{}", text("subcommand"), text("mode")))
}

/// The fields compared for a kind of run; latency steps are added from the reports.
fn fixed_fields(kind: &str) -> Option<&'static [(&'static str, Better)]> {
    use Better::{Higher, Lower};
    Some(match kind {
        "ntp/run" => &[
            ("answered_rate", Higher),
            ("loss_percent", Lower),
            ("latency_us/p50", Lower),
            ("latency_us/p99", Lower),
            ("latency_us/p99_9", Lower),
            ("response_us/p50", Lower),
            ("response_us/p99", Lower),
            ("offset_abs_p99_us", Lower),
            ("invalid_total", Lower),
            ("kod_total", Lower),
        ],
        "ntp/ramp" => &[("max_rate", Higher)],
        "ftp/idle" => &[
            ("held_at_end", Higher),
            ("memory/pss_kib_per_session", Lower),
            ("memory/added_pss_kib_per_session", Lower),
            ("errors_total", Lower),
        ],
        "ftp/login" | "ftp/retr" | "ftp/stor" | "ftp/mixed" => &[
            ("sessions_per_s", Higher),
            ("transfers_per_s", Higher),
            ("bytes_per_s", Higher),
            ("sessions_failed", Lower),
            ("errors_total", Lower),
        ],
        "nts-ke/handshakes" => &[
            ("handshakes_per_s", Higher),
            ("handshakes_failed", Lower),
            ("errors_total", Lower),
        ],
        _ => return None,
    })
}

fn number_at(document: &Value, path: &str) -> Option<f64> {
    let pointer: String = path
        .split('/')
        .map(|part| format!("/{}", part.replace('~', "~0")))
        .collect();
    document.pointer(&pointer)?.as_f64()
}

/// The steps of a `latency_us` map of steps (FTP, NTS-KE), in either report, sorted.
fn latency_steps(baseline: &Value, current: &Value) -> Vec<String> {
    let mut steps: Vec<String> = [baseline, current]
        .iter()
        .filter_map(|document| document["latency_us"].as_object())
        .flat_map(|steps| steps.keys().cloned())
        .collect();
    steps.sort();
    steps.dedup();
    steps
}

/// How a report's latencies were measured, where a run can choose: NTP's T1 (`--kernel-t1`)
/// and FTP's closed or open loop (`--open-loop-rate`).
fn latency_method(document: &Value) -> &'static str {
    match document["subcommand"].as_str() {
        Some("ntp") if document["t1_source"] == "kernel" => "from the kernel's T1",
        Some("ntp") => "from the clock read before the send",
        Some("ftp") if document.get("open_loop_rate").is_some() => "open-loop",
        Some("ftp") => "closed-loop",
        _ => "as this subcommand measures them",
    }
}

/// The figures of two reports of one kind.
pub fn compare(baseline: &Value, current: &Value) -> Result<Comparison, Incomparable> {
    let baseline_kind = kind(baseline, "baseline")?;
    let current_kind = kind(current, "current run")?;
    if baseline_kind != current_kind {
        return Err(Incomparable::Kinds {
            baseline: baseline_kind,
            current: current_kind,
        });
    }
    let (baseline_method, current_method) = (latency_method(baseline), latency_method(current));
    if baseline_method != current_method {
        return Err(Incomparable::Methods {
            baseline: baseline_method.to_string(),
            current: current_method.to_string(),
        });
    }
    let fields = fixed_fields(&baseline_kind)
        .ok_or_else(|| Incomparable::NoFigures(baseline_kind.clone()))?;
    let mut names: Vec<(String, Better)> = fields
        .iter()
        .map(|(name, better)| (name.to_string(), *better))
        .collect();
    if baseline_kind != "ntp/run" {
        for step in latency_steps(baseline, current) {
            for percentile in ["p50", "p99"] {
                names.push((format!("latency_us/{step}/{percentile}"), Better::Lower));
            }
        }
    }
    let figures = names
        .into_iter()
        .map(|(name, better)| Figure {
            baseline: number_at(baseline, &name),
            current: number_at(current, &name),
            name,
            better,
        })
        .filter(|figure| figure.baseline.is_some() || figure.current.is_some())
        .collect();
    Ok(Comparison {
        kind: baseline_kind,
        figures,
    })
}

fn cell(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.2}"))
}

impl Comparison {
    /// One line per figure: baseline, current, change, which way is better, and whether it
    /// regressed past `tolerance_percent`.
    pub fn table(&self, tolerance_percent: f64) -> String {
        let mut table = format!(
            "ringload compare {} (tolerance {tolerance_percent}%)\n{:<36} {:>14} {:>14} {:>9}  {:<7} verdict\n",
            self.kind, "figure", "baseline", "current", "change", "better"
        );
        for figure in &self.figures {
            // A change that rounds to 0 reads 0.0%, not -0.0%.
            let change = figure
                .change_percent()
                .map(|c| if c.abs() < 0.05 { 0.0 } else { c })
                .map_or_else(|| "-".to_string(), |c| format!("{c:+.1}%"));
            let verdict = if figure.regressed(tolerance_percent) {
                "REGRESSED"
            } else if figure.baseline.is_none() || figure.current.is_none() {
                "not in both"
            } else {
                "ok"
            };
            table.push_str(&format!(
                "{:<36} {:>14} {:>14} {:>9}  {:<7} {verdict}\n",
                figure.name,
                cell(figure.baseline),
                cell(figure.current),
                change,
                figure.better.to_string(),
            ));
        }
        table
    }

    /// A failed check when any figure regressed past `tolerance_percent`, one reason per
    /// figure.
    pub fn verdict(&self, tolerance_percent: f64) -> Verdict {
        let reasons: Vec<String> = self
            .figures
            .iter()
            .filter(|figure| figure.regressed(tolerance_percent))
            .map(|figure| {
                let worse = figure
                    .worsening_percent()
                    .filter(|worse| worse.is_finite())
                    .map_or_else(
                        || "worse than a baseline of 0".to_string(),
                        |worse| format!("{worse:.1}% worse than the baseline"),
                    );
                format!(
                    "regressed: {} {worse} ({} is better; tolerance {tolerance_percent}%)",
                    figure.name, figure.better
                )
            })
            .collect();
        if reasons.is_empty() {
            Verdict::Passed
        } else {
            Verdict::CheckFailed { reasons }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ntp_run(answered_rate: f64, loss: f64, p99: f64) -> Value {
        json!({
            "schema": 1, "subcommand": "ntp", "mode": "run",
            "answered_rate": answered_rate, "loss_percent": loss,
            "latency_us": {"p50": 30.0, "p90": 40.0, "p99": p99, "p99_9": 90.0, "max": 200.0},
            "response_us": null,
            "offset_abs_p99_us": 2.0, "invalid_total": 0, "kod_total": 0
        })
    }

    #[test]
    fn identical_reports_pass() {
        let run = ntp_run(10_000.0, 0.1, 60.0);
        let comparison = compare(&run, &run).unwrap();
        assert_eq!(comparison.verdict(5.0), Verdict::Passed);
        assert!(comparison
            .figures
            .iter()
            .all(|f| f.change_percent() == Some(0.0) || f.baseline == Some(0.0)));
        // No samples in either run: no row.
        assert!(!comparison
            .figures
            .iter()
            .any(|f| f.name.starts_with("response_us")));
    }

    #[test]
    fn a_lower_rate_or_a_higher_latency_past_the_tolerance_regresses() {
        let baseline = ntp_run(10_000.0, 0.1, 60.0);
        let current = ntp_run(9_000.0, 0.1, 62.0);
        let comparison = compare(&baseline, &current).unwrap();
        let verdict = comparison.verdict(5.0);
        assert_eq!(verdict.exit_code(), 1);
        assert_eq!(
            verdict.lines(),
            vec!["regressed: answered_rate 10.0% worse than the baseline (higher is better; tolerance 5%)"]
        );
        // 62 us against 60 us is 3.3 % worse: within 5 %, past 3 %.
        assert_eq!(
            compare(&baseline, &ntp_run(10_000.0, 0.1, 62.0))
                .unwrap()
                .verdict(3.0)
                .exit_code(),
            1
        );
        let table = comparison.table(5.0);
        assert!(table.contains("answered_rate"), "{table}");
        assert!(table.contains("-10.0%"), "{table}");
        assert!(table.contains("REGRESSED"), "{table}");
    }

    #[test]
    fn improvements_never_regress() {
        let baseline = ntp_run(10_000.0, 1.0, 60.0);
        let better = ntp_run(20_000.0, 0.0, 30.0);
        assert_eq!(
            compare(&baseline, &better).unwrap().verdict(0.0),
            Verdict::Passed
        );
    }

    #[test]
    fn loss_from_nothing_regresses_whatever_the_tolerance() {
        let baseline = ntp_run(10_000.0, 0.0, 60.0);
        let current = ntp_run(10_000.0, 0.01, 60.0);
        let comparison = compare(&baseline, &current).unwrap();
        assert_eq!(
            comparison.verdict(50.0).lines(),
            vec!["regressed: loss_percent worse than a baseline of 0 (lower is better; tolerance 50%)"]
        );
        let loss = &comparison.figures[1];
        assert_eq!(loss.name, "loss_percent");
        assert_eq!(loss.change_percent(), None);
    }

    #[test]
    fn latency_steps_of_either_report_are_compared() {
        let baseline = json!({
            "schema": 1, "subcommand": "ftp", "mode": "retr",
            "sessions_per_s": 100.0, "transfers_per_s": 100.0, "bytes_per_s": 1e6,
            "sessions_failed": 0, "errors_total": 0,
            "latency_us": {"RETR": {"count": 5, "p50": 100.0, "p90": 1.0, "p99": 200.0, "p99_9": 1.0, "max": 1.0}}
        });
        let mut current = baseline.clone();
        current["latency_us"]["RETR"]["p99"] = json!(400.0);
        let comparison = compare(&baseline, &current).unwrap();
        assert_eq!(
            comparison.verdict(5.0).lines(),
            vec!["regressed: latency_us/RETR/p99 100.0% worse than the baseline (lower is better; tolerance 5%)"]
        );
    }

    #[test]
    fn different_kinds_or_schemas_cannot_be_compared() {
        let ntp = ntp_run(10_000.0, 0.0, 60.0);
        let mut ramp = ntp.clone();
        ramp["mode"] = json!("ramp");
        assert_eq!(
            compare(&ntp, &ramp),
            Err(Incomparable::Kinds {
                baseline: "ntp/run".into(),
                current: "ntp/ramp".into()
            })
        );
        let mut unversioned = ntp.clone();
        unversioned.as_object_mut().unwrap().remove("schema");
        assert!(matches!(
            compare(&unversioned, &ntp),
            Err(Incomparable::Schema("baseline", _))
        ));
        let mut limits = ntp.clone();
        limits["subcommand"] = json!("ftp-limits");
        limits["mode"] = json!("check");
        assert!(matches!(
            compare(&limits, &limits),
            Err(Incomparable::NoFigures(_))
        ));
    }

    #[test]
    fn latencies_measured_differently_cannot_be_compared() {
        let userspace = ntp_run(10_000.0, 0.0, 60.0);
        let mut kernel = userspace.clone();
        kernel["t1_source"] = json!("kernel");
        assert!(matches!(
            compare(&userspace, &kernel),
            Err(Incomparable::Methods { .. })
        ));
        assert!(compare(&kernel, &kernel).is_ok());
        let closed = json!({
            "schema": 1, "subcommand": "ftp", "mode": "login",
            "sessions_per_s": 100.0, "sessions_failed": 0, "errors_total": 0,
            "latency_us": {}
        });
        let mut open = closed.clone();
        open["open_loop_rate"] = json!(100.0);
        let refused = compare(&closed, &open).unwrap_err().to_string();
        assert!(
            refused.contains("closed-loop") && refused.contains("open-loop"),
            "{refused}"
        );
    }
}
