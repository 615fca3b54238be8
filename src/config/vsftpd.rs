//! vsftpd.conf reader for the FTP server: vsftpd 3.0.3's options, syntax and defaults, plus ringd's extensions.

use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use super::error::{ConfigError, LineError};
use crate::ntp::access::Subnet;

const DEMO_ORIGIN: &str = "built-in demo";
const DEFAULTS_ORIGIN: &str = "compiled-in defaults";
const DEMO_PORT: u16 = 2121;
const UNKNOWN_OPTION: &str =
    "unknown option; ringd reads vsftpd.conf options (see docs/ftp-config.md)";
const NOT_YET: &str = "vsftpd option that ringd does not support yet";
/// Longest word quoted as an unknown option name (vsftpd's longest option has 25 bytes).
const MAX_QUOTED_OPTION: usize = 32;
/// vsftpd never opens a passive port below this (IPPORT_RESERVED in privops.c).
const PASV_FLOOR: u16 = 1024;

/// The faster and cheaper method in `python3 loadgen/bench transfer` (docs/benchmarks.md).
const DEFAULT_ZERO_COPY: ZeroCopyMethod = ZeroCopyMethod::Sendfile;

/// Declares the supported options once: the struct fields, their defaults, how each is parsed
/// and how `ringd --check` prints it.
macro_rules! supported_options {
    ($( $(#[$doc:meta])* $name:ident : $ty:ty = $kind:ident ( $default:expr ); )*) => {
        /// The FTP server's settings read from a vsftpd.conf. Every field is named exactly as
        /// its option and starts at vsftpd 3.0.3's compiled-in default (tunables.c), which is
        /// not always the man page's.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct FtpConfig {
            /// The file the settings came from, or "built-in demo".
            pub origin: String,
            $( $(#[$doc])* pub $name: $ty, )*
            /// Lines accepted with a remark for `ringd --check`: options ringd accepts without
            /// acting on them, and values read the way vsftpd reads them that may surprise.
            pub notes: Vec<OptionNote>,
        }

        impl Default for FtpConfig {
            /// vsftpd 3.0.3's compiled-in defaults and ringd's extension defaults.
            fn default() -> Self {
                FtpConfig {
                    origin: DEFAULTS_ORIGIN.to_string(),
                    $( $name: $default, )*
                    notes: Vec::new(),
                }
            }
        }

        /// The options parsed into `FtpConfig`, ringd's extensions included.
        const SUPPORTED: &[&str] = &[ $( stringify!($name), )* ];

        impl FtpConfig {
    /// The wu-ftpd format transfer log, when one is written: vsftpd writes it with
    /// `xferlog_std_format=YES`, or beside its own log with `dual_log_enable=YES`.
    pub fn xferlog_path(&self) -> Option<&Path> {
        let logging = self.xferlog_enable || self.dual_log_enable;
        (logging && (self.dual_log_enable || self.xferlog_std_format))
            .then_some(self.xferlog_file.as_path())
    }

    /// vsftpd's own log file, when one is written: without `xferlog_std_format`, or with
    /// `dual_log_enable`; never with `syslog_enable`, whose system log takes its lines.
    pub fn vsftpd_log_path(&self) -> Option<&Path> {
        let logging = self.xferlog_enable || self.dual_log_enable;
        (logging && (self.dual_log_enable || !self.xferlog_std_format) && !self.syslog_enable)
            .then_some(self.vsftpd_log_file.as_path())
    }

            /// Set a supported option; `None` if `name` is not one. On success, an optional
            /// remark about the value.
            fn set_supported(
                &mut self,
                name: &str,
                value: &[u8],
            ) -> Option<Result<Option<String>, String>> {
                $(
                    if name == stringify!($name) {
                        return Some(<$kind as Kind>::parse(value).map(|parsed| {
                            let note = <$kind as Kind>::note(value, &parsed);
                            self.$name = parsed;
                            note
                        }));
                    }
                )*
                None
            }

            /// Whether `name` is a supported option whose value is a number.
            fn is_numeric(name: &str) -> bool {
                $(
                    if name == stringify!($name) {
                        return <$kind as Kind>::NUMERIC;
                    }
                )*
                false
            }

            /// `(name, value)` of every option that differs from the defaults of the file's
            /// layout ([`defaults_for`]), in field order.
            fn changed_options(&self) -> Vec<(&'static str, String)> {
                let defaults = defaults_for(Path::new(&self.origin));
                let mut changed = Vec::new();
                $(
                    if self.$name != defaults.$name {
                        changed.push((stringify!($name), <$kind as Kind>::show(&self.$name)));
                    }
                )*
                changed
            }
        }
    };
}

supported_options! {
    // Listening
    /// Listen on IPv4 (standalone). Exclusive with `listen_ipv6`, as in vsftpd.
    listen: bool = YesNo(true);
    /// Listen on IPv6 instead of IPv4 (the `::` socket also takes IPv4 clients).
    listen_ipv6: bool = YesNo(false);
    /// IPv4 address to listen on with `listen=YES`; all addresses when unset.
    listen_address: Option<Ipv4Addr> = V4(None);
    /// IPv6 address to listen on with `listen_ipv6=YES`; all addresses when unset.
    listen_address6: Option<Ipv6Addr> = V6(None);
    /// Control connection port.
    listen_port: u16 = Port(21);

    // Limits and host access
    /// Most sessions at once, across all shards; 0 = unlimited.
    max_clients: u32 = Number(2000);
    /// Most sessions from one client address; 0 = unlimited.
    max_per_ip: u32 = Number(50);
    /// Check clients against `hosts_allow_file` then `hosts_deny_file`.
    tcp_wrappers: bool = YesNo(false);
    /// ringd extension: the tcp_wrappers allow file.
    hosts_allow_file: PathBuf = File(PathBuf::from("/etc/hosts.allow"));
    /// ringd extension: the tcp_wrappers deny file.
    hosts_deny_file: PathBuf = File(PathBuf::from("/etc/hosts.deny"));
    /// ringd extension: connections from `proxy_protocol_from` start with a PROXY protocol
    /// header (v1 or v2, HAProxy's `send-proxy`/`send-proxy-v2`) naming the real client, which
    /// then counts everywhere the client's address does.
    proxy_protocol: bool = YesNo(false);
    /// ringd extension: the load balancers whose connections carry a PROXY header: addresses
    /// and subnets, comma-separated. Anyone else is served as a direct client.
    proxy_protocol_from: Vec<Subnet> = Subnets(Vec::new());

    // Timeouts, in seconds
    /// Idle control connection limit (`421 Timeout.`); 0 = none.
    idle_session_timeout: u32 = Number(300);
    /// Stalled data transfer limit (`421 Data timeout. Reconnect. Sorry.`); 0 = none.
    data_connection_timeout: u32 = Number(300);
    /// How long a PASV data connection may take to arrive.
    accept_timeout: u32 = Number(60);
    /// How long a PORT data connection may take to connect.
    connect_timeout: u32 = Number(60);

    // Greeting and messages
    /// One-line greeting instead of the default `220 (vsFTPd 3.0.3)`-style one.
    ftpd_banner: Option<Vec<u8>> = Banner(None);
    /// File whose lines make a multi-line `220-` greeting; wins over `ftpd_banner`.
    banner_file: Option<PathBuf> = OptFile(None);
    /// Show `message_file` of a directory when a session enters it.
    dirmessage_enable: bool = YesNo(false);
    /// Name of the per-directory message file.
    message_file: PathBuf = File(PathBuf::from(".message"));

    // Anonymous users
    /// Allow logins as `anonymous` or `ftp`.
    anonymous_enable: bool = YesNo(true);
    /// Anonymous root; when unset, the home directory of `ftp_username`.
    anon_root: Option<PathBuf> = OptFile(None);
    /// Do not ask anonymous users for a password.
    no_anon_password: bool = YesNo(false);
    /// System user whose home is the anonymous root when `anon_root` is unset.
    ftp_username: String = Text("ftp".to_string());
    /// Refuse anonymous passwords listed in `banned_email_file`.
    deny_email_enable: bool = YesNo(false);
    /// Banned anonymous passwords, one per line.
    banned_email_file: PathBuf = File(PathBuf::from("/etc/vsftpd.banned_emails"));
    /// Admit anonymous users only with a password listed in `email_password_file`.
    secure_email_list_enable: bool = YesNo(false);
    /// Accepted anonymous passwords, one per line.
    email_password_file: PathBuf = File(PathBuf::from("/etc/vsftpd.email_passwords"));
    /// Anonymous uploads (also needs `write_enable`).
    anon_upload_enable: bool = YesNo(false);
    /// Anonymous MKD (also needs `write_enable`).
    anon_mkdir_write_enable: bool = YesNo(false);
    /// Anonymous DELE, RMD, RNFR/RNTO (also needs `write_enable`).
    anon_other_write_enable: bool = YesNo(false);
    /// Anonymous downloads only of world-readable files.
    anon_world_readable_only: bool = YesNo(true);
    /// Umask for files anonymous users create.
    anon_umask: u32 = Umask(0o077);
    /// Per-session transfer limit for anonymous users, bytes per second; 0 = none.
    anon_max_rate: u32 = Number(0);

    // Local and virtual users
    /// Allow non-anonymous logins: system accounts through PAM, or the users of
    /// `virtual_users_file` when it is set.
    local_enable: bool = YesNo(false);
    /// ringd extension: virtual users, one `name:crypt-hash` per line.
    virtual_users_file: Option<PathBuf> = OptFile(None);
    /// Directory non-anonymous users start in (may contain `user_sub_token`).
    local_root: Option<PathBuf> = OptFile(None);
    /// Token replaced by the user name in `local_root`, e.g. `$USER`.
    user_sub_token: Option<String> = OptText(None);
    /// Map every non-anonymous login to `guest_username`.
    guest_enable: bool = YesNo(false);
    /// The user guests become.
    guest_username: String = Text("ftp".to_string());
    /// Give guests (`guest_enable`) the local users' permissions instead of the anonymous ones.
    virtual_use_local_privs: bool = YesNo(false);
    /// The PAM service system accounts log in through (`/etc/pam.d/NAME`).
    pam_service_name: String = Text("ftp".to_string());
    /// Refuse system accounts whose shell is not listed in /etc/shells.
    check_shell: bool = YesNo(true);
    /// Per-user option files: `DIR/NAME` overrides options for user NAME's sessions.
    user_config_dir: Option<PathBuf> = OptFile(None);
    /// Umask for files non-anonymous users create.
    local_umask: u32 = Umask(0o077);
    /// Per-session transfer limit for non-anonymous users, bytes per second; 0 = none.
    local_max_rate: u32 = Number(0);

    // Who may log in
    /// Consult `userlist_file` right after USER.
    userlist_enable: bool = YesNo(false);
    /// YES: listed users are refused (`530 Permission denied.`); NO: only listed users may log in.
    userlist_deny: bool = YesNo(true);
    /// The user list, one name per line.
    userlist_file: PathBuf = File(PathBuf::from("/etc/vsftpd.user_list"));
    /// ringd extension: users refused after PASS (`530 Login incorrect.`); unset means
    /// /etc/vsftpd/ftpusers if it exists, else /etc/ftpusers.
    ftpusers_file: Option<PathBuf> = OptFile(None);
    /// Seconds to wait before answering a failed login.
    delay_failed_login: u32 = Number(1);
    /// Failed logins after which the session is closed.
    max_login_fails: u32 = Number(3);

    // The jail
    /// Jail non-anonymous users in their home (`chroot_list_file` lists exceptions).
    chroot_local_user: bool = YesNo(false);
    /// Read `chroot_list_file`: the users to jail, or with `chroot_local_user` not to jail.
    chroot_list_enable: bool = YesNo(false);
    /// The chroot list, one name per line.
    chroot_list_file: PathBuf = File(PathBuf::from("/etc/vsftpd.chroot_list"));
    /// Accepted for compatibility: ringd never refuses a writable root (see docs/ftp-config.md).
    allow_writeable_chroot: bool = YesNo(false);
    /// A home such as `/srv/./bob` jails the user in `/srv` and starts them in `/bob`.
    passwd_chroot_enable: bool = YesNo(false);

    // Privileges
    /// Serve every session with ringd's own credentials instead of each user's (vsftpd's
    /// single-user mode; what ringd does anyway when not started as root).
    run_as_launching_user: bool = YesNo(false);
    /// The unprivileged user for ringd's work that needs no user's rights.
    nopriv_user: String = Text("nobody".to_string());

    // Permissions and listings
    /// Allow any command that changes the file system.
    write_enable: bool = YesNo(false);
    /// Allow RETR.
    download_enable: bool = YesNo(true);
    /// Allow LIST, NLST, MLSD.
    dirlist_enable: bool = YesNo(true);
    /// Allow SITE CHMOD.
    chmod_enable: bool = YesNo(true);
    /// Allow MDTM with a time to set a file's modification time.
    mdtm_write: bool = YesNo(true);
    /// Mode uploaded files are created with, before the umask.
    file_open_mode: u32 = Mode(0o666);
    /// Give anonymous uploads to `chown_username`.
    chown_uploads: bool = YesNo(false);
    /// Owner of anonymous uploads with `chown_uploads`.
    chown_username: String = Text("root".to_string());
    /// Mode of anonymous uploads with `chown_uploads`.
    chown_upload_mode: u32 = Mode(0o600);
    /// Show owner and group as `ftp` in listings.
    hide_ids: bool = YesNo(false);
    /// Listings name owners and groups (from /etc/passwd and /etc/group, read at start)
    /// instead of showing their ids.
    text_userdb_names: bool = YesNo(false);
    /// Names hidden from listings, vsftpd's `{a,b*}` pattern syntax.
    hide_file: Option<Vec<u8>> = Pattern(None);
    /// Names no command may touch, vsftpd's pattern syntax.
    deny_file: Option<Vec<u8>> = Pattern(None);
    /// Only these commands are allowed (upper case); empty = no restriction.
    cmds_allowed: Vec<String> = Commands(Vec::new());
    /// These commands are refused (upper case).
    cmds_denied: Vec<String> = Commands(Vec::new());
    /// Allow `LIST -R`.
    ls_recurse_enable: bool = YesNo(false);
    /// Listing and MDTM times in local time instead of GMT.
    use_localtime: bool = YesNo(false);
    /// Debian's build option (not upstream): file names are UTF-8.
    utf8_filesystem: bool = YesNo(false);

    // Data connections
    /// Allow PASV and EPSV.
    pasv_enable: bool = YesNo(true);
    /// Lowest passive port; vsftpd never goes below 1024 (see `FtpConfig::pasv_ports`).
    pasv_min_port: u16 = Port(5001);
    /// Highest passive port; 0 = 65535.
    pasv_max_port: u16 = Port(0);
    /// Address announced in the PASV reply instead of the control connection's.
    pasv_address: Option<String> = OptText(None);
    /// `pasv_address` is a host name, resolved once at start-up.
    pasv_addr_resolve: bool = YesNo(false);
    /// Accept a passive data connection from an address other than the client's.
    pasv_promiscuous: bool = YesNo(false);
    /// Allow PORT and EPRT.
    port_enable: bool = YesNo(true);
    /// Allow PORT to an address other than the client's (FTP bounce).
    port_promiscuous: bool = YesNo(false);
    /// Make active data connections from `ftp_data_port`.
    connect_from_port_20: bool = YesNo(false);
    /// Source port of active data connections with `connect_from_port_20`.
    ftp_data_port: u16 = Port(20);

    // Transfers
    /// Convert line ends on uploads in ASCII mode.
    ascii_upload_enable: bool = YesNo(false);
    /// Convert line ends on downloads in ASCII mode.
    ascii_download_enable: bool = YesNo(false);
    /// Recognise ABOR sent urgently during a transfer.
    async_abor_enable: bool = YesNo(false);
    /// Write-lock uploads, read-lock downloads.
    lock_upload_files: bool = YesNo(true);
    /// Remove a file whose upload failed.
    delete_failed_uploads: bool = YesNo(false);
    /// Binary transfers without copying the data through ringd, the `zero_copy_method` way;
    /// NO copies every transfer through a buffer, as vsftpd does with NO.
    use_sendfile: bool = YesNo(true);
    /// ringd extension: sendfile (downloads; uploads copy) or splice (both ways), while
    /// `use_sendfile=YES`.
    zero_copy_method: ZeroCopyMethod = ZeroCopy(DEFAULT_ZERO_COPY);
    /// ringd extension: upload to a hidden temporary file, fsync, rename over the target.
    atomic_uploads: bool = YesNo(false);
    /// ringd extension: bytes per second for all sessions together; 0 = unlimited.
    max_rate_total: u32 = Number(0);

    // Logs
    /// Log transfers.
    xferlog_enable: bool = YesNo(false);
    /// Log in wu-ftpd's xferlog format to `xferlog_file`, instead of vsftpd's to `vsftpd_log_file`.
    xferlog_std_format: bool = YesNo(false);
    /// The wu-ftpd format transfer log.
    xferlog_file: PathBuf = File(PathBuf::from("/var/log/xferlog"));
    /// vsftpd's own log format.
    vsftpd_log_file: PathBuf = File(PathBuf::from("/var/log/vsftpd.log"));
    /// Write both logs: xferlog to `xferlog_file` and vsftpd's own to `vsftpd_log_file` (also
    /// without `xferlog_enable`).
    dual_log_enable: bool = YesNo(false);
    /// What would go to `vsftpd_log_file` goes to the system log (facility FTP) instead.
    syslog_enable: bool = YesNo(false);
    /// Every command and reply into vsftpd's own log, PASS arguments hidden.
    log_ftp_protocol: bool = YesNo(false);

    // FTP over TLS
    /// Offer TLS: AUTH TLS, PBSZ and PROT (explicit FTPS).
    ssl_enable: bool = YesNo(false);
    /// With `ssl_enable`: TLS from the first byte, before the greeting (implicit FTPS, whose
    /// port is usually 990).
    implicit_ssl: bool = YesNo(false);
    /// The server's certificate chain, PEM; it also holds the key when
    /// `rsa_private_key_file` is unset.
    rsa_cert_file: PathBuf = File(PathBuf::from("/usr/share/ssl/certs/vsftpd.pem"));
    /// The server's private key, PEM.
    rsa_private_key_file: Option<PathBuf> = OptFile(None);
    /// Let anonymous users log in over TLS.
    allow_anon_ssl: bool = YesNo(false);
    /// Anonymous logins must come over TLS.
    force_anon_logins_ssl: bool = YesNo(false);
    /// Anonymous transfers and listings must use PROT P.
    force_anon_data_ssl: bool = YesNo(false);
    /// Non-anonymous logins must come over TLS.
    force_local_logins_ssl: bool = YesNo(true);
    /// Non-anonymous transfers and listings must use PROT P.
    force_local_data_ssl: bool = YesNo(true);
    /// A TLS data connection must resume the control connection's TLS session.
    require_ssl_reuse: bool = YesNo(true);
    /// Ask clients for a certificate during the handshake; they may decline.
    ssl_request_cert: bool = YesNo(true);
    /// A client that gives no certificate is refused (with `ssl_request_cert`, as OpenSSL
    /// asks for it only then).
    require_cert: bool = YesNo(false);
    /// A client's certificate must chain to `ca_certs_file`; without, any is taken.
    validate_cert: bool = YesNo(false);
    /// The CA certificates client certificates are checked against, PEM; also the names sent
    /// with the request for one.
    ca_certs_file: Option<PathBuf> = OptFile(None);
    /// Log each handshake (version, suite, resumed or not, client certificate or not) and
    /// each failed one to vsftpd.log as `DEBUG` lines.
    debug_ssl: bool = YesNo(false);
    /// Offer TLS 1.2 (Fedora's option; vsftpd 3.0.5 spells it `ssl_tlsv12`).
    ssl_tlsv1_2: bool = YesNo(true);
    /// Offer TLS 1.3 (Fedora's option; vsftpd 3.0.5 spells it `ssl_tlsv13`).
    ssl_tlsv1_3: bool = YesNo(true);
}

/// A remark `ringd --check` prints about an accepted line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionNote {
    pub line: usize,
    pub option: String,
    /// The value as written, bytes that are not UTF-8 shown as `\xNN`.
    pub value: String,
    pub note: String,
}

/// Read a vsftpd.conf of at most vsftpd's size limit: vsftpd reads only that much of a longer
/// file, cutting its last line; ringd refuses it.
/// Every error of the file is reported, not only the first.
pub fn parse_file(path: &Path) -> Result<FtpConfig, ConfigError> {
    use super::source_file::{read, Expected, VSFTPD_FILE_MAX};
    let text = read(path, Expected::named_by("--ftp-conf", VSFTPD_FILE_MAX))?;
    let origin = path.display().to_string();
    let mut parser = Parser::new(&origin, starting_from(&origin, defaults_for(path)));
    parser.read(&text);
    parser.check();
    parser.note_missing_anon_root();
    ConfigError::from_all(parser.errors)?;
    Ok(parser.config)
}

/// Read vsftpd.conf text (bytes, in whatever encoding the file has) over upstream's
/// defaults; `origin` names it in errors.
pub fn parse_str(text: impl AsRef<[u8]>, origin: &str) -> Result<FtpConfig, ConfigError> {
    let mut parser = Parser::new(origin, starting_from(origin, FtpConfig::default()));
    parser.read(text.as_ref());
    parser.check();
    ConfigError::from_all(parser.errors)?;
    Ok(parser.config)
}

fn starting_from(origin: &str, defaults: FtpConfig) -> FtpConfig {
    FtpConfig {
        origin: origin.to_string(),
        ..defaults
    }
}

/// Where Red Hat's build of vsftpd (Rocky, Fedora) has its user list compiled in.
const RED_HAT_USER_LIST: &str = "/etc/vsftpd/user_list";

/// The compiled-in defaults of the vsftpd build whose file layout `config_file` follows. Red
/// Hat's build keeps everything in /etc/vsftpd/ (`/etc/vsftpd/vsftpd.conf`, `user_list`, and
/// `ftpusers` read by its PAM file), so a vsftpd.conf in any directory named `vsftpd` gets
/// `userlist_file=/etc/vsftpd/user_list`; anywhere else (Debian's `/etc/vsftpd.conf`),
/// upstream's `/etc/vsftpd.user_list`.
pub fn defaults_for(config_file: &Path) -> FtpConfig {
    let red_hat_layout = config_file
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|directory| directory == "vsftpd");
    if red_hat_layout {
        FtpConfig {
            userlist_file: PathBuf::from(RED_HAT_USER_LIST),
            ..FtpConfig::default()
        }
    } else {
        FtpConfig::default()
    }
}

/// Applies a per-user options file (`user_config_dir`) over `base`, as vsftpd loads it after
/// a login: any option may be set, with the same syntax and errors as vsftpd.conf; `origin`
/// names the file in errors.
pub fn apply_user_options(
    base: &FtpConfig,
    text: &[u8],
    origin: &str,
) -> Result<FtpConfig, ConfigError> {
    let mut parser = Parser::new(origin, base.clone());
    parser.read(text);
    ConfigError::from_all(parser.errors)?;
    Ok(parser.config)
}

/// The built-in demo: anonymous read-only FTP of `root` on 127.0.0.1:2121 with the rights of
/// whoever runs it, passive ports anywhere from 1024 up, everything else at vsftpd's defaults.
pub fn demo(root: &Path) -> FtpConfig {
    FtpConfig {
        origin: DEMO_ORIGIN.to_string(),
        listen: true,
        listen_ipv6: false,
        listen_address: Some(Ipv4Addr::LOCALHOST),
        listen_port: DEMO_PORT,
        anonymous_enable: true,
        anon_root: Some(root.to_path_buf()),
        local_enable: false,
        write_enable: false,
        pasv_min_port: 0,
        pasv_max_port: 0,
        // Whoever runs the demo serves their own directory with their own rights.
        run_as_launching_user: true,
        ..FtpConfig::default()
    }
}

impl FtpConfig {
    /// What `ringd --check` notes about the file, one log line each naming file and line:
    /// values read as vsftpd reads them that were surely not meant so, options not acted on.
    pub fn start_up_warnings(&self) -> Vec<String> {
        self.notes
            .iter()
            .map(|note| {
                format!(
                    "{}:{}: {}={}: {}",
                    self.origin, note.line, note.option, note.value, note.note
                )
            })
            .collect()
    }

    /// The passive ports actually used, as vsftpd 3.0.3 computes them: `pasv_min_port` counts
    /// only above 1024, `pasv_max_port` only from the minimum up to 65534 (0 means 65535).
    pub fn pasv_ports(&self) -> RangeInclusive<u16> {
        let mut min = PASV_FLOOR;
        let mut max = u16::MAX;
        if self.pasv_min_port > min {
            min = self.pasv_min_port;
        }
        if self.pasv_max_port >= min && self.pasv_max_port < max {
            max = self.pasv_max_port;
        }
        min..=max
    }
}

/// `ringd --check` output: every option that differs from its default as `name=value`, in
/// option-name order, then one comment line per note.
impl fmt::Display for FtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut changed = self.changed_options();
        changed.sort_by_key(|(name, _)| *name);
        for (name, value) in changed {
            writeln!(f, "{name}={value}")?;
        }
        for note in &self.notes {
            writeln!(
                f,
                "# line {}: {}={}: {}",
                note.line, note.option, note.value, note.note
            )?;
        }
        Ok(())
    }
}

mod parser;
mod recognised;
mod value_kinds;

use parser::*;
use recognised::*;
use value_kinds::*;
pub use value_kinds::{shown, ZeroCopyMethod};

#[cfg(test)]
mod tests;
