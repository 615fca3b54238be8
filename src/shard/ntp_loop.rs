//! The I/O loop of one NTP shard: feeds datagrams to the responder and sends its replies.

use std::io;
use std::net::UdpSocket;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tracing::warn;

use super::client_log::ClientLogTap;
use super::Backend;
use crate::ntp::packet::HEADER_LEN;
use crate::ntp::responder::Responder;
use crate::sys::clock::realtime_now;
use crate::sys::mmsg::{ReadinessPoller, RecvBatch, SendBatch};
use crate::sys::uring::{RingConfig, RingStats, UdpRing};
use crate::sys::Datagram;

/// How often an idle shard looks at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(100);
/// Datagrams taken per recvmmsg.
const MMSG_BATCH: usize = 64;
/// Replies sent per sendmmsg: one, so each reply leaves right after its T3 was read (a reply
/// queued behind others would carry a T3 early by their send time).
const MMSG_SEND_BATCH: usize = 1;
/// Longest request kept by the mmsg backend; longer ones are answered from their header.
const MAX_REQUEST: usize = 1024;

fn answer(responder: &mut Responder, datagram: &Datagram<'_>, out: &mut [u8]) -> usize {
    match out
        .get_mut(..HEADER_LEN)
        .and_then(|o| <&mut [u8; HEADER_LEN]>::try_from(o).ok())
    {
        Some(out) => responder.respond(
            datagram.payload,
            datagram.peer.ip(),
            datagram.rx_time,
            realtime_now,
            out,
        ),
        None => 0,
    }
}

/// Work between batches, off the per-packet path: the limiter's eviction count for
/// `ringctl serverstats`, and a copy of the client log when `ringctl clients` asked for one.
fn between_batches(responder: &Responder, client_log: &ClientLogTap) {
    let limiter = responder.rate_limiter();
    if let Some(limiter) = limiter {
        responder
            .counters()
            .client_log_evictions
            .set(limiter.stats().evictions);
    }
    client_log.serve(limiter, realtime_now);
}

/// Serves `sockets` until `stop` is set. The io_uring backend hands over to the mmsg one if
/// the kernel rejects its receive operation mid-run.
pub fn run(
    backend: Backend,
    sockets: Vec<UdpSocket>,
    responder: &mut Responder,
    client_log: &ClientLogTap,
    stop: &AtomicBool,
) -> io::Result<()> {
    match backend {
        Backend::Mmsg => run_mmsg(&sockets, responder, client_log, stop),
        Backend::Uring => {
            let mut ring = UdpRing::new(sockets, RingConfig::default())?;
            let mut reported = RingStats::default();
            while !stop.load(Ordering::Relaxed) {
                let polled = ring.poll(STOP_CHECK, |d, out| answer(responder, d, out));
                between_batches(responder, client_log);
                let stats = ring.stats();
                let counters = responder.counters();
                counters.send_failures.add(
                    (stats.send_errors + stats.send_slot_exhaustions)
                        - (reported.send_errors + reported.send_slot_exhaustions),
                );
                counters.receive_errors.add(
                    (stats.recv_errors + stats.unparsable)
                        - (reported.recv_errors + reported.unparsable),
                );
                counters
                    .receive_buffer_exhaustions
                    .add(stats.buffer_exhaustions - reported.buffer_exhaustions);
                reported = stats;
                if let Err(err) = polled {
                    warn!("io_uring receive failed ({err}); this shard continues with recvmmsg/sendmmsg");
                    let sockets = ring.into_sockets();
                    return run_mmsg(&sockets, responder, client_log, stop);
                }
            }
            Ok(())
        }
    }
}

fn run_mmsg(
    sockets: &[UdpSocket],
    responder: &mut Responder,
    client_log: &ClientLogTap,
    stop: &AtomicBool,
) -> io::Result<()> {
    let fds: Vec<BorrowedFd<'_>> = sockets.iter().map(|s| s.as_fd()).collect();
    let mut poller = ReadinessPoller::new(&fds);
    let mut received = RecvBatch::new(MMSG_BATCH, MAX_REQUEST);
    let mut replies = SendBatch::new(MMSG_SEND_BATCH, HEADER_LEN);
    while !stop.load(Ordering::Relaxed) {
        poller.wait(STOP_CHECK)?;
        between_batches(responder, client_log);
        for (index, fd) in fds.iter().enumerate() {
            if !poller.is_ready(index) {
                continue;
            }
            loop {
                let count = match received.recv(*fd, index) {
                    Ok(count) => count,
                    Err(_) => {
                        responder.counters().receive_errors.add(1);
                        break;
                    }
                };
                for i in 0..count {
                    let Some(datagram) = received.get(i) else {
                        continue;
                    };
                    replies.push(&datagram.peer, |out| answer(responder, &datagram, out));
                    if replies.is_full() {
                        let outcome = replies.flush(*fd);
                        responder
                            .counters()
                            .send_failures
                            .add(outcome.failed as u64);
                    }
                }
                if !replies.is_empty() {
                    let outcome = replies.flush(*fd);
                    responder
                        .counters()
                        .send_failures
                        .add(outcome.failed as u64);
                }
                if count < received.capacity() {
                    break;
                }
            }
        }
    }
    Ok(())
}
