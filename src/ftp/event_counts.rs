//! Counts of what FTP sessions did, for the metrics endpoint: connections, refusals, logins, transfers, bytes and time spent throttled. Process-wide, so a reload keeps them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::transfer_log::{ConnectRefusal, Direction, LogEvent};

/// One counter per combination; every session adds to it, so each add is atomic (sessions
/// count a handful of events each, far from any per-packet path).
#[derive(Debug, Default)]
pub struct FtpEventCounts {
    connections_accepted: AtomicU64,
    /// By [`ConnectRefusal`], in [`REFUSALS`]' order.
    connections_refused: [AtomicU64; REFUSALS.len()],
    /// `[anonymous, named][failed, succeeded]`.
    logins: [[AtomicU64; 2]; 2],
    /// `[upload, download][failed, complete]`.
    transfers: [[AtomicU64; 2]; 2],
    /// `[upload, download]`, failed transfers' bytes included.
    bytes: [AtomicU64; 2],
    throttled_nanos: AtomicU64,
}

/// The refusals, with their label.
pub const REFUSALS: [(ConnectRefusal, &str); 3] = [
    (ConnectRefusal::TooManyClients, "max_clients"),
    (ConnectRefusal::TooManyPerIp, "max_per_ip"),
    (ConnectRefusal::TcpWrappers, "tcp_wrappers"),
];

/// The counts of this process.
pub static FTP_EVENTS: FtpEventCounts = FtpEventCounts {
    connections_accepted: AtomicU64::new(0),
    connections_refused: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
    logins: [
        [AtomicU64::new(0), AtomicU64::new(0)],
        [AtomicU64::new(0), AtomicU64::new(0)],
    ],
    transfers: [
        [AtomicU64::new(0), AtomicU64::new(0)],
        [AtomicU64::new(0), AtomicU64::new(0)],
    ],
    bytes: [AtomicU64::new(0), AtomicU64::new(0)],
    throttled_nanos: AtomicU64::new(0),
};

/// A copy of the counts, for one scrape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FtpEventTotals {
    pub connections_accepted: u64,
    pub connections_refused: [u64; REFUSALS.len()],
    pub logins: [[u64; 2]; 2],
    pub transfers: [[u64; 2]; 2],
    pub bytes: [u64; 2],
    pub throttled_nanos: u64,
}

fn direction_index(direction: Direction) -> usize {
    match direction {
        Direction::Incoming => 0,
        Direction::Outgoing => 1,
    }
}

impl FtpEventCounts {
    /// Counts `event` if it is one of those counted.
    pub fn count(&self, event: &LogEvent) {
        let add = |counter: &AtomicU64, n: u64| {
            counter.fetch_add(n, Ordering::Relaxed);
        };
        match event {
            LogEvent::Connect { refused: None, .. } => add(&self.connections_accepted, 1),
            LogEvent::Connect {
                refused: Some(refusal),
                ..
            } => {
                if let Some(index) = REFUSALS.iter().position(|(r, _)| r == refusal) {
                    add(&self.connections_refused[index], 1);
                }
            }
            LogEvent::Login {
                ok, anon_password, ..
            } => add(
                &self.logins[usize::from(anon_password.is_none())][usize::from(*ok)],
                1,
            ),
            LogEvent::Transfer(record) => {
                let direction = direction_index(record.direction);
                add(&self.transfers[direction][usize::from(record.complete)], 1);
                add(&self.bytes[direction], record.bytes);
            }
            _ => {}
        }
    }

    /// A transfer waited `wait` for its rate limit.
    pub fn throttled(&self, wait: Duration) {
        let nanos = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
        self.throttled_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    pub fn totals(&self) -> FtpEventTotals {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        FtpEventTotals {
            connections_accepted: get(&self.connections_accepted),
            connections_refused: self.connections_refused.each_ref().map(get),
            logins: self.logins.each_ref().map(|pair| pair.each_ref().map(get)),
            transfers: self
                .transfers
                .each_ref()
                .map(|pair| pair.each_ref().map(get)),
            bytes: self.bytes.each_ref().map(get),
            throttled_nanos: get(&self.throttled_nanos),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ftp::transfer_log::{AccessMode, TransferRecord};
    use crate::ntp::packet::UnixTime;

    #[test]
    fn each_event_lands_in_its_counter() {
        let counts = FtpEventCounts::default();
        let ip = "192.0.2.1".parse().unwrap();
        counts.count(&LogEvent::Connect {
            remote_ip: ip,
            refused: None,
        });
        counts.count(&LogEvent::Connect {
            remote_ip: ip,
            refused: Some(ConnectRefusal::TcpWrappers),
        });
        counts.count(&LogEvent::Login {
            ok: true,
            remote_ip: ip,
            user: b"ftp".to_vec(),
            anon_password: Some(b"me@".to_vec()),
        });
        counts.count(&LogEvent::Login {
            ok: false,
            remote_ip: ip,
            user: b"alice".to_vec(),
            anon_password: None,
        });
        counts.count(&LogEvent::Transfer(TransferRecord {
            start: UnixTime { secs: 0, nanos: 0 },
            duration: Duration::ZERO,
            remote_ip: ip,
            bytes: 13,
            path: b"/f".to_vec(),
            direction: Direction::Outgoing,
            ascii: false,
            access: AccessMode::Anonymous,
            user: b"ftp".to_vec(),
            anon_password: Vec::new(),
            complete: false,
        }));
        counts.throttled(Duration::from_millis(5));
        let totals = counts.totals();
        assert_eq!(totals.connections_accepted, 1);
        assert_eq!(totals.connections_refused, [0, 0, 1]);
        assert_eq!(totals.logins, [[0, 1], [1, 0]]);
        assert_eq!(totals.transfers, [[0, 0], [1, 0]]);
        assert_eq!(totals.bytes, [0, 13]);
        assert_eq!(totals.throttled_nanos, 5_000_000);
    }
}
