//! chrony.conf reader for the NTP server: the directives ringd acts on, those it defers, includes.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::chrony_auth::{self, AuthSettings};
use super::chrony_logs::{self, LogSettings};
use super::chrony_upstream::{self, UpstreamConfig};
use super::error::{ConfigError, LineError};
use super::source_file::{self, Expected, NO_ORIGINAL_LIMIT};
use crate::ntp::access::{AccessTable, Subnet};

const DEFAULT_PORT: u16 = 123;
const DEFAULT_CLIENT_LOG_LIMIT: u64 = 524_288;
/// chronyd refuses files nested deeper than this, the main file included (MAX_INCLUDE_LEVEL).
const MAX_INCLUDE_DEPTH: usize = 10;
/// chronyd takes at most this many directories in one `confdir` (MAX_CONF_DIRS).
const MAX_CONFDIR_DIRECTORIES: usize = 10;
/// chronyd reads its files line by line without a size limit: see NO_ORIGINAL_LIMIT.
const MAIN_FILE: Expected = Expected::named_by("--ntp-conf", NO_ORIGINAL_LIMIT);
const INCLUDED_FILE: Expected = Expected::named_by("include", NO_ORIGINAL_LIMIT);
const CONFDIR_FILE: Expected =
    Expected::described("each *.conf file of a confdir", NO_ORIGINAL_LIMIT);
const SOURCES_FILE: Expected =
    Expected::described("each *.sources file of a sourcedir", NO_ORIGINAL_LIMIT);
/// The longest word an error quotes as a directive name: chrony's longest name has 18
/// characters (`generatecommandkey`), so a typo fits; keys and tokens are mostly longer.
const MAX_QUOTED_NAME: usize = 20;
const DEMO_ORIGIN: &str = "built-in demo";
const DEMO_PORT: u16 = 1123;

/// chronyd 4.3's directives (conf.c) that ringd accepts without acting on them: its command
/// port, hardware and reference clocks, RTC and clock-control tuning. Each is
/// accepted with one warning and listed by `--check`; their arguments are not checked.
const NOT_ACTED_ON_DIRECTIVES: &[&str] = &[
    "acquisitionport",
    "authselectmode",
    "bindacqaddress",
    "bindacqdevice",
    "bindcmdaddress",
    "bindcmddevice",
    "binddevice",
    "broadcast",
    "clockprecision",
    "cmdallow",
    "cmddeny",
    "cmdport",
    "cmdratelimit",
    "combinelimit",
    "commandkey",
    "corrtimeratio",
    "dscp",
    "dumpdir",
    "dumponexit",
    "fallbackdrift",
    "generatecommandkey",
    "hwclockfile",
    "hwtimestamp",
    "initstepslew",
    "leapsecmode",
    "linux_freq_scale",
    "linux_hz",
    "lock_all",
    "logchange",
    "mailonchange",
    "manual",
    "maxchange",
    "maxclockerror",
    "maxdrift",
    "maxjitter",
    "maxsamples",
    "maxslewrate",
    "maxupdateskew",
    "minsamples",
    "nocerttimecheck",
    "ntpsigndsocket",
    "ntscachedir",
    "ntsratelimit",
    "peer",
    "pidfile",
    "ptpport",
    "refclock",
    "reselectdist",
    "rtcautotrim",
    "rtcdevice",
    "rtcfile",
    "rtconutc",
    "sched_priority",
    "smoothtime",
    "stratumweight",
    "tempcomp",
];

/// Directives of chrony 4.4 and later, which chronyd 4.3 refuses as invalid: refused with a
/// fix rather than as typos.
const LATER_CHRONY_DIRECTIVES: &[&str] = &[
    "hwtstimeout",
    "maxtxbuffers",
    "ntsaeads",
    "opencommands",
    "ptpdomain",
    "refresh",
];

/// The NTP server's settings read from a chrony.conf.
#[derive(Debug, Clone)]
pub struct NtpConfig {
    /// The file the settings came from, or "built-in demo".
    pub origin: String,
    /// UDP port to serve on (chrony's default 123). Unlike chrony, where 0 disables the
    /// server, 0 asks for an ephemeral port that ringd reports at start-up.
    pub port: u16,
    /// Local addresses to serve on, from every `bindaddress`; 0.0.0.0 and :: when none.
    pub bind_addresses: Vec<IpAddr>,
    /// Which clients are answered, from `allow` and `deny`.
    pub access: AccessTable,
    /// The `local` reference, if configured.
    pub local: Option<LocalStratum>,
    /// Response rate limiting, only when a `ratelimit` directive is present.
    pub ratelimit: Option<RateLimitSettings>,
    /// Memory for per-client state in bytes, from `clientloglimit` (default 524288).
    pub client_log_limit: u64,
    /// `noclientlog`: keep no per-client state.
    pub no_client_log: bool,
    /// `bindcmdaddress /PATH`: the control socket ringctl talks to (`/`: none).
    pub control_socket: Option<PathBuf>,
    /// The client side: upstream sources and how the clock follows them.
    pub upstream: UpstreamConfig,
    /// `log`, `logdir`, `logbanner`: chrony's log files of the sync engine.
    pub logs: LogSettings,
    /// `user`: the user an NTP-only ringd runs as once its ports are bound.
    pub user: Option<String>,
    /// `keyfile` and the NTS server.
    pub auth: AuthSettings,
    /// Directives recognised but not acted on yet, in file order.
    pub deferred: Vec<DeferredDirective>,
    /// Values accepted with a warning (options not acted on, values clamped), in file order.
    pub warnings: Vec<ConfigWarning>,
}

/// A line accepted with a warning: `file:line: directive: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub file: String,
    pub line: usize,
    pub directive: String,
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.directive, self.message
        )
    }
}

/// The `local` directive: serve time at this stratum even when not synchronised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalStratum {
    pub stratum: u8,
    pub orphan: bool,
    /// Root distance in seconds above which the local reference takes over.
    pub distance: f64,
}

impl Default for LocalStratum {
    /// chrony's defaults for a bare `local`.
    fn default() -> Self {
        LocalStratum {
            stratum: 10,
            orphan: false,
            distance: 1.0,
        }
    }
}

/// The `ratelimit` directive. `interval` and `leak` are log2 values, as in chrony. Every value
/// lies in the range chronyd actually applies (interval -19..12, burst 1..255, leak 1..4):
/// where chronyd clamps a value, ringd clamps it too, with a warning. `kod` is ringd's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    pub interval: i32,
    pub burst: i32,
    pub leak: i32,
    pub kod: i32,
}

impl Default for RateLimitSettings {
    /// chrony's defaults for a bare `ratelimit`.
    fn default() -> Self {
        RateLimitSettings {
            interval: 3,
            burst: 8,
            leak: 2,
            kod: 0,
        }
    }
}

/// A directive that was recognised but is not acted on yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeferredDirective {
    pub file: String,
    pub line: usize,
    /// The directive name in lower case, e.g. `pool`.
    pub name: String,
    /// The whole line with its white space collapsed, e.g. `pool 2.debian.pool.ntp.org iburst`.
    pub text: String,
}

/// Read a chrony.conf and the files it includes.
pub fn parse_file(path: &Path) -> Result<NtpConfig, ConfigError> {
    let file = path.display().to_string();
    let text = source_file::read_text(path, MAIN_FILE)?;
    Parser::new(&file).parse(&text, &file)
}

/// Read chrony.conf text; `origin` names it in errors. Relative `include` and `confdir` paths
/// are relative to the current directory, as for chronyd.
pub fn parse_str(text: &str, origin: &str) -> Result<NtpConfig, ConfigError> {
    Parser::new(origin).parse(text, origin)
}

/// The built-in demo: `port 1123`, `bindaddress 127.0.0.1`, `local stratum 10`,
/// `allow 127.0.0.0/8`.
pub fn demo() -> NtpConfig {
    let mut config = NtpConfig::with_defaults(DEMO_ORIGIN);
    config.port = DEMO_PORT;
    config.bind_addresses = vec![Ipv4Addr::LOCALHOST.into()];
    config.access.set(
        Subnet {
            addr: Ipv4Addr::new(127, 0, 0, 0).into(),
            prefix_len: 8,
        },
        true,
        false,
    );
    config.local = Some(LocalStratum::default());
    config
}

impl NtpConfig {
    fn with_defaults(origin: &str) -> Self {
        NtpConfig {
            origin: origin.to_string(),
            port: DEFAULT_PORT,
            bind_addresses: Vec::new(),
            access: AccessTable::new(),
            local: None,
            ratelimit: None,
            client_log_limit: DEFAULT_CLIENT_LOG_LIMIT,
            no_client_log: false,
            control_socket: None,
            upstream: UpstreamConfig::default(),
            logs: LogSettings::default(),
            user: None,
            auth: AuthSettings::default(),
            deferred: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The start-up log's warnings: one line per directive not acted on, per value clamped or
    /// option not acted on, and what is served without upstream sources.
    pub fn start_up_warnings(&self) -> Vec<String> {
        let deferred = self.deferred.iter().map(|d| {
            format!(
                "{}:{}: {}: accepted, not acted on by ringd",
                d.file, d.line, d.name
            )
        });
        let warnings = self.warnings.iter().map(ConfigWarning::to_string);
        let note = self
            .upstream_note()
            .filter(|_| self.upstream.sources.is_empty());
        deferred.chain(warnings).chain(note).collect()
    }

    /// What the start-up log should say about directives ringd does not act on yet and, when
    /// no `server` or `pool` line is given, what it serves instead; `None` when nothing needs
    /// saying.
    pub fn upstream_note(&self) -> Option<String> {
        if self.deferred.is_empty() {
            return None;
        }
        if !self.upstream.sources.is_empty() {
            let names: Vec<&str> = self.deferred.iter().map(|d| d.name.as_str()).collect();
            return Some(format!(
                "recognised but not acted on yet: {}",
                names.join(", ")
            ));
        }
        let served = match self.local {
            Some(local) => format!("the system clock at local stratum {}", local.stratum),
            None => "the kernel's clock state (adjtimex, read-only) as set by the daemon that \
                     disciplines it"
                .to_string(),
        };
        Some(format!(
            "no `server` or `pool` line: ringd does not synchronise upstream and serves {served}"
        ))
    }
}

/// The effective settings as `ringd --check` prints them: chrony directives, one per line, then
/// one line per deferred directive.
impl fmt::Display for NtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "port {}", self.port)?;
        if self.port == 0 {
            writeln!(
                f,
                "# port 0: ringd serves on an ephemeral port and reports it at start-up"
            )?;
        }
        for addr in &self.bind_addresses {
            writeln!(f, "bindaddress {addr}")?;
        }
        let mut any_rule = false;
        for (subnet, allow) in self.access.rules() {
            any_rule = true;
            writeln!(f, "{} {subnet}", if allow { "allow" } else { "deny" })?;
        }
        if !any_rule {
            writeln!(
                f,
                "# no allow directive: the NTP port is not opened (as chronyd)"
            )?;
        }
        if let Some(user) = &self.user {
            writeln!(f, "user {user}")?;
        }
        if let Some(local) = self.local {
            write!(f, "local stratum {}", local.stratum)?;
            if local.orphan {
                write!(f, " orphan")?;
            }
            writeln!(f, " distance {}", local.distance)?;
        }
        if let Some(limit) = self.ratelimit {
            writeln!(
                f,
                "ratelimit interval {} burst {} leak {} kod {}",
                limit.interval, limit.burst, limit.leak, limit.kod
            )?;
        }
        if self.no_client_log {
            writeln!(f, "noclientlog")?;
        } else {
            writeln!(f, "clientloglimit {}", self.client_log_limit)?;
        }
        if let Some(path) = &self.control_socket {
            writeln!(f, "bindcmdaddress {}", path.display())?;
        }
        write!(f, "{}", self.upstream)?;
        write!(f, "{}", self.logs)?;
        write!(f, "{}", self.auth)?;
        if let Some(note) = self.upstream_note() {
            writeln!(f, "# recognised, not acted on yet:")?;
            for directive in &self.deferred {
                writeln!(
                    f,
                    "#   {}:{}: {}",
                    directive.file, directive.line, directive.name
                )?;
            }
            writeln!(f, "# {note}")?;
        }
        if !self.warnings.is_empty() {
            writeln!(f, "# accepted with a warning:")?;
            for warning in &self.warnings {
                writeln!(f, "#   {warning}")?;
            }
        }
        Ok(())
    }
}

/// One non-comment line: where it is, for error messages, and its words.
pub(super) struct Directive<'a> {
    pub(super) file: &'a str,
    pub(super) line: usize,
    pub(super) name: &'a str,
    pub(super) args: Vec<&'a str>,
}

impl Directive<'_> {
    pub(super) fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_string(),
            line: self.line,
            directive: self.name.to_string(),
            message: message.into(),
        }
    }

    pub(super) fn expected(&self, what: &str, found: Option<&str>) -> ConfigError {
        match found {
            Some(found) => self.error(format!("expected {what}, found `{found}`")),
            None => self.error(format!("expected {what}, found nothing")),
        }
    }

    /// The only argument, parsed; `what` describes it for the error.
    pub(super) fn single<T: FromStr>(&self, what: &str) -> Result<T, ConfigError> {
        match self.args[..] {
            [arg] => arg.parse().map_err(|_| self.expected(what, Some(arg))),
            [] => Err(self.expected(what, None)),
            [_, extra, ..] => Err(self.error(format!(
                "expected only {what}, found another argument `{extra}`"
            ))),
        }
    }

    pub(super) fn no_arguments(&self) -> Result<(), ConfigError> {
        match self.args.first() {
            Some(extra) => Err(self.error(format!("takes no arguments, found `{extra}`"))),
            None => Ok(()),
        }
    }
}

mod addresses;
mod includes;
mod parser;
mod values;

use addresses::*;
use includes::*;
use parser::*;
use values::*;

#[cfg(test)]
mod tests;
