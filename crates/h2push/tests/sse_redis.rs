//! The Redis Streams backend against a real `redis-server` (started here on a free loopback
//! port, stopped when the test ends, also on panic): two h2push instances share topics and
//! history; Redis stopped and restarted under a live subscriber.
//!
//! Without `redis-server` on PATH the tests skip with a message, unless
//! `H2PUSH_REQUIRE_EXTERNAL` is set (then they fail); `scripts/install-test-deps` installs it.

mod sse_http_support;

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use h2push::sse::http::HubService;
use h2push::sse::hub::{Hub, HubConfig, RedisOptions};
use h2push::sse::{Event, Item};
use http::StatusCode;
use sse_http_support::*;

const TOKEN: &str = "t0ken";

/// A `redis-server` child process, killed (by PID) when dropped.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts one on a free port, or `None` (skip) when `redis-server` is not installed.
    fn start() -> Option<RedisServer> {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        RedisServer::start_on(port)
    }

    fn start_on(port: u16) -> Option<RedisServer> {
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
                    panic!("redis-server is not installed and H2PUSH_REQUIRE_EXTERNAL is set; run scripts/install-test-deps");
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
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn options() -> RedisOptions {
    RedisOptions {
        block: Duration::from_millis(500),
        connect_timeout: Duration::from_millis(500),
        command_timeout: Duration::from_secs(1),
        ..RedisOptions::default()
    }
}

/// An h2push instance: a Redis hub behind the HTTP endpoints.
async fn instance(redis: &RedisServer, config: HubConfig) -> (Hub, TestServer) {
    let hub = Hub::redis(&redis.url(), config, options()).unwrap();
    wait_available(&hub).await;
    let svc = HubService::new(hub.clone())
        .publish_token(TOKEN)
        .heartbeat(Duration::from_millis(200));
    (hub, serve(svc).await)
}

async fn wait_available(hub: &Hub) {
    within("the hub to reach Redis", async {
        while !hub.is_available() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

async fn wait_subscribers(hub: &Hub, n: usize) {
    within("subscribers to register", async {
        while hub.stats().subscribers != n {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn two_instances_share_topics_and_history() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (hub_a, a) = instance(&redis, HubConfig::default()).await;
    let (hub_b, b) = instance(&redis, HubConfig::default()).await;

    // Subscribed on B (HTTP/2), published on A (HTTP/1.1).
    let mut conn_b = H2::connect(b.addr).await;
    let (_, mut on_b) = conn_b.get("/events?topic=news&topic=sport", &[]).await;
    wait_subscribers(&hub_b, 1).await;
    let id1 = publish(a.addr, TOKEN, "news", "one").await;
    let got = on_b.events(1).await;
    assert_eq!(
        (got[0].data.as_str(), got[0].last_event_id.as_str()),
        ("one", id1.as_str())
    );

    // The id is the Redis stream entry id, behind the generation.
    let (generation, entry) = id1.split_once('_').unwrap();
    assert!(!generation.is_empty());
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let range: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg("{h2push:sse}:s:news")
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    let entry = if entry.contains('-') {
        entry.to_owned()
    } else {
        format!("{entry}-0")
    };
    assert_eq!(range.ids.len(), 1);
    assert_eq!(range.ids[0].id, entry);

    // B's client goes away; events are published on both instances meanwhile.
    drop(on_b);
    wait_subscribers(&hub_b, 0).await;
    hub_a.publish("sport", Event::data("two")).await.unwrap();
    hub_b.publish("news", Event::data("three")).await.unwrap();
    hub_a
        .publish("weather", Event::data("not followed"))
        .await
        .unwrap();
    hub_a
        .publish("news", Event::data("four").event("update").unwrap())
        .await
        .unwrap();

    // It comes back to B, and (another tab) to A: both replay exactly what it missed.
    let mut readers = Vec::new();
    for (addr, name) in [(b.addr, "B"), (a.addr, "A")] {
        let mut conn = H2::connect(addr).await;
        let (_, mut r) = conn
            .get("/events?topic=news&topic=sport", &[("last-event-id", &id1)])
            .await;
        let got = r.events(3).await;
        assert_eq!(data(&got), ["two", "three", "four"], "replay on {name}");
        assert_eq!(got[2].event_type, "update");
        let ids: Vec<h2push::sse::hub::EventId> = got
            .iter()
            .map(|e| e.last_event_id.parse().unwrap())
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        readers.push((conn, r));
    }
    // Then live, whichever instance publishes, and nothing twice.
    hub_b.publish("sport", Event::data("live")).await.unwrap();
    for (_, r) in &mut readers {
        assert_eq!(data(&r.events(1).await), ["live"]);
        assert!(
            r.quiet_for(Duration::from_millis(200)).await,
            "nothing twice"
        );
    }
}

#[tokio::test]
async fn concurrent_publishers_on_two_instances_deliver_in_one_order() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (hub_a, _a) = instance(&redis, HubConfig::default()).await;
    let (hub_b, b) = instance(&redis, HubConfig::default()).await;
    let mut conn = H2::connect(b.addr).await;
    let (_, mut r) = conn.get("/events?topic=x&topic=y", &[]).await;
    let (_, mut r1) = h1_get(b.addr, "/events?topic=x&topic=y", &[]).await;
    wait_subscribers(&hub_b, 2).await;
    let mut tasks = Vec::new();
    for (hub, topic) in [
        (hub_a.clone(), "x"),
        (hub_b.clone(), "y"),
        (hub_a.clone(), "y"),
    ] {
        tasks.push(tokio::spawn(async move {
            for i in 0..200 {
                hub.publish(topic, Event::data(format!("{topic}{i}")))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        within("publishers", t).await.unwrap();
    }
    for reader in [&mut r, &mut r1] {
        let got = reader.events(600).await;
        let ids: Vec<h2push::sse::hub::EventId> = got
            .iter()
            .map(|e| e.last_event_id.parse().unwrap())
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase");
        assert!(got.iter().all(|e| e.event_type == "message"));
    }
}

#[tokio::test]
async fn replay_gaps_when_redis_history_is_trimmed() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let config = HubConfig {
        history_len: 3,
        ..HubConfig::default()
    };
    let (hub, server) = instance(&redis, config).await;
    let first = hub.publish("t", Event::data("0")).await.unwrap();
    for i in 1..6 {
        hub.publish("t", Event::data(i.to_string())).await.unwrap();
    }
    let (_, mut r) = h1_get(
        server.addr,
        "/events?topic=t",
        &[("last-event-id", &first.to_string())],
    )
    .await;
    let got = r.events(4).await;
    assert_eq!(got[0].event_type, "gap");
    let gap: serde_json::Value = serde_json::from_str(&got[0].data).unwrap();
    assert_eq!(
        gap,
        serde_json::json!({"reason": "history", "topics": ["t"]})
    );
    assert_eq!(data(&got[1..]), ["3", "4", "5"]);

    // An id from another generation (or no h2push id at all): epoch gap, then the history.
    let (_, mut r) = h1_get(
        server.addr,
        "/events?topic=t",
        &[("last-event-id", "zzz_1-0")],
    )
    .await;
    let got = r.events(4).await;
    assert!(got[0].data.contains("\"epoch\""), "{got:?}");
    assert_eq!(data(&got[1..]), ["3", "4", "5"]);
}

#[tokio::test]
async fn redis_restarted_mid_stream() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let port = redis.port;
    let (hub, server) = instance(&redis, HubConfig::default()).await;
    let mut conn = H2::connect(server.addr).await;
    let (_, mut r) = conn.get("/events?topic=t", &[]).await;
    wait_subscribers(&hub, 1).await;
    publish(server.addr, TOKEN, "t", "before").await;
    assert_eq!(data(&r.events(1).await), ["before"]);

    redis.stop();
    // Publishing fails at once with 503 and says why; nothing panics.
    let form = serde_urlencoded::to_string([("topic", "t"), ("data", "lost")]).unwrap();
    let auth = format!("Bearer {TOKEN}");
    let start = Instant::now();
    let (status, head, body) = h1_fetch(
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
    assert!(
        body.contains("Redis") && body.contains("not published"),
        "{body}"
    );
    assert!(head.contains_key("retry-after"));
    assert!(start.elapsed() < Duration::from_secs(3));
    // The subscriber keeps its stream: heartbeats go on.
    let mut beats = 0;
    while beats < 2 {
        match r.next_item().await {
            Some(Item::Comment(_)) => beats += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    // A new subscriber is asked to come back (200 with retry, which an EventSource obeys).
    within("the hub to notice", async {
        while hub.is_available() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let (status, _, body) = h1_fetch(server.addr, "GET", "/events?topic=t", &[], "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("retry: ") && body.contains("unavailable"),
        "{body}"
    );

    // Redis comes back empty (no persistence): a new generation.
    let _redis = RedisServer::start_on(port).unwrap();
    wait_available(&hub).await;
    let id = within("publishing to work again", async {
        loop {
            match hub.publish("t", Event::data("after")).await {
                Ok(id) => break id,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await;
    let got = r.events(2).await;
    assert_eq!(got[0].event_type, "gap", "{got:?}");
    let gap: serde_json::Value = serde_json::from_str(&got[0].data).unwrap();
    assert_eq!(gap["reason"], "backend");
    // The gap moves the client into the new generation.
    assert_eq!(got[0].last_event_id, format!("{}_0", id.epoch()));
    assert_eq!(got[1].data, "after");
    assert_eq!(got[1].last_event_id, id.to_string());
}

#[tokio::test]
async fn publishing_without_redis_fails_cleanly() {
    // A port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hub = Hub::redis(
        &format!("redis://127.0.0.1:{port}/"),
        HubConfig::default(),
        options(),
    )
    .unwrap();
    let err = hub.publish("t", Event::data("x")).await.unwrap_err();
    assert!(err.to_string().contains("unavailable"), "{err}");
    assert!(hub.subscribe(["t"], None).await.is_err());
    assert!(Hub::redis("not a url", HubConfig::default(), options()).is_err());
    let _: SocketAddr = "127.0.0.1:1".parse().unwrap();
}
