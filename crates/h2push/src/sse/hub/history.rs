//! The memory backend's per-topic history: bounded by count and by age.
//!
//! This file owns one topic's retained events and its "trimmed through" watermark (the
//! position of the newest event it has let go of), which is what makes gap detection exact:
//! a client resuming after position `p` missed events iff the watermark is past `p`. The
//! Redis backend keeps the same watermark in Redis (see `redis.rs`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::id::Pos;
use super::subscriber::Stored;

/// How much history each topic keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub len: usize,
    pub age: Option<Duration>,
}

#[derive(Debug, Default)]
pub(crate) struct History {
    events: VecDeque<Arc<Stored>>,
    /// The newest position no longer retained ([`Pos::ZERO`] when nothing was let go).
    trimmed: Pos,
}

impl History {
    /// An empty history that reports a gap to cursors before `trimmed` (a topic created anew
    /// after an older history of it was dropped).
    pub fn after(trimmed: Pos) -> History {
        History {
            events: VecDeque::new(),
            trimmed,
        }
    }

    /// Appends `event` (whose position is larger than every retained one) and trims.
    pub fn push(&mut self, event: Arc<Stored>, limits: Limits, now: Instant) {
        self.events.push_back(event);
        while self.events.len() > limits.len {
            self.pop_oldest();
        }
        self.expire(limits, now);
    }

    fn pop_oldest(&mut self) {
        if let Some(old) = self.events.pop_front() {
            self.trimmed = self.trimmed.max(old.pos);
        }
    }

    /// Lets go of events older than the age limit.
    pub fn expire(&mut self, limits: Limits, now: Instant) {
        let Some(age) = limits.age else { return };
        while self
            .events
            .front()
            .is_some_and(|e| now.saturating_duration_since(e.at) > age)
        {
            self.pop_oldest();
        }
    }

    /// The retained events after `cursor`, and whether some event after `cursor` is no
    /// longer retained (a gap).
    pub fn since(&mut self, cursor: Pos, limits: Limits, now: Instant) -> (Vec<Arc<Stored>>, bool) {
        self.expire(limits, now);
        let start = self.events.partition_point(|e| e.pos <= cursor);
        let events = self.events.range(start..).cloned().collect();
        (events, self.trimmed > cursor)
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn trimmed(&self) -> Pos {
        self.trimmed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn ev(n: u64, at: Instant) -> Arc<Stored> {
        Arc::new(Stored {
            pos: Pos::new(n, 0),
            topic: Arc::from("t"),
            bytes: Bytes::from(format!("id: {n}\n\n")),
            at,
        })
    }

    fn positions(events: &[Arc<Stored>]) -> Vec<u64> {
        events.iter().map(|e| e.pos.hi).collect()
    }

    #[test]
    fn count_limit_moves_the_watermark() {
        let now = Instant::now();
        let limits = Limits { len: 3, age: None };
        let mut h = History::default();
        for n in [2, 4, 6, 8, 10] {
            h.push(ev(n, now), limits, now);
        }
        assert_eq!(h.trimmed(), Pos::new(4, 0));
        let (events, gap) = h.since(Pos::new(4, 0), limits, now);
        assert_eq!((positions(&events), gap), (vec![6, 8, 10], false));
        // 4 was trimmed, and it comes after 3.
        let (events, gap) = h.since(Pos::new(3, 0), limits, now);
        assert_eq!((positions(&events), gap), (vec![6, 8, 10], true));
        let (events, gap) = h.since(Pos::new(10, 0), limits, now);
        assert_eq!((positions(&events), gap), (vec![], false));
    }

    #[test]
    fn age_limit_expires_old_events() {
        let t0 = Instant::now();
        let limits = Limits {
            len: 100,
            age: Some(Duration::from_secs(60)),
        };
        let mut h = History::default();
        h.push(ev(1, t0), limits, t0);
        h.push(
            ev(2, t0 + Duration::from_secs(30)),
            limits,
            t0 + Duration::from_secs(30),
        );
        let later = t0 + Duration::from_secs(61);
        let (events, gap) = h.since(Pos::ZERO, limits, later);
        assert_eq!((positions(&events), gap), (vec![2], true));
        let (_, gap) = h.since(Pos::new(1, 0), limits, later);
        assert!(!gap);
        let (events, gap) = h.since(Pos::new(1, 0), limits, t0 + Duration::from_secs(100));
        assert_eq!((positions(&events), gap), (vec![], true));
        assert!(h.is_empty());
    }
}
