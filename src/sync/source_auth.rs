//! How a source's requests are authenticated and its replies checked: not at all, with a symmetric key (`key N`), or with NTS (`nts`).

use super::local_time::LocalTime;
use super::nts_client::{NtsClient, Readiness, REQUEST_RANDOM_LEN};
use super::report::{AuthDataReport, AuthMode};
use crate::ntp::nts_ke::AEAD_AES_SIV_CMAC_256;
use crate::ntp::packet::HEADER_LEN;
use crate::ntp::symmetric_keys::{
    CmacCipher, HashFunction, MacAlgorithm, SymmetricKey, LONGEST_V4_DIGEST,
};

/// The longest request written: an NTS request with its cookie and placeholders.
pub const MAX_REQUEST_LEN: usize = 1200;
/// The random bytes a request may need.
pub const RANDOM_LEN: usize = REQUEST_RANDOM_LEN;

/// One source's authentication.
pub enum SourceAuth {
    None,
    /// `key N`; `key` is None when the keyfile has no key N, and then no request is sent, as
    /// with chronyd.
    Symmetric {
        id: u32,
        key: Option<SymmetricKey>,
    },
    Nts(Box<NtsClient>),
}

/// What to do about the next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Send the first `len` bytes.
    Send(usize),
    /// Send nothing: start an NTS-KE session for this source.
    StartKe,
    /// Send nothing now (NTS-KE running or not due, or the key is missing).
    Skip,
}

impl SourceAuth {
    /// Completes the request whose header (with our transmit timestamp) is in
    /// `out[..HEADER_LEN]`. `random` is fresh random bytes.
    pub fn request(
        &mut self,
        now: LocalTime,
        out: &mut [u8; MAX_REQUEST_LEN],
        random: &[u8; RANDOM_LEN],
    ) -> Request {
        match self {
            SourceAuth::None => Request::Send(HEADER_LEN),
            SourceAuth::Symmetric { key: None, .. } => Request::Skip,
            SourceAuth::Symmetric { key: Some(key), .. } => {
                let version = suggested_version(key);
                out[0] = (out[0] & !0x38) | (version << 3);
                key.append_mac(out, HEADER_LEN, version)
                    .map_or(Request::Skip, Request::Send)
            }
            SourceAuth::Nts(client) => match client.prepare(now) {
                Readiness::StartKe => Request::StartKe,
                Readiness::Waiting => Request::Skip,
                Readiness::Ready => client
                    .write_request(out, random)
                    .map_or(Request::Skip, Request::Send),
            },
        }
    }

    /// Whether `reply` is authentic, as test 5 of chronyd's checks it; a source without
    /// authentication takes every reply.
    pub fn check_reply(&mut self, reply: &[u8]) -> bool {
        match self {
            SourceAuth::None => true,
            SourceAuth::Symmetric { key: None, .. } => false,
            SourceAuth::Symmetric { key: Some(key), .. } => {
                let version = reply.first().map_or(0, |b| (b >> 3) & 7);
                reply.len() > HEADER_LEN && key.check_mac(reply, HEADER_LEN, version)
            }
            SourceAuth::Nts(client) => client.check_reply(reply).is_ok(),
        }
    }

    /// This source's line of `authdata`.
    pub fn report(&self, name: String, now: LocalTime) -> AuthDataReport {
        match self {
            SourceAuth::None => AuthDataReport {
                name,
                ..AuthDataReport::default()
            },
            SourceAuth::Symmetric { id, key } => AuthDataReport {
                name,
                mode: AuthMode::Symmetric,
                key_id: *id,
                key_type: key
                    .as_ref()
                    .map_or(0, |k| chrony_type_number(k.algorithm())),
                key_bits: key.as_ref().map_or(0, |k| k.bits() as u16),
                ..AuthDataReport::default()
            },
            SourceAuth::Nts(client) => {
                let nts = client.report(now);
                AuthDataReport {
                    name,
                    mode: AuthMode::Nts,
                    key_id: nts.context_id,
                    key_type: if nts.key_bits > 0 {
                        AEAD_AES_SIV_CMAC_256
                    } else {
                        0
                    },
                    key_bits: nts.key_bits,
                    last_ke_ago: nts.last_ke_ago,
                    ke_attempts: nts.ke_attempts,
                    nak: nts.nak,
                    cookies: nts.cookies,
                    cookie_length: nts.cookie_length,
                }
            }
        }
    }

    /// The NTS state, to hand it the outcome of a key establishment.
    pub fn nts(&mut self) -> Option<&mut NtsClient> {
        match self {
            SourceAuth::Nts(client) => Some(client),
            _ => None,
        }
    }
}

/// NTPv3 when the MAC would be truncated in NTPv4, so that older chronyd servers check it
/// (chronyd's NAU_GetSuggestedNtpVersion).
fn suggested_version(key: &SymmetricKey) -> u8 {
    if key.algorithm().mac_len() > LONGEST_V4_DIGEST {
        3
    } else {
        4
    }
}

/// chrony's numbers for the key types (hash.h's HSH_*, cmac.h's CMC_*), which `authdata`
/// shows in its Type column.
fn chrony_type_number(algorithm: MacAlgorithm) -> u16 {
    use HashFunction::*;
    match algorithm {
        MacAlgorithm::Hash(Md5) => 1,
        MacAlgorithm::Hash(Sha1) => 2,
        MacAlgorithm::Hash(Sha256) => 3,
        MacAlgorithm::Hash(Sha384) => 4,
        MacAlgorithm::Hash(Sha512) => 5,
        MacAlgorithm::Hash(Sha3_224) => 6,
        MacAlgorithm::Hash(Sha3_256) => 7,
        MacAlgorithm::Hash(Sha3_384) => 8,
        MacAlgorithm::Hash(Sha3_512) => 9,
        MacAlgorithm::Cmac(CmacCipher::Aes128) => 13,
        MacAlgorithm::Cmac(CmacCipher::Aes256) => 14,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntp::packet::Header;

    fn key(id: &str, kind: &str, secret: &str) -> SymmetricKey {
        SymmetricKey::from_words(id, kind, secret).unwrap()
    }

    fn header() -> [u8; MAX_REQUEST_LEN] {
        let mut out = [0u8; MAX_REQUEST_LEN];
        out[0] = 0x23;
        out[40..48].copy_from_slice(&0x1234_5678_9ABC_DEF0u64.to_be_bytes());
        out
    }

    /// A server's reply to `request`, signed by `signer` as chronyd signs it.
    fn reply(request: &[u8], signer: &SymmetricKey) -> Vec<u8> {
        let mut out = [0u8; 200];
        out[0] = (request[0] & 0x38) | 4;
        out[1] = 2;
        out[24..32].copy_from_slice(&request[40..48]);
        let version = (request[0] >> 3) & 7;
        let len = signer.append_mac(&mut out, HEADER_LEN, version).unwrap();
        out[..len].to_vec()
    }

    #[test]
    fn a_keyed_request_carries_chronyds_mac_and_only_a_reply_by_the_same_key_counts() {
        let sha1 = key("1", "SHA1", "HEX:1DC764E0791B11FA67EFC7ECBC4B0D73F68A070C");
        let mut auth = SourceAuth::Symmetric {
            id: 1,
            key: Some(sha1.clone()),
        };
        let mut out = header();
        let Request::Send(len) = auth.request(LocalTime::EPOCH, &mut out, &[0; RANDOM_LEN]) else {
            panic!("a known key signs");
        };
        assert_eq!(len, 72, "48 + key ID + SHA1's 20 bytes");
        assert!(sha1.check_mac(&out[..len], HEADER_LEN, 4));
        assert!(auth.check_reply(&reply(&out[..len], &sha1)));

        let impostor = key("1", "SHA1", "HEX:00C764E0791B11FA67EFC7ECBC4B0D73F68A070C");
        let other_id = key("2", "SHA1", "HEX:1DC764E0791B11FA67EFC7ECBC4B0D73F68A070C");
        assert!(!auth.check_reply(&reply(&out[..len], &impostor)));
        assert!(!auth.check_reply(&reply(&out[..len], &other_id)));
        assert!(!auth.check_reply(&out[..HEADER_LEN]), "no MAC at all");
    }

    #[test]
    fn a_mac_longer_than_ntpv4_allows_goes_in_ntpv3_untruncated() {
        let sha512 = key("7", "SHA512", "HEX:00112233445566778899AABBCCDDEEFF");
        let mut auth = SourceAuth::Symmetric {
            id: 7,
            key: Some(sha512.clone()),
        };
        let mut out = header();
        let Request::Send(len) = auth.request(LocalTime::EPOCH, &mut out, &[0; RANDOM_LEN]) else {
            panic!("a known key signs");
        };
        assert_eq!(len, HEADER_LEN + 4 + 64);
        assert_eq!(Header::parse(&out).unwrap().version, 3);
        assert!(auth.check_reply(&reply(&out[..len], &sha512)));
    }

    #[test]
    fn a_missing_key_sends_nothing_and_is_reported_without_type() {
        let mut auth = SourceAuth::Symmetric { id: 9, key: None };
        let mut out = header();
        assert_eq!(
            auth.request(LocalTime::EPOCH, &mut out, &[0; RANDOM_LEN]),
            Request::Skip
        );
        let report = auth.report("a".into(), LocalTime::EPOCH);
        assert_eq!(
            (report.mode, report.key_id, report.key_type, report.key_bits),
            (AuthMode::Symmetric, 9, 0, 0)
        );
    }

    #[test]
    fn the_report_numbers_key_types_as_chrony_does() {
        let aes = key("3", "AES128", "HEX:2B7E151628AED2A6ABF7158809CF4F3C");
        let report = SourceAuth::Symmetric {
            id: 3,
            key: Some(aes),
        }
        .report("a".into(), LocalTime::EPOCH);
        assert_eq!((report.key_type, report.key_bits), (13, 128));
        let none = SourceAuth::None.report("b".into(), LocalTime::EPOCH);
        assert_eq!((none.mode, none.last_ke_ago), (AuthMode::None, None));
    }

    #[test]
    fn an_nts_source_starts_with_a_key_establishment() {
        let mut auth = SourceAuth::Nts(Box::new(NtsClient::new(1e6)));
        let mut out = header();
        assert_eq!(
            auth.request(LocalTime::EPOCH, &mut out, &[0; RANDOM_LEN]),
            Request::StartKe
        );
        assert_eq!(
            auth.request(LocalTime::EPOCH + 1.0, &mut out, &[0; RANDOM_LEN]),
            Request::Skip
        );
        assert!(!auth.check_reply(&out[..HEADER_LEN]));
        let report = auth.report("n".into(), LocalTime::EPOCH);
        assert_eq!(
            (report.mode, report.key_type, report.ke_attempts),
            (AuthMode::Nts, 0, 1)
        );
    }
}
