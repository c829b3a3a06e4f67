//! Writing frames (RFC 9113 §4, §6) into a buffer the connection sends from.
//!
//! This module owns the wire layout of what the server sends, and splitting field blocks
//! into CONTINUATION frames at the peer's SETTINGS_MAX_FRAME_SIZE. It writes into any
//! [`BufMut`] (a `BytesMut` or a `Vec<u8>` the connection reuses), so one batch of frames is
//! one write and no frame allocates. It does not decide what to send: flow control (how much
//! DATA may go), HPACK encoding, stream states and frame order are the callers'.

use bytes::BufMut;

use super::{
    flag, Frame, FrameHead, FrameType, Settings, StreamId, DEFAULT_MAX_FRAME_SIZE,
    MAX_MAX_FRAME_SIZE,
};
use crate::error::Reason;

/// Writes frames sized for one peer: DATA and field blocks are cut at the peer's
/// SETTINGS_MAX_FRAME_SIZE.
///
/// ```
/// use h2push_h2::frame::FrameEncoder;
/// use h2push_h2::StreamId;
///
/// let enc = FrameEncoder::new();
/// let mut out = Vec::new();
/// enc.window_update(&mut out, StreamId::ZERO, 1 << 20);
/// assert_eq!(out, [0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0x10, 0, 0]);
///
/// // A large body: write the header, then send the body's own `Bytes` after it.
/// out.clear();
/// let body = bytes::Bytes::from(vec![7u8; 20_000]);
/// let n = enc.data_head(&mut out, StreamId::new(1), body.len(), true);
/// assert_eq!(n, 16_384); // the peer's max frame size: the rest goes in another frame
/// assert_eq!(out.len(), 9);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct FrameEncoder {
    max_frame_size: u32,
}

impl Default for FrameEncoder {
    fn default() -> Self {
        FrameEncoder::new()
    }
}

fn head<B: BufMut>(dst: &mut B, len: usize, kind: FrameType, flags: u8, stream: StreamId) {
    // Every length written here is at most the max frame size, which fits in 24 bits.
    FrameHead::new(len as u32, kind, flags, stream).write(dst);
}

impl FrameEncoder {
    /// An encoder for a peer that has not changed SETTINGS_MAX_FRAME_SIZE (2^14).
    pub fn new() -> FrameEncoder {
        FrameEncoder {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
        }
    }

    /// The peer's SETTINGS_MAX_FRAME_SIZE, clamped to 2^14 ..= 2^24 - 1.
    pub fn set_max_frame_size(&mut self, size: u32) {
        self.max_frame_size = size.clamp(DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE);
    }

    /// The largest payload this encoder writes in one frame.
    pub fn max_frame_size(&self) -> u32 {
        self.max_frame_size
    }

    fn max(&self) -> usize {
        self.max_frame_size as usize
    }

    /// SETTINGS with the settings present in `settings` (§6.5).
    pub fn settings<B: BufMut>(&self, dst: &mut B, settings: &Settings) {
        head(
            dst,
            settings.payload_len(),
            FrameType::SETTINGS,
            0,
            StreamId::ZERO,
        );
        settings.write_payload(dst);
    }

    /// SETTINGS with ACK (§6.5.3).
    pub fn settings_ack<B: BufMut>(&self, dst: &mut B) {
        head(dst, 0, FrameType::SETTINGS, flag::ACK, StreamId::ZERO);
    }

    /// PING carrying `payload` (§6.7).
    pub fn ping<B: BufMut>(&self, dst: &mut B, payload: [u8; 8]) {
        head(dst, 8, FrameType::PING, 0, StreamId::ZERO);
        dst.put_slice(&payload);
    }

    /// PING with ACK, echoing a received PING's `payload` (§6.7).
    pub fn ping_ack<B: BufMut>(&self, dst: &mut B, payload: [u8; 8]) {
        head(dst, 8, FrameType::PING, flag::ACK, StreamId::ZERO);
        dst.put_slice(&payload);
    }

    /// GOAWAY (§6.8). `debug_data` is cut to fit one frame.
    pub fn goaway<B: BufMut>(
        &self,
        dst: &mut B,
        last_stream: StreamId,
        reason: Reason,
        debug_data: &[u8],
    ) {
        let debug = &debug_data[..debug_data.len().min(self.max() - 8)];
        head(dst, 8 + debug.len(), FrameType::GOAWAY, 0, StreamId::ZERO);
        dst.put_u32(last_stream.into());
        dst.put_u32(reason.into());
        dst.put_slice(debug);
    }

    /// RST_STREAM (§6.4).
    pub fn rst_stream<B: BufMut>(&self, dst: &mut B, stream: StreamId, reason: Reason) {
        head(dst, 4, FrameType::RST_STREAM, 0, stream);
        dst.put_u32(reason.into());
    }

    /// WINDOW_UPDATE (§6.9); `increment` must be 1 ..= 2^31 - 1 (its high bit is dropped).
    pub fn window_update<B: BufMut>(&self, dst: &mut B, stream: StreamId, increment: u32) {
        head(dst, 4, FrameType::WINDOW_UPDATE, 0, stream);
        dst.put_u32(increment & 0x7fff_ffff);
    }

    /// HEADERS carrying an encoded field block (§6.2), followed by as many CONTINUATION
    /// frames as the peer's max frame size needs (§6.10).
    pub fn headers<B: BufMut>(
        &self,
        dst: &mut B,
        stream: StreamId,
        block: &[u8],
        end_stream: bool,
    ) {
        let flags = if end_stream { flag::END_STREAM } else { 0 };
        self.field_block(dst, FrameType::HEADERS, flags, stream, &[], block);
    }

    /// PUSH_PROMISE on `stream` reserving `promised`, carrying the promised request's
    /// encoded field block (§6.6), followed by CONTINUATION frames as needed (§6.10).
    pub fn push_promise<B: BufMut>(
        &self,
        dst: &mut B,
        stream: StreamId,
        promised: StreamId,
        block: &[u8],
    ) {
        let prefix = u32::from(promised).to_be_bytes();
        self.field_block(dst, FrameType::PUSH_PROMISE, 0, stream, &prefix, block);
    }

    fn field_block<B: BufMut>(
        &self,
        dst: &mut B,
        kind: FrameType,
        flags: u8,
        stream: StreamId,
        prefix: &[u8],
        block: &[u8],
    ) {
        let first = block.len().min(self.max() - prefix.len());
        let (chunk, mut rest) = block.split_at(first);
        let end = if rest.is_empty() {
            flag::END_HEADERS
        } else {
            0
        };
        head(dst, prefix.len() + chunk.len(), kind, flags | end, stream);
        dst.put_slice(prefix);
        dst.put_slice(chunk);
        while !rest.is_empty() {
            let (chunk, r) = rest.split_at(rest.len().min(self.max()));
            rest = r;
            let end = if rest.is_empty() {
                flag::END_HEADERS
            } else {
                0
            };
            head(dst, chunk.len(), FrameType::CONTINUATION, end, stream);
            dst.put_slice(chunk);
        }
    }

    /// DATA frames carrying a copy of `data` (§6.1), cut at the peer's max frame size;
    /// END_STREAM, if asked for, on the last. An empty `data` writes one empty frame. For
    /// small payloads, so a batch of frames is one buffer.
    pub fn data<B: BufMut>(&self, dst: &mut B, stream: StreamId, data: &[u8], end_stream: bool) {
        let mut rest = data;
        loop {
            let (chunk, r) = rest.split_at(rest.len().min(self.max()));
            rest = r;
            let flags = if end_stream && rest.is_empty() {
                flag::END_STREAM
            } else {
                0
            };
            head(dst, chunk.len(), FrameType::DATA, flags, stream);
            dst.put_slice(chunk);
            if rest.is_empty() {
                return;
            }
        }
    }

    /// Only the 9-octet header of a DATA frame whose payload the caller sends next, from
    /// its own buffer (a large `Bytes` body, not copied). The frame carries
    /// `min(len, max frame size)` octets, which this returns; END_STREAM is set only if
    /// asked for and the frame carries all `len`.
    pub fn data_head<B: BufMut>(
        &self,
        dst: &mut B,
        stream: StreamId,
        len: usize,
        end_stream: bool,
    ) -> usize {
        let n = len.min(self.max());
        let flags = if end_stream && n == len {
            flag::END_STREAM
        } else {
            0
        };
        head(dst, n, FrameType::DATA, flags, stream);
        n
    }

    /// PRIORITY_UPDATE (RFC 9218 §7.1), which clients send; here for tests and
    /// completeness. `field_value` is cut to fit one frame.
    pub fn priority_update<B: BufMut>(
        &self,
        dst: &mut B,
        prioritized: StreamId,
        field_value: &[u8],
    ) {
        let value = &field_value[..field_value.len().min(self.max() - 4)];
        head(
            dst,
            4 + value.len(),
            FrameType::PRIORITY_UPDATE,
            0,
            StreamId::ZERO,
        );
        dst.put_u32(prioritized.into());
        dst.put_slice(value);
    }

    /// Any frame. DATA is written unpadded (and split like [`data`](Self::data)), HEADERS
    /// with its priority fields if it has them; the payload of an unknown frame, GOAWAY's
    /// debug data and PRIORITY_UPDATE's field value are cut to fit one frame.
    pub fn frame<B: BufMut>(&self, dst: &mut B, frame: &Frame) {
        match frame {
            Frame::Data(d) => self.data(dst, d.stream, &d.data, d.end_stream),
            Frame::Headers(h) => {
                let mut flags = if h.end_stream { flag::END_STREAM } else { 0 };
                let prefix = h.priority.map(|p| p.to_bytes());
                if prefix.is_some() {
                    flags |= flag::PRIORITY;
                }
                let prefix: &[u8] = prefix.as_ref().map_or(&[], |p| p);
                self.field_block(dst, FrameType::HEADERS, flags, h.stream, prefix, &h.block);
            }
            Frame::Priority(p) => {
                head(dst, 5, FrameType::PRIORITY, 0, p.stream);
                dst.put_slice(&p.spec.to_bytes());
            }
            Frame::RstStream(r) => self.rst_stream(dst, r.stream, r.reason),
            Frame::Settings(s) => self.settings(dst, s),
            Frame::SettingsAck => self.settings_ack(dst),
            Frame::PushPromise(p) => self.push_promise(dst, p.stream, p.promised, &p.block),
            Frame::Ping(p) if p.ack => self.ping_ack(dst, p.payload),
            Frame::Ping(p) => self.ping(dst, p.payload),
            Frame::GoAway(g) => self.goaway(dst, g.last_stream, g.reason, &g.debug_data),
            Frame::WindowUpdate(w) => self.window_update(dst, w.stream, w.increment),
            Frame::PriorityUpdate(p) => self.priority_update(dst, p.prioritized, &p.field_value),
            Frame::Unknown(u) => {
                let payload = &u.payload[..u.payload.len().min(self.max())];
                head(dst, payload.len(), u.kind, u.flags, u.stream);
                dst.put_slice(payload);
            }
        }
    }
}
