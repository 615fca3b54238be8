//! End to end over loopback: ringload's exit codes (0 measured and within thresholds, 1 a threshold broken, 2 could not measure), its versioned JSON against the checked-in schema, and `ringload compare`.

use std::net::UdpSocket;
use std::process::Output;

use common::{assert_matches_schema, describe, ringload, schema_violations};
use ntp_ringd::Ringd;
use ringd_sys::test_dirs::TempDir;

mod common;
#[path = "common/ntp_ringd.rs"]
mod ntp_ringd;

/// Runs of a test that needs the generator on schedule: on a machine busy with other work a
/// run may fall behind (exit 2, and the report says so), and is then run again.
const SCHEDULE_ATTEMPTS: usize = 5;

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", describe(output)))
}

/// A short fixed-rate run against `server` with `flags`, run again while the generator fell
/// behind its schedule (which says nothing about the server).
fn ntp_on_schedule(server: &str, flags: &[&str]) -> (Output, serde_json::Value) {
    let args = [
        &[
            "ntp",
            server,
            "--rate",
            "500",
            "--duration",
            "0.4",
            "--json",
        ][..],
        flags,
    ]
    .concat();
    for _ in 1..SCHEDULE_ATTEMPTS {
        let output = ringload(&args);
        let report = json(&output);
        if !fell_behind(&output, &report) {
            return (output, report);
        }
    }
    let output = ringload(&args);
    let report = json(&output);
    (output, report)
}

/// Whether the generator fell behind its schedule; if so, checks that the run said so the
/// way it must whatever its thresholds: exit 2, reason `generator_fell_behind`, one line.
fn fell_behind(output: &Output, report: &serde_json::Value) -> bool {
    if report["generator_fell_behind"] != true {
        return false;
    }
    assert_eq!(output.status.code(), Some(2), "{}", describe(output));
    assert_eq!(
        report["verdict"]["reason"], "generator_fell_behind",
        "{report:#}"
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("the generator fell behind"),
        "{}",
        describe(output)
    );
    true
}

/// Stops a test whose every run fell behind: what it checks needs a run on schedule.
fn skip_when_behind(test: &str) {
    eprintln!(
        "{test}: every one of {SCHEDULE_ATTEMPTS} runs fell behind its schedule (a busy machine); \
         exit 2 checked, the rest not"
    );
}

#[test]
fn ntp_against_a_port_with_nothing_listening_exits_2() {
    let closed = {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("an ephemeral port");
        socket.local_addr().expect("its address").to_string()
    };
    let output = ringload(&[
        "ntp",
        &closed,
        "--rate",
        "200",
        "--duration",
        "0.2",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let report = json(&output);
    assert_matches_schema(&report);
    assert_eq!(report["answered"], 0, "{report:#}");
    assert_eq!(report["loss_percent"], 100.0, "{report:#}");
    assert_eq!(report["verdict"]["outcome"], "unmeasured", "{report:#}");
    assert_eq!(
        report["verdict"]["reason"], "nothing_answered",
        "{report:#}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("could not measure: nothing answered"),
        "{stderr}"
    );
    // The schema holds every field to its documented shape: an undocumented field, a
    // missing one or a wrong type is refused.
    let mut extra = report.clone();
    extra["surprise"] = serde_json::json!(1);
    assert!(!schema_violations(&extra).is_empty());
    let mut missing = report.clone();
    missing.as_object_mut().unwrap().remove("answered");
    assert!(!schema_violations(&missing).is_empty());
    let mut mistyped = report.clone();
    mistyped["sent"] = serde_json::json!("none");
    assert!(!schema_violations(&mistyped).is_empty());
    let mut unstable_key = report.clone();
    unstable_key["invalid"] = serde_json::json!({"Wrong Mode": 1});
    assert!(!schema_violations(&unstable_key).is_empty());
    let mut unversioned = report.clone();
    unversioned["schema"] = serde_json::json!(2);
    assert!(!schema_violations(&unversioned).is_empty());
    // Without --json too, and whatever the thresholds.
    let output = ringload(&[
        "ntp",
        &closed,
        "--rate",
        "200",
        "--duration",
        "0.2",
        "--max-loss",
        "100",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
}

#[test]
fn a_latency_threshold_no_server_meets_exits_1_and_names_it() {
    let ringd = Ringd::start();
    let (output, report) = ntp_on_schedule(&ringd.ntp, &["--max-p99", "1us"]);
    assert_matches_schema(&report);
    if fell_behind(&output, &report) {
        return skip_when_behind("a_latency_threshold_no_server_meets_exits_1_and_names_it");
    }
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert_eq!(report["verdict"]["outcome"], "broken", "{report:#}");
    let breach = &report["verdict"]["breaches"][0];
    assert_eq!(breach["threshold"], "--max-p99", "{report:#}");
    assert_eq!(breach["limit"], 1.0, "{report:#}");
    assert_eq!(
        breach["measured"], report["latency_us"]["p99"],
        "{report:#}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|line| line.contains("threshold broken: --max-p99 1 us: latency p99 measured "))
        .unwrap_or_else(|| panic!("no threshold line in {stderr}"));
    assert!(line.ends_with(" us"), "{line}");
}

#[test]
fn generous_thresholds_exit_0_and_the_json_says_what_ran() {
    let ringd = Ringd::start();
    let flags = [
        "--max-loss",
        "50%",
        "--max-p99",
        "1s",
        "--max-p99-server",
        "1s",
        "--min-rate",
        "1/s",
        "--max-errors",
        "1000",
    ];
    let (output, report) = ntp_on_schedule(&ringd.ntp, &flags);
    assert_matches_schema(&report);
    if fell_behind(&output, &report) {
        return skip_when_behind("generous_thresholds_exit_0_and_the_json_says_what_ran");
    }
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(output.stderr.is_empty(), "{}", describe(&output));
    assert_eq!(report["schema"], 1);
    assert_eq!(report["tool"]["name"], "ringload");
    assert_eq!(report["tool"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(report["subcommand"], "ntp");
    assert_eq!(report["mode"], "run");
    assert_eq!(report["target"], ringd.ntp.as_str());
    assert_eq!(report["command"][1], "ntp");
    assert_eq!(report["command"][2], ringd.ntp.as_str());
    assert_eq!(report["verdict"], serde_json::json!({"outcome": "passed"}));
    assert!(report["answered"].as_u64().unwrap() > 0, "{report:#}");
}

#[test]
fn a_ramp_is_held_to_its_highest_passing_rate() {
    let ringd = Ringd::start();
    let ramp = [
        "ntp",
        &ringd.ntp,
        "--ramp",
        "--rate",
        "200",
        "--max-rate",
        "300",
        "--step-duration",
        "0.2",
        "--json",
    ];
    let output = ringload(&ramp);
    let report = json(&output);
    assert_matches_schema(&report);
    assert_eq!(report["mode"], "ramp", "{report:#}");
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    // No server reaches a billion requests/s; a ramp the generator ended proves nothing.
    let output = ringload(&[&ramp[..], &["--min-rate", "1000000000"]].concat());
    let expected = if json(&output)["stop_reason"] == "generator-fell-behind" {
        2
    } else {
        1
    };
    assert_eq!(
        output.status.code(),
        Some(expected),
        "{}",
        describe(&output)
    );
    // Loss and latency are a fixed-rate run's to check.
    let output = ringload(&[&ramp[..], &["--max-loss", "1"]].concat());
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("with --ramp only --min-rate applies"),
        "{}",
        describe(&output)
    );
}

#[test]
fn compare_fails_a_regression_and_passes_identical_runs() {
    let ringd = Ringd::start();
    // Any run with latencies will do, on schedule or not: compare reads figures, not verdicts.
    let (_, baseline) = ntp_on_schedule(&ringd.ntp, &[]);
    let dir = TempDir::new("ringload-compare");
    let baseline_path = dir.write("baseline.json", baseline.to_string());
    let path = |p: &std::path::Path| p.to_str().expect("a UTF-8 temporary path").to_string();

    let same = ringload(&["compare", &path(&baseline_path), &path(&baseline_path)]);
    assert_eq!(same.status.code(), Some(0), "{}", describe(&same));
    let table = String::from_utf8_lossy(&same.stdout);
    assert!(table.contains("answered_rate"), "{table}");
    assert!(!table.contains("REGRESSED"), "{table}");

    // The same run with its p99 latency doubled: lower is better, so it regressed.
    let mut slower = baseline.clone();
    let p99 = baseline["latency_us"]["p99"].as_f64().expect("a p99");
    slower["latency_us"]["p99"] = serde_json::json!(p99 * 2.0);
    let slower_path = dir.write("slower.json", slower.to_string());
    let regressed = ringload(&[
        "compare",
        &path(&baseline_path),
        &path(&slower_path),
        "--tolerance",
        "5%",
    ]);
    assert_eq!(regressed.status.code(), Some(1), "{}", describe(&regressed));
    let table = String::from_utf8_lossy(&regressed.stdout);
    let row = table
        .lines()
        .find(|line| line.starts_with("latency_us/p99 "))
        .unwrap_or_else(|| panic!("no p99 row in {table}"));
    assert!(
        row.contains("+100.0%") && row.ends_with("REGRESSED"),
        "{row}"
    );
    let stderr = String::from_utf8_lossy(&regressed.stderr);
    assert!(
        stderr.contains(
            "regressed: latency_us/p99 100.0% worse than the baseline (lower is better; tolerance 5%)"
        ),
        "{stderr}"
    );

    // A ramp is not a fixed-rate run: nothing to compare.
    let mut ramp = baseline.clone();
    ramp["mode"] = serde_json::json!("ramp");
    let ramp_path = dir.write("ramp.json", ramp.to_string());
    let mismatched = ringload(&["compare", &path(&baseline_path), &path(&ramp_path)]);
    assert_eq!(
        mismatched.status.code(),
        Some(2),
        "{}",
        describe(&mismatched)
    );
    assert!(
        String::from_utf8_lossy(&mismatched.stderr)
            .contains("the baseline is ntp/run, the current run ntp/ramp"),
        "{}",
        describe(&mismatched)
    );
}
