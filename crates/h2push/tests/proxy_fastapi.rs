//! The seeds' stack behind the proxy: the FastAPI app of `tests/upstreams/fastapi_app.py`
//! under Hypercorn (from the venv `scripts/install-test-deps` makes). Hypercorn pushes nothing
//! for the app's `Link: rel=preload` header; behind h2push an HTTP/2 client gets both pushes
//! and, once the route is known, a 103 before the app has answered.
//!
//! Without the venv the test is skipped, unless `H2PUSH_REQUIRE_EXTERNAL` is set: then it fails.

mod common;
mod proxy_support;

use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use h2push::probe::probe;
use http::{HeaderValue, StatusCode};
use proxy_support::{config, proxy_server};

const CSS: &str = "body { color: teal }\n";
const JS: &str = "console.log('fastapi');\n";

fn venv() -> PathBuf {
    if let Some(v) = std::env::var_os("H2PUSH_TEST_VENV") {
        return v.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("h2push-test-venv")
}

/// Hypercorn, killed and reaped when dropped. It runs in a process group of its own, whose
/// id is its PID: its worker (Hypercorn forks one, even with `--workers 1`) is killed with it
/// by that id, and none outlives the test holding its stderr open.
struct Hypercorn {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Hypercorn {
    fn drop(&mut self) {
        if let Ok(group) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) with a negative PID signals the process group whose id is the
            // group leader's PID; it touches no memory of this process.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_hypercorn() -> Option<Hypercorn> {
    let bin = venv().join("bin/hypercorn");
    if !bin.exists() {
        let msg = format!(
            "{} is missing: run scripts/install-test-deps (venv with hypercorn and fastapi)",
            bin.display()
        );
        if std::env::var_os("H2PUSH_REQUIRE_EXTERNAL").is_some() {
            panic!("{msg}");
        }
        eprintln!("skipped: {msg}");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/upstreams");
    let child = Command::new(&bin)
        .args([
            "--bind",
            &addr.to_string(),
            "--workers",
            "1",
            "fastapi_app:app",
        ])
        .current_dir(dir)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start hypercorn");
    let h = Hypercorn { child, addr };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "hypercorn did not listen on {addr} within 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fastapi_behind_the_proxy_gets_pushes_and_a_103() {
    let Some(up) = start_hypercorn() else {
        return;
    };
    let srv = proxy_server(config(&format!("http://{}", up.addr))).await;
    let mut opts = srv.opts("/");
    opts.headers = vec![(
        "sec-fetch-mode".parse().unwrap(),
        HeaderValue::from_static("navigate"),
    )];

    let first = probe(&opts).await.unwrap();
    let ex = &first.exchanges[0];
    assert_eq!(ex.response.status, StatusCode::OK);
    let promised: Vec<&str> = ex.pushes.iter().map(|p| p.promised_path.as_str()).collect();
    assert_eq!(promised, ["/static/style.css", "/static/app.js"]);
    for (p, want) in ex.pushes.iter().zip([CSS, JS]) {
        assert_eq!(p.status, Some(StatusCode::OK), "{}", p.promised_path);
        assert_eq!(&p.body[..], want.as_bytes());
    }

    let second = probe(&opts).await.unwrap();
    let ex = &second.exchanges[0];
    assert_eq!(ex.response.status, StatusCode::OK);
    assert_eq!(ex.informational.len(), 1, "a 103 from the remembered route");
    let info = &ex.informational[0];
    assert_eq!(info.status, StatusCode::EARLY_HINTS);
    assert_eq!(
        info.links(),
        [
            "</static/style.css>; rel=preload; as=style",
            "</static/app.js>; rel=preload; as=script"
        ]
    );
    // The app thinks for 200 ms: the 103 goes out before it answers.
    assert!(info.at + Duration::from_millis(100) < ex.response.head_at);
    assert_eq!(ex.pushes.len(), 2);
    for p in &ex.pushes {
        assert_eq!(p.status, Some(StatusCode::OK));
    }
    srv.stop().await;
}
