//! Zero-config 103 for proxied pages: the proxy reads the `<head>` of upstream HTML as it
//! streams by and remembers what it names, so the next navigation to the route gets a 103
//! while the app is still thinking — with no `Link` header from the app. Stale hints are
//! forgotten (a 404, a changed page), compressed pages are not read, bodies are neither
//! changed nor held back, and a client gets one 103 at most.

mod common;
mod proxy_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body as AxumBody;
use axum::http::StatusCode as AxumStatus;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use h2push::probe::{probe, ProbeOptions, ProbeReport};
use http::{HeaderValue, StatusCode};
use proxy_support::*;

const THINK: Duration = Duration::from_millis(300);

/// A page in the shape of a Vite build's `index.html`, followed by a large body.
fn page(css: &str) -> Vec<u8> {
    let mut p = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <title>app</title>\
         <script type=module crossorigin src=/assets/index-D_6Ay_gG.js></script>\
         <link rel=stylesheet crossorigin href={css}>\
         </head><body><div id=root></div>"
    )
    .into_bytes();
    p.extend((0..200_000).map(|i| b"abcdefghij"[i % 10]));
    p.extend_from_slice(b"</body></html>\n");
    p
}

fn navigate(mut opts: ProbeOptions) -> ProbeOptions {
    opts.headers = vec![(
        "sec-fetch-mode".parse().unwrap(),
        HeaderValue::from_static("navigate"),
    )];
    opts
}

/// The links of each 103 the exchange got, joined.
fn hints_103(report: &ProbeReport) -> Vec<String> {
    report.exchanges[0]
        .informational
        .iter()
        .filter(|i| i.status == StatusCode::EARLY_HINTS)
        .map(|i| i.links().join(", "))
        .collect()
}

/// An app whose `/` thinks for 300 ms and answers according to `mode`: 0 the page with
/// `/assets/a.css`, 1 the page with `/assets/b.css`, 2 a 404. It sends no `Link` header.
fn app(mode: Arc<AtomicUsize>) -> Router {
    Router::new()
        .route(
            "/",
            get(move || {
                let mode = mode.clone();
                async move {
                    tokio::time::sleep(THINK).await;
                    let (status, body) = match mode.load(Ordering::SeqCst) {
                        0 => (AxumStatus::OK, page("/assets/a.css")),
                        1 => (AxumStatus::OK, page("/assets/b.css")),
                        _ => (AxumStatus::NOT_FOUND, b"gone".to_vec()),
                    };
                    (status, [("content-type", "text/html; charset=utf-8")], body)
                }
            }),
        )
        .route(
            "/gz",
            get(|| async {
                tokio::time::sleep(THINK).await;
                (
                    [("content-type", "text/html"), ("content-encoding", "gzip")],
                    page("/assets/a.css"),
                )
            }),
        )
        .fallback(|| async { ([("content-type", "text/css")], "body{}") })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_navigation_gets_the_heads_stylesheet_before_the_app_answers() {
    let mode = Arc::new(AtomicUsize::new(0));
    let up = axum_upstream(app(mode)).await;
    let srv = proxy_server(config(&up.url())).await;
    let opts = navigate(srv.opts("/"));

    let first = probe(&opts).await.unwrap();
    assert!(hints_103(&first).is_empty(), "{:?}", hints_103(&first));
    assert_eq!(first.exchanges[0].response.status, StatusCode::OK);
    assert!(
        first.exchanges[0].response.body[..] == page("/assets/a.css")[..],
        "the body arrives intact ({} bytes)",
        first.exchanges[0].response.body.len()
    );

    let second = probe(&opts).await.unwrap();
    let ex = &second.exchanges[0];
    let hints = hints_103(&second);
    assert_eq!(hints.len(), 1, "one 103: {hints:?}");
    assert!(hints[0].contains("</assets/a.css>"), "{hints:?}");
    let info = &ex.informational[0];
    assert!(
        info.at + Duration::from_millis(200) < ex.response.head_at,
        "103 at {:?}, head at {:?}",
        info.at,
        ex.response.head_at
    );
    assert!(
        ex.response.body[..] == page("/assets/a.css")[..],
        "the body arrives intact ({} bytes)",
        ex.response.body.len()
    );
    assert!(
        ex.response.headers.get("link").is_none(),
        "the proxy does not invent Link headers: {:?}",
        ex.response.headers
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_page_replaces_its_hints_and_a_404_forgets_them() {
    let mode = Arc::new(AtomicUsize::new(0));
    let up = axum_upstream(app(mode.clone())).await;
    let srv = proxy_server(config(&up.url())).await;
    let opts = navigate(srv.opts("/"));
    probe(&opts).await.unwrap();

    // The page changes: the next navigation still gets the old hints (sent before the app
    // answered), the one after the new ones only.
    mode.store(1, Ordering::SeqCst);
    let stale = probe(&opts).await.unwrap();
    assert!(
        hints_103(&stale)[0].contains("/assets/a.css"),
        "{:?}",
        hints_103(&stale)
    );
    let fresh = probe(&opts).await.unwrap();
    let hints = hints_103(&fresh);
    assert_eq!(hints.len(), 1, "{hints:?}");
    assert!(
        hints[0].contains("</assets/b.css>") && !hints[0].contains("a.css"),
        "{hints:?}"
    );

    // The route starts failing: one more 103, then none.
    mode.store(2, Ordering::SeqCst);
    let failing = probe(&opts).await.unwrap();
    assert_eq!(failing.exchanges[0].response.status, StatusCode::NOT_FOUND);
    let after = probe(&opts).await.unwrap();
    assert_eq!(after.exchanges[0].response.status, StatusCode::NOT_FOUND);
    assert!(hints_103(&after).is_empty(), "{:?}", hints_103(&after));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_fragment_from_the_same_path_leaves_the_pages_hints_alone() {
    // htmx-style: a fetch (not a navigation) to the page's path gets a bare fragment.
    let router = Router::new().route(
        "/",
        get(|headers: axum::http::HeaderMap| async move {
            let body = if headers.contains_key("hx-request") {
                b"<tr><td>row</td></tr>".to_vec()
            } else {
                page("/assets/a.css")
            };
            ([("content-type", "text/html")], body)
        }),
    );
    let up = axum_upstream(router).await;
    let srv = proxy_server(config(&up.url())).await;
    let opts = navigate(srv.opts("/"));
    probe(&opts).await.unwrap();
    let mut fragment = srv.opts("/");
    fragment.headers = vec![
        (
            "sec-fetch-mode".parse().unwrap(),
            HeaderValue::from_static("cors"),
        ),
        (
            "hx-request".parse().unwrap(),
            HeaderValue::from_static("true"),
        ),
    ];
    for _ in 0..2 {
        let f = probe(&fragment).await.unwrap();
        assert_eq!(&f.exchanges[0].response.body[..], b"<tr><td>row</td></tr>");
        assert!(
            hints_103(&f).is_empty(),
            "no 103 for a fetch: {:?}",
            hints_103(&f)
        );
    }
    let again = probe(&opts).await.unwrap();
    let hints = hints_103(&again);
    assert!(
        hints.len() == 1 && hints[0].contains("</assets/a.css>"),
        "{hints:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_pages_are_passed_on_unread() {
    let up = axum_upstream(app(Arc::default())).await;
    let srv = proxy_server(config(&up.url())).await;
    let opts = navigate(srv.opts("/gz"));
    for _ in 0..2 {
        let r = probe(&opts).await.unwrap();
        assert_eq!(r.exchanges[0].response.headers["content-encoding"], "gzip");
        assert!(hints_103(&r).is_empty(), "{:?}", hints_103(&r));
        assert!(r.exchanges[0].response.body[..] == page("/assets/a.css")[..]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_page_is_not_held_back_while_its_head_is_read() {
    // The head arrives, then the rest of the page 400 ms later: the client must have the
    // head long before the rest exists.
    let router = Router::new().route(
        "/",
        get(|| async {
            let stream = futures_util::stream::unfold(0u32, |n| async move {
                let chunk = match n {
                    0 => "<!doctype html><head><link rel=stylesheet href=/s.css>",
                    1 => {
                        tokio::time::sleep(Duration::from_millis(400)).await;
                        "</head><body>late</body>"
                    }
                    _ => return None,
                };
                Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), n + 1))
            });
            (
                [("content-type", "text/html")],
                AxumBody::from_stream(stream),
            )
        }),
    );
    let up = axum_upstream(router).await;
    let srv = proxy_server(config(&up.url())).await;
    let mut req = get_req(srv.plain, "/");
    req.headers_mut()
        .insert("sec-fetch-mode", HeaderValue::from_static("navigate"));
    let (head, mut body) = h2c(srv.plain, req, None).await;
    assert_eq!(head.status, StatusCode::OK);
    let start = Instant::now();
    let mut got: Vec<(Duration, Bytes)> = Vec::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(5), body.data())
        .await
        .expect("data in time")
    {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        if !chunk.is_empty() {
            got.push((start.elapsed(), chunk));
        }
    }
    let text: Vec<u8> = got.iter().flat_map(|(_, c)| c.to_vec()).collect();
    assert_eq!(
        String::from_utf8_lossy(&text),
        "<!doctype html><head><link rel=stylesheet href=/s.css></head><body>late</body>"
    );
    assert!(got.len() >= 2, "{got:?}");
    assert!(
        got.last().unwrap().0 - got[0].0 >= Duration::from_millis(250),
        "the first chunk came before the second existed: {got:?}"
    );
    // And the head was read on the way: the next navigation gets its 103.
    let next = probe(&navigate(srv.opts("/"))).await.unwrap();
    let hints = hints_103(&next);
    assert!(
        hints.len() == 1 && hints[0].contains("</s.css>"),
        "{hints:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remembered_hints_and_an_upstream_103_make_one_103() {
    let up = raw_upstream(|head, mut tcp| async move {
        if head.starts_with("GET / ") {
            write(
                &mut tcp,
                b"HTTP/1.1 103 Early Hints\r\nLink: </e.css>; rel=preload; as=style\r\n\r\n",
            )
            .await;
            tokio::time::sleep(THINK).await;
            let body = b"<!doctype html><head><link rel=stylesheet href=/s.css></head>page";
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                body.len()
            );
            write(&mut tcp, head.as_bytes()).await;
            write(&mut tcp, body).await;
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
    let opts = navigate(srv.opts("/"));
    let first = probe(&opts).await.unwrap();
    assert_eq!(hints_103(&first), ["</e.css>; rel=preload; as=style"]);
    // Now the proxy knows both; the upstream's 103 still comes, and must not make a second.
    for _ in 0..2 {
        let next = probe(&opts).await.unwrap();
        let hints = hints_103(&next);
        assert_eq!(hints.len(), 1, "{hints:?}");
        assert!(
            hints[0].contains("</e.css>") && hints[0].contains("</s.css>"),
            "{hints:?}"
        );
        assert!(
            hints[0].find("/e.css") < hints[0].find("/s.css"),
            "Link hints first: {hints:?}"
        );
        assert_eq!(
            &next.exchanges[0].response.body[..],
            &b"<!doctype html><head><link rel=stylesheet href=/s.css></head>page"[..]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_in_front_and_the_upstreams_103_make_one_103() {
    use h2push::hints::{Hint, HintLayer, HintPolicy, PushRule};
    use h2push::proxy::Proxy;
    use tower::Layer;
    // The first navigation: the proxy knows nothing yet, the policy in front has a rule, the
    // upstream sends a 103 of its own while it thinks. Chromium acts on the first 103 only:
    // the client must get exactly one, the rule's.
    let up = raw_upstream(|_head, mut tcp| async move {
        write(
            &mut tcp,
            b"HTTP/1.1 103 Early Hints\r\nLink: </e.css>; rel=preload; as=style\r\n\r\n",
        )
        .await;
        tokio::time::sleep(THINK).await;
        write(
            &mut tcp,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\nConnection: close\r\n\r\npage",
        )
        .await;
    })
    .await;
    let rule = PushRule::new("/", [Hint::new("/rule.css")]);
    let svc = HintLayer::new(HintPolicy::with_rules([rule])).layer(Proxy::new(config(&up.url())));
    let srv = common::start(svc).await;
    let mut opts = navigate(srv.opts("/"));
    opts.enable_push = false;
    let report = probe(&opts).await.unwrap();
    assert_eq!(
        hints_103(&report),
        ["</rule.css>; rel=preload; as=style"],
        "{:#?}",
        report.exchanges[0].informational
    );
    assert_eq!(&report.exchanges[0].response.body[..], b"page");
}
