//! Batched datagram I/O with recvmmsg/sendmmsg: the portable backend, its transmit timestamps, and the load generator's engine.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

use super::wire::{
    self, Datagram, SockaddrBytes, TxRequest, TxTimestamp, CONTROL_LEN, ERR_CONTROL_LEN,
    TX_REQUEST_LEN,
};

#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct ControlBytes([u8; CONTROL_LEN]);

#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct ErrControlBytes([u8; ERR_CONTROL_LEN]);

/// `capacity` iovecs pointing nowhere yet: a batch aims them at its buffers.
fn unset_iovecs(capacity: usize) -> Box<[libc::iovec]> {
    let unset = libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    };
    vec![unset; capacity].into_boxed_slice()
}

/// `capacity` message headers with every pointer null and every length zero.
fn zeroed_headers(capacity: usize) -> Box<[libc::mmsghdr]> {
    // SAFETY: an all-zero mmsghdr is a valid value (null pointers, zero lengths).
    (0..capacity)
        .map(|_| unsafe { std::mem::zeroed() })
        .collect()
}

/// Buffers for receiving up to `capacity` datagrams in one recvmmsg call.
pub struct RecvBatch {
    buffers: Box<[u8]>,
    buf_size: usize,
    names: Box<[SockaddrBytes]>,
    controls: Box<[ControlBytes]>,
    iovecs: Box<[libc::iovec]>,
    headers: Box<[libc::mmsghdr]>,
    received: usize,
    socket_index: usize,
}

// SAFETY: the raw pointers inside `iovecs` and `headers` point only into this struct's own boxed
// slices, whose heap storage does not move when the struct moves to another thread.
unsafe impl Send for RecvBatch {}

impl RecvBatch {
    pub fn new(capacity: usize, buf_size: usize) -> Self {
        let mut batch = RecvBatch {
            buffers: vec![0u8; capacity * buf_size].into_boxed_slice(),
            buf_size,
            names: vec![SockaddrBytes::default(); capacity].into_boxed_slice(),
            controls: vec![ControlBytes([0; CONTROL_LEN]); capacity].into_boxed_slice(),
            iovecs: unset_iovecs(capacity),
            headers: zeroed_headers(capacity),
            received: 0,
            socket_index: 0,
        };
        for i in 0..capacity {
            batch.iovecs[i].iov_base = batch.buffers[i * buf_size..].as_mut_ptr().cast();
            batch.iovecs[i].iov_len = buf_size;
        }
        batch
    }

    pub fn capacity(&self) -> usize {
        self.headers.len()
    }

    fn reset_headers(&mut self) {
        for i in 0..self.headers.len() {
            let hdr = &mut self.headers[i].msg_hdr;
            hdr.msg_name = self.names[i].0.as_mut_ptr().cast();
            hdr.msg_namelen = wire::SOCKADDR_MAX as u32;
            hdr.msg_iov = &mut self.iovecs[i];
            hdr.msg_iovlen = 1;
            hdr.msg_control = self.controls[i].0.as_mut_ptr().cast();
            hdr.msg_controllen = CONTROL_LEN;
            hdr.msg_flags = 0;
            self.headers[i].msg_len = 0;
        }
    }

    /// Receives what is waiting on `socket` without blocking; returns how many (0 if none).
    /// `socket_index` is reported back in each datagram.
    pub fn recv(&mut self, socket: BorrowedFd<'_>, socket_index: usize) -> io::Result<usize> {
        self.reset_headers();
        self.received = 0;
        self.socket_index = socket_index;
        // SAFETY: every header points at buffers owned by `self` with the lengths given above;
        // they stay valid and exclusively borrowed for the duration of the call.
        let rc = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                self.headers.as_mut_ptr(),
                self.headers.len() as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            let err = io::Error::last_os_error();
            return match err.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(err),
            };
        }
        self.received = rc as usize;
        Ok(self.received)
    }

    pub fn len(&self) -> usize {
        self.received
    }

    pub fn is_empty(&self) -> bool {
        self.received == 0
    }

    /// The `index`th datagram of the last `recv`; `None` for an unparsable sender address.
    pub fn get(&self, index: usize) -> Option<Datagram<'_>> {
        if index >= self.received {
            return None;
        }
        let hdr = &self.headers[index];
        let len = hdr.msg_len as usize;
        let name_len = (hdr.msg_hdr.msg_namelen as usize).min(wire::SOCKADDR_MAX);
        let control_len = hdr.msg_hdr.msg_controllen.min(CONTROL_LEN);
        Some(Datagram {
            payload: &self.buffers
                [index * self.buf_size..index * self.buf_size + len.min(self.buf_size)],
            peer: wire::decode_sockaddr(&self.names[index].0[..name_len])?,
            rx_time: wire::rx_timestamp(&self.controls[index].0[..control_len]),
            socket_index: self.socket_index,
        })
    }
}

/// Buffers for sending up to `capacity` datagrams in one sendmmsg call.
pub struct SendBatch {
    buffers: Box<[u8]>,
    buf_size: usize,
    names: Box<[SockaddrBytes]>,
    tx_requests: Box<[TxRequest]>,
    iovecs: Box<[libc::iovec]>,
    headers: Box<[libc::mmsghdr]>,
    queued: usize,
}

// SAFETY: as for RecvBatch, the raw pointers point only into this struct's own heap storage.
unsafe impl Send for SendBatch {}

/// What a flush achieved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlushOutcome {
    pub sent: usize,
    /// Datagrams the kernel refused (unreachable peer, full buffers past the wait): dropped.
    pub failed: usize,
}

impl SendBatch {
    pub fn new(capacity: usize, buf_size: usize) -> Self {
        SendBatch {
            buffers: vec![0u8; capacity * buf_size].into_boxed_slice(),
            buf_size,
            names: vec![SockaddrBytes::default(); capacity].into_boxed_slice(),
            tx_requests: vec![TxRequest::default(); capacity].into_boxed_slice(),
            iovecs: unset_iovecs(capacity),
            headers: zeroed_headers(capacity),
            queued: 0,
        }
    }

    /// Asks the kernel for the software transmit time of the datagram queued last, reported
    /// on the socket's error queue (see `sockopt::enable_tx_timestamps` and
    /// [`TxTimestampQueue`]). Does nothing on an empty batch.
    pub fn ask_tx_timestamp(&mut self) {
        let Some(last) = self.queued.checked_sub(1) else {
            return;
        };
        let hdr = &mut self.headers[last].msg_hdr;
        hdr.msg_control = self.tx_requests[last].as_mut_ptr();
        hdr.msg_controllen = TX_REQUEST_LEN;
    }

    pub fn is_full(&self) -> bool {
        self.queued == self.headers.len()
    }

    pub fn len(&self) -> usize {
        self.queued
    }

    pub fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// Queues one datagram to `peer`; `fill` writes the payload and returns its length.
    /// Returns false (and queues nothing) when the batch is full or `fill` returns 0.
    pub fn push(&mut self, peer: &SocketAddr, fill: impl FnOnce(&mut [u8]) -> usize) -> bool {
        if self.is_full() {
            return false;
        }
        let i = self.queued;
        let buffer = &mut self.buffers[i * self.buf_size..(i + 1) * self.buf_size];
        let len = fill(buffer).min(self.buf_size);
        if len == 0 {
            return false;
        }
        let name_len = wire::encode_sockaddr(peer, &mut self.names[i]);
        self.iovecs[i].iov_base = buffer.as_mut_ptr().cast();
        self.iovecs[i].iov_len = len;
        let hdr = &mut self.headers[i].msg_hdr;
        hdr.msg_name = self.names[i].0.as_mut_ptr().cast();
        hdr.msg_namelen = name_len;
        hdr.msg_iov = &mut self.iovecs[i];
        hdr.msg_iovlen = 1;
        hdr.msg_control = std::ptr::null_mut();
        hdr.msg_controllen = 0;
        self.queued += 1;
        true
    }

    /// Sends everything queued on `socket` (blocking or not), then empties the batch.
    pub fn flush(&mut self, socket: BorrowedFd<'_>) -> FlushOutcome {
        let mut outcome = FlushOutcome::default();
        let mut start = 0;
        let mut waits = 0;
        while start < self.queued {
            // SAFETY: headers[start..queued] were filled by `push` and point into buffers owned
            // by `self`, which stay borrowed for the duration of the call.
            let rc = unsafe {
                libc::sendmmsg(
                    socket.as_raw_fd(),
                    self.headers[start..].as_mut_ptr(),
                    (self.queued - start) as u32,
                    0,
                )
            };
            if rc > 0 {
                outcome.sent += rc as usize;
                start += rc as usize;
                continue;
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock if waits < 3 => {
                    waits += 1;
                    let _ = wait_writable(socket, Duration::from_millis(10));
                }
                _ => {
                    // The first datagram was refused: drop it and carry on with the rest.
                    outcome.failed += 1;
                    start += 1;
                }
            }
        }
        self.queued = 0;
        outcome
    }
}

/// Reads software transmit timestamps from a socket's error queue with recvmmsg.
pub struct TxTimestampQueue {
    controls: Box<[ErrControlBytes]>,
    headers: Box<[libc::mmsghdr]>,
    received: usize,
}

// SAFETY: the raw pointers in `headers` point only into this struct's own heap storage.
unsafe impl Send for TxTimestampQueue {}

impl TxTimestampQueue {
    pub fn new(capacity: usize) -> Self {
        TxTimestampQueue {
            controls: vec![ErrControlBytes([0; ERR_CONTROL_LEN]); capacity].into_boxed_slice(),
            headers: zeroed_headers(capacity),
            received: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.headers.len()
    }

    /// Takes what the error queue of `socket` holds, without blocking; returns how many
    /// messages (0 if none). The timestamps carry no payload (SOF_TIMESTAMPING_OPT_TSONLY).
    pub fn recv(&mut self, socket: BorrowedFd<'_>) -> io::Result<usize> {
        self.received = 0;
        for (header, control) in self.headers.iter_mut().zip(self.controls.iter_mut()) {
            let hdr = &mut header.msg_hdr;
            hdr.msg_name = std::ptr::null_mut();
            hdr.msg_namelen = 0;
            hdr.msg_iov = std::ptr::null_mut();
            hdr.msg_iovlen = 0;
            hdr.msg_control = control.0.as_mut_ptr().cast();
            hdr.msg_controllen = ERR_CONTROL_LEN;
            hdr.msg_flags = 0;
            header.msg_len = 0;
        }
        // SAFETY: every header points at control buffers owned by `self` with the lengths
        // given above and no data buffers; they stay exclusively borrowed during the call.
        let rc = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                self.headers.as_mut_ptr(),
                self.headers.len() as u32,
                libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            let err = io::Error::last_os_error();
            return match err.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(err),
            };
        }
        self.received = rc as usize;
        Ok(self.received)
    }

    /// The `index`th message of the last `recv`, if it is a transmit timestamp.
    pub fn get(&self, index: usize) -> Option<TxTimestamp> {
        if index >= self.received {
            return None;
        }
        let control_len = self.headers[index]
            .msg_hdr
            .msg_controllen
            .min(ERR_CONTROL_LEN);
        wire::tx_timestamp(&self.controls[index].0[..control_len])
    }
}

fn poll_one(socket: BorrowedFd<'_>, events: i16, timeout: Duration) -> io::Result<bool> {
    let mut fd = libc::pollfd {
        fd: socket.as_raw_fd(),
        events,
        revents: 0,
    };
    let millis = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: `fd` is one valid pollfd for the duration of the call.
    let rc = unsafe { libc::poll(&mut fd, 1, millis) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(err);
    }
    Ok(rc > 0)
}

fn wait_writable(socket: BorrowedFd<'_>, timeout: Duration) -> io::Result<bool> {
    poll_one(socket, libc::POLLOUT, timeout)
}

/// Waits until one of a fixed set of sockets is readable.
pub struct ReadinessPoller {
    fds: Vec<libc::pollfd>,
}

impl ReadinessPoller {
    pub fn new(sockets: &[BorrowedFd<'_>]) -> Self {
        ReadinessPoller {
            fds: sockets
                .iter()
                .map(|s| libc::pollfd {
                    fd: s.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect(),
        }
    }

    /// Waits up to `timeout`; afterwards `is_ready(i)` tells which sockets have data.
    pub fn wait(&mut self, timeout: Duration) -> io::Result<usize> {
        for fd in &mut self.fds {
            fd.revents = 0;
        }
        let millis = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: `fds` is a valid array of pollfd of the given length, the sockets are open
        // for the lifetime of the poller's owner.
        let rc = unsafe {
            libc::poll(
                self.fds.as_mut_ptr(),
                self.fds.len() as libc::nfds_t,
                millis,
            )
        };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                return Ok(0);
            }
            return Err(err);
        }
        Ok(rc as usize)
    }

    pub fn is_ready(&self, index: usize) -> bool {
        self.fds[index].revents & (libc::POLLIN | libc::POLLERR) != 0
    }

    /// Whether socket `index` has something on its error queue (transmit timestamps).
    pub fn has_errors(&self, index: usize) -> bool {
        self.fds[index].revents & libc::POLLERR != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsFd;

    #[test]
    fn batches_carry_datagrams_and_rx_timestamps() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        super::super::sockopt::enable_rx_timestamps(server.as_fd()).unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let server_addr = server.local_addr().unwrap();

        let mut send = SendBatch::new(4, 64);
        for n in 1..=3u8 {
            assert!(send.push(&server_addr, |buf| {
                buf[..n as usize].fill(n);
                n as usize
            }));
        }
        assert_eq!(send.flush(client.as_fd()).sent, 3);

        let mut poller = ReadinessPoller::new(&[server.as_fd()]);
        let mut recv = RecvBatch::new(8, 64);
        let mut got = Vec::new();
        while got.len() < 3 {
            poller.wait(Duration::from_secs(5)).unwrap();
            assert!(poller.is_ready(0));
            recv.recv(server.as_fd(), 7).unwrap();
            for i in 0..recv.len() {
                let d = recv.get(i).unwrap();
                assert_eq!(d.peer, client.local_addr().unwrap());
                assert_eq!(d.socket_index, 7);
                assert!(d.rx_time.is_some(), "SO_TIMESTAMPNS gives a receive time");
                got.push(d.payload.to_vec());
            }
        }
        assert_eq!(got, vec![vec![1], vec![2, 2], vec![3, 3, 3]]);
    }

    fn sends_that_ask_get_numbered_transmit_timestamps(loopback: &str) {
        let server = UdpSocket::bind(loopback).unwrap();
        super::super::sockopt::enable_tx_timestamps(server.as_fd()).unwrap();
        let client = UdpSocket::bind(loopback).unwrap();
        let client_addr = client.local_addr().unwrap();
        let before = super::super::clock::realtime_now();
        let mut send = SendBatch::new(1, 64);
        for asks in [true, false, true] {
            assert!(send.push(&client_addr, |buf| {
                buf[..48].fill(1);
                48
            }));
            if asks {
                send.ask_tx_timestamp();
            }
            assert_eq!(send.flush(server.as_fd()).sent, 1);
        }
        let mut poller = ReadinessPoller::new(&[server.as_fd()]);
        let mut queue = TxTimestampQueue::new(8);
        let mut stamps = Vec::new();
        for _ in 0..50 {
            if stamps.len() == 2 {
                break;
            }
            poller.wait(Duration::from_secs(5)).unwrap();
            assert!(poller.has_errors(0));
            let count = queue.recv(server.as_fd()).unwrap();
            stamps.extend((0..count).filter_map(|i| queue.get(i)));
        }
        let keys: Vec<u32> = stamps.iter().map(|s| s.key).collect();
        assert_eq!(keys, vec![0, 1], "only the sends that asked are numbered");
        assert!(stamps.iter().all(|s| s.time >= before));
        assert_eq!(queue.recv(server.as_fd()).unwrap(), 0);
    }

    #[test]
    fn ipv4_sends_that_ask_get_numbered_transmit_timestamps() {
        sends_that_ask_get_numbered_transmit_timestamps("127.0.0.1:0");
    }

    #[test]
    fn ipv6_sends_that_ask_get_numbered_transmit_timestamps() {
        sends_that_ask_get_numbered_transmit_timestamps("[::1]:0");
    }
}
