//! PRIORITY_UPDATEs for streams not yet open (RFC 9218 §7, §7.1), kept until the stream's
//! HEADERS arrive.
//!
//! This file owns the bounded buffer and the §7.1 rules that concern a PRIORITY_UPDATE whose
//! stream does not exist yet: a prioritized stream ID of 0, an idle push stream, and the count
//! of prioritized idle streams against SETTINGS_MAX_CONCURRENT_STREAMS. Which streams are
//! idle, open or closed is `state`'s to say: the caller buffers only updates for streams in
//! the "idle" state, applies those for open streams with
//! [`StreamPriority::on_update`](super::StreamPriority::on_update), and drops those for
//! closed ones (§7.1 lets the server discard them).

use crate::error::{ConnectionError, Reason};
use crate::frame::StreamId;

use super::signal::{Priority, PriorityParams};

/// What [`PendingUpdates::buffer`] did with an update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buffered {
    /// Kept for a stream that had none.
    Stored,
    /// Kept in place of an earlier update for the same stream (§7: the most recent wins).
    Replaced,
    /// Not kept: the field value is not a Dictionary, so the frame is ignored.
    Unparseable,
    /// Not kept: the buffer is full (local policy, §7), and every kept update is for a
    /// stream that opens sooner.
    Full,
}

/// PRIORITY_UPDATEs received for client streams still idle (§7: "Servers SHOULD buffer the
/// most recently received PRIORITY_UPDATE frame and apply it once the referenced stream is
/// opened"), at most `capacity` of them.
///
/// Memory is allocated once, at [`new`](Self::new); every operation scans the buffer, whose
/// size is the caller's small bound.
///
/// ```
/// use h2push_h2::priority::{Buffered, PendingUpdates, Priority, StreamPriority};
/// use h2push_h2::StreamId;
///
/// let mut pending = PendingUpdates::new(16);
/// // PRIORITY_UPDATE for stream 5, which is still idle; 1 stream open, limit 100.
/// let got = pending.buffer(StreamId::new(5), b"u=1", 1, Some(100));
/// assert_eq!(got, Ok(Buffered::Stored));
/// // Then HEADERS open stream 5 with `priority: u=4`: the update, more recent, wins.
/// let s = StreamPriority::new(Priority::new(4, false), pending.take(StreamId::new(5)));
/// assert_eq!(s.effective(), Priority::new(1, false));
/// assert!(pending.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct PendingUpdates {
    entries: Vec<(StreamId, Priority)>,
    capacity: usize,
}

impl PendingUpdates {
    /// An empty buffer for at most `capacity` streams' updates; a capacity of 0 keeps none.
    /// SETTINGS_MAX_CONCURRENT_STREAMS, capped to a few dozen, is a natural choice.
    ///
    /// ```
    /// use h2push_h2::priority::PendingUpdates;
    ///
    /// assert_eq!(PendingUpdates::new(8).capacity(), 8);
    /// ```
    pub fn new(capacity: usize) -> PendingUpdates {
        PendingUpdates {
            entries: Vec::with_capacity(capacity),
            capacity,
        }
    }

    /// Buffers a PRIORITY_UPDATE for `id`, a stream in the "idle" state, whose Priority Field
    /// Value is `field_value`. `active` is the number of streams open or half-closed, and
    /// `max_concurrent` the SETTINGS_MAX_CONCURRENT_STREAMS this server sent (`None` if
    /// unlimited).
    ///
    /// # Errors
    ///
    /// `PROTOCOL_ERROR` (§7.1) if `id` is 0; if `id` is a push stream (an idle push stream,
    /// since a promised one is not idle); or if keeping this update would make the idle
    /// prioritized streams plus the active ones exceed `max_concurrent`.
    ///
    /// ```
    /// use h2push_h2::priority::{Buffered, PendingUpdates};
    /// use h2push_h2::{Reason, StreamId};
    ///
    /// let mut pending = PendingUpdates::new(4);
    /// let e = pending.buffer(StreamId::ZERO, b"u=1", 0, None).unwrap_err();
    /// assert_eq!(e.reason, Reason::PROTOCOL_ERROR);
    /// let e = pending.buffer(StreamId::new(2), b"u=1", 0, None).unwrap_err();
    /// assert_eq!(e.reason, Reason::PROTOCOL_ERROR);
    /// assert_eq!(pending.buffer(StreamId::new(1), b"u=,", 0, None), Ok(Buffered::Unparseable));
    /// ```
    pub fn buffer(
        &mut self,
        id: StreamId,
        field_value: &[u8],
        active: usize,
        max_concurrent: Option<u32>,
    ) -> Result<Buffered, ConnectionError> {
        if id.is_zero() {
            return Err(ConnectionError::new(
                Reason::PROTOCOL_ERROR,
                "PRIORITY_UPDATE for stream 0",
            ));
        }
        if id.is_server_initiated() {
            return Err(ConnectionError::new(
                Reason::PROTOCOL_ERROR,
                "PRIORITY_UPDATE for an idle push stream",
            ));
        }
        let at = self.entries.iter().position(|&(s, _)| s == id);
        if at.is_none() {
            if let Some(max) = max_concurrent {
                let idle_prioritized = self.entries.len() + 1;
                if active.saturating_add(idle_prioritized) > max as usize {
                    return Err(ConnectionError::new(
                        Reason::PROTOCOL_ERROR,
                        "PRIORITY_UPDATE: prioritized idle streams and active streams exceed \
                         SETTINGS_MAX_CONCURRENT_STREAMS",
                    ));
                }
            }
        }
        let Some(params) = PriorityParams::parse(field_value) else {
            return Ok(Buffered::Unparseable);
        };
        let priority = params.or_defaults();
        if let Some(at) = at {
            self.entries[at].1 = priority;
            return Ok(Buffered::Replaced);
        }
        if self.entries.len() < self.capacity {
            self.entries.push((id, priority));
            return Ok(Buffered::Stored);
        }
        // Full: client streams open in increasing order, so the highest stream id is needed
        // last. Give its place to this one if this one opens sooner.
        let Some((last, _)) = self
            .entries
            .iter()
            .enumerate()
            .max_by_key(|&(_, &(s, _))| s)
        else {
            return Ok(Buffered::Full); // capacity 0
        };
        if self.entries[last].0 > id {
            self.entries[last] = (id, priority);
            Ok(Buffered::Stored)
        } else {
            Ok(Buffered::Full)
        }
    }

    /// The update buffered for `id`, removed, as `id`'s HEADERS open it. Updates for lower
    /// client stream ids are dropped too: opening `id` closed those streams (RFC 9113
    /// §5.1.1), so they will never be applied.
    ///
    /// ```
    /// use h2push_h2::priority::{PendingUpdates, Priority};
    /// use h2push_h2::StreamId;
    ///
    /// let mut pending = PendingUpdates::new(4);
    /// pending.buffer(StreamId::new(3), b"u=2", 0, None).unwrap();
    /// pending.buffer(StreamId::new(9), b"u=6", 0, None).unwrap();
    /// assert_eq!(pending.take(StreamId::new(5)), None); // 3 is closed now
    /// assert_eq!(pending.len(), 1);
    /// assert_eq!(pending.take(StreamId::new(9)), Some(Priority::new(6, false)));
    /// ```
    pub fn take(&mut self, id: StreamId) -> Option<Priority> {
        let mut found = None;
        self.entries.retain(|&(s, p)| {
            if s == id {
                found = Some(p);
                false
            } else {
                s > id
            }
        });
        found
    }

    /// The number of updates kept.
    ///
    /// ```
    /// use h2push_h2::priority::PendingUpdates;
    ///
    /// assert_eq!(PendingUpdates::new(4).len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no update is kept.
    ///
    /// ```
    /// use h2push_h2::priority::PendingUpdates;
    ///
    /// assert!(PendingUpdates::new(4).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The most updates kept at once.
    ///
    /// ```
    /// use h2push_h2::priority::PendingUpdates;
    ///
    /// assert_eq!(PendingUpdates::new(0).capacity(), 0);
    /// ```
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Drops every kept update (e.g. after GOAWAY: no new stream will open).
    ///
    /// ```
    /// use h2push_h2::priority::PendingUpdates;
    /// use h2push_h2::StreamId;
    ///
    /// let mut pending = PendingUpdates::new(4);
    /// pending.buffer(StreamId::new(1), b"u=1", 0, None).unwrap();
    /// pending.clear();
    /// assert!(pending.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(n: u32) -> StreamId {
        StreamId::new(n)
    }

    #[test]
    fn s7_1_prioritized_stream_zero_is_protocol_error() {
        let mut b = PendingUpdates::new(4);
        let e = b.buffer(StreamId::ZERO, b"u=1", 0, None).unwrap_err();
        assert_eq!(e.reason, Reason::PROTOCOL_ERROR);
        assert!(b.is_empty());
    }

    #[test]
    fn s7_1_idle_push_stream_is_protocol_error() {
        let mut b = PendingUpdates::new(4);
        let e = b.buffer(sid(4), b"u=1", 0, None).unwrap_err();
        assert_eq!(e.reason, Reason::PROTOCOL_ERROR);
    }

    #[test]
    fn s7_1_idle_plus_active_over_max_concurrent_is_protocol_error() {
        let mut b = PendingUpdates::new(16);
        // 2 active, limit 4: two idle streams may be prioritized, not a third.
        assert_eq!(b.buffer(sid(7), b"u=1", 2, Some(4)), Ok(Buffered::Stored));
        assert_eq!(b.buffer(sid(9), b"u=1", 2, Some(4)), Ok(Buffered::Stored));
        // Another update for one already counted is fine.
        assert_eq!(b.buffer(sid(9), b"u=2", 2, Some(4)), Ok(Buffered::Replaced));
        let e = b.buffer(sid(11), b"u=1", 2, Some(4)).unwrap_err();
        assert_eq!(e.reason, Reason::PROTOCOL_ERROR);
        // Unlimited: no such error.
        assert_eq!(b.buffer(sid(11), b"u=1", 2, None), Ok(Buffered::Stored));
    }

    #[test]
    fn s7_most_recent_update_wins() {
        let mut b = PendingUpdates::new(4);
        b.buffer(sid(5), b"u=1", 0, None).unwrap();
        assert_eq!(b.buffer(sid(5), b"i", 0, None), Ok(Buffered::Replaced));
        assert_eq!(b.take(sid(5)), Some(Priority::new(3, true)));
        assert_eq!(b.take(sid(5)), None);
    }

    #[test]
    fn s7_unparseable_update_keeps_earlier() {
        let mut b = PendingUpdates::new(4);
        b.buffer(sid(5), b"u=1", 0, None).unwrap();
        assert_eq!(
            b.buffer(sid(5), b"u=1,", 0, None),
            Ok(Buffered::Unparseable)
        );
        assert_eq!(b.take(sid(5)), Some(Priority::new(1, false)));
    }

    #[test]
    fn s7_bounded_keeps_streams_that_open_first() {
        let mut b = PendingUpdates::new(2);
        b.buffer(sid(5), b"u=1", 0, None).unwrap();
        b.buffer(sid(9), b"u=2", 0, None).unwrap();
        assert_eq!(b.buffer(sid(11), b"u=3", 0, None), Ok(Buffered::Full));
        assert_eq!(b.buffer(sid(7), b"u=4", 0, None), Ok(Buffered::Stored));
        assert_eq!(b.len(), 2);
        assert_eq!(b.take(sid(9)), None); // evicted for 7 (and 5, 7 are below 9 anyway)
        let mut b = PendingUpdates::new(0);
        assert_eq!(b.buffer(sid(1), b"u=1", 0, None), Ok(Buffered::Full));
        assert!(b.is_empty());
    }

    #[test]
    fn rfc9113_5_1_1_opening_a_stream_closes_lower_idle_ones() {
        let mut b = PendingUpdates::new(8);
        for n in [1, 3, 5, 7] {
            b.buffer(sid(n), b"u=0", 0, None).unwrap();
        }
        assert_eq!(b.take(sid(5)), Some(Priority::new(0, false)));
        assert_eq!(b.len(), 1);
        assert_eq!(b.take(sid(1)), None);
        assert_eq!(b.take(sid(7)), Some(Priority::new(0, false)));
    }

    #[test]
    fn no_allocation_after_new() {
        let mut b = PendingUpdates::new(3);
        let cap = b.entries.capacity();
        for n in (1..200).step_by(2) {
            let _ = b.buffer(sid(n), b"u=1", 0, None);
            if n % 7 == 0 {
                b.take(sid(n));
            }
        }
        assert_eq!(b.entries.capacity(), cap);
    }
}
