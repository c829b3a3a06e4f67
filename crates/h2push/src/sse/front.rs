//! One endpoint in front of another service, as the hub and Mercure are mounted.
//!
//! This module owns the routing both share: requests whose path the endpoint handles go to
//! it, all others to the inner service (static files, say), and an absent endpoint sends
//! everything inside, so a server can mount one depending on its configuration without its
//! service type changing. What an endpoint answers is its own module's.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use http_body_util::Either;

use crate::Body;

/// A boxed answer of an [`Endpoint`].
pub type EndpointFuture = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

/// A service that answers some paths itself: the hub's endpoints, Mercure's.
///
/// ```
/// use h2push::sse::front::{Endpoint, EndpointFuture, Front};
///
/// #[derive(Clone)]
/// struct Health;
///
/// impl Endpoint for Health {
///     fn handles(&self, path: &str) -> bool {
///         path == "/healthz"
///     }
///     fn answer(&self, _req: http::Request<h2push::Body>) -> EndpointFuture {
///         Box::pin(async { http::Response::new(h2push::Body::from("ok")) })
///     }
/// }
///
/// let files = tower::service_fn(|_req: http::Request<h2push::Body>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(h2push::Body::from("a file")))
/// });
/// let app = Front::new(Some(Health), files);
/// # drop(app);
/// ```
pub trait Endpoint: Clone {
    /// Whether requests for `path` are this endpoint's.
    fn handles(&self, path: &str) -> bool;
    /// Answers a request for one of its paths.
    fn answer(&self, req: Request<Body>) -> EndpointFuture;
}

/// An [`Endpoint`] (if any) in front of `inner`.
#[derive(Clone, Debug)]
pub struct Front<E, S> {
    front: Option<E>,
    inner: S,
}

impl<E, S> Front<E, S> {
    /// Puts `front` (if any) before `inner`; see [`Endpoint`] for an example.
    pub fn new(front: Option<E>, inner: S) -> Self {
        Front { front, inner }
    }
}

impl<E, S, B> tower_service::Service<Request<Body>> for Front<E, S>
where
    E: Endpoint,
    S: tower_service::Service<Request<Body>, Response = Response<B>>,
    S::Future: Send + 'static,
{
    type Response = Response<Either<Body, B>>;
    type Error = S::Error;
    type Future = FrontFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let kind = match &self.front {
            Some(e) if e.handles(req.uri().path()) => Kind::Front { fut: e.answer(req) },
            _ => Kind::Inner {
                fut: self.inner.call(req),
            },
        };
        FrontFuture { kind }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Front`].
    pub struct FrontFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Front { fut: EndpointFuture },
        Inner { #[pin] fut: F },
    }
}

impl<F, B, E> Future for FrontFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<Either<Body, B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Front { fut } => fut.as_mut().poll(cx).map(|r| Ok(r.map(Either::Left))),
            KindProj::Inner { fut } => fut.poll(cx).map(|r| r.map(|r| r.map(Either::Right))),
        }
    }
}
