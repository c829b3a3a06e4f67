//! HTTP message rules on a decoded header list (RFC 9113 §8.1, §8.2, §8.3, §8.5; RFC 8441).
//!
//! This module owns the checks that make a request malformed (a stream PROTOCOL_ERROR,
//! §8.1.1): field names and values (§8.2.1), connection-specific fields (§8.2.2),
//! pseudo-headers (§8.3: known ones only, before regular fields, each once, the ones each
//! method needs, none in trailers), and turning what passes into an [`http::Request`].
//! It takes (name, value) pairs as HPACK decoded them; decoding is `hpack`'s, and checking
//! the body against content-length is [`super::Streams`]'s (given
//! [`RequestHead::content_length`] through [`super::Streams::expect_content_length`]).

use std::fmt;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Method, Request, Uri, Version};

use crate::error::{Reason, StreamError};
use crate::frame::StreamId;

/// A malformed request or trailer section (§8.1.1): answer with a stream error
/// PROTOCOL_ERROR ([`Malformed::into_stream_error`]) and [`super::Streams::send_reset`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed {
    /// The rule that was broken.
    pub detail: &'static str,
}

impl Malformed {
    /// The stream error for `stream`.
    pub fn into_stream_error(self, stream: StreamId) -> StreamError {
        StreamError::new(stream, Reason::PROTOCOL_ERROR, self.detail)
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed message: {}", self.detail)
    }
}

impl std::error::Error for Malformed {}

fn bad<T>(detail: &'static str) -> Result<T, Malformed> {
    Err(Malformed { detail })
}

/// A request head that passed every rule.
///
/// ```
/// use h2push_h2::state::message::parse_request;
///
/// let fields: [(&[u8], &[u8]); 5] = [
///     (b":method", b"GET"),
///     (b":scheme", b"https"),
///     (b":authority", b"example.com"),
///     (b":path", b"/a?b=1"),
///     (b"accept", b"*/*"),
/// ];
/// let head = parse_request(fields, false).unwrap();
/// assert_eq!(head.request.uri(), "https://example.com/a?b=1");
/// assert_eq!(head.request.headers()["accept"], "*/*");
/// assert_eq!(head.protocol, None);
///
/// let trailers_in_head: [(&[u8], &[u8]); 2] = [(b"accept", b"*/*"), (b":path", b"/")];
/// assert!(parse_request(trailers_in_head, false).is_err());
/// ```
#[derive(Debug)]
pub struct RequestHead {
    /// Method, URI (absolute when `:scheme` and `:authority` were given, the path alone
    /// otherwise, the authority alone for CONNECT), version HTTP/2 and the regular fields
    /// (several `cookie` fields joined with "; ", §8.2.3).
    pub request: Request<()>,
    /// The extended CONNECT protocol (RFC 8441 `:protocol`), e.g. "websocket".
    pub protocol: Option<String>,
    /// The declared content-length, which DATA must add up to (§8.1.1).
    pub content_length: Option<u64>,
}

/// Checks a request's header list and builds its head. `enable_connect_protocol` says
/// whether we advertised SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3), which makes
/// `:protocol` known.
pub fn parse_request<'a, I>(
    fields: I,
    enable_connect_protocol: bool,
) -> Result<RequestHead, Malformed>
where
    I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
{
    let mut method = None;
    let mut scheme = None;
    let mut authority = None;
    let mut path = None;
    let mut protocol = None;
    let mut regular = Regular::default();
    for (name, value) in fields {
        check_value(value)?;
        if let Some(pseudo) = name.strip_prefix(b":") {
            if regular.seen {
                return bad("pseudo-header after a regular field (§8.3)");
            }
            let slot = match pseudo {
                b"method" => &mut method,
                b"scheme" => &mut scheme,
                b"authority" => &mut authority,
                b"path" => &mut path,
                b"protocol" if enable_connect_protocol => &mut protocol,
                _ => return bad("unknown or response pseudo-header in a request (§8.3)"),
            };
            if slot.is_some() {
                return bad("pseudo-header given twice (§8.3.1)");
            }
            *slot = Some(value);
            continue;
        }
        regular.add(name, value)?;
    }
    let Some(method) = method else {
        return bad("no :method (§8.3.1)");
    };
    let method = Method::from_bytes(method).or(bad("invalid :method (§8.3.1)"))?;
    let connect = method == Method::CONNECT;
    let authority = match authority {
        Some(a) => Some(Authority::try_from(a).or(bad("invalid :authority (§8.3.1)"))?),
        None => None,
    };
    if let (Some(a), Some(host)) = (&authority, regular.headers.get(header::HOST)) {
        if a.as_str().as_bytes() != host.as_bytes() {
            return bad("host differs from :authority (§8.3.1)");
        }
    }
    let uri = if connect && protocol.is_none() {
        // §8.5: CONNECT has :authority only.
        if scheme.is_some() || path.is_some() {
            return bad(":scheme or :path in CONNECT (§8.5)");
        }
        let Some(a) = authority else {
            return bad("CONNECT without :authority (§8.5)");
        };
        Uri::from(a)
    } else {
        if protocol.is_some() && (!connect || authority.is_none()) {
            return bad(":protocol needs CONNECT with :authority (RFC 8441 §4)");
        }
        let (Some(scheme), Some(path)) = (scheme, path) else {
            return bad("no :scheme or no :path (§8.3.1)");
        };
        let scheme = Scheme::try_from(scheme).or(bad("invalid :scheme (§8.3.1)"))?;
        build_uri(&method, scheme, authority, path)?
    };
    let protocol = match protocol {
        Some(p) => Some(
            std::str::from_utf8(p)
                .or(bad("invalid :protocol (RFC 8441 §4)"))?
                .to_owned(),
        ),
        None => None,
    };
    let content_length = regular.content_length;
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_2;
    *request.headers_mut() = regular.finish()?;
    Ok(RequestHead {
        request,
        protocol,
        content_length,
    })
}

/// Checks a trailer section (§8.1): no pseudo-headers (a malformed request, however
/// well-formed the rest), and the field rules of §8.2.
///
/// ```
/// use h2push_h2::state::message::parse_trailers;
///
/// let ok: [(&[u8], &[u8]); 1] = [(b"grpc-status", b"0")];
/// assert_eq!(parse_trailers(ok).unwrap()["grpc-status"], "0");
/// let pseudo: [(&[u8], &[u8]); 1] = [(b":status", b"200")];
/// assert!(parse_trailers(pseudo).is_err());
/// ```
pub fn parse_trailers<'a, I>(fields: I) -> Result<HeaderMap, Malformed>
where
    I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
{
    let mut regular = Regular::default();
    for (name, value) in fields {
        check_value(value)?;
        if name.first() == Some(&b':') {
            return bad("pseudo-header in trailers (§8.1)");
        }
        regular.add(name, value)?;
    }
    regular.finish()
}

fn build_uri(
    method: &Method,
    scheme: Scheme,
    authority: Option<Authority>,
    path: &[u8],
) -> Result<Uri, Malformed> {
    if path.is_empty() {
        return bad("empty :path (§8.3.1)");
    }
    let web = scheme == Scheme::HTTP || scheme == Scheme::HTTPS;
    if path == b"*" {
        if method != Method::OPTIONS {
            return bad(":path * on a method other than OPTIONS (§8.3.1)");
        }
        return Ok(Uri::from_static("*"));
    }
    if web && path[0] != b'/' {
        return bad(":path not starting with / (§8.3.1)");
    }
    if web && authority.as_ref().is_some_and(|a| a.as_str().contains('@')) {
        return bad("userinfo in :authority (§8.3.1)");
    }
    let pq = PathAndQuery::try_from(path).or(bad("invalid :path (§8.3.1)"))?;
    let mut parts = http::uri::Parts::default();
    if let Some(a) = authority {
        parts.scheme = Some(scheme);
        parts.authority = Some(a);
    }
    parts.path_and_query = Some(pq);
    Uri::from_parts(parts).or(bad("invalid request target (§8.3.1)"))
}

#[derive(Default)]
struct Regular {
    seen: bool,
    headers: HeaderMap,
    content_length: Option<u64>,
    cookies: usize,
}

impl Regular {
    fn add(&mut self, name: &[u8], value: &[u8]) -> Result<(), Malformed> {
        self.seen = true;
        check_name(name)?;
        if matches!(
            name,
            b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding" | b"upgrade"
        ) {
            return bad("connection-specific field (§8.2.2)");
        }
        if name == b"te" && !value.eq_ignore_ascii_case(b"trailers") {
            return bad("te other than \"trailers\" (§8.2.2)");
        }
        if name == b"content-length" {
            let n = parse_length(value)?;
            if self.content_length.is_some_and(|m| m != n) {
                return bad("content-length values differ (§8.1.1)");
            }
            self.content_length = Some(n);
        }
        if name == b"cookie" {
            self.cookies += 1;
        }
        let name = HeaderName::from_bytes(name).or(bad("invalid field name (§8.2.1)"))?;
        let value = HeaderValue::from_bytes(value).or(bad("invalid field value (§8.2.1)"))?;
        self.headers.append(name, value);
        Ok(())
    }

    fn finish(mut self) -> Result<HeaderMap, Malformed> {
        if self.cookies > 1 {
            // §8.2.3: cookie crumbs are joined with "; " before HTTP/1.1-style use.
            let joined: Vec<u8> = {
                let parts: Vec<&[u8]> = self
                    .headers
                    .get_all(header::COOKIE)
                    .iter()
                    .map(|v| v.as_bytes())
                    .collect();
                parts.join(&b"; "[..])
            };
            let v = HeaderValue::from_bytes(&joined).or(bad("invalid cookie (§8.2.3)"))?;
            self.headers.insert(header::COOKIE, v);
        }
        Ok(self.headers)
    }
}

fn parse_length(v: &[u8]) -> Result<u64, Malformed> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return bad("invalid content-length (§8.1.1)");
    }
    let mut n = 0u64;
    for &d in v {
        n = n * 10 + u64::from(d - b'0');
    }
    Ok(n)
}

/// §8.2.1: a name is a non-empty token with no uppercase letters.
fn check_name(name: &[u8]) -> Result<(), Malformed> {
    if name.is_empty() {
        return bad("empty field name (§8.2.1)");
    }
    for &c in name {
        if c.is_ascii_uppercase() {
            return bad("uppercase field name (§8.2.1)");
        }
        let tchar = c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
        if !tchar {
            return bad("invalid character in a field name (§8.2.1)");
        }
    }
    Ok(())
}

/// §8.2.1: no NUL, CR or LF, and no SP or HTAB at either end.
fn check_value(value: &[u8]) -> Result<(), Malformed> {
    if value.iter().any(|&c| c == 0 || c == b'\r' || c == b'\n') {
        return bad("NUL, CR or LF in a field value (§8.2.1)");
    }
    let ws = |c: Option<&u8>| matches!(c, Some(b' ' | b'\t'));
    if ws(value.first()) || ws(value.last()) {
        return bad("whitespace at an end of a field value (§8.2.1)");
    }
    Ok(())
}
