//! `ringload ftp --open-loop-rate N`: sessions started on a fixed schedule whatever the server does, each timed from its scheduled start.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::{Duration, Instant, SystemTime};

use super::load::{
    noise_seed, report, ClientLoop, LoadReport, LoadSettings, LoopTally, OpenLoop, SESSION_STACK,
};

/// Most sessions one run schedules, whatever its rate and duration (a bound, not a target).
const MAX_SCHEDULED: u64 = 100_000_000;

/// When session `index` of a schedule of `rate` per second is due, from the start.
fn due_after(index: u64, rate: f64) -> Duration {
    Duration::from_secs_f64(index as f64 / rate)
}

/// Sessions due before `duration` ends at `rate` per second.
fn scheduled(rate: f64, duration: Duration) -> u64 {
    ((duration.as_secs_f64() * rate).ceil() as u64).min(MAX_SCHEDULED)
}

/// A slot's thread: runs each session handed to it, timed from its due time, then says it is
/// free again. Ends when the schedule is over (its job channel closes).
fn slot(
    mut client: ClientLoop<'_>,
    index: usize,
    jobs: Receiver<(u64, SystemTime, Instant)>,
    free: Sender<usize>,
) -> LoopTally {
    for (iteration, due_wall, due) in jobs {
        client.counted_session(iteration, (due_wall, due));
        client.record("session", due.elapsed());
        // The dispatcher outlives the slots, so this only fails once it has given up.
        let _ = free.send(index);
    }
    client.into_counts()
}

/// Starts a session every 1/`rate` s for the settings' duration on the first free one of as
/// many slots as source addresses; a session due while every slot is busy is dropped and
/// counted, so the run never holds more than that many sessions. Waits for the sessions under
/// way (each bounded by the timeouts), then reports.
pub fn run_open_loop(settings: &LoadSettings, rate: f64) -> std::io::Result<LoadReport> {
    let seed = noise_seed();
    let slots = settings.sources.len();
    let (free_sender, free) = channel::<usize>();
    let start = Instant::now();
    let start_wall = SystemTime::now();
    let (loops, dropped) = std::thread::scope(|scope| {
        let mut job_senders = Vec::with_capacity(slots);
        let mut handles = Vec::with_capacity(slots);
        for index in 0..slots {
            let (jobs, job_receiver) = channel();
            let client = ClientLoop::new(settings, index, seed);
            let free = free_sender.clone();
            handles.push(
                std::thread::Builder::new()
                    .name(format!("ftp-open-{index}"))
                    .stack_size(SESSION_STACK)
                    .spawn_scoped(scope, move || slot(client, index, job_receiver, free))?,
            );
            job_senders.push(jobs);
            free_sender.send(index).expect("the receiver is held here");
        }
        let mut dropped = 0;
        for iteration in 0..scheduled(rate, settings.duration) {
            let offset = due_after(iteration, rate);
            let due = start + offset;
            // Pacing: the schedule, not the server, decides when the next session starts.
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            match free.try_recv() {
                Ok(index) => job_senders[index]
                    .send((iteration, start_wall + offset, due))
                    .expect("a slot runs until its job channel closes"),
                Err(_) => dropped += 1,
            }
        }
        drop(job_senders);
        let loops = handles
            .into_iter()
            .map(|h| h.join().expect("a session slot panicked"))
            .collect::<Vec<_>>();
        Ok::<_, std::io::Error>((loops, dropped))
    })?;
    Ok(report(
        settings,
        loops,
        start.elapsed(),
        Some(OpenLoop { rate, dropped }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_fixed_by_the_rate_alone() {
        assert_eq!(due_after(0, 50.0), Duration::ZERO);
        assert_eq!(due_after(25, 50.0), Duration::from_millis(500));
        assert_eq!(scheduled(50.0, Duration::from_secs(2)), 100);
        assert_eq!(scheduled(3.0, Duration::from_millis(500)), 2);
        assert_eq!(scheduled(1e12, Duration::from_secs(86_400)), MAX_SCHEDULED);
    }
}
