//! ringd synchronising to an upstream server over real UDP: another ringd serving a local
//! reference, so the test needs nothing but the build.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{ntp_exchange, Ringd, TempDir};

/// How long a log line or a file may take to come.
const WAIT: Duration = Duration::from_secs(10);
use ringd::ntp::packet::MODE_SERVER;

#[test]
fn a_client_ringd_follows_its_server_and_serves_one_stratum_below() {
    let upstream = Ringd::start_ntp(
        "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 3\n",
        &["--shards", "1"],
        1,
    );
    let port = upstream.ntp_addrs[0].port();
    let drift_dir = common::TempDir::new("drift");
    let driftfile = drift_dir.join("drift");
    let conf = format!(
        "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\n\
         server 127.0.0.1 port {port} iburst minpoll -3 maxpoll -3\n\
         driftfile {}\n",
        driftfile.display()
    );
    let mut client = Ringd::start_ntp(&conf, &["--shards", "1"], 1);

    // Before the first sample the client is honest about not knowing the time.
    let (_, early, _) = ntp_exchange(client.ntp_addrs[0]);
    assert!(
        early.leap == 3 || early.stratum == 4,
        "unsynchronised (LI 3) until synchronised: {early:?}"
    );

    let line = client.wait_for_line("synchronised to 127.0.0.1", Duration::from_secs(20));
    assert!(line.contains("serving stratum 4"), "{line}");
    let (t1, reply, t4) = ntp_exchange(client.ntp_addrs[0]);
    assert_eq!(reply.mode, MODE_SERVER);
    assert_eq!(reply.leap, 0);
    assert_eq!(reply.stratum, 4, "the upstream's stratum 3, plus one");
    assert_eq!(
        reply.reference_id, 0x7F00_0001,
        "refid: the upstream's IPv4 address"
    );
    // Both serve the same system clock: the served time must agree with ours closely.
    let offset = (reply.receive.nanos_since(t1) + reply.transmit.nanos_since(t4)) / 2;
    assert!(offset.abs() < 1_000_000, "offset {offset} ns");
    assert!(reply.root_delay.to_seconds() < 0.01);

    let log = client.stop();
    assert!(
        log.iter().any(|l| l.contains("observing only")),
        "without --control-clock the system clock is left alone"
    );
    // The driftfile is written at exit in chronyd's format: frequency and skew in ppm.
    let drift = std::fs::read_to_string(&driftfile).expect("driftfile written at exit");
    let numbers: Vec<f64> = drift
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(numbers.len(), 2, "{drift:?}");
    assert!(numbers[0].abs() < 500.0 && numbers[1] >= 0.0, "{drift:?}");
    upstream.stop();
}

#[test]
fn a_reload_swaps_upstream_sources_without_a_restart() {
    let upstream = |ip: &str, stratum: u8| {
        Ringd::start_ntp(
            &format!("port 0\nbindaddress {ip}\nallow 127.0.0.0/8\nlocal stratum {stratum}\n"),
            &["--shards", "1"],
            1,
        )
    };
    let (first, second) = (upstream("127.0.0.1", 3), upstream("127.0.0.2", 5));
    let conf = |server: &Ringd| {
        let addr = server.ntp_addrs[0];
        format!(
            "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\n\
             server {} port {} iburst minpoll -3 maxpoll -3\n",
            addr.ip(),
            addr.port()
        )
    };
    let mut client = Ringd::start_ntp(&conf(&first), &["--shards", "1"], 1);
    let line = client.wait_for_line("synchronised to 127.0.0.1", Duration::from_secs(20));
    assert!(line.contains("serving stratum 4"), "{line}");
    let pid = client.pid();

    let path = client.file("chrony.conf");
    std::fs::write(path.with_extension("new"), conf(&second)).unwrap();
    std::fs::rename(path.with_extension("new"), &path).unwrap();
    let reloaded = client.ringctl(&["reload"]);
    assert!(reloaded.status.success(), "{reloaded:?}");
    client.wait_for_line(
        "reload: 0 source line(s) kept, 1 removed, 1 added",
        Duration::from_secs(10),
    );
    let line = client.wait_for_line("synchronised to 127.0.0.2", Duration::from_secs(20));
    assert!(line.contains("serving stratum 6"), "{line}");
    assert_eq!(client.pid(), pid);
    let sources = String::from_utf8(client.ringctl(&["sources"]).stdout).unwrap();
    assert!(sources.contains("127.0.0.2"), "{sources}");
    assert!(
        !sources.contains("127.0.0.1 "),
        "the removed source is gone: {sources}"
    );
    let (_, reply, _) = ntp_exchange(client.ntp_addrs[0]);
    assert_eq!(reply.stratum, 6);
    client.stop();
    first.stop();
    second.stop();
}

#[test]
fn waitsync_returns_once_synchronised_and_csv_and_ntpdata_are_chronycs() {
    let upstream = Ringd::start_ntp(
        "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 3\n",
        &["--shards", "1"],
        1,
    );
    // A ringd serving its local reference (refid LOCAL, as chronyd's) never counts as
    // synchronised: two tries, then exit 1.
    let unsynchronised = upstream.ringctl(&["waitsync", "2", "0", "0", "0.1"]);
    assert_eq!(unsynchronised.status.code(), Some(1), "{unsynchronised:?}");
    let tries = String::from_utf8(unsynchronised.stdout).unwrap();
    assert_eq!(tries.lines().count(), 2, "{tries}");
    assert!(
        tries.starts_with("try: 1, refid: 7F7F0101, correction: "),
        "{tries}"
    );

    let port = upstream.ntp_addrs[0].port();
    let client = Ringd::start_ntp(
        &format!(
            "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\n\
             server 127.0.0.1 port {port} iburst minpoll -3 maxpoll -3\n"
        ),
        &["--shards", "1"],
        1,
    );
    // Started before the first sample: waitsync is what waits, up to 300 tries of 0.1 s.
    let waited = client.ringctl(&["waitsync", "300", "0.01", "0", "0.1"]);
    assert_eq!(waited.status.code(), Some(0), "{waited:?}");
    let tries = String::from_utf8(waited.stdout).unwrap();
    let last = tries.lines().last().unwrap();
    assert!(last.contains(", refid: 7F000001, correction: "), "{tries}");

    let csv = |args: &[&str]| String::from_utf8(client.ringctl(args).stdout).unwrap();
    let tracking = csv(&["-c", "tracking"]);
    let fields: Vec<&str> = tracking.trim_end().split(',').collect();
    assert_eq!(fields.len(), 14, "{tracking}");
    assert_eq!(
        (fields[0], fields[1], fields[2]),
        ("7F000001", "127.0.0.1", "4")
    );
    assert!(fields[3]
        .split_once('.')
        .is_some_and(|(_, nanos)| nanos.len() == 9));
    assert_eq!(fields[13], "Normal");
    let sources = csv(&["-c", "sources"]);
    assert!(sources.starts_with("^,*,127.0.0.1,3,-3,"), "{sources}");
    assert_eq!(sources.trim_end().split(',').count(), 10, "{sources}");
    assert_eq!(csv(&["-c", "sourcestats"]).trim_end().split(',').count(), 8);
    assert_eq!(
        csv(&["-c", "serverstats"]).trim_end().split(',').count(),
        11
    );
    assert_eq!(csv(&["-c", "activity"]), "1,0,0,0,0\n");

    // ntpdata: the upstream's last reply as received, and the counts behind it.
    let text = csv(&["ntpdata", "127.0.0.1"]);
    assert!(
        text.starts_with(&format!(
            "Remote address  : 127.0.0.1 (7F000001)\nRemote port     : {port}\n\
             Local address   : 127.0.0.1 (7F000001)\nLeap status     : Normal\n\
             Version         : 4\nMode            : Server\nStratum         : 3\n"
        )),
        "{text}"
    );
    assert!(
        text.contains("\nNTP tests       : 111 111 1111\n"),
        "{text}"
    );
    let data: serde_json::Value = serde_json::from_str(&csv(&["--json", "ntpdata"])).unwrap();
    let counts = |name: &str| data[0][name].as_u64().unwrap();
    assert!(counts("total_good_rx") >= 2, "{data}");
    assert!(
        counts("total_valid_rx") >= counts("total_good_rx"),
        "{data}"
    );
    assert!(counts("total_tx") >= counts("total_rx"), "{data}");
    // Loopback replies carry the kernel's receive timestamp.
    assert_eq!(data[0]["rx_timestamping"], "Kernel", "{data}");
    assert!(data[0]["peer_delay"].as_f64().unwrap() < 0.01, "{data}");
    assert_eq!(csv(&["-c", "ntpdata"]).trim_end().split(',').count(), 34);
    let unknown = client.ringctl(&["ntpdata", "192.0.2.9"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no source has the address"));
    client.stop();
    upstream.stop();
}

#[test]
fn chronys_log_files_are_written_in_its_format_and_begun_again_after_cyclelogs() {
    let upstream = Ringd::start_ntp(
        "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 3\n",
        &["--shards", "1"],
        1,
    );
    let logs = TempDir::new("chrony-logdir");
    // Missing: ringd creates it, as chronyd does.
    let logdir = logs.path().join("chrony");
    let port = upstream.ntp_addrs[0].port();
    let mut client = Ringd::start_ntp(
        &format!(
            "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\n\
             server 127.0.0.1 port {port} iburst minpoll -3 maxpoll -3\n\
             log measurements statistics tracking\nlogdir {}\nlogbanner 4\n",
            logdir.display()
        ),
        &["--shards", "1"],
        1,
    );
    let waited = client.ringctl(&["waitsync", "300", "0.01", "0", "0.1"]);
    assert_eq!(waited.status.code(), Some(0), "{waited:?}");
    let mode = std::fs::metadata(&logdir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o750, "created as chronyd creates it");
    // ringd says when each file has its first line.
    client.wait_for_lines(
        &[
            "chrony's measurements.log begun",
            "chrony's statistics.log begun",
            "chrony's tracking.log begun",
        ],
        WAIT,
    );

    // Each file: a banner of chrony's titles between two rules, then lines of its columns.
    for (name, titles, fields) in [
        (
            "measurements.log",
            "   Date (UTC) Time     IP Address   L St 123 567 ABCD",
            20,
        ),
        (
            "statistics.log",
            "   Date (UTC) Time     IP Address    Std dev'n",
            13,
        ),
        (
            "tracking.log",
            "   Date (UTC) Time     IP Address   St   Freq ppm",
            14,
        ),
    ] {
        let text = std::fs::read_to_string(logdir.join(name)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].chars().all(|c| c == '=') && lines[0] == lines[2],
            "{text}"
        );
        assert!(lines[1].starts_with(titles), "{text}");
        let data = lines[3];
        assert_eq!(data.split_whitespace().count(), fields, "{name}: {data}");
        assert_eq!(&data[20..29], "127.0.0.1", "{name}: {data}");
        let mode = std::fs::metadata(logdir.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o133,
            0,
            "{name}: at most 0644, as chronyd: {mode:o}"
        );
    }
    let measurements = std::fs::read_to_string(logdir.join("measurements.log")).unwrap();
    let first = measurements.lines().nth(3).unwrap();
    assert!(
        first.contains(" N  3 111 111 1111 ") && first.ends_with(" 4B D K"),
        "a valid reply from a stratum 3 server, received with a kernel timestamp: {first}"
    );

    // logrotate's move, then cyclelogs: new lines go to a new file, headed by the banner.
    let tracking = logdir.join("tracking.log");
    std::fs::rename(&tracking, logdir.join("tracking.log.1")).unwrap();
    let cycled = client.ringctl(&["cyclelogs"]);
    assert!(cycled.status.success(), "{cycled:?}");
    client.wait_for_line("chrony's tracking.log begun", WAIT);
    let fresh = std::fs::read_to_string(&tracking).unwrap();
    assert!(
        fresh.starts_with("=====") && fresh.lines().nth(3).is_some(),
        "{fresh}"
    );
    client.stop();
    upstream.stop();
}

/// chrony.conf(5)'s orphan example: two servers that are each other's `server`, both with
/// `local stratum 10 orphan`. On loopback both reach the other from 127.0.0.1, so neither
/// source's reference ID is below the local one and both stay orphans at stratum 10; without
/// the orphan rule each would follow the other and the strata would climb to 16.
#[test]
fn two_orphans_polling_each_other_stay_at_their_stratum() {
    let conf = |bind: &str, server: std::net::SocketAddr| {
        format!(
            "port 0\nbindaddress {bind}\nallow 127.0.0.0/8\nlocal stratum 10 orphan\n\
             server {} port {} minpoll -3 maxpoll -3\n",
            server.ip(),
            server.port()
        )
    };
    // The second server's port is known only once it runs: the first starts polling an
    // address where nothing answers and is pointed at the second by a reload.
    let nobody: std::net::SocketAddr = "127.0.0.3:9".parse().unwrap();
    let mut first = Ringd::start_ntp(&conf("127.0.0.1", nobody), &["--shards", "1"], 1);
    let mut second = Ringd::start_ntp(
        &conf("127.0.0.2", first.ntp_addrs[0]),
        &["--shards", "1"],
        1,
    );
    let path = first.file("chrony.conf");
    std::fs::write(
        path.with_extension("new"),
        conf("127.0.0.1", second.ntp_addrs[0]),
    )
    .unwrap();
    std::fs::rename(path.with_extension("new"), &path).unwrap();
    assert!(first.ringctl(&["reload"]).status.success());
    first.wait_for_line(
        "reload: 0 source line(s) kept, 1 removed, 1 added",
        Duration::from_secs(10),
    );

    // Eight answers each (a second at minpoll -3) are more than selection needs. Each
    // server logs a line per reply once its reports count it.
    let (first_addr, second_addr) = (first.ntp_addrs[0], second.ntp_addrs[0]);
    for (server, upstream) in [(&mut first, second_addr), (&mut second, first_addr)] {
        for _ in 0..8 {
            server.wait_for_line(
                &format!("reply from {upstream}: accepted"),
                Duration::from_secs(30),
            );
        }
    }
    for server in [&first, &second] {
        let (_, reply, _) = ntp_exchange(server.ntp_addrs[0]);
        assert_eq!(reply.leap, 0);
        assert_eq!(reply.stratum, 10, "an orphan keeps its stratum: {reply:?}");
        assert_eq!(reply.reference_id, ringd::ntp::packet::REFID_LOCAL);
        let sources = String::from_utf8(server.ringctl(&["sources"]).stdout).unwrap();
        assert!(
            !sources.contains("^*"),
            "the other orphan is not followed: {sources}"
        );
    }
    first.stop();
    second.stop();
}
