//! The FTP jail: every path a session touches is resolved inside its root by the kernel (openat2 with RESOLVE_IN_ROOT), never by chroot(2).

use std::ffi::{OsStr, OsString};
use std::fs::{File, FileTimes, Permissions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::id_names::IdNames;
use crate::ftp::filesystem::{resolve, WriteHow, STAGING_PREFIX};
use crate::ftp::listing::{EntryInfo, EntryKind};
use crate::sys::fs::{self as sysfs, FileStat, FileType, Mode, OFlags, Rename};
use rustix::io::Errno;

/// How many names [`Jail::create_unique`] tries before giving up (vsftpd never gives up).
const STOU_MAX_TRIES: u32 = 100_000;

/// An upload being written aside ([`Jail::stage`]).
pub struct Staged {
    pub file: File,
    /// Its hidden name, where the file system has no unnamed files.
    pub hidden_name: Option<String>,
    /// Owner, group and permission bits of the existing target it will replace.
    pub replaced: Option<(u32, u32, u32)>,
}

/// A session's file-system root. Holds an `O_PATH` descriptor of the root directory; every
/// operation resolves its virtual path from that descriptor with
/// `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`, so `..`, absolute paths and symlinks
/// (absolute or relative) are resolved as if the root were `/`: nothing outside it can be named.
///
/// Virtual paths ("vpaths") are the absolute FTP-side paths `ftp::filesystem::resolve` produces, `/`
/// being the root; any bytes are accepted and normalised the same way first. Names are bytes, as
/// the kernel takes them: a name need not be UTF-8.
///
/// Mode arguments are applied exactly: the caller passes the mode with the session's umask
/// (`local_umask`/`anon_umask`) already taken off, and the jail sets it after creating, so the
/// process umask (shared by all sessions) does not matter.
pub struct Jail {
    root: OwnedFd,
    /// Device and inode of the root directory, to tell whether a path still names it.
    root_identity: (u64, u64),
    ids: Arc<IdNames>,
}

impl std::fmt::Debug for Jail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jail").field("root", &self.root).finish()
    }
}

impl Jail {
    /// Opens `root` (symlinks in this host path are followed: it comes from the configuration)
    /// and checks that the kernel has openat2(2), so an old kernel fails here and not mid-session.
    pub fn open(root: &Path) -> io::Result<Jail> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::open(root, flags, Mode::empty())?;
        // The kernel does not change while ringd runs: once openat2 worked, every later session
        // is spared the check.
        static OPENAT2_WORKS: AtomicBool = AtomicBool::new(false);
        if !OPENAT2_WORKS.load(Ordering::Relaxed) {
            sysfs::openat2(
                fd.as_fd(),
                Path::new("."),
                OFlags::PATH | OFlags::DIRECTORY,
                Mode::empty(),
                sysfs::RESOLVE_JAIL,
            )?;
            OPENAT2_WORKS.store(true, Ordering::Relaxed);
        }
        let stat = sysfs::fstat(fd.as_fd())?;
        Ok(Jail {
            root: fd,
            root_identity: (stat.dev, stat.ino),
            ids: IdNames::system(),
        })
    }

    /// Device and inode of the directory this jail was opened on.
    pub fn root_identity(&self) -> (u64, u64) {
        self.root_identity
    }

    /// Uses `ids` instead of the system's /etc/passwd and /etc/group for owner and group names.
    pub fn with_id_names(mut self, ids: Arc<IdNames>) -> Jail {
        self.ids = ids;
        self
    }

    /// The user and group names listings are given.
    pub fn id_names(&self) -> &Arc<IdNames> {
        &self.ids
    }

    /// Like lstat(2): a final symlink is described, not followed (LIST shows it as a link);
    /// symlinks before the final component are followed inside the root. The root's name is "/".
    pub fn stat(&self, vpath: impl AsRef<[u8]>) -> io::Result<EntryInfo> {
        match split(vpath.as_ref()) {
            None => {
                let st = sysfs::fstat(self.root.as_fd())?;
                Ok(self.entry(b"/".to_vec(), &st, None))
            }
            Some((parent, name)) => {
                let dir = self.open_dir_path(&parent)?;
                let st = sysfs::fstatat(dir.as_fd(), &name, false)?;
                let target = if st.is_symlink() {
                    sysfs::readlinkat(dir.as_fd(), &name).ok()
                } else {
                    None
                };
                Ok(self.entry(name.into_vec(), &st, target))
            }
        }
    }

    /// Like stat(2): a final symlink is followed, inside the root (SIZE, MDTM, MLST).
    pub fn stat_follow(&self, vpath: impl AsRef<[u8]>) -> io::Result<EntryInfo> {
        let rel = rel_path(vpath.as_ref());
        let fd = self.open_at(&rel, OFlags::PATH, 0)?;
        let st = sysfs::fstat(fd.as_fd())?;
        let name = match split(vpath.as_ref()) {
            None => b"/".to_vec(),
            Some((_, name)) => name.into_vec(),
        };
        Ok(self.entry(name, &st, None))
    }

    /// Whether `vpath` is a directory the caller may enter, following symlinks inside the
    /// root (CWD). Opening it `O_PATH` checks only the directories above it; looking `.` up in
    /// it checks search permission on the directory itself, as chdir(2) does.
    pub fn is_dir(&self, vpath: impl AsRef<[u8]>) -> bool {
        self.open_dir_path(&rel_path(vpath.as_ref()))
            .is_ok_and(|dir| {
                sysfs::openat2(
                    dir.as_fd(),
                    Path::new("."),
                    OFlags::PATH | OFlags::DIRECTORY,
                    Mode::empty(),
                    sysfs::RESOLVE_JAIL,
                )
                .is_ok()
            })
    }

    /// The names in directory `vpath` (a symlink to a directory is followed, inside the
    /// root), without "." and "..", unsorted. A non-directory gives ENOTDIR.
    pub fn read_dir_names(&self, vpath: impl AsRef<[u8]>) -> io::Result<Vec<Vec<u8>>> {
        let dir = self.open_at(
            &rel_path(vpath.as_ref()),
            OFlags::RDONLY | OFlags::DIRECTORY,
            0,
        )?;
        Ok(sysfs::read_dir(dir.as_fd())?
            .into_iter()
            .map(|entry| entry.name.into_vec())
            .collect())
    }

    /// lstat of each of `names` in directory `vpath`, in the order given. Names that vanish
    /// or cannot be described are left out, as vsftpd does; names with a `/` name nothing in
    /// the directory and are left out too.
    pub fn stat_entries(
        &self,
        vpath: impl AsRef<[u8]>,
        names: &[Vec<u8>],
    ) -> io::Result<Vec<EntryInfo>> {
        let dir = self.open_at(
            &rel_path(vpath.as_ref()),
            OFlags::PATH | OFlags::DIRECTORY,
            0,
        )?;
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            if name.contains(&b'/') || name.is_empty() {
                continue;
            }
            let name = OsStr::from_bytes(name);
            let Ok(st) = sysfs::fstatat(dir.as_fd(), name, false) else {
                continue;
            };
            let target = if st.is_symlink() {
                sysfs::readlinkat(dir.as_fd(), name).ok()
            } else {
                None
            };
            out.push(self.entry(name.as_bytes().to_vec(), &st, target));
        }
        Ok(out)
    }

    /// Opens a regular file for reading (RETR), following symlinks inside the root. A directory
    /// gives EISDIR, any other non-regular file (FIFO, device, socket) an `InvalidInput` error;
    /// opening does not block on a FIFO.
    pub fn open_read(&self, vpath: impl AsRef<[u8]>) -> io::Result<File> {
        self.open_download(vpath).map(|(file, _)| file)
    }

    /// Like [`Jail::open_read`], also giving the file's permission bits (from the same fstat,
    /// so the checks a download needs cost no second lookup).
    pub fn open_download(&self, vpath: impl AsRef<[u8]>) -> io::Result<(File, u32)> {
        let fd = self.open_at(
            &rel_path(vpath.as_ref()),
            OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY,
            0,
        )?;
        regular_file(fd)
    }

    /// The first `max` bytes of a regular file (the `message_file` of `dirmessage_enable`), or
    /// `None` if it cannot be read (missing, not a regular file, no permission, ...).
    pub fn read_small(&self, vpath: impl AsRef<[u8]>, max: usize) -> Option<Vec<u8>> {
        let file = self.open_read(vpath).ok()?;
        let mut out = Vec::new();
        file.take(max as u64).read_to_end(&mut out).ok()?;
        Some(out)
    }

    /// Opens an upload target for writing, following symlinks inside the root (a dangling
    /// symlink's target is created, inside the root, as open(2) would in a chroot). A new file
    /// gets exactly `mode` (permission bits). Only regular files are written: a directory gives
    /// EISDIR, anything else `InvalidInput`, and nothing is truncated before that check.
    pub fn open_write(
        &self,
        vpath: impl AsRef<[u8]>,
        how: WriteHow,
        mode: u32,
    ) -> io::Result<File> {
        let Some(_) = split(vpath.as_ref()) else {
            return Err(io::Error::from(Errno::ISDIR));
        };
        let rel = rel_path(vpath.as_ref());
        let mut flags = OFlags::WRONLY | OFlags::NONBLOCK | OFlags::NOCTTY;
        if how == WriteHow::Append {
            flags |= OFlags::APPEND;
        }
        let (fd, created) = match how {
            WriteHow::CreateNew => (
                self.open_at(&rel, flags | OFlags::CREATE | OFlags::EXCL, mode)?,
                true,
            ),
            _ => self.open_or_create(&rel, flags, mode)?,
        };
        let (mut file, _) = regular_file(fd)?;
        if created {
            file.set_permissions(Permissions::from_mode(mode & 0o7777))?;
        }
        match how {
            WriteHow::Truncate if !created => file.set_len(0)?,
            WriteHow::Offset(offset) => {
                file.seek(SeekFrom::Start(offset))?;
            }
            _ => {}
        }
        Ok(file)
    }

    /// Opens `rel` for writing if it exists, else creates it. Returns whether it was created.
    fn open_or_create(&self, rel: &Path, flags: OFlags, mode: u32) -> io::Result<(OwnedFd, bool)> {
        for _ in 0..4 {
            match self.open_at(rel, flags, 0) {
                Ok(fd) => return Ok((fd, false)),
                Err(e) if Errno::from_io_error(&e) == Some(Errno::NOENT) => {}
                Err(e) => return Err(e),
            }
            match self.open_at(rel, flags | OFlags::CREATE | OFlags::EXCL, mode) {
                Ok(fd) => return Ok((fd, true)),
                // Created by someone else meanwhile, or a dangling symlink.
                Err(e) if Errno::from_io_error(&e) == Some(Errno::EXIST) => {}
                Err(e) => return Err(e),
            }
        }
        // Still neither there nor creatable exclusively: a dangling symlink. Create its target
        // (resolved inside the root); whether this call created it is unknown, so no chmod.
        Ok((self.open_at(rel, flags | OFlags::CREATE, mode)?, false))
    }

    /// STOU: creates a file that did not exist, named as vsftpd names it: `base` if that name is
    /// free, else `base.1`, `base.2`, ...; with an empty `base`, `STOU.1`, `STOU.2`, ...
    /// (`base` is resolved against `dir_vpath` like any argument). Each name is tried with
    /// O_CREAT|O_EXCL, so two sessions never get the same file. Returns the file, opened for
    /// writing with exactly `mode`, and its vpath.
    pub fn create_unique(
        &self,
        dir_vpath: impl AsRef<[u8]>,
        base: impl AsRef<[u8]>,
        mode: u32,
    ) -> io::Result<(File, Vec<u8>)> {
        let base = base.as_ref();
        let stem = resolve(
            dir_vpath.as_ref(),
            if base.is_empty() { b"STOU" } else { base },
        );
        if stem == b"/" {
            return Err(io::Error::from(Errno::ISDIR));
        }
        let first = if base.is_empty() { 1 } else { 0 };
        for suffix in first..=STOU_MAX_TRIES {
            let candidate = if suffix == 0 {
                stem.clone()
            } else {
                [stem.as_slice(), format!(".{suffix}").as_bytes()].concat()
            };
            let flags =
                OFlags::WRONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CREATE | OFlags::EXCL;
            match self.open_at(&rel_path(&candidate), flags, mode) {
                Ok(fd) => {
                    let (file, _) = regular_file(fd)?;
                    file.set_permissions(Permissions::from_mode(mode & 0o7777))?;
                    return Ok((file, candidate));
                }
                Err(e) if Errno::from_io_error(&e) == Some(Errno::EXIST) => {}
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::from(Errno::EXIST))
    }

    /// MKD: creates a directory with exactly `mode`. The root gives EEXIST.
    pub fn mkdir(&self, vpath: impl AsRef<[u8]>, mode: u32) -> io::Result<()> {
        let Some((parent, name)) = split(vpath.as_ref()) else {
            return Err(io::Error::from(Errno::EXIST));
        };
        let dir = self.open_dir_path(&parent)?;
        sysfs::mkdirat(dir.as_fd(), &name, mode)?;
        // The new directory itself, never a symlink put there in between (O_NOFOLLOW|O_DIRECTORY).
        let created = sysfs::openat2(
            dir.as_fd(),
            Path::new(&name),
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::DIRECTORY,
            Mode::empty(),
            sysfs::RESOLVE_JAIL,
        )?;
        set_mode(created.as_fd(), dir.as_fd(), Path::new(&name), mode)
    }

    /// RMD: removes an empty directory (a symlink is not followed: ENOTDIR). The root gives EBUSY.
    pub fn rmdir(&self, vpath: impl AsRef<[u8]>) -> io::Result<()> {
        let Some((parent, name)) = split(vpath.as_ref()) else {
            return Err(io::Error::from(Errno::BUSY));
        };
        let dir = self.open_dir_path(&parent)?;
        sysfs::unlinkat(dir.as_fd(), &name, true)
    }

    /// DELE: removes a file or a symlink (the link, not its target). A directory gives EISDIR.
    pub fn unlink(&self, vpath: impl AsRef<[u8]>) -> io::Result<()> {
        let Some((parent, name)) = split(vpath.as_ref()) else {
            return Err(io::Error::from(Errno::ISDIR));
        };
        let dir = self.open_dir_path(&parent)?;
        sysfs::unlinkat(dir.as_fd(), &name, false)
    }

    /// RNFR/RNTO: renames like rename(2), replacing an existing target as vsftpd does (the final
    /// components themselves are renamed, symlinks are not followed). The root gives EBUSY.
    pub fn rename(&self, from: impl AsRef<[u8]>, to: impl AsRef<[u8]>) -> io::Result<()> {
        let (Some((from_parent, from_name)), Some((to_parent, to_name))) =
            (split(from.as_ref()), split(to.as_ref()))
        else {
            return Err(io::Error::from(Errno::BUSY));
        };
        let from_dir = self.open_dir_path(&from_parent)?;
        let to_dir = self.open_dir_path(&to_parent)?;
        sysfs::renameat2(
            from_dir.as_fd(),
            &from_name,
            to_dir.as_fd(),
            &to_name,
            Rename::Replace,
        )
    }

    /// An atomic upload to `target`: an unnamed file (`O_TMPFILE`) in the target's
    /// directory, so nothing is left behind if ringd is killed, or, where the file system has
    /// no unnamed files (NFS), a hidden name beginning with `STAGING_PREFIX`. Returns the file
    /// and its hidden name, if any. When `target` exists it must be writable by the caller: a
    /// plain STOR would rewrite it, and an atomic one must not replace what a plain one could
    /// not; its owner, group and mode are returned for the new file.
    pub fn stage(&self, target: impl AsRef<[u8]>, mode: u32) -> io::Result<Staged> {
        let Some((parent, _)) = split(target.as_ref()) else {
            return Err(io::Error::from(Errno::ISDIR));
        };
        let replaced = match self.open_at(
            &rel_path(target.as_ref()),
            OFlags::WRONLY | OFlags::NONBLOCK | OFlags::NOCTTY,
            0,
        ) {
            Ok(existing) => {
                let (_, _) = regular_file(existing.try_clone()?)?;
                let st = sysfs::fstat(existing.as_fd())?;
                Some((st.uid, st.gid, st.mode & 0o7777))
            }
            Err(e) if Errno::from_io_error(&e) == Some(Errno::NOENT) => None,
            Err(e) => return Err(e),
        };
        let flags = OFlags::WRONLY | OFlags::TMPFILE;
        let (fd, hidden) = match self.open_at(&parent, flags, mode) {
            Ok(fd) => (fd, None),
            Err(e) if unnamed_files_unsupported(&e) => {
                let name = hidden_name()?;
                let path = parent.join(&name);
                let fd = self.open_at(
                    &path,
                    OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOCTTY,
                    mode,
                )?;
                (fd, Some(name))
            }
            Err(e) => return Err(e),
        };
        let file = File::from(fd);
        file.set_permissions(Permissions::from_mode(mode & 0o7777))?;
        Ok(Staged {
            file,
            hidden_name: hidden,
            replaced,
        })
    }

    /// Puts a staged upload at `target`: replacing what is there when `replace`, else only if
    /// the name is still free. Names are only ever given with link(2), which fails with
    /// EEXIST rather than replace, so a file created meanwhile by someone else is never
    /// replaced by an upload that was not allowed to overwrite.
    pub fn commit(
        &self,
        file: &File,
        hidden: Option<&str>,
        target: impl AsRef<[u8]>,
        replace: bool,
    ) -> io::Result<()> {
        let Some((parent, name)) = split(target.as_ref()) else {
            return Err(io::Error::from(Errno::ISDIR));
        };
        let dir = self.open_dir_path(&parent)?;
        let hidden = match (hidden, replace) {
            (None, false) => return sysfs::link_open_file(file.as_fd(), dir.as_fd(), &name),
            (None, true) => {
                let hidden = OsString::from(hidden_name()?);
                sysfs::link_open_file(file.as_fd(), dir.as_fd(), &hidden)?;
                hidden
            }
            (Some(hidden), _) => OsString::from(hidden),
        };
        let placed = if replace {
            sysfs::renameat2(dir.as_fd(), &hidden, dir.as_fd(), &name, Rename::Replace)
        } else {
            sysfs::linkat(dir.as_fd(), &hidden, dir.as_fd(), &name)
        };
        let _ = sysfs::unlinkat(dir.as_fd(), &hidden, false);
        placed
    }

    /// Removes the hidden name of a staged upload that will not be completed (an unnamed one
    /// goes with its last descriptor).
    pub fn discard(&self, target: impl AsRef<[u8]>, hidden: &str) {
        if let Some((parent, _)) = split(target.as_ref()) {
            if let Ok(dir) = self.open_dir_path(&parent) {
                let _ = sysfs::unlinkat(dir.as_fd(), OsStr::new(hidden), false);
            }
        }
    }

    /// SITE CHMOD: sets the permission bits, following symlinks inside the root as chmod(2)
    /// does. Uses fchmodat2(AT_EMPTY_PATH) on an O_PATH descriptor (Linux 6.6); on older kernels
    /// it reopens regular files and directories for reading to fchmod them (so it then needs
    /// read permission, and other file types are refused with EPERM).
    pub fn chmod(&self, vpath: impl AsRef<[u8]>, mode: u32) -> io::Result<()> {
        let rel = rel_path(vpath.as_ref());
        let fd = self.open_at(&rel, OFlags::PATH, 0)?;
        set_mode(fd.as_fd(), self.root.as_fd(), &rel, mode)
    }

    /// Sets owner and group (`chown_uploads`), following symlinks inside the root. For a file
    /// just created prefer `std::os::unix::fs::fchown` on the open `File`: no path, no race.
    pub fn chown(&self, vpath: impl AsRef<[u8]>, uid: u32, gid: u32) -> io::Result<()> {
        let fd = self.open_at(&rel_path(vpath.as_ref()), OFlags::PATH, 0)?;
        sysfs::fchown_fd(fd.as_fd(), Some(uid), Some(gid))
    }

    /// MDTM with a time argument (vsftpd's mdtm_write): sets access and modification time to
    /// `unix_secs`, following symlinks inside the root, as utime(2) does for vsftpd.
    pub fn set_mtime(&self, vpath: impl AsRef<[u8]>, unix_secs: i64) -> io::Result<()> {
        let rel = rel_path(vpath.as_ref());
        let fd = self.open_at(&rel, OFlags::PATH, 0)?;
        let time = sysfs::Timespec {
            secs: unix_secs,
            nanos: 0,
        };
        match sysfs::utimensat(fd.as_fd(), OsStr::new(""), Some(time), Some(time), true) {
            // Before Linux 5.8 utimensat does not take AT_EMPTY_PATH: reopen and futimens.
            Err(e) if Errno::from_io_error(&e) == Some(Errno::INVAL) => {
                let when = system_time(unix_secs).ok_or(io::Error::from(Errno::INVAL))?;
                let file = reopen(fd.as_fd(), self.root.as_fd(), &rel)?;
                file.set_times(FileTimes::new().set_accessed(when).set_modified(when))
            }
            other => other,
        }
    }

    fn open_at(&self, rel: &Path, flags: OFlags, mode: u32) -> io::Result<OwnedFd> {
        let mode = Mode::from_raw_mode(mode);
        sysfs::openat2(self.root.as_fd(), rel, flags, mode, sysfs::RESOLVE_JAIL)
    }

    fn open_dir_path(&self, rel: &Path) -> io::Result<OwnedFd> {
        self.open_at(rel, OFlags::PATH | OFlags::DIRECTORY, 0)
    }

    fn entry(&self, name: Vec<u8>, st: &FileStat, target: Option<OsString>) -> EntryInfo {
        let kind = match st.file_type() {
            FileType::Regular => EntryKind::File,
            FileType::Directory => EntryKind::Dir,
            FileType::Symlink => EntryKind::Symlink {
                target: target.map(OsString::into_vec).unwrap_or_default(),
            },
            _ => EntryKind::Other,
        };
        EntryInfo {
            name,
            kind,
            mode: st.mode,
            nlink: st.nlink,
            uid: st.uid,
            gid: st.gid,
            owner: self.ids.user_name(st.uid).map(str::to_owned),
            group: self.ids.group_name(st.gid).map(str::to_owned),
            size: st.size,
            mtime: st.mtime,
            dev: st.dev,
            ino: st.ino,
        }
    }
}

/// The path below the root that `vpath` names ("." for the root itself).
fn rel_path(vpath: &[u8]) -> PathBuf {
    let norm = resolve(b"/", vpath);
    if norm == b"/" {
        PathBuf::from(".")
    } else {
        PathBuf::from(OsStr::from_bytes(&norm[1..]))
    }
}

/// `vpath` as (path of its parent below the root, final component); `None` for the root.
/// The final component is never empty, "." or "..".
fn split(vpath: &[u8]) -> Option<(PathBuf, OsString)> {
    let norm = resolve(b"/", vpath);
    let slash = norm.iter().rposition(|&byte| byte == b'/')?;
    let (parent, name) = (&norm[..slash], &norm[slash + 1..]);
    if name.is_empty() {
        return None;
    }
    let parent = if parent.is_empty() {
        PathBuf::from(".")
    } else {
        PathBuf::from(OsStr::from_bytes(&parent[1..]))
    };
    Some((parent, OsStr::from_bytes(name).to_os_string()))
}

/// Whether `O_TMPFILE` failed because this file system (or kernel) has no unnamed files.
fn unnamed_files_unsupported(err: &io::Error) -> bool {
    matches!(
        Errno::from_io_error(err),
        Some(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL)
    )
}

/// A fresh hidden name for a staged upload.
fn hidden_name() -> io::Result<String> {
    let mut random = [0u8; 8];
    crate::sys::crypt::fill_random(&mut random)?;
    Ok(format!(
        "{STAGING_PREFIX}{:016x}",
        u64::from_ne_bytes(random)
    ))
}

fn system_time(unix_secs: i64) -> Option<SystemTime> {
    if unix_secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(unix_secs as u64))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(unix_secs.unsigned_abs()))
    }
}

/// Turns a descriptor opened with O_NONBLOCK into a blocking `File` if it is a regular file,
/// with its permission bits.
fn regular_file(fd: OwnedFd) -> io::Result<(File, u32)> {
    let st = sysfs::fstat(fd.as_fd())?;
    match st.file_type() {
        FileType::Regular => {}
        FileType::Directory => return Err(io::Error::from(Errno::ISDIR)),
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ))
        }
    }
    // O_NONBLOCK only kept a FIFO from blocking the open; io_uring reads want it cleared.
    sysfs::set_nonblocking(fd.as_fd(), false)?;
    Ok((File::from(fd), st.mode & 0o7777))
}

/// Sets exactly `mode` on the file the O_PATH descriptor `fd` refers to; `rel` below `base`
/// names the same file for the pre-6.6 fallback.
fn set_mode(fd: BorrowedFd<'_>, base: BorrowedFd<'_>, rel: &Path, mode: u32) -> io::Result<()> {
    match sysfs::fchmod_fd(fd, mode & 0o7777) {
        Err(e) if e.kind() == io::ErrorKind::Unsupported => {
            reopen(fd, base, rel)?.set_permissions(Permissions::from_mode(mode & 0o7777))
        }
        other => other,
    }
}

/// Reopens the regular file or directory an O_PATH descriptor refers to for reading, by the
/// same jailed path, and checks that it is the same inode (nothing was swapped in between).
/// Other file types are refused with EPERM rather than opened (a device open can act).
fn reopen(fd: BorrowedFd<'_>, base: BorrowedFd<'_>, rel: &Path) -> io::Result<File> {
    let st = sysfs::fstat(fd)?;
    let flags = match st.file_type() {
        FileType::Regular => OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY,
        FileType::Directory => OFlags::RDONLY | OFlags::DIRECTORY,
        _ => return Err(io::Error::from(Errno::PERM)),
    };
    let again = sysfs::openat2(base, rel, flags, Mode::empty(), sysfs::RESOLVE_JAIL)?;
    let st2 = sysfs::fstat(again.as_fd())?;
    if (st2.dev, st2.ino) != (st.dev, st.ino) {
        return Err(io::Error::new(
            io::ErrorKind::Interrupted,
            "file replaced while being changed",
        ));
    }
    Ok(File::from(again))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Write;
    use std::os::unix::fs::{symlink, MetadataExt};

    use crate::test_dirs::TempDir;

    /// A temporary tree: `base/root` is the jail, `base/outside` is what must stay unreachable.
    struct Tree {
        base: TempDir,
        secret: fs::Metadata,
    }

    impl Tree {
        fn new(tag: &str) -> Tree {
            let base = TempDir::new(&format!("jail-{tag}"));
            let root = base.join("root");
            fs::create_dir(&root).unwrap();
            fs::create_dir(base.join("outside")).unwrap();
            fs::write(base.join("outside/secret.txt"), b"secret").unwrap();
            fs::create_dir(root.join("pub")).unwrap();
            fs::write(root.join("pub/file.txt"), b"hello").unwrap();
            fs::create_dir(root.join("etc")).unwrap();
            fs::write(root.join("etc/passwd"), b"inside passwd").unwrap();
            symlink("/etc", root.join("link_etc")).unwrap();
            symlink("../../..", root.join("link_up")).unwrap();
            symlink("/", root.join("link_slash")).unwrap();
            symlink(base.join("outside"), root.join("link_out")).unwrap();
            symlink("../outside", root.join("link_rel_out")).unwrap();
            symlink(base.join("outside/secret.txt"), root.join("link_secret")).unwrap();
            symlink(base.join("outside/created.txt"), root.join("dangle_abs")).unwrap();
            symlink("../outside/created.txt", root.join("dangle_rel")).unwrap();
            symlink("pub/file.txt", root.join("link_file")).unwrap();
            let secret = fs::metadata(base.join("outside/secret.txt")).unwrap();
            Tree { base, secret }
        }

        fn root(&self) -> PathBuf {
            self.base.join("root")
        }

        fn jail(&self) -> Jail {
            Jail::open(&self.root())
                .unwrap()
                .with_id_names(Arc::new(IdNames::parse(
                    "root:x:0:0:root:/root:/bin/bash\nftp:x:14:50::/var/ftp:/sbin/nologin\n",
                    "root:x:0:\nftp:x:50:\n",
                )))
        }

        /// The outside directory is exactly as the tree made it.
        fn assert_outside_untouched(&self) {
            let mut names: Vec<_> = fs::read_dir(self.base.join("outside"))
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            names.sort();
            assert_eq!(names, vec![OsString::from("secret.txt")]);
            let secret = self.base.join("outside/secret.txt");
            assert_eq!(fs::read(&secret).unwrap(), b"secret");
            let meta = fs::metadata(&secret).unwrap();
            assert_eq!(
                (
                    meta.mode(),
                    meta.uid(),
                    meta.gid(),
                    meta.mtime(),
                    meta.ino()
                ),
                (
                    self.secret.mode(),
                    self.secret.uid(),
                    self.secret.gid(),
                    self.secret.mtime(),
                    self.secret.ino()
                )
            );
        }
    }

    /// A name or link target as text (the tree's names are ASCII).
    fn text<T: AsRef<[u8]>>(field: &T) -> &str {
        std::str::from_utf8(field.as_ref()).unwrap()
    }

    fn names(entries: &[EntryInfo]) -> Vec<&str> {
        entries.iter().map(|e| text(&e.name)).collect()
    }

    /// A directory's entries as a listing sees them: every name, sorted, described.
    fn list(jail: &Jail, vpath: &str) -> io::Result<Vec<EntryInfo>> {
        let mut names = jail.read_dir_names(vpath)?;
        names.sort();
        jail.stat_entries(vpath, &names)
    }

    fn errno(r: io::Result<impl Sized>) -> Option<Errno> {
        match r {
            Ok(_) => None,
            Err(e) => Errno::from_io_error(&e),
        }
    }

    fn read_all(mut f: File) -> String {
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        s
    }

    #[test]
    fn split_never_yields_dot_names() {
        assert!(split(b"/").is_none());
        assert!(split(b"/..").is_none());
        assert!(split(b"").is_none());
        let (parent, name) = split(b"/a/b/../c/.").unwrap();
        assert_eq!((parent, name), (PathBuf::from("a"), OsString::from("c")));
        let (parent, name) = split(b"x").unwrap();
        assert_eq!((parent, name), (PathBuf::from("."), OsString::from("x")));
        assert_eq!(rel_path(b"/"), PathBuf::from("."));
        assert_eq!(rel_path(b"/a//b/"), PathBuf::from("a/b"));
        let (parent, name) = split(b"/\xc7\xd1/\xb1\xdb.txt").unwrap();
        assert_eq!(parent.as_os_str().as_bytes(), b"\xc7\xd1");
        assert_eq!(name.as_bytes(), b"\xb1\xdb.txt");
    }

    #[test]
    fn stat_is_lstat_and_stat_follow_follows_inside() {
        let t = Tree::new("stat");
        let j = t.jail();
        let root = j.stat("/").unwrap();
        assert_eq!(text(&root.name), "/");
        assert!(matches!(root.kind, EntryKind::Dir));
        assert_eq!(root.ino, fs::metadata(t.root()).unwrap().ino());

        let f = j.stat("/pub/file.txt").unwrap();
        assert!(matches!(f.kind, EntryKind::File));
        assert_eq!((text(&f.name), f.size), ("file.txt", 5));
        assert_eq!(FileType::from_mode(f.mode), FileType::Regular);
        assert_eq!(
            f.uid,
            fs::metadata(t.root().join("pub/file.txt")).unwrap().uid()
        );
        assert_eq!(f.owner.as_deref(), (f.uid == 0).then_some("root"));

        let l = j.stat("/link_etc").unwrap();
        match &l.kind {
            EntryKind::Symlink { target } => assert_eq!(text(target), "/etc"),
            _ => panic!("link_etc is not shown as a symlink"),
        }
        // Followed, the link to /etc is the root's own etc directory.
        let followed = j.stat_follow("/link_etc").unwrap();
        assert!(matches!(followed.kind, EntryKind::Dir));
        assert_eq!(
            followed.ino,
            fs::metadata(t.root().join("etc")).unwrap().ino()
        );
        assert_eq!(j.stat_follow("/link_file").unwrap().size, 5);
        // An intermediate symlink is followed inside the root.
        assert_eq!(j.stat("/link_up/pub/file.txt").unwrap().size, 5);
        assert_eq!(errno(j.stat_follow("/link_secret")), Some(Errno::NOENT));
        assert_eq!(errno(j.stat("/link_out/secret.txt")), Some(Errno::NOENT));
        assert_eq!(errno(j.stat("/missing")), Some(Errno::NOENT));
    }

    #[test]
    fn is_dir_follows_inside_only() {
        let t = Tree::new("isdir");
        let j = t.jail();
        assert!(j.is_dir("/"));
        assert!(j.is_dir("/pub"));
        assert!(j.is_dir("/link_etc"));
        assert!(j.is_dir("/link_up"));
        assert!(j.is_dir("/link_slash"));
        assert!(j.is_dir("/../.."));
        assert!(!j.is_dir("/pub/file.txt"));
        assert!(!j.is_dir("/link_out"));
        assert!(!j.is_dir("/link_rel_out"));
        assert!(!j.is_dir(t.base.join("outside").as_os_str().as_bytes()));
        assert!(!j.is_dir("/proc/self/root"));
    }

    #[test]
    fn is_dir_needs_search_permission_on_the_directory_itself() {
        if !crate::sys::credentials::can_switch() {
            eprintln!("skipped: needs root");
            return;
        }
        let t = Tree::new("isdir-search");
        fs::create_dir(t.root().join("listable")).unwrap();
        fs::set_permissions(t.root().join("listable"), fs::Permissions::from_mode(0o744)).unwrap();
        fs::set_permissions(t.base.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let j = t.jail();
        let (pub_dir, listable) = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    crate::sys::credentials::act_as(&crate::sys::credentials::FsIdentity {
                        uid: 65534,
                        gid: 65534,
                        groups: Vec::new(),
                    })
                    .unwrap();
                    (j.is_dir("/pub"), j.is_dir("/listable"))
                })
                .join()
                .unwrap()
        });
        assert!(pub_dir, "0755: others may enter");
        assert!(
            !listable,
            "0744: others may read the names but not enter, as chdir(2)"
        );
    }

    #[test]
    fn list_stays_inside() {
        let t = Tree::new("list");
        let j = t.jail();
        let top = list(&j, "/").unwrap();
        let expect = [
            "dangle_abs",
            "dangle_rel",
            "etc",
            "link_etc",
            "link_file",
            "link_out",
            "link_rel_out",
            "link_secret",
            "link_slash",
            "link_up",
            "pub",
        ];
        assert_eq!(names(&top), expect);
        let pub_entry = top.iter().find(|e| text(&e.name) == "pub").unwrap();
        assert!(matches!(pub_entry.kind, EntryKind::Dir));
        let link = top.iter().find(|e| text(&e.name) == "link_up").unwrap();
        assert!(matches!(&link.kind, EntryKind::Symlink { target } if text(target) == "../../.."));

        // The link to /etc lists the root's etc, never the host's.
        assert_eq!(names(&list(&j, "/link_etc").unwrap()), ["passwd"]);
        // ../../.. and / from inside are the root itself.
        assert_eq!(names(&list(&j, "/link_up").unwrap()), expect);
        assert_eq!(names(&list(&j, "/link_slash").unwrap()), expect);
        assert_eq!(names(&list(&j, "/pub/../../../..").unwrap()), expect);
        assert_eq!(
            names(&list(&j, "/link_up/link_up/pub").unwrap()),
            ["file.txt"]
        );
        // Links out, and host paths, do not exist in here.
        assert_eq!(errno(list(&j, "/link_out")), Some(Errno::NOENT));
        assert_eq!(errno(list(&j, "/link_rel_out")), Some(Errno::NOENT));
        let host_outside = t.base.join("outside");
        assert_eq!(
            errno(list(&j, &host_outside.to_string_lossy())),
            Some(Errno::NOENT)
        );
        assert_eq!(errno(list(&j, "/pub/file.txt")), Some(Errno::NOTDIR));
    }

    #[test]
    fn list_resolves_owner_names() {
        let t = Tree::new("owners");
        let j = t.jail();
        let entries = list(&j, "/pub").unwrap();
        let e = &entries[0];
        assert_eq!(e.owner.as_deref(), j.id_names().user_name(e.uid));
        assert_eq!(e.group.as_deref(), j.id_names().group_name(e.gid));
        let bare = Jail::open(&t.root())
            .unwrap()
            .with_id_names(Arc::new(IdNames::empty()));
        let e = &list(&bare, "/pub").unwrap()[0];
        assert_eq!((e.owner.as_deref(), e.group.as_deref()), (None, None));
    }

    #[test]
    fn open_read_stays_inside() {
        let t = Tree::new("read");
        let j = t.jail();
        assert_eq!(read_all(j.open_read("/pub/file.txt").unwrap()), "hello");
        assert_eq!(
            read_all(j.open_read("pub/../pub/./file.txt").unwrap()),
            "hello"
        );
        assert_eq!(read_all(j.open_read("/link_file").unwrap()), "hello");
        // /etc/passwd, however it is reached, is the root's own.
        for path in [
            "/etc/passwd",
            "/../../etc/passwd",
            "/link_etc/passwd",
            "/link_up/etc/passwd",
            "/link_slash/etc/passwd",
            "/link_up/link_etc/../etc/passwd",
        ] {
            assert_eq!(
                read_all(j.open_read(path).unwrap()),
                "inside passwd",
                "{path}"
            );
        }
        let host_secret = t.base.join("outside/secret.txt");
        for path in [
            "/link_secret",
            "/link_out/secret.txt",
            "/link_rel_out/secret.txt",
            "/../outside/secret.txt",
            &host_secret.to_string_lossy(),
        ] {
            assert_eq!(errno(j.open_read(path)), Some(Errno::NOENT), "{path}");
        }
        assert_eq!(errno(j.open_read("/pub")), Some(Errno::ISDIR));
        assert_eq!(errno(j.open_read("/")), Some(Errno::ISDIR));
    }

    #[test]
    fn read_small_reads_regular_files_only() {
        let t = Tree::new("small");
        let j = t.jail();
        assert_eq!(
            j.read_small("/pub/file.txt", 1024).as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(
            j.read_small("/pub/file.txt", 2).as_deref(),
            Some(&b"he"[..])
        );
        assert_eq!(
            j.read_small("/link_file", 1024).as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(j.read_small("/pub", 1024), None);
        assert_eq!(j.read_small("/missing", 1024), None);
        assert_eq!(j.read_small("/link_secret", 1024), None);
    }

    #[test]
    fn open_read_refuses_fifos_without_blocking() {
        let t = Tree::new("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(t.root().join("pub/fifo"))
            .status()
            .unwrap();
        assert!(status.success());
        let j = t.jail();
        let err = j.open_read("/pub/fifo").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        // No reader: opening for write fails at once instead of blocking.
        assert!(j
            .open_write("/pub/fifo", WriteHow::Truncate, 0o644)
            .is_err());
    }

    #[test]
    fn open_write_modes() {
        let t = Tree::new("write");
        let j = t.jail();
        let path = t.root().join("pub/file.txt");

        let mut f = j
            .open_write("/pub/file.txt", WriteHow::Truncate, 0o600)
            .unwrap();
        f.write_all(b"new").unwrap();
        drop(f);
        assert_eq!(fs::read(&path).unwrap(), b"new");
        // An existing file keeps its mode.
        assert_ne!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);

        let mut f = j
            .open_write("/pub/file.txt", WriteHow::Append, 0o600)
            .unwrap();
        f.write_all(b"+tail").unwrap();
        drop(f);
        assert_eq!(fs::read(&path).unwrap(), b"new+tail");

        let mut f = j
            .open_write("/pub/file.txt", WriteHow::Offset(1), 0o600)
            .unwrap();
        f.write_all(b"EW").unwrap();
        drop(f);
        assert_eq!(fs::read(&path).unwrap(), b"nEW+tail");

        let mut f = j
            .open_write("/pub/file.txt", WriteHow::Offset(10), 0o600)
            .unwrap();
        f.write_all(b"!").unwrap();
        drop(f);
        assert_eq!(fs::read(&path).unwrap(), b"nEW+tail\0\0!");

        assert_eq!(
            errno(j.open_write("/pub/file.txt", WriteHow::CreateNew, 0o600)),
            Some(Errno::EXIST)
        );
        // New files get exactly the mode asked for, whatever the process umask.
        for (name, how, mode) in [
            ("/pub/a", WriteHow::CreateNew, 0o640),
            ("/pub/b", WriteHow::Truncate, 0o664),
            ("/pub/c", WriteHow::Append, 0o666),
            ("/pub/d", WriteHow::Offset(0), 0o600),
        ] {
            let mut f = j.open_write(name, how, mode).unwrap();
            f.write_all(b"x").unwrap();
            let meta = fs::metadata(t.root().join(&name[1..])).unwrap();
            assert_eq!(meta.mode() & 0o7777, mode, "{name}");
            assert_eq!(meta.len(), 1);
        }
        // Through a symlink inside: the target is written.
        let mut f = j
            .open_write("/link_file", WriteHow::Truncate, 0o600)
            .unwrap();
        f.write_all(b"via link").unwrap();
        drop(f);
        assert_eq!(fs::read(&path).unwrap(), b"via link");

        assert_eq!(
            errno(j.open_write("/pub", WriteHow::Truncate, 0o644)),
            Some(Errno::ISDIR)
        );
        assert_eq!(
            errno(j.open_write("/", WriteHow::Truncate, 0o644)),
            Some(Errno::ISDIR)
        );
        assert_eq!(
            errno(j.open_write("/nodir/x", WriteHow::Truncate, 0o644)),
            Some(Errno::NOENT)
        );
    }

    #[test]
    fn writes_never_leave_the_root() {
        let t = Tree::new("escape");
        let j = t.jail();
        let host_outside = t.base.join("outside/new.txt");
        for path in [
            "/link_out/new.txt",
            "/link_rel_out/new.txt",
            "/../outside/new.txt",
            &host_outside.to_string_lossy(),
        ] {
            for how in [WriteHow::CreateNew, WriteHow::Truncate, WriteHow::Append] {
                assert_eq!(
                    errno(j.open_write(path, how, 0o644)),
                    Some(Errno::NOENT),
                    "{path}"
                );
            }
        }
        // Dangling symlinks to the outside: their targets would be created inside the root, where
        // the directories do not exist.
        for path in ["/dangle_abs", "/dangle_rel"] {
            assert_eq!(
                errno(j.open_write(path, WriteHow::Truncate, 0o644)),
                Some(Errno::NOENT),
                "{path}"
            );
            assert_eq!(
                errno(j.open_write(path, WriteHow::CreateNew, 0o644)),
                Some(Errno::EXIST),
                "{path}"
            );
        }
        for path in ["/link_secret", "/link_out/secret.txt"] {
            assert_eq!(
                errno(j.open_write(path, WriteHow::Truncate, 0o644)),
                Some(Errno::NOENT)
            );
            assert_eq!(errno(j.chmod(path, 0o777)), Some(Errno::NOENT));
            assert_eq!(errno(j.chown(path, 0, 0)), Some(Errno::NOENT));
            assert_eq!(errno(j.set_mtime(path, 1_000_000_000)), Some(Errno::NOENT));
        }
        assert_eq!(errno(j.unlink("/link_out/secret.txt")), Some(Errno::NOENT));
        assert_eq!(
            errno(j.unlink("/link_rel_out/secret.txt")),
            Some(Errno::NOENT)
        );
        // Unlinking the symlink removes the link inside the root, never its target.
        j.unlink("/link_secret").unwrap();
        assert_eq!(errno(j.mkdir("/link_out/d", 0o755)), Some(Errno::NOENT));
        assert_eq!(errno(j.mkdir("/link_rel_out/d", 0o755)), Some(Errno::NOENT));
        assert_eq!(
            errno(j.rename("/pub/file.txt", "/link_out/f")),
            Some(Errno::NOENT)
        );
        assert_eq!(
            errno(j.rename("/link_rel_out/secret.txt", "/got")),
            Some(Errno::NOENT)
        );
        assert_eq!(errno(j.rmdir("/link_out/..")), Some(Errno::BUSY));
        assert_eq!(
            errno(j.create_unique("/link_out", "x", 0o644)),
            Some(Errno::NOENT)
        );
        assert!(j.create_unique("/link_rel_out/..", "x", 0o644).is_ok());
        // Through links that stay inside, writes land inside.
        j.open_write("/link_up/up.txt", WriteHow::CreateNew, 0o644)
            .unwrap();
        assert!(t.root().join("up.txt").is_file());
        j.mkdir("/link_slash/newdir", 0o755).unwrap();
        assert!(t.root().join("newdir").is_dir());
        // The symlink itself was removed above, its target untouched.
        assert!(!t.root().join("link_secret").exists());
        t.assert_outside_untouched();
    }

    #[test]
    fn create_unique_names_like_vsftpd() {
        let t = Tree::new("stou");
        let j = t.jail();
        let mut got = Vec::new();
        for _ in 0..3 {
            let (mut f, vpath) = j.create_unique("/pub", "up.bin", 0o640).unwrap();
            f.write_all(&vpath).unwrap();
            got.push(vpath);
        }
        assert_eq!(
            got,
            [&b"/pub/up.bin"[..], b"/pub/up.bin.1", b"/pub/up.bin.2"]
        );
        assert_eq!(
            fs::read(t.root().join("pub/up.bin.1")).unwrap(),
            b"/pub/up.bin.1"
        );
        let meta = fs::metadata(t.root().join("pub/up.bin.2")).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o640);

        let a = j.create_unique("/pub", "", 0o600).unwrap().1;
        let b = j.create_unique("/pub", "", 0o600).unwrap().1;
        assert_eq!((&a[..], &b[..]), (&b"/pub/STOU.1"[..], &b"/pub/STOU.2"[..]));
        // An existing name of any type counts as taken (a directory, a symlink).
        assert_eq!(j.create_unique("/", "pub", 0o600).unwrap().1, b"/pub.1");
        assert_eq!(
            j.create_unique("/", "link_out", 0o600).unwrap().1,
            b"/link_out.1"
        );
        // A gap is reused, as vsftpd's first-free probe does.
        fs::remove_file(t.root().join("pub/up.bin.1")).unwrap();
        assert_eq!(
            j.create_unique("/pub", "up.bin", 0o600).unwrap().1,
            b"/pub/up.bin.1"
        );
        // A path in `base` works relative to the directory.
        assert_eq!(
            j.create_unique("/pub", "../etc/x", 0o600).unwrap().1,
            b"/etc/x"
        );
        assert_eq!(errno(j.create_unique("/", "..", 0o600)), Some(Errno::ISDIR));
        assert_eq!(
            errno(j.create_unique("/missing", "f", 0o600)),
            Some(Errno::NOENT)
        );
    }

    #[test]
    fn directory_operations() {
        let t = Tree::new("dirs");
        let j = t.jail();
        j.mkdir("/pub/new", 0o750).unwrap();
        let meta = fs::metadata(t.root().join("pub/new")).unwrap();
        assert!(meta.is_dir());
        assert_eq!(meta.mode() & 0o7777, 0o750);
        j.mkdir("/pub/new/deeper", 0o775).unwrap();
        assert_eq!(
            fs::metadata(t.root().join("pub/new/deeper"))
                .unwrap()
                .mode()
                & 0o7777,
            0o775
        );
        assert_eq!(errno(j.mkdir("/pub/new", 0o750)), Some(Errno::EXIST));
        assert_eq!(errno(j.mkdir("/", 0o750)), Some(Errno::EXIST));
        assert_eq!(errno(j.rmdir("/pub/new")), Some(Errno::NOTEMPTY));
        j.rmdir("/pub/new/deeper").unwrap();
        j.rmdir("pub/new/").unwrap();
        assert!(!t.root().join("pub/new").exists());
        assert_eq!(errno(j.rmdir("/pub/file.txt")), Some(Errno::NOTDIR));
        // A symlink to a directory is not removed through rmdir.
        assert_eq!(errno(j.rmdir("/link_etc")), Some(Errno::NOTDIR));
        assert_eq!(errno(j.rmdir("/")), Some(Errno::BUSY));
    }

    #[test]
    fn unlink_and_rename() {
        let t = Tree::new("names");
        let j = t.jail();
        j.rename("/pub/file.txt", "/pub/renamed.txt").unwrap();
        assert!(t.root().join("pub/renamed.txt").is_file());
        j.rename("/pub/renamed.txt", "/etc/passwd").unwrap(); // replaces, as rename(2)
        assert_eq!(fs::read(t.root().join("etc/passwd")).unwrap(), b"hello");
        j.rename("/etc", "/pub/etc2").unwrap();
        assert!(t.root().join("pub/etc2/passwd").is_file());
        // Renaming a symlink renames the link.
        j.rename("/link_etc", "/pub/link2").unwrap();
        assert_eq!(
            fs::read_link(t.root().join("pub/link2")).unwrap(),
            Path::new("/etc")
        );
        assert_eq!(errno(j.rename("/", "/x")), Some(Errno::BUSY));
        assert_eq!(errno(j.rename("/pub", "/")), Some(Errno::BUSY));
        assert_eq!(errno(j.rename("/missing", "/x")), Some(Errno::NOENT));

        j.unlink("/pub/etc2/passwd").unwrap();
        assert!(!t.root().join("pub/etc2/passwd").exists());
        j.unlink("/pub/link2").unwrap();
        assert!(fs::symlink_metadata(t.root().join("pub/link2")).is_err());
        assert!(Path::new("/etc").is_dir());
        assert_eq!(errno(j.unlink("/pub")), Some(Errno::ISDIR));
        assert_eq!(errno(j.unlink("/")), Some(Errno::ISDIR));
        assert_eq!(errno(j.unlink("/missing")), Some(Errno::NOENT));
    }

    #[test]
    fn names_that_are_not_utf8_are_kept_as_bytes() {
        let t = Tree::new("bytes");
        let j = t.jail();
        // EUC-KR for "한글" as a directory, Latin-1 "café" inside it.
        let dir = OsStr::from_bytes(b"\xc7\xd1\xb1\xdb");
        fs::create_dir(t.root().join(dir)).unwrap();
        fs::write(t.root().join(dir).join(OsStr::from_bytes(b"caf\xe9")), b"x").unwrap();
        assert!(j.is_dir(b"/\xc7\xd1\xb1\xdb"));
        let names = j.read_dir_names(b"/\xc7\xd1\xb1\xdb").unwrap();
        assert_eq!(names, vec![b"caf\xe9".to_vec()]);
        let entries = j.stat_entries(b"/\xc7\xd1\xb1\xdb", &names).unwrap();
        assert_eq!(entries[0].name, b"caf\xe9");
        assert_eq!(j.stat(b"/\xc7\xd1\xb1\xdb/caf\xe9").unwrap().size, 1);
        j.rename(
            b"/\xc7\xd1\xb1\xdb/caf\xe9",
            b"/\xc7\xd1\xb1\xdb/caf\xe9\xff",
        )
        .unwrap();
        assert!(t
            .root()
            .join(dir)
            .join(OsStr::from_bytes(b"caf\xe9\xff"))
            .is_file());
        let (_, vpath) = j
            .create_unique(b"/\xc7\xd1\xb1\xdb", b"caf\xe9\xff", 0o644)
            .unwrap();
        assert_eq!(vpath, b"/\xc7\xd1\xb1\xdb/caf\xe9\xff.1");
        let staged = j.stage(b"/\xc7\xd1\xb1\xdb/new\xe9", 0o644).unwrap();
        j.commit(
            &staged.file,
            staged.hidden_name.as_deref(),
            b"/\xc7\xd1\xb1\xdb/new\xe9",
            false,
        )
        .unwrap();
        assert!(t
            .root()
            .join(dir)
            .join(OsStr::from_bytes(b"new\xe9"))
            .is_file());
        j.unlink(b"/\xc7\xd1\xb1\xdb/caf\xe9\xff").unwrap();
        assert!(!t
            .root()
            .join(dir)
            .join(OsStr::from_bytes(b"caf\xe9\xff"))
            .exists());
    }

    #[test]
    fn chmod_chown_and_times() {
        let t = Tree::new("attrs");
        let j = t.jail();
        let file = t.root().join("pub/file.txt");
        j.chmod("/pub/file.txt", 0o604).unwrap();
        assert_eq!(fs::metadata(&file).unwrap().mode() & 0o7777, 0o604);
        // Through a symlink inside: the target changes, the link stays a link.
        j.chmod("/link_file", 0o640).unwrap();
        assert_eq!(fs::metadata(&file).unwrap().mode() & 0o7777, 0o640);
        j.chmod("/pub", 0o711).unwrap();
        assert_eq!(
            fs::metadata(t.root().join("pub")).unwrap().mode() & 0o7777,
            0o711
        );
        j.chmod("/pub", 0o755).unwrap();

        let meta = fs::metadata(&file).unwrap();
        j.chown("/pub/file.txt", meta.uid(), meta.gid()).unwrap();
        assert_eq!(errno(j.chown("/missing", 0, 0)), Some(Errno::NOENT));

        j.set_mtime("/pub/file.txt", 1_000_000_000).unwrap();
        let meta = fs::metadata(&file).unwrap();
        assert_eq!((meta.mtime(), meta.atime()), (1_000_000_000, 1_000_000_000));
        j.set_mtime("/link_file", 1_200_000_000).unwrap();
        assert_eq!(fs::metadata(&file).unwrap().mtime(), 1_200_000_000);
        assert_eq!(j.stat("/pub/file.txt").unwrap().mtime, 1_200_000_000);
        assert_eq!(errno(j.set_mtime("/missing", 0)), Some(Errno::NOENT));
    }

    #[test]
    fn pre_6_6_chmod_and_utime_fallbacks() {
        let t = Tree::new("fallback");
        let j = t.jail();
        let rel = Path::new("pub/file.txt");
        let fd = j.open_at(rel, OFlags::PATH, 0).unwrap();
        reopen(fd.as_fd(), j.root.as_fd(), rel)
            .unwrap()
            .set_permissions(Permissions::from_mode(0o612))
            .unwrap();
        assert_eq!(
            fs::metadata(t.root().join(rel)).unwrap().mode() & 0o7777,
            0o612
        );
        // A different file behind the same path is detected.
        let other = j.open_at(Path::new("etc/passwd"), OFlags::PATH, 0).unwrap();
        let err = reopen(other.as_fd(), j.root.as_fd(), rel).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Interrupted);
        assert_eq!(system_time(-1), Some(UNIX_EPOCH - Duration::from_secs(1)));
    }

    #[test]
    fn shareable_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Jail>();
        send_sync::<IdNames>();
    }

    #[test]
    fn open_checks_the_root() {
        let t = Tree::new("open");
        assert!(Jail::open(&t.root().join("pub/file.txt")).is_err());
        assert!(Jail::open(&t.root().join("missing")).is_err());
        let j = Jail::open(&t.root()).unwrap();
        assert!(format!("{j:?}").starts_with("Jail"));
    }
}
