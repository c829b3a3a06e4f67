//! The cross-visit cache digest: a cookie telling which resources a client already holds.
//!
//! This module owns h2o's "casper" idea with the Cache Digests draft's key: each resource is
//! keyed by a hash of its path **and ETag**, so a changed file gets a new key and is pushed
//! again while an unchanged one is not. The keys live in a [`CacheDigest`], a Golomb-coded set
//! (sorted hash prefixes, delta-encoded with a Rice code): about `fp_bits + 2` bits per
//! resource for a false-positive rate of `2^-fp_bits`. The cookie carrying it is sealed with
//! an HMAC, so a malformed, truncated, oversized or forged cookie reads as an empty digest —
//! "push as to a first visit" — and never as an error. Deciding what to push is the policy's;
//! the per-connection diary is [`crate::push`]'s `PushBook`.
//!
//! The set is hand-written: the Golomb-coded-set crates on crates.io are either unmaintained
//! or fix their own serialization and hash (SipHash with random keys, or a Bitcoin BIP-158
//! layout), while the cookie needs a small, stable, versioned wire format and keys that are
//! the same across server restarts. The encoding is about forty lines.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};
use ring::hmac;

/// The wire format's version byte.
const FORMAT: u8 = 1;
/// Bytes of HMAC-SHA256 kept in the cookie: 64 bits are plenty against forging a cookie
/// whose only power is to make its own holder skip pushes.
const TAG_LEN: usize = 8;
/// Cookies longer than this are not even decoded.
const MAX_COOKIE_LEN: usize = 4096;

/// The hash of one resource version: `path` and `etag` (as sent, quotes included), or the
/// path alone when no ETag is known.
///
/// ```
/// use h2push::hints::resource_key;
/// assert_ne!(resource_key("/a.css", Some("\"v1\"")), resource_key("/a.css", Some("\"v2\"")));
/// assert_eq!(resource_key("/a.css", None), resource_key("/a.css", None));
/// ```
pub fn resource_key(path: &str, etag: Option<&str>) -> u64 {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(path.as_bytes());
    ctx.update(&[0]);
    ctx.update(etag.unwrap_or("").as_bytes());
    let d = ctx.finish();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d.as_ref()[..8]);
    u64::from_be_bytes(first)
}

/// A compact set of [`resource_key`]s (a Golomb-coded set).
///
/// Keys are cut to their top `capacity_bits + fp_bits` bits; the set holds at most
/// `2^capacity_bits` of them, and a key not in the set is reported present with
/// probability about `len / 2^(capacity_bits + fp_bits)`.
///
/// ```
/// use h2push::hints::{resource_key, CacheDigest};
/// let mut d = CacheDigest::new(6, 8);
/// let k = resource_key("/style.css", Some("\"abc\""));
/// assert!(d.insert(k));
/// assert!(d.contains(k));
/// let back = CacheDigest::from_bytes(&d.to_bytes()).unwrap();
/// assert!(back.contains(k) && back.len() == 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheDigest {
    capacity_bits: u8,
    fp_bits: u8,
    /// Sorted, distinct, each below `2^(capacity_bits + fp_bits)`.
    values: Vec<u64>,
}

impl CacheDigest {
    /// An empty set for at most `2^capacity_bits` keys (1..=16) at a false-positive rate
    /// of `2^-fp_bits` (1..=16); out-of-range arguments are clamped.
    pub fn new(capacity_bits: u8, fp_bits: u8) -> Self {
        CacheDigest {
            capacity_bits: capacity_bits.clamp(1, 16),
            fp_bits: fp_bits.clamp(1, 16),
            values: Vec::new(),
        }
    }

    fn width(&self) -> u32 {
        u32::from(self.capacity_bits) + u32::from(self.fp_bits)
    }

    fn reduce(&self, key: u64) -> u64 {
        key >> (64 - self.width())
    }

    /// How many keys the set can hold.
    pub fn capacity(&self) -> usize {
        1 << self.capacity_bits
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Whether `key` is (probably) in the set.
    pub fn contains(&self, key: u64) -> bool {
        self.values.binary_search(&self.reduce(key)).is_ok()
    }

    /// Adds `key`; false if it was there already or the set is full.
    pub fn insert(&mut self, key: u64) -> bool {
        let v = self.reduce(key);
        match self.values.binary_search(&v) {
            Ok(_) => false,
            Err(_) if self.values.len() >= self.capacity() => false,
            Err(at) => {
                self.values.insert(at, v);
                true
            }
        }
    }

    /// The set's bytes: version, `capacity_bits`, `fp_bits`, then each delta between
    /// successive values as a Rice code (quotient in unary: that many 0 bits and a 1; then
    /// the remainder in `fp_bits` bits), zero-padded to a byte.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = BitWriter::default();
        let p = u32::from(self.fp_bits);
        let mut prev = 0;
        for &v in &self.values {
            let delta = v - prev;
            prev = v;
            for _ in 0..(delta >> p) {
                w.push(false);
            }
            w.push(true);
            for i in (0..p).rev() {
                w.push((delta >> i) & 1 == 1);
            }
        }
        let mut out = vec![FORMAT, self.capacity_bits, self.fp_bits];
        out.extend(w.finish());
        out
    }

    /// Reads [`CacheDigest::to_bytes`]'s format; `None` for anything malformed (unknown
    /// version, parameters out of range, values out of order or out of range, too many).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (&[format, capacity_bits, fp_bits], rest) = bytes.split_first_chunk::<3>()?;
        if format != FORMAT || !(1..=16).contains(&capacity_bits) || !(1..=16).contains(&fp_bits) {
            return None;
        }
        let mut set = CacheDigest::new(capacity_bits, fp_bits);
        let limit = 1u64 << set.width();
        let p = u32::from(fp_bits);
        let mut r = BitReader { bytes: rest, at: 0 };
        let mut prev = 0u64;
        loop {
            // The quotient: zeros up to a one. Running out of bits here is the clean end if
            // what was left is the padding (fewer than 8 zeros). The input is bounded, so
            // this loop is too.
            let mut q = 0u64;
            loop {
                match r.next() {
                    Some(true) => break,
                    Some(false) => q += 1,
                    None if q < 8 => return Some(set),
                    None => return None,
                }
            }
            if (q << p) >= limit {
                return None;
            }
            let mut rem = 0u64;
            for _ in 0..p {
                rem = (rem << 1) | u64::from(r.next()?);
            }
            let delta = (q << p) | rem;
            if delta == 0 && !set.values.is_empty() {
                return None; // not strictly increasing
            }
            let v = prev.checked_add(delta).filter(|v| *v < limit)?;
            if set.values.len() >= set.capacity() {
                return None;
            }
            set.values.push(v);
            prev = v;
        }
    }
}

#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    used: u8,
}

impl BitWriter {
    fn push(&mut self, bit: bool) {
        if self.used == 0 {
            self.bytes.push(0);
        }
        if bit {
            if let Some(last) = self.bytes.last_mut() {
                *last |= 0x80 >> self.used;
            }
        }
        self.used = (self.used + 1) % 8;
    }

    fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

struct BitReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl BitReader<'_> {
    fn next(&mut self) -> Option<bool> {
        let byte = self.bytes.get(self.at / 8)?;
        let bit = byte & (0x80 >> (self.at % 8)) != 0;
        self.at += 1;
        Some(bit)
    }
}

/// How the digest cookie is made.
///
/// ```
/// let c = h2push::hints::DigestConfig::default();
/// assert_eq!(c.cookie, "h2push_digest");
/// assert_eq!(1usize << c.capacity_bits, 64);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct DigestConfig {
    /// The cookie's name.
    pub cookie: String,
    /// log2 of the most resources remembered (default 6: 64). When a page would add more,
    /// the digest starts over with that page's resources.
    pub capacity_bits: u8,
    /// log2 of the inverse false-positive rate (default 8: one key in 256 is wrongly taken
    /// for cached, and not pushed).
    pub fp_bits: u8,
    /// The cookie's `Max-Age` (default 7 days).
    pub max_age: Duration,
    /// The HMAC key sealing the cookie. `None` (the default) draws a random key per
    /// [`HintLayer`](super::HintLayer) (one per process for the `h2push` command), so
    /// cookies from before a restart, or from another instance, read as a first visit. Set
    /// the same one on every instance behind a load balancer to have them read each other's
    /// cookies, e.g. with [`DigestConfig::with_key`].
    pub secret: Option<[u8; 32]>,
}

impl Default for DigestConfig {
    fn default() -> Self {
        DigestConfig {
            cookie: "h2push_digest".to_owned(),
            capacity_bits: 6,
            fp_bits: 8,
            max_age: Duration::from_secs(7 * 24 * 3600),
            secret: None,
        }
    }
}

/// Reads and writes the sealed digest cookie.
pub(crate) struct DigestCookie {
    config: DigestConfig,
    key: hmac::Key,
}

impl std::fmt::Debug for DigestCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestCookie")
            .field("cookie", &self.config.cookie)
            .finish_non_exhaustive()
    }
}

impl DigestCookie {
    pub(crate) fn new(config: DigestConfig) -> Self {
        let secret = config.secret.unwrap_or_else(|| {
            use ring::rand::SecureRandom as _;
            let mut s = [0u8; 32];
            // SystemRandom only fails where the OS has no randomness; then the cookie is
            // still well-formed, merely forgeable, which costs only its holder's pushes.
            let _ = ring::rand::SystemRandom::new().fill(&mut s);
            s
        });
        DigestCookie {
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            config,
        }
    }

    /// An empty digest with the configured parameters.
    pub(crate) fn empty(&self) -> CacheDigest {
        CacheDigest::new(self.config.capacity_bits, self.config.fp_bits)
    }

    /// The client's digest from its `Cookie` fields; empty when absent, malformed, forged,
    /// or made with other parameters.
    pub(crate) fn read(&self, headers: &HeaderMap) -> CacheDigest {
        self.try_read(headers).unwrap_or_else(|| self.empty())
    }

    fn try_read(&self, headers: &HeaderMap) -> Option<CacheDigest> {
        let value = cookie_value(headers, &self.config.cookie)?;
        if value.len() > MAX_COOKIE_LEN {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(value).ok()?;
        let (payload, tag) = raw.split_at_checked(raw.len().checked_sub(TAG_LEN)?)?;
        let want = hmac::sign(&self.key, payload);
        if !constant_time_eq(&want.as_ref()[..TAG_LEN], tag) {
            return None;
        }
        let digest = CacheDigest::from_bytes(payload)?;
        let expected = self.empty();
        (digest.capacity_bits == expected.capacity_bits && digest.fp_bits == expected.fp_bits)
            .then_some(digest)
    }

    /// The `Set-Cookie` value carrying `digest`.
    pub(crate) fn set_cookie(&self, digest: &CacheDigest, secure: bool) -> HeaderValue {
        let payload = digest.to_bytes();
        let tag = hmac::sign(&self.key, &payload);
        let mut raw = payload;
        raw.extend_from_slice(&tag.as_ref()[..TAG_LEN]);
        let mut s = format!(
            "{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax",
            self.config.cookie,
            URL_SAFE_NO_PAD.encode(raw),
            self.config.max_age.as_secs()
        );
        if secure {
            s.push_str("; Secure");
        }
        // The name came from the configuration; a name with bytes a header cannot carry
        // gets no cookie rather than a panic.
        HeaderValue::try_from(s).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// The value of cookie `name` in the request's `Cookie` fields (RFC 6265 §5.4: pairs
/// separated by `;`). The first occurrence wins.
fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| n.trim() == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cookie_headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_str(value).unwrap());
        h
    }

    fn jar(set_cookie: &HeaderValue) -> HeaderMap {
        let pair = set_cookie.to_str().unwrap().split(';').next().unwrap();
        cookie_headers(&format!("other=1; {pair}; x=y"))
    }

    #[test]
    fn cookie_round_trips() {
        let c = DigestCookie::new(DigestConfig::default());
        let mut d = c.empty();
        for p in ["/a.css", "/b.js", "/c.woff2"] {
            d.insert(resource_key(p, Some("\"1\"")));
        }
        let set = c.set_cookie(&d, true);
        assert!(set.to_str().unwrap().ends_with("; Secure"));
        assert_eq!(c.read(&jar(&set)), d);
    }

    #[test]
    fn forged_malformed_and_foreign_cookies_read_empty() {
        let c = DigestCookie::new(DigestConfig::default());
        let other = DigestCookie::new(DigestConfig::default());
        let mut d = c.empty();
        d.insert(resource_key("/a.css", None));
        // Sealed with another key: forged.
        assert!(c.read(&jar(&other.set_cookie(&d, false))).is_empty());
        // A flipped bit anywhere.
        let good = c.set_cookie(&d, false);
        let value = good
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1;
        let mut raw = URL_SAFE_NO_PAD.decode(value).unwrap();
        raw[3] ^= 1;
        let bad = format!("h2push_digest={}", URL_SAFE_NO_PAD.encode(&raw));
        assert!(c.read(&cookie_headers(&bad)).is_empty());
        for junk in [
            "h2push_digest=",
            "h2push_digest=%%%",
            "h2push_digest=AAAA",
            "nothing",
        ] {
            assert!(c.read(&cookie_headers(junk)).is_empty(), "{junk}");
        }
        let huge = format!("h2push_digest={}", "A".repeat(MAX_COOKIE_LEN + 1));
        assert!(c.read(&cookie_headers(&huge)).is_empty());
        assert!(c.read(&HeaderMap::new()).is_empty());
    }

    #[test]
    fn a_full_set_refuses_more() {
        let mut d = CacheDigest::new(2, 4);
        let mut added = 0;
        for i in 0..100 {
            added += usize::from(d.insert(resource_key(&format!("/{i}"), None)));
        }
        assert_eq!((added, d.len()), (4, 4));
    }

    #[test]
    fn decoder_rejects_bad_structure() {
        assert_eq!(CacheDigest::from_bytes(&[]), None);
        assert_eq!(CacheDigest::from_bytes(&[2, 6, 8]), None, "unknown version");
        assert_eq!(
            CacheDigest::from_bytes(&[1, 0, 8]),
            None,
            "capacity out of range"
        );
        assert_eq!(
            CacheDigest::from_bytes(&[1, 6, 17]),
            None,
            "fp bits out of range"
        );
        // Two values with delta 0: not strictly increasing.
        assert_eq!(
            CacheDigest::from_bytes(&[1, 1, 1, 0b1010_1000, 0b0000_0000]),
            None
        );
        // The empty set, and padding longer than a byte.
        assert_eq!(
            CacheDigest::from_bytes(&[1, 1, 1]),
            Some(CacheDigest::new(1, 1))
        );
        assert_eq!(CacheDigest::from_bytes(&[1, 1, 1, 0]), None);
        // A unary run past the range.
        assert_eq!(CacheDigest::from_bytes(&[1, 1, 1, 0b0000_1000]), None);
    }

    #[test]
    fn size_stays_small() {
        let c = DigestCookie::new(DigestConfig::default());
        let mut d = c.empty();
        for i in 0..64 {
            d.insert(resource_key(&format!("/asset-{i}.js"), Some("\"x\"")));
        }
        let len = c.set_cookie(&d, true).len();
        assert!(len < 200, "{len} bytes");
    }

    proptest! {
        #[test]
        fn any_set_round_trips(keys in proptest::collection::vec(any::<u64>(), 0..80), n in 1u8..10, p in 1u8..12) {
            let mut d = CacheDigest::new(n, p);
            for k in &keys {
                d.insert(*k);
            }
            let back = CacheDigest::from_bytes(&d.to_bytes()).unwrap();
            prop_assert_eq!(&back, &d);
            for k in keys.iter().filter(|k| d.contains(**k)) {
                prop_assert!(back.contains(*k));
            }
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = CacheDigest::from_bytes(&bytes);
        }
    }
}
