//! The engine against the HTTP/2 tools people test servers with — nghttp, h2load and curl,
//! all nghttp2-based but independent of our code — over h2c (prior knowledge) on loopback,
//! through the minimal driver in `driver/`. A missing tool skips its test unless
//! `H2PUSH_REQUIRE_EXTERNAL` is set (then it fails); `scripts/install-test-deps` installs
//! them.

mod driver;

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::time::Duration;

use tokio::net::TcpListener;

fn available(tool: &str) -> bool {
    if Command::new(tool).arg("--version").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("H2PUSH_REQUIRE_EXTERNAL").is_none(),
        "{tool} is required (scripts/install-test-deps installs it)"
    );
    eprintln!("skipped: {tool} not installed");
    false
}

/// Serves every connection on a fresh 127.0.0.1 port until the test ends.
async fn start() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(driver::serve(sock));
        }
    });
    (addr, task)
}

async fn run(tool: &'static str, args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || Command::new(tool).args(&args).output().unwrap())
        .await
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nghttp_sees_the_103_the_push_and_the_page() {
    if !available("nghttp") {
        return;
    }
    let (addr, task) = start().await;
    let out = run(
        "nghttp",
        vec![
            "-nv".into(),
            "-t".into(),
            "10".into(),
            format!("http://{addr}/push"),
        ],
    )
    .await;
    let seen = text(&out);
    assert!(out.status.success(), "{seen}");
    assert!(seen.contains(":status: 103"), "{seen}");
    assert!(seen.contains("recv PUSH_PROMISE"), "{seen}");
    assert!(seen.contains(":path: /pushed.css"), "{seen}");
    assert!(seen.contains(":status: 200"), "{seen}");
    assert!(
        !seen.contains("GOAWAY") || seen.contains("error_code=NO_ERROR"),
        "{seen}"
    );
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nghttp_downloads_a_body_larger_than_every_window() {
    if !available("nghttp") {
        return;
    }
    let (addr, task) = start().await;
    let dir = tempfile_dir();
    let out = run(
        "nghttp",
        vec![
            "-t".into(),
            "10".into(),
            "-w".into(),
            "16".into(),
            "-W".into(),
            "16".into(),
            format!("http://{addr}/big"),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        out.stdout.len(),
        driver::BIG,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(dir);
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2load_completes_every_request() {
    if !available("h2load") {
        return;
    }
    let (addr, task) = start().await;
    let out = run(
        "h2load",
        vec![
            "-n".into(),
            "20000".into(),
            "-c".into(),
            "4".into(),
            "-m".into(),
            "10".into(),
            format!("http://{addr}/style.css"),
        ],
    )
    .await;
    let seen = text(&out);
    assert!(out.status.success(), "{seen}");
    assert!(
        seen.contains("20000 succeeded, 0 failed, 0 errored"),
        "{seen}"
    );
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_sees_the_401_of_an_early_answer_20_times_in_20() {
    if !available("curl") {
        return;
    }
    let (addr, task) = start().await;
    let dir = tempfile_dir();
    let body = dir.join("body.bin");
    std::fs::write(&body, vec![b'x'; 4 * 1024 * 1024]).unwrap();
    let mut seen = Vec::new();
    for _ in 0..20 {
        let out = run(
            "curl",
            vec![
                "-sS".into(),
                "--http2-prior-knowledge".into(),
                "--max-time".into(),
                "10".into(),
                "-o".into(),
                "/dev/null".into(),
                "-w".into(),
                "%{http_code}".into(),
                "--data-binary".into(),
                format!("@{}", body.display()),
                format!("http://{addr}/upload"),
            ],
        )
        .await;
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
    let _ = std::fs::remove_dir_all(&dir);
    task.abort();
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// A fresh directory under the system's temp dir, named for this process.
fn tempfile_dir() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("h2push-h2-interop-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
