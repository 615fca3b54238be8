//! ringctl's side of the control socket: send one request, read the reply, explain failures.

use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::protocol::{Reply, Request};

/// How long ringd may take to answer; `clients` alone waits up to a second for the shards.
const REPLY_DEADLINE: Duration = Duration::from_secs(10);

/// Why a query got no reply, worded for the person who typed it.
#[derive(Debug)]
pub enum QueryError {
    Connect { path: PathBuf, source: io::Error },
    Exchange { path: PathBuf, source: io::Error },
    BadReply { path: PathBuf, detail: String },
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::Connect { path, source } => {
                let hint = match source.kind() {
                    io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                        "is ringd running? use -s to give another socket"
                    }
                    io::ErrorKind::PermissionDenied => {
                        "the socket is for root, ringd's user and its group (--control-group): run ringctl as one of them"
                    }
                    _ => "use -s to give another socket",
                };
                write!(
                    f,
                    "cannot connect to {}: {} ({hint})",
                    path.display(),
                    describe(source)
                )
            }
            QueryError::Exchange { path, source } => write!(
                f,
                "no reply from ringd on {}: {}",
                path.display(),
                describe(source)
            ),
            QueryError::BadReply { path, detail } => write!(
                f,
                "unreadable reply from {} (is it ringd's control socket?): {detail}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for QueryError {}

/// Sends `request` to the ringd listening on `path` and returns its reply.
pub fn query(path: &Path, request: Request) -> Result<Reply, QueryError> {
    let exchange_error = |source| QueryError::Exchange {
        path: path.to_path_buf(),
        source,
    };
    let mut stream = UnixStream::connect(path).map_err(|source| QueryError::Connect {
        path: path.to_path_buf(),
        source,
    })?;
    stream
        .set_read_timeout(Some(REPLY_DEADLINE))
        .map_err(exchange_error)?;
    stream
        .write_all(format!("{request}\n").as_bytes())
        .map_err(exchange_error)?;
    let mut reply = String::new();
    BufReader::new(stream)
        .read_line(&mut reply)
        .map_err(exchange_error)?;
    Reply::decode(&reply).map_err(|detail| QueryError::BadReply {
        path: path.to_path_buf(),
        detail,
    })
}

/// The system's message for an error, without Rust's ` (os error N)` suffix.
fn describe(err: &io::Error) -> String {
    let text = err.to_string();
    match err.raw_os_error() {
        Some(code) => text
            .strip_suffix(&format!(" (os error {code})"))
            .map(str::to_string)
            .unwrap_or(text),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_errors_say_what_to_do() {
        let path = PathBuf::from("/run/ringd/ringd.sock");
        let cases = [
            (
                libc::ENOENT,
                "No such file or directory (is ringd running? use -s to give another socket)",
            ),
            (
                libc::ECONNREFUSED,
                "Connection refused (is ringd running? use -s to give another socket)",
            ),
            (
                libc::EACCES,
                "Permission denied \
                 (the socket is for root, ringd's user and its group (--control-group): run ringctl as one of them)",
            ),
        ];
        for (errno, said) in cases {
            let error = QueryError::Connect {
                path: path.clone(),
                source: io::Error::from_raw_os_error(errno),
            };
            assert_eq!(
                error.to_string(),
                format!("cannot connect to /run/ringd/ringd.sock: {said}")
            );
        }
        let bad = QueryError::BadReply {
            path,
            detail: "expected value at line 1 column 1".into(),
        };
        assert_eq!(
            bad.to_string(),
            "unreadable reply from /run/ringd/ringd.sock (is it ringd's control socket?): \
             expected value at line 1 column 1"
        );
    }

    #[test]
    fn errors_without_an_os_code_keep_their_text() {
        let err = io::Error::new(io::ErrorKind::TimedOut, "took too long");
        assert_eq!(describe(&err), "took too long");
    }

    #[test]
    fn a_missing_socket_is_a_connect_error() {
        let path = std::env::temp_dir().join(format!("ringd-no-such-{}.sock", std::process::id()));
        let err = query(&path, Request::Tracking).unwrap_err();
        assert!(matches!(err, QueryError::Connect { .. }), "{err}");
    }
}
