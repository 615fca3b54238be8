//! Giving up root's rights: capability sets, the bounding set, no-new-privileges and user changes, for the calling thread (Linux keeps all of these per thread; a thread started afterwards inherits them).

use std::io;

use rustix::process::{Gid, Uid};
use rustix::thread::{CapabilitySet, CapabilitySets};

/// Whether this process runs as root with the capabilities to give sessions other users'
/// rights (setfsuid and setgroups).
pub fn started_as_root() -> bool {
    rustix::process::geteuid().is_root()
        && rustix::thread::capabilities(None).is_ok_and(|sets| {
            sets.permitted
                .contains(CapabilitySet::SETUID | CapabilitySet::SETGID)
        })
}

/// The calling thread's capabilities: (effective, permitted).
pub fn thread_capabilities() -> io::Result<(CapabilitySet, CapabilitySet)> {
    let sets = rustix::thread::capabilities(None)?;
    Ok((sets.effective, sets.permitted))
}

/// Keeps only `keep` (what the thread already has of it) in the calling thread's permitted
/// and effective sets, and nothing inheritable.
pub fn restrict_thread(keep: CapabilitySet) -> io::Result<()> {
    let current = rustix::thread::capabilities(None)?;
    let kept = current.permitted & keep;
    rustix::thread::set_capabilities(
        None,
        CapabilitySets {
            effective: kept,
            permitted: kept,
            inheritable: CapabilitySet::empty(),
        },
    )?;
    Ok(())
}

/// Removes every capability but `keep` from the bounding set, so nothing executed could ever
/// gain them (ringd executes nothing; this is the second lock). Needs `CAP_SETPCAP`; without
/// it (not root) there is nothing to remove.
pub fn limit_bounding_set(keep: CapabilitySet) -> io::Result<()> {
    let (_, permitted) = thread_capabilities()?;
    if !permitted.contains(CapabilitySet::SETPCAP) {
        return Ok(());
    }
    for bit in 0..64u32 {
        let capability = CapabilitySet::from_bits_retain(1 << bit);
        if keep.contains(capability) {
            continue;
        }
        match rustix::thread::remove_capability_from_bounding_set(capability) {
            Ok(()) => {}
            // Capabilities this kernel does not know.
            Err(rustix::io::Errno::INVAL) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}

/// Sets no-new-privileges: nothing the thread (or a thread it starts) executes can gain
/// rights from set-uid bits or file capabilities.
pub fn set_no_new_privs() -> io::Result<()> {
    rustix::thread::set_no_new_privs(true)?;
    Ok(())
}

/// Makes the calling thread `uid`/`gid` with `groups`, keeping `keep` of its capabilities
/// (for a process still single-threaded, that is the whole process: NTP-only ringd becoming
/// chrony.conf's `user`). A thread whose uids all become non-zero otherwise loses every
/// capability; the keep-capabilities flag carries `keep` across, and it is raised again.
pub fn become_user(uid: u32, gid: u32, groups: &[u32], keep: CapabilitySet) -> io::Result<()> {
    let groups: Vec<Gid> = groups.iter().map(|&g| Gid::from_raw(g)).collect();
    rustix::thread::set_keep_capabilities(!keep.is_empty())?;
    rustix::thread::set_thread_groups(&groups)?;
    let gid = Gid::from_raw(gid);
    rustix::thread::set_thread_res_gid(gid, gid, gid)?;
    let uid = Uid::from_raw(uid);
    rustix::thread::set_thread_res_uid(uid, uid, uid)?;
    rustix::thread::set_keep_capabilities(false)?;
    restrict_thread(keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_own_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::spawn(f).join().unwrap()
    }

    #[test]
    fn a_restricted_thread_keeps_only_what_it_was_told() {
        if !started_as_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let (effective, permitted) = on_own_thread(|| {
            restrict_thread(CapabilitySet::SETUID | CapabilitySet::SETGID).unwrap();
            thread_capabilities().unwrap()
        });
        assert_eq!(effective, CapabilitySet::SETUID | CapabilitySet::SETGID);
        assert_eq!(permitted, effective);
        // Other threads are untouched.
        assert!(thread_capabilities()
            .unwrap()
            .1
            .contains(CapabilitySet::SYS_ADMIN));
    }

    #[test]
    fn a_thread_becomes_nobody_with_one_capability_left() {
        if !started_as_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let (ids, caps, refused) = on_own_thread(|| {
            become_user(65534, 65534, &[], CapabilitySet::NET_BIND_SERVICE).unwrap();
            let ids = (
                rustix::process::getuid().as_raw(),
                rustix::process::geteuid().as_raw(),
                rustix::process::getegid().as_raw(),
            );
            // Back to root is impossible now.
            let refused = rustix::thread::set_thread_res_uid(
                Uid::from_raw(0),
                Uid::from_raw(0),
                Uid::from_raw(0),
            )
            .is_err();
            (ids, thread_capabilities().unwrap(), refused)
        });
        assert_eq!(ids, (65534, 65534, 65534));
        assert_eq!(caps.0, CapabilitySet::NET_BIND_SERVICE);
        assert_eq!(caps.1, CapabilitySet::NET_BIND_SERVICE);
        assert!(refused);
    }

    #[test]
    fn the_bounding_set_and_no_new_privs() {
        if !started_as_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let (bounded, kept, no_new) = on_own_thread(|| {
            limit_bounding_set(CapabilitySet::CHOWN).unwrap();
            set_no_new_privs().unwrap();
            (
                rustix::thread::capability_is_in_bounding_set(CapabilitySet::SYS_ADMIN).unwrap(),
                rustix::thread::capability_is_in_bounding_set(CapabilitySet::CHOWN).unwrap(),
                rustix::thread::no_new_privs().unwrap(),
            )
        });
        assert!(!bounded && kept && no_new);
        assert!(!rustix::thread::no_new_privs().unwrap(), "only that thread");
    }
}
