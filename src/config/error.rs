//! Configuration errors that name the file, the line and the directive, and say how to fix it.

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
    /// The file given on the command line cannot be read.
    #[error("cannot read {file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
}
