//! HEADERS (RFC 9113 §6.2), PUSH_PROMISE (§6.6) and PRIORITY (§6.3) frames, and the
//! deprecated priority fields HEADERS may carry.
//!
//! This module owns these payloads' layouts: padding, the priority fields, the promised
//! stream. Joining a field block split over CONTINUATION frames (§6.10) is the decoder's
//! (`assembler`); what the block says is `hpack`'s; whether a stream may be opened or
//! promised is `state`'s. RFC 9113 deprecates the RFC 7540 priority tree (§5.3.2), so the
//! priority fields are parsed and checked, and the engine otherwise ignores them.

use bytes::{Buf, Bytes};

use super::data::strip_padding;
use super::{flag, FrameHead, StreamId};
use crate::error::ConnectionError;

/// The RFC 7540 priority fields of HEADERS and PRIORITY: a dependency, exclusive or not, and
/// a weight. Deprecated (RFC 9113 §5.3.2): parsed so a self-dependency can be refused
/// (RFC 7540 §5.3.1), otherwise ignored.
///
/// ```
/// use h2push_h2::frame::PrioritySpec;
/// use h2push_h2::StreamId;
///
/// let p = PrioritySpec::parse([0x80, 0, 0, 3, 15]);
/// assert_eq!(p, PrioritySpec { dependency: StreamId::new(3), exclusive: true, weight: 15 });
/// assert_eq!(p.to_bytes(), [0x80, 0, 0, 3, 15]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrioritySpec {
    /// The stream depended on (0: the root).
    pub dependency: StreamId,
    /// The E bit.
    pub exclusive: bool,
    /// The weight as on the wire: the weight minus one, 0..=255.
    pub weight: u8,
}

impl PrioritySpec {
    /// The fields from their 5 octets.
    pub fn parse(b: [u8; 5]) -> PrioritySpec {
        let dep = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        PrioritySpec {
            dependency: StreamId::from_wire(dep),
            exclusive: dep & 0x8000_0000 != 0,
            weight: b[4],
        }
    }

    /// The 5 octets of these fields.
    pub fn to_bytes(&self) -> [u8; 5] {
        let mut dep = u32::from(self.dependency);
        if self.exclusive {
            dep |= 0x8000_0000;
        }
        let d = dep.to_be_bytes();
        [d[0], d[1], d[2], d[3], self.weight]
    }

    fn take(payload: &mut Bytes) -> PrioritySpec {
        let mut b = [0; 5];
        payload.copy_to_slice(&mut b);
        PrioritySpec::parse(b)
    }
}

/// A HEADERS frame with its whole field block (§6.2): the decoder joins the CONTINUATION
/// frames that follow a HEADERS without END_HEADERS, so `block` is always complete.
///
/// ```
/// use bytes::BytesMut;
/// use h2push_h2::frame::{Frame, FrameDecoder};
///
/// // HEADERS, END_HEADERS | END_STREAM, stream 1, block 0x82 (":method: GET").
/// let mut buf = BytesMut::from(&b"\0\0\x01\x01\x05\0\0\0\x01\x82"[..]);
/// let Some(Frame::Headers(h)) = FrameDecoder::new().decode(&mut buf).unwrap() else { panic!() };
/// assert_eq!(&h.block[..], b"\x82");
/// assert!(h.end_stream);
/// assert_eq!(h.priority, None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Headers {
    /// The stream (never 0).
    pub stream: StreamId,
    /// END_STREAM: the sender sends nothing more on the stream (a request without a body,
    /// or trailers).
    pub end_stream: bool,
    /// The deprecated priority fields, when the PRIORITY flag was set.
    pub priority: Option<PrioritySpec>,
    /// The encoded field block, padding removed, CONTINUATION fragments joined.
    pub block: Bytes,
}

impl Headers {
    /// The first fragment of a HEADERS frame from its whole `payload` (§6.2).
    pub(crate) fn parse(head: &FrameHead, payload: Bytes) -> Result<Headers, ConnectionError> {
        let with_priority = head.has(flag::PRIORITY);
        let fixed = if with_priority { 5 } else { 0 };
        let mut rest = strip_padding(head, payload, fixed)?;
        let priority = with_priority.then(|| PrioritySpec::take(&mut rest));
        Ok(Headers {
            stream: head.stream,
            end_stream: head.has(flag::END_STREAM),
            priority,
            block: rest,
        })
    }

    /// Whether the priority fields make the stream depend on itself (RFC 7540 §5.3.1).
    pub fn depends_on_itself(&self) -> bool {
        self.priority.is_some_and(|p| p.dependency == self.stream)
    }
}

/// A PUSH_PROMISE frame with its whole field block (§6.6), CONTINUATION fragments joined.
/// The server sends these; a client that sends one commits a connection error (§8.4), which
/// is `state`'s to report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushPromise {
    /// The stream the promise is made on (the request's).
    pub stream: StreamId,
    /// The stream reserved for the pushed response.
    pub promised: StreamId,
    /// The encoded field block of the promised request.
    pub block: Bytes,
}

impl PushPromise {
    /// The first fragment of a PUSH_PROMISE frame from its whole `payload` (§6.6).
    pub(crate) fn parse(head: &FrameHead, payload: Bytes) -> Result<PushPromise, ConnectionError> {
        let mut rest = strip_padding(head, payload, 4)?;
        let promised = StreamId::from_wire(rest.get_u32());
        Ok(PushPromise {
            stream: head.stream,
            promised,
            block: rest,
        })
    }
}

/// A PRIORITY frame (§6.3): deprecated, length-checked and otherwise ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Priority {
    /// The stream being prioritized (never 0).
    pub stream: StreamId,
    /// Its priority fields.
    pub spec: PrioritySpec,
}

impl Priority {
    /// The frame from its 5-octet payload (the decoder checked the length).
    pub(crate) fn parse(head: &FrameHead, mut payload: Bytes) -> Priority {
        Priority {
            stream: head.stream,
            spec: PrioritySpec::take(&mut payload),
        }
    }
}
