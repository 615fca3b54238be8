//! Who may ask what of the control socket: chronyc's split between monitoring and control.
//!
//! chronyd answers anyone allowed by `cmdallow` with reports that change nothing (tracking,
//! sources, sourcestats, activity) and keeps every other command for root and its own user on
//! its Unix socket. ringd makes the same split on its one socket: the kernel names each
//! caller (SO_PEERCRED), root and ringd's own user may ask everything, and anyone else the
//! socket's mode lets in (its group: ringd's, or `--control-group`) only the monitoring reports.

use super::protocol::Request;

/// The caller, as the kernel identifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// root, or the user ringd runs as.
    Administrator,
    /// Anyone else who could open the socket.
    Monitor,
}

/// chronyc's monitoring commands that ringctl has (`waitsync` asks for `tracking`).
pub const MONITORING: &str = "tracking, sources, sourcestats, activity, waitsync";

impl Caller {
    /// `peer_uid` as the kernel reports it; `None` when it could not be learnt, which counts
    /// as the least trusted.
    pub fn of(peer_uid: Option<u32>, daemon_uid: u32) -> Caller {
        match peer_uid {
            Some(uid) if uid == 0 || uid == daemon_uid => Caller::Administrator,
            _ => Caller::Monitor,
        }
    }

    /// Whether this caller may make `request`; the refusal says who may.
    pub fn may(self, request: Request) -> Result<(), String> {
        let monitoring = matches!(
            request,
            Request::Tracking
                | Request::Sources { .. }
                | Request::SourceStats { .. }
                | Request::Activity
        );
        if monitoring || self == Caller::Administrator {
            return Ok(());
        }
        Err(format!(
            "`{request}` is for root and ringd's own user, as chronyc's commands other than \
             monitoring are for root and chrony's user; others may ask {MONITORING}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAEMON: u32 = 105;

    #[test]
    fn root_and_ringds_user_administer_everyone_else_monitors() {
        assert_eq!(Caller::of(Some(0), DAEMON), Caller::Administrator);
        assert_eq!(Caller::of(Some(DAEMON), DAEMON), Caller::Administrator);
        assert_eq!(Caller::of(Some(1000), DAEMON), Caller::Monitor);
        assert_eq!(Caller::of(None, DAEMON), Caller::Monitor);
    }

    #[test]
    fn monitors_get_chronycs_monitoring_reports_and_nothing_else() {
        for request in [
            Request::Tracking,
            Request::Sources { verbose: true },
            Request::SourceStats { verbose: false },
            Request::Activity,
        ] {
            assert_eq!(Caller::Monitor.may(request), Ok(()), "{request}");
        }
        for request in [
            Request::NtpData { address: None },
            Request::AuthData { verbose: false },
            Request::ServerStats,
            Request::Clients,
            Request::MakeStep,
            Request::Reload,
            Request::CycleLogs,
            Request::FtpSessions,
        ] {
            assert_eq!(Caller::Administrator.may(request), Ok(()), "{request}");
            let refusal = Caller::Monitor.may(request).unwrap_err();
            assert!(
                refusal.starts_with(&format!("`{request}` is for root and ringd's own user")),
                "{refusal}"
            );
            assert!(refusal.ends_with(MONITORING), "{refusal}");
        }
    }
}
