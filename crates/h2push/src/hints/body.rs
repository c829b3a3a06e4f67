//! The response body of [`HintService`](super::HintService).
//!
//! This module owns the one body type the policy layer answers with: the inner service's body
//! untouched; a pushed response's body, counted (its bytes, and whether it ended or was
//! abandoned — the client cancelled the push, or the connection went); or a small body of the
//! layer's own (the metrics page). Writing bodies on the wire is the connection drivers'.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};

use super::metrics::HintMetrics;

pin_project_lite::pin_project! {
    /// A response body from [`HintService`](super::HintService): the inner service's, or
    /// the layer's own (the metrics page).
    pub struct HintBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project_lite::pin_project! {
    #[project = Proj]
    enum Kind<B> {
        // The inner service's body, as is.
        Inner { #[pin] body: B },
        // A pushed response's body, counted into the metrics.
        Pushed { #[pin] body: B, watch: PushWatch },
        // A body made by the layer.
        Full { data: Option<Bytes> },
    }
}

impl<B> HintBody<B> {
    pub(crate) fn inner(body: B) -> Self {
        HintBody {
            kind: Kind::Inner { body },
        }
    }

    pub(crate) fn full(data: Bytes) -> Self {
        HintBody {
            kind: Kind::Full { data: Some(data) },
        }
    }
}

impl<B: HttpBody> HintBody<B> {
    pub(crate) fn pushed(body: B, mut watch: PushWatch) -> Self {
        if body.is_end_stream() {
            watch.ended = true;
        }
        HintBody {
            kind: Kind::Pushed { body, watch },
        }
    }
}

impl<B> std::fmt::Debug for HintBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.kind {
            Kind::Inner { .. } => "HintBody::Inner",
            Kind::Pushed { .. } => "HintBody::Pushed",
            Kind::Full { .. } => "HintBody::Full",
        })
    }
}

/// Follows one pushed response: counts it cancelled if dropped before its end.
#[derive(Debug)]
pub(crate) struct PushWatch {
    metrics: Arc<HintMetrics>,
    ended: bool,
}

impl PushWatch {
    pub(crate) fn new(metrics: Arc<HintMetrics>) -> Self {
        PushWatch {
            metrics,
            ended: false,
        }
    }
}

impl PushWatch {
    /// The response ended in a way that is not a cancel (done, or failed on our side).
    pub(crate) fn ended(&mut self) {
        self.ended = true;
    }
}

impl Drop for PushWatch {
    fn drop(&mut self) {
        if !self.ended {
            self.metrics.cancelled();
        }
    }
}

impl<B> HttpBody for HintBody<B>
where
    B: HttpBody<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            Proj::Inner { body } => body.poll_frame(cx),
            Proj::Pushed { mut body, watch } => {
                let polled = body.as_mut().poll_frame(cx);
                match &polled {
                    Poll::Ready(Some(Ok(frame))) => {
                        if let Some(data) = frame.data_ref() {
                            watch.metrics.pushed_bytes(data.len() as u64);
                        }
                        // The driver stops polling after the frame that ends the stream.
                        if frame.is_trailers() || body.is_end_stream() {
                            watch.ended = true;
                        }
                    }
                    // A failed body is the application's fault, not a cancel.
                    Poll::Ready(None) | Poll::Ready(Some(Err(_))) => watch.ended = true,
                    Poll::Pending => {}
                }
                polled
            }
            Proj::Full { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } | Kind::Pushed { body, .. } => body.is_end_stream(),
            Kind::Full { data } => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } | Kind::Pushed { body, .. } => body.size_hint(),
            Kind::Full { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}
