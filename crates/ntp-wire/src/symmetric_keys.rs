//! Symmetric NTP keys: chrony's key file, and the MACs made and checked with its keys.

use std::fmt;

use aes::{Aes128, Aes256};
use cmac::{Cmac, Mac};
use digest::Digest;
use subtle::ConstantTimeEq;

/// chronyd warns about keys shorter than this many bytes (80 bits) but still uses them.
const SHORTEST_SECURE_KEY: usize = 10;
/// The longest MAC any algorithm here produces (SHA-512 and SHA3-512).
pub const LONGEST_MAC: usize = 64;
/// The longest digest an NTPv4 packet carries (RFC 7822): longer MACs are truncated to it, so
/// that a MAC can be told from an extension field.
pub const LONGEST_V4_DIGEST: usize = 20;
const KEY_ID_LEN: usize = 4;

/// How a key turns a packet into its MAC, by chrony's key file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacAlgorithm {
    /// NTP's classic MAC: the hash of the key followed by the packet.
    Hash(HashFunction),
    /// AES-CMAC of the packet (RFC 8573), the key being the cipher's key.
    Cmac(CmacCipher),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFunction {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
    Sha3_224,
    Sha3_256,
    Sha3_384,
    Sha3_512,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmacCipher {
    Aes128,
    Aes256,
}

impl MacAlgorithm {
    /// The algorithm a key file's type word names, or why it cannot be used.
    fn from_name(name: &str) -> Result<MacAlgorithm, &'static str> {
        use HashFunction::*;
        Ok(match name {
            "MD5" => MacAlgorithm::Hash(Md5),
            "SHA1" => MacAlgorithm::Hash(Sha1),
            "SHA256" => MacAlgorithm::Hash(Sha256),
            "SHA384" => MacAlgorithm::Hash(Sha384),
            "SHA512" => MacAlgorithm::Hash(Sha512),
            "SHA3-224" => MacAlgorithm::Hash(Sha3_224),
            "SHA3-256" => MacAlgorithm::Hash(Sha3_256),
            "SHA3-384" => MacAlgorithm::Hash(Sha3_384),
            "SHA3-512" => MacAlgorithm::Hash(Sha3_512),
            "AES128" => MacAlgorithm::Cmac(CmacCipher::Aes128),
            "AES256" => MacAlgorithm::Cmac(CmacCipher::Aes256),
            // Names chronyd knows but builds only with some crypto libraries.
            "TIGER" | "WHIRLPOOL" => return Err("unsupported hash function"),
            _ => return Err("unknown type"),
        })
    }

    /// chrony's name for the algorithm, as `authdata` and the key file show it.
    pub fn name(self) -> &'static str {
        use HashFunction::*;
        match self {
            MacAlgorithm::Hash(Md5) => "MD5",
            MacAlgorithm::Hash(Sha1) => "SHA1",
            MacAlgorithm::Hash(Sha256) => "SHA256",
            MacAlgorithm::Hash(Sha384) => "SHA384",
            MacAlgorithm::Hash(Sha512) => "SHA512",
            MacAlgorithm::Hash(Sha3_224) => "SHA3-224",
            MacAlgorithm::Hash(Sha3_256) => "SHA3-256",
            MacAlgorithm::Hash(Sha3_384) => "SHA3-384",
            MacAlgorithm::Hash(Sha3_512) => "SHA3-512",
            MacAlgorithm::Cmac(CmacCipher::Aes128) => "AES128",
            MacAlgorithm::Cmac(CmacCipher::Aes256) => "AES256",
        }
    }

    /// The length of the untruncated MAC in bytes.
    pub fn mac_len(self) -> usize {
        use HashFunction::*;
        match self {
            MacAlgorithm::Hash(Md5) => 16,
            MacAlgorithm::Hash(Sha1) => 20,
            MacAlgorithm::Hash(Sha256 | Sha3_256) => 32,
            MacAlgorithm::Hash(Sha3_224) => 28,
            MacAlgorithm::Hash(Sha384 | Sha3_384) => 48,
            MacAlgorithm::Hash(Sha512 | Sha3_512) => 64,
            MacAlgorithm::Cmac(_) => 16,
        }
    }
}

/// The secret of one key, prepared for its algorithm.
#[derive(Clone)]
enum Secret {
    Hash(HashFunction, Box<[u8]>),
    // Boxed: the prepared ciphers' round keys are hundreds of bytes.
    Aes128(Box<Cmac<Aes128>>),
    Aes256(Box<Cmac<Aes256>>),
}

/// One key of the key file.
#[derive(Clone)]
pub struct SymmetricKey {
    id: u32,
    algorithm: MacAlgorithm,
    bits: usize,
    secret: Secret,
}

/// Never prints the secret.
impl fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SymmetricKey")
            .field("id", &self.id)
            .field("algorithm", &self.algorithm)
            .field("bits", &self.bits)
            .finish_non_exhaustive()
    }
}

impl SymmetricKey {
    fn new(id: u32, algorithm: MacAlgorithm, secret: &[u8]) -> Result<SymmetricKey, String> {
        let prepared = match algorithm {
            MacAlgorithm::Hash(function) => Secret::Hash(function, secret.into()),
            MacAlgorithm::Cmac(cipher) => {
                let expected = match cipher {
                    CmacCipher::Aes128 => 16,
                    CmacCipher::Aes256 => 32,
                };
                if secret.len() != expected {
                    return Err(format!(
                        "{} key {id} has {} bits, {} needs {} (chronyd ignores it too)",
                        algorithm.name(),
                        8 * secret.len(),
                        algorithm.name(),
                        8 * expected
                    ));
                }
                match cipher {
                    CmacCipher::Aes128 => Secret::Aes128(Box::new(
                        <Cmac<Aes128> as Mac>::new_from_slice(secret).expect("length checked"),
                    )),
                    CmacCipher::Aes256 => Secret::Aes256(Box::new(
                        <Cmac<Aes256> as Mac>::new_from_slice(secret).expect("length checked"),
                    )),
                }
            }
        };
        Ok(SymmetricKey {
            id,
            algorithm,
            bits: 8 * secret.len(),
            secret: prepared,
        })
    }

    /// A key from its key-file words: ID, type (MD5, SHA1, ..., AES128) and `HEX:`/`ASCII:`
    /// or bare key; the error says why chronyd would skip it.
    pub fn from_words(id: &str, type_name: &str, encoded: &str) -> Result<SymmetricKey, String> {
        let id: u32 = id
            .parse()
            .map_err(|_| format!("`{id}` is not a key ID (0 to 4294967295)"))?;
        let secret = decode_secret(encoded).ok_or_else(|| format!("key {id} cannot be decoded"))?;
        let algorithm = MacAlgorithm::from_name(type_name)
            .map_err(|why| format!("key {id}: {why} `{type_name}`"))?;
        SymmetricKey::new(id, algorithm, &secret)
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn algorithm(&self) -> MacAlgorithm {
        self.algorithm
    }

    /// The key's length in bits, as `chronyc authdata` shows it.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// Writes the MAC of `data` into `out`, truncated to `out`'s length; returns how many bytes
    /// were written (the MAC's length when `out` is longer).
    pub fn sign(&self, data: &[u8], out: &mut [u8]) -> usize {
        let mut full = [0u8; LONGEST_MAC];
        let len = self.full_mac(data, &mut full);
        let written = len.min(out.len());
        out[..written].copy_from_slice(&full[..written]);
        written
    }

    /// Appends this key's ID and the MAC of `packet[..len]` (truncated to 20 bytes in NTPv4,
    /// as chronyd) after it; returns the packet's new length, or None when it does not fit.
    pub fn append_mac(&self, packet: &mut [u8], len: usize, version: u8) -> Option<usize> {
        let longest = if version == 4 {
            LONGEST_V4_DIGEST
        } else {
            LONGEST_MAC
        };
        let digest_len = self.algorithm.mac_len().min(longest);
        let end = len + KEY_ID_LEN + digest_len;
        if end > packet.len() {
            return None;
        }
        let (data, trailer) = packet.split_at_mut(len);
        trailer[..KEY_ID_LEN].copy_from_slice(&self.id.to_be_bytes());
        self.sign(data, &mut trailer[KEY_ID_LEN..KEY_ID_LEN + digest_len]);
        Some(end)
    }

    /// Whether the MAC (key ID and digest) from `mac_start` to the end of `packet` is this
    /// key's MAC of what precedes it, truncated as chronyd accepts it.
    pub fn check_mac(&self, packet: &[u8], mac_start: usize, version: u8) -> bool {
        let Some(digest) = packet.get(mac_start + KEY_ID_LEN..) else {
            return false;
        };
        let truncated_to = if version == 4 && digest.len() <= LONGEST_V4_DIGEST {
            LONGEST_V4_DIGEST
        } else {
            LONGEST_MAC
        };
        packet[mac_start..mac_start + KEY_ID_LEN] == self.id.to_be_bytes()
            && self.verify(&packet[..mac_start], digest, truncated_to)
    }

    /// Whether `mac` is the MAC of `data`, truncated as chronyd truncates it: a MAC longer
    /// than `truncated_to` bytes is compared on its first `truncated_to` bytes only when the
    /// packet's MAC is exactly that long.
    pub fn verify(&self, data: &[u8], mac: &[u8], truncated_to: usize) -> bool {
        let mut full = [0u8; LONGEST_MAC];
        let len = self.full_mac(data, &mut full);
        len.min(truncated_to) == mac.len() && bool::from(full[..mac.len()].ct_eq(mac))
    }

    fn full_mac(&self, data: &[u8], out: &mut [u8; LONGEST_MAC]) -> usize {
        use HashFunction::*;
        fn keyed<D: Digest>(key: &[u8], data: &[u8], out: &mut [u8]) -> usize {
            let mut hash = D::new();
            hash.update(key);
            hash.update(data);
            let digest = hash.finalize();
            out[..digest.len()].copy_from_slice(&digest);
            digest.len()
        }
        fn cmac<C: Mac + Clone>(prepared: &C, data: &[u8], out: &mut [u8]) -> usize {
            let mut mac = prepared.clone();
            mac.update(data);
            let tag = mac.finalize().into_bytes();
            out[..tag.len()].copy_from_slice(&tag);
            tag.len()
        }
        match &self.secret {
            Secret::Hash(Md5, key) => keyed::<md5::Md5>(key, data, out),
            Secret::Hash(Sha1, key) => keyed::<sha1::Sha1>(key, data, out),
            Secret::Hash(Sha256, key) => keyed::<sha2::Sha256>(key, data, out),
            Secret::Hash(Sha384, key) => keyed::<sha2::Sha384>(key, data, out),
            Secret::Hash(Sha512, key) => keyed::<sha2::Sha512>(key, data, out),
            Secret::Hash(Sha3_224, key) => keyed::<sha3::Sha3_224>(key, data, out),
            Secret::Hash(Sha3_256, key) => keyed::<sha3::Sha3_256>(key, data, out),
            Secret::Hash(Sha3_384, key) => keyed::<sha3::Sha3_384>(key, data, out),
            Secret::Hash(Sha3_512, key) => keyed::<sha3::Sha3_512>(key, data, out),
            Secret::Aes128(prepared) => cmac(prepared.as_ref(), data, out),
            Secret::Aes256(prepared) => cmac(prepared.as_ref(), data, out),
        }
    }
}

/// A line of the key file that chronyd would skip, and why; the key file's other lines still
/// count, as chronyd's do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLine {
    pub line: usize,
    pub reason: String,
}

/// The keys of one key file, by ID.
#[derive(Debug, Clone, Default)]
pub struct KeyTable {
    /// Sorted by ID; of duplicates, the first in the file.
    keys: Vec<SymmetricKey>,
}

/// A key file read: its keys and the lines skipped. A key shorter than 80 bits is used and
/// reported, as chronyd does.
#[derive(Debug, Default)]
pub struct KeyFile {
    pub table: KeyTable,
    pub skipped: Vec<SkippedLine>,
    pub short_keys: Vec<u32>,
}

impl KeyFile {
    /// Reads chrony's key file format: `ID [TYPE] KEY` per line, TYPE MD5 when absent, KEY as
    /// `HEX:` digits, `ASCII:` text or bare text; blank lines and lines starting with `!`, `;`,
    /// `#` or `%` are skipped.
    pub fn parse(text: &str) -> KeyFile {
        let mut file = KeyFile::default();
        let mut keys: Vec<(SymmetricKey, usize)> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            match parse_line(line) {
                Ok(None) => {}
                Ok(Some(key)) => keys.push((key, number)),
                Err(reason) => file.skipped.push(SkippedLine {
                    line: number,
                    reason,
                }),
            }
        }
        keys.sort_by_key(|(key, number)| (key.id, *number));
        for (key, number) in keys {
            if file.table.keys.last().is_some_and(|last| last.id == key.id) {
                file.skipped.push(SkippedLine {
                    line: number,
                    reason: format!("key {} is defined again; the first one is used", key.id),
                });
                continue;
            }
            if key.bits / 8 < SHORTEST_SECURE_KEY {
                file.short_keys.push(key.id);
            }
            file.table.keys.push(key);
        }
        file.skipped.sort_by_key(|skipped| skipped.line);
        file
    }
}

impl KeyTable {
    pub fn get(&self, id: u32) -> Option<&SymmetricKey> {
        self.keys
            .binary_search_by_key(&id, |key| key.id)
            .ok()
            .map(|index| &self.keys[index])
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// One line: None when blank or a comment.
fn parse_line(line: &str) -> Result<Option<SymmetricKey>, String> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with(['!', ';', '#', '%']) {
        return Ok(None);
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let (id, type_name, encoded) = match words[..] {
        [id, encoded] => (id, "MD5", encoded),
        [id, type_name, encoded] => (id, type_name, encoded),
        _ => return Err("expected ID, an optional type and the key".into()),
    };
    SymmetricKey::from_words(id, type_name, encoded).map(Some)
}

/// The key's bytes from `HEX:…`, `ASCII:…` or bare text; None when empty or not hex.
fn decode_secret(encoded: &str) -> Option<Vec<u8>> {
    let bytes = if let Some(text) = encoded.strip_prefix("ASCII:") {
        text.as_bytes().to_vec()
    } else if let Some(hex) = encoded.strip_prefix("HEX:") {
        if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?
    } else {
        encoded.as_bytes().to_vec()
    };
    (!bytes.is_empty()).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn reads_every_form_chrony_documents_and_skips_what_chronyd_skips() {
        let file = KeyFile::parse(
            "# comment\n\
             1 MD5 HEX:B028F91EA5C38D06C2E140B26C7F41EC\n\
             \n\
             2 ASCII:abcdefghijkl\n\
             3 SHA1 HEX:1DC764E0791B11FA67EFC7ECBC4B0D73F68A070C\n\
             ; another comment\n\
             4 AES128 HEX:2B7E151628AED2A6ABF7158809CF4F3C\n\
             5 AES128 HEX:2B7E\n\
             6 SHA256 HEX:ABC\n\
             7 BLAKE2 secret\n\
             8 SHA512 too many words\n\
             x MD5 secret\n\
             2 SHA1 HEX:00112233445566778899\n\
             9 TIGER HEX:00112233445566778899\n\
             10 SHA3-256 short\n",
        );
        let ids: Vec<u32> = file.table.keys.iter().map(|k| k.id).collect();
        assert_eq!(ids, [1, 2, 3, 4, 10]);
        assert_eq!(
            file.table.get(2).unwrap().algorithm(),
            MacAlgorithm::Hash(HashFunction::Md5),
            "bare key: MD5, and the first of two definitions wins"
        );
        assert_eq!(file.table.get(2).unwrap().bits(), 96);
        assert_eq!(file.table.get(4).unwrap().bits(), 128);
        let skipped: Vec<usize> = file.skipped.iter().map(|s| s.line).collect();
        assert_eq!(skipped, [8, 9, 10, 11, 12, 13, 14]);
        assert!(file.skipped[0].reason.contains("AES128 key 5 has 16 bits"));
        assert!(file.skipped[2].reason.contains("unknown type `BLAKE2`"));
        assert!(file.skipped[5].reason.contains("defined again"));
        assert_eq!(file.short_keys, [10], "short keys are used and reported");
        assert!(!format!("{:?}", file.table).contains("abcdefghijkl"));
    }

    #[test]
    fn hash_macs_are_the_hash_of_the_key_then_the_packet() {
        let key = SymmetricKey::new(1, MacAlgorithm::Hash(HashFunction::Md5), b"key").unwrap();
        let mut mac = [0u8; 16];
        assert_eq!(key.sign(b"data", &mut mac), 16);
        // python3 -c "import hashlib; print(hashlib.md5(b'keydata').hexdigest())"
        assert_eq!(hex(&mac), "3f13977a2262dae86874aee1610c7e6d");
        assert!(key.verify(b"data", &mac, 20));
        assert!(!key.verify(b"datA", &mac, 20));
    }

    #[test]
    fn long_macs_are_truncated_and_checked_on_what_the_packet_carries() {
        let key =
            SymmetricKey::new(3, MacAlgorithm::Hash(HashFunction::Sha256), b"0123456789").unwrap();
        let mut mac = [0u8; 20];
        assert_eq!(
            key.sign(b"packet", &mut mac),
            20,
            "NTPv4 MACs stop at 20 bytes"
        );
        assert!(key.verify(b"packet", &mac, 20));
        assert!(
            !key.verify(b"packet", &mac[..16], 20),
            "shorter than the truncation"
        );
        let mut whole = [0u8; 32];
        key.sign(b"packet", &mut whole);
        assert!(key.verify(b"packet", &whole, 32), "NTPv3 MACs are whole");
        assert!(!key.verify(b"packet", &whole, 20));
    }

    #[test]
    fn macs_are_appended_and_checked_as_chronyd_sizes_them() {
        let sha256 = SymmetricKey::from_words("7", "SHA256", "HEX:00112233445566778899").unwrap();
        let md5 = SymmetricKey::from_words("8", "MD5", "ASCII:0123456789").unwrap();
        let mut packet = [0u8; 128];
        packet[0] = 0x23;
        assert_eq!(
            sha256.append_mac(&mut packet, 48, 4),
            Some(72),
            "NTPv4: 20-byte digest"
        );
        assert_eq!(&packet[48..52], &7u32.to_be_bytes());
        assert!(sha256.check_mac(&packet[..72], 48, 4));
        assert!(!md5.check_mac(&packet[..72], 48, 4), "another key");
        packet[47] ^= 1;
        assert!(!sha256.check_mac(&packet[..72], 48, 4), "altered packet");
        packet[0] = 0x1b;
        assert_eq!(
            sha256.append_mac(&mut packet, 48, 3),
            Some(84),
            "NTPv3: whole digest"
        );
        assert!(sha256.check_mac(&packet[..84], 48, 3));
        assert_eq!(md5.append_mac(&mut packet, 48, 4), Some(68));
        assert!(md5.check_mac(&packet[..68], 48, 4));
        assert_eq!(md5.append_mac(&mut packet[..60], 48, 4), None, "no room");
    }

    #[test]
    fn aes_cmac_matches_rfc_4493() {
        // RFC 4493, section 4, example 2 (16-byte message).
        let file = KeyFile::parse("4 AES128 HEX:2B7E151628AED2A6ABF7158809CF4F3C\n");
        let key = file.table.get(4).unwrap();
        let message = [
            0x6b, 0xc1, 0xbe, 0xe2, 0x2e, 0x40, 0x9f, 0x96, 0xe9, 0x3d, 0x7e, 0x11, 0x73, 0x93,
            0x17, 0x2a,
        ];
        let mut mac = [0u8; 24];
        assert_eq!(key.sign(&message, &mut mac), 16);
        assert_eq!(hex(&mac[..16]), "070a16b46b4d4144f79bdd9dd04a287c");
    }
}
