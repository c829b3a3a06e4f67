//! The reader task: one per Redis hub, reading the topics that have local subscribers.
//!
//! This file owns the reader's loop: connecting (and reconnecting with backoff), checking the
//! data set's generation, taking joins between two reads (after bringing the topics being
//! read up to date when a new topic joins), `XREAD BLOCK` with one cursor for all topics,
//! and fanning entries out in id order. Publishing and replay are `mod.rs`'s.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{RedisError, Value};

use super::reply::{parse_entries, parse_xread, text, Entries};
use super::{RedisBackend, BACKOFF_MAX, BACKOFF_MIN, GENERATION_CHECK};
use crate::sse::hub::id::{jitter, Epoch, EventId, Pos};
use crate::sse::hub::subscriber::{GapReason, Stored};

/// The reader task: connects, reads the streams of the topics with local subscribers, fans
/// out, takes joins between reads, and reconnects with backoff.
pub(super) async fn reader(backend: Arc<RedisBackend>) {
    let mut backoff = Duration::ZERO;
    // The hub's cursor: every entry up to here, of every topic read, has been fanned out.
    let mut cursor = Pos::ZERO;
    let mut generation: Option<Epoch> = None;
    while !backend.stopped.load(Ordering::Acquire) {
        match read_until_error(&backend, &mut cursor, &mut generation, &mut backoff).await {
            Ok(()) => return,
            Err(e) => {
                let joins = {
                    let mut st = backend.lock();
                    if st.connected {
                        tracing::warn!(
                            "Redis at {} failed: {e}; subscribers keep their streams, reconnecting",
                            backend.url
                        );
                    }
                    st.connected = false;
                    st.reader_id = None;
                    st.last_error = e.to_string();
                    std::mem::take(&mut st.joins)
                };
                for j in joins {
                    let _ = j.done.send(Err(()));
                }
                backoff = (backoff * 2).clamp(BACKOFF_MIN, BACKOFF_MAX);
                tokio::time::sleep(jitter(backoff, 0.2)).await;
            }
        }
    }
}

async fn read_until_error(
    backend: &RedisBackend,
    cursor: &mut Pos,
    generation: &mut Option<Epoch>,
    backoff: &mut Duration,
) -> Result<(), RedisError> {
    let opts = &backend.options;
    let mut conn = backend.connect(opts.block + opts.command_timeout).await?;
    let client_id: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query_async(&mut conn)
        .await?;
    let current = check_generation(backend, &mut conn).await?;
    match *generation {
        None => {
            // First connection: live delivery starts with what is published from now on.
            let last: Option<String> = redis::cmd("GET")
                .arg(backend.keys.last())
                .query_async(&mut conn)
                .await?;
            *cursor = last.as_deref().and_then(Pos::parse).unwrap_or(Pos::ZERO);
        }
        Some(g) if g == current => {
            // Same data set: the next XREAD delivers what was published meanwhile; tell the
            // subscribers of topics whose history was trimmed past the cursor.
            let topics: Vec<Arc<str>> = backend.lock().registry.topics().cloned().collect();
            if !topics.is_empty() {
                if let Ok((_, _, per_topic)) =
                    backend.run_replay(&topics, *cursor, current, *cursor).await
                {
                    let st = backend.lock();
                    for (topic, (gap, _)) in topics.iter().zip(per_topic) {
                        if gap {
                            for sub in st.registry.subscribers_of(topic) {
                                sub.notify_gap(
                                    GapReason::Backend,
                                    std::slice::from_ref(topic),
                                    None,
                                );
                            }
                        }
                    }
                }
            }
        }
        Some(_) => {
            tracing::warn!(
                "Redis at {} has lost its data (new generation); subscribers get a gap",
                backend.url
            );
            let st = backend.lock();
            let topics: Vec<Arc<str>> = st.registry.topics().cloned().collect();
            for sub in st.registry.all() {
                let mine: Vec<Arc<str>> = topics
                    .iter()
                    .filter(|t| sub.topics.contains(t))
                    .cloned()
                    .collect();
                sub.notify_gap(
                    GapReason::Backend,
                    &mine,
                    Some(EventId::new(current, Pos::ZERO)),
                );
            }
            *cursor = Pos::ZERO;
        }
    }
    *generation = Some(current);
    {
        let mut st = backend.lock();
        st.connected = true;
        st.generation = Some(current);
        st.reader_id = Some(client_id);
    }
    *backoff = Duration::ZERO;
    tracing::info!("reading events from Redis at {}", backend.url);
    let mut checked = Instant::now();

    loop {
        if backend.stopped.load(Ordering::Acquire) {
            return Ok(());
        }
        if checked.elapsed() > GENERATION_CHECK {
            checked = Instant::now();
            if check_generation(backend, &mut conn).await? != current {
                return Err(RedisError::from((
                    redis::ErrorKind::ResponseError,
                    "the Redis data set changed (new generation)",
                )));
            }
        }
        // Take the joins between two reads. A join that brings a topic not read so far needs
        // the topics being read brought up to the hub's newest id first (sync.lua), so that
        // one cursor serves old and new topics alike.
        let (joins, active, needs_sync) = {
            let mut st = backend.lock();
            let joins = std::mem::take(&mut st.joins);
            let needs_sync = joins
                .iter()
                .any(|j| j.sub.topics.iter().any(|t| !st.registry.has(t)));
            let active: Vec<Arc<str>> = st.registry.topics().cloned().collect();
            (joins, active, needs_sync)
        };
        if needs_sync {
            match sync(backend, &mut conn, &active, *cursor).await {
                Ok((last, streams)) => {
                    deliver(backend, current, cursor, streams, true);
                    *cursor = (*cursor).max(last);
                }
                Err(e) => {
                    for j in joins {
                        let _ = j.done.send(Err(()));
                    }
                    return Err(e);
                }
            }
        }
        let (keys, notified) = {
            let mut st = backend.lock();
            for join in joins {
                let ok = st.registry.register(&join.sub);
                let _ = join
                    .done
                    .send(if ok { Ok((current, *cursor)) } else { Err(()) });
            }
            let keys: Vec<String> = st
                .registry
                .topics()
                .map(|t| backend.keys.stream(t))
                .collect();
            (keys, backend.wake.notified())
        };
        if keys.is_empty() {
            // Nothing to read: wait for a subscriber (or look at the generation now and then).
            let _ = tokio::time::timeout(GENERATION_CHECK, notified).await;
            continue;
        }
        drop(notified);
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT")
            .arg(opts.read_count)
            .arg("BLOCK")
            .arg(opts.block.as_millis() as u64)
            .arg("STREAMS")
            .arg(&keys);
        let start = cursor.stream_id();
        for _ in &keys {
            cmd.arg(&start);
        }
        let reply: Value = cmd.query_async(&mut conn).await?;
        let Some(streams) = parse_xread(&reply) else {
            tracing::warn!("unexpected XREAD reply from Redis; skipping it");
            continue;
        };
        deliver(backend, current, cursor, streams, false);
    }
}

/// Fans out one `XREAD` reply (or a `sync.lua` reply: `complete`) in id order and moves the
/// cursor. When a stream returned a full `COUNT`, entries past its last one may still be
/// unread in that stream, so delivery stops there (the rest comes with the next read) to
/// keep the order exact.
fn deliver(
    backend: &RedisBackend,
    generation: Epoch,
    cursor: &mut Pos,
    streams: Vec<(String, Entries)>,
    complete: bool,
) {
    let mut limit: Option<Pos> = None;
    let mut all = Vec::new();
    for (key, entries) in streams {
        let Some(topic) = backend.keys.topic_of(&key) else {
            continue;
        };
        if !complete && entries.len() >= backend.options.read_count {
            if let Some((last, _)) = entries.last() {
                limit = Some(limit.map_or(*last, |l: Pos| l.min(*last)));
            }
        }
        let topic: Arc<str> = Arc::from(topic);
        for (pos, fields) in entries {
            all.push((pos, topic.clone(), fields));
        }
    }
    all.sort_by_key(|(pos, _, _)| *pos);
    if let Some(limit) = limit {
        all.retain(|(pos, _, _)| *pos <= limit);
    }
    let Some((newest, _, _)) = all.last() else {
        return;
    };
    let newest = *newest;
    let events: Vec<Arc<Stored>> = all
        .into_iter()
        .filter_map(|(pos, topic, fields)| backend.stored(generation, topic, pos, &fields))
        .collect();
    let st = backend.lock();
    for event in &events {
        let n = st
            .registry
            .fan_out(event, backend.queue_len, backend.overflow);
        backend.counters.count(n);
    }
    *cursor = (*cursor).max(newest);
}

/// Runs `sync.lua` over the streams of `topics`: the hub's newest id, and each stream's
/// entries after `cursor` up to it.
async fn sync(
    backend: &RedisBackend,
    conn: &mut MultiplexedConnection,
    topics: &[Arc<str>],
    cursor: Pos,
) -> Result<(Pos, Vec<(String, Entries)>), RedisError> {
    let keys: Vec<String> = topics.iter().map(|t| backend.keys.stream(t)).collect();
    let mut inv = backend.sync_script.key(backend.keys.last());
    for k in &keys {
        inv.key(k);
    }
    inv.arg(cursor.stream_id());
    let reply: Value = inv.invoke_async(conn).await?;
    let bad = || {
        RedisError::from((
            redis::ErrorKind::ResponseError,
            "unexpected reply to sync.lua",
        ))
    };
    let Value::Array(items) = reply else {
        return Err(bad());
    };
    let mut items = items.into_iter();
    let last = items
        .next()
        .and_then(|v| text(&v))
        .and_then(|t| Pos::parse(&t))
        .ok_or_else(bad)?;
    let mut streams = Vec::with_capacity(keys.len());
    for key in keys {
        let entries = items
            .next()
            .as_ref()
            .and_then(parse_entries)
            .ok_or_else(bad)?;
        streams.push((key, entries));
    }
    Ok((last, streams))
}

/// The data set's generation, created if Redis has none (fresh or emptied).
async fn check_generation(
    backend: &RedisBackend,
    conn: &mut MultiplexedConnection,
) -> Result<Epoch, RedisError> {
    let key = backend.keys.generation();
    let candidate = Epoch::random().to_string();
    let _: Value = redis::cmd("SET")
        .arg(&key)
        .arg(&candidate)
        .arg("NX")
        .query_async(conn)
        .await?;
    let current: Option<String> = redis::cmd("GET").arg(&key).query_async(conn).await?;
    current.as_deref().and_then(Epoch::parse).ok_or_else(|| {
        RedisError::from((
            redis::ErrorKind::ResponseError,
            "the hub's generation key holds something else",
        ))
    })
}
