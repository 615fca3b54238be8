//! The files a session may touch: the interface its I/O shell implements with the session's root and credentials, so the session machine itself makes no system call.
//!
//! Paths are virtual: absolute FTP paths as [`resolve`] makes them, `/` being the session's
//! root. Every call runs inside that root and with the session's credentials, so the kernel
//! decides what the session may do; nothing here emulates permission bits.

use std::io;
use std::os::fd::OwnedFd;

use super::listing::EntryInfo;

/// An open file the session hands to its shell, for a transfer or a lock.
pub type FileHandle = OwnedFd;

/// How [`SessionFs::open_upload`] opens an upload target. All but `CreateNew` create a
/// missing file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteHow {
    /// STOR: replace the contents.
    Truncate,
    /// APPE: every write goes to the end.
    Append,
    /// A file that must not exist yet (anonymous uploads without `anon_other_write_enable`).
    CreateNew,
    /// REST n + STOR: keep the contents and write from offset n.
    Offset(u64),
}

/// A regular file opened for a download.
#[derive(Debug)]
pub struct Download {
    pub file: FileHandle,
    /// Permission bits (`anon_world_readable_only` looks at them).
    pub mode: u32,
}

/// An upload written aside and put in its place only once complete (`atomic_uploads`): a
/// reader sees the old file or the whole new one, and a failed upload leaves the old one.
#[derive(Debug)]
pub struct StagedUpload {
    /// Where the data goes.
    pub file: FileHandle,
    /// What [`SessionFs::commit_upload`] needs; only the filesystem reads it.
    pub staging: Staging,
}

/// Where a staged upload waits and what it will replace; made and read by the filesystem.
#[derive(Debug)]
pub struct Staging {
    /// The virtual path the upload is for.
    pub target: Vec<u8>,
    /// A second descriptor of the staged file: an unnamed file (`O_TMPFILE`) gets its name
    /// through it when complete.
    pub file: FileHandle,
    /// The hidden name the data is written under where unnamed files are not supported.
    pub hidden_name: Option<String>,
    /// Whether an existing target may be replaced (STOR by a session allowed to overwrite);
    /// otherwise a name created meanwhile by someone else is never replaced.
    pub replace: bool,
    /// Owner, group and permission bits of the file being replaced, given to the new one as a
    /// plain STOR (which rewrites the file in place) would keep them.
    pub replaced: Option<(u32, u32, u32)>,
}

/// Everything a session does to files, with its credentials, inside its root.
pub trait SessionFs {
    /// Like lstat(2): a final symlink is described, not followed.
    fn stat(&self, vpath: &[u8]) -> io::Result<EntryInfo>;
    /// Like stat(2): a final symlink is followed, inside the root.
    fn stat_follow(&self, vpath: &[u8]) -> io::Result<EntryInfo>;
    /// Whether `vpath` is a directory the session can enter (CWD).
    fn is_dir(&self, vpath: &[u8]) -> bool;
    /// The names in directory `vpath`, without `.` and `..`, in no particular order.
    fn read_dir_names(&self, vpath: &[u8]) -> io::Result<Vec<Vec<u8>>>;
    /// lstat of each of `names` in directory `dir`; names that vanished meanwhile or cannot be
    /// described are left out, as vsftpd does.
    fn stat_entries(&self, dir: &[u8], names: &[Vec<u8>]) -> io::Result<Vec<EntryInfo>>;
    /// The first `max` bytes of a regular file, or `None` (missing, not regular, no right).
    fn read_small(&self, vpath: &[u8], max: usize) -> Option<Vec<u8>>;
    /// Opens a regular file for reading (RETR).
    fn open_download(&self, vpath: &[u8]) -> io::Result<Download>;
    /// Opens a regular file for writing (STOR, APPE); a new one gets exactly `mode`.
    fn open_upload(&self, vpath: &[u8], how: WriteHow, mode: u32) -> io::Result<FileHandle>;
    /// STOU: creates `base`, else `base.1`, `base.2`, ... in `dir`, as vsftpd names them;
    /// the file and its virtual path.
    fn create_unique(
        &self,
        dir: &[u8],
        base: &[u8],
        mode: u32,
    ) -> io::Result<(FileHandle, Vec<u8>)>;
    /// An atomic upload to `target` (see [`StagedUpload`]). With `replace` false an existing
    /// target is refused now and at commit time.
    fn stage_upload(&self, target: &[u8], mode: u32, replace: bool) -> io::Result<StagedUpload>;
    /// Puts a complete staged upload in its place.
    fn commit_upload(&self, staging: Staging) -> io::Result<()>;
    /// Removes what an incomplete staged upload wrote.
    fn discard_upload(&self, staging: Staging);
    /// MKD: a directory with exactly `mode`.
    fn mkdir(&self, vpath: &[u8], mode: u32) -> io::Result<()>;
    /// RMD: removes an empty directory.
    fn rmdir(&self, vpath: &[u8]) -> io::Result<()>;
    /// DELE: removes a file or a symlink (not its target).
    fn unlink(&self, vpath: &[u8]) -> io::Result<()>;
    /// RNFR/RNTO: renames, replacing an existing target as rename(2) does.
    fn rename(&self, from: &[u8], to: &[u8]) -> io::Result<()>;
    /// SITE CHMOD.
    fn chmod(&self, vpath: &[u8], mode: u32) -> io::Result<()>;
    /// MDTM with a time: sets access and modification time.
    fn set_mtime(&self, vpath: &[u8], unix_secs: i64) -> io::Result<()>;
    /// `chown_uploads`: gives an upload just created to `uid` with permission bits `mode`, as
    /// vsftpd's privileged process does (the group is left as it is).
    fn give_away(&self, file: &FileHandle, uid: u32, mode: u32) -> io::Result<()>;
    /// Empties an upload target once its lock is held.
    fn truncate(&self, file: &FileHandle) -> io::Result<()>;
    /// The size of an open file (the `150` reply names it).
    fn size_of(&self, file: &FileHandle) -> io::Result<u64>;
}

/// Normalises an FTP path argument against the session's virtual cwd ("/" = the root): an
/// absolute `arg` starts at "/", a relative one at `cwd`; empty components and "." are
/// dropped, ".." removes the previous component and never goes above "/". The result is
/// absolute, has no trailing slash (except "/" itself) and no "." or ".." components. Names are
/// bytes, as the kernel and vsftpd take them: only `/` separates.
pub fn resolve(cwd: &[u8], arg: &[u8]) -> Vec<u8> {
    fn push<'a>(parts: &mut Vec<&'a [u8]>, path: &'a [u8]) {
        for component in path.split(|&byte| byte == b'/') {
            match component {
                b"" | b"." => {}
                b".." => {
                    parts.pop();
                }
                name => parts.push(name),
            }
        }
    }
    let mut parts = Vec::new();
    if !arg.starts_with(b"/") {
        push(&mut parts, cwd);
    }
    push(&mut parts, arg);
    if parts.is_empty() {
        return b"/".to_vec();
    }
    let mut out = Vec::with_capacity(arg.len() + cwd.len() + 1);
    for part in parts {
        out.push(b'/');
        out.extend_from_slice(part);
    }
    out
}

/// The name every staged upload's hidden file starts with, so listings can leave them out.
pub const STAGING_PREFIX: &str = ".ringd-upload-";

/// Whether `name` is the hidden file of a staged upload (never shown, never reachable).
pub fn is_staging_name(name: &[u8]) -> bool {
    name.starts_with(STAGING_PREFIX.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_table() {
        let cases = [
            ("/", "", "/"),
            ("/", ".", "/"),
            ("/", "..", "/"),
            ("/", "../../..", "/"),
            ("/", "a", "/a"),
            ("/", "a/", "/a"),
            ("/", "a//b", "/a/b"),
            ("/a", "b", "/a/b"),
            ("/a", "../b", "/b"),
            ("/a", "/b", "/b"),
            ("/a/b", "..", "/a"),
            ("/a/b", "../..", "/"),
            ("/a/b", "../../../c", "/c"),
            ("/a", "./b/./c/..", "/a/b"),
            ("/", "/../etc/passwd", "/etc/passwd"),
            ("/", "//a///b//", "/a/b"),
            ("/pub", "file", "/pub/file"),
            ("/pub", "./file", "/pub/file"),
            ("/pub", "../etc/passwd", "/etc/passwd"),
            ("/pub", "../../../../etc/passwd", "/etc/passwd"),
            ("/pub", "/etc/passwd", "/etc/passwd"),
            ("/pub", "/../../x", "/x"),
            ("/pub/sub", "..", "/pub"),
            ("/pub/sub", "../..", "/"),
            ("/pub/sub", "../../..", "/"),
            ("/pub", "a/./b/../c", "/pub/a/c"),
            ("/pub", "...", "/pub/..."),
            ("/pub", "..a", "/pub/..a"),
            ("/pub", "a..", "/pub/a.."),
            ("/pub", "~", "/pub/~"),
            ("/pub", "dir with spaces/f", "/pub/dir with spaces/f"),
            ("/a/../b", "c", "/b/c"),
            ("relative", "x", "/relative/x"),
            ("", "x", "/x"),
            ("/pub", "", "/pub"),
            ("/pub", "/", "/"),
            ("/", "/./.././", "/"),
        ];
        for (cwd, arg, expected) in cases {
            assert_eq!(
                resolve(cwd.as_bytes(), arg.as_bytes()),
                expected.as_bytes(),
                "resolve({cwd:?}, {arg:?})"
            );
        }
    }

    #[test]
    fn resolve_keeps_names_that_are_not_utf8() {
        // EUC-KR for "한글", and Latin-1 "café".
        assert_eq!(
            resolve(b"/\xc7\xd1", b"\xb1\xdb.txt"),
            b"/\xc7\xd1/\xb1\xdb.txt"
        );
        assert_eq!(resolve(b"/", b"caf\xe9/../x\xff"), b"/x\xff");
    }

    #[test]
    fn staging_names_are_recognised() {
        assert!(is_staging_name(b".ringd-upload-x.1-2"));
        assert!(!is_staging_name(b"ringd-upload-x"));
        assert!(!is_staging_name(b".message"));
    }
}
