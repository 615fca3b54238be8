//! Pipes for zero-copy transfers: close-on-exec, enlarged with F_SETPIPE_SZ, and splice(2)
//! into and out of them without blocking.

use std::io;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};

use rustix::pipe::SpliceFlags;

/// Both ends of a pipe and how many bytes it holds.
pub struct Pipe {
    pub read: OwnedFd,
    pub write: OwnedFd,
    pub capacity: usize,
}

/// A pipe asked to hold `size` bytes; the kernel may give less (`fs.pipe-max-size`), and
/// `capacity` says what it gave.
pub fn pipe(size: usize) -> io::Result<Pipe> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let wanted = i32::try_from(size).unwrap_or(i32::MAX);
    // SAFETY: F_SETPIPE_SZ takes an int argument; failure (e.g. over pipe-max-size) leaves the
    // default size, which is still a working pipe.
    unsafe { libc::fcntl(fds[1], libc::F_SETPIPE_SZ, wanted) };
    // SAFETY: F_GETPIPE_SZ takes no argument and only reads the pipe's size.
    let capacity = unsafe { libc::fcntl(fds[1], libc::F_GETPIPE_SZ) };
    if capacity <= 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Pipe {
        read,
        write,
        capacity: capacity as usize,
    })
}

/// One splice(2) of up to `len` bytes between `from` and `to`, one of them a pipe; a file's
/// offset, when given, is advanced by what moved. `Ok(0)` is the end of the input.
///
/// It never waits on the pipe (`SPLICE_F_NONBLOCK`), nor on a socket opened non-blocking:
/// a full or empty one gives `WouldBlock`. `SPLICE_F_MORE` tells a socket more data follows,
/// so it sends full segments; `SPLICE_F_MOVE` lets the kernel move pages instead of copying.
pub fn splice(
    from: BorrowedFd<'_>,
    from_offset: Option<&mut u64>,
    to: BorrowedFd<'_>,
    to_offset: Option<&mut u64>,
    len: usize,
) -> io::Result<usize> {
    let flags = SpliceFlags::NONBLOCK | SpliceFlags::MOVE | SpliceFlags::MORE;
    rustix::pipe::splice(from, from_offset, to, to_offset, len, flags).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn pipes_are_enlarged_and_carry_bytes() {
        let pipe = pipe(1 << 20).unwrap();
        assert!(pipe.capacity >= 64 * 1024);
        let mut writer = std::fs::File::from(pipe.write);
        let mut reader = std::fs::File::from(pipe.read);
        writer.write_all(b"zero copy").unwrap();
        drop(writer);
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap();
        assert_eq!(text, "zero copy");
    }

    #[test]
    fn splices_move_a_file_through_a_pipe_and_never_wait() {
        use std::os::fd::AsFd;
        let tmp = crate::test_dirs::TempDir::new("splice");
        let text = b"skipped: zero copy";
        std::fs::write(tmp.path().join("from"), text).unwrap();
        let from = std::fs::File::open(tmp.path().join("from")).unwrap();
        let to = std::fs::File::create(tmp.path().join("to")).unwrap();
        let pipe = pipe(4096).unwrap();
        let (mut read_at, mut write_at) = (9u64, 0u64);
        let filled = splice(
            from.as_fd(),
            Some(&mut read_at),
            pipe.write.as_fd(),
            None,
            100,
        );
        assert_eq!(filled.unwrap(), text.len() - 9);
        assert_eq!(read_at, text.len() as u64);
        let drained = splice(
            pipe.read.as_fd(),
            None,
            to.as_fd(),
            Some(&mut write_at),
            100,
        );
        assert_eq!(drained.unwrap(), text.len() - 9);
        assert_eq!(std::fs::read(tmp.path().join("to")).unwrap(), b"zero copy");
        // The pipe is empty and its writer open: a blocking splice would wait for it forever.
        let empty = splice(
            pipe.read.as_fd(),
            None,
            to.as_fd(),
            Some(&mut write_at),
            100,
        );
        assert_eq!(empty.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        let at_end = splice(
            from.as_fd(),
            Some(&mut read_at),
            pipe.write.as_fd(),
            None,
            100,
        );
        assert_eq!(at_end.unwrap(), 0);
    }
}
