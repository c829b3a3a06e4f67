//! The set of streams of one connection, and what is remembered of closed ones.
//!
//! This module owns storage: streams that exist (reserved, open, half-closed, or closed
//! with bytes the application has not released yet) in a slab indexed by stream id, the
//! counts of active streams of each side (§5.1.2) kept equal to the states held, and a
//! bounded record of recently closed streams with how they closed, so that a late frame
//! gets the answer §5.1 gives it. Which answer that is, and every protocol rule, are the
//! stream set's ([`super::Streams`]) and the state's ([`super::stream`]).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::flow::{RecvWindow, SendWindow};
use super::stream::{Cause, State};
use crate::frame::StreamId;

/// One stream that exists.
#[derive(Clone, Debug)]
pub struct Stream {
    /// Its identifier.
    pub id: StreamId,
    /// Its state. Change it only through [`Store::update`], which keeps the counts.
    pub state: State,
    /// What we may send on it.
    pub send: SendWindow,
    /// What the client may send on it.
    pub recv: RecvWindow,
    /// The request's content-length, if it declared one (§8.1.1).
    pub content_length: Option<u64>,
    /// DATA payload bytes received so far (padding included: the caller gives lengths).
    pub received: u64,
}

impl Stream {
    /// A new stream in `state`.
    pub fn new(id: StreamId, state: State, send: SendWindow, recv: RecvWindow) -> Stream {
        Stream {
            id,
            state,
            send,
            recv,
            content_length: None,
            received: 0,
        }
    }
}

/// What is remembered of a stream that closed and was let go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// How it closed.
    pub cause: Cause,
    /// When (the latest time the stream set was told of, if any).
    pub at: Option<Instant>,
}

/// Streams, indexed by id, with closed-stream bookkeeping.
///
/// ```
/// use h2push_h2::state::flow::{RecvWindow, SendWindow};
/// use h2push_h2::state::store::{Store, Stream};
/// use h2push_h2::state::stream::{Cause, Local, State};
/// use h2push_h2::StreamId;
///
/// let mut store = Store::new(16);
/// let id = StreamId::new(1);
/// let open = State::Open { local: Local::AwaitingHead };
/// store.insert(Stream::new(id, open, SendWindow::new(10), RecvWindow::new(10, 10)));
/// assert_eq!(store.active_client(), 1);
/// store.update(id, |s| s.state = State::Closed(Cause::EndStream));
/// assert_eq!(store.active_client(), 0);
/// assert!(store.get(id).is_none()); // nothing buffered: let go, remembered
/// assert_eq!(store.record(id).unwrap().cause, Cause::EndStream);
/// ```
#[derive(Debug, Default)]
pub struct Store {
    slots: Vec<Option<Stream>>,
    free: Vec<usize>,
    index: HashMap<StreamId, usize>,
    active_client: usize,
    active_pushed: usize,
    reserved: usize,
    records: HashMap<StreamId, Record>,
    resets: VecDeque<StreamId>,
    ends: VecDeque<StreamId>,
    memory: usize,
    /// The time records are stamped with: the latest the stream set was told of.
    pub clock: Option<Instant>,
}

impl Store {
    /// An empty set remembering up to `memory` streams we reset and as many closed otherwise.
    pub fn new(memory: usize) -> Store {
        Store {
            memory,
            ..Store::default()
        }
    }

    /// Adds a stream (its id must not be held already).
    pub fn insert(&mut self, stream: Stream) {
        debug_assert!(!self.index.contains_key(&stream.id));
        self.count(stream.id, stream.state, 1);
        let id = stream.id;
        let slot = match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(stream);
                i
            }
            None => {
                self.slots.push(Some(stream));
                self.slots.len() - 1
            }
        };
        self.index.insert(id, slot);
        self.settle(id);
    }

    /// The stream `id`, if held.
    pub fn get(&self, id: StreamId) -> Option<&Stream> {
        self.index.get(&id).and_then(|&i| self.slots[i].as_ref())
    }

    /// Changes the stream `id` with `f`, then keeps the counts and lets the stream go if it
    /// is closed with nothing buffered. `None` if the stream is not held.
    pub fn update<R>(&mut self, id: StreamId, f: impl FnOnce(&mut Stream) -> R) -> Option<R> {
        let &i = self.index.get(&id)?;
        let s = self.slots[i].as_mut()?;
        let before = s.state;
        let r = f(s);
        let after = s.state;
        if before != after {
            self.count(id, before, -1);
            self.count(id, after, 1);
        }
        self.settle(id);
        Some(r)
    }

    /// Every held stream's windows and counters (not its state: use [`Store::update`]).
    pub fn for_each_mut(&mut self, mut f: impl FnMut(&mut SendWindow, &mut RecvWindow)) {
        for s in self.slots.iter_mut().flatten() {
            f(&mut s.send, &mut s.recv);
        }
    }

    /// The ids of held streams.
    pub fn ids(&self) -> Vec<StreamId> {
        self.slots.iter().flatten().map(|s| s.id).collect()
    }

    /// Held streams.
    pub fn iter(&self) -> impl Iterator<Item = &Stream> {
        self.slots.iter().flatten()
    }

    /// How a let-go stream closed, if still remembered.
    pub fn record(&self, id: StreamId) -> Option<Record> {
        self.records.get(&id).copied()
    }

    /// Client-initiated streams open or half-closed.
    pub fn active_client(&self) -> usize {
        self.active_client
    }

    /// Pushed streams open or half-closed.
    pub fn active_pushed(&self) -> usize {
        self.active_pushed
    }

    /// Pushed streams promised and not started.
    pub fn reserved(&self) -> usize {
        self.reserved
    }

    /// Ages the records of streams we reset: frames on them stop being ignored `grace`
    /// after the reset (a record stamped with no time is stamped `now`).
    pub fn age_resets(&mut self, now: Instant, grace: Duration) {
        for id in &self.resets {
            if let Some(r) = self.records.get_mut(id) {
                if let Cause::Reset { ignore: true } = r.cause {
                    match r.at {
                        None => r.at = Some(now),
                        Some(at) if now.saturating_duration_since(at) >= grace => {
                            r.cause = Cause::Reset { ignore: false };
                        }
                        Some(_) => {}
                    }
                }
            }
        }
    }

    /// The earliest time a reset record stops ignoring frames, given `grace`.
    pub fn next_reset_expiry(&self, grace: Duration) -> Option<Instant> {
        self.resets
            .iter()
            .filter_map(|id| self.records.get(id))
            .filter(|r| r.cause == Cause::Reset { ignore: true })
            .filter_map(|r| r.at.map(|at| at + grace))
            .min()
    }

    /// Remembers `id` as closed by `cause` without holding it (a stream refused or ignored
    /// at its first frame).
    pub fn remember(&mut self, id: StreamId, cause: Cause) {
        let ring = match cause {
            Cause::Reset { .. } => &mut self.resets,
            _ => &mut self.ends,
        };
        ring.push_back(id);
        if ring.len() > self.memory {
            if let Some(old) = ring.pop_front() {
                self.records.remove(&old);
            }
        }
        if self.memory > 0 {
            self.records.insert(
                id,
                Record {
                    cause,
                    at: self.clock,
                },
            );
        }
    }

    fn settle(&mut self, id: StreamId) {
        let Some(&i) = self.index.get(&id) else {
            return;
        };
        let Some(s) = self.slots[i].as_ref() else {
            return;
        };
        if let State::Closed(cause) = s.state {
            if s.recv.buffered() == 0 {
                self.slots[i] = None;
                self.free.push(i);
                self.index.remove(&id);
                self.remember(id, cause);
            }
        }
    }

    fn count(&mut self, id: StreamId, state: State, by: isize) {
        let counter = if state == State::ReservedLocal {
            &mut self.reserved
        } else if !state.is_active() {
            return;
        } else if id.is_client_initiated() {
            &mut self.active_client
        } else {
            &mut self.active_pushed
        };
        *counter = counter.wrapping_add_signed(by);
    }
}
