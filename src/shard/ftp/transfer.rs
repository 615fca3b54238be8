//! The FTP transfer engine: moves listings and files over a data connection, zero-copy where
//! the kernel allows it, within the session's bandwidth limits.
//!
//! Binary downloads move file -> socket with sendfile(2), or file -> pipe -> socket with splice(2)
//! (`zero_copy_method`), so the data never enters userspace. Uploads copy through a buffer,
//! which measured faster than splicing them (docs/benchmarks.md), unless
//! `zero_copy_method=splice` asks for socket -> pipe -> file. Both engines call the kernel on
//! the shard's thread with the data socket non-blocking and wait for the socket through the
//! ring, under `data_connection_timeout`: nothing runs in io_uring's worker threads, so a
//! transfer dropped (ABOR, shutdown) ends at once. Where the kernel refuses to splice
//! or sendfile (a file system or socket that does not support it) the engine falls back to
//! copying, logged once per process, and the transfer goes on from where it was;
//! `use_sendfile=NO` copies from the start. Rate limits are token buckets; waiting for tokens
//! sleeps on an io_uring timeout.
//! File locks (`lock_upload_files`) are tried without blocking and retried on a timer.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use compio::buf::{BufResult, IntoInner};
use compio::io::{AsyncRead, AsyncWriteExt};
use compio::net::TcpStream;
use compio::runtime::fd::PollFd;
use tracing::warn;

use super::tls::TlsConnection;
use crate::config::vsftpd::{FtpConfig, ZeroCopyMethod};
use crate::ftp::action::{DataJob, TransferOutcome};
use crate::ftp::ascii;
use crate::ftp::event_counts::FTP_EVENTS;
use crate::ftp::filesystem::SessionFs;
use crate::ftp::listing_job::ListingJob;
use crate::ftp::throttle::{Grant, Throttle};
use crate::metrics::Counter;
use crate::sys::clock::monotonic_nanos;
use crate::sys::file_lock::{try_lock, FileLock};
use crate::sys::fs as sysfs;
use crate::sys::pipe;

/// Bytes moved per step: the pipe's size for splices, the buffer for copies, and what sendfile
/// sends before the shard's other sessions get a turn.
const CHUNK: usize = 256 * 1024;
/// A copied transfer's first buffer: a TLS record's worth. It doubles each time a step fills
/// it, up to CHUNK, so a small file (most of a busy server's) costs no 256 KiB allocation,
/// zeroing and page faults, and a large one soon moves CHUNK at a time.
const FIRST_STEP: usize = 16 * 1024;
/// Most bytes one sendfile call moves: whole pages that fit in one loopback TCP segment (MSS
/// 65483). Larger calls measured slower on loopback, 1 GiB from the page cache: 60 KiB calls
/// sent 7.2 GB/s at 0.14 CPU s/GiB, 64 KiB calls 4.8 GB/s at 0.22, 1 MiB calls 2.4 GB/s at
/// 0.43 (docs/benchmarks.md).
const SENDFILE_CALL: usize = 15 * 4096;
/// The first pause between attempts to take a file lock: short, so a transfer starts soon
/// after the lock it waits for is released...
const LOCK_RETRY_FIRST: Duration = Duration::from_millis(1);
/// ...doubling up to this, so a session waiting for a lock held long costs little.
const LOCK_RETRY_MAX: Duration = Duration::from_millis(50);

enum Failure {
    Network,
    File,
    /// The file system is full or the quota is used up.
    NoSpace,
    Stalled,
    /// The kernel refused to move these descriptors' data without a copy (splice or
    /// sendfile): use the copy path instead.
    ZeroCopyRefused,
}

/// How file data moves over the data connection (`use_sendfile`, `zero_copy_method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Binary downloads with sendfile(2). sendfile only writes to sockets, so uploads copy.
    Sendfile,
    /// Both directions with splice(2) through a pipe.
    Splice,
    /// Both directions through a buffer in memory, as vsftpd with `use_sendfile=NO`.
    Copy,
}

impl Engine {
    pub fn of(config: &FtpConfig) -> Engine {
        match (config.use_sendfile, config.zero_copy_method) {
            (false, _) => Engine::Copy,
            (true, ZeroCopyMethod::Sendfile) => Engine::Sendfile,
            (true, ZeroCopyMethod::Splice) => Engine::Splice,
        }
    }
}

/// The buffer size after a step of `size` that moved `moved` bytes.
fn next_step(size: usize, moved: usize) -> usize {
    if moved >= size {
        (size * 2).min(CHUNK)
    } else {
        size
    }
}

/// How many of `want` bytes the limits allow now, sleeping until some are allowed.
async fn allowance(throttle: &mut Throttle, want: usize) -> usize {
    if !throttle.is_limited() {
        return want;
    }
    loop {
        match throttle.take(want as u64, monotonic_nanos()) {
            Grant::Bytes(bytes) => return bytes as usize,
            Grant::Wait(wait) => {
                FTP_EVENTS.throttled(wait);
                compio::time::sleep(wait).await
            }
        }
    }
}

/// Takes a `kind` lock on `file` (`lock_upload_files`), trying again on a timer until it has
/// it or `limit` has passed (`None`: no limit); true once the transfer may start. vsftpd
/// waits in F_SETLKW, which here would stall every session of the shard. Where the file
/// system refuses locks, the transfer goes on unlocked, as vsftpd's does.
pub async fn lock(file: &impl AsFd, kind: FileLock, limit: Option<Duration>) -> bool {
    let deadline = limit.and_then(|limit| Instant::now().checked_add(limit));
    let mut pause = LOCK_RETRY_FIRST;
    loop {
        match try_lock(file.as_fd(), kind) {
            Ok(true) => return true,
            Ok(false) => {}
            Err(err) => {
                note_locks_refused(&err);
                return true;
            }
        }
        let sleep = match deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return false;
                }
                pause.min(left)
            }
            None => pause,
        };
        compio::time::sleep(sleep).await;
        pause = (pause * 2).min(LOCK_RETRY_MAX);
    }
}

fn note_locks_refused(err: &std::io::Error) {
    static LOGGED: AtomicBool = AtomicBool::new(false);
    if !LOGGED.swap(true, Ordering::Relaxed) {
        warn!("file locks refused here ({err}); FTP transfers go on without lock_upload_files");
    }
}

static SPLICE_REFUSED: AtomicBool = AtomicBool::new(false);
static SENDFILE_REFUSED: AtomicBool = AtomicBool::new(false);

/// Logs the first refusal of `method` (`logged` is its flag), not one per transfer.
fn note_refused(logged: &AtomicBool, method: &str, err: &std::io::Error) {
    if !logged.swap(true, Ordering::Relaxed) {
        warn!("{method} refused here ({err}); FTP transfers fall back to copying through memory");
    }
}

/// Running totals of one transfer. The byte count lives with the caller, so an aborted
/// transfer still reports what it moved, and `ringctl ftp sessions` can read it meanwhile.
struct Progress<'a> {
    moved: &'a Counter,
    stall: Duration,
}

impl Progress<'_> {
    fn bytes(&self) -> u64 {
        self.moved.get()
    }

    fn add(&self, bytes: u64) {
        self.moved.add(bytes);
    }
}

/// Runs `job` on `stream` with `engine`: every network step must progress within
/// `stall_timeout`. `moved` counts the bytes as they cross the data connection.
/// `fs` is the session's filesystem, which a listing reads as it goes.
pub async fn run(
    mut stream: TcpStream,
    job: DataJob,
    engine: Engine,
    stall_timeout: Duration,
    mut throttle: Throttle,
    moved: &Counter,
    fs: &dyn SessionFs,
) -> TransferOutcome {
    let mut progress = Progress {
        moved,
        stall: stall_timeout,
    };
    let result = match job {
        DataJob::Listing(listing) => send_listing(&mut stream, listing, fs, &mut progress).await,
        DataJob::Download {
            file,
            offset,
            ascii: false,
        } => {
            let file = File::from(file);
            send_file(
                &mut stream,
                file,
                offset,
                engine,
                &mut progress,
                &mut throttle,
            )
            .await
        }
        DataJob::Download {
            file,
            offset,
            ascii: true,
        } => {
            let file = File::from(file);
            let mut converter = Some(ascii::ToNetwork::default());
            copy_file_to_socket(
                &mut stream,
                &file,
                offset,
                &mut progress,
                &mut throttle,
                &mut converter,
            )
            .await
        }
        DataJob::Upload { file, ascii, sync } => {
            let file = File::from(file);
            let durable = file.try_clone().ok();
            let received = receive_file(
                &mut stream,
                file,
                ascii,
                engine,
                &mut progress,
                &mut throttle,
            )
            .await;
            match (received, durable) {
                (Ok(()), Some(file)) if sync => file.sync_all().map_err(|e| write_failure(&e)),
                (Ok(()), None) if sync => Err(Failure::File),
                (other, _) => other,
            }
        }
    };
    // shutdown(2) of a TCP socket only queues the FIN and never blocks: called directly, not as
    // compio's operation, which io_uring always hands to a worker thread.
    let _ = socket2::SockRef::from(&stream).shutdown(std::net::Shutdown::Write);
    outcome_of(result, progress.bytes())
}

fn outcome_of(result: Result<(), Failure>, bytes: u64) -> TransferOutcome {
    match result {
        Ok(()) => TransferOutcome::Complete { bytes },
        Err(Failure::Network | Failure::ZeroCopyRefused) => {
            TransferOutcome::NetworkFailed { bytes }
        }
        Err(Failure::File) => TransferOutcome::FileFailed { bytes },
        Err(Failure::NoSpace) => TransferOutcome::NoSpace { bytes },
        Err(Failure::Stalled) => TransferOutcome::TimedOut { bytes },
    }
}

/// Runs `job` over a data connection protected by TLS (PROT P): everything goes through
/// a buffer to be encrypted or decrypted, so files are copied, never spliced or sent whole.
/// The end of the data is marked with close_notify, and an upload that ends without one is a
/// network failure, as vsftpd's strict_ssl_read_eof makes it.
#[allow(
    clippy::too_many_arguments,
    reason = "run's arguments and the TLS state"
)]
pub async fn run_tls(
    mut stream: TcpStream,
    mut tls: TlsConnection,
    job: DataJob,
    stall_timeout: Duration,
    mut throttle: Throttle,
    moved: &Counter,
    fs: &dyn SessionFs,
) -> TransferOutcome {
    let mut progress = Progress {
        moved,
        stall: stall_timeout,
    };
    let result = match job {
        DataJob::Listing(listing) => {
            tls_send_listing(&mut stream, &mut tls, listing, fs, &mut progress).await
        }
        DataJob::Download {
            file,
            offset,
            ascii,
        } => {
            let file = File::from(file);
            let mut converter = ascii.then(ascii::ToNetwork::default);
            tls_send_file(
                &mut stream,
                &mut tls,
                &file,
                offset,
                &mut progress,
                &mut throttle,
                &mut converter,
            )
            .await
        }
        DataJob::Upload { file, ascii, sync } => {
            let file = File::from(file);
            let mut converter = ascii.then(ascii::FromNetwork::default);
            let received = tls_receive_file(
                &mut stream,
                &mut tls,
                &file,
                &mut progress,
                &mut throttle,
                &mut converter,
            )
            .await;
            match received {
                Ok(()) if sync => file.sync_all().map_err(|e| write_failure(&e)),
                other => other,
            }
        }
    };
    if result.is_ok() {
        // The end of the data, told the client; after an upload it has often closed its end
        // already, and as with vsftpd's strict_ssl_write_shutdown=NO a failed close_notify
        // does not fail a transfer whose data all crossed.
        let _ = tls_step(progress.stall, tls.close(&mut stream)).await;
    }
    let _ = socket2::SockRef::from(&stream).shutdown(std::net::Shutdown::Write);
    outcome_of(result, progress.bytes())
}

/// One TLS step on the data connection, within the stall limit.
async fn tls_step<T>(
    stall: Duration,
    step: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, Failure> {
    match compio::time::timeout(stall, step).await {
        Err(_) => Err(Failure::Stalled),
        Ok(Err(_)) => Err(Failure::Network),
        Ok(Ok(value)) => Ok(value),
    }
}

async fn tls_send_listing(
    stream: &mut TcpStream,
    tls: &mut TlsConnection,
    listing: Option<Box<ListingJob>>,
    fs: &dyn SessionFs,
    progress: &mut Progress<'_>,
) -> Result<(), Failure> {
    let Some(mut listing) = listing else {
        return Ok(());
    };
    let mut chunk = Vec::new();
    while listing.next_chunk(fs, &mut chunk) {
        tls_step(progress.stall, tls.write_all(stream, &chunk)).await?;
        progress.add(chunk.len() as u64);
        chunk.clear();
    }
    Ok(())
}

async fn tls_send_file(
    stream: &mut TcpStream,
    tls: &mut TlsConnection,
    file: &File,
    mut position: u64,
    progress: &mut Progress<'_>,
    throttle: &mut Throttle,
    ascii: &mut Option<ascii::ToNetwork>,
) -> Result<(), Failure> {
    let mut buffer = Vec::new();
    let mut step = FIRST_STEP;
    let mut converted = Vec::new();
    loop {
        let want = allowance(throttle, step).await;
        buffer.resize(want, 0);
        let read = file
            .read_at(&mut buffer, position)
            .map_err(|_| Failure::File)?;
        if read == 0 {
            return Ok(());
        }
        step = next_step(step, read);
        position += read as u64;
        let data = match ascii {
            None => &buffer[..read],
            Some(converter) => {
                converted.clear();
                converter.convert(&buffer[..read], &mut converted);
                &converted[..]
            }
        };
        tls_step(progress.stall, tls.write_all(stream, data)).await?;
        progress.add(data.len() as u64);
    }
}

async fn tls_receive_file(
    stream: &mut TcpStream,
    tls: &mut TlsConnection,
    file: &File,
    progress: &mut Progress<'_>,
    throttle: &mut Throttle,
    ascii: &mut Option<ascii::FromNetwork>,
) -> Result<(), Failure> {
    let mut sink = FileSink::new(file, write_position(file)?, ascii);
    let mut plaintext = Vec::new();
    let mut step = FIRST_STEP;
    loop {
        let want = allowance(throttle, step).await;
        plaintext.resize(want, 0);
        let received = tls_step(progress.stall, tls.read(stream, &mut plaintext)).await?;
        if received == 0 {
            return sink.finish();
        }
        step = next_step(step, received);
        sink.write(&plaintext[..received])?;
        progress.add(received as u64);
    }
}

/// Where received data goes: the file from a position on, through the ASCII converter in
/// ASCII mode.
struct FileSink<'a> {
    file: &'a File,
    position: u64,
    ascii: &'a mut Option<ascii::FromNetwork>,
    converted: Vec<u8>,
}

impl<'a> FileSink<'a> {
    fn new(file: &'a File, position: u64, ascii: &'a mut Option<ascii::FromNetwork>) -> Self {
        FileSink {
            file,
            position,
            ascii,
            converted: Vec::new(),
        }
    }

    fn write(&mut self, received: &[u8]) -> Result<(), Failure> {
        let data = match self.ascii {
            None => received,
            Some(converter) => {
                self.converted.clear();
                converter.convert(received, &mut self.converted);
                &self.converted[..]
            }
        };
        self.file
            .write_all_at(data, self.position)
            .map_err(|e| write_failure(&e))?;
        self.position += data.len() as u64;
        Ok(())
    }

    /// What the converter still holds (a CR at the very end), then the file flushed.
    fn finish(mut self) -> Result<(), Failure> {
        if let Some(converter) = self.ascii {
            self.converted.clear();
            converter.finish(&mut self.converted);
            self.file
                .write_all_at(&self.converted, self.position)
                .map_err(|e| write_failure(&e))?;
        }
        let mut handle = self.file;
        handle.flush().map_err(|_| Failure::File)
    }
}

async fn write_all(
    stream: &mut TcpStream,
    chunk: Vec<u8>,
    stall: Duration,
) -> Result<Vec<u8>, Failure> {
    match compio::time::timeout(stall, stream.write_all(chunk)).await {
        Err(_) => Err(Failure::Stalled),
        Ok(BufResult(Err(_), _)) => Err(Failure::Network),
        Ok(BufResult(Ok(()), chunk)) => Ok(chunk),
    }
}

/// Sends a listing a chunk at a time: each chunk is written before the next is produced, so
/// memory stays bounded and the shard's other sessions run between chunks.
async fn send_listing(
    stream: &mut TcpStream,
    listing: Option<Box<ListingJob>>,
    fs: &dyn SessionFs,
    progress: &mut Progress<'_>,
) -> Result<(), Failure> {
    let Some(mut listing) = listing else {
        return Ok(());
    };
    let mut chunk = Vec::new();
    while listing.next_chunk(fs, &mut chunk) {
        if chunk.is_empty() {
            continue;
        }
        let len = chunk.len() as u64;
        chunk = write_all(stream, chunk, progress.stall).await?;
        chunk.clear();
        progress.add(len);
    }
    Ok(())
}

/// A failed write to the local file: full disk and exceeded quota get their own reply.
fn write_failure(err: &std::io::Error) -> Failure {
    match err.raw_os_error() {
        Some(libc::ENOSPC | libc::EDQUOT) => Failure::NoSpace,
        _ => Failure::File,
    }
}

/// Whether the kernel refuses to move this pair of descriptors' data zero-copy (a file system,
/// file or socket without support), as opposed to a failure of the transfer itself.
fn refused(err: &std::io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP | libc::ESPIPE)
    )
}

/// What a failed splice(2) into the pipe means for the transfer: `None` to try again (EINTR);
/// a refusal before the first byte falls back to copying (logged once); anything else is
/// `otherwise`, the side that failed.
fn splice_failure(
    err: &std::io::Error,
    progress: &Progress<'_>,
    otherwise: Failure,
) -> Option<Failure> {
    if err.kind() == ErrorKind::Interrupted {
        return None;
    }
    if refused(err) && progress.bytes() == 0 {
        note_refused(&SPLICE_REFUSED, "splice", err);
        return Some(Failure::ZeroCopyRefused);
    }
    Some(otherwise)
}

async fn send_file(
    stream: &mut TcpStream,
    file: File,
    offset: u64,
    engine: Engine,
    progress: &mut Progress<'_>,
    throttle: &mut Throttle,
) -> Result<(), Failure> {
    let zero_copy = match engine {
        Engine::Sendfile => sendfile_to_socket(stream, &file, offset, progress, throttle).await,
        Engine::Splice => splice_file_to_socket(stream, &file, offset, progress, throttle).await,
        Engine::Copy => {
            return copy_file_to_socket(stream, &file, offset, progress, throttle, &mut None).await
        }
    };
    match zero_copy {
        Err(Failure::ZeroCopyRefused) => {
            let position = offset + progress.bytes();
            copy_file_to_socket(stream, &file, position, progress, throttle, &mut None).await
        }
        other => other,
    }
}

/// The data socket made non-blocking, and a handle to wait for it through the ring. On a
/// blocking socket sendfile or splice would wait on the shard's thread for a slow client, and
/// every session of the shard with it; non-blocking, they stop when the socket is full (or
/// empty) and the transfer waits through the ring. The flag stays: the copy fallback's
/// io_uring operations are not affected by it, and the socket dies with the transfer.
fn poll_handle(stream: &TcpStream) -> Result<PollFd<OwnedFd>, Failure> {
    sysfs::set_nonblocking(stream.as_fd(), true).map_err(|_| Failure::Network)?;
    stream
        .as_fd()
        .try_clone_to_owned()
        .and_then(PollFd::new)
        .map_err(|_| Failure::Network)
}

/// Waits until `socket` has room to send, for at most `stall`.
async fn writable(socket: &PollFd<OwnedFd>, stall: Duration) -> Result<(), Failure> {
    match compio::time::timeout(stall, socket.write_ready()).await {
        Err(_) => Err(Failure::Stalled),
        Ok(Err(_)) => Err(Failure::Network),
        Ok(Ok(())) => Ok(()),
    }
}

/// Waits until `socket` has data (or its end) to receive, for at most `stall`.
async fn readable(socket: &PollFd<OwnedFd>, stall: Duration) -> Result<(), Failure> {
    match compio::time::timeout(stall, socket.read_ready()).await {
        Err(_) => Err(Failure::Stalled),
        Ok(Err(_)) => Err(Failure::Network),
        Ok(Ok(())) => Ok(()),
    }
}

/// Sends `file` from `offset` with sendfile(2): one system call per step, on the shard's
/// thread, where splice needs two.
async fn sendfile_to_socket(
    stream: &TcpStream,
    file: &File,
    offset: u64,
    progress: &mut Progress<'_>,
    throttle: &mut Throttle,
) -> Result<(), Failure> {
    let socket = poll_handle(stream)?;
    let mut position = offset;
    loop {
        let mut left = allowance(throttle, CHUNK).await;
        // Also when the socket has room: the wait goes through the ring, so the shard's other
        // sessions get their turn between two steps.
        writable(&socket, progress.stall).await?;
        while left > 0 {
            let count = left.min(SENDFILE_CALL);
            match sysfs::sendfile(socket.as_fd(), file.as_fd(), &mut position, count) {
                Ok(0) => return Ok(()),
                Ok(sent) => {
                    left -= sent;
                    progress.add(sent as u64);
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => {
                    writable(&socket, progress.stall).await?;
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) if refused(&err) && progress.bytes() == 0 => {
                    note_refused(&SENDFILE_REFUSED, "sendfile", &err);
                    return Err(Failure::ZeroCopyRefused);
                }
                Err(err) if err.raw_os_error() == Some(libc::EIO) => return Err(Failure::File),
                Err(_) => return Err(Failure::Network),
            }
        }
    }
}

/// What a splice transfer needs: the non-blocking data socket's poll handle and an enlarged
/// pipe.
struct SpliceEnds {
    socket: PollFd<OwnedFd>,
    pipe: pipe::Pipe,
}

impl SpliceEnds {
    fn new(stream: &TcpStream) -> Result<SpliceEnds, Failure> {
        let pipe = pipe::pipe(CHUNK).map_err(|_| Failure::ZeroCopyRefused)?;
        let socket = poll_handle(stream)?;
        Ok(SpliceEnds { socket, pipe })
    }
}

/// Sends `file` from `offset` through a pipe, a pipe's worth (a chunk) at a time: file -> pipe,
/// then pipe -> socket, each a splice(2) on the shard's thread that never waits for the client.
/// The file is only read into an empty pipe, so that side never waits on the socket.
async fn splice_file_to_socket(
    stream: &TcpStream,
    file: &File,
    offset: u64,
    progress: &mut Progress<'_>,
    throttle: &mut Throttle,
) -> Result<(), Failure> {
    let SpliceEnds { socket, pipe } = SpliceEnds::new(stream)?;
    let mut position = offset;
    loop {
        let want = allowance(throttle, pipe.capacity).await;
        let filled = loop {
            match pipe::splice(
                file.as_fd(),
                Some(&mut position),
                pipe.write.as_fd(),
                None,
                want,
            ) {
                Ok(filled) => break filled,
                Err(err) => {
                    if let Some(failure) = splice_failure(&err, progress, Failure::File) {
                        return Err(failure);
                    }
                }
            }
        };
        if filled == 0 {
            return Ok(());
        }
        // Also when the socket has room: the wait goes through the ring, so the shard's other
        // sessions get their turn between two chunks.
        writable(&socket, progress.stall).await?;
        let mut left = filled;
        while left > 0 {
            match pipe::splice(pipe.read.as_fd(), None, socket.as_fd(), None, left) {
                Ok(0) => return Err(Failure::Network),
                Ok(sent) => {
                    left -= sent;
                    progress.add(sent as u64);
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => {
                    writable(&socket, progress.stall).await?;
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Err(Failure::Network),
            }
        }
    }
}

async fn copy_file_to_socket(
    stream: &mut TcpStream,
    file: &File,
    mut position: u64,
    progress: &mut Progress<'_>,
    throttle: &mut Throttle,
    ascii: &mut Option<ascii::ToNetwork>,
) -> Result<(), Failure> {
    let mut buffer = Vec::new();
    let mut step = FIRST_STEP;
    let mut converted = Vec::new();
    loop {
        let want = allowance(throttle, step).await;
        buffer.resize(want, 0);
        let read = file
            .read_at(&mut buffer, position)
            .map_err(|_| Failure::File)?;
        if read == 0 {
            return Ok(());
        }
        step = next_step(step, read);
        buffer.truncate(read);
        position += read as u64;
        let sent = match ascii {
            None => {
                buffer = write_all(stream, buffer, progress.stall).await?;
                read
            }
            Some(converter) => {
                converted.clear();
                converter.convert(&buffer, &mut converted);
                let len = converted.len();
                converted = write_all(stream, converted, progress.stall).await?;
                len
            }
        };
        progress.add(sent as u64);
    }
}

async fn receive_file(
    stream: &mut TcpStream,
    file: File,
    ascii_mode: bool,
    engine: Engine,
    progress: &mut Progress<'_>,
    throttle: &mut Throttle,
) -> Result<(), Failure> {
    let start = write_position(&file)?;
    if ascii_mode {
        let mut converter = Some(ascii::FromNetwork::default());
        return copy_socket_to_file(stream, &file, start, progress, throttle, &mut converter).await;
    }
    // splice refuses files opened with O_APPEND (APPE): copy, which appends.
    if engine != Engine::Splice || sysfs::opened_for_append(&file) {
        return copy_socket_to_file(stream, &file, start, progress, throttle, &mut None).await;
    }
    splice_or_copy_to_file(stream, &file, start, progress, throttle).await
}

/// Where the next received byte goes: the file's current position (0, or the REST offset).
fn write_position(file: &File) -> Result<u64, Failure> {
    use std::io::Seek;
    let mut handle = file;
    handle.stream_position().map_err(|_| Failure::File)
}

/// Receives into `file` from `start` by splicing, and where the kernel refuses that, by
/// copying from where the splices stopped.
async fn splice_or_copy_to_file(
    stream: &mut TcpStream,
    file: &File,
    start: u64,
    progress: &mut Progress<'_>,
    throttle: &mut Throttle,
) -> Result<(), Failure> {
    match splice_socket_to_file(stream, file, start, progress, throttle).await {
        Err(Failure::ZeroCopyRefused) => {
            let position = start + progress.bytes();
            copy_socket_to_file(stream, file, position, progress, throttle, &mut None).await
        }
        other => other,
    }
}

/// Receives into `file` from `position` through a pipe, a pipe's worth (a chunk) at most at a
/// time: socket -> pipe, then pipe -> file, each a splice(2) on the shard's thread that never
/// waits for the client.
async fn splice_socket_to_file(
    stream: &TcpStream,
    file: &File,
    mut position: u64,
    progress: &mut Progress<'_>,
    throttle: &mut Throttle,
) -> Result<(), Failure> {
    let SpliceEnds { socket, pipe } = SpliceEnds::new(stream)?;
    loop {
        let want = allowance(throttle, pipe.capacity).await;
        // Also when data is waiting: the wait goes through the ring, so the shard's other
        // sessions get their turn between two chunks.
        readable(&socket, progress.stall).await?;
        let filled = loop {
            match pipe::splice(socket.as_fd(), None, pipe.write.as_fd(), None, want) {
                Ok(filled) => break filled,
                Err(err) if err.kind() == ErrorKind::WouldBlock => {
                    readable(&socket, progress.stall).await?;
                }
                Err(err) => {
                    if let Some(failure) = splice_failure(&err, progress, Failure::Network) {
                        return Err(failure);
                    }
                }
            }
        };
        if filled == 0 {
            return Ok(());
        }
        let mut left = filled;
        while left > 0 {
            match pipe::splice(
                pipe.read.as_fd(),
                None,
                file.as_fd(),
                Some(&mut position),
                left,
            ) {
                Ok(0) => return Err(Failure::File),
                Ok(written) => {
                    left -= written;
                    progress.add(written as u64);
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) if refused(&err) && progress.bytes() == 0 => {
                    note_refused(&SPLICE_REFUSED, "splice", &err);
                    // The file refuses splices, and the first chunk is in the pipe already:
                    // it goes to the file by copying, as the rest will.
                    let mut chunk = vec![0u8; left];
                    File::from(pipe.read)
                        .read_exact(&mut chunk)
                        .map_err(|_| Failure::File)?;
                    file.write_all_at(&chunk, position)
                        .map_err(|e| write_failure(&e))?;
                    progress.add(left as u64);
                    return Err(Failure::ZeroCopyRefused);
                }
                Err(err) => return Err(write_failure(&err)),
            }
        }
    }
}

/// Receives into `file` from `position` through a buffer.
async fn copy_socket_to_file(
    stream: &mut TcpStream,
    file: &File,
    position: u64,
    progress: &mut Progress<'_>,
    throttle: &mut Throttle,
    ascii: &mut Option<ascii::FromNetwork>,
) -> Result<(), Failure> {
    let mut sink = FileSink::new(file, position, ascii);
    let mut buffer = Vec::with_capacity(CHUNK);
    loop {
        let want = allowance(throttle, CHUNK).await;
        buffer.clear();
        buffer.reserve(want);
        let limited = compio::buf::IoBuf::slice(buffer, ..want);
        let BufResult(read, returned) =
            match compio::time::timeout(progress.stall, stream.read(limited)).await {
                Err(_) => return Err(Failure::Stalled),
                Ok(result) => result,
            };
        buffer = returned.into_inner();
        let received = match read {
            Err(_) => return Err(Failure::Network),
            Ok(0) => return sink.finish(),
            Ok(n) => n,
        };
        sink.write(&buffer[..received])?;
        progress.add(received as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dirs::TempDir;

    /// Both ends of a loopback TCP connection: the server's for the engine, and the client's.
    async fn connected() -> (TcpStream, std::net::TcpStream) {
        let listener = compio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (server, client)
    }

    #[test]
    fn an_upload_to_a_file_that_refuses_splices_keeps_every_byte() {
        let tmp = TempDir::new("splice-refused");
        let path = tmp.path().join("appended");
        std::fs::write(&path, b"before|").unwrap();
        // splice(2) refuses to write to a file opened with O_APPEND: the first chunk is in the
        // pipe by then, and must reach the file before the copy takes over.
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let data: Vec<u8> = (0..3 * CHUNK + 123).map(|i| (i % 251) as u8).collect();
        let moved = Counter::default();
        let received = compio::runtime::Runtime::new().unwrap().block_on(async {
            let (mut server, client) = connected().await;
            let sent = data.clone();
            // The client's end closes when the thread ends: the end of the upload.
            let sender = std::thread::spawn(move || (&client).write_all(&sent).unwrap());
            let mut progress = Progress {
                moved: &moved,
                stall: Duration::from_secs(10),
            };
            let mut throttle = Throttle::default();
            let received =
                splice_or_copy_to_file(&mut server, &file, 7, &mut progress, &mut throttle).await;
            sender.join().unwrap();
            received
        });
        assert!(received.is_ok(), "the upload completes");
        assert!(
            SPLICE_REFUSED.load(Ordering::Relaxed),
            "the refusal was met"
        );
        assert_eq!(moved.get(), data.len() as u64);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            [&b"before|"[..], &data].concat()
        );
    }
}
