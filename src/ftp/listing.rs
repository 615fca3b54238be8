//! Directory listings without I/O: LIST/NLST options, vsftpd's `ls -l` lines, MLSD/MLST facts, globbing and order.
//!
//! Names are bytes (see `telnet`): a listing must give back exactly the bytes a later RETR uses.
//! Times are Unix seconds shown in UTC, vsftpd's default; for `use_localtime=YES` the caller
//! shifts both `mtime` and `now` by the UTC offset.

use std::io::Write;

use crate::calendar::{civil_from_days, days_from_civil, MONTHS, SECS_PER_DAY};
use crate::wildcard;

const S_IFMT: u32 = 0o170_000;
const S_IFSOCK: u32 = 0o140_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFREG: u32 = 0o100_000;
const S_IFBLK: u32 = 0o060_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFCHR: u32 = 0o020_000;
const S_IFIFO: u32 = 0o010_000;

/// vsftpd shows `HH:MM` for files modified up to this long ago (182 days), the year otherwise.
const RECENT_SECONDS: i64 = 60 * 60 * 24 * 182;

/// Alternatives a `{a,b}` pattern may try before matching gives up (vsftpd: 1000 steps).
const PATTERN_BUDGET: u32 = 1000;

/// What a directory entry is, as `lstat` sees it (links are not followed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    /// `target` as `readlink` returns it; empty if it could not be read (then no ` -> `).
    Symlink {
        target: Vec<u8>,
    },
    /// FIFO, socket or device; `mode` tells which.
    Other,
}

/// One directory entry, from `lstat`, plus the names of its owner and group if known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryInfo {
    pub name: Vec<u8>,
    pub kind: EntryKind,
    /// Full `st_mode`, file-type bits included: the first letter of `ls -l` comes from them.
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    /// Shown instead of `uid` when set (vsftpd's `text_userdb_names=YES`).
    pub owner: Option<String>,
    pub group: Option<String>,
    pub size: u64,
    pub mtime: i64,
    pub dev: u64,
    pub ino: u64,
}

/// The command a listing is for; it decides the defaults vsftpd applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// Long lines on the data connection.
    List,
    /// Names only, unless `-l`.
    Nlst,
    /// `STAT path`: long lines on the control connection, dot files included.
    Stat,
}

/// What a LIST/NLST/STAT argument asks for, as vsftpd reads it: options only from a first word
/// starting with `-` (`LIST -la pub` works, `LIST pub -la` looks for a file named that).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// `-a`: dot files too, `.` and `..` included.
    pub all: bool,
    /// `ls -l` lines: always for LIST and STAT, with `-l` for NLST.
    pub long: bool,
    /// `-R`, honoured only with `ls_recurse_enable`. vsftpd then writes `dir:` before the
    /// first listing and a blank line plus `dir/sub:` before each subdirectory's, recursing
    /// into the directories of the listing (except `.` and `..`) in listing order.
    pub recursive: bool,
    /// `-r`: reverse order.
    pub reverse: bool,
    /// `-t`: by modification time, newest first.
    pub by_time: bool,
    /// `-F`: `/` after directories (and `@` after links in short lines).
    pub classify: bool,
    /// What follows the options: a directory to list, or a file name or pattern (see
    /// [`split_list_target`]). `None` for the current directory.
    pub target: Option<Vec<u8>>,
}

/// Reads a LIST/NLST/STAT argument.
pub fn parse_list_args(args: &[u8], kind: ListKind) -> ListOptions {
    let (flags, target): (&[u8], &[u8]) = match args.strip_prefix(b"-") {
        Some(rest) => match rest.iter().position(|&byte| byte == b' ') {
            Some(space) => (&rest[..space], &rest[space + 1..]),
            None => (rest, b""),
        },
        None => (b"", args),
    };
    let has = |flag: u8| flags.contains(&flag);
    ListOptions {
        all: has(b'a') || kind == ListKind::Stat,
        long: has(b'l') || kind != ListKind::Nlst,
        recursive: has(b'R'),
        reverse: has(b'r'),
        by_time: has(b't'),
        classify: has(b'F'),
        target: (!target.is_empty()).then(|| target.to_vec()),
    }
}

/// For a target that is not a directory: the directory to read and the pattern to filter its
/// names with. `pub/*.txt` gives (`pub`, `*.txt`), `/x` gives (`/`, `x`), `x` gives (`.`, `x`);
/// `gone/` gives (`gone`, no pattern), listing all of it if it opens after all. vsftpd matches
/// only within the last component.
pub fn split_list_target(target: &[u8]) -> (Vec<u8>, Option<Vec<u8>>) {
    let (dir, pattern) = match target.iter().rposition(|&byte| byte == b'/') {
        Some(0) => (&b"/"[..], &target[1..]),
        Some(slash) => (&target[..slash], &target[slash + 1..]),
        None => (&b"."[..], target),
    };
    (
        dir.to_vec(),
        (!pattern.is_empty()).then(|| pattern.to_vec()),
    )
}

impl ListOptions {
    /// Whether `name` belongs in the listing. `pattern` is the filter from
    /// [`split_list_target`] (`None` when listing a whole directory); a pattern starting with
    /// `.` implies `-a`, as in vsftpd. `force_dot_files` shows dot files but never `.`/`..`
    /// without `-a`. `hide_file` is the caller's to apply.
    pub fn includes(&self, name: &[u8], pattern: Option<&[u8]>, force_dot_files: bool) -> bool {
        let all = self.all || pattern.is_some_and(|pattern| pattern.starts_with(b"."));
        if name.starts_with(b".") && !all && (!force_dot_files || name == b"." || name == b"..") {
            return false;
        }
        pattern.is_none_or(|pattern| matches_pattern(pattern, name))
    }
}

/// Puts entries in vsftpd's order: by name, byte by byte (`-r` reverses); with `-t` newest
/// first (`-rt` oldest first), equal times by name.
pub fn sort_entries(entries: &mut [EntryInfo], options: &ListOptions) {
    if options.by_time {
        entries.sort_by(|a, b| {
            let by_time = if options.reverse {
                a.mtime.cmp(&b.mtime)
            } else {
                b.mtime.cmp(&a.mtime)
            };
            by_time.then_with(|| a.name.cmp(&b.name))
        });
    } else if options.reverse {
        entries.sort_by(|a, b| b.name.cmp(&a.name));
    } else {
        entries.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

/// Appends one listing line without CRLF: the `ls -l` line if `options.long`, else the name
/// (NLST), prefixed with the listed directory unless it is `.`, as vsftpd does.
pub fn push_list_line(
    out: &mut Vec<u8>,
    entry: &EntryInfo,
    options: &ListOptions,
    listed_dir: &[u8],
    now: i64,
    owners: Owners,
) {
    if options.long {
        push_ls_long(out, entry, now, owners, options.classify);
        return;
    }
    if listed_dir != b"." {
        out.extend_from_slice(listed_dir);
        if !listed_dir.ends_with(b"/") {
            out.push(b'/');
        }
    }
    out.extend_from_slice(&entry.name);
    if options.classify {
        match entry.kind {
            EntryKind::Dir => out.push(b'/'),
            EntryKind::Symlink { .. } => out.push(b'@'),
            EntryKind::File | EntryKind::Other => {}
        }
    }
}

/// What the owner and group columns of `ls -l` lines show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owners {
    /// Numeric ids, vsftpd's default.
    Ids,
    /// Names where known (`text_userdb_names`).
    Names,
    /// `ftp` for both (`hide_ids`).
    Hidden,
}

impl Owners {
    pub fn from_config(config: &crate::config::vsftpd::FtpConfig) -> Owners {
        if config.hide_ids {
            Owners::Hidden
        } else if config.text_userdb_names {
            Owners::Names
        } else {
            Owners::Ids
        }
    }
}

/// vsftpd's `ls -l` line, without CRLF:
/// `-rw-r--r--    1 1000     1000         4096 Mar 03 12:00 name`.
pub fn ls_long(entry: &EntryInfo, now: i64, owners: Owners) -> Vec<u8> {
    let mut line = Vec::with_capacity(64 + entry.name.len());
    push_ls_long(&mut line, entry, now, owners, false);
    line
}

/// [`ls_long`] into a buffer; `classify` adds `-F`'s `/` after directories.
pub fn push_ls_long(
    out: &mut Vec<u8>,
    entry: &EntryInfo,
    now: i64,
    owners: Owners,
    classify: bool,
) {
    push_permissions(out, entry.mode);
    out.push(b' ');
    // Widths as vsftpd pads them: links 4 right, owner and group 8 left, size 8 right.
    push_padded(out, Decimal::new(entry.nlink).as_bytes(), 4, Align::Right);
    out.push(b' ');
    for (name, id) in [(&entry.owner, entry.uid), (&entry.group, entry.gid)] {
        let id = Decimal::new(id.into());
        let shown = match (owners, name) {
            (Owners::Hidden, _) => b"ftp".as_slice(),
            (Owners::Names, Some(name)) => name.as_bytes(),
            _ => id.as_bytes(),
        };
        push_padded(out, shown, 8, Align::Left);
        out.push(b' ');
    }
    push_padded(out, Decimal::new(entry.size).as_bytes(), 8, Align::Right);
    out.push(b' ');
    push_ls_date(out, entry.mtime, now);
    out.push(b' ');
    out.extend_from_slice(&entry.name);
    if let EntryKind::Symlink { target } = &entry.kind {
        if !target.is_empty() {
            out.extend_from_slice(b" -> ");
            out.extend_from_slice(target);
        }
    }
    if classify && entry.kind == EntryKind::Dir {
        out.push(b'/');
    }
}

fn push_permissions(out: &mut Vec<u8>, mode: u32) {
    out.push(match mode & S_IFMT {
        S_IFREG => b'-',
        S_IFDIR => b'd',
        S_IFLNK => b'l',
        S_IFIFO => b'p',
        S_IFSOCK => b's',
        S_IFCHR => b'c',
        S_IFBLK => b'b',
        _ => b'?',
    });
    // Owner, group, other: rwx each, with setuid/setgid/sticky in the x column.
    for (shift, special, special_letter) in
        [(6, 0o4000, b's'), (3, 0o2000, b's'), (0, 0o1000, b't')]
    {
        let bits = (mode >> shift) & 0o7;
        out.push(if bits & 0o4 != 0 { b'r' } else { b'-' });
        out.push(if bits & 0o2 != 0 { b'w' } else { b'-' });
        let executable = bits & 0o1 != 0;
        out.push(match (mode & special != 0, executable) {
            (true, true) => special_letter,
            (true, false) => special_letter.to_ascii_uppercase(),
            (false, true) => b'x',
            (false, false) => b'-',
        });
    }
}

/// Formats straight into the line, without a temporary String per field.
fn push_fmt(out: &mut Vec<u8>, args: std::fmt::Arguments) {
    // Writing to a Vec cannot fail.
    let _ = out.write_fmt(args);
}

/// A number's decimal digits on the stack: `ls -l` lines are formatted by the thousand, and
/// `std::fmt` with padding costs more than the rest of the line.
struct Decimal {
    digits: [u8; 20],
    start: usize,
}

impl Decimal {
    fn new(mut value: u64) -> Self {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break Decimal { digits, start };
            }
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.digits[self.start..]
    }
}

enum Align {
    Left,
    Right,
}

fn push_padded(out: &mut Vec<u8>, text: &[u8], width: usize, align: Align) {
    let padding = width.saturating_sub(text.len());
    if let Align::Left = align {
        out.extend_from_slice(text);
    }
    out.resize(out.len() + padding, b' ');
    if let Align::Right = align {
        out.extend_from_slice(text);
    }
}

fn push_two_digits(out: &mut Vec<u8>, value: u8) {
    out.extend_from_slice(&[b'0' + value / 10, b'0' + value % 10]);
}

/// `Mar 03 12:00` within 182 days before `now`, else `Mar 03  2019` (also for future times).
/// The day is zero-padded: vsftpd uses strftime's `%d`, unlike GNU ls.
fn push_ls_date(out: &mut Vec<u8>, mtime: i64, now: i64) {
    let time = CivilTime::from_unix(mtime);
    let month = MONTHS[usize::from(time.month - 1)];
    let recent = mtime <= now && now.saturating_sub(mtime) <= RECENT_SECONDS;
    out.extend_from_slice(month.as_bytes());
    out.push(b' ');
    push_two_digits(out, time.day);
    if recent {
        out.push(b' ');
        push_two_digits(out, time.hour);
        out.push(b':');
        push_two_digits(out, time.minute);
    } else {
        push_fmt(out, format_args!("  {}", time.year));
    }
}

/// `YYYYMMDDHHMMSS`, the form of MDTM replies and of MLSx `modify`.
pub fn mdtm_timestamp(unix: i64) -> String {
    let mut digits = Vec::with_capacity(14);
    push_timestamp_digits(&mut digits, unix);
    String::from_utf8(digits).expect("digits are ASCII")
}

fn push_timestamp_digits(out: &mut Vec<u8>, unix: i64) {
    let time = CivilTime::from_unix(unix);
    push_fmt(
        out,
        format_args!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            time.year, time.month, time.day, time.hour, time.minute, time.second
        ),
    );
}

/// Seconds since the epoch for a UTC calendar time. Out-of-range fields carry over the way
/// mktime(3) normalises them (month 13 is January of the next year, day 0 the last of the
/// previous month), which is how vsftpd reads MDTM's time.
pub(crate) fn unix_time_from_civil(
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
) -> i64 {
    let months = year * 12 + (month - 1);
    let (year, month) = (months.div_euclid(12), months.rem_euclid(12) + 1);
    let days = days_from_civil(year, month) + day - 1;
    days * SECS_PER_DAY + hour * 3600 + minute * 60 + second
}

struct CivilTime {
    year: i64,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

impl CivilTime {
    fn from_unix(unix: i64) -> Self {
        let (year, month, day) = civil_from_days(unix.div_euclid(SECS_PER_DAY));
        let seconds = unix.rem_euclid(SECS_PER_DAY);
        // Every narrowed value is within its field's range by construction.
        CivilTime {
            year,
            month: month as u8,
            day: day as u8,
            hour: (seconds / 3600) as u8,
            minute: (seconds / 60 % 60) as u8,
            second: (seconds % 60) as u8,
        }
    }
}

/// Whether `name` matches `pattern`, vsftpd's globbing (also what `deny_file` and `hide_file`
/// use), over bytes as vsftpd's `vsf_filename_passes_filter`: `*` any run of bytes, `?` exactly
/// one byte (so a two-byte UTF-8 `é` takes `??`), `{a,b}` alternatives, each followed by the
/// rest of the pattern (not nested: the first `}` closes); every other byte, an unclosed `{`
/// included, is literal. `/` is an ordinary byte: `*` runs over it. Matching is over the whole
/// name.
///
/// Unlike vsftpd's matcher, which never backtracks, this is a true glob: vsftpd finds no
/// match of `*.mp3` in `a.mp3.mp3`, so such a name slipped past `deny_file={*.mp3}`. And
/// vsftpd stops reading alternatives at an empty one (`file{,.bak}` matches nothing there);
/// here an empty alternative matches the empty string. Both only ever match more. Like
/// vsftpd, a pattern needing more than 1000 alternatives matches nothing.
pub fn matches_pattern(pattern: &[u8], name: &[u8]) -> bool {
    let mut budget = PATTERN_BUDGET;
    matches_with_braces(pattern, name, &mut budget)
}

fn matches_with_braces(pattern: &[u8], name: &[u8], budget: &mut u32) -> bool {
    let open = pattern.iter().position(|&byte| byte == b'{');
    let close = open.and_then(|open| {
        pattern[open..]
            .iter()
            .position(|&byte| byte == b'}')
            .map(|at| open + at)
    });
    let (Some(open), Some(close)) = (open, close) else {
        return wildcard::matches_bytes(pattern, name);
    };
    let (prefix, rest) = (&pattern[..open], &pattern[close + 1..]);
    for alternative in pattern[open + 1..close].split(|&byte| byte == b',') {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        let expanded = [prefix, alternative, rest].concat();
        if matches_with_braces(&expanded, name, budget) {
            return true;
        }
    }
    false
}

/// vsftpd's `deny_file` and `hide_file` test (access.c): `name` is caught when `pattern`
/// matches it ([`matches_pattern`]) or when the pattern's text occurs in it as written, so
/// `deny_file=secret` also catches `topsecret.txt`.
pub fn caught_by_filter(pattern: &[u8], name: &[u8]) -> bool {
    matches_pattern(pattern, name)
        || (!pattern.is_empty() && name.windows(pattern.len()).any(|part| part == pattern))
}

/// The RFC 3659 facts ringd offers, and which of them a session shows (`OPTS MLST`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FactSet(u8);

const FACT_NAMES: [&str; 6] = ["type", "size", "modify", "perm", "unique", "UNIX.mode"];

impl FactSet {
    pub const ALL: FactSet = FactSet(0b11_1111);
    const TYPE: u8 = 1;
    const SIZE: u8 = 1 << 1;
    const MODIFY: u8 = 1 << 2;
    const PERM: u8 = 1 << 3;
    const UNIQUE: u8 = 1 << 4;
    const UNIX_MODE: u8 = 1 << 5;

    /// Reads `OPTS MLST`'s list (`type;size;`): names case-insensitive, unknown ones ignored,
    /// an empty list selects none.
    pub fn parse(list: &str) -> FactSet {
        let mut bits = 0;
        for requested in list.split(';') {
            if let Some(index) = FACT_NAMES
                .iter()
                .position(|name| name.eq_ignore_ascii_case(requested.trim()))
            {
                bits |= 1 << index;
            }
        }
        FactSet(bits)
    }

    fn has(self, fact: u8) -> bool {
        self.0 & fact != 0
    }

    /// For FEAT: every fact, `*` after those shown (`type*;size*;...;UNIX.mode*;`).
    pub fn feature_list(self) -> String {
        let mut list = String::new();
        for (index, name) in FACT_NAMES.iter().enumerate() {
            list.push_str(name);
            if self.has(1 << index) {
                list.push('*');
            }
            list.push(';');
        }
        list
    }

    /// For the OPTS MLST reply: the facts shown (`type;size;`).
    pub fn enabled_list(self) -> String {
        let mut list = String::new();
        for (index, name) in FACT_NAMES.iter().enumerate() {
            if self.has(1 << index) {
                list.push_str(name);
                list.push(';');
            }
        }
        list
    }
}

/// An MLSD line or MLST's fact line, without CRLF:
/// `type=file;size=12;modify=20240101120000;perm=r;unique=803U1f;UNIX.mode=0644; name`.
///
/// `perm` is RFC 3659's letters for what this session may do with the entry (the caller knows
/// write_enable and friends). The name `.` is typed `cdir`, `..` `pdir`; a symlink is
/// `OS.unix=slink:target`, and has a size, as other non-directories do. Set `name` to the path
/// as the client gave it for MLST, the bare name for MLSD.
pub fn mlsx_facts(entry: &EntryInfo, perm: &str, facts: FactSet) -> Vec<u8> {
    let mut line = Vec::with_capacity(96 + entry.name.len());
    if facts.has(FactSet::TYPE) {
        line.extend_from_slice(b"type=");
        match &entry.kind {
            EntryKind::File => line.extend_from_slice(b"file"),
            EntryKind::Dir if entry.name == b"." => line.extend_from_slice(b"cdir"),
            EntryKind::Dir if entry.name == b".." => line.extend_from_slice(b"pdir"),
            EntryKind::Dir => line.extend_from_slice(b"dir"),
            EntryKind::Symlink { target } => {
                line.extend_from_slice(b"OS.unix=slink");
                // A fact value cannot hold `;`, and no line may hold CR or LF.
                if !target.is_empty()
                    && !target
                        .iter()
                        .any(|byte| matches!(byte, b';' | b'\r' | b'\n'))
                {
                    line.push(b':');
                    line.extend_from_slice(target);
                }
            }
            EntryKind::Other => line.extend_from_slice(special_file_type(entry.mode).as_bytes()),
        }
        line.push(b';');
    }
    if facts.has(FactSet::SIZE) && entry.kind != EntryKind::Dir {
        push_fmt(&mut line, format_args!("size={};", entry.size));
    }
    if facts.has(FactSet::MODIFY) {
        line.extend_from_slice(b"modify=");
        push_timestamp_digits(&mut line, entry.mtime);
        line.push(b';');
    }
    if facts.has(FactSet::PERM) {
        push_fmt(&mut line, format_args!("perm={perm};"));
    }
    if facts.has(FactSet::UNIQUE) {
        push_fmt(
            &mut line,
            format_args!("unique={:x}U{:x};", entry.dev, entry.ino),
        );
    }
    if facts.has(FactSet::UNIX_MODE) {
        push_fmt(
            &mut line,
            format_args!("UNIX.mode={:04o};", entry.mode & 0o7777),
        );
    }
    line.push(b' ');
    line.extend_from_slice(&entry.name);
    line
}

fn special_file_type(mode: u32) -> &'static str {
    match mode & S_IFMT {
        S_IFIFO => "OS.unix=fifo",
        S_IFSOCK => "OS.unix=socket",
        S_IFCHR => "OS.unix=chr",
        S_IFBLK => "OS.unix=blk",
        _ => "OS.unix=unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2020-07-14 12:38:00 UTC, the seed's `anaconda-ks.cfg`.
    const JUL_14_2020_1238: i64 = 1_594_730_280;
    const DAY: i64 = 86_400;

    fn entry(name: &str, kind: EntryKind, mode: u32) -> EntryInfo {
        EntryInfo {
            name: name.as_bytes().to_vec(),
            kind,
            mode,
            nlink: 1,
            uid: 0,
            gid: 0,
            owner: None,
            group: None,
            size: 0,
            mtime: JUL_14_2020_1238,
            dev: 0x803,
            ino: 0x1f,
        }
    }

    fn file(name: &str, mode: u32, size: u64) -> EntryInfo {
        EntryInfo {
            size,
            ..entry(name, EntryKind::File, S_IFREG | mode)
        }
    }

    fn dir(name: &str) -> EntryInfo {
        EntryInfo {
            nlink: 2,
            size: 6,
            ..entry(name, EntryKind::Dir, S_IFDIR | 0o755)
        }
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn seed_file_line() {
        let anaconda = file("anaconda-ks.cfg", 0o600, 1603);
        assert_eq!(
            text(ls_long(
                &anaconda,
                JUL_14_2020_1238 + 13 * DAY,
                Owners::Names
            )),
            "-rw-------    1 0        0            1603 Jul 14 12:38 anaconda-ks.cfg"
        );
    }

    #[test]
    fn seed_directory_and_large_file_lines() {
        let jan_04_2021_0430 = 1_609_734_600;
        let desktop = EntryInfo {
            mtime: jan_04_2021_0430,
            ..dir("Desktop")
        };
        assert_eq!(
            text(ls_long(&desktop, jan_04_2021_0430 + DAY, Owners::Names)),
            "drwxr-xr-x    2 0        0               6 Jan 04 04:30 Desktop"
        );
        let big = EntryInfo {
            mtime: jan_04_2021_0430 + 15 * DAY + 5160,
            ..file("server1.txt", 0o644, 1_048_576)
        };
        assert_eq!(
            text(ls_long(&big, jan_04_2021_0430 + 20 * DAY, Owners::Names)),
            "-rw-r--r--    1 0        0         1048576 Jan 19 05:56 server1.txt"
        );
    }

    #[test]
    fn symlink_shows_its_target() {
        let link = entry(
            "latest",
            EntryKind::Symlink {
                target: b"releases/2.0".to_vec(),
            },
            S_IFLNK | 0o777,
        );
        assert_eq!(
            text(ls_long(&link, JUL_14_2020_1238, Owners::Names)),
            "lrwxrwxrwx    1 0        0               0 Jul 14 12:38 latest -> releases/2.0"
        );
        let unreadable = entry(
            "dangling",
            EntryKind::Symlink { target: Vec::new() },
            S_IFLNK | 0o777,
        );
        assert!(text(ls_long(&unreadable, JUL_14_2020_1238, Owners::Names)).ends_with(" dangling"));
    }

    #[test]
    fn old_and_future_files_show_the_year_with_two_spaces() {
        let old = file("old.tar", 0o644, 10);
        let half_a_year_later = JUL_14_2020_1238 + 183 * DAY;
        assert_eq!(
            text(ls_long(&old, half_a_year_later, Owners::Names)),
            "-rw-r--r--    1 0        0              10 Jul 14  2020 old.tar"
        );
        assert_eq!(
            text(ls_long(&old, JUL_14_2020_1238 - 60, Owners::Names)),
            "-rw-r--r--    1 0        0              10 Jul 14  2020 old.tar"
        );
    }

    #[test]
    fn recent_boundary_is_182_days() {
        let at_limit = JUL_14_2020_1238 + 182 * DAY;
        assert!(
            text(ls_long(&file("f", 0o644, 0), at_limit, Owners::Names)).contains("Jul 14 12:38")
        );
        assert!(
            text(ls_long(&file("f", 0o644, 0), at_limit + 1, Owners::Names))
                .contains("Jul 14  2020")
        );
    }

    #[test]
    fn hide_ids_and_names() {
        let mut owned = file("a", 0o644, 1);
        owned.uid = 1000;
        owned.gid = 100;
        assert!(text(ls_long(&owned, JUL_14_2020_1238, Owners::Names))
            .starts_with("-rw-r--r--    1 1000     100      "));
        assert!(text(ls_long(&owned, JUL_14_2020_1238, Owners::Hidden))
            .starts_with("-rw-r--r--    1 ftp      ftp      "));
        owned.owner = Some("alice".into());
        owned.group = Some("a-very-long-group".into());
        assert_eq!(
            text(ls_long(&owned, JUL_14_2020_1238, Owners::Names)),
            "-rw-r--r--    1 alice    a-very-long-group        1 Jul 14 12:38 a"
        );
        // vsftpd's default shows ids even where names are known.
        assert!(text(ls_long(&owned, JUL_14_2020_1238, Owners::Ids))
            .starts_with("-rw-r--r--    1 1000     100      "));
    }

    #[test]
    fn wide_fields_push_the_line_right() {
        let mut huge = file("disk.img", 0o644, 123_456_789_012);
        huge.nlink = 12_345;
        assert_eq!(
            text(ls_long(&huge, JUL_14_2020_1238, Owners::Names)),
            "-rw-r--r-- 12345 0        0        123456789012 Jul 14 12:38 disk.img"
        );
    }

    #[test]
    fn permission_letters() {
        let line = |mode: u32| {
            text(ls_long(
                &entry("x", EntryKind::Other, mode),
                JUL_14_2020_1238,
                Owners::Names,
            ))[..10]
                .to_owned()
        };
        assert_eq!(line(S_IFREG | 0o4755), "-rwsr-xr-x");
        assert_eq!(line(S_IFREG | 0o4644), "-rwSr--r--");
        assert_eq!(line(S_IFDIR | 0o2775), "drwxrwsr-x");
        assert_eq!(line(S_IFDIR | 0o1777), "drwxrwxrwt");
        assert_eq!(line(S_IFDIR | 0o1776), "drwxrwxrwT");
        assert_eq!(line(S_IFIFO | 0o644), "prw-r--r--");
        assert_eq!(line(S_IFSOCK | 0o755), "srwxr-xr-x");
        assert_eq!(line(S_IFCHR | 0o666), "crw-rw-rw-");
        assert_eq!(line(S_IFBLK | 0o660), "brw-rw----");
        assert_eq!(line(0o644), "?rw-r--r--");
    }

    #[test]
    fn dates_across_the_calendar() {
        let date = |mtime: i64| {
            let mut out = Vec::new();
            push_ls_date(&mut out, mtime, i64::MAX);
            text(out)
        };
        assert_eq!(date(0), "Jan 01  1970");
        assert_eq!(date(951_782_400), "Feb 29  2000");
        // 2100 is not a leap year.
        assert_eq!(date(4_107_542_399), "Feb 28  2100");
        assert_eq!(date(4_107_542_400), "Mar 01  2100");
        assert_eq!(date(-1), "Dec 31  1969");
        assert_eq!(mdtm_timestamp(1_709_208_000), "20240229120000");
        assert_eq!(mdtm_timestamp(253_402_300_799), "99991231235959");
    }

    #[test]
    fn civil_round_trip() {
        for unix in [
            0,
            59,
            86_399,
            951_782_400,
            JUL_14_2020_1238,
            4_102_444_800,
            -86_401,
        ] {
            let time = CivilTime::from_unix(unix);
            let back = unix_time_from_civil(
                time.year,
                time.month.into(),
                time.day.into(),
                time.hour.into(),
                time.minute.into(),
                time.second.into(),
            );
            assert_eq!(back, unix);
        }
        // mktime-style carrying: month 13, day 0.
        assert_eq!(
            unix_time_from_civil(2019, 13, 1, 0, 0, 0),
            unix_time_from_civil(2020, 1, 1, 0, 0, 0)
        );
        assert_eq!(
            unix_time_from_civil(2020, 3, 0, 0, 0, 0),
            unix_time_from_civil(2020, 2, 29, 0, 0, 0)
        );
    }

    #[test]
    fn list_args_as_vsftpd_reads_them() {
        assert_eq!(
            parse_list_args(b"", ListKind::List),
            ListOptions {
                long: true,
                ..ListOptions::default()
            }
        );
        assert_eq!(
            parse_list_args(b"-la", ListKind::List),
            ListOptions {
                all: true,
                long: true,
                ..ListOptions::default()
            }
        );
        assert_eq!(
            parse_list_args(b"-aR pub", ListKind::List),
            ListOptions {
                all: true,
                long: true,
                recursive: true,
                target: Some(b"pub".to_vec()),
                ..ListOptions::default()
            }
        );
        assert_eq!(
            parse_list_args(b"*.txt", ListKind::Nlst),
            ListOptions {
                target: Some(b"*.txt".to_vec()),
                ..ListOptions::default()
            }
        );
        // Options after the name are part of the name.
        assert_eq!(
            parse_list_args(b"pub -la", ListKind::List).target,
            Some(b"pub -la".to_vec())
        );
        // Only the first space separates; the rest is the name.
        assert_eq!(
            parse_list_args(b"-l my file", ListKind::Nlst).target,
            Some(b"my file".to_vec())
        );
        let nlst_long = parse_list_args(b"-lrtF", ListKind::Nlst);
        assert!(
            nlst_long.long
                && nlst_long.reverse
                && nlst_long.by_time
                && nlst_long.classify
                && !nlst_long.all
        );
        let stat = parse_list_args(b"pub", ListKind::Stat);
        assert!(stat.all && stat.long);
        assert_eq!(parse_list_args(b"-", ListKind::List).target, None);
    }

    #[test]
    fn list_targets_split_at_the_last_slash() {
        let split = |target: &[u8], dir: &[u8], pattern: Option<&[u8]>| {
            assert_eq!(
                split_list_target(target),
                (dir.to_vec(), pattern.map(<[u8]>::to_vec))
            );
        };
        split(b"pub/*.txt", b"pub", Some(b"*.txt"));
        split(b"/.message", b"/", Some(b".message"));
        split(b"a/b/c", b"a/b", Some(b"c"));
        split(b"readme", b".", Some(b"readme"));
        split(b"gone/", b"gone", None);
    }

    #[test]
    fn dot_files_and_filters() {
        let plain = ListOptions::default();
        let all = ListOptions {
            all: true,
            ..ListOptions::default()
        };
        assert!(!plain.includes(b".hidden", None, false));
        assert!(plain.includes(b"visible", None, false));
        assert!(all.includes(b".", None, false) && all.includes(b"..", None, false));
        // force_dot_files shows dot files but not . and ..
        assert!(plain.includes(b".hidden", None, true));
        assert!(!plain.includes(b".", None, true) && !plain.includes(b"..", None, true));
        // A filter starting with a dot implies -a.
        assert!(plain.includes(b".message", Some(b".mess*"), false));
        assert!(!plain.includes(b"readme", Some(b"*.txt"), false));
        assert!(plain.includes(b"a.txt", Some(b"*.txt"), false));
    }

    #[test]
    fn nlst_lines_carry_the_listed_directory() {
        let options = ListOptions::default();
        let mut out = Vec::new();
        push_list_line(
            &mut out,
            &file("a.txt", 0o644, 1),
            &options,
            b".",
            0,
            Owners::Names,
        );
        assert_eq!(out, b"a.txt");
        out.clear();
        push_list_line(
            &mut out,
            &file("a.txt", 0o644, 1),
            &options,
            b"pub",
            0,
            Owners::Names,
        );
        assert_eq!(out, b"pub/a.txt");
        out.clear();
        push_list_line(
            &mut out,
            &file("a.txt", 0o644, 1),
            &options,
            b"/",
            0,
            Owners::Names,
        );
        assert_eq!(out, b"/a.txt");
        let classify = ListOptions {
            classify: true,
            ..ListOptions::default()
        };
        out.clear();
        push_list_line(&mut out, &dir("sub"), &classify, b".", 0, Owners::Names);
        assert_eq!(out, b"sub/");
        out.clear();
        push_list_line(
            &mut out,
            &entry(
                "l",
                EntryKind::Symlink {
                    target: b"x".to_vec(),
                },
                S_IFLNK | 0o777,
            ),
            &classify,
            b".",
            0,
            Owners::Names,
        );
        assert_eq!(out, b"l@");
    }

    #[test]
    fn long_lines_through_the_options() {
        let options = ListOptions {
            long: true,
            classify: true,
            ..ListOptions::default()
        };
        let mut out = Vec::new();
        push_list_line(
            &mut out,
            &dir("pub"),
            &options,
            b"ignored",
            JUL_14_2020_1238,
            Owners::Hidden,
        );
        assert_eq!(
            text(out),
            "drwxr-xr-x    2 ftp      ftp             6 Jul 14 12:38 pub/"
        );
    }

    #[test]
    fn non_utf8_names_round_trip() {
        let latin1 = EntryInfo {
            name: b"caf\xe9".to_vec(),
            ..file("x", 0o644, 1)
        };
        assert!(ls_long(&latin1, JUL_14_2020_1238, Owners::Names).ends_with(b" caf\xe9"));
    }

    #[test]
    fn order_by_name_bytes_and_by_time() {
        let modified_at = |name, mtime| EntryInfo {
            mtime,
            ..file(name, 0o644, 0)
        };
        let mut entries = vec![
            modified_at("b", 30),
            modified_at("a", 10),
            modified_at("C", 20),
            modified_at("a2", 30),
            modified_at("file10", 5),
            modified_at("file2", 5),
        ];
        let names = |entries: &[EntryInfo]| {
            entries
                .iter()
                .map(|e| text(e.name.clone()))
                .collect::<Vec<_>>()
        };
        sort_entries(&mut entries, &ListOptions::default());
        // Byte order, as vsftpd's memcmp: capitals first, file10 before file2 (see the seed).
        assert_eq!(names(&entries), ["C", "a", "a2", "b", "file10", "file2"]);
        sort_entries(
            &mut entries,
            &ListOptions {
                reverse: true,
                ..ListOptions::default()
            },
        );
        assert_eq!(names(&entries), ["file2", "file10", "b", "a2", "a", "C"]);
        sort_entries(
            &mut entries,
            &ListOptions {
                by_time: true,
                ..ListOptions::default()
            },
        );
        assert_eq!(names(&entries), ["a2", "b", "C", "a", "file10", "file2"]);
        sort_entries(
            &mut entries,
            &ListOptions {
                by_time: true,
                reverse: true,
                ..ListOptions::default()
            },
        );
        assert_eq!(names(&entries), ["file10", "file2", "a", "C", "a2", "b"]);
    }

    #[test]
    fn glob_basics() {
        assert!(matches_pattern(b"*.txt", b"notes.txt"));
        assert!(!matches_pattern(b"*.txt", b"notes.txt.gz"));
        assert!(matches_pattern(b"file?", b"file1"));
        assert!(!matches_pattern(b"file?", b"file"));
        assert!(!matches_pattern(b"file?", b"file12"));
        assert!(matches_pattern(b"*", b""));
        assert!(matches_pattern(b"", b""));
        assert!(!matches_pattern(b"", b"a"));
        assert!(matches_pattern(b"a*b*c", b"aXXbYYc"));
        assert!(!matches_pattern(b"a*b*c", b"aXXbYY"));
        assert!(matches_pattern(b"exact", b"exact"));
        assert!(!matches_pattern(b"exact", b"exactly"));
        assert!(matches_pattern(b"**?", b"x"));
    }

    #[test]
    fn glob_backtracks_where_vsftpd_did_not() {
        assert!(matches_pattern(b"*.mp3", b"a.mp3.mp3"));
        assert!(matches_pattern(b"*a", b"aba"));
        assert!(matches_pattern(b"{*.mp3,*.avi}", b"x.avi.avi"));
    }

    #[test]
    fn glob_braces() {
        assert!(matches_pattern(b"{a,b}", b"a"));
        assert!(matches_pattern(b"{a,b}", b"b"));
        assert!(!matches_pattern(b"{a,b}", b"c"));
        assert!(matches_pattern(b"*.{jpg,png}", b"cat.png"));
        assert!(!matches_pattern(b"*.{jpg,png}", b"cat.gif"));
        assert!(matches_pattern(b"{x,y}-{1,2}", b"y-2"));
        assert!(matches_pattern(b"file{,.bak}", b"file"));
        assert!(matches_pattern(b"file{,.bak}", b"file.bak"));
        // deny_file as admins write it.
        assert!(matches_pattern(b"{*.mp3,*.mov,.private}", b".private"));
        assert!(matches_pattern(b"{*.mp3,*.mov,.private}", b"song.mp3"));
        assert!(!matches_pattern(b"{*.mp3,*.mov,.private}", b"notes.txt"));
    }

    #[test]
    fn unclosed_brace_is_literal() {
        assert!(matches_pattern(b"a{b", b"a{b"));
        assert!(!matches_pattern(b"a{b", b"ab"));
        assert!(matches_pattern(b"}{", b"}{"));
    }

    #[test]
    fn star_spans_slashes_like_vsftpd() {
        assert!(matches_pattern(b"*.mp3", b"music/a.mp3"));
    }

    #[test]
    fn question_mark_takes_one_byte_as_in_vsftpd() {
        // "é" is two bytes in UTF-8, one in Latin-1.
        assert!(!matches_pattern("caf?".as_bytes(), "café".as_bytes()));
        assert!(matches_pattern("caf??".as_bytes(), "café".as_bytes()));
        assert!(matches_pattern(b"caf?", b"caf\xe9"));
        assert!(!matches_pattern(b"caf??", b"caf\xe9"));
        // Hangul syllables are three bytes each.
        assert!(matches_pattern(b"??????.txt", "한글.txt".as_bytes()));
        assert!(!matches_pattern(b"??.txt", "한글.txt".as_bytes()));
        assert!(matches_pattern(b"*?", "é".as_bytes()));
    }

    #[test]
    fn braces_hold_bytes_that_are_not_utf8() {
        // EUC-KR "한" (0xC7 0xD1) as an admin's deny_file={*.한} saved in that encoding.
        assert!(matches_pattern(b"{*.\xc7\xd1}", b"report.\xc7\xd1"));
        assert!(!matches_pattern(b"{*.\xc7\xd1}", b"report.\xc7"));
        assert!(matches_pattern(b"{a?c,x}", b"a\xffc"));
    }

    #[test]
    fn question_mark_and_braces_see_slashes_as_bytes() {
        assert!(matches_pattern(b"a?b", b"a/b"));
        assert!(matches_pattern(b"{private/*,x}", b"private/notes"));
        assert!(!matches_pattern(b"{private}", b"private/notes"));
    }

    #[test]
    fn the_filter_also_catches_the_patterns_text_anywhere_in_a_name() {
        assert!(caught_by_filter(b"secret", b"topsecret.txt"));
        assert!(!matches_pattern(b"secret", b"topsecret.txt"));
        assert!(caught_by_filter(b"{*.mp3}", b"a.mp3"));
        assert!(caught_by_filter(b"{*.mp3}", b"odd{*.mp3}name"));
        assert!(!caught_by_filter(b"{*.mp3}", b"a.mp4"));
        assert!(caught_by_filter(b"caf\xe9", b"old-caf\xe9-menu"));
        assert!(!caught_by_filter(b"caf\xe9", "café".as_bytes()));
    }

    #[test]
    fn brace_bombs_give_up() {
        let bomb = b"{a,b,c,d,e,f,g,h,i,j}".repeat(6);
        assert!(!matches_pattern(&bomb, b"zzzzzz"));
        assert!(matches_pattern(&bomb, b"aaaaaa"));
    }

    #[test]
    fn long_wildcard_patterns_stay_fast() {
        let pattern = [b"*a".repeat(500), b"b".to_vec()].concat();
        let name = vec![b'a'; 4000];
        assert!(!matches_pattern(&pattern, &name));
    }

    #[test]
    fn mlsx_lines() {
        let notes = file("notes.txt", 0o644, 12);
        assert_eq!(
            text(mlsx_facts(&notes, "adfrw", FactSet::ALL)),
            "type=file;size=12;modify=20200714123800;perm=adfrw;unique=803U1f;UNIX.mode=0644; notes.txt"
        );
        assert_eq!(
            text(mlsx_facts(&dir("pub"), "el", FactSet::ALL)),
            "type=dir;modify=20200714123800;perm=el;unique=803U1f;UNIX.mode=0755; pub"
        );
        assert!(text(mlsx_facts(&dir("."), "el", FactSet::ALL)).starts_with("type=cdir;"));
        assert!(text(mlsx_facts(&dir(".."), "el", FactSet::ALL)).starts_with("type=pdir;"));
        let link = entry(
            "latest",
            EntryKind::Symlink {
                target: b"/pub/v2".to_vec(),
            },
            S_IFLNK | 0o777,
        );
        assert!(text(mlsx_facts(&link, "r", FactSet::ALL))
            .starts_with("type=OS.unix=slink:/pub/v2;size=0;"));
        let odd_link = entry(
            "odd",
            EntryKind::Symlink {
                target: b"a;b".to_vec(),
            },
            S_IFLNK | 0o777,
        );
        assert!(text(mlsx_facts(&odd_link, "r", FactSet::ALL)).starts_with("type=OS.unix=slink;"));
        let fifo = entry("pipe", EntryKind::Other, S_IFIFO | 0o600);
        assert!(text(mlsx_facts(&fifo, "", FactSet::ALL)).starts_with("type=OS.unix=fifo;size=0;"));
        let setuid = file("su", 0o4755, 1);
        assert!(text(mlsx_facts(&setuid, "r", FactSet::ALL)).contains("UNIX.mode=4755;"));
    }

    #[test]
    fn mlsx_fact_selection() {
        let notes = file("notes.txt", 0o644, 12);
        let chosen = FactSet::parse("size;TYPE;");
        assert_eq!(
            text(mlsx_facts(&notes, "r", chosen)),
            "type=file;size=12; notes.txt"
        );
        assert_eq!(
            text(mlsx_facts(&notes, "r", FactSet::parse(""))),
            " notes.txt"
        );
        assert_eq!(
            chosen.feature_list(),
            "type*;size*;modify;perm;unique;UNIX.mode;"
        );
        assert_eq!(chosen.enabled_list(), "type;size;");
        assert_eq!(
            FactSet::parse("unix.MODE;modify;perm;unique;type;size"),
            FactSet::ALL
        );
    }
}
