//! Streaming a file (or a byte range of it) from disk as an `http_body::Body`.
//!
//! This module owns the body used for files too large for the cache: it reads 64 KiB at a
//! time on tokio's blocking pool, so a 1 GiB file never sits in memory. It reads with
//! `std::fs` inside `spawn_blocking` rather than through `tokio::fs::File` (which does the
//! same, plus a copy through its own buffer). Which bytes to send is decided by the caller.

use std::fs::File;
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::task::JoinHandle;

/// How much is read from disk per frame.
pub(crate) const CHUNK: u64 = 64 * 1024;

type Read64 = JoinHandle<(File, io::Result<Vec<u8>>)>;

/// A body streaming `len` bytes of a file starting at `start`.
#[derive(Debug)]
pub(crate) struct FileBody {
    state: State,
    /// Where the next read starts, if the file position must be moved first.
    seek_to: Option<u64>,
    /// Bytes still to send (not counting a read in flight).
    remaining: u64,
}

#[derive(Debug)]
enum State {
    Idle(File),
    Reading(Read64),
    Done,
}

impl FileBody {
    /// Streams `len` bytes of `file` from offset `start`.
    pub(crate) fn new(file: File, start: u64, len: u64) -> Self {
        FileBody {
            state: if len == 0 {
                State::Done
            } else {
                State::Idle(file)
            },
            seek_to: (start != 0).then_some(start),
            remaining: len,
        }
    }
}

fn read_chunk(mut file: File, seek_to: Option<u64>, n: u64) -> (File, io::Result<Vec<u8>>) {
    let result = (|| {
        if let Some(pos) = seek_to {
            file.seek(SeekFrom::Start(pos))?;
        }
        // `n` is at most CHUNK, so the cast is lossless.
        let mut buf = Vec::with_capacity(n as usize);
        (&file).take(n).read_to_end(&mut buf)?;
        Ok(buf)
    })();
    (file, result)
}

impl http_body::Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            match std::mem::replace(&mut this.state, State::Done) {
                State::Done => return Poll::Ready(None),
                State::Idle(file) => {
                    if this.remaining == 0 {
                        return Poll::Ready(None);
                    }
                    let n = this.remaining.min(CHUNK);
                    let seek_to = this.seek_to.take();
                    this.state = State::Reading(tokio::task::spawn_blocking(move || {
                        read_chunk(file, seek_to, n)
                    }));
                }
                State::Reading(mut task) => {
                    let joined = match Pin::new(&mut task).poll(cx) {
                        Poll::Pending => {
                            this.state = State::Reading(task);
                            return Poll::Pending;
                        }
                        Poll::Ready(joined) => joined,
                    };
                    let (file, buf) = match joined {
                        Ok((file, Ok(buf))) => (file, buf),
                        Ok((_, Err(e))) => return Poll::Ready(Some(Err(e))),
                        Err(e) => return Poll::Ready(Some(Err(io::Error::other(e)))),
                    };
                    if buf.is_empty() {
                        return Poll::Ready(Some(Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "file shrank while it was being sent",
                        ))));
                    }
                    this.remaining -= buf.len() as u64;
                    if this.remaining > 0 {
                        this.state = State::Idle(file);
                    }
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from(buf)))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::io::Write;

    fn file_with(data: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(data).unwrap();
        f.rewind().unwrap();
        f
    }

    #[tokio::test]
    async fn streams_whole_file_in_chunks() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut body = FileBody::new(file_with(&data), 0, data.len() as u64);
        let mut got = Vec::new();
        let mut frames = 0;
        while let Some(frame) = body.frame().await {
            let chunk = frame.unwrap().into_data().unwrap();
            assert!(chunk.len() as u64 <= CHUNK);
            got.extend_from_slice(&chunk);
            frames += 1;
        }
        assert_eq!(got, data);
        assert_eq!(frames, 4);
        assert!(http_body::Body::is_end_stream(&body));
    }

    #[tokio::test]
    async fn streams_a_range() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 7) as u8).collect();
        let body = FileBody::new(file_with(&data), 70_000, 20_000);
        assert_eq!(http_body::Body::size_hint(&body).exact(), Some(20_000));
        let got = body.collect().await.unwrap().to_bytes();
        assert_eq!(&got[..], &data[70_000..90_000]);
    }

    #[tokio::test]
    async fn a_shrunk_file_is_an_error() {
        let mut body = FileBody::new(file_with(b"abc"), 0, 10);
        assert_eq!(
            &body.frame().await.unwrap().unwrap().into_data().unwrap()[..],
            b"abc"
        );
        assert!(body.frame().await.unwrap().is_err());
    }
}
