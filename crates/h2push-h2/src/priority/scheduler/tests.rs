//! The scheduler's order (RFC 9218 §10) on page-load scenarios, and property tests against a
//! plain reference model: random operation sequences never panic, the scheduler picks what
//! the model picks at every step, and every ready stream is eventually served.

use std::collections::VecDeque;

use proptest::prelude::*;

use super::{Place, Scheduler, NIL};
use crate::frame::StreamId;
use crate::priority::Priority;

impl Scheduler {
    /// The capacity of every table, to show that none grows; for tests.
    fn capacities(&self) -> Vec<usize> {
        let mut c = vec![
            self.slots.capacity(),
            self.free.capacity(),
            self.index.capacity(),
        ];
        c.extend(self.levels.iter().map(|l| l.heap.capacity()));
        c
    }

    /// Checks every internal link and the busy mask; for tests.
    fn check(&self) {
        let mut ready = 0;
        for (u, level) in self.levels.iter().enumerate() {
            for (pos, &n) in level.heap.iter().enumerate() {
                let s = &self.slots[n as usize];
                assert_eq!(s.place, Place::Heap(pos as u32));
                assert_eq!(s.priority.urgency as usize, u);
                assert!(!s.priority.incremental);
                if pos > 0 {
                    assert!(self.key(u, (pos - 1) / 2) < s.id, "heap order");
                }
                ready += 1;
            }
            if level.head != NIL {
                let mut n = level.head;
                loop {
                    let s = &self.slots[n as usize];
                    let Place::Ring { next, .. } = s.place else {
                        panic!("ring member not in ring")
                    };
                    let Place::Ring { prev, .. } = self.slots[next as usize].place else {
                        panic!("ring link")
                    };
                    assert_eq!(prev, n);
                    assert_eq!(s.priority.urgency as usize, u);
                    assert!(s.priority.incremental);
                    ready += 1;
                    n = next;
                    if n == level.head {
                        break;
                    }
                }
            }
            let has = !level.heap.is_empty() || level.head != NIL;
            assert_eq!(self.busy & (1 << u) != 0, has, "busy bit {u}");
        }
        let marked = self
            .index
            .values()
            .filter(|&&n| self.slots[n as usize].place != Place::Idle)
            .count();
        assert_eq!(ready, marked);
        for (&id, &n) in &self.index {
            assert_eq!(self.slots[n as usize].id, id);
        }
        assert_eq!(self.index.len() + self.free.len(), self.slots.len());
    }
}

fn sid(n: u32) -> StreamId {
    StreamId::new(n)
}

fn ready(s: &mut Scheduler, n: u32, p: Priority) {
    s.insert(sid(n), p);
    s.set_ready(sid(n), true);
}

/// Serves `s` until nothing is ready: each pick writes one `frame` and a stream is removed
/// after `frames(id)` writes. Returns the picks in order.
fn drain(s: &mut Scheduler, frame: usize, mut frames: impl FnMut(u32) -> u32) -> Vec<u32> {
    let mut left = std::collections::HashMap::new();
    let mut order = Vec::new();
    while let Some(id) = s.next() {
        let n = u32::from(id);
        order.push(n);
        let l = left.entry(n).or_insert_with(|| frames(n));
        *l -= 1;
        if *l == 0 {
            s.remove(id);
        } else {
            s.sent(id, frame);
        }
        s.check();
        assert!(order.len() < 10_000, "drain does not end");
    }
    order
}

#[test]
fn s10_lower_urgency_first_css_before_image() {
    let mut s = Scheduler::new();
    ready(&mut s, 1, Priority::new(4, true)); // image, requested first
    ready(&mut s, 3, Priority::new(1, false)); // CSS
    ready(&mut s, 5, Priority::new(0, true)); // the document (as Chromium marks it)
    ready(&mut s, 7, Priority::new(7, false)); // background
    assert_eq!(drain(&mut s, 16_384, |_| 1), [5, 3, 1, 7]);
}

#[test]
fn s10_non_incremental_served_one_at_a_time_in_id_order() {
    let mut s = Scheduler::new();
    for n in [9, 3, 5] {
        ready(&mut s, n, Priority::new(2, false)); // scripts
    }
    // Each takes 3 frames and gets all the bandwidth until it is done.
    assert_eq!(drain(&mut s, 16_384, |_| 3), [3, 3, 3, 5, 5, 5, 9, 9, 9]);
}

#[test]
fn s10_incremental_streams_interleave_round_robin() {
    let mut s = Scheduler::new();
    for n in [1, 3, 5] {
        ready(&mut s, n, Priority::new(4, true)); // images
    }
    assert_eq!(
        drain(&mut s, 16_384, |n| if n == 3 { 1 } else { 3 }),
        [1, 3, 5, 1, 5, 1, 5]
    );
}

#[test]
fn round_robin_counts_bytes_not_frames() {
    let mut s = Scheduler::with_quantum(16_384);
    ready(&mut s, 1, Priority::new(4, true));
    ready(&mut s, 3, Priority::new(4, true));
    // Small frames (a narrow window): 1 keeps its turn until 16 KiB are written.
    for _ in 0..3 {
        assert_eq!(s.next(), Some(sid(1)));
        s.sent(sid(1), 5_000);
    }
    assert_eq!(s.next(), Some(sid(1)));
    s.sent(sid(1), 5_000);
    assert_eq!(s.next(), Some(sid(3)));
}

#[test]
fn non_incremental_before_incremental_at_one_urgency() {
    let mut s = Scheduler::new();
    ready(&mut s, 1, Priority::new(3, true));
    ready(&mut s, 3, Priority::new(3, false));
    ready(&mut s, 5, Priority::new(3, true));
    ready(&mut s, 7, Priority::new(3, false));
    assert_eq!(drain(&mut s, 16_384, |_| 2), [3, 3, 7, 7, 1, 5, 1, 5]);
}

#[test]
fn a_more_urgent_stream_preempts_when_it_becomes_ready() {
    let mut s = Scheduler::new();
    ready(&mut s, 1, Priority::new(4, false));
    s.insert(sid(3), Priority::new(1, false));
    assert_eq!(s.next(), Some(sid(1)));
    s.set_ready(sid(3), true);
    assert_eq!(s.next(), Some(sid(3)));
    s.set_ready(sid(3), false); // window exhausted: the lower urgency goes on
    assert_eq!(s.next(), Some(sid(1)));
}

#[test]
fn s7_s8_reprioritising_moves_a_ready_stream() {
    let mut s = Scheduler::new();
    ready(&mut s, 1, Priority::new(3, false));
    ready(&mut s, 3, Priority::new(4, true));
    ready(&mut s, 5, Priority::new(4, true));
    assert_eq!(s.next(), Some(sid(1)));
    // The server promotes 5 (§8), then makes it non-incremental.
    s.update(sid(5), Priority::new(1, true));
    assert_eq!(s.next(), Some(sid(5)));
    s.update(sid(5), Priority::new(1, false));
    assert_eq!(s.next(), Some(sid(5)));
    // A client update demotes 1 below 3 (§7).
    s.update(sid(1), Priority::new(6, false));
    s.remove(sid(5));
    assert_eq!(s.next(), Some(sid(3)));
    s.check();
}

#[test]
fn pushed_streams_take_the_priority_the_caller_gives() {
    let mut s = Scheduler::new();
    ready(&mut s, 1, Priority::new(0, true)); // the document
                                              // A push of CSS: the caller chooses u=1 (not the parent's u=0).
    ready(&mut s, 2, Priority::new(1, false));
    // A push of an image: inherits its parent's priority.
    let parent = s.priority(sid(1)).unwrap();
    ready(&mut s, 4, parent);
    assert_eq!(drain(&mut s, 16_384, |_| 2), [1, 4, 1, 4, 2, 2]);
}

#[test]
fn ready_again_keeps_place_and_unknown_ids_are_refused() {
    let mut s = Scheduler::new();
    ready(&mut s, 1, Priority::new(4, true));
    ready(&mut s, 3, Priority::new(4, true));
    assert!(s.set_ready(sid(1), true)); // no change: still 1's turn
    assert_eq!(s.next(), Some(sid(1)));
    assert!(!s.set_ready(sid(99), true));
    assert!(!s.update(sid(99), Priority::DEFAULT));
    assert_eq!(s.remove(sid(99)), None);
    s.sent(sid(99), 1);
    s.check();
}

#[test]
fn urgency_above_seven_is_seven() {
    let mut s = Scheduler::new();
    ready(
        &mut s,
        1,
        Priority {
            urgency: 200,
            incremental: false,
        },
    );
    ready(&mut s, 3, Priority::new(7, false));
    assert_eq!(s.priority(sid(1)), Some(Priority::new(7, false)));
    assert_eq!(drain(&mut s, 1, |_| 1), [1, 3]);
}

#[test]
fn no_allocation_in_steady_state() {
    let mut s = Scheduler::new();
    let mut id = 1;
    let round = |s: &mut Scheduler, id: &mut u32| {
        for k in 0..64u32 {
            let p = Priority::new((k % 8) as u8, k % 3 == 0);
            ready(s, *id + 2 * k, p);
        }
        drain(s, 16_384, |n| n % 4 + 1);
        *id += 128;
    };
    round(&mut s, &mut id);
    let caps = s.capacities();
    for _ in 0..20 {
        round(&mut s, &mut id);
    }
    assert_eq!(caps, s.capacities());
}

/// The reference: plain vectors, every choice by linear search.
#[derive(Default)]
struct Model {
    streams: Vec<(u32, Priority, bool, u32)>, // id, priority, ready, credit
    rings: [VecDeque<u32>; 8],
    quantum: u32,
}

impl Model {
    fn find(&mut self, id: u32) -> Option<usize> {
        self.streams.iter().position(|s| s.0 == id)
    }
    fn unready(&mut self, i: usize) {
        let (id, p, r, _) = self.streams[i];
        if r && p.incremental {
            self.rings[p.urgency as usize].retain(|&x| x != id);
        }
        self.streams[i].2 = false;
    }
    fn make_ready(&mut self, i: usize) {
        let (id, p, r, _) = self.streams[i];
        if !r {
            self.streams[i].2 = true;
            self.streams[i].3 = 0;
            if p.incremental {
                self.rings[p.urgency as usize].push_back(id);
            }
        }
    }
    fn insert(&mut self, id: u32, p: Priority) {
        let p = Priority::new(p.urgency.min(7), p.incremental);
        match self.find(id) {
            Some(_) => self.update(id, p),
            None => self.streams.push((id, p, false, 0)),
        }
    }
    fn update(&mut self, id: u32, p: Priority) {
        let p = Priority::new(p.urgency.min(7), p.incremental);
        if let Some(i) = self.find(id) {
            if self.streams[i].1 != p {
                let was = self.streams[i].2;
                self.unready(i);
                self.streams[i].1 = p;
                if was {
                    self.make_ready(i);
                }
            }
        }
    }
    fn set_ready(&mut self, id: u32, r: bool) {
        if let Some(i) = self.find(id) {
            if r {
                self.make_ready(i);
            } else {
                self.unready(i);
            }
        }
    }
    fn remove(&mut self, id: u32) {
        if let Some(i) = self.find(id) {
            self.unready(i);
            self.streams.remove(i);
        }
    }
    fn sent(&mut self, id: u32, bytes: u32) {
        if let Some(i) = self.find(id) {
            let (_, p, r, credit) = self.streams[i];
            if r && p.incremental {
                let c = credit.saturating_add(bytes);
                if c >= self.quantum {
                    self.streams[i].3 = 0;
                    let ring = &mut self.rings[p.urgency as usize];
                    ring.retain(|&x| x != id);
                    ring.push_back(id);
                } else {
                    self.streams[i].3 = c;
                }
            }
        }
    }
    fn next(&self) -> Option<u32> {
        for u in 0..8u8 {
            let first = self
                .streams
                .iter()
                .filter(|s| s.2 && s.1.urgency == u && !s.1.incremental)
                .map(|s| s.0)
                .min();
            if first.is_some() {
                return first;
            }
            if let Some(&id) = self.rings[u as usize].front() {
                return Some(id);
            }
        }
        None
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u32, u8, bool),
    Ready(u32, bool),
    Update(u32, u8, bool),
    Remove(u32),
    Sent(u32, u32),
    SendNext(u32),
}

fn op() -> impl Strategy<Value = Op> {
    // Few ids, so operations often meet the same streams; urgencies up to 9 to include
    // out-of-range ones.
    let id = (0u32..24).prop_map(|n| 2 * n + 1);
    prop_oneof![
        (id.clone(), 0u8..10, any::<bool>()).prop_map(|(i, u, inc)| Op::Insert(i, u, inc)),
        (id.clone(), any::<bool>()).prop_map(|(i, r)| Op::Ready(i, r)),
        (id.clone(), 0u8..10, any::<bool>()).prop_map(|(i, u, inc)| Op::Update(i, u, inc)),
        id.clone().prop_map(Op::Remove),
        (id, 0u32..3000).prop_map(|(i, b)| Op::Sent(i, b)),
        (0u32..3000).prop_map(Op::SendNext),
    ]
}

fn apply(s: &mut Scheduler, m: &mut Model, op: &Op) {
    let pr = |u: u8, i: bool| Priority {
        urgency: u,
        incremental: i,
    };
    match *op {
        Op::Insert(id, u, i) => {
            s.insert(sid(id), pr(u, i));
            m.insert(id, pr(u, i));
        }
        Op::Ready(id, r) => {
            s.set_ready(sid(id), r);
            m.set_ready(id, r);
        }
        Op::Update(id, u, i) => {
            s.update(sid(id), pr(u, i));
            m.update(id, pr(u, i));
        }
        Op::Remove(id) => {
            s.remove(sid(id));
            m.remove(id);
        }
        Op::Sent(id, b) => {
            s.sent(sid(id), b as usize);
            m.sent(id, b);
        }
        Op::SendNext(b) => {
            if let Some(id) = s.next() {
                s.sent(id, b as usize);
                m.sent(u32::from(id), b);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn matches_the_model_and_never_panics(ops in prop::collection::vec(op(), 0..200)) {
        let quantum = 1000;
        let mut s = Scheduler::with_quantum(quantum);
        let mut m = Model { quantum, ..Model::default() };
        for op in &ops {
            apply(&mut s, &mut m, op);
            s.check();
            prop_assert_eq!(s.next().map(u32::from), m.next(), "after {:?}", op);
            prop_assert_eq!(s.len(), m.streams.len());
        }
    }

    #[test]
    fn every_ready_stream_is_eventually_served(
        ops in prop::collection::vec(op(), 0..200),
        frames in 1u32..6,
    ) {
        let mut s = Scheduler::with_quantum(1000);
        let mut m = Model { quantum: 1000, ..Model::default() };
        for op in &ops {
            apply(&mut s, &mut m, op);
        }
        let waiting: Vec<u32> = (0..24)
            .map(|n| 2 * n + 1)
            .filter(|&n| s.is_ready(sid(n)))
            .collect();
        // Serve full frames: each stream is done after `frames` picks.
        let order = drain(&mut s, 1000, |_| frames);
        for n in &waiting {
            prop_assert_eq!(order.iter().filter(|&&x| x == *n).count() as u32, frames);
        }
        prop_assert_eq!(order.len() as u32, frames * waiting.len() as u32);
        // Picks never go back to a more urgent level once it is empty (no new streams came),
        // and within a level all non-incremental streams come before the incremental ones.
        let keyed: Vec<(u8, bool)> = order
            .iter()
            .map(|&n| {
                let p = ops_priority(&ops, n);
                (p.urgency.min(7), p.incremental)
            })
            .collect();
        prop_assert!(keyed.windows(2).all(|w| w[0] <= w[1]), "{:?}", keyed);
    }

    #[test]
    fn incremental_streams_of_one_urgency_alternate(n in 2u32..12, frames in 1u32..5) {
        let mut s = Scheduler::with_quantum(1000);
        for k in 0..n {
            ready(&mut s, 2 * k + 1, Priority::new(5, true));
        }
        let order = drain(&mut s, 1000, |_| frames);
        // Round robin: round r visits every stream once, in the order they became ready.
        let expect: Vec<u32> = (0..frames).flat_map(|_| (0..n).map(|k| 2 * k + 1)).collect();
        prop_assert_eq!(order, expect);
    }
}

/// The priority stream `n` ends up with after `ops` (the last insert or update), clamped.
fn ops_priority(ops: &[Op], n: u32) -> Priority {
    let mut p: Option<Priority> = None;
    for op in ops {
        match *op {
            Op::Insert(id, u, i) if id == n => p = Some(Priority::new(u.min(7), i)),
            Op::Update(id, u, i) if id == n && p.is_some() => {
                p = Some(Priority::new(u.min(7), i));
            }
            Op::Remove(id) if id == n => p = None,
            _ => {}
        }
    }
    p.unwrap_or(Priority::DEFAULT)
}
