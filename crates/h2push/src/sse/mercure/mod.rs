//! The Mercure protocol (draft-dunglas-mercure) on top of the event hub.
//!
//! This module owns [`MercureService`]: the hub URL `/.well-known/mercure` as a
//! `tower::Service` — `GET` subscribes with `topic` selectors, `POST` publishes a form with
//! `topic`, `data`, `private`, `id`, `type`, `retry` — with JWS authorization and,
//! optionally, subscription events. The parts live in one file each: `topic.rs` (selectors
//! and URI Template matching), `jwt.rs` (keys, where tokens are found, the `mercure` claim),
//! `update.rs` (an update, its ids and how it travels through the hub), `publish.rs` and
//! `subscribe.rs` (the two handlers and the subscriber's stream).
//!
//! It speaks the protocol as Mercure 0.x hubs and clients do (draft 07: `topic=` selectors
//! with URI Templates, `mercure.publish`/`mercure.subscribe` claims, several topics per
//! update), plus the parts of draft 08 that do not break those clients: `match=` (exact)
//! matchers, `authorization_details` claims with `Exact` and `*` matchers, the `access_token`
//! parameter and `mercureAccessToken` cookie, RFC 6750 error codes, the reserved
//! `/.well-known/mercure` namespace and the `Last-Event-ID` response header. Not covered:
//! draft 08's `URLPattern` matchers (refused with `400`, or `401` in a token), its mandatory
//! `typ: at+jwt`, `aud` and `exp` checks, one topic per update, and the subscription web API.
//!
//! Fan-out, history, replay and the Redis backend are [`Hub`]'s: every update is one hub
//! event on the internal topic [`INTERNAL_TOPIC`], carrying the update as JSON; each
//! subscriber's stream reads that topic and passes on, re-encoded as the Mercure event, the
//! updates its selectors and its JWT allow — so an update reaches a subscriber once however
//! many of its selectors match. Give the Mercure service a hub of its own: the `/events`
//! endpoint of the same hub would show the internal topic, private updates included.
//!
//! | Request | Answer |
//! |---|---|
//! | `GET /.well-known/mercure?topic=S&topic=…` (or `match=TOPIC`) | `200` event stream; `Last-Event-ID` header or `lastEventID` query (`earliest`: all history) resumes, and the response's `Last-Event-ID` says from where (`earliest` if the id is unknown) |
//! | … no `topic` / too many | `400` |
//! | … no JWT while anonymous subscribers are not allowed, or an invalid JWT | `401` (`error="invalid_token"` for the latter) |
//! | … too many subscriptions on this connection / on the hub | `429` / `503` |
//! | `POST /.well-known/mercure` (form) | `200`, the update's id as the body |
//! | … no or invalid JWT | `401`; a JWT whose publish claim does not match every topic, or a topic under `/.well-known/mercure`, `403` |
//! | … body too large / event too large | `413` |
//! | `OPTIONS` (CORS preflight) | `204`, allowing [`MercureConfig::cors_origins`] |
//!
//! ```
//! use h2push::sse::hub::Hub;
//! use h2push::sse::mercure::{JwtKey, MercureConfig, MercureService};
//!
//! let mercure = MercureService::new(
//!     Hub::memory(Default::default()),
//!     MercureConfig {
//!         publisher_key: Some(JwtKey::hs256("!ChangeThisMercureHubJWTSecretKey!")),
//!         anonymous: true,
//!         ..MercureConfig::default()
//!     },
//! );
//! assert!(mercure.handles("/.well-known/mercure"));
//! ```

mod cors;
mod jwt;
mod publish;
mod subscribe;
mod topic;
mod update;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{ALLOW, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};

pub use self::jwt::{Claims, JwtKey, COOKIE_NAME, COOKIE_NAME_08};
pub use self::subscribe::MercureStream;
pub use self::topic::{any_match, Selector};
pub use self::update::{new_id, Update};

use self::update::IdIndex;
use crate::sse::conn_limit::ConnLimiter;
use crate::sse::front::{Endpoint, EndpointFuture, Front, FrontFuture};
use crate::sse::hub::{Hub, HubError};
use crate::sse::Event;
use crate::Body;

/// The hub URL path the draft reserves.
pub const HUB_PATH: &str = "/.well-known/mercure";

/// The hub topic Mercure updates travel on.
pub const INTERNAL_TOPIC: &str = "mercure";

/// How the Mercure hub authorizes and bounds its clients. Every field has a default.
///
/// ```
/// use h2push::sse::mercure::{JwtKey, MercureConfig};
/// let config = MercureConfig {
///     publisher_key: Some(JwtKey::hs256("publisher secret")),
///     subscriber_key: Some(JwtKey::hs256("subscriber secret")),
///     subscriptions: true,
///     ..MercureConfig::default()
/// };
/// assert!(!config.anonymous);
/// ```
#[derive(Debug, Clone)]
pub struct MercureConfig {
    /// Verifies publishers' JWTs. `None`: publishing is refused.
    pub publisher_key: Option<JwtKey>,
    /// Verifies subscribers' JWTs [default: the publisher key].
    pub subscriber_key: Option<JwtKey>,
    /// Allow subscribers without a JWT (they get public updates only) [default: false].
    pub anonymous: bool,
    /// Publish subscription events (`/.well-known/mercure/subscriptions/{topic}/{subscriber}`)
    /// when a subscription starts and ends [default: false].
    pub subscriptions: bool,
    /// Heartbeat interval on idle streams [default: 15 s].
    pub heartbeat: Duration,
    /// The largest publish request body, in bytes [default: 256 KiB]; larger gets `413`.
    pub max_publish_bytes: usize,
    /// Open subscriptions one client connection may hold [default: 10,000]; more get `429`.
    pub max_subscriptions_per_connection: usize,
    /// Topics (or selectors) one update or subscription may name [default: 32].
    pub max_topics: usize,
    /// Origins whose pages may subscribe and publish across origins (CORS), with
    /// credentials (the cookie); `*` allows any origin [default: none].
    pub cors_origins: Vec<String>,
}

impl Default for MercureConfig {
    fn default() -> Self {
        MercureConfig {
            publisher_key: None,
            subscriber_key: None,
            anonymous: false,
            subscriptions: false,
            heartbeat: Duration::from_secs(15),
            max_publish_bytes: 256 * 1024,
            max_subscriptions_per_connection: 10_000,
            max_topics: 32,
            cors_origins: Vec::new(),
        }
    }
}

/// The Mercure hub endpoint, as a `tower::Service<Request<Body>>`. Cheap to clone.
///
/// Requests to other paths get a `404`; [`mount`] puts it in front of another service.
#[derive(Clone)]
pub struct MercureService {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    hub: Hub,
    config: MercureConfig,
    conns: ConnLimiter,
    ids: IdIndex,
    pump_started: AtomicBool,
}

impl std::fmt::Debug for MercureService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MercureService")
            .field("hub", &self.shared.hub.backend_name())
            .field("anonymous", &self.shared.config.anonymous)
            .field("subscriptions", &self.shared.config.subscriptions)
            .finish_non_exhaustive()
    }
}

impl MercureService {
    /// The Mercure endpoint at [`HUB_PATH`] on `hub` (which it should not share with
    /// `/events`; see the [module docs](self)).
    pub fn new(hub: Hub, config: MercureConfig) -> MercureService {
        let ids = IdIndex::new(hub.config().history_len.saturating_mul(2).max(1024));
        MercureService {
            shared: Arc::new(Shared {
                conns: ConnLimiter::new(config.max_subscriptions_per_connection.max(1)),
                hub,
                config,
                ids,
                pump_started: AtomicBool::new(false),
            }),
        }
    }

    /// The hub behind the endpoint.
    pub fn hub(&self) -> &Hub {
        &self.shared.hub
    }

    /// Whether `path` is the hub URL.
    pub fn handles(&self, path: &str) -> bool {
        path == HUB_PATH
    }

    /// Publishes `update` as if a publisher had posted it, without authorization; returns
    /// its id. For applications that publish from the same process.
    ///
    /// # Errors
    ///
    /// A [`HubError`] from the hub (too large, backend down, shut down).
    ///
    /// ```
    /// use h2push::sse::{hub::Hub, mercure::{MercureService, Update}};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let mercure = MercureService::new(Hub::memory(Default::default()), Default::default());
    /// let update = Update::new(["https://example.com/books/1"], "{}");
    /// assert_eq!(mercure.publish(&update).await?, update.id);
    /// # Ok::<(), h2push::sse::hub::HubError>(())
    /// # }).unwrap();
    /// ```
    pub async fn publish(&self, update: &Update) -> Result<String, HubError> {
        self.shared.publish(update).await
    }

    /// Answers one request (a `404` for other paths).
    pub async fn respond(&self, req: Request<Body>) -> Response<Body> {
        if req.uri().path() != HUB_PATH {
            return text_response(StatusCode::NOT_FOUND, "not found\n");
        }
        self.shared.start_pump();
        let origins = &self.shared.config.cors_origins;
        let origin = req.headers().get(http::header::ORIGIN).cloned();
        let mut res = match *req.method() {
            Method::GET => subscribe::subscribe(&self.shared, req).await,
            Method::POST => publish::publish(&self.shared, req).await,
            Method::OPTIONS => return cors::preflight(origins, origin.as_ref()),
            _ => {
                let mut res = text_response(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "use GET to subscribe or POST to publish\n",
                );
                res.headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("GET, POST, OPTIONS"));
                res
            }
        };
        cors::add_headers(origins, origin.as_ref(), res.headers_mut());
        res
    }
}

impl Shared {
    async fn publish(&self, update: &Update) -> Result<String, HubError> {
        let hub_id = self
            .hub
            .publish(INTERNAL_TOPIC, Event::data(update.envelope()))
            .await?;
        self.ids.record(&update.id, &hub_id.to_string());
        Ok(update.id.clone())
    }

    /// With Redis, other instances publish too: a background reader learns their ids, so
    /// that a subscriber can resume here after an update published there.
    fn start_pump(self: &Arc<Self>) {
        if self.hub.backend_name() != "redis" || self.pump_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(self);
        let hub = self.hub.clone();
        tokio::spawn(async move {
            let Ok(mut sub) = hub.subscribe([INTERNAL_TOPIC], None).await else {
                if let Some(s) = weak.upgrade() {
                    s.pump_started.store(false, Ordering::Release);
                }
                return;
            };
            let mut parser = crate::sse::Parser::new();
            while let Some(chunk) = sub.next_chunk().await {
                let Some(shared) = weak.upgrade() else { return };
                for e in parser.feed(&chunk) {
                    if let Some(u) = Update::from_envelope(&e.data) {
                        shared.ids.record(&u.id, &e.last_event_id);
                    }
                }
            }
            if let Some(s) = weak.upgrade() {
                s.pump_started.store(false, Ordering::Release);
            }
        });
    }
}

/// A plain-text response.
pub(crate) fn text_response(status: StatusCode, text: &str) -> Response<Body> {
    let mut res = Response::new(Body::from(text.to_owned()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// A `401` or `403` with the RFC 6750 challenge: no error code when no token was presented,
/// `invalid_token` for one that failed validation, `insufficient_scope` (with `403`) for one
/// that does not allow the operation.
pub(crate) fn auth_error(status: StatusCode, error: Option<&str>, text: &str) -> Response<Body> {
    let mut res = text_response(status, &format!("{text}\n"));
    let challenge = match error {
        None => "Bearer realm=\"mercure\"".to_owned(),
        Some(code) => format!("Bearer realm=\"mercure\", error=\"{code}\""),
    };
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        res.headers_mut().insert(http::header::WWW_AUTHENTICATE, v);
    }
    res
}

/// The future of [`MercureService`].
pub type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

impl tower_service::Service<Request<Body>> for MercureService {
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

/// The Mercure endpoint in front of another service; made by [`mount`].
pub type WithMercure<S> = Front<MercureService, S>;

/// The future of [`WithMercure`].
pub type WithMercureFuture<F> = FrontFuture<F>;

/// Puts the Mercure endpoint (if any) in front of `inner`: requests to [`HUB_PATH`] go to
/// it, all others to `inner`.
///
/// ```
/// use h2push::sse::{hub::Hub, mercure::{mount, MercureService}};
///
/// let files = tower::service_fn(|_req: http::Request<h2push::Body>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(h2push::Body::from("a file")))
/// });
/// let app = mount(Some(MercureService::new(Hub::memory(Default::default()), Default::default())), files);
/// # drop(app);
/// ```
pub fn mount<S>(mercure: Option<MercureService>, inner: S) -> WithMercure<S> {
    Front::new(mercure, inner)
}

impl Endpoint for MercureService {
    fn handles(&self, path: &str) -> bool {
        MercureService::handles(self, path)
    }
    fn answer(&self, req: Request<Body>) -> EndpointFuture {
        let svc = self.clone();
        Box::pin(async move { svc.respond(req).await })
    }
}
