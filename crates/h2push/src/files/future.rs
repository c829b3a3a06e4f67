//! The future a [`StaticFiles`](super::StaticFiles) call returns.
//!
//! This module owns [`ResponseFuture`], which is either already complete (cache hits and
//! rejected requests: no boxing, no await) or a boxed future for requests that must consult
//! the disk. What the response is, is decided elsewhere.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Response, StatusCode};

use super::response;
use crate::Body;

/// The future returned by [`StaticFiles`](super::StaticFiles)' `Service::call`.
///
/// Already complete for cache hits and rejected requests (no allocation, no await); a boxed
/// future when the disk must be consulted.
pub struct ResponseFuture {
    state: FutureState,
}

enum FutureState {
    Ready(Option<Response<Body>>),
    Boxed(Pin<Box<dyn Future<Output = Response<Body>> + Send>>),
}

impl ResponseFuture {
    pub(super) fn ready(res: Response<Body>) -> Self {
        ResponseFuture {
            state: FutureState::Ready(Some(res)),
        }
    }

    pub(super) fn boxed(fut: impl Future<Output = Response<Body>> + Send + 'static) -> Self {
        ResponseFuture {
            state: FutureState::Boxed(Box::pin(fut)),
        }
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().state {
            // Polling again after completion is a caller bug; answer 500 rather than panic.
            FutureState::Ready(res) => Poll::Ready(Ok(res
                .take()
                .unwrap_or_else(|| response::status(StatusCode::INTERNAL_SERVER_ERROR, false)))),
            FutureState::Boxed(fut) => fut.as_mut().poll(cx).map(Ok),
        }
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            FutureState::Ready(_) => "ready",
            FutureState::Boxed(_) => "pending",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}
