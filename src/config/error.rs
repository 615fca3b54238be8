//! Configuration errors that name the file, the line and the directive, and say how to fix it.

use std::path::PathBuf;

use super::source_file::SourceFileError;

/// A line of a file that cannot be used: `file:line: message`, `line` counting from 1. Every
/// file ringd reads line by line (chrony.conf, vsftpd.conf, users and hosts files) reports
/// this way.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub struct LineError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

/// Why a configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A line that ringd cannot accept: `message` says what was expected.
    #[error("{file}:{line}: {directive}: {message}")]
    Invalid {
        file: String,
        line: usize,
        directive: String,
        message: String,
    },
    /// A line that is not configuration at all, told without quoting it: the file may not be
    /// a configuration file (`include /etc/shadow`).
    #[error(transparent)]
    Unquoted(LineError),
    /// The file given on the command line cannot be read, or is not a file to read.
    #[error(transparent)]
    File(#[from] SourceFileError),
    /// Every error of one file, one per line (the lines' own errors in file order, then
    /// those across options): a file is read to its end so that one run tells them all.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<ConfigError>),
}

impl ConfigError {
    /// `Ok` without errors, the error itself for one, [`ConfigError::Several`] for more.
    pub fn from_all(mut errors: Vec<ConfigError>) -> Result<(), ConfigError> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(ConfigError::Several(errors)),
        }
    }
}

/// Whether `word`, read where a directive or option name belongs, may be quoted in an error:
/// letters, digits and `_`, starting with a letter, at most `max` bytes. Anything else is not
/// shown, so a file that is not configuration (`include /etc/shadow`) never has its contents
/// echoed.
pub(super) fn quotable_name(word: &str, max: usize) -> bool {
    word.len() <= max
        && word.starts_with(|c: char| c.is_ascii_alphabetic())
        && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}
