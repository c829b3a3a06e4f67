//! The in-memory backend: one process, one sequence, one lock.
//!
//! This file owns the memory hub's state: the position counter, each topic's [`History`],
//! the idempotency keys, and the local [`Registry`]. Everything happens under one mutex, held
//! for the time it takes to number an event, append it to its history and push a pointer to
//! it into each subscriber's queue (never waiting for one). That single lock is what makes
//! positions globally ordered and lets a subscriber to several topics join atomically: its
//! replay and its live events never overlap or leave a hole.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};

use super::history::{History, Limits};
use super::id::{Epoch, EventId, Pos};
use super::registry::{FanOut, Registry};
use super::subscriber::{GapReason, Stored, Sub};
use super::{HubConfig, HubError, Published, Resume};

/// How often idle topics and old idempotency keys are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(10);
/// Idempotency keys remembered at most.
const MAX_KEYS: usize = 100_000;

pub(crate) struct Memory {
    epoch: Epoch,
    state: Mutex<State>,
}

struct State {
    seq: u64,
    registry: Registry,
    history: HashMap<Arc<str>, History>,
    /// The newest trimmed position of topics whose history was dropped altogether.
    forgotten: Pos,
    keys: HashMap<(Arc<str>, String), (EventId, Instant)>,
    key_order: VecDeque<((Arc<str>, String), Instant)>,
    last_sweep: Instant,
}

impl Memory {
    pub fn new() -> Memory {
        Memory {
            epoch: Epoch::random(),
            state: Mutex::new(State {
                seq: 0,
                registry: Registry::default(),
                history: HashMap::new(),
                forgotten: Pos::ZERO,
                keys: HashMap::new(),
                key_order: VecDeque::new(),
                last_sweep: Instant::now(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Numbers, stores and fans out one event. `body` is the event block without its `id:`.
    pub fn publish(
        &self,
        config: &HubConfig,
        topic: &str,
        body: &Bytes,
        key: Option<&str>,
    ) -> Result<(Published, FanOut), HubError> {
        let now = Instant::now();
        let limits = limits(config);
        let mut st = self.lock();
        let st = &mut *st;
        if let Some(key) = key {
            if let Some((id, _)) = st.keys.get(&(Arc::from(topic), key.to_owned())) {
                return Ok((
                    Published {
                        id: *id,
                        duplicate: true,
                    },
                    FanOut::default(),
                ));
            }
        }
        let topic: Arc<str> = match st.history.get_key_value(topic) {
            Some((name, _)) => name.clone(),
            None => {
                if st.history.len() >= config.max_topics {
                    sweep(st, limits, now, config);
                    if st.history.len() >= config.max_topics {
                        return Err(HubError::HubFull {
                            max: config.max_topics,
                        });
                    }
                }
                let name: Arc<str> = Arc::from(topic);
                let fresh = History::after(st.forgotten);
                st.history.insert(name.clone(), fresh);
                name
            }
        };
        st.seq += 1;
        let pos = Pos::new(st.seq, 0);
        let id = EventId::new(self.epoch, pos);
        let stored = Arc::new(Stored {
            pos,
            topic: topic.clone(),
            bytes: with_id(&id, body),
            at: now,
        });
        if let Some(h) = st.history.get_mut(&topic) {
            h.push(stored.clone(), limits, now);
        }
        let n = st
            .registry
            .fan_out(&stored, config.queue_len, config.overflow);
        if let Some(key) = key {
            remember_key(st, topic, key, id, now, config);
        }
        if now.duration_since(st.last_sweep) > SWEEP_EVERY {
            sweep(st, limits, now, config);
        }
        Ok((
            Published {
                id,
                duplicate: false,
            },
            n,
        ))
    }

    /// Registers `sub` and installs its replay, atomically with respect to publishing.
    pub fn subscribe(&self, config: &HubConfig, sub: &Arc<Sub>, resume: Resume) {
        let now = Instant::now();
        let limits = limits(config);
        let mut st = self.lock();
        let st = &mut *st;
        let (cursor, mut reason) = match resume {
            Resume::Live => (None, None),
            Resume::From(id) if id.epoch_value() == self.epoch => (Some(id.pos()), None),
            Resume::From(_) | Resume::Unknown => (Some(Pos::ZERO), Some(GapReason::Epoch)),
        };
        let mut replay = Vec::new();
        let mut gap_topics = Vec::new();
        if let Some(cursor) = cursor {
            for topic in sub.topics.iter() {
                let gap = match st.history.get_mut(topic) {
                    Some(h) => {
                        let (events, gap) = h.since(cursor, limits, now);
                        replay.extend(events);
                        gap
                    }
                    None => st.forgotten > cursor,
                };
                if gap || reason == Some(GapReason::Epoch) {
                    gap_topics.push(topic.clone());
                }
            }
            if !gap_topics.is_empty() && reason.is_none() {
                reason = Some(GapReason::History);
            }
        }
        st.registry.register(sub);
        let gap = reason.map(|r| {
            let id = (r == GapReason::Epoch).then(|| EventId::new(self.epoch, Pos::ZERO));
            (r, gap_topics, id)
        });
        sub.install_replay(replay, gap);
    }

    pub fn unsubscribe(&self, sub: &Sub) {
        self.lock().registry.unregister(sub);
    }

    /// Every registered subscriber.
    pub fn subscribers(&self) -> Vec<Arc<Sub>> {
        self.lock().registry.all()
    }

    /// (topics with history or subscribers, subscribers)
    pub fn subscriber_count(&self) -> usize {
        self.lock().registry.subscriber_count()
    }

    pub fn counts(&self) -> (usize, usize) {
        let st = self.lock();
        let mut topics = st.history.len();
        topics += st
            .registry
            .topics()
            .filter(|t| !st.history.contains_key(*t))
            .count();
        (topics, st.registry.subscriber_count())
    }
}

fn limits(config: &HubConfig) -> Limits {
    Limits {
        len: config.history_len,
        age: config.history_age,
    }
}

/// `id: ID` followed by the rest of the event block.
pub(crate) fn with_id(id: &EventId, body: &Bytes) -> Bytes {
    let id = id.to_string();
    let mut buf = BytesMut::with_capacity(id.len() + 5 + body.len());
    buf.put_slice(b"id: ");
    buf.put_slice(id.as_bytes());
    buf.put_u8(b'\n');
    buf.put_slice(body);
    buf.freeze()
}

fn remember_key(
    st: &mut State,
    topic: Arc<str>,
    key: &str,
    id: EventId,
    now: Instant,
    config: &HubConfig,
) {
    let k = (topic, key.to_owned());
    st.keys.insert(k.clone(), (id, now));
    st.key_order.push_back((k, now));
    let ttl = config.history_age.unwrap_or(Duration::from_secs(3600));
    while let Some((k, at)) = st.key_order.front() {
        if st.key_order.len() <= MAX_KEYS && now.duration_since(*at) <= ttl {
            break;
        }
        if st.keys.get(k).is_some_and(|(_, t)| t == at) {
            st.keys.remove(k);
        }
        st.key_order.pop_front();
    }
}

/// Expires old history and drops topics left with neither history nor subscribers.
fn sweep(st: &mut State, limits: Limits, now: Instant, config: &HubConfig) {
    st.last_sweep = now;
    let State {
        history,
        registry,
        forgotten,
        ..
    } = st;
    history.retain(|topic, h| {
        h.expire(limits, now);
        let keep = !h.is_empty() || registry.has(topic);
        if !keep {
            *forgotten = (*forgotten).max(h.trimmed());
        }
        keep
    });
    let ttl = config.history_age.unwrap_or(Duration::from_secs(3600));
    while let Some((k, at)) = st.key_order.front() {
        if now.duration_since(*at) <= ttl {
            break;
        }
        if st.keys.get(k).is_some_and(|(_, t)| t == at) {
            st.keys.remove(k);
        }
        st.key_order.pop_front();
    }
}
