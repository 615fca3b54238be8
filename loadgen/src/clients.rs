//! Client sockets: one per simulated client, each on its own source address, with kernel RX timestamps.
//!
//! Source addresses, so that a server's per-client state (rate limiting, client logs) sees
//! distinct clients as in real life:
//! - towards a loopback IPv4 server, client `i` binds 127.0.(i / 250).(i % 250 + 2): all of
//!   127.0.0.0/8 is local on Linux, and staying off 127.0.0.1 keeps the load apart from the
//!   server's other local traffic (at most 64,000 clients);
//! - with `source_net` set to a base address, client `i` binds base + i. This is for load inside
//!   a network namespace made for the purpose, where the prefix is local, for example after
//!   `ip -n NS route add local 198.18.0.0/16 dev lo` (every address of the prefix becomes
//!   bindable, RFC 2544's benchmarking range);
//! - otherwise (IPv6 loopback, or another destination without `source_net`) every client binds
//!   the unspecified address and the clients differ by port only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;

use ringd_sys::sockopt::enable_rx_timestamps;

use crate::error::LoadError;

/// Most clients the loopback scheme has addresses for.
pub const MAX_LOOPBACK_CLIENTS: usize = 250 * 256;

/// Receive buffer asked for each client socket, so that a burst of replies waits in the queue
/// while the generator is busy sending (the kernel caps it at net.core.rmem_max).
const CLIENT_RECEIVE_BUFFER: usize = 2 << 20;

fn offset_address(base: IpAddr, index: usize) -> Option<IpAddr> {
    match base {
        IpAddr::V4(v4) => u32::from(v4)
            .checked_add(u32::try_from(index).ok()?)
            .map(|raw| IpAddr::V4(Ipv4Addr::from(raw))),
        IpAddr::V6(v6) => u128::from(v6)
            .checked_add(index as u128)
            .map(|raw| IpAddr::V6(Ipv6Addr::from(raw))),
    }
}

/// The local address each of `count` clients binds (port 0: the kernel picks).
pub fn client_addresses(
    destination: SocketAddr,
    count: usize,
    source_net: Option<IpAddr>,
) -> Result<Vec<SocketAddr>, LoadError> {
    if count == 0 {
        return Err(LoadError::Setting("at least one client is needed".into()));
    }
    let ips: Vec<IpAddr> = match (source_net, destination.ip()) {
        (Some(base), destination_ip) => {
            if base.is_ipv4() != destination_ip.is_ipv4() {
                return Err(LoadError::Setting(format!(
                    "source network {base} and destination {destination_ip} are of different families"
                )));
            }
            (0..count)
                .map(|i| {
                    offset_address(base, i).ok_or_else(|| {
                        LoadError::Setting(format!("{count} clients do not fit above {base}"))
                    })
                })
                .collect::<Result<_, _>>()?
        }
        (None, IpAddr::V4(v4)) if v4.is_loopback() => {
            if count > MAX_LOOPBACK_CLIENTS {
                return Err(LoadError::Setting(format!(
                    "at most {MAX_LOOPBACK_CLIENTS} loopback clients, {count} asked"
                )));
            }
            (0..count)
                .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, (i / 250) as u8, (i % 250 + 2) as u8)))
                .collect()
        }
        (None, IpAddr::V4(_)) => vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED); count],
        (None, IpAddr::V6(_)) => vec![IpAddr::V6(Ipv6Addr::UNSPECIFIED); count],
    };
    Ok(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect())
}

/// Binds one non-blocking socket per address, each asking for kernel RX timestamps.
pub fn open_client_sockets(addresses: &[SocketAddr]) -> Result<Vec<UdpSocket>, LoadError> {
    addresses
        .iter()
        .map(|address| {
            let socket = UdpSocket::bind(address)
                .map_err(LoadError::io(format!("binding client socket {address}")))?;
            socket
                .set_nonblocking(true)
                .map_err(LoadError::io("making a client socket non-blocking"))?;
            enable_rx_timestamps(socket.as_fd())
                .map_err(LoadError::io("enabling SO_TIMESTAMPNS"))?;
            socket2::SockRef::from(&socket)
                .set_recv_buffer_size(CLIENT_RECEIVE_BUFFER)
                .map_err(LoadError::io("sizing a client receive buffer"))?;
            Ok(socket)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(destination: &str, count: usize, source_net: Option<&str>) -> Vec<String> {
        client_addresses(
            destination.parse().unwrap(),
            count,
            source_net.map(|s| s.parse().unwrap()),
        )
        .unwrap()
        .iter()
        .map(|a| a.to_string())
        .collect()
    }

    #[test]
    fn loopback_clients_get_distinct_addresses_away_from_127_0_0_1() {
        let got = addresses("127.0.0.1:123", 252, None);
        assert_eq!(got[0], "127.0.0.2:0");
        assert_eq!(got[249], "127.0.0.251:0");
        assert_eq!(got[250], "127.0.1.2:0");
        let unique: std::collections::HashSet<_> = got.iter().collect();
        assert_eq!(unique.len(), 252);
        let last =
            client_addresses("127.0.0.1:1".parse().unwrap(), MAX_LOOPBACK_CLIENTS, None).unwrap();
        assert_eq!(last.last().unwrap().to_string(), "127.0.255.251:0");
        assert!(client_addresses(
            "127.0.0.1:1".parse().unwrap(),
            MAX_LOOPBACK_CLIENTS + 1,
            None
        )
        .is_err());
    }

    #[test]
    fn a_source_network_counts_up_from_its_base() {
        assert_eq!(
            addresses("198.18.0.1:123", 3, Some("198.18.1.254")),
            vec!["198.18.1.254:0", "198.18.1.255:0", "198.18.2.0:0"]
        );
        assert_eq!(
            addresses("[fd00::1]:123", 2, Some("fd00::100")),
            vec!["[fd00::100]:0", "[fd00::101]:0"]
        );
        assert!(client_addresses(
            "198.18.0.1:1".parse().unwrap(),
            2,
            Some("255.255.255.255".parse().unwrap())
        )
        .is_err());
        assert!(client_addresses(
            "198.18.0.1:1".parse().unwrap(),
            2,
            Some("fd00::1".parse().unwrap())
        )
        .is_err());
    }

    #[test]
    fn other_destinations_share_the_unspecified_address() {
        assert_eq!(addresses("[::1]:123", 2, None), vec!["[::]:0", "[::]:0"]);
        assert_eq!(addresses("192.0.2.1:123", 1, None), vec!["0.0.0.0:0"]);
        assert!(client_addresses("127.0.0.1:1".parse().unwrap(), 0, None).is_err());
    }

    #[test]
    fn client_sockets_bind_their_addresses() {
        let wanted = client_addresses("127.0.0.1:1".parse().unwrap(), 3, None).unwrap();
        let sockets = open_client_sockets(&wanted).unwrap();
        for (socket, address) in sockets.iter().zip(&wanted) {
            assert_eq!(socket.local_addr().unwrap().ip(), address.ip());
        }
    }
}
