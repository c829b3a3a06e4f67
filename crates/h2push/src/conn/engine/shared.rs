//! What one connection's driver and its streams share: the engine, behind one lock.
//!
//! This module owns [`Shared`]: the sans-I/O [`Connection`] of `h2push-h2`, and per stream
//! what the driver hands to the stream's task (request body bytes, a client's reset) and what
//! the task tells the driver (it queued frames, it waits for window). Streams call the engine
//! under the lock and wake the driver, which writes; the driver feeds the engine under the
//! lock and wakes the streams it unblocked. Nothing here polls a service or a body, so the
//! lock is only ever held for engine calls. Serving a stream is [`super::stream`]'s, the
//! socket and the clocks [`super`]'s.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::Waker;

use bytes::Bytes;
use h2push_h2::server::Connection;
use h2push_h2::{Reason, StreamId};
use http::uri::PathAndQuery;
use http::HeaderMap;

/// A response body is pulled while less than this is queued on its stream and not written.
pub(super) const QUEUE_HIGH: usize = 256 * 1024;

/// A pushed response the driver starts after the batch that promised it.
pub(super) type PushFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The lock around the engine.
pub(super) struct Shared {
    inner: Mutex<Inner>,
}

/// What the lock guards.
pub(super) struct Inner {
    pub(super) conn: Connection,
    pub(super) streams: HashMap<StreamId, StreamSlot>,
    /// Pushed responses promised and not started yet.
    pub(super) pushes: Vec<PushFuture>,
    /// Streams whose writer waits for window or for its queue to shrink.
    pub(super) waiting: Vec<StreamId>,
    /// A stream was reset for making no send progress.
    pub(super) stalled: bool,
    driver: Option<Waker>,
    /// The driver has been woken and has not run since.
    woken: bool,
}

/// One stream's side of the sharing.
#[derive(Default)]
pub(super) struct StreamSlot {
    /// Request body bytes received and not read yet.
    pub(super) body: VecDeque<Bytes>,
    pub(super) body_ended: bool,
    pub(super) trailers: Option<HeaderMap>,
    pub(super) reader: Option<Waker>,
    /// The response's task, waiting for window or for a reset.
    pub(super) writer: Option<Waker>,
    /// The client reset the stream.
    pub(super) reset: Option<Reason>,
    /// The final head went out: no more 103s.
    pub(super) head_sent: bool,
    /// Our side has ended (or is about to): no more pushes on it.
    pub(super) ended: bool,
    /// What this stream pushed, and how many 103s it sent, for the access log.
    pub(super) pushed: Vec<PathAndQuery>,
    pub(super) early_hints: u32,
}

impl Shared {
    pub(super) fn new(conn: Connection) -> Shared {
        Shared {
            inner: Mutex::new(Inner {
                conn,
                streams: HashMap::new(),
                pushes: Vec::new(),
                waiting: Vec::new(),
                stalled: false,
                driver: None,
                woken: false,
            }),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    /// Frames were queued (or a push promised): the driver must write.
    pub(super) fn wake_driver(&mut self) {
        if !self.woken {
            self.woken = true;
            if let Some(w) = &self.driver {
                w.wake_by_ref();
            }
        }
    }

    /// Called by the driver each time it runs: wakes are not needed while it does.
    pub(super) fn driver_runs(&mut self, waker: &Waker) {
        self.woken = true;
        if !self.driver.as_ref().is_some_and(|w| w.will_wake(waker)) {
            self.driver = Some(waker.clone());
        }
    }

    /// Called by the driver, under the same lock as its last look, before it sleeps: the next
    /// frame queued wakes it.
    pub(super) fn sleeping(&mut self) {
        self.woken = false;
    }

    /// Whether `stream`'s writer may pull the next chunk of its body: some window, and not
    /// much queued. A stream the client grants no window holds no body chunk.
    pub(super) fn may_send(&self, stream: StreamId) -> bool {
        self.conn.queued(stream) < QUEUE_HIGH && self.conn.streams().send_capacity(stream) > 0
    }

    /// Wakes the writers that may go on (after window arrived or the queue was written).
    pub(super) fn wake_writers(&mut self) {
        let mut i = 0;
        while i < self.waiting.len() {
            let id = self.waiting[i];
            let go = match self.streams.get(&id) {
                None => true,
                Some(s) => s.reset.is_some() || self.may_send(id),
            };
            if go {
                self.waiting.swap_remove(i);
                if let Some(w) = self.streams.get_mut(&id).and_then(|s| s.writer.take()) {
                    w.wake();
                }
            } else {
                i += 1;
            }
        }
    }

    /// Before a stream's task waits on its service or body: whether `stream` is still there
    /// and not reset; if so, `waker` is woken when it is.
    pub(super) fn watch_reset(&mut self, stream: StreamId, waker: &Waker) -> bool {
        match self.streams.get_mut(&stream) {
            Some(s) if s.reset.is_none() => {
                s.writer = Some(waker.clone());
                true
            }
            _ => false,
        }
    }

    /// The client reset `stream`: its reader and writer learn it.
    pub(super) fn client_reset(&mut self, stream: StreamId, reason: Reason) {
        if let Some(s) = self.streams.get_mut(&stream) {
            s.reset = Some(reason);
            if let Some(w) = s.writer.take() {
                w.wake();
            }
            if let Some(w) = s.reader.take() {
                w.wake();
            }
        }
    }
}
