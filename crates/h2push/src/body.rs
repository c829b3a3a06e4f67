//! One body type for both protocols.
//!
//! [`Body`] is what a service receives as its request body, whether the request came over
//! HTTP/2 (an `h2::RecvStream`, whose flow-control window this type releases as data is read)
//! or HTTP/1.1 (hyper's `Incoming`). It is also a convenient response body: in-memory bytes,
//! empty, or any boxed `http_body::Body`. Turning response bodies into frames is left to the
//! connection drivers in `conn`.

use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;

/// The error type of [`Body`] and of the services h2push serves.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request or response body that works the same over HTTP/2 and HTTP/1.1.
///
/// ```
/// use h2push::Body;
/// use http_body_util::BodyExt;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let body = Body::from("hello");
/// let bytes = body.collect().await.unwrap().to_bytes();
/// assert_eq!(bytes, "hello");
/// # });
/// ```
pub struct Body {
    kind: Kind,
}

enum Kind {
    Empty,
    Full(Option<Bytes>),
    H2(h2::RecvStream, bool),
    H1(hyper::body::Incoming),
    Boxed(UnsyncBoxBody<Bytes, BoxError>),
}

impl Body {
    /// A body with no data.
    pub const fn empty() -> Self {
        Body { kind: Kind::Empty }
    }

    /// Wraps any `http_body::Body` whose data is `Bytes`.
    ///
    /// ```
    /// let body = h2push::Body::new(http_body_util::Full::new(bytes::Bytes::from_static(b"x")));
    /// # drop(body);
    /// ```
    pub fn new<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Body {
            kind: Kind::Boxed(body.map_err(Into::into).boxed_unsync()),
        }
    }

    /// The data of an in-memory body without copying it, or `None` if the body streams.
    pub fn as_full(&self) -> Option<&Bytes> {
        match &self.kind {
            Kind::Full(b) => b.as_ref(),
            _ => None,
        }
    }

    pub(crate) fn from_h2(recv: h2::RecvStream) -> Self {
        let ended = recv.is_end_stream();
        Body {
            kind: Kind::H2(recv, ended),
        }
    }

    pub(crate) fn from_h1(incoming: hyper::body::Incoming) -> Self {
        Body {
            kind: Kind::H1(incoming),
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Empty => "empty",
            Kind::Full(_) => "full",
            Kind::H2(..) => "h2",
            Kind::H1(_) => "h1",
            Kind::Boxed(_) => "boxed",
        };
        f.debug_struct("Body").field("kind", &kind).finish()
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        if b.is_empty() {
            return Body::empty();
        }
        Body {
            kind: Kind::Full(Some(b)),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Bytes::from(v).into()
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Bytes::from(s).into()
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Bytes::from_static(s.as_bytes()).into()
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Self {
        Bytes::from_static(s).into()
    }
}

impl From<()> for Body {
    fn from(_: ()) -> Self {
        Body::empty()
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().kind {
            Kind::Empty => Poll::Ready(None),
            Kind::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Kind::H2(recv, data_done) => {
                if !*data_done {
                    match ready!(recv.poll_data(cx)) {
                        Some(Ok(data)) => {
                            // Reading is consuming: give the window back so the peer can send
                            // more. Failing to release only means the stream is already gone.
                            let _ = recv.flow_control().release_capacity(data.len());
                            return Poll::Ready(Some(Ok(Frame::data(data))));
                        }
                        Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                        None => *data_done = true,
                    }
                }
                match ready!(recv.poll_trailers(cx)) {
                    Ok(Some(t)) => Poll::Ready(Some(Ok(Frame::trailers(t)))),
                    Ok(None) => Poll::Ready(None),
                    Err(e) => Poll::Ready(Some(Err(e.into()))),
                }
            }
            Kind::H1(incoming) => Pin::new(incoming)
                .poll_frame(cx)
                .map_err(|e| Box::new(e) as BoxError),
            Kind::Boxed(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Full(b) => b.is_none(),
            Kind::H2(recv, _) => recv.is_end_stream(),
            Kind::H1(i) => i.is_end_stream(),
            Kind::Boxed(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::H2(recv, _) if recv.is_end_stream() => SizeHint::with_exact(0),
            Kind::H2(..) => SizeHint::default(),
            Kind::H1(i) => i.size_hint(),
            Kind::Boxed(b) => b.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn full_body_yields_once_then_ends() {
        let mut b = Body::from("abc");
        assert_eq!(http_body::Body::size_hint(&b).exact(), Some(3));
        let f = b.frame().await.unwrap().unwrap();
        assert_eq!(f.into_data().unwrap(), "abc");
        assert!(http_body::Body::is_end_stream(&b));
        assert!(b.frame().await.is_none());
    }

    #[test]
    fn empty_bytes_is_empty_body() {
        let b = Body::from(Bytes::new());
        assert!(http_body::Body::is_end_stream(&b));
    }
}
