//! The digest cookie's key: a shared secret text, checked and turned into the HMAC key.
//!
//! This module owns [`DigestConfig::with_key`] and what makes a key acceptable (long enough,
//! printable, not a placeholder), so that instances behind a load balancer, given the same
//! text, seal and read the same cookies. Where the text comes from (a config file, the
//! environment) is the caller's business; sealing cookies is `digest.rs`'s.

use super::digest::DigestConfig;

/// The fewest characters a digest key ([`DigestConfig::with_key`]) may have.
pub const MIN_DIGEST_KEY_LEN: usize = 32;

/// Why a digest key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestKeyError {
    /// Fewer than [`MIN_DIGEST_KEY_LEN`] characters (after trimming surrounding whitespace).
    #[error(
        "the digest key has {len} characters; it needs at least {MIN_DIGEST_KEY_LEN} \
         (make one with `openssl rand -base64 32`)"
    )]
    TooShort {
        /// How many it has.
        len: usize,
    },
    /// A space, control or non-ASCII character inside the key.
    #[error(
        "the digest key may only hold printable ASCII without spaces; character {at} is {found:?}"
    )]
    BadCharacter {
        /// The character.
        found: char,
        /// Its position, counting from 1.
        at: usize,
    },
    /// So few different characters that it cannot be random (`changemechangeme…`).
    #[error(
        "the digest key uses only {distinct} different characters, so it is not random \
         (make one with `openssl rand -base64 32`)"
    )]
    NotRandom {
        /// How many different characters it uses.
        distinct: usize,
    },
}

impl DigestConfig {
    /// Seals cookies with a key derived from `key`, a shared secret text (at least
    /// [`MIN_DIGEST_KEY_LEN`] printable ASCII characters, e.g. the output of
    /// `openssl rand -base64 32`; surrounding whitespace, like a trailing newline, is
    /// ignored). Every instance given the same text reads the others' cookies.
    ///
    /// ```
    /// use h2push::hints::{DigestConfig, DigestKeyError};
    /// let key = "q0Vt3f8JmXbR2nYc7LwZp5Hs9KdA1eUg6TiO4";
    /// let a = DigestConfig::default().with_key(key)?;
    /// let b = DigestConfig::default().with_key(&format!("{key}\n"))?;
    /// assert_eq!(a.secret, b.secret);
    /// assert!(matches!(
    ///     DigestConfig::default().with_key("short"),
    ///     Err(DigestKeyError::TooShort { len: 5 })
    /// ));
    /// # Ok::<(), DigestKeyError>(())
    /// ```
    pub fn with_key(mut self, key: &str) -> Result<Self, DigestKeyError> {
        self.secret = Some(secret_from_key(key)?);
        Ok(self)
    }
}

/// Checks a key text and derives the 32-byte HMAC key from it (SHA-256 of a fixed label and
/// the text, so keys of any length and alphabet give a full-size key).
fn secret_from_key(key: &str) -> Result<[u8; 32], DigestKeyError> {
    let key = key.trim();
    if let Some((i, c)) = key.chars().enumerate().find(|(_, c)| !c.is_ascii_graphic()) {
        return Err(DigestKeyError::BadCharacter {
            found: c,
            at: i + 1,
        });
    }
    if key.len() < MIN_DIGEST_KEY_LEN {
        return Err(DigestKeyError::TooShort { len: key.len() });
    }
    let distinct = key
        .bytes()
        .fold([false; 128], |mut seen, b| {
            seen[usize::from(b & 0x7f)] = true;
            seen
        })
        .iter()
        .filter(|&&s| s)
        .count();
    if distinct < 8 {
        return Err(DigestKeyError::NotRandom { distinct });
    }
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"h2push digest cookie key v1\0");
    ctx.update(key.as_bytes());
    let mut secret = [0u8; 32];
    secret.copy_from_slice(ctx.finish().as_ref());
    Ok(secret)
}

impl std::fmt::Debug for DigestConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key: policies get logged.
        f.debug_struct("DigestConfig")
            .field("cookie", &self.cookie)
            .field("capacity_bits", &self.capacity_bits)
            .field("fp_bits", &self.fp_bits)
            .field("max_age", &self.max_age)
            .field("secret", &self.secret.map(|_| "<set>"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use http::header::COOKIE;
    use http::{HeaderMap, HeaderValue};

    use super::*;

    /// What a browser sends back after `set_cookie`.
    fn jar(set_cookie: &HeaderValue) -> HeaderMap {
        let pair = set_cookie.to_str().unwrap().split(';').next().unwrap();
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_str(pair).unwrap());
        h
    }

    #[test]
    fn instances_sharing_a_key_read_each_others_cookies() {
        let key = "q0Vt3f8JmXbR2nYc7LwZp5Hs9KdA1eUg6TiO4";
        let a =
            super::super::digest::DigestCookie::new(DigestConfig::default().with_key(key).unwrap());
        let b =
            super::super::digest::DigestCookie::new(DigestConfig::default().with_key(key).unwrap());
        let other = super::super::digest::DigestCookie::new(
            DigestConfig::default()
                .with_key("another-random-key-0123456789abcdefXYZ")
                .unwrap(),
        );
        let random = super::super::digest::DigestCookie::new(DigestConfig::default());
        let mut d = a.empty();
        d.insert(super::super::resource_key("/a.css", Some("\"1\"")));
        let jar = jar(&a.set_cookie(&d, true));
        assert_eq!(b.read(&jar), d, "same key: the other instance reads it");
        assert!(other.read(&jar).is_empty(), "another key: a first visit");
        assert!(random.read(&jar).is_empty(), "a random key: a first visit");
    }

    #[test]
    fn bad_keys_are_refused_with_the_reason() {
        let long = "q0Vt3f8JmXbR2nYc7LwZp5Hs9KdA1eUg6TiO4";
        assert!(secret_from_key(long).is_ok());
        assert_eq!(
            secret_from_key(&format!("  {long}\r\n")),
            secret_from_key(long),
            "surrounding whitespace is ignored"
        );
        assert_ne!(secret_from_key(long), secret_from_key(&long[1..]));
        assert_eq!(
            secret_from_key("0123456789abcdef"),
            Err(DigestKeyError::TooShort { len: 16 })
        );
        assert_eq!(
            secret_from_key(""),
            Err(DigestKeyError::TooShort { len: 0 })
        );
        assert_eq!(
            secret_from_key("q0Vt3f8JmXbR2nYc 7LwZp5Hs9KdA1eUg6TiO4"),
            Err(DigestKeyError::BadCharacter { found: ' ', at: 17 })
        );
        assert!(matches!(
            secret_from_key("q0Vt3f8JmXbR2nYcé7LwZp5Hs9KdA1eUg6TiO4"),
            Err(DigestKeyError::BadCharacter { found: 'é', .. })
        ));
        assert_eq!(
            secret_from_key(&"changeme".repeat(4)),
            Err(DigestKeyError::NotRandom { distinct: 7 })
        );
        let e = secret_from_key("short").unwrap_err().to_string();
        assert!(
            e.contains("at least 32") && e.contains("openssl rand"),
            "{e}"
        );
    }

    #[test]
    fn debug_never_shows_the_key() {
        let c = DigestConfig::default()
            .with_key("q0Vt3f8JmXbR2nYc7LwZp5Hs9KdA1eUg6TiO4")
            .unwrap();
        let shown = format!("{c:?}");
        assert!(shown.contains("<set>") && !shown.contains('['), "{shown}");
    }
}
