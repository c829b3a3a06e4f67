//! The pooled upstream client and the streaming response body.
//!
//! This module owns the connection to the upstream: hyper-util's pooled client with keep-alive
//! and a connect timeout (HTTP/1.1, HTTP/2 with prior knowledge for h2c, or what ALPN picks
//! over TLS; the transport itself is `transport.rs`), the limit on requests in flight per
//! upstream, and [`UpstreamBody`], which streams the upstream's response to the client
//! frame by frame (nothing buffered), fails when the upstream stalls past the read timeout
//! or breaks off mid-body (so the client's stream is reset rather than silently truncated),
//! and holds the in-flight permit until it ends. Headers and hints are the proxy service's
//! business.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use super::errors::UpstreamError;
use super::transport::{self, Connector, UpstreamTls};
use crate::body::{Body, BoxError};

/// How the client reaches one upstream.
pub(crate) struct Transport<'a> {
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// HTTP/2 with prior knowledge (h2c) on a plain connection.
    pub http2_only: bool,
    pub tls: &'a UpstreamTls,
}

/// One upstream's pool of connections and its in-flight limit.
#[derive(Clone)]
pub(crate) struct UpstreamClient {
    client: Client<Connector, Body>,
    in_flight: Arc<Semaphore>,
    read_timeout: Duration,
}

impl UpstreamClient {
    pub fn new(transport: Transport<'_>, max_in_flight: usize, idle_timeout: Duration) -> Self {
        let connector = transport::connector(transport.tls, transport.connect_timeout);
        let read_timeout = transport.read_timeout;
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(idle_timeout)
            .http2_only(transport.http2_only)
            .build(connector);
        UpstreamClient {
            client,
            in_flight: Arc::new(Semaphore::new(max_in_flight.min(Semaphore::MAX_PERMITS))),
            read_timeout,
        }
    }

    /// Takes one in-flight slot, or says the upstream is busy.
    pub fn permit(&self) -> Result<OwnedSemaphorePermit, UpstreamError> {
        self.in_flight
            .clone()
            .try_acquire_owned()
            .map_err(|_| UpstreamError::Busy)
    }

    /// Sends `req` and waits (at most the read timeout) for the response head.
    pub async fn send(
        &self,
        req: Request<Body>,
        permit: OwnedSemaphorePermit,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        let res = tokio::time::timeout(self.read_timeout, self.client.request(req))
            .await
            .map_err(|_| UpstreamError::ReadTimeout)?
            .map_err(|e| UpstreamError::from_client(&e))?;
        let read_timeout = self.read_timeout;
        Ok(res.map(|incoming| UpstreamBody {
            incoming,
            idle: Box::pin(tokio::time::sleep(read_timeout)),
            read_timeout,
            _permit: permit,
        }))
    }
}

/// An upstream response body on its way to the client.
///
/// Each frame is handed on as it arrives. An error (the upstream closed before the end its
/// framing announced, or sent nothing for the read timeout) is passed on as an error, which
/// makes the connection driver reset the client's stream.
pub struct UpstreamBody {
    incoming: Incoming,
    idle: Pin<Box<Sleep>>,
    read_timeout: Duration,
    _permit: OwnedSemaphorePermit,
}

impl http_body::Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let deadline = Instant::now() + this.read_timeout;
                this.idle.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                tracing::warn!("upstream response body broke off: {e}");
                Poll::Ready(Some(Err(Box::new(e))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.idle.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    tracing::warn!(
                        "upstream response body stalled for {:?}; aborting",
                        this.read_timeout
                    );
                    Poll::Ready(Some(Err(Box::new(UpstreamError::ReadTimeout))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}
