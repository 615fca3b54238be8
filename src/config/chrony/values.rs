//! The values of chrony.conf's `local` and `ratelimit` directives.

use super::*;

/// `local [stratum N] [orphan] [distance D]`, chrony's defaults for what is left out.
pub(super) fn parse_local(d: &Directive) -> Result<LocalStratum, ConfigError> {
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
pub(super) fn parse_ratelimit(
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
