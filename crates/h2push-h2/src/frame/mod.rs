//! HTTP/2 frames (RFC 9113 §4, §6): the 9-octet header, each frame type's payload, and the
//! size and flag rules that make a frame malformed.
//!
//! This module owns turning bytes into [`Frame`]s and frames into bytes. What a frame means
//! for a stream's state is `state`'s; header blocks are `hpack`'s.

mod stream_id;

pub use self::stream_id::StreamId;
