//! 103 Early Hints (RFC 8297) over HTTP/2, and their HTTP/1.1 fallback into `Link`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body as AxumBody;
use axum::routing::get;
use axum::{Extension, Router};
use bytes::Bytes;
use common::Site;
use h2push::files::StaticFiles;
use h2push::hints::{Hint, HintLayer, HintPolicy, PushRule};
use h2push::probe::probe;
use h2push::{EarlyHints, EarlyHintsError};
use http::{HeaderName, HeaderValue, StatusCode};
use tower::Layer;

const LINKS: [&str; 2] = [
    "</style.css>; rel=preload; as=style",
    "</app.js>; rel=preload; as=script",
];

fn hinted_site(site: &Site) -> impl h2push::HttpService {
    let rule = PushRule::new("/", [Hint::new("/style.css"), Hint::new("/app.js")]);
    HintLayer::new(HintPolicy::with_rules([rule])).layer(StaticFiles::new(site.root()).unwrap())
}

fn navigate() -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static("sec-fetch-mode"),
        HeaderValue::from_static("navigate"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_103_with_the_configured_links_arrives_before_the_200() {
    let site = Site::new();
    let srv = common::start(hinted_site(&site)).await;
    let mut opts = srv.opts("/");
    opts.headers = vec![navigate()];
    let report = probe(&opts).await.unwrap();
    let ex = &report.exchanges[0];
    assert_eq!(ex.informational.len(), 1, "{:?}", ex.informational);
    let hint = &ex.informational[0];
    assert_eq!(hint.status, StatusCode::EARLY_HINTS);
    assert_eq!(hint.links(), LINKS);
    assert!(hint.at <= ex.response.head_at);
    assert_eq!(ex.response.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_html_without_sec_fetch_counts_as_a_navigation() {
    let site = Site::new();
    let srv = common::start(hinted_site(&site)).await;
    let mut opts = srv.opts("/");
    opts.headers = vec![(
        http::header::ACCEPT,
        HeaderValue::from_static("text/html,application/xhtml+xml,*/*;q=0.8"),
    )];
    let report = probe(&opts).await.unwrap();
    assert_eq!(report.exchanges[0].informational.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_103_for_requests_that_are_not_navigations() {
    let site = Site::new();
    let srv = common::start(hinted_site(&site)).await;
    let mut opts = srv.opts("/");
    opts.headers = vec![(
        HeaderName::from_static("sec-fetch-mode"),
        HeaderValue::from_static("no-cors"),
    )];
    let report = probe(&opts).await.unwrap();
    assert!(report.exchanges[0].informational.is_empty());
    // The pushes still happen: they do not depend on the request being a navigation.
    assert_eq!(report.exchanges[0].pushes.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_gets_the_hints_as_link_headers_on_the_final_response() {
    let site = Site::new();
    let srv = common::start(hinted_site(&site)).await;
    let req = "GET / HTTP/1.1\r\nHost: x\r\nSec-Fetch-Mode: navigate\r\nConnection: close\r\n\r\n";
    let (status, text) = common::raw_http1(srv.plain, req.as_bytes()).await;
    assert_eq!(status, 200);
    // No interim response: no status line but the final one (an ETag may well contain "103").
    let status_lines = text.lines().filter(|l| l.starts_with("HTTP/")).count();
    assert_eq!(status_lines, 1, "{text}");
    for link in LINKS {
        assert!(text.contains(&format!("link: {link}")), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_103_after_the_final_head_is_refused() {
    let seen: Arc<Mutex<Option<Result<(), EarlyHintsError>>>> = Arc::default();
    let s = seen.clone();
    let app = Router::new().route(
        "/",
        get(move |Extension(hints): Extension<EarlyHints>| {
            let s = s.clone();
            async move {
                let first = hints.send([HeaderValue::from_static(LINKS[0])]);
                assert_eq!(first, Ok(()));
                // The head goes out as soon as this handler returns; the body comes later.
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    *s.lock().unwrap() = Some(hints.send([HeaderValue::from_static(LINKS[1])]));
                });
                let slow = futures_util::stream::once(async {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Ok::<_, std::convert::Infallible>(Bytes::from_static(b"done"))
                });
                AxumBody::from_stream(slow)
            }
        }),
    );
    let srv = common::start(app).await;
    let report = probe(&srv.opts("/")).await.unwrap();
    let ex = &report.exchanges[0];
    assert_eq!(ex.informational.len(), 1);
    assert_eq!(&ex.response.body[..], b"done");
    assert_eq!(*seen.lock().unwrap(), Some(Err(EarlyHintsError::HeadSent)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policys_and_the_applications_hints_share_one_103() {
    // Chromium acts on the first 103 only: what the application hints before it first waits
    // (a proxy's remembered hints, say) joins the policy's in that one 103; what it hints
    // after waiting goes out on its own.
    let app = Router::new().route(
        "/",
        get(|Extension(hints): Extension<EarlyHints>| async move {
            hints
                .send([
                    HeaderValue::from_static("</app.js>; rel=preload; as=script; crossorigin"),
                    HeaderValue::from_static("</more.css>; rel=preload; as=style"),
                ])
                .unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            hints
                .send([HeaderValue::from_static(
                    "</late.png>; rel=preload; as=image",
                )])
                .unwrap();
            "page"
        }),
    );
    let rule = PushRule::new("/", [Hint::new("/style.css"), Hint::new("/app.js")]);
    let srv = common::start(HintLayer::new(HintPolicy::with_rules([rule])).layer(app)).await;
    let mut opts = srv.opts("/");
    opts.headers = vec![navigate()];
    let report = probe(&opts).await.unwrap();
    let ex = &report.exchanges[0];
    let all: Vec<Vec<String>> = ex.informational.iter().map(|i| i.links()).collect();
    assert_eq!(
        all,
        [
            // One link per target, the policy's first.
            vec![
                LINKS[0].to_owned(),
                LINKS[1].to_owned(),
                "</more.css>; rel=preload; as=style".to_owned(),
            ],
            vec!["</late.png>; rel=preload; as=image".to_owned()],
        ],
        "{ex:#?}"
    );
}
