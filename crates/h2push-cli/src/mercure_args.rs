//! `h2push serve --mercure`: the Mercure hub's flags, its `[mercure]` config section, and
//! mounting it at `/.well-known/mercure`.
//!
//! This module owns turning `--mercure` (and the other `--mercure-*` flags) and the
//! `[mercure]` section into a [`MercureService`] on a hub of its own (in memory, or on Redis
//! under its own key prefix), in front of everything else. Flags win over the file. Key
//! mistakes in the file are reported with its line (see [`check_section`], which
//! `config.rs` calls while parsing). The protocol itself is the library's
//! (`h2push::sse::mercure`).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use h2push::sse::hub::{Hub, HubConfig, RedisOptions};
use h2push::sse::mercure::{mount, JwtKey, MercureConfig, MercureService, WithMercure};
use serde::Deserialize;

use crate::CliError;

/// The Mercure hub's command-line flags (flattened into `serve`).
#[derive(Args, Debug, Default, Clone)]
pub struct MercureArgs {
    /// Serve a Mercure hub at /.well-known/mercure: GET ?topic=SELECTOR subscribes (URI,
    /// URI Template or *), POST publishes (form: topic, data, private, id, type, retry) with
    /// a JWT whose mercure.publish claim matches the topics. Implied by the other --mercure-*
    /// key flags.
    #[arg(long, help_heading = "Mercure")]
    pub mercure: bool,
    /// The key that verifies publishers' JWTs: the HS256 secret, or with
    /// --mercure-jwt-algorithm RS256 the path of a PEM public key.
    #[arg(long, value_name = "KEY", help_heading = "Mercure")]
    pub mercure_publisher_jwt_key: Option<String>,
    /// The key that verifies subscribers' JWTs [default: the publisher key].
    #[arg(long, value_name = "KEY", help_heading = "Mercure")]
    pub mercure_subscriber_jwt_key: Option<String>,
    /// The JWS algorithm of both keys: HS256 or RS256 [default: HS256].
    #[arg(long, value_name = "ALG", help_heading = "Mercure")]
    pub mercure_jwt_algorithm: Option<String>,
    /// Let subscribers without a JWT subscribe (public updates only).
    #[arg(long, help_heading = "Mercure")]
    pub mercure_anonymous: bool,
    /// Publish subscription events (/.well-known/mercure/subscriptions/{topic}/{subscriber},
    /// private) when subscriptions start and end.
    #[arg(long, help_heading = "Mercure")]
    pub mercure_subscriptions: bool,
    /// Let pages from this origin subscribe and publish across origins (CORS, with
    /// cookies); `*` for any. May repeat.
    #[arg(
        long = "mercure-cors-origin",
        value_name = "ORIGIN",
        help_heading = "Mercure"
    )]
    pub mercure_cors_origins: Vec<String>,
}

/// `[mercure] algorithm`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum AlgorithmSetting {
    /// HMAC with SHA-256: the key is a shared secret.
    HS256,
    /// RSA with SHA-256: the key is a PEM public key.
    RS256,
}

impl AlgorithmSetting {
    fn name(self) -> &'static str {
        match self {
            AlgorithmSetting::HS256 => "HS256",
            AlgorithmSetting::RS256 => "RS256",
        }
    }
}

/// The `[mercure]` section of the config file. Every key is optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MercureSection {
    /// Serve the hub (default: true when the section is present).
    pub enabled: Option<bool>,
    /// The publishers' key: HS256 secret or RS256 PEM text.
    pub publisher_jwt_key: Option<toml::Spanned<String>>,
    /// The publishers' key as a file (RS256 PEM, or a secret), relative to the config file.
    pub publisher_jwt_key_file: Option<PathBuf>,
    /// The subscribers' key [default: the publishers'].
    pub subscriber_jwt_key: Option<toml::Spanned<String>>,
    /// The subscribers' key as a file.
    pub subscriber_jwt_key_file: Option<PathBuf>,
    /// `HS256` (default) or `RS256`.
    pub algorithm: Option<AlgorithmSetting>,
    /// Allow subscribers without a JWT [default: false].
    pub anonymous: Option<bool>,
    /// Publish subscription events [default: false].
    pub subscriptions: Option<bool>,
    /// Heartbeat interval [default: 15].
    pub heartbeat_secs: Option<u64>,
    /// Updates kept for `Last-Event-ID` [default: 1000].
    pub history_len: Option<usize>,
    /// The largest publish body [default: 262144].
    pub max_publish_bytes: Option<usize>,
    /// Subscriptions one connection may hold [default: 10000].
    pub max_subscriptions_per_connection: Option<usize>,
    /// Subscriptions the hub holds at once [default: 2000000].
    pub max_subscribers: Option<usize>,
    /// The largest update, as the hub stores it, in bytes [default: 262144].
    pub max_event_bytes: Option<usize>,
    /// Topics per update or subscription [default: 32].
    pub max_topics: Option<usize>,
    /// Origins whose pages may use the hub across origins (CORS); `*` for any.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Redis URL to share updates and history with other instances.
    pub redis: Option<String>,
    /// Redis key prefix [default: h2push:mercure].
    pub redis_prefix: Option<String>,
}

/// Checks the inline keys of a parsed `[mercure]` section; the error names the key and the
/// line (for `config.rs`, which knows the text).
pub fn check_section(section: &MercureSection, text: &str) -> Result<(), String> {
    let alg = section.algorithm.unwrap_or(AlgorithmSetting::HS256).name();
    for (name, key) in [
        ("publisher_jwt_key", &section.publisher_jwt_key),
        ("subscriber_jwt_key", &section.subscriber_jwt_key),
    ] {
        if let Some(k) = key {
            if let Err(e) = JwtKey::from_config(alg, k.get_ref().as_bytes()) {
                let (line, col) = crate::config::line_col(text, k.span().start);
                return Err(format!(
                    "line {line}, column {col}: [mercure] {name} is not a usable {alg} key: {e}"
                ));
            }
        }
    }
    Ok(())
}

/// Builds the Mercure hub if the flags or the file ask for it and puts it in front of
/// `inner`; prints what it serves. Call within the server's runtime.
/// `sse_prefix` is the `[sse]` hub's Redis key prefix, which the Mercure hub must not share
/// (its internal topic would be readable at `/events`, private updates included).
pub fn mount_mercure<S>(
    args: &MercureArgs,
    section: Option<&MercureSection>,
    redis_flag: Option<&str>,
    sse_prefix: Option<&str>,
    inner: S,
) -> Result<WithMercure<S>, CliError> {
    let svc = service(args, section, redis_flag)?;
    let mercure_prefix = section
        .and_then(|s| s.redis_prefix.as_deref())
        .unwrap_or("h2push:mercure");
    if svc.is_some() && mercure_prefix == sse_prefix.unwrap_or("h2push:sse") {
        return Err(format!(
            "[mercure] redis_prefix {mercure_prefix:?} is the [sse] hub's too; give the Mercure \
             hub its own, or its private updates could be read at /events"
        )
        .into());
    }
    if let Some(m) = &svc {
        let hub = m.hub().clone();
        // Not println!: a closed stdout (a supervisor that stopped reading) must not panic
        // the server.
        use std::io::Write;
        let _ = writeln!(
            std::io::stdout(),
            "  Mercure hub ({}): /.well-known/mercure",
            hub.backend_name()
        );
        let _ = std::io::stdout().flush();
        let signal = h2push::server::shutdown_signal();
        tokio::spawn(async move {
            signal.await;
            hub.shutdown();
        });
    }
    Ok(mount(svc, inner))
}

/// Reads a key given on the command line: the secret itself for HS256, a PEM file for RS256.
fn flag_key(flag: &str, value: &str, alg: &str) -> Result<JwtKey, CliError> {
    let material = if alg == "RS256" {
        std::fs::read(value)
            .map_err(|e| format!("{flag} {value}: cannot read the PEM file: {e}"))?
    } else {
        value.as_bytes().to_vec()
    };
    JwtKey::from_config(alg, &material).map_err(|e| format!("{flag}: {e}").into())
}

fn file_key(
    name: &str,
    inline: Option<&toml::Spanned<String>>,
    file: Option<&PathBuf>,
    alg: &str,
) -> Result<Option<JwtKey>, CliError> {
    if let Some(k) = inline {
        return Ok(Some(
            JwtKey::from_config(alg, k.get_ref().as_bytes())
                .map_err(|e| format!("[mercure] {name}: {e}"))?,
        ));
    }
    let Some(path) = file else { return Ok(None) };
    let material = std::fs::read(path).map_err(|e| {
        format!(
            "[mercure] {name}_file {}: cannot read it: {e}",
            path.display()
        )
    })?;
    let material = if alg == "HS256" {
        // A secret in a file usually ends with a newline that is not part of it.
        String::from_utf8_lossy(&material)
            .trim_end()
            .as_bytes()
            .to_vec()
    } else {
        material
    };
    JwtKey::from_config(alg, &material)
        .map(Some)
        .map_err(|e| format!("[mercure] {name}_file {}: {e}", path.display()).into())
}

/// The Mercure service, or `None` when neither the flags nor the file enable it.
pub fn service(
    args: &MercureArgs,
    section: Option<&MercureSection>,
    redis_flag: Option<&str>,
) -> Result<Option<MercureService>, CliError> {
    let empty = MercureSection::default();
    let file = section.unwrap_or(&empty);
    let enabled = args.mercure
        || args.mercure_publisher_jwt_key.is_some()
        || args.mercure_subscriber_jwt_key.is_some()
        || section.is_some_and(|s| s.enabled.unwrap_or(true));
    if !enabled {
        return Ok(None);
    }
    let alg = match &args.mercure_jwt_algorithm {
        Some(a) if a.eq_ignore_ascii_case("HS256") => "HS256",
        Some(a) if a.eq_ignore_ascii_case("RS256") => "RS256",
        Some(a) => return Err(format!("--mercure-jwt-algorithm {a:?}: use HS256 or RS256").into()),
        None => file.algorithm.unwrap_or(AlgorithmSetting::HS256).name(),
    };
    let publisher_key = match &args.mercure_publisher_jwt_key {
        Some(v) => Some(flag_key("--mercure-publisher-jwt-key", v, alg)?),
        None => file_key(
            "publisher_jwt_key",
            file.publisher_jwt_key.as_ref(),
            file.publisher_jwt_key_file.as_ref(),
            alg,
        )?,
    };
    let subscriber_key = match &args.mercure_subscriber_jwt_key {
        Some(v) => Some(flag_key("--mercure-subscriber-jwt-key", v, alg)?),
        None => file_key(
            "subscriber_jwt_key",
            file.subscriber_jwt_key.as_ref(),
            file.subscriber_jwt_key_file.as_ref(),
            alg,
        )?,
    };
    let mut hub_config = HubConfig::default();
    if let Some(n) = file.history_len {
        hub_config.history_len = n;
    }
    if let Some(n) = file.max_subscribers {
        hub_config.max_subscribers = n.max(1);
    }
    if let Some(n) = file.max_event_bytes {
        hub_config.max_event_bytes = n.max(64);
    }
    let redis = redis_flag.or(file.redis.as_deref());
    let hub = match redis {
        Some(url) => {
            let options = RedisOptions {
                key_prefix: file
                    .redis_prefix
                    .clone()
                    .unwrap_or_else(|| "h2push:mercure".into()),
                ..RedisOptions::default()
            };
            Hub::redis(url, hub_config, options).map_err(|e| format!("Mercure Redis: {e}"))?
        }
        None => Hub::memory(hub_config),
    };
    let mut config = MercureConfig {
        publisher_key,
        subscriber_key,
        anonymous: args.mercure_anonymous || file.anonymous.unwrap_or(false),
        subscriptions: args.mercure_subscriptions || file.subscriptions.unwrap_or(false),
        cors_origins: if args.mercure_cors_origins.is_empty() {
            file.cors_origins.clone()
        } else {
            args.mercure_cors_origins.clone()
        },
        ..MercureConfig::default()
    };
    if let Some(s) = file.heartbeat_secs {
        config.heartbeat = Duration::from_secs(s.max(1));
    }
    if let Some(n) = file.max_publish_bytes {
        config.max_publish_bytes = n;
    }
    if let Some(n) = file.max_subscriptions_per_connection {
        config.max_subscriptions_per_connection = n.max(1);
    }
    if let Some(n) = file.max_topics {
        config.max_topics = n.max(1);
    }
    if config.publisher_key.is_none() {
        tracing::warn!(
            "Mercure: no publisher JWT key (--mercure-publisher-jwt-key or [mercure] \
             publisher_jwt_key); publishing is refused"
        );
    }
    Ok(Some(MercureService::new(hub, config)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn off_unless_asked_for() {
        assert!(service(&MercureArgs::default(), None, None)
            .unwrap()
            .is_none());
        let args = MercureArgs {
            mercure: true,
            ..MercureArgs::default()
        };
        assert!(service(&args, None, None).unwrap().is_some());
        let args = MercureArgs {
            mercure_jwt_algorithm: Some("none".into()),
            mercure: true,
            ..MercureArgs::default()
        };
        let e = service(&args, None, None).unwrap_err().to_string();
        assert!(e.contains("HS256 or RS256"), "{e}");
    }

    #[test]
    fn config_section_parses_and_applies() {
        let c = Config::parse(
            r#"
[mercure]
publisher_jwt_key = "!ChangeThisMercureHubJWTSecretKey!"
anonymous = true
subscriptions = true
max_publish_bytes = 1000
"#,
        )
        .unwrap();
        let section = c.mercure.as_ref().unwrap();
        assert_eq!(section.anonymous, Some(true));
        assert!(service(&MercureArgs::default(), Some(section), None)
            .unwrap()
            .is_some());
    }

    #[test]
    fn config_mistakes_name_line_and_key() {
        let e = Config::parse("[mercure]\nalgorithm = \"HS512\"\n").unwrap_err();
        assert!(e.starts_with("line 2"), "{e}");
        let e = Config::parse("[mercure]\nanonymus = true\n").unwrap_err();
        assert!(e.contains("anonymus"), "{e}");
        let e =
            Config::parse("[mercure]\nalgorithm = \"RS256\"\npublisher_jwt_key = \"not a pem\"\n")
                .unwrap_err();
        assert!(
            e.starts_with("line 3") && e.contains("publisher_jwt_key"),
            "{e}"
        );
        let e = Config::parse("[mercure]\npublisher_jwt_key = \"\"\n").unwrap_err();
        assert!(e.starts_with("line 2") && e.contains("empty"), "{e}");
    }

    #[test]
    fn a_missing_key_file_is_named() {
        let section = MercureSection {
            publisher_jwt_key_file: Some("/nonexistent/key.pem".into()),
            ..MercureSection::default()
        };
        let e = service(&MercureArgs::default(), Some(&section), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("publisher_jwt_key_file") && e.contains("/nonexistent/key.pem"),
            "{e}"
        );
    }
}
