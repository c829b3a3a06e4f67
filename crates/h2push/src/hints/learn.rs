//! Learned hints: which sub-resources a page needs, from what clients fetch after it.
//!
//! This module owns Jetty's `PushCacheFilter` idea, keyed by connection rather than by
//! client address (NAT and proxies put many users behind one address). When a client
//! navigates to a page, the page and the connection (the client's address *and port*) are
//! remembered for a short window; a sub-resource request on that connection, inside the
//! window, whose `Referer` names the page or one of the stylesheets hinted for it, is then
//! associated with the page, with the relation and credentials mode a preload needs to
//! match it (from `Sec-Fetch-Dest` and `Sec-Fetch-Mode`). Later requests for the page get
//! the associations as hints (push and 103 alike).
//!
//! The same window checks the hints: a resource announced to the navigation and then
//! requested twice on its connection was not matched by the browser (a preload it could not
//! use), so it is never hinted for that page again. Memory is bounded four ways: pages
//! remembered, resources per page (Jetty's `maxAssociations`), refused hints per page, and
//! pending navigations. A page whose version (ETag) changes starts learning afresh. Whether a
//! page may be learned at all and what counts as a sub-resource request are the policy's
//! decisions; for a *dynamic* page (one not served from a static file) this module adds two
//! conditions of its own: the sub-resource's response could be stored by a shared cache (so
//! it is no one user's), and two different connections fetched it after the page (so it is
//! no accident of one visit).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::HeaderValue;

use super::link::Hint;

/// Connections with pending navigations remembered at most (they expire after the window
/// anyway).
const MAX_RECENT: usize = 4096;
/// Pending navigations of one connection at most (tabs loading at once).
const MAX_RECENT_PER_CONN: usize = 8;

/// For which pages hints are learned.
///
/// ```
/// assert_eq!(h2push::hints::LearnMode::default(), h2push::hints::LearnMode::Shared);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LearnMode {
    /// Never.
    Off,
    /// Pages served from static files (the policy's [`StaticFiles`](crate::StaticFiles)):
    /// their sub-resources change only when the file does.
    Static,
    /// Static pages as [`LearnMode::Static`]; dynamic pages too, but only the sub-resources
    /// any visitor could be given: responses a shared cache may store (no `private`,
    /// `no-store`, `Set-Cookie` or `Vary` on cookies; none to an `Authorization`), fetched
    /// after the page on two different connections.
    #[default]
    Shared,
    /// Every page, dynamic routes included, every sub-resource (which may depend on the user).
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
            mode: LearnMode::Shared,
            window: Duration::from_secs(2),
            max_per_page: 16,
            max_pages: 1024,
        }
    }
}

/// Hints refused per page at most (the oldest is forgotten).
const MAX_REFUSED: usize = 32;
/// Sub-resources of a dynamic page seen on one connection and waiting for a second, per page
/// at most (the oldest is forgotten).
const MAX_UNCONFIRMED: usize = 32;

/// The learned associations.
#[derive(Debug)]
pub(crate) struct Learner {
    config: LearnConfig,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Connection → its navigations still in their window (a few at most), newest last.
    recent: HashMap<SocketAddr, Vec<Navigation>>,
    pages: HashMap<String, Page>,
}

/// One navigation, for the length of the window.
#[derive(Debug)]
struct Navigation {
    page: String,
    at: Instant,
    version: Option<HeaderValue>,
    /// Not a static file: only shareable, confirmed sub-resources are learned for it.
    dynamic: bool,
    /// Paths whose requests count as the page's own: the page and its hinted stylesheets.
    referers: Vec<String>,
    /// The hints announced to it, and how often each was requested since.
    announced: Vec<(String, u8)>,
}

#[derive(Debug, Default)]
struct Page {
    version: Option<HeaderValue>,
    hints: Vec<Hint>,
    /// Hints the browser fetched again after they were announced: never hinted again.
    refused: Vec<String>,
    /// A dynamic page's sub-resources seen on one connection so far, with that connection.
    unconfirmed: Vec<(String, SocketAddr)>,
    used: Option<Instant>,
}

/// What the policy tells the learner of one navigation.
pub(crate) struct Navigated<'a> {
    pub conn: SocketAddr,
    pub page: &'a str,
    pub version: Option<&'a HeaderValue>,
    /// Not served from a static file (see the module's paragraph).
    pub dynamic: bool,
    /// The stylesheets hinted for it (their sub-resources have them as `Referer`).
    pub stylesheets: Vec<String>,
    /// What was announced to it (103 or `Link: rel=preload`).
    pub announced: Vec<String>,
}

/// One sub-resource request, as the learner sees it.
pub(crate) struct Fetched<'a> {
    pub conn: SocketAddr,
    pub path: &'a str,
    /// The `Referer`'s path, when it names this origin.
    pub referer: Option<&'a str>,
    /// What to hint for it, if it may be learned (a success, of a learnable kind).
    pub hint: Option<Hint>,
    /// A shared cache could store its response (see [`super::reuse::shared_cache_may_store`]).
    pub shareable: bool,
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

    /// A connection navigated to a page.
    pub(crate) fn page_seen(&self, nav: Navigated<'_>, now: Instant) {
        let window = self.config.window;
        let mut st = lock(&self.state);
        if st.recent.len() >= MAX_RECENT {
            st.recent.retain(|_, navs| {
                navs.retain(|n| now.saturating_duration_since(n.at) < window);
                !navs.is_empty()
            });
            if st.recent.len() >= MAX_RECENT {
                // A flood of navigations: forget the pending ones rather than grow.
                st.recent.clear();
            }
        }
        let mut referers = nav.stylesheets;
        referers.push(nav.page.to_owned());
        let navs = st.recent.entry(nav.conn).or_default();
        navs.retain(|n| n.page != nav.page && now.saturating_duration_since(n.at) < window);
        if navs.len() >= MAX_RECENT_PER_CONN {
            navs.remove(0);
        }
        navs.push(Navigation {
            page: nav.page.to_owned(),
            at: now,
            version: nav.version.cloned(),
            dynamic: nav.dynamic,
            referers,
            announced: nav.announced.into_iter().map(|p| (p, 0)).collect(),
        });
        if let Some(p) = st.pages.get_mut(nav.page) {
            if nav.version.is_some() && p.version.as_ref() != nav.version {
                // The page changed: what it needs may have too.
                p.version = nav.version.cloned();
                p.hints.clear();
                p.refused.clear();
            }
        }
    }

    /// A sub-resource was requested on a connection: counts it against the hints announced
    /// to the connection's recent navigations, and learns it for the navigation its `Referer`
    /// names. True if something was learned.
    pub(crate) fn resource_seen(&self, fetched: Fetched<'_>, now: Instant) -> bool {
        let window = self.config.window;
        let mut st = lock(&self.state);
        let State { recent, pages } = &mut *st;
        let mut learn_for = None;
        let navs = recent
            .get_mut(&fetched.conn)
            .map_or(&mut [][..], |v| &mut v[..]);
        for nav in navs.iter_mut().rev() {
            if now.saturating_duration_since(nav.at) >= window {
                continue;
            }
            if let Some((_, n)) = nav.announced.iter_mut().find(|(p, _)| p == fetched.path) {
                *n = n.saturating_add(1);
                if *n == 2 {
                    refuse(pages, &nav.page, fetched.path);
                }
            }
            if learn_for.is_none()
                && fetched
                    .referer
                    .is_some_and(|r| nav.referers.iter().any(|p| p == r))
                && nav.page != fetched.path
            {
                learn_for = Some((nav.page.clone(), nav.version.clone(), nav.dynamic));
            }
        }
        let (Some((page, version, dynamic)), Some(hint)) = (learn_for, fetched.hint) else {
            return false;
        };
        if dynamic && !fetched.shareable {
            return false;
        }
        if self.config.max_pages == 0 {
            return false;
        }
        if !pages.contains_key(&page) && pages.len() >= self.config.max_pages {
            let victim = pages
                .iter()
                .min_by_key(|(_, p)| p.used)
                .map(|(k, _)| k.clone());
            if let Some(v) = victim {
                pages.remove(&v);
            }
        }
        let p = pages.entry(page).or_insert_with(|| Page {
            version,
            used: Some(now),
            ..Page::default()
        });
        if p.hints.len() >= self.config.max_per_page
            || p.hints.iter().any(|h| h.path == hint.path)
            || p.refused.contains(&hint.path)
        {
            return false;
        }
        if dynamic && !confirmed(&mut p.unconfirmed, &hint.path, fetched.conn) {
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
                p.used = Some(now);
                p.hints.clone()
            }
            None => Vec::new(),
        }
    }

    /// The hints the browser could not use for `page` (it fetched them again).
    pub(crate) fn refused(&self, page: &str) -> Vec<String> {
        lock(&self.state)
            .pages
            .get(page)
            .map(|p| p.refused.clone())
            .unwrap_or_default()
    }
}

/// Whether a dynamic page's sub-resource `path`, now fetched on `conn`, was fetched on
/// another connection before; if not, remembers this one (boundedly) and says no.
fn confirmed(unconfirmed: &mut Vec<(String, SocketAddr)>, path: &str, conn: SocketAddr) -> bool {
    match unconfirmed.iter().position(|(p, _)| p == path) {
        Some(i) if unconfirmed[i].1 != conn => {
            unconfirmed.remove(i);
            true
        }
        Some(_) => false,
        None => {
            if unconfirmed.len() >= MAX_UNCONFIRMED {
                unconfirmed.remove(0);
            }
            unconfirmed.push((path.to_owned(), conn));
            false
        }
    }
}

/// Marks `path` as a hint `page` must not get again (the learned hint goes too).
fn refuse(pages: &mut HashMap<String, Page>, page: &str, path: &str) {
    let p = pages.entry(page.to_owned()).or_default();
    p.hints.retain(|h| h.path != path);
    if !p.refused.iter().any(|r| r == path) {
        if p.refused.len() >= MAX_REFUSED {
            p.refused.remove(0);
        }
        p.refused.push(path.to_owned());
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two connections from one address (two users behind one NAT), and a third elsewhere.
    fn conn(n: u16) -> SocketAddr {
        match n {
            3 => SocketAddr::from(([10, 0, 0, 2], 40000)),
            n => SocketAddr::from(([10, 0, 0, 1], 40000 + n)),
        }
    }

    fn learner(max_per_page: usize, max_pages: usize) -> Learner {
        Learner::new(LearnConfig {
            max_per_page,
            max_pages,
            ..LearnConfig::default()
        })
    }

    fn nav<'a>(c: u16, page: &'a str, version: Option<&'a HeaderValue>) -> Navigated<'a> {
        Navigated {
            conn: conn(c),
            page,
            version,
            dynamic: false,
            stylesheets: vec!["/site.css".into()],
            announced: Vec::new(),
        }
    }

    fn fetched<'a>(c: u16, path: &'a str, referer: &'a str) -> Fetched<'a> {
        Fetched {
            conn: conn(c),
            path,
            referer: Some(referer),
            hint: Some(Hint::new(path)),
            shareable: true,
        }
    }

    fn paths(l: &Learner, page: &str) -> Vec<String> {
        l.hints(page, Instant::now())
            .into_iter()
            .map(|h| h.path)
            .collect()
    }

    #[test]
    fn learns_within_the_window_on_the_same_connection_only() {
        let l = learner(16, 16);
        let t = Instant::now();
        l.page_seen(nav(1, "/", None), t);
        let soon = t + Duration::from_millis(100);
        assert!(l.resource_seen(fetched(1, "/a.css", "/"), soon));
        assert!(
            !l.resource_seen(fetched(2, "/b.css", "/"), soon),
            "another connection from the same address"
        );
        assert!(
            !l.resource_seen(fetched(3, "/b.css", "/"), soon),
            "other client"
        );
        assert!(
            !l.resource_seen(fetched(1, "/c.css", "/"), t + Duration::from_secs(3)),
            "late"
        );
        assert!(
            !l.resource_seen(fetched(1, "/d.css", "/other"), soon),
            "no navigation"
        );
        assert_eq!(paths(&l, "/"), ["/a.css"]);
    }

    #[test]
    fn a_stylesheets_fetches_belong_to_its_page() {
        let l = learner(16, 16);
        let t = Instant::now();
        l.page_seen(nav(1, "/", None), t);
        assert!(l.resource_seen(fetched(1, "/font.woff2", "/site.css"), t));
        assert!(!l.resource_seen(fetched(1, "/x.png", "/unrelated.css"), t));
        assert_eq!(paths(&l, "/"), ["/font.woff2"]);
    }

    #[test]
    fn a_hint_fetched_twice_is_refused_for_the_page() {
        let l = learner(16, 16);
        let t = Instant::now();
        let mut n = nav(1, "/", None);
        n.announced = vec!["/app.js".into(), "/ok.css".into()];
        l.page_seen(n, t);
        assert!(l.resource_seen(fetched(1, "/app.js", "/"), t));
        assert!(
            !l.resource_seen(fetched(1, "/app.js", "/"), t),
            "known already"
        );
        l.resource_seen(fetched(1, "/ok.css", "/"), t);
        assert_eq!(l.refused("/"), ["/app.js"]);
        assert_eq!(paths(&l, "/"), ["/ok.css"], "the refused hint is forgotten");
        // Never learned again, from this connection or another.
        l.page_seen(nav(3, "/", None), t);
        assert!(!l.resource_seen(fetched(3, "/app.js", "/"), t));
        // Two users fetching it once each refuse nothing.
        let mut a = nav(1, "/two", None);
        a.announced = vec!["/b.js".into()];
        let mut b = nav(2, "/two", None);
        b.announced = vec!["/b.js".into()];
        l.page_seen(a, t);
        l.page_seen(b, t);
        l.resource_seen(fetched(1, "/b.js", "/two"), t);
        l.resource_seen(fetched(2, "/b.js", "/two"), t);
        assert!(l.refused("/two").is_empty());
    }

    #[test]
    fn capped_per_page_and_in_pages() {
        let l = learner(2, 2);
        let t = Instant::now();
        for page in ["/1", "/2", "/3"] {
            l.page_seen(nav(1, page, None), t);
            for r in ["/a.css", "/b.css", "/c.css"] {
                l.resource_seen(fetched(1, r, page), t);
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
        l.page_seen(nav(1, "/", Some(&v1)), t);
        l.resource_seen(fetched(1, "/old.css", "/"), t);
        l.page_seen(nav(1, "/", Some(&v2)), t);
        assert!(l.hints("/", t).is_empty());
        l.resource_seen(fetched(1, "/new.css", "/"), t);
        assert_eq!(l.hints("/", t)[0].path, "/new.css");
    }

    #[test]
    fn a_dynamic_page_learns_only_shareable_resources_seen_on_two_connections() {
        let l = learner(16, 16);
        let t = Instant::now();
        let dynamic = |c| Navigated {
            dynamic: true,
            ..nav(c, "/app", None)
        };
        let private = |c| Fetched {
            shareable: false,
            ..fetched(c, "/me.png", "/app")
        };
        l.page_seen(dynamic(1), t);
        assert!(
            !l.resource_seen(fetched(1, "/hero.png", "/app"), t),
            "one visit"
        );
        assert!(
            !l.resource_seen(fetched(1, "/hero.png", "/app"), t),
            "same one"
        );
        assert!(!l.resource_seen(private(1), t));
        l.page_seen(dynamic(2), t);
        assert!(!l.resource_seen(private(2), t), "never shareable");
        assert!(
            l.resource_seen(fetched(2, "/hero.png", "/app"), t),
            "confirmed"
        );
        assert_eq!(paths(&l, "/app"), ["/hero.png"]);
        // A static page needs neither condition.
        l.page_seen(nav(3, "/", None), t);
        let unshared = Fetched {
            shareable: false,
            ..fetched(3, "/me.png", "/")
        };
        assert!(l.resource_seen(unshared, t));
    }
}
