//! The FTP control and data connections as a client sees them, on blocking std sockets with timeouts, plain or TLS.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::ftp::tls::{Negotiated, SessionTls, Stream, TlsMode};
use crate::step_stats::snake_case;

/// Longest reply line accepted; RFC 959 lines are short, this only stops a runaway server.
const MAX_LINE: usize = 8 * 1024;
/// Most lines of one multi-line reply (vsftpd banners and FEAT are far shorter).
const MAX_REPLY_LINES: usize = 1_000;

/// One complete FTP reply: its code and the text of its last line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.text)
    }
}

/// Why an FTP exchange failed. `Display` is stable per kind of failure (no file names, ports or
/// counters in it) so that failures can be grouped by it.
#[derive(Debug)]
pub enum FtpError {
    /// The server answered, but not with what the step needs.
    Unexpected { step: &'static str, reply: Reply },
    /// No (complete) reply in time.
    Timeout { step: &'static str },
    /// The server closed the connection.
    Closed { step: &'static str },
    /// Something the server sent is not FTP.
    Protocol { step: &'static str, what: String },
    Io {
        step: &'static str,
        error: io::Error,
    },
}

impl fmt::Display for FtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FtpError::Unexpected { step, reply } => write!(f, "{reply} (after {step})"),
            FtpError::Timeout { step } => write!(f, "timeout ({step})"),
            FtpError::Closed { step } => write!(f, "connection closed ({step})"),
            FtpError::Protocol { step, what } => write!(f, "protocol error ({step}): {what}"),
            FtpError::Io { step, error } => write!(f, "{} ({step})", error.kind()),
        }
    }
}

impl std::error::Error for FtpError {}

impl FtpError {
    /// The failure's class, a stable snake_case key: what went wrong and at which step
    /// (`reply_530_after_pass`, `timeout_retr_data`, `connection_refused_connect`).
    pub fn class(&self) -> String {
        snake_case(&match self {
            FtpError::Unexpected { step, reply } => format!("reply {} after {step}", reply.code),
            FtpError::Timeout { step } => format!("timeout {step}"),
            FtpError::Closed { step } => format!("closed {step}"),
            FtpError::Protocol { step, .. } => format!("protocol error {step}"),
            FtpError::Io { step, error } => format!("{:?} {step}", error.kind()),
        })
    }

    /// An I/O failure of `step`, classed: timeouts and closed connections apart.
    pub fn from_io(step: &'static str, error: io::Error) -> FtpError {
        io_error(step)(error)
    }
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn io_error(step: &'static str) -> impl FnOnce(io::Error) -> FtpError {
    move |error| {
        if is_timeout(&error) {
            FtpError::Timeout { step }
        } else if error.kind() == io::ErrorKind::UnexpectedEof {
            FtpError::Closed { step }
        } else {
            FtpError::Io { step, error }
        }
    }
}

/// Opens a TCP connection to `destination`, first binding `source` unless its address is
/// unspecified (port 0 lets the kernel pick the port). Every read and write then times out
/// after `timeout`, so that no exchange can hang.
pub fn connect_from(
    source: SocketAddr,
    destination: SocketAddr,
    timeout: Duration,
) -> io::Result<TcpStream> {
    let socket = Socket::new(
        Domain::for_address(destination),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    if !source.ip().is_unspecified() {
        socket.bind(&source.into())?;
    }
    socket.connect_timeout(&destination.into(), timeout)?;
    let stream: TcpStream = socket.into();
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    Ok(stream)
}

/// Splits a reply line into its code and whether it ends the reply (`"220 x"`) or continues it
/// (`"220-x"`). `None` when the line does not start like a reply.
fn reply_line_code(line: &str) -> Option<(u16, bool, &str)> {
    let bytes = line.as_bytes();
    if bytes.len() < 3 || !bytes[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = line[..3].parse().ok()?;
    match bytes.get(3) {
        None => Some((code, true, "")),
        Some(b' ') => Some((code, true, &line[4..])),
        Some(b'-') => Some((code, false, &line[4..])),
        Some(_) => None,
    }
}

/// An open control connection.
pub struct Control {
    reader: BufReader<Stream>,
    peer: SocketAddr,
    local: SocketAddr,
    /// The session's TLS settings once the control connection is TLS.
    tls: Option<SessionTls>,
    /// After `PROT P`: data connections are TLS too.
    protected: bool,
    /// The text of the server's 220, once greeted.
    greeting: Option<String>,
}

impl Control {
    /// Connects without reading the greeting (callers time it).
    pub fn connect(
        source: SocketAddr,
        destination: SocketAddr,
        timeout: Duration,
    ) -> Result<Control, FtpError> {
        let stream = connect_from(source, destination, timeout).map_err(io_error("connect"))?;
        let local = stream.local_addr().map_err(io_error("connect"))?;
        Ok(Control {
            reader: BufReader::new(Stream::Plain(stream)),
            peer: destination,
            local,
            tls: None,
            protected: false,
            greeting: None,
        })
    }

    /// Connects and reads the 220 greeting, after the TLS handshake for implicit FTPS.
    pub fn connect_greeted(
        source: SocketAddr,
        destination: SocketAddr,
        timeout: Duration,
        tls: Option<&(TlsMode, SessionTls)>,
    ) -> Result<Control, FtpError> {
        let mut control = Control::connect(source, destination, timeout)?;
        if let Some((TlsMode::Implicit, session)) = tls {
            control.start_tls(session, "TLS handshake")?;
        }
        let greeting = control.expect("greeting", |c| c == 220)?;
        control.greeting = Some(greeting.text);
        Ok(control)
    }

    /// The text of the server's greeting (after `220 `), which names the server to people.
    pub fn greeting(&self) -> Option<&str> {
        self.greeting.as_deref()
    }

    /// Runs the TLS handshake on the connection: at once for implicit FTPS, after `AUTH TLS`
    /// for explicit.
    pub fn start_tls(&mut self, tls: &SessionTls, step: &'static str) -> Result<(), FtpError> {
        // What the server sent after its reply would be lost under TLS, and is not FTP.
        if !self.reader.buffer().is_empty() {
            return Err(FtpError::Protocol {
                step,
                what: "bytes in the clear after the reply to AUTH".to_string(),
            });
        }
        let tcp = self.reader.get_mut().detach().ok_or(FtpError::Protocol {
            step,
            what: "TLS already started".to_string(),
        })?;
        *self.reader.get_mut() = tls.connect(tcp, step)?;
        self.tls = Some(tls.clone());
        Ok(())
    }

    /// Explicit FTPS: `AUTH TLS` and the handshake.
    pub fn auth_tls(&mut self, tls: &SessionTls) -> Result<(), FtpError> {
        self.command("AUTH TLS", "AUTH TLS", |c| c == 234)?;
        self.start_tls(tls, "AUTH TLS")
    }

    /// `PBSZ 0` and `PROT P`: from now on data connections are TLS, resuming this session.
    pub fn protect(&mut self) -> Result<(), FtpError> {
        self.command("PBSZ 0", "PBSZ", |c| c == 200)?;
        self.command("PROT P", "PROT", |c| c == 200)?;
        self.protected = true;
        Ok(())
    }

    /// A data connection as the transfer uses it: with its TLS handshake done after `PROT P`
    /// (called once the server answered the transfer command: it starts TLS only then).
    pub fn data_stream(&self, tcp: TcpStream, step: &'static str) -> Result<Stream, FtpError> {
        match (&self.tls, self.protected) {
            (Some(tls), true) => tls.connect(tcp, step),
            _ => Ok(Stream::Plain(tcp)),
        }
    }

    /// What the control connection's TLS handshake agreed on.
    pub fn negotiated(&self) -> Option<Negotiated> {
        self.reader.get_ref().negotiated()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    pub fn set_timeout(&self, timeout: Duration) -> Result<(), FtpError> {
        let stream = self.reader.get_ref().tcp().ok_or(FtpError::Closed {
            step: "set timeout",
        })?;
        stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| stream.set_write_timeout(Some(timeout)))
            .map_err(io_error("set timeout"))
    }

    fn read_line(&mut self, step: &'static str) -> Result<String, FtpError> {
        let mut line = Vec::new();
        let read = (&mut self.reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .map_err(io_error(step))?;
        if read == 0 {
            return Err(FtpError::Closed { step });
        }
        if !line.ends_with(b"\n") {
            return Err(if read >= MAX_LINE {
                FtpError::Protocol {
                    step,
                    what: format!("reply line longer than {MAX_LINE} bytes"),
                }
            } else {
                FtpError::Closed { step }
            });
        }
        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            line.pop();
        }
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    /// Reads one complete reply, following multi-line replies to their last line.
    pub fn read_reply(&mut self, step: &'static str) -> Result<Reply, FtpError> {
        let first = self.read_line(step)?;
        let (code, last, text) = reply_line_code(&first).ok_or_else(|| FtpError::Protocol {
            step,
            what: format!("not a reply line: {:.80?}", first),
        })?;
        if last {
            return Ok(Reply {
                code,
                text: text.to_string(),
            });
        }
        for _ in 0..MAX_REPLY_LINES {
            let line = self.read_line(step)?;
            if let Some((line_code, true, text)) = reply_line_code(&line) {
                if line_code == code {
                    return Ok(Reply {
                        code,
                        text: text.to_string(),
                    });
                }
            }
        }
        Err(FtpError::Protocol {
            step,
            what: format!("reply longer than {MAX_REPLY_LINES} lines"),
        })
    }

    /// Sends one command line (CRLF is added).
    pub fn send(&mut self, command: &str, step: &'static str) -> Result<(), FtpError> {
        let stream = self.reader.get_mut();
        stream
            .write_all(format!("{command}\r\n").as_bytes())
            .map_err(io_error(step))
    }

    /// Sends a command and reads its reply, which must have a code that `accept` takes.
    pub fn command(
        &mut self,
        command: &str,
        step: &'static str,
        accept: impl Fn(u16) -> bool,
    ) -> Result<Reply, FtpError> {
        self.send(command, step)?;
        self.expect(step, accept)
    }

    /// Reads a reply, which must have a code that `accept` takes.
    pub fn expect(
        &mut self,
        step: &'static str,
        accept: impl Fn(u16) -> bool,
    ) -> Result<Reply, FtpError> {
        let reply = self.read_reply(step)?;
        if accept(reply.code) {
            Ok(reply)
        } else {
            Err(FtpError::Unexpected { step, reply })
        }
    }

    /// Logs in: USER, then PASS when the server asks for it.
    pub fn login(&mut self, user: &str, pass: &str) -> Result<(), FtpError> {
        let reply = self.command(&format!("USER {user}"), "USER", |c| c == 331 || c == 230)?;
        if reply.code == 331 {
            self.command(&format!("PASS {pass}"), "PASS", |c| c == 230)?;
        }
        Ok(())
    }

    /// Asks for a passive data port (PASV over IPv4, EPSV over IPv6) and connects to it from this
    /// connection's own source address: vsftpd refuses data connections from any other address.
    /// The server's own address in a PASV reply is ignored in favour of the control peer's, so
    /// that a reply can never point the load elsewhere.
    pub fn open_passive(&mut self, timeout: Duration) -> Result<TcpStream, FtpError> {
        let (command, step) = if self.peer.is_ipv4() {
            ("PASV", "PASV")
        } else {
            ("EPSV", "EPSV")
        };
        let reply = self.command(command, step, |c| c == 227 || c == 229)?;
        let port = passive_port(&reply).ok_or_else(|| FtpError::Protocol {
            step,
            what: format!("unparsable passive reply {:.80?}", reply.to_string()),
        })?;
        connect_from(
            SocketAddr::new(self.local.ip(), 0),
            SocketAddr::new(self.peer.ip(), port),
            timeout,
        )
        .map_err(io_error("data connect"))
    }

    /// The failure of a data connection as the server explains it. A server that refuses a
    /// data connection says why on the control connection (vsftpd and ringd: `522 SSL
    /// connection failed: session reuse required`, after a handshake that did not resume);
    /// that reply names the cause where the broken pipe or TLS alert the client saw does not,
    /// so it is what the failure is counted as. Waits at most `wait` for it; a timeout is
    /// kept as it is, as the server is then not answering anyway.
    pub fn explain_data_failure(
        &mut self,
        failure: FtpError,
        step: &'static str,
        wait: Duration,
    ) -> FtpError {
        if matches!(failure, FtpError::Timeout { .. }) || self.set_timeout(wait).is_err() {
            return failure;
        }
        match self.read_reply(step) {
            Ok(reply) if reply.code >= 400 => FtpError::Unexpected { step, reply },
            _ => failure,
        }
    }

    /// Waits (at most `timeout`) for the server to close the connection, discarding anything it
    /// still sends. True when it closed.
    pub fn wait_for_close(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut sink = [0u8; 1024];
        // Bounded by the deadline and by the bytes a polite server would send after QUIT or 421.
        for _ in 0..64 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.set_timeout(left).is_err() {
                return false;
            }
            match self.reader.read(&mut sink) {
                Ok(0) => return true,
                Ok(_) => continue,
                // Over TLS, a close without close_notify.
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
                    ) =>
                {
                    return true
                }
                Err(_) => return false,
            }
        }
        false
    }

    /// Half-closes our side: used after QUIT when the reply does not matter any more.
    pub fn shutdown(&self) {
        if let Some(tcp) = self.reader.get_ref().tcp() {
            let _ = tcp.shutdown(Shutdown::Both);
        }
    }
}

/// The data port of a `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)` or a
/// `229 Entering Extended Passive Mode (|||port|)` reply.
pub fn passive_port(reply: &Reply) -> Option<u16> {
    let open = reply.text.find('(')?;
    let close = open + reply.text[open..].find(')')?;
    let inside = &reply.text[open + 1..close];
    match reply.code {
        227 => {
            let numbers: Vec<u8> = inside
                .split(',')
                .map(|n| n.trim().parse())
                .collect::<Result<_, _>>()
                .ok()?;
            match numbers[..] {
                [_, _, _, _, high, low] => Some(u16::from(high) << 8 | u16::from(low)),
                _ => None,
            }
        }
        229 => {
            let delimiter = inside.chars().next()?;
            let fields: Vec<&str> = inside.split(delimiter).collect();
            match fields[..] {
                ["", "", "", port, ""] => port.parse().ok(),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_classed_by_what_went_wrong_and_where() {
        let refused = FtpError::Unexpected {
            step: "PASS",
            reply: reply(530, "Login incorrect."),
        };
        assert_eq!(refused.class(), "reply_530_after_pass");
        assert_eq!(refused.to_string(), "530 Login incorrect. (after PASS)");
        assert_eq!(
            FtpError::Timeout { step: "RETR data" }.class(),
            "timeout_retr_data"
        );
        let io = FtpError::from_io("connect", io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(io.class(), "connection_refused_connect");
    }

    fn reply(code: u16, text: &str) -> Reply {
        Reply {
            code,
            text: text.into(),
        }
    }

    #[test]
    fn reply_lines_are_split_into_code_and_continuation() {
        assert_eq!(reply_line_code("220 ready"), Some((220, true, "ready")));
        assert_eq!(reply_line_code("230-banner"), Some((230, false, "banner")));
        assert_eq!(reply_line_code("200"), Some((200, true, "")));
        assert_eq!(reply_line_code(" 230 indented"), None);
        assert_eq!(reply_line_code("23x nope"), None);
        assert_eq!(reply_line_code("2300 nope"), None);
    }

    #[test]
    fn passive_replies_give_their_port() {
        let pasv = reply(227, "Entering Passive Mode (127,0,0,1,195,80).");
        assert_eq!(passive_port(&pasv), Some(195 * 256 + 80));
        let epsv = reply(229, "Entering Extended Passive Mode (|||50000|)");
        assert_eq!(passive_port(&epsv), Some(50000));
        for bad in [
            reply(227, "Entering Passive Mode (127,0,0,1,300,80)."),
            reply(227, "Entering Passive Mode (127,0,0,1,80)."),
            reply(227, "no parentheses"),
            reply(229, "(||50000|)"),
            reply(200, "(|||50000|)"),
        ] {
            assert_eq!(passive_port(&bad), None, "{bad}");
        }
    }

    #[test]
    fn multi_line_replies_end_at_the_line_with_their_code() {
        use std::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream
                .write_all(b"220-hello\r\n221 not the end\r\n220 ready\r\n421 bye\r\n")
                .unwrap();
        });
        let mut control = Control::connect(
            "127.0.0.1:0".parse().unwrap(),
            address,
            Duration::from_secs(2),
        )
        .unwrap();
        assert_eq!(control.read_reply("greeting").unwrap(), reply(220, "ready"));
        assert_eq!(control.read_reply("next").unwrap(), reply(421, "bye"));
        server.join().unwrap();
        assert!(matches!(
            control.read_reply("after close"),
            Err(FtpError::Closed { .. })
        ));
        assert!(control.wait_for_close(Duration::from_secs(1)));
    }
}
