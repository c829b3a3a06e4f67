//! The response body of [`HintService`](super::HintService).
//!
//! This module owns the one body type the policy layer answers with: the inner service's body
//! untouched, or a small body of the layer's own (the metrics page). Writing bodies on the
//! wire is the connection drivers'.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};

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

impl<B> std::fmt::Debug for HintBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.kind {
            Kind::Inner { .. } => "HintBody::Inner",
            Kind::Full { .. } => "HintBody::Full",
        })
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
            Proj::Full { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Full { data } => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Full { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}
