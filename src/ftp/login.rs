//! Who a login becomes, as vsftpd decides it: the checks on the name and password before any is verified, what the shell is asked to verify, and the root, starting directory and credentials of the session that follows (chroot rules, `local_root`, `user_sub_token`, `passwd_chroot_enable`, guests).

use std::net::IpAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::transfer_log::AccessMode;
use super::users::NameList;
use crate::config::vsftpd::FtpConfig;
use crate::sys::credentials::FsIdentity;

/// Longest user name and password vsftpd passes on to be verified (`handle_login`).
const MAX_NAME_BYTES: usize = 128;
const MAX_PASSWORD_BYTES: usize = 128;

/// vsftpd's checks before a login is verified at all (`handle_login`): a name of 1 to 128
/// printable bytes without spaces, starting with a letter, digit, `_` or `.`, and a password of
/// at most 128 bytes. ringd also refuses `/` anywhere and the names `.` and `..`: no account
/// has them, and a name is put into paths (`user_sub_token`, `user_config_dir`).
pub fn plausible(name: &[u8], password: &[u8]) -> bool {
    let Some(&first) = name.first() else {
        return false;
    };
    name.len() <= MAX_NAME_BYTES
        && password.len() <= MAX_PASSWORD_BYTES
        && (first.is_ascii_alphanumeric() || first == b'_' || first == b'.')
        && name.iter().all(|&b| b.is_ascii_graphic() || b >= 0x80)
        && !name.contains(&b'/')
        && name != b"."
        && name != b".."
}

/// What the shell verifies for a login, off the I/O threads (crypt(3) and PAM take
/// milliseconds to seconds).
#[derive(Debug)]
pub struct AuthRequest {
    pub user: String,
    pub password: Vec<u8>,
    pub method: AuthMethod,
    pub remote_ip: IpAddr,
    /// `user_config_dir`: the per-user options file `<dir>/<user>` to read (as root, as vsftpd
    /// does) once the login is accepted.
    pub user_config_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// Nothing to verify (an anonymous login): only the per-user options are read.
    Nothing,
    /// The `virtual_users_file` (a ringd extension): crypt(3) hashes.
    VirtualUser,
    /// A system account through PAM: the service (`pam_service_name`) and whether its shell
    /// must be listed in /etc/shells (`check_shell`).
    SystemAccount { service: String, check_shell: bool },
}

/// A system account as the account database describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups, the primary one included.
    pub groups: Vec<u32>,
    pub home: PathBuf,
}

impl Account {
    pub fn identity(&self) -> FsIdentity {
        FsIdentity {
            uid: self.uid,
            gid: self.gid,
            groups: self.groups.clone(),
        }
    }
}

/// What the shell found.
#[derive(Debug)]
pub enum AuthOutcome {
    Accepted {
        /// The name as verified: PAM may map the one given (vsftpd uses it from then on).
        user: String,
        /// For system accounts.
        account: Option<Account>,
        /// The per-user options file, when `user_config_dir` names one that exists; an error
        /// text when it could not be used.
        user_config: Option<Result<Vec<u8>, String>>,
    },
    /// Wrong password, unknown user, locked or expired account, shell not in /etc/shells...
    /// `delay` is what the verifier asked to wait (PAM's fail delay) before the refusal.
    Refused { delay: Duration },
}

/// Whose credentials a session's file operations carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionIdentity {
    /// `ftp_username`.
    Anonymous,
    /// `guest_username`: virtual users and, with `guest_enable`, every other login.
    Guest,
    /// A system account's own.
    Account(FsIdentity),
}

/// Where a session lives, for the shell to open before the session starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRoot {
    /// The directory that is `/` for the session: its jail, or the real `/` when it is not
    /// jailed.
    pub root: PathBuf,
    pub identity: SessionIdentity,
    /// Open the root with the session's credentials (system accounts and guests with local
    /// privileges: vsftpd changes into it as the user, which root-squashed NFS needs), or with
    /// ringd's own (anonymous sessions and guests: vsftpd does that as root).
    pub as_session: bool,
}

/// Everything decided about a login before its root is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginPlan {
    pub open: OpenRoot,
    /// Where the session starts, inside the root; `/` when jailed.
    pub cwd: Vec<u8>,
    /// Where a session that is not jailed falls back to when `cwd` (its `local_root`) cannot be
    /// entered, as vsftpd silently stays in the home directory; `None` when jailed.
    pub fallback_cwd: Option<Vec<u8>>,
    /// vsftpd's `is_anonymous`: the `anon_*` switches, umask and rate apply.
    pub anonymous_privileges: bool,
    pub access: AccessMode,
    /// The name vsftpd keeps for the session (logs, STAT).
    pub shown_name: Vec<u8>,
}

/// Which kind of login succeeded.
pub enum LoginKind<'a> {
    Anonymous,
    /// A user of the `virtual_users_file`.
    VirtualUser {
        name: &'a str,
    },
    SystemAccount {
        name: &'a str,
        account: &'a Account,
    },
}

/// What the server knows that a plan needs, besides the options.
pub struct PlanContext<'a> {
    /// `anon_root`, or the home of `ftp_username`.
    pub anonymous_root: Option<&'a Path>,
    /// The home of `guest_username`.
    pub guest_home: Option<&'a Path>,
    /// `chroot_list_file`, read when `chroot_list_enable` is set.
    pub chroot_list: &'a NameList,
}

/// Why a login that was verified cannot start: vsftpd's `500 OOPS: ...` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oops(pub String);

/// `path` with every `user_sub_token` replaced by `name`.
fn substitute(config: &FtpConfig, path: &Path, name: &str) -> PathBuf {
    match &config.user_sub_token {
        Some(token) if !token.is_empty() => {
            PathBuf::from(path.to_string_lossy().replace(token.as_str(), name))
        }
        _ => path.to_path_buf(),
    }
}

/// `local_root` for `name`, relative ones taken from `home` as vsftpd's `chdir` does.
fn local_root(config: &FtpConfig, name: &str, home: &Path) -> Option<PathBuf> {
    let root = substitute(config, config.local_root.as_deref()?, name);
    Some(if root.is_absolute() {
        root
    } else {
        home.join(root)
    })
}

/// `passwd_chroot_enable`: a home `/srv/./bob` is the jail `/srv` with `/bob` inside it.
fn passwd_chroot_split(config: &FtpConfig, home: &Path) -> Option<(PathBuf, String)> {
    if !config.passwd_chroot_enable {
        return None;
    }
    let text = home.to_string_lossy();
    let (base, tail) = text.split_once("/./")?;
    let base = if base.is_empty() { "/" } else { base };
    Some((
        PathBuf::from(base),
        format!("/{}", tail.trim_end_matches('/')),
    ))
}

/// A host path as a session's starting directory: bytes, as the kernel gave them.
fn path_bytes(path: &Path) -> Vec<u8> {
    path.as_os_str().as_bytes().to_vec()
}

/// Decides root, starting directory and privileges for a login, as vsftpd's
/// `calculate_chdir_dir` and `vsf_secutil_change_credentials` do.
pub fn plan(
    config: &FtpConfig,
    kind: LoginKind<'_>,
    server: &PlanContext<'_>,
) -> Result<LoginPlan, Oops> {
    match kind {
        LoginKind::Anonymous => {
            let root = server.anonymous_root.ok_or_else(|| {
                Oops("no anonymous root (anon_root, or the home of ftp_username)".into())
            })?;
            Ok(LoginPlan {
                open: OpenRoot {
                    root: root.to_path_buf(),
                    identity: SessionIdentity::Anonymous,
                    as_session: false,
                },
                cwd: b"/".to_vec(),
                fallback_cwd: None,
                anonymous_privileges: true,
                access: AccessMode::Anonymous,
                shown_name: config.ftp_username.clone().into_bytes(),
            })
        }
        LoginKind::VirtualUser { name } => {
            // ringd's virtual users are no system accounts: always jailed, in local_root or
            // in the guest user's home, acting as guest_username.
            let guest_home = server.guest_home.map(|home| substitute(config, home, name));
            let root = match (
                local_root(
                    config,
                    name,
                    guest_home.as_deref().unwrap_or(Path::new("/")),
                ),
                guest_home,
            ) {
                (Some(root), _) => root,
                (None, Some(home)) => home,
                (None, None) => {
                    return Err(Oops(format!(
                        "cannot locate user entry:{}",
                        config.guest_username
                    )))
                }
            };
            let anonymous_privileges = config.guest_enable && !config.virtual_use_local_privs;
            Ok(LoginPlan {
                open: OpenRoot {
                    root,
                    identity: SessionIdentity::Guest,
                    as_session: !anonymous_privileges,
                },
                cwd: b"/".to_vec(),
                fallback_cwd: None,
                anonymous_privileges,
                access: if config.guest_enable {
                    AccessMode::Guest
                } else {
                    AccessMode::Real
                },
                shown_name: name.as_bytes().to_vec(),
            })
        }
        LoginKind::SystemAccount { name, account } => {
            system_account_plan(config, name, account, server)
        }
    }
}

fn system_account_plan(
    config: &FtpConfig,
    name: &str,
    account: &Account,
    server: &PlanContext<'_>,
) -> Result<LoginPlan, Oops> {
    let listed = config.chroot_list_enable && server.chroot_list.contains(name);
    let (identity, home, anonymous_privileges, jailed) = if config.guest_enable {
        let home = server.guest_home.ok_or_else(|| {
            Oops(format!(
                "cannot locate user entry:{}",
                config.guest_username
            ))
        })?;
        let anonymous_privileges = !config.virtual_use_local_privs;
        let jailed = anonymous_privileges || (config.chroot_local_user != listed);
        (
            SessionIdentity::Guest,
            home.to_path_buf(),
            anonymous_privileges,
            jailed,
        )
    } else {
        (
            SessionIdentity::Account(account.identity()),
            account.home.clone(),
            false,
            config.chroot_local_user != listed,
        )
    };
    let home = substitute(config, &home, name);
    let split = passwd_chroot_split(config, &home);
    let local_root = local_root(config, name, &home);
    let access = if config.guest_enable {
        AccessMode::Guest
    } else {
        AccessMode::Real
    };
    let (root, cwd, fallback_cwd) = if jailed {
        match split {
            Some((base, tail)) => (base, tail.into_bytes(), None),
            None => (local_root.unwrap_or(home), b"/".to_vec(), None),
        }
    } else {
        let home_bytes = path_bytes(&home);
        match local_root {
            Some(root) => (PathBuf::from("/"), path_bytes(&root), Some(home_bytes)),
            None => (PathBuf::from("/"), home_bytes, None),
        }
    };
    Ok(LoginPlan {
        open: OpenRoot {
            root,
            identity,
            as_session: !anonymous_privileges,
        },
        cwd: super::filesystem::resolve(b"/", &cwd),
        fallback_cwd: fallback_cwd.map(|cwd| super::filesystem::resolve(b"/", &cwd)),
        anonymous_privileges,
        access,
        shown_name: name.as_bytes().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::vsftpd;

    fn config(text: &str) -> FtpConfig {
        vsftpd::parse_str(text, "test").unwrap()
    }

    fn bob() -> Account {
        Account {
            uid: 1001,
            gid: 1001,
            groups: vec![1001, 27],
            home: PathBuf::from("/home/bob"),
        }
    }

    fn plan_for(text: &str, listed: &[&str], home: &str) -> Result<LoginPlan, Oops> {
        let list = NameList::parse(listed.join("\n").as_bytes());
        let account = Account {
            home: PathBuf::from(home),
            ..bob()
        };
        let server = PlanContext {
            anonymous_root: Some(Path::new("/srv/ftp")),
            guest_home: Some(Path::new("/srv/guests/$USER")),
            chroot_list: &list,
        };
        plan(
            &config(text),
            LoginKind::SystemAccount {
                name: "bob",
                account: &account,
            },
            &server,
        )
    }

    fn where_(plan: &LoginPlan) -> (String, String) {
        (
            plan.open.root.to_string_lossy().into_owned(),
            String::from_utf8(plan.cwd.clone()).unwrap(),
        )
    }

    #[test]
    fn plausible_names_and_passwords() {
        assert!(plausible(b"bob", b"secret"));
        assert!(plausible(b"_svc.backup", b""));
        assert!(plausible(b".hidden", b"x"));
        for name in [
            &b""[..],
            b"-bob",
            b"bo b",
            b"bo\tb",
            b"a/b",
            b"..",
            b".",
            b"bob\x7f",
        ] {
            assert!(!plausible(name, b"x"), "{name:?}");
        }
        assert!(!plausible(&[b'a'; 129], b"x"));
        assert!(plausible(&[b'a'; 128], &[b'p'; 128]));
        assert!(!plausible(b"bob", &[b'p'; 129]));
    }

    #[test]
    fn system_accounts_start_at_home_unjailed_by_default() {
        let plan = plan_for("", &[], "/home/bob").unwrap();
        assert_eq!(where_(&plan), ("/".into(), "/home/bob".into()));
        assert_eq!(
            plan.open.identity,
            SessionIdentity::Account(bob().identity())
        );
        assert!(plan.open.as_session);
        assert!(!plan.anonymous_privileges);
        assert_eq!(plan.access, AccessMode::Real);
        assert_eq!(plan.shown_name, b"bob");
    }

    #[test]
    fn chroot_local_user_jails_at_home_and_the_list_inverts_it() {
        let jailed = plan_for("chroot_local_user=YES\n", &[], "/home/bob").unwrap();
        assert_eq!(where_(&jailed), ("/home/bob".into(), "/".into()));
        let listed = "chroot_local_user=YES\nchroot_list_enable=YES\n";
        let exempt = plan_for(listed, &["bob"], "/home/bob").unwrap();
        assert_eq!(where_(&exempt), ("/".into(), "/home/bob".into()));
        let only_listed = plan_for("chroot_list_enable=YES\n", &["bob"], "/home/bob").unwrap();
        assert_eq!(where_(&only_listed), ("/home/bob".into(), "/".into()));
        let not_listed = plan_for("chroot_list_enable=YES\n", &["alice"], "/home/bob").unwrap();
        assert_eq!(where_(&not_listed), ("/".into(), "/home/bob".into()));
        // Without chroot_list_enable the list is not consulted.
        let ignored = plan_for("chroot_local_user=YES\n", &["bob"], "/home/bob").unwrap();
        assert_eq!(where_(&ignored), ("/home/bob".into(), "/".into()));
    }

    #[test]
    fn local_root_with_the_user_token() {
        let text = "local_root=/srv/ftp/$USER\nuser_sub_token=$USER\n";
        let free = plan_for(text, &[], "/home/bob").unwrap();
        assert_eq!(where_(&free), ("/".into(), "/srv/ftp/bob".into()));
        assert_eq!(free.fallback_cwd.as_deref(), Some(&b"/home/bob"[..]));
        let jailed = plan_for(&format!("{text}chroot_local_user=YES\n"), &[], "/home/bob").unwrap();
        assert_eq!(where_(&jailed), ("/srv/ftp/bob".into(), "/".into()));
        assert_eq!(jailed.fallback_cwd, None);
    }

    #[test]
    fn a_relative_local_root_is_inside_the_home() {
        let plan = plan_for("local_root=ftp\nchroot_local_user=YES\n", &[], "/home/bob").unwrap();
        assert_eq!(where_(&plan), ("/home/bob/ftp".into(), "/".into()));
    }

    #[test]
    fn passwd_chroot_enable_splits_the_home_at_dot() {
        let text = "passwd_chroot_enable=YES\nchroot_local_user=YES\n";
        let plan = plan_for(text, &[], "/srv/./bob").unwrap();
        assert_eq!(where_(&plan), ("/srv".into(), "/bob".into()));
        // It wins over local_root, as in vsftpd.
        let both = plan_for(&format!("{text}local_root=/elsewhere\n"), &[], "/srv/./bob").unwrap();
        assert_eq!(where_(&both), ("/srv".into(), "/bob".into()));
        // Only with the option.
        let off = plan_for("chroot_local_user=YES\n", &[], "/srv/./bob").unwrap();
        assert_eq!(where_(&off), ("/srv/./bob".into(), "/".into()));
    }

    #[test]
    fn guests_act_as_the_guest_user_in_its_home() {
        let plan = plan_for("guest_enable=YES\nuser_sub_token=$USER\n", &[], "/home/bob").unwrap();
        assert_eq!(where_(&plan), ("/srv/guests/bob".into(), "/".into()));
        assert_eq!(plan.open.identity, SessionIdentity::Guest);
        assert!(plan.anonymous_privileges);
        assert!(
            !plan.open.as_session,
            "vsftpd enters an anonymous guest's root as root"
        );
        assert_eq!(plan.access, AccessMode::Guest);
        let local = plan_for(
            "guest_enable=YES\nvirtual_use_local_privs=YES\nuser_sub_token=$USER\n",
            &[],
            "/home/bob",
        )
        .unwrap();
        assert!(!local.anonymous_privileges && local.open.as_session);
        assert_eq!(
            where_(&local),
            ("/".into(), "/srv/guests/bob".into()),
            "chroot_local_user=NO"
        );
    }

    #[test]
    fn anonymous_and_virtual_users() {
        let list = NameList::empty();
        let server = PlanContext {
            anonymous_root: Some(Path::new("/srv/ftp")),
            guest_home: Some(Path::new("/home/ftp")),
            chroot_list: &list,
        };
        let anonymous = plan(&config(""), LoginKind::Anonymous, &server).unwrap();
        assert_eq!(where_(&anonymous), ("/srv/ftp".into(), "/".into()));
        assert_eq!(anonymous.open.identity, SessionIdentity::Anonymous);
        assert_eq!(anonymous.shown_name, b"ftp");
        let text = "local_root=/srv/virtual/$USER\nuser_sub_token=$USER\n";
        let alice = plan(
            &config(text),
            LoginKind::VirtualUser { name: "alice" },
            &server,
        )
        .unwrap();
        assert_eq!(where_(&alice), ("/srv/virtual/alice".into(), "/".into()));
        assert_eq!(alice.open.identity, SessionIdentity::Guest);
        assert!(!alice.anonymous_privileges && alice.open.as_session);
        assert_eq!(alice.access, AccessMode::Real);
        let guest = plan(
            &config("guest_enable=YES\n"),
            LoginKind::VirtualUser { name: "alice" },
            &server,
        )
        .unwrap();
        assert_eq!(where_(&guest), ("/home/ftp".into(), "/".into()));
        assert!(guest.anonymous_privileges);
    }
}
