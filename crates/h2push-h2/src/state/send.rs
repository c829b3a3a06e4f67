//! What we send: heads, DATA, trailers, RST_STREAM, GOAWAY, and draining early answers.
//!
//! This module owns the checks on our own frames: informational (1xx) heads any number of
//! times before the final head, DATA within the send windows (§6.9), trailers, the
//! concurrency limit when a pushed stream starts (§5.1.2), and the §8.1 early answer: a
//! complete response while the request body is still arriving, whose rest is drained and
//! discarded up to a bound before RST_STREAM(NO_ERROR). A wrong call is the caller's bug and
//! returns a [`SendError`], changing nothing. Encoding the frames is the codec's.

use std::time::Instant;

use super::stream::{SendError, State};
use super::{Action, Streams};
use crate::error::Reason;
use crate::frame::StreamId;

impl Streams {
    /// We send an informational (1xx) head on `id` (any number of times before the final
    /// head). On a promised stream this starts it (subject to the client's limit).
    pub fn send_informational(&mut self, id: StreamId) -> Result<(), SendError> {
        self.check_start(id)?;
        self.store
            .update(id, |s| s.state.send_informational())
            .unwrap_or(Err(self.missing(id)))
    }

    /// We send the final head on `id`, with END_STREAM if `end_stream`. On a promised
    /// stream this starts it (subject to the client's limit).
    pub fn send_head(&mut self, id: StreamId, end_stream: bool) -> Result<(), SendError> {
        self.check_start(id)?;
        self.store
            .update(id, |s| s.state.send_head(end_stream))
            .unwrap_or(Err(self.missing(id)))
    }

    /// We send `len` bytes of DATA (flow-controlled length, padding included) on `id`, with
    /// END_STREAM if `end_stream`. More than [`Streams::send_capacity`] is refused.
    pub fn send_data(&mut self, id: StreamId, len: u32, end_stream: bool) -> Result<(), SendError> {
        let s = self.store.get(id).ok_or(self.missing(id))?;
        s.state.check_body()?;
        let available = self.send_capacity(id);
        if len > available {
            return Err(SendError::FlowControl { available });
        }
        self.conn_send.consume(len);
        self.store
            .update(id, |s| {
                s.send.consume(len);
                s.state.send_data(end_stream)
            })
            .unwrap_or(Err(self.missing(id)))
    }

    /// We send trailers on `id`, which end our side.
    pub fn send_trailers(&mut self, id: StreamId) -> Result<(), SendError> {
        self.store
            .update(id, |s| s.state.send_trailers())
            .unwrap_or(Err(self.missing(id)))
    }

    /// We send RST_STREAM on `id` (a malformed request found by [`super::message`], a
    /// cancelled push, …). Frames the client has in flight are then ignored for
    /// [`super::Config::reset_grace`]. Refused on an idle stream (§5.1: never sent there)
    /// and on a closed one (nothing to reset).
    pub fn send_reset(&mut self, id: StreamId) -> Result<(), SendError> {
        match self.store.get(id) {
            None if self.is_idle(id) => Err(SendError::UnknownStream),
            None => Err(SendError::Ended),
            Some(s) if matches!(s.state, State::Closed(_)) => Err(SendError::Ended),
            Some(_) => {
                self.close_reset(id);
                Ok(())
            }
        }
    }

    /// Our response on `id` is complete and the application does not want the rest of the
    /// request body (§8.1): the stream drains. DATA keeps being accepted (credit returned
    /// at once so the client can finish) and discarded, up to
    /// [`super::Config::drain_max_bytes`] and until `deadline`
    /// ([`Streams::expire`]); then the stream is reset with NO_ERROR (an [`Action::Reset`]).
    /// If the client ends the request first, the stream closes without a reset.
    pub fn drain(&mut self, id: StreamId, deadline: Instant) -> Result<(), SendError> {
        match self.store.get(id).map(|s| s.state) {
            Some(State::HalfClosedLocal) => {}
            Some(State::Draining { .. }) => return Ok(()),
            None if self.is_idle(id) => return Err(SendError::UnknownStream),
            _ => return Err(SendError::NotHalfClosedLocal),
        }
        self.store.update(id, |s| {
            s.state = State::Draining {
                discarded: 0,
                deadline,
            }
        });
        self.drain_bytes(id, 0);
        Ok(())
    }

    /// We send GOAWAY with `last_stream_id`: new client streams above it are ignored (§6.8).
    pub fn send_goaway(&mut self, last_stream_id: StreamId) {
        let last = match self.goaway_sent {
            Some(prev) => prev.min(last_stream_id),
            None => last_stream_id,
        };
        self.goaway_sent = Some(last);
    }

    /// A draining stream has discarded `total` bytes: release what it holds, give the
    /// client credit back, and reset it past the bound.
    pub(crate) fn drain_bytes(&mut self, id: StreamId, total: u64) {
        let rtt = self.rtt;
        let clock = self.store.clock;
        let r = self.store.update(id, |s| {
            let released = s.recv.release_all();
            let mut update = None;
            if let State::Draining { discarded, .. } = &mut s.state {
                *discarded = total;
                update = s.recv.poll_update(clock, rtt);
            }
            (released, update, matches!(s.state, State::Draining { .. }))
        });
        let Some((released, update, draining)) = r else {
            return;
        };
        self.discard_conn(released);
        if draining && total > self.config.drain_max_bytes {
            self.reset_draining(id);
            return;
        }
        if let Some(increment) = update {
            self.actions.push_back(Action::WindowUpdate {
                stream: id,
                increment,
            });
        }
    }

    /// Resets a draining stream with NO_ERROR (queued as an action).
    pub(crate) fn reset_draining(&mut self, id: StreamId) {
        self.close_reset(id);
        self.actions.push_back(Action::Reset {
            stream: id,
            reason: Reason::NO_ERROR,
        });
    }

    /// The error for a stream not held: never opened, or closed and let go.
    fn missing(&self, id: StreamId) -> SendError {
        if self.is_idle(id) {
            SendError::UnknownStream
        } else {
            SendError::Ended
        }
    }

    /// Starting a promised stream needs room under the client's limit (§5.1.2).
    fn check_start(&self, id: StreamId) -> Result<(), SendError> {
        let s = self.store.get(id).ok_or(self.missing(id))?;
        if s.state == State::ReservedLocal && !self.can_start_push() {
            return Err(SendError::ConcurrencyLimit);
        }
        Ok(())
    }
}
