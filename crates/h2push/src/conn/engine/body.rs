//! A request body as the engine receives it.
//!
//! This module owns [`RequestBody`]: the `http_body::Body` a service reads, fed by the driver
//! with the stream's DATA and trailers (through [`super::shared`]), giving flow-control
//! window back as the service consumes bytes, and failing (and resetting the stream) when no
//! byte arrives for the body idle timeout (the clock is [`crate::conn::recv::IdleTimer`],
//! both drivers' rule). Which frames are valid is the engine's.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use h2push_h2::{Reason, StreamId};
use http_body::Frame;

use super::shared::Shared;
use crate::body::BoxError;
use crate::conn::recv::IdleTimer;

/// The body of one request stream.
pub(super) struct RequestBody {
    shared: Arc<Shared>,
    stream: StreamId,
    idle: IdleTimer,
    done: bool,
}

impl RequestBody {
    pub(super) fn new(shared: Arc<Shared>, stream: StreamId, idle: Duration) -> RequestBody {
        RequestBody {
            shared,
            stream,
            idle: IdleTimer::new(idle),
            done: false,
        }
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let this = &mut *self;
        {
            let mut inner = this.shared.lock();
            let inner = &mut *inner;
            let Some(slot) = inner.streams.get_mut(&this.stream) else {
                this.done = true;
                return Poll::Ready(None);
            };
            if let Some(reason) = slot.reset {
                this.done = true;
                return Poll::Ready(Some(Err(
                    format!("the client reset the stream ({reason})").into()
                )));
            }
            if let Some(data) = slot.body.pop_front() {
                inner.conn.release(this.stream, data.len());
                inner.wake_driver();
                this.idle.progress();
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            if let Some(trailers) = slot.trailers.take() {
                this.done = true;
                return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
            }
            if slot.body_ended {
                this.done = true;
                return Poll::Ready(None);
            }
            slot.reader = Some(cx.waker().clone());
        }
        if let Poll::Ready(e) = this.idle.poll_expired(cx) {
            this.done = true;
            let mut inner = this.shared.lock();
            inner.conn.reset(this.stream, Reason::CANCEL);
            inner.wake_driver();
            return Poll::Ready(Some(Err(e.into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}
