//! Upstreams for the transport tests, on free loopback ports and ended when dropped: a hyper
//! server over tokio-rustls (certificates from an rcgen CA whose PEM is written to a temp
//! file) that answers with the ALPN protocol, SNI name and HTTP version it saw, and an h2c
//! (HTTP/2 only) hyper server with a streamed upload and an SSE-style stream that the test
//! feeds chunk by chunk.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A server task, aborted when dropped.
pub struct Running {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A test CA and one server certificate it signed.
pub struct Pki {
    pub dir: tempfile::TempDir,
    /// The CA's certificate, PEM.
    pub ca_file: PathBuf,
    pub chain: Vec<CertificateDer<'static>>,
    pub key_der: Vec<u8>,
}

/// A CA, and a server certificate for `names` (IP addresses or DNS names) signed by it.
pub fn pki(names: &[&str]) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "h2push test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "h2push test upstream");
    let leaf = params.signed_by(&key, &ca, &ca_key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    Pki {
        dir,
        ca_file,
        chain: vec![leaf.der().clone()],
        key_der: key.serialize_der(),
    }
}

fn server_config(pki: &Pki, alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key_der.clone()));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pki.chain.clone(), key)
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// An HTTPS upstream offering `alpn`; every response body is
/// `alpn=<picked> sni=<name or -> version=<HTTP/x> path=<path>`.
pub async fn tls_upstream(pki: &Pki, alpn: &[&[u8]]) -> Running {
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config(pki, alpn));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return; // the proxy refused our certificate: its business
                };
                let conn = tls.get_ref().1;
                let h2 = conn.alpn_protocol() == Some(b"h2");
                let alpn = conn
                    .alpn_protocol()
                    .map_or("-".to_owned(), |p| String::from_utf8_lossy(p).into_owned());
                let sni = conn.server_name().unwrap_or("-").to_owned();
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let text = format!(
                        "alpn={alpn} sni={sni} version={:?} path={}",
                        req.version(),
                        req.uri().path()
                    );
                    async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(text)))) }
                });
                let io = TokioIo::new(tls);
                if h2 {
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(io, svc)
                        .await;
                } else {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, svc)
                        .await;
                }
            });
        }
    });
    Running { addr, task }
}

/// What the h2c upstream tells the test.
pub enum Seen {
    /// `/upload`'s first body chunk arrived (its length).
    FirstChunk(usize),
    /// `/events` was asked for: send its chunks here (dropping it ends the stream).
    Events(mpsc::Sender<Bytes>),
}

type Out = BoxBody<Bytes, Infallible>;

/// An HTTP/2-only plaintext upstream (prior knowledge). `POST /upload` reads the body frame
/// by frame, reports the first chunk, and answers `version=<HTTP/x> bytes=<n>`; `GET /events`
/// answers `text/event-stream` at once and streams what the test sends; anything else
/// answers `version=<HTTP/x> path=<path>`.
pub async fn h2c_upstream() -> (Running, mpsc::UnboundedReceiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen_tx, seen) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let seen_tx = seen_tx.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let seen_tx = seen_tx.clone();
                    async move { Ok::<_, Infallible>(h2c_answer(req, seen_tx).await) }
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    (Running { addr, task }, seen)
}

async fn h2c_answer(req: Request<Incoming>, seen: mpsc::UnboundedSender<Seen>) -> Response<Out> {
    let version = req.version();
    match req.uri().path() {
        "/upload" => {
            let mut body = req.into_body();
            let mut total = 0;
            let mut first = true;
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { break };
                if let Some(data) = frame.data_ref() {
                    total += data.len();
                    if first && !data.is_empty() {
                        first = false;
                        let _ = seen.send(Seen::FirstChunk(data.len()));
                    }
                }
            }
            text(format!("version={version:?} bytes={total}"))
        }
        "/events" => {
            let (tx, rx) = mpsc::channel::<Bytes>(4);
            let _ = seen.send(Seen::Events(tx));
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                let chunk = rx.recv().await?;
                Some((Ok::<_, Infallible>(Frame::data(chunk)), rx))
            });
            Response::builder()
                .header("content-type", "text/event-stream")
                .header("cache-control", "no-cache")
                .body(BoxBody::new(StreamBody::new(stream)))
                .unwrap()
        }
        path => text(format!("version={version:?} path={path}")),
    }
}

fn text(s: String) -> Response<Out> {
    Response::new(BoxBody::new(Full::new(Bytes::from(s))))
}
