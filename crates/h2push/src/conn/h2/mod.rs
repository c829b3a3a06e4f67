//! The HTTP/2 connection driver, on the `h2` crate.
//!
//! This module owns one HTTP/2 connection's life: the handshake with the server's limits, the
//! accept loop (which is also what drives h2's frame I/O), answering each batch of ready
//! requests with one write, a task only for streams that must wait, and every way a
//! connection ends: the idle timeout and graceful shutdown (GOAWAY, then let open streams
//! finish, then close whether or not the client acknowledged), eviction at the connection
//! cap, a socket that takes no bytes for the send timeout, a connection whose streams
//! all stalled, and a PING/SETTINGS flood ([`flood`]). Streams, pushes and 103s are [`stream`]'s; writing bodies is [`send`]'s;
//! request bodies are [`recv`]'s.

mod client_settings;
mod recv;
mod send;
mod stream;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use h2::server::SendPushedResponse;
use h2::SendStream;
use http::uri::Scheme;
use http::Response;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::cork::Cork;
use super::slots::Slot;
use super::{run_or_spawn, ConnInfo, HttpService, Limits};
use crate::push::PushBook;
use crate::server::ShutdownSignal;

/// What every stream of one connection shares.
pub(crate) struct Conn<S> {
    svc: S,
    info: ConnInfo,
    scheme: Scheme,
    push_book: Arc<PushBook>,
    batch: Mutex<Batch>,
    limits: Limits,
    /// A stream was reset for making no send progress (see [`Conn::note_stall`]).
    stalled: AtomicBool,
}

/// After the final GOAWAY, how long the connection may take to write it before it is
/// dropped.
const CLOSE_FLUSH: Duration = Duration::from_secs(1);

type PushFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A pushed response's head that the driver must send (see [`Conn::send_pushed_head`]).
struct PendingHead {
    pushed: SendPushedResponse<Bytes>,
    head: Response<()>,
    eos: bool,
    reply: oneshot::Sender<Result<SendStream<Bytes>, h2::Error>>,
}

/// What the driver and the pushed responses coordinate through.
#[derive(Default)]
struct Batch {
    /// The driver is answering a batch: pushes started now run in it.
    open: bool,
    pushes: Vec<PushFuture>,
    /// Counts the driver's polls of h2. A PUSH_PROMISE queued during epoch `e` is still
    /// unsent while the epoch is `e`.
    epoch: u64,
    heads: Vec<PendingHead>,
    driver: Option<Waker>,
}

impl<S> Conn<S> {
    /// A stream was reset because its client granted no window for the send timeout: the
    /// driver closes the connection if no other stream is left.
    fn note_stall(&self) {
        self.stalled.store(true, Ordering::Relaxed);
        if let Some(w) = &self.batch().driver {
            w.wake_by_ref();
        }
    }

    fn batch(&self) -> std::sync::MutexGuard<'_, Batch> {
        self.batch.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a pushed response. While the driver is answering a batch, it is queued and run
    /// by the driver right after the request that pushed it, so its frames join the batch's
    /// single write; never inside `Pusher::push` itself, where an application may hold a
    /// lock the pushed route also takes. Outside a batch it gets a task of its own.
    fn start_push(&self, fut: impl Future<Output = ()> + Send + 'static) {
        let mut batch = self.batch();
        if batch.open {
            batch.pushes.push(Box::pin(fut));
        } else {
            drop(batch);
            tokio::spawn(fut);
        }
    }

    fn open_batch(&self) {
        self.batch().open = true;
    }

    /// Runs the queued pushes (and any they queue in turn); with `close`, ends the batch.
    fn run_pushes(&self, close: bool) {
        loop {
            let pushes = {
                let mut batch = self.batch();
                if batch.pushes.is_empty() {
                    batch.open &= !close;
                    return;
                }
                std::mem::take(&mut batch.pushes)
            };
            for fut in pushes {
                run_or_spawn(fut);
            }
        }
    }

    /// Queues a PUSH_PROMISE through `promise` and returns the epoch it was queued in.
    fn promise<T>(&self, promise: impl FnOnce() -> T) -> (T, u64) {
        // Holding the lock keeps the driver from polling h2 (and so sending the promise)
        // between reading the epoch and queuing the promise.
        let batch = self.batch();
        (promise(), batch.epoch)
    }

    /// Sends a pushed response's head.
    ///
    /// Works around an h2 (≥ 0.4.15) bug: the head of a pushed stream whose PUSH_PROMISE is
    /// already sent waits in h2's "pending open" queue until the connection is next polled,
    /// and a client RST_STREAM read in that gap (clients may cancel any push) makes h2 end
    /// the whole connection with PROTOCOL_ERROR. So: while the promise is still unsent (same
    /// epoch), the head is sent at once and never waits there. Otherwise the driver sends it
    /// between two polls, when h2's read buffers are empty, and holds back the next socket
    /// read until h2 has flushed the head; a reset then finds an open stream.
    async fn send_pushed_head(
        &self,
        mut pushed: SendPushedResponse<Bytes>,
        head: Response<()>,
        eos: bool,
        promised_in: u64,
    ) -> Result<SendStream<Bytes>, h2::Error> {
        let rx = {
            let mut batch = self.batch();
            if batch.epoch == promised_in {
                return pushed.send_response(head, eos);
            }
            let (reply, rx) = oneshot::channel();
            batch.heads.push(PendingHead {
                pushed,
                head,
                eos,
                reply,
            });
            if let Some(w) = &batch.driver {
                w.wake_by_ref();
            }
            rx
        };
        // The driver always answers; if it is gone, so is the connection.
        rx.await
            .unwrap_or_else(|_| Err(h2::Error::from(h2::Reason::CANCEL)))
    }

    /// Called by the driver before every poll of h2: sends the heads handed over, starts a
    /// new epoch, and says whether the next socket read must wait.
    fn before_poll(&self, waker: &Waker) -> bool {
        let mut batch = self.batch();
        batch.epoch += 1;
        if !batch.driver.as_ref().is_some_and(|w| w.will_wake(waker)) {
            batch.driver = Some(waker.clone());
        }
        let heads = std::mem::take(&mut batch.heads);
        let sent = !heads.is_empty();
        for mut h in heads {
            let _ = h.reply.send(h.pushed.send_response(h.head, h.eos));
        }
        sent
    }
}

/// Serves HTTP/2 on `io` (after TLS with ALPN `h2`, or h2c prior knowledge) until the client
/// leaves, the connection idles out or is evicted, or the server shuts down. `cork` holds
/// back the writes of the stream under `io` (see [`super::cork`]).
pub(crate) async fn serve<IO, S>(
    io: IO,
    cork: Cork,
    svc: S,
    info: ConnInfo,
    limits: &Limits,
    mut shutdown: ShutdownSignal,
    slot: &Slot,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: HttpService,
{
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(limits.max_concurrent_streams)
        .max_header_list_size(limits.max_header_list_size)
        .initial_window_size(super::STREAM_WINDOW)
        .initial_connection_window_size(super::CONNECTION_WINDOW);
    let push_book = Arc::new(PushBook::new());
    let io =
        super::flood::FloodGuard::new(client_settings::ClientSettings::new(io, push_book.clone()));
    let handshake = tokio::time::timeout(limits.preface_timeout, builder.handshake(io));
    let mut h2 = tokio::select! {
        r = handshake => match r {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                tracing::debug!(peer = %info.peer, "HTTP/2 handshake failed: {e}");
                return;
            }
            Err(_) => {
                tracing::debug!(peer = %info.peer, "HTTP/2 preface timed out");
                return;
            }
        },
        () = slot.evicted() => return,
    };
    let conn = Arc::new(Conn {
        svc,
        info,
        scheme: if info.tls {
            Scheme::HTTPS
        } else {
            Scheme::HTTP
        },
        push_book,
        batch: Mutex::default(),
        limits: limits.clone(),
        stalled: AtomicBool::new(false),
    });
    // The client's SETTINGS come before its first request, so the limit read at each
    // request is current.
    let accept = |limit: usize, req, respond| {
        conn.push_book.set_limit(limit);
        run_or_spawn(stream::serve_stream(conn.clone(), req, respond));
        conn.run_pushes(false);
    };

    let idle_timeout = limits.idle_timeout;
    let mut last_request = Instant::now();
    let idle = tokio::time::sleep(idle_timeout);
    let shutdown = shutdown.wait();
    let evicted = slot.evicted();
    // The deadline of the current closing step, and of a socket that takes no bytes.
    let closing_timer = tokio::time::sleep(Duration::ZERO);
    let stall_timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(idle, shutdown, evicted, closing_timer, stall_timer);
    let mut closing = Closing::Open;
    let mut busy = false;
    poll_fn(|cx| loop {
        // Answer every request that is ready, holding the writes back, ...
        cork.set(true);
        conn.open_batch();
        let polled = loop {
            if conn.before_poll(cx.waker()) {
                cork.hold_next_read();
            }
            match h2.poll_accept(cx) {
                Poll::Ready(Some(Ok((req, respond)))) => {
                    accept(h2.max_concurrent_send_streams(), req, respond);
                    last_request = Instant::now();
                }
                other => break other,
            }
        };
        conn.run_pushes(true);
        cork.set(false);
        if let Poll::Ready(end) = polled {
            log_end(end, &info);
            return Poll::Ready(());
        }
        // ... then pull the cork: this poll flushes the whole batch in one write (and may
        // find a request that arrived meanwhile, in which case go round again). Pushes that
        // finished queuing before it have their streams written and closed by it, give or
        // take a socket that would block; their slots are freed after it.
        let pushes_done = conn.push_book.finished_before_flush();
        if conn.before_poll(cx.waker()) {
            cork.hold_next_read();
        }
        match h2.poll_accept(cx) {
            Poll::Ready(Some(Ok((req, respond)))) => {
                conn.open_batch();
                accept(h2.max_concurrent_send_streams(), req, respond);
                conn.run_pushes(true);
                last_request = Instant::now();
                continue;
            }
            Poll::Ready(end) => {
                log_end(end, &info);
                return Poll::Ready(());
            }
            Poll::Pending => conn.push_book.release_flushed(pushes_done),
        }

        // Nothing more to read or write for now: look at the clocks.
        let has_streams = h2.has_streams();
        if has_streams != busy {
            busy = has_streams;
            if busy {
                slot.begin();
            } else {
                slot.end();
            }
        }
        if let Some(since) = cork.write_blocked_since() {
            // The client reads nothing: whatever it asked for, it cannot hold the connection.
            stall_timer
                .as_mut()
                .reset(Instant::from_std(since) + limits.send_timeout);
            if stall_timer.as_mut().poll(cx).is_ready() {
                tracing::debug!(peer = %info.peer, "HTTP/2 socket took no bytes: closed");
                return Poll::Ready(());
            }
        }
        if conn.stalled.swap(false, Ordering::Relaxed) && !has_streams {
            tracing::debug!(peer = %info.peer, "every HTTP/2 stream stalled: closed");
            closing = Closing::Final;
            h2.abrupt_shutdown(h2::Reason::NO_ERROR);
            closing_timer.as_mut().reset(Instant::now() + CLOSE_FLUSH);
            continue;
        }
        match closing {
            Closing::Final => {
                if closing_timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(());
                }
                return Poll::Pending;
            }
            Closing::GoingAway => {
                if closing_timer.as_mut().poll(cx).is_ready() {
                    if has_streams {
                        // Requests still running finish (their own deadlines bound them).
                        closing_timer
                            .as_mut()
                            .reset(Instant::now() + limits.goaway_timeout);
                        continue;
                    }
                    // The client has not acknowledged the GOAWAY: close anyway.
                    closing = Closing::Final;
                    h2.abrupt_shutdown(h2::Reason::NO_ERROR);
                    closing_timer.as_mut().reset(Instant::now() + CLOSE_FLUSH);
                    continue;
                }
                return Poll::Pending;
            }
            Closing::Open => {}
        }
        if evicted.as_mut().poll(cx).is_ready() {
            // Another connection needs the slot; this one was idle when chosen.
            if has_streams {
                h2.graceful_shutdown();
                closing = Closing::GoingAway;
                closing_timer
                    .as_mut()
                    .reset(Instant::now() + limits.goaway_timeout);
            } else {
                h2.abrupt_shutdown(h2::Reason::NO_ERROR);
                closing = Closing::Final;
                closing_timer.as_mut().reset(Instant::now() + CLOSE_FLUSH);
            }
            continue;
        }
        if shutdown.as_mut().poll(cx).is_ready() {
            h2.graceful_shutdown();
            closing = Closing::GoingAway;
            closing_timer
                .as_mut()
                .reset(Instant::now() + limits.goaway_timeout);
            continue;
        }
        if idle.as_mut().poll(cx).is_ready() {
            // Streams still running (an event stream, a slow upload) keep the connection; only
            // a connection with nothing in flight since the last request is idle.
            let due = last_request + idle_timeout;
            if has_streams || due > Instant::now() {
                idle.as_mut()
                    .reset(due.max(Instant::now() + idle_timeout / 2));
            } else {
                h2.graceful_shutdown();
                closing = Closing::GoingAway;
                closing_timer
                    .as_mut()
                    .reset(Instant::now() + limits.goaway_timeout);
            }
            continue;
        }
        return Poll::Pending;
    })
    .await;
    if busy {
        slot.end();
    }
}

/// Where a connection is on its way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    Open,
    /// GOAWAY sent; open streams may finish, and the client should acknowledge.
    GoingAway,
    /// The last GOAWAY is queued; the connection ends once it is written (or soon anyway).
    Final,
}

fn log_end<T>(end: Option<Result<T, h2::Error>>, info: &ConnInfo) {
    if let Some(Err(e)) = end {
        if !e.is_io() && !e.is_go_away() {
            tracing::debug!(peer = %info.peer, "HTTP/2 connection error: {e}");
        }
    }
}
