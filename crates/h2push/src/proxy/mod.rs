//! Reverse proxy: h2push as the HTTP/2 front door of an existing app.
//!
//! This module owns [`Proxy`], a tower service that forwards each request to one upstream over
//! pooled keep-alive connections (HTTP/1.1; h2c with prior knowledge; or TLS, speaking what
//! ALPN picks, h2 or HTTP/1.1: `transport.rs`) and streams both bodies without buffering. On the
//! way it strips hop-by-hop fields and adds `Forwarded`/`X-Forwarded-*` (`headers.rs`),
//! forwards the upstream's 103 Early Hints to the client as they arrive (and pushes what they
//! preload), and remembers each route's hints (`route_hints.rs`) — its preload links and
//! what the `<head>` of its HTML names, read as the page streams by (`head_scan.rs`) — so the
//! next request for the route gets its 103 and pushes before the upstream has answered, with
//! no configuration and no `Link` header needed from the app. A client gets one 103 from the
//! proxy at most: the remembered hints, else the upstream's first 103 (Chromium acts on the
//! first only); later upstream 103s are not forwarded, but what they preload is still pushed
//! and remembered. Failures become
//! 502/503/504 ([`UpstreamError`]). Pushing the final response's own `Link: rel=preload`
//! headers is left to [`HintLayer`](crate::hints::HintLayer) wrapped around the proxy; the
//! pushed requests run through the same service, so they are fetched from the upstream too.
//! [`ProxyRoutes`] mixes proxied path prefixes with another service (static files, say).

mod client;
mod errors;
mod head_scan;
mod headers;
mod route_hints;
mod routes;
mod transport;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{HOST, LINK};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri, Version};

pub use client::UpstreamBody;
pub use errors::UpstreamError;
pub use headers::{strip_hop_by_hop, HostHeader};
pub use routes::ProxyRoutes;
pub use rustls_pki_types::ServerName;
pub use transport::{CaFileError, UpstreamTls};

use crate::body::Body;
use crate::hints::{is_navigation, parse_links, Hint};
use crate::{EarlyHints, PeerAddr, Protocol, PushError, Pusher};
use client::{Transport, UpstreamClient};
use head_scan::HeadTap;
use headers::ClientSide;
use route_hints::RouteHints;

/// How a [`Proxy`] reaches its upstream.
///
/// ```
/// use h2push::proxy::ProxyConfig;
/// let config = ProxyConfig::new("http://127.0.0.1:8000".parse().unwrap()).unwrap();
/// assert_eq!(config.max_in_flight, 1024);
/// let h2c = ProxyConfig::new("h2c://127.0.0.1:8000".parse().unwrap()).unwrap();
/// assert!(h2c.http2 && h2c.upstream.scheme_str() == Some("http"));
/// assert!(ProxyConfig::new("https://example.com".parse().unwrap()).is_ok());
/// assert!(ProxyConfig::new("ftp://example.com".parse().unwrap()).is_err());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProxyConfig {
    /// `http://` or `https://host:port[/base]`; a base path is prepended to every request's
    /// path. ([`ProxyConfig::new`] turns `h2c://` into `http://` with [`http2`](Self::http2).)
    pub upstream: Uri,
    /// Speak HTTP/2 with prior knowledge (h2c) to an `http://` upstream. Default off. An
    /// `https://` upstream needs no switch: ALPN offers h2 and http/1.1, and it picks.
    pub http2: bool,
    /// Trusted CAs, SNI name and the insecure switch for an `https://` upstream.
    pub tls: UpstreamTls,
    /// Which `Host` the upstream sees (default: the client's).
    pub host: HostHeader,
    /// Longest wait for a TCP connection to the upstream (504 after it). Default 5 s. A TLS
    /// handshake that hangs is bounded by the read timeout.
    pub connect_timeout: Duration,
    /// Longest wait for the response head, and between two reads of its body (504 before
    /// the head, a reset client stream after). Default 60 s, as nginx's `proxy_read_timeout`.
    pub read_timeout: Duration,
    /// Requests in flight to this upstream at most; more get 503. Default 1024.
    pub max_in_flight: usize,
    /// Routes whose upstream hints are remembered (0: none). Default 1024.
    pub remembered_routes: usize,
    /// Read the `<head>` of each successful, uncompressed `text/html` response to a
    /// navigation as it streams through (the first 64 KiB at most, never holding the body
    /// back) and remember the stylesheets, scripts and preloads it names with the route's
    /// hints. HTML answering a fetch (an htmx fragment, say) leaves them alone. Default on.
    pub scan_html: bool,
    /// Send a route's remembered hints as a 103 to navigations. Off, they are still pushed,
    /// and the upstream's own 103s still pass. Default on.
    pub early_hints: bool,
    /// How long an idle pooled connection is kept. Default 90 s.
    pub pool_idle_timeout: Duration,
}

/// Why a [`ProxyConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("upstream {0}: {1}")]
pub struct ProxyConfigError(String, &'static str);

impl ProxyConfig {
    /// A configuration for `upstream` with the defaults; the URI must be `http://`,
    /// `https://` or `h2c://host[:port]` with an optional base path and no query.
    pub fn new(upstream: Uri) -> Result<Self, ProxyConfigError> {
        let err = |why| Err(ProxyConfigError(upstream.to_string(), why));
        let http2 = upstream.scheme_str() == Some("h2c");
        if !http2
            && upstream.scheme() != Some(&Scheme::HTTP)
            && upstream.scheme() != Some(&Scheme::HTTPS)
        {
            return err("the scheme must be http://, https:// or h2c://");
        }
        if upstream.authority().is_none() {
            return err("has no host");
        }
        if upstream.query().is_some() {
            return err("must not have a query");
        }
        let upstream = if http2 {
            let mut parts = upstream.clone().into_parts();
            parts.scheme = Some(Scheme::HTTP);
            match Uri::from_parts(parts) {
                Ok(u) => u,
                Err(_) => return err("invalid URL"),
            }
        } else {
            upstream
        };
        Ok(ProxyConfig {
            upstream,
            http2,
            tls: UpstreamTls::default(),
            host: HostHeader::Preserve,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(60),
            max_in_flight: 1024,
            remembered_routes: 1024,
            scan_html: true,
            early_hints: true,
            pool_idle_timeout: Duration::from_secs(90),
        })
    }

    /// Whether the upstream is `https://`.
    pub fn is_https(&self) -> bool {
        self.upstream.scheme() == Some(&Scheme::HTTPS)
    }

    /// Refuses settings that contradict the scheme: TLS settings on a plain upstream, or
    /// HTTP/2 prior knowledge on an https one (ALPN decides there).
    ///
    /// ```
    /// use h2push::proxy::ProxyConfig;
    /// let mut c = ProxyConfig::new("http://127.0.0.1:8000".parse().unwrap()).unwrap();
    /// c.tls.insecure = true;
    /// assert!(c.check().unwrap_err().to_string().contains("https://"));
    /// ```
    pub fn check(&self) -> Result<(), ProxyConfigError> {
        let err = |why| Err(ProxyConfigError(self.upstream.to_string(), why));
        let tls = &self.tls;
        let tls_set = tls.ca.is_some() || tls.server_name.is_some() || tls.insecure;
        if !self.is_https() && tls_set {
            return err(
                "a CA file, TLS server name or the insecure switch needs an https:// upstream",
            );
        }
        if self.is_https() && self.http2 {
            return err("HTTP/2 prior knowledge is for plain upstreams; over https ALPN picks h2");
        }
        if tls.insecure && tls.ca.is_some() {
            return err("a CA file and the insecure switch together: choose one");
        }
        Ok(())
    }
}

/// A reverse proxy to one upstream (HTTP/1.1, h2c or https), as a tower service.
///
/// Wrap it in a [`HintLayer`](crate::hints::HintLayer) to push the upstream's
/// `Link: rel=preload` resources, as nginx's `http2_push_preload` does.
///
/// ```no_run
/// use h2push::hints::{HintLayer, HintPolicy};
/// use h2push::proxy::{Proxy, ProxyConfig};
/// use h2push::{tls::TlsIdentity, Server};
/// use tower::Layer;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let proxy = Proxy::new(ProxyConfig::new("http://127.0.0.1:8000".parse()?)?);
/// let service = HintLayer::new(HintPolicy::default()).layer(proxy);
/// let identity = TlsIdentity::generate_dev()?;
/// Server::builder()
///     .tls(identity.server_config(&[b"h2", b"http/1.1"])?)
///     .bind_tls("127.0.0.1:8443".parse()?)
///     .build()?
///     .serve(service)
///     .await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Proxy {
    shared: Arc<Shared>,
}

struct Shared {
    scheme: Scheme,
    authority: Authority,
    base: String,
    label: String,
    host: HostHeader,
    client: UpstreamClient,
    hints: RouteHints,
    scan_html: bool,
    early_hints: bool,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("upstream", &self.shared.label)
            .finish()
    }
}

impl Proxy {
    /// A proxy for `config`. Connections are made on first use.
    pub fn new(config: ProxyConfig) -> Self {
        let upstream = &config.upstream;
        let authority = upstream
            .authority()
            .cloned()
            .unwrap_or_else(|| Authority::from_static("127.0.0.1"));
        let base = upstream.path().trim_end_matches('/').to_owned();
        let label = format!("{authority}{base}");
        let https = config.is_https();
        if https && config.tls.insecure {
            tracing::warn!(
                "upstream {label}: TLS certificate verification is OFF (insecure switch): \
                 for self-signed development backends only"
            );
        }
        let transport = Transport {
            connect_timeout: config.connect_timeout,
            read_timeout: config.read_timeout,
            http2_only: config.http2 && !https,
            tls: &config.tls,
        };
        Proxy {
            shared: Arc::new(Shared {
                scheme: if https { Scheme::HTTPS } else { Scheme::HTTP },
                label,
                authority,
                base,
                host: config.host,
                client: UpstreamClient::new(
                    transport,
                    config.max_in_flight,
                    config.pool_idle_timeout,
                ),
                hints: RouteHints::new(config.remembered_routes),
                scan_html: config.scan_html,
                early_hints: config.early_hints,
            }),
        }
    }

    /// The upstream, as `host:port[/base]`.
    pub fn upstream(&self) -> &str {
        &self.shared.label
    }
}

impl tower_service::Service<Request<Body>> for Proxy {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let shared = self.shared.clone();
        Box::pin(async move { Ok(shared.forward(req).await) })
    }
}

impl Shared {
    async fn forward(self: Arc<Self>, req: Request<Body>) -> Response<Body> {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let permit = match self.client.permit() {
            Ok(p) => p,
            Err(e) => return self.fail(&method, &path, e),
        };
        let remember = method == Method::GET;
        let navigation = is_navigation(req.headers());
        let pusher = req
            .extensions()
            .get::<Pusher>()
            .filter(|p| p.is_available())
            .cloned();
        let early = req.extensions().get::<EarlyHints>().cloned();
        // Whether this request's one 103 from the proxy is out.
        let sent_103 = Arc::new(AtomicBool::new(false));
        if remember && self.send_remembered(&req, &path, pusher.as_ref(), early.as_ref()) {
            sent_103.store(true, Ordering::Release);
        }
        let informational: Arc<Mutex<Vec<HeaderValue>>> = Arc::default();
        let upstream_req = match self.upstream_request(req) {
            Ok(r) => r,
            Err(why) => {
                let mut res = Response::new(Body::from(format!("400 Bad Request: {why}\n")));
                *res.status_mut() = StatusCode::BAD_REQUEST;
                return res;
            }
        };
        let mut upstream_req = upstream_req;
        {
            let seen = informational.clone();
            hyper::ext::on_informational(&mut upstream_req, move |res| {
                if res.status() != StatusCode::EARLY_HINTS {
                    return;
                }
                let links: Vec<HeaderValue> = res.headers().get_all(LINK).iter().cloned().collect();
                if links.is_empty() {
                    return;
                }
                if let Some(e) = &early {
                    // One 103 per navigation: none went out yet, from here or from a
                    // layer in front (the hint policy's).
                    if !sent_103.swap(true, Ordering::AcqRel) && !e.informational_sent() {
                        let _ = e.send(links.iter().cloned());
                    }
                }
                if let Some(p) = &pusher {
                    push_all(p, hints_of(&links).iter());
                }
                seen.lock().unwrap_or_else(|e| e.into_inner()).extend(links);
            });
        }
        let res = match self.client.send(upstream_req, permit).await {
            Ok(res) => res,
            Err(e) => return self.fail(&method, &path, e),
        };
        let (mut parts, body) = res.into_parts();
        headers::client_response_headers(&mut parts.headers);
        parts.version = Version::HTTP_11;
        if !remember {
            return Response::from_parts(parts, Body::new(body));
        }
        let informational = informational
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        self.remember(&path, navigation, informational, parts, body)
    }

    /// Updates the route's memory from its (GET) response, and hands the response on —
    /// through a [`HeadTap`] when its HTML head is to be read.
    fn remember(
        self: Arc<Self>,
        path: &str,
        navigation: bool,
        informational: Vec<HeaderValue>,
        parts: http::response::Parts,
        body: UpstreamBody,
    ) -> Response<Body> {
        let status = parts.status;
        if status == StatusCode::NOT_MODIFIED || status == StatusCode::PARTIAL_CONTENT {
            return Response::from_parts(parts, Body::new(body));
        }
        if !status.is_success() {
            // A 404, a 5xx, a redirect: what was remembered for the route no longer holds.
            self.hints.forget(path);
            return Response::from_parts(parts, Body::new(body));
        }
        if head_scan::is_html(&parts.headers) && !navigation {
            // A fragment (htmx, fetch) from a page's path says nothing about the page.
            return Response::from_parts(parts, Body::new(body));
        }
        let mut links = informational;
        links.extend(parts.headers.get_all(LINK).iter().cloned());
        if self.scan_html && head_scan::worth_scanning(&parts.headers) {
            let shared = Arc::clone(&self);
            let route = path.to_owned();
            let on_head = Box::new(move |scanned: Vec<Hint>| {
                shared.hints.refresh(&route, links.iter(), scanned);
            });
            let body = HeadTap::new(body, path, on_head);
            return Response::from_parts(parts, Body::new(body));
        }
        self.hints.refresh(path, links.iter(), Vec::new());
        Response::from_parts(parts, Body::new(body))
    }

    /// The route's remembered hints, at once: a 103 to navigations, and pushes. True if the
    /// 103 went out.
    fn send_remembered(
        &self,
        req: &Request<Body>,
        path: &str,
        pusher: Option<&Pusher>,
        early: Option<&EarlyHints>,
    ) -> bool {
        let Some(known) = self.hints.get(path) else {
            return false;
        };
        let mut sent = false;
        if let Some(e) = early.filter(|_| self.early_hints && is_navigation(req.headers())) {
            sent = e.send(known.links.iter().cloned()).is_ok();
        }
        if let Some(p) = pusher {
            push_all(p, known.hints.iter());
        }
        sent
    }

    fn upstream_request(&self, req: Request<Body>) -> Result<Request<Body>, &'static str> {
        let (mut parts, body) = req.into_parts();
        let pq = parts.uri.path_and_query().map_or("/", PathAndQuery::as_str);
        let pq = if self.base.is_empty() {
            PathAndQuery::try_from(pq)
        } else {
            PathAndQuery::try_from(format!("{}{pq}", self.base))
        }
        .map_err(|_| "invalid path")?;
        let client_host = parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            .or_else(|| parts.headers.get(HOST).cloned());
        let tls = match parts.extensions.get::<Protocol>() {
            Some(Protocol::H2 { tls } | Protocol::Http1 { tls }) => *tls,
            None => false,
        };
        let side = ClientSide {
            peer: parts.extensions.get::<PeerAddr>().map(|p| p.0),
            tls,
            host: client_host.as_ref(),
        };
        headers::upstream_request_headers(&mut parts.headers, &side, &self.host);
        parts.uri = Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(pq)
            .build()
            .map_err(|_| "invalid path")?;
        parts.version = Version::HTTP_11;
        // The client's extensions (pusher, hints) are not the upstream's business.
        parts.extensions = http::Extensions::new();
        Ok(Request::from_parts(parts, body))
    }

    fn fail(&self, method: &Method, path: &str, e: UpstreamError) -> Response<Body> {
        tracing::warn!(
            "proxy {method} {path} -> {}: {} ({e})",
            self.label,
            e.status().as_u16()
        );
        e.response(&self.label)
    }
}

fn hints_of(links: &[HeaderValue]) -> Vec<Hint> {
    links
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_links)
        .filter_map(|l| l.to_hint())
        .collect()
}

/// Pushes each hint that allows it; stops at the first refusal that will refuse the rest too.
fn push_all<'a>(pusher: &Pusher, hints: impl Iterator<Item = &'a Hint>) {
    for hint in hints.filter(|h| !h.nopush) {
        match pusher.push(&hint.path) {
            Ok(()) => {}
            Err(PushError::Disabled | PushError::Http1 | PushError::Nested) => return,
            Err(PushError::ParentClosed) => return,
            Err(why) => tracing::trace!("not pushing {}: {why}", hint.path),
        }
    }
}
