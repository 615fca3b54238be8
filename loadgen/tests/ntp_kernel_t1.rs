//! `ringload ntp --kernel-t1` against ringd over loopback: T1 from kernel TX timestamps, and the offset it measures.

use std::process::Output;

use common::assert_matches_schema;
use common::{describe, ringload};
use ntp_ringd::Ringd;

mod common;
#[path = "common/ntp_ringd.rs"]
mod ntp_ringd;

/// A moderate rate: every request is its own send, and the offset is measured, not the limit.
const RATE: &str = "5000";

/// The run's report from `--json` output; a run that measured (exit 0, or 2 when the
/// generator fell behind on a busy machine, which the report says) is required.
fn measured_run(output: &Output) -> serde_json::Value {
    let run: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", describe(output)));
    assert_matches_schema(&run);
    let fell_behind = run["generator_fell_behind"] == true;
    assert!(
        output.status.code() == Some(0) || (fell_behind && output.status.code() == Some(2)),
        "{}",
        describe(output)
    );
    run
}

fn count(run: &serde_json::Value, field: &str) -> u64 {
    run[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {run:#}"))
}

/// A `--kernel-t1` run at the moderate rate against a fresh ringd: its report, checked for
/// kernel timestamps on at least 99 % of the answered requests.
fn kernel_t1_run() -> serde_json::Value {
    let ringd = Ringd::start();
    let output = ringload(&[
        "ntp",
        &ringd.ntp,
        "--kernel-t1",
        "--rate",
        RATE,
        "--duration",
        "2",
        "--json",
    ]);
    let run = measured_run(&output);
    assert_eq!(run["t1_source"], "kernel", "{run:#}");
    let answered = count(&run, "answered");
    let timed = count(&run, "timed_samples");
    let missing = count(&run, "t1_kernel_missing");
    assert!(
        answered >= 9_000,
        "most of 10000 requests answered: {run:#}"
    );
    assert_eq!(
        timed + missing,
        answered,
        "every answer is timed by the kernel's T1 or counted without one: {run:#}"
    );
    assert!(
        timed * 100 >= answered * 99,
        "kernel TX timestamps for at least 99 % of the answered requests: {run:#}"
    );
    run
}

fn offset_mean_us(run: &serde_json::Value) -> f64 {
    run["offset_mean_us"]
        .as_f64()
        .unwrap_or_else(|| panic!("an offset mean in {run:#}"))
}

#[test]
fn kernel_t1_times_each_request_by_its_own_timestamp() {
    let run = kernel_t1_run();
    // A timestamp matched to a neighbouring request would move T1 by at least the 200 us between
    // sends at 5000/s, and the offset by half that.
    let mean = offset_mean_us(&run);
    assert!(
        mean.abs() <= 5.0,
        "mean offset {mean} us: timestamps matched to the wrong requests? {run:#}"
    );
}

/// Issue 19's acceptance figure. Against ringd as it is, kernel T1 shows what userspace T1
/// hid: ringd's basic-mode T3 is read before its send path, and the mean offset comes out
/// -1.5 to -1.8 us with a release ringd and -2.2 to -3.0 us with the debug one tests build, so
/// this holds only once ringd's T3 is no longer early.
#[test]
#[ignore = "ringd's basic-mode T3 is early: kernel T1 measures -1.5 to -3 us (issue 19)"]
fn kernel_t1_measures_ringds_offset_within_half_a_microsecond() {
    let run = kernel_t1_run();
    let mean = offset_mean_us(&run);
    assert!(
        mean.abs() <= 0.5,
        "mean offset {mean} us with kernel T1; client and server share the clock: {run:#}"
    );
}

#[test]
fn without_the_flag_t1_is_the_userspace_clock_read() {
    let ringd = Ringd::start();
    let output = ringload(&[
        "ntp",
        &ringd.ntp,
        "--rate",
        RATE,
        "--duration",
        "0.5",
        "--json",
    ]);
    let run = measured_run(&output);
    assert_eq!(run["t1_source"], "userspace", "{run:#}");
    assert_eq!(count(&run, "t1_kernel_missing"), 0, "{run:#}");
    assert!(count(&run, "timed_samples") > 0, "{run:#}");
}

#[test]
fn the_table_says_which_t1_its_figures_use() {
    let ringd = Ringd::start();
    let output = ringload(&[
        "ntp",
        &ringd.ntp,
        "--kernel-t1",
        "--rate",
        "1000",
        "--duration",
        "0.5",
    ]);
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("T1: kernel\n"), "{}", describe(&output));
    assert!(table.contains(", kernel T1)\n"), "{}", describe(&output));
}
