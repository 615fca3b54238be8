//! chrony.conf's client side: `server`, `pool`, `minsources`, `maxdistance`, `makestep`,
//! `driftfile`, `rtcsync`, `leapsectz` and `leapseclist`.

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
/// chrony accepts polls from 1/128 s to 36 hours.
const POLL_RANGE: std::ops::RangeInclusive<i8> = -7..=17;

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

fn parse_source(d: &Directive, pool: bool) -> Result<UpstreamSource, ConfigError> {
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
    };
    while let Some(option) = args.next() {
        match option.to_ascii_lowercase().as_str() {
            "iburst" => source.iburst = true,
            "prefer" => source.prefer = true,
            "noselect" => source.no_select = true,
            "minpoll" | "maxpoll" => {
                let poll: i8 = number(d, option, args.next(), "a poll exponent -7..17")?;
                if !POLL_RANGE.contains(&poll) {
                    return Err(d.error(format!(
                        "`{option} {poll}` is out of range; chrony accepts -7..17"
                    )));
                }
                if option.eq_ignore_ascii_case("minpoll") {
                    source.min_poll = poll;
                } else {
                    source.max_poll = poll;
                }
            }
            "port" => source.port = number(d, option, args.next(), "a port number")?,
            "maxsources" if pool => {
                source.max_sources = number(d, option, args.next(), "a number 1..16")?;
                if !(1..=16).contains(&source.max_sources) {
                    return Err(d.error("`maxsources` must be 1..16, as in chrony"));
                }
            }
            "key" | "nts" | "certset" => {
                return Err(d.error(format!(
                    "option `{option}` (authentication) is not supported by ringd yet; without \
                     it the source would be used unauthenticated, so remove the line or the \
                     option knowingly"
                )));
            }
            _ => {
                return Err(d.error(format!(
                    "option `{option}` is not supported by ringd; it reads iburst, minpoll, \
                     maxpoll, prefer, noselect, port{} (see docs/ntp-config.md)",
                    if pool { ", maxsources" } else { "" }
                )));
            }
        }
    }
    if source.max_poll < source.min_poll {
        source.max_poll = source.min_poll;
    }
    Ok(source)
}

fn parse_makestep(d: &Directive) -> Result<MakeStep, ConfigError> {
    match d.args[..] {
        [threshold, limit] => {
            let threshold: f64 = threshold
                .parse()
                .ok()
                .filter(|t: &f64| t.is_finite() && *t >= 0.0)
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

/// Applies one of [`DIRECTIVES`].
pub(super) fn apply(
    config: &mut UpstreamConfig,
    name: &str,
    d: &Directive,
) -> Result<(), ConfigError> {
    match name {
        "server" => config.sources.push(parse_source(d, false)?),
        "pool" => config.sources.push(parse_source(d, true)?),
        "minsources" => config.min_sources = d.single("a number of sources")?,
        "maxdistance" => {
            config.max_distance = d.single::<f64>("a distance in seconds")?;
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
        _ => unreachable!("only DIRECTIVES are dispatched here"),
    }
    Ok(())
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
        }
    }
}
