//! `GET /.well-known/mercure`: a subscriber's stream, filtered by its selectors and its JWT.
//!
//! This file owns the subscribe handler — the token (401 when required and missing, or
//! invalid), the `topic` selectors (400 without one), the per-connection limit (429), where
//! the stream resumes (`Last-Event-ID` header, else the `lastEventID` query parameter;
//! `earliest` for all the history) — and [`MercureStream`], the response body: it reads the
//! hub's internal topic, passes on each update that one of the selectors matches (and, if
//! private, that the JWT's `mercure.subscribe` allows) as a Mercure event, and sends
//! heartbeats, and ends with `retry:` when the subscriber's JWT expires (`exp`). It also
//! publishes the subscription events when they are enabled.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{HeaderValue, RETRY_AFTER};
use http::{Request, Response, StatusCode};
use http_body::{Frame, SizeHint};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use tokio::time::{Instant, Sleep};

use super::jwt::{find_token, Claims};
use super::topic::{any_match, Selector};
use super::{auth_error, new_id, text_response, Shared, Update, INTERNAL_TOPIC};
use crate::sse::conn_limit::ConnSlot;
use crate::sse::hub::{EventId, HubError, Subscription, GAP_EVENT};
use crate::sse::{Item, Parser};
use crate::Body;

/// Chunks read from the hub in one poll before yielding to other tasks.
const MAX_CHUNKS_PER_POLL: usize = 32;

/// Which updates one subscriber gets.
#[derive(Debug)]
struct Filter {
    selectors: Vec<Selector>,
    /// `mercure.subscribe`: whose private updates it may receive.
    private: Vec<Selector>,
}

impl Filter {
    fn allows(&self, u: &Update) -> bool {
        let topics = || u.topics.iter().map(String::as_str);
        any_match(&self.selectors, topics()) && (!u.private || any_match(&self.private, topics()))
    }
}

pin_project_lite::pin_project! {
    /// A Mercure subscription as a streaming response body.
    ///
    /// Made by the `GET` handler of [`MercureService`](super::MercureService); it reads the
    /// hub's internal topic, keeps the updates the subscriber may see and sends them as
    /// `id:`/`event:`/`retry:`/`data:` events, with a `:` heartbeat on idle streams. Dropping
    /// it unsubscribes (and, with subscription events on, publishes the inactive event).
    pub struct MercureStream {
        sub: Subscription,
        parser: Parser,
        filter: Filter,
        prelude: Option<Bytes>,
        interval: Duration,
        #[pin]
        timer: Sleep,
        active: bool,
        done: bool,
        slot: Option<ConnSlot>,
        notice: Option<Notice>,
        // When the subscriber's JWT expires: the stream ends then, and the client comes
        // back with a fresh token.
        expiry: Option<Pin<Box<Sleep>>>,
    }
}

impl MercureStream {
    fn filter_chunk(parser: &mut Parser, filter: &Filter, chunk: &[u8]) -> BytesMut {
        let mut out = BytesMut::new();
        for item in parser.feed_items(chunk) {
            match item {
                Item::Event(e) if e.event_type == GAP_EVENT => {
                    // Mercure has no gap notice; a comment tells a human reading the stream.
                    out.extend_from_slice(b": h2push: events may have been missed here\n\n");
                }
                Item::Event(e) => {
                    let Some(u) = Update::from_envelope(&e.data) else {
                        continue;
                    };
                    if filter.allows(&u) {
                        out.extend_from_slice(&u.encode());
                    }
                }
                Item::Retry(d) => {
                    out.extend_from_slice(format!("retry: {}\n\n", d.as_millis()).as_bytes());
                }
                Item::Comment(_) | Item::Oversized(_) => {}
            }
        }
        out
    }
}

fn jittered(interval: Duration) -> Instant {
    Instant::now() + crate::sse::hub::jitter(interval, 0.1)
}

impl http_body::Body for MercureStream {
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
        if let Some(p) = this.prelude.take() {
            return Poll::Ready(Some(Ok(Frame::data(p))));
        }
        if let Some(expiry) = this.expiry.as_mut() {
            if expiry.as_mut().poll(cx).is_ready() {
                *this.done = true;
                let mut last = BytesMut::from(&b"retry: 0\n"[..]);
                last.extend_from_slice(&crate::sse::comment(
                    "h2push: the JWT expired; reconnect with a fresh one",
                ));
                return Poll::Ready(Some(Ok(Frame::data(last.freeze()))));
            }
        }
        let mut pending = false;
        for _ in 0..MAX_CHUNKS_PER_POLL {
            match this.sub.poll_chunk(cx) {
                Poll::Ready(Some(chunk)) => {
                    let out = MercureStream::filter_chunk(this.parser, this.filter, &chunk);
                    if !out.is_empty() {
                        *this.active = true;
                        return Poll::Ready(Some(Ok(Frame::data(out.freeze()))));
                    }
                }
                Poll::Ready(None) => {
                    *this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => {
                    pending = true;
                    break;
                }
            }
        }
        if !pending {
            // More chunks are ready but none was for this subscriber: come back soon,
            // after other tasks had their turn.
            cx.waker().wake_by_ref();
        }
        while this.timer.as_mut().poll(cx).is_ready() {
            let next = jittered(*this.interval);
            this.timer.as_mut().reset(next);
            if !std::mem::take(this.active) {
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b":\n\n")))));
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

/// The subscription events of one subscriber: published active when it starts, inactive
/// when its stream is dropped.
struct Notice {
    shared: Arc<Shared>,
    subscriber: String,
    topics: Vec<String>,
    payload: Option<serde_json::Value>,
}

impl std::fmt::Debug for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notice")
            .field("subscriber", &self.subscriber)
            .finish()
    }
}

impl Notice {
    fn updates(&self, active: bool) -> Vec<Update> {
        self.topics
            .iter()
            .map(|topic| {
                let id = format!(
                    "/.well-known/mercure/subscriptions/{}/{}",
                    utf8_percent_encode(topic, NON_ALPHANUMERIC),
                    utf8_percent_encode(&self.subscriber, NON_ALPHANUMERIC)
                );
                let data = serde_json::json!({
                    "@context": "https://mercure.rocks/",
                    "id": id,
                    "type": "Subscription",
                    "topic": topic,
                    "subscriber": self.subscriber,
                    "active": active,
                    "payload": self.payload,
                });
                let mut u = Update::new([id], data.to_string());
                u.private = true;
                u
            })
            .collect()
    }
}

impl Drop for Notice {
    fn drop(&mut self) {
        let updates = self.updates(false);
        let shared = self.shared.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                for u in updates {
                    if let Err(e) = shared.publish(&u).await {
                        tracing::debug!("subscription event not published: {e}");
                    }
                }
            });
        }
    }
}

/// Serves `GET /.well-known/mercure?topic=…`.
pub(super) async fn subscribe(sh: &Arc<Shared>, req: Request<Body>) -> Response<Body> {
    let (parts, _) = req.into_parts();
    // The selectors as written (for subscription events) and compiled.
    let mut topics = Vec::new();
    let mut selectors = Vec::new();
    let mut query_last = None;
    let mut query_token = None;
    let pairs = parts
        .uri
        .query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default();
    for (k, v) in pairs {
        match k.as_str() {
            // Drafts up to 07: a URI, a URI Template or `*`.
            "topic" => {
                selectors.push(Selector::new(&v));
                topics.push(v);
            }
            // Draft 08: the exact matcher.
            "match" | "matchExact" => {
                selectors.push(Selector::exact(&v));
                topics.push(v);
            }
            "matchURLPattern" => {
                return text_response(
                    StatusCode::BAD_REQUEST,
                    "URLPattern matchers (matchURLPattern) are not supported by this hub; use \
                     match= for exact topics or topic= with a URI Template\n",
                )
            }
            k if k.len() >= 5 && k[..5].eq_ignore_ascii_case("match") => {
                return text_response(
                    StatusCode::BAD_REQUEST,
                    &format!("unknown topic matcher parameter {k:?}\n"),
                )
            }
            "lastEventID" | "Last-Event-ID" => query_last = Some(v),
            "access_token" | "authorization" => {
                // The first one wins, as with a header.
                query_token.get_or_insert(v);
            }
            _ => {}
        }
    }
    let claims: Option<Claims> = match find_token(&parts.headers, query_token.as_deref()) {
        Err(why) => return auth_error(StatusCode::BAD_REQUEST, Some("invalid_request"), why),
        Ok(None) if sh.config.anonymous => None,
        Ok(None) => {
            return auth_error(
                StatusCode::UNAUTHORIZED,
                None,
                "subscribing needs a JWT (Authorization: Bearer, the access_token or \
                 authorization query parameter, or the mercureAccessToken or \
                 mercureAuthorization cookie); this hub allows no anonymous subscribers",
            )
        }
        Ok(Some((token, _))) => {
            let key = sh
                .config
                .subscriber_key
                .as_ref()
                .or(sh.config.publisher_key.as_ref());
            let Some(key) = key else {
                return auth_error(
                    StatusCode::UNAUTHORIZED,
                    Some("invalid_token"),
                    "this hub has no subscriber JWT key configured, so no JWT can be checked",
                );
            };
            match key.verify(&token) {
                Ok(c) => Some(c),
                Err(why) => {
                    return auth_error(StatusCode::UNAUTHORIZED, Some("invalid_token"), &why)
                }
            }
        }
    };
    if topics.is_empty() || topics.iter().any(String::is_empty) {
        return text_response(
            StatusCode::BAD_REQUEST,
            "missing topic: subscribe with ?topic=SELECTOR (may repeat; a URI, a URI Template \
             or *) or ?match=TOPIC\n",
        );
    }
    if topics.len() > sh.config.max_topics {
        return text_response(
            StatusCode::BAD_REQUEST,
            &format!(
                "at most {} topic selectors per subscription\n",
                sh.config.max_topics
            ),
        );
    }
    let slot = match sh.conns.acquire(&parts.extensions) {
        Ok(slot) => slot,
        Err(()) => {
            let mut res = text_response(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "this connection already holds {} subscriptions (max_subscriptions_per_connection)\n",
                    sh.conns.max()
                ),
            );
            res.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("5"));
            return res;
        }
    };
    let last = parts
        .headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .or(query_last.filter(|v| !v.is_empty()));
    // Where the hub resumes, and the Last-Event-ID response header (draft 08): the id the
    // replay starts after when it was found, `earliest` otherwise.
    let (hub_last, answer) = match last.as_deref() {
        None => (None, None),
        // Not an h2push id: the hub replays all it has.
        Some("earliest") => (Some("earliest".to_owned()), Some("earliest".to_owned())),
        Some(id) => match sh.ids.hub_id(id) {
            Some(hub_id) => (Some(hub_id), Some(id.to_owned())),
            None if id.parse::<EventId>().is_ok() => (Some(id.to_owned()), Some(id.to_owned())),
            None => {
                tracing::debug!("Last-Event-ID {id:?} is not in the index; live updates only");
                (None, Some("earliest".to_owned()))
            }
        },
    };
    let sub = match sh
        .hub
        .subscribe([INTERNAL_TOPIC], hub_last.as_deref())
        .await
    {
        Ok(sub) => sub,
        Err(e @ HubError::TooManySubscribers { .. }) => {
            let mut res = text_response(StatusCode::SERVICE_UNAVAILABLE, &format!("{e}\n"));
            res.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("5"));
            return res;
        }
        Err(e @ (HubError::Unavailable(_) | HubError::Closed)) => {
            tracing::warn!("Mercure subscription deferred: {e}");
            let mut res = Response::new(Body::from(sh.hub.end_chunk("h2push: retry later")));
            *res.headers_mut() = crate::sse::http::event_stream_head();
            return res;
        }
        Err(e) => {
            tracing::error!("Mercure subscription failed: {e}");
            return text_response(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}\n"));
        }
    };
    let private = claims
        .as_ref()
        .and_then(|c| c.subscribe.clone())
        .unwrap_or_default();
    let notice = sh.config.subscriptions.then(|| Notice {
        shared: sh.clone(),
        subscriber: new_id(),
        topics: topics.clone(),
        payload: claims.as_ref().and_then(|c| c.payload.clone()),
    });
    if let Some(n) = &notice {
        for u in n.updates(true) {
            if let Err(e) = sh.publish(&u).await {
                tracing::debug!("subscription event not published: {e}");
            }
        }
    }
    let filter = Filter { selectors, private };
    let expiry = claims.as_ref().and_then(|c| c.expires).map(|exp| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let left = Duration::from_secs(exp.saturating_sub(now).min(365 * 24 * 3600));
        Box::pin(tokio::time::sleep(left))
    });
    let interval = sh.config.heartbeat.max(Duration::from_millis(10));
    let stream = MercureStream {
        sub,
        parser: Parser::new(),
        filter,
        prelude: Some(Bytes::from_static(b": ok\n\n")),
        interval,
        timer: tokio::time::sleep_until(jittered(interval)),
        active: false,
        done: false,
        slot,
        notice,
        expiry,
    };
    let mut res = Response::new(Body::new(stream));
    *res.headers_mut() = crate::sse::http::event_stream_head();
    if let Some(v) = answer.and_then(|a| HeaderValue::from_str(&a).ok()) {
        res.headers_mut().insert("last-event-id", v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_updates_need_a_subscribe_claim() {
        let f = Filter {
            selectors: vec![Selector::new("/books/{id}")],
            private: vec![Selector::new("/books/1")],
        };
        let mut u = Update::new(["/books/1"], "x");
        assert!(f.allows(&u));
        u.private = true;
        assert!(f.allows(&u));
        u.topics = vec!["/books/2".into()];
        assert!(!f.allows(&u));
        u.private = false;
        assert!(f.allows(&u));
        u.topics = vec!["/users/2".into()];
        assert!(!f.allows(&u));
    }
}
