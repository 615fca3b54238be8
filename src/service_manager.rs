//! Telling systemd how ringd is doing (`sd_notify`): ready once every service listens, a status line with the counters, stopping.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::PathBuf;

/// Where systemd listens for notifications (`$NOTIFY_SOCKET` of a `Type=notify` unit):
/// a path, or an abstract name written with a leading `@`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotifySocket {
    Path(PathBuf),
    Abstract(Vec<u8>),
}

impl NotifySocket {
    /// The socket systemd gave, if ringd runs under a `Type=notify` unit.
    pub fn from_env() -> Option<NotifySocket> {
        NotifySocket::parse(&std::env::var_os("NOTIFY_SOCKET")?.into_encoded_bytes())
    }

    fn parse(value: &[u8]) -> Option<NotifySocket> {
        match value {
            [] => None,
            [b'@', name @ ..] => Some(NotifySocket::Abstract(name.to_vec())),
            path => Some(NotifySocket::Path(PathBuf::from(
                String::from_utf8_lossy(path).into_owned(),
            ))),
        }
    }

    /// The path of a socket in the file system (Landlock must let ringd reach it).
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            NotifySocket::Path(path) => Some(path),
            NotifySocket::Abstract(_) => None,
        }
    }
}

/// The notifications ringd sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notification {
    /// Every service listens: `systemctl start` returns.
    Ready {
        status: String,
    },
    /// What `systemctl status` shows.
    Status(String),
    Stopping,
}

impl Notification {
    /// The datagram, in sd_notify's `KEY=VALUE` lines; a status is one line.
    fn encode(&self) -> String {
        let one_line = |status: &str| status.replace('\n', " ");
        match self {
            Notification::Ready { status } => format!("READY=1\nSTATUS={}\n", one_line(status)),
            Notification::Status(status) => format!("STATUS={}\n", one_line(status)),
            Notification::Stopping => "STOPPING=1\nSTATUS=stopping\n".to_string(),
        }
    }
}

/// Sends `notification` to systemd; does nothing outside a `Type=notify` unit. A failure is
/// returned for the caller to log: systemd not hearing ringd must not stop it serving.
pub fn notify(socket: Option<&NotifySocket>, notification: &Notification) -> std::io::Result<()> {
    let Some(socket) = socket else {
        return Ok(());
    };
    let address = match socket {
        NotifySocket::Path(path) => SocketAddr::from_pathname(path)?,
        NotifySocket::Abstract(name) => SocketAddr::from_abstract_name(name)?,
    };
    let sender = UnixDatagram::unbound()?;
    sender.send_to_addr(notification.encode().as_bytes(), &address)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dirs::TempDir;

    #[test]
    fn notify_socket_names_are_paths_or_abstract() {
        assert_eq!(NotifySocket::parse(b""), None);
        assert_eq!(
            NotifySocket::parse(b"/run/systemd/notify"),
            Some(NotifySocket::Path("/run/systemd/notify".into()))
        );
        assert_eq!(
            NotifySocket::parse(b"@/org/freedesktop/systemd1/notify/42"),
            Some(NotifySocket::Abstract(
                b"/org/freedesktop/systemd1/notify/42".to_vec()
            ))
        );
    }

    #[test]
    fn systemd_receives_ready_status_and_stopping() {
        let dir = TempDir::new("notify");
        let path = dir.join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let socket = NotifySocket::Path(path);
        let mut received = Vec::new();
        for notification in [
            Notification::Ready {
                status: "NTP on 127.0.0.1:123".into(),
            },
            Notification::Status("1 answered\n0 dropped".into()),
            Notification::Stopping,
        ] {
            notify(Some(&socket), &notification).unwrap();
            let mut buf = [0u8; 256];
            let len = listener.recv(&mut buf).unwrap();
            received.push(String::from_utf8_lossy(&buf[..len]).into_owned());
        }
        assert_eq!(
            received,
            [
                "READY=1\nSTATUS=NTP on 127.0.0.1:123\n",
                "STATUS=1 answered 0 dropped\n",
                "STOPPING=1\nSTATUS=stopping\n"
            ]
        );
        assert!(notify(None, &Notification::Stopping).is_ok());
    }
}
