//! On-the-fly compression (`h2push::compress`) through a real server on loopback ports: what
//! is compressed and with which coding, what never is (identity, woff2/png, small files,
//! ranges, precompressed siblings, what an upstream compressed, event streams), ETags and
//! revalidation of compressed representations, and pushed responses.

mod common;
mod proxy_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder, ZstdDecoder};
use axum::body::Body as AxumBody;
use axum::routing::get;
use bytes::Bytes;
use h2push::hints::{Hint, HintLayer, HintPolicy, PushRule};
use h2push::probe::probe;
use h2push::proxy::Proxy;
use h2push::{CompressConfig, CompressionLayer, StaticFiles};
use http::{HeaderMap, Request, StatusCode};
use proxy_support::{axum_upstream, config, h2c, read_all};
use tokio::io::AsyncReadExt;
use tower::Layer;

/// Text that compresses well and is well above the 1 KiB floor.
fn html() -> String {
    let mut s = String::from("<!doctype html><title>compressed</title>\n");
    for i in 0..200 {
        s.push_str(&format!("<p class=row>row {i}: some repeated words</p>\n"));
    }
    s
}

fn json() -> String {
    let rows: Vec<String> = (0..200)
        .map(|i| format!("{{\"id\":{i},\"name\":\"item {i}\"}}"))
        .collect();
    format!("[{}]", rows.join(","))
}

fn css() -> String {
    ".rule { color: rebeccapurple; margin: 0 auto; }\n".repeat(60)
}

/// Bytes that look like an already-compressed file (they would shrink if compressed).
fn binary() -> Vec<u8> {
    vec![b'A'; 4096]
}

const SIBLING: &[u8] = b"PRECOMPRESSED-BROTLI-SIBLING";

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let w = |name: &str, data: &[u8]| std::fs::write(dir.path().join(name), data).unwrap();
    w("index.html", html().as_bytes());
    w("data.json", json().as_bytes());
    w("style.css", css().as_bytes());
    w("font.woff2", &binary());
    w("image.png", &binary());
    w("small.txt", b"too small to be worth it");
    w("pre.js", html().as_bytes());
    w("pre.js.br", SIBLING);
    dir
}

async fn server(dir: &tempfile::TempDir) -> common::TestServer {
    let files = StaticFiles::new(dir.path()).unwrap();
    let rule = PushRule::new("/", [Hint::new("/style.css")]);
    let hints = HintLayer::new(HintPolicy::with_rules([rule])).layer(files);
    common::start(CompressionLayer::new(CompressConfig::default()).layer(hints)).await
}

/// One GET over h2c with these headers: the head and the whole (raw) body.
async fn fetch(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (http::response::Parts, Vec<u8>) {
    let mut req = Request::get(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let (head, mut body) = h2c(addr, req.body(()).unwrap(), None).await;
    let data = read_all(&mut body).await.expect("whole body");
    (head, data)
}

async fn decode(coding: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "br" => BrotliDecoder::new(data).read_to_end(&mut out).await,
        "zstd" => ZstdDecoder::new(data).read_to_end(&mut out).await,
        "gzip" => GzipDecoder::new(data).read_to_end(&mut out).await,
        other => panic!("unexpected coding {other:?}"),
    }
    .unwrap_or_else(|e| panic!("{coding} body does not decode: {e}"));
    out
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap())
}

fn varies(h: &HeaderMap) -> bool {
    h.get_all("vary").iter().any(|v| {
        v.to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("accept-encoding")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_and_json_are_compressed_where_accepted() {
    let dir = site();
    let srv = server(&dir).await;
    let cases = [
        ("/index.html", "br", "br", html()),
        ("/index.html", "gzip, deflate", "gzip", html()),
        ("/data.json", "zstd", "zstd", json()),
        (
            "/data.json",
            "gzip;q=0.5, br;q=0.9, zstd;q=0.1",
            "br",
            json(),
        ),
        ("/data.json", "gzip, deflate, br, zstd", "br", json()),
    ];
    for (path, accept, want, original) in cases {
        let (head, body) = fetch(srv.plain, path, &[("accept-encoding", accept)]).await;
        assert_eq!(head.status, StatusCode::OK, "{path} {accept}: {head:?}");
        assert_eq!(
            header(&head.headers, "content-encoding"),
            Some(want),
            "{path} {accept}: {head:?}"
        );
        assert!(varies(&head.headers), "{path} {accept}: no Vary: {head:?}");
        assert!(head.headers.get("accept-ranges").is_none(), "{head:?}");
        assert!(
            body.len() < original.len() / 3,
            "{path} {accept}: {} of {} bytes",
            body.len(),
            original.len()
        );
        if let Some(len) = header(&head.headers, "content-length") {
            assert_eq!(len, body.len().to_string(), "{head:?}");
        }
        let decoded = decode(want, &body).await;
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            original,
            "{path} {accept}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_compressed_without_accept_encoding_or_with_identity() {
    let dir = site();
    let srv = server(&dir).await;
    let refusals: [&[(&str, &str)]; 5] = [
        &[],
        &[("accept-encoding", "identity")],
        &[("accept-encoding", "*;q=0")],
        &[("accept-encoding", "br;q=0, gzip;q=0, zstd;q=0, identity")],
        &[("accept-encoding", "deflate")],
    ];
    for headers in refusals {
        let (head, body) = fetch(srv.plain, "/index.html", headers).await;
        assert_eq!(head.status, StatusCode::OK, "{headers:?}: {head:?}");
        assert_eq!(
            header(&head.headers, "content-encoding"),
            None,
            "{headers:?}: {head:?}"
        );
        assert!(
            varies(&head.headers),
            "{headers:?}: the identity response varies too: {head:?}"
        );
        assert_eq!(String::from_utf8(body).unwrap(), html(), "{headers:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn woff2_png_and_small_files_are_not_compressed() {
    let dir = site();
    let srv = server(&dir).await;
    for (path, original) in [
        ("/font.woff2", binary()),
        ("/image.png", binary()),
        ("/small.txt", b"too small to be worth it".to_vec()),
    ] {
        let (head, body) = fetch(srv.plain, path, &[("accept-encoding", "br, gzip, zstd")]).await;
        assert_eq!(head.status, StatusCode::OK, "{path}: {head:?}");
        assert_eq!(
            header(&head.headers, "content-encoding"),
            None,
            "{path}: {head:?}"
        );
        assert_eq!(body, original, "{path}");
        assert_eq!(
            header(&head.headers, "content-length"),
            Some(&*original.len().to_string()),
            "{path}: {head:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_precompressed_sibling_is_still_preferred() {
    let dir = site();
    let srv = server(&dir).await;
    let (head, body) = fetch(
        srv.plain,
        "/pre.js",
        &[("accept-encoding", "gzip, br, zstd")],
    )
    .await;
    assert_eq!(
        header(&head.headers, "content-encoding"),
        Some("br"),
        "{head:?}"
    );
    assert_eq!(
        body, SIBLING,
        "the sibling's bytes, not compressed again: {body:?}"
    );
    // A coding the siblings lack is made on the fly.
    let (head, body) = fetch(srv.plain, "/pre.js", &[("accept-encoding", "zstd")]).await;
    assert_eq!(
        header(&head.headers, "content-encoding"),
        Some("zstd"),
        "{head:?}"
    );
    assert_eq!(decode("zstd", &body).await, html().as_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_requests_are_unaffected() {
    let dir = site();
    let srv = server(&dir).await;
    let (head, body) = fetch(
        srv.plain,
        "/index.html",
        &[("accept-encoding", "br, gzip"), ("range", "bytes=10-109")],
    )
    .await;
    assert_eq!(head.status, StatusCode::PARTIAL_CONTENT, "{head:?}");
    assert_eq!(header(&head.headers, "content-encoding"), None, "{head:?}");
    assert_eq!(body, &html().as_bytes()[10..110]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etags_differ_and_revalidate() {
    let dir = site();
    let srv = server(&dir).await;
    let (plain, _) = fetch(srv.plain, "/index.html", &[]).await;
    let (br, _) = fetch(srv.plain, "/index.html", &[("accept-encoding", "br")]).await;
    let (gz, _) = fetch(srv.plain, "/index.html", &[("accept-encoding", "gzip")]).await;
    let plain_tag = header(&plain.headers, "etag")
        .expect("identity etag")
        .to_owned();
    let br_tag = header(&br.headers, "etag").expect("br etag").to_owned();
    let gz_tag = header(&gz.headers, "etag").expect("gzip etag").to_owned();
    assert!(!plain_tag.starts_with("W/"), "{plain_tag}");
    assert_eq!(br_tag, format!("{}-br\"", plain_tag.trim_end_matches('"')));
    assert_eq!(
        gz_tag,
        format!("{}-gzip\"", plain_tag.trim_end_matches('"'))
    );

    // The compressed tag revalidates to a 304 that names it again.
    let (head, body) = fetch(
        srv.plain,
        "/index.html",
        &[("accept-encoding", "br"), ("if-none-match", &br_tag)],
    )
    .await;
    assert_eq!(head.status, StatusCode::NOT_MODIFIED, "{head:?}");
    assert_eq!(
        header(&head.headers, "etag"),
        Some(br_tag.as_str()),
        "{head:?}"
    );
    assert!(body.is_empty());
    // A br tag does not validate a gzip request: the full gzip response comes.
    let (head, body) = fetch(
        srv.plain,
        "/index.html",
        &[("accept-encoding", "gzip"), ("if-none-match", &br_tag)],
    )
    .await;
    assert_eq!(head.status, StatusCode::OK, "{head:?}");
    assert_eq!(
        header(&head.headers, "etag"),
        Some(gz_tag.as_str()),
        "{head:?}"
    );
    assert_eq!(decode("gzip", &body).await, html().as_bytes());
    // Nor does it validate an identity request.
    let (head, _) = fetch(srv.plain, "/index.html", &[("if-none-match", &br_tag)]).await;
    assert_eq!(head.status, StatusCode::OK, "{head:?}");
    assert_eq!(
        header(&head.headers, "etag"),
        Some(plain_tag.as_str()),
        "{head:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_responses_are_compressed_too() {
    let dir = site();
    let srv = server(&dir).await;
    let mut opts = srv.opts("/");
    opts.headers.push((
        http::header::ACCEPT_ENCODING,
        http::HeaderValue::from_static("br"),
    ));
    let report = probe(&opts).await.expect("probe");
    let ex = &report.exchanges[0];
    assert_eq!(
        header(&ex.response.headers, "content-encoding"),
        Some("br"),
        "{:?}",
        ex.response.headers
    );
    let pushed = ex
        .pushes
        .iter()
        .find(|p| p.promised_path == "/style.css")
        .unwrap_or_else(|| panic!("no push of /style.css: {:?}", ex.pushes));
    assert_eq!(
        header(&pushed.headers, "content-encoding"),
        Some("br"),
        "{:?}",
        pushed.headers
    );
    assert_eq!(decode("br", &pushed.body).await, css().as_bytes());
}

fn upstream_app() -> axum::Router {
    axum::Router::new()
        .route(
            "/api",
            get(|| async { ([("content-type", "application/json")], json()) }),
        )
        .route(
            "/already",
            get(|| async {
                (
                    [("content-type", "text/plain"), ("content-encoding", "gzip")],
                    binary(),
                )
            }),
        )
        .route(
            "/events",
            get(|| async {
                let stream = futures_util::stream::unfold(0u32, |n| async move {
                    if n == 3 {
                        return None;
                    }
                    if n > 0 {
                        tokio::time::sleep(Duration::from_millis(400)).await;
                    }
                    let event = format!("data: {n} {}\n\n", "x".repeat(2000));
                    Some((Ok::<_, std::io::Error>(Bytes::from(event)), n + 1))
                });
                (
                    [("content-type", "text/event-stream")],
                    AxumBody::from_stream(stream),
                )
            }),
        )
}

async fn proxy_server(up: &proxy_support::Upstream) -> common::TestServer {
    let proxy = Proxy::new(config(&up.url()));
    let svc = CompressionLayer::new(CompressConfig::default())
        .layer(HintLayer::new(HintPolicy::default()).layer(proxy));
    common::start(svc).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxied_responses_are_compressed_unless_the_upstream_did() {
    let up = axum_upstream(upstream_app()).await;
    let srv = proxy_server(&up).await;
    let (head, body) = fetch(srv.plain, "/api", &[("accept-encoding", "gzip, br")]).await;
    assert_eq!(head.status, StatusCode::OK, "{head:?}");
    assert_eq!(
        header(&head.headers, "content-encoding"),
        Some("br"),
        "{head:?}"
    );
    assert_eq!(decode("br", &body).await, json().as_bytes());

    let (head, body) = fetch(srv.plain, "/already", &[("accept-encoding", "br")]).await;
    assert_eq!(
        header(&head.headers, "content-encoding"),
        Some("gzip"),
        "{head:?}"
    );
    assert_eq!(body, binary(), "the upstream's bytes, untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxied_sse_arrives_event_by_event_uncompressed() {
    let up = axum_upstream(upstream_app()).await;
    let srv = proxy_server(&up).await;
    let req = Request::get(format!("http://{}/events", srv.plain))
        .header("accept-encoding", "br, gzip, zstd")
        .body(())
        .unwrap();
    let (head, mut body) = h2c(srv.plain, req, None).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(header(&head.headers, "content-encoding"), None, "{head:?}");
    let start = Instant::now();
    let mut got: Vec<(Duration, Vec<u8>)> = Vec::new();
    let mut pending = Vec::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(5), body.data())
        .await
        .expect("next chunk in time")
    {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        pending.extend_from_slice(&chunk);
        // An event may come in several DATA frames: note when each one is complete.
        while let Some(end) = pending.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = pending.drain(..end + 2).collect();
            got.push((start.elapsed(), event));
        }
    }
    let starts: Vec<String> = got
        .iter()
        .map(|(_, e)| String::from_utf8_lossy(&e[..8.min(e.len())]).into_owned())
        .collect();
    assert_eq!(starts, ["data: 0 ", "data: 1 ", "data: 2 "], "{starts:?}");
    for w in got.windows(2) {
        assert!(
            w[1].0 - w[0].0 >= Duration::from_millis(250),
            "events bunched: {:?}",
            got.iter().map(|g| g.0).collect::<Vec<_>>()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_announces_what_get_sends() {
    let dir = site();
    let srv = server(&dir).await;
    let req = Request::head(format!("http://{}/index.html", srv.plain))
        .header("accept-encoding", "br")
        .body(())
        .unwrap();
    let (head, mut body) = h2c(srv.plain, req, None).await;
    assert_eq!(head.status, StatusCode::OK, "{head:?}");
    assert_eq!(
        header(&head.headers, "content-encoding"),
        Some("br"),
        "{head:?}"
    );
    assert_eq!(
        header(&head.headers, "content-length"),
        None,
        "identity length kept: {head:?}"
    );
    assert!(
        header(&head.headers, "etag").is_some_and(|t| t.ends_with("-br\"")),
        "{head:?}"
    );
    assert!(read_all(&mut body).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_layer_changes_nothing() {
    let dir = site();
    let files = StaticFiles::new(dir.path()).unwrap();
    let srv = common::start(CompressionLayer::new(CompressConfig::disabled()).layer(files)).await;
    let (head, body) = fetch(srv.plain, "/index.html", &[("accept-encoding", "br, gzip")]).await;
    assert_eq!(header(&head.headers, "content-encoding"), None, "{head:?}");
    assert!(!varies(&head.headers), "{head:?}");
    assert_eq!(body, html().as_bytes());
}
