//! The demo's front end, embedded in the binary: pages and `/static/*` files.
//!
//! This module owns the table of embedded files (`demo-assets/` at build time, via
//! `include_bytes!`, so the binary is self-contained and needs no build step or extra crate)
//! and serving them: content type, a strong `ETag` (a hash of the bytes) with `If-None-Match`
//! → 304, and a short freshness lifetime ([`CACHE_CONTROL_VALUE`]). The lifetime matters for
//! 103 Early Hints: Chrome puts the hinted responses in its HTTP cache and the page's own
//! requests then read them from there; with `no-cache` it revalidates instead, and the
//! resources show up as fetched by the page, not by the hints. Which page pushes or hints
//! what is [`super::routes`]'s.

use std::sync::LazyLock;

use axum::body::Body;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use http::{HeaderMap, HeaderValue, StatusCode};

/// `Cache-Control` of every asset: fresh for five minutes, then revalidated by `ETag`.
pub const CACHE_CONTROL_VALUE: &str = "public, max-age=300";

/// One embedded file.
pub struct Asset {
    /// The name under `demo-assets/`, e.g. `static/app.js` or `index.html`.
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $ty:expr) => {
        Asset {
            name: $name,
            content_type: $ty,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/demo-assets/", $name)),
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Every embedded file.
pub static ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("fetch-demo.html", HTML),
    asset!("sse-demo.html", HTML),
    asset!("fetch-sse-chatbot.html", HTML),
    asset!("compare.html", HTML),
    asset!("static/style.css", CSS),
    asset!("static/app.js", JS),
    asset!("static/sse-reader.js", JS),
    asset!("static/fetch-demo.js", JS),
    asset!("static/sse-demo.js", JS),
    asset!("static/chatbot.js", JS),
    asset!("static/compare.js", JS),
    asset!("static/favicon.svg", "image/svg+xml"),
    asset!("static/push-check.txt", "text/plain; charset=utf-8"),
];

/// The ETag of each asset, in [`ASSETS`] order.
static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            HeaderValue::from_str(&format!("\"{:016x}\"", fnv1a(a.bytes)))
                .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
        })
        .collect()
});

/// FNV-1a, 64 bits: enough to tell versions of a file apart.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The asset called `name` and its index, if embedded.
fn find(name: &str) -> Option<(usize, &'static Asset)> {
    ASSETS.iter().enumerate().find(|(_, a)| a.name == name)
}

/// A page's HTML as text (the pages are UTF-8 by construction; a bad one renders empty).
pub fn page_text(name: &str) -> &'static str {
    find(name)
        .and_then(|(_, a)| std::str::from_utf8(a.bytes).ok())
        .unwrap_or("")
}

/// `GET /static/{*path}`: an embedded file, or 404.
pub async fn serve_static(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&format!("static/{path}"), &headers)
}

/// Serves the asset `name` with its validators, answering `If-None-Match` with 304.
pub fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some((i, asset)) = find(name) else {
        return super::routes::not_found();
    };
    let etag = ETAGS[i].clone();
    let fresh = headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || t.trim().trim_start_matches("W/") == etag);
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::new(Body::from(asset.bytes))
    };
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(ETAG, etag);
    h.insert(CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL_VALUE));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_found_and_typed() {
        for a in ASSETS {
            assert!(!a.bytes.is_empty(), "{} is empty", a.name);
            let expected = match a.name.rsplit('.').next() {
                Some("html") => HTML,
                Some("css") => CSS,
                Some("js") => JS,
                _ => a.content_type,
            };
            assert_eq!(a.content_type, expected, "{}", a.name);
        }
        assert!(page_text("index.html").contains("<html"));
    }

    #[test]
    fn if_none_match_gives_304() {
        let first = serve("static/app.js", &HeaderMap::new());
        assert_eq!(first.status(), StatusCode::OK);
        let etag = first.headers()[ETAG].clone();
        let mut h = HeaderMap::new();
        h.insert(IF_NONE_MATCH, etag);
        assert_eq!(
            serve("static/app.js", &h).status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(serve("static/nope.js", &h).status(), StatusCode::NOT_FOUND);
    }
}
