//! Listening sockets handed to a running NTP shard when a reload changes `port` or `bindaddress`: which it keeps, which are new, and the wait until it has taken them.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// One socket of a shard's new set.
#[derive(Debug)]
pub enum Slot {
    /// The socket the shard already has on this address.
    Keep(SocketAddr),
    /// A socket bound by the reload.
    New(UdpSocket),
}

/// A shard's mailbox for new socket sets. The shard looks at it between batches (one relaxed
/// load while nothing is offered), so the offer is taken within the shard's stop-check period
/// even when no request comes.
#[derive(Debug, Default)]
pub struct SocketHandover {
    offered: AtomicBool,
    stage: Mutex<Stage>,
    changed: Condvar,
}

/// How long past the deadline a shard that took its set is given to serve it.
const TAKEN_GRACE: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
enum Stage {
    #[default]
    Idle,
    Offered(Vec<Slot>),
    /// The shard has the set and is building on it.
    Taken,
    /// The shard serves the new set.
    Served,
}

impl SocketHandover {
    /// Offers `slots` as the shard's whole new set; [`SocketHandover::wait_served`] waits
    /// for the shard to take it.
    pub fn offer(&self, slots: Vec<Slot>) {
        *self.stage.lock().unwrap_or_else(|e| e.into_inner()) = Stage::Offered(slots);
        self.offered.store(true, Ordering::Release);
    }

    /// Waits until `deadline` for the shard to serve the offered set (the sockets it did not
    /// keep are closed by then). False when no shard took it in time (a stopped shard): the
    /// offer is withdrawn.
    pub fn wait_served(&self, deadline: Instant) -> bool {
        let mut stage = self.stage.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let now = Instant::now();
            match *stage {
                Stage::Served => {
                    *stage = Stage::Idle;
                    return true;
                }
                Stage::Offered(_) if now >= deadline => {
                    *stage = Stage::Idle;
                    self.offered.store(false, Ordering::Release);
                    return false;
                }
                // Once taken, the shard is done in a moment; one that died meanwhile is not
                // waited for long.
                Stage::Taken if now >= deadline + TAKEN_GRACE => return false,
                Stage::Idle => return false,
                _ => {}
            }
            stage = self
                .changed
                .wait_timeout(stage, Duration::from_millis(10))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The set offered since the last look, if any; the shard calls
    /// [`SocketHandover::served`] once it serves it.
    pub fn take(&self) -> Option<Vec<Slot>> {
        if !self.offered.load(Ordering::Acquire) {
            return None;
        }
        let mut stage = self.stage.lock().unwrap_or_else(|e| e.into_inner());
        self.offered.store(false, Ordering::Release);
        match std::mem::replace(&mut *stage, Stage::Taken) {
            Stage::Offered(slots) => Some(slots),
            other => {
                *stage = other;
                None
            }
        }
    }

    /// Tells the offerer that the shard now serves the set it took.
    pub fn served(&self) {
        *self.stage.lock().unwrap_or_else(|e| e.into_inner()) = Stage::Served;
        self.changed.notify_all();
    }
}

/// The shard's new sockets, in `slots`' order: kept ones from `current` (found by address),
/// new ones as given. Sockets of `current` not kept are closed when returned here dropped.
pub fn rebuild(current: Vec<UdpSocket>, slots: Vec<Slot>) -> Vec<UdpSocket> {
    let mut current: Vec<Option<UdpSocket>> = current.into_iter().map(Some).collect();
    slots
        .into_iter()
        .filter_map(|slot| match slot {
            Slot::New(socket) => Some(socket),
            Slot::Keep(addr) => current
                .iter_mut()
                .find(|socket| {
                    socket
                        .as_ref()
                        .and_then(|s| s.local_addr().ok())
                        .is_some_and(|local| local == addr)
                })
                .and_then(Option::take),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn bound() -> UdpSocket {
        UdpSocket::bind("127.0.0.1:0").unwrap()
    }

    #[test]
    fn a_rebuilt_set_keeps_by_address_adds_new_ones_and_closes_the_rest() {
        let (kept, dropped, new) = (bound(), bound(), bound());
        let (kept_addr, dropped_addr, new_addr) = (
            kept.local_addr().unwrap(),
            dropped.local_addr().unwrap(),
            new.local_addr().unwrap(),
        );
        let set = rebuild(
            vec![dropped, kept],
            vec![Slot::New(new), Slot::Keep(kept_addr)],
        );
        let addrs: Vec<SocketAddr> = set.iter().map(|s| s.local_addr().unwrap()).collect();
        assert_eq!(addrs, [new_addr, kept_addr]);
        UdpSocket::bind(dropped_addr).expect("a socket not kept is closed");
    }

    #[test]
    fn an_offer_returns_once_the_shard_took_it_and_is_withdrawn_when_nobody_does() {
        let handover = Arc::new(SocketHandover::default());
        assert!(handover.take().is_none());
        let shard = {
            let handover = Arc::clone(&handover);
            std::thread::spawn(move || loop {
                if let Some(slots) = handover.take() {
                    handover.served();
                    return slots.len();
                }
                std::thread::yield_now();
            })
        };
        handover.offer(vec![Slot::New(bound())]);
        assert!(handover.wait_served(Instant::now() + Duration::from_secs(30)));
        assert_eq!(shard.join().unwrap(), 1);

        handover.offer(vec![Slot::New(bound())]);
        assert!(!handover.wait_served(Instant::now()));
        assert!(handover.take().is_none(), "a withdrawn offer is not taken");
    }
}
