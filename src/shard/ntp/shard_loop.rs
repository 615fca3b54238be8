//! The I/O loop of one NTP shard: feeds datagrams to the responder and sends its replies.

use std::io;
use std::net::UdpSocket;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tracing::warn;

use super::client_log::ClientLogTap;
use super::handover::{self, Slot, SocketHandover};
use super::transmit_times::TransmitTimes;
use crate::ntp::reply;
use crate::ntp::responder::Responder;
use crate::shard::Backend;
use crate::sys::clock::realtime_now;
use crate::sys::mmsg::{ReadinessPoller, RecvBatch, SendBatch};
use crate::sys::uring::{RingConfig, RingStats, UdpRing};
use crate::sys::Datagram;

/// How often an idle shard looks at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(100);
/// Datagrams taken per recvmmsg.
const MMSG_BATCH: usize = 64;
/// Replies sent per sendmmsg: one, so each reply leaves right after its T3 was read (a reply
/// queued behind others would carry a T3 early by their send time). [`TransmitTimes`] pairs
/// each flush with the one reply it sent.
const MMSG_SEND_BATCH: usize = 1;
const _: () = assert!(
    MMSG_SEND_BATCH == 1,
    "TransmitTimes::sent pairs a flush with one reply"
);
/// Longest request kept: one byte more than the longest answered, so a cut one is dropped.
const MAX_REQUEST: usize = reply::LONGEST_REQUEST + 1;

/// When a shard next looks at its sockets, given how its last look went: wake-up moderation,
/// as a NIC's interrupt coalescing. While requests keep coming, a shard takes them at most once
/// per `interval`, in one batch, instead of waking for each one; when a look found nothing it
/// blocks until the next request. The wait is invisible to clients: T2 is the kernel's receive
/// timestamp and T3 is read just before the send, so the time a request spends in the socket
/// is part of neither the offset nor the delay they compute. What it saves is the cost of a
/// wake-up (a context switch and a system call or two) per request.
#[derive(Clone, Copy, Debug)]
pub struct WakeModeration {
    pub interval: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NextLook {
    /// Block until a request comes (or the stop flag is due a check).
    Block,
    /// Sleep this long, then take everything that arrived meanwhile without waiting.
    Gather(Duration),
}

impl WakeModeration {
    /// `handled` requests came at the last look, which took `took` (its waiting included), so a
    /// busy shard looks again `interval` after the last look began, and at once when handling
    /// took longer than that.
    fn next_look(&self, handled: usize, took: Duration) -> NextLook {
        if handled == 0 || self.interval.is_zero() {
            NextLook::Block
        } else {
            NextLook::Gather(self.interval.saturating_sub(took))
        }
    }

    /// Sleeps as `next` says and gives the timeout of the look that follows.
    fn before_look(next: NextLook) -> Duration {
        match next {
            NextLook::Block => STOP_CHECK,
            NextLook::Gather(rest) => {
                if !rest.is_zero() {
                    std::thread::sleep(rest);
                }
                Duration::ZERO
            }
        }
    }
}

fn answer(responder: &mut Responder, datagram: &Datagram<'_>, out: &mut [u8]) -> usize {
    responder.respond(
        datagram.payload,
        datagram.peer,
        datagram.rx_time,
        realtime_now,
        out,
    )
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

/// Why a backend's loop returned.
enum Ended {
    Stopped,
    /// A reload changed the listening addresses: the shard's new set.
    NewSockets(Vec<Slot>),
    /// The kernel rejected io_uring's receive operation mid-run.
    RingFailed,
}

/// Serves `sockets` until `stop` is set, taking up new sockets when `handover` offers them.
/// The io_uring backend hands over to the mmsg one if the kernel rejects its receive
/// operation mid-run.
pub fn run(
    mut backend: Backend,
    mut sockets: Vec<UdpSocket>,
    moderation: WakeModeration,
    responder: &mut Responder,
    client_log: &ClientLogTap,
    stop: &AtomicBool,
    handover: &SocketHandover,
) -> io::Result<()> {
    let shard = Shard {
        moderation,
        client_log,
        stop,
        handover,
    };
    loop {
        let ended = match backend {
            Backend::Mmsg => shard.run_mmsg(&sockets, responder)?,
            Backend::Uring => {
                let (ended, returned) = shard.run_uring(sockets, responder)?;
                sockets = returned;
                ended
            }
        };
        match ended {
            Ended::Stopped => return Ok(()),
            Ended::NewSockets(slots) => {
                sockets = handover::rebuild(sockets, slots);
                handover.served();
            }
            Ended::RingFailed => backend = Backend::Mmsg,
        }
    }
}

/// What a shard's loop looks at besides its sockets.
struct Shard<'a> {
    moderation: WakeModeration,
    client_log: &'a ClientLogTap,
    stop: &'a AtomicBool,
    handover: &'a SocketHandover,
}

impl Shard<'_> {
    /// Why the loop should end before its next look, if it should.
    fn ends(&self) -> Option<Ended> {
        if self.stop.load(Ordering::Relaxed) {
            return Some(Ended::Stopped);
        }
        self.handover.take().map(Ended::NewSockets)
    }

    /// The io_uring loop; gives the sockets back when it ends.
    fn run_uring(
        &self,
        sockets: Vec<UdpSocket>,
        responder: &mut Responder,
    ) -> io::Result<(Ended, Vec<UdpSocket>)> {
        let config = RingConfig {
            max_payload: MAX_REQUEST,
            max_reply: responder.longest_reply(),
            ..RingConfig::default()
        };
        let mut transmit_times = TransmitTimes::start(sockets.iter().map(AsFd::as_fd), responder);
        let mut ring = UdpRing::new(sockets, config)?;
        let mut reported = RingStats::default();
        let mut next = NextLook::Block;
        loop {
            if let Some(ended) = self.ends() {
                return Ok((ended, ring.into_sockets()));
            }
            let timeout = WakeModeration::before_look(next);
            let started = Instant::now();
            let polled = ring.poll(timeout, |d, out| {
                let len = answer(responder, d, out);
                transmit_times.queued(d.socket_index, len, responder)
            });
            let handled = polled.as_ref().map_or(0, |&count| count);
            next = self.moderation.next_look(handled, started.elapsed());
            between_batches(responder, self.client_log);
            let stats = ring.stats();
            if stats.stamped_send_errors != reported.stamped_send_errors {
                transmit_times.restart(ring.sockets(), responder);
            }
            transmit_times.collect_asked(ring.sockets(), responder);
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
                warn!(
                    "io_uring receive failed ({err}); this shard continues with recvmmsg/sendmmsg"
                );
                return Ok((Ended::RingFailed, ring.into_sockets()));
            }
        }
    }

    /// The recvmmsg/sendmmsg loop.
    fn run_mmsg(&self, sockets: &[UdpSocket], responder: &mut Responder) -> io::Result<Ended> {
        let fds: Vec<BorrowedFd<'_>> = sockets.iter().map(|s| s.as_fd()).collect();
        let mut poller = ReadinessPoller::new(&fds);
        let mut received = RecvBatch::new(MMSG_BATCH, MAX_REQUEST);
        let mut replies = SendBatch::new(MMSG_SEND_BATCH, responder.longest_reply());
        let mut transmit_times = TransmitTimes::start(fds.iter().copied(), responder);
        let mut next = NextLook::Block;
        loop {
            if let Some(ended) = self.ends() {
                return Ok(ended);
            }
            let timeout = WakeModeration::before_look(next);
            let started = Instant::now();
            poller.wait(timeout)?;
            between_batches(responder, self.client_log);
            let mut handled = 0;
            for (index, fd) in fds.iter().enumerate() {
                if poller.has_errors(index) {
                    transmit_times.collect(index, *fd, responder);
                }
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
                    handled += count;
                    for i in 0..count {
                        let Some(datagram) = received.get(i) else {
                            continue;
                        };
                        replies.push(&datagram.peer, |out| answer(responder, &datagram, out));
                        let awaited = TransmitTimes::ask(responder, &mut replies);
                        if replies.is_full() {
                            let outcome = replies.flush(*fd);
                            transmit_times.sent(index, awaited, outcome.sent);
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
            next = self.moderation.next_look(handled, started.elapsed());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_micros(250);

    #[test]
    fn an_idle_shard_blocks_until_a_request_comes() {
        let moderation = WakeModeration { interval: INTERVAL };
        assert_eq!(
            moderation.next_look(0, Duration::from_millis(100)),
            NextLook::Block
        );
        assert_eq!(moderation.next_look(0, Duration::ZERO), NextLook::Block);
    }

    #[test]
    fn a_busy_shard_looks_again_one_interval_after_the_last_look_began() {
        let moderation = WakeModeration { interval: INTERVAL };
        assert_eq!(
            moderation.next_look(12, Duration::from_micros(40)),
            NextLook::Gather(Duration::from_micros(210))
        );
    }

    #[test]
    fn a_shard_behind_its_interval_looks_again_at_once() {
        let moderation = WakeModeration { interval: INTERVAL };
        assert_eq!(
            moderation.next_look(500, Duration::from_micros(900)),
            NextLook::Gather(Duration::ZERO)
        );
    }

    #[test]
    fn a_zero_interval_wakes_for_every_request() {
        let moderation = WakeModeration {
            interval: Duration::ZERO,
        };
        assert_eq!(moderation.next_look(3, Duration::ZERO), NextLook::Block);
    }

    #[test]
    fn gathering_looks_without_waiting() {
        assert_eq!(
            WakeModeration::before_look(NextLook::Gather(Duration::ZERO)),
            Duration::ZERO
        );
        assert_eq!(WakeModeration::before_look(NextLook::Block), STOP_CHECK);
    }
}
