//! Every state in which a peer can stall a connection has a deadline: each test sets one short
//! and plays the stalling peer, then checks the server's reaction (a closed connection, a
//! reset stream) within a bound far above the setting.

mod common;

use std::time::{Duration, Instant};

use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use h2push::Limits;
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SHORT: Duration = Duration::from_millis(300);
/// A reaction due after `SHORT` must come well within this.
const BOUND: Duration = Duration::from_secs(5);

static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

fn app() -> Router {
    Router::new()
        .route("/small", get(|| async { "small" }))
        .route(
            "/big",
            // 64 MiB in 64 KiB chunks, more than any socket buffers.
            get(|| async {
                let chunks = futures_util::stream::iter(
                    (0..1024).map(|_| Ok::<_, h2push::BoxError>(Bytes::from_static(&ZEROS))),
                );
                axum::body::Body::from_stream(chunks)
            }),
        )
        .route(
            "/upload",
            post(|body: Bytes| async move { format!("{} bytes", body.len()) }),
        )
}

fn short(f: impl FnOnce(&mut Limits)) -> Limits {
    let mut l = Limits::default();
    f(&mut l);
    l
}

/// Reads until the peer closes (or fails the socket); returns what came and how long it took.
async fn read_until_closed(s: &mut (impl AsyncReadExt + Unpin)) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut all = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let closed = tokio::time::timeout(BOUND, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "not closed within {BOUND:?}; read {} bytes: {:?}",
        all.len(),
        String::from_utf8_lossy(&all[..all.len().min(200)])
    );
    (all, started.elapsed())
}

/// The types of the HTTP/2 frames in `bytes` (a server's output, from its first frame).
fn frame_types(bytes: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 9 {
        let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        types.push(rest[3]);
        rest = &rest[(9 + len).min(rest.len())..];
    }
    types
}

const GOAWAY: u8 = 0x7;
const PING: u8 = 0x6;

/// The client preface and an empty SETTINGS frame: a complete HTTP/2 handshake from a client
/// that will then say nothing at all (not even the ACKs).
fn preface() -> Vec<u8> {
    let mut b = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    b.extend_from_slice(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_handshake_that_never_starts_is_closed() {
    let srv = common::start_with(app(), short(|l| l.handshake_timeout = SHORT)).await;
    let mut tcp = TcpStream::connect(srv.tls).await.unwrap();
    let (_, took) = read_until_closed(&mut tcp).await;
    assert!(
        took >= SHORT - Duration::from_millis(50),
        "closed too early: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2_preface_that_never_comes_after_tls_is_closed() {
    let srv = common::start_with(app(), short(|l| l.preface_timeout = SHORT)).await;
    let config = h2push::tls::insecure_client_config(&[b"h2"]);
    let connector = tokio_rustls::TlsConnector::from(config);
    let tcp = TcpStream::connect(srv.tls).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    read_until_closed(&mut tls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_h2c_preface_is_closed() {
    let srv = common::start_with(app(), short(|l| l.preface_timeout = SHORT)).await;
    let mut tcp = TcpStream::connect(srv.plain).await.unwrap();
    tcp.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    read_until_closed(&mut tcp).await;
    assert_eq!(srv.stats.open(), 0, "{:?}", srv.stats);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2c_preface_in_slow_pieces_is_served() {
    let srv = common::start(app()).await;
    let mut tcp = TcpStream::connect(srv.plain).await.unwrap();
    for piece in preface().chunks(4) {
        tcp.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The server answers the preface with its SETTINGS: the sniff handed every byte on.
    let mut head = [0u8; 9];
    tokio::time::timeout(BOUND, tcp.read_exact(&mut head))
        .await
        .expect("the server's SETTINGS in time")
        .unwrap();
    assert_eq!(head[3], 0x4, "first frame {head:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http1_head_that_never_ends_is_closed() {
    let srv = common::start_with(app(), short(|l| l.header_read_timeout = SHORT)).await;
    let mut tcp = TcpStream::connect(srv.plain).await.unwrap();
    tcp.write_all(b"GET /small HTTP/1.1\r\nHost: a\r\n")
        .await
        .unwrap();
    read_until_closed(&mut tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_closed_after_goaway_without_acking_the_ping() {
    let limits = short(|l| {
        l.idle_timeout = SHORT;
        l.goaway_timeout = SHORT;
    });
    let srv = common::start_with(app(), limits).await;
    let mut tcp = TcpStream::connect(srv.plain).await.unwrap();
    tcp.write_all(&preface()).await.unwrap();
    let (bytes, took) = read_until_closed(&mut tcp).await;
    let types = frame_types(&bytes);
    assert!(types.contains(&GOAWAY), "no GOAWAY; frames {types:?}");
    assert!(types.contains(&PING), "no PING; frames {types:?}");
    assert!(took >= SHORT, "closed before the idle timeout: {took:?}");
    common::wait_for(|| srv.stats.open() == 0, "the slot is free").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_the_client_gives_no_window_is_reset_and_the_connection_closed() {
    let srv = common::start_with(app(), short(|l| l.send_timeout = SHORT)).await;
    let tcp = TcpStream::connect(srv.plain).await.unwrap();
    let (mut client, conn) = h2::client::Builder::new()
        .initial_window_size(0)
        .handshake::<_, Bytes>(tcp)
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    let req = http::Request::get("http://127.0.0.1/big").body(()).unwrap();
    let (res, _) = client.send_request(req, true).unwrap();
    let res = tokio::time::timeout(BOUND, res)
        .await
        .expect("the head in time")
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.into_body();
    let data = tokio::time::timeout(BOUND, body.data())
        .await
        .expect("the reset in time");
    let reason = match data {
        Some(Err(e)) => e.reason(),
        other => panic!("expected a reset, got {other:?}"),
    };
    assert_eq!(reason, Some(h2::Reason::CANCEL));
    drop(client);
    // Its only stream stalled: the connection goes too.
    let ended = tokio::time::timeout(BOUND, conn).await;
    assert!(ended.is_ok(), "the connection stayed open");
    common::wait_for(|| srv.stats.open() == 0, "the slot is free").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reads_nothing_loses_its_connection() {
    let srv = common::start_with(app(), short(|l| l.send_timeout = SHORT)).await;
    let mut tcp = TcpStream::connect(srv.plain).await.unwrap();
    let mut hello = preface();
    // SETTINGS with INITIAL_WINDOW_SIZE = 2^31 - 1 replaced the empty one ...
    hello.truncate(24);
    hello.extend_from_slice(&[0, 0, 6, 0x4, 0, 0, 0, 0, 0, 0, 4, 0x7f, 0xff, 0xff, 0xff]);
    // ... a connection WINDOW_UPDATE to the same ...
    hello.extend_from_slice(&[0, 0, 4, 0x8, 0, 0, 0, 0, 0, 0x7f, 0xff, 0x00, 0x00]);
    // ... and GET /big on stream 1 (HPACK: :method GET, :scheme http, :path /big, :authority a).
    let block = [0x82, 0x86, 0x44, 4, b'/', b'b', b'i', b'g', 0x41, 1, b'a'];
    hello.extend_from_slice(&[0, 0, block.len() as u8, 0x1, 0x5, 0, 0, 0, 1]);
    hello.extend_from_slice(&block);
    tcp.write_all(&hello).await.unwrap();
    common::wait_for(|| srv.stats.open() == 1, "the connection is admitted").await;
    // Never read: the socket's buffers fill and the server's writes block.
    let deadline = Instant::now() + BOUND;
    while srv.stats.open() != 0 {
        assert!(Instant::now() < deadline, "still open: {:?}", srv.stats);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2_request_body_that_stalls_resets_its_stream() {
    let srv = common::start_with(app(), short(|l| l.body_idle_timeout = SHORT)).await;
    let tcp = TcpStream::connect(srv.plain).await.unwrap();
    let (mut client, conn) = h2::client::handshake(tcp).await.unwrap();
    let _conn = tokio::spawn(conn);
    let req = http::Request::post("http://127.0.0.1/upload")
        .body(())
        .unwrap();
    let (res, mut send) = client.send_request(req, false).unwrap();
    send.send_data(Bytes::from_static(b"the start and then nothing"), false)
        .unwrap();
    let res = tokio::time::timeout(BOUND, res)
        .await
        .expect("a reaction in time");
    match res {
        Err(e) => assert_eq!(e.reason(), Some(h2::Reason::CANCEL), "{e}"),
        Ok(r) => panic!("expected a reset, got a {} response", r.status()),
    }
    drop(send);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http1_request_body_that_stalls_closes_the_connection() {
    let srv = common::start_with(app(), short(|l| l.body_idle_timeout = SHORT)).await;
    let mut tcp = TcpStream::connect(srv.plain).await.unwrap();
    tcp.write_all(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc")
        .await
        .unwrap();
    let (bytes, _) = read_until_closed(&mut tcp).await;
    let text = String::from_utf8_lossy(&bytes);
    // Whatever the handler made of the failed body, it is not a success.
    assert!(!text.starts_with("HTTP/1.1 200"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_keeps_coming_is_not_timed_out() {
    let srv = common::start_with(app(), short(|l| l.body_idle_timeout = SHORT)).await;
    let tcp = TcpStream::connect(srv.plain).await.unwrap();
    let (mut client, conn) = h2::client::handshake(tcp).await.unwrap();
    let _conn = tokio::spawn(conn);
    let req = http::Request::post("http://127.0.0.1/upload")
        .body(())
        .unwrap();
    let (res, mut send) = client.send_request(req, false).unwrap();
    // Longer in all than the idle timeout, never idle for long.
    for _ in 0..8 {
        send.send_data(Bytes::from_static(b"0123456789"), false)
            .unwrap();
        tokio::time::sleep(SHORT / 4).await;
    }
    send.send_data(Bytes::new(), true).unwrap();
    let res = tokio::time::timeout(BOUND, res)
        .await
        .expect("an answer")
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.into_body();
    let data = body.data().await.unwrap().unwrap();
    assert_eq!(&data[..], b"80 bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http1_keep_alive_connection_is_closed() {
    let limits = short(|l| {
        l.idle_timeout = SHORT;
        l.header_read_timeout = Duration::from_secs(60);
    });
    let srv = common::start_with(app(), limits).await;
    let mut tcp = TcpStream::connect(srv.plain).await.unwrap();
    tcp.write_all(b"GET /small HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let (bytes, took) = read_until_closed(&mut tcp).await;
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("small"), "{text}");
    assert!(
        took >= SHORT - Duration::from_millis(50),
        "closed too early: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_closes_the_connection_at_once() {
    // The default send timeout (60 s) would end it too, much later.
    let srv = common::start(app()).await;
    let mut tcp = TcpStream::connect(srv.plain).await.unwrap();
    let mut flood = preface();
    for _ in 0..2000 {
        flood.extend_from_slice(&[0, 0, 8, PING, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }
    // The server may close before it has read everything: a failed write is fine.
    let _ = tcp.write_all(&flood).await;
    let (_, took) = read_until_closed(&mut tcp).await;
    assert!(took < Duration::from_secs(5), "took {took:?}");
}
