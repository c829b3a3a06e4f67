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

use http::HeaderValue;

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
    for directive in value.split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        let (name, arg) = match directive.split_once('=') {
            Some((n, a)) => (
                n.trim().to_owned(),
                Some(a.trim().trim_matches('"').to_owned()),
            ),
            None => (directive.clone(), None),
        };
        match name.as_str() {
            "no-cache" | "no-store" => return false,
            "max-age" => max_age = arg.and_then(|a| a.parse::<u64>().ok()),
            _ => {}
        }
    }
    // No max-age (say `public` alone): heuristic freshness, as without the field.
    max_age.map_or(true, |age| age > 0)
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
}
