//! Path traversal over the network: every vector gets 400 or 404 and never a byte of a file
//! outside the root, over HTTP/1.1 (raw request lines, byte for byte) and HTTP/2.

mod common;

use common::{Site, SECRET};
use h2push::files::StaticFiles;
use h2push::probe::probe;

const VECTORS: &[&str] = &[
    "/../secret.txt",
    "/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2e/secret.txt",
    "/.%2e/secret.txt",
    "/..%2fsecret.txt",
    "/%2e%2e%2fsecret.txt",
    "/..\\secret.txt",
    "/%5c..%5csecret.txt",
    "/..%5csecret.txt",
    "/style.css%00.txt",
    "/%00",
    "/link-out/secret.txt",
    "/link-file",
    "//secret.txt",
    "/./../secret.txt",
    "/%252e%252e/secret.txt",
];

fn site_with_symlinks() -> Site {
    let site = Site::new();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(site.path(), site.root().join("link-out")).unwrap();
        std::os::unix::fs::symlink(
            site.path().join("secret.txt"),
            site.root().join("link-file"),
        )
        .unwrap();
    }
    site
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_vector_reaches_outside_the_root_over_http1() {
    let site = site_with_symlinks();
    let srv = common::start(StaticFiles::new(site.root()).unwrap()).await;
    for v in VECTORS {
        let (status, text) = common::get_http1(srv.plain, v).await;
        assert!(matches!(status, 400 | 404), "{v}: {status}\n{text}");
        assert!(!text.contains(SECRET), "{v} leaked the secret");
    }
    // The site itself is still served.
    let (status, text) = common::get_http1(srv.plain, "/style.css").await;
    assert_eq!(status, 200);
    assert!(text.ends_with(common::CSS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_vector_reaches_outside_the_root_over_h2() {
    let site = site_with_symlinks();
    let srv = common::start(StaticFiles::new(site.root()).unwrap()).await;
    for v in VECTORS {
        // A few vectors are not valid request targets at all; the client refuses to send
        // those, which is as safe as a 400.
        let Ok(url) = format!("https://127.0.0.1:{}{v}", srv.tls.port()).parse() else {
            continue;
        };
        let mut opts = srv.opts("/");
        opts.url = url;
        let report = probe(&opts).await.unwrap();
        let res = &report.exchanges[0].response;
        assert!(
            matches!(res.status.as_u16(), 400 | 404),
            "{v}: {}",
            res.status
        );
        assert!(
            !String::from_utf8_lossy(&res.body).contains(SECRET),
            "{v} leaked"
        );
    }
}
