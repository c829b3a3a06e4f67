//! `h2push serve --sse`: the event hub's flags, its `[sse]` config section, and mounting it.
//!
//! This module owns turning `--sse`, `--publish-token`, `--redis` (and the other `--sse-*`
//! flags) and the `[sse]` section of the config file into a running hub whose `/events` and
//! `/publish` endpoints sit in front of the static files. Flags win over the file. The hub,
//! its endpoints and the Redis backend are the library's (`h2push::sse`).

use std::time::Duration;

use clap::Args;
use h2push::sse::http::{mount, HubService, WithHub};
use h2push::sse::hub::{Hub, HubConfig, Overflow, RedisOptions, TopicFilter};
use serde::Deserialize;

use crate::CliError;

/// The event hub's command-line flags (flattened into `serve`).
#[derive(Args, Debug, Default, Clone)]
pub struct SseArgs {
    /// Serve the server-sent events hub: GET /events?topic=T subscribes, POST /publish
    /// publishes. Implied by --publish-token and --redis.
    #[arg(long, help_heading = "Server-sent events")]
    pub sse: bool,
    /// Accept POST /publish with `Authorization: Bearer TOKEN`. Without it publishing over
    /// HTTP is refused.
    #[arg(long, value_name = "TOKEN", help_heading = "Server-sent events")]
    pub publish_token: Option<String>,
    /// Share topics and history with other h2push instances through Redis Streams at URL
    /// (redis://[:password@]host:port[/db]) [default: in memory].
    #[arg(long, value_name = "URL", help_heading = "Server-sent events")]
    pub redis: Option<String>,
    /// Require this token to subscribe (?token=TOKEN or the h2push_sse_token cookie). May
    /// repeat.
    #[arg(
        long = "subscribe-token",
        value_name = "TOKEN",
        help_heading = "Server-sent events"
    )]
    pub subscribe_tokens: Vec<String>,
    /// Let pages from this origin subscribe across origins (CORS); `*` for any. May repeat.
    #[arg(
        long = "sse-origin",
        value_name = "ORIGIN",
        help_heading = "Server-sent events"
    )]
    pub origins: Vec<String>,
    /// Only these topics exist (`name`, or `prefix*`); others get 204/404. May repeat.
    #[arg(
        long = "sse-topic",
        value_name = "PATTERN",
        help_heading = "Server-sent events"
    )]
    pub topics: Vec<String>,
    /// Seconds between heartbeat comments on idle streams [default: 15].
    #[arg(
        long = "sse-heartbeat",
        value_name = "SECS",
        help_heading = "Server-sent events"
    )]
    pub heartbeat: Option<u64>,
    #[command(flatten)]
    pub mercure: crate::mercure_args::MercureArgs,
}

/// How a slow subscriber is treated, as the config file spells it.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum OverflowSetting {
    /// Drop its oldest queued events and send a gap event.
    DropOldest,
    /// End its stream; it reconnects and replays from the history.
    Close,
}

/// The `[sse]` section of the config file. Every key is optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SseSection {
    /// Serve the hub (default: true when the section is present).
    pub enabled: Option<bool>,
    /// The bearer token for POST /publish.
    pub publish_token: Option<String>,
    /// Redis URL for the shared backend.
    pub redis: Option<String>,
    /// Redis key prefix [default: h2push:sse].
    pub redis_prefix: Option<String>,
    /// Tokens that may subscribe.
    #[serde(default)]
    pub subscribe_tokens: Vec<String>,
    /// CORS origins.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Allow cookies on cross-origin requests.
    pub allow_credentials: Option<bool>,
    /// Topic patterns; absent: any topic.
    pub topics: Option<Vec<String>>,
    /// Heartbeat interval.
    pub heartbeat_secs: Option<u64>,
    /// `retry:` sent at the start of each stream.
    pub retry_ms: Option<u64>,
    /// Events kept per topic.
    pub history_len: Option<usize>,
    /// Events older than this are not replayed (0: no age limit).
    pub history_age_secs: Option<u64>,
    /// Live events queued per subscriber.
    pub queue_len: Option<usize>,
    /// `drop-oldest` or `close`.
    pub overflow: Option<OverflowSetting>,
    /// Subscription path [default: /events].
    pub events_path: Option<String>,
    /// Publish path [default: /publish].
    pub publish_path: Option<String>,
    /// Subscriptions the hub holds at once [default: 2000000]; more get 503.
    pub max_subscribers: Option<usize>,
    /// Subscriptions one client connection may hold [default: 10000]; more get 429.
    pub max_subscriptions_per_connection: Option<usize>,
    /// Topics a memory hub keeps [default: 100000]; publishing to a new one past it gets 503.
    pub max_topics: Option<usize>,
    /// Topics one subscription may name [default: 32]; more get 400.
    pub max_topics_per_subscription: Option<usize>,
    /// The largest event, encoded, in bytes [default: 262144]; larger gets 413.
    pub max_event_bytes: Option<usize>,
    /// The largest POST /publish body [default: max_event_bytes + 16384]; larger gets 413.
    pub max_publish_bytes: Option<usize>,
}

/// Builds the hub if the flags or the file ask for it and puts its endpoints in front of
/// `inner`; prints what it serves. Call within the server's runtime (the Redis backend starts
/// a task). On SIGINT/SIGTERM the hub ends its streams with `retry:` so that the server's
/// graceful shutdown does not wait for them.
pub fn mount_hub<S>(
    args: &SseArgs,
    section: Option<&SseSection>,
    inner: S,
) -> Result<WithHub<S>, CliError> {
    let endpoints = endpoints(args, section)?;
    if let Some(ep) = &endpoints {
        let hub = ep.hub().clone();
        let token =
            if args.publish_token.is_some() || section.is_some_and(|s| s.publish_token.is_some()) {
                "POST /publish (bearer token)"
            } else {
                "POST /publish refused: no --publish-token"
            };
        // Not println!: a closed stdout (a supervisor that stopped reading) must not panic
        // the server.
        use std::io::Write;
        let _ = writeln!(
            std::io::stdout(),
            "  SSE hub ({}): GET /events?topic=T, {token}",
            hub.backend_name()
        );
        let _ = std::io::stdout().flush();
        let signal = h2push::server::shutdown_signal();
        tokio::spawn(async move {
            signal.await;
            hub.shutdown();
        });
    }
    Ok(mount(endpoints, inner))
}

/// The hub's endpoints, or `None` when neither the flags nor the file enable the hub.
pub fn endpoints(
    args: &SseArgs,
    section: Option<&SseSection>,
) -> Result<Option<HubService>, CliError> {
    let empty = SseSection::default();
    let file = section.unwrap_or(&empty);
    let enabled = args.sse
        || args.publish_token.is_some()
        || args.redis.is_some()
        || section.is_some_and(|s| s.enabled.unwrap_or(true));
    if !enabled {
        return Ok(None);
    }
    let mut config = HubConfig::default();
    if let Some(n) = file.history_len {
        config.history_len = n;
    }
    if let Some(secs) = file.history_age_secs {
        config.history_age = (secs > 0).then(|| Duration::from_secs(secs));
    }
    if let Some(n) = file.queue_len {
        config.queue_len = n.max(1);
    }
    if let Some(o) = file.overflow {
        config.overflow = match o {
            OverflowSetting::DropOldest => Overflow::DropOldest,
            OverflowSetting::Close => Overflow::Close {
                retry: config.retry,
            },
        };
    }
    if let Some(n) = file.max_subscribers {
        config.max_subscribers = n.max(1);
    }
    if let Some(n) = file.max_topics {
        config.max_topics = n.max(1);
    }
    if let Some(n) = file.max_topics_per_subscription {
        config.max_topics_per_subscription = n.max(1);
    }
    if let Some(n) = file.max_event_bytes {
        config.max_event_bytes = n.max(64);
    }
    let topics: Vec<String> = if args.topics.is_empty() {
        file.topics.clone().unwrap_or_default()
    } else {
        args.topics.clone()
    };
    if !topics.is_empty() || file.topics.is_some() {
        config.allowed_topics = Some(TopicFilter::new(&topics));
    }
    let redis = args.redis.as_ref().or(file.redis.as_ref());
    let hub = match redis {
        Some(url) => {
            let mut options = RedisOptions::default();
            if let Some(p) = &file.redis_prefix {
                options.key_prefix = p.clone();
            }
            Hub::redis(url, config, options).map_err(|e| format!("--redis: {e}"))?
        }
        None => Hub::memory(config),
    };
    let mut svc = HubService::new(hub);
    if file.events_path.is_some() || file.publish_path.is_some() {
        let events = file.events_path.clone().unwrap_or_else(|| "/events".into());
        let publish = file
            .publish_path
            .clone()
            .unwrap_or_else(|| "/publish".into());
        for p in [&events, &publish] {
            if !p.starts_with('/') {
                return Err(format!("[sse] path {p:?} must start with /").into());
            }
        }
        svc = svc.paths(events, publish);
    }
    if let Some(token) = args.publish_token.as_ref().or(file.publish_token.as_ref()) {
        if token.is_empty() {
            return Err("the publish token must not be empty".into());
        }
        svc = svc.publish_token(token.clone());
    }
    let subscribe: Vec<String> = if args.subscribe_tokens.is_empty() {
        file.subscribe_tokens.clone()
    } else {
        args.subscribe_tokens.clone()
    };
    if !subscribe.is_empty() {
        svc = svc.subscriber_tokens(subscribe);
    }
    let origins = if args.origins.is_empty() {
        file.allowed_origins.clone()
    } else {
        args.origins.clone()
    };
    if !origins.is_empty() {
        svc = svc.allow_origins(origins);
    }
    if let Some(c) = file.allow_credentials {
        svc = svc.allow_credentials(c);
    }
    if let Some(secs) = args.heartbeat.or(file.heartbeat_secs) {
        svc = svc.heartbeat(Duration::from_secs(secs.max(1)));
    }
    if let Some(ms) = file.retry_ms {
        svc = svc.retry(Duration::from_millis(ms));
    }
    if let Some(n) = file.max_subscriptions_per_connection {
        svc = svc.max_subscriptions_per_connection(n);
    }
    if let Some(n) = file.max_publish_bytes {
        svc = svc.max_publish_bytes(n);
    }
    Ok(Some(svc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn off_unless_asked_for() {
        assert!(endpoints(&SseArgs::default(), None).unwrap().is_none());
        let args = SseArgs {
            sse: true,
            ..SseArgs::default()
        };
        let svc = endpoints(&args, None).unwrap().unwrap();
        assert!(svc.handles("/events"));
        let off = SseSection {
            enabled: Some(false),
            ..SseSection::default()
        };
        assert!(endpoints(&SseArgs::default(), Some(&off))
            .unwrap()
            .is_none());
    }

    #[test]
    fn publish_token_implies_sse() {
        let args = SseArgs {
            publish_token: Some("t".into()),
            ..SseArgs::default()
        };
        assert!(endpoints(&args, None).unwrap().is_some());
    }

    #[test]
    fn config_section_parses_and_applies() {
        let c = Config::parse(
            r#"
[sse]
publish_token = "secret"
topics = ["news", "room.*"]
history_len = 50
history_age_secs = 0
max_subscribers = 10
max_topics_per_subscription = 4
overflow = "close"
events_path = "/sse"
"#,
        )
        .unwrap();
        let section = c.sse.as_ref().unwrap();
        assert_eq!(section.overflow, Some(OverflowSetting::Close));
        let svc = endpoints(&SseArgs::default(), Some(section))
            .unwrap()
            .unwrap();
        assert!(svc.handles("/sse") && svc.handles("/publish"));
        let hub = svc.hub();
        assert_eq!(hub.config().history_len, 50);
        assert_eq!(hub.config().history_age, None);
        assert_eq!(hub.config().max_subscribers, 10);
        assert_eq!(hub.config().max_topics_per_subscription, 4);
        assert!(hub.check_topic("room.1").is_ok() && hub.check_topic("other").is_err());
    }

    #[test]
    fn config_section_mistakes_name_their_line() {
        let e = Config::parse("[sse]\noverflow = \"sometimes\"\n").unwrap_err();
        assert!(e.starts_with("line 2"), "{e}");
        let e = Config::parse("[sse]\npublish_tokn = \"x\"\n").unwrap_err();
        assert!(e.contains("publish_tokn"), "{e}");
    }

    #[test]
    fn a_bad_redis_url_is_an_error() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let args = SseArgs {
                redis: Some("nonsense".into()),
                ..SseArgs::default()
            };
            let e = endpoints(&args, None).unwrap_err().to_string();
            assert!(e.contains("--redis"), "{e}");
        });
    }
}
