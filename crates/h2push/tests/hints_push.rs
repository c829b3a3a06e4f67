//! What the hint policy pushes, over real HTTP/2 connections: never what the client has
//! (diary, digest cookie, cancel back-off, conditional requests), in priority order, within
//! the page's budget.

mod common;
mod hints_support;

use axum::response::{AppendHeaders, IntoResponse};
use axum::routing::get;
use axum::Router;
use h2push::hints::{Budget, Hint, HintLayer, HintPolicy, PushRule};
use h2push::probe::{probe, PushOutcome};
use hints_support::*;
use http::header::LINK;
use tower::Layer;

fn with_metrics(mut p: HintPolicy) -> HintPolicy {
    p.metrics_path = Some("/metrics".into());
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diary_second_page_on_the_same_connection_pushes_nothing_already_pushed() {
    let site = HintSite::new();
    let srv = serve_files(&site, with_metrics(HintPolicy::default())).await;
    let mut opts = srv.opts("/");
    opts.extra_paths = vec!["/other.html".into(), "/".into()];
    let report = probe(&opts).await.unwrap();
    let [first, second, third] = &report.exchanges[..] else {
        panic!("{} exchanges", report.exchanges.len())
    };
    assert_eq!(promised(first), ["/style.css", "/font.woff2", "/app.js"]);
    // /other.html shares /style.css: only its own script goes.
    assert_eq!(promised(second), ["/other.js"]);
    assert!(promised(third).is_empty(), "{:?}", promised(third));
    for p in first.pushes.iter().chain(&second.pushes) {
        assert_eq!(p.outcome, PushOutcome::Completed, "{}", p.promised_path);
    }
    let m = metrics(&srv).await;
    assert_eq!(
        sample(&m, "h2push_pushes_skipped_total{reason=\"diary\"}"),
        4
    );
    assert_eq!(sample(&m, "h2push_pushes_promised_total"), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_cookie_new_connection_pushes_only_changed_files() {
    let site = HintSite::new();
    let srv = serve_files(&site, with_metrics(HintPolicy::default())).await;

    let first = fetch(&srv, "/", &[]).await;
    assert_eq!(promised(&first).len(), 3);
    let cookie = digest_cookie(&first).expect("a digest cookie after pushing");
    let set = first.response.headers[http::header::SET_COOKIE]
        .to_str()
        .unwrap();
    for attr in ["Path=/", "Max-Age=", "HttpOnly", "SameSite=Lax", "Secure"] {
        assert!(set.contains(attr), "{set}");
    }

    // A repeat visit on a new connection: everything is cached, nothing is pushed, and the
    // cookie is not re-sent (it did not change).
    let repeat = fetch(&srv, "/", &[header("cookie", &cookie)]).await;
    assert!(promised(&repeat).is_empty(), "{:?}", promised(&repeat));
    assert_eq!(digest_cookie(&repeat), None);

    // A deploy changes app.js: only it is pushed again, and the cookie learns its version.
    site.write("app.js", "console.log('app, version 2');\n");
    let after_deploy = fetch(&srv, "/", &[header("cookie", &cookie)]).await;
    assert_eq!(promised(&after_deploy), ["/app.js"]);
    assert_eq!(
        &after_deploy.pushes[0].body[..],
        b"console.log('app, version 2');\n"
    );
    let updated = digest_cookie(&after_deploy).expect("an updated cookie");
    let settled = fetch(&srv, "/", &[header("cookie", &updated)]).await;
    assert!(promised(&settled).is_empty(), "{:?}", promised(&settled));

    let m = metrics(&srv).await;
    assert_eq!(
        sample(&m, "h2push_pushes_skipped_total{reason=\"digest\"}"),
        3 + 2 + 3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_or_malformed_digest_cookies_mean_a_first_visit() {
    let site = HintSite::new();
    let srv = serve_files(&site, HintPolicy::default()).await;
    let cookie = digest_cookie(&fetch(&srv, "/", &[]).await).unwrap();
    // Another server (another key) made this one: forged as far as this server knows.
    let other = serve_files(&site, HintPolicy::default()).await;
    let foreign = digest_cookie(&fetch(&other, "/", &[]).await).unwrap();
    let mut flipped = cookie.clone().into_bytes();
    let last = flipped.len() - 3;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for bad in [
        foreign,
        flipped,
        "h2push_digest=".to_owned(),
        "h2push_digest=!!!not-base64!!!".to_owned(),
        format!("h2push_digest={}", "A".repeat(5000)),
    ] {
        let ex = fetch(&srv, "/", &[header("cookie", &bad)]).await;
        assert_eq!(promised(&ex).len(), 3, "cookie {bad:.40}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_is_css_and_fonts_then_scripts_then_images() {
    let site = HintSite::new();
    let rule = PushRule::new(
        "/bare.html",
        ["/hero.png", "/app.js", "/font.woff2", "/style.css"].map(Hint::new),
    );
    let srv = serve_files(&site, HintPolicy::with_rules([rule])).await;
    let ex = fetch(&srv, "/bare.html", &[navigate()]).await;
    let order = ["/font.woff2", "/style.css", "/app.js", "/hero.png"];
    assert_eq!(promised(&ex), order);
    assert_eq!(early_hint_targets(&ex).unwrap(), order);
    // Each promise goes before the page's response.
    for p in &ex.pushes {
        assert!(p.promised_at <= ex.response.head_at);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_limits_resources_and_bytes() {
    let site = HintSite::new();
    let all = ["/style.css", "/big.js", "/app.js", "/hero.png"].map(Hint::new);

    let mut by_count = with_metrics(HintPolicy::with_rules([PushRule::new(
        "/bare.html",
        all.clone(),
    )]));
    by_count.budget = Budget {
        resources: 2,
        bytes: u64::MAX,
    };
    let srv = serve_files(&site, by_count).await;
    let ex = fetch(&srv, "/bare.html", &[navigate()]).await;
    assert_eq!(promised(&ex), ["/style.css", "/big.js"]);
    // The 103 still announces everything: the browser decides what to fetch.
    assert_eq!(early_hint_targets(&ex).unwrap().len(), 4);
    let m = metrics(&srv).await;
    assert_eq!(
        sample(&m, "h2push_pushes_skipped_total{reason=\"budget\"}"),
        2
    );

    // 10 KB: big.js (20 KB) does not fit, the small ones do.
    let mut by_bytes = HintPolicy::with_rules([PushRule::new("/bare.html", all)]);
    by_bytes.budget = Budget {
        resources: 100,
        bytes: 10_000,
    };
    let srv = serve_files(&site, by_bytes).await;
    let ex = fetch(&srv, "/bare.html", &[]).await;
    assert_eq!(promised(&ex), ["/style.css", "/app.js", "/hero.png"]);
    let pushed: usize = ex.pushes.iter().map(|p| p.body.len()).sum();
    assert!(pushed <= 10_000, "{pushed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_the_client_cancels_is_not_pushed_to_it_again() {
    let site = HintSite::new();
    let rule = PushRule::new("/slow-page", [Hint::new("/slow.css")]);
    let other = PushRule::new("/bare.html", [Hint::new("/slow.css")]);
    let srv =
        serve_with_slow_routes(&site, with_metrics(HintPolicy::with_rules([rule, other]))).await;
    // The page takes 300 ms, its push 2 s: the client's RST_STREAM(CANCEL) reaches the server
    // while the push is still being produced.
    let mut opts = srv.opts("/slow-page");
    opts.reset_pushes = true;
    opts.extra_paths = vec!["/bare.html".into()];
    let report = probe(&opts).await.unwrap();
    assert_eq!(promised(&report.exchanges[0]), ["/slow.css"]);
    assert_eq!(
        report.exchanges[0].pushes[0].outcome,
        PushOutcome::ResetByClient
    );
    assert!(promised(&report.exchanges[1]).is_empty());
    let m = metrics(&srv).await;
    assert_eq!(sample(&m, "h2push_pushes_cancelled_total"), 1);
    assert_eq!(
        sample(&m, "h2push_pushes_skipped_total{reason=\"cancelled\"}"),
        1
    );
    assert_eq!(
        sample(&m, "h2push_pushes_skipped_total{reason=\"diary\"}"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nopush_hints_are_announced_but_not_pushed() {
    let site = HintSite::new();
    let rule = PushRule::new(
        "/bare.html",
        [Hint::new("/style.css"), Hint::new("/hero.png").hint_only()],
    );
    let srv = serve_files(&site, HintPolicy::with_rules([rule])).await;
    let ex = fetch(&srv, "/bare.html", &[navigate()]).await;
    assert_eq!(promised(&ex), ["/style.css"]);
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
async fn a_conditional_page_request_pushes_nothing() {
    let site = HintSite::new();
    let srv = serve_files(&site, with_metrics(HintPolicy::default())).await;
    let first = fetch(&srv, "/", &[]).await;
    let etag = first.response.headers["etag"].to_str().unwrap().to_owned();
    // Revalidating the page: the client has it, so it has what the page references.
    let ex = fetch(&srv, "/", &[header("if-none-match", &etag)]).await;
    assert_eq!(ex.response.status, 304);
    assert!(promised(&ex).is_empty());
    // A changed page is still conditional: the client had a version of it.
    let ex = fetch(&srv, "/", &[header("if-none-match", "\"old\"")]).await;
    assert_eq!(ex.response.status, 200);
    assert!(promised(&ex).is_empty());
    let m = metrics(&srv).await;
    assert_eq!(
        sample(&m, "h2push_pushes_skipped_total{reason=\"conditional\"}"),
        6
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_link_headers_are_pushed_and_push_only_ones_removed() {
    let site = HintSite::new();
    let app = Router::new()
        .route(
            "/app",
            get(|| async {
                (
                    AppendHeaders([
                        (LINK, "</app.js>; rel=preload; as=script"),
                        (
                            LINK,
                            "</style.css>; rel=preload; as=style; x-http2-push-only",
                        ),
                        (
                            LINK,
                            "</hero.png>; rel=preload; as=image; nopush, </x>; rel=next",
                        ),
                    ]),
                    "<!doctype html>app",
                )
                    .into_response()
            }),
        )
        .fallback_service(site.files());
    let policy = HintPolicy::default().with_files(site.files());
    let srv = common::start(HintLayer::new(policy).layer(app)).await;
    let ex = fetch(&srv, "/app", &[]).await;
    // Pushed in priority order: style (push-only, but pushed), then the script.
    assert_eq!(promised(&ex), ["/style.css", "/app.js"]);
    let links: Vec<&str> = ex
        .response
        .headers
        .get_all(LINK)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(
        links,
        [
            "</app.js>; rel=preload; as=script",
            "</hero.png>; rel=preload; as=image; nopush, </x>; rel=next"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_applications_own_pushes_count_in_the_digest() {
    use axum::Extension;
    let site = HintSite::new();
    let files = site.files();
    // A route that pushes /app.js itself (Go's http.Pusher style), and a rule that would.
    let app = Router::new()
        .route(
            "/pushes-itself",
            get(|Extension(pusher): Extension<h2push::Pusher>| async move {
                pusher.push("/app.js").unwrap();
                "pushed"
            }),
        )
        .fallback_service(files.clone());
    let policy = HintPolicy::with_rules([PushRule::new("/ruled", [Hint::new("/app.js")])]);
    let layer = HintLayer::new(policy.with_files(files));
    let srv = common::start(layer.layer(app)).await;

    let first = fetch(&srv, "/pushes-itself", &[]).await;
    assert_eq!(promised(&first), ["/app.js"]);
    let cookie = digest_cookie(&first).expect("the app's push is in the digest cookie");
    // The policy now knows the client has /app.js: its rule pushes nothing.
    let ruled = fetch(&srv, "/ruled", &[header("cookie", &cookie)]).await;
    assert!(promised(&ruled).is_empty(), "{:?}", promised(&ruled));
    let without = fetch(&srv, "/ruled", &[]).await;
    assert_eq!(promised(&without), ["/app.js"]);
}
