//! `--metrics HOST:PORT`: the run's metrics in the Prometheus text format, at
//! `http://HOST:PORT/metrics`. The `metrics-exporter-prometheus` recorder is installed as the
//! process's global recorder and renders the text; the HTTP side is a small listener on a
//! thread of its own (std sockets: one request at a time, each answered and closed; reading
//! a request times out after 5 s, so a stalled client cannot hold the endpoint), which spares
//! the exporter's hyper server and its runtime.
//!
//! A port alone (`--metrics 9464`) binds 127.0.0.1; give an address to bind elsewhere
//! (`--metrics 0.0.0.0:9464`). Port 0 takes a free port; the address bound is printed on
//! stderr. Only the coordinator of a multi-process run serves: the workers' metrics reach it
//! with their samples and carry their `process` label.

use super::histogram::prometheus_buckets;
use super::names;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Why the endpoint cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The address does not parse or resolve.
    #[error("--metrics {given}: not an address: give PORT or HOST:PORT, e.g. 127.0.0.1:9464 ({why})")]
    BadAddress {
        /// What was given.
        given: String,
        /// Why it is not an address.
        why: String,
    },
    /// The address cannot be bound.
    #[error("--metrics {given}: cannot listen on {addr}: {source}")]
    Bind {
        /// What was given.
        given: String,
        /// The address tried.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// Another recorder is installed already (a second endpoint in one process).
    #[error("--metrics {given}: this process already has a metrics recorder")]
    RecorderTaken {
        /// What was given.
        given: String,
    },
    /// The exporter refused its configuration.
    #[error("--metrics: {0}")]
    Exporter(String),
}

/// Resolves `--metrics`: `PORT` (on 127.0.0.1) or `HOST:PORT`.
pub fn parse_address(given: &str) -> Result<SocketAddr, MetricsError> {
    let bad = |why: String| MetricsError::BadAddress { given: given.to_owned(), why };
    let text = given.trim();
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    let mut addrs = text.to_socket_addrs().map_err(|e| bad(e.to_string()))?;
    addrs.next().ok_or_else(|| bad("it resolves to no address".into()))
}

/// The endpoint being served.
#[derive(Debug)]
pub struct MetricsEndpoint {
    addr: SocketAddr,
    handle: PrometheusHandle,
}

impl MetricsEndpoint {
    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of the metrics.
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    /// The text a scrape returns now.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

/// The endpoint of this process, once served.
static SERVED: OnceLock<SocketAddr> = OnceLock::new();

/// Installs the Prometheus recorder as this process's global recorder and serves it at
/// `given` (see the [module documentation](self)); at most once per process.
pub fn serve(given: &str) -> Result<MetricsEndpoint, MetricsError> {
    let addr = parse_address(given)?;
    if SERVED.get().is_some() {
        return Err(MetricsError::RecorderTaken { given: given.to_owned() });
    }
    let listener = TcpListener::bind(addr).map_err(|source| MetricsError::Bind {
        given: given.to_owned(),
        addr,
        source,
    })?;
    let bound = listener.local_addr().map_err(|source| MetricsError::Bind {
        given: given.to_owned(),
        addr,
        source,
    })?;
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(names::PROCESS_SECONDS.to_owned()), &prometheus_buckets())
        .map_err(|e| MetricsError::Exporter(e.to_string()))?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|_| MetricsError::RecorderTaken { given: given.to_owned() })?;
    let _ = SERVED.set(bound);
    names::describe();
    let served = handle.clone();
    std::thread::Builder::new()
        .name("d4r-metrics".into())
        .spawn(move || listen(listener, served))
        .map_err(|e| MetricsError::Exporter(format!("cannot start the listener thread: {e}")))?;
    Ok(MetricsEndpoint { addr: bound, handle })
}

/// Upkeep (draining histogram samples the exporter holds) at least this often.
const UPKEEP: Duration = Duration::from_secs(5);

fn listen(listener: TcpListener, handle: PrometheusHandle) {
    // Accept with a timeout, so that upkeep runs even when nobody scrapes.
    if listener.set_nonblocking(true).is_err() {
        tracing::warn!("metrics endpoint: cannot poll the listener; upkeep only on scrapes");
    }
    let mut last_upkeep = Instant::now();
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Err(e) = answer(stream, &handle) {
                    tracing::debug!("metrics endpoint: {e}");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => {
                tracing::warn!("metrics endpoint: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        if last_upkeep.elapsed() >= UPKEEP {
            handle.run_upkeep();
            last_upkeep = Instant::now();
        }
    }
}

/// Reads one request (up to its blank line, at most 16 KiB) and answers it.
fn answer(mut stream: TcpStream, handle: &PrometheusHandle) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && !request.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
        if request.len() > 16 << 10 {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                b"request too large\n",
            );
        }
    }
    let line =
        String::from_utf8_lossy(request.split(|b| *b == b'\n').next().unwrap_or_default()).into_owned();
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/metrics") | ("GET", "/") => {
            let body = handle.render();
            respond(&mut stream, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body.as_bytes())
        }
        ("GET", _) => respond(&mut stream, "404 Not Found", "text/plain", b"the metrics are at /metrics\n"),
        _ => respond(&mut stream, "405 Method Not Allowed", "text/plain", b"GET /metrics\n"),
    }
}

fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_a_port_on_loopback_or_host_and_port() {
        assert_eq!(parse_address("9464").unwrap(), SocketAddr::from(([127, 0, 0, 1], 9464)));
        assert_eq!(parse_address("0.0.0.0:80").unwrap(), SocketAddr::from(([0, 0, 0, 0], 80)));
        assert_eq!(parse_address("localhost:9").unwrap().port(), 9);
        for bad in ["", "x", "127.0.0.1", "127.0.0.1:99999", "http://127.0.0.1:9"] {
            let e = parse_address(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("--metrics {bad}: not an address")), "{e}");
        }
    }
}
