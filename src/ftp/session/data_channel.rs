//! Setting up the data channel: PASV, EPSV and PORT/EPRT, and the listener the shell reports back.

use super::*;

impl LoggedIn {
    pub(super) fn start_passive(&mut self, extended: bool) -> Vec<Action> {
        self.data = DataSetup::Passive {
            extended,
            ready: false,
        };
        vec![Action::ListenPassive]
    }

    pub(super) fn handle_epsv(&mut self, arg: EpsvArg) -> Vec<Action> {
        match arg {
            EpsvArg::All => {
                self.epsv_all = true;
                say(replies::EPSV_ALL_OK)
            }
            EpsvArg::Protocol(1) => self.start_passive(true),
            EpsvArg::Protocol(2) if self.local.is_ipv6() => self.start_passive(true),
            EpsvArg::Protocol(_) => say(replies::BAD_NETWORK_PROTOCOL),
            EpsvArg::None => self.start_passive(true),
        }
    }

    pub(super) fn passive_listening(&mut self, port: Option<u16>) -> Vec<Action> {
        let DataSetup::Passive { extended, .. } = self.data else {
            return Vec::new();
        };
        let Some(port) = port else {
            self.data = DataSetup::None;
            return send(Reply::new(
                425,
                "Could not listen for a passive data connection.",
            ));
        };
        self.data = DataSetup::Passive {
            extended,
            ready: true,
        };
        if extended {
            return send(replies::entering_extended_passive(port));
        }
        let shown = match (self.context.passive_address, self.local.ip()) {
            (Some(address), _) => address,
            (None, IpAddr::V4(v4)) => v4,
            (None, IpAddr::V6(v6)) => v6
                .to_ipv4_mapped()
                .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
        };
        send(replies::entering_passive(shown, port))
    }

    pub(super) fn set_active(
        &mut self,
        target: SocketAddr,
        accepted: FixedReply,
        refused: FixedReply,
    ) -> Vec<Action> {
        let same_host = target.ip().to_canonical() == self.peer.ip().to_canonical();
        if !self.config.port_promiscuous && (!same_host || target.port() < 1024) {
            // No FTP bounce: data connections go only to the client itself, never to a
            // privileged port.
            self.data = DataSetup::None;
            return say(refused);
        }
        self.data = DataSetup::Active(target);
        say(accepted)
    }

    /// Why a transfer or listing cannot start, as vsftpd checks it before opening anything:
    /// no PASV or PORT yet, or clear data where the configuration wants it encrypted.
    pub(super) fn data_refusal(&self) -> Option<FixedReply> {
        let ready = matches!(
            self.data,
            DataSetup::Passive { ready: true, .. } | DataSetup::Active(_)
        );
        if !ready {
            return Some(replies::USE_PORT_OR_PASV_FIRST);
        }
        let config = &self.config;
        let must_encrypt = if self.user.anonymous {
            config.force_anon_data_ssl
        } else {
            config.force_local_data_ssl
        };
        (config.ssl_enable && must_encrypt && !self.security.data)
            .then_some(replies::DATA_NEEDS_TLS)
    }
}

#[cfg(test)]
mod tests;
