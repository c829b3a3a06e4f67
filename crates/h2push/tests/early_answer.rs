//! An answer sent before the request body was read reaches real clients: after the response,
//! the rest of the body is read and discarded (up to a bound) instead of resetting the stream
//! under an upload that is still going. Uses `curl`; skipped without it unless
//! `H2PUSH_REQUIRE_EXTERNAL` is set (then it fails).

mod common;

use std::process::Command;
use std::time::Duration;

use axum::routing::post;
use axum::Router;
use http::StatusCode;

fn curl_available() -> bool {
    if Command::new("curl").arg("--version").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("H2PUSH_REQUIRE_EXTERNAL").is_none(),
        "curl is required (scripts/install-test-deps installs it)"
    );
    eprintln!("skipped: curl not installed");
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_sees_a_401_sent_before_the_body_was_read() {
    if !curl_available() {
        return;
    }
    // Answers at once, never reading the body (like a publish with a wrong token).
    let app = Router::new().route(
        "/publish",
        post(|| async { (StatusCode::UNAUTHORIZED, "missing token\n") }),
    );
    let srv = common::start(app).await;
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body.bin");
    std::fs::write(&body, vec![b'x'; 16 * 1024 * 1024]).unwrap();
    let url = format!("https://127.0.0.1:{}/publish", srv.tls.port());
    let data = format!("@{}", body.display());
    let mut seen = Vec::new();
    for _ in 0..20 {
        let (url, data) = (url.clone(), data.clone());
        let out = tokio::task::spawn_blocking(move || {
            Command::new("curl")
                .args(["-sS", "-k", "--http2", "--max-time", "10"])
                .args(["-o", "/dev/null", "-w", "%{http_code}"])
                .args(["-H", "content-type: application/octet-stream"])
                .args(["--data-binary", &data, &url])
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        seen.push(format!(
            "exit {:?} code {} {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let good = seen
        .iter()
        .filter(|s| *s == "exit Some(0) code 401 ")
        .count();
    assert_eq!(good, 20, "curl runs: {seen:#?}");
    tokio::time::sleep(Duration::from_millis(10)).await;
}
