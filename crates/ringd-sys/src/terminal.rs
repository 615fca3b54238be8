//! The terminal: reading a password with echo off for `ringd ftp-passwd`.

use std::io::{self, BufRead, IsTerminal, Write};
use std::os::fd::{AsFd, BorrowedFd};

use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions, Termios};

/// Reads a password for `ringd ftp-passwd FILE NAME`. On a terminal: prints `prompt` on stderr
/// and reads one line with echo off (restored when done, also on an error). Otherwise (a pipe
/// or a file, for scripts) reads one line from stdin without prompting. The line end is
/// removed; end of input before any line is an `UnexpectedEof` error.
pub fn read_password_without_echo(prompt: &str) -> io::Result<String> {
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        return read_password_line(&mut stdin.lock());
    }
    let mut stderr = io::stderr();
    stderr.write_all(prompt.as_bytes())?;
    stderr.flush()?;
    let fd = stdin.as_fd();
    let _echo_off = echo_off(fd)?;
    read_password_line(&mut stdin.lock())
}

/// One line from `input`, without its `\n` or `\r\n`.
fn read_password_line(input: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    if input.read_until(b'\n', &mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "no password given",
        ));
    }
    if line.ends_with(b"\n") {
        line.pop();
        if line.ends_with(b"\r") {
            line.pop();
        }
    }
    String::from_utf8(line)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the password is not UTF-8"))
}

/// Echo switched off on a terminal; dropping it restores the saved settings (also on an error
/// or a panic in between).
pub struct EchoOff<'a> {
    fd: BorrowedFd<'a>,
    saved: Termios,
}

/// Turns off echo on the terminal `fd` (keeping the newline echoed, so the cursor moves on
/// when Enter is pressed) until the returned guard is dropped. Fails on anything but a tty.
pub fn echo_off(fd: BorrowedFd<'_>) -> io::Result<EchoOff<'_>> {
    let saved = tcgetattr(fd)?;
    let mut quiet = saved.clone();
    quiet.local_modes -= LocalModes::ECHO | LocalModes::ECHOE | LocalModes::ECHOK;
    quiet.local_modes |= LocalModes::ECHONL;
    tcsetattr(fd, OptionalActions::Flush, &quiet)?;
    Ok(EchoOff { fd, saved })
}

impl Drop for EchoOff<'_> {
    fn drop(&mut self) {
        // Nothing useful can be done if restoring fails.
        let _ = tcsetattr(self.fd, OptionalActions::Flush, &self.saved);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_off_needs_a_tty() {
        let f = std::fs::File::open("/dev/null").unwrap();
        assert!(echo_off(f.as_fd()).is_err());
    }

    #[test]
    fn password_lines() {
        let read = |bytes: &[u8]| read_password_line(&mut io::Cursor::new(bytes.to_vec()));
        assert_eq!(read(b"secret\n").unwrap(), "secret");
        assert_eq!(read(b"secret\r\nnext\n").unwrap(), "secret");
        assert_eq!(read(b"no newline").unwrap(), "no newline");
        assert_eq!(read(b" spaced \n").unwrap(), " spaced ");
        assert_eq!(read(b"\n").unwrap(), "");
        assert_eq!(read(b"").unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(
            read(b"\xff\n").unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        // A piped stdin reads one line per call.
        let mut input = io::Cursor::new(b"first\nsecond\n".to_vec());
        assert_eq!(read_password_line(&mut input).unwrap(), "first");
        assert_eq!(read_password_line(&mut input).unwrap(), "second");
    }
}
