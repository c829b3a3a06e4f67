//! `Range: bytes=` parsing (RFC 9110 §14.1–14.2).
//!
//! This module owns turning a `Range` header value and a representation length into "serve
//! these bytes", "unsatisfiable" or "ignore the header". Whether the header applies at all
//! (GET only, `If-Range`) and building the 206/416 response are the caller's business.
//!
//! Only single ranges are honoured: a request for several ranges gets the whole file with 200,
//! which RFC 9110 permits (a server may ignore `Range`) and which avoids multipart bodies.

/// What to do with a `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeAnswer {
    /// Serve the whole representation with 200 (bad syntax, another unit, several ranges).
    Ignore,
    /// Serve bytes `start..=end` with 206.
    Partial {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Interprets a `Range` value for a representation of `len` bytes.
pub(crate) fn parse(value: &[u8], len: u64) -> RangeAnswer {
    let Ok(value) = std::str::from_utf8(value) else {
        return RangeAnswer::Ignore;
    };
    let value = value.trim();
    let Some((unit, set)) = value.split_once('=') else {
        return RangeAnswer::Ignore;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeAnswer::Ignore;
    }
    // Empty list elements are allowed by the grammar (`bytes=0-1,`); count the real ones.
    let mut specs = set.split(',').map(str::trim).filter(|s| !s.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else {
        return RangeAnswer::Ignore;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return RangeAnswer::Ignore;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // Suffix range: the last `n` bytes.
        let Some(n) = number(last) else {
            return RangeAnswer::Ignore;
        };
        if n == 0 || len == 0 {
            return RangeAnswer::Unsatisfiable;
        }
        return RangeAnswer::Partial {
            start: len.saturating_sub(n),
            end: len - 1,
        };
    }
    let Some(start) = number(first) else {
        return RangeAnswer::Ignore;
    };
    let end = if last.is_empty() {
        None
    } else {
        match number(last) {
            Some(end) if end >= start => Some(end),
            // `5-3` is invalid syntax, not unsatisfiable: ignore the header.
            _ => return RangeAnswer::Ignore,
        }
    };
    if start >= len {
        return RangeAnswer::Unsatisfiable;
    }
    RangeAnswer::Partial {
        start,
        end: end.map_or(len - 1, |e| e.min(len - 1)),
    }
}

/// A non-empty run of ASCII digits that fits in a u64.
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::RangeAnswer::*;
    use super::*;

    fn p(v: &str, len: u64) -> RangeAnswer {
        parse(v.as_bytes(), len)
    }

    #[test]
    fn single_ranges() {
        assert_eq!(p("bytes=0-0", 10), Partial { start: 0, end: 0 });
        assert_eq!(p("bytes=2-5", 10), Partial { start: 2, end: 5 });
        assert_eq!(p("bytes=2-", 10), Partial { start: 2, end: 9 });
        assert_eq!(p("bytes=2-100", 10), Partial { start: 2, end: 9 });
        assert_eq!(p("bytes=-3", 10), Partial { start: 7, end: 9 });
        assert_eq!(p("bytes=-30", 10), Partial { start: 0, end: 9 });
        assert_eq!(p(" Bytes = 1 - 2 ", 10), Partial { start: 1, end: 2 });
        assert_eq!(p("bytes=3-4,", 10), Partial { start: 3, end: 4 });
    }

    #[test]
    fn unsatisfiable() {
        assert_eq!(p("bytes=10-", 10), Unsatisfiable);
        assert_eq!(p("bytes=10-20", 10), Unsatisfiable);
        assert_eq!(p("bytes=-0", 10), Unsatisfiable);
        assert_eq!(p("bytes=0-", 0), Unsatisfiable);
        assert_eq!(p("bytes=-5", 0), Unsatisfiable);
    }

    #[test]
    fn ignored() {
        assert_eq!(p("bytes=0-1,3-4", 10), Ignore);
        assert_eq!(p("bytes=5-3", 10), Ignore);
        assert_eq!(p("items=0-1", 10), Ignore);
        assert_eq!(p("bytes=", 10), Ignore);
        assert_eq!(p("bytes=a-b", 10), Ignore);
        assert_eq!(p("bytes=-", 10), Ignore);
        assert_eq!(p("bytes=+1-2", 10), Ignore);
        assert_eq!(p("bytes=99999999999999999999999-", 10), Ignore);
        assert_eq!(p("0-1", 10), Ignore);
        assert_eq!(parse(b"bytes=\xff-1", 10), Ignore);
    }

    proptest::proptest! {
        #[test]
        fn partial_is_always_in_bounds(v in ".{0,40}", len in 0u64..1000) {
            if let Partial { start, end } = p(&v, len) {
                proptest::prop_assert!(start <= end && end < len);
            }
        }
    }
}
