//! Reading the files a configuration names: regular files only, never more than a size limit.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// vsftpd 3.0.3's `VSFTP_CONF_FILE_MAX`: the most it reads of vsftpd.conf, `banner_file`, the
/// user and e-mail lists and `chroot_list_file` (it reads only this much of a larger one).
pub const VSFTPD_FILE_MAX: u64 = 100_000;

/// For files whose original reader has no limit: chronyd reads chrony.conf and its includes
/// line by line, libwrap hosts.allow/hosts.deny and their pattern files, pam_listfile the
/// ftpusers file, and the virtual users file is ringd's own. The largest real files of these
/// kinds (hosts.deny block lists, generated server lists) are a few MB; this bounds what a
/// wrong path (`/dev/zero`, a log file) costs in memory.
pub const NO_ORIGINAL_LIMIT: u64 = 16 * 1024 * 1024;

/// What a file is read as, to say in an error what was expected of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Named by this option, directive or flag: "banner_file must name a regular file ...".
    NamedBy(&'static str),
    /// Described so: "each *.conf file of a confdir must be a regular file ...".
    Described(&'static str),
}

/// What is expected of a file: its role and the most bytes it may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    pub role: Role,
    pub max_bytes: u64,
}

impl Expected {
    pub const fn named_by(option: &'static str, max_bytes: u64) -> Expected {
        Expected {
            role: Role::NamedBy(option),
            max_bytes,
        }
    }

    pub const fn described(description: &'static str, max_bytes: u64) -> Expected {
        Expected {
            role: Role::Described(description),
            max_bytes,
        }
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.role {
            Role::NamedBy(option) => write!(f, "{option} must name")?,
            Role::Described(description) => write!(f, "{description} must be")?,
        }
        write!(f, " a regular file of at most {} bytes", self.max_bytes)
    }
}

/// Why a file a configuration names was not read.
#[derive(Debug, thiserror::Error)]
pub enum SourceFileError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is {kind}; {expected}", path.display())]
    NotRegular {
        path: PathBuf,
        kind: &'static str,
        expected: Expected,
    },
    #[error("{} has more than {} bytes; {expected}", path.display(), expected.max_bytes)]
    TooLarge { path: PathBuf, expected: Expected },
}

impl SourceFileError {
    /// The file does not exist: some files (hosts.allow, ftpusers) are then taken as empty.
    pub fn is_not_found(&self) -> bool {
        matches!(self, SourceFileError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// The bytes of the regular file at `path` (a symlink is followed). Anything else is refused
/// without reading: the open does not wait for a FIFO's writer (`O_NONBLOCK`) or take a
/// terminal (`O_NOCTTY`), and the type and size are checked on the open file. At most
/// `max_bytes + 1` bytes are read, so a file that grows meanwhile is refused too.
///
/// The one exception is the null device, which is empty: `userlist_file=/dev/null` is the
/// usual way to give an empty list (vsftpd reads any file that is not regular as empty).
pub fn read(path: &Path, expected: Expected) -> Result<Vec<u8>, SourceFileError> {
    let io_error = |source| SourceFileError::Io {
        path: path.to_owned(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .map_err(|err| {
            if is_socket_refusal(path, &err) {
                SourceFileError::NotRegular {
                    path: path.to_owned(),
                    kind: "a socket",
                    expected,
                }
            } else {
                io_error(err)
            }
        })?;
    let metadata = file.metadata().map_err(io_error)?;
    if metadata.file_type().is_char_device() && metadata.rdev() == libc::makedev(1, 3) {
        return Ok(Vec::new());
    }
    if !metadata.is_file() {
        return Err(SourceFileError::NotRegular {
            path: path.to_owned(),
            kind: kind_of(metadata.file_type()),
            expected,
        });
    }
    let too_large = || SourceFileError::TooLarge {
        path: path.to_owned(),
        expected,
    };
    if metadata.len() > expected.max_bytes {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    file.take(expected.max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > expected.max_bytes {
        return Err(too_large());
    }
    Ok(bytes)
}

/// [`read`], as text: chronyd, vsftpd and libwrap read bytes, so a stray non-UTF-8 byte (in a
/// comment, say) must not make a file unreadable.
pub fn read_text(path: &Path, expected: Expected) -> Result<String, SourceFileError> {
    read(path, expected).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// open(2) refuses a Unix socket with ENXIO: say what it is rather than "No such device".
fn is_socket_refusal(path: &Path, err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::ENXIO)
        && fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

fn kind_of(file_type: fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dirs::TempDir;
    use std::process::Command;
    use std::time::{Duration, Instant};

    const SMALL: Expected = Expected::named_by("banner_file", 10);

    #[test]
    fn reads_a_regular_file() {
        let dir = TempDir::new("source-regular");
        let path = dir.path().join("banner");
        fs::write(&path, b"Welcome\n").unwrap();
        assert_eq!(read(&path, SMALL).unwrap(), b"Welcome\n");
        fs::write(&path, b"caf\xe9\n").unwrap();
        assert_eq!(read_text(&path, SMALL).unwrap(), "caf\u{fffd}\n");
        fs::write(&path, b"").unwrap();
        assert_eq!(read(&path, SMALL).unwrap(), b"");
    }

    #[test]
    fn follows_a_symlink_to_a_regular_file() {
        let dir = TempDir::new("source-symlink");
        let target = dir.path().join("target");
        fs::write(&target, b"via link").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(read(&link, SMALL).unwrap(), b"via link");
    }

    #[test]
    fn a_fifo_without_a_writer_is_refused_at_once() {
        let dir = TempDir::new("source-fifo");
        let fifo = dir.path().join("fifo");
        let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(status.success());
        // A blocking open would wait for a writer forever; the test would hang, not fail.
        let started = Instant::now();
        let err = read(&fifo, SMALL).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            err.to_string(),
            format!(
                "{} is a FIFO (named pipe); banner_file must name a regular file of at most 10 \
                 bytes",
                fifo.display()
            )
        );
    }

    #[test]
    fn devices_directories_and_sockets_are_refused() {
        let err = read(Path::new("/dev/zero"), SMALL).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/dev/zero is a character device; banner_file must name a regular file of at most \
             10 bytes"
        );
        let dir = TempDir::new("source-kinds");
        let err = read(dir.path(), Expected::described("each *.conf file", 10)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is a directory; each *.conf file must be a regular file of at most 10 bytes",
                dir.path().display()
            )
        );
        let socket = dir.path().join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let err = read(&socket, SMALL).unwrap_err();
        assert!(
            matches!(
                err,
                SourceFileError::NotRegular {
                    kind: "a socket",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn size_limit() {
        let dir = TempDir::new("source-size");
        let path = dir.path().join("file");
        fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read(&path, SMALL).unwrap().len(), 10);
        fs::write(&path, b"0123456789x").unwrap();
        let err = read(&path, SMALL).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} has more than 10 bytes; banner_file must name a regular file of at most 10 \
                 bytes",
                path.display()
            )
        );
        // /proc files claim size 0: the limit holds on what is read, not only on the size.
        let status = Path::new("/proc/self/status");
        assert_eq!(fs::metadata(status).unwrap().len(), 0);
        assert!(matches!(
            read(status, SMALL).unwrap_err(),
            SourceFileError::TooLarge { .. }
        ));
        assert!(read(status, Expected::named_by("x", 1 << 20)).is_ok());
    }

    #[test]
    fn missing_file() {
        let err = read(Path::new("/nonexistent/banner"), SMALL).unwrap_err();
        assert!(err.is_not_found());
        assert_eq!(
            err.to_string(),
            "cannot read /nonexistent/banner: No such file or directory (os error 2)"
        );
        assert!(!read(Path::new("/dev/zero"), SMALL)
            .unwrap_err()
            .is_not_found());
    }

    #[test]
    fn the_null_device_is_an_empty_file() {
        assert_eq!(read(Path::new("/dev/null"), SMALL).unwrap(), b"");
        // Under another name too: it is recognised by its device number.
        let dir = TempDir::new("source-null");
        let link = dir.path().join("empty");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        assert_eq!(read(&link, SMALL).unwrap(), b"");
    }
}
