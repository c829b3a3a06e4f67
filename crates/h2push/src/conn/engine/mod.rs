//! The HTTP/2 connection driver on the project's own engine (`h2push-h2`), experimental.
//!
//! This module owns one HTTP/2 connection's I/O and clocks when the engine serves it
//! (`H2PUSH_HTTP2_ENGINE=own`; the default driver is still [`super::h2`], on the `h2`
//! crate): it reads what the socket has and feeds the engine, starts a task for each request
//! (run inline first: a cached file is answered without one), writes whatever the engine
//! queued in one vectored write, and ends the connection on every deadline [`Limits`] names
//! (preface, idle, GOAWAY, a socket that takes no bytes, streams that all stalled, eviction,
//! shutdown). Frames, HPACK, stream states and flow control are the engine's; a stream's
//! request, pushes, 103s and response are [`stream`]'s; the lock they share is [`shared`]'s.
//! Why an engine of our own: the `h2` crate sends no push and 1xx at speed
//! (`docs/architecture.md`, "The HTTP/2 engine of our own").

mod body;
mod shared;
mod stream;

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use h2push_h2::server::{Config, Connection, Event};
use h2push_h2::Reason;
use http::uri::Scheme;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use self::shared::{Shared, StreamSlot};
use super::flood::FloodGuard;
use super::slots::Slot;
use super::{run_or_spawn, ConnInfo, HttpService, Limits};
use crate::push::PushBook;
use crate::server::ShutdownSignal;

/// Whether HTTP/2 connections are served by the engine of our own: `H2PUSH_HTTP2_ENGINE=own`
/// in the environment (read once). Experimental until it passes every test the `h2` driver
/// passes; then it becomes the only driver.
pub(crate) fn selected() -> bool {
    static OWN: OnceLock<bool> = OnceLock::new();
    *OWN.get_or_init(|| std::env::var("H2PUSH_HTTP2_ENGINE").is_ok_and(|v| v == "own"))
}

/// What every stream of one connection shares.
pub(crate) struct Ctx<S> {
    svc: S,
    info: ConnInfo,
    scheme: Scheme,
    push_book: Arc<PushBook>,
    limits: Limits,
    shared: Arc<Shared>,
}

/// After the final GOAWAY, how long the connection may take to write it.
const CLOSE_FLUSH: Duration = Duration::from_secs(1);
/// The most the engine is asked for per write.
const WRITE_BUDGET: usize = 256 * 1024;
/// Reading pauses while this much received input waits for the engine.
const READ_HIGH: usize = 256 * 1024;
/// The payload of the PING that goes with the first GOAWAY of a graceful shutdown.
const DRAIN_PING: [u8; 8] = *b"h2p-away";
/// The client preface and the frame header of its first SETTINGS.
const PREFACE_LEN: usize = 24 + 9;

/// Where a connection is on its way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    Open,
    /// The first GOAWAY (the largest stream id) and a PING are out: requests on their way
    /// are still served; the final GOAWAY follows the PING's ACK or the GOAWAY deadline.
    Draining,
    /// The final GOAWAY is out; open streams may finish.
    GoingAway,
    /// Nothing more is served: the connection ends once its bytes are written.
    Final,
}

/// Serves HTTP/2 on `io` (after TLS with ALPN `h2`, or h2c prior knowledge) until the client
/// leaves, the connection idles out or is evicted, or the server shuts down.
pub(crate) async fn serve<IO, S>(
    io: IO,
    svc: S,
    info: ConnInfo,
    limits: &Limits,
    mut shutdown: ShutdownSignal,
    slot: &Slot,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: HttpService,
{
    let config = Config {
        streams: h2push_h2::state::Config {
            max_concurrent_streams: limits.max_concurrent_streams,
            initial_stream_window: super::STREAM_WINDOW,
            initial_connection_window: super::CONNECTION_WINDOW,
            ..Default::default()
        },
        max_header_list_size: limits.max_header_list_size,
        ..Config::default()
    };
    let shared = Arc::new(Shared::new(Connection::new(config)));
    let ctx = Arc::new(Ctx {
        svc,
        info,
        scheme: if info.tls {
            Scheme::HTTPS
        } else {
            Scheme::HTTP
        },
        push_book: Arc::new(PushBook::new()),
        limits: limits.clone(),
        shared: shared.clone(),
    });
    let mut io = FloodGuard::new(io);
    let mut input = BytesMut::with_capacity(16 * 1024);
    let mut out: VecDeque<Bytes> = VecDeque::new();
    let mut unflushed = false;
    let mut received = 0usize;
    let started = Instant::now();
    let mut last_request = started;
    let mut write_blocked: Option<Instant> = None;
    let mut closing = Closing::Open;
    let mut closing_at = started;
    let mut client_left = false;
    let mut ping_acked = false;
    let mut engine_wake: Option<Instant> = None;
    let mut busy = false;
    let mut pushes_done = 0;
    let timer = tokio::time::sleep(limits.preface_timeout);
    let shutdown = shutdown.wait();
    let evicted = slot.evicted();
    tokio::pin!(timer, shutdown, evicted);

    poll_fn(|cx| loop {
        let mut progress = false;
        // Read what the socket has.
        if input.len() < READ_HIGH && closing != Closing::Final {
            match tokio_util::io::poll_read_buf(Pin::new(&mut io), cx, &mut input) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(n)) => {
                    received += n;
                    progress = true;
                }
                Poll::Pending => {}
            }
        }

        // Feed the engine and hand out what the client sent.
        let mut requests = Vec::new();
        let mut pushes;
        {
            let mut inner = shared.lock();
            let inner = &mut *inner;
            inner.driver_runs(cx.waker());
            if !input.is_empty() {
                if let Err(e) = inner.conn.recv(&mut input) {
                    tracing::debug!(peer = %info.peer, "HTTP/2 connection error: {e}");
                }
                // The client's SETTINGS may have come: what they allow pushes.
                let streams = inner.conn.streams();
                if !streams.peer_enables_push() {
                    ctx.push_book.set_disabled();
                }
                if let Some(max) = streams.peer_max_concurrent_streams() {
                    ctx.push_book.set_limit(max as usize);
                }
            }
            while let Some(event) = inner.conn.poll_event() {
                match event {
                    Event::Request {
                        stream,
                        head,
                        end_stream,
                    } => {
                        let slot = StreamSlot {
                            body_ended: end_stream,
                            ..StreamSlot::default()
                        };
                        inner.streams.insert(stream, slot);
                        requests.push((stream, head, end_stream));
                    }
                    Event::GoAway { .. } => client_left = true,
                    Event::PingAck { payload } => ping_acked |= payload == DRAIN_PING,
                    other => stream::deliver(inner, other),
                }
            }
            inner.wake_writers();
            pushes = std::mem::take(&mut inner.pushes);
        }
        if !requests.is_empty() {
            last_request = Instant::now();
        }
        // Answer them, inline when they need not wait, so their frames join this write.
        for (stream, head, end_stream) in requests {
            run_or_spawn(stream::serve_stream(ctx.clone(), stream, head, end_stream));
        }
        while !pushes.is_empty() {
            for push in pushes {
                run_or_spawn(push);
            }
            pushes = std::mem::take(&mut shared.lock().pushes);
        }

        // Write what the engine queued.
        loop {
            if out.is_empty() {
                let mut inner = shared.lock();
                engine_wake = inner
                    .conn
                    .expire(std::time::Instant::now())
                    .map(Instant::from_std);
                let mut chunks = Vec::new();
                if inner.conn.transmit(&mut chunks, WRITE_BUDGET) == 0 {
                    break;
                }
                inner.wake_writers();
                drop(inner);
                pushes_done = ctx.push_book.finished_before_flush();
                out.extend(chunks);
            }
            let mut slices = [IoSlice::new(&[]); 64];
            let n = out.len().min(slices.len());
            for (slice, chunk) in slices.iter_mut().zip(out.iter()) {
                *slice = IoSlice::new(chunk);
            }
            match Pin::new(&mut io).poll_write_vectored(cx, &slices[..n]) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(mut n)) => {
                    progress = true;
                    unflushed = true;
                    write_blocked = None;
                    while n > 0 {
                        let front = &mut out[0];
                        if n >= front.len() {
                            n -= front.len();
                            out.pop_front();
                        } else {
                            front.advance(n);
                            n = 0;
                        }
                    }
                }
                Poll::Pending => {
                    write_blocked.get_or_insert_with(Instant::now);
                    break;
                }
            }
        }
        if out.is_empty() && unflushed {
            match Pin::new(&mut io).poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    unflushed = false;
                    ctx.push_book
                        .release_flushed(std::mem::take(&mut pushes_done));
                }
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => {
                    write_blocked.get_or_insert_with(Instant::now);
                }
            }
        }
        let written = out.is_empty() && !unflushed;

        // The connection's state and clocks.
        let now = Instant::now();
        let (has_streams, closed, stalled) = {
            let mut inner = shared.lock();
            let stalled = std::mem::take(&mut inner.stalled);
            (
                !inner.streams.is_empty() || inner.conn.active_streams() > 0,
                inner.conn.is_closed(),
                stalled,
            )
        };
        if has_streams != busy {
            busy = has_streams;
            if busy {
                slot.begin();
            } else {
                slot.end();
            }
        }
        if closed && closing != Closing::Final {
            // A connection error: its GOAWAY is queued.
            closing = Closing::Final;
            closing_at = now + CLOSE_FLUSH;
            continue;
        }
        // The final GOAWAY: streams still open may finish, else the connection ends.
        let go_away = |closing: &mut Closing, closing_at: &mut Instant, has_streams| {
            let mut inner = shared.lock();
            if has_streams {
                inner.conn.goaway(Reason::NO_ERROR, b"");
                *closing = Closing::GoingAway;
                *closing_at = now + limits.goaway_timeout;
            } else {
                inner.conn.close(Reason::NO_ERROR, b"");
                *closing = Closing::Final;
                *closing_at = now + CLOSE_FLUSH;
            }
        };
        // A graceful shutdown starts with a GOAWAY every request on its way is under.
        let drain = |closing: &mut Closing, closing_at: &mut Instant| {
            shared.lock().conn.goaway_graceful(DRAIN_PING);
            *closing = Closing::Draining;
            *closing_at = now + limits.goaway_timeout;
        };
        let mut deadline = engine_wake;
        let mut at = |t: Instant| deadline = Some(deadline.map_or(t, |d| d.min(t)));
        if received < PREFACE_LEN {
            let due = started + limits.preface_timeout;
            if now >= due {
                tracing::debug!(peer = %info.peer, "HTTP/2 preface timed out");
                return Poll::Ready(());
            }
            at(due);
        }
        if let Some(since) = write_blocked {
            let due = since + limits.send_timeout;
            if now >= due {
                tracing::debug!(peer = %info.peer, "HTTP/2 socket took no bytes: closed");
                return Poll::Ready(());
            }
            at(due);
        }
        match closing {
            Closing::Final => {
                if written || now >= closing_at {
                    return Poll::Ready(());
                }
                at(closing_at);
            }
            Closing::Draining => {
                if ping_acked || now >= closing_at {
                    go_away(&mut closing, &mut closing_at, has_streams);
                    continue;
                }
                at(closing_at);
            }
            Closing::GoingAway => {
                if !has_streams {
                    closing = Closing::Final;
                    closing_at = now + CLOSE_FLUSH;
                    continue;
                }
                if now >= closing_at {
                    // Requests still running finish (their own deadlines bound them).
                    closing_at = now + limits.goaway_timeout;
                }
                at(closing_at);
            }
            Closing::Open => {
                if stalled && !has_streams {
                    tracing::debug!(peer = %info.peer, "every HTTP/2 stream stalled: closed");
                    go_away(&mut closing, &mut closing_at, false);
                    continue;
                }
                if client_left && !has_streams {
                    go_away(&mut closing, &mut closing_at, false);
                    continue;
                }
                if evicted.as_mut().poll(cx).is_ready() {
                    // Another connection needs the slot; this one was idle when chosen.
                    go_away(&mut closing, &mut closing_at, has_streams);
                    continue;
                }
                if shutdown.as_mut().poll(cx).is_ready() {
                    drain(&mut closing, &mut closing_at);
                    continue;
                }
                if !has_streams {
                    let due = last_request + limits.idle_timeout;
                    if now >= due {
                        drain(&mut closing, &mut closing_at);
                        continue;
                    }
                    at(due);
                }
            }
        }
        if progress {
            continue;
        }
        if let Some(d) = deadline {
            if timer.deadline() != d {
                timer.as_mut().reset(d);
            }
            if timer.as_mut().poll(cx).is_ready() {
                continue;
            }
        }
        // Sleep, unless a stream queued something since the look above.
        let mut inner = shared.lock();
        if inner.conn.wants_transmit() || !inner.pushes.is_empty() {
            continue;
        }
        inner.sleeping();
        return Poll::Pending;
    })
    .await;
    if busy {
        slot.end();
    }
    // Streams still running learn that the connection is gone.
    let mut inner = shared.lock();
    let ids: Vec<_> = inner.streams.keys().copied().collect();
    for id in ids {
        inner.client_reset(id, Reason::CANCEL);
    }
}
