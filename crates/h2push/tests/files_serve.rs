//! `StaticFiles` behaviour through its `tower` interface: index files, redirects, MIME types,
//! validators and conditional requests, ranges, HEAD, precompressed siblings, Cache-Control,
//! methods, and streaming of files too large for the cache.

use std::path::Path;

use bytes::Bytes;
use h2push::StaticFiles;
use http::{header, HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

const INDEX: &str = "<!doctype html><title>home</title>";
const CSS: &str = "body { color: red }";
const APP: &str = "console.log('identity');";

/// A site with a few files; the temp dir is returned to keep it alive.
fn site() -> (tempfile::TempDir, StaticFiles) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |name: &str, data: &[u8]| {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    };
    write("index.html", INDEX.as_bytes());
    write("style.css", CSS.as_bytes());
    write("app.js", APP.as_bytes());
    write("app.js.br", b"BROTLI-BYTES");
    write("app.js.gz", b"GZIP-BYTES");
    write("only-gz.txt", b"plain text");
    write("only-gz.txt.gz", b"GZ");
    write("data.json", b"{}");
    write("pixel.png", b"\x89PNG");
    write("blob.unknownext", b"?");
    write("empty.txt", b"");
    write("digits.txt", b"0123456789");
    write("docs/index.html", b"docs index");
    write("docs/guide/page.html", b"guide page");
    std::fs::create_dir_all(root.join("nolist")).unwrap();
    write("nolist/file.txt", b"f");
    let files = StaticFiles::new(root).unwrap();
    (dir, files)
}

async fn send(files: &StaticFiles, req: Request<()>) -> (http::response::Parts, Bytes) {
    let res = files.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    (parts, body.collect().await.unwrap().to_bytes())
}

async fn get(files: &StaticFiles, uri: &str) -> (http::response::Parts, Bytes) {
    send(files, Request::get(uri).body(()).unwrap()).await
}

async fn get_with(
    files: &StaticFiles,
    uri: &str,
    headers: &[(header::HeaderName, &str)],
) -> (http::response::Parts, Bytes) {
    let mut req = Request::get(uri);
    for (k, v) in headers {
        req = req.header(k, *v);
    }
    send(files, req.body(()).unwrap()).await
}

fn h(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(&name)
        .unwrap_or_else(|| panic!("missing {name}"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn serves_a_file_with_its_headers() {
    let (_d, files) = site();
    let (res, body) = get(&files, "/style.css").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(body, CSS);
    assert_eq!(
        h(&res.headers, header::CONTENT_TYPE),
        "text/css; charset=utf-8"
    );
    assert_eq!(
        h(&res.headers, header::CONTENT_LENGTH),
        CSS.len().to_string()
    );
    assert_eq!(h(&res.headers, header::ACCEPT_RANGES), "bytes");
    assert_eq!(h(&res.headers, header::CACHE_CONTROL), "no-cache");
    let etag = h(&res.headers, header::ETAG);
    assert!(etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"));
    httpdate::parse_http_date(h(&res.headers, header::LAST_MODIFIED)).unwrap();
    assert!(
        res.headers.get(header::VARY).is_none(),
        "no siblings, no Vary"
    );
    // A second request (now a cache hit) is identical.
    let (again, body2) = get(&files, "/style.css").await;
    assert_eq!(again.headers, res.headers);
    assert_eq!(body2, body);
}

#[tokio::test]
async fn index_files_and_directory_rules() {
    let (_d, files) = site();
    let (res, body) = get(&files, "/").await;
    assert_eq!((res.status, &body[..]), (StatusCode::OK, INDEX.as_bytes()));
    assert_eq!(
        h(&res.headers, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    let (res, body) = get(&files, "/docs/").await;
    assert_eq!(
        (res.status, &body[..]),
        (StatusCode::OK, &b"docs index"[..])
    );
    let (res, body) = get(&files, "/index.html").await;
    assert_eq!((res.status, &body[..]), (StatusCode::OK, INDEX.as_bytes()));
    // No listing for a directory without an index file.
    let (res, body) = get(&files, "/nolist/").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(!String::from_utf8_lossy(&body).contains("file.txt"));
    // A file with a trailing slash, and a plain miss.
    assert_eq!(
        get(&files, "/style.css/").await.0.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&files, "/nope.html").await.0.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&files, "/style.css/x").await.0.status,
        StatusCode::NOT_FOUND
    );
    // A custom index name.
    let files = files.index_file("page.html");
    let (res, body) = get(&files, "/docs/guide/").await;
    assert_eq!(
        (res.status, &body[..]),
        (StatusCode::OK, &b"guide page"[..])
    );
    assert_eq!(get(&files, "/docs/").await.0.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn directory_without_slash_redirects_keeping_the_query() {
    let (_d, files) = site();
    let (res, _) = get(&files, "/docs").await;
    assert_eq!(res.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(h(&res.headers, header::LOCATION), "/docs/");
    let (res, _) = get(&files, "/docs/guide?x=1&y=%20").await;
    assert_eq!(res.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(h(&res.headers, header::LOCATION), "/docs/guide/?x=1&y=%20");
    // Double slashes are normalised away: the target never becomes `//host/`.
    let (res, _) = get(&files, "//docs").await;
    assert_eq!(h(&res.headers, header::LOCATION), "/docs/");
}

#[tokio::test]
async fn mime_types_from_extensions() {
    let (_d, files) = site();
    for (uri, ct) in [
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/data.json", "application/json; charset=utf-8"),
        ("/pixel.png", "image/png"),
        ("/blob.unknownext", "application/octet-stream"),
        ("/digits.txt", "text/plain; charset=utf-8"),
    ] {
        let (res, _) = get(&files, uri).await;
        assert_eq!(h(&res.headers, header::CONTENT_TYPE), ct, "{uri}");
    }
}

#[tokio::test]
async fn head_has_the_headers_and_no_body() {
    let (_d, files) = site();
    let (get_res, _) = get(&files, "/style.css").await;
    let (res, body) = send(&files, Request::head("/style.css").body(()).unwrap()).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(body.is_empty());
    assert_eq!(res.headers, get_res.headers);
    // HEAD ignores Range.
    let req = Request::head("/digits.txt")
        .header(header::RANGE, "bytes=0-1")
        .body(())
        .unwrap();
    let (res, body) = send(&files, req).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(h(&res.headers, header::CONTENT_LENGTH), "10");
    assert!(body.is_empty());
}

#[tokio::test]
async fn other_methods_are_405() {
    let (_d, files) = site();
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"] {
        let req = Request::builder()
            .method(method)
            .uri("/style.css")
            .body(())
            .unwrap();
        let (res, _) = send(&files, req).await;
        assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(h(&res.headers, header::ALLOW), "GET, HEAD");
    }
}

#[tokio::test]
async fn if_none_match_gives_304() {
    let (_d, files) = site();
    let (res, _) = get(&files, "/style.css").await;
    let etag = h(&res.headers, header::ETAG).to_owned();
    let weak = format!("W/{etag}");
    let list = format!("\"nope\", {etag}");
    for inm in [etag.as_str(), weak.as_str(), list.as_str(), "*"] {
        let (r, body) = get_with(&files, "/style.css", &[(header::IF_NONE_MATCH, inm)]).await;
        assert_eq!(r.status, StatusCode::NOT_MODIFIED, "{inm}");
        assert!(body.is_empty());
        assert_eq!(h(&r.headers, header::ETAG), etag);
        assert_eq!(h(&r.headers, header::CACHE_CONTROL), "no-cache");
        assert!(r.headers.contains_key(header::LAST_MODIFIED));
        assert!(!r.headers.contains_key(header::CONTENT_TYPE));
    }
    let (r, body) = get_with(
        &files,
        "/style.css",
        &[(header::IF_NONE_MATCH, "\"other\"")],
    )
    .await;
    assert_eq!((r.status, &body[..]), (StatusCode::OK, CSS.as_bytes()));
    // HEAD too.
    let req = Request::head("/style.css")
        .header(header::IF_NONE_MATCH, &etag)
        .body(())
        .unwrap();
    assert_eq!(send(&files, req).await.0.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn if_modified_since_gives_304_unless_if_none_match() {
    let (_d, files) = site();
    let (res, _) = get(&files, "/style.css").await;
    let lm = h(&res.headers, header::LAST_MODIFIED).to_owned();
    let (r, body) = get_with(&files, "/style.css", &[(header::IF_MODIFIED_SINCE, &lm)]).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    let old = "Mon, 01 Jan 2001 00:00:00 GMT";
    let (r, _) = get_with(&files, "/style.css", &[(header::IF_MODIFIED_SINCE, old)]).await;
    assert_eq!(r.status, StatusCode::OK);
    // If-None-Match takes precedence: a non-matching tag means 200 despite the date.
    let both = [
        (header::IF_NONE_MATCH, "\"other\""),
        (header::IF_MODIFIED_SINCE, lm.as_str()),
    ];
    assert_eq!(
        get_with(&files, "/style.css", &both).await.0.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn if_match_and_if_unmodified_since_give_412() {
    let (_d, files) = site();
    let (res, _) = get(&files, "/style.css").await;
    let etag = h(&res.headers, header::ETAG).to_owned();
    let (r, _) = get_with(&files, "/style.css", &[(header::IF_MATCH, "\"other\"")]).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let (r, _) = get_with(&files, "/style.css", &[(header::IF_MATCH, &etag)]).await;
    assert_eq!(r.status, StatusCode::OK);
    let old = "Mon, 01 Jan 2001 00:00:00 GMT";
    let (r, _) = get_with(&files, "/style.css", &[(header::IF_UNMODIFIED_SINCE, old)]).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn single_ranges_give_206() {
    let (_d, files) = site();
    for (range, content_range, expected) in [
        ("bytes=2-5", "bytes 2-5/10", &b"2345"[..]),
        ("bytes=7-", "bytes 7-9/10", b"789"),
        ("bytes=-3", "bytes 7-9/10", b"789"),
        ("bytes=0-0", "bytes 0-0/10", b"0"),
        ("bytes=8-100", "bytes 8-9/10", b"89"),
        ("bytes=-100", "bytes 0-9/10", b"0123456789"),
    ] {
        let (res, body) = get_with(&files, "/digits.txt", &[(header::RANGE, range)]).await;
        assert_eq!(res.status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(h(&res.headers, header::CONTENT_RANGE), content_range);
        assert_eq!(
            h(&res.headers, header::CONTENT_LENGTH),
            expected.len().to_string()
        );
        assert_eq!(&body[..], expected, "{range}");
    }
}

#[tokio::test]
async fn unsatisfiable_and_multiple_ranges() {
    let (_d, files) = site();
    for range in ["bytes=10-", "bytes=20-30", "bytes=-0"] {
        let (res, body) = get_with(&files, "/digits.txt", &[(header::RANGE, range)]).await;
        assert_eq!(res.status, StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(h(&res.headers, header::CONTENT_RANGE), "bytes */10");
        assert!(body.is_empty());
    }
    let (res, _) = get_with(&files, "/empty.txt", &[(header::RANGE, "bytes=0-")]).await;
    assert_eq!(res.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(h(&res.headers, header::CONTENT_RANGE), "bytes */0");
    // Several ranges, or nonsense: the whole file with 200.
    for range in ["bytes=0-1,4-5", "bytes=5-2", "lines=1-2"] {
        let (res, body) = get_with(&files, "/digits.txt", &[(header::RANGE, range)]).await;
        assert_eq!(res.status, StatusCode::OK, "{range}");
        assert_eq!(&body[..], b"0123456789");
    }
}

#[tokio::test]
async fn if_range_is_honoured() {
    let (_d, files) = site();
    let (res, _) = get(&files, "/digits.txt").await;
    let etag = h(&res.headers, header::ETAG).to_owned();
    let lm = h(&res.headers, header::LAST_MODIFIED).to_owned();
    for (if_range, status) in [
        (etag.as_str(), StatusCode::PARTIAL_CONTENT),
        (lm.as_str(), StatusCode::PARTIAL_CONTENT),
        ("\"stale\"", StatusCode::OK),
        ("Mon, 01 Jan 2001 00:00:00 GMT", StatusCode::OK),
    ] {
        let hdrs = [(header::RANGE, "bytes=0-3"), (header::IF_RANGE, if_range)];
        let (res, body) = get_with(&files, "/digits.txt", &hdrs).await;
        assert_eq!(res.status, status, "{if_range}");
        let expected: &[u8] = if status == StatusCode::OK {
            b"0123456789"
        } else {
            b"0123"
        };
        assert_eq!(&body[..], expected);
    }
}

#[tokio::test]
async fn precompressed_siblings_follow_accept_encoding() {
    let (_d, files) = site();
    let ae = header::ACCEPT_ENCODING;
    for (accept, body, coding) in [
        (Some("gzip, deflate, br"), &b"BROTLI-BYTES"[..], Some("br")),
        (Some("gzip"), b"GZIP-BYTES", Some("gzip")),
        (Some("br;q=0.5, gzip;q=0.8"), b"GZIP-BYTES", Some("gzip")),
        (Some("br;q=0, gzip"), b"GZIP-BYTES", Some("gzip")),
        (Some("br;q=0, gzip;q=0"), APP.as_bytes(), None),
        (Some("*;q=0"), APP.as_bytes(), None),
        (Some("deflate"), APP.as_bytes(), None),
        (None, APP.as_bytes(), None),
    ] {
        let hdrs: Vec<_> = accept.iter().map(|a| (ae.clone(), *a)).collect();
        let (res, got) = get_with(&files, "/app.js", &hdrs).await;
        assert_eq!(res.status, StatusCode::OK, "{accept:?}");
        assert_eq!(&got[..], body, "{accept:?}");
        assert_eq!(
            res.headers
                .get(header::CONTENT_ENCODING)
                .map(|v| v.to_str().unwrap()),
            coding,
            "{accept:?}"
        );
        assert_eq!(h(&res.headers, header::VARY), "accept-encoding");
        assert_eq!(
            h(&res.headers, header::CONTENT_TYPE),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            h(&res.headers, header::CONTENT_LENGTH),
            body.len().to_string()
        );
    }
    // Each variant has its own ETag, and a 304 for one does not apply to another.
    let (br, _) = get_with(&files, "/app.js", &[(ae.clone(), "br")]).await;
    let (id, _) = get(&files, "/app.js").await;
    let br_tag = h(&br.headers, header::ETAG).to_owned();
    assert_ne!(br_tag, h(&id.headers, header::ETAG));
    let hdrs = [(ae.clone(), "br"), (header::IF_NONE_MATCH, br_tag.as_str())];
    let (res, _) = get_with(&files, "/app.js", &hdrs).await;
    assert_eq!(res.status, StatusCode::NOT_MODIFIED);
    assert_eq!(h(&res.headers, header::VARY), "accept-encoding");
    let (res, _) = get_with(
        &files,
        "/app.js",
        &[(header::IF_NONE_MATCH, br_tag.as_str())],
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    // Only the siblings that exist are offered.
    let (res, got) = get_with(&files, "/only-gz.txt", &[(ae.clone(), "br, gzip")]).await;
    assert_eq!(&got[..], b"GZ");
    assert_eq!(h(&res.headers, header::CONTENT_ENCODING), "gzip");
}

#[tokio::test]
async fn range_requests_get_the_identity_file() {
    let (_d, files) = site();
    let hdrs = [
        (header::ACCEPT_ENCODING, "br, gzip"),
        (header::RANGE, "bytes=0-6"),
    ];
    let (res, body) = get_with(&files, "/app.js", &hdrs).await;
    assert_eq!(res.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(&body[..], &APP.as_bytes()[..7]);
    assert!(res.headers.get(header::CONTENT_ENCODING).is_none());
    assert_eq!(h(&res.headers, header::VARY), "accept-encoding");
}

#[tokio::test]
async fn precompressed_can_be_turned_off() {
    let (_d, files) = site();
    let files = files.precompressed(false);
    let (res, body) = get_with(&files, "/app.js", &[(header::ACCEPT_ENCODING, "br, gzip")]).await;
    assert_eq!(&body[..], APP.as_bytes());
    assert!(res.headers.get(header::CONTENT_ENCODING).is_none());
    assert!(res.headers.get(header::VARY).is_none());
}

#[tokio::test]
async fn cache_control_is_configurable() {
    let (_d, files) = site();
    let value = http::HeaderValue::from_static("public, max-age=31536000, immutable");
    let custom = files.clone().cache_control(Some(value));
    let (res, _) = get(&custom, "/style.css").await;
    assert_eq!(
        h(&res.headers, header::CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    let etag = h(&res.headers, header::ETAG).to_owned();
    let (res, _) = get_with(&custom, "/style.css", &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!(
        h(&res.headers, header::CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    let none = files.cache_control(None);
    let (res, _) = get(&none, "/style.css").await;
    assert!(res.headers.get(header::CACHE_CONTROL).is_none());
}

#[tokio::test]
async fn empty_file() {
    let (_d, files) = site();
    let (res, body) = get(&files, "/empty.txt").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(h(&res.headers, header::CONTENT_LENGTH), "0");
    assert!(body.is_empty());
}

fn big_file(root: &Path, name: &str, len: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(root.join(name), &data).unwrap();
    data
}

#[tokio::test]
async fn large_files_are_streamed() {
    let (dir, files) = site();
    let data = big_file(dir.path(), "big.bin", 1024 * 1024 + 7);
    let res = files
        .clone()
        .oneshot(Request::get("/big.bin").body(()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        h(res.headers(), header::CONTENT_LENGTH),
        data.len().to_string()
    );
    let mut body = res.into_body();
    assert!(body.as_full().is_none(), "streamed, not buffered");
    let mut got = Vec::new();
    while let Some(frame) = body.frame().await {
        let chunk = frame.unwrap().into_data().unwrap();
        assert!(chunk.len() <= 64 * 1024);
        got.extend_from_slice(&chunk);
    }
    assert_eq!(got, data);

    // A range in the middle, HEAD, and a 304 work for streamed files too.
    let (res, body) = get_with(
        &files,
        "/big.bin",
        &[(header::RANGE, "bytes=100000-300000")],
    )
    .await;
    assert_eq!(res.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(&body[..], &data[100_000..=300_000]);
    let (res, body) = send(&files, Request::head("/big.bin").body(()).unwrap()).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(body.is_empty());
    let etag = h(&res.headers, header::ETAG).to_owned();
    let (res, body) = get_with(&files, "/big.bin", &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!(res.status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
}

#[tokio::test]
async fn cache_limits_only_change_where_bytes_come_from() {
    let (dir, files) = site();
    let data = big_file(dir.path(), "mid.bin", 10_000);
    for files in [
        files.clone().max_cached_file_size(0),
        files.clone().max_cache_size(0),
        files.clone().max_cached_file_size(4096),
    ] {
        for _ in 0..2 {
            let (res, body) = get(&files, "/mid.bin").await;
            assert_eq!(res.status, StatusCode::OK);
            assert_eq!(&body[..], &data[..]);
            let (_, body) = get(&files, "/style.css").await;
            assert_eq!(body, CSS);
            let (_, body) = get_with(&files, "/mid.bin", &[(header::RANGE, "bytes=-10")]).await;
            assert_eq!(&body[..], &data[data.len() - 10..]);
        }
    }
}

#[tokio::test]
async fn lookup_reports_what_a_request_would_get() {
    let (_d, files) = site();
    let meta = files.lookup("/style.css").await.unwrap();
    assert_eq!(meta.len, CSS.len() as u64);
    assert_eq!(meta.content_type, "text/css; charset=utf-8");
    assert_eq!(meta.path, files.root().join("style.css"));
    assert!(meta.last_modified.is_some());
    let (res, _) = get(&files, "/style.css").await;
    assert_eq!(res.headers[header::ETAG], meta.etag);
    let docs = files.lookup("/docs/?q=1").await.unwrap();
    assert_eq!(docs.path, files.root().join("docs/index.html"));
    assert!(
        files.lookup("/docs").await.is_none(),
        "a redirect is not a file"
    );
    assert!(files.lookup("/missing").await.is_none());
    assert!(files.lookup("/../etc/passwd").await.is_none());
}

#[cfg(unix)]
#[tokio::test]
async fn special_and_unreadable_files() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, files) = site();
    let root = dir.path();
    // A fifo would block a naive server forever; a socket cannot be read at all.
    let fifo = std::process::Command::new("mkfifo")
        .arg(root.join("pipe"))
        .status();
    if fifo.is_ok_and(|s| s.success()) {
        assert_eq!(get(&files, "/pipe").await.0.status, StatusCode::NOT_FOUND);
    }
    let _sock = std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap();
    assert_eq!(get(&files, "/sock").await.0.status, StatusCode::NOT_FOUND);

    let locked = root.join("locked.txt");
    std::fs::write(&locked, "private").unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&locked).is_ok() {
        // Running as root: permissions are not enforced, nothing to check.
        return;
    }
    let (res, body) = get(&files, "/locked.txt").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(!String::from_utf8_lossy(&body).contains("private"));
}
