//! `--raw FILE`: one CSV line per request or session (send time, latency, outcome), streamed to the file in bounded blocks.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;

/// The file's first line, naming its columns.
pub const HEADER: &str = "send_unix_ns,latency_ns,outcome\n";
/// Bytes of lines a load loop gathers before it writes them: memory stays bounded however long
/// the run, and loops running side by side take the file's lock once per block, not per line.
const BLOCK: usize = 64 * 1024;

/// The `--raw` file, shared by the load loops.
#[derive(Debug)]
pub struct RawFile {
    path: PathBuf,
    file: Mutex<File>,
    /// The first write that failed: reported when the run ends, not on the hot path.
    failure: Mutex<Option<std::io::Error>>,
}

impl RawFile {
    /// Creates (or empties) the file and writes its header.
    pub fn create(path: &Path) -> anyhow::Result<RawFile> {
        let mut file = File::create(path)
            .with_context(|| format!("creating the --raw file {}", path.display()))?;
        file.write_all(HEADER.as_bytes())
            .with_context(|| format!("writing the --raw file {}", path.display()))?;
        Ok(RawFile {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            failure: Mutex::new(None),
        })
    }

    /// A load loop's own buffer of lines into this file.
    pub fn lines(&self) -> RawLines<'_> {
        RawLines {
            file: self,
            block: String::with_capacity(BLOCK + 128),
        }
    }

    fn append(&self, block: &str) {
        let written = self
            .file
            .lock()
            .expect("no load loop panics holding the raw file")
            .write_all(block.as_bytes());
        if let Err(error) = written {
            self.failure
                .lock()
                .expect("no load loop panics holding the raw failure")
                .get_or_insert(error);
        }
    }

    /// Once every loop's lines are written: the first write that failed, if one did.
    pub fn finish(&self) -> anyhow::Result<()> {
        match self
            .failure
            .lock()
            .expect("no load loop panicked holding the raw failure")
            .take()
        {
            Some(error) => Err(error)
                .with_context(|| format!("writing the --raw file {}", self.path.display())),
            None => Ok(()),
        }
    }
}

/// Lines gathered by one load loop; written when a block is full and when dropped.
pub struct RawLines<'a> {
    file: &'a RawFile,
    block: String,
}

impl RawLines<'_> {
    /// One request or session: when it was sent or started (nanoseconds since the Unix
    /// epoch), how long it took (none when it never ended, e.g. lost), and how it ended.
    pub fn record(&mut self, send_unix_ns: i128, latency_ns: Option<i128>, outcome: &str) {
        let _ = write!(self.block, "{send_unix_ns},");
        if let Some(latency) = latency_ns {
            let _ = write!(self.block, "{latency}");
        }
        let _ = writeln!(self.block, ",{outcome}");
        if self.block.len() >= BLOCK {
            self.write_block();
        }
    }

    fn write_block(&mut self) {
        if !self.block.is_empty() {
            self.file.append(&self.block);
            self.block.clear();
        }
    }
}

impl Drop for RawLines<'_> {
    fn drop(&mut self) {
        self.write_block();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_from_several_loops_stay_whole_under_one_header() {
        let dir = ringd_sys::test_dirs::TempDir::new("ringload-raw");
        let path = dir.join("raw.csv");
        let raw = RawFile::create(&path).unwrap();
        std::thread::scope(|scope| {
            for loop_index in 0..3 {
                let raw = &raw;
                scope.spawn(move || {
                    let mut lines = raw.lines();
                    for i in 0..5_000 {
                        lines.record(1_700_000_000_000_000_000 + i, Some(25_000), "ok");
                    }
                    lines.record(loop_index, None, "lost");
                });
            }
        });
        raw.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(HEADER.trim_end()));
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), 3 * 5_001);
        for row in &rows {
            let fields: Vec<&str> = row.split(',').collect();
            assert_eq!(fields.len(), 3, "{row}");
            assert!(fields[0].parse::<i128>().is_ok(), "{row}");
            assert!(
                matches!((fields[1], fields[2]), ("25000", "ok") | ("", "lost")),
                "{row}"
            );
        }
        assert_eq!(rows.iter().filter(|row| row.ends_with(",,lost")).count(), 3);
    }

    #[test]
    fn a_file_that_cannot_be_created_is_named() {
        let error = RawFile::create(Path::new("/nonexistent-directory/raw.csv"))
            .err()
            .unwrap();
        assert!(format!("{error:#}").contains("creating the --raw file /nonexistent-directory"));
    }
}
