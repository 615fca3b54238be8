//! ringd's NTP server over real UDP sockets on ephemeral ports, with both I/O backends.

mod common;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use common::{run_to_exit, Ringd, TempDir};
use ringd::ntp::packet::{Header, NtpTimestamp, UnixTime, MODE_CLIENT, MODE_SERVER, REFID_LOCAL};
use ringd::shard::ntp::steering::shard_for;

const LOCAL_CONF: &str = "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 10\n";

fn now() -> UnixTime {
    UnixTime::from_system_time(std::time::SystemTime::now())
}

fn client(ip: &str) -> UdpSocket {
    let socket = UdpSocket::bind((ip.parse::<IpAddr>().unwrap(), 0)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket
}

fn request(version: u8, mode: u8, transmit: NtpTimestamp) -> [u8; 48] {
    Header {
        version,
        mode,
        poll: 4,
        transmit,
        ..Header::default()
    }
    .to_bytes()
}

/// Sends one client request and returns (T1, reply header, T4).
fn query(
    socket: &UdpSocket,
    server: SocketAddr,
    version: u8,
) -> (NtpTimestamp, Header, NtpTimestamp) {
    let t1 = NtpTimestamp::from_unix(now());
    socket
        .send_to(&request(version, MODE_CLIENT, t1), server)
        .unwrap();
    let mut buf = [0u8; 1024];
    let (len, from) = socket.recv_from(&mut buf).expect("a reply within 5 s");
    let t4 = NtpTimestamp::from_unix(now());
    assert_eq!(from, server);
    assert_eq!(
        len, 48,
        "a reply is the bare header, never longer than the request"
    );
    (t1, Header::parse(&buf[..len]).unwrap(), t4)
}

fn check_reply(t1: NtpTimestamp, reply: &Header, t4: NtpTimestamp, version: u8) {
    assert_eq!(reply.mode, MODE_SERVER);
    assert_eq!(reply.version, version);
    assert_eq!(reply.leap, 0);
    assert_eq!(reply.stratum, 10);
    assert_eq!(reply.reference_id, REFID_LOCAL);
    assert_eq!(reply.origin, t1, "origin echoes the request's transmit");
    assert!(reply.transmit.nanos_since(reply.receive) >= 0, "T2 <= T3");
    assert!(
        reply.receive.nanos_since(t1) > -1_000_000,
        "T2 after T1 (same clock)"
    );
    assert!(t4.nanos_since(reply.transmit) > -1_000_000, "T3 before T4");
    assert!(
        reply.reference.nanos_since(reply.transmit) < 0,
        "reference time before T3"
    );
    // On one clock the true offset is 0, which must lie within half the round-trip delay of
    // the measured one (NTP's own error bound), however loaded the machine is.
    let offset = (reply.receive.nanos_since(t1) + reply.transmit.nanos_since(t4)) / 2;
    let delay = t4.nanos_since(t1) - reply.transmit.nanos_since(reply.receive);
    assert!(
        offset.abs() <= delay / 2 + 1_000,
        "offset {offset} ns outside ±{} ns",
        delay / 2
    );
    assert!(reply.precision < -10 && reply.precision >= -30);
}

fn serves_valid_replies(io: &str) {
    let ringd = Ringd::start_ntp(LOCAL_CONF, &["--shards", "2", "--io", io], 1);
    let server = ringd.ntp_addrs[0];
    let backend_named = ringd.log.iter().any(|l| {
        l.contains("NTP serving on")
            && l.contains(if io == "uring" {
                "io_uring backend"
            } else {
                "recvmmsg/sendmmsg backend"
            })
    });
    assert!(
        backend_named,
        "start-up line names the backend:\n{}",
        ringd.log.join("\n")
    );
    let socket = client("127.0.0.1");
    for version in [1, 2, 3, 4, 4, 4] {
        let (t1, reply, t4) = query(&socket, server, version);
        check_reply(t1, &reply, t4, version);
    }
    assert_eq!(ringd.ntp_counter(None, "ntp_packets_answered"), 6);
    assert_eq!(
        ringd.ntp_counter(None, "ntp_daemon_rx_timestamps"),
        0,
        "kernel RX timestamps used"
    );
    ringd.stop();
}

#[test]
fn io_uring_backend_serves_valid_replies() {
    serves_valid_replies("uring");
}

#[test]
fn mmsg_backend_serves_valid_replies() {
    serves_valid_replies("mmsg");
}

/// Every client lands on the shard the steering program predicts, and both shards work.
fn shards_follow_the_source_address(io: &str) {
    let ringd = Ringd::start_ntp(LOCAL_CONF, &["--shards", "2", "--io", io], 1);
    let server = ringd.ntp_addrs[0];
    let mut expected = [0u64; 2];
    for n in 0..40u8 {
        let ip = format!("127.0.1.{}", n + 10);
        expected[shard_for(ip.parse().unwrap(), 2) as usize] += 1;
        let (t1, reply, t4) = query(&client(&ip), server, 4);
        check_reply(t1, &reply, t4, 4);
    }
    assert!(expected[0] > 0 && expected[1] > 0);
    assert_eq!(
        ringd.ntp_counter(Some(0), "ntp_packets_answered"),
        expected[0]
    );
    assert_eq!(
        ringd.ntp_counter(Some(1), "ntp_packets_answered"),
        expected[1]
    );
    ringd.stop();
}

#[test]
fn io_uring_shards_follow_the_source_address() {
    shards_follow_the_source_address("uring");
}

#[test]
fn mmsg_shards_follow_the_source_address() {
    shards_follow_the_source_address("mmsg");
}

/// A burst sent at once is answered whole, whether the shard wakes per request or gathers
/// requests for a long interval (what arrives while it sleeps is all taken at the next look).
fn a_burst_is_answered_whole(io: &str, wake_interval_us: &str) {
    const BURST: u64 = 500;
    let ringd = Ringd::start_ntp(
        LOCAL_CONF,
        &[
            "--shards",
            "1",
            "--io",
            io,
            "--ntp-wake-interval",
            wake_interval_us,
        ],
        1,
    );
    let server = ringd.ntp_addrs[0];
    let socket = client("127.0.0.1");
    socket2::SockRef::from(&socket)
        .set_recv_buffer_size(4 << 20)
        .unwrap();
    let first = NtpTimestamp::from_unix(now());
    for n in 0..BURST {
        let transmit = NtpTimestamp(first.0 + n);
        socket
            .send_to(&request(4, MODE_CLIENT, transmit), server)
            .unwrap();
    }
    let mut answered = vec![false; BURST as usize];
    let mut buf = [0u8; 1024];
    for _ in 0..BURST {
        let (len, _) = socket.recv_from(&mut buf).expect("a reply within 5 s");
        let reply = Header::parse(&buf[..len]).unwrap();
        let n = reply.origin.0.wrapping_sub(first.0);
        assert!(n < BURST, "origin echoes one of the requests");
        assert!(reply.transmit.nanos_since(reply.receive) >= 0, "T2 <= T3");
        answered[n as usize] = true;
    }
    assert!(answered.iter().all(|&a| a));
    assert_eq!(ringd.ntp_counter(None, "ntp_packets_answered"), BURST);
    ringd.stop();
}

#[test]
fn io_uring_answers_a_burst_whole_at_any_wake_interval() {
    a_burst_is_answered_whole("uring", "0");
    a_burst_is_answered_whole("uring", "10000");
}

#[test]
fn mmsg_answers_a_burst_whole_at_any_wake_interval() {
    a_burst_is_answered_whole("mmsg", "0");
    a_burst_is_answered_whole("mmsg", "10000");
}

#[test]
fn rate_limit_holds_across_source_ports() {
    let conf = format!("{LOCAL_CONF}ratelimit interval 10 burst 4 leak 4 kod 1\n");
    let ringd = Ringd::start_ntp(&conf, &["--shards", "2"], 1);
    let server = ringd.ntp_addrs[0];
    let flooder = "127.0.2.77";
    let shard = shard_for(flooder.parse().unwrap(), 2);
    // Eight source ports, eight requests each: one client address, one bucket of 4.
    let sockets: Vec<UdpSocket> = (0..8).map(|_| client(flooder)).collect();
    for socket in &sockets {
        for _ in 0..8 {
            let t1 = NtpTimestamp::from_unix(now());
            socket
                .send_to(&request(4, MODE_CLIENT, t1), server)
                .unwrap();
        }
    }
    // A request from another address steered to the same shard is queued behind the flood on
    // the same socket: its reply means the flood has been handled.
    let marker_ip = (1..250)
        .map(|n| format!("127.0.3.{n}"))
        .find(|ip| shard_for(ip.parse().unwrap(), 2) == shard)
        .unwrap();
    let (_, marker_reply, _) = query(&client(&marker_ip), server, 4);
    assert_eq!(
        marker_reply.poll, 10,
        "poll raised to the rate-limit interval"
    );

    let this = shard as usize;
    let other = 1 - this;
    assert_eq!(
        ringd.ntp_counter(Some(this), "ntp_packets_received"),
        65,
        "the whole flood reached one shard"
    );
    assert_eq!(ringd.ntp_counter(Some(other), "ntp_packets_received"), 0);
    let answered = ringd.ntp_counter(Some(this), "ntp_packets_answered");
    let limited = ringd.ntp_counter(Some(this), "ntp_rate_limited");
    assert!(answered >= 5, "burst of 4 plus the marker");
    assert!(
        answered <= 5 + 16,
        "only leaks beyond the burst, got {answered}"
    );
    assert_eq!(answered + limited, 65);
    assert_eq!(
        limited,
        ringd.ntp_counter(Some(this), "ntp_kod_rate_sent")
            + ringd.ntp_counter(Some(this), "ntp_dropped.rate_limited")
    );
    assert!(
        ringd.ntp_counter(Some(this), "ntp_kod_rate_sent") > 0,
        "kod 1 sends some KoD RATE"
    );
    ringd.stop();
}

/// `request` followed by `trailer`.
fn with_trailer(request: [u8; 48], trailer: &[u8]) -> Vec<u8> {
    [&request[..], trailer].concat()
}

#[test]
fn malformed_and_denied_requests_are_dropped_and_counted() {
    let conf = "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 10\n";
    let ringd = Ringd::start_ntp(conf, &["--shards", "1"], 1);
    let server = ringd.ntp_addrs[0];
    let socket = client("127.0.0.1");
    let t = NtpTimestamp(0x1234);
    let plain = request(4, MODE_CLIENT, t);
    let mac = [&7u32.to_be_bytes()[..], &[0x5A; 20]].concat();
    let dropped: [(&str, Vec<u8>); 14] = [
        ("too_short", vec![0x23; 20]),
        ("control_mode", request(2, 6, t).to_vec()),
        ("control_mode", request(2, 7, t).to_vec()),
        ("bad_version", request(0, MODE_CLIENT, t).to_vec()),
        ("bad_version", request(5, MODE_CLIENT, t).to_vec()),
        ("not_client_mode", request(4, MODE_SERVER, t).to_vec()),
        ("not_client_mode", request(2, 0, t).to_vec()),
        ("bad_length", with_trailer(plain, &[0; 2])),
        // 16 bytes at the end are too short for a MAC and too near the end for a field.
        (
            "bad_extension",
            with_trailer(
                plain,
                &[0, 4, 0, 16, 0xAA, 0xBB, 0xCC, 0xDD, 0, 0, 0, 0, 0, 0, 0, 0],
            ),
        ),
        ("too_long", with_trailer(plain, &[0; 1100])),
        ("auth_failed", with_trailer(plain, &mac)),
        ("auth_failed", with_trailer(plain, &[0; 4])),
        (
            "auth_failed",
            with_trailer(request(3, MODE_CLIENT, t), &mac),
        ),
        (
            "auth_failed",
            with_trailer(request(2, MODE_CLIENT, t), &[0; 16]),
        ),
    ];
    for (_, datagram) in &dropped {
        socket.send_to(datagram, server).unwrap();
    }
    client("127.0.0.2").send_to(&plain, server).unwrap();
    let mut unknown_field = [0u8; 28];
    unknown_field[..4].copy_from_slice(&[0x20, 0x00, 0, 28]);
    let answered = with_trailer(
        request(4, MODE_CLIENT, NtpTimestamp(0x5678)),
        &unknown_field,
    );
    socket.send_to(&answered, server).unwrap();
    let mut buf = [0u8; 1200];
    let (len, _) = socket.recv_from(&mut buf).unwrap();
    assert_eq!(len, 48);
    assert_eq!(
        Header::parse(&buf).unwrap().origin,
        NtpTimestamp(0x5678),
        "the first reply is to the only valid allowed request"
    );
    assert_eq!(
        ringd.ntp_counter(None, "ntp_packets_received"),
        dropped.len() as u64 + 2
    );
    assert_eq!(ringd.ntp_counter(None, "ntp_packets_answered"), 1);
    assert_eq!(ringd.ntp_counter(None, "ntp_dropped.denied"), 1);
    for reason in [
        "too_short",
        "control_mode",
        "bad_version",
        "not_client_mode",
        "bad_length",
        "bad_extension",
        "too_long",
        "auth_failed",
    ] {
        let expected = dropped.iter().filter(|(r, _)| *r == reason).count() as u64;
        assert_eq!(
            ringd.ntp_counter(None, &format!("ntp_dropped.{reason}")),
            expected,
            "{reason}"
        );
    }
    ringd.stop();
}

#[test]
fn symmetric_active_and_ntpv1_requests_are_answered_as_chronyd_does() {
    let conf = "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 10\n";
    let ringd = Ringd::start_ntp(conf, &["--shards", "1"], 1);
    let server = ringd.ntp_addrs[0];
    let socket = client("127.0.0.1");
    let mut buf = [0u8; 1200];
    for (version, mode, reply_mode) in [(4, 1, 2), (1, 0, MODE_SERVER)] {
        let mut sent = request(version, mode, NtpTimestamp(0x9ABC));
        sent[2] = (-128i8) as u8;
        socket.send_to(&sent, server).unwrap();
        let (len, _) = socket.recv_from(&mut buf).expect("a reply within 5 s");
        assert_eq!(len, 48);
        let reply = Header::parse(&buf).unwrap();
        assert_eq!((reply.version, reply.mode), (version, reply_mode));
        assert_eq!(reply.origin, NtpTimestamp(0x9ABC));
        assert_eq!(reply.stratum, 10);
        assert_eq!(reply.poll, -19, "a poll of -128 raised to chronyd's least");
        assert_eq!(reply.receive.0 & 1, 1, "T2 marked as chronyd marks it");
        assert_eq!(reply.transmit.0 & 1, 0);
    }
    assert_eq!(ringd.ntp_counter(None, "ntp_packets_answered"), 2);
    ringd.stop();
}

#[test]
fn serves_ipv6_and_ipv4_side_by_side() {
    let conf = "port 0\nbindaddress 127.0.0.1\nbindaddress ::1\nallow 127.0.0.0/8\nallow ::1\nlocal stratum 10\n";
    let ringd = Ringd::start_ntp(conf, &["--shards", "2"], 2);
    let v6 = ringd
        .ntp_addrs
        .iter()
        .find(|a| a.is_ipv6())
        .copied()
        .unwrap();
    let v4 = ringd
        .ntp_addrs
        .iter()
        .find(|a| a.is_ipv4())
        .copied()
        .unwrap();
    let (t1, reply, t4) = query(&client("::1"), v6, 4);
    check_reply(t1, &reply, t4, 4);
    let (t1, reply, t4) = query(&client("127.0.0.1"), v4, 4);
    check_reply(t1, &reply, t4, 4);
    assert_eq!(ringd.ntp_counter(None, "ntp_packets_answered"), 2);
    ringd.stop();
}

#[test]
fn without_local_stratum_the_kernel_state_is_served() {
    let conf = "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\ndumpdir /var/lib/chrony\n";
    let ringd = Ringd::start_ntp(conf, &["--shards", "1"], 1);
    assert!(
        ringd
            .log
            .iter()
            .any(|l| l.contains("no `server` or `pool` line")),
        "the start-up log says what is served instead:\n{}",
        ringd.log.join("\n")
    );
    let (t1, reply, _) = query(&client("127.0.0.1"), ringd.ntp_addrs[0], 4);
    assert_eq!(reply.origin, t1);
    let kernel = ringd::sys::clock::read_kernel_ntp_state().unwrap();
    if kernel.unsynchronised() {
        assert_eq!((reply.leap, reply.stratum), (3, 0));
    } else {
        assert_eq!(reply.stratum, ringd::ntp::served_clock::KERNEL_SYNC_STRATUM);
        assert_ne!(reply.leap, 3);
    }
    ringd.stop();
}

#[test]
fn local_only_mode_reads_the_leap_seconds_list_and_reports_its_expiry() {
    let dir = TempDir::new("ntp-leap-list");
    // 2017-01-01 (NTP 3692217600) was the last leap; the list expired on 2017-06-28.
    let list = dir.write(
        "leap-seconds.list",
        "#@\t3707596800\n3644697600\t36\n3692217600\t37\n",
    );
    let conf = format!(
        "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 10\nleapseclist {}\n",
        list.display()
    );
    let ringd = Ringd::start_ntp(&conf, &["--shards", "1"], 1);
    let log = ringd.log.join("\n");
    assert!(
        log.contains(&format!("leap seconds known from {}: 1", list.display())),
        "{log}"
    );
    assert!(
        log.contains("Leap second list needs update: it expired on 2017-06-28"),
        "{log}"
    );
    let (_, reply, _) = query(&client("127.0.0.1"), ringd.ntp_addrs[0], 4);
    assert_eq!(
        (reply.leap, reply.stratum),
        (0, 10),
        "today is not a leap day"
    );
    ringd.stop();
}

/// Output of a ringd that serves NTP on 127.0.0.1:`port` and must refuse to start.
fn refused_start_on(port: u16) -> String {
    let dir = TempDir::new("ntp-port-held");
    let conf = dir.write(
        "chrony.conf",
        format!("port {port}\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 10\n"),
    );
    let socket = dir.join("ringd.sock");
    let output = run_to_exit(
        &[
            "--ntp-conf",
            conf.to_str().unwrap(),
            "--control-socket",
            socket.to_str().unwrap(),
        ],
        b"",
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "exits non-zero:\n{stderr}");
    stderr
}

/// SO_REUSEPORT would let a second ringd share the first one's port and take half of its
/// clients; it must refuse instead, and say who holds the port.
#[test]
fn a_port_held_by_another_process_is_an_error_naming_the_holder() {
    let first = Ringd::start_ntp(LOCAL_CONF, &["--shards", "2"], 1);
    let port = first.ntp_addrs[0].port();
    let stderr = refused_start_on(port);
    assert!(
        stderr.contains(&format!(
            "cannot listen for NTP on 127.0.0.1:{port}: the port is in use by ringd (pid {})",
            first.pid()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("choose another port with `port`"),
        "{stderr}"
    );
    let (t1, reply, t4) = query(&client("127.0.0.1"), first.ntp_addrs[0], 4);
    check_reply(t1, &reply, t4, 4);
    first.stop();

    // A server that is not ringd (here: this test) holding the port without SO_REUSEPORT.
    let held = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let stderr = refused_start_on(port);
    assert!(
        stderr.contains(&format!("(pid {})", std::process::id())),
        "{stderr}"
    );
}
