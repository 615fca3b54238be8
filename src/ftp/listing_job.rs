//! A directory listing produced in bounded steps: LIST, NLST, MLSD and STAT hand their lines to the shell a chunk at a time, so `LIST -R` of a large tree is never built in memory and never holds the shard's other sessions up.
//!
//! Memory is the names of the directories being walked (one level at a time, plus the
//! subdirectories still to visit) and one chunk of output. Each step describes at most
//! [`ENTRIES_PER_STEP`] entries, a fraction of a millisecond of system calls.

use std::collections::VecDeque;

use super::filesystem::{is_staging_name, resolve, SessionFs};
use super::listing::{self, EntryInfo, EntryKind, FactSet, ListOptions};
use super::replies;

/// Entries described per step.
pub const ENTRIES_PER_STEP: usize = 256;
/// Deepest directory level `LIST -R` descends to.
const MAX_RECURSION: usize = 16;

/// The line format of a listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    /// `ls -l` lines (LIST, STAT, NLST -l).
    Long,
    /// Names only (NLST).
    Names,
    /// RFC 3659 fact lines (MLSD).
    Machine,
}

/// Where the lines go, which decides how each is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// The data connection: each line ends with CRLF.
    Data,
    /// The middle lines of a multi-line reply on the control connection (`STAT path`).
    Reply(u16),
}

/// Everything about the session a listing needs, taken when it starts.
#[derive(Clone, Debug)]
pub struct ListingSettings {
    pub options: ListOptions,
    pub format: ListFormat,
    pub framing: Framing,
    /// `-R` honoured (`ls_recurse_enable`).
    pub recursive: bool,
    /// Unix seconds, for the `ls -l` choice between a time and a year.
    pub now: i64,
    /// Seconds added to file times in `ls -l` lines (`use_localtime=YES`); MLSD stays in UTC
    /// as RFC 3659 says.
    pub utc_offset: i64,
    pub owners: listing::Owners,
    pub hide_file: Option<Vec<u8>>,
    pub facts: FactSet,
    /// MLSD `perm` facts for directories and for other entries (they depend only on the kind).
    pub directory_perm: String,
    pub file_perm: String,
    /// An anonymous session with `anon_world_readable_only`: directories that are not
    /// world-readable are not listed, as vsftpd decides.
    pub world_readable_only: bool,
}

/// A directory being listed.
struct Frame {
    dir: Vec<u8>,
    /// The directory as the listing names it (`-R` headings, NLST prefixes).
    shown: Vec<u8>,
    depth: usize,
    /// Names still to list, in listing order.
    names: VecDeque<Vec<u8>>,
    /// Directories met so far, to descend into once this one is listed (`-R`).
    subdirectories: Vec<Vec<u8>>,
}

/// A directory `-R` will list once the ones before it are done.
struct Pending {
    dir: Vec<u8>,
    shown: Vec<u8>,
    depth: usize,
}

enum Step {
    Open(Pending),
    List(Frame),
}

/// A listing in progress.
pub struct ListingJob {
    settings: ListingSettings,
    /// The filter of a listing of names in one directory (`LIST *.txt`).
    pattern: Option<Vec<u8>>,
    /// Work still to do, the next on top.
    stack: Vec<Step>,
    /// Whether a `-R` heading was written yet (those after the first are set apart).
    started: bool,
    /// The `-R` heading of the directory just opened, written before its entries.
    heading: Vec<u8>,
}

impl ListingJob {
    /// Starts listing directory `dir`, shown as `shown`. `None` when it cannot be opened
    /// (missing, unreadable, or not world-readable where that is required): vsftpd then sends
    /// an empty listing with its own final reply.
    pub fn directory(
        fs: &dyn SessionFs,
        settings: ListingSettings,
        dir: &[u8],
        shown: Vec<u8>,
    ) -> Option<ListingJob> {
        Self::start(fs, settings, dir, shown, None)
    }

    /// Starts listing the names in `dir` that match `pattern` (a target that is not a
    /// directory: a file name or a glob), shown without a directory prefix. Never recursive.
    pub fn matching(
        fs: &dyn SessionFs,
        mut settings: ListingSettings,
        dir: &[u8],
        pattern: Option<Vec<u8>>,
    ) -> Option<ListingJob> {
        settings.recursive = false;
        Self::start(fs, settings, dir, b".".to_vec(), pattern)
    }

    fn start(
        fs: &dyn SessionFs,
        settings: ListingSettings,
        dir: &[u8],
        shown: Vec<u8>,
        pattern: Option<Vec<u8>>,
    ) -> Option<ListingJob> {
        let mut job = ListingJob {
            settings,
            pattern,
            stack: Vec::new(),
            started: false,
            heading: Vec::new(),
        };
        let frame = job.open(
            fs,
            Pending {
                dir: dir.to_vec(),
                shown,
                depth: 0,
            },
        )?;
        job.stack.push(Step::List(frame));
        Some(job)
    }

    /// Appends the next lines to `out`; false once the listing is complete and nothing was
    /// added.
    pub fn next_chunk(&mut self, fs: &dyn SessionFs, out: &mut Vec<u8>) -> bool {
        let before = out.len();
        out.append(&mut self.heading);
        let mut work = 0;
        while work < ENTRIES_PER_STEP {
            let Some(step) = self.stack.pop() else {
                break;
            };
            let mut frame = match step {
                Step::List(frame) => frame,
                Step::Open(pending) => {
                    work += 1;
                    match self.open(fs, pending) {
                        Some(frame) => {
                            out.append(&mut self.heading);
                            frame
                        }
                        // A subdirectory that cannot be opened is left out, heading and all.
                        None => continue,
                    }
                }
            };
            if frame.names.is_empty() {
                self.descend(frame);
                continue;
            }
            let take = frame.names.len().min(ENTRIES_PER_STEP - work);
            let names: Vec<Vec<u8>> = frame.names.drain(..take).collect();
            work += take;
            for entry in self.stat_names(fs, &frame.dir, names) {
                if self.settings.recursive
                    && entry.kind == EntryKind::Dir
                    && entry.name != b"."
                    && entry.name != b".."
                {
                    frame.subdirectories.push(entry.name.clone());
                }
                self.render(entry, &frame.shown, out);
            }
            self.stack.push(Step::List(frame));
        }
        out.len() > before || !self.stack.is_empty()
    }

    /// Reads a directory's names, filtered and in listing order, and writes its `-R` heading.
    fn open(&mut self, fs: &dyn SessionFs, pending: Pending) -> Option<Frame> {
        let Pending { dir, shown, depth } = pending;
        let this = fs.stat_follow(&dir).ok()?;
        if self.settings.world_readable_only && this.mode & 0o004 == 0 {
            return None;
        }
        let mut names = fs.read_dir_names(&dir).ok()?;
        if self.settings.options.all {
            names.push(b".".to_vec());
            names.push(b"..".to_vec());
        }
        let pattern = self.pattern.as_deref();
        names.retain(|name| {
            self.settings.options.includes(name, pattern, false)
                && !is_staging_name(name)
                && !self.hidden(name)
        });
        let names = self.order(fs, &dir, names);
        let frame = Frame {
            dir,
            shown,
            depth,
            names: names.into(),
            subdirectories: Vec::new(),
        };
        if self.settings.recursive {
            let mut heading = Vec::new();
            if self.started {
                self.push_line(&mut heading, b"");
            }
            let mut line = frame.shown.clone();
            line.push(b':');
            self.push_line(&mut heading, &line);
            self.heading = heading;
            self.started = true;
        }
        Some(frame)
    }

    /// vsftpd's order: by name, byte by byte (`-r` reverses); with `-t` by modification time,
    /// newest first, which needs every entry's time before the first line.
    fn order(&self, fs: &dyn SessionFs, dir: &[u8], mut names: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        let options = &self.settings.options;
        if !options.by_time {
            names.sort_unstable();
            if options.reverse {
                names.reverse();
            }
            return names;
        }
        let mut entries = self.stat_names(fs, dir, names);
        listing::sort_entries(&mut entries, options);
        entries.into_iter().map(|entry| entry.name).collect()
    }

    /// lstat of each name; `.` and `..` are the directory itself and its parent, followed.
    fn stat_names(&self, fs: &dyn SessionFs, dir: &[u8], names: Vec<Vec<u8>>) -> Vec<EntryInfo> {
        let dots = |name: &[u8]| name == b"." || name == b"..";
        if !names.iter().any(|name| dots(name)) {
            return fs.stat_entries(dir, &names).unwrap_or_default();
        }
        let mut out = Vec::with_capacity(names.len());
        let mut plain = Vec::new();
        let flush = |plain: &mut Vec<Vec<u8>>, out: &mut Vec<EntryInfo>| {
            if !plain.is_empty() {
                out.extend(fs.stat_entries(dir, plain).unwrap_or_default());
                plain.clear();
            }
        };
        for name in names {
            if !dots(&name) {
                plain.push(name);
                continue;
            }
            flush(&mut plain, &mut out);
            let this = fs.stat_follow(dir);
            let described = if name == b"." {
                this
            } else {
                fs.stat_follow(&resolve(dir, b"..")).or(this)
            };
            if let Ok(entry) = described {
                out.push(EntryInfo { name, ..entry });
            }
        }
        flush(&mut plain, &mut out);
        out
    }

    /// After a directory's last entry: its subdirectories come next (`-R`), first one first.
    fn descend(&mut self, frame: Frame) {
        if frame.depth >= MAX_RECURSION {
            return;
        }
        for name in frame.subdirectories.into_iter().rev() {
            let mut shown = frame.shown.clone();
            shown.push(b'/');
            shown.extend_from_slice(&name);
            self.stack.push(Step::Open(Pending {
                dir: resolve(&frame.dir, &name),
                shown,
                depth: frame.depth + 1,
            }));
        }
    }

    fn hidden(&self, name: &[u8]) -> bool {
        self.settings
            .hide_file
            .as_ref()
            .is_some_and(|pattern| listing::caught_by_filter(pattern, name))
    }

    fn render(&self, mut entry: EntryInfo, listed_dir: &[u8], out: &mut Vec<u8>) {
        let settings = &self.settings;
        let mut line = Vec::with_capacity(80 + entry.name.len());
        match settings.format {
            ListFormat::Machine => {
                let perm = if entry.kind == EntryKind::Dir {
                    &settings.directory_perm
                } else {
                    &settings.file_perm
                };
                line = listing::mlsx_facts(&entry, perm, settings.facts);
            }
            ListFormat::Long | ListFormat::Names => {
                // Both shifted: the time-or-year choice compares the true times, as vsftpd's.
                entry.mtime = entry.mtime.saturating_add(settings.utc_offset);
                listing::push_list_line(
                    &mut line,
                    &entry,
                    &settings.options,
                    listed_dir,
                    settings.now.saturating_add(settings.utc_offset),
                    settings.owners,
                );
            }
        }
        self.push_line(out, &line);
    }

    fn push_line(&self, out: &mut Vec<u8>, line: &[u8]) {
        match self.settings.framing {
            Framing::Data => {
                out.extend_from_slice(line);
                out.extend_from_slice(b"\r\n");
            }
            Framing::Reply(code) => replies::push_middle_line(out, code, line),
        }
    }
}
