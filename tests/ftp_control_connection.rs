//! ringd's FTP control connection under hostile clients: trickled bytes against the idle
//! timeout, an urgent ABOR split across reads, commands sent during a transfer, and
//! strangers on the passive data port.
//! Raw sockets on loopback, so every byte and its timing is the test's own.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Ringd, TempDir};

/// How long a reply may take when nothing makes it wait.
const PROMPT: Duration = Duration::from_secs(5);
/// Bytes of a download that cannot finish during the test at `anon_max_rate=1000000`.
const LARGE_FILE: u64 = 32 << 20;
/// Bytes of a download that takes 1.5 s at `anon_max_rate=1000000`.
const MEDIUM_FILE: u64 = 1_500_000;
const SMALL_FILE: &[u8] = b"hello, world\n";

/// Starts an anonymous server on 127.0.0.1 whose root holds `small.txt`, `medium.bin` and
/// `large.bin`, readable by every user (0755 directories, 0644 files) whichever account the
/// sessions act as.
fn start(extra: &str) -> Ringd {
    let dir = TempDir::new("ftp-control");
    let root = dir.0.join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("small.txt"), SMALL_FILE).unwrap();
    set_mode(&dir.0, 0o755);
    set_mode(&root, 0o755);
    set_mode(&root.join("small.txt"), 0o644);
    for (name, len) in [("medium.bin", MEDIUM_FILE), ("large.bin", LARGE_FILE)] {
        let path = root.join(name);
        std::fs::File::create(&path).unwrap().set_len(len).unwrap();
        set_mode(&path, 0o644);
    }
    let conf = format!(
        "listen=YES\nlisten_address=127.0.0.1\nlisten_port=0\nanonymous_enable=YES\n\
         local_enable=NO\nanon_root={}\npasv_min_port=0\npasv_max_port=0\n{extra}",
        root.display()
    );
    Ringd::start_ftp(dir, &conf, &["--shards", "1"], 1)
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A raw control connection that reads whole replies.
struct Control {
    stream: TcpStream,
    received: Vec<u8>,
}

impl Control {
    /// Connects, logs in anonymously and returns the session.
    fn login(server: SocketAddr) -> Control {
        let mut control = Control {
            stream: TcpStream::connect(server).unwrap(),
            received: Vec::new(),
        };
        assert!(control.reply().starts_with("220"));
        control.send(b"USER anonymous\r\n");
        assert!(control.reply().starts_with("331"));
        control.send(b"PASS guest@\r\n");
        assert!(control.reply().starts_with("230"));
        control
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// The next reply, which must come within [`PROMPT`].
    fn reply(&mut self) -> String {
        self.reply_within(PROMPT)
            .unwrap_or_else(|| panic!("no reply within {PROMPT:?}"))
    }

    /// The next reply (all its lines), or `None` if none is complete within `wait`.
    fn reply_within(&mut self, wait: Duration) -> Option<String> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(end) = self.final_line_end() {
                let reply = self.received.drain(..end).collect::<Vec<u8>>();
                return Some(String::from_utf8(reply).unwrap());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut buffer = [0u8; 1024];
            match self.stream.read(&mut buffer) {
                Ok(0) => panic!(
                    "connection closed; received {:?}",
                    String::from_utf8_lossy(&self.received)
                ),
                Ok(n) => self.received.extend_from_slice(&buffer[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("reading a reply: {e}"),
            }
        }
    }

    /// Where the first complete reply in `received` ends: after its final line, the one whose
    /// code is followed by a space.
    fn final_line_end(&self) -> Option<usize> {
        let mut start = 0;
        while let Some(at) = self.received[start..].windows(2).position(|w| w == b"\r\n") {
            let end = start + at + 2;
            if self.received[start..].get(3) == Some(&b' ') {
                return Some(end);
            }
            start = end;
        }
        None
    }

    /// Asks for a passive port and returns its address.
    fn passive(&mut self) -> SocketAddr {
        self.send(b"PASV\r\n");
        let reply = self.reply();
        let numbers: Vec<u16> = reply
            .trim_end()
            .strip_prefix("227 Entering Passive Mode (")
            .and_then(|rest| rest.strip_suffix(")."))
            .unwrap_or_else(|| panic!("PASV answered {reply:?}"))
            .split(',')
            .map(|n| n.parse().unwrap())
            .collect();
        let ip = Ipv4Addr::new(
            numbers[0] as u8,
            numbers[1] as u8,
            numbers[2] as u8,
            numbers[3] as u8,
        );
        SocketAddr::new(ip.into(), numbers[4] << 8 | numbers[5])
    }

    /// Expects ringd to close the connection (after any replies already read).
    fn expect_eof(&mut self) {
        assert!(
            self.received.is_empty(),
            "unread: {:?}",
            String::from_utf8_lossy(&self.received)
        );
        self.stream.set_read_timeout(Some(PROMPT)).unwrap();
        let mut buffer = [0u8; 64];
        match self.stream.read(&mut buffer) {
            Ok(0) => {}
            other => panic!("expected the end of the connection, got {other:?}"),
        }
    }
}

/// Whether ringd closed `stream` (end of file or reset) within [`PROMPT`]; data it sent
/// before is skipped.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    stream.set_read_timeout(Some(PROMPT)).unwrap();
    let deadline = Instant::now() + PROMPT;
    let mut buffer = vec![0u8; 64 * 1024];
    while Instant::now() < deadline {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
    false
}

/// A connection to `to` from 127.0.0.2: another host than the client's 127.0.0.1.
fn connect_from_elsewhere(to: SocketAddr) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), 0).into())
        .unwrap();
    socket.connect(&to.into()).unwrap();
    socket.into()
}

#[test]
fn trickled_bytes_of_an_unfinished_line_do_not_keep_a_session_alive() {
    let ringd = start("idle_session_timeout=2\n");
    let mut control = Control::login(ringd.ftp_addrs[0]);
    control.send(b"NOOP\r\n");
    assert_eq!(control.reply(), "200 NOOP ok.\r\n");
    let noop_answered = Instant::now();
    // One byte every 0.5 s, never a line end, offset by a quarter second from the 2 s limit
    // so no byte is on its way when ringd gives up. Waiting for a reply paces the bytes.
    let mut trickle = b"NOOPNOOPNOOPNOOP".iter();
    let mut next_byte = noop_answered + Duration::from_millis(250);
    let timeout = loop {
        let wait = next_byte.saturating_duration_since(Instant::now());
        if let Some(reply) = control.reply_within(wait) {
            break reply;
        }
        assert!(
            noop_answered.elapsed() < Duration::from_secs(4),
            "the session outlived its idle timeout by far"
        );
        control.send(std::slice::from_ref(trickle.next().unwrap()));
        next_byte += Duration::from_millis(500);
    };
    let after = noop_answered.elapsed();
    assert_eq!(timeout, "421 Timeout.\r\n");
    assert!(
        after >= Duration::from_millis(1500) && after <= Duration::from_secs(3),
        "421 came {after:?} after the last command, expected about 2 s"
    );
    control.expect_eof();
    ringd.stop();
}

#[test]
fn each_complete_command_restarts_the_idle_timeout() {
    let ringd = start("idle_session_timeout=2\n");
    let mut control = Control::login(ringd.ftp_addrs[0]);
    // Commands 1.2 s apart keep the session well past its 2 s limit; the silence between
    // them is a wait for a reply that must not come.
    for _ in 0..3 {
        assert_eq!(control.reply_within(Duration::from_millis(1200)), None);
        control.send(b"NOOP\r\n");
        assert_eq!(control.reply(), "200 NOOP ok.\r\n");
    }
    let last_answered = Instant::now();
    let timeout = control.reply();
    let after = last_answered.elapsed();
    assert_eq!(timeout, "421 Timeout.\r\n");
    assert!(
        after >= Duration::from_millis(1500) && after <= Duration::from_secs(3),
        "421 came {after:?} after the last command, expected about 2 s"
    );
    control.expect_eof();
    ringd.stop();
}

#[test]
fn an_urgent_abor_in_two_reads_stops_the_download() {
    let ringd = start("anon_max_rate=1000000\n");
    let mut control = Control::login(ringd.ftp_addrs[0]);
    let data_port = control.passive();
    let mut data = TcpStream::connect(data_port).unwrap();
    control.send(b"RETR large.bin\r\n");
    assert!(control.reply().starts_with("150 "));
    // The download is under way: take a little of it.
    data.set_read_timeout(Some(PROMPT)).unwrap();
    let mut first = vec![0u8; 64 * 1024];
    data.read_exact(&mut first).unwrap();
    // tnftp's Ctrl-C: Telnet IP and the start of Synch as urgent data, then the rest of Synch
    // (DM) and the command in a later segment.
    socket2::SockRef::from(&control.stream)
        .send_out_of_band(b"\xff\xf4\xff")
        .unwrap();
    assert_eq!(control.reply_within(Duration::from_millis(300)), None);
    let aborted = Instant::now();
    control.send(b"\xf2ABOR\r\n");
    let failure = control.reply();
    assert!(failure.starts_with("426 "), "got {failure:?}");
    assert_eq!(control.reply(), "226 ABOR successful.\r\n");
    assert!(aborted.elapsed() < PROMPT);
    assert!(closed_by_server(&mut data), "the data connection is closed");
    control.send(b"NOOP\r\n");
    assert_eq!(control.reply(), "200 NOOP ok.\r\n");
    ringd.stop();
}

#[test]
fn commands_sent_during_a_transfer_are_served_after_it_in_order() {
    let ringd = start("anon_max_rate=1000000\n");
    let mut control = Control::login(ringd.ftp_addrs[0]);
    let data_port = control.passive();
    let mut data = TcpStream::connect(data_port).unwrap();
    control.send(b"RETR medium.bin\r\n");
    assert!(control.reply().starts_with("150 "));
    data.set_read_timeout(Some(PROMPT)).unwrap();
    // A command in two reads (reading some data paces them), then an ABOR that comes after
    // another command and so must not stop the transfer.
    control.send(b"NO");
    let mut received = vec![0u8; 256 * 1024];
    data.read_exact(&mut received).unwrap();
    control.send(b"OP\r\nABOR\r\n");
    let mut rest = Vec::new();
    data.read_to_end(&mut rest).unwrap();
    assert_eq!(received.len() + rest.len(), MEDIUM_FILE as usize);
    assert_eq!(control.reply(), "226 Transfer complete.\r\n");
    assert_eq!(control.reply(), "200 NOOP ok.\r\n");
    assert_eq!(control.reply(), "225 No transfer to ABOR.\r\n");
    ringd.stop();
}

#[test]
fn a_stranger_on_the_passive_port_is_turned_away_and_the_client_gets_its_file() {
    let mut ringd = start("");
    let mut control = Control::login(ringd.ftp_addrs[0]);
    let data_port = control.passive();
    control.send(b"RETR small.txt\r\n");
    let mut thief = connect_from_elsewhere(data_port);
    assert!(
        closed_by_server(&mut thief),
        "ringd closes the thief's connection"
    );
    let warning = ringd.wait_for_line("127.0.0.2", PROMPT);
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("127.0.0.1"), "names the client: {warning}");
    let mut data = TcpStream::connect(data_port).unwrap();
    assert!(control.reply().starts_with("150 "));
    data.set_read_timeout(Some(PROMPT)).unwrap();
    let mut received = Vec::new();
    data.read_to_end(&mut received).unwrap();
    assert_eq!(received, SMALL_FILE);
    assert_eq!(control.reply(), "226 Transfer complete.\r\n");
    ringd.stop();
}

#[test]
fn with_only_a_stranger_connecting_the_transfer_fails_at_accept_timeout() {
    let ringd = start("accept_timeout=2\n");
    let mut control = Control::login(ringd.ftp_addrs[0]);
    let data_port = control.passive();
    control.send(b"RETR small.txt\r\n");
    let requested = Instant::now();
    let mut thief = connect_from_elsewhere(data_port);
    assert!(
        closed_by_server(&mut thief),
        "ringd closes the thief's connection"
    );
    assert_eq!(control.reply(), "425 Failed to establish connection.\r\n");
    let after = requested.elapsed();
    assert!(
        after >= Duration::from_millis(1500),
        "425 came {after:?} after RETR: ringd gave up on the client before accept_timeout"
    );
    control.send(b"NOOP\r\n");
    assert_eq!(control.reply(), "200 NOOP ok.\r\n");
    ringd.stop();
}
