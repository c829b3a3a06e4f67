//! Shared helpers of the `sse_http*` and `sse_redis*` tests: a plaintext server on a free
//! port (HTTP/1.1 and h2c), HTTP/2 and HTTP/1.1 clients that read event streams, and a
//! publisher. Every wait is bounded.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use h2push::sse::{Item, ParsedEvent, Parser};
use h2push::{HttpService, Server, ShutdownHandle};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

pub const WAIT: Duration = Duration::from_secs(10);

/// `fut`, or a panic naming `what` after [`WAIT`].
pub async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// A running plaintext server (HTTP/1.1 and h2c); shut down when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    handle: ShutdownHandle,
    task: Option<JoinHandle<()>>,
}

pub async fn serve<S: HttpService>(svc: S) -> TestServer {
    let server = Server::builder()
        .bind_plain("127.0.0.1:0".parse().unwrap())
        .build()
        .expect("bind");
    let addr = server.plain_addrs()[0];
    let handle = server.shutdown_handle();
    let task = tokio::spawn(server.serve(svc));
    TestServer {
        addr,
        handle,
        task: Some(task),
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

enum Source {
    H2(h2::RecvStream),
    H1(hyper::body::Incoming),
}

/// Reads an event stream's body and parses it.
pub struct EventReader {
    source: Source,
    parser: Parser,
    items: VecDeque<Item>,
    pub ended: bool,
}

impl EventReader {
    fn new(source: Source) -> EventReader {
        EventReader {
            source,
            parser: Parser::new(),
            items: VecDeque::new(),
            ended: false,
        }
    }

    /// The next chunk of the body, `None` at its end.
    async fn chunk(&mut self) -> Option<Bytes> {
        match &mut self.source {
            Source::H2(recv) => {
                let data = recv.data().await?.ok()?;
                let _ = recv.flow_control().release_capacity(data.len());
                Some(data)
            }
            Source::H1(body) => loop {
                let frame = body.frame().await?.ok()?;
                if let Ok(data) = frame.into_data() {
                    return Some(data);
                }
            },
        }
    }

    /// The next item (event, comment, retry), `None` at the end of the stream.
    pub async fn next_item(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.items.pop_front() {
                return Some(item);
            }
            if self.ended {
                return None;
            }
            match within("the next chunk of an event stream", self.chunk()).await {
                Some(c) => self.items.extend(self.parser.feed_items(&c)),
                None => self.ended = true,
            }
        }
    }

    /// The next `n` events, skipping comments and retry fields.
    pub async fn events(&mut self, n: usize) -> Vec<ParsedEvent> {
        let mut out = Vec::new();
        while out.len() < n {
            match self.next_item().await {
                Some(Item::Event(e)) => out.push(e),
                Some(_) => {}
                None => panic!("stream ended after {} of {n} events: {out:?}", out.len()),
            }
        }
        out
    }

    /// Everything until the stream ends.
    pub async fn rest(&mut self) -> Vec<Item> {
        let mut out = Vec::new();
        while let Some(i) = self.next_item().await {
            out.push(i);
        }
        out
    }

    /// Whether an event (not a comment) arrives within `d`.
    pub async fn quiet_for(&mut self, d: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            match tokio::time::timeout_at(deadline, self.next_item()).await {
                Err(_) => return true,
                Ok(Some(Item::Event(_))) => return false,
                Ok(None) => return true,
                Ok(Some(_)) => {}
            }
        }
    }
}

/// An HTTP/2 (h2c prior knowledge) client connection.
pub struct H2 {
    send: h2::client::SendRequest<Bytes>,
    pub addr: SocketAddr,
}

impl H2 {
    pub async fn connect(addr: SocketAddr) -> H2 {
        H2::connect_with(addr, h2::client::Builder::new()).await
    }

    /// With small windows, for a client that reads slowly or never.
    pub async fn connect_with(addr: SocketAddr, builder: h2::client::Builder) -> H2 {
        let tcp = within("connect", TcpStream::connect(addr)).await.unwrap();
        let (send, conn) = within("h2 handshake", builder.handshake(tcp))
            .await
            .unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        H2 { send, addr }
    }

    /// Sends a request; returns the head and the body stream.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (http::response::Parts, h2::RecvStream) {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(()).unwrap();
        let send = within("h2 ready", self.send.clone().ready()).await.unwrap();
        let mut send = send;
        let (res, mut stream) = send.send_request(req, body.is_empty()).unwrap();
        if !body.is_empty() {
            stream
                .send_data(Bytes::from(body.to_owned()), true)
                .unwrap();
        }
        let res = within("h2 response head", res).await.unwrap();
        res.into_parts()
    }

    /// Subscribes; returns the head and a reader.
    pub async fn get(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (http::response::Parts, EventReader) {
        let (parts, body) = self.request("GET", path, headers, "").await;
        (parts, EventReader::new(Source::H2(body)))
    }
}

/// Subscribes over a new HTTP/1.1 connection.
pub async fn h1_get(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (http::response::Parts, EventReader) {
    let (parts, body) = h1_request(addr, "GET", path, headers, "").await;
    (parts, EventReader::new(Source::H1(body)))
}

async fn h1_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (http::response::Parts, hyper::body::Incoming) {
    let tcp = within("connect", TcpStream::connect(addr)).await.unwrap();
    let (mut send, conn) = within(
        "h1 handshake",
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(tcp)),
    )
    .await
    .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
    let res = within("h1 response head", send.send_request(req))
        .await
        .unwrap();
    res.into_parts()
}

/// A whole HTTP/1.1 exchange: status, head, body text.
pub async fn h1_fetch(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, HeaderMap, String) {
    let (parts, incoming) = h1_request(addr, method, path, headers, body).await;
    let bytes = within("h1 body", incoming.collect())
        .await
        .unwrap()
        .to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// `POST /publish` as a form with a bearer token; returns the new event id.
pub async fn publish(addr: SocketAddr, token: &str, topic: &str, data: &str) -> String {
    let form = serde_urlencoded::to_string([("topic", topic), ("data", data)]).unwrap();
    let auth = format!("Bearer {token}");
    let (status, _, body) = h1_fetch(
        addr,
        "POST",
        "/publish",
        &[
            ("authorization", &auth),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        &form,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["id"].as_str().unwrap().to_owned()
}

pub fn data(events: &[ParsedEvent]) -> Vec<&str> {
    events.iter().map(|e| e.data.as_str()).collect()
}
