//! An NTS source's client state (RFC 8915, by chronyd 4.3's nts_ntp_client.c rules): the keys and cookies of the last key establishment, which request carries which cookie, NAKs, and when a new key establishment is due.

use std::collections::VecDeque;

use super::local_time::LocalTime;
use crate::ntp::nts_cookies::SessionKeys;
use crate::ntp::nts_ntp::{self, ReplyProblem};
use crate::ntp::packet::HEADER_LEN;

/// The most cookies a client keeps (NTS_MAX_COOKIES).
pub const MAX_COOKIES: usize = 8;
/// The longest cookie kept (NKE_MAX_COOKIE_LENGTH).
const MAX_COOKIE_LEN: usize = 256;
/// chronyd asks for no more cookies than fit this many bytes, so requests are not fragmented.
const MAX_TOTAL_COOKIE_LEN: usize = 8 * 108;
const UNIQUE_ID_LEN: usize = 32;
const NONCE_LEN: usize = 16;
/// The random bytes one request needs: its unique identifier and its nonce.
pub const REQUEST_RANDOM_LEN: usize = UNIQUE_ID_LEN + NONCE_LEN;
/// Log2 of the seconds before retrying a key establishment that failed to connect, or that
/// got as far as TLS (nts_ke.h's NKE_RETRY_FACTOR2_*), and the longest wait (2^19 s).
const RETRY_FACTOR_CONNECT: u32 = 4;
const RETRY_FACTOR_TLS: u32 = 10;
const MAX_RETRY_INTERVAL_LOG2: u32 = 19;

/// What one successful NTS-KE session gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Established {
    pub keys: SessionKeys,
    pub cookies: Vec<Vec<u8>>,
}

/// Why an NTS-KE session gave nothing; how far it got decides when to try again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeFailure {
    /// The TLS handshake completed, or failed on something other than the connection.
    pub reached_tls: bool,
}

/// Whether a request may be sent now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Cookies and keys are at hand.
    Ready,
    /// None: start an NTS-KE session now (the state counts it as started).
    StartKe,
    /// None, and a session is running or the next attempt is not due yet.
    Waiting,
}

/// The request whose reply is awaited.
struct Pending {
    unique_id: [u8; UNIQUE_ID_LEN],
    /// An authentic reply was taken; a second one is ignored.
    answered: bool,
}

/// One source's NTS client state.
pub struct NtsClient {
    /// `ntsrefresh`: the keys and cookies are dropped when older than this.
    refresh: f64,
    keys: Option<SessionKeys>,
    /// How many sessions gave keys, as chronyd's context ID.
    context_id: u32,
    cookies: VecDeque<Vec<u8>>,
    ke_attempts: u32,
    ke_running: bool,
    next_ke_attempt: Option<LocalTime>,
    last_ke_success: Option<LocalTime>,
    /// The last reply to the pending request was an NTS NAK.
    nak: bool,
    pending: Option<Pending>,
}

/// The NTS part of `authdata`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NtsReport {
    pub context_id: u32,
    pub key_bits: u16,
    pub last_ke_ago: Option<u32>,
    pub ke_attempts: u16,
    pub nak: bool,
    pub cookies: u16,
    pub cookie_length: u16,
}

impl NtsClient {
    pub fn new(refresh_seconds: f64) -> NtsClient {
        NtsClient {
            refresh: refresh_seconds,
            keys: None,
            context_id: 0,
            cookies: VecDeque::new(),
            ke_attempts: 0,
            ke_running: false,
            next_ke_attempt: None,
            last_ke_success: None,
            nak: false,
            pending: None,
        }
    }

    /// Before a request: drops cookies a NAK or `ntsrefresh` made useless, and says whether
    /// the request can go or a key establishment must come first.
    pub fn prepare(&mut self, now: LocalTime) -> Readiness {
        let answered = self.pending.as_ref().is_none_or(|p| p.answered);
        let stale = self
            .last_ke_success
            .is_some_and(|at| now - at > self.refresh);
        if !self.cookies.is_empty() && ((self.nak && !answered) || stale) {
            self.cookies.clear();
        }
        if !self.cookies.is_empty() {
            self.nak = false;
            return Readiness::Ready;
        }
        if self.ke_running || self.next_ke_attempt.is_some_and(|at| now < at) {
            return Readiness::Waiting;
        }
        self.ke_running = true;
        self.ke_attempts += 1;
        self.schedule_retry(now, RETRY_FACTOR_CONNECT);
        Readiness::StartKe
    }

    /// The shell's NTS-KE session ended at `now`.
    pub fn ke_finished(&mut self, now: LocalTime, outcome: Result<Established, KeFailure>) {
        self.ke_running = false;
        let reached_tls = outcome.as_ref().map_or_else(|f| f.reached_tls, |_| true);
        self.schedule_retry(
            now,
            if reached_tls {
                RETRY_FACTOR_TLS
            } else {
                RETRY_FACTOR_CONNECT
            },
        );
        let Ok(established) = outcome else {
            return;
        };
        let usable: VecDeque<Vec<u8>> = established
            .cookies
            .into_iter()
            .filter(|cookie| usable_cookie(cookie))
            .take(MAX_COOKIES)
            .collect();
        if usable.is_empty() {
            return;
        }
        self.keys = Some(established.keys);
        self.cookies = usable;
        self.context_id += 1;
        self.last_ke_success = Some(now);
        self.pending = None;
    }

    fn schedule_retry(&mut self, now: LocalTime, factor: u32) {
        let log2 = (factor + self.ke_attempts.max(1) - 1).min(MAX_RETRY_INTERVAL_LOG2);
        self.next_ke_attempt = Some(now + f64::from(1u32 << log2));
    }

    /// Writes the NTS fields after the header in `out[..48]`: a fresh unique identifier, the
    /// oldest cookie, placeholders asking for the cookies missing, the authenticator.
    /// Returns the request's length; None when there is no cookie (call [`Self::prepare`]).
    pub fn write_request(
        &mut self,
        out: &mut [u8],
        random: &[u8; REQUEST_RANDOM_LEN],
    ) -> Option<usize> {
        let keys = self.keys.as_ref()?;
        let cookie = self.cookies.pop_front()?;
        let wanted =
            (MAX_COOKIES - self.cookies.len()).min(MAX_TOTAL_COOKIE_LEN / (cookie.len() + 4));
        let mut unique_id = [0u8; UNIQUE_ID_LEN];
        unique_id.copy_from_slice(&random[..UNIQUE_ID_LEN]);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&random[UNIQUE_ID_LEN..]);
        let len = nts_ntp::write_client_request(
            out,
            &unique_id,
            &cookie,
            wanted.saturating_sub(1),
            &keys.c2s,
            nonce,
        )?;
        self.pending = Some(Pending {
            unique_id,
            answered: false,
        });
        Some(len)
    }

    /// Checks a reply to the pending request: an authentic one gives its cookies (up to
    /// [`MAX_COOKIES`] kept) and allows a new key establishment as soon as they run out; a
    /// NAK makes the next request start one. Only the first authentic reply counts.
    pub fn check_reply(&mut self, reply: &[u8]) -> Result<(), ReplyProblem> {
        let (Some(keys), Some(pending)) = (&self.keys, &mut self.pending) else {
            return Err(ReplyProblem::Malformed);
        };
        if pending.answered || reply.len() <= HEADER_LEN {
            return Err(ReplyProblem::Malformed);
        }
        let cookies = &mut self.cookies;
        let mut fresh = 0;
        let opened = nts_ntp::open_reply(reply, &pending.unique_id, &keys.s2c, |cookie| {
            if usable_cookie(cookie) {
                fresh += 1;
                if cookies.len() < MAX_COOKIES {
                    cookies.push_back(cookie.to_vec());
                }
            }
        });
        match opened {
            Err(ReplyProblem::Nak) => {
                self.nak = true;
                Err(ReplyProblem::Nak)
            }
            Err(problem) => Err(problem),
            // chronyd takes no reply without a cookie in it.
            Ok(()) if fresh == 0 => Err(ReplyProblem::Malformed),
            Ok(()) => {
                pending.answered = true;
                self.ke_attempts = 0;
                self.next_ke_attempt = None;
                Ok(())
            }
        }
    }

    pub fn report(&self, now: LocalTime) -> NtsReport {
        let key_bits = self.keys.as_ref().map_or(0, |keys| keys.s2c.len() * 8);
        NtsReport {
            context_id: self.context_id,
            key_bits: key_bits as u16,
            last_ke_ago: self
                .last_ke_success
                .filter(|_| key_bits > 0)
                .map(|at| (now - at).max(0.0) as u32),
            ke_attempts: self.ke_attempts.min(u32::from(u16::MAX)) as u16,
            nak: self.nak,
            cookies: self.cookies.len() as u16,
            cookie_length: self.cookies.front().map_or(0, |c| c.len() as u16),
        }
    }
}

/// A cookie chronyd would keep: it fits its buffer and an extension field.
fn usable_cookie(cookie: &[u8]) -> bool {
    !cookie.is_empty() && cookie.len() <= MAX_COOKIE_LEN && cookie.len() % 4 == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntp::nts_cookies::{ServerKeys, COOKIE_LEN};
    use crate::ntp::nts_ntp::{
        check_request, write_authentic_reply, write_nak, NtsRequest, NAK_KISS,
    };

    fn server_keys() -> ServerKeys {
        let mut seed = 0u8;
        ServerKeys::generate(|| {
            seed += 1;
            [seed; 36]
        })
    }

    fn session() -> SessionKeys {
        SessionKeys {
            c2s: [1; 32],
            s2c: [2; 32],
        }
    }

    fn at(seconds: f64) -> LocalTime {
        LocalTime::from_seconds_since_epoch(seconds)
    }

    /// A client that made one key establishment at time 0 with `cookies` cookies.
    fn established(server: &ServerKeys, cookies: usize) -> NtsClient {
        let mut client = NtsClient::new(2_419_200.0);
        assert_eq!(client.prepare(at(0.0)), Readiness::StartKe);
        let cookies = (0..cookies)
            .map(|n| server.seal(&session(), [n as u8; 16]).to_vec())
            .collect();
        client.ke_finished(
            at(0.0),
            Ok(Established {
                keys: session(),
                cookies,
            }),
        );
        client
    }

    fn request(client: &mut NtsClient, seed: u8) -> Vec<u8> {
        let mut out = vec![0u8; 1200];
        out[0] = 0x23;
        let len = client
            .write_request(&mut out, &[seed; REQUEST_RANDOM_LEN])
            .unwrap();
        out.truncate(len);
        out
    }

    /// The server's answer to `request`, as ringd's shards make it.
    fn answer(server: &ServerKeys, request: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; nts_ntp::MAX_REPLY_LEN];
        out[0] = 0x24;
        out[1] = 2;
        let len = match check_request(request, server) {
            NtsRequest::Authentic {
                unique_id,
                keys,
                cookies,
            } => write_authentic_reply(
                &mut out,
                request.len(),
                unique_id,
                &keys,
                cookies,
                server,
                |b| b.fill(7),
            )
            .unwrap(),
            NtsRequest::Nak { unique_id } => {
                out[1] = 0;
                out[12..16].copy_from_slice(&NAK_KISS);
                write_nak(&mut out, unique_id).unwrap()
            }
            other => panic!("{other:?}"),
        };
        out.truncate(len);
        out
    }

    #[test]
    fn each_request_spends_one_cookie_and_asks_for_as_many_as_are_missing() {
        let server = server_keys();
        let mut client = established(&server, 8);
        assert_eq!(client.prepare(at(1.0)), Readiness::Ready);
        let first = request(&mut client, 1);
        let NtsRequest::Authentic { cookies, .. } = check_request(&first, &server) else {
            panic!("the server must accept it");
        };
        assert_eq!(cookies, 1, "seven left: one asked for, to have eight again");
        assert_eq!(client.report(at(1.0)).cookies, 7);
        client.check_reply(&answer(&server, &first)).unwrap();
        assert_eq!(client.report(at(1.0)).cookies, 8);

        // Unanswered requests spend cookies and ask for more each time.
        for seed in 2..=4 {
            assert_eq!(client.prepare(at(f64::from(seed))), Readiness::Ready);
            request(&mut client, seed);
        }
        let fourth = request(&mut client, 5);
        let NtsRequest::Authentic { cookies, .. } = check_request(&fourth, &server) else {
            panic!("the server must accept it");
        };
        assert_eq!((cookies, client.report(at(5.0)).cookies), (4, 4));
        assert_eq!(fourth.len(), HEADER_LEN + 36 + 4 * (4 + COOKIE_LEN) + 40);
    }

    #[test]
    fn a_reply_is_taken_once_and_only_for_the_pending_request() {
        let server = server_keys();
        let mut client = established(&server, 8);
        client.prepare(at(1.0));
        let old = request(&mut client, 1);
        let old_reply = answer(&server, &old);
        client.prepare(at(2.0));
        let new = request(&mut client, 2);
        assert_eq!(
            client.check_reply(&old_reply),
            Err(ReplyProblem::Malformed),
            "another request's unique identifier"
        );
        let mut forged = answer(&server, &new);
        let last = forged.len() - 1;
        forged[last] ^= 1;
        assert_eq!(client.check_reply(&forged), Err(ReplyProblem::NotAuthentic));
        let reply = answer(&server, &new);
        assert_eq!(client.check_reply(&reply), Ok(()));
        assert_eq!(
            client.check_reply(&reply),
            Err(ReplyProblem::Malformed),
            "a replay"
        );
    }

    #[test]
    fn a_nak_without_an_authentic_reply_starts_a_new_key_establishment() {
        let server = server_keys();
        let mut client = established(&server, 8);
        client.prepare(at(1.0));
        let sent = request(&mut client, 1);
        client.check_reply(&answer(&server, &sent)).unwrap();
        // The server lost its keys: the next cookie is refused.
        let other_server = ServerKeys::generate(|| [99; 36]);
        client.prepare(at(2.0));
        let refused = request(&mut client, 2);
        let nak = answer(&other_server, &refused);
        assert_eq!(client.check_reply(&nak), Err(ReplyProblem::Nak));
        assert!(client.report(at(2.0)).nak);
        assert_eq!(
            client.prepare(at(3.0)),
            Readiness::StartKe,
            "the authentic reply of the previous attempt reset the retry delay"
        );
        assert_eq!(client.report(at(3.0)).cookies, 0);
        assert_eq!(client.prepare(at(3.5)), Readiness::Waiting, "one at a time");
    }

    #[test]
    fn unanswered_requests_use_up_the_cookies_then_key_establishment_is_retried_later() {
        let server = server_keys();
        let mut client = established(&server, 8);
        for n in 1..=8u8 {
            assert_eq!(client.prepare(at(f64::from(n))), Readiness::Ready);
            request(&mut client, n);
        }
        // The session reached TLS: 2^(10 + 1 - 1) s from it before the next attempt.
        assert_eq!(client.prepare(at(9.0)), Readiness::Waiting);
        assert_eq!(client.prepare(at(1023.0)), Readiness::Waiting);
        assert_eq!(client.prepare(at(1024.0)), Readiness::StartKe);
        assert_eq!(client.report(at(1024.0)).ke_attempts, 2);
        // This one cannot connect: 2^(4 + 2 - 1) s.
        client.ke_finished(at(1030.0), Err(KeFailure { reached_tls: false }));
        assert_eq!(client.prepare(at(1061.0)), Readiness::Waiting);
        assert_eq!(client.prepare(at(1062.0)), Readiness::StartKe);
    }

    #[test]
    fn cookies_older_than_ntsrefresh_are_dropped_for_a_new_key_establishment() {
        let server = server_keys();
        let mut client = NtsClient::new(100.0);
        client.prepare(at(0.0));
        client.ke_finished(
            at(0.0),
            Ok(Established {
                keys: session(),
                cookies: vec![server.seal(&session(), [1; 16]).to_vec()],
            }),
        );
        assert_eq!(client.prepare(at(100.0)), Readiness::Ready);
        let sent = request(&mut client, 1);
        client.check_reply(&answer(&server, &sent)).unwrap();
        assert_eq!(client.prepare(at(100.5)), Readiness::StartKe);
    }

    #[test]
    fn the_report_shows_what_chronyc_authdata_shows() {
        let server = server_keys();
        let fresh = NtsClient::new(1e9).report(at(5.0));
        assert_eq!(
            (
                fresh.context_id,
                fresh.key_bits,
                fresh.last_ke_ago,
                fresh.cookies
            ),
            (0, 0, None, 0)
        );
        let client = established(&server, 8);
        let report = client.report(at(42.7));
        assert_eq!(
            report,
            NtsReport {
                context_id: 1,
                key_bits: 256,
                last_ke_ago: Some(42),
                ke_attempts: 1,
                nak: false,
                cookies: 8,
                cookie_length: COOKIE_LEN as u16,
            }
        );
    }

    #[test]
    fn a_key_establishment_without_cookies_gives_nothing() {
        let mut client = NtsClient::new(1e9);
        client.prepare(at(0.0));
        client.ke_finished(
            at(0.0),
            Ok(Established {
                keys: session(),
                cookies: vec![vec![1, 2, 3]],
            }),
        );
        assert_eq!(client.report(at(0.0)).context_id, 0);
        assert_eq!(client.prepare(at(1.0)), Readiness::Waiting);
    }
}
