//! Claiming a listening port: refused, naming the holder, when another process has it (SO_REUSEPORT would otherwise split the clients between them), and errors that say which right is missing.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};
use thiserror::Error;

use crate::sys::procnet::{self, Holder, Transport};

/// Why a service cannot listen on an address.
#[derive(Debug, Error)]
pub enum ListenError {
    #[error("the port is in use by {holders}; stop it, or choose another port with `{option}`")]
    Held {
        holders: String,
        /// The configuration option that sets the port.
        option: &'static str,
    },
    #[error("permission denied: ports below 1024 need ringd started as root or with CAP_NET_BIND_SERVICE (`setcap cap_net_bind_service=+ep` on the binary, or AmbientCapabilities=CAP_NET_BIND_SERVICE in its systemd unit)")]
    Denied,
    #[error("{0}")]
    Other(#[source] io::Error),
}

impl ListenError {
    /// `error` from binding a `transport` socket to `addr`; `option` names the setting that
    /// chooses the port.
    pub fn from_bind(
        error: io::Error,
        addr: SocketAddr,
        transport: Transport,
        option: &'static str,
    ) -> ListenError {
        match error.kind() {
            io::ErrorKind::AddrInUse => ListenError::Held {
                holders: describe_holders(&procnet::holders_of_port(transport, addr.port())),
                option,
            },
            io::ErrorKind::PermissionDenied => ListenError::Denied,
            _ => ListenError::Other(error),
        }
    }
}

/// Checks that no other process holds `addr`'s port before ringd binds its shards' sockets
/// with SO_REUSEPORT, which the kernel would let share a port with another SO_REUSEPORT
/// socket of the same user (a second ringd) and so split the clients between the two. The
/// probe does not ask for SO_REUSEPORT, so any socket already bound there makes it fail.
/// Port 0 needs no check: the kernel picks a free port.
pub fn ensure_free(
    addr: SocketAddr,
    transport: Transport,
    option: &'static str,
) -> Result<(), ListenError> {
    probe(addr, transport, option, &[])
}

/// As [`ensure_free`], for a reload while ringd listens on `own`: a clash with one of those
/// (its wildcard address when a specific one is added, or the reverse) does not count. Known
/// from the addresses, not from /proc, which a confined ringd may no longer read.
pub fn ensure_free_of_others(
    addr: SocketAddr,
    transport: Transport,
    option: &'static str,
    own: &[SocketAddr],
) -> Result<(), ListenError> {
    probe(addr, transport, option, own)
}

/// Whether `held`, a socket ringd listens on, makes binding `addr` without SO_REUSEPORT fail.
fn overlaps(held: &SocketAddr, addr: &SocketAddr) -> bool {
    held.port() == addr.port()
        && held.is_ipv4() == addr.is_ipv4()
        && (held.ip() == addr.ip() || held.ip().is_unspecified() || addr.ip().is_unspecified())
}

fn probe(
    addr: SocketAddr,
    transport: Transport,
    option: &'static str,
    own: &[SocketAddr],
) -> Result<(), ListenError> {
    if addr.port() == 0 {
        return Ok(());
    }
    let kind = match transport {
        Transport::Udp => Type::DGRAM,
        Transport::Tcp => Type::STREAM,
    };
    let probe = Socket::new(Domain::for_address(addr), kind, None).map_err(ListenError::Other)?;
    if addr.is_ipv6() {
        probe.set_only_v6(true).map_err(ListenError::Other)?;
    }
    if transport == Transport::Tcp {
        // As ringd's own listeners: connections of an earlier run in TIME_WAIT do not count.
        probe.set_reuse_address(true).map_err(ListenError::Other)?;
    }
    // A socket no process holds is one the kernel is still releasing: an io_uring ringd that
    // was killed leaves its sockets to a kernel worker for a few milliseconds, and a restart
    // at once must not fail on them.
    let deadline = Instant::now() + RELEASE_WAIT;
    loop {
        let Err(error) = probe.bind(&addr.into()) else {
            return Ok(());
        };
        if error.kind() != io::ErrorKind::AddrInUse {
            return Err(ListenError::from_bind(error, addr, transport, option));
        }
        if own.iter().any(|held| overlaps(held, &addr)) {
            return Ok(());
        }
        let holders = procnet::holders_of_port(transport, addr.port());
        if !holders.is_empty() || Instant::now() >= deadline {
            return Err(ListenError::from_bind(error, addr, transport, option));
        }
        std::thread::sleep(RELEASE_POLL);
    }
}

/// How long a port held by no process is given to be released.
const RELEASE_WAIT: Duration = Duration::from_millis(500);
const RELEASE_POLL: Duration = Duration::from_millis(5);

/// `chronyd (pid 812)`, or what can be said when the holder is hidden.
fn describe_holders(holders: &[Holder]) -> String {
    if holders.is_empty() {
        return "another process (one ringd may not look into: `ss -lnp` as root shows which)"
            .to_string();
    }
    holders
        .iter()
        .map(|holder| format!("{} (pid {})", holder.name, holder.pid))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, UdpSocket};

    #[test]
    fn a_held_port_names_its_holder_and_the_option() {
        let held = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = held.local_addr().unwrap();
        let error = ensure_free(addr, Transport::Udp, "port").unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains(&format!("(pid {})", std::process::id())),
            "{message}"
        );
        assert!(
            message.ends_with("choose another port with `port`"),
            "{message}"
        );

        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = held.local_addr().unwrap();
        let error = ensure_free(addr, Transport::Tcp, "listen_port").unwrap_err();
        assert!(matches!(error, ListenError::Held { .. }), "{error}");
    }

    #[test]
    fn on_reload_a_clash_with_ringds_own_wildcard_socket_does_not_count() {
        let held = UdpSocket::bind("0.0.0.0:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let specific = SocketAddr::from(([127, 0, 0, 1], port));
        assert!(ensure_free(specific, Transport::Udp, "port").is_err());
        let own = [held.local_addr().unwrap()];
        assert!(ensure_free_of_others(specific, Transport::Udp, "port", &own).is_ok());
        let elsewhere = [SocketAddr::from(([127, 0, 0, 2], port))];
        assert!(ensure_free_of_others(specific, Transport::Udp, "port", &elsewhere).is_err());
    }

    #[test]
    fn a_free_port_and_port_0_pass() {
        let addr = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        assert!(ensure_free(addr, Transport::Udp, "port").is_ok());
        assert!(ensure_free(
            "127.0.0.1:0".parse().unwrap(),
            Transport::Tcp,
            "listen_port"
        )
        .is_ok());
    }

    #[test]
    fn permission_denied_says_which_right_is_missing() {
        let error = ListenError::from_bind(
            io::Error::from(io::ErrorKind::PermissionDenied),
            "0.0.0.0:21".parse().unwrap(),
            Transport::Tcp,
            "listen_port",
        );
        let message = error.to_string();
        assert!(message.contains("CAP_NET_BIND_SERVICE"), "{message}");
        assert!(!message.contains("chronyd"), "{message}");
    }

    #[test]
    fn hidden_holders_are_described_with_the_way_to_find_them() {
        assert!(describe_holders(&[]).contains("ss -lnp"));
        let holders = [
            Holder {
                pid: 812,
                name: "chronyd".to_string(),
            },
            Holder {
                pid: 9,
                name: "ringd".to_string(),
            },
        ];
        assert_eq!(
            describe_holders(&holders),
            "chronyd (pid 812), ringd (pid 9)"
        );
    }
}
