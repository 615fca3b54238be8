//! Whether a run passed: its figures against the thresholds given, and the exit code that says so.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// Exit code of a run that measured and kept within every threshold.
pub const EXIT_PASSED: u8 = 0;
/// Exit code of a run that broke a threshold (or a check that found the server wrong).
pub const EXIT_BROKEN: u8 = 1;
/// Exit code of a run that could not measure: nothing answered, or the load asked for was
/// not offered. Command-line errors exit with it too: they measured nothing either.
pub const EXIT_UNMEASURED: u8 = 2;

/// The limits a run is held to; `None` means not checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Thresholds {
    /// Most loss, percent of the requests (NTP) or of the sessions/handshakes started.
    pub max_loss_percent: Option<f64>,
    /// Highest 99th percentile of the round-trip latency (every FTP/NTS-KE step's).
    pub max_p99: Option<Duration>,
    /// Highest 99th percentile of the server's own response time (NTP: T3 - T2).
    pub max_p99_server: Option<Duration>,
    /// Fewest successes per second (NTP replies, FTP sessions, NTS-KE handshakes; a ramp's
    /// highest passing rate).
    pub min_rate: Option<f64>,
    /// Most errors (invalid replies, KoD and refused sends for NTP; failures for the others).
    pub max_errors: Option<u64>,
}

impl Thresholds {
    /// Whether no threshold but `min_rate` is set (all a ramp can be held to).
    pub fn only_min_rate(&self) -> bool {
        self.max_loss_percent.is_none()
            && self.max_p99.is_none()
            && self.max_p99_server.is_none()
            && self.max_errors.is_none()
    }
}

/// The figures of a finished run that thresholds are checked against; each report builds its
/// own.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// Requests, sessions or handshakes that succeeded.
    pub succeeded: u64,
    pub loss_percent: f64,
    /// 99th percentiles of round-trip latency, microseconds, each named by what it times.
    pub latency_p99_us: Vec<(String, f64)>,
    /// 99th percentile of the server's response time, microseconds, where the protocol gives it.
    pub server_p99_us: Option<f64>,
    /// Successes per second; `None` when the run has no rate (FTP sessions held idle).
    pub rate: Option<f64>,
    pub errors: u64,
    /// The generator did not offer the load asked for: nothing the run measured counts.
    pub generator_fell_behind: bool,
    /// The rate is a lower bound, limited by the generator (a ramp that stopped because the
    /// generator fell behind): a rate under `min_rate` then proves nothing about the server.
    pub rate_is_lower_bound: bool,
}

/// One threshold a run broke.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Breach {
    /// The flag that set the threshold (`--max-p99`).
    pub threshold: String,
    /// What was measured (`latency p99`, `RETR p99`).
    pub figure: String,
    /// The threshold and the measured value, in the figure's unit.
    pub limit: f64,
    pub measured: f64,
    /// `us`, `%`, `/s` or an empty string for counts.
    pub unit: &'static str,
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sep = if self.unit.is_empty() || self.unit == "%" || self.unit == "/s" {
            ""
        } else {
            " "
        };
        write!(
            f,
            "threshold broken: {} {}{sep}{}: {} measured {}{sep}{}",
            self.threshold,
            short_number(self.limit),
            self.unit,
            self.figure,
            short_number(self.measured),
            self.unit
        )
    }
}

/// `value` with at most three decimals and none that are trailing zeros: `0.3`, `523.25`, `80`.
fn short_number(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Why a run measured nothing worth judging.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unmeasured {
    /// No request, session or handshake succeeded: the target is down or refuses everything.
    NothingAnswered,
    /// The generator fell behind its schedule: the load asked for was not offered.
    GeneratorFellBehind,
}

impl fmt::Display for Unmeasured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unmeasured::NothingAnswered => {
                "could not measure: nothing answered (is the target up and reachable?)"
            }
            Unmeasured::GeneratorFellBehind => {
                "could not measure: the generator fell behind its schedule, the load asked for \
                 was not offered (lower the rate, add --threads, or free a core)"
            }
        })
    }
}

/// The outcome of a run, serialised into its JSON as `verdict`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    Broken {
        breaches: Vec<Breach>,
    },
    /// A check (not a measurement) found the server wrong, or a comparison found a
    /// regression; one reason per finding.
    CheckFailed {
        reasons: Vec<String>,
    },
    Unmeasured {
        reason: Unmeasured,
    },
}

impl Verdict {
    /// `measured` against `thresholds`. Not measuring outranks breaking a threshold: figures
    /// from a run that did not get its load, or got no answer, say nothing about the server.
    pub fn judge(measured: &Measured, thresholds: &Thresholds) -> Verdict {
        if measured.succeeded == 0 {
            return Verdict::Unmeasured {
                reason: Unmeasured::NothingAnswered,
            };
        }
        if measured.generator_fell_behind {
            return Verdict::Unmeasured {
                reason: Unmeasured::GeneratorFellBehind,
            };
        }
        let mut breaches = Vec::new();
        let mut above = |threshold: &str, figure: &str, limit: f64, value: f64, unit| {
            if value > limit {
                breaches.push(Breach {
                    threshold: threshold.to_string(),
                    figure: figure.to_string(),
                    limit,
                    measured: value,
                    unit,
                });
            }
        };
        if let Some(limit) = thresholds.max_loss_percent {
            above("--max-loss", "loss", limit, measured.loss_percent, "%");
        }
        if let Some(limit) = thresholds.max_p99 {
            for (what, p99) in &measured.latency_p99_us {
                above(
                    "--max-p99",
                    &format!("{what} p99"),
                    micros(limit),
                    *p99,
                    "us",
                );
            }
        }
        if let (Some(limit), Some(p99)) = (thresholds.max_p99_server, measured.server_p99_us) {
            above(
                "--max-p99-server",
                "server response p99",
                micros(limit),
                p99,
                "us",
            );
        }
        if let Some(limit) = thresholds.max_errors {
            above(
                "--max-errors",
                "errors",
                limit as f64,
                measured.errors as f64,
                "",
            );
        }
        if let (Some(limit), Some(rate)) = (thresholds.min_rate, measured.rate) {
            if rate < limit {
                if measured.rate_is_lower_bound {
                    return Verdict::Unmeasured {
                        reason: Unmeasured::GeneratorFellBehind,
                    };
                }
                breaches.push(Breach {
                    threshold: "--min-rate".to_string(),
                    figure: "rate".to_string(),
                    limit,
                    measured: rate,
                    unit: "/s",
                });
            }
        }
        if breaches.is_empty() {
            Verdict::Passed
        } else {
            Verdict::Broken { breaches }
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Verdict::Passed => EXIT_PASSED,
            Verdict::Broken { .. } | Verdict::CheckFailed { .. } => EXIT_BROKEN,
            Verdict::Unmeasured { .. } => EXIT_UNMEASURED,
        }
    }

    /// The lines for stderr: one per broken threshold, or the reason nothing was measured;
    /// none for a pass.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Verdict::Passed => Vec::new(),
            Verdict::Broken { breaches } => breaches.iter().map(Breach::to_string).collect(),
            Verdict::CheckFailed { reasons } => reasons.clone(),
            Verdict::Unmeasured { reason } => vec![reason.to_string()],
        }
    }
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> Measured {
        Measured {
            succeeded: 1_000,
            loss_percent: 0.2,
            latency_p99_us: vec![("latency".into(), 80.0)],
            server_p99_us: Some(12.0),
            rate: Some(1_000.0),
            errors: 3,
            generator_fell_behind: false,
            rate_is_lower_bound: false,
        }
    }

    fn generous() -> Thresholds {
        Thresholds {
            max_loss_percent: Some(1.0),
            max_p99: Some(Duration::from_millis(2)),
            max_p99_server: Some(Duration::from_micros(500)),
            min_rate: Some(900.0),
            max_errors: Some(10),
        }
    }

    #[test]
    fn a_measured_run_without_thresholds_passes() {
        let verdict = Verdict::judge(&healthy(), &Thresholds::default());
        assert_eq!(verdict, Verdict::Passed);
        assert_eq!(verdict.exit_code(), 0);
        assert!(verdict.lines().is_empty());
    }

    #[test]
    fn a_run_within_every_threshold_exits_0() {
        assert_eq!(Verdict::judge(&healthy(), &generous()).exit_code(), 0);
    }

    #[test]
    fn each_broken_threshold_exits_1_with_its_own_line() {
        let strict = Thresholds {
            max_loss_percent: Some(0.1),
            max_p99: Some(Duration::from_micros(50)),
            max_p99_server: Some(Duration::from_micros(10)),
            min_rate: Some(2_000.0),
            max_errors: Some(2),
        };
        let verdict = Verdict::judge(&healthy(), &strict);
        assert_eq!(verdict.exit_code(), 1);
        let lines = verdict.lines();
        assert_eq!(
            lines,
            vec![
                "threshold broken: --max-loss 0.1%: loss measured 0.2%",
                "threshold broken: --max-p99 50 us: latency p99 measured 80 us",
                "threshold broken: --max-p99-server 10 us: server response p99 measured 12 us",
                "threshold broken: --max-errors 2: errors measured 3",
                "threshold broken: --min-rate 2000/s: rate measured 1000/s",
            ]
        );
    }

    #[test]
    fn measured_values_are_printed_short() {
        let mut measured = healthy();
        measured.loss_percent = 0.1 + 0.2;
        measured.latency_p99_us = vec![("latency".into(), 523.256_9)];
        let strict = Thresholds {
            max_loss_percent: Some(0.25),
            max_p99: Some(Duration::from_nanos(500)),
            ..Thresholds::default()
        };
        assert_eq!(
            Verdict::judge(&measured, &strict).lines(),
            vec![
                "threshold broken: --max-loss 0.25%: loss measured 0.3%",
                "threshold broken: --max-p99 0.5 us: latency p99 measured 523.257 us",
            ]
        );
    }

    #[test]
    fn every_step_is_held_to_the_latency_threshold() {
        let mut measured = healthy();
        measured.latency_p99_us = vec![("USER".into(), 300.0), ("RETR".into(), 3_000.0)];
        let verdict = Verdict::judge(&measured, &generous());
        assert_eq!(
            verdict.lines(),
            vec!["threshold broken: --max-p99 2000 us: RETR p99 measured 3000 us"]
        );
    }

    #[test]
    fn nothing_answered_exits_2_even_without_thresholds() {
        let mut down = healthy();
        down.succeeded = 0;
        down.loss_percent = 100.0;
        for thresholds in [Thresholds::default(), generous()] {
            let verdict = Verdict::judge(&down, &thresholds);
            assert_eq!(
                verdict,
                Verdict::Unmeasured {
                    reason: Unmeasured::NothingAnswered
                }
            );
            assert_eq!(verdict.exit_code(), 2);
            assert!(verdict.lines()[0].contains("nothing answered"));
        }
    }

    #[test]
    fn a_generator_behind_its_schedule_exits_2_before_any_threshold() {
        let mut behind = healthy();
        behind.generator_fell_behind = true;
        behind.loss_percent = 50.0;
        let verdict = Verdict::judge(&behind, &generous());
        assert_eq!(verdict.exit_code(), 2);
        assert!(verdict.lines()[0].contains("generator fell behind"));
    }

    #[test]
    fn a_lower_bound_rate_below_the_minimum_proves_nothing() {
        let mut ramp = healthy();
        ramp.rate_is_lower_bound = true;
        let thresholds = Thresholds {
            min_rate: Some(5_000.0),
            ..Thresholds::default()
        };
        assert!(thresholds.only_min_rate());
        assert!(!generous().only_min_rate());
        assert_eq!(Verdict::judge(&ramp, &thresholds).exit_code(), 2);
        ramp.rate = Some(6_000.0);
        assert_eq!(Verdict::judge(&ramp, &thresholds).exit_code(), 0);
    }

    #[test]
    fn a_run_without_a_rate_is_not_held_to_one() {
        let mut idle = healthy();
        idle.rate = None;
        let thresholds = Thresholds {
            min_rate: Some(5_000.0),
            ..Thresholds::default()
        };
        assert_eq!(Verdict::judge(&idle, &thresholds), Verdict::Passed);
    }

    #[test]
    fn the_verdict_serialises_with_its_outcome() {
        let verdict = Verdict::judge(
            &healthy(),
            &Thresholds {
                max_errors: Some(0),
                ..Thresholds::default()
            },
        );
        let json = serde_json::to_value(&verdict).unwrap();
        assert_eq!(json["outcome"], "broken");
        assert_eq!(json["breaches"][0]["threshold"], "--max-errors");
        assert_eq!(json["breaches"][0]["measured"], 3.0);
        let down = Verdict::Unmeasured {
            reason: Unmeasured::NothingAnswered,
        };
        assert_eq!(
            serde_json::to_value(&down).unwrap(),
            serde_json::json!({"outcome": "unmeasured", "reason": "nothing_answered"})
        );
        let wrong = Verdict::CheckFailed {
            reasons: vec!["max_clients not enforced".into()],
        };
        assert_eq!(wrong.exit_code(), 1);
        assert_eq!(wrong.lines(), vec!["max_clients not enforced"]);
        assert_eq!(
            serde_json::to_value(&wrong).unwrap()["outcome"],
            "check_failed"
        );
    }
}
