//! HTTP/2 frames (RFC 9113 §4, §6; RFC 9218 §7.1): the 9-octet header, each frame type's
//! payload, and the size and flag rules that make a frame malformed.
//!
//! This module owns turning bytes into [`Frame`]s ([`FrameDecoder`]) and frames into bytes
//! ([`FrameEncoder`]), joining CONTINUATION frames into whole field blocks, and recognising
//! the client preface ([`check_preface`]). What a frame means for a stream's state and for
//! flow control is `state`'s; field blocks are `hpack`'s; Priority Field Values are
//! `priority`'s.
//!
//! ```
//! use bytes::BytesMut;
//! use h2push_h2::frame::{Frame, FrameDecoder, FrameEncoder, Settings};
//! use h2push_h2::StreamId;
//!
//! let enc = FrameEncoder::new();
//! let mut out = BytesMut::new();
//! enc.settings(&mut out, &Settings { max_concurrent_streams: Some(100), ..Settings::default() });
//! enc.headers(&mut out, StreamId::new(1), b"\x88", false);
//! enc.data(&mut out, StreamId::new(1), b"hello", true);
//!
//! let mut dec = FrameDecoder::new();
//! let mut kinds = Vec::new();
//! while let Some(frame) = dec.decode(&mut out).unwrap() {
//!     kinds.push(frame);
//! }
//! assert!(matches!(kinds[..], [Frame::Settings(_), Frame::Headers(_), Frame::Data(_)]));
//! ```

mod assembler;
mod control;
mod data;
mod decoder;
mod encoder;
mod head;
mod headers;
mod preface;
mod priority_update;
mod settings;
mod stream_id;

use bytes::Bytes;

pub use self::assembler::{DEFAULT_MAX_CONTINUATIONS, DEFAULT_MAX_HEADER_BLOCK};
pub use self::control::{GoAway, Ping, RstStream, WindowUpdate};
pub use self::data::Data;
pub use self::decoder::FrameDecoder;
pub use self::encoder::FrameEncoder;
pub use self::head::{
    flag, FrameHead, FrameType, DEFAULT_MAX_FRAME_SIZE, HEAD_LEN, MAX_MAX_FRAME_SIZE,
};
pub use self::headers::{Headers, Priority, PrioritySpec, PushPromise};
pub use self::preface::{check_preface, PrefaceCheck, PREFACE};
pub use self::priority_update::PriorityUpdate;
pub use self::settings::{setting, Settings, MAX_WINDOW_SIZE};
pub use self::stream_id::StreamId;

/// One HTTP/2 frame, as the server receives or sends it. HEADERS and PUSH_PROMISE carry
/// their whole field block: CONTINUATION frames are joined by the decoder and written by
/// the encoder, and never appear on their own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// DATA (§6.1).
    Data(Data),
    /// HEADERS and its CONTINUATION frames (§6.2, §6.10).
    Headers(Headers),
    /// PRIORITY (§6.3), deprecated: to be ignored.
    Priority(Priority),
    /// RST_STREAM (§6.4).
    RstStream(RstStream),
    /// SETTINGS without ACK (§6.5).
    Settings(Settings),
    /// SETTINGS with ACK (§6.5).
    SettingsAck,
    /// PUSH_PROMISE and its CONTINUATION frames (§6.6, §6.10).
    PushPromise(PushPromise),
    /// PING (§6.7).
    Ping(Ping),
    /// GOAWAY (§6.8).
    GoAway(GoAway),
    /// WINDOW_UPDATE (§6.9).
    WindowUpdate(WindowUpdate),
    /// PRIORITY_UPDATE (RFC 9218 §7.1).
    PriorityUpdate(PriorityUpdate),
    /// A type this engine does not implement: to be ignored (§4.1, §5.5).
    Unknown(Unknown),
}

impl Frame {
    /// The stream the frame is on (0 for the connection-level frames).
    pub fn stream(&self) -> StreamId {
        match self {
            Frame::Data(f) => f.stream,
            Frame::Headers(f) => f.stream,
            Frame::Priority(f) => f.stream,
            Frame::RstStream(f) => f.stream,
            Frame::PushPromise(f) => f.stream,
            Frame::WindowUpdate(f) => f.stream,
            Frame::Unknown(f) => f.stream,
            Frame::Settings(_)
            | Frame::SettingsAck
            | Frame::Ping(_)
            | Frame::GoAway(_)
            | Frame::PriorityUpdate(_) => StreamId::ZERO,
        }
    }
}

/// A frame of a type this engine does not implement (an extension, §5.5), kept as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unknown {
    /// Its type.
    pub kind: FrameType,
    /// Its flags.
    pub flags: u8,
    /// Its stream.
    pub stream: StreamId,
    /// Its payload, a slice of the received buffer.
    pub payload: Bytes,
}
