//! Server push over real HTTP/2 connections (RFC 9113 §8.4), one test per rule.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use axum::{Extension, Router};
use common::{Site, CSS, JS};
use h2push::files::StaticFiles;
use h2push::hints::{Hint, HintLayer, HintPolicy, PushRule};
use h2push::probe::{probe, PushOutcome};
use h2push::{PushError, Pusher};
use http::StatusCode;
use tower::Layer;

fn site_with_rule(site: &Site, resources: &[&str]) -> impl h2push::HttpService {
    let rule = PushRule::new("/", resources.iter().map(|r| Hint::new(*r)));
    HintLayer::new(HintPolicy::with_rules([rule])).layer(StaticFiles::new(site.root()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_configured_resources_with_bodies_equal_to_the_files() {
    let site = Site::new();
    let srv = common::start(site_with_rule(&site, &["/style.css", "/app.js"])).await;
    let report = probe(&srv.opts("/")).await.unwrap();
    assert_eq!(report.protocol, "h2");
    let ex = &report.exchanges[0];
    assert_eq!(ex.response.status, StatusCode::OK);
    assert_eq!(&ex.response.body[..], &site.file("index.html")[..]);
    let promised: Vec<&str> = ex.pushes.iter().map(|p| p.promised_path.as_str()).collect();
    assert_eq!(promised, ["/style.css", "/app.js"]);
    for (p, want) in ex.pushes.iter().zip([CSS, JS]) {
        assert_eq!(p.outcome, PushOutcome::Completed, "{}", p.promised_path);
        assert_eq!(p.status, Some(StatusCode::OK));
        assert_eq!(&p.body[..], want.as_bytes());
        // RFC 9113 §8.4: the promise precedes the response that references the resource.
        assert!(p.promised_at <= ex.response.head_at);
    }
    srv.stop().await;
}

/// Stylesheets go before scripts whatever the configured order (Apache's H2PushPriority);
/// `tests/hints_order.rs` has the full rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_order_puts_stylesheets_before_scripts() {
    let site = Site::new();
    let srv = common::start(site_with_rule(&site, &["/app.js", "/style.css"])).await;
    let report = probe(&srv.opts("/")).await.unwrap();
    let promised: Vec<&str> = report.exchanges[0]
        .pushes
        .iter()
        .map(|p| p.promised_path.as_str())
        .collect();
    assert_eq!(promised, ["/style.css", "/app.js"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_over_h2c_too() {
    let site = Site::new();
    let srv = common::start(site_with_rule(&site, &["/style.css"])).await;
    let report = probe(&srv.opts_h2c("/")).await.unwrap();
    assert_eq!(report.protocol, "h2c");
    let ex = &report.exchanges[0];
    assert_eq!(ex.pushes.len(), 1);
    assert_eq!(&ex.pushes[0].body[..], CSS.as_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_push_when_the_client_disables_it() {
    let site = Site::new();
    let srv = common::start(site_with_rule(&site, &["/style.css", "/app.js"])).await;
    let mut opts = srv.opts("/");
    opts.enable_push = false;
    let report = probe(&opts).await.unwrap();
    let ex = &report.exchanges[0];
    assert_eq!(ex.response.status, StatusCode::OK);
    assert!(ex.pushes.is_empty(), "{:?}", ex.pushes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_page_on_the_same_connection_pushes_nothing_already_pushed() {
    let site = Site::new();
    let srv = common::start(site_with_rule(&site, &["/style.css", "/app.js"])).await;
    let mut opts = srv.opts("/");
    opts.extra_paths = vec!["/".into()];
    let report = probe(&opts).await.unwrap();
    assert_eq!(report.exchanges[0].pushes.len(), 2);
    assert_eq!(report.exchanges[1].response.status, StatusCode::OK);
    assert!(report.exchanges[1].pushes.is_empty());
}

/// h2 ≥ 0.4.15 answers a client's reset of a queued pushed stream with GOAWAY when more
/// pushes are outstanding than the client allows; h2push must never get there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resetting_pushed_streams_leaves_the_connection_serving() {
    let site = Site::new();
    for name in ["a", "b", "c", "d"] {
        std::fs::write(site.root().join(format!("{name}.css")), name).unwrap();
    }
    let srv = common::start(site_with_rule(
        &site,
        &["/a.css", "/b.css", "/c.css", "/d.css"],
    ))
    .await;
    for limit in [None, Some(1), Some(2)] {
        let mut opts = srv.opts("/");
        opts.reset_pushes = true;
        opts.max_concurrent_streams = limit;
        opts.extra_paths = vec!["/style.css".into(), "/app.js".into()];
        let report = probe(&opts).await.unwrap();
        assert_eq!(report.exchanges.len(), 3, "limit {limit:?}");
        for ex in &report.exchanges {
            assert_eq!(
                ex.response.status,
                StatusCode::OK,
                "{} limit {limit:?}",
                ex.path
            );
        }
        let pushes = &report.exchanges[0].pushes;
        assert!(!pushes.is_empty(), "limit {limit:?}");
        assert!(
            pushes.len() <= limit.map_or(4, |l| l as usize),
            "{} pushes with limit {limit:?}",
            pushes.len()
        );
        for p in pushes {
            assert_eq!(p.outcome, PushOutcome::ResetByClient);
        }
    }
}

/// The head of a push whose response is not ready at once (here: a file not yet cached, read
/// on a blocking thread) goes out after its PUSH_PROMISE was written; h2 queues it as "pending
/// open", and reading the client's RST_STREAM for it there would make h2 end the connection
/// with PROTOCOL_ERROR. The race is narrow, so it is run many times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resetting_pushes_of_uncached_files_leaves_the_connection_serving() {
    let site = Site::new();
    let rules: Vec<PushRule> = (0..40)
        .map(|round| {
            let names: Vec<String> = (0..4).map(|i| format!("/r{round}-{i}.css")).collect();
            for n in &names {
                std::fs::write(site.root().join(&n[1..]), n).unwrap();
            }
            PushRule::new(
                format!("/page{round}"),
                names.iter().map(|n| Hint::new(n.clone())),
            )
        })
        .collect();
    let files = StaticFiles::new(site.root()).unwrap();
    let srv = common::start(HintLayer::new(HintPolicy::with_rules(rules)).layer(files)).await;
    for round in 0..40 {
        let mut opts = srv.opts(&format!("/page{round}"));
        opts.reset_pushes = true;
        opts.extra_paths = vec!["/style.css".into(), "/app.js".into()];
        let report = probe(&opts)
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(report.exchanges.len(), 3);
        assert_eq!(
            report.exchanges[2].response.status,
            StatusCode::OK,
            "round {round}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outstanding_pushes_never_exceed_the_clients_limit() {
    let log = Log::default();
    let app = guard_app(log.clone());
    let srv = common::start(app).await;
    let mut opts = srv.opts("/many");
    opts.max_concurrent_streams = Some(2);
    let report = probe(&opts).await.unwrap();
    assert_eq!(report.exchanges[0].pushes.len(), 2);
    let results = log.take();
    assert_eq!(results[..2], [Ok(()), Ok(())]);
    for r in &results[2..] {
        assert_eq!(r, &Err(PushError::TooManyPushes { limit: 2 }));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_refuse_duplicates_unsafe_methods_and_other_origins() {
    let log = Log::default();
    let srv = common::start(guard_app(log.clone())).await;
    let report = probe(&srv.opts("/guards")).await.unwrap();
    let ex = &report.exchanges[0];
    assert_eq!(ex.response.status, StatusCode::OK);
    let promised: Vec<&str> = ex.pushes.iter().map(|p| p.promised_path.as_str()).collect();
    assert_eq!(promised, ["/r1", "/r2"]);
    let results = log.take();
    assert_eq!(
        results,
        [
            Ok(()),
            Err(PushError::AlreadyPushed("/r1".into())),
            Err(PushError::UnsafeMethod(http::Method::POST)),
            Err(PushError::CrossOrigin("https://elsewhere.test/r1".into())),
            Err(PushError::InvalidPath("r1".into())),
            Ok(()),
        ]
    );
    // HEAD pushes carry no body.
    assert!(ex.pushes[1].body.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_push_after_the_parent_stream_ended() {
    let log = Log::default();
    let srv = common::start(guard_app(log.clone())).await;
    let mut opts = srv.opts("/late");
    opts.extra_paths = vec!["/r1".into()];
    let report = probe(&opts).await.unwrap();
    assert!(report.exchanges[0].pushes.is_empty());
    // The late push was tried while the client still had the connection open.
    let results = wait_for(&log, 1).await;
    assert_eq!(results, [Err(PushError::ParentClosed)]);
    assert_eq!(report.exchanges[1].response.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_response_cannot_push() {
    let log = Log::default();
    let srv = common::start(guard_app(log.clone())).await;
    let report = probe(&srv.opts("/nest")).await.unwrap();
    let ex = &report.exchanges[0];
    assert_eq!(ex.pushes.len(), 1);
    assert_eq!(&ex.pushes[0].body[..], b"nested");
    let results = wait_for(&log, 2).await;
    assert_eq!(results, [Ok(()), Err(PushError::Nested)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_requests_get_a_typed_push_error() {
    let log = Log::default();
    let srv = common::start(guard_app(log.clone())).await;
    let (status, _) = common::get_http1(srv.plain, "/r1-push").await;
    assert_eq!(status, 200);
    assert_eq!(log.take(), [Err(PushError::Http1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_client_gets_a_typed_push_error() {
    let log = Log::default();
    let srv = common::start(guard_app(log.clone())).await;
    let mut opts = srv.opts("/r1-push");
    opts.enable_push = false;
    let report = probe(&opts).await.unwrap();
    assert!(report.exchanges[0].pushes.is_empty());
    assert_eq!(log.take(), [Err(PushError::Disabled)]);
}

/// The client's SETTINGS say whether it accepts push before any push is tried, so an app can
/// skip preparing pushes (browsers all send ENABLE_PUSH = 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pusher_knows_from_the_first_request_whether_the_client_accepts_push() {
    let app = Router::new().route(
        "/",
        get(|Extension(p): Extension<Pusher>| async move { p.is_available().to_string() }),
    );
    let srv = common::start(app).await;
    for (enable_push, want) in [(true, "true"), (false, "false")] {
        for mut opts in [srv.opts("/"), srv.opts_h2c("/")] {
            opts.enable_push = enable_push;
            let report = probe(&opts).await.unwrap();
            assert_eq!(
                &report.exchanges[0].response.body[..],
                want.as_bytes(),
                "{}",
                opts.url
            );
        }
    }
}

/// Push results recorded by the guard app, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Result<(), PushError>>>>);

impl Log {
    fn add(&self, r: Result<(), PushError>) {
        self.0.lock().unwrap().push(r);
    }
    fn take(&self) -> Vec<Result<(), PushError>> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

async fn wait_for(log: &Log, n: usize) -> Vec<Result<(), PushError>> {
    for _ in 0..200 {
        if log.0.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    log.take()
}

fn guard_app(log: Log) -> Router {
    let l = log.clone();
    let many = move |Extension(p): Extension<Pusher>| {
        let l = l.clone();
        async move {
            for i in 1..=5 {
                l.add(p.push(&format!("/r{i}")));
            }
            "many"
        }
    };
    let l = log.clone();
    let guards = move |Extension(p): Extension<Pusher>| {
        let l = l.clone();
        async move {
            l.add(p.push("/r1"));
            l.add(p.push("/r1"));
            l.add(p.promise("/r3").method(http::Method::POST).send());
            l.add(p.push("https://elsewhere.test/r1"));
            l.add(p.push("r1"));
            l.add(p.promise("/r2").method(http::Method::HEAD).send());
            "guards"
        }
    };
    let l = log.clone();
    let late = move |Extension(p): Extension<Pusher>| {
        let l = l.clone();
        async move {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                l.add(p.push("/r1"));
            });
            "late"
        }
    };
    let l = log.clone();
    let nest = move |Extension(p): Extension<Pusher>| {
        let l = l.clone();
        async move {
            l.add(p.push("/nested"));
            "nest"
        }
    };
    let l = log.clone();
    let nested = move |Extension(p): Extension<Pusher>| {
        let l = l.clone();
        async move {
            l.add(p.push("/r1"));
            "nested"
        }
    };
    let l = log;
    let r1_push = move |Extension(p): Extension<Pusher>| {
        let l = l.clone();
        async move {
            l.add(p.push("/r1"));
            "r1-push"
        }
    };
    let slow_pushes = |Extension(p): Extension<Pusher>| async move {
        for i in 1..=3 {
            let _ = p.push(&format!("/slow{i}"));
        }
        "slow pushes"
    };
    let mut app = Router::new()
        .route("/slow-pushes", get(slow_pushes))
        .route("/many", get(many))
        .route("/guards", get(guards))
        .route("/late", get(late))
        .route("/nest", get(nest))
        .route("/nested", get(nested))
        .route("/r1-push", get(r1_push));
    for i in 1..=5 {
        app = app.route(
            &format!("/r{i}"),
            get(move || async move { format!("resource {i}") }),
        );
    }
    app
}
