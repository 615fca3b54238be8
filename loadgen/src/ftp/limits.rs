//! `ftp-limits`: checks that a server greets exactly `max_clients` (and `max_per_ip`) connections and refuses the rest, without blaming it for places it has not yet released.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::ftp::control::{Control, FtpError, Reply};

/// vsftpd's refusal when `max_clients` is reached.
pub const TOO_MANY_CLIENTS: &str = "421 There are too many connected users, please try later.";
/// vsftpd's refusal when `max_per_ip` is reached.
pub const TOO_MANY_FROM_ADDRESS: &str =
    "421 There are too many connections from your internet address.";
/// Connections opened beyond each limit: one more would prove the limit, two show it holds.
pub const EXTRA_CONNECTIONS: usize = 2;
/// Times a phase is run again when the server refused a connection the client's own count
/// says it should have greeted.
pub const MAX_RETRIES: u32 = 3;
/// How long a phase's first connection keeps being retried while the server refuses it: the
/// server may still count the previous phase's connections (vsftpd does until their session
/// processes have exited and been reaped, after the sockets closed).
const RELEASE_WAIT: Duration = Duration::from_secs(5);
/// Pause between two refused first connections of a phase.
const RELEASE_POLL: Duration = Duration::from_millis(20);
/// Pause before a phase's first retry, doubled for each further one: how long a server takes
/// to give places back is its own business, so the check backs off rather than guess.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// A server's two connection limits, vsftpd's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    MaxClients,
    MaxPerIp,
}

/// What a new connection should get from a server enforcing the limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Expected {
    Greeting,
    TooManyClients,
    TooManyFromAddress,
}

impl Expected {
    fn refusal(limit: Limit) -> Expected {
        match limit {
            Limit::MaxClients => Expected::TooManyClients,
            Limit::MaxPerIp => Expected::TooManyFromAddress,
        }
    }
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

/// A connection's first reply, as far as the limits go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Greeting,
    /// A refusal for `limit`; `names` is the limit's value when the text gives it (pure-ftpd's
    /// texts do, vsftpd's do not).
    Refused {
        limit: Limit,
        names: Option<usize>,
    },
    /// Any other reply, or none at all.
    Other,
}

/// Reads a first reply: a 220, one of the refusals vsftpd (and ringd) or pure-ftpd send, or
/// something else.
pub fn classify(reply: Option<&Reply>) -> Answer {
    let Some(reply) = reply else {
        return Answer::Other;
    };
    if reply.code == 220 {
        return Answer::Greeting;
    }
    if reply.code != 421 {
        return Answer::Other;
    }
    let whole = reply.to_string();
    if whole == TOO_MANY_CLIENTS {
        return Answer::Refused {
            limit: Limit::MaxClients,
            names: None,
        };
    }
    if whole == TOO_MANY_FROM_ADDRESS {
        return Answer::Refused {
            limit: Limit::MaxPerIp,
            names: None,
        };
    }
    let naming = |limit, value: Option<&str>| {
        value
            .and_then(|value| value.parse().ok())
            .map(|value| Answer::Refused {
                limit,
                names: Some(value),
            })
    };
    let text = reply.text.as_str();
    naming(
        Limit::MaxClients,
        text.strip_suffix(" users (the maximum) are already logged in, sorry"),
    )
    .or_else(|| {
        naming(
            Limit::MaxPerIp,
            text.strip_prefix("Too many connections (")
                .and_then(|rest| rest.strip_suffix(") from this IP")),
        )
    })
    .unwrap_or(Answer::Other)
}

/// What one connection's answer says about the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Right,
    Wrong,
    /// Refused where the connections the client holds leave room: the server still counted
    /// connections already closed, so the phase is run again rather than blamed.
    Stale,
}

/// The limits the user says the server has.
#[derive(Clone, Copy, Debug)]
pub struct Claims {
    pub max_clients: usize,
    pub max_per_ip: Option<usize>,
}

impl Claims {
    fn value(&self, limit: Limit) -> Option<usize> {
        match limit {
            Limit::MaxClients => Some(self.max_clients),
            Limit::MaxPerIp => self.max_per_ip,
        }
    }

    /// A refusal is wrong whatever the timing when its text names another value than the
    /// claimed one, or when the server kept the connection open after it.
    fn wrong_refusal(&self, limit: Limit, names: Option<usize>, closed: bool) -> bool {
        !closed || names.is_some_and(|value| Some(value) != self.value(limit))
    }
}

/// The model of a phase whose connections open one after another and are held: what the
/// client holds, and what was refused in this run of the phase (a server may count a refused
/// connection a moment longer too: vsftpd's refusing session process).
pub struct Sequence {
    claims: Claims,
    held: Vec<IpAddr>,
    refused: Vec<IpAddr>,
}

impl Sequence {
    pub fn new(claims: Claims) -> Sequence {
        Sequence {
            claims,
            held: Vec::new(),
            refused: Vec::new(),
        }
    }

    /// What the next connection, from `source`, should get.
    pub fn expected(&self, source: IpAddr) -> Expected {
        let from_source = self.held.iter().filter(|ip| **ip == source).count();
        expected_outcome(
            self.held.len(),
            from_source,
            self.claims.max_clients,
            self.claims.max_per_ip,
        )
    }

    /// Judges the answer to a connection from `source` and takes it into the model;
    /// `closed_after_refusal` says whether the server closed a connection it did not greet.
    pub fn judge(&mut self, source: IpAddr, answer: Answer, closed_after_refusal: bool) -> Verdict {
        let expected = self.expected(source);
        match answer {
            Answer::Greeting => {
                self.held.push(source);
                if expected == Expected::Greeting {
                    Verdict::Right
                } else {
                    Verdict::Wrong
                }
            }
            Answer::Refused { limit, names } => {
                let verdict = if self
                    .claims
                    .wrong_refusal(limit, names, closed_after_refusal)
                {
                    Verdict::Wrong
                } else if expected != Expected::Greeting && self.could_refuse_for(source, limit) {
                    Verdict::Right
                } else {
                    Verdict::Stale
                };
                self.refused.push(source);
                verdict
            }
            Answer::Other => Verdict::Wrong,
        }
    }

    /// Whether vsftpd's rule gives a refusal for `limit` when the server still counts some of
    /// this phase's refused connections besides the held ones.
    fn could_refuse_for(&self, source: IpAddr, limit: Limit) -> bool {
        let held_from_source = self.held.iter().filter(|ip| **ip == source).count();
        let refused_from_source = self.refused.iter().filter(|ip| **ip == source).count();
        let refused_elsewhere = self.refused.len() - refused_from_source;
        (0..=refused_from_source).any(|same| {
            (0..=refused_elsewhere).any(|other| {
                expected_outcome(
                    self.held.len() + same + other,
                    held_from_source + same,
                    self.claims.max_clients,
                    self.claims.max_per_ip,
                ) == Expected::refusal(limit)
            })
        })
    }
}

/// Judges a burst's answers (each with whether a refused connection was closed): at most
/// `admitted` greetings; refusals for one of `allowed` once `admitted` were greeted, stale
/// before that (the server still counted connections already closed).
pub fn judge_burst(
    answers: &[(Answer, bool)],
    admitted: usize,
    allowed: &[Limit],
    claims: Claims,
) -> Vec<Verdict> {
    let greeted = answers
        .iter()
        .filter(|(answer, _)| *answer == Answer::Greeting)
        .count();
    answers
        .iter()
        .map(|&(answer, closed)| match answer {
            Answer::Greeting if greeted <= admitted => Verdict::Right,
            Answer::Greeting => Verdict::Wrong,
            Answer::Refused { limit, names } => {
                if claims.wrong_refusal(limit, names, closed) {
                    Verdict::Wrong
                } else if greeted >= admitted && allowed.contains(&limit) {
                    Verdict::Right
                } else {
                    Verdict::Stale
                }
            }
            Answer::Other => Verdict::Wrong,
        })
        .collect()
}

/// Whether a run of a phase should be repeated: some answer was stale and none plainly wrong.
pub fn needs_retry(verdicts: impl IntoIterator<Item = Verdict>) -> bool {
    let mut stale = false;
    for verdict in verdicts {
        match verdict {
            Verdict::Wrong => return false,
            Verdict::Stale => stale = true,
            Verdict::Right => {}
        }
    }
    stale
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
    /// Refused while the connections the client held left room (see `Verdict::Stale`).
    pub stale: bool,
    /// From the start of the connect to the server's first reply line, in milliseconds.
    pub reply_ms: f64,
}

/// One phase: its last run, and how many runs and refused first connections it took.
#[derive(Clone, Debug, Serialize)]
pub struct PhaseReport {
    pub name: String,
    pub greeted: usize,
    pub refused_correctly: usize,
    pub wrong: usize,
    /// The longest a refused connection waited for its 421, in milliseconds.
    pub slowest_refusal_ms: Option<f64>,
    /// Runs of the phase after the first, each because the server still counted connections
    /// the client had closed.
    pub retries: u32,
    /// First connections refused, then tried again, while the server released the places of
    /// the previous phase (or run).
    pub refused_before_start: usize,
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

impl LimitsSettings {
    fn claims(&self) -> Claims {
        Claims {
            max_clients: self.max_clients,
            max_per_ip: self.max_per_ip,
        }
    }
}

/// A connection's first reply, how long it took, and the connection if it opened.
struct Opened {
    source: SocketAddr,
    first_reply: Result<Reply, FtpError>,
    reply_ms: f64,
    control: Option<Control>,
}

impl Opened {
    fn connect(source: SocketAddr, settings: &LimitsSettings) -> Opened {
        let started = Instant::now();
        let mut control = None;
        let first_reply = Control::connect(source, settings.destination, settings.greeting_timeout)
            .and_then(|mut c| {
                let reply = c.read_reply("greeting");
                control = Some(c);
                reply
            });
        Opened {
            source,
            first_reply,
            reply_ms: started.elapsed().as_secs_f64() * 1e3,
            control,
        }
    }

    fn answer(&self) -> Answer {
        classify(self.first_reply.as_ref().ok())
    }

    /// Keeps a greeted connection in `held`; waits for the server to close any other that
    /// answered (a 421 means "closing": a server that keeps the connection would still hold
    /// the resources the limit is there to protect). True unless a refused one stayed open.
    fn settle(&mut self, held: &mut Vec<Control>, settings: &LimitsSettings) -> bool {
        let greeted = self.answer() == Answer::Greeting;
        match self.control.take() {
            Some(control) if greeted => {
                held.push(control);
                true
            }
            Some(mut control) if self.first_reply.is_ok() => {
                control.wait_for_close(settings.greeting_timeout)
            }
            _ => true,
        }
    }

    fn described(&self) -> String {
        match &self.first_reply {
            Ok(reply) => reply.to_string(),
            Err(error) => error.to_string(),
        }
    }
}

/// Opens a phase's first connection, again while the server refuses it and `RELEASE_WAIT`
/// lasts: the places of the previous phase come back when the server has noticed their
/// closes. Returns the connection and how many tries were refused before it.
fn open_first(source: SocketAddr, settings: &LimitsSettings) -> (Opened, usize) {
    let deadline = Instant::now() + RELEASE_WAIT;
    let most_tries = (RELEASE_WAIT.as_millis() / RELEASE_POLL.as_millis()) as usize + 1;
    let mut refused = 0;
    loop {
        let mut opened = Opened::connect(source, settings);
        if !matches!(opened.answer(), Answer::Refused { .. })
            || Instant::now() >= deadline
            || refused + 1 >= most_tries
        {
            return (opened, refused);
        }
        opened.settle(&mut Vec::new(), settings);
        refused += 1;
        std::thread::sleep(RELEASE_POLL);
    }
}

/// One run of a phase: its attempts, the connections it holds, and the first connections
/// refused before it could start.
struct Run {
    attempts: Vec<Attempt>,
    held: Vec<Control>,
    refused_before_start: usize,
}

fn attempt(opened: &Opened, expected: String, closed: bool, verdict: Verdict) -> Attempt {
    Attempt {
        source: opened.source.ip(),
        expected,
        got: opened.described(),
        closed_after_refusal: closed,
        ok: verdict == Verdict::Right,
        stale: verdict == Verdict::Stale,
        reply_ms: opened.reply_ms,
    }
}

/// Opens one connection per entry of `sources`, in order, each held while the next opens,
/// and judges each against the model.
fn run_sequence(sources: &[SocketAddr], settings: &LimitsSettings) -> Run {
    let mut model = Sequence::new(settings.claims());
    let (first, refused_before_start) = open_first(sources[0], settings);
    let mut first = Some(first);
    let mut held = Vec::new();
    let mut attempts = Vec::new();
    for source in sources {
        let expected = model.expected(source.ip());
        let mut opened = first
            .take()
            .unwrap_or_else(|| Opened::connect(*source, settings));
        let closed = opened.settle(&mut held, settings);
        let verdict = model.judge(source.ip(), opened.answer(), closed);
        attempts.push(attempt(&opened, expected.to_string(), closed, verdict));
    }
    Run {
        attempts,
        held,
        refused_before_start,
    }
}

/// Opens the first of `sources` alone (once the server greets it), then all the others at
/// the same moment (a thread each, released together): exactly `admitted` in all must be
/// greeted and every other refused for one of `allowed`, while the connections race.
fn run_burst(
    sources: &[SocketAddr],
    admitted: usize,
    allowed: &[Limit],
    settings: &LimitsSettings,
) -> Run {
    let (first, refused_before_start) = open_first(sources[0], settings);
    let racing = &sources[1..];
    let start = std::sync::Barrier::new(racing.len());
    let mut opened: Vec<Opened> = std::thread::scope(|scope| {
        let workers: Vec<_> = racing
            .iter()
            .map(|&source| {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    Opened::connect(source, settings)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("burst connection thread"))
            .collect()
    });
    opened.insert(0, first);
    let mut held = Vec::new();
    let answers: Vec<(Answer, bool)> = opened
        .iter_mut()
        .map(|o| (o.answer(), o.settle(&mut held, settings)))
        .collect();
    let verdicts = judge_burst(&answers, admitted, allowed, settings.claims());
    let refusal = Expected::refusal(allowed[0]).to_string();
    let attempts = opened
        .iter()
        .zip(answers.iter().zip(verdicts))
        .map(|(o, (&(answer, closed), verdict))| {
            let expected = if answer == Answer::Greeting {
                format!("at most {admitted} greetings")
            } else {
                refusal.clone()
            };
            attempt(o, expected, closed, verdict)
        })
        .collect();
    Run {
        attempts,
        held,
        refused_before_start,
    }
}

/// Quits the greeted connections and waits for the server to close them.
fn release(mut held: Vec<Control>, settings: &LimitsSettings) {
    for control in &mut held {
        let _ = control.send("QUIT", "QUIT");
    }
    for control in &mut held {
        control.wait_for_close(settings.greeting_timeout);
    }
}

/// Runs a phase, and again (at most `MAX_RETRIES` times, pausing longer each time) while the
/// server refuses connections only because it still counts connections the client closed.
fn run_phase(name: String, settings: &LimitsSettings, run: impl Fn() -> Run) -> PhaseReport {
    let mut retries = 0;
    let mut refused_before_start = 0;
    loop {
        let Run {
            attempts,
            held,
            refused_before_start: refused_first,
        } = run();
        release(held, settings);
        refused_before_start += refused_first;
        let verdicts = attempts.iter().map(|a| match (a.ok, a.stale) {
            (true, _) => Verdict::Right,
            (false, true) => Verdict::Stale,
            (false, false) => Verdict::Wrong,
        });
        if retries == MAX_RETRIES || !needs_retry(verdicts) {
            return summarise(name, attempts, retries, refused_before_start);
        }
        std::thread::sleep(RETRY_PAUSE * 2u32.pow(retries));
        retries += 1;
    }
}

fn summarise(
    name: String,
    attempts: Vec<Attempt>,
    retries: u32,
    refused_before_start: usize,
) -> PhaseReport {
    let greeted = attempts.iter().filter(|a| a.got.starts_with("220")).count();
    PhaseReport {
        name,
        greeted,
        refused_correctly: attempts
            .iter()
            .filter(|a| a.ok && !a.got.starts_with("220"))
            .count(),
        wrong: attempts.iter().filter(|a| !a.ok).count(),
        slowest_refusal_ms: attempts
            .iter()
            .filter(|a| a.got.starts_with("421"))
            .map(|a| a.reply_ms)
            .reduce(f64::max),
        retries,
        refused_before_start,
        attempts,
    }
}

/// Runs the `max_clients` phase (distinct addresses) and, given `max_per_ip`, the per-address
/// phase (one address); given a burst size, the same again with the connections racing.
pub fn check_limits(settings: &LimitsSettings) -> LimitsReport {
    let mut phases = Vec::new();
    let distinct = &settings.sources[..settings.max_clients + EXTRA_CONNECTIONS];
    phases.push(run_phase(
        format!(
            "max_clients={}: {} connections from distinct addresses",
            settings.max_clients,
            distinct.len()
        ),
        settings,
        || run_sequence(distinct, settings),
    ));
    if let Some(max_per_ip) = settings.max_per_ip {
        let one_address = vec![settings.sources[0]; max_per_ip + EXTRA_CONNECTIONS];
        phases.push(run_phase(
            format!(
                "max_per_ip={max_per_ip}: {} connections from {}",
                one_address.len(),
                settings.sources[0].ip()
            ),
            settings,
            || run_sequence(&one_address, settings),
        ));
    }
    if let Some(burst) = settings.burst {
        let distinct = &settings.sources[..burst];
        phases.push(run_phase(
            format!("burst: {burst} connections at once from distinct addresses"),
            settings,
            || {
                run_burst(
                    distinct,
                    burst.min(settings.max_clients),
                    &[Limit::MaxClients],
                    settings,
                )
            },
        ));
        if let Some(max_per_ip) = settings.max_per_ip {
            // The refusals racing one another may be counted for a moment (vsftpd's refusing
            // processes), so `max_clients` may refuse too even where `max_per_ip` binds first.
            let (admitted, allowed): (usize, &[Limit]) = if max_per_ip < settings.max_clients {
                (max_per_ip, &[Limit::MaxPerIp, Limit::MaxClients])
            } else {
                (settings.max_clients, &[Limit::MaxClients])
            };
            let one_address = vec![settings.sources[0]; burst];
            phases.push(run_phase(
                format!(
                    "burst: {burst} connections at once from {}",
                    settings.sources[0].ip()
                ),
                settings,
                || run_burst(&one_address, burst.min(admitted), allowed, settings),
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

impl LimitsReport {
    /// The one line `--quiet` prints.
    pub fn verdict(&self) -> &'static str {
        if self.passed {
            "PASS: the server enforces its connection limits"
        } else {
            "FAIL: the server does not enforce the limits as configured"
        }
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
            if let Some(ms) = phase.slowest_refusal_ms {
                write!(f, "; slowest 421 after {ms:.2} ms")?;
            }
            if phase.refused_before_start > 0 {
                write!(
                    f,
                    "; first connection refused {} time(s) while the server released places",
                    phase.refused_before_start
                )?;
            }
            if phase.retries > 0 {
                write!(
                    f,
                    "; run {} time(s) more, the server still counting closed connections",
                    phase.retries
                )?;
            }
            writeln!(f)?;
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
                    if attempt.stale {
                        write!(
                            f,
                            " (refused with room left {} run(s) in a row)",
                            phase.retries + 1
                        )?;
                    }
                }
                writeln!(f)?;
            }
        }
        writeln!(f, "{}", self.verdict())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::{Ipv4Addr, TcpListener, TcpStream};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread::JoinHandle;

    /// Bounds on what one fake server serves: far more than a check opens or sends.
    const FAKE_MOST_CONNECTIONS: usize = 1_000;
    const FAKE_MOST_COMMANDS: usize = 16;

    const VSFTPD_CLAIMS: Claims = Claims {
        max_clients: 3,
        max_per_ip: Some(2),
    };

    fn reply(line: &str) -> Reply {
        Reply {
            code: line[..3].parse().unwrap(),
            text: line[4..].to_string(),
        }
    }

    fn address(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
    }

    const CLIENTS: Answer = Answer::Refused {
        limit: Limit::MaxClients,
        names: None,
    };
    const FROM_ADDRESS: Answer = Answer::Refused {
        limit: Limit::MaxPerIp,
        names: None,
    };

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

    #[test]
    fn vsftpd_and_pure_ftpd_refusals_are_read_with_the_value_they_name() {
        assert_eq!(classify(Some(&reply(TOO_MANY_CLIENTS))), CLIENTS);
        assert_eq!(classify(Some(&reply(TOO_MANY_FROM_ADDRESS))), FROM_ADDRESS);
        // pure-ftpd 1.0.50's texts, as it sent them here with -c 3 -C 2.
        assert_eq!(
            classify(Some(&reply(
                "421 3 users (the maximum) are already logged in, sorry"
            ))),
            Answer::Refused {
                limit: Limit::MaxClients,
                names: Some(3)
            }
        );
        assert_eq!(
            classify(Some(&reply("421 Too many connections (2) from this IP"))),
            Answer::Refused {
                limit: Limit::MaxPerIp,
                names: Some(2)
            }
        );
        // A multi-line greeting arrives as its last line.
        assert_eq!(
            classify(Some(&reply(
                "220 You will be disconnected after 15 minutes of inactivity."
            ))),
            Answer::Greeting
        );
        assert_eq!(
            classify(Some(&reply("421 Service not available."))),
            Answer::Other
        );
        assert_eq!(
            classify(Some(&reply(
                "421 many users (the maximum) are already logged in, sorry"
            ))),
            Answer::Other
        );
        assert_eq!(classify(Some(&reply("530 Go away"))), Answer::Other);
        assert_eq!(classify(None), Answer::Other);
    }

    /// Feeds a sequence model `answers`, each from the address with that last byte.
    fn judged(claims: Claims, answers: &[(u8, Answer)]) -> Vec<Verdict> {
        let mut model = Sequence::new(claims);
        answers
            .iter()
            .map(|&(source, answer)| model.judge(address(source), answer, true))
            .collect()
    }

    #[test]
    fn a_correct_server_is_right_in_both_sequences() {
        use Answer::Greeting as G;
        use Verdict::Right as R;
        assert_eq!(
            judged(
                VSFTPD_CLAIMS,
                &[(1, G), (2, G), (3, G), (4, CLIENTS), (5, CLIENTS)]
            ),
            [R, R, R, R, R]
        );
        // vsftpd counts its refusing process for a moment: the connection after a per-address
        // refusal may meet max_clients instead.
        assert_eq!(
            judged(
                VSFTPD_CLAIMS,
                &[(1, G), (1, G), (1, FROM_ADDRESS), (1, CLIENTS)]
            ),
            [R, R, R, R]
        );
        assert_eq!(
            judged(
                VSFTPD_CLAIMS,
                &[(1, G), (1, G), (1, FROM_ADDRESS), (1, FROM_ADDRESS)]
            ),
            [R, R, R, R]
        );
        assert!(!needs_retry([R, R, R]));
    }

    #[test]
    fn a_refusal_with_room_left_is_stale_and_the_phase_is_retried() {
        use Answer::Greeting as G;
        use Verdict::{Right as R, Stale as S};
        // The server still counted a connection of the previous phase.
        let verdicts = judged(
            VSFTPD_CLAIMS,
            &[(1, G), (2, G), (3, CLIENTS), (4, G), (5, CLIENTS)],
        );
        assert_eq!(verdicts, [R, R, S, R, R]);
        assert!(needs_retry(verdicts));
        // max_clients met in the per-address phase, where the client holds one connection.
        let verdicts = judged(
            VSFTPD_CLAIMS,
            &[(1, G), (1, CLIENTS), (1, G), (1, FROM_ADDRESS)],
        );
        assert_eq!(verdicts, [R, S, R, R]);
        // pure-ftpd names the limit it met: the claimed one, with fewer connections held.
        let pure_ftpd = Answer::Refused {
            limit: Limit::MaxPerIp,
            names: Some(2),
        };
        assert_eq!(judged(VSFTPD_CLAIMS, &[(1, G), (1, pure_ftpd)]), [R, S]);
    }

    #[test]
    fn a_wrong_server_is_wrong_whatever_the_timing() {
        use Answer::Greeting as G;
        use Verdict::{Right as R, Stale as S, Wrong as W};
        // One greeting too many.
        let verdicts = judged(
            VSFTPD_CLAIMS,
            &[(1, G), (2, G), (3, G), (4, G), (5, CLIENTS)],
        );
        assert_eq!(verdicts, [R, R, R, W, R]);
        assert!(!needs_retry(verdicts));
        // A stale refusal does not excuse a greeting too many in the same run.
        assert!(!needs_retry([R, S, W]));
        // pure-ftpd naming another limit than the claimed one.
        let one_per_address = Answer::Refused {
            limit: Limit::MaxPerIp,
            names: Some(1),
        };
        assert_eq!(
            judged(VSFTPD_CLAIMS, &[(1, G), (1, one_per_address)]),
            [R, W]
        );
        // A refusal that leaves the connection open, and an unknown reply.
        let mut model = Sequence::new(VSFTPD_CLAIMS);
        for source in 1..=3 {
            model.judge(address(source), G, true);
        }
        assert_eq!(model.judge(address(4), CLIENTS, false), W);
        assert_eq!(model.judge(address(5), Answer::Other, true), W);
    }

    #[test]
    fn bursts_are_judged_by_their_count_of_greetings() {
        use Answer::Greeting as G;
        use Verdict::{Right as R, Stale as S, Wrong as W};
        let clients = [Limit::MaxClients];
        let answers = |greeted: usize, refusal: Answer| -> Vec<(Answer, bool)> {
            (0..6)
                .map(|i| (if i < greeted { G } else { refusal }, true))
                .collect()
        };
        assert_eq!(
            judge_burst(&answers(3, CLIENTS), 3, &clients, VSFTPD_CLAIMS),
            [R, R, R, R, R, R]
        );
        assert_eq!(
            judge_burst(&answers(4, CLIENTS), 3, &clients, VSFTPD_CLAIMS),
            [W, W, W, W, R, R]
        );
        let fewer = judge_burst(&answers(2, CLIENTS), 3, &clients, VSFTPD_CLAIMS);
        assert_eq!(fewer, [R, R, S, S, S, S]);
        assert!(needs_retry(fewer));
        // From one address, both refusals may come (racing refusals counted for a moment).
        let per_address = [Limit::MaxPerIp, Limit::MaxClients];
        let mut mixed = answers(2, FROM_ADDRESS);
        mixed[5].0 = CLIENTS;
        assert_eq!(
            judge_burst(&mixed, 2, &per_address, VSFTPD_CLAIMS),
            [R, R, R, R, R, R]
        );
        assert_eq!(
            judge_burst(&answers(3, FROM_ADDRESS), 3, &clients, VSFTPD_CLAIMS),
            [R, R, R, S, S, S]
        );
    }

    /// How a fake server gives back the place of a connection the client closed.
    #[derive(Clone, Copy)]
    enum Release {
        /// Before it accepts the next connection, as a correct server does.
        AtOnce,
        /// One place per connection it accepts, the new client's own address last: a server
        /// that notices closes late.
        OnePerConnection,
    }

    struct FakeState {
        open: Vec<IpAddr>,
        closed: Vec<IpAddr>,
    }

    /// An FTP server that greets while fewer than its own limits are counted, refuses with
    /// vsftpd's texts otherwise, and answers QUIT; stopped (and its accept thread joined) on
    /// drop. Its limits may differ from the claimed ones.
    struct FakeServer {
        address: SocketAddr,
        stop: Arc<AtomicBool>,
        accepter: Option<JoinHandle<()>>,
    }

    impl FakeServer {
        fn start(max_clients: usize, max_per_ip: usize, release: Release) -> FakeServer {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let address = listener.local_addr().unwrap();
            let stop = Arc::new(AtomicBool::new(false));
            let state = Arc::new(Mutex::new(FakeState {
                open: Vec::new(),
                closed: Vec::new(),
            }));
            let stopping = stop.clone();
            let accepter = std::thread::spawn(move || {
                for stream in listener.incoming().take(FAKE_MOST_CONNECTIONS) {
                    if stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut stream) = stream else { continue };
                    let peer = stream.peer_addr().unwrap().ip();
                    let mut counted = state.lock().unwrap();
                    match release {
                        Release::AtOnce => counted.closed.clear(),
                        Release::OnePerConnection => {
                            let index = counted
                                .closed
                                .iter()
                                .position(|ip| *ip != peer)
                                .or(counted.closed.len().checked_sub(1));
                            if let Some(index) = index {
                                counted.closed.remove(index);
                            }
                        }
                    }
                    let all = counted.open.iter().chain(&counted.closed);
                    let total = all.clone().count();
                    let from_peer = all.filter(|ip| **ip == peer).count();
                    let refusal = if total >= max_clients {
                        Some(TOO_MANY_CLIENTS)
                    } else if from_peer >= max_per_ip {
                        Some(TOO_MANY_FROM_ADDRESS)
                    } else {
                        None
                    };
                    if let Some(refusal) = refusal {
                        let _ = stream.write_all(format!("{refusal}\r\n").as_bytes());
                        continue;
                    }
                    counted.open.push(peer);
                    drop(counted);
                    let state = state.clone();
                    std::thread::spawn(move || serve(stream, peer, &state));
                }
            });
            FakeServer {
                address,
                stop,
                accepter: Some(accepter),
            }
        }
    }

    /// Greets, then reads commands until QUIT or the client leaves; the place is counted as
    /// closed before the reply to QUIT, so the client never sees the close first.
    fn serve(mut stream: TcpStream, peer: IpAddr, state: &Mutex<FakeState>) {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let _ = stream.write_all(b"220 fake\r\n");
        let lines = BufReader::new(stream.try_clone().unwrap()).lines();
        let mut quit = false;
        for line in lines.take(FAKE_MOST_COMMANDS).map_while(Result::ok) {
            if line.eq_ignore_ascii_case("QUIT") {
                quit = true;
                break;
            }
            let _ = stream.write_all(b"500 fake\r\n");
        }
        let mut counted = state.lock().unwrap();
        let index = counted.open.iter().position(|ip| *ip == peer).unwrap();
        counted.open.remove(index);
        counted.closed.push(peer);
        drop(counted);
        if quit {
            let _ = stream.write_all(b"221 Goodbye.\r\n");
        }
    }

    impl Drop for FakeServer {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect(self.address);
            if let Some(accepter) = self.accepter.take() {
                accepter.join().unwrap();
            }
        }
    }

    fn settings(server: &FakeServer, burst: Option<usize>) -> LimitsSettings {
        LimitsSettings {
            destination: server.address,
            max_clients: 3,
            max_per_ip: Some(2),
            sources: (1..=8)
                .map(|last| SocketAddr::new(address(last), 0))
                .collect(),
            greeting_timeout: Duration::from_secs(2),
            burst,
        }
    }

    #[test]
    fn a_correct_server_passes_every_phase_first_time() {
        let server = FakeServer::start(3, 2, Release::AtOnce);
        let report = check_limits(&settings(&server, Some(8)));
        assert!(report.passed, "{report}");
        assert_eq!(report.phases.len(), 4, "{report}");
        assert!(report.phases.iter().all(|p| p.retries == 0), "{report}");
        assert_eq!(report.phases[2].greeted, 3, "{report}");
        assert_eq!(report.phases[3].greeted, 2, "{report}");
    }

    #[test]
    fn a_server_slow_to_release_places_passes_after_a_retry() {
        let server = FakeServer::start(3, 2, Release::OnePerConnection);
        let report = check_limits(&settings(&server, None));
        assert!(report.passed, "{report}");
        // The per-address phase met a place of the first phase's still counted.
        assert!(report.phases[1].retries >= 1, "{report}");
        assert!(
            report.to_string().contains("run 1 time(s) more"),
            "{report}"
        );
    }

    #[test]
    fn a_server_admitting_one_too_many_fails_without_retries() {
        let server = FakeServer::start(4, 2, Release::AtOnce);
        let report = check_limits(&settings(&server, None));
        assert!(!report.passed, "{report}");
        assert_eq!(report.phases[0].greeted, 4, "{report}");
        assert_eq!(report.phases[0].wrong, 1, "{report}");
        assert_eq!(report.phases[0].retries, 0, "{report}");
        assert!(report
            .to_string()
            .ends_with(&format!("{}\n", report.verdict())));
        assert!(report.verdict().starts_with("FAIL"));
    }

    #[test]
    fn a_server_refusing_one_too_early_fails_after_the_retries() {
        let server = FakeServer::start(2, 2, Release::AtOnce);
        let report = check_limits(&settings(&server, None));
        assert!(!report.passed, "{report}");
        assert_eq!(report.phases[0].greeted, 2, "{report}");
        assert_eq!(report.phases[0].retries, MAX_RETRIES, "{report}");
        assert!(report.phases[0].attempts[2].stale, "{report}");
        assert!(!report.phases[0].attempts[2].ok, "{report}");
    }
}
