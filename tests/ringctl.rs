//! ringctl against a running ringd: each command over the real control socket.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{Ringd, TempDir};
use ringd::ntp::packet::{Header, NtpShort, NtpTimestamp, UnixTime, MODE_SERVER};
use ringd::sys::clock::realtime_now;

const WAIT: Duration = Duration::from_secs(20);
const NTP_CONF: &str =
    "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 10\nratelimit\n";

/// ringd serving NTP and anonymous FTP on ephemeral ports, its control socket in a directory
/// it has to create.
fn start() -> (Ringd, PathBuf) {
    let dir = TempDir::new("ringctl");
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("pub")).unwrap();
    let ntp = dir.write("chrony.conf", NTP_CONF);
    let ftp = dir.write(
        "vsftpd.conf",
        format!(
            "listen=YES\nlisten_address=127.0.0.1\nlisten_port=0\nanonymous_enable=YES\n\
             local_enable=NO\nanon_root={}\npasv_min_port=0\npasv_max_port=0\n{}",
            root.display(),
            common::SESSION_USER_CONF,
        ),
    );
    let socket = dir.join("run/ringd.sock");
    let mut command = Command::new(env!("CARGO_BIN_EXE_ringd"));
    command
        .arg("--ntp-conf")
        .arg(ntp)
        .arg("--ftp-conf")
        .arg(ftp)
        .args(["--shards", "2", "--control-socket"])
        .arg(&socket);
    let mut ringd = Ringd::spawn(command, dir, 2);
    let line = ringd.wait_for_line("control socket on", WAIT);
    assert!(line.contains(&socket.display().to_string()), "{line}");
    (ringd, socket)
}

fn ringctl(socket: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringctl"))
        .arg("-s")
        .arg(socket)
        .args(args)
        .output()
        .expect("ringctl runs")
}

/// Runs ringctl, asserts it succeeded, returns what it printed.
fn stdout(socket: &Path, args: &[&str]) -> String {
    let output = ringctl(socket, args);
    assert!(
        output.status.success(),
        "ringctl {args:?}: {:?}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn ntp_exchange(server: SocketAddr) {
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut request = [0u8; 48];
    request[0] = 0x23; // version 4, client mode
    client.send_to(&request, server).unwrap();
    let mut reply = [0u8; 64];
    let (len, _) = client.recv_from(&mut reply).unwrap();
    assert_eq!(len, 48);
}

/// Reads one FTP reply (all its lines) and returns its code.
fn ftp_reply(reader: &mut BufReader<TcpStream>) -> String {
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.len() >= 4, "short FTP reply line {line:?}");
        if line.as_bytes()[3] == b' ' {
            return line[..3].to_string();
        }
    }
}

fn ftp_command(reader: &mut BufReader<TcpStream>, command: &str) -> String {
    reader
        .get_mut()
        .write_all(format!("{command}\r\n").as_bytes())
        .unwrap();
    ftp_reply(reader)
}

/// The line of `ftp sessions` for the client at `local`.
fn session_line(socket: &Path, local: SocketAddr) -> String {
    let text = stdout(socket, &["ftp", "sessions"]);
    text.lines()
        .find(|line| line.split_whitespace().nth(1) == Some(local.to_string().as_str()))
        .unwrap_or_else(|| panic!("no session of {local} in:\n{text}"))
        .to_string()
}

#[test]
fn every_command_over_the_control_socket() {
    let (ringd, socket) = start();
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o660, "socket mode {mode:o}");

    for _ in 0..5 {
        ntp_exchange(ringd.ntp_addrs[0]);
    }
    let stats = stdout(&socket, &["serverstats"]);
    assert!(
        stats.starts_with("NTP packets received       : 5\nNTP packets dropped        : 0\n"),
        "{stats}"
    );
    assert!(
        stats.contains("\nNTP packets answered       : 5\n"),
        "{stats}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&socket, &["--json", "serverstats"])).unwrap();
    assert_eq!(json["ntp_packets_received"], 5);
    assert_eq!(json["ntp_dropped"]["denied"], 0);

    // `ratelimit` keeps a client log: the shards copy it out on request.
    let clients = stdout(&socket, &["clients"]);
    let row = clients
        .lines()
        .find(|line| line.starts_with("127.0.0.1 "))
        .unwrap_or_else(|| panic!("no 127.0.0.1 in:\n{clients}"));
    assert_eq!(row.split_whitespace().nth(1), Some("5"), "{row}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&socket, &["clients", "--json"])).unwrap();
    assert_eq!(json[0]["address"], "127.0.0.1");
    assert_eq!(json[0]["ntp_hits"], 5);

    // No `server` line: the local reference is served (`local stratum 10`), and tracking
    // says what the replies say, as chronyc does for chronyd.
    let tracking = stdout(&socket, &["tracking"]);
    assert!(
        tracking.starts_with("Reference ID    : 7F7F0101 ()\nStratum         : 10\n"),
        "{tracking}"
    );
    assert!(
        tracking.contains("\nSystem time     : 0.000000000 seconds fast of NTP time\n"),
        "{tracking}"
    );
    assert!(
        tracking.ends_with("Leap status     : Normal\n"),
        "{tracking}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&socket, &["--json", "tracking"])).unwrap();
    assert_eq!(json["leap_status"], "Normal");
    assert_eq!(json["stratum"], 10);
    assert_eq!(json["reference_id"], 0x7F7F_0101);
    assert_eq!(
        stdout(&socket, &["sources"]),
        format!(
            "MS Name/IP address         Stratum Poll Reach LastRx Last sample               \n{}\n",
            "=".repeat(79)
        )
    );
    assert!(stdout(&socket, &["sources", "-v"]).contains("Reachability register (octal)"));
    assert_eq!(stdout(&socket, &["sourcestats"]).lines().count(), 2);
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&socket, &["--json", "sources"])).unwrap();
    assert_eq!(json, serde_json::json!([]));

    let makestep = ringctl(&socket, &["makestep"]);
    assert_eq!(makestep.status.code(), Some(1));
    let error = String::from_utf8_lossy(&makestep.stderr);
    assert!(error.starts_with("makestep: "), "{error}");
    assert!(makestep.stdout.is_empty());

    // A second ringd given the same socket serves anyway and leaves the first one's alone.
    let dir = TempDir::new("ringctl-second");
    let conf = dir.write("chrony.conf", NTP_CONF);
    let mut command = Command::new(env!("CARGO_BIN_EXE_ringd"));
    command
        .arg("--ntp-conf")
        .arg(conf)
        .args(["--shards", "1", "--control-socket"])
        .arg(&socket);
    let mut second = Ringd::spawn(command, dir, 1);
    let warning = second.wait_for_line("another ringd", WAIT);
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains(&socket.display().to_string()), "{warning}");
    ntp_exchange(second.ntp_addrs[0]);
    second.stop();
    assert!(stdout(&socket, &["serverstats"]).starts_with("NTP packets received       : 5\n"));

    ringd.stop();
}

#[test]
fn ftp_sessions_show_clients_users_and_state() {
    let (ringd, socket) = start();
    let server = ringd.ftp_addrs[0];
    let mut alice = BufReader::new(TcpStream::connect(server).unwrap());
    assert_eq!(ftp_reply(&mut alice), "220");
    let mut bob = BufReader::new(TcpStream::connect(server).unwrap());
    assert_eq!(ftp_reply(&mut bob), "220");
    let alice_addr = alice.get_ref().local_addr().unwrap();
    let bob_addr = bob.get_ref().local_addr().unwrap();

    let before = session_line(&socket, alice_addr);
    assert_eq!(before.split_whitespace().nth(2), Some("-"), "{before}");
    assert!(before.ends_with("  idle"), "{before}");

    assert_eq!(ftp_command(&mut alice, "USER anonymous"), "331");
    assert_eq!(ftp_command(&mut alice, "PASS guest@example.org"), "230");
    // Anonymous sessions go by ftp_username, as in vsftpd's logs.
    let after = session_line(&socket, alice_addr);
    assert_eq!(
        after.split_whitespace().nth(2),
        Some(common::SESSION_USER),
        "{after}"
    );
    assert!(after.ends_with("  idle"), "{after}");
    let other = session_line(&socket, bob_addr);
    assert_eq!(other.split_whitespace().nth(2), Some("-"), "{other}");

    let json: serde_json::Value =
        serde_json::from_str(&stdout(&socket, &["--json", "ftp", "sessions"])).unwrap();
    let sessions = json.as_array().unwrap();
    let alice_json = sessions
        .iter()
        .find(|s| s["client"] == alice_addr.to_string())
        .unwrap();
    assert_eq!(alice_json["user"], common::SESSION_USER);
    assert_eq!(alice_json["state"], "idle");

    assert_eq!(ftp_command(&mut alice, "QUIT"), "221");
    drop(alice);
    drop(bob);
    ringd.stop();
}

#[test]
fn without_ringd_the_error_says_what_to_do() {
    let dir = TempDir::new("ringctl-absent");
    let socket = dir.join("ringd.sock");
    let output = ringctl(&socket, &["tracking"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "cannot connect to {}: No such file or directory (is ringd running? use -s to give \
             another socket)\n",
            socket.display()
        )
    );
}

/// ringctl run by `account` (its uid and primary group only, as a login without other groups).
fn ringctl_as(account: &common::TestAccount, socket: &Path, args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt;
    Command::new(env!("CARGO_BIN_EXE_ringctl"))
        .arg("-s")
        .arg(socket)
        .args(args)
        .uid(account.uid)
        .gid(account.gid)
        .output()
        .expect("ringctl runs")
}

#[test]
fn the_control_group_gets_chronycs_monitoring_reports_and_nothing_else() {
    if !common::running_as_root() {
        println!("skipped: needs root to make accounts and run ringctl as them");
        return;
    }
    let member = common::TestAccount::new("ctl", "/bin/sh");
    let outsider = common::TestAccount::new("ctl", "/bin/sh");
    // useradd gives each account a group of its own name: the member's is the control group.
    let ringd = Ringd::start_ntp(NTP_CONF, &["--control-group", &member.name], 1);
    let socket = ringd.file("ringd.sock");
    let on_disk = std::fs::metadata(&socket).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(on_disk.mode() & 0o777, 0o660);
    assert_eq!((on_disk.uid(), on_disk.gid()), (0, member.gid));

    for report in [
        &["tracking"][..],
        &["sources", "-v"],
        &["sourcestats"],
        &["activity"],
        &["-c", "tracking"],
    ] {
        let output = ringctl_as(&member, &socket, report);
        assert!(
            output.status.success(),
            "{report:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    for command in ["serverstats", "clients", "ntpdata", "reload", "cyclelogs"] {
        let output = ringctl_as(&member, &socket, &[command]);
        assert_eq!(output.status.code(), Some(1), "{command}");
        let refusal = String::from_utf8_lossy(&output.stderr);
        assert!(
            refusal.starts_with(&format!("`{command}` is for root and ringd's own user")),
            "{refusal}"
        );
    }
    // root may ask everything.
    assert!(stdout(&socket, &["reload"]).starts_with("200 OK"));
    assert!(stdout(&socket, &["serverstats"]).starts_with("NTP packets received"));

    // Outside the group the socket's mode keeps the caller out.
    let output = ringctl_as(&outsider, &socket, &["tracking"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("Permission denied"),
        "{output:?}"
    );
    ringd.stop();
}

#[test]
fn an_unknown_control_group_stops_ringd_at_start_saying_what_to_do() {
    let dir = TempDir::new("ringctl-group");
    let conf = dir.write("chrony.conf", NTP_CONF);
    let output = Command::new(env!("CARGO_BIN_EXE_ringd"))
        .arg("--ntp-conf")
        .arg(conf)
        .args(["--control-group", "no-such-group-ringd"])
        .arg("--control-socket")
        .arg(dir.join("ringd.sock"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains(
            "--control-group no-such-group-ringd: no such group in the group database; create it \
             (groupadd --system no-such-group-ringd) or name another"
        ),
        "{log}"
    );
}

/// A stratum-1 NTP server on loopback whose clock is `ahead` of the system clock by a fixed
/// amount; it answers until dropped.
struct ShiftedServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ShiftedServer {
    fn start(ahead: Duration) -> ShiftedServer {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let shifted_now = move || {
            let now = realtime_now().as_nanos() + ahead.as_nanos() as i128;
            NtpTimestamp::from_unix(UnixTime {
                secs: now.div_euclid(1_000_000_000) as i64,
                nanos: now.rem_euclid(1_000_000_000) as u32,
            })
        };
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut request = [0u8; 64];
            while !stopping.load(Ordering::Relaxed) && Instant::now() < deadline {
                let Ok((len, client)) = socket.recv_from(&mut request) else {
                    continue;
                };
                let Some(asked) = Header::parse(&request[..len]) else {
                    continue;
                };
                let receive = shifted_now();
                let reply = Header {
                    leap: 0,
                    version: 4,
                    mode: MODE_SERVER,
                    stratum: 1,
                    poll: asked.poll,
                    precision: -20,
                    root_delay: NtpShort(0),
                    root_dispersion: NtpShort::from_micros(10),
                    reference_id: u32::from_be_bytes(*b"GPS\0"),
                    reference: receive,
                    origin: asked.transmit,
                    receive,
                    transmit: shifted_now(),
                };
                let _ = socket.send_to(&reply.to_bytes(), client);
            }
        });
        ShiftedServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ShiftedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How well one loopback exchange measures the served clock against the system clock.
const MEASURING_ERROR: f64 = 0.001;

/// The served time minus the system clock, by one NTP exchange with the server at `server`.
fn served_minus_system(server: SocketAddr) -> f64 {
    let (t1, reply, t4) = common::ntp_exchange(server);
    (reply.receive.nanos_since(t1) + reply.transmit.nanos_since(t4)) as f64 / 2e9
}

/// The number in `System time     : 0.500012000 seconds slow of NTP time`, signed as the
/// JSON has it (positive: fast).
fn system_time(tracking: &str) -> f64 {
    let line = tracking
        .lines()
        .find(|line| line.starts_with("System time     : "))
        .unwrap_or_else(|| panic!("no System time in:\n{tracking}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let magnitude: f64 = words[3].parse().unwrap();
    match words[5] {
        "fast" => magnitude,
        "slow" => -magnitude,
        other => panic!("{other} in {line}"),
    }
}

#[test]
fn observing_a_server_half_a_second_ahead_shows_the_system_clock_slow() {
    let upstream = ShiftedServer::start(Duration::from_millis(500));
    let dead = UdpSocket::bind("127.0.0.1:0").unwrap();
    let conf = format!(
        "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 10\n\
         server 127.0.0.1 port {} iburst minpoll -3 maxpoll -3\n\
         server 127.0.0.2 port {} minpoll -3 maxpoll -3\n",
        upstream.addr.port(),
        dead.local_addr().unwrap().port(),
    );
    let mut ringd = Ringd::start_ntp(&conf, &["--shards", "1"], 1);
    ringd.wait_for_line("synchronised to 127.0.0.1", WAIT);
    let served = ringd.ntp_addrs[0];

    // The sample: the local clock (as served, still about 0.5 s behind) against the source,
    // the same sign in the text's column and in the JSON.
    let sources = String::from_utf8(ringd.ringctl(&["sources"]).stdout).unwrap();
    let row = sources
        .lines()
        .find(|line| line.starts_with("^* 127.0.0.1 "))
        .unwrap_or_else(|| panic!("no selected 127.0.0.1 in:\n{sources}"));
    let measured = row.split('[').nth(1).unwrap().split(']').next().unwrap();
    assert!(measured.trim().starts_with('-'), "{row}");
    assert!(measured.ends_with("ms"), "{row}");
    let json = ringd.ringctl_json(&["sources"]);
    assert!(
        json[0]["measured_offset"].as_f64().unwrap() < -0.3,
        "{json}"
    );

    // Observing, ringd slews the time it serves towards the upstream's and leaves the system
    // clock behind: chronyc's "System time" is that distance, slow. It grows while the slew
    // goes on, so each reading must lie between the served clock's offsets measured just
    // before and just after it.
    let deadline = Instant::now() + WAIT;
    while served_minus_system(served) < 0.01 {
        assert!(
            Instant::now() < deadline,
            "the served time never moved ahead"
        );
    }
    let before = served_minus_system(served);
    let tracking = String::from_utf8(ringd.ringctl(&["tracking"]).stdout).unwrap();
    let after = served_minus_system(served);
    assert!(
        tracking.starts_with("Reference ID    : 7F000001 (127.0.0.1)\nStratum         : 2\n"),
        "{tracking}"
    );
    let slow = -system_time(&tracking);
    assert!(
        before - MEASURING_ERROR <= slow && slow <= after + MEASURING_ERROR,
        "{before} <= {slow} <= {after}:\n{tracking}"
    );
    let before = served_minus_system(served);
    let json = ringd.ringctl_json(&["tracking"]);
    let after = served_minus_system(served);
    let slow = -json["system_time_offset"].as_f64().unwrap();
    assert!(
        before - MEASURING_ERROR <= slow && slow <= after + MEASURING_ERROR,
        "{before} <= {slow} <= {after}: {json}"
    );

    // The second source never answers: chronyc's sample-less line.
    let silent = sources
        .lines()
        .find(|line| line.starts_with("^? 127.0.0.2 "))
        .unwrap_or_else(|| panic!("no 127.0.0.2 in:\n{sources}"));
    assert!(
        silent.ends_with("  0  -3     0     -     +0ns[   +0ns] +/-    0ns"),
        "{silent}"
    );
    let stats = String::from_utf8(ringd.ringctl(&["sourcestats"]).stdout).unwrap();
    let silent = stats
        .lines()
        .find(|line| line.starts_with("127.0.0.2 "))
        .unwrap_or_else(|| panic!("no 127.0.0.2 in:\n{stats}"));
    assert!(
        silent.ends_with("0   0     0     +0.000   2000.000     +0ns  4000ms"),
        "{silent}"
    );
    ringd.stop();
}
