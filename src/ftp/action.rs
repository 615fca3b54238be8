//! What an FTP session asks its I/O shell to do, and what the shell reports back.

use std::net::SocketAddr;
use std::time::Duration;

use super::filesystem::FileHandle;
use super::listing_job::ListingJob;
use super::login::{AuthRequest, OpenRoot};
use super::replies::Reply;
use super::transfer_log::{LogEvent, TransferRecord};
use crate::sys::file_lock::FileLock;

/// One step for the shell, in order.
#[derive(Debug)]
pub enum Action {
    Reply(Reply),
    /// Wait this long before reading more commands (`delay_failed_login`).
    Pause(Duration),
    /// Send what is queued, then close the control connection.
    Close,
    /// Send what is queued, then run the TLS handshake on the control connection (AUTH);
    /// a failed handshake ends the session.
    StartTls,
    /// Verify a login off the I/O threads (crypt, PAM), then call `Session::authenticated`.
    Authenticate(Box<AuthRequest>),
    /// Open the session's root with the credentials it names, then call
    /// `Session::root_opened` with the session's filesystem.
    OpenRoot(Box<OpenRoot>),
    /// Send a multi-line reply whose middle lines a listing produces a chunk at a time
    /// (`STAT path`).
    ListingReply(Box<ListingReply>),
    /// Open a passive data listener on the control connection's local address, in the
    /// `pasv_min_port..=pasv_max_port` range, then call `Session::passive_listening`.
    ListenPassive,
    /// Lock the file of the transfer about to start (`lock_upload_files`), retrying without
    /// blocking the shard until the lock is had or `data_connection_timeout` has passed, then
    /// hand the file back through `Session::file_locked`.
    Lock(LockRequest),
    /// Open the data connection, send `opening`, move the data, close the data connection,
    /// log it, then call `Session::transfer_finished`. (Boxed, as `Log` is, to keep every
    /// action small: an action in hand is part of the session's future.)
    Transfer(Box<Transfer>),
    /// Record an event in the vsftpd-format log, when one is configured.
    Log(Box<LogEvent>),
}

/// Where the data connection comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataChannel {
    /// Accept on the listener opened for PASV/EPSV, from the client's address only unless
    /// `pasv_promiscuous`.
    Passive { check_peer: bool },
    /// Connect to the address given with PORT/EPRT.
    Active(SocketAddr),
}

/// The data to move.
pub enum DataJob {
    /// A listing, produced a chunk at a time; `None` sends nothing (a directory that could
    /// not be opened).
    Listing(Option<Box<ListingJob>>),
    /// A file from `offset` to its end; `ascii` converts line ends to CRLF on the way.
    Download {
        file: FileHandle,
        offset: u64,
        ascii: bool,
    },
    /// Everything the client sends, written to `file` at its current position; `ascii`
    /// turns CRLF into LF on the way; `sync` flushes it to disk before the transfer counts as
    /// complete (an atomic upload is put in place only once it is durable).
    Upload {
        file: FileHandle,
        ascii: bool,
        sync: bool,
    },
}

impl std::fmt::Debug for DataJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataJob::Listing(job) => write!(
                f,
                "Listing({})",
                if job.is_some() { "..." } else { "empty" }
            ),
            DataJob::Download { offset, ascii, .. } => {
                write!(f, "Download {{ offset: {offset}, ascii: {ascii} }}")
            }
            DataJob::Upload { ascii, sync, .. } => {
                write!(f, "Upload {{ ascii: {ascii}, sync: {sync} }}")
            }
        }
    }
}

/// A multi-line reply streamed from a listing: `code-first`, the listing's lines, `code last`.
pub struct ListingReply {
    pub code: u16,
    pub first: &'static str,
    pub listing: Option<ListingJob>,
    pub last: &'static str,
}

impl std::fmt::Debug for ListingReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ListingReply({} {})", self.code, self.first)
    }
}

/// The file a transfer is about to move, and the lock it takes on it first.
#[derive(Debug)]
pub struct LockRequest {
    pub file: FileHandle,
    pub kind: FileLock,
}

#[derive(Debug)]
pub struct Transfer {
    pub channel: DataChannel,
    pub opening: Reply,
    pub job: DataJob,
    /// For file transfers: who moves what where, for the transfer logs. The shell fills in
    /// the times, the byte count and the outcome.
    pub record: Option<TransferRecord>,
    /// The session's bandwidth limit in bytes per second (`anon_max_rate`/`local_max_rate`),
    /// 0 for none.
    pub max_rate: u64,
    /// PROT P: the data connection runs TLS, resuming the control connection's session when
    /// `require_ssl_reuse` asks for it.
    pub private: bool,
}

/// How a transfer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferOutcome {
    Complete {
        bytes: u64,
    },
    /// No data connection: the client never connected or the connect failed.
    NoConnection,
    /// The data connection failed mid-transfer.
    NetworkFailed {
        bytes: u64,
    },
    /// Reading or writing the local file failed.
    FileFailed {
        bytes: u64,
    },
    /// Writing the local file failed for lack of space or quota (ENOSPC, EDQUOT).
    NoSpace {
        bytes: u64,
    },
    /// The client sent ABOR during the transfer.
    Aborted {
        bytes: u64,
    },
    /// The data connection stalled for `data_connection_timeout`.
    TimedOut {
        bytes: u64,
    },
    /// The data connection's TLS did not give the session what it needs.
    TlsFailed(DataTlsFailure),
}

/// Why a data connection's TLS was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataTlsFailure {
    /// The handshake failed or stalled.
    Handshake,
    /// It did not resume the control connection's session, which `require_ssl_reuse` wants.
    NotResumed,
    /// Its client certificate is not the one the control connection showed (or is missing).
    OtherCertificate,
}
