//! vsftpd.conf reader for the FTP server: vsftpd 3.0.3's options, syntax and defaults, plus ringd's extensions.

use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use super::error::{ConfigError, LineError};

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

/// How one value type is read from `option=value` and written back by `ringd --check`.
trait Kind {
    type Value;
    /// `value` is what follows the first `=`, trailing blanks removed; empty when the line has no
    /// `=` (vsftpd treats both alike).
    fn parse(value: &str) -> Result<Self::Value, String>;
    fn show(value: &Self::Value) -> String;
    /// Something worth a comment in `ringd --check` about a value that was accepted.
    fn note(_value: &str, _parsed: &Self::Value) -> Option<String> {
        None
    }
}

/// YES/NO, as vsftpd: YES, TRUE, 1, NO, FALSE, 0 in any case.
struct YesNo;
/// An unsigned number: decimal, or octal when it starts with 0, as vsftpd reads every number.
struct Number;
/// A TCP port, read like a number.
struct Port;
/// A umask, 0..0777, read like a number (write it with a leading 0).
struct Umask;
/// A file mode, 0..07777, read like a number (write it with a leading 0).
struct Mode;
/// A string vsftpd gives a default to: an empty value is refused.
struct Text;
/// A path vsftpd gives a default to: an empty value is refused.
struct File;
/// A string with no default: empty means unset.
struct OptText;
/// Free text kept as written, blanks after `=` included (`ftpd_banner`).
struct Banner;
/// A path with no default: empty means unset.
struct OptFile;
/// A comma-separated list of FTP command names.
struct Commands;
/// An IPv4 address, or unset.
struct V4;
/// An IPv6 address, or unset.
struct V6;
/// `sendfile` or `splice`, in any case.
struct ZeroCopy;

fn yes_no(value: bool) -> String {
    if value { "YES" } else { "NO" }.to_string()
}

impl Kind for YesNo {
    type Value = bool;
    fn parse(value: &str) -> Result<bool, String> {
        match value.to_ascii_uppercase().as_str() {
            "YES" | "TRUE" | "1" => Ok(true),
            "NO" | "FALSE" | "0" => Ok(false),
            "" => Err("expected YES or NO, found nothing".to_string()),
            _ => Err(format!("expected YES or NO, found `{value}`")),
        }
    }
    fn show(value: &bool) -> String {
        yes_no(*value)
    }
}

/// vsftpd's number syntax, strictly: digits only; a leading 0 means octal.
fn parse_number(value: &str, max: u32, what: &str) -> Result<u32, String> {
    if value.is_empty() {
        return Err(format!("expected {what}, found nothing"));
    }
    let parsed = match value.strip_prefix('0') {
        Some(octal) => {
            if !octal.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                return Err(format!(
                    "expected {what}; a number that starts with 0 is octal (as in vsftpd) and \
                     takes only the digits 0 to 7, found `{value}`"
                ));
            }
            u64::from_str_radix(if octal.is_empty() { "0" } else { octal }, 8)
        }
        None => {
            if !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("expected {what}, found `{value}`"));
            }
            value.parse::<u64>()
        }
    };
    match parsed {
        Ok(n) if n <= u64::from(max) => Ok(n as u32),
        _ => Err(format!(
            "expected {what}, found `{value}`, which is out of range"
        )),
    }
}

impl Kind for Number {
    type Value = u32;
    fn parse(value: &str) -> Result<u32, String> {
        parse_number(value, u32::MAX, "a number 0..4294967295")
    }
    fn show(value: &u32) -> String {
        value.to_string()
    }
}

impl Kind for Port {
    type Value = u16;
    fn parse(value: &str) -> Result<u16, String> {
        parse_number(value, u32::from(u16::MAX), "a port number 0..65535").map(|n| n as u16)
    }
    fn show(value: &u16) -> String {
        value.to_string()
    }
}

/// Umasks and modes: octal with a leading 0, as vsftpd; the error for an out-of-range decimal
/// explains the trap.
fn parse_mode(value: &str, max: u32, what: &str) -> Result<u32, String> {
    let n = parse_number(value, u32::MAX, what)?;
    if n <= max {
        return Ok(n);
    }
    if value.starts_with('0') {
        Err(format!("expected {what}, found `{value}`, above 0{max:o}"))
    } else {
        Err(format!(
            "expected {what}, found `{value}`: without a leading 0 vsftpd reads it as decimal \
             {n}, which is octal 0{n:o}, above 0{max:o}; write 0{value} for octal"
        ))
    }
}

fn decimal_mode_note(value: &str, parsed: u32) -> Option<String> {
    (!value.starts_with('0') && parsed > 7).then(|| {
        format!(
            "no leading 0, so read as decimal {parsed} = octal 0{parsed:o}, as vsftpd does; \
             write 0{value} if octal was meant"
        )
    })
}

impl Kind for Umask {
    type Value = u32;
    fn parse(value: &str) -> Result<u32, String> {
        parse_mode(value, 0o777, "a umask such as 022")
    }
    fn show(value: &u32) -> String {
        format!("0{value:o}")
    }
    fn note(value: &str, parsed: &u32) -> Option<String> {
        decimal_mode_note(value, *parsed)
    }
}

impl Kind for Mode {
    type Value = u32;
    fn parse(value: &str) -> Result<u32, String> {
        parse_mode(value, 0o7777, "a file mode such as 0644")
    }
    fn show(value: &u32) -> String {
        format!("0{value:o}")
    }
    fn note(value: &str, parsed: &u32) -> Option<String> {
        decimal_mode_note(value, *parsed)
    }
}

fn required(value: &str) -> Result<&str, String> {
    if value.is_empty() {
        Err("expected a value, found nothing; remove the line to keep vsftpd's default".to_string())
    } else {
        Ok(value)
    }
}

impl Kind for Text {
    type Value = String;
    fn parse(value: &str) -> Result<String, String> {
        required(value).map(str::to_string)
    }
    fn show(value: &String) -> String {
        value.clone()
    }
}

impl Kind for File {
    type Value = PathBuf;
    fn parse(value: &str) -> Result<PathBuf, String> {
        required(value).map(PathBuf::from)
    }
    fn show(value: &PathBuf) -> String {
        value.display().to_string()
    }
}

impl Kind for OptText {
    type Value = Option<String>;
    fn parse(value: &str) -> Result<Option<String>, String> {
        Ok((!value.is_empty()).then(|| value.to_string()))
    }
    fn show(value: &Option<String>) -> String {
        value.clone().unwrap_or_default()
    }
}

impl Kind for Banner {
    type Value = Option<String>;
    fn parse(value: &str) -> Result<Option<String>, String> {
        OptText::parse(value)
    }
    fn show(value: &Option<String>) -> String {
        OptText::show(value)
    }
}

impl Kind for OptFile {
    type Value = Option<PathBuf>;
    fn parse(value: &str) -> Result<Option<PathBuf>, String> {
        Ok((!value.is_empty()).then(|| PathBuf::from(value)))
    }
    fn show(value: &Option<PathBuf>) -> String {
        value
            .as_ref()
            .map(|path| path.display().to_string())
            .unwrap_or_default()
    }
}

impl Kind for Commands {
    type Value = Vec<String>;
    fn parse(value: &str) -> Result<Vec<String>, String> {
        let mut commands = Vec::new();
        if value.is_empty() {
            return Ok(commands);
        }
        let items: Vec<&str> = value.split(',').collect();
        for (index, item) in items.iter().enumerate() {
            let item = item.trim();
            if item.is_empty() {
                if index > 0 && index == items.len() - 1 {
                    continue; // one trailing comma
                }
                return Err(format!(
                    "empty entry in `{value}` (vsftpd stops reading the list there); remove \
                     the extra comma"
                ));
            }
            if !item.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(format!(
                    "expected a comma-separated list of FTP commands such as PASV,RETR,QUIT, \
                     found `{item}`"
                ));
            }
            commands.push(item.to_ascii_uppercase());
        }
        Ok(commands)
    }
    fn show(value: &Vec<String>) -> String {
        value.join(",")
    }
    fn note(value: &str, _parsed: &Vec<String>) -> Option<String> {
        value.bytes().any(|b| b.is_ascii_lowercase()).then(|| {
            "command names upper-cased (vsftpd compares them exactly and would never match a \
             lower-case name)"
                .to_string()
        })
    }
}

impl Kind for V4 {
    type Value = Option<Ipv4Addr>;
    fn parse(value: &str) -> Result<Option<Ipv4Addr>, String> {
        if value.is_empty() {
            return Ok(None);
        }
        value.parse().map(Some).map_err(|_| {
            format!(
                "expected an IPv4 address such as 192.0.2.1, found `{value}` (IPv6 addresses go \
                 in listen_address6)"
            )
        })
    }
    fn show(value: &Option<Ipv4Addr>) -> String {
        value.map(|a| a.to_string()).unwrap_or_default()
    }
}

impl Kind for V6 {
    type Value = Option<Ipv6Addr>;
    fn parse(value: &str) -> Result<Option<Ipv6Addr>, String> {
        if value.is_empty() {
            return Ok(None);
        }
        value.parse().map(Some).map_err(|_| {
            format!(
                "expected an IPv6 address such as 2001:db8::1, found `{value}` (IPv4 addresses \
                 go in listen_address)"
            )
        })
    }
    fn show(value: &Option<Ipv6Addr>) -> String {
        value.map(|a| a.to_string()).unwrap_or_default()
    }
}

/// How binary transfers avoid copying file data through ringd (`zero_copy_method`, used while
/// `use_sendfile=YES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeroCopyMethod {
    /// Downloads with sendfile(2) from the file to the socket, on the session's shard; uploads
    /// copy, since sendfile only writes to sockets.
    Sendfile,
    /// Both directions with io_uring splice operations through a pipe.
    Splice,
}

impl Kind for ZeroCopy {
    type Value = ZeroCopyMethod;
    fn parse(value: &str) -> Result<ZeroCopyMethod, String> {
        match value.to_ascii_lowercase().as_str() {
            "sendfile" => Ok(ZeroCopyMethod::Sendfile),
            "splice" => Ok(ZeroCopyMethod::Splice),
            "" => Err(format!(
                "expected sendfile or splice, found nothing; remove the line to keep the \
                 default, zero_copy_method={}",
                ZeroCopy::show(&DEFAULT_ZERO_COPY)
            )),
            "copy" | "none" => Err(format!(
                "expected sendfile or splice, found `{value}`; to copy through memory instead \
                 of zero-copy, remove this line and set use_sendfile=NO"
            )),
            _ => Err(format!(
                "expected sendfile or splice, found `{value}`; write zero_copy_method=sendfile \
                 or zero_copy_method=splice"
            )),
        }
    }
    fn show(value: &ZeroCopyMethod) -> String {
        match value {
            ZeroCopyMethod::Sendfile => "sendfile",
            ZeroCopyMethod::Splice => "splice",
        }
        .to_string()
    }
}

/// The faster and cheaper method in loadgen/compare-transfer.sh (docs/benchmarks.md).
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
            /// Set a supported option; `None` if `name` is not one. On success, an optional
            /// remark about the value.
            fn set_supported(
                &mut self,
                name: &str,
                value: &str,
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

            /// `(name, value)` of every option that differs from its default, in field order.
            fn changed_options(&self) -> Vec<(&'static str, String)> {
                let defaults = FtpConfig::default();
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
    ftpd_banner: Option<String> = Banner(None);
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
    /// Names hidden from listings, vsftpd's `{a,b*}` pattern syntax.
    hide_file: Option<String> = OptText(None);
    /// Names no command may touch, vsftpd's pattern syntax.
    deny_file: Option<String> = OptText(None);
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
}

/// A remark `ringd --check` prints about an accepted line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionNote {
    pub line: usize,
    pub option: String,
    /// The value as written.
    pub value: String,
    pub note: String,
}

/// The value type and vsftpd 3.0.3 default of an option ringd recognises but does not parse
/// into `FtpConfig`.
#[derive(Clone, Copy)]
enum Typed {
    Bool(bool),
    Number(u32),
    Text(Option<&'static str>),
}

/// What ringd does with a recognised option it does not act on.
#[derive(Clone, Copy)]
enum Treatment {
    /// Accepted with any value: it tunes vsftpd's process model, and ringd's design already
    /// gives what it asks for (the reason says how).
    ByDesign(&'static str),
    /// Not supported yet: accepted only at vsftpd's default value. The text names the feature.
    NotYet(&'static str),
    /// A TLS setting: accepted with any value, unused while `ssl_enable` cannot be YES.
    Tls,
}

struct Recognised {
    name: &'static str,
    typed: Typed,
    treatment: Treatment,
}

const SANDBOX: &str = "it confines vsftpd's per-session processes; ringd has none, resolves every \
                       path inside the session root with openat2(RESOLVE_IN_ROOT), and leaves \
                       process confinement to the service manager";
const PRELOGIN: &str = "vsftpd's unprivileged pre-login process; ringd reads commands before \
                        login without touching the file system";

const fn by_design(name: &'static str, typed: Typed, reason: &'static str) -> Recognised {
    Recognised {
        name,
        typed,
        treatment: Treatment::ByDesign(reason),
    }
}

const fn not_yet(name: &'static str, typed: Typed, feature: &'static str) -> Recognised {
    Recognised {
        name,
        typed,
        treatment: Treatment::NotYet(feature),
    }
}

const fn tls(name: &'static str, typed: Typed) -> Recognised {
    Recognised {
        name,
        typed,
        treatment: Treatment::Tls,
    }
}

/// Every other option vsftpd 3.0.3 (Debian's build included) knows, with its compiled-in default.
const RECOGNISED: &[Recognised] = &[
    // vsftpd's process model: accepted with any value.
    by_design(
        "one_process_model",
        Typed::Bool(false),
        "ringd's sessions are tasks in one process already",
    ),
    by_design("seccomp_sandbox", Typed::Bool(true), SANDBOX),
    by_design("ptrace_sandbox", Typed::Bool(false), SANDBOX),
    by_design("isolate", Typed::Bool(true), SANDBOX),
    by_design("isolate_network", Typed::Bool(true), SANDBOX),
    by_design(
        "secure_chroot_dir",
        Typed::Text(Some("/usr/share/empty")),
        PRELOGIN,
    ),
    by_design(
        "setproctitle_enable",
        Typed::Bool(false),
        "there is no per-session process to retitle; ringctl lists the sessions",
    ),
    by_design(
        "trans_chunk_size",
        Typed::Number(0),
        "ringd's transfer engine sizes its chunks and paces rate limits itself",
    ),
    // Not supported yet: accepted at vsftpd's default only.
    not_yet("ssl_enable", Typed::Bool(false), "FTP over TLS"),
    not_yet(
        "text_userdb_names",
        Typed::Bool(false),
        "user and group names in listings",
    ),
    not_yet(
        "log_ftp_protocol",
        Typed::Bool(false),
        "logging every FTP command and reply",
    ),
    not_yet(
        "force_dot_files",
        Typed::Bool(false),
        "dot files in listings without -a",
    ),
    not_yet(
        "dual_log_enable",
        Typed::Bool(false),
        "writing both log formats at once",
    ),
    not_yet("syslog_enable", Typed::Bool(false), "logging to syslog"),
    not_yet(
        "background",
        Typed::Bool(false),
        "detaching into the background; run ringd under a service manager",
    ),
    not_yet(
        "session_support",
        Typed::Bool(false),
        "PAM sessions and utmp/wtmp records",
    ),
    not_yet("no_log_lock", Typed::Bool(false), "unlocked log writes"),
    not_yet("tilde_user_enable", Typed::Bool(false), "~user paths"),
    not_yet("ftp_enable", Typed::Bool(true), "turning FTP off"),
    not_yet("http_enable", Typed::Bool(false), "vsftpd's HTTP mode"),
    not_yet(
        "delay_successful_login",
        Typed::Number(0),
        "delaying successful logins",
    ),
    not_yet(
        "download_file",
        Typed::Text(None),
        "Debian's download name filter",
    ),
    not_yet(
        "upload_file",
        Typed::Text(None),
        "Debian's upload name filter",
    ),
    // TLS settings: only used with ssl_enable=YES, which ringd refuses for now.
    tls("allow_anon_ssl", Typed::Bool(false)),
    tls("force_local_logins_ssl", Typed::Bool(true)),
    tls("force_local_data_ssl", Typed::Bool(true)),
    tls("ssl_sslv2", Typed::Bool(false)),
    tls("ssl_sslv3", Typed::Bool(false)),
    tls("ssl_tlsv1", Typed::Bool(true)),
    tls("force_anon_logins_ssl", Typed::Bool(false)),
    tls("force_anon_data_ssl", Typed::Bool(false)),
    tls("debug_ssl", Typed::Bool(false)),
    tls("require_cert", Typed::Bool(false)),
    tls("validate_cert", Typed::Bool(false)),
    // 3.0.3 turned this on (Changelog: "We still have tunable_strict_ssl_read_eof defaulted").
    tls("strict_ssl_read_eof", Typed::Bool(true)),
    tls("strict_ssl_write_shutdown", Typed::Bool(false)),
    tls("ssl_request_cert", Typed::Bool(true)),
    tls("implicit_ssl", Typed::Bool(false)),
    tls("require_ssl_reuse", Typed::Bool(true)),
    tls(
        "rsa_cert_file",
        Typed::Text(Some("/usr/share/ssl/certs/vsftpd.pem")),
    ),
    tls("dsa_cert_file", Typed::Text(None)),
    // 3.0.3's default (3.0.2 had AES128-SHA:DES-CBC3-SHA).
    tls(
        "ssl_ciphers",
        Typed::Text(Some("ECDHE-RSA-AES256-GCM-SHA384")),
    ),
    tls("rsa_private_key_file", Typed::Text(None)),
    tls("dsa_private_key_file", Typed::Text(None)),
    tls("ca_certs_file", Typed::Text(None)),
];

/// Read a vsftpd.conf of at most vsftpd's size limit: vsftpd reads only that much of a longer
/// file, cutting its last line; ringd refuses it.
pub fn parse_file(path: &Path) -> Result<FtpConfig, ConfigError> {
    use super::source_file::{read_text, Expected, VSFTPD_FILE_MAX};
    let text = read_text(path, Expected::named_by("--ftp-conf", VSFTPD_FILE_MAX))?;
    parse_str(&text, &path.display().to_string())
}

/// Read vsftpd.conf text; `origin` names it in errors.
pub fn parse_str(text: &str, origin: &str) -> Result<FtpConfig, ConfigError> {
    let mut parser = Parser {
        file: origin,
        config: FtpConfig {
            origin: origin.to_string(),
            ..FtpConfig::default()
        },
        lines: HashMap::new(),
        one_process_model: false,
    };
    for (index, line) in text.split('\n').enumerate() {
        parser.line(index + 1, line)?;
    }
    parser.check()?;
    Ok(parser.config)
}

/// Applies a per-user options file (`user_config_dir`) over `base`, as vsftpd loads it after
/// a login: any option may be set, with the same syntax and errors as vsftpd.conf; `origin`
/// names the file in errors.
pub fn apply_user_options(
    base: &FtpConfig,
    text: &str,
    origin: &str,
) -> Result<FtpConfig, ConfigError> {
    let mut parser = Parser {
        file: origin,
        config: base.clone(),
        lines: HashMap::new(),
        one_process_model: false,
    };
    for (index, line) in text.split('\n').enumerate() {
        parser.line(index + 1, line)?;
    }
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

/// Settings under construction while a file is read.
struct Parser<'a> {
    file: &'a str,
    config: FtpConfig,
    /// The line each option was last set on, for the checks across options.
    lines: HashMap<&'static str, usize>,
    one_process_model: bool,
}

impl Parser<'_> {
    fn error(&self, line: usize, option: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_string(),
            line,
            directive: option.to_string(),
            message: message.into(),
        }
    }

    fn note(&mut self, line: usize, option: &str, value: &str, note: impl Into<String>) {
        self.config.notes.push(OptionNote {
            line,
            option: option.to_string(),
            value: value.to_string(),
            note: note.into(),
        });
    }

    /// One line of the file. As vsftpd: lines split at `\n`, `#` in the first column starts a
    /// comment, blanks before the option name are skipped, the value is everything after the
    /// first `=`. Unlike vsftpd, trailing blanks (and a CR) are removed first.
    fn line(&mut self, number: usize, line: &str) -> Result<(), ConfigError> {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let body = line.trim_start();
        if body.starts_with('#') {
            return Err(self.error(
                number,
                "#",
                "a comment must start in the first column (vsftpd reads an indented `#` line \
                 as an option); remove the blanks before `#`",
            ));
        }
        let (key, value) = body.split_once('=').unwrap_or((body, ""));
        let name = key.trim_end();
        let Some(name) = known_name(name) else {
            return Err(self.unknown(number, name));
        };
        if name.len() != key.len() {
            return Err(self.error(
                number,
                name,
                format!(
                    "blank before `=` (vsftpd reads `{key}` as an unknown option); write \
                     `{name}={}`",
                    value.trim_start()
                ),
            ));
        }
        if name != "ftpd_banner" && value.starts_with(char::is_whitespace) {
            return Err(self.error(
                number,
                name,
                format!(
                    "blank after `=` (vsftpd keeps it as part of the value); write `{name}={}`",
                    value.trim_start()
                ),
            ));
        }
        let previous = self.lines.insert(name, number);
        match self.config.set_supported(name, value) {
            Some(Ok(note)) => {
                if let Some(note) = note {
                    self.note(number, name, value, note);
                }
                if let Some(previous) = previous {
                    self.note(
                        number,
                        name,
                        value,
                        format!("overrides line {previous}: the last value wins, as in vsftpd"),
                    );
                }
                Ok(())
            }
            Some(Err(message)) => Err(self.error(number, name, message)),
            None => self.recognised(number, name, value),
        }
    }

    fn unknown(&self, number: usize, name: &str) -> ConfigError {
        let lower = name.to_ascii_lowercase();
        let hint = match known_name(&lower) {
            Some(known) if lower != name => {
                format!(" (option names are lower case: `{known}`)")
            }
            _ => String::new(),
        };
        if !name.is_empty()
            && !super::error::quotable_name(&name.replace(' ', "_"), MAX_QUOTED_OPTION)
        {
            return ConfigError::Unquoted(LineError {
                file: self.file.into(),
                line: number,
                message: "not a vsftpd.conf line (contents not shown)".to_string(),
            });
        }
        let shown = if name.is_empty() { "(no name)" } else { name };
        self.error(number, shown, format!("{UNKNOWN_OPTION}{hint}"))
    }

    /// An option vsftpd knows that is not parsed into `FtpConfig`: check its value's type, then
    /// accept it with a note or refuse it as not supported yet.
    fn recognised(&mut self, number: usize, name: &str, value: &str) -> Result<(), ConfigError> {
        let option = RECOGNISED
            .iter()
            .find(|option| option.name == name)
            .expect("known_name returned a recognised option");
        let (is_default, default) = match option.typed {
            Typed::Bool(default) => {
                let parsed = YesNo::parse(value).map_err(|m| self.error(number, name, m))?;
                (parsed == default, yes_no(default))
            }
            Typed::Number(default) => {
                let parsed = Number::parse(value).map_err(|m| self.error(number, name, m))?;
                (parsed == default, default.to_string())
            }
            Typed::Text(default) => (
                (!value.is_empty()).then_some(value) == default,
                default.unwrap_or("").to_string(),
            ),
        };
        if name == "one_process_model" {
            self.one_process_model = YesNo::parse(value) == Ok(true);
        }
        match option.treatment {
            Treatment::ByDesign(reason) => {
                self.note(
                    number,
                    name,
                    value,
                    format!("accepted, no effect: {reason}"),
                );
                Ok(())
            }
            Treatment::Tls => {
                self.note(number, name, value, "unused: TLS is not supported yet");
                Ok(())
            }
            Treatment::NotYet(feature) if is_default => {
                self.note(
                    number,
                    name,
                    value,
                    format!("{NOT_YET} ({feature}); accepted at vsftpd's default"),
                );
                Ok(())
            }
            Treatment::NotYet(feature) => {
                let fix = if default.is_empty() {
                    "remove the line".to_string()
                } else {
                    format!("remove the line or set {name}={default}, vsftpd's default")
                };
                Err(self.error(number, name, format!("{NOT_YET} ({feature}); {fix}")))
            }
        }
    }

    /// The line of whichever of `options` was set last, and its name, for errors about a
    /// combination.
    fn last_set(&self, options: &[&'static str]) -> (usize, &'static str) {
        options
            .iter()
            .filter_map(|&option| self.lines.get(option).map(|&line| (line, option)))
            .max()
            .unwrap_or((0, options[0]))
    }

    fn combination_error(&self, options: &[&'static str], message: String) -> ConfigError {
        let (line, option) = self.last_set(options);
        self.error(line, option, message)
    }

    /// What vsftpd checks across options at start-up, and ringd's own checks of that kind.
    fn check(&mut self) -> Result<(), ConfigError> {
        let c = &self.config;
        if c.listen && c.listen_ipv6 {
            return Err(self.combination_error(
                &["listen", "listen_ipv6"],
                "listen=YES and listen_ipv6=YES together: vsftpd refuses this (\"run two copies \
                 of vsftpd for IPv4 and IPv6\"); set one of them to NO"
                    .to_string(),
            ));
        }
        if !c.listen && !c.listen_ipv6 {
            return Err(self.combination_error(
                &["listen", "listen_ipv6"],
                "listen=NO and listen_ipv6=NO: vsftpd would then expect to be started by inetd, \
                 which ringd does not support; set listen=YES (IPv4) or listen_ipv6=YES (IPv6)"
                    .to_string(),
            ));
        }
        if !c.anonymous_enable && !c.local_enable {
            return Err(self.combination_error(
                &["anonymous_enable", "local_enable"],
                "anonymous_enable=NO and local_enable=NO: nobody could log in (vsftpd refuses \
                 this: \"both local and anonymous access disabled!\"); set one of them to YES"
                    .to_string(),
            ));
        }
        if self.one_process_model && c.local_enable {
            return Err(self.combination_error(
                &["one_process_model", "local_enable"],
                "one_process_model=YES with local_enable=YES: vsftpd refuses this \
                 (\"'one_process_model' is anonymous only\"); remove one_process_model, which \
                 ringd does not need"
                    .to_string(),
            ));
        }
        let (min, max) = (c.pasv_min_port, c.pasv_max_port);
        if max != 0 && max < PASV_FLOOR {
            return Err(self.combination_error(
                &["pasv_max_port"],
                format!(
                    "{max} is below {PASV_FLOOR}: vsftpd never opens passive ports below \
                     {PASV_FLOOR} and would silently ignore this; use {PASV_FLOOR}..65535, or 0 \
                     for no upper limit"
                ),
            ));
        }
        if max != 0 && min > max {
            return Err(self.combination_error(
                &["pasv_min_port", "pasv_max_port"],
                format!(
                    "pasv_min_port={min} is above pasv_max_port={max} (vsftpd would silently \
                     ignore pasv_max_port; its default pasv_min_port is 5001); set \
                     pasv_max_port to at least {min} or lower pasv_min_port"
                ),
            ));
        }
        if (1..PASV_FLOOR).contains(&min) {
            let line = self.lines.get("pasv_min_port").copied().unwrap_or(0);
            self.note(
                line,
                "pasv_min_port",
                &min.to_string(),
                format!("passive ports start at {PASV_FLOOR}, as in vsftpd"),
            );
        }
        if let (false, Some(&line)) = (self.config.use_sendfile, self.lines.get("zero_copy_method"))
        {
            let method = ZeroCopy::show(&self.config.zero_copy_method);
            self.note(
                line,
                "zero_copy_method",
                &method,
                "no effect with use_sendfile=NO: transfers copy through memory",
            );
        }
        if let Some(address) = &self.config.pasv_address {
            if !self.config.pasv_addr_resolve && address.parse::<Ipv4Addr>().is_err() {
                return Err(self.combination_error(
                    &["pasv_address"],
                    format!(
                        "expected an IPv4 address such as 192.0.2.1, found `{address}` (vsftpd \
                         would answer PASV with \"500 OOPS: invalid pasv_address\"); for a host \
                         name also set pasv_addr_resolve=YES"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The option's name as a static string if vsftpd 3.0.3 or ringd knows it (names are
/// case-sensitive, as in vsftpd).
fn known_name(name: &str) -> Option<&'static str> {
    SUPPORTED
        .iter()
        .copied()
        .chain(RECOGNISED.iter().map(|option| option.name))
        .find(|&known| known == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn parse(text: &str) -> FtpConfig {
        match parse_str(text, "test.conf") {
            Ok(config) => config,
            Err(e) => panic!("{text:?} refused: {e}"),
        }
    }

    fn error(text: &str) -> String {
        parse_str(text, "test.conf").unwrap_err().to_string()
    }

    fn notes(config: &FtpConfig) -> Vec<String> {
        config
            .notes
            .iter()
            .map(|n| format!("{}: {}={}: {}", n.line, n.option, n.value, n.note))
            .collect()
    }

    fn data_file(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/vsftpd")
            .join(name)
    }

    /// Every option vsftpd 3.0.3 parses (parseconf.c), then the three Debian's build adds.
    const VSFTPD_OPTIONS: &[&str] = &[
        // booleans
        "anonymous_enable",
        "local_enable",
        "pasv_enable",
        "port_enable",
        "chroot_local_user",
        "write_enable",
        "anon_upload_enable",
        "anon_mkdir_write_enable",
        "anon_other_write_enable",
        "chown_uploads",
        "connect_from_port_20",
        "xferlog_enable",
        "dirmessage_enable",
        "anon_world_readable_only",
        "async_abor_enable",
        "ascii_upload_enable",
        "ascii_download_enable",
        "one_process_model",
        "xferlog_std_format",
        "pasv_promiscuous",
        "deny_email_enable",
        "chroot_list_enable",
        "setproctitle_enable",
        "text_userdb_names",
        "ls_recurse_enable",
        "log_ftp_protocol",
        "guest_enable",
        "userlist_enable",
        "userlist_deny",
        "use_localtime",
        "check_shell",
        "hide_ids",
        "listen",
        "port_promiscuous",
        "passwd_chroot_enable",
        "no_anon_password",
        "tcp_wrappers",
        "use_sendfile",
        "force_dot_files",
        "listen_ipv6",
        "dual_log_enable",
        "syslog_enable",
        "background",
        "virtual_use_local_privs",
        "session_support",
        "download_enable",
        "dirlist_enable",
        "chmod_enable",
        "secure_email_list_enable",
        "run_as_launching_user",
        "no_log_lock",
        "ssl_enable",
        "allow_anon_ssl",
        "force_local_logins_ssl",
        "force_local_data_ssl",
        "ssl_sslv2",
        "ssl_sslv3",
        "ssl_tlsv1",
        "tilde_user_enable",
        "force_anon_logins_ssl",
        "force_anon_data_ssl",
        "mdtm_write",
        "lock_upload_files",
        "pasv_addr_resolve",
        "debug_ssl",
        "require_cert",
        "validate_cert",
        "strict_ssl_read_eof",
        "strict_ssl_write_shutdown",
        "ssl_request_cert",
        "delete_failed_uploads",
        "implicit_ssl",
        "ptrace_sandbox",
        "require_ssl_reuse",
        "isolate",
        "isolate_network",
        "ftp_enable",
        "http_enable",
        "seccomp_sandbox",
        "allow_writeable_chroot",
        // numbers
        "accept_timeout",
        "connect_timeout",
        "local_umask",
        "anon_umask",
        "ftp_data_port",
        "idle_session_timeout",
        "data_connection_timeout",
        "pasv_min_port",
        "pasv_max_port",
        "anon_max_rate",
        "local_max_rate",
        "listen_port",
        "max_clients",
        "file_open_mode",
        "max_per_ip",
        "trans_chunk_size",
        "delay_failed_login",
        "delay_successful_login",
        "max_login_fails",
        "chown_upload_mode",
        // strings
        "secure_chroot_dir",
        "ftp_username",
        "chown_username",
        "xferlog_file",
        "vsftpd_log_file",
        "message_file",
        "nopriv_user",
        "ftpd_banner",
        "banned_email_file",
        "chroot_list_file",
        "pam_service_name",
        "guest_username",
        "userlist_file",
        "anon_root",
        "local_root",
        "banner_file",
        "pasv_address",
        "listen_address",
        "user_config_dir",
        "listen_address6",
        "cmds_allowed",
        "hide_file",
        "deny_file",
        "user_sub_token",
        "email_password_file",
        "rsa_cert_file",
        "dsa_cert_file",
        "ssl_ciphers",
        "rsa_private_key_file",
        "dsa_private_key_file",
        "ca_certs_file",
        "cmds_denied",
        // Debian's vsftpd 3.0.3 build
        "utf8_filesystem",
        "download_file",
        "upload_file",
    ];

    const EXTENSIONS: &[&str] = &[
        "virtual_users_file",
        "ftpusers_file",
        "hosts_allow_file",
        "hosts_deny_file",
        "max_rate_total",
        "atomic_uploads",
        "zero_copy_method",
    ];

    #[test]
    fn every_vsftpd_option_is_recognised_exactly_once() {
        assert_eq!(VSFTPD_OPTIONS.len(), 135);
        let mut ours: Vec<&str> = SUPPORTED
            .iter()
            .copied()
            .filter(|name| !EXTENSIONS.contains(name))
            .chain(RECOGNISED.iter().map(|option| option.name))
            .collect();
        ours.sort_unstable();
        let mut theirs = VSFTPD_OPTIONS.to_vec();
        theirs.sort_unstable();
        assert_eq!(ours, theirs);
        for extension in EXTENSIONS {
            assert!(SUPPORTED.contains(extension), "{extension}");
        }
        assert_eq!(SUPPORTED.len(), 90 + EXTENSIONS.len());
    }

    #[test]
    fn the_reference_documents_every_option() {
        let doc =
            fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ftp-config.md"))
                .unwrap();
        for name in VSFTPD_OPTIONS.iter().chain(EXTENSIONS) {
            assert!(
                doc.contains(&format!("`{name}`")),
                "{name} is not in docs/ftp-config.md"
            );
        }
    }

    #[test]
    fn defaults_are_vsftpd_3_0_3_tunables() {
        let d = FtpConfig::default();
        assert_eq!(d.origin, "compiled-in defaults");
        assert!(d.anonymous_enable);
        assert!(!d.local_enable);
        assert!(d.pasv_enable);
        assert!(d.port_enable);
        assert!(!d.write_enable);
        assert!(d.anon_world_readable_only);
        assert!(!d.userlist_enable);
        assert!(d.userlist_deny);
        assert!(d.listen);
        assert!(!d.listen_ipv6);
        assert!(!d.tcp_wrappers);
        assert!(d.download_enable);
        assert!(d.dirlist_enable);
        assert!(d.chmod_enable);
        assert!(d.mdtm_write);
        assert!(d.lock_upload_files);
        assert!(!d.delete_failed_uploads);
        assert!(d.use_sendfile);
        assert!(!d.allow_writeable_chroot);
        assert!(!d.connect_from_port_20);
        assert_eq!(d.accept_timeout, 60);
        assert_eq!(d.connect_timeout, 60);
        assert_eq!(d.local_umask, 0o077);
        assert_eq!(d.anon_umask, 0o077);
        assert_eq!(d.ftp_data_port, 20);
        assert_eq!(d.idle_session_timeout, 300);
        assert_eq!(d.data_connection_timeout, 300);
        assert_eq!(d.pasv_min_port, 5001);
        assert_eq!(d.pasv_max_port, 0);
        assert_eq!(d.anon_max_rate, 0);
        assert_eq!(d.local_max_rate, 0);
        assert_eq!(d.listen_port, 21);
        assert_eq!(d.max_clients, 2000);
        assert_eq!(d.max_per_ip, 50);
        assert_eq!(d.file_open_mode, 0o666);
        assert_eq!(d.delay_failed_login, 1);
        assert_eq!(d.max_login_fails, 3);
        assert_eq!(d.chown_upload_mode, 0o600);
        assert_eq!(d.ftp_username, "ftp");
        assert_eq!(d.chown_username, "root");
        assert_eq!(d.guest_username, "ftp");
        assert_eq!(d.xferlog_file, Path::new("/var/log/xferlog"));
        assert_eq!(d.vsftpd_log_file, Path::new("/var/log/vsftpd.log"));
        assert_eq!(d.message_file, Path::new(".message"));
        assert_eq!(d.banned_email_file, Path::new("/etc/vsftpd.banned_emails"));
        assert_eq!(d.chroot_list_file, Path::new("/etc/vsftpd.chroot_list"));
        assert_eq!(d.userlist_file, Path::new("/etc/vsftpd.user_list"));
        assert_eq!(
            d.email_password_file,
            Path::new("/etc/vsftpd.email_passwords")
        );
        assert_eq!(d.ftpd_banner, None);
        assert_eq!(d.banner_file, None);
        assert_eq!(d.anon_root, None);
        assert_eq!(d.local_root, None);
        assert_eq!(d.listen_address, None);
        assert_eq!(d.pasv_address, None);
        assert!(d.cmds_allowed.is_empty() && d.cmds_denied.is_empty());
        // ringd extensions
        assert_eq!(d.virtual_users_file, None);
        assert_eq!(d.ftpusers_file, None);
        assert_eq!(d.hosts_allow_file, Path::new("/etc/hosts.allow"));
        assert_eq!(d.hosts_deny_file, Path::new("/etc/hosts.deny"));
        assert_eq!(d.max_rate_total, 0);
        assert!(!d.atomic_uploads);
        assert_eq!(d.zero_copy_method, ZeroCopyMethod::Sendfile);
        assert!(d.notes.is_empty());
        assert_eq!(d.to_string(), "");
    }

    #[test]
    fn recognised_options_carry_vsftpd_3_0_3_defaults() {
        let default_of =
            |name: &str| match RECOGNISED.iter().find(|o| o.name == name).unwrap().typed {
                Typed::Bool(b) => yes_no(b),
                Typed::Number(n) => n.to_string(),
                Typed::Text(t) => t.unwrap_or("(none)").to_string(),
            };
        assert_eq!(default_of("ssl_enable"), "NO");
        assert_eq!(default_of("seccomp_sandbox"), "YES");
        assert_eq!(default_of("isolate_network"), "YES");
        assert_eq!(default_of("strict_ssl_read_eof"), "YES");
        assert_eq!(default_of("strict_ssl_write_shutdown"), "NO");
        assert_eq!(default_of("ssl_tlsv1"), "YES");
        assert_eq!(default_of("ssl_ciphers"), "ECDHE-RSA-AES256-GCM-SHA384");
        assert_eq!(default_of("secure_chroot_dir"), "/usr/share/empty");
        assert_eq!(default_of("trans_chunk_size"), "0");
        let d = FtpConfig::default();
        assert!(d.check_shell && !d.run_as_launching_user && !d.passwd_chroot_enable);
        assert_eq!(
            (d.nopriv_user.as_str(), d.pam_service_name.as_str()),
            ("nobody", "ftp")
        );
        assert_eq!(d.user_config_dir, None);
    }

    #[test]
    fn booleans_take_vsftpd_spellings_in_any_case() {
        for yes in ["YES", "yes", "Yes", "TRUE", "true", "1"] {
            assert!(parse(&format!("write_enable={yes}")).write_enable, "{yes}");
        }
        for no in ["NO", "no", "nO", "FALSE", "False", "0"] {
            assert!(!parse(&format!("anonymous_enable={no}\nlocal_enable=YES")).anonymous_enable);
        }
        assert_eq!(
            error("\nwrite_enable=maybe"),
            "test.conf:2: write_enable: expected YES or NO, found `maybe`"
        );
        assert_eq!(
            error("write_enable=2"),
            "test.conf:1: write_enable: expected YES or NO, found `2`"
        );
        assert_eq!(
            error("write_enable="),
            "test.conf:1: write_enable: expected YES or NO, found nothing"
        );
        assert_eq!(
            error("write_enable"),
            "test.conf:1: write_enable: expected YES or NO, found nothing"
        );
    }

    #[test]
    fn numbers_are_decimal_or_octal_with_a_leading_zero() {
        let c = parse("max_clients=3\nmax_per_ip=0\nlisten_port=021\nanon_max_rate=4294967295");
        assert_eq!(c.max_clients, 3);
        assert_eq!(c.max_per_ip, 0);
        assert_eq!(c.listen_port, 17);
        assert_eq!(c.anon_max_rate, u32::MAX);
        assert_eq!(
            error("max_clients=abc"),
            "test.conf:1: max_clients: expected a number 0..4294967295, found `abc`"
        );
        assert_eq!(
            error("max_clients=-1"),
            "test.conf:1: max_clients: expected a number 0..4294967295, found `-1`"
        );
        assert_eq!(
            error("max_clients=4294967296"),
            "test.conf:1: max_clients: expected a number 0..4294967295, found `4294967296`, \
             which is out of range"
        );
        assert_eq!(
            error("listen_port=65536"),
            "test.conf:1: listen_port: expected a port number 0..65535, found `65536`, which is \
             out of range"
        );
        assert_eq!(
            error("idle_session_timeout=089"),
            "test.conf:1: idle_session_timeout: expected a number 0..4294967295; a number that \
             starts with 0 is octal (as in vsftpd) and takes only the digits 0 to 7, found `089`"
        );
        assert_eq!(
            error("max_clients="),
            "test.conf:1: max_clients: expected a number 0..4294967295, found nothing"
        );
    }

    #[test]
    fn umasks_and_modes_are_octal_as_vsftpd_reads_them() {
        let c = parse("local_umask=022\nanon_umask=0\nfile_open_mode=0644\nchown_upload_mode=0640");
        assert_eq!(c.local_umask, 0o022);
        assert_eq!(c.anon_umask, 0);
        assert_eq!(c.file_open_mode, 0o644);
        assert_eq!(c.chown_upload_mode, 0o640);
        assert!(c.notes.is_empty());
        // Without the leading 0 vsftpd reads decimal: 22 is octal 026. Accepted, with a note.
        let c = parse("local_umask=22");
        assert_eq!(c.local_umask, 0o026);
        assert_eq!(
            notes(&c),
            [
                "1: local_umask=22: no leading 0, so read as decimal 22 = octal 026, as vsftpd \
              does; write 022 if octal was meant"
            ]
        );
        assert_eq!(c.to_string(), "local_umask=026\n# line 1: local_umask=22: no leading 0, so read as decimal 22 = octal 026, as vsftpd does; write 022 if octal was meant\n");
        assert!(parse("anon_umask=7").notes.is_empty());
        assert_eq!(
            error("local_umask=0778"),
            "test.conf:1: local_umask: expected a umask such as 022; a number that starts with 0 \
             is octal (as in vsftpd) and takes only the digits 0 to 7, found `0778`"
        );
        assert_eq!(
            error("local_umask=01000"),
            "test.conf:1: local_umask: expected a umask such as 022, found `01000`, above 0777"
        );
        assert_eq!(
            error("anon_umask=777"),
            "test.conf:1: anon_umask: expected a umask such as 022, found `777`: without a \
             leading 0 vsftpd reads it as decimal 777, which is octal 01411, above 0777; write \
             0777 for octal"
        );
        assert_eq!(
            error("file_open_mode=010000"),
            "test.conf:1: file_open_mode: expected a file mode such as 0644, found `010000`, \
             above 07777"
        );
    }

    #[test]
    fn strings_and_paths() {
        let c = parse(
            "ftpd_banner=Welcome to blah FTP service. a=b\nanon_root=/srv/ftp\n\
             chown_username=ftpupload\nxferlog_file=/var/log/ftp/xfer.log\nuser_sub_token=$USER\n\
             local_root=/home/virtual/$USER\nhide_file={*.mp3,.private}\ndeny_file={*.exe}\n\
             banner_file=/etc/vsftpd/banner.txt\nmessage_file=README",
        );
        assert_eq!(
            c.ftpd_banner.as_deref(),
            Some("Welcome to blah FTP service. a=b")
        );
        assert_eq!(c.anon_root.as_deref(), Some(Path::new("/srv/ftp")));
        assert_eq!(c.chown_username, "ftpupload");
        assert_eq!(c.xferlog_file, Path::new("/var/log/ftp/xfer.log"));
        assert_eq!(c.user_sub_token.as_deref(), Some("$USER"));
        assert_eq!(
            c.local_root.as_deref(),
            Some(Path::new("/home/virtual/$USER"))
        );
        assert_eq!(c.hide_file.as_deref(), Some("{*.mp3,.private}"));
        assert_eq!(c.deny_file.as_deref(), Some("{*.exe}"));
        assert_eq!(
            c.banner_file.as_deref(),
            Some(Path::new("/etc/vsftpd/banner.txt"))
        );
        assert_eq!(c.message_file, Path::new("README"));
        // The banner is free text: blanks after `=` are kept.
        assert_eq!(
            parse("ftpd_banner=  indented").ftpd_banner.as_deref(),
            Some("  indented")
        );
        // An empty value unsets a string without a default, as in vsftpd.
        assert_eq!(parse("ftpd_banner=Hi\nftpd_banner=").ftpd_banner, None);
        assert_eq!(parse("anon_root").anon_root, None);
        assert_eq!(
            error("xferlog_file="),
            "test.conf:1: xferlog_file: expected a value, found nothing; remove the line to keep \
             vsftpd's default"
        );
        assert_eq!(
            error("chown_username"),
            "test.conf:1: chown_username: expected a value, found nothing; remove the line to \
             keep vsftpd's default"
        );
    }

    #[test]
    fn command_lists_are_comma_separated_and_upper_cased() {
        let c = parse("cmds_allowed=PASV,RETR,QUIT\ncmds_denied=DELE,RMD,");
        assert_eq!(c.cmds_allowed, ["PASV", "RETR", "QUIT"]);
        assert_eq!(c.cmds_denied, ["DELE", "RMD"]);
        assert!(c.notes.is_empty());
        let c = parse("cmds_allowed=pasv, Retr ,quit");
        assert_eq!(c.cmds_allowed, ["PASV", "RETR", "QUIT"]);
        assert_eq!(
            notes(&c),
            ["1: cmds_allowed=pasv, Retr ,quit: command names upper-cased (vsftpd compares them \
              exactly and would never match a lower-case name)"]
        );
        assert!(parse("cmds_allowed=").cmds_allowed.is_empty());
        assert_eq!(
            error("cmds_allowed=PASV,,RETR"),
            "test.conf:1: cmds_allowed: empty entry in `PASV,,RETR` (vsftpd stops reading the \
             list there); remove the extra comma"
        );
        assert_eq!(
            error("cmds_denied=SITE CHMOD"),
            "test.conf:1: cmds_denied: expected a comma-separated list of FTP commands such as \
             PASV,RETR,QUIT, found `SITE CHMOD`"
        );
        assert_eq!(
            parse("cmds_denied=DELE,RMD").to_string(),
            "cmds_denied=DELE,RMD\n"
        );
    }

    #[test]
    fn addresses() {
        let c = parse("listen_address=192.0.2.7\npasv_address=198.51.100.1");
        assert_eq!(c.listen_address, Some(Ipv4Addr::new(192, 0, 2, 7)));
        assert_eq!(c.pasv_address.as_deref(), Some("198.51.100.1"));
        let c = parse("listen=NO\nlisten_ipv6=YES\nlisten_address6=2001:db8::21");
        assert_eq!(c.listen_address6, Some("2001:db8::21".parse().unwrap()));
        assert_eq!(
            error("listen_address=::1"),
            "test.conf:1: listen_address: expected an IPv4 address such as 192.0.2.1, found \
             `::1` (IPv6 addresses go in listen_address6)"
        );
        assert_eq!(
            error("listen_address6=10.0.0.1"),
            "test.conf:1: listen_address6: expected an IPv6 address such as 2001:db8::1, found \
             `10.0.0.1` (IPv4 addresses go in listen_address)"
        );
        // A host name needs pasv_addr_resolve, as in vsftpd.
        assert_eq!(
            error("pasv_address=ftp.example.com"),
            "test.conf:1: pasv_address: expected an IPv4 address such as 192.0.2.1, found \
             `ftp.example.com` (vsftpd would answer PASV with \"500 OOPS: invalid \
             pasv_address\"); for a host name also set pasv_addr_resolve=YES"
        );
        let c = parse("pasv_address=ftp.example.com\npasv_addr_resolve=YES");
        assert_eq!(c.pasv_address.as_deref(), Some("ftp.example.com"));
        assert!(c.pasv_addr_resolve);
    }

    #[test]
    fn ringd_extensions() {
        let c = parse(
            "virtual_users_file=/etc/ringd/ftp-users\nftpusers_file=/etc/ftpusers\n\
             hosts_allow_file=/tmp/allow\nhosts_deny_file=/tmp/deny\nmax_rate_total=10000000\n\
             atomic_uploads=YES",
        );
        assert_eq!(
            c.virtual_users_file.as_deref(),
            Some(Path::new("/etc/ringd/ftp-users"))
        );
        assert_eq!(c.ftpusers_file.as_deref(), Some(Path::new("/etc/ftpusers")));
        assert_eq!(c.hosts_allow_file, Path::new("/tmp/allow"));
        assert_eq!(c.hosts_deny_file, Path::new("/tmp/deny"));
        assert_eq!(c.max_rate_total, 10_000_000);
        assert!(c.atomic_uploads);
    }

    #[test]
    fn line_syntax_follows_vsftpd() {
        // Comments in the first column, blank lines, blanks before the name: all as vsftpd.
        let c = parse("# comment\n\n   \n\tmax_clients=100\n  max_per_ip=3\n#max_per_ip=9\n");
        assert_eq!((c.max_clients, c.max_per_ip), (100, 3));
        // Unlike vsftpd, trailing blanks and CRs are dropped ("YES " is a bad bool there).
        let c = parse("allow_writeable_chroot=YES \r\nmax_clients=3  \r\nbanner_file=/b.txt   \n");
        assert!(c.allow_writeable_chroot);
        assert_eq!(c.max_clients, 3);
        assert_eq!(c.banner_file.as_deref(), Some(Path::new("/b.txt")));
        assert_eq!(
            error("max_clients=3\n  # a comment"),
            "test.conf:2: #: a comment must start in the first column (vsftpd reads an indented \
             `#` line as an option); remove the blanks before `#`"
        );
        assert_eq!(
            error("listen =YES"),
            "test.conf:1: listen: blank before `=` (vsftpd reads `listen ` as an unknown \
             option); write `listen=YES`"
        );
        assert_eq!(
            error("max_clients = 5"),
            "test.conf:1: max_clients: blank before `=` (vsftpd reads `max_clients ` as an \
             unknown option); write `max_clients=5`"
        );
        assert_eq!(
            error("listen= YES"),
            "test.conf:1: listen: blank after `=` (vsftpd keeps it as part of the value); write \
             `listen=YES`"
        );
        assert_eq!(
            error("anon_root= /srv/ftp"),
            "test.conf:1: anon_root: blank after `=` (vsftpd keeps it as part of the value); \
             write `anon_root=/srv/ftp`"
        );
    }

    #[test]
    fn unknown_options_are_errors_naming_file_line_and_option() {
        assert_eq!(
            error("\n\nfoo=1"),
            "test.conf:3: foo: unknown option; ringd reads vsftpd.conf options (see \
             docs/ftp-config.md)"
        );
        assert_eq!(
            error("Listen=YES"),
            "test.conf:1: Listen: unknown option; ringd reads vsftpd.conf options (see \
             docs/ftp-config.md) (option names are lower case: `listen`)"
        );
        assert_eq!(
            error("anon root=/srv"),
            "test.conf:1: anon root: unknown option; ringd reads vsftpd.conf options (see \
             docs/ftp-config.md)"
        );
        assert_eq!(
            error("=YES"),
            "test.conf:1: (no name): unknown option; ringd reads vsftpd.conf options (see \
             docs/ftp-config.md)"
        );
        // A file that is no vsftpd.conf (--ftp-conf /etc/shadow) is never echoed.
        assert_eq!(
            error("root:$6$SECRETHASH:19000:0:99999:7:::"),
            "test.conf:1: not a vsftpd.conf line (contents not shown)"
        );
        // Options only Red Hat's build knows are unknown to vsftpd 3.0.3 as well.
        assert!(error("reverse_lookup_enable=NO").contains("unknown option"));
    }

    #[test]
    fn options_not_supported_yet_are_accepted_only_at_their_default() {
        let c = parse("ssl_enable=NO\nbackground=no");
        assert_eq!(
            notes(&c),
            [
                "1: ssl_enable=NO: vsftpd option that ringd does not support yet (FTP over TLS); \
                 accepted at vsftpd's default",
                "2: background=no: vsftpd option that ringd does not support yet (detaching \
                 into the background; run ringd under a service manager); accepted at vsftpd's \
                 default",
            ]
        );
        assert_eq!(
            error("ssl_enable=YES"),
            "test.conf:1: ssl_enable: vsftpd option that ringd does not support yet (FTP over \
             TLS); remove the line or set ssl_enable=NO, vsftpd's default"
        );
        assert_eq!(
            error("delay_successful_login=2"),
            "test.conf:1: delay_successful_login: vsftpd option that ringd does not support yet \
             (delaying successful logins); remove the line or set delay_successful_login=0, \
             vsftpd's default"
        );
        // The value is still checked against the option's type.
        assert_eq!(
            error("check_shell=maybe"),
            "test.conf:1: check_shell: expected YES or NO, found `maybe`"
        );
    }

    #[test]
    fn tls_settings_are_accepted_while_tls_is_off() {
        let c = parse(
            "rsa_cert_file=/etc/ssl/certs/ssl-cert-snakeoil.pem\nssl_sslv3=YES\n\
             ssl_ciphers=HIGH\nssl_enable=NO",
        );
        assert_eq!(
            notes(&c)[..3],
            [
                "1: rsa_cert_file=/etc/ssl/certs/ssl-cert-snakeoil.pem: unused: TLS is not \
                 supported yet",
                "2: ssl_sslv3=YES: unused: TLS is not supported yet",
                "3: ssl_ciphers=HIGH: unused: TLS is not supported yet",
            ]
        );
        assert_eq!(
            error("require_cert=perhaps"),
            "test.conf:1: require_cert: expected YES or NO, found `perhaps`"
        );
    }

    #[test]
    fn process_model_options_are_accepted_with_any_value() {
        let c = parse(
            "seccomp_sandbox=NO\nisolate=NO\nisolate_network=NO\n\
             secure_chroot_dir=/var/run/vsftpd/empty\ntrans_chunk_size=8192\n\
             setproctitle_enable=YES\nptrace_sandbox=YES",
        );
        assert_eq!(
            c,
            FtpConfig {
                notes: c.notes.clone(),
                ..parse("")
            }
        );
        assert_eq!(c.notes.len(), 7);
        assert_eq!(
            notes(&c)[0],
            "1: seccomp_sandbox=NO: accepted, no effect: it confines vsftpd's per-session \
             processes; ringd has none, resolves every path inside the session root with \
             openat2(RESOLVE_IN_ROOT), and leaves process confinement to the service manager"
        );
        assert_eq!(
            notes(&c)[4],
            "5: trans_chunk_size=8192: accepted, no effect: ringd's transfer engine sizes its \
             chunks and paces rate limits itself"
        );
        assert_eq!(
            error("trans_chunk_size=big"),
            "test.conf:1: trans_chunk_size: expected a number 0..4294967295, found `big`"
        );
    }

    #[test]
    fn use_sendfile_and_zero_copy_method_choose_the_transfer_engine() {
        let c = parse("use_sendfile=NO");
        assert!(!c.use_sendfile);
        assert_eq!(c.to_string(), "use_sendfile=NO\n");
        let c = parse("zero_copy_method=splice");
        assert!(c.use_sendfile);
        assert_eq!(c.zero_copy_method, ZeroCopyMethod::Splice);
        assert_eq!(c.to_string(), "zero_copy_method=splice\n");
        assert!(c.notes.is_empty());
        let c = parse("zero_copy_method=Sendfile");
        assert_eq!(c.zero_copy_method, ZeroCopyMethod::Sendfile);
        // The method changes nothing while use_sendfile=NO: --check says so.
        let c = parse("zero_copy_method=splice\nuse_sendfile=NO");
        assert_eq!(
            notes(&c),
            [
                "1: zero_copy_method=splice: no effect with use_sendfile=NO: transfers copy \
              through memory"
            ]
        );
        assert_eq!(
            c.to_string(),
            "use_sendfile=NO\nzero_copy_method=splice\n# line 1: zero_copy_method=splice: no \
             effect with use_sendfile=NO: transfers copy through memory\n"
        );
        assert_eq!(
            error("\nzero_copy_method=mmap"),
            "test.conf:2: zero_copy_method: expected sendfile or splice, found `mmap`; write \
             zero_copy_method=sendfile or zero_copy_method=splice"
        );
        assert_eq!(
            error("zero_copy_method=copy"),
            "test.conf:1: zero_copy_method: expected sendfile or splice, found `copy`; to copy \
             through memory instead of zero-copy, remove this line and set use_sendfile=NO"
        );
        assert_eq!(
            error("zero_copy_method="),
            "test.conf:1: zero_copy_method: expected sendfile or splice, found nothing; remove \
             the line to keep the default, zero_copy_method=sendfile"
        );
        assert_eq!(
            error("use_sendfile=sometimes"),
            "test.conf:1: use_sendfile: expected YES or NO, found `sometimes`"
        );
        let again = parse(&parse("use_sendfile=NO\nzero_copy_method=splice").to_string());
        assert!(!again.use_sendfile);
        assert_eq!(again.zero_copy_method, ZeroCopyMethod::Splice);
    }

    #[test]
    fn start_up_checks_across_options() {
        assert_eq!(
            error("listen=YES\nlisten_ipv6=YES\nmax_clients=5"),
            "test.conf:2: listen_ipv6: listen=YES and listen_ipv6=YES together: vsftpd refuses \
             this (\"run two copies of vsftpd for IPv4 and IPv6\"); set one of them to NO"
        );
        assert_eq!(
            error("listen_ipv6=NO\nlisten=NO"),
            "test.conf:2: listen: listen=NO and listen_ipv6=NO: vsftpd would then expect to be \
             started by inetd, which ringd does not support; set listen=YES (IPv4) or \
             listen_ipv6=YES (IPv6)"
        );
        assert_eq!(
            error("local_enable=NO\nanonymous_enable=NO"),
            "test.conf:2: anonymous_enable: anonymous_enable=NO and local_enable=NO: nobody \
             could log in (vsftpd refuses this: \"both local and anonymous access disabled!\"); \
             set one of them to YES"
        );
        assert_eq!(
            error("one_process_model=YES\nlocal_enable=YES"),
            "test.conf:2: local_enable: one_process_model=YES with local_enable=YES: vsftpd \
             refuses this (\"'one_process_model' is anonymous only\"); remove one_process_model, \
             which ringd does not need"
        );
        assert_eq!(
            error("pasv_min_port=10100\npasv_max_port=10000"),
            "test.conf:2: pasv_max_port: pasv_min_port=10100 is above pasv_max_port=10000 \
             (vsftpd would silently ignore pasv_max_port; its default pasv_min_port is 5001); \
             set pasv_max_port to at least 10100 or lower pasv_min_port"
        );
        // Only pasv_max_port set, below the default minimum of 5001.
        assert!(error("pasv_max_port=4000").starts_with(
            "test.conf:1: pasv_max_port: pasv_min_port=5001 is above pasv_max_port=4000"
        ));
        assert_eq!(
            error("pasv_min_port=0\npasv_max_port=1000"),
            "test.conf:2: pasv_max_port: 1000 is below 1024: vsftpd never opens passive ports \
             below 1024 and would silently ignore this; use 1024..65535, or 0 for no upper limit"
        );
        let c = parse("pasv_min_port=100\npasv_max_port=2000");
        assert_eq!(c.pasv_ports(), 1024..=2000);
        assert_eq!(
            notes(&c),
            ["1: pasv_min_port=100: passive ports start at 1024, as in vsftpd"]
        );
    }

    #[test]
    fn passive_port_range_as_vsftpd_computes_it() {
        assert_eq!(FtpConfig::default().pasv_ports(), 5001..=65535);
        assert_eq!(
            parse("pasv_min_port=10000\npasv_max_port=10100").pasv_ports(),
            10000..=10100
        );
        assert_eq!(parse("pasv_min_port=0").pasv_ports(), 1024..=65535);
        assert_eq!(
            parse("pasv_min_port=30000\npasv_max_port=30000").pasv_ports(),
            30000..=30000
        );
        assert_eq!(parse("pasv_max_port=65535").pasv_ports(), 5001..=65535);
    }

    #[test]
    fn a_later_line_wins_with_a_note() {
        let c = parse("max_clients=3\nmax_clients=100");
        assert_eq!(c.max_clients, 100);
        assert_eq!(
            notes(&c),
            ["2: max_clients=100: overrides line 1: the last value wins, as in vsftpd"]
        );
    }

    #[test]
    fn display_lists_changed_options_in_name_order_then_notes() {
        let c = parse(
            "write_enable=YES\nlocal_umask=022\nanon_upload_enable=YES\nlisten_port=2121\n\
             pasv_min_port=10000\npasv_max_port=10100\nftpd_banner=Hello there\n\
             file_open_mode=0644\nmax_clients=2000\nanonymous_enable=YES\nssl_enable=NO",
        );
        assert_eq!(
            c.to_string(),
            "anon_upload_enable=YES\n\
             file_open_mode=0644\n\
             ftpd_banner=Hello there\n\
             listen_port=2121\n\
             local_umask=022\n\
             pasv_max_port=10100\n\
             pasv_min_port=10000\n\
             write_enable=YES\n\
             # line 11: ssl_enable=NO: vsftpd option that ringd does not support yet (FTP over \
             TLS); accepted at vsftpd's default\n"
        );
    }

    #[test]
    fn display_reads_back_to_the_same_settings() {
        let c = parse(
            "listen=NO\nlisten_ipv6=YES\nlisten_address6=::1\nanon_umask=0\nlocal_umask=027\n\
             cmds_allowed=USER,PASS,QUIT\nvirtual_users_file=/etc/ringd/users\n\
             chown_upload_mode=0440\nuse_localtime=YES\nanon_root=/srv/ftp\nmax_per_ip=0",
        );
        let again = parse(&c.to_string());
        assert_eq!(
            FtpConfig {
                notes: Vec::new(),
                ..c
            },
            again
        );
    }

    #[test]
    fn demo_is_anonymous_read_only_ftp_on_localhost_2121() {
        let config = demo(Path::new("/srv/demo"));
        assert_eq!(config.origin, "built-in demo");
        assert!(config.listen && !config.listen_ipv6);
        assert_eq!(config.listen_address, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(config.listen_port, 2121);
        assert!(config.anonymous_enable && !config.local_enable && !config.write_enable);
        assert_eq!(config.anon_root.as_deref(), Some(Path::new("/srv/demo")));
        assert_eq!(config.pasv_ports(), 1024..=65535);
        assert_eq!(
            config.to_string(),
            "anon_root=/srv/demo\nlisten_address=127.0.0.1\nlisten_port=2121\npasv_min_port=0\n\
             run_as_launching_user=YES\n"
        );
        let reread = parse_str(&config.to_string(), "demo.conf").unwrap();
        assert_eq!(
            FtpConfig {
                origin: "built-in demo".to_string(),
                ..reread
            },
            config
        );
    }

    #[test]
    fn parse_file_names_an_unreadable_file() {
        let missing = data_file("no-such.conf");
        assert_eq!(
            parse_file(&missing).unwrap_err().to_string(),
            format!(
                "cannot read {}: No such file or directory (os error 2)",
                missing.display()
            )
        );
        let dir = crate::test_dirs::TempDir::new("vsftpd-conf");
        let path = dir.write("vsftpd.conf", b"# caf\xe9\nmax_clients=5\nbogus=1\n");
        let result = parse_file(&path);
        assert_eq!(
            result.unwrap_err().to_string(),
            format!(
                "{}:3: bogus: unknown option; ringd reads vsftpd.conf options (see \
                 docs/ftp-config.md)",
                path.display()
            )
        );
        assert_eq!(
            parse_file(Path::new("/dev/zero")).unwrap_err().to_string(),
            "/dev/zero is a character device; --ftp-conf must name a regular file of at most \
             100000 bytes"
        );
    }

    fn load(name: &str) -> FtpConfig {
        let path = data_file(name);
        match parse_file(&path) {
            Ok(config) => {
                assert_eq!(config.origin, path.display().to_string());
                config
            }
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn the_seed_courses_stock_file_loads() {
        let c = load("seed-stock.conf");
        assert!(c.anonymous_enable && c.local_enable && c.write_enable);
        assert_eq!(c.local_umask, 0o022);
        assert!(c.dirmessage_enable && c.xferlog_enable && c.xferlog_std_format);
        assert!(c.connect_from_port_20);
        assert!(!c.listen && c.listen_ipv6);
        assert!(c.userlist_enable && c.userlist_deny && c.tcp_wrappers);
        assert_eq!(notes(&c), Vec::<String>::new());
        assert_eq!(c.pam_service_name, "vsftpd");
    }

    #[test]
    fn the_seed_courses_exercises_load() {
        let c = load("seed-ex1-banner-file.conf");
        assert_eq!(
            c.banner_file.as_deref(),
            Some(Path::new("/etc/vsftpd/banner.txt"))
        );
        let c = load("seed-ex2-ftpd-banner.conf");
        assert_eq!(
            c.ftpd_banner.as_deref(),
            Some("Welcome to blah FTP service. SOLDESK")
        );
        let c = load("seed-ex3-chroot.conf");
        assert!(c.chroot_local_user && c.allow_writeable_chroot);
        let c = load("seed-ex4-userlist-deny-no.conf");
        assert!(c.userlist_enable && !c.userlist_deny);
        let c = load("seed-ex5-anonymous-mkdir.conf");
        assert!(c.anonymous_enable && c.anon_mkdir_write_enable && c.write_enable);
        let c = load("seed-ex6-listen-port.conf");
        assert_eq!(c.listen_port, 2121);
        let c = load("seed-ex7-max-clients.conf");
        assert_eq!(c.max_clients, 3);
        let c = load("seed-ex8-max-per-ip.conf");
        assert_eq!((c.max_clients, c.max_per_ip), (100, 3));
        let c = load("seed-ex9-anon-upload.conf");
        assert!(c.anon_upload_enable && c.chown_uploads);
        assert_eq!(c.chown_username, "ftpupload");
        let c = load("seed-security-limits.conf");
        assert_eq!((c.max_clients, c.max_per_ip), (200, 2));
        assert!(c.userlist_deny);
    }

    #[test]
    fn the_seed_stock_file_with_every_example_uncommented_loads() {
        let c = load("seed-stock-all-uncommented.conf");
        assert!(c.anon_upload_enable && c.anon_mkdir_write_enable && c.chown_uploads);
        assert_eq!(c.chown_username, "whoever");
        assert_eq!(c.idle_session_timeout, 600);
        assert_eq!(c.data_connection_timeout, 120);
        assert!(c.async_abor_enable && c.ascii_upload_enable && c.ascii_download_enable);
        assert!(c.deny_email_enable && c.ls_recurse_enable);
        assert_eq!(c.banned_email_file, Path::new("/etc/vsftpd/banned_emails"));
        assert!(c.chroot_local_user && c.chroot_list_enable);
        assert_eq!(c.chroot_list_file, Path::new("/etc/vsftpd/chroot_list"));
        assert_eq!(
            c.ftpd_banner.as_deref(),
            Some("Welcome to blah FTP service.")
        );
        assert!(c.notes.is_empty(), "{:?}", c.notes);
        assert_eq!(c.nopriv_user, "ftpsecure");
    }

    #[test]
    fn debians_stock_file_loads() {
        let c = load("debian-stock.conf");
        assert!(!c.listen && c.listen_ipv6);
        assert!(!c.anonymous_enable && c.local_enable);
        assert!(c.dirmessage_enable && c.use_localtime && c.xferlog_enable);
        assert!(c.connect_from_port_20);
        let noted: Vec<&str> = c.notes.iter().map(|n| n.option.as_str()).collect();
        assert_eq!(
            noted,
            [
                "secure_chroot_dir",
                "rsa_cert_file",
                "rsa_private_key_file",
                "ssl_enable"
            ]
        );
        let c = load("debian-stock-all-uncommented.conf");
        assert!(c.write_enable && c.utf8_filesystem && c.chroot_list_enable);
        assert_eq!(c.local_umask, 0o022);
        assert_eq!(c.xferlog_file, Path::new("/var/log/vsftpd.log"));
        assert_eq!(c.chroot_list_file, Path::new("/etc/vsftpd.chroot_list"));
    }
}
