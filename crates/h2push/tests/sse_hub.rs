//! The event hub through its public API (memory backend): ids, replay after Last-Event-ID,
//! gaps, slow-consumer policies, encode-once, idempotency, limits and shutdown.

use std::time::{Duration, Instant};

use bytes::Bytes;
use h2push::sse::hub::{EventId, Hub, HubConfig, HubError, Overflow, Subscription, TopicFilter};
use h2push::sse::{Event, Item, ParsedEvent, Parser};

const WAIT: Duration = Duration::from_secs(5);

/// The next chunk, bounded in time.
async fn chunk(sub: &mut Subscription) -> Option<Bytes> {
    tokio::time::timeout(WAIT, sub.next_chunk())
        .await
        .expect("a chunk within 5 s")
}

/// Reads chunks until `n` events (gaps included) have been parsed.
async fn events(sub: &mut Subscription, n: usize) -> Vec<ParsedEvent> {
    let mut parser = Parser::new();
    let mut out = Vec::new();
    while out.len() < n {
        let c = chunk(sub).await.expect("stream still open");
        out.extend(parser.feed(&c));
    }
    assert_eq!(out.len(), n, "more events than expected: {out:?}");
    out
}

/// Whether a chunk is ready right now.
async fn nothing_pending(sub: &mut Subscription) -> bool {
    tokio::time::timeout(Duration::from_millis(50), sub.next_chunk())
        .await
        .is_err()
}

fn data(events: &[ParsedEvent]) -> Vec<&str> {
    events.iter().map(|e| e.data.as_str()).collect()
}

fn gap_json(e: &ParsedEvent) -> serde_json::Value {
    assert_eq!(e.event_type, "gap", "{e:?}");
    serde_json::from_str(&e.data).unwrap()
}

async fn publish_n(hub: &Hub, topic: &str, range: std::ops::Range<usize>) -> Vec<EventId> {
    let mut ids = Vec::new();
    for i in range {
        ids.push(
            hub.publish(topic, Event::data(format!("{topic}{i}")))
                .await
                .unwrap(),
        );
    }
    ids
}

#[tokio::test]
async fn ids_are_ordered_across_topics_and_short() {
    let hub = Hub::memory(HubConfig::default());
    let mut last: Option<EventId> = None;
    for i in 0..50 {
        let topic = if i % 3 == 0 { "a" } else { "b" };
        let id = hub.publish(topic, Event::data("x")).await.unwrap();
        let text = id.to_string();
        assert!(text.len() <= 36, "{text}");
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        assert_eq!(text.parse::<EventId>().unwrap(), id);
        if let Some(prev) = last {
            assert!(prev < id, "{prev} < {id}");
        }
        last = Some(id);
    }
    // Another hub (another process, a restart) has another epoch.
    let other = Hub::memory(HubConfig::default());
    let id = other.publish("a", Event::data("x")).await.unwrap();
    assert_eq!(id.partial_cmp(&last.unwrap()), None);
}

#[tokio::test]
async fn live_events_arrive_with_their_ids() {
    let hub = Hub::memory(HubConfig::default());
    let mut sub = hub.subscribe(["news"], None).await.unwrap();
    let id = hub
        .publish(
            "news",
            Event::data("line 1\nline 2").event("update").unwrap(),
        )
        .await
        .unwrap();
    let got = events(&mut sub, 1).await;
    assert_eq!(got[0].event_type, "update");
    assert_eq!(got[0].data, "line 1\nline 2");
    assert_eq!(got[0].last_event_id, id.to_string());
    // Other topics do not reach it.
    hub.publish("sports", Event::data("no")).await.unwrap();
    assert!(nothing_pending(&mut sub).await);
}

#[tokio::test]
async fn replay_after_last_event_id_is_exact() {
    let hub = Hub::memory(HubConfig::default());
    let ids = publish_n(&hub, "t", 0..6).await;
    let mut sub = hub
        .subscribe(["t"], Some(&ids[2].to_string()))
        .await
        .unwrap();
    let replayed = events(&mut sub, 3).await;
    assert_eq!(data(&replayed), ["t3", "t4", "t5"]);
    assert_eq!(replayed[2].last_event_id, ids[5].to_string());
    assert!(nothing_pending(&mut sub).await);
    // Then live, without a duplicate.
    hub.publish("t", Event::data("t6")).await.unwrap();
    assert_eq!(data(&events(&mut sub, 1).await), ["t6"]);

    // Resuming from the newest id replays nothing.
    let mut sub = hub
        .subscribe(["t"], Some(&ids[5].to_string()))
        .await
        .unwrap();
    hub.publish("t", Event::data("t7")).await.unwrap();
    assert_eq!(data(&events(&mut sub, 2).await), ["t6", "t7"]);
}

#[tokio::test]
async fn one_id_resumes_several_topics_in_order() {
    let hub = Hub::memory(HubConfig::default());
    let a1 = hub.publish("a", Event::data("a1")).await.unwrap();
    for (t, d) in [("b", "b1"), ("c", "c1"), ("a", "a2"), ("b", "b2")] {
        hub.publish(t, Event::data(d)).await.unwrap();
    }
    let mut sub = hub
        .subscribe(["a", "b"], Some(&a1.to_string()))
        .await
        .unwrap();
    assert_eq!(data(&events(&mut sub, 3).await), ["b1", "a2", "b2"]);
}

#[tokio::test]
async fn gap_when_history_is_too_short() {
    let hub = Hub::memory(HubConfig {
        history_len: 3,
        ..HubConfig::default()
    });
    let ids = publish_n(&hub, "t", 0..10).await;
    publish_n(&hub, "u", 0..2).await;
    let mut sub = hub
        .subscribe(["t", "u"], Some(&ids[1].to_string()))
        .await
        .unwrap();
    let got = events(&mut sub, 6).await;
    let gap = gap_json(&got[0]);
    assert_eq!(gap["reason"], "history");
    assert_eq!(gap["topics"], serde_json::json!(["t"]));
    // The gap carries no id: the client's last event id stays where it was.
    assert_eq!(got[0].last_event_id, "");
    assert_eq!(data(&got[1..]), ["t7", "t8", "t9", "u0", "u1"]);

    // A cursor within the history: no gap.
    let mut sub = hub
        .subscribe(["t"], Some(&ids[6].to_string()))
        .await
        .unwrap();
    assert_eq!(data(&events(&mut sub, 3).await), ["t7", "t8", "t9"]);
}

#[tokio::test]
async fn gap_when_history_is_too_old() {
    let hub = Hub::memory(HubConfig {
        history_age: Some(Duration::from_millis(100)),
        ..HubConfig::default()
    });
    let ids = publish_n(&hub, "t", 0..3).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let fresh = publish_n(&hub, "t", 3..4).await;
    let mut sub = hub
        .subscribe(["t"], Some(&ids[0].to_string()))
        .await
        .unwrap();
    let got = events(&mut sub, 2).await;
    assert_eq!(gap_json(&got[0])["reason"], "history");
    assert_eq!(got[1].data, "t3");
    assert_eq!(got[1].last_event_id, fresh[0].to_string());
}

#[tokio::test]
async fn foreign_or_garbage_ids_get_an_epoch_gap_then_the_history() {
    let hub = Hub::memory(HubConfig::default());
    let ids = publish_n(&hub, "t", 0..2).await;
    let old_hub = Hub::memory(HubConfig::default());
    let foreign = old_hub.publish("t", Event::data("gone")).await.unwrap();
    for last in [foreign.to_string(), "not-an-id".to_string()] {
        let mut sub = hub.subscribe(["t"], Some(&last)).await.unwrap();
        let got = events(&mut sub, 3).await;
        let gap = gap_json(&got[0]);
        assert_eq!(gap["reason"], "epoch");
        assert_eq!(gap["topics"], serde_json::json!(["t"]));
        // The gap moves the client into this hub's epoch, at its start.
        assert_eq!(got[0].last_event_id, format!("{}_0", ids[0].epoch()));
        assert_eq!(data(&got[1..]), ["t0", "t1"]);
    }
}

#[tokio::test]
async fn drop_oldest_sends_a_gap_and_keeps_the_newest() {
    let hub = Hub::memory(HubConfig {
        queue_len: 4,
        ..HubConfig::default()
    });
    let mut slow = hub.subscribe(["t"], None).await.unwrap();
    let mut fast = hub.subscribe(["t"], None).await.unwrap();
    let mut fast_seen = Vec::new();
    for i in 0..10 {
        hub.publish("t", Event::data(format!("{i}"))).await.unwrap();
        fast_seen.extend(events(&mut fast, 1).await.into_iter().map(|e| e.data));
    }
    assert_eq!(fast_seen.len(), 10);
    let got = events(&mut slow, 5).await;
    let gap = gap_json(&got[0]);
    assert_eq!(gap["reason"], "overflow");
    assert_eq!(gap["topics"], serde_json::json!(["t"]));
    assert_eq!(data(&got[1..]), ["6", "7", "8", "9"]);
    let stats = hub.stats();
    assert_eq!(stats.dropped, 6);
    // The stream goes on.
    hub.publish("t", Event::data("10")).await.unwrap();
    assert_eq!(data(&events(&mut slow, 1).await), ["10"]);
}

#[tokio::test]
async fn close_policy_ends_the_stream_with_retry_and_replay_resumes_it() {
    let hub = Hub::memory(HubConfig {
        queue_len: 4,
        overflow: Overflow::Close {
            retry: Duration::from_millis(500),
        },
        ..HubConfig::default()
    });
    let mut slow = hub.subscribe(["t"], None).await.unwrap();
    let ids = publish_n(&hub, "t", 0..10).await;
    let mut items = Vec::new();
    let mut parser = Parser::new();
    while let Some(c) = chunk(&mut slow).await {
        items.extend(parser.feed_items(&c));
    }
    assert!(parser.finish() || parser.last_event_id().is_empty());
    let retry = items.iter().find_map(|i| match i {
        Item::Retry(d) => Some(*d),
        _ => None,
    });
    let retry = retry.expect("a retry field");
    assert!(
        retry >= Duration::from_millis(375) && retry <= Duration::from_millis(625),
        "{retry:?}"
    );
    assert_eq!(hub.stats().closed, 1);
    // The client reconnects with the last id it had (none here: it read nothing) and gets
    // everything from the history.
    let mut again = hub
        .subscribe(["t"], Some(&ids[3].to_string()))
        .await
        .unwrap();
    assert_eq!(
        data(&events(&mut again, 6).await),
        ["t4", "t5", "t6", "t7", "t8", "t9"]
    );
}

#[tokio::test]
async fn each_event_is_encoded_once_and_shared() {
    let hub = Hub::memory(HubConfig::default());
    let mut subs = Vec::new();
    for _ in 0..3 {
        subs.push(hub.subscribe(["t"], None).await.unwrap());
    }
    let id = hub.publish("t", Event::data("shared")).await.unwrap();
    let mut chunks = Vec::new();
    for sub in &mut subs {
        chunks.push(chunk(sub).await.unwrap());
    }
    // A replaying subscriber gets the same bytes too.
    let mut late = hub
        .subscribe(["t"], Some(&format!("{}_0", id.epoch())))
        .await
        .unwrap();
    chunks.push(chunk(&mut late).await.unwrap());
    let ptr = chunks[0].as_ptr();
    for c in &chunks {
        assert_eq!(c, &format!("id: {id}\ndata: shared\n\n"));
        assert_eq!(c.as_ptr(), ptr, "the same buffer, not a copy");
    }
}

#[tokio::test]
async fn a_stalled_subscriber_never_slows_publishing() {
    let hub = Hub::memory(HubConfig {
        queue_len: 1000,
        ..HubConfig::default()
    });
    let _stalled = hub.subscribe(["t"], None).await.unwrap();
    let mut fast = hub.subscribe(["t"], None).await.unwrap();
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        let mut parser = Parser::new();
        while got.len() < 20_000 {
            let c = chunk(&mut fast).await.unwrap();
            got.extend(parser.feed(&c).into_iter().map(|e| e.data));
        }
        got
    });
    let start = Instant::now();
    for i in 0..20_000 {
        hub.publish("t", Event::data(i.to_string())).await.unwrap();
        if i % 100 == 0 {
            tokio::task::yield_now().await;
        }
    }
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "publishing took {took:?}");
    let got = tokio::time::timeout(WAIT, reader).await.unwrap().unwrap();
    let expected: Vec<String> = (0..20_000).map(|i| i.to_string()).collect();
    assert!(
        got == expected,
        "the fast subscriber got every event, in order, no gap"
    );
    // The stalled one kept its 1000 newest; the rest were dropped.
    assert_eq!(hub.stats().dropped, 19_000);
}

#[tokio::test]
async fn multi_topic_subscribers_see_increasing_ids_under_concurrent_publishers() {
    let hub = Hub::memory(HubConfig {
        queue_len: 100_000,
        ..HubConfig::default()
    });
    let mut sub = hub.subscribe(["a", "b", "c"], None).await.unwrap();
    let mut tasks = Vec::new();
    for topic in ["a", "b", "c"] {
        let hub = hub.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..500 {
                hub.publish(topic, Event::data(i.to_string()))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let got = events(&mut sub, 1500).await;
    let ids: Vec<EventId> = got
        .iter()
        .map(|e| e.last_event_id.parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test]
async fn idempotency_keys_publish_once() {
    let hub = Hub::memory(HubConfig::default());
    let mut sub = hub.subscribe(["orders"], None).await.unwrap();
    let a = hub
        .publish_once("orders", "k1", Event::data("paid"))
        .await
        .unwrap();
    let b = hub
        .publish_once("orders", "k1", Event::data("paid"))
        .await
        .unwrap();
    let c = hub
        .publish_once("other", "k1", Event::data("x"))
        .await
        .unwrap();
    assert!(!a.duplicate && b.duplicate && !c.duplicate);
    assert_eq!(a.id, b.id);
    assert_eq!(data(&events(&mut sub, 1).await), ["paid"]);
    assert!(nothing_pending(&mut sub).await);
    assert_eq!(hub.stats().published, 2);
}

#[tokio::test]
async fn bad_input_is_refused_with_typed_errors() {
    let hub = Hub::memory(HubConfig {
        allowed_topics: Some(TopicFilter::new(["news", "room.*"])),
        max_topics_per_subscription: 2,
        max_event_bytes: 100,
        ..HubConfig::default()
    });
    assert!(matches!(
        hub.publish("", Event::data("x")).await,
        Err(HubError::InvalidTopic { .. })
    ));
    assert!(matches!(
        hub.publish("a b", Event::data("x")).await,
        Err(HubError::InvalidTopic { .. })
    ));
    assert_eq!(
        hub.publish("sports", Event::data("x")).await,
        Err(HubError::UnknownTopic("sports".into()))
    );
    assert!(hub.publish("room.1", Event::data("x")).await.is_ok());
    assert_eq!(
        hub.publish("news", Event::data("x").id("7").unwrap()).await,
        Err(HubError::EventHasId)
    );
    assert!(matches!(
        hub.publish("news", Event::data("x".repeat(200))).await,
        Err(HubError::EventTooLarge { max: 100, .. })
    ));
    assert_eq!(
        hub.subscribe(Vec::<&str>::new(), None).await.unwrap_err(),
        HubError::NoTopics
    );
    assert_eq!(
        hub.subscribe(["news", "room.1", "room.2"], None)
            .await
            .unwrap_err(),
        HubError::TooManyTopics { max: 2 }
    );
    // Duplicates count once.
    assert!(hub
        .subscribe(["news", "news", "room.1"], None)
        .await
        .is_ok());
    assert!(matches!(
        hub.subscribe(["nope"], None).await,
        Err(HubError::UnknownTopic(_))
    ));
}

#[tokio::test]
async fn the_memory_hub_bounds_its_topics() {
    let hub = Hub::memory(HubConfig {
        max_topics: 3,
        ..HubConfig::default()
    });
    for t in ["a", "b", "c"] {
        hub.publish(t, Event::data("x")).await.unwrap();
    }
    assert_eq!(
        hub.publish("d", Event::data("x")).await,
        Err(HubError::HubFull { max: 3 })
    );
    // Known topics still work.
    hub.publish("a", Event::data("y")).await.unwrap();
}

#[tokio::test]
async fn dropping_a_subscription_unsubscribes() {
    let hub = Hub::memory(HubConfig::default());
    let a = hub.subscribe(["t", "u"], None).await.unwrap();
    let b = hub.subscribe(["t"], None).await.unwrap();
    assert_eq!(hub.stats().subscribers, 2);
    drop(a);
    assert_eq!(hub.stats().subscribers, 1);
    drop(b);
    assert_eq!(hub.stats().subscribers, 0);
    hub.publish("t", Event::data("x")).await.unwrap();
    assert_eq!(hub.stats().delivered, 0);
}

#[tokio::test]
async fn shutdown_ends_streams_after_what_is_queued() {
    let hub = Hub::memory(HubConfig {
        retry: Duration::from_secs(1),
        ..HubConfig::default()
    });
    let mut sub = hub.subscribe(["t"], None).await.unwrap();
    hub.publish("t", Event::data("last")).await.unwrap();
    hub.shutdown();
    assert_eq!(data(&events(&mut sub, 1).await), ["last"]);
    let end = chunk(&mut sub).await.unwrap();
    let items = Parser::new().feed_items(&end);
    assert!(items.iter().any(|i| matches!(i, Item::Retry(_))), "{end:?}");
    assert_eq!(chunk(&mut sub).await, None);
    assert_eq!(
        hub.publish("t", Event::data("x")).await,
        Err(HubError::Closed)
    );
    assert_eq!(
        hub.subscribe(["t"], None).await.unwrap_err(),
        HubError::Closed
    );
}
