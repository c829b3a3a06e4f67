//! Which responses are compressed, and what compressing does to their headers.
//!
//! This module owns the decisions of on-the-fly compression that need no body: the content
//! types worth compressing, the size floor, the responses never touched (already encoded,
//! ranges, `no-transform`, bodiless statuses), `Vary`, and the entity tags of compressed
//! representations (RFC 9110 §8.8.3): a compressed response's strong ETag gets the coding
//! as a suffix inside the quotes (`"abc"` becomes `"abc-br"`), so it differs from the
//! identity one's, and a conditional request naming such a tag is matched against the
//! inner service's tag without the suffix.

use http::header::{
    HeaderMap, ACCEPT_RANGES, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE,
    CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY,
};
use http::{HeaderValue, StatusCode};

use crate::field_list::lists_any;
use crate::files::encoding::Encoding;

/// Media types outside `text/*` that compress well. `+json` and `+xml` types are matched by
/// their suffix; images other than SVG and icons, video, audio, woff/woff2 and archives are
/// already compressed and never listed.
const COMPRESSIBLE: &[&str] = &[
    "application/javascript",
    "application/x-javascript",
    "application/ecmascript",
    "application/json",
    "application/xml",
    "application/wasm",
    "application/vnd.ms-fontobject",
    "application/x-font-ttf",
    "application/x-font-otf",
    "font/ttf",
    "font/otf",
    "font/collection",
    "image/svg+xml",
    "image/x-icon",
    "image/vnd.microsoft.icon",
    "image/bmp",
];

/// True if a response of this `Content-Type` is worth compressing. `text/event-stream` is
/// not: an event must reach the client when it is sent, not when a compressor's block fills.
pub(crate) fn compressible(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "text/event-stream" {
        return false;
    }
    essence.starts_with("text/")
        || COMPRESSIBLE.contains(&essence.as_str())
        || ((essence.starts_with("application/") || essence.starts_with("image/"))
            && (essence.ends_with("+json") || essence.ends_with("+xml")))
}

/// The coding's name as an ETag suffix (`-br`, `-zstd`, `-gzip`); `None` for identity.
fn suffix(coding: Encoding) -> Option<&'static str> {
    match coding {
        Encoding::Identity => None,
        Encoding::Br => Some("-br"),
        Encoding::Zstd => Some("-zstd"),
        Encoding::Gzip => Some("-gzip"),
    }
}

/// `"abc"` → `"abc-br"`, `W/"abc"` → `W/"abc-br"`; `None` if `tag` is not a quoted tag.
pub(crate) fn tagged(tag: &[u8], coding: Encoding) -> Option<HeaderValue> {
    let suffix = suffix(coding)?;
    let body = tag.strip_suffix(b"\"")?;
    if !body.contains(&b'"') {
        return None;
    }
    let mut v = Vec::with_capacity(tag.len() + suffix.len());
    v.extend_from_slice(body);
    v.extend_from_slice(suffix.as_bytes());
    v.push(b'"');
    HeaderValue::from_bytes(&v).ok()
}

/// Adds to `If-None-Match` the inner service's form of every tag carrying `coding`'s suffix
/// (`"abc-br"` adds `"abc"`), so that the inner service can answer 304 for a compressed
/// representation it never saw. Returns the original field values when it added any, to
/// put the suffix back on a 304's ETag ([`not_modified_etag`]).
pub(crate) fn widen_if_none_match(headers: &mut HeaderMap, coding: Encoding) -> Option<String> {
    let suffix = suffix(coding)?;
    let mut original = String::new();
    for v in headers.get_all(IF_NONE_MATCH) {
        let v = v.to_str().ok()?;
        if !original.is_empty() {
            original.push_str(", ");
        }
        original.push_str(v);
    }
    let mut added = Vec::new();
    for item in original.split(',') {
        let item = item.trim();
        if let Some(base) = item.strip_suffix('"').and_then(|b| b.strip_suffix(suffix)) {
            added.push(format!("{base}\""));
        }
    }
    if added.is_empty() {
        return None;
    }
    let widened = format!("{original}, {}", added.join(", "));
    headers.insert(IF_NONE_MATCH, HeaderValue::from_str(&widened).ok()?);
    Some(original)
}

/// For a 304 to a request widened by [`widen_if_none_match`]: the ETag to send, when the
/// client named the inner tag with `coding`'s suffix (it holds the compressed form).
pub(crate) fn not_modified_etag(
    headers: &HeaderMap,
    original: &str,
    coding: Encoding,
) -> Option<HeaderValue> {
    let etag = headers.get(ETAG)?;
    let want = tagged(etag.as_bytes(), coding)?;
    let want = want.to_str().ok()?;
    original
        .split(',')
        .any(|item| {
            let item = item.trim();
            item == want
                || item.strip_prefix("W/") == Some(want)
                || want.strip_prefix("W/") == Some(item)
        })
        .then(|| HeaderValue::from_str(want).ok())
        .flatten()
}

/// True if a response with this status and these headers may be compressed (ignoring the
/// client's wishes and the size): a body-carrying status other than 206, a compressible
/// type, no `Content-Encoding`, no `Content-Range`, no `Cache-Control: no-transform`.
pub(crate) fn eligible(status: StatusCode, headers: &HeaderMap) -> bool {
    if status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::PARTIAL_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || headers.contains_key(CONTENT_ENCODING)
        || headers.contains_key(CONTENT_RANGE)
    {
        return false;
    }
    let no_transform = headers
        .get_all(CACHE_CONTROL)
        .iter()
        .any(|v| lists_any(v, &["no-transform"]).unwrap_or(false));
    if no_transform {
        return false;
    }
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(compressible)
}

/// The response's length from `Content-Length`, if it states one.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Adds `accept-encoding` to `Vary` unless it (or `*`) is there already.
pub(crate) fn add_vary(headers: &mut HeaderMap) {
    let present = headers
        .get_all(VARY)
        .iter()
        .any(|v| lists_any(v, &["*", "accept-encoding"]).unwrap_or(false));
    if !present {
        headers.append(VARY, HeaderValue::from_static("accept-encoding"));
    }
}

/// The header changes of a compressed representation: `Content-Encoding`, the suffixed
/// ETag, no `Content-Length` (the caller sets it when it knows the compressed length) and
/// no `Accept-Ranges` (ranges are served from the identity representation only).
pub(crate) fn mark_compressed(headers: &mut HeaderMap, coding: Encoding) {
    if let Some(v) = coding.header_value() {
        headers.insert(CONTENT_ENCODING, v);
    }
    headers.remove(CONTENT_LENGTH);
    headers.remove(ACCEPT_RANGES);
    if let Some(etag) = headers.get(ETAG) {
        match tagged(etag.as_bytes(), coding) {
            Some(t) => {
                headers.insert(ETAG, t);
            }
            None => {
                headers.remove(ETAG);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types() {
        for t in [
            "text/html; charset=utf-8",
            "text/css",
            "application/javascript; charset=utf-8",
            "application/json",
            "application/manifest+json",
            "application/ld+json",
            "image/svg+xml; charset=utf-8",
            "application/wasm",
            "font/ttf",
            "APPLICATION/XML",
        ] {
            assert!(compressible(t), "{t}");
        }
        for t in [
            "text/event-stream",
            "text/event-stream; charset=utf-8",
            "image/png",
            "image/jpeg",
            "video/mp4",
            "font/woff2",
            "application/zip",
            "application/octet-stream",
            "application/grpc",
            "",
        ] {
            assert!(!compressible(t), "{t}");
        }
    }

    #[test]
    fn etags() {
        assert_eq!(tagged(b"\"abc\"", Encoding::Br).unwrap(), "\"abc-br\"");
        assert_eq!(
            tagged(b"W/\"abc\"", Encoding::Gzip).unwrap(),
            "W/\"abc-gzip\""
        );
        assert_eq!(tagged(b"abc", Encoding::Zstd), None);
        assert_eq!(tagged(b"\"abc\"", Encoding::Identity), None);
    }

    #[test]
    fn if_none_match_round_trip() {
        let mut h = HeaderMap::new();
        h.insert(IF_NONE_MATCH, HeaderValue::from_static("\"x\", \"abc-br\""));
        let original = widen_if_none_match(&mut h, Encoding::Br).unwrap();
        assert_eq!(h[IF_NONE_MATCH], "\"x\", \"abc-br\", \"abc\"");
        let mut res = HeaderMap::new();
        res.insert(ETAG, HeaderValue::from_static("\"abc\""));
        assert_eq!(
            not_modified_etag(&res, &original, Encoding::Br).unwrap(),
            "\"abc-br\""
        );
        res.insert(ETAG, HeaderValue::from_static("\"x\""));
        assert_eq!(not_modified_etag(&res, &original, Encoding::Br), None);
        // Another coding's suffix is left alone.
        let mut h = HeaderMap::new();
        h.insert(IF_NONE_MATCH, HeaderValue::from_static("\"abc-gzip\""));
        assert_eq!(widen_if_none_match(&mut h, Encoding::Br), None);
        assert_eq!(h[IF_NONE_MATCH], "\"abc-gzip\"");
    }

    #[test]
    fn never_touched() {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
        assert!(eligible(StatusCode::OK, &h));
        assert!(eligible(StatusCode::NOT_FOUND, &h));
        assert!(!eligible(StatusCode::PARTIAL_CONTENT, &h));
        assert!(!eligible(StatusCode::NO_CONTENT, &h));
        let mut enc = h.clone();
        enc.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        assert!(!eligible(StatusCode::OK, &enc));
        let mut nt = h.clone();
        nt.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, No-Transform"),
        );
        assert!(!eligible(StatusCode::OK, &nt));
    }

    #[test]
    fn vary_once() {
        let mut h = HeaderMap::new();
        h.insert(VARY, HeaderValue::from_static("origin, Accept-Encoding"));
        add_vary(&mut h);
        assert_eq!(h.get_all(VARY).iter().count(), 1);
        let mut h = HeaderMap::new();
        h.insert(VARY, HeaderValue::from_static("origin"));
        add_vary(&mut h);
        assert_eq!(h.get_all(VARY).iter().count(), 2);
    }
}
