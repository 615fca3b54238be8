//! Files ringd writes outside sessions: logs that threads append to, and files replaced whole.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

use crate::sys::crypt::fill_random;

/// A log file shared by threads: opened with O_APPEND, created with mode 0600 as vsftpd
/// creates its logs, and written one line per `write(2)`, so lines from concurrent sessions
/// never interleave within a line (the kernel serialises appends to a regular file). It is
/// opened again by name when logrotate has moved it ([`reopen_logs`]).
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    mode: u32,
    file: RwLock<File>,
    /// How many times the file was opened again, so that a writer who heads each new file
    /// (chrony's banner) knows when one began.
    reopened: AtomicU64,
}

/// Every log file open, so that one call reopens all of them, also those that sessions of an
/// earlier configuration still write to.
static OPEN_LOGS: Mutex<Vec<Weak<LogFile>>> = Mutex::new(Vec::new());

/// vsftpd creates its logs readable by their owner only.
const PRIVATE_LOG_MODE: u32 = 0o600;

fn open_for_append(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(mode)
        .open(path)
}

impl LogFile {
    pub fn open(path: &Path) -> io::Result<Arc<LogFile>> {
        LogFile::open_with_mode(path, PRIVATE_LOG_MODE)
    }

    /// Opens a log created, when missing, with `mode` less the umask.
    pub fn open_with_mode(path: &Path, mode: u32) -> io::Result<Arc<LogFile>> {
        let log = Arc::new(LogFile {
            path: path.to_path_buf(),
            mode,
            file: RwLock::new(open_for_append(path, mode)?),
            reopened: AtomicU64::new(0),
        });
        let mut open = OPEN_LOGS.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|log| log.strong_count() > 0);
        open.push(Arc::downgrade(&log));
        Ok(log)
    }

    /// Writes `line` and a newline in a single write, so that a record (a line, or chrony's
    /// banner with the line after it) is never split by another writer's.
    pub fn append(&self, line: &str) -> io::Result<()> {
        let mut record = Vec::with_capacity(line.len() + 1);
        record.extend_from_slice(line.as_bytes());
        record.push(b'\n');
        // `&File` implements Write: writers share the lock, only a reopen waits for them.
        let file = self.file.read().unwrap_or_else(|e| e.into_inner());
        (&*file).write_all(&record)
    }

    fn reopen(&self) -> io::Result<()> {
        let file = open_for_append(&self.path, self.mode)?;
        *self.file.write().unwrap_or_else(|e| e.into_inner()) = file;
        self.reopened.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// Changes each time the file is opened again by [`reopen_logs`].
    pub fn generation(&self) -> u64 {
        self.reopened.load(Ordering::Acquire)
    }
}

/// Opens every log file again by its name (chronyc's `cyclelogs`, SIGHUP, SIGUSR1), so lines
/// go to a new file once logrotate has moved the old one. A log that cannot be opened again
/// keeps its old file; the error names it.
pub fn reopen_logs() -> Result<usize, String> {
    let logs: Vec<Arc<LogFile>> = OPEN_LOGS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    let mut failures = Vec::new();
    for log in &logs {
        if let Err(err) = log.reopen() {
            failures.push(format!("cannot reopen {}: {err}", log.path.display()));
        }
    }
    if failures.is_empty() {
        Ok(logs.len())
    } else {
        Err(failures.join("; "))
    }
}

/// Replaces the file at `path` with `contents` so that a reader sees the old file or the new
/// one, never part of either, and a crash loses neither: a new file (`mode`) in the same
/// directory, written and fsync'ed, renamed over `path`, then the directory fsync'ed. A
/// symlink at `path` is replaced, not followed. A failure leaves no temporary file behind.
pub fn replace_file(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no file name", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut random = [0u8; 8];
    fill_random(&mut random)?;
    let tmp = dir.join(format!(
        ".{}.{:016x}.tmp",
        name.to_string_lossy(),
        u64::from_ne_bytes(random)
    ));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    let result = (|| {
        file.write_all(contents)?;
        // The umask may have taken bits away at creation.
        file.set_permissions(Permissions::from_mode(mode))?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dirs::TempDir;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn log_file_is_private_and_appends() {
        let dir = TempDir::new("log-file");
        let path = dir.path().join("append.log");
        fs::write(&path, "earlier line\n").unwrap();
        let log = LogFile::open(&path).unwrap();
        log.append("later line").unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "earlier line\nlater line\n"
        );

        let fresh = dir.path().join("fresh.log");
        LogFile::open(&fresh).unwrap();
        let mode = fs::metadata(&fresh).unwrap().permissions().mode();
        // Created 0600, less whatever the umask takes away.
        assert_eq!(mode & 0o077, 0);
        assert_eq!(mode & 0o700 & !0o600, 0);
    }

    #[test]
    fn a_moved_log_is_made_again_by_name_on_reopen() {
        let dir = TempDir::new("log-file-rotate");
        let path = dir.path().join("rotate.log");
        let moved = dir.path().join("rotate.log.1");
        let log = LogFile::open(&path).unwrap();
        log.append("before").unwrap();
        fs::rename(&path, &moved).unwrap();
        log.append("still into the moved file").unwrap();
        assert!(reopen_logs().unwrap() >= 1);
        log.append("after").unwrap();
        assert_eq!(
            fs::read_to_string(&moved).unwrap(),
            "before\nstill into the moved file\n"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), "after\n");
    }

    #[test]
    fn log_file_lines_from_threads_never_interleave() {
        const THREADS: usize = 4;
        const LINES: usize = 1000;
        let dir = TempDir::new("log-file-threads");
        let path = dir.path().join("threads.log");
        let log = LogFile::open(&path).unwrap();
        let writers: Vec<_> = (0..THREADS)
            .map(|thread| {
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    for index in 0..LINES {
                        // Long lines make a torn write likely to show if appends were not atomic.
                        let line = format!(
                            "thread {thread} line {index} {}",
                            "x".repeat(200 + index % 300)
                        );
                        log.append(&line).unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        let text = fs::read_to_string(&path).unwrap();
        let mut next_index = [0usize; THREADS];
        for line in text.lines() {
            let mut words = line.split(' ');
            assert_eq!(words.next(), Some("thread"), "{line}");
            let thread: usize = words.next().unwrap().parse().unwrap();
            assert_eq!(words.next(), Some("line"), "{line}");
            let index: usize = words.next().unwrap().parse().unwrap();
            assert_eq!(words.next(), Some("x".repeat(200 + index % 300).as_str()));
            assert_eq!(words.next(), None);
            // Each thread's own lines stay in the order it wrote them.
            assert_eq!(index, next_index[thread]);
            next_index[thread] += 1;
        }
        assert_eq!(next_index, [LINES; THREADS]);
    }

    #[test]
    fn a_replaced_file_is_whole_and_a_failure_leaves_nothing() {
        let dir = TempDir::new("replace-file");
        let path = dir.path().join("users");
        fs::write(&path, "old\n").unwrap();
        replace_file(&path, b"new\n", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o600);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(replace_file(&dir.path().join("missing/users"), b"x", 0o600).is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
