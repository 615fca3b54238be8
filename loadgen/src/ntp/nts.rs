//! `--nts`: one NTS-KE handshake per generator thread, then cookies kept and spent as an NTS client keeps them.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::bail;
use ntp_wire::nts_ntp::{self, ReplyProblem};
use ntp_wire::packet::{NtpTimestamp, HEADER_LEN};

use crate::nts_ke::handshake::{exchange, KeTarget};

/// The cookies a client holds at most, as chronyd's client.
const MAX_COOKIES: usize = 8;

/// What one KE handshake gave: the keys, the cookies, and the NTP port the server named.
pub struct NtsSession {
    c2s: [u8; 32],
    s2c: [u8; 32],
    cookies: VecDeque<Vec<u8>>,
    /// The last cookie spent, used again when the server's replies stop bringing new ones.
    last_cookie: Vec<u8>,
    /// Random bytes that make this session's unique identifiers its own.
    salt: [u8; 24],
}

impl NtsSession {
    /// Runs the KE handshake with `target`.
    pub fn establish(target: &KeTarget) -> anyhow::Result<NtsSession> {
        let any = match target.address.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let established = exchange(target, SocketAddr::new(any, 0))
            .map_err(|failure| anyhow::anyhow!("NTS-KE with {}: {failure}", target.address))?;
        let mut salt = [0u8; 24];
        ringd_sys::crypt::fill_random(&mut salt)?;
        let Some(first) = established.cookies.first().cloned() else {
            bail!("the NTS-KE answer holds no cookie");
        };
        Ok(NtsSession {
            c2s: established.c2s,
            s2c: established.s2c,
            cookies: established.cookies.into(),
            last_cookie: first,
            salt,
        })
    }

    /// The unique identifier of the request sent at `transmit`: known again from the reply's
    /// origin timestamp, so nothing is stored per request.
    fn unique_id(&self, transmit: NtpTimestamp) -> [u8; 32] {
        let mut id = [0u8; 32];
        id[..24].copy_from_slice(&self.salt);
        id[24..].copy_from_slice(&transmit.0.to_be_bytes());
        id
    }

    /// Writes the NTS fields of the request whose header is in `buffer[..48]` and returns its
    /// length: the next cookie, and placeholders for the cookies the client lacks.
    pub fn write_request(&mut self, buffer: &mut [u8], transmit: NtpTimestamp) -> usize {
        if let Some(cookie) = self.cookies.pop_front() {
            self.last_cookie = cookie;
        }
        let wanted = MAX_COOKIES.saturating_sub(self.cookies.len() + 1);
        let mut nonce = [0u8; 16];
        ringd_sys::crypt::fill_random(&mut nonce).expect("the kernel's random source");
        nts_ntp::write_client_request(
            buffer,
            &self.unique_id(transmit),
            &self.last_cookie,
            wanted.min(placeholders_that_fit(buffer.len(), self.last_cookie.len())),
            &self.c2s,
            nonce,
        )
        .unwrap_or(HEADER_LEN)
    }

    /// Checks a reply to the request sent at `transmit` and keeps its cookies.
    pub fn take_reply(&mut self, reply: &[u8], transmit: NtpTimestamp) -> Result<(), ReplyProblem> {
        let id = self.unique_id(transmit);
        let cookies = &mut self.cookies;
        nts_ntp::open_reply(reply, &id, &self.s2c, |cookie| {
            if cookies.len() < MAX_COOKIES {
                cookies.push_back(cookie.to_vec());
            }
        })
    }
}

/// Placeholders that still leave room for the identifier, cookie and authenticator.
fn placeholders_that_fit(buffer: usize, cookie: usize) -> usize {
    let fixed = HEADER_LEN + 36 + (4 + cookie) + 40;
    buffer.saturating_sub(fixed) / (4 + cookie)
}
