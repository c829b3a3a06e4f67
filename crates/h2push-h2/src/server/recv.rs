//! What a server connection does with each frame it receives.
//!
//! This module owns the dispatch of decoded frames: the preface and first SETTINGS rules
//! (§3.4), SETTINGS applied and acknowledged (§6.5.3), PING answered, GOAWAY, RST_STREAM
//! and WINDOW_UPDATE passed to the stream states, header blocks decoded (always, so both
//! HPACK tables stay in step, §4.3) and checked as requests or trailers (§8.1–§8.3), DATA
//! delivered, PRIORITY_UPDATE applied or kept until its stream opens (RFC 9218 §7.1). The
//! rules themselves are `frame`'s and `state`'s; this file only routes and answers.

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, StatusCode};

use super::{Connection, Event, Phase, StreamOut};
use crate::error::{ConnectionError, ProtocolError, Reason, StreamError};
use crate::frame::PREFACE;
use crate::frame::{check_preface, Frame, PrefaceCheck, PriorityUpdate, Settings, StreamId};
use crate::priority::{Priority, StreamPriority};
use crate::state::message::{parse_request, parse_trailers};
use crate::state::{RecvData, RecvHeaders, StreamState};

impl Connection {
    /// Consumes every complete frame in `buf` (what is left is an incomplete frame: keep it
    /// and call again with more). Events come out of [`Connection::poll_event`]; answers
    /// (SETTINGS and PING ACKs, WINDOW_UPDATEs, RST_STREAMs) out of
    /// [`Connection::transmit`]. A connection error queues its GOAWAY, closes the
    /// connection and is returned: write what is left, then close the socket.
    pub fn recv(&mut self, buf: &mut BytesMut) -> Result<(), ConnectionError> {
        if self.phase == Phase::Closed {
            buf.clear();
            return Ok(());
        }
        if self.phase == Phase::Preface {
            match check_preface(buf) {
                PrefaceCheck::Incomplete => return Ok(()),
                PrefaceCheck::NotHttp2 => {
                    return Err(self.fail(ConnectionError::new(
                        Reason::PROTOCOL_ERROR,
                        "not the HTTP/2 client connection preface (§3.4)",
                    )))
                }
                PrefaceCheck::Complete => {
                    buf.advance(PREFACE.len());
                    self.phase = Phase::FirstSettings;
                }
            }
        }
        while self.phase != Phase::Closed {
            match self.decoder.decode(buf) {
                Ok(None) => break,
                Ok(Some(frame)) => {
                    if let Err(e) = self.on_frame(frame) {
                        return Err(self.fail(e));
                    }
                }
                Err(ProtocolError::Connection(e)) => return Err(self.fail(e)),
                Err(ProtocolError::Stream(e)) => {
                    if let Err(e) = self.on_codec_stream_error(e) {
                        return Err(self.fail(e));
                    }
                }
            }
            self.take_actions();
        }
        Ok(())
    }

    fn on_frame(&mut self, frame: Frame) -> Result<(), ConnectionError> {
        if self.phase == Phase::FirstSettings && !matches!(frame, Frame::Settings(_)) {
            return Err(ConnectionError::new(
                Reason::PROTOCOL_ERROR,
                "the first frame after the preface is not SETTINGS (§3.4)",
            ));
        }
        match frame {
            Frame::Settings(s) => self.on_settings(s)?,
            Frame::SettingsAck => self.streams.recv_settings_ack(),
            Frame::Ping(p) if p.ack => self.events.push_back(Event::PingAck { payload: p.payload }),
            Frame::Ping(p) => self.encoder.ping_ack(self.out.buf(), p.payload),
            Frame::GoAway(g) => {
                for id in self.streams.recv_goaway(g.last_stream) {
                    self.forget(id);
                }
                self.events.push_back(Event::GoAway {
                    last_stream: g.last_stream,
                    reason: g.reason,
                });
            }
            Frame::WindowUpdate(w) => {
                match self.streams.recv_window_update(w.stream, w.increment) {
                    Ok(()) => self.window_opened(w.stream),
                    Err(ProtocolError::Connection(e)) => return Err(e),
                    Err(ProtocolError::Stream(e)) => self.stream_error(e),
                }
            }
            Frame::RstStream(r) => {
                self.streams.recv_reset(r.stream, r.reason)?;
                if self.sending.contains_key(&r.stream) {
                    self.events.push_back(Event::Reset {
                        stream: r.stream,
                        reason: r.reason,
                    });
                }
                self.forget(r.stream);
            }
            Frame::Headers(h) => self.on_headers(h.stream, h.end_stream, &h.block)?,
            Frame::Data(d) => {
                let padding = d.flow_len.saturating_sub(d.data.len() as u32);
                match self
                    .streams
                    .recv_data_padded(d.stream, d.flow_len, padding, d.end_stream)
                {
                    Ok(RecvData::Deliver) => self.events.push_back(Event::Data {
                        stream: d.stream,
                        data: d.data,
                        end_stream: d.end_stream,
                    }),
                    Ok(RecvData::Discarded) => {}
                    Err(ProtocolError::Connection(e)) => return Err(e),
                    Err(ProtocolError::Stream(e)) => self.stream_error(e),
                }
            }
            Frame::PushPromise(_) => return Err(self.streams.recv_push_promise()),
            Frame::PriorityUpdate(u) => self.on_priority_update(u)?,
            // RFC 9113 §5.3.2: the RFC 7540 tree is deprecated; we said so in SETTINGS
            // (SETTINGS_NO_RFC7540_PRIORITIES). Unknown frames are ignored (§5.5).
            Frame::Priority(_) | Frame::Unknown(_) => {}
        }
        Ok(())
    }

    fn on_settings(&mut self, s: Settings) -> Result<(), ConnectionError> {
        if let Some(n) = s.header_table_size {
            self.hpack_enc.set_peer_max_table_size(n as usize);
        }
        if let Some(on) = s.enable_push {
            self.streams.set_peer_enable_push(on);
        }
        if let Some(n) = s.max_concurrent_streams {
            self.streams.set_peer_max_concurrent_streams(n);
        }
        if let Some(n) = s.max_frame_size {
            self.encoder.set_max_frame_size(n);
        }
        if let Some(n) = s.initial_window_size {
            self.streams.set_peer_initial_window_size(n)?;
            self.window_opened(StreamId::ZERO);
        }
        self.encoder.settings_ack(self.out.buf());
        if self.phase == Phase::FirstSettings {
            self.phase = Phase::Open;
        }
        Ok(())
    }

    /// A window grew: streams with queued DATA may send again.
    fn window_opened(&mut self, stream: StreamId) {
        if stream.is_zero() {
            for (id, out) in &self.sending {
                if !out.data.is_empty() {
                    self.scheduler.set_ready(*id, true);
                }
            }
        } else if self
            .sending
            .get(&stream)
            .is_some_and(|o| !o.data.is_empty())
        {
            self.scheduler.set_ready(stream, true);
        }
    }

    fn on_headers(
        &mut self,
        id: StreamId,
        end_stream: bool,
        block: &Bytes,
    ) -> Result<(), ConnectionError> {
        self.fields.clear();
        let fields = &mut self.fields;
        let within_limit = self.hpack_dec.decode(
            block,
            self.config.max_header_list_size as usize,
            |name, value| fields.push((name, value)),
        )?;
        let kind = match self.streams.recv_headers(id, end_stream) {
            Ok(kind) => kind,
            Err(ProtocolError::Connection(e)) => return Err(e),
            Err(ProtocolError::Stream(e)) => {
                self.stream_error(e);
                return Ok(());
            }
        };
        let fields = self.fields.iter().map(|(n, v)| (&n[..], &v[..]));
        match kind {
            RecvHeaders::Ignored => {}
            RecvHeaders::Trailers => match parse_trailers(fields) {
                Ok(fields) if within_limit => self
                    .events
                    .push_back(Event::Trailers { stream: id, fields }),
                Ok(_) => self.malformed(id, "trailers above SETTINGS_MAX_HEADER_LIST_SIZE"),
                Err(m) => self.malformed(id, m.detail),
            },
            RecvHeaders::Request if !within_limit => {
                // RFC 9113 §10.5.1: a 431 tells the client why, where a reset would not.
                let _ = self.streams.send_head(id, true);
                self.write_head(
                    id,
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    &HeaderMap::new(),
                    true,
                );
                if !end_stream {
                    self.reset(id, Reason::NO_ERROR);
                }
            }
            RecvHeaders::Request => {
                let head = match parse_request(fields, self.config.enable_connect_protocol) {
                    Ok(head) => head,
                    Err(m) => {
                        self.malformed(id, m.detail);
                        return Ok(());
                    }
                };
                if let Some(n) = head.content_length {
                    match self.streams.expect_content_length(id, n) {
                        Ok(()) => {}
                        Err(ProtocolError::Connection(e)) => return Err(e),
                        Err(ProtocolError::Stream(e)) => {
                            self.stream_error(e);
                            return Ok(());
                        }
                    }
                }
                let signal = Priority::from_headers(head.request.headers());
                let buffered = self.pending_priorities.take(id);
                self.sending.insert(
                    id,
                    StreamOut {
                        priority: StreamPriority::new(signal, buffered),
                        ..StreamOut::default()
                    },
                );
                self.events.push_back(Event::Request {
                    stream: id,
                    head,
                    end_stream,
                });
            }
        }
        Ok(())
    }

    fn on_priority_update(&mut self, u: PriorityUpdate) -> Result<(), ConnectionError> {
        let id = u.prioritized;
        if let Some(out) = self.sending.get_mut(&id) {
            if out.priority.on_update(&u.field_value) {
                let p = out.priority.effective();
                self.scheduler.update(id, p);
            }
            return Ok(());
        }
        if self.streams.state(id) == StreamState::Idle {
            self.pending_priorities.buffer(
                id,
                &u.field_value,
                self.streams.active_client_streams(),
                Some(self.config.streams.max_concurrent_streams),
            )?;
        }
        Ok(())
    }

    /// A stream error the frame codec found: the stream is reset; a HEADERS it refused
    /// still goes through HPACK (§4.3).
    fn on_codec_stream_error(&mut self, e: StreamError) -> Result<(), ConnectionError> {
        if let Some(h) = self.decoder.take_rejected_headers() {
            self.fields.clear();
            let fields = &mut self.fields;
            self.hpack_dec.decode(
                &h.block,
                self.config.max_header_list_size as usize,
                |name, value| fields.push((name, value)),
            )?;
            if let Err(ProtocolError::Connection(e)) =
                self.streams.recv_headers(h.stream, h.end_stream)
            {
                return Err(e);
            }
        }
        let _ = self.streams.send_reset(e.stream);
        self.stream_error(e);
        Ok(())
    }

    /// A malformed message on `id` (§8.1.1): stream error PROTOCOL_ERROR.
    fn malformed(&mut self, id: StreamId, detail: &'static str) {
        let _ = self.streams.send_reset(id);
        self.stream_error(StreamError::new(id, Reason::PROTOCOL_ERROR, detail));
    }

    /// Sends the RST_STREAM of a stream error whose stream is already closed in `state`;
    /// the application hears of it if it knew the stream.
    pub(crate) fn stream_error(&mut self, e: StreamError) {
        self.encoder.rst_stream(self.out.buf(), e.stream, e.reason);
        if self.sending.contains_key(&e.stream) {
            self.events.push_back(Event::Reset {
                stream: e.stream,
                reason: e.reason,
            });
        }
        self.forget(e.stream);
    }
}
