//! `--kernel-t1`: each request's T1 from its kernel software TX timestamp, matched by send number.

use std::collections::VecDeque;
use std::os::fd::BorrowedFd;

use ntp_wire::packet::NtpTimestamp;
use ringd_sys::mmsg::TxTimestampQueue;
use ringd_sys::sockopt::enable_tx_timestamps;

use super::pending::PendingRequests;

/// Error-queue messages taken per recvmmsg call.
const STAMP_BATCH: usize = 64;
/// Most sends one socket remembers while their timestamps are outstanding. A kernel that never
/// reports them (no software TX timestamps on the device) must not grow the table without end;
/// the oldest are forgotten first and their replies count as missing a kernel T1.
const MAX_AWAITED: usize = 65_536;

/// Which T1 a run's latency and offset figures use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum T1Source {
    /// The clock read before `sendmmsg`: early by the send path, which flatters the offset.
    #[default]
    Userspace,
    /// The kernel's software TX timestamp, taken as the datagram is handed to the device.
    Kernel,
}

impl T1Source {
    /// The name the JSON and the table use.
    pub fn name(self) -> &'static str {
        match self {
            T1Source::Userspace => "userspace",
            T1Source::Kernel => "kernel",
        }
    }
}

/// One socket's timestamped sends awaiting their timestamp, by the number the kernel gives each
/// (SOF_TIMESTAMPING_OPT_ID counts only the sends that ask, from 0 after `enable_tx_timestamps`).
#[derive(Debug, Default)]
pub struct SendNumbers {
    next_key: u32,
    awaited: VecDeque<(u32, NtpTimestamp)>,
}

impl SendNumbers {
    /// A send that asked for its timestamp was accepted; `transmit` identifies its request.
    pub fn sent(&mut self, transmit: NtpTimestamp) {
        if self.awaited.len() == MAX_AWAITED {
            self.awaited.pop_front();
        }
        self.awaited.push_back((self.next_key, transmit));
        self.next_key = self.next_key.wrapping_add(1);
    }

    /// The request whose send the kernel numbered `key`. Timestamps come in send order, so the
    /// sends numbered before `key` that are still awaited will never get theirs and are dropped.
    pub fn stamped(&mut self, key: u32) -> Option<NtpTimestamp> {
        while let Some(&(front, transmit)) = self.awaited.front() {
            // Keys wrap: "before" is a positive distance in wrapping arithmetic.
            let behind = key.wrapping_sub(front);
            if behind == 0 {
                self.awaited.pop_front();
                return Some(transmit);
            }
            if behind > u32::MAX / 2 {
                return None;
            }
            self.awaited.pop_front();
        }
        None
    }

    /// Forgets every awaited send and counts from 0 again, as the kernel does when timestamping
    /// is enabled anew.
    pub fn restart(&mut self) {
        self.awaited.clear();
        self.next_key = 0;
    }
}

/// The kernel-T1 state of one generator thread: its sockets' send numbers and the error-queue
/// reader.
pub struct KernelT1 {
    queue: TxTimestampQueue,
    numbers: Vec<SendNumbers>,
}

impl KernelT1 {
    /// Turns on software TX timestamps on every socket (their RX timestamps stay on).
    pub fn enable(sockets: &[BorrowedFd<'_>]) -> std::io::Result<KernelT1> {
        for &socket in sockets {
            enable_tx_timestamps(socket)?;
        }
        Ok(KernelT1 {
            queue: TxTimestampQueue::new(STAMP_BATCH),
            numbers: sockets.iter().map(|_| SendNumbers::default()).collect(),
        })
    }

    /// Socket `index` accepted the timestamped send of the request `transmit`.
    pub fn sent(&mut self, index: usize, transmit: NtpTimestamp) {
        self.numbers[index].sent(transmit);
    }

    /// Reads every timestamp waiting on socket `index`'s error queue and gives each request in
    /// flight its kernel T1. Bounded: each pass takes what the queue held, and the queue only
    /// grows by this thread's sends.
    pub fn drain(
        &mut self,
        socket: BorrowedFd<'_>,
        index: usize,
        pending: &mut PendingRequests,
    ) -> std::io::Result<()> {
        loop {
            let count = self.queue.recv(socket)?;
            for position in 0..count {
                let Some(stamp) = self.queue.get(position) else {
                    continue;
                };
                if let Some(transmit) = self.numbers[index].stamped(stamp.key) {
                    pending.set_kernel_t1(transmit, NtpTimestamp::from_unix(stamp.time));
                }
            }
            if count < self.queue.capacity() {
                return Ok(());
            }
        }
    }

    /// After a refused send, which the kernel may or may not have numbered: takes the
    /// timestamps already queued, then restarts the kernel's numbering and this count together.
    pub fn resynchronise(
        &mut self,
        socket: BorrowedFd<'_>,
        index: usize,
        pending: &mut PendingRequests,
    ) -> std::io::Result<()> {
        self.drain(socket, index, pending)?;
        self.numbers[index].restart();
        enable_tx_timestamps(socket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transmit(n: u64) -> NtpTimestamp {
        NtpTimestamp(0xE000_0000_0000_0000 | n)
    }

    #[test]
    fn stamps_find_their_sends_in_order() {
        let mut numbers = SendNumbers::default();
        for n in 0..3 {
            numbers.sent(transmit(n));
        }
        assert_eq!(numbers.stamped(0), Some(transmit(0)));
        assert_eq!(numbers.stamped(1), Some(transmit(1)));
        assert_eq!(numbers.stamped(2), Some(transmit(2)));
        assert_eq!(numbers.stamped(3), None);
    }

    #[test]
    fn a_lost_stamp_leaves_the_later_ones_matched() {
        let mut numbers = SendNumbers::default();
        for n in 0..4 {
            numbers.sent(transmit(n));
        }
        assert_eq!(numbers.stamped(2), Some(transmit(2)));
        assert_eq!(
            numbers.stamped(1),
            None,
            "skipped sends are given up, not matched late"
        );
        assert_eq!(numbers.stamped(3), Some(transmit(3)));
    }

    #[test]
    fn a_stamp_of_a_send_not_made_matches_nothing() {
        let mut numbers = SendNumbers::default();
        numbers.sent(transmit(0));
        assert_eq!(numbers.stamped(5), None);
        numbers.sent(transmit(1));
        assert_eq!(numbers.stamped(1), Some(transmit(1)));
    }

    #[test]
    fn numbers_wrap_like_the_kernels() {
        let mut numbers = SendNumbers {
            next_key: u32::MAX,
            awaited: VecDeque::new(),
        };
        numbers.sent(transmit(0));
        numbers.sent(transmit(1));
        assert_eq!(numbers.stamped(0), Some(transmit(1)));
        assert!(numbers.awaited.is_empty());
    }

    #[test]
    fn restart_counts_from_zero() {
        let mut numbers = SendNumbers::default();
        numbers.sent(transmit(0));
        numbers.sent(transmit(1));
        numbers.restart();
        numbers.sent(transmit(2));
        assert_eq!(numbers.stamped(0), Some(transmit(2)));
    }

    #[test]
    fn the_table_of_awaited_sends_is_bounded() {
        let mut numbers = SendNumbers::default();
        for n in 0..MAX_AWAITED as u64 + 10 {
            numbers.sent(transmit(n));
        }
        assert_eq!(numbers.awaited.len(), MAX_AWAITED);
        assert_eq!(numbers.stamped(9), None, "the oldest were forgotten");
        assert_eq!(numbers.stamped(10), Some(transmit(10)));
    }
}
