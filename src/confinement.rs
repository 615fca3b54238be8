//! The files ringd may touch for the running configuration, as Landlock rules: the second wall behind the FTP jail, decided before any thread starts.
//!
//! Roots are granted as narrowly as the configuration allows: the anonymous root, the
//! directory above a `local_root` with `user_sub_token` (where every user's root lives), read
//! only unless the configuration lets sessions write. System accounts that are not all jailed
//! in a `local_root` may go wherever their own rights allow, as with vsftpd, so then the rule
//! is the whole file system and only the kernel's permission checks stand behind the jail.
//! Besides: the account database, PAM and NSS with the libraries they load, the per-user
//! option files, the control socket's directory, the drift file's directory, chrony's `logdir`, the leap
//! second tables, the key file's directory, the NTS certificates and `ntsdumpdir`, the
//! certificates an NTS source is checked against (`ntstrustedcerts`, the system's CA bundle),
//! the directories of the files a reload reads again (the configuration and
//! the files it names: user lists, banners) and of the logs it reopens, and systemd's
//! notification socket.

use std::path::{Path, PathBuf};

use crate::config::chrony_upstream::{LeapSecondSource, SourceAuthentication};
use crate::config::vsftpd::FtpConfig;
use crate::config::NtpConfig;
use crate::sys::landlock::{Access, Rule};

/// What the account database, PAM and NSS read (and, for PAM's fail counters, write).
const SYSTEM_FILES: &[(&str, Access)] = &[
    ("/etc/passwd", Access::Read),
    ("/etc/group", Access::Read),
    ("/etc/nsswitch.conf", Access::Read),
    ("/etc/ld.so.cache", Access::Read),
    ("/etc/localtime", Access::Read),
    ("/lib", Access::Read),
    ("/lib64", Access::Read),
    ("/usr/lib", Access::Read),
    ("/usr/lib64", Access::Read),
    ("/run/nscd", Access::ConnectSocket),
    ("/run/systemd/userdb", Access::ConnectSocket),
    ("/dev/log", Access::ConnectSocket),
];

/// What PAM reads for system accounts, and the fail counters it keeps.
const PAM_FILES: &[(&str, Access)] = &[
    ("/etc/pam.d", Access::Read),
    ("/etc/security", Access::Read),
    ("/etc/shadow", Access::Read),
    ("/etc/shells", Access::Read),
    ("/etc/login.defs", Access::Read),
    ("/etc/environment", Access::Read),
    ("/etc/ftpusers", Access::Read),
    ("/etc/vsftpd", Access::Read),
    ("/var/run/faillock", Access::ReadWrite),
    ("/var/log/faillog", Access::ReadWrite),
    ("/var/log/btmp", Access::ReadWrite),
];

/// The rules for a ringd serving `ntp` and `ftp`, with its control socket at
/// `control_socket`. `ftp` holds the main FTP context's roots and those of each per-host
/// configuration (tcp_wrappers' `setenv VSFTPD_LOAD_CONF`). `reread` are the
/// files a reload reads again (the configuration files and those they name): their
/// directories, since editors replace a file by renaming a new one over it, and a rule on the
/// old file would not cover the new one.
pub fn rules(
    ntp: Option<&NtpConfig>,
    ftp: &[FtpRoots<'_>],
    control_socket: Option<&Path>,
    reread: &[PathBuf],
    notify_socket: Option<&Path>,
) -> Vec<Rule> {
    let mut rules: Vec<Rule> = Vec::new();
    let mut add = |path: &Path, access: Access| {
        let rule = Rule {
            path: path.to_path_buf(),
            access,
        };
        if !rules.contains(&rule) {
            rules.push(rule);
        }
    };
    for (path, access) in SYSTEM_FILES {
        add(Path::new(path), *access);
    }
    for file in reread {
        if let Some(dir) = file.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            add(dir, Access::Read);
        }
    }
    if let Some(socket) = notify_socket {
        add(socket, Access::ConnectSocket);
    }
    if let Some(socket) = control_socket {
        if let Some(dir) = socket.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            add(dir, Access::SocketDirectory);
        }
    }
    if let Some(ntp) = ntp {
        let upstream = &ntp.upstream;
        if let Some(dir) = upstream.driftfile.as_deref().and_then(Path::parent) {
            // Written whole beside itself, then renamed over the old one.
            add(dir, Access::ReadWrite);
        }
        if let Some(dir) = ntp.logs.active_dir() {
            // chrony's log files are created there, and opened again after logrotate.
            add(dir, Access::ReadWrite);
        }
        match &upstream.leap_seconds {
            Some(LeapSecondSource::TimeZone(zone)) => {
                add(&Path::new("/usr/share/zoneinfo").join(zone), Access::Read)
            }
            Some(LeapSecondSource::List(file)) => add(file, Access::Read),
            None => {}
        }
        let nts_client = upstream
            .sources
            .iter()
            .any(|s| matches!(s.authentication, SourceAuthentication::Nts { .. }));
        if nts_client {
            // Read at each key establishment, so a renewed certificate is taken up.
            for (_, path) in &upstream.nts.trusted_certs {
                add(path, Access::Read);
            }
            if !upstream.nts.no_system_cert {
                for bundle in crate::nts_ke_client::SYSTEM_BUNDLES {
                    add(Path::new(bundle), Access::Read);
                }
            }
        }
        let auth = &ntp.auth;
        if let Some(dir) = auth.keyfile.as_deref().and_then(Path::parent) {
            // Read again on reload, maybe replaced by an editor's rename.
            add(dir, Access::Read);
        }
        if auth.nts_server().is_some() {
            for file in auth.nts_certs.iter().chain(&auth.nts_keys) {
                add(file, Access::Read);
            }
            if let Some(dir) = &auth.nts_dump_dir {
                // The server keys, replaced whole at each rotation.
                add(dir, Access::ReadWrite);
            }
        }
    }
    for roots in ftp {
        ftp_rules(roots, &mut add);
    }
    rules
}

/// What the FTP rules are made from.
pub struct FtpRoots<'a> {
    pub config: &'a FtpConfig,
    pub anonymous_root: Option<&'a Path>,
    pub guest_home: Option<&'a Path>,
}

fn ftp_rules(ftp: &FtpRoots<'_>, add: &mut impl FnMut(&Path, Access)) {
    let config = ftp.config;
    // Per-user option files may turn any switch on for their user.
    let per_user = config.user_config_dir.is_some();
    let writes = config.write_enable || per_user;
    let anonymous_writes = writes
        && (per_user
            || config.anon_upload_enable
            || config.anon_mkdir_write_enable
            || config.anon_other_write_enable);
    let access = |write: bool| {
        if write {
            Access::ReadWrite
        } else {
            Access::Read
        }
    };
    if let Some(dir) = &config.user_config_dir {
        add(dir, Access::Read);
    }
    // Read again by each reload: their directories, since renewals (certbot's) replace the
    // files by renaming new ones in.
    if config.ssl_enable {
        for file in [
            Some(&config.rsa_cert_file),
            config.rsa_private_key_file.as_ref(),
            config.ca_certs_file.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            add(file.parent().unwrap_or(Path::new("/")), Access::Read);
        }
    }
    // Reopened by name on reload and `ringctl cyclelogs`, after logrotate moved them.
    for log in [config.xferlog_path(), config.vsftpd_log_path()]
        .into_iter()
        .flatten()
    {
        add(log, Access::LogFile);
    }
    if config.anonymous_enable {
        if let Some(root) = ftp.anonymous_root {
            add(root, access(anonymous_writes));
        }
    }
    if !config.local_enable {
        return;
    }
    let token = config
        .user_sub_token
        .as_deref()
        .filter(|token| !token.is_empty());
    let local_root = config
        .local_root
        .as_deref()
        .filter(|root| root.is_absolute())
        .map(|root| above_token(root, token));
    let system_accounts = config.virtual_users_file.is_none();
    if system_accounts {
        for (path, access) in PAM_FILES {
            add(Path::new(path), *access);
        }
    }
    let all_jailed = !system_accounts
        || (config.chroot_local_user && !config.chroot_list_enable && !config.guest_enable)
        || (config.guest_enable && !config.virtual_use_local_privs);
    match (local_root, all_jailed) {
        (Some(root), true) => add(&root, access(writes)),
        (None, true) if !system_accounts || config.guest_enable => {
            if let Some(home) = ftp.guest_home {
                add(&above_token(home, token), access(writes));
            }
        }
        // Homes of system accounts, or users free to go where their rights allow.
        _ => add(Path::new("/"), access(writes)),
    }
}

/// The part of `path` above its first component holding `token`: every user's root is below
/// it. Without a token, `path` itself.
fn above_token(path: &Path, token: Option<&str>) -> PathBuf {
    let Some(token) = token else {
        return path.to_path_buf();
    };
    let mut above = PathBuf::new();
    for component in path.components() {
        if component.as_os_str().to_string_lossy().contains(token) {
            break;
        }
        above.push(component);
    }
    above
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::vsftpd;

    fn ftp_rules_for(text: &str) -> Vec<(String, Access)> {
        let config = vsftpd::parse_str(text, "test").unwrap();
        let roots = FtpRoots {
            config: &config,
            anonymous_root: Some(Path::new("/srv/ftp")),
            guest_home: Some(Path::new("/home/ftp")),
        };
        rules(None, &[roots], None, &[], None)
            .into_iter()
            .filter(|rule| {
                !SYSTEM_FILES
                    .iter()
                    .any(|(path, _)| Path::new(path) == rule.path)
            })
            .filter(|rule| {
                !PAM_FILES
                    .iter()
                    .any(|(path, _)| Path::new(path) == rule.path)
            })
            .map(|rule| (rule.path.display().to_string(), rule.access))
            .collect()
    }

    #[test]
    fn an_anonymous_server_reaches_only_its_root_and_writes_only_when_uploads_are_on() {
        assert_eq!(ftp_rules_for(""), [("/srv/ftp".into(), Access::Read)]);
        assert_eq!(
            ftp_rules_for("write_enable=YES\n"),
            [("/srv/ftp".into(), Access::Read)]
        );
        assert_eq!(
            ftp_rules_for("write_enable=YES\nanon_upload_enable=YES\n"),
            [("/srv/ftp".into(), Access::ReadWrite)]
        );
    }

    #[test]
    fn virtual_users_reach_the_directory_above_their_token() {
        let text = "anonymous_enable=NO\nlocal_enable=YES\nvirtual_users_file=/etc/ringd/users\n\
                    local_root=/srv/users/$USER/files\nuser_sub_token=$USER\nwrite_enable=YES\n";
        assert_eq!(
            ftp_rules_for(text),
            [("/srv/users".into(), Access::ReadWrite)]
        );
    }

    #[test]
    fn system_accounts_not_all_jailed_reach_everything_their_rights_allow() {
        let text = "anonymous_enable=NO\nlocal_enable=YES\n";
        assert_eq!(ftp_rules_for(text), [("/".into(), Access::Read)]);
        let jailed =
            format!("{text}chroot_local_user=YES\nlocal_root=/srv/$USER\nuser_sub_token=$USER\n");
        assert_eq!(ftp_rules_for(&jailed), [("/srv".into(), Access::Read)]);
        // A chroot list may exempt some: they could go anywhere.
        let listed = format!("{jailed}chroot_list_enable=YES\n");
        assert_eq!(ftp_rules_for(&listed), [("/".into(), Access::Read)]);
    }

    #[test]
    fn per_user_option_files_are_read_and_may_turn_writes_on() {
        let text = "user_config_dir=/etc/vsftpd/users\n";
        assert_eq!(
            ftp_rules_for(text),
            [
                ("/etc/vsftpd/users".into(), Access::Read),
                ("/srv/ftp".into(), Access::ReadWrite)
            ]
        );
    }

    #[test]
    fn the_token_cut() {
        assert_eq!(
            above_token(Path::new("/srv/$USER/ftp"), Some("$USER")),
            PathBuf::from("/srv")
        );
        assert_eq!(
            above_token(Path::new("/home/ftp"), None),
            PathBuf::from("/home/ftp")
        );
        assert_eq!(
            above_token(Path::new("/srv/x-$USER"), Some("$USER")),
            PathBuf::from("/srv")
        );
    }
}
