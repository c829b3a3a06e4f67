//! The policy applied to requests: [`HintLayer`] and [`HintService`].
//!
//! This module owns the walk one request takes through the policy:
//!
//! 1. gather the hints known up front — rules, the static page's `<head>`, what its critical
//!    stylesheets fetch next, what was learned for the page — merged (first source wins),
//!    without what no preload can serve (icons) or the browser fetched again anyway, and
//!    put in push order;
//! 2. send them as one 103 to a navigation (HTTP/2; over HTTP/1.1 they end up in `Link`);
//! 3. push them, skipping what the client has (diary, cancel back-off, digest cookie,
//!    conditional parent) and stopping at the page's budget;
//! 4. run the application; push its `Link: rel=preload` resources the same way;
//! 5. finish the response: `Link: rel=preload` for the announced hints (push-only ones
//!    removed), the updated digest cookie, what was hinted for the access log;
//! 6. learn from the request (a navigation opens a window on its connection; a sub-resource
//!    with a matching `Referer` inside it is associated with the page, and a hinted one
//!    requested twice is refused for it).
//!
//! Pushed responses pass through the layer untouched (the server answers a push by running
//! the service on a synthetic GET); the connection reports what became of each push to the
//! metrics (a `PushObserver`). Sending frames is the connection drivers'; the sources and
//! filters live in the sibling modules.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::header::{
    CACHE_CONTROL, CONTENT_TYPE, COOKIE, HOST, IF_MODIFIED_SINCE, IF_NONE_MATCH, LINK, REFERER,
    SET_COOKIE,
};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};

use super::body::HintBody;
use super::css::SheetCache;
use super::digest::{resource_key, CacheDigest, DigestCookie};
use super::html::HeadCache;
use super::learn::{Fetched, LearnMode, Learner, Navigated};
use super::link::{destination_for, parse_links, Hint, HintRel};
use super::metrics::{HintMetrics, Skip, Source};
use super::order::{merge_unique, sort_hints, Spent};
use super::policy::{is_navigation, HintPolicy};
use super::reuse::{reused_from_cache, shared_cache_may_store};
use crate::conn::access_log::Hinted;
use crate::files::FileMeta;
use crate::push::PushLog;
use crate::{EarlyHints, PeerAddr, Protocol, PushError, Pusher};

/// A tower layer applying a [`HintPolicy`] to a service.
///
/// The layer keeps the policy's state — metrics, the HTML scan cache, learned hints, the
/// digest cookie's key — shared by every service it makes.
///
/// ```
/// use h2push::hints::{Hint, HintLayer, HintPolicy, PushRule};
/// use tower::Layer;
/// let layer = HintLayer::new(HintPolicy::with_rules([PushRule::new(
///     "/",
///     [Hint::new("/style.css"), Hint::new("/app.js")],
/// )]));
/// let app = layer.layer(axum::Router::<()>::new());
/// # drop(app);
/// ```
#[derive(Debug, Clone)]
pub struct HintLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    policy: HintPolicy,
    metrics: Arc<HintMetrics>,
    digest: Option<DigestCookie>,
    learner: Learner,
    heads: HeadCache,
    sheets: SheetCache,
}

impl HintLayer {
    /// A layer for `policy`.
    pub fn new(policy: HintPolicy) -> Self {
        HintLayer {
            shared: Arc::new(Shared {
                digest: policy.digest.clone().map(DigestCookie::new),
                learner: Learner::new(policy.learn.clone()),
                heads: HeadCache::default(),
                sheets: SheetCache::default(),
                metrics: Arc::default(),
                policy,
            }),
        }
    }

    /// The policy's counters (also served at [`HintPolicy::metrics_path`], if set).
    ///
    /// ```
    /// let layer = h2push::hints::HintLayer::new(Default::default());
    /// assert!(layer.metrics().render().contains("h2push_early_hints_total 0"));
    /// ```
    pub fn metrics(&self) -> Arc<HintMetrics> {
        self.shared.metrics.clone()
    }

    /// The policy this layer applies.
    pub fn policy(&self) -> &HintPolicy {
        &self.shared.policy
    }
}

impl<S> tower::Layer<S> for HintLayer {
    type Service = HintService<S>;
    fn layer(&self, inner: S) -> HintService<S> {
        HintService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service made by [`HintLayer`].
#[derive(Debug, Clone)]
pub struct HintService<S> {
    inner: S,
    shared: Arc<Shared>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, ResBody> tower_service::Service<Request<B>> for HintService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
{
    type Response = Response<HintBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The ready service goes into the future; a clone stays for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        let metrics = shared.metrics.clone();

        if is_pushed_response(&req) {
            // Counted by the connection (see `PushObserver`); nothing to hint.
            let fut = inner.call(req);
            return Box::pin(async move { Ok(fut.await?.map(HintBody::inner)) });
        }
        if let Some(p) = req.extensions().get::<Pusher>() {
            p.observe(metrics.clone());
        }
        if let Some(p) = req.extensions().get::<Protocol>() {
            metrics.request(*p);
        }
        let path = req.uri().path();
        if req.method() == Method::GET && shared.policy.metrics_path.as_deref() == Some(path) {
            let res = metrics_response(&metrics);
            return Box::pin(async move { Ok(res) });
        }
        if req.method() != Method::GET {
            let fut = inner.call(req);
            return Box::pin(async move { Ok(fut.await?.map(HintBody::inner)) });
        }
        Box::pin(async move { shared.serve(inner, req).await })
    }
}

/// Whether `req` is the synthetic request the HTTP/2 driver answers a push with (its
/// `Pusher` says a pushed response cannot push).
fn is_pushed_response<B>(req: &Request<B>) -> bool {
    req.extensions()
        .get::<Pusher>()
        .is_some_and(Pusher::is_for_pushed_response)
}

fn metrics_response<B>(metrics: &HintMetrics) -> Response<HintBody<B>> {
    let mut res = Response::new(HintBody::full(Bytes::from(metrics.render())));
    let h = res.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(HintMetrics::CONTENT_TYPE),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// What the policy reads from one request before it goes to the application.
struct RequestFacts {
    path: String,
    /// The path and query, as a hint for this resource names it.
    target: String,
    navigation: bool,
    conditional: bool,
    secure: bool,
    /// The connection: the client's address and port.
    conn: Option<SocketAddr>,
    pusher: Option<Pusher>,
    /// HTTP/2, but the client's SETTINGS_ENABLE_PUSH = 0 is known: pushes are refused.
    push_disabled: bool,
    early_hints: Option<EarlyHints>,
    /// The `Referer`'s path, when it names this origin.
    referer_page: Option<String>,
    /// The request's destination (`Sec-Fetch-Dest`, else the extension's guess).
    destination: Option<String>,
    /// `Sec-Fetch-Mode`, if sent.
    mode: Option<String>,
    /// The request carries `Authorization`.
    authorized: bool,
}

impl RequestFacts {
    fn of<B>(req: &Request<B>) -> Self {
        let h = req.headers();
        let ext = req.extensions();
        let secure = match ext.get::<Protocol>() {
            Some(Protocol::H2 { tls } | Protocol::Http1 { tls }) => *tls,
            None => req.uri().scheme() == Some(&http::uri::Scheme::HTTPS),
        };
        let path = req.uri().path().to_owned();
        let header = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_ascii_lowercase)
        };
        let destination =
            header("sec-fetch-dest").or_else(|| destination_for(&path).map(str::to_owned));
        RequestFacts {
            navigation: is_navigation(h),
            conditional: h.contains_key(IF_NONE_MATCH) || h.contains_key(IF_MODIFIED_SINCE),
            secure,
            conn: ext.get::<PeerAddr>().map(|p| p.0),
            pusher: ext.get::<Pusher>().cloned().filter(Pusher::is_available),
            push_disabled: matches!(ext.get::<Protocol>(), Some(Protocol::H2 { .. }))
                && ext.get::<Pusher>().is_some_and(|p| !p.is_available()),
            early_hints: ext.get::<EarlyHints>().cloned(),
            referer_page: referer_page(req),
            destination,
            mode: header("sec-fetch-mode"),
            authorized: h.contains_key(http::header::AUTHORIZATION),
            target: req
                .uri()
                .path_and_query()
                .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned()),
            path,
        }
    }
}

/// The path of the request's `Referer`, if it names the request's own authority.
fn referer_page<B>(req: &Request<B>) -> Option<String> {
    let referer = url::Url::parse(req.headers().get(REFERER)?.to_str().ok()?).ok()?;
    let authority = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| Some(req.headers().get(HOST)?.to_str().ok()?.to_owned()))?;
    let host = referer.host_str()?;
    let referer_authority = match referer.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    };
    referer_authority
        .eq_ignore_ascii_case(&authority)
        .then(|| referer.path().to_owned())
}

fn is_html(meta: &FileMeta) -> bool {
    meta.content_type
        .to_str()
        .is_ok_and(|t| t.starts_with("text/html"))
}

impl Shared {
    async fn serve<S, B, ResBody>(
        &self,
        mut inner: S,
        req: Request<B>,
    ) -> Result<Response<HintBody<ResBody>>, S::Error>
    where
        S: tower_service::Service<Request<B>, Response = Response<ResBody>>,
    {
        let policy = &self.policy;
        let facts = RequestFacts::of(&req);
        let now = Instant::now();
        // A request for a style, script, font or image is no page: no lookup, scan or
        // learned hints for it (the common case, kept cheap).
        let maybe_page = facts.navigation
            || matches!(
                facts.destination.as_deref(),
                None | Some("document" | "iframe")
            );
        let page = match &policy.files {
            Some(files) if maybe_page => files.lookup(&facts.path).await,
            _ => None,
        };
        let static_page = page.as_ref().is_some_and(is_html);
        let learnable = match self.learner.mode() {
            LearnMode::Off => false,
            LearnMode::Static => static_page,
            LearnMode::Shared | LearnMode::All => maybe_page,
        };

        // 1. The hints known up front, in push order. The configured rules go as configured;
        //    what the policy found itself is kept only where a preload can serve it.
        let mut hints = policy.rule_hints(&facts.path);
        self.metrics.hints(Source::Rule, hints.len());
        let mut found = Vec::new();
        let mut never = Vec::new();
        if let (true, Some(meta)) = (policy.html_scan, page.as_ref().filter(|m| is_html(m))) {
            let scan = self.heads.scan(&facts.path, &meta.path, &meta.etag).await;
            self.metrics.hints(Source::Html, scan.hints.len());
            merge_unique(&mut found, scan.hints.iter().cloned());
            never.clone_from(&scan.never);
            let chained = self.stylesheet_hints(&scan.hints).await;
            self.metrics.hints(Source::Css, chained.len());
            merge_unique(&mut found, chained);
        }
        if learnable {
            let learned = self.learner.hints(&facts.path, now);
            self.metrics.hints(Source::Learned, learned.len());
            merge_unique(&mut found, learned);
            never.extend(self.learner.refused(&facts.path));
        }
        if !never.is_empty() {
            found.retain(|h| !never.contains(&h.path));
        }
        self.push_only_unless_reused(&mut found).await;
        merge_unique(&mut hints, found);
        sort_hints(&mut hints);
        let announced: Vec<&Hint> = hints.iter().filter(|h| !h.push_only).collect();

        // 2. One 103 for a navigation: gathered with what the application hints in its first
        //    poll (a proxy's remembered hints, say), sent when that poll returns.
        let (lent_hints, gather) = facts
            .early_hints
            .as_ref()
            .filter(|_| facts.navigation)
            .map(EarlyHints::gathering)
            .unzip();
        let mut hinted = Vec::new();
        if policy.early_hints && facts.navigation && !announced.is_empty() {
            if let Some(eh) = &lent_hints {
                // Over HTTP/1.1 the links wait for the final response; when the preload
                // header is on it carries them already.
                let sent = (eh.sends_informational() || !policy.preload_header)
                    && eh.send(announced.iter().map(|h| h.to_link())).is_ok();
                if sent {
                    if eh.sends_informational() {
                        self.metrics.early_hints();
                    }
                    hinted.extend(announced.iter().map(|h| h.path.clone()));
                }
            }
        }

        // 3. Pushes, before the application runs.
        let mut pushes = Pushes::new(self, &facts, req.headers());
        if policy.push_rules {
            pushes.push_all(&hints).await;
        }
        if let (true, true, Some(conn)) = (learnable, facts.navigation, facts.conn) {
            let local = || announced.iter().filter(|h| h.is_local());
            let told = policy.preload_header || !hinted.is_empty();
            self.learner.page_seen(
                Navigated {
                    conn,
                    page: &facts.path,
                    version: page.as_ref().map(|m| &m.etag),
                    dynamic: !static_page && self.learner.mode() == LearnMode::Shared,
                    stylesheets: local()
                        .filter(|h| h.as_.as_deref() == Some("style"))
                        .map(|h| h.path.clone())
                        .collect(),
                    announced: if told {
                        local().map(|h| h.path.clone()).collect()
                    } else {
                        Vec::new()
                    },
                },
                now,
            );
        }

        // 4. The application (its own pushes logged for the digest, its hints gathered into
        //    the 103), then its preload links.
        let mut req = req;
        let app_pushes = pushes.lend_pusher(req.extensions_mut());
        if let Some(lent) = lent_hints {
            req.extensions_mut().insert(lent);
        }
        let mut call = std::pin::pin!(inner.call(req));
        let mut gather = gather;
        let res = std::future::poll_fn(|cx| {
            let polled = call.as_mut().poll(cx);
            if let Some(g) = gather.take() {
                if let Err(e) = g.flush() {
                    tracing::debug!("103 not sent: {e}");
                }
            }
            polled
        })
        .await;
        let (mut parts, body) = res?.into_parts();
        if let Some(log) = app_pushes {
            pushes.remember_paths(log.take()).await;
        }
        let mut links: Vec<Hint> = parts
            .headers
            .get_all(LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(parse_links)
            .filter_map(|l| l.to_hint())
            .collect();
        self.metrics.hints(Source::Link, links.len());
        if policy.push_preload_links && !links.is_empty() {
            sort_hints(&mut links);
            pushes.push_all(&links).await;
        }

        // 5. The final response's head.
        if links.iter().any(|h| h.push_only) {
            strip_push_only_links(&mut parts.headers);
        }
        if policy.preload_header {
            for h in &announced {
                if !links.iter().any(|l| l.path == h.path) {
                    parts.headers.append(LINK, h.to_link());
                    if !hinted.contains(&h.path) {
                        hinted.push(h.path.clone());
                    }
                }
            }
        }
        if let Some(cookie) = pushes.set_cookie() {
            parts.headers.append(SET_COOKIE, cookie);
        }
        if !hinted.is_empty() {
            parts.extensions.insert(Hinted(hinted));
        }

        // 6. Learning from a sub-resource request.
        let ok = parts.status.is_success() || parts.status == StatusCode::NOT_MODIFIED;
        let learning = self.learner.mode() != LearnMode::Off;
        if let (true, false, Some(conn)) = (learning, facts.navigation, facts.conn) {
            let hint = learned_hint(&facts).filter(|_| ok).map(|mut h| {
                h.push_only = !reused_from_cache(parts.headers.get(CACHE_CONTROL));
                h
            });
            self.learner.resource_seen(
                Fetched {
                    conn,
                    path: &facts.target,
                    referer: facts.referer_page.as_deref(),
                    hint,
                    shareable: shared_cache_may_store(facts.authorized, &parts.headers),
                },
                now,
            );
        }
        Ok(Response::from_parts(parts, HintBody::inner(body)))
    }

    /// Makes the static files among the hints the policy found that the browser would not
    /// reuse from its cache push-only (see [`super::reuse`]): announced, they would cost a
    /// revalidation. Configured rules are not filtered: they go as configured.
    async fn push_only_unless_reused(&self, hints: &mut [Hint]) {
        let Some(files) = &self.policy.files else {
            return;
        };
        for h in hints.iter_mut().filter(|h| h.is_local() && !h.push_only) {
            if let Some(meta) = files.lookup(&h.path).await {
                h.push_only = !reused_from_cache(meta.cache_control.as_ref());
            }
        }
    }

    /// What the page's critical stylesheets (those among `hints` that are static files)
    /// fetch next, and what their `@import`s fetch in turn, capped per page.
    async fn stylesheet_hints(&self, hints: &[Hint]) -> Vec<Hint> {
        /// Hints from a page's stylesheets at most, and how deep `@import`s are followed.
        const MAX_CHAINED: usize = 12;
        const MAX_IMPORT_DEPTH: usize = 2;
        let Some(files) = &self.policy.files else {
            return Vec::new();
        };
        let is_sheet = |h: &&Hint| h.rel == HintRel::Preload && h.as_.as_deref() == Some("style");
        let mut sheets: Vec<String> = hints
            .iter()
            .filter(is_sheet)
            .map(|h| h.path.clone())
            .collect();
        let mut out: Vec<Hint> = Vec::new();
        for _ in 0..MAX_IMPORT_DEPTH {
            let mut imported = Vec::new();
            for sheet in &sheets {
                let Some(meta) = files.lookup(sheet).await else {
                    continue;
                };
                if !meta
                    .content_type
                    .to_str()
                    .is_ok_and(|t| t.starts_with("text/css"))
                {
                    continue;
                }
                let found = self.sheets.hints(sheet, &meta.path, &meta.etag).await;
                for h in found.iter() {
                    let known = hints.iter().chain(&out).any(|o| o.path == h.path);
                    if known || out.len() >= MAX_CHAINED {
                        continue;
                    }
                    if is_sheet(&h) {
                        imported.push(h.path.clone());
                    }
                    out.push(h.clone());
                }
            }
            sheets = imported;
        }
        out
    }
}

/// The hint a preload needs to serve this sub-resource request, if it is of a kind worth
/// learning (what a page needs to render, not its data fetches) and fetched in a way a
/// preload can match: `no-cors` or `cors` (not `same-origin`, as SVG `<use>` references are
/// fetched). A CORS script is a module script, `modulepreload`ed.
fn learned_hint(facts: &RequestFacts) -> Option<Hint> {
    let dest = facts.destination.as_deref()?;
    if !matches!(dest, "style" | "script" | "font" | "image") {
        return None;
    }
    let mode = facts.mode.as_deref().unwrap_or("no-cors");
    match (dest, mode) {
        ("script", "cors") => Some(Hint::module(&facts.target)),
        (_, "cors" | "no-cors") => {
            Some(Hint::new(&facts.target).with_as(dest).with_fetch_mode(mode))
        }
        _ => None,
    }
}

/// Removes the push-only links from the response's `Link` fields (h2o's
/// `x-http2-push-only`): they were meant for the server. A field holding other links too is
/// rewritten without them.
fn strip_push_only_links(headers: &mut HeaderMap) {
    let is_push_only = |l: &super::link::Link| l.to_hint().is_some_and(|h| h.push_only);
    let fields: Vec<HeaderValue> = headers.get_all(LINK).iter().cloned().collect();
    headers.remove(LINK);
    for v in fields {
        let links = v.to_str().map(parse_links).unwrap_or_default();
        if !links.iter().any(is_push_only) {
            headers.append(LINK, v);
            continue;
        }
        let rest: Vec<String> = links
            .iter()
            .filter(|l| !is_push_only(l))
            .map(write_link)
            .collect();
        if let (false, Ok(v)) = (rest.is_empty(), HeaderValue::try_from(rest.join(", "))) {
            headers.append(LINK, v);
        }
    }
}

/// A parsed link written back as a field value.
fn write_link(l: &super::link::Link) -> String {
    let mut s = format!("<{}>", l.target);
    for (name, value) in &l.params {
        match value {
            Some(v)
                if v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._/".contains(&b)) =>
            {
                s.push_str(&format!("; {name}={v}"));
            }
            Some(v) => s.push_str(&format!(
                "; {name}=\"{}\"",
                v.replace('\\', "\\\\").replace('"', "\\\"")
            )),
            None => s.push_str(&format!("; {name}")),
        }
    }
    s
}

/// The pushes of one page: its budget, the client's digest and the one it will get back.
struct Pushes<'a> {
    shared: &'a Shared,
    pusher: Option<&'a Pusher>,
    conditional: bool,
    secure: bool,
    spent: Spent,
    /// The request's `Cookie` fields, read into `client_digest` at the first candidate.
    cookies: Option<HeaderMap>,
    client_digest: Option<CacheDigest>,
    /// The client's digest plus what it has now; `changed` once something was added.
    next_digest: Option<CacheDigest>,
    changed: bool,
    /// The client refused push for the connection, or the parent ended.
    stopped: bool,
    /// The client is known to refuse push: candidates count as refused.
    push_disabled: bool,
}

impl<'a> Pushes<'a> {
    fn new(shared: &'a Shared, facts: &'a RequestFacts, headers: &HeaderMap) -> Self {
        let cookies = match (&shared.digest, &facts.pusher) {
            (Some(_), Some(_)) => Some(
                headers
                    .get_all(COOKIE)
                    .iter()
                    .map(|v| (COOKIE, v.clone()))
                    .collect(),
            ),
            _ => None,
        };
        Pushes {
            shared,
            pusher: facts.pusher.as_ref(),
            conditional: facts.conditional,
            secure: facts.secure,
            spent: Spent::new(shared.policy.budget),
            cookies,
            client_digest: None,
            next_digest: None,
            changed: false,
            stopped: false,
            push_disabled: facts.push_disabled,
        }
    }

    /// Reads the client's digest (once), when there is something to push.
    fn read_digest(&mut self) {
        if let (Some(cookies), Some(d)) = (self.cookies.take(), &self.shared.digest) {
            let digest = d.read(&cookies);
            self.next_digest = Some(digest.clone());
            self.client_digest = Some(digest);
        }
    }

    /// Pushes each hint that may be, in the given order.
    ///
    /// What the files know (ETags, lengths) is looked up first; the pushes then go out in
    /// one synchronous burst. Interleaving awaits between pushes would let earlier pushed
    /// responses end in between, and the connection frees a push's slot when its last frame
    /// is queued, slightly before h2 stops counting the stream: a push made in that gap is
    /// queued inside h2, and a client reset of a queued push costs the connection (h2 ≥
    /// 0.4.15, see DESIGN.md).
    async fn push_all(&mut self, hints: &[Hint]) {
        if self.push_disabled && !self.conditional {
            let n = hints.iter().filter(|h| !h.nopush).count();
            self.shared.metrics.refused(false, n as u64);
        }
        if self.pusher.is_none() || self.stopped {
            return;
        }
        if hints.iter().all(|h| h.nopush) {
            return;
        }
        self.read_digest();
        let mut candidates = Vec::new();
        for hint in hints.iter().filter(|h| !h.nopush) {
            let meta = match &self.shared.policy.files {
                Some(files) if !self.conditional => files.lookup(&hint.path).await,
                _ => None,
            };
            let etag = meta.as_ref().and_then(|m| m.etag.to_str().ok());
            let key = resource_key(&hint.path, etag);
            candidates.push((hint, key, meta.map(|m| m.len)));
        }
        self.push_now(&candidates);
    }

    fn push_now(&mut self, candidates: &[(&Hint, u64, Option<u64>)]) {
        let Some(pusher) = self.pusher else { return };
        let metrics = &self.shared.metrics;
        for (i, &(hint, key, len)) in candidates.iter().enumerate() {
            if self.stopped {
                return;
            }
            if self.conditional {
                metrics.skipped(Skip::Conditional);
                continue;
            }
            if self.client_digest.as_ref().is_some_and(|d| d.contains(key)) {
                metrics.skipped(Skip::Digest);
                continue;
            }
            if !self.spent.fits(len) {
                metrics.skipped(Skip::Budget);
                continue;
            }
            match pusher.push(&hint.path) {
                Ok(()) => {
                    self.spent.take(len);
                    self.remember(key);
                }
                Err(PushError::AlreadyPushed(_)) => {
                    metrics.skipped(Skip::Diary);
                    self.remember(key);
                }
                Err(PushError::Cancelled(_)) => {
                    metrics.skipped(Skip::Cancelled);
                    self.remember(key);
                }
                Err(PushError::Disabled) => {
                    metrics.refused(false, (candidates.len() - i) as u64);
                    self.stopped = true;
                }
                // The client's stream limit is reached: the rest of this page would only
                // queue behind it (and h2 must not queue pushes), so stop here.
                Err(PushError::TooManyPushes { .. }) => {
                    metrics.refused(true, (candidates.len() - i) as u64);
                    self.stopped = true;
                }
                Err(PushError::Http1 | PushError::Nested | PushError::ParentClosed) => {
                    self.stopped = true;
                }
                Err(why) => tracing::debug!("not pushing {}: {why}", hint.path),
            }
        }
    }

    /// Lends the application a pusher that logs its pushes, when there is a digest to keep.
    fn lend_pusher(&self, ext: &mut http::Extensions) -> Option<Arc<PushLog>> {
        self.shared.digest.as_ref()?;
        let (lent, log) = self.pusher?.logged();
        ext.insert(lent);
        Some(log)
    }

    /// Adds what the application pushed itself to the digest the client gets back.
    async fn remember_paths(&mut self, paths: Vec<http::uri::PathAndQuery>) {
        if paths.is_empty() {
            return;
        }
        self.read_digest();
        for path in paths {
            let meta = match &self.shared.policy.files {
                Some(files) => files.lookup(path.path()).await,
                None => None,
            };
            let etag = meta.as_ref().and_then(|m| m.etag.to_str().ok());
            self.remember(resource_key(path.as_str(), etag));
        }
    }

    /// Adds `key` to the digest the client gets back; a full digest starts over.
    fn remember(&mut self, key: u64) {
        let Some(d) = self.next_digest.as_mut() else {
            return;
        };
        if d.contains(key) {
            return;
        }
        if !d.insert(key) {
            if let Some(cookie) = &self.shared.digest {
                *d = cookie.empty();
                d.insert(key);
            }
        }
        self.changed = true;
    }

    /// The `Set-Cookie` value for the updated digest, if it changed.
    fn set_cookie(&self) -> Option<HeaderValue> {
        let cookie = self.shared.digest.as_ref()?;
        let d = self.next_digest.as_ref().filter(|_| self.changed)?;
        Some(cookie.set_cookie(d, self.secure)).filter(|v| !v.is_empty())
    }
}
