//! One client-initiated HTTP/2 stream: its request, its 103s, its pushes and its response.
//!
//! This module owns the frame-level half of push and early hints: the PUSH_PROMISE (with the
//! absolute `:scheme`/`:authority` of the parent, which h2 needs), refusing promises once the
//! parent stream has ended (h2 does not check), refusing a 103 once the final head is out
//! (h2 does not check either), and producing each pushed response by running the service on
//! a synthetic GET. The request body's deadline and its drain after an early answer are
//! [`super::recv`]'s. The rules that do not need frames live in [`crate::push`].

use std::future::{poll_fn, Future};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;

use bytes::Bytes;
use h2::server::{SendPushedResponse, SendResponse};
use h2::{Reason, RecvStream};
use http::header::LINK;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body as HttpBody;
use http_body_util::Either;

use super::recv::{share, RecvHold};
use super::send::{send_body, SendEnd};
use super::Conn;
use crate::body::Body;
use crate::conn::access_log::{AccessRecord, Hinted, Outcome};
use crate::conn::hop_by_hop::strip_hop_by_hop;
use crate::conn::push_origin::{PushOrigin, PushRequests};
use crate::conn::{insert_request_extensions, internal_error, HttpService, Protocol};
use crate::hints::early_hints::{EarlyHintsError, HintStream};
use crate::push::{Promise, PushBook, PushError, PushEvent, PushSlot, PushStream, Pusher};
use crate::EarlyHints;

/// A client-initiated stream, shared with its request's [`Pusher`] and [`EarlyHints`].
struct Parent<S> {
    conn: Arc<Conn<S>>,
    origin: PushOrigin,
    state: Mutex<ParentState>,
}

struct ParentState {
    respond: SendResponse<Bytes>,
    head_sent: bool,
    ended: bool,
    pushed: Vec<PathAndQuery>,
    early_hints: u32,
}

impl<S> Parent<S> {
    fn lock(&self) -> MutexGuard<'_, ParentState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Serves one client-initiated stream to its end.
pub(super) async fn serve_stream<S: HttpService>(
    conn: Arc<Conn<S>>,
    req: Request<RecvStream>,
    respond: SendResponse<Bytes>,
) {
    let (mut parts, recv) = req.into_parts();
    let info = conn.info;
    let protocol = Protocol::H2 { tls: info.tls };
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut record = AccessRecord::new(info.peer, protocol, &parts.method, target);

    let can_push = !conn.push_book.is_disabled();
    let origin = PushOrigin::of(&parts, &conn.scheme, &info, can_push);
    let parent = Arc::new(Parent {
        conn: conn.clone(),
        origin,
        state: Mutex::new(ParentState {
            respond,
            head_sent: false,
            ended: false,
            pushed: Vec::new(),
            early_hints: 0,
        }),
    });

    let pusher = if can_push {
        Pusher::new(parent.clone())
    } else {
        Pusher::unavailable(PushError::Disabled)
    };
    let hints = EarlyHints::new(parent.clone());
    insert_request_extensions(&mut parts.extensions, pusher, hints, &info, protocol);
    // A request with a body: the driver keeps a hold on it, to time it out and to drain it
    // after an early answer.
    let (body, hold) = if recv.is_end_stream() {
        (Body::from_h2(recv), None)
    } else {
        let weak = Arc::downgrade(&parent);
        let reset = Box::new(move || {
            if let Some(p) = weak.upgrade() {
                p.lock().respond.send_reset(Reason::CANCEL);
            }
        });
        let (body, hold) = share(recv, conn.limits.body_idle_timeout, reset);
        (Body::new(body), Some(hold))
    };
    let req = Request::from_parts(parts, body);

    // Run the service, unless the client resets the stream first: then drop its future.
    let response = conn.svc.respond(req);
    let mut response = std::pin::pin!(response);
    let result = poll_fn(|cx| {
        if let Poll::Ready(r) = parent.lock().respond.poll_reset(cx) {
            return Poll::Ready(Err(r));
        }
        response.as_mut().poll(cx).map(Ok)
    })
    .await;
    if hold.as_ref().is_some_and(RecvHold::idle_expired) {
        tracing::debug!(peer = %info.peer, "request body idle: stream reset");
        finish_record(&parent, record, Outcome::Failed);
        return;
    }
    let response = match result {
        Ok(Ok(res)) => res.map(Either::Left),
        Ok(Err(e)) => {
            tracing::error!("service failed on {} {}: {e}", record.method, record.target);
            internal_error().map(Either::Right)
        }
        Err(_) => {
            finish_record(&parent, record, Outcome::ClientGone);
            return;
        }
    };

    let (mut head, body) = response.into_parts();
    // h2 refuses a head with connection-specific fields (RFC 9113 §8.2.2); an app or an
    // upstream may well set them.
    strip_hop_by_hop(&mut head.headers);
    record.status = Some(head.status);
    if let Some(Hinted(paths)) = head.extensions.remove() {
        record.hinted = paths;
    }
    let eos = body.is_end_stream() || record.method == Method::HEAD;
    let send = {
        let mut st = parent.lock();
        st.head_sent = true;
        st.ended = eos;
        st.respond
            .send_response(Response::from_parts(head, ()), eos)
    };
    let mut stalled = false;
    let outcome = match send {
        Ok(_) if eos => Outcome::Complete,
        Ok(mut stream) => {
            let end = send_body(
                &mut stream,
                body,
                &mut record.bytes,
                || parent.lock().ended = true,
                conn.limits.send_timeout,
            )
            .await;
            stalled = end == SendEnd::Stalled;
            outcome_of(end)
        }
        Err(e) => {
            tracing::debug!("could not send the response head: {e}");
            Outcome::Failed
        }
    };
    finish_record(&parent, record, outcome);
    if let (Some(hold), Outcome::Complete) = (hold, outcome) {
        hold.drain().await;
    }
    if stalled {
        // After the stream's last handle is gone, so the driver counts it closed.
        drop(parent);
        conn.note_stall();
    }
}

fn finish_record<S>(parent: &Parent<S>, mut record: AccessRecord, outcome: Outcome) {
    {
        let mut st = parent.lock();
        st.ended = true;
        record.pushed = std::mem::take(&mut st.pushed);
        record.early_hints = st.early_hints;
    }
    record.finish(outcome);
}

fn outcome_of(end: SendEnd) -> Outcome {
    match end {
        SendEnd::Complete => Outcome::Complete,
        SendEnd::Reset(_) => Outcome::ClientGone,
        SendEnd::Failed | SendEnd::Stalled => Outcome::Failed,
    }
}

impl<S: HttpService> PushStream for Parent<S> {
    fn origin(&self) -> (&Scheme, &Authority) {
        (&self.origin.scheme, &self.origin.authority)
    }

    fn is_enabled(&self) -> bool {
        !self.conn.push_book.is_disabled()
    }

    fn book(&self) -> Option<&Arc<PushBook>> {
        Some(&self.conn.push_book)
    }

    fn push(&self, promise: Promise) -> Result<(), PushError> {
        let book = &self.conn.push_book;
        let slot = book.reserve(&promise.path)?;
        let PushRequests {
            promised,
            request: req,
            path,
        } = self.origin.requests(promise, &self.conn.info)?;
        let (pushed, epoch) = {
            let mut st = self.lock();
            // RFC 9113 §8.4: PUSH_PROMISE only on an open (or half-closed remote) stream.
            // h2 would send it on a closed stream and the client would end the connection.
            if st.ended {
                return Err(PushError::ParentClosed);
            }
            if !book.commit(&path) {
                return Err(PushError::AlreadyPushed(path.to_string()));
            }
            let (pushed, epoch) = self.conn.promise(|| st.respond.push_request(promised));
            let pushed = pushed.map_err(|e| {
                // h2 names no error kinds; this one is the client's ENABLE_PUSH = 0.
                if e.to_string().contains("disabled server push") {
                    book.set_disabled();
                    PushError::Disabled
                } else {
                    PushError::Protocol(e.to_string())
                }
            })?;
            st.pushed.push(path.clone());
            book.notify(PushEvent::Promised);
            (pushed, epoch)
        };

        self.conn.start_push(serve_pushed(
            self.conn.clone(),
            req,
            pushed,
            epoch,
            slot,
            path,
        ));
        Ok(())
    }
}

impl<S: HttpService> HintStream for Parent<S> {
    fn send(&self, links: Vec<HeaderValue>) -> Result<(), EarlyHintsError> {
        let mut res = Response::new(());
        *res.status_mut() = StatusCode::EARLY_HINTS;
        for link in links {
            res.headers_mut().append(LINK, link);
        }
        let mut st = self.lock();
        // h2 sends a 103 after the final head without complaint; the client then resets the
        // stream. Refuse it here.
        if st.head_sent {
            return Err(EarlyHintsError::HeadSent);
        }
        st.respond
            .send_informational(res)
            .map_err(|e| EarlyHintsError::Protocol(e.to_string()))?;
        st.early_hints += 1;
        Ok(())
    }
}

/// Produces and sends one pushed response; the slot is held until it has ended.
async fn serve_pushed<S: HttpService>(
    conn: Arc<Conn<S>>,
    req: Request<Body>,
    mut pushed: SendPushedResponse<Bytes>,
    epoch: u64,
    slot: PushSlot,
    path: PathAndQuery,
) {
    let _slot = slot;
    let info = conn.info;
    let mut record = AccessRecord::new(
        info.peer,
        Protocol::H2 { tls: info.tls },
        req.method(),
        path.as_str(),
    );
    record.pushed_response = true;
    let is_head = req.method() == Method::HEAD;

    let response = conn.svc.respond(req);
    let mut response = std::pin::pin!(response);
    let result = poll_fn(|cx| {
        if let Poll::Ready(r) = pushed.poll_reset(cx) {
            return Poll::Ready(Err(r));
        }
        response.as_mut().poll(cx).map(Ok)
    })
    .await;
    let end = match result {
        Ok(Ok(res)) => {
            send_pushed(
                &conn,
                pushed,
                epoch,
                res.map(Either::<_, Body>::Left),
                is_head,
                &mut record,
            )
            .await
        }
        Ok(Err(e)) => {
            tracing::error!("service failed on pushed {path}: {e}");
            let res = internal_error().map(Either::<S::ResBody, _>::Right);
            send_pushed(&conn, pushed, epoch, res, is_head, &mut record).await
        }
        Err(Ok(reason)) => SendEnd::Reset(reason),
        Err(Err(_)) => SendEnd::Failed,
    };
    if let SendEnd::Reset(reason) = end {
        if reason == Reason::CANCEL || reason == Reason::REFUSED_STREAM {
            // The client has it or does not want it: never push it again on this connection.
            conn.push_book.cancelled(&path);
            conn.push_book.notify(PushEvent::Cancelled);
        }
    }
    conn.push_book.notify(PushEvent::Sent(record.bytes));
    record.finish(outcome_of(end));
    if end == SendEnd::Stalled {
        conn.note_stall();
    }
}

async fn send_pushed<S, B>(
    conn: &Conn<S>,
    pushed: SendPushedResponse<Bytes>,
    epoch: u64,
    res: Response<B>,
    is_head: bool,
    record: &mut AccessRecord,
) -> SendEnd
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<crate::BoxError>,
{
    let (mut head, body) = res.into_parts();
    // h2 refuses a head with connection-specific fields (RFC 9113 §8.2.2); an app or an
    // upstream may well set them.
    strip_hop_by_hop(&mut head.headers);
    record.status = Some(head.status);
    let eos = is_head || body.is_end_stream();
    match conn
        .send_pushed_head(pushed, Response::from_parts(head, ()), eos, epoch)
        .await
    {
        Ok(_) if eos => SendEnd::Complete,
        Ok(mut stream) => {
            send_body(
                &mut stream,
                body,
                &mut record.bytes,
                || {},
                conn.limits.send_timeout,
            )
            .await
        }
        Err(_) => SendEnd::Failed,
    }
}
