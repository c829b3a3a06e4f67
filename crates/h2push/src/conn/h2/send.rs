//! Writing one response on an HTTP/2 stream.
//!
//! This module owns the part shared by ordinary and pushed responses: the body under flow
//! control, stopping at once (and dropping the body) when the client resets the stream. The
//! head (stripped of hop-by-hop fields, [`crate::conn::hop_by_hop`]) and which stream it is
//! are the caller's business.

use std::future::poll_fn;
use std::pin::pin;
use std::task::Poll;

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
}

/// Sends `body` on `send`, counting the bytes into `sent`. `before_end` runs just before the
/// frame that ends the stream is queued (the parent stream uses it to refuse later pushes).
pub(super) async fn send_body<B>(
    send: &mut SendStream<Bytes>,
    body: B,
    sent: &mut u64,
    before_end: impl FnOnce(),
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
                    if let Err(e) = write_data(send, data, last).await {
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

/// Queues `data`. A chunk that ends the stream goes out whole (it is in memory already and h2
/// sends it as the window allows); others wait for flow-control capacity, so a fast producer
/// cannot pile up unbounded data behind a slow client.
async fn write_data(
    send: &mut SendStream<Bytes>,
    mut data: Bytes,
    eos: bool,
) -> Result<(), SendEnd> {
    if eos {
        return match finish(send.send_data(data, true)) {
            SendEnd::Complete => Ok(()),
            other => Err(other),
        };
    }
    while !data.is_empty() {
        send.reserve_capacity(data.len());
        let cap = poll_fn(|cx| {
            if let Poll::Ready(r) = send.poll_reset(cx) {
                return Poll::Ready(Err(r));
            }
            send.poll_capacity(cx).map(Ok)
        })
        .await;
        match cap {
            Ok(Some(Ok(0))) => continue,
            Ok(Some(Ok(n))) => {
                let chunk = data.split_to(n.min(data.len()));
                if send.send_data(chunk, false).is_err() {
                    return Err(SendEnd::Failed);
                }
            }
            Ok(Some(Err(_)) | None) => return Err(SendEnd::Failed),
            Err(Ok(reason)) => return Err(SendEnd::Reset(reason)),
            Err(Err(_)) => return Err(SendEnd::Failed),
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
