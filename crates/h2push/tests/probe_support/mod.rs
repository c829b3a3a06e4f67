//! A minimal HTTP/2 server for the probe tests, written directly on the `h2` crate's server
//! API: per page it can send a 103 with `link` headers, push resources (or hold their
//! bodies until the client resets them), and it counts connections and logs what it did.
#![allow(dead_code)] // each test file uses a different part of this module

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Every wait in the tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(5);

/// One page the server knows.
#[derive(Clone, Default)]
pub struct Page {
    pub path: &'static str,
    pub body: Bytes,
    /// `link` values of a 103 Early Hints response sent first (none if empty).
    pub links: Vec<&'static str>,
    /// Resources pushed (PUSH_PROMISE, then the response) before the page's response.
    pub pushes: Vec<(&'static str, Bytes)>,
    /// Send the pushed responses' headers but hold their bodies until the client resets the
    /// stream (or 5 s pass).
    pub hold_push_bodies: bool,
    /// Reset the request stream with REFUSED_STREAM instead of answering.
    pub reset: bool,
}

pub enum Mode {
    H2c,
    Tls(Arc<rustls::ServerConfig>),
    /// Accept TCP connections and never answer.
    Silent,
    /// Answer every connection with an HTTP/1.1 response and close it.
    Http11,
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
    pub log: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits (bounded) until `count` log lines contain `needle`; returns the log.
    pub async fn wait_for_log(&self, needle: &str, count: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let log = self.log();
            if log.iter().filter(|l| l.contains(needle)).count() >= count
                || tokio::time::Instant::now() > deadline
            {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

pub async fn start(mode: Mode, pages: Vec<Page>) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let log = Arc::new(Mutex::new(Vec::new()));
    let pages = Arc::new(pages);
    let (conns, log2) = (connections.clone(), log.clone());
    let mode = Arc::new(mode);
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            conns.fetch_add(1, Ordering::SeqCst);
            let (pages, log, mode) = (pages.clone(), log2.clone(), mode.clone());
            match &*mode {
                Mode::Silent => held.push(tcp),
                Mode::Http11 => {
                    tokio::spawn(async move {
                        use tokio::io::AsyncWriteExt as _;
                        let mut tcp = tcp;
                        let _ = tcp
                            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                            .await;
                    });
                }
                Mode::H2c => {
                    tokio::spawn(serve(tcp, "http", pages, log));
                }
                Mode::Tls(config) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
                    tokio::spawn(async move {
                        match acceptor.accept(tcp).await {
                            Ok(tls) => serve(tls, "https", pages, log).await,
                            Err(e) => log.lock().unwrap().push(format!("tls error: {e}")),
                        }
                    });
                }
            }
        }
    });
    TestServer {
        addr,
        connections,
        log,
        task,
    }
}

async fn serve<T>(io: T, scheme: &'static str, pages: Arc<Vec<Page>>, log: Arc<Mutex<Vec<String>>>)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut conn = match h2::server::handshake(io).await {
        Ok(c) => c,
        Err(e) => {
            log.lock().unwrap().push(format!("h2 handshake error: {e}"));
            return;
        }
    };
    while let Some(accepted) = conn.accept().await {
        match accepted {
            Ok((req, respond)) => {
                // The client's SETTINGS arrived before its first request.
                let limit = conn.max_concurrent_send_streams();
                log.lock()
                    .unwrap()
                    .push(format!("client stream limit {limit}"));
                tokio::spawn(handle(req, respond, scheme, pages.clone(), log.clone()));
            }
            Err(e) => {
                log.lock().unwrap().push(format!("connection error: {e}"));
                return;
            }
        }
    }
    log.lock().unwrap().push("connection closed".to_owned());
}

async fn handle(
    req: Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    scheme: &'static str,
    pages: Arc<Vec<Page>>,
    log: Arc<Mutex<Vec<String>>>,
) {
    let note = |line: String| log.lock().unwrap().push(line);
    let headers: Vec<String> = req
        .headers()
        .iter()
        .map(|(n, v)| format!("{n}={}", v.to_str().unwrap_or("?")))
        .collect();
    note(format!(
        "request {} {} {}",
        req.method(),
        req.uri().path(),
        headers.join(" ")
    ));
    let Some(page) = pages.iter().find(|p| p.path == req.uri().path()) else {
        let head = Response::builder().status(404).body(()).unwrap();
        let _ = respond.send_response(head, true);
        return;
    };
    if page.reset {
        respond.send_reset(h2::Reason::REFUSED_STREAM);
        return;
    }
    if !page.links.is_empty() {
        let mut hints = Response::builder().status(StatusCode::EARLY_HINTS);
        for link in &page.links {
            hints = hints.header("link", *link);
        }
        match respond.send_informational(hints.body(()).unwrap()) {
            Ok(()) => note("sent 103".to_owned()),
            Err(e) => note(format!("103 failed: {e}")),
        }
    }
    let authority = req
        .uri()
        .authority()
        .map(|a| a.to_string())
        .unwrap_or_default();
    for &(path, ref body) in &page.pushes {
        // The promised URI must be absolute, or the h2 client resets the pushed stream.
        let promised = Request::get(format!("{scheme}://{authority}{path}"))
            .body(())
            .unwrap();
        let mut pushed = match respond.push_request(promised) {
            Ok(p) => p,
            Err(e) => {
                note(format!("push {path} refused: {e}"));
                continue;
            }
        };
        note(format!("push {path} promised"));
        let head = Response::builder()
            .status(200)
            .header("content-length", body.len())
            .header("content-type", "text/css")
            .body(())
            .unwrap();
        let mut stream = match pushed.send_response(head, false) {
            Ok(s) => s,
            Err(e) => {
                note(format!("push {path} response failed: {e}"));
                continue;
            }
        };
        if page.hold_push_bodies {
            let log = log.clone();
            tokio::spawn(async move {
                let reset =
                    tokio::time::timeout(WAIT, std::future::poll_fn(|cx| stream.poll_reset(cx)))
                        .await;
                let line = match reset {
                    Ok(Ok(reason)) => format!("push {path} reset {reason:?}"),
                    Ok(Err(e)) => format!("push {path} error {e}"),
                    Err(_) => format!("push {path} never reset"),
                };
                log.lock().unwrap().push(line);
            });
        } else if let Err(e) = stream.send_data(body.clone(), true) {
            note(format!("push {path} body failed: {e}"));
        }
    }
    let head = Response::builder()
        .status(200)
        .header("content-type", "text/html")
        .header("content-length", page.body.len())
        .body(())
        .unwrap();
    let is_head = req.method() == http::Method::HEAD;
    match respond.send_response(head, is_head) {
        Ok(_) if is_head => {}
        Ok(mut stream) => {
            if let Err(e) = stream.send_data(page.body.clone(), true) {
                note(format!("body failed: {e}"));
            }
        }
        Err(e) => note(format!("response failed: {e}")),
    }
}

/// The page used by most tests: a 103 with two preload links, and both resources pushed.
pub fn hinted_page() -> Page {
    Page {
        path: "/",
        body: Bytes::from_static(b"<!doctype html><link rel=stylesheet href=/style.css>"),
        links: vec![
            "</style.css>; rel=preload; as=style",
            "</app.js>; rel=preload; as=script",
        ],
        pushes: vec![
            ("/style.css", Bytes::from_static(b"body { color: #123; }")),
            ("/app.js", Bytes::from(vec![b'x'; 40_000])),
        ],
        ..Page::default()
    }
}

pub fn plain_page(path: &'static str, body: &'static str) -> Page {
    Page {
        path,
        body: Bytes::from_static(body.as_bytes()),
        ..Page::default()
    }
}
