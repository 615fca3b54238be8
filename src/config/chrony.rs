//! chrony.conf reader for the NTP server: the directives ringd acts on, those it defers, includes.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::str::FromStr;

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
/// The longest word an error quotes as a directive name: chrony's longest name has 18
/// characters (`generatecommandkey`), so a typo fits; keys and tokens are mostly longer.
const MAX_QUOTED_NAME: usize = 20;
const DEMO_ORIGIN: &str = "built-in demo";
const DEMO_PORT: u16 = 1123;

/// Directives of chrony's client side and of chronyd's housekeeping that stock files carry
/// (Debian's and Rocky's included): accepted and listed, not acted on yet.
const DEFERRED_DIRECTIVES: &[&str] = &[
    "authselectmode",
    "bindcmdaddress",
    "cmdallow",
    "cmddeny",
    "cmdport",
    "dumpdir",
    "hwclockfile",
    "hwtimestamp",
    "keyfile",
    "lock_all",
    "log",
    "logdir",
    "maxupdateskew",
    "ntsdumpdir",
    "peer",
    "rtconutc",
    "sched_priority",
    "sourcedir",
];

/// The rest of chronyd's directives (conf.c), so that they are reported as unsupported rather
/// than as typos.
const UNSUPPORTED_CHRONY_DIRECTIVES: &[&str] = &[
    "acquisitionport",
    "bindacqaddress",
    "bindacqdevice",
    "bindcmddevice",
    "binddevice",
    "broadcast",
    "clockprecision",
    "cmdratelimit",
    "combinelimit",
    "commandkey",
    "corrtimeratio",
    "dscp",
    "dumponexit",
    "fallbackdrift",
    "generatecommandkey",
    "hwtstimeout",
    "initstepslew",
    "leapseclist",
    "leapsecmode",
    "linux_freq_scale",
    "linux_hz",
    "logbanner",
    "logchange",
    "mailonchange",
    "manual",
    "maxchange",
    "maxclockerror",
    "maxdistance",
    "maxdrift",
    "maxjitter",
    "maxntsconnections",
    "maxsamples",
    "maxslewrate",
    "maxstratum",
    "maxtxbuffers",
    "minsamples",
    "minstratum",
    "nocerttimecheck",
    "nosystemcert",
    "ntpsigndsocket",
    "ntsaeads",
    "ntscachedir",
    "ntsntpserver",
    "ntsport",
    "ntsprocesses",
    "ntsratelimit",
    "ntsrefresh",
    "ntsrotate",
    "ntsservercert",
    "ntsserverkey",
    "ntstrustedcerts",
    "opencommands",
    "pidfile",
    "ptpdomain",
    "ptpport",
    "refclock",
    "refresh",
    "reselectdist",
    "rtcautotrim",
    "rtcdevice",
    "rtcfile",
    "smoothtime",
    "stratumweight",
    "tempcomp",
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
    /// `user`: the user an NTP-only ringd runs as once its ports are bound.
    pub user: Option<String>,
    /// Directives recognised but not acted on yet, in file order.
    pub deferred: Vec<DeferredDirective>,
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
/// lies in the range chronyd actually applies (interval -19..12, burst 1..32, leak 1..4,
/// kod 0..4): where chronyd would silently clamp a value, ringd refuses the line instead.
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
            user: None,
            deferred: Vec::new(),
        }
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
            writeln!(f, "# no allow directive: every NTP client is refused")?;
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
        Ok(())
    }
}

/// Settings under construction while the main file and its includes are read.
struct Parser {
    config: NtpConfig,
    /// Where the last `ratelimit` and `noclientlog` were: chronyd refuses the pair only once
    /// the whole file is read, so the check runs at the end.
    ratelimit_at: Option<(String, usize)>,
    noclientlog_at: Option<(String, usize)>,
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

impl Parser {
    fn new(origin: &str) -> Self {
        Parser {
            config: NtpConfig::with_defaults(origin),
            ratelimit_at: None,
            noclientlog_at: None,
        }
    }

    fn parse(mut self, text: &str, file: &str) -> Result<NtpConfig, ConfigError> {
        self.read_lines(text, file, 1)?;
        self.finish()
    }

    fn read_lines(&mut self, text: &str, file: &str, depth: usize) -> Result<(), ConfigError> {
        for (index, line) in text.lines().enumerate() {
            let mut words = line.split_whitespace();
            let Some(name) = words.next() else {
                continue;
            };
            // As chrony: a comment is a line whose first non-blank character is one of these.
            if name.starts_with(['#', '!', ';', '%']) {
                continue;
            }
            let directive = Directive {
                file,
                line: index + 1,
                name,
                args: words.collect(),
            };
            self.apply(&directive, depth)?;
        }
        Ok(())
    }

    fn apply(&mut self, d: &Directive, depth: usize) -> Result<(), ConfigError> {
        let name = d.name.to_ascii_lowercase();
        match name.as_str() {
            "port" => self.config.port = d.single("a port number 0..65535")?,
            "bindaddress" => {
                let addr: IpAddr = d.single("an IPv4 or IPv6 address (not a host name)")?;
                if !self.config.bind_addresses.contains(&addr) {
                    self.config.bind_addresses.push(addr);
                }
            }
            "allow" | "deny" => {
                let (all, subnets) = parse_allow_deny(d)?;
                for subnet in subnets {
                    self.config.access.set(subnet, name == "allow", all);
                }
            }
            "local" => self.config.local = Some(parse_local(d)?),
            "ratelimit" => {
                // Like chronyd, a later `ratelimit` changes only the options it names.
                let current = self.config.ratelimit.unwrap_or_default();
                self.config.ratelimit = Some(parse_ratelimit(d, current)?);
                self.ratelimit_at = Some((d.file.to_string(), d.line));
            }
            "clientloglimit" => self.config.client_log_limit = d.single("a size in bytes")?,
            "user" => self.config.user = Some(d.single("a user name")?),
            "noclientlog" => {
                d.no_arguments()?;
                self.config.no_client_log = true;
                self.noclientlog_at = Some((d.file.to_string(), d.line));
            }
            // A path is chronyd's Unix command socket, ringd's control socket; an address
            // (chronyd's UDP command port, which ringd lacks) stays deferred below.
            "bindcmdaddress" if d.args.first().is_some_and(|arg| arg.starts_with('/')) => {
                self.config.control_socket = Some(d.single("a socket path")?);
            }
            "include" => {
                let pattern: String =
                    d.single("a file name or a pattern with `*` in the file name")?;
                let paths = expand_include_pattern(&pattern).map_err(|message| d.error(message))?;
                for path in paths {
                    self.read_included(d, &path, INCLUDED_FILE, depth)?;
                }
            }
            "confdir" => {
                for path in confdir_files(d)? {
                    self.read_included(d, &path, CONFDIR_FILE, depth)?;
                }
            }
            _ if chrony_upstream::DIRECTIVES.contains(&name.as_str()) => {
                chrony_upstream::apply(&mut self.config.upstream, &name, d)?;
            }
            _ if DEFERRED_DIRECTIVES.contains(&name.as_str()) => {
                let text = [&[d.name][..], &d.args].concat().join(" ");
                self.config.deferred.push(DeferredDirective {
                    file: d.file.to_string(),
                    line: d.line,
                    name,
                    text,
                });
            }
            _ if UNSUPPORTED_CHRONY_DIRECTIVES.contains(&name.as_str()) => {
                return Err(d.error(
                    "chrony directive that ringd does not support; remove it or comment it out \
                     (see docs/ntp-config.md)",
                ));
            }
            _ if super::error::quotable_name(d.name, MAX_QUOTED_NAME) => {
                return Err(d.error(
                    "unknown directive; ringd reads chrony.conf directives \
                     (see docs/ntp-config.md)",
                ));
            }
            _ => {
                return Err(ConfigError::Unquoted(LineError {
                    file: d.file.into(),
                    line: d.line,
                    message: "not a chrony configuration line (contents not shown)".to_string(),
                }));
            }
        }
        Ok(())
    }

    fn read_included(
        &mut self,
        d: &Directive,
        path: &Path,
        expected: Expected,
        depth: usize,
    ) -> Result<(), ConfigError> {
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(d.error(format!(
                "cannot include {}: files nest more than {MAX_INCLUDE_DEPTH} deep \
                 (does a file include itself?)",
                path.display()
            )));
        }
        let text =
            source_file::read_text(path, expected).map_err(|err| d.error(err.to_string()))?;
        self.read_lines(&text, &path.display().to_string(), depth + 1)
    }

    fn finish(mut self) -> Result<NtpConfig, ConfigError> {
        if let (Some((file, line)), Some((other_file, other_line))) =
            (self.ratelimit_at, self.noclientlog_at)
        {
            return Err(ConfigError::Invalid {
                file,
                line,
                directive: "ratelimit".to_string(),
                message: format!(
                    "Rate limiting cannot be enabled with noclientlog (at {other_file}:{other_line}); \
                     remove one of the two"
                ),
            });
        }
        if self.config.bind_addresses.is_empty() {
            self.config.bind_addresses =
                vec![Ipv4Addr::UNSPECIFIED.into(), Ipv6Addr::UNSPECIFIED.into()];
        }
        Ok(self.config)
    }
}

/// `allow`/`deny` `[all] [SUBNET]`: whether `all` was given, and the subnets to set (both
/// families when no subnet is given).
fn parse_allow_deny(d: &Directive) -> Result<(bool, Vec<Subnet>), ConfigError> {
    // chronyd compares `all` case-sensitively.
    let all = d.args.first() == Some(&"all");
    let rest = if all { &d.args[1..] } else { &d.args[..] };
    match rest {
        [] => Ok((all, vec![Subnet::any_v4(), Subnet::any_v6()])),
        [spec] => Ok((all, vec![parse_subnet(d, spec)?])),
        [_, extra, ..] => Err(d.error(format!(
            "expected [all] [ADDRESS[/PREFIX] | NETWORK | HOSTNAME], found another argument \
             `{extra}`"
        ))),
    }
}

/// One subnet in chrony's forms: an address with an optional /PREFIX, a shortened IPv4
/// network (`1.2.3`, `1.2`, `1` for /24, /16, /8), or a host name resolved now.
fn parse_subnet(d: &Directive, spec: &str) -> Result<Subnet, ConfigError> {
    let (network, prefix_len) = match spec.split_once('/') {
        Some((network, prefix)) => {
            let prefix_len: u8 = prefix.parse().map_err(|_| {
                d.error(format!(
                    "expected a prefix length after `/` in `{spec}`, found `{prefix}`"
                ))
            })?;
            (network, Some(prefix_len))
        }
        None => (spec, None),
    };

    let (addr, default_len) = if let Ok(addr) = network.parse::<IpAddr>() {
        let width = if addr.is_ipv4() { 32 } else { 128 };
        (addr, width)
    } else if let Some((addr, implied_len)) = parse_shortened_ipv4(d, network)? {
        (IpAddr::V4(addr), implied_len)
    } else if prefix_len.is_none() {
        return resolve_host(d, network).map(Subnet::host);
    } else {
        return Err(d.error(format!(
            "`{spec}` is neither ADDRESS/PREFIX nor a shortened network such as 192.168/16"
        )));
    };

    let len = prefix_len.unwrap_or(default_len);
    Subnet::new(addr, len).ok_or_else(|| {
        let (family, width) = if addr.is_ipv4() {
            ("IPv4", 32)
        } else {
            ("IPv6", 128)
        };
        d.error(format!(
            "prefix length /{len} in `{spec}` is too long for an {family} address (at most /{width})"
        ))
    })
}

/// chrony's shortened IPv4 network: one to three decimal numbers, the prefix length being 8 for
/// each (not inet_aton's forms, where `1.2` would mean 1.0.0.2).
fn parse_shortened_ipv4(d: &Directive, text: &str) -> Result<Option<(Ipv4Addr, u8)>, ConfigError> {
    let parts: Vec<&str> = text.split('.').collect();
    let decimal = |part: &&str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if parts.len() > 3 || !parts.iter().all(decimal) {
        return Ok(None);
    }
    let mut octets = [0u8; 4];
    for (octet, part) in octets.iter_mut().zip(&parts) {
        *octet = part.parse().map_err(|_| {
            d.error(format!(
                "`{text}`: each number of a shortened network must be 0..255"
            ))
        })?;
    }
    let implied_len = 8 * parts.len() as u8;
    Ok(Some((Ipv4Addr::from(octets), implied_len)))
}

/// The first address the system resolver gives for `name`, as chronyd takes it.
fn resolve_host(d: &Directive, name: &str) -> Result<IpAddr, ConfigError> {
    let unresolved = |reason: String| {
        d.error(format!(
            "cannot resolve host name `{name}` ({reason}); use an address or a subnet, \
             or make the name resolvable when ringd starts"
        ))
    };
    let mut addrs = (name, 0)
        .to_socket_addrs()
        .map_err(|err| unresolved(err.to_string()))?;
    addrs
        .next()
        .map(|addr| addr.ip())
        .ok_or_else(|| unresolved("no address".to_string()))
}

/// `local [stratum N] [orphan] [distance D]`, chrony's defaults for what is left out.
fn parse_local(d: &Directive) -> Result<LocalStratum, ConfigError> {
    let mut local = LocalStratum::default();
    let mut args = d.args.iter().copied();
    while let Some(option) = args.next() {
        match option.to_ascii_lowercase().as_str() {
            "stratum" => {
                let what = "an integer 1..15 after `stratum`";
                let value = args.next();
                local.stratum = value
                    .and_then(|v| v.parse().ok())
                    .filter(|stratum| (1..=15).contains(stratum))
                    .ok_or_else(|| d.expected(what, value))?;
            }
            "orphan" => local.orphan = true,
            "distance" => {
                let what = "a number of seconds (0 or more) after `distance`";
                let value = args.next();
                local.distance = value
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|distance| distance.is_finite() && *distance >= 0.0)
                    .ok_or_else(|| d.expected(what, value))?;
            }
            "activate" | "waitsynced" | "waitunsynced" => {
                return Err(d.error(format!(
                    "option `{option}` is not supported yet: ringd's local reference is active \
                     from start-up; remove the option"
                )));
            }
            _ => {
                return Err(d.error(format!(
                    "unknown option `{option}`; expected stratum N, orphan or distance D"
                )));
            }
        }
    }
    Ok(local)
}

/// `ratelimit [interval I] [burst B] [leak L] [kod K]` on top of `current`.
fn parse_ratelimit(
    d: &Directive,
    mut current: RateLimitSettings,
) -> Result<RateLimitSettings, ConfigError> {
    /// chronyd parses every value in this range and rejects the line otherwise.
    const PARSED: std::ops::RangeInclusive<i32> = -32..=32;
    let mut args = d.args.iter().copied();
    while let Some(option) = args.next() {
        // The ranges chronyd clamps to (clientlog.c); burst's 255 is out of reach of the parser.
        let (field, min, max) = match option.to_ascii_lowercase().as_str() {
            "interval" => (&mut current.interval, -19, 12),
            "burst" => (&mut current.burst, 1, 32),
            "leak" => (&mut current.leak, 1, 4),
            "kod" => (&mut current.kod, 0, 4),
            _ => {
                return Err(d.error(format!(
                    "unknown option `{option}`; expected interval, burst, leak or kod, \
                     each followed by an integer"
                )));
            }
        };
        let what = format!("an integer {min}..{max} after `{option}`");
        let text = args.next();
        match text
            .and_then(|t| t.parse::<i32>().ok())
            .filter(|v| PARSED.contains(v))
        {
            Some(value) if (min..=max).contains(&value) => *field = value,
            Some(value) => {
                return Err(d.error(format!(
                    "expected {what}, found `{value}` (chronyd would silently use {})",
                    value.clamp(min, max)
                )));
            }
            None => return Err(d.expected(&what, text)),
        }
    }
    Ok(current)
}

/// The files of an `include` pattern, found as chronyd's glob(3) finds them but with `*` as the
/// only wildcard, in the file name only. A name without `*` must exist (reading it reports
/// otherwise); a pattern with `*` may match nothing, but its directory must exist, as for
/// chronyd.
fn expand_include_pattern(pattern: &str) -> Result<Vec<PathBuf>, String> {
    let (dir_prefix, file_pattern) = match pattern.rfind('/') {
        Some(slash) => pattern.split_at(slash + 1),
        None => ("", pattern),
    };
    if dir_prefix.contains('*') {
        return Err(format!(
            "`*` is supported in the file name only, not in the directories of `{pattern}`"
        ));
    }
    if !file_pattern.contains('*') {
        return Ok(vec![PathBuf::from(pattern)]);
    }
    let dir = Path::new(if dir_prefix.is_empty() {
        "."
    } else {
        dir_prefix
    });
    if !dir.is_dir() {
        return Err(format!(
            "cannot search for files matching `{pattern}`: {} is not a directory",
            dir.display()
        ));
    }
    let mut matches = Vec::new();
    for name in list_dir(dir)? {
        let path = Path::new(dir_prefix).join(&name);
        if matches_file_pattern(file_pattern, &name) && !path.is_dir() {
            matches.push(path);
        }
    }
    matches.sort();
    Ok(matches)
}

/// The `*.conf` files of `confdir DIR...`, ordered by file name; where several directories
/// hold the same name, the one listed first wins. Missing directories add nothing, as for chronyd.
fn confdir_files(d: &Directive) -> Result<Vec<PathBuf>, ConfigError> {
    if d.args.is_empty() || d.args.len() > MAX_CONFDIR_DIRECTORIES {
        return Err(d.error(format!(
            "expected 1 to {MAX_CONFDIR_DIRECTORIES} directories, found {}",
            d.args.len()
        )));
    }
    let mut by_name = BTreeMap::new();
    for dir in d.args.iter().map(Path::new).filter(|dir| dir.is_dir()) {
        for name in list_dir(dir).map_err(|message| d.error(message))? {
            let path = dir.join(&name);
            if matches_file_pattern("*.conf", &name) && !path.is_dir() {
                by_name.entry(name).or_insert(path);
            }
        }
    }
    Ok(by_name.into_values().collect())
}

fn list_dir(dir: &Path) -> Result<Vec<std::ffi::OsString>, String> {
    let cannot_list = |err: std::io::Error| format!("cannot list {}: {err}", dir.display());
    fs::read_dir(dir)
        .map_err(cannot_list)?
        .map(|entry| entry.map(|entry| entry.file_name()).map_err(cannot_list))
        .collect()
}

/// glob(3)'s `*` and `?` for one file name, where a leading dot is matched only by a
/// pattern that starts with one.
fn matches_file_pattern(pattern: &str, name: &OsStr) -> bool {
    let (pattern, name) = (pattern.as_bytes(), name.as_encoded_bytes());
    if name.first() == Some(&b'.') && pattern.first() != Some(&b'.') {
        return false;
    }
    crate::wildcard::matches(pattern, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dirs::TempDir;

    fn parse(text: &str) -> NtpConfig {
        parse_str(text, "test.conf").unwrap()
    }

    fn error(text: &str) -> String {
        parse_str(text, "test.conf").unwrap_err().to_string()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn data_file(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/chrony")
            .join(name)
    }

    /// A path as chrony.conf text and ringd's messages show it.
    fn shown(path: PathBuf) -> String {
        path.display().to_string()
    }

    #[test]
    fn user_names_who_an_ntp_only_ringd_becomes() {
        let config = parse("user _chrony\n");
        assert_eq!(config.user.as_deref(), Some("_chrony"));
        assert!(config.to_string().contains("user _chrony\n"));
        assert_eq!(parse("").user, None);
    }

    #[test]
    fn empty_file_gives_chrony_defaults() {
        let config = parse("");
        assert_eq!(config.origin, "test.conf");
        assert_eq!(config.port, 123);
        assert_eq!(config.bind_addresses, [ip("0.0.0.0"), ip("::")]);
        assert_eq!(config.local, None);
        assert_eq!(config.ratelimit, None);
        assert_eq!(config.client_log_limit, 524_288);
        assert!(!config.no_client_log);
        assert!(config.deferred.is_empty());
        assert!(!config.access.is_allowed(ip("127.0.0.1")));
        assert!(!config.access.is_allowed(ip("::1")));
        assert_eq!(config.upstream_note(), None);
    }

    #[test]
    fn comments_blank_lines_white_space_and_case() {
        let config = parse(
            "# hash\n! bang\n; semicolon\n% percent\n   # indented\n\n \t \n\
             PORT\t1234\r\n  BindAddress   127.0.0.1  \nAllow 10/8\n",
        );
        assert_eq!(config.port, 1234);
        assert_eq!(config.bind_addresses, [ip("127.0.0.1")]);
        assert!(config.access.is_allowed(ip("10.1.2.3")));
        // As in chrony, `#` starts a comment only at the beginning of a line.
        assert_eq!(
            error("port 1 # trailing"),
            "test.conf:1: port: expected only a port number 0..65535, found another argument `#`"
        );
    }

    #[test]
    fn port() {
        assert_eq!(parse("port 0").port, 0);
        assert_eq!(parse("port 123\nport 65535").port, 65535);
        assert_eq!(
            error("port 65536"),
            "test.conf:1: port: expected a port number 0..65535, found `65536`"
        );
        assert_eq!(
            error("port"),
            "test.conf:1: port: expected a port number 0..65535, found nothing"
        );
        assert_eq!(
            error("\nport http"),
            "test.conf:2: port: expected a port number 0..65535, found `http`"
        );
    }

    #[test]
    fn bindaddress_is_repeatable_for_both_families() {
        let config = parse(
            "bindaddress 192.0.2.1\nbindaddress 2001:db8::1\nbindaddress 192.0.2.1\n\
             bindaddress 198.51.100.1",
        );
        assert_eq!(
            config.bind_addresses,
            [ip("192.0.2.1"), ip("2001:db8::1"), ip("198.51.100.1")]
        );
        assert_eq!(
            error("bindaddress localhost"),
            "test.conf:1: bindaddress: expected an IPv4 or IPv6 address (not a host name), \
             found `localhost`"
        );
        assert_eq!(
            error("bindaddress"),
            "test.conf:1: bindaddress: expected an IPv4 or IPv6 address (not a host name), \
             found nothing"
        );
    }

    #[test]
    fn allow_and_deny_forms() {
        let config = parse(
            "allow 192.0.2.1\nallow 198.51.100.0/24\nallow 203.0\nallow 10\nallow 172.16.5\n\
             allow 100.64/10\nallow 2001:db8::/32\ndeny 2001:db8:1::/48\ndeny 10.9.9.9\n",
        );
        let access = &config.access;
        assert!(access.is_allowed(ip("192.0.2.1")));
        assert!(!access.is_allowed(ip("192.0.2.2")));
        assert!(access.is_allowed(ip("198.51.100.200")));
        assert!(access.is_allowed(ip("203.0.200.1")));
        assert!(!access.is_allowed(ip("203.1.0.1")));
        assert!(access.is_allowed(ip("10.200.0.1")));
        assert!(!access.is_allowed(ip("10.9.9.9")));
        assert!(access.is_allowed(ip("172.16.5.9")));
        assert!(!access.is_allowed(ip("172.16.6.9")));
        assert!(access.is_allowed(ip("100.127.0.1")));
        assert!(!access.is_allowed(ip("100.128.0.1")));
        assert!(access.is_allowed(ip("2001:db8:2::1")));
        assert!(!access.is_allowed(ip("2001:db8:1::1")));
        assert!(access.is_allowed(ip("::ffff:192.0.2.1")));
    }

    #[test]
    fn allow_without_address_and_all_forms() {
        let everything = parse("allow");
        assert!(everything.access.is_allowed(ip("192.0.2.1")));
        assert!(everything.access.is_allowed(ip("2001:db8::1")));

        let ipv4_only = parse("allow 0/0");
        assert!(ipv4_only.access.is_allowed(ip("192.0.2.1")));
        assert!(!ipv4_only.access.is_allowed(ip("2001:db8::1")));

        let override_earlier = parse("deny 10.1.1.1\nallow all 10/8");
        assert!(override_earlier.access.is_allowed(ip("10.1.1.1")));
        let kept_without_all = parse("deny 10.1.1.1\nallow 10/8");
        assert!(!kept_without_all.access.is_allowed(ip("10.1.1.1")));

        let deny_all = parse("allow 192.0.2.0/24\nallow 2001:db8::/32\ndeny all");
        assert!(!deny_all.access.is_allowed(ip("192.0.2.1")));
        assert!(!deny_all.access.is_allowed(ip("2001:db8::1")));
        assert_eq!(deny_all.access.rules().count(), 2);
    }

    #[test]
    fn allow_hostname_is_resolved_once() {
        let config = parse("allow localhost");
        let rules: Vec<_> = config.access.rules().collect();
        assert_eq!(rules.len(), 1);
        let (subnet, allow) = rules[0];
        assert!(allow && subnet.addr.is_loopback(), "{subnet}");
        assert!(config.access.is_allowed(subnet.addr));
    }

    #[test]
    fn allow_deny_errors() {
        assert_eq!(
            error("allow 300.1"),
            "test.conf:1: allow: `300.1`: each number of a shortened network must be 0..255"
        );
        assert_eq!(
            error("allow 192.0.2.0/33"),
            "test.conf:1: allow: prefix length /33 in `192.0.2.0/33` is too long for an IPv4 \
             address (at most /32)"
        );
        assert_eq!(
            error("deny 2001:db8::/129"),
            "test.conf:1: deny: prefix length /129 in `2001:db8::/129` is too long for an IPv6 \
             address (at most /128)"
        );
        assert_eq!(
            error("allow 192.0.2.0/x"),
            "test.conf:1: allow: expected a prefix length after `/` in `192.0.2.0/x`, found `x`"
        );
        assert_eq!(
            error("allow ntp.example/24"),
            "test.conf:1: allow: `ntp.example/24` is neither ADDRESS/PREFIX nor a shortened \
             network such as 192.168/16"
        );
        assert_eq!(
            error("allow 192.0.2.1 192.0.2.2"),
            "test.conf:1: allow: expected [all] [ADDRESS[/PREFIX] | NETWORK | HOSTNAME], found \
             another argument `192.0.2.2`"
        );
        assert_eq!(
            error("\ndeny all 10/8 x"),
            "test.conf:2: deny: expected [all] [ADDRESS[/PREFIX] | NETWORK | HOSTNAME], found \
             another argument `x`"
        );
        let unresolvable = error("allow no-such-host.invalid");
        assert!(
            unresolvable.starts_with(
                "test.conf:1: allow: cannot resolve host name `no-such-host.invalid` ("
            ),
            "{unresolvable}"
        );
        assert!(
            unresolvable.ends_with(
                "); use an address or a subnet, or make the name resolvable when ringd starts"
            ),
            "{unresolvable}"
        );
    }

    #[test]
    fn local() {
        assert_eq!(parse("local").local, Some(LocalStratum::default()));
        assert_eq!(
            parse("local stratum 3 orphan distance 0.5").local,
            Some(LocalStratum {
                stratum: 3,
                orphan: true,
                distance: 0.5
            })
        );
        assert_eq!(
            parse("LOCAL Stratum 15 DISTANCE 0").local,
            Some(LocalStratum {
                stratum: 15,
                orphan: false,
                distance: 0.0
            })
        );
        // A later `local` starts again from chrony's defaults.
        assert_eq!(
            parse("local stratum 5 orphan\nlocal").local,
            Some(LocalStratum::default())
        );
    }

    #[test]
    fn local_errors() {
        assert_eq!(
            error("local stratum 0"),
            "test.conf:1: local: expected an integer 1..15 after `stratum`, found `0`"
        );
        assert_eq!(
            error("local stratum 16"),
            "test.conf:1: local: expected an integer 1..15 after `stratum`, found `16`"
        );
        assert_eq!(
            error("local orphan stratum"),
            "test.conf:1: local: expected an integer 1..15 after `stratum`, found nothing"
        );
        assert_eq!(
            error("local distance -1"),
            "test.conf:1: local: expected a number of seconds (0 or more) after `distance`, \
             found `-1`"
        );
        for option in ["activate", "waitsynced", "waitunsynced"] {
            assert_eq!(
                error(&format!("local stratum 10 {option} 0.5")),
                format!(
                    "test.conf:1: local: option `{option}` is not supported yet: ringd's local \
                     reference is active from start-up; remove the option"
                )
            );
        }
        assert_eq!(
            error("local stratum 10 foo"),
            "test.conf:1: local: unknown option `foo`; expected stratum N, orphan or distance D"
        );
    }

    #[test]
    fn ratelimit() {
        assert_eq!(
            parse("ratelimit").ratelimit,
            Some(RateLimitSettings::default())
        );
        assert_eq!(
            RateLimitSettings::default(),
            RateLimitSettings {
                interval: 3,
                burst: 8,
                leak: 2,
                kod: 0
            }
        );
        assert_eq!(
            parse("ratelimit kod 2 interval -4 BURST 16").ratelimit,
            Some(RateLimitSettings {
                interval: -4,
                burst: 16,
                leak: 2,
                kod: 2
            })
        );
        // As in chronyd, a second `ratelimit` keeps what it does not name.
        assert_eq!(
            parse("ratelimit interval 1\nratelimit leak 3").ratelimit,
            Some(RateLimitSettings {
                interval: 1,
                burst: 8,
                leak: 3,
                kod: 0
            })
        );
        assert_eq!(
            parse("ratelimit interval -19 burst 1 leak 4 kod 4\nratelimit interval 12 burst 32")
                .ratelimit,
            Some(RateLimitSettings {
                interval: 12,
                burst: 32,
                leak: 4,
                kod: 4
            })
        );
    }

    #[test]
    fn ratelimit_errors() {
        assert_eq!(
            error("ratelimit interval 13"),
            "test.conf:1: ratelimit: expected an integer -19..12 after `interval`, found `13` \
             (chronyd would silently use 12)"
        );
        assert_eq!(
            error("ratelimit interval -20"),
            "test.conf:1: ratelimit: expected an integer -19..12 after `interval`, found `-20` \
             (chronyd would silently use -19)"
        );
        assert_eq!(
            error("ratelimit burst 0"),
            "test.conf:1: ratelimit: expected an integer 1..32 after `burst`, found `0` \
             (chronyd would silently use 1)"
        );
        assert_eq!(
            error("ratelimit burst 64"),
            "test.conf:1: ratelimit: expected an integer 1..32 after `burst`, found `64`"
        );
        assert_eq!(
            error("ratelimit leak 5"),
            "test.conf:1: ratelimit: expected an integer 1..4 after `leak`, found `5` \
             (chronyd would silently use 4)"
        );
        assert_eq!(
            error("ratelimit interval 1 kod"),
            "test.conf:1: ratelimit: expected an integer 0..4 after `kod`, found nothing"
        );
        assert_eq!(
            error("ratelimit rate 3"),
            "test.conf:1: ratelimit: unknown option `rate`; expected interval, burst, leak or \
             kod, each followed by an integer"
        );
    }

    #[test]
    fn client_log() {
        assert_eq!(parse("clientloglimit 1048576").client_log_limit, 1_048_576);
        assert!(parse("noclientlog").no_client_log);
        assert_eq!(
            error("clientloglimit -1"),
            "test.conf:1: clientloglimit: expected a size in bytes, found `-1`"
        );
        assert_eq!(
            error("noclientlog yes"),
            "test.conf:1: noclientlog: takes no arguments, found `yes`"
        );
    }

    #[test]
    fn bindcmdaddress_with_a_path_places_the_control_socket() {
        let config = parse("bindcmdaddress /run/chrony/chronyd.sock");
        assert_eq!(
            config.control_socket,
            Some(PathBuf::from("/run/chrony/chronyd.sock"))
        );
        assert!(config.deferred.is_empty());
        assert!(config
            .to_string()
            .contains("\nbindcmdaddress /run/chrony/chronyd.sock\n"));
        // An address is for chronyd's UDP command port, which ringd does not have.
        let address = parse("bindcmdaddress 127.0.0.1");
        assert_eq!(address.control_socket, None);
        assert_eq!(address.deferred[0].name, "bindcmdaddress");
        assert_eq!(
            error("bindcmdaddress /a /b"),
            "test.conf:1: bindcmdaddress: expected only a socket path, found another argument `/b`"
        );
    }

    #[test]
    fn ratelimit_with_noclientlog_is_refused_in_either_order() {
        assert_eq!(
            error("ratelimit\nnoclientlog"),
            "test.conf:1: ratelimit: Rate limiting cannot be enabled with noclientlog \
             (at test.conf:2); remove one of the two"
        );
        assert_eq!(
            error("noclientlog\n\nratelimit burst 4"),
            "test.conf:3: ratelimit: Rate limiting cannot be enabled with noclientlog \
             (at test.conf:1); remove one of the two"
        );
    }

    #[test]
    fn deferred_directives_are_recorded() {
        let lines = [
            "peer 192.0.2.9",
            "keyfile /etc/chrony.keys",
            "logdir /var/log/chrony",
            "log measurements statistics tracking",
            "cmdport 0",
            "hwtimestamp *",
            "maxupdateskew 100.0",
            "ntsdumpdir /var/lib/chrony",
            "dumpdir /var/lib/chrony",
            "sourcedir /run/chrony-dhcp",
            "rtconutc",
            "hwclockfile /etc/adjtime",
            "cmdallow 127.0.0.1",
            "cmddeny all",
            "bindcmdaddress 127.0.0.1",
            "authselectmode require",
            "sched_priority 1",
            "lock_all",
        ];
        let config = parse(&lines.join("\n"));
        assert_eq!(config.deferred.len(), lines.len());
        for (index, (deferred, line)) in config.deferred.iter().zip(lines).enumerate() {
            assert_eq!(deferred.file, "test.conf");
            assert_eq!(deferred.line, index + 1);
            assert_eq!(deferred.name, line.split(' ').next().unwrap());
            assert_eq!(deferred.text, line);
        }

        let mixed_case = parse("Peer \t 192.0.2.9   iburst ");
        assert_eq!(
            mixed_case.deferred,
            [DeferredDirective {
                file: "test.conf".to_string(),
                line: 1,
                name: "peer".to_string(),
                text: "Peer 192.0.2.9 iburst".to_string(),
            }]
        );
    }

    #[test]
    fn client_side_directives_are_read() {
        let config = parse(
            "server ntp.example iburst minpoll 4 maxpoll 8 prefer\n\
             Pool 2.debian.pool.ntp.org iburst maxsources 3\n\
             server 127.0.0.1 port 11123 noselect\n\
             minsources 2\nmaxdistance 1.5\nmakestep 1.0 3\n\
             driftfile /var/lib/chrony/drift\nrtcsync\nleapsectz right/UTC",
        );
        let upstream = &config.upstream;
        assert_eq!(upstream.sources.len(), 3);
        let server = &upstream.sources[0];
        assert_eq!(server.host, "ntp.example");
        assert!(server.iburst && server.prefer && !server.pool);
        assert_eq!((server.min_poll, server.max_poll, server.port), (4, 8, 123));
        let pool = &upstream.sources[1];
        assert!(pool.pool);
        assert_eq!(pool.max_sources, 3);
        assert_eq!(upstream.sources[2].port, 11123);
        assert!(upstream.sources[2].no_select);
        assert_eq!(upstream.min_sources, 2);
        assert_eq!(upstream.max_distance, 1.5);
        assert_eq!(
            upstream.makestep,
            Some(crate::sync::discipline::MakeStep {
                threshold: 1.0,
                limit: 3
            })
        );
        assert_eq!(
            upstream.driftfile.as_deref(),
            Some(Path::new("/var/lib/chrony/drift"))
        );
        assert!(upstream.rtcsync);
        assert_eq!(
            upstream.leap_seconds,
            Some(chrony_upstream::LeapSecondSource::TimeZone(PathBuf::from(
                "/usr/share/zoneinfo/right/UTC"
            )))
        );
        assert!(config.deferred.is_empty());
    }

    #[test]
    fn bad_source_options_name_the_fix() {
        for (line, expected) in [
            ("server a.example key 1", "authentication"),
            (
                "server a.example xleave",
                "option `xleave` is not supported",
            ),
            ("server a.example minpoll 40", "out of range"),
            ("server", "expected a host name"),
            ("makestep 1.0", "makestep THRESHOLD LIMIT"),
            (
                "server a.example maxsources 2",
                "option `maxsources` is not supported",
            ),
        ] {
            let err = parse_str(line, "test.conf").unwrap_err().to_string();
            assert!(err.contains("test.conf:1"), "{err}");
            assert!(err.contains(expected), "{line}: {err}");
        }
    }

    #[test]
    fn upstream_note_names_what_is_served() {
        assert_eq!(
            parse("keyfile /etc/chrony.keys").upstream_note().unwrap(),
            "no `server` or `pool` line: ringd does not synchronise upstream and serves the \
             kernel's clock state (adjtimex, read-only) as set by the daemon that disciplines it"
        );
        assert_eq!(
            parse("logdir /var/log/chrony\nlocal stratum 8")
                .upstream_note()
                .unwrap(),
            "no `server` or `pool` line: ringd does not synchronise upstream and serves the \
             system clock at local stratum 8"
        );
        assert_eq!(
            parse("server ntp.example\nkeyfile /etc/chrony.keys\nlogdir /var/log")
                .upstream_note()
                .unwrap(),
            "recognised but not acted on yet: keyfile, logdir"
        );
        assert_eq!(parse("server ntp.example").upstream_note(), None);
        assert_eq!(parse("local").upstream_note(), None);
    }

    #[test]
    fn unknown_and_unsupported_directives() {
        assert_eq!(
            error("\n\nfrobnicate 1"),
            "test.conf:3: frobnicate: unknown directive; ringd reads chrony.conf directives \
             (see docs/ntp-config.md)"
        );
        assert_eq!(
            error("refclock PHC /dev/ptp0"),
            "test.conf:1: refclock: chrony directive that ringd does not support; remove it or \
             comment it out (see docs/ntp-config.md)"
        );
        assert_eq!(
            error("LeapSecMode slew"),
            "test.conf:1: LeapSecMode: chrony directive that ringd does not support; remove it \
             or comment it out (see docs/ntp-config.md)"
        );
        assert_eq!(
            error("servr 192.0.2.1 iburst"),
            "test.conf:1: servr: unknown directive; ringd reads chrony.conf directives \
             (see docs/ntp-config.md)"
        );
    }

    #[test]
    fn lines_that_are_not_configuration_are_not_quoted() {
        for line in [
            "root:$6$SECRETHASHVALUE:19000:0:99999:7:::",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            "127.0.0.1 localhost",
            "ghp_0123456789abcdefSECRET0123456789abcd",
            "pässwort",
        ] {
            let message = error(&format!("port 1\n{line}\n"));
            assert_eq!(
                message,
                "test.conf:2: not a chrony configuration line (contents not shown)"
            );
        }
        // Every chrony directive would be quoted, with room for a typo's extra letter.
        let known = DEFERRED_DIRECTIVES
            .iter()
            .chain(UNSUPPORTED_CHRONY_DIRECTIVES)
            .chain(chrony_upstream::DIRECTIVES);
        for name in known {
            assert!(
                super::super::error::quotable_name(name, MAX_QUOTED_NAME),
                "{name}"
            );
            assert!(name.len() < MAX_QUOTED_NAME, "{name}");
        }
    }

    #[test]
    fn display_prints_the_effective_settings() {
        let config = parse(
            "port 0\nbindaddress 192.0.2.1\nallow 192.0.2.0/24\ndeny 192.0.2.128/25\n\
             allow 10.0.0.0/8\nallow all 10.0.0.0/8\nallow 2001:db8::/32\nlocal stratum 7 orphan\n\
             ratelimit burst 16\nclientloglimit 1048576\nserver ntp.example iburst\n\
             makestep 0.5 -1\nlogdir /var/log/chrony\n",
        );
        assert_eq!(
            config.to_string(),
            "port 0\n\
             # port 0: ringd serves on an ephemeral port and reports it at start-up\n\
             bindaddress 192.0.2.1\n\
             allow 192.0.2.0/24\n\
             deny 192.0.2.128/25\n\
             allow 10.0.0.0/8\n\
             allow 2001:db8::/32\n\
             local stratum 7 orphan distance 1\n\
             ratelimit interval 3 burst 16 leak 2 kod 0\n\
             clientloglimit 1048576\n\
             server ntp.example port 123 minpoll 6 maxpoll 10 iburst\n\
             minsources 1\n\
             maxdistance 3\n\
             makestep 0.5 -1\n\
             # recognised, not acted on yet:\n\
             #   test.conf:13: logdir\n\
             # recognised but not acted on yet: logdir\n"
        );

        assert_eq!(
            parse("noclientlog\nallow").to_string(),
            "port 123\n\
             bindaddress 0.0.0.0\n\
             bindaddress ::\n\
             allow 0.0.0.0/0\n\
             allow ::/0\n\
             noclientlog\n"
        );
        assert_eq!(
            parse("").to_string(),
            "port 123\n\
             bindaddress 0.0.0.0\n\
             bindaddress ::\n\
             # no allow directive: every NTP client is refused\n\
             clientloglimit 524288\n"
        );
    }

    #[test]
    fn demo_is_the_documented_built_in_setup() {
        let config = demo();
        assert_eq!(config.origin, "built-in demo");
        assert_eq!(config.port, 1123);
        assert_eq!(config.bind_addresses, [ip("127.0.0.1")]);
        assert_eq!(config.local, Some(LocalStratum::default()));
        assert!(config.access.is_allowed(ip("127.1.2.3")));
        assert!(!config.access.is_allowed(ip("192.0.2.1")));
        assert!(!config.access.is_allowed(ip("::1")));
        assert_eq!(config.upstream_note(), None);
        assert_eq!(
            config.to_string(),
            "port 1123\n\
             bindaddress 127.0.0.1\n\
             allow 127.0.0.0/8\n\
             local stratum 10 distance 1\n\
             clientloglimit 524288\n"
        );
    }

    #[test]
    fn include_reads_files_and_patterns() {
        let dir = TempDir::new("chrony-conf");
        let single = shown(dir.write("single.conf", "port 1000\n"));
        dir.write("sub/b.conf", "allow 10/8\n");
        dir.write("sub/c.conf", "deny 10.1/16\n\nlogdir /var/log/chrony\n");
        dir.write("sub/.hidden.conf", "bogus\n");
        dir.write("sub/notes.txt", "bogus\n");
        fs::create_dir_all(dir.join("sub/dir.conf")).unwrap();
        let pattern = shown(dir.join("sub/*.conf"));
        let config = parse(&format!(
            "include {single}\ninclude {pattern}\ninclude {}",
            shown(dir.join("sub/*.none"))
        ));
        assert_eq!(config.port, 1000);
        assert!(config.access.is_allowed(ip("10.2.0.1")));
        assert!(!config.access.is_allowed(ip("10.1.0.1")));
        assert_eq!(config.deferred[0].file, shown(dir.join("sub/c.conf")));
        assert_eq!(config.deferred[0].line, 3);
    }

    #[test]
    fn include_errors() {
        let dir = TempDir::new("chrony-conf");
        let bad = shown(dir.write("bad.conf", "\n\nport x\n"));
        assert_eq!(
            error(&format!("include {bad}")),
            format!("{bad}:3: port: expected a port number 0..65535, found `x`")
        );
        let missing = shown(dir.join("missing.conf"));
        assert_eq!(
            error(&format!("port 1\ninclude {missing}")),
            format!(
                "test.conf:2: include: cannot read {missing}: No such file or directory \
                 (os error 2)"
            )
        );
        let in_missing_dir = shown(dir.join("nodir/*.conf"));
        assert_eq!(
            error(&format!("include {in_missing_dir}")),
            format!(
                "test.conf:1: include: cannot search for files matching `{in_missing_dir}`: {} \
                 is not a directory",
                shown(dir.join("nodir/"))
            )
        );
        let star_in_dir = shown(dir.join("*/b.conf"));
        assert_eq!(
            error(&format!("include {star_in_dir}")),
            format!(
                "test.conf:1: include: `*` is supported in the file name only, not in the \
                 directories of `{star_in_dir}`"
            )
        );
        assert_eq!(
            error("include"),
            "test.conf:1: include: expected a file name or a pattern with `*` in the file name, \
             found nothing"
        );

        assert_eq!(
            error("include /dev/zero"),
            "test.conf:1: include: /dev/zero is a character device; include must name a regular \
             file of at most 16777216 bytes"
        );
        let conf_d = shown(dir.join("conf.d"));
        fs::create_dir_all(&conf_d).unwrap();
        let fifo = shown(dir.join("conf.d/pipe.conf"));
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        assert_eq!(
            error(&format!("confdir {conf_d}")),
            format!(
                "test.conf:1: confdir: {fifo} is a FIFO (named pipe); each *.conf file of a \
                 confdir must be a regular file of at most 16777216 bytes"
            )
        );
        let shadow = shown(dir.write("shadow", "root:$6$SECRETHASHVALUE:19000:0:99999:7:::\n"));
        let message = error(&format!("include {shadow}"));
        assert_eq!(
            message,
            format!("{shadow}:1: not a chrony configuration line (contents not shown)")
        );

        let looping = shown(dir.join("loop.conf"));
        dir.write("loop.conf", format!("include {looping}\n"));
        assert_eq!(
            parse_file(Path::new(&looping)).unwrap_err().to_string(),
            format!(
                "{looping}:1: include: cannot include {looping}: files nest more than 10 deep \
                 (does a file include itself?)"
            )
        );
    }

    #[test]
    fn confdir_reads_conf_files_in_name_order_first_directory_wins() {
        let dir = TempDir::new("chrony-conf");
        dir.write("d1/a.conf", "logdir a-from-d1\n");
        dir.write("d2/a.conf", "logdir a-from-d2\n");
        dir.write("d2/b.conf", "allow 10/8\nlogdir b\n");
        dir.write("d1/c.conf", "deny 10.1/16\nlogdir c\n");
        dir.write("d2/.hidden.conf", "bogus\n");
        dir.write("d2/readme", "bogus\n");
        let config = parse(&format!(
            "confdir {} {} {}",
            shown(dir.join("missing")),
            shown(dir.join("d2")),
            shown(dir.join("d1"))
        ));
        let texts: Vec<_> = config.deferred.iter().map(|d| d.text.as_str()).collect();
        assert_eq!(texts, ["logdir a-from-d2", "logdir b", "logdir c"]);
        assert_eq!(config.deferred[2].file, shown(dir.join("d1/c.conf")));
        assert_eq!(config.deferred[2].line, 2);
        assert!(config.access.is_allowed(ip("10.2.0.1")));
        assert!(!config.access.is_allowed(ip("10.1.0.1")));
    }

    #[test]
    fn confdir_errors() {
        assert_eq!(
            error("confdir"),
            "test.conf:1: confdir: expected 1 to 10 directories, found 0"
        );
        assert_eq!(
            error(&format!("confdir{}", " /etc/chrony/conf.d".repeat(11))),
            "test.conf:1: confdir: expected 1 to 10 directories, found 11"
        );
        let dir = TempDir::new("chrony-conf");
        let bad = shown(dir.write("x.conf", "\nbogus\n"));
        assert_eq!(
            error(&format!("confdir {}", shown(dir.join("")))),
            format!(
                "{bad}:2: bogus: unknown directive; ringd reads chrony.conf directives \
                 (see docs/ntp-config.md)"
            )
        );
    }

    #[test]
    fn stock_debian_file_with_server_lines_loads() {
        let path = data_file("debian-server.conf");
        let config = parse_file(&path).unwrap();
        let file = path.display().to_string();
        assert_eq!(config.origin, file);
        // confdir /etc/chrony/conf.d may add directives of this machine: look at our file only.
        let ours: Vec<_> = config
            .deferred
            .iter()
            .filter(|d| d.file == file)
            .map(|d| (d.line, d.name.as_str()))
            .collect();
        assert_eq!(
            ours,
            [
                (11, "sourcedir"),
                (14, "sourcedir"),
                (18, "keyfile"),
                (25, "ntsdumpdir"),
                (31, "logdir"),
                (34, "maxupdateskew"),
            ]
        );
        let upstream = &config.upstream;
        assert_eq!(upstream.sources[0].host, "2.debian.pool.ntp.org");
        assert!(upstream.sources[0].pool && upstream.sources[0].iburst);
        assert!(upstream.driftfile.is_some() && upstream.rtcsync && upstream.makestep.is_some());
        assert!(upstream.leap_seconds.is_some());
        assert!(config.access.is_allowed(ip("192.168.1.10")));
        assert!(!config.access.is_allowed(ip("10.0.0.1")));
        assert_eq!(config.local.map(|local| local.stratum), Some(10));
        assert_eq!(
            config.upstream_note().unwrap(),
            "recognised but not acted on yet: sourcedir, sourcedir, keyfile, ntsdumpdir, logdir, \
             maxupdateskew"
        );
    }

    #[test]
    fn stock_rocky_file_with_server_lines_loads() {
        let config = parse_file(&data_file("rocky-server.conf")).unwrap();
        let names: Vec<_> = config.deferred.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["sourcedir", "keyfile", "ntsdumpdir", "logdir"]);
        assert!(config.access.is_allowed(ip("192.168.1.10")));
        assert_eq!(config.local.map(|local| local.stratum), Some(10));
    }

    #[test]
    fn parse_file_reports_unreadable_file_and_tolerates_non_utf8() {
        let dir = TempDir::new("chrony-conf");
        let missing = shown(dir.join("missing.conf"));
        assert_eq!(
            parse_file(Path::new(&missing)).unwrap_err().to_string(),
            format!("cannot read {missing}: No such file or directory (os error 2)")
        );
        assert_eq!(
            parse_file(Path::new("/dev/zero")).unwrap_err().to_string(),
            "/dev/zero is a character device; --ntp-conf must name a regular file of at most \
             16777216 bytes"
        );
        let latin1 = shown(dir.join("latin1.conf"));
        fs::write(&latin1, b"# caf\xe9\nport 99\n").unwrap();
        assert_eq!(parse_file(Path::new(&latin1)).unwrap().port, 99);
    }

    #[test]
    fn file_pattern_matching() {
        let matches = |pattern: &str, name: &str| matches_file_pattern(pattern, OsStr::new(name));
        assert!(matches("*.conf", "a.conf"));
        assert!(!matches("*.conf", ".conf.conf"));
        assert!(!matches("*.conf", ".a.conf"));
        assert!(!matches("*.conf", "a.conf.bak"));
        assert!(matches(".*", ".a"));
        assert!(matches("a*b*c", "aXbYc"));
        assert!(matches("a*b*c", "abbbc"));
        assert!(!matches("a*b*c", "aXbYcZ"));
        assert!(matches("*x*", "abxcd"));
        assert!(matches("a**b", "ab"));
        assert!(matches("exact.conf", "exact.conf"));
        assert!(!matches("a*", "b"));
    }
}
