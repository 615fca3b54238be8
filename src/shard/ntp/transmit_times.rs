//! The kernel's transmit times of a shard's replies on the recvmmsg/sendmmsg backend: asked for where interleaved mode needs them, read from the error queue, handed to the responder.

use std::os::fd::BorrowedFd;

use tracing::warn;

use crate::ntp::interleaved::PendingTxStamps;
use crate::ntp::packet::NtpTimestamp;
use crate::ntp::responder::Responder;
use crate::sys::mmsg::{SendBatch, TxTimestampQueue};
use crate::sys::sockopt;
use crate::sys::wire::TxTimestamp;

/// Error-queue messages taken per recvmmsg.
const QUEUE_BATCH: usize = 64;
/// recvmmsg calls per socket per look: the queue holds at most one message per reply sent
/// since the last look, which the shard's receive batches bound.
const QUEUE_ROUNDS: usize = 16;

/// One shard's sends awaiting their transmit time, per socket.
pub struct TransmitTimes {
    /// Empty when the sockets cannot report transmit times.
    pending: Vec<PendingTxStamps>,
    queue: TxTimestampQueue,
}

impl TransmitTimes {
    /// Turns transmit timestamps on for `sockets` (the `i`th reported as socket `i`), after
    /// dropping any left from an earlier loop over them, and tells `responder` whether it
    /// can answer in interleaved mode.
    pub fn start(sockets: &[BorrowedFd<'_>], responder: &mut Responder) -> Self {
        let mut times = TransmitTimes {
            pending: Vec::new(),
            queue: TxTimestampQueue::new(QUEUE_BATCH),
        };
        let mut enabled = true;
        for socket in sockets {
            let _ = Self::read_queue(&mut times.queue, *socket, |_| ());
            if let Err(err) = sockopt::enable_tx_timestamps(*socket) {
                warn!(
                    "kernel transmit timestamps unavailable ({err}): interleaved requests are \
                     answered in basic mode"
                );
                enabled = false;
                break;
            }
        }
        if enabled {
            times.pending = sockets.iter().map(|_| PendingTxStamps::default()).collect();
        }
        responder.report_transmit_times(enabled);
        times
    }

    /// After the responder wrote the reply queued last in `replies`: asks the kernel for its
    /// transmit time when the responder wants it. Returns what to pass to [`Self::sent`].
    pub fn ask(responder: &mut Responder, replies: &mut SendBatch) -> Option<NtpTimestamp> {
        let awaited = responder.take_awaiting_transmit_time()?;
        replies.ask_tx_timestamp();
        Some(awaited)
    }

    /// A one-reply batch went out on socket `index` (`sent` 1) or was refused (0): a refused
    /// send takes no number from the kernel, so only a sent one is awaited.
    pub fn sent(&mut self, index: usize, awaited: Option<NtpTimestamp>, sent: usize) {
        if let (Some(receive), 1, Some(pending)) = (awaited, sent, self.pending.get_mut(index)) {
            pending.sent(receive);
        }
    }

    /// Reads the transmit times waiting on socket `index` and gives the responder those it
    /// awaits; counts the unreadable and unexpected ones as receive errors.
    pub fn collect(&mut self, index: usize, socket: BorrowedFd<'_>, responder: &mut Responder) {
        let Some(pending) = self.pending.get_mut(index) else {
            return;
        };
        let mut unexpected = 0;
        let read = Self::read_queue(&mut self.queue, socket, |stamp| {
            match stamp.and_then(|s| Some((pending.arrived(s.key)?, s.time))) {
                Some((receive, time)) => {
                    responder.transmitted(receive, time);
                }
                None => unexpected += 1,
            }
        });
        let errors = unexpected + u64::from(read.is_err());
        responder.counters().receive_errors.add(errors);
    }

    /// Takes what the error queue of `socket` holds, each message given to `each` (`None`
    /// when it is no transmit timestamp).
    fn read_queue(
        queue: &mut TxTimestampQueue,
        socket: BorrowedFd<'_>,
        mut each: impl FnMut(Option<TxTimestamp>),
    ) -> std::io::Result<()> {
        for _ in 0..QUEUE_ROUNDS {
            let count = queue.recv(socket)?;
            for i in 0..count {
                each(queue.get(i));
            }
            if count < queue.capacity() {
                break;
            }
        }
        Ok(())
    }
}
