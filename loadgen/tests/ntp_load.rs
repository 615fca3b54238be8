//! End to end over loopback: `ringload ntp` against the `udp-reflector` binary, read through `--json`.

use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStderr, Command, Stdio};

use ringd_sys::test_dirs::TempDir;

/// A running reflector; killed if a test fails before stopping it.
struct Reflector {
    child: Child,
    stderr: Lines<BufReader<ChildStderr>>,
    address: String,
}

impl Reflector {
    /// Starts the reflector on an ephemeral port and waits for its readiness line.
    fn start() -> Reflector {
        let mut child = Command::new(env!("CARGO_BIN_EXE_udp-reflector"))
            .args(["--bind", "127.0.0.1:0"])
            .stderr(Stdio::piped())
            .spawn()
            .expect("udp-reflector starts");
        let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
        let address = loop {
            let line = stderr
                .next()
                .expect("udp-reflector exited before listening")
                .expect("readable stderr");
            if let Some(address) = line.strip_prefix("listening on ") {
                break address.to_string();
            }
        };
        Reflector {
            child,
            stderr,
            address,
        }
    }

    /// Sends SIGTERM, returns whether it exited with status 0 and its last stderr line.
    fn stop(mut self) -> (bool, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let exit = self.child.wait().expect("reflector exits");
        let last_line = self
            .stderr
            .by_ref()
            .map_while(Result::ok)
            .last()
            .unwrap_or_default();
        (exit.success(), last_line)
    }
}

impl Drop for Reflector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `count` with its thousands grouped by commas, as the HTML page writes counts.
fn grouped(count: u64) -> String {
    let digits = count.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn ringload(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ringload"))
        .args(args)
        .output()
        .expect("ringload runs")
}

#[test]
fn ringload_counts_every_reflected_reply_as_answered() {
    let reflector = Reflector::start();
    let dir = TempDir::new("ringload-ntp-test");
    let html = dir.join("report.html");
    let output = ringload(&[
        "ntp",
        &reflector.address,
        "--rate",
        "2000",
        "--duration",
        "0.5",
        "--clients",
        "4",
        "--json",
        "--html",
        html.to_str().expect("a UTF-8 temporary path"),
    ]);
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON object");
    // A generator that fell behind its schedule (a busy machine) measured nothing: exit 2.
    let expected = if report["generator_fell_behind"] == true {
        2
    } else {
        0
    };
    assert_eq!(
        output.status.code(),
        Some(expected),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answered = report["answered"].as_u64().unwrap();
    assert!(answered > 0, "{report:#}");
    assert_eq!(report["invalid_total"], 0, "{report:#}");
    assert_eq!(report["kod_total"], 0, "{report:#}");
    assert_eq!(report["sent"], 1_000, "{report:#}");
    assert_eq!(report["clients"], 4);
    assert!(
        report["latency_us"]["p99"].as_f64().unwrap() > 0.0,
        "{report:#}"
    );
    let page = std::fs::read_to_string(&html).expect("the --html file was written");
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(page.contains("<svg"), "{page}");
    let answered_row = format!("<td>answered</td><td>{}</td>", grouped(answered));
    assert!(page.contains(&answered_row), "{answered_row} not on {page}");

    let (exited_cleanly, last_line) = reflector.stop();
    assert!(exited_cleanly, "SIGTERM makes the reflector exit 0");
    let reflected: u64 = last_line
        .strip_prefix("stopping after ")
        .and_then(|rest| rest.strip_suffix(" replies"))
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("unexpected last line {last_line:?}"));
    assert!(reflected >= answered);
}

#[test]
fn ramp_reports_a_maximum_rate() {
    let reflector = Reflector::start();
    let output = ringload(&[
        "ntp",
        &reflector.address,
        "--ramp",
        "--rate",
        "1000",
        "--max-rate",
        "2250",
        "--step-duration",
        "0.2",
        "--json",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON object");
    let steps = report["steps"].as_array().unwrap();
    let rates: Vec<f64> = steps
        .iter()
        .map(|s| s["target_rate"].as_f64().unwrap())
        .collect();
    // The steps grow by 1.5 up to the cap. On a loaded machine a step may lose packets, or
    // the generator fall behind, and end the ramp early; then the report must say which.
    assert_eq!(rates[0], 1_000.0);
    assert!(rates.windows(2).all(|w| w[1] == w[0] * 1.5), "{rates:?}");
    match report["stop_reason"].as_str() {
        Some("max-rate-reached") => {
            assert_eq!(rates, vec![1_000.0, 1_500.0, 2_250.0]);
            // A step whose load the generator could not offer proves nothing about the server.
            if steps.iter().all(|s| s["generator_fell_behind"] == false) {
                assert_eq!(report["max_rate"], 2_250.0, "{report:#}");
            } else {
                assert!(
                    report["max_rate"].as_f64().unwrap_or(0.0) <= 2_250.0,
                    "{report:#}"
                );
            }
        }
        Some("loss-above-limit") => {
            assert!(
                report["max_rate"].as_f64().unwrap_or(0.0) < *rates.last().unwrap(),
                "{report:#}"
            )
        }
        // A busy machine may also leave the generator behind its own schedule.
        Some("generator-fell-behind") => {
            assert!(steps.iter().any(|s| s["generator_fell_behind"] == true))
        }
        other => panic!("unexpected stop reason {other:?}: {report:#}"),
    }
}

#[test]
fn ringload_refuses_destinations_off_this_machine() {
    let output = ringload(&["ntp", "192.0.2.1:123", "--duration", "0.1"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a loopback address"), "{stderr}");
}
