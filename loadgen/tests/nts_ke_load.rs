//! End to end over loopback: `ringload nts-ke` and `ringload ntp --nts` against a real ringd serving NTS on ephemeral ports.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{assert_matches_schema, describe, ringd_binary, ringload};
use ringd_sys::test_dirs::TempDir;

mod common;

/// Longest wait for ringd's readiness line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A self-signed certificate for localhost, as PEM files in a directory of their own.
struct Certificate {
    dir: TempDir,
}

impl Certificate {
    fn new(tag: &str) -> Certificate {
        let made =
            rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
        let dir = TempDir::new(tag);
        dir.write("cert.pem", made.cert.pem());
        dir.write("key.pem", made.signing_key.serialize_pem());
        Certificate { dir }
    }

    fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }
}

/// A running ringd serving NTP and NTS-KE on ephemeral ports; killed on drop.
struct Ringd {
    child: Child,
    ntp: String,
    nts_ke: String,
    _conf: TempDir,
}

/// The first address a ready line gives for `service` (`ntp=ADDR,...`).
fn listed(line: &str, service: &str) -> Option<String> {
    line.split(&format!(" {service}="))
        .nth(1)?
        .split([',', ' '])
        .next()
        .map(str::to_string)
}

impl Ringd {
    fn start(certificate: &Certificate) -> Ringd {
        let conf = TempDir::new("ringload-nts-conf");
        let path = conf.write(
            "chrony.conf",
            format!(
                "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 10\n\
                 ntsport 0\nntsservercert {}\nntsserverkey {}\n",
                certificate.cert().display(),
                certificate.dir.join("key.pem").display()
            ),
        );
        let mut child = Command::new(ringd_binary())
            .arg("--ntp-conf")
            .arg(&path)
            .args(["--shards", "1", "--control-socket"])
            .arg(conf.join("ringd.sock"))
            .stderr(Stdio::piped())
            .spawn()
            .expect("ringd starts");
        let mut lines = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut ready = None;
        while Instant::now() < deadline {
            let Some(Ok(line)) = lines.next() else { break };
            if line.contains("ready: ") {
                ready = Some(line);
                break;
            }
        }
        let ready = ready.expect("ringd printed its ready line");
        // ringd keeps logging to stderr: drain it so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ringd {
            child,
            ntp: listed(&ready, "ntp").expect("an NTP address on the ready line"),
            nts_ke: listed(&ready, "nts-ke").expect("an NTS-KE address on the ready line"),
            _conf: conf,
        }
    }
}

impl Drop for Ringd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", describe(output)))
}

#[test]
fn nts_ke_counts_complete_checked_handshakes_and_what_they_agreed() {
    let certificate = Certificate::new("ringload-nts-ke");
    let ringd = Ringd::start(&certificate);
    let cert = certificate.cert();
    let output = ringload(&[
        "nts-ke",
        &ringd.nts_ke,
        "--nts-ca",
        cert.to_str().unwrap(),
        "--clients",
        "4",
        "--count",
        "40",
        "--duration",
        "60",
        "--json",
    ]);
    assert!(output.status.success(), "{}", describe(&output));
    let report = json(&output);
    assert_matches_schema(&report);
    assert_eq!(report["mode"], "handshakes", "{report:#}");
    assert_eq!(report["handshakes_completed"], 40, "{report:#}");
    assert_eq!(report["handshakes_failed"], 0, "{report:#}");
    assert_eq!(report["clients"], 4);
    assert_eq!(report["latency_us"]["exchange"]["count"], 40, "{report:#}");
    assert_eq!(report["latency_us"]["tls-handshake"]["count"], 40);
    assert_eq!(report["tls_version"], "TLSv1_3");
    assert_eq!(report["tls_key_exchange"], "X25519");
    assert_eq!(report["aead"], "AEAD_AES_SIV_CMAC_256");
    assert!(report["cookie_bytes"].as_u64().unwrap() > 0, "{report:#}");
}

#[test]
fn nts_ke_classes_failures_and_fails_when_none_completed() {
    let certificate = Certificate::new("ringload-nts-ke-served");
    let stranger = Certificate::new("ringload-nts-ke-stranger");
    let ringd = Ringd::start(&certificate);
    let cert = stranger.cert();
    let output = ringload(&[
        "nts-ke",
        &ringd.nts_ke,
        "--nts-ca",
        cert.to_str().unwrap(),
        "--clients",
        "2",
        "--count",
        "3",
        "--json",
    ]);
    // No handshake completed: nothing was measured.
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let report = json(&output);
    assert_matches_schema(&report);
    assert_eq!(report["handshakes_completed"], 0, "{report:#}");
    assert_eq!(report["handshakes_failed"], 3, "{report:#}");
    let errors = report["errors"].as_object().unwrap();
    assert_eq!(errors.len(), 1, "{report:#}");
    assert_eq!(report["errors"]["tls"], 3, "{report:#}");
    let text = report["error_texts"]["tls"].as_str().unwrap();
    assert!(text.starts_with("TLS: invalid peer certificate"), "{text}");
    assert!(report.get("tls_version").is_none(), "{report:#}");
}

#[test]
fn ntp_with_nts_gets_every_request_answered_authentically() {
    let certificate = Certificate::new("ringload-nts-ntp");
    let ringd = Ringd::start(&certificate);
    let cert = certificate.cert();
    let ke_port = ringd.nts_ke.rsplit(':').next().unwrap().to_string();
    let output = ringload(&[
        "ntp",
        &ringd.ntp,
        "--nts",
        "--nts-ca",
        cert.to_str().unwrap(),
        "--nts-port",
        &ke_port,
        "--rate",
        "400",
        "--duration",
        "0.5",
        "--json",
    ]);
    let report = json(&output);
    assert_matches_schema(&report);
    // A generator that fell behind its schedule (a busy machine) measured nothing: exit 2.
    let expected = if report["generator_fell_behind"] == true {
        2
    } else {
        0
    };
    assert_eq!(
        output.status.code(),
        Some(expected),
        "{}",
        describe(&output)
    );
    assert_eq!(report["sent"], 200, "{report:#}");
    assert_eq!(report["answered"], 200, "{report:#}");
    assert_eq!(report["invalid_total"], 0, "{report:#}");
}
