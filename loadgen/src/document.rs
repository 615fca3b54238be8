//! The versioned JSON document of a run: schema, tool, start time, command line and target around a subcommand's report and its verdict.

use std::time::SystemTime;

use serde::Serialize;

use crate::html::utc;
use crate::verdict::Verdict;

/// Version of the JSON layout; raised when a field changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 1;

/// What every document (and HTML page) says about the run that made it, taken when the run
/// starts.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub subcommand: &'static str,
    pub started: SystemTime,
    /// The command line, one string per argument (bytes that are not UTF-8 replaced).
    pub command: Vec<String>,
    pub target: String,
    /// The documents a `ringload merge` combined; empty for a run.
    pub merged_from: Vec<String>,
}

impl Invocation {
    /// The run of `subcommand` against `target` (as given on the command line), starting now.
    pub fn begin(subcommand: &'static str, target: &str) -> Invocation {
        Invocation {
            subcommand,
            started: SystemTime::now(),
            command: std::env::args_os()
                .map(|word| word.to_string_lossy().into_owned())
                .collect(),
            target: target.to_string(),
            merged_from: Vec::new(),
        }
    }
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Document<'a, R: Serialize> {
    schema: u32,
    tool: Tool,
    subcommand: &'static str,
    mode: &'a str,
    started_at: String,
    command: &'a [String],
    target: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    merged_from: &'a [String],
    #[serde(flatten)]
    report: &'a R,
    verdict: &'a Verdict,
}

/// The document as one pretty-printed JSON object. `mode` tells reports of one subcommand
/// apart (`run` or `ramp`, the FTP scenario), so that only like runs are compared.
pub fn to_json(
    invocation: &Invocation,
    mode: &str,
    report: &impl Serialize,
    verdict: &Verdict,
) -> serde_json::Result<String> {
    serde_json::to_string_pretty(&Document {
        schema: SCHEMA_VERSION,
        tool: Tool {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        },
        subcommand: invocation.subcommand,
        mode,
        started_at: utc::rfc3339(invocation.started),
        command: &invocation.command,
        target: &invocation.target,
        merged_from: &invocation.merged_from,
        report,
        verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Figures {
        answered: u64,
    }

    #[test]
    fn the_report_sits_beside_the_run_description() {
        let invocation = Invocation {
            subcommand: "ntp",
            started: std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_767_323_045_678),
            command: vec!["ringload".into(), "ntp".into(), "127.0.0.1:123".into()],
            target: "127.0.0.1:123".into(),
            merged_from: Vec::new(),
        };
        let text = to_json(
            &invocation,
            "run",
            &Figures { answered: 7 },
            &Verdict::Passed,
        )
        .unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["schema"], 1);
        assert_eq!(json["tool"]["name"], "ringload");
        assert_eq!(json["tool"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(json["subcommand"], "ntp");
        assert_eq!(json["started_at"], "2026-01-02T03:04:05.678Z");
        assert_eq!(json["mode"], "run");
        assert_eq!(json["command"][2], "127.0.0.1:123");
        assert_eq!(json["answered"], 7);
        assert_eq!(json["verdict"]["outcome"], "passed");
        assert!(json.get("merged_from").is_none());
    }
}
