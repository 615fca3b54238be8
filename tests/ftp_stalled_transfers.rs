//! Transfers whose client stops reading or sending, with every zero-copy engine: they end with
//! vsftpd's `421 Data timeout` after `data_connection_timeout`, ABOR is answered at once, and
//! SIGTERM stops ringd without waiting for the client. Raw sockets on ephemeral ports.

mod common;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Ringd, TempDir};

const ENGINES: [&str; 2] = ["zero_copy_method=sendfile", "zero_copy_method=splice"];
/// Far more than loopback's socket buffers hold (tcp_wmem and tcp_rmem allow 4 and 32 MiB at
/// most by default) plus the splice engine's pipe: a client that never reads stalls it.
const BIG_LEN: u64 = 64 * 1024 * 1024;
const BIG_NAME: &str = "big.bin";
/// `data_connection_timeout` of the tests that wait for it.
const DATA_TIMEOUT: u32 = 2;
/// How late a reply may come: scheduling on a loaded machine, never another timeout's length.
const MARGIN: Duration = Duration::from_secs(3);

/// An anonymous root with `big.bin` and a writable `upload/`. Directories are 0755 and files
/// 0644 (`upload/` 0777), so a session acting as `ftp_username` reads and writes them too.
struct Files {
    _dir: TempDir,
    root: PathBuf,
}

impl Files {
    fn new() -> Files {
        let dir = TempDir::new("stalled");
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("upload")).unwrap();
        // A sparse file: its length is what stalls the transfer, not its bytes.
        std::fs::File::create(root.join(BIG_NAME))
            .unwrap()
            .set_len(BIG_LEN)
            .unwrap();
        for (path, mode) in [
            (dir.path(), 0o755),
            (&root, 0o755),
            (&root.join("upload"), 0o777),
            (&root.join(BIG_NAME), 0o644),
        ] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        Files { _dir: dir, root }
    }

    /// ringd on one shard (so a session's end and the next accept are ordered) with
    /// `max_clients=1`, serving this root with `engine`.
    fn serve(&self, engine: &str, data_connection_timeout: u32) -> Ringd {
        let conf = format!(
            "listen=YES\nlisten_address=127.0.0.1\nlisten_port=0\nanonymous_enable=YES\n\
             local_enable=NO\nanon_root={}\nwrite_enable=YES\nanon_upload_enable=YES\n\
             anon_umask=022\npasv_min_port=0\npasv_max_port=0\nmax_clients=1\n\
             data_connection_timeout={data_connection_timeout}\n{engine}\n{}",
            self.root.display(),
            common::SESSION_USER_CONF,
        );
        Ringd::start_ftp(TempDir::new("stalled-conf"), &conf, &["--shards", "1"], 1)
    }
}

/// A control connection over a raw socket, every read under a timeout.
struct Control {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    context: String,
}

impl Control {
    /// Logs in anonymously; `context` names the case in failure messages.
    fn login(server: SocketAddr, context: &str) -> Control {
        let stream = TcpStream::connect(server).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(u64::from(DATA_TIMEOUT)) + MARGIN))
            .unwrap();
        let mut control = Control {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
            context: context.to_string(),
        };
        control.expect("220");
        control.send("USER anonymous");
        control.expect("331");
        control.send("PASS guest@");
        control.expect("230");
        control
    }

    fn send(&self, line: &str) {
        (&self.stream)
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
    }

    /// The final line of the next reply, without its line end.
    fn reply(&mut self) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            match self.reader.read_line(&mut line) {
                Ok(0) => panic!("{}: the control connection closed", self.context),
                Ok(_) => {}
                Err(err) => panic!("{}: no reply in time: {err}", self.context),
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return line.trim_end().to_string();
            }
        }
    }

    fn expect(&mut self, code: &str) -> String {
        let reply = self.reply();
        assert!(
            reply.starts_with(&format!("{code} ")),
            "{}: expected {code}, got {reply:?}",
            self.context
        );
        reply
    }

    /// Waits for the server to close the control connection.
    fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => assert!(
                rest.is_empty(),
                "{}: more after the last reply: {:?}",
                self.context,
                String::from_utf8_lossy(&rest)
            ),
            Err(err) if err.kind() == ErrorKind::ConnectionReset => {}
            Err(err) => panic!("{}: the control connection stays open: {err}", self.context),
        }
    }

    /// A data connection opened with PASV, in binary mode.
    fn passive(&mut self) -> TcpStream {
        self.send("TYPE I");
        self.expect("200");
        self.send("PASV");
        let reply = self.expect("227");
        let numbers: Vec<u16> = reply
            .rsplit_once('(')
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(inside, _)| inside.split(',').map(|n| n.parse().unwrap()).collect())
            .unwrap_or_else(|| panic!("{}: no address in {reply:?}", self.context));
        let port = numbers[4] << 8 | numbers[5];
        TcpStream::connect(("127.0.0.1", port)).unwrap()
    }

    /// Starts downloading big.bin over a data connection that is then never read.
    fn stalled_download(&mut self) -> TcpStream {
        let data = self.passive();
        self.send(&format!("RETR {BIG_NAME}"));
        self.expect("150");
        data
    }

    /// Starts an upload of `name` over a data connection that then sends nothing.
    fn stalled_upload(&mut self, name: &str) -> TcpStream {
        let data = self.passive();
        self.send(&format!("STOR {name}"));
        self.expect("150");
        data
    }
}

/// The stalled transfer ends with 421 within the timeout, the session is closed and has let
/// go of its file, and `max_clients=1` admits a new session.
fn times_out(ringd: &Ringd, mut control: Control, file: &Path) {
    let started = Instant::now();
    assert_eq!(
        control.reply(),
        "421 Data timeout. Reconnect. Sorry.",
        "{}",
        control.context
    );
    let late = Duration::from_secs(u64::from(DATA_TIMEOUT)) + MARGIN;
    assert!(
        started.elapsed() < late,
        "{}: 421 after {:?}",
        control.context,
        started.elapsed()
    );
    control.expect_closed();
    assert_eq!(
        ringd.descriptors_of(file),
        0,
        "{}: the file is still open",
        control.context
    );
    // With max_clients=1 this is refused (421 instead of 220) unless the session's place was
    // given back.
    Control::login(
        ringd.ftp_addrs[0],
        &format!("{}, next session", control.context),
    );
}

#[test]
fn a_download_the_client_stops_reading_times_out_and_frees_its_place() {
    let files = Files::new();
    for engine in ENGINES {
        let ringd = files.serve(engine, DATA_TIMEOUT);
        let mut control = Control::login(ringd.ftp_addrs[0], engine);
        let _data = control.stalled_download();
        times_out(&ringd, control, &files.root.join(BIG_NAME));
        ringd.stop();
    }
}

#[test]
fn an_upload_the_client_stops_sending_times_out_and_frees_its_place() {
    let files = Files::new();
    for engine in ENGINES {
        let ringd = files.serve(engine, DATA_TIMEOUT);
        let mut control = Control::login(ringd.ftp_addrs[0], engine);
        // Anonymous sessions may not overwrite: one file per engine.
        let name = format!("upload/{}.bin", engine.replace('=', "-"));
        let _data = control.stalled_upload(&name);
        times_out(&ringd, control, &files.root.join(name));
        ringd.stop();
    }
}

#[test]
fn abor_ends_a_stalled_download_at_once() {
    let files = Files::new();
    for engine in ENGINES {
        // A timeout far beyond the test: only ABOR can end the transfer.
        let ringd = files.serve(engine, 300);
        let mut control = Control::login(ringd.ftp_addrs[0], engine);
        let mut data = control.stalled_download();
        let started = Instant::now();
        control.send("ABOR");
        assert_eq!(
            control.reply(),
            "426 Failure writing network stream.",
            "{engine}"
        );
        assert_eq!(control.reply(), "226 ABOR successful.", "{engine}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{engine}: ABOR answered after {:?}",
            started.elapsed()
        );
        // The data connection was closed before the whole file went out, and the session
        // goes on.
        data.set_read_timeout(Some(MARGIN)).unwrap();
        let mut received = 0u64;
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            match data.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => received += n as u64,
                Err(err) if err.kind() == ErrorKind::ConnectionReset => break,
                Err(err) => panic!("{engine}: the data connection stays open: {err}"),
            }
        }
        assert!(received < BIG_LEN, "{engine}: the whole file was sent");
        control.send("NOOP");
        control.expect("200");
        assert_eq!(
            ringd.descriptors_of(&files.root.join(BIG_NAME)),
            0,
            "{engine}: the file is still open"
        );
        ringd.stop();
    }
}

#[test]
fn sigterm_stops_ringd_during_a_stalled_download() {
    let files = Files::new();
    for engine in ENGINES {
        let mut ringd = files.serve(engine, 300);
        let mut control = Control::login(ringd.ftp_addrs[0], engine);
        let _data = control.stalled_download();
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &ringd.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        // Far less than the 300 s the transfer could wait for its client.
        let limit = Duration::from_secs(5);
        eprintln!("{engine}: SIGTERM sent");
        ringd.wait_for_line("FTP stopped", limit);
        assert!(
            started.elapsed() < limit,
            "{engine}: {:?}",
            started.elapsed()
        );
        control.expect_closed();
        // Waits for the exit and checks it was 0 (the second SIGTERM finds ringd exiting).
        ringd.stop();
    }
}
