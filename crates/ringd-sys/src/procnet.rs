//! The kernel's socket tables in /proc/net: where sockets are bound, their receive-queue drops, and which processes hold a port.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// A transport whose sockets /proc/net lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    fn tables(self) -> [&'static str; 2] {
        match self {
            Transport::Udp => ["/proc/net/udp", "/proc/net/udp6"],
            Transport::Tcp => ["/proc/net/tcp", "/proc/net/tcp6"],
        }
    }
}

/// `st` of a listening TCP socket in /proc/net/tcp.
const TCP_LISTEN: u8 = 0x0A;

/// One line of a /proc/net socket table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SocketLine {
    local: SocketAddr,
    state: u8,
    inode: u64,
    /// The last column: receive-queue drops in the UDP tables.
    last: u64,
}

/// Parses a /proc/net address such as `0100007F:007B`: the IP is printed as 32-bit words in
/// the machine's byte order, the port in hex.
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

/// `sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...`; `None` for
/// the header.
fn parse_socket_line(line: &str) -> Option<SocketLine> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    fields.first()?.strip_suffix(':')?;
    Some(SocketLine {
        local: parse_address(fields.get(1)?)?,
        state: u8::from_str_radix(fields.get(3)?, 16).ok()?,
        inode: fields.get(9)?.parse().ok()?,
        last: fields.last()?.parse().ok()?,
    })
}

fn socket_lines(transport: Transport) -> impl Iterator<Item = SocketLine> {
    transport
        .tables()
        .into_iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(parse_socket_line)
                .collect::<Vec<_>>()
        })
}

/// Sums the drop counts of the sockets in `lines` whose local address `wanted` accepts; `None`
/// when none does.
fn drops_in(
    lines: impl Iterator<Item = SocketLine>,
    wanted: &dyn Fn(&SocketAddr) -> bool,
) -> Option<u64> {
    lines
        .filter(|line| wanted(&line.local))
        .map(|line| line.last)
        .reduce(|a, b| a + b)
}

/// Receive-queue drops of this network namespace's UDP sockets whose local address `wanted`
/// accepts, summed; `None` when no such socket is listed (or /proc is not readable).
pub fn udp_socket_drops(wanted: &dyn Fn(&SocketAddr) -> bool) -> Option<u64> {
    drops_in(socket_lines(Transport::Udp), wanted)
}

/// Whether a socket bound to `local` receives what is sent to `destination`.
pub fn receives_for(local: &SocketAddr, destination: &SocketAddr) -> bool {
    local.port() == destination.port()
        && (local.ip() == destination.ip() || local.ip().is_unspecified())
}

/// A process holding a socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    /// `/proc/PID/comm`: the program's name, at most 15 bytes.
    pub name: String,
}

/// The processes that hold a `transport` socket bound (for TCP: listening) on `port`, as far
/// as this process may look into their descriptors: another user's are visible to root only.
pub fn holders_of_port(transport: Transport, port: u16) -> Vec<Holder> {
    let inodes: Vec<u64> = socket_lines(transport)
        .filter(|line| line.local.port() == port)
        .filter(|line| transport == Transport::Udp || line.state == TCP_LISTEN)
        .map(|line| line.inode)
        .collect();
    if inodes.is_empty() {
        return Vec::new();
    }
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut holders = Vec::new();
    for process in processes.flatten() {
        let Some(pid) = process.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(descriptors) = std::fs::read_dir(process.path().join("fd")) else {
            continue;
        };
        let holds = descriptors.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| {
                socket_inode(&target.to_string_lossy()).is_some_and(|inode| inodes.contains(&inode))
            })
        });
        if holds {
            let name = std::fs::read_to_string(process.path().join("comm"))
                .map(|comm| comm.trim_end().to_string())
                .unwrap_or_default();
            holders.push(Holder { pid, name });
        }
    }
    holders
}

/// The inode of a descriptor's `socket:[INODE]` link target.
fn socket_inode(target: &str) -> Option<u64> {
    target
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, UdpSocket};

    const TABLE: &str = "\
   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  113: 0100007F:007B 00000000:0000 07 00000000:00000000 00:00000000 00000000   108        0 44331 2 0000000000000000 17
  200: 0200007F:D431 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 44332 2 0000000000000000 3
  201: 00000000:007B 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 44333 2 0000000000000000 5
";

    fn table_lines() -> impl Iterator<Item = SocketLine> {
        TABLE.lines().skip(1).filter_map(parse_socket_line)
    }

    #[test]
    fn lines_give_local_address_state_inode_and_drops() {
        let line = table_lines().next().unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(line.local, "127.0.0.1:123".parse().unwrap());
        }
        assert_eq!((line.state, line.inode, line.last), (7, 44331, 17));
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
            drops_in(table_lines(), &|local| receives_for(local, &server)),
            Some(22)
        );
        assert_eq!(drops_in(table_lines(), &|local| local.port() == 9), None);
    }

    #[test]
    fn a_live_socket_is_found() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let local = socket.local_addr().unwrap();
        assert_eq!(udp_socket_drops(&|addr| *addr == local), Some(0));
    }

    #[test]
    fn this_process_is_the_holder_of_its_ports() {
        let me = Holder {
            pid: std::process::id(),
            name: std::fs::read_to_string("/proc/self/comm")
                .unwrap()
                .trim_end()
                .to_string(),
        };
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        assert_eq!(holders_of_port(Transport::Udp, port), vec![me.clone()]);
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        assert_eq!(holders_of_port(Transport::Tcp, port), vec![me]);
    }
}
