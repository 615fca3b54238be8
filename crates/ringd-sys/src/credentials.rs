//! Per-thread file-system credentials: the uid, gid and groups the kernel checks a file access against, switched for each FTP session on the shard thread that serves it.
//!
//! Linux keeps credentials per thread, and `setfsuid(2)`, `setfsgid(2)` and the raw
//! `setgroups(2)` system call change only the calling thread's (glibc's `setgroups()` would
//! change every thread's, so it is never used). The file-system uid is the one the kernel
//! checks file accesses against, and a thread whose fsuid is not 0 also loses the file-system
//! capabilities (`CAP_DAC_OVERRIDE`, `CAP_CHOWN`, `CAP_FOWNER`, ...) from its effective set
//! until its fsuid is 0 again, so a session's `open` is checked exactly as in a process that
//! vsftpd had `setuid()` to the user. Sockets, signals and the other capabilities are not
//! affected, which is why the fsuid is switched rather than the effective uid.
//!
//! Switching is lazy: each thread remembers whose credentials it holds and a session on the same
//! identity as the last one (every anonymous session, say) costs no system call.

use std::cell::RefCell;
use std::io;
use std::sync::OnceLock;

use rustix::process::Gid;

/// Whose rights a file operation runs with.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FsIdentity {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups, as `getgrouplist(3)` gives them (the primary group included).
    pub groups: Vec<u32>,
}

/// What the calling thread holds, as far as this module knows.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Held {
    /// The process's own credentials: nothing was switched on this thread.
    Process,
    Identity(FsIdentity),
    /// A switch failed half-way: the next one must set everything again.
    Unknown,
}

thread_local! {
    static HELD: RefCell<Held> = const { RefCell::new(Held::Process) };
}

/// The process's own file-system credentials, read before any thread switched its own.
struct ProcessIdentity {
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
}

static PROCESS: OnceLock<ProcessIdentity> = OnceLock::new();

fn process_identity() -> &'static ProcessIdentity {
    // The first call of any switch reads this, on a thread that has not switched yet (every
    // switch goes through here first), so it sees the process's credentials.
    PROCESS.get_or_init(|| ProcessIdentity {
        uid: rustix::process::geteuid().as_raw(),
        gid: rustix::process::getegid().as_raw(),
        groups: rustix::process::getgroups()
            .map(|groups| groups.into_iter().map(Gid::as_raw).collect())
            .unwrap_or_default(),
    })
}

/// Makes the calling thread's file accesses run as `who`. Fails (and the caller must not do
/// the access) if the thread lacks `CAP_SETUID`/`CAP_SETGID` or the kernel did not take it.
pub fn act_as(who: &FsIdentity) -> io::Result<()> {
    process_identity();
    let already =
        HELD.with(|held| matches!(&*held.borrow(), Held::Identity(current) if current == who));
    if already {
        return Ok(());
    }
    switch(who.uid, who.gid, &who.groups, Held::Identity(who.clone()))
}

/// Gives the calling thread back the process's own file-system credentials (for what ringd
/// does for itself rather than for a session, such as chown_uploads).
pub fn act_as_process() -> io::Result<()> {
    if HELD.with(|held| *held.borrow() == Held::Process) {
        return Ok(());
    }
    let process = process_identity();
    switch(process.uid, process.gid, &process.groups, Held::Process)
}

/// Whether this thread may switch to other users' credentials (it has `CAP_SETUID` and
/// `CAP_SETGID`: ringd started as root and kept them for its FTP sessions).
pub fn can_switch() -> bool {
    use rustix::thread::CapabilitySet;
    rustix::thread::capabilities(None).is_ok_and(|sets| {
        sets.effective
            .contains(CapabilitySet::SETUID | CapabilitySet::SETGID)
    })
}

fn switch(uid: u32, gid: u32, groups: &[u32], then: Held) -> io::Result<()> {
    HELD.with(|held| *held.borrow_mut() = Held::Unknown);
    // Groups first: setgroups needs CAP_SETGID, which a non-zero fsuid does not take away, but
    // doing it before the uid keeps the order every set*id sequence uses.
    let groups: Vec<Gid> = groups.iter().map(|&g| Gid::from_raw(g)).collect();
    rustix::thread::set_thread_groups(&groups)?;
    set_fs_gid(gid)?;
    set_fs_uid(uid)?;
    HELD.with(|held| *held.borrow_mut() = then);
    Ok(())
}

/// The file-system uid of the calling thread, as the kernel has it.
pub fn current_fs_uid() -> u32 {
    // SAFETY: setfsuid(2) takes any value; -1 is never a valid uid, so this changes nothing and
    // returns the current fsuid (its documented way of reading it).
    unsafe { libc::setfsuid(u32::MAX) as u32 }
}

/// The file-system gid of the calling thread, as the kernel has it.
pub fn current_fs_gid() -> u32 {
    // SAFETY: as in `current_fs_uid`, for setfsgid(2).
    unsafe { libc::setfsgid(u32::MAX) as u32 }
}

/// setfsuid(2) reports no error, only the previous value: success is read back.
fn set_fs_uid(uid: u32) -> io::Result<()> {
    // SAFETY: setfsuid(2) only changes the calling thread's credentials (glibc passes it
    // straight to the kernel); it has no memory arguments.
    unsafe { libc::setfsuid(uid) };
    if current_fs_uid() == uid {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(libc::EPERM))
    }
}

fn set_fs_gid(gid: u32) -> io::Result<()> {
    // SAFETY: as in `set_fs_uid`, for setfsgid(2).
    unsafe { libc::setfsgid(gid) };
    if current_fs_gid() == gid {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(libc::EPERM))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dirs::TempDir;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn root() -> bool {
        rustix::process::geteuid().is_root() && can_switch()
    }

    /// Runs `f` on a thread of its own, so the credentials it switches end with it.
    fn on_own_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::spawn(f).join().unwrap()
    }

    const NOBODY: FsIdentity = FsIdentity {
        uid: 65534,
        gid: 65534,
        groups: Vec::new(),
    };

    #[test]
    fn the_kernel_checks_accesses_against_the_identity() {
        if !root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = TempDir::new("credentials");
        let private = dir.path().join("private");
        std::fs::write(&private, "root only").unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let created = dir.path().join("created");
        let (refused, made) = on_own_thread({
            let private = private.clone();
            let created = created.clone();
            move || {
                act_as(&NOBODY).unwrap();
                let refused = std::fs::read(&private).unwrap_err().raw_os_error();
                std::fs::write(&created, "by nobody").unwrap();
                act_as_process().unwrap();
                let readable_again = std::fs::read(&private).is_ok();
                (refused, readable_again)
            }
        });
        assert_eq!(refused, Some(libc::EACCES), "root's 0600 file is refused");
        assert!(
            made,
            "back to the process's credentials, root reads it again"
        );
        let owner = std::fs::metadata(&created).unwrap();
        assert_eq!((owner.uid(), owner.gid()), (65534, 65534));
    }

    #[test]
    fn supplementary_groups_count() {
        if !root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = TempDir::new("credentials-groups");
        let shared = dir.path().join("group-readable");
        std::fs::write(&shared, "for group 4242").unwrap();
        std::os::unix::fs::chown(&shared, Some(0), Some(4242)).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let (without, with) = on_own_thread(move || {
            act_as(&NOBODY).unwrap();
            let without = std::fs::read(&shared).is_ok();
            act_as(&FsIdentity {
                groups: vec![65534, 4242],
                ..NOBODY
            })
            .unwrap();
            let with = std::fs::read(&shared).is_ok();
            (without, with)
        });
        assert!(!without && with);
    }

    #[test]
    fn other_threads_keep_their_credentials() {
        if !root() {
            eprintln!("skipped: needs root");
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let switched = std::thread::spawn(move || {
            act_as(&NOBODY).unwrap();
            tx.send(current_fs_uid()).unwrap();
            done_rx.recv().unwrap();
        });
        assert_eq!(rx.recv().unwrap(), 65534);
        assert_eq!(current_fs_uid(), 0, "this thread is still root");
        done_tx.send(()).unwrap();
        switched.join().unwrap();
    }

    #[test]
    fn the_same_identity_twice_is_one_switch() {
        if !root() {
            eprintln!("skipped: needs root");
            return;
        }
        on_own_thread(|| {
            act_as(&NOBODY).unwrap();
            // Change the thread behind the cache's back: a second act_as on the same identity
            // must not touch the kernel, so the change stays visible.
            rustix::thread::set_thread_groups(&[Gid::from_raw(7)]).unwrap();
            act_as(&NOBODY).unwrap();
            let groups = rustix::process::getgroups().unwrap();
            assert_eq!(groups, [Gid::from_raw(7)]);
            act_as_process().unwrap();
        });
    }

    #[test]
    fn without_the_capability_switching_fails_and_says_so() {
        if !root() {
            eprintln!("skipped: needs root");
            return;
        }
        let result = on_own_thread(|| {
            let mut sets = rustix::thread::capabilities(None).unwrap();
            sets.effective.remove(
                rustix::thread::CapabilitySet::SETUID | rustix::thread::CapabilitySet::SETGID,
            );
            rustix::thread::set_capabilities(None, sets).unwrap();
            assert!(!can_switch());
            let result = act_as(&NOBODY).map_err(|e| e.raw_os_error());
            (result, current_fs_uid())
        });
        assert_eq!(result.0, Err(Some(libc::EPERM)));
        assert_eq!(result.1, 0, "nothing half-switched");
    }
}
