//! Helpers for the frame tests: raw frames as byte strings, and the error a decode gave.

#![allow(dead_code)]

use bytes::BytesMut;
use h2push_h2::error::ProtocolError;
use h2push_h2::frame::{Frame, FrameDecoder};
use h2push_h2::{Reason, StreamId};

/// A frame on the wire: 9-octet header, then `payload`.
pub fn raw(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut v = Vec::with_capacity(9 + payload.len());
    v.extend_from_slice(&len.to_be_bytes()[1..]);
    v.push(kind);
    v.push(flags);
    v.extend_from_slice(&stream.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// Decodes `bytes` with a fresh decoder.
pub fn decode(bytes: &[u8]) -> Result<Option<Frame>, ProtocolError> {
    FrameDecoder::new().decode(&mut BytesMut::from(bytes))
}

/// Every frame in `bytes`, with a fresh decoder, stopping at the first error.
pub fn decode_all(bytes: &[u8]) -> Result<Vec<Frame>, ProtocolError> {
    let mut dec = FrameDecoder::new();
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(f) = dec.decode(&mut buf)? {
        out.push(f);
    }
    Ok(out)
}

/// The reason of a connection error; panics on anything else.
#[track_caller]
pub fn conn_err(r: Result<Option<Frame>, ProtocolError>) -> Reason {
    match r {
        Err(ProtocolError::Connection(e)) => e.reason,
        other => panic!("expected a connection error, got {other:?}"),
    }
}

/// The stream and reason of a stream error; panics on anything else.
#[track_caller]
pub fn stream_err(r: Result<Option<Frame>, ProtocolError>) -> (StreamId, Reason) {
    match r {
        Err(ProtocolError::Stream(e)) => (e.stream, e.reason),
        other => panic!("expected a stream error, got {other:?}"),
    }
}

/// Stream `n`.
pub fn sid(n: u32) -> StreamId {
    StreamId::new(n)
}
