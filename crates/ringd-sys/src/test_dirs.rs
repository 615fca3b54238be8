//! Temporary directories for the workspace's tests: unique per process and call, removed when dropped.

use std::path::{Path, PathBuf};

pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory under the system's temporary directory; `tag` names the test in
    /// its name, so a leftover (after a crash) says where it came from.
    pub fn new(tag: &str) -> TempDir {
        let mut random = [0u8; 8];
        crate::crypt::fill_random(&mut random).unwrap();
        let path = std::env::temp_dir().join(format!(
            "ringd-{tag}-{}-{:016x}",
            std::process::id(),
            u64::from_ne_bytes(random)
        ));
        std::fs::create_dir(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `relative` below the directory.
    pub fn join(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.0.join(relative)
    }

    /// Writes `contents` to `relative` (creating the directories on the way) and returns its
    /// path.
    pub fn write(&self, relative: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
