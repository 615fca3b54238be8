//! Progress lines on stderr while a load runs: once a second, what was offered and answered in that second and so far.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const INTERVAL: Duration = Duration::from_secs(1);
/// Most lines printed: longer than any run ringload accepts (a ramp of 100 steps of an hour).
const MAX_LINES: u32 = 1_000_000;

/// Whether progress lines are printed: asked for with `--progress`, or stderr is a terminal
/// (where a person watches; a log file or a pipe gets none unless asked).
pub fn wanted(flag: bool) -> bool {
    flag || std::io::stderr().is_terminal()
}

/// What a run offers, and so what its loss means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// NTP requests: the loss so far is the requests without a reply yet.
    Requests,
    /// FTP sessions: the loss so far is the sessions that failed.
    Sessions,
}

/// Counts the load loops add to as they go (once per send batch or session, not per packet).
#[derive(Debug, Default)]
pub struct ProgressCounters {
    offered: AtomicU64,
    answered: AtomicU64,
    failed: AtomicU64,
}

impl ProgressCounters {
    pub fn offered(&self, count: u64) {
        self.offered.fetch_add(count, Ordering::Relaxed);
    }

    pub fn answered(&self, count: u64) {
        self.answered.fetch_add(count, Ordering::Relaxed);
    }

    pub fn failed(&self, count: u64) {
        self.failed.fetch_add(count, Ordering::Relaxed);
    }

    fn read(&self) -> Totals {
        Totals {
            offered: self.offered.load(Ordering::Relaxed),
            answered: self.answered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Totals {
    offered: u64,
    answered: u64,
    failed: u64,
}

/// One progress line: `now` totals at `second` seconds into the run, `before` a second earlier.
fn line(unit: Unit, second: u64, before: Totals, now: Totals) -> String {
    let (name, lost, lost_name) = match unit {
        Unit::Requests => (
            "requests",
            now.offered.saturating_sub(now.answered),
            "not answered",
        ),
        Unit::Sessions => ("sessions", now.failed, "failed"),
    };
    let lost_percent = if now.offered == 0 {
        0.0
    } else {
        lost as f64 * 100.0 / now.offered as f64
    };
    format!(
        "ringload: {second} s: offered {}/s, answered {}/s; so far {} {name} offered, {} answered, \
         {lost_percent:.2} % {lost_name}",
        now.offered - before.offered,
        now.answered - before.answered,
        now.offered,
        now.answered,
    )
}

/// The thread printing the lines; it stops when this is dropped, at the end of the run.
pub struct ProgressLines {
    counters: Arc<ProgressCounters>,
    stop: Option<Sender<()>>,
    printer: Option<JoinHandle<()>>,
}

impl ProgressLines {
    pub fn start(unit: Unit) -> ProgressLines {
        let counters = Arc::new(ProgressCounters::default());
        let (stop, stopped) = channel::<()>();
        let shared = Arc::clone(&counters);
        let printer = std::thread::spawn(move || {
            let start = Instant::now();
            let mut before = Totals::default();
            for second in 1..=MAX_LINES {
                let due = start + INTERVAL * second;
                let wait = due.saturating_duration_since(Instant::now());
                match stopped.recv_timeout(wait) {
                    Err(RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                let now = shared.read();
                eprintln!("{}", line(unit, u64::from(second), before, now));
                before = now;
            }
        });
        ProgressLines {
            counters,
            stop: Some(stop),
            printer: Some(printer),
        }
    }

    /// The counters the load loops add to.
    pub fn counters(&self) -> Arc<ProgressCounters> {
        Arc::clone(&self.counters)
    }
}

impl Drop for ProgressLines {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(printer) = self.printer.take() {
            let _ = printer.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_gives_the_last_second_and_the_totals() {
        let before = Totals {
            offered: 1_000,
            answered: 990,
            failed: 0,
        };
        let now = Totals {
            offered: 2_000,
            answered: 1_980,
            failed: 0,
        };
        assert_eq!(
            line(Unit::Requests, 2, before, now),
            "ringload: 2 s: offered 1000/s, answered 990/s; so far 2000 requests offered, \
             1980 answered, 1.00 % not answered"
        );
        let sessions = Totals {
            offered: 40,
            answered: 30,
            failed: 2,
        };
        assert!(line(Unit::Sessions, 1, Totals::default(), sessions)
            .ends_with("so far 40 sessions offered, 30 answered, 5.00 % failed"));
        assert!(
            line(Unit::Requests, 1, Totals::default(), Totals::default())
                .ends_with("0.00 % not answered")
        );
    }

    #[test]
    fn the_printer_stops_when_the_run_ends() {
        let progress = ProgressLines::start(Unit::Requests);
        progress.counters().offered(3);
        progress.counters().answered(2);
        assert_eq!(
            progress.counters.read(),
            Totals {
                offered: 3,
                answered: 2,
                failed: 0
            }
        );
        let started = Instant::now();
        drop(progress);
        assert!(
            started.elapsed() < INTERVAL,
            "the drop waited a whole interval"
        );
    }
}
