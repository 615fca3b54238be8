//! A deterministic simulator: the real sync engine against a simulated clock and network,
//! thousands of times faster than real time and reproducible from a seed.

pub mod rng;
pub mod world;

use rng::Rng;
use world::{SimClock, SimServer};

use super::chrony_log::{RecordSelection, StampSource};
use super::discipline::MakeStep;
use super::engine::{
    Action, Engine, EngineConfig, ReplyTiming, SourceId, SourceSpec, DEFAULT_WANDER,
};
use super::leap::LeapTable;
use super::local_time::LocalTime;
use super::selection::SelectionRules;
use crate::ntp::packet::{leap, Header, NtpShort, NtpTimestamp, UnixTime, MODE_SERVER};

/// A source the simulated client polls.
#[derive(Clone, Debug)]
pub struct SimSource {
    pub server: SimServer,
    pub spec: SourceSpec,
}

impl SimSource {
    /// `server NAME minpoll 6 maxpoll 10`, chrony's defaults.
    pub fn default_server(name: &str, server: SimServer) -> Self {
        SimSource {
            server,
            spec: SourceSpec {
                name: name.to_string(),
                iburst: false,
                min_poll: 6,
                max_poll: 10,
                prefer: false,
                no_select: false,
                from_pool: false,
            },
        }
    }
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub seed: u64,
    /// Simulated seconds.
    pub duration: f64,
    /// Statistics cover the time from here to the end.
    pub stats_from: f64,
    /// The client clock's error at the start: local minus true, and how fast it grows.
    pub clock_offset: f64,
    pub clock_frequency: f64,
    /// Random-walk step of the clock's frequency per second.
    pub clock_wander: f64,
    pub sources: Vec<SimSource>,
    pub rules: SelectionRules,
    pub makestep: Option<MakeStep>,
    /// The leap seconds the client knows (`leapsectz`, `leapseclist`).
    pub leaps: LeapTable,
    /// The leap seconds UTC really takes during the run, which the client's offset from true
    /// time counts, whether or not it knows them.
    pub utc_leaps: LeapTable,
    /// POSIX time at the start.
    pub epoch_posix: f64,
    /// The clock counts as synchronised while within this of true time.
    pub sync_limit: f64,
}

impl Scenario {
    /// chrony's default simulation test: one perfect stratum-1 server 100 us + Exp(100 us)
    /// away each way; the client 0.1 s and +100 ppm off, its frequency wandering 1e-9 per
    /// second; 10,000 s, statistics from 210 s.
    pub fn chrony_default(seed: u64) -> Self {
        Scenario {
            seed,
            duration: 10_000.0,
            stats_from: 210.0,
            clock_offset: 0.1,
            clock_frequency: 100e-6,
            clock_wander: 1e-9,
            sources: vec![SimSource::default_server(
                "192.168.123.1",
                SimServer::chrony_default(),
            )],
            rules: SelectionRules::default(),
            makestep: None,
            leaps: LeapTable::default(),
            utc_leaps: LeapTable::default(),
            epoch_posix: 1_700_000_000.0,
            sync_limit: 1e-3,
        }
    }
}

/// The figures chrony's simulation tests print.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// From when on the clock stayed within the limit to the end; `None` if it never settled.
    pub sync_time: Option<f64>,
    pub rms_offset: f64,
    pub max_offset: f64,
    pub rms_frequency: f64,
    pub steps: u32,
    /// Replies that gave no sample (a leap second in flight, kiss-o'-death...).
    pub rejected_replies: u64,
}

/// What a per-second observer sees.
pub struct Second<'a> {
    pub time: f64,
    /// The client clock's true error (local minus UTC).
    pub offset: f64,
    pub engine: &'a Engine,
    /// The engine's time now (the local clock).
    pub local_time: LocalTime,
}

struct InFlight {
    arrives_at: f64,
    source: usize,
    t1: NtpTimestamp,
    reply: [u8; crate::ntp::packet::HEADER_LEN],
}

/// An NTP timestamp for `seconds` after `base`.
fn timestamp(base: NtpTimestamp, seconds: f64) -> NtpTimestamp {
    NtpTimestamp(
        base.0
            .wrapping_add((seconds * 4_294_967_296.0).round() as i64 as u64),
    )
}

/// Runs the scenario, calling `observe` once a simulated second.
pub fn run(scenario: &Scenario, mut observe: impl FnMut(&Second)) -> Outcome {
    let rng = Rng::new(scenario.seed);
    let mut clock = SimClock::new(
        scenario.clock_offset,
        scenario.clock_frequency,
        scenario.clock_wander,
        scenario.epoch_posix,
    );
    let base = NtpTimestamp::from_unix(UnixTime {
        secs: scenario.epoch_posix.floor() as i64,
        nanos: 0,
    });
    let base_fraction = scenario.epoch_posix - scenario.epoch_posix.floor();
    let mut actions = Vec::new();
    let mut engine = Engine::new(
        EngineConfig {
            rules: scenario.rules,
            makestep: scenario.makestep,
            drift: None,
            leaps: scenario.leaps.clone(),
            epoch_posix: scenario.epoch_posix,
            wander: DEFAULT_WANDER,
            controls_clock: true,
            records: RecordSelection::default(),
        },
        &mut actions,
    );
    for source in &scenario.sources {
        engine.add_source(source.spec.clone(), 0xC0A8_7B01, LocalTime::EPOCH);
    }
    let mut network = Network {
        scenario,
        rng,
        base,
        base_fraction,
        in_flight: Vec::new(),
    };
    let mut now = 0.0;
    network.perform(&mut actions, now, &mut clock);

    let (mut sum_sq, mut max_offset, mut freq_sq, mut counted) = (0.0, 0.0f64, 0.0, 0u64);
    let mut last_violation = Some(0.0);
    let mut rejected_replies = 0;
    let mut second = 0.0;
    while second < scenario.duration {
        let tick_end = second + 1.0;
        loop {
            // The engine's next timer, on its clock and in true time.
            let timer = engine
                .next_wakeup()
                .map(|local| (local, clock.true_time_of(local).max(now)));
            let arrival = network
                .in_flight
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.arrives_at.total_cmp(&b.1.arrives_at))
                .map(|(i, p)| (i, p.arrives_at));
            match (arrival, timer) {
                (Some((index, at)), _)
                    if at < tick_end && timer.is_none_or(|(_, wakeup)| at <= wakeup) =>
                {
                    now = at.max(now);
                    let packet = network.in_flight.swap_remove(index);
                    let local = clock.local_time(now);
                    let t4 = timestamp(base, local.seconds_since_epoch() + base_fraction);
                    let answer = engine.on_reply(
                        SourceId(packet.source),
                        local,
                        &packet.reply,
                        ReplyTiming {
                            t1: packet.t1,
                            t4,
                            t4_source: StampSource::Daemon,
                        },
                        &mut actions,
                    );
                    rejected_replies += u64::from(answer.is_err());
                }
                (_, Some((wakeup_local, wakeup))) if wakeup < tick_end => {
                    now = wakeup;
                    // Converting to true time and back may land a hair before the wakeup.
                    let local = clock.local_time(now).max(wakeup_local);
                    engine.on_timer(local, &mut actions);
                }
                _ => break,
            }
            network.perform(&mut actions, now, &mut clock);
        }
        now = tick_end;
        second = tick_end;
        clock.tick(now, &mut network.rng);
        // True time runs on without leap seconds; the clock should show UTC. During an
        // inserted second UTC reads 23:59:60, which a POSIX clock shows on either side of
        // midnight, so either reading is right then.
        let posix = scenario.epoch_posix + now;
        let offset = [posix - 1.0, posix]
            .map(|at| clock.offset_at(now) + f64::from(scenario.utc_leaps.inserted_by(at)))
            .into_iter()
            .min_by(|a, b| a.abs().total_cmp(&b.abs()))
            .expect("two readings");
        if offset.abs() > scenario.sync_limit {
            last_violation = Some(now);
        }
        if now >= scenario.stats_from {
            sum_sq += offset * offset;
            max_offset = max_offset.max(offset.abs());
            freq_sq += clock.frequency().powi(2);
            counted += 1;
        }
        observe(&Second {
            time: now,
            offset,
            engine: &engine,
            local_time: clock.local_time(now),
        });
    }
    let n = counted.max(1) as f64;
    Outcome {
        sync_time: last_violation.filter(|&t| t < scenario.duration),
        rms_offset: (sum_sq / n).sqrt(),
        max_offset,
        rms_frequency: (freq_sq / n).sqrt(),
        steps: clock.steps,
        rejected_replies,
    }
}

/// The servers and the paths to them, and the packets under way.
struct Network<'a> {
    scenario: &'a Scenario,
    rng: Rng,
    /// NTP timestamps are `base` plus seconds since the start (plus `base_fraction`).
    base: NtpTimestamp,
    base_fraction: f64,
    in_flight: Vec<InFlight>,
}

impl Network<'_> {
    /// Carries out the engine's actions at true time `now`: clock commands on `clock`,
    /// requests onto the network.
    fn perform(&mut self, actions: &mut Vec<Action>, now: f64, clock: &mut SimClock) {
        let Network {
            scenario,
            rng,
            base,
            base_fraction,
            in_flight,
        } = self;
        let (scenario, base, base_fraction) = (*scenario, *base, *base_fraction);
        for action in actions.drain(..) {
            match action {
                Action::Clock(command) => clock.apply(now, command),
                Action::Poll { source, poll } => {
                    let server = &scenario.sources[source.0].server;
                    let local = clock.local_time(now).seconds_since_epoch();
                    let t1 = timestamp(base, local + base_fraction);
                    // Every request draws the same random numbers, answered or not, so one
                    // server's losses do not reshuffle another's delays.
                    let lost = rng.uniform() < server.loss;
                    let (outbound, inbound) = (server.delay(true, rng), server.delay(false, rng));
                    if lost || now >= server.gone_at {
                        continue;
                    }
                    let served_at = now + outbound;
                    let server_time = server.time(served_at, scenario.epoch_posix);
                    let leap_bits = match server.inserts_leap_at {
                        Some(at)
                            if (scenario.epoch_posix + server_time) < at
                                && at - (scenario.epoch_posix + server_time) <= 86_400.0 =>
                        {
                            leap::INSERT_SECOND
                        }
                        _ => leap::NONE,
                    };
                    let stamp = timestamp(base, server_time + base_fraction);
                    let reply = Header {
                        leap: leap_bits,
                        version: 4,
                        mode: MODE_SERVER,
                        stratum: server.stratum,
                        poll,
                        precision: -20,
                        root_delay: NtpShort(0),
                        root_dispersion: NtpShort::from_seconds(1e-5),
                        reference_id: u32::from_be_bytes(*b"GPS\0"),
                        reference: stamp,
                        origin: t1,
                        receive: stamp,
                        transmit: stamp,
                    }
                    .to_bytes();
                    in_flight.push(InFlight {
                        arrives_at: served_at + inbound,
                        source: source.0,
                        t1,
                        reply,
                    });
                }
                Action::Replace(_) | Action::SaveDrift(_) | Action::Record(_) => {}
            }
        }
    }
}
