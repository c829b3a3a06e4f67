//! The proxy's upstream transports on loopback: an HTTPS upstream (rcgen CA, tokio-rustls)
//! reached with a CA file, refused without it and reached with the insecure switch, ALPN
//! (h2 or http/1.1, as the upstream picks), SNI from `server_name`; an h2c upstream with a
//! streamed upload and an SSE-style response arriving chunk by chunk; CA file errors.

mod common;
mod proxy_support;
mod transport_support;

use std::time::Duration;

use bytes::Bytes;
use h2push::proxy::{ProxyConfig, UpstreamTls};
use http::{Request, StatusCode};
use proxy_support::{get_req, h2c, proxy_server, read_all};
use rustls::pki_types::ServerName;
use tokio::time::timeout;
use transport_support::*;

const BOTH: &[&[u8]] = &[b"h2", b"http/1.1"];

fn https_config(upstream: &Running) -> ProxyConfig {
    let mut c = ProxyConfig::new(format!("https://{}", upstream.addr).parse().unwrap()).unwrap();
    c.read_timeout = Duration::from_secs(10);
    c
}

/// GET `path` through the proxy; status and body text.
async fn fetch(proxy: &common::TestServer, path: &str) -> (StatusCode, String) {
    let (head, mut body) = h2c(proxy.plain, get_req(proxy.plain, path), None).await;
    let body = read_all(&mut body).await.expect("whole body");
    (head.status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn https_upstream_with_ca_file_speaks_h2() {
    let pki = pki(&["127.0.0.1"]);
    let upstream = tls_upstream(&pki, BOTH).await;
    let mut c = https_config(&upstream);
    c.tls = UpstreamTls::default().load_ca_file(&pki.ca_file).unwrap();
    let proxy = proxy_server(c).await;
    for path in ["/a", "/b"] {
        let (status, body) = fetch(&proxy, path).await;
        assert_eq!(status, StatusCode::OK, "body: {body}");
        assert!(
            body.starts_with("alpn=h2 ") && body.contains("version=HTTP/2.0"),
            "the upstream offered h2; saw: {body}"
        );
        assert!(body.ends_with(&format!("path={path}")), "saw: {body}");
    }
}

#[tokio::test]
async fn https_upstream_picking_http1_gets_http1() {
    let pki = pki(&["127.0.0.1"]);
    let upstream = tls_upstream(&pki, &[b"http/1.1"]).await;
    let mut c = https_config(&upstream);
    c.tls = UpstreamTls::default().load_ca_file(&pki.ca_file).unwrap();
    let proxy = proxy_server(c).await;
    let (status, body) = fetch(&proxy, "/one").await;
    assert_eq!(status, StatusCode::OK, "body: {body}");
    assert!(
        body.starts_with("alpn=http/1.1 ") && body.contains("version=HTTP/1.1"),
        "saw: {body}"
    );
}

#[tokio::test]
async fn untrusted_upstream_is_502_and_insecure_switch_reaches_it() {
    let pki = pki(&["127.0.0.1"]);
    let upstream = tls_upstream(&pki, BOTH).await;

    // The system's roots do not know the test CA.
    let proxy = proxy_server(https_config(&upstream)).await;
    let (status, body) = fetch(&proxy, "/x").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "body: {body}");
    assert!(
        body.contains("TLS handshake failed") && body.contains("certificate"),
        "the 502 should name the TLS error; saw: {body}"
    );

    let mut c = https_config(&upstream);
    c.tls.insecure = true;
    let proxy = proxy_server(c).await;
    let (status, body) = fetch(&proxy, "/x").await;
    assert_eq!(status, StatusCode::OK, "body: {body}");
    assert!(body.starts_with("alpn=h2 "), "saw: {body}");
}

#[tokio::test]
async fn tls_server_name_is_sent_as_sni_and_checked() {
    let pki = pki(&["backend.test"]);
    let upstream = tls_upstream(&pki, BOTH).await;
    let tls = UpstreamTls::default().load_ca_file(&pki.ca_file).unwrap();

    // The URL's host, 127.0.0.1, is not in the certificate.
    let mut c = https_config(&upstream);
    c.tls = tls.clone();
    let proxy = proxy_server(c).await;
    let (status, body) = fetch(&proxy, "/x").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "body: {body}");
    assert!(body.contains("TLS handshake failed"), "saw: {body}");

    let mut c = https_config(&upstream);
    c.tls = tls;
    c.tls.server_name = Some(ServerName::try_from("backend.test").unwrap());
    let proxy = proxy_server(c).await;
    let (status, body) = fetch(&proxy, "/x").await;
    assert_eq!(status, StatusCode::OK, "body: {body}");
    assert!(body.contains("sni=backend.test "), "saw: {body}");
}

#[tokio::test]
async fn h2c_upstream_by_scheme_and_by_switch() {
    let (upstream, _seen) = h2c_upstream().await;
    let c = ProxyConfig::new(format!("h2c://{}", upstream.addr).parse().unwrap()).unwrap();
    let proxy = proxy_server(c).await;
    let (status, body) = fetch(&proxy, "/p").await;
    assert_eq!(status, StatusCode::OK, "body: {body}");
    assert_eq!(body, "version=HTTP/2.0 path=/p");

    let mut c = ProxyConfig::new(format!("http://{}", upstream.addr).parse().unwrap()).unwrap();
    c.http2 = true;
    let proxy = proxy_server(c).await;
    let (status, body) = fetch(&proxy, "/q").await;
    assert_eq!(status, StatusCode::OK, "body: {body}");
    assert_eq!(body, "version=HTTP/2.0 path=/q");
}

#[tokio::test]
async fn h2c_upstream_streams_the_upload_and_the_events() {
    let (upstream, mut seen) = h2c_upstream().await;
    let c = ProxyConfig::new(format!("h2c://{}", upstream.addr).parse().unwrap()).unwrap();
    let proxy = proxy_server(c).await;

    // Upload: the upstream has the first chunk before the client sends the second.
    let tcp = tokio::net::TcpStream::connect(proxy.plain).await.unwrap();
    let (mut client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = Request::post(format!("http://{}/upload", proxy.plain))
        .body(())
        .unwrap();
    let (res, mut send) = client.send_request(req, false).unwrap();
    send.send_data(Bytes::from(vec![b'a'; 1000]), false)
        .unwrap();
    match timeout(Duration::from_secs(10), seen.recv()).await {
        Ok(Some(Seen::FirstChunk(n))) => assert!(n > 0 && n <= 1000, "first chunk {n} bytes"),
        Ok(_) => panic!("the upstream reported something other than the first chunk"),
        Err(_) => panic!("the first chunk did not reach the upstream while the body was open"),
    }
    send.send_data(Bytes::from(vec![b'b'; 500]), true).unwrap();
    let res = timeout(Duration::from_secs(10), res)
        .await
        .expect("upload answered in time")
        .unwrap();
    let status = res.status();
    let mut body = res.into_body();
    let text = String::from_utf8(read_all(&mut body).await.unwrap()).unwrap();
    assert_eq!(status, StatusCode::OK, "body: {text}");
    assert_eq!(text, "version=HTTP/2.0 bytes=1500");

    // Events: each chunk reaches the client before the next is sent.
    let (head, mut events) = h2c(proxy.plain, get_req(proxy.plain, "/events"), None).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.headers["content-type"], "text/event-stream");
    let feed = match timeout(Duration::from_secs(10), seen.recv()).await {
        Ok(Some(Seen::Events(tx))) => tx,
        _ => panic!("the upstream did not report the events request"),
    };
    for n in 1..=3 {
        let event = format!("data: event {n}\n\n");
        feed.send(Bytes::from(event.clone())).await.unwrap();
        let mut got = Vec::new();
        while got.len() < event.len() {
            let chunk = timeout(Duration::from_secs(10), events.data())
                .await
                .unwrap_or_else(|_| panic!("event {n} not passed on; got {got:?} so far"))
                .expect("stream still open")
                .expect("no reset");
            let _ = events.flow_control().release_capacity(chunk.len());
            got.extend_from_slice(&chunk);
        }
        assert_eq!(String::from_utf8_lossy(&got), event);
    }
    drop(feed);
    // The end may come as an empty DATA frame with END_STREAM.
    loop {
        let end = timeout(Duration::from_secs(10), events.data())
            .await
            .expect("the stream ends when the upstream's does");
        match end {
            None => break,
            Some(Ok(b)) if b.is_empty() => continue,
            other => panic!("expected the end, saw {other:?}"),
        }
    }
}

#[test]
fn bad_ca_files_name_the_file_and_the_fault() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let e = UpstreamTls::default().load_ca_file(&missing).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("missing.pem") && msg.contains("cannot read"),
        "{msg}"
    );

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "hello\n").unwrap();
    let msg = UpstreamTls::default()
        .load_ca_file(&garbage)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("garbage.pem") && msg.contains("no PEM certificates"),
        "{msg}"
    );

    let key = dir.path().join("key.pem");
    let kp = rcgen::KeyPair::generate().unwrap();
    std::fs::write(&key, kp.serialize_pem()).unwrap();
    let msg = UpstreamTls::default()
        .load_ca_file(&key)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("key.pem") && msg.contains("private key"),
        "{msg}"
    );

    let bad = dir.path().join("bad.pem");
    std::fs::write(
        &bad,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let msg = UpstreamTls::default()
        .load_ca_file(&bad)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("bad.pem") && msg.contains("certificate 1"),
        "{msg}"
    );
}

#[test]
fn tls_settings_need_an_https_upstream() {
    let mut c = ProxyConfig::new("http://127.0.0.1:1".parse().unwrap()).unwrap();
    c.tls.server_name = Some(ServerName::try_from("a.test").unwrap());
    let e = c.check().unwrap_err().to_string();
    assert!(e.contains("https://"), "{e}");
    let mut c = ProxyConfig::new("https://127.0.0.1:1".parse().unwrap()).unwrap();
    c.http2 = true;
    assert!(c.check().is_err());
    assert!(ProxyConfig::new("ftp://127.0.0.1:1".parse().unwrap()).is_err());
}
