//! `GET /api/events`, and what every event-stream response of the demo shares.
//!
//! This module owns the demo's ticker — [`COUNT`] events one [`INTERVAL`] apart, event `n`
//! carrying id `n`, so a client that reconnects with `Last-Event-ID: n` (or
//! `?lastEventId=n`, for a new `EventSource`, which cannot set the header) resumes at `n + 1`,
//! and one that has seen them all gets 204, which stops an `EventSource` from reconnecting —
//! plus the headers of a stream response and a sleep that ends early at shutdown. The event
//! wire format is `h2push::sse`'s; there is no hub here: every stream is computed, not
//! broadcast.

use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::Stream;
use h2push::sse::Event;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;

use super::routes::AppState;

/// How many events `/api/events` sends in all.
pub const COUNT: u64 = 15;
/// The time between two events.
pub const INTERVAL: Duration = Duration::from_secs(1);
/// The reconnection time the stream asks clients to use (`retry:`).
pub const RETRY: Duration = Duration::from_millis(1000);

/// `?lastEventId=`: the resume point for clients that cannot send the header.
#[derive(Deserialize)]
pub struct EventsQuery {
    #[serde(rename = "lastEventId")]
    last_event_id: Option<String>,
}

/// `GET /api/events`: a `welcome` event, then `tick` events `start..=COUNT` one a second,
/// then `done`; 204 when there is nothing left to send.
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<EventsQuery>,
) -> Response {
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(query.last_event_id);
    let start = first_to_send(last.as_deref());
    if start > COUNT {
        // All seen: 204 tells an EventSource not to reconnect (WHATWG HTML §9.2.3).
        return StatusCode::NO_CONTENT.into_response();
    }
    stream_response(ticker(start, state.shutdown))
}

/// The id to start at for a client that last saw `last` (anything but a number: from 1).
pub fn first_to_send(last: Option<&str>) -> u64 {
    last.and_then(|s| s.trim().parse::<u64>().ok())
        .map_or(1, |n| n.saturating_add(1))
}

/// Where the ticker is.
enum Phase {
    Welcome,
    Tick,
    Done,
    Over,
}

fn ticker(start: u64, stop: watch::Receiver<bool>) -> impl Stream<Item = Bytes> + Send {
    let resumed = start > 1;
    futures_util::stream::unfold(
        (Phase::Welcome, start, stop),
        move |(phase, n, mut stop)| async move {
            match phase {
                Phase::Welcome => {
                    let data = json!({ "resume_from": n, "of": COUNT, "resumed": resumed,
                                       "interval_ms": INTERVAL.as_millis() as u64 });
                    let ev = named("welcome", data.to_string()).retry(RETRY);
                    Some((ev.encode(), (Phase::Tick, n, stop)))
                }
                Phase::Tick => {
                    // The first tick goes at once; the rest one interval apart.
                    if n > start && !pause(INTERVAL, &mut stop).await {
                        return None;
                    }
                    let data = json!({ "n": n, "of": COUNT, "text": format!("message {n} of {COUNT}"),
                                       "sent_ms": unix_ms() });
                    let ev = with_id(named("tick", data.to_string()), n);
                    let next = if n >= COUNT { Phase::Done } else { Phase::Tick };
                    Some((ev.encode(), (next, n + 1, stop)))
                }
                Phase::Done => {
                    let ev = named("done", format!("all {COUNT} messages sent"));
                    Some((ev.encode(), (Phase::Over, n, stop)))
                }
                Phase::Over => None,
            }
        },
    )
}

/// An event of type `kind` (the demo's kinds are plain words, so naming cannot fail; if it
/// did, the event would go out unnamed rather than not at all).
pub fn named(kind: &str, data: impl Into<String>) -> Event {
    let ev = Event::data(data);
    ev.clone().event(kind).unwrap_or(ev)
}

/// `ev` with the numeric id `n` (digits are always a valid id).
pub fn with_id(ev: Event, n: u64) -> Event {
    ev.clone().id(n.to_string()).unwrap_or(ev)
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Sleeps for `d`; returns `false` instead if the server starts shutting down first.
pub async fn pause(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(d) => true,
        _ = stop.wait_for(|s| *s) => false,
    }
}

/// A `text/event-stream` response for `events`, with the headers that keep proxies and
/// caches from buffering or storing it.
pub fn stream_response(events: impl Stream<Item = Bytes> + Send + 'static) -> Response {
    use futures_util::StreamExt;
    let body = Body::from_stream(events.map(Ok::<_, Infallible>));
    let mut res = Response::new(body);
    let h = res.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(h2push::sse::MIME_TYPE),
    );
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-transform"),
    );
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[test]
    fn resume_point() {
        assert_eq!(first_to_send(None), 1);
        assert_eq!(first_to_send(Some("5")), 6);
        assert_eq!(first_to_send(Some(" 7 ")), 8);
        assert_eq!(first_to_send(Some("abc")), 1);
        assert_eq!(first_to_send(Some("")), 1);
        assert_eq!(first_to_send(Some("18446744073709551615")), u64::MAX);
    }

    #[tokio::test(start_paused = true)]
    async fn ticker_resumes_and_ends_with_done() {
        let (_tx, rx) = watch::channel(false);
        let chunks: Vec<Bytes> = ticker(13, rx).collect().await;
        let all: Vec<u8> = chunks.concat();
        let events = h2push::sse::parse_all(&all);
        let kinds: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(kinds, ["welcome", "tick", "tick", "tick", "done"]);
        let ids: Vec<&str> = events[1..4]
            .iter()
            .map(|e| e.last_event_id.as_str())
            .collect();
        assert_eq!(ids, ["13", "14", "15"]);
    }

    #[tokio::test(start_paused = true)]
    async fn ticker_stops_at_shutdown() {
        let (tx, rx) = watch::channel(false);
        let mut s = Box::pin(ticker(1, rx));
        assert!(s.next().await.is_some()); // welcome
        assert!(s.next().await.is_some()); // tick 1, at once
        tx.send_replace(true);
        assert!(s.next().await.is_none());
    }
}
