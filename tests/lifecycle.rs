//! A running ringd's life under a service manager: it tells systemd when it is ready and
//! stopping, reloads its configuration (SIGHUP, `ringctl reload`), reopens its logs
//! (`ringctl cyclelogs`), and takes every other signal without dying silently.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::ftp_client::Control;
use common::{Ringd, TempDir, SESSION_USER_CONF};
use ringd::ntp::packet::{Header, NtpTimestamp, MODE_CLIENT};
use ringd::shard::ntp::steering::shard_for;

const WAIT: Duration = Duration::from_secs(10);

/// An anonymous FTP server with `extra` options, in which `DIR` names its temporary
/// directory; and its vsftpd.conf.
fn start_ftp(extra: &str) -> (Ringd, PathBuf) {
    let dir = TempDir::new("reload");
    let root = dir.join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("kept.txt"), "still served\n").unwrap();
    std::fs::create_dir(dir.join("logs")).unwrap();
    let conf = dir.join("vsftpd.conf");
    let text = ftp_conf(
        &root,
        &extra.replace("DIR", &dir.path().display().to_string()),
    );
    let ringd = Ringd::start_ftp(dir, &text, &[], 1);
    (ringd, conf)
}

fn ftp_conf(root: &Path, extra: &str) -> String {
    format!(
        "listen=YES\nlisten_address=127.0.0.1\nlisten_port=0\nanonymous_enable=YES\n\
         local_enable=NO\nanon_root={}\npasv_min_port=0\npasv_max_port=0\n{SESSION_USER_CONF}{extra}",
        root.display()
    )
}

/// Rewrites the configuration file as an editor does: a new file renamed over the old one.
fn rewrite(conf: &Path, text: &str) {
    let new = conf.with_extension("new");
    std::fs::write(&new, text).unwrap();
    std::fs::rename(&new, conf).unwrap();
}

fn signal(ringd: &Ringd, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &ringd.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn root_of(conf: &Path) -> PathBuf {
    conf.parent().unwrap().join("root")
}

#[test]
fn sighup_changes_the_banner_for_new_sessions_while_an_old_one_goes_on() {
    let (mut ringd, conf) = start_ftp("ftpd_banner=Before the reload.\n");
    let addr = ringd.ftp_addrs[0];
    let mut old = Control::anonymous(addr);
    assert_eq!(old.greeting, "220 Before the reload.\r\n");

    rewrite(
        &conf,
        &ftp_conf(&root_of(&conf), "ftpd_banner=After the reload.\n"),
    );
    signal(&ringd, "HUP");
    ringd.wait_for_line("reload: the new configuration is in force", WAIT);

    assert_eq!(Control::connect(addr).greeting, "220 After the reload.\r\n");
    assert_eq!(
        old.command("SIZE kept.txt"),
        "213 13\r\n",
        "the old session lives"
    );
    // The same process serves on: it stops cleanly on SIGTERM, not dead of the SIGHUP.
    ringd.stop();
}

#[test]
fn a_broken_file_on_reload_is_refused_and_the_running_configuration_stays() {
    let (ringd, conf) = start_ftp("ftpd_banner=Good.\n");
    let addr = ringd.ftp_addrs[0];
    let broken = ftp_conf(&root_of(&conf), "ftpd_banner=Never shown.\nmax_clients=\n");
    let line = broken.lines().position(|l| l == "max_clients=").unwrap() + 1;
    rewrite(&conf, &broken);
    let refused = ringd.ringctl(&["reload"]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains(&format!("{}:{line}", conf.display())) && message.contains("max_clients"),
        "names the file, the line and the option: {message}"
    );
    assert_eq!(Control::connect(addr).greeting, "220 Good.\r\n");

    rewrite(&conf, &ftp_conf(&root_of(&conf), "ftpd_banner=Fixed.\n"));
    let reloaded = ringd.ringctl(&["reload"]);
    assert!(reloaded.status.success(), "{reloaded:?}");
    assert_eq!(Control::connect(addr).greeting, "220 Fixed.\r\n");
    ringd.stop();
}

#[test]
fn cyclelogs_makes_a_moved_log_again() {
    let (ringd, conf) = start_ftp("xferlog_enable=YES\nvsftpd_log_file=DIR/logs/vsftpd.log\n");
    let logs = conf.parent().unwrap().join("logs");
    let log = logs.join("vsftpd.log");
    let rotated = logs.join("vsftpd.log.1");
    let addr = ringd.ftp_addrs[0];
    Control::connect(addr);
    std::fs::rename(&log, &rotated).unwrap();
    let cycled = ringd.ringctl(&["cyclelogs"]);
    assert!(cycled.status.success(), "{cycled:?}");
    Control::connect(addr);
    let connects = |path: &Path| {
        std::fs::read_to_string(path)
            .unwrap()
            .matches("CONNECT: Client \"127.0.0.1\"")
            .count()
    };
    assert_eq!(
        connects(&rotated),
        1,
        "the first connection, before the rotation"
    );
    assert_eq!(
        connects(&log),
        1,
        "the second, in a new file of the same name"
    );
    ringd.stop();
}

#[test]
fn a_reloaded_deny_line_is_applied_by_every_shard() {
    let conf_text = |extra: &str| {
        format!("port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\n{extra}local stratum 10\n")
    };
    let ringd = Ringd::start_ntp(&conf_text(""), &["--shards", "2"], 1);
    let server = ringd.ntp_addrs[0];
    // One client to deny and one to stay allowed on each shard: the allowed one's reply
    // means the shard has handled the request before it.
    let on_shard = |shard: u32, from: u8| {
        (from..250)
            .map(|n| format!("127.0.5.{n}"))
            .find(|ip| shard_for(ip.parse().unwrap(), 2) == shard)
            .unwrap()
    };
    let pairs: Vec<(String, String)> = (0..2)
        .map(|shard| (on_shard(shard, 1), on_shard(shard, 100)))
        .collect();
    for (denied, _) in &pairs {
        let before = client(denied);
        ask(&before, server);
        assert!(reply_to(&before).is_some(), "answered before the reload");
    }
    let denials: String = pairs
        .iter()
        .map(|(denied, _)| format!("deny {denied}\n"))
        .collect();
    rewrite(&ringd.file("chrony.conf"), &conf_text(&denials));
    let reloaded = ringd.ringctl(&["reload"]);
    assert!(reloaded.status.success(), "{reloaded:?}");
    for (denied, allowed) in &pairs {
        let denied = client(denied);
        ask(&denied, server);
        let allowed = client(allowed);
        ask(&allowed, server);
        assert!(
            reply_to(&allowed).is_some(),
            "an allowed client is answered"
        );
        denied.set_nonblocking(true).unwrap();
        assert!(reply_to(&denied).is_none(), "a denied one is not");
    }
    assert_eq!(ringd.ntp_counter(None, "ntp_dropped.denied"), 2);
    ringd.stop();
}

#[test]
fn sigusr1_reopens_logs_and_sigusr2_is_ignored_with_a_line() {
    let (mut ringd, _conf) = start_ftp("");
    signal(&ringd, "USR2");
    ringd.wait_for_line("SIGUSR2 ignored", WAIT);
    signal(&ringd, "USR1");
    ringd.wait_for_line("log file(s)", WAIT);
    Control::anonymous(ringd.ftp_addrs[0]);
    ringd.stop();
}

#[test]
fn systemd_hears_ready_once_every_service_listens_and_then_stopping() {
    let dir = TempDir::new("notify");
    let notify_path = dir.join("notify");
    let systemd = UnixDatagram::bind(&notify_path).unwrap();
    systemd.set_read_timeout(Some(WAIT)).unwrap();
    let conf = dir.write(
        "chrony.conf",
        "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 10\n",
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_ringd"));
    command
        .arg("--ntp-conf")
        .arg(&conf)
        .arg("--control-socket")
        .arg(dir.join("ringd.sock"))
        .env("NOTIFY_SOCKET", &notify_path);
    let ringd = Ringd::spawn(command, dir, 1);
    let mut datagram = [0u8; 512];
    let len = systemd.recv(&mut datagram).unwrap();
    let ready = String::from_utf8_lossy(&datagram[..len]).into_owned();
    assert!(
        ready.starts_with(&format!(
            "READY=1\nSTATUS=serving NTP on {}, FTP on none",
            ringd.ntp_addrs[0]
        )),
        "{ready}"
    );
    ringd.stop();
    let len = systemd.recv(&mut datagram).unwrap();
    assert_eq!(&datagram[..len], b"STOPPING=1\nSTATUS=stopping\n");
}

#[test]
fn a_restart_at_once_gets_the_port_after_a_clean_stop_or_a_kill() {
    // io_uring receives that outlive their process keep the port bound until the kernel
    // tears the ring down; a restart must not take that for another process's port.
    let conf = |port: u16| {
        format!("port {port}\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 10\n")
    };
    let args = ["--io", "uring", "--shards", "2"];
    let first = Ringd::start_ntp(&conf(0), &args, 1);
    let server = first.ntp_addrs[0];
    first.stop();
    let after_stop = Ringd::start_ntp(&conf(server.port()), &args, 1);
    let asking = client("127.0.0.1");
    ask(&asking, server);
    assert!(reply_to(&asking).is_some(), "answered after a restart");
    drop(after_stop); // SIGKILL, and waited for
    let after_kill = Ringd::start_ntp(&conf(server.port()), &args, 1);
    ask(&asking, server);
    assert!(
        reply_to(&asking).is_some(),
        "answered after a kill and a restart"
    );
    after_kill.stop();
}

/// The addresses on the log line `{service} now listens on A,B`, which a reload that changed
/// them writes once the shards serve them.
fn relistened(ringd: &mut Ringd, service: &str) -> Vec<SocketAddr> {
    let needle = format!("{service} now listens on ");
    let line = ringd.wait_for_line(&needle, WAIT);
    let list = &line[line.find(&needle).unwrap() + needle.len()..];
    list.split(',')
        .map(|addr| addr.trim().parse().unwrap())
        .collect()
}

#[test]
fn a_reload_that_changes_bindaddress_serves_the_new_address_and_closes_the_old_one() {
    let conf = |addresses: &[&str]| {
        let binds: String = addresses
            .iter()
            .map(|ip| format!("bindaddress {ip}\n"))
            .collect();
        format!("port 0\n{binds}allow 127.0.0.0/8\nlocal stratum 10\n")
    };
    for io in ["uring", "mmsg"] {
        rebind_ntp(&conf, &["--shards", "2", "--io", io]);
    }
}

fn rebind_ntp(conf: &dyn Fn(&[&str]) -> String, args: &[&str]) {
    let mut ringd = Ringd::start_ntp(&conf(&["127.0.0.1"]), args, 1);
    let first = ringd.ntp_addrs[0];
    let asking = client("127.0.0.1");

    rewrite(
        &ringd.file("chrony.conf"),
        &conf(&["127.0.0.1", "127.0.0.6"]),
    );
    let reloaded = ringd.ringctl(&["reload"]);
    assert!(reloaded.status.success(), "{reloaded:?}");
    let both = relistened(&mut ringd, "NTP");
    assert_eq!(both[0], first, "an address that stays keeps its socket");
    assert_eq!(both[1].ip().to_string(), "127.0.0.6");
    for server in &both {
        ask(&asking, *server);
        assert!(reply_to(&asking).is_some(), "{server} answers");
    }

    rewrite(&ringd.file("chrony.conf"), &conf(&["127.0.0.6"]));
    let reloaded = ringd.ringctl(&["reload"]);
    assert!(reloaded.status.success(), "{reloaded:?}");
    assert_eq!(relistened(&mut ringd, "NTP"), [both[1]]);
    // Asked first, the old address's silence is known once the new one has answered.
    ask(&asking, first);
    ask(&asking, both[1]);
    assert!(reply_to(&asking).is_some(), "the new address answers");
    asking.set_nonblocking(true).unwrap();
    assert!(reply_to(&asking).is_none(), "the old address is closed");
    UdpSocket::bind(first).expect("its port is free again");
    ringd.stop();
}

#[test]
fn a_reload_that_changes_listen_address_moves_ftp_while_a_session_goes_on() {
    let (mut ringd, conf) = start_ftp("");
    let old_addr = ringd.ftp_addrs[0];
    let mut session = Control::anonymous(old_addr);
    let moved = ftp_conf(&root_of(&conf), "")
        .replace("listen_address=127.0.0.1", "listen_address=127.0.0.7");
    rewrite(&conf, &moved);
    signal(&ringd, "HUP");
    let new_addr = relistened(&mut ringd, "FTP");
    assert_eq!(new_addr.len(), 1);
    assert_eq!(new_addr[0].ip().to_string(), "127.0.0.7");

    assert!(Control::connect(new_addr[0]).greeting.starts_with("220 "));
    assert!(
        std::net::TcpStream::connect(old_addr).is_err(),
        "nothing listens on the old address"
    );
    assert_eq!(
        session.command("SIZE kept.txt"),
        "213 13\r\n",
        "the session on the old address lives"
    );
    ringd.stop();
}

fn client(ip: &str) -> UdpSocket {
    let socket = UdpSocket::bind((ip, 0)).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    socket
}

fn ask(client: &UdpSocket, server: SocketAddr) {
    let request = Header {
        version: 4,
        mode: MODE_CLIENT,
        transmit: NtpTimestamp(0x1234_5678),
        ..Header::default()
    };
    client.send_to(&request.to_bytes(), server).unwrap();
}

/// The reply waiting for `client`, if any (at once for a non-blocking socket).
fn reply_to(client: &UdpSocket) -> Option<usize> {
    let mut reply = [0u8; 64];
    client.recv_from(&mut reply).ok().map(|(len, _)| len)
}
