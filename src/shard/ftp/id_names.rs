//! User and group names for listings, read from /etc/passwd and /etc/group once, so a listing makes no lookup per entry.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// User and group names by id (and ids by name), read from passwd(5) and group(5) files in
/// safe code, so listings need no NSS calls per entry. The first entry for an id wins, as
/// getpwuid(3) with the files source does; NIS `+`/`-` lines and comments are skipped.
#[derive(Debug, Default)]
pub struct IdNames {
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
    user_ids: HashMap<String, (u32, u32)>,
    homes: HashMap<String, PathBuf>,
    group_ids: HashMap<String, u32>,
}

impl IdNames {
    /// No names: listings show ids only.
    pub fn empty() -> IdNames {
        IdNames::default()
    }

    /// Parses the contents of a passwd file and a group file.
    pub fn parse(passwd: &str, group: &str) -> IdNames {
        let mut ids = IdNames::default();
        for fields in records(passwd) {
            if let (Some(name), Some(uid), Some(gid)) = (
                fields.first(),
                fields.get(2).and_then(|s| s.parse::<u32>().ok()),
                fields.get(3).and_then(|s| s.parse::<u32>().ok()),
            ) {
                ids.users.entry(uid).or_insert_with(|| name.to_string());
                ids.user_ids.entry(name.to_string()).or_insert((uid, gid));
                if let Some(home) = fields.get(5).filter(|home| !home.is_empty()) {
                    ids.homes
                        .entry(name.to_string())
                        .or_insert_with(|| PathBuf::from(home));
                }
            }
        }
        for fields in records(group) {
            if let (Some(name), Some(gid)) = (
                fields.first(),
                fields.get(2).and_then(|s| s.parse::<u32>().ok()),
            ) {
                ids.groups.entry(gid).or_insert_with(|| name.to_string());
                ids.group_ids.entry(name.to_string()).or_insert(gid);
            }
        }
        ids
    }

    /// Reads the two files; a missing or unreadable file gives no names of that kind.
    pub fn load(passwd: &Path, group: &Path) -> IdNames {
        let read = |p: &Path| {
            std::fs::read(p)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        IdNames::parse(&read(passwd), &read(group))
    }

    /// /etc/passwd and /etc/group, read once per process on first use.
    pub fn system() -> Arc<IdNames> {
        static SYSTEM: OnceLock<Arc<IdNames>> = OnceLock::new();
        SYSTEM
            .get_or_init(|| {
                Arc::new(IdNames::load(
                    Path::new("/etc/passwd"),
                    Path::new("/etc/group"),
                ))
            })
            .clone()
    }

    pub fn user_name(&self, uid: u32) -> Option<&str> {
        self.users.get(&uid).map(String::as_str)
    }

    pub fn group_name(&self, gid: u32) -> Option<&str> {
        self.groups.get(&gid).map(String::as_str)
    }

    /// A user's (uid, primary gid), e.g. for `chown_username` or `guest_username`.
    pub fn user(&self, name: &str) -> Option<(u32, u32)> {
        self.user_ids.get(name).copied()
    }

    /// The home directory /etc/passwd gives `name`.
    pub fn home(&self, name: &str) -> Option<&Path> {
        self.homes.get(name).map(PathBuf::as_path)
    }

    pub fn group(&self, name: &str) -> Option<u32> {
        self.group_ids.get(name).copied()
    }
}

/// The `:`-separated fields of each meaningful line of a passwd or group file.
fn records(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(['+', '-']))
        .map(|l| l.split(':').collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_names_parse() {
        let ids = IdNames::parse(
            "# comment\nroot:x:0:0:root:/root:/bin/bash\n+nis::::::\nftp:x:14:50::/var/ftp:/sbin/nologin\n\
             toor:x:0:0::/root:/bin/sh\nbad:x:notanumber:1::/:/bin/sh\nshort:x\n",
            "root:x:0:\nftp:x:50:\nwheel:x:10:root,ftp\n-minus:x:99:\n",
        );
        assert_eq!(ids.user_name(0), Some("root")); // first wins, as getpwuid
        assert_eq!(ids.user_name(14), Some("ftp"));
        assert_eq!(ids.user_name(99), None);
        assert_eq!(ids.user("toor"), Some((0, 0)));
        assert_eq!(ids.user("ftp"), Some((14, 50)));
        assert_eq!(ids.user("bad"), None);
        assert_eq!(ids.user("+nis"), None);
        assert_eq!(ids.group_name(10), Some("wheel"));
        assert_eq!(ids.group("ftp"), Some(50));
        assert_eq!(ids.group_name(99), None);
        let sys = IdNames::system();
        assert_eq!(sys.user_name(0), Some("root"));
        assert!(Arc::ptr_eq(&sys, &IdNames::system()));
        let none = IdNames::load(Path::new("/nonexistent/p"), Path::new("/nonexistent/g"));
        assert_eq!(none.user_name(0), None);
    }
}
