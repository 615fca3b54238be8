//! Errors of the load generator library.

use std::io;
use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot resolve {target}: {reason}")]
    Resolve { target: String, reason: String },
    #[error(
        "{0} is not a loopback address; ringload loads only this machine (127.0.0.0/8, ::1) \
         unless --allow-non-loopback is given"
    )]
    NotLoopback(SocketAddr),
    #[error("invalid setting: {0}")]
    Setting(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl LoadError {
    pub fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> LoadError {
        let context = context.into();
        move |source| LoadError::Io { context, source }
    }
}
