//! End to end over loopback: two `ringload ntp --start-at` runs against one ringd, merged by `ringload merge` into exact sums and percentiles.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::assert_matches_schema;
use common::{describe, ringload};
use ntp_ringd::Ringd;
use ringd_sys::test_dirs::TempDir;
use ringload::histogram_text::decode;

mod common;
#[path = "common/ntp_ringd.rs"]
mod ntp_ringd;

/// How far ahead the shared start is set: room for both processes to start on a busy machine.
const START_LEAD: Duration = Duration::from_secs(3);

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("the document was written");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

fn p99_us(document: &serde_json::Value) -> f64 {
    document["latency_us"]["p99"]
        .as_f64()
        .expect("latency percentiles")
}

#[test]
fn runs_started_together_merge_into_exact_sums_and_percentiles() {
    let ringd = Ringd::start();
    let dir = TempDir::new("ringload-merge");
    let start = SystemTime::now() + START_LEAD;
    let start_at = format!(
        "{:.3}",
        start.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
    );
    let paths = [dir.join("a.json"), dir.join("b.json")];
    let mut runs: Vec<_> = paths
        .iter()
        .map(|path| {
            Command::new(env!("CARGO_BIN_EXE_ringload"))
                .args(["ntp", &ringd.ntp, "--rate", "400", "--duration", "0.5"])
                .args(["--clients", "4", "--json", "--start-at", &start_at])
                .stdout(File::create(path).expect("document file"))
                .stderr(Stdio::null())
                .spawn()
                .expect("ringload starts")
        })
        .collect();
    let statuses: Vec<_> = runs
        .iter_mut()
        .map(|run| run.wait().expect("ringload exits"))
        .collect();
    let parts: Vec<_> = paths.iter().map(|path| read_json(path)).collect();
    for (status, part) in statuses.iter().zip(&parts) {
        assert!(matches!(status.code(), Some(0 | 2)), "{status} {part:#}");
        let started = ringload::start_at::parse_rfc3339_utc(part["started_at"].as_str().unwrap())
            .expect("an RFC 3339 started_at");
        // started_at is written to the millisecond, rounded down.
        assert!(
            started + Duration::from_millis(1) >= start,
            "{part:#} began before --start-at {start_at}"
        );
    }

    let names: Vec<&str> = paths.iter().map(|p| p.to_str().unwrap()).collect();
    let merged_output = ringload(&["merge", names[0], names[1], "--json"]);
    let merged: serde_json::Value = serde_json::from_slice(&merged_output.stdout)
        .unwrap_or_else(|_| panic!("{}", describe(&merged_output)));
    assert_matches_schema(&merged);
    let behind = parts.iter().any(|p| p["generator_fell_behind"] == true);
    assert_eq!(
        merged_output.status.code(),
        Some(if behind { 2 } else { 0 }),
        "{}",
        describe(&merged_output)
    );
    assert_eq!(merged["merged_from"], serde_json::json!(names));
    assert_eq!(
        (merged["subcommand"].as_str(), merged["mode"].as_str()),
        (Some("ntp"), Some("run"))
    );
    for count in [
        "sent",
        "answered",
        "lost",
        "timed_samples",
        "kod_total",
        "invalid_total",
    ] {
        assert_eq!(
            merged[count].as_u64(),
            Some(parts[0][count].as_u64().unwrap() + parts[1][count].as_u64().unwrap()),
            "{count}"
        );
    }
    assert!(merged["answered"].as_u64().unwrap() > 0, "{merged:#}");

    let mut all = decode(parts[0]["latency_histogram_ns"].as_str().unwrap()).unwrap();
    all.add(decode(parts[1]["latency_histogram_ns"].as_str().unwrap()).unwrap())
        .unwrap();
    assert_eq!(all.len(), merged["timed_samples"].as_u64().unwrap());
    assert_eq!(
        p99_us(&merged),
        all.value_at_quantile(0.99) as f64 / 1_000.0
    );
    assert_eq!(
        decode(merged["latency_histogram_ns"].as_str().unwrap()).unwrap(),
        all
    );

    let doubled_output = ringload(&["merge", names[0], names[0], "--json"]);
    let doubled: serde_json::Value = serde_json::from_slice(&doubled_output.stdout)
        .unwrap_or_else(|_| panic!("{}", describe(&doubled_output)));
    assert_eq!(
        doubled["sent"].as_u64(),
        parts[0]["sent"].as_u64().map(|n| 2 * n)
    );
    assert_eq!(doubled["latency_us"], parts[0]["latency_us"]);
    assert_eq!(doubled["response_us"], parts[0]["response_us"]);

    let human = ringload(&["merge", names[0], names[1]]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.starts_with(&format!("merged from {}, {}\n", names[0], names[1])),
        "{text}"
    );
    assert!(
        text.contains(&format!("{} replies", merged["answered"])),
        "{text}"
    );
}

/// A minimal document envelope of `subcommand` and `mode`.
fn envelope(subcommand: &str, mode: &str) -> serde_json::Value {
    serde_json::json!({
        "schema": 1,
        "tool": {"name": "ringload", "version": "0.1.0"},
        "subcommand": subcommand,
        "mode": mode,
        "started_at": "2026-01-02T03:04:05.678Z",
        "command": ["ringload"],
        "target": "127.0.0.1:123",
        "verdict": {"outcome": "passed"}
    })
}

#[test]
fn documents_of_other_kinds_are_refused_with_exit_2() {
    let dir = TempDir::new("ringload-merge-kinds");
    let write = |name: &str, document: &serde_json::Value| {
        let path = dir.write(name, document.to_string());
        path.to_str().unwrap().to_string()
    };
    let run = write("run.json", &envelope("ntp", "run"));
    let ramp = write("ramp.json", &envelope("ntp", "ramp"));
    let retr = write("retr.json", &envelope("ftp", "retr"));
    let mut old_schema = envelope("ntp", "run");
    old_schema["schema"] = 2.into();
    let old_schema = write("schema2.json", &old_schema);

    let cases = [
        (&run, &ramp, "is a `ntp ramp` document and"),
        (&ramp, &ramp, "merge combines fixed-rate NTP runs"),
        (&retr, &retr, "merge combines fixed-rate NTP runs"),
        (
            &run,
            &old_schema,
            "schema 2, this ringload merges schema 1 documents",
        ),
        (&run, &run, "not a complete `ntp run` document"),
    ];
    for (first, second, expected) in cases {
        let output = ringload(&["merge", first, second]);
        assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

#[test]
fn a_start_time_already_past_is_refused_before_any_load() {
    let output = ringload(&["ntp", "127.0.0.1:9", "--start-at", "2000-01-01T00:00:00Z"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--start-at 2000-01-01T00:00:00Z passed"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}
