//! Content-Type from a file name.
//!
//! This module owns the mapping from a file's extension to the `Content-Type` header value,
//! including the `charset=utf-8` parameter for textual types. It knows nothing about requests;
//! the values it produces are computed once per cached file, never per request.

use std::path::Path;

use http::HeaderValue;

/// Media types outside `text/*` that are textual and get `; charset=utf-8`.
const TEXTUAL: &[&str] = &[
    "application/javascript",
    "application/json",
    "application/ld+json",
    "application/manifest+json",
    "application/xml",
    "application/rss+xml",
    "application/atom+xml",
    "image/svg+xml",
];

/// The `Content-Type` for a file at `path`, guessed from its extension.
///
/// Unknown extensions give `application/octet-stream`. Textual types are labelled UTF-8, the
/// only sensible assumption for files written today.
pub(crate) fn content_type(path: &Path) -> HeaderValue {
    let essence = mime_guess::from_path(path)
        .first_raw()
        .unwrap_or("application/octet-stream");
    if essence.starts_with("text/") || TEXTUAL.contains(&essence) {
        // Every `first_raw` value is a plain ASCII token, so this cannot fail; fall back to
        // the bare type if it ever did.
        HeaderValue::from_str(&format!("{essence}; charset=utf-8"))
            .unwrap_or_else(|_| HeaderValue::from_static(essence))
    } else {
        HeaderValue::from_static(essence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct(name: &str) -> String {
        content_type(Path::new(name)).to_str().unwrap().to_owned()
    }

    #[test]
    fn text_types_get_charset() {
        assert_eq!(ct("a/index.html"), "text/html; charset=utf-8");
        assert_eq!(ct("style.css"), "text/css; charset=utf-8");
        assert!(ct("app.js").ends_with("javascript; charset=utf-8"));
        assert_eq!(ct("m.mjs"), "application/javascript; charset=utf-8");
        assert_eq!(ct("d.json"), "application/json; charset=utf-8");
        assert_eq!(ct("i.svg"), "image/svg+xml; charset=utf-8");
    }

    #[test]
    fn binary_types_have_no_charset() {
        assert_eq!(ct("p.png"), "image/png");
        assert_eq!(ct("w.wasm"), "application/wasm");
        assert_eq!(ct("noext"), "application/octet-stream");
        assert_eq!(ct("x.unknownext"), "application/octet-stream");
    }
}
