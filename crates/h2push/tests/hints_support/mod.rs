//! Shared helpers for the `hints_*` integration tests: a site whose page references
//! resources of every kind, a server running a hint policy over it, and readers for what the
//! probe saw (promised paths, `Link` headers, metrics).
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use h2push::files::StaticFiles;
use h2push::hints::{parse_links, HintLayer, HintPolicy};
use h2push::probe::{probe, Exchange, ProbeOptions};
use http::{HeaderMap, HeaderName, HeaderValue};
use tower::Layer;

use crate::common::{self, TestServer};

/// The page: render-blocking resources in its head, and things that must not be hinted
/// (`defer` and module scripts are hinted: `hints::html`'s own tests cover them).
pub const INDEX: &str = r#"<!doctype html>
<html><head>
<meta charset="utf-8"><title>hints</title>
<link rel="stylesheet" href="/style.css">
<link rel="preload" href="/font.woff2" as="font" crossorigin>
<script src="/app.js"></script>
<script src="/async.js" async></script>
<script src="/nomodule.js" nomodule></script>
<link rel="stylesheet" href="/print.css" media="print">
</head>
<body>
<img src="/hero.png"><script src="/body.js"></script>
</body></html>
"#;

/// A second page sharing the stylesheet, with a script of its own.
pub const OTHER: &str = r#"<!doctype html><html><head>
<link rel="stylesheet" href="/style.css"><script src="/other.js"></script>
</head><body>other</body></html>
"#;

/// A page whose head references nothing (learning has to find its resources).
pub const BARE: &str = "<!doctype html><html><head><title>bare</title></head>\
<body><img src=\"/hero.png\"><script src=\"/body.js\"></script></body></html>\n";

pub struct HintSite {
    pub dir: tempfile::TempDir,
}

impl HintSite {
    pub fn new() -> HintSite {
        let dir = tempfile::tempdir().unwrap();
        let w = |name: &str, body: &[u8]| std::fs::write(dir.path().join(name), body).unwrap();
        w("index.html", INDEX.as_bytes());
        w("other.html", OTHER.as_bytes());
        w("bare.html", BARE.as_bytes());
        w("style.css", b"body { color: teal }\n");
        w("font.woff2", &[7u8; 300]);
        w("app.js", b"console.log('app');\n");
        w("other.js", b"console.log('other');\n");
        w("async.js", b"1;\n");
        w("nomodule.js", b"2;\n");
        w("body.js", b"3;\n");
        w("print.css", b"@media print {}\n");
        w("hero.png", &[1u8; 2000]);
        w("big.js", &[b'x'; 20_000]);
        HintSite { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn write(&self, name: &str, body: &str) {
        std::fs::write(self.dir.path().join(name), body).unwrap();
    }

    /// The site's files, rechecked against the disk on every request (tests edit them).
    /// The site's files, cacheable for a minute: the browser reuses what a hint fetched, so
    /// the policy announces them (see `uncacheable_files_are_pushed_but_not_announced`).
    pub fn files(&self) -> StaticFiles {
        self.files_with_cache_control("public, max-age=60")
    }

    pub fn files_with_cache_control(&self, value: &'static str) -> StaticFiles {
        StaticFiles::new(self.root())
            .unwrap()
            .revalidate_after(Duration::ZERO)
            .cache_control(Some(HeaderValue::from_static(value)))
    }
}

/// Serves the site's files under `policy` (given the same files).
pub async fn serve_files(site: &HintSite, policy: HintPolicy) -> TestServer {
    let files = site.files();
    let layer = HintLayer::new(policy.with_files(files.clone()));
    common::start(layer.layer(files)).await
}

/// Serves the site's files plus slow routes under `policy`: `/slow-page` answers after
/// 300 ms, `/slow.css` after 2 s (so that a client's reset of its push arrives first).
pub async fn serve_with_slow_routes(site: &HintSite, policy: HintPolicy) -> TestServer {
    let files = site.files();
    let app = Router::new()
        .route(
            "/slow-page",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                axum::response::Html("<!doctype html><p>slow</p>")
            }),
        )
        .route(
            "/slow.css",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                ([(http::header::CONTENT_TYPE, "text/css")], "p{}")
            }),
        )
        .fallback_service(files.clone());
    let layer = HintLayer::new(policy.with_files(files));
    common::start(layer.layer(app)).await
}

pub fn header(name: &'static str, value: &str) -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static(name),
        HeaderValue::from_str(value).unwrap(),
    )
}

pub fn navigate() -> (HeaderName, HeaderValue) {
    header("sec-fetch-mode", "navigate")
}

/// The paths promised during one exchange, in PUSH_PROMISE order.
pub fn promised(ex: &Exchange) -> Vec<String> {
    ex.pushes.iter().map(|p| p.promised_path.clone()).collect()
}

/// The `rel=preload` targets in a header map's `Link` fields, in order.
pub fn preload_targets(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(http::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_links)
        .filter(|l| l.has_rel("preload"))
        .map(|l| l.target)
        .collect()
}

/// The links of the exchange's first 103 (targets), or `None` if there was none.
pub fn early_hint_targets(ex: &Exchange) -> Option<Vec<String>> {
    let first = ex.informational.iter().find(|i| i.status == 103)?;
    Some(preload_targets(&first.headers))
}

/// The `name=value` pair of the response's `Set-Cookie` for the digest, ready to send back.
pub fn digest_cookie(ex: &Exchange) -> Option<String> {
    ex.response
        .headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("h2push_digest="))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// One probe of `path` with extra headers.
pub async fn fetch(
    srv: &TestServer,
    path: &str,
    headers: &[(HeaderName, HeaderValue)],
) -> Exchange {
    let opts = ProbeOptions {
        headers: headers.to_vec(),
        ..srv.opts(path)
    };
    let mut report = probe(&opts).await.unwrap();
    report.exchanges.remove(0)
}

/// The metrics page's text.
pub async fn metrics(srv: &TestServer) -> String {
    let ex = fetch(srv, "/metrics", &[]).await;
    assert_eq!(ex.response.status, 200);
    String::from_utf8(ex.response.body.to_vec()).unwrap()
}

/// The value of the sample `series` (name with labels, as printed) in a metrics page.
pub fn sample(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .trim()
        .parse()
        .unwrap()
}
