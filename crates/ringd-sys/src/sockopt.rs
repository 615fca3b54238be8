//! Socket options the standard library and socket2 lack: RX and TX timestamps, reuseport steering programs, peer credentials.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// One classic BPF instruction (`struct sock_filter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BpfInstruction {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

fn set_int_option(fd: BorrowedFd<'_>, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: `value` lives for the call and its size is passed; the fd is borrowed, so open.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Asks the kernel to attach the software receive time (SCM_TIMESTAMPNS) to every datagram.
pub fn enable_rx_timestamps(fd: BorrowedFd<'_>) -> io::Result<()> {
    set_int_option(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1)
}

/// Software receive times as SCM_TIMESTAMPING, and software transmit times, for the sends
/// that ask (see `SendBatch::ask_tx_timestamp`), on the socket's error queue: the timestamp
/// only, numbered by the socket's count of such sends, which this restarts at 0. Receive
/// times then come as SCM_TIMESTAMPING instead of SCM_TIMESTAMPNS, not both.
pub fn enable_tx_timestamps(fd: BorrowedFd<'_>) -> io::Result<()> {
    let reporting = libc::SOF_TIMESTAMPING_RX_SOFTWARE
        | libc::SOF_TIMESTAMPING_SOFTWARE
        | libc::SOF_TIMESTAMPING_OPT_TSONLY;
    set_int_option(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 0)?;
    // The kernel zeroes the send count only when OPT_ID goes from off to on.
    set_int_option(
        fd,
        libc::SOL_SOCKET,
        libc::SO_TIMESTAMPING,
        reporting as i32,
    )?;
    set_int_option(
        fd,
        libc::SOL_SOCKET,
        libc::SO_TIMESTAMPING,
        (reporting | libc::SOF_TIMESTAMPING_OPT_ID) as i32,
    )
}

/// The user id of the process at the other end of a connected Unix socket, as the kernel
/// recorded it when that process connected (SO_PEERCRED): not something the peer can claim.
pub fn peer_uid(fd: BorrowedFd<'_>) -> io::Result<u32> {
    Ok(rustix::net::sockopt::socket_peercred(fd)?.uid.as_raw())
}

/// Attaches a classic BPF program that picks the socket of a SO_REUSEPORT group for each packet.
pub fn attach_reuseport_cbpf(fd: BorrowedFd<'_>, program: &[BpfInstruction]) -> io::Result<()> {
    let mut filters: Vec<libc::sock_filter> = program
        .iter()
        .map(|insn| libc::sock_filter {
            code: insn.code,
            jt: insn.jt,
            jf: insn.jf,
            k: insn.k,
        })
        .collect();
    let fprog = libc::sock_fprog {
        len: filters.len() as u16,
        filter: filters.as_mut_ptr(),
    };
    // SAFETY: `fprog` points at `filters`, which outlives the call; the kernel copies the program.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_REUSEPORT_CBPF,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn the_peer_of_our_own_socket_pair_is_us() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let uid = rustix::process::geteuid().as_raw();
        assert_eq!(peer_uid(ours.as_fd()).unwrap(), uid);
        assert_eq!(peer_uid(theirs.as_fd()).unwrap(), uid);
    }
}
