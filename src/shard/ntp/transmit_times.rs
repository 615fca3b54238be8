//! The kernel's transmit times of a shard's replies: asked for where interleaved mode needs them, read from the error queue, handed to the responder.

use std::os::fd::BorrowedFd;

use tracing::warn;

use crate::ntp::interleaved::PendingTxStamps;
use crate::ntp::packet::NtpTimestamp;
use crate::ntp::responder::Responder;
use crate::sys::mmsg::{SendBatch, TxTimestampQueue};
use crate::sys::sockopt;
use crate::sys::uring::Reply;
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
    /// Sends asked for their time since the error queues were last read.
    unread: bool,
}

impl TransmitTimes {
    /// Turns transmit timestamps on for `sockets` (the `i`th reported as socket `i`) and
    /// tells `responder` whether it can answer in interleaved mode.
    pub fn start<'a>(
        sockets: impl IntoIterator<Item = BorrowedFd<'a>>,
        responder: &mut Responder,
    ) -> Self {
        let mut times = TransmitTimes {
            pending: Vec::new(),
            queue: TxTimestampQueue::new(QUEUE_BATCH),
            unread: false,
        };
        times.restart(sockets, responder);
        times
    }

    /// Starts the kernel's numbering of timestamped sends again at 0, dropping what the error
    /// queues still hold: at start (the sockets may come from an earlier loop), and when a
    /// timestamped send failed, which the kernel may or may not have numbered.
    pub fn restart<'a>(
        &mut self,
        sockets: impl IntoIterator<Item = BorrowedFd<'a>>,
        responder: &mut Responder,
    ) {
        self.pending.clear();
        self.unread = false;
        let mut enabled = true;
        for socket in sockets {
            let _ = Self::read_queue(&mut self.queue, socket, |_| ());
            if let Err(err) = sockopt::enable_tx_timestamps(socket) {
                warn!(
                    "kernel transmit timestamps unavailable ({err}): interleaved requests are \
                     answered in basic mode"
                );
                enabled = false;
                break;
            }
            self.pending.push(PendingTxStamps::default());
        }
        if !enabled {
            self.pending.clear();
        }
        responder.report_transmit_times(enabled);
    }

    /// mmsg: after the responder wrote the reply queued last in `replies`, asks the kernel for
    /// its transmit time when the responder wants it. Returns what to pass to [`Self::sent`].
    pub fn ask(responder: &mut Responder, replies: &mut SendBatch) -> Option<NtpTimestamp> {
        let awaited = responder.take_awaiting_transmit_time()?;
        replies.ask_tx_timestamp();
        Some(awaited)
    }

    /// mmsg: a one-reply batch went out on socket `index` (`sent` 1) or was refused (0): a
    /// refused send takes no number from the kernel, so only a sent one is awaited.
    pub fn sent(&mut self, index: usize, awaited: Option<NtpTimestamp>, sent: usize) {
        if let (Some(receive), 1, Some(pending)) = (awaited, sent, self.pending.get_mut(index)) {
            pending.sent(receive);
        }
    }

    /// io_uring: the responder wrote a reply of `len` bytes to a request on socket `index`,
    /// which the ring sends in the order replies are written; asks for its transmit time when
    /// the responder wants it. A failed send shows in the ring's counts (see [`Self::restart`]).
    pub fn queued(&mut self, index: usize, len: usize, responder: &mut Responder) -> Reply {
        let awaited = responder.take_awaiting_transmit_time();
        let Some((receive, pending)) = awaited.zip(self.pending.get_mut(index)) else {
            return Reply::from(len);
        };
        pending.sent(receive);
        self.unread = true;
        Reply {
            len,
            tx_timestamp: true,
        }
    }

    /// io_uring: reads the error queues when sends asked for their times since the last look.
    pub fn collect_asked<'a>(
        &mut self,
        sockets: impl IntoIterator<Item = BorrowedFd<'a>>,
        responder: &mut Responder,
    ) {
        if std::mem::take(&mut self.unread) {
            for (index, socket) in sockets.into_iter().enumerate() {
                self.collect(index, socket, responder);
            }
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
