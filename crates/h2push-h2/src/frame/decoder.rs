//! Turning received bytes into [`Frame`]s, with every size, stream and flag rule of RFC 9113
//! §4 and §6 (and RFC 9218 §7.1) that a frame alone can break.
//!
//! This module owns the order of the checks and which rule gives which error: the frame
//! header is checked as soon as its 9 octets are there, before the payload is buffered, so a
//! hostile length costs nothing. It joins CONTINUATION frames into one field block. What
//! needs stream or connection state (idle streams, flow-control windows, a client's
//! PUSH_PROMISE, the SETTINGS that must follow the preface) is `state`'s.

use bytes::{Buf, BytesMut};

use super::assembler::{BlockStart, HeaderBlockAssembler};
use super::{
    flag, Data, Frame, FrameHead, FrameType, GoAway, Headers, Ping, Priority, PriorityUpdate,
    PushPromise, RstStream, Settings, Unknown, WindowUpdate, DEFAULT_MAX_FRAME_SIZE, HEAD_LEN,
    MAX_MAX_FRAME_SIZE,
};
use crate::error::{ConnectionError, ProtocolError, Reason, StreamError};

/// Decodes frames from a buffer of received bytes, one complete frame per call.
///
/// On a stream error the offending frame is consumed (or, if its payload has not arrived,
/// skipped as it does) and decoding may go on; on a connection error the decoder stops and
/// returns that error from then on.
///
/// ```
/// use bytes::BytesMut;
/// use h2push_h2::frame::{Frame, FrameDecoder, Settings};
///
/// let mut dec = FrameDecoder::new();
/// // A SETTINGS frame arriving in two reads.
/// let mut buf = BytesMut::from(&b"\0\0\x06\x04\0\0\0\0\0\0\x02"[..]);
/// assert_eq!(dec.decode(&mut buf).unwrap(), None);
/// buf.extend_from_slice(b"\0\0\0\0");
/// let s = Settings { enable_push: Some(false), ..Settings::default() };
/// assert_eq!(dec.decode(&mut buf).unwrap(), Some(Frame::Settings(s)));
/// assert!(buf.is_empty());
/// ```
#[derive(Debug)]
pub struct FrameDecoder {
    max_frame_size: u32,
    /// Octets of a refused frame still to discard.
    skip: usize,
    assembler: HeaderBlockAssembler,
    rejected: Option<Headers>,
    failed: Option<ConnectionError>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new()
    }
}

fn conn(reason: Reason, detail: &'static str) -> ProtocolError {
    ConnectionError::new(reason, detail).into()
}

fn is_known(kind: FrameType) -> bool {
    u8::from(kind) <= 0x9 || kind == FrameType::PRIORITY_UPDATE
}

impl FrameDecoder {
    /// A decoder accepting frames up to 2^14 octets, the initial SETTINGS_MAX_FRAME_SIZE.
    pub fn new() -> FrameDecoder {
        FrameDecoder {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            skip: 0,
            assembler: HeaderBlockAssembler::new(),
            rejected: None,
            failed: None,
        }
    }

    /// Accept payloads up to `size` octets: the SETTINGS_MAX_FRAME_SIZE we advertised, once
    /// the peer has acknowledged it. Clamped to 2^14 ..= 2^24 - 1.
    pub fn set_max_frame_size(&mut self, size: u32) {
        self.max_frame_size = size.clamp(DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE);
    }

    /// The largest payload accepted.
    pub fn max_frame_size(&self) -> u32 {
        self.max_frame_size
    }

    /// Bounds a field block: at most `max_block` encoded octets (all fragments together)
    /// and `max_continuations` CONTINUATION frames. Beyond either, the connection fails
    /// with ENHANCE_YOUR_CALM. Defaults: [`DEFAULT_MAX_HEADER_BLOCK`](super::DEFAULT_MAX_HEADER_BLOCK)
    /// and [`DEFAULT_MAX_CONTINUATIONS`](super::DEFAULT_MAX_CONTINUATIONS).
    pub fn set_header_block_limits(&mut self, max_block: usize, max_continuations: usize) {
        self.assembler.max_block = max_block;
        self.assembler.max_continuations = max_continuations;
    }

    /// Whether a field block is open: only its CONTINUATION frames may come next (§6.10).
    pub fn in_header_block(&self) -> bool {
        self.assembler.expecting().is_some()
    }

    /// The HEADERS refused with a stream error by the last [`decode`](Self::decode) (a
    /// stream depending on itself). Its block must still go through HPACK, or the decoder
    /// tables of the two ends part ways (§4.3).
    pub fn take_rejected_headers(&mut self) -> Option<Headers> {
        self.rejected.take()
    }

    /// Decodes the next frame from the front of `buf`, consuming it: `Ok(None)` until a
    /// whole frame (a whole field block, for HEADERS and PUSH_PROMISE) is there. Payloads
    /// are slices of `buf`'s memory, not copies.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        if let Some(e) = &self.failed {
            return Err(e.clone().into());
        }
        self.rejected = None;
        match self.decode_inner(buf) {
            Err(ProtocolError::Connection(e)) => {
                self.failed = Some(e.clone());
                Err(e.into())
            }
            other => other,
        }
    }

    fn decode_inner(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        loop {
            if self.skip > 0 {
                let n = self.skip.min(buf.len());
                buf.advance(n);
                self.skip -= n;
                if self.skip > 0 {
                    return Ok(None);
                }
            }
            let Some(head) = FrameHead::parse(buf) else {
                return Ok(None);
            };
            if let Err(e) = self.check_head(&head) {
                if let ProtocolError::Stream(_) = e {
                    buf.advance(HEAD_LEN);
                    self.skip = head.length as usize;
                }
                return Err(e);
            }
            let len = HEAD_LEN + head.length as usize;
            if buf.len() < len {
                buf.reserve(len - buf.len());
                return Ok(None);
            }
            let mut payload = buf.split_to(len).freeze();
            payload.advance(HEAD_LEN);
            if let Some(frame) = self.parse(&head, payload)? {
                return Ok(Some(frame));
            }
        }
    }

    /// The rules a frame header alone can break (§4.2, §6, RFC 9218 §7.1).
    fn check_head(&self, head: &FrameHead) -> Result<(), ProtocolError> {
        use Reason as R;
        let kind = head.kind;
        let zero = head.stream.is_zero();
        if let Some(stream) = self.assembler.expecting() {
            if kind != FrameType::CONTINUATION || head.stream != stream {
                return Err(conn(
                    R::PROTOCOL_ERROR,
                    "frame interleaved in a field block",
                ));
            }
        } else if kind == FrameType::CONTINUATION {
            return Err(conn(
                R::PROTOCOL_ERROR,
                "CONTINUATION without a field block",
            ));
        }
        if head.length > self.max_frame_size {
            const DETAIL: &str = "frame larger than SETTINGS_MAX_FRAME_SIZE";
            // §4.2: a connection error for frames that can change the connection's state;
            // DATA counts against the connection's window, so it is one of them.
            return Err(
                if !zero && (kind == FrameType::PRIORITY || !is_known(kind)) {
                    StreamError::new(head.stream, R::FRAME_SIZE_ERROR, DETAIL).into()
                } else {
                    conn(R::FRAME_SIZE_ERROR, DETAIL)
                },
            );
        }
        let len = head.length;
        match kind {
            FrameType::DATA | FrameType::HEADERS | FrameType::PUSH_PROMISE if zero => Err(conn(
                R::PROTOCOL_ERROR,
                "DATA, HEADERS or PUSH_PROMISE on stream 0",
            )),
            FrameType::CONTINUATION if zero => {
                Err(conn(R::PROTOCOL_ERROR, "CONTINUATION on stream 0"))
            }
            FrameType::PRIORITY if zero => Err(conn(R::PROTOCOL_ERROR, "PRIORITY on stream 0")),
            FrameType::PRIORITY if len != 5 => {
                Err(
                    StreamError::new(head.stream, R::FRAME_SIZE_ERROR, "PRIORITY length not 5")
                        .into(),
                )
            }
            FrameType::RST_STREAM if zero => Err(conn(R::PROTOCOL_ERROR, "RST_STREAM on stream 0")),
            FrameType::RST_STREAM if len != 4 => {
                Err(conn(R::FRAME_SIZE_ERROR, "RST_STREAM length not 4"))
            }
            FrameType::SETTINGS | FrameType::PING | FrameType::GOAWAY if !zero => Err(conn(
                R::PROTOCOL_ERROR,
                "SETTINGS, PING or GOAWAY on a stream other than 0",
            )),
            FrameType::SETTINGS if head.has(flag::ACK) && len != 0 => {
                Err(conn(R::FRAME_SIZE_ERROR, "SETTINGS ACK with a payload"))
            }
            FrameType::SETTINGS if len % 6 != 0 => Err(conn(
                R::FRAME_SIZE_ERROR,
                "SETTINGS length not a multiple of 6",
            )),
            FrameType::PING if len != 8 => Err(conn(R::FRAME_SIZE_ERROR, "PING length not 8")),
            FrameType::GOAWAY if len < 8 => {
                Err(conn(R::FRAME_SIZE_ERROR, "GOAWAY shorter than 8 octets"))
            }
            FrameType::WINDOW_UPDATE if len != 4 => {
                Err(conn(R::FRAME_SIZE_ERROR, "WINDOW_UPDATE length not 4"))
            }
            FrameType::PRIORITY_UPDATE if !zero => Err(conn(
                R::PROTOCOL_ERROR,
                "PRIORITY_UPDATE on a stream other than 0",
            )),
            FrameType::PRIORITY_UPDATE if len < 4 => Err(conn(
                R::FRAME_SIZE_ERROR,
                "PRIORITY_UPDATE shorter than 4 octets",
            )),
            _ => Ok(()),
        }
    }

    /// The frame from its checked header and whole payload; `None` while a field block is
    /// still open.
    fn parse(
        &mut self,
        head: &FrameHead,
        payload: bytes::Bytes,
    ) -> Result<Option<Frame>, ProtocolError> {
        let end_headers = head.has(flag::END_HEADERS);
        let done = match head.kind {
            FrameType::DATA => return Ok(Some(Frame::Data(Data::parse(head, payload)?))),
            FrameType::HEADERS => {
                let h = Headers::parse(head, payload)?;
                self.assembler.begin(BlockStart::Headers(h), end_headers)?
            }
            FrameType::PUSH_PROMISE => {
                let p = PushPromise::parse(head, payload)?;
                self.assembler
                    .begin(BlockStart::PushPromise(p), end_headers)?
            }
            FrameType::CONTINUATION => self.assembler.continuation(payload, end_headers)?,
            FrameType::PRIORITY => {
                let p = Priority::parse(head, payload);
                if p.spec.dependency == p.stream {
                    return Err(StreamError::new(
                        p.stream,
                        Reason::PROTOCOL_ERROR,
                        "stream depends on itself",
                    )
                    .into());
                }
                return Ok(Some(Frame::Priority(p)));
            }
            FrameType::RST_STREAM => {
                return Ok(Some(Frame::RstStream(RstStream::parse(head, &payload))))
            }
            FrameType::SETTINGS if head.has(flag::ACK) => return Ok(Some(Frame::SettingsAck)),
            FrameType::SETTINGS => return Ok(Some(Frame::Settings(Settings::parse(&payload)?))),
            FrameType::PING => return Ok(Some(Frame::Ping(Ping::parse(head, &payload)))),
            FrameType::GOAWAY => return Ok(Some(Frame::GoAway(GoAway::parse(payload)))),
            FrameType::WINDOW_UPDATE => {
                return Ok(Some(Frame::WindowUpdate(WindowUpdate::parse(
                    head, &payload,
                )?)))
            }
            FrameType::PRIORITY_UPDATE => {
                return Ok(Some(Frame::PriorityUpdate(PriorityUpdate::parse(payload)?)))
            }
            kind => {
                return Ok(Some(Frame::Unknown(Unknown {
                    kind,
                    flags: head.flags,
                    stream: head.stream,
                    payload,
                })))
            }
        };
        let Some(start) = done else {
            return Ok(None);
        };
        if let BlockStart::Headers(h) = start {
            if h.depends_on_itself() {
                let stream = h.stream;
                self.rejected = Some(h);
                return Err(StreamError::new(
                    stream,
                    Reason::PROTOCOL_ERROR,
                    "stream depends on itself",
                )
                .into());
            }
            return Ok(Some(Frame::Headers(h)));
        }
        Ok(Some(start.into_frame()))
    }
}
