//! Login roots shared by sessions: one descriptor per root directory in use (and per user it was opened as), not one per session.
//!
//! A jail's root descriptor carries no per-session state (the working directory is a virtual
//! path, every operation is an `openat2` from the root, checked with the caller's
//! credentials), so all sessions logged in to the same directory can resolve from one
//! descriptor. A root is shared only among sessions it was opened for with the same
//! credentials: a descriptor opened by one user must not carry another past a parent
//! directory they could not traverse. With 10,000 anonymous sessions that is one open
//! file instead of 10,000, under an open-file limit that also has to hold their 10,000 control
//! connections.
//!
//! The cache holds only weak references: when the last session of a root ends its descriptor
//! is closed. Each login still looks the path up (one `stat`) and reopens when it names a
//! different directory than the cached descriptor, so an administrator who replaces
//! `anon_root` (rename, new directory) sees new logins land in the new one, as with vsftpd's
//! `chdir` at every login.

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use super::jail::Jail;
use super::session_fs::Credentials;

/// Entries beyond which dead ones are swept at the next insertion.
const SWEEP_ABOVE: usize = 64;

#[derive(Debug, Default)]
pub struct SharedRoots {
    jails: Mutex<HashMap<(PathBuf, Credentials), Weak<Jail>>>,
}

impl SharedRoots {
    /// The jail of `root`, looked up and opened with `opener`'s credentials: the one
    /// sessions already share when it is still the directory the path names, else a newly
    /// opened one.
    pub fn jail(&self, root: &Path, opener: &Credentials) -> io::Result<Arc<Jail>> {
        opener.enter()?;
        let named = std::fs::metadata(root)?;
        let identity = (named.dev(), named.ino());
        let mut jails = self
            .jails
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = (root.to_path_buf(), opener.clone());
        if let Some(jail) = jails.get(&key).and_then(Weak::upgrade) {
            if jail.root_identity() == identity {
                return Ok(jail);
            }
        }
        let jail = Arc::new(Jail::open(root)?);
        if jails.len() >= SWEEP_ABOVE {
            jails.retain(|_, jail| jail.strong_count() > 0);
        }
        jails.insert(key, Arc::downgrade(&jail));
        Ok(jail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dirs::TempDir;

    fn temp_root() -> TempDir {
        TempDir::new("shared-roots")
    }

    #[test]
    fn sessions_of_one_root_share_its_jail() {
        let dir = temp_root();
        let roots = SharedRoots::default();
        let first = roots.jail(dir.path(), &Credentials::Process).unwrap();
        let second = roots.jail(dir.path(), &Credentials::Process).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
    }

    #[test]
    fn different_roots_get_different_jails() {
        let a = temp_root();
        let b = temp_root();
        let roots = SharedRoots::default();
        let first = roots.jail(a.path(), &Credentials::Process).unwrap();
        let second = roots.jail(b.path(), &Credentials::Process).unwrap();
        assert!(!Arc::ptr_eq(&first, &second));
    }

    #[test]
    fn a_replaced_root_directory_is_reopened() {
        let parent = temp_root();
        let root = parent.path().join("ftp");
        std::fs::create_dir(&root).unwrap();
        let roots = SharedRoots::default();
        let old = roots.jail(&root, &Credentials::Process).unwrap();
        std::fs::rename(&root, parent.path().join("ftp.old")).unwrap();
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("new.txt"), b"new").unwrap();
        let new = roots.jail(&root, &Credentials::Process).unwrap();
        assert!(!Arc::ptr_eq(&old, &new));
        assert!(new.stat("/new.txt").is_ok());
        assert!(old.stat("/new.txt").is_err());
    }

    #[test]
    fn the_descriptor_closes_with_its_last_session() {
        let dir = temp_root();
        let roots = SharedRoots::default();
        let weak = Arc::downgrade(&roots.jail(dir.path(), &Credentials::Process).unwrap());
        assert!(weak.upgrade().is_none());
        let again = roots.jail(dir.path(), &Credentials::Process).unwrap();
        assert!(again.stat("/").is_ok());
    }

    #[test]
    fn a_missing_root_is_an_error() {
        let dir = temp_root();
        let roots = SharedRoots::default();
        assert!(roots
            .jail(&dir.path().join("missing"), &Credentials::Process)
            .is_err());
    }
}
