//! Where hints come from and where they go, over real HTTP/2 (and HTTP/1.1) connections:
//! HTML scanning, learning from `Referer`, the 103 to navigations only, the final response's
//! `Link: rel=preload`, each output's switch, and the access log.

mod common;
mod hints_support;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use h2push::hints::{Hint, HintLayer, HintPolicy, LearnMode, PushRule};
use h2push::probe::probe;
use hints_support::*;
use tower::Layer;

const HEAD_HINTS: [&str; 3] = ["/style.css", "/font.woff2", "/app.js"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_scan_finds_render_blocking_resources_and_ignores_async_nomodule_and_body() {
    let site = HintSite::new();
    let srv = serve_files(&site, HintPolicy::default()).await;
    let ex = fetch(&srv, "/", &[navigate()]).await;
    assert_eq!(early_hint_targets(&ex).unwrap(), HEAD_HINTS);
    assert_eq!(promised(&ex), HEAD_HINTS);
    assert_eq!(preload_targets(&ex.response.headers), HEAD_HINTS);
    let links = ex.informational[0].links();
    assert_eq!(
        links,
        [
            "</style.css>; rel=preload; as=style",
            "</font.woff2>; rel=preload; as=font; crossorigin",
            "</app.js>; rel=preload; as=script",
        ]
    );
    for p in &ex.pushes {
        let want = std::fs::read(site.root().join(&p.promised_path[1..])).unwrap();
        assert_eq!(&p.body[..], &want[..], "{}", p.promised_path);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_scan_follows_edits_of_the_page() {
    let site = HintSite::new();
    let srv = serve_files(&site, HintPolicy::default()).await;
    assert_eq!(
        promised(&fetch(&srv, "/other.html", &[]).await),
        ["/style.css", "/other.js"]
    );
    site.write(
        "other.html",
        "<!doctype html><head><script src=/app.js></script></head><body>edited, longer</body>",
    );
    assert_eq!(
        promised(&fetch(&srv, "/other.html", &[]).await),
        ["/app.js"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_103_goes_to_navigations_only() {
    let site = HintSite::new();
    let srv = serve_files(&site, HintPolicy::default()).await;
    let accept_html = header("accept", "text/html,application/xhtml+xml,*/*;q=0.8");
    let cases = [
        (vec![navigate()], true),
        (vec![accept_html.clone()], true),
        (vec![], false),
        (
            vec![header("sec-fetch-mode", "no-cors"), accept_html.clone()],
            false,
        ),
        (
            vec![header("sec-fetch-mode", "cors"), header("accept", "*/*")],
            false,
        ),
    ];
    for (headers, navigation) in cases {
        let ex = fetch(&srv, "/", &headers).await;
        assert_eq!(
            ex.informational.len(),
            usize::from(navigation),
            "{headers:?}"
        );
        // Pushes and the preload header do not depend on it.
        assert_eq!(promised(&ex), HEAD_HINTS, "{headers:?}");
        assert_eq!(
            preload_targets(&ex.response.headers),
            HEAD_HINTS,
            "{headers:?}"
        );
    }
    // Neither a HEAD request nor a sub-resource gets one.
    let mut opts = srv.opts("/");
    opts.method = http::Method::HEAD;
    opts.headers = vec![navigate()];
    assert!(probe(&opts).await.unwrap().exchanges[0]
        .informational
        .is_empty());
    assert!(fetch(&srv, "/style.css", &[navigate()])
        .await
        .informational
        .is_empty());
}

/// Browsers refuse push; once the connection knows it, every later navigation on it must
/// still get its 103 (and its `Link` header).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_refuses_push_gets_a_103_on_every_navigation() {
    let site = HintSite::new();
    let srv = serve_files(&site, HintPolicy::default()).await;
    let mut opts = srv.opts("/");
    opts.enable_push = false;
    opts.headers = vec![navigate()];
    opts.extra_paths = vec!["/other.html".into(), "/".into()];
    let report = probe(&opts).await.unwrap();
    for ex in &report.exchanges {
        assert!(ex.pushes.is_empty(), "{}", ex.path);
        let hinted = early_hint_targets(ex).unwrap_or_else(|| panic!("no 103 for {}", ex.path));
        assert_eq!(hinted, preload_targets(&ex.response.headers), "{}", ex.path);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preload_header_holds_the_announced_hints_and_no_push_only_ones() {
    let site = HintSite::new();
    let rule = PushRule::new(
        "/bare.html",
        [
            Hint::new("/app.js").push_only(),
            Hint::new("/style.css"),
            Hint::new("/hero.png").hint_only(),
        ],
    );
    let srv = serve_files(&site, HintPolicy::with_rules([rule])).await;
    let ex = fetch(&srv, "/bare.html", &[navigate()]).await;
    assert_eq!(promised(&ex), ["/style.css", "/app.js"]);
    assert_eq!(
        early_hint_targets(&ex).unwrap(),
        ["/style.css", "/hero.png"]
    );
    assert_eq!(
        preload_targets(&ex.response.headers),
        ["/style.css", "/hero.png"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_output_can_be_switched_off() {
    let site = HintSite::new();
    for (push, early, preload) in [
        (false, true, true),
        (true, false, true),
        (true, true, false),
    ] {
        let mut policy = HintPolicy::default();
        policy.push_rules = push;
        policy.early_hints = early;
        policy.preload_header = preload;
        let srv = serve_files(&site, policy).await;
        let ex = fetch(&srv, "/", &[navigate()]).await;
        let case = format!("push {push}, 103 {early}, preload {preload}");
        assert_eq!(promised(&ex).len(), if push { 3 } else { 0 }, "{case}");
        assert_eq!(ex.informational.len(), usize::from(early), "{case}");
        let preloads = preload_targets(&ex.response.headers).len();
        assert_eq!(preloads, if preload { 3 } else { 0 }, "{case}");
    }
    let mut policy = HintPolicy::default();
    policy.html_scan = false;
    let srv = serve_files(&site, policy).await;
    let ex = fetch(&srv, "/", &[navigate()]).await;
    assert!(ex.pushes.is_empty() && ex.informational.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learns_a_static_pages_sub_resources_from_referer() {
    let site = HintSite::new();
    let srv = serve_files(&site, HintPolicy::default()).await;
    // bare.html's head references nothing; its body an image and a script.
    let first = fetch(&srv, "/bare.html", &[navigate()]).await;
    assert!(first.informational.is_empty() && first.pushes.is_empty());
    learn_from_browser(&srv, "/bare.html").await;
    let later = fetch(&srv, "/bare.html", &[navigate()]).await;
    let learned = ["/body.js", "/hero.png"];
    assert_eq!(early_hint_targets(&later).unwrap(), learned);
    assert_eq!(promised(&later), learned);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_routes_learn_only_what_any_visitor_gets_unless_asked() {
    let site = HintSite::new();
    // The script is one user's (`Cache-Control: private`); the image anyone's.
    let (hero, script) = ("/hero.png".to_owned(), "/body.js".to_owned());
    for (mode, after_one, after_two) in [
        (LearnMode::Static, vec![], vec![]),
        (LearnMode::Shared, vec![], vec![hero.clone()]),
        (
            LearnMode::All,
            vec![script.clone(), hero.clone()],
            vec![script.clone(), hero.clone()],
        ),
        (LearnMode::Off, vec![], vec![]),
    ] {
        let app = Router::new()
            .route(
                "/dyn",
                get(|| async { axum::response::Html("<body><img src=/hero.png>") }),
            )
            .route(
                "/body.js",
                get(|| async { ([("cache-control", "private, max-age=60")], "mine()") }),
            )
            .fallback_service(site.files());
        let mut policy = HintPolicy::default().with_files(site.files());
        policy.learn.mode = mode;
        let srv = common::start(HintLayer::new(policy).layer(app)).await;
        // Each browse is a new connection: a second visitor confirms the first.
        for (visits, expected) in [(1, after_one), (2, after_two)] {
            learn_from_browser(&srv, "/dyn").await;
            let later = fetch(&srv, "/dyn", &[navigate()]).await;
            let hinted = early_hint_targets(&later).unwrap_or_default();
            assert_eq!(hinted, expected, "{mode:?}, 103 after {visits} visit(s)");
            assert_eq!(
                promised(&later),
                expected,
                "{mode:?}, pushes after {visits}"
            );
        }
    }
    // Static pages are not learned either when learning is off.
    let mut policy = HintPolicy::default();
    policy.learn.mode = LearnMode::Off;
    let srv = serve_files(&site, policy).await;
    fetch(&srv, "/bare.html", &[navigate()]).await;
    learn_from_browser(&srv, "/bare.html").await;
    assert!(fetch(&srv, "/bare.html", &[navigate()])
        .await
        .pushes
        .is_empty());
}

/// What a browser does when it loads `page`: navigate to it, then fetch its body's image
/// and script with `Referer` naming the page, all on one connection (learning is per
/// connection).
async fn learn_from_browser(srv: &common::TestServer, page: &str) {
    let subresources = [("/hero.png", "image"), ("/body.js", "script")];
    let texts = browse(srv, page, &subresources).await;
    assert!(
        texts.iter().all(|t| t.starts_with("HTTP/1.1 200")),
        "{texts:?}"
    );
}

/// Navigates to `page`, then requests each `(path, destination)` as its sub-resource
/// (`Sec-Fetch-Mode: no-cors`, `Referer` naming the page), pipelined on one plaintext
/// HTTP/1.1 connection; returns each response's status line and headers.
async fn browse(
    srv: &common::TestServer,
    page: &str,
    subresources: &[(&str, &str)],
) -> Vec<String> {
    let host = format!("127.0.0.1:{}", srv.plain.port());
    let mut req = format!(
        "GET {page} HTTP/1.1\r\nHost: {host}\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Dest: document\r\n\r\n"
    );
    for (i, (path, dest)) in subresources.iter().enumerate() {
        let close = if i + 1 == subresources.len() {
            "Connection: close\r\n"
        } else {
            ""
        };
        req.push_str(&format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nReferer: http://{host}{page}\r\n\
             Sec-Fetch-Mode: no-cors\r\nSec-Fetch-Dest: {dest}\r\n{close}\r\n"
        ));
    }
    let (_, text) = common::raw_http1(srv.plain, req.as_bytes()).await;
    let heads: Vec<String> = text
        .split("HTTP/1.1 ")
        .skip(1)
        .map(|r| format!("HTTP/1.1 {}", r.split("\r\n\r\n").next().unwrap_or("")))
        .collect();
    assert_eq!(heads.len(), subresources.len() + 1, "{text}");
    heads
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learning_needs_the_navigations_connection() {
    // Sub-resource requests with the right Referer, but on another connection than the
    // navigation (as another user behind the same NAT address would make them).
    let site = HintSite::new();
    let srv = serve_files(&site, HintPolicy::default()).await;
    fetch(&srv, "/bare.html", &[navigate()]).await;
    let referer = format!("https://127.0.0.1:{}/bare.html", srv.tls.port());
    let mut opts = srv.opts("/hero.png");
    opts.headers = vec![
        header("referer", &referer),
        header("sec-fetch-mode", "no-cors"),
    ];
    assert_eq!(
        probe(&opts).await.unwrap().exchanges[0].response.status,
        200
    );
    let later = fetch(&srv, "/bare.html", &[navigate()]).await;
    assert!(later.informational.is_empty(), "{:?}", later.informational);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hint_the_browser_fetches_twice_is_dropped_for_the_page() {
    let site = HintSite::new();
    let srv = serve_files(&site, HintPolicy::default()).await;
    // A browser that cannot use the preload of /app.js: it fetches it twice.
    let texts = browse(&srv, "/", &[("/app.js", "script"), ("/app.js", "script")]).await;
    assert!(
        texts[0].to_ascii_lowercase().contains("link: </app.js>"),
        "{texts:?}"
    );
    let later = fetch(&srv, "/", &[navigate()]).await;
    assert_eq!(
        early_hint_targets(&later).unwrap(),
        ["/style.css", "/font.woff2"]
    );
    // Fetched once (the preload was used): kept.
    let texts = browse(&srv, "/other.html", &[("/other.js", "script")]).await;
    assert_eq!(texts.len(), 2);
    let other = fetch(&srv, "/other.html", &[navigate()]).await;
    assert_eq!(
        early_hint_targets(&other).unwrap(),
        ["/style.css", "/other.js"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_clients_get_the_hints_once_in_link() {
    let site = HintSite::new();
    let srv = serve_files(&site, HintPolicy::default()).await;
    let req = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\nConnection: close\r\n\r\n";
    let (status, text) = common::raw_http1(srv.plain, req.as_bytes()).await;
    assert_eq!(status, 200);
    let head = text.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
    for path in HEAD_HINTS {
        assert_eq!(
            head.matches(&format!("link: <{path}>")).count(),
            1,
            "{path} in\n{head}"
        );
    }
}

/// Captures the access log (the process's one global subscriber).
fn access_log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let writer = move || Sink(sink.clone());
        tracing_subscriber::fmt()
            .with_env_filter("h2push::access=info")
            .with_writer(writer)
            .with_ansi(false)
            .init();
        buf
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_shows_what_was_pushed_and_hinted() {
    let log = access_log();
    let site = HintSite::new();
    let srv = serve_files(&site, HintPolicy::default()).await;
    fetch(&srv, "/?log-me", &[navigate()]).await;
    let want =
        "pushed=/style.css,/font.woff2,/app.js early_hints=1 hinted=/style.css,/font.woff2,/app.js";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
        if let Some(line) = text.lines().find(|l| l.contains("GET /?log-me 200")) {
            assert!(line.ends_with(want), "{line}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no log line in\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncacheable_files_are_pushed_but_not_announced() {
    // With `no-cache` the page's own request revalidates what a 103 fetched: a second request
    // and a round trip. Such files are pushed, but never announced.
    let site = HintSite::new();
    let files = site.files_with_cache_control("no-cache");
    let layer = HintLayer::new(HintPolicy::default().with_files(files.clone()));
    let srv = common::start(layer.layer(files)).await;
    let ex = fetch(&srv, "/", &[navigate()]).await;
    assert!(ex.informational.is_empty(), "{:?}", ex.informational);
    assert!(
        preload_targets(&ex.response.headers).is_empty(),
        "{:?}",
        ex.response.headers
    );
    assert_eq!(promised(&ex), HEAD_HINTS);
}
