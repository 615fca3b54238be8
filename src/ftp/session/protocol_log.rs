//! `log_ftp_protocol=YES`: every command a session takes and every reply line it gives, as log events beside its actions.

use super::{Phase, Session};
use crate::ftp::action::Action;
use crate::ftp::transfer_log::LogEvent;

impl Session {
    /// The user vsftpd tags protocol lines with: the name given to USER until the login, then
    /// the name the session logs under; empty before USER.
    fn protocol_log_user(&self) -> Vec<u8> {
        match &self.phase {
            Phase::BeforeLogin(before_login) => match &before_login.login {
                Some(login) => login.name.clone(),
                None => before_login.pending_user.clone().unwrap_or_default(),
            },
            Phase::LoggedIn(logged_in) => logged_in.user.shown_name.clone(),
        }
    }

    fn logs_protocol(&self) -> bool {
        match &self.phase {
            Phase::BeforeLogin(before_login) => before_login.config.log_ftp_protocol,
            Phase::LoggedIn(logged_in) => logged_in.config.log_ftp_protocol,
        }
    }

    fn peer_ip(&self) -> std::net::IpAddr {
        match &self.phase {
            Phase::BeforeLogin(before_login) => before_login.peer.ip(),
            Phase::LoggedIn(logged_in) => logged_in.peer.ip(),
        }
    }

    /// Taken before the session handles a command (`line`) or a shell's answer: what its
    /// replies are logged with. None when the protocol is not logged.
    pub(super) fn protocol_log_start(&self, line: Option<&[u8]>) -> Option<ProtocolLogStart> {
        if !self.logs_protocol() {
            return None;
        }
        let user = self.protocol_log_user();
        let command = line.map(|line| {
            let (verb, argument) = match line.iter().position(|&byte| byte == b' ') {
                Some(space) => (&line[..space], &line[space + 1..]),
                None => (line, &b""[..]),
            };
            Action::Log(Box::new(LogEvent::FtpCommand {
                remote_ip: self.peer_ip(),
                user: user.clone(),
                verb: verb.to_vec(),
                argument: argument.to_vec(),
            }))
        });
        Some(ProtocolLogStart { command, user })
    }

    /// `actions`, with each reply preceded by an event per line of it when `start` says the
    /// protocol is logged, and the command's event first.
    pub(super) fn with_protocol_log(
        &self,
        start: Option<ProtocolLogStart>,
        actions: Vec<Action>,
    ) -> Vec<Action> {
        let Some(start) = start else {
            return actions;
        };
        // vsftpd names the user from USER on, and forgets a failed one only after its 530.
        let mut user = self.protocol_log_user();
        if user.is_empty() {
            user = start.user;
        }
        let remote_ip = self.peer_ip();
        let mut logged = Vec::with_capacity(actions.len() * 2 + 1);
        logged.extend(start.command);
        for action in actions {
            if let Action::Reply(reply) = &action {
                let mut encoded = Vec::new();
                reply.encode(&mut encoded);
                for line in encoded.split(|&byte| byte == b'\n') {
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if !line.is_empty() {
                        logged.push(Action::Log(Box::new(LogEvent::FtpResponse {
                            remote_ip,
                            user: user.clone(),
                            line: line.to_vec(),
                        })));
                    }
                }
            }
            logged.push(action);
        }
        logged
    }
}

/// What [`Session::with_protocol_log`] needs from before the session handled something.
pub(super) struct ProtocolLogStart {
    command: Option<Action>,
    /// The user before: a failed login forgets its name, but its 530 is logged with it.
    user: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use crate::ftp::action::Action;
    use crate::ftp::session::test_support::{anonymous_server, client_address};
    use crate::ftp::transfer_log::vsftpd_event_message;

    /// The vsftpd.log messages of the protocol lines among `actions`.
    fn protocol_lines(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|action| match action {
                Action::Log(event) => Some(vsftpd_event_message(event)),
                _ => None,
            })
            .filter(|line| line.contains("FTP command") || line.contains("FTP response"))
            .collect()
    }

    #[test]
    fn commands_and_reply_lines_are_logged_with_the_password_hidden() {
        let mut client = anonymous_server("log_ftp_protocol=YES\n");
        let ip = client_address().ip();
        assert_eq!(
            protocol_lines(&client.actions("USER ftp")),
            [
                format!("FTP command: Client \"{ip}\", \"USER ftp\""),
                format!(
                    "[ftp] FTP response: Client \"{ip}\", \"331 Please specify the password.\""
                ),
            ]
        );
        let lines = protocol_lines(&client.actions("PASS secret@example.com"));
        assert_eq!(
            lines[0],
            format!("[ftp] FTP command: Client \"{ip}\", \"PASS <password>\"")
        );
        assert!(
            lines.iter().all(|line| !line.contains("secret")),
            "{lines:?}"
        );
        assert!(
            lines[1..]
                .iter()
                .any(|line| line.contains("\"230 Login successful.\"")),
            "{lines:?}"
        );
        let feat = protocol_lines(&client.actions("FEAT"));
        assert!(feat.len() > 3, "one event per reply line: {feat:?}");
        assert!(feat[1].ends_with("\"211-Features:\""), "{feat:?}");
    }

    #[test]
    fn nothing_is_logged_without_the_option() {
        let mut client = anonymous_server("");
        assert!(protocol_lines(&client.actions("USER ftp")).is_empty());
    }
}
