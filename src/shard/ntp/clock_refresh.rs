//! The clock refresher: republishes the served clock state once a second from the kernel's view.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use tracing::warn;

use crate::ntp::clock_state::ClockCell;
use crate::ntp::served_clock::{self, ClockSource};
use crate::sync::leap::LeapTable;
use crate::sys::clock::{read_kernel_ntp_state, realtime_now};

const REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// What the served state is made of without upstream sources, and which problems were
/// already reported (each once).
pub struct Refresher {
    cell: Arc<ClockCell>,
    source: ClockSource,
    leaps: LeapTable,
    kernel_unreadable_reported: bool,
    leap_list_expiry_reported: bool,
}

impl Refresher {
    pub fn new(cell: Arc<ClockCell>, source: ClockSource, leaps: LeapTable) -> Self {
        Refresher {
            cell,
            source,
            leaps,
            kernel_unreadable_reported: false,
            leap_list_expiry_reported: false,
        }
    }

    /// Publishes a fresh state now.
    pub fn refresh(&mut self) {
        let now = realtime_now();
        let kernel = match read_kernel_ntp_state() {
            Ok(state) => Some(state),
            Err(err) => {
                if !self.kernel_unreadable_reported {
                    warn!("cannot read the kernel's clock state with adjtimex ({err}); serving it as unsynchronised");
                    self.kernel_unreadable_reported = true;
                }
                None
            }
        };
        if !self.leap_list_expiry_reported {
            if let Some(warning) = self.leaps.expiry_warning(now.secs as f64) {
                warn!("{warning}: no later leap second is announced");
                self.leap_list_expiry_reported = true;
            }
        }
        self.cell.publish(served_clock::snapshot(
            self.source,
            kernel,
            &self.leaps,
            now,
        ));
    }

    /// Refreshes until the sending side of `shutdown` is dropped.
    pub fn run(mut self, shutdown: Receiver<()>) {
        loop {
            match shutdown.recv_timeout(REFRESH_INTERVAL) {
                Err(RecvTimeoutError::Timeout) => self.refresh(),
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}
