//! The hub over HTTP: `GET /events` to subscribe, `POST /publish` to publish.
//!
//! This module owns [`HubService`] — the endpoints as a plain `tower::Service` (no framework
//! needed) with their settings: paths, the publish token, subscriber tokens, CORS, heartbeat
//! and retry — and [`mount`], which puts them in front of another service (static files, an
//! app) on the same server. The handlers live in `events.rs` and `publish.rs`; the hub itself
//! is [`crate::sse::hub`]'s. The endpoints work the same over HTTP/2 (each subscription one
//! stream; many on one connection) and HTTP/1.1 (one connection each).
//!
//! | Request | Answer |
//! |---|---|
//! | `GET /events?topic=a&topic=b` | `200` event stream; `Last-Event-ID` header or `lastEventId` query resumes |
//! | … with an unknown topic (topics restricted) | `204`: an `EventSource` stops reconnecting |
//! | … no / bad topic | `400`; subscriber token missing `401`, wrong `403` |
//! | … too many on this connection / on the hub | `429` / `503` (`Retry-After`) |
//! | … backend down, or shutting down | `200` with only `retry:`: the client comes back later |
//! | `POST /publish` (form or JSON: `topic`, `data`, `event`, `id`) | `200 {"id": …}` |
//! | … no token configured | `403` saying how to set one |
//! | … no `Authorization: Bearer` | `401`; wrong token `403` |
//! | … unknown topic / too large / backend down | `404` / `413` / `503` |
//!
//! ```
//! use h2push::sse::{http::HubService, hub::Hub};
//!
//! let hub = Hub::memory(Default::default());
//! let endpoints = HubService::new(hub)
//!     .publish_token("s3cret")
//!     .allow_origins(["https://app.example"]);
//! // Serve them alone, or in front of anything else:
//! let app = h2push::sse::http::mount(Some(endpoints), tower::service_fn(|_req: http::Request<h2push::Body>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(h2push::Body::from("static")))
//! }));
//! # drop(app);
//! ```

mod events;
mod publish;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, ALLOW, CONTENT_TYPE, ORIGIN, VARY,
};
use http::{HeaderValue, Method, Request, Response, StatusCode};

pub use self::events::{event_stream_head, EventStream};
use crate::sse::conn_limit::ConnLimiter;
use crate::sse::front::{Endpoint, EndpointFuture, Front, FrontFuture};
use crate::sse::hub::Hub;

/// The default of [`HubService::max_subscriptions_per_connection`].
pub const DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION: usize = 10_000;
use crate::Body;

/// The hub's HTTP endpoints, as a `tower::Service<Request<Body>>`.
///
/// Requests to other paths get a `404`; use [`mount`] (or [`HubService::wrap`]) to serve
/// something else there. Cheap to clone.
#[derive(Clone)]
pub struct HubService {
    ep: Arc<Endpoints>,
}

pub(crate) struct Endpoints {
    hub: Hub,
    events_path: String,
    publish_path: String,
    publish_token: Option<String>,
    subscriber_tokens: Vec<String>,
    token_param: String,
    token_cookie: String,
    origins: Origins,
    credentials: bool,
    heartbeat: Duration,
    retry: Option<Duration>,
    max_publish_bytes: Option<usize>,
    conns: Arc<ConnLimiter>,
}

#[derive(Clone)]
enum Origins {
    None,
    Any,
    List(Vec<String>),
}

impl Endpoints {
    fn hub_end_chunk(&self, why: &str) -> Bytes {
        self.hub.end_chunk(why)
    }

    fn make_mut(ep: &mut Arc<Endpoints>) -> &mut Endpoints {
        if Arc::get_mut(ep).is_none() {
            *ep = Arc::new(Endpoints {
                hub: ep.hub.clone(),
                events_path: ep.events_path.clone(),
                publish_path: ep.publish_path.clone(),
                publish_token: ep.publish_token.clone(),
                subscriber_tokens: ep.subscriber_tokens.clone(),
                token_param: ep.token_param.clone(),
                token_cookie: ep.token_cookie.clone(),
                origins: ep.origins.clone(),
                credentials: ep.credentials,
                heartbeat: ep.heartbeat,
                retry: ep.retry,
                max_publish_bytes: ep.max_publish_bytes,
                conns: ep.conns.clone(),
            });
        }
        // Just made unique if it was not.
        Arc::get_mut(ep).expect("unique")
    }
}

impl std::fmt::Debug for HubService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubService")
            .field("events", &self.ep.events_path)
            .field("publish", &self.ep.publish_path)
            .field(
                "publish_token",
                &self.ep.publish_token.as_ref().map(|_| "***"),
            )
            .field("heartbeat", &self.ep.heartbeat)
            .finish()
    }
}

impl HubService {
    /// The endpoints of `hub` at `/events` and `/publish`, with heartbeats every 15 s, no
    /// publish token (publishing over HTTP refused), no subscriber tokens (anyone may
    /// subscribe) and no CORS (same-origin pages only).
    ///
    /// ```
    /// let svc = h2push::sse::http::HubService::new(h2push::sse::hub::Hub::memory(Default::default()));
    /// assert!(svc.handles("/events") && svc.handles("/publish") && !svc.handles("/"));
    /// ```
    pub fn new(hub: Hub) -> HubService {
        HubService {
            ep: Arc::new(Endpoints {
                hub,
                events_path: "/events".into(),
                publish_path: "/publish".into(),
                publish_token: None,
                subscriber_tokens: Vec::new(),
                token_param: "token".into(),
                token_cookie: "h2push_sse_token".into(),
                origins: Origins::None,
                credentials: false,
                heartbeat: Duration::from_secs(15),
                retry: None,
                max_publish_bytes: None,
                conns: Arc::new(ConnLimiter::new(DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION)),
            }),
        }
    }

    fn set(mut self, f: impl FnOnce(&mut Endpoints)) -> HubService {
        f(Endpoints::make_mut(&mut self.ep));
        self
    }

    /// The hub behind the endpoints.
    pub fn hub(&self) -> &Hub {
        &self.ep.hub
    }

    /// Serves subscriptions at `events` and publishing at `publish` (paths starting with `/`).
    #[must_use]
    pub fn paths(self, events: impl Into<String>, publish: impl Into<String>) -> HubService {
        let (events, publish) = (events.into(), publish.into());
        self.set(|e| {
            e.events_path = events;
            e.publish_path = publish;
        })
    }

    /// Accepts `POST /publish` with `Authorization: Bearer <token>`. Without a token,
    /// publishing over HTTP is refused (with a message saying how to set one).
    #[must_use]
    pub fn publish_token(self, token: impl Into<String>) -> HubService {
        let token = token.into();
        self.set(|e| e.publish_token = Some(token))
    }

    /// Requires one of `tokens` to subscribe, in the `token` query parameter or the
    /// `h2push_sse_token` cookie (an `EventSource` cannot send headers). No tokens: anyone
    /// may subscribe.
    #[must_use]
    pub fn subscriber_tokens<I, S>(self, tokens: I) -> HubService
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let tokens: Vec<String> = tokens.into_iter().map(Into::into).collect();
        self.set(|e| e.subscriber_tokens = tokens)
    }

    /// Names the query parameter and the cookie that carry a subscriber token.
    #[must_use]
    pub fn token_names(
        self,
        query_param: impl Into<String>,
        cookie: impl Into<String>,
    ) -> HubService {
        let (q, c) = (query_param.into(), cookie.into());
        self.set(|e| {
            e.token_param = q;
            e.token_cookie = c;
        })
    }

    /// Lets pages from these origins (`https://app.example`) subscribe and publish across
    /// origins (CORS); `*` allows any origin.
    #[must_use]
    pub fn allow_origins<I, S>(self, origins: I) -> HubService
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let list: Vec<String> = origins
            .into_iter()
            .map(|o| o.into().trim_end_matches('/').to_owned())
            .collect();
        let origins = if list.iter().any(|o| o == "*") {
            Origins::Any
        } else if list.is_empty() {
            Origins::None
        } else {
            Origins::List(list)
        };
        self.set(|e| e.origins = origins)
    }

    /// Allows credentials (cookies) on cross-origin requests: `new EventSource(url,
    /// {withCredentials: true})`. The allowed origin is then echoed, never `*`.
    #[must_use]
    pub fn allow_credentials(self, allow: bool) -> HubService {
        self.set(|e| e.credentials = allow)
    }

    /// The heartbeat interval [default: 15 s; jittered ±10%].
    #[must_use]
    pub fn heartbeat(self, interval: Duration) -> HubService {
        self.set(|e| e.heartbeat = interval)
    }

    /// Sends `retry:` with this reconnection time at the start of each stream [default: none;
    /// browsers wait about 3 s].
    #[must_use]
    pub fn retry(self, reconnection_time: Duration) -> HubService {
        self.set(|e| e.retry = Some(reconnection_time))
    }

    /// The largest `POST /publish` body, in bytes [default: the hub's
    /// [`max_event_bytes`](crate::sse::hub::HubConfig::max_event_bytes) + 16 KiB]; a larger
    /// one gets `413`.
    ///
    /// ```
    /// let svc = h2push::sse::http::HubService::new(h2push::sse::hub::Hub::memory(Default::default()))
    ///     .max_publish_bytes(64 * 1024);
    /// # drop(svc);
    /// ```
    #[must_use]
    pub fn max_publish_bytes(self, limit: usize) -> HubService {
        self.set(|e| e.max_publish_bytes = Some(limit))
    }

    /// Open subscriptions one client connection may hold [default: 10,000]; one more gets
    /// `429 Too Many Requests` (an HTTP/2 connection multiplexes many streams).
    ///
    /// ```
    /// let svc = h2push::sse::http::HubService::new(h2push::sse::hub::Hub::memory(Default::default()))
    ///     .max_subscriptions_per_connection(100);
    /// # drop(svc);
    /// ```
    #[must_use]
    pub fn max_subscriptions_per_connection(self, max: usize) -> HubService {
        let conns = Arc::new(ConnLimiter::new(max.max(1)));
        self.set(|e| e.conns = conns)
    }

    /// Whether `path` is one of the endpoints.
    pub fn handles(&self, path: &str) -> bool {
        path == self.ep.events_path || path == self.ep.publish_path
    }

    /// These endpoints in front of `inner`, which gets every other request.
    pub fn wrap<S>(self, inner: S) -> WithHub<S> {
        mount(Some(self), inner)
    }

    /// Answers one request (a `404` for other paths).
    pub async fn respond(&self, req: Request<Body>) -> Response<Body> {
        let ep = &*self.ep;
        let path = req.uri().path();
        let origin = req.headers().get(ORIGIN).cloned();
        let is_events = path == ep.events_path;
        let mut res = if is_events || path == ep.publish_path {
            let (allowed, handler): (&[Method], bool) = if is_events {
                (&[Method::GET], true)
            } else {
                (&[Method::POST], false)
            };
            match req.method() {
                &Method::OPTIONS => preflight(ep, origin.as_ref(), is_events),
                m if allowed.contains(m) => {
                    if handler {
                        events::subscribe(ep, req).await
                    } else {
                        publish::publish(ep, req).await
                    }
                }
                _ => {
                    let mut res = text_response(
                        StatusCode::METHOD_NOT_ALLOWED,
                        &format!("use {} on {path}\n", allowed[0]),
                    );
                    res.headers_mut().insert(
                        ALLOW,
                        HeaderValue::from_static(if is_events {
                            "GET, OPTIONS"
                        } else {
                            "POST, OPTIONS"
                        }),
                    );
                    res
                }
            }
        } else {
            return text_response(StatusCode::NOT_FOUND, "not found\n");
        };
        cors_headers(ep, origin.as_ref(), res.headers_mut());
        res
    }
}

/// The future of [`HubService`] and of [`WithHub`]'s hub routes.
pub type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

impl tower_service::Service<Request<Body>> for HubService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> ResponseFuture {
        let svc = self.clone();
        Box::pin(async move { Ok(svc.respond(req).await) })
    }
}

/// The hub's endpoints in front of another service; made by [`mount`].
pub type WithHub<S> = Front<HubService, S>;

/// The future of [`WithHub`].
pub type WithHubFuture<F> = FrontFuture<F>;

/// Puts the hub's endpoints (if any) in front of `inner`: requests to the endpoints' paths go
/// to the hub, all others to `inner`. With `None`, everything goes to `inner`, so a server can
/// mount the hub depending on its configuration without changing its service type.
///
/// ```
/// use h2push::sse::{http::{mount, HubService}, hub::Hub};
///
/// let files = tower::service_fn(|_req: http::Request<h2push::Body>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(h2push::Body::from("a file")))
/// });
/// let hub = HubService::new(Hub::memory(Default::default())).publish_token("t");
/// let app = mount(Some(hub), files);
/// # drop(app);
/// ```
pub fn mount<S>(hub: Option<HubService>, inner: S) -> WithHub<S> {
    Front::new(hub, inner)
}

impl Endpoint for HubService {
    fn handles(&self, path: &str) -> bool {
        HubService::handles(self, path)
    }
    fn answer(&self, req: Request<Body>) -> EndpointFuture {
        let hub = self.clone();
        Box::pin(async move { hub.respond(req).await })
    }
}

/// The `Access-Control-Allow-Origin` value for `origin`, if it is allowed.
fn allowed_origin(ep: &Endpoints, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
    let origin = origin?;
    match &ep.origins {
        Origins::None => None,
        Origins::Any if !ep.credentials => Some(HeaderValue::from_static("*")),
        Origins::Any => Some(origin.clone()),
        Origins::List(list) => {
            let o = origin.to_str().ok()?;
            list.iter()
                .any(|a| a.eq_ignore_ascii_case(o))
                .then(|| origin.clone())
        }
    }
}

fn cors_headers(ep: &Endpoints, origin: Option<&HeaderValue>, h: &mut http::HeaderMap) {
    if matches!(ep.origins, Origins::None) {
        return;
    }
    h.append(VARY, HeaderValue::from_static("origin"));
    if let Some(allow) = allowed_origin(ep, origin) {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        if ep.credentials {
            h.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
}

/// Answers a CORS preflight (a reconnecting `EventSource` sends `Last-Event-ID`, which is not
/// a safelisted header; publishers send `Authorization` and JSON).
fn preflight(ep: &Endpoints, origin: Option<&HeaderValue>, events: bool) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    if allowed_origin(ep, origin).is_some() {
        let h = res.headers_mut();
        h.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(if events { "GET" } else { "POST" }),
        );
        h.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(if events {
                "last-event-id, cache-control"
            } else {
                "authorization, content-type"
            }),
        );
        h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    }
    res
}

/// A plain-text response.
fn text_response(status: StatusCode, text: &str) -> Response<Body> {
    let mut res = Response::new(Body::from(text.to_owned()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// The decoded `name=value` pairs of a query string.
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
}

/// Compares secrets in time independent of where they differ.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
    }

    #[test]
    fn query_pairs_decode_and_repeat() {
        let q = query_pairs(Some("topic=a&topic=b%20c&lastEventId=x_1"));
        assert_eq!(
            q,
            [
                ("topic".into(), "a".into()),
                ("topic".into(), "b c".into()),
                ("lastEventId".into(), "x_1".into())
            ]
        );
        assert!(query_pairs(None).is_empty());
    }
}
