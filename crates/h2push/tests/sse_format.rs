//! The event-stream format cases of web-platform-tests (`eventsource/format-*` and
//! `eventsource/event-data`), ported to [`h2push::sse::Parser`].
//!
//! Each case names the WPT file it comes from. The streams are rebuilt from what those tests'
//! server scripts send: `resources/message.py` answers `message + "\n\n" + "\n"`, or
//! `message + "\n"` with `newline=none`. Every stream is also parsed cut into chunks in many
//! ways (see `sse_support::check`), which must not change the outcome.

mod sse_support;

use std::time::Duration;

use h2push::sse::{is_event_stream, Item};
use sse_support::{check, check1, ev, msg};

/// The body `eventsource/resources/message.py?message=...` sends.
fn message_py(message: &str) -> Vec<u8> {
    format!("{message}\n\n\n").into_bytes()
}

/// The body `eventsource/resources/message.py?message=...&newline=none` sends.
fn message_py_none(message: &str) -> Vec<u8> {
    format!("{message}\n").into_bytes()
}

// WPT format-bom: a BOM starts the stream and is dropped; a later one makes its line's field
// name "\u{FEFF}data", an unknown field.
#[test]
fn wpt_format_bom() {
    let out = check1(message_py("\u{FEFF}data:1\n\n\u{FEFF}data:2\n\ndata:3"));
    assert_eq!(out.data(), ["1", "3"]);
}

// WPT format-bom-2: only one BOM is dropped, so a second one spoils the first event.
#[test]
fn wpt_format_bom_2() {
    let out = check1(message_py("\u{FEFF}\u{FEFF}data:1\n\ndata:2\n\ndata:3"));
    assert_eq!(out.data(), ["2", "3"]);
}

// WPT format-comments: comment lines with every kind of line ending, NUL and long text.
#[test]
fn wpt_format_comments() {
    let long = "x".repeat(2 * 1024);
    let message =
        format!("data:1\r:\0\n:\r\ndata:2\n:{long}\rdata:3\n:data:fail\r:{long}\ndata:4\n");
    let out = check1(message_py_none(&message));
    assert_eq!(out.events(), [msg("1\n2\n3\n4", "")]);
}

// WPT format-data-before-final-empty-line: an event without its blank line before the end of
// the stream is dropped, and its `id` never becomes the last event id. The test's
// EventSource reconnects and gets the same body again.
#[test]
fn wpt_format_data_before_final_empty_line() {
    let body = message_py_none("retry:1000\ndata:test1\n\nid:test\ndata:test2");
    let out = check(&[&body, &body]);
    assert_eq!(out.events(), [msg("test1", ""), msg("test1", "")]);
    assert_eq!(out.discarded, [true, true]);
    assert_eq!(out.last_event_id, "");
    assert_eq!(out.retry, Some(Duration::from_millis(1000)));
}

// WPT format-field-data: `data:` alone is an empty message, two bare `data` lines are "\n".
#[test]
fn wpt_format_field_data() {
    let out = check1(message_py("data:\n\ndata\ndata\n\ndata:test"));
    assert_eq!(out.data(), ["", "\n", "test"]);
}

// WPT format-field-event: the type applies to its block only.
#[test]
fn wpt_format_field_event() {
    let out = check1(message_py("event:test\ndata:x\n\ndata:x"));
    assert_eq!(out.events(), [ev("test", "x", ""), msg("x", "")]);
}

// WPT format-field-event-empty: `event: ` (empty after the space) means `message`.
#[test]
fn wpt_format_field_event_empty() {
    let out = check1(message_py("event: \ndata:data"));
    assert_eq!(out.events(), [msg("data", "")]);
}

// WPT format-field-id: resources/last-event-id.py sends an id, then, on the reconnection with
// `Last-Event-ID: …`, an event without id, which still reports "…".
#[test]
fn wpt_format_field_id() {
    let first = "id: …\nretry: 200\ndata: hello\n\n".as_bytes();
    let second = "data: …\n\n".as_bytes();
    let out = check(&[first, second]);
    assert_eq!(out.events(), [msg("hello", "…"), msg("…", "…")]);
    assert_eq!(out.retry, Some(Duration::from_millis(200)));
    assert_eq!(out.discarded, [false, false]);
}

// WPT format-field-id-2: as format-field-id, with a second reconnection.
#[test]
fn wpt_format_field_id_2() {
    let first = "id: …\nretry: 200\ndata: hello\n\n".as_bytes();
    let again = "data: …\n\n".as_bytes();
    let out = check(&[first, again, again]);
    let expected = [msg("hello", "…"), msg("…", "…"), msg("…", "…")];
    assert_eq!(out.events(), expected);
    assert_eq!(out.last_event_id, "…");
}

// WPT format-field-id-3 (resources/last-event-id2.py): the id persists across events,
// changes, and is reset by an empty `id:`.
#[test]
fn wpt_format_field_id_3() {
    let ids = |stream: &str| -> Vec<String> {
        let out = check1(stream);
        out.events().into_iter().map(|e| e.last_event_id).collect()
    };
    assert_eq!(ids("id: 1\ndata: 1\n\ndata:2\n\n"), ["1", "1"]);
    assert_eq!(
        ids("id: 1\ndata: 1\n\nid: 2\ndata:2\n\ndata:3\n\n"),
        ["1", "2", "2"]
    );
    assert_eq!(
        ids("id: 1\ndata: 1\n\nid:\ndata:2\n\ndata:3\n\n"),
        ["1", "", ""]
    );
}

// WPT format-field-id-null: an id containing U+0000 is ignored, so the reconnection carries no
// Last-Event-ID and the server says hello again. (An old revision of the test expected the id
// "\0\0"; the current spec and test ignore the field.)
#[test]
fn wpt_format_field_id_null() {
    let body = b"id: \0\0\nretry: 200\ndata: hello\n\n";
    let out = check(&[body, body]);
    assert_eq!(out.events(), [msg("hello", ""), msg("hello", "")]);
}

// WPT format-field-parsing: field names are case-sensitive and exact, one space is stripped,
// NUL is kept in data, a line starting with a space is an unknown field.
#[test]
fn wpt_format_field_parsing() {
    let message = "data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\n\
                   data:3\rdata:\r\n data:32\ndata:4\n";
    let out = check1(message_py_none(message));
    assert_eq!(out.data(), ["\0\n 2\n1\n3\n\n4"]);
}

// WPT format-field-retry: the value is decimal even with a leading zero.
#[test]
fn wpt_format_field_retry() {
    let out = check1(message_py("retry:02000\ndata:x"));
    assert_eq!(out.retry, Some(Duration::from_millis(2000)));
    assert_eq!(out.items[0], Item::Retry(Duration::from_millis(2000)));
    assert_eq!(out.data(), ["x"]);
}

// WPT format-field-retry-bogus: a value with a non-digit is ignored.
#[test]
fn wpt_format_field_retry_bogus() {
    let out = check1(message_py("retry:2000\nretry:1000x\ndata:x"));
    assert_eq!(out.retry, Some(Duration::from_millis(2000)));
    assert_eq!(out.data(), ["x"]);
}

// WPT format-field-retry-empty: a bare `retry` changes nothing and breaks nothing.
#[test]
fn wpt_format_field_retry_empty() {
    let out = check1(message_py("retry\ndata:test"));
    assert_eq!(out.retry, None);
    assert_eq!(out.data(), ["test"]);
}

// WPT format-field-unknown: unknown fields, lines without colon and comments are ignored.
#[test]
fn wpt_format_field_unknown() {
    let message = "data:test\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\ndata:test";
    let out = check1(message_py(message));
    assert_eq!(out.data(), ["test\n\ntest"]);
}

// WPT format-leading-space: only a space is stripped, not a tab; `data: ` is empty.
#[test]
fn wpt_format_leading_space() {
    let out = check1(message_py("data:\ttest\rdata: \ndata:test"));
    assert_eq!(out.data(), ["\ttest\n\ntest"]);
}

// WPT format-newlines: CRLF, LF and CR mixed; the final CR and the appended LF are one CRLF.
#[test]
fn wpt_format_newlines() {
    let out = check1(message_py_none("data:test\r\ndata\ndata:test\r\n\r"));
    assert_eq!(out.data(), ["test\n\ntest"]);
    assert_eq!(out.discarded, [false]);
}

// WPT format-null-character: NUL is data like any other character.
#[test]
fn wpt_format_null_character() {
    let out = check1(message_py("data:\0\n\n"));
    assert_eq!(out.data(), ["\0"]);
}

// WPT format-utf-8: the stream is UTF-8 whatever the charset parameter says.
#[test]
fn wpt_format_utf_8() {
    let out = check1(message_py("data:ok\u{2026}"));
    assert_eq!(out.data(), ["ok…"]);
    assert!(is_event_stream("text/event-stream;charset=windows-1252"));
}

// WPT format-mime-trailing-semicolon, format-mime-valid-bogus, format-mime-bogus: the
// Content-Type check an EventSource makes before reading the stream.
#[test]
fn wpt_format_mime() {
    assert!(is_event_stream("text/event-stream;"));
    assert!(!is_event_stream("text/x-bogus"));
    assert!(!is_event_stream("x bogus"));
    // MIME type essence rules: case-insensitive, whitespace-trimmed, parameters ignored.
    assert!(is_event_stream("text/event-stream"));
    assert!(is_event_stream(" TEXT/Event-Stream\t; x=y"));
    assert!(!is_event_stream("text /event-stream"));
    assert!(!is_event_stream("text/event-stream x"));
    assert!(!is_event_stream("text/event-streams"));
    assert!(!is_event_stream(""));
}

// WPT event-data (resources/message2.py, one round of its loop): comments, case-sensitive
// field names, and a bare `data` making an empty message.
#[test]
fn wpt_event_data() {
    let body = "data:msg\ndata: msg\n\n:\nfalsefield:msg\n\nfalsefield:msg\nData:data\n\n\
                data\n\ndata:end\n\n";
    let out = check1(body);
    assert_eq!(out.data(), ["msg\nmsg", "", "end"]);
}

// WPT eventsource-onmessage (resources/message.py defaults): the plain `data: data` message.
#[test]
fn wpt_onmessage_default_message() {
    let out = check1(message_py("data: data"));
    assert_eq!(out.events(), [msg("data", "")]);
    assert_eq!(out.discarded, [false]);
}

// Spec §9.2.6 examples: `data` alone is an empty message and two are "\n"; a last block
// without its blank line fires nothing; one space after the colon is no part of the value.
#[test]
fn spec_examples() {
    let out = check1("data\n\ndata\ndata\n\ndata:");
    assert_eq!(out.data(), ["", "\n"]);
    assert_eq!(out.discarded, [true]);
    let out = check1("data:test\n\ndata: test\n\n");
    assert_eq!(out.data(), ["test", "test"]);
}

// Spec: a blank line with an empty data buffer resets the event type too.
#[test]
fn spec_event_type_reset_by_empty_block() {
    let out = check1("event: a\n\ndata: x\n\n");
    assert_eq!(out.events(), [msg("x", "")]);
}

// Spec: an id in a block without data still becomes the last event id at its blank line.
#[test]
fn spec_id_only_block_sets_last_event_id() {
    let out = check1("id: 9\n\ndata: x\n\n");
    assert_eq!(out.events(), [msg("x", "9")]);
}

// Spec: invalid UTF-8 becomes U+FFFD; a multi-byte character may be split anywhere.
#[test]
fn spec_utf_8_decode_with_replacement() {
    let out = check1(b"data: \xF0\x9F\x98\x80 \xC3\x28 \xE2\x82\n\n".as_slice());
    assert_eq!(out.data(), ["\u{1F600} \u{FFFD}( \u{FFFD}"]);
}
