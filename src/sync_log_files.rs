//! chrony's log files in `logdir`, written by the sync thread: each opened at its first line,
//! headed by the column banner every `logbanner` lines and again in a file begun by
//! `cyclelogs`, as chronyd does.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tracing::{info, warn};

use crate::config::chrony_logs::{LogSettings, MeasurementLog};
use crate::output_files::LogFile;
use crate::sync::chrony_log::{LogKind, LogRecord, RecordSelection};

/// chronyd creates its log files readable by all.
const CHRONY_LOG_MODE: u32 = 0o644;

struct OpenLog {
    file: Arc<LogFile>,
    /// The file's generation when `lines` was last counted from zero.
    generation: u64,
    lines: u64,
}

pub struct ChronyLogFiles {
    dir: PathBuf,
    banner_every: u32,
    open: HashMap<LogKind, OpenLog>,
    /// Files that could not be opened: chronyd stops writing those, and so does ringd.
    given_up: Vec<LogKind>,
}

/// What the engine is to record for `settings`: nothing without a `logdir`, which chronyd
/// warns about once and ringd at start.
pub fn record_selection(settings: &LogSettings) -> RecordSelection {
    if settings.active_dir().is_none() {
        return RecordSelection::default();
    }
    RecordSelection {
        measurements: settings.measurements != MeasurementLog::Off,
        valid_measurements_only: settings.measurements == MeasurementLog::Valid,
        statistics: settings.statistics,
        tracking: settings.tracking,
    }
}

impl ChronyLogFiles {
    /// `None` when chrony.conf asks for no log file, or names no directory for them.
    pub fn new(settings: &LogSettings) -> Option<ChronyLogFiles> {
        if settings.any() && settings.dir.is_none() {
            warn!("`log` without `logdir`: no log file is written (as chronyd)");
        }
        Some(ChronyLogFiles {
            dir: settings.active_dir()?.to_path_buf(),
            banner_every: settings.banner_every,
            open: HashMap::new(),
            given_up: Vec::new(),
        })
    }

    /// Appends `record`'s line, with `address` in its source column.
    pub fn write(&mut self, record: &LogRecord, address: &str) {
        let kind = record.kind();
        if self.given_up.contains(&kind) {
            return;
        }
        let log = match self.open.entry(kind) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let path = self.dir.join(kind.file_name());
                match LogFile::open_with_mode(&path, CHRONY_LOG_MODE) {
                    Ok(file) => entry.insert(OpenLog {
                        generation: file.generation(),
                        file,
                        lines: 0,
                    }),
                    Err(err) => {
                        warn!("cannot open {}: {err}; not writing it", path.display());
                        self.given_up.push(kind);
                        return;
                    }
                }
            }
        };
        let generation = log.file.generation();
        if generation != log.generation {
            log.generation = generation;
            log.lines = 0;
        }
        let line = record.line(address);
        let banner_due = self.banner_every != 0 && log.lines % u64::from(self.banner_every) == 0;
        let text = if banner_due {
            format!("{}\n{line}", kind.banner())
        } else {
            line
        };
        log.lines += 1;
        if let Err(err) = log.file.append(&text) {
            warn!("cannot write {}: {err}; not writing it", kind.file_name());
            self.open.remove(&kind);
            self.given_up.push(kind);
        } else if log.lines == 1 {
            // Once per file and per cyclelogs, not per line: where the lines now go.
            info!(
                "chrony's {} begun in {}",
                kind.file_name(),
                self.dir.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output_files::reopen_logs;
    use crate::sync::chrony_log::TrackingRecord;
    use crate::sync::engine::SourceId;
    use crate::test_dirs::TempDir;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn tracking(time: f64) -> LogRecord {
        LogRecord::Tracking(TrackingRecord {
            source: SourceId(0),
            time,
            stratum: 3,
            frequency_ppm: 1.5,
            skew_ppm: 0.01,
            offset: 1e-6,
            leap: 0,
            combined_sources: 1,
            offset_sd: 1e-6,
            remaining_correction: 0.0,
            root_delay: 1e-3,
            root_dispersion: 1e-4,
            max_error: 2e-3,
        })
    }

    #[test]
    fn the_banner_heads_every_nth_line_and_each_file_cyclelogs_begins() {
        let dir = TempDir::new("chrony-logs");
        let settings = LogSettings {
            dir: Some(dir.path().to_path_buf()),
            tracking: true,
            banner_every: 2,
            ..LogSettings::default()
        };
        let mut logs = ChronyLogFiles::new(&settings).expect("a log and a logdir");
        for second in 0..3 {
            logs.write(&tracking(1_700_000_000.0 + f64::from(second)), "192.0.2.1");
        }
        let path = dir.path().join("tracking.log");
        let text = fs::read_to_string(&path).unwrap();
        let banners = text.lines().filter(|l| l.starts_with("   Date")).count();
        assert_eq!(banners, 2, "lines 1 and 3 are headed:\n{text}");
        assert_eq!(text.lines().count(), 3 * 2 + 3);
        assert!(text
            .lines()
            .nth(3)
            .unwrap()
            .starts_with("2023-11-14 22:13:20 192.0.2.1"));
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode & !0o644,
            0,
            "created as chronyd does, at most 0644: {mode:o}"
        );

        fs::rename(&path, dir.path().join("tracking.log.1")).unwrap();
        reopen_logs().unwrap();
        logs.write(&tracking(1_700_000_010.0), "192.0.2.1");
        let fresh = fs::read_to_string(&path).unwrap();
        assert_eq!(
            fresh.lines().count(),
            4,
            "a banner heads the new file:\n{fresh}"
        );
        assert!(fresh.lines().nth(1).unwrap().starts_with("   Date"));
    }

    #[test]
    fn without_a_logdir_or_a_log_nothing_is_recorded() {
        let no_dir = LogSettings {
            tracking: true,
            ..LogSettings::default()
        };
        assert!(ChronyLogFiles::new(&no_dir).is_none());
        assert_eq!(record_selection(&no_dir), RecordSelection::default());
        let no_log = LogSettings {
            dir: Some(PathBuf::from("/var/log/chrony")),
            ..LogSettings::default()
        };
        assert!(ChronyLogFiles::new(&no_log).is_none());
        let raw = LogSettings {
            measurements: MeasurementLog::Raw,
            ..no_log
        };
        let selection = record_selection(&raw);
        assert!(selection.measurements && !selection.valid_measurements_only);
    }
}
