//! Connection limits shared by every shard: `max_clients` and `max_per_ip`, decided at accept.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// Why a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    TooManyClients,
    TooManyFromAddress,
}

#[derive(Debug)]
struct Counts {
    total: AtomicU32,
    per_address: Mutex<HashMap<IpAddr, u32>>,
}

/// The limits and the live counts behind them; cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    max_clients: u32,
    max_per_ip: u32,
    counts: Arc<Counts>,
}

/// Holds one admitted connection's place; the place is given back when this drops.
#[derive(Debug)]
pub struct Admission {
    address: IpAddr,
    counts: Arc<Counts>,
    clients: u32,
}

impl ConnectionLimits {
    /// `0` means unlimited, as in vsftpd.
    pub fn new(max_clients: u32, max_per_ip: u32) -> Self {
        ConnectionLimits {
            max_clients,
            max_per_ip,
            counts: Arc::new(Counts {
                total: AtomicU32::new(0),
                per_address: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The same live counts under other limits: a reload lowering `max_clients` below the
    /// connections open refuses new ones until enough have closed.
    pub fn with_limits(&self, max_clients: u32, max_per_ip: u32) -> Self {
        ConnectionLimits {
            max_clients,
            max_per_ip,
            counts: Arc::clone(&self.counts),
        }
    }

    /// Admits a connection from `address` or says which limit refuses it, checking the total
    /// first as vsftpd does. Exactly the allowed number is admitted even when every shard
    /// accepts at once, and the reply names the limit a connection really met: both counts
    /// change only under one lock, and a refused connection changes neither. The total is
    /// atomic only so that [`ConnectionLimits::active`] reads it without the lock.
    pub fn admit(&self, address: IpAddr) -> Result<Admission, Refusal> {
        let mut per_address = self
            .counts
            .per_address
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let total = self.counts.total.load(Ordering::Acquire);
        if self.max_clients != 0 && total >= self.max_clients {
            return Err(Refusal::TooManyClients);
        }
        let from_address = per_address.get(&address).copied().unwrap_or(0);
        if self.max_per_ip != 0 && from_address >= self.max_per_ip {
            return Err(Refusal::TooManyFromAddress);
        }
        per_address.insert(address, from_address + 1);
        self.counts.total.store(total + 1, Ordering::Release);
        Ok(Admission {
            address,
            counts: Arc::clone(&self.counts),
            clients: total + 1,
        })
    }

    /// Connections currently admitted.
    pub fn active(&self) -> u32 {
        self.counts.total.load(Ordering::Acquire)
    }
}

impl crate::metrics::exposition::FtpGauges for ConnectionLimits {
    fn sessions_open(&self) -> u64 {
        self.active().into()
    }
}

impl Admission {
    /// Connections admitted, this one included, when it was admitted: vsftpd's client count
    /// at session startup.
    pub fn clients_at_admission(&self) -> u32 {
        self.clients
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut per_address = self
            .counts
            .per_address
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(count) = per_address.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                per_address.remove(&self.address);
            }
        }
        self.counts.total.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn max_clients_admits_exactly_the_limit() {
        let limits = ConnectionLimits::new(3, 0);
        let held: Vec<Admission> = (1..=3).map(|n| limits.admit(ip(n)).unwrap()).collect();
        assert_eq!(limits.admit(ip(9)).unwrap_err(), Refusal::TooManyClients);
        let counted: Vec<u32> = held.iter().map(Admission::clients_at_admission).collect();
        assert_eq!(counted, [1, 2, 3]);
        drop(held);
        assert_eq!(limits.active(), 0);
        assert!(limits.admit(ip(9)).is_ok());
    }

    #[test]
    fn a_refused_connections_moment_in_the_total_is_never_seen_by_another() {
        // Two from one address are in, one place is free: every further connection from that
        // address, however many race for it, is refused for its address, never for the total.
        let limits = ConnectionLimits::new(3, 2);
        let _held = [limits.admit(ip(2)).unwrap(), limits.admit(ip(2)).unwrap()];
        let refusals: Vec<Refusal> = std::thread::scope(|scope| {
            let racers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        (0..20_000)
                            .map(|_| limits.admit(ip(2)).unwrap_err())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            racers.into_iter().flat_map(|r| r.join().unwrap()).collect()
        });
        assert_eq!(refusals.len(), 80_000);
        assert!(refusals.iter().all(|r| *r == Refusal::TooManyFromAddress));
        assert_eq!(limits.active(), 2);
    }

    #[test]
    fn max_per_ip_counts_each_address() {
        let limits = ConnectionLimits::new(0, 2);
        let a1 = limits.admit(ip(1)).unwrap();
        let _a2 = limits.admit(ip(1)).unwrap();
        assert_eq!(
            limits.admit(ip(1)).unwrap_err(),
            Refusal::TooManyFromAddress
        );
        assert_eq!(limits.active(), 2, "a refusal gives its reservation back");
        let _b = limits.admit(ip(2)).unwrap();
        drop(a1);
        assert!(limits.admit(ip(1)).is_ok());
    }

    #[test]
    fn concurrent_bursts_never_overshoot() {
        let limits = ConnectionLimits::new(50, 0);
        let admitted: u32 = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4)
                .map(|t| {
                    let limits = limits.clone();
                    scope.spawn(move || {
                        let held: Vec<Admission> = (0..100)
                            .filter_map(|n| limits.admit(ip((t * 100 + n) as u8)).ok())
                            .collect();
                        let count = held.len() as u32;
                        std::mem::forget(held);
                        count
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).sum()
        });
        assert_eq!(admitted, 50);
        assert_eq!(limits.active(), 50);
    }
}
