//! The control socket's thread: a Unix stream socket that answers one request per connection.
//!
//! Requests are rare and small, so one thread with blocking I/O serves them in turn; each
//! connection has read and write deadlines so a stuck client cannot hold the socket. The
//! socket is mode 0660, in ringd's group or `--control-group`'s; who may ask what is
//! `access`'s decision, from the caller the kernel names.

use std::fs::{self, DirBuilder, Permissions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use thiserror::Error;
use tracing::warn;

use super::access::Caller;
use super::protocol::{parse_request, Reply, MAX_REQUEST_LINE};
use super::state::ControlState;

const SOCKET_MODE: u32 = 0o660;
/// How long one client may take to send its request or read the reply.
const CLIENT_DEADLINE: Duration = Duration::from_secs(5);
/// Pause after a failed accept (e.g. out of file descriptors), so the thread does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// What every start-up failure leads to; the daemon goes on serving.
const CONSEQUENCE: &str = "ringd serves on without one, so ringctl cannot reach this ringd";
const OTHER_PATH: &str =
    "choose another path with --control-socket or `bindcmdaddress /PATH` in chrony.conf";

#[derive(Debug, Error)]
pub enum ControlStartError {
    #[error(
        "control socket {}: another ringd (or another program) answers on it; {}; stop the \
         other one, or {}",
        .path.display(),
        CONSEQUENCE,
        OTHER_PATH
    )]
    InUse { path: PathBuf },
    #[error(
        "control socket {}: the file exists and is not a socket; {}; remove the file, or {}",
        .path.display(),
        CONSEQUENCE,
        OTHER_PATH
    )]
    NotASocket { path: PathBuf },
    #[error(
        "cannot create the control socket {}: {source}; {}; run ringd as a user who may create \
         it, or {}",
        .path.display(),
        CONSEQUENCE,
        OTHER_PATH
    )]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot start the control socket's thread: {source}; {}", CONSEQUENCE)]
    Thread {
        #[source]
        source: io::Error,
    },
}

/// A running control socket. Stopping it (or dropping it) removes the socket file.
pub struct ControlServer {
    path: PathBuf,
    /// The bound socket's inode, so only our own file is removed at the end.
    inode: (u64, u64),
    /// A second handle on the listening socket: shutting it down wakes the blocked accept.
    listener: UnixListener,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ControlServer {
    /// Creates the socket at `path` (and its directory, if missing), in group `group` when
    /// given, and starts answering.
    pub fn start(
        path: &Path,
        group: Option<u32>,
        state: ControlState,
    ) -> Result<ControlServer, ControlStartError> {
        let io_error = |source| ControlStartError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .map_err(io_error)?;
        }
        remove_stale(path)?;
        let listener = UnixListener::bind(path).map_err(io_error)?;
        let opened = fs::set_permissions(path, Permissions::from_mode(SOCKET_MODE))
            .and_then(|()| fs::metadata(path))
            .and_then(|meta| Ok((meta, listener.try_clone()?)));
        let (meta, handle) = match opened {
            Ok(opened) => opened,
            Err(err) => {
                let _ = fs::remove_file(path);
                return Err(io_error(err));
            }
        };
        if let Some(gid) = group {
            // Root and ringd's user can still ask everything: the socket serves on.
            if let Err(err) = std::os::unix::fs::chown(path, None, Some(gid)) {
                warn!(
                    "cannot give the control socket {} to group {gid}: {err}; only root and \
                     ringd's user can use ringctl (with chrony.conf's `user`, that user must be \
                     a member of the --control-group)",
                    path.display()
                );
            }
        }
        let daemon_uid = rustix::process::geteuid().as_raw();
        let stop = Arc::new(AtomicBool::new(false));
        let spawned = {
            let stop = Arc::clone(&stop);
            crate::privileges::spawn(
                "ringd-control".into(),
                crate::privileges::Role::Control,
                move || serve(listener, state, daemon_uid, stop),
            )
        };
        let thread = match spawned {
            Ok(thread) => thread,
            Err(source) => {
                let _ = fs::remove_file(path);
                return Err(ControlStartError::Thread { source });
            }
        };
        Ok(ControlServer {
            path: path.to_path_buf(),
            inode: (meta.dev(), meta.ino()),
            listener: handle,
            stop,
            thread: Some(thread),
        })
    }

    /// Stops answering, waits for the thread, and removes the socket file.
    pub fn stop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.stop.store(true, Ordering::Relaxed);
        // A listening socket shut down makes the pending accept fail at once.
        let _ = socket2::SockRef::from(&self.listener).shutdown(Shutdown::Both);
        let _ = thread.join();
        let ours = fs::symlink_metadata(&self.path)
            .is_ok_and(|meta| (meta.dev(), meta.ino()) == self.inode);
        if ours {
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Removes a socket file left by a ringd that did not stop cleanly: one nobody answers on.
fn remove_stale(path: &Path) -> Result<(), ControlStartError> {
    let io_error = |source| ControlStartError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(io_error(err)),
    };
    if !meta.file_type().is_socket() {
        return Err(ControlStartError::NotASocket {
            path: path.to_path_buf(),
        });
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(ControlStartError::InUse {
            path: path.to_path_buf(),
        }),
        Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => {
            fs::remove_file(path).map_err(io_error)
        }
        Err(err) => Err(io_error(err)),
    }
}

fn serve(listener: UnixListener, state: ControlState, daemon_uid: u32, stop: Arc<AtomicBool>) {
    for connection in listener.incoming() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        match connection {
            // A client that goes away mid-request needs nothing more.
            Ok(stream) => {
                let _ = answer(stream, &state, daemon_uid);
            }
            Err(err) => {
                warn!("control socket: accept failed: {err}");
                std::thread::sleep(ACCEPT_RETRY);
            }
        }
    }
}

/// Reads one request line, writes one reply line.
fn answer(stream: UnixStream, state: &ControlState, daemon_uid: u32) -> io::Result<()> {
    let caller = Caller::of(
        crate::sys::sockopt::peer_uid(stream.as_fd()).ok(),
        daemon_uid,
    );
    stream.set_read_timeout(Some(CLIENT_DEADLINE))?;
    stream.set_write_timeout(Some(CLIENT_DEADLINE))?;
    let mut line = String::new();
    let read = BufReader::new((&stream).take(MAX_REQUEST_LINE as u64 + 1)).read_line(&mut line);
    let reply = match read {
        Err(err) if err.kind() == io::ErrorKind::InvalidData => {
            Reply::error("the request is not UTF-8 text")
        }
        Err(err) => return Err(err),
        Ok(_) if line.len() > MAX_REQUEST_LINE => Reply::error(format!(
            "the request is longer than {MAX_REQUEST_LINE} bytes"
        )),
        Ok(_) => match parse_request(line.trim_end_matches(['\r', '\n'])) {
            Ok(request) => match caller.may(request) {
                Ok(()) => state.answer(request),
                Err(refusal) => Reply::error(refusal),
            },
            Err(message) => Reply::error(message),
        },
    };
    (&stream).write_all(reply.encode().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::NtpCounters;
    use crate::test_dirs::TempDir;

    /// Sends `request` and closes the sending side, as a client piping a file would.
    fn ask(path: &Path, request: &[u8]) -> Reply {
        let mut stream = UnixStream::connect(path).unwrap();
        stream.write_all(request).unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        // One line: a request cut short leaves unread bytes, and the reset they cause would
        // follow the reply.
        let mut reply = String::new();
        BufReader::new(stream).read_line(&mut reply).unwrap();
        Reply::decode(&reply).unwrap()
    }

    fn state() -> ControlState {
        let counters = Arc::new(NtpCounters::default());
        counters.received.add(42);
        ControlState {
            ntp_counters: vec![counters],
            ..ControlState::default()
        }
    }

    #[test]
    fn answers_requests_then_removes_its_socket() {
        let dir = TempDir::new("control-serve");
        let path = dir.join("sub/ringd.sock");
        let mut server = ControlServer::start(&path, None, state()).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o660);
        match ask(&path, b"serverstats\n") {
            Reply::Ok { text, .. } => {
                assert!(text.starts_with("NTP packets received       : 42\n"))
            }
            other => panic!("{other:?}"),
        }
        // Without a line end, the end of the stream ends the request.
        assert!(matches!(ask(&path, b"tracking"), Reply::Ok { .. }));
        assert_eq!(
            ask(&path, b"bogus\n"),
            Reply::error(parse_request("bogus").unwrap_err())
        );
        assert_eq!(
            ask(&path, &[b'x'; 300]),
            Reply::error("the request is longer than 256 bytes")
        );
        assert_eq!(
            ask(&path, b"\xff\xfe\n"),
            Reply::error("the request is not UTF-8 text")
        );
        server.stop();
        assert!(!path.exists());
    }

    #[test]
    fn a_stale_socket_is_replaced_and_a_live_one_is_left_alone() {
        let dir = TempDir::new("control-stale");
        let path = dir.join("ringd.sock");
        drop(UnixListener::bind(&path).unwrap());
        assert!(path.exists(), "a listener dropped leaves its file");
        let mut first = ControlServer::start(&path, None, state()).unwrap();

        let err = ControlServer::start(&path, None, state()).err().unwrap();
        assert!(matches!(err, ControlStartError::InUse { .. }), "{err}");
        assert!(err.to_string().contains("--control-socket"), "{err}");
        assert!(matches!(ask(&path, b"tracking\n"), Reply::Ok { .. }));
        first.stop();

        fs::write(&path, "not a socket").unwrap();
        let err = ControlServer::start(&path, None, state()).err().unwrap();
        assert!(matches!(err, ControlStartError::NotASocket { .. }), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "not a socket");
    }

    #[test]
    fn a_socket_in_an_unwritable_place_is_an_error_naming_the_path() {
        let dir = TempDir::new("control-unwritable");
        let blocker = dir.join("file");
        fs::write(&blocker, "").unwrap();
        let path = blocker.join("ringd.sock");
        let err = ControlServer::start(&path, None, state()).err().unwrap();
        let message = err.to_string();
        assert!(
            message.starts_with(&format!(
                "cannot create the control socket {}: ",
                path.display()
            )),
            "{message}"
        );
    }
}
