//! One server connection: the engine's parts put together (RFC 9113 §3.4–§8).
//!
//! This module owns [`Connection`], the state machine a driver feeds with the bytes it
//! reads and asks for the bytes to write: the preface and SETTINGS exchange, every received
//! frame checked by `frame` and `state`, header blocks through `hpack`, requests, bodies
//! and trailers handed out as [`Event`]s, and the application's answers — 1xx heads, the
//! final head, DATA, trailers, pushes, resets, GOAWAY — turned into frames, with DATA sent
//! within the flow-control windows in the order of RFC 9218 priorities. Reading and
//! writing the socket, timers, and what to answer are the driver's (`h2push`'s
//! `conn/h2`). Receiving is `recv.rs`'s, sending `transmit.rs`'s.
//!
//! ```
//! use bytes::BytesMut;
//! use h2push_h2::server::{Config, Connection};
//!
//! let mut conn = Connection::new(Config::default());
//! let mut out = Vec::new();
//! conn.transmit(&mut out, usize::MAX); // our SETTINGS
//! assert!(!out.is_empty());
//! let mut input = BytesMut::from(&b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..]);
//! conn.recv(&mut input).unwrap();
//! assert!(conn.poll_event().is_none()); // no frame yet
//! ```

mod recv;
mod transmit;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Request, StatusCode};

use crate::error::{ConnectionError, Reason};
use crate::frame::{FrameDecoder, FrameEncoder, Settings, StreamId};
use crate::hpack;
use crate::priority::{PendingUpdates, Priority, PriorityParams, Scheduler, StreamPriority};
use crate::state::message::RequestHead;
use crate::state::{self, PushError, SendError, Streams};

use self::transmit::Outgoing;

/// What we advertise and how far we let the client go.
///
/// ```
/// use h2push_h2::server::Config;
///
/// let config = Config { enable_connect_protocol: true, ..Config::default() };
/// assert_eq!(config.max_header_list_size, 64 * 1024);
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    /// Stream states, windows and their bounds.
    pub streams: state::Config,
    /// Our SETTINGS_MAX_FRAME_SIZE.
    pub max_frame_size: u32,
    /// Our SETTINGS_HEADER_TABLE_SIZE (the client's encoder's table).
    pub header_table_size: u32,
    /// Our SETTINGS_MAX_HEADER_LIST_SIZE: larger request heads are answered 431.
    pub max_header_list_size: u32,
    /// Advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441: WebSocket over HTTP/2).
    pub enable_connect_protocol: bool,
    /// The largest header block (HEADERS + CONTINUATION) accepted.
    pub max_header_block: usize,
    /// The most CONTINUATION frames one block may take.
    pub max_continuations: usize,
    /// How many PRIORITY_UPDATEs for streams not open yet are kept (RFC 9218 §7.1).
    pub pending_priority_updates: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            streams: state::Config::default(),
            max_frame_size: crate::frame::DEFAULT_MAX_FRAME_SIZE,
            header_table_size: 4096,
            max_header_list_size: 64 * 1024,
            enable_connect_protocol: false,
            max_header_block: crate::frame::DEFAULT_MAX_HEADER_BLOCK,
            max_continuations: crate::frame::DEFAULT_MAX_CONTINUATIONS,
            pending_priority_updates: 64,
        }
    }
}

/// What the client sent, for the application.
#[derive(Debug)]
pub enum Event {
    /// A new request. `end_stream`: it has no body.
    Request {
        /// Its stream.
        stream: StreamId,
        /// Method, URI, fields, `:protocol`, content-length.
        head: RequestHead,
        /// No DATA follows.
        end_stream: bool,
    },
    /// Request body bytes. Call [`Connection::release`] as they are consumed.
    Data {
        /// Its stream.
        stream: StreamId,
        /// The payload (padding removed).
        data: Bytes,
        /// The body ends here.
        end_stream: bool,
    },
    /// The request's trailers (the body ends with them).
    Trailers {
        /// Its stream.
        stream: StreamId,
        /// The fields.
        fields: HeaderMap,
    },
    /// The client reset a stream (a request or a push): stop producing its response.
    Reset {
        /// The stream.
        stream: StreamId,
        /// The client's code.
        reason: Reason,
    },
    /// The client is going away: no new requests above `last_stream` will be answered by it.
    GoAway {
        /// The last of our pushes it may process.
        last_stream: StreamId,
        /// Its code.
        reason: Reason,
    },
    /// The client answered our PING.
    PingAck {
        /// The payload we sent.
        payload: [u8; 8],
    },
}

/// What a stream's response has queued and not yet written.
#[derive(Debug, Default)]
pub(crate) struct StreamOut {
    pub(crate) data: VecDeque<Bytes>,
    pub(crate) queued: usize,
    /// END_STREAM goes with the last queued byte (or an empty frame).
    pub(crate) end: bool,
    pub(crate) trailers: Option<HeaderMap>,
    pub(crate) priority: StreamPriority,
    /// Drain the request body until then once the response is written
    /// ([`Connection::drain_request_body`]).
    pub(crate) drain: Option<std::time::Instant>,
}

/// Where the connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for the 24-octet client preface (§3.4).
    Preface,
    /// The preface came; the first frame must be SETTINGS (§3.4).
    FirstSettings,
    /// Running.
    Open,
    /// A connection error or our final GOAWAY: nothing more is read.
    Closed,
}

/// One HTTP/2 server connection as a state machine: bytes in, [`Event`]s out; calls in,
/// bytes out.
///
/// ```
/// use bytes::BytesMut;
/// use h2push_h2::server::{Config, Connection, Event};
/// use h2push_h2::StreamId;
///
/// let mut conn = Connection::new(Config::default());
/// let mut input = BytesMut::new();
/// input.extend_from_slice(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/// input.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]); // SETTINGS, empty
/// // HEADERS on stream 1, END_STREAM | END_HEADERS: :method GET, :scheme https,
/// // :path /, :authority (literal "a") — as static-table indexes and one literal.
/// input.extend_from_slice(&[0, 0, 6, 1, 5, 0, 0, 0, 1, 0x82, 0x87, 0x84, 0x41, 1, b'a']);
/// conn.recv(&mut input).unwrap();
/// let Some(Event::Request { stream, head, end_stream }) = conn.poll_event() else { panic!() };
/// assert_eq!((stream, end_stream), (StreamId::new(1), true));
/// assert_eq!(head.request.uri(), "https://a/");
///
/// conn.send_response(stream, http::StatusCode::OK, &http::HeaderMap::new(), false).unwrap();
/// conn.send_data(stream, bytes::Bytes::from_static(b"hello"), true).unwrap();
/// let mut out = Vec::new();
/// conn.transmit(&mut out, usize::MAX);
/// let written: usize = out.iter().map(|b| b.len()).sum();
/// assert!(written > 5);
/// ```
pub struct Connection {
    pub(crate) config: Config,
    pub(crate) phase: Phase,
    pub(crate) decoder: FrameDecoder,
    pub(crate) encoder: FrameEncoder,
    pub(crate) hpack_dec: hpack::Decoder,
    pub(crate) hpack_enc: hpack::Encoder,
    pub(crate) streams: Streams,
    pub(crate) scheduler: Scheduler,
    pub(crate) pending_priorities: PendingUpdates,
    pub(crate) out: Outgoing,
    pub(crate) sending: HashMap<StreamId, StreamOut>,
    pub(crate) events: VecDeque<Event>,
    /// Scratch for one decoded header list.
    pub(crate) fields: Vec<(Bytes, Bytes)>,
    /// Scratch for one encoded header block.
    pub(crate) block: BytesMut,
    /// Our GOAWAY went out (no new streams are accepted above its last stream id).
    pub(crate) goaway_sent: bool,
}

impl Connection {
    /// A connection whose first bytes out are our SETTINGS (the server preface, §3.4).
    pub fn new(config: Config) -> Connection {
        let mut decoder = FrameDecoder::new();
        decoder.set_max_frame_size(config.max_frame_size);
        decoder.set_header_block_limits(config.max_header_block, config.max_continuations);
        let mut conn = Connection {
            phase: Phase::Preface,
            decoder,
            encoder: FrameEncoder::new(),
            hpack_dec: hpack::Decoder::new(config.header_table_size as usize),
            hpack_enc: hpack::Encoder::new(),
            streams: Streams::new(config.streams.clone()),
            scheduler: Scheduler::new(),
            pending_priorities: PendingUpdates::new(config.pending_priority_updates),
            out: Outgoing::default(),
            sending: HashMap::new(),
            events: VecDeque::new(),
            fields: Vec::new(),
            block: BytesMut::new(),
            goaway_sent: false,
            config,
        };
        let settings = Settings {
            header_table_size: Some(conn.config.header_table_size),
            enable_push: Some(false),
            max_concurrent_streams: Some(conn.config.streams.max_concurrent_streams),
            initial_window_size: Some(conn.config.streams.initial_stream_window),
            max_frame_size: Some(conn.config.max_frame_size),
            max_header_list_size: Some(conn.config.max_header_list_size),
            enable_connect_protocol: conn.config.enable_connect_protocol.then_some(true),
            no_rfc7540_priorities: Some(true),
        };
        conn.encoder.settings(conn.out.buf(), &settings);
        conn.take_actions();
        conn
    }

    /// The next thing the client sent, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Sends a 1xx head (103 Early Hints, say) on `stream`: any number of them, before the
    /// final head (RFC 9110 §15.2, RFC 9113 §8.1).
    pub fn send_informational(
        &mut self,
        stream: StreamId,
        status: StatusCode,
        fields: &HeaderMap,
    ) -> Result<(), SendError> {
        if !status.is_informational() || status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(SendError::FinalHeadSent);
        }
        self.streams.send_informational(stream)?;
        self.write_head(stream, status, fields, false);
        Ok(())
    }

    /// Sends the final head on `stream`; `end_stream` if there is no body.
    pub fn send_response(
        &mut self,
        stream: StreamId,
        status: StatusCode,
        fields: &HeaderMap,
        end_stream: bool,
    ) -> Result<(), SendError> {
        if status.is_informational() {
            return Err(SendError::NoFinalHead);
        }
        self.streams.send_head(stream, end_stream)?;
        self.write_head(stream, status, fields, end_stream);
        if end_stream {
            self.finished(stream);
        } else {
            self.sending.entry(stream).or_default();
            let priority = self.priority_of(stream);
            self.scheduler.insert(stream, priority);
        }
        Ok(())
    }

    /// Queues body bytes on `stream` (after its final head); `end_stream` ends the body.
    /// They are written by [`Connection::transmit`] as the windows allow.
    pub fn send_data(
        &mut self,
        stream: StreamId,
        data: Bytes,
        end_stream: bool,
    ) -> Result<(), SendError> {
        let out = self.queue(stream)?;
        out.queued += data.len();
        if !data.is_empty() {
            out.data.push_back(data);
        }
        out.end = end_stream;
        self.scheduler.set_ready(stream, true);
        Ok(())
    }

    /// Queues trailers on `stream`: they end it, after its queued body.
    pub fn send_trailers(&mut self, stream: StreamId, fields: HeaderMap) -> Result<(), SendError> {
        let out = self.queue(stream)?;
        out.trailers = Some(fields);
        out.end = true;
        self.scheduler.set_ready(stream, true);
        Ok(())
    }

    /// Promises a push on `parent` (RFC 9113 §8.4) for `request` (GET or HEAD, with an
    /// absolute URI): the PUSH_PROMISE goes out before anything else queued later on
    /// `parent`. Answer the promised stream as any other with [`Connection::send_response`].
    pub fn push_promise(
        &mut self,
        parent: StreamId,
        request: &Request<()>,
    ) -> Result<StreamId, PushError> {
        let promised = self.streams.push_promise(parent)?;
        self.block.clear();
        hpack_request(&mut self.hpack_enc, request, &mut self.block);
        self.encoder
            .push_promise(self.out.buf(), parent, promised, &self.block);
        let inherited = self.priority_of(parent);
        self.sending.entry(promised).or_default().priority = StreamPriority::new(inherited, None);
        Ok(promised)
    }

    /// Whether a push may start now (push enabled, no GOAWAY, the client's stream limit).
    pub fn can_push(&self) -> bool {
        self.streams.can_promise() && self.streams.can_start_push()
    }

    /// The server's own priority for `stream`'s response (RFC 9218 §8), over the client's.
    pub fn set_priority(&mut self, stream: StreamId, params: PriorityParams) {
        if let Some(out) = self.sending.get_mut(&stream) {
            out.priority.set_server(params);
            let p = out.priority.effective();
            self.scheduler.update(stream, p);
        }
    }

    /// Resets `stream` with `reason`; what was queued on it is dropped.
    pub fn reset(&mut self, stream: StreamId, reason: Reason) {
        if self.streams.send_reset(stream).is_ok() {
            self.encoder.rst_stream(self.out.buf(), stream, reason);
        }
        self.forget(stream);
    }

    /// The application consumed `n` bytes of `stream`'s request body: window credit goes back.
    pub fn release(&mut self, stream: StreamId, n: usize) {
        self.streams
            .release(stream, n as u64, Some(std::time::Instant::now()));
        self.take_actions();
    }

    /// Sends GOAWAY with `reason` naming the last client stream we will answer (§6.8); open
    /// streams may finish. No new streams are accepted after it.
    pub fn goaway(&mut self, reason: Reason, debug: &[u8]) {
        let last = self.streams.last_client_stream();
        self.streams.send_goaway(last);
        self.encoder.goaway(self.out.buf(), last, reason, debug);
        self.goaway_sent = true;
    }

    /// Starts a graceful shutdown (§6.8): a GOAWAY(NO_ERROR) naming the largest stream id, so
    /// requests already on their way are still accepted, and a PING whose ACK tells that
    /// the client has seen it. Send the final [`Connection::goaway`] after the ACK (or a
    /// deadline).
    pub fn goaway_graceful(&mut self, ping: [u8; 8]) {
        self.encoder
            .goaway(self.out.buf(), StreamId::MAX, Reason::NO_ERROR, b"");
        self.encoder.ping(self.out.buf(), ping);
    }

    /// The request body of `stream` is not wanted: once the response is written (now, if
    /// it is), the rest of the body is read and discarded until `deadline` (or a byte
    /// bound, [`state::Config`]), then the stream is reset with NO_ERROR — so the client
    /// sees the response instead of a reset in the middle of its upload (RFC 9113 §8.1).
    pub fn drain_request_body(
        &mut self,
        stream: StreamId,
        deadline: std::time::Instant,
    ) -> Result<(), SendError> {
        match self.sending.get_mut(&stream) {
            Some(out) => {
                out.drain = Some(deadline);
                Ok(())
            }
            None => self.streams.drain(stream, deadline),
        }
    }

    /// Tells the connection the time: drains past their deadline are reset, and frames on
    /// streams reset long ago stop being ignored. Returns when to call again, if anything
    /// waits on time.
    pub fn expire(&mut self, now: std::time::Instant) -> Option<std::time::Instant> {
        let next = self.streams.expire(now);
        self.take_actions();
        next
    }

    /// Sends a PING (its ACK comes back as [`Event::PingAck`]).
    pub fn ping(&mut self, payload: [u8; 8]) {
        self.encoder.ping(self.out.buf(), payload);
    }

    /// Bytes of `stream`'s body queued and not yet written (back-pressure for the producer).
    pub fn queued(&self, stream: StreamId) -> usize {
        self.sending.get(&stream).map_or(0, |o| o.queued)
    }

    /// Client and pushed streams still open in either direction.
    pub fn active_streams(&self) -> usize {
        self.streams.active_client_streams() + self.streams.active_pushed_streams()
    }

    /// Whether a connection error or [`Connection::close`] ended it: write what is left
    /// and close the socket.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Ends the connection with GOAWAY(`reason`) at once; nothing more is read.
    pub fn close(&mut self, reason: Reason, debug: &[u8]) {
        if self.phase != Phase::Closed {
            self.goaway(reason, debug);
            self.phase = Phase::Closed;
        }
    }

    /// The stream states (for diagnostics and the driver's deadlines).
    pub fn streams(&self) -> &Streams {
        &self.streams
    }

    fn queue(&mut self, stream: StreamId) -> Result<&mut StreamOut, SendError> {
        self.streams.state(stream);
        match self.sending.get_mut(&stream) {
            Some(out) if !out.end => Ok(out),
            Some(_) => Err(SendError::Ended),
            None => Err(SendError::UnknownStream),
        }
    }

    pub(crate) fn priority_of(&self, stream: StreamId) -> Priority {
        self.sending
            .get(&stream)
            .map_or(Priority::DEFAULT, |o| o.priority.effective())
    }

    fn write_head(&mut self, stream: StreamId, status: StatusCode, fields: &HeaderMap, end: bool) {
        self.block.clear();
        hpack_response(&mut self.hpack_enc, status, fields, &mut self.block);
        self.encoder
            .headers(self.out.buf(), stream, &self.block, end);
    }

    /// Our side of `stream` is done: it leaves the scheduler once nothing is queued.
    pub(crate) fn finished(&mut self, stream: StreamId) {
        let idle = self
            .sending
            .get(&stream)
            .map_or(true, |o| o.data.is_empty() && o.trailers.is_none());
        if idle {
            self.forget(stream);
        }
    }

    pub(crate) fn forget(&mut self, stream: StreamId) {
        self.sending.remove(&stream);
        self.scheduler.remove(stream);
    }

    /// Our side of `stream` ended: a drain asked for earlier starts now.
    pub(crate) fn ended(&mut self, stream: StreamId) {
        if let Some(deadline) = self.sending.get(&stream).and_then(|o| o.drain) {
            let _ = self.streams.drain(stream, deadline);
        }
        self.forget(stream);
    }

    /// Writes the frames the stream states asked for (WINDOW_UPDATE, RST_STREAM).
    pub(crate) fn take_actions(&mut self) {
        while let Some(action) = self.streams.poll_action() {
            match action {
                state::Action::WindowUpdate { stream, increment } => {
                    self.encoder
                        .window_update(self.out.buf(), stream, increment)
                }
                state::Action::Reset { stream, reason } => {
                    self.encoder.rst_stream(self.out.buf(), stream, reason);
                    self.forget(stream);
                }
            }
        }
    }

    /// A connection error: GOAWAY with its code, and the connection is closed.
    pub(crate) fn fail(&mut self, e: ConnectionError) -> ConnectionError {
        self.close(e.reason, e.detail.as_bytes());
        e
    }
}

/// Encodes a response head: `:status` first (§8.3.2), then the fields.
fn hpack_response(
    enc: &mut hpack::Encoder,
    status: StatusCode,
    fields: &HeaderMap,
    dst: &mut BytesMut,
) {
    enc.encode_response(status, fields, dst);
}

/// Encodes a promised request: the four pseudo-headers (§8.3.1), then the fields.
fn hpack_request(enc: &mut hpack::Encoder, request: &Request<()>, dst: &mut BytesMut) {
    enc.encode_request(request, dst);
}
