//! Write coalescing ("corking") under TLS, so one batch of responses costs one syscall.
//!
//! h2 flushes its frames every time its connection is polled, and a connection is polled once
//! per accepted stream; ten pipelined requests would cost ten `writev`s and ten TLS flushes.
//! [`Corked`] sits between the socket and TLS: while its [`Cork`] is set, writes collect in a
//! buffer and flushes are deferred; when the HTTP/2 driver has answered every request it could
//! answer at once, it pulls the cork and the next flush writes them all together (like
//! `TCP_CORK`, but without a syscall per toggle). It can also hold back one read, which the
//! driver uses to make h2 write before it reads (see `h2::Conn::send_pushed_head`). Deciding
//! when to do either is the driver's. It also notes since when the socket has refused writes
//! ([`Cork::write_blocked_since`]), so a driver can close a connection whose peer stopped
//! reading.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Above this many buffered bytes, writes go through even while corked: the point is fewer
/// syscalls, not unbounded memory.
const MAX_CORKED: usize = 256 * 1024;

/// The switches of a [`Corked`] stream, held by whoever knows when a batch ends.
#[derive(Clone)]
pub(crate) struct Cork(Arc<Switches>);

struct Switches {
    corked: AtomicBool,
    hold_read: AtomicBool,
    base: Instant,
    /// Nanoseconds after `base` at which a write was first refused (plus one, so that 0
    /// means "writes go through").
    blocked_since: AtomicU64,
}

impl Default for Cork {
    fn default() -> Self {
        Cork(Arc::new(Switches {
            corked: AtomicBool::new(false),
            hold_read: AtomicBool::new(false),
            base: Instant::now(),
            blocked_since: AtomicU64::new(0),
        }))
    }
}

impl Cork {
    /// Since when the socket has accepted no write although there was something to write;
    /// `None` while writes go through.
    pub(crate) fn write_blocked_since(&self) -> Option<Instant> {
        match self.0.blocked_since.load(Ordering::Relaxed) {
            0 => None,
            n => Some(self.0.base + Duration::from_nanos(n - 1)),
        }
    }

    fn note_write<T>(&self, polled: &Poll<io::Result<T>>) {
        match polled {
            Poll::Pending => {
                if self.0.blocked_since.load(Ordering::Relaxed) == 0 {
                    let nanos = u64::try_from(self.0.base.elapsed().as_nanos()).unwrap_or(0);
                    self.0.blocked_since.store(nanos + 1, Ordering::Relaxed);
                }
            }
            Poll::Ready(_) => self.0.blocked_since.store(0, Ordering::Relaxed),
        }
    }

    pub(crate) fn set(&self, corked: bool) {
        // Only the connection's own task touches both ends; no ordering with other memory.
        self.0.corked.store(corked, Ordering::Relaxed);
    }

    fn is_set(&self) -> bool {
        self.0.corked.load(Ordering::Relaxed)
    }

    /// Makes the next read report "nothing yet" (and wake the task to read again), so that
    /// the reader's next poll writes what it has queued before it reads anything new.
    pub(crate) fn hold_next_read(&self) {
        self.0.hold_read.store(true, Ordering::Relaxed);
    }

    fn take_hold(&self) -> bool {
        self.0.hold_read.swap(false, Ordering::Relaxed)
    }
}

/// An I/O stream whose writes can be held back and coalesced.
pub(crate) struct Corked<IO> {
    io: IO,
    cork: Cork,
    buf: Vec<u8>,
}

impl<IO> Corked<IO> {
    pub(crate) fn new(io: IO) -> Self {
        Corked {
            io,
            cork: Cork::default(),
            buf: Vec::new(),
        }
    }

    /// The switch for this stream (unset until the driver sets it).
    pub(crate) fn cork(&self) -> Cork {
        self.cork.clone()
    }
}

impl<IO: AsyncWrite + Unpin> Corked<IO> {
    /// Writes out everything buffered.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut written = 0;
        while written < self.buf.len() {
            let polled = Pin::new(&mut self.io).poll_write(cx, &self.buf[written..]);
            self.cork.note_write(&polled);
            match polled {
                Poll::Ready(Ok(0)) => {
                    self.buf.drain(..written);
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => written += n,
                Poll::Ready(Err(e)) => {
                    self.buf.drain(..written);
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => {
                    self.buf.drain(..written);
                    return Poll::Pending;
                }
            }
        }
        self.buf.clear();
        if self.buf.capacity() > MAX_CORKED {
            self.buf = Vec::new();
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Corked<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.cork.take_hold() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Corked<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.cork.is_set() && this.buf.len() + data.len() <= MAX_CORKED {
            this.buf.extend_from_slice(data);
            return Poll::Ready(Ok(data.len()));
        }
        ready!(this.poll_drain(cx))?;
        let polled = Pin::new(&mut this.io).poll_write(cx, data);
        this.cork.note_write(&polled);
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        if this.cork.is_set() && this.buf.len() + len <= MAX_CORKED {
            for b in bufs {
                this.buf.extend_from_slice(b);
            }
            return Poll::Ready(Ok(len));
        }
        ready!(this.poll_drain(cx))?;
        let polled = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.cork.note_write(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.cork.is_set() {
            // Deferred: the driver pulls the cork and flushes once the batch is complete.
            return Poll::Ready(Ok(()));
        }
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn corked_writes_wait_for_the_flush_after_the_cork_is_pulled() {
        let (a, mut b) = tokio::io::duplex(1 << 20);
        let mut w = Corked::new(a);
        let cork = w.cork();
        cork.set(true);
        w.write_all(b"one ").await.unwrap();
        w.write_all(b"two").await.unwrap();
        w.flush().await.unwrap();
        let mut buf = [0u8; 16];
        let early =
            tokio::time::timeout(std::time::Duration::from_millis(50), b.read(&mut buf)).await;
        assert!(early.is_err(), "nothing may reach the peer while corked");
        cork.set(false);
        w.flush().await.unwrap();
        let n = b.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"one two");
    }

    #[tokio::test]
    async fn a_full_buffer_writes_through_in_order() {
        let (a, mut b) = tokio::io::duplex(4 << 20);
        let mut w = Corked::new(a);
        w.cork().set(true);
        let chunk = vec![7u8; MAX_CORKED / 2 + 1];
        w.write_all(&chunk).await.unwrap();
        w.write_all(&chunk).await.unwrap();
        w.write_all(b"end").await.unwrap();
        w.cork().set(false);
        w.flush().await.unwrap();
        drop(w);
        let mut all = Vec::new();
        b.read_to_end(&mut all).await.unwrap();
        assert_eq!(all.len(), chunk.len() * 2 + 3);
        assert!(all.ends_with(b"\x07end"));
    }
}
