//! The proxy's memory of each route's upstream hints.
//!
//! This module owns a small bounded map from a request path to the hints the upstream gave
//! for it last time — its preload `Link` values (in a 103 or the final response), then what
//! the `<head>` of its HTML named (`head_scan.rs`) — as Cloudflare's Early Hints cache
//! does: the next request for that path gets its 103 and pushes at once, before the
//! upstream answers. Every successful response replaces its path's entry (one with no hints
//! removes it), and a failed one forgets it. Each entry holds at most
//! [`MAX_HINTS_PER_ROUTE`] hints, Link hints first, one per path; when the map is full the
//! least recently refreshed entry goes. Sending the hints is the proxy service's business.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http::HeaderValue;

use crate::hints::{parse_links, Hint};

/// At most this many hints are remembered for one route.
pub(crate) const MAX_HINTS_PER_ROUTE: usize = 32;

/// The hints remembered for one path: one `Link` value per hint (for the 103) and the hints
/// themselves (for pushing).
#[derive(Debug)]
pub(crate) struct Remembered {
    pub links: Vec<HeaderValue>,
    pub hints: Vec<Hint>,
}

#[derive(Debug)]
pub(crate) struct RouteHints {
    capacity: usize,
    inner: Mutex<Map>,
}

#[derive(Debug, Default)]
struct Map {
    clock: u64,
    entries: HashMap<String, (u64, Arc<Remembered>)>,
}

impl RouteHints {
    pub fn new(capacity: usize) -> Self {
        RouteHints {
            capacity,
            inner: Mutex::default(),
        }
    }

    pub fn get(&self, path: &str) -> Option<Arc<Remembered>> {
        if self.capacity == 0 {
            return None;
        }
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.entries.get(path).map(|(_, r)| r.clone())
    }

    /// Replaces `path`'s entry with the preload links among `links`, then the `scanned`
    /// hints of its HTML, without repeating a path and at most [`MAX_HINTS_PER_ROUTE`] in
    /// all (none: forgets it).
    pub fn refresh<'a>(
        &self,
        path: &str,
        links: impl IntoIterator<Item = &'a HeaderValue>,
        scanned: Vec<Hint>,
    ) {
        if self.capacity == 0 {
            return;
        }
        let mut hints: Vec<Hint> = Vec::new();
        let from_links = links
            .into_iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(parse_links)
            .filter_map(|l| l.to_hint());
        for hint in from_links.chain(scanned) {
            if hints.len() == MAX_HINTS_PER_ROUTE {
                break;
            }
            if !hints.iter().any(|h| h.path == hint.path) {
                hints.push(hint);
            }
        }
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if hints.is_empty() {
            map.entries.remove(path);
            return;
        }
        map.clock += 1;
        let stamp = map.clock;
        if !map.entries.contains_key(path) && map.entries.len() >= self.capacity {
            let oldest = map
                .entries
                .iter()
                .min_by_key(|(_, (s, _))| *s)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                map.entries.remove(&k);
            }
        }
        let links = hints.iter().map(Hint::to_link).collect();
        let remembered = Arc::new(Remembered { links, hints });
        map.entries.insert(path.to_owned(), (stamp, remembered));
    }

    /// Forgets `path` (its page failed or is gone).
    pub fn forget(&self, path: &str) {
        if self.capacity == 0 {
            return;
        }
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.entries.remove(path);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().unwrap().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &'static str) -> HeaderValue {
        HeaderValue::from_static(s)
    }

    #[test]
    fn remembers_preload_links_only_and_forgets_on_refresh() {
        let m = RouteHints::new(8);
        m.refresh(
            "/",
            [
                &v("</a.css>; rel=preload; as=style"),
                &v("</x>; rel=canonical"),
            ],
            Vec::new(),
        );
        let r = m.get("/").unwrap();
        assert_eq!(r.links.len(), 1);
        assert_eq!(r.hints[0].path, "/a.css");
        m.refresh("/", [], Vec::new());
        assert!(m.get("/").is_none());
    }

    #[test]
    fn scanned_hints_follow_link_hints_once_each_and_bounded() {
        let m = RouteHints::new(8);
        let scanned = vec![
            Hint::new("/b.js").with_as("script"),
            Hint::new("/a.css"),
            Hint::new("/c.css"),
        ];
        m.refresh("/", [&v("</a.css>; rel=preload; as=style")], scanned);
        let r = m.get("/").unwrap();
        let paths: Vec<&str> = r.hints.iter().map(|h| h.path.as_str()).collect();
        assert_eq!(paths, ["/a.css", "/b.js", "/c.css"]);
        assert_eq!(r.links.len(), 3);

        let many = (0..100).map(|i| Hint::new(format!("/{i}.css"))).collect();
        m.refresh("/", [], many);
        assert_eq!(m.get("/").unwrap().hints.len(), MAX_HINTS_PER_ROUTE);
        m.forget("/");
        assert!(m.get("/").is_none());
    }

    #[test]
    fn bounded_evicts_the_oldest() {
        let m = RouteHints::new(2);
        let l = v("</a.css>; rel=preload; as=style");
        m.refresh("/1", [&l], Vec::new());
        m.refresh("/2", [&l], Vec::new());
        m.refresh("/1", [&l], Vec::new());
        m.refresh("/3", [&l], Vec::new());
        assert_eq!(m.len(), 2);
        assert!(m.get("/2").is_none());
        assert!(m.get("/1").is_some() && m.get("/3").is_some());
    }

    #[test]
    fn zero_capacity_remembers_nothing() {
        let m = RouteHints::new(0);
        m.refresh("/", [&v("</a.css>; rel=preload; as=style")], Vec::new());
        assert!(m.get("/").is_none());
    }
}
