//! Lines for the system log, sent to its socket (/dev/log) as glibc's syslog(3) sends them: what vsftpd's `syslog_enable=YES` writes there.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use tracing::warn;

/// Where syslog daemons (rsyslog, syslog-ng, journald) take local messages.
pub const SYSTEM_LOG_SOCKET: &str = "/dev/log";

/// syslog's `LOG_FTP` facility, as vsftpd opens its log.
const FACILITY_FTP: u8 = 11;

/// How serious a line is; vsftpd marks only failed logins `LOG_WARNING`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Warning = 4,
    Info = 6,
}

/// One message as the socket takes it, `<PRI>ident[pid]: message`, without a timestamp: the
/// daemon stamps it on arrival. Bytes outside printable ASCII become `?`, so no message can
/// forge a second line.
pub fn datagram(ident: &str, pid: u32, severity: Severity, message: &str) -> Vec<u8> {
    let priority = u16::from(FACILITY_FTP) * 8 + severity as u16;
    let mut datagram = format!("<{priority}>{ident}[{pid}]: ").into_bytes();
    datagram.extend(message.bytes().map(|byte| {
        if (0x20..=0x7e).contains(&byte) {
            byte
        } else {
            b'?'
        }
    }));
    datagram
}

/// A connection to the system log, made again when the daemon restarted. A line that cannot
/// be sent is dropped, as syslog(3) drops it: serving matters more than logging.
#[derive(Debug)]
pub struct SyslogSink {
    path: PathBuf,
    ident: &'static str,
    socket: Mutex<Option<UnixDatagram>>,
    /// A failure to reach the log was reported, and not followed by a success.
    warned: AtomicBool,
}

impl SyslogSink {
    pub fn new(path: impl AsRef<Path>, ident: &'static str) -> SyslogSink {
        SyslogSink {
            path: path.as_ref().to_path_buf(),
            ident,
            socket: Mutex::new(None),
            warned: AtomicBool::new(false),
        }
    }

    pub fn send(&self, severity: Severity, message: &str) {
        let datagram = datagram(self.ident, std::process::id(), severity, message);
        let mut socket = self.socket.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(connected) = socket.as_ref() {
            if connected.send(&datagram).is_ok() {
                return;
            }
        }
        let reconnected = UnixDatagram::unbound().and_then(|fresh| {
            fresh.connect(&self.path)?;
            fresh.send(&datagram)?;
            Ok(fresh)
        });
        match reconnected {
            Ok(fresh) => {
                *socket = Some(fresh);
                self.warned.store(false, Ordering::Relaxed);
            }
            Err(err) => {
                *socket = None;
                if !self.warned.swap(true, Ordering::Relaxed) {
                    warn!(
                        "cannot send to the system log at {}: {err}",
                        self.path.display()
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_goes_out_with_facility_ftp_and_no_second_line() {
        assert_eq!(
            datagram("vsftpd", 42, Severity::Info, "CONNECT: Client \"1.2.3.4\""),
            b"<94>vsftpd[42]: CONNECT: Client \"1.2.3.4\"".to_vec()
        );
        assert_eq!(
            datagram("vsftpd", 7, Severity::Warning, "a\nb"),
            b"<92>vsftpd[7]: a?b".to_vec()
        );
    }

    #[test]
    fn lines_reach_the_socket_and_follow_a_restarted_daemon() {
        let dir = ringd_sys::test_dirs::TempDir::new("syslog");
        let path = dir.join("log");
        let sink = SyslogSink::new(&path, "vsftpd");
        sink.send(Severity::Info, "before the daemon");
        let daemon = UnixDatagram::bind(&path).unwrap();
        sink.send(Severity::Info, "first");
        let mut buf = [0u8; 128];
        let len = daemon.recv(&mut buf).unwrap();
        assert!(buf[..len].ends_with(b": first"));
        drop(daemon);
        std::fs::remove_file(&path).unwrap();
        let restarted = UnixDatagram::bind(&path).unwrap();
        sink.send(Severity::Warning, "second");
        let len = restarted.recv(&mut buf).unwrap();
        assert!(buf[..len].starts_with(b"<92>vsftpd["));
        assert!(buf[..len].ends_with(b": second"));
    }
}
