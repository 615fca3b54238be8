//! What the subcommands' command lines share: bounded durations, and the report written as text or JSON, with an HTML page when asked.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;

use crate::document::{to_json, Invocation};
use crate::html::{HtmlFile, HtmlPage};
use crate::verdict::Verdict;

/// `value` seconds as a duration, refused unless above 0 and at most `max` seconds; `what`
/// names the flag in the error.
pub fn seconds(value: f64, max: f64, what: &str) -> anyhow::Result<Duration> {
    if !(value > 0.0 && value <= max) {
        bail!("{what} must be above 0 and at most {max} s, not {value}");
    }
    Ok(Duration::from_secs_f64(value))
}

/// The report on stdout: the versioned JSON document with `--json`, else the human text.
/// `mode` tells reports of one subcommand apart in the JSON (see `document::to_json`).
pub fn print(
    json: Option<&Invocation>,
    mode: &str,
    report: &(impl serde::Serialize + std::fmt::Display),
    verdict: &Verdict,
) -> anyhow::Result<()> {
    match json {
        Some(invocation) => println!("{}", to_json(invocation, mode, report, verdict)?),
        None => print!("{report}"),
    }
    Ok(())
}

/// The `--html` file of `invocation`'s run, created once every argument has been checked.
pub fn create_html(
    path: Option<PathBuf>,
    invocation: &Invocation,
) -> anyhow::Result<Option<HtmlFile>> {
    path.as_deref()
        .map(|path| HtmlFile::create(path, invocation))
        .transpose()
}

/// `print`, then the page into the `--html` file when one was asked for.
pub fn output(
    json: Option<&Invocation>,
    mode: &str,
    html: Option<HtmlFile>,
    report: &(impl serde::Serialize + std::fmt::Display + HtmlPage),
    verdict: &Verdict,
) -> anyhow::Result<()> {
    print(json, mode, report, verdict)?;
    html.map_or(Ok(()), |html| html.write(report))
}
