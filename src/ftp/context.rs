//! What every FTP session shares: the configuration and the files it names, loaded once at start.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

use super::event_counts::FTP_EVENTS;
use super::replies::{self, Reply};
use super::throttle::SharedBucket;
use super::transfer_log::{self, LogEvent};
use super::users::{NameList, VirtualUsers};
use crate::config::source_file::{
    self, Expected, SourceFileError, NO_ORIGINAL_LIMIT, VSFTPD_FILE_MAX,
};
use crate::config::vsftpd::FtpConfig;
use crate::hosts_access::HostsAccess;
use crate::ntp::packet::UnixTime;
use crate::output_files::LogFile;
use crate::sys::accounts;
use crate::syslog::{SyslogSink, SYSTEM_LOG_SOCKET};

/// Names tcp_wrappers rules may use for this daemon.
pub(crate) const DAEMON_NAMES: [&str; 2] = ["vsftpd", "ringd"];

#[derive(Debug, Error)]
pub enum ContextError {
    #[error("{file}: cannot read the {what}: {source}")]
    Read {
        what: &'static str,
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

pub struct SessionContext {
    pub config: Arc<FtpConfig>,
    pub greeting: Reply,
    pub ftpusers: NameList,
    pub user_list: NameList,
    pub banned_emails: NameList,
    pub secure_emails: NameList,
    pub virtual_users: Option<VirtualUsers>,
    pub hosts: Option<HostsAccess>,
    pub passive_address: Option<Ipv4Addr>,
    /// The uid anonymous uploads are given with `chown_uploads`.
    pub chown_uid: Option<u32>,
    /// `chroot_list_file`, read when `chroot_list_enable` is set.
    pub chroot_list: NameList,
    /// `max_rate_total`: the bandwidth all transfers share.
    pub total_rate: Option<SharedBucket>,
    /// `xferlog_enable` with `xferlog_std_format`: transfers in wu-ftpd's xferlog format.
    xferlog: Option<Arc<LogFile>>,
    /// `xferlog_enable` without `xferlog_std_format`: every event in vsftpd's own format.
    vsftpd_log: Option<Arc<LogFile>>,
    /// `syslog_enable`: vsftpd's own format, without date and pid, to the system log.
    syslog: Option<SyslogSink>,
    anonymous_root: Option<PathBuf>,
    /// The home of `guest_username`: the root of guests and virtual users without `local_root`.
    guest_home: Option<PathBuf>,
    /// The files read for this context, which a reload reads again.
    files_read: Vec<PathBuf>,
    /// Seconds east of UTC, taken once at load as vsftpd takes it at start-up: its logs are
    /// always in local time, listings and MDTM with `use_localtime=YES`.
    utc_offset_secs: i32,
}

/// vsftpd reads `banner_file` and its name lists up to `VSFTP_CONF_FILE_MAX`.
fn read_banner(path: &Path) -> Result<Vec<u8>, ContextError> {
    source_file::read(path, Expected::named_by("banner_file", VSFTPD_FILE_MAX))
        .map_err(|err| file_error("banner_file", err))
}

fn read_list(what: &'static str, path: &Path) -> Result<NameList, ContextError> {
    NameList::load(path, Expected::named_by(what, VSFTPD_FILE_MAX))
        .map_err(|err| file_error(what, err))
}

/// The ftpusers file, which PAM's pam_listfile reads for vsftpd without a size limit.
fn read_ftpusers(path: &Path) -> Result<NameList, ContextError> {
    NameList::load(path, Expected::named_by("ftpusers_file", NO_ORIGINAL_LIMIT))
        .map_err(|err| file_error("ftpusers_file", err))
}

/// A file that could not be read keeps saying which option named it; one that is not a file
/// to read says so itself.
fn file_error(what: &'static str, err: SourceFileError) -> ContextError {
    match err {
        SourceFileError::Io { path, source } => ContextError::Read {
            what,
            file: path.display().to_string(),
            source,
        },
        refused => ContextError::Invalid(refused.to_string()),
    }
}

/// Where Red Hat's vsftpd (the seed's) keeps the user list; its build changes the default.
const RED_HAT_USER_LIST: &str = "/etc/vsftpd/user_list";

/// The configured user list, or Red Hat's when the upstream default is absent and it exists.
fn userlist_path(configured: &Path) -> PathBuf {
    let upstream_default = FtpConfig::default().userlist_file;
    if configured == upstream_default
        && !configured.exists()
        && Path::new(RED_HAT_USER_LIST).exists()
    {
        PathBuf::from(RED_HAT_USER_LIST)
    } else {
        configured.to_path_buf()
    }
}

/// `pasv_address`: an IPv4 address, or with `pasv_addr_resolve` a name resolved once now.
fn resolve_passive_address(address: &str, resolve: bool) -> Result<Ipv4Addr, ContextError> {
    if let Ok(ip) = address.parse() {
        return Ok(ip);
    }
    if !resolve {
        return Err(ContextError::Invalid(format!(
            "pasv_address={address}: not an IPv4 address (set pasv_addr_resolve=YES for a host name)"
        )));
    }
    (address, 0)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| {
            addrs.find_map(|a| match a.ip() {
                IpAddr::V4(v4) => Some(v4),
                IpAddr::V6(_) => None,
            })
        })
        .ok_or_else(|| {
            ContextError::Invalid(format!(
                "pasv_address={address}: no IPv4 address for this name"
            ))
        })
}

/// The home directory of system account `user`.
fn home_of(user: &str) -> Option<PathBuf> {
    accounts::user_by_name(user)
        .ok()
        .flatten()
        .map(|account| account.home)
}

impl SessionContext {
    /// Reads everything the configuration names; a missing or unreadable required file is an
    /// error that names it.
    pub fn load(config: FtpConfig) -> Result<SessionContext, ContextError> {
        let now = crate::sys::clock::realtime_now().secs;
        Self::load_in_zone(config, crate::sys::clock::local_utc_offset(now))
    }

    /// [`SessionContext::load`] for a machine whose local time is `utc_offset_secs` east of UTC.
    pub(crate) fn load_in_zone(
        config: FtpConfig,
        utc_offset_secs: i32,
    ) -> Result<SessionContext, ContextError> {
        let mut files_read = Vec::new();
        let mut reading = |path: &Path| {
            files_read.push(path.to_path_buf());
            path.to_path_buf()
        };
        let banner = match &config.banner_file {
            Some(path) => Some(read_banner(&reading(path))?),
            None => None,
        };
        let greeting = replies::greeting(banner.as_deref(), config.ftpd_banner.as_deref());

        let ftpusers = match &config.ftpusers_file {
            Some(path) => read_ftpusers(&reading(path))?,
            None => ["/etc/vsftpd/ftpusers", "/etc/ftpusers"]
                .iter()
                .map(Path::new)
                .find(|p| p.exists())
                .map(|path| read_ftpusers(&reading(path)))
                .transpose()?
                .unwrap_or_else(NameList::empty),
        };
        let user_list = if config.userlist_enable {
            read_list(
                "userlist_file",
                &reading(&userlist_path(&config.userlist_file)),
            )?
        } else {
            NameList::empty()
        };
        let banned_emails = if config.deny_email_enable {
            read_list("banned_email_file", &reading(&config.banned_email_file))?
        } else {
            NameList::empty()
        };
        let secure_emails = if config.secure_email_list_enable {
            read_list("email_password_file", &reading(&config.email_password_file))?
        } else {
            NameList::empty()
        };
        let virtual_users = match &config.virtual_users_file {
            Some(path) => Some(
                VirtualUsers::load(&reading(path))
                    .map_err(|err| ContextError::Invalid(err.to_string()))?,
            ),
            None => None,
        };
        let chroot_list = if config.chroot_list_enable {
            read_list("chroot_list_file", &reading(&config.chroot_list_file))?
        } else {
            NameList::empty()
        };
        if virtual_users.is_some() && config.local_root.is_none() && !config.guest_enable {
            return Err(ContextError::Invalid(
                "virtual users need local_root= (with user_sub_token= for one directory per user), or guest_enable=YES to share guest_username's home"
                    .into(),
            ));
        }
        let hosts = if config.tcp_wrappers {
            Some(
                HostsAccess::load(
                    &reading(&config.hosts_allow_file),
                    &reading(&config.hosts_deny_file),
                )
                .map_err(|err| ContextError::Invalid(err.to_string()))?,
            )
        } else {
            None
        };
        let passive_address = match &config.pasv_address {
            Some(address) => Some(resolve_passive_address(address, config.pasv_addr_resolve)?),
            None => None,
        };
        let chown_uid = if config.chown_uploads {
            let owner = accounts::user_by_name(&config.chown_username)
                .ok()
                .flatten();
            Some(owner.map(|account| account.uid).ok_or_else(|| {
                ContextError::Invalid(format!(
                    "chown_uploads=YES but chown_username={} is not a user of this system",
                    config.chown_username
                ))
            })?)
        } else {
            None
        };
        let open_log = |what: &'static str, path: &Path| {
            LogFile::open(path).map_err(|source| ContextError::Read {
                what,
                file: path.display().to_string(),
                source,
            })
        };
        let xferlog = config
            .xferlog_path()
            .map(|path| open_log("xferlog_file", path))
            .transpose()?;
        let vsftpd_log = config
            .vsftpd_log_path()
            .map(|path| open_log("vsftpd_log_file", path))
            .transpose()?;
        let syslog = config
            .syslog_enable
            .then(|| SyslogSink::new(SYSTEM_LOG_SOCKET, "vsftpd"));
        let total_rate = (config.max_rate_total > 0).then(|| {
            SharedBucket::new(
                u64::from(config.max_rate_total),
                crate::sys::clock::monotonic_nanos(),
            )
        });
        let anonymous_root = if config.anonymous_enable {
            match &config.anon_root {
                Some(root) => Some(root.clone()),
                None => home_of(&config.ftp_username),
            }
        } else {
            None
        };
        if config.anonymous_enable && anonymous_root.is_none() {
            return Err(ContextError::Invalid(format!(
                "anonymous_enable=YES but anon_root is not set and user {} has no home directory",
                config.ftp_username
            )));
        }
        let guest_home = home_of(&config.guest_username);
        Ok(SessionContext {
            config: Arc::new(config),
            greeting,
            ftpusers,
            user_list,
            banned_emails,
            secure_emails,
            virtual_users,
            hosts,
            passive_address,
            chown_uid,
            chroot_list,
            total_rate,
            xferlog,
            vsftpd_log,
            syslog,
            anonymous_root,
            guest_home,
            files_read,
            utc_offset_secs,
        })
    }

    pub fn anonymous_root(&self) -> Option<&Path> {
        self.anonymous_root.as_deref()
    }

    /// The home of `guest_username`, if it is a user of this system.
    pub fn guest_home(&self) -> Option<&Path> {
        self.guest_home.as_deref()
    }

    /// How far listings and MDTM shift file times under `config`: the local zone's offset with
    /// `use_localtime=YES`, none otherwise (vsftpd shows GMT).
    pub fn listing_utc_offset(&self, config: &FtpConfig) -> i64 {
        if config.use_localtime {
            i64::from(self.utc_offset_secs)
        } else {
            0
        }
    }

    /// The files the configuration named and this context read (banner, user lists, users
    /// file, tcp_wrappers' files): a reload reads them again.
    pub fn files_read(&self) -> &[PathBuf] {
        &self.files_read
    }

    /// The addresses to listen on, from `listen`/`listen_ipv6`, `listen_address[6]`, `listen_port`.
    pub fn listen_addresses(&self) -> Vec<SocketAddr> {
        let config = &self.config;
        let mut addresses = Vec::new();
        if config.listen {
            let ip = config.listen_address.unwrap_or(Ipv4Addr::UNSPECIFIED);
            addresses.push(SocketAddr::new(IpAddr::V4(ip), config.listen_port));
        }
        if config.listen_ipv6 {
            let ip = config
                .listen_address6
                .unwrap_or(std::net::Ipv6Addr::UNSPECIFIED);
            addresses.push(SocketAddr::new(IpAddr::V6(ip), config.listen_port));
        }
        addresses
    }

    /// Writes `event`, which happened at `now`, to the logs the configuration asks for. A log that cannot be written is
    /// skipped, as vsftpd does: serving matters more than logging.
    pub fn log(&self, event: &LogEvent, now: UnixTime) {
        event.trace();
        FTP_EVENTS.count(event);
        if let Some(syslog) = &self.syslog {
            syslog.send(
                event.syslog_severity(),
                &transfer_log::vsftpd_event_message(event),
            );
        }
        if let Some(log) = &self.vsftpd_log {
            let _ = log.append(&transfer_log::vsftpd_event_line(
                event,
                std::process::id(),
                now,
                self.utc_offset_secs,
            ));
        }
        if let (Some(log), LogEvent::Transfer(record)) = (&self.xferlog, event) {
            let _ = log.append(&transfer_log::xferlog_line(record, self.utc_offset_secs));
        }
    }

    fn users(&self) -> &'static str {
        if self.virtual_users.is_some() {
            "virtual users"
        } else {
            "system accounts"
        }
    }

    /// What is served, for the start-up line.
    pub fn describe_root(&self) -> String {
        match (&self.anonymous_root, self.config.local_enable) {
            (Some(root), false) => format!("anonymous FTP of {}", root.display()),
            (Some(root), true) => {
                format!("anonymous FTP of {} and {}", root.display(), self.users())
            }
            (None, _) => format!("FTP for {}", self.users()),
        }
    }
}
