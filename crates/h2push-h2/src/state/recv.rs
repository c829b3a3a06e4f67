//! Frames from the client: HEADERS, DATA, RST_STREAM, WINDOW_UPDATE, PUSH_PROMISE.
//!
//! This module owns the rules that need more than one stream's state: idle and forgotten
//! streams, stream id order (§5.1.1), our concurrency limit (§5.1.2), the connection's
//! receive window (§6.9), content-length against DATA (§8.1.1), and which kind of error a
//! violation is (§5.4). Per-state rules are [`super::stream`]'s; frame syntax (lengths, flags,
//! stream 0 for connection frames) is the codec's, though stream 0 is refused here too.

use super::flow::RecvWindow;
use super::store::Stream;
use super::stream::{closed_violation, Cause, HeadersRecv, Local, State, Violation};
use super::{RecvData, RecvHeaders, Streams};
use crate::error::{ConnectionError, ProtocolError, Reason};
use crate::frame::StreamId;

fn conn(reason: Reason, detail: &'static str) -> ProtocolError {
    ConnectionError::new(reason, detail).into()
}

impl Streams {
    /// A HEADERS (with its CONTINUATIONs) from the client on `id`.
    ///
    /// Opens a request stream (§5.1 idle → open, or half-closed (remote) with END_STREAM),
    /// implicitly closing lower idle ids (§5.1.1), or is the request's trailers. Errors: an
    /// even or non-increasing new id is a connection PROTOCOL_ERROR (§5.1.1); beyond our
    /// SETTINGS_MAX_CONCURRENT_STREAMS, a stream REFUSED_STREAM (§5.1.2: of its two choices,
    /// the one that tells the client it may retry); trailers without END_STREAM a stream
    /// PROTOCOL_ERROR (§8.1); after the client's END_STREAM a stream STREAM_CLOSED (§5.1);
    /// on a pushed stream a connection PROTOCOL_ERROR (§8.4). A stream error has already
    /// closed the stream here: the caller sends the RST_STREAM.
    pub fn recv_headers(
        &mut self,
        id: StreamId,
        end_stream: bool,
    ) -> Result<RecvHeaders, ProtocolError> {
        if id.is_zero() {
            return Err(conn(Reason::PROTOCOL_ERROR, "HEADERS on stream 0 (§6.2)"));
        }
        if self.store.get(id).is_some() {
            let r = self
                .store
                .update(id, |s| s.state.recv_headers(end_stream))
                .unwrap_or(Err(Violation::Ignore));
            return match r {
                Ok(HeadersRecv::Trailers) => {
                    self.check_length_at_end(id)?;
                    Ok(RecvHeaders::Trailers)
                }
                Ok(HeadersRecv::Discard) => Ok(RecvHeaders::Ignored),
                Err(v) => self.violation(id, v).map(|()| RecvHeaders::Ignored),
            };
        }
        if !self.is_idle(id) {
            return match self.store.record(id) {
                Some(r) => self
                    .violation(id, closed_violation(r.cause))
                    .map(|()| RecvHeaders::Ignored),
                None => Err(conn(
                    Reason::PROTOCOL_ERROR,
                    "HEADERS opening a stream id not above the highest seen (§5.1.1)",
                )),
            };
        }
        if !id.is_client_initiated() {
            return Err(conn(
                Reason::PROTOCOL_ERROR,
                "HEADERS opening an even-numbered stream (§5.1.1)",
            ));
        }
        // Every lower idle id is now closed (§5.1.1).
        self.last_client = u32::from(id);
        if self.goaway_sent.is_some_and(|last| id > last) {
            self.store.remember(id, Cause::Reset { ignore: true });
            return Ok(RecvHeaders::Ignored);
        }
        let limit = self.config.max_concurrent_streams as usize;
        if self.store.active_client() >= limit {
            self.store.remember(id, Cause::Reset { ignore: true });
            return Err(crate::error::StreamError::new(
                id,
                Reason::REFUSED_STREAM,
                "over our SETTINGS_MAX_CONCURRENT_STREAMS (§5.1.2)",
            )
            .into());
        }
        let local = Local::AwaitingHead;
        let state = if end_stream {
            State::HalfClosedRemote { local }
        } else {
            State::Open { local }
        };
        let send = super::flow::SendWindow::new(self.peer_initial_window);
        let recv = RecvWindow::new(self.recv_initial(), self.config.max_stream_window);
        self.store.insert(Stream::new(id, state, send, recv));
        Ok(RecvHeaders::Request)
    }

    /// A DATA frame on `id` with no padding: [`Streams::recv_data_padded`] with 0.
    pub fn recv_data(
        &mut self,
        id: StreamId,
        len: u32,
        end_stream: bool,
    ) -> Result<RecvData, ProtocolError> {
        self.recv_data_padded(id, len, 0, end_stream)
    }

    /// A DATA frame on `id` whose flow-controlled length is `len_including_padding`, of which
    /// `padding` bytes (the Pad Length field and the padding, §6.1) are not payload; the
    /// engine releases those at once.
    ///
    /// Every DATA counts against the connection window, whatever the stream's state (§6.9,
    /// §5.1 "closed"): beyond it is a connection FLOW_CONTROL_ERROR; beyond the stream's
    /// window a stream FLOW_CONTROL_ERROR (§6.9.1). DATA on an idle stream is a connection
    /// PROTOCOL_ERROR (§5.1); after the client's END_STREAM a stream STREAM_CLOSED; more or
    /// less payload than content-length a stream PROTOCOL_ERROR (§8.1.1).
    pub fn recv_data_padded(
        &mut self,
        id: StreamId,
        len_including_padding: u32,
        padding: u32,
        end_stream: bool,
    ) -> Result<RecvData, ProtocolError> {
        let len = len_including_padding;
        let padding = padding.min(len);
        if id.is_zero() {
            return Err(conn(Reason::PROTOCOL_ERROR, "DATA on stream 0 (§6.1)"));
        }
        if self.is_idle(id) {
            return Err(conn(
                Reason::PROTOCOL_ERROR,
                "DATA on an idle stream (§5.1 idle)",
            ));
        }
        if self.conn_recv.recv(len).is_err() {
            return Err(conn(
                Reason::FLOW_CONTROL_ERROR,
                "DATA beyond the connection window (§6.9.1)",
            ));
        }
        let Some(state) = self.store.get(id).map(|s| s.state) else {
            self.discard_conn(u64::from(len));
            let v = match self.store.record(id) {
                Some(r) => closed_violation(r.cause),
                None => Violation::Stream(
                    Reason::STREAM_CLOSED,
                    "DATA on a closed stream (§5.1 closed)",
                ),
            };
            return self.violation(id, v).map(|()| RecvData::Discarded);
        };
        if !state.is_recv_open() && !matches!(state, State::Draining { .. }) {
            self.discard_conn(u64::from(len));
            let v = self
                .store
                .update(id, |s| s.state.recv_data(end_stream))
                .unwrap_or(Ok(()));
            return match v {
                Ok(()) => Ok(RecvData::Discarded),
                Err(v) => self.violation(id, v).map(|()| RecvData::Discarded),
            };
        }
        let fits = self.store.update(id, |s| s.recv.recv(len).is_ok());
        if fits != Some(true) {
            self.discard_conn(u64::from(len));
            return Err(self.stream_error(
                id,
                Reason::FLOW_CONTROL_ERROR,
                "DATA beyond the stream window (§6.9.1)",
            ));
        }
        let payload = u64::from(len - padding);
        let (over, cut_short) = self
            .store
            .update(id, |s| {
                s.received += payload;
                // A client told to stop (our complete answer) may end its body early.
                let cut_short = end_stream
                    && matches!(s.state, State::Draining { .. })
                    && s.content_length.is_some_and(|cl| s.received != cl);
                // The state accepts DATA here: open, half-closed (local) or draining.
                let _ = s.state.recv_data(end_stream);
                (
                    s.content_length.is_some_and(|cl| s.received > cl),
                    cut_short,
                )
            })
            .unwrap_or((false, false));
        if cut_short {
            // The upload was abandoned at our request, not malformed: end the stream with
            // RST_STREAM(NO_ERROR) (§8.1), which clients such as curl wait for; §5.1 lets
            // a peer that sent END_STREAM receive it. Closing releases what the stream
            // held, this frame included, on the connection.
            self.close_reset(id);
            self.actions.push_back(super::Action::Reset {
                stream: id,
                reason: Reason::NO_ERROR,
            });
            return Ok(RecvData::Discarded);
        }
        if over {
            return Err(self.stream_error(
                id,
                Reason::PROTOCOL_ERROR,
                "DATA beyond content-length (§8.1.1)",
            ));
        }
        if end_stream {
            self.check_length_at_end(id)?;
        }
        if let State::Draining { discarded, .. } = state {
            self.drain_bytes(id, discarded + u64::from(len));
            return Ok(RecvData::Discarded);
        }
        if padding > 0 {
            self.release(id, u64::from(padding), self.store.clock);
        }
        Ok(RecvData::Deliver)
    }

    /// The application's content-length for `id`'s request (from
    /// [`super::message::RequestHead::content_length`]): DATA must add up to it (§8.1.1).
    /// An error if the request already ended with a different length.
    pub fn expect_content_length(
        &mut self,
        id: StreamId,
        content_length: u64,
    ) -> Result<(), ProtocolError> {
        if self.store.get(id).is_none() {
            return Ok(());
        }
        self.store
            .update(id, |s| s.content_length = Some(content_length));
        let ended = self
            .store
            .get(id)
            .is_some_and(|s| !s.state.is_recv_open() && !matches!(s.state, State::Draining { .. }));
        if ended {
            self.check_length_at_end(id)?;
        }
        Ok(())
    }

    /// An RST_STREAM from the client. On an idle stream a connection PROTOCOL_ERROR (§6.4);
    /// on a closed one ignored (never answered, §5.4.2). Returns whether it closed a live
    /// stream (the application's request or push is cancelled; a promised stream is freed).
    pub fn recv_reset(&mut self, id: StreamId, reason: Reason) -> Result<bool, ConnectionError> {
        let _ = reason;
        if id.is_zero() {
            return Err(ConnectionError::new(
                Reason::PROTOCOL_ERROR,
                "RST_STREAM on stream 0 (§6.4)",
            ));
        }
        if self.is_idle(id) {
            return Err(ConnectionError::new(
                Reason::PROTOCOL_ERROR,
                "RST_STREAM on an idle stream (§6.4)",
            ));
        }
        let r = self.store.update(id, |s| {
            let live = s.state.recv_reset();
            (live, s.recv.release_all())
        });
        let Some((live, released)) = r else {
            return Ok(false);
        };
        self.discard_conn(released);
        Ok(live)
    }

    /// A WINDOW_UPDATE from the client (`id` 0: the connection). An increment of 0 is a
    /// PROTOCOL_ERROR and a window pushed past 2^31-1 a FLOW_CONTROL_ERROR, of the stream or
    /// of the connection (§6.9, §6.9.1); on an idle stream a connection PROTOCOL_ERROR
    /// (§5.1); on a closed or half-closed (local) stream ignored.
    pub fn recv_window_update(
        &mut self,
        id: StreamId,
        increment: u32,
    ) -> Result<(), ProtocolError> {
        if id.is_zero() {
            if increment == 0 {
                return Err(conn(
                    Reason::PROTOCOL_ERROR,
                    "WINDOW_UPDATE increment 0 on the connection (§6.9)",
                ));
            }
            return self.conn_send.increase(increment).map_err(|_| {
                conn(
                    Reason::FLOW_CONTROL_ERROR,
                    "connection window above 2^31-1 (§6.9.1)",
                )
            });
        }
        if self.is_idle(id) {
            return Err(conn(
                Reason::PROTOCOL_ERROR,
                "WINDOW_UPDATE on an idle stream (§5.1 idle)",
            ));
        }
        let r = self.store.update(id, |s| {
            if !s.state.is_send_open() {
                Ok(())
            } else if increment == 0 {
                Err((Reason::PROTOCOL_ERROR, "WINDOW_UPDATE increment 0 (§6.9)"))
            } else {
                s.send.increase(increment).map_err(|_| {
                    (
                        Reason::FLOW_CONTROL_ERROR,
                        "stream window above 2^31-1 (§6.9.1)",
                    )
                })
            }
        });
        match r {
            Some(Err((reason, detail))) => Err(self.stream_error(id, reason, detail)),
            _ => Ok(()),
        }
    }

    /// A PUSH_PROMISE from the client: always a connection PROTOCOL_ERROR (§8.4).
    pub fn recv_push_promise(&mut self) -> ConnectionError {
        ConnectionError::new(Reason::PROTOCOL_ERROR, "PUSH_PROMISE from a client (§8.4)")
    }

    /// Answers a violation: ignored, or the error (a stream error closes the stream).
    fn violation(&mut self, id: StreamId, v: Violation) -> Result<(), ProtocolError> {
        match v {
            Violation::Ignore => Ok(()),
            Violation::Stream(reason, detail) => Err(self.stream_error(id, reason, detail)),
            Violation::Connection(reason, detail) => Err(conn(reason, detail)),
        }
    }

    /// Releases `n` received bytes on the connection only (DATA not delivered).
    pub(crate) fn discard_conn(&mut self, n: u64) {
        self.conn_recv.release(n);
        self.conn_update(self.store.clock);
    }

    /// The client ended `id`'s request: its payload must match content-length (§8.1.1).
    fn check_length_at_end(&mut self, id: StreamId) -> Result<(), ProtocolError> {
        let mismatch = self
            .store
            .get(id)
            .is_some_and(|s| s.content_length.is_some_and(|cl| cl != s.received));
        if mismatch {
            return Err(self.stream_error(
                id,
                Reason::PROTOCOL_ERROR,
                "request body length differs from content-length (§8.1.1)",
            ));
        }
        Ok(())
    }
}
