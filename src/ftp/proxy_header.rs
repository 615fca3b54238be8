//! The PROXY protocol header (HAProxy's v1 text and v2 binary forms) a TCP load balancer puts before a client's first byte: the real client and server addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use thiserror::Error;

/// v2's 12-byte signature: it cannot begin any text protocol's first line.
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// v2's fixed part: the signature, version and command, family and transport, length.
const V2_FIXED_LEN: usize = 16;
/// The longest v1 line, "\r\n" included, as the specification bounds it.
const V1_MAX_LEN: usize = 107;
/// The shortest header: `PROXY UNKNOWN\r\n` (v2's is 16 bytes).
const MIN_HEADER_LEN: usize = 15;
/// The longest v2 address block and TLVs taken. The specification allows 65535 bytes; the
/// addresses need at most 216 and balancers add a few short TLVs, so more is refused rather
/// than buffered for every connection.
pub const V2_MAX_BODY: usize = 4096;
/// The longest header taken in either form: what a caller needs to buffer at most.
pub const MAX_HEADER_LEN: usize = V2_FIXED_LEN + V2_MAX_BODY;

/// What the first bytes of a connection say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyHeader {
    /// At least `needed` more bytes are needed to decide, and that many can be read without
    /// reading past the header.
    Incomplete { needed: usize },
    /// A whole header of `len` bytes; the client's bytes follow it.
    Complete {
        len: usize,
        /// The client's and the balancer's listening addresses as the balancer saw them;
        /// `None` for v2's LOCAL command (the balancer's own health check) and v1's UNKNOWN,
        /// which mean: use the connection's own addresses.
        addresses: Option<ProxiedAddresses>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxiedAddresses {
    pub client: SocketAddr,
    pub server: SocketAddr,
}

/// Why the bytes are not a PROXY header: the connection is closed without a reply.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProxyHeaderError {
    #[error("no PROXY protocol header (the balancer must send one: HAProxy's send-proxy or send-proxy-v2)")]
    Missing,
    #[error("malformed PROXY v1 line: {0}")]
    BadV1(&'static str),
    #[error("malformed PROXY v2 header: {0}")]
    BadV2(&'static str),
    #[error("PROXY v2 header of {0} bytes: more than the {V2_MAX_BODY} taken")]
    TooLong(usize),
}

/// Reads a PROXY header at the start of `received`, the connection's bytes so far.
pub fn parse(received: &[u8]) -> Result<ProxyHeader, ProxyHeaderError> {
    if received.is_empty() {
        return Ok(ProxyHeader::Incomplete {
            needed: MIN_HEADER_LEN,
        });
    }
    let prefix = received.len().min(V2_SIGNATURE.len());
    if received[..prefix] == V2_SIGNATURE[..prefix] {
        return if received.len() < V2_FIXED_LEN {
            Ok(ProxyHeader::Incomplete {
                needed: V2_FIXED_LEN - received.len(),
            })
        } else {
            parse_v2(received)
        };
    }
    let prefix = received.len().min(6);
    if received[..prefix] == b"PROXY "[..prefix] {
        return parse_v1(received);
    }
    Err(ProxyHeaderError::Missing)
}

fn parse_v1(received: &[u8]) -> Result<ProxyHeader, ProxyHeaderError> {
    let window = &received[..received.len().min(V1_MAX_LEN)];
    let Some(end) = window.windows(2).position(|pair| pair == b"\r\n") else {
        return if received.len() >= V1_MAX_LEN {
            Err(ProxyHeaderError::BadV1("no CRLF within 107 bytes"))
        } else {
            Ok(ProxyHeader::Incomplete {
                needed: MIN_HEADER_LEN.saturating_sub(received.len()).max(1),
            })
        };
    };
    let line =
        std::str::from_utf8(&window[..end]).map_err(|_| ProxyHeaderError::BadV1("not ASCII"))?;
    let mut words = line.split(' ');
    words.next(); // "PROXY"
    let len = end + 2;
    let family = words.next().ok_or(ProxyHeaderError::BadV1("no protocol"))?;
    if family == "UNKNOWN" {
        // The rest of the line is to be ignored, whatever it holds.
        return Ok(ProxyHeader::Complete {
            len,
            addresses: None,
        });
    }
    let v6 = match family {
        "TCP4" => false,
        "TCP6" => true,
        _ => {
            return Err(ProxyHeaderError::BadV1(
                "protocol is not TCP4, TCP6 or UNKNOWN",
            ))
        }
    };
    let fields: Vec<&str> = words.collect();
    let [client_ip, server_ip, client_port, server_port] = fields[..] else {
        return Err(ProxyHeaderError::BadV1(
            "expected two addresses and two ports after the protocol",
        ));
    };
    let ip = |text: &str| -> Result<IpAddr, ProxyHeaderError> {
        let ip = if v6 {
            text.parse::<Ipv6Addr>().map(IpAddr::V6)
        } else {
            text.parse::<Ipv4Addr>().map(IpAddr::V4)
        };
        ip.map_err(|_| ProxyHeaderError::BadV1("an address does not match the protocol"))
    };
    let port = |text: &str| -> Result<u16, ProxyHeaderError> {
        // Decimal without leading zeros, as the specification writes ports.
        let canonical = !text.is_empty()
            && text.bytes().all(|b| b.is_ascii_digit())
            && (text == "0" || !text.starts_with('0'));
        text.parse()
            .ok()
            .filter(|_| canonical)
            .ok_or(ProxyHeaderError::BadV1("a port is not a number 0..65535"))
    };
    Ok(ProxyHeader::Complete {
        len,
        addresses: Some(ProxiedAddresses {
            client: SocketAddr::new(ip(client_ip)?, port(client_port)?),
            server: SocketAddr::new(ip(server_ip)?, port(server_port)?),
        }),
    })
}

fn parse_v2(received: &[u8]) -> Result<ProxyHeader, ProxyHeaderError> {
    let version_command = received[12];
    if version_command >> 4 != 2 {
        return Err(ProxyHeaderError::BadV2("version is not 2"));
    }
    let local = match version_command & 0x0F {
        0 => true,
        1 => false,
        _ => {
            return Err(ProxyHeaderError::BadV2(
                "command is neither LOCAL nor PROXY",
            ))
        }
    };
    let family_transport = received[13];
    let body_len = usize::from(u16::from_be_bytes([received[14], received[15]]));
    if body_len > V2_MAX_BODY {
        return Err(ProxyHeaderError::TooLong(V2_FIXED_LEN + body_len));
    }
    let len = V2_FIXED_LEN + body_len;
    let Some(body) = received.get(V2_FIXED_LEN..len) else {
        return Ok(ProxyHeader::Incomplete {
            needed: len - received.len(),
        });
    };
    if local {
        return Ok(ProxyHeader::Complete {
            len,
            addresses: None,
        });
    }
    let addresses =
        match family_transport {
            // TCP over IPv4, TCP over IPv6.
            0x11 => {
                let block: &[u8; 12] = body.get(..12).and_then(|b| b.try_into().ok()).ok_or(
                    ProxyHeaderError::BadV2("IPv4 address block shorter than 12 bytes"),
                )?;
                let ip = |at: usize| {
                    IpAddr::V4(Ipv4Addr::from(
                        <[u8; 4]>::try_from(&block[at..at + 4]).unwrap(),
                    ))
                };
                let port = |at: usize| u16::from_be_bytes([block[at], block[at + 1]]);
                Some(ProxiedAddresses {
                    client: SocketAddr::new(ip(0), port(8)),
                    server: SocketAddr::new(ip(4), port(10)),
                })
            }
            0x21 => {
                let block: &[u8; 36] = body.get(..36).and_then(|b| b.try_into().ok()).ok_or(
                    ProxyHeaderError::BadV2("IPv6 address block shorter than 36 bytes"),
                )?;
                let ip = |at: usize| {
                    IpAddr::V6(Ipv6Addr::from(
                        <[u8; 16]>::try_from(&block[at..at + 16]).unwrap(),
                    ))
                };
                let port = |at: usize| u16::from_be_bytes([block[at], block[at + 1]]);
                Some(ProxiedAddresses {
                    client: SocketAddr::new(ip(0), port(32)),
                    server: SocketAddr::new(ip(16), port(34)),
                })
            }
            // UNSPEC: the balancer does not know (the specification says to use the real ones).
            0x00 => None,
            _ => {
                return Err(ProxyHeaderError::BadV2(
                    "not a TCP connection over IPv4 or IPv6",
                ))
            }
        };
    Ok(ProxyHeader::Complete { len, addresses })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(received: &[u8]) -> (usize, Option<(String, String)>) {
        match parse(received).unwrap() {
            ProxyHeader::Complete { len, addresses } => (
                len,
                addresses.map(|a| (a.client.to_string(), a.server.to_string())),
            ),
            ProxyHeader::Incomplete { .. } => panic!("incomplete: {received:?}"),
        }
    }

    fn pair(client: &str, server: &str) -> Option<(String, String)> {
        Some((client.to_string(), server.to_string()))
    }

    #[test]
    fn v1_lines_give_the_client_and_what_follows_is_left() {
        let line = b"PROXY TCP4 192.0.2.7 198.51.100.1 56324 21\r\nUSER a\r\n";
        assert_eq!(
            complete(line),
            (44, pair("192.0.2.7:56324", "198.51.100.1:21"))
        );
        assert_eq!(
            complete(b"PROXY TCP6 2001:db8::7 2001:db8::1 4000 2121\r\n"),
            (46, pair("[2001:db8::7]:4000", "[2001:db8::1]:2121"))
        );
        assert_eq!(complete(b"PROXY UNKNOWN whatever follows\r\n"), (32, None));
        assert_eq!(complete(b"PROXY UNKNOWN\r\n"), (15, None));
        assert_reads_never_overshoot(b"PROXY UNKNOWN\r\n");
        assert_reads_never_overshoot(b"PROXY TCP6 2001:db8::7 2001:db8::1 4000 2121\r\n");
    }

    /// Reading `needed` bytes at a time, as a caller does, reaches the end of `header` exactly.
    fn assert_reads_never_overshoot(header: &[u8]) {
        let mut read = 0;
        loop {
            match parse(&header[..read]).unwrap() {
                ProxyHeader::Incomplete { needed } => {
                    assert!(
                        needed >= 1 && read + needed <= header.len(),
                        "{read} + {needed}"
                    );
                    read += needed;
                }
                ProxyHeader::Complete { len, .. } => {
                    assert_eq!((read, len), (header.len(), header.len()));
                    return;
                }
            }
        }
    }

    #[test]
    fn partial_headers_ask_for_more_and_nothing_is_read_beyond_the_bounds() {
        let line = b"PROXY TCP4 192.0.2.7 198.51.100.1 56324 21\r\n";
        assert_reads_never_overshoot(line);
        let endless = [b'P', b'R', b'O', b'X', b'Y', b' '].repeat(20);
        assert_eq!(
            parse(&endless),
            Err(ProxyHeaderError::BadV1("no CRLF within 107 bytes"))
        );
        let mut too_long = V2_SIGNATURE.to_vec();
        too_long.extend_from_slice(&[0x21, 0x11, 0xFF, 0xFF]);
        assert_eq!(parse(&too_long), Err(ProxyHeaderError::TooLong(65551)));
    }

    #[test]
    fn bad_v1_lines_are_refused() {
        for (line, why) in [
            (
                &b"PROXY TCP5 a b 1 2\r\n"[..],
                "protocol is not TCP4, TCP6 or UNKNOWN",
            ),
            (
                b"PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n",
                "expected two addresses and two ports after the protocol",
            ),
            (
                b"PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n",
                "an address does not match the protocol",
            ),
            (
                b"PROXY TCP4 192.0.2.7 198.51.100.1 65536 21\r\n",
                "a port is not a number 0..65535",
            ),
            (
                b"PROXY TCP4 192.0.2.7 198.51.100.1 021 21\r\n",
                "a port is not a number 0..65535",
            ),
            (
                b"PROXY TCP4  192.0.2.7 198.51.100.1 1 21\r\n",
                "expected two addresses and two ports after the protocol",
            ),
        ] {
            assert_eq!(parse(line), Err(ProxyHeaderError::BadV1(why)), "{line:?}");
        }
        assert_eq!(parse(b"USER anonymous\r\n"), Err(ProxyHeaderError::Missing));
        assert_eq!(parse(b"PROXX"), Err(ProxyHeaderError::Missing));
    }

    fn v2(command: u8, family: u8, body: &[u8]) -> Vec<u8> {
        let mut header = V2_SIGNATURE.to_vec();
        header.push(0x20 | command);
        header.push(family);
        header.extend_from_slice(&(body.len() as u16).to_be_bytes());
        header.extend_from_slice(body);
        header
    }

    #[test]
    fn v2_headers_give_the_addresses_and_skip_tlvs() {
        let mut body = vec![192, 0, 2, 7, 198, 51, 100, 1, 0xDC, 0x04, 0, 21];
        // A PP2_TYPE_AUTHORITY TLV, which is skipped.
        body.extend_from_slice(&[0x02, 0x00, 0x03, b'f', b't', b'p']);
        let mut header = v2(1, 0x11, &body);
        assert_eq!(
            complete(&header),
            (34, pair("192.0.2.7:56324", "198.51.100.1:21"))
        );
        header.extend_from_slice(b"USER a\r\n");
        assert_eq!(complete(&header).0, 34);
        assert_reads_never_overshoot(&header[..34]);
        let mut v6 = vec![0x20, 0x01, 0x0d, 0xb8];
        v6.extend_from_slice(&[0; 11]);
        v6.push(7);
        v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        v6.extend_from_slice(&[0; 11]);
        v6.push(1);
        v6.extend_from_slice(&[0x0F, 0xA0, 0x08, 0x49]);
        assert_eq!(
            complete(&v2(1, 0x21, &v6)),
            (52, pair("[2001:db8::7]:4000", "[2001:db8::1]:2121"))
        );
    }

    #[test]
    fn v2_local_and_unspec_mean_the_connections_own_addresses() {
        assert_eq!(complete(&v2(0, 0x00, &[])), (16, None));
        assert_reads_never_overshoot(&v2(0, 0x00, &[]));
        assert_eq!(complete(&v2(0, 0x11, &[0; 12])), (28, None));
        assert_eq!(complete(&v2(1, 0x00, &[])), (16, None));
    }

    #[test]
    fn bad_v2_headers_are_refused() {
        let mut version_1 = v2(1, 0x11, &[0; 12]);
        version_1[12] = 0x11;
        assert_eq!(
            parse(&version_1),
            Err(ProxyHeaderError::BadV2("version is not 2"))
        );
        assert_eq!(
            parse(&v2(2, 0x11, &[0; 12])),
            Err(ProxyHeaderError::BadV2(
                "command is neither LOCAL nor PROXY"
            ))
        );
        assert_eq!(
            parse(&v2(1, 0x11, &[0; 8])),
            Err(ProxyHeaderError::BadV2(
                "IPv4 address block shorter than 12 bytes"
            ))
        );
        assert_eq!(
            parse(&v2(1, 0x12, &[0; 12])),
            Err(ProxyHeaderError::BadV2(
                "not a TCP connection over IPv4 or IPv6"
            ))
        );
    }
}
