//! Running a body through brotli, zstd or gzip (the `async-compression` crate).
//!
//! This module owns turning a response body into its compressed form: an in-memory body is
//! compressed at once, in the poll that produced it (so its length is known and it still
//! goes out as one chunk), a streaming body frame by frame as it arrives. The streaming
//! encoder flushes whenever its source has nothing more for now, so a slow body's bytes are
//! not held back until a compressor block fills. Trailers of a streamed body are dropped.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder, ZstdEncoder};
use async_compression::Level;
use bytes::Bytes;
use futures_util::TryStreamExt;
use http_body::Frame;
use http_body_util::{BodyDataStream, StreamBody};
use tokio::io::{AsyncBufRead, AsyncRead, ReadBuf};
use tokio_util::io::{ReaderStream, StreamReader};

use super::CompressConfig;
use crate::files::encoding::Encoding;
use crate::Body;

/// Wraps `reader` in the encoder for `coding` at the configured level.
fn encoder<R>(
    reader: R,
    coding: Encoding,
    config: &CompressConfig,
) -> Pin<Box<dyn AsyncRead + Send>>
where
    R: AsyncBufRead + Send + 'static,
{
    match coding {
        Encoding::Br => Box::pin(BrotliEncoder::with_quality(
            reader,
            Level::Precise(config.brotli_quality as i32),
        )),
        Encoding::Zstd => Box::pin(ZstdEncoder::with_quality(
            reader,
            Level::Precise(config.zstd_level),
        )),
        Encoding::Gzip | Encoding::Identity => Box::pin(GzipEncoder::with_quality(
            reader,
            Level::Precise(config.gzip_level as i32),
        )),
    }
}

/// Compresses in-memory bytes now. `None` if the encoder failed (never expected).
pub(crate) fn compress_now(
    data: &Bytes,
    coding: Encoding,
    config: &CompressConfig,
) -> Option<Bytes> {
    let reader = io::Cursor::new(data.clone());
    let mut enc = encoder(reader, coding, config);
    let mut out = Vec::with_capacity(data.len() / 3 + 64);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    loop {
        let mut buf = ReadBuf::new(&mut chunk);
        // An in-memory source is always ready, so the encoder never waits.
        match enc.as_mut().poll_read(&mut cx, &mut buf) {
            Poll::Ready(Ok(())) if buf.filled().is_empty() => return Some(out.into()),
            Poll::Ready(Ok(())) => out.extend_from_slice(buf.filled()),
            Poll::Ready(Err(e)) => {
                tracing::error!(error = %e, "compressing an in-memory body failed");
                return None;
            }
            Poll::Pending => return None,
        }
    }
}

/// Compresses a streaming body as it arrives.
pub(crate) fn compress_stream(body: Body, coding: Encoding, config: &CompressConfig) -> Body {
    let data = BodyDataStream::new(body).map_err(io::Error::other);
    let enc = encoder(StreamReader::new(data), coding, config);
    let frames = ReaderStream::with_capacity(enc, 16 * 1024).map_ok(Frame::data);
    Body::new(StreamBody::new(frames))
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder, ZstdDecoder};
    use tokio::io::AsyncReadExt;

    async fn decode(data: &[u8], coding: Encoding) -> Vec<u8> {
        let mut out = Vec::new();
        match coding {
            Encoding::Br => BrotliDecoder::new(data).read_to_end(&mut out).await,
            Encoding::Zstd => ZstdDecoder::new(data).read_to_end(&mut out).await,
            _ => GzipDecoder::new(data).read_to_end(&mut out).await,
        }
        .unwrap();
        out
    }

    #[tokio::test]
    async fn both_paths_round_trip() {
        use http_body_util::BodyExt;
        let text: Bytes = "<p>hello, compressed world</p>\n".repeat(200).into();
        let config = CompressConfig::default();
        for coding in [Encoding::Br, Encoding::Zstd, Encoding::Gzip] {
            let now = compress_now(&text, coding, &config).unwrap();
            assert!(
                now.len() < text.len() / 4,
                "{coding:?}: {} bytes",
                now.len()
            );
            assert_eq!(decode(&now, coding).await, text, "{coding:?} now");
            let body = Body::new(StreamBody::new(futures_util::stream::iter(
                text.chunks(1000)
                    .map(|c| Ok::<_, io::Error>(Frame::data(Bytes::copy_from_slice(c))))
                    .collect::<Vec<_>>(),
            )));
            let streamed = compress_stream(body, coding, &config)
                .collect()
                .await
                .unwrap()
                .to_bytes();
            assert_eq!(decode(&streamed, coding).await, text, "{coding:?} streamed");
        }
    }
}
