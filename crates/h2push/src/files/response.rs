//! Building responses for a chosen representation, the error responses and redirects.
//!
//! This module owns turning "this variant of this file, for this request" into a
//! `Response<Body>`: preconditions (304/412), `Range` (206/416), HEAD, and the header set of a
//! file response. It takes the header values precomputed by `entry.rs` and clones them (a
//! reference-count increment), so a cached response costs a `HeaderMap` and little else.
//! Which variant to serve, and where it came from, is decided by the service in `mod.rs`.

use std::fs::File;

use bytes::Bytes;
use http::header::{
    HeaderMap, HeaderValue, ACCEPT_RANGES, ALLOW, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH,
    CONTENT_RANGE, CONTENT_TYPE, ETAG, LAST_MODIFIED, LOCATION, RANGE, VARY,
};
use http::request::Parts;
use http::{Method, Response, StatusCode};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use super::conditional::{self, Precondition, Validators};
use super::encoding::Encoding;
use super::entry::Meta;
use super::range::{self, RangeAnswer};
use super::stream::FileBody;
use crate::Body;

/// Where the bytes of the representation come from.
#[derive(Debug)]
pub(crate) enum Source {
    Mem(Bytes),
    File(File),
}

/// The representation chosen for a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan<'a> {
    pub(crate) meta: &'a Meta,
    pub(crate) content_type: &'a HeaderValue,
    pub(crate) encoding: Encoding,
    /// Add `Vary: accept-encoding` (precompressed siblings exist).
    pub(crate) vary: bool,
    pub(crate) cache_control: Option<&'a HeaderValue>,
}

/// True if the request carries a `Range` this service will look at (GET only).
pub(crate) fn wants_range(parts: &Parts) -> bool {
    parts.method == Method::GET && parts.headers.contains_key(RANGE)
}

/// Answers a GET or HEAD request with the planned representation.
pub(crate) fn file(parts: &Parts, plan: Plan<'_>, source: Source) -> Response<Body> {
    let meta = plan.meta;
    let head = parts.method == Method::HEAD;
    let validators = Validators {
        etag: meta.etag.as_bytes(),
        modified: meta.modified_secs,
    };
    match conditional::evaluate(&parts.headers, &validators) {
        Precondition::Proceed => {}
        Precondition::NotModified => {
            let mut headers = HeaderMap::with_capacity(4);
            validator_headers(&mut headers, &plan);
            return with_headers(StatusCode::NOT_MODIFIED, headers, Body::empty());
        }
        Precondition::Failed => return status(StatusCode::PRECONDITION_FAILED, head),
    }

    let len = meta.len;
    let answer = match parts.headers.get(RANGE) {
        Some(value)
            if !head
                && plan.encoding == Encoding::Identity
                && conditional::if_range_holds(&parts.headers, &validators) =>
        {
            range::parse(value.as_bytes(), len)
        }
        _ => RangeAnswer::Ignore,
    };

    let mut headers = HeaderMap::with_capacity(9);
    let (status, start, count) = match answer {
        RangeAnswer::Unsatisfiable => {
            headers.insert(CONTENT_RANGE, header_string(format!("bytes */{len}")));
            headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
            return with_headers(StatusCode::RANGE_NOT_SATISFIABLE, headers, Body::empty());
        }
        RangeAnswer::Partial { start, end } => {
            let count = end - start + 1;
            headers.insert(
                CONTENT_RANGE,
                header_string(format!("bytes {start}-{end}/{len}")),
            );
            headers.insert(CONTENT_LENGTH, HeaderValue::from(count));
            (StatusCode::PARTIAL_CONTENT, start, count)
        }
        RangeAnswer::Ignore => {
            headers.insert(CONTENT_LENGTH, meta.content_length.clone());
            (StatusCode::OK, 0, len)
        }
    };
    headers.insert(CONTENT_TYPE, plan.content_type.clone());
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(coding) = plan.encoding.header_value() {
        headers.insert(CONTENT_ENCODING, coding);
    }
    validator_headers(&mut headers, &plan);

    let body = if head {
        Body::empty()
    } else {
        match source {
            // `start + count <= len` = the buffer's length, so the slice is in bounds.
            Source::Mem(bytes) if start == 0 && count == bytes.len() as u64 => Body::from(bytes),
            Source::Mem(bytes) => Body::from(bytes.slice(start as usize..(start + count) as usize)),
            Source::File(file) => Body::new(FileBody::new(file, start, count)),
        }
    };
    with_headers(status, headers, body)
}

/// The headers a 304 repeats from the 200: ETag, Last-Modified, Cache-Control, Vary.
fn validator_headers(headers: &mut HeaderMap, plan: &Plan<'_>) {
    headers.insert(ETAG, plan.meta.etag.clone());
    if let Some(lm) = &plan.meta.last_modified {
        headers.insert(LAST_MODIFIED, lm.clone());
    }
    if let Some(cc) = plan.cache_control {
        headers.insert(CACHE_CONTROL, cc.clone());
    }
    if plan.vary {
        headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    }
}

fn header_string(s: String) -> HeaderValue {
    // Callers only format digits, spaces, `-`, `/` and `*`.
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn with_headers(status: StatusCode, headers: HeaderMap, body: Body) -> Response<Body> {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

/// A short plain-text response for `status` (no body for HEAD).
pub(crate) fn status(status: StatusCode, head: bool) -> Response<Body> {
    let text = format!(
        "{} {}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let mut headers = HeaderMap::with_capacity(2);
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(text.len()));
    let body = if head {
        Body::empty()
    } else {
        Body::from(text)
    };
    with_headers(status, headers, body)
}

/// 405 with `Allow: GET, HEAD`.
pub(crate) fn method_not_allowed() -> Response<Body> {
    let mut res = status(StatusCode::METHOD_NOT_ALLOWED, false);
    res.headers_mut()
        .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
    res
}

/// 301 to `location` (already a valid, percent-encoded path and query).
pub(crate) fn redirect(location: &str) -> Response<Body> {
    let Ok(value) = HeaderValue::from_str(location) else {
        return status(StatusCode::NOT_FOUND, false);
    };
    let mut headers = HeaderMap::with_capacity(2);
    headers.insert(LOCATION, value);
    headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    with_headers(StatusCode::MOVED_PERMANENTLY, headers, Body::empty())
}

/// Characters escaped in a redirect's path segments (everything not allowed raw in one).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// `/key/?query`, rebuilt from the normalised key so that it can never be `//host/`.
pub(crate) fn redirect_location(key: &str, query: Option<&str>) -> String {
    let mut loc = String::with_capacity(key.len() + 2);
    for seg in key.split('/').filter(|s| !s.is_empty()) {
        loc.push('/');
        loc.extend(utf8_percent_encode(seg, SEGMENT));
    }
    loc.push('/');
    if let Some(q) = query {
        loc.push('?');
        loc.push_str(q);
    }
    loc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_location_is_rebuilt() {
        assert_eq!(redirect_location("docs", None), "/docs/");
        assert_eq!(redirect_location("a/b c", Some("x=1")), "/a/b%20c/?x=1");
        assert_eq!(redirect_location("evil.com", None), "/evil.com/");
        assert_eq!(redirect_location("café", None), "/caf%C3%A9/");
    }
}
