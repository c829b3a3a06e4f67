//! DATA frames (RFC 9113 §6.1) and the padding DATA, HEADERS and PUSH_PROMISE share.
//!
//! This module owns a DATA payload's layout: the optional Pad Length, the data, the padding.
//! Flow control (a DATA frame's whole payload counts against the windows, padding included,
//! §6.9) and the stream states DATA is allowed in are `state`'s; this module only reports the
//! length that counts.

use bytes::{Buf, Bytes};

use super::{flag, FrameHead, StreamId};
use crate::error::{ConnectionError, Reason};

/// A DATA frame (§6.1). `data` is a slice of the received buffer, padding removed.
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use h2push_h2::frame::{Frame, FrameDecoder};
///
/// // DATA, PADDED | END_STREAM, stream 1: pad length 2, "hi", two octets of padding.
/// let mut buf = BytesMut::from(&b"\0\0\x05\0\x09\0\0\0\x01\x02hi\0\0"[..]);
/// let Some(Frame::Data(d)) = FrameDecoder::new().decode(&mut buf).unwrap() else { panic!() };
/// assert_eq!(d.data, Bytes::from_static(b"hi"));
/// assert!(d.end_stream);
/// assert_eq!(d.flow_len, 5); // padding counts against flow control
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Data {
    /// The stream (never 0).
    pub stream: StreamId,
    /// END_STREAM: the sender's last frame on the stream.
    pub end_stream: bool,
    /// The data, padding removed.
    pub data: Bytes,
    /// The whole payload's length, Pad Length and padding included: what the frame counts
    /// against the flow-control windows (§6.9).
    pub flow_len: u32,
}

impl Data {
    /// The frame carrying `data` on `stream`, unpadded.
    pub fn new(stream: StreamId, data: Bytes, end_stream: bool) -> Data {
        // Callers keep `data` within a frame: 2^24 - 1 at most.
        let flow_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        Data {
            stream,
            end_stream,
            data,
            flow_len,
        }
    }

    /// The frame `head` announced, from its whole `payload`. The decoder has checked the
    /// stream and the length.
    pub(crate) fn parse(head: &FrameHead, payload: Bytes) -> Result<Data, ConnectionError> {
        let data = strip_padding(head, payload, 0)?;
        Ok(Data {
            stream: head.stream,
            end_stream: head.has(flag::END_STREAM),
            data,
            flow_len: head.length,
        })
    }
}

/// The payload of a DATA, HEADERS or PUSH_PROMISE frame without its Pad Length field and
/// its padding, if PADDED is set; `fixed` octets (the priority fields, the promised stream)
/// must remain after the Pad Length field.
///
/// No room for the Pad Length field or the fixed fields is FRAME_SIZE_ERROR ("too small to
/// contain mandatory frame data", §4.2); padding as long as the payload or longer is
/// PROTOCOL_ERROR (§6.1, §6.2), and so is padding that leaves no room for the fixed fields.
/// Both are connection errors: the frames that carry padding change connection state (a
/// field block, or the connection's flow-control window).
pub(crate) fn strip_padding(
    head: &FrameHead,
    mut payload: Bytes,
    fixed: usize,
) -> Result<Bytes, ConnectionError> {
    if !head.has(flag::PADDED) {
        if payload.len() < fixed {
            return Err(ConnectionError::new(
                Reason::FRAME_SIZE_ERROR,
                "frame too short for its fixed fields",
            ));
        }
        return Ok(payload);
    }
    if payload.len() < 1 + fixed {
        return Err(ConnectionError::new(
            Reason::FRAME_SIZE_ERROR,
            "padded frame too short for Pad Length and its fixed fields",
        ));
    }
    let pad = usize::from(payload[0]);
    if pad >= payload.len() {
        return Err(ConnectionError::new(
            Reason::PROTOCOL_ERROR,
            "padding as long as the payload or longer",
        ));
    }
    if pad > payload.len() - 1 - fixed {
        return Err(ConnectionError::new(
            Reason::PROTOCOL_ERROR,
            "padding exceeds the room left by the fixed fields",
        ));
    }
    let end = payload.len() - pad;
    payload.truncate(end);
    payload.advance(1);
    Ok(payload)
}
