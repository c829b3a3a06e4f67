//! Shared helpers of the `sse_*` tests: run a parser over streams cut into chunks in many
//! ways, and check that the cuts make no difference.

#![allow(dead_code)]

use std::time::Duration;

use h2push::sse::{Item, ParsedEvent, Parser};

/// Everything a parser reported over one or more consecutive streams (connections).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// All items of all streams, in order.
    pub items: Vec<Item>,
    /// What `finish` returned at the end of each stream.
    pub discarded: Vec<bool>,
    /// The parser's last event id at the end.
    pub last_event_id: String,
    /// The parser's reconnection time at the end.
    pub retry: Option<Duration>,
}

impl Outcome {
    /// The dispatched events.
    pub fn events(&self) -> Vec<ParsedEvent> {
        self.items
            .iter()
            .filter_map(|item| match item {
                Item::Event(event) => Some(event.clone()),
                _ => None,
            })
            .collect()
    }

    /// The data of the dispatched events.
    pub fn data(&self) -> Vec<String> {
        self.events().into_iter().map(|e| e.data).collect()
    }

    /// The comments.
    pub fn comments(&self) -> Vec<String> {
        self.items
            .iter()
            .filter_map(|item| match item {
                Item::Comment(text) => Some(text.clone()),
                _ => None,
            })
            .collect()
    }
}

/// An expected event.
pub fn ev(event_type: &str, data: &str, last_event_id: &str) -> ParsedEvent {
    ParsedEvent {
        event_type: event_type.to_owned(),
        data: data.to_owned(),
        last_event_id: last_event_id.to_owned(),
    }
}

/// An expected message event (type `message`).
pub fn msg(data: &str, last_event_id: &str) -> ParsedEvent {
    ev("message", data, last_event_id)
}

/// Feeds each stream to one parser as the given chunks, finishing after each stream.
pub fn run_chunks(streams: &[Vec<&[u8]>]) -> Outcome {
    let mut parser = Parser::new();
    let mut items = Vec::new();
    let mut discarded = Vec::new();
    for chunks in streams {
        for chunk in chunks {
            items.extend(parser.feed_items(chunk));
        }
        discarded.push(parser.finish());
    }
    Outcome {
        items,
        discarded,
        last_event_id: parser.last_event_id().to_owned(),
        retry: parser.retry(),
    }
}

/// Cuts `stream` at the given positions (ascending, inside the stream).
pub fn cut<'a>(stream: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut chunks = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for &at in cuts {
        let at = at.clamp(start, stream.len());
        chunks.push(&stream[start..at]);
        start = at;
    }
    chunks.push(&stream[start..]);
    chunks
}

/// Parses `streams` (consecutive connections of one event source) whole, byte by byte, cut at
/// every single position, at every pair of positions (short streams), and with empty chunks
/// in between; asserts that every way gives the same outcome, and returns it.
pub fn check(streams: &[&[u8]]) -> Outcome {
    let whole = run_chunks(&streams.iter().map(|s| vec![*s]).collect::<Vec<_>>());
    let assert_same = |how: &str, chunked: Vec<Vec<&[u8]>>| {
        let outcome = run_chunks(&chunked);
        assert_eq!(outcome, whole, "parsing {how} differs from parsing whole");
    };
    let bytes: Vec<Vec<&[u8]>> = streams
        .iter()
        .map(|s| s.chunks(1).collect::<Vec<_>>())
        .collect();
    assert_same("byte by byte", bytes);
    let with_empty: Vec<Vec<&[u8]>> = streams
        .iter()
        .map(|s| {
            let mut chunks: Vec<&[u8]> = vec![b""];
            for chunk in s.chunks(3) {
                chunks.extend([chunk, b""]);
            }
            chunks
        })
        .collect();
    assert_same("in 3-byte chunks with empty ones", with_empty);
    let longest = streams.iter().map(|s| s.len()).max().unwrap_or(0);
    for at in 1..longest {
        let chunked = streams.iter().map(|s| cut(s, &[at])).collect();
        assert_same(&format!("cut at {at}"), chunked);
    }
    if longest <= 160 {
        for first in 1..longest {
            for second in first + 1..longest {
                let chunked = streams.iter().map(|s| cut(s, &[first, second])).collect();
                assert_same(&format!("cut at {first} and {second}"), chunked);
            }
        }
    }
    whole
}

/// [`check`] for a single stream.
pub fn check1(stream: impl AsRef<[u8]>) -> Outcome {
    check(&[stream.as_ref()])
}
