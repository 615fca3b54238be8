//! File-system calls for the FTP jail (openat2, the *at family, getdents64) and for transfers (sendfile), through rustix's typed flags.
//!
//! The one call rustix lacks, fchmodat2 with `AT_EMPTY_PATH`, is made here directly.

use std::ffi::{OsStr, OsString};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use rustix::fs::{AtFlags, RenameFlags, StatxFlags};
pub use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// The resolution every jailed lookup uses: `..`, absolute paths and absolute symlinks are
/// resolved as if the starting directory were `/`, and `/proc` magic links are refused.
pub const RESOLVE_JAIL: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// How many times a lookup is retried when the kernel reports that a concurrent rename raced
/// a `..` step under RESOLVE_IN_ROOT (EAGAIN).
const OPENAT2_RETRIES: usize = 16;

/// The `AT_EMPTY_PATH` flag when `name` is empty (the call then acts on the descriptor itself).
fn empty_path(name: &OsStr) -> AtFlags {
    if name.is_empty() {
        AtFlags::EMPTY_PATH
    } else {
        AtFlags::empty()
    }
}

fn follow_flag(follow: bool) -> AtFlags {
    if follow {
        AtFlags::empty()
    } else {
        AtFlags::SYMLINK_NOFOLLOW
    }
}

/// openat2(2): opens `path` below `dir` with the kernel's path-resolution restrictions.
///
/// `O_CLOEXEC` is always added; `mode` is passed only with `O_CREAT`/`O_TMPFILE` (the kernel
/// rejects it otherwise). With `RESOLVE_IN_ROOT` an absolute `path` starts at `dir` too.
/// Kernels older than 5.6 give an `Unsupported` error that says so.
pub fn openat2(
    dir: BorrowedFd<'_>,
    path: &Path,
    flags: OFlags,
    mode: Mode,
    resolve: ResolveFlags,
) -> io::Result<OwnedFd> {
    let flags = flags | OFlags::CLOEXEC;
    let creates = flags.contains(OFlags::CREATE) || flags.contains(OFlags::TMPFILE);
    let mode = if creates { mode } else { Mode::empty() };
    let mut attempts = 0;
    loop {
        match rustix::fs::openat2(dir, path, flags, mode, resolve) {
            Ok(fd) => return Ok(fd),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) if attempts < OPENAT2_RETRIES => attempts += 1,
            Err(Errno::NOSYS) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "openat2(2) is not available: the FTP jail needs Linux 5.6 or later",
                ))
            }
            Err(err) => return Err(err.into()),
        }
    }
}

/// mkdirat(2): creates directory `name` in `dir` (the process umask applies to `mode`).
pub fn mkdirat(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<()> {
    Ok(rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(mode))?)
}

/// unlinkat(2): removes `name` from `dir`; a directory (which must be empty) when `directory`.
/// Never follows a symlink: a link is removed, not its target.
pub fn unlinkat(dir: BorrowedFd<'_>, name: &OsStr, directory: bool) -> io::Result<()> {
    let flags = if directory {
        AtFlags::REMOVEDIR
    } else {
        AtFlags::empty()
    };
    Ok(rustix::fs::unlinkat(dir, name, flags)?)
}

/// What [`renameat2`] does when the new name is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rename {
    /// Replace the file there, as rename(2) does.
    Replace,
    /// Fail with EEXIST (`RENAME_NOREPLACE`).
    NoReplace,
}

/// renameat2(2): renames `old_dir/old_name` to `new_dir/new_name`.
pub fn renameat2(
    old_dir: BorrowedFd<'_>,
    old_name: &OsStr,
    new_dir: BorrowedFd<'_>,
    new_name: &OsStr,
    how: Rename,
) -> io::Result<()> {
    let flags = match how {
        Rename::Replace => RenameFlags::empty(),
        Rename::NoReplace => RenameFlags::NOREPLACE,
    };
    Ok(rustix::fs::renameat_with(
        old_dir, old_name, new_dir, new_name, flags,
    )?)
}

/// linkat(2) without following: gives the file `old_dir/old_name` a second name
/// `new_dir/new_name`, failing with EEXIST if that name is taken (never replacing it).
pub fn linkat(
    old_dir: BorrowedFd<'_>,
    old_name: &OsStr,
    new_dir: BorrowedFd<'_>,
    new_name: &OsStr,
) -> io::Result<()> {
    Ok(rustix::fs::linkat(
        old_dir,
        old_name,
        new_dir,
        new_name,
        AtFlags::empty(),
    )?)
}

/// Gives the open, unnamed file `file` (made with `O_TMPFILE`) the name `dir/name`, failing
/// with EEXIST if the name is taken. It goes through `/proc/self/fd`, as open(2) shows,
/// because linkat's `AT_EMPTY_PATH` needs `CAP_DAC_READ_SEARCH`.
pub fn link_open_file(file: BorrowedFd<'_>, dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let source = format!("/proc/self/fd/{}", file.as_raw_fd());
    Ok(rustix::fs::linkat(
        rustix::fs::CWD,
        source.as_str(),
        dir,
        name,
        AtFlags::SYMLINK_FOLLOW,
    )?)
}

/// The kind of a file, from `st_mode` or a directory entry's `d_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    Regular,
    Directory,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    /// The file system did not say (`DT_UNKNOWN`): stat the entry to learn it.
    Unknown,
}

impl FileType {
    /// The type bits (`S_IFMT`) of a mode.
    pub fn from_mode(mode: u32) -> FileType {
        FileType::from(rustix::fs::FileType::from_raw_mode(mode))
    }
}

impl From<rustix::fs::FileType> for FileType {
    fn from(kind: rustix::fs::FileType) -> FileType {
        use rustix::fs::FileType as Kernel;
        match kind {
            Kernel::RegularFile => FileType::Regular,
            Kernel::Directory => FileType::Directory,
            Kernel::Symlink => FileType::Symlink,
            Kernel::Fifo => FileType::Fifo,
            Kernel::Socket => FileType::Socket,
            Kernel::CharacterDevice => FileType::CharDevice,
            Kernel::BlockDevice => FileType::BlockDevice,
            _ => FileType::Unknown,
        }
    }
}

/// What stat tells about a file, in fixed-width fields on every architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStat {
    pub dev: u64,
    pub ino: u64,
    /// Type and permission bits, as `st_mode`.
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    /// 512-byte blocks allocated.
    pub blocks: u64,
    pub atime: i64,
    pub mtime: i64,
    pub mtime_nsec: u32,
    pub ctime: i64,
}

impl FileStat {
    pub fn file_type(&self) -> FileType {
        FileType::from_mode(self.mode)
    }
    pub fn is_dir(&self) -> bool {
        self.file_type() == FileType::Directory
    }
    pub fn is_file(&self) -> bool {
        self.file_type() == FileType::Regular
    }
    pub fn is_symlink(&self) -> bool {
        self.file_type() == FileType::Symlink
    }
}

/// statx(2) of `name` in `dir`; an empty `name` stats `dir` itself (AT_EMPTY_PATH, which works
/// on O_PATH descriptors too). `follow` decides whether a final symlink is followed.
pub fn fstatat(dir: BorrowedFd<'_>, name: &OsStr, follow: bool) -> io::Result<FileStat> {
    let flags = AtFlags::STATX_SYNC_AS_STAT | follow_flag(follow) | empty_path(name);
    let stx = rustix::fs::statx(dir, name, flags, StatxFlags::BASIC_STATS)?;
    Ok(FileStat {
        dev: rustix::fs::makedev(stx.stx_dev_major, stx.stx_dev_minor),
        ino: stx.stx_ino,
        mode: u32::from(stx.stx_mode),
        nlink: u64::from(stx.stx_nlink),
        uid: stx.stx_uid,
        gid: stx.stx_gid,
        rdev: rustix::fs::makedev(stx.stx_rdev_major, stx.stx_rdev_minor),
        size: stx.stx_size,
        blocks: stx.stx_blocks,
        atime: stx.stx_atime.tv_sec,
        mtime: stx.stx_mtime.tv_sec,
        mtime_nsec: stx.stx_mtime.tv_nsec,
        ctime: stx.stx_ctime.tv_sec,
    })
}

/// fstat of a descriptor (O_PATH descriptors included).
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<FileStat> {
    fstatat(fd, OsStr::new(""), true)
}

/// readlinkat(2): the target of symlink `name` in `dir` (an empty `name` reads the link an
/// `O_PATH|O_NOFOLLOW` descriptor refers to), however long it is.
pub fn readlinkat(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<OsString> {
    let target = rustix::fs::readlinkat(dir, name, Vec::new())?;
    Ok(OsString::from_vec(target.into_bytes()))
}

/// A time for [`utimensat`]: seconds and nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timespec {
    pub secs: i64,
    pub nanos: u32,
}

/// utimensat(2) on `name` in `dir`: sets access and modification times (`None` leaves one
/// alone). An empty `name` means `dir` itself (AT_EMPTY_PATH: O_PATH descriptors work from
/// Linux 5.8; older kernels say EINVAL). `follow` decides whether a final symlink is followed.
pub fn utimensat(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    atime: Option<Timespec>,
    mtime: Option<Timespec>,
    follow: bool,
) -> io::Result<()> {
    let spec = |t: Option<Timespec>| match t {
        Some(t) => rustix::fs::Timespec {
            tv_sec: t.secs,
            tv_nsec: t.nanos.into(),
        },
        None => rustix::fs::Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        },
    };
    let times = rustix::fs::Timestamps {
        last_access: spec(atime),
        last_modification: spec(mtime),
    };
    let flags = follow_flag(follow) | empty_path(name);
    Ok(rustix::fs::utimensat(dir, name, &times, flags)?)
}

/// fchownat(2) with AT_EMPTY_PATH: changes the owner of the file `fd` refers to (O_PATH
/// descriptors work). `None` leaves the uid or gid unchanged.
pub fn fchown_fd(fd: BorrowedFd<'_>, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    Ok(rustix::fs::chownat(
        fd,
        "",
        uid.map(rustix::fs::Uid::from_raw),
        gid.map(rustix::fs::Gid::from_raw),
        AtFlags::EMPTY_PATH,
    )?)
}

/// fchmodat2(2)'s number (Linux 6.6); -1 where this table does not know it, so the call
/// reports ENOSYS and callers take their fallback.
#[cfg(not(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "mips32r6",
    target_arch = "mips64r6"
)))]
const SYS_FCHMODAT2: libc::c_long = 452;
#[cfg(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "mips32r6",
    target_arch = "mips64r6"
))]
const SYS_FCHMODAT2: libc::c_long = -1;

/// fchmodat2(2) with AT_EMPTY_PATH: changes the mode of the file `fd` refers to, O_PATH
/// descriptors included, without following anything. Needs Linux 6.6: older kernels give
/// `Unsupported` (callers then reopen the file and use fchmod).
pub fn fchmod_fd(fd: BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    // SAFETY: the path is a static empty C string; the fd is borrowed, so open.
    let rc = unsafe {
        libc::syscall(
            SYS_FCHMODAT2,
            fd.as_raw_fd() as libc::c_long,
            c"".as_ptr(),
            mode as libc::c_long,
            libc::AT_EMPTY_PATH as libc::c_long,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        // ENOSYS: no fchmodat2; EINVAL: a kernel whose fchmodat2 lacks AT_EMPTY_PATH.
        Some(libc::ENOSYS) | Some(libc::EINVAL) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "fchmodat2(2) with AT_EMPTY_PATH needs Linux 6.6",
        )),
        _ => Err(err),
    }
}

/// Sets or clears O_NONBLOCK on an open descriptor.
pub fn set_nonblocking(fd: BorrowedFd<'_>, nonblocking: bool) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(fd)?;
    let wanted = if nonblocking {
        flags | OFlags::NONBLOCK
    } else {
        flags - OFlags::NONBLOCK
    };
    if wanted != flags {
        rustix::fs::fcntl_setfl(fd, wanted)?;
    }
    Ok(())
}

/// One entry of a directory, as getdents64 gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawDirEntry {
    pub name: OsString,
    pub ino: u64,
    /// From `d_type`; [`FileType::Unknown`] when the file system does not fill it in.
    pub file_type: FileType,
}

/// Every entry of the directory `dir` (opened for reading, not O_PATH), except `.` and `..`,
/// read with getdents64(2) from the start (the descriptor's offset is rewound first). No
/// path is involved, so nothing here can be redirected by a symlink or a magic link.
pub fn read_dir(dir: BorrowedFd<'_>) -> io::Result<Vec<RawDirEntry>> {
    rustix::fs::seek(dir, rustix::fs::SeekFrom::Start(0))?;
    // Room for many entries per call, and always for one: a name is at most 255 bytes.
    let mut buf = vec![MaybeUninit::<u8>::uninit(); 32 * 1024];
    let mut entries = Vec::new();
    let mut reader = rustix::fs::RawDir::new(dir, &mut buf);
    while let Some(entry) = reader.next() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(Errno::INTR) => continue,
            Err(err) => return Err(err.into()),
        };
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            entries.push(RawDirEntry {
                name: OsStr::from_bytes(name).to_os_string(),
                ino: entry.ino(),
                file_type: FileType::from(entry.file_type()),
            });
        }
    }
    Ok(entries)
}

/// sendfile(2): up to `count` bytes of `file` from `*offset` into `socket`, without copying them
/// through userspace. `*offset` advances by what was sent, the file's own position stays where
/// it was. `Ok(0)`: `*offset` is at the end of the file. On a non-blocking socket whose buffer
/// is full the error is `WouldBlock`; EINVAL, ENOSYS or ESPIPE mean this pair of descriptors
/// cannot be used with sendfile.
pub fn sendfile(
    socket: BorrowedFd<'_>,
    file: BorrowedFd<'_>,
    offset: &mut u64,
    count: usize,
) -> io::Result<usize> {
    Ok(rustix::fs::sendfile(socket, file, Some(offset), count)?)
}

/// Whether `file` was opened with O_APPEND (splice refuses to write to such files).
pub fn opened_for_append(file: &std::fs::File) -> bool {
    rustix::fs::fcntl_getfl(file).is_ok_and(|flags| flags.contains(OFlags::APPEND))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dirs::TempDir;
    use std::fs::{self, File, OpenOptions};
    use std::os::fd::AsFd;
    use std::os::unix::fs::OpenOptionsExt;

    fn open_path_dir(path: &Path) -> OwnedFd {
        OpenOptions::new()
            .read(true)
            .custom_flags((OFlags::PATH | OFlags::DIRECTORY).bits() as i32)
            .open(path)
            .unwrap()
            .into()
    }

    #[test]
    fn openat2_stays_in_root_and_refuses_magic_links() {
        let tmp = TempDir::new("openat2");
        fs::create_dir(tmp.path().join("root")).unwrap();
        fs::write(tmp.path().join("root/inside"), b"in").unwrap();
        fs::write(tmp.path().join("outside"), b"out").unwrap();
        std::os::unix::fs::symlink("../outside", tmp.path().join("root/up")).unwrap();
        let root = open_path_dir(&tmp.path().join("root"));
        // `..` at the root stays at the root.
        let fd = openat2(
            root.as_fd(),
            Path::new("../../inside"),
            OFlags::RDONLY,
            Mode::empty(),
            RESOLVE_JAIL,
        )
        .unwrap();
        let mut text = String::new();
        io::Read::read_to_string(&mut File::from(fd), &mut text).unwrap();
        assert_eq!(text, "in");
        // A symlink to ../outside resolves to root/outside, which does not exist.
        let err = openat2(
            root.as_fd(),
            Path::new("up"),
            OFlags::RDONLY,
            Mode::empty(),
            RESOLVE_JAIL,
        )
        .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        // Magic links are refused even where /proc is reachable.
        let slash = open_path_dir(Path::new("/"));
        let err = openat2(
            slash.as_fd(),
            Path::new("proc/self/root/etc"),
            OFlags::PATH,
            Mode::empty(),
            RESOLVE_JAIL,
        )
        .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP));
    }

    #[test]
    fn openat2_creates_with_mode() {
        let tmp = TempDir::new("create");
        let root = open_path_dir(tmp.path());
        let fd = openat2(
            root.as_fd(),
            Path::new("new"),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL,
            Mode::from_raw_mode(0o600),
            RESOLVE_JAIL,
        )
        .unwrap();
        let st = fstat(fd.as_fd()).unwrap();
        assert!(st.is_file());
        assert_eq!(st.mode & 0o7777 & !0o600, 0);
        let err = openat2(
            root.as_fd(),
            Path::new("new"),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL,
            Mode::from_raw_mode(0o600),
            RESOLVE_JAIL,
        )
        .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EEXIST));
        let err = openat2(
            root.as_fd(),
            Path::new("a\0b"),
            OFlags::PATH,
            Mode::empty(),
            RESOLVE_JAIL,
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn at_calls_and_stat() {
        let tmp = TempDir::new("at");
        let dir = open_path_dir(tmp.path());
        mkdirat(dir.as_fd(), OsStr::new("d"), 0o755).unwrap();
        fs::write(tmp.path().join("f"), b"12345").unwrap();
        std::os::unix::fs::symlink("f", tmp.path().join("l")).unwrap();

        let st = fstatat(dir.as_fd(), OsStr::new("d"), false).unwrap();
        assert!(st.is_dir());
        let st = fstatat(dir.as_fd(), OsStr::new("l"), false).unwrap();
        assert!(st.is_symlink());
        let st = fstatat(dir.as_fd(), OsStr::new("l"), true).unwrap();
        assert!(st.is_file());
        assert_eq!(st.size, 5);
        let meta = fs::metadata(tmp.path().join("f")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            (st.dev, st.ino, st.nlink),
            (meta.dev(), meta.ino(), meta.nlink())
        );
        assert_eq!(readlinkat(dir.as_fd(), OsStr::new("l")).unwrap(), "f");

        utimensat(
            dir.as_fd(),
            OsStr::new("f"),
            None,
            Some(Timespec {
                secs: 1_000_000_000,
                nanos: 0,
            }),
            true,
        )
        .unwrap();
        assert_eq!(
            fstatat(dir.as_fd(), OsStr::new("f"), true).unwrap().mtime,
            1_000_000_000
        );

        renameat2(
            dir.as_fd(),
            OsStr::new("f"),
            dir.as_fd(),
            OsStr::new("g"),
            Rename::NoReplace,
        )
        .unwrap();
        fs::write(tmp.path().join("h"), b"").unwrap();
        let err = renameat2(
            dir.as_fd(),
            OsStr::new("g"),
            dir.as_fd(),
            OsStr::new("h"),
            Rename::NoReplace,
        )
        .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EEXIST));
        renameat2(
            dir.as_fd(),
            OsStr::new("g"),
            dir.as_fd(),
            OsStr::new("h"),
            Rename::Replace,
        )
        .unwrap();

        unlinkat(dir.as_fd(), OsStr::new("h"), false).unwrap();
        unlinkat(dir.as_fd(), OsStr::new("l"), false).unwrap();
        let err = unlinkat(dir.as_fd(), OsStr::new("d"), false).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EISDIR));
        unlinkat(dir.as_fd(), OsStr::new("d"), true).unwrap();
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[test]
    fn mode_and_owner_through_o_path() {
        let tmp = TempDir::new("chmod");
        fs::write(tmp.path().join("f"), b"").unwrap();
        let fd: OwnedFd = OpenOptions::new()
            .read(true)
            .custom_flags(OFlags::PATH.bits() as i32)
            .open(tmp.path().join("f"))
            .unwrap()
            .into();
        match fchmod_fd(fd.as_fd(), 0o640) {
            Ok(()) => assert_eq!(fstat(fd.as_fd()).unwrap().mode & 0o7777, 0o640),
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::Unsupported),
        }
        let st = fstat(fd.as_fd()).unwrap();
        fchown_fd(fd.as_fd(), Some(st.uid), None).unwrap();
        fchown_fd(fd.as_fd(), None, Some(st.gid)).unwrap();
    }

    #[test]
    fn read_dir_lists_names_and_types() {
        let tmp = TempDir::new("readdir");
        fs::create_dir(tmp.path().join("sub")).unwrap();
        fs::write(tmp.path().join("file"), b"x").unwrap();
        std::os::unix::fs::symlink("/etc", tmp.path().join("link")).unwrap();
        // Enough long names to need several getdents64 calls.
        for i in 0..300 {
            fs::write(tmp.path().join(format!("{i:0>200}")), b"").unwrap();
        }
        let dir = File::open(tmp.path()).unwrap();
        let mut entries = read_dir(dir.as_fd()).unwrap();
        assert_eq!(entries.len(), 303);
        // A second read starts from the beginning again.
        assert_eq!(read_dir(dir.as_fd()).unwrap().len(), 303);
        entries.retain(|e| e.name.len() < 10);
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let got: Vec<(&OsStr, FileType)> = entries
            .iter()
            .map(|e| (e.name.as_os_str(), e.file_type))
            .collect();
        // tmpfs, ext4, xfs and btrfs all fill in d_type.
        assert_eq!(
            got,
            vec![
                (OsStr::new("file"), FileType::Regular),
                (OsStr::new("link"), FileType::Symlink),
                (OsStr::new("sub"), FileType::Directory),
            ]
        );
    }

    #[test]
    fn nonblocking_toggles() {
        let f = File::open("/dev/null").unwrap();
        set_nonblocking(f.as_fd(), true).unwrap();
        set_nonblocking(f.as_fd(), false).unwrap();
    }

    #[test]
    fn sendfile_sends_from_an_offset_and_leaves_the_file_position() {
        use std::io::{Read, Seek};
        use std::os::unix::net::UnixStream;
        let tmp = TempDir::new("sendfile");
        let path = tmp.path().join("f");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(&path, &data).unwrap();
        let mut file = File::open(&path).unwrap();
        let (sender, mut receiver) = UnixStream::pair().unwrap();
        let mut offset = 1000;
        let mut sent = Vec::new();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            receiver.read_to_end(&mut got).unwrap();
            got
        });
        loop {
            match sendfile(sender.as_fd(), file.as_fd(), &mut offset, 30_000).unwrap() {
                0 => break,
                n => sent.push(n),
            }
        }
        drop(sender);
        assert_eq!(offset, data.len() as u64);
        assert_eq!(sent.iter().sum::<usize>(), data.len() - 1000);
        assert_eq!(reader.join().unwrap(), data[1000..]);
        assert_eq!(
            file.stream_position().unwrap(),
            0,
            "the file position is untouched"
        );
        // A source without positions (here a socket) is refused with ESPIPE.
        let (a, b) = UnixStream::pair().unwrap();
        let err = sendfile(a.as_fd(), b.as_fd(), &mut 0, 10).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESPIPE));
    }
}
