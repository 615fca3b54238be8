//! The metrics endpoint: one thread answering `GET /metrics` over HTTP/1.x with the Prometheus text, one connection at a time, each bounded in size and time.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use prometheus_client::registry::Registry;
use tracing::warn;

use super::exposition;

/// The longest request head read; a scraper's is a few hundred bytes.
const MAX_REQUEST_HEAD: usize = 8192;
/// How long one client may take to send its request and read the answer: a slow one delays
/// the next scrape by at most this.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The answer to a request whose head is `head`; `metrics` renders the body when asked for.
pub fn respond(head: &[u8], metrics: impl FnOnce() -> String) -> Vec<u8> {
    let request_line = head.split(|&byte| byte == b'\n').next().unwrap_or_default();
    let request_line = String::from_utf8_lossy(request_line);
    let mut parts = request_line.trim_end().split(' ');
    let (method, target, version) = (parts.next(), parts.next(), parts.next());
    let well_formed = version.is_some_and(|v| v.starts_with("HTTP/1.")) && parts.next().is_none();
    let (status, content_type, body) = match (well_formed, method, target) {
        (false, _, _) => ("400 Bad Request", "text/plain", "bad request\n".to_string()),
        (true, Some("GET"), Some(path)) if path == "/metrics" || path.starts_with("/metrics?") => {
            ("200 OK", CONTENT_TYPE, metrics())
        }
        (true, Some("GET"), _) => (
            "404 Not Found",
            "text/plain",
            "ringd serves its metrics at /metrics\n".to_string(),
        ),
        (true, _, _) => (
            "405 Method Not Allowed",
            "text/plain",
            "only GET\n".to_string(),
        ),
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body.as_bytes());
    response
}

/// Reads a request head (up to the blank line), at most [`MAX_REQUEST_HEAD`] bytes.
fn read_head(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        if head.len() >= MAX_REQUEST_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too long",
            ));
        }
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..read]);
    }
    Ok(head)
}

/// A running endpoint.
pub struct MetricsEndpoint {
    pub local_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsEndpoint {
    /// Binds `addr` (port 0: a free port); done before ringd gives up its rights.
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        TcpListener::bind(addr)
    }

    /// Serves `registry` on `listener` until stopped.
    pub fn start(listener: TcpListener, registry: Registry) -> io::Result<MetricsEndpoint> {
        let local_addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            crate::privileges::spawn(
                "ringd-metrics".into(),
                crate::privileges::Role::Control,
                move || {
                    for stream in listener.incoming() {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        match stream {
                            Ok(stream) => serve(stream, &registry),
                            Err(err) => warn!("metrics endpoint: accept failed: {err}"),
                        }
                    }
                },
            )?
        };
        Ok(MetricsEndpoint {
            local_addr,
            stop,
            thread: Some(thread),
        })
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // The thread waits in accept: a connection of our own wakes it to see the flag.
        let _ = TcpStream::connect_timeout(&self.local_addr, CLIENT_TIMEOUT);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for MetricsEndpoint {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(mut stream: TcpStream, registry: &Registry) {
    let _ = stream.set_read_timeout(Some(CLIENT_TIMEOUT));
    let _ = stream.set_write_timeout(Some(CLIENT_TIMEOUT));
    let response = match read_head(&mut stream) {
        Ok(head) => respond(&head, || exposition::render(registry)),
        Err(_) => respond(b"", String::new),
    };
    let _ = stream.write_all(&response);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(response: &[u8]) -> String {
        let text = String::from_utf8_lossy(response);
        text.lines().next().unwrap().to_string()
    }

    #[test]
    fn get_metrics_gets_the_text_with_its_length() {
        let response = respond(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", || {
            "a 1\n".into()
        });
        let text = String::from_utf8(response).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains(&format!("Content-Type: {CONTENT_TYPE}\r\n")));
        assert!(text.contains("Content-Length: 4\r\n"));
        assert!(text.ends_with("\r\n\r\na 1\n"));
    }

    #[test]
    fn other_requests_get_a_clear_status_and_no_metrics() {
        let never = || -> String { panic!("rendered for a request that did not ask") };
        assert_eq!(
            status(&respond(b"GET / HTTP/1.1\r\n\r\n", never)),
            "HTTP/1.1 404 Not Found"
        );
        assert_eq!(
            status(&respond(b"POST /metrics HTTP/1.1\r\n\r\n", never)),
            "HTTP/1.1 405 Method Not Allowed"
        );
        assert_eq!(
            status(&respond(b"\x16\x03\x01garbage", never)),
            "HTTP/1.1 400 Bad Request"
        );
        assert_eq!(status(&respond(b"", never)), "HTTP/1.1 400 Bad Request");
    }
}
