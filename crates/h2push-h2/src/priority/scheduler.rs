//! The order the connection writes streams' HEADERS and DATA in (RFC 9218 §10).
//!
//! This file owns the choice of the next stream to write among those with something ready:
//! lower urgency first; within an urgency, the non-incremental streams one at a time in
//! stream-id order, then the incremental ones in byte-counted round robin. It does not know
//! why a stream is or is not ready (data, flow-control windows and closing are `state`'s and
//! the connection's) nor what a stream's priority should be (see
//! [`StreamPriority`](super::StreamPriority)); control frames on stream 0 are the
//! connection's to send before any of these.
//!
//! Why non-incremental before incremental at one urgency: a non-incremental response is of
//! no use until complete (§4.2), so each byte given to it brings its completion forward,
//! while an incremental one (an image drawn progressively) is already useful in part and
//! loses little by waiting; and §10 asks that non-incremental responses of one urgency be
//! served one by one, which sharing with incremental ones would break. quiche orders
//! them the same way.
//!
//! Cost: a slab of entries with an id index; per urgency a binary min-heap of the ready
//! non-incremental streams (by stream id) and a circular list of the ready incremental ones;
//! a bit mask of the urgencies with a ready stream. `next` and `sent` are O(1), the others
//! O(log n); no call allocates once the slab, heaps and index have grown to the connection's
//! number of streams.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::frame::StreamId;

use super::signal::Priority;

/// The default round-robin share of an incremental stream: the default SETTINGS_MAX_FRAME_SIZE
/// (RFC 9113 §6.5.2), so that each incremental stream writes one full frame per turn.
pub const DEFAULT_QUANTUM: u32 = 16_384;

const LEVELS: usize = Priority::LOWEST_URGENCY as usize + 1;
const NIL: u32 = u32::MAX;

/// Picks the stream whose HEADERS or DATA the connection writes next (§10).
///
/// Streams are [`insert`](Self::insert)ed with their priority, marked ready with
/// [`set_ready`](Self::set_ready) while they have something to write and the window to write
/// it, reported with [`sent`](Self::sent) after each frame, and [`remove`](Self::remove)d when
/// done. A stream that [`next`](Self::next) returns and cannot write after all (its window is
/// empty) should be marked not ready, or it keeps its turn.
///
/// A pushed stream has no request of its own to signal a priority; the caller gives it its
/// parent's or a default of its choosing (see the example).
///
/// ```
/// use h2push_h2::priority::{Priority, Scheduler};
/// use h2push_h2::StreamId;
///
/// let (doc, css, img) = (StreamId::new(1), StreamId::new(3), StreamId::new(5));
/// let mut s = Scheduler::new();
/// s.insert(doc, Priority::new(0, true));
/// s.insert(img, Priority::new(4, true));
/// s.insert(css, Priority::new(1, false));
/// for id in [doc, css, img] {
///     s.set_ready(id, true);
/// }
/// assert_eq!(s.next(), Some(doc));
/// s.remove(doc);
/// assert_eq!(s.next(), Some(css)); // u=1 before u=4
/// s.remove(css);
/// assert_eq!(s.next(), Some(img));
///
/// // A push promised on the image's stream takes the image's priority.
/// let push = StreamId::new(2);
/// let p = s.priority(img).unwrap_or(Priority::DEFAULT);
/// s.insert(push, p);
/// ```
#[derive(Clone, Debug)]
pub struct Scheduler {
    slots: Vec<Slot>,
    free: Vec<u32>,
    index: HashMap<StreamId, u32, BuildHasherDefault<IdHasher>>,
    levels: [Level; LEVELS],
    /// Bit `u` set when urgency `u` has a ready stream.
    busy: u8,
    quantum: u32,
}

#[derive(Clone, Debug)]
struct Slot {
    id: StreamId,
    priority: Priority,
    place: Place,
    /// Bytes sent in the current round-robin turn (incremental streams).
    credit: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// Not ready (or a free slot).
    Idle,
    /// In its level's heap, at this position.
    Heap(u32),
    /// In its level's ring, between these slots.
    Ring { prev: u32, next: u32 },
}

#[derive(Clone, Debug)]
struct Level {
    /// Slot numbers of ready non-incremental streams, a min-heap on stream id.
    heap: Vec<u32>,
    /// Slot number of the ready incremental stream whose turn it is, or `NIL`.
    head: u32,
}

impl Default for Level {
    fn default() -> Self {
        Level {
            heap: Vec::new(),
            head: NIL,
        }
    }
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler::new()
    }
}

impl Scheduler {
    /// An empty scheduler giving incremental streams [`DEFAULT_QUANTUM`] bytes a turn.
    ///
    /// ```
    /// use h2push_h2::priority::Scheduler;
    ///
    /// assert_eq!(Scheduler::new().next(), None);
    /// ```
    pub fn new() -> Scheduler {
        Scheduler::with_quantum(DEFAULT_QUANTUM)
    }

    /// An empty scheduler giving incremental streams `quantum` bytes a turn before the next
    /// one's (at least 1). The peer's SETTINGS_MAX_FRAME_SIZE gives one frame a turn.
    ///
    /// ```
    /// use h2push_h2::priority::Scheduler;
    ///
    /// let s = Scheduler::with_quantum(65_536);
    /// assert!(s.is_empty());
    /// ```
    pub fn with_quantum(quantum: u32) -> Scheduler {
        Scheduler {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashMap::default(),
            levels: Default::default(),
            busy: 0,
            quantum: quantum.max(1),
        }
    }

    /// Sets the round-robin share of incremental streams (at least 1 byte), e.g. when the
    /// peer's SETTINGS_MAX_FRAME_SIZE changes.
    ///
    /// ```
    /// use h2push_h2::priority::Scheduler;
    ///
    /// let mut s = Scheduler::new();
    /// s.set_quantum(32_768);
    /// ```
    pub fn set_quantum(&mut self, quantum: u32) {
        self.quantum = quantum.max(1);
    }

    /// Adds stream `id` at `priority` (an urgency above 7 is taken as 7), not ready. If `id`
    /// is already here, its priority is updated instead and `false` is returned.
    ///
    /// ```
    /// use h2push_h2::priority::{Priority, Scheduler};
    /// use h2push_h2::StreamId;
    ///
    /// let mut s = Scheduler::new();
    /// assert!(s.insert(StreamId::new(1), Priority::DEFAULT));
    /// assert!(!s.insert(StreamId::new(1), Priority::new(1, false)));
    /// assert_eq!(s.len(), 1);
    /// assert_eq!(s.next(), None); // not ready yet
    /// ```
    pub fn insert(&mut self, id: StreamId, priority: Priority) -> bool {
        if self.index.contains_key(&id) {
            self.update(id, priority);
            return false;
        }
        let slot = Slot {
            id,
            priority: clamp(priority),
            place: Place::Idle,
            credit: 0,
        };
        let n = match self.free.pop() {
            Some(n) => {
                self.slots[n as usize] = slot;
                n
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(id, n);
        true
    }

    /// Removes stream `id` (closed, reset, or with nothing more to write), returning its
    /// priority, or `None` if it was not here.
    ///
    /// ```
    /// use h2push_h2::priority::{Priority, Scheduler};
    /// use h2push_h2::StreamId;
    ///
    /// let mut s = Scheduler::new();
    /// s.insert(StreamId::new(1), Priority::new(2, true));
    /// assert_eq!(s.remove(StreamId::new(1)), Some(Priority::new(2, true)));
    /// assert_eq!(s.remove(StreamId::new(1)), None);
    /// ```
    pub fn remove(&mut self, id: StreamId) -> Option<Priority> {
        let n = self.index.remove(&id)?;
        self.detach(n);
        self.free.push(n);
        Some(self.slots[n as usize].priority)
    }

    /// Marks stream `id` as having (`true`) or not having something it can write now.
    /// Returns `false` if `id` is not here. Marking a ready stream ready again changes
    /// nothing (it keeps its place); an incremental stream made ready joins the end of its
    /// urgency's round.
    ///
    /// ```
    /// use h2push_h2::priority::{Priority, Scheduler};
    /// use h2push_h2::StreamId;
    ///
    /// let mut s = Scheduler::new();
    /// s.insert(StreamId::new(1), Priority::DEFAULT);
    /// assert!(s.set_ready(StreamId::new(1), true));
    /// assert_eq!(s.next(), Some(StreamId::new(1)));
    /// s.set_ready(StreamId::new(1), false); // flow-control window exhausted
    /// assert_eq!(s.next(), None);
    /// assert!(!s.set_ready(StreamId::new(3), true));
    /// ```
    pub fn set_ready(&mut self, id: StreamId, ready: bool) -> bool {
        let Some(&n) = self.index.get(&id) else {
            return false;
        };
        let is_ready = self.slots[n as usize].place != Place::Idle;
        if ready && !is_ready {
            self.attach(n);
        } else if !ready && is_ready {
            self.detach(n);
        }
        true
    }

    /// Whether stream `id` is here and ready.
    ///
    /// ```
    /// use h2push_h2::priority::{Priority, Scheduler};
    /// use h2push_h2::StreamId;
    ///
    /// let mut s = Scheduler::new();
    /// s.insert(StreamId::new(1), Priority::DEFAULT);
    /// assert!(!s.is_ready(StreamId::new(1)));
    /// ```
    pub fn is_ready(&self, id: StreamId) -> bool {
        self.index
            .get(&id)
            .is_some_and(|&n| self.slots[n as usize].place != Place::Idle)
    }

    /// Changes stream `id`'s priority (after a PRIORITY_UPDATE, §7, or the server's own
    /// choice, §8). Returns `false` if `id` is not here. A ready stream moves to its new
    /// place; an unchanged priority changes nothing.
    ///
    /// ```
    /// use h2push_h2::priority::{Priority, Scheduler};
    /// use h2push_h2::StreamId;
    ///
    /// let mut s = Scheduler::new();
    /// for (n, u) in [(1, 3), (3, 3)] {
    ///     s.insert(StreamId::new(n), Priority::new(u, false));
    ///     s.set_ready(StreamId::new(n), true);
    /// }
    /// assert_eq!(s.next(), Some(StreamId::new(1)));
    /// s.update(StreamId::new(3), Priority::new(0, false));
    /// assert_eq!(s.next(), Some(StreamId::new(3)));
    /// ```
    pub fn update(&mut self, id: StreamId, priority: Priority) -> bool {
        let Some(&n) = self.index.get(&id) else {
            return false;
        };
        let priority = clamp(priority);
        let slot = &self.slots[n as usize];
        if slot.priority == priority {
            return true;
        }
        let ready = slot.place != Place::Idle;
        if ready {
            self.detach(n);
        }
        self.slots[n as usize].priority = priority;
        if ready {
            self.attach(n);
        }
        true
    }

    /// Stream `id`'s priority, if it is here.
    ///
    /// ```
    /// use h2push_h2::priority::{Priority, Scheduler};
    /// use h2push_h2::StreamId;
    ///
    /// let mut s = Scheduler::new();
    /// s.insert(StreamId::new(1), Priority { urgency: 9, incremental: false });
    /// assert_eq!(s.priority(StreamId::new(1)), Some(Priority::new(7, false)));
    /// ```
    pub fn priority(&self, id: StreamId) -> Option<Priority> {
        self.index
            .get(&id)
            .map(|&n| self.slots[n as usize].priority)
    }

    /// The ready stream to write next, if any: the most urgent level's lowest-id
    /// non-incremental stream, else the incremental stream whose turn it is. It stays the
    /// answer until it is removed, made not ready, reprioritised, or (incremental) has used its
    /// turn's share in [`sent`](Self::sent).
    ///
    /// ```
    /// use h2push_h2::priority::{Priority, Scheduler};
    /// use h2push_h2::StreamId;
    ///
    /// let mut s = Scheduler::new();
    /// for n in [7, 5] {
    ///     s.insert(StreamId::new(n), Priority::new(2, false));
    ///     s.set_ready(StreamId::new(n), true);
    /// }
    /// assert_eq!(s.next(), Some(StreamId::new(5))); // lower id first, until it is done
    /// s.sent(StreamId::new(5), 16_384);
    /// assert_eq!(s.next(), Some(StreamId::new(5)));
    /// ```
    pub fn next(&self) -> Option<StreamId> {
        if self.busy == 0 {
            return None;
        }
        let level = &self.levels[self.busy.trailing_zeros() as usize];
        let n = match level.heap.first() {
            Some(&n) => n,
            None => level.head,
        };
        Some(self.slots[n as usize].id)
    }

    /// Records that `bytes` of stream `id`'s HEADERS or DATA were written. An incremental
    /// stream that has written its turn's share (the quantum) goes to the end of its
    /// urgency's round; a non-incremental stream keeps writing until done.
    ///
    /// ```
    /// use h2push_h2::priority::{Priority, Scheduler};
    /// use h2push_h2::StreamId;
    ///
    /// let mut s = Scheduler::with_quantum(1000);
    /// for n in [1, 3] {
    ///     s.insert(StreamId::new(n), Priority::new(4, true));
    ///     s.set_ready(StreamId::new(n), true);
    /// }
    /// assert_eq!(s.next(), Some(StreamId::new(1)));
    /// s.sent(StreamId::new(1), 600);
    /// assert_eq!(s.next(), Some(StreamId::new(1)));
    /// s.sent(StreamId::new(1), 600);
    /// assert_eq!(s.next(), Some(StreamId::new(3))); // 1 has had its 1000 bytes
    /// ```
    pub fn sent(&mut self, id: StreamId, bytes: usize) {
        let Some(&n) = self.index.get(&id) else {
            return;
        };
        let slot = &mut self.slots[n as usize];
        if !matches!(slot.place, Place::Ring { .. }) {
            return;
        }
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        slot.credit = slot.credit.saturating_add(bytes);
        if slot.credit < self.quantum {
            return;
        }
        slot.credit = 0;
        let u = slot.priority.urgency as usize;
        let head = self.levels[u].head;
        if head == n {
            // The ring is circular: the next one's turn, this one last.
            let Place::Ring { next, .. } = self.slots[n as usize].place else {
                unreachable!()
            };
            self.levels[u].head = next;
        } else {
            self.unlink(n, u);
            self.link_last(n, u);
        }
    }

    /// The number of streams here, ready or not.
    ///
    /// ```
    /// use h2push_h2::priority::Scheduler;
    ///
    /// assert_eq!(Scheduler::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no stream is here.
    ///
    /// ```
    /// use h2push_h2::priority::Scheduler;
    ///
    /// assert!(Scheduler::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    // Puts ready slot `n` in its level: the heap if non-incremental, the ring's end if not.
    fn attach(&mut self, n: u32) {
        let Priority {
            urgency,
            incremental,
        } = self.slots[n as usize].priority;
        let u = urgency as usize;
        self.slots[n as usize].credit = 0;
        if incremental {
            self.link_last(n, u);
        } else {
            let pos = self.levels[u].heap.len();
            self.levels[u].heap.push(n);
            self.slots[n as usize].place = Place::Heap(pos as u32);
            self.sift_up(u, pos);
        }
        self.busy |= 1 << u;
    }

    // Takes slot `n` out of its level, if it is in one; it becomes not ready.
    fn detach(&mut self, n: u32) {
        let u = self.slots[n as usize].priority.urgency as usize;
        match self.slots[n as usize].place {
            Place::Idle => return,
            Place::Ring { .. } => self.unlink(n, u),
            Place::Heap(pos) => {
                let pos = pos as usize;
                let heap = &mut self.levels[u].heap;
                let last = heap.len() - 1;
                heap.swap(pos, last);
                heap.pop();
                if pos < last {
                    let moved = heap[pos];
                    self.slots[moved as usize].place = Place::Heap(pos as u32);
                    self.sift_down(u, pos);
                    self.sift_up(u, pos);
                }
            }
        }
        self.slots[n as usize].place = Place::Idle;
        let level = &self.levels[u];
        if level.heap.is_empty() && level.head == NIL {
            self.busy &= !(1 << u);
        }
    }

    // Inserts slot `n` into level `u`'s ring, last (just before the head).
    fn link_last(&mut self, n: u32, u: usize) {
        let head = self.levels[u].head;
        if head == NIL {
            self.slots[n as usize].place = Place::Ring { prev: n, next: n };
            self.levels[u].head = n;
            return;
        }
        let Place::Ring { prev: tail, .. } = self.slots[head as usize].place else {
            unreachable!("a ring's head is in the ring")
        };
        self.slots[n as usize].place = Place::Ring {
            prev: tail,
            next: head,
        };
        self.set_next(tail, n);
        self.set_prev(head, n);
    }

    // Takes slot `n` out of level `u`'s ring (its place is left for the caller to set).
    fn unlink(&mut self, n: u32, u: usize) {
        let Place::Ring { prev, next } = self.slots[n as usize].place else {
            unreachable!("unlink of a slot not in a ring")
        };
        if next == n {
            self.levels[u].head = NIL;
            return;
        }
        self.set_next(prev, next);
        self.set_prev(next, prev);
        if self.levels[u].head == n {
            self.levels[u].head = next;
        }
    }

    fn set_next(&mut self, n: u32, to: u32) {
        if let Place::Ring { next, .. } = &mut self.slots[n as usize].place {
            *next = to;
        }
    }

    fn set_prev(&mut self, n: u32, to: u32) {
        if let Place::Ring { prev, .. } = &mut self.slots[n as usize].place {
            *prev = to;
        }
    }

    fn key(&self, u: usize, pos: usize) -> StreamId {
        self.slots[self.levels[u].heap[pos] as usize].id
    }

    fn swap(&mut self, u: usize, a: usize, b: usize) {
        let heap = &mut self.levels[u].heap;
        heap.swap(a, b);
        let (na, nb) = (heap[a], heap[b]);
        self.slots[na as usize].place = Place::Heap(a as u32);
        self.slots[nb as usize].place = Place::Heap(b as u32);
    }

    fn sift_up(&mut self, u: usize, mut pos: usize) {
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if self.key(u, parent) <= self.key(u, pos) {
                break;
            }
            self.swap(u, parent, pos);
            pos = parent;
        }
    }

    fn sift_down(&mut self, u: usize, mut pos: usize) {
        let len = self.levels[u].heap.len();
        loop {
            let (l, r) = (2 * pos + 1, 2 * pos + 2);
            let mut least = pos;
            if l < len && self.key(u, l) < self.key(u, least) {
                least = l;
            }
            if r < len && self.key(u, r) < self.key(u, least) {
                least = r;
            }
            if least == pos {
                break;
            }
            self.swap(u, pos, least);
            pos = least;
        }
    }
}

fn clamp(p: Priority) -> Priority {
    Priority {
        urgency: p.urgency.min(Priority::LOWEST_URGENCY),
        incremental: p.incremental,
    }
}

/// A hasher for stream ids: a multiplication spreads the (odd, increasing) ids over the
/// table. Ids are chosen by the peer, but at most SETTINGS_MAX_CONCURRENT_STREAMS of them are
/// here at once, which bounds what a crafted collision costs.
#[derive(Clone, Copy, Debug, Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u32(u32::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0 ^ u64::from(n)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        // The high bits of the product are the well-mixed ones; the table indexes by the low.
        self.0.rotate_left(32)
    }
}

#[cfg(test)]
mod tests;
