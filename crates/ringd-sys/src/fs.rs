//! File-system calls for the FTP jail (openat2, the *at family, getdents64) and transfers (OFD file locks, sendfile), plus crypt(3) and getrandom for the FTP users file.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

/// The resolution every jailed lookup uses: `..`, absolute paths and absolute symlinks are
/// resolved as if the starting directory were `/`, and `/proc` magic links are refused.
pub const RESOLVE_JAIL: u64 = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;

/// How many times a lookup is retried when the kernel reports that a concurrent rename raced
/// a `..` step under RESOLVE_IN_ROOT (EAGAIN).
const OPENAT2_RETRIES: usize = 16;

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains a NUL byte"))
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
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
    flags: i32,
    mode: u32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let path = cstring(path.as_os_str().as_bytes())?;
    let flags = flags | libc::O_CLOEXEC;
    // SAFETY: open_how is a plain C struct of integers; all-zero is valid and is what the
    // kernel expects in any field (or future padding) we do not set.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = u64::from(flags as u32);
    if flags & (libc::O_CREAT | libc::O_TMPFILE) != 0 {
        how.mode = u64::from(mode);
    }
    how.resolve = resolve;
    let mut attempts = 0;
    loop {
        // SAFETY: `path` is NUL-terminated and `how` is a valid open_how whose size is passed;
        // both outlive the call and the kernel keeps neither pointer. The fd is borrowed, so open.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd() as libc::c_long,
                path.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if rc >= 0 {
            // SAFETY: the kernel returned a new descriptor that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(rc as RawFd) });
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) if attempts < OPENAT2_RETRIES => attempts += 1,
            Some(libc::ENOSYS) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "openat2(2) is not available: the FTP jail needs Linux 5.6 or later",
                ))
            }
            _ => return Err(err),
        }
    }
}

/// mkdirat(2): creates directory `name` in `dir` (the process umask applies to `mode`).
pub fn mkdirat(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<()> {
    let name = cstring(name.as_bytes())?;
    // SAFETY: `name` is NUL-terminated and outlives the call; the fd is borrowed, so open.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode as libc::mode_t) })
}

/// unlinkat(2): removes `name` from `dir`; a directory (which must be empty) when `directory`.
/// Never follows a symlink: a link is removed, not its target.
pub fn unlinkat(dir: BorrowedFd<'_>, name: &OsStr, directory: bool) -> io::Result<()> {
    let name = cstring(name.as_bytes())?;
    let flags = if directory { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: `name` is NUL-terminated and outlives the call; the fd is borrowed, so open.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) })
}

/// Flags of [`renameat2`]: fail with EEXIST instead of replacing the target.
pub const RENAME_NOREPLACE: u32 = libc::RENAME_NOREPLACE;

/// renameat2(2): renames `old_dir/old_name` to `new_dir/new_name`; `flags` 0 replaces an
/// existing target like rename(2), [`RENAME_NOREPLACE`] refuses to.
pub fn renameat2(
    old_dir: BorrowedFd<'_>,
    old_name: &OsStr,
    new_dir: BorrowedFd<'_>,
    new_name: &OsStr,
    flags: u32,
) -> io::Result<()> {
    let old_name = cstring(old_name.as_bytes())?;
    let new_name = cstring(new_name.as_bytes())?;
    // SAFETY: both names are NUL-terminated and outlive the call; both fds are borrowed, so open.
    check(unsafe {
        libc::renameat2(
            old_dir.as_raw_fd(),
            old_name.as_ptr(),
            new_dir.as_raw_fd(),
            new_name.as_ptr(),
            flags,
        )
    })
}

/// linkat(2) without following: gives the file `old_dir/old_name` a second name
/// `new_dir/new_name`, failing with EEXIST if that name is taken (never replacing it).
pub fn linkat(
    old_dir: BorrowedFd<'_>,
    old_name: &OsStr,
    new_dir: BorrowedFd<'_>,
    new_name: &OsStr,
) -> io::Result<()> {
    rustix::fs::linkat(
        old_dir,
        old_name,
        new_dir,
        new_name,
        rustix::fs::AtFlags::empty(),
    )
    .map_err(io::Error::from)
}

/// Gives the open, unnamed file `file` (made with `O_TMPFILE`) the name `dir/name`, failing
/// with EEXIST if the name is taken. It goes through `/proc/self/fd`, as open(2) shows,
/// because linkat's `AT_EMPTY_PATH` needs `CAP_DAC_READ_SEARCH`.
pub fn link_open_file(file: BorrowedFd<'_>, dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let source = format!("/proc/self/fd/{}", file.as_raw_fd());
    rustix::fs::linkat(
        rustix::fs::CWD,
        source.as_str(),
        dir,
        name,
        rustix::fs::AtFlags::SYMLINK_FOLLOW,
    )
    .map_err(io::Error::from)
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
        match mode & libc::S_IFMT {
            libc::S_IFREG => FileType::Regular,
            libc::S_IFDIR => FileType::Directory,
            libc::S_IFLNK => FileType::Symlink,
            libc::S_IFIFO => FileType::Fifo,
            libc::S_IFSOCK => FileType::Socket,
            libc::S_IFCHR => FileType::CharDevice,
            libc::S_IFBLK => FileType::BlockDevice,
            _ => FileType::Unknown,
        }
    }

    fn from_dirent(d_type: u8) -> FileType {
        match d_type {
            libc::DT_REG => FileType::Regular,
            libc::DT_DIR => FileType::Directory,
            libc::DT_LNK => FileType::Symlink,
            libc::DT_FIFO => FileType::Fifo,
            libc::DT_SOCK => FileType::Socket,
            libc::DT_CHR => FileType::CharDevice,
            libc::DT_BLK => FileType::BlockDevice,
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
    let cname = cstring(name.as_bytes())?;
    let mut flags = libc::AT_STATX_SYNC_AS_STAT;
    if !follow {
        flags |= libc::AT_SYMLINK_NOFOLLOW;
    }
    if name.is_empty() {
        flags |= libc::AT_EMPTY_PATH;
    }
    // SAFETY: statx is a plain C struct of integers; all-zero is a valid value.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: `cname` is NUL-terminated, `stx` is valid and writable; both outlive the call.
    check(unsafe {
        libc::statx(
            dir.as_raw_fd(),
            cname.as_ptr(),
            flags,
            libc::STATX_BASIC_STATS,
            &mut stx,
        )
    })?;
    Ok(FileStat {
        dev: libc::makedev(stx.stx_dev_major, stx.stx_dev_minor),
        ino: stx.stx_ino,
        mode: u32::from(stx.stx_mode),
        nlink: u64::from(stx.stx_nlink),
        uid: stx.stx_uid,
        gid: stx.stx_gid,
        rdev: libc::makedev(stx.stx_rdev_major, stx.stx_rdev_minor),
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
    let cname = cstring(name.as_bytes())?;
    let mut buf: Vec<u8> = vec![0; 256];
    loop {
        // SAFETY: `cname` is NUL-terminated; `buf` is writable for `buf.len()` bytes and the
        // kernel writes at most that many. Both outlive the call.
        let n = unsafe {
            libc::readlinkat(
                dir.as_raw_fd(),
                cname.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        if n < buf.len() {
            buf.truncate(n);
            return Ok(OsString::from_vec(buf));
        }
        // The target may have been cut: try again with more room (PATH_MAX is only advisory).
        if buf.len() >= 1 << 20 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "symlink target too long",
            ));
        }
        let len = buf.len() * 4;
        buf.resize(len, 0);
    }
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
    let cname = cstring(name.as_bytes())?;
    let spec = |t: Option<Timespec>| match t {
        Some(t) => libc::timespec {
            tv_sec: t.secs as libc::time_t,
            tv_nsec: t.nanos as _,
        },
        None => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
    };
    let times = [spec(atime), spec(mtime)];
    let mut flags = 0;
    if !follow {
        flags |= libc::AT_SYMLINK_NOFOLLOW;
    }
    if name.is_empty() {
        flags |= libc::AT_EMPTY_PATH;
    }
    // SAFETY: `cname` is NUL-terminated and `times` holds the two timespecs the call reads;
    // both outlive the call. The fd is borrowed, so open.
    check(unsafe { libc::utimensat(dir.as_raw_fd(), cname.as_ptr(), times.as_ptr(), flags) })
}

/// fchownat(2) with AT_EMPTY_PATH: changes the owner of the file `fd` refers to (O_PATH
/// descriptors work). `None` leaves the uid or gid unchanged.
pub fn fchown_fd(fd: BorrowedFd<'_>, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    let uid = uid.map_or(u32::MAX, |u| u) as libc::uid_t;
    let gid = gid.map_or(u32::MAX, |g| g) as libc::gid_t;
    // SAFETY: the path is a static empty C string; the fd is borrowed, so open.
    check(unsafe { libc::fchownat(fd.as_raw_fd(), c"".as_ptr(), uid, gid, libc::AT_EMPTY_PATH) })
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
    // SAFETY: F_GETFL takes no argument; the fd is borrowed, so open.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let wanted = if nonblocking {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    if wanted == flags {
        return Ok(());
    }
    // SAFETY: F_SETFL takes an int of flags; the fd is borrowed, so open.
    check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, wanted) })
}

/// One entry of a directory, as getdents64 gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawDirEntry {
    pub name: OsString,
    pub ino: u64,
    /// From `d_type`; [`FileType::Unknown`] when the file system does not fill it in.
    pub file_type: FileType,
}

/// The byte layout of `struct linux_dirent64` up to the name.
const DIRENT_INO: usize = 0;
const DIRENT_RECLEN: usize = 16;
const DIRENT_TYPE: usize = 18;
const DIRENT_NAME: usize = 19;

/// Every entry of the directory `dir` (opened for reading, not O_PATH), except `.` and `..`,
/// read with getdents64(2) from the start (the descriptor's offset is rewound first). No
/// path is involved, so nothing here can be redirected by a symlink or a magic link.
pub fn read_dir(dir: BorrowedFd<'_>) -> io::Result<Vec<RawDirEntry>> {
    // SAFETY: lseek takes plain integers; the fd is borrowed, so open.
    if unsafe { libc::lseek(dir.as_raw_fd(), 0, libc::SEEK_SET) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf: Vec<u8> = vec![0; 32 * 1024];
    let mut entries = Vec::new();
    loop {
        // SAFETY: `buf` is writable for `buf.len()` bytes and the kernel writes at most that
        // many; it outlives the call. The fd is borrowed, so open.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd() as libc::c_long,
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(err);
        }
        if n == 0 {
            return Ok(entries);
        }
        parse_dirents(&buf[..n as usize], &mut entries)?;
    }
}

/// Decodes a getdents64 buffer; safe code over bytes, so a malformed record is an error, not UB.
fn parse_dirents(mut bytes: &[u8], out: &mut Vec<RawDirEntry>) -> io::Result<()> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed getdents64 record");
    while !bytes.is_empty() {
        if bytes.len() < DIRENT_NAME + 1 {
            return Err(bad());
        }
        let reclen = u16::from_ne_bytes([bytes[DIRENT_RECLEN], bytes[DIRENT_RECLEN + 1]]) as usize;
        if reclen < DIRENT_NAME + 1 || reclen > bytes.len() {
            return Err(bad());
        }
        let record = &bytes[..reclen];
        let mut ino = [0u8; 8];
        ino.copy_from_slice(&record[DIRENT_INO..DIRENT_INO + 8]);
        let name_field = &record[DIRENT_NAME..];
        let name_len = name_field.iter().position(|&b| b == 0).ok_or_else(bad)?;
        let name = &name_field[..name_len];
        if name != b"." && name != b".." {
            out.push(RawDirEntry {
                name: OsStr::from_bytes(name).to_os_string(),
                ino: u64::from_ne_bytes(ino),
                file_type: FileType::from_dirent(record[DIRENT_TYPE]),
            });
        }
        bytes = &bytes[reclen..];
    }
    Ok(())
}

/// Fills `buf` from the kernel's CSPRNG (getrandom(2), blocking only until it is seeded).
pub fn fill_random(buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: `rest` is writable for `rest.len()` bytes and the kernel writes at most that many.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(err);
        }
        done += n as usize;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// crypt(3), from libxcrypt's libcrypt.so.1 (the runtime package libcrypt1; no -dev package is
// needed because the library is named verbatim rather than through the libcrypt.so symlink).

/// `sizeof(struct crypt_data)` in libxcrypt: output 384 + setting 384 + input 512 +
/// reserved 767 + initialized 1 + internal 30720.
const CRYPT_DATA_SIZE: usize = 32768;
/// `CRYPT_GENSALT_OUTPUT_SIZE`.
const CRYPT_GENSALT_OUTPUT_SIZE: usize = 192;
/// `CRYPT_MAX_PASSPHRASE_SIZE`: longer passphrases are refused by libxcrypt.
pub const CRYPT_MAX_PASSPHRASE_SIZE: usize = 512;

#[link(name = "libcrypt.so.1", kind = "dylib", modifiers = "+verbatim")]
extern "C" {
    fn crypt_rn(
        phrase: *const libc::c_char,
        setting: *const libc::c_char,
        data: *mut libc::c_void,
        size: libc::c_int,
    ) -> *mut libc::c_char;
    fn crypt_gensalt_rn(
        prefix: *const libc::c_char,
        count: libc::c_ulong,
        rbytes: *const libc::c_char,
        nrbytes: libc::c_int,
        output: *mut libc::c_char,
        output_size: libc::c_int,
    ) -> *mut libc::c_char;
}

/// 64-byte aligned scratch for `struct crypt_data` (libxcrypt only needs byte alignment; the
/// extra alignment costs nothing and suits the hashing code's internal casts).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct CryptChunk([u8; 64]);

/// crypt(3) through the reentrant `crypt_rn`: hashes `phrase` with the method, cost and salt
/// that `setting` (a full hash or a `crypt_gensalt` result) names. An unsupported or malformed
/// setting is an `InvalidInput` error, never a failure token.
pub fn crypt(phrase: &[u8], setting: &str) -> io::Result<String> {
    if phrase.len() >= CRYPT_MAX_PASSPHRASE_SIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "passphrase longer than crypt(3) accepts",
        ));
    }
    let phrase = cstring(phrase)?;
    let setting = cstring(setting.as_bytes())?;
    let mut data = vec![CryptChunk([0; 64]); CRYPT_DATA_SIZE / 64];
    // SAFETY: both strings are NUL-terminated; `data` is zeroed, writable, suitably aligned and
    // CRYPT_DATA_SIZE bytes long, which is passed so libxcrypt checks it. The result points
    // into `data` (or is NULL), and is copied out below before `data` is dropped.
    let out = unsafe {
        crypt_rn(
            phrase.as_ptr(),
            setting.as_ptr(),
            data.as_mut_ptr().cast(),
            CRYPT_DATA_SIZE as libc::c_int,
        )
    };
    let result = if out.is_null() {
        Err(io::Error::last_os_error())
    } else {
        // SAFETY: a non-NULL result is a NUL-terminated string inside `data`, still alive.
        let text = unsafe { CStr::from_ptr(out) };
        match text.to_str() {
            Ok(s) if !s.starts_with('*') && !s.is_empty() => Ok(s.to_owned()),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "crypt(3) does not support this hash",
            )),
        }
    };
    // Best effort: do not leave password-derived state in freed memory.
    data.fill(CryptChunk([0; 64]));
    std::hint::black_box(&data);
    match result {
        Err(e)
            if e.raw_os_error() == Some(libc::EINVAL) || e.raw_os_error() == Some(libc::ERANGE) =>
        {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "crypt(3) does not support this hash",
            ))
        }
        other => other,
    }
}

/// crypt_gensalt(3) through `crypt_gensalt_rn`: a setting string for method `prefix` (`"$y$"`,
/// `"$6$"`, ...) at cost `count` (0: the method's default) from the random bytes given.
/// An unsupported method is an `InvalidInput` error.
pub fn crypt_gensalt(prefix: &str, count: u64, random: &[u8]) -> io::Result<String> {
    let prefix = cstring(prefix.as_bytes())?;
    let mut output = [0 as libc::c_char; CRYPT_GENSALT_OUTPUT_SIZE];
    // SAFETY: `prefix` is NUL-terminated; `random` is readable for the length passed; `output`
    // is writable for the size passed. All outlive the call; the result points into `output`.
    let out = unsafe {
        crypt_gensalt_rn(
            prefix.as_ptr(),
            count as libc::c_ulong,
            random.as_ptr().cast(),
            random.len() as libc::c_int,
            output.as_mut_ptr(),
            output.len() as libc::c_int,
        )
    };
    if out.is_null() {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("crypt_gensalt(3) cannot make a setting for this method: {err}"),
        ));
    }
    // SAFETY: a non-NULL result is a NUL-terminated string inside `output`, still alive.
    let text = unsafe { CStr::from_ptr(out) };
    match text.to_str() {
        Ok(s) if !s.starts_with('*') && !s.is_empty() => Ok(s.to_owned()),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "crypt_gensalt(3) cannot make a setting for this method",
        )),
    }
}

/// The kinds of whole-file lock [`try_lock`] takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileLock {
    /// A read lock (F_RDLCK): any number share it. The file must be open for reading.
    Shared,
    /// A write lock (F_WRLCK): excludes every other lock. The file must be open for writing.
    Exclusive,
}

/// Tries once, without blocking, to lock all of `fd`'s file (to its end, however far it
/// grows) with an open file description lock (F_OFD_SETLK). `Ok(false)`: a conflicting lock
/// is held.
///
/// An OFD lock belongs to the open file description, so two sessions of this one process that
/// open the same file exclude each other as two vsftpd processes do; a classic F_SETLK lock
/// belongs to the process and would let every session of ringd through. OFD locks and classic
/// ones conflict with each other, so ringd's locks also hold against vsftpd and other programs
/// that lock with fcntl. The lock goes when the last descriptor of the description (the file
/// and any duplicate of it) is closed.
pub fn try_lock(fd: BorrowedFd<'_>, kind: FileLock) -> io::Result<bool> {
    // SAFETY: flock is a plain C struct of integers; all-zero is valid, and OFD locks require
    // l_pid (and any field we do not set) to be 0.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = match kind {
        FileLock::Shared => libc::F_RDLCK,
        FileLock::Exclusive => libc::F_WRLCK,
    } as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    // l_start and l_len 0: from the first byte to the end of the file, whatever its size.
    // SAFETY: F_OFD_SETLK reads the flock it is given, which outlives the call; the fd is
    // borrowed, so open.
    let rc = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_SETLK, &lock) };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        // fcntl(2): a conflicting lock gives EAGAIN or EACCES.
        Some(libc::EAGAIN | libc::EACCES) => Ok(false),
        _ => Err(err),
    }
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
    rustix::fs::sendfile(socket, file, Some(offset), count).map_err(io::Error::from)
}

/// Whether `file` was opened with O_APPEND (splice refuses to write to such files).
pub fn opened_for_append(file: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: F_GETFL takes no argument and only reads the descriptor's status flags.
    let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
    flags >= 0 && flags & libc::O_APPEND != 0
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
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
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
            libc::O_RDONLY,
            0,
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
            libc::O_RDONLY,
            0,
            RESOLVE_JAIL,
        )
        .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        // Magic links are refused even where /proc is reachable.
        let slash = open_path_dir(Path::new("/"));
        let err = openat2(
            slash.as_fd(),
            Path::new("proc/self/root/etc"),
            libc::O_PATH,
            0,
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
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
            0o600,
            RESOLVE_JAIL,
        )
        .unwrap();
        let st = fstat(fd.as_fd()).unwrap();
        assert!(st.is_file());
        assert_eq!(st.mode & 0o7777 & !0o600, 0);
        let err = openat2(
            root.as_fd(),
            Path::new("new"),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
            0o600,
            RESOLVE_JAIL,
        )
        .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EEXIST));
        let err = openat2(
            root.as_fd(),
            Path::new("a\0b"),
            libc::O_PATH,
            0,
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
            RENAME_NOREPLACE,
        )
        .unwrap();
        fs::write(tmp.path().join("h"), b"").unwrap();
        let err = renameat2(
            dir.as_fd(),
            OsStr::new("g"),
            dir.as_fd(),
            OsStr::new("h"),
            RENAME_NOREPLACE,
        )
        .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EEXIST));
        renameat2(
            dir.as_fd(),
            OsStr::new("g"),
            dir.as_fd(),
            OsStr::new("h"),
            0,
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
            .custom_flags(libc::O_PATH)
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
    fn parse_dirents_rejects_garbage() {
        let mut out = Vec::new();
        assert!(parse_dirents(&[0u8; 10], &mut out).is_err());
        let mut rec = vec![0u8; 24];
        rec[DIRENT_RECLEN] = 24;
        rec[DIRENT_TYPE] = libc::DT_REG;
        rec[DIRENT_NAME..DIRENT_NAME + 3].copy_from_slice(b"abc");
        parse_dirents(&rec, &mut out).unwrap();
        assert_eq!(out[0].name, "abc");
        rec[DIRENT_RECLEN] = 200;
        assert!(parse_dirents(&rec, &mut out).is_err());
    }

    #[test]
    fn nonblocking_toggles() {
        let f = File::open("/dev/null").unwrap();
        set_nonblocking(f.as_fd(), true).unwrap();
        set_nonblocking(f.as_fd(), false).unwrap();
    }

    #[test]
    fn ofd_locks_conflict_between_descriptions_of_one_process() {
        let tmp = TempDir::new("lock");
        let path = tmp.path().join("f");
        fs::write(&path, b"data").unwrap();
        let open = || {
            OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .unwrap()
        };
        let (a, b) = (open(), open());
        // Write/write and write/read conflict, though both descriptions are this process's.
        assert!(try_lock(a.as_fd(), FileLock::Exclusive).unwrap());
        assert!(!try_lock(b.as_fd(), FileLock::Exclusive).unwrap());
        assert!(!try_lock(b.as_fd(), FileLock::Shared).unwrap());
        // A duplicate descriptor is the same description: it holds the lock, not waits for it.
        let dup = a.try_clone().unwrap();
        assert!(try_lock(dup.as_fd(), FileLock::Exclusive).unwrap());
        // The lock lasts until the description's last descriptor is closed.
        drop(a);
        assert!(!try_lock(b.as_fd(), FileLock::Shared).unwrap());
        drop(dup);
        // Read/read share; a read lock still keeps a writer out.
        assert!(try_lock(b.as_fd(), FileLock::Shared).unwrap());
        let c = open();
        assert!(try_lock(c.as_fd(), FileLock::Shared).unwrap());
        let d = open();
        assert!(!try_lock(d.as_fd(), FileLock::Exclusive).unwrap());
        drop((b, c));
        assert!(try_lock(d.as_fd(), FileLock::Exclusive).unwrap());
        drop(d);
        // A write lock needs a description open for writing.
        let read_only = File::open(&path).unwrap();
        let err = try_lock(read_only.as_fd(), FileLock::Exclusive).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
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

    #[test]
    fn crypt_matches_mkpasswd_output() {
        // `mkpasswd -m yescrypt`, `-m sha-512` and `-m sha-256`, password "secret pw".
        for hash in [
            "$y$j9T$uAjoe6rC6fLCyM3DZzWA5.$5dpfEi9tZV.4MYEukAHeiV3Tf9KQcX7cK/zH4Yj1yw/",
            "$6$1v2YXdUz90De8wv8$K.BsBkculDiY8Eo6QwdEeNsXlROOceVV8m736znMVyW81CZ5wXxX77eyJMF0faT54yA6/StJavfs/8URYlMII.",
            "$5$qZXHqyCfr6P5pe7Q$4R6WpWOl7TZgRjNlauwa2RMz7PH6Sje8Fz9PHAT5p01",
        ] {
            assert_eq!(crypt(b"secret pw", hash).unwrap(), hash);
            assert_ne!(crypt(b"secret pW", hash).unwrap(), hash);
        }
        let err = crypt(b"x", "$unknown$salt$").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(crypt(&[b'a'; 600], "$6$salt").is_err());
    }

    #[test]
    fn gensalt_makes_settings() {
        let mut random = [0u8; 16];
        fill_random(&mut random).unwrap();
        let y = crypt_gensalt("$y$", 0, &random).unwrap();
        assert!(y.starts_with("$y$j9T$"), "{y}");
        let six = crypt_gensalt("$6$", 0, &random).unwrap();
        assert!(six.starts_with("$6$"), "{six}");
        let hash = crypt(b"pw", &six).unwrap();
        assert_eq!(crypt(b"pw", &hash).unwrap(), hash);
        assert!(crypt_gensalt("$nope$", 0, &random).is_err());
    }
}
