//! `Cache-Control` of static files: content-hashed names immutable, HTML and everything else
//! `no-cache`, path-pattern rules first, and the same value on 200s, 304s, compressed
//! variants and files too large for the memory cache.

use h2push::files::{CachePolicy, IMMUTABLE};
use h2push::StaticFiles;
use http::{header, HeaderValue, Request, StatusCode};
use tower::ServiceExt;

fn site() -> (tempfile::TempDir, StaticFiles) {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, data: &[u8]| {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    };
    write("index.html", b"<!doctype html>");
    write("assets/index-D_6Ay_gG.js", b"export {}");
    write("assets/index-D_6Ay_gG.js.br", b"BR");
    write("assets/index-CWn8iCZ_.css", b"body{}");
    write("assets/big-Do1prLBU.js", &vec![b' '; 300 * 1024]);
    write("vendor/bootstrap.min.js", b"/* bs */");
    write("report-20240101.pdf", b"%PDF");
    write("page-3f2a9c1b.html", b"<p>");
    let files = StaticFiles::new(dir.path()).unwrap();
    (dir, files)
}

async fn cache_control(
    files: &StaticFiles,
    uri: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut req = Request::get(uri);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let res = files.clone().oneshot(req.body(()).unwrap()).await.unwrap();
    let cc = res
        .headers()
        .get(header::CACHE_CONTROL)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_else(|| "<none>".to_owned());
    (res.status(), cc)
}

#[tokio::test]
async fn hashed_names_are_immutable_and_the_rest_revalidates() {
    let (_d, files) = site();
    for uri in [
        "/assets/index-D_6Ay_gG.js",
        "/assets/index-CWn8iCZ_.css",
        "/assets/big-Do1prLBU.js",
    ] {
        assert_eq!(
            cache_control(&files, uri, &[]).await,
            (StatusCode::OK, IMMUTABLE.to_owned()),
            "{uri}"
        );
    }
    let (_, br) = cache_control(
        &files,
        "/assets/index-D_6Ay_gG.js",
        &[("accept-encoding", "br")],
    )
    .await;
    assert_eq!(br, IMMUTABLE, "the compressed variant too");
    for uri in [
        "/",
        "/index.html",
        "/vendor/bootstrap.min.js",
        "/report-20240101.pdf",
        "/page-3f2a9c1b.html",
    ] {
        assert_eq!(
            cache_control(&files, uri, &[]).await,
            (StatusCode::OK, "no-cache".to_owned()),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn a_304_repeats_the_immutable_value() {
    let (_d, files) = site();
    let res = files
        .clone()
        .oneshot(Request::get("/assets/index-CWn8iCZ_.css").body(()).unwrap())
        .await
        .unwrap();
    let etag = res.headers()[header::ETAG].to_str().unwrap().to_owned();
    let got = cache_control(
        &files,
        "/assets/index-CWn8iCZ_.css",
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(got, (StatusCode::NOT_MODIFIED, IMMUTABLE.to_owned()));
}

#[tokio::test]
async fn rules_come_first_and_the_default_stays_the_default() {
    let (_d, files) = site();
    let files = files
        .cache_policy(
            CachePolicy::new()
                .rule(
                    "/assets/*.css",
                    Some(HeaderValue::from_static("public, max-age=600")),
                )
                .rule("*.pdf", None),
        )
        .cache_control(Some(HeaderValue::from_static("max-age=60")));
    let expect = [
        ("/assets/index-CWn8iCZ_.css", "public, max-age=600"),
        ("/report-20240101.pdf", "<none>"),
        ("/assets/index-D_6Ay_gG.js", IMMUTABLE),
        ("/vendor/bootstrap.min.js", "max-age=60"),
        ("/", "max-age=60"),
    ];
    for (uri, want) in expect {
        assert_eq!(cache_control(&files, uri, &[]).await.1, want, "{uri}");
    }
    let off = files.cache_policy(CachePolicy::new().detect_hashed(false));
    assert_eq!(
        cache_control(&off, "/assets/index-D_6Ay_gG.js", &[])
            .await
            .1,
        "no-cache"
    );
}
