//! PRIORITY_UPDATE frames (RFC 9218 §7.1): a client's new priority for a stream.
//!
//! This module owns the payload's layout and its rules (stream 0 only, at least 4 octets,
//! a prioritized stream other than 0). Parsing the Priority Field Value (`u=`, `i`) and
//! what it does to the order of responses are `priority`'s; the rules about which streams
//! may be prioritized (idle, push, closed; RFC 9218 §7.1) are `state`'s.

use bytes::{Buf, Bytes};

use super::StreamId;
use crate::error::{ConnectionError, Reason};

/// A PRIORITY_UPDATE frame (type 0x10, RFC 9218 §7.1), always on stream 0.
///
/// ```
/// use bytes::BytesMut;
/// use h2push_h2::frame::{Frame, FrameDecoder};
/// use h2push_h2::StreamId;
///
/// let mut buf = BytesMut::from(&b"\0\0\x07\x10\0\0\0\0\0\0\0\0\x05u=1"[..]);
/// let Some(Frame::PriorityUpdate(p)) = FrameDecoder::new().decode(&mut buf).unwrap() else { panic!() };
/// assert_eq!(p.prioritized, StreamId::new(5));
/// assert_eq!(&p.field_value[..], b"u=1");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriorityUpdate {
    /// The stream whose priority changes (never 0).
    pub prioritized: StreamId,
    /// The Priority Field Value (ASCII, the `Priority` header's syntax), unparsed.
    pub field_value: Bytes,
}

impl PriorityUpdate {
    /// The frame from its payload of 4 octets or more. A prioritized stream of 0 is a
    /// connection error of type PROTOCOL_ERROR (RFC 9218 §7.1).
    pub(crate) fn parse(mut payload: Bytes) -> Result<PriorityUpdate, ConnectionError> {
        let prioritized = StreamId::from_wire(payload.get_u32());
        if prioritized.is_zero() {
            return Err(ConnectionError::new(
                Reason::PROTOCOL_ERROR,
                "PRIORITY_UPDATE for stream 0",
            ));
        }
        Ok(PriorityUpdate {
            prioritized,
            field_value: payload,
        })
    }
}
