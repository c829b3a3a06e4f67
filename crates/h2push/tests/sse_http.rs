//! The hub's HTTP endpoints over real connections: HTTP/2 (h2c prior knowledge, many streams
//! on one connection) and HTTP/1.1. Publish → receive, replay after Last-Event-ID, gaps,
//! slow consumers, heartbeats, tokens, 204, CORS, mounting in front of another service.

mod sse_http_support;

use std::time::{Duration, Instant};

use h2push::sse::http::{mount, HubService};
use h2push::sse::hub::{Hub, HubConfig, TopicFilter};
use h2push::sse::{Event, Item};
use http::StatusCode;
use sse_http_support::*;

const TOKEN: &str = "pub-token";

fn service(config: HubConfig) -> HubService {
    HubService::new(Hub::memory(config)).publish_token(TOKEN)
}

fn check_event_stream_head(parts: &http::response::Parts) {
    assert_eq!(parts.status, StatusCode::OK);
    let h = &parts.headers;
    assert_eq!(h["content-type"], "text/event-stream");
    assert_eq!(h["cache-control"], "no-store, no-transform");
    assert_eq!(h["x-accel-buffering"], "no");
    assert!(h.get("content-encoding").is_none());
    assert!(h.get("content-length").is_none());
}

#[tokio::test]
async fn h2_publish_then_receive() {
    let svc = service(HubConfig::default());
    let server = serve(svc).await;
    let mut conn = H2::connect(server.addr).await;
    let (parts, mut events) = conn
        .get("/events?topic=news", &[("accept", "text/event-stream")])
        .await;
    check_event_stream_head(&parts);
    let id = publish(server.addr, TOKEN, "news", "hello\nworld").await;
    let got = events.events(1).await;
    assert_eq!(got[0].data, "hello\nworld");
    assert_eq!(got[0].last_event_id, id);
}

#[tokio::test]
async fn h1_publish_then_receive() {
    let server = serve(service(HubConfig::default())).await;
    let (parts, mut events) = h1_get(server.addr, "/events?topic=news", &[]).await;
    check_event_stream_head(&parts);
    for i in 0..3 {
        publish(server.addr, TOKEN, "news", &format!("e{i}")).await;
    }
    assert_eq!(data(&events.events(3).await), ["e0", "e1", "e2"]);
}

#[tokio::test]
async fn many_streams_share_one_h2_connection() {
    let svc = service(HubConfig::default());
    let hub = svc.hub().clone();
    let server = serve(svc).await;
    let mut conn = H2::connect(server.addr).await;
    let mut readers = Vec::new();
    for i in 0..60 {
        let topic = if i % 2 == 0 { "even" } else { "odd" };
        readers.push(
            conn.get(&format!("/events?topic={topic}&topic=all"), &[])
                .await
                .1,
        );
    }
    within("60 subscribers", async {
        while hub.stats().subscribers < 60 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    hub.publish("even", Event::data("to even")).await.unwrap();
    hub.publish("all", Event::data("to all")).await.unwrap();
    for (i, r) in readers.iter_mut().enumerate() {
        let expected: &[&str] = if i % 2 == 0 {
            &["to even", "to all"]
        } else {
            &["to all"]
        };
        assert_eq!(
            data(&r.events(expected.len()).await),
            expected,
            "stream {i}"
        );
    }
}

#[tokio::test]
async fn reconnect_with_last_event_id_gets_exactly_what_was_missed() {
    let svc = service(HubConfig::default());
    let hub = svc.hub().clone();
    let server = serve(svc).await;
    let mut conn = H2::connect(server.addr).await;
    let (_, mut first) = conn.get("/events?topic=a&topic=b", &[]).await;
    let mut ids = Vec::new();
    for (t, d) in [("a", "1"), ("b", "2")] {
        ids.push(publish(server.addr, TOKEN, t, d).await);
    }
    let seen = first.events(2).await;
    let last = seen[1].last_event_id.clone();
    drop(first);
    // Missed while away: on both topics, and on a topic it does not follow.
    for (t, d) in [("a", "3"), ("c", "x"), ("b", "4"), ("a", "5")] {
        hub.publish(t, Event::data(d)).await.unwrap();
    }
    // HTTP/2, Last-Event-ID header (how a browser reconnects).
    let (_, mut again) = conn
        .get("/events?topic=a&topic=b", &[("last-event-id", &last)])
        .await;
    assert_eq!(data(&again.events(3).await), ["3", "4", "5"]);
    assert!(
        again.quiet_for(Duration::from_millis(200)).await,
        "nothing twice"
    );
    // HTTP/1.1, lastEventId query parameter (a page's first connection).
    let (_, mut h1) = h1_get(
        server.addr,
        &format!("/events?topic=a&topic=b&lastEventId={last}"),
        &[],
    )
    .await;
    assert_eq!(data(&h1.events(3).await), ["3", "4", "5"]);
    // The header wins over the query (the query holds the id the page started with).
    let (_, mut both) = conn
        .get(
            &format!("/events?topic=a&topic=b&lastEventId={}", ids[0]),
            &[("last-event-id", &last)],
        )
        .await;
    assert_eq!(data(&both.events(3).await), ["3", "4", "5"]);
    // Then live, on all of them.
    hub.publish("b", Event::data("6")).await.unwrap();
    for r in [&mut again, &mut h1, &mut both] {
        assert_eq!(data(&r.events(1).await), ["6"]);
    }
}

#[tokio::test]
async fn gap_event_when_history_does_not_reach_back() {
    let svc = service(HubConfig {
        history_len: 2,
        ..HubConfig::default()
    });
    let server = serve(svc).await;
    let first = publish(server.addr, TOKEN, "t", "0").await;
    for i in 1..5 {
        publish(server.addr, TOKEN, "t", &i.to_string()).await;
    }
    let mut conn = H2::connect(server.addr).await;
    let (_, mut r) = conn
        .get("/events?topic=t", &[("last-event-id", &first)])
        .await;
    let got = r.events(3).await;
    assert_eq!(got[0].event_type, "gap");
    let gap: serde_json::Value = serde_json::from_str(&got[0].data).unwrap();
    assert_eq!(
        gap,
        serde_json::json!({"reason": "history", "topics": ["t"]})
    );
    assert_eq!(data(&got[1..]), ["3", "4"]);
}

#[tokio::test]
async fn a_stalled_subscriber_does_not_delay_a_fast_one() {
    let svc = service(HubConfig {
        queue_len: 64,
        ..HubConfig::default()
    });
    let hub = svc.hub().clone();
    let server = serve(svc).await;
    // Stalled readers: never read; 1 KiB stream windows. One on its own connection, one
    // sharing the fast reader's connection (whose connection window is large).
    let mut small = h2::client::Builder::new();
    small
        .initial_window_size(1024)
        .initial_connection_window_size(1 << 30);
    let mut stalled_conn = H2::connect_with(server.addr, small.clone()).await;
    let (_, _stalled_alone) = stalled_conn.get("/events?topic=t", &[]).await;
    let mut shared = H2::connect_with(server.addr, small).await;
    let (_, _stalled_shared) = shared.get("/events?topic=t", &[]).await;
    let mut fast_conn = H2::connect(server.addr).await;
    let (_, mut fast) = fast_conn.get("/events?topic=t", &[]).await;
    let (_, mut fast_h1) = h1_get(server.addr, "/events?topic=t", &[]).await;
    within("4 subscribers", async {
        while hub.stats().subscribers < 4 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;

    let payload = "x".repeat(200);
    let start = Instant::now();
    let n = 2000;
    let publisher = {
        let hub = hub.clone();
        tokio::spawn(async move {
            for i in 0..n {
                hub.publish("t", Event::data(format!("{i} {payload}")))
                    .await
                    .unwrap();
                if i % 50 == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        })
    };
    let got = fast.events(n).await;
    let got_h1 = fast_h1.events(n).await;
    let took = start.elapsed();
    within("the publisher", publisher).await.unwrap();
    for got in [&got, &got_h1] {
        assert!(
            got.iter().all(|e| e.event_type == "message"),
            "no gap for fast readers"
        );
        assert!(got.last().unwrap().data.starts_with(&format!("{} ", n - 1)));
    }
    assert!(
        took < Duration::from_secs(8),
        "fast subscribers took {took:?}"
    );
    // The stalled ones overflowed (2000 × 200 B ≫ 1 KiB window + 64 queued) and dropped.
    assert!(hub.stats().dropped > 2 * 1000, "{:?}", hub.stats());
}

#[tokio::test]
async fn heartbeats_keep_an_idle_stream_alive() {
    let svc = service(HubConfig::default()).heartbeat(Duration::from_millis(100));
    let server = serve(svc).await;
    let mut conn = H2::connect(server.addr).await;
    for h2 in [true, false] {
        let start = Instant::now();
        let mut r = if h2 {
            conn.get("/events?topic=idle", &[]).await.1
        } else {
            h1_get(server.addr, "/events?topic=idle", &[]).await.1
        };
        let mut beats = 0;
        while beats < 3 {
            match r.next_item().await {
                Some(Item::Comment(c)) if c.is_empty() => beats += 1,
                Some(Item::Comment(c)) => assert_eq!(c, "ok"),
                other => panic!("unexpected {other:?}"),
            }
        }
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(3),
            "{took:?}"
        );
    }
}

#[tokio::test]
async fn retry_is_sent_first_when_configured() {
    let svc = service(HubConfig::default()).retry(Duration::from_millis(2500));
    let server = serve(svc).await;
    let (_, mut r) = h1_get(server.addr, "/events?topic=t", &[]).await;
    assert_eq!(
        r.next_item().await,
        Some(Item::Retry(Duration::from_millis(2500)))
    );
}

#[tokio::test]
async fn publish_needs_the_right_token() {
    // No token configured: refused, and the message says how to set one.
    let server = serve(HubService::new(Hub::memory(HubConfig::default()))).await;
    let (status, _, body) = h1_fetch(server.addr, "POST", "/publish", &[], "topic=t&data=x").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body.contains("--publish-token") && body.contains("[sse]"),
        "{body}"
    );

    let server = serve(service(HubConfig::default())).await;
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let (status, head, _) =
        h1_fetch(server.addr, "POST", "/publish", &form, "topic=t&data=x").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(head["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let (status, _, _) = h1_fetch(
        server.addr,
        "POST",
        "/publish",
        &[("authorization", "Bearer nope")],
        "topic=t&data=x",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = h1_fetch(
        server.addr,
        "POST",
        "/publish",
        &[("authorization", "Basic eDp5")],
        "topic=t&data=x",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, body) = h1_fetch(server.addr, "GET", "/publish", &[], "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
}

#[tokio::test]
async fn publish_takes_forms_and_json() {
    let svc = service(HubConfig {
        allowed_topics: Some(TopicFilter::new(["t", "u"])),
        max_event_bytes: 1000,
        ..HubConfig::default()
    });
    let server = serve(svc).await;
    let mut conn = H2::connect(server.addr).await;
    let (_, mut r) = conn.get("/events?topic=t", &[]).await;
    let auth = format!("Bearer {TOKEN}");
    let json = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let form = [
        ("authorization", auth.as_str()),
        ("content-type", "application/x-www-form-urlencoded"),
    ];

    // Over HTTP/2 too, on the subscriber's own connection.
    let (parts, mut body) = conn
        .request(
            "POST",
            "/publish",
            &json,
            r#"{"topic":"t","data":{"n":1},"event":"update"}"#,
        )
        .await;
    assert_eq!(parts.status, StatusCode::OK);
    let reply = within("publish reply", body.data()).await.unwrap().unwrap();
    let reply: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    let got = r.events(1).await;
    assert_eq!(
        (got[0].event_type.as_str(), got[0].data.as_str()),
        ("update", r#"{"n":1}"#)
    );
    assert_eq!(reply["id"], got[0].last_event_id.as_str());
    assert_eq!(reply["topic"], "t");

    let (status, _, body) = h1_fetch(
        server.addr,
        "POST",
        "/publish",
        &form,
        "topic=t&data=a%0Ab&type=note",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let got = r.events(1).await;
    assert_eq!(
        (got[0].event_type.as_str(), got[0].data.as_str()),
        ("note", "a\nb")
    );

    // Idempotency key: the second post publishes nothing and returns the same id.
    let (_, _, first) = h1_fetch(
        server.addr,
        "POST",
        "/publish",
        &form,
        "topic=t&data=once&id=k1",
    )
    .await;
    let (_, _, second) = h1_fetch(
        server.addr,
        "POST",
        "/publish",
        &form,
        "topic=t&data=once&id=k1",
    )
    .await;
    let (first, second): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&first).unwrap(),
        serde_json::from_str(&second).unwrap(),
    );
    assert_eq!(first["id"], second["id"]);
    assert_eq!(second["duplicate"], true);
    assert_eq!(data(&r.events(1).await), ["once"]);
    assert!(r.quiet_for(Duration::from_millis(200)).await);

    for (body, status) in [
        ("data=x", StatusCode::BAD_REQUEST),
        ("topic=t", StatusCode::BAD_REQUEST),
        ("topic=nope&data=x", StatusCode::NOT_FOUND),
        ("topic=a%20b&data=x", StatusCode::BAD_REQUEST),
        ("topic=t&data=x&event=a%0Ab", StatusCode::BAD_REQUEST),
    ] {
        let (got, _, text) = h1_fetch(server.addr, "POST", "/publish", &form, body).await;
        assert_eq!(got, status, "{body}: {text}");
        assert!(text.contains("\"error\""), "{text}");
    }
    let big = format!("topic=t&data={}", "x".repeat(2000));
    let (got, _, _) = h1_fetch(server.addr, "POST", "/publish", &form, &big).await;
    assert_eq!(got, StatusCode::PAYLOAD_TOO_LARGE);
    let (got, _, _) = h1_fetch(server.addr, "POST", "/publish", &json, "{not json").await;
    assert_eq!(got, StatusCode::BAD_REQUEST);
    let plain = [
        ("authorization", auth.as_str()),
        ("content-type", "text/plain"),
    ];
    let (got, _, _) = h1_fetch(server.addr, "POST", "/publish", &plain, "x").await;
    assert_eq!(got, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn subscriptions_that_cannot_be_served() {
    let svc = service(HubConfig {
        allowed_topics: Some(TopicFilter::new(["news"])),
        ..HubConfig::default()
    });
    let server = serve(svc).await;
    // An unknown topic: 204, which tells an EventSource to stop reconnecting.
    let (status, _, body) = h1_fetch(server.addr, "GET", "/events?topic=sports", &[], "").await;
    assert_eq!((status, body.as_str()), (StatusCode::NO_CONTENT, ""));
    let (status, _, body) = h1_fetch(server.addr, "GET", "/events", &[], "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("?topic="), "{body}");
    let (status, _, _) = h1_fetch(server.addr, "POST", "/events?topic=news", &[], "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn subscriber_tokens_by_query_or_cookie() {
    let svc = service(HubConfig::default()).subscriber_tokens(["sub-1", "sub-2"]);
    let server = serve(svc).await;
    let (status, _, body) = h1_fetch(server.addr, "GET", "/events?topic=t", &[], "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("token"), "{body}");
    let (status, _, _) = h1_fetch(server.addr, "GET", "/events?topic=t&token=bad", &[], "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (parts, _r) = h1_get(server.addr, "/events?topic=t&token=sub-2", &[]).await;
    assert_eq!(parts.status, StatusCode::OK);
    let mut conn = H2::connect(server.addr).await;
    let (parts, _r) = conn
        .get(
            "/events?topic=t",
            &[("cookie", "x=1; h2push_sse_token=sub-1")],
        )
        .await;
    assert_eq!(parts.status, StatusCode::OK);
}

#[tokio::test]
async fn a_client_reset_unsubscribes() {
    let svc = service(HubConfig::default());
    let hub = svc.hub().clone();
    let server = serve(svc).await;
    let mut conn = H2::connect(server.addr).await;
    let (_, r1) = conn.get("/events?topic=t", &[]).await;
    let (_, mut r2) = conn.get("/events?topic=t", &[]).await;
    let (_, r3) = h1_get(server.addr, "/events?topic=t", &[]).await;
    within("3 subscribers", async {
        while hub.stats().subscribers < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    drop(r1); // resets the HTTP/2 stream
    drop(r3); // closes the HTTP/1.1 connection
    hub.publish("t", Event::data("x")).await.unwrap(); // an HTTP/1.1 server notices on write
    within("unsubscribed", async {
        while hub.stats().subscribers > 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(data(&r2.events(1).await), ["x"]);
}

#[tokio::test]
async fn cors_for_listed_origins() {
    let svc = service(HubConfig::default()).allow_origins(["https://app.example"]);
    let server = serve(svc).await;
    let (parts, _r) = h1_get(
        server.addr,
        "/events?topic=t",
        &[("origin", "https://app.example")],
    )
    .await;
    assert_eq!(
        parts.headers["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(parts.headers["vary"], "origin");
    let (status, head, _) = h1_fetch(
        server.addr,
        "OPTIONS",
        "/events?topic=t",
        &[
            ("origin", "https://app.example"),
            ("access-control-request-headers", "last-event-id"),
        ],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(head["access-control-allow-origin"], "https://app.example");
    assert!(head["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("last-event-id"));
}

#[tokio::test]
async fn cors_refuses_unlisted_origins() {
    let svc = service(HubConfig::default()).allow_origins(["https://app.example"]);
    let server = serve(svc).await;
    let (parts, _r) = h1_get(
        server.addr,
        "/events?topic=t",
        &[("origin", "https://evil.example")],
    )
    .await;
    assert!(parts.headers.get("access-control-allow-origin").is_none());
    // Any origin, with credentials: the origin is echoed, never `*`.
    let svc = service(HubConfig::default())
        .allow_origins(["*"])
        .allow_credentials(true);
    let server = serve(svc).await;
    let (parts, _r) = h1_get(
        server.addr,
        "/events?topic=t",
        &[("origin", "https://x.example")],
    )
    .await;
    assert_eq!(
        parts.headers["access-control-allow-origin"],
        "https://x.example"
    );
    assert_eq!(parts.headers["access-control-allow-credentials"], "true");
}

#[tokio::test]
async fn mounted_in_front_of_another_service() {
    let files = tower::service_fn(|req: http::Request<h2push::Body>| async move {
        Ok::<_, std::convert::Infallible>(http::Response::new(h2push::Body::from(format!(
            "file {}",
            req.uri().path()
        ))))
    });
    let svc = service(HubConfig::default());
    let server = serve(mount(Some(svc), files)).await;
    let (status, _, body) = h1_fetch(server.addr, "GET", "/index.html", &[], "").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "file /index.html")
    );
    let (parts, mut r) = h1_get(server.addr, "/events?topic=t", &[]).await;
    check_event_stream_head(&parts);
    publish(server.addr, TOKEN, "t", "via mount").await;
    assert_eq!(data(&r.events(1).await), ["via mount"]);
    // Nothing mounted: all goes through.
    let server = serve(mount(None, files)).await;
    let (_, _, body) = h1_fetch(server.addr, "GET", "/events?topic=t", &[], "").await;
    assert_eq!(body, "file /events");
}

#[tokio::test]
async fn hub_shutdown_ends_streams_with_retry() {
    let svc = service(HubConfig {
        retry: Duration::from_millis(800),
        ..HubConfig::default()
    });
    let hub = svc.hub().clone();
    let server = serve(svc).await;
    let mut conn = H2::connect(server.addr).await;
    let (_, mut h2) = conn.get("/events?topic=t", &[]).await;
    let (_, mut h1) = h1_get(server.addr, "/events?topic=t", &[]).await;
    within("2 subscribers", async {
        while hub.stats().subscribers < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    hub.shutdown();
    for r in [&mut h2, &mut h1] {
        let rest = r.rest().await;
        assert!(rest.iter().any(|i| matches!(i, Item::Retry(_))), "{rest:?}");
        assert!(r.ended);
    }
    // New subscriptions are told to come back later, with a 200 an EventSource retries.
    let (status, head, body) = h1_fetch(server.addr, "GET", "/events?topic=t", &[], "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(head["content-type"], "text/event-stream");
    assert!(body.contains("retry: "), "{body}");
}
