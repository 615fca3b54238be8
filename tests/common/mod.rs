//! Shared test support: start a real ringd on ephemeral ports, read its start-up lines, stop it.
#![allow(dead_code)]

pub mod ftp_client;
pub mod ntp_fixtures;

use std::io::Write as _;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use ringd::sys::test_dirs::TempDir;

/// The account FTP sessions act as in these tests when ringd runs as root (`ftp_username` and
/// `guest_username` name it): `nobody`, which every Linux system has.
pub const SESSION_USER: &str = "nobody";
/// The `ftp_username`/`guest_username` lines every FTP test configuration carries.
pub const SESSION_USER_CONF: &str = "ftp_username=nobody\nguest_username=nobody\n";

/// Whether the tests run as root (CI does): the effective uid in /proc/self/status.
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("Uid:"))
                .map(|line| line.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// When the tests run as root, ringd's sessions act as [`SESSION_USER`], and the kernel checks
/// their rights: give it `path` and everything below, as an admin makes an upload directory
/// the FTP user's. Without root, sessions act as the test's own user, who owns it already.
pub fn give_to_session_user(path: &std::path::Path) {
    if !running_as_root() {
        return;
    }
    let status = Command::new("chown")
        .arg("-R")
        .arg(format!("{SESSION_USER}:"))
        .arg(path)
        .status()
        .expect("chown runs");
    assert!(
        status.success(),
        "chown -R {SESSION_USER} {}",
        path.display()
    );
}

const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ftp/client.py");

/// Runs `scenario` of tests/ftp/client.py (python3's ftplib) against `addr`; panics with
/// its output when it fails, else returns what it printed.
pub fn run_client(scenario: &str, addr: std::net::SocketAddr, args: &[&str]) -> String {
    let output = Command::new("python3")
        .arg(CLIENT)
        .arg(scenario)
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .args(args)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{scenario} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A ringd process started by a test.
pub struct Ringd {
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
    pub log: Vec<String>,
    /// Where [`Ringd::wait_for_line`] starts looking in `log`: lines read while starting are
    /// still there to be waited for.
    unread: usize,
    pub ntp_addrs: Vec<SocketAddr>,
    /// Where its NTS-KE server listens (none without `ntsserverkey`).
    pub nts_ke_addrs: Vec<SocketAddr>,
    pub ftp_addrs: Vec<SocketAddr>,
    /// The `--metrics-listen` endpoint's address, if it was asked for.
    pub metrics_addr: Option<SocketAddr>,
    /// The `--control-socket` it was started with, for [`Ringd::ringctl_json`].
    control_socket: Option<PathBuf>,
    dir: TempDir,
}

const START_DEADLINE: Duration = Duration::from_secs(20);

/// ringd's log filter in tests: the sync service's line per upstream reply ("reply from
/// ADDRESS: accepted", "...: rejected, REASON") is what tests wait for before they read a
/// report; a few lines a second at most.
const RINGD_LOG: &str = "info,ringd::sync_service=debug";

impl Ringd {
    /// Starts `ringd --ntp-conf <conf>` plus `args`, and waits until it reports serving on
    /// `listeners` addresses. Its control socket is in its temporary directory (never in
    /// /run/ringd), as for [`Ringd::start_ftp`].
    pub fn start_ntp(conf: &str, args: &[&str], listeners: usize) -> Ringd {
        let dir = TempDir::new("ntp");
        let path = dir.write("chrony.conf", conf);
        let mut command = Command::new(env!("CARGO_BIN_EXE_ringd"));
        command.arg("--ntp-conf").arg(&path).args(args);
        command.arg("--control-socket").arg(dir.join("ringd.sock"));
        Ringd::spawn(command, dir, listeners)
    }

    /// Starts `ringd --ftp-conf <conf>` (which may name files in `dir`) plus `args`, and waits
    /// until it reports serving FTP on `listeners` addresses.
    pub fn start_ftp(dir: TempDir, conf: &str, args: &[&str], listeners: usize) -> Ringd {
        let path = dir.write("vsftpd.conf", conf);
        let mut command = Command::new(env!("CARGO_BIN_EXE_ringd"));
        command.arg("--ftp-conf").arg(&path).args(args);
        command.arg("--control-socket").arg(dir.join("ringd.sock"));
        Ringd::spawn(command, dir, listeners)
    }

    pub fn spawn(mut command: Command, dir: TempDir, listeners: usize) -> Ringd {
        let control_socket = command
            .get_args()
            .skip_while(|arg| *arg != "--control-socket")
            .nth(1)
            .map(PathBuf::from);
        let mut child = command
            .env("RUST_LOG", RINGD_LOG)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ringd starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut ringd = Ringd {
            child: Some(child),
            lines: rx,
            log: Vec::new(),
            unread: 0,
            ntp_addrs: Vec::new(),
            nts_ke_addrs: Vec::new(),
            ftp_addrs: Vec::new(),
            metrics_addr: None,
            control_socket,
            dir,
        };
        // Listening comes before the main thread gives up its rights: tests that look at
        // them, or at anything else set up at start, need all of it done. The ready line says
        // where each service listens.
        let ready = ringd.wait_for_line("ready: every service listens", START_DEADLINE);
        ringd.ntp_addrs = listen_addresses(&ready, "ntp");
        ringd.nts_ke_addrs = listen_addresses(&ready, "nts-ke");
        ringd.ftp_addrs = listen_addresses(&ready, "ftp");
        ringd.metrics_addr = listen_addresses(&ready, "metrics").first().copied();
        assert_eq!(
            ringd.ntp_addrs.len() + ringd.ftp_addrs.len(),
            listeners,
            "listening addresses on the ready line: {ready}"
        );
        ringd.unread = 0;
        ringd
    }

    fn next_line(&mut self, deadline: Instant) -> Option<String> {
        let wait = deadline.saturating_duration_since(Instant::now());
        let line = self.lines.recv_timeout(wait).ok()?;
        self.log.push(line.clone());
        Some(line)
    }

    /// Waits for a log line containing `needle`, after the line the last wait returned, and
    /// returns it.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        if let Some(at) = self.log[self.unread..]
            .iter()
            .position(|line| line.contains(needle))
        {
            self.unread += at + 1;
            return self.log[self.unread - 1].clone();
        }
        self.unread = self.log.len();
        let deadline = Instant::now() + timeout;
        loop {
            match self.next_line(deadline) {
                Some(line) if line.contains(needle) => {
                    self.unread = self.log.len();
                    return line;
                }
                Some(_) => {}
                None => panic!(
                    "no log line with `{needle}` within {timeout:?}; log:\n{}",
                    self.log.join("\n")
                ),
            }
        }
    }

    /// Waits until a log line containing each of `needles` has come, in any order, after the
    /// line the last wait returned.
    pub fn wait_for_lines(&mut self, needles: &[&str], timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let seen = |needle: &&str| {
                self.log[self.unread..]
                    .iter()
                    .position(|line| line.contains(needle))
            };
            let found: Option<Vec<usize>> = needles.iter().map(seen).collect();
            if let Some(found) = found {
                self.unread += found.into_iter().max().map_or(0, |at| at + 1);
                return;
            }
            if self.next_line(deadline).is_none() {
                panic!(
                    "no log lines with all of {needles:?} within {timeout:?}; log:\n{}",
                    self.log.join("\n")
                );
            }
        }
    }

    /// Runs `ringctl <args>` against this ringd.
    pub fn ringctl(&self, args: &[&str]) -> Output {
        let socket = self
            .control_socket
            .as_ref()
            .expect("ringd started with --control-socket");
        Command::new(env!("CARGO_BIN_EXE_ringctl"))
            .arg("--socket")
            .arg(socket)
            .args(args)
            .output()
            .expect("ringctl runs")
    }

    /// What `ringctl --json <args>` reports from this ringd.
    pub fn ringctl_json(&self, args: &[&str]) -> serde_json::Value {
        let output = self.ringctl(&[&["--json"], args].concat());
        assert!(
            output.status.success(),
            "ringctl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("ringctl --json prints JSON")
    }

    /// `name` in ringd's temporary directory, where its configuration files are.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// One NTP counter of `serverstats` (ringctl's JSON key), summed over the shards, or of
    /// one shard.
    pub fn ntp_counter(&self, shard: Option<usize>, key: &str) -> u64 {
        let stats = self.ringctl_json(&["serverstats"]);
        let scope = match shard {
            Some(shard) => &stats["shards"][shard],
            None => &stats,
        };
        let value = key
            .split('.')
            .fold(scope, |value, part| &value[part])
            .as_u64();
        value.unwrap_or_else(|| panic!("no {key} in serverstats: {stats}"))
    }

    /// How many of ringd's open descriptors refer to `path`.
    pub fn descriptors_of(&self, path: &std::path::Path) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
            .filter(|target| target == path)
            .count()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends SIGTERM, waits for the exit, asserts it was clean, and returns the whole log.
    pub fn stop(mut self) -> Vec<String> {
        let mut child = self.child.take().unwrap();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = child.wait().unwrap();
        while let Some(line) = self.next_line(Instant::now() + Duration::from_secs(5)) {
            let _ = line;
        }
        assert!(
            exit.success(),
            "ringd exits 0 on SIGTERM, got {exit:?}; log:\n{}",
            self.log.join("\n")
        );
        std::mem::take(&mut self.log)
    }
}

impl Drop for Ringd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The addresses after `service=` on ringd's ready line (`none` when it does not serve it).
fn listen_addresses(ready: &str, service: &str) -> Vec<SocketAddr> {
    let key = format!(" {service}=");
    let at = ready
        .find(&key)
        .unwrap_or_else(|| panic!("no {key} on the ready line: {ready}"));
    let list = ready[at + key.len()..].split_whitespace().next().unwrap();
    if list == "none" {
        return Vec::new();
    }
    list.split(',').map(|addr| addr.parse().unwrap()).collect()
}

/// Long enough for a loaded machine; a read of /dev/zero or a blocked FIFO open never ends.
const EXIT_DEADLINE: Duration = Duration::from_secs(30);

/// Runs ringd with `args` and `stdin` as its input, killed and failed if it has not exited by
/// the deadline.
pub fn run_to_exit(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ringd"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ringd starts");
    // ringd may refuse before it reads its input: a closed pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(EXIT_DEADLINE) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("ringd {args:?} still running after {EXIT_DEADLINE:?}");
        }
    }
}

/// A system account made for a test with `useradd` and `chpasswd`, removed (with its home)
/// when dropped, also when the test fails.
pub struct TestAccount {
    pub name: String,
    pub password: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

impl TestAccount {
    /// A new account `ringd` + `tag` + a counter, with a home and `shell`. Root only.
    pub fn new(tag: &str, shell: &str) -> TestAccount {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "rt{tag}{}{}",
            std::process::id() % 10_000,
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let status = Command::new("useradd")
            .args(["--create-home", "--shell", shell, &name])
            .status()
            .expect("useradd runs");
        assert!(status.success(), "useradd {name}");
        let password = format!("pw-{name}-secret");
        let mut chpasswd = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .expect("chpasswd runs");
        use std::io::Write;
        writeln!(chpasswd.stdin.take().unwrap(), "{name}:{password}").unwrap();
        assert!(chpasswd.wait().unwrap().success(), "chpasswd {name}");
        let id = |flag: &str| -> u32 {
            let out = Command::new("id").args([flag, &name]).output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        let home = PathBuf::from(
            String::from_utf8_lossy(
                &Command::new("getent")
                    .args(["passwd", &name])
                    .output()
                    .unwrap()
                    .stdout,
            )
            .trim()
            .split(':')
            .nth(5)
            .unwrap()
            .to_owned(),
        );
        TestAccount {
            uid: id("-u"),
            gid: id("-g"),
            home,
            name,
            password,
        }
    }
}

impl Drop for TestAccount {
    fn drop(&mut self) {
        let _ = Command::new("userdel")
            .args(["--remove", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// A PAM service file `/etc/pam.d/NAME` for a test (pam_unix for authentication and the
/// account), removed when dropped.
pub struct PamService {
    pub name: String,
}

impl PamService {
    pub fn new(lines: &str) -> PamService {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "ringd-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        std::fs::write(format!("/etc/pam.d/{name}"), lines).unwrap();
        PamService { name }
    }

    /// pam_unix alone, as the tests ask.
    pub fn unix() -> PamService {
        PamService::new("auth required pam_unix.so\naccount required pam_unix.so\n")
    }
}

impl Drop for PamService {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/etc/pam.d/{}", self.name));
    }
}

/// One NTPv4 client exchange with `server` over loopback: the request's transmit time (T1), the
/// reply, and when it arrived (T4), both read from the system clock.
pub fn ntp_exchange(
    server: SocketAddr,
) -> (
    ringd::ntp::packet::NtpTimestamp,
    ringd::ntp::packet::Header,
    ringd::ntp::packet::NtpTimestamp,
) {
    use ringd::ntp::packet::{Header, NtpTimestamp, MODE_CLIENT};
    use ringd::sys::clock::realtime_now;
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let t1 = NtpTimestamp::from_unix(realtime_now());
    let request = Header {
        version: 4,
        mode: MODE_CLIENT,
        transmit: t1,
        ..Header::default()
    };
    socket.send_to(&request.to_bytes(), server).unwrap();
    let mut buf = [0u8; 64];
    let (len, _) = socket.recv_from(&mut buf).expect("a reply");
    let t4 = NtpTimestamp::from_unix(realtime_now());
    (t1, Header::parse(&buf[..len]).unwrap(), t4)
}
