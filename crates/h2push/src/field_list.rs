//! Comma-separated field values (RFC 9110 §5.6.1): whether one lists a token.
//!
//! This module owns one small rule used by the hint policy (`Vary`, `Cache-Control`) and by
//! compression (`Vary`, `no-transform`); what a token means is theirs.

use http::HeaderValue;

/// Whether `value` lists one of `tokens` (ASCII case-insensitive, whitespace around items
/// ignored); `None` if the value is not text, for the caller to decide.
pub(crate) fn lists_any(value: &HeaderValue, tokens: &[&str]) -> Option<bool> {
    let text = value.to_str().ok()?;
    Some(text.split(',').any(|item| {
        let item = item.trim();
        tokens.iter().any(|t| item.eq_ignore_ascii_case(t))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_token_in_any_case_and_spacing() {
        let v = HeaderValue::from_static("Accept-Encoding ,  Cookie");
        assert_eq!(lists_any(&v, &["cookie"]), Some(true));
        assert_eq!(lists_any(&v, &["*", "origin"]), Some(false));
        let bytes = HeaderValue::from_bytes(b"\xffcookie").unwrap();
        assert_eq!(lists_any(&bytes, &["cookie"]), None);
    }
}
