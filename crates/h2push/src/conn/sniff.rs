//! Telling h2c prior knowledge from HTTP/1.1 on a plaintext port.
//!
//! This module owns one decision: does the client open with the 24-byte HTTP/2 connection
//! preface (RFC 9113 §3.4)? It reads the first bytes (waking only when the socket has more,
//! never on a timer) and hands them back in front of the socket as a [`Prefixed`] stream, so
//! whichever driver takes it reads the connection from its start. Serving either protocol is
//! left to [`super::h1`] and [`super::h2`].

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// The client connection preface of HTTP/2 (RFC 9113 §3.4).
pub(crate) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The protocol a plaintext client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniffed {
    H2c,
    Http1,
}

/// Reads the first bytes of `io` until they match or rule out the HTTP/2 preface, and gives
/// back the stream with those bytes replayed. A client that does not decide it within
/// `timeout` is an error, as is one that closes early.
pub(crate) async fn sniff<IO: AsyncRead + Unpin>(
    mut io: IO,
    timeout: Duration,
) -> io::Result<(Sniffed, Prefixed<IO>)> {
    let mut buf = [0u8; PREFACE.len()];
    let mut n = 0;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        // A read returns as soon as anything arrives: each turn waits for new bytes.
        let got = tokio::time::timeout_at(deadline, io.read(&mut buf[n..]))
            .await
            .map_err(|_| {
                let what = if n == 0 {
                    "no request before the timeout"
                } else {
                    "the HTTP/2 preface was not complete before the timeout"
                };
                io::Error::new(io::ErrorKind::TimedOut, what)
            })??;
        if got == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        n += got;
        if let Some(s) = classify(&buf[..n]) {
            return Ok((s, Prefixed::new(buf[..n].to_vec(), io)));
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

/// A stream whose first bytes were already read: they are read again first.
pub(crate) struct Prefixed<IO> {
    prefix: Vec<u8>,
    pos: usize,
    io: IO,
}

impl<IO> Prefixed<IO> {
    fn new(prefix: Vec<u8>, io: IO) -> Self {
        Prefixed { prefix, pos: 0, io }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Prefixed<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pos < this.prefix.len() {
            let rest = &this.prefix[this.pos..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.pos += n;
            if this.pos == this.prefix.len() {
                this.prefix = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Prefixed<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

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

    #[tokio::test]
    async fn a_preface_in_pieces_is_replayed_whole() {
        let (mut client, server) = tokio::io::duplex(256);
        let writer = tokio::spawn(async move {
            for piece in PREFACE.chunks(5) {
                client.write_all(piece).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            client.write_all(b"rest").await.unwrap();
            client
        });
        let (what, mut io) = sniff(server, Duration::from_secs(5)).await.unwrap();
        assert_eq!(what, Sniffed::H2c);
        let _client = writer.await.unwrap();
        let mut got = vec![0u8; PREFACE.len() + 4];
        io.read_exact(&mut got).await.unwrap();
        assert_eq!(&got[..24], &PREFACE[..]);
        assert_eq!(&got[24..], b"rest");
    }

    #[tokio::test]
    async fn a_stalled_preface_times_out() {
        let (mut client, server) = tokio::io::duplex(256);
        client.write_all(&PREFACE[..10]).await.unwrap();
        let err = sniff(server, Duration::from_millis(100))
            .await
            .err()
            .unwrap();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
