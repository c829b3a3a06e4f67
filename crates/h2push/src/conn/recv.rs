//! The request-body idle deadline.
//!
//! This module owns one rule shared by both drivers: a request body that is being read but
//! brings nothing for `Limits::body_idle_timeout` fails with [`BodyIdle`]. [`IdleTimer`] is
//! the clock (armed only while a read waits, so a handler that is busy elsewhere is not
//! charged), [`IdleBody`] applies it to any body (HTTP/1.1's). What happens to the stream or
//! connection afterwards is the driver's.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::body::BoxError;

/// The error of a request body that brought no data for the body idle timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body brought no data for {0:?}")]
pub(crate) struct BodyIdle(pub(crate) Duration);

/// Counts a body's idle time while its reader waits.
pub(crate) struct IdleTimer {
    limit: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl IdleTimer {
    pub(crate) fn new(limit: Duration) -> Self {
        IdleTimer { limit, sleep: None }
    }

    /// Data came: the next wait starts a new count.
    pub(crate) fn progress(&mut self) {
        self.sleep = None;
    }

    /// The reader waits: `Ready` once it has waited the whole limit since the last data.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<BodyIdle> {
        let limit = self.limit;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now() + limit)));
        sleep.as_mut().poll(cx).map(|()| BodyIdle(limit))
    }
}

pin_project_lite::pin_project! {
    /// A body that fails with [`BodyIdle`] when it brings nothing for too long.
    pub(crate) struct IdleBody<B> {
        #[pin]
        body: B,
        timer: IdleTimer,
        expired: bool,
    }
}

impl<B> IdleBody<B> {
    pub(crate) fn new(body: B, limit: Duration) -> Self {
        IdleBody {
            body,
            timer: IdleTimer::new(limit),
            expired: false,
        }
    }
}

impl<B> HttpBody for IdleBody<B>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if *this.expired {
            return Poll::Ready(None);
        }
        match this.body.poll_frame(cx) {
            Poll::Ready(r) => {
                this.timer.progress();
                Poll::Ready(r.map(|r| r.map_err(Into::into)))
            }
            Poll::Pending => match this.timer.poll_expired(cx) {
                Poll::Ready(e) => {
                    *this.expired = true;
                    Poll::Ready(Some(Err(e.into())))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.expired || self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_body_that_stalls_fails_and_one_that_flows_does_not() {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(4);
        let frames = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let body = IdleBody::new(
            http_body_util::StreamBody::new(frames),
            Duration::from_millis(100),
        );
        let writer = tokio::spawn(async move {
            for _ in 0..4 {
                tokio::time::sleep(Duration::from_millis(40)).await;
                let frame = Frame::data(Bytes::from_static(b"x"));
                tx.send(Ok(frame)).await.unwrap();
            }
            // then stall, holding the sender
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(tx);
        });
        let mut body = std::pin::pin!(body);
        let mut got = 0;
        let err = loop {
            match body.frame().await {
                Some(Ok(_)) => got += 1,
                Some(Err(e)) => break e,
                None => panic!("ended without an error after {got} frames"),
            }
        };
        assert_eq!(got, 4, "every frame before the stall arrives");
        assert!(err.to_string().contains("no data"), "{err}");
        writer.abort();
    }
}
