//! One stream on the engine: its request, its 103s, its pushes and its response.
//!
//! This module owns a stream's task: building the service's request (with its [`Pusher`]
//! and [`EarlyHints`]), running the service until it answers or the client resets the
//! stream, and writing the head and the body under flow control — pulling no body chunk the
//! client has no window for, and giving up (RST_STREAM CANCEL) when it grants none for the
//! send timeout. Pushes are promised on the parent here and produced by the service on a
//! synthetic GET; which resources to push or hint is the service's ([`crate::hints`]), the
//! frames and their rules are the engine's, the socket is [`super`]'s.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use bytes::Bytes;
use h2push_h2::server::Event;
use h2push_h2::state::message::RequestHead;
use h2push_h2::state::PushError as EnginePushError;
use h2push_h2::{Reason, StreamId};
use http::header::LINK;
use http::uri::{Authority, Scheme};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body::Body as HttpBody;
use http_body_util::Either;
use tokio::time::Instant;

use super::body::RequestBody;
use super::shared::{Shared, StreamSlot};
use super::Ctx;
use crate::body::{Body, BoxError};
use crate::conn::access_log::{AccessRecord, Hinted, Outcome};
use crate::conn::hop_by_hop::strip_hop_by_hop;
use crate::conn::push_origin::{PushOrigin, PushRequests};
use crate::conn::{insert_request_extensions, internal_error, HttpService, Protocol};
use crate::hints::early_hints::{EarlyHintsError, HintStream};
use crate::push::{Promise, PushError, PushEvent, PushSlot, PushStream, Pusher};
use crate::EarlyHints;

/// How long an answered request's unread body is drained before its stream is reset.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(1);

/// A request stream, shared with its request's [`Pusher`] and [`EarlyHints`].
struct Parent<S> {
    ctx: Arc<Ctx<S>>,
    stream: StreamId,
    origin: PushOrigin,
}

/// Serves the request `head` on `stream` to its end.
pub(super) async fn serve_stream<S: HttpService>(
    ctx: Arc<Ctx<S>>,
    stream: StreamId,
    head: RequestHead,
    end_stream: bool,
) {
    let info = ctx.info;
    let protocol = Protocol::H2 { tls: info.tls };
    let (mut parts, ()) = head.request.into_parts();
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut record = AccessRecord::new(info.peer, protocol, &parts.method, target);
    let can_push = !ctx.push_book.is_disabled();
    let origin = PushOrigin::of(&parts, &ctx.scheme, &info, can_push);
    let parent = Arc::new(Parent {
        ctx: ctx.clone(),
        stream,
        origin,
    });
    let pusher = if can_push {
        Pusher::new(parent.clone())
    } else {
        Pusher::unavailable(PushError::Disabled)
    };
    insert_request_extensions(
        &mut parts.extensions,
        pusher,
        EarlyHints::new(parent.clone()),
        &info,
        protocol,
    );
    let body = if end_stream {
        Body::empty()
    } else {
        Body::new(RequestBody::new(
            ctx.shared.clone(),
            stream,
            ctx.limits.body_idle_timeout,
        ))
    };
    let req = Request::from_parts(parts, body);

    let is_head = req.method() == Method::HEAD;
    let response = match answer(&ctx.shared, stream, ctx.svc.respond(req)).await {
        Some(Ok(res)) => res.map(Either::Left),
        Some(Err(e)) => {
            tracing::error!("service failed on {} {}: {e}", record.method, record.target);
            internal_error().map(Either::Right)
        }
        None => {
            finish(&ctx.shared, stream, record, Outcome::ClientGone);
            return;
        }
    };
    let (mut head, body) = response.into_parts();
    if let Some(Hinted(paths)) = head.extensions.remove() {
        record.hinted = paths;
    }
    let outcome = send(&ctx, stream, head, body, is_head, &mut record).await;
    if outcome == Outcome::Complete {
        let mut inner = ctx.shared.lock();
        let unread = inner
            .streams
            .get(&stream)
            .is_some_and(|s| !s.body_ended && s.reset.is_none());
        if unread {
            // An early answer (a 401 before the upload ended): read and discard the rest for
            // a while, so the client sees the response, not a reset mid-upload (§8.1).
            let _ = inner
                .conn
                .drain_request_body(stream, std::time::Instant::now() + DRAIN);
            inner.wake_driver();
        }
    }
    finish(&ctx.shared, stream, record, outcome);
}

/// Runs the service's future until it answers, or `None` if the client resets `stream` first
/// (the future is then dropped).
async fn answer<T>(
    shared: &Shared,
    stream: StreamId,
    fut: impl Future<Output = Result<T, BoxError>>,
) -> Option<Result<T, BoxError>> {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        if !shared.lock().watch_reset(stream, cx.waker()) {
            return Poll::Ready(None);
        }
        fut.as_mut().poll(cx).map(Some)
    })
    .await
}

/// Writes the head and the body of a response on `stream`.
async fn send<S, B>(
    ctx: &Ctx<S>,
    stream: StreamId,
    mut head: http::response::Parts,
    body: B,
    is_head: bool,
    record: &mut AccessRecord,
) -> Outcome
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    // HTTP/2 forbids connection-specific fields (RFC 9113 §8.2.2); an app or an upstream
    // may well set them.
    strip_hop_by_hop(&mut head.headers);
    record.status = Some(head.status);
    let eos = is_head || body.is_end_stream();
    {
        let mut inner = ctx.shared.lock();
        let inner = &mut *inner;
        let Some(slot) = inner.streams.get_mut(&stream) else {
            return Outcome::ClientGone;
        };
        if slot.reset.is_some() {
            return Outcome::ClientGone;
        }
        slot.head_sent = true;
        slot.ended = eos;
        if let Err(e) = inner
            .conn
            .send_response(stream, head.status, &head.headers, eos)
        {
            tracing::debug!("could not send the response head: {e}");
            return Outcome::Failed;
        }
        inner.wake_driver();
    }
    if eos {
        return Outcome::Complete;
    }
    send_body(ctx, stream, body, &mut record.bytes).await
}

/// Writes `body` on `stream` as the client's window allows.
async fn send_body<S, B>(ctx: &Ctx<S>, stream: StreamId, body: B, sent: &mut u64) -> Outcome
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let shared = &ctx.shared;
    let mut body = pin!(body);
    let stall = tokio::time::sleep(ctx.limits.send_timeout);
    let mut stall = pin!(stall);
    loop {
        // Wait for window before pulling a chunk; give up after the send timeout.
        let ready = poll_fn(|cx| {
            let mut inner = shared.lock();
            let inner = &mut *inner;
            match inner.streams.get(&stream).map(|s| s.reset) {
                None => return Poll::Ready(Err(Outcome::Failed)),
                Some(Some(_)) => return Poll::Ready(Err(Outcome::ClientGone)),
                Some(None) => {}
            }
            if inner.may_send(stream) {
                return Poll::Ready(Ok(()));
            }
            if stall.as_mut().poll(cx).is_ready() {
                inner.conn.reset(stream, Reason::CANCEL);
                inner.stalled = true;
                inner.wake_driver();
                return Poll::Ready(Err(Outcome::Failed));
            }
            if let Some(s) = inner.streams.get_mut(&stream) {
                s.writer = Some(cx.waker().clone());
            }
            if !inner.waiting.contains(&stream) {
                inner.waiting.push(stream);
            }
            Poll::Pending
        })
        .await;
        if let Err(outcome) = ready {
            return outcome;
        }
        stall
            .as_mut()
            .reset(Instant::now() + ctx.limits.send_timeout);
        // The next frame, or the client's reset: an endless body (an event stream) must be
        // dropped as soon as nobody reads it.
        let frame = poll_fn(|cx| {
            if !shared.lock().watch_reset(stream, cx.waker()) {
                return Poll::Ready(Err(()));
            }
            body.as_mut().poll_frame(cx).map(Ok)
        })
        .await;
        let Ok(frame) = frame else {
            return Outcome::ClientGone;
        };
        let mut inner = shared.lock();
        let inner = &mut *inner;
        let result = match frame {
            None => {
                mark_ended(&mut inner.streams, stream);
                inner.conn.send_data(stream, Bytes::new(), true)
            }
            Some(Err(e)) => {
                tracing::debug!("response body failed: {}", e.into());
                inner.conn.reset(stream, Reason::INTERNAL_ERROR);
                inner.wake_driver();
                return Outcome::Failed;
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    let end = body.is_end_stream();
                    *sent += data.len() as u64;
                    if end {
                        mark_ended(&mut inner.streams, stream);
                    }
                    let r = inner.conn.send_data(stream, data, end);
                    if r.is_ok() && !end {
                        inner.wake_driver();
                        continue;
                    }
                    r
                }
                Err(frame) => match frame.into_trailers() {
                    Ok(trailers) => {
                        mark_ended(&mut inner.streams, stream);
                        inner.conn.send_trailers(stream, trailers)
                    }
                    Err(_) => {
                        inner.wake_driver();
                        continue;
                    }
                },
            },
        };
        inner.wake_driver();
        return match result {
            Ok(()) => Outcome::Complete,
            Err(e) => {
                tracing::debug!("could not send on stream {stream:?}: {e}");
                Outcome::Failed
            }
        };
    }
}

fn mark_ended(streams: &mut std::collections::HashMap<StreamId, StreamSlot>, stream: StreamId) {
    if let Some(s) = streams.get_mut(&stream) {
        s.ended = true;
    }
}

/// Logs the stream and forgets it.
fn finish(shared: &Shared, stream: StreamId, mut record: AccessRecord, outcome: Outcome) {
    let mut inner = shared.lock();
    if let Some(slot) = inner.streams.remove(&stream) {
        record.pushed = slot.pushed;
        record.early_hints = slot.early_hints;
    }
    inner.waiting.retain(|s| *s != stream);
    drop(inner);
    record.finish(outcome);
}

/// Hands an event of the client's to its stream (the driver calls this under the lock).
pub(super) fn deliver(inner: &mut super::shared::Inner, event: Event) {
    match event {
        Event::Data {
            stream,
            data,
            end_stream,
        } => match inner.streams.get_mut(&stream) {
            Some(s) => {
                if !data.is_empty() {
                    s.body.push_back(data);
                }
                s.body_ended |= end_stream;
                if let Some(w) = s.reader.take() {
                    w.wake();
                }
            }
            // Nobody reads it any more (the response is done, the stream drains): the
            // window goes back at once.
            None => inner.conn.release(stream, data.len()),
        },
        Event::Trailers { stream, fields } => {
            if let Some(s) = inner.streams.get_mut(&stream) {
                s.trailers = Some(fields);
                s.body_ended = true;
                if let Some(w) = s.reader.take() {
                    w.wake();
                }
            }
        }
        Event::Reset { stream, reason } => inner.client_reset(stream, reason),
        Event::Request { .. } | Event::GoAway { .. } | Event::PingAck { .. } => {}
    }
}

impl<S: HttpService> PushStream for Parent<S> {
    fn origin(&self) -> (&Scheme, &Authority) {
        (&self.origin.scheme, &self.origin.authority)
    }

    fn is_enabled(&self) -> bool {
        !self.ctx.push_book.is_disabled()
    }

    fn book(&self) -> Option<&Arc<crate::push::PushBook>> {
        Some(&self.ctx.push_book)
    }

    fn push(&self, promise: Promise) -> Result<(), PushError> {
        let book = &self.ctx.push_book;
        let slot = book.reserve(&promise.path)?;
        let PushRequests {
            promised,
            request: req,
            path,
        } = self.origin.requests(promise, &self.ctx.info)?;

        let mut inner = self.ctx.shared.lock();
        let inner = &mut *inner;
        // RFC 9113 §8.4: PUSH_PROMISE only on a stream still open on our side.
        if inner.streams.get(&self.stream).map_or(true, |s| s.ended) {
            return Err(PushError::ParentClosed);
        }
        if !book.commit(&path) {
            return Err(PushError::AlreadyPushed(path.to_string()));
        }
        let pushed = inner
            .conn
            .push_promise(self.stream, &promised)
            .map_err(|e| match e {
                EnginePushError::Disabled => {
                    book.set_disabled();
                    PushError::Disabled
                }
                EnginePushError::ParentNotOpen => PushError::ParentClosed,
                other => PushError::Protocol(other.to_string()),
            })?;
        if let Some(s) = inner.streams.get_mut(&self.stream) {
            s.pushed.push(path.clone());
        }
        inner.streams.insert(pushed, StreamSlot::default());
        book.notify(PushEvent::Promised);
        inner.pushes.push(Box::pin(serve_pushed(
            self.ctx.clone(),
            pushed,
            req,
            slot,
            path,
        )));
        inner.wake_driver();
        Ok(())
    }
}

impl<S: HttpService> HintStream for Parent<S> {
    fn send(&self, links: Vec<HeaderValue>) -> Result<(), EarlyHintsError> {
        let mut fields = HeaderMap::new();
        for link in links {
            fields.append(LINK, link);
        }
        let mut inner = self.ctx.shared.lock();
        let inner = &mut *inner;
        let Some(slot) = inner.streams.get_mut(&self.stream) else {
            return Err(EarlyHintsError::HeadSent);
        };
        if slot.head_sent {
            return Err(EarlyHintsError::HeadSent);
        }
        slot.early_hints += 1;
        inner
            .conn
            .send_informational(self.stream, StatusCode::EARLY_HINTS, &fields)
            .map_err(|e| EarlyHintsError::Protocol(e.to_string()))?;
        inner.wake_driver();
        Ok(())
    }
}

/// Produces and sends one pushed response; the push slot is held until it has ended.
async fn serve_pushed<S: HttpService>(
    ctx: Arc<Ctx<S>>,
    stream: StreamId,
    req: Request<Body>,
    slot: PushSlot,
    path: http::uri::PathAndQuery,
) {
    let _slot = slot;
    let info = ctx.info;
    let mut record = AccessRecord::new(
        info.peer,
        Protocol::H2 { tls: info.tls },
        req.method(),
        path.as_str(),
    );
    record.pushed_response = true;
    let is_head = req.method() == Method::HEAD;
    let outcome = match answer(&ctx.shared, stream, ctx.svc.respond(req)).await {
        Some(Ok(res)) => {
            let (head, body) = res.into_parts();
            send(&ctx, stream, head, body, is_head, &mut record).await
        }
        Some(Err(e)) => {
            tracing::error!("service failed on pushed {path}: {e}");
            let (head, body) = internal_error().into_parts();
            send(&ctx, stream, head, body, is_head, &mut record).await
        }
        None => Outcome::ClientGone,
    };
    let reset = ctx.shared.lock().streams.get(&stream).and_then(|s| s.reset);
    if let Some(reason) = reset {
        if reason == Reason::CANCEL || reason == Reason::REFUSED_STREAM {
            // The client has it or does not want it: never push it again on this connection.
            ctx.push_book.cancelled(&path);
            ctx.push_book.notify(PushEvent::Cancelled);
        }
    }
    ctx.push_book.notify(PushEvent::Sent(record.bytes));
    finish(&ctx.shared, stream, record, outcome);
}
