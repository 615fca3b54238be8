//! io_uring datagram engine: multishot RecvMsg on a provided-buffer ring, replies as Send, or SendMsg when their transmit time is wanted.

use std::collections::VecDeque;
use std::io;
use std::net::UdpSocket;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

use io_uring::{cqueue, opcode, types, IoUring};

use super::wire::{
    self, Datagram, SockaddrBytes, TxRequest, CONTROL_LEN, SOCKADDR_MAX, TX_REQUEST_LEN,
};

/// Size of `struct io_uring_recvmsg_out`, which the kernel writes at the start of each buffer.
const RECVMSG_OUT_LEN: usize = 16;

/// Completion queue entries per submission queue entry: multishot receives post many
/// completions per submission.
const COMPLETIONS_PER_ENTRY: u32 = 4;

const KIND_RECV: u64 = 1;
const KIND_SEND: u64 = 2;
/// A send that asked for its transmit timestamp.
const KIND_STAMPED_SEND: u64 = 3;

fn user_data(kind: u64, index: usize) -> u64 {
    kind << 32 | index as u64
}

/// Sizes of one shard's ring.
#[derive(Clone, Copy, Debug)]
pub struct RingConfig {
    /// Submission queue entries (the completion queue gets `COMPLETIONS_PER_ENTRY` times as
    /// many).
    pub entries: u32,
    /// Provided receive buffers; a power of two, at most 32768.
    pub buffers: u16,
    /// Largest payload kept; longer datagrams are cut to it (NTP reads only the header).
    pub max_payload: usize,
    /// Largest reply a handler may write: each send slot holds one.
    pub max_reply: usize,
    /// Replies queued before the ring is told to send them. A reply queued behind others
    /// leaves only after their sends ran in the kernel (a few microseconds each on loopback),
    /// so its transmit timestamp would be early by that much: 1 keeps T3 exact.
    pub send_batch: usize,
}

impl Default for RingConfig {
    fn default() -> Self {
        RingConfig {
            entries: 1024,
            buffers: 4096,
            max_payload: 512,
            max_reply: 64,
            send_batch: 1,
        }
    }
}

/// Counters of what the ring itself saw (the protocol counts its own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingStats {
    pub recv_errors: u64,
    pub send_errors: u64,
    /// Receives re-armed because the kernel ran out of provided buffers under load.
    pub buffer_exhaustions: u64,
    /// Replies dropped because every send slot was still in flight.
    pub send_slot_exhaustions: u64,
    pub unparsable: u64,
    /// Failed sends that had asked for a transmit timestamp: the kernel's numbering of the
    /// socket's timestamped sends may no longer be the one the caller counted.
    pub stamped_send_errors: u64,
}

/// A handler's answer to a datagram: the reply's length (0: none) and whether the kernel
/// should report when it left, on the socket's error queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    pub len: usize,
    pub tx_timestamp: bool,
}

impl From<usize> for Reply {
    fn from(len: usize) -> Reply {
        Reply {
            len,
            tx_timestamp: false,
        }
    }
}

/// A ring of provided receive buffers shared with the kernel.
struct ProvidedBuffers {
    ring: *mut types::BufRingEntry,
    ring_bytes: usize,
    data: Box<[u8]>,
    buf_size: usize,
    count: u16,
    tail: u16,
    group: u16,
}

impl ProvidedBuffers {
    fn new(count: u16, buf_size: usize, group: u16) -> io::Result<Self> {
        if !count.is_power_of_two() || count > 32768 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "provided buffer count must be a power of two up to 32768",
            ));
        }
        let ring_bytes = usize::from(count) * std::mem::size_of::<types::BufRingEntry>();
        // SAFETY: an anonymous private mapping with no address hint; the result is checked.
        let ring = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ring_bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ring == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mut buffers = ProvidedBuffers {
            ring: ring.cast(),
            ring_bytes,
            data: vec![0u8; usize::from(count) * buf_size].into_boxed_slice(),
            buf_size,
            count,
            tail: 0,
            group,
        };
        for bid in 0..count {
            buffers.provide(bid);
        }
        buffers.publish();
        Ok(buffers)
    }

    /// Hands buffer `bid` back to the kernel (visible after `publish`).
    fn provide(&mut self, bid: u16) {
        let slot = usize::from(self.tail & (self.count - 1));
        let addr = self.data[usize::from(bid) * self.buf_size..].as_mut_ptr() as u64;
        // SAFETY: `slot` < count, so the entry lies inside the mapping made in `new`; the kernel
        // only reads entries between its head and our published tail, and this one is past it.
        let entry = unsafe { &mut *self.ring.add(slot) };
        entry.set_addr(addr);
        entry.set_len(self.buf_size as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&self) {
        // SAFETY: the tail field lives in the first entry of our mapping; the kernel reads it
        // concurrently, so it is written atomically with release ordering after the entries.
        unsafe {
            let tail = types::BufRingEntry::tail(self.ring).cast_mut();
            (*tail.cast::<std::sync::atomic::AtomicU16>())
                .store(self.tail, std::sync::atomic::Ordering::Release);
        }
    }

    fn get(&self, bid: u16, len: usize) -> &[u8] {
        let start = usize::from(bid) * self.buf_size;
        &self.data[start..start + len.min(self.buf_size)]
    }
}

impl Drop for ProvidedBuffers {
    fn drop(&mut self) {
        // SAFETY: the mapping was made in `new` with this length; the ring that used it has
        // been dropped (or the group unregistered) before, see UdpRing's field order and Drop.
        unsafe {
            libc::munmap(self.ring.cast(), self.ring_bytes);
        }
    }
}

/// One reply: header, address and payload the kernel reads while it issues the send.
///
/// Sends carry MSG_DONTWAIT, so the kernel issues each one inline during the submitting
/// `io_uring_enter` (a full socket buffer fails with EAGAIN instead of waiting), and it copies
/// the payload into the packet there. A slot is therefore reusable once the submit that carried
/// it returns; successful sends post no completion at all (SKIP_SUCCESS), which halves the
/// completions per request. Slots are still reused oldest-first, twice as many as receive
/// buffers, as a margin.
struct SendSlot {
    name: SockaddrBytes,
    name_len: u32,
    /// For a reply sent with SENDMSG: its header, payload vector and timestamp request.
    msg: libc::msghdr,
    iov: libc::iovec,
    tx_request: TxRequest,
}

/// One shard's ring: receives on all of its sockets, sends replies from fixed slots.
pub struct UdpRing {
    // Field order matters: the ring is closed before the buffers and slots it points into.
    ring: IoUring,
    buffers: ProvidedBuffers,
    slots: Box<[SendSlot]>,
    /// The slots' replies, `config.max_reply` bytes each, slot `i` at `i * max_reply`.
    payloads: Box<[u8]>,
    free_slots: VecDeque<u32>,
    /// Slots queued since the last submit; free again once it returns.
    in_flight: Vec<u32>,
    recv_template: Box<libc::msghdr>,
    sockets: Vec<UdpSocket>,
    needs_arming: Vec<bool>,
    config: RingConfig,
    stats: RingStats,
}

const BUFFER_GROUP: u16 = 0;

impl UdpRing {
    /// Builds the ring for `sockets` (which should have RX timestamps enabled).
    pub fn new(sockets: Vec<UdpSocket>, config: RingConfig) -> io::Result<Self> {
        let ring = build_ring(config.entries)?;
        let mut probe = io_uring::Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        for code in [
            opcode::RecvMsg::CODE,
            opcode::Send::CODE,
            opcode::SendMsg::CODE,
        ] {
            if !probe.is_supported(code) {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "io_uring lacks RECVMSG/SEND/SENDMSG",
                ));
            }
        }
        let buf_size = RECVMSG_OUT_LEN + SOCKADDR_MAX + CONTROL_LEN + config.max_payload;
        let buffers = ProvidedBuffers::new(config.buffers, buf_size, BUFFER_GROUP)?;
        // SAFETY: the ring memory stays mapped until `buffers` drops, which happens after the
        // ring is closed (field order) or after the group is unregistered in Drop.
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                buffers.ring as u64,
                buffers.count,
                buffers.group,
                0,
            )?;
        }

        // SAFETY: an all-zero msghdr is valid; only the lengths matter for a multishot template.
        let mut recv_template: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
        recv_template.msg_namelen = SOCKADDR_MAX as u32;
        recv_template.msg_controllen = CONTROL_LEN;

        let slot_count = usize::from(config.buffers) * 2;
        let slots: Box<[SendSlot]> = (0..slot_count)
            .map(|_| SendSlot {
                name: SockaddrBytes::default(),
                name_len: 0,
                // SAFETY: an all-zero msghdr is valid (null pointers, zero lengths).
                msg: unsafe { std::mem::zeroed() },
                iov: libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                },
                tx_request: TxRequest::default(),
            })
            .collect();
        let payloads = vec![0u8; slot_count * config.max_reply].into_boxed_slice();
        let socket_count = sockets.len();
        Ok(UdpRing {
            ring,
            buffers,
            slots,
            payloads,
            free_slots: (0..slot_count as u32).collect(),
            in_flight: Vec::with_capacity(slot_count),
            recv_template,
            sockets,
            needs_arming: vec![true; socket_count],
            config,
            stats: RingStats::default(),
        })
    }

    pub fn stats(&self) -> RingStats {
        self.stats
    }

    /// The ring's sockets, in the order given to [`UdpRing::new`].
    pub fn sockets(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.sockets.iter().map(|socket| socket.as_fd())
    }

    /// Gives the sockets back, e.g. to continue on another backend.
    pub fn into_sockets(mut self) -> Vec<UdpSocket> {
        std::mem::take(&mut self.sockets)
    }

    /// Waits up to `timeout` for datagrams and handles every one that is ready; a zero
    /// timeout takes whatever has arrived without waiting. `handle` gets each datagram and a
    /// reply buffer; it returns the reply's length, 0 for no reply, or a [`Reply`]. Replies
    /// leave in the order they were handled. Returns how many
    /// datagrams came. Fails only when the kernel rejects the receive operation itself (e.g.
    /// no multishot support), so the caller can switch backends.
    pub fn poll<F, R>(&mut self, timeout: Duration, mut handle: F) -> io::Result<usize>
    where
        F: FnMut(&Datagram<'_>, &mut [u8]) -> R,
        R: Into<Reply>,
    {
        self.arm_receives()?;
        if timeout.is_zero() {
            // With deferred task work, receives that completed while the shard was away run
            // only when it asks for completions, and a multishot receive takes a bounded number
            // of datagrams per run: asking for more completions than can be pending makes the
            // kernel run all of that work before the zero timeout returns.
            self.wait(self.config.entries * COMPLETIONS_PER_ENTRY, timeout)?;
        } else {
            self.wait(1, timeout)?;
        }
        self.drain(&mut handle)
    }

    fn wait(&mut self, want: u32, timeout: Duration) -> io::Result<()> {
        let timespec = types::Timespec::new()
            .sec(timeout.as_secs())
            .nsec(timeout.subsec_nanos());
        let args = types::SubmitArgs::new().timespec(&timespec);
        if let Err(err) = self.ring.submitter().submit_with_args(want as usize, &args) {
            match err.raw_os_error() {
                Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY) => {}
                _ => return Err(err),
            }
        }
        Ok(())
    }

    fn arm_receives(&mut self) -> io::Result<()> {
        let (submitter, mut sq, _) = self.ring.split();
        for (index, socket) in self.sockets.iter().enumerate() {
            if !self.needs_arming[index] {
                continue;
            }
            let entry = opcode::RecvMsgMulti::new(
                types::Fd(socket.as_raw_fd()),
                &*self.recv_template,
                BUFFER_GROUP,
            )
            .build()
            .user_data(user_data(KIND_RECV, index));
            // SAFETY: the template msghdr is boxed and lives as long as the ring; the buffer
            // group it receives into is registered and stays mapped.
            while unsafe { sq.push(&entry) }.is_err() {
                sq.sync();
                submitter.submit()?;
                sq.sync();
            }
            self.needs_arming[index] = false;
        }
        sq.sync();
        Ok(())
    }

    fn drain<F, R>(&mut self, handle: &mut F) -> io::Result<usize>
    where
        F: FnMut(&Datagram<'_>, &mut [u8]) -> R,
        R: Into<Reply>,
    {
        let UdpRing {
            ring,
            buffers,
            slots,
            payloads,
            free_slots,
            in_flight,
            recv_template,
            sockets,
            needs_arming,
            config,
            stats,
            ..
        } = self;
        let mut handled = 0;
        let (submitter, mut sq, mut cq) = ring.split();
        let mut unsubmitted = 0usize;
        let mut fatal = None;
        loop {
            cq.sync();
            if cq.is_empty() {
                break;
            }
            for cqe in &mut cq {
                let data = cqe.user_data();
                let index = (data & 0xFFFF_FFFF) as usize;
                let result = cqe.result();
                if data >> 32 == KIND_SEND || data >> 32 == KIND_STAMPED_SEND {
                    // Successful sends post no completion (SKIP_SUCCESS); this is a failure.
                    stats.send_errors += 1;
                    if data >> 32 == KIND_STAMPED_SEND {
                        stats.stamped_send_errors += 1;
                    }
                    continue;
                }
                handled += 1;
                let flags = cqe.flags();
                if !cqueue::more(flags) {
                    needs_arming[index] = true;
                }
                if result < 0 {
                    match -result {
                        libc::ENOBUFS => stats.buffer_exhaustions += 1,
                        libc::EINVAL | libc::EOPNOTSUPP => {
                            fatal = Some(io::Error::from_raw_os_error(-result))
                        }
                        _ => stats.recv_errors += 1,
                    }
                    continue;
                }
                let Some(bid) = cqueue::buffer_select(flags) else {
                    stats.unparsable += 1;
                    continue;
                };
                let raw = buffers.get(bid, result as usize);
                let out = types::RecvMsgOut::parse(raw, recv_template).ok();
                let parsed = out.as_ref().and_then(|out| {
                    Some(Datagram {
                        payload: out.payload_data(),
                        peer: wire::decode_sockaddr(out.name_data())?,
                        rx_time: wire::rx_timestamp(out.control_data()),
                        socket_index: index,
                    })
                });
                match parsed {
                    None => stats.unparsable += 1,
                    Some(datagram) => match free_slots.pop_front() {
                        None => stats.send_slot_exhaustions += 1,
                        Some(slot_index) => {
                            let slot = &mut slots[slot_index as usize];
                            let start = slot_index as usize * config.max_reply;
                            let payload = &mut payloads[start..start + config.max_reply];
                            let reply: Reply = handle(&datagram, payload).into();
                            let len = reply.len.min(config.max_reply);
                            if len == 0 {
                                free_slots.push_front(slot_index);
                            } else {
                                slot.name_len =
                                    wire::encode_sockaddr(&datagram.peer, &mut slot.name);
                                let fd = types::Fd(sockets[index].as_raw_fd());
                                let kind = if reply.tx_timestamp {
                                    KIND_STAMPED_SEND
                                } else {
                                    KIND_SEND
                                };
                                let entry = if reply.tx_timestamp {
                                    slot.iov = libc::iovec {
                                        iov_base: payload.as_mut_ptr().cast(),
                                        iov_len: len,
                                    };
                                    slot.msg.msg_name = slot.name.0.as_mut_ptr().cast();
                                    slot.msg.msg_namelen = slot.name_len;
                                    slot.msg.msg_iov = &mut slot.iov;
                                    slot.msg.msg_iovlen = 1;
                                    slot.msg.msg_control = slot.tx_request.as_mut_ptr();
                                    slot.msg.msg_controllen = TX_REQUEST_LEN;
                                    opcode::SendMsg::new(fd, &slot.msg)
                                        .flags(libc::MSG_DONTWAIT as u32)
                                        .build()
                                } else {
                                    // SEND with a destination (sendto) rather than SENDMSG:
                                    // the kernel has no msghdr or iovec to copy in.
                                    opcode::Send::new(fd, payload.as_ptr(), len as u32)
                                        .dest_addr(slot.name.0.as_ptr().cast())
                                        .dest_addr_len(slot.name_len)
                                        .flags(libc::MSG_DONTWAIT)
                                        .build()
                                }
                                .flags(io_uring::squeue::Flags::SKIP_SUCCESS)
                                .user_data(user_data(kind, slot_index as usize));
                                // SAFETY: the slot (its address, header, vector and timestamp
                                // request) and its part of `payloads` stay untouched until the
                                // submit that carries it returns it to `free_slots`; both live
                                // as long as the ring (field order).
                                while unsafe { sq.push(&entry) }.is_err() {
                                    sq.sync();
                                    submitter.submit()?;
                                    free_slots.extend(in_flight.drain(..));
                                    unsubmitted = 0;
                                    sq.sync();
                                }
                                unsubmitted += 1;
                                in_flight.push(slot_index);
                                if unsubmitted >= config.send_batch {
                                    sq.sync();
                                    submitter.submit()?;
                                    free_slots.extend(in_flight.drain(..));
                                    unsubmitted = 0;
                                }
                            }
                        }
                    },
                }
                buffers.provide(bid);
            }
            buffers.publish();
        }
        sq.sync();
        if unsubmitted > 0 {
            submitter.submit()?;
            free_slots.extend(in_flight.drain(..));
        }
        drop(sq);
        drop(cq);
        match fatal {
            Some(err) => Err(err),
            None => Ok(handled),
        }
    }
}

fn build_ring(entries: u32) -> io::Result<IoUring> {
    // Single issuer with deferred task work: completions are processed only when the shard
    // asks for them, which avoids interrupting it mid-batch. Older kernels refuse the flags.
    IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_cqsize(entries * COMPLETIONS_PER_ENTRY)
        .build(entries)
        .or_else(|_| {
            IoUring::builder()
                .setup_cqsize(entries * COMPLETIONS_PER_ENTRY)
                .build(entries)
        })
}

impl Drop for UdpRing {
    fn drop(&mut self) {
        // Armed multishot receives hold their sockets until they complete, and a ring closed
        // with them pending is torn down by a kernel worker later, keeping the port bound
        // after ringd has stopped (a restart then finds it in use). Cancelling them (kernel
        // 6.0, as multishot receives) and running the deferred completion work releases the
        // sockets when they drop.
        let _ = self
            .ring
            .submitter()
            .register_sync_cancel(None, types::CancelBuilder::any());
        let _ = self.wait(1, Duration::ZERO);
        let _ = self
            .ring
            .submitter()
            .unregister_buf_ring(self.buffers.group);
    }
}

/// Checks that this kernel and process can run the engine: builds a ring and passes one
/// datagram through a multishot receive on loopback. The reason comes back when it cannot.
pub fn self_test() -> io::Result<()> {
    let receiver = UdpSocket::bind("127.0.0.1:0")?;
    let sender = UdpSocket::bind("127.0.0.1:0")?;
    super::sockopt::enable_rx_timestamps(receiver.as_fd())?;
    let target = receiver.local_addr()?;
    let mut ring = UdpRing::new(
        vec![receiver],
        RingConfig {
            entries: 8,
            buffers: 8,
            max_payload: 64,
            max_reply: 64,
            send_batch: 1,
        },
    )?;
    sender.send_to(b"ringd io_uring self-test", target)?;
    sender.set_nonblocking(true)?;
    let mut answer = [0u8; 16];
    for _ in 0..20 {
        ring.poll(Duration::from_millis(50), |datagram, out| {
            if datagram.payload == b"ringd io_uring self-test" {
                out[..4].copy_from_slice(b"pong");
                4
            } else {
                0
            }
        })?;
        if let Ok((4, _)) = sender.recv_from(&mut answer) {
            return Ok(());
        }
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        "io_uring multishot receive or send with an address delivered nothing",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_test_passes_on_this_kernel() {
        self_test().expect("io_uring works here");
    }

    /// A ring on a loopback socket set up by `timestamps`, its address, and a client socket
    /// that gives up reading after 5 s.
    fn ring_and_client(
        timestamps: fn(BorrowedFd<'_>) -> io::Result<()>,
    ) -> (UdpRing, std::net::SocketAddr, UdpSocket) {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        timestamps(server.as_fd()).unwrap();
        let addr = server.local_addr().unwrap();
        let ring = UdpRing::new(vec![server], RingConfig::default()).unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        (ring, addr, client)
    }

    #[test]
    fn replies_go_back_to_the_sender_with_rx_time() {
        let (mut ring, addr, client) = ring_and_client(super::super::sockopt::enable_rx_timestamps);
        for n in 0..50u8 {
            client.send_to(&[n; 48], addr).unwrap();
        }
        let mut handled = 0;
        let mut with_time = 0;
        while handled < 50 {
            ring.poll(Duration::from_millis(100), |d, out| {
                handled += 1;
                with_time += usize::from(d.rx_time.is_some());
                out[..4].copy_from_slice(&d.payload[..4]);
                4
            })
            .unwrap();
        }
        assert_eq!(with_time, 50);
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        for _ in 0..50 {
            let (len, from) = client.recv_from(&mut buf).unwrap();
            assert_eq!(from, addr);
            assert_eq!(len, 4);
            got.push(buf[0]);
        }
        got.sort_unstable();
        assert_eq!(got, (0..50).collect::<Vec<u8>>());
    }

    #[test]
    fn a_look_without_waiting_takes_everything_that_arrived() {
        const SENT: usize = 300;
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket2::SockRef::from(&server)
            .set_recv_buffer_size(4 << 20)
            .unwrap();
        let addr = server.local_addr().unwrap();
        let mut ring = UdpRing::new(vec![server], RingConfig::default()).unwrap();
        // Arms the receive: from now on arrivals queue deferred work, as while a shard sleeps.
        assert_eq!(ring.poll(Duration::ZERO, |_, _| 0).unwrap(), 0);
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        for _ in 0..SENT {
            client.send_to(&[0x23; 48], addr).unwrap();
        }
        let mut seen = 0;
        let handled = ring
            .poll(Duration::ZERO, |_, _| {
                seen += 1;
                0
            })
            .unwrap();
        assert_eq!((handled, seen), (SENT, SENT));
    }

    /// Set in the process that runs [`a_dropped_ring_leaves_its_port_free_at_once`] alone.
    const RUN_ALONE: &str = "RINGD_SYS_TEST_ALONE";

    #[test]
    fn a_dropped_ring_leaves_its_port_free_at_once() {
        // A restarted ringd (or anything else) must be able to bind the port as soon as the
        // old one has stopped, not when the kernel gets round to tearing the ring down.
        // Tests beside this one fork (PAM's password helper, useradd), and a child holds
        // copies of every descriptor, the ring's and the socket's, until it execs: so this
        // runs alone, in a process of its own.
        if std::env::var_os(RUN_ALONE).is_none() {
            let alone = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "--test-threads", "1"])
                .arg("uring::tests::a_dropped_ring_leaves_its_port_free_at_once")
                .env(RUN_ALONE, "1")
                .output()
                .unwrap();
            let report = String::from_utf8_lossy(&alone.stdout);
            assert!(alone.status.success(), "{report}");
            assert!(report.contains("1 passed"), "it ran: {report}");
            return;
        }
        for _ in 0..20 {
            let server = UdpSocket::bind("127.0.0.1:0").unwrap();
            let addr = server.local_addr().unwrap();
            let mut ring = UdpRing::new(vec![server], RingConfig::default()).unwrap();
            assert_eq!(ring.poll(Duration::ZERO, |_, _| 0).unwrap(), 0);
            drop(ring);
            UdpSocket::bind(addr).expect("the port is free once the ring is dropped");
        }
    }

    #[test]
    fn replies_that_ask_get_numbered_transmit_timestamps() {
        let (mut ring, addr, client) = ring_and_client(super::super::sockopt::enable_tx_timestamps);
        for n in 0..3u8 {
            client.send_to(&[n; 48], addr).unwrap();
        }
        let mut handled = 0;
        for _ in 0..50 {
            if handled == 3 {
                break;
            }
            ring.poll(Duration::from_millis(100), |d, out| {
                handled += 1;
                out[..4].copy_from_slice(&d.payload[..4]);
                Reply {
                    len: 4,
                    tx_timestamp: d.payload[0] != 1,
                }
            })
            .unwrap();
        }
        let mut buf = [0u8; 64];
        for _ in 0..3 {
            assert_eq!(client.recv_from(&mut buf).unwrap().0, 4);
        }
        let mut queue = super::super::mmsg::TxTimestampQueue::new(8);
        let socket = ring.sockets().next().unwrap();
        let count = queue.recv(socket).unwrap();
        let keys: Vec<u32> = (0..count)
            .filter_map(|i| queue.get(i))
            .map(|s| s.key)
            .collect();
        assert_eq!(
            keys,
            vec![0, 1],
            "the two replies that asked, numbered in order"
        );
        assert_eq!(ring.stats().stamped_send_errors, 0);
    }
}
