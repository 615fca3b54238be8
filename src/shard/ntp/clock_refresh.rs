//! The clock refresher: republishes the served clock state once a second from the kernel's view.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use tracing::warn;

use crate::ntp::clock_state::ClockCell;
use crate::ntp::served_clock::{self, ClockSource};
use crate::sys::clock::{read_kernel_ntp_state, realtime_now};

const REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// Publishes a fresh state now.
pub fn refresh(cell: &ClockCell, source: ClockSource, warned: &mut bool) {
    let kernel = match read_kernel_ntp_state() {
        Ok(state) => Some(state),
        Err(err) => {
            if !*warned {
                warn!("cannot read the kernel's clock state with adjtimex ({err}); serving it as unsynchronised");
                *warned = true;
            }
            None
        }
    };
    cell.publish(served_clock::snapshot(source, kernel, realtime_now()));
}

/// Refreshes until the sending side of `shutdown` is dropped; `warned` carries over whether
/// an unreadable kernel state was already reported.
pub fn run(cell: Arc<ClockCell>, source: ClockSource, shutdown: Receiver<()>, mut warned: bool) {
    loop {
        match shutdown.recv_timeout(REFRESH_INTERVAL) {
            Err(RecvTimeoutError::Timeout) => refresh(&cell, source, &mut warned),
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}
