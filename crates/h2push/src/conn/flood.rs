//! A limit on control frames a client may send: PING and SETTINGS floods.
//!
//! h2 and our own engine answer every PING and SETTINGS frame; a client that sends them in a
//! loop (and reads nothing) costs CPU until the send timeout ends it. [`FloodGuard`] walks
//! the frame headers of what the client sends (the bytes pass through untouched) and fails
//! the read, which closes the connection, once more than [`MAX_CONTROL`] PING or SETTINGS
//! frames (ACKs excluded) arrive within [`WINDOW`]. Both HTTP/2 drivers ([`super::h2`],
//! [`super::engine`]) wrap their socket in it; everything else about frames is theirs.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// PING and SETTINGS frames allowed per [`WINDOW`]: browsers send a handful a minute.
pub(super) const MAX_CONTROL: u32 = 1000;
/// The window the frames are counted in.
pub(super) const WINDOW: Duration = Duration::from_secs(10);

const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const ACK: u8 = 0x1;

/// An I/O stream that counts the client's PING and SETTINGS frames.
pub(super) struct FloodGuard<IO> {
    io: IO,
    /// Bytes to pass before the next frame header (the preface first, then payloads).
    skip: usize,
    head: [u8; 9],
    head_len: usize,
    count: u32,
    since: Instant,
}

impl<IO> FloodGuard<IO> {
    pub(super) fn new(io: IO) -> Self {
        FloodGuard {
            io,
            skip: crate::conn::sniff::PREFACE.len(),
            head: [0; 9],
            head_len: 0,
            count: 0,
            since: Instant::now(),
        }
    }

    /// Walks `bytes`; `false` once the client has sent too many control frames.
    fn scan(&mut self, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (9 - self.head_len).min(bytes.len());
            self.head[self.head_len..self.head_len + n].copy_from_slice(&bytes[..n]);
            self.head_len += n;
            bytes = &bytes[n..];
            if self.head_len < 9 {
                break;
            }
            self.head_len = 0;
            let h = self.head;
            self.skip = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
            if (h[3] == PING || h[3] == SETTINGS) && h[4] & ACK == 0 && !self.counted() {
                return false;
            }
        }
        true
    }

    fn counted(&mut self) -> bool {
        if self.since.elapsed() > WINDOW {
            self.since = Instant::now();
            self.count = 0;
        }
        self.count += 1;
        self.count <= MAX_CONTROL
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for FloodGuard<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            if !this.scan(&buf.filled()[before..]) {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "PING/SETTINGS flood: connection closed",
                )));
            }
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for FloodGuard<IO> {
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

    fn frame(ty: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut f = vec![
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            ty,
            flags,
            0,
            0,
            0,
            0,
        ];
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn pings_past_the_limit_fail_and_acks_and_data_do_not_count() {
        let mut g = FloodGuard::new(());
        let mut start = crate::conn::sniff::PREFACE.to_vec();
        start.extend(frame(SETTINGS, 0, &[0, 3, 0, 0, 0, 100]));
        assert!(g.scan(&start));
        // Frames cut anywhere, with payloads that look like frame headers.
        let mut stream = Vec::new();
        for _ in 0..2000 {
            stream.extend(frame(SETTINGS, ACK, &[]));
            stream.extend(frame(0x0, 0, &[0, 0, 8, PING, 0, 0, 0, 0, 0]));
        }
        for chunk in stream.chunks(7) {
            assert!(g.scan(chunk));
        }
        let ping = frame(PING, 0, &[0; 8]);
        for i in 1..MAX_CONTROL {
            assert!(g.scan(&ping), "ping {i}");
        }
        assert!(!g.scan(&ping), "one past the limit");
    }
}
