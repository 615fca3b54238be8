//! ringd's FTP server behind a TCP load balancer: the PROXY protocol header's client address counts for limits, STAT and the logs; only the listed balancers may send one.

mod common;

use std::net::Ipv4Addr;

use common::ftp_client::Control;
use common::{Ringd, TempDir, SESSION_USER_CONF};

const BALANCER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const DIRECT_CLIENT: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const TOO_MANY: &str = "421 There are too many connections from your internet address.\r\n";

/// ringd with 127.0.0.1 as its balancer, `max_per_ip=1`, vsftpd.log in its directory, and
/// tcp_wrappers denying 192.0.2.66.
fn start_behind_balancer() -> Ringd {
    let dir = TempDir::new("ftp-proxy");
    let allow = dir.write("hosts.allow", "");
    let deny = dir.write("hosts.deny", "vsftpd: 192.0.2.66\n");
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let conf = format!(
        "listen=YES\nlisten_port=0\nanonymous_enable=YES\nlocal_enable=NO\nanon_root={}\n\
         max_per_ip=1\nxferlog_enable=YES\nvsftpd_log_file={}\n\
         proxy_protocol=YES\nproxy_protocol_from={BALANCER}\ntcp_wrappers=YES\n\
         hosts_allow_file={}\nhosts_deny_file={}\n{SESSION_USER_CONF}",
        root.display(),
        dir.join("vsftpd.log").display(),
        allow.display(),
        deny.display()
    );
    Ringd::start_ftp(dir, &conf, &["--shards", "2"], 1)
}

/// A PROXY v2 header for a TCP connection from `client` to 127.0.0.1:21.
fn v2_header(client: [u8; 4], client_port: u16) -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.extend_from_slice(&[0x21, 0x11, 0, 12]);
    header.extend_from_slice(&client);
    header.extend_from_slice(&[127, 0, 0, 1]);
    header.extend_from_slice(&client_port.to_be_bytes());
    header.extend_from_slice(&21u16.to_be_bytes());
    header
}

#[test]
fn the_proxied_client_address_counts_for_limits_stat_and_the_log() {
    let ringd = start_behind_balancer();
    let server = ringd.ftp_addrs[0];
    let v1 = b"PROXY TCP4 192.0.2.9 127.0.0.1 40000 21\r\n";
    let mut first = Control::connect_from(BALANCER, server, v1);
    assert!(first.greeting.starts_with("220"), "{}", first.greeting);
    assert!(first.command("USER anonymous").starts_with("331"));
    assert!(first.command("PASS guest@").starts_with("230"));
    let status = first.command("STAT");
    assert!(status.contains("Connected to 192.0.2.9"), "{status}");
    let listed = ringd.ringctl(&["ftp", "sessions"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("192.0.2.9:40000"), "{listed}");

    // max_per_ip=1 holds per real client, though every connection comes from the balancer.
    let same_client = Control::connect_from(BALANCER, server, &v2_header([192, 0, 2, 9], 40001));
    assert_eq!(same_client.greeting, TOO_MANY);
    let other_client =
        Control::connect_from(BALANCER, server, &v2_header([198, 51, 100, 4], 40002));
    assert!(
        other_client.greeting.starts_with("220"),
        "{}",
        other_client.greeting
    );

    let log = std::fs::read_to_string(ringd.file("vsftpd.log")).unwrap();
    for client in ["192.0.2.9", "198.51.100.4"] {
        assert!(
            log.contains(&format!("CONNECT: Client \"{client}\"")),
            "{log}"
        );
    }
    assert!(!log.contains("Client \"127.0.0.1\""), "{log}");
    ringd.stop();
}

#[test]
fn only_the_listed_balancers_send_a_header_and_they_must() {
    let ringd = start_behind_balancer();
    let server = ringd.ftp_addrs[0];
    // Anyone else is a direct client: a PROXY line from it is a command, refused as vsftpd
    // refuses any command before login.
    let mut direct = Control::connect_from(DIRECT_CLIENT, server, b"");
    assert!(direct.greeting.starts_with("220"), "{}", direct.greeting);
    let claimed = direct.command("PROXY TCP4 192.0.2.9 127.0.0.1 40000 21");
    assert_eq!(claimed, "530 Please login with USER and PASS.\r\n");
    assert!(direct.command("USER anonymous").starts_with("331"));

    // A balancer's connection without a header is closed without a word.
    let mut stream = std::net::TcpStream::connect(server).unwrap();
    std::io::Write::write_all(&mut stream, b"USER anonymous\r\nPASS x\r\n").unwrap();
    stream
        .set_read_timeout(Some(common::ftp_client::PROMPT))
        .unwrap();
    let mut received = Vec::new();
    let read = std::io::Read::read_to_end(&mut stream, &mut received);
    assert!(
        read.is_ok() && received.is_empty()
            || read.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "{received:?}"
    );
    ringd.stop();
}
