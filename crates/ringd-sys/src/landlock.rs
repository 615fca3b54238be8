//! Landlock confinement: after [`confine`], ringd can touch only the files its configuration names, a second wall behind the FTP jail's `openat2(RESOLVE_IN_ROOT)`.
//!
//! - Landlock restricts the calling thread and the threads it creates afterwards, never a
//!   thread that already runs: `confine` must run before ringd starts any thread (shards, the
//!   control thread, the sync thread). io_uring runs requests in the thread that submits them
//!   or in worker threads made from it, so a shard's ring is confined with its shard.
//! - Each rule holds the file or directory that its path named when the rules were made (an
//!   open descriptor, not the name): a directory that is later replaced (renamed away and made
//!   again, or mounted over) is not covered, and everything in its replacement is denied.
//! - Every file-system right of Landlock ABI 10, the newest the `landlock` crate knows, is
//!   handled, so whatever no rule grants is denied. A kernel with an older ABI enforces the
//!   rights it knows and leaves the newer ones allowed (best effort, reported as
//!   [`Confinement::Partial`]). From ABI 6 on, signals to processes outside the confinement and
//!   connections to abstract Unix sockets made outside it are denied as well (ringd uses
//!   neither). Network access is not restricted: the FTP server binds and connects on arbitrary
//!   ports for data connections.
//! - Creating files, renaming, unlinking and opening are checked; reading the metadata of a
//!   file (`stat`), changing its mode, owner or times, and locks are not: Unix permissions
//!   still decide those.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use landlock::{
    make_bitflags, Access as _, AccessFs, BitFlags, LandlockStatus, PathBeneath, RestrictSelfError,
    Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetError, RulesetStatus, Scope, ABI,
};
use rustix::fs::{FileType, Mode, OFlags};
use thiserror::Error;

/// The Landlock ABI whose rights are handled: the newest the crate knows. A kernel with a
/// newer ABI enforces all of these; rights added after it stay allowed until this is raised.
const HANDLED_ABI: ABI = ABI::V10;

/// What a [`Rule`] allows below its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read files and list directories below the path (configuration, /etc/passwd, FTP roots
    /// served read-only); on a file, that file only. This also covers the shared libraries that
    /// PAM and NSS load at run time: the loader opens them for reading and maps them, and
    /// Landlock checks its execute right only at `execve`, which ringd never calls.
    Read,
    /// Everything a file server does below the path: read, write, create and remove files and
    /// directories, rename (also between directories), truncate (FTP roots with uploads, home
    /// directories). Not granted: making symlinks, device nodes, FIFOs or sockets, device
    /// ioctls, executing, connecting to sockets.
    ReadWrite,
    /// Append to the log file at the path, and make it again by name after logrotate moved it.
    /// Landlock cannot name a file that does not exist yet, so the grant is on the directory
    /// that holds the file (after symlinks): make regular files in it and write to any file
    /// in it, subdirectories included. Give the logs a directory of their own
    /// (`/var/log/ringd/`), not `/var/log`. Not granted: reading, truncating (ringd opens logs with `O_APPEND` and never
    /// truncates them), removing or renaming anything. A missing log file is fine: only a
    /// missing directory skips the rule.
    LogFile,
    /// Make, connect to and remove Unix sockets in this directory (the control socket: ringd
    /// removes a stale one after checking that nobody answers on it). Removing also works on
    /// other files in the directory; nothing can be created there but sockets.
    SocketDirectory,
    /// Connect to the Unix sockets at or below the path (syslog's `/dev/log`, nscd, systemd's
    /// userdb, which PAM and NSS modules may use). Landlock restricts this from ABI 9 (Linux
    /// 7.1) on; older kernels allow it everywhere.
    ConnectSocket,
}

impl Access {
    /// The rights granted on the rule's directory, or on its file (where the kernel accepts
    /// only the rights that apply to files).
    fn rights(self, is_directory: bool) -> BitFlags<AccessFs> {
        let rights = match self {
            Access::Read => make_bitflags!(AccessFs::{ReadFile | ReadDir}),
            Access::ReadWrite => make_bitflags!(AccessFs::{
                ReadFile | ReadDir | WriteFile | Truncate | MakeReg | MakeDir | RemoveFile
                | RemoveDir | Refer
            }),
            Access::LogFile => make_bitflags!(AccessFs::{MakeReg | WriteFile}),
            Access::SocketDirectory => {
                make_bitflags!(AccessFs::{MakeSock | RemoveFile | ResolveUnix})
            }
            Access::ConnectSocket => AccessFs::ResolveUnix.into(),
        };
        if is_directory {
            rights
        } else {
            rights & AccessFs::from_file(HANDLED_ABI)
        }
    }
}

/// One path of the configuration and what ringd may do there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub path: PathBuf,
    pub access: Access,
}

/// What [`confine`] achieved.
#[derive(Debug, PartialEq, Eq)]
pub enum Confinement {
    /// Every right of every rule is enforced, at this ABI version.
    Enforced { abi: i32, skipped: Vec<PathBuf> },
    /// The kernel's Landlock is older than ABI 10: the rights it knows are enforced, the newer
    /// ones stay allowed (e.g. connecting to Unix sockets below ABI 9, abstract sockets and
    /// signals below ABI 6). `skipped` as for `Enforced`.
    Partial { abi: i32, skipped: Vec<PathBuf> },
    /// No Landlock here (an old kernel, or disabled at boot): nothing applied; the caller logs
    /// `reason` once as a warning.
    Unsupported { reason: String },
}

#[derive(Debug, Error)]
pub enum LandlockError {
    #[error("Landlock rule for {}: cannot open it: {source}; fix the path in the configuration", .path.display())]
    Open { path: PathBuf, source: io::Error },
    #[error("Landlock rule for {}: not a directory; a socket directory rule names the directory that holds the socket", .path.display())]
    NotADirectory { path: PathBuf },
    #[error("Landlock rule for {}: the kernel refused it: {source}", .path.display())]
    AddRule { path: PathBuf, source: RulesetError },
    #[error("Landlock refused to confine ringd: the process needs no_new_privs (prctl PR_SET_NO_NEW_PRIVS) or CAP_SYS_ADMIN when confine runs")]
    NeedsNoNewPrivs,
    #[error("cannot set up the Landlock confinement: {0}")]
    Ruleset(#[from] RulesetError),
}

/// Confines the calling thread, and the threads it creates afterwards, to `rules`: any file
/// access that no rule grants fails with `EACCES`. Rules whose path does not exist are left
/// out and listed in the result. The caller must have set no_new_privs (or hold
/// CAP_SYS_ADMIN); see the module documentation for when to call this.
pub fn confine(rules: &[Rule]) -> Result<Confinement, LandlockError> {
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(HANDLED_ABI))?
        .scope(Scope::from_all(HANDLED_ABI))?
        .create()?
        // The crate sets no_new_privs in restrict_self unless told not to. It does not need
        // it: the kernel wants no_new_privs or CAP_SYS_ADMIN, and ringd's main sets
        // no_new_privs itself along with its other privilege drops.
        .no_new_privs(false);
    let mut skipped = Vec::new();
    for rule in rules {
        let target = match rule.access {
            Access::LogFile => log_directory(&rule.path),
            _ => rule.path.clone(),
        };
        let (fd, is_directory) = match open_target(&target) {
            Ok(opened) => opened,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                skipped.push(rule.path.clone());
                continue;
            }
            Err(source) => {
                return Err(LandlockError::Open {
                    path: target,
                    source,
                })
            }
        };
        if rule.access == Access::SocketDirectory && !is_directory {
            return Err(LandlockError::NotADirectory { path: target });
        }
        ruleset = ruleset
            .add_rule(PathBeneath::new(fd, rule.access.rights(is_directory)))
            .map_err(|source| LandlockError::AddRule {
                path: target,
                source,
            })?;
    }
    let status = ruleset.restrict_self().map_err(|err| match err {
        RulesetError::RestrictSelf(RestrictSelfError::RestrictSelfCall { source, .. })
            if source.raw_os_error() == Some(libc::EPERM) =>
        {
            LandlockError::NeedsNoNewPrivs
        }
        err => LandlockError::Ruleset(err),
    })?;
    let abi = match status.landlock {
        LandlockStatus::Available { effective_abi, .. } => effective_abi as i32,
        LandlockStatus::NotEnabled => {
            return Ok(Confinement::Unsupported {
                reason: "the kernel has Landlock but it is not enabled: add landlock to the \
                         lsm= list on the kernel command line"
                    .into(),
            })
        }
        LandlockStatus::NotImplemented => {
            return Ok(Confinement::Unsupported {
                reason: "the kernel has no Landlock: it needs Linux 5.13 or later built with \
                         CONFIG_SECURITY_LANDLOCK"
                    .into(),
            })
        }
    };
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => Confinement::Enforced { abi, skipped },
        RulesetStatus::PartiallyEnforced => Confinement::Partial { abi, skipped },
        RulesetStatus::NotEnforced => Confinement::Unsupported {
            reason: format!("the kernel's Landlock (ABI {abi}) enforced none of the rules"),
        },
    })
}

/// The directory a log file's rule is granted on: the one that holds the file after symlinks
/// are followed, where ringd makes the file again after a rotation.
fn log_directory(log: &Path) -> PathBuf {
    let resolved = fs::canonicalize(log).unwrap_or_else(|_| log.to_path_buf());
    match resolved.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Opens `path` without reading or writing it (`O_PATH`, which needs no permission on the
/// file itself) and tells whether it is a directory.
fn open_target(path: &Path) -> io::Result<(OwnedFd, bool)> {
    let fd = rustix::fs::open(path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())?;
    let is_directory = FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode).is_dir();
    Ok((fd, is_directory))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dirs::TempDir;
    use std::fs::{File, OpenOptions};
    use std::io::Write;
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::sync::mpsc;

    /// Runs `check` in a new thread confined by `rules`, so the test process itself stays
    /// unconfined. None, after printing the skip line, where the kernel has no Landlock.
    fn in_confined_thread<T: Send>(
        rules: Vec<Rule>,
        check: impl FnOnce(Confinement) -> T + Send,
    ) -> Option<T> {
        std::thread::scope(|scope| {
            let thread = scope.spawn(move || {
                // SAFETY: PR_SET_NO_NEW_PRIVS takes plain integers and sets a flag of the
                // calling thread only (the test process keeps its privileges); ringd's main
                // sets it the same way before confine.
                let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
                assert_eq!(rc, 0, "{}", io::Error::last_os_error());
                match confine(&rules).unwrap() {
                    Confinement::Unsupported { reason } => {
                        println!("skipped: no Landlock ({reason})");
                        None
                    }
                    confinement => Some(check(confinement)),
                }
            });
            thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    fn rule(path: &Path, access: Access) -> Rule {
        Rule {
            path: path.to_path_buf(),
            access,
        }
    }

    #[track_caller]
    fn assert_denied<T: std::fmt::Debug>(result: io::Result<T>, what: &str) {
        match result {
            Err(err) => assert_eq!(err.raw_os_error(), Some(libc::EACCES), "{what}: {err}"),
            Ok(value) => panic!("{what}: allowed ({value:?})"),
        }
    }

    fn names(dir: &Path) -> io::Result<Vec<String>> {
        let mut names = fs::read_dir(dir)?
            .map(|entry| Ok(entry?.file_name().to_string_lossy().into_owned()))
            .collect::<io::Result<Vec<_>>>()?;
        names.sort();
        Ok(names)
    }

    fn append(path: &Path, text: &str) -> io::Result<()> {
        OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)?
            .write_all(text.as_bytes())
    }

    #[test]
    fn read_rule_allows_reading_and_listing_and_nothing_else() {
        let tmp = TempDir::new("landlock-read");
        let served = tmp.path().join("served");
        let outside = tmp.path().join("outside");
        fs::create_dir_all(served.join("sub")).unwrap();
        fs::create_dir(&outside).unwrap();
        fs::write(served.join("sub/file.txt"), "served").unwrap();
        fs::write(outside.join("secret.txt"), "secret").unwrap();
        in_confined_thread(vec![rule(&served, Access::Read)], |_| {
            assert_eq!(
                fs::read_to_string(served.join("sub/file.txt")).unwrap(),
                "served"
            );
            assert_eq!(names(&served.join("sub")).unwrap(), ["file.txt"]);
            let file = served.join("sub/file.txt");
            assert_denied(OpenOptions::new().append(true).open(&file), "write below");
            assert_denied(File::create(served.join("new.txt")), "create below");
            assert_denied(fs::create_dir(served.join("newdir")), "mkdir below");
            assert_denied(fs::remove_file(&file), "remove below");
            assert_denied(
                fs::rename(&file, served.join("renamed.txt")),
                "rename below",
            );
            assert_denied(File::open(outside.join("secret.txt")), "read outside");
            assert_denied(names(&outside), "list outside");
        });
        assert_eq!(names(&served).unwrap(), ["sub"]);
        assert_eq!(names(&served.join("sub")).unwrap(), ["file.txt"]);
    }

    #[test]
    fn read_rule_on_a_file_grants_that_file_only() {
        let tmp = TempDir::new("landlock-read-file");
        let passwd = tmp.path().join("passwd");
        fs::write(&passwd, "root:x:0:0::/root:/bin/sh\n").unwrap();
        fs::write(tmp.path().join("shadow"), "root:*:1::::::\n").unwrap();
        in_confined_thread(vec![rule(&passwd, Access::Read)], |_| {
            assert!(fs::read_to_string(&passwd).unwrap().starts_with("root:"));
            assert_denied(File::open(tmp.path().join("shadow")), "read a sibling");
            assert_denied(names(tmp.path()), "list its directory");
            assert_denied(OpenOptions::new().append(true).open(&passwd), "write it");
        });
    }

    /// The loader opens a library for reading and maps it executable; Landlock's execute right
    /// is checked only at execve, so `Read` is all that PAM and NSS modules need.
    #[test]
    fn read_rule_lets_libraries_be_loaded() {
        let maps = fs::read_to_string("/proc/self/maps").unwrap();
        let libc_dir = maps
            .lines()
            .filter_map(|line| line.split_whitespace().nth(5))
            .find(|path| path.ends_with("/libc.so.6"))
            .and_then(|path| Path::new(path).parent().map(Path::to_path_buf));
        let Some(zlib) = libc_dir
            .map(|dir| dir.join("libz.so.1"))
            .filter(|zlib| zlib.exists())
        else {
            println!("skipped: no libz.so.1 beside libc.so.6");
            return;
        };
        let tmp = TempDir::new("landlock-dlopen");
        let libraries = tmp.path().join("lib");
        let elsewhere = tmp.path().join("elsewhere");
        fs::create_dir(&libraries).unwrap();
        fs::create_dir(&elsewhere).unwrap();
        // Copies, so the loader really opens them rather than finding a loaded zlib.
        fs::copy(&zlib, libraries.join("libz-copy.so.1")).unwrap();
        fs::copy(&zlib, elsewhere.join("libz-copy.so.1")).unwrap();
        let load = |path: &Path| {
            let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: `name` is a NUL-terminated path to a copy of zlib, which has no
            // initialiser touching anything but its own state; the handle is never used, and
            // stays open until the test process ends.
            !unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) }.is_null()
        };
        in_confined_thread(vec![rule(&libraries, Access::Read)], |_| {
            assert!(
                load(&libraries.join("libz-copy.so.1")),
                "load below the rule"
            );
            assert!(
                !load(&elsewhere.join("libz-copy.so.1")),
                "load outside every rule"
            );
        });
    }

    #[test]
    fn read_write_rule_allows_file_server_work_below_and_nothing_above() {
        let tmp = TempDir::new("landlock-rw");
        let root = tmp.path().join("root");
        fs::create_dir_all(root.join("pub")).unwrap();
        fs::write(tmp.path().join("above.txt"), "above").unwrap();
        in_confined_thread(vec![rule(&root, Access::ReadWrite)], |_| {
            let upload = root.join("pub/upload.bin");
            fs::write(&upload, "0123456789").unwrap();
            append(&upload, "ab").unwrap();
            OpenOptions::new()
                .write(true)
                .open(&upload)
                .unwrap()
                .set_len(4)
                .unwrap();
            fs::rename(&upload, root.join("pub/renamed.bin")).unwrap();
            fs::create_dir(root.join("incoming")).unwrap();
            // Between directories, which needs Landlock's refer right.
            fs::rename(
                root.join("pub/renamed.bin"),
                root.join("incoming/moved.bin"),
            )
            .unwrap();
            assert_eq!(
                fs::read_to_string(root.join("incoming/moved.bin")).unwrap(),
                "0123"
            );
            fs::rename(root.join("incoming"), root.join("pub/incoming")).unwrap();
            assert_eq!(names(&root.join("pub")).unwrap(), ["incoming"]);
            fs::remove_file(root.join("pub/incoming/moved.bin")).unwrap();
            fs::remove_dir(root.join("pub/incoming")).unwrap();

            assert_denied(File::open(tmp.path().join("above.txt")), "read above");
            assert_denied(names(tmp.path()), "list above");
            assert_denied(File::create(tmp.path().join("new.txt")), "create above");
            assert_denied(fs::create_dir(tmp.path().join("newdir")), "mkdir above");
            assert_denied(
                fs::remove_file(tmp.path().join("above.txt")),
                "remove above",
            );
            assert_denied(
                std::os::unix::fs::symlink("/etc/passwd", root.join("pub/link")),
                "symlink below",
            );
        });
        assert_eq!(names(&root.join("pub")).unwrap(), Vec::<String>::new());
        assert_eq!(names(tmp.path()).unwrap(), ["above.txt", "root"]);
    }

    #[test]
    fn log_file_rule_appends_and_makes_the_log_again_after_rotation() {
        let tmp = TempDir::new("landlock-log");
        let logs = tmp.path().join("logs");
        fs::create_dir(&logs).unwrap();
        let log = logs.join("xferlog");
        fs::write(&log, "first\n").unwrap();
        fs::write(logs.join("other.log"), "other\n").unwrap();
        let (appended_tx, appended_rx) = mpsc::channel();
        let (rotated_tx, rotated_rx) = mpsc::channel();
        let rules = vec![rule(&log, Access::LogFile)];
        let (log, logs, above) = (&log, &logs, tmp.path().parent().unwrap());
        std::thread::scope(|scope| {
            let confined = scope.spawn(move || {
                in_confined_thread(rules, move |_| {
                    append(log, "second\n").unwrap();
                    appended_tx.send(()).unwrap();
                    rotated_rx.recv().unwrap();
                    append(log, "third\n").unwrap();

                    let other = logs.join("other.log");
                    assert_denied(File::open(log), "read the log");
                    assert_denied(File::open(&other), "read another file");
                    assert_denied(
                        OpenOptions::new().write(true).truncate(true).open(&other),
                        "truncate another file",
                    );
                    assert_denied(fs::remove_file(&other), "remove another file");
                    assert_denied(fs::rename(log, logs.join("xferlog.2")), "rename the log");
                    assert_denied(fs::create_dir(logs.join("dir")), "mkdir");
                    assert_denied(names(above), "list above");
                    // Landlock cannot name a file that does not exist yet: the directory
                    // grant that makes the log again makes any regular file there.
                    File::create(logs.join("made.log")).unwrap();
                })
            });
            // Unconfined, as logrotate: move the log away once ringd has written to it.
            if appended_rx.recv().is_ok() {
                fs::rename(log, logs.join("xferlog.1")).unwrap();
                rotated_tx.send(()).unwrap();
            }
            confined.join().unwrap()
        });
        if !logs.join("xferlog.1").exists() {
            return; // no Landlock: skipped
        }
        assert_eq!(
            fs::read_to_string(logs.join("xferlog.1")).unwrap(),
            "first\nsecond\n"
        );
        assert_eq!(fs::read_to_string(log).unwrap(), "third\n");
        assert_eq!(
            fs::read_to_string(logs.join("other.log")).unwrap(),
            "other\n"
        );
    }

    #[test]
    fn socket_directory_rule_binds_and_removes_sockets_there_only() {
        let tmp = TempDir::new("landlock-sock");
        let run = tmp.path().join("run");
        let elsewhere = tmp.path().join("elsewhere");
        fs::create_dir(&run).unwrap();
        fs::create_dir(&elsewhere).unwrap();
        in_confined_thread(vec![rule(&run, Access::SocketDirectory)], |_| {
            let socket = run.join("ringd.sock");
            let listener = UnixListener::bind(&socket).unwrap();
            // As the control server's stale-socket check does.
            UnixStream::connect(&socket).unwrap();
            drop(listener);
            fs::remove_file(&socket).unwrap();
            assert_denied(
                UnixListener::bind(elsewhere.join("ringd.sock")),
                "bind elsewhere",
            );
            assert_denied(File::create(run.join("file")), "create a regular file");
            assert_denied(fs::create_dir(run.join("dir")), "mkdir");
        });
        assert_eq!(names(&run).unwrap(), Vec::<String>::new());
        assert_eq!(names(&elsewhere).unwrap(), Vec::<String>::new());
    }

    /// Runs `confine` in a thread of its own, where a mistaken success confines only that
    /// thread.
    fn confine_in_a_thread(rules: &[Rule]) -> Result<Confinement, LandlockError> {
        std::thread::scope(|scope| scope.spawn(|| confine(rules)).join().unwrap())
    }

    #[test]
    fn rules_the_configuration_got_wrong_are_errors() {
        let tmp = TempDir::new("landlock-wrong");
        let file = tmp.path().join("ringd.sock");
        fs::write(&file, "").unwrap();
        match confine_in_a_thread(&[rule(&file, Access::SocketDirectory)]) {
            Err(LandlockError::NotADirectory { path }) => assert_eq!(path, file),
            other => panic!("{other:?}"),
        }
        let below_a_file = file.join("child");
        match confine_in_a_thread(&[rule(&below_a_file, Access::Read)]) {
            Err(LandlockError::Open { path, source }) => {
                assert_eq!(path, below_a_file);
                assert_eq!(source.raw_os_error(), Some(libc::ENOTDIR));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn confine_without_no_new_privs_says_what_is_missing() {
        // SAFETY: PR_GET_NO_NEW_PRIVS takes plain integers and only reads a flag.
        if unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) } == 1 {
            println!("skipped: the test process runs with no_new_privs already");
            return;
        }
        let tmp = TempDir::new("landlock-nnp");
        let rules = [rule(tmp.path(), Access::Read)];
        let result = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    if rustix::process::geteuid().is_root() {
                        // The raw call changes this thread's user only (glibc's setresuid
                        // would change every thread's); leaving root drops CAP_SYS_ADMIN.
                        // SAFETY: setresuid takes plain integers; nobody's uid 65534 can
                        // still traverse the temporary directory this thread opens.
                        let rc = unsafe { libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) };
                        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
                    }
                    confine(&rules)
                })
                .join()
                .unwrap()
        });
        match result {
            Err(err @ LandlockError::NeedsNoNewPrivs) => {
                assert!(err.to_string().contains("PR_SET_NO_NEW_PRIVS"), "{err}")
            }
            Ok(Confinement::Unsupported { reason }) => println!("skipped: no Landlock ({reason})"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn connect_socket_rule_allows_connecting_below_it() {
        let tmp = TempDir::new("landlock-connect");
        let allowed = tmp.path().join("allowed");
        let other = tmp.path().join("other");
        fs::create_dir(&allowed).unwrap();
        fs::create_dir(&other).unwrap();
        let _listeners = [
            UnixListener::bind(allowed.join("s")).unwrap(),
            UnixListener::bind(other.join("s")).unwrap(),
        ];
        in_confined_thread(vec![rule(&allowed, Access::ConnectSocket)], |confinement| {
            UnixStream::connect(allowed.join("s")).unwrap();
            let (Confinement::Enforced { abi, .. } | Confinement::Partial { abi, .. }) =
                confinement
            else {
                unreachable!()
            };
            let elsewhere = UnixStream::connect(other.join("s"));
            if abi >= 9 {
                assert_denied(elsewhere, "connect outside the rule");
            } else {
                elsewhere.expect("before ABI 9 Landlock does not restrict connect");
            }
        });
    }

    #[test]
    fn missing_paths_are_skipped_and_the_abi_reported() {
        let tmp = TempDir::new("landlock-missing");
        let present = tmp.path().join("present");
        fs::create_dir(&present).unwrap();
        fs::write(present.join("file"), "here").unwrap();
        let missing = tmp.path().join("missing");
        let first_log = present.join("first.log");
        let rules = vec![
            rule(&missing, Access::Read),
            rule(&present, Access::Read),
            // Directory rights on a file would make the kernel refuse the rule: only the
            // file's rights go in, and the confinement stays complete.
            rule(&present.join("file"), Access::ReadWrite),
            rule(&missing.join("ringd.log"), Access::LogFile),
            // A log not made yet: its directory exists, so the rule holds.
            rule(&first_log, Access::LogFile),
        ];
        in_confined_thread(rules, |confinement| {
            let (abi, skipped) = match confinement {
                Confinement::Enforced { abi, skipped } => {
                    assert!(abi >= 10, "enforced at ABI {abi}");
                    (abi, skipped)
                }
                Confinement::Partial { abi, skipped } => {
                    assert!((1..10).contains(&abi), "partial at ABI {abi}");
                    (abi, skipped)
                }
                Confinement::Unsupported { .. } => unreachable!(),
            };
            println!("Landlock ABI {abi}");
            assert_eq!(skipped, [missing.clone(), missing.join("ringd.log")]);
            assert_eq!(fs::read_to_string(present.join("file")).unwrap(), "here");
            append(&first_log, "made\n").unwrap();
        });
    }
}
