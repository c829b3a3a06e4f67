//! `h2push demo` end to end without a browser: the binary on a free port, spoken to by the
//! library's probe (pushes and 103) and by a plain `h2` client (streams, POST bodies, errors).
//! The browser side is `e2e/demo.spec.mjs`, run by `scripts/e2e`.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2push::probe::{probe, ProbeOptions, PushOutcome};
use h2push::sse::{ParsedEvent, Parser};
use h2push::tls::TlsIdentity;
use http::{HeaderName, HeaderValue, Method, Request, StatusCode};

mod support;

use support::BIN;

/// A running `h2push demo` (killed by PID when dropped) with the certificate this test made.
struct Demo {
    _running: support::Running,
    addr: SocketAddr,
    identity: TlsIdentity,
    _dir: tempfile::TempDir,
}

/// Starts the demo on a free port with a certificate this test trusts.
fn start() -> Demo {
    let dir = tempfile::tempdir().unwrap();
    let identity = TlsIdentity::generate_dev().unwrap();
    let (cert, key) = identity.write_pem(dir.path()).unwrap();
    let args = ["demo", "--addr", "127.0.0.1:0", "--no-access-log", "--cert"];
    let running = support::spawn(args.iter().map(std::ffi::OsStr::new).chain([
        cert.as_os_str(),
        "--key".as_ref(),
        key.as_os_str(),
    ]));
    assert_eq!(running.pin, identity.spki_sha256_base64());
    Demo {
        addr: running.tls,
        _running: running,
        identity,
        _dir: dir,
    }
}

fn probe_options(demo: &Demo, path: &str) -> ProbeOptions {
    ProbeOptions {
        url: format!("https://{}{path}", demo.addr).parse().unwrap(),
        insecure: true,
        headers: vec![(
            HeaderName::from_static("sec-fetch-mode"),
            HeaderValue::from_static("navigate"),
        )],
        ..ProbeOptions::default()
    }
}

#[tokio::test]
async fn index_pushes_and_early_hints_both_assets() {
    let demo = start();
    let report = probe(&probe_options(&demo, "/")).await.unwrap();
    let ex = &report.exchanges[0];
    assert_eq!(ex.response.status, StatusCode::OK);

    let hints: Vec<_> = ex
        .informational
        .iter()
        .filter(|i| i.status == StatusCode::EARLY_HINTS)
        .collect();
    assert_eq!(hints.len(), 1, "one 103: {:?}", ex.informational);
    let links = hints[0].links().join(", ");
    assert!(
        links.contains("</static/style.css>; rel=preload; as=style"),
        "{links}"
    );
    assert!(
        links.contains("</static/app.js>; rel=preload; as=script"),
        "{links}"
    );

    for path in ["/static/style.css", "/static/app.js"] {
        let push = ex
            .pushes
            .iter()
            .find(|p| p.promised_path == path)
            .unwrap_or_else(|| panic!("no PUSH_PROMISE for {path}: {:?}", ex.pushes));
        assert_eq!(push.outcome, PushOutcome::Completed, "{path}");
        assert_eq!(push.status, Some(StatusCode::OK), "{path}");
        assert!(!push.body.is_empty(), "{path}");
    }
    // The final response keeps the links, for clients that took neither push nor 103.
    let link: Vec<_> = ex.response.headers.get_all("link").iter().collect();
    assert_eq!(link.len(), 2, "{link:?}");
    let page = String::from_utf8_lossy(&ex.response.body);
    assert!(page.contains("sent: a 103 with 2 preload links"), "{page}");
    assert!(page.contains(r#"data-pushed="true""#), "{page}");
    assert!(!page.contains("{{"), "a placeholder was left: {page}");
}

#[test]
fn the_probe_command_sees_the_pushes_and_the_103() {
    let demo = start();
    let out = Command::new(BIN)
        .args(["probe", "-k", "-H", "sec-fetch-mode: navigate"])
        .arg(format!("https://{}/", demo.addr))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("103 Early Hints"), "{text}");
    assert!(text.contains("PUSH_PROMISE  /static/style.css"), "{text}");
    assert!(text.contains("PUSH_PROMISE  /static/app.js"), "{text}");
}

#[tokio::test]
async fn api_data_is_json_about_this_connection() {
    let demo = start();
    let report = probe(&probe_options(&demo, "/api/data")).await.unwrap();
    let res = &report.exchanges[0].response;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.headers["content-type"], "application/json");
    let json: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(json["connection"]["protocol"], "h2");
    assert_eq!(json["connection"]["push"]["accepted"], true, "{json}");
    assert_eq!(json["techniques"].as_array().map(Vec::len), Some(4));
    assert!(json["message"].as_str().unwrap().contains("h2push"));
}

/// A minimal HTTP/2 client that trusts the demo's certificate.
struct Client {
    send: h2::client::SendRequest<Bytes>,
    authority: String,
}

async fn client(demo: &Demo) -> Client {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(demo.identity.cert_chain()[0].clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(demo.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    let (send, conn) = h2::client::Builder::new()
        .enable_push(false)
        .handshake(tls)
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Client {
        send,
        authority: format!("localhost:{}", demo.addr.port()),
    }
}

impl Client {
    /// Sends a request; returns the response head and its body stream.
    async fn request(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Bytes>,
    ) -> (http::response::Parts, h2::RecvStream) {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("https://{}{path}", self.authority));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(()).unwrap();
        let send = self.send.clone();
        let mut send = send.ready().await.unwrap();
        let (res, mut stream) = send.send_request(req, body.is_none()).unwrap();
        if let Some(body) = body {
            stream.send_data(body, true).unwrap();
        }
        let res = tokio::time::timeout(Duration::from_secs(10), res)
            .await
            .expect("response in time")
            .unwrap();
        res.into_parts()
    }
}

/// Reads a body to its end.
async fn read_all(body: &mut h2::RecvStream) -> Bytes {
    let mut all = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        all.extend_from_slice(&chunk);
    }
    all.into()
}

/// Reads events until `stop` says so (or the stream ends); records the chunks' arrival times.
async fn read_events(
    body: &mut h2::RecvStream,
    mut stop: impl FnMut(&[ParsedEvent]) -> bool,
) -> (Vec<ParsedEvent>, Vec<Instant>) {
    let mut parser = Parser::new();
    let mut events = Vec::new();
    let mut arrivals = Vec::new();
    let deadline = Duration::from_secs(20);
    while let Ok(Some(chunk)) = tokio::time::timeout(deadline, body.data()).await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        arrivals.push(Instant::now());
        events.extend(parser.feed(&chunk));
        if stop(&events) {
            break;
        }
    }
    (events, arrivals)
}

#[tokio::test]
async fn events_resume_after_last_event_id() {
    let demo = start();
    let mut c = client(&demo).await;
    let (head, mut body) = c
        .request(Method::GET, "/api/events", &[("last-event-id", "5")], None)
        .await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.headers["content-type"], "text/event-stream");
    assert_eq!(head.headers["cache-control"], "no-store, no-transform");
    let (events, _) = read_events(&mut body, |evs| {
        evs.iter().filter(|e| e.event_type == "tick").count() >= 2
    })
    .await;
    assert_eq!(events[0].event_type, "welcome");
    let welcome: serde_json::Value = serde_json::from_str(&events[0].data).unwrap();
    assert_eq!(welcome["resume_from"], 6);
    let ticks: Vec<&str> = events
        .iter()
        .filter(|e| e.event_type == "tick")
        .map(|e| e.last_event_id.as_str())
        .collect();
    assert_eq!(ticks, ["6", "7"]);

    // Everything seen: 204, which tells an EventSource to stop reconnecting.
    let (head, _) = c
        .request(Method::GET, "/api/events?lastEventId=15", &[], None)
        .await;
    assert_eq!(head.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn chat_streams_the_reply_token_by_token() {
    let demo = start();
    let mut c = client(&demo).await;
    let json = [("content-type", "application/json")];
    let (head, mut body) = c
        .request(
            Method::POST,
            "/api/chat",
            &json,
            Some(Bytes::from_static(br#"{"message":"hello"}"#)),
        )
        .await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.headers["content-type"], "text/event-stream");
    let (events, arrivals) = read_events(&mut body, |_| false).await;
    let tokens: Vec<&ParsedEvent> = events.iter().filter(|e| e.event_type == "token").collect();
    assert!(tokens.len() > 30, "{} tokens", tokens.len());
    for (i, t) in tokens.iter().enumerate() {
        assert_eq!(t.last_event_id, (i + 1).to_string());
    }
    let text: String = tokens.iter().map(|t| t.data.as_str()).collect();
    assert!(
        text.starts_with("You asked: \u{201c}hello\u{201d}\n\n"),
        "{text}"
    );
    assert_eq!(events.last().unwrap().event_type, "done");
    // Streamed, not buffered: the tokens came in many pieces spread over time.
    assert!(
        arrivals.len() >= tokens.len() / 2,
        "{} reads",
        arrivals.len()
    );
    let spread = *arrivals.last().unwrap() - arrivals[0];
    assert!(spread > Duration::from_secs(1), "{spread:?}");

    // Reconnecting with Last-Event-ID gets the rest of the same reply.
    let (_, mut body) = c
        .request(
            Method::POST,
            "/api/chat",
            &[
                ("content-type", "application/json"),
                ("last-event-id", "30"),
            ],
            Some(Bytes::from_static(br#"{"message":"hello"}"#)),
        )
        .await;
    let (rest, _) = read_events(&mut body, |_| false).await;
    let rest: String = rest
        .iter()
        .filter(|e| e.event_type == "token")
        .map(|e| e.data.as_str())
        .collect();
    let whole: String = tokens.iter().map(|t| t.data.as_str()).collect();
    let first30: String = tokens[..30].iter().map(|t| t.data.as_str()).collect();
    assert_eq!(format!("{first30}{rest}"), whole);
}

/// A bad request: its headers and body, the status it gets and words its error must contain.
type Case<'a> = (&'a [(&'a str, &'a str)], Bytes, StatusCode, &'a str);

#[tokio::test]
async fn chat_rejects_bad_requests_clearly() {
    let demo = start();
    let mut c = client(&demo).await;
    let json = [("content-type", "application/json")];
    let cases: [Case; 5] = [
        (
            &json,
            Bytes::from_static(b"{not json"),
            StatusCode::BAD_REQUEST,
            "not valid JSON",
        ),
        (
            &json,
            Bytes::from_static(br#"{"text":"hi"}"#),
            StatusCode::BAD_REQUEST,
            "expected {\"message\"",
        ),
        (
            &json,
            Bytes::from_static(br#"{"message":""}"#),
            StatusCode::BAD_REQUEST,
            "is empty",
        ),
        (
            &[("content-type", "text/plain")],
            Bytes::from_static(b"hi"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/json",
        ),
        (
            &json,
            Bytes::from(format!(r#"{{"message":"{}"}}"#, "a".repeat(20 * 1024))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "16 KiB",
        ),
    ];
    for (headers, body, status, says) in cases {
        let (head, mut stream) = c
            .request(Method::POST, "/api/chat", headers, Some(body))
            .await;
        let text = read_all(&mut stream).await;
        let json: serde_json::Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(head.status, status, "{json}");
        let error = json["error"].as_str().unwrap();
        assert!(error.contains(says), "{status}: {error}");
    }
    let (head, _) = c.request(Method::GET, "/api/chat-stream", &[], None).await;
    assert_eq!(head.status, StatusCode::BAD_REQUEST);
    let (head, mut body) = c
        .request(Method::GET, "/api/chat-stream?message=sse%3F", &[], None)
        .await;
    assert_eq!(head.status, StatusCode::OK);
    let (events, _) = read_events(&mut body, |evs| evs.len() >= 3).await;
    assert!(events.iter().all(|e| e.event_type == "token"));
}
