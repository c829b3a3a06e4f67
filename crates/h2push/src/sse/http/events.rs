//! `GET /events`: subscribing over HTTP, and the response body that streams a subscription.
//!
//! This file owns [`EventStream`] — a [`Subscription`] as an `http_body::Body`, with
//! heartbeat comments whenever nothing was sent for a (jittered) interval — the response
//! head every event stream carries, and the `GET` handler: topics and `lastEventId` from the
//! query, `Last-Event-ID` from the header, subscriber tokens, and what each refusal looks
//! like to an `EventSource`. Routing and CORS are `mod.rs`'s.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, COOKIE};
use http::{Request, Response, StatusCode};
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::{ct_eq, query_pairs, text_response, Endpoints};
use crate::sse::conn_limit::ConnSlot;
use crate::sse::hub::{HubError, Subscription};
use crate::Body;

/// A heartbeat: an empty comment, which clients ignore.
const HEARTBEAT: &[u8] = b":\n\n";

pin_project_lite::pin_project! {
    /// A [`Subscription`] as a streaming response body, with heartbeats.
    ///
    /// Chunks go out as the hub produces them. When nothing was sent for about the heartbeat
    /// interval (±10% jitter, so that thousands of idle streams do not all write at once), a
    /// `:` comment line goes out: it keeps proxies and load balancers from closing an idle
    /// connection and lets the server notice a vanished client. The stream ends when the hub
    /// ends the subscription; dropping it (the client left: HTTP/2 reset, closed socket)
    /// unsubscribes.
    ///
    /// ```
    /// use std::time::Duration;
    /// use h2push::sse::{http::EventStream, hub::Hub};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let hub = Hub::memory(Default::default());
    /// let sub = hub.subscribe(["news"], None).await?;
    /// let response = EventStream::new(sub).heartbeat(Duration::from_secs(20)).into_response();
    /// assert_eq!(response.headers()["content-type"], "text/event-stream");
    /// # Ok::<(), h2push::sse::hub::HubError>(())
    /// # }).unwrap();
    /// ```
    pub struct EventStream {
        sub: Subscription,
        prelude: Option<Bytes>,
        interval: Duration,
        #[pin]
        timer: Sleep,
        // Whether data went out since the timer was last armed.
        active: bool,
        done: bool,
        slot: Option<ConnSlot>,
    }
}

impl EventStream {
    /// Streams `sub` with heartbeats every 15 s, starting with an `: ok` comment (so that
    /// intermediaries pass the head and first bytes on at once).
    pub fn new(sub: Subscription) -> EventStream {
        let interval = Duration::from_secs(15);
        EventStream {
            sub,
            prelude: Some(Bytes::from_static(b": ok\n\n")),
            interval,
            timer: tokio::time::sleep_until(jittered(interval)),
            active: false,
            done: false,
            slot: None,
        }
    }

    /// Sets the heartbeat interval (at least 10 ms).
    #[must_use]
    pub fn heartbeat(mut self, interval: Duration) -> EventStream {
        self.interval = interval.max(Duration::from_millis(10));
        self.timer = tokio::time::sleep_until(jittered(self.interval));
        self
    }

    /// Sends `retry: <ms>` first, setting the client's reconnection time.
    #[must_use]
    pub fn retry(mut self, reconnection_time: Duration) -> EventStream {
        let ms = u64::try_from(reconnection_time.as_millis()).unwrap_or(u64::MAX);
        self.prelude = Some(Bytes::from(format!("retry: {ms}\n: ok\n\n")));
        self
    }

    /// The `200` response that streams this body, with the event-stream head
    /// ([`event_stream_head`]).
    pub fn into_response(self) -> Response<Body> {
        let mut res = Response::new(Body::new(self));
        set_event_stream_head(&mut res);
        res
    }
}

fn jittered(interval: Duration) -> Instant {
    Instant::now() + crate::sse::hub::jitter(interval, 0.1)
}

impl http_body::Body for EventStream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        if let Some(prelude) = this.prelude.take() {
            return Poll::Ready(Some(Ok(Frame::data(prelude))));
        }
        match this.sub.poll_chunk(cx) {
            Poll::Ready(Some(chunk)) => {
                *this.active = true;
                return Poll::Ready(Some(Ok(Frame::data(chunk))));
            }
            Poll::Ready(None) => {
                *this.done = true;
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        // The timer is not reset on every event (that would cost a timer-wheel update per
        // event and subscriber); it fires every interval and sends a heartbeat only if the
        // stream was idle since the last time.
        while this.timer.as_mut().poll(cx).is_ready() {
            let next = jittered(*this.interval);
            this.timer.as_mut().reset(next);
            if !std::mem::take(this.active) {
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(HEARTBEAT)))));
            }
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// The head every event stream carries: `Content-Type: text/event-stream`,
/// `Cache-Control: no-store, no-transform` (no cache, and no proxy may compress or buffer
/// it), `X-Accel-Buffering: no` (nginx: pass each chunk on at once).
///
/// ```
/// let head = h2push::sse::http::event_stream_head();
/// assert_eq!(head["cache-control"], "no-store, no-transform");
/// assert_eq!(head["x-accel-buffering"], "no");
/// ```
pub fn event_stream_head() -> http::HeaderMap {
    let mut res = Response::new(());
    set_event_stream_head(&mut res);
    std::mem::take(res.headers_mut())
}

fn set_event_stream_head<B>(res: &mut Response<B>) {
    let h = res.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(crate::sse::MIME_TYPE),
    );
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-transform"),
    );
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
}

/// A `200` event stream that only sets the reconnection time and ends: the way to tell an
/// `EventSource` "not now, come back" (any other status would stop it for good).
fn retry_later(chunk: Bytes) -> Response<Body> {
    let mut res = Response::new(Body::from(chunk));
    set_event_stream_head(&mut res);
    res
}

/// Serves `GET /events?topic=a&topic=b[&lastEventId=ID][&token=T]`.
pub(super) async fn subscribe(ep: &Endpoints, req: Request<Body>) -> Response<Body> {
    let (parts, _) = req.into_parts();
    let mut topics = Vec::new();
    let mut query_last_id = None;
    let mut token = None;
    for (k, v) in query_pairs(parts.uri.query()) {
        match k.as_str() {
            "topic" => topics.push(v),
            "lastEventId" | "last-event-id" => query_last_id = Some(v),
            k if k == ep.token_param => token = Some(v),
            _ => {}
        }
    }
    if !ep.subscriber_tokens.is_empty() {
        let token = token.or_else(|| cookie(&parts.headers, &ep.token_cookie));
        match token {
            None => {
                return text_response(
                    StatusCode::UNAUTHORIZED,
                    &format!(
                    "subscribing needs a token: add ?{}=TOKEN to the URL or send the {} cookie\n",
                    ep.token_param, ep.token_cookie
                ),
                )
            }
            Some(t)
                if !ep
                    .subscriber_tokens
                    .iter()
                    .any(|ok| ct_eq(ok.as_bytes(), t.as_bytes())) =>
            {
                return text_response(
                    StatusCode::FORBIDDEN,
                    "this subscriber token is not valid\n",
                )
            }
            Some(_) => {}
        }
    }
    // The header is what a browser sends when it reconnects by itself, with the latest id;
    // the query parameter only carries the id the page started with.
    let header_id = parts
        .headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let last_id = header_id.map(str::to_owned).or(query_last_id);
    let slot = match ep.conns.acquire(&parts.extensions) {
        Ok(slot) => slot,
        Err(()) => {
            let mut res = text_response(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "this connection already holds {} subscriptions; open another connection \
                     or close one (HubService::max_subscriptions_per_connection)\n",
                    ep.conns.max()
                ),
            );
            res.headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("5"));
            return res;
        }
    };
    match ep.hub.subscribe(&topics, last_id.as_deref()).await {
        Ok(sub) => {
            let mut stream = EventStream::new(sub).heartbeat(ep.heartbeat);
            stream.slot = slot;
            if let Some(retry) = ep.retry {
                stream = stream.retry(retry);
            }
            stream.into_response()
        }
        // 204 is the spec's way to tell an EventSource to stop reconnecting.
        Err(HubError::UnknownTopic(t)) => {
            tracing::debug!("subscription to unknown topic {t:?} refused with 204");
            let mut res = Response::new(Body::empty());
            *res.status_mut() = StatusCode::NO_CONTENT;
            res
        }
        Err(
            e @ (HubError::NoTopics
            | HubError::InvalidTopic { .. }
            | HubError::TooManyTopics { .. }),
        ) => text_response(StatusCode::BAD_REQUEST, &format!("{e}\n")),
        Err(e @ HubError::TooManySubscribers { .. }) => {
            let mut res = text_response(StatusCode::SERVICE_UNAVAILABLE, &format!("{e}\n"));
            res.headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("5"));
            res
        }
        Err(HubError::Unavailable(why)) => {
            tracing::warn!("subscription deferred: {why}");
            retry_later(ep.hub_end_chunk("h2push: the event backend is unavailable; retrying"))
        }
        Err(HubError::Closed) => {
            retry_later(ep.hub_end_chunk("h2push: server shutting down; reconnect"))
        }
        Err(e) => {
            tracing::error!("subscription failed: {e}");
            text_response(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}\n"))
        }
    }
}

/// The value of cookie `name`, if the request has it.
fn cookie(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = http::HeaderMap::new();
        h.append(COOKIE, "a=1; tok=\"abc\"".parse().unwrap());
        h.append(COOKIE, "b=2".parse().unwrap());
        assert_eq!(cookie(&h, "tok").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
