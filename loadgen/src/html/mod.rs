//! `--html FILE`: the page file, created before the run so that a path it cannot write fails at once, and what its header says about the run.

mod ftp;
mod markup;
mod ntp;
pub mod runs;
mod svg;
pub(crate) mod utc;
#[cfg(test)]
mod well_formed;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::document::Invocation;

/// A report that can be shown as one self-contained HTML page.
pub trait HtmlPage {
    fn html_page(&self, run: &RunInfo) -> String;
}

/// What a page's header tells about the run besides its report.
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// The command as it was typed, quoted for a POSIX shell.
    pub command_line: String,
    /// When the run started, UTC.
    pub started: String,
    /// ringload's version.
    pub version: &'static str,
}

impl RunInfo {
    /// The run's command line and start, and this build's version.
    pub fn of(invocation: &Invocation) -> RunInfo {
        RunInfo {
            command_line: shell_line(&invocation.command),
            started: utc::format(invocation.started),
            version: env!("CARGO_PKG_VERSION"),
        }
    }

    /// The header's first lines: the target, then how and when it was loaded.
    fn facts(&self, target: &str) -> Vec<(&'static str, String)> {
        vec![
            ("target", target.to_string()),
            ("command", self.command_line.clone()),
            ("started", self.started.clone()),
            ("ringload", self.version.to_string()),
        ]
    }
}

/// Characters a POSIX shell takes literally in a word.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c)
}

/// `words` joined into one line a shell reads back as the same words.
pub(crate) fn shell_line(words: &[String]) -> String {
    words
        .iter()
        .map(|word| {
            if !word.is_empty() && word.chars().all(is_plain) {
                word.clone()
            } else {
                format!("'{}'", word.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `--html` file, open from before the run until its page is written.
pub struct HtmlFile {
    file: File,
    path: PathBuf,
    run: RunInfo,
}

impl HtmlFile {
    /// Creates (or empties) the file for the page of `invocation`'s run.
    pub fn create(path: &Path, invocation: &Invocation) -> anyhow::Result<HtmlFile> {
        let file = File::create(path)
            .with_context(|| format!("creating the --html file {}", path.display()))?;
        Ok(HtmlFile {
            file,
            path: path.to_path_buf(),
            run: RunInfo::of(invocation),
        })
    }

    pub fn write(mut self, report: &impl HtmlPage) -> anyhow::Result<()> {
        self.file
            .write_all(report.html_page(&self.run).as_bytes())
            .with_context(|| format!("writing the --html file {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_quoted_for_a_shell() {
        let words = [
            "ringload",
            "ntp",
            "127.0.0.1:123",
            "--html",
            "a b's.html",
            "",
        ];
        assert_eq!(
            shell_line(&words.map(String::from)),
            r"ringload ntp 127.0.0.1:123 --html 'a b'\''s.html' ''"
        );
    }

    #[test]
    fn the_file_holds_the_page_of_the_report() {
        struct Fixed;
        impl HtmlPage for Fixed {
            fn html_page(&self, run: &RunInfo) -> String {
                format!("<!DOCTYPE html>{}", run.version)
            }
        }
        let dir = ringd_sys::test_dirs::TempDir::new("ringload-html");
        let path = dir.join("page.html");
        let invocation = Invocation::begin("ntp", "127.0.0.1:123");
        HtmlFile::create(&path, &invocation)
            .unwrap()
            .write(&Fixed)
            .unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            written,
            format!("<!DOCTYPE html>{}", env!("CARGO_PKG_VERSION"))
        );
        let missing = Path::new("/nonexistent-directory/page.html");
        let error = HtmlFile::create(missing, &invocation).err().unwrap();
        assert!(format!("{error:#}").contains("creating the --html file"));
    }
}
