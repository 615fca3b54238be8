//! chrony.conf's server-side authentication: `keyfile` and the NTS server's directives.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::chrony::Directive;
use super::error::ConfigError;

/// chronyd's defaults (conf.c).
const DEFAULT_NTS_PORT: u16 = 4460;
const DEFAULT_MAX_NTS_CONNECTIONS: usize = 100;
const DEFAULT_NTS_ROTATE_S: u64 = 604_800;

/// The directives this module reads.
pub(super) const DIRECTIVES: &[&str] = &[
    "keyfile",
    "ntsserverkey",
    "ntsservercert",
    "ntsport",
    "ntsprocesses",
    "maxntsconnections",
    "ntsrotate",
    "ntsdumpdir",
    "ntsntpserver",
];

/// `keyfile` and the NTS server's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthSettings {
    /// `keyfile`: the symmetric keys requests may be authenticated with.
    pub keyfile: Option<PathBuf>,
    /// `ntsservercert`, in file order.
    pub nts_certs: Vec<PathBuf>,
    /// `ntsserverkey`, in file order; the n-th goes with the n-th certificate.
    pub nts_keys: Vec<PathBuf>,
    pub nts_port: u16,
    pub max_nts_connections: usize,
    /// `ntsrotate`: 0 leaves the server keys to the admin.
    pub nts_rotate: Duration,
    pub nts_dump_dir: Option<PathBuf>,
    pub nts_ntp_server: Option<String>,
    /// `ntsprocesses`: chronyd's helper processes; one KE thread serves here.
    pub nts_processes: Option<u32>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            keyfile: None,
            nts_certs: Vec::new(),
            nts_keys: Vec::new(),
            nts_port: DEFAULT_NTS_PORT,
            max_nts_connections: DEFAULT_MAX_NTS_CONNECTIONS,
            nts_rotate: Duration::from_secs(DEFAULT_NTS_ROTATE_S),
            nts_dump_dir: None,
            nts_ntp_server: None,
            nts_processes: None,
        }
    }
}

impl AuthSettings {
    /// The certificate and key the NTS-KE server uses, when NTS is served: the first pair,
    /// as a client without SNI gets from chronyd.
    pub fn nts_server(&self) -> Option<(&PathBuf, &PathBuf)> {
        Some((self.nts_certs.first()?, self.nts_keys.first()?))
    }

    /// What is accepted but not acted on, for the start-up log and `--check`.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        let nts_directives = AuthSettings {
            keyfile: None,
            ..self.clone()
        };
        if self.nts_server().is_none() && nts_directives != AuthSettings::default() {
            notes.push(
                "NTS-KE is not served: it needs both ntsservercert and ntsserverkey; the other \
                 NTS directives wait for them"
                    .to_string(),
            );
        }
        if self.nts_certs.len() > 1 {
            notes.push(format!(
                "ntsservercert: {} certificates given; NTS-KE serves the first to every client (no SNI selection)",
                self.nts_certs.len()
            ));
        }
        if let Some(processes) = self.nts_processes {
            notes.push(format!(
                "ntsprocesses {processes}: one NTS-KE thread serves every handshake"
            ));
        }
        notes
    }
}

/// Applies one of [`DIRECTIVES`].
pub(super) fn apply(
    settings: &mut AuthSettings,
    name: &str,
    d: &Directive<'_>,
) -> Result<(), ConfigError> {
    match name {
        "keyfile" => settings.keyfile = Some(d.single::<PathBuf>("a key file")?),
        "ntsservercert" | "ntsserverkey" => {
            let list = if name == "ntsservercert" {
                &mut settings.nts_certs
            } else {
                &mut settings.nts_keys
            };
            list.push(d.single("a PEM file")?);
        }
        "ntsport" => settings.nts_port = d.single("a port number 0..65535")?,
        "ntsprocesses" => settings.nts_processes = Some(d.single("a number of processes")?),
        "maxntsconnections" => {
            settings.max_nts_connections = d.single("a number of connections")?;
        }
        "ntsrotate" => {
            let seconds: i64 = d.single("seconds between key rotations")?;
            // chronyd takes a negative interval as 0: no rotation.
            settings.nts_rotate = Duration::from_secs(seconds.max(0) as u64);
        }
        "ntsdumpdir" => settings.nts_dump_dir = Some(d.single("a directory")?),
        "ntsntpserver" => settings.nts_ntp_server = Some(d.single("a host name or address")?),
        _ => unreachable!("not one of DIRECTIVES: {name}"),
    }
    Ok(())
}

/// The directives as `ringd --check` prints them.
impl fmt::Display for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.keyfile {
            writeln!(f, "keyfile {}", path.display())?;
        }
        if self.nts_server().is_some() {
            self.fmt_nts_server(f)?;
        }
        for note in self.notes() {
            writeln!(f, "# {note}")?;
        }
        Ok(())
    }
}

impl AuthSettings {
    fn fmt_nts_server(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for path in &self.nts_certs {
            writeln!(f, "ntsservercert {}", path.display())?;
        }
        for path in &self.nts_keys {
            writeln!(f, "ntsserverkey {}", path.display())?;
        }
        writeln!(f, "ntsport {}", self.nts_port)?;
        writeln!(f, "maxntsconnections {}", self.max_nts_connections)?;
        writeln!(f, "ntsrotate {}", self.nts_rotate.as_secs())?;
        if let Some(dir) = &self.nts_dump_dir {
            writeln!(f, "ntsdumpdir {}", dir.display())?;
        }
        if let Some(server) = &self.nts_ntp_server {
            writeln!(f, "ntsntpserver {server}")?;
        }
        Ok(())
    }
}
