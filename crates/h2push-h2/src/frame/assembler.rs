//! Joining a field block split over HEADERS or PUSH_PROMISE and CONTINUATION frames
//! (RFC 9113 §4.3, §6.10), with bounds against CONTINUATION floods.
//!
//! This module owns the pending block: what started it, the fragments so far, how many
//! CONTINUATION frames it took. That nothing interleaves with a block is the decoder's check
//! (it sees every frame header); decoding the block is `hpack`'s.

use bytes::{Bytes, BytesMut};

use super::{Frame, Headers, PushPromise, StreamId};
use crate::error::{ConnectionError, Reason};

/// The default bound on a joined field block, in octets (encoded, before HPACK).
pub const DEFAULT_MAX_HEADER_BLOCK: usize = 64 * 1024;

/// The default bound on the CONTINUATION frames of one field block.
pub const DEFAULT_MAX_CONTINUATIONS: usize = 32;

/// The frame that opens a field block, its `block` holding the first fragment.
#[derive(Debug)]
pub(crate) enum BlockStart {
    Headers(Headers),
    PushPromise(PushPromise),
}

impl BlockStart {
    fn stream(&self) -> StreamId {
        match self {
            BlockStart::Headers(h) => h.stream,
            BlockStart::PushPromise(p) => p.stream,
        }
    }

    fn block_mut(&mut self) -> &mut Bytes {
        match self {
            BlockStart::Headers(h) => &mut h.block,
            BlockStart::PushPromise(p) => &mut p.block,
        }
    }

    pub(crate) fn into_frame(self) -> Frame {
        match self {
            BlockStart::Headers(h) => Frame::Headers(h),
            BlockStart::PushPromise(p) => Frame::PushPromise(p),
        }
    }
}

#[derive(Debug)]
struct Pending {
    start: BlockStart,
    /// The fragments after the first; empty until a non-empty CONTINUATION arrives.
    joined: BytesMut,
    continuations: usize,
}

/// A field block being received. A block in one frame passes through without a copy;
/// one split over CONTINUATION frames is copied once into a buffer of its own.
#[derive(Debug)]
pub(crate) struct HeaderBlockAssembler {
    pub(crate) max_block: usize,
    pub(crate) max_continuations: usize,
    pending: Option<Pending>,
}

fn too_large() -> ConnectionError {
    ConnectionError::new(
        Reason::ENHANCE_YOUR_CALM,
        "field block larger than our limit",
    )
}

impl HeaderBlockAssembler {
    pub(crate) fn new() -> Self {
        HeaderBlockAssembler {
            max_block: DEFAULT_MAX_HEADER_BLOCK,
            max_continuations: DEFAULT_MAX_CONTINUATIONS,
            pending: None,
        }
    }

    /// The stream whose CONTINUATION must come next, if a block is open.
    pub(crate) fn expecting(&self) -> Option<StreamId> {
        self.pending.as_ref().map(|p| p.start.stream())
    }

    /// A HEADERS or PUSH_PROMISE frame: the whole block if `end_headers`, else `None` and
    /// CONTINUATION frames must follow.
    pub(crate) fn begin(
        &mut self,
        mut start: BlockStart,
        end_headers: bool,
    ) -> Result<Option<BlockStart>, ConnectionError> {
        if start.block_mut().len() > self.max_block {
            return Err(too_large());
        }
        if end_headers {
            return Ok(Some(start));
        }
        self.pending = Some(Pending {
            start,
            joined: BytesMut::new(),
            continuations: 0,
        });
        Ok(None)
    }

    /// A CONTINUATION frame's fragment (the decoder has checked it belongs to the open
    /// block): the whole block if `end_headers`, else `None`.
    ///
    /// More CONTINUATION frames than the bound, or a block longer than the bound, is a
    /// connection error of type ENHANCE_YOUR_CALM: the block cannot be skipped (HPACK state
    /// depends on it, §4.3), so refusing it ends the connection.
    pub(crate) fn continuation(
        &mut self,
        fragment: Bytes,
        end_headers: bool,
    ) -> Result<Option<BlockStart>, ConnectionError> {
        let Some(p) = self.pending.as_mut() else {
            return Err(ConnectionError::new(
                Reason::PROTOCOL_ERROR,
                "CONTINUATION without a field block",
            ));
        };
        p.continuations += 1;
        if p.continuations > self.max_continuations {
            return Err(ConnectionError::new(
                Reason::ENHANCE_YOUR_CALM,
                "too many CONTINUATION frames",
            ));
        }
        let first = p.start.block_mut();
        let total = first.len() + p.joined.len() + fragment.len();
        if total > self.max_block {
            return Err(too_large());
        }
        if !fragment.is_empty() {
            if p.joined.is_empty() {
                p.joined.reserve(total);
                p.joined.extend_from_slice(first);
            }
            p.joined.extend_from_slice(&fragment);
        }
        if !end_headers {
            return Ok(None);
        }
        let Some(Pending {
            mut start, joined, ..
        }) = self.pending.take()
        else {
            return Ok(None); // unreachable: `pending` was Some above
        };
        if !joined.is_empty() {
            *start.block_mut() = joined.freeze();
        }
        Ok(Some(start))
    }
}
