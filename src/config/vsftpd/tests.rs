use super::*;
use std::fs;

fn parse(text: &str) -> FtpConfig {
    match parse_str(text, "test.conf") {
        Ok(config) => config,
        Err(e) => panic!("{text:?} refused: {e}"),
    }
}

fn error(text: &str) -> String {
    parse_str(text, "test.conf").unwrap_err().to_string()
}

fn notes(config: &FtpConfig) -> Vec<String> {
    config
        .notes
        .iter()
        .map(|n| format!("{}: {}={}: {}", n.line, n.option, n.value, n.note))
        .collect()
}

fn data_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/vsftpd")
        .join(name)
}

/// Every option vsftpd 3.0.3 parses (parseconf.c), then the three Debian's build adds.
const VSFTPD_OPTIONS: &[&str] = &[
    // booleans
    "anonymous_enable",
    "local_enable",
    "pasv_enable",
    "port_enable",
    "chroot_local_user",
    "write_enable",
    "anon_upload_enable",
    "anon_mkdir_write_enable",
    "anon_other_write_enable",
    "chown_uploads",
    "connect_from_port_20",
    "xferlog_enable",
    "dirmessage_enable",
    "anon_world_readable_only",
    "async_abor_enable",
    "ascii_upload_enable",
    "ascii_download_enable",
    "one_process_model",
    "xferlog_std_format",
    "pasv_promiscuous",
    "deny_email_enable",
    "chroot_list_enable",
    "setproctitle_enable",
    "text_userdb_names",
    "ls_recurse_enable",
    "log_ftp_protocol",
    "guest_enable",
    "userlist_enable",
    "userlist_deny",
    "use_localtime",
    "check_shell",
    "hide_ids",
    "listen",
    "port_promiscuous",
    "passwd_chroot_enable",
    "no_anon_password",
    "tcp_wrappers",
    "use_sendfile",
    "force_dot_files",
    "listen_ipv6",
    "dual_log_enable",
    "syslog_enable",
    "background",
    "virtual_use_local_privs",
    "session_support",
    "download_enable",
    "dirlist_enable",
    "chmod_enable",
    "secure_email_list_enable",
    "run_as_launching_user",
    "no_log_lock",
    "ssl_enable",
    "allow_anon_ssl",
    "force_local_logins_ssl",
    "force_local_data_ssl",
    "ssl_sslv2",
    "ssl_sslv3",
    "ssl_tlsv1",
    "tilde_user_enable",
    "force_anon_logins_ssl",
    "force_anon_data_ssl",
    "mdtm_write",
    "lock_upload_files",
    "pasv_addr_resolve",
    "debug_ssl",
    "require_cert",
    "validate_cert",
    "strict_ssl_read_eof",
    "strict_ssl_write_shutdown",
    "ssl_request_cert",
    "delete_failed_uploads",
    "implicit_ssl",
    "ptrace_sandbox",
    "require_ssl_reuse",
    "isolate",
    "isolate_network",
    "ftp_enable",
    "http_enable",
    "seccomp_sandbox",
    "allow_writeable_chroot",
    // numbers
    "accept_timeout",
    "connect_timeout",
    "local_umask",
    "anon_umask",
    "ftp_data_port",
    "idle_session_timeout",
    "data_connection_timeout",
    "pasv_min_port",
    "pasv_max_port",
    "anon_max_rate",
    "local_max_rate",
    "listen_port",
    "max_clients",
    "file_open_mode",
    "max_per_ip",
    "trans_chunk_size",
    "delay_failed_login",
    "delay_successful_login",
    "max_login_fails",
    "chown_upload_mode",
    // strings
    "secure_chroot_dir",
    "ftp_username",
    "chown_username",
    "xferlog_file",
    "vsftpd_log_file",
    "message_file",
    "nopriv_user",
    "ftpd_banner",
    "banned_email_file",
    "chroot_list_file",
    "pam_service_name",
    "guest_username",
    "userlist_file",
    "anon_root",
    "local_root",
    "banner_file",
    "pasv_address",
    "listen_address",
    "user_config_dir",
    "listen_address6",
    "cmds_allowed",
    "hide_file",
    "deny_file",
    "user_sub_token",
    "email_password_file",
    "rsa_cert_file",
    "dsa_cert_file",
    "ssl_ciphers",
    "rsa_private_key_file",
    "dsa_private_key_file",
    "ca_certs_file",
    "cmds_denied",
    // Debian's vsftpd 3.0.3 build
    "utf8_filesystem",
    "download_file",
    "upload_file",
];

const EXTENSIONS: &[&str] = &[
    "virtual_users_file",
    "ftpusers_file",
    "hosts_allow_file",
    "hosts_deny_file",
    "max_rate_total",
    "atomic_uploads",
    "zero_copy_method",
    "proxy_protocol",
    "proxy_protocol_from",
];

/// The TLS version switches Fedora's and openSUSE's vsftpd 3.0.3 add (vsftpd 3.0.5 has them
/// too, without the inner underscore).
const DISTRIBUTION_OPTIONS: &[&str] = &["ssl_tlsv1_1", "ssl_tlsv1_2", "ssl_tlsv1_3"];

#[test]
fn every_vsftpd_option_is_recognised_exactly_once() {
    assert_eq!(VSFTPD_OPTIONS.len(), 135);
    let mut ours: Vec<&str> = SUPPORTED
        .iter()
        .copied()
        .filter(|name| !EXTENSIONS.contains(name))
        .chain(RECOGNISED.iter().map(|option| option.name))
        .filter(|name| !DISTRIBUTION_OPTIONS.contains(name))
        .collect();
    ours.sort_unstable();
    let mut theirs = VSFTPD_OPTIONS.to_vec();
    theirs.sort_unstable();
    assert_eq!(ours, theirs);
    for extension in EXTENSIONS {
        assert!(SUPPORTED.contains(extension), "{extension}");
    }
    assert_eq!(SUPPORTED.len(), 109 + 2 + EXTENSIONS.len());
}

#[test]
fn the_reference_documents_every_option() {
    let doc = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ftp-config.md"))
        .unwrap();
    for name in VSFTPD_OPTIONS.iter().chain(EXTENSIONS) {
        assert!(
            doc.contains(&format!("`{name}`")),
            "{name} is not in docs/ftp-config.md"
        );
    }
}

#[test]
fn defaults_are_vsftpd_3_0_3_tunables() {
    let d = FtpConfig::default();
    assert_eq!(d.origin, "compiled-in defaults");
    assert!(d.anonymous_enable);
    assert!(!d.local_enable);
    assert!(d.pasv_enable);
    assert!(d.port_enable);
    assert!(!d.write_enable);
    assert!(d.anon_world_readable_only);
    assert!(!d.userlist_enable);
    assert!(d.userlist_deny);
    assert!(d.listen);
    assert!(!d.listen_ipv6);
    assert!(!d.tcp_wrappers);
    assert!(d.download_enable);
    assert!(d.dirlist_enable);
    assert!(d.chmod_enable);
    assert!(d.mdtm_write);
    assert!(d.lock_upload_files);
    assert!(!d.delete_failed_uploads);
    assert!(d.use_sendfile);
    assert!(!d.allow_writeable_chroot);
    assert!(!d.connect_from_port_20);
    assert_eq!(d.accept_timeout, 60);
    assert_eq!(d.connect_timeout, 60);
    assert_eq!(d.local_umask, 0o077);
    assert_eq!(d.anon_umask, 0o077);
    assert_eq!(d.ftp_data_port, 20);
    assert_eq!(d.idle_session_timeout, 300);
    assert_eq!(d.data_connection_timeout, 300);
    assert_eq!(d.pasv_min_port, 5001);
    assert_eq!(d.pasv_max_port, 0);
    assert_eq!(d.anon_max_rate, 0);
    assert_eq!(d.local_max_rate, 0);
    assert_eq!(d.listen_port, 21);
    assert_eq!(d.max_clients, 2000);
    assert_eq!(d.max_per_ip, 50);
    assert_eq!(d.file_open_mode, 0o666);
    assert_eq!(d.delay_failed_login, 1);
    assert_eq!(d.max_login_fails, 3);
    assert_eq!(d.chown_upload_mode, 0o600);
    assert_eq!(d.ftp_username, "ftp");
    assert_eq!(d.chown_username, "root");
    assert_eq!(d.guest_username, "ftp");
    assert_eq!(d.xferlog_file, Path::new("/var/log/xferlog"));
    assert_eq!(d.vsftpd_log_file, Path::new("/var/log/vsftpd.log"));
    assert_eq!(d.message_file, Path::new(".message"));
    assert_eq!(d.banned_email_file, Path::new("/etc/vsftpd.banned_emails"));
    assert_eq!(d.chroot_list_file, Path::new("/etc/vsftpd.chroot_list"));
    assert_eq!(d.userlist_file, Path::new("/etc/vsftpd.user_list"));
    assert_eq!(
        d.email_password_file,
        Path::new("/etc/vsftpd.email_passwords")
    );
    assert_eq!(d.ftpd_banner, None);
    assert_eq!(d.banner_file, None);
    assert_eq!(d.anon_root, None);
    assert_eq!(d.local_root, None);
    assert_eq!(d.listen_address, None);
    assert_eq!(d.pasv_address, None);
    assert!(d.cmds_allowed.is_empty() && d.cmds_denied.is_empty());
    // ringd extensions
    assert_eq!(d.virtual_users_file, None);
    assert_eq!(d.ftpusers_file, None);
    assert_eq!(d.hosts_allow_file, Path::new("/etc/hosts.allow"));
    assert_eq!(d.hosts_deny_file, Path::new("/etc/hosts.deny"));
    assert_eq!(d.max_rate_total, 0);
    assert!(!d.atomic_uploads);
    assert_eq!(d.zero_copy_method, ZeroCopyMethod::Sendfile);
    assert!(d.notes.is_empty());
    assert_eq!(d.to_string(), "");
}

#[test]
fn recognised_options_carry_vsftpd_3_0_3_defaults() {
    let default_of = |name: &str| match RECOGNISED.iter().find(|o| o.name == name).unwrap().typed {
        Typed::Bool(b) => yes_no(b),
        Typed::Number(n) => n.to_string(),
        Typed::Text(t) => t.unwrap_or("(none)").to_string(),
    };
    assert_eq!(default_of("seccomp_sandbox"), "YES");
    assert_eq!(default_of("isolate_network"), "YES");
    assert_eq!(default_of("strict_ssl_read_eof"), "YES");
    assert_eq!(default_of("strict_ssl_write_shutdown"), "NO");
    assert_eq!(default_of("ssl_tlsv1"), "YES");
    assert_eq!(default_of("ssl_ciphers"), "ECDHE-RSA-AES256-GCM-SHA384");
    assert_eq!(default_of("secure_chroot_dir"), "/usr/share/empty");
    assert_eq!(default_of("trans_chunk_size"), "0");
    let d = FtpConfig::default();
    assert!(d.check_shell && !d.run_as_launching_user && !d.passwd_chroot_enable);
    assert_eq!(
        (d.nopriv_user.as_str(), d.pam_service_name.as_str()),
        ("nobody", "ftp")
    );
    assert_eq!(d.user_config_dir, None);
}

#[test]
fn booleans_take_vsftpd_spellings_in_any_case() {
    for yes in ["YES", "yes", "Yes", "TRUE", "true", "1"] {
        assert!(parse(&format!("write_enable={yes}")).write_enable, "{yes}");
    }
    for no in ["NO", "no", "nO", "FALSE", "False", "0"] {
        assert!(!parse(&format!("anonymous_enable={no}\nlocal_enable=YES")).anonymous_enable);
    }
    assert_eq!(
        error("\nwrite_enable=maybe"),
        "test.conf:2: write_enable: expected YES or NO, found `maybe`"
    );
    assert_eq!(
        error("write_enable=2"),
        "test.conf:1: write_enable: expected YES or NO, found `2`"
    );
    assert_eq!(
        error("write_enable="),
        "test.conf:1: write_enable: expected YES or NO, found nothing"
    );
    assert_eq!(
        error("write_enable"),
        "test.conf:1: write_enable: expected YES or NO, found nothing"
    );
}

#[test]
fn numbers_are_decimal_or_octal_with_a_leading_zero() {
    let c = parse("max_clients=3\nmax_per_ip=0\nlisten_port=021\nanon_max_rate=4294967295");
    assert_eq!(c.max_clients, 3);
    assert_eq!(c.max_per_ip, 0);
    assert_eq!(c.listen_port, 17);
    assert_eq!(c.anon_max_rate, u32::MAX);
    assert_eq!(
        error("max_clients=4294967296"),
        "test.conf:1: max_clients: expected a number 0..4294967295, found `4294967296`, \
             which is out of range"
    );
    assert_eq!(
        error("listen_port=65536"),
        "test.conf:1: listen_port: expected a port number 0..65535, found `65536`, which is \
             out of range"
    );
    assert_eq!(
        error("max_clients="),
        "test.conf:1: max_clients: expected a number 0..4294967295, found nothing"
    );
}

#[test]
fn umasks_and_modes_are_octal_as_vsftpd_reads_them() {
    let c = parse("local_umask=022\nanon_umask=0\nfile_open_mode=0644\nchown_upload_mode=0640");
    assert_eq!(c.local_umask, 0o022);
    assert_eq!(c.anon_umask, 0);
    assert_eq!(c.file_open_mode, 0o644);
    assert_eq!(c.chown_upload_mode, 0o640);
    assert!(c.notes.is_empty());
    // Without the leading 0 vsftpd reads decimal: 22 is octal 026. Accepted, with a note.
    let c = parse("local_umask=22");
    assert_eq!(c.local_umask, 0o026);
    assert_eq!(
        notes(&c),
        [
            "1: local_umask=22: no leading 0, so read as decimal 22 = octal 026, as vsftpd \
              does; write 022 if octal was meant"
        ]
    );
    assert_eq!(c.to_string(), "local_umask=026\n# line 1: local_umask=22: no leading 0, so read as decimal 22 = octal 026, as vsftpd does; write 022 if octal was meant\n");
    assert!(parse("anon_umask=7").notes.is_empty());
    // vsftpd stops reading octal at the 8: 077.
    let c = parse("local_umask=0778");
    assert_eq!(c.local_umask, 0o77);
    assert_eq!(
        notes(&c),
        [
            "1: local_umask=0778: a value starting with 0 is octal, and vsftpd reads it only up \
              to the first byte that is not 0 to 7, ignoring `8`: 077 (decimal 63) is used"
        ]
    );
    assert_eq!(
        error("local_umask=01000"),
        "test.conf:1: local_umask: expected a umask such as 022, found `01000`, above 0777"
    );
    assert_eq!(
        error("anon_umask=777"),
        "test.conf:1: anon_umask: expected a umask such as 022, found `777`: without a \
             leading 0 vsftpd reads it as decimal 777, which is octal 01411, above 0777; write \
             0777 for octal"
    );
    assert_eq!(
        error("file_open_mode=010000"),
        "test.conf:1: file_open_mode: expected a file mode such as 0644, found `010000`, \
             above 07777"
    );
}

#[test]
fn strings_and_paths() {
    let c = parse(
        "ftpd_banner=Welcome to blah FTP service. a=b\nanon_root=/srv/ftp\n\
             chown_username=ftpupload\nxferlog_file=/var/log/ftp/xfer.log\nuser_sub_token=$USER\n\
             local_root=/home/virtual/$USER\nhide_file={*.mp3,.private}\ndeny_file={*.exe}\n\
             banner_file=/etc/vsftpd/banner.txt\nmessage_file=README",
    );
    assert_eq!(
        c.ftpd_banner.as_deref(),
        Some(&b"Welcome to blah FTP service. a=b"[..])
    );
    assert_eq!(c.anon_root.as_deref(), Some(Path::new("/srv/ftp")));
    assert_eq!(c.chown_username, "ftpupload");
    assert_eq!(c.xferlog_file, Path::new("/var/log/ftp/xfer.log"));
    assert_eq!(c.user_sub_token.as_deref(), Some("$USER"));
    assert_eq!(
        c.local_root.as_deref(),
        Some(Path::new("/home/virtual/$USER"))
    );
    assert_eq!(c.hide_file.as_deref(), Some(&b"{*.mp3,.private}"[..]));
    assert_eq!(c.deny_file.as_deref(), Some(&b"{*.exe}"[..]));
    assert_eq!(
        c.banner_file.as_deref(),
        Some(Path::new("/etc/vsftpd/banner.txt"))
    );
    assert_eq!(c.message_file, Path::new("README"));
    // The banner is free text: blanks after `=` are accepted and dropped, blanks inside
    // kept, as vsftpd 3.0.3 greets (a real run: `ftpd_banner=   Hello  there` gives
    // `220 Hello  there`).
    assert_eq!(
        parse("ftpd_banner=   Hello  there").ftpd_banner.as_deref(),
        Some(&b"Hello  there"[..])
    );
    assert_eq!(parse("ftpd_banner= \t ").ftpd_banner, None);
    // An empty value unsets a string without a default, as in vsftpd.
    assert_eq!(parse("ftpd_banner=Hi\nftpd_banner=").ftpd_banner, None);
    assert_eq!(parse("anon_root").anon_root, None);
    assert_eq!(
        error("xferlog_file="),
        "test.conf:1: xferlog_file: expected a value, found nothing; remove the line to keep \
             vsftpd's default"
    );
    assert_eq!(
        error("chown_username"),
        "test.conf:1: chown_username: expected a value, found nothing; remove the line to \
             keep vsftpd's default"
    );
}

#[test]
fn command_lists_are_comma_separated_and_upper_cased() {
    let c = parse("cmds_allowed=PASV,RETR,QUIT\ncmds_denied=DELE,RMD,");
    assert_eq!(c.cmds_allowed, ["PASV", "RETR", "QUIT"]);
    assert_eq!(c.cmds_denied, ["DELE", "RMD"]);
    assert!(c.notes.is_empty());
    let c = parse("cmds_allowed=pasv, Retr ,quit");
    assert_eq!(c.cmds_allowed, ["PASV", "RETR", "QUIT"]);
    assert_eq!(
        notes(&c),
        [
            "1: cmds_allowed=pasv, Retr ,quit: command names upper-cased (vsftpd compares them \
              exactly and would never match a lower-case name)"
        ]
    );
    assert!(parse("cmds_allowed=").cmds_allowed.is_empty());
    assert_eq!(
        error("cmds_allowed=PASV,,RETR"),
        "test.conf:1: cmds_allowed: empty entry in `PASV,,RETR` (vsftpd stops reading the \
             list there); remove the extra comma"
    );
    assert_eq!(
        error("cmds_denied=SITE CHMOD"),
        "test.conf:1: cmds_denied: expected a comma-separated list of FTP commands such as \
             PASV,RETR,QUIT, found `SITE CHMOD`"
    );
    assert_eq!(
        parse("cmds_denied=DELE,RMD").to_string(),
        "cmds_denied=DELE,RMD\n"
    );
}

#[test]
fn addresses() {
    let c = parse("listen_address=192.0.2.7\npasv_address=198.51.100.1");
    assert_eq!(c.listen_address, Some(Ipv4Addr::new(192, 0, 2, 7)));
    assert_eq!(c.pasv_address.as_deref(), Some("198.51.100.1"));
    let c = parse("listen=NO\nlisten_ipv6=YES\nlisten_address6=2001:db8::21");
    assert_eq!(c.listen_address6, Some("2001:db8::21".parse().unwrap()));
    assert_eq!(
        error("listen_address=::1"),
        "test.conf:1: listen_address: expected an IPv4 address such as 192.0.2.1, found \
             `::1` (IPv6 addresses go in listen_address6)"
    );
    assert_eq!(
        error("listen_address6=10.0.0.1"),
        "test.conf:1: listen_address6: expected an IPv6 address such as 2001:db8::1, found \
             `10.0.0.1` (IPv4 addresses go in listen_address)"
    );
    // A host name needs pasv_addr_resolve, as in vsftpd.
    assert_eq!(
        error("pasv_address=ftp.example.com"),
        "test.conf:1: pasv_address: expected an IPv4 address such as 192.0.2.1, found \
             `ftp.example.com` (vsftpd would answer PASV with \"500 OOPS: invalid \
             pasv_address\"); for a host name also set pasv_addr_resolve=YES"
    );
    let c = parse("pasv_address=ftp.example.com\npasv_addr_resolve=YES");
    assert_eq!(c.pasv_address.as_deref(), Some("ftp.example.com"));
    assert!(c.pasv_addr_resolve);
}

#[test]
fn ringd_extensions() {
    let c = parse(
        "virtual_users_file=/etc/ringd/ftp-users\nftpusers_file=/etc/ftpusers\n\
             hosts_allow_file=/tmp/allow\nhosts_deny_file=/tmp/deny\nmax_rate_total=10000000\n\
             atomic_uploads=YES",
    );
    assert_eq!(
        c.virtual_users_file.as_deref(),
        Some(Path::new("/etc/ringd/ftp-users"))
    );
    assert_eq!(c.ftpusers_file.as_deref(), Some(Path::new("/etc/ftpusers")));
    assert_eq!(c.hosts_allow_file, Path::new("/tmp/allow"));
    assert_eq!(c.hosts_deny_file, Path::new("/tmp/deny"));
    assert_eq!(c.max_rate_total, 10_000_000);
    assert!(c.atomic_uploads);
}

#[test]
fn proxy_protocol_needs_the_balancers_listed() {
    let c = parse("proxy_protocol=YES\nproxy_protocol_from=10.0.0.5, 2001:db8::/64,192.0.2.0/24");
    assert!(c.proxy_protocol);
    let listed: Vec<String> = c
        .proxy_protocol_from
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(listed, ["10.0.0.5", "2001:db8::/64", "192.0.2.0/24"]);
    assert!(c
        .to_string()
        .contains("proxy_protocol_from=10.0.0.5,2001:db8::/64,192.0.2.0/24\n"));
    assert!(
        error("proxy_protocol=YES").contains("proxy_protocol=YES without proxy_protocol_from"),
        "{}",
        error("proxy_protocol=YES")
    );
    assert_eq!(
        error("proxy_protocol_from=haproxy.example"),
        "test.conf:1: proxy_protocol_from: `haproxy.example` is not an IP address or \
         ADDRESS/PREFIX-LENGTH"
    );
}

#[test]
fn line_syntax_follows_vsftpd() {
    // Comments in the first column, blank lines, blanks before the name: all as vsftpd.
    let c = parse("# comment\n\n   \n\tmax_clients=100\n  max_per_ip=3\n#max_per_ip=9\n");
    assert_eq!((c.max_clients, c.max_per_ip), (100, 3));
    // Unlike vsftpd, trailing blanks and CRs are dropped ("YES " is a bad bool there).
    let c = parse("allow_writeable_chroot=YES \r\nmax_clients=3  \r\nbanner_file=/b.txt   \n");
    assert!(c.allow_writeable_chroot);
    assert_eq!(c.max_clients, 3);
    assert_eq!(c.banner_file.as_deref(), Some(Path::new("/b.txt")));
    assert_eq!(
        error("max_clients=3\n  # a comment"),
        "test.conf:2: #: a comment must start in the first column (vsftpd reads an indented \
             `#` line as an option); remove the blanks before `#`"
    );
    assert_eq!(
        error("listen =YES"),
        "test.conf:1: listen: blank before `=` (vsftpd reads `listen ` as an unknown \
             option); write `listen=YES`"
    );
    assert_eq!(
        error("max_clients = 5"),
        "test.conf:1: max_clients: blank before `=` (vsftpd reads `max_clients ` as an \
             unknown option); write `max_clients=5`"
    );
    assert_eq!(
        error("listen= YES"),
        "test.conf:1: listen: blank after `=` (vsftpd keeps it as part of the value); write \
             `listen=YES`"
    );
    assert_eq!(
        error("anon_root= /srv/ftp"),
        "test.conf:1: anon_root: blank after `=` (vsftpd keeps it as part of the value); \
             write `anon_root=/srv/ftp`"
    );
}

#[test]
fn unknown_options_are_errors_naming_file_line_and_option() {
    assert_eq!(
        error("\n\nfoo=1"),
        "test.conf:3: foo: unknown option; ringd reads vsftpd.conf options (see \
             docs/ftp-config.md)"
    );
    assert_eq!(
        error("Listen=YES"),
        "test.conf:1: Listen: unknown option; ringd reads vsftpd.conf options (see \
             docs/ftp-config.md) (option names are lower case: `listen`)"
    );
    assert_eq!(
        error("anon root=/srv"),
        "test.conf:1: anon root: unknown option; ringd reads vsftpd.conf options (see \
             docs/ftp-config.md)"
    );
    assert_eq!(
        error("=YES"),
        "test.conf:1: (no name): unknown option; ringd reads vsftpd.conf options (see \
             docs/ftp-config.md)"
    );
    // A file that is no vsftpd.conf (--ftp-conf /etc/shadow) is never echoed.
    assert_eq!(
        error("root:$6$SECRETHASH:19000:0:99999:7:::"),
        "test.conf:1: not a vsftpd.conf line (contents not shown)"
    );
    // Options only Red Hat's build knows are unknown to vsftpd 3.0.3 as well.
    assert!(error("reverse_lookup_enable=NO").contains("unknown option"));
}

#[test]
fn options_not_supported_yet_are_accepted_only_at_their_default() {
    let c = parse("background=no");
    assert_eq!(
        notes(&c),
        [
            "1: background=no: vsftpd option that ringd does not support yet (detaching \
             into the background; run ringd under a service manager); accepted at vsftpd's \
             default"
        ]
    );
    assert_eq!(
        error("session_support=YES"),
        "test.conf:1: session_support: vsftpd option that ringd does not support yet (PAM \
             sessions and utmp/wtmp records); remove the line or set session_support=NO, \
             vsftpd's default"
    );
    assert_eq!(
        error("delay_successful_login=2"),
        "test.conf:1: delay_successful_login: vsftpd option that ringd does not support yet \
             (delaying successful logins); remove the line or set delay_successful_login=0, \
             vsftpd's default"
    );
    // The value is still checked against the option's type.
    assert_eq!(
        error("check_shell=maybe"),
        "test.conf:1: check_shell: expected YES or NO, found `maybe`"
    );
}

#[test]
fn tls_settings_are_read_as_vsftpd_reads_them() {
    let c = parse(
        "ssl_enable=YES\nrsa_cert_file=/etc/ssl/certs/ssl-cert-snakeoil.pem\n\
         rsa_private_key_file=/etc/ssl/private/ssl-cert-snakeoil.key\nallow_anon_ssl=YES\n\
         force_local_data_ssl=NO\nrequire_ssl_reuse=NO\nssl_ciphers=HIGH\nssl_tlsv1=YES",
    );
    assert!(c.ssl_enable && c.allow_anon_ssl && !c.force_local_data_ssl);
    assert!(!c.require_ssl_reuse && c.force_local_logins_ssl);
    assert_eq!(
        c.rsa_cert_file,
        Path::new("/etc/ssl/certs/ssl-cert-snakeoil.pem")
    );
    assert_eq!(
        notes(&c),
        [
            "7: ssl_ciphers=HIGH: not acted on: rustls's cipher suites are offered: AES-GCM \
             and ChaCha20-Poly1305 with ECDHE",
            "8: ssl_tlsv1=YES: not acted on: TLS 1.0 is never served; TLS 1.2 and 1.3 are \
             (ssl_tlsv1_2, ssl_tlsv1_3)",
        ]
    );
    // Never an older protocol: refused, saying what is served.
    assert_eq!(
        error("ssl_sslv3=YES"),
        "test.conf:1: ssl_sslv3: ringd serves TLS 1.2 and 1.3 only (ssl_tlsv1_2, ssl_tlsv1_3), \
         never an older protocol; remove the line or set ssl_sslv3=NO"
    );
    assert!(parse("ssl_sslv2=NO\nssl_tlsv1_1=NO").notes.is_empty());
    // vsftpd 3.0.5's spelling is Fedora's option.
    let c = parse("ssl_tlsv13=NO\nssl_tlsv1_2=YES");
    assert!(!c.ssl_tlsv1_3 && c.ssl_tlsv1_2);
    assert_eq!(
        error("ssl_enable=YES\nssl_tlsv12=NO\nssl_tlsv1_3=NO"),
        "test.conf:3: ssl_tlsv1_3: ssl_tlsv1_2=NO and ssl_tlsv1_3=NO with ssl_enable=YES: no \
         TLS version would be left to serve (ringd serves TLS 1.2 and 1.3 only); set one of \
         them to YES"
    );
    assert_eq!(
        error("require_cert=perhaps"),
        "test.conf:1: require_cert: expected YES or NO, found `perhaps`"
    );
}

#[test]
fn process_model_options_are_accepted_with_any_value() {
    let c = parse(
        "seccomp_sandbox=NO\nisolate=NO\nisolate_network=NO\n\
             secure_chroot_dir=/var/run/vsftpd/empty\ntrans_chunk_size=8192\n\
             setproctitle_enable=YES\nptrace_sandbox=YES",
    );
    assert_eq!(
        c,
        FtpConfig {
            notes: c.notes.clone(),
            ..parse("")
        }
    );
    assert_eq!(c.notes.len(), 7);
    assert_eq!(
        notes(&c)[0],
        "1: seccomp_sandbox=NO: accepted, no effect: it confines vsftpd's per-session \
             processes; ringd has none, resolves every path inside the session root with \
             openat2(RESOLVE_IN_ROOT), and leaves process confinement to the service manager"
    );
    assert_eq!(
        notes(&c)[4],
        "5: trans_chunk_size=8192: accepted, no effect: ringd's transfer engine sizes its \
             chunks and paces rate limits itself"
    );
    // vsftpd reads it as 0; not acted on either way, so one note says only that.
    assert_eq!(
        notes(&parse("trans_chunk_size=big")),
        [
            "1: trans_chunk_size=big: accepted, no effect: ringd's transfer engine sizes its \
          chunks and paces rate limits itself"
        ]
    );
}

#[test]
fn use_sendfile_and_zero_copy_method_choose_the_transfer_engine() {
    let c = parse("use_sendfile=NO");
    assert!(!c.use_sendfile);
    assert_eq!(c.to_string(), "use_sendfile=NO\n");
    let c = parse("zero_copy_method=splice");
    assert!(c.use_sendfile);
    assert_eq!(c.zero_copy_method, ZeroCopyMethod::Splice);
    assert_eq!(c.to_string(), "zero_copy_method=splice\n");
    assert!(c.notes.is_empty());
    let c = parse("zero_copy_method=Sendfile");
    assert_eq!(c.zero_copy_method, ZeroCopyMethod::Sendfile);
    // The method changes nothing while use_sendfile=NO: --check says so.
    let c = parse("zero_copy_method=splice\nuse_sendfile=NO");
    assert_eq!(
        notes(&c),
        [
            "1: zero_copy_method=splice: no effect with use_sendfile=NO: transfers copy \
              through memory"
        ]
    );
    assert_eq!(
        c.to_string(),
        "use_sendfile=NO\nzero_copy_method=splice\n# line 1: zero_copy_method=splice: no \
             effect with use_sendfile=NO: transfers copy through memory\n"
    );
    assert_eq!(
        error("\nzero_copy_method=mmap"),
        "test.conf:2: zero_copy_method: expected sendfile or splice, found `mmap`; write \
             zero_copy_method=sendfile or zero_copy_method=splice"
    );
    assert_eq!(
        error("zero_copy_method=copy"),
        "test.conf:1: zero_copy_method: expected sendfile or splice, found `copy`; to copy \
             through memory instead of zero-copy, remove this line and set use_sendfile=NO"
    );
    assert_eq!(
        error("zero_copy_method="),
        "test.conf:1: zero_copy_method: expected sendfile or splice, found nothing; remove \
             the line to keep the default, zero_copy_method=sendfile"
    );
    assert_eq!(
        error("use_sendfile=sometimes"),
        "test.conf:1: use_sendfile: expected YES or NO, found `sometimes`"
    );
    let again = parse(&parse("use_sendfile=NO\nzero_copy_method=splice").to_string());
    assert!(!again.use_sendfile);
    assert_eq!(again.zero_copy_method, ZeroCopyMethod::Splice);
}

#[test]
fn start_up_checks_across_options() {
    assert_eq!(
        error("listen=YES\nlisten_ipv6=YES\nmax_clients=5"),
        "test.conf:2: listen_ipv6: listen=YES and listen_ipv6=YES together: vsftpd refuses \
             this (\"run two copies of vsftpd for IPv4 and IPv6\"); set one of them to NO"
    );
    assert_eq!(
        error("listen_ipv6=NO\nlisten=NO"),
        "test.conf:2: listen: listen=NO and listen_ipv6=NO: vsftpd would then expect to be \
             started by inetd, which ringd does not support; set listen=YES (IPv4) or \
             listen_ipv6=YES (IPv6)"
    );
    assert_eq!(
        error("local_enable=NO\nanonymous_enable=NO"),
        "test.conf:2: anonymous_enable: anonymous_enable=NO and local_enable=NO: nobody \
             could log in (vsftpd refuses this: \"both local and anonymous access disabled!\"); \
             set one of them to YES"
    );
    assert_eq!(
        error("one_process_model=YES\nlocal_enable=YES"),
        "test.conf:2: local_enable: one_process_model=YES with local_enable=YES: vsftpd \
             refuses this (\"'one_process_model' is anonymous only\"); remove one_process_model, \
             which ringd does not need"
    );
    assert_eq!(
        error("pasv_min_port=10100\npasv_max_port=10000"),
        "test.conf:2: pasv_max_port: pasv_min_port=10100 is above pasv_max_port=10000 \
             (vsftpd would silently ignore pasv_max_port; its default pasv_min_port is 5001); \
             set pasv_max_port to at least 10100 or lower pasv_min_port"
    );
    // Only pasv_max_port set, below the default minimum of 5001.
    assert!(error("pasv_max_port=4000")
        .starts_with("test.conf:1: pasv_max_port: pasv_min_port=5001 is above pasv_max_port=4000"));
    assert_eq!(
        error("pasv_min_port=0\npasv_max_port=1000"),
        "test.conf:2: pasv_max_port: 1000 is below 1024: vsftpd never opens passive ports \
             below 1024 and would silently ignore this; use 1024..65535, or 0 for no upper limit"
    );
    let c = parse("pasv_min_port=100\npasv_max_port=2000");
    assert_eq!(c.pasv_ports(), 1024..=2000);
    assert_eq!(
        notes(&c),
        ["1: pasv_min_port=100: passive ports start at 1024, as in vsftpd"]
    );
}

#[test]
fn passive_port_range_as_vsftpd_computes_it() {
    assert_eq!(FtpConfig::default().pasv_ports(), 5001..=65535);
    assert_eq!(
        parse("pasv_min_port=10000\npasv_max_port=10100").pasv_ports(),
        10000..=10100
    );
    assert_eq!(parse("pasv_min_port=0").pasv_ports(), 1024..=65535);
    assert_eq!(
        parse("pasv_min_port=30000\npasv_max_port=30000").pasv_ports(),
        30000..=30000
    );
    assert_eq!(parse("pasv_max_port=65535").pasv_ports(), 5001..=65535);
}

#[test]
fn a_later_line_wins_with_a_note() {
    let c = parse("max_clients=3\nmax_clients=100");
    assert_eq!(c.max_clients, 100);
    assert_eq!(
        notes(&c),
        ["2: max_clients=100: overrides line 1: the last value wins, as in vsftpd"]
    );
}

#[test]
fn display_lists_changed_options_in_name_order_then_notes() {
    let c = parse(
        "write_enable=YES\nlocal_umask=022\nanon_upload_enable=YES\nlisten_port=2121\n\
             pasv_min_port=10000\npasv_max_port=10100\nftpd_banner=Hello there\n\
             file_open_mode=0644\nmax_clients=2000\nanonymous_enable=YES\nbackground=NO",
    );
    assert_eq!(
        c.to_string(),
        "anon_upload_enable=YES\n\
             file_open_mode=0644\n\
             ftpd_banner=Hello there\n\
             listen_port=2121\n\
             local_umask=022\n\
             pasv_max_port=10100\n\
             pasv_min_port=10000\n\
             write_enable=YES\n\
             # line 11: background=NO: vsftpd option that ringd does not support yet \
             (detaching into the background; run ringd under a service manager); accepted at \
             vsftpd's default\n"
    );
}

#[test]
fn display_reads_back_to_the_same_settings() {
    let c = parse(
        "listen=NO\nlisten_ipv6=YES\nlisten_address6=::1\nanon_umask=0\nlocal_umask=027\n\
             cmds_allowed=USER,PASS,QUIT\nvirtual_users_file=/etc/ringd/users\n\
             chown_upload_mode=0440\nuse_localtime=YES\nanon_root=/srv/ftp\nmax_per_ip=0",
    );
    let again = parse(&c.to_string());
    assert_eq!(
        FtpConfig {
            notes: Vec::new(),
            ..c
        },
        again
    );
}

#[test]
fn demo_is_anonymous_read_only_ftp_on_localhost_2121() {
    let config = demo(Path::new("/srv/demo"));
    assert_eq!(config.origin, "built-in demo");
    assert!(config.listen && !config.listen_ipv6);
    assert_eq!(config.listen_address, Some(Ipv4Addr::LOCALHOST));
    assert_eq!(config.listen_port, 2121);
    assert!(config.anonymous_enable && !config.local_enable && !config.write_enable);
    assert_eq!(config.anon_root.as_deref(), Some(Path::new("/srv/demo")));
    assert_eq!(config.pasv_ports(), 1024..=65535);
    assert_eq!(
        config.to_string(),
        "anon_root=/srv/demo\nlisten_address=127.0.0.1\nlisten_port=2121\npasv_min_port=0\n\
             run_as_launching_user=YES\n"
    );
    let reread = parse_str(config.to_string(), "demo.conf").unwrap();
    assert_eq!(
        FtpConfig {
            origin: "built-in demo".to_string(),
            ..reread
        },
        config
    );
}

#[test]
fn parse_file_names_an_unreadable_file() {
    let missing = data_file("no-such.conf");
    assert_eq!(
        parse_file(&missing).unwrap_err().to_string(),
        format!(
            "cannot read {}: No such file or directory (os error 2)",
            missing.display()
        )
    );
    let dir = crate::test_dirs::TempDir::new("vsftpd-conf");
    let path = dir.write("vsftpd.conf", b"# caf\xe9\nmax_clients=5\nbogus=1\n");
    let result = parse_file(&path);
    assert_eq!(
        result.unwrap_err().to_string(),
        format!(
            "{}:3: bogus: unknown option; ringd reads vsftpd.conf options (see \
                 docs/ftp-config.md)",
            path.display()
        )
    );
    assert_eq!(
        parse_file(Path::new("/dev/zero")).unwrap_err().to_string(),
        "/dev/zero is a character device; --ftp-conf must name a regular file of at most \
             100000 bytes"
    );
}

fn load(name: &str) -> FtpConfig {
    let path = data_file(name);
    match parse_file(&path) {
        Ok(config) => {
            assert_eq!(config.origin, path.display().to_string());
            config
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn the_seed_courses_stock_file_loads() {
    let c = load("seed-stock.conf");
    assert!(c.anonymous_enable && c.local_enable && c.write_enable);
    assert_eq!(c.local_umask, 0o022);
    assert!(c.dirmessage_enable && c.xferlog_enable && c.xferlog_std_format);
    assert!(c.connect_from_port_20);
    assert!(!c.listen && c.listen_ipv6);
    assert!(c.userlist_enable && c.userlist_deny && c.tcp_wrappers);
    assert_eq!(notes(&c), Vec::<String>::new());
    assert_eq!(c.pam_service_name, "vsftpd");
}

#[test]
fn the_seed_courses_exercises_load() {
    let c = load("seed-ex1-banner-file.conf");
    assert_eq!(
        c.banner_file.as_deref(),
        Some(Path::new("/etc/vsftpd/banner.txt"))
    );
    let c = load("seed-ex2-ftpd-banner.conf");
    assert_eq!(
        c.ftpd_banner.as_deref(),
        Some(&b"Welcome to blah FTP service. SOLDESK"[..])
    );
    let c = load("seed-ex3-chroot.conf");
    assert!(c.chroot_local_user && c.allow_writeable_chroot);
    let c = load("seed-ex4-userlist-deny-no.conf");
    assert!(c.userlist_enable && !c.userlist_deny);
    let c = load("seed-ex5-anonymous-mkdir.conf");
    assert!(c.anonymous_enable && c.anon_mkdir_write_enable && c.write_enable);
    let c = load("seed-ex6-listen-port.conf");
    assert_eq!(c.listen_port, 2121);
    let c = load("seed-ex7-max-clients.conf");
    assert_eq!(c.max_clients, 3);
    let c = load("seed-ex8-max-per-ip.conf");
    assert_eq!((c.max_clients, c.max_per_ip), (100, 3));
    let c = load("seed-ex9-anon-upload.conf");
    assert!(c.anon_upload_enable && c.chown_uploads);
    assert_eq!(c.chown_username, "ftpupload");
    let c = load("seed-security-limits.conf");
    assert_eq!((c.max_clients, c.max_per_ip), (200, 2));
    assert!(c.userlist_deny);
}

#[test]
fn the_seed_stock_file_with_every_example_uncommented_loads() {
    let c = load("seed-stock-all-uncommented.conf");
    assert!(c.anon_upload_enable && c.anon_mkdir_write_enable && c.chown_uploads);
    assert_eq!(c.chown_username, "whoever");
    assert_eq!(c.idle_session_timeout, 600);
    assert_eq!(c.data_connection_timeout, 120);
    assert!(c.async_abor_enable && c.ascii_upload_enable && c.ascii_download_enable);
    assert!(c.deny_email_enable && c.ls_recurse_enable);
    assert_eq!(c.banned_email_file, Path::new("/etc/vsftpd/banned_emails"));
    assert!(c.chroot_local_user && c.chroot_list_enable);
    assert_eq!(c.chroot_list_file, Path::new("/etc/vsftpd/chroot_list"));
    assert_eq!(
        c.ftpd_banner.as_deref(),
        Some(&b"Welcome to blah FTP service."[..])
    );
    assert!(c.notes.is_empty(), "{:?}", c.notes);
    assert_eq!(c.nopriv_user, "ftpsecure");
}

#[test]
fn debians_stock_file_loads() {
    let c = load("debian-stock.conf");
    assert!(!c.listen && c.listen_ipv6);
    assert!(!c.anonymous_enable && c.local_enable);
    assert!(c.dirmessage_enable && c.use_localtime && c.xferlog_enable);
    assert!(c.connect_from_port_20);
    let noted: Vec<&str> = c.notes.iter().map(|n| n.option.as_str()).collect();
    assert_eq!(noted, ["secure_chroot_dir"]);
    let c = load("debian-stock-all-uncommented.conf");
    assert!(c.write_enable && c.utf8_filesystem && c.chroot_list_enable);
    assert_eq!(c.local_umask, 0o022);
    assert_eq!(c.xferlog_file, Path::new("/var/log/vsftpd.log"));
    assert_eq!(c.chroot_list_file, Path::new("/etc/vsftpd.chroot_list"));
}

#[test]
fn every_error_of_a_file_is_reported_in_one_run() {
    let text = "listen=maybe\nbogus=1\nanon_root= /srv\nmax_clients=\nlisten_port=21\n";
    let message = error(text);
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines.len(), 4, "{message}");
    for (line, option) in [
        (1, "listen"),
        (2, "bogus"),
        (3, "anon_root"),
        (4, "max_clients"),
    ] {
        assert!(
            message.contains(&format!("test.conf:{line}: {option}: ")),
            "line {line} missing: {message}"
        );
    }
    // listen=maybe was refused, so listen keeps its default YES: the listen/listen_ipv6
    // check would be about a value the file never meant, and stays quiet.
    assert!(!error("listen=maybe\nlisten_ipv6=YES\n").contains("together"));
    // Checks across options come after the lines' own errors.
    let message = error("bogus=1\nanonymous_enable=NO\nlocal_enable=NO\n");
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines.len(), 2, "{message}");
    assert!(lines[0].starts_with("test.conf:1: bogus: "), "{message}");
    assert!(
        lines[1].starts_with("test.conf:3: local_enable: "),
        "{message}"
    );
}

#[test]
fn a_file_in_a_vsftpd_directory_has_red_hats_user_list() {
    let dir = crate::test_dirs::TempDir::new("vsftpd-layout");
    let stock = fs::read(data_file("seed-stock.conf")).unwrap();
    std::fs::create_dir_all(dir.join("vsftpd")).unwrap();
    let red_hat = dir.write("vsftpd/vsftpd.conf", &stock);
    let c = parse_file(&red_hat).unwrap();
    assert!(c.userlist_enable);
    assert_eq!(c.userlist_file, Path::new("/etc/vsftpd/user_list"));
    // It is that layout's default, so --check does not list it as a change.
    assert!(!c.to_string().contains("userlist_file"), "{c}");

    let debian = dir.write(
        "vsftpd.conf",
        fs::read(data_file("debian-stock.conf")).unwrap(),
    );
    let c = parse_file(&debian).unwrap();
    assert_eq!(c.userlist_file, Path::new("/etc/vsftpd.user_list"));
    // A file that names its list keeps it, in either layout.
    let named = dir.write("vsftpd/named.conf", "userlist_file=/srv/users\n");
    assert_eq!(
        parse_file(&named).unwrap().userlist_file,
        Path::new("/srv/users")
    );
    let c = parse_file(&dir.write("elsewhere.conf", "userlist_file=/etc/vsftpd/user_list\n"));
    assert!(c
        .unwrap()
        .to_string()
        .contains("userlist_file=/etc/vsftpd/user_list"));
}

#[test]
fn check_names_an_anon_root_that_does_not_exist() {
    let dir = crate::test_dirs::TempDir::new("vsftpd-anon-root");
    let missing = dir.join("srv/ftp");
    let conf = dir.write(
        "vsftpd.conf",
        format!(
            "listen=YES\nanonymous_enable=YES\nanon_root={}\n",
            missing.display()
        ),
    );
    let c = parse_file(&conf).unwrap();
    let shown = c.to_string();
    assert!(
        shown.contains(&format!(
            "# line 3: anon_root={0}: no such directory: every anonymous login would fail, as \
             in vsftpd (\"500 OOPS: cannot change directory:{0}\"); create it (mkdir -p {0})",
            missing.display()
        )),
        "{shown}"
    );
    std::fs::create_dir_all(&missing).unwrap();
    assert!(parse_file(&conf).unwrap().notes.is_empty());
    // Without anonymous logins the directory is never entered.
    let conf = dir.write(
        "local.conf",
        "listen=YES\nanonymous_enable=NO\nlocal_enable=YES\nanon_root=/no/such/dir\n",
    );
    assert!(parse_file(&conf).unwrap().notes.is_empty());
}

#[test]
fn numbers_skip_blanks_after_the_equals_sign_as_vsftpds_atoi() {
    let c = parse("listen_port= 22122\nmax_clients=\t 7\nidle_session_timeout=+30");
    assert_eq!(c.listen_port, 22122);
    assert_eq!(c.max_clients, 7);
    assert_eq!(c.idle_session_timeout, 30);
    assert!(c.notes.is_empty(), "{:?}", notes(&c));
    // A blank first means atoi, so decimal even when a 0 follows: ` 022` is 22, octal 026.
    let c = parse("local_umask= 022");
    assert_eq!(c.local_umask, 22);
    assert_eq!(
        notes(&c),
        [
            "1: local_umask= 022: no leading 0, so read as decimal 22 = octal 026, as vsftpd \
          does; write 022 if octal was meant"
        ]
    );
    assert_eq!(parse("local_umask=022").local_umask, 0o22);
    // Strings keep their blanks in vsftpd, so there a blank is still refused.
    assert!(error("ftp_username= ftp").contains("blank after `=`"));
    assert!(error("anonymous_enable= YES").contains("blank after `=`"));
}

#[test]
fn numbers_with_garbage_take_vsftpds_value_with_a_note() {
    let c = parse("max_clients=12abc\nmax_per_ip=abc\naccept_timeout=-1\nconnect_timeout=089");
    assert_eq!(c.max_clients, 12);
    assert_eq!(c.max_per_ip, 0);
    assert_eq!(c.accept_timeout, u32::MAX);
    assert_eq!(c.connect_timeout, 0);
    assert_eq!(
        notes(&c),
        [
            "1: max_clients=12abc: vsftpd reads the number up to the first byte that is not a \
             digit, ignoring `abc`: 12 is used",
            "2: max_per_ip=abc: `abc` is not a number; vsftpd reads it as 0, so 0 is used",
            "3: accept_timeout=-1: a negative number wraps round in vsftpd's unsigned \
             setting: 4294967295 is used",
            "4: connect_timeout=089: a value starting with 0 is octal, and vsftpd reads it \
             only up to the first byte that is not 0 to 7, ignoring `89`: 0 (decimal 0) is used",
        ]
    );
    assert!(c
        .to_string()
        .contains("# line 1: max_clients=12abc: vsftpd reads the number"));
    assert_eq!(
        c.start_up_warnings()[0],
        "test.conf:1: max_clients=12abc: vsftpd reads the number up to the first byte that is \
         not a digit, ignoring `abc`: 12 is used"
    );
    // vsftpd 3.0.3 listens on an ephemeral port for each of these.
    for value in ["abc", "089", "   ", "0x10"] {
        let c = parse(&format!("listen_port={value}"));
        assert_eq!(c.listen_port, 0, "{value}");
        assert_eq!(c.notes.len(), 1, "{value}");
    }
    assert!(error("listen_port=").contains("found nothing"));
    // Beyond vsftpd's 32 bits, or beyond a port, is still refused.
    assert!(error("max_clients=99999999999x").contains("out of range"));
    assert!(error("listen_port=70000x").contains("out of range"));
}

#[test]
fn values_keep_bytes_that_are_not_utf8() {
    let text = b"ftpd_banner=\xc7\xd1\xb1\xdb FTP\ndeny_file={*.\xc7\xd1}\n\
                 hide_file={caf\xe9}\nbanned_email_file=/etc/\xe9\\list\n";
    let mut parser = Parser::new("test.conf", FtpConfig::default());
    parser.read(text);
    assert!(parser.errors.is_empty());
    let c = parser.config;
    assert_eq!(c.ftpd_banner.as_deref(), Some(&b"\xc7\xd1\xb1\xdb FTP"[..]));
    assert_eq!(c.deny_file.as_deref(), Some(&b"{*.\xc7\xd1}"[..]));
    assert_eq!(c.hide_file.as_deref(), Some(&b"{caf\xe9}"[..]));
    assert_eq!(
        c.banned_email_file.as_os_str().as_encoded_bytes(),
        b"/etc/\xe9\\list"
    );
    // --check shows them readably, each byte that is not UTF-8 as \xNN.
    let check = c.to_string();
    for line in [
        r"banned_email_file=/etc/\xe9\\list",
        r"deny_file={*.\xc7\xd1}",
        r"ftpd_banner=\xc7\xd1\xb1\xdb FTP",
        r"hide_file={caf\xe9}",
    ] {
        assert!(
            check.lines().any(|shown| shown == line),
            "{line} not in {check}"
        );
    }
    assert_eq!(shown("한글 café".as_bytes()), "한글 café");
}
