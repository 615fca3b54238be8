//! `ringload nts-ke`'s load: concurrent clients, one thread each, making complete NTS-KE exchanges for a fixed time or count, and their report.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::nts_ke::handshake::{exchange, Established, KeTarget};
use crate::step_stats::{
    error_lines, failed_percent, latency_table, step_p99s, Percentiles, Tally,
};
use crate::tls_trust::Negotiated;
use crate::verdict::Measured;

/// Stack of each client thread: rustls keeps its buffers on the heap.
const CLIENT_STACK: usize = 256 * 1024;
/// Pause after a failed exchange before the next, so a refusing server is not hammered in a spin.
const FAILURE_BACKOFF: Duration = Duration::from_millis(20);
/// Most exchanges one client makes, whatever the duration (a bound, not a target).
const MAX_EXCHANGES_PER_CLIENT: u64 = 100_000_000;
/// The latency steps: connect to the end of the TLS handshake, and the whole exchange.
const STEP_TLS: &str = "tls-handshake";
const STEP_EXCHANGE: &str = "exchange";
/// The AEAD every accepted answer agreed on (`check_answer` requires it).
const AEAD: &str = "AEAD_AES_SIV_CMAC_256";

/// Settings of a run.
#[derive(Debug)]
pub struct KeLoadSettings {
    pub target: KeTarget,
    /// One source address per client: their count is the concurrency.
    pub sources: Vec<SocketAddr>,
    /// Clients start no exchange after this long.
    pub duration: Duration,
    /// Exchanges to start in all, when the run ends at a count rather than at the duration.
    pub count: Option<u64>,
}

/// What one client counted.
#[derive(Default)]
struct ClientTally {
    completed: u64,
    failed: u64,
    tally: Tally,
    first: Option<(Option<Negotiated>, usize)>,
}

impl ClientTally {
    fn merge(&mut self, other: ClientTally) {
        self.completed += other.completed;
        self.failed += other.failed;
        self.tally.merge(other.tally);
        self.first = self.first.take().or(other.first);
    }
}

/// The report of a run (`--json` prints it; latencies in microseconds), shaped as
/// `ringload ftp`'s.
#[derive(Clone, Debug, Serialize)]
pub struct KeReport {
    pub server: SocketAddr,
    pub clients: usize,
    pub elapsed_s: f64,
    /// Exchanges whose answer came whole, agreed NTPv4 and AES-SIV-CMAC-256, and held 8 cookies.
    pub handshakes_completed: u64,
    pub handshakes_failed: u64,
    pub handshakes_per_s: f64,
    /// `tls-handshake` (connect to the end of the TLS handshake) and `exchange` (connect to
    /// the end of the answer), of completed exchanges.
    pub latency_us: BTreeMap<String, Percentiles>,
    pub errors_total: u64,
    /// Failed exchanges by class (`connect: connection refused`, `TLS: ...`, `answer: ...`).
    pub errors: BTreeMap<String, u64>,
    /// The text of the first failure of each class.
    pub error_texts: BTreeMap<String, String>,
    /// What the first completed exchange agreed on (absent when none completed).
    #[serde(flatten)]
    pub negotiated: Option<Negotiated>,
    pub aead: Option<&'static str>,
    /// The length of the first completed exchange's cookies.
    pub cookie_bytes: Option<usize>,
}

/// Whether a client may start another exchange: before the deadline, and while the count,
/// when there is one, has exchanges left to hand out.
fn may_start(deadline: Instant, count: Option<u64>, started: &AtomicU64) -> bool {
    if Instant::now() >= deadline {
        return false;
    }
    count.is_none_or(|count| started.fetch_add(1, Ordering::Relaxed) < count)
}

fn client_loop(
    settings: &KeLoadSettings,
    source: SocketAddr,
    deadline: Instant,
    started: &AtomicU64,
) -> ClientTally {
    let mut counts = ClientTally::default();
    for _ in 0..MAX_EXCHANGES_PER_CLIENT {
        if !may_start(deadline, settings.count, started) {
            break;
        }
        let start = Instant::now();
        match exchange(&settings.target, source) {
            Ok(Established {
                tls_handshake,
                negotiated,
                cookies,
                ..
            }) => {
                counts.tally.record(STEP_EXCHANGE, start.elapsed());
                counts.tally.record(STEP_TLS, tls_handshake);
                counts.completed += 1;
                if counts.first.is_none() {
                    counts.first = Some((negotiated, cookies[0].len()));
                }
            }
            Err(failure) => {
                counts.failed += 1;
                counts.tally.error(failure.class(), || failure.to_string());
                std::thread::sleep(FAILURE_BACKOFF);
            }
        }
    }
    counts
}

/// Runs one client per source address until the duration or the count ends (exchanges under
/// way finish, each bounded by the KE timeout), then reports.
pub fn run_ke_load(settings: &KeLoadSettings) -> std::io::Result<KeReport> {
    let started = AtomicU64::new(0);
    let start = Instant::now();
    let deadline = start + settings.duration;
    let clients: Vec<ClientTally> = std::thread::scope(|scope| {
        let handles = settings
            .sources
            .iter()
            .enumerate()
            .map(|(index, &source)| {
                let started = &started;
                std::thread::Builder::new()
                    .name(format!("nts-ke-client-{index}"))
                    .stack_size(CLIENT_STACK)
                    .spawn_scoped(scope, move || {
                        client_loop(settings, source, deadline, started)
                    })
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok::<_, std::io::Error>(
            handles
                .into_iter()
                .map(|h| h.join().expect("a client loop panicked"))
                .collect(),
        )
    })?;
    let elapsed = start.elapsed();
    let mut total = ClientTally::default();
    for counts in clients {
        total.merge(counts);
    }
    Ok(report(settings, elapsed, total))
}

fn report(settings: &KeLoadSettings, elapsed: Duration, total: ClientTally) -> KeReport {
    let (negotiated, cookie_bytes) = match total.first {
        Some((negotiated, cookie_bytes)) => (negotiated, Some(cookie_bytes)),
        None => (None, None),
    };
    let elapsed_s = elapsed.as_secs_f64();
    KeReport {
        server: settings.target.address,
        clients: settings.sources.len(),
        elapsed_s,
        handshakes_completed: total.completed,
        handshakes_failed: total.failed,
        handshakes_per_s: if elapsed_s > 0.0 {
            total.completed as f64 / elapsed_s
        } else {
            0.0
        },
        latency_us: total.tally.percentiles(),
        errors_total: total.tally.errors_total(),
        errors: total.tally.errors,
        error_texts: total.tally.error_texts,
        aead: cookie_bytes.map(|_| AEAD),
        negotiated,
        cookie_bytes,
    }
}

impl KeReport {
    /// The figures thresholds are checked against: handshakes are what succeed or fail.
    pub fn measured(&self) -> Measured {
        Measured {
            succeeded: self.handshakes_completed,
            loss_percent: failed_percent(self.handshakes_completed, self.handshakes_failed),
            latency_p99_us: step_p99s(&self.latency_us),
            server_p99_us: None,
            rate: Some(self.handshakes_per_s),
            errors: self.errors_total,
            generator_fell_behind: false,
            rate_is_lower_bound: false,
        }
    }
}

impl fmt::Display for KeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "ringload nts-ke {}: {} clients for {:.1} s",
            self.server, self.clients, self.elapsed_s
        )?;
        writeln!(
            f,
            "handshakes {:>10} completed  {:>10.1}/s   ({} failed)",
            self.handshakes_completed, self.handshakes_per_s, self.handshakes_failed
        )?;
        match (&self.negotiated, self.aead, self.cookie_bytes) {
            (Some(tls), Some(aead), Some(bytes)) => writeln!(
                f,
                "agreed     {} {} {}; {aead}, 8 cookies of {bytes} bytes",
                tls.tls_version, tls.tls_cipher_suite, tls.tls_key_exchange
            )?,
            _ => writeln!(f, "agreed     no exchange completed")?,
        }
        f.write_str(&latency_table(&self.latency_us))?;
        f.write_str(&error_lines(&self.errors, &self.error_texts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nts_ke::handshake::KeFailure;

    fn settings(count: Option<u64>) -> KeLoadSettings {
        let dir = ringd_sys::test_dirs::TempDir::new("nts-ke-load-settings");
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let ca = dir.write("ca.pem", made.cert.pem());
        KeLoadSettings {
            target: KeTarget::new("127.0.0.1:4460".parse().unwrap(), "localhost", &ca).unwrap(),
            sources: vec!["127.0.0.2:0".parse().unwrap(); 2],
            duration: Duration::from_secs(1),
            count,
        }
    }

    #[test]
    fn a_count_hands_out_exactly_that_many_exchanges() {
        let started = AtomicU64::new(0);
        let later = Instant::now() + Duration::from_secs(60);
        let granted = (0..10)
            .filter(|_| may_start(later, Some(3), &started))
            .count();
        assert_eq!(granted, 3);
        assert!(
            !may_start(Instant::now(), None, &started),
            "past the deadline"
        );
        assert!(
            may_start(later, None, &started),
            "no count: only the deadline"
        );
    }

    #[test]
    fn the_report_adds_up_the_clients_and_names_what_was_agreed() {
        let mut first = ClientTally {
            completed: 30,
            ..ClientTally::default()
        };
        first
            .tally
            .record(STEP_EXCHANGE, Duration::from_micros(900));
        first.first = Some((
            Some(Negotiated {
                tls_version: "TLSv1_3".into(),
                tls_cipher_suite: "TLS13_AES_128_GCM_SHA256".into(),
                tls_key_exchange: "X25519".into(),
            }),
            104,
        ));
        let mut second = ClientTally {
            completed: 10,
            failed: 2,
            ..ClientTally::default()
        };
        let refused = KeFailure::Connect(std::io::ErrorKind::ConnectionRefused);
        for _ in 0..2 {
            second.tally.error(refused.class(), || refused.to_string());
        }
        first.merge(second);
        let report = report(&settings(None), Duration::from_secs(2), first);
        assert_eq!(report.handshakes_completed, 40);
        assert_eq!(report.handshakes_failed, 2);
        assert!((report.handshakes_per_s - 20.0).abs() < 1e-9);
        assert_eq!(report.errors["connect_connection_refused"], 2);
        assert_eq!(
            report.error_texts["connect_connection_refused"],
            "connect: connection refused"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["tls_version"], "TLSv1_3");
        assert_eq!(json["aead"], AEAD);
        assert_eq!(json["cookie_bytes"], 104);
        assert_eq!(json["latency_us"]["exchange"]["count"], 1);
        let text = report.to_string();
        assert!(text.contains("handshakes         40 completed"), "{text}");
        assert!(
            text.contains("AEAD_AES_SIV_CMAC_256, 8 cookies of 104 bytes"),
            "{text}"
        );
        assert!(
            text.contains("2  connect_connection_refused: connect: connection refused"),
            "{text}"
        );
    }

    #[test]
    fn a_run_with_nothing_completed_says_so() {
        let report = report(
            &settings(Some(1)),
            Duration::from_secs(1),
            ClientTally::default(),
        );
        assert_eq!(report.aead, None);
        assert!(report.to_string().contains("no exchange completed"));
        let json = serde_json::to_value(&report).unwrap();
        assert!(json.get("tls_version").is_none());
    }
}
