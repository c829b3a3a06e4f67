//! The HTTP/1.1 connection driver, on hyper.
//!
//! This module owns serving a service over HTTP/1.1: the request extensions (a [`Pusher`]
//! that always says [`PushError::Http1`], deferred [`EarlyHints`] whose links are merged into
//! the final `Link` header since hyper sends no 1xx), keep-alive, timeouts (hyper's request
//! head timeout, which also bounds an idle keep-alive connection; the request body's idle
//! timeout; a socket that takes no bytes for the send timeout), eviction at the connection
//! cap and graceful shutdown. Everything about messages on the wire is hyper's.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::LINK;
use http::{Method, Request, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::Either;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

use super::access_log::{AccessRecord, Outcome};
use super::cork::Cork;
use super::recv::IdleBody;
use super::slots::Slot;
use super::{insert_request_extensions, internal_error, ConnInfo, HttpService, Limits, Protocol};
use crate::body::{Body, BoxError};
use crate::push::{PushError, Pusher};
use crate::server::ShutdownSignal;
use crate::EarlyHints;

/// Serves HTTP/1.1 on `io` until the client leaves, the connection is evicted, or the server
/// shuts down. `cork` reports the socket's write stalls (see [`super::cork`]).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn serve<IO, S>(
    io: IO,
    cork: Cork,
    svc: S,
    info: ConnInfo,
    limits: &Limits,
    mut shutdown: ShutdownSignal,
    slot: Arc<Slot>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: HttpService,
{
    let protocol = Protocol::Http1 { tls: info.tls };
    let body_idle = limits.body_idle_timeout;
    let busy_slot = slot.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let svc = svc.clone();
        let busy = Busy::new(busy_slot.clone());
        async move { Ok::<_, Infallible>(respond(svc, req, info, protocol, busy, body_idle).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size((limits.max_header_list_size as usize).max(8192))
        .keep_alive(true);
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = shutdown.wait() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
        // An idle connection closes at once; a request that just began is answered first.
        () = slot.evicted() => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                r = conn.as_mut() => r,
                () = tokio::time::sleep(limits.goaway_timeout) => Ok(()),
            }
        }
        // hyper's head timeout also ends an idle keep-alive connection; a shorter idle
        // timeout ends it first.
        () = idle(&slot, limits.idle_timeout) => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                r = conn.as_mut() => r,
                () = tokio::time::sleep(limits.goaway_timeout) => Ok(()),
            }
        }
        () = write_stalled(&cork, limits.send_timeout) => {
            tracing::debug!(peer = %info.peer, "HTTP/1.1 socket took no bytes: closed");
            Ok(())
        }
    };
    if let Err(e) = result {
        if !e.is_incomplete_message() && !e.is_timeout() {
            tracing::debug!(peer = %info.peer, "HTTP/1.1 connection error: {e}");
        }
    }
}

/// Resolves once the socket under `cork` has refused every write for `limit`. Looks every
/// half `limit`: a stall is noticed between one and one and a half `limit` after it began.
pub(crate) async fn write_stalled(cork: &Cork, limit: Duration) {
    let tick = (limit / 2).max(Duration::from_millis(10));
    loop {
        tokio::time::sleep(tick).await;
        if cork
            .write_blocked_since()
            .is_some_and(|since| since.elapsed() >= limit)
        {
            return;
        }
    }
}

/// Resolves once the connection has had no request in flight for `limit`.
async fn idle(slot: &Slot, limit: Duration) {
    loop {
        let wait = match slot.idle_for() {
            Some(idle) if idle >= limit => return,
            Some(idle) => limit - idle,
            None => limit,
        };
        tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
    }
}

/// A request in flight on its connection's slot, from its head to the end of its response.
struct Busy(Arc<Slot>);

impl Busy {
    fn new(slot: Arc<Slot>) -> Self {
        slot.begin();
        Busy(slot)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.end();
    }
}

type H1Body<B> = Logged<Either<B, Body>>;

async fn respond<S: HttpService>(
    svc: S,
    req: Request<Incoming>,
    info: ConnInfo,
    protocol: Protocol,
    busy: Busy,
    body_idle: Duration,
) -> Response<H1Body<S::ResBody>> {
    let (mut parts, incoming) = req.into_parts();
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut record = AccessRecord::new(info.peer, protocol, &parts.method, target);
    let hints = EarlyHints::deferred();
    insert_request_extensions(
        &mut parts.extensions,
        Pusher::unavailable(PushError::Http1),
        hints.clone(),
        &info,
        protocol,
    );
    let is_head = parts.method == Method::HEAD;
    let body = if incoming.is_end_stream() {
        Body::from_h1(incoming)
    } else {
        Body::new(IdleBody::new(incoming, body_idle))
    };
    let req = Request::from_parts(parts, body);

    let mut res = match svc.respond(req).await {
        Ok(res) => res.map(Either::Left),
        Err(e) => {
            tracing::error!("service failed on {} {}: {e}", record.method, record.target);
            internal_error().map(Either::Right)
        }
    };
    let links = hints.deferred_links();
    if !links.is_empty() {
        record.early_hints = 1;
        for link in links {
            res.headers_mut().append(LINK, link);
        }
    }
    record.status = Some(res.status());
    if let Some(super::access_log::Hinted(paths)) = res.extensions_mut().remove() {
        record.hinted = paths;
    }
    res.map(|body| Logged {
        ends_unpolled: is_head || body.is_end_stream(),
        body,
        record: Some(record),
        _busy: busy,
    })
}

pin_project_lite::pin_project! {
    /// A response body that writes the access-log line when it ends or is dropped.
    pub(crate) struct Logged<B> {
        #[pin]
        body: B,
        record: Option<AccessRecord>,
        ends_unpolled: bool,
        _busy: Busy,
    }

    impl<B> PinnedDrop for Logged<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(record) = this.record.take() {
                // hyper does not poll a body that is empty from the start, nor a HEAD
                // response's: those ended well. Anything else dropped early was abandoned.
                let ended = *this.ends_unpolled;
                record.finish(if ended { Outcome::Complete } else { Outcome::ClientGone });
            }
        }
    }
}

impl<B> HttpBody for Logged<B>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        let polled = this.body.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(r)) = (frame.data_ref(), this.record.as_mut()) {
                    r.bytes += data.len() as u64;
                }
            }
            Poll::Ready(None) => {
                if let Some(r) = this.record.take() {
                    r.finish(Outcome::Complete);
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(r) = this.record.take() {
                    r.finish(Outcome::Failed);
                }
            }
            Poll::Pending => {}
        }
        polled.map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
