//! FTP over TLS (explicit, RFC 4217, and implicit) with real clients: curl, python3's
//! ftplib.FTP_TLS and lftp, against certificates the test makes.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::ftp_client::Control;
use common::{give_to_session_user, Ringd, TempDir, SESSION_USER_CONF};

/// A self-signed certificate for localhost and its key, as PEM files in `dir`; the
/// certificate's DER bytes, to recognise it at the other end.
fn write_certificate(dir: &Path) -> Vec<u8> {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("cert.pem"), made.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), made.signing_key.serialize_pem()).unwrap();
    made.cert.der().to_vec()
}

/// Anonymous FTP over TLS of a root with `pub/data.bin` and an `upload/` directory, plus
/// `extra` options.
fn start(extra: &str) -> (Ringd, Vec<u8>) {
    let dir = TempDir::new("ftp-tls");
    write_certificate(dir.path());
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("pub")).unwrap();
    std::fs::create_dir_all(root.join("upload")).unwrap();
    give_to_session_user(&root.join("upload"));
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(root.join("pub/data.bin"), &data).unwrap();
    let conf = format!(
        "listen=YES\nlisten_address=127.0.0.1\nlisten_port=0\nanonymous_enable=YES\n\
         local_enable=NO\nanon_root={}\nwrite_enable=YES\nanon_upload_enable=YES\n\
         anon_umask=022\npasv_min_port=0\npasv_max_port=0\n{SESSION_USER_CONF}\
         ssl_enable=YES\nrsa_cert_file={}\nrsa_private_key_file={}\nallow_anon_ssl=YES\n\
         force_anon_data_ssl=YES\n{extra}",
        root.display(),
        cert.display(),
        key.display(),
    );
    (Ringd::start_ftp(dir, &conf, &["--shards", "2"], 1), data)
}

/// python3 connecting to the server named by its arguments, through AUTH TLS, not checking the
/// test's self-signed certificate.
const TLS_CONNECT: &str = r#"
import ftplib, ssl, sys
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
ftp = ftplib.FTP_TLS(context=context, timeout=10)
ftp.connect(sys.argv[1], int(sys.argv[2]))
ftp.auth()
"#;

/// Runs `script` in python3 after [`TLS_CONNECT`] has connected to `addr` over TLS.
fn python_over_tls(addr: std::net::SocketAddr, script: &str) -> Output {
    Command::new("python3")
        .arg("-c")
        .arg([TLS_CONNECT, script].concat())
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .output()
        .unwrap()
}

fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["-s", "-S", "--max-time", "20", "--ssl-reqd", "-k"])
        .args(args)
        .output()
        .expect("curl runs")
}

#[test]
fn curl_lists_downloads_resumes_and_uploads_over_tls() {
    let (ringd, data) = start("");
    let addr = ringd.ftp_addrs[0];
    let listing = curl(&[&format!("ftp://{addr}/pub/")]);
    assert!(listing.status.success(), "{listing:?}");
    assert!(String::from_utf8_lossy(&listing.stdout).contains(" data.bin"));

    let got = curl(&[&format!("ftp://{addr}/pub/data.bin")]);
    assert!(got.status.success(), "{got:?}");
    assert_eq!(got.stdout, data, "the download arrives whole");
    let resumed = curl(&["-C", "1000000", &format!("ftp://{addr}/pub/data.bin")]);
    assert_eq!(resumed.stdout, data[1_000_000..], "REST over TLS");

    let dir = TempDir::new("curl-tls");
    let local = dir.write("up.bin", &data[..777_777]);
    let put = curl(&[
        "-T",
        &local.display().to_string(),
        &format!("ftp://{addr}/upload/up.bin"),
    ]);
    assert!(put.status.success(), "{put:?}");
    let back = curl(&[&format!("ftp://{addr}/upload/up.bin")]);
    assert_eq!(back.stdout, data[..777_777], "the upload round-trips");

    // TLS for the login only (PROT C): refused, as force_anon_data_ssl says.
    let clear = Command::new("curl")
        .args(["-s", "-S", "--max-time", "20", "--ftp-ssl-control", "-k"])
        .arg(format!("ftp://{addr}/pub/data.bin"))
        .output()
        .unwrap();
    assert!(!clear.status.success());
    assert!(
        String::from_utf8_lossy(&clear.stderr).contains("522"),
        "{clear:?}"
    );
    ringd.stop();
}

#[test]
fn curl_over_implicit_tls() {
    let (ringd, data) = start("implicit_ssl=YES\n");
    let addr = ringd.ftp_addrs[0];
    let listing = curl(&[&format!("ftps://{addr}/pub/")]);
    assert!(listing.status.success(), "{listing:?}");
    assert!(String::from_utf8_lossy(&listing.stdout).contains(" data.bin"));
    let got = curl(&[&format!("ftps://{addr}/pub/data.bin")]);
    assert_eq!(got.stdout, data, "{got:?}");
    let resumed = curl(&["-C", "2000000", &format!("ftps://{addr}/pub/data.bin")]);
    assert_eq!(resumed.stdout, data[2_000_000..], "REST over implicit TLS");
    let dir = TempDir::new("curl-implicit");
    let local = dir.write("up.bin", &data[..123_457]);
    let put = curl(&[
        "-T",
        &local.display().to_string(),
        &format!("ftps://{addr}/upload/up.bin"),
    ]);
    assert!(put.status.success(), "{put:?}");
    let back = curl(&[&format!("ftps://{addr}/upload/up.bin")]);
    assert_eq!(back.stdout, data[..123_457], "the upload round-trips");
    // A plain FTP client gets no greeting it can read: the port speaks TLS.
    let plain = Command::new("curl")
        .args(["-s", "-S", "--max-time", "10"])
        .arg(format!("ftp://{addr}/pub/"))
        .output()
        .unwrap();
    assert!(!plain.status.success(), "{plain:?}");
    ringd.stop();
}

#[test]
fn a_client_silent_on_the_implicit_port_is_closed_after_the_idle_timeout() {
    use std::io::Read;
    let (ringd, _) = start("implicit_ssl=YES\nidle_session_timeout=1\n");
    let mut socket = std::net::TcpStream::connect(ringd.ftp_addrs[0]).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    // No greeting comes before a handshake; the server gives up waiting for one.
    let mut byte = [0u8; 1];
    // A signal to the test process (another test's child exiting) interrupts the read.
    let read = loop {
        match socket.read(&mut byte) {
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            other => break other.unwrap(),
        }
    };
    assert_eq!(read, 0, "closed, nothing sent");
    ringd.stop();
}

/// A CA and a client certificate it issued (`ca.pem`, `client.pem`, `client.key`), and a
/// self-signed client certificate no CA knows (`stranger.pem`, `stranger.key`), in `dir`.
fn write_client_certificates(dir: &Path) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "ringd test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca, ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    let client = |name: &str| {
        let mut params = rcgen::CertificateParams::new(vec![format!("{name}.example")]).unwrap();
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        (params, rcgen::KeyPair::generate().unwrap())
    };
    let (params, key) = client("client");
    let issued = params.signed_by(&key, &ca).unwrap();
    std::fs::write(dir.join("client.pem"), issued.pem()).unwrap();
    std::fs::write(dir.join("client.key"), key.serialize_pem()).unwrap();
    let (params, key) = client("stranger");
    let stranger = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("stranger.pem"), stranger.pem()).unwrap();
    std::fs::write(dir.join("stranger.key"), key.serialize_pem()).unwrap();
}

/// curl downloading `pub/data.bin` over explicit TLS, showing `certificate` (a name in
/// `dir`) if any.
fn curl_with_certificate(
    addr: std::net::SocketAddr,
    dir: &Path,
    certificate: Option<&str>,
) -> Output {
    let files = certificate.map(|name| {
        (
            dir.join(format!("{name}.pem")).display().to_string(),
            dir.join(format!("{name}.key")).display().to_string(),
        )
    });
    let mut args = Vec::new();
    if let Some((cert, key)) = &files {
        args.extend(["--cert", cert.as_str(), "--key", key.as_str()]);
    }
    let url = format!("ftp://{addr}/pub/data.bin");
    args.push(&url);
    curl(&args)
}

#[test]
fn client_certificates_are_required_and_checked_against_ca_certs_file() {
    let certificates = TempDir::new("ftp-client-certs");
    write_client_certificates(certificates.path());
    let ca = certificates.join("ca.pem");
    let (ringd, data) = start(&format!(
        "require_cert=YES\nvalidate_cert=YES\nca_certs_file={}\n",
        ca.display()
    ));
    let addr = ringd.ftp_addrs[0];
    // The data connection resumes the session, and with it the certificate it was proved by.
    let issued = curl_with_certificate(addr, certificates.path(), Some("client"));
    assert_eq!(issued.stdout, data, "{issued:?}");
    // Refused with the TLS alert that says why, as vsftpd (OpenSSL) refuses them.
    for (refused, alert) in [
        (None, "alert certificate required"),
        (Some("stranger"), "alert unknown ca"),
    ] {
        let output = curl_with_certificate(addr, certificates.path(), refused);
        assert!(!output.status.success(), "{refused:?}: {output:?}");
        assert!(output.stdout.is_empty(), "{refused:?}");
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(said.contains(alert), "{refused:?}: {said}");
    }
    ringd.stop();
    // Without validate_cert any certificate whose key the client holds is taken, as vsftpd
    // takes it; require_cert still wants one.
    let (ringd, data) = start("require_cert=YES\n");
    let addr = ringd.ftp_addrs[0];
    let stranger = curl_with_certificate(addr, certificates.path(), Some("stranger"));
    assert_eq!(stranger.stdout, data, "{stranger:?}");
    let none = curl_with_certificate(addr, certificates.path(), None);
    assert!(!none.status.success(), "{none:?}");
    ringd.stop();
}

#[test]
fn a_data_connection_showing_another_certificate_is_refused() {
    let certificates = TempDir::new("ftp-client-cert-swap");
    write_client_certificates(certificates.path());
    let (ringd, _) = start("require_ssl_reuse=NO\n");
    let dir = certificates.path().display().to_string();
    // ftplib's data connections use `ftp.context`: swapped after login, the data connection
    // shows the stranger's certificate instead of the client's.
    let script = r#"
import ftplib, ssl, sys
def context(name):
    made = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    made.check_hostname = False
    made.verify_mode = ssl.CERT_NONE
    made.load_cert_chain(f"{sys.argv[3]}/{name}.pem", f"{sys.argv[3]}/{name}.key")
    return made
ftp = ftplib.FTP_TLS(context=context("client"), timeout=10)
ftp.connect(sys.argv[1], int(sys.argv[2]))
ftp.auth()
ftp.login()
ftp.prot_p()
print(" ".join(ftp.nlst("pub")))
ftp.context = context("stranger")
try:
    ftp.nlst("pub")
except ftplib.Error as reply:
    # The data connection ended with close_notify; the reply says why.
    print("refused:", reply)
print(ftp.voidcmd("NOOP"))
"#;
    let addr = ringd.ftp_addrs[0];
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args([addr.ip().to_string(), addr.port().to_string(), dir])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "pub/data.bin\nrefused: 522 SSL connection failed\n200 NOOP ok.",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    ringd.stop();
}

#[test]
fn abor_over_tls_ends_a_download_at_once() {
    // 3 MB at 50 kB/s: only ABOR ends the transfer within the client's 10 s timeout.
    let (ringd, _) = start("require_ssl_reuse=NO\nanon_max_rate=50000\n");
    let output = python_over_tls(
        ringd.ftp_addrs[0],
        r#"
ftp.login()
ftp.prot_p()
data = ftp.transfercmd("RETR pub/data.bin")
data.recv(1000)
# ftplib's abort() sends urgent data, which a TLS socket cannot: the command goes as any other.
ftp.putcmd("ABOR")
print(ftp.getline())
print(ftp.getline())
print(ftp.voidcmd("NOOP"))
"#,
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "426 Failure writing network stream.\n226 ABOR successful.\n200 NOOP ok.",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    ringd.stop();
}

/// python3's ftplib.FTP_TLS does not resume the control connection's TLS session on data
/// connections: vsftpd (require_ssl_reuse=YES, its default) ends the session, and serves it with
/// require_ssl_reuse=NO. `expect` is what the script prints.
fn ftplib_tls(addr: std::net::SocketAddr, expect: &str) {
    let output = python_over_tls(
        addr,
        r#"
ftp.login()
ftp.prot_p()
try:
    print(" ".join(ftp.nlst("pub")))
except ftplib.Error as reply:
    # The data connection ended with close_notify; the reply says why.
    print("refused:", reply)
"#,
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        printed.trim(),
        expect,
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn data_connections_must_resume_the_control_session_unless_told_otherwise() {
    let (ringd, _) = start("");
    ftplib_tls(
        ringd.ftp_addrs[0],
        "refused: 522 SSL connection failed: session reuse required",
    );
    ringd.stop();
    let (ringd, _) = start("require_ssl_reuse=NO\n");
    ftplib_tls(ringd.ftp_addrs[0], "pub/data.bin");
    ringd.stop();
}

/// An ftplib client that resumes a chosen TLS session on its data connections, as curl and
/// lftp resume the control connection's (ftplib itself resumes none).
const RESUMING_CLIENT: &str = r#"
class Resuming(ftplib.FTP_TLS):
    session = None
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.session)
        self.resumed = conn.session_reused
        return conn, size
def logged_in():
    client = Resuming(context=context, timeout=10)
    client.connect(sys.argv[1], int(sys.argv[2]))
    client.auth()
    client.login()
    client.prot_p()
    client.session = client.sock.session
    return client
"#;

#[test]
fn every_data_connection_resumes_the_control_session_and_no_other_session() {
    // TLS 1.3 tickets; TLS 1.2 tickets; TLS 1.2 session IDs (the client refuses tickets).
    for (server, client, version) in [
        ("", "", "TLSv1.3"),
        ("ssl_tlsv1_3=NO\n", "", "TLSv1.2"),
        (
            "ssl_tlsv1_3=NO\n",
            "context.options |= ssl.OP_NO_TICKET\n",
            "TLSv1.2",
        ),
    ] {
        let (ringd, _) = start(server);
        let output = python_over_tls(
            ringd.ftp_addrs[0],
            &[
                RESUMING_CLIENT,
                client,
                r#"
first = logged_in()
print(first.sock.version())
# OpenSSL clients offer the same TLS 1.3 ticket again for each data connection.
for _ in range(3):
    print(" ".join(first.nlst("pub")), first.resumed)
# Another session's data port, resumed with the first session's ticket: refused.
second = logged_in()
second.session = first.session
try:
    second.nlst("pub")
except ftplib.Error as reply:
    print("refused:", reply)
# As vsftpd's, the refused session ends; the first goes on.
try:
    second.voidcmd("NOOP")
except (EOFError, OSError):
    print("second session ended")
print(first.voidcmd("NOOP"))
"#,
            ]
            .concat(),
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            format!(
                "{version}\n{}refused: 522 SSL connection failed: session reuse required\n\
                 second session ended\n200 NOOP ok.",
                "pub/data.bin True\n".repeat(3)
            ),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        ringd.stop();
    }
}

#[test]
fn a_plain_text_login_that_must_use_tls_is_refused_with_vsftpds_text() {
    let (ringd, _) = start("local_enable=YES\nvirtual_users_file=/dev/null\nguest_enable=YES\n");
    let mut control = Control::connect(ringd.ftp_addrs[0]);
    let features = control.command("FEAT");
    assert!(
        features.starts_with("211-Features:\r\n AUTH TLS\r\n")
            && features.contains("\r\n PBSZ\r\n PROT\r\n"),
        "{features}"
    );
    assert_eq!(
        control.command("USER alice"),
        "530 Non-anonymous sessions must use encryption.\r\n"
    );
    control.expect_eof();
    ringd.stop();
}

#[test]
fn commands_sent_in_the_clear_after_auth_end_the_session() {
    let (ringd, _) = start("");
    let mut control = Control::connect(ringd.ftp_addrs[0]);
    // A man in the middle's injection: USER would otherwise run as if it came over TLS.
    control.send(b"AUTH TLS\r\nUSER anonymous\r\n");
    assert_eq!(control.reply(), "234 Proceed with negotiation.\r\n");
    control.expect_eof();
    ringd.stop();
}

#[test]
fn lftp_with_ssl_force_and_protected_data() {
    if Command::new("lftp").arg("--version").output().is_err() {
        println!("skipped: lftp is not installed (CI installs it)");
        return;
    }
    let (ringd, data) = start("");
    let addr = ringd.ftp_addrs[0];
    let dir = TempDir::new("lftp-tls");
    let target = dir.join("got.bin");
    let output = Command::new("lftp")
        .arg("-c")
        .arg(format!(
            "set ftp:ssl-force true; set ftp:ssl-protect-data true; \
             set ssl:verify-certificate false; set net:max-retries 1; set net:timeout 10; \
             open -u anonymous,guest@ ftp://{}:{}; get pub/data.bin -o {}",
            addr.ip(),
            addr.port(),
            target.display()
        ))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(std::fs::read(&target).unwrap(), data);
    ringd.stop();
}

/// The certificate a TLS control connection to `addr` shows, in DER.
fn served_certificate(addr: std::net::SocketAddr) -> Vec<u8> {
    let output = python_over_tls(
        addr,
        "sys.stdout.buffer.write(ftp.sock.getpeercert(binary_form=True))\n",
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
fn a_reload_reads_the_certificate_again() {
    let (ringd, _) = start("");
    let addr = ringd.ftp_addrs[0];
    let dir = ringd.file("cert.pem").parent().unwrap().to_path_buf();
    let first = served_certificate(addr);
    // A renewal, as certbot makes it: new files in the same place.
    let renewed = write_certificate(&dir);
    assert_ne!(first, renewed);
    assert_eq!(served_certificate(addr), first, "until the reload");
    let reloaded = ringd.ringctl(&["reload"]);
    assert!(reloaded.status.success(), "{reloaded:?}");
    assert_eq!(served_certificate(addr), renewed);
    // A broken key is refused by the reload, which keeps the running certificate.
    std::fs::write(dir.join("key.pem"), "not a key").unwrap();
    let refused = ringd.ringctl(&["reload"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("rsa_private_key_file"),
        "{refused:?}"
    );
    assert_eq!(served_certificate(addr), renewed);
    ringd.stop();
}

#[test]
fn check_reads_the_certificate() {
    let dir = TempDir::new("ftp-tls-check");
    let conf = dir.write(
        "vsftpd.conf",
        format!(
            "listen_port=0\nanonymous_enable=YES\nanon_root={}\nssl_enable=YES\n\
             rsa_cert_file={}\n",
            dir.path().display(),
            dir.join("missing.pem").display()
        ),
    );
    let output = Command::new(env!("CARGO_BIN_EXE_ringd"))
        .arg("--ftp-conf")
        .arg(&conf)
        .arg("--check")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains(&format!(
            "{}: FTP over TLS (ssl_enable=YES): rsa_cert_file {}: ",
            conf.display(),
            dir.join("missing.pem").display()
        )) && log.contains("give a PEM file holding the server's certificate chain"),
        "{log}"
    );
}

#[test]
fn debug_ssl_logs_each_handshake_as_vsftpd_does() {
    let logs = TempDir::new("ftp-tls-debug");
    let log = logs.join("vsftpd.log");
    let (ringd, data) = start(&format!(
        "debug_ssl=YES\nxferlog_enable=YES\nvsftpd_log_file={}\n",
        log.display()
    ));
    let addr = ringd.ftp_addrs[0];
    let got = curl(&["--tlsv1.3", &format!("ftp://{addr}/pub/data.bin")]);
    assert_eq!(got.stdout, data, "{got:?}");
    ringd.stop();
    let log = std::fs::read_to_string(&log).unwrap();
    let suite = "SSL version: TLSv1.3, SSL cipher: TLS_AES_256_GCM_SHA384";
    // The control connection's, before login; the data connection's, resumed, after.
    assert!(
        log.contains(&format!(
            "] DEBUG: Client \"127.0.0.1\", \"{suite}, not reused, no cert\"\n"
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "] [nobody] DEBUG: Client \"127.0.0.1\", \"{suite}, reused, no cert\"\n"
        )),
        "{log}"
    );
}

#[test]
fn ascii_mode_rate_limits_atomic_uploads_and_xferlog_work_over_tls() {
    let logs = TempDir::new("ftp-tls-transfers");
    let xferlog = logs.join("xferlog");
    let (ringd, data) = start(&format!(
        "ascii_upload_enable=YES\nascii_download_enable=YES\natomic_uploads=YES\n\
         anon_other_write_enable=YES\nanon_max_rate=1000000\nxferlog_enable=YES\n\
         xferlog_std_format=YES\nxferlog_file={}\n",
        xferlog.display()
    ));
    let output = python_over_tls(
        ringd.ftp_addrs[0],
        &[
            RESUMING_CLIENT,
            r#"
import io, time
ftp = logged_in()
ftp.storlines("STOR upload/text.txt", io.BytesIO(b"x\r\ny\r\n"))
ascii = []
ftp.retrlines("RETR upload/text.txt", ascii.append)
binary = io.BytesIO()
ftp.retrbinary("RETR upload/text.txt", binary.write)
print(ascii, binary.getvalue())
ftp.storbinary("STOR upload/keep.bin", io.BytesIO(b"whole"))
# An upload cut without close_notify fails, and the file keeps its old content.
conn = ftp.transfercmd("STOR upload/keep.bin")
conn.sendall(b"half" * 10000)
conn.shutdown(2)
conn.close()
print(ftp.getline())
kept = io.BytesIO()
ftp.retrbinary("RETR upload/keep.bin", kept.write)
print(kept.getvalue(), sorted(ftp.nlst("upload")))
start = time.monotonic()
ftp.retrbinary("RETR pub/data.bin", lambda block: None)
print(time.monotonic() - start)
"#,
        ]
        .concat(),
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(
        lines[..3],
        [
            "['x', 'y'] b'x\\ny\\n'",
            "426 Failure reading network stream.",
            "b'whole' ['upload/keep.bin', 'upload/text.txt']",
        ],
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // 3 MB at 1 MB/s: the limit holds over TLS as over plain connections.
    let seconds: f64 = lines[3].parse().unwrap();
    assert!(seconds > 2.7, "{seconds} s for {} bytes", data.len());
    ringd.stop();
    let transfers = std::fs::read_to_string(&xferlog).unwrap();
    let logged = |needle: &str, end: &str| {
        transfers
            .lines()
            .any(|line| line.contains(needle) && line.ends_with(end))
    };
    assert!(
        logged(&format!(" {} /pub/data.bin b _ o a ", data.len()), " c"),
        "{transfers}"
    );
    assert!(logged(" /upload/text.txt a _ i a ", " c"), "{transfers}");
    assert!(logged(" /upload/keep.bin b _ i a ", " i"), "{transfers}");
}
