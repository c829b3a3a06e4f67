//! The `text/event-stream` format of server-sent events (WHATWG HTML §9.2), both ways.
//!
//! This module owns the wire format and nothing else: [`Event`] turns one event into the exact
//! bytes a browser's `EventSource` expects, [`comment`] makes a comment-only chunk (a
//! heartbeat), and [`Parser`] is a streaming, chunk-boundary-independent implementation of the
//! spec's "parse an event stream" and "interpret an event stream" algorithms, for tests, the
//! probe and Rust clients. [`is_event_stream`] is the `Content-Type` check an `EventSource`
//! makes before it reads the body.
//!
//! It does not know about connections, HTTP responses and their headers, heartbeat timers,
//! fan-out to subscribers or replay after `Last-Event-ID`: those belong to the event hub
//! ([`hub`]: topics, ids, replay, gaps, slow consumers, the memory and Redis backends) and to
//! its HTTP endpoints ([`http`]: `GET /events`, `POST /publish`, heartbeats), which use this
//! module.
//!
//! ```
//! use h2push::sse::{Event, Parser};
//!
//! let bytes = Event::data("line one\nline two").event("greeting")?.id("7")?.encode();
//! assert_eq!(bytes, "event: greeting\nid: 7\ndata: line one\ndata: line two\n\n");
//!
//! let mut parser = Parser::new();
//! let events = parser.feed(&bytes);
//! assert_eq!(events[0].event_type, "greeting");
//! assert_eq!(events[0].data, "line one\nline two");
//! assert_eq!(events[0].last_event_id, "7");
//! # Ok::<(), h2push::sse::SseError>(())
//! ```

mod conn_limit;
mod encode;
pub mod front;
pub mod http;
pub mod hub;
pub mod mercure;
mod parse;

pub use encode::{comment, Event};
pub use parse::{parse_all, Item, Oversized, ParseLimits, ParsedEvent, Parser};

/// The MIME type of an event stream, for the `Content-Type` of an SSE response.
///
/// ```
/// assert_eq!(h2push::sse::MIME_TYPE, "text/event-stream");
/// ```
pub const MIME_TYPE: &str = "text/event-stream";

/// Why an [`Event`] could not be built: a field value that would break the framing.
///
/// ```
/// use h2push::sse::{Event, SseError};
///
/// assert_eq!(Event::data("x").id("a\nb").unwrap_err(), SseError::InvalidId);
/// assert_eq!(Event::data("x").event("a\rb").unwrap_err(), SseError::InvalidEventType);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    /// The event id contains U+0000 NULL, which clients ignore, or a CR or LF, which would end
    /// the `id:` line early.
    #[error("an SSE event id must not contain NUL, CR or LF")]
    InvalidId,
    /// The event type contains a CR or LF, which would end the `event:` line early.
    #[error("an SSE event type must not contain CR or LF")]
    InvalidEventType,
}

/// Whether a `Content-Type` value announces an event stream, as an `EventSource` decides it.
///
/// The MIME type's essence must be `text/event-stream` (ASCII case-insensitive); parameters
/// such as `charset` are allowed and ignored, because the stream is always UTF-8. Anything
/// else makes an `EventSource` fail the connection without reading the body.
///
/// ```
/// use h2push::sse::is_event_stream;
///
/// assert!(is_event_stream("text/event-stream"));
/// assert!(is_event_stream("Text/Event-Stream; charset=windows-1252"));
/// assert!(is_event_stream("text/event-stream;"));
/// assert!(!is_event_stream("text/plain"));
/// assert!(!is_event_stream("x bogus"));
/// ```
pub fn is_event_stream(content_type: &str) -> bool {
    // MIME Sniffing "parse a MIME type": the essence is everything before the first `;`, with
    // HTTP whitespace trimmed at both ends. Any whitespace left inside cannot be part of a
    // valid type or subtype token, so an exact comparison is enough.
    const HTTP_WS: &[char] = &['\t', '\n', '\r', ' '];
    let essence = content_type.split(';').next().unwrap_or_default();
    essence
        .trim_matches(HTTP_WS)
        .eq_ignore_ascii_case(MIME_TYPE)
}
