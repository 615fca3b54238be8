//! The Prometheus endpoint over real sockets: its text parses as OpenMetrics, and its counters
//! move by exactly the NTP requests and FTP sessions a test makes.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

use common::ftp_client::Control;
use common::{give_to_session_user, run_to_exit, Ringd, TempDir, SESSION_USER_CONF};
use ringd::ntp::packet::{Header, NtpTimestamp, MODE_CLIENT};

/// GETs `path` and returns the status line and the body.
fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: ringd\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    if head.starts_with("HTTP/1.1 200") {
        assert!(
            head.contains("Content-Type: application/openmetrics-text; version=1.0.0"),
            "{head}"
        );
        assert!(
            head.contains(&format!("Content-Length: {}", body.len())),
            "{head}"
        );
    }
    (head.lines().next().unwrap().to_string(), body.to_string())
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses OpenMetrics text strictly enough to fail on a malformed line: every sample is
/// `name{label="value",...} number` of a family whose `# TYPE` came first, and the text ends
/// with `# EOF`. Returns each series (`name{labels}`) with its value.
fn parse(text: &str) -> HashMap<String, f64> {
    assert!(text.ends_with("# EOF\n"), "{text}");
    let mut families: Vec<String> = Vec::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.splitn(3, ' ');
            match (words.next(), words.next()) {
                (Some("TYPE"), Some(name)) => {
                    let kind = words.next().unwrap();
                    assert!(["counter", "gauge"].contains(&kind), "{line}");
                    families.push(name.to_string());
                }
                (Some("HELP" | "UNIT"), Some(name)) => assert!(is_name(name), "{line}"),
                (Some("EOF"), None) => {}
                _ => panic!("unexpected comment: {line}"),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("series and value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number: {line}"));
        let name = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels.strip_suffix('}').expect("labels end with }");
                for label in labels.split(',') {
                    let (key, quoted) = label.split_once('=').expect("key=value");
                    assert!(is_name(key), "{line}");
                    assert!(
                        quoted.len() >= 2 && quoted.starts_with('"') && quoted.ends_with('"'),
                        "{line}"
                    );
                }
                name
            }
            None => series,
        };
        assert!(is_name(name), "{line}");
        assert!(
            families.iter().any(|family| name == family
                || name
                    .strip_prefix(family.as_str())
                    .is_some_and(|suffix| suffix == "_total")),
            "{name} has no # TYPE before it"
        );
        assert!(
            samples.insert(series.to_string(), value).is_none(),
            "twice: {series}"
        );
    }
    samples
}

fn ask(from: &str, server: SocketAddr) -> Option<usize> {
    let socket = UdpSocket::bind((from, 0)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let request = Header {
        version: 4,
        mode: MODE_CLIENT,
        transmit: NtpTimestamp(0x1234_5678),
        ..Header::default()
    };
    socket.send_to(&request.to_bytes(), server).unwrap();
    let mut reply = [0u8; 64];
    socket.recv_from(&mut reply).ok().map(|(len, _)| len)
}

/// ringd serving NTP (to 127.0.0.1 only) and FTP (anonymous, and alice with a password) with
/// its metrics endpoint on a free port.
fn start() -> Ringd {
    let dir = TempDir::new("metrics");
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("pub")).unwrap();
    std::fs::write(root.join("pub/hello.txt"), "hello, world\n").unwrap();
    let homes = dir.join("homes");
    std::fs::create_dir_all(homes.join("alice")).unwrap();
    give_to_session_user(&homes.join("alice"));
    let users = dir.join("users");
    let added = run_to_exit(
        &["ftp-passwd", users.to_str().unwrap(), "alice"],
        b"wonder land\n",
    );
    assert!(added.status.success(), "{added:?}");
    let ntp = dir.write(
        "chrony.conf",
        "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 10\n",
    );
    let ftp = dir.write(
        "vsftpd.conf",
        format!(
            "listen=YES\nlisten_address=127.0.0.1\nlisten_port=0\nanonymous_enable=YES\nanon_root={}\n\
             local_enable=YES\nwrite_enable=YES\nvirtual_users_file={}\nlocal_root={}/$USER\n\
             user_sub_token=$USER\npasv_min_port=0\npasv_max_port=0\n{SESSION_USER_CONF}",
            root.display(),
            users.display(),
            homes.display()
        ),
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_ringd"));
    command
        .arg("--ntp-conf")
        .arg(&ntp)
        .arg("--ftp-conf")
        .arg(&ftp)
        .args([
            "--shards",
            "2",
            "--metrics-listen",
            "127.0.0.1:0",
            "--control-socket",
        ])
        .arg(dir.join("ringd.sock"));
    Ringd::spawn(command, dir, 2)
}

#[test]
fn the_endpoint_parses_as_openmetrics_and_its_counters_follow_the_traffic() {
    let ringd = start();
    let metrics = ringd.metrics_addr.expect("metrics= on the ready line");
    let (status, body) = get(metrics, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let before = parse(&body);
    assert_eq!(before["ringd_build_info{version=\"0.1.0\"}"], 1.0);
    assert_eq!(before["ringd_ftp_sessions"], 0.0);
    let count = |samples: &HashMap<String, f64>, series: &str| {
        *samples
            .get(series)
            .unwrap_or_else(|| panic!("no {series} in {samples:?}"))
    };

    let server = ringd.ntp_addrs[0];
    for _ in 0..3 {
        assert_eq!(ask("127.0.0.1", server), Some(48));
    }
    assert_eq!(ask("127.0.0.2", server), None, "denied");

    let ftp = ringd.ftp_addrs[0];
    let mut wrong = Control::connect(ftp);
    wrong.command("USER alice");
    assert_eq!(wrong.command("PASS not-hers"), "530 Login incorrect.\r\n");
    let mut alice = Control::login(ftp, "alice", "wonder land");
    // The 150 comes once the data connection is there.
    let data = alice.passive();
    alice.send(b"STOR up.txt\r\n");
    let mut upload = TcpStream::connect(data).unwrap();
    assert!(alice.reply().starts_with("150 "));
    upload.write_all(b"0123456789").unwrap();
    drop(upload);
    assert!(alice.reply().starts_with("226 "));
    let mut anonymous = Control::anonymous(ftp);
    let data = anonymous.passive();
    anonymous.send(b"RETR pub/hello.txt\r\n");
    let mut download = TcpStream::connect(data).unwrap();
    assert!(anonymous.reply().starts_with("150 "));
    let mut downloaded = Vec::new();
    download.read_to_end(&mut downloaded).unwrap();
    assert!(anonymous.reply().starts_with("226 "));
    assert_eq!(downloaded.len(), 13);

    let after = parse(&get(metrics, "/metrics").1);
    let moved = |series: &str| count(&after, series) - count(&before, series);
    assert_eq!(moved("ringd_ntp_requests_total{result=\"answered\"}"), 3.0);
    assert_eq!(moved("ringd_ntp_requests_total{result=\"denied\"}"), 1.0);
    let per_shard: f64 = (0..2)
        .map(|shard| {
            count(
                &after,
                &format!("ringd_ntp_shard_requests_total{{shard=\"{shard}\",result=\"answered\"}}"),
            )
        })
        .sum();
    assert_eq!(
        per_shard,
        count(&after, "ringd_ntp_requests_total{result=\"answered\"}")
    );
    assert_eq!(
        count(&after, "ringd_ftp_sessions"),
        3.0,
        "three sessions open"
    );
    assert_eq!(
        moved("ringd_ftp_connections_total{result=\"accepted\"}"),
        3.0
    );
    assert_eq!(
        moved("ringd_ftp_logins_total{kind=\"named\",outcome=\"failure\"}"),
        1.0
    );
    assert_eq!(
        moved("ringd_ftp_logins_total{kind=\"named\",outcome=\"success\"}"),
        1.0
    );
    assert_eq!(
        moved("ringd_ftp_logins_total{kind=\"anonymous\",outcome=\"success\"}"),
        1.0
    );
    assert_eq!(
        moved("ringd_ftp_transfers_total{direction=\"upload\",outcome=\"complete\"}"),
        1.0
    );
    assert_eq!(
        moved("ringd_ftp_transfers_total{direction=\"download\",outcome=\"complete\"}"),
        1.0
    );
    assert_eq!(
        moved("ringd_ftp_transfer_bytes_total{direction=\"upload\"}"),
        10.0
    );
    assert_eq!(
        moved("ringd_ftp_transfer_bytes_total{direction=\"download\"}"),
        13.0
    );

    assert_eq!(get(metrics, "/").0, "HTTP/1.1 404 Not Found");
    drop((wrong, alice, anonymous));
    ringd.stop();
}
