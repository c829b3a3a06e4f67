//! Who is subscribed to what, on this instance: the fan-out table.
//!
//! This file owns the map from a topic to its local subscribers and the fan-out loop that
//! hands one stored event to each of them. It does not know where events come from (the
//! memory backend calls it while publishing, the Redis backend's reader while reading) and it
//! is always used under its backend's lock, which is what keeps fan-out in position order.

use std::collections::HashMap;
use std::sync::Arc;

use slab::Slab;

use super::subscriber::{Overflow, Pushed, Stored, Sub};

/// Counts of one fan-out.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FanOut {
    pub delivered: u64,
    pub dropped: u64,
    pub closed: u64,
}

#[derive(Default)]
pub(crate) struct Registry {
    topics: HashMap<Arc<str>, Slab<Arc<Sub>>>,
    subscribers: usize,
}

impl Registry {
    /// Adds `sub` to each of its topics, unless its consumer is already gone. Returns whether
    /// it was added.
    pub fn register(&mut self, sub: &Arc<Sub>) -> bool {
        if sub.is_dropped() {
            return false;
        }
        let keys: Box<[usize]> = sub
            .topics
            .iter()
            .map(|t| {
                self.topics
                    .entry(t.clone())
                    .or_default()
                    .insert(sub.clone())
            })
            .collect();
        sub.set_keys(keys);
        self.subscribers += 1;
        true
    }

    /// Removes `sub` (its consumer is gone). Topics left without subscribers are forgotten.
    pub fn unregister(&mut self, sub: &Sub) {
        let Some(keys) = sub.take_keys_for_drop() else {
            return;
        };
        self.subscribers -= 1;
        for (topic, key) in sub.topics.iter().zip(keys.iter()) {
            if let Some(slab) = self.topics.get_mut(topic) {
                if slab.contains(*key) {
                    slab.remove(*key);
                }
                if slab.is_empty() {
                    self.topics.remove(topic);
                }
            }
        }
    }

    /// Hands `event` to every local subscriber of its topic. Never waits.
    pub fn fan_out(&self, event: &Arc<Stored>, cap: usize, overflow: Overflow) -> FanOut {
        let mut n = FanOut::default();
        if let Some(subs) = self.topics.get(&event.topic) {
            for (_, sub) in subs {
                match sub.push(event, cap, overflow) {
                    Pushed::Queued => n.delivered += 1,
                    Pushed::DroppedOldest => {
                        n.delivered += 1;
                        n.dropped += 1;
                    }
                    Pushed::Closed => n.closed += 1,
                    Pushed::Ignored => {}
                }
            }
        }
        n
    }

    /// The topics with at least one local subscriber.
    pub fn topics(&self) -> impl Iterator<Item = &Arc<str>> {
        self.topics.keys()
    }

    /// Whether `topic` has a local subscriber.
    pub fn has(&self, topic: &str) -> bool {
        self.topics.contains_key(topic)
    }

    /// The local subscribers of `topic`.
    pub fn subscribers_of(&self, topic: &str) -> impl Iterator<Item = &Arc<Sub>> {
        self.topics
            .get(topic)
            .into_iter()
            .flat_map(|s| s.iter().map(|(_, sub)| sub))
    }

    /// Every registered subscriber, once each.
    pub fn all(&self) -> Vec<Arc<Sub>> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(self.subscribers);
        for slab in self.topics.values() {
            for (_, sub) in slab {
                if seen.insert(Arc::as_ptr(sub)) {
                    out.push(sub.clone());
                }
            }
        }
        out
    }

    pub fn subscriber_count(&self) -> usize {
        self.subscribers
    }

    pub fn topic_count(&self) -> usize {
        self.topics.len()
    }
}
