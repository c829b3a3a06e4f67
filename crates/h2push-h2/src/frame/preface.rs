//! The client connection preface (RFC 9113 §3.4).
//!
//! This module owns recognising the 24 octets a client opens every HTTP/2 connection with,
//! including from a prefix (so a cleartext listener can tell h2c prior knowledge from
//! HTTP/1.1 after a few octets). The SETTINGS frame that must follow it, and the server's own
//! preface (a SETTINGS frame), are `state`'s.

/// The client connection preface, `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n` (§3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the start of a connection's input says about the preface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrefaceCheck {
    /// The input is a proper prefix of the preface (or empty): read more.
    Incomplete,
    /// The input starts with the whole preface: consume [`PREFACE`]`.len()` octets, frames
    /// follow.
    Complete,
    /// The input cannot be the preface: not HTTP/2 (with prior knowledge), or a broken
    /// client (a connection error of type PROTOCOL_ERROR, §3.4).
    NotHttp2,
}

/// Checks the start of a connection's input against the client preface.
///
/// ```
/// use h2push_h2::frame::{check_preface, PrefaceCheck, PREFACE};
///
/// assert_eq!(check_preface(b"PRI * HT"), PrefaceCheck::Incomplete);
/// assert_eq!(check_preface(b"GET / HTTP/1.1\r\n"), PrefaceCheck::NotHttp2);
/// let mut input = PREFACE.to_vec();
/// input.extend_from_slice(b"\0\0\0\x04\0\0\0\0\0");
/// assert_eq!(check_preface(&input), PrefaceCheck::Complete);
/// ```
pub fn check_preface(input: &[u8]) -> PrefaceCheck {
    let n = input.len().min(PREFACE.len());
    if input[..n] != PREFACE[..n] {
        PrefaceCheck::NotHttp2
    } else if n < PREFACE.len() {
        PrefaceCheck::Incomplete
    } else {
        PrefaceCheck::Complete
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_is_incomplete_3_4() {
        for n in 0..PREFACE.len() {
            assert_eq!(
                check_preface(&PREFACE[..n]),
                PrefaceCheck::Incomplete,
                "{n}"
            );
        }
        assert_eq!(check_preface(PREFACE), PrefaceCheck::Complete);
    }

    #[test]
    fn http1_is_told_apart_at_the_first_octet_3_4() {
        assert_eq!(check_preface(b"G"), PrefaceCheck::NotHttp2);
        // PRI with another version: an HTTP/1.x request line with method PRI.
        assert_eq!(check_preface(b"PRI * HTTP/1.1\r\n"), PrefaceCheck::NotHttp2);
        let mut late = PREFACE.to_vec();
        late[23] = b'x';
        assert_eq!(check_preface(&late), PrefaceCheck::NotHttp2);
    }
}
