//! `POST /publish`: publishing over HTTP with a bearer token.
//!
//! This file owns the publish endpoint: the token check (and the message when no token is
//! configured), reading a bounded body as a form or JSON, turning its fields into an
//! [`Event`], and mapping each [`HubError`] to a status with a JSON error. Routing and CORS
//! are `mod.rs`'s; numbering and fan-out are the hub's.

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use serde::Deserialize;

use super::{ct_eq, Endpoints};
use crate::sse::hub::HubError;
use crate::sse::Event;
use crate::Body;

/// The longest idempotency key, in bytes.
const MAX_KEY_LEN: usize = 200;

/// The fields of a publish request, from a form or a JSON object.
#[derive(Debug, Default, Deserialize)]
struct PublishFields {
    topic: Option<String>,
    /// A string is sent as it is; any other JSON value is sent as its JSON text.
    data: Option<serde_json::Value>,
    #[serde(alias = "type")]
    event: Option<String>,
    /// An idempotency key: a repeated publish with the same topic and id is not sent twice.
    id: Option<String>,
}

fn json_error(status: StatusCode, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "error": message }).to_string() + "\n";
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// Serves `POST /publish`.
pub(super) async fn publish(ep: &Endpoints, req: Request<Body>) -> Response<Body> {
    let Some(expected) = &ep.publish_token else {
        return json_error(
            StatusCode::FORBIDDEN,
            "publishing over HTTP is disabled because no publish token is configured; \
             start h2push with --publish-token TOKEN, or set publish_token in the [sse] section \
             of the config file (in code: HubService::publish_token)",
        );
    };
    let auth = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let given = match auth {
        None => {
            let mut res = json_error(
                StatusCode::UNAUTHORIZED,
                "publishing needs the header Authorization: Bearer TOKEN",
            );
            res.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"h2push\""),
            );
            return res;
        }
        Some(v) => match v.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => {
                return json_error(
                    StatusCode::UNAUTHORIZED,
                    "the Authorization header must be: Bearer TOKEN",
                )
            }
        },
    };
    if !ct_eq(given.as_bytes(), expected.as_bytes()) {
        return json_error(StatusCode::FORBIDDEN, "the publish token is wrong");
    }

    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let json = match content_type.as_str() {
        "application/json" => true,
        "application/x-www-form-urlencoded" | "" => false,
        other => {
            return json_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &format!("send application/x-www-form-urlencoded or application/json, not {other}"),
            )
        }
    };
    let limit = ep
        .max_publish_bytes
        .unwrap_or(ep.hub.config().max_event_bytes + 16 * 1024);
    let body: Bytes = match Limited::new(req.into_body(), limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the request body is larger than {limit} bytes"),
            )
        }
        Err(e) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                &format!("cannot read the body: {e}"),
            )
        }
    };
    let fields: PublishFields = if json {
        match serde_json::from_slice(&body) {
            Ok(f) => f,
            Err(e) => return json_error(StatusCode::BAD_REQUEST, &format!("invalid JSON: {e}")),
        }
    } else {
        match serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) {
            Ok(pairs) => {
                let mut f = PublishFields::default();
                for (k, v) in pairs {
                    match k.as_str() {
                        "topic" => f.topic = Some(v),
                        "data" => f.data = Some(serde_json::Value::String(v)),
                        "event" | "type" => f.event = Some(v),
                        "id" => f.id = Some(v),
                        _ => {}
                    }
                }
                f
            }
            Err(e) => return json_error(StatusCode::BAD_REQUEST, &format!("invalid form: {e}")),
        }
    };

    let Some(topic) = fields.topic.filter(|t| !t.is_empty()) else {
        return json_error(StatusCode::BAD_REQUEST, "the field topic is required");
    };
    let data = match fields.data {
        None => return json_error(StatusCode::BAD_REQUEST, "the field data is required"),
        Some(serde_json::Value::String(s)) => s,
        Some(other) => other.to_string(),
    };
    let mut event = Event::data(data);
    if let Some(t) = fields.event.filter(|t| !t.is_empty()) {
        event = match event.event(t) {
            Ok(e) => e,
            Err(e) => return json_error(StatusCode::BAD_REQUEST, &e.to_string()),
        };
    }
    if let Some(key) = &fields.id {
        if key.is_empty() || key.len() > MAX_KEY_LEN || key.chars().any(char::is_control) {
            return json_error(
                StatusCode::BAD_REQUEST,
                "the field id (an idempotency key) must be 1 to 200 bytes without control characters",
            );
        }
    }
    let result = match &fields.id {
        Some(key) => ep.hub.publish_once(&topic, key, event).await,
        None => ep
            .hub
            .publish(&topic, event)
            .await
            .map(|id| crate::sse::hub::Published {
                id,
                duplicate: false,
            }),
    };
    match result {
        Ok(p) => {
            let mut body = serde_json::json!({ "id": p.id.to_string(), "topic": topic });
            if p.duplicate {
                body["duplicate"] = serde_json::Value::Bool(true);
            }
            let mut res = Response::new(Body::from(body.to_string() + "\n"));
            res.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            res
        }
        Err(e) => {
            let status = match &e {
                HubError::InvalidTopic { .. }
                | HubError::NoTopics
                | HubError::TooManyTopics { .. } => StatusCode::BAD_REQUEST,
                HubError::EventHasId => StatusCode::BAD_REQUEST,
                HubError::UnknownTopic(_) => StatusCode::NOT_FOUND,
                HubError::EventTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                HubError::HubFull { .. }
                | HubError::TooManySubscribers { .. }
                | HubError::Unavailable(_)
                | HubError::Closed => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let mut res = json_error(status, &format!("not published: {e}"));
            if status == StatusCode::SERVICE_UNAVAILABLE {
                res.headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            res
        }
    }
}
