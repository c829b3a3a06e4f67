//! The `h2push.toml` configuration file.
//!
//! This module owns the file's format and its errors: every mistake names the file, the line
//! and column, and the key (toml's spans carry them; values are checked while deserializing
//! so that their errors get a span too). Command-line flags override what the file says;
//! merging them is `serve`'s business.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use h2push::hints::{Hint, PushRule};
use serde::de::{self, Deserializer};
use serde::Deserialize;

/// The whole file. Every section and key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The directory to serve (the command line's ROOT wins).
    pub root: Option<PathBuf>,
    /// TLS addresses (HTTP/2 + HTTP/1.1).
    #[serde(default)]
    pub listen: Vec<SocketAddr>,
    /// Plaintext addresses (HTTP/1.1 + h2c prior knowledge).
    #[serde(default)]
    pub h2c: Vec<SocketAddr>,
    /// `Cache-Control` for static files whose names are not content-hashed (HTML included).
    pub cache_control: Option<CacheControl>,
    /// `[[cache]]` rules: `Cache-Control` by path pattern, first match wins.
    #[serde(default)]
    pub cache: Vec<CacheSection>,
    /// Serve `.br`/`.gz` siblings.
    pub precompressed: Option<bool>,
    /// Compress compressible responses on the fly (brotli, zstd, gzip; default true).
    pub compress: Option<bool>,
    #[serde(default)]
    pub tls: TlsSection,
    #[serde(default)]
    pub hints: HintsSection,
    #[serde(default)]
    pub limits: crate::limits::LimitsSection,
    /// `[[push]]` rules, nginx `http2_push` style.
    #[serde(default)]
    pub push: Vec<PushSection>,
    /// `[[proxy]]` sections: path prefix -> upstream (see `proxy.rs`).
    #[serde(default)]
    pub proxy: Vec<crate::proxy::ProxySection>,
    /// `[sse]`: the event hub (see `sse_args`).
    pub sse: Option<crate::sse_args::SseSection>,
    /// `[mercure]`: the Mercure hub (see `mercure_args`).
    pub mercure: Option<crate::mercure_args::MercureSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HintsSection {
    /// Push the `[[push]]` resources (default true).
    pub push: Option<bool>,
    /// Push the response's `Link: rel=preload` resources (default true).
    pub push_preload: Option<bool>,
    /// Send the `[[push]]` resources as 103 Early Hints to navigations (default true).
    pub early_hints: Option<bool>,
    /// Add the hints as `Link: rel=preload` to final responses (default true).
    pub preload_header: Option<bool>,
    /// Keep the cross-visit cache digest cookie (default true).
    pub digest: Option<bool>,
    /// The secret the digest cookie is sealed with, shared by the instances behind one load
    /// balancer (`H2PUSH_DIGEST_KEY` wins over it; default: random per process).
    pub digest_key: Option<DigestKey>,
    /// Learn hints from `Referer`: "off", "static", "shared" (default) or "all".
    pub learn: Option<LearnSetting>,
    /// Hint the render-blocking resources of static HTML pages (default true).
    pub html_scan: Option<bool>,
    /// Pushes per page at most (default 12).
    pub budget_resources: Option<usize>,
    /// Pushed bytes per page at most (default 524288).
    pub budget_bytes: Option<u64>,
    /// Serve Prometheus metrics at this path, e.g. "/metrics" (default: none).
    pub metrics_path: Option<LocalPath>,
}

/// The environment variable holding the digest cookie's key.
pub const DIGEST_KEY_ENV: &str = "H2PUSH_DIGEST_KEY";

/// `[hints] digest_key`: checked while parsing, so a bad key's error names its line.
#[derive(Clone)]
pub struct DigestKey(String);

impl fmt::Debug for DigestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DigestKey(<secret>)")
    }
}

impl<'de> Deserialize<'de> for DigestKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        h2push::hints::DigestConfig::default()
            .with_key(&s)
            .map_err(de::Error::custom)?;
        Ok(DigestKey(s))
    }
}

/// Where the digest key came from, for the start-up message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    Env,
    File,
}

/// Seals `digest` with the key from `H2PUSH_DIGEST_KEY`, else the file's `digest_key`;
/// with neither it keeps its random per-process key. `env` is the variable's value.
pub fn apply_digest_key(
    digest: &mut h2push::hints::DigestConfig,
    env: Option<std::ffi::OsString>,
    file: Option<&DigestKey>,
) -> Result<Option<KeySource>, String> {
    let (text, source) = match (env, file) {
        (Some(v), _) => {
            let v = v
                .into_string()
                .map_err(|_| format!("{DIGEST_KEY_ENV} is not valid UTF-8"))?;
            (v, KeySource::Env)
        }
        (None, Some(k)) => (k.0.clone(), KeySource::File),
        (None, None) => return Ok(None),
    };
    let keyed = digest.clone().with_key(&text).map_err(|e| match source {
        KeySource::Env => format!("{DIGEST_KEY_ENV}: {e}"),
        KeySource::File => format!("[hints] digest_key: {e}"),
    })?;
    *digest = keyed;
    Ok(Some(source))
}

/// `[hints] learn`: for which pages hints are learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LearnSetting {
    /// Never.
    Off,
    /// Pages served from static files.
    Static,
    /// Static pages, and on dynamic pages what any visitor could be given: responses a
    /// shared cache may store, fetched after the page on two different connections.
    Shared,
    /// Every page, every sub-resource (which may name one user's resources to others).
    All,
}

impl From<LearnSetting> for h2push::hints::LearnMode {
    fn from(s: LearnSetting) -> Self {
        match s {
            LearnSetting::Off => Self::Off,
            LearnSetting::Static => Self::Static,
            LearnSetting::Shared => Self::Shared,
            LearnSetting::All => Self::All,
        }
    }
}

/// A `[[cache]]` section: files whose request path matches `path` get `cache_control`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSection {
    /// `*` stands for any characters (`/` included): `/assets/*`, `*.woff2`, `/app.js`.
    pub path: PathPattern,
    /// The header value; `""` sends no `Cache-Control` at all.
    pub cache_control: CacheControl,
}

/// A `[[cache]]` path pattern: starts with `/` or `*`, no spaces or control characters.
#[derive(Debug, Clone)]
pub struct PathPattern(pub String);

impl<'de> Deserialize<'de> for PathPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if !(s.starts_with('/') || s.starts_with('*')) {
            return Err(de::Error::custom(format!(
                "{s:?} is not a path pattern; write it like \"/assets/*\" or \"*.woff2\""
            )));
        }
        if s.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(de::Error::custom(format!(
                "{s:?} contains spaces or control characters; percent-encode them"
            )));
        }
        Ok(PathPattern(s))
    }
}

/// A `Cache-Control` value, checked while parsing so the error has a line; `""` is none.
#[derive(Debug, Clone)]
pub struct CacheControl(pub Option<http::HeaderValue>);

impl CacheControl {
    /// Parses a command-line or file value.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.trim().is_empty() {
            return Ok(CacheControl(None));
        }
        http::HeaderValue::from_str(s)
            .map(|v| CacheControl(Some(v)))
            .map_err(|_| format!("cache-control {s:?} is not a valid header value"))
    }
}

impl<'de> Deserialize<'de> for CacheControl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CacheControl::parse(&s).map_err(de::Error::custom)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushSection {
    /// An exact path, or a prefix ending in `*`.
    pub path: LocalPath,
    /// Paths, or tables `{ path = "/f.woff2", as = "font", nopush = true }`.
    pub resources: Vec<Resource>,
}

/// A path that starts with exactly one `/`, checked while parsing so the error has a line.
#[derive(Debug, Clone)]
pub struct LocalPath(pub String);

impl<'de> Deserialize<'de> for LocalPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if !s.starts_with('/') || s.starts_with("//") {
            return Err(de::Error::custom(format!(
                "{s:?} is not a local path; write it like \"/style.css\""
            )));
        }
        if s.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(de::Error::custom(format!(
                "{s:?} contains spaces or control characters; percent-encode them"
            )));
        }
        Ok(LocalPath(s))
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Resource {
    Path(LocalPath),
    Table(ResourceTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceTable {
    pub path: LocalPath,
    #[serde(rename = "as")]
    pub as_: Option<String>,
    pub crossorigin: Option<String>,
    #[serde(default)]
    pub nopush: bool,
}

impl Resource {
    fn to_hint(&self) -> Hint {
        match self {
            Resource::Path(p) => Hint::new(p.0.clone()),
            Resource::Table(t) => {
                let mut h = Hint::new(t.path.0.clone());
                if let Some(a) = &t.as_ {
                    h.as_ = Some(a.clone());
                }
                if t.crossorigin.is_some() {
                    h.crossorigin = t.crossorigin.clone();
                }
                h.nopush = t.nopush;
                h
            }
        }
    }
}

impl Config {
    /// The `Cache-Control` policy of `[[cache]]` rules (in file order) over the hashed-name
    /// default; `default` is the value for everything else (flags over `cache_control`).
    pub fn cache_policy(&self, default: Option<CacheControl>) -> h2push::files::CachePolicy {
        let mut policy = h2push::files::CachePolicy::new();
        for rule in &self.cache {
            policy = policy.rule(&rule.path.0, rule.cache_control.0.clone());
        }
        match default.or_else(|| self.cache_control.clone()) {
            Some(CacheControl(v)) => policy.default_value(v),
            None => policy,
        }
    }

    /// The push rules, in file order.
    pub fn push_rules(&self) -> Vec<PushRule> {
        self.push
            .iter()
            .map(|p| PushRule::new(p.path.0.clone(), p.resources.iter().map(Resource::to_hint)))
            .collect()
    }

    /// Reads and parses `path`. Relative paths inside the file are taken relative to the
    /// file's directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            message: format!("cannot read it: {e}"),
        })?;
        let mut config = Config::parse(&text).map_err(|message| ConfigError {
            file: path.to_owned(),
            message,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mercure_files = config.mercure.as_mut().map(|m| {
            [
                &mut m.publisher_jwt_key_file,
                &mut m.subscriber_jwt_key_file,
            ]
        });
        for p in mercure_files.into_iter().flatten().flatten() {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        for section in &mut config.proxy {
            section.resolve_paths(base);
        }
        for p in [&mut config.root, &mut config.tls.cert, &mut config.tls.key]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(config)
    }

    /// Parses a file's text; the error says line, column and key.
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e: toml::de::Error| {
            let at = e.span().map(|s| line_col(text, s.start));
            match at {
                Some((line, col)) => format!("line {line}, column {col}: {}", e.message()),
                None => e.message().to_owned(),
            }
        })?;
        if let Some(m) = &config.mercure {
            crate::mercure_args::check_section(m, text)?;
        }
        crate::proxy::check_sections(&config.proxy, text)?;
        Ok(config)
    }
}

pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// A configuration file that could not be used.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_file_parses() {
        let c = Config::parse(
            r#"
root = "site"
listen = ["127.0.0.1:8443"]
h2c = ["127.0.0.1:8080"]
cache_control = "max-age=60"
[hints]
early_hints = false
learn = "all"
budget_bytes = 100000
metrics_path = "/metrics"
[limits]
max_concurrent_streams = 64
[[push]]
path = "/"
resources = ["/style.css", { path = "/f.woff2", nopush = true }]
"#,
        )
        .unwrap();
        let rules = c.push_rules();
        assert_eq!(rules[0].path, "/");
        assert_eq!(rules[0].resources[0].as_.as_deref(), Some("style"));
        assert!(rules[0].resources[1].nopush);
        assert_eq!(rules[0].resources[1].as_.as_deref(), Some("font"));
        assert_eq!(c.hints.early_hints, Some(false));
        assert_eq!(c.hints.learn, Some(LearnSetting::All));
        assert_eq!(c.hints.budget_bytes, Some(100000));
        assert_eq!(
            c.hints.metrics_path.as_ref().map(|p| p.0.as_str()),
            Some("/metrics")
        );
        assert_eq!(c.limits.max_concurrent_streams, Some(64));
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let e = Config::parse("[[push]]\npath = \"/\"\nresorces = [\"/a.css\"]\n").unwrap_err();
        assert!(e.starts_with("line 3, column 1:"), "{e}");
        assert!(e.contains("resorces"), "{e}");
    }

    #[test]
    fn bad_path_names_its_line() {
        let e = Config::parse("[[push]]\npath = \"/\"\nresources = [\"style.css\"]\n").unwrap_err();
        assert!(e.starts_with("line 3"), "{e}");
    }

    #[test]
    fn compress_key() {
        assert_eq!(
            Config::parse("compress = false\n").unwrap().compress,
            Some(false)
        );
        assert_eq!(Config::parse("").unwrap().compress, None);
        let e = Config::parse("root = \"x\"\ncompress = \"no\"\n").unwrap_err();
        assert!(e.starts_with("line 2"), "{e}");
        let e = Config::parse("\ncompres = false\n").unwrap_err();
        assert!(e.starts_with("line 2") && e.contains("compres"), "{e}");
    }

    #[test]
    fn bad_address_names_its_line() {
        let e = Config::parse("\n\nlisten = [\"localhost\"]\n").unwrap_err();
        assert!(e.starts_with("line 3"), "{e}");
    }

    #[test]
    fn the_example_file_parses() {
        let c = Config::parse(include_str!("../../../examples/h2push.toml")).unwrap();
        assert_eq!(c.push_rules().len(), 1);
        assert!(!c.cache.is_empty(), "the example shows a [[cache]] rule");
        assert_eq!(c.hints.learn, None);
    }

    #[test]
    fn bad_learn_mode_names_its_line() {
        let e = Config::parse("[hints]\nlearn = \"sometimes\"\n").unwrap_err();
        assert!(e.starts_with("line 2"), "{e}");
    }

    #[test]
    fn cache_rules_parse_in_order() {
        let c = Config::parse(
            "cache_control = \"max-age=60\"\n[[cache]]\npath = \"/assets/*\"\ncache_control = \"public, max-age=600\"\n[[cache]]\npath = \"*.pdf\"\ncache_control = \"\"\n",
        )
        .unwrap();
        let p = c.cache_policy(None);
        assert_eq!(
            p.choose("/assets/index-D_6Ay_gG.js", false).unwrap(),
            "public, max-age=600"
        );
        assert_eq!(p.choose("/a.pdf", false), None);
        assert_eq!(
            p.choose("/main.3f2a9c1b.js", false).unwrap(),
            h2push::files::IMMUTABLE
        );
        assert_eq!(p.choose("/index.html", true).unwrap(), "max-age=60");
        let flag = CacheControl::parse("no-store").unwrap();
        assert_eq!(
            c.cache_policy(Some(flag)).choose("/a.js", false).unwrap(),
            "no-store"
        );
    }

    #[test]
    fn bad_cache_rules_name_line_and_key() {
        let e =
            Config::parse("[[cache]]\npath = \"assets/*\"\ncache_control = \"x\"\n").unwrap_err();
        assert!(e.starts_with("line 2") && e.contains("path pattern"), "{e}");
        let e = Config::parse("[[cache]]\npath = \"/a/*\"\ncache_control = \"a\\u0001b\"\n")
            .unwrap_err();
        assert!(
            e.starts_with("line 3") && e.contains("cache-control"),
            "{e}"
        );
        let e = Config::parse("[[cache]]\npath = \"/a/*\"\ncache-control = \"x\"\n").unwrap_err();
        assert!(
            e.starts_with("line 3") && e.contains("cache-control"),
            "{e}"
        );
        let e = Config::parse("[[cache]]\npath = \"/a/*\"\n").unwrap_err();
        assert!(e.contains("cache_control"), "{e}");
        let e = Config::parse("cache_control = \"bad\\nvalue\"\n").unwrap_err();
        assert!(e.starts_with("line 1"), "{e}");
    }

    const KEY: &str = "q0Vt3f8JmXbR2nYc7LwZp5Hs9KdA1eUg6TiO4";

    #[test]
    fn digest_key_comes_from_the_environment_then_the_file() {
        let c = Config::parse(&format!("[hints]\ndigest_key = \"{KEY}\"\n")).unwrap();
        let file = c.hints.digest_key.as_ref();
        let expect = |text: &str| {
            h2push::hints::DigestConfig::default()
                .with_key(text)
                .unwrap()
                .secret
        };
        let mut d = h2push::hints::DigestConfig::default();
        assert_eq!(
            apply_digest_key(&mut d, None, file),
            Ok(Some(KeySource::File))
        );
        assert_eq!(d.secret, expect(KEY));
        let env = format!("{KEY}-from-env");
        let mut d = h2push::hints::DigestConfig::default();
        let got = apply_digest_key(&mut d, Some(env.clone().into()), file);
        assert_eq!(got, Ok(Some(KeySource::Env)));
        assert_eq!(d.secret, expect(&env));
        let mut d = h2push::hints::DigestConfig::default();
        assert_eq!(apply_digest_key(&mut d, None, None), Ok(None));
        assert!(d.secret.is_none(), "random per process");
        let e = apply_digest_key(&mut d, Some("".into()), file).unwrap_err();
        assert!(
            e.starts_with("H2PUSH_DIGEST_KEY: ") && e.contains("at least 32"),
            "{e}"
        );
        assert!(!format!("{c:?}").contains(KEY), "the key is never printed");
    }

    #[test]
    fn bad_digest_key_names_its_line() {
        let e = Config::parse("[hints]\npush = true\ndigest_key = \"changeme\"\n").unwrap_err();
        assert!(e.starts_with("line 3") && e.contains("at least 32"), "{e}");
        let e =
            Config::parse(&format!("[hints]\ndigest_key = \"{}\"\n", "ab".repeat(20))).unwrap_err();
        assert!(e.starts_with("line 2") && e.contains("not random"), "{e}");
    }

    #[test]
    fn rule_path_must_be_local() {
        let e = Config::parse("[[push]]\npath = \"http://x/\"\nresources = []\n").unwrap_err();
        assert!(e.contains("not a local path"), "{e}");
    }
}
