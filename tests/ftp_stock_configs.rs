//! Stock and per-host vsftpd.conf set-ups with the real binary: Debian's and Rocky's dual-stack listener, and tcp_wrappers' `setenv VSFTPD_LOAD_CONF` per client address.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use common::ftp_client::Control;
use common::{Ringd, TempDir, SESSION_USER_CONF};
use socket2::{Domain, Socket, Type};

const PROMPT: Duration = Duration::from_secs(5);

fn anonymous_root(dir: &TempDir, name: &str, file: &str) -> std::path::PathBuf {
    let root = dir.join(name);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join(file), "x\n").unwrap();
    root
}

/// The first reply line of a control connection to `server` made from `source`.
fn greeting_from(source: Ipv4Addr, server: SocketAddr) -> (String, TcpStream) {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::new(IpAddr::V4(source), 0).into())
        .unwrap();
    socket.connect_timeout(&server.into(), PROMPT).unwrap();
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(PROMPT)).unwrap();
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).unwrap();
    (line, stream)
}

/// `command`'s reply line on a connection whose greeting was read.
fn command(stream: &mut TcpStream, command: &str) -> String {
    stream
        .write_all(format!("{command}\r\n").as_bytes())
        .unwrap();
    let mut line = String::new();
    BufReader::new(&*stream).read_line(&mut line).unwrap();
    line
}

#[test]
fn listen_ipv6_takes_ipv4_clients_as_vsftpd_does() {
    // Debian's and Rocky's stock files listen this way.
    let dir = TempDir::new("ftp-dual-stack");
    let root = anonymous_root(&dir, "root", "hello.txt");
    let log = dir.join("vsftpd.log");
    let conf = format!(
        "listen=NO\nlisten_ipv6=YES\nlisten_port=0\nanonymous_enable=YES\nanon_root={}\n\
         xferlog_enable=YES\nvsftpd_log_file={}\npasv_min_port=0\n{SESSION_USER_CONF}",
        root.display(),
        log.display()
    );
    let ringd = Ringd::start_ftp(dir, &conf, &["--shards", "1"], 1);
    let port = ringd.ftp_addrs[0].port();
    assert!(ringd.ftp_addrs[0].is_ipv6(), "{:?}", ringd.ftp_addrs);

    let mut v4 = Control::anonymous(SocketAddr::from(([127, 0, 0, 1], port)));
    let data = v4.passive();
    assert!(
        data.is_ipv4(),
        "PASV to an IPv4 client names an IPv4 address: {data}"
    );
    let v6 = Control::anonymous(SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port));
    drop((v4, v6));

    // Each connection's line is written before its greeting is sent.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("CONNECT: Client \"::ffff:127.0.0.1\""),
        "IPv4 clients are logged v4-mapped, as vsftpd 3.0.3 logs them: {text}"
    );
    assert!(text.contains("CONNECT: Client \"::1\""), "{text}");
    ringd.stop();
}

#[test]
fn setenv_vsftpd_load_conf_gives_a_client_address_its_own_configuration() {
    let dir = TempDir::new("ftp-load-conf");
    let main_root = anonymous_root(&dir, "main", "main.txt");
    let two_root = anonymous_root(&dir, "two", "two.txt");
    let two = dir.write(
        "two.conf",
        format!("ftpd_banner=Host two\nanon_root={}\n", two_root.display()),
    );
    let three = dir.write("three.conf", "ftpd_banner=Host three\n");
    let missing = dir.join("missing.conf");
    let allow = dir.write(
        "hosts.allow",
        format!(
            "vsftpd: 127.0.0.2: setenv VSFTPD_LOAD_CONF {}\n\
             vsftpd: 127.0.0.3: setenv VSFTPD_LOAD_CONF {}\n\
             vsftpd: 127.0.0.4: setenv VSFTPD_LOAD_CONF {}\n",
            two.display(),
            three.display(),
            missing.display()
        ),
    );
    let conf = format!(
        "listen=YES\nlisten_address=127.0.0.1\nlisten_port=0\nanonymous_enable=YES\n\
         anon_root={}\nftpd_banner=Main\ntcp_wrappers=YES\nhosts_allow_file={}\n\
         hosts_deny_file=/dev/null\npasv_min_port=0\n{SESSION_USER_CONF}",
        main_root.display(),
        allow.display()
    );
    let ringd = Ringd::start_ftp(dir, &conf, &["--shards", "2"], 1);
    let server = ringd.ftp_addrs[0];

    let (greeting, _) = greeting_from(Ipv4Addr::new(127, 0, 0, 1), server);
    assert_eq!(greeting, "220 Main\r\n");
    let (greeting, _) = greeting_from(Ipv4Addr::new(127, 0, 0, 3), server);
    assert_eq!(greeting, "220 Host three\r\n");

    // 127.0.0.2's file changes the anonymous root too: its session sees two.txt.
    let (greeting, mut two_session) = greeting_from(Ipv4Addr::new(127, 0, 0, 2), server);
    assert_eq!(greeting, "220 Host two\r\n");
    assert!(command(&mut two_session, "USER anonymous").starts_with("331"));
    assert!(command(&mut two_session, "PASS guest@").starts_with("230"));
    assert!(command(&mut two_session, "TYPE I").starts_with("200"));
    assert!(command(&mut two_session, "SIZE two.txt").starts_with("213 2"));
    assert!(command(&mut two_session, "SIZE main.txt").starts_with("550"));

    // A file that cannot be read ends the session as vsftpd's does.
    let (greeting, _) = greeting_from(Ipv4Addr::new(127, 0, 0, 4), server);
    assert_eq!(
        greeting,
        format!(
            "500 OOPS: cannot read config file: {}\r\n",
            missing.display()
        )
    );
    assert!(!Path::new(&missing).exists());
    ringd.stop();
}
