//! ringd's FTP control connection under hostile clients: trickled bytes against the idle
//! timeout, an urgent ABOR split across reads, commands sent during a transfer, and
//! strangers on the passive data port.
//! Raw sockets on loopback, so every byte and its timing is the test's own.

mod common;

use std::io::{ErrorKind, Read};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::ftp_client::{Control, PROMPT};
use common::{Ringd, TempDir};

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
    let root = dir.join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("small.txt"), SMALL_FILE).unwrap();
    set_mode(dir.path(), 0o755);
    set_mode(&root, 0o755);
    set_mode(&root.join("small.txt"), 0o644);
    for (name, len) in [("medium.bin", MEDIUM_FILE), ("large.bin", LARGE_FILE)] {
        let path = root.join(name);
        std::fs::File::create(&path).unwrap().set_len(len).unwrap();
        set_mode(&path, 0o644);
    }
    let conf = format!(
        "listen=YES\nlisten_address=127.0.0.1\nlisten_port=0\nanonymous_enable=YES\n\
         local_enable=NO\nanon_root={}\npasv_min_port=0\npasv_max_port=0\n{}{extra}",
        root.display(),
        common::SESSION_USER_CONF,
    );
    Ringd::start_ftp(dir, &conf, &["--shards", "1"], 1)
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
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

/// `reply` is the 421 of `idle_session_timeout=2`, about 2 s after the last command was
/// answered at `last_answered`, and the session ended with it.
fn timed_out_2_s_after(last_answered: Instant, reply: &str, mut control: Control) {
    let after = last_answered.elapsed();
    assert_eq!(reply, "421 Timeout.\r\n");
    assert!(
        after >= Duration::from_millis(1500) && after <= Duration::from_secs(3),
        "421 came {after:?} after the last command, expected about 2 s"
    );
    control.expect_eof();
}

#[test]
fn trickled_bytes_of_an_unfinished_line_do_not_keep_a_session_alive() {
    let ringd = start("idle_session_timeout=2\n");
    let mut control = Control::anonymous(ringd.ftp_addrs[0]);
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
    timed_out_2_s_after(noop_answered, &timeout, control);
    ringd.stop();
}

#[test]
fn each_complete_command_restarts_the_idle_timeout() {
    let ringd = start("idle_session_timeout=2\n");
    let mut control = Control::anonymous(ringd.ftp_addrs[0]);
    // Commands 1.2 s apart keep the session well past its 2 s limit; the silence between
    // them is a wait for a reply that must not come.
    for _ in 0..3 {
        assert_eq!(control.reply_within(Duration::from_millis(1200)), None);
        control.send(b"NOOP\r\n");
        assert_eq!(control.reply(), "200 NOOP ok.\r\n");
    }
    let last_answered = Instant::now();
    let timeout = control.reply();
    timed_out_2_s_after(last_answered, &timeout, control);
    ringd.stop();
}

#[test]
fn an_urgent_abor_in_two_reads_stops_the_download() {
    let ringd = start("anon_max_rate=1000000\n");
    let mut control = Control::anonymous(ringd.ftp_addrs[0]);
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
    let mut control = Control::anonymous(ringd.ftp_addrs[0]);
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
    let mut control = Control::anonymous(ringd.ftp_addrs[0]);
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
    let mut control = Control::anonymous(ringd.ftp_addrs[0]);
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
