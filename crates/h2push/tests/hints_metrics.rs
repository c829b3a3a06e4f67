//! The policy's Prometheus metrics, counted over real connections: one server, one scenario
//! per counter, and the page at the opt-in path.

mod common;
mod hints_support;

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use h2push::hints::{Hint, HintLayer, HintPolicy, PushRule};
use h2push::probe::probe;
use hints_support::*;
use tower::Layer;

/// Body bytes of the three resources in `/`'s head (style.css, font.woff2, app.js).
const HEAD_BYTES: u64 = 21 + 300 + 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_each_case() {
    let site = HintSite::new();
    let files = site.files();
    let app = Router::new()
        .route(
            "/slow-page",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                axum::response::Html("<p>slow</p>")
            }),
        )
        .route(
            "/slow.css",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                "p{}"
            }),
        )
        .fallback_service(files.clone());
    let mut policy = HintPolicy::with_rules([
        PushRule::new("/slow-page", [Hint::new("/slow.css")]),
        PushRule::new(
            "/bare.html",
            [Hint::new("/slow.css?a"), Hint::new("/slow.css?b")],
        ),
    ])
    .with_files(files);
    policy.metrics_path = Some("/metrics".into());
    let layer = HintLayer::new(policy);
    let handle = layer.metrics();
    let srv = common::start(layer.layer(app)).await;

    // Promised, pushed bytes, a 103.
    let first = fetch(&srv, "/", &[navigate()]).await;
    assert_eq!(promised(&first).len(), 3);
    let cookie = digest_cookie(&first).unwrap();
    // Refused by the client's SETTINGS_ENABLE_PUSH = 0.
    let mut opts = srv.opts("/");
    opts.enable_push = false;
    assert!(probe(&opts).await.unwrap().exchanges[0].pushes.is_empty());
    // Skipped by the diary: the same page twice on one connection.
    let mut opts = srv.opts("/");
    opts.extra_paths = vec!["/".into()];
    let report = probe(&opts).await.unwrap();
    assert_eq!(promised(&report.exchanges[0]).len(), 3);
    // Skipped by the digest: a repeat visit with the cookie.
    assert!(fetch(&srv, "/", &[header("cookie", &cookie)])
        .await
        .pushes
        .is_empty());
    // Cancelled by the client.
    let mut opts = srv.opts("/slow-page");
    opts.reset_pushes = true;
    probe(&opts).await.unwrap();
    // Refused by the client's SETTINGS_MAX_CONCURRENT_STREAMS = 1 (the first push takes 2 s;
    // the probe gives up on it after its push wait, which cancels it too).
    let mut opts = srv.opts("/bare.html");
    opts.max_concurrent_streams = Some(1);
    assert_eq!(
        promised(&probe(&opts).await.unwrap().exchanges[0]),
        ["/slow.css?a"]
    );
    // Requests by protocol.
    let report = probe(&srv.opts_h2c("/style.css")).await.unwrap();
    assert_eq!(report.protocol, "h2c");
    let (status, _) = common::get_http1(srv.plain, "/style.css").await;
    assert_eq!(status, 200);

    // Resets reach the server asynchronously: wait (bounded) for the second cancel.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while sample(&handle.render(), "h2push_pushes_cancelled_total") < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}",
            handle.render()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let m = metrics(&srv).await;
    let expect = [
        // a, b, c (two), d, e, f, and this scrape.
        ("h2push_requests_total{protocol=\"h2\"}", 8),
        ("h2push_requests_total{protocol=\"h2c\"}", 1),
        ("h2push_requests_total{protocol=\"http/1.1\"}", 1),
        ("h2push_pushes_promised_total", 3 + 3 + 1 + 1),
        ("h2push_pushes_refused_total{setting=\"enable_push\"}", 3),
        (
            "h2push_pushes_refused_total{setting=\"max_concurrent_streams\"}",
            1,
        ),
        ("h2push_pushes_cancelled_total", 2),
        ("h2push_pushes_skipped_total{reason=\"diary\"}", 3),
        ("h2push_pushes_skipped_total{reason=\"digest\"}", 3),
        ("h2push_pushes_skipped_total{reason=\"cancelled\"}", 0),
        ("h2push_pushes_skipped_total{reason=\"budget\"}", 0),
        ("h2push_pushes_skipped_total{reason=\"conditional\"}", 0),
        ("h2push_pushed_bytes_total", 2 * HEAD_BYTES),
        ("h2push_early_hints_total", 1),
        ("h2push_hints_total{source=\"html\"}", 5 * 3),
        ("h2push_hints_total{source=\"rule\"}", 1 + 2),
    ];
    for (series, want) in expect {
        assert_eq!(sample(&m, series), want, "{series} in\n{m}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_page_is_opt_in_and_openmetrics() {
    let site = HintSite::new();
    let srv = serve_files(&site, HintPolicy::default()).await;
    assert_eq!(fetch(&srv, "/metrics", &[]).await.response.status, 404);

    let mut policy = HintPolicy::default();
    policy.metrics_path = Some("/_/metrics".into());
    let srv = serve_files(&site, policy).await;
    let ex = fetch(&srv, "/_/metrics", &[]).await;
    assert_eq!(ex.response.status, 200);
    let ct = ex.response.headers["content-type"].to_str().unwrap();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    assert_eq!(ex.response.headers["cache-control"], "no-store");
    let text = String::from_utf8(ex.response.body.to_vec()).unwrap();
    assert!(
        text.contains("# TYPE h2push_pushes_promised counter"),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"));
}
