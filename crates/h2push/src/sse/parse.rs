//! Parsing a `text/event-stream` body, chunk by chunk.
//!
//! This file owns [`Parser`]: the spec's "parse an event stream" and "interpret an event
//! stream" algorithms (WHATWG HTML §9.2.5–9.2.6), fed with byte chunks that may split lines,
//! line endings (a CR at the end of one chunk and its LF at the start of the next count as one
//! line ending), UTF-8 sequences and the byte order mark anywhere. Reading the body,
//! reconnecting after the retry time and sending `Last-Event-ID` are left to the caller.
//!
//! The stream is decoded as UTF-8 with replacement characters for invalid bytes. Lines are
//! found on the raw bytes first, which gives the same result as decoding first: CR, LF and
//! `:` are ASCII and never part of a multi-byte sequence.
//!
//! What the parser buffers is bounded by [`ParseLimits`] (one line, one event's data): a
//! line or an event past its limit is discarded whole and reported as [`Item::Oversized`],
//! so a hostile or broken stream cannot make a client grow without bound.

use std::time::Duration;

/// The UTF-8 byte order mark, which may start a stream and is then not part of its first line.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A message event as a browser's `EventSource` would dispatch it.
///
/// ```
/// use h2push::sse::{parse_all, ParsedEvent};
///
/// let events = parse_all(b"event: tick\nid: 1\ndata: a\ndata: b\n\n");
/// assert_eq!(
///     events,
///     [ParsedEvent {
///         event_type: "tick".into(),
///         data: "a\nb".into(),
///         last_event_id: "1".into(),
///     }]
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ParsedEvent {
    /// The event type: the last `event:` value of the block, or `message` when it had none or
    /// an empty one.
    pub event_type: String,
    /// The `data:` values of the block joined with LF.
    pub data: String,
    /// The stream's last event id when the event was dispatched: the latest `id:` value seen
    /// in this or an earlier block, or the empty string.
    pub last_event_id: String,
}

/// Everything a stream can tell its client, in stream order; see [`Parser::feed_items`].
///
/// ```
/// use std::time::Duration;
/// use h2push::sse::{Item, Parser};
///
/// let items = Parser::new().feed_items(b": hi\nretry: 500\n\n");
/// assert_eq!(items, [Item::Comment("hi".into()), Item::Retry(Duration::from_millis(500))]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Item {
    /// A dispatched event.
    Event(ParsedEvent),
    /// A `retry:` field with a valid value: the new reconnection time.
    Retry(Duration),
    /// A comment line: the text after the `:`, without one leading space if it had one.
    Comment(String),
    /// A line or an event went past the parser's [`ParseLimits`] and was discarded (the
    /// event the line belonged to is not dispatched).
    Oversized(Oversized),
}

/// What went past a [`ParseLimits`] bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Oversized {
    /// A line longer than [`ParseLimits::max_line`].
    Line,
    /// An event whose data grew past [`ParseLimits::max_event`].
    Event,
}

/// How much a [`Parser`] buffers at most.
///
/// ```
/// use h2push::sse::{Item, Oversized, ParseLimits, Parser};
///
/// let mut parser = Parser::with_limits(ParseLimits { max_line: 16, max_event: 32 });
/// let items = parser.feed_items(b"data: this line is too long\n\ndata: ok\n\n");
/// assert_eq!(items[0], Item::Oversized(Oversized::Line));
/// assert!(matches!(&items[1], Item::Event(e) if e.data == "ok"));
/// assert_eq!(parser.oversized(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// The longest line, in bytes, line ending excluded [default: 1 MiB].
    pub max_line: usize,
    /// The largest data of one event, in bytes [default: 4 MiB].
    pub max_event: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_line: 1024 * 1024,
            max_event: 4 * 1024 * 1024,
        }
    }
}

/// A streaming event-stream parser, following the WHATWG algorithms exactly.
///
/// Feed it the body's chunks as they arrive, in any sizes; the result does not depend on
/// where the chunks were split. Call [`finish`](Parser::finish) at the end of the body. One
/// parser can read the successive connections of one event source: the last event id and the
/// reconnection time carry over from one stream to the next, as in a browser.
///
/// ```
/// use h2push::sse::Parser;
///
/// let mut parser = Parser::new();
/// assert!(parser.feed(b"id: 3\r").is_empty());
/// let events = parser.feed(b"\ndata: split\r\n\r\n");
/// assert_eq!(events[0].data, "split");
/// assert_eq!(events[0].last_event_id, "3");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Parser {
    /// Whether the stream's first bytes have been checked for a BOM.
    started: bool,
    /// Before that: how many bytes of a BOM have been seen so far.
    bom_seen: usize,
    /// The unfinished line at the end of the bytes fed so far.
    line: Vec<u8>,
    /// The last byte fed was a CR: an LF right after it belongs to the same line ending.
    after_cr: bool,
    /// The spec's data buffer.
    data: String,
    /// The spec's event type buffer.
    event_type: String,
    /// The spec's last event ID buffer.
    id_buffer: String,
    /// The event source's last event ID string, set from the buffer when a block ends.
    last_event_id: String,
    /// The event source's reconnection time, if the stream set one.
    retry: Option<Duration>,
    limits: ParseLimits,
    /// The current line went past the limit: drop the rest of it.
    skip_line: bool,
    /// The current event went past a limit: drop it at its blank line.
    discard_event: bool,
    /// Lines and events discarded for their size.
    oversized: u64,
}

impl Parser {
    /// A parser at the start of a stream, with no last event id and no reconnection time.
    ///
    /// ```
    /// let parser = h2push::sse::Parser::new();
    /// assert_eq!(parser.last_event_id(), "");
    /// assert_eq!(parser.retry(), None);
    /// ```
    pub fn new() -> Parser {
        Parser::default()
    }

    /// A parser with other bounds than [`ParseLimits::default`].
    pub fn with_limits(limits: ParseLimits) -> Parser {
        Parser {
            limits,
            ..Parser::default()
        }
    }

    /// How many lines and events were discarded for going past the limits.
    ///
    /// ```
    /// let parser = h2push::sse::Parser::new();
    /// assert_eq!(parser.oversized(), 0);
    /// ```
    pub fn oversized(&self) -> u64 {
        self.oversized
    }

    /// A parser for a stream resumed with a `Last-Event-ID` of `id`: events are reported with
    /// that last event id until the stream sends another.
    ///
    /// ```
    /// let mut parser = h2push::sse::Parser::with_last_event_id("41");
    /// assert_eq!(parser.feed(b"data: x\n\n")[0].last_event_id, "41");
    /// ```
    pub fn with_last_event_id(id: impl Into<String>) -> Parser {
        let id = id.into();
        Parser {
            id_buffer: id.clone(),
            last_event_id: id,
            ..Parser::default()
        }
    }

    /// Parses the next chunk of the stream and returns the events it completed.
    ///
    /// Comments are skipped, and `retry:` fields only update [`retry`](Parser::retry); use
    /// [`feed_items`](Parser::feed_items) to see them in order.
    ///
    /// ```
    /// use h2push::sse::Parser;
    ///
    /// let mut parser = Parser::new();
    /// assert!(parser.feed(b"data: hel").is_empty());
    /// assert_eq!(parser.feed(b"lo\n\n")[0].data, "hello");
    /// ```
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<ParsedEvent> {
        let mut events = Vec::new();
        self.run(chunk, false, &mut |item| {
            if let Item::Event(event) = item {
                events.push(event);
            }
        });
        events
    }

    /// Parses the next chunk of the stream and returns everything it completed: events,
    /// reconnection times and comments, in stream order.
    ///
    /// ```
    /// use h2push::sse::{Item, Parser};
    ///
    /// let items = Parser::new().feed_items(b":\ndata: x\n\n");
    /// assert_eq!(items.len(), 2);
    /// assert_eq!(items[0], Item::Comment(String::new()));
    /// assert!(matches!(&items[1], Item::Event(e) if e.data == "x"));
    /// ```
    pub fn feed_items(&mut self, chunk: &[u8]) -> Vec<Item> {
        let mut items = Vec::new();
        self.run(chunk, true, &mut |item| items.push(item));
        items
    }

    /// Ends the stream. Per spec, an unfinished line and an event without its closing blank
    /// line are discarded; returns whether anything was.
    ///
    /// The parser is then ready for the stream of a reconnection: [`last_event_id`] keeps its
    /// value (an `id:` in the discarded block is forgotten) and the new stream continues from
    /// it, as browsers do; [`retry`] keeps its value too.
    ///
    /// [`last_event_id`]: Parser::last_event_id
    /// [`retry`]: Parser::retry
    ///
    /// ```
    /// use h2push::sse::Parser;
    ///
    /// let mut parser = Parser::new();
    /// assert_eq!(parser.feed(b"id: 1\ndata: a\n\nid: 2\ndata: b\n").len(), 1);
    /// assert!(parser.finish()); // "b" never got its blank line
    /// assert_eq!(parser.last_event_id(), "1");
    /// assert!(!parser.finish());
    /// ```
    pub fn finish(&mut self) -> bool {
        let discarded = !self.line.is_empty()
            || self.bom_seen > 0
            || !self.data.is_empty()
            || !self.event_type.is_empty()
            || self.id_buffer != self.last_event_id;
        self.started = false;
        self.bom_seen = 0;
        self.line.clear();
        self.skip_line = false;
        self.discard_event = false;
        self.after_cr = false;
        self.data.clear();
        self.event_type.clear();
        self.id_buffer.clone_from(&self.last_event_id);
        discarded
    }

    /// The last event id: what a client sends as `Last-Event-ID` when it reconnects. Set when
    /// a block ends, from the block's `id:` field or an earlier one.
    ///
    /// ```
    /// let mut parser = h2push::sse::Parser::new();
    /// parser.feed(b"id: 7\n\n");
    /// assert_eq!(parser.last_event_id(), "7");
    /// ```
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The reconnection time from the latest valid `retry:` field, if any. Values beyond
    /// `u64::MAX` milliseconds are taken as `u64::MAX` ms.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut parser = h2push::sse::Parser::new();
    /// parser.feed(b"retry: 2500\nretry: 3000x\n");
    /// assert_eq!(parser.retry(), Some(Duration::from_millis(2500)));
    /// ```
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// The parsing loop: splits `chunk` into lines and hands complete ones on.
    fn run(&mut self, mut chunk: &[u8], comments: bool, emit: &mut dyn FnMut(Item)) {
        if !self.started {
            // Match a leading BOM byte by byte; it may be split across chunks.
            let mut seen = self.bom_seen;
            while seen < BOM.len() {
                match chunk.first() {
                    None => {
                        self.bom_seen = seen;
                        return;
                    }
                    Some(&byte) if byte == BOM[seen] => {
                        seen += 1;
                        chunk = &chunk[1..];
                    }
                    Some(_) => {
                        // Not a BOM after all: the bytes seen are the start of the first line.
                        self.line.extend_from_slice(&BOM[..seen]);
                        break;
                    }
                }
            }
            self.started = true;
            self.bom_seen = 0;
        }
        while let Some(&first) = chunk.first() {
            if self.after_cr {
                self.after_cr = false;
                if first == b'\n' {
                    chunk = &chunk[1..];
                    continue;
                }
            }
            let Some(end) = chunk.iter().position(|&b| b == b'\r' || b == b'\n') else {
                if !self.skip_line {
                    if self.line.len() + chunk.len() > self.limits.max_line {
                        self.line_too_long(emit);
                    } else {
                        self.line.extend_from_slice(chunk);
                    }
                }
                return;
            };
            self.after_cr = chunk[end] == b'\r';
            if self.skip_line {
                // The end of a line already reported as too long.
                self.skip_line = false;
            } else if self.line.len() + end > self.limits.max_line {
                self.line_too_long(emit);
                self.skip_line = false;
            } else if self.line.is_empty() {
                self.process_line(&chunk[..end], comments, emit);
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&chunk[..end]);
                self.process_line(&line, comments, emit);
                line.clear();
                self.line = line;
            }
            chunk = &chunk[end + 1..];
        }
    }

    /// The current line went past [`ParseLimits::max_line`]: forget it, and the event it
    /// belongs to.
    fn line_too_long(&mut self, emit: &mut dyn FnMut(Item)) {
        self.line = Vec::new();
        self.skip_line = true;
        self.oversized += 1;
        self.discard_event = true;
        self.data = String::new();
        emit(Item::Oversized(Oversized::Line));
    }

    /// One line of the stream, as "interpret an event stream" describes.
    fn process_line(&mut self, line: &[u8], comments: bool, emit: &mut dyn FnMut(Item)) {
        if line.is_empty() {
            self.dispatch(emit);
            return;
        }
        if let Some(text) = line.strip_prefix(b":") {
            if comments {
                emit(Item::Comment(decode(strip_space(text)).into_owned()));
            }
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => (&line[..colon], strip_space(&line[colon + 1..])),
            None => (line, &b""[..]),
        };
        match field {
            b"event" => {
                self.event_type.clear();
                self.event_type.push_str(&decode(value));
            }
            b"data" if self.discard_event => {}
            b"data" => {
                if self.data.len() + value.len() + 1 > self.limits.max_event {
                    self.discard_event = true;
                    self.data = String::new();
                    self.oversized += 1;
                    emit(Item::Oversized(Oversized::Event));
                    return;
                }
                self.data.push_str(&decode(value));
                self.data.push('\n');
            }
            // An id with U+0000 (which only a 0x00 byte decodes to) is ignored.
            b"id" if !value.contains(&0) => {
                self.id_buffer.clear();
                self.id_buffer.push_str(&decode(value));
            }
            b"retry" => {
                if let Some(millis) = parse_digits(value) {
                    let retry = Duration::from_millis(millis);
                    self.retry = Some(retry);
                    emit(Item::Retry(retry));
                }
            }
            _ => {}
        }
    }

    /// The spec's "dispatch the event", run at every blank line.
    fn dispatch(&mut self, emit: &mut dyn FnMut(Item)) {
        self.last_event_id.clone_from(&self.id_buffer);
        if std::mem::take(&mut self.discard_event) {
            self.data.clear();
            self.event_type.clear();
            return;
        }
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        if self.data.ends_with('\n') {
            self.data.pop();
        }
        let event_type = if self.event_type.is_empty() {
            "message".to_owned()
        } else {
            std::mem::take(&mut self.event_type)
        };
        emit(Item::Event(ParsedEvent {
            event_type,
            data: std::mem::take(&mut self.data),
            last_event_id: self.last_event_id.clone(),
        }));
    }
}

/// Parses a whole stream: [`Parser::feed`] then [`Parser::finish`]. An event at the end
/// without its blank line is dropped.
///
/// ```
/// let events = h2push::sse::parse_all(b"data: 1\n\ndata: 2\n\ndata: 3");
/// let data: Vec<_> = events.iter().map(|e| e.data.as_str()).collect();
/// assert_eq!(data, ["1", "2"]);
/// ```
pub fn parse_all(stream: &[u8]) -> Vec<ParsedEvent> {
    let mut parser = Parser::new();
    let events = parser.feed(stream);
    parser.finish();
    events
}

/// UTF-8 decoding with U+FFFD for invalid bytes, as the spec's "UTF-8 decode".
fn decode(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// Removes one leading space, as the spec does after a field's colon.
fn strip_space(value: &[u8]) -> &[u8] {
    value.strip_prefix(b" ").unwrap_or(value)
}

/// A `retry:` value: ASCII digits only (at least one), read in base ten, saturating.
fn parse_digits(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(value.iter().fold(0u64, |millis, &digit| {
        millis
            .saturating_mul(10)
            .saturating_add(u64::from(digit - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(stream: &[u8]) -> Vec<String> {
        parse_all(stream).into_iter().map(|e| e.data).collect()
    }

    #[test]
    fn line_endings() {
        assert_eq!(data(b"data: a\r\ndata: b\rdata: c\n\r\n"), ["a\nb\nc"]);
        assert_eq!(data(b"data: a\r\rdata: b\n\n"), ["a", "b"]);
        assert_eq!(data(b"data: a\n\r\n"), ["a"]);
    }

    #[test]
    fn cr_then_lf_in_the_next_chunk_is_one_line_ending() {
        let mut parser = Parser::new();
        assert!(parser.feed(b"data: a\r").is_empty());
        assert!(parser.feed(b"\n").is_empty());
        assert!(parser.feed(b"").is_empty());
        assert_eq!(parser.feed(b"data: b\r")[..], []);
        assert_eq!(parser.feed(b"\r")[0].data, "a\nb");
        assert!(parser.feed(b"\n").is_empty());
        assert!(!parser.finish());
    }

    #[test]
    fn bom_only_at_the_start_and_only_once() {
        assert_eq!(data(b"\xEF\xBB\xBFdata: a\n\n"), ["a"]);
        assert_eq!(
            data(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n"),
            ["b"]
        );
        assert_eq!(data(b"data: a\n\n\xEF\xBB\xBFdata: b\n\n"), ["a"]);
        let mut parser = Parser::new();
        for byte in b"\xEF\xBB\xBFdata: a\n" {
            assert!(parser.feed(&[*byte]).is_empty());
        }
        assert_eq!(parser.feed(b"\n")[0].data, "a");
    }

    #[test]
    fn partial_bom_is_content() {
        let mut parser = Parser::new();
        assert!(parser.feed(b"\xEF\xBB").is_empty());
        assert!(parser.feed(b"data: x\n\n").is_empty()); // field "\u{FFFD}data"
        let mut parser = Parser::new();
        parser.feed(b"\xEF");
        assert!(parser.finish());
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(data(b"data: a\xFFb\xE2\x82\n\n"), ["a\u{FFFD}b\u{FFFD}"]);
        let mut parser = Parser::new();
        parser.feed(b"data: \xE2\x82");
        assert_eq!(parser.feed(b"\xAC\n\n")[0].data, "\u{20AC}");
    }

    #[test]
    fn retry_values() {
        assert_eq!(parse_digits(b"0"), Some(0));
        assert_eq!(parse_digits(b"02000"), Some(2000));
        assert_eq!(parse_digits(b""), None);
        assert_eq!(parse_digits(b" 1"), None);
        assert_eq!(parse_digits(b"1.5"), None);
        assert_eq!(parse_digits(b"-1"), None);
        assert_eq!(parse_digits(b"99999999999999999999999"), Some(u64::MAX));
    }

    #[test]
    fn finish_resets_the_stream_but_not_the_source() {
        let mut parser = Parser::new();
        parser.feed(b"retry: 10\nid: 1\ndata: a\n\nid: 2\nevent: e\ndata: b\n");
        assert!(parser.finish());
        // A BOM is allowed again at the start of the next stream.
        let events = parser.feed(b"\xEF\xBB\xBFdata: c\n\n");
        assert_eq!(events[0].data, "c");
        assert_eq!(events[0].event_type, "message");
        assert_eq!(events[0].last_event_id, "1");
        assert_eq!(parser.retry(), Some(Duration::from_millis(10)));
    }

    #[test]
    fn long_lines_are_dropped_with_their_event_and_never_buffered() {
        let mut p = Parser::with_limits(ParseLimits {
            max_line: 10,
            max_event: 1000,
        });
        let mut items = Vec::new();
        items.extend(p.feed_items(b"id: 1\ndata: 0123456789"));
        assert!(p.line.len() <= 10, "buffered {}", p.line.len());
        for _ in 0..100 {
            items.extend(p.feed_items(b"0123456789"));
            assert!(p.line.is_empty());
        }
        items.extend(p.feed_items(b"\ndata: b\n\ndata: ok\n\n"));
        assert_eq!(items[0], Item::Oversized(Oversized::Line));
        let data: Vec<_> = items
            .iter()
            .filter_map(|i| match i {
                Item::Event(e) => Some(e.data.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(data, ["ok"], "{items:?}");
        assert_eq!(p.oversized(), 1);
        assert_eq!(p.last_event_id(), "1");
    }

    #[test]
    fn big_events_are_dropped() {
        let mut p = Parser::with_limits(ParseLimits {
            max_line: 100,
            max_event: 20,
        });
        let items = p.feed_items(b"data: 0123456789\ndata: 0123456789\ndata: x\n\ndata: small\n\n");
        assert_eq!(items[0], Item::Oversized(Oversized::Event), "{items:?}");
        assert_eq!(items.len(), 2, "{items:?}");
        assert!(matches!(&items[1], Item::Event(e) if e.data == "small"));
    }

    #[test]
    fn a_line_exactly_at_the_limit_is_kept() {
        let mut p = Parser::with_limits(ParseLimits {
            max_line: 8,
            max_event: 100,
        });
        assert_eq!(p.feed(b"data: ab\n\n")[0].data, "ab");
        assert_eq!(p.feed(b"data:").len(), 0);
        assert_eq!(p.feed(b" ab\r\n\r\n")[0].data, "ab");
        assert_eq!(p.oversized(), 0);
    }
}
