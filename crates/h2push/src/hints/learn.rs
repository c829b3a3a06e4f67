//! Learned hints: which sub-resources a page needs, from what clients fetch after it.
//!
//! This module owns Jetty's `PushCacheFilter` idea. When a client navigates to a page, the
//! page and the client's address are remembered for a short window; a sub-resource request
//! from the same address, inside the window, whose `Referer` names that page, is then
//! associated with the page. Later requests for the page get the associations as hints (push
//! and 103 alike). Memory is bounded three ways: pages remembered, resources per page (Jetty's
//! `maxAssociations`), and pending navigations. A page whose version (ETag) changes starts
//! learning afresh. Whether a page may be learned at all (static only by default) and what
//! counts as a sub-resource request are the policy's decisions.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::HeaderValue;

use super::link::Hint;

/// Pending navigations remembered at most (they expire after the window anyway).
const MAX_RECENT: usize = 4096;

/// For which pages hints are learned.
///
/// ```
/// assert_eq!(h2push::hints::LearnMode::default(), h2push::hints::LearnMode::Static);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LearnMode {
    /// Never.
    Off,
    /// Pages served from static files (the policy's [`StaticFiles`](crate::StaticFiles)):
    /// their sub-resources change only when the file does.
    #[default]
    Static,
    /// Every page, dynamic routes included (whose sub-resources may depend on the user).
    All,
}

/// How hints are learned.
///
/// ```
/// let c = h2push::hints::LearnConfig::default();
/// assert_eq!(c.max_per_page, 16);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LearnConfig {
    /// Which pages.
    pub mode: LearnMode,
    /// How long after a navigation its sub-resource requests count (default 2 s).
    pub window: Duration,
    /// Resources learned per page at most (default 16, as Jetty).
    pub max_per_page: usize,
    /// Pages remembered at most (default 1024); the least recently used one is forgotten.
    pub max_pages: usize,
}

impl Default for LearnConfig {
    fn default() -> Self {
        LearnConfig {
            mode: LearnMode::Static,
            window: Duration::from_secs(2),
            max_per_page: 16,
            max_pages: 1024,
        }
    }
}

/// The learned associations.
#[derive(Debug)]
pub(crate) struct Learner {
    config: LearnConfig,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// (client, page) → when it navigated there, and the page's version then.
    recent: HashMap<(IpAddr, String), (Instant, Option<HeaderValue>)>,
    pages: HashMap<String, Page>,
}

#[derive(Debug)]
struct Page {
    version: Option<HeaderValue>,
    hints: Vec<Hint>,
    used: Instant,
}

impl Learner {
    pub(crate) fn new(config: LearnConfig) -> Self {
        Learner {
            config,
            state: Mutex::default(),
        }
    }

    pub(crate) fn mode(&self) -> LearnMode {
        self.config.mode
    }

    /// `client` navigated to `page` (at version `version`, if known).
    pub(crate) fn page_seen(
        &self,
        client: IpAddr,
        page: &str,
        version: Option<&HeaderValue>,
        now: Instant,
    ) {
        let window = self.config.window;
        let mut st = lock(&self.state);
        if st.recent.len() >= MAX_RECENT {
            st.recent
                .retain(|_, (at, _)| now.saturating_duration_since(*at) < window);
            if st.recent.len() >= MAX_RECENT {
                // A flood of navigations: forget the pending ones rather than grow.
                st.recent.clear();
            }
        }
        st.recent
            .insert((client, page.to_owned()), (now, version.cloned()));
        if let Some(p) = st.pages.get_mut(page) {
            if version.is_some() && p.version.as_ref() != version {
                // The page changed: what it needs may have too.
                p.version = version.cloned();
                p.hints.clear();
            }
        }
    }

    /// `client` fetched `hint` with `Referer` naming `page`; associates the two if the
    /// client navigated to the page within the window. True if something was learned.
    pub(crate) fn resource_seen(
        &self,
        client: IpAddr,
        page: &str,
        hint: Hint,
        now: Instant,
    ) -> bool {
        if hint.path == page {
            return false;
        }
        let mut st = lock(&self.state);
        let key = (client, page.to_owned());
        let version = match st.recent.get(&key) {
            Some((at, v)) if now.saturating_duration_since(*at) < self.config.window => v.clone(),
            _ => return false,
        };
        if !st.pages.contains_key(page) && st.pages.len() >= self.config.max_pages {
            let victim = st
                .pages
                .iter()
                .min_by_key(|(_, p)| p.used)
                .map(|(k, _)| k.clone());
            if let Some(v) = victim {
                st.pages.remove(&v);
            }
        }
        if self.config.max_pages == 0 {
            return false;
        }
        let p = st.pages.entry(page.to_owned()).or_insert_with(|| Page {
            version,
            hints: Vec::new(),
            used: now,
        });
        if p.hints.len() >= self.config.max_per_page || p.hints.iter().any(|h| h.path == hint.path)
        {
            return false;
        }
        p.hints.push(hint);
        true
    }

    /// What was learned for `page`.
    pub(crate) fn hints(&self, page: &str, now: Instant) -> Vec<Hint> {
        let mut st = lock(&self.state);
        match st.pages.get_mut(page) {
            Some(p) => {
                p.used = now;
                p.hints.clone()
            }
            None => Vec::new(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    fn learner(max_per_page: usize, max_pages: usize) -> Learner {
        Learner::new(LearnConfig {
            max_per_page,
            max_pages,
            ..LearnConfig::default()
        })
    }

    #[test]
    fn learns_within_the_window_from_the_same_client_only() {
        let l = learner(16, 16);
        let t = Instant::now();
        l.page_seen(A, "/", None, t);
        assert!(l.resource_seen(A, "/", Hint::new("/a.css"), t + Duration::from_millis(100)));
        assert!(
            !l.resource_seen(B, "/", Hint::new("/b.css"), t),
            "other client"
        );
        assert!(
            !l.resource_seen(A, "/", Hint::new("/c.css"), t + Duration::from_secs(3)),
            "late"
        );
        assert!(
            !l.resource_seen(A, "/other", Hint::new("/d.css"), t),
            "no navigation"
        );
        let got: Vec<String> = l.hints("/", t).into_iter().map(|h| h.path).collect();
        assert_eq!(got, ["/a.css"]);
    }

    #[test]
    fn capped_per_page_and_in_pages() {
        let l = learner(2, 2);
        let t = Instant::now();
        for page in ["/1", "/2", "/3"] {
            l.page_seen(A, page, None, t);
            for r in ["/a.css", "/b.css", "/c.css"] {
                l.resource_seen(A, page, Hint::new(r), t);
            }
        }
        assert_eq!(l.hints("/3", t).len(), 2);
        let remembered = ["/1", "/2", "/3"]
            .iter()
            .filter(|p| !l.hints(p, t).is_empty())
            .count();
        assert_eq!(remembered, 2);
    }

    #[test]
    fn a_new_page_version_relearns() {
        let l = learner(16, 16);
        let t = Instant::now();
        let v1 = HeaderValue::from_static("\"1\"");
        let v2 = HeaderValue::from_static("\"2\"");
        l.page_seen(A, "/", Some(&v1), t);
        l.resource_seen(A, "/", Hint::new("/old.css"), t);
        l.page_seen(A, "/", Some(&v2), t);
        assert!(l.hints("/", t).is_empty());
        l.resource_seen(A, "/", Hint::new("/new.css"), t);
        assert_eq!(l.hints("/", t)[0].path, "/new.css");
    }
}
