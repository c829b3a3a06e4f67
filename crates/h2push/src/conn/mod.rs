//! Connection drivers: one per wire protocol, as hyper keeps them.
//!
//! This module owns turning a connected socket into requests for a service and responses back
//! into frames: [`h2`] drives HTTP/2 with the `h2` crate (push and 103 live there), [`h1`]
//! drives HTTP/1.1 with hyper, and [`sniff`] tells h2c prior knowledge from HTTP/1.1 on a
//! plaintext port. [`Limits`] holds every deadline a peer could otherwise stall a connection
//! past, and [`slots`] the connection cap with eviction of idle connections. The drivers know
//! nothing of which resources to push or hint (that is [`crate::hints`]); listening, TLS and
//! shutdown are [`crate::server`]'s.

pub(crate) mod access_log;
pub(crate) mod cork;
pub(crate) mod engine;
pub(crate) mod flood;
pub(crate) mod h1;
pub(crate) mod h2;
pub(crate) mod hop_by_hop;
pub(crate) mod push_origin;
pub(crate) mod recv;
pub(crate) mod slots;
pub(crate) mod sniff;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use tower::ServiceExt;

use crate::body::{Body, BoxError};

/// The client's address, in every request's extensions (like axum's `ConnectInfo`).
///
/// ```
/// use axum::{routing::get, Extension, Router};
/// use h2push::PeerAddr;
///
/// async fn whoami(Extension(PeerAddr(addr)): Extension<PeerAddr>) -> String {
///     addr.to_string()
/// }
/// let app: Router = Router::new().route("/whoami", get(whoami));
/// # drop(app);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// How a request reached the server, in every request's extensions.
///
/// ```
/// use h2push::Protocol;
/// assert_eq!(Protocol::H2 { tls: true }.to_string(), "h2");
/// assert_eq!(Protocol::H2 { tls: false }.to_string(), "h2c");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/2, over TLS (`h2`) or plaintext prior knowledge (`h2c`).
    H2 {
        /// Whether the connection is TLS.
        tls: bool,
    },
    /// HTTP/1.1, over TLS or plaintext.
    Http1 {
        /// Whether the connection is TLS.
        tls: bool,
    },
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::H2 { tls: true } => "h2",
            Protocol::H2 { tls: false } => "h2c",
            Protocol::Http1 { tls: true } => "https/1.1",
            Protocol::Http1 { tls: false } => "http/1.1",
        })
    }
}

/// What a driver knows of its connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnInfo {
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub tls: bool,
}

/// The receive window both HTTP/2 drivers give each request stream (SETTINGS_INITIAL_WINDOW_SIZE).
pub(crate) const STREAM_WINDOW: u32 = 1024 * 1024;
/// The receive window both HTTP/2 drivers give a connection.
pub(crate) const CONNECTION_WINDOW: u32 = 4 * 1024 * 1024;

/// Protocol limits and timeouts, shared by all connections of a server.
///
/// Every state in which a peer could hold a connection or a stream has a deadline here, so
/// that a client that stops talking (or reading) gives its slot and its memory back.
///
/// ```
/// use std::time::Duration;
/// let limits = h2push::Limits {
///     max_concurrent_streams: 256,
///     send_timeout: Duration::from_secs(30),
///     ..Default::default()
/// };
/// assert_eq!(limits.max_concurrent_streams, 256);
/// assert_eq!(limits.goaway_timeout, Duration::from_secs(5));
/// ```
#[derive(Debug, Clone)]
pub struct Limits {
    /// HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS` the server advertises (nginx: 128).
    pub max_concurrent_streams: u32,
    /// Largest request header list accepted, in bytes (HTTP/2 `MAX_HEADER_LIST_SIZE`;
    /// HTTP/1.1 read buffer).
    pub max_header_list_size: u32,
    /// Open connections at most. At the cap, the connection idle the longest is closed to
    /// admit a new one (HTTP/2 with GOAWAY); only when none is idle is the new one refused.
    pub max_connections: usize,
    /// A connection with no request in flight for this long is closed (HTTP/2: GOAWAY).
    pub idle_timeout: Duration,
    /// From accepting a TLS connection to the end of its handshake.
    pub handshake_timeout: Duration,
    /// From the end of the TLS handshake (or the accept, in plaintext) to the complete
    /// HTTP/2 connection preface, or to the first bytes that rule it out on a plaintext port.
    pub preface_timeout: Duration,
    /// Time allowed for an HTTP/1.1 request's head (request line and header fields).
    pub header_read_timeout: Duration,
    /// A request body that is being read but brings no data for this long fails, and its
    /// stream is reset (HTTP/2) or its connection closed (HTTP/1.1).
    pub body_idle_timeout: Duration,
    /// A response that makes no progress for this long (no flow-control window from the
    /// client, or a socket that accepts nothing) is abandoned and its buffers freed: its
    /// stream is reset (CANCEL); a connection whose streams all stalled, or whose socket
    /// takes no bytes, is closed.
    pub send_timeout: Duration,
    /// After an HTTP/2 GOAWAY (idle timeout, eviction, shutdown), how long the client has to
    /// acknowledge it before the connection is closed anyway, once no stream is left.
    pub goaway_timeout: Duration,
    /// On shutdown, how long in-flight requests may take to finish before connections close.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_concurrent_streams: 128,
            max_header_list_size: 64 * 1024,
            max_connections: 10_000,
            idle_timeout: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
            preface_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(30),
            send_timeout: Duration::from_secs(60),
            goaway_timeout: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// The services h2push serves: any `tower::Service<Request<Body>>` whose responses have a
/// `Bytes` body, an axum `Router` among them. Blanket-implemented; not for implementing.
pub trait HttpService: Clone + Send + Sync + 'static {
    /// The response body.
    type ResBody: http_body::Body<Data = Bytes, Error = Self::BodyError> + Send + 'static;
    /// The response body's error.
    type BodyError: Into<BoxError>;
    /// Answers one request.
    fn respond(
        &self,
        req: Request<Body>,
    ) -> impl Future<Output = Result<Response<Self::ResBody>, BoxError>> + Send + 'static;
}

impl<S, B> HttpService for S
where
    S: tower_service::Service<Request<Body>, Response = Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type ResBody = B;
    type BodyError = B::Error;

    fn respond(
        &self,
        req: Request<Body>,
    ) -> impl Future<Output = Result<Response<B>, BoxError>> + Send + 'static {
        let svc = self.clone();
        async move { svc.oneshot(req).await.map_err(Into::into) }
    }
}

/// Gives a request the extensions every request carries, whatever its protocol: its
/// [`Pusher`](crate::Pusher), its [`EarlyHints`](crate::EarlyHints), the client's
/// [`PeerAddr`] and the [`Protocol`].
pub(crate) fn insert_request_extensions(
    ext: &mut http::Extensions,
    pusher: crate::Pusher,
    hints: crate::EarlyHints,
    info: &ConnInfo,
    protocol: Protocol,
) {
    ext.insert(pusher);
    ext.insert(hints);
    ext.insert(PeerAddr(info.peer));
    ext.insert(protocol);
}

/// The answer when the service itself fails: a plain 500 (the error goes to the log).
pub(crate) fn internal_error() -> Response<Body> {
    let mut res = Response::new(Body::from("internal server error\n"));
    *res.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    res
}

/// A waker that does nothing (std's `Waker::noop` needs Rust 1.85; this crate supports 1.80).
fn noop_waker() -> &'static Waker {
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    static NOOP: std::sync::OnceLock<Waker> = std::sync::OnceLock::new();
    NOOP.get_or_init(|| Waker::from(Arc::new(Noop)))
}

/// Runs `fut` to its end right here if it never has to wait (a cached file, a page computed
/// at once), which keeps its frames in the current batch and saves a task; otherwise hands it
/// to a task of its own.
///
/// The first poll uses a no-op waker: a future that returns `Pending` is polled again at once
/// by its new task, which registers the task's real waker.
pub(crate) fn run_or_spawn<F>(fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut fut = Box::pin(fut);
    let mut cx = Context::from_waker(noop_waker());
    if fut.as_mut().poll(&mut cx).is_pending() {
        tokio::spawn(fut);
    }
}
