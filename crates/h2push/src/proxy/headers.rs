//! Header rewriting between the client's connection and the upstream's.
//!
//! This module owns which fields cross the proxy: hop-by-hop fields (RFC 9110 §7.6.1: the
//! fixed list and every field named in `Connection`) are dropped in both directions, HTTP/2
//! `cookie` fields are joined for HTTP/1.1 (RFC 9113 §8.2.3), and the request gains
//! `Forwarded` (RFC 7239) and `X-Forwarded-For`/`-Proto`/`-Host`. Which `Host` the upstream
//! sees is decided by [`HostHeader`]. Sending the request is the client module's business.

use std::net::{IpAddr, SocketAddr};

use http::header::{HeaderName, HeaderValue, COOKIE, HOST, TE, TRANSFER_ENCODING, UPGRADE};
use http::HeaderMap;

pub use crate::conn::hop_by_hop::strip_hop_by_hop;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static FORWARDED: HeaderName = HeaderName::from_static("forwarded");

/// Which `Host` the upstream receives.
///
/// ```
/// use h2push::proxy::HostHeader;
/// assert_eq!(HostHeader::default(), HostHeader::Preserve);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum HostHeader {
    /// The client's own `Host` (or HTTP/2 `:authority`), as nginx `proxy_set_header Host $host`.
    #[default]
    Preserve,
    /// The upstream URI's authority, as nginx's default `$proxy_host`.
    Upstream,
    /// This value.
    Rewrite(HeaderValue),
}

/// What the proxy knows of the client's request, for the forwarding fields.
pub(crate) struct ClientSide<'a> {
    pub peer: Option<SocketAddr>,
    pub tls: bool,
    /// The host the client asked for (`:authority` or `Host`).
    pub host: Option<&'a HeaderValue>,
}

/// Rewrites a client's request headers into the upstream request's.
pub(crate) fn upstream_request_headers(
    headers: &mut HeaderMap,
    client: &ClientSide<'_>,
    host: &HostHeader,
) {
    strip_hop_by_hop(headers);
    headers.remove(http::header::EXPECT);
    join_cookies(headers);
    let proto = if client.tls { "https" } else { "http" };
    if let Some(peer) = client.peer {
        let ip = peer.ip();
        append_list(headers, &X_FORWARDED_FOR, &ip.to_string());
        let node = match ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("\"[{v6}]\""),
        };
        let mut fwd = format!("for={node};proto={proto}");
        if let Some(h) = client.host.and_then(|h| h.to_str().ok()) {
            fwd.push_str(";host=\"");
            fwd.extend(h.chars().filter(|c| *c != '"' && *c != '\\'));
            fwd.push('"');
        }
        append_list(headers, &FORWARDED, &fwd);
    }
    headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(proto));
    match client.host {
        Some(h) => {
            headers.insert(X_FORWARDED_HOST.clone(), h.clone());
        }
        None => {
            headers.remove(&X_FORWARDED_HOST);
        }
    }
    match host {
        HostHeader::Preserve => match client.host {
            Some(h) => {
                headers.insert(HOST, h.clone());
            }
            None => {
                headers.remove(HOST);
            }
        },
        // hyper's client writes the URI's authority when no Host is set.
        HostHeader::Upstream => {
            headers.remove(HOST);
        }
        HostHeader::Rewrite(v) => {
            headers.insert(HOST, v.clone());
        }
    }
}

/// Rewrites an upstream response's headers into the client response's.
pub(crate) fn client_response_headers(headers: &mut HeaderMap) {
    strip_hop_by_hop(headers);
    // HTTP/2 forbids these outright; they are in the list above, this is belt and braces.
    debug_assert!(!headers.contains_key(TRANSFER_ENCODING) && !headers.contains_key(UPGRADE));
    debug_assert!(!headers.contains_key(TE));
}

/// Appends `value` to a comma-separated list field, keeping what earlier proxies wrote.
fn append_list(headers: &mut HeaderMap, name: &HeaderName, value: &str) {
    let mut joined = String::new();
    for v in headers.get_all(name).iter().filter_map(|v| v.to_str().ok()) {
        joined.push_str(v);
        joined.push_str(", ");
    }
    joined.push_str(value);
    if let Ok(v) = HeaderValue::from_str(&joined) {
        headers.insert(name.clone(), v);
    }
}

/// HTTP/2 clients may split `cookie` into several fields; HTTP/1.1 wants one, joined by `; `.
fn join_cookies(headers: &mut HeaderMap) {
    if headers.get_all(COOKIE).iter().nth(1).is_none() {
        return;
    }
    let mut joined = Vec::new();
    for v in headers.get_all(COOKIE) {
        if !joined.is_empty() {
            joined.extend_from_slice(b"; ");
        }
        joined.extend_from_slice(v.as_bytes());
    }
    if let Ok(v) = HeaderValue::from_bytes(&joined) {
        headers.insert(COOKIE, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(host: &HeaderValue) -> ClientSide<'_> {
        ClientSide {
            peer: Some("10.0.0.7:5555".parse().unwrap()),
            tls: true,
            host: Some(host),
        }
    }

    #[test]
    fn forwarding_fields_are_added_and_appended() {
        let host = HeaderValue::from_static("example.test");
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "192.0.2.1".parse().unwrap());
        h.insert("te", "trailers".parse().unwrap());
        upstream_request_headers(&mut h, &client(&host), &HostHeader::Preserve);
        assert_eq!(h["x-forwarded-for"], "192.0.2.1, 10.0.0.7");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "example.test");
        assert_eq!(
            h["forwarded"],
            "for=10.0.0.7;proto=https;host=\"example.test\""
        );
        assert_eq!(h["host"], "example.test");
        assert!(!h.contains_key("te"));
    }

    #[test]
    fn ipv6_forwarded_node_is_quoted() {
        let mut h = HeaderMap::new();
        let c = ClientSide {
            peer: Some("[::1]:9".parse().unwrap()),
            tls: false,
            host: None,
        };
        upstream_request_headers(&mut h, &c, &HostHeader::Upstream);
        assert_eq!(h["forwarded"], "for=\"[::1]\";proto=http");
        assert!(!h.contains_key("host"));
    }

    #[test]
    fn host_rewrite() {
        let host = HeaderValue::from_static("front.test");
        let mut h = HeaderMap::new();
        let rewrite = HostHeader::Rewrite(HeaderValue::from_static("app.internal"));
        upstream_request_headers(&mut h, &client(&host), &rewrite);
        assert_eq!(h["host"], "app.internal");
    }

    #[test]
    fn split_cookies_are_joined() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, "a=1".parse().unwrap());
        h.append(COOKIE, "b=2".parse().unwrap());
        join_cookies(&mut h);
        assert_eq!(h.get_all(COOKIE).iter().count(), 1);
        assert_eq!(h[COOKIE], "a=1; b=2");
    }
}
