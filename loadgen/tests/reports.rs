//! End to end over loopback: reports people read (`ringload report` pages of several runs, progress lines, `--raw` files, open-loop FTP) from runs against real ringd processes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{assert_matches_schema, describe, ringd_binary, ringload};
use ringd_sys::test_dirs::TempDir;

mod common;
#[path = "../src/html/well_formed.rs"]
mod well_formed;

use well_formed::assert_well_formed;

/// Longest wait for ringd's readiness line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running ringd serving NTP and anonymous FTP on ephemeral loopback ports; killed on drop.
struct Ringd {
    child: Child,
    ntp: String,
    ftp: String,
    _dir: TempDir,
}

/// The first address the ready line gives for `service` (` ntp=ADDR,...`).
fn address_of(ready: &str, service: &str) -> String {
    ready
        .split(&format!(" {service}="))
        .nth(1)
        .and_then(|rest| rest.split([',', ' ']).next())
        .unwrap_or_else(|| panic!("no {service} address on {ready:?}"))
        .to_string()
}

impl Ringd {
    fn start(name: &str) -> Ringd {
        let dir = TempDir::new(&format!("ringload-reports-{name}"));
        let anon_root = dir.join("anon");
        std::fs::create_dir_all(&anon_root).expect("anonymous root");
        let ntp_conf = dir.write(
            "chrony.conf",
            "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 10\n",
        );
        let ftp_conf = dir.write(
            "vsftpd.conf",
            format!(
                "listen=YES\nlisten_address=127.0.0.1\nlisten_port=0\nanonymous_enable=YES\n\
                 local_enable=NO\nanon_root={}\npasv_min_port=0\npasv_max_port=0\n\
                 ftp_username=nobody\n",
                anon_root.display()
            ),
        );
        let mut child = Command::new(ringd_binary())
            .arg("--ntp-conf")
            .arg(&ntp_conf)
            .arg("--ftp-conf")
            .arg(&ftp_conf)
            .args(["--shards", "1", "--control-socket"])
            .arg(dir.join("ringd.sock"))
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
            ntp: address_of(&ready, "ntp"),
            ftp: address_of(&ready, "ftp"),
            _dir: dir,
        }
    }
}

impl Drop for Ringd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

/// Runs `ringload` with `args` and `--json`, and keeps its document in `path`.
fn json_run(args: &[&str], path: &Path) -> serde_json::Value {
    let output = ringload(&[args, &["--json"]].concat());
    let document: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", describe(&output)));
    assert_matches_schema(&document);
    std::fs::write(path, &output.stdout).expect("document written");
    document
}

#[test]
fn one_page_draws_two_servers_ntp_runs_with_one_legend_name_each() {
    let (first, second) = (Ringd::start("ntp-a"), Ringd::start("ntp-b"));
    let dir = TempDir::new("ringload-report-ntp");
    let (a, b, page) = (dir.join("a.json"), dir.join("b.json"), dir.join("p.html"));
    for (server, path) in [(&first.ntp, &a), (&second.ntp, &b)] {
        let document = json_run(&["ntp", server, "--rate", "500", "--duration", "0.3"], path);
        assert!(document["answered"].as_u64() > Some(0), "{document:#}");
    }
    let output = ringload(&[
        "report",
        text(&page),
        text(&a),
        text(&b),
        "--label",
        "ringd <first>",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let html = std::fs::read_to_string(&page).expect("the page");
    assert_well_formed(&html);
    assert_eq!(html.matches("<svg").count(), 2, "round trip and response");
    // The first run by its label, the second by its target, in the legend of both charts.
    assert_eq!(html.matches(">ringd &lt;first&gt;</text>").count(), 2);
    assert_eq!(html.matches(&format!(">{}</text>", second.ntp)).count(), 2);
    assert!(html.contains("Server response time T3 − T2"));
    assert!(html.contains("NTP clients subtract it"));
}

#[test]
fn documents_of_different_kinds_are_refused_naming_the_file() {
    let ringd = Ringd::start("kinds");
    let dir = TempDir::new("ringload-report-kinds");
    let (ntp, ftp, page) = (
        dir.join("ntp.json"),
        dir.join("ftp.json"),
        dir.join("p.html"),
    );
    json_run(
        &["ntp", &ringd.ntp, "--rate", "200", "--duration", "0.2"],
        &ntp,
    );
    json_run(
        &["ftp", &ringd.ftp, "--sessions", "2", "--duration", "0.3"],
        &ftp,
    );
    let output = ringload(&["report", text(&page), text(&ntp), text(&ftp)]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ftp.json is an ftp document"), "{stderr}");
    assert!(!page.exists());
}

#[test]
fn ftp_runs_of_two_servers_share_the_step_charts_in_session_order() {
    let (first, second) = (Ringd::start("ftp-a"), Ringd::start("ftp-b"));
    let dir = TempDir::new("ringload-report-ftp");
    let (a, b, page) = (dir.join("a.json"), dir.join("b.json"), dir.join("p.html"));
    let mut greetings = Vec::new();
    for (server, path) in [(&first.ftp, &a), (&second.ftp, &b)] {
        let document = json_run(
            &["ftp", server, "--sessions", "2", "--duration", "0.5"],
            path,
        );
        assert!(
            document["sessions_completed"].as_u64() > Some(0),
            "{document:#}"
        );
        greetings.push(
            document["greeting"]
                .as_str()
                .expect("a greeting")
                .to_string(),
        );
    }
    let output = ringload(&[
        "report",
        text(&page),
        text(&a),
        text(&b),
        "--label",
        "first",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let html = std::fs::read_to_string(&page).expect("the page");
    assert_well_formed(&html);
    assert_eq!(html.matches(">first</text>").count(), 2);
    // Without a --label, a server is named by its greeting.
    assert!(!greetings[1].is_empty());
    assert_eq!(
        html.matches(&format!(">{}</text>", greetings[1])).count(),
        2,
        "{html}"
    );
    assert!(html.contains("Closed-loop latencies"));
    let position = |step: &str| {
        html.find(&format!(">{step}</text>"))
            .unwrap_or_else(|| panic!("{step} on the page"))
    };
    assert!(position("connect-to-220") < position("USER"));
    assert!(position("USER") < position("PASS"));
    assert!(position("PASS") < position("QUIT"));
}

/// The progress lines in `stderr`, each checked to carry the offered and answered counts.
fn progress_lines(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|line| line.contains(" s: offered "))
        .inspect(|line| assert!(line.contains("answered"), "{line}"))
        .map(str::to_string)
        .collect()
}

#[test]
fn progress_lines_come_once_a_second_on_stderr_only_when_asked() {
    let ringd = Ringd::start("progress");
    let ntp = ringload(&[
        "ntp",
        &ringd.ntp,
        "--rate",
        "400",
        "--duration",
        "2.2",
        "--json",
        "--progress",
    ]);
    let document: serde_json::Value =
        serde_json::from_slice(&ntp.stdout).unwrap_or_else(|_| panic!("{}", describe(&ntp)));
    let lines = progress_lines(&ntp.stderr);
    assert!(lines.len() >= 2, "{}", describe(&ntp));
    assert!(lines[0].starts_with("ringload: 1 s: offered "), "{lines:?}");
    assert!(lines[1].starts_with("ringload: 2 s: offered "), "{lines:?}");
    assert!(lines[1].contains("requests offered"), "{lines:?}");
    assert!(document["answered"].as_u64() > Some(0));

    let ftp = ringload(&[
        "ftp",
        &ringd.ftp,
        "--sessions",
        "2",
        "--duration",
        "1.3",
        "--progress",
    ]);
    let lines = progress_lines(&ftp.stderr);
    assert!(!lines.is_empty(), "{}", describe(&ftp));
    assert!(lines[0].contains("sessions offered"), "{lines:?}");
    assert!(lines[0].contains("% failed"), "{lines:?}");
    assert!(
        progress_lines(&ftp.stdout).is_empty(),
        "stdout is the report only"
    );

    let quiet = ringload(&["ntp", &ringd.ntp, "--rate", "200", "--duration", "1.2"]);
    assert!(
        progress_lines(&quiet.stderr).is_empty(),
        "stderr is not a terminal: {}",
        describe(&quiet)
    );
}

/// The rows of a `--raw` file after its header, split into their three fields.
fn raw_rows(path: &Path) -> Vec<(i128, Option<i128>, String)> {
    let text = std::fs::read_to_string(path).expect("the raw file");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("send_unix_ns,latency_ns,outcome"));
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), 3, "{line}");
            (
                fields[0].parse().expect("a send time"),
                (!fields[1].is_empty()).then(|| fields[1].parse().expect("a latency")),
                fields[2].to_string(),
            )
        })
        .collect()
}

#[test]
fn raw_files_hold_one_line_per_request_and_per_session() {
    let ringd = Ringd::start("raw");
    let dir = TempDir::new("ringload-raw");
    let (ntp_raw, ftp_raw) = (dir.join("ntp.csv"), dir.join("ftp.csv"));
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos() as i128;
    let ntp = json_run(
        &[
            "ntp",
            &ringd.ntp,
            "--rate",
            "500",
            "--duration",
            "0.4",
            "--raw",
            text(&ntp_raw),
        ],
        &dir.join("ntp.json"),
    );
    let rows = raw_rows(&ntp_raw);
    let answered = ntp["answered"].as_u64().expect("answered");
    assert!(answered > 0, "{ntp:#}");
    let ok = rows
        .iter()
        .filter(|(_, _, outcome)| outcome == "ok")
        .count() as u64;
    assert_eq!(ok, answered);
    let lost = rows
        .iter()
        .filter(|(_, _, outcome)| outcome == "lost")
        .count() as u64;
    assert_eq!(ok + lost, ntp["sent"].as_u64().expect("sent"), "{ntp:#}");
    for (sent, latency, outcome) in &rows {
        assert!(*sent >= before - 1_000_000, "{sent} before the run");
        assert_eq!(latency.is_some(), outcome != "lost");
        assert!(latency.is_none_or(|l| l > 0 && l < 1_000_000_000));
    }

    let ftp = json_run(
        &[
            "ftp",
            &ringd.ftp,
            "--sessions",
            "2",
            "--duration",
            "0.4",
            "--raw",
            text(&ftp_raw),
        ],
        &dir.join("ftp.json"),
    );
    let rows = raw_rows(&ftp_raw);
    let completed = ftp["sessions_completed"].as_u64().expect("completed");
    let failed = ftp["sessions_failed"].as_u64().expect("failed");
    assert!(completed > 0, "{ftp:#}");
    assert_eq!(rows.len() as u64, completed + failed);
    assert_eq!(
        rows.iter()
            .filter(|(_, _, outcome)| outcome == "ok")
            .count() as u64,
        completed
    );
    assert!(rows.iter().all(|(_, latency, _)| latency.is_some()));
}

#[test]
fn an_open_loop_starts_sessions_on_schedule_and_times_them_from_it() {
    let ringd = Ringd::start("open-loop");
    let dir = TempDir::new("ringload-open-loop");
    let raw = dir.join("sessions.csv");
    let report = json_run(
        &[
            "ftp",
            &ringd.ftp,
            "--open-loop-rate",
            "40",
            "--sessions",
            "4",
            "--duration",
            "0.5",
            "--raw",
            text(&raw),
        ],
        &dir.join("open.json"),
    );
    assert_eq!(report["open_loop_rate"], 40.0, "{report:#}");
    let started = report["sessions_completed"].as_u64().unwrap()
        + report["sessions_failed"].as_u64().unwrap();
    let dropped = report["dropped_too_many_in_flight"].as_u64().unwrap();
    assert_eq!(
        started + dropped,
        20,
        "every scheduled session is accounted for"
    );
    assert!(
        report["sessions_completed"].as_u64() > Some(0),
        "{report:#}"
    );
    assert_eq!(report["latency_us"]["session"]["count"], started);
    // The raw send times follow the schedule: 25 ms apart, whatever the sessions took.
    let mut sends: Vec<i128> = raw_rows(&raw).iter().map(|row| row.0).collect();
    sends.sort_unstable();
    assert_eq!(sends.len() as u64, started);
    for pair in sends.windows(2) {
        assert_eq!((pair[1] - pair[0]) % 25_000_000, 0, "{sends:?}");
    }

    let closed = ringload(&["ftp", &ringd.ftp, "--sessions", "2", "--duration", "0.3"]);
    let table = String::from_utf8_lossy(&closed.stdout);
    assert!(table.contains("closed loop"), "{}", describe(&closed));
    assert!(table.contains("coordinated omission"), "{table}");
}

#[test]
fn an_open_loop_against_a_stalled_server_drops_what_it_cannot_start() {
    // Accepted by the kernel, never greeted: every session stalls until its timeout.
    let stalled = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
    let address = stalled.local_addr().expect("its address").to_string();
    let output = ringload(&[
        "ftp",
        &address,
        "--open-loop-rate",
        "20",
        "--sessions",
        "2",
        "--duration",
        "0.5",
        "--timeout",
        "1",
        "--json",
    ]);
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", describe(&output)));
    assert_eq!(report["sessions_completed"], 0, "{report:#}");
    assert_eq!(report["sessions_failed"], 2, "{report:#}");
    assert_eq!(report["dropped_too_many_in_flight"], 8, "{report:#}");
    // Timed from the scheduled start, the stall shows in full.
    let session_p50 = report["latency_us"]["session"]["p50"].as_f64().unwrap();
    assert!(session_p50 >= 1_000_000.0, "{report:#}");
}
