//! One stream's state (RFC 9113 §5.1) as a server sees it, and its transitions.
//!
//! This module owns the lifecycle of a single stream that exists: which frames the client
//! may send in each state and the exact error otherwise, and which heads and bodies we may
//! send (informational heads, the final head, DATA, trailers). It does not know about
//! other streams, stream identifiers' order, concurrency limits or windows: those are the
//! stream set's ([`super::Streams`]), which also handles idle and forgotten streams.

use std::time::Instant;

use crate::error::Reason;

/// Where our (the server's) side of a stream that is open for sending is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Local {
    /// No final head yet: informational (1xx) heads may be sent, any number of times.
    AwaitingHead,
    /// The final head was sent: DATA and then optional trailers.
    Body,
}

/// How a stream came to be closed; it decides the answer to frames that arrive after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// END_STREAM both ways (or the client's END_STREAM on a stream already half-closed
    /// (local)). DATA or HEADERS after this are a connection error STREAM_CLOSED (§5.1).
    EndStream,
    /// The client sent RST_STREAM. Frames after are a stream error STREAM_CLOSED (§5.1).
    PeerReset,
    /// We sent RST_STREAM. While `ignore` holds (a grace period), frames the client had in
    /// flight are ignored (§5.1 "closed"); after, they are a stream error STREAM_CLOSED.
    Reset {
        /// Whether frames are still silently ignored.
        ignore: bool,
    },
}

/// The state of a stream that the stream set holds (idle streams are not held).
///
/// ```
/// use h2push_h2::state::stream::{Cause, Local, SendError, State, Violation};
/// use h2push_h2::Reason;
///
/// // A request with a body: open; we answer early, then its body ends.
/// let mut s = State::Open { local: Local::AwaitingHead };
/// s.send_informational().unwrap();
/// s.send_head(true).unwrap();
/// assert_eq!(s, State::HalfClosedLocal);
/// assert_eq!(s.send_informational(), Err(SendError::Ended));
/// s.recv_data(true).unwrap();
/// assert_eq!(s, State::Closed(Cause::EndStream));
/// assert_eq!(
///     s.recv_data(false),
///     Err(Violation::Connection(Reason::STREAM_CLOSED, "frame after END_STREAM both ways (§5.1 closed)"))
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// A stream we promised with PUSH_PROMISE and have not started (§5.1 "reserved (local)").
    ReservedLocal,
    /// Both sides may send (a request whose body is still arriving).
    Open {
        /// Our side.
        local: Local,
    },
    /// The client sent END_STREAM; we are still responding (§5.1 "half-closed (remote)").
    /// Pushed streams start here.
    HalfClosedRemote {
        /// Our side.
        local: Local,
    },
    /// Our response is complete; the request body is still arriving, and the application
    /// wants it (§5.1 "half-closed (local)").
    HalfClosedLocal,
    /// Half-closed (local), and the application does not want the rest of the request body
    /// (§8.1 early answer): DATA is accepted and discarded, up to a bound in bytes and until
    /// a deadline, after which the stream is reset with NO_ERROR.
    Draining {
        /// Bytes discarded so far.
        discarded: u64,
        /// When to give up and reset.
        deadline: Instant,
    },
    /// Closed (§5.1).
    Closed(Cause),
}

/// What a received frame does to a stream, when it does not simply change state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Ignore the frame (still count DATA against the connection window, §5.1 "closed").
    Ignore,
    /// A stream error with this code (§5.4.2).
    Stream(Reason, &'static str),
    /// A connection error with this code (§5.4.1).
    Connection(Reason, &'static str),
}

/// What a received HEADERS was, when it was accepted on an existing stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadersRecv {
    /// Trailers (§8.1): validate them as a trailer section.
    Trailers,
    /// Accepted and of no interest (a draining stream's trailers).
    Discard,
}

/// A programming error of the caller's on the sending side: the call changed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The stream is idle or no longer known.
    UnknownStream,
    /// Our side of the stream has ended (END_STREAM sent) or the stream was reset.
    Ended,
    /// An informational or final head after the final head.
    FinalHeadSent,
    /// DATA or trailers before the final head.
    NoFinalHead,
    /// More DATA than the send windows allow; `available` could be sent.
    FlowControl {
        /// What the windows allow now.
        available: u32,
    },
    /// Opening this pushed stream would exceed the client's SETTINGS_MAX_CONCURRENT_STREAMS
    /// (§5.1.2): wait for another pushed stream to close.
    ConcurrencyLimit,
    /// Draining needs a complete response and a request body still arriving (§8.1).
    NotHalfClosedLocal,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::UnknownStream => f.write_str("no such stream"),
            SendError::Ended => f.write_str("the stream has ended for sending"),
            SendError::FinalHeadSent => f.write_str("the final head was already sent"),
            SendError::NoFinalHead => f.write_str("the final head was not sent yet"),
            SendError::FlowControl { available } => {
                write!(f, "flow control allows {available} bytes")
            }
            SendError::ConcurrencyLimit => f.write_str("the client's stream limit is reached"),
            SendError::NotHalfClosedLocal => f.write_str("the stream is not half-closed (local)"),
        }
    }
}

impl std::error::Error for SendError {}

const TRAILERS_NEED_END_STREAM: &str = "trailers without END_STREAM (§8.1)";

impl State {
    /// Whether the stream counts toward a concurrency limit: open or either half-closed
    /// (§5.1.2; reserved streams do not).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            State::Open { .. }
                | State::HalfClosedRemote { .. }
                | State::HalfClosedLocal
                | State::Draining { .. }
        )
    }

    /// Whether the client may still send DATA that the application reads.
    pub fn is_recv_open(self) -> bool {
        matches!(self, State::Open { .. } | State::HalfClosedLocal)
    }

    /// Whether we may still send on the stream (a head or DATA).
    pub fn is_send_open(self) -> bool {
        matches!(
            self,
            State::ReservedLocal | State::Open { .. } | State::HalfClosedRemote { .. }
        )
    }

    /// A HEADERS from the client on this existing stream (the opening HEADERS is the stream
    /// set's). Trailers must carry END_STREAM (§8.1); after END_STREAM, HEADERS is an error.
    pub fn recv_headers(&mut self, end_stream: bool) -> Result<HeadersRecv, Violation> {
        match *self {
            State::ReservedLocal => Err(Violation::Connection(
                Reason::PROTOCOL_ERROR,
                "HEADERS from the client on a pushed stream (§5.1 reserved (local), §8.4)",
            )),
            State::Open { local } => {
                if !end_stream {
                    return Err(Violation::Stream(
                        Reason::PROTOCOL_ERROR,
                        TRAILERS_NEED_END_STREAM,
                    ));
                }
                *self = State::HalfClosedRemote { local };
                Ok(HeadersRecv::Trailers)
            }
            State::HalfClosedLocal => {
                if !end_stream {
                    return Err(Violation::Stream(
                        Reason::PROTOCOL_ERROR,
                        TRAILERS_NEED_END_STREAM,
                    ));
                }
                *self = State::Closed(Cause::EndStream);
                Ok(HeadersRecv::Trailers)
            }
            State::Draining { .. } => {
                if !end_stream {
                    return Err(Violation::Stream(
                        Reason::PROTOCOL_ERROR,
                        TRAILERS_NEED_END_STREAM,
                    ));
                }
                *self = State::Closed(Cause::EndStream);
                Ok(HeadersRecv::Discard)
            }
            State::HalfClosedRemote { .. } => Err(Violation::Stream(
                Reason::STREAM_CLOSED,
                "HEADERS after END_STREAM (§5.1 half-closed (remote))",
            )),
            State::Closed(cause) => Err(closed_violation(cause)),
        }
    }

    /// A DATA from the client (its flow-control accounting is the stream set's).
    pub fn recv_data(&mut self, end_stream: bool) -> Result<(), Violation> {
        match *self {
            State::ReservedLocal => Err(Violation::Connection(
                Reason::PROTOCOL_ERROR,
                "DATA from the client on a pushed stream (§5.1 reserved (local), §8.4)",
            )),
            State::Open { local } => {
                if end_stream {
                    *self = State::HalfClosedRemote { local };
                }
                Ok(())
            }
            State::HalfClosedLocal | State::Draining { .. } => {
                if end_stream {
                    *self = State::Closed(Cause::EndStream);
                }
                Ok(())
            }
            State::HalfClosedRemote { .. } => Err(Violation::Stream(
                Reason::STREAM_CLOSED,
                "DATA after END_STREAM (§5.1 half-closed (remote))",
            )),
            State::Closed(cause) => Err(closed_violation(cause)),
        }
    }

    /// Whether the client sending RST_STREAM closed a live stream (false: it was closed
    /// already, and the frame is ignored, §5.1 "closed"; §5.4.2 forbids answering it).
    pub fn recv_reset(&mut self) -> bool {
        if let State::Closed(_) = self {
            return false;
        }
        *self = State::Closed(Cause::PeerReset);
        true
    }

    /// We send an informational (1xx) head. A pushed stream opens (the stream set has
    /// checked the concurrency limit).
    pub fn send_informational(&mut self) -> Result<(), SendError> {
        match *self {
            State::ReservedLocal => {
                *self = State::HalfClosedRemote {
                    local: Local::AwaitingHead,
                };
                Ok(())
            }
            State::Open { local } | State::HalfClosedRemote { local } => match local {
                Local::AwaitingHead => Ok(()),
                Local::Body => Err(SendError::FinalHeadSent),
            },
            _ => Err(SendError::Ended),
        }
    }

    /// We send the final head, with END_STREAM if `end_stream`.
    pub fn send_head(&mut self, end_stream: bool) -> Result<(), SendError> {
        let local = match *self {
            State::ReservedLocal => Local::AwaitingHead,
            State::Open { local } | State::HalfClosedRemote { local } => local,
            _ => return Err(SendError::Ended),
        };
        if local == Local::Body {
            return Err(SendError::FinalHeadSent);
        }
        if matches!(self, State::ReservedLocal) {
            *self = State::HalfClosedRemote { local: Local::Body };
        }
        self.set_local(Local::Body);
        if end_stream {
            self.end_local();
        }
        Ok(())
    }

    /// Whether DATA or trailers may be sent now.
    pub fn check_body(self) -> Result<(), SendError> {
        match self {
            State::Open { local } | State::HalfClosedRemote { local } => match local {
                Local::Body => Ok(()),
                Local::AwaitingHead => Err(SendError::NoFinalHead),
            },
            State::ReservedLocal => Err(SendError::NoFinalHead),
            _ => Err(SendError::Ended),
        }
    }

    /// We send DATA (windows checked by the stream set), with END_STREAM if `end_stream`.
    pub fn send_data(&mut self, end_stream: bool) -> Result<(), SendError> {
        self.check_body()?;
        if end_stream {
            self.end_local();
        }
        Ok(())
    }

    /// We send trailers, which end our side.
    pub fn send_trailers(&mut self) -> Result<(), SendError> {
        self.check_body()?;
        self.end_local();
        Ok(())
    }

    fn set_local(&mut self, to: Local) {
        if let State::Open { local } | State::HalfClosedRemote { local } = self {
            *local = to;
        }
    }

    fn end_local(&mut self) {
        *self = match *self {
            State::Open { .. } => State::HalfClosedLocal,
            State::HalfClosedRemote { .. } => State::Closed(Cause::EndStream),
            other => other,
        };
    }
}

/// The answer to DATA or HEADERS on a closed stream (§5.1 "closed").
pub fn closed_violation(cause: Cause) -> Violation {
    match cause {
        Cause::EndStream => Violation::Connection(
            Reason::STREAM_CLOSED,
            "frame after END_STREAM both ways (§5.1 closed)",
        ),
        Cause::PeerReset => Violation::Stream(
            Reason::STREAM_CLOSED,
            "frame after the client's RST_STREAM (§5.1 closed)",
        ),
        Cause::Reset { ignore: true } => Violation::Ignore,
        Cause::Reset { ignore: false } => Violation::Stream(
            Reason::STREAM_CLOSED,
            "frame long after our RST_STREAM (§5.1 closed)",
        ),
    }
}
