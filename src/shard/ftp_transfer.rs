//! The FTP transfer engine: moves listings and files over a data connection, zero-copy where
//! the kernel allows it, within the session's bandwidth limits.
//!
//! Binary downloads move file -> socket with sendfile(2), or file -> pipe -> socket with io_uring
//! splice operations (`zero_copy_method`), so the data never enters userspace. Uploads copy
//! through a buffer, which measured faster than splicing them (docs/benchmarks.md), unless
//! `zero_copy_method=splice` asks for socket -> pipe -> file. Where the kernel refuses to splice
//! or sendfile (a file system or socket that does not support it) the engine falls back to
//! copying, logged once per process, and the transfer goes on from where it was;
//! `use_sendfile=NO` copies from the start. Rate limits are token buckets; waiting for tokens
//! sleeps on an io_uring timeout.
//! File locks (`lock_upload_files`) are tried without blocking and retried on a timer.

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use compio::buf::{BufResult, IntoInner};
use compio::driver::op::Splice;
use compio::io::{AsyncRead, AsyncWriteExt};
use compio::net::TcpStream;
use compio::runtime::fd::PollFd;
use rustix::pipe::SpliceFlags;
use tracing::warn;

use crate::config::vsftpd::{FtpConfig, ZeroCopyMethod};
use crate::ftp::action::{DataJob, TransferOutcome};
use crate::ftp::ascii;
use crate::ftp::throttle::{Grant, Throttle};
use crate::metrics::Counter;
use crate::sys::clock::monotonic_nanos;
use crate::sys::fs::{self as sysfs, try_lock, FileLock};
use crate::sys::pipe;

/// Bytes moved per step: the pipe's size for splices, the buffer for copies, and what sendfile
/// sends before the shard's other sessions get a turn.
const CHUNK: usize = 256 * 1024;
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
    /// Both directions with io_uring splice operations through a pipe.
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

/// How many of `want` bytes the limits allow now, sleeping until some are allowed.
async fn allowance(throttle: &mut Throttle, want: usize) -> usize {
    if !throttle.is_limited() {
        return want;
    }
    loop {
        match throttle.take(want as u64, monotonic_nanos()) {
            Grant::Bytes(bytes) => return bytes as usize,
            Grant::Wait(wait) => compio::time::sleep(wait).await,
        }
    }
}

/// Takes a `kind` lock on `file` (`lock_upload_files`), trying again on a timer until it has
/// it or `limit` has passed (`None`: no limit); true once the transfer may start. vsftpd
/// waits in F_SETLKW, which here would stall every session of the shard. Where the file
/// system refuses locks, the transfer goes on unlocked, as vsftpd's does.
pub async fn lock(file: &File, kind: FileLock, limit: Option<Duration>) -> bool {
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
pub async fn run(
    mut stream: TcpStream,
    job: DataJob,
    engine: Engine,
    stall_timeout: Duration,
    mut throttle: Throttle,
    moved: &Counter,
) -> TransferOutcome {
    let mut progress = Progress {
        moved,
        stall: stall_timeout,
    };
    let result = match job {
        DataJob::Send(listing) => send_bytes(&mut stream, listing, &mut progress).await,
        DataJob::SendFile {
            file,
            offset,
            ascii: false,
        } => {
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
        DataJob::SendFile {
            file,
            offset,
            ascii: true,
        } => {
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
        DataJob::ReceiveFile { file, ascii, sync } => {
            let durable = file.try_clone().ok();
            let received = if ascii {
                let mut converter = Some(ascii::FromNetwork::default());
                copy_socket_to_file(
                    &mut stream,
                    &file,
                    &mut progress,
                    &mut throttle,
                    &mut converter,
                )
                .await
            } else {
                receive_file(&mut stream, file, engine, &mut progress, &mut throttle).await
            };
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
    let bytes = progress.bytes();
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

async fn send_bytes(
    stream: &mut TcpStream,
    data: Vec<u8>,
    progress: &mut Progress<'_>,
) -> Result<(), Failure> {
    let len = data.len() as u64;
    write_all(stream, data, progress.stall).await?;
    progress.add(len);
    Ok(())
}

/// One io_uring splice of up to `len` bytes; `Ok(0)` is end of input.
async fn splice(
    from: Rc<dyn AsFdStatic>,
    from_offset: Option<u64>,
    to: Rc<dyn AsFdStatic>,
    to_offset: Option<u64>,
    len: usize,
) -> std::io::Result<usize> {
    let offset = |o: Option<u64>| o.map_or(-1, |o| o as i64);
    let op = Splice::new(
        SharedFd(from),
        offset(from_offset),
        SharedFd(to),
        offset(to_offset),
        len,
        SpliceFlags::MOVE | SpliceFlags::MORE,
    );
    compio::runtime::submit(op).await.0
}

/// A descriptor kept alive by reference counting while an operation uses it.
trait AsFdStatic {
    fn fd(&self) -> std::os::fd::BorrowedFd<'_>;
}

impl AsFdStatic for OwnedFd {
    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.as_fd()
    }
}

impl AsFdStatic for File {
    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.as_fd()
    }
}

struct SharedFd(Rc<dyn AsFdStatic>);

impl AsFd for SharedFd {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.fd()
    }
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

async fn send_file(
    stream: &mut TcpStream,
    file: File,
    offset: u64,
    engine: Engine,
    progress: &mut Progress<'_>,
    throttle: &mut Throttle,
) -> Result<(), Failure> {
    let file: Rc<File> = Rc::new(file);
    let zero_copy = match engine {
        Engine::Sendfile => sendfile_to_socket(stream, &file, offset, progress, throttle).await,
        Engine::Splice => {
            splice_file_to_socket(stream, Rc::clone(&file), offset, progress, throttle).await
        }
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

/// Waits until `socket` has room to send, for at most `stall`.
async fn writable(socket: &PollFd<OwnedFd>, stall: Duration) -> Result<(), Failure> {
    match compio::time::timeout(stall, socket.write_ready()).await {
        Err(_) => Err(Failure::Stalled),
        Ok(Err(_)) => Err(Failure::Network),
        Ok(Ok(())) => Ok(()),
    }
}

/// Sends `file` from `offset` with sendfile(2): one system call per step, on the shard's
/// thread, instead of splice's two operations handed to io_uring's worker threads.
async fn sendfile_to_socket(
    stream: &TcpStream,
    file: &File,
    offset: u64,
    progress: &mut Progress<'_>,
    throttle: &mut Throttle,
) -> Result<(), Failure> {
    // On a blocking socket sendfile would wait on the shard's thread for a slow client, and
    // every session of the shard with it. Non-blocking, it stops when the socket buffer is
    // full and the transfer waits for room through the ring. The flag stays: the copy
    // fallback's io_uring sends are not affected by it, and the socket dies with the transfer.
    sysfs::set_nonblocking(stream.as_fd(), true).map_err(|_| Failure::Network)?;
    let socket = stream
        .as_fd()
        .try_clone_to_owned()
        .and_then(PollFd::new)
        .map_err(|_| Failure::Network)?;
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

/// What a splice transfer needs: its own handle on the data socket and an enlarged pipe, each
/// shared with the operations in flight.
struct SpliceEnds {
    socket: Rc<dyn AsFdStatic>,
    pipe_read: Rc<dyn AsFdStatic>,
    pipe_write: Rc<dyn AsFdStatic>,
    capacity: usize,
}

impl SpliceEnds {
    fn new(stream: &TcpStream) -> Result<SpliceEnds, Failure> {
        let pipe = pipe::pipe(CHUNK).map_err(|_| Failure::ZeroCopyRefused)?;
        let socket = stream
            .as_fd()
            .try_clone_to_owned()
            .map_err(|_| Failure::Network)?;
        Ok(SpliceEnds {
            socket: Rc::new(socket),
            pipe_read: Rc::new(pipe.read),
            pipe_write: Rc::new(pipe.write),
            capacity: pipe.capacity,
        })
    }
}

async fn splice_file_to_socket(
    stream: &mut TcpStream,
    file: Rc<File>,
    offset: u64,
    progress: &mut Progress<'_>,
    throttle: &mut Throttle,
) -> Result<(), Failure> {
    let SpliceEnds {
        socket,
        pipe_read,
        pipe_write,
        capacity,
    } = SpliceEnds::new(stream)?;
    let mut position = offset;
    loop {
        let want = allowance(throttle, capacity).await;
        let filled = match splice(
            file.clone(),
            Some(position),
            Rc::clone(&pipe_write),
            None,
            want,
        )
        .await
        {
            Ok(0) => return Ok(()),
            Ok(filled) => filled,
            Err(err) if refused(&err) && progress.bytes() == 0 => {
                note_refused(&SPLICE_REFUSED, "splice", &err);
                return Err(Failure::ZeroCopyRefused);
            }
            Err(_) => return Err(Failure::File),
        };
        let mut left = filled;
        while left > 0 {
            let drained = compio::time::timeout(
                progress.stall,
                splice(Rc::clone(&pipe_read), None, Rc::clone(&socket), None, left),
            )
            .await;
            match drained {
                Err(_) => return Err(Failure::Stalled),
                Ok(Ok(0)) | Ok(Err(_)) => return Err(Failure::Network),
                Ok(Ok(moved)) => {
                    left -= moved;
                    progress.add(moved as u64);
                }
            }
        }
        position += filled as u64;
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
    let mut buffer = vec![0u8; CHUNK];
    let mut converted = Vec::new();
    loop {
        let want = allowance(throttle, CHUNK).await;
        buffer.resize(want, 0);
        let read = file
            .read_at(&mut buffer, position)
            .map_err(|_| Failure::File)?;
        if read == 0 {
            return Ok(());
        }
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
    engine: Engine,
    progress: &mut Progress<'_>,
    throttle: &mut Throttle,
) -> Result<(), Failure> {
    // splice refuses files opened with O_APPEND (APPE): copy, which appends.
    if engine != Engine::Splice || sysfs::opened_for_append(&file) {
        return copy_socket_to_file(stream, &file, progress, throttle, &mut None).await;
    }
    let file: Rc<File> = Rc::new(file);
    match splice_socket_to_file(stream, Rc::clone(&file), progress, throttle).await {
        Err(Failure::ZeroCopyRefused) => {
            copy_socket_to_file(stream, &file, progress, throttle, &mut None).await
        }
        other => other,
    }
}

/// Where the next received byte goes: the file's current position (0, or the REST offset).
fn write_position(file: &File) -> Result<u64, Failure> {
    use std::io::Seek;
    let mut handle = file;
    handle.stream_position().map_err(|_| Failure::File)
}

async fn splice_socket_to_file(
    stream: &mut TcpStream,
    file: Rc<File>,
    progress: &mut Progress<'_>,
    throttle: &mut Throttle,
) -> Result<(), Failure> {
    let SpliceEnds {
        socket,
        pipe_read,
        pipe_write,
        capacity,
    } = SpliceEnds::new(stream)?;
    let mut position = write_position(&file)?;
    loop {
        let want = allowance(throttle, capacity).await;
        let received = compio::time::timeout(
            progress.stall,
            splice(Rc::clone(&socket), None, Rc::clone(&pipe_write), None, want),
        )
        .await;
        let filled = match received {
            Err(_) => return Err(Failure::Stalled),
            Ok(Ok(0)) => break,
            Ok(Ok(filled)) => filled,
            Ok(Err(err)) if refused(&err) && progress.bytes() == 0 => {
                note_refused(&SPLICE_REFUSED, "splice", &err);
                return Err(Failure::ZeroCopyRefused);
            }
            Ok(Err(_)) => return Err(Failure::Network),
        };
        let mut left = filled;
        while left > 0 {
            match splice(
                Rc::clone(&pipe_read),
                None,
                file.clone(),
                Some(position),
                left,
            )
            .await
            {
                Ok(0) => return Err(Failure::File),
                Err(err) => return Err(write_failure(&err)),
                Ok(written) => {
                    left -= written;
                    position += written as u64;
                    progress.add(written as u64);
                }
            }
        }
    }
    Ok(())
}

async fn copy_socket_to_file(
    stream: &mut TcpStream,
    file: &File,
    progress: &mut Progress<'_>,
    throttle: &mut Throttle,
    ascii: &mut Option<ascii::FromNetwork>,
) -> Result<(), Failure> {
    let mut position = write_position(file)?;
    let mut buffer = Vec::with_capacity(CHUNK);
    let mut converted = Vec::new();
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
            Ok(0) => break,
            Ok(n) => n,
        };
        let data = match ascii {
            None => &buffer[..received],
            Some(converter) => {
                converted.clear();
                converter.convert(&buffer[..received], &mut converted);
                &converted[..]
            }
        };
        file.write_all_at(data, position)
            .map_err(|e| write_failure(&e))?;
        position += data.len() as u64;
        progress.add(received as u64);
    }
    if let Some(converter) = ascii {
        converted.clear();
        converter.finish(&mut converted);
        file.write_all_at(&converted, position)
            .map_err(|e| write_failure(&e))?;
    }
    let mut handle = file;
    handle.flush().map_err(|_| Failure::File)?;
    Ok(())
}
