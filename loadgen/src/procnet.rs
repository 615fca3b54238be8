//! Per-socket receive-queue drops from /proc/net/udp{,6}: tells loss in a socket queue from loss elsewhere.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// Parses a `/proc/net/udp` or `udp6` address such as `0100007F:007B`: the IP is printed as
/// 32-bit words in the machine's byte order, the port in hex.
fn parse_address(text: &str) -> Option<SocketAddr> {
    let (ip_hex, port_hex) = text.split_once(':')?;
    let port = u16::from_str_radix(port_hex, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for chunk in ip_hex.as_bytes().chunks(8) {
        let word = u32::from_str_radix(std::str::from_utf8(chunk).ok()?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let ip = match bytes.len() {
        4 => Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?).into(),
        16 => Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?).into(),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// The local address and drop count of one socket line (the drop count is the last column).
fn parse_socket_line(line: &str) -> Option<(SocketAddr, u64)> {
    let mut fields = line.split_whitespace();
    fields.next()?.strip_suffix(':')?;
    let local = parse_address(fields.next()?)?;
    let drops = fields.last()?.parse().ok()?;
    Some((local, drops))
}

/// Sums the drop counts of the sockets in `table` (a /proc/net/udp text) whose local address
/// `wanted` accepts; `None` when none does.
fn drops_in(table: &str, wanted: &dyn Fn(&SocketAddr) -> bool) -> Option<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(parse_socket_line)
        .filter(|(local, _)| wanted(local))
        .map(|(_, drops)| drops)
        .reduce(|a, b| a + b)
}

/// Receive-queue drops of this network namespace's UDP sockets whose local address `wanted`
/// accepts, summed; `None` when no such socket is listed (or /proc is not readable).
pub fn udp_socket_drops(wanted: &dyn Fn(&SocketAddr) -> bool) -> Option<u64> {
    ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .filter_map(|table| drops_in(&table, wanted))
        .reduce(|a, b| a + b)
}

/// Whether a socket bound to `local` receives what is sent to `destination`.
pub fn receives_for(local: &SocketAddr, destination: &SocketAddr) -> bool {
    local.port() == destination.port()
        && (local.ip() == destination.ip() || local.ip().is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    const TABLE: &str = "\
   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  113: 0100007F:007B 00000000:0000 07 00000000:00000000 00:00000000 00000000   108        0 44331 2 0000000000000000 17
  200: 0200007F:D431 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 44332 2 0000000000000000 3
  201: 00000000:007B 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 44333 2 0000000000000000 5
";

    #[test]
    fn lines_give_local_address_and_drops() {
        let mut lines = TABLE.lines().skip(1);
        let (local, drops) = parse_socket_line(lines.next().unwrap()).unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(local, "127.0.0.1:123".parse().unwrap());
        }
        assert_eq!(drops, 17);
        assert_eq!(
            parse_socket_line(TABLE.lines().next().unwrap()),
            None,
            "header"
        );
    }

    #[test]
    fn ipv6_addresses_parse_word_by_word() {
        let loopback_v6 = if cfg!(target_endian = "little") {
            "00000000000000000000000001000000:0050"
        } else {
            "00000000000000000000000000000001:0050"
        };
        assert_eq!(parse_address(loopback_v6), "[::1]:80".parse().ok());
    }

    #[test]
    fn drops_of_matching_sockets_are_summed() {
        if cfg!(target_endian = "big") {
            return;
        }
        let server: SocketAddr = "127.0.0.1:123".parse().unwrap();
        assert_eq!(
            drops_in(TABLE, &|local| receives_for(local, &server)),
            Some(22)
        );
        assert_eq!(drops_in(TABLE, &|local| local.port() == 9), None);
    }

    #[test]
    fn a_live_socket_is_found() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let local = socket.local_addr().unwrap();
        assert_eq!(udp_socket_drops(&|addr| *addr == local), Some(0));
    }
}
