//! Whole-file open file description locks (F_OFD_SETLK) for FTP transfers.
//!
//! rustix's `fcntl_lock` takes classic per-process locks (F_SETLK), which every session of this
//! one process would share, so this is the one fcntl ringd makes itself.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The kinds of whole-file lock [`try_lock`] takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileLock {
    /// A read lock (F_RDLCK): any number share it. The file must be open for reading.
    Shared,
    /// A write lock (F_WRLCK): excludes every other lock. The file must be open for writing.
    Exclusive,
}

/// Tries once, without blocking, to lock all of `fd`'s file (to its end, however far it
/// grows) with an open file description lock (F_OFD_SETLK). `Ok(false)`: a conflicting lock
/// is held.
///
/// An OFD lock belongs to the open file description, so two sessions of this one process that
/// open the same file exclude each other as two vsftpd processes do; a classic F_SETLK lock
/// belongs to the process and would let every session of ringd through. OFD locks and classic
/// ones conflict with each other, so ringd's locks also hold against vsftpd and other programs
/// that lock with fcntl. The lock goes when the last descriptor of the description (the file
/// and any duplicate of it) is closed.
pub fn try_lock(fd: BorrowedFd<'_>, kind: FileLock) -> io::Result<bool> {
    // SAFETY: flock is a plain C struct of integers; all-zero is valid, and OFD locks require
    // l_pid (and any field we do not set) to be 0.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = match kind {
        FileLock::Shared => libc::F_RDLCK,
        FileLock::Exclusive => libc::F_WRLCK,
    } as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    // l_start and l_len 0: from the first byte to the end of the file, whatever its size.
    // SAFETY: F_OFD_SETLK reads the flock it is given, which outlives the call; the fd is
    // borrowed, so open.
    let rc = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_SETLK, &lock) };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        // fcntl(2): a conflicting lock gives EAGAIN or EACCES.
        Some(libc::EAGAIN | libc::EACCES) => Ok(false),
        _ => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dirs::TempDir;
    use std::fs::{self, File, OpenOptions};
    use std::os::fd::AsFd;

    #[test]
    fn ofd_locks_conflict_between_descriptions_of_one_process() {
        let tmp = TempDir::new("lock");
        let path = tmp.path().join("f");
        fs::write(&path, b"data").unwrap();
        let open = || {
            OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .unwrap()
        };
        let (a, b) = (open(), open());
        // Write/write and write/read conflict, though both descriptions are this process's.
        assert!(try_lock(a.as_fd(), FileLock::Exclusive).unwrap());
        assert!(!try_lock(b.as_fd(), FileLock::Exclusive).unwrap());
        assert!(!try_lock(b.as_fd(), FileLock::Shared).unwrap());
        // A duplicate descriptor is the same description: it holds the lock, not waits for it.
        let dup = a.try_clone().unwrap();
        assert!(try_lock(dup.as_fd(), FileLock::Exclusive).unwrap());
        // The lock lasts until the description's last descriptor is closed.
        drop(a);
        assert!(!try_lock(b.as_fd(), FileLock::Shared).unwrap());
        drop(dup);
        // Read/read share; a read lock still keeps a writer out.
        assert!(try_lock(b.as_fd(), FileLock::Shared).unwrap());
        let c = open();
        assert!(try_lock(c.as_fd(), FileLock::Shared).unwrap());
        let d = open();
        assert!(!try_lock(d.as_fd(), FileLock::Exclusive).unwrap());
        drop((b, c));
        assert!(try_lock(d.as_fd(), FileLock::Exclusive).unwrap());
        drop(d);
        // A write lock needs a description open for writing.
        let read_only = File::open(&path).unwrap();
        let err = try_lock(read_only.as_fd(), FileLock::Exclusive).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
    }
}
