//! The hint policy: which resources each request pushes and early-hints.
//!
//! This module owns the decisions of nginx's `http2_push` / `http2_push_preload` and their
//! 103 twin, as a tower layer around any service: configured rules fire as soon as a request
//! arrives (so pushes fill the server's think time), the response's own `Link: rel=preload`
//! headers are pushed before its head goes out (`nopush` honoured), and navigations get the
//! rule's links as one 103. Sending is done through the request's [`Pusher`] and
//! [`EarlyHints`]; a push the connection refuses (duplicate, disabled, over the client's
//! limit) is simply skipped.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{ACCEPT, LINK};
use http::{HeaderMap, Request, Response};

use super::link::{parse_links, Hint};
use crate::{EarlyHints, Pusher};

/// Resources to hint with every request whose path matches.
///
/// ```
/// use h2push::hints::{Hint, PushRule};
/// let rule = PushRule::new("/", [Hint::new("/style.css"), Hint::new("/app.js")]);
/// assert!(rule.matches("/") && !rule.matches("/other"));
/// let blog = PushRule::new("/blog/*", [Hint::new("/blog.css")]);
/// assert!(blog.matches("/blog/") && blog.matches("/blog/post-1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRule {
    /// An exact path, or a prefix ending in `*`.
    pub path: String,
    /// The resources, in the order they are pushed and listed.
    pub resources: Vec<Hint>,
}

impl PushRule {
    /// A rule for `path` (exact, or a prefix when it ends in `*`).
    pub fn new(path: impl Into<String>, resources: impl IntoIterator<Item = Hint>) -> Self {
        PushRule {
            path: path.into(),
            resources: resources.into_iter().collect(),
        }
    }

    /// Whether a request for `path` matches this rule.
    pub fn matches(&self, path: &str) -> bool {
        match self.path.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == self.path,
        }
    }
}

/// Which of the three outputs the policy produces.
///
/// ```
/// let p = h2push::hints::HintPolicy::default();
/// assert!(p.push_rules && p.push_preload_links && p.early_hints);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HintPolicy {
    /// The rules.
    pub rules: Vec<PushRule>,
    /// Push the rules' resources (nginx `http2_push`).
    pub push_rules: bool,
    /// Push the response's `Link: rel=preload` resources (nginx `http2_push_preload`).
    pub push_preload_links: bool,
    /// Send the rules' resources as a 103 to navigations.
    pub early_hints: bool,
}

impl Default for HintPolicy {
    fn default() -> Self {
        HintPolicy {
            rules: Vec::new(),
            push_rules: true,
            push_preload_links: true,
            early_hints: true,
        }
    }
}

impl HintPolicy {
    /// A policy with these rules and every output on.
    ///
    /// ```
    /// use h2push::hints::{Hint, HintPolicy, PushRule};
    /// let p = HintPolicy::with_rules([PushRule::new("/", [Hint::new("/a.css")])]);
    /// assert_eq!(p.rules.len(), 1);
    /// ```
    pub fn with_rules(rules: impl IntoIterator<Item = PushRule>) -> Self {
        HintPolicy {
            rules: rules.into_iter().collect(),
            ..HintPolicy::default()
        }
    }
}

/// A tower layer applying a [`HintPolicy`] to a service.
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
    policy: Arc<HintPolicy>,
}

impl HintLayer {
    /// A layer for `policy`.
    pub fn new(policy: HintPolicy) -> Self {
        HintLayer {
            policy: Arc::new(policy),
        }
    }
}

impl<S> tower::Layer<S> for HintLayer {
    type Service = HintService<S>;
    fn layer(&self, inner: S) -> HintService<S> {
        HintService {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// The service made by [`HintLayer`].
#[derive(Debug, Clone)]
pub struct HintService<S> {
    inner: S,
    policy: Arc<HintPolicy>,
}

/// Whether a request looks like a top-level navigation, the only requests Chrome honours a
/// 103 for: `Sec-Fetch-Mode: navigate`, or, from clients that send no Sec-Fetch headers,
/// an `Accept` that asks for HTML.
///
/// ```
/// use http::HeaderMap;
/// let mut h = HeaderMap::new();
/// h.insert("sec-fetch-mode", "navigate".parse().unwrap());
/// assert!(h2push::hints::is_navigation(&h));
/// h.insert("sec-fetch-mode", "no-cors".parse().unwrap());
/// h.insert("accept", "text/html".parse().unwrap());
/// assert!(!h2push::hints::is_navigation(&h));
/// ```
pub fn is_navigation(headers: &HeaderMap) -> bool {
    match headers.get("sec-fetch-mode") {
        Some(mode) => mode == "navigate",
        None => headers
            .get(ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/html")),
    }
}

impl<S, B, ResBody> tower_service::Service<Request<B>> for HintService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = HintFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let pusher = req
            .extensions()
            .get::<Pusher>()
            .filter(|p| p.is_available())
            .cloned();
        let policy = &self.policy;
        let path = req.uri().path();
        let mut matched = policy
            .rules
            .iter()
            .filter(|r| r.matches(path))
            .flat_map(|r| &r.resources)
            .peekable();
        if matched.peek().is_some() {
            let matched: Vec<&Hint> = matched.collect();
            if policy.early_hints && is_navigation(req.headers()) {
                if let Some(hints) = req.extensions().get::<EarlyHints>() {
                    let _ = hints.send(matched.iter().map(|h| h.to_link()));
                }
            }
            if policy.push_rules {
                if let Some(p) = &pusher {
                    push_all(p, matched.iter().copied());
                }
            }
        }
        HintFuture {
            inner: self.inner.call(req),
            pusher: pusher.filter(|_| policy.push_preload_links),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`HintService`]: the inner response, whose `Link: rel=preload` headers
    /// are pushed before it is handed on.
    pub struct HintFuture<F> {
        #[pin]
        inner: F,
        pusher: Option<Pusher>,
    }
}

impl<F, ResBody, E> Future for HintFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let res = std::task::ready!(this.inner.poll(cx));
        if let (Ok(res), Some(p)) = (&res, this.pusher.take()) {
            let hints: Vec<Hint> = res
                .headers()
                .get_all(LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(parse_links)
                .filter_map(|l| l.to_hint())
                .collect();
            push_all(&p, hints.iter());
        }
        Poll::Ready(res)
    }
}

/// Pushes each hint that allows it; stops at the first refusal that will refuse the rest too.
fn push_all<'a>(pusher: &Pusher, hints: impl Iterator<Item = &'a Hint>) {
    use crate::PushError::*;
    for hint in hints.filter(|h| !h.nopush) {
        match pusher.push(&hint.path) {
            Ok(()) => {}
            Err(Disabled | Http1 | Nested | ParentClosed) => return,
            Err(why) => tracing::trace!("not pushing {}: {why}", hint.path),
        }
    }
}
