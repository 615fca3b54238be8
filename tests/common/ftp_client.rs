//! A raw FTP control connection for the tests: whole replies read under a timeout, so every byte and its timing is the test's own.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long a reply may take when nothing makes it wait.
pub const PROMPT: Duration = Duration::from_secs(5);

/// A raw control connection that reads whole replies.
pub struct Control {
    pub stream: TcpStream,
    /// The 220 reply the session began with.
    pub greeting: String,
    received: Vec<u8>,
}

impl Control {
    /// Connects and reads the greeting.
    pub fn connect(server: SocketAddr) -> Control {
        let mut control = Control {
            stream: TcpStream::connect(server).unwrap(),
            greeting: String::new(),
            received: Vec::new(),
        };
        control.greeting = control.reply();
        assert!(control.greeting.starts_with("220"), "{}", control.greeting);
        control
    }

    /// Connects from `source` (a loopback address other than 127.0.0.1 is another host),
    /// sends `before_greeting` (a PROXY header, say), and reads the first reply: the greeting,
    /// or a refusal.
    pub fn connect_from(source: Ipv4Addr, server: SocketAddr, before_greeting: &[u8]) -> Control {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket
            .bind(&SocketAddr::new(source.into(), 0).into())
            .unwrap();
        socket.connect_timeout(&server.into(), PROMPT).unwrap();
        let mut control = Control {
            stream: socket.into(),
            greeting: String::new(),
            received: Vec::new(),
        };
        control.send(before_greeting);
        control.greeting = control.reply();
        control
    }

    /// Connects, logs in anonymously and returns the session.
    pub fn anonymous(server: SocketAddr) -> Control {
        Control::login(server, "anonymous", "guest@")
    }

    /// Connects and logs in as `user`, which must succeed.
    pub fn login(server: SocketAddr, user: &str, password: &str) -> Control {
        let mut control = Control::connect(server);
        let reply = control.command(&format!("USER {user}"));
        assert!(reply.starts_with("331"), "USER {user}: {reply}");
        let reply = control.command(&format!("PASS {password}"));
        assert!(reply.starts_with("230"), "PASS for {user}: {reply}");
        control
    }

    /// Sends one command line and returns its reply.
    pub fn command(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// The next reply, which must come within [`PROMPT`].
    pub fn reply(&mut self) -> String {
        self.reply_within(PROMPT)
            .unwrap_or_else(|| panic!("no reply within {PROMPT:?}"))
    }

    /// The next reply (all its lines), or `None` if none is complete within `wait`.
    pub fn reply_within(&mut self, wait: Duration) -> Option<String> {
        self.raw_reply_within(wait)
            .map(|reply| String::from_utf8(reply).unwrap())
    }

    /// Sends one command line, bytes that need not be UTF-8 (file names), and returns its
    /// reply as sent.
    pub fn raw_command(&mut self, line: &[u8]) -> Vec<u8> {
        self.send(&[line, b"\r\n"].concat());
        self.raw_reply_within(PROMPT)
            .unwrap_or_else(|| panic!("no reply within {PROMPT:?}"))
    }

    /// [`Control::reply_within`] as bytes: replies quote file names, which need not be UTF-8.
    pub fn raw_reply_within(&mut self, wait: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(end) = self.final_line_end() {
                return Some(self.received.drain(..end).collect());
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
                // A signal (a child's exit) may cut a read short: read again.
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(e) => panic!("reading a reply: {e}"),
            }
        }
    }

    /// Where the first complete reply in `received` ends: after its final line, the one whose
    /// code is followed by a space (middle lines, such as STAT's, may start with spaces).
    fn final_line_end(&self) -> Option<usize> {
        let mut start = 0;
        while let Some(at) = self.received[start..].windows(2).position(|w| w == b"\r\n") {
            let end = start + at + 2;
            let line = &self.received[start..end];
            if line.len() > 4 && line[..3].iter().all(u8::is_ascii_digit) && line[3] == b' ' {
                return Some(end);
            }
            start = end;
        }
        None
    }

    /// Asks for a passive port and returns its address.
    pub fn passive(&mut self) -> SocketAddr {
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
    pub fn expect_eof(&mut self) {
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
