//! Reading the client's first SETTINGS frame on its way into h2.
//!
//! h2 keeps the client's `SETTINGS_ENABLE_PUSH` to itself: an application would learn that
//! push is off only by trying. Yet every browser sends `ENABLE_PUSH = 0` in the SETTINGS frame
//! that must follow its connection preface (RFC 9113 §3.4). [`ClientSettings`] passes the
//! bytes through untouched and parses just that frame, so that [`crate::Pusher`] can say
//! "unavailable" from the first request on, and a policy skips building pushes nobody wants.
//! Everything else about the connection is h2's.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::conn::sniff::PREFACE;
use crate::push::PushBook;

/// Bytes of the preface and the first frame's header.
const HEAD: usize = 24 + 9;
/// A SETTINGS frame longer than this is not parsed (the limit only bounds memory; a client
/// sends six settings at most, 36 bytes).
const MAX_PAYLOAD: usize = 256;
const SETTINGS: u8 = 0x4;
const ENABLE_PUSH: u16 = 0x2;

/// An I/O stream that reports the client's `ENABLE_PUSH` to a [`PushBook`].
pub(crate) struct ClientSettings<IO> {
    io: IO,
    book: Arc<PushBook>,
    /// The first bytes read, until the frame is parsed; `None` once done.
    seen: Option<Vec<u8>>,
}

impl<IO> ClientSettings<IO> {
    pub(crate) fn new(io: IO, book: Arc<PushBook>) -> Self {
        ClientSettings {
            io,
            book,
            seen: Some(Vec::with_capacity(HEAD + 36)),
        }
    }
}

/// What the start of a connection says about push, once it says anything.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    NeedMore,
    PushDisabled,
    /// Push allowed, or not a frame we can read: leave the decision to h2.
    Done,
}

fn read_settings(bytes: &[u8]) -> Verdict {
    if bytes.len() < HEAD {
        return Verdict::NeedMore;
    }
    if bytes[..24] != PREFACE[..] || bytes[27] != SETTINGS {
        return Verdict::Done;
    }
    let len = usize::from(bytes[24]) << 16 | usize::from(bytes[25]) << 8 | usize::from(bytes[26]);
    if len > MAX_PAYLOAD || len % 6 != 0 {
        return Verdict::Done;
    }
    let Some(payload) = bytes.get(HEAD..HEAD + len) else {
        return Verdict::NeedMore;
    };
    let mut disabled = false;
    for entry in payload.chunks_exact(6) {
        let id = u16::from_be_bytes([entry[0], entry[1]]);
        let value = u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]);
        if id == ENABLE_PUSH {
            // The last value of a setting wins (RFC 9113 §6.5.3).
            disabled = value == 0;
        }
    }
    if disabled {
        Verdict::PushDisabled
    } else {
        Verdict::Done
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for ClientSettings<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(seen)) = (&polled, this.seen.as_mut()) {
            let new = &buf.filled()[before..];
            let want = (HEAD + MAX_PAYLOAD).saturating_sub(seen.len());
            seen.extend_from_slice(&new[..new.len().min(want)]);
            let verdict = if new.is_empty() {
                Verdict::Done
            } else {
                read_settings(seen)
            };
            match verdict {
                Verdict::NeedMore => {}
                Verdict::PushDisabled => {
                    this.book.set_disabled();
                    this.seen = None;
                }
                Verdict::Done => this.seen = None,
            }
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for ClientSettings<IO> {
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

    fn start(settings: &[(u16, u32)]) -> Vec<u8> {
        let mut b = PREFACE.to_vec();
        let len = settings.len() * 6;
        b.extend_from_slice(&[
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            SETTINGS,
            0,
            0,
            0,
            0,
            0,
        ]);
        for (id, v) in settings {
            b.extend_from_slice(&id.to_be_bytes());
            b.extend_from_slice(&v.to_be_bytes());
        }
        b
    }

    #[test]
    fn enable_push_zero_is_seen() {
        assert_eq!(
            read_settings(&start(&[(0x3, 100), (ENABLE_PUSH, 0)])),
            Verdict::PushDisabled
        );
        assert_eq!(read_settings(&start(&[(ENABLE_PUSH, 1)])), Verdict::Done);
        assert_eq!(read_settings(&start(&[])), Verdict::Done);
        // The last value wins.
        assert_eq!(
            read_settings(&start(&[(ENABLE_PUSH, 0), (ENABLE_PUSH, 1)])),
            Verdict::Done
        );
    }

    #[test]
    fn partial_input_waits_and_garbage_gives_up() {
        let full = start(&[(ENABLE_PUSH, 0)]);
        for cut in 0..full.len() {
            assert_eq!(
                read_settings(&full[..cut]),
                Verdict::NeedMore,
                "cut at {cut}"
            );
        }
        let mut other = full.clone();
        other[27] = 0x8; // WINDOW_UPDATE first: not for us to judge
        assert_eq!(read_settings(&other), Verdict::Done);
        let mut odd = full;
        odd[26] = 5; // a length that is no multiple of 6
        assert_eq!(read_settings(&odd), Verdict::Done);
    }

    #[tokio::test]
    async fn bytes_pass_through_unchanged_in_small_reads() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut a, b) = tokio::io::duplex(64);
        let book = Arc::new(PushBook::new());
        let mut r = ClientSettings::new(b, book.clone());
        let bytes = start(&[(ENABLE_PUSH, 0)]);
        let sent = bytes.clone();
        tokio::spawn(async move {
            for chunk in sent.chunks(5) {
                a.write_all(chunk).await.unwrap();
            }
        });
        let mut got = vec![0u8; bytes.len()];
        r.read_exact(&mut got).await.unwrap();
        assert_eq!(got, bytes);
        assert!(book.is_disabled());
    }
}
