//! Property tests: every valid [`Event`] encodes to bytes that [`Parser`] reads back as the
//! same event, also when many events are concatenated and cut at arbitrary points; and the
//! parser's outcome on arbitrary bytes does not depend on how they are cut.

mod sse_support;

use std::time::Duration;

use h2push::sse::{Event, Item, ParsedEvent, Parser};
use proptest::prelude::*;
use sse_support::{cut, run_chunks};

/// Text made of the pieces that matter to the format (every line ending, spaces, colons,
/// NUL, a BOM, multi-byte characters), ordinary words and any characters, without the
/// `forbidden` ones.
fn text_from(
    pieces: &'static [&'static str],
    forbidden: &'static [char],
) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => proptest::sample::select(pieces).prop_map(str::to_owned),
        2 => "[a-z0-9]{1,4}",
        1 => any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..10)
        .prop_map(move |pieces| pieces.concat().replace(forbidden, ""))
}

const ANY: &[&str] = &[
    "\r", "\n", "\r\n", " ", "  ", ":", "\0", "\u{FEFF}", "é", "🦀", "data",
];
const NO_CR_LF: &[&str] = &[" ", "  ", ":", "\0", "\u{FEFF}", "é", "🦀", "id"];
const NO_NUL_CR_LF: &[&str] = &[" ", "  ", ":", "\u{FEFF}", "é", "🦀", "event"];

/// Byte strings that matter to the parser: line endings, field names, BOMs whole and cut,
/// NUL, digits, a multi-byte character whole and cut.
const BYTE_PIECES: &[&[u8]] = &[
    b"\r",
    b"\n",
    b"\r\n",
    b":",
    b" ",
    b"data",
    b"id",
    b"event",
    b"retry",
    b"\xEF\xBB\xBF",
    b"\xEF\xBB",
    b"\0",
    b"42",
    b"\xF0\x9F\xA6\x80",
    b"\xF0\x9F",
];

/// The inputs of one event.
#[derive(Debug, Clone)]
struct Spec {
    data: Option<String>,
    event_type: Option<String>,
    id: Option<String>,
    retry: Option<u64>,
    comment: Option<String>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::option::weighted(0.9, text_from(ANY, &[])),
        prop::option::of(text_from(NO_CR_LF, &['\r', '\n'])),
        prop::option::of(text_from(NO_NUL_CR_LF, &['\0', '\r', '\n'])),
        prop::option::of(prop_oneof![0..100_000u64, any::<u64>()]),
        prop::option::weighted(0.2, text_from(ANY, &[])),
    )
        .prop_map(|(data, event_type, id, retry, comment)| Spec {
            data,
            event_type,
            id,
            retry,
            comment,
        })
}

/// Builds the event; the strategies only make valid values, so the setters succeed.
fn build(spec: &Spec) -> Result<Event, TestCaseError> {
    let mut event = match &spec.data {
        Some(data) => Event::data(data.clone()),
        None => Event::no_data(),
    };
    if let Some(event_type) = &spec.event_type {
        event = event
            .event(event_type.clone())
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    }
    if let Some(id) = &spec.id {
        event = event
            .id(id.clone())
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    }
    if let Some(millis) = spec.retry {
        event = event.retry(Duration::from_millis(millis));
    }
    if let Some(comment) = &spec.comment {
        event = event.comment(comment.clone());
    }
    Ok(event)
}

/// Line endings normalised to LF, as a client sees a payload.
fn normalise(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// What a parser should report for these events, in order, given the last event id before
/// them; returns the items and the last event id after them.
fn expected(specs: &[Spec], mut last_id: String) -> (Vec<Item>, String) {
    let mut items = Vec::new();
    for spec in specs {
        if let Some(comment) = &spec.comment {
            let lines = normalise(comment);
            items.extend(lines.split('\n').map(|line| Item::Comment(line.to_owned())));
        }
        if let Some(millis) = spec.retry {
            items.push(Item::Retry(Duration::from_millis(millis)));
        }
        if let Some(id) = &spec.id {
            last_id.clone_from(id);
        }
        if let Some(data) = &spec.data {
            let event_type = match spec.event_type.as_deref() {
                None | Some("") => "message",
                Some(event_type) => event_type,
            };
            items.push(Item::Event(ParsedEvent {
                event_type: event_type.to_owned(),
                data: normalise(data),
                last_event_id: last_id.clone(),
            }));
        }
    }
    (items, last_id)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn one_event_round_trips(spec in spec()) {
        let event = build(&spec)?;
        let mut parser = Parser::new();
        let items = parser.feed_items(&event.encode());
        prop_assert!(!parser.finish(), "an encoded event is complete");
        let (expected, last_id) = expected(std::slice::from_ref(&spec), String::new());
        prop_assert_eq!(items, expected);
        prop_assert_eq!(parser.last_event_id(), last_id);
        prop_assert_eq!(parser.retry(), spec.retry.map(Duration::from_millis));
    }

    #[test]
    fn concatenated_events_round_trip_however_cut(
        specs in proptest::collection::vec(spec(), 1..8),
        mut cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut stream = Vec::new();
        for spec in &specs {
            stream.extend_from_slice(&build(spec)?.encode());
        }
        let mut positions: Vec<usize> = cuts.drain(..).map(|i| i.index(stream.len() + 1)).collect();
        positions.sort_unstable();
        let out = run_chunks(&[cut(&stream, &positions)]);
        let (items, last_id) = expected(&specs, String::new());
        prop_assert_eq!(out.items, items);
        prop_assert_eq!(out.discarded, vec![false]);
        prop_assert_eq!(out.last_event_id, last_id);
        let retry = specs.iter().rev().find_map(|s| s.retry).map(Duration::from_millis);
        prop_assert_eq!(out.retry, retry);
    }

    #[test]
    fn arbitrary_bytes_parse_the_same_however_cut(
        pieces in proptest::collection::vec(
            prop_oneof![
                3 => proptest::sample::select(BYTE_PIECES).prop_map(<[u8]>::to_vec),
                1 => proptest::collection::vec(any::<u8>(), 1..4),
            ],
            0..40,
        ),
        mut cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let stream = pieces.concat();
        let mut positions: Vec<usize> = cuts.drain(..).map(|i| i.index(stream.len() + 1)).collect();
        positions.sort_unstable();
        let whole = run_chunks(&[vec![&stream[..]]]);
        let bytewise = run_chunks(&[stream.chunks(1).collect()]);
        let chunked = run_chunks(&[cut(&stream, &positions)]);
        prop_assert_eq!(&bytewise, &whole);
        prop_assert_eq!(&chunked, &whole);
    }
}

/// A plain example of the concatenation property, for reading.
#[test]
fn concatenated_example() -> Result<(), h2push::sse::SseError> {
    let mut stream = Vec::new();
    stream.extend_from_slice(&Event::data(" a\r\nb\r").id("1")?.encode());
    stream.extend_from_slice(&Event::no_data().retry(Duration::from_secs(2)).encode());
    stream.extend_from_slice(&Event::data("").event("empty")?.encode());
    let out = sse_support::check1(&stream);
    let expected = [
        Item::Event(sse_support::msg(" a\nb\n", "1")),
        Item::Retry(Duration::from_secs(2)),
        Item::Event(sse_support::ev("empty", "", "1")),
    ];
    assert_eq!(out.items, expected);
    Ok(())
}
