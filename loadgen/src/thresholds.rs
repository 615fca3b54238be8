//! The threshold flags every measuring subcommand takes, and their values read (`2ms`, `0.5%`, `1000/s`).

use std::time::Duration;

use clap::Args;

use crate::verdict::Thresholds;

/// Longest latency threshold accepted: an hour says nothing a CI job needs.
const MAX_THRESHOLD_S: f64 = 3_600.0;

#[derive(Args, Clone, Debug, Default)]
pub struct ThresholdArgs {
    /// Exit 1 when more than PCT percent of the requests (sessions, handshakes) were lost or
    /// failed, e.g. `0.1` or `0.1%`.
    #[arg(long, value_name = "PCT", value_parser = parse_percent)]
    max_loss: Option<f64>,
    /// Exit 1 when the 99th percentile of the round-trip latency (of any FTP or NTS-KE step)
    /// is above DURATION, e.g. `2ms`, `500us`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    max_p99: Option<Duration>,
    /// Exit 1 when fewer than N replies (FTP sessions, NTS-KE handshakes) per second
    /// succeeded, e.g. `50000` or `50000/s`; with --ramp, the highest passing rate.
    #[arg(long, value_name = "N", value_parser = parse_rate)]
    min_rate: Option<f64>,
    /// Exit 1 when there were more than N errors (NTP: invalid replies, KoD and refused
    /// sends; FTP and NTS-KE: failures).
    #[arg(long, value_name = "N")]
    max_errors: Option<u64>,
}

impl ThresholdArgs {
    /// The thresholds every protocol has; `max_p99_server` is added by the subcommands whose
    /// protocol gives the server's response time.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            max_loss_percent: self.max_loss,
            max_p99: self.max_p99,
            max_p99_server: None,
            min_rate: self.min_rate,
            max_errors: self.max_errors,
        }
    }
}

/// `2ms`, `500us` (or `500µs`), `1.5s`, `800ns`: a number and its unit, above 0.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("{text:?} needs a unit: ns, us, ms or s (e.g. 2ms)"))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a number and a unit (e.g. 500us)"))?;
    let seconds = value
        * match unit.trim() {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            other => return Err(format!("unknown unit {other:?}: use ns, us, ms or s")),
        };
    if !(seconds > 0.0 && seconds <= MAX_THRESHOLD_S) {
        return Err(format!(
            "{text:?} must be above 0 and at most {MAX_THRESHOLD_S} s"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `0.5` or `0.5%`: a percentage from 0 to 100.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a percentage (e.g. 0.5 or 0.5%)"))?;
    if !(0.0..=100.0).contains(&value) {
        return Err(format!("{text:?} must be between 0 and 100 %"));
    }
    Ok(value)
}

/// `1000` or `1000/s`: a rate above 0.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches("/s").trim();
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a rate (e.g. 1000 or 1000/s)"))?;
    if !(value > 0.0 && value.is_finite()) {
        return Err(format!("{text:?} must be above 0"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("2ms"), Ok(Duration::from_millis(2)));
        assert_eq!(parse_duration("500us"), Ok(Duration::from_micros(500)));
        assert_eq!(parse_duration("500µs"), Ok(Duration::from_micros(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1_500)));
        assert_eq!(parse_duration("800ns"), Ok(Duration::from_nanos(800)));
        assert!(parse_duration("2").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("2h").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("0ms").is_err());
        assert!(parse_duration("ms").is_err());
    }

    #[test]
    fn percentages_and_rates_take_an_optional_unit() {
        assert_eq!(parse_percent("0.5%"), Ok(0.5));
        assert_eq!(parse_percent("2"), Ok(2.0));
        assert!(parse_percent("101").is_err());
        assert!(parse_percent("-1").is_err());
        assert_eq!(parse_rate("50000/s"), Ok(50_000.0));
        assert_eq!(parse_rate("12.5"), Ok(12.5));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("fast").is_err());
    }
}
