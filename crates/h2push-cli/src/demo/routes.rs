//! The demo's axum app: its routes, its pages and the small JSON APIs.
//!
//! This module owns the URL space of `h2push demo` and the index page's use of the library's
//! request extensions: `/` early-hints (a 103, to navigations) and pushes (to clients that
//! accept push) `/static/style.css` and `/static/app.js`, then "renders" for a moment — the
//! think time those hints fill — and answers with the same resources in
//! `Link: rel=preload` for everyone else. Embedded files are [`super::assets`]'s;
//! `/api/events` is [`super::sse`]'s; `/api/chat` and `/api/chat-stream` are
//! [`super::chat`]'s.

use std::time::Duration;

use axum::extract::Extension;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use h2push::hints::{is_navigation, Hint};
use h2push::{EarlyHints, PeerAddr, Protocol, Pusher};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LINK};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::json;
use tokio::sync::watch;

use super::{assets, chat, sse};

/// The resources `/` pushes and early-hints, in order.
pub const CRITICAL: [&str; 2] = ["/static/style.css", "/static/app.js"];

/// What `/api/data` pushes to find out whether the client accepts push.
const PUSH_CHECK: &str = "/static/push-check.txt";

/// How long the index page "renders" after its hints went out: the idle time on the wire
/// that push and 103 exist to fill.
const THINK_TIME: Duration = Duration::from_millis(250);

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Flips to `true` when the server shuts down, so endless streams end and let it drain.
    pub shutdown: watch::Receiver<bool>,
}

/// The whole site.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/fetch-demo", get(|| page("fetch-demo.html")))
        .route("/sse-demo", get(|| page("sse-demo.html")))
        .route("/fetch-sse-chatbot", get(|| page("fetch-sse-chatbot.html")))
        .route("/compare", get(|| page("compare.html")))
        .route("/favicon.ico", get(favicon))
        .route("/static/{*path}", get(assets::serve_static))
        .route("/api/data", get(api_data))
        .route("/api/events", get(sse::events))
        .route("/api/chat", post(chat::chat))
        .route("/api/chat-stream", get(chat::chat_stream))
        .fallback(|| async { not_found() })
        .with_state(state)
}

/// A 404 in plain text.
pub fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found\n",
    )
        .into_response()
}

/// A JSON error body `{"error": message}` with `status`.
pub fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn favicon(headers: HeaderMap) -> Response {
    assets::serve("static/favicon.svg", &headers)
}

/// A page as it is embedded, with the headers every page gets.
async fn page(name: &'static str) -> Response {
    html(assets::page_text(name).to_owned())
}

fn html(body: String) -> Response {
    let mut res = (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            // Every visit is a fresh navigation, so the page can show how its resources came.
            (CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response();
    let h = res.headers_mut();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// `GET /`: 103 to navigations, pushes to clients that take them, `Link` for everyone; the
/// page shows what the server did and (in `app.js`) how the browser got each resource.
async fn index(
    headers: HeaderMap,
    pusher: Option<Extension<Pusher>>,
    hints: Option<Extension<EarlyHints>>,
    protocol: Option<Extension<Protocol>>,
) -> Response {
    let links: Vec<HeaderValue> = CRITICAL.iter().map(|p| Hint::new(*p).to_link()).collect();

    // The 103 first: Chrome acts on the first 103 of a navigation only.
    let hint_report = match &hints {
        _ if !is_navigation(&headers) => "not sent: not a top-level navigation".to_owned(),
        None => "not sent: this connection cannot send one".to_owned(),
        Some(Extension(h)) if !h.sends_informational() => {
            "not sent: HTTP/1.1 has no 103 here; the links are in the final Link header".to_owned()
        }
        Some(Extension(h)) => match h.send(links.clone()) {
            Ok(()) => format!("sent: a 103 with {} preload links", links.len()),
            Err(e) => format!("not sent: {e}"),
        },
    };
    let push_report: Vec<String> = CRITICAL
        .iter()
        .map(|path| {
            let outcome = match &pusher {
                Some(Extension(p)) => p.push(path).map_err(|e| e.to_string()),
                None => Err("no pusher on this request".to_owned()),
            };
            let (pushed, text) = match outcome {
                Ok(()) => (true, "pushed".to_owned()),
                Err(why) => (false, format!("not pushed: {why}")),
            };
            format!(
                "<li data-path=\"{path}\" data-pushed=\"{pushed}\"><code>{path}</code>: {}</li>",
                escape(&text)
            )
        })
        .collect();

    tokio::time::sleep(THINK_TIME).await;

    let proto = protocol.map_or_else(|| "unknown".to_owned(), |Extension(p)| p.to_string());
    let body = assets::page_text("index.html")
        .replace("{{protocol}}", &escape(&proto))
        .replace("{{early_hints}}", &escape(&hint_report))
        .replace("{{pushes}}", &push_report.join("\n        "))
        .replace("{{think_ms}}", &THINK_TIME.as_millis().to_string());
    let mut res = html(body);
    for link in links {
        res.headers_mut().append(LINK, link);
    }
    res
}

/// `GET /api/data`: a small JSON document, with what the server knows of this connection.
async fn api_data(
    pusher: Option<Extension<Pusher>>,
    protocol: Option<Extension<Protocol>>,
    peer: Option<Extension<PeerAddr>>,
) -> Response {
    let now_ms = super::sse::unix_ms();
    // Whether the client takes pushes shows only when one is tried (its SETTINGS_ENABLE_PUSH
    // is not visible before): push a tiny file and report the outcome.
    let push = match &pusher {
        Some(Extension(p)) => match p.push(PUSH_CHECK) {
            Ok(()) => json!({ "accepted": true, "detail": format!("pushed {PUSH_CHECK}") }),
            Err(e @ h2push::PushError::AlreadyPushed(_)) => {
                json!({ "accepted": true, "detail": e.to_string() })
            }
            Err(e) => json!({ "accepted": false, "detail": e.to_string() }),
        },
        None => json!({ "accepted": false, "detail": "no pusher on this request" }),
    };
    let body = json!({
        "message": "Hello from h2push: this JSON came over the page's own connection.",
        "server_time_ms": now_ms,
        "connection": {
            "protocol": protocol.map(|Extension(p)| p.to_string()),
            "peer": peer.map(|Extension(PeerAddr(a))| a.to_string()),
            "push": push,
        },
        "techniques": [
            { "name": "Server push", "direction": "server → client, before the request",
              "browsers": "removed from Chrome (106) and Firefox (132)" },
            { "name": "103 Early Hints", "direction": "server → client, hints before the response",
              "browsers": "Chrome 103+, Firefox 120+, Safari 17+ (preconnect)" },
            { "name": "Server-sent events", "direction": "server → client, a stream of events",
              "browsers": "every browser (EventSource) and fetch()" },
            { "name": "WebSocket", "direction": "both ways, messages",
              "browsers": "every browser; over HTTP/1.1 upgrade or RFC 8441" },
        ],
    });
    let mut res = Json(body).into_response();
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn critical_links_have_as() {
        let links: Vec<_> = CRITICAL.iter().map(|p| Hint::new(*p).to_link()).collect();
        assert_eq!(links[0], "</static/style.css>; rel=preload; as=style");
        assert_eq!(links[1], "</static/app.js>; rel=preload; as=script");
    }
}
