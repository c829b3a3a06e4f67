//! Telling h2c prior knowledge from HTTP/1.1 on a plaintext port.
//!
//! This module owns one decision: does the client open with the 24-byte HTTP/2 connection
//! preface (RFC 9113 §3.4)? It peeks, so whichever driver takes the socket reads it from the
//! start. Serving either protocol is left to [`super::h1`] and [`super::h2`].

use std::io;
use std::time::Duration;

use tokio::net::TcpStream;

/// The client connection preface of HTTP/2 (RFC 9113 §3.4).
pub(crate) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The protocol a plaintext client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniffed {
    H2c,
    Http1,
}

/// Peeks at the first bytes of `stream` until they match or rule out the HTTP/2 preface.
/// A client that says nothing for `timeout` is an error, as is one that closes early.
pub(crate) async fn sniff(stream: &TcpStream, timeout: Duration) -> io::Result<Sniffed> {
    let mut buf = [0u8; PREFACE.len()];
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let n = tokio::time::timeout_at(deadline, stream.peek(&mut buf))
            .await
            .map_err(|_| {
                io::Error::new(io::ErrorKind::TimedOut, "no request before the timeout")
            })??;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        match classify(&buf[..n]) {
            Some(s) => return Ok(s),
            // A prefix of the preface: wait for more. peek returns at once while data is
            // queued, so wait for the socket to become readable again first.
            None => {
                tokio::time::timeout_at(deadline, tokio::time::sleep(Duration::from_millis(1)))
                    .await
                    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "preface incomplete"))?;
            }
        }
    }
}

/// What `bytes` (the start of a connection) say, if enough to tell.
fn classify(bytes: &[u8]) -> Option<Sniffed> {
    if bytes.len() >= PREFACE.len() {
        return Some(if bytes[..PREFACE.len()] == PREFACE[..] {
            Sniffed::H2c
        } else {
            Sniffed::Http1
        });
    }
    if PREFACE.starts_with(bytes) {
        None
    } else {
        Some(Sniffed::Http1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preface_is_h2c() {
        assert_eq!(classify(PREFACE), Some(Sniffed::H2c));
        let mut more = PREFACE.to_vec();
        more.extend_from_slice(b"\0\0\0\x04");
        assert_eq!(classify(&more), Some(Sniffed::H2c));
    }

    #[test]
    fn a_request_line_is_http1() {
        assert_eq!(classify(b"GET / HTTP/1.1\r\n"), Some(Sniffed::Http1));
        // "PRI" alone could still become the preface; "PRX" cannot.
        assert_eq!(classify(b"PRI"), None);
        assert_eq!(classify(b"PRX"), Some(Sniffed::Http1));
        assert_eq!(
            classify(b"POST /x HTTP/1.1\r\nHost: a\r\n\r\n"),
            Some(Sniffed::Http1)
        );
    }
}
