//! The 9-octet frame header (RFC 9113 §4.1): length, type, flags and stream identifier.
//!
//! This module owns the header's layout and the names of frame types and flags. Whether a
//! header is acceptable (its length against SETTINGS_MAX_FRAME_SIZE, the stream it may name)
//! is the decoder's; what a flag means for a stream is `state`'s.

use std::fmt;

use bytes::BufMut;

use super::StreamId;

/// The length of the frame header, in octets.
pub const HEAD_LEN: usize = 9;

/// The initial SETTINGS_MAX_FRAME_SIZE and its smallest legal value, 2^14 (§4.2, §6.5.2).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 1 << 14;

/// The largest legal SETTINGS_MAX_FRAME_SIZE, 2^24 - 1 (§6.5.2).
pub const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;

/// A frame type (§4.1, §6; RFC 9218 §7.1). Types without a constant here are extensions
/// this engine does not implement: they are decoded as [`Frame::Unknown`](super::Frame) and
/// ignored (§5.5).
///
/// ```
/// use h2push_h2::frame::FrameType;
///
/// assert_eq!(FrameType::from(0x4), FrameType::SETTINGS);
/// assert_eq!(format!("{:?}", FrameType::PRIORITY_UPDATE), "PRIORITY_UPDATE");
/// assert_eq!(format!("{:?}", FrameType::from(0xfa)), "FrameType(0xfa)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameType(u8);

impl FrameType {
    /// `0x0`: DATA (§6.1).
    pub const DATA: FrameType = FrameType(0x0);
    /// `0x1`: HEADERS (§6.2).
    pub const HEADERS: FrameType = FrameType(0x1);
    /// `0x2`: PRIORITY, deprecated (§6.3).
    pub const PRIORITY: FrameType = FrameType(0x2);
    /// `0x3`: RST_STREAM (§6.4).
    pub const RST_STREAM: FrameType = FrameType(0x3);
    /// `0x4`: SETTINGS (§6.5).
    pub const SETTINGS: FrameType = FrameType(0x4);
    /// `0x5`: PUSH_PROMISE (§6.6).
    pub const PUSH_PROMISE: FrameType = FrameType(0x5);
    /// `0x6`: PING (§6.7).
    pub const PING: FrameType = FrameType(0x6);
    /// `0x7`: GOAWAY (§6.8).
    pub const GOAWAY: FrameType = FrameType(0x7);
    /// `0x8`: WINDOW_UPDATE (§6.9).
    pub const WINDOW_UPDATE: FrameType = FrameType(0x8);
    /// `0x9`: CONTINUATION (§6.10).
    pub const CONTINUATION: FrameType = FrameType(0x9);
    /// `0x10`: PRIORITY_UPDATE (RFC 9218 §7.1).
    pub const PRIORITY_UPDATE: FrameType = FrameType(0x10);

    fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0 => "DATA",
            0x1 => "HEADERS",
            0x2 => "PRIORITY",
            0x3 => "RST_STREAM",
            0x4 => "SETTINGS",
            0x5 => "PUSH_PROMISE",
            0x6 => "PING",
            0x7 => "GOAWAY",
            0x8 => "WINDOW_UPDATE",
            0x9 => "CONTINUATION",
            0x10 => "PRIORITY_UPDATE",
            _ => return None,
        })
    }
}

impl From<u8> for FrameType {
    fn from(t: u8) -> FrameType {
        FrameType(t)
    }
}

impl From<FrameType> for u8 {
    fn from(t: FrameType) -> u8 {
        t.0
    }
}

impl fmt::Debug for FrameType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "FrameType({:#x})", self.0),
        }
    }
}

/// Frame flags (§6). Each constant applies to the frame types named; unused flags are
/// ignored on receipt and left unset when sending (§4.1).
pub mod flag {
    /// DATA, HEADERS: the last frame the sender sends on the stream.
    pub const END_STREAM: u8 = 0x1;
    /// SETTINGS, PING: an acknowledgement.
    pub const ACK: u8 = 0x1;
    /// HEADERS, PUSH_PROMISE, CONTINUATION: the field block ends in this frame.
    pub const END_HEADERS: u8 = 0x4;
    /// DATA, HEADERS, PUSH_PROMISE: a Pad Length field and padding are present.
    pub const PADDED: u8 = 0x8;
    /// HEADERS: the deprecated priority fields are present.
    pub const PRIORITY: u8 = 0x20;
}

/// A frame header as on the wire (§4.1). The reserved bit of the stream identifier is
/// dropped on receipt and never set when sending.
///
/// ```
/// use h2push_h2::frame::{flag, FrameHead, FrameType};
/// use h2push_h2::StreamId;
///
/// let head = FrameHead::new(5, FrameType::DATA, flag::END_STREAM, StreamId::new(1));
/// let wire = head.to_bytes();
/// assert_eq!(wire, [0, 0, 5, 0, 1, 0, 0, 0, 1]);
/// assert_eq!(FrameHead::parse(&wire), Some(head));
/// assert_eq!(FrameHead::parse(&wire[..8]), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FrameHead {
    /// The payload's length (24 bits), the header excluded.
    pub length: u32,
    /// The frame's type.
    pub kind: FrameType,
    /// The flags octet, as received.
    pub flags: u8,
    /// The stream the frame is on.
    pub stream: StreamId,
}

impl FrameHead {
    /// A header; `length` must fit in 24 bits (only its low 24 bits are written).
    pub const fn new(length: u32, kind: FrameType, flags: u8, stream: StreamId) -> FrameHead {
        FrameHead {
            length,
            kind,
            flags,
            stream,
        }
    }

    /// The header at the start of `buf`, or `None` if fewer than 9 octets are there.
    pub fn parse(buf: &[u8]) -> Option<FrameHead> {
        let b: &[u8; HEAD_LEN] = buf.get(..HEAD_LEN)?.try_into().ok()?;
        Some(FrameHead {
            length: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: FrameType(b[3]),
            flags: b[4],
            stream: StreamId::from_wire(u32::from_be_bytes([b[5], b[6], b[7], b[8]])),
        })
    }

    /// Whether every bit of `flag` is set.
    pub const fn has(&self, flag: u8) -> bool {
        self.flags & flag == flag
    }

    /// The 9 octets of this header.
    pub fn to_bytes(&self) -> [u8; HEAD_LEN] {
        let l = self.length.to_be_bytes();
        let s = u32::from(self.stream).to_be_bytes();
        [
            l[1],
            l[2],
            l[3],
            self.kind.0,
            self.flags,
            s[0],
            s[1],
            s[2],
            s[3],
        ]
    }

    /// Appends the 9 octets of this header to `dst`.
    pub fn write<B: BufMut>(&self, dst: &mut B) {
        dst.put_slice(&self.to_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_bit_is_ignored_on_receipt_4_1() {
        let wire = [0, 0, 0, 0x6, 0, 0x80, 0, 0, 0];
        let head = FrameHead::parse(&wire).unwrap();
        assert!(head.stream.is_zero());
        assert_eq!(head.kind, FrameType::PING);
    }

    #[test]
    fn length_is_24_bits_4_1() {
        let head = FrameHead::parse(&[0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 1]).unwrap();
        assert_eq!(head.length, MAX_MAX_FRAME_SIZE);
        assert_eq!(head.to_bytes()[..3], [0xff, 0xff, 0xff]);
    }
}
