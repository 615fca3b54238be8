//! The `compare` subcommand: its arguments, the two files read, the table printed.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use crate::compare::figures::compare;
use crate::thresholds::parse_percent;
use crate::verdict::Verdict;

#[derive(Args)]
pub struct CompareArgs {
    /// The reference run's `--json` output.
    baseline: PathBuf,
    /// The run to judge, of the same subcommand and mode.
    current: PathBuf,
    /// How much worse than the baseline a figure may be, percent of the baseline's value.
    #[arg(long, value_name = "PCT", default_value = "5%", value_parser = parse_percent)]
    tolerance: f64,
}

/// The `--json` document at `path`, or why it cannot be read.
pub fn read_report(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not JSON (a `ringload ... --json` output)",
            path.display()
        )
    })
}

/// `ringload compare`: a broken verdict when a figure regressed past the tolerance; an error
/// (exit 2) when the reports are not of one kind.
pub fn run_compare(args: CompareArgs) -> anyhow::Result<Verdict> {
    let baseline = read_report(&args.baseline)?;
    let current = read_report(&args.current)?;
    let comparison = compare(&baseline, &current)?;
    print!("{}", comparison.table(args.tolerance));
    Ok(comparison.verdict(args.tolerance))
}
