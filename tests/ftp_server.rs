//! ringd's FTP server with real clients: python3's ftplib and curl, on ephemeral ports.

mod common;

use std::io::{BufRead, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::ftp_client::Control;
use common::{
    give_to_session_user, run_client, run_to_exit, running_as_root, Ringd, TempDir,
    SESSION_USER_CONF,
};

/// A root with `pub/hello.txt`, an `upload/` directory the sessions' user owns, and symlinks
/// that point out of the root.
fn make_root(dir: &TempDir) -> PathBuf {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("pub")).unwrap();
    std::fs::create_dir_all(root.join("upload")).unwrap();
    give_to_session_user(&root.join("upload"));
    std::fs::write(root.join("pub/hello.txt"), "hello, world\n").unwrap();
    std::os::unix::fs::symlink("/etc", root.join("outside")).unwrap();
    std::os::unix::fs::symlink("../../../../../..", root.join("up")).unwrap();
    root
}

fn anonymous_conf(root: &Path, extra: &str) -> String {
    format!(
        "listen=YES\nlisten_address=127.0.0.1\nlisten_port=0\nanonymous_enable=YES\nlocal_enable=NO\n\
         anon_root={}\nhide_ids=YES\npasv_min_port=0\npasv_max_port=0\n{SESSION_USER_CONF}{extra}",
        root.display()
    )
}

fn start_anonymous(extra: &str) -> Ringd {
    let dir = TempDir::new("ftp");
    let root = make_root(&dir);
    let conf = anonymous_conf(&root, extra);
    Ringd::start_ftp(dir, &conf, &["--shards", "2"], 1)
}

#[test]
fn anonymous_download_list_and_metadata() {
    let ringd = start_anonymous("");
    run_client("anonymous_download", ringd.ftp_addrs[0], &[]);
    run_client("active_mode", ringd.ftp_addrs[0], &[]);
    ringd.stop();
}

#[test]
fn curl_downloads_and_uploads() {
    let ringd = start_anonymous("write_enable=YES\nanon_upload_enable=YES\nanon_umask=022\n");
    let addr = ringd.ftp_addrs[0];
    let got = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "10",
            &format!("ftp://{addr}/pub/hello.txt"),
        ])
        .output()
        .unwrap();
    assert!(got.status.success());
    assert_eq!(got.stdout, b"hello, world\n");

    let dir = TempDir::new("curl");
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let local = dir.write("up.bin", "");
    std::fs::write(&local, &payload).unwrap();
    let put = Command::new("curl")
        .args(["-s", "--max-time", "10", "-T"])
        .arg(&local)
        .arg(format!("ftp://{addr}/upload/up.bin"))
        .status()
        .unwrap();
    assert!(put.success());
    let back = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "10",
            &format!("ftp://{addr}/upload/up.bin"),
        ])
        .output()
        .unwrap();
    assert_eq!(back.stdout, payload, "the upload round-trips");
    ringd.stop();
}

fn add_user(users: &Path, name: &str, password: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ringd"))
        .arg("ftp-passwd")
        .arg(users)
        .arg(name)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn start_with_users(extra: &str, listen: &str) -> Ringd {
    start_with_users_home(extra, listen).0
}

/// Like [`start_with_users`], and where alice's files are.
fn start_with_users_home(extra: &str, listen: &str) -> (Ringd, PathBuf) {
    let dir = TempDir::new("ftp-users");
    let root = make_root(&dir);
    let homes = dir.join("homes");
    std::fs::create_dir_all(homes.join("alice")).unwrap();
    give_to_session_user(&homes.join("alice"));
    let users = dir.join("users");
    add_user(&users, "alice", "wonder land");
    let text = std::fs::read_to_string(&users).unwrap();
    assert!(
        text.starts_with("alice:$"),
        "a crypt(3) hash is stored: {text}"
    );
    assert!(!text.contains("wonder land"));
    let conf = format!(
        "{listen}listen_port=0\nanonymous_enable=YES\nanon_root={}\nlocal_enable=YES\nwrite_enable=YES\n\
         virtual_users_file={}\nlocal_root={}/$USER\nuser_sub_token=$USER\nftpusers_file={}\n\
         {SESSION_USER_CONF}{extra}",
        root.display(),
        users.display(),
        homes.display(),
        dir.write("ftpusers", "root\nbin\n").display(),
    );
    let alice = homes.join("alice");
    (Ringd::start_ftp(dir, &conf, &["--shards", "2"], 1), alice)
}

#[test]
fn virtual_user_full_session() {
    let ringd = start_with_users("", "listen=YES\nlisten_address=127.0.0.1\n");
    run_client(
        "user_session",
        ringd.ftp_addrs[0],
        &["alice", "wonder land"],
    );
    ringd.stop();
}

/// A virtual user acts as `guest_username`, so the kernel, not ringd, refuses what that user
/// may not do: read a mode-000 file, overwrite a read-only file of another owner, or write
/// through a hard link to a file outside the root. Before sessions carried their users'
/// credentials all three went through as root.
#[test]
fn a_virtual_users_file_access_is_checked_by_the_kernel() {
    if !running_as_root() {
        eprintln!("skipped: needs root to own files the session user may not touch");
        return;
    }
    let (ringd, alice) = start_with_users_home("", "listen=YES\nlisten_address=127.0.0.1\n");
    let unreadable = alice.join("unreadable.txt");
    std::fs::write(&unreadable, "not for alice\n").unwrap();
    std::fs::set_permissions(&unreadable, std::fs::Permissions::from_mode(0o000)).unwrap();
    let read_only = alice.join("read-only.txt");
    std::fs::write(&read_only, "root's\n").unwrap();
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o444)).unwrap();
    // The link's target is root's file beside the homes, outside every session's root.
    let outside = alice
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("outside.txt");
    std::fs::write(&outside, "outside\n").unwrap();
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::hard_link(&outside, alice.join("link.txt")).unwrap();

    let mut control = Control::login(ringd.ftp_addrs[0], "alice", "wonder land");
    control.passive();
    let reply = control.command("RETR unreadable.txt");
    assert!(reply.starts_with("550 Failed to open file."), "{reply}");
    for name in ["read-only.txt", "link.txt"] {
        control.passive();
        let reply = control.command(&format!("STOR {name}"));
        assert!(
            reply.starts_with("553 Could not create file."),
            "STOR {name}: {reply}"
        );
    }
    assert_eq!(std::fs::read_to_string(&read_only).unwrap(), "root's\n");
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "outside\n");
    control.command("QUIT");
    ringd.stop();
}

#[test]
fn epsv_and_eprt_over_ipv6() {
    let ringd = start_with_users("", "listen=NO\nlisten_ipv6=YES\nlisten_address6=::1\n");
    run_client(
        "ipv6_extended",
        ringd.ftp_addrs[0],
        &["alice", "wonder land"],
    );
    ringd.stop();
}

#[test]
fn ftpusers_refuses_after_the_password_and_user_list_before_it() {
    let ringd = start_with_users(
        "userlist_enable=YES\nuserlist_deny=YES\nuserlist_file=/dev/null\n",
        "listen=YES\nlisten_address=127.0.0.1\n",
    );
    let addr = ringd.ftp_addrs[0];
    run_client(
        "replies",
        addr,
        &[
            "220",
            "USER root",
            "331 Please specify the password.",
            "PASS x",
            "530 Login incorrect.",
            "USER alice",
            "331",
            "PASS wrong",
            "530 Login incorrect.",
            "USER alice",
            "331",
            "PASS wonder land",
            "230",
        ],
    );
    ringd.stop();
}

#[test]
fn user_list_deny_and_allow_modes() {
    let dir = TempDir::new("userlist");
    let root = make_root(&dir);
    let list = dir.write("user_list", "bob\n");
    let conf = anonymous_conf(
        &root,
        &format!(
            "userlist_enable=YES\nuserlist_deny=YES\nuserlist_file={}\n",
            list.display()
        ),
    );
    let ringd = Ringd::start_ftp(dir, &conf, &[], 1);
    // Anonymous-only server: other names are refused before the list is consulted.
    run_client(
        "replies",
        ringd.ftp_addrs[0],
        &["220", "USER bob", "530 This FTP server is anonymous only."],
    );
    ringd.stop();

    let dir = TempDir::new("userlist-allow");
    let root = make_root(&dir);
    let list = dir.write("user_list", "ftp\n");
    let conf = anonymous_conf(
        &root,
        &format!(
            "userlist_enable=YES\nuserlist_deny=NO\nuserlist_file={}\n",
            list.display()
        ),
    );
    let ringd = Ringd::start_ftp(dir, &conf, &[], 1);
    run_client(
        "replies",
        ringd.ftp_addrs[0],
        &[
            "220",
            "USER anonymous",
            "530 Permission denied.",
            "USER ftp",
            "331 Please specify the password.",
            "PASS x",
            "230",
        ],
    );
    ringd.stop();
}

#[test]
fn banners() {
    let ringd = start_anonymous("ftpd_banner=Welcome to blah FTP service.\n");
    run_client(
        "greeting",
        ringd.ftp_addrs[0],
        &["220 Welcome to blah FTP service."],
    );
    ringd.stop();

    let dir = TempDir::new("banner");
    let root = make_root(&dir);
    let banner = dir.write("banner", "Authorised users only.\nAll access is logged.\n");
    let conf = anonymous_conf(
        &root,
        &format!("ftpd_banner=ignored\nbanner_file={}\n", banner.display()),
    );
    let ringd = Ringd::start_ftp(dir, &conf, &[], 1);
    run_client(
        "greeting",
        ringd.ftp_addrs[0],
        &["220-Authorised users only.\\n220-All access is logged.\\n220 "],
    );
    ringd.stop();
}

#[test]
fn the_default_greeting_reveals_no_version() {
    let ringd = start_anonymous("");
    let sock = std::net::TcpStream::connect(ringd.ftp_addrs[0]).unwrap();
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(sock).read_line(&mut line).unwrap();
    assert!(line.starts_with("220 "), "{line}");
    let text = &line[4..];
    assert!(
        !text.to_lowercase().contains("vsftpd") && !text.chars().any(|c| c.is_ascii_digit()),
        "no server name or version after the code: {line}"
    );
    ringd.stop();
}

#[test]
fn paths_never_leave_the_root() {
    let ringd = start_anonymous("");
    run_client("escape_attempts", ringd.ftp_addrs[0], &[]);
    run_client("foreign_port", ringd.ftp_addrs[0], &[]);
    ringd.stop();
}

#[test]
fn max_clients_and_max_per_ip() {
    let ringd = start_anonymous("max_clients=3\n");
    run_client(
        "hold_connections",
        ringd.ftp_addrs[0],
        &[
            "4",
            "421 There are too many connected users, please try later.",
        ],
    );
    ringd.stop();
    let ringd = start_anonymous("max_per_ip=3\n");
    run_client(
        "hold_connections",
        ringd.ftp_addrs[0],
        &[
            "4",
            "421 There are too many connections from your internet address.",
        ],
    );
    ringd.stop();
}

/// Reads reply lines until the final line of a reply with `code`.
fn expect_reply(reader: &mut impl BufRead, code: &str) {
    let final_line = format!("{code} ");
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "closed before {code}"
        );
        if line.starts_with(&final_line) {
            return;
        }
        assert!(line.starts_with(code), "expected {code}, got {line:?}");
    }
}

/// A control connection logged in anonymously over a raw socket, and its reply reader.
fn anonymous_login(
    server: std::net::SocketAddr,
) -> (std::net::TcpStream, std::io::BufReader<std::net::TcpStream>) {
    let stream = std::net::TcpStream::connect(server).unwrap();
    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
    expect_reply(&mut reader, "220");
    (&stream)
        .write_all(b"USER anonymous\r\nPASS guest@\r\n")
        .unwrap();
    expect_reply(&mut reader, "331");
    expect_reply(&mut reader, "230");
    (stream, reader)
}

#[test]
fn logged_in_sessions_share_their_root_descriptor() {
    const SESSIONS: usize = 40;
    let dir = TempDir::new("ftp");
    let root = make_root(&dir);
    let ringd = Ringd::start_ftp(dir, &anonymous_conf(&root, ""), &["--shards", "2"], 1);
    let sessions: Vec<_> = (0..SESSIONS)
        .map(|_| anonymous_login(ringd.ftp_addrs[0]))
        .collect();
    // One descriptor of the root for all sessions (not one each), so that an open-file limit
    // holds as many sessions as it has room for control connections.
    assert_eq!(ringd.descriptors_of(&root), 1);
    drop(sessions);
    ringd.stop();
}

#[test]
fn passive_ports_come_from_the_configured_range() {
    // A port that was free a moment ago, as a range of one.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = TempDir::new("ftp");
    let root = make_root(&dir);
    let conf = anonymous_conf(&root, "")
        .replace("pasv_min_port=0", &format!("pasv_min_port={port}"))
        .replace("pasv_max_port=0", &format!("pasv_max_port={port}"));
    let ringd = Ringd::start_ftp(dir, &conf, &["--shards", "1"], 1);
    let (stream, mut reader) = anonymous_login(ringd.ftp_addrs[0]);
    (&stream).write_all(b"PASV\r\n").unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let (p1, p2) = (port >> 8, port & 0xff);
    assert_eq!(
        line.trim_end(),
        format!("227 Entering Passive Mode (127,0,0,1,{p1},{p2}).")
    );
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("the passive port listens");
    drop(stream);
    ringd.stop();
}

#[test]
fn tcp_wrappers_refuse_denied_hosts() {
    let dir = TempDir::new("wrappers");
    let root = make_root(&dir);
    let allow = dir.write("hosts.allow", "vsftpd: 192.168.1.\n");
    let deny = dir.write("hosts.deny", "vsftpd: ALL\n");
    let conf = anonymous_conf(
        &root,
        &format!(
            "tcp_wrappers=YES\nhosts_allow_file={}\nhosts_deny_file={}\n",
            allow.display(),
            deny.display()
        ),
    );
    let ringd = Ringd::start_ftp(dir, &conf, &[], 1);
    run_client(
        "greeting",
        ringd.ftp_addrs[0],
        &["421 Service not available."],
    );
    ringd.stop();
}

#[test]
fn over_long_lines_get_500_and_the_session_lives() {
    let ringd = start_anonymous("");
    run_client("long_line", ringd.ftp_addrs[0], &[]);
    ringd.stop();
}

#[test]
fn check_validates_an_ftp_configuration() {
    let dir = TempDir::new("check");
    let good = dir.write(
        "good.conf",
        "listen=YES\nanonymous_enable=YES\nanon_root=/srv\nmax_clients=3\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ringd"))
        .args(["--check", "--ftp-conf"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("max_clients=3"));
    let bad = dir.write("bad.conf", "listen=YES\nanonymous_enabel=YES\n");
    let out = Command::new(env!("CARGO_BIN_EXE_ringd"))
        .args(["--check", "--ftp-conf"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.conf:2") && err.contains("anonymous_enabel"),
        "{err}"
    );
}

#[test]
fn chown_uploads_gives_anonymous_uploads_away() {
    let dir = TempDir::new("chown");
    let root = make_root(&dir);
    std::fs::set_permissions(
        root.join("upload"),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let conf = anonymous_conf(
        &root,
        "write_enable=YES\nanon_upload_enable=YES\nchown_uploads=YES\nchown_username=nobody\nchown_upload_mode=0640\n",
    );
    let ringd = Ringd::start_ftp(dir, &conf, &[], 1);
    let addr = ringd.ftp_addrs[0];
    if running_as_root() {
        run_client(
            "upload",
            addr,
            &["anonymous", "x@y", "upload/given.txt", "226"],
        );
        let meta = std::fs::metadata(root.join("upload/given.txt")).unwrap();
        use std::os::unix::fs::MetadataExt;
        let nobody = Command::new("id").args(["-u", "nobody"]).output().unwrap();
        assert_eq!(
            meta.uid().to_string(),
            String::from_utf8_lossy(&nobody.stdout).trim()
        );
        assert_eq!(meta.mode() & 0o777, 0o640);
    } else {
        // Without the privilege to give the file away, the upload is refused and nothing stays.
        run_client(
            "upload",
            addr,
            &["anonymous", "x@y", "upload/given.txt", "553"],
        );
        assert!(!root.join("upload/given.txt").exists());
    }
    ringd.stop();
}

#[test]
fn guests_get_anonymous_privileges() {
    let ringd = start_with_users(
        "guest_enable=YES\nanon_upload_enable=NO\n",
        "listen=YES\nlisten_address=127.0.0.1\n",
    );
    run_client(
        "upload",
        ringd.ftp_addrs[0],
        &["alice", "wonder land", "x.txt", "550"],
    );
    ringd.stop();
    let ringd = start_with_users(
        "guest_enable=YES\nvirtual_use_local_privs=YES\n",
        "listen=YES\nlisten_address=127.0.0.1\n",
    );
    run_client(
        "upload",
        ringd.ftp_addrs[0],
        &["alice", "wonder land", "x.txt", "226"],
    );
    ringd.stop();
}

/// Runs one anonymous download with `log_options`, in which `LOG` names the log file, and
/// returns what was logged.
fn log_of_one_download(log_options: &str) -> String {
    let dir = TempDir::new("transfer-log");
    let root = make_root(&dir);
    let log_file = dir.join("transfer.log");
    let log_options = log_options.replace("LOG", &log_file.display().to_string());
    let ringd = Ringd::start_ftp(dir, &anonymous_conf(&root, &log_options), &[], 1);
    run_client("anonymous_download", ringd.ftp_addrs[0], &[]);
    let log = std::fs::read_to_string(&log_file).unwrap();
    ringd.stop();
    log
}

#[test]
fn transfers_are_logged_in_xferlog_and_vsftpd_formats() {
    let log = log_of_one_download("xferlog_enable=YES\nxferlog_std_format=YES\nxferlog_file=LOG\n");
    let line = log.lines().next().expect("one transfer logged");
    assert!(
        line.ends_with(" 127.0.0.1 13 /pub/hello.txt b _ o a guest@example.com ftp 0 * c"),
        "{line}"
    );

    let log = log_of_one_download("xferlog_enable=YES\nvsftpd_log_file=LOG\n");
    assert!(log.contains("CONNECT: Client \"127.0.0.1\""), "{log}");
    assert!(
        log.contains(
            "[nobody] OK LOGIN: Client \"127.0.0.1\", anon password \"guest@example.com\""
        ),
        "{log}"
    );
    assert!(
        log.contains("[nobody] OK DOWNLOAD: Client \"127.0.0.1\", \"/pub/hello.txt\", 13 bytes,"),
        "{log}"
    );
}

#[test]
fn a_download_that_fails_to_open_is_logged_as_failed() {
    let dir = TempDir::new("failed-download-log");
    let root = make_root(&dir);
    let (xferlog, vsftpd_log) = (dir.join("xferlog"), dir.join("vsftpd.log"));
    let options = format!(
        "dual_log_enable=YES\nxferlog_file={}\nvsftpd_log_file={}\n",
        xferlog.display(),
        vsftpd_log.display()
    );
    let ringd = Ringd::start_ftp(dir, &anonymous_conf(&root, &options), &[], 1);
    let mut control = Control::anonymous(ringd.ftp_addrs[0]);
    control.passive();
    assert_eq!(
        control.command("RETR pub/missing.txt"),
        "550 Failed to open file.\r\n"
    );
    // The session answers the next command only after its log lines are written.
    assert_eq!(control.command("NOOP"), "200 NOOP ok.\r\n");
    let transfers = std::fs::read_to_string(&xferlog).unwrap();
    assert!(
        transfers.ends_with(" 127.0.0.1 0 /pub/missing.txt a _ o a guest@ ftp 0 * i\n"),
        "{transfers}"
    );
    let events = std::fs::read_to_string(&vsftpd_log).unwrap();
    assert!(
        events.contains("FAIL DOWNLOAD: Client \"127.0.0.1\", \"/pub/missing.txt\", 0.00Kbyte/sec"),
        "{events}"
    );
    ringd.stop();
}

#[test]
fn dual_log_writes_both_logs_with_the_protocol_and_failed_logins_reach_ringds_log() {
    let logs = TempDir::new("dual-log");
    let (xferlog, vsftpd_log) = (logs.join("xferlog"), logs.join("vsftpd.log"));
    let options = |extra: &str| {
        format!(
            "dual_log_enable=YES\nlog_ftp_protocol=YES\nxferlog_file={}\nvsftpd_log_file={}\n{extra}",
            xferlog.display(),
            vsftpd_log.display()
        )
    };
    let mut ringd = start_with_users(
        &options("hide_ids=YES\n"),
        "listen=YES\nlisten_address=127.0.0.1\n",
    );
    let addr = ringd.ftp_addrs[0];
    let mut wrong = Control::connect(addr);
    wrong.command("USER alice");
    assert_eq!(wrong.command("PASS not-hers"), "530 Login incorrect.\r\n");
    let line = ringd.wait_for_line(
        "FTP login failed for user \"alice\"",
        std::time::Duration::from_secs(10),
    );
    assert!(line.contains("client=127.0.0.1"), "{line}");
    assert!(!line.contains("not-hers"), "{line}");
    run_client("anonymous_download", addr, &[]);
    ringd.stop();

    let transfers = std::fs::read_to_string(&xferlog).unwrap();
    assert!(
        transfers.contains(" 127.0.0.1 13 /pub/hello.txt b _ o a guest@example.com ftp 0 * c"),
        "{transfers}"
    );
    let events = std::fs::read_to_string(&vsftpd_log).unwrap();
    for expected in [
        "[alice] FAIL LOGIN: Client \"127.0.0.1\"",
        "[alice] FTP command: Client \"127.0.0.1\", \"PASS <password>\"",
        "[alice] FTP response: Client \"127.0.0.1\", \"530 Login incorrect.\"",
        "OK DOWNLOAD: Client \"127.0.0.1\", \"/pub/hello.txt\", 13 bytes,",
    ] {
        assert!(events.contains(expected), "{expected} in:\n{events}");
    }
    assert!(!events.contains("not-hers"), "{events}");

    // With syslog_enable, vsftpd's own lines go to the system log instead of the file.
    std::fs::remove_file(&xferlog).unwrap();
    std::fs::remove_file(&vsftpd_log).unwrap();
    let ringd = start_with_users(
        &options("hide_ids=YES\nsyslog_enable=YES\n"),
        "listen=YES\nlisten_address=127.0.0.1\n",
    );
    run_client("anonymous_download", ringd.ftp_addrs[0], &[]);
    ringd.stop();
    assert!(xferlog.exists(), "the transfer log is still written");
    assert!(!vsftpd_log.exists(), "vsftpd's own log goes to syslog");
}

#[test]
fn ascii_mode_converts_line_ends_both_ways() {
    let ringd = start_with_users(
        "ascii_download_enable=YES\nascii_upload_enable=YES\n",
        "listen=YES\nlisten_address=127.0.0.1\n",
    );
    run_client("ascii_mode", ringd.ftp_addrs[0], &["alice", "wonder land"]);
    ringd.stop();
}

#[test]
fn stat_counts_the_clients_open_when_the_session_started() {
    let ringd = start_anonymous("");
    let addr = ringd.ftp_addrs[0];
    let mut first = Control::anonymous(addr);
    let mut second = Control::anonymous(addr);
    let status = second.command("STAT");
    assert!(
        status.contains("\r\n     At session startup, client count was 2\r\n"),
        "{status}"
    );
    let status = first.command("STAT");
    assert!(
        status.contains("\r\n     At session startup, client count was 1\r\n"),
        "{status}"
    );
    ringd.stop();
}

#[test]
fn use_localtime_shows_times_in_the_zone_ringd_runs_in() {
    let dir = TempDir::new("localtime");
    let root = make_root(&dir);
    // 20:00 UTC on 14 July 2020 is 01:30 on 15 July in India (5 h 30 min east, no summer time).
    let file = std::fs::File::options()
        .write(true)
        .open(root.join("pub/hello.txt"))
        .unwrap();
    file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_594_756_800))
        .unwrap();
    let start = |extra: &str| {
        let dir = TempDir::new("localtime-ringd");
        let path = dir.write("vsftpd.conf", anonymous_conf(&root, extra));
        let mut command = Command::new(env!("CARGO_BIN_EXE_ringd"));
        command.arg("--ftp-conf").arg(&path);
        command.arg("--control-socket").arg(dir.join("ringd.sock"));
        // A POSIX zone string: no tzdata needed.
        command.env("TZ", "IST-5:30");
        Ringd::spawn(command, dir, 1)
    };

    let ringd = start("use_localtime=YES\n");
    let mut control = Control::anonymous(ringd.ftp_addrs[0]);
    assert_eq!(
        control.command("MDTM pub/hello.txt"),
        "213 20200715013000\r\n"
    );
    let status = control.command("STAT pub/hello.txt");
    assert!(status.contains(" Jul 15  2020 hello.txt\r\n"), "{status}");
    ringd.stop();

    let ringd = start("");
    let mut control = Control::anonymous(ringd.ftp_addrs[0]);
    assert_eq!(
        control.command("MDTM pub/hello.txt"),
        "213 20200714200000\r\n",
        "GMT without use_localtime, whatever ringd's zone"
    );
    ringd.stop();
    drop(dir);
}

/// A small tmpfs mounted by the test (needs root), unmounted on drop.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: &Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(at).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .ok()?
            .success();
        mounted.then(|| SmallDisk(at.to_path_buf()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_answers_452_and_atomic_uploads_keep_the_old_file() {
    if !running_as_root() {
        eprintln!("skipped: mounting a small tmpfs needs root (CI runs as root)");
        return;
    }
    let dir = TempDir::new("enospc");
    let root = make_root(&dir);
    let homes = dir.join("homes");
    let Some(_disk) = SmallDisk::mount(&homes.join("alice"), "1m") else {
        panic!("mount -t tmpfs failed although running as root");
    };
    std::fs::write(homes.join("alice/keep.txt"), "the old, whole file").unwrap();
    give_to_session_user(&homes.join("alice"));
    let users = dir.join("users");
    add_user(&users, "alice", "wonder land");
    let conf = format!(
        "listen=YES\nlisten_address=127.0.0.1\nlisten_port=0\nanonymous_enable=YES\nanon_root={}\n\
         local_enable=YES\nwrite_enable=YES\nvirtual_users_file={}\nlocal_root={}/$USER\n\
         user_sub_token=$USER\natomic_uploads=YES\n{SESSION_USER_CONF}",
        root.display(),
        users.display(),
        homes.display(),
    );
    let ringd = Ringd::start_ftp(dir, &conf, &[], 1);
    let addr = ringd.ftp_addrs[0];
    run_client(
        "disk_full",
        addr,
        &[
            "alice",
            "wonder land",
            "keep.txt",
            "3000000",
            "the old, whole file",
        ],
    );
    // The failed upload left nothing behind; the retried small one replaced the file whole.
    let names: Vec<String> = std::fs::read_dir(homes.join("alice"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["keep.txt".to_string()], "no staging file left");
    ringd.stop();
}

#[test]
fn without_atomic_uploads_a_failed_upload_is_deleted_when_asked() {
    if !running_as_root() {
        eprintln!("skipped: mounting a small tmpfs needs root (CI runs as root)");
        return;
    }
    let dir = TempDir::new("delete-failed");
    let root = make_root(&dir);
    let Some(_disk) = SmallDisk::mount(&root.join("upload"), "1m") else {
        panic!("mount -t tmpfs failed although running as root");
    };
    std::fs::set_permissions(
        root.join("upload"),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let conf = anonymous_conf(
        &root,
        "write_enable=YES\nanon_upload_enable=YES\nanon_other_write_enable=YES\nanon_umask=022\ndelete_failed_uploads=YES\n",
    );
    let ringd = Ringd::start_ftp(dir, &conf, &[], 1);
    run_client(
        "disk_full",
        ringd.ftp_addrs[0],
        &["anonymous", "x@y", "upload/big.bin", "3000000"],
    );
    ringd.stop();
}

#[test]
fn checksummed_round_trips_at_the_edges_of_the_buffer_sizes() {
    let ringd = start_with_users("", "listen=YES\nlisten_address=127.0.0.1\n");
    let sizes = [
        "0",
        "1",
        "65535",
        "65536",
        "65537",
        "262143",
        "262145",
        "104857600",
    ];
    let mut args = vec!["alice", "wonder land"];
    args.extend(sizes);
    run_client("round_trips", ringd.ftp_addrs[0], &args);
    ringd.stop();
}

#[test]
fn curl_round_trips_a_large_file() {
    let ringd = start_with_users("", "listen=YES\nlisten_address=127.0.0.1\n");
    let addr = ringd.ftp_addrs[0];
    let dir = TempDir::new("curl-big");
    let local = dir.join("big.bin");
    let status = Command::new("head")
        .args(["-c", "104857600", "/dev/urandom"])
        .stdout(std::fs::File::create(&local).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let url = format!("ftp://alice:wonder%20land@{addr}/big.bin");
    let put = Command::new("curl")
        .args(["-s", "--max-time", "60", "-T"])
        .arg(&local)
        .arg(&url)
        .status()
        .unwrap();
    assert!(put.success());
    let back = dir.join("back.bin");
    let get = Command::new("curl")
        .args(["-s", "--max-time", "60", "-o"])
        .arg(&back)
        .arg(&url)
        .status()
        .unwrap();
    assert!(get.success());
    let sum = |path: &Path| {
        let out = Command::new("sha256sum").arg(path).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(sum(&local), sum(&back), "100 MiB round trip through curl");
    ringd.stop();
}

#[test]
fn abor_mid_transfer_then_a_new_transfer() {
    let ringd = start_with_users(
        "local_max_rate=8000000\n",
        "listen=YES\nlisten_address=127.0.0.1\n",
    );
    run_client(
        "abort_mid_transfer",
        ringd.ftp_addrs[0],
        &["alice", "wonder land"],
    );
    ringd.stop();
}

#[test]
fn a_download_waits_for_the_upload_that_holds_the_lock() {
    let (ringd, alice) = start_with_users_home("", "listen=YES\nlisten_address=127.0.0.1\n");
    let path = alice.join("locked.bin");
    std::fs::write(&path, "the old contents").unwrap();
    give_to_session_user(&path);
    run_client(
        "download_waits_for_upload",
        ringd.ftp_addrs[0],
        &["alice", "wonder land", "locked.bin", path.to_str().unwrap()],
    );
    ringd.stop();
}

/// `len` bytes from /dev/urandom.
fn random_bytes(len: usize) -> Vec<u8> {
    use std::io::Read;
    let mut bytes = Vec::with_capacity(len);
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .take(len as u64)
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

/// The engine settings: sendfile, splice, and the copy of `use_sendfile=NO`.
const ENGINES: [&str; 3] = [
    "zero_copy_method=sendfile\n",
    "zero_copy_method=splice\n",
    "use_sendfile=NO\n",
];

/// Whether ringd logged that the kernel refused a zero-copy method (the engine then copies).
fn fell_back_to_copying(log: &[String]) -> bool {
    log.iter().any(|line| line.contains("refused here"))
}

#[test]
fn every_transfer_engine_moves_the_exact_bytes_from_any_rest_offset() {
    // Many sendfile calls (60 KiB) and turns (256 KiB), pipe-sized splices (256 KiB), copy
    // buffers (256 KiB), and an odd tail.
    let data = random_bytes(3 * 1024 * 1024 + 12_345);
    let len = data.len().to_string();
    let last = (data.len() - 1).to_string();
    for engine in ENGINES {
        let (ringd, alice) =
            start_with_users_home(engine, "listen=YES\nlisten_address=127.0.0.1\n");
        let path = alice.join("data.bin");
        std::fs::write(&path, &data).unwrap();
        run_client(
            "exact_transfers",
            ringd.ftp_addrs[0],
            &[
                "alice",
                "wonder land",
                "data.bin",
                path.to_str().unwrap(),
                "1",
                "262143",
                "262144",
                "1048577",
                &last,
                &len,
            ],
        );
        assert!(
            std::fs::read(alice.join("data.bin.up")).unwrap() == data,
            "{engine}: the upload stored other bytes"
        );
        let log = ringd.stop();
        assert!(!fell_back_to_copying(&log), "{engine}: {log:?}");
    }
}

#[test]
fn a_throttled_sendfile_download_keeps_to_anon_max_rate() {
    let dir = TempDir::new("throttled");
    let root = make_root(&dir);
    let path = root.join("pub/rated.bin");
    std::fs::write(&path, random_bytes(1_500_000)).unwrap();
    let conf = anonymous_conf(&root, "anon_max_rate=3000000\nzero_copy_method=sendfile\n");
    let ringd = Ringd::start_ftp(dir, &conf, &[], 1);
    run_client(
        "throttled_download",
        ringd.ftp_addrs[0],
        &["pub/rated.bin", path.to_str().unwrap(), "3000000"],
    );
    let log = ringd.stop();
    assert!(!fell_back_to_copying(&log), "{log:?}");
}

/// A second ringd on the first one's FTP port would share it through SO_REUSEPORT and take
/// some of its clients; it must refuse to start and name the holder.
#[test]
fn a_port_held_by_another_ringd_is_an_error_naming_it() {
    let first = start_anonymous("");
    let port = first.ftp_addrs[0].port();
    let dir = TempDir::new("ftp-port-held");
    let root = make_root(&dir);
    let conf = anonymous_conf(&root, "").replace("listen_port=0", &format!("listen_port={port}"));
    let conf = dir.write("vsftpd.conf", &conf);
    let socket = dir.join("ringd.sock");
    let output = run_to_exit(
        &[
            "--ftp-conf",
            conf.to_str().unwrap(),
            "--control-socket",
            socket.to_str().unwrap(),
        ],
        b"",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "exits non-zero:\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot listen for FTP on 127.0.0.1:{port}: the port is in use by ringd (pid {})",
            first.pid()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("`listen_port`"), "{stderr}");
    run_client("anonymous_download", first.ftp_addrs[0], &[]);
    first.stop();
}
