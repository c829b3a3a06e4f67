//! One subscriber: its bounded queue, the overflow policy, gaps, and the consumer's handle.
//!
//! This file owns [`Subscription`] (what [`Hub::subscribe`](super::Hub::subscribe) returns:
//! a stream of ready-to-send `text/event-stream` chunks) and the state it shares with the
//! publishers: the replay list installed when it joined, the live queue publishers push to
//! without ever waiting, the pending gap notice, and the end of the stream. Which topics a
//! subscriber is registered in, and where events come from, is the backends' business;
//! heartbeats and HTTP are [`crate::sse::http`]'s.
//!
//! Every event is held as one shared [`Stored`] (its bytes encoded once); a queue entry is a
//! pointer to it, so a slow subscriber costs a pointer per queued event, not a copy.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;

use super::id::{EventId, Pos};
use super::Hub;
use crate::sse::Event;

/// A published event as every subscriber of its topic receives it.
#[derive(Debug)]
pub(crate) struct Stored {
    pub pos: Pos,
    pub topic: Arc<str>,
    /// The complete event block, `id:` line included.
    pub bytes: Bytes,
    /// When the hub stored it (for the age limit of the memory history).
    pub at: Instant,
}

/// Why a subscriber is told it may have missed events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GapReason {
    /// The history no longer reaches back to the client's `Last-Event-ID` (too many or too
    /// old events since).
    History,
    /// The `Last-Event-ID` belongs to another epoch (a restarted memory hub, a Redis that lost
    /// its data) or is not an h2push id at all.
    Epoch,
    /// The subscriber did not keep up and its queue overflowed; the oldest events were dropped.
    Overflow,
    /// The backend lost events while this subscriber was connected (Redis restarted empty, or
    /// trimmed its history during an outage).
    Backend,
}

impl GapReason {
    fn as_str(self) -> &'static str {
        match self {
            GapReason::History => "history",
            GapReason::Epoch => "epoch",
            GapReason::Overflow => "overflow",
            GapReason::Backend => "backend",
        }
    }
}

/// A gap notice waiting to be sent.
#[derive(Debug)]
struct Gap {
    reason: GapReason,
    topics: Vec<Arc<str>>,
    /// An id to move the client's last event id to (into a new epoch), if any.
    id: Option<EventId>,
}

/// The `event: gap` block: `data` is `{"reason":…,"topics":[…]}`.
fn encode_gap(gap: &Gap) -> Bytes {
    let topics: Vec<&str> = gap.topics.iter().map(|t| &**t).collect();
    let data = serde_json::json!({ "reason": gap.reason.as_str(), "topics": topics });
    let mut event = Event::data(data.to_string());
    // "gap" and an id's text never contain CR or LF; the fallbacks are never taken.
    event = event.clone().event(super::GAP_EVENT).unwrap_or(event);
    if let Some(id) = gap.id {
        event = event.clone().id(id.to_string()).unwrap_or(event);
    }
    event.encode()
}

/// The last chunk of a stream the hub ends: the reconnection time (jittered ±25%, so that
/// clients do not all come back at once) and a comment saying why.
pub(crate) fn encode_end(retry: Duration, why: &str) -> Bytes {
    let retry = super::id::jitter(retry, 0.25);
    let mut buf = BytesMut::from(format!("retry: {}\n", retry.as_millis()).as_bytes());
    buf.extend_from_slice(&crate::sse::comment(why));
    buf.freeze()
}

/// What a publisher does when a subscriber's queue is full.
///
/// ```
/// use std::time::Duration;
/// use h2push::sse::hub::{HubConfig, Overflow};
///
/// let config = HubConfig {
///     queue_len: 64,
///     overflow: Overflow::Close { retry: Duration::from_secs(2) },
///     ..HubConfig::default()
/// };
/// # drop(config);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Drop the oldest queued event to make room, and send an `event: gap` (reason
    /// `overflow`) before the next event the subscriber gets. The stream stays open.
    DropOldest,
    /// End the stream with `retry:` set to about `retry` (±25% jitter). The client reconnects
    /// with its last event id and gets what it missed from the history (or a gap).
    Close {
        /// The reconnection time sent to the client.
        retry: Duration,
    },
}

/// A subscriber as publishers and the registry see it.
pub(crate) struct Sub {
    pub topics: Box<[Arc<str>]>,
    state: Mutex<SubState>,
}

#[derive(Default)]
struct SubState {
    /// Events from the history, sent first.
    replay: VecDeque<Arc<Stored>>,
    /// Live events, bounded by the hub's `queue_len`.
    queue: VecDeque<Arc<Stored>>,
    gap: Option<Gap>,
    /// The final chunk, once the hub has ended this subscription.
    end: Option<Bytes>,
    waker: Option<Waker>,
    /// Slab keys in the registry, one per topic, while registered.
    keys: Option<Box<[usize]>>,
    /// The consumer is gone: never register it again.
    dropped: bool,
}

/// What [`Sub::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    Queued,
    /// Queued after dropping the oldest event.
    DroppedOldest,
    /// The queue overflowed and the subscription was ended.
    Closed,
    /// The subscription had already ended.
    Ignored,
}

impl Sub {
    pub fn new(topics: Box<[Arc<str>]>) -> Sub {
        Sub {
            topics,
            state: Mutex::new(SubState::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SubState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a live event. Never waits for the consumer: a full queue is handled by
    /// `overflow` at once.
    pub fn push(&self, event: &Arc<Stored>, cap: usize, overflow: Overflow) -> Pushed {
        let mut st = self.lock();
        if st.end.is_some() || st.dropped {
            return Pushed::Ignored;
        }
        let mut result = Pushed::Queued;
        if st.queue.len() >= cap.max(1) {
            match overflow {
                Overflow::DropOldest => {
                    if let Some(old) = st.queue.pop_front() {
                        add_gap(
                            &mut st,
                            GapReason::Overflow,
                            std::slice::from_ref(&old.topic),
                            None,
                        );
                    }
                    result = Pushed::DroppedOldest;
                }
                Overflow::Close { retry } => {
                    st.queue = VecDeque::new();
                    st.replay = VecDeque::new();
                    st.end = Some(encode_end(
                        retry,
                        "h2push: this subscriber fell too far behind; reconnect to resume",
                    ));
                    let waker = st.waker.take();
                    drop(st);
                    if let Some(w) = waker {
                        w.wake();
                    }
                    return Pushed::Closed;
                }
            }
        }
        st.queue.push_back(event.clone());
        let waker = st.waker.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        result
    }

    /// Installs the events replayed from the history (sorted by position) and the gap the
    /// replay found, ahead of anything queued live.
    pub fn install_replay(
        &self,
        mut events: Vec<Arc<Stored>>,
        gap: Option<(GapReason, Vec<Arc<str>>, Option<EventId>)>,
    ) {
        events.sort_by_key(|e| e.pos);
        let mut st = self.lock();
        if let Some((reason, topics, id)) = gap {
            add_gap(&mut st, reason, &topics, id);
        }
        st.replay = events.into();
        let waker = st.waker.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Tells the subscriber it may have missed events of `topics`.
    pub fn notify_gap(&self, reason: GapReason, topics: &[Arc<str>], id: Option<EventId>) {
        let mut st = self.lock();
        if st.end.is_some() {
            return;
        }
        add_gap(&mut st, reason, topics, id);
        let waker = st.waker.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Ends the subscription after what is already queued, with `last` as the final chunk.
    pub fn end(&self, last: Bytes) {
        let mut st = self.lock();
        if st.end.is_none() {
            st.end = Some(last);
        }
        let waker = st.waker.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Marks the consumer gone and returns the registry keys to remove, if registered.
    /// Call with the registry locked.
    pub fn take_keys_for_drop(&self) -> Option<Box<[usize]>> {
        let mut st = self.lock();
        st.dropped = true;
        st.queue = VecDeque::new();
        st.replay = VecDeque::new();
        st.keys.take()
    }

    /// Whether the consumer is gone. Call with the registry locked.
    pub fn is_dropped(&self) -> bool {
        self.lock().dropped
    }

    /// Records the registry keys. Call with the registry locked.
    pub fn set_keys(&self, keys: Box<[usize]>) {
        self.lock().keys = Some(keys);
    }
}

fn add_gap(st: &mut SubState, reason: GapReason, topics: &[Arc<str>], id: Option<EventId>) {
    match &mut st.gap {
        Some(gap) => {
            for t in topics {
                if !gap.topics.iter().any(|g| g == t) {
                    gap.topics.push(t.clone());
                }
            }
            if id.is_some() {
                gap.id = id;
            }
        }
        None => {
            st.gap = Some(Gap {
                reason,
                topics: topics.to_vec(),
                id,
            })
        }
    }
}

/// The largest chunk [`Subscription`] puts together from queued events (a single larger
/// event still goes out whole).
const MAX_CHUNK: usize = 64 * 1024;

/// Chunks put together into one: the first is kept as it is (no copy) until a second comes.
#[derive(Default)]
struct Batch {
    first: Option<Bytes>,
    more: Option<BytesMut>,
    size: usize,
}

impl Batch {
    fn add(&mut self, b: Bytes) {
        self.size += b.len();
        match (&self.first, &mut self.more) {
            (None, _) => self.first = Some(b),
            (Some(f), None) => {
                let mut m = BytesMut::with_capacity(f.len() + b.len() * 4);
                m.extend_from_slice(f);
                m.extend_from_slice(&b);
                self.more = Some(m);
            }
            (Some(_), Some(m)) => m.extend_from_slice(&b),
        }
    }

    fn finish(self) -> Option<Bytes> {
        match self.more {
            Some(m) => Some(m.freeze()),
            None => self.first,
        }
    }
}

/// A live subscription to one or more topics: a stream of `text/event-stream` chunks, ready
/// to be written to a response body as they are.
///
/// Each chunk is one or more complete event blocks: replayed events first (after the
/// client's `Last-Event-ID`), then live ones, with an `event: gap` block wherever events may
/// have been missed. Queued events are batched into one chunk (up to 64 KiB) when the
/// consumer is behind; a single event is passed on without copying. The stream ends only
/// when the hub ends it (overflow with [`Overflow::Close`], or [`Hub::shutdown`]), with a
/// final chunk carrying `retry:`.
///
/// Dropping it unsubscribes. It sends no heartbeats: [`crate::sse::http::EventStream`] adds
/// them.
///
/// ```
/// use h2push::sse::{hub::{Hub, HubConfig}, Event};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let hub = Hub::memory(HubConfig::default());
/// let mut sub = hub.subscribe(["news"], None).await?;
/// let id = hub.publish("news", Event::data("hello")).await?;
/// let chunk = sub.next_chunk().await.unwrap();
/// assert_eq!(chunk, format!("id: {id}\ndata: hello\n\n"));
/// # Ok::<(), h2push::sse::hub::HubError>(())
/// # }).unwrap();
/// ```
pub struct Subscription {
    pub(crate) sub: Arc<Sub>,
    pub(crate) hub: Hub,
    finished: bool,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("topics", &self.sub.topics)
            .field("finished", &self.finished)
            .finish()
    }
}

impl Subscription {
    pub(crate) fn new(sub: Arc<Sub>, hub: Hub) -> Subscription {
        Subscription {
            sub,
            hub,
            finished: false,
        }
    }

    /// The topics subscribed to.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let hub = h2push::sse::hub::Hub::memory(Default::default());
    /// let sub = hub.subscribe(["a", "b"], None).await?;
    /// assert_eq!(sub.topics().collect::<Vec<_>>(), ["a", "b"]);
    /// # Ok::<(), h2push::sse::hub::HubError>(())
    /// # }).unwrap();
    /// ```
    pub fn topics(&self) -> impl Iterator<Item = &str> {
        self.sub.topics.iter().map(|t| &**t)
    }

    /// The next chunk, or `None` once the hub has ended the subscription.
    pub async fn next_chunk(&mut self) -> Option<Bytes> {
        std::future::poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// Polls for the next chunk; `Ready(None)` after the final one.
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.finished {
            return Poll::Ready(None);
        }
        let mut st = self.sub.lock();
        let mut batch = Batch::default();
        if let Some(gap) = st.gap.take() {
            batch.add(encode_gap(&gap));
        }
        while batch.size < MAX_CHUNK {
            let next = match st.replay.pop_front() {
                Some(e) => e,
                None => match st.queue.pop_front() {
                    Some(e) => e,
                    None => break,
                },
            };
            batch.add(next.bytes.clone());
        }
        if batch.first.is_none() {
            if let Some(end) = st.end.take() {
                self.finished = true;
                return Poll::Ready(Some(end));
            }
            match &st.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => st.waker = Some(cx.waker().clone()),
            }
            return Poll::Pending;
        }
        // A burst grew the queue; give the memory back once it has drained.
        if st.queue.is_empty() && st.queue.capacity() > 64 {
            st.queue = VecDeque::new();
        }
        if st.replay.is_empty() && st.replay.capacity() > 0 {
            st.replay = VecDeque::new();
        }
        drop(st);
        Poll::Ready(batch.finish())
    }
}

impl Stream for Subscription {
    type Item = Bytes;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        self.get_mut().poll_chunk(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(&self.sub);
    }
}
