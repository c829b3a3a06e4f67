//! Conditional requests (RFC 9110 §13): `If-Match`, `If-Unmodified-Since`, `If-None-Match`,
//! `If-Modified-Since` and `If-Range`.
//!
//! This module owns evaluating those fields against a representation's validators (its strong
//! ETag and Last-Modified second) in the order RFC 9110 §13.2.2 prescribes. It only answers
//! "proceed / 304 / 412" and "does If-Range hold"; building responses is left to the caller.
//! Requests reaching it are always GET or HEAD, so a failed `If-None-Match` is always 304.

use std::time::{SystemTime, UNIX_EPOCH};

use http::header::{
    HeaderMap, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE,
};
use http::HeaderValue;

/// The validators of the representation about to be served.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Validators<'a> {
    /// The strong ETag, quotes included.
    pub(crate) etag: &'a [u8],
    /// Last-Modified, as whole seconds since the epoch (what the header can express).
    pub(crate) modified: Option<u64>,
}

/// The outcome of the preconditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precondition {
    /// Serve normally.
    Proceed,
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// Evaluates the preconditions of a GET or HEAD request.
pub(crate) fn evaluate(headers: &HeaderMap, v: &Validators<'_>) -> Precondition {
    if headers.contains_key(IF_MATCH) {
        if !list_matches(headers, IF_MATCH, v.etag, Comparison::Strong) {
            return Precondition::Failed;
        }
    } else if let Some(since) = date(headers.get(IF_UNMODIFIED_SINCE)) {
        if v.modified.is_some_and(|m| m > since) {
            return Precondition::Failed;
        }
    }
    if headers.contains_key(IF_NONE_MATCH) {
        if list_matches(headers, IF_NONE_MATCH, v.etag, Comparison::Weak) {
            return Precondition::NotModified;
        }
    } else if let (Some(since), Some(modified)) = (date(headers.get(IF_MODIFIED_SINCE)), v.modified)
    {
        if modified <= since {
            return Precondition::NotModified;
        }
    }
    Precondition::Proceed
}

/// True if a `Range` may be honoured: no `If-Range`, or one naming the current representation
/// (strong ETag comparison, or a date exactly equal to Last-Modified).
pub(crate) fn if_range_holds(headers: &HeaderMap, v: &Validators<'_>) -> bool {
    let Some(value) = headers.get(IF_RANGE) else {
        return true;
    };
    let bytes = value.as_bytes();
    if bytes.starts_with(b"\"") || bytes.starts_with(b"W/") {
        return match parse_tag(bytes) {
            Some((Tag::Entity { weak, opaque }, rest)) => {
                !weak && opaque == v.etag && rest.iter().all(u8::is_ascii_whitespace)
            }
            _ => false,
        };
    }
    match (date(Some(value)), v.modified) {
        (Some(d), Some(m)) => d == m,
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Strong,
    Weak,
}

/// True if any element of any `name` field matches `etag` (or is `*`).
fn list_matches(
    headers: &HeaderMap,
    name: http::header::HeaderName,
    etag: &[u8],
    cmp: Comparison,
) -> bool {
    headers.get_all(name).iter().any(|value| {
        let mut rest = value.as_bytes();
        loop {
            rest = trim_start(rest, |b| b == b',' || b.is_ascii_whitespace());
            if rest.is_empty() {
                return false;
            }
            match parse_tag(rest) {
                Some((Tag::Star, _)) => return true,
                Some((Tag::Entity { weak, opaque }, after)) => {
                    let usable = cmp == Comparison::Weak || !weak;
                    if usable && opaque == etag {
                        return true;
                    }
                    rest = after;
                }
                // Malformed: nothing after this point can be trusted.
                None => return false,
            }
        }
    })
}

enum Tag<'a> {
    Star,
    /// `opaque` includes the quotes.
    Entity {
        weak: bool,
        opaque: &'a [u8],
    },
}

/// Parses `*`, `"tag"` or `W/"tag"` at the start of `s`; returns it and what follows.
fn parse_tag(s: &[u8]) -> Option<(Tag<'_>, &[u8])> {
    if let Some(rest) = s.strip_prefix(b"*") {
        return Some((Tag::Star, rest));
    }
    let (weak, s) = match s.strip_prefix(b"W/") {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    if s.first() != Some(&b'"') {
        return None;
    }
    let close = 1 + s[1..].iter().position(|&b| b == b'"')?;
    Some((
        Tag::Entity {
            weak,
            opaque: &s[..=close],
        },
        &s[close + 1..],
    ))
}

fn trim_start(mut s: &[u8], skip: impl Fn(u8) -> bool) -> &[u8] {
    while let Some((&b, rest)) = s.split_first() {
        if !skip(b) {
            break;
        }
        s = rest;
    }
    s
}

/// An HTTP-date as seconds since the epoch; `None` if absent or invalid.
fn date(value: Option<&HeaderValue>) -> Option<u64> {
    let t = httpdate::parse_http_date(value?.to_str().ok()?).ok()?;
    Some(unix_secs(t))
}

/// Seconds since the epoch, 0 for times before it.
pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETAG: &[u8] = b"\"abc-123\"";
    const LM: u64 = 1_700_000_000;
    const LM_DATE: &str = "Tue, 14 Nov 2023 22:13:20 GMT";
    const EARLIER: &str = "Tue, 14 Nov 2023 22:13:19 GMT";

    fn v() -> Validators<'static> {
        Validators {
            etag: ETAG,
            modified: Some(LM),
        }
    }

    fn h(pairs: &[(http::header::HeaderName, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, val) in pairs {
            m.append(k.clone(), HeaderValue::from_static(val));
        }
        m
    }

    fn eval(pairs: &[(http::header::HeaderName, &'static str)]) -> Precondition {
        evaluate(&h(pairs), &v())
    }

    #[test]
    fn lm_date_constant_is_right() {
        assert_eq!(date(Some(&HeaderValue::from_static(LM_DATE))), Some(LM));
    }

    #[test]
    fn if_none_match() {
        use Precondition::*;
        assert_eq!(eval(&[(IF_NONE_MATCH, "\"abc-123\"")]), NotModified);
        assert_eq!(eval(&[(IF_NONE_MATCH, "W/\"abc-123\"")]), NotModified);
        assert_eq!(eval(&[(IF_NONE_MATCH, "*")]), NotModified);
        assert_eq!(eval(&[(IF_NONE_MATCH, "\"x\", \"abc-123\"")]), NotModified);
        assert_eq!(eval(&[(IF_NONE_MATCH, "\"x\",W/\"abc-123\"")]), NotModified);
        assert_eq!(
            eval(&[(IF_NONE_MATCH, "\"x\""), (IF_NONE_MATCH, "\"abc-123\"")]),
            NotModified
        );
        assert_eq!(eval(&[(IF_NONE_MATCH, "\"x,y\"")]), Proceed);
        assert_eq!(eval(&[(IF_NONE_MATCH, "\"abc-12\"")]), Proceed);
        assert_eq!(eval(&[(IF_NONE_MATCH, "abc-123")]), Proceed);
        assert_eq!(eval(&[(IF_NONE_MATCH, "\"abc-123")]), Proceed);
        assert_eq!(eval(&[(IF_NONE_MATCH, "")]), Proceed);
    }

    #[test]
    fn if_modified_since_only_without_if_none_match() {
        use Precondition::*;
        assert_eq!(eval(&[(IF_MODIFIED_SINCE, LM_DATE)]), NotModified);
        assert_eq!(eval(&[(IF_MODIFIED_SINCE, EARLIER)]), Proceed);
        assert_eq!(eval(&[(IF_MODIFIED_SINCE, "garbage")]), Proceed);
        assert_eq!(
            eval(&[(IF_NONE_MATCH, "\"other\""), (IF_MODIFIED_SINCE, LM_DATE)]),
            Proceed
        );
        let no_lm = Validators {
            etag: ETAG,
            modified: None,
        };
        assert_eq!(
            evaluate(&h(&[(IF_MODIFIED_SINCE, LM_DATE)]), &no_lm),
            Proceed
        );
    }

    #[test]
    fn if_match_and_if_unmodified_since() {
        use Precondition::*;
        assert_eq!(eval(&[(IF_MATCH, "\"abc-123\"")]), Proceed);
        assert_eq!(eval(&[(IF_MATCH, "*")]), Proceed);
        assert_eq!(eval(&[(IF_MATCH, "W/\"abc-123\"")]), Failed);
        assert_eq!(eval(&[(IF_MATCH, "\"nope\"")]), Failed);
        assert_eq!(eval(&[(IF_UNMODIFIED_SINCE, LM_DATE)]), Proceed);
        assert_eq!(eval(&[(IF_UNMODIFIED_SINCE, EARLIER)]), Failed);
        assert_eq!(
            eval(&[(IF_MATCH, "\"abc-123\""), (IF_UNMODIFIED_SINCE, EARLIER)]),
            Proceed
        );
    }

    #[test]
    fn if_range() {
        let holds = |val: &'static str| if_range_holds(&h(&[(IF_RANGE, val)]), &v());
        assert!(if_range_holds(&HeaderMap::new(), &v()));
        assert!(holds("\"abc-123\""));
        assert!(!holds("W/\"abc-123\""));
        assert!(!holds("\"other\""));
        assert!(holds(LM_DATE));
        assert!(!holds(EARLIER));
        assert!(!holds("garbage"));
    }
}
