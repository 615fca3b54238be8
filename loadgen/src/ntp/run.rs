//! The load loop, the I/O shell around the pure parts: paced request batches out, replies in and judged.

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ntp_wire::nts_ntp::MAX_REPLY_LEN;
use ntp_wire::packet::{NtpTimestamp, HEADER_LEN};
use ntp_wire::symmetric_keys::SymmetricKey;

use super::nts::NtsSession;
use crate::nts_ke::handshake::KeTarget;
use ringd_sys::clock::realtime_now;
use ringd_sys::cpu::pin_current_thread;
use ringd_sys::mmsg::{ReadinessPoller, RecvBatch, SendBatch};
use ringd_sys::Datagram;

use super::kernel_t1::{KernelT1, T1Source};
use super::pending::PendingRequests;
use super::ramp::{RampPlan, StepOutcome};
use super::report::{RampReport, RunReport, RunSetup, SocketDrops};
use super::request::{request_bytes, stamp_with_sequence, RequestInfo};
use super::schedule::{Release, Schedule};
use super::tally::Tally;
use super::validate::{kiss_code_text, validate_reply, InvalidReason, ReplyAuth, Verdict};
use crate::error::LoadError;
use crate::progress::ProgressCounters;
use crate::raw::{RawFile, RawLines};
use ringd_sys::procnet::{receives_for, udp_socket_drops};

/// Datagrams taken per recvmmsg call.
const RECEIVE_BATCH: usize = 64;
/// Receive buffer per datagram: the longest NTS reply, so that one is judged whole (an NTS
/// reply is as long as its request, placeholders included).
const RECEIVE_BUFFER: usize = MAX_REPLY_LEN;
/// Longest the loop sleeps in poll when nothing is due; poll counts whole milliseconds, so waits
/// shorter than one are spun.
const MAX_IDLE_WAIT: Duration = Duration::from_millis(10);
/// How long requests in flight are expected to be, at most, to size the table up front.
const EXPECTED_FLIGHT_TIME: Duration = Duration::from_millis(250);

/// How every run of one `ringload ntp` invocation sends and waits.
#[derive(Clone, Debug)]
pub struct LoadSettings {
    pub destination: SocketAddr,
    /// NTP version of the requests (1 to 4).
    pub ntp_version: u8,
    /// How every request is authenticated, and every reply must be.
    pub auth: RequestAuth,
    /// Most requests per sendmmsg.
    pub batch: usize,
    /// Longest a due request waits for others to share its sendmmsg.
    pub coalesce: Duration,
    /// Time allowed after the last send for replies to arrive before the rest count as lost.
    pub grace: Duration,
    /// Cores for the generator threads (thread `i` on `cpus[i % len]`); empty: not pinned.
    pub cpus: Vec<usize>,
    /// Where the progress lines read the load so far, when they are printed.
    pub progress: Option<Arc<ProgressCounters>>,
    /// `--raw`: a line per request.
    pub raw: Option<Arc<RawFile>>,
    /// Where T1 comes from; `Kernel` sends each request on its own.
    pub t1_source: T1Source,
}

/// How requests are authenticated.
#[derive(Clone, Debug)]
pub enum RequestAuth {
    None,
    /// `--key`: a MAC by this key.
    Key(SymmetricKey),
    /// `--nts`: NTS, each generator thread making one KE handshake with this server per run.
    Nts(KeTarget),
}

/// A ramp's settings.
#[derive(Clone, Copy, Debug)]
pub struct RampSettings {
    pub start_rate: f64,
    pub factor: f64,
    pub max_rate: f64,
    pub max_steps: usize,
    pub step_duration: Duration,
}

/// The client sockets, split among generator threads, ready to run loads.
pub struct NtpLoad {
    settings: LoadSettings,
    sockets_per_thread: Vec<Vec<UdpSocket>>,
    client_locals: HashSet<SocketAddr>,
    clients: usize,
}

impl NtpLoad {
    /// Takes `sockets` (one per client) and deals them out to `threads` threads.
    pub fn new(
        settings: LoadSettings,
        sockets: Vec<UdpSocket>,
        threads: usize,
    ) -> Result<Self, LoadError> {
        if threads == 0 || threads > sockets.len() {
            return Err(LoadError::Setting(format!(
                "{threads} threads for {} clients: each thread needs at least one client",
                sockets.len()
            )));
        }
        if settings.batch == 0 {
            return Err(LoadError::Setting(
                "the batch size must be at least 1".into(),
            ));
        }
        let client_locals = sockets
            .iter()
            .map(|s| s.local_addr())
            .collect::<Result<_, _>>()
            .map_err(LoadError::io("reading a client socket's address"))?;
        let clients = sockets.len();
        let mut sockets_per_thread: Vec<Vec<UdpSocket>> =
            (0..threads).map(|_| Vec::new()).collect();
        for (index, socket) in sockets.into_iter().enumerate() {
            sockets_per_thread[index % threads].push(socket);
        }
        Ok(NtpLoad {
            settings,
            sockets_per_thread,
            client_locals,
            clients,
        })
    }

    fn socket_drops(&self) -> SocketDrops {
        let destination = self.settings.destination;
        SocketDrops {
            client: udp_socket_drops(&|local| self.client_locals.contains(local)),
            server: udp_socket_drops(&|local| receives_for(local, &destination)),
        }
    }

    /// Offers `rate` requests per second for `duration`, then waits the grace period.
    pub fn run(&self, rate: f64, duration: Duration) -> Result<RunReport, LoadError> {
        if !(rate > 0.0 && rate.is_finite()) || duration.is_zero() {
            return Err(LoadError::Setting(
                "the rate and the duration must be positive".into(),
            ));
        }
        let threads = self.sockets_per_thread.len();
        let before = self.socket_drops();
        let tallies: Vec<Result<Tally, LoadError>> = thread::scope(|scope| {
            let workers: Vec<_> = self
                .sockets_per_thread
                .iter()
                .enumerate()
                .map(|(index, sockets)| {
                    let settings = &self.settings;
                    scope.spawn(move || {
                        if !settings.cpus.is_empty() {
                            let cpu = settings.cpus[index % settings.cpus.len()];
                            pin_current_thread(cpu)
                                .map_err(LoadError::io(format!("pinning to CPU {cpu}")))?;
                        }
                        let nts = match &settings.auth {
                            RequestAuth::Nts(target) => Some(
                                NtsSession::establish(target)
                                    .map_err(|err| LoadError::Setting(format!("--nts: {err:#}")))?,
                            ),
                            _ => None,
                        };
                        let share = rate / threads as f64;
                        let schedule = Schedule::for_duration(
                            share,
                            duration,
                            settings.batch,
                            settings.coalesce,
                        );
                        Worker::new(sockets, settings, share, nts)?.run(schedule, duration)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|worker| worker.join().expect("a load worker panicked"))
                .collect()
        });
        let mut total = Tally::default();
        for tally in tallies {
            total.merge(&tally?);
        }
        let after = self.socket_drops();
        let delta = |before: Option<u64>, after: Option<u64>| Some(after?.saturating_sub(before?));
        let setup = RunSetup {
            server: self.settings.destination.to_string(),
            clients: self.clients,
            threads,
            target_rate: rate,
            duration,
            t1_source: self.settings.t1_source,
        };
        Ok(RunReport::new(
            &setup,
            &total,
            SocketDrops {
                client: delta(before.client, after.client),
                server: delta(before.server, after.server),
            },
        ))
    }

    /// Runs steps of growing rate until the plan stops; `on_step` sees each step when it ends.
    pub fn ramp(
        &self,
        ramp: &RampSettings,
        mut on_step: impl FnMut(&RunReport),
    ) -> Result<RampReport, LoadError> {
        let mut plan = RampPlan::new(ramp.start_rate, ramp.factor, ramp.max_rate, ramp.max_steps);
        let mut steps = Vec::new();
        while let Some(rate) = plan.next_rate() {
            let report = self.run(rate, ramp.step_duration)?;
            plan.record(StepOutcome {
                rate,
                offered_rate: report.offered_rate,
                loss_percent: report.loss_percent,
                generator_fell_behind: report.generator_fell_behind,
            });
            on_step(&report);
            steps.push(report);
        }
        Ok(RampReport {
            steps,
            max_rate: plan.best_rate(),
            stop_reason: plan
                .stop_reason()
                .expect("a finished ramp knows why it stopped"),
        })
    }
}

/// One generator thread: its sockets, its batches, its requests in flight and its tally.
struct Worker<'a> {
    sockets: &'a [UdpSocket],
    destination: SocketAddr,
    ntp_version: u8,
    key: Option<&'a SymmetricKey>,
    nts: Option<NtsSession>,
    grace: Duration,
    send: SendBatch,
    recv: RecvBatch,
    poller: ReadinessPoller,
    pending: PendingRequests,
    tally: Tally,
    next_socket: usize,
    sequence: u32,
    progress: Option<&'a ProgressCounters>,
    raw: Option<RawLines<'a>>,
    /// With `--kernel-t1`: the sockets' transmit timestamps.
    kernel_t1: Option<KernelT1>,
}

impl<'a> Worker<'a> {
    fn new(
        sockets: &'a [UdpSocket],
        settings: &'a LoadSettings,
        rate: f64,
        nts: Option<NtsSession>,
    ) -> Result<Self, LoadError> {
        let fds: Vec<BorrowedFd<'_>> = sockets.iter().map(|s| s.as_fd()).collect();
        let expected_in_flight = (rate * EXPECTED_FLIGHT_TIME.as_secs_f64()) as usize;
        let kernel_t1 = match settings.t1_source {
            T1Source::Userspace => None,
            T1Source::Kernel => Some(
                KernelT1::enable(&fds)
                    .map_err(LoadError::io("enabling kernel TX timestamps (--kernel-t1)"))?,
            ),
        };
        Ok(Worker {
            sockets,
            destination: settings.destination,
            ntp_version: settings.ntp_version,
            key: match &settings.auth {
                RequestAuth::Key(key) => Some(key),
                _ => None,
            },
            nts,
            grace: settings.grace,
            // Room for a MAC or NTS fields.
            send: SendBatch::new(settings.batch, MAX_REPLY_LEN),
            recv: RecvBatch::new(RECEIVE_BATCH, RECEIVE_BUFFER),
            poller: ReadinessPoller::new(&fds),
            pending: PendingRequests::with_capacity(expected_in_flight.max(1024)),
            tally: Tally::default(),
            next_socket: 0,
            sequence: 0,
            progress: settings.progress.as_deref(),
            raw: settings.raw.as_deref().map(RawFile::lines),
            kernel_t1,
        })
    }

    /// Sends on schedule and receives until every request was answered or the grace period after
    /// the last send is over. A generator that cannot keep up stops sending at one and a half
    /// times the planned duration plus a second, so the loop always ends.
    fn run(mut self, mut schedule: Schedule, duration: Duration) -> Result<Tally, LoadError> {
        let give_up_sending_at = duration + duration / 2 + Duration::from_secs(1);
        let start = Instant::now();
        let mut sending_ended_at = None;
        loop {
            let elapsed = start.elapsed();
            let next_send = match sending_ended_at {
                Some(_) => None,
                None if elapsed >= give_up_sending_at => None,
                None => {
                    if let Some(release) = schedule.release(elapsed) {
                        if self.kernel_t1.is_some() {
                            self.send_one_by_one(release, elapsed)?;
                        } else {
                            self.send(release, elapsed);
                        }
                    }
                    schedule.next_release_in(elapsed)
                }
            };
            let wait = match next_send {
                Some(wait) => wait,
                None => {
                    let ended = *sending_ended_at.get_or_insert(elapsed);
                    let grace_over = ended + self.grace;
                    if self.pending.is_empty() || elapsed >= grace_over {
                        if let Some(raw) = &mut self.raw {
                            let now = realtime_now();
                            for request in self.pending.drain() {
                                let sent = request.transmit.to_unix_near(now).as_nanos();
                                raw.record(sent, None, "lost");
                            }
                        }
                        return Ok(self.tally);
                    }
                    grace_over - elapsed
                }
            };
            let poll_timeout = if wait < Duration::from_millis(1) {
                Duration::ZERO
            } else {
                wait.min(MAX_IDLE_WAIT)
            };
            self.receive(poll_timeout)?;
        }
    }

    fn send(&mut self, release: Release, elapsed: Duration) {
        let socket = &self.sockets[self.next_socket];
        self.next_socket = (self.next_socket + 1) % self.sockets.len();
        // T1 is read once per batch, right before the batch is built and handed to sendmmsg: it
        // is exact for the first datagram, while the others leave after their predecessors went
        // through the stack, which is why only the first is `timed`.
        let t1 = NtpTimestamp::from_unix(realtime_now());
        for position in 0..release.count {
            self.queue_request(t1, position == 0);
        }
        let outcome = self.send.flush(socket.as_fd());
        if let Some(progress) = self.progress {
            progress.offered(outcome.sent as u64);
        }
        self.tally
            .record_sent(outcome.sent, outcome.failed, release.late, elapsed);
    }

    /// `--kernel-t1`: each request is its own sendmmsg asking for its TX timestamp, so that
    /// none waits behind another in the kernel; the timestamps are read with the replies.
    fn send_one_by_one(&mut self, release: Release, elapsed: Duration) -> Result<(), LoadError> {
        let index = self.next_socket;
        self.next_socket = (self.next_socket + 1) % self.sockets.len();
        let socket = self.sockets[index].as_fd();
        let (mut sent, mut failed) = (0, 0);
        for _ in 0..release.count {
            let transmit = self.queue_request(NtpTimestamp::from_unix(realtime_now()), false);
            self.send.ask_tx_timestamp();
            let outcome = self.send.flush(socket);
            sent += outcome.sent;
            failed += outcome.failed;
            let kernel_t1 = self.kernel_t1.as_mut().expect("sending one by one for it");
            if outcome.sent == 1 {
                kernel_t1.sent(index, transmit);
            } else {
                kernel_t1
                    .resynchronise(socket, index, &mut self.pending)
                    .map_err(LoadError::io("restarting kernel TX timestamps"))?;
            }
        }
        self.tally.record_sent(sent, failed, release.late, elapsed);
        Ok(())
    }

    /// Queues one request whose wire T1 is `t1` (made unique by the sequence) and remembers it
    /// as in flight; returns its transmit timestamp.
    fn queue_request(&mut self, t1: NtpTimestamp, timed: bool) -> NtpTimestamp {
        let transmit = stamp_with_sequence(t1, self.sequence);
        self.sequence = self.sequence.wrapping_add(1);
        let bytes = request_bytes(self.ntp_version, transmit);
        let (key, nts, version) = (self.key, self.nts.as_mut(), self.ntp_version);
        self.send.push(&self.destination, |buffer| {
            buffer[..HEADER_LEN].copy_from_slice(&bytes);
            match (key, nts) {
                (Some(key), _) => key
                    .append_mac(buffer, HEADER_LEN, version)
                    .expect("the buffer has room for the longest MAC"),
                (None, Some(nts)) => nts.write_request(buffer, transmit),
                (None, None) => HEADER_LEN,
            }
        });
        self.pending.insert(RequestInfo {
            transmit,
            version: self.ntp_version,
            timed,
            kernel_t1: None,
        });
        transmit
    }

    fn receive(&mut self, timeout: Duration) -> Result<(), LoadError> {
        let ready = self
            .poller
            .wait(timeout)
            .map_err(LoadError::io("waiting for replies"))?;
        if ready == 0 {
            return Ok(());
        }
        let answered_before = self.tally.answered;
        for index in 0..self.sockets.len() {
            if !self.poller.is_ready(index) {
                continue;
            }
            if let Some(kernel_t1) = self.kernel_t1.as_mut() {
                // Before the replies: a reply finds its request already carrying its kernel T1.
                if self.poller.has_errors(index) {
                    kernel_t1
                        .drain(self.sockets[index].as_fd(), index, &mut self.pending)
                        .map_err(LoadError::io("reading kernel TX timestamps"))?;
                }
            }
            loop {
                let count = self
                    .recv
                    .recv(self.sockets[index].as_fd(), index)
                    .map_err(LoadError::io("receiving replies"))?;
                for position in 0..count {
                    if let Some(datagram) = self.recv.get(position) {
                        let mut auth = match (self.key, self.nts.as_mut()) {
                            (Some(key), _) => ReplyAuth::Key(key),
                            (None, Some(nts)) => ReplyAuth::Nts(nts),
                            (None, None) => ReplyAuth::None,
                        };
                        judge(
                            &datagram,
                            self.destination,
                            self.kernel_t1.is_some(),
                            &mut auth,
                            &mut self.pending,
                            &mut self.tally,
                            self.raw.as_mut(),
                        );
                    }
                }
                if count < self.recv.capacity() {
                    break;
                }
            }
        }
        if let Some(progress) = self.progress {
            progress.answered(self.tally.answered - answered_before);
        }
        Ok(())
    }
}

/// Matches a received datagram to its request by origin timestamp and tallies the verdict.
fn judge(
    datagram: &Datagram<'_>,
    destination: SocketAddr,
    kernel_t1: bool,
    auth: &mut ReplyAuth<'_>,
    pending: &mut PendingRequests,
    tally: &mut Tally,
    raw: Option<&mut RawLines<'_>>,
) {
    if datagram.peer != destination {
        tally.record_invalid(InvalidReason::WrongSource);
        return;
    }
    let t4 = datagram.rx_time.unwrap_or_else(|| {
        tally.missing_rx_timestamps += 1;
        realtime_now()
    });
    let Some(origin) = datagram.payload.get(24..32) else {
        // Too short to say which request it answers: that request stays in flight.
        tally.record_invalid(InvalidReason::Short);
        return;
    };
    let origin = NtpTimestamp(u64::from_be_bytes(origin.try_into().expect("8 bytes")));
    match pending.take(origin) {
        Some(request) => {
            let verdict = validate_reply(&request, datagram.payload, t4, auth);
            if kernel_t1 && request.kernel_t1.is_none() && matches!(verdict, Verdict::Valid(_)) {
                tally.t1_kernel_missing += 1;
            }
            if let Some(raw) = raw {
                // The kernel's T1 when the run takes it, as the latency figures do.
                let sent = request
                    .kernel_t1
                    .unwrap_or(request.transmit)
                    .to_unix_near(t4)
                    .as_nanos();
                raw.record(sent, Some(t4.as_nanos() - sent), &raw_outcome(&verdict));
            }
            tally.record_reply(verdict, request.timed);
        }
        None => tally.unmatched += 1,
    }
}

/// How a reply ended, as the `--raw` file's outcome column names it.
fn raw_outcome(verdict: &Verdict) -> Cow<'static, str> {
    match verdict {
        Verdict::Valid(_) => Cow::Borrowed("ok"),
        Verdict::KissOfDeath(code) => Cow::Owned(format!("kod_{}", kiss_code_text(*code))),
        Verdict::Invalid(reason) => Cow::Owned(format!("invalid_{}", reason.name())),
    }
}
