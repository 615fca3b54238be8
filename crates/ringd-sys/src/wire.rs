//! Kernel ABI structures decoded and encoded in safe code: socket addresses, receive control messages and transmit timestamps.

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

/// The control messages of a buffer as the kernel filled it: (level, type, data); ends at the
/// first malformed one.
fn control_messages(control: &[u8]) -> impl Iterator<Item = (i32, i32, &[u8])> {
    let mut offset = 0;
    std::iter::from_fn(move || {
        let header = control.get(offset..offset + CMSG_HEADER_LEN)?;
        let len = usize::from_ne_bytes(header[0..8].try_into().ok()?);
        let level = i32::from_ne_bytes(header[8..12].try_into().ok()?);
        let kind = i32::from_ne_bytes(header[12..16].try_into().ok()?);
        if len < CMSG_HEADER_LEN {
            return None;
        }
        let data = control.get(offset + CMSG_HEADER_LEN..offset + len)?;
        offset += len.div_ceil(CMSG_ALIGN) * CMSG_ALIGN;
        Some((level, kind, data))
    })
}

/// Finds the software receive timestamp (SCM_TIMESTAMPNS, or the first time of SCM_TIMESTAMPING)
/// in a control-message buffer as the kernel filled it.
pub fn rx_timestamp(control: &[u8]) -> Option<UnixTime> {
    control_messages(control)
        .filter(|&(level, kind, _)| {
            level == libc::SOL_SOCKET
                && (kind == libc::SCM_TIMESTAMPNS || kind == libc::SCM_TIMESTAMPING)
        })
        .find_map(|(_, _, data)| read_timespec(data))
}

/// `CMSG_SPACE(sizeof(u32))`: a control-message header and one flag word, padded.
pub const TX_REQUEST_LEN: usize = CMSG_HEADER_LEN + 8;

/// The control message asking the kernel for one send's software transmit timestamp.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
pub struct TxRequest([u8; TX_REQUEST_LEN]);

impl Default for TxRequest {
    fn default() -> TxRequest {
        let mut bytes = [0u8; TX_REQUEST_LEN];
        bytes[0..8].copy_from_slice(&(CMSG_HEADER_LEN + 4).to_ne_bytes());
        bytes[8..12].copy_from_slice(&libc::SOL_SOCKET.to_ne_bytes());
        bytes[12..16].copy_from_slice(&libc::SO_TIMESTAMPING.to_ne_bytes());
        bytes[CMSG_HEADER_LEN..CMSG_HEADER_LEN + 4]
            .copy_from_slice(&libc::SOF_TIMESTAMPING_TX_SOFTWARE.to_ne_bytes());
        TxRequest(bytes)
    }
}

impl TxRequest {
    /// Where a msghdr's `msg_control` points; `TX_REQUEST_LEN` bytes.
    pub fn as_mut_ptr(&mut self) -> *mut libc::c_void {
        self.0.as_mut_ptr().cast()
    }
}

/// `ee_info` of a timestamp taken when the packet left for the device (SCM_TSTAMP_SND).
const TSTAMP_SND: u32 = 0;

/// A software transmit timestamp from the error queue: the send's number on its socket
/// (SOF_TIMESTAMPING_OPT_ID) and when it left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxTimestamp {
    pub key: u32,
    pub time: UnixTime,
}

/// Reads a transmit timestamp from an error-queue message's control messages: SCM_TIMESTAMPING
/// for the time and the `sock_extended_err` of IP_RECVERR/IPV6_RECVERR for the number.
pub fn tx_timestamp(control: &[u8]) -> Option<TxTimestamp> {
    let mut time = None;
    let mut key = None;
    for (level, kind, data) in control_messages(control) {
        if level == libc::SOL_SOCKET && kind == libc::SCM_TIMESTAMPING {
            time = read_timespec(data);
        } else if (level == libc::SOL_IP && kind == libc::IP_RECVERR)
            || (level == libc::SOL_IPV6 && kind == libc::IPV6_RECVERR)
        {
            let errno = u32::from_ne_bytes(data.get(0..4)?.try_into().ok()?);
            let origin = *data.get(4)?;
            let info = u32::from_ne_bytes(data.get(8..12)?.try_into().ok()?);
            if errno == libc::ENOMSG as u32
                && origin == libc::SO_EE_ORIGIN_TIMESTAMPING
                && info == TSTAMP_SND
            {
                key = Some(u32::from_ne_bytes(data.get(12..16)?.try_into().ok()?));
            }
        }
    }
    Some(TxTimestamp {
        key: key?,
        time: time?,
    })
}

/// Room for one timestamp control message (SCM_TIMESTAMPING carries three timespecs).
pub const CONTROL_LEN: usize = 64;

/// Room for an error-queue message's control messages: SCM_TIMESTAMPING and a
/// `sock_extended_err` followed by an IPv6 address.
pub const ERR_CONTROL_LEN: usize = 128;

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

    fn extended_err(errno: i32, origin: u8, info: u32, data: u32) -> Vec<u8> {
        let mut err = Vec::new();
        err.extend_from_slice(&(errno as u32).to_ne_bytes());
        err.extend_from_slice(&[origin, 0, 0, 0]);
        err.extend_from_slice(&info.to_ne_bytes());
        err.extend_from_slice(&data.to_ne_bytes());
        err.extend_from_slice(&[0; 16]);
        err
    }

    #[test]
    fn a_transmit_timestamp_carries_its_send_number() {
        let mut stamps = timespec(9, 10);
        stamps.extend(timespec(0, 0));
        stamps.extend(timespec(0, 0));
        let mut control = cmsg(libc::SOL_SOCKET, libc::SCM_TIMESTAMPING, &stamps);
        control.extend(cmsg(
            libc::SOL_IP,
            libc::IP_RECVERR,
            &extended_err(libc::ENOMSG, libc::SO_EE_ORIGIN_TIMESTAMPING, 0, 41),
        ));
        assert_eq!(
            tx_timestamp(&control),
            Some(TxTimestamp {
                key: 41,
                time: UnixTime { secs: 9, nanos: 10 }
            })
        );
        let mut icmp = cmsg(libc::SOL_SOCKET, libc::SCM_TIMESTAMPING, &stamps);
        icmp.extend(cmsg(
            libc::SOL_IP,
            libc::IP_RECVERR,
            &extended_err(libc::ECONNREFUSED, 2, 0, 41),
        ));
        assert_eq!(tx_timestamp(&icmp), None, "an ICMP error is no timestamp");
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
