//! Every bound of the event hub and its endpoints, each hit over a real connection with the
//! error a client sees: subscriptions per connection (429) and per hub (503), topics per
//! subscription and per update (400), publish bodies (413), and the parser's line and event
//! caps on a real stream.

mod sse_http_support;

use std::time::Duration;

use h2push::sse::http::HubService;
use h2push::sse::hub::{Hub, HubConfig};
use h2push::sse::mercure::{JwtKey, MercureConfig, MercureService};
use h2push::sse::{Item, Oversized, ParseLimits, Parser};
use http::StatusCode;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use sse_http_support::*;

const TOKEN: &str = "pub-token";
const KEY: &str = "limits-test-key";
const HUB: &str = "/.well-known/mercure";

fn mercure(hub: HubConfig, config: MercureConfig) -> MercureService {
    MercureService::new(
        Hub::memory(hub),
        MercureConfig {
            publisher_key: Some(JwtKey::hs256(KEY)),
            anonymous: true,
            ..config
        },
    )
}

fn publisher_jwt() -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &serde_json::json!({"mercure": {"publish": ["*"]}}),
        &EncodingKey::from_secret(KEY.as_bytes()),
    )
    .unwrap()
}

async fn mercure_post(addr: std::net::SocketAddr, form: &str) -> (StatusCode, String) {
    let auth = format!("Bearer {}", publisher_jwt());
    let (status, _, body) = h1_fetch(
        addr,
        "POST",
        HUB,
        &[
            ("authorization", &auth),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        form,
    )
    .await;
    (status, body)
}

/// Retries `GET path` on `conn` until it is `200` (a slot freed by a dropped stream is freed
/// when the server notices the reset); bounded.
async fn until_ok(conn: &mut H2, path: &str) -> EventReader {
    let mut last = None;
    for _ in 0..100 {
        let (parts, reader) = conn.get(path, &[]).await;
        if parts.status == StatusCode::OK {
            return reader;
        }
        last = Some(parts.status);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("GET {path} never got 200 again; last status {last:?}");
}

#[tokio::test]
async fn events_subscriptions_per_connection_are_capped_with_429() {
    let svc =
        HubService::new(Hub::memory(HubConfig::default())).max_subscriptions_per_connection(2);
    let server = serve(svc).await;
    let mut conn = H2::connect(server.addr).await;
    let (a, first) = conn.get("/events?topic=a", &[]).await;
    let (b, _second) = conn.get("/events?topic=b", &[]).await;
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK));
    let (c, _) = conn.get("/events?topic=c", &[]).await;
    assert_eq!(c.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(c.headers.contains_key("retry-after"), "{:?}", c.headers);
    // Another connection has its own count.
    let mut other = H2::connect(server.addr).await;
    assert_eq!(
        other.get("/events?topic=c", &[]).await.0.status,
        StatusCode::OK
    );
    // Closing a stream frees its slot.
    drop(first);
    until_ok(&mut conn, "/events?topic=c").await;
}

#[tokio::test]
async fn hub_subscriber_cap_is_503() {
    let svc = HubService::new(Hub::memory(HubConfig {
        max_subscribers: 2,
        ..HubConfig::default()
    }));
    let server = serve(svc).await;
    let mut c1 = H2::connect(server.addr).await;
    let mut c2 = H2::connect(server.addr).await;
    let mut c3 = H2::connect(server.addr).await;
    let (p1, first) = c1.get("/events?topic=a", &[]).await;
    let (p2, _s2) = c2.get("/events?topic=a", &[]).await;
    assert_eq!((p1.status, p2.status), (StatusCode::OK, StatusCode::OK));
    let (p3, _) = c3.get("/events?topic=a", &[]).await;
    assert_eq!(p3.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(p3.headers.contains_key("retry-after"));
    drop(first);
    until_ok(&mut c3, "/events?topic=a").await;
}

#[tokio::test]
async fn topics_per_subscription_are_capped_with_400() {
    let svc = HubService::new(Hub::memory(HubConfig {
        max_topics_per_subscription: 2,
        ..HubConfig::default()
    }));
    let server = serve(svc).await;
    let (status, _, body) = h1_fetch(
        server.addr,
        "GET",
        "/events?topic=a&topic=b&topic=c",
        &[],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("at most 2"), "{body}");
}

#[tokio::test]
async fn memory_hub_topic_count_is_capped_with_503() {
    let svc = HubService::new(Hub::memory(HubConfig {
        max_topics: 2,
        ..HubConfig::default()
    }))
    .publish_token(TOKEN);
    let server = serve(svc).await;
    publish(server.addr, TOKEN, "a", "1").await;
    publish(server.addr, TOKEN, "b", "1").await;
    let form = serde_urlencoded::to_string([("topic", "c"), ("data", "1")]).unwrap();
    let auth = format!("Bearer {TOKEN}");
    let (status, _, body) = h1_fetch(
        server.addr,
        "POST",
        "/publish",
        &[
            ("authorization", &auth),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        &form,
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
}

#[tokio::test]
async fn events_publish_body_limit_is_413() {
    let svc = HubService::new(Hub::memory(HubConfig::default()))
        .publish_token(TOKEN)
        .max_publish_bytes(1000);
    let server = serve(svc).await;
    let big = "x".repeat(2000);
    let form = serde_urlencoded::to_string([("topic", "a"), ("data", big.as_str())]).unwrap();
    let auth = format!("Bearer {TOKEN}");
    let (status, _, body) = h1_fetch(
        server.addr,
        "POST",
        "/publish",
        &[
            ("authorization", &auth),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        &form,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    // Under the limit it goes through.
    publish(server.addr, TOKEN, "a", &"x".repeat(500)).await;
}

#[tokio::test]
async fn mercure_publish_body_and_event_limits_are_413() {
    let server = serve(mercure(
        HubConfig {
            max_event_bytes: 4000,
            ..HubConfig::default()
        },
        MercureConfig {
            max_publish_bytes: 10_000,
            ..MercureConfig::default()
        },
    ))
    .await;
    let form = |n: usize| {
        serde_urlencoded::to_string([("topic", "/a"), ("data", "x".repeat(n).as_str())]).unwrap()
    };
    let (status, body) = mercure_post(server.addr, &form(20_000)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "body limit: {body}");
    let (status, body) = mercure_post(server.addr, &form(6_000)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "event limit: {body}");
    let (status, body) = mercure_post(server.addr, &form(1_000)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn mercure_subscription_caps_are_429_and_503() {
    let server = serve(mercure(
        HubConfig {
            max_subscribers: 3,
            ..HubConfig::default()
        },
        MercureConfig {
            max_subscriptions_per_connection: 2,
            ..MercureConfig::default()
        },
    ))
    .await;
    let path = format!("{HUB}?topic=*");
    let mut conn = H2::connect(server.addr).await;
    let (a, first) = conn.get(&path, &[]).await;
    let (b, _second) = conn.get(&path, &[]).await;
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK));
    let (c, _) = conn.get(&path, &[]).await;
    assert_eq!(c.status, StatusCode::TOO_MANY_REQUESTS);
    let mut other = H2::connect(server.addr).await;
    let (d, _third) = other.get(&path, &[]).await;
    assert_eq!(d.status, StatusCode::OK);
    let (e, _) = other.get(&path, &[]).await;
    assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE, "hub holds 3");
    drop(first);
    until_ok(&mut other, &path).await;
}

#[tokio::test]
async fn mercure_topics_per_subscription_and_update_are_capped_with_400() {
    let server = serve(mercure(
        HubConfig::default(),
        MercureConfig {
            max_topics: 2,
            ..MercureConfig::default()
        },
    ))
    .await;
    let (status, _, body) = h1_fetch(
        server.addr,
        "GET",
        &format!("{HUB}?topic=a&topic=b&topic=c"),
        &[],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = mercure_post(server.addr, "topic=a&topic=b&topic=c&data=x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn a_client_parser_drops_what_is_past_its_caps_and_goes_on() {
    let svc = HubService::new(Hub::memory(HubConfig::default())).publish_token(TOKEN);
    let server = serve(svc).await;
    let mut conn = H2::connect(server.addr).await;
    let (_, mut body) = conn.request("GET", "/events?topic=a", &[], "").await;
    publish(server.addr, TOKEN, "a", &"y".repeat(5000)).await;
    publish(
        server.addr,
        TOKEN,
        "a",
        &format!("{}\n{}", "z".repeat(300), "z".repeat(300)),
    )
    .await;
    publish(server.addr, TOKEN, "a", "small").await;

    let mut parser = Parser::with_limits(ParseLimits {
        max_line: 1000,
        max_event: 500,
    });
    let mut items = Vec::new();
    while !items
        .iter()
        .any(|i| matches!(i, Item::Event(e) if e.data == "small"))
    {
        let chunk = within("a chunk", body.data())
            .await
            .expect("stream open")
            .unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        // Feed in small pieces, as a network might.
        for piece in chunk.chunks(97) {
            items.extend(parser.feed_items(piece));
        }
        assert!(items.len() < 100, "{items:?}");
    }
    let oversized: Vec<_> = items
        .iter()
        .filter_map(|i| match i {
            Item::Oversized(o) => Some(*o),
            _ => None,
        })
        .collect();
    assert_eq!(oversized, [Oversized::Line, Oversized::Event], "{items:?}");
    let events: Vec<_> = items
        .iter()
        .filter_map(|i| match i {
            Item::Event(e) => Some(e.data.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(events, ["small"]);
    assert_eq!(parser.oversized(), 2);
}
