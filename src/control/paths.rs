//! Where the control socket lives by default: a system path, or a per-user one for the demo.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// ringd's socket when it serves configuration files (as root, normally).
pub const SYSTEM_SOCKET: &str = "/run/ringd/ringd.sock";

/// The built-in demo runs as any user: its socket goes in the user's runtime directory, or
/// in /tmp under the user's id when there is none.
pub fn demo_socket(runtime_dir: Option<&OsStr>, uid: u32) -> PathBuf {
    match runtime_dir.map(Path::new).filter(|dir| dir.is_absolute()) {
        Some(dir) => dir.join("ringd.sock"),
        None => PathBuf::from(format!("/tmp/ringd-{uid}.sock")),
    }
}

/// ringd's default socket: the demo's when running the demo, else the system one.
pub fn default_socket(demo: bool) -> PathBuf {
    if demo {
        demo_socket(
            std::env::var_os("XDG_RUNTIME_DIR").as_deref(),
            rustix::process::getuid().as_raw(),
        )
    } else {
        PathBuf::from(SYSTEM_SOCKET)
    }
}

/// ringctl's default socket: the system one, unless only the demo's exists.
pub fn client_socket() -> PathBuf {
    prefer_existing(
        PathBuf::from(SYSTEM_SOCKET),
        default_socket(true),
        Path::exists,
    )
}

/// `system`, or `demo` when only that one exists; when neither does, `system`, which the
/// error message then names.
fn prefer_existing(system: PathBuf, demo: PathBuf, exists: impl Fn(&Path) -> bool) -> PathBuf {
    if !exists(&system) && exists(&demo) {
        demo
    } else {
        system
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_uses_the_runtime_directory_or_tmp() {
        assert_eq!(
            demo_socket(Some(OsStr::new("/run/user/1000")), 1000),
            PathBuf::from("/run/user/1000/ringd.sock")
        );
        assert_eq!(
            demo_socket(None, 1000),
            PathBuf::from("/tmp/ringd-1000.sock")
        );
        // The XDG spec wants an absolute path; anything else is ignored.
        assert_eq!(
            demo_socket(Some(OsStr::new("")), 7),
            PathBuf::from("/tmp/ringd-7.sock")
        );
        assert_eq!(
            demo_socket(Some(OsStr::new("run")), 7),
            PathBuf::from("/tmp/ringd-7.sock")
        );
        assert_eq!(default_socket(false), PathBuf::from(SYSTEM_SOCKET));
    }

    #[test]
    fn ringctl_falls_back_to_the_demo_socket_only_when_it_exists() {
        let system = PathBuf::from(SYSTEM_SOCKET);
        let demo = PathBuf::from("/run/user/1000/ringd.sock");
        let pick = |existing: &[&PathBuf]| {
            prefer_existing(system.clone(), demo.clone(), |p| {
                existing.iter().any(|e| e.as_path() == p)
            })
        };
        assert_eq!(pick(&[]), system);
        assert_eq!(pick(&[&system]), system);
        assert_eq!(pick(&[&demo]), demo);
        assert_eq!(pick(&[&system, &demo]), system);
    }
}
