//! Writes the man pages the Debian package installs: ringd(8), ringctl(1) and ringload(1) from their command-line definitions, ringd-chrony.conf(5) and ringd-vsftpd.conf(5) from docs/.

mod markdown;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;

/// The configuration pages: name, title line, and the document they are made from.
const CONFIGURATION_PAGES: [(&str, &str, &str); 2] = [
    (
        "ringd-chrony.conf",
        "the chrony.conf directives ringd reads",
        "docs/ntp-config.md",
    ),
    (
        "ringd-vsftpd.conf",
        "the vsftpd.conf options ringd reads",
        "docs/ftp-config.md",
    ),
];

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: manpages OUTPUT_DIRECTORY");
        return ExitCode::from(2);
    };
    match write_all(&out) {
        Ok(written) => {
            for page in written {
                println!("{}", page.display());
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("manpages: {err}");
            ExitCode::FAILURE
        }
    }
}

fn write_all(out: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("cannot make {}: {e}", out.display()))?;
    let mut written = Vec::new();
    for (command, section) in [
        (ringd::cli::Cli::command(), "8"),
        (ringd::control::command_line::Args::command(), "1"),
        (ringload::command_line::Cli::command(), "1"),
    ] {
        let name = command.get_name().to_string();
        let mut page = Vec::new();
        clap_mangen::Man::new(command)
            .section(section)
            .render(&mut page)
            .map_err(|e| format!("cannot render {name}({section}): {e}"))?;
        written.push(write_page(out, &format!("{name}.{section}"), &page)?);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for (name, title, document) in CONFIGURATION_PAGES {
        let source = root.join(document);
        let text = std::fs::read_to_string(&source)
            .map_err(|e| format!("cannot read {}: {e}", source.display()))?;
        let page = markdown::to_man_page(name, "5", title, &text);
        written.push(write_page(out, &format!("{name}.5"), page.as_bytes())?);
    }
    Ok(written)
}

fn write_page(out: &Path, file: &str, page: &[u8]) -> Result<PathBuf, String> {
    let path = out.join(file);
    std::fs::write(&path, page).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}
