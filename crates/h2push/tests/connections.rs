//! Protocols and connection life: HTTP/1.1 over TLS, h2c and HTTP/1.1 on the plaintext port,
//! request extensions, idle timeout, graceful shutdown.

mod common;

use std::time::Duration;

use axum::routing::get;
use axum::{Extension, Router};
use h2push::probe::probe;
use h2push::{Limits, PeerAddr, Protocol};
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn app() -> Router {
    Router::new()
        .route(
            "/who",
            get(
                |Extension(PeerAddr(peer)): Extension<PeerAddr>,
                 Extension(proto): Extension<Protocol>| async move {
                    format!("{proto} {}", peer.ip())
                },
            ),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                "slow done"
            }),
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_over_tls_carries_peer_and_protocol() {
    let srv = common::start(app()).await;
    let report = probe(&srv.opts("/who")).await.unwrap();
    assert_eq!(report.alpn.as_deref(), Some("h2"));
    assert_eq!(&report.exchanges[0].response.body[..], b"h2 127.0.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_prior_knowledge_on_the_plaintext_port() {
    let srv = common::start(app()).await;
    let report = probe(&srv.opts_h2c("/who")).await.unwrap();
    assert_eq!(&report.exchanges[0].response.body[..], b"h2c 127.0.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_on_the_plaintext_port() {
    let srv = common::start(app()).await;
    let (status, text) = common::get_http1(srv.plain, "/who").await;
    assert_eq!(status, 200);
    assert!(text.ends_with("http/1.1 127.0.0.1"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_over_tls_when_alpn_picks_it() {
    let srv = common::start(app()).await;
    let config = h2push::tls::insecure_client_config(&[b"http/1.1"]);
    let connector = tokio_rustls::TlsConnector::from(config);
    let tcp = tokio::net::TcpStream::connect(srv.tls).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    tls.write_all(b"GET /who HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("https/1.1 127.0.0.1"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_drains_an_in_flight_request() {
    let srv = common::start(app()).await;
    let opts = srv.opts("/slow");
    let in_flight = tokio::spawn(async move { probe(&opts).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    let tls = srv.tls;
    srv.stop().await;
    let report = in_flight
        .await
        .unwrap()
        .expect("the in-flight request finishes");
    assert_eq!(report.exchanges[0].response.status, StatusCode::OK);
    assert_eq!(&report.exchanges[0].response.body[..], b"slow done");
    assert!(started.elapsed() < Duration::from_secs(5));
    // No longer accepting.
    assert!(tokio::net::TcpStream::connect(tls).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_grace_bounds_a_request_that_never_ends() {
    let app = Router::new().route(
        "/forever",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            "never"
        }),
    );
    let limits = Limits {
        shutdown_grace: Duration::from_millis(300),
        ..Limits::default()
    };
    let srv = common::start_with(app, limits).await;
    let opts = srv.opts_h2c("/forever");
    let in_flight = tokio::spawn(async move { probe(&opts).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    srv.stop().await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(in_flight.await.unwrap().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_h2_connection_is_closed() {
    let limits = Limits {
        idle_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let srv = common::start_with(app(), limits).await;
    let tcp = tokio::net::TcpStream::connect(srv.plain).await.unwrap();
    let (mut client, conn) = h2::client::handshake(tcp).await.unwrap();
    let conn = tokio::spawn(conn);
    let req = http::Request::get("http://127.0.0.1/who").body(()).unwrap();
    let (res, _) = client.send_request(req, true).unwrap();
    assert_eq!(res.await.unwrap().status(), StatusCode::OK);
    // The server's GOAWAY ends the connection well before this bound.
    let ended = tokio::time::timeout(Duration::from_secs(5), conn).await;
    assert!(ended.is_ok(), "the idle connection was not closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_the_idle_connection_makes_room() {
    let limits = Limits {
        max_connections: 1,
        ..Limits::default()
    };
    let srv = common::start_with(app(), limits).await;
    // A connection that says nothing is idle: the next one takes its slot.
    let mut first = tokio::net::TcpStream::connect(srv.plain).await.unwrap();
    common::wait_for(|| srv.stats.open() == 1, "the first connection is admitted").await;
    let (status, text) = common::get_http1(srv.plain, "/who").await;
    assert_eq!(status, 200, "{text}");
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(5), first.read(&mut buf))
        .await
        .expect("the idle connection is closed in time");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    assert_eq!(srv.stats.evicted(), 1, "{:?}", srv.stats);
    assert_eq!(srv.stats.refused(), 0, "{:?}", srv.stats);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_an_idle_h2_connection_gets_a_goaway() {
    let limits = Limits {
        max_connections: 1,
        ..Limits::default()
    };
    let srv = common::start_with(app(), limits).await;
    let tcp = tokio::net::TcpStream::connect(srv.plain).await.unwrap();
    let (mut client, conn) = h2::client::handshake(tcp).await.unwrap();
    let conn = tokio::spawn(conn);
    let req = http::Request::get("http://127.0.0.1/who").body(()).unwrap();
    let (res, _) = client.send_request(req, true).unwrap();
    assert_eq!(res.await.unwrap().status(), StatusCode::OK);
    let (status, text) = common::get_http1(srv.plain, "/who").await;
    assert_eq!(status, 200, "{text}");
    let ended = tokio::time::timeout(Duration::from_secs(5), conn)
        .await
        .expect("the evicted HTTP/2 connection ends in time");
    // A GOAWAY(NO_ERROR) ends the client's connection without an error.
    assert!(matches!(ended, Ok(Ok(()))), "{ended:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_with_nothing_idle_new_connections_are_refused() {
    let limits = Limits {
        max_connections: 1,
        ..Limits::default()
    };
    let srv = common::start_with(app(), limits).await;
    let opts = srv.opts_h2c("/slow");
    let busy = tokio::spawn(async move { probe(&opts).await });
    common::wait_for(|| srv.stats.open() == 1, "the busy connection is admitted").await;
    // Give its request time to start (the slot is busy from then on).
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut second = tokio::net::TcpStream::connect(srv.plain).await.unwrap();
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(5), second.read(&mut buf))
        .await
        .expect("closed in time");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    assert_eq!(srv.stats.refused(), 1, "{:?}", srv.stats);
    let report = busy
        .await
        .unwrap()
        .expect("the busy request is not disturbed");
    assert_eq!(&report.exchanges[0].response.body[..], b"slow done");
}
