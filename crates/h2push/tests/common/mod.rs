//! Shared helpers for the integration tests: a server on free loopback ports, a small site
//! with a secret file next to it, and probe options that trust the test certificate.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use h2push::probe::ProbeOptions;
use h2push::server::ConnStats;
use h2push::tls::TlsIdentity;
use h2push::{HttpService, Limits, Server, ShutdownHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

pub const CSS: &str = "body { color: rebeccapurple }\n";
pub const JS: &str = "console.log('pushed');\n";
pub const INDEX: &str =
    "<!doctype html><link rel=stylesheet href=/style.css><script src=/app.js></script>\n";
pub const SECRET: &str = "TOP-SECRET-OUTSIDE-ROOT";

/// A running server; shut down (and its task ended) when dropped.
pub struct TestServer {
    pub tls: SocketAddr,
    pub plain: SocketAddr,
    pub handle: ShutdownHandle,
    pub stats: ConnStats,
    pub task: Option<JoinHandle<()>>,
}

pub async fn start<S: HttpService>(svc: S) -> TestServer {
    start_with(svc, Limits::default()).await
}

pub async fn start_with<S: HttpService>(svc: S, limits: Limits) -> TestServer {
    let identity = TlsIdentity::generate_dev().expect("dev certificate");
    let server = Server::builder()
        .tls(identity.server_config(&[b"h2", b"http/1.1"]).unwrap())
        .limits(limits)
        .bind_tls("127.0.0.1:0".parse().unwrap())
        .bind_plain("127.0.0.1:0".parse().unwrap())
        .build()
        .expect("bind");
    let tls = server.tls_addrs()[0];
    let plain = server.plain_addrs()[0];
    let handle = server.shutdown_handle();
    let stats = server.stats();
    let task = tokio::spawn(server.serve(svc));
    TestServer {
        tls,
        plain,
        handle,
        stats,
        task: Some(task),
    }
}

impl TestServer {
    /// Probe options for `path` over TLS, trusting the test certificate.
    pub fn opts(&self, path: &str) -> ProbeOptions {
        ProbeOptions {
            url: format!("https://127.0.0.1:{}{path}", self.tls.port())
                .parse()
                .unwrap(),
            insecure: true,
            timeout: Duration::from_secs(10),
            push_wait: Duration::from_millis(500),
            ..ProbeOptions::default()
        }
    }

    /// Probe options for `path` over h2c prior knowledge.
    pub fn opts_h2c(&self, path: &str) -> ProbeOptions {
        ProbeOptions {
            url: format!("http://127.0.0.1:{}{path}", self.plain.port())
                .parse()
                .unwrap(),
            ..self.opts(path)
        }
    }

    /// Shuts down and waits (bounded) for the server to finish.
    pub async fn stop(mut self) {
        self.handle.shutdown();
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), t)
                .await
                .expect("server stops in time")
                .expect("server task");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// A site in a temp dir: `root/` with index.html, style.css, app.js, and `secret.txt`
/// next to (outside) the root.
pub struct Site {
    pub dir: tempfile::TempDir,
}

impl Site {
    pub fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("index.html"), INDEX).unwrap();
        std::fs::write(root.join("style.css"), CSS).unwrap();
        std::fs::write(root.join("app.js"), JS).unwrap();
        std::fs::write(dir.path().join("secret.txt"), SECRET).unwrap();
        Site { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn file(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.root().join(rel)).unwrap()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Sends raw bytes as an HTTP/1.1 request on a fresh plaintext connection and returns the
/// status and the whole response text (the request should ask for `Connection: close`).
pub async fn raw_http1(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .expect("response in time")
        .unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// `GET path` over HTTP/1.1 on a fresh plaintext connection.
pub async fn get_http1(addr: SocketAddr, path: &str) -> (u16, String) {
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    raw_http1(addr, req.as_bytes()).await
}

/// Waits (at most 5 s) until `cond` holds; panics naming `what` otherwise.
pub async fn wait_for(cond: impl Fn() -> bool, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
