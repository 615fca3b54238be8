//! What loadgen's integration tests share: the ringd binary, built once per test binary, and the JSON Schema every `--json` output must match.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use jsonschema::Validator;

/// The ringd binary of this test's profile. ringd is another package's binary, so cargo does
/// not build it for this test: it is built here once, into the same target directory (cargo
/// does not hold its lock while tests run).
pub fn ringd_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os("RINGD_BIN") {
            return PathBuf::from(path);
        }
        // target/<profile>/deps/<test>-<hash>
        let test_binary = std::env::current_exe().expect("own path");
        let profile_dir = test_binary
            .parent()
            .and_then(Path::parent)
            .expect("test binary under target/<profile>/deps");
        let target_dir = profile_dir.parent().expect("target directory");
        let profile = profile_dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("profile directory name");
        let profile = if profile == "debug" { "dev" } else { profile };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "ringd", "--bin", "ringd"])
            .args(["--profile", profile])
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building ringd failed");
        let binary = profile_dir.join("ringd");
        assert!(binary.exists(), "no ringd at {}", binary.display());
        binary
    })
}

/// Where `document` (a `ringload ... --json` output) breaks the checked-in
/// loadgen/schema/report.schema.json, one line per violation.
pub fn schema_violations(document: &serde_json::Value) -> Vec<String> {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/report.schema.json");
        let text = std::fs::read_to_string(&path).expect("the schema file");
        let schema = serde_json::from_str(&text).expect("the schema is JSON");
        jsonschema::validator_for(&schema).expect("a valid JSON Schema")
    });
    validator
        .iter_errors(document)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect()
}

/// Panics unless `document` matches the schema, naming every violation.
pub fn assert_matches_schema(document: &serde_json::Value) {
    let violations = schema_violations(document);
    assert!(
        violations.is_empty(),
        "the JSON does not match the schema:\n{}\n{document:#}",
        violations.join("\n")
    );
}

/// Runs this package's ringload with `args` and waits for it.
pub fn ringload(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringload"))
        .args(args)
        .output()
        .expect("ringload runs")
}

/// An exit's status and both outputs, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
