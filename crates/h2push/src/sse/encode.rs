//! Encoding events into `text/event-stream` bytes.
//!
//! This file owns [`Event`], its validation and its exact byte form, plus the comment-only
//! chunk of [`comment`]. Deciding when to send heartbeats, and writing the bytes into a
//! response body, is left to the hub and the HTTP layer.
//!
//! Every value is written after `name:` and one space, because a parser removes exactly one
//! leading space: `data: x` means `x`, and a payload line ` x` (starting with a space) goes
//! out as `data:  x`. An empty value is written as the bare `name:`.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};

use super::SseError;

/// One server-sent event, built up field by field and encoded with [`Event::encode`].
///
/// Setters that take a value the format cannot carry return [`SseError`] instead of
/// producing a stream that a client would read differently.
///
/// ```
/// use std::time::Duration;
/// use h2push::sse::Event;
///
/// let event = Event::data("{\"n\":1}")
///     .event("tick")?
///     .id("42")?
///     .retry(Duration::from_secs(3));
/// assert_eq!(event.encode(), "event: tick\nid: 42\nretry: 3000\ndata: {\"n\":1}\n\n");
/// # Ok::<(), h2push::sse::SseError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    data: Option<String>,
    event: Option<String>,
    id: Option<String>,
    retry: Option<Duration>,
    comment: Option<String>,
}

impl Event {
    /// An event carrying `data` as its payload; a client dispatches it as a message.
    ///
    /// Any string is a valid payload. CR, LF and CRLF all end a line of it, and each line goes
    /// out as its own `data:` line, so a client receives the payload with every line ending
    /// turned into LF. An empty payload is a real, empty message.
    ///
    /// ```
    /// use h2push::sse::Event;
    ///
    /// assert_eq!(Event::data("a\r\nb").encode(), "data: a\ndata: b\n\n");
    /// assert_eq!(Event::data("").encode(), "data:\n\n");
    /// ```
    #[must_use]
    pub fn data(data: impl Into<String>) -> Event {
        Event {
            data: Some(data.into()),
            ..Event::default()
        }
    }

    /// A block without payload: only its other fields (id, retry, comment) take effect, and
    /// a client dispatches no message for it. Same as [`Event::default`].
    ///
    /// Useful to set the client's reconnection time, or its last event id, on its own.
    ///
    /// ```
    /// use std::time::Duration;
    /// use h2push::sse::Event;
    ///
    /// let retry = Event::no_data().retry(Duration::from_millis(1500));
    /// assert_eq!(retry.encode(), "retry: 1500\n\n");
    /// ```
    #[must_use]
    pub fn no_data() -> Event {
        Event::default()
    }

    /// Sets the event type, which a client dispatches the event under instead of `message`.
    ///
    /// An empty type is allowed and means the default, `message`. A type containing CR or LF
    /// is refused.
    ///
    /// # Errors
    ///
    /// [`SseError::InvalidEventType`] if `event_type` contains CR or LF.
    ///
    /// ```
    /// use h2push::sse::{Event, SseError};
    ///
    /// assert_eq!(Event::data("x").event("update")?.encode(), "event: update\ndata: x\n\n");
    /// assert_eq!(Event::data("x").event("a\nb"), Err(SseError::InvalidEventType));
    /// # Ok::<(), SseError>(())
    /// ```
    pub fn event(mut self, event_type: impl Into<String>) -> Result<Event, SseError> {
        let event_type = event_type.into();
        if event_type.contains(['\r', '\n']) {
            return Err(SseError::InvalidEventType);
        }
        self.event = Some(event_type);
        Ok(self)
    }

    /// Sets the event id, which becomes the client's last event id (sent back in the
    /// `Last-Event-ID` header when it reconnects).
    ///
    /// An empty id is allowed and resets the client's last event id (see also
    /// [`Event::reset_id`]). An id containing NUL, CR or LF is refused: clients ignore ids
    /// with NUL, and CR or LF would end the line.
    ///
    /// # Errors
    ///
    /// [`SseError::InvalidId`] if `id` contains NUL, CR or LF.
    ///
    /// ```
    /// use h2push::sse::{Event, SseError};
    ///
    /// assert_eq!(Event::data("x").id("17")?.encode(), "id: 17\ndata: x\n\n");
    /// assert_eq!(Event::data("x").id("a\0b"), Err(SseError::InvalidId));
    /// # Ok::<(), SseError>(())
    /// ```
    pub fn id(mut self, id: impl Into<String>) -> Result<Event, SseError> {
        let id = id.into();
        if id.contains(['\0', '\r', '\n']) {
            return Err(SseError::InvalidId);
        }
        self.id = Some(id);
        Ok(self)
    }

    /// Sends an empty `id:` field, which resets the client's last event id to the empty
    /// string, so that it reconnects without a `Last-Event-ID` header.
    ///
    /// ```
    /// use h2push::sse::Event;
    ///
    /// assert_eq!(Event::data("x").reset_id().encode(), "id:\ndata: x\n\n");
    /// ```
    #[must_use]
    pub fn reset_id(mut self) -> Event {
        self.id = Some(String::new());
        self
    }

    /// Sets the client's reconnection time, sent as whole milliseconds (rounded down, and
    /// capped at `u64::MAX` ms).
    ///
    /// ```
    /// use std::time::Duration;
    /// use h2push::sse::Event;
    ///
    /// let event = Event::data("x").retry(Duration::from_secs(10));
    /// assert_eq!(event.encode(), "retry: 10000\ndata: x\n\n");
    /// ```
    #[must_use]
    pub fn retry(mut self, reconnection_time: Duration) -> Event {
        self.retry = Some(reconnection_time);
        self
    }

    /// Sets a comment, sent before the fields as `: text`. Clients ignore comments; they are
    /// for people reading the stream and for keeping idle connections alive. Any text is
    /// allowed: CR, LF and CRLF start a new comment line. Replaces an earlier comment.
    ///
    /// ```
    /// use h2push::sse::Event;
    ///
    /// let event = Event::data("x").comment("two\nlines");
    /// assert_eq!(event.encode(), ": two\n: lines\ndata: x\n\n");
    /// ```
    #[must_use]
    pub fn comment(mut self, text: impl Into<String>) -> Event {
        self.comment = Some(text.into());
        self
    }

    /// The payload, or `None` for a [`no_data`](Event::no_data) block.
    ///
    /// ```
    /// use h2push::sse::Event;
    ///
    /// assert_eq!(Event::data("hi").payload(), Some("hi"));
    /// assert_eq!(Event::no_data().payload(), None);
    /// ```
    pub fn payload(&self) -> Option<&str> {
        self.data.as_deref()
    }

    /// The event type, if one was set.
    ///
    /// ```
    /// use h2push::sse::Event;
    ///
    /// assert_eq!(Event::data("x").event("tick")?.event_type(), Some("tick"));
    /// assert_eq!(Event::data("x").event_type(), None);
    /// # Ok::<(), h2push::sse::SseError>(())
    /// ```
    pub fn event_type(&self) -> Option<&str> {
        self.event.as_deref()
    }

    /// The event id, if one was set; `Some("")` after [`reset_id`](Event::reset_id).
    ///
    /// ```
    /// use h2push::sse::Event;
    ///
    /// assert_eq!(Event::data("x").id("5")?.event_id(), Some("5"));
    /// assert_eq!(Event::data("x").reset_id().event_id(), Some(""));
    /// # Ok::<(), h2push::sse::SseError>(())
    /// ```
    pub fn event_id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The reconnection time, if one was set.
    ///
    /// ```
    /// use std::time::Duration;
    /// use h2push::sse::Event;
    ///
    /// let event = Event::no_data().retry(Duration::from_secs(1));
    /// assert_eq!(event.reconnection_time(), Some(Duration::from_secs(1)));
    /// ```
    pub fn reconnection_time(&self) -> Option<Duration> {
        self.retry
    }

    /// The comment, if one was set.
    ///
    /// ```
    /// use h2push::sse::Event;
    ///
    /// assert_eq!(Event::no_data().comment("hello").comment_text(), Some("hello"));
    /// ```
    pub fn comment_text(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// The event's bytes: comment lines, `event:`, `id:`, `retry:`, one `data:` line per
    /// payload line, and the blank line that ends the event.
    ///
    /// ```
    /// use h2push::sse::Event;
    ///
    /// assert_eq!(Event::data(" indented").encode(), "data:  indented\n\n");
    /// ```
    #[must_use]
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.encoded_len_hint());
        self.encode_into(&mut buf);
        buf.freeze()
    }

    /// Appends the event's bytes (see [`encode`](Event::encode)) to `buf`, e.g. to batch
    /// several events into one chunk.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use h2push::sse::Event;
    ///
    /// let mut buf = BytesMut::new();
    /// Event::data("1").encode_into(&mut buf);
    /// Event::data("2").encode_into(&mut buf);
    /// assert_eq!(buf, "data: 1\n\ndata: 2\n\n");
    /// ```
    pub fn encode_into(&self, buf: &mut BytesMut) {
        buf.reserve(self.encoded_len_hint());
        if let Some(comment) = &self.comment {
            for line in lines(comment) {
                put_field(buf, "", line);
            }
        }
        if let Some(event) = &self.event {
            put_field(buf, "event", event);
        }
        if let Some(id) = &self.id {
            put_field(buf, "id", id);
        }
        if let Some(retry) = self.retry {
            let millis = u64::try_from(retry.as_millis()).unwrap_or(u64::MAX);
            put_field(buf, "retry", &millis.to_string());
        }
        if let Some(data) = &self.data {
            for line in lines(data) {
                put_field(buf, "data", line);
            }
        }
        buf.put_u8(b'\n');
    }

    /// An upper estimate of the encoded size, to size buffers: every line costs at most 8
    /// bytes (`event: ` and LF) on top of its text, and the retry line and final LF fit in 32.
    fn encoded_len_hint(&self) -> usize {
        let text = |s: &Option<String>| {
            s.as_ref().map_or(0, |s| {
                let breaks = s.bytes().filter(|&b| b == b'\r' || b == b'\n').count();
                s.len() + 8 * (breaks + 1)
            })
        };
        text(&self.comment) + text(&self.event) + text(&self.id) + text(&self.data) + 32
    }
}

/// A comment-only chunk, for heartbeats that keep an idle stream alive through proxies.
/// Clients ignore it; multi-line text becomes several comment lines.
///
/// ```
/// assert_eq!(h2push::sse::comment("keep-alive"), ": keep-alive\n\n");
/// assert_eq!(h2push::sse::comment(""), ":\n\n");
/// ```
#[must_use]
pub fn comment(text: &str) -> Bytes {
    let mut buf = BytesMut::with_capacity(text.len() + 8);
    for line in lines(text) {
        put_field(&mut buf, "", line);
    }
    buf.put_u8(b'\n');
    buf.freeze()
}

/// Writes `name:`, then ` value` unless the value is empty, then LF. The name `""` makes a
/// comment line.
fn put_field(buf: &mut BytesMut, name: &str, value: &str) {
    buf.put_slice(name.as_bytes());
    buf.put_u8(b':');
    if !value.is_empty() {
        buf.put_u8(b' ');
        buf.put_slice(value.as_bytes());
    }
    buf.put_u8(b'\n');
}

/// The lines of `text`, split at CRLF, CR and LF the way a parser splits them. Always yields
/// at least one line, and an empty line after a trailing line ending.
fn lines(text: &str) -> Lines<'_> {
    Lines { rest: Some(text) }
}

struct Lines<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let text = self.rest?;
        match text.find(['\r', '\n']) {
            None => {
                self.rest = None;
                Some(text)
            }
            Some(end) => {
                let ending = if text[end..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                self.rest = Some(&text[end + ending..]);
                Some(&text[..end])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::{parse_all, ParsedEvent};

    fn split(text: &str) -> Vec<&str> {
        lines(text).collect()
    }

    #[test]
    fn lines_split_at_every_kind_of_line_ending() {
        assert_eq!(split(""), [""]);
        assert_eq!(split("a"), ["a"]);
        assert_eq!(split("a\n"), ["a", ""]);
        assert_eq!(split("a\rb\nc\r\nd"), ["a", "b", "c", "d"]);
        assert_eq!(split("\r\r\n\n"), ["", "", "", ""]);
        assert_eq!(split("\n\r"), ["", "", ""]);
    }

    #[test]
    fn empty_payload_is_a_real_empty_message() {
        let bytes = Event::data("").encode();
        assert_eq!(bytes, "data:\n\n");
        let events = parse_all(&bytes);
        assert_eq!(
            events,
            [ParsedEvent {
                event_type: "message".into(),
                data: String::new(),
                last_event_id: String::new(),
            }]
        );
    }

    #[test]
    fn payload_line_endings_all_become_data_lines() {
        let bytes = Event::data("a\rb\r\nc\n\nd\n").encode();
        assert_eq!(
            bytes,
            "data: a\ndata: b\ndata: c\ndata:\ndata: d\ndata:\n\n"
        );
        assert_eq!(parse_all(&bytes)[0].data, "a\nb\nc\n\nd\n");
    }

    #[test]
    fn leading_spaces_survive() -> Result<(), SseError> {
        let event = Event::data("  two").event(" t")?.id(" 1")?;
        assert_eq!(event.encode(), "event:  t\nid:  1\ndata:   two\n\n");
        let parsed = &parse_all(&event.encode())[0];
        assert_eq!(parsed.data, "  two");
        assert_eq!(parsed.event_type, " t");
        assert_eq!(parsed.last_event_id, " 1");
        Ok(())
    }

    #[test]
    fn bad_ids_are_refused() {
        for bad in ["\0", "a\0", "a\rb", "\n", "x\r\n"] {
            assert_eq!(
                Event::data("x").id(bad),
                Err(SseError::InvalidId),
                "{bad:?}"
            );
        }
        assert!(Event::data("x").id("").is_ok());
        assert!(Event::data("x").id("ünïcödé:;").is_ok());
    }

    #[test]
    fn bad_event_types_are_refused() {
        for bad in ["a\rb", "\n", "x\r\n"] {
            let err = Event::data("x").event(bad);
            assert_eq!(err, Err(SseError::InvalidEventType), "{bad:?}");
        }
        // NUL cannot break a line, and clients keep it in the type.
        assert!(Event::data("x").event("a\0b").is_ok());
    }

    #[test]
    fn empty_id_resets_the_last_event_id() -> Result<(), SseError> {
        let mut stream = Event::data("1").id("a")?.encode().to_vec();
        stream.extend_from_slice(&Event::data("2").id("")?.encode());
        stream.extend_from_slice(&Event::data("3").encode());
        let ids: Vec<_> = parse_all(&stream)
            .into_iter()
            .map(|e| e.last_event_id)
            .collect();
        assert_eq!(ids, ["a", "", ""]);
        Ok(())
    }

    #[test]
    fn comments() {
        assert_eq!(comment("a\r\nb\rc"), ": a\n: b\n: c\n\n");
        assert_eq!(comment(" x"), ":  x\n\n");
        assert_eq!(comment("x\n"), ": x\n:\n\n");
        assert!(parse_all(&comment("data: not an event\ndata: x\n")).is_empty());
        let event = Event::no_data().comment("c").id("9").unwrap();
        assert_eq!(event.encode(), ": c\nid: 9\n\n");
    }

    #[test]
    fn retry_is_whole_milliseconds() {
        let ms = |d| Event::no_data().retry(d).encode();
        assert_eq!(ms(Duration::from_micros(1999)), "retry: 1\n\n");
        assert_eq!(ms(Duration::ZERO), "retry: 0\n\n");
        let max = format!("retry: {}\n\n", u64::MAX);
        assert_eq!(ms(Duration::MAX), max.as_str());
    }

    #[test]
    fn no_data_block_sets_fields_without_a_message() -> Result<(), SseError> {
        assert_eq!(Event::no_data().encode(), "\n");
        let mut stream = Event::no_data().id("5")?.encode().to_vec();
        stream.extend_from_slice(&Event::data("x").encode());
        let events = parse_all(&stream);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].last_event_id, "5");
        Ok(())
    }
}
