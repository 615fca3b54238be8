//! Files ringd writes outside sessions: logs that threads append to, and files replaced whole.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::sys::crypt::fill_random;

/// A log file shared by threads: opened with O_APPEND, created with mode 0600 as vsftpd
/// creates its logs, and written one line per `write(2)`, so lines from concurrent sessions
/// never interleave within a line (the kernel serialises appends to a regular file).
#[derive(Debug)]
pub struct LogFile {
    file: File,
}

impl LogFile {
    pub fn open(path: &Path) -> io::Result<LogFile> {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)?;
        Ok(LogFile { file })
    }

    /// Writes `line` and a newline in a single write. `line` should come from this module's
    /// formatters, which never contain a newline.
    pub fn append(&self, line: &str) -> io::Result<()> {
        let mut record = Vec::with_capacity(line.len() + 1);
        record.extend_from_slice(line.as_bytes());
        record.push(b'\n');
        // `&File` implements Write, so shards share one LogFile without a lock.
        (&self.file).write_all(&record)
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
    use std::sync::Arc;

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
    fn log_file_lines_from_threads_never_interleave() {
        const THREADS: usize = 4;
        const LINES: usize = 1000;
        let dir = TempDir::new("log-file-threads");
        let path = dir.path().join("threads.log");
        let log = Arc::new(LogFile::open(&path).unwrap());
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
