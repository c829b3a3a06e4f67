//! The chatbot APIs: `POST /api/chat` and `GET /api/chat-stream`, replies streamed token by
//! token as server-sent events, the way today's LLM APIs stream.
//!
//! This module owns reading and validating the request (at most [`MAX_BODY`] bytes → 413,
//! JSON `{"message": "…"}` only → clear 400s, `application/json` only → 415), the canned
//! "model" that writes a deterministic reply, and its stream: a `token` event per token with
//! id `i`, then `done`. Because a reply is deterministic, a client that reconnects with
//! `Last-Event-ID: i` gets the rest from token `i + 1` on. Stream headers and the event
//! format are [`super::sse`]'s and `h2push::sse`'s.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::Stream;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;

use super::routes::{json_error, AppState};
use super::sse::{first_to_send, named, pause, stream_response, with_id};

/// The largest request body `POST /api/chat` reads.
pub const MAX_BODY: usize = 16 * 1024;
/// The longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// The time between two tokens: slow enough to watch the reply grow.
pub const TOKEN_DELAY: Duration = Duration::from_millis(60);

/// `POST /api/chat` with `{"message": "…"}`: the reply as an event stream.
pub async fn chat(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return too_large();
    }
    let json_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !json_type {
        return json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the message as JSON: Content-Type: application/json",
        );
    }
    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => return too_large(),
        Err(e) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                format!("could not read the body: {e}"),
            )
        }
    };
    let message = match parse_request(&bytes) {
        Ok(m) => m,
        Err(why) => return json_error(StatusCode::BAD_REQUEST, why),
    };
    let last = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    respond(&message, first_to_send(last), state.shutdown)
}

/// `?message=` of `GET /api/chat-stream`.
#[derive(Deserialize)]
pub struct ChatQuery {
    message: Option<String>,
}

/// `GET /api/chat-stream?message=…`: the same stream, for an `EventSource`.
pub async fn chat_stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ChatQuery>,
) -> Response {
    let Some(message) = query.message else {
        return json_error(StatusCode::BAD_REQUEST, "missing ?message=: say something");
    };
    if let Err(why) = check_message(&message) {
        return json_error(StatusCode::BAD_REQUEST, why);
    }
    let last = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    respond(&message, first_to_send(last), state.shutdown)
}

fn too_large() -> Response {
    json_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is over {} KiB", MAX_BODY / 1024),
    )
}

/// The request body: exactly `{"message": string}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChatRequest {
    message: String,
}

/// The message of a request body, or why the body is not acceptable.
fn parse_request(bytes: &[u8]) -> Result<String, String> {
    if bytes.is_empty() {
        return Err("the body is empty; send {\"message\": \"…\"}".into());
    }
    let req: ChatRequest = serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => format!("expected {{\"message\": \"…\"}}: {e}"),
            _ => format!("the body is not valid JSON: {e}"),
        }
    })?;
    check_message(&req.message)?;
    Ok(req.message)
}

fn check_message(message: &str) -> Result<(), String> {
    if message.trim().is_empty() {
        return Err("\"message\" is empty; say something".into());
    }
    let chars = message.chars().count();
    if chars > MAX_MESSAGE_CHARS {
        return Err(format!(
            "\"message\" has {chars} characters; at most {MAX_MESSAGE_CHARS} are allowed"
        ));
    }
    Ok(())
}

/// The reply's stream, from token `start` (1-based) on; 204 if there is nothing left.
fn respond(message: &str, start: u64, stop: watch::Receiver<bool>) -> Response {
    let tokens = tokenize(&reply(message));
    if start > tokens.len() as u64 {
        return StatusCode::NO_CONTENT.into_response();
    }
    stream_response(token_stream(tokens, start, stop))
}

fn token_stream(
    tokens: Vec<String>,
    start: u64,
    stop: watch::Receiver<bool>,
) -> impl Stream<Item = Bytes> + Send {
    let total = tokens.len() as u64;
    futures_util::stream::unfold(
        (tokens, start, stop, false),
        move |(tokens, i, mut stop, done)| async move {
            if done {
                return None;
            }
            if i > total {
                let data = json!({ "tokens": total }).to_string();
                let ev = named("done", data);
                return Some((ev.encode(), (tokens, i, stop, true)));
            }
            if i > start && !pause(TOKEN_DELAY, &mut stop).await {
                return None;
            }
            let token = tokens.get((i - 1) as usize).cloned().unwrap_or_default();
            let ev = with_id(named("token", token), i);
            Some((ev.encode(), (tokens, i + 1, stop, false)))
        },
    )
}

/// Splits text into tokens the way a model streams them: each token a word with the
/// whitespace before it (`"Hi"`, `" there"`, `"\n\nNext"`).
pub fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    for c in text.chars() {
        if c.is_whitespace() && in_word {
            tokens.push(std::mem::take(&mut current));
            in_word = false;
        } else if !c.is_whitespace() {
            in_word = true;
        }
        current.push(c);
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

/// The canned model: a deterministic reply that quotes the question and explains the
/// technique it mentions.
pub fn reply(message: &str) -> String {
    let m = message.to_lowercase();
    let quoted: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let quoted = if quoted.chars().count() > 120 {
        format!("{}…", quoted.chars().take(120).collect::<String>())
    } else {
        quoted
    };
    let topic = if m.contains("push") {
        "Server push lets an HTTP/2 server send a PUSH_PROMISE and the response for a \
         resource before the browser asks. Chrome and Firefox removed it, because pushes \
         often arrived for things already cached; h2push still pushes to clients that allow it."
    } else if m.contains("103") || m.contains("hint") {
        "A 103 Early Hints response carries Link: rel=preload headers while the server is \
         still working on the page. Chrome starts fetching those resources at once, so the \
         server's think time is no longer dead time on the wire."
    } else if m.contains("websocket") || m.contains("socket") {
        "A WebSocket is a two-way message channel. It needs its own upgrade handshake, and on \
         HTTP/2 the extended CONNECT of RFC 8441; for server-to-client updates, server-sent \
         events over the page's own connection are simpler."
    } else if m.contains("sse") || m.contains("event") || m.contains("stream") {
        "Server-sent events are a text/event-stream response that never ends: each event is \
         a few lines of text and a blank line. EventSource reconnects by itself and sends \
         Last-Event-ID, so the server can resume where the client stopped."
    } else {
        "I am a canned model, but the way this answer reaches you is real: each token is one \
         server-sent event on a POST response, read with fetch() and a stream reader, the \
         same pattern as the streaming APIs of today's language models."
    };
    format!(
        "You asked: \u{201c}{quoted}\u{201d}\n\n{topic}\n\nAsk about push, 103, SSE or \
         WebSocket to hear about the others."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_their_leading_space_and_rejoin() {
        let text = "Hi there,\n\nnew  line";
        let t = tokenize(text);
        assert_eq!(t, ["Hi", " there,", "\n\nnew", "  line"]);
        assert_eq!(t.concat(), text);
        assert_eq!(tokenize(&reply("x")).concat(), reply("x"));
    }

    #[test]
    fn request_validation() {
        assert_eq!(parse_request(br#"{"message":"hi"}"#).unwrap(), "hi");
        for (body, want) in [
            (&b""[..], "empty"),
            (b"{", "not valid JSON"),
            (b"[1]", "expected"),
            (br#"{"message": 3}"#, "expected"),
            (br#"{"msg": "x"}"#, "expected"),
            (br#"{"message": "  "}"#, "is empty"),
        ] {
            let err = parse_request(body).unwrap_err();
            assert!(err.contains(want), "{body:?}: {err}");
        }
    }

    #[test]
    fn replies_are_deterministic_and_on_topic() {
        assert_eq!(reply("tell me about push"), reply("tell me about push"));
        assert!(reply("what is 103?").contains("Early Hints"));
        assert!(reply("SSE please").contains("Last-Event-ID"));
        assert!(tokenize(&reply("hello")).len() > 30);
    }
}
