//! The hub's settings, errors and reports.
//!
//! This file owns [`HubConfig`] (history bounds, queue length, overflow policy, limits),
//! [`TopicFilter`], [`HubError`], [`Published`] and [`HubStats`]: the plain data the hub's
//! API takes and gives. The rules that use them are in `mod.rs` and the backends.

use std::collections::HashSet;
use std::time::Duration;

use super::{EventId, Overflow};

/// How a hub keeps history and treats subscribers. Every field has a sensible default.
///
/// ```
/// use std::time::Duration;
/// use h2push::sse::hub::{HubConfig, TopicFilter};
///
/// let config = HubConfig {
///     history_len: 10_000,
///     history_age: Some(Duration::from_secs(600)),
///     allowed_topics: Some(TopicFilter::new(["news", "prices.*"])),
///     ..HubConfig::default()
/// };
/// assert!(config.allowed_topics.as_ref().unwrap().allows("prices.eur"));
/// ```
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Events kept per topic for replay [default: 1000]. 0 keeps none: every resume after a
    /// missed event gets a gap.
    pub history_len: usize,
    /// Events older than this are not replayed [default: 1 hour]; `None`: no age limit.
    pub history_age: Option<Duration>,
    /// Live events queued per subscriber before [`HubConfig::overflow`] applies [default: 256].
    pub queue_len: usize,
    /// What to do when a subscriber's queue is full [default: [`Overflow::DropOldest`]].
    pub overflow: Overflow,
    /// Topics a memory hub keeps history for at most; publishing to one more fails with
    /// [`HubError::HubFull`] [default: 100,000].
    pub max_topics: usize,
    /// Subscriptions the hub holds at once on this instance; one more fails with
    /// [`HubError::TooManySubscribers`] [default: 2,000,000].
    pub max_subscribers: usize,
    /// Topics one subscription may name [default: 32].
    pub max_topics_per_subscription: usize,
    /// The largest event, encoded, in bytes [default: 256 KiB].
    pub max_event_bytes: usize,
    /// If set, only matching topics can be published to and subscribed to.
    pub allowed_topics: Option<TopicFilter>,
    /// The reconnection time sent when the hub ends streams at [`Hub::shutdown`](super::Hub::shutdown), or cannot
    /// serve a subscription right now (backend down) [default: 3 s, ±25% jitter].
    pub retry: Duration,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            history_len: 1000,
            history_age: Some(Duration::from_secs(3600)),
            queue_len: 256,
            overflow: Overflow::DropOldest,
            max_topics: 100_000,
            max_subscribers: 2_000_000,
            max_topics_per_subscription: 32,
            max_event_bytes: 256 * 1024,
            allowed_topics: None,
            retry: Duration::from_secs(3),
        }
    }
}

/// Which topics exist: exact names, and prefixes written with a trailing `*`.
///
/// ```
/// use h2push::sse::hub::TopicFilter;
///
/// let filter = TopicFilter::new(["news", "room.*"]);
/// assert!(filter.allows("news"));
/// assert!(filter.allows("room.42"));
/// assert!(!filter.allows("newsroom"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct TopicFilter {
    exact: HashSet<String>,
    prefixes: Vec<String>,
}

impl TopicFilter {
    /// A filter from patterns: `name` allows that topic, `prefix*` every topic starting with
    /// `prefix`, and `*` every topic.
    pub fn new<I, S>(patterns: I) -> TopicFilter
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut filter = TopicFilter::default();
        for p in patterns {
            let p = p.as_ref();
            match p.strip_suffix('*') {
                Some(prefix) => filter.prefixes.push(prefix.to_owned()),
                None => {
                    filter.exact.insert(p.to_owned());
                }
            }
        }
        filter
    }

    /// Whether `topic` matches one of the patterns.
    pub fn allows(&self, topic: &str) -> bool {
        self.exact.contains(topic) || self.prefixes.iter().any(|p| topic.starts_with(p.as_str()))
    }
}

/// Why the hub refused a publish or a subscription.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// The topic name is empty, too long, or has control characters or spaces.
    #[error("invalid topic {topic:?}: {reason}")]
    InvalidTopic {
        /// The name as given.
        topic: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The hub restricts topics ([`HubConfig::allowed_topics`]) and this one is not allowed.
    #[error("unknown topic {0:?}")]
    UnknownTopic(String),
    /// A subscription must name at least one topic.
    #[error("no topic given; subscribe with ?topic=NAME (may repeat)")]
    NoTopics,
    /// A subscription named more topics than [`HubConfig::max_topics_per_subscription`].
    #[error("too many topics in one subscription (at most {max})")]
    TooManyTopics {
        /// The limit.
        max: usize,
    },
    /// The hub already holds [`HubConfig::max_subscribers`] subscriptions.
    #[error("the hub already holds {max} subscriptions; try again later")]
    TooManySubscribers {
        /// The limit.
        max: usize,
    },
    /// A memory hub already keeps [`HubConfig::max_topics`] topics.
    #[error("the hub already keeps {max} topics; no new topic can be created")]
    HubFull {
        /// The limit.
        max: usize,
    },
    /// The encoded event is larger than [`HubConfig::max_event_bytes`].
    #[error("the event is {size} bytes encoded; the limit is {max}")]
    EventTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The event already has an id; the hub assigns ids (use
    /// [`Hub::publish_once`](super::Hub::publish_once) for an idempotency key).
    #[error("the hub assigns event ids; publish the event without one (use an idempotency key to de-duplicate)")]
    EventHasId,
    /// The backend cannot be reached; nothing was published.
    #[error("the event backend is unavailable: {0}")]
    Unavailable(String),
    /// The hub was shut down.
    #[error("the hub is shut down")]
    Closed,
    /// A Redis URL that cannot be used.
    #[error("invalid Redis URL: {0}")]
    InvalidUrl(String),
}

/// What [`Hub::publish_once`](super::Hub::publish_once) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The event's id.
    pub id: EventId,
    /// The idempotency key had been used before: nothing was published and `id` is the
    /// earlier event's.
    pub duplicate: bool,
}

/// Counters and gauges of a hub, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct HubStats {
    /// Topics known locally (with history or local subscribers).
    pub topics: usize,
    /// Local subscriptions.
    pub subscribers: usize,
    /// Events published through this instance.
    pub published: u64,
    /// Events handed to local subscribers' queues.
    pub delivered: u64,
    /// Events dropped from full queues ([`Overflow::DropOldest`]).
    pub dropped: u64,
    /// Subscriptions ended for overflowing ([`Overflow::Close`]).
    pub closed: u64,
}
