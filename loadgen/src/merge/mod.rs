//! `ringload merge`: the `--json` documents of runs made together (on several machines) as one document of the same schema.

pub mod ntp_run;

use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{bail, Context};
use clap::Args;

use crate::cli::print;
use crate::compare::cli::read_report;
use crate::document::{Invocation, SCHEMA_VERSION};
use crate::ntp::report::RunReport;
use crate::start_at::parse_rfc3339_utc;
use crate::thresholds::ThresholdArgs;
use crate::verdict::Verdict;

/// Most documents one merge reads.
const MAX_DOCUMENTS: usize = 10_000;

#[derive(Args)]
pub struct MergeArgs {
    /// `ringload ntp --json` documents of fixed-rate runs made at the same time (see
    /// `--start-at`), two or more; the same file twice counts twice.
    #[arg(required = true, num_args = 2.., value_name = "DOCUMENT")]
    documents: Vec<PathBuf>,
    /// Print the merged document as JSON (the schema of its parts, with `merged_from`).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    thresholds: ThresholdArgs,
}

/// What the documents' envelopes say, checked to be one kind of run.
struct Envelope {
    subcommand: String,
    mode: String,
    started: SystemTime,
    target: String,
}

fn envelope(name: &str, document: &serde_json::Value) -> anyhow::Result<Envelope> {
    let text = |field: &str| {
        document[field]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("{name}: no {field} (not a `ringload ... --json` document)"))
    };
    let schema = &document["schema"];
    if schema.as_u64() != Some(u64::from(SCHEMA_VERSION)) {
        bail!("{name}: schema {schema}, this ringload merges schema {SCHEMA_VERSION} documents");
    }
    let started_at = text("started_at")?;
    Ok(Envelope {
        subcommand: text("subcommand")?,
        mode: text("mode")?,
        started: parse_rfc3339_utc(&started_at)
            .with_context(|| format!("{name}: started_at {started_at:?} is not RFC 3339 UTC"))?,
        target: text("target")?,
    })
}

/// `ringload merge`: the merged run judged against the thresholds given; an error (exit 2)
/// when the documents are not all fixed-rate NTP runs with their histograms.
pub fn run_merge(args: MergeArgs) -> anyhow::Result<Verdict> {
    if args.documents.len() > MAX_DOCUMENTS {
        bail!("at most {MAX_DOCUMENTS} documents per merge; merge merged documents in turn");
    }
    let names: Vec<String> = args
        .documents
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    // Every document's kind is checked before any is read as a report, so that a wrong mix
    // is named as such rather than as a missing field.
    let mut documents = Vec::with_capacity(names.len());
    let mut envelopes: Vec<Envelope> = Vec::with_capacity(names.len());
    for (path, name) in args.documents.iter().zip(&names) {
        let document = read_report(path)?;
        let envelope = envelope(name, &document)?;
        if let Some(first) = envelopes.first() {
            if (&envelope.subcommand, &envelope.mode) != (&first.subcommand, &first.mode) {
                bail!(
                    "{name} is a `{} {}` document and {} a `{} {}` one: merge combines runs \
                     of one subcommand and mode",
                    envelope.subcommand,
                    envelope.mode,
                    names[0],
                    first.subcommand,
                    first.mode
                );
            }
        }
        documents.push(document);
        envelopes.push(envelope);
    }
    let kind = (envelopes[0].subcommand.as_str(), envelopes[0].mode.as_str());
    if kind != ("ntp", "run") {
        bail!(
            "{} are `{} {}` documents: merge combines fixed-rate NTP runs \
             (`ringload ntp --json` without --ramp)",
            names.join(", "),
            kind.0,
            kind.1
        );
    }
    let parts = documents
        .into_iter()
        .zip(&names)
        .map(|(document, name)| {
            serde_json::from_value::<RunReport>(document).with_context(|| {
                format!("{name}: not a complete `ntp run` document with latency histograms")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let report = ntp_run::combine(&parts)?;
    let target = ntp_run::distinct_joined(envelopes.iter().map(|e| e.target.as_str()));
    let mut invocation = Invocation::begin("ntp", &target);
    invocation.started = envelopes
        .iter()
        .map(|envelope| envelope.started)
        .min()
        .expect("two documents or more");
    invocation.merged_from = names;
    let verdict = Verdict::judge(&report.measured(), &args.thresholds.thresholds());
    if !args.json {
        println!("merged from {}", invocation.merged_from.join(", "));
    }
    print(args.json.then_some(&invocation), "run", &report, &verdict)?;
    Ok(verdict)
}
