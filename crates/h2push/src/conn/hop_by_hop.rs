//! Hop-by-hop header fields: the ones that describe one connection and must not be carried
//! onto another (RFC 9110 §7.6.1), which HTTP/2 forbids outright (RFC 9113 §8.2.2).
//!
//! This module owns the list and the stripping; the HTTP/2 driver strips every response head
//! with it (h2 refuses a head that carries them), and the reverse proxy strips what it
//! forwards in both directions. When to strip is the caller's.

use http::header::{HeaderName, CONNECTION};
use http::HeaderMap;

/// The fields RFC 9110 §7.6.1 names as connection-specific, plus `Proxy-Connection` and
/// `Keep-Alive` which the same section says to drop.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "te",
    "transfer-encoding",
    "upgrade",
];

/// Removes the hop-by-hop fields from `headers`: the fixed list of RFC 9110 §7.6.1 and every
/// field any `Connection` header names.
///
/// ```
/// use http::HeaderMap;
/// let mut h = HeaderMap::new();
/// h.insert("connection", "close, x-secret".parse().unwrap());
/// h.insert("x-secret", "1".parse().unwrap());
/// h.insert("keep-alive", "timeout=5".parse().unwrap());
/// h.insert("x-kept", "1".parse().unwrap());
/// h2push::proxy::strip_hop_by_hop(&mut h);
/// assert_eq!(h.len(), 1);
/// assert!(h.contains_key("x-kept"));
/// ```
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{TE, TRANSFER_ENCODING};

    #[test]
    fn connection_specific_fields_are_stripped() {
        let mut h = HeaderMap::new();
        h.insert(CONNECTION, "close, x-hop".parse().unwrap());
        h.append(CONNECTION, "x-hop2".parse().unwrap());
        h.insert("x-hop", "1".parse().unwrap());
        h.insert("x-hop2", "1".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert(TRANSFER_ENCODING, "chunked".parse().unwrap());
        h.insert(TE, "gzip".parse().unwrap());
        h.insert("content-type", "text/plain".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key("content-type"));
    }

    /// RFC 9113 §8.2.2: `TE: trailers` is allowed in an HTTP/2 request only; a response
    /// (all the driver strips) carries no TE at all.
    #[test]
    fn te_is_stripped_even_as_trailers() {
        let mut h = HeaderMap::new();
        h.insert(TE, "trailers".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert!(!h.contains_key(TE));
    }
}
