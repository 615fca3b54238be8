//! The `report` subcommand: `--json` documents read, labelled, and drawn on one HTML page.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use serde::Deserialize;

use crate::document::SCHEMA_VERSION;
use crate::html::runs::{runs_page, Figures, FtpFigures, LabelledRun, NtpFigures};
use crate::html::shell_line;
use crate::verdict::Verdict;

/// Most documents one page draws: beyond the palette's colours, lines could not be told apart.
const MAX_RUNS: usize = 6;

#[derive(Args)]
pub struct ReportArgs {
    /// The HTML page to write.
    #[arg(value_name = "OUT.html")]
    out: PathBuf,
    /// `ringload ntp ... --json` or `ringload ftp ... --json` outputs, all of one kind
    /// (NTP runs, NTP ramps, or FTP runs).
    #[arg(value_name = "RUN.json", required = true)]
    documents: Vec<PathBuf>,
    /// Legend name of the documents in order, one `--label` each (default: an FTP server's
    /// greeting, else the target).
    #[arg(long, value_name = "NAME")]
    label: Vec<String>,
}

/// The fields every document carries around its report.
#[derive(Deserialize)]
struct Envelope {
    schema: u32,
    subcommand: String,
    mode: String,
    target: String,
    started_at: String,
    command: Vec<String>,
}

#[derive(Deserialize)]
struct NtpRamp {
    steps: Vec<NtpFigures>,
    max_rate: Option<f64>,
}

/// Reads the figures of one document; errors name the file.
fn read_run(path: &Path, label: Option<&String>) -> anyhow::Result<LabelledRun> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let document: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not JSON (a `ringload ... --json` output)",
            path.display()
        )
    })?;
    let envelope = Envelope::deserialize(&document).with_context(|| {
        format!(
            "{} is not a ringload --json document (schema, subcommand, mode, target, ...)",
            path.display()
        )
    })?;
    if envelope.schema > SCHEMA_VERSION {
        bail!(
            "{} has schema {}, newer than this ringload's {SCHEMA_VERSION}: use a newer ringload",
            path.display(),
            envelope.schema
        );
    }
    let figures = match (envelope.subcommand.as_str(), envelope.mode.as_str()) {
        ("ntp", "ramp") => NtpRamp::deserialize(&document)
            .map(|ramp| Figures::NtpRamp {
                steps: ramp.steps,
                max_rate: ramp.max_rate,
            })
            .map_err(anyhow::Error::from),
        ("ntp", _) => NtpFigures::deserialize(&document)
            .map(Figures::NtpRun)
            .map_err(anyhow::Error::from),
        ("ftp", mode) if mode != "idle" => FtpFigures::deserialize(&document)
            .map(Figures::Ftp)
            .map_err(anyhow::Error::from),
        (subcommand, mode) => Err(anyhow::anyhow!(
            "a `{subcommand}` document of mode `{mode}`: the page draws ntp runs, ntp ramps \
             and ftp login, retr, stor or mixed runs"
        )),
    }
    .with_context(|| format!("reading the figures of {}", path.display()))?;
    let greeting = match &figures {
        Figures::Ftp(ftp) => ftp.greeting.clone(),
        _ => None,
    };
    Ok(LabelledRun {
        label: label
            .cloned()
            .or(greeting)
            .unwrap_or_else(|| envelope.target.clone()),
        target: envelope.target,
        started_at: envelope.started_at,
        command_line: shell_line(&envelope.command),
        figures,
    })
}

/// `ringload report`: writes the page, or fails (exit 2) naming the document that cannot be
/// drawn beside the others.
pub fn run_report(args: ReportArgs) -> anyhow::Result<Verdict> {
    if args.documents.len() > MAX_RUNS {
        bail!(
            "{} documents: one page draws at most {MAX_RUNS}, so that every colour is distinct",
            args.documents.len()
        );
    }
    if args.label.len() > args.documents.len() {
        bail!(
            "{} --label for {} documents: give at most one --label per document, in order",
            args.label.len(),
            args.documents.len()
        );
    }
    let runs = args
        .documents
        .iter()
        .enumerate()
        .map(|(index, path)| read_run(path, args.label.get(index)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let kind = runs[0].figures.kind();
    for (run, path) in runs.iter().zip(&args.documents).skip(1) {
        if run.figures.kind() != kind {
            bail!(
                "{} is an {} document and {} an {kind} one: one page draws runs of one kind",
                path.display(),
                run.figures.kind(),
                args.documents[0].display()
            );
        }
    }
    std::fs::write(&args.out, runs_page(&runs))
        .with_context(|| format!("writing {}", args.out.display()))?;
    Ok(Verdict::Passed)
}
