//! Path traversal and hidden files: every vector must answer 400 or 404 and never the content
//! of a file outside the root. The fixture puts `secret.txt` (and a secret directory) next to
//! the root, and a `.git` directory and `.env` file inside it.

use bytes::Bytes;
use h2push::StaticFiles;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

const SECRET: &str = "TOP-SECRET-CONTENT";

/// `outer/secret.txt`, `outer/secretdir/inner.txt`, and the root `outer/root`.
fn fixture() -> (tempfile::TempDir, StaticFiles) {
    let outer = tempfile::tempdir().unwrap();
    let o = outer.path();
    std::fs::write(o.join("secret.txt"), SECRET).unwrap();
    std::fs::create_dir(o.join("secretdir")).unwrap();
    std::fs::write(o.join("secretdir/inner.txt"), SECRET).unwrap();
    std::fs::write(o.join("secretdir/index.html"), SECRET).unwrap();
    let root = o.join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("index.html"), "home").unwrap();
    std::fs::write(root.join("sub/file.txt"), "public").unwrap();
    std::fs::create_dir(root.join(".git")).unwrap();
    std::fs::write(root.join(".git/config"), SECRET).unwrap();
    std::fs::write(root.join(".env"), SECRET).unwrap();
    std::fs::create_dir(root.join(".well-known")).unwrap();
    std::fs::write(root.join(".well-known/security.txt"), "contact").unwrap();
    let files = StaticFiles::new(&root).unwrap();
    (outer, files)
}

async fn get(files: &StaticFiles, uri: &str) -> (StatusCode, Bytes) {
    let req = Request::get(uri).body(()).unwrap();
    let res = files.clone().oneshot(req).await.unwrap();
    let status = res.status();
    (status, res.into_body().collect().await.unwrap().to_bytes())
}

/// Asserts `uri` is refused with `expected` and does not leak the secret.
async fn refused(files: &StaticFiles, uri: &str, expected: StatusCode) {
    let (status, body) = get(files, uri).await;
    assert_eq!(status, expected, "{uri}");
    assert!(
        !String::from_utf8_lossy(&body).contains(SECRET),
        "{uri} leaked the secret"
    );
}

const BAD: StatusCode = StatusCode::BAD_REQUEST;
const NOT_FOUND: StatusCode = StatusCode::NOT_FOUND;

#[tokio::test]
async fn sanity_public_files_are_served() {
    let (_o, files) = fixture();
    assert_eq!(
        get(&files, "/sub/file.txt").await,
        (StatusCode::OK, "public".into())
    );
    assert_eq!(get(&files, "/").await, (StatusCode::OK, "home".into()));
}

#[tokio::test]
async fn dot_dot_segments() {
    let (_o, files) = fixture();
    refused(&files, "/../secret.txt", BAD).await;
    refused(&files, "/sub/../../secret.txt", BAD).await;
    refused(&files, "/sub/../index.html", BAD).await;
    refused(&files, "/..", BAD).await;
    refused(&files, "/../secretdir/", BAD).await;
}

#[tokio::test]
async fn encoded_dot_dot_lowercase() {
    let (_o, files) = fixture();
    refused(&files, "/%2e%2e/secret.txt", BAD).await;
    refused(&files, "/sub/%2e%2e/%2e%2e/secret.txt", BAD).await;
    refused(&files, "/.%2e/secret.txt", BAD).await;
}

#[tokio::test]
async fn encoded_dot_dot_mixed_case() {
    let (_o, files) = fixture();
    refused(&files, "/%2E%2e/secret.txt", BAD).await;
    refused(&files, "/%2E%2E/secret.txt", BAD).await;
    refused(&files, "/%2e./secret.txt", BAD).await;
}

#[tokio::test]
async fn encoded_slash_inside_a_segment() {
    let (_o, files) = fixture();
    refused(&files, "/..%2fsecret.txt", BAD).await;
    refused(&files, "/..%2Fsecret.txt", BAD).await;
    refused(&files, "/sub%2ffile.txt", BAD).await;
    refused(&files, "/%2e%2e%2fsecret.txt", BAD).await;
}

#[tokio::test]
async fn raw_backslashes() {
    let (_o, files) = fixture();
    // The `http` crate accepts a raw `\` in a path; we must not.
    refused(&files, "/..\\secret.txt", BAD).await;
    refused(&files, "/sub\\..\\..\\secret.txt", BAD).await;
    refused(&files, "/sub\\file.txt", BAD).await;
}

#[tokio::test]
async fn encoded_backslashes() {
    let (_o, files) = fixture();
    refused(&files, "/..%5csecret.txt", BAD).await;
    refused(&files, "/..%5Csecret.txt", BAD).await;
    refused(&files, "/%2e%2e%5csecret.txt", BAD).await;
}

#[tokio::test]
async fn nul_bytes() {
    let (_o, files) = fixture();
    refused(&files, "/index.html%00", BAD).await;
    refused(&files, "/index.html%00.txt", BAD).await;
    refused(&files, "/%00", BAD).await;
}

#[tokio::test]
async fn invalid_utf8_after_decoding() {
    let (_o, files) = fixture();
    refused(&files, "/%ff", BAD).await;
    refused(&files, "/sub/%c3%28.txt", BAD).await;
    refused(&files, "/%80%2e%2e/secret.txt", BAD).await;
}

#[tokio::test]
async fn absolute_looking_paths() {
    let (outer, files) = fixture();
    let secret = outer.path().join("secret.txt");
    let secret = secret.to_str().unwrap();
    // `//<absolute path>`: the empty segments are dropped, it stays under the root.
    refused(&files, &format!("/{secret}"), NOT_FOUND).await;
    refused(&files, "//etc/passwd", NOT_FOUND).await;
    refused(&files, "/%2fetc%2fpasswd", BAD).await;
    // An absolute-form request target carries the same path rules.
    refused(&files, "http://example.com/../secret.txt", BAD).await;
    refused(&files, "http://example.com/%2e%2e/secret.txt", BAD).await;
    // Windows-style drive paths are just odd names here.
    refused(&files, "/C:/Windows/win.ini", NOT_FOUND).await;
    refused(&files, "/c:%5cwindows", BAD).await;
    // Not an origin-form path at all.
    refused(&files, "*", BAD).await;
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_out_of_the_root_are_404() {
    use std::os::unix::fs::symlink;
    let (outer, files) = fixture();
    let o = outer.path();
    let root = files.root().to_owned();
    symlink(o.join("secret.txt"), root.join("leak.txt")).unwrap();
    symlink(o.join("secretdir"), root.join("leakdir")).unwrap();
    symlink("../../secret.txt", root.join("sub/relative-leak.txt")).unwrap();
    symlink(o.join("secretdir/index.html"), root.join("sub/index.html")).unwrap();
    refused(&files, "/leak.txt", NOT_FOUND).await;
    refused(&files, "/leakdir/inner.txt", NOT_FOUND).await;
    refused(&files, "/leakdir/", NOT_FOUND).await;
    refused(&files, "/sub/relative-leak.txt", NOT_FOUND).await;
    // An index file that is a symlink out of the root.
    refused(&files, "/sub/", NOT_FOUND).await;
    // A dangling symlink.
    symlink(o.join("nowhere"), root.join("dangling")).unwrap();
    refused(&files, "/dangling", NOT_FOUND).await;
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_inside_the_root_are_fine() {
    use std::os::unix::fs::symlink;
    let (_o, files) = fixture();
    let root = files.root().to_owned();
    symlink(root.join("sub/file.txt"), root.join("alias.txt")).unwrap();
    symlink(root.join("sub"), root.join("subalias")).unwrap();
    assert_eq!(
        get(&files, "/alias.txt").await,
        (StatusCode::OK, "public".into())
    );
    assert_eq!(
        get(&files, "/subalias/file.txt").await,
        (StatusCode::OK, "public".into())
    );
    // But not into a hidden directory.
    symlink(root.join(".git/config"), root.join("gitconfig")).unwrap();
    refused(&files, "/gitconfig", NOT_FOUND).await;
}

#[cfg(unix)]
#[tokio::test]
async fn precompressed_sibling_symlinked_out_of_the_root_is_ignored() {
    use std::os::unix::fs::symlink;
    let (outer, files) = fixture();
    let root = files.root().to_owned();
    symlink(
        outer.path().join("secret.txt"),
        root.join("sub/file.txt.br"),
    )
    .unwrap();
    let req = Request::get("/sub/file.txt")
        .header(http::header::ACCEPT_ENCODING, "br")
        .body(())
        .unwrap();
    let res = files.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get(http::header::CONTENT_ENCODING).is_none());
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "public");
}

#[tokio::test]
async fn hidden_files_are_404() {
    let (_o, files) = fixture();
    refused(&files, "/.git/config", NOT_FOUND).await;
    refused(&files, "/.git/", NOT_FOUND).await;
    refused(&files, "/.git", NOT_FOUND).await;
    refused(&files, "/.env", NOT_FOUND).await;
    refused(&files, "/%2eenv", NOT_FOUND).await;
    refused(&files, "/sub/.hidden", NOT_FOUND).await;
    // RFC 8615 well-known URIs are the exception.
    assert_eq!(
        get(&files, "/.well-known/security.txt").await,
        (StatusCode::OK, "contact".into())
    );
}

#[tokio::test]
async fn lookup_obeys_the_same_rules() {
    let (_o, files) = fixture();
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/.env",
        "/a%00",
        "/%ff",
    ] {
        assert!(files.lookup(path).await.is_none(), "{path}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Paths built from traversal-prone pieces never reach the secret.
    #[test]
    fn generated_paths_never_leak(pieces in proptest::collection::vec(
        proptest::sample::select(vec![
            "..", "%2e%2e", "%2E%2e", ".", "%2e", "secret.txt", "secretdir", "inner.txt", "sub",
            "%2f", "%5c", "\\", "%00", "%ff", "", ".git", "config", "root", "index.html",
        ]),
        0..8,
    )) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (_o, files) = fixture();
        let uri = format!("/{}", pieces.join("/"));
        let (status, body) = rt.block_on(get(&files, &uri));
        proptest::prop_assert!(!String::from_utf8_lossy(&body).contains(SECRET), "{uri}");
        proptest::prop_assert!(
            status.is_success() || status.is_redirection() || status == 400 || status == 404,
            "{uri}: {status}"
        );
    }
}
