//! Accept-Encoding negotiation, for precompressed siblings and on-the-fly compression.
//!
//! This module owns parsing `Accept-Encoding` (RFC 9110 §12.5.3, with q-values) and choosing
//! a content coding: between the identity file and its `.br` / `.gz` siblings (`files`), and
//! between br, zstd and gzip for a response compressed as it is sent (`crate::compress`).
//! Which codings are available is the caller's knowledge; this module only answers "given
//! these, which one?". It is the one Accept-Encoding parser of the crate.

use http::header::{HeaderMap, ACCEPT_ENCODING};
use http::HeaderValue;

/// A content coding a file can be stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// The file itself.
    Identity,
    /// A `.br` sibling.
    Br,
    /// A `.gz` sibling.
    Gzip,
    /// Zstandard: only ever produced on the fly (`files` has no `.zst` siblings).
    Zstd,
}

impl Encoding {
    /// The sibling's file-name suffix.
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            Encoding::Identity => "",
            Encoding::Br => ".br",
            Encoding::Gzip => ".gz",
            Encoding::Zstd => ".zst",
        }
    }

    /// The `Content-Encoding` value, `None` for identity.
    pub(crate) fn header_value(self) -> Option<HeaderValue> {
        match self {
            Encoding::Identity => None,
            Encoding::Br => Some(HeaderValue::from_static("br")),
            Encoding::Gzip => Some(HeaderValue::from_static("gzip")),
            Encoding::Zstd => Some(HeaderValue::from_static("zstd")),
        }
    }
}

/// The q-values (in thousandths) a request gives the codings we can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Accepted {
    br: u16,
    zstd: u16,
    gzip: u16,
    identity: u16,
}

impl Accepted {
    /// Parses every `Accept-Encoding` field of a request. No field means identity only.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        let mut br = None;
        let mut zstd = None;
        let mut gzip = None;
        let mut identity = None;
        let mut star = None;
        let mut any = false;
        for value in headers.get_all(ACCEPT_ENCODING) {
            let Ok(value) = value.to_str() else { continue };
            for item in value.split(',') {
                let mut parts = item.split(';');
                let coding = parts.next().unwrap_or("").trim();
                if coding.is_empty() {
                    continue;
                }
                let mut q = Some(1000);
                for param in parts {
                    let param = param.trim();
                    if let Some(v) = param
                        .strip_prefix("q=")
                        .or_else(|| param.strip_prefix("Q="))
                    {
                        q = parse_q(v.trim());
                    }
                }
                // An unparsable q-value makes the whole item meaningless: skip it.
                let Some(q) = q else { continue };
                any = true;
                let slot = if coding.eq_ignore_ascii_case("br") {
                    &mut br
                } else if coding.eq_ignore_ascii_case("zstd") {
                    &mut zstd
                } else if coding.eq_ignore_ascii_case("gzip")
                    || coding.eq_ignore_ascii_case("x-gzip")
                {
                    &mut gzip
                } else if coding.eq_ignore_ascii_case("identity") {
                    &mut identity
                } else if coding == "*" {
                    &mut star
                } else {
                    continue;
                };
                // If a coding is listed twice, the better q wins.
                *slot = Some(slot.map_or(q, |old: u16| old.max(q)));
            }
        }
        if !any {
            return Accepted {
                br: 0,
                zstd: 0,
                gzip: 0,
                identity: 1000,
            };
        }
        Accepted {
            br: br.or(star).unwrap_or(0),
            zstd: zstd.or(star).unwrap_or(0),
            gzip: gzip.or(star).unwrap_or(0),
            // Identity is acceptable unless refused explicitly or through `*;q=0`; when not
            // listed it is the least preferred, so `gzip;q=0.5` still gets gzip. A refused
            // identity is still served when nothing else exists (RFC 9110 lets us).
            identity: identity.or(star).unwrap_or(1),
        }
    }

    /// Picks the coding to serve among the available siblings: the highest q-value wins;
    /// between equal q-values a compressed one beats identity and br beats gzip. Codings with
    /// `q=0` are never chosen (identity is the fallback when nothing else is acceptable).
    pub(crate) fn choose(&self, has_br: bool, has_gzip: bool) -> Encoding {
        self.choose_among(has_br, false, has_gzip)
    }

    /// Like [`choose`](Self::choose) with zstd too, ranked between br and gzip on ties: what
    /// on-the-fly compression, which can produce every coding, asks with all three `true`.
    pub(crate) fn choose_among(&self, has_br: bool, has_zstd: bool, has_gzip: bool) -> Encoding {
        let mut best = (Encoding::Identity, 0u16);
        if has_br && self.br > 0 {
            best = (Encoding::Br, self.br);
        }
        if has_zstd && self.zstd > best.1 {
            best = (Encoding::Zstd, self.zstd);
        }
        if has_gzip && self.gzip > best.1 {
            best = (Encoding::Gzip, self.gzip);
        }
        if best.1 == 0 || self.identity > best.1 {
            Encoding::Identity
        } else {
            best.0
        }
    }
}

/// Parses a qvalue (`0`, `0.5`, `1.000`) into thousandths; `None` if malformed.
fn parse_q(s: &str) -> Option<u16> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(values: &[&'static str]) -> Accepted {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(ACCEPT_ENCODING, HeaderValue::from_static(v));
        }
        Accepted::from_headers(&h)
    }

    fn choose(values: &[&'static str]) -> Encoding {
        accepted(values).choose(true, true)
    }

    #[test]
    fn q_values() {
        assert_eq!(parse_q("0"), Some(0));
        assert_eq!(parse_q("0.5"), Some(500));
        assert_eq!(parse_q("0.123"), Some(123));
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("1.000"), Some(1000));
        assert_eq!(parse_q("1.5"), None);
        assert_eq!(parse_q("0.1234"), None);
        assert_eq!(parse_q("abc"), None);
        assert_eq!(parse_q(""), None);
    }

    #[test]
    fn prefers_br_then_gzip() {
        assert_eq!(choose(&["gzip, deflate, br"]), Encoding::Br);
        assert_eq!(choose(&["gzip, deflate"]), Encoding::Gzip);
        assert_eq!(choose(&["br;q=0.5, gzip"]), Encoding::Gzip);
        assert_eq!(choose(&["gzip", "br"]), Encoding::Br);
        assert_eq!(choose(&["*"]), Encoding::Br);
        assert_eq!(choose(&["x-gzip"]), Encoding::Gzip);
        assert_eq!(choose(&["GZIP;Q=0.8"]), Encoding::Gzip);
        assert_eq!(accepted(&["br, gzip"]).choose(false, true), Encoding::Gzip);
        assert_eq!(
            accepted(&["br, gzip"]).choose(false, false),
            Encoding::Identity
        );
    }

    #[test]
    fn q_zero_refuses() {
        assert_eq!(choose(&["br;q=0, gzip"]), Encoding::Gzip);
        assert_eq!(choose(&["br;q=0, gzip;q=0"]), Encoding::Identity);
        assert_eq!(choose(&["*;q=0"]), Encoding::Identity);
        assert_eq!(choose(&["*, br;q=0"]), Encoding::Gzip);
        assert_eq!(choose(&["br; q=0.0"]), Encoding::Identity);
    }

    #[test]
    fn zstd_on_the_fly() {
        let all = |v: &'static str| accepted(&[v]).choose_among(true, true, true);
        assert_eq!(all("gzip, deflate, br, zstd"), Encoding::Br);
        assert_eq!(all("gzip, zstd"), Encoding::Zstd);
        assert_eq!(all("zstd;q=0.5, gzip"), Encoding::Gzip);
        assert_eq!(all("br;q=0, zstd;q=0, gzip;q=0"), Encoding::Identity);
        assert_eq!(all("*;q=0"), Encoding::Identity);
        assert_eq!(all("identity"), Encoding::Identity);
        // The siblings' choice never picks zstd.
        assert_eq!(choose(&["zstd"]), Encoding::Identity);
    }

    #[test]
    fn identity_and_garbage() {
        assert_eq!(choose(&[]), Encoding::Identity);
        assert_eq!(choose(&[""]), Encoding::Identity);
        assert_eq!(choose(&["deflate"]), Encoding::Identity);
        assert_eq!(choose(&["br;q=bogus"]), Encoding::Identity);
        assert_eq!(choose(&["identity"]), Encoding::Identity);
        assert_eq!(choose(&["gzip;q=0.5, identity"]), Encoding::Identity);
        assert_eq!(choose(&["gzip, identity;q=0"]), Encoding::Gzip);
    }
}
