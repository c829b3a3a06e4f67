//! Whether a hinted response will be reused by the page, or asked for again.
//!
//! This module owns one rule, measured in Chromium: the responses a 103 (or a `Link`
//! preload) makes the browser fetch go into its HTTP cache, and the page's own requests read
//! them from there. A response the cache may not reuse without asking — `no-cache`,
//! `no-store`, `max-age=0` — is fetched by the hint and then revalidated by the page: a
//! second request and a round trip, more than the hint saved when the page comes at once.
//! So such resources, when the policy found them itself, are pushed (a push is no cache
//! entry) but not announced; configured rules go as configured. Which `Cache-Control` a file
//! gets is [`crate::files`]'s.
//!
//! It also owns the rule that decides whether a response is anyone's
//! ([`shared_cache_may_store`]): what the learner may hint to every visitor of a dynamic page.

use http::header::{CACHE_CONTROL, SET_COOKIE, VARY};
use http::{HeaderMap, HeaderValue};

use crate::field_list::lists_any;

/// A `Cache-Control` value's directives, names lowercased, arguments unquoted.
fn directives(value: &str) -> impl Iterator<Item = (String, Option<String>)> + '_ {
    value.split(',').map(|directive| {
        let directive = directive.trim().to_ascii_lowercase();
        match directive.split_once('=') {
            Some((n, a)) => (
                n.trim().to_owned(),
                Some(a.trim().trim_matches('"').to_owned()),
            ),
            None => (directive, None),
        }
    })
}

/// Whether a response with this `Cache-Control` is reused from the browser's HTTP cache
/// without revalidation for a while: it has a positive `max-age` (or `s-maxage` is not
/// what browsers read, so it does not count) and neither `no-cache` nor `no-store`. Without
/// the field, browsers use heuristic freshness (from `Last-Modified`): reusable.
///
/// ```
/// use h2push::hints::reused_from_cache;
/// use http::HeaderValue;
/// let v = |s| HeaderValue::from_static(s);
/// assert!(reused_from_cache(Some(&v("public, max-age=31536000, immutable"))));
/// assert!(reused_from_cache(None));
/// assert!(!reused_from_cache(Some(&v("no-cache"))));
/// assert!(!reused_from_cache(Some(&v("max-age=0, must-revalidate"))));
/// ```
pub fn reused_from_cache(cache_control: Option<&HeaderValue>) -> bool {
    let Some(value) = cache_control else {
        return true;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let mut max_age = None;
    for (name, arg) in directives(value) {
        match name.as_str() {
            "no-cache" | "no-store" => return false,
            "max-age" => max_age = arg.and_then(|a| a.parse::<u64>().ok()),
            _ => {}
        }
    }
    // No max-age (say `public` alone): heuristic freshness, as without the field.
    max_age.map_or(true, |age| age > 0)
}

/// Whether a shared cache (a CDN, a proxy) may store this response and hand it to any client
/// (RFC 9111 §3, §3.5), with what CDNs add: no `Cache-Control: private` or `no-store`; to a
/// request with `Authorization`, only when `public`, `s-maxage` or `must-revalidate` allow
/// it; no `Set-Cookie`; no `Vary` on `*`, `Cookie` or `Authorization`. A 200 without any of
/// these is heuristically cacheable (§4.2.2). `authorized`: the request had `Authorization`.
pub(crate) fn shared_cache_may_store(authorized: bool, response: &HeaderMap) -> bool {
    if response.contains_key(SET_COOKIE) {
        return false;
    }
    // A value that is not text might name anything: taken as per user.
    let varies_per_user = response
        .get_all(VARY)
        .iter()
        .any(|v| lists_any(v, &["*", "cookie", "authorization"]).unwrap_or(true));
    if varies_per_user {
        return false;
    }
    let mut allows_authorized = false;
    for value in response.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else {
            return false;
        };
        for (name, _) in directives(value) {
            match name.as_str() {
                "private" | "no-store" => return false,
                "public" | "s-maxage" | "must-revalidate" => allows_authorized = true,
                _ => {}
            }
        }
    }
    allows_authorized || !authorized
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_browser_reuses() {
        for (cc, reused) in [
            ("max-age=60", true),
            ("public, max-age=31536000, immutable", true),
            ("public", true),
            ("private, max-age=10", true),
            ("MAX-AGE=\"5\"", true),
            ("no-cache", false),
            ("No-Store", false),
            ("max-age=0", false),
            ("public, max-age=3600, no-cache", false),
            ("max-age=abc", true),
        ] {
            let v = HeaderValue::from_static(cc);
            assert_eq!(reused_from_cache(Some(&v)), reused, "{cc}");
        }
    }

    #[test]
    fn what_a_shared_cache_may_store() {
        let map = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.append(*k, HeaderValue::from_static(v));
            }
            m
        };
        let (plain, authorized) = (&false, &true);
        for (response, request, stored) in [
            (map(&[]), plain, true),
            (map(&[("cache-control", "max-age=60")]), plain, true),
            (map(&[("cache-control", "no-cache")]), plain, true),
            (
                map(&[("cache-control", "private, max-age=60")]),
                plain,
                false,
            ),
            (map(&[("cache-control", "No-Store")]), plain, false),
            (map(&[("set-cookie", "s=1")]), plain, false),
            (map(&[("vary", "Accept-Encoding, Cookie")]), plain, false),
            (map(&[("vary", "*")]), plain, false),
            (map(&[("vary", "accept-encoding")]), plain, true),
            (map(&[]), authorized, false),
            (
                map(&[("cache-control", "public, max-age=60")]),
                authorized,
                true,
            ),
        ] {
            assert_eq!(
                shared_cache_may_store(*request, &response),
                stored,
                "{response:?} to {request:?}"
            );
        }
    }
}
