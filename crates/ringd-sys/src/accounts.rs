//! System accounts through NSS (getpwnam_r, getgrnam_r, getgrouplist), so LDAP or sssd users and groups work as with vsftpd.

use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// A user from the account database (`/etc/passwd` or whatever nsswitch.conf names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    pub shell: PathBuf,
}

/// Where getpwnam_r's buffer starts; it doubles on ERANGE up to [`PASSWD_BUFFER_LIMIT`].
const PASSWD_BUFFER_START: usize = 4096;
/// An entry larger than this is refused rather than followed into unbounded allocation.
const PASSWD_BUFFER_LIMIT: usize = 1 << 20;
/// Where getgrouplist's buffer starts: most users are in a handful of groups.
const GROUP_BUFFER_START: usize = 16;
/// Linux's NGROUPS_MAX: a process cannot hold more supplementary groups than this anyway.
const GROUP_LIMIT: usize = 65536;

/// getpwnam_r(3): the account named `name`, `None` when the database has no such user (a name
/// with a NUL byte cannot exist, so it is `None` too). Errors are NSS failures (an unreachable
/// LDAP server, a broken nsswitch.conf) or an entry whose name is not UTF-8.
pub fn user_by_name(name: &str) -> io::Result<Option<Account>> {
    nss_lookup("account", "user", name, |c_name, buffer| {
        // SAFETY: passwd is a plain C struct of integers and pointers; all-zero is valid and
        // getpwnam_r overwrites it.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: `c_name` is NUL-terminated; `entry`, `buffer` (for the length passed) and
        // `result` are valid and writable, and outlive the call. The strings the entry points
        // to live in `buffer`, which is read below before it is dropped or reused.
        let rc = unsafe {
            libc::getpwnam_r(
                c_name.as_ptr(),
                &mut entry,
                buffer.as_mut_ptr(),
                buffer.len(),
                &mut result,
            )
        };
        match rc {
            0 if result.is_null() => Ok(None),
            // SAFETY: getpwnam_r succeeded and `result` points to `entry`, whose strings point
            // into `buffer`; both are alive and untouched since the call.
            0 => Ok(Some(unsafe { account_from_entry(&entry, name) })),
            errno => Err(errno),
        }
    })?
    .transpose()
}

/// getgrnam_r(3): the id of the group named `name`, `None` when the database has no such group.
/// Errors are NSS failures or an entry too large to read.
pub fn group_id_by_name(name: &str) -> io::Result<Option<u32>> {
    nss_lookup("group", "group", name, |c_name, buffer| {
        // SAFETY: group is a plain C struct of integers and pointers; all-zero is valid and
        // getgrnam_r overwrites it.
        let mut entry: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        // SAFETY: `c_name` is NUL-terminated; `entry`, `buffer` (for the length passed) and
        // `result` are valid and writable, and outlive the call. Only the integer gr_gid is
        // read afterwards.
        let rc = unsafe {
            libc::getgrnam_r(
                c_name.as_ptr(),
                &mut entry,
                buffer.as_mut_ptr(),
                buffer.len(),
                &mut result,
            )
        };
        match rc {
            0 if result.is_null() => Ok(None),
            0 => Ok(Some(entry.gr_gid)),
            errno => Err(errno),
        }
    })
}

/// Runs a reentrant NSS lookup of `kind` `name` in the `database`: `call` gets the name as a C
/// string and a buffer, and returns what it found or the errno. The buffer doubles on ERANGE
/// (large groups list many members) up to [`PASSWD_BUFFER_LIMIT`]; EINTR retries. A name with
/// a NUL byte cannot exist, so it is `None`.
fn nss_lookup<T>(
    database: &str,
    kind: &str,
    name: &str,
    mut call: impl FnMut(&CStr, &mut [libc::c_char]) -> Result<Option<T>, libc::c_int>,
) -> io::Result<Option<T>> {
    let Ok(c_name) = CString::new(name) else {
        return Ok(None);
    };
    let mut buffer: Vec<libc::c_char> = vec![0; PASSWD_BUFFER_START];
    loop {
        match call(&c_name, &mut buffer) {
            Ok(found) => return Ok(found),
            Err(libc::ERANGE) if buffer.len() < PASSWD_BUFFER_LIMIT => {
                buffer = vec![0; buffer.len() * 2];
            }
            Err(libc::ERANGE) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "the {database} database entry of {kind} {name:?} is larger than \
                         {PASSWD_BUFFER_LIMIT} bytes"
                    ),
                ))
            }
            Err(libc::EINTR) => continue,
            Err(errno) => {
                let err = io::Error::from_raw_os_error(errno);
                return Err(io::Error::new(
                    err.kind(),
                    format!("looking up {kind} {name:?} in the {database} database (NSS): {err}"),
                ));
            }
        }
    }
}

/// Copies a passwd entry out of getpwnam_r's buffer.
///
/// # Safety
/// Every string pointer of `entry` is NULL or points to a NUL-terminated string that is alive.
unsafe fn account_from_entry(entry: &libc::passwd, looked_up: &str) -> io::Result<Account> {
    let text = |ptr: *const libc::c_char| -> &[u8] {
        if ptr.is_null() {
            b""
        } else {
            // SAFETY: the caller guarantees a non-NULL pointer is a live NUL-terminated string.
            unsafe { CStr::from_ptr(ptr) }.to_bytes()
        }
    };
    let name = String::from_utf8(text(entry.pw_name).to_vec()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the account database names user {looked_up:?} with bytes that are not UTF-8"),
        )
    })?;
    Ok(Account {
        name,
        uid: entry.pw_uid,
        gid: entry.pw_gid,
        home: PathBuf::from(OsStr::from_bytes(text(entry.pw_dir))),
        shell: PathBuf::from(OsStr::from_bytes(text(entry.pw_shell))),
    })
}

/// getgrouplist(3): the groups of user `name`, its primary group `primary_gid` included, as a
/// login gets them (what initgroups would set). The buffer grows to the count glibc reports.
pub fn group_ids(name: &str, primary_gid: u32) -> io::Result<Vec<u32>> {
    let c_name = CString::new(name).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("user name {name:?} contains a NUL byte"),
        )
    })?;
    let mut groups: Vec<libc::gid_t> = vec![0; GROUP_BUFFER_START];
    loop {
        let mut count = libc::c_int::try_from(groups.len()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `c_name` is NUL-terminated; `groups` is writable for `count` entries and
        // `count` is writable; all outlive the call, which keeps no pointer.
        let rc = unsafe {
            libc::getgrouplist(
                c_name.as_ptr(),
                primary_gid,
                groups.as_mut_ptr(),
                &mut count,
            )
        };
        let reported = usize::try_from(count).unwrap_or(0);
        if rc >= 0 {
            groups.truncate(reported.min(groups.len()));
            return Ok(groups);
        }
        // -1: the buffer was too small and `count` now says how many there are. Growing at
        // least twofold ends the loop even if membership keeps changing between calls.
        let wanted = reported.max(groups.len() * 2);
        if wanted > GROUP_LIMIT {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("user {name:?} is in more than {GROUP_LIMIT} groups"),
            ));
        }
        groups = vec![0; wanted];
    }
}

/// Real accounts and groups for root-only tests, removed again when dropped (also when the
/// test panics).
#[cfg(test)]
pub(crate) mod test_accounts {
    use std::process::Command;

    /// Whether the tests that create accounts can run; prints why not when they cannot.
    pub(crate) fn running_as_root() -> bool {
        let root = rustix::process::geteuid().is_root();
        if !root {
            println!("skipped: needs root");
        }
        root
    }

    /// `prefix` and six random lowercase hex digits: short enough for any name limit, and
    /// lowercase because PAM lowercases service names.
    pub(crate) fn random_name(prefix: &str) -> String {
        let mut random = [0u8; 3];
        crate::crypt::fill_random(&mut random).unwrap();
        format!(
            "{prefix}{:02x}{:02x}{:02x}",
            random[0], random[1], random[2]
        )
    }

    /// Runs an account tool (useradd, chpasswd, ...) with `input` on its stdin; a failure
    /// panics with the tool's own message.
    pub(crate) fn run_tool(program: &str, args: &[&str], input: Option<&str>) {
        use std::io::Write;
        use std::process::Stdio;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        let mut stdin = child.stdin.take().unwrap();
        if let Some(input) = input {
            stdin.write_all(input.as_bytes()).unwrap();
        }
        drop(stdin);
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// A user made with useradd (no home directory, shell /bin/sh), deleted on drop.
    pub(crate) struct TestAccount {
        pub(crate) name: String,
    }

    impl TestAccount {
        pub(crate) fn new() -> TestAccount {
            let name = random_name("ringdpam");
            run_tool("useradd", &["-M", "-s", "/bin/sh", &name], None);
            TestAccount { name }
        }

        pub(crate) fn set_password(&self, password: &str) {
            run_tool(
                "chpasswd",
                &[],
                Some(&format!("{}:{password}\n", self.name)),
            );
        }
    }

    impl Drop for TestAccount {
        fn drop(&mut self) {
            let _ = Command::new("userdel").arg(&self.name).output();
        }
    }

    /// A group made with groupadd, deleted on drop.
    pub(crate) struct TestGroup {
        pub(crate) name: String,
    }

    impl TestGroup {
        pub(crate) fn new() -> TestGroup {
            let name = random_name("ringdgrp");
            run_tool("groupadd", &[&name], None);
            TestGroup { name }
        }
    }

    impl Drop for TestGroup {
        fn drop(&mut self) {
            let _ = Command::new("groupdel").arg(&self.name).output();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_accounts::{running_as_root, TestAccount, TestGroup};
    use super::*;
    use std::path::Path;

    #[test]
    fn groups_are_found_by_name() {
        assert_eq!(group_id_by_name("root").unwrap(), Some(0));
        assert_eq!(group_id_by_name("no-such-group-ringd").unwrap(), None);
        assert_eq!(group_id_by_name("nul\0byte").unwrap(), None);
        if !running_as_root() {
            return;
        }
        let group = TestGroup::new();
        let listed = std::fs::read_to_string("/etc/group").unwrap();
        let gid: u32 = listed
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{}:x:", group.name)))
            .and_then(|rest| rest.split(':').next())
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(group_id_by_name(&group.name).unwrap(), Some(gid));
    }

    #[test]
    fn root_is_uid_0_with_home_root() {
        let root = user_by_name("root")
            .unwrap()
            .expect("root is in the database");
        assert_eq!(root.name, "root");
        assert_eq!((root.uid, root.gid), (0, 0));
        assert_eq!(root.home, Path::new("/root"));
        assert!(root.shell.is_absolute(), "{:?}", root.shell);
    }

    #[test]
    fn missing_user_is_none() {
        assert_eq!(user_by_name("ringd-no-such-user-7f3a").unwrap(), None);
        assert_eq!(user_by_name("ro\0ot").unwrap(), None);
        assert_eq!(user_by_name("").unwrap(), None);
    }

    #[test]
    fn root_groups_include_the_primary_group() {
        let groups = group_ids("root", 0).unwrap();
        assert!(groups.contains(&0), "{groups:?}");
        // The primary gid is added even when no group file entry lists it for the user.
        let groups = group_ids("ringd-no-such-user-7f3a", 4242).unwrap();
        assert_eq!(groups, vec![4242]);
        assert_eq!(
            group_ids("ro\0ot", 0).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn added_user_and_supplementary_groups() {
        if !running_as_root() {
            return;
        }
        let account = TestAccount::new();
        let found = user_by_name(&account.name)
            .unwrap()
            .expect("useradd added it");
        assert_eq!(found.name, account.name);
        assert_eq!(found.shell, Path::new("/bin/sh"));
        assert_ne!(found.uid, 0);
        let before = group_ids(&account.name, found.gid).unwrap();
        assert_eq!(before, vec![found.gid]);

        // More groups than the first buffer holds, so the growing path runs too.
        let groups: Vec<TestGroup> = (0..GROUP_BUFFER_START + 3)
            .map(|_| TestGroup::new())
            .collect();
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        super::test_accounts::run_tool("usermod", &["-aG", &names.join(","), &account.name], None);
        let after = group_ids(&account.name, found.gid).unwrap();
        assert!(after.contains(&found.gid), "{after:?}");
        assert_eq!(after.len(), groups.len() + 1, "{after:?}");
        for group in &groups {
            let gid = group_gid(&group.name);
            assert!(
                after.contains(&gid),
                "{} ({gid}) not in {after:?}",
                group.name
            );
        }
    }

    /// The group's id as `getent group` prints it (name:x:gid:members).
    fn group_gid(name: &str) -> u32 {
        let out = std::process::Command::new("getent")
            .args(["group", name])
            .output()
            .unwrap();
        let line = String::from_utf8(out.stdout).unwrap();
        line.split(':').nth(2).unwrap().trim().parse().unwrap()
    }
}
