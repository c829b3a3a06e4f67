//! The reverse proxy against real upstreams on loopback: an axum app and a scripted raw TCP
//! upstream. Headers, hints (push, 103, remembered routes), streaming, large bodies, errors.

mod common;
mod proxy_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::body::Body as AxumBody;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use h2push::files::StaticFiles;
use h2push::probe::probe;
use h2push::proxy::{HostHeader, Proxy, ProxyRoutes};
use http::{HeaderValue, Request, StatusCode};
use proxy_support::*;

const LINK: &str =
    "</static/style.css>; rel=preload; as=style, </static/app.js>; rel=preload; as=script";
const CSS: &str = "body { color: teal }\n";
const JS: &str = "console.log('up');\n";
const BIG: usize = 8 << 20;

fn big_body() -> Vec<u8> {
    (0..BIG).map(|i| (i * 7 % 251) as u8).collect()
}

fn app() -> Router {
    Router::new()
        .route(
            "/",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                (
                    [("link", LINK), ("content-type", "text/html")],
                    "<!doctype html>index\n",
                )
            }),
        )
        .route(
            "/static/style.css",
            get(|| async { ([("content-type", "text/css")], CSS) }),
        )
        .route(
            "/static/app.js",
            get(|| async { ([("content-type", "text/javascript")], JS) }),
        )
        .route(
            "/echo",
            get(|headers: HeaderMap| async move {
                let map: BTreeMap<String, String> = headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("?").to_owned()))
                    .collect();
                serde_json::to_string(&map).unwrap()
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
                    Some((
                        Ok::<_, std::io::Error>(Bytes::from(format!("data: {n}\n\n"))),
                        n + 1,
                    ))
                });
                (
                    [("content-type", "text/event-stream")],
                    AxumBody::from_stream(stream),
                )
            }),
        )
        .route("/big", get(|| async { big_body() }))
        .route(
            "/upload",
            post(|body: Bytes| async move { format!("{} {}", body.len(), hex(&sha256(&body))) }),
        )
        .layer(axum::extract::DefaultBodyLimit::disable())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_preload_links_are_pushed_through_the_proxy() {
    let up = axum_upstream(app()).await;
    let srv = proxy_server(config(&up.url())).await;
    let report = probe(&srv.opts("/")).await.unwrap();
    let ex = &report.exchanges[0];
    assert_eq!(ex.response.status, StatusCode::OK);
    assert_eq!(&ex.response.body[..], b"<!doctype html>index\n");
    let promised: Vec<&str> = ex.pushes.iter().map(|p| p.promised_path.as_str()).collect();
    assert_eq!(promised, ["/static/style.css", "/static/app.js"]);
    for (p, want) in ex.pushes.iter().zip([CSS, JS]) {
        assert_eq!(p.status, Some(StatusCode::OK), "{}", p.promised_path);
        assert_eq!(
            &p.body[..],
            want.as_bytes(),
            "pushed body comes from the upstream"
        );
        assert!(p.promised_at <= ex.response.head_at);
    }
    // The client still gets the Link header for its own preloading.
    assert!(ex.response.headers.get("link").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remembered_route_hints_go_out_before_the_upstream_answers() {
    let up = axum_upstream(app()).await;
    let srv = proxy_server(config(&up.url())).await;
    let mut opts = srv.opts("/");
    opts.headers = vec![(
        "sec-fetch-mode".parse().unwrap(),
        HeaderValue::from_static("navigate"),
    )];
    // The first request teaches the proxy the route's hints.
    let first = probe(&opts).await.unwrap();
    assert!(first.exchanges[0].informational.is_empty());
    let second = probe(&opts).await.unwrap();
    let ex = &second.exchanges[0];
    assert_eq!(
        ex.informational.len(),
        1,
        "one 103 from the remembered hints"
    );
    let info = &ex.informational[0];
    assert_eq!(info.status, StatusCode::EARLY_HINTS);
    let links = info.links().join(", ");
    assert!(
        links.contains("</static/style.css>") && links.contains("</static/app.js>"),
        "{links}"
    );
    // The upstream thinks for 300 ms; the 103 and pushes must not wait for it.
    assert!(
        info.at + Duration::from_millis(200) < ex.response.head_at,
        "103 at {:?}, head at {:?}",
        info.at,
        ex.response.head_at
    );
    assert_eq!(ex.pushes.len(), 2);
    for p in &ex.pushes {
        assert!(p.promised_at + Duration::from_millis(200) < ex.response.head_at);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_103_is_forwarded_as_it_arrives() {
    let up = raw_upstream(|head, mut tcp| async move {
        if head.starts_with("GET / ") {
            write(
                &mut tcp,
                b"HTTP/1.1 103 Early Hints\r\nLink: </e.css>; rel=preload; as=style\r\n\r\n",
            )
            .await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            write(
                &mut tcp,
                b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\npage",
            )
            .await;
        } else {
            write(
                &mut tcp,
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\ncss",
            )
            .await;
        }
    })
    .await;
    let srv = proxy_server(config(&up.url())).await;
    let report = probe(&srv.opts("/")).await.unwrap();
    let ex = &report.exchanges[0];
    assert_eq!(&ex.response.body[..], b"page");
    assert_eq!(ex.informational.len(), 1);
    assert_eq!(
        ex.informational[0].links(),
        ["</e.css>; rel=preload; as=style"]
    );
    assert!(ex.informational[0].at + Duration::from_millis(300) < ex.response.head_at);
    // What the 103 preloads is pushed at once too.
    assert_eq!(ex.pushes.len(), 1);
    assert_eq!(ex.pushes[0].promised_path, "/e.css");
    assert!(ex.pushes[0].promised_at + Duration::from_millis(300) < ex.response.head_at);
    assert_eq!(&ex.pushes[0].body[..], b"css");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_hop_by_hop_fields_are_dropped_and_forwarding_fields_set() {
    let up = axum_upstream(app()).await;
    let srv = proxy_server(config(&up.url())).await;
    let req = b"GET /echo HTTP/1.1\r\nHost: front.test\r\nConnection: close, x-hop\r\n\
        X-Hop: secret\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\n\
        X-Forwarded-For: 192.0.2.9\r\nX-Kept: yes\r\n\r\n";
    let (status, text) = common::raw_http1(srv.plain, req).await;
    assert_eq!(status, 200, "{text}");
    let json = &text[text.find("\r\n\r\n").unwrap() + 4..];
    let seen: BTreeMap<String, String> = serde_json::from_str(json).unwrap();
    for hop in [
        "connection",
        "x-hop",
        "keep-alive",
        "proxy-connection",
        "te",
        "transfer-encoding",
        "upgrade",
    ] {
        assert!(
            !seen.contains_key(hop),
            "{hop} reached the upstream: {seen:?}"
        );
    }
    assert_eq!(seen["x-kept"], "yes");
    assert_eq!(seen["host"], "front.test");
    assert_eq!(seen["x-forwarded-for"], "192.0.2.9, 127.0.0.1");
    assert_eq!(seen["x-forwarded-proto"], "http");
    assert_eq!(seen["x-forwarded-host"], "front.test");
    assert_eq!(
        seen["forwarded"],
        "for=127.0.0.1;proto=http;host=\"front.test\""
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_is_rewritten_when_configured_and_https_is_reported() {
    let up = axum_upstream(app()).await;
    let mut cfg = config(&up.url());
    cfg.host = HostHeader::Rewrite(HeaderValue::from_static("app.internal"));
    let srv = proxy_server(cfg).await;
    let report = probe(&srv.opts("/echo")).await.unwrap();
    let seen: BTreeMap<String, String> =
        serde_json::from_slice(&report.exchanges[0].response.body).unwrap();
    assert_eq!(seen["host"], "app.internal");
    assert_eq!(seen["x-forwarded-proto"], "https");
    assert_eq!(
        seen["x-forwarded-host"],
        format!("127.0.0.1:{}", srv.tls.port())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_hop_by_hop_fields_are_dropped() {
    let up = raw_upstream(|_, mut tcp| async move {
        write(
            &mut tcp,
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive, x-secret\r\nX-Secret: 1\r\n\
              Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nX-Kept: yes\r\n\
              Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        )
        .await;
    })
    .await;
    let srv = proxy_server(config(&up.url())).await;
    // HTTP/2 (where these fields are malformed) ...
    let report = probe(&srv.opts("/")).await.unwrap();
    let res = &report.exchanges[0].response;
    assert_eq!(&res.body[..], b"ok");
    assert_eq!(res.headers["x-kept"], "yes");
    for hop in [
        "connection",
        "x-secret",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
    ] {
        assert!(!res.headers.contains_key(hop), "{hop} forwarded over h2");
    }
    // ... and HTTP/1.1, where hyper adds its own framing and nothing else.
    let (status, text) = common::get_http1(srv.plain, "/").await;
    assert_eq!(status, 200);
    let lower = text.to_ascii_lowercase();
    assert!(lower.contains("x-kept: yes"), "{text}");
    for hop in ["x-secret", "keep-alive", "proxy-connection"] {
        assert!(
            !lower.contains(&format!("\r\n{hop}:")),
            "{hop} forwarded over h1: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_events_pass_through_one_by_one() {
    let up = axum_upstream(app()).await;
    let srv = proxy_server(config(&up.url())).await;
    let (head, mut body) = h2c(srv.plain, get_req(srv.plain, "/events"), None).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.headers["content-type"], "text/event-stream");
    assert!(!head.headers.contains_key("content-encoding"));
    let start = Instant::now();
    let mut got = Vec::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(5), body.data())
        .await
        .unwrap()
    {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        if !chunk.is_empty() {
            // (the stream may end with an empty DATA frame carrying END_STREAM)
            got.push((start.elapsed(), String::from_utf8(chunk.to_vec()).unwrap()));
        }
    }
    let texts: Vec<&str> = got.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(texts, ["data: 0\n\n", "data: 1\n\n", "data: 2\n\n"]);
    // Each event arrives before the next is produced (400 ms apart upstream).
    for w in got.windows(2) {
        assert!(w[1].0 - w[0].0 >= Duration::from_millis(250), "{got:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_stream_both_ways() {
    let up = axum_upstream(app()).await;
    let srv = proxy_server(config(&up.url())).await;
    let data = big_body();
    let (head, mut body) = h2c(srv.plain, get_req(srv.plain, "/big"), None).await;
    assert_eq!(head.status, StatusCode::OK);
    let got = read_all(&mut body).await.unwrap();
    assert_eq!(got.len(), BIG);
    assert_eq!(sha256(&got), sha256(&data));

    let req = Request::post(format!("http://{}/upload", srv.plain))
        .body(())
        .unwrap();
    let (head, mut body) = h2c(srv.plain, req, Some(Bytes::from(data.clone()))).await;
    assert_eq!(head.status, StatusCode::OK);
    let answer = String::from_utf8(read_all(&mut body).await.unwrap()).unwrap();
    assert_eq!(answer, format!("{BIG} {}", hex(&sha256(&data))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_upstream_is_502_naming_the_cause() {
    let port = closed_port().await;
    let srv = proxy_server(config(&format!("http://{port}"))).await;
    let report = probe(&srv.opts("/")).await.unwrap();
    let res = &report.exchanges[0].response;
    assert_eq!(res.status, StatusCode::BAD_GATEWAY);
    let text = String::from_utf8_lossy(&res.body);
    assert!(text.contains("refused"), "{text}");
    assert!(text.contains(&port.to_string()), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_upstream_is_504_after_the_read_timeout() {
    let up = raw_upstream(|_, tcp| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(tcp);
    })
    .await;
    let mut cfg = config(&up.url());
    cfg.read_timeout = Duration::from_millis(300);
    let srv = proxy_server(cfg).await;
    let start = Instant::now();
    let report = probe(&srv.opts("/")).await.unwrap();
    let res = &report.exchanges[0].response;
    assert_eq!(res.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(String::from_utf8_lossy(&res.body).contains("timed out"));
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_closing_before_a_head_is_502() {
    let up = raw_upstream(|_, tcp| async move { drop(tcp) }).await;
    let srv = proxy_server(config(&up.url())).await;
    let report = probe(&srv.opts("/")).await.unwrap();
    assert_eq!(report.exchanges[0].response.status, StatusCode::BAD_GATEWAY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_response_resets_the_client_stream() {
    let up = raw_upstream(|_, mut tcp| async move {
        write(
            &mut tcp,
            b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nonly-this",
        )
        .await;
    })
    .await;
    let srv = proxy_server(config(&up.url())).await;
    // The head and the reset usually reach the client in that order. When the upstream's
    // fragment and its end come within one of the server's write batches, h2 drops the
    // still-queued head when the reset is queued, and only the reset goes out. Either way
    // the stream is aborted, never ended cleanly: that is what is checked.
    let err = match h2c_head(srv.plain, get_req(srv.plain, "/"), None).await {
        Ok((head, mut body)) => {
            assert_eq!(head.status, StatusCode::OK);
            read_all(&mut body)
                .await
                .expect_err("a truncated body must not end cleanly")
        }
        Err(e) => e,
    };
    assert!(err.is_reset(), "{err:?}");
    assert_eq!(err.reason(), Some(h2::Reason::INTERNAL_ERROR), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_body_resets_after_the_read_timeout() {
    let up = raw_upstream(|_, mut tcp| async move {
        write(
            &mut tcp,
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        )
        .await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let mut cfg = config(&up.url());
    cfg.read_timeout = Duration::from_millis(300);
    let srv = proxy_server(cfg).await;
    let (_, mut body) = h2c(srv.plain, get_req(srv.plain, "/"), None).await;
    assert!(read_all(&mut body).await.unwrap_err().is_reset());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_max_in_flight_is_503() {
    // The upstream holds every answer until the test lets it go, and says when the first
    // request reached it: no sleep decides what is in flight.
    let arrived = std::sync::Arc::new(tokio::sync::Notify::new());
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let (a, g) = (arrived.clone(), gate.clone());
    let up = raw_upstream(move |_, mut tcp| {
        let (a, g) = (a.clone(), g.clone());
        async move {
            a.notify_one();
            let _open = g.acquire().await;
            write(
                &mut tcp,
                b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow",
            )
            .await;
        }
    })
    .await;
    let mut cfg = config(&up.url());
    cfg.max_in_flight = 1;
    let srv = proxy_server(cfg).await;
    let slow = {
        let opts = srv.opts("/slow");
        tokio::spawn(async move { probe(&opts).await.unwrap() })
    };
    tokio::time::timeout(Duration::from_secs(20), arrived.notified())
        .await
        .expect("the first request reached the upstream within 20 s");
    let busy = probe(&srv.opts("/")).await.unwrap();
    assert_eq!(
        busy.exchanges[0].response.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "a second request while one is in flight: {:?}",
        busy.exchanges[0].response
    );
    gate.add_permits(16);
    let slow = slow.await.unwrap();
    assert_eq!(&slow.exchanges[0].response.body[..], b"slow");
    // The slot is free again once the slow response ended.
    let again = probe(&srv.opts("/")).await.unwrap();
    assert_eq!(again.exchanges[0].response.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxied_prefixes_mix_with_static_files() {
    let site = common::Site::new();
    let up = axum_upstream(app()).await;
    let routes = ProxyRoutes::new(StaticFiles::new(site.root()).unwrap())
        .route("/static", Proxy::new(config(&up.url())));
    let srv = common::start(routes).await;
    let (status, text) = common::get_http1(srv.plain, "/static/style.css").await;
    assert_eq!(status, 200);
    assert!(text.ends_with(CSS), "{text}");
    let (status, text) = common::get_http1(srv.plain, "/style.css").await;
    assert_eq!(status, 200);
    assert!(text.ends_with(common::CSS), "{text}");
}
