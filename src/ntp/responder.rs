//! One shard's per-packet decision: parse, access control, rate limit, reply, and the counting.

use std::net::SocketAddr;
use std::sync::Arc;

use super::access::AccessTable;
use super::answer_policy::{PolicyFollower, SharedServerKeys};
use super::clock_state::ClockCell;
use super::interleaved::InterleavedTimestamps;
use super::nts_ntp::{self, NtsRequest, NAK_KISS};
use super::packet::{NtpTimestamp, UnixTime, HEADER_LEN, KISS_RATE, MODE_CLIENT};
use super::precision::TimestampFuzz;
use super::ratelimit::{Decision, RateLimiter};
use super::reply::{self, Answer, DropReason, ReplyStamps, RequestAuth, ServerParams};
use super::symmetric_keys::{KeyTable, SymmetricKey, LONGEST_MAC};
use crate::metrics::NtpCounters;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use crate::sys::crypt::fill_random;

/// Everything a shard needs to answer requests; fed datagrams by the I/O loop.
pub struct Responder {
    access: Arc<AccessTable>,
    limiter: Option<RateLimiter>,
    clock: Arc<ClockCell>,
    params: ServerParams,
    fuzz: TimestampFuzz,
    counters: Arc<NtpCounters>,
    /// Where a reloaded policy comes from, for a shard of a running service.
    policy: Option<PolicyFollower>,
    /// `keyfile`'s keys, for requests with a MAC.
    keys: Arc<KeyTable>,
    /// The NTS cookie keys, when this server serves NTS, and the generator of its nonces.
    nts: Option<(SharedServerKeys, StdRng)>,
    /// Interleaved mode's timestamps; `None` with `noclientlog`, as chronyd keeps them in its
    /// client log.
    interleaved: Option<InterleavedTimestamps>,
    /// Whether the shell reports when replies left ([`Responder::transmitted`]); without
    /// that, every request is answered in basic mode.
    transmit_times_reported: bool,
    /// The receive timestamp of the reply just written, when the shell should report when it
    /// left.
    awaiting_transmit_time: Option<NtpTimestamp>,
}

/// How a reply is authenticated, once its request checked.
enum ReplyAuth<'a> {
    None,
    /// A MAC by the request's key.
    Mac(&'a SymmetricKey),
    /// NTS: the request's identifier and cookies, sealed with its session's keys.
    Nts(NtsRequest<'a>),
}

impl Responder {
    pub fn new(
        access: Arc<AccessTable>,
        limiter: Option<RateLimiter>,
        clock: Arc<ClockCell>,
        precision: i8,
        counters: Arc<NtpCounters>,
    ) -> Self {
        let min_poll = reply::announced_min_poll(limiter.as_ref().map(RateLimiter::min_poll));
        Responder {
            access,
            limiter,
            clock,
            params: ServerParams {
                precision,
                min_poll,
            },
            fuzz: TimestampFuzz::new(precision),
            counters,
            policy: None,
            keys: Arc::default(),
            nts: None,
            interleaved: None,
            transmit_times_reported: false,
            awaiting_transmit_time: None,
        }
    }

    /// Answers interleaved requests with `timestamps` while the shell reports transmit times.
    pub fn keep_interleaved(&mut self, timestamps: InterleavedTimestamps) {
        self.interleaved = Some(timestamps);
    }

    /// Whether the shell now reports when replies left: it asks the kernel for transmit
    /// timestamps on this backend.
    pub fn report_transmit_times(&mut self, reported: bool) {
        self.transmit_times_reported = reported;
    }

    /// The receive timestamp of the reply [`Responder::respond`] just wrote, when the shell
    /// should ask the kernel when it leaves and report it with [`Responder::transmitted`].
    pub fn take_awaiting_transmit_time(&mut self) -> Option<NtpTimestamp> {
        self.awaiting_transmit_time.take()
    }

    /// The kernel says the reply carrying `receive` left at `time`: the transmit timestamp the
    /// client gets in interleaved mode. False when it is not one awaited.
    pub fn transmitted(&mut self, receive: NtpTimestamp, time: UnixTime) -> bool {
        let Some(table) = self.interleaved.as_mut() else {
            return false;
        };
        let served = NtpTimestamp::from_unix(self.clock.read().correction.apply(time));
        table.update_transmit(receive, served)
    }

    /// The longest reply this responder writes, for the shell's buffers: a MAC'd reply, or
    /// an NTS reply when NTS is served.
    pub fn longest_reply(&self) -> usize {
        if self.nts.is_some() {
            nts_ntp::MAX_REPLY_LEN
        } else {
            HEADER_LEN + 4 + LONGEST_MAC
        }
    }

    /// Serves NTS requests with the cookie keys `nts`. A nonce per reply and per cookie
    /// comes from a ChaCha generator the kernel seeds: a getrandom call for each cost a quarter
    /// of an NTS reply's CPU.
    pub fn serve_nts(&mut self, nts: SharedServerKeys) {
        let mut seed = [0u8; 32];
        fill_random(&mut seed).expect("the kernel's random source");
        self.nts = Some((nts, StdRng::from_seed(seed)));
    }

    /// A shard's responder, answering with the policy `follower` has in force and taking up
    /// each one published later.
    pub fn following(
        follower: PolicyFollower,
        shard_seed: (u64, u64),
        clock: Arc<ClockCell>,
        precision: i8,
        counters: Arc<NtpCounters>,
    ) -> Self {
        let (shards, seed) = shard_seed;
        let policy = follower.in_force();
        let mut responder = Responder::new(
            Arc::clone(&policy.access),
            policy.rate_limiter(shards, seed),
            clock,
            precision,
            counters,
        );
        responder.keys = Arc::clone(&policy.keys);
        if let Some(timestamps) = policy.interleaved_timestamps(shards) {
            responder.keep_interleaved(timestamps);
        }
        responder.policy = Some(follower);
        responder
    }

    /// Takes up a policy published since the last request.
    fn follow_policy(&mut self) {
        let Some(change) = self.policy.as_mut().and_then(PolicyFollower::take_change) else {
            return;
        };
        self.access = change.access;
        self.keys = change.keys;
        if let Some(limiter) = change.rate_limiter {
            self.params.min_poll =
                reply::announced_min_poll(limiter.as_ref().map(RateLimiter::min_poll));
            self.limiter = limiter;
        }
    }

    pub fn counters(&self) -> &NtpCounters {
        &self.counters
    }

    /// The client log, when `ratelimit` keeps one.
    pub fn rate_limiter(&self) -> Option<&RateLimiter> {
        self.limiter.as_ref()
    }

    /// Handles one datagram from `client`. `rx_time` is the kernel's receive time when known;
    /// `read_clock` gives the current time and is called for T3 as the last step. Returns the
    /// reply length written to `out` (the 48-byte header, then a MAC or NTS fields when the
    /// request had them), or 0 when nothing is sent. `out` must hold the longest reply:
    /// [`nts_ntp::MAX_REPLY_LEN`] bytes when NTS is served.
    /// The checks come in chronyd's order, so a request is counted under the reason chronyd
    /// would have dropped it for: format, access, mode, rate, authentication.
    pub fn respond(
        &mut self,
        datagram: &[u8],
        client: SocketAddr,
        rx_time: Option<UnixTime>,
        mut read_clock: impl FnMut() -> UnixTime,
        out: &mut [u8],
    ) -> usize {
        self.follow_policy();
        self.awaiting_transmit_time = None;
        let counters = &*self.counters;
        counters.received.add(1);
        let drop = |reason: DropReason| {
            counters.dropped[reason.index()].add(1);
            0
        };
        let request = match reply::parse_request(datagram) {
            Ok(request) => request,
            Err(reason) => return drop(reason),
        };
        if !self.access.is_allowed(client.ip()) {
            return drop(DropReason::Denied);
        }
        let mode = match request.reply_mode(client.port()) {
            Ok(mode) => mode,
            Err(reason) => return drop(reason),
        };
        let rx_time = rx_time.unwrap_or_else(|| {
            counters.rx_time_fallbacks.add(1);
            read_clock()
        });
        let decision = self.limiter.as_mut().map(|l| l.check(client.ip(), rx_time));
        if decision == Some(Decision::Drop) {
            counters.rate_limited.add(1);
            return drop(DropReason::RateLimited);
        }
        // chronyd sends nothing back for a failed check (not even a crypto-NAK).
        // The cookie keys are locked (for reading) only for NTS requests.
        let (nts_keys, mut nonces) = match self.nts.as_mut() {
            Some((keys, nonces)) if request.auth == RequestAuth::Nts => (
                Some(keys.read().unwrap_or_else(|e| e.into_inner())),
                Some(nonces),
            ),
            _ => (None, None),
        };
        let auth = match request.auth {
            RequestAuth::None => ReplyAuth::None,
            RequestAuth::Mac { key_id, offset } => match self.keys.get(key_id) {
                Some(key) if key.check_mac(datagram, offset, request.version) => {
                    ReplyAuth::Mac(key)
                }
                _ => return drop(DropReason::AuthFailed),
            },
            RequestAuth::Nts if request.mode == MODE_CLIENT => {
                let Some(keys) = &nts_keys else {
                    return drop(DropReason::AuthFailed);
                };
                match nts_ntp::check_request(datagram, keys) {
                    checked @ (NtsRequest::Authentic { .. } | NtsRequest::Nak { .. }) => {
                        ReplyAuth::Nts(checked)
                    }
                    NtsRequest::Plain | NtsRequest::Malformed => {
                        return drop(DropReason::AuthFailed)
                    }
                }
            }
            RequestAuth::Nts | RequestAuth::MsSntp { .. } => return drop(DropReason::AuthFailed),
        };
        if out.len() < HEADER_LEN {
            counters.send_failures.add(1);
            return 0;
        }
        let kiss = (decision == Some(Decision::KissRate)).then(|| {
            counters.rate_limited.add(1);
            counters.kod_sent.add(1);
            KISS_RATE
        });
        let nak = matches!(auth, ReplyAuth::Nts(NtsRequest::Nak { .. }));
        // As chronyd: a KoD is never interleaved, and only a request that may be interleaved
        // leaves its reply's timestamps for the next one.
        let interleaved = self
            .interleaved
            .as_mut()
            .filter(|_| self.transmit_times_reported && kiss.is_none() && !nak)
            .filter(|_| request.may_be_interleaved());
        let interleaving = interleaved.is_some();
        let previous_transmit = interleaved.and_then(|t| t.take_transmit(request.origin));
        let clock = self.clock.read();
        // Interleaved: the client's receive time of the previous reply, and when that left.
        let origin = match previous_transmit {
            Some(_) => request.receive,
            None => request.transmit,
        };
        let receive = self.fuzz.receive_stamp(
            NtpTimestamp::from_unix(clock.correction.apply(rx_time)),
            origin,
        );
        let now = NtpTimestamp::from_unix(clock.correction.apply(read_clock()));
        let transmit = self
            .fuzz
            .transmit_stamp(previous_transmit.unwrap_or(now), receive, origin);
        let kiss = if nak {
            Some(u32::from_be_bytes(NAK_KISS))
        } else {
            kiss
        };
        let answer = Answer { mode, kiss };
        reply::write_reply(
            &request,
            answer,
            &clock,
            &self.params,
            ReplyStamps {
                origin,
                receive,
                transmit,
            },
            (&mut out[..HEADER_LEN]).try_into().expect("checked above"),
        );
        let len = match auth {
            ReplyAuth::None => Some(HEADER_LEN),
            ReplyAuth::Mac(key) => key.append_mac(out, HEADER_LEN, request.version),
            ReplyAuth::Nts(NtsRequest::Nak { unique_id }) => nts_ntp::write_nak(out, unique_id),
            ReplyAuth::Nts(NtsRequest::Authentic {
                unique_id,
                keys,
                cookies,
            }) => nts_ntp::write_authentic_reply(
                out,
                datagram.len(),
                unique_id,
                &keys,
                cookies,
                nts_keys.as_deref().expect("checked with these keys"),
                |bytes| {
                    nonces
                        .as_deref_mut()
                        .expect("with the keys")
                        .fill_bytes(bytes)
                },
            ),
            ReplyAuth::Nts(NtsRequest::Plain | NtsRequest::Malformed) => None,
        };
        let Some(len) = len else {
            // A reply longer than the shell's buffer is one it cannot send.
            counters.send_failures.add(1);
            return 0;
        };
        if kiss.is_none() {
            counters.answered.add(1);
        }
        if interleaving {
            if let Some(table) = self.interleaved.as_mut() {
                table.save(receive, now);
                self.awaiting_transmit_time = Some(receive);
            }
        }
        len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntp::access::Subnet;
    use crate::ntp::clock_state::ClockSnapshot;
    use crate::ntp::packet::{Header, MODE_CLIENT, MODE_SERVER};

    fn allow_loopback() -> Arc<AccessTable> {
        let mut table = AccessTable::new();
        table.set(
            Subnet {
                addr: "127.0.0.0".parse().unwrap(),
                prefix_len: 8,
            },
            true,
            false,
        );
        Arc::new(table)
    }

    fn request() -> [u8; 48] {
        Header {
            version: 4,
            mode: MODE_CLIENT,
            transmit: NtpTimestamp(42),
            ..Header::default()
        }
        .to_bytes()
    }

    fn responder(limiter: Option<RateLimiter>) -> Responder {
        Responder::new(
            allow_loopback(),
            limiter,
            Arc::new(ClockCell::new(ClockSnapshot {
                leap: 0,
                stratum: 10,
                ..ClockSnapshot::UNSYNCHRONISED
            })),
            -24,
            Arc::new(NtpCounters::default()),
        )
    }

    const CLIENT: SocketAddr = SocketAddr::new(
        std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2)),
        40123,
    );

    const T2: UnixTime = UnixTime {
        secs: 1_700_000_000,
        nanos: 1000,
    };
    const T3: UnixTime = UnixTime {
        secs: 1_700_000_000,
        nanos: 2000,
    };

    #[test]
    fn answers_with_kernel_t2_and_late_t3() {
        let mut r = responder(None);
        let mut out = [0u8; 48];
        let len = r.respond(&request(), CLIENT, Some(T2), || T3, &mut out);
        assert_eq!(len, 48);
        let reply = Header::parse(&out).unwrap();
        assert_eq!(reply.mode, MODE_SERVER);
        assert_eq!(reply.origin, NtpTimestamp(42));
        let within_precision = |sent: NtpTimestamp, time: UnixTime| {
            // Precision -24: the 8 bits below it are random.
            (sent.0 ^ NtpTimestamp::from_unix(time).0) < 1 << 8
        };
        assert!(within_precision(reply.receive, T2));
        assert!(within_precision(reply.transmit, T3));
        assert_eq!(r.counters().answered.get(), 1);
        assert_eq!(r.counters().rx_time_fallbacks.get(), 0);
    }

    #[test]
    fn missing_kernel_time_falls_back_and_is_counted() {
        let mut r = responder(None);
        let mut out = [0u8; 48];
        assert_eq!(r.respond(&request(), CLIENT, None, || T3, &mut out), 48);
        assert_eq!(r.counters().rx_time_fallbacks.get(), 1);
    }

    #[test]
    fn denied_and_malformed_are_dropped_and_counted() {
        let mut r = responder(None);
        let mut out = [0u8; 48];
        assert_eq!(
            r.respond(
                &request(),
                "10.0.0.1:40123".parse().unwrap(),
                Some(T2),
                || T3,
                &mut out
            ),
            0
        );
        assert_eq!(r.respond(&[0u8; 20], CLIENT, Some(T2), || T3, &mut out), 0);
        let totals = r.counters().totals();
        assert_eq!(totals.received, 2);
        assert_eq!(totals.dropped[DropReason::Denied.index()], 1);
        assert_eq!(totals.dropped[DropReason::TooShort.index()], 1);
        assert_eq!(totals.answered, 0);
    }

    #[test]
    fn rate_limited_requests_are_dropped_or_kissed() {
        let limiter = RateLimiter::new(3, 1, 4, 4, 524_288, 1);
        let mut r = responder(Some(limiter));
        let mut out = [0u8; 48];
        let client: SocketAddr = "127.0.0.3:40123".parse().unwrap();
        assert_eq!(r.respond(&request(), client, Some(T2), || T3, &mut out), 48);
        assert_eq!(
            Header::parse(&out).unwrap().poll,
            3,
            "poll raised to the interval"
        );
        let mut kisses = 0;
        for _ in 0..200 {
            if r.respond(&request(), client, Some(T2), || T3, &mut out) == 48 {
                let reply = Header::parse(&out).unwrap();
                if reply.stratum == 0 {
                    assert_eq!(&reply.reference_id.to_be_bytes(), b"RATE");
                    kisses += 1;
                }
            }
        }
        let totals = r.counters().totals();
        assert_eq!(totals.kod_sent, kisses);
        assert!(totals.rate_limited > 150);
        assert_eq!(
            totals.rate_limited,
            totals.kod_sent + totals.dropped[DropReason::RateLimited.index()]
        );
    }

    fn request_with(version: u8, mode: u8, trailer: &[u8]) -> Vec<u8> {
        let mut datagram = Header {
            version,
            mode,
            poll: -128,
            transmit: NtpTimestamp(42),
            ..Header::default()
        }
        .to_bytes()
        .to_vec();
        datagram.extend_from_slice(trailer);
        datagram
    }

    fn reply_to(r: &mut Responder, datagram: &[u8], client: SocketAddr) -> Option<Header> {
        let mut out = [0u8; 48];
        let len = r.respond(datagram, client, Some(T2), || T3, &mut out);
        (len == 48).then(|| Header::parse(&out).unwrap())
    }

    #[test]
    fn symmetric_active_is_answered_in_symmetric_passive() {
        let mut r = responder(None);
        let reply = reply_to(&mut r, &request_with(4, 1, &[]), CLIENT).expect("a reply");
        assert_eq!(reply.mode, 2);
        assert_eq!(reply.origin, NtpTimestamp(42));
        assert_eq!(r.counters().answered.get(), 1);
    }

    #[test]
    fn ntpv1_with_mode_0_is_answered_unless_from_port_123() {
        let mut r = responder(None);
        let reply = reply_to(&mut r, &request_with(1, 0, &[]), CLIENT).expect("a reply");
        assert_eq!((reply.version, reply.mode), (1, MODE_SERVER));
        let from_123 = SocketAddr::new(CLIENT.ip(), 123);
        assert_eq!(reply_to(&mut r, &request_with(1, 0, &[]), from_123), None);
        assert_eq!(reply_to(&mut r, &request_with(2, 0, &[]), CLIENT), None);
        let totals = r.counters().totals();
        assert_eq!(totals.dropped[DropReason::NotClientMode.index()], 2);
    }

    #[test]
    fn a_poll_of_minus_128_is_answered_with_minus_19() {
        let mut r = responder(None);
        let reply = reply_to(&mut r, &request_with(4, MODE_CLIENT, &[]), CLIENT).unwrap();
        assert_eq!(reply.poll, -19);
    }

    #[test]
    fn requests_chronyd_drops_are_dropped_and_counted() {
        let mut r = responder(None);
        let mac = [7u32.to_be_bytes().to_vec(), vec![0x5A; 20]].concat();
        let mut nts_field = vec![0u8; 36];
        nts_field[..4].copy_from_slice(&[0x01, 0x04, 0, 36]);
        for (datagram, reason) in [
            (request_with(4, MODE_CLIENT, &[0; 2]), DropReason::BadLength),
            (
                request_with(4, MODE_CLIENT, &[0; 8]),
                DropReason::BadExtension,
            ),
            (
                request_with(4, MODE_CLIENT, &vec![0; 1100]),
                DropReason::TooLong,
            ),
            (
                request_with(3, MODE_CLIENT, &nts_field),
                DropReason::AuthFailed,
            ),
            (request_with(4, MODE_CLIENT, &mac), DropReason::AuthFailed),
            (
                request_with(4, MODE_CLIENT, &[0; 4]),
                DropReason::AuthFailed,
            ),
            (
                request_with(4, MODE_CLIENT, &nts_field),
                DropReason::AuthFailed,
            ),
        ] {
            let before = r.counters().totals().dropped[reason.index()];
            assert_eq!(reply_to(&mut r, &datagram, CLIENT), None, "{reason:?}");
            assert_eq!(
                r.counters().totals().dropped[reason.index()],
                before + 1,
                "{reason:?}"
            );
        }
        assert_eq!(r.counters().totals().answered, 0);
    }

    #[test]
    fn an_unknown_extension_field_is_answered() {
        let mut r = responder(None);
        let mut field = vec![0u8; 28];
        field[..4].copy_from_slice(&[0x20, 0x00, 0, 28]);
        assert!(reply_to(&mut r, &request_with(4, MODE_CLIENT, &field), CLIENT).is_some());
    }

    #[test]
    fn bits_below_the_precision_are_random() {
        let mut r = responder(None);
        let mut receive_bits = 0u64;
        let mut transmit_bits = 0u64;
        for _ in 0..200 {
            let reply = reply_to(&mut r, &request(), CLIENT).unwrap();
            receive_bits |= reply.receive.0 ^ NtpTimestamp::from_unix(T2).0;
            transmit_bits |= reply.transmit.0 ^ NtpTimestamp::from_unix(T3).0;
        }
        // Precision -24: 8 random bits, T2's lowest set and T3's cleared as chronyd marks them.
        assert_eq!(receive_bits | 1, 0xFF);
        assert_eq!(transmit_bits | 1, 0xFF);
    }

    fn interleaving_responder(capacity: usize) -> Responder {
        let mut r = responder(None);
        r.keep_interleaved(InterleavedTimestamps::with_capacity(capacity));
        r.report_transmit_times(true);
        r
    }

    /// A request as an interleaved client sends it: `origin` the server's last receive
    /// timestamp, `receive` when the client got that reply.
    fn interleaved_request(origin: NtpTimestamp, receive: NtpTimestamp, transmit: u64) -> [u8; 48] {
        Header {
            version: 4,
            mode: MODE_CLIENT,
            origin,
            receive,
            transmit: NtpTimestamp(transmit),
            ..Header::default()
        }
        .to_bytes()
    }

    fn at(nanos: u32) -> UnixTime {
        UnixTime {
            secs: 1_700_000_000,
            nanos,
        }
    }

    /// Within the random bits below precision -24, and with chronyd's lowest-bit marks.
    fn same_time(sent: NtpTimestamp, time: UnixTime) -> bool {
        (sent.0 ^ NtpTimestamp::from_unix(time).0) < 1 << 8
    }

    /// First exchange of a client that can interleave: its origin is some receive timestamp
    /// (lowest bit set) the server never gave, so the reply is basic but leaves state.
    fn first_exchange(r: &mut Responder) -> Header {
        let mut out = [0u8; 48];
        let request = interleaved_request(NtpTimestamp(0x77), NtpTimestamp(0x10), 0x20);
        assert_eq!(
            r.respond(&request, CLIENT, Some(at(1000)), || at(2000), &mut out),
            48
        );
        Header::parse(&out).unwrap()
    }

    #[test]
    fn an_interleaved_request_gets_the_kernel_transmit_time_of_the_previous_reply() {
        let mut r = interleaving_responder(64);
        let first = first_exchange(&mut r);
        assert_eq!(
            first.origin,
            NtpTimestamp(0x20),
            "basic: the request's transmit"
        );
        assert_eq!(r.take_awaiting_transmit_time(), Some(first.receive));
        assert!(r.transmitted(first.receive, at(2500)));

        let mut out = [0u8; 48];
        let client_rx = NtpTimestamp(0xABCD_0000);
        let second = interleaved_request(first.receive, client_rx, 0x30);
        assert_eq!(
            r.respond(&second, CLIENT, Some(at(5000)), || at(6000), &mut out),
            48
        );
        let reply = Header::parse(&out).unwrap();
        assert_eq!(
            reply.origin, client_rx,
            "interleaved: the client's receive time"
        );
        assert!(same_time(reply.receive, at(5000)));
        assert!(
            same_time(reply.transmit, at(2500)),
            "the kernel's time of the first reply"
        );
        assert_eq!(reply.receive.0 & 1, 1);
        assert_eq!(reply.transmit.0 & 1, 0);
        assert_eq!(r.take_awaiting_transmit_time(), Some(reply.receive));
    }

    #[test]
    fn without_the_kernel_time_the_time_read_before_the_send_is_used() {
        let mut r = interleaving_responder(64);
        let first = first_exchange(&mut r);
        let mut out = [0u8; 48];
        let second = interleaved_request(first.receive, NtpTimestamp(0xABCD_0000), 0x30);
        r.respond(&second, CLIENT, Some(at(5000)), || at(6000), &mut out);
        let reply = Header::parse(&out).unwrap();
        assert_eq!(reply.origin, NtpTimestamp(0xABCD_0000));
        assert!(
            same_time(reply.transmit, at(2000)),
            "as chronyd: its own T3"
        );
    }

    #[test]
    fn an_origin_the_server_never_gave_gets_basic_mode() {
        let mut r = interleaving_responder(64);
        let first = first_exchange(&mut r);
        let mut out = [0u8; 48];
        for origin in [
            NtpTimestamp(first.receive.0 ^ 0x100),
            NtpTimestamp(first.receive.0 & !1),
        ] {
            let request = interleaved_request(origin, NtpTimestamp(0xABCD_0000), 0x30);
            r.respond(&request, CLIENT, Some(at(5000)), || at(6000), &mut out);
            let reply = Header::parse(&out).unwrap();
            assert_eq!(reply.origin, NtpTimestamp(0x30), "basic");
            assert!(same_time(reply.transmit, at(6000)));
        }
        let basic_ask = interleaved_request(first.receive, NtpTimestamp(0x30), 0x30);
        r.respond(&basic_ask, CLIENT, Some(at(5000)), || at(6000), &mut out);
        assert_eq!(Header::parse(&out).unwrap().origin, NtpTimestamp(0x30));
        assert_eq!(
            r.take_awaiting_transmit_time(),
            None,
            "receive = transmit: basic"
        );
    }

    #[test]
    fn a_receive_timestamp_is_answered_in_interleaved_mode_once() {
        let mut r = interleaving_responder(64);
        let first = first_exchange(&mut r);
        let mut out = [0u8; 48];
        let second = interleaved_request(first.receive, NtpTimestamp(0xABCD_0000), 0x30);
        r.respond(&second, CLIENT, Some(at(5000)), || at(6000), &mut out);
        r.respond(&second, CLIENT, Some(at(7000)), || at(8000), &mut out);
        assert_eq!(Header::parse(&out).unwrap().origin, NtpTimestamp(0x30));
    }

    #[test]
    fn without_transmit_times_every_request_is_basic() {
        let mut r = interleaving_responder(64);
        r.report_transmit_times(false);
        let first = first_exchange(&mut r);
        assert_eq!(r.take_awaiting_transmit_time(), None);
        let mut out = [0u8; 48];
        let second = interleaved_request(first.receive, NtpTimestamp(0xABCD_0000), 0x30);
        r.respond(&second, CLIENT, Some(at(5000)), || at(6000), &mut out);
        assert_eq!(Header::parse(&out).unwrap().origin, NtpTimestamp(0x30));
    }

    #[test]
    fn clients_beyond_the_table_push_out_the_oldest_state() {
        let mut r = interleaving_responder(8);
        let first = first_exchange(&mut r);
        let mut out = [0u8; 48];
        for n in 0..64u32 {
            let request = interleaved_request(NtpTimestamp(0x77), NtpTimestamp(0x10), 0x40);
            let client = SocketAddr::new(std::net::Ipv4Addr::new(127, 0, 1, n as u8).into(), 123);
            r.respond(&request, client, Some(at(3000 + n)), || at(4000), &mut out);
        }
        let second = interleaved_request(first.receive, NtpTimestamp(0xABCD_0000), 0x30);
        r.respond(&second, CLIENT, Some(at(5000)), || at(6000), &mut out);
        assert_eq!(
            Header::parse(&out).unwrap().origin,
            NtpTimestamp(0x30),
            "evicted: basic mode"
        );
    }

    #[test]
    fn a_kiss_of_death_is_never_interleaved() {
        let limiter = RateLimiter::new(3, 1, 4, 4, 524_288, 1);
        let mut r = responder(Some(limiter));
        r.keep_interleaved(InterleavedTimestamps::with_capacity(64));
        r.report_transmit_times(true);
        let first = first_exchange(&mut r);
        let mut out = [0u8; 48];
        let second = interleaved_request(first.receive, NtpTimestamp(0xABCD_0000), 0x30);
        let mut kissed = 0;
        for _ in 0..200 {
            if r.respond(&second, CLIENT, Some(at(5000)), || at(6000), &mut out) == 48 {
                let reply = Header::parse(&out).unwrap();
                if reply.stratum == 0 {
                    kissed += 1;
                    assert_eq!(reply.origin, NtpTimestamp(0x30));
                    assert_eq!(r.take_awaiting_transmit_time(), None);
                }
            }
        }
        assert!(kissed > 0);
    }
}
