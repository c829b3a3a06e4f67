//! Server push: promised streams (RFC 9113 §8.4, §5.1 "reserved (local)") and GOAWAY.
//!
//! This module owns when a PUSH_PROMISE may be sent and which id it promises: only on a
//! client stream that is open or half-closed (remote), only while the client's
//! SETTINGS_ENABLE_PUSH is 1 and no GOAWAY came from it, only while its
//! SETTINGS_MAX_CONCURRENT_STREAMS leaves room, with even ids in ascending order. What to
//! push, and the promised request's header block, are the application's and the codec's.

use std::fmt;

use super::flow::{RecvWindow, SendWindow};
use super::store::Stream;
use super::stream::State;
use super::Streams;
use crate::frame::StreamId;

/// Why a push cannot be promised now. None is a protocol error: the caller just doesn't
/// push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushError {
    /// The client's SETTINGS_ENABLE_PUSH is 0 (§6.5.2, §8.4).
    Disabled,
    /// The client sent GOAWAY (§6.8): no new streams.
    GoingAway,
    /// The parent is not a client stream that is open or half-closed (remote) (§8.4), or our
    /// side of it has ended.
    ParentNotOpen,
    /// Promised and pushed streams would exceed the client's SETTINGS_MAX_CONCURRENT_STREAMS
    /// (§5.1.2), so the promise could not be started.
    ConcurrencyLimit,
    /// Every even stream id has been used (§5.1.1).
    IdsExhausted,
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PushError::Disabled => "the client disabled push",
            PushError::GoingAway => "the client sent GOAWAY",
            PushError::ParentNotOpen => "the parent stream cannot carry a PUSH_PROMISE",
            PushError::ConcurrencyLimit => "the client's stream limit is reached",
            PushError::IdsExhausted => "no stream ids left",
        })
    }
}

impl std::error::Error for PushError {}

impl Streams {
    /// Reserves the next even stream id for a PUSH_PROMISE on `parent` (§8.4). The promised
    /// stream is reserved (local) (§5.1): the client may only send RST_STREAM, PRIORITY or
    /// WINDOW_UPDATE on it; it starts when we send its head ([`Streams::send_head`]).
    ///
    /// Promises count with the pushed streams against the client's limit, so that each can
    /// be started at once; starting one checks the limit again (it may have been lowered).
    ///
    /// ```
    /// use h2push_h2::state::{Config, PushError, StreamState, Streams};
    /// use h2push_h2::StreamId;
    ///
    /// let mut s = Streams::new(Config::default());
    /// let req = StreamId::new(1);
    /// s.recv_headers(req, true).unwrap();
    /// let p = s.push_promise(req).unwrap();
    /// assert_eq!(p, StreamId::new(2));
    /// assert_eq!(s.state(p), StreamState::ReservedLocal);
    /// s.send_head(p, true).unwrap();
    /// s.set_peer_enable_push(false);
    /// assert_eq!(s.push_promise(req), Err(PushError::Disabled));
    /// ```
    pub fn push_promise(&mut self, parent: StreamId) -> Result<StreamId, PushError> {
        if !self.peer_enable_push {
            return Err(PushError::Disabled);
        }
        if self.goaway_received.is_some() {
            return Err(PushError::GoingAway);
        }
        let parent_ok = parent.is_client_initiated()
            && self.store.get(parent).is_some_and(|s| {
                matches!(s.state, State::Open { .. } | State::HalfClosedRemote { .. })
            });
        if !parent_ok {
            return Err(PushError::ParentNotOpen);
        }
        let limit = self.peer_max_concurrent.map_or(usize::MAX, |m| m as usize);
        if self.store.reserved() + self.store.active_pushed() >= limit {
            return Err(PushError::ConcurrencyLimit);
        }
        let id = if self.last_pushed == 0 {
            StreamId::new(2)
        } else {
            StreamId::new(self.last_pushed)
                .next()
                .ok_or(PushError::IdsExhausted)?
        };
        self.last_pushed = u32::from(id);
        let send = SendWindow::new(self.peer_initial_window);
        let recv = RecvWindow::new(0, 0);
        self.store
            .insert(Stream::new(id, State::ReservedLocal, send, recv));
        Ok(id)
    }

    /// Whether pushes are possible at all: the client allows them (SETTINGS_ENABLE_PUSH)
    /// and has not sent GOAWAY (§8.4, §6.8).
    pub fn can_promise(&self) -> bool {
        self.peer_enable_push && self.goaway_received.is_none()
    }

    /// Whether the client allows pushes (its SETTINGS_ENABLE_PUSH, §6.5.2), GOAWAY aside.
    pub fn peer_enables_push(&self) -> bool {
        self.peer_enable_push
    }

    /// The client's SETTINGS_MAX_CONCURRENT_STREAMS, which bounds our pushed streams
    /// (§5.1.2), once it has said one.
    pub fn peer_max_concurrent_streams(&self) -> Option<u32> {
        self.peer_max_concurrent
    }

    /// Whether a promised stream may be started now: the pushed streams open are below the
    /// client's SETTINGS_MAX_CONCURRENT_STREAMS (§5.1.2).
    pub fn can_start_push(&self) -> bool {
        self.peer_max_concurrent
            .map_or(true, |m| self.store.active_pushed() < m as usize)
    }

    /// A GOAWAY from the client: no new pushes; pushed streams above `last_stream_id` were
    /// not processed (§6.8) and are closed here. Returns those, for the application to
    /// drop (nothing needs sending for them). Client streams go on.
    pub fn recv_goaway(&mut self, last_stream_id: StreamId) -> Vec<StreamId> {
        let last = match self.goaway_received {
            Some(prev) => prev.min(last_stream_id),
            None => last_stream_id,
        };
        self.goaway_received = Some(last);
        let dropped: Vec<StreamId> = self
            .store
            .iter()
            .filter(|s| {
                s.id.is_server_initiated() && s.id > last && !matches!(s.state, State::Closed(_))
            })
            .map(|s| s.id)
            .collect();
        for &id in &dropped {
            self.close_reset(id);
        }
        dropped
    }
}
