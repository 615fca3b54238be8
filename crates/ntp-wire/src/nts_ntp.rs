//! NTS-protected NTP (RFC 8915 §5.7): requests and replies sealed and checked, the server's half and the client's.
//!
//! Nothing here allocates: a shard runs it for every NTS request.

use aes_siv::siv::Aes128Siv;
use aes_siv::KeyInit;

use crate::nts_cookies::{ServerKeys, SessionKeys, COOKIE_LEN, NONCE_LEN};
use crate::packet::HEADER_LEN;

pub const UNIQUE_IDENTIFIER: u16 = 0x0104;
pub const COOKIE: u16 = 0x0204;
pub const COOKIE_PLACEHOLDER: u16 = 0x0304;
pub const AUTHENTICATOR: u16 = 0x0404;
/// The kiss code of an NTS NAK: the cookie or the authenticator did not check.
pub const NAK_KISS: [u8; 4] = *b"NTSN";
/// RFC 8915 asks for at least 32 bytes of unique identifier; chronyd refuses less.
const MIN_UNIQUE_ID_LEN: usize = 32;
/// A nonce shorter than this is padded so that the authenticator is as long as with 16 bytes.
const MIN_UNPADDED_NONCE_LEN: usize = 16;
/// The most cookies one reply carries, as chronyd.
const MAX_COOKIES: usize = 8;
const TAG_LEN: usize = 16;
/// RFC 7822: what is left after the last extension field and is this short is a MAC.
const MAX_V4_MAC_LEN: usize = 24;
/// Extension fields are at least this long (RFC 7822).
const MIN_FIELD_LEN: usize = 16;
/// A cookie's extension field: header and cookie.
const COOKIE_FIELD_LEN: usize = 4 + COOKIE_LEN;
/// The longest reply this module writes, for the shard's buffers: a request this long or
/// longer is answered with a reply as long as chronyd's largest NTS reply.
pub const MAX_REPLY_LEN: usize = 1096;

/// One extension field of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    pub kind: u16,
    pub body: &'a [u8],
    /// Where the field starts in the packet.
    pub start: usize,
}

/// The extension fields of an NTPv4 packet, as chronyd parses them: each at least 16 bytes
/// and a multiple of 4; what remains when 24 bytes or fewer are left is a MAC. `Err` when a
/// field is malformed.
pub fn fields(packet: &[u8]) -> impl Iterator<Item = Result<Field<'_>, ()>> {
    let mut at = HEADER_LEN;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || packet.len() <= at || packet.len() - at <= MAX_V4_MAC_LEN {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([packet[at + 2], packet[at + 3]]));
        if len < MIN_FIELD_LEN || len % 4 != 0 || at + len > packet.len() {
            failed = true;
            return Some(Err(()));
        }
        let field = Field {
            kind: u16::from_be_bytes([packet[at], packet[at + 1]]),
            body: &packet[at + 4..at + len],
            start: at,
        };
        at += len;
        Some(Ok(field))
    })
}

/// What an NTS request asks for, once checked.
#[derive(Debug, PartialEq, Eq)]
pub enum NtsRequest<'a> {
    /// No NTS fields: an ordinary request.
    Plain,
    /// Cookie and authenticator check: answer with `cookies` new cookies sealed with the
    /// session's server-to-client key.
    Authentic {
        unique_id: &'a [u8],
        keys: SessionKeys,
        cookies: usize,
    },
    /// The cookie or the authenticator does not check: answer with an NTS NAK.
    Nak { unique_id: &'a [u8] },
    /// Broken NTS fields: drop.
    Malformed,
}

/// Checks the NTS fields of a client request `packet` (mode 3, NTPv4) against `server_keys`.
pub fn check_request<'a>(packet: &'a [u8], server_keys: &ServerKeys) -> NtsRequest<'a> {
    let mut unique_id = None;
    let mut cookie = None;
    let mut cookie_len = None;
    let mut cookies = 0;
    let mut authenticator = None;
    for field in fields(packet) {
        let Ok(field) = field else {
            return NtsRequest::Malformed;
        };
        if authenticator.is_some() {
            // The authenticator must be the last field.
            return NtsRequest::Malformed;
        }
        match field.kind {
            UNIQUE_IDENTIFIER => unique_id = Some(field.body),
            COOKIE | COOKIE_PLACEHOLDER => {
                if field.kind == COOKIE {
                    if cookie.is_some() {
                        return NtsRequest::Malformed;
                    }
                    cookie = Some(field.body);
                }
                if cookie_len.is_some_and(|len| len != field.body.len()) {
                    return NtsRequest::Malformed;
                }
                cookie_len = Some(field.body.len());
                cookies += 1;
            }
            AUTHENTICATOR => authenticator = Some(field),
            _ => {}
        }
    }
    let (Some(unique_id), Some(cookie), Some(authenticator)) = (unique_id, cookie, authenticator)
    else {
        return if unique_id.is_none() && cookie.is_none() && authenticator.is_none() {
            NtsRequest::Plain
        } else {
            NtsRequest::Malformed
        };
    };
    if unique_id.len() < MIN_UNIQUE_ID_LEN {
        return NtsRequest::Malformed;
    }
    let Ok(keys) = server_keys.open(cookie) else {
        return NtsRequest::Nak { unique_id };
    };
    let mut plaintext = [0u8; MAX_REPLY_LEN];
    let Some(plaintext) = open_authenticator(packet, authenticator, &keys.c2s, &mut plaintext)
    else {
        return NtsRequest::Nak { unique_id };
    };
    // Placeholders may also come encrypted.
    for field in fields_of(plaintext) {
        let Ok(field) = field else {
            return NtsRequest::Malformed;
        };
        if field.kind == COOKIE_PLACEHOLDER {
            if Some(field.body.len()) != cookie_len {
                return NtsRequest::Malformed;
            }
            cookies += 1;
        }
    }
    NtsRequest::Authentic {
        unique_id,
        keys,
        cookies: cookies.min(MAX_COOKIES),
    }
}

/// The fields of a decrypted authenticator's plaintext (no header, no MAC rule).
fn fields_of(plaintext: &[u8]) -> impl Iterator<Item = Result<Field<'_>, ()>> {
    let mut at = 0;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || at >= plaintext.len() {
            return None;
        }
        if plaintext.len() - at < 4 {
            failed = true;
            return Some(Err(()));
        }
        let len = usize::from(u16::from_be_bytes([plaintext[at + 2], plaintext[at + 3]]));
        if len < 4 || len % 4 != 0 || at + len > plaintext.len() {
            failed = true;
            return Some(Err(()));
        }
        let field = Field {
            kind: u16::from_be_bytes([plaintext[at], plaintext[at + 1]]),
            body: &plaintext[at + 4..at + len],
            start: at,
        };
        at += len;
        Some(Ok(field))
    })
}

fn padded(len: usize) -> usize {
    len.next_multiple_of(4)
}

/// The plaintext of the authenticator `field` of `packet`, decrypted with `c2s` into
/// `buffer`, the packet before the field being the associated data.
fn open_authenticator<'b>(
    packet: &[u8],
    field: Field<'_>,
    c2s: &[u8; 32],
    buffer: &'b mut [u8],
) -> Option<&'b [u8]> {
    let body = field.body;
    if body.len() < 4 {
        return None;
    }
    let nonce_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
    let ciphertext_len = usize::from(u16::from_be_bytes([body[2], body[3]]));
    if nonce_len < 1
        || ciphertext_len < TAG_LEN
        || padded(nonce_len) + padded(ciphertext_len) > body.len() - 4
        || body.len() < 4 + MIN_UNPADDED_NONCE_LEN + padded(ciphertext_len)
        || ciphertext_len - TAG_LEN > buffer.len()
    {
        return None;
    }
    let nonce = &body[4..4 + nonce_len];
    let ciphertext_start = 4 + padded(nonce_len);
    let (tag, sealed) = body[ciphertext_start..ciphertext_start + ciphertext_len].split_at(TAG_LEN);
    let plaintext = &mut buffer[..sealed.len()];
    plaintext.copy_from_slice(sealed);
    Aes128Siv::new(c2s.into())
        .decrypt_in_place_detached([&packet[..field.start], nonce], plaintext, tag.into())
        .ok()?;
    Some(plaintext)
}

/// Appends the fields of the reply to an authentic request after the reply's header in
/// `out[..HEADER_LEN]`: the unique identifier, then an authenticator sealing `cookies` new
/// cookies with the server-to-client key, padded so that the reply is as long as the request
/// (`request_len`) when that is longer. `random` fills nonces. Returns the reply's length.
pub fn write_authentic_reply(
    out: &mut [u8],
    request_len: usize,
    unique_id: &[u8],
    keys: &SessionKeys,
    cookies: usize,
    server_keys: &ServerKeys,
    mut random: impl FnMut(&mut [u8]),
) -> Option<usize> {
    let mut at = write_unique_id(out, unique_id)?;
    let plaintext_len = cookies * COOKIE_FIELD_LEN;
    let ciphertext_len = TAG_LEN + plaintext_len;
    let natural = 4 + 4 + NONCE_LEN + ciphertext_len;
    let wanted = padded(request_len.saturating_sub(at));
    let field_len = natural.max(wanted);
    if at + field_len > out.len() {
        return None;
    }
    let field_start = at;
    out[at..at + 2].copy_from_slice(&AUTHENTICATOR.to_be_bytes());
    out[at + 2..at + 4].copy_from_slice(&(field_len as u16).to_be_bytes());
    out[at + 4..at + 6].copy_from_slice(&(NONCE_LEN as u16).to_be_bytes());
    out[at + 6..at + 8].copy_from_slice(&(ciphertext_len as u16).to_be_bytes());
    at += 8;
    let mut nonce = [0u8; NONCE_LEN];
    random(&mut nonce);
    out[at..at + NONCE_LEN].copy_from_slice(&nonce);
    at += NONCE_LEN;
    let tag_at = at;
    let mut cookie_at = tag_at + TAG_LEN;
    for _ in 0..cookies {
        let mut cookie_nonce = [0u8; NONCE_LEN];
        random(&mut cookie_nonce);
        out[cookie_at..cookie_at + 2].copy_from_slice(&COOKIE.to_be_bytes());
        out[cookie_at + 2..cookie_at + 4].copy_from_slice(&(COOKIE_FIELD_LEN as u16).to_be_bytes());
        out[cookie_at + 4..cookie_at + COOKIE_FIELD_LEN]
            .copy_from_slice(&server_keys.seal(keys, cookie_nonce));
        cookie_at += COOKIE_FIELD_LEN;
    }
    out[cookie_at..field_start + field_len].fill(0);
    let (associated, rest) = out.split_at_mut(field_start);
    let plaintext_start = tag_at + TAG_LEN - field_start;
    let (tag_and_before, plaintext) = rest.split_at_mut(plaintext_start);
    let tag = Aes128Siv::new((&keys.s2c).into())
        .encrypt_in_place_detached(
            [&associated[..], &nonce[..]],
            &mut plaintext[..plaintext_len],
        )
        .ok()?;
    tag_and_before[tag_at - field_start..].copy_from_slice(&tag);
    Some(field_start + field_len)
}

/// Appends an NTS NAK's one field, the request's unique identifier, after the reply's header
/// (whose kiss code the caller sets to NAK_KISS). Returns the reply's length.
pub fn write_nak(out: &mut [u8], unique_id: &[u8]) -> Option<usize> {
    write_unique_id(out, unique_id)
}

fn write_unique_id(out: &mut [u8], unique_id: &[u8]) -> Option<usize> {
    let len = 4 + unique_id.len();
    if len % 4 != 0 || HEADER_LEN + len > out.len() {
        return None;
    }
    out[HEADER_LEN..HEADER_LEN + 2].copy_from_slice(&UNIQUE_IDENTIFIER.to_be_bytes());
    out[HEADER_LEN + 2..HEADER_LEN + 4].copy_from_slice(&(len as u16).to_be_bytes());
    out[HEADER_LEN + 4..HEADER_LEN + len].copy_from_slice(unique_id);
    Some(HEADER_LEN + len)
}

/// Why a client does not take a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyProblem {
    /// The server could not use the cookie (kiss code NTSN): a new KE is due.
    Nak,
    /// Fields missing, malformed, or another request's unique identifier.
    Malformed,
    /// The authenticator does not open with the server-to-client key.
    NotAuthentic,
}

/// Writes a client request after `header` (the first 48 bytes of `out`): the unique
/// identifier, the cookie, `placeholders` placeholders of the cookie's length, and an
/// authenticator over all of it sealed with `c2s` and `nonce`. Returns the length.
pub fn write_client_request(
    out: &mut [u8],
    unique_id: &[u8],
    cookie: &[u8],
    placeholders: usize,
    c2s: &[u8; 32],
    nonce: [u8; NONCE_LEN],
) -> Option<usize> {
    let mut at = write_unique_id(out, unique_id)?;
    let cookie_field = 4 + cookie.len();
    if cookie_field % 4 != 0
        || at + (1 + placeholders) * cookie_field + 8 + NONCE_LEN + TAG_LEN > out.len()
    {
        return None;
    }
    for kind in std::iter::once(COOKIE).chain(std::iter::repeat_n(COOKIE_PLACEHOLDER, placeholders))
    {
        out[at..at + 2].copy_from_slice(&kind.to_be_bytes());
        out[at + 2..at + 4].copy_from_slice(&(cookie_field as u16).to_be_bytes());
        if kind == COOKIE {
            out[at + 4..at + cookie_field].copy_from_slice(cookie);
        } else {
            out[at + 4..at + cookie_field].fill(0);
        }
        at += cookie_field;
    }
    let field_len = 8 + NONCE_LEN + TAG_LEN;
    let (associated, field) = out.split_at_mut(at);
    field[..2].copy_from_slice(&AUTHENTICATOR.to_be_bytes());
    field[2..4].copy_from_slice(&(field_len as u16).to_be_bytes());
    field[4..6].copy_from_slice(&(NONCE_LEN as u16).to_be_bytes());
    field[6..8].copy_from_slice(&(TAG_LEN as u16).to_be_bytes());
    field[8..8 + NONCE_LEN].copy_from_slice(&nonce);
    let tag = Aes128Siv::new(c2s.into())
        .encrypt_in_place_detached([&associated[..], &nonce[..]], &mut [])
        .ok()?;
    field[8 + NONCE_LEN..field_len].copy_from_slice(&tag);
    Some(at + field_len)
}

/// Checks a server's reply to a request with `unique_id` and hands each new cookie to
/// `take_cookie`. A NAK is recognised by its kiss code before anything is decrypted.
pub fn open_reply(
    reply: &[u8],
    unique_id: &[u8],
    s2c: &[u8; 32],
    mut take_cookie: impl FnMut(&[u8]),
) -> Result<(), ReplyProblem> {
    if reply.len() < HEADER_LEN {
        return Err(ReplyProblem::Malformed);
    }
    let mut echoed = false;
    let mut authenticator = None;
    for field in fields(reply) {
        let field = field.map_err(|_| ReplyProblem::Malformed)?;
        match field.kind {
            UNIQUE_IDENTIFIER => echoed = field.body == unique_id,
            AUTHENTICATOR => authenticator = Some(field),
            _ => {}
        }
    }
    if !echoed {
        return Err(ReplyProblem::Malformed);
    }
    let kiss = reply[1] == 0 && reply[12..16] == NAK_KISS;
    let Some(authenticator) = authenticator else {
        return Err(if kiss {
            ReplyProblem::Nak
        } else {
            ReplyProblem::Malformed
        });
    };
    let mut buffer = [0u8; MAX_REPLY_LEN];
    let plaintext = open_authenticator(reply, authenticator, s2c, &mut buffer)
        .ok_or(ReplyProblem::NotAuthentic)?;
    for field in fields_of(plaintext) {
        let field = field.map_err(|_| ReplyProblem::Malformed)?;
        if field.kind == COOKIE {
            take_cookie(field.body);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn push_field(packet: &mut Vec<u8>, kind: u16, body: &[u8]) {
        packet.extend_from_slice(&kind.to_be_bytes());
        packet.extend_from_slice(&((4 + body.len()) as u16).to_be_bytes());
        packet.extend_from_slice(body);
    }

    /// A client's request as RFC 8915 and chronyd's client build it: header, unique
    /// identifier, cookie, `placeholders` placeholders, authenticator over all of it.
    fn client_request(cookie: &[u8], placeholders: usize, c2s: &[u8; 32]) -> Vec<u8> {
        let mut packet = vec![0u8; HEADER_LEN];
        packet[0] = 0x23; // NTPv4, client
        push_field(&mut packet, UNIQUE_IDENTIFIER, &[0xAB; 32]);
        push_field(&mut packet, COOKIE, cookie);
        for _ in 0..placeholders {
            push_field(&mut packet, COOKIE_PLACEHOLDER, &vec![0; cookie.len()]);
        }
        let nonce = [9u8; 16];
        let mut sealed: [u8; 0] = [];
        let tag = Aes128Siv::new(c2s.into())
            .encrypt_in_place_detached([&packet[..], &nonce[..]], &mut sealed)
            .unwrap();
        let mut body = Vec::new();
        body.extend_from_slice(&16u16.to_be_bytes());
        body.extend_from_slice(&16u16.to_be_bytes());
        body.extend_from_slice(&nonce);
        body.extend_from_slice(&tag);
        push_field(&mut packet, AUTHENTICATOR, &body);
        packet
    }

    #[test]
    fn an_authentic_request_gets_as_many_cookies_as_it_asked_for_in_a_reply_no_longer() {
        let keys = server_keys();
        let cookie = keys.seal(&session(), [5; NONCE_LEN]);
        let request = client_request(&cookie, 3, &session().c2s);
        let NtsRequest::Authentic {
            unique_id,
            keys: agreed,
            cookies,
        } = check_request(&request, &keys)
        else {
            panic!("not authentic: {:?}", check_request(&request, &keys));
        };
        assert_eq!(unique_id, &[0xAB; 32]);
        assert_eq!(agreed, session());
        assert_eq!(cookies, 4);

        let mut out = [0u8; MAX_REPLY_LEN];
        out[0] = 0x24;
        let mut counter = 0u8;
        let len = write_authentic_reply(
            &mut out,
            request.len(),
            unique_id,
            &agreed,
            cookies,
            &keys,
            |b| {
                counter += 1;
                b.fill(counter)
            },
        )
        .unwrap();
        assert_eq!(
            len,
            request.len(),
            "no amplification: as long as the request"
        );
        assert_eq!(len % 4, 0);

        // The client's view: the unique identifier echoed, the authenticator opens with
        // the server-to-client key and holds four cookies this server accepts.
        let reply = &out[..len];
        let reply_fields: Vec<Field> = fields(reply).map(Result::unwrap).collect();
        assert_eq!(reply_fields[0].kind, UNIQUE_IDENTIFIER);
        assert_eq!(reply_fields[0].body, &[0xAB; 32]);
        assert_eq!(reply_fields[1].kind, AUTHENTICATOR);
        let mut buffer = [0u8; MAX_REPLY_LEN];
        let plaintext =
            open_authenticator(reply, reply_fields[1], &session().s2c, &mut buffer).unwrap();
        let new_cookies: Vec<Field> = fields_of(plaintext).map(Result::unwrap).collect();
        assert_eq!(new_cookies.len(), 4);
        for new_cookie in new_cookies {
            assert_eq!(new_cookie.kind, COOKIE);
            assert_eq!(keys.open(new_cookie.body), Ok(session()));
        }
        assert!(
            open_authenticator(reply, reply_fields[1], &session().c2s, &mut buffer).is_none(),
            "sealed with the other direction's key"
        );
    }

    #[test]
    fn a_bad_cookie_or_authenticator_gets_a_nak_and_broken_fields_a_drop() {
        let keys = server_keys();
        let cookie = keys.seal(&session(), [5; NONCE_LEN]);

        let forged = client_request(&cookie, 0, &[7; 32]);
        assert_eq!(
            check_request(&forged, &keys),
            NtsRequest::Nak {
                unique_id: &[0xAB; 32]
            }
        );
        let mut bad_cookie = cookie;
        bad_cookie[50] ^= 1;
        let request = client_request(&bad_cookie, 0, &session().c2s);
        assert!(matches!(
            check_request(&request, &keys),
            NtsRequest::Nak { .. }
        ));

        let mut altered = client_request(&cookie, 0, &session().c2s);
        altered[40] ^= 1; // the transmit timestamp, covered by the authenticator
        assert!(matches!(
            check_request(&altered, &keys),
            NtsRequest::Nak { .. }
        ));

        let mut out = [0u8; MAX_REPLY_LEN];
        assert_eq!(write_nak(&mut out, &[0xAB; 32]), Some(HEADER_LEN + 36));

        let mut truncated = client_request(&cookie, 0, &session().c2s);
        let cut = truncated.len() - 40;
        truncated.truncate(cut);
        assert_eq!(check_request(&truncated, &keys), NtsRequest::Malformed);

        let mut no_auth = vec![0u8; HEADER_LEN];
        push_field(&mut no_auth, UNIQUE_IDENTIFIER, &[1; 32]);
        push_field(&mut no_auth, COOKIE, &cookie);
        assert_eq!(check_request(&no_auth, &keys), NtsRequest::Malformed);

        let mut plain = vec![0u8; HEADER_LEN];
        push_field(&mut plain, 0x2005, &[0; 12]);
        assert_eq!(check_request(&plain, &keys), NtsRequest::Plain);
        assert_eq!(check_request(&[0u8; HEADER_LEN], &keys), NtsRequest::Plain);
    }

    #[test]
    fn the_client_half_speaks_with_the_server_half() {
        let keys = server_keys();
        let cookie = keys.seal(&session(), [5; NONCE_LEN]);
        let mut request = [0u8; MAX_REPLY_LEN];
        request[0] = 0x23;
        let uid = [0x5A; 32];
        let len =
            write_client_request(&mut request, &uid, &cookie, 2, &session().c2s, [3; 16]).unwrap();
        assert_eq!(len, HEADER_LEN + 36 + 3 * 104 + 40);
        let NtsRequest::Authentic {
            cookies,
            keys: agreed,
            ..
        } = check_request(&request[..len], &keys)
        else {
            panic!("the server refused the client's request");
        };
        assert_eq!(cookies, 3);
        let mut reply = [0u8; MAX_REPLY_LEN];
        reply[0] = 0x24;
        reply[1] = 2;
        let reply_len =
            write_authentic_reply(&mut reply, len, &uid, &agreed, cookies, &keys, |b| {
                b.fill(1)
            })
            .unwrap();
        let mut received = Vec::new();
        open_reply(&reply[..reply_len], &uid, &session().s2c, |c| {
            received.push(c.to_vec())
        })
        .unwrap();
        assert_eq!(received.len(), 3);
        assert_eq!(
            open_reply(&reply[..reply_len], &[0x5B; 32], &session().s2c, |_| {}),
            Err(ReplyProblem::Malformed),
            "another request's identifier"
        );
        assert_eq!(
            open_reply(&reply[..reply_len], &uid, &session().c2s, |_| {}),
            Err(ReplyProblem::NotAuthentic)
        );
        let mut nak = [0u8; MAX_REPLY_LEN];
        nak[0] = 0x24;
        nak[12..16].copy_from_slice(&NAK_KISS);
        let nak_len = write_nak(&mut nak, &uid).unwrap();
        assert_eq!(
            open_reply(&nak[..nak_len], &uid, &session().s2c, |_| {}),
            Err(ReplyProblem::Nak)
        );
    }

    #[test]
    fn fields_follow_chronyds_parsing_rules() {
        let mut packet = vec![0u8; HEADER_LEN];
        push_field(&mut packet, 1, &[0; 12]);
        packet.extend_from_slice(&[0; 20]); // a MAC: key ID and 16 bytes
        assert_eq!(fields(&packet).count(), 1);
        let mut short = vec![0u8; HEADER_LEN];
        push_field(&mut short, 1, &[0; 8]);
        push_field(&mut short, 1, &[0; 20]);
        assert_eq!(fields(&short).next(), Some(Err(())), "a 12-byte field");
    }
}
