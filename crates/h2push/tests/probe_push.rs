//! The probe against a small h2 server: 103 Early Hints, pushes, push settings and resets,
//! several requests on one connection, over h2c and over TLS.

mod probe_support;

use std::time::Duration;

use bytes::Bytes;
use h2push::probe::{probe, EventKind, ProbeOptions, ProbeReport, PushOutcome};
use h2push::tls::TlsIdentity;
use probe_support::{hinted_page, plain_page, start, Mode, Page, TestServer, WAIT};

fn options(server: &TestServer, scheme: &str, path: &str) -> ProbeOptions {
    ProbeOptions {
        url: format!("{scheme}://{}{path}", server.addr).parse().unwrap(),
        insecure: true,
        timeout: WAIT,
        // The pushes these tests expect complete; on a loaded machine they may take longer
        // than the default second to arrive.
        push_wait: WAIT,
        ..ProbeOptions::default()
    }
}

async fn run(opts: &ProbeOptions) -> ProbeReport {
    tokio::time::timeout(WAIT * 2, probe(opts))
        .await
        .expect("probe did not return")
        .unwrap_or_else(|e| panic!("probe failed: {e}"))
}

/// What every hinted-page probe must show, whatever the transport. A failed check shows the
/// whole report (its timeline, with times) under the assertion that failed.
fn check_hinted_report(report: &ProbeReport) {
    let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check_hinted(report)));
    if let Err(cause) = checked {
        let why = cause
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| cause.downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        panic!("{why}\nthe probe saw:\n{}", report.render_text());
    }
}

fn check_hinted(report: &ProbeReport) {
    let page = hinted_page();
    assert_eq!(report.exchanges.len(), 1);
    let ex = &report.exchanges[0];
    assert_eq!(ex.path, "/");
    assert_eq!(ex.response.status, 200);
    assert_eq!(ex.response.body, page.body);

    assert_eq!(ex.informational.len(), 1, "{ex:#?}");
    let hints = &ex.informational[0];
    assert_eq!(hints.status, 103);
    assert_eq!(hints.links(), page.links);
    assert!(hints.at <= ex.response.head_at);
    assert!(ex.sent_at <= hints.at);

    assert_eq!(ex.pushes.len(), 2);
    for (push, (path, body)) in ex.pushes.iter().zip(&page.pushes) {
        assert_eq!(push.promised_path, *path);
        assert_eq!(push.outcome, PushOutcome::Completed);
        assert_eq!(push.status, Some(http::StatusCode::OK));
        assert_eq!(push.body, *body);
        assert_eq!(
            push.headers["content-length"].to_str().unwrap(),
            body.len().to_string()
        );
        assert!(push.promised_at <= push.finished_at);
    }

    let totals = report.totals();
    assert_eq!(totals.responses, 1);
    assert_eq!(totals.pushes, 2);
    assert_eq!(totals.pushed_bytes, 21 + 40_000);
    assert_eq!(totals.early_hints, 1);

    // The timeline is ordered, and the hints come before the final response.
    let timeline = report.timeline();
    assert!(timeline.windows(2).all(|w| w[0].at <= w[1].at));
    let pos = |f: &dyn Fn(&EventKind) -> bool| timeline.iter().position(|e| f(&e.kind)).unwrap();
    let hint_pos = pos(&|k| matches!(k, EventKind::Informational(..)));
    let head_pos = pos(&|k| matches!(k, EventKind::ResponseHead(..)));
    let end_pos = pos(&|k| matches!(k, EventKind::ResponseEnd(..)));
    assert!(pos(&|k| matches!(k, EventKind::Connected)) == 0);
    let promise_pos = pos(&|k| matches!(k, EventKind::PushPromise(..)));
    assert!(hint_pos < promise_pos && promise_pos < head_pos && head_pos < end_pos);

    let text = report.render_text();
    let hint_line = text.find("103 Early Hints  </style.css>; rel=preload; as=style, </app.js>");
    let promise_line = text.find("PUSH_PROMISE  /style.css");
    let final_line = text.find("200  /  52 bytes");
    assert!(
        hint_line.is_some() && promise_line.is_some() && final_line.is_some(),
        "{text}"
    );
    assert!(hint_line < final_line, "{text}");
    assert!(text.contains("pushed /app.js  200  40,000 bytes"), "{text}");
    assert!(
        text.contains("totals: 1 response, 2 pushes (40,021 bytes), 1 early hints"),
        "{text}"
    );

    let json: serde_json::Value = serde_json::from_str(&report.render_json()).unwrap();
    assert_eq!(json["totals"]["pushes"], 2);
    assert_eq!(json["exchanges"][0]["response"]["status"], 200);
    assert_eq!(json["exchanges"][0]["response"]["body_len"], 52);
    assert_eq!(json["exchanges"][0]["pushes"][1]["body_len"], 40_000);
    assert_eq!(
        json["exchanges"][0]["pushes"][1]["outcome"]["kind"],
        "completed"
    );
    assert_eq!(json["exchanges"][0]["informational"][0]["status"], 103);
    let links: Vec<&str> = json["exchanges"][0]["informational"][0]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pair| pair[0] == "link")
        .map(|pair| pair[1].as_str().unwrap())
        .collect();
    assert_eq!(links, hinted_page().links);
}

#[tokio::test]
async fn h2c_shows_early_hints_and_pushes() {
    let server = start(Mode::H2c, vec![hinted_page()]).await;
    let report = run(&options(&server, "http", "/")).await;
    assert_eq!(report.protocol, "h2c");
    assert_eq!(report.alpn, None);
    assert_eq!(report.tls_time, None);
    check_hinted_report(&report);
    assert!(report.render_text().contains("(h2c, prior knowledge)"));
}

#[tokio::test]
async fn tls_shows_early_hints_and_pushes() {
    let id = TlsIdentity::generate_dev().unwrap();
    let config = id.server_config(&[b"h2", b"http/1.1"]).unwrap();
    let server = start(Mode::Tls(config), vec![hinted_page()]).await;
    // Through the name in the certificate, connecting to the test server's address.
    let mut opts = options(&server, "https", "/");
    opts.url = format!("https://localhost:{}/", server.addr.port())
        .parse()
        .unwrap();
    opts.connect_to = Some(server.addr);
    let report = run(&opts).await;
    assert_eq!(report.protocol, "h2");
    assert_eq!(report.alpn.as_deref(), Some("h2"));
    assert_eq!(report.tls_version.as_deref(), Some("TLS 1.3"));
    assert!(report.tls_time.is_some());
    assert_eq!(report.peer, server.addr);
    check_hinted_report(&report);
    let text = report.render_text();
    assert!(
        text.contains(&format!("connected {} (TLS 1.3, ALPN h2)", server.addr)),
        "{text}"
    );
    // The request carried the URL's authority, not the connect-to address.
    let log = server.log();
    assert!(
        log.iter().any(|l| l.starts_with("request GET /")),
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hints_and_promises_are_never_lost_across_threads() {
    // The connection task runs on another worker, so 1xx and PUSH_PROMISE frames land while
    // the probe is polling; none may be skipped.
    let server = start(Mode::H2c, vec![hinted_page()]).await;
    for _ in 0..25 {
        check_hinted_report(&run(&options(&server, "http", "/")).await);
    }
    assert_eq!(server.connections(), 25);
}

#[tokio::test]
async fn disabled_push_is_refused_by_the_server() {
    let server = start(Mode::H2c, vec![hinted_page()]).await;
    let mut opts = options(&server, "http", "/");
    opts.enable_push = false;
    let report = run(&opts).await;
    let ex = &report.exchanges[0];
    assert!(ex.pushes.is_empty());
    assert_eq!(ex.informational.len(), 1);
    assert_eq!(ex.response.body, hinted_page().body);
    let log = server.wait_for_log("refused", 2).await;
    assert_eq!(
        log.iter().filter(|l| l.contains("refused")).count(),
        2,
        "{log:?}"
    );
    assert!(!log.iter().any(|l| l.contains("promised")), "{log:?}");
}

#[tokio::test]
async fn reset_pushes_cancels_them_and_the_connection_survives() {
    let mut page = hinted_page();
    page.hold_push_bodies = true;
    let server = start(Mode::H2c, vec![page, plain_page("/second", "two")]).await;
    let mut opts = options(&server, "http", "/");
    opts.reset_pushes = true;
    opts.extra_paths = vec!["/second".into()];
    let report = run(&opts).await;
    let ex = &report.exchanges[0];
    assert_eq!(ex.pushes.len(), 2);
    for push in &ex.pushes {
        assert_eq!(push.outcome, PushOutcome::ResetByClient);
        assert!(push.body.is_empty());
    }
    assert!(report.render_text().contains("reset by client (CANCEL)"));
    // The server saw RST_STREAM(CANCEL) on both pushed streams, and the second request on
    // the same connection still worked.
    let log = server.wait_for_log("reset CANCEL", 2).await;
    assert_eq!(
        log.iter().filter(|l| l.contains("reset CANCEL")).count(),
        2,
        "{log:?}"
    );
    assert_eq!(
        report.exchanges[1].response.body,
        Bytes::from_static(b"two")
    );
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn unfinished_pushes_time_out_and_are_cancelled() {
    let mut page = hinted_page();
    page.hold_push_bodies = true;
    let server = start(Mode::H2c, vec![page]).await;
    let mut opts = options(&server, "http", "/");
    opts.push_wait = Duration::from_millis(200);
    let started = std::time::Instant::now();
    let report = run(&opts).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    for push in &report.exchanges[0].pushes {
        assert_eq!(push.outcome, PushOutcome::TimedOut);
        assert_eq!(push.status, Some(http::StatusCode::OK)); // the headers did arrive
        assert!(push.finished_at >= report.exchanges[0].response.finished_at);
    }
    let log = server.wait_for_log("reset CANCEL", 2).await;
    assert_eq!(
        log.iter().filter(|l| l.contains("reset CANCEL")).count(),
        2,
        "{log:?}"
    );
}

#[tokio::test]
async fn extra_paths_reuse_one_connection() {
    let pages = vec![
        hinted_page(),
        plain_page("/a", "page a"),
        plain_page("/b", "page b"),
    ];
    let server = start(Mode::H2c, pages).await;
    let mut opts = options(&server, "http", "/");
    opts.extra_paths = vec!["/a".into(), "b".into(), "/missing?q=1".into()];
    let report = run(&opts).await;
    let paths: Vec<&str> = report.exchanges.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/", "/a", "/b", "/missing?q=1"]);
    assert_eq!(report.exchanges[1].response.body, "page a");
    assert_eq!(report.exchanges[2].response.body, "page b");
    assert_eq!(report.exchanges[3].response.status, 404);
    // Sequential: each request goes out after the previous response ended.
    for pair in report.exchanges.windows(2) {
        assert!(pair[0].response.finished_at <= pair[1].sent_at);
    }
    assert_eq!(report.totals().responses, 4);
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn request_headers_and_method_are_sent() {
    let server = start(Mode::H2c, vec![plain_page("/", "hi")]).await;
    let mut opts = options(&server, "http", "/");
    opts.headers = vec![
        (
            http::HeaderName::from_static("sec-fetch-mode"),
            http::HeaderValue::from_static("navigate"),
        ),
        (
            http::header::COOKIE,
            http::HeaderValue::from_static("session=1"),
        ),
    ];
    opts.method = http::Method::HEAD;
    let report = run(&opts).await;
    assert_eq!(report.exchanges[0].method, http::Method::HEAD);
    let log = server.log();
    let request = log.iter().find(|l| l.starts_with("request")).unwrap();
    assert!(request.starts_with("request HEAD / "), "{request}");
    assert!(request.contains("sec-fetch-mode=navigate"), "{request}");
    assert!(request.contains("cookie=session=1"), "{request}");
}

#[tokio::test]
async fn client_stream_limit_reaches_the_server() {
    // Only the setting is checked: with h2 0.4.20 on the server, a client refusing a push
    // that is queued behind this limit makes the server kill the connection (reported to the
    // server team), which is the server's problem, not the probe's.
    let server = start(Mode::H2c, vec![plain_page("/", "hi")]).await;
    let mut opts = options(&server, "http", "/");
    opts.max_concurrent_streams = Some(3);
    run(&opts).await;
    let log = server.log();
    assert!(log.iter().any(|l| l == "client stream limit 3"), "{log:?}");
}

#[tokio::test]
async fn page_without_extras_reports_nothing_extra() {
    let server = start(
        Mode::H2c,
        vec![Page {
            path: "/",
            ..Page::default()
        }],
    )
    .await;
    // Absurd durations must not overflow anything.
    let mut opts = options(&server, "http", "/");
    opts.timeout = Duration::MAX;
    opts.push_wait = Duration::MAX;
    let report = run(&opts).await;
    let ex = &report.exchanges[0];
    assert!(ex.informational.is_empty() && ex.pushes.is_empty());
    assert!(ex.response.body.is_empty());
    assert!(report
        .render_text()
        .contains("totals: 1 response, 0 pushes (0 bytes), 0 early hints"));
}
