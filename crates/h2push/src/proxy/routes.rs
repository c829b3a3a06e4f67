//! Proxied path prefixes mixed with another service.
//!
//! This module owns [`ProxyRoutes`]: requests under a configured prefix go to that prefix's
//! [`Proxy`] (longest prefix wins), every other request to a fallback service, static files
//! for instance. Both answer with an h2push [`Body`]. The proxies and the fallback do the rest.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower::ServiceExt;

use super::Proxy;
use crate::body::{Body, BoxError};

/// Sends requests under each prefix to its [`Proxy`], the others to `fallback`.
///
/// A prefix matches its own path and everything below it: `/api` matches `/api`,
/// `/api/` and `/api/users`, not `/apis`.
///
/// ```
/// use h2push::files::StaticFiles;
/// use h2push::proxy::{Proxy, ProxyConfig, ProxyRoutes};
///
/// let dir = tempfile::tempdir().unwrap();
/// let api = Proxy::new(ProxyConfig::new("http://127.0.0.1:8000".parse().unwrap()).unwrap());
/// let app = ProxyRoutes::new(StaticFiles::new(dir.path()).unwrap()).route("/api", api);
/// assert!(app.proxy_for("/api/users").is_some());
/// assert!(app.proxy_for("/apis").is_none());
/// ```
#[derive(Clone)]
pub struct ProxyRoutes<F> {
    routes: Arc<Vec<(String, Proxy)>>,
    fallback: F,
}

impl<F> ProxyRoutes<F> {
    /// Routes with only the fallback.
    pub fn new(fallback: F) -> Self {
        ProxyRoutes {
            routes: Arc::new(Vec::new()),
            fallback,
        }
    }

    /// Adds a proxied prefix (`/` proxies everything the longer prefixes do not).
    pub fn route(mut self, prefix: impl Into<String>, proxy: Proxy) -> Self {
        let mut prefix: String = prefix.into();
        while prefix.len() > 1 && prefix.ends_with('/') {
            prefix.pop();
        }
        let routes = Arc::make_mut(&mut self.routes);
        routes.push((prefix, proxy));
        routes.sort_by_key(|r| std::cmp::Reverse(r.0.len()));
        self
    }

    /// The proxy that serves `path`, if any.
    pub fn proxy_for(&self, path: &str) -> Option<&Proxy> {
        self.routes
            .iter()
            .find(|(prefix, _)| {
                prefix == "/"
                    || path
                        .strip_prefix(prefix.as_str())
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .map(|(_, p)| p)
    }
}

impl<F, B> tower_service::Service<Request<Body>> for ProxyRoutes<F>
where
    F: tower_service::Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
    F::Future: Send + 'static,
    F::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        if let Some(proxy) = self.proxy_for(req.uri().path()) {
            let proxy = proxy.clone();
            return Box::pin(async move { Ok(proxy.oneshot(req).await?) });
        }
        let fallback = self.fallback.clone();
        Box::pin(async move {
            let res = fallback.oneshot(req).await.map_err(Into::into)?;
            Ok(res.map(Body::new))
        })
    }
}
