//! An HTTP/2 request body the driver keeps a hold on.
//!
//! This module owns the request side of a stream once its body is handed to the service:
//! reading it (releasing flow-control window as data is consumed), failing a body that stalls
//! ([`crate::conn::recv::IdleTimer`]) and resetting its stream, and, after a complete response
//! to a request whose body is still arriving, reading and discarding the rest up to a bound
//! before h2 resets the stream. Clients see the response that way: RFC 9113 §8.1 allows the
//! reset, but curl, for one, reports a stream error instead of a response it was sent when
//! the reset cuts its upload short.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use h2::RecvStream;
use http_body::{Body as HttpBody, Frame, SizeHint};

use crate::body::BoxError;
use crate::conn::recv::IdleTimer;

/// At most this much of an unread request body is discarded after the response...
pub(super) const DRAIN_BYTES: usize = 1024 * 1024;
/// ...and for at most this long.
pub(super) const DRAIN_TIME: Duration = Duration::from_secs(1);

struct Inner {
    recv: Option<RecvStream>,
    data_done: bool,
    idle_expired: bool,
}

/// The driver's side: what it uses to drain the body once the response is out.
pub(super) struct RecvHold(Arc<Mutex<Inner>>);

/// The service's side: the request body.
pub(super) struct SharedBody {
    inner: Arc<Mutex<Inner>>,
    timer: IdleTimer,
    /// Resets the stream when the body idles out.
    on_idle: Option<Box<dyn FnOnce() + Send>>,
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    inner.lock().unwrap_or_else(|e| e.into_inner())
}

/// Splits `recv` into the body for the service and the driver's hold on it.
pub(super) fn share(
    recv: RecvStream,
    idle: Duration,
    on_idle: Box<dyn FnOnce() + Send>,
) -> (SharedBody, RecvHold) {
    let inner = Arc::new(Mutex::new(Inner {
        recv: Some(recv),
        data_done: false,
        idle_expired: false,
    }));
    (
        SharedBody {
            inner: inner.clone(),
            timer: IdleTimer::new(idle),
            on_idle: Some(on_idle),
        },
        RecvHold(inner),
    )
}

impl RecvHold {
    /// Whether the body stalled and the stream was reset for it.
    pub(super) fn idle_expired(&self) -> bool {
        lock(&self.0).idle_expired
    }

    /// After a complete response: if the service dropped the body before its end, reads and
    /// discards what the client still sends, up to [`DRAIN_BYTES`] or [`DRAIN_TIME`], so the
    /// stream can end without a reset. A body the service still holds is left alone.
    pub(super) async fn drain(self) {
        if Arc::strong_count(&self.0) > 1 {
            return;
        }
        let Some(mut recv) = lock(&self.0).recv.take() else {
            return;
        };
        if recv.is_end_stream() {
            return;
        }
        let mut left = DRAIN_BYTES;
        let discard = async {
            while let Some(Ok(data)) = recv.data().await {
                let _ = recv.flow_control().release_capacity(data.len());
                left = left.saturating_sub(data.len());
                if left == 0 {
                    return;
                }
            }
            // Trailers, if any, end the stream.
            let _ = recv.trailers().await;
        };
        let _ = tokio::time::timeout(DRAIN_TIME, discard).await;
        // Dropping `recv` now resets the stream (NO_ERROR) if the client is still sending.
    }
}

impl HttpBody for SharedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let mut inner = lock(&this.inner);
        let inner = &mut *inner;
        let Some(recv) = inner.recv.as_mut() else {
            return Poll::Ready(None);
        };
        if inner.idle_expired {
            return Poll::Ready(None);
        }
        let polled = if inner.data_done {
            poll_trailers(recv, cx)
        } else {
            match recv.poll_data(cx) {
                Poll::Ready(Some(Ok(data))) => {
                    // Reading is consuming: give the window back so the peer can send more.
                    // Failing to release only means the stream is already gone.
                    let _ = recv.flow_control().release_capacity(data.len());
                    Poll::Ready(Some(Ok(Frame::data(data))))
                }
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
                Poll::Ready(None) => {
                    inner.data_done = true;
                    poll_trailers(recv, cx)
                }
                Poll::Pending => Poll::Pending,
            }
        };
        if polled.is_ready() {
            this.timer.progress();
            return polled;
        }
        match this.timer.poll_expired(cx) {
            Poll::Ready(e) => {
                inner.idle_expired = true;
                if let Some(reset) = this.on_idle.take() {
                    reset();
                }
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        let inner = lock(&self.inner);
        inner.idle_expired || inner.recv.as_ref().map_or(true, RecvStream::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let inner = lock(&self.inner);
        match inner.recv.as_ref() {
            Some(r) if !r.is_end_stream() => SizeHint::default(),
            _ => SizeHint::with_exact(0),
        }
    }
}

fn poll_trailers(
    recv: &mut RecvStream,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
    recv.poll_trailers(cx).map(|r| match r {
        Ok(Some(t)) => Some(Ok(Frame::trailers(t))),
        Ok(None) => None,
        Err(e) => Some(Err(e.into())),
    })
}
