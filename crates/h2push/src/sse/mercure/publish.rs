//! `POST /.well-known/mercure`: a publisher's update, authorized by its JWT.
//!
//! This file owns the publish handler: the token (401 when missing or invalid), the bounded
//! form body (413), its fields (`topic` repeated, `data`, `private`, `id`, `type`, `retry`),
//! the `mercure.publish` check (403 unless every topic of the update is matched), and the
//! response: the update's id as plain text. Sending the update through the hub is `mod.rs`'s.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};

use super::jwt::find_token;
use super::topic::Selector;
use super::{auth_error, new_id, text_response, Shared, Update};
use crate::sse::hub::HubError;
use crate::Body;

/// The longest id a publisher may give, in bytes.
const MAX_ID_LEN: usize = 512;

/// Whether `topic`, resolved against the hub URL, is in the hub's own namespace
/// (`/.well-known/mercure` and below), which only the hub publishes to (draft 08; it keeps a
/// publisher from forging subscription events).
fn reserved(topic: &str) -> bool {
    let Ok(base) = url::Url::parse("https://hub.invalid/.well-known/mercure") else {
        return false;
    };
    match base.join(topic) {
        Ok(u) => {
            let path = u.path();
            path == "/.well-known/mercure" || path.starts_with("/.well-known/mercure/")
        }
        Err(_) => false,
    }
}

fn bad_request(why: &str) -> Response<Body> {
    text_response(StatusCode::BAD_REQUEST, &format!("{why}\n"))
}

/// Serves `POST /.well-known/mercure`.
pub(super) async fn publish(sh: &Shared, req: Request<Body>) -> Response<Body> {
    let Some(key) = &sh.config.publisher_key else {
        return text_response(
            StatusCode::FORBIDDEN,
            "publishing is disabled: no publisher JWT key is configured (publisher_jwt_key in \
             the [mercure] section, or MercureConfig::publisher_key)\n",
        );
    };
    let (parts, body) = req.into_parts();
    let token = match find_token(&parts.headers, None) {
        Ok(Some((t, _))) => t,
        Ok(None) => {
            return auth_error(
                StatusCode::UNAUTHORIZED,
                None,
                "publishing needs a JWT: send Authorization: Bearer <JWT> or the mercureAuthorization cookie",
            )
        }
        Err(why) => return auth_error(StatusCode::BAD_REQUEST, Some("invalid_request"), why),
    };
    let claims = match key.verify(&token) {
        Ok(c) => c,
        Err(why) => return auth_error(StatusCode::UNAUTHORIZED, Some("invalid_token"), &why),
    };
    let limit = sh.config.max_publish_bytes;
    let body: Bytes = match Limited::new(body, limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return text_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the request body is larger than {limit} bytes (max_publish_bytes)\n"),
            )
        }
        Err(e) => return bad_request(&format!("cannot read the body: {e}")),
    };
    let pairs = match serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) {
        Ok(p) => p,
        Err(e) => {
            return bad_request(&format!(
                "the body must be application/x-www-form-urlencoded: {e}"
            ))
        }
    };
    let mut topics = Vec::new();
    let mut update = Update {
        topics: Vec::new(),
        data: String::new(),
        private: false,
        id: String::new(),
        event_type: None,
        retry: None,
    };
    let mut id = None;
    for (k, v) in pairs {
        match k.as_str() {
            "topic" => topics.push(v),
            "data" => update.data = v,
            // Any value, even empty, makes the update private.
            "private" => update.private = true,
            "id" => id = Some(v),
            "type" => update.event_type = Some(v).filter(|t| !t.is_empty()),
            "retry" => match v.trim().parse::<u64>() {
                Ok(ms) => update.retry = Some(ms),
                Err(_) => return bad_request("the field retry must be a number of milliseconds"),
            },
            _ => {}
        }
    }
    if topics.is_empty() || topics.iter().any(String::is_empty) {
        return bad_request("the field topic is required (and may not be empty)");
    }
    if topics.len() > sh.config.max_topics {
        return bad_request(&format!(
            "an update may have at most {} topics",
            sh.config.max_topics
        ));
    }
    if let Some(t) = &update.event_type {
        if t.contains(['\r', '\n']) {
            return bad_request("the field type must not contain CR or LF");
        }
    }
    update.id = match id.filter(|i| !i.is_empty()) {
        None => new_id(),
        Some(i) if i.starts_with('#') => return bad_request("the field id must not start with #"),
        Some(i) if i.len() > MAX_ID_LEN || i.contains(['\0', '\r', '\n']) => {
            return bad_request(&format!(
                "the field id must be at most {MAX_ID_LEN} bytes without NUL, CR or LF"
            ))
        }
        Some(i) => i,
    };
    if let Some(t) = topics.iter().find(|t| reserved(t)) {
        return auth_error(
            StatusCode::FORBIDDEN,
            Some("insufficient_scope"),
            &format!("{t:?} is in the hub's reserved namespace /.well-known/mercure"),
        );
    }
    update.topics = topics;
    if !authorized(claims.publish.as_deref(), &update.topics) {
        return auth_error(
            StatusCode::FORBIDDEN,
            Some("insufficient_scope"),
            "the JWT's publish claim (mercure.publish or authorization_details) does not match \
             every topic of this update",
        );
    }
    match sh.publish(&update).await {
        Ok(id) => {
            let mut res = Response::new(Body::from(id));
            res.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            res
        }
        Err(e @ HubError::EventTooLarge { .. }) => text_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("not published: {e}\n"),
        ),
        Err(e) => {
            let mut res = text_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("not published: {e}\n"),
            );
            res.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            res
        }
    }
}

/// Whether `publish` (the claim) matches every one of `topics`.
fn authorized(publish: Option<&[Selector]>, topics: &[String]) -> bool {
    let Some(selectors) = publish else {
        return false;
    };
    topics
        .iter()
        .all(|t| selectors.iter().any(|s| s.matches(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hub_namespace_is_reserved() {
        for t in [
            "/.well-known/mercure",
            "/.well-known/mercure/subscriptions/x/y",
            "https://other.example/.well-known/mercure/subscriptions/a",
            "/a/../.well-known/mercure/x",
            "mercure/x",
        ] {
            assert!(reserved(t), "{t}");
        }
        for t in [
            "/.well-known/mercurex",
            "https://example.com/books/1",
            "urn:x:/.well-known/mercure",
            // Resolved against the hub URL: /.well-known/.well-known/mercure/x.
            ".well-known/mercure/x",
        ] {
            assert!(!reserved(t), "{t}");
        }
    }

    #[test]
    fn every_topic_must_be_allowed() {
        let sel = vec![Selector::new("https://example.com/books/{id}")];
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(authorized(Some(&sel), &t(&["https://example.com/books/1"])));
        assert!(!authorized(
            Some(&sel),
            &t(&["https://example.com/books/1", "https://example.com/users/1"])
        ));
        assert!(!authorized(None, &t(&["https://example.com/books/1"])));
        assert!(!authorized(Some(&[]), &t(&["x"])));
    }
}
