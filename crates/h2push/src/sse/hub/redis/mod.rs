//! The Redis Streams backend: several h2push instances share topics and history.
//!
//! This file owns everything that talks to Redis. Each topic is a stream; a Lua script
//! (`publish.lua`) numbers an event in the hub's single sequence (a Redis stream id
//! `ms-seq`, kept increasing across all topics in one `last` key), `XADD`s it, trims the
//! stream by count and age and records the newest trimmed id, so gaps are detected exactly.
//! One reader task per hub `XREAD BLOCK`s the streams of the topics that have local
//! subscribers — and only those — with one cursor for all of them, and fans entries out in
//! id order. A subscriber joins through the reader (between two reads), which tells it up to
//! where live delivery takes over; its replay is then read with `replay.lua` up to exactly
//! that id, so replay and live events meet without overlap or hole.
//!
//! A generation key identifies Redis's data set. If Redis comes back empty (restarted without
//! persistence, flushed), the generation changes: connected subscribers get a `backend` gap
//! and then whatever was published since; clients resuming with an id of the old generation
//! get an `epoch` gap and the history. Redis down: publishing fails at once with
//! [`HubError::Unavailable`](super::HubError::Unavailable); connected subscribers keep their
//! streams (heartbeats go on) and the reader reconnects with backoff (100 ms doubling to 5 s,
//! jittered), then delivers what was published meanwhile, or a gap if Redis lost it; new
//! subscribers are told to retry. Nothing here panics on Redis errors.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError, Script, Value};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

use self::reader::reader;
use self::reply::{parse_entries, text, Entries};
use super::id::{jitter, Epoch, EventId, Pos};
use super::memory::with_id;
use super::registry::Registry;
use super::subscriber::{GapReason, Stored, Sub};
use super::{Counters, HubConfig, HubError, Published, Resume};
use crate::sse::Event;

mod reader;
mod reply;

/// How the Redis backend connects and reads.
///
/// ```
/// use std::time::Duration;
/// use h2push::sse::hub::RedisOptions;
///
/// let options = RedisOptions {
///     key_prefix: "myapp:events".into(),
///     ..RedisOptions::default()
/// };
/// assert_eq!(options.command_timeout, Duration::from_secs(2));
/// ```
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// Prefix of every key, wrapped in `{}` so that all keys share one cluster slot
    /// [default: `h2push:sse`]. Hubs share topics when they share Redis and prefix.
    pub key_prefix: String,
    /// Time allowed to connect [default: 2 s].
    pub connect_timeout: Duration,
    /// Time allowed for one command [default: 2 s].
    pub command_timeout: Duration,
    /// How long one `XREAD` blocks when nothing arrives [default: 2 s].
    pub block: Duration,
    /// Entries read per stream and `XREAD` at most [default: 512].
    pub read_count: usize,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            key_prefix: "h2push:sse".into(),
            connect_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(2),
            block: Duration::from_secs(2),
            read_count: 512,
        }
    }
}

const PUBLISH: &str = include_str!("publish.lua");
const REPLAY: &str = include_str!("replay.lua");
const SYNC: &str = include_str!("sync.lua");
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How often a connected reader checks that Redis still has the same data set.
const GENERATION_CHECK: Duration = Duration::from_secs(2);

pub(crate) struct RedisBackend {
    client: Client,
    url: String,
    options: RedisOptions,
    keys: Keys,
    queue_len: usize,
    overflow: super::Overflow,
    history_len: usize,
    history_age_ms: u64,
    publish_script: Script,
    replay_script: Script,
    sync_script: Script,
    /// The command connection (publish, replay, unblock), made on demand.
    conn: tokio::sync::Mutex<Conn>,
    shared: Mutex<Shared>,
    /// Wakes the reader when it waits for topics.
    wake: Notify,
    stopped: AtomicBool,
    reader: Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
}

#[derive(Default)]
struct Conn {
    conn: Option<MultiplexedConnection>,
    /// No new attempt before this, after a failed one.
    retry_at: Option<Instant>,
    backoff: Duration,
    last_error: String,
}

#[derive(Default)]
struct Shared {
    registry: Registry,
    joins: Vec<Join>,
    /// Whether the reader is connected, and its view of the generation.
    connected: bool,
    generation: Option<Epoch>,
    /// The reader's `CLIENT ID`, while it may be blocked in `XREAD`.
    reader_id: Option<i64>,
    last_error: String,
}

struct Join {
    sub: Arc<Sub>,
    done: oneshot::Sender<Result<(Epoch, Pos), ()>>,
}

struct Keys {
    prefix: String,
}

impl Keys {
    fn generation(&self) -> String {
        format!("{}:gen", self.prefix)
    }
    fn last(&self) -> String {
        format!("{}:last", self.prefix)
    }
    fn stream(&self, topic: &str) -> String {
        format!("{}:s:{topic}", self.prefix)
    }
    fn meta(&self, topic: &str) -> String {
        format!("{}:m:{topic}", self.prefix)
    }
    fn idempotency(&self, topic: &str, key: &str) -> String {
        format!("{}:k:{}:{topic}:{key}", self.prefix, topic.len())
    }
    fn topic_of<'a>(&self, stream: &'a str) -> Option<&'a str> {
        stream
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix(":s:")
    }
}

impl RedisBackend {
    pub fn start(
        url: &str,
        config: &HubConfig,
        options: RedisOptions,
        counters: Arc<Counters>,
    ) -> Result<Arc<RedisBackend>, HubError> {
        let client = Client::open(url).map_err(|e| HubError::InvalidUrl(format!("{url}: {e}")))?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            HubError::Unavailable("the Redis hub must be started within a Tokio runtime".into())
        })?;
        let backend = Arc::new(RedisBackend {
            client,
            url: redact(url),
            keys: Keys {
                prefix: format!("{{{}}}", options.key_prefix),
            },
            options,
            queue_len: config.queue_len,
            overflow: config.overflow,
            history_len: config.history_len,
            history_age_ms: config
                .history_age
                .map_or(0, |a| a.as_millis().max(1) as u64),
            publish_script: Script::new(PUBLISH),
            replay_script: Script::new(REPLAY),
            sync_script: Script::new(SYNC),
            conn: tokio::sync::Mutex::new(Conn::default()),
            shared: Mutex::new(Shared::default()),
            wake: Notify::new(),
            stopped: AtomicBool::new(false),
            reader: Mutex::new(None),
            counters,
        });
        let task = runtime.spawn(reader(backend.clone()));
        *backend.reader.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        Ok(backend)
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.wake.notify_one();
        if let Some(task) = self.reader.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
        let joins = std::mem::take(&mut self.lock().joins);
        for j in joins {
            let _ = j.done.send(Err(()));
        }
    }

    pub fn is_available(&self) -> bool {
        self.lock().connected
    }

    pub fn subscribers(&self) -> Vec<Arc<Sub>> {
        self.lock().registry.all()
    }

    pub fn subscriber_count(&self) -> usize {
        self.lock().registry.subscriber_count()
    }

    pub fn counts(&self) -> (usize, usize) {
        let st = self.lock();
        (st.registry.topic_count(), st.registry.subscriber_count())
    }

    pub fn unsubscribe(&self, sub: &Sub) {
        self.lock().registry.unregister(sub);
    }

    fn unavailable(&self, what: &str, e: impl std::fmt::Display) -> HubError {
        HubError::Unavailable(format!("Redis at {} {what}: {e}", self.url))
    }

    /// A clone of the command connection, connecting if needed (not more often than the
    /// backoff allows).
    async fn connection(&self) -> Result<MultiplexedConnection, HubError> {
        let mut c = self.conn.lock().await;
        if let Some(conn) = &c.conn {
            return Ok(conn.clone());
        }
        if c.retry_at.is_some_and(|t| Instant::now() < t) {
            return Err(self.unavailable("is unreachable", &c.last_error));
        }
        match self.connect(self.options.command_timeout).await {
            Ok(conn) => {
                c.conn = Some(conn.clone());
                c.retry_at = None;
                c.backoff = Duration::ZERO;
                Ok(conn)
            }
            Err(e) => {
                c.backoff = (c.backoff * 2).clamp(BACKOFF_MIN, BACKOFF_MAX);
                c.retry_at = Some(Instant::now() + jitter(c.backoff, 0.2));
                c.last_error = e.to_string();
                Err(self.unavailable("is unreachable", e))
            }
        }
    }

    /// Forgets the command connection after `e` if `e` says it is broken.
    async fn failed(&self, e: &RedisError) {
        if e.is_io_error()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || e.is_timeout()
            || e.is_unrecoverable_error()
        {
            let mut c = self.conn.lock().await;
            c.conn = None;
            c.last_error = e.to_string();
        }
    }

    async fn connect(
        &self,
        response_timeout: Duration,
    ) -> Result<MultiplexedConnection, RedisError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(self.options.connect_timeout)
            .set_response_timeout(response_timeout);
        self.client
            .get_multiplexed_async_connection_with_config(&config)
            .await
    }

    pub async fn publish(
        &self,
        config: &HubConfig,
        topic: &str,
        event: &Event,
        key: Option<&str>,
    ) -> Result<Published, HubError> {
        let mut conn = self.connection().await?;
        let mut inv = self.publish_script.key(self.keys.generation());
        inv.key(self.keys.last())
            .key(self.keys.stream(topic))
            .key(self.keys.meta(topic))
            .key(self.keys.idempotency(topic, key.unwrap_or("")))
            .arg(Epoch::random().to_string())
            .arg(self.history_len)
            .arg(self.history_age_ms)
            .arg(
                config
                    .history_age
                    .map_or(3_600_000, |a| a.as_millis().max(1) as u64),
            )
            .arg(if key.is_some() { "1" } else { "0" });
        if let Some(e) = event.event_type() {
            inv.arg("e").arg(e);
        }
        if let Some(d) = event.payload() {
            inv.arg("d").arg(d);
        }
        if let Some(r) = event.reconnection_time() {
            inv.arg("r")
                .arg(u64::try_from(r.as_millis()).unwrap_or(u64::MAX));
        }
        if let Some(c) = event.comment_text() {
            inv.arg("c").arg(c);
        }
        let reply: Value = match inv.invoke_async(&mut conn).await {
            Ok(v) => v,
            Err(e) => {
                self.failed(&e).await;
                return Err(self.unavailable("did not take the event", e));
            }
        };
        let parsed = (|| {
            let Value::Array(items) = reply else {
                return None;
            };
            let generation = Epoch::parse(&text(items.first()?)?)?;
            let pos = Pos::parse(&text(items.get(1)?)?)?;
            let duplicate = matches!(items.get(2), Some(Value::Int(1)));
            Some(Published {
                id: EventId::new(generation, pos),
                duplicate,
            })
        })();
        parsed.ok_or_else(|| {
            self.unavailable("answered the publish script unexpectedly", "bad reply")
        })
    }

    /// Joins `sub` through the reader, then installs its replay.
    pub async fn subscribe(&self, sub: &Arc<Sub>, resume: Resume) -> Result<(), HubError> {
        let (tx, mut rx) = oneshot::channel();
        {
            let mut st = self.lock();
            if !st.connected {
                let why = st.last_error.clone();
                return Err(self.unavailable("is unreachable", why));
            }
            st.joins.push(Join {
                sub: sub.clone(),
                done: tx,
            });
        }
        self.wake.notify_one();
        // The reader may be blocked in XREAD: unblock it, again every 100 ms until it has
        // taken the join (an unblock can overtake the XREAD it was meant for).
        let deadline = Instant::now() + self.options.block + self.options.command_timeout * 2;
        let joined = loop {
            self.unblock_reader().await;
            match tokio::time::timeout(Duration::from_millis(100), &mut rx).await {
                Ok(Ok(r)) => break r,
                Ok(Err(_)) => break Err(()),
                Err(_) if Instant::now() > deadline => break Err(()),
                Err(_) => {}
            }
        };
        let (generation, upto) = joined.map_err(|()| {
            let why = self.lock().last_error.clone();
            self.unavailable("is unreachable", why)
        })?;
        let cursor = match resume {
            Resume::Live => return Ok(()),
            Resume::From(id) => Some((id.pos(), id.epoch_value())),
            Resume::Unknown => None,
        };
        self.replay(sub, generation, upto, cursor).await
    }

    async fn unblock_reader(&self) {
        let Some(id) = self.lock().reader_id else {
            return;
        };
        if let Ok(mut conn) = self.connection().await {
            let r: Result<Value, _> = redis::cmd("CLIENT")
                .arg("UNBLOCK")
                .arg(id)
                .query_async(&mut conn)
                .await;
            if let Err(e) = r {
                self.failed(&e).await;
            }
        }
    }

    async fn replay(
        &self,
        sub: &Arc<Sub>,
        generation: Epoch,
        upto: Pos,
        cursor: Option<(Pos, Epoch)>,
    ) -> Result<(), HubError> {
        let (pos, cursor_gen) = cursor.unwrap_or((Pos::ZERO, Epoch(0)));
        let reply = self.run_replay(&sub.topics, pos, cursor_gen, upto).await?;
        let (current, same, per_topic) = reply;
        if current != Some(generation) {
            // Redis lost its data after the reader last looked; the reader will send everyone
            // a gap once it notices. Replay nothing from a data set that is gone.
            sub.install_replay(
                Vec::new(),
                Some((
                    GapReason::Epoch,
                    sub.topics.to_vec(),
                    Some(EventId::new(generation, Pos::ZERO)),
                )),
            );
            return Ok(());
        }
        let mut events = Vec::new();
        let mut gap_topics = Vec::new();
        for (topic, (gap, entries)) in sub.topics.iter().zip(per_topic) {
            if gap || !same {
                gap_topics.push(topic.clone());
            }
            for (pos, fields) in entries {
                if let Some(stored) = self.stored(generation, topic.clone(), pos, &fields) {
                    events.push(stored);
                }
            }
        }
        let gap = if !same {
            Some((
                GapReason::Epoch,
                gap_topics,
                Some(EventId::new(generation, Pos::ZERO)),
            ))
        } else if !gap_topics.is_empty() {
            Some((GapReason::History, gap_topics, None))
        } else {
            None
        };
        sub.install_replay(events, gap);
        Ok(())
    }

    /// Runs `replay.lua` for `topics`: (generation, cursor in same generation, per topic
    /// (gap, entries)).
    #[allow(clippy::type_complexity)]
    async fn run_replay(
        &self,
        topics: &[Arc<str>],
        cursor: Pos,
        cursor_gen: Epoch,
        upto: Pos,
    ) -> Result<(Option<Epoch>, bool, Vec<(bool, Entries)>), HubError> {
        let mut conn = self.connection().await?;
        let mut inv = self.replay_script.key(self.keys.generation());
        for t in topics {
            inv.key(self.keys.stream(t)).key(self.keys.meta(t));
        }
        inv.arg(cursor.stream_id())
            .arg(cursor_gen.to_string())
            .arg(upto.stream_id())
            .arg(self.history_age_ms);
        let reply: Value = match inv.invoke_async(&mut conn).await {
            Ok(v) => v,
            Err(e) => {
                self.failed(&e).await;
                return Err(self.unavailable("could not replay history", e));
            }
        };
        let bad = || self.unavailable("answered the replay script unexpectedly", "bad reply");
        let Value::Array(items) = reply else {
            return Err(bad());
        };
        let mut items = items.into_iter();
        let generation = items
            .next()
            .and_then(|v| text(&v))
            .and_then(|g| Epoch::parse(&g));
        let same = matches!(items.next(), Some(Value::Int(1)));
        let mut per_topic = Vec::new();
        while let (Some(gap), Some(entries)) = (items.next(), items.next()) {
            per_topic.push((
                matches!(gap, Value::Int(1)),
                parse_entries(&entries).ok_or_else(bad)?,
            ));
        }
        if per_topic.len() != topics.len() {
            return Err(bad());
        }
        Ok((generation, same, per_topic))
    }

    /// Turns a stream entry into the event subscribers receive; `None` (and a warning) for an
    /// entry that h2push did not write.
    fn stored(
        &self,
        generation: Epoch,
        topic: Arc<str>,
        pos: Pos,
        fields: &[(String, String)],
    ) -> Option<Arc<Stored>> {
        let mut event = Event::no_data();
        let mut ok = true;
        for (name, value) in fields {
            match name.as_str() {
                "d" => {
                    let mut e = Event::data(value.clone());
                    if let Some(t) = event.event_type() {
                        e = e.event(t).ok()?;
                    }
                    if let Some(r) = event.reconnection_time() {
                        e = e.retry(r);
                    }
                    if let Some(c) = event.comment_text() {
                        e = e.comment(c);
                    }
                    event = e;
                }
                "e" => match event.clone().event(value.clone()) {
                    Ok(e) => event = e,
                    Err(_) => ok = false,
                },
                "r" => match value.parse::<u64>() {
                    Ok(ms) => event = event.retry(Duration::from_millis(ms)),
                    Err(_) => ok = false,
                },
                "c" => event = event.comment(value.clone()),
                _ => {}
            }
        }
        if !ok {
            tracing::warn!(%topic, id = %pos.stream_id(), "skipping a stream entry h2push cannot have written");
            return None;
        }
        let id = EventId::new(generation, pos);
        Some(Arc::new(Stored {
            pos,
            topic,
            bytes: with_id(&id, &event.encode()),
            at: Instant::now(),
        }))
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}
