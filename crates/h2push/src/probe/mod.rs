//! An HTTP/2 client that shows what a server pushes and hints.
//!
//! [`probe`] opens one connection — TLS with ALPN `h2` for `https://` URLs, cleartext h2c
//! with prior knowledge for `http://` — with server push enabled, requests a page (and then,
//! on the same connection, any [`ProbeOptions::extra_paths`]), and records with timings every
//! 103 Early Hints, every PUSH_PROMISE and pushed response, and the final responses. The
//! result is a [`ProbeReport`] that prints as text or JSON. The CLI's `probe` command and the
//! integration tests both use it as "the real client".
//!
//! This module owns the options, the error type and the request sequencing; connection
//! setup (TCP, TLS, the accept-any-certificate verifier, the HTTP/2 handshake) lives in
//! `client.rs`, one request's exchange in `exchange.rs`, and the report types and their
//! rendering in `report.rs`. Command-line parsing and printing are left to the CLI.

mod client;
mod exchange;
mod report;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub use report::{
    EventKind, Exchange, Informational, ProbeReport, PushOutcome, Pushed, Response, TimelineEvent,
    Totals,
};

/// What to probe and how.
///
/// ```
/// use h2push::probe::ProbeOptions;
///
/// let opts = ProbeOptions {
///     url: "https://localhost:8443/".parse().unwrap(),
///     insecure: true,
///     extra_paths: vec!["/second.html".into()],
///     ..ProbeOptions::default()
/// };
/// assert!(opts.enable_push);
/// ```
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// `https://host:port/path` (TLS, ALPN h2) or `http://host:port/path` (h2c, prior
    /// knowledge). The port defaults to 443 / 80.
    pub url: http::Uri,
    /// Further paths (with optional query), requested one after another on the same
    /// connection once the previous exchange (including its push wait) is over.
    pub extra_paths: Vec<String>,
    /// Connect to this address instead of resolving the URL's host (SNI and `:authority`
    /// still come from the URL).
    pub connect_to: Option<SocketAddr>,
    /// Accept any server certificate (`-k`). Handshake signatures are still verified.
    pub insecure: bool,
    /// Advertise SETTINGS_ENABLE_PUSH=1 (`true`) or 0 (`false`).
    pub enable_push: bool,
    /// Cancel (RST_STREAM CANCEL) every pushed stream as soon as its PUSH_PROMISE arrives.
    pub reset_pushes: bool,
    /// The client's SETTINGS_MAX_CONCURRENT_STREAMS, which limits concurrent server pushes.
    /// A PUSH_PROMISE beyond the limit is refused (RST_STREAM REFUSED_STREAM) inside the h2
    /// client before the probe sees it, so it does not appear in the report.
    pub max_concurrent_streams: Option<u32>,
    /// Extra request headers, e.g. `sec-fetch-mode: navigate` or a `cookie`.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// The request method (GET by default; HEAD is useful too).
    pub method: http::Method,
    /// Upper bound for the whole probe, connection setup included.
    pub timeout: Duration,
    /// After a final response ends, how long to keep waiting for pushed responses still in
    /// flight. Waiting stops early once every push has ended.
    pub push_wait: Duration,
}

impl Default for ProbeOptions {
    /// `GET https://127.0.0.1:8443/`, push enabled, certificates verified, 10 s timeout, 1 s
    /// push wait.
    fn default() -> Self {
        Self {
            url: http::Uri::from_static("https://127.0.0.1:8443/"),
            extra_paths: Vec::new(),
            connect_to: None,
            insecure: false,
            enable_push: true,
            reset_pushes: false,
            max_concurrent_streams: None,
            headers: Vec::new(),
            method: http::Method::GET,
            timeout: Duration::from_secs(10),
            push_wait: Duration::from_secs(1),
        }
    }
}

/// Why a probe failed. The messages name the address and the cause and, where there is one,
/// the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The URL or an extra path cannot be used.
    #[error("invalid URL {url}: {reason}")]
    InvalidUrl {
        /// The URL or path.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {cause}")]
    Resolve {
        /// The host.
        host: String,
        /// Why.
        cause: String,
    },
    /// The TCP connection failed.
    #[error("connecting to {addr}: {cause}")]
    Connect {
        /// The address (the first one tried, if the name resolved to several).
        addr: SocketAddr,
        /// Why, e.g. "connection refused".
        cause: String,
    },
    /// The TLS handshake failed.
    #[error("{addr}: TLS: {cause}")]
    Tls {
        /// The server address.
        addr: SocketAddr,
        /// Why, e.g. "certificate not trusted — pass -k for self-signed certificates".
        cause: String,
    },
    /// TLS worked, but the server did not select ALPN `h2`.
    #[error("{addr}: server did not negotiate h2 ({detail})")]
    NotH2 {
        /// The server address.
        addr: SocketAddr,
        /// What it did instead, e.g. "it selected http/1.1".
        detail: String,
    },
    /// The HTTP/2 connection could not be set up or broke down.
    #[error("{addr}: HTTP/2 connection failed: {cause}")]
    Connection {
        /// The server address.
        addr: SocketAddr,
        /// Why.
        cause: String,
    },
    /// A request failed (stream reset, connection lost mid-response).
    #[error("{method} {path} failed: {cause}")]
    Request {
        /// The request method.
        method: http::Method,
        /// The request path.
        path: String,
        /// Why.
        cause: String,
    },
    /// [`ProbeOptions::timeout`] ran out.
    #[error("probe timed out after {} while {stage}", fmt_duration(*after))]
    Timeout {
        /// The configured timeout.
        after: Duration,
        /// What the probe was doing, e.g. "waiting for the response to GET /".
        stage: String,
    },
}

/// Probes `opts.url` and returns what the server sent. Must run inside a Tokio runtime (the
/// connection and pushed streams are driven by spawned tasks).
///
/// ```no_run
/// use h2push::probe::{probe, ProbeOptions};
///
/// # async fn run() -> Result<(), h2push::probe::ProbeError> {
/// let report = probe(&ProbeOptions {
///     url: "https://localhost:8443/".parse().unwrap(),
///     insecure: true,
///     ..ProbeOptions::default()
/// })
/// .await?;
/// print!("{}", report.render_text());
/// for push in &report.exchanges[0].pushes {
///     println!("{} {:?} {} bytes", push.promised_path, push.outcome, push.body.len());
/// }
/// # Ok(())
/// # }
/// ```
pub async fn probe(opts: &ProbeOptions) -> Result<ProbeReport, ProbeError> {
    let clock = Clock::new(opts.timeout);
    let target = client::Target::from_uri(&opts.url)?;
    let mut requests = vec![target.path_and_query.clone()];
    for path in &opts.extra_paths {
        requests.push(normalize_path(path)?);
    }

    let stage = format!("connecting to {}", target.authority);
    let conn = clock
        .bounded(stage, client::connect(opts, &target, &clock))
        .await?;
    let client::Connected { send, driver, info } = conn;

    let mut exchanges = Vec::with_capacity(requests.len());
    let mut failure = None;
    for path in requests {
        let request = match build_request(opts, &target, &path) {
            Ok(r) => r,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        match exchange::run(&send, request, path, opts, &clock, info.peer).await {
            Ok(ex) => exchanges.push(ex),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let elapsed = clock.now();

    // Let the connection say goodbye (GOAWAY) now that no handle can open streams, but do
    // not wait long for it.
    drop(send);
    let mut driver = driver;
    let close_by = (Instant::now() + Duration::from_millis(250)).min(clock.deadline);
    if tokio::time::timeout_at(close_by.into(), &mut driver)
        .await
        .is_err()
    {
        driver.abort();
    }

    if let Some(e) = failure {
        return Err(e);
    }
    Ok(ProbeReport {
        url: opts.url.to_string(),
        peer: info.peer,
        protocol: info.protocol,
        alpn: info.alpn,
        tls_version: info.tls_version,
        cipher_suite: info.cipher_suite,
        connect_time: info.connect_time,
        tls_time: info.tls_time,
        connected_at: info.connected_at,
        exchanges,
        elapsed,
    })
}

fn normalize_path(path: &str) -> Result<String, ProbeError> {
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    match path.parse::<http::uri::PathAndQuery>() {
        Ok(pq) => Ok(pq.to_string()),
        Err(e) => Err(ProbeError::InvalidUrl {
            url: path,
            reason: e.to_string(),
        }),
    }
}

fn build_request(
    opts: &ProbeOptions,
    target: &client::Target,
    path: &str,
) -> Result<http::Request<()>, ProbeError> {
    let invalid = |reason: String| ProbeError::InvalidUrl {
        url: path.to_owned(),
        reason,
    };
    let uri = http::Uri::builder()
        .scheme(target.scheme.clone())
        .authority(target.authority.clone())
        .path_and_query(path)
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    let mut request = http::Request::builder()
        .method(opts.method.clone())
        .uri(uri)
        .version(http::Version::HTTP_2)
        .body(())
        .map_err(|e| invalid(e.to_string()))?;
    for (name, value) in &opts.headers {
        request.headers_mut().append(name.clone(), value.clone());
    }
    Ok(request)
}

/// The probe's time base (every report time is `Instant - start`) and overall deadline.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: Instant,
    deadline: Instant,
    timeout: Duration,
}

impl Clock {
    fn new(timeout: Duration) -> Self {
        let start = Instant::now();
        Self {
            start,
            // A timeout too large to add is as good as none.
            deadline: start
                .checked_add(timeout)
                .unwrap_or(start + Duration::from_secs(86400 * 365)),
            timeout,
        }
    }

    /// Time since the probe started.
    pub(crate) fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// The overall deadline.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Runs `fut` until the overall deadline; on expiry reports a timeout during `stage`.
    pub(crate) async fn bounded<T>(
        &self,
        stage: String,
        fut: impl std::future::Future<Output = Result<T, ProbeError>>,
    ) -> Result<T, ProbeError> {
        match tokio::time::timeout_at(self.deadline.into(), fut).await {
            Ok(result) => result,
            Err(_) => Err(ProbeError::Timeout {
                after: self.timeout,
                stage,
            }),
        }
    }
}

/// `10 s`, `1.5 s`, `250 ms`.
fn fmt_duration(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        let s = d.as_secs_f64();
        if s.fract() == 0.0 {
            format!("{s:.0} s")
        } else {
            format!("{s:.1} s")
        }
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized() {
        assert_eq!(normalize_path("a.css").unwrap(), "/a.css");
        assert_eq!(normalize_path("/x?y=1").unwrap(), "/x?y=1");
        assert!(normalize_path("/bad path").is_err());
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(fmt_duration(Duration::from_secs(10)), "10 s");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(fmt_duration(Duration::from_millis(250)), "250 ms");
    }
}
