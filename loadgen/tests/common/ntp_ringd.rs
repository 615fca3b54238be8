//! A ringd serving NTP on an ephemeral loopback port, for the tests that load a real server (included by path: not every test binary needs it).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ringd_sys::test_dirs::TempDir;

use crate::common::ringd_binary;

/// Longest wait for ringd's readiness line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running ringd serving NTP on an ephemeral loopback port; killed on drop.
pub struct Ringd {
    child: Child,
    pub ntp: String,
    _conf: TempDir,
}

impl Ringd {
    pub fn start() -> Ringd {
        let conf = TempDir::new("ringload-ntp-ringd");
        let path = conf.write(
            "chrony.conf",
            "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 10\n",
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
        let ntp = ready
            .split(" ntp=")
            .nth(1)
            .and_then(|rest| rest.split([',', ' ']).next())
            .expect("an NTP address on the ready line")
            .to_string();
        Ringd {
            child,
            ntp,
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
