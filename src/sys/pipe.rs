//! Pipes for zero-copy transfers: close-on-exec, enlarged with F_SETPIPE_SZ.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

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
}
