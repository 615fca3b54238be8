//! End to end over loopback: `ringload ftp` and `ringload ftp-limits` against a real ringd on an ephemeral port.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{assert_matches_schema, describe, ringd_binary, ringload};
use ringd_sys::test_dirs::TempDir;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::NoServerSessionStorage;
use rustls::{HandshakeKind, ServerConfig, ServerConnection, StreamOwned};

mod common;

/// Longest wait for ringd's readiness line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running ringd serving anonymous FTP of its own temporary directory; killed on drop.
struct Ringd {
    child: Child,
    address: String,
    root: TempDir,
}

impl Ringd {
    fn start(name: &str, max_clients: u32, max_per_ip: u32) -> Ringd {
        Ringd::start_with(
            name,
            &format!("max_clients={max_clients}\nmax_per_ip={max_per_ip}\n"),
        )
    }

    /// FTPS with a fresh self-signed certificate for localhost, `cert.pem` in the root, and
    /// `extra` options.
    fn start_tls(name: &str, extra: &str) -> Ringd {
        let certificate =
            rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
        let dir = TempDir::new(&format!("ringload-ftp-cert-{name}"));
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, certificate.cert.pem()).expect("certificate file");
        std::fs::write(&key, certificate.signing_key.serialize_pem()).expect("key file");
        let ringd = Ringd::start_with(
            name,
            &format!(
                "ssl_enable=YES\nrsa_cert_file={}\nrsa_private_key_file={}\nallow_anon_ssl=YES\n\
                 force_anon_logins_ssl=YES\nforce_anon_data_ssl=YES\n{extra}",
                cert.display(),
                key.display()
            ),
        );
        std::fs::copy(&cert, ringd.root.join("cert.pem")).expect("certificate copy");
        ringd
    }

    fn start_with(name: &str, extra: &str) -> Ringd {
        let root = TempDir::new(&format!("ringload-ftp-test-{name}"));
        let anon_root = root.join("anon");
        std::fs::create_dir_all(&anon_root).expect("temporary directory");
        std::fs::write(anon_root.join("file-4k"), vec![0x5a; 4096]).expect("test file");
        let conf = root.join("vsftpd.conf");
        std::fs::write(
            &conf,
            format!(
                "listen=YES\nlisten_address=127.0.0.1\nlisten_port=0\nanonymous_enable=YES\n\
                 local_enable=NO\nanon_root={}\npasv_min_port=0\npasv_max_port=0\n\
                 ftp_username=nobody\n{extra}",
                anon_root.display()
            ),
        )
        .expect("configuration");
        let mut child = Command::new(ringd_binary())
            .arg("--ftp-conf")
            .arg(&conf)
            .args(["--shards", "1"])
            .stderr(Stdio::piped())
            .spawn()
            .expect("ringd starts");
        let stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut address = None;
        let mut lines = stderr.lines();
        while Instant::now() < deadline {
            let Some(Ok(line)) = lines.next() else { break };
            // The ready line ends with the addresses each service listens on.
            if line.contains("ready: ") {
                address = line
                    .split(" ftp=")
                    .nth(1)
                    .and_then(|list| list.split([',', ' ']).next())
                    .map(str::to_string);
                break;
            }
        }
        let address = address.expect("ringd said where it serves FTP on its ready line");
        // ringd keeps logging to stderr: drain it so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ringd {
            child,
            address,
            root,
        }
    }
}

impl Drop for Ringd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn ftp_limits_passes_against_ringd_with_matching_limits() {
    let ringd = Ringd::start("limits-pass", 3, 2);
    let output = ringload(&[
        "ftp-limits",
        &ringd.address,
        "--max-clients",
        "3",
        "--max-per-ip",
        "2",
        "--burst",
        "24",
        "--json",
    ]);
    assert!(output.status.success(), "{}", describe(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_matches_schema(&report);
    assert_eq!(report["passed"], true);
    assert_eq!(report["phases"][0]["greeted"], 3, "{report:#}");
    assert_eq!(report["phases"][0]["refused_correctly"], 2, "{report:#}");
    assert_eq!(report["phases"][1]["greeted"], 2, "{report:#}");
    assert_eq!(report["phases"][1]["refused_correctly"], 2, "{report:#}");
    // 24 connects racing each other: still exactly the limits, every other one refused.
    assert_eq!(report["phases"][2]["greeted"], 3, "{report:#}");
    assert_eq!(report["phases"][2]["refused_correctly"], 21, "{report:#}");
    assert_eq!(report["phases"][3]["greeted"], 2, "{report:#}");
    assert_eq!(report["phases"][3]["refused_correctly"], 22, "{report:#}");
    assert!(report["phases"][2]["slowest_refusal_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn ftp_limits_fails_when_the_server_allows_fewer_than_claimed() {
    let ringd = Ringd::start("limits-fail", 3, 2);
    let output = ringload(&["ftp-limits", &ringd.address, "--max-clients", "5"]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("FAIL"), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("does not enforce max_clients=5"),
        "{}",
        describe(&output)
    );
}

#[test]
fn ftp_limits_quiet_prints_the_verdict_line_only() {
    let ringd = Ringd::start("limits-quiet", 3, 2);
    let passing = ringload(&[
        "ftp-limits",
        &ringd.address,
        "--max-clients",
        "3",
        "--max-per-ip",
        "2",
        "--quiet",
    ]);
    assert!(passing.status.success(), "{}", describe(&passing));
    assert_eq!(
        String::from_utf8_lossy(&passing.stdout),
        "PASS: the server enforces its connection limits\n"
    );
    let failing = ringload(&[
        "ftp-limits",
        &ringd.address,
        "--max-clients",
        "3",
        "--max-per-ip",
        "1",
        "--quiet",
    ]);
    assert!(!failing.status.success(), "{}", describe(&failing));
    assert_eq!(
        String::from_utf8_lossy(&failing.stdout),
        "FAIL: the server does not enforce the limits as configured\n"
    );
}

#[test]
fn retr_sessions_transfer_without_errors() {
    let ringd = Ringd::start("retr", 10, 5);
    let html = ringd.root.join("report.html");
    let output = ringload(&[
        "ftp",
        &ringd.address,
        "--scenario",
        "retr",
        "--file",
        "file-4k",
        "--sessions",
        "2",
        "--duration",
        "1",
        "--json",
        "--html",
        html.to_str().expect("a UTF-8 temporary path"),
    ]);
    assert!(output.status.success(), "{}", describe(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_matches_schema(&report);
    assert_eq!(report["mode"], "retr", "{report:#}");
    let page = std::fs::read_to_string(&html).expect("the --html file was written");
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(page.contains("<svg"), "{page}");
    assert!(page.contains("connect-to-220"), "{page}");
    let transfers = report["transfers"].as_u64().unwrap();
    assert!(transfers > 0, "{report:#}");
    assert_eq!(report["errors_total"], 0, "{report:#}");
    assert_eq!(report["bytes"].as_u64().unwrap(), transfers * 4096);
    assert!(
        report["latency_us"]["connect-to-220"]["p99"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert_eq!(
        report["latency_us"]["RETR"]["count"].as_u64().unwrap(),
        transfers
    );
}

#[test]
fn idle_sessions_are_held_and_measured() {
    let ringd = Ringd::start("idle", 10, 10);
    let pid = ringd.child.id().to_string();
    let output = ringload(&[
        "ftp",
        &ringd.address,
        "--scenario",
        "idle",
        "--sessions",
        "6",
        "--duration",
        "1",
        "--keepalive",
        "0.4",
        "--server-pid",
        &pid,
        "--json",
    ]);
    assert!(output.status.success(), "{}", describe(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_matches_schema(&report);
    assert_eq!(report["held_at_end"], 6, "{report:#}");
    assert_eq!(report["errors_total"], 0, "{report:#}");
    assert!(report["keepalive_rounds"].as_u64().unwrap() >= 1);
    assert!(report["memory"]["holding"]["pss_kib"].as_u64().unwrap() > 0);
}

/// A short `ringload ftp` run against `ringd` with `flags`, its JSON report.
fn short_run(ringd: &Ringd, flags: &[&str]) -> (Output, serde_json::Value) {
    let ca = ringd.root.join("cert.pem");
    let mut args = vec!["ftp", &ringd.address, "--duration", "1", "--json"];
    args.extend_from_slice(flags);
    args.extend(["--tls-ca", ca.to_str().expect("a UTF-8 temporary path")]);
    let output = ringload(&args);
    let report = serde_json::from_slice(&output.stdout).unwrap_or_default();
    (output, report)
}

#[test]
fn tls_sessions_handshake_in_full_and_resume_on_data_connections() {
    // require_ssl_reuse (the default): a data connection that did not resume is refused.
    let ringd = Ringd::start_tls("tls-retr", "");
    let retr = ["--scenario", "retr", "--file", "file-4k", "--sessions", "2"];
    let (output, report) = short_run(&ringd, &[&retr[..], &["--tls"]].concat());
    assert!(output.status.success(), "{}", describe(&output));
    assert_matches_schema(&report);
    assert_eq!(report["errors_total"], 0, "{report:#}");
    assert!(report["transfers"].as_u64().unwrap() > 0, "{report:#}");
    assert_eq!(report["tls"], "explicit", "{report:#}");
    assert_eq!(report["tls_version"], "TLSv1_3", "{report:#}");
    assert_eq!(report["tls_key_exchange"], "X25519", "{report:#}");
    assert!(report["tls_cipher_suite"]
        .as_str()
        .unwrap()
        .starts_with("TLS13_"));
    assert_eq!(report["tls_data_not_resumed"], 0, "{report:#}");
    assert_eq!(
        report["latency_us"]["AUTH TLS"]["count"], report["sessions_completed"],
        "one full handshake per session: {report:#}"
    );

    let pid = ringd.child.id().to_string();
    let idle = [
        "--scenario",
        "idle",
        "--sessions",
        "3",
        "--server-pid",
        &pid,
    ];
    let (output, report) = short_run(&ringd, &[&idle[..], &["--tls"]].concat());
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(report["held_at_end"], 3, "{report:#}");
    assert_eq!(report["tls_version"], "TLSv1_3", "{report:#}");
}

#[test]
fn implicit_tls_sessions_start_tls_before_the_greeting() {
    let ringd = Ringd::start_tls("tls-implicit", "implicit_ssl=YES\nssl_tlsv1_3=NO\n");
    let retr = ["--scenario", "retr", "--file", "file-4k", "--sessions", "2"];
    let (output, report) = short_run(&ringd, &[&retr[..], &["--implicit-tls"]].concat());
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(report["errors_total"], 0, "{report:#}");
    assert_eq!(report["tls"], "implicit", "{report:#}");
    assert_eq!(report["tls_version"], "TLSv1_2", "{report:#}");
    assert_eq!(report["tls_data_not_resumed"], 0, "{report:#}");
    // Explicit TLS against the implicit port: the greeting never comes in the clear.
    let (output, report) = short_run(&ringd, &[&retr[..], &["--tls", "--timeout", "1"]].concat());
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert_eq!(report["sessions_completed"], 0, "{report:#}");
}

#[test]
fn tls_against_a_server_without_it_fails_with_the_refusal() {
    let ringd = Ringd::start_tls("tls-off", "ssl_enable=NO\n");
    let (output, report) = short_run(&ringd, &["--tls", "--sessions", "1"]);
    // No session completed: nothing was measured.
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert_matches_schema(&report);
    assert_eq!(
        report["verdict"]["reason"], "nothing_answered",
        "{report:#}"
    );
    let errors = report["errors"].as_object().expect("errors by class");
    let class = errors
        .keys()
        .find(|class| class.ends_with("_after_auth_tls"))
        .unwrap_or_else(|| panic!("no AUTH TLS refusal class in {report:#}"));
    let text = report["error_texts"][class]
        .as_str()
        .expect("the class's text");
    assert!(text.ends_with("(after AUTH TLS)"), "{report:#}");
}

/// vsftpd's (and ringd's) reply to a data connection that did not resume the control
/// connection's TLS session, under `require_ssl_reuse`.
const REUSE_REFUSAL: &str = "522 SSL connection failed: session reuse required";
/// Most sessions the refusing server serves: a bound, far above what a short run makes.
const MAX_REFUSED_SESSIONS: usize = 10_000;
/// Longest the refusing server waits for a line or a handshake.
const REFUSING_TIMEOUT: Duration = Duration::from_secs(5);

/// A fake FTPS server that never lets a data connection resume (it keeps no TLS sessions and
/// sends no tickets) and refuses each as vsftpd with `require_ssl_reuse` does: the data
/// connection closed after its handshake, 522 on the control connection, the session ended.
/// ringd always resumes, so only a server like this shows what ringload makes of the refusal.
struct RefusingServer {
    address: SocketAddr,
    ca: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    _dir: TempDir,
}

impl RefusingServer {
    fn start() -> RefusingServer {
        let certificate =
            rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
        let dir = TempDir::new("ringload-ftp-refusing");
        let ca = dir.join("cert.pem");
        std::fs::write(&ca, certificate.cert.pem()).expect("certificate file");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certificate.signing_key.serialize_der(),
        ));
        #[allow(deprecated, reason = "ring, as ringload and ringd")]
        let provider = rustls::crypto::ring::default_provider();
        let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .expect("TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_single_cert(vec![certificate.cert.der().clone()], key)
            .expect("server certificate");
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
        let address = listener.local_addr().expect("listener address");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            for control in listener.incoming().take(MAX_REFUSED_SESSIONS) {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(control) = control {
                    // A session ringload cut short is no failure of the server's.
                    let _ = serve_refusing(control, &config);
                }
            }
        });
        RefusingServer {
            address,
            ca,
            stop,
            thread: Some(thread),
            _dir: dir,
        }
    }
}

impl Drop for RefusingServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept, which then sees the stop.
        let _ = TcpStream::connect(self.address);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One line of a command, read a byte at a time so that nothing after it is consumed.
fn read_command(stream: &mut impl Read) -> io::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8];
    while line.len() < 1024 {
        stream.read_exact(&mut byte)?;
        if byte[0] == b'\n' {
            return Ok(String::from_utf8_lossy(&line).trim_end().to_string());
        }
        line.push(byte[0]);
    }
    Err(io::Error::other("command line too long"))
}

/// One session of the refusing server: explicit FTPS up to the first data connection.
fn serve_refusing(mut control: TcpStream, config: &Arc<ServerConfig>) -> io::Result<()> {
    control.set_read_timeout(Some(REFUSING_TIMEOUT))?;
    control.write_all(b"220 refusing FTPS server\r\n")?;
    if read_command(&mut control)? != "AUTH TLS" {
        return control.write_all(b"530 Please login with USER and PASS.\r\n");
    }
    control.write_all(b"234 Proceed with negotiation.\r\n")?;
    let connection = ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
    let mut control = StreamOwned::new(connection, control);
    let mut passive = None;
    loop {
        let command = read_command(&mut control)?;
        let verb = command.split(' ').next().unwrap_or_default();
        let reply = match verb {
            "USER" => "230 Login successful.".to_string(),
            "PBSZ" => "200 PBSZ set to 0.".to_string(),
            "PROT" => "200 PROT now Private.".to_string(),
            "TYPE" => "200 Switching to Binary mode.".to_string(),
            "PASV" => {
                let listener = TcpListener::bind("127.0.0.1:0")?;
                let port = listener.local_addr()?.port();
                passive = Some(listener);
                format!(
                    "227 Entering Passive Mode (127,0,0,1,{},{}).",
                    port >> 8,
                    port & 0xff
                )
            }
            "RETR" | "STOR" => {
                let listener = passive.take().ok_or_else(|| io::Error::other("no PASV"))?;
                control.write_all(b"150 Ok.\r\n")?;
                // ringload connected right after PASV: the connection is waiting.
                let (mut data, _) = listener.accept()?;
                data.set_read_timeout(Some(REFUSING_TIMEOUT))?;
                let mut tls =
                    ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
                while tls.is_handshaking() {
                    tls.complete_io(&mut data)?;
                }
                assert_eq!(tls.handshake_kind(), Some(HandshakeKind::Full));
                tls.send_close_notify();
                tls.complete_io(&mut data)?;
                drop(data);
                control.write_all(format!("{REUSE_REFUSAL}\r\n").as_bytes())?;
                return Ok(());
            }
            "QUIT" => return control.write_all(b"221 Goodbye.\r\n"),
            _ => "502 Command not implemented.".to_string(),
        };
        control.write_all(format!("{reply}\r\n").as_bytes())?;
    }
}

#[test]
fn data_connections_that_do_not_resume_are_counted_with_the_refusal() {
    let server = RefusingServer::start();
    let address = server.address.to_string();
    let ca = server.ca.to_str().expect("a UTF-8 temporary path");
    // The upload is larger than the socket buffers take: its writes fail once the server has
    // closed the data connection, and the reply still names the cause.
    for (scenario, step, flags) in [
        ("retr", "RETR", ["--file", "file-4k"]),
        ("stor", "STOR", ["--size", "16000000"]),
    ] {
        let output = ringload(
            &[
                &["ftp", &address, "--tls", "--tls-ca", ca, "--json"][..],
                &[
                    "--scenario",
                    scenario,
                    "--sessions",
                    "1",
                    "--duration",
                    "0.3",
                ],
                &flags,
            ]
            .concat(),
        );
        assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
        let failed = report["sessions_failed"].as_u64().expect("sessions_failed");
        assert!(failed > 0, "{report:#}");
        assert_eq!(report["tls_data_not_resumed"], failed, "{report:#}");
        let class = format!("reply_522_after_{}", step.to_lowercase());
        assert_eq!(report["errors"][&class], failed, "{report:#}");
        assert_eq!(
            report["error_texts"][&class],
            format!("{REUSE_REFUSAL} (after {step})"),
            "{report:#}"
        );
    }
}
