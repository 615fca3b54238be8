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

/// `ratelimit [interval I] [burst B] [leak L] [kod K]` on top of `current`, and a warning per
/// value clamped into the range chronyd applies (clientlog.c); `kod` is ringd's own option.
pub(super) fn parse_ratelimit(
    d: &Directive,
    mut current: RateLimitSettings,
) -> Result<(RateLimitSettings, Vec<String>), ConfigError> {
    let mut warnings = Vec::new();
    let mut args = d.args.iter().copied();
    while let Some(option) = args.next() {
        let (field, min, max) = match option.to_ascii_lowercase().as_str() {
            "interval" => (&mut current.interval, -19, 12),
            "burst" => (&mut current.burst, 1, 255),
            "leak" => (&mut current.leak, 1, 4),
            "kod" => (&mut current.kod, 0, 4),
            _ => {
                return Err(d.error(format!(
                    "unknown option `{option}`; expected interval, burst, leak or kod, \
                     each followed by an integer"
                )));
            }
        };
        let text = args.next();
        let value: i32 = text
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| d.expected(&format!("an integer after `{option}`"), text))?;
        *field = value.clamp(min, max);
        if *field != value {
            warnings.push(format!(
                "`{option} {value}` clamped to {} as chronyd does",
                *field
            ));
        }
    }
    Ok((current, warnings))
}
