//! Writing one response on an HTTP/2 stream.
//!
//! This module owns the part shared by ordinary and pushed responses: the body under flow
//! control, stopping at once (and dropping the body) when the client resets the stream, and
//! giving up on a stream whose client grants no window for the send timeout (the stream is
//! reset and the body dropped). Nothing is handed to h2 beyond the window the client granted,
//! so a stalled stream holds no buffered data. The
//! head (stripped of hop-by-hop fields, [`crate::conn::hop_by_hop`]) and which stream it is
//! are the caller's business.

use std::future::poll_fn;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use h2::{Reason, SendStream};
use http_body::Body as HttpBody;

use crate::body::BoxError;

/// How sending a response ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SendEnd {
    /// The last frame was handed to the connection.
    Complete,
    /// The client reset the stream.
    Reset(Reason),
    /// The body failed or the stream broke; the stream was reset if still open.
    Failed,
    /// The client granted no window for the send timeout; the stream was reset (CANCEL).
    Stalled,
}

/// Sends `body` on `send`, counting the bytes into `sent`. `before_end` runs just before the
/// frame that ends the stream is queued (the parent stream uses it to refuse later pushes).
/// A wait for window longer than `stall` ends it with [`SendEnd::Stalled`].
pub(super) async fn send_body<B>(
    send: &mut SendStream<Bytes>,
    body: B,
    sent: &mut u64,
    before_end: impl FnOnce(),
    stall: Duration,
) -> SendEnd
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let mut body = pin!(body);
    let mut before_end = Some(before_end);
    let mut end = move || {
        if let Some(f) = before_end.take() {
            f()
        }
    };
    loop {
        // Pull no data from the body before the client has some window for it: a stream the
        // client never opens holds no chunk while it waits to be timed out.
        if let Err(end) = wait_for_window(send, stall).await {
            return end;
        }
        // Wait for the next frame, or for the client to give up on the stream: an endless
        // body (an event stream, say) must be dropped as soon as nobody reads it.
        let frame = poll_fn(|cx| {
            if let Poll::Ready(r) = send.poll_reset(cx) {
                return Poll::Ready(Err(r));
            }
            body.as_mut().poll_frame(cx).map(Ok)
        })
        .await;
        let frame = match frame {
            Ok(f) => f,
            Err(Ok(reason)) => return SendEnd::Reset(reason),
            Err(Err(_)) => return SendEnd::Failed,
        };
        match frame {
            None => {
                end();
                return finish(send.send_data(Bytes::new(), true));
            }
            Some(Err(e)) => {
                let e: BoxError = e.into();
                tracing::debug!("response body failed: {e}");
                send.send_reset(Reason::INTERNAL_ERROR);
                return SendEnd::Failed;
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    let last = body.is_end_stream();
                    if last {
                        end();
                    }
                    *sent += data.len() as u64;
                    if let Err(e) = write_data(send, data, last, stall).await {
                        return e;
                    }
                    if last {
                        return SendEnd::Complete;
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        end();
                        return finish(send.send_trailers(trailers));
                    }
                }
            },
        }
    }
}

/// Queues `data` as the client's window allows. A chunk that ends the stream and fits the
/// window at once goes out whole (a cached file in one batch); otherwise each piece waits for
/// window, so neither a fast producer nor a client that never opens its window piles up
/// data in h2's buffers. A wait longer than `stall` resets the stream.
async fn write_data(
    send: &mut SendStream<Bytes>,
    mut data: Bytes,
    eos: bool,
    stall: Duration,
) -> Result<(), SendEnd> {
    if eos {
        send.reserve_capacity(data.len());
        if data.is_empty() || send.capacity() >= data.len() {
            return match finish(send.send_data(data, true)) {
                SendEnd::Complete => Ok(()),
                other => Err(other),
            };
        }
    }
    while !data.is_empty() {
        send.reserve_capacity(data.len());
        let wait = poll_fn(|cx| {
            if let Poll::Ready(r) = send.poll_reset(cx) {
                return Poll::Ready(Err(r));
            }
            send.poll_capacity(cx).map(Ok)
        });
        let Ok(cap) = tokio::time::timeout(stall, wait).await else {
            send.send_reset(Reason::CANCEL);
            return Err(SendEnd::Stalled);
        };
        match cap {
            Ok(Some(Ok(0))) => continue,
            Ok(Some(Ok(n))) => {
                let chunk = data.split_to(n.min(data.len()));
                let last = eos && data.is_empty();
                match finish(send.send_data(chunk, last)) {
                    SendEnd::Complete => continue,
                    other => return Err(other),
                }
            }
            Ok(Some(Err(_)) | None) => return Err(SendEnd::Failed),
            Err(Ok(reason)) => return Err(SendEnd::Reset(reason)),
            Err(Err(_)) => return Err(SendEnd::Failed),
        }
    }
    Ok(())
}

/// Waits until the stream may send at least one more byte.
async fn wait_for_window(send: &mut SendStream<Bytes>, stall: Duration) -> Result<(), SendEnd> {
    if send.capacity() > 0 {
        return Ok(());
    }
    // One byte: enough to learn that the window is open, without holding back the
    // connection's window from other streams while this body has nothing to send.
    send.reserve_capacity(1);
    while send.capacity() == 0 {
        let wait = poll_fn(|cx| {
            if let Poll::Ready(r) = send.poll_reset(cx) {
                return Poll::Ready(Err(r));
            }
            send.poll_capacity(cx).map(Ok)
        });
        match tokio::time::timeout(stall, wait).await {
            Err(_) => {
                send.send_reset(Reason::CANCEL);
                return Err(SendEnd::Stalled);
            }
            Ok(Ok(Some(Ok(_)))) => {}
            Ok(Ok(Some(Err(_)) | None)) | Ok(Err(Err(_))) => return Err(SendEnd::Failed),
            Ok(Err(Ok(reason))) => return Err(SendEnd::Reset(reason)),
        }
    }
    Ok(())
}

fn finish(r: Result<(), h2::Error>) -> SendEnd {
    match r {
        Ok(()) => SendEnd::Complete,
        Err(e) => match e.reason() {
            Some(reason) if e.is_remote() => SendEnd::Reset(reason),
            _ => SendEnd::Failed,
        },
    }
}
