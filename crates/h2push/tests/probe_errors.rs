//! The probe's failures: each one is an error (never a panic or a hang) whose message names
//! the address and the cause.

mod probe_support;

use std::time::Duration;

use h2push::probe::{probe, ProbeError, ProbeOptions};
use h2push::tls::TlsIdentity;
use probe_support::{start, Mode, Page, WAIT};

async fn probe_err(url: String, tweak: impl FnOnce(&mut ProbeOptions)) -> ProbeError {
    let mut opts = ProbeOptions {
        url: url.parse().unwrap(),
        timeout: WAIT,
        ..ProbeOptions::default()
    };
    tweak(&mut opts);
    match tokio::time::timeout(WAIT * 2, probe(&opts))
        .await
        .expect("probe did not return")
    {
        Ok(report) => panic!("expected an error, got {}", report.render_text()),
        Err(e) => e,
    }
}

#[tokio::test]
async fn refused_connection_names_the_address() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = probe_err(format!("http://{addr}/"), |_| {}).await;
    assert!(matches!(err, ProbeError::Connect { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("connecting to {addr}: connection refused")
    );
    // The same through connect_to, with the URL naming another host.
    let err = probe_err("https://example.invalid/".into(), |o| {
        o.connect_to = Some(addr)
    })
    .await;
    assert!(err.to_string().contains("connection refused"), "{err}");
}

async fn tls_server(alpn: &[&[u8]]) -> probe_support::TestServer {
    let id = TlsIdentity::generate_dev().unwrap();
    start(Mode::Tls(id.server_config(alpn).unwrap()), vec![]).await
}

#[tokio::test]
async fn http11_only_tls_server_did_not_negotiate_h2() {
    let server = tls_server(&[b"http/1.1"]).await;
    let err = probe_err(format!("https://{}/", server.addr), |o| o.insecure = true).await;
    assert!(matches!(err, ProbeError::NotH2 { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.starts_with(&server.addr.to_string()), "{msg}");
    assert!(msg.contains("server did not negotiate h2"), "{msg}");
}

#[tokio::test]
async fn tls_server_without_alpn_did_not_negotiate_h2() {
    let server = tls_server(&[]).await;
    let err = probe_err(format!("https://{}/", server.addr), |o| o.insecure = true).await;
    assert!(matches!(err, ProbeError::NotH2 { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: server did not negotiate h2 (it selected no ALPN protocol)",
            server.addr
        )
    );
}

#[tokio::test]
async fn self_signed_certificate_needs_k() {
    let server = tls_server(&[b"h2"]).await;
    let err = probe_err(format!("https://{}/", server.addr), |_| {}).await;
    assert!(matches!(err, ProbeError::Tls { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: TLS: certificate not trusted — pass -k for self-signed certificates",
            server.addr
        )
    );
}

#[tokio::test]
async fn https_to_a_cleartext_server_is_a_tls_error() {
    let server = start(Mode::H2c, vec![]).await;
    let err = probe_err(format!("https://{}/", server.addr), |o| o.insecure = true).await;
    assert!(matches!(err, ProbeError::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("http://"), "{err}");
}

#[tokio::test]
async fn h2c_to_an_http11_server_fails_cleanly() {
    let server = start(Mode::Http11, vec![]).await;
    let err = probe_err(format!("http://{}/", server.addr), |_| {}).await;
    assert!(matches!(err, ProbeError::Request { .. }), "{err:?}");
    assert!(err.to_string().starts_with("GET / failed: "), "{err}");
}

#[tokio::test]
async fn silent_server_times_out() {
    let server = start(Mode::Silent, vec![]).await;
    let started = std::time::Instant::now();
    let err = probe_err(format!("http://{}/x", server.addr), |o| {
        o.timeout = Duration::from_millis(300)
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(matches!(err, ProbeError::Timeout { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "probe timed out after 300 ms while waiting for the response to GET /x from {}",
            server.addr
        )
    );
}

#[tokio::test]
async fn reset_request_is_reported() {
    let page = Page {
        path: "/",
        reset: true,
        ..Page::default()
    };
    let server = start(Mode::H2c, vec![page]).await;
    let err = probe_err(format!("http://{}/", server.addr), |_| {}).await;
    assert!(matches!(err, ProbeError::Request { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "GET / failed: the server reset the stream (REFUSED_STREAM)"
    );
}

#[tokio::test]
async fn bad_urls_are_rejected_before_connecting() {
    for (url, needle) in [
        ("ftp://127.0.0.1/", "https:// (TLS) or http:// (h2c)"),
        ("/just/a/path", "absolute URL"),
    ] {
        let err = probe_err(url.into(), |_| {}).await;
        assert!(matches!(err, ProbeError::InvalidUrl { .. }), "{err:?}");
        assert!(err.to_string().contains(needle), "{err}");
    }
    let err = probe_err("http://127.0.0.1:1/".into(), |o| {
        o.extra_paths = vec!["/has space".into()]
    })
    .await;
    assert!(matches!(err, ProbeError::InvalidUrl { .. }), "{err:?}");
}
