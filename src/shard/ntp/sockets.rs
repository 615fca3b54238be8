//! The NTP listening sockets: one SO_REUSEPORT UDP socket per bind address per shard.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;

use socket2::{Domain, Protocol, Socket, Type};

use super::steering;
use crate::shard::listen_port::ListenError;
use crate::sys::procnet::Transport;
use crate::sys::sockopt;

/// The chrony.conf directive that sets the NTP port.
pub const PORT_OPTION: &str = "port";

/// Receive buffer asked of the kernel per socket; bursts at pool-grade rates need room.
const RECV_BUFFER_BYTES: usize = 8 << 20;

/// The sockets of one bind address, the `i`th belonging to shard `i`.
pub struct Listener {
    pub local_addr: SocketAddr,
    pub sockets: Vec<UdpSocket>,
}

fn new_socket(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        // chrony keeps IPv4 and IPv6 on separate sockets; so do we, so `bindaddress 0.0.0.0`
        // and `bindaddress ::` can coexist.
        socket.set_only_v6(true)?;
    }
    // Best effort: the kernel caps it at net.core.rmem_max (see tuning/).
    let _ = socket.set_recv_buffer_size(RECV_BUFFER_BYTES);
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Binds `shards` sockets to `ip:port` (port 0: one ephemeral port shared by all of them) with
/// RX timestamps on, and attaches the source-address steering program when there are several.
pub fn bind(ip: IpAddr, port: u16, shards: usize) -> Result<Listener, (SocketAddr, ListenError)> {
    let mut local_addr = SocketAddr::new(ip, port);
    let failed = |addr: SocketAddr| {
        move |error: io::Error| {
            (
                addr,
                ListenError::from_bind(error, addr, Transport::Udp, PORT_OPTION),
            )
        }
    };
    let mut sockets = Vec::with_capacity(shards);
    for _ in 0..shards {
        let socket = new_socket(local_addr).map_err(failed(local_addr))?;
        socket
            .bind(&local_addr.into())
            .map_err(failed(local_addr))?;
        if local_addr.port() == 0 {
            local_addr = socket
                .local_addr()
                .map_err(failed(local_addr))?
                .as_socket()
                .ok_or_else(|| {
                    failed(local_addr)(io::Error::other("bound socket has no IP address"))
                })?;
        }
        let socket: UdpSocket = socket.into();
        sockopt::enable_rx_timestamps(socket.as_fd()).map_err(failed(local_addr))?;
        sockets.push(socket);
    }
    if shards > 1 {
        let program = steering::source_hash_program(ip.is_ipv6(), shards as u32);
        sockopt::attach_reuseport_cbpf(sockets[0].as_fd(), &program).map_err(failed(local_addr))?;
    }
    Ok(Listener {
        local_addr,
        sockets,
    })
}
