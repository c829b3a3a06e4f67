//! The event hub: topics, publishing, replay after `Last-Event-ID`, slow consumers.
//!
//! This module owns the hub's public API — [`Hub`], its [`HubConfig`], [`EventId`],
//! [`Subscription`] — and the rules every backend follows: topic names, event size, which
//! events a resuming client missed and when it is told about a gap. Where events are numbered
//! and kept is a backend's: [`Hub::memory`] (one process) or [`Hub::redis`] (Redis Streams,
//! shared by several h2push instances). The wire format is [`crate::sse`]'s; responses,
//! heartbeats and the `/events` and `/publish` endpoints are [`crate::sse::http`]'s.
//!
//! # Ids, replay and gaps
//!
//! Every event gets an [`EventId`] `EPOCH_POSITION` from one sequence per hub shared by all
//! topics (see [`EventId`] for why). A client that reconnects with `Last-Event-ID: X` gets,
//! for each topic it subscribes to, every retained event after `X`, in position order, then
//! live events — none twice, none skipped. History is bounded per topic by count and age
//! ([`HubConfig::history_len`], [`HubConfig::history_age`]); when it no longer reaches back to
//! `X` the client first gets
//!
//! ```text
//! event: gap
//! data: {"reason":"history","topics":["news"]}
//! ```
//!
//! `reason` is `history` (history too short or too old), `epoch` (`X` is from another epoch
//! — a restarted memory hub, a Redis that lost its data — or not an h2push id; the client
//! then gets all the history the hub has, and the gap carries `id: EPOCH_0` so that its next
//! reconnect resumes in the current epoch), `overflow` (the subscriber's queue overflowed and
//! its oldest events were dropped, see [`Overflow`]) or `backend` (Redis lost events while
//! the client was connected). A gap is a cue to refetch state. Gap events carry no id of
//! their own otherwise, so the client's last event id stays on the last real event.
//!
//! # Example
//!
//! ```
//! use h2push::sse::{hub::{Hub, HubConfig}, Event};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let hub = Hub::memory(HubConfig::default());
//! let first = hub.publish("news", Event::data("one")).await?;
//! hub.publish("news", Event::data("two").event("update")?).await?;
//!
//! // A client that saw `first` reconnects and gets what it missed.
//! let mut sub = hub.subscribe(["news"], Some(&first.to_string())).await?;
//! let chunk = sub.next_chunk().await.unwrap();
//! assert!(chunk.ends_with(b"event: update\ndata: two\n\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod config;
mod history;
mod id;
mod memory;
mod redis;
mod registry;
mod subscriber;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

pub use self::config::{HubConfig, HubError, HubStats, Published, TopicFilter};
pub(crate) use self::id::jitter;
pub use self::id::{EventId, InvalidEventId};
pub use self::redis::RedisOptions;
pub use self::subscriber::{Overflow, Subscription};

use self::memory::Memory;
use self::redis::RedisBackend;
use self::registry::FanOut;
use self::subscriber::{encode_end, Sub};
use crate::sse::Event;

/// The event type of gap notices (`event: gap`).
pub const GAP_EVENT: &str = "gap";

/// The longest topic name, in bytes.
pub const MAX_TOPIC_LEN: usize = 200;

/// Where a subscription starts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Resume {
    /// No `Last-Event-ID`: live events only.
    Live,
    /// After this id.
    From(EventId),
    /// After an id that is not an h2push id.
    Unknown,
}

/// An event hub: publish to topics, subscribe to several at once, resume after a
/// `Last-Event-ID`. Cheap to clone (all clones are the same hub).
///
/// See the [module docs](self) for ids, replay and gaps.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    config: HubConfig,
    backend: Backend,
    closed: AtomicBool,
    counters: Arc<Counters>,
}

/// The hub's counters, shared with the Redis reader.
#[derive(Default)]
pub(crate) struct Counters {
    published: AtomicU64,
    delivered: AtomicU64,
    dropped: AtomicU64,
    closed: AtomicU64,
}

impl Counters {
    pub(crate) fn count(&self, n: FanOut) {
        if n.delivered > 0 {
            self.delivered.fetch_add(n.delivered, Ordering::Relaxed);
        }
        if n.dropped > 0 {
            self.dropped.fetch_add(n.dropped, Ordering::Relaxed);
        }
        if n.closed > 0 {
            self.closed.fetch_add(n.closed, Ordering::Relaxed);
        }
    }
}

enum Backend {
    Memory(Box<Memory>),
    Redis(Arc<RedisBackend>),
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("backend", &self.backend_name())
            .field("stats", &self.stats())
            .finish()
    }
}

impl Hub {
    fn with_backend(config: HubConfig, backend: Backend, counters: Arc<Counters>) -> Hub {
        Hub {
            inner: Arc::new(Inner {
                config,
                backend,
                closed: AtomicBool::new(false),
                counters,
            }),
        }
    }

    /// A hub that keeps everything in this process. Its epoch is drawn at random, so ids from
    /// before a restart are recognised as foreign (the client gets a gap, then the history).
    ///
    /// ```
    /// let hub = h2push::sse::hub::Hub::memory(Default::default());
    /// assert_eq!(hub.backend_name(), "memory");
    /// ```
    pub fn memory(config: HubConfig) -> Hub {
        Hub::with_backend(
            config,
            Backend::Memory(Box::new(Memory::new())),
            Arc::default(),
        )
    }

    /// A hub on Redis Streams at `url` (`redis://[:password@]host:port[/db]`), shared with
    /// every other hub on the same Redis and key prefix. Must be called within a Tokio
    /// runtime: it starts the task that reads the topics with local subscribers.
    ///
    /// It does not wait for Redis: if Redis is down, publishing fails with
    /// [`HubError::Unavailable`] and new subscribers are asked to retry until it is back.
    ///
    /// # Errors
    ///
    /// [`HubError::InvalidUrl`] if `url` cannot be used.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), h2push::sse::hub::HubError> {
    /// use h2push::sse::hub::{Hub, HubConfig, RedisOptions};
    /// let hub = Hub::redis("redis://127.0.0.1:6379", HubConfig::default(), RedisOptions::default())?;
    /// hub.publish("news", h2push::sse::Event::data("hello")).await?;
    /// # Ok(()) }
    /// ```
    pub fn redis(url: &str, config: HubConfig, options: RedisOptions) -> Result<Hub, HubError> {
        let counters = Arc::<Counters>::default();
        let backend = RedisBackend::start(url, &config, options, counters.clone())?;
        Ok(Hub::with_backend(config, Backend::Redis(backend), counters))
    }

    /// The hub's configuration.
    pub fn config(&self) -> &HubConfig {
        &self.inner.config
    }

    /// `"memory"` or `"redis"`.
    pub fn backend_name(&self) -> &'static str {
        match self.inner.backend {
            Backend::Memory(_) => "memory",
            Backend::Redis(_) => "redis",
        }
    }

    /// Publishes `event` to `topic` and returns its id. The event is encoded once; its bytes
    /// are shared by every subscriber. Never waits for a subscriber.
    ///
    /// # Errors
    ///
    /// A [`HubError`] for a bad or unknown topic, an event that is too large or already has
    /// an id, a full memory hub, an unreachable backend, or a hub that was shut down.
    ///
    /// ```
    /// use h2push::sse::{hub::Hub, Event};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let hub = Hub::memory(Default::default());
    /// let a = hub.publish("a", Event::data("1")).await?;
    /// let b = hub.publish("b", Event::data("2")).await?;
    /// assert!(a < b);
    /// # Ok::<(), h2push::sse::hub::HubError>(())
    /// # }).unwrap();
    /// ```
    pub async fn publish(&self, topic: &str, event: Event) -> Result<EventId, HubError> {
        Ok(self.publish_inner(topic, None, event).await?.id)
    }

    /// Publishes like [`publish`](Hub::publish), unless `key` was used for `topic` before
    /// (within the history's age limit, or an hour): then nothing is published and the earlier
    /// event's id comes back with `duplicate: true`. For publishers that retry.
    ///
    /// # Errors
    ///
    /// As [`publish`](Hub::publish).
    ///
    /// ```
    /// use h2push::sse::{hub::Hub, Event};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let hub = Hub::memory(Default::default());
    /// let first = hub.publish_once("orders", "order-17", Event::data("paid")).await?;
    /// let again = hub.publish_once("orders", "order-17", Event::data("paid")).await?;
    /// assert!(!first.duplicate && again.duplicate);
    /// assert_eq!(first.id, again.id);
    /// # Ok::<(), h2push::sse::hub::HubError>(())
    /// # }).unwrap();
    /// ```
    pub async fn publish_once(
        &self,
        topic: &str,
        key: &str,
        event: Event,
    ) -> Result<Published, HubError> {
        self.publish_inner(topic, Some(key), event).await
    }

    async fn publish_inner(
        &self,
        topic: &str,
        key: Option<&str>,
        event: Event,
    ) -> Result<Published, HubError> {
        let inner = &*self.inner;
        if inner.closed.load(Ordering::Acquire) {
            return Err(HubError::Closed);
        }
        self.check_topic(topic)?;
        if event.event_id().is_some() {
            return Err(HubError::EventHasId);
        }
        let body = event.encode();
        if body.len() > inner.config.max_event_bytes {
            return Err(HubError::EventTooLarge {
                size: body.len(),
                max: inner.config.max_event_bytes,
            });
        }
        let published = match &inner.backend {
            Backend::Memory(m) => {
                let (published, n) = m.publish(&inner.config, topic, &body, key)?;
                inner.counters.count(n);
                published
            }
            Backend::Redis(r) => r.publish(&inner.config, topic, &event, key).await?,
        };
        if !published.duplicate {
            inner.counters.published.fetch_add(1, Ordering::Relaxed);
        }
        Ok(published)
    }

    /// Subscribes to `topics` (duplicates are ignored). With `last_event_id` (the client's
    /// `Last-Event-ID`), the subscription starts with every retained event after it, and a
    /// gap notice if the history does not reach back that far; without it, with the next
    /// event published.
    ///
    /// # Errors
    ///
    /// A [`HubError`] for no topics, too many, an invalid or unknown one, or a shut-down
    /// hub; [`HubError::Unavailable`] if the Redis backend cannot be reached.
    ///
    /// ```
    /// use h2push::sse::{hub::Hub, Event};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let hub = Hub::memory(Default::default());
    /// let mut sub = hub.subscribe(["a", "b"], None).await?;
    /// hub.publish("b", Event::data("to b")).await?;
    /// assert!(sub.next_chunk().await.unwrap().ends_with(b"data: to b\n\n"));
    /// # Ok::<(), h2push::sse::hub::HubError>(())
    /// # }).unwrap();
    /// ```
    pub async fn subscribe<I, T>(
        &self,
        topics: I,
        last_event_id: Option<&str>,
    ) -> Result<Subscription, HubError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let inner = &*self.inner;
        if inner.closed.load(Ordering::Acquire) {
            return Err(HubError::Closed);
        }
        let mut names: Vec<Arc<str>> = Vec::new();
        for t in topics {
            let t = t.as_ref();
            self.check_topic(t)?;
            if !names.iter().any(|n| &**n == t) {
                if names.len() == inner.config.max_topics_per_subscription {
                    return Err(HubError::TooManyTopics {
                        max: inner.config.max_topics_per_subscription,
                    });
                }
                names.push(Arc::from(t));
            }
        }
        if names.is_empty() {
            return Err(HubError::NoTopics);
        }
        let max = inner.config.max_subscribers;
        let subscribers = match &inner.backend {
            Backend::Memory(m) => m.subscriber_count(),
            Backend::Redis(r) => r.subscriber_count(),
        };
        // Checked here, not under the registry's lock: concurrent subscribes may pass the
        // limit by a few, never by more than the number of them in flight.
        if subscribers >= max {
            return Err(HubError::TooManySubscribers { max });
        }
        let resume = match last_event_id {
            None | Some("") => Resume::Live,
            Some(id) => match id.parse::<EventId>() {
                Ok(id) => Resume::From(id),
                Err(_) => Resume::Unknown,
            },
        };
        let sub = Arc::new(Sub::new(names.into_boxed_slice()));
        // Created first, so that dropping this future half-way unsubscribes.
        let subscription = Subscription::new(sub.clone(), self.clone());
        match &inner.backend {
            Backend::Memory(m) => m.subscribe(&inner.config, &sub, resume),
            Backend::Redis(r) => r.subscribe(&sub, resume).await?,
        }
        Ok(subscription)
    }

    pub(crate) fn unsubscribe(&self, sub: &Sub) {
        match &self.inner.backend {
            Backend::Memory(m) => m.unsubscribe(sub),
            Backend::Redis(r) => r.unsubscribe(sub),
        }
    }

    /// Checks a topic name: 1 to [`MAX_TOPIC_LEN`] bytes, no control characters or spaces,
    /// and allowed by [`HubConfig::allowed_topics`].
    ///
    /// # Errors
    ///
    /// [`HubError::InvalidTopic`] or [`HubError::UnknownTopic`].
    ///
    /// ```
    /// let hub = h2push::sse::hub::Hub::memory(Default::default());
    /// assert!(hub.check_topic("prices.eur-usd").is_ok());
    /// assert!(hub.check_topic("two words").is_err());
    /// ```
    pub fn check_topic(&self, topic: &str) -> Result<(), HubError> {
        let invalid = |reason| HubError::InvalidTopic {
            topic: topic.to_owned(),
            reason,
        };
        if topic.is_empty() {
            return Err(invalid("it is empty"));
        }
        if topic.len() > MAX_TOPIC_LEN {
            return Err(invalid("it is longer than 200 bytes"));
        }
        if topic.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(invalid("it contains spaces or control characters"));
        }
        if let Some(filter) = &self.inner.config.allowed_topics {
            if !filter.allows(topic) {
                return Err(HubError::UnknownTopic(topic.to_owned()));
            }
        }
        Ok(())
    }

    /// Ends every subscription (after what is already queued) with a `retry:` of about
    /// [`HubConfig::retry`], so clients reconnect — to this server once it is back, or to
    /// another. Later publishes and subscriptions fail with [`HubError::Closed`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let hub = h2push::sse::hub::Hub::memory(Default::default());
    /// let mut sub = hub.subscribe(["a"], None).await.unwrap();
    /// hub.shutdown();
    /// assert!(sub.next_chunk().await.unwrap().starts_with(b"retry: "));
    /// assert_eq!(sub.next_chunk().await, None);
    /// # });
    /// ```
    pub fn shutdown(&self) {
        let inner = &*self.inner;
        inner.closed.store(true, Ordering::Release);
        let subs = match &inner.backend {
            Backend::Memory(m) => m.subscribers(),
            Backend::Redis(r) => {
                r.stop();
                r.subscribers()
            }
        };
        for sub in subs {
            sub.end(self.end_chunk("h2push: server shutting down; reconnect"));
        }
    }

    /// Whether [`shutdown`](Hub::shutdown) was called.
    pub fn is_shut_down(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Whether the backend can be used right now (always true for memory; for Redis, whether
    /// the last command or connection attempt succeeded).
    pub fn is_available(&self) -> bool {
        match &self.inner.backend {
            Backend::Memory(_) => true,
            Backend::Redis(r) => r.is_available(),
        }
    }

    /// The final chunk for a stream the hub ends or cannot start: `retry:` and a comment.
    pub(crate) fn end_chunk(&self, why: &str) -> Bytes {
        encode_end(self.inner.config.retry, why)
    }

    /// The hub's counters.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let hub = h2push::sse::hub::Hub::memory(Default::default());
    /// let _sub = hub.subscribe(["a"], None).await.unwrap();
    /// hub.publish("a", h2push::sse::Event::data("x")).await.unwrap();
    /// let stats = hub.stats();
    /// assert_eq!((stats.subscribers, stats.published, stats.delivered), (1, 1, 1));
    /// # });
    /// ```
    pub fn stats(&self) -> HubStats {
        let inner = &*self.inner;
        let (topics, subscribers) = match &inner.backend {
            Backend::Memory(m) => m.counts(),
            Backend::Redis(r) => r.counts(),
        };
        HubStats {
            topics,
            subscribers,
            published: inner.counters.published.load(Ordering::Relaxed),
            delivered: inner.counters.delivered.load(Ordering::Relaxed),
            dropped: inner.counters.dropped.load(Ordering::Relaxed),
            closed: inner.counters.closed.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Backend::Redis(r) = &self.backend {
            r.stop();
        }
    }
}
