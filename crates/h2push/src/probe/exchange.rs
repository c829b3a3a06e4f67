//! One request on the probe's connection: send it, then record interim responses, push
//! promises, pushed responses and the final response as they arrive.
//!
//! 103 Early Hints: h2 0.4.20's client surfaces 1xx responses through
//! `ResponseFuture::poll_informational`, which must be polled *before* the response future
//! (polling the response future first silently skips queued 1xx responses). Both are polled
//! from one `poll_fn`, and the response future is only polled once `poll_informational`
//! reports that the final response is at the front of the queue — so a 103 that arrives
//! between the two polls cannot be skipped.
//!
//! Pushes: PUSH_PROMISEs come from `ResponseFuture::push_promises()`, polled in the same
//! task as the main response so that 1xx, promises and the final HEADERS can be stamped in
//! causal order; each promised response is then read by its own task, so pushed streams and
//! the page download overlap as they do in a browser. Dropping a `PushedResponseFuture` makes
//! h2 send RST_STREAM(CANCEL), which is how `reset_pushes` and the push-wait timeout cancel
//! streams. Connection setup and reporting are left to the sibling modules.

use std::future::{poll_fn, Future as _};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use h2::client::{PushPromises, PushedResponseFuture, ResponseFuture, SendRequest};
use h2::RecvStream;
use http::HeaderMap;
use tokio::task::JoinHandle;

use super::client::describe_h2;
use super::report::{Exchange, Informational, PushOutcome, Pushed, Response};
use super::{Clock, ProbeError, ProbeOptions};

/// A push being received: the report entry under construction, shared with its task.
struct Slot {
    pushed: Pushed,
    body: BytesMut,
    done: bool,
}

/// Aborts the task (and so drops — cancels — its pushed stream) when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct PushEntry {
    slot: Arc<Mutex<Slot>>,
    task: Option<AbortOnDrop>,
}

/// The final response, as read by [`read_main`].
struct MainResponse {
    parts: http::response::Parts,
    body: Bytes,
    head_at: Duration,
    finished_at: Duration,
}

pub(crate) async fn run(
    send: &SendRequest<Bytes>,
    request: http::Request<()>,
    path: String,
    opts: &ProbeOptions,
    clock: &Clock,
    peer: SocketAddr,
) -> Result<Exchange, ProbeError> {
    let method = request.method().clone();
    let request_err = |e: &h2::Error| ProbeError::Request {
        method: method.clone(),
        path: path.clone(),
        cause: describe_request_error(e),
    };
    let stage = format!("waiting for the response to {method} {path} from {peer}");

    let mut ready = clock
        .bounded(stage.clone(), async {
            send.clone().ready().await.map_err(|e| request_err(&e))
        })
        .await?;
    let sent_at = clock.now();
    let (mut response_fut, _request_body) = ready
        .send_request(request, true)
        .map_err(|e| request_err(&e))?;
    let mut pushes = Collector {
        promises: response_fut.push_promises(),
        entries: Vec::new(),
        reset: opts.reset_pushes,
        clock: *clock,
        done: false,
    };
    let mut informational = Vec::new();
    let main = clock
        .bounded(stage, async {
            read_main(&mut response_fut, &mut informational, &mut pushes, clock)
                .await
                .map_err(|e| request_err(&e))
        })
        .await?;
    // The request stream is closed now, so the promise stream ends at once; bound it anyway.
    let _ = tokio::time::timeout(
        opts.push_wait,
        poll_fn(|cx| {
            pushes.poll_promises(cx);
            if pushes.done {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }),
    )
    .await;

    // Keep receiving pushes still in flight, up to `push_wait` (and the overall deadline).
    let now = Instant::now();
    let wait_until = now
        .checked_add(opts.push_wait)
        .unwrap_or(clock.deadline())
        .min(clock.deadline().max(now));
    for entry in &mut pushes.entries {
        if let Some(task) = entry.task.as_mut() {
            let _ = tokio::time::timeout_at(wait_until.into(), &mut task.0).await;
        }
    }
    let gave_up_at = clock.now();
    let pushes = pushes
        .entries
        .into_iter()
        .map(|entry| {
            let pushed = finish_slot(&entry.slot, gave_up_at);
            drop(entry.task); // cancels a push that is still running
            pushed
        })
        .collect();

    Ok(Exchange {
        method,
        path,
        sent_at,
        informational,
        pushes,
        response: Response {
            status: main.parts.status,
            headers: main.parts.headers,
            body: main.body,
            head_at: main.head_at,
            finished_at: main.finished_at,
        },
    })
}

/// Receives interim responses, the final response head and its body, taking push promises
/// as they come.
///
/// Everything already received when the task wakes is stamped in causal order — 1xx first,
/// then PUSH_PROMISEs, then the final HEADERS — because the per-stream queues h2 keeps do not
/// say how frames that arrived in one read interleaved. The connection may be read on another
/// thread while this task runs, so the queues are read in an order that keeps the wire's:
/// promises are taken *before* the 1xx queue is drained and stamped after it (a 1xx that
/// preceded a promise on the wire is in its queue by the time the promise is in its own),
/// and once the drain finds the final head next, the promises are taken once more before the
/// head is stamped (every promise sent before the head is in by then).
async fn read_main(
    response_fut: &mut ResponseFuture,
    informational: &mut Vec<Informational>,
    pushes: &mut Collector,
    clock: &Clock,
) -> Result<MainResponse, h2::Error> {
    let response = poll_fn(|cx| {
        let promised = pushes.take_promises(cx);
        let final_is_next = loop {
            match response_fut.poll_informational(cx) {
                Poll::Ready(Some(Ok(interim))) => informational.push(Informational {
                    status: interim.status(),
                    headers: interim.headers().clone(),
                    at: clock.now(),
                }),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                // The final response is next (or the stream ended; the response future
                // then reports why).
                Poll::Ready(None) => break true,
                // Nothing queued yet; our waker is registered.
                Poll::Pending => break false,
            }
        };
        pushes.accept_all(promised);
        if !final_is_next {
            // Polling the response future now could skip a 1xx that lands in between.
            return Poll::Pending;
        }
        // The final HEADERS are in, so every PUSH_PROMISE sent before them is too: take those
        // that came after the first look, so that none is stamped after the head.
        let promised = pushes.take_promises(cx);
        pushes.accept_all(promised);
        Pin::new(&mut *response_fut).poll(cx)
    })
    .await?;
    let head_at = clock.now();
    let (parts, mut body) = response.into_parts();
    let mut buf = BytesMut::new();
    poll_fn(|cx| loop {
        pushes.poll_promises(cx);
        match body.poll_data(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                // Releasing only fails once the stream is gone, which poll_data reports next.
                let _ = body.flow_control().release_capacity(chunk.len());
                buf.extend_from_slice(&chunk);
            }
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
            Poll::Ready(None) => return Poll::Ready(Ok(())),
            Poll::Pending => return Poll::Pending,
        }
    })
    .await?;
    Ok(MainResponse {
        parts,
        body: buf.freeze(),
        head_at,
        finished_at: clock.now(),
    })
}

/// Reads a body to its end, releasing flow-control capacity as it goes.
async fn read_body(body: &mut RecvStream, mut sink: impl FnMut(&Bytes)) -> Result<(), h2::Error> {
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        let _ = body.flow_control().release_capacity(chunk.len());
        sink(&chunk);
    }
    Ok(())
}

/// Takes the PUSH_PROMISEs of one request and starts receiving each pushed response.
struct Collector {
    promises: PushPromises,
    entries: Vec<PushEntry>,
    reset: bool,
    clock: Clock,
    /// The request stream is closed (or failed), so no more promises can come.
    done: bool,
}

impl Collector {
    /// Takes and accepts every promise received so far; registers the waker for more.
    fn poll_promises(&mut self, cx: &mut Context<'_>) {
        let promised = self.take_promises(cx);
        self.accept_all(promised);
    }

    /// Takes every promise received so far without stamping them; registers the waker for
    /// more.
    fn take_promises(&mut self, cx: &mut Context<'_>) -> Vec<h2::client::PushPromise> {
        let mut taken = Vec::new();
        while !self.done {
            // `push_promise()` is a stateless wrapper around the promise queue, so a fresh
            // future per poll loses nothing.
            let next = std::pin::pin!(self.promises.push_promise()).poll(cx);
            match next {
                Poll::Ready(Some(Ok(promise))) => taken.push(promise),
                // An error here is the request stream's own, which `read_main` reports.
                Poll::Ready(Some(Err(_))) | Poll::Ready(None) => self.done = true,
                Poll::Pending => break,
            }
        }
        taken
    }

    fn accept_all(&mut self, promised: Vec<h2::client::PushPromise>) {
        for promise in promised {
            self.accept(promise);
        }
    }

    fn accept(&mut self, promise: h2::client::PushPromise) {
        let promised_at = self.clock.now();
        let (request, response) = promise.into_parts();
        let promised_path = request
            .uri()
            .path_and_query()
            .map(|pq| pq.to_string())
            .unwrap_or_else(|| request.uri().path().to_owned());
        let mut slot = Slot {
            pushed: Pushed {
                promised_path,
                promise_headers: request.headers().clone(),
                promised_at,
                status: None,
                headers: HeaderMap::new(),
                body: Bytes::new(),
                finished_at: promised_at,
                outcome: PushOutcome::Completed,
            },
            body: BytesMut::new(),
            done: false,
        };
        if self.reset {
            // Dropping the last reference to a pushed stream sends RST_STREAM(CANCEL).
            drop(response);
            slot.pushed.outcome = PushOutcome::ResetByClient;
            slot.done = true;
            self.entries.push(PushEntry {
                slot: Arc::new(Mutex::new(slot)),
                task: None,
            });
            return;
        }
        let slot = Arc::new(Mutex::new(slot));
        let task = tokio::spawn(receive_push(response, slot.clone(), self.clock));
        self.entries.push(PushEntry {
            slot,
            task: Some(AbortOnDrop(task)),
        });
    }
}

/// Reads one pushed response into its slot.
async fn receive_push(response: PushedResponseFuture, slot: Arc<Mutex<Slot>>, clock: Clock) {
    let result = async {
        let response = response.await?;
        let (parts, mut body) = response.into_parts();
        with_slot(&slot, |s| {
            s.pushed.status = Some(parts.status);
            s.pushed.headers = parts.headers;
        });
        read_body(&mut body, |chunk| {
            with_slot(&slot, |s| s.body.extend_from_slice(chunk))
        })
        .await
    }
    .await;
    let outcome = match result {
        Ok(()) => PushOutcome::Completed,
        Err(e) if e.is_reset() && e.is_remote() => {
            PushOutcome::ResetByServer(e.reason().map(|r| format!("{r:?}")).unwrap_or_default())
        }
        Err(e) => PushOutcome::Failed(describe_h2(&e)),
    };
    with_slot(&slot, |s| {
        if !s.done {
            s.pushed.outcome = outcome;
            s.pushed.finished_at = clock.now();
            s.done = true;
        }
    });
}

fn with_slot<R>(slot: &Mutex<Slot>, f: impl FnOnce(&mut Slot) -> R) -> R {
    // A poisoned lock only means another task panicked mid-update; the data is still usable.
    let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut guard)
}

/// The final report entry of a push; one still running counts as timed out.
fn finish_slot(slot: &Mutex<Slot>, now: Duration) -> Pushed {
    with_slot(slot, |s| {
        if !s.done {
            s.done = true;
            s.pushed.outcome = PushOutcome::TimedOut;
            s.pushed.finished_at = now;
        }
        let mut pushed = s.pushed.clone();
        pushed.body = s.body.clone().freeze();
        pushed
    })
}

fn describe_request_error(e: &h2::Error) -> String {
    let mut cause = describe_h2(e);
    if e.is_go_away() && e.is_library() {
        cause
            .push_str(" — the server's bytes are not valid HTTP/2; is it an HTTP/1.1-only server?");
    }
    cause
}
