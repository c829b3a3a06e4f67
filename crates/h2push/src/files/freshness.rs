//! Which `Cache-Control` a file is served with.
//!
//! This module owns [`CachePolicy`]: path-pattern rules (first match wins), then the
//! immutable value for content-hashed names (see `hashed.rs`), then the default. It is
//! consulted once per loaded file, and the chosen value is kept with the file's other
//! precomputed headers, so a cached response does not match patterns.

use http::HeaderValue;

use super::hashed::is_content_hashed;

/// The `Cache-Control` of content-hashed files by default: a year, never revalidated.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// How [`StaticFiles`](super::StaticFiles) picks each file's `Cache-Control`.
///
/// In order: the first [rule](Self::rule) whose pattern matches the request path; for a
/// file that is not HTML and whose name [is content-hashed](super::is_content_hashed), the
/// [hashed](Self::hashed) value (default [`IMMUTABLE`]); else the [default](Self::default)
/// (default `no-cache`). A `None` value sends no `Cache-Control`.
///
/// ```
/// use h2push::files::CachePolicy;
/// use http::HeaderValue;
///
/// let policy = CachePolicy::new()
///     .rule("/assets/*", Some(HeaderValue::from_static("public, max-age=600")));
/// assert_eq!(policy.choose("/assets/index-D_6Ay_gG.js", false).unwrap(), "public, max-age=600");
/// assert_eq!(policy.choose("/main.3f2a9c1b.js", false).unwrap(), h2push::files::IMMUTABLE);
/// assert_eq!(policy.choose("/index.html", true).unwrap(), "no-cache");
/// assert_eq!(policy.choose("/app.js", false).unwrap(), "no-cache");
/// ```
#[derive(Debug, Clone)]
pub struct CachePolicy {
    rules: Vec<(Pattern, Option<HeaderValue>)>,
    hashed: Option<Option<HeaderValue>>,
    default: Option<HeaderValue>,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl CachePolicy {
    /// No rules; hashed names immutable; everything else `no-cache`.
    pub fn new() -> Self {
        CachePolicy {
            rules: Vec::new(),
            hashed: Some(Some(HeaderValue::from_static(IMMUTABLE))),
            default: Some(HeaderValue::from_static("no-cache")),
        }
    }

    /// Adds a rule after the existing ones. `pattern` is matched against the whole request
    /// path (decoded, starting with `/`): `*` stands for any run of characters, `/`
    /// included, and everything else for itself — `/assets/*`, `*.woff2`, `/index.html`.
    pub fn rule(mut self, pattern: &str, value: Option<HeaderValue>) -> Self {
        self.rules.push((Pattern::new(pattern), value));
        self
    }

    /// The value for content-hashed names; `None` sends none. To give them the default
    /// instead, turn the detection off with [`Self::detect_hashed`].
    pub fn hashed(mut self, value: Option<HeaderValue>) -> Self {
        self.hashed = Some(value);
        self
    }

    /// Whether content-hashed names get their own value (default on). Off, they get the
    /// default like any other file.
    pub fn detect_hashed(mut self, on: bool) -> Self {
        self.hashed = match (on, self.hashed) {
            (false, _) => None,
            (true, Some(v)) => Some(v),
            (true, None) => Some(Some(HeaderValue::from_static(IMMUTABLE))),
        };
        self
    }

    /// The value for every other file, HTML included; `None` sends none.
    pub fn default_value(mut self, value: Option<HeaderValue>) -> Self {
        self.default = value;
        self
    }

    /// The `Cache-Control` for the file at request path `path` (with or without the leading
    /// `/`); `html` if it is served as `text/html`.
    pub fn choose(&self, path: &str, html: bool) -> Option<HeaderValue> {
        let path = path.strip_prefix('/').unwrap_or(path);
        if let Some((_, v)) = self.rules.iter().find(|(p, _)| p.matches(path)) {
            return v.clone();
        }
        match &self.hashed {
            Some(v) if !html && is_content_hashed(path) => v.clone(),
            _ => self.default.clone(),
        }
    }
}

/// A path pattern: literal pieces separated by `*`, stored without the leading `/`.
#[derive(Debug, Clone)]
struct Pattern {
    pieces: Vec<String>,
}

impl Pattern {
    fn new(pattern: &str) -> Self {
        let p = pattern.strip_prefix('/').unwrap_or(pattern);
        Pattern {
            pieces: p.split('*').map(str::to_owned).collect(),
        }
    }

    /// Glob matching with `*` only: the first piece is a prefix, the last a suffix, the
    /// ones between are found left to right (greedy-free, so linear in the path).
    fn matches(&self, path: &str) -> bool {
        let (first, rest) = match self.pieces.split_first() {
            Some(x) => x,
            None => return path.is_empty(),
        };
        let Some(mut tail) = path.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return tail.is_empty();
        };
        for piece in middle {
            match tail.find(piece.as_str()) {
                Some(i) => tail = &tail[i + piece.len()..],
                None => return false,
            }
        }
        tail.len() >= last.len() && tail.ends_with(last.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        Pattern::new(pattern).matches(path.strip_prefix('/').unwrap_or(path))
    }

    #[test]
    fn patterns() {
        assert!(m("/assets/*", "/assets/a.js"));
        assert!(m("/assets/*", "/assets/deep/a.js"));
        assert!(m("/assets/*", "/assets/"));
        assert!(!m("/assets/*", "/assetsx"));
        assert!(!m("/assets/*", "/other/assets/a.js"));
        assert!(m("*.woff2", "/fonts/a.woff2"));
        assert!(!m("*.woff2", "/fonts/a.woff2.map"));
        assert!(m("/index.html", "/index.html"));
        assert!(!m("/index.html", "/index.html5"));
        assert!(m("/a/*/b/*.js", "/a/x/y/b/z.js"));
        assert!(!m("/a/*/b/*.js", "/a/x/y/c/z.js"));
        assert!(m("/*", "/"));
        assert!(m("*", ""));
        assert!(!m("/ab*ba", "/aba"), "pieces may not overlap");
        assert!(m("/ab*ba", "/abba"));
    }

    #[test]
    fn order_of_decisions() {
        let year = HeaderValue::from_static(IMMUTABLE);
        let short = HeaderValue::from_static("max-age=60");
        let p = CachePolicy::new();
        assert_eq!(
            p.choose("/assets/index-D_6Ay_gG.js", false),
            Some(year.clone())
        );
        assert_eq!(p.choose("/index-D_6Ay_gG.html", true).unwrap(), "no-cache");
        assert_eq!(p.choose("/app.js", false).unwrap(), "no-cache");

        let p = CachePolicy::new()
            .rule("/fixed/*", Some(short.clone()))
            .rule("/fixed/*", None)
            .rule("/none/*", None)
            .default_value(Some(short.clone()));
        assert_eq!(
            p.choose("/fixed/main.3f2a9c1b.js", false),
            Some(short.clone())
        );
        assert_eq!(p.choose("/none/main.3f2a9c1b.js", false), None);
        assert_eq!(p.choose("/main.3f2a9c1b.js", false), Some(year.clone()));
        assert_eq!(p.choose("/app.js", false), Some(short.clone()));
        assert_eq!(p.choose("/index.html", true), Some(short.clone()));

        let off = p.clone().detect_hashed(false);
        assert_eq!(off.choose("/main.3f2a9c1b.js", false), Some(short.clone()));
        let on = off.detect_hashed(true);
        assert_eq!(on.choose("/main.3f2a9c1b.js", false), Some(year));
        let custom = on.hashed(Some(HeaderValue::from_static("max-age=5")));
        assert_eq!(
            custom.choose("/main.3f2a9c1b.js", false).unwrap(),
            "max-age=5"
        );
    }
}
