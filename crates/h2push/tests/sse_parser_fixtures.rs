//! The cases of the `eventsource-parser` npm package (rexxars/eventsource-parser,
//! `test/parse.test.ts` with the streams of `test/fixtures.ts`), ported to
//! [`h2push::sse::Parser`].
//!
//! Each case names the test it comes from. Where that package reports something the spec does
//! not (errors for bad `retry` values or unknown fields), only the spec-visible outcome is
//! checked. Every stream is also parsed cut into chunks in many ways (see
//! `sse_support::check`), which covers the fixtures that deliver their chunks unevenly.

mod sse_support;

use std::time::Duration;

use h2push::sse::{Item, Parser};
use sse_support::{check, check1, ev, msg, run_chunks};

const DONE: &str = "event: done\ndata: ✔\n\n";

// "basic unnamed events stream"
#[test]
fn basic_unnamed_events() {
    let mut stream: String = (0..5).map(|i| format!("data: {i}\n\n")).collect();
    stream.push_str(DONE);
    let out = check1(stream);
    let expected = ["0", "1", "2", "3", "4"].map(|d| msg(d, ""));
    assert_eq!(out.events()[..5], expected);
    assert_eq!(out.events()[5], ev("done", "✔", ""));
}

// "stream of identified messanges + retry interval"
#[test]
fn identified_events_with_retry() {
    let out = check1("event: tick\nid: 1337\nretry: 50\ndata: 1337\n\nevent: tick\nid: 1338\nretry: 50\ndata: 1338\n\n");
    let retry = Item::Retry(Duration::from_millis(50));
    let expected = [
        retry.clone(),
        Item::Event(ev("tick", "1337", "1337")),
        retry,
        Item::Event(ev("tick", "1338", "1338")),
    ];
    assert_eq!(out.items, expected);
}

// "stream of "heartbeat" comments, unnamed events"
#[test]
fn heartbeat_comments() {
    let mut stream: String = ('A'..='E').map(|c| format!(": ♥\ndata: {c}\n\n")).collect();
    stream.push_str(DONE);
    let out = check1(stream);
    assert_eq!(out.data(), ["A", "B", "C", "D", "E", "✔"]);
    assert_eq!(out.comments(), ["♥"; 5]);
}

// "stream of multi-line data events"
#[test]
fn multi_line_data() {
    let stream = "event: stock\ndata: YHOO\ndata: +2\ndata: 10\n\n\
                  event: stock\ndata: GOOG\ndata: -8\ndata: 1881\n\n";
    let out = check1(stream);
    let expected = [
        ev("stock", "YHOO\n+2\n10", ""),
        ev("stock", "GOOG\n-8\n1881", ""),
    ];
    assert_eq!(out.events(), expected);
}

// "stream of multi-byte events": multi-byte characters split across data lines and chunks.
#[test]
fn multi_byte_events() {
    let lines = [
        "Ünïcödé ✓",
        "我現在都看實況不玩遊戲",
        "مرحبا بالعالم",
        "🙂🚀🦀 emoji",
    ];
    let mut stream = String::new();
    for (i, line) in lines.iter().enumerate() {
        stream.push_str(&format!("id: {i}\n"));
        let split = line.char_indices().nth(3).map_or(line.len(), |(at, _)| at);
        stream.push_str(&format!(
            "data:{}\ndata:{}\n\n",
            &line[..split],
            &line[split..]
        ));
    }
    let out = check1(stream);
    let expected: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let split = line.char_indices().nth(3).map_or(line.len(), |(at, _)| at);
            // The parser strips one space after `data:`, so "🙂🚀🦀 emoji" loses it.
            let (first, second) = line.split_at(split);
            let second = second.strip_prefix(' ').unwrap_or(second);
            msg(&format!("{first}\n{second}"), &i.to_string())
        })
        .collect();
    assert_eq!(out.events(), expected);
}

// "stream of multi-byte events with some empty lines thrown in"
#[test]
fn multi_byte_with_leading_empty_lines() {
    let out = check1(format!(
        "\n\n\n\nid: 1\ndata: 我現在都看實況不玩遊戲\n\n{DONE}"
    ));
    assert_eq!(
        out.events(),
        [msg("我現在都看實況不玩遊戲", "1"), ev("done", "✔", "1")]
    );
}

// "stream of leading bom"
#[test]
fn leading_bom() {
    let out = check1(format!(
        "\u{FEFF}data: bomful 1\n\ndata: bomless 2\n\n{DONE}"
    ));
    assert_eq!(out.data(), ["bomful 1", "bomless 2", "✔"]);
}

// "stream containing byte-order mark (multiple places)" and its decoded-U+FEFF twin: only the
// leading BOM is dropped; a later one spoils its line.
#[test]
fn bom_in_multiple_places() {
    let stream =
        format!("\u{FEFF}data: bomful 1\n\n\u{FEFF}data: bomful 2\n\ndata: bomless 3\n\n{DONE}");
    let out = check1(stream);
    assert_eq!(out.data(), ["bomful 1", "bomless 3", "✔"]);
}

// "stream using carriage returns"
#[test]
fn carriage_returns() {
    let out = check1(format!(
        "data: dog\rdata: bark\r\rdata: cat\rdata: meow\r\r{DONE}"
    ));
    assert_eq!(out.data(), ["dog\nbark", "cat\nmeow", "✔"]);
}

// "stream using line feeds"
#[test]
fn line_feeds() {
    let out = check1(format!(
        "data: cow\ndata: moo\n\ndata: horse\ndata: neigh\n\n{DONE}"
    ));
    assert_eq!(out.data(), ["cow\nmoo", "horse\nneigh", "✔"]);
}

// "stream using carriage returns and line feeds"
#[test]
fn carriage_returns_and_line_feeds() {
    let stream = format!("data: sheep\r\ndata: bleat\r\n\r\ndata: pig\r\ndata: oink\r\n\r\n{DONE}");
    let out = check1(stream);
    assert_eq!(out.data(), ["sheep\nbleat", "pig\noink", "✔"]);
}

// "stream with varying odd uses of comments"
#[test]
fn odd_comments() {
    let mut stream = String::from(": Hello\n\n");
    stream.push_str(&":".repeat(300));
    stream.push_str("\ndata: First\n\n: Первый: 第二\ndata: Second\n\n");
    stream.push_str(&": Moop \n".repeat(10));
    stream.push_str(": ثالث\ndata: Third\n\n:നാലാമത്തെ\ndata: Fourth\n\n");
    stream.push_str(": 🙂 🚀 🦀 :\ndata: Fifth\n\n");
    stream.push_str(DONE);
    let out = check1(stream);
    assert_eq!(
        out.data(),
        ["First", "Second", "Third", "Fourth", "Fifth", "✔"]
    );
    let comments = out.comments();
    assert_eq!(comments.len(), 16);
    assert_eq!(comments[0], "Hello");
    assert_eq!(comments[1], ":".repeat(299));
    assert_eq!(comments[2], "Первый: 第二");
    assert_eq!(comments[3], "Moop ");
    assert_eq!(comments[14], "നാലാമത്തെ");
}

// "stream with even more odd uses of comments": the last event has no blank line.
#[test]
fn mixed_comments() {
    let long = "x".repeat(2 * 1024 + 1);
    let stream = format!(
        "data:1\r\r:\0\n:\r\ndata:2\n\n:{long}\rdata:3\n\n:data:fail\r:{long}\ndata:4\n\ndata:5"
    );
    let out = check1(stream);
    assert_eq!(out.data(), ["1", "2", "3", "4"]);
    assert_eq!(out.discarded, [true]);
}

// "stream with empty `event` field": an empty type is `message`; a block with only `event:`
// dispatches nothing.
#[test]
fn empty_event_field() {
    let out = check1(format!("event:\ndata: Hello 1\n\nevent:\n\n{DONE}"));
    assert_eq!(out.events(), [msg("Hello 1", ""), ev("done", "✔", "")]);
}

// "stream with empty `retry` field": three connections; the empty value leaves the
// reconnection time alone.
#[test]
fn empty_retry_field() {
    let first = "id: 1\nretry: 500\ndata: 🥌\n\n".as_bytes();
    let second = "id:2\nretry:\ndata:🧹\n\n".as_bytes();
    let third = "id: 3\ndata: ✅\n\n".as_bytes();
    let out = check(&[first, second, third]);
    let expected = [
        Item::Retry(Duration::from_millis(500)),
        Item::Event(msg("🥌", "1")),
        Item::Event(msg("🧹", "2")),
        Item::Event(msg("✅", "3")),
    ];
    assert_eq!(out.items, expected);
    assert_eq!(out.retry, Some(Duration::from_millis(500)));
}

// "stream with oddly shaped data field"
#[test]
fn oddly_shaped_data_field() {
    let out = check1(format!("data:\n\ndata\ndata\n\ndata:test\n\n{DONE}"));
    assert_eq!(out.data(), ["", "\n", "test", "✔"]);
}

// "stream with cr separating chunks of same event": exactly these chunks.
#[test]
fn cr_separating_chunks_of_same_event() {
    let chunks: Vec<&[u8]> = vec![b"data: A\r\n", b"data: B\r", b"\n", b"data: C\r\n", b"\n"];
    let out = run_chunks(&[chunks]);
    assert_eq!(out.events(), [msg("A\nB\nC", "")]);
    assert_eq!(check1("data: A\r\ndata: B\r\ndata: C\r\n\n"), out);
}

// "stream with partially incorrect retry fields"
#[test]
fn partially_incorrect_retry() {
    let out = check1("retry:1000\nretry:2000x\ndata:x\n\n");
    let expected = [
        Item::Retry(Duration::from_millis(1000)),
        Item::Event(msg("x", "")),
    ];
    assert_eq!(out.items, expected);
}

// "stream with incorrect retry fields"
#[test]
fn incorrect_retry() {
    let out = check1("\nretry: 500\n\ndata: first\n\nretry: 50x\n\ndata: second\n\n");
    let expected = [
        Item::Retry(Duration::from_millis(500)),
        Item::Event(msg("first", "")),
        Item::Event(msg("second", "")),
    ];
    assert_eq!(out.items, expected);
}

// "stream with `id` field containing a NULL character": the earlier id survives.
#[test]
fn id_with_null_is_ignored() {
    let out = check1("id: 123\nid: bad\0id\ndata: hello\n\n");
    assert_eq!(out.events(), [msg("hello", "123")]);
}

// "reports an `id` from a block without data when the block is dispatched"
#[test]
fn id_from_block_without_data() {
    let mut parser = Parser::new();
    assert!(parser.feed(b"id: 42\n").is_empty());
    assert_eq!(parser.last_event_id(), "");
    assert!(parser.feed(b"\n").is_empty());
    assert_eq!(parser.last_event_id(), "42");
    parser.feed(b"id: bad\0id\n\n");
    assert_eq!(parser.last_event_id(), "42");
    parser.feed(b"id:\n\n");
    assert_eq!(parser.last_event_id(), "");
    let out = check1("id: 42\n\nid: bad\0id\n\nid:\n\n");
    assert!(out.items.is_empty());
    assert_eq!(out.last_event_id, "");
}

// "reports an `id` before dispatching an event from the same block"
#[test]
fn id_applies_to_its_own_block() {
    assert_eq!(
        check1("id: 42\ndata: hello\n\n").events(),
        [msg("hello", "42")]
    );
}

// "reports an `id` from a block using CR / CRLF line endings"
#[test]
fn id_block_with_cr_and_crlf() {
    assert_eq!(check1("id: 42\r\r").last_event_id, "42");
    assert_eq!(check1("id: 42\r\n\r\n").last_event_id, "42");
}

// "stream with unknown fields in the stream"
#[test]
fn unknown_fields() {
    let stream =
        "data:abc\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\ndata:123\n\n";
    let out = check1(format!("{stream}{DONE}"));
    assert_eq!(out.data(), ["abc\n\n123", "✔"]);
}

// "stream with huge data chunks" (1 MiB instead of 10 MiB, to stay quick unoptimised)
#[test]
fn huge_message() {
    let line = "Ünïcödé 🙂 0123456789 ".repeat(16);
    let mut stream = String::from(": hello\n\n");
    let mut expected = Vec::new();
    while expected.len() * line.len() < 1 << 20 {
        stream.push_str(&format!("data: {line}\n"));
        expected.push(line.as_str());
    }
    stream.push_str(&format!("\n: END-OF-STREAM\n\n{DONE}"));
    let expected = expected.join("\n");
    for size in [1 << 20, 4096, 1000, 7] {
        let chunks = stream.as_bytes().chunks(size).collect();
        let out = run_chunks(&[chunks]);
        assert_eq!(out.events().len(), 2, "chunk size {size}");
        assert!(out.events()[0].data == expected, "chunk size {size}");
    }
}

// "calls onError when the stream is invalid (through newline / no field separator)" and the
// `reset()` variants: a JSON error body or plain text makes no events.
#[test]
fn not_an_event_stream() {
    let json = r#"{"error":"Internal Server Error","message":"The server could not process your request"}"#;
    let out = check1(json);
    assert!(out.items.is_empty());
    assert_eq!(out.discarded, [true]);
    let out = check1(format!("{json}\n"));
    assert!(out.items.is_empty());
    assert_eq!(out.discarded, [false]);
    assert!(check1("Well, this is not what I expected\n")
        .items
        .is_empty());
}

// "bare field lines terminated by a cr at a chunk boundary are processed, not discarded"
#[test]
fn bare_data_line_ended_by_cr_at_chunk_end() {
    let chunks: Vec<&[u8]> = vec![b"data: one\ndata\r", b"\ndata: two\n\n"];
    assert_eq!(run_chunks(&[chunks]).data(), ["one\n\ntwo"]);
    assert_eq!(
        check1("data: one\ndata\r\ndata: two\n\n").data(),
        ["one\n\ntwo"]
    );
}

// "unknown field lines completed by a cr at a chunk boundary ..."
#[test]
fn unknown_line_ended_by_cr() {
    assert_eq!(check1("garbage\rdata: ok\n\n").events(), [msg("ok", "")]);
}

// "a blank cr line ending a chunk dispatches the pending event exactly once"
#[test]
fn blank_cr_line_dispatches_once() {
    let chunks: Vec<&[u8]> = vec![b"data: one\r", b"\r", b"\n"];
    let out = run_chunks(&[chunks]);
    assert_eq!(out.events(), [msg("one", "")]);
    assert_eq!(check1("data: one\r\r\n"), out);
}

// "discarded lines consume a crlf split across chunks as one line terminator", "discarded
// lines terminated by a bare cr resume parsing on the next chunk" and the two variants with
// the CR arriving together with its line.
#[test]
fn comment_line_endings_across_chunks() {
    let cases: [Vec<&[u8]>; 4] = [
        vec![b"data: one\n:", b"ignored\r", b"\ndata: two\n\n"],
        vec![b"data: one\n:", b"ignored\r", b"data: two\n\n"],
        vec![b"data: one\n:ignored\r", b"data: two\n\n"],
        vec![b"data: one\n:ignored\r", b"\ndata: two\n\n"],
    ];
    for chunks in cases {
        let whole = chunks.concat();
        let out = run_chunks(&[chunks]);
        assert_eq!(out.data(), ["one\ntwo"]);
        assert_eq!(check1(&whole), out);
    }
}

// "maxBufferSize: preserves split valid fields while discarding invalid lines"
#[test]
fn field_name_split_across_chunks() {
    let chunks: Vec<&[u8]> = vec![b"da", b"ta\n\n"];
    assert_eq!(run_chunks(&[chunks]).events(), [msg("", "")]);
}
