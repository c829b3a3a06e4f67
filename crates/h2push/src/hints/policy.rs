//! The hint policy: one declaration of a site's hints and which outputs it drives.
//!
//! This module owns the configuration — rules (nginx's `http2_push`), the switches for each
//! source (rules, the response's `Link: rel=preload`, HTML scanning, learning) and each output
//! (PUSH_PROMISE, 103 Early Hints to navigations, `Link: rel=preload` on the final response),
//! the cache digest, the per-page budget and the metrics path — and the navigation test.
//! Applying it to requests is `hints::service`'s; each feature lives in its own module
//! (`html`, `learn`, `digest`, `order`, `metrics`).

use http::header::ACCEPT;
use http::HeaderMap;

use super::digest::DigestConfig;
use super::learn::LearnConfig;
use super::link::Hint;
use super::order::Budget;
use crate::StaticFiles;

/// Resources to hint with every request whose path matches.
///
/// ```
/// use h2push::hints::{Hint, PushRule};
/// let rule = PushRule::new("/", [Hint::new("/style.css"), Hint::new("/app.js")]);
/// assert!(rule.matches("/") && !rule.matches("/other"));
/// let blog = PushRule::new("/blog/*", [Hint::new("/blog.css")]);
/// assert!(blog.matches("/blog/") && blog.matches("/blog/post-1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRule {
    /// An exact path, or a prefix ending in `*`.
    pub path: String,
    /// The resources, in the order they are pushed and listed.
    pub resources: Vec<Hint>,
}

impl PushRule {
    /// A rule for `path` (exact, or a prefix when it ends in `*`).
    pub fn new(path: impl Into<String>, resources: impl IntoIterator<Item = Hint>) -> Self {
        PushRule {
            path: path.into(),
            resources: resources.into_iter().collect(),
        }
    }

    /// Whether a request for `path` matches this rule.
    pub fn matches(&self, path: &str) -> bool {
        match self.path.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == self.path,
        }
    }
}

/// A site's hint policy: where hints come from and what is done with them.
///
/// Every source and output can be switched off. The defaults push and hint everything the
/// sources find, within [`Budget::default`], skipping what the client has (per-connection
/// diary, cache digest cookie, conditional requests), with HTML scanning and learning active
/// once [`HintPolicy::files`] is set.
///
/// ```
/// use h2push::hints::{Hint, HintPolicy, PushRule};
/// # let dir = tempfile::tempdir().unwrap();
/// let files = h2push::StaticFiles::new(dir.path()).unwrap();
/// let mut policy = HintPolicy::with_rules([PushRule::new("/", [Hint::new("/style.css")])])
///     .with_files(files);
/// policy.metrics_path = Some("/metrics".into());
/// policy.budget.resources = 4;
/// assert!(policy.push_rules && policy.early_hints && policy.preload_header && policy.html_scan);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HintPolicy {
    /// The configured rules.
    pub rules: Vec<PushRule>,
    /// Push the hints known when the request arrives: rules, HTML scan, learned (nginx
    /// `http2_push`). They are pushed before the application runs, filling its think time.
    pub push_rules: bool,
    /// Push the response's own `Link: rel=preload` resources (nginx `http2_push_preload`).
    pub push_preload_links: bool,
    /// Send the hints known when the request arrives as one 103 to navigations.
    pub early_hints: bool,
    /// Add those hints as `Link: rel=preload` to the final response (push-only hints never
    /// are, and push-only links the application set are removed).
    pub preload_header: bool,
    /// Find the render-blocking resources of static HTML pages (needs [`HintPolicy::files`]).
    pub html_scan: bool,
    /// Learn pages' sub-resources from `Referer` (static pages by default).
    pub learn: LearnConfig,
    /// The cross-visit cache digest cookie; `None` turns it off.
    pub digest: Option<DigestConfig>,
    /// What one page may push.
    pub budget: Budget,
    /// Serve the policy's metrics at this path (GET), e.g. `/metrics`; `None` (the
    /// default) serves nothing.
    pub metrics_path: Option<String>,
    /// The static files the site serves: their ETags key the digest, their lengths count
    /// against the byte budget, their HTML is scanned, and they count as static for
    /// learning. Without it, every route is dynamic.
    pub files: Option<StaticFiles>,
}

impl Default for HintPolicy {
    fn default() -> Self {
        HintPolicy {
            rules: Vec::new(),
            push_rules: true,
            push_preload_links: true,
            early_hints: true,
            preload_header: true,
            html_scan: true,
            learn: LearnConfig::default(),
            digest: Some(DigestConfig::default()),
            budget: Budget::default(),
            metrics_path: None,
            files: None,
        }
    }
}

impl HintPolicy {
    /// A policy with these rules and every output on.
    ///
    /// ```
    /// use h2push::hints::{Hint, HintPolicy, PushRule};
    /// let p = HintPolicy::with_rules([PushRule::new("/", [Hint::new("/a.css")])]);
    /// assert_eq!(p.rules.len(), 1);
    /// ```
    pub fn with_rules(rules: impl IntoIterator<Item = PushRule>) -> Self {
        HintPolicy {
            rules: rules.into_iter().collect(),
            ..HintPolicy::default()
        }
    }

    /// The same policy knowing the site's static files (see [`HintPolicy::files`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let files = h2push::StaticFiles::new(dir.path()).unwrap();
    /// let p = h2push::hints::HintPolicy::default().with_files(files);
    /// assert!(p.files.is_some());
    /// ```
    #[must_use]
    pub fn with_files(mut self, files: StaticFiles) -> Self {
        self.files = Some(files);
        self
    }

    /// The rules' resources for `path`, in rule order.
    pub(crate) fn rule_hints(&self, path: &str) -> Vec<Hint> {
        self.rules
            .iter()
            .filter(|r| r.matches(path))
            .flat_map(|r| r.resources.iter().cloned())
            .collect()
    }
}

/// Whether a request looks like a top-level navigation, the only requests Chrome honours a
/// 103 for: `Sec-Fetch-Mode: navigate`, or, from clients that send no Sec-Fetch headers,
/// an `Accept` that asks for HTML.
///
/// ```
/// use http::HeaderMap;
/// let mut h = HeaderMap::new();
/// h.insert("sec-fetch-mode", "navigate".parse().unwrap());
/// assert!(h2push::hints::is_navigation(&h));
/// h.insert("sec-fetch-mode", "no-cors".parse().unwrap());
/// h.insert("accept", "text/html".parse().unwrap());
/// assert!(!h2push::hints::is_navigation(&h));
/// ```
pub fn is_navigation(headers: &HeaderMap) -> bool {
    match headers.get("sec-fetch-mode") {
        Some(mode) => mode == "navigate",
        None => headers
            .get(ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/html")),
    }
}
