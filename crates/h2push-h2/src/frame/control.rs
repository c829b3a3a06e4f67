//! The small fixed-layout frames: PING (RFC 9113 §6.7), GOAWAY (§6.8), RST_STREAM (§6.4)
//! and WINDOW_UPDATE (§6.9).
//!
//! This module owns their payloads' layouts; the decoder has checked their streams and
//! lengths before these parsers run. Answering a PING, closing on GOAWAY, the stream states
//! RST_STREAM and WINDOW_UPDATE may arrive in, and window overflow are `state`'s.

use bytes::{Buf, Bytes};

use super::{flag, FrameHead, StreamId};
use crate::error::{ConnectionError, ProtocolError, Reason, StreamError};

/// A PING frame (§6.7): 8 opaque octets, an ACK echoing them.
///
/// ```
/// use bytes::BytesMut;
/// use h2push_h2::frame::{Frame, FrameDecoder, Ping};
///
/// let mut buf = BytesMut::from(&b"\0\0\x08\x06\0\0\0\0\0abcdefgh"[..]);
/// let frame = FrameDecoder::new().decode(&mut buf).unwrap();
/// assert_eq!(frame, Some(Frame::Ping(Ping { ack: false, payload: *b"abcdefgh" })));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ping {
    /// ACK: this answers a PING.
    pub ack: bool,
    /// The opaque data.
    pub payload: [u8; 8],
}

impl Ping {
    /// The frame from its 8-octet payload.
    pub(crate) fn parse(head: &FrameHead, payload: &[u8]) -> Ping {
        let mut p = [0; 8];
        p.copy_from_slice(&payload[..8]);
        Ping {
            ack: head.has(flag::ACK),
            payload: p,
        }
    }
}

/// A GOAWAY frame (§6.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoAway {
    /// The last stream the sender may have processed.
    pub last_stream: StreamId,
    /// Why the connection is closing.
    pub reason: Reason,
    /// Opaque diagnostic data, a slice of the received buffer.
    pub debug_data: Bytes,
}

impl GoAway {
    /// The frame from its payload of 8 octets or more.
    pub(crate) fn parse(mut payload: Bytes) -> GoAway {
        let last_stream = StreamId::from_wire(payload.get_u32());
        let reason = Reason::from(payload.get_u32());
        GoAway {
            last_stream,
            reason,
            debug_data: payload,
        }
    }
}

/// A RST_STREAM frame (§6.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RstStream {
    /// The stream reset (never 0).
    pub stream: StreamId,
    /// Why.
    pub reason: Reason,
}

impl RstStream {
    /// The frame from its 4-octet payload.
    pub(crate) fn parse(head: &FrameHead, payload: &[u8]) -> RstStream {
        RstStream {
            stream: head.stream,
            reason: Reason::from(read_u32(payload)),
        }
    }
}

/// A WINDOW_UPDATE frame (§6.9); stream 0 is the connection's window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowUpdate {
    /// The stream whose window grows, or 0 for the connection's.
    pub stream: StreamId,
    /// The increment, 1 ..= 2^31 - 1 (the reserved bit dropped).
    pub increment: u32,
}

impl WindowUpdate {
    /// The frame from its 4-octet payload. An increment of 0 is PROTOCOL_ERROR: a stream
    /// error on a stream, a connection error on stream 0 (§6.9).
    pub(crate) fn parse(head: &FrameHead, payload: &[u8]) -> Result<WindowUpdate, ProtocolError> {
        let increment = read_u32(payload) & 0x7fff_ffff;
        if increment == 0 {
            const DETAIL: &str = "WINDOW_UPDATE increment of 0";
            return Err(if head.stream.is_zero() {
                ConnectionError::new(Reason::PROTOCOL_ERROR, DETAIL).into()
            } else {
                StreamError::new(head.stream, Reason::PROTOCOL_ERROR, DETAIL).into()
            });
        }
        Ok(WindowUpdate {
            stream: head.stream,
            increment,
        })
    }
}

fn read_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}
