//! Stream and connection state (RFC 9113 §5.1, §5.1.1, §5.1.2, §5.4, §8.1, §8.4) and flow
//! control (§5.2, §6.9), for a server.
//!
//! This module owns the answer to "may this frame arrive now, and if not, which error is
//! it": [`Streams`] takes stream ids, flags and lengths — `recv_headers(id, end_stream)`,
//! `recv_data(id, len_including_padding, end_stream)` — and returns what to do, or the
//! [`ConnectionError`] / [`StreamError`] the RFC gives for the broken rule. It also checks
//! our own sending (informational heads, the final head, DATA, trailers, pushes) and turns
//! programming errors into [`SendError`] / [`PushError`], never panics. It does not parse
//! frames (`frame`), decode headers (`hpack`), or order responses (`priority`), and does no
//! I/O: WINDOW_UPDATE and RST_STREAM frames it wants sent come out of
//! [`Streams::poll_action`]. [`message`] checks a decoded header list (§8.2, §8.3).
//!
//! Whatever answer a HEADERS gets, the caller must still decode its header block: HPACK
//! state is shared by the connection (§4.3).

pub mod flow;
pub mod message;
pub mod push;
mod recv;
mod send;
pub mod store;
pub mod stream;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::error::{ConnectionError, ProtocolError, Reason, StreamError};
use crate::frame::StreamId;
use flow::{RecvWindow, DEFAULT_WINDOW, MAX_WINDOW};
pub use push::PushError;
use store::Store;
pub use stream::SendError;
use stream::{Cause, State};

/// Our side's choices: what we advertise in SETTINGS and the engine's own bounds.
///
/// ```
/// use h2push_h2::state::{Config, Streams};
///
/// let config = Config { max_concurrent_streams: 250, ..Config::default() };
/// let streams = Streams::new(config);
/// assert_eq!(streams.config().initial_stream_window, 64 * 1024);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Our SETTINGS_MAX_CONCURRENT_STREAMS: client streams beyond it are refused (§5.1.2).
    pub max_concurrent_streams: u32,
    /// Our SETTINGS_INITIAL_WINDOW_SIZE: each request stream's first receive window.
    pub initial_stream_window: u32,
    /// The connection's first receive window (raised from 65,535 by a WINDOW_UPDATE on
    /// stream 0 that [`Streams::new`] queues).
    pub initial_connection_window: u32,
    /// How far auto-tuning may grow a stream's receive window.
    pub max_stream_window: u32,
    /// How far auto-tuning may grow the connection's receive window.
    pub max_connection_window: u32,
    /// How long frames on a stream we reset are ignored (§5.1 "closed").
    pub reset_grace: Duration,
    /// How many reset streams, and how many otherwise closed ones, are remembered.
    pub closed_memory: usize,
    /// How many request-body bytes a draining stream discards before it is reset (§8.1).
    pub drain_max_bytes: u64,
    /// The round-trip estimate auto-tuning starts with ([`Streams::set_rtt`] updates it).
    pub rtt: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_concurrent_streams: 100,
            initial_stream_window: 64 * 1024,
            initial_connection_window: 64 * 1024,
            max_stream_window: 16 * 1024 * 1024,
            max_connection_window: 16 * 1024 * 1024,
            reset_grace: Duration::from_secs(2),
            closed_memory: 256,
            drain_max_bytes: 1024 * 1024,
            rtt: Duration::from_millis(100),
        }
    }
}

/// A frame the engine wants sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// WINDOW_UPDATE on `stream` (0: the connection).
    WindowUpdate {
        /// The stream, or [`StreamId::ZERO`].
        stream: StreamId,
        /// The increment, 1..=2^31-1.
        increment: u32,
    },
    /// RST_STREAM: a draining stream reached its bound or deadline (NO_ERROR, §8.1).
    Reset {
        /// The stream.
        stream: StreamId,
        /// The code.
        reason: Reason,
    },
}

/// A stream's state as the caller sees it (§5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamState {
    /// Not opened yet (or, for an id below the highest seen, closed and forgotten: see
    /// [`StreamState::Closed`]).
    Idle,
    /// Promised, not started.
    ReservedLocal,
    /// Both sides open.
    Open,
    /// The client finished; we are responding.
    HalfClosedRemote,
    /// Our response is complete; the request body is still arriving.
    HalfClosedLocal,
    /// Half-closed (local), the request body being discarded (§8.1).
    Draining,
    /// Closed.
    Closed,
}

/// What to do with a received HEADERS (after decoding its header block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvHeaders {
    /// A new request: check it with [`message::parse_request`].
    Request,
    /// Trailers: check them with [`message::parse_trailers`].
    Trailers,
    /// Drop it (a stream we reset, a draining stream, or a stream after our GOAWAY).
    Ignored,
}

/// What to do with a received DATA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvData {
    /// Hand the payload to the application; [`Streams::release`] the length (padding at
    /// once) as it is consumed.
    Deliver,
    /// Drop it: the engine released its flow-control credit already.
    Discarded,
}

/// The streams of one server connection: states, ids, limits and windows.
///
/// ```
/// use h2push_h2::state::{Config, RecvData, RecvHeaders, Streams};
/// use h2push_h2::StreamId;
///
/// let mut s = Streams::new(Config::default());
/// let id = StreamId::new(1);
/// assert_eq!(s.recv_headers(id, false).unwrap(), RecvHeaders::Request);
/// assert_eq!(s.recv_data(id, 10, true).unwrap(), RecvData::Deliver);
/// s.send_informational(id).unwrap(); // 103 Early Hints
/// s.send_head(id, false).unwrap(); // 200
/// s.send_data(id, 5, true).unwrap();
/// assert!(s.send_informational(id).is_err()); // our side has ended
/// s.release(id, 10, None);
/// assert_eq!(s.active_client_streams(), 0);
/// ```
#[derive(Debug)]
pub struct Streams {
    pub(crate) config: Config,
    pub(crate) store: Store,
    pub(crate) conn_send: flow::SendWindow,
    pub(crate) conn_recv: RecvWindow,
    pub(crate) actions: VecDeque<Action>,
    /// The highest client stream id seen (§5.1.1); 0 before any.
    pub(crate) last_client: u32,
    /// The highest stream id we promised; 0 before any.
    pub(crate) last_pushed: u32,
    /// After our GOAWAY: client streams above this are ignored (§6.8).
    pub(crate) goaway_sent: Option<StreamId>,
    /// After the client's GOAWAY: no new pushes (§6.8, §8.4).
    pub(crate) goaway_received: Option<StreamId>,
    pub(crate) peer_initial_window: u32,
    pub(crate) peer_max_concurrent: Option<u32>,
    pub(crate) peer_enable_push: bool,
    /// Whether the client acknowledged our SETTINGS (our initial window applies).
    pub(crate) settings_acked: bool,
    pub(crate) rtt: Duration,
}

impl Streams {
    /// A connection with no streams yet. If `config.initial_connection_window` is above
    /// 65,535, the WINDOW_UPDATE that raises it is the first action.
    pub fn new(config: Config) -> Streams {
        let conn_target = config
            .initial_connection_window
            .clamp(DEFAULT_WINDOW, MAX_WINDOW);
        // A first window below 65,535 cannot be announced: WINDOW_UPDATE only grows.
        let conn_recv = RecvWindow::new(conn_target, config.max_connection_window);
        let mut actions = VecDeque::new();
        if conn_target > DEFAULT_WINDOW {
            actions.push_back(Action::WindowUpdate {
                stream: StreamId::ZERO,
                increment: conn_target - DEFAULT_WINDOW,
            });
        }
        Streams {
            store: Store::new(config.closed_memory),
            rtt: config.rtt,
            config,
            conn_send: flow::SendWindow::new(DEFAULT_WINDOW),
            conn_recv,
            actions,
            last_client: 0,
            last_pushed: 0,
            goaway_sent: None,
            goaway_received: None,
            peer_initial_window: DEFAULT_WINDOW,
            peer_max_concurrent: None,
            peer_enable_push: true,
            settings_acked: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The next frame the engine wants sent, if any. Call after every other call.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    // ----- settings -----

    /// The client acknowledged our SETTINGS: our SETTINGS_INITIAL_WINDOW_SIZE now applies
    /// to the streams opened before (they were allowed 65,535 until then, §6.9.2).
    pub fn recv_settings_ack(&mut self) {
        if self.settings_acked {
            return;
        }
        self.settings_acked = true;
        let ours = i64::from(self.config.initial_stream_window.min(MAX_WINDOW));
        let delta = ours - i64::from(self.recv_initial_before_ack());
        if delta != 0 {
            self.store.for_each_mut(|_, recv| recv.adjust(delta));
        }
    }

    /// The client's SETTINGS_INITIAL_WINDOW_SIZE: every stream's send window moves by the
    /// difference (§6.9.2), possibly below zero. Above 2^31-1, or a window pushed above it,
    /// is a connection FLOW_CONTROL_ERROR (§6.5.2, §6.9.2).
    pub fn set_peer_initial_window_size(&mut self, size: u32) -> Result<(), ConnectionError> {
        if size > MAX_WINDOW {
            return Err(ConnectionError::new(
                Reason::FLOW_CONTROL_ERROR,
                "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 (§6.5.2)",
            ));
        }
        let delta = i64::from(size) - i64::from(self.peer_initial_window);
        let mut overflow = false;
        self.store.for_each_mut(|send, _| {
            if send.adjust(delta).is_err() {
                overflow = true;
            }
        });
        self.peer_initial_window = size;
        if overflow {
            return Err(ConnectionError::new(
                Reason::FLOW_CONTROL_ERROR,
                "SETTINGS_INITIAL_WINDOW_SIZE change pushed a window above 2^31-1 (§6.9.2)",
            ));
        }
        Ok(())
    }

    /// The client's SETTINGS_MAX_CONCURRENT_STREAMS: how many pushed streams may be open at
    /// once (§5.1.2). Lowering it below the current count closes nothing.
    pub fn set_peer_max_concurrent_streams(&mut self, max: u32) {
        self.peer_max_concurrent = Some(max);
    }

    /// The client's SETTINGS_ENABLE_PUSH (the codec rejects values other than 0 and 1).
    pub fn set_peer_enable_push(&mut self, enabled: bool) {
        self.peer_enable_push = enabled;
    }

    /// A measured round-trip time (PING), for receive-window auto-tuning.
    pub fn set_rtt(&mut self, rtt: Duration) {
        self.rtt = rtt;
    }

    // ----- time -----

    /// Tells the engine the time: frames on streams we reset stop being ignored after
    /// [`Config::reset_grace`], and draining streams past their deadline are reset (their
    /// RST_STREAM(NO_ERROR) queued as actions). Returns when to call again, if anything
    /// waits on time.
    pub fn expire(&mut self, now: Instant) -> Option<Instant> {
        self.store.clock = Some(now);
        self.store.age_resets(now, self.config.reset_grace);
        for id in self.store.ids() {
            let due = self.store.get(id).is_some_and(
                |s| matches!(s.state, State::Draining { deadline, .. } if deadline <= now),
            );
            if due {
                self.reset_draining(id);
            }
        }
        let drains = self.store.iter().filter_map(|s| match s.state {
            State::Draining { deadline, .. } => Some(deadline),
            _ => None,
        });
        drains
            .chain(self.store.next_reset_expiry(self.config.reset_grace))
            .min()
    }

    // ----- flow control -----

    /// The application consumed `n` bytes of DATA (or padding) on `id`: credit comes back to
    /// the client in batched, auto-tuned WINDOW_UPDATEs (see [`flow::RecvWindow`]). `now`,
    /// if known, drives auto-tuning. Releasing on a stream that was reset or let go, or more
    /// than was received, changes nothing.
    pub fn release(&mut self, id: StreamId, n: u64, now: Option<Instant>) {
        if now.is_some() {
            self.store.clock = now;
        }
        let rtt = self.rtt;
        let Some((released, update, target)) = self.store.update(id, |s| {
            let released = s.recv.release(n);
            let update = if s.state.is_recv_open() {
                s.recv.poll_update(now, rtt)
            } else {
                None
            };
            (released, update, s.recv.target())
        }) else {
            return;
        };
        if let Some(increment) = update {
            self.actions.push_back(Action::WindowUpdate {
                stream: id,
                increment,
            });
            self.conn_recv.raise_target(target + target / 2);
        }
        self.conn_recv.release(released);
        self.conn_update(now);
    }

    /// How many DATA bytes may be sent on `id` now: the smaller of its window and the
    /// connection's (0 if the stream cannot send DATA).
    pub fn send_capacity(&self, id: StreamId) -> u32 {
        match self.store.get(id) {
            Some(s) if s.state.check_body().is_ok() => {
                s.send.available().min(self.conn_send.available())
            }
            _ => 0,
        }
    }

    /// The connection's send window (may be negative only in theory: it has no SETTINGS).
    pub fn connection_send_window(&self) -> i64 {
        self.conn_send.size()
    }

    /// The connection's receive window.
    pub fn connection_recv_window(&self) -> &RecvWindow {
        &self.conn_recv
    }

    // ----- queries -----

    /// The state of `id`.
    pub fn state(&self, id: StreamId) -> StreamState {
        if let Some(s) = self.store.get(id) {
            return match s.state {
                State::ReservedLocal => StreamState::ReservedLocal,
                State::Open { .. } => StreamState::Open,
                State::HalfClosedRemote { .. } => StreamState::HalfClosedRemote,
                State::HalfClosedLocal => StreamState::HalfClosedLocal,
                State::Draining { .. } => StreamState::Draining,
                State::Closed(_) => StreamState::Closed,
            };
        }
        if self.is_idle(id) {
            StreamState::Idle
        } else {
            StreamState::Closed
        }
    }

    /// Client streams open or half-closed (they count against our limit).
    pub fn active_client_streams(&self) -> usize {
        self.store.active_client()
    }

    /// Pushed streams open or half-closed (they count against the client's limit).
    pub fn active_pushed_streams(&self) -> usize {
        self.store.active_pushed()
    }

    /// Pushed streams promised and not started.
    pub fn reserved_streams(&self) -> usize {
        self.store.reserved()
    }

    /// The highest client stream id seen, for our GOAWAY (§6.8).
    pub fn last_client_stream(&self) -> StreamId {
        StreamId::new(self.last_client)
    }

    /// The streams held (for invariants and diagnostics).
    pub fn store(&self) -> &Store {
        &self.store
    }

    // ----- shared helpers -----

    pub(crate) fn is_idle(&self, id: StreamId) -> bool {
        let n = u32::from(id);
        if id.is_client_initiated() {
            n > self.last_client
        } else {
            n > self.last_pushed
        }
    }

    /// The receive window a new request stream starts with.
    pub(crate) fn recv_initial(&self) -> u32 {
        if self.settings_acked {
            self.config.initial_stream_window.min(MAX_WINDOW)
        } else {
            self.recv_initial_before_ack()
        }
    }

    fn recv_initial_before_ack(&self) -> u32 {
        self.config
            .initial_stream_window
            .clamp(DEFAULT_WINDOW, MAX_WINDOW)
    }

    /// Queues the connection's WINDOW_UPDATE if one is due.
    pub(crate) fn conn_update(&mut self, now: Option<Instant>) {
        if let Some(increment) = self.conn_recv.poll_update(now, self.rtt) {
            self.actions.push_back(Action::WindowUpdate {
                stream: StreamId::ZERO,
                increment,
            });
        }
    }

    /// Closes `id` as reset by us (frames in flight ignored for a while), releasing what
    /// it had buffered on the connection.
    pub(crate) fn close_reset(&mut self, id: StreamId) {
        let released = self.store.update(id, |s| {
            s.state = State::Closed(Cause::Reset { ignore: true });
            s.recv.release_all()
        });
        if let Some(n) = released {
            self.conn_recv.release(n);
            self.conn_update(self.store.clock);
        }
    }

    /// A stream error on `id`: the stream is closed as reset by us (the caller sends the
    /// RST_STREAM) and the error returned.
    pub(crate) fn stream_error(
        &mut self,
        id: StreamId,
        reason: Reason,
        detail: &'static str,
    ) -> ProtocolError {
        self.close_reset(id);
        StreamError::new(id, reason, detail).into()
    }
}
