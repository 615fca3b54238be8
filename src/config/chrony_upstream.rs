//! chrony.conf's client side: `server`, `pool`, `minsources`, `maxdistance`, `makestep`,
//! `driftfile`, `rtcsync`, `leapsectz`, `leapseclist` and the NTS client's `ntstrustedcerts`,
//! `nosystemcert` and `ntsrefresh`.

use std::fmt;
use std::path::PathBuf;

use super::chrony::Directive;
use super::error::ConfigError;
use crate::sync::discipline::MakeStep;

/// chrony's defaults for a `server` or `pool` line.
const DEFAULT_MIN_POLL: i8 = 6;
const DEFAULT_MAX_POLL: i8 = 10;
const DEFAULT_POOL_MAX_SOURCES: usize = 4;
const NTP_PORT: u16 = 123;
const NTS_KE_PORT: u16 = 4460;
/// chronyd's default `ntsrefresh`: four weeks.
const DEFAULT_NTS_REFRESH: i64 = 2_419_200;

/// How a source's packets are authenticated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SourceAuthentication {
    #[default]
    None,
    /// `key N`: a MAC by key N of the `keyfile`.
    Key(u32),
    /// `nts`: keys and cookies from NTS-KE on `ke_port`, the server's certificate checked
    /// against the trusted certificates of `cert_set` (`certset`).
    Nts { ke_port: u16, cert_set: u32 },
}

/// One `server` or `pool` line.
#[derive(Clone, Debug, PartialEq)]
pub struct UpstreamSource {
    pub host: String,
    pub pool: bool,
    pub port: u16,
    pub iburst: bool,
    pub min_poll: i8,
    pub max_poll: i8,
    pub prefer: bool,
    pub no_select: bool,
    /// For a pool: how many of its addresses are used at once.
    pub max_sources: usize,
    pub authentication: SourceAuthentication,
}

/// The NTS client's trust and refresh settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NtsClientSettings {
    /// `ntstrustedcerts [SET] FILE|DIR`, in file order.
    pub trusted_certs: Vec<(u32, PathBuf)>,
    /// `nosystemcert`: the system's trusted CAs are not used for set 0.
    pub no_system_cert: bool,
    /// `ntsrefresh`: seconds after which a source's keys and cookies are renewed.
    pub refresh: i64,
}

impl Default for NtsClientSettings {
    fn default() -> Self {
        NtsClientSettings {
            trusted_certs: Vec::new(),
            no_system_cert: false,
            refresh: DEFAULT_NTS_REFRESH,
        }
    }
}

/// Where the known leap seconds come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeapSecondSource {
    /// `leapsectz right/UTC`: a TZif zone under /usr/share/zoneinfo.
    TimeZone(PathBuf),
    /// `leapseclist FILE`: an IERS/NIST leap-seconds.list.
    List(PathBuf),
}

/// The client side of chrony.conf.
#[derive(Clone, Debug, PartialEq)]
pub struct UpstreamConfig {
    pub sources: Vec<UpstreamSource>,
    pub min_sources: usize,
    pub max_distance: f64,
    pub makestep: Option<MakeStep>,
    pub driftfile: Option<PathBuf>,
    pub rtcsync: bool,
    pub leap_seconds: Option<LeapSecondSource>,
    pub nts: NtsClientSettings,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            sources: Vec::new(),
            min_sources: 1,
            max_distance: 3.0,
            makestep: None,
            driftfile: None,
            rtcsync: false,
            leap_seconds: None,
            nts: NtsClientSettings::default(),
        }
    }
}

/// The directives this module reads.
pub(super) const DIRECTIVES: &[&str] = &[
    "server",
    "pool",
    "minsources",
    "maxdistance",
    "makestep",
    "driftfile",
    "rtcsync",
    "leapsectz",
    "leapseclist",
    "ntstrustedcerts",
    "nosystemcert",
    "ntsrefresh",
];

fn number<T: std::str::FromStr>(
    d: &Directive,
    option: &str,
    value: Option<&str>,
    what: &str,
) -> Result<T, ConfigError> {
    value
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| d.expected(&format!("{what} after `{option}`"), value))
}

/// What a source option chronyd 4.3 accepts but ringd does not act on takes after it.
#[derive(Clone, Copy)]
enum OptionValue {
    None,
    Integer,
    Number,
    Hex,
}

/// chronyd 4.3's source options (cmdparse.c) that ringd accepts without acting on them.
const OPTIONS_NOT_ACTED_ON: &[(&str, OptionValue)] = &[
    ("auto_offline", OptionValue::None),
    ("burst", OptionValue::None),
    ("copy", OptionValue::None),
    ("offline", OptionValue::None),
    ("require", OptionValue::None),
    ("trust", OptionValue::None),
    ("xleave", OptionValue::None),
    ("asymmetry", OptionValue::Number),
    ("extfield", OptionValue::Hex),
    ("filter", OptionValue::Integer),
    ("maxdelay", OptionValue::Number),
    ("maxdelayratio", OptionValue::Number),
    ("maxdelaydevratio", OptionValue::Number),
    ("maxdelayquant", OptionValue::Number),
    ("maxsamples", OptionValue::Integer),
    ("mindelay", OptionValue::Number),
    ("minsamples", OptionValue::Integer),
    ("minstratum", OptionValue::Integer),
    ("offset", OptionValue::Number),
    ("polltarget", OptionValue::Integer),
    ("presend", OptionValue::Integer),
    ("version", OptionValue::Integer),
];

/// chronyd takes a poll exponent below this as "use the default" (ntp_core.c).
const MIN_POLL: i8 = -7;
/// chronyd clamps a poll exponent above this to it (ntp_core.c).
const MAX_POLL: i8 = 24;
/// chronyd clamps a pool's `maxsources` into 1..=this (ntp_sources.c).
const MAX_POOL_SOURCES: usize = 16;

/// The value an option takes, checked as chronyd's parser checks it.
fn option_value<'a>(
    d: &Directive,
    option: &str,
    kind: OptionValue,
    value: Option<&'a str>,
) -> Result<Option<&'a str>, ConfigError> {
    let parses = |v: &str| match kind {
        OptionValue::None => true,
        OptionValue::Integer => v.parse::<i64>().is_ok(),
        OptionValue::Number => v.parse::<f64>().is_ok_and(f64::is_finite),
        OptionValue::Hex => u32::from_str_radix(v, 16).is_ok(),
    };
    let what = match kind {
        OptionValue::None => return Ok(None),
        OptionValue::Integer => "an integer",
        OptionValue::Number => "a finite number",
        OptionValue::Hex => "a hexadecimal number",
    };
    match value {
        Some(v) if parses(v) => Ok(Some(v)),
        _ => Err(d.expected(&format!("{what} after `{option}`"), value)),
    }
}

/// A `server`, `pool` or `peer` line: the source (None when it cannot be used as asked) and
/// one warning per option accepted but not acted on or clamped.
pub(super) fn parse_source(
    d: &Directive,
    pool: bool,
) -> Result<(Option<UpstreamSource>, Vec<String>), ConfigError> {
    let mut args = d.args.iter().copied();
    let host = args
        .next()
        .ok_or_else(|| d.expected("a host name or address", None))?;
    let mut source = UpstreamSource {
        host: host.to_string(),
        pool,
        port: NTP_PORT,
        iburst: false,
        min_poll: DEFAULT_MIN_POLL,
        max_poll: DEFAULT_MAX_POLL,
        prefer: false,
        no_select: false,
        max_sources: if pool { DEFAULT_POOL_MAX_SOURCES } else { 1 },
        authentication: SourceAuthentication::None,
    };
    let mut warnings = Vec::new();
    let (mut key, mut nts, mut ke_port, mut cert_set) = (None, false, NTS_KE_PORT, 0);
    let mut nts_options = Vec::new();
    while let Some(option) = args.next() {
        let lower = option.to_ascii_lowercase();
        match lower.as_str() {
            "iburst" => source.iburst = true,
            "prefer" => source.prefer = true,
            "noselect" => source.no_select = true,
            "minpoll" | "maxpoll" => {
                let poll: i32 = number(d, option, args.next(), "an integer poll exponent")?;
                let default = if lower == "minpoll" {
                    DEFAULT_MIN_POLL
                } else {
                    DEFAULT_MAX_POLL
                };
                let used = if poll < i32::from(MIN_POLL) {
                    warnings.push(format!(
                        "`{lower} {poll}` is below {MIN_POLL}: {default} is used, as chronyd does"
                    ));
                    default
                } else if poll > i32::from(MAX_POLL) {
                    warnings.push(format!(
                        "`{lower} {poll}` clamped to {MAX_POLL} as chronyd does"
                    ));
                    MAX_POLL
                } else {
                    poll as i8
                };
                if lower == "minpoll" {
                    source.min_poll = used;
                } else {
                    source.max_poll = used;
                }
            }
            "port" => source.port = number(d, option, args.next(), "a port number")?,
            "maxsources" => {
                let wanted: i64 = number(d, option, args.next(), "an integer")?;
                if !pool {
                    warnings.push(
                        "option `maxsources` is accepted and not acted on: only a pool uses it"
                            .to_string(),
                    );
                    continue;
                }
                let clamped = wanted.clamp(1, MAX_POOL_SOURCES as i64) as usize;
                if clamped as i64 != wanted {
                    warnings.push(format!(
                        "`maxsources {wanted}` clamped to {clamped} as chronyd does"
                    ));
                }
                source.max_sources = clamped;
            }
            // chronyd reads both with sscanf's %u, which takes a negative number modulo 2^32;
            // key 0 means "no key" there and is refused.
            "key" => match number::<i64>(d, option, args.next(), "a key ID")? as u32 {
                0 => return Err(d.error("`key 0` is not a key (chronyd 4.3 refuses it too); use an ID of the keyfile from 1")),
                id => key = Some(id),
            },
            "certset" => {
                cert_set = number::<i64>(d, option, args.next(), "a certificate set ID")? as u32;
                nts_options.push("certset");
            }
            "nts" => nts = true,
            "ntsport" => {
                ke_port = number(d, option, args.next(), "a port number")?;
                nts_options.push("ntsport");
            }
            _ => {
                if let Some(&(name, kind)) =
                    OPTIONS_NOT_ACTED_ON.iter().find(|(name, _)| *name == lower)
                {
                    option_value(d, option, kind, args.next_if_value(kind))?;
                    warnings.push(format!("option `{name}` is accepted and not acted on"));
                } else {
                    return Err(d.error(format!(
                        "unknown option `{option}`, which chronyd 4.3 refuses too; remove it \
                         (see docs/ntp-config.md for the options)"
                    )));
                }
            }
        }
    }
    if source.max_poll < source.min_poll {
        source.max_poll = source.min_poll;
    }
    if !nts {
        warnings.extend(nts_options.iter().map(|option| {
            format!("option `{option}` is accepted and not acted on: only an `nts` source uses it")
        }));
    }
    // As in chronyd (ntp_core.c), `nts` wins over `key`.
    source.authentication = match (nts, key) {
        (true, _) => SourceAuthentication::Nts { ke_port, cert_set },
        (false, Some(id)) => SourceAuthentication::Key(id),
        (false, None) => SourceAuthentication::None,
    };
    Ok((Some(source), warnings))
}

/// Takes the next word only when the option takes a value.
trait NextIfValue<'a> {
    fn next_if_value(&mut self, kind: OptionValue) -> Option<&'a str>;
}

impl<'a, I: Iterator<Item = &'a str>> NextIfValue<'a> for I {
    fn next_if_value(&mut self, kind: OptionValue) -> Option<&'a str> {
        match kind {
            OptionValue::None => None,
            _ => self.next(),
        }
    }
}

fn parse_makestep(d: &Directive) -> Result<MakeStep, ConfigError> {
    match d.args[..] {
        [threshold, limit] => {
            // A negative threshold steps at every update within the limit, as in chronyd.
            let threshold: f64 = threshold
                .parse()
                .ok()
                .filter(|t: &f64| t.is_finite())
                .ok_or_else(|| d.expected("a threshold in seconds", Some(threshold)))?;
            let limit: i64 = limit
                .parse()
                .map_err(|_| d.expected("a limit of updates (-1: always)", Some(limit)))?;
            Ok(MakeStep { threshold, limit })
        }
        _ => Err(d.error(
            "expected `makestep THRESHOLD LIMIT`, e.g. `makestep 1.0 3` (step during the first \
             3 updates when off by more than 1 s)",
        )),
    }
}

/// Applies one of [`DIRECTIVES`]; returns a warning per value accepted but not acted on or
/// clamped.
pub(super) fn apply(
    config: &mut UpstreamConfig,
    name: &str,
    d: &Directive,
) -> Result<Vec<String>, ConfigError> {
    match name {
        "server" | "pool" => {
            let (source, warnings) = parse_source(d, name == "pool")?;
            config.sources.extend(source);
            return Ok(warnings);
        }
        "minsources" => config.min_sources = d.single("a number of sources")?,
        "maxdistance" => {
            let distance: f64 = d.single("a distance in seconds")?;
            if !distance.is_finite() {
                return Err(d.expected("a finite distance in seconds", d.args.first().copied()));
            }
            config.max_distance = distance;
        }
        "makestep" => config.makestep = Some(parse_makestep(d)?),
        "driftfile" => config.driftfile = Some(d.single::<PathBuf>("a file name")?),
        "rtcsync" => {
            d.no_arguments()?;
            config.rtcsync = true;
        }
        "leapsectz" => {
            let zone: String = d.single("a time zone such as right/UTC")?;
            config.leap_seconds = Some(LeapSecondSource::TimeZone(
                PathBuf::from("/usr/share/zoneinfo").join(zone),
            ));
        }
        "leapseclist" => {
            config.leap_seconds = Some(LeapSecondSource::List(d.single("a file name")?));
        }
        "ntstrustedcerts" => {
            let (set, path) = match d.args[..] {
                [path] => (0, path),
                [set, path] => (
                    set.parse::<u32>().map_err(|_| {
                        d.expected("a certificate set ID before the file", Some(set))
                    })?,
                    path,
                ),
                _ => {
                    return Err(d.error(
                        "expected `ntstrustedcerts [SET-ID] FILE|DIRECTORY`, e.g. \
                         `ntstrustedcerts /etc/chrony/ca.pem`",
                    ))
                }
            };
            config.nts.trusted_certs.push((set, PathBuf::from(path)));
        }
        "nosystemcert" => {
            d.no_arguments()?;
            config.nts.no_system_cert = true;
        }
        "ntsrefresh" => config.nts.refresh = d.single("a number of seconds")?,
        _ => unreachable!("only DIRECTIVES are dispatched here"),
    }
    Ok(Vec::new())
}

/// The directives as `ringd --check` prints them.
impl fmt::Display for UpstreamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for source in &self.sources {
            write!(
                f,
                "{} {} port {} minpoll {} maxpoll {}",
                if source.pool { "pool" } else { "server" },
                source.host,
                source.port,
                source.min_poll,
                source.max_poll
            )?;
            for (set, word) in [
                (source.iburst, "iburst"),
                (source.prefer, "prefer"),
                (source.no_select, "noselect"),
            ] {
                if set {
                    write!(f, " {word}")?;
                }
            }
            if source.pool {
                write!(f, " maxsources {}", source.max_sources)?;
            }
            match source.authentication {
                SourceAuthentication::None => {}
                SourceAuthentication::Key(id) => write!(f, " key {id}")?,
                SourceAuthentication::Nts { ke_port, cert_set } => {
                    write!(f, " nts ntsport {ke_port} certset {cert_set}")?
                }
            }
            writeln!(f)?;
        }
        if self.sources.is_empty() {
            return Ok(());
        }
        writeln!(f, "minsources {}", self.min_sources)?;
        writeln!(f, "maxdistance {}", self.max_distance)?;
        if let Some(rule) = self.makestep {
            writeln!(f, "makestep {} {}", rule.threshold, rule.limit)?;
        }
        if let Some(path) = &self.driftfile {
            writeln!(f, "driftfile {}", path.display())?;
        }
        if self.rtcsync {
            writeln!(f, "rtcsync")?;
        }
        match &self.leap_seconds {
            Some(LeapSecondSource::TimeZone(path)) => writeln!(f, "leapsectz {}", path.display()),
            Some(LeapSecondSource::List(path)) => writeln!(f, "leapseclist {}", path.display()),
            None => Ok(()),
        }?;
        for (set, path) in &self.nts.trusted_certs {
            writeln!(f, "ntstrustedcerts {set} {}", path.display())?;
        }
        if self.nts.no_system_cert {
            writeln!(f, "nosystemcert")?;
        }
        if self.nts.refresh != DEFAULT_NTS_REFRESH {
            writeln!(f, "ntsrefresh {}", self.nts.refresh)?;
        }
        Ok(())
    }
}
