//! Upstreams for the reverse-proxy tests, all on free loopback ports and ended when dropped:
//! an axum app served by hyper's HTTP/1.1 server, a raw TCP upstream whose every byte the
//! test scripts (for 103s, broken and stalled responses), and a small h2c client.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use h2push::hints::{HintLayer, HintPolicy};
use h2push::proxy::{Proxy, ProxyConfig};
use http::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tower::{Layer, ServiceExt};

use crate::common::{self, TestServer};

/// A task that is aborted when dropped.
pub struct Upstream {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Upstream {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `app` over HTTP/1.1 (keep-alive) on a free port.
pub async fn axum_upstream(app: axum::Router) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let app = app.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| app.clone().oneshot(req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    Upstream { addr, task }
}

/// An upstream that reads each connection's first request head and hands it, with the
/// socket, to `script`.
pub async fn raw_upstream<F, Fut>(script: F) -> Upstream
where
    F: Fn(String, TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let script = Arc::new(script);
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                return;
            };
            let script = script.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                script(String::from_utf8_lossy(&head).into_owned(), tcp).await;
            });
        }
    });
    Upstream { addr, task }
}

/// Writes `bytes` and flushes; errors are the test's to notice elsewhere.
pub async fn write(tcp: &mut TcpStream, bytes: &[u8]) {
    let _ = tcp.write_all(bytes).await;
    let _ = tcp.flush().await;
}

/// A port nothing listens on (bound, then closed).
pub async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

pub fn config(upstream: &str) -> ProxyConfig {
    ProxyConfig::new(upstream.parse().unwrap()).unwrap()
}

/// h2push in front of `config`'s upstream, with the default hint policy (push the upstream's
/// preload links).
pub async fn proxy_server(config: ProxyConfig) -> TestServer {
    let svc = HintLayer::new(HintPolicy::default()).layer(Proxy::new(config));
    common::start(svc).await
}

/// Sends one request over a fresh h2c connection; returns the response head and its body
/// stream (the connection runs in a task until the stream ends).
pub async fn h2c(
    addr: SocketAddr,
    req: Request<()>,
    body: Option<Bytes>,
) -> (http::response::Parts, h2::RecvStream) {
    h2c_head(addr, req, body).await.expect("response head")
}

/// As [`h2c`], but a stream reset before the head is returned, not a panic.
pub async fn h2c_head(
    addr: SocketAddr,
    req: Request<()>,
    body: Option<Bytes>,
) -> Result<(http::response::Parts, h2::RecvStream), h2::Error> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut client, conn) = h2::client::Builder::new()
        .enable_push(false)
        .initial_window_size(1 << 20)
        .handshake::<_, Bytes>(tcp)
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let (res, mut send) = client.send_request(req, body.is_none()).unwrap();
    if let Some(mut body) = body {
        tokio::spawn(async move {
            while !body.is_empty() {
                send.reserve_capacity(body.len().min(1 << 16));
                let cap = match std::future::poll_fn(|cx| send.poll_capacity(cx)).await {
                    Some(Ok(c)) => c,
                    _ => return,
                };
                let chunk = body.split_to(cap.min(body.len()));
                if send.send_data(chunk, body.is_empty()).is_err() {
                    return;
                }
            }
        });
    }
    let res = tokio::time::timeout(Duration::from_secs(10), res)
        .await
        .expect("response head in time")?;
    Ok(res.into_parts())
}

/// Reads a whole h2 body; `Err` if the stream was reset or broke.
pub async fn read_all(recv: &mut h2::RecvStream) -> Result<Vec<u8>, h2::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(20), recv.data())
        .await
        .expect("body data in time")
    {
        let chunk = chunk?;
        let _ = recv.flow_control().release_capacity(chunk.len());
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

pub fn get_req(addr: SocketAddr, path: &str) -> Request<()> {
    Request::get(format!("http://{addr}{path}"))
        .body(())
        .unwrap()
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}
