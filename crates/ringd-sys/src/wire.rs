//! Kernel ABI structures decoded and encoded in safe code: socket addresses and receive control messages.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use ntp_wire::packet::UnixTime;

/// A received datagram: payload, sender and the kernel's receive time when the socket asked for it.
#[derive(Clone, Copy, Debug)]
pub struct Datagram<'a> {
    pub payload: &'a [u8],
    pub peer: SocketAddr,
    pub rx_time: Option<UnixTime>,
    /// Which of the caller's sockets it arrived on.
    pub socket_index: usize,
}

/// Large enough for `sockaddr_in` and `sockaddr_in6`.
pub const SOCKADDR_MAX: usize = 28;

/// Storage for a socket address with the alignment the C structures have.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
pub struct SockaddrBytes(pub [u8; SOCKADDR_MAX]);

impl Default for SockaddrBytes {
    fn default() -> Self {
        SockaddrBytes([0; SOCKADDR_MAX])
    }
}

/// Writes `addr` as a `sockaddr_in`/`sockaddr_in6` and returns its length.
pub fn encode_sockaddr(addr: &SocketAddr, out: &mut SockaddrBytes) -> u32 {
    let bytes = &mut out.0;
    bytes.fill(0);
    match addr {
        SocketAddr::V4(v4) => {
            bytes[0..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            bytes[2..4].copy_from_slice(&v4.port().to_be_bytes());
            bytes[4..8].copy_from_slice(&v4.ip().octets());
            std::mem::size_of::<libc::sockaddr_in>() as u32
        }
        SocketAddr::V6(v6) => {
            bytes[0..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            bytes[2..4].copy_from_slice(&v6.port().to_be_bytes());
            bytes[4..8].copy_from_slice(&v6.flowinfo().to_be_bytes());
            bytes[8..24].copy_from_slice(&v6.ip().octets());
            bytes[24..28].copy_from_slice(&v6.scope_id().to_ne_bytes());
            std::mem::size_of::<libc::sockaddr_in6>() as u32
        }
    }
}

/// Reads a `sockaddr_in`/`sockaddr_in6` of `len` valid bytes.
pub fn decode_sockaddr(bytes: &[u8]) -> Option<SocketAddr> {
    let family = u16::from_ne_bytes([*bytes.first()?, *bytes.get(1)?]);
    let port = u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?]);
    if i32::from(family) == libc::AF_INET {
        let ip: [u8; 4] = bytes.get(4..8)?.try_into().ok()?;
        Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
    } else if i32::from(family) == libc::AF_INET6 {
        let flowinfo = u32::from_be_bytes(bytes.get(4..8)?.try_into().ok()?);
        let ip: [u8; 16] = bytes.get(8..24)?.try_into().ok()?;
        let scope = u32::from_ne_bytes(bytes.get(24..28)?.try_into().ok()?);
        Some(SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::from(ip),
            port,
            flowinfo,
            scope,
        )))
    } else {
        None
    }
}

const CMSG_HEADER_LEN: usize = std::mem::size_of::<libc::cmsghdr>();
const CMSG_ALIGN: usize = std::mem::size_of::<usize>();

fn read_timespec(data: &[u8]) -> Option<UnixTime> {
    let secs = i64::from_ne_bytes(data.get(0..8)?.try_into().ok()?);
    let nanos = i64::from_ne_bytes(data.get(8..16)?.try_into().ok()?);
    if !(0..1_000_000_000).contains(&nanos) || (secs == 0 && nanos == 0) {
        return None;
    }
    Some(UnixTime {
        secs,
        nanos: nanos as u32,
    })
}

/// Finds the software receive timestamp (SCM_TIMESTAMPNS, or the first time of SCM_TIMESTAMPING)
/// in a control-message buffer as the kernel filled it.
pub fn rx_timestamp(control: &[u8]) -> Option<UnixTime> {
    let mut offset = 0;
    while offset + CMSG_HEADER_LEN <= control.len() {
        let len = usize::from_ne_bytes(control[offset..offset + 8].try_into().ok()?);
        let level = i32::from_ne_bytes(control[offset + 8..offset + 12].try_into().ok()?);
        let kind = i32::from_ne_bytes(control[offset + 12..offset + 16].try_into().ok()?);
        if len < CMSG_HEADER_LEN || offset + len > control.len() {
            return None;
        }
        let data = &control[offset + CMSG_HEADER_LEN..offset + len];
        if level == libc::SOL_SOCKET
            && (kind == libc::SCM_TIMESTAMPNS || kind == libc::SCM_TIMESTAMPING)
        {
            if let Some(time) = read_timespec(data) {
                return Some(time);
            }
        }
        offset += len.div_ceil(CMSG_ALIGN) * CMSG_ALIGN;
    }
    None
}

/// Room for one timestamp control message (SCM_TIMESTAMPING carries three timespecs).
pub const CONTROL_LEN: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_addresses_round_trip() {
        for text in ["127.1.2.3:123", "[2001:db8::1]:4460", "[::1]:1"] {
            let addr: SocketAddr = text.parse().unwrap();
            let mut raw = SockaddrBytes::default();
            let len = encode_sockaddr(&addr, &mut raw) as usize;
            assert_eq!(decode_sockaddr(&raw.0[..len]), Some(addr));
        }
        assert_eq!(decode_sockaddr(&[0u8; 3]), None);
    }

    fn cmsg(level: i32, kind: i32, data: &[u8]) -> Vec<u8> {
        let len = CMSG_HEADER_LEN + data.len();
        let mut out = Vec::new();
        out.extend_from_slice(&len.to_ne_bytes());
        out.extend_from_slice(&level.to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(data);
        while out.len() % CMSG_ALIGN != 0 {
            out.push(0);
        }
        out
    }

    fn timespec(secs: i64, nanos: i64) -> Vec<u8> {
        [secs.to_ne_bytes(), nanos.to_ne_bytes()].concat()
    }

    #[test]
    fn finds_timestampns_after_other_messages() {
        let mut control = cmsg(libc::IPPROTO_IP, libc::IP_TTL, &64i32.to_ne_bytes());
        control.extend(cmsg(
            libc::SOL_SOCKET,
            libc::SCM_TIMESTAMPNS,
            &timespec(1_700_000_000, 42),
        ));
        assert_eq!(
            rx_timestamp(&control),
            Some(UnixTime {
                secs: 1_700_000_000,
                nanos: 42
            })
        );
    }

    #[test]
    fn timestamping_uses_the_software_time() {
        let mut data = timespec(5, 6);
        data.extend(timespec(0, 0));
        data.extend(timespec(7, 8));
        let control = cmsg(libc::SOL_SOCKET, libc::SCM_TIMESTAMPING, &data);
        assert_eq!(rx_timestamp(&control), Some(UnixTime { secs: 5, nanos: 6 }));
    }

    #[test]
    fn malformed_control_data_yields_nothing() {
        assert_eq!(rx_timestamp(&[]), None);
        let mut control = cmsg(libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS, &timespec(1, 2));
        control[0] = 200;
        assert_eq!(rx_timestamp(&control), None);
        let bad_nanos = cmsg(
            libc::SOL_SOCKET,
            libc::SCM_TIMESTAMPNS,
            &timespec(1, 2_000_000_000),
        );
        assert_eq!(rx_timestamp(&bad_nanos), None);
    }
}
