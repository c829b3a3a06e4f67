//! On-the-fly compression of responses (brotli, zstd, gzip).
//!
//! This module owns [`CompressionLayer`] and its service [`Compress`]: a `tower` layer put in
//! front of everything else a server answers with (static files, the proxy, the hubs), so
//! pushed and early-hinted responses, which run through the same service, are compressed
//! the same way. It compresses a response when the client accepts a coding (the q-values of
//! `Accept-Encoding`, parsed by `files::encoding`, the crate's one parser; br, then zstd,
//! then gzip on ties), the type is compressible and the body is at least
//! [`CompressConfig::min_size`] long (or of unknown length). It never touches a response that
//! already has `Content-Encoding` (a precompressed `.br`/`.gz` sibling, an upstream that
//! compressed), a request with `Range` or a 206, `Cache-Control: no-transform`, or
//! `text/event-stream` (events must not wait for a compressor's block). The rules without a
//! body are in `rules`, the encoders in `encode`.
//!
//! # ETags
//!
//! A compressed representation is a different representation (RFC 9110 §8.8.3), so its
//! strong ETag gets the coding appended inside the quotes: `"abc"` is sent as `"abc-br"`
//! (`-zstd`, `-gzip`). A weak tag would also be honest but would make the two
//! representations interchangeable for `If-Range` and caches; a suffix keeps each strong
//! and distinct. For `If-None-Match: "abc-br"` the inner service is also asked about
//! `"abc"`, and its 304 goes out with `"abc-br"` again.

mod encode;
mod rules;

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, ETAG, RANGE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body as _;
use tower::Layer;
use tower_service::Service;

use crate::files::encoding::{Accepted, Encoding};
use crate::{Body, BoxError};

/// How responses are compressed. The defaults are fast levels for compressing on every
/// request: brotli 4, zstd 3, gzip 6, and nothing under 1 KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompressConfig {
    /// Compress at all (off: the layer passes every response through untouched).
    pub enabled: bool,
    /// Bodies shorter than this (by `Content-Length` or an exact size) are sent as they are.
    pub min_size: u64,
    /// Brotli quality, 0–11.
    pub brotli_quality: u32,
    /// Zstandard level, 1–22.
    pub zstd_level: i32,
    /// Gzip level, 0–9.
    pub gzip_level: u32,
}

impl Default for CompressConfig {
    fn default() -> Self {
        CompressConfig {
            enabled: true,
            min_size: 1024,
            brotli_quality: 4,
            zstd_level: 3,
            gzip_level: 6,
        }
    }
}

impl CompressConfig {
    /// The defaults, switched off.
    pub fn disabled() -> Self {
        CompressConfig {
            enabled: false,
            ..CompressConfig::default()
        }
    }
}

/// A `tower` layer compressing the responses of the service it wraps.
///
/// ```
/// use h2push::compress::{CompressConfig, CompressionLayer};
/// use tower::Layer;
///
/// let files = h2push::StaticFiles::new(".").unwrap();
/// let service = CompressionLayer::new(CompressConfig::default()).layer(files);
/// # drop(service);
/// ```
#[derive(Debug, Clone)]
pub struct CompressionLayer {
    config: Arc<CompressConfig>,
}

impl CompressionLayer {
    /// A layer compressing as `config` says.
    pub fn new(config: CompressConfig) -> Self {
        CompressionLayer {
            config: Arc::new(config),
        }
    }
}

impl<S> Layer<S> for CompressionLayer {
    type Service = Compress<S>;
    fn layer(&self, inner: S) -> Compress<S> {
        Compress {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service of [`CompressionLayer`]. Its responses have an h2push [`Body`].
#[derive(Debug, Clone)]
pub struct Compress<S> {
    inner: S,
    config: Arc<CompressConfig>,
}

/// What the request asked for, kept for its response.
#[derive(Debug)]
struct Ask {
    /// The coding to compress with; identity when the client accepts none or sent `Range`.
    coding: Encoding,
    head: bool,
    /// `If-None-Match` as the client sent it, when the inner service was asked about more.
    if_none_match: Option<String>,
}

impl<S, ReqB, B> Service<Request<ReqB>> for Compress<S>
where
    S: Service<Request<ReqB>, Response = Response<B>>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqB>) -> Self::Future {
        let ask = self.config.enabled.then(|| {
            let coding = if req.headers().contains_key(RANGE) {
                Encoding::Identity
            } else {
                Accepted::from_headers(req.headers()).choose_among(true, true, true)
            };
            let if_none_match = rules::widen_if_none_match(req.headers_mut(), coding);
            Ask {
                coding,
                head: req.method() == Method::HEAD,
                if_none_match,
            }
        });
        ResponseFuture {
            inner: self.inner.call(req),
            ask,
            config: self.config.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Compress`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        ask: Option<Ask>,
        config: Arc<CompressConfig>,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let res = ready!(this.inner.poll(cx))?;
        let res = res.map(into_body);
        Poll::Ready(Ok(match this.ask.take() {
            Some(ask) => respond(res, &ask, this.config),
            None => res,
        }))
    }
}

/// An h2push [`Body`] as it is (an in-memory one stays in memory), anything else boxed.
fn into_body<B>(body: B) -> Body
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let mut slot = Some(body);
    if let Some(ours) = (&mut slot as &mut dyn Any).downcast_mut::<Option<Body>>() {
        return ours.take().unwrap_or_default();
    }
    match slot {
        Some(body) => Body::new(body),
        None => Body::empty(),
    }
}

/// Compresses `res` if `ask` and the rules allow.
fn respond(res: Response<Body>, ask: &Ask, config: &CompressConfig) -> Response<Body> {
    let (mut parts, body) = res.into_parts();
    if parts.status == StatusCode::NOT_MODIFIED {
        if let Some(original) = &ask.if_none_match {
            if let Some(tag) = rules::not_modified_etag(&parts.headers, original, ask.coding) {
                parts.headers.insert(ETAG, tag);
                rules::add_vary(&mut parts.headers);
            }
        }
        return Response::from_parts(parts, body);
    }
    if !rules::eligible(parts.status, &parts.headers) {
        return Response::from_parts(parts, body);
    }
    // A HEAD response's empty body says nothing about the length: only its header does.
    let len = match rules::content_length(&parts.headers) {
        Some(n) => Some(n),
        None if ask.head => None,
        None => body.size_hint().exact(),
    };
    if len.is_some_and(|n| n < config.min_size) {
        return Response::from_parts(parts, body);
    }
    // The representation now depends on Accept-Encoding, compressed or not.
    rules::add_vary(&mut parts.headers);
    if ask.coding == Encoding::Identity {
        return Response::from_parts(parts, body);
    }
    rules::mark_compressed(&mut parts.headers, ask.coding);
    if ask.head {
        return Response::from_parts(parts, body);
    }
    let compressed = match body.as_full() {
        Some(data) => encode::compress_now(data, ask.coding, config),
        None => None,
    };
    let body = match compressed {
        Some(out) => {
            parts
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(out.len()));
            Body::from(out)
        }
        None => encode::compress_stream(body, ask.coding, config),
    };
    Response::from_parts(parts, body)
}
