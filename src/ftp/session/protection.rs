//! RFC 4217 in the session: AUTH, PBSZ and PROT as vsftpd 3.0.3 answers them, and its rules on
//! which logins and data connections must use TLS. The shell runs the handshakes.

use super::*;

/// What TLS protects (RFC 4217): the control connection once AUTH succeeded, and data
/// connections while PROT P is in force.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Security {
    pub(super) control: bool,
    pub(super) data: bool,
}

/// PBSZ, before and after login with `ssl_enable`: only 0 exists over TLS, whatever is asked.
pub(super) fn protection_buffer(security: Security) -> Vec<Action> {
    if security.control {
        say(replies::PBSZ_SET)
    } else {
        say(replies::PBSZ_NEEDS_TLS)
    }
}

/// PROT, before and after login with `ssl_enable`: Clear or Private data connections.
pub(super) fn protection_level(security: &mut Security, level: &str) -> Vec<Action> {
    if !security.control {
        return say(replies::PROT_NEEDS_TLS);
    }
    match level.to_ascii_uppercase().as_str() {
        "C" => {
            security.data = false;
            say(replies::PROT_CLEAR)
        }
        "P" => {
            security.data = true;
            say(replies::PROT_PRIVATE)
        }
        "S" | "E" => say(replies::PROT_NOT_SUPPORTED),
        _ => say(replies::PROT_NOT_RECOGNIZED),
    }
}

impl BeforeLogin {
    /// `implicit_ssl`: TLS from the first byte, before the greeting. Data connections stay
    /// clear until PROT P, as in vsftpd; limits were already checked, in plain text, by the
    /// accept loop.
    pub(super) fn implicit_tls(&mut self) -> Vec<Action> {
        if !(self.config.ssl_enable && self.config.implicit_ssl) {
            return Vec::new();
        }
        self.security.control = true;
        vec![Action::StartTls]
    }

    /// AUTH: vsftpd's four names for TLS on the control connection; `SSL` and `TLS-P` also
    /// protect data connections from the start, as PROT P would.
    pub(super) fn start_tls(&mut self, mechanism: &str) -> Vec<Action> {
        let private_data = match mechanism.to_ascii_uppercase().as_str() {
            "TLS" | "TLS-C" => false,
            "SSL" | "TLS-P" => true,
            _ => return say(replies::UNKNOWN_AUTH_TYPE),
        };
        self.security.control = true;
        self.security.data |= private_data;
        vec![
            Action::Reply(replies::PROCEED_WITH_NEGOTIATION.reply()),
            Action::StartTls,
        ]
    }

    /// vsftpd's TLS rules for USER: a login that must come over TLS ends the session, an
    /// anonymous one over TLS without `allow_anon_ssl` is refused.
    pub(super) fn tls_login_refusal(&self, anonymous: bool) -> Option<Vec<Action>> {
        let config = &self.config;
        if !config.ssl_enable {
            return None;
        }
        let secure = self.security.control;
        let end_with = |reply: FixedReply| Some(vec![Action::Reply(reply.reply()), Action::Close]);
        if anonymous && secure && !config.allow_anon_ssl && !config.force_anon_logins_ssl {
            return Some(say(replies::ANONYMOUS_NO_TLS));
        }
        if !anonymous && !secure && config.force_local_logins_ssl {
            return end_with(replies::LOCAL_NEEDS_TLS);
        }
        if anonymous && !secure && config.force_anon_logins_ssl {
            return end_with(replies::ANONYMOUS_NEEDS_TLS);
        }
        None
    }
}

#[cfg(test)]
mod tests;
