//! The Mercure hub over real HTTP/2 and HTTP/1.1 connections: the draft's exchanges
//! (subscribe to a URI template, publish with a JWT, receive; private updates; resuming with
//! `Last-Event-ID` and `lastEventID`; 401 and 403), subscription events, RS256 keys and the
//! endpoint's limits.

mod sse_http_support;

use std::time::Duration;

use h2push::sse::hub::{Hub, HubConfig};
use h2push::sse::mercure::{JwtKey, MercureConfig, MercureService};
use h2push::sse::{Item, ParsedEvent};
use http::StatusCode;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sse_http_support::*;

const KEY: &str = "!ChangeThisMercureHubJWTSecretKey!";
const HUB: &str = "/.well-known/mercure";
const BOOKS: &str = "https://example.com/books/{id}";
const BOOK1: &str = "https://example.com/books/1";

fn jwt(claims: Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(KEY.as_bytes()),
    )
    .unwrap()
}

fn publisher() -> String {
    jwt(json!({"mercure": {"publish": ["*"]}}))
}

fn config() -> MercureConfig {
    MercureConfig {
        publisher_key: Some(JwtKey::hs256(KEY)),
        anonymous: true,
        ..MercureConfig::default()
    }
}

fn mercure(config: MercureConfig) -> MercureService {
    MercureService::new(Hub::memory(HubConfig::default()), config)
}

/// `GET /.well-known/mercure?topic=…&…` as a path.
fn sub_path(selectors: &[&str], extra: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(&str, &str)> = selectors.iter().map(|s| ("topic", *s)).collect();
    pairs.extend_from_slice(extra);
    format!("{HUB}?{}", serde_urlencoded::to_string(pairs).unwrap())
}

/// `POST /.well-known/mercure` with a form; the status and body.
async fn post(
    addr: std::net::SocketAddr,
    token: Option<&str>,
    fields: &[(&str, &str)],
) -> (StatusCode, http::HeaderMap, String) {
    let form = serde_urlencoded::to_string(fields).unwrap();
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    h1_fetch(addr, "POST", HUB, &headers, &form).await
}

/// Publishes with a full-rights JWT; returns the id.
async fn publish_ok(addr: std::net::SocketAddr, fields: &[(&str, &str)]) -> String {
    let (status, _, body) = post(addr, Some(&publisher()), fields).await;
    assert_eq!(status, StatusCode::OK, "publish {fields:?}: {body}");
    body
}

fn data(events: &[ParsedEvent]) -> Vec<&str> {
    events.iter().map(|e| e.data.as_str()).collect()
}

#[tokio::test]
async fn subscribe_to_a_uri_template_publish_with_a_jwt_and_receive() {
    let server = serve(mercure(config())).await;
    let mut conn = H2::connect(server.addr).await;
    let (parts, mut events) = conn
        .get(
            &sub_path(&[BOOKS, "https://example.com/users/dunglas/{?topic}"], &[]),
            &[],
        )
        .await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(parts.headers["content-type"], "text/event-stream");

    // The draft's example update.
    let body =
        r#"{"@id": "https://example.com/books/1", "availability": "https://schema.org/InStock"}"#;
    let id = publish_ok(server.addr, &[("topic", BOOK1), ("data", body)]).await;
    assert!(id.starts_with("urn:uuid:"), "generated id {id:?}");
    // Not selected: no book.
    publish_ok(
        server.addr,
        &[("topic", "https://example.com/reviews/1"), ("data", "no")],
    )
    .await;
    let id2 = publish_ok(
        server.addr,
        &[
            ("topic", "https://example.com/books/2"),
            ("data", "line 1\nline 2"),
            ("id", "https://example.com/books/2/v2"),
            ("type", "update"),
            ("retry", "2500"),
        ],
    )
    .await;
    assert_eq!(id2, "https://example.com/books/2/v2");

    let mut got = Vec::new();
    let mut retries = Vec::new();
    while got.len() < 2 {
        match events.next_item().await {
            Some(Item::Event(e)) => got.push(e),
            Some(Item::Retry(d)) => retries.push(d),
            Some(_) => {}
            None => panic!("stream ended; got {got:?}"),
        }
    }
    assert_eq!(data(&got), [body, "line 1\nline 2"], "{got:?}");
    assert_eq!(got[0].last_event_id, id);
    assert_eq!(got[0].event_type, "message");
    assert_eq!(got[1].last_event_id, id2);
    assert_eq!(got[1].event_type, "update");
    assert_eq!(retries, [Duration::from_millis(2500)]);
}

#[tokio::test]
async fn private_updates_reach_only_authorized_subscribers() {
    let server = serve(mercure(config())).await;
    let mut conn = H2::connect(server.addr).await;
    let header_jwt = jwt(json!({"mercure": {"subscribe": [BOOKS]}}));
    let cookie_jwt = jwt(json!({"mercure": {"subscribe": [BOOK1]}}));
    let query_jwt = jwt(json!({"mercure": {"subscribe": ["https://example.com/other"]}}));
    let auth = format!("Bearer {header_jwt}");
    let cookie = format!("theme=dark; mercureAuthorization={cookie_jwt}");
    let (p1, mut by_header) = conn
        .get(&sub_path(&[BOOKS], &[]), &[("authorization", &auth)])
        .await;
    let (p2, mut by_cookie) = conn
        .get(&sub_path(&["*"], &[]), &[("cookie", &cookie)])
        .await;
    let (p3, mut by_query) = conn
        .get(&sub_path(&[BOOKS], &[("authorization", &query_jwt)]), &[])
        .await;
    let (p4, mut anonymous) = conn.get(&sub_path(&[BOOKS], &[]), &[]).await;
    for p in [&p1, &p2, &p3, &p4] {
        assert_eq!(p.status, StatusCode::OK);
    }

    publish_ok(
        server.addr,
        &[("topic", BOOK1), ("data", "secret"), ("private", "on")],
    )
    .await;
    publish_ok(server.addr, &[("topic", BOOK1), ("data", "public")]).await;

    assert_eq!(data(&by_header.events(2).await), ["secret", "public"]);
    assert_eq!(data(&by_cookie.events(2).await), ["secret", "public"]);
    // Updates arrive in publish order, so the first one these get is the public one.
    assert_eq!(data(&by_query.events(1).await), ["public"]);
    assert_eq!(data(&anonymous.events(1).await), ["public"]);
}

#[tokio::test]
async fn an_update_several_selectors_match_arrives_once() {
    let server = serve(mercure(config())).await;
    let mut conn = H2::connect(server.addr).await;
    let (_, mut events) = conn
        .get(
            &sub_path(&["*", BOOKS, BOOK1, "https://example.com/alt"], &[]),
            &[],
        )
        .await;
    publish_ok(
        server.addr,
        &[
            ("topic", BOOK1),
            ("topic", "https://example.com/alt"),
            ("data", "first"),
        ],
    )
    .await;
    publish_ok(server.addr, &[("topic", BOOK1), ("data", "second")]).await;
    assert_eq!(data(&events.events(2).await), ["first", "second"]);
}

#[tokio::test]
async fn resume_with_last_event_id_header_query_and_earliest() {
    let server = serve(mercure(config())).await;
    let a = publish_ok(server.addr, &[("topic", BOOK1), ("data", "a")]).await;
    let b = publish_ok(
        server.addr,
        &[("topic", BOOK1), ("data", "b"), ("id", "urn:example:b")],
    )
    .await;
    publish_ok(server.addr, &[("topic", BOOK1), ("data", "c")]).await;
    let mut conn = H2::connect(server.addr).await;

    let (head, mut by_header) = conn
        .get(&sub_path(&[BOOKS], &[]), &[("last-event-id", &a)])
        .await;
    // Draft 08: the response says where the replay starts.
    assert_eq!(head.headers["last-event-id"], a.as_str());
    assert_eq!(data(&by_header.events(2).await), ["b", "c"]);

    let (_, mut by_query) = conn
        .get(&sub_path(&[BOOKS], &[("lastEventID", &b)]), &[])
        .await;
    assert_eq!(data(&by_query.events(1).await), ["c"]);

    // The header wins over the query parameter.
    let (_, mut both) = conn
        .get(
            &sub_path(&[BOOKS], &[("lastEventID", &a)]),
            &[("last-event-id", &b)],
        )
        .await;
    assert_eq!(data(&both.events(1).await), ["c"]);

    let (head, mut unknown) = conn
        .get(
            &sub_path(&[BOOKS], &[("lastEventID", "urn:uuid:unknown")]),
            &[],
        )
        .await;
    assert_eq!(
        head.headers["last-event-id"], "earliest",
        "loss is signalled"
    );
    let (head, _) = conn.get(&sub_path(&[BOOKS], &[]), &[]).await;
    assert!(
        head.headers.get("last-event-id").is_none(),
        "{:?}",
        head.headers
    );
    let (head, mut earliest) = conn
        .get(&sub_path(&[BOOKS], &[("lastEventID", "earliest")]), &[])
        .await;
    assert_eq!(head.headers["last-event-id"], "earliest");
    assert_eq!(data(&earliest.events(3).await), ["a", "b", "c"]);

    // Everyone then gets live updates after their replay.
    publish_ok(server.addr, &[("topic", BOOK1), ("data", "d")]).await;
    for r in [
        &mut by_header,
        &mut by_query,
        &mut both,
        &mut earliest,
        &mut unknown,
    ] {
        assert_eq!(data(&r.events(1).await), ["d"]);
    }
}

#[tokio::test]
async fn publishing_needs_a_valid_jwt_with_a_matching_publish_claim() {
    let server = serve(mercure(config())).await;
    let fields = [("topic", BOOK1), ("data", "x")];

    let (status, headers, body) = post(server.addr, None, &fields).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let challenge = headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer") && !challenge.contains("error"),
        "{challenge}"
    );
    let (status, headers, body) = post(server.addr, Some("not.a.jwt"), &fields).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\""),
        "{headers:?}"
    );
    let other_key = encode(
        &Header::new(Algorithm::HS256),
        &json!({"mercure": {"publish": ["*"]}}),
        &EncodingKey::from_secret(b"another key"),
    )
    .unwrap();
    let (status, _, body) = post(server.addr, Some(&other_key), &fields).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    let no_claim = jwt(json!({"mercure": {"subscribe": ["*"]}}));
    let (status, headers, body) = post(server.addr, Some(&no_claim), &fields).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope"),
        "{headers:?}"
    );
    // Only the hub publishes in its own namespace, even for a `*` publisher.
    let forged = [
        ("topic", "/.well-known/mercure/subscriptions/x/y"),
        ("data", "{}"),
        ("private", "on"),
    ];
    let (status, _, body) = post(server.addr, Some(&publisher()), &forged).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let books_only = jwt(json!({"mercure": {"publish": [BOOKS]}}));
    let (status, _, body) = post(server.addr, Some(&books_only), &fields).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let private = [("topic", BOOK1), ("data", "x"), ("private", "")];
    let (status, _, body) = post(server.addr, Some(&books_only), &private).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let users = [("topic", "https://example.com/users/1"), ("data", "x")];
    let (status, _, body) = post(server.addr, Some(&books_only), &users).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let mixed = [
        ("topic", BOOK1),
        ("topic", "https://example.com/users/1"),
        ("data", "x"),
    ];
    let (status, _, body) = post(server.addr, Some(&books_only), &mixed).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let (status, _, body) = post(server.addr, Some(&publisher()), &[("data", "x")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let bad_id = [("topic", BOOK1), ("data", "x"), ("id", "#1")];
    let (status, _, body) = post(server.addr, Some(&publisher()), &bad_id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn subscribers_need_a_jwt_unless_anonymous_is_allowed() {
    let server = serve(mercure(MercureConfig {
        anonymous: false,
        ..config()
    }))
    .await;
    let path = sub_path(&[BOOKS], &[]);
    let (status, _, body) = h1_fetch(server.addr, "GET", &path, &[], "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _, body) = h1_fetch(
        server.addr,
        "GET",
        &path,
        &[("authorization", "Bearer nope")],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _, body) = h1_fetch(server.addr, "GET", HUB, &[], "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    let token = jwt(json!({"mercure": {"subscribe": []}}));
    let auth = format!("Bearer {token}");
    let (parts, mut events) = h1_get(server.addr, &path, &[("authorization", &auth)]).await;
    assert_eq!(parts.status, StatusCode::OK);
    let (status, _, body) =
        h1_fetch(server.addr, "GET", HUB, &[("authorization", &auth)], "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no topic: {body}");
    publish_ok(server.addr, &[("topic", BOOK1), ("data", "hi")]).await;
    assert_eq!(data(&events.events(1).await), ["hi"]);
}

#[tokio::test]
async fn rs256_publisher_keys() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mercure");
    let public = std::fs::read(format!("{dir}/rs256-public.pem")).unwrap();
    let private = std::fs::read(format!("{dir}/rs256-private.pem")).unwrap();
    let server = serve(mercure(MercureConfig {
        publisher_key: Some(JwtKey::from_config("RS256", &public).unwrap()),
        ..config()
    }))
    .await;
    let token = encode(
        &Header::new(Algorithm::RS256),
        &json!({"mercure": {"publish": ["*"]}}),
        &EncodingKey::from_rsa_pem(&private).unwrap(),
    )
    .unwrap();
    let fields = [("topic", BOOK1), ("data", "x")];
    let (status, _, body) = post(server.addr, Some(&token), &fields).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // An HS256 token is not accepted by an RS256 hub.
    let (status, _, body) = post(server.addr, Some(&publisher()), &fields).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

/// The next subscription event for [`BOOKS`] with `active`, skipping others (bounded).
async fn find_subscription_event(watcher: &mut EventReader, active: bool) -> (ParsedEvent, Value) {
    let mut seen = Vec::new();
    for _ in 0..10 {
        let e = watcher.events(1).await.remove(0);
        let v: Value = serde_json::from_str(&e.data).unwrap();
        if v["topic"] == BOOKS && v["active"] == active {
            return (e, v);
        }
        seen.push(v);
    }
    panic!("no subscription event active={active} for {BOOKS}; saw {seen:?}");
}

#[tokio::test]
async fn subscription_events_announce_start_and_end() {
    let server = serve(mercure(MercureConfig {
        subscriptions: true,
        ..config()
    }))
    .await;
    let mut conn = H2::connect(server.addr).await;
    let subs = "/.well-known/mercure/subscriptions{/topic}{/subscriber}";
    let watcher_jwt = format!("Bearer {}", jwt(json!({"mercure": {"subscribe": [subs]}})));
    let (_, mut watcher) = conn
        .get(&sub_path(&[subs], &[]), &[("authorization", &watcher_jwt)])
        .await;
    // The watcher may first see its own subscription.
    let user_jwt = format!(
        "Bearer {}",
        jwt(json!({"mercure": {"subscribe": [], "payload": {"user": "kevin"}}}))
    );
    let (parts, user) = conn
        .get(&sub_path(&[BOOKS], &[]), &[("authorization", &user_jwt)])
        .await;
    assert_eq!(parts.status, StatusCode::OK);

    let (event, v) = find_subscription_event(&mut watcher, true).await;
    assert_eq!(v["type"], "Subscription");
    assert_eq!(v["payload"], json!({"user": "kevin"}));
    let subscriber = v["subscriber"].as_str().unwrap().to_owned();
    assert!(subscriber.starts_with("urn:uuid:"), "{v}");
    assert!(
        v["id"]
            .as_str()
            .unwrap()
            .starts_with("/.well-known/mercure/subscriptions/"),
        "{v}"
    );
    assert!(!event.last_event_id.is_empty());

    drop(user);
    let (_, v) = find_subscription_event(&mut watcher, false).await;
    assert_eq!(v["subscriber"], subscriber.as_str());
}

#[tokio::test]
async fn subscription_events_are_private() {
    let server = serve(mercure(MercureConfig {
        subscriptions: true,
        ..config()
    }))
    .await;
    let mut conn = H2::connect(server.addr).await;
    // An anonymous subscriber to everything sees no subscription events, only public updates.
    let (_, mut anonymous) = conn.get(&sub_path(&["*"], &[]), &[]).await;
    let (_, _other) = conn.get(&sub_path(&[BOOKS], &[]), &[]).await;
    publish_ok(server.addr, &[("topic", BOOK1), ("data", "public")]).await;
    assert_eq!(data(&anonymous.events(1).await), ["public"]);
}

#[tokio::test]
async fn cors_lets_listed_origins_in_with_credentials() {
    let server = serve(mercure(MercureConfig {
        cors_origins: vec!["https://app.example".into()],
        ..config()
    }))
    .await;
    let (status, headers, _) = h1_fetch(
        server.addr,
        "OPTIONS",
        HUB,
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "last-event-id"),
        ],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert!(
        headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("last-event-id"),
        "{headers:?}"
    );
    let (status, headers, _) = h1_fetch(
        server.addr,
        "POST",
        HUB,
        &[
            ("origin", "https://evil.example"),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        "topic=a&data=b",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        headers.get("access-control-allow-origin").is_none(),
        "{headers:?}"
    );
}

/// Draft 08's exchange: an exact `match` matcher, the token in `authorization_details` and the
/// `access_token` query parameter.
#[tokio::test]
async fn draft_08_match_parameter_and_authorization_details() {
    let server = serve(mercure(MercureConfig {
        anonymous: false,
        ..config()
    }))
    .await;
    let details = |actions: &[&str], topic: &str| {
        jwt(json!({"authorization_details": [
            {"type": "mercure", "actions": actions, "topics": [{"match": topic, "matchType": "Exact"}]}
        ]}))
    };
    let sub_token = details(&["subscribe"], BOOK1);
    let mut conn = H2::connect(server.addr).await;
    let (parts, mut events) = conn
        .get(
            &format!(
                "{HUB}?{}",
                serde_urlencoded::to_string([("match", BOOK1), ("access_token", &sub_token)])
                    .unwrap()
            ),
            &[],
        )
        .await;
    assert_eq!(parts.status, StatusCode::OK);
    // An exact matcher is not a template: this subscriber does not see books/2.
    let pub_token = details(&["publish"], "*");
    for (topic, d) in [("https://example.com/books/2", "two"), (BOOK1, "one")] {
        let (status, _, body) = post(
            server.addr,
            Some(&pub_token),
            &[("topic", topic), ("data", d), ("private", "")],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(data(&events.events(1).await), ["one"]);

    // The publish action is needed to publish.
    let (status, _, body) = post(
        server.addr,
        Some(&sub_token),
        &[("topic", BOOK1), ("data", "x")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Matchers this hub cannot evaluate are refused, not ignored.
    let (status, _, body) = h1_fetch(
        server.addr,
        "GET",
        &format!("{HUB}?matchURLPattern=https://example.com/books/:id&access_token={sub_token}"),
        &[],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _, body) = h1_fetch(
        server.addr,
        "GET",
        &format!("{HUB}?matchFoo=x&access_token={sub_token}"),
        &[],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn a_stream_ends_when_the_subscribers_jwt_expires() {
    let server = serve(mercure(config())).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = format!(
        "Bearer {}",
        jwt(json!({"exp": now + 2, "mercure": {"subscribe": ["*"]}}))
    );
    let started = std::time::Instant::now();
    let (parts, mut events) = h1_get(
        server.addr,
        &sub_path(&[BOOKS], &[]),
        &[("authorization", &token)],
    )
    .await;
    assert_eq!(parts.status, StatusCode::OK);
    let rest = events.rest().await;
    let waited = started.elapsed();
    assert!(
        rest.iter().any(|i| matches!(i, Item::Retry(_))),
        "the stream should end with retry: {rest:?}"
    );
    // exp has a resolution of one second; allow for it and for a loaded machine.
    assert!(waited < Duration::from_secs(8), "ended after {waited:?}");
}
