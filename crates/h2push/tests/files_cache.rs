//! The in-memory cache: hits complete without awaiting, edits are seen after revalidation
//! (with the default one-second period, and immediately with a zero period), deleted files
//! and retargeted symlinks are noticed, and concurrent use stays consistent.

use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use h2push::StaticFiles;
use http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use tower::{Service, ServiceExt};

async fn get(files: &StaticFiles, uri: &str) -> (http::response::Parts, Bytes) {
    get_with(files, uri, None).await
}

async fn get_with(
    files: &StaticFiles,
    uri: &str,
    header: Option<(header::HeaderName, &str)>,
) -> (http::response::Parts, Bytes) {
    let mut req = Request::get(uri);
    if let Some((k, v)) = header {
        req = req.header(k, v);
    }
    let res = files.clone().oneshot(req.body(()).unwrap()).await.unwrap();
    let (parts, body) = res.into_parts();
    (parts, body.collect().await.unwrap().to_bytes())
}

fn etag(parts: &http::response::Parts) -> String {
    parts.headers[header::ETAG].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_cache_hit_is_ready_at_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "hello").unwrap();
    let mut files = StaticFiles::new(dir.path())
        .unwrap()
        .revalidate_after(Duration::from_secs(3600));
    // The first request goes to disk...
    assert_eq!(get(&files, "/a.txt").await.1, "hello");
    // ...the next is answered synchronously, body already in memory.
    let fut = files.call(Request::get("/a.txt").body(()).unwrap());
    let res = fut.now_or_never().expect("ready without awaiting").unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.body().as_full().unwrap(), "hello");
    // Rejections are synchronous too.
    let fut = files.call(Request::post("/a.txt").body(()).unwrap());
    assert!(fut.now_or_never().is_some());
}

#[tokio::test]
async fn an_edited_file_gets_a_new_etag_after_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("page.html");
    std::fs::write(&path, "version one").unwrap();
    let files = StaticFiles::new(dir.path()).unwrap();
    let (first, body) = get(&files, "/page.html").await;
    assert_eq!(body, "version one");
    let old = etag(&first);

    std::fs::write(&path, "version two, longer").unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let (second, body) = get(&files, "/page.html").await;
    assert_eq!(body, "version two, longer");
    assert_ne!(etag(&second), old);
    // The old validator no longer matches; the new one does.
    let (res, _) = get_with(&files, "/page.html", Some((header::IF_NONE_MATCH, &old))).await;
    assert_eq!(res.status, StatusCode::OK);
    let new = etag(&second);
    let (res, _) = get_with(&files, "/page.html", Some((header::IF_NONE_MATCH, &new))).await;
    assert_eq!(res.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn within_the_period_the_cached_copy_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.txt");
    std::fs::write(&path, "cached").unwrap();
    let files = StaticFiles::new(dir.path())
        .unwrap()
        .revalidate_after(Duration::from_secs(3600));
    assert_eq!(get(&files, "/a.txt").await.1, "cached");
    std::fs::write(&path, "changed on disk").unwrap();
    assert_eq!(get(&files, "/a.txt").await.1, "cached");
}

#[tokio::test]
async fn same_length_edit_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.txt");
    std::fs::write(&path, "aaaa").unwrap();
    let files = StaticFiles::new(dir.path())
        .unwrap()
        .revalidate_after(Duration::ZERO);
    let (first, _) = get(&files, "/a.txt").await;
    // Make sure the modification time moves even on coarse-grained file systems.
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    std::io::Write::write_all(&mut &f, b"bbbb").unwrap();
    f.set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    drop(f);
    let (second, body) = get(&files, "/a.txt").await;
    assert_eq!(body, "bbbb");
    assert_ne!(etag(&first), etag(&second));
}

#[tokio::test]
async fn a_deleted_file_becomes_404() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gone.txt");
    std::fs::write(&path, "here").unwrap();
    let files = StaticFiles::new(dir.path())
        .unwrap()
        .revalidate_after(Duration::ZERO);
    assert_eq!(get(&files, "/gone.txt").await.0.status, StatusCode::OK);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        get(&files, "/gone.txt").await.0.status,
        StatusCode::NOT_FOUND
    );
    assert!(files.lookup("/gone.txt").await.is_none());
}

#[tokio::test]
async fn a_new_precompressed_sibling_is_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.js"), "identity").unwrap();
    let files = StaticFiles::new(dir.path())
        .unwrap()
        .revalidate_after(Duration::ZERO);
    let br = Some((header::ACCEPT_ENCODING, "br"));
    assert_eq!(get_with(&files, "/app.js", br.clone()).await.1, "identity");
    std::fs::write(dir.path().join("app.js.br"), "BR").unwrap();
    let (res, body) = get_with(&files, "/app.js", br).await;
    assert_eq!(body, "BR");
    assert_eq!(res.headers[header::CONTENT_ENCODING], "br");
}

#[cfg(unix)]
#[tokio::test]
async fn a_symlink_retargeted_out_of_the_root_is_refused() {
    use std::os::unix::fs::symlink;
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("real.txt"), "public").unwrap();
    std::fs::write(outer.path().join("secret.txt"), "SECRET").unwrap();
    symlink(root.join("real.txt"), root.join("link.txt")).unwrap();
    let files = StaticFiles::new(&root)
        .unwrap()
        .revalidate_after(Duration::ZERO);
    assert_eq!(get(&files, "/link.txt").await.1, "public");
    std::fs::remove_file(root.join("link.txt")).unwrap();
    symlink(outer.path().join("secret.txt"), root.join("link.txt")).unwrap();
    let (res, body) = get(&files, "/link.txt").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(!String::from_utf8_lossy(&body).contains("SECRET"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_while_the_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hot.txt");
    let versions: Vec<String> = (0..5)
        .map(|i| format!("v{i}:{}", "x".repeat(i * 100)))
        .collect();
    std::fs::write(&path, &versions[0]).unwrap();
    let files = StaticFiles::new(dir.path())
        .unwrap()
        .revalidate_after(Duration::ZERO);
    let mut tasks = Vec::new();
    for t in 0..16 {
        let files = files.clone();
        let versions = versions.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..40 {
                let uri = if (t + i) % 3 == 0 {
                    "/hot.txt"
                } else {
                    "/./hot.txt"
                };
                let (res, body) = get(&files, uri).await;
                assert_eq!(res.status, StatusCode::OK);
                let len: usize = res.headers[header::CONTENT_LENGTH]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert_eq!(len, body.len(), "Content-Length matches the body");
                // A torn read could mix versions; whatever we got must be a prefix of one.
                let text = String::from_utf8(body.to_vec()).unwrap();
                assert!(versions.iter().any(|v| v.starts_with(&text)), "{text}");
            }
        }));
    }
    for v in &versions[1..] {
        tokio::time::sleep(Duration::from_millis(5)).await;
        std::fs::write(&path, v).unwrap();
    }
    for t in tasks {
        t.await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(get(&files, "/hot.txt").await.1, versions[4].as_str());
}
