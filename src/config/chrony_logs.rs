//! chrony.conf's log files: `log`, `logdir` and `logbanner`.

use std::fmt;
use std::path::PathBuf;

use super::chrony::Directive;
use super::error::ConfigError;

/// chronyd writes the column banner every 32 lines unless `logbanner` says otherwise.
const DEFAULT_BANNER_EVERY: u32 = 32;

/// The directives this module reads.
pub(super) const DIRECTIVES: &[&str] = &["log", "logdir", "logbanner"];

/// `log` options chronyd accepts that ringd has nothing to write for: no real-time clock
/// tracking, no reference clocks, no temperature compensation, and no per-source selection
/// trace. Accepted with a note, as chronyd would accept them.
const OPTIONS_NOT_WRITTEN: &[&str] = &["selection", "rtc", "refclocks", "tempcomp"];

/// Which measurements go to measurements.log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MeasurementLog {
    #[default]
    Off,
    /// `log measurements`: samples that passed every test.
    Valid,
    /// `log rawmeasurements`: every reply received from a source.
    Raw,
}

/// The log files chrony.conf asks for, written in `logdir` as chronyd writes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSettings {
    pub dir: Option<PathBuf>,
    pub measurements: MeasurementLog,
    pub statistics: bool,
    pub tracking: bool,
    /// Lines between column banners; 0 writes none.
    pub banner_every: u32,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            dir: None,
            measurements: MeasurementLog::Off,
            statistics: false,
            tracking: false,
            banner_every: DEFAULT_BANNER_EVERY,
        }
    }
}

impl LogSettings {
    /// Whether any file is to be written (with or without a `logdir`).
    pub fn any(&self) -> bool {
        self.measurements != MeasurementLog::Off || self.statistics || self.tracking
    }

    /// The directory the files go to, when there are files to write.
    pub fn active_dir(&self) -> Option<&std::path::Path> {
        self.dir.as_deref().filter(|_| self.any())
    }
}

/// Applies one of [`DIRECTIVES`]; returns the `log` options accepted but not written.
pub(super) fn apply(
    settings: &mut LogSettings,
    name: &str,
    d: &Directive,
) -> Result<Vec<&'static str>, ConfigError> {
    let mut not_written = Vec::new();
    match name {
        "log" => {
            for option in &d.args {
                match *option {
                    "rawmeasurements" => settings.measurements = MeasurementLog::Raw,
                    "measurements" if settings.measurements == MeasurementLog::Off => {
                        settings.measurements = MeasurementLog::Valid
                    }
                    "measurements" => {}
                    "statistics" => settings.statistics = true,
                    "tracking" => settings.tracking = true,
                    _ => match OPTIONS_NOT_WRITTEN.iter().find(|known| *known == option) {
                        Some(known) => not_written.push(*known),
                        None => {
                            return Err(d.error(format!(
                                "unknown log `{option}`; chrony's are rawmeasurements, \
                                 measurements, statistics, tracking, selection, rtc, \
                                 refclocks and tempcomp"
                            )))
                        }
                    },
                }
            }
        }
        "logdir" => settings.dir = Some(d.single("a directory")?),
        "logbanner" => {
            // chronyd tests `writes % banner == 0`, so -N repeats the banner as N does.
            let every: i32 = d.single("a number of lines (0: no banner)")?;
            settings.banner_every = every.unsigned_abs();
        }
        _ => unreachable!("only DIRECTIVES are dispatched here"),
    }
    Ok(not_written)
}

/// The directives as `ringd --check` prints them.
impl fmt::Display for LogSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.any() {
            return Ok(());
        }
        let mut options = Vec::new();
        match self.measurements {
            MeasurementLog::Off => {}
            MeasurementLog::Valid => options.push("measurements"),
            MeasurementLog::Raw => options.push("rawmeasurements"),
        }
        if self.statistics {
            options.push("statistics");
        }
        if self.tracking {
            options.push("tracking");
        }
        writeln!(f, "log {}", options.join(" "))?;
        match &self.dir {
            Some(dir) => writeln!(f, "logdir {}", dir.display())?,
            None => writeln!(f, "# no logdir: the log files are not written (as chronyd)")?,
        }
        writeln!(f, "logbanner {}", self.banner_every)
    }
}
