//! The sync engine: sources, polling, filtering, selection and clock steering, fed with
//! samples and timer ticks and answering with actions. No I/O and no real clock: the daemon
//! and the simulator drive the same code.

use super::chrony_log::{
    LogRecord, MeasurementRecord, RecordSelection, StampSource, StatisticsRecord, TrackingRecord,
};
use super::discipline::{Adjustment, ClockCommand, MakeStep, Steering};
use super::driftfile::Drift;
use super::filter::{SourceFilter, Verdict, MAX_FREQUENCY_ERROR};
use super::leap::{self, LeapStatus, LeapTable};
use super::local_time::LocalTime;
use super::measurement::{self, Kiss, Rejection, Sample};
use super::poll::{interval, Activity, PollState};
use super::report::{ExchangeReport, SourceReport, SourceStatsReport, TrackingReport};
use super::selection::{self, Candidate, Mark, SelectionRules};
use crate::ntp::packet::{self, Header, NtpTimestamp};
use tracing::{info, warn};

/// How fast an error bound grows with the age of what it bounds (RFC 5905's PHI, 15 ppm).
const DISPERSION_RATE: f64 = 15e-6;
/// RFC 5905's test 7: a source further than this from its reference is not used.
const MAX_ROOT_DISTANCE: f64 = 16.0;
/// chrony's default `corrtimeratio`: a typical offset is slewed over this many update intervals.
const CORRECTION_TIME_RATIO: f64 = 3.0;
/// A pool member that stays silent is replaced; if the pool had no other address, it is asked
/// again after this many polls.
const REPLACEMENT_RETRY_POLLS: f64 = 8.0;
/// How often the driftfile is rewritten while synchronised.
const DRIFT_SAVE_INTERVAL: f64 = 3600.0;
/// The oscillator noise the filters assume: a random walk of 1e-8 per square-root second,
/// ten times what a quiet crystal shows, so that a warming room is followed.
pub const DEFAULT_WANDER: f64 = 1e-16;

/// A source as configured (`server` or a `pool` member).
#[derive(Clone, Debug, PartialEq)]
pub struct SourceSpec {
    /// What reports show: the configured host name, or a pool member's address.
    pub name: String,
    pub iburst: bool,
    pub min_poll: i8,
    pub max_poll: i8,
    pub prefer: bool,
    pub no_select: bool,
    /// A pool member: the daemon replaces it with another address when it stops answering.
    pub from_pool: bool,
}

/// Settings from chrony.conf.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub rules: SelectionRules,
    pub makestep: Option<MakeStep>,
    /// The driftfile's content at start, if there was one.
    pub drift: Option<Drift>,
    pub leaps: LeapTable,
    /// POSIX time at [`LocalTime::EPOCH`], where the engine's times are counted from.
    pub epoch_posix: f64,
    pub wander: f64,
    pub controls_clock: bool,
    /// The records for chrony's log files.
    pub records: RecordSelection,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceId(pub usize);

/// What the engine asks its driver to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Send a client request to the source now, announcing this poll.
    Poll { source: SourceId, poll: i8 },
    /// Change the clock (the kernel's, a software clock's or a simulated one).
    Clock(ClockCommand),
    /// A pool member stopped answering: resolve the pool again and give it a new address.
    Replace(SourceId),
    /// Write the driftfile.
    SaveDrift(Drift),
    /// Append a line to one of chrony's log files.
    Record(LogRecord),
}

/// When a reply's request left and the reply arrived, on the local clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReplyTiming {
    pub t1: NtpTimestamp,
    pub t4: NtpTimestamp,
    /// Whether the kernel stamped the arrival or the daemon read the clock after it.
    pub t4_source: StampSource,
}

/// A reply as measurements.log describes it.
struct Exchange<'a> {
    header: &'a Header,
    timing: ReplyTiming,
    /// Our poll when the request went out.
    local_poll: i8,
    /// chrony's tests 1-3, 5-7 and A-D, as far as ringd makes them.
    tests: [bool; 10],
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct LastSample {
    time: LocalTime,
    sample: Sample,
    /// `sample.offset` corrected for every clock adjustment since.
    adjusted_offset: f64,
}

#[derive(Clone, Debug)]
struct Source {
    spec: SourceSpec,
    poll: PollState,
    filter: SourceFilter,
    last: Option<LastSample>,
    mark: Mark,
    /// When a new address was last asked for, so that a pool with no other address is asked
    /// again later rather than every poll.
    replacement_asked_at: Option<LocalTime>,
    reference_id: u32,
    /// The reference ID of our own address on the way to the source, for the orphan rule.
    local_reference_id: Option<u32>,
    /// A reload removed its line: it is never polled, selected or reported again, and its
    /// id stays taken so that the others keep theirs.
    removed: bool,
    /// The last reply as received and the counts `ntpdata` shows.
    exchanges: ExchangeReport,
}

/// What the clock follows, once synchronised.
#[derive(Clone, Debug, PartialEq)]
struct SyncState {
    source: SourceId,
    stratum: u8,
    reference_id: u32,
    root_delay: f64,
    root_dispersion: f64,
    /// When the clock was last updated.
    updated_at: LocalTime,
    last_offset: f64,
    mean_square_offset: f64,
    update_interval: f64,
}

/// The state ringd serves to its own clients, as the engine sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServedState {
    pub leap: u8,
    pub stratum: u8,
    pub reference_id: u32,
    /// POSIX seconds of the last update.
    pub reference_time: f64,
    pub root_delay: f64,
    pub root_dispersion: f64,
}

impl ServedState {
    /// The most the served time can be wrong by: half the round trip to the reference plus
    /// the dispersion accumulated on the way.
    pub fn root_distance(&self) -> f64 {
        self.root_delay / 2.0 + self.root_dispersion
    }
}

pub struct Engine {
    config: EngineConfig,
    sources: Vec<Source>,
    steering: Steering,
    sync: Option<SyncState>,
    /// When the driftfile was last saved, or first synchronised: the hourly saves count from
    /// there. `None` before the first synchronisation.
    last_drift_save: Option<LocalTime>,
    /// The source selection last chose, to log each change once as chronyd does.
    selected: Option<SourceId>,
    /// What the sources inside the majority's interval announce, by chronyd's vote.
    voted_leap: LeapStatus,
    /// The leap-seconds list's expiry has been reported (once: it stays expired).
    leap_list_expiry_reported: bool,
}

/// The reference ID for a source address: the IPv4 address itself, or for IPv6 the first four
/// bytes of the MD5 digest of the address, as RFC 5905 specifies.
pub fn reference_id(address: std::net::IpAddr) -> u32 {
    match address {
        std::net::IpAddr::V4(v4) => u32::from(v4),
        std::net::IpAddr::V6(v6) => {
            let digest = <md5::Md5 as md5::Digest>::digest(v6.octets());
            u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
        }
    }
}

/// The longest poll (log2 s) over which the oscillator's wander moves the offset by less than
/// a sample's noise: polling less often would let the clock drift unseen between samples,
/// polling more often buys little. Precise sources are polled often, noisy ones rarely.
fn longest_useful_poll(wander: f64, sample_noise: f64) -> i8 {
    let mut poll: i8 = -6;
    while poll < 17 {
        let next = interval(poll + 1);
        if (wander * next.powi(3) / 3.0).sqrt() > sample_noise {
            break;
        }
        poll += 1;
    }
    poll
}

/// chrony's tests of a server-mode reply (1-3, 5-7, A-D) as far as ringd makes them; the
/// ones it does not make pass.
fn chrony_tests(
    header: &Header,
    rejection: Option<Rejection>,
    verdict: Option<Verdict>,
) -> [bool; 10] {
    let root_distance = header.root_delay.to_seconds() / 2.0 + header.root_dispersion.to_seconds();
    [
        true,
        rejection != Some(Rejection::Bogus),
        rejection != Some(Rejection::BadTimestamps),
        rejection != Some(Rejection::NotAuthentic),
        !matches!(
            rejection,
            Some(Rejection::Unsynchronised | Rejection::KissOfDeath(_))
        ),
        root_distance < MAX_ROOT_DISTANCE,
        verdict != Some(Verdict::Outlier),
        true,
        true,
        true,
    ]
}

/// RFC 5905's epsilon without our own precision: the server's precision and what the clocks
/// may have drifted apart during the exchange.
fn peer_dispersion(header: &Header, timing: ReplyTiming) -> f64 {
    let round_trip = measurement::seconds_between(timing.t4, timing.t1);
    2f64.powi(header.precision.into()) + DISPERSION_RATE * round_trip.abs()
}

impl Engine {
    pub fn new(config: EngineConfig, out: &mut Vec<Action>) -> Self {
        let initial_frequency = config.drift.map_or(0.0, |d| d.frequency_ppm * 1e-6);
        let steering = Steering::new(initial_frequency, config.makestep);
        let mut commands = Vec::new();
        steering.start(&mut commands);
        out.extend(commands.into_iter().map(Action::Clock));
        Engine {
            config,
            sources: Vec::new(),
            steering,
            sync: None,
            last_drift_save: None,
            selected: None,
            voted_leap: LeapStatus::None,
            leap_list_expiry_reported: false,
        }
    }

    /// Follows a reload of `local ... orphan`.
    pub fn set_orphan_stratum(&mut self, stratum: Option<u8>) {
        self.config.rules.orphan_stratum = stratum;
    }

    /// Our address on the way to a source, as its reference ID (see [`reference_id`]): with
    /// `local ... orphan`, a same-stratum orphan is followed only if its ID is below this.
    pub fn set_local_reference_id(&mut self, id: SourceId, local_reference_id: u32) {
        self.sources[id.0].local_reference_id = Some(local_reference_id);
    }

    /// POSIX time at `time`, as the local clock tells it.
    fn posix(&self, time: LocalTime) -> f64 {
        self.config.epoch_posix + time.seconds_since_epoch()
    }

    fn initial_frequency_sigma(&self) -> f64 {
        // A driftfile's skew is optimistic after a restart (the room may have warmed), so the
        // prior is widened, and never narrower than 1 ppm.
        self.config
            .drift
            .map_or(MAX_FREQUENCY_ERROR, |d| (d.skew_ppm * 10.0).max(1.0) * 1e-6)
    }

    /// Adds a source; `reference_id` comes from its address (see [`reference_id`]).
    pub fn add_source(&mut self, spec: SourceSpec, reference_id: u32, now: LocalTime) -> SourceId {
        let poll = PollState::new(spec.min_poll, spec.max_poll, spec.iburst, now);
        let filter = SourceFilter::new(self.config.wander, self.initial_frequency_sigma());
        self.sources.push(Source {
            spec,
            poll,
            filter,
            last: None,
            mark: Mark::Unusable,
            replacement_asked_at: None,
            reference_id,
            local_reference_id: None,
            removed: false,
            exchanges: ExchangeReport::default(),
        });
        SourceId(self.sources.len() - 1)
    }

    /// Stops using a source whose line a reload removed; the clock is selected again at once
    /// from the others.
    pub fn remove_source(&mut self, id: SourceId, now: LocalTime, out: &mut Vec<Action>) {
        self.sources[id.0].removed = true;
        self.reselect(now, None, out);
    }

    /// A pool member got a new address: it starts over as a new source would.
    pub fn replace_source(
        &mut self,
        id: SourceId,
        name: String,
        reference_id: u32,
        now: LocalTime,
    ) {
        let sigma = self.initial_frequency_sigma();
        let wander = self.config.wander;
        let source = &mut self.sources[id.0];
        source.spec.name = name;
        source.poll = PollState::new(
            source.spec.min_poll,
            source.spec.max_poll,
            source.spec.iburst,
            now,
        );
        source.filter = SourceFilter::new(wander, sigma);
        source.last = None;
        source.mark = Mark::Unusable;
        source.replacement_asked_at = None;
        source.reference_id = reference_id;
        source.local_reference_id = None;
        source.exchanges = ExchangeReport::default();
    }

    /// When `on_timer` next has something to do; `None` when nothing is scheduled (every
    /// source stopped by a kiss-o'-death and no slew in progress).
    pub fn next_wakeup(&self) -> Option<LocalTime> {
        let polls = self
            .sources
            .iter()
            .filter(|s| s.poll.activity == Activity::Polling && !s.removed)
            .map(|s| s.poll.next_poll);
        let slew = self.steering.next_event();
        polls.chain(slew).reduce(LocalTime::min)
    }

    fn apply(
        &mut self,
        now: LocalTime,
        adjustment: Adjustment,
        commands: Vec<ClockCommand>,
        out: &mut Vec<Action>,
    ) {
        if adjustment != Adjustment::default() {
            for source in &mut self.sources {
                source
                    .filter
                    .clock_adjusted(now, adjustment.frequency_change, adjustment.step);
                if let Some(last) = &mut source.last {
                    // The sample said source minus local; the clock moved the other way.
                    last.adjusted_offset -=
                        adjustment.step - adjustment.frequency_change * (now - last.time);
                }
            }
        }
        out.extend(commands.into_iter().map(Action::Clock));
    }

    pub fn on_timer(&mut self, now: LocalTime, out: &mut Vec<Action>) {
        let mut commands = Vec::new();
        let adjustment = self.steering.on_timer(now, &mut commands);
        self.apply(now, adjustment, commands, out);
        let mut reach_changed = false;
        let followed = self.sync.as_ref().map(|sync| sync.source.0);
        for (index, source) in self.sources.iter_mut().enumerate() {
            if source.removed {
                continue;
            }
            if source.poll.due(now) {
                source.poll.sent(now, followed == Some(index));
                source.exchanges.total_tx += 1;
                reach_changed = true;
                out.push(Action::Poll {
                    source: SourceId(index),
                    poll: source.poll.poll,
                });
            }
            let ask_again = source
                .replacement_asked_at
                .is_none_or(|at| now - at >= REPLACEMENT_RETRY_POLLS * interval(source.poll.poll));
            if source.spec.from_pool && source.poll.unreachable() && ask_again {
                source.replacement_asked_at = Some(now);
                out.push(Action::Replace(SourceId(index)));
            }
        }
        if reach_changed {
            // A source that stopped answering must lose its mark without waiting for a sample.
            self.reselect(now, None, out);
        }
        self.update_leap(now, out);
        let save_due = self
            .last_drift_save
            .is_some_and(|saved| now - saved >= DRIFT_SAVE_INTERVAL);
        if save_due {
            self.last_drift_save = Some(now);
            out.push(Action::SaveDrift(self.drift()));
        }
    }

    /// A reply from `id`, received at `now` on the local clock. Returns why it gave no
    /// sample, if it did not.
    pub fn on_reply(
        &mut self,
        id: SourceId,
        now: LocalTime,
        reply: &[u8],
        timing: ReplyTiming,
        out: &mut Vec<Action>,
    ) -> Result<(), Rejection> {
        let evaluated = measurement::evaluate(reply, timing.t1, timing.t4);
        self.take_reply(id, now, reply, timing, evaluated, out)
    }

    /// A reply from `id` that failed authentication: counted and shown by `ntpdata` as
    /// chronyd shows it (test 5 failed), never a sample, and never acted on, not even when it
    /// says kiss-o'-death.
    pub fn on_unauthentic_reply(
        &mut self,
        id: SourceId,
        now: LocalTime,
        reply: &[u8],
        timing: ReplyTiming,
        out: &mut Vec<Action>,
    ) -> Result<(), Rejection> {
        self.take_reply(id, now, reply, timing, Err(Rejection::NotAuthentic), out)
    }

    fn take_reply(
        &mut self,
        id: SourceId,
        now: LocalTime,
        reply: &[u8],
        timing: ReplyTiming,
        evaluated: Result<Sample, Rejection>,
        out: &mut Vec<Action>,
    ) -> Result<(), Rejection> {
        let local_poll = self.sources[id.0].poll.poll;
        let verdict = match evaluated {
            Ok(sample) => Some(self.on_sample(id, now, sample, out)),
            Err(rejection) => {
                let server_poll = Header::parse(reply).map_or(0, |h| h.poll);
                self.on_rejection(id, now, rejection, server_poll);
                None
            }
        };
        self.sources[id.0].exchanges.total_rx += 1;
        let Some(header) = Header::parse(reply) else {
            return evaluated.map(|_| ());
        };
        if matches!(evaluated, Err(Rejection::NotServerMode(_))) {
            return evaluated.map(|_| ());
        }
        let exchange = Exchange {
            header: &header,
            timing,
            local_poll,
            tests: chrony_tests(&header, evaluated.err(), verdict),
        };
        self.note_exchange(id, now, &exchange, verdict);
        if self.config.records.measurements {
            self.record_measurement(id, now, &exchange, verdict, out);
        }
        evaluated.map(|_| ())
    }

    /// Keeps what `ntpdata` shows of the reply: its header, what was measured and the counts.
    fn note_exchange(
        &mut self,
        id: SourceId,
        now: LocalTime,
        exchange: &Exchange,
        verdict: Option<Verdict>,
    ) {
        let header = exchange.header;
        let timing = exchange.timing;
        let (offset, peer_delay) = measurement::offset_and_delay(header, timing.t1, timing.t4);
        let reference_time = if header.reference.0 == 0 {
            0.0
        } else {
            self.posix(now) + measurement::seconds_between(header.reference, timing.t4)
        };
        let counts = &mut self.sources[id.0].exchanges;
        let valid = exchange.tests[..4].iter().all(|&passed| passed);
        let good = verdict.is_some() && exchange.tests.iter().all(|&passed| passed);
        *counts = ExchangeReport {
            leap: header.leap,
            version: header.version,
            mode: header.mode,
            stratum: header.stratum,
            poll: header.poll,
            precision: header.precision,
            root_delay: header.root_delay.to_seconds(),
            root_dispersion: header.root_dispersion.to_seconds(),
            reference_id: header.reference_id,
            reference_time,
            offset,
            peer_delay,
            peer_dispersion: peer_dispersion(header, timing),
            response_time: measurement::seconds_between(header.transmit, header.receive),
            tests: exchange.tests,
            tx_timestamping: StampSource::Daemon,
            rx_timestamping: timing.t4_source,
            total_valid_rx: counts.total_valid_rx + u64::from(valid),
            total_good_rx: counts.total_good_rx + u64::from(good),
            ..*counts
        };
    }

    /// measurements.log's line for a reply.
    fn record_measurement(
        &self,
        id: SourceId,
        now: LocalTime,
        exchange: &Exchange,
        verdict: Option<Verdict>,
        out: &mut Vec<Action>,
    ) {
        let header = exchange.header;
        let timing = exchange.timing;
        if self.config.records.valid_measurements_only
            && (verdict.is_none() || exchange.tests.contains(&false))
        {
            return;
        }
        let (offset, peer_delay) = measurement::offset_and_delay(header, timing.t1, timing.t4);
        out.push(Action::Record(LogRecord::Measurement(MeasurementRecord {
            source: id,
            time: self.posix(now),
            leap: header.leap,
            stratum: header.stratum,
            tests: exchange.tests,
            local_poll: exchange.local_poll,
            remote_poll: header.poll,
            score: self.sources[id.0].poll.score(),
            offset,
            peer_delay,
            peer_dispersion: peer_dispersion(header, timing),
            root_delay: header.root_delay.to_seconds(),
            root_dispersion: header.root_dispersion.to_seconds(),
            reference_id: header.reference_id,
            mode: header.mode,
            transmit_stamp: StampSource::Daemon,
            receive_stamp: timing.t4_source,
        })));
    }

    /// A usable sample from `id`, taken at `now`; says what the filter made of it.
    pub fn on_sample(
        &mut self,
        id: SourceId,
        now: LocalTime,
        sample: Sample,
        out: &mut Vec<Action>,
    ) -> Verdict {
        let time = self.posix(now);
        let records = self.config.records;
        let source = &mut self.sources[id.0];
        let before = source.filter.estimate_at(now);
        let verdict = source.filter.add_sample(now, sample.offset, sample.delay);
        if records.statistics && verdict != Verdict::Outlier {
            let stats = source.filter.stats(now);
            let after = source.filter.estimate_at(now);
            out.push(Action::Record(LogRecord::Statistics(StatisticsRecord {
                source: id,
                time,
                std_dev: stats.std_dev,
                offset: after.offset,
                offset_sd: after.offset_variance.sqrt(),
                frequency: after.frequency,
                skew: after.frequency_variance.sqrt(),
                stress: (before.frequency - after.frequency).abs()
                    / before.frequency_variance.sqrt().max(f64::MIN_POSITIVE),
                samples: stats.samples,
                runs: stats.runs,
            })));
        }
        let surprise = match verdict {
            Verdict::Accepted => source.filter.last_normalised_innovation,
            Verdict::Outlier | Verdict::Reset => f64::INFINITY,
        };
        let longest_useful = longest_useful_poll(self.config.wander, source.filter.sample_noise());
        source.poll.answered(surprise, longest_useful);
        if source.poll.in_burst() {
            // The burst may end once the frequency is known well enough that the clock will not
            // wander further than a sample's noise before the next regular poll.
            let estimate = source.filter.estimate_at(now);
            let drift = estimate.frequency_variance.sqrt() * interval(source.poll.poll);
            if source.filter.sample_count() >= 2 && drift <= source.filter.sample_noise() {
                source.poll.end_burst_if_done(now);
            }
        }
        if verdict == Verdict::Outlier {
            return verdict;
        }
        source.last = Some(LastSample {
            time: now,
            sample,
            adjusted_offset: sample.offset,
        });
        self.reselect(now, Some(id), out);
        verdict
    }

    /// A reply that gave no sample.
    pub fn on_rejection(
        &mut self,
        id: SourceId,
        now: LocalTime,
        rejection: Rejection,
        server_poll: i8,
    ) {
        let poll = &mut self.sources[id.0].poll;
        match rejection {
            Rejection::KissOfDeath(kiss) => poll.kissed(kiss, server_poll, now),
            Rejection::Unsynchronised => poll.heard(),
            Rejection::Short
            | Rejection::NotServerMode(_)
            | Rejection::Bogus
            | Rejection::BadTimestamps
            | Rejection::NotAuthentic => {}
        }
    }

    fn distance(&self, source: &Source, now: LocalTime) -> f64 {
        let Some(last) = source.last else {
            return f64::INFINITY;
        };
        let estimate = source.filter.estimate_at(now);
        (last.sample.root_delay + source.filter.min_delay()) / 2.0
            + last.sample.root_dispersion
            + estimate.offset_variance.sqrt()
            + source.filter.jitter()
            + DISPERSION_RATE * (now - last.time)
    }

    fn candidate(&self, source: &Source, now: LocalTime) -> Candidate {
        let estimate = source.filter.estimate_at(now);
        Candidate {
            correction: -estimate.offset,
            distance: self.distance(source, now),
            jitter: source.filter.jitter(),
            stratum: source.last.map_or(u8::MAX, |l| l.sample.stratum),
            usable: !source.spec.no_select
                && !source.removed
                && source.filter.sample_count() >= 2
                && source.poll.reach != 0
                && source.poll.activity == Activity::Polling,
            prefer: source.spec.prefer,
            reference_id: source.reference_id,
            local_reference_id: source.local_reference_id,
        }
    }

    /// Selects again and, when `updated` is one of the sources now followed, corrects the clock.
    fn reselect(&mut self, now: LocalTime, updated: Option<SourceId>, out: &mut Vec<Action>) {
        let candidates: Vec<Candidate> = self
            .sources
            .iter()
            .map(|s| self.candidate(s, now))
            .collect();
        if self.waits_for_young_sources(&candidates) {
            return;
        }
        let selection = selection::select(&candidates, &self.config.rules);
        for (source, mark) in self.sources.iter_mut().zip(&selection.marks) {
            source.mark = *mark;
        }
        self.voted_leap = leap::majority(selection.voters().map(|i| {
            let last = self.sources[i].last;
            leap::announced(last.map_or(packet::leap::NONE, |l| l.sample.leap))
        }));
        self.log_selection_change(&selection.selected);
        let Ok(best) = selection.selected else {
            return;
        };
        let followed =
            |id: SourceId| matches!(selection.marks[id.0], Mark::Selected | Mark::Combined);
        if !updated.is_some_and(followed) {
            return;
        }
        let (mut offset_sum, mut offset_weights) = (0.0, 0.0);
        let (mut frequency_sum, mut frequency_weights) = (0.0, 0.0);
        for (index, source) in self.sources.iter().enumerate() {
            if !followed(SourceId(index)) {
                continue;
            }
            let estimate = source.filter.estimate_at(now);
            let weight = 1.0 / estimate.offset_variance.max(1e-18);
            offset_sum += weight * estimate.offset;
            offset_weights += weight;
            let weight = 1.0 / estimate.frequency_variance.max(1e-24);
            frequency_sum += weight * estimate.frequency;
            frequency_weights += weight;
        }
        let offset = offset_sum / offset_weights;
        let frequency = frequency_sum / frequency_weights;
        let remaining_correction = self.steering.remaining_correction(now);
        let distance_before = self.served(now).map(|s| s.root_distance());
        let selected = &self.sources[best];
        // As chrony's corrtimeratio: an offset within the noise is slewed over a few polls,
        // smoothing the noise away; one well above it is removed quickly.
        let noise =
            selected.filter.estimate_at(now).offset_variance.sqrt() + selected.filter.jitter();
        let slew_time = CORRECTION_TIME_RATIO
            * interval(selected.poll.poll)
            * (noise / offset.abs().max(1e-12)).min(1.0);
        let mut commands = Vec::new();
        let adjustment = self
            .steering
            .correct(now, offset, frequency, slew_time, &mut commands);
        self.apply(now, adjustment, commands, out);

        let selected = &self.sources[best];
        let last = selected.last.expect("a selected source has samples");
        let estimate_error = selected.filter.estimate_at(now).offset_variance.sqrt();
        let previous = self.sync.take();
        let mean_square_offset = previous.as_ref().map_or(offset * offset, |p| {
            0.9 * p.mean_square_offset + 0.1 * offset * offset
        });
        let update_interval = previous.as_ref().map_or(0.0, |p| now - p.updated_at);
        self.sync = Some(SyncState {
            source: SourceId(best),
            stratum: last.sample.stratum.saturating_add(1),
            reference_id: selected.reference_id,
            root_delay: last.sample.root_delay + last.sample.delay,
            root_dispersion: last.sample.root_dispersion
                + estimate_error
                + selected.filter.jitter(),
            updated_at: now,
            last_offset: offset,
            mean_square_offset,
            update_interval,
        });
        if self.last_drift_save.is_none() {
            self.last_drift_save = Some(now);
        }
        self.update_leap(now, out);
        if self.config.records.tracking {
            let served = self.served(now).expect("synchronised just now");
            let combined_sources = selection
                .marks
                .iter()
                .filter(|mark| matches!(mark, Mark::Selected | Mark::Combined))
                .count();
            out.push(Action::Record(LogRecord::Tracking(TrackingRecord {
                source: SourceId(best),
                time: self.posix(now),
                stratum: served.stratum,
                frequency_ppm: self.steering.base_frequency() * 1e6,
                skew_ppm: self.drift().skew_ppm,
                offset,
                leap: served.leap,
                combined_sources,
                offset_sd: offset_weights.recip().sqrt(),
                remaining_correction,
                root_delay: served.root_delay,
                root_dispersion: served.root_dispersion,
                max_error: distance_before.unwrap_or(served.root_distance()) + offset.abs(),
            })));
        }
    }

    /// chronyd's start-up rule: before the first selection, a source that answered the same
    /// polls as the best selectable one but for the latest (its answer still on the way, so
    /// one sample short) is waited for, so that the first source to have two samples is not
    /// selected only for being quickest, perhaps a falseticker the others would outvote.
    fn waits_for_young_sources(&self, candidates: &[Candidate]) -> bool {
        if self.selected.is_some() {
            return false;
        }
        let selectable = || {
            self.sources
                .iter()
                .zip(candidates)
                .filter(|(_, candidate)| candidate.usable)
        };
        let Some(selectable_reach) = selectable().map(|(s, _)| s.poll.reach).max() else {
            return false;
        };
        let first_eight_polls = selectable().all(|(s, _)| s.poll.polls_sent < 8);
        let young_reach = self
            .sources
            .iter()
            .filter(|s| {
                !s.removed
                    && !s.spec.no_select
                    && s.poll.activity == Activity::Polling
                    && s.poll.reach != 0
                    && s.filter.sample_count() < 2
            })
            .map(|s| s.poll.reach)
            .max();
        first_eight_polls && young_reach.is_some_and(|young| young >> 1 == selectable_reach >> 1)
    }

    /// One info line per change of the selected source, in chronyd's words.
    fn log_selection_change(&mut self, selected: &Result<usize, selection::NoSelection>) {
        let now_selected = selected.ok().map(SourceId);
        if now_selected == self.selected {
            return;
        }
        match selected {
            Ok(index) => info!("Selected source {}", self.sources[*index].spec.name),
            Err(why) => info!("{}", why.message()),
        }
        self.selected = now_selected;
    }

    /// The leap second to announce at `now`, as chronyd decides it: the sources' vote, else
    /// the table (`leapsectz`, `leapseclist`), and only on the last day of June or December.
    pub fn leap_status(&self, now: LocalTime) -> LeapStatus {
        let posix = self.posix(now);
        let status = match self.voted_leap {
            LeapStatus::None => self.config.leaps.status_at(posix),
            voted => voted,
        };
        if leap::is_leap_second_day(posix) {
            status
        } else {
            LeapStatus::None
        }
    }

    fn update_leap(&mut self, now: LocalTime, out: &mut Vec<Action>) {
        if !self.leap_list_expiry_reported {
            if let Some(warning) = self.config.leaps.expiry_warning(self.posix(now)) {
                self.leap_list_expiry_reported = true;
                warn!("{warning}, later leap seconds are known only from the sources");
            }
        }
        let status = if self.sync.is_some() {
            self.leap_status(now)
        } else {
            LeapStatus::None
        };
        let mut commands = Vec::new();
        self.steering.set_leap(status, &mut commands);
        out.extend(commands.into_iter().map(Action::Clock));
    }

    /// The driftfile's content now.
    pub fn drift(&self) -> Drift {
        let skew = self
            .sync
            .as_ref()
            .map(|sync| {
                self.sources[sync.source.0]
                    .filter
                    .estimate_at(sync.updated_at)
                    .frequency_variance
                    .sqrt()
            })
            .unwrap_or(MAX_FREQUENCY_ERROR);
        Drift {
            frequency_ppm: self.steering.base_frequency() * 1e6,
            skew_ppm: skew * 1e6,
        }
    }

    /// The leap seconds of `leapsectz` or `leapseclist`.
    pub fn leaps(&self) -> &LeapTable {
        &self.config.leaps
    }

    pub fn is_synchronised(&self) -> bool {
        self.sync.is_some()
    }

    /// What ringd's own clients are told at `now`; `None` while unsynchronised.
    pub fn served(&self, now: LocalTime) -> Option<ServedState> {
        let sync = self.sync.as_ref()?;
        Some(ServedState {
            leap: self.leap_status(now).indicator(),
            stratum: sync.stratum,
            reference_id: sync.reference_id,
            reference_time: self.posix(sync.updated_at),
            root_delay: sync.root_delay,
            root_dispersion: sync.root_dispersion + DISPERSION_RATE * (now - sync.updated_at),
        })
    }

    /// The combined estimate of how far the clock is ahead of true time at `now`.
    fn current_offset(&self, now: LocalTime) -> Option<f64> {
        let sync = self.sync.as_ref()?;
        Some(self.sources[sync.source.0].filter.estimate_at(now).offset)
    }

    /// `ringctl makestep`: steps the clock by the whole current offset.
    pub fn make_step(&mut self, now: LocalTime, out: &mut Vec<Action>) -> Option<f64> {
        let offset = self.current_offset(now)?;
        let mut commands = Vec::new();
        let adjustment = self.steering.step_now(offset, &mut commands);
        self.apply(now, adjustment, commands, out);
        Some(-offset)
    }

    pub fn tracking(&self, now: LocalTime) -> TrackingReport {
        let today = self.leap_status(now);
        let leap_status = match (&self.sync, today) {
            (None, _) => "Not synchronised",
            (Some(_), LeapStatus::None) => "Normal",
            (Some(_), LeapStatus::Insert) => "Insert second",
            (Some(_), LeapStatus::Delete) => "Delete second",
        };
        let mut report = TrackingReport {
            frequency_ppm: self.steering.base_frequency() * 1e6,
            leap_status: leap_status.to_string(),
            controls_clock: self.config.controls_clock,
            ..TrackingReport::default()
        };
        if let (Some(sync), Some(served)) = (&self.sync, self.served(now)) {
            let selected = &self.sources[sync.source.0];
            let estimate = selected.filter.estimate_at(now);
            report.reference_id = sync.reference_id;
            report.reference_name = selected.spec.name.clone();
            report.stratum = sync.stratum;
            report.reference_time = served.reference_time;
            report.system_time_offset = estimate.offset;
            report.last_offset = sync.last_offset;
            report.rms_offset = sync.mean_square_offset.sqrt();
            report.residual_frequency_ppm = estimate.frequency * 1e6;
            report.skew_ppm = estimate.frequency_variance.sqrt() * 1e6;
            report.root_delay = served.root_delay;
            report.root_dispersion = served.root_dispersion;
            report.update_interval = sync.update_interval;
        }
        report
    }

    pub fn sources(&self, now: LocalTime) -> Vec<SourceReport> {
        self.sources
            .iter()
            .filter(|source| !source.removed)
            .map(|source| SourceReport {
                state: source.mark.symbol(),
                name: source.spec.name.clone(),
                stratum: source.last.map_or(0, |l| l.sample.stratum),
                poll: source.poll.poll,
                reach: source.poll.reach,
                last_rx: source.last.map(|l| now - l.time),
                adjusted_offset: source.last.map_or(0.0, |l| l.adjusted_offset),
                measured_offset: source.last.map_or(0.0, |l| l.sample.offset),
                error: source
                    .last
                    .map_or(0.0, |l| l.sample.delay / 2.0 + l.sample.root_dispersion),
                stopped_by: match source.poll.activity {
                    Activity::Polling => None,
                    Activity::Stopped(kiss) => Some(kiss.code()),
                },
            })
            .collect()
    }

    pub fn source_stats(&self, now: LocalTime) -> Vec<SourceStatsReport> {
        self.sources
            .iter()
            .filter(|source| !source.removed)
            .map(|source| {
                let stats = source.filter.stats(now);
                SourceStatsReport {
                    name: source.spec.name.clone(),
                    samples: stats.samples,
                    runs: stats.runs,
                    span: stats.span,
                    frequency_ppm: stats.frequency * 1e6,
                    frequency_skew_ppm: stats.frequency_skew * 1e6,
                    offset: -stats.offset,
                    std_dev: stats.std_dev,
                }
            })
            .collect()
    }

    /// The mark selection last gave each source, in the order they were added.
    pub fn marks(&self) -> Vec<Mark> {
        self.sources.iter().map(|s| s.mark).collect()
    }

    /// Each source's last reply and counts, in the order they were added.
    pub fn exchanges(&self) -> Vec<(SourceId, ExchangeReport)> {
        self.sources
            .iter()
            .enumerate()
            .filter(|(_, source)| !source.removed)
            .map(|(index, source)| (SourceId(index), source.exchanges))
            .collect()
    }

    /// The driver sent nothing for `id`'s last poll (its NTS keys not there yet, its key
    /// missing, the send failed): `ntpdata`'s Total TX counts requests sent, as chronyd's.
    pub fn request_not_sent(&mut self, id: SourceId) {
        let counts = &mut self.sources[id.0].exchanges;
        counts.total_tx = counts.total_tx.saturating_sub(1);
    }

    /// Each source in use and its name, in the order of the other reports.
    pub fn source_names(&self) -> Vec<(SourceId, String)> {
        self.sources
            .iter()
            .enumerate()
            .filter(|(_, source)| !source.removed)
            .map(|(index, source)| (SourceId(index), source.spec.name.clone()))
            .collect()
    }

    /// Whether the last kiss-o'-death stopped a source.
    pub fn stopped_by(&self, id: SourceId) -> Option<Kiss> {
        match self.sources[id.0].poll.activity {
            Activity::Polling => None,
            Activity::Stopped(kiss) => Some(kiss),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply's timing as the daemon reads it without kernel timestamps.
    fn timing(t1: NtpTimestamp, t4: NtpTimestamp) -> ReplyTiming {
        ReplyTiming {
            t1,
            t4,
            t4_source: StampSource::Daemon,
        }
    }
    use crate::ntp::packet::{Header, NtpShort, MODE_SERVER};

    fn engine() -> Engine {
        recording_engine(RecordSelection::default())
    }

    fn recording_engine(records: RecordSelection) -> Engine {
        Engine::new(
            EngineConfig {
                rules: SelectionRules::default(),
                makestep: None,
                drift: None,
                leaps: LeapTable::default(),
                epoch_posix: 1_700_000_000.0,
                wander: DEFAULT_WANDER,
                controls_clock: false,
                records,
            },
            &mut Vec::new(),
        )
    }

    fn records(actions: &[Action]) -> Vec<&LogRecord> {
        actions
            .iter()
            .filter_map(|action| match action {
                Action::Record(record) => Some(record),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn chrony_log_records_follow_samples_and_clock_updates() {
        let every = RecordSelection {
            measurements: true,
            valid_measurements_only: false,
            statistics: true,
            tracking: true,
        };
        let mut engine = recording_engine(every);
        let id = engine.add_source(spec(false), 0xC000_0201, LocalTime::EPOCH);
        let mut now = LocalTime::EPOCH;
        let mut kinds = Vec::new();
        for _ in 0..3 {
            let mut out = Vec::new();
            engine.on_timer(now, &mut out);
            let seconds = now.seconds_since_epoch();
            let t1 = stamp(seconds);
            // On time, 0.2 ms round trip: the test does not move the clock as it is told to.
            let answer = reply(t1, seconds + 0.0001, 2, 0x0A00_0001);
            let mut out = Vec::new();
            engine
                .on_reply(
                    id,
                    now + 0.0002,
                    &answer,
                    timing(t1, stamp(seconds + 0.0002)),
                    &mut out,
                )
                .unwrap();
            for record in records(&out) {
                kinds.push(record.kind());
                assert_eq!(record.source(), id);
                match record {
                    LogRecord::Measurement(m) => {
                        assert_eq!(m.tests, [true; 10]);
                        assert!(m.offset.abs() < 1e-6, "{m:?}");
                        assert!((m.peer_delay - 0.0002).abs() < 1e-6, "{m:?}");
                        assert_eq!((m.stratum, m.reference_id, m.mode), (2, 0x0A00_0001, 4));
                        assert!(m.time >= 1_700_000_000.0);
                    }
                    LogRecord::Statistics(s) => assert!(s.samples >= 1, "{s:?}"),
                    LogRecord::Tracking(t) => {
                        assert_eq!(t.stratum, 3);
                        assert_eq!(t.combined_sources, 1);
                        assert!(t.max_error > 0.0, "{t:?}");
                    }
                }
            }
            now = engine.next_wakeup().unwrap();
        }
        use super::super::chrony_log::LogKind::*;
        assert_eq!(
            kinds,
            [
                Statistics,
                Measurements,
                Statistics,
                Tracking,
                Measurements,
                Statistics,
                Tracking,
                Measurements
            ],
            "as chronyd: a sample's regression and clock update come before its measurement \
             line; tracking begins once two samples select the source"
        );

        // An unsynchronised answer fails test 6: written raw, left out of `measurements`.
        let mut unsynchronised = Header::parse(&reply(stamp(0.0), 0.0, 2, 1)).unwrap();
        unsynchronised.leap = packet::leap::UNSYNCHRONISED;
        for (valid_only, written) in [(false, 1), (true, 0)] {
            let mut engine = recording_engine(RecordSelection {
                valid_measurements_only: valid_only,
                ..every
            });
            let id = engine.add_source(spec(false), 1, LocalTime::EPOCH);
            let mut out = Vec::new();
            let _ = engine.on_reply(
                id,
                at(0.001),
                &unsynchronised.to_bytes(),
                timing(stamp(0.0), stamp(0.001)),
                &mut out,
            );
            let lines = records(&out);
            assert_eq!(lines.len(), written);
            if let Some(LogRecord::Measurement(m)) = lines.first() {
                assert!(!m.tests[4] && m.tests[0] && m.tests[1], "{m:?}");
                assert_eq!(m.leap, packet::leap::UNSYNCHRONISED);
            }
        }
    }

    #[test]
    fn ntpdata_keeps_the_last_reply_and_counts_requests_and_replies() {
        let mut engine = engine();
        let id = engine.add_source(spec(false), 0xC000_0201, LocalTime::EPOCH);
        assert_eq!(engine.exchanges(), [(id, ExchangeReport::default())]);
        let kernel_timing = |t1, t4| ReplyTiming {
            t1,
            t4,
            t4_source: StampSource::Kernel,
        };
        let mut now = LocalTime::EPOCH;
        for _ in 0..2 {
            let mut out = Vec::new();
            engine.on_timer(now, &mut out);
            assert_eq!(polls(&out), 1);
            let seconds = now.seconds_since_epoch();
            let t1 = stamp(seconds);
            let mut answer = Header::parse(&reply(t1, seconds + 0.0001, 2, 0x0A00_0001)).unwrap();
            answer.reference = stamp(seconds - 10.0);
            answer.transmit = stamp(seconds + 0.00015);
            engine
                .on_reply(
                    id,
                    now + 0.0002,
                    &answer.to_bytes(),
                    kernel_timing(t1, stamp(seconds + 0.0002)),
                    &mut out,
                )
                .unwrap();
            now = engine.next_wakeup().unwrap();
        }
        let (_, last) = engine.exchanges()[0];
        assert_eq!((last.total_tx, last.total_rx), (2, 2));
        assert_eq!((last.total_valid_rx, last.total_good_rx), (2, 2));
        assert_eq!(
            (last.version, last.mode, last.stratum, last.poll),
            (4, 4, 2, 4)
        );
        assert_eq!(last.reference_id, 0x0A00_0001);
        assert_eq!(last.tests, [true; 10]);
        assert_eq!(last.rx_timestamping, StampSource::Kernel);
        assert_eq!(last.tx_timestamping, StampSource::Daemon);
        assert!((last.response_time - 0.00005).abs() < 1e-8, "{last:?}");
        assert!((last.peer_delay - 0.00015).abs() < 1e-8, "{last:?}");
        assert!(last.offset.abs() < 1e-4, "{last:?}");
        let posix_then = 1_700_000_000.0 + (now - 16.0).seconds_since_epoch();
        assert!(
            (last.reference_time - (posix_then - 10.0)).abs() < 1e-3,
            "{last:?}"
        );

        // An unsynchronised server's reply is valid (tests 1-3) but not good (test 6).
        let mut unsynchronised = Header::parse(&reply(stamp(0.0), 0.0, 2, 1)).unwrap();
        unsynchronised.leap = packet::leap::UNSYNCHRONISED;
        let _ = engine.on_reply(
            id,
            now,
            &unsynchronised.to_bytes(),
            timing(stamp(0.0), stamp(0.001)),
            &mut Vec::new(),
        );
        let (_, last) = engine.exchanges()[0];
        assert_eq!(
            (last.total_rx, last.total_valid_rx, last.total_good_rx),
            (3, 3, 2)
        );
        assert_eq!(last.leap, packet::leap::UNSYNCHRONISED);
        assert!(!last.tests[4]);
        assert_eq!(last.rx_timestamping, StampSource::Daemon);

        // A packet that is not a server's answer counts as received and changes nothing else.
        let mut client = unsynchronised;
        client.mode = 3;
        let _ = engine.on_reply(
            id,
            now,
            &client.to_bytes(),
            timing(stamp(0.0), stamp(0.001)),
            &mut Vec::new(),
        );
        let (_, after) = engine.exchanges()[0];
        assert_eq!(
            after,
            ExchangeReport {
                total_rx: 4,
                ..last
            }
        );
    }

    #[test]
    fn an_unauthentic_reply_fails_test_5_and_is_neither_a_sample_nor_a_kiss() {
        let mut engine = engine();
        let id = engine.add_source(spec(false), 0xC000_0201, LocalTime::EPOCH);
        let mut out = Vec::new();
        engine.on_timer(LocalTime::EPOCH, &mut out);
        let good = reply(stamp(0.0), 0.0001, 2, 0x0A00_0001);
        let mut kiss = Header::parse(&good).unwrap();
        kiss.stratum = 0;
        kiss.reference_id = u32::from_be_bytes(*b"DENY");
        for forged in [good, kiss.to_bytes()] {
            let rejected = engine.on_unauthentic_reply(
                id,
                at(0.0002),
                &forged,
                timing(stamp(0.0), stamp(0.0002)),
                &mut out,
            );
            assert_eq!(rejected, Err(Rejection::NotAuthentic));
        }
        let (_, last) = engine.exchanges()[0];
        assert_eq!(
            (last.total_rx, last.total_valid_rx, last.total_good_rx),
            (2, 0, 0)
        );
        assert!(!last.tests[3], "test 5 failed: {:?}", last.tests);
        assert_eq!(engine.stopped_by(id), None, "a forged DENY stops nothing");
        assert_eq!(engine.sources(at(0.001))[0].last_rx, None, "no sample");
        assert_eq!(engine.sources(at(0.001))[0].reach, 0, "not heard either");

        // The authentic reply to the same request still counts.
        engine
            .on_reply(
                id,
                at(0.0002),
                &good,
                timing(stamp(0.0), stamp(0.0002)),
                &mut out,
            )
            .unwrap();
        assert!(engine.sources(at(0.001))[0].last_rx.is_some());
    }

    fn spec(from_pool: bool) -> SourceSpec {
        SourceSpec {
            name: "192.0.2.1".into(),
            iburst: false,
            min_poll: 4,
            max_poll: 4,
            prefer: false,
            no_select: false,
            from_pool,
        }
    }

    fn at(seconds: f64) -> LocalTime {
        LocalTime::from_seconds_since_epoch(seconds)
    }

    fn stamp(seconds: f64) -> NtpTimestamp {
        NtpTimestamp((seconds * 4_294_967_296.0) as u64)
    }

    fn polls(actions: &[Action]) -> usize {
        actions
            .iter()
            .filter(|a| matches!(a, Action::Poll { .. }))
            .count()
    }

    fn reply(t1: NtpTimestamp, at: f64, stratum: u8, reference_id: u32) -> [u8; 48] {
        Header {
            version: 4,
            mode: MODE_SERVER,
            stratum,
            poll: 4,
            root_dispersion: NtpShort::from_seconds(1e-5),
            reference_id,
            origin: t1,
            receive: stamp(at),
            transmit: stamp(at),
            ..Header::default()
        }
        .to_bytes()
    }

    #[test]
    fn a_source_is_followed_after_two_samples_and_served_one_stratum_below() {
        let mut engine = engine();
        let id = engine.add_source(spec(false), 0xC000_0201, LocalTime::EPOCH);
        assert_eq!(engine.served(LocalTime::EPOCH), None);
        assert_eq!(
            engine.tracking(LocalTime::EPOCH).leap_status,
            "Not synchronised"
        );
        let mut now = LocalTime::EPOCH;
        for _ in 0..3 {
            let mut out = Vec::new();
            engine.on_timer(now, &mut out);
            assert_eq!(polls(&out), 1);
            let seconds = now.seconds_since_epoch();
            let t1 = stamp(seconds);
            let answer = reply(t1, seconds + 0.0001, 2, 0x0A00_0001);
            let t4 = stamp(seconds + 0.0002);
            engine
                .on_reply(id, now + 0.0002, &answer, timing(t1, t4), &mut out)
                .unwrap();
            now = engine.next_wakeup().expect("the next poll is scheduled");
        }
        let served = engine.served(now).expect("synchronised");
        assert_eq!(served.stratum, 3);
        assert_eq!(served.reference_id, 0xC000_0201);
        assert_eq!(engine.marks(), [Mark::Selected]);
        assert_eq!(engine.sources(now)[0].reach, 0b111);
    }

    #[test]
    fn a_removed_source_is_no_longer_polled_selected_or_reported() {
        let mut engine = engine();
        let ids = [
            engine.add_source(spec(false), 0xC000_0201, LocalTime::EPOCH),
            engine.add_source(spec(false), 0xC000_0202, LocalTime::EPOCH),
        ];
        let mut now = answer_three_polls(&mut engine, &ids, 2, 0x0A00_0001);
        let selected = engine
            .marks()
            .iter()
            .position(|mark| *mark == Mark::Selected)
            .expect("one source is selected");
        let mut out = Vec::new();
        engine.remove_source(ids[selected], now, &mut out);
        let marks = engine.marks();
        assert_eq!(marks[selected], Mark::Unusable);
        assert_eq!(
            marks[1 - selected],
            Mark::Selected,
            "the other one takes over"
        );
        assert_eq!(engine.sources(now).len(), 1);
        assert_eq!(engine.source_stats(now).len(), 1);
        for _ in 0..3 {
            let mut out = Vec::new();
            now = engine.next_wakeup().unwrap();
            engine.on_timer(now, &mut out);
            assert!(
                out.iter().all(|action| !matches!(action, Action::Poll { source, .. } if *source == ids[selected])),
                "{out:?}"
            );
        }
    }

    #[test]
    fn kiss_of_death_deny_stops_the_source() {
        let mut engine = engine();
        let id = engine.add_source(spec(false), 1, LocalTime::EPOCH);
        let mut out = Vec::new();
        engine.on_timer(LocalTime::EPOCH, &mut out);
        let mut kod = Header::parse(&reply(stamp(0.0), 0.0, 0, 0)).unwrap();
        kod.reference_id = u32::from_be_bytes(*b"DENY");
        kod.leap = 3;
        let rejected = engine.on_reply(
            id,
            at(0.001),
            &kod.to_bytes(),
            timing(stamp(0.0), stamp(0.001)),
            &mut out,
        );
        assert_eq!(rejected, Err(Rejection::KissOfDeath(Kiss::Deny)));
        assert_eq!(engine.stopped_by(id), Some(Kiss::Deny));
        assert_eq!(engine.next_wakeup(), None);
        let mut later = Vec::new();
        engine.on_timer(at(1000.0), &mut later);
        assert_eq!(polls(&later), 0);
        assert_eq!(
            engine.sources(at(1000.0))[0].stopped_by.as_deref(),
            Some("DENY")
        );
    }

    #[test]
    fn a_silent_pool_member_is_replaced_and_asked_about_again_later() {
        let mut engine = engine();
        let id = engine.add_source(spec(true), 1, LocalTime::EPOCH);
        let mut replacements = Vec::new();
        let mut now = LocalTime::EPOCH;
        for _ in 0..40 {
            let mut out = Vec::new();
            engine.on_timer(now, &mut out);
            if out.contains(&Action::Replace(id)) {
                replacements.push(now.seconds_since_epoch());
            }
            now = engine.next_wakeup().expect("the next poll is scheduled");
        }
        // Unreachable after eight unanswered polls of 16 s, then again eight polls later.
        assert_eq!(replacements[..2], [7.0 * 16.0, 15.0 * 16.0]);
        engine.replace_source(id, "192.0.2.9".into(), 9, now);
        assert_eq!(engine.sources(now)[0].name, "192.0.2.9");
        assert_eq!(engine.sources(now)[0].reach, 0);
    }

    /// Polls `ids` three times from the start, each answered on time by a server at `stratum`
    /// with `reference_id`; the time of the next poll.
    fn answer_three_polls(
        engine: &mut Engine,
        ids: &[SourceId],
        stratum: u8,
        reference_id: u32,
    ) -> LocalTime {
        let mut now = LocalTime::EPOCH;
        for _ in 0..3 {
            let mut out = Vec::new();
            engine.on_timer(now, &mut out);
            let seconds = now.seconds_since_epoch();
            let t1 = stamp(seconds);
            for &id in ids {
                let answer = reply(t1, seconds + 0.0001, stratum, reference_id);
                engine
                    .on_reply(
                        id,
                        now + 0.0002,
                        &answer,
                        timing(t1, stamp(seconds + 0.0002)),
                        &mut out,
                    )
                    .unwrap();
            }
            now = engine.next_wakeup().unwrap();
        }
        now
    }

    #[test]
    fn with_local_orphan_only_a_lower_id_orphan_is_followed_one_stratum_below() {
        let orphan_engine = |source_id: u32, local_id: u32| {
            let mut engine = engine();
            engine.set_orphan_stratum(Some(10));
            let id = engine.add_source(spec(false), source_id, LocalTime::EPOCH);
            engine.set_local_reference_id(id, local_id);
            (engine, id)
        };
        // 127.0.0.1 serving its local stratum 10 to 127.0.0.2: the root, followed at 11.
        let (mut follower, id) = orphan_engine(0x7F00_0001, 0x7F00_0002);
        let now = answer_three_polls(&mut follower, &[id], 10, packet::REFID_LOCAL);
        let served = follower.served(now).expect("follows the root orphan");
        assert_eq!((served.stratum, served.reference_id), (11, 0x7F00_0001));
        // The other way round: 127.0.0.1 does not follow 127.0.0.2; it stays the root.
        let (mut root, id) = orphan_engine(0x7F00_0002, 0x7F00_0001);
        let now = answer_three_polls(&mut root, &[id], 10, packet::REFID_LOCAL);
        assert_eq!(root.served(now), None);
        assert_eq!(root.marks(), [Mark::Unusable]);
        // A server that follows an orphan (stratum 11) is never followed, so strata do not
        // climb to 16 around a loop of servers.
        let (mut looped, id) = orphan_engine(0x7F00_0001, 0x7F00_0002);
        let now = answer_three_polls(&mut looped, &[id], 11, packet::REFID_LOCAL);
        assert_eq!(looped.served(now), None);
        // Without `orphan`, the stratum-10 server is an ordinary source.
        let mut plain = engine();
        let id = plain.add_source(spec(false), 0x7F00_0002, LocalTime::EPOCH);
        let now = answer_three_polls(&mut plain, &[id], 10, packet::REFID_LOCAL);
        assert_eq!(plain.served(now).map(|s| s.stratum), Some(11));
    }
}
