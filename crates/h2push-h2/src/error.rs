//! Error codes (RFC 9113 §7) and the two kinds of protocol error (§5.4).
//!
//! A connection error ends the connection with GOAWAY; a stream error resets one stream with
//! RST_STREAM. Every module of the engine reports what it finds as one of these, naming the
//! code the RFC gives for the rule; what to send in answer is the connection's.

use std::fmt;

use crate::frame::StreamId;

/// An HTTP/2 error code (RFC 9113 §7). Unknown codes are kept as received (§7: they "MUST
/// NOT trigger any special behavior" and may be treated as `INTERNAL_ERROR`).
///
/// ```
/// use h2push_h2::Reason;
///
/// assert_eq!(u32::from(Reason::FLOW_CONTROL_ERROR), 0x3);
/// assert_eq!(Reason::from(0x8), Reason::CANCEL);
/// assert_eq!(Reason::from(0x99).to_string(), "unknown error code 0x99");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reason(u32);

impl Reason {
    /// `0x0`: graceful shutdown, or a stream closed with nothing wrong.
    pub const NO_ERROR: Reason = Reason(0x0);
    /// `0x1`: an unspecific protocol error.
    pub const PROTOCOL_ERROR: Reason = Reason(0x1);
    /// `0x2`: an unexpected internal error.
    pub const INTERNAL_ERROR: Reason = Reason(0x2);
    /// `0x3`: the peer violated flow control.
    pub const FLOW_CONTROL_ERROR: Reason = Reason(0x3);
    /// `0x4`: SETTINGS were not acknowledged in time.
    pub const SETTINGS_TIMEOUT: Reason = Reason(0x4);
    /// `0x5`: a frame arrived on a half-closed stream.
    pub const STREAM_CLOSED: Reason = Reason(0x5);
    /// `0x6`: a frame of an invalid size.
    pub const FRAME_SIZE_ERROR: Reason = Reason(0x6);
    /// `0x7`: the stream was refused before any processing.
    pub const REFUSED_STREAM: Reason = Reason(0x7);
    /// `0x8`: the stream is no longer needed.
    pub const CANCEL: Reason = Reason(0x8);
    /// `0x9`: the header compression context cannot be maintained.
    pub const COMPRESSION_ERROR: Reason = Reason(0x9);
    /// `0xa`: a CONNECT tunnel was reset or closed abnormally.
    pub const CONNECT_ERROR: Reason = Reason(0xa);
    /// `0xb`: the peer is generating excessive load.
    pub const ENHANCE_YOUR_CALM: Reason = Reason(0xb);
    /// `0xc`: the transport does not meet minimum security requirements.
    pub const INADEQUATE_SECURITY: Reason = Reason(0xc);
    /// `0xd`: the request must be retried over HTTP/1.1.
    pub const HTTP_1_1_REQUIRED: Reason = Reason(0xd);

    fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0 => "NO_ERROR",
            0x1 => "PROTOCOL_ERROR",
            0x2 => "INTERNAL_ERROR",
            0x3 => "FLOW_CONTROL_ERROR",
            0x4 => "SETTINGS_TIMEOUT",
            0x5 => "STREAM_CLOSED",
            0x6 => "FRAME_SIZE_ERROR",
            0x7 => "REFUSED_STREAM",
            0x8 => "CANCEL",
            0x9 => "COMPRESSION_ERROR",
            0xa => "CONNECT_ERROR",
            0xb => "ENHANCE_YOUR_CALM",
            0xc => "INADEQUATE_SECURITY",
            0xd => "HTTP_1_1_REQUIRED",
            _ => return None,
        })
    }
}

impl From<u32> for Reason {
    fn from(code: u32) -> Reason {
        Reason(code)
    }
}

impl From<Reason> for u32 {
    fn from(r: Reason) -> u32 {
        r.0
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "unknown error code {:#x}", self.0),
        }
    }
}

impl fmt::Debug for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A connection error (RFC 9113 §5.4.1): answered with GOAWAY carrying `reason`, then the
/// connection closes. `detail` says which rule, for logs and the GOAWAY's debug data.
///
/// ```
/// use h2push_h2::{ConnectionError, Reason};
///
/// let e = ConnectionError::new(Reason::FRAME_SIZE_ERROR, "SETTINGS length not a multiple of 6");
/// assert_eq!(e.to_string(), "FRAME_SIZE_ERROR: SETTINGS length not a multiple of 6");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionError {
    /// The code for the GOAWAY.
    pub reason: Reason,
    /// The rule that was broken.
    pub detail: &'static str,
}

impl ConnectionError {
    /// An error with `reason`, broken rule `detail`.
    pub const fn new(reason: Reason, detail: &'static str) -> Self {
        ConnectionError { reason, detail }
    }
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

impl std::error::Error for ConnectionError {}

/// A stream error (RFC 9113 §5.4.2): answered with RST_STREAM carrying `reason` on
/// `stream`; the connection goes on.
///
/// ```
/// use h2push_h2::{Reason, StreamError, StreamId};
///
/// let e = StreamError::new(StreamId::new(3), Reason::PROTOCOL_ERROR, "pseudo-header in trailers");
/// assert_eq!(e.to_string(), "stream 3: PROTOCOL_ERROR: pseudo-header in trailers");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamError {
    /// The stream to reset.
    pub stream: StreamId,
    /// The code for the RST_STREAM.
    pub reason: Reason,
    /// The rule that was broken.
    pub detail: &'static str,
}

impl StreamError {
    /// An error on `stream` with `reason`, broken rule `detail`.
    pub const fn new(stream: StreamId, reason: Reason, detail: &'static str) -> Self {
        StreamError {
            stream,
            reason,
            detail,
        }
    }
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stream {}: {}: {}",
            self.stream, self.reason, self.detail
        )
    }
}

impl std::error::Error for StreamError {}

/// Either kind of protocol error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// Ends the connection.
    Connection(ConnectionError),
    /// Resets one stream.
    Stream(StreamError),
}

impl From<ConnectionError> for ProtocolError {
    fn from(e: ConnectionError) -> Self {
        ProtocolError::Connection(e)
    }
}

impl From<StreamError> for ProtocolError {
    fn from(e: StreamError) -> Self {
        ProtocolError::Stream(e)
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Connection(e) => write!(f, "connection error {e}"),
            ProtocolError::Stream(e) => write!(f, "stream error {e}"),
        }
    }
}

impl std::error::Error for ProtocolError {}
