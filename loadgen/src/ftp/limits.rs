//! `ftp-limits`: checks that a server greets exactly `max_clients` (and `max_per_ip`) connections and refuses the rest with vsftpd's 421.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Serialize;

use crate::ftp::control::{Control, FtpError};

/// vsftpd's refusal when `max_clients` is reached.
pub const TOO_MANY_CLIENTS: &str = "421 There are too many connected users, please try later.";
/// vsftpd's refusal when `max_per_ip` is reached.
pub const TOO_MANY_FROM_ADDRESS: &str =
    "421 There are too many connections from your internet address.";
/// Connections opened beyond each limit: one more would prove the limit, two show it holds.
pub const EXTRA_CONNECTIONS: usize = 2;
/// Pause after closing one phase's connections, so the server has given their places back
/// (servers release a place when they notice the close, a moment after it).
const SETTLE: Duration = Duration::from_millis(300);

/// What a new connection should get from a server enforcing the limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Expected {
    Greeting,
    TooManyClients,
    TooManyFromAddress,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::Greeting => "220 greeting",
            Expected::TooManyClients => TOO_MANY_CLIENTS,
            Expected::TooManyFromAddress => TOO_MANY_FROM_ADDRESS,
        })
    }
}

/// vsftpd's rule, checked in its order: `max_clients` first, then `max_per_ip` (0 or `None`
/// means unlimited for either), given the connections already greeted in total and from the
/// new connection's address.
pub fn expected_outcome(
    greeted_total: usize,
    greeted_from_address: usize,
    max_clients: usize,
    max_per_ip: Option<usize>,
) -> Expected {
    if max_clients != 0 && greeted_total >= max_clients {
        Expected::TooManyClients
    } else if max_per_ip.is_some_and(|max| max != 0 && greeted_from_address >= max) {
        Expected::TooManyFromAddress
    } else {
        Expected::Greeting
    }
}

/// One connection of a phase and what became of it.
#[derive(Clone, Debug, Serialize)]
pub struct Attempt {
    pub source: IpAddr,
    pub expected: String,
    pub got: String,
    /// Whether a refused connection was closed by the server (true for greeted ones).
    pub closed_after_refusal: bool,
    pub ok: bool,
    /// From the start of the connect to the server's first reply line, in milliseconds.
    pub reply_ms: f64,
}

/// One phase: connections opened one after the other and held.
#[derive(Clone, Debug, Serialize)]
pub struct PhaseReport {
    pub name: String,
    pub greeted: usize,
    pub refused_correctly: usize,
    pub wrong: usize,
    /// The longest a refused connection waited for its 421, in milliseconds.
    pub slowest_refusal_ms: Option<f64>,
    pub attempts: Vec<Attempt>,
}

/// The whole check.
#[derive(Clone, Debug, Serialize)]
pub struct LimitsReport {
    pub server: SocketAddr,
    pub max_clients: usize,
    pub max_per_ip: Option<usize>,
    pub phases: Vec<PhaseReport>,
    pub passed: bool,
}

/// What `ftp-limits` needs to know.
pub struct LimitsSettings {
    pub destination: SocketAddr,
    pub max_clients: usize,
    pub max_per_ip: Option<usize>,
    /// Distinct source addresses, at least `max_clients + EXTRA_CONNECTIONS`.
    pub sources: Vec<SocketAddr>,
    /// How long each greeting (and each close after a refusal) may take.
    pub greeting_timeout: Duration,
    /// Connections opened all at once in the burst phases, if any.
    pub burst: Option<usize>,
}

fn describe(result: &Result<crate::ftp::control::Reply, FtpError>) -> String {
    match result {
        Ok(reply) => reply.to_string(),
        Err(error) => error.to_string(),
    }
}

/// Opens one connection per entry of `sources`, in order, each held while the next opens;
/// checks each against the model; then quits the greeted ones.
fn run_phase(name: &str, sources: &[SocketAddr], settings: &LimitsSettings) -> PhaseReport {
    let mut held: Vec<Control> = Vec::new();
    let mut attempts = Vec::new();
    for source in sources {
        let greeted_from_address = held
            .iter()
            .filter(|c| c.local_addr().ip() == source.ip())
            .count();
        let expected = expected_outcome(
            held.len(),
            greeted_from_address,
            settings.max_clients,
            settings.max_per_ip,
        );
        let mut control = None;
        let started = std::time::Instant::now();
        let greeting = Control::connect(*source, settings.destination, settings.greeting_timeout)
            .and_then(|mut c| {
                let greeting = c.read_reply("greeting");
                control = Some(c);
                greeting
            });
        let reply_ms = started.elapsed().as_secs_f64() * 1e3;
        let got = describe(&greeting);
        let greeted = greeting.as_ref().is_ok_and(|r| r.code == 220);
        let mut closed_after_refusal = true;
        let mut ok = match expected {
            Expected::Greeting => greeted,
            Expected::TooManyClients | Expected::TooManyFromAddress => got == expected.to_string(),
        };
        match control {
            Some(c) if greeted => held.push(c),
            Some(mut c) if greeting.is_ok() => {
                // A 421 means "closing": a server that keeps the connection would still hold
                // the resources the limit is there to protect.
                closed_after_refusal = c.wait_for_close(settings.greeting_timeout);
                ok &= closed_after_refusal;
            }
            _ => {}
        }
        attempts.push(Attempt {
            source: source.ip(),
            expected: expected.to_string(),
            got,
            closed_after_refusal,
            ok,
            reply_ms,
        });
    }
    finish_phase(name, held, attempts, settings, 0)
}

/// Opens one connection per entry of `sources` at the same moment (a thread each, released
/// together) and checks that exactly `admitted` were greeted and every other was refused with
/// `refusal`: the limits must hold when the connections race each other.
fn run_burst(
    name: &str,
    sources: &[SocketAddr],
    admitted: usize,
    refusal: Expected,
    settings: &LimitsSettings,
) -> PhaseReport {
    let start = std::sync::Barrier::new(sources.len());
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = sources
            .iter()
            .map(|&source| {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    let started = std::time::Instant::now();
                    let mut control = None;
                    let greeting =
                        Control::connect(source, settings.destination, settings.greeting_timeout)
                            .and_then(|mut c| {
                                let greeting = c.read_reply("greeting");
                                control = Some(c);
                                greeting
                            });
                    let reply_ms = started.elapsed().as_secs_f64() * 1e3;
                    (source, describe(&greeting), reply_ms, control)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("burst connection thread"))
            .collect()
    });
    let greeted = outcomes
        .iter()
        .filter(|(_, got, _, _)| got.starts_with("220"))
        .count();
    let mut attempts = Vec::new();
    let mut held = Vec::new();
    for (source, got, reply_ms, control) in outcomes {
        let is_greeting = got.starts_with("220");
        let ok = if is_greeting {
            greeted <= admitted
        } else {
            got == refusal.to_string()
        };
        let mut closed_after_refusal = true;
        match control {
            Some(c) if is_greeting => held.push(c),
            Some(mut c) => closed_after_refusal = c.wait_for_close(settings.greeting_timeout),
            None => {}
        }
        attempts.push(Attempt {
            source: source.ip(),
            expected: if is_greeting {
                format!("at most {admitted} greetings")
            } else {
                refusal.to_string()
            },
            got,
            closed_after_refusal,
            ok: ok && closed_after_refusal,
            reply_ms,
        });
    }
    finish_phase(name, held, attempts, settings, greeted.abs_diff(admitted))
}

/// Quits the greeted connections and sums up a phase; `miscounted` is how far the number of
/// greetings was from the expected one.
fn finish_phase(
    name: &str,
    mut held: Vec<Control>,
    attempts: Vec<Attempt>,
    settings: &LimitsSettings,
    miscounted: usize,
) -> PhaseReport {
    for control in &mut held {
        let _ = control.send("QUIT", "QUIT");
    }
    for control in &mut held {
        control.wait_for_close(settings.greeting_timeout);
    }
    drop(held);
    std::thread::sleep(SETTLE);
    let greeted = attempts.iter().filter(|a| a.got.starts_with("220")).count();
    let wrong = attempts.iter().filter(|a| !a.ok).count() + miscounted;
    let slowest_refusal_ms = attempts
        .iter()
        .filter(|a| a.got.starts_with("421"))
        .map(|a| a.reply_ms)
        .reduce(f64::max);
    PhaseReport {
        name: name.to_string(),
        greeted,
        refused_correctly: attempts
            .iter()
            .filter(|a| a.ok && !a.got.starts_with("220"))
            .count(),
        wrong,
        slowest_refusal_ms,
        attempts,
    }
}

/// Runs the `max_clients` phase (distinct addresses) and, given `max_per_ip`, the per-address
/// phase (one address); given a burst size, the same again with all connections at once.
pub fn check_limits(settings: &LimitsSettings) -> LimitsReport {
    let mut phases = Vec::new();
    let distinct = &settings.sources[..settings.max_clients + EXTRA_CONNECTIONS];
    phases.push(run_phase(
        &format!(
            "max_clients={}: {} connections from distinct addresses",
            settings.max_clients,
            distinct.len()
        ),
        distinct,
        settings,
    ));
    if let Some(max_per_ip) = settings.max_per_ip {
        let one_address = vec![settings.sources[0]; max_per_ip + EXTRA_CONNECTIONS];
        phases.push(run_phase(
            &format!(
                "max_per_ip={max_per_ip}: {} connections from {}",
                one_address.len(),
                settings.sources[0].ip()
            ),
            &one_address,
            settings,
        ));
    }
    if let Some(burst) = settings.burst {
        phases.push(run_burst(
            &format!("burst: {burst} connections at once from distinct addresses"),
            &settings.sources[..burst],
            burst.min(settings.max_clients),
            Expected::TooManyClients,
            settings,
        ));
        if let Some(max_per_ip) = settings.max_per_ip {
            let (admitted, refusal) = if max_per_ip < settings.max_clients {
                (max_per_ip, Expected::TooManyFromAddress)
            } else {
                (settings.max_clients, Expected::TooManyClients)
            };
            phases.push(run_burst(
                &format!(
                    "burst: {burst} connections at once from {}",
                    settings.sources[0].ip()
                ),
                &vec![settings.sources[0]; burst],
                burst.min(admitted),
                refusal,
                settings,
            ));
        }
    }
    let passed = phases.iter().all(|p| p.wrong == 0);
    LimitsReport {
        server: settings.destination,
        max_clients: settings.max_clients,
        max_per_ip: settings.max_per_ip,
        phases,
        passed,
    }
}

impl fmt::Display for LimitsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "ringload ftp-limits {}", self.server)?;
        for phase in &self.phases {
            write!(
                f,
                "{}: {} greeted, {} refused as expected, {} wrong",
                phase.name, phase.greeted, phase.refused_correctly, phase.wrong
            )?;
            match phase.slowest_refusal_ms {
                Some(ms) => writeln!(f, "; slowest 421 after {ms:.2} ms")?,
                None => writeln!(f)?,
            }
            for (index, attempt) in phase.attempts.iter().enumerate() {
                let mark = if attempt.ok { "ok   " } else { "WRONG" };
                write!(
                    f,
                    "  {mark} #{:<3} from {:<15} got {:?} in {:.2} ms",
                    index + 1,
                    attempt.source.to_string(),
                    attempt.got,
                    attempt.reply_ms
                )?;
                if !attempt.ok {
                    write!(f, ", expected {:?}", attempt.expected)?;
                    if !attempt.closed_after_refusal {
                        write!(f, " and a close")?;
                    }
                }
                writeln!(f)?;
            }
        }
        writeln!(
            f,
            "{}",
            if self.passed {
                "PASS: the server enforces its connection limits"
            } else {
                "FAIL: the server does not enforce the limits as configured"
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_clients_is_checked_before_max_per_ip() {
        use Expected::*;
        assert_eq!(expected_outcome(0, 0, 3, Some(2)), Greeting);
        assert_eq!(expected_outcome(2, 1, 3, Some(2)), Greeting);
        assert_eq!(expected_outcome(2, 2, 3, Some(2)), TooManyFromAddress);
        assert_eq!(expected_outcome(3, 2, 3, Some(2)), TooManyClients);
        assert_eq!(expected_outcome(3, 0, 3, None), TooManyClients);
        assert_eq!(expected_outcome(100, 100, 0, Some(0)), Greeting);
        assert_eq!(expected_outcome(5, 5, 0, Some(5)), TooManyFromAddress);
    }

    #[test]
    fn the_messages_are_vsftpds() {
        assert_eq!(Expected::TooManyClients.to_string(), TOO_MANY_CLIENTS);
        assert_eq!(
            Expected::TooManyFromAddress.to_string(),
            TOO_MANY_FROM_ADDRESS
        );
    }
}
