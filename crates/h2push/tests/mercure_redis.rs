//! The Mercure hub on the Redis backend, against a real `redis-server` (started here on a
//! free loopback port, killed by PID when the test ends): two h2push instances share updates,
//! and a subscriber that reconnects to the other instance resumes with the Mercure id it
//! last saw.
//!
//! Without `redis-server` on PATH the test skips with a message, unless
//! `H2PUSH_REQUIRE_EXTERNAL` is set (then it fails); `scripts/install-test-deps` installs it.

mod sse_http_support;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use h2push::sse::hub::{Hub, HubConfig, RedisOptions};
use h2push::sse::mercure::{JwtKey, MercureConfig, MercureService};
use h2push::sse::Item;
use http::StatusCode;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use sse_http_support::*;

const KEY: &str = "redis-mercure-key";
const SUB: &str = "/.well-known/mercure?topic=https%3A%2F%2Fexample.com%2Fbooks%2F%7Bid%7D";

struct RedisServer {
    child: Child,
    port: u16,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_redis() -> Option<RedisServer> {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spawned = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match spawned {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::env::var_os("H2PUSH_REQUIRE_EXTERNAL").is_some() {
                panic!("redis-server is not installed and H2PUSH_REQUIRE_EXTERNAL is set");
            }
            eprintln!("SKIPPED: redis-server is not installed (run scripts/install-test-deps)");
            return None;
        }
        Err(e) => panic!("cannot start redis-server: {e}"),
    };
    let server = RedisServer { child, port };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "redis-server did not start on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(server)
}

fn instance(url: &str) -> MercureService {
    let hub = Hub::redis(
        url,
        HubConfig::default(),
        RedisOptions {
            key_prefix: "test:mercure".into(),
            ..RedisOptions::default()
        },
    )
    .unwrap();
    MercureService::new(
        hub,
        MercureConfig {
            publisher_key: Some(JwtKey::hs256(KEY)),
            anonymous: true,
            ..MercureConfig::default()
        },
    )
}

async fn publish(addr: std::net::SocketAddr, data: &str) -> String {
    let token = encode(
        &Header::new(Algorithm::HS256),
        &serde_json::json!({"mercure": {"publish": ["*"]}}),
        &EncodingKey::from_secret(KEY.as_bytes()),
    )
    .unwrap();
    let form =
        serde_urlencoded::to_string([("topic", "https://example.com/books/1"), ("data", data)])
            .unwrap();
    let auth = format!("Bearer {token}");
    let (status, _, body) = h1_fetch(
        addr,
        "POST",
        "/.well-known/mercure",
        &[
            ("authorization", &auth),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        &form,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The first live subscription on `conn` (while the hub is still connecting to Redis it
/// answers with only a `retry:`); bounded.
async fn subscribe(conn: &mut H2, headers: &[(&str, &str)]) -> EventReader {
    for _ in 0..50 {
        let (parts, mut reader) = conn.get(SUB, headers).await;
        assert_eq!(parts.status, StatusCode::OK);
        // A live stream starts with the `: ok` comment; a deferred one with `retry:`.
        if reader.next_item().await == Some(Item::Comment("ok".into())) {
            return reader;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the Redis hub never accepted a subscription");
}

#[tokio::test]
async fn two_instances_share_updates_and_resume_across() {
    let Some(redis) = start_redis() else { return };
    let url = format!("redis://127.0.0.1:{}/", redis.port);
    let a = serve(instance(&url)).await;
    let b = serve(instance(&url)).await;
    let mut on_b = H2::connect(b.addr).await;
    let mut live = subscribe(&mut on_b, &[]).await;

    // The subscription is registered before its head is sent, but the Redis reader picks it
    // up asynchronously: publish until the first update arrives (bounded).
    let mut first = None;
    for i in 0..20 {
        publish(a.addr, &format!("warm-up {i}")).await;
        if !live.quiet_for(Duration::from_millis(200)).await {
            first = Some(i);
            break;
        }
    }
    assert!(first.is_some(), "no update from A reached B's subscriber");
    // Drain the warm-up updates it may still have queued.
    while !live.quiet_for(Duration::from_millis(300)).await {}

    let id_one = publish(a.addr, "one").await;
    publish(a.addr, "two").await;
    let got = live.events(2).await;
    assert_eq!(
        got.iter().map(|e| e.data.as_str()).collect::<Vec<_>>(),
        ["one", "two"]
    );
    assert_eq!(got[0].last_event_id, id_one);

    // Reconnect to B with the id A gave: only what came after. B learns A's ids from its
    // Redis reader, asynchronously; until it has, the response says `earliest`.
    let mut again = H2::connect(b.addr).await;
    let mut answers = Vec::new();
    for _ in 0..100 {
        let (parts, mut resumed) = again.get(SUB, &[("last-event-id", &id_one)]).await;
        assert_eq!(parts.status, StatusCode::OK);
        let answer = parts
            .headers
            .get("last-event-id")
            .map(|v| v.to_str().unwrap().to_owned());
        if answer.as_deref() == Some(id_one.as_str()) {
            assert_eq!(resumed.events(1).await[0].data, "two");
            drop(redis);
            return;
        }
        answers.push(answer);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("B never resumed after {id_one}; Last-Event-ID answers: {answers:?}");
}
