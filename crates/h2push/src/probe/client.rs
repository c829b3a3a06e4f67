//! Connection setup for the probe: URL → address, TCP connect, TLS (ALPN `h2` only) or
//! cleartext h2c, and the HTTP/2 client handshake with the probe's SETTINGS.
//!
//! With `-k` it trusts any certificate through [`crate::tls::AcceptAnyCert`]. Turning
//! failures into messages that name the address and the fix happens here too. What is sent on the connection is left to
//! `exchange.rs`.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::CertificateError;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use super::{Clock, ProbeError, ProbeOptions};
use crate::tls::{ring_provider, AcceptAnyCert};

/// Where the URL points.
pub(crate) struct Target {
    pub(crate) scheme: http::uri::Scheme,
    pub(crate) authority: http::uri::Authority,
    /// Host without IPv6 brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: bool,
    pub(crate) path_and_query: String,
}

impl Target {
    pub(crate) fn from_uri(url: &http::Uri) -> Result<Self, ProbeError> {
        let invalid = |reason: &str| ProbeError::InvalidUrl {
            url: url.to_string(),
            reason: reason.to_owned(),
        };
        let tls = match url.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            Some(_) => {
                return Err(invalid(
                    "the scheme must be https:// (TLS) or http:// (h2c)",
                ))
            }
            None => {
                return Err(invalid(
                    "expected an absolute URL such as https://127.0.0.1:8443/",
                ))
            }
        };
        let authority = url
            .authority()
            .cloned()
            .ok_or_else(|| invalid("the URL has no host"))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(invalid("the URL has no host"));
        }
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let path_and_query = url
            .path_and_query()
            .map(|pq| pq.as_str())
            .filter(|pq| pq.starts_with('/'))
            .unwrap_or("/")
            .to_owned();
        Ok(Self {
            scheme: if tls {
                http::uri::Scheme::HTTPS
            } else {
                http::uri::Scheme::HTTP
            },
            host: host.to_owned(),
            authority,
            port,
            tls,
            path_and_query,
        })
    }
}

/// Facts about the connection that end up in the report.
pub(crate) struct ConnInfo {
    pub(crate) peer: SocketAddr,
    pub(crate) protocol: String,
    pub(crate) alpn: Option<String>,
    pub(crate) tls_version: Option<String>,
    pub(crate) cipher_suite: Option<String>,
    pub(crate) connect_time: std::time::Duration,
    pub(crate) tls_time: Option<std::time::Duration>,
    pub(crate) connected_at: std::time::Duration,
}

/// A ready HTTP/2 client connection.
pub(crate) struct Connected {
    pub(crate) send: h2::client::SendRequest<Bytes>,
    /// The task driving the connection; it ends when the connection closes.
    pub(crate) driver: JoinHandle<Result<(), h2::Error>>,
    pub(crate) info: ConnInfo,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub(crate) async fn connect(
    opts: &ProbeOptions,
    target: &Target,
    clock: &Clock,
) -> Result<Connected, ProbeError> {
    let addrs = resolve(opts, target).await?;
    let tcp_start = Instant::now();
    let (tcp, peer) = connect_tcp(&addrs).await?;
    let connect_time = tcp_start.elapsed();
    let _ = tcp.set_nodelay(true);

    let mut info = ConnInfo {
        peer,
        protocol: "h2c".to_owned(),
        alpn: None,
        tls_version: None,
        cipher_suite: None,
        connect_time,
        tls_time: None,
        connected_at: clock.now(),
    };
    let io: Box<dyn Io> = if target.tls {
        let tls_start = Instant::now();
        let tls = tls_handshake(opts, target, tcp, peer).await?;
        info.tls_time = Some(tls_start.elapsed());
        let session = tls.get_ref().1;
        let alpn = session
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        if alpn.as_deref() != Some("h2") {
            let detail = match &alpn {
                Some(p) => format!("it selected {p}"),
                None => "it selected no ALPN protocol".to_owned(),
            };
            return Err(ProbeError::NotH2 { addr: peer, detail });
        }
        info.protocol = "h2".to_owned();
        info.alpn = alpn;
        info.tls_version = session.protocol_version().map(|v| match v {
            rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".to_owned(),
            rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".to_owned(),
            other => format!("{other:?}"),
        });
        info.cipher_suite = session
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()));
        Box::new(tls)
    } else {
        Box::new(tcp)
    };

    let mut builder = h2::client::Builder::new();
    builder.enable_push(opts.enable_push);
    if let Some(max) = opts.max_concurrent_streams {
        builder.max_concurrent_streams(max);
    }
    let (send, connection) =
        builder
            .handshake::<_, Bytes>(io)
            .await
            .map_err(|e| ProbeError::Connection {
                addr: peer,
                cause: describe_h2(&e),
            })?;
    info.connected_at = clock.now();
    let driver = tokio::spawn(connection);
    Ok(Connected { send, driver, info })
}

async fn resolve(opts: &ProbeOptions, target: &Target) -> Result<Vec<SocketAddr>, ProbeError> {
    if let Some(addr) = opts.connect_to {
        return Ok(vec![addr]);
    }
    if let Ok(ip) = target.host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, target.port)]);
    }
    let resolve_err = |cause: String| ProbeError::Resolve {
        host: target.host.clone(),
        cause,
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|e| resolve_err(e.to_string()))?
        .collect();
    if addrs.is_empty() {
        return Err(resolve_err("no addresses found".to_owned()));
    }
    Ok(addrs)
}

/// Tries each address in turn; the error names the first address and its cause.
async fn connect_tcp(addrs: &[SocketAddr]) -> Result<(TcpStream, SocketAddr), ProbeError> {
    let mut first_error: Option<(SocketAddr, io::Error)> = None;
    for &addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok((stream, addr)),
            Err(e) => {
                first_error.get_or_insert((addr, e));
            }
        }
    }
    let others = addrs.len().saturating_sub(1);
    match first_error {
        Some((addr, e)) => {
            let mut cause = describe_io(&e);
            if others > 0 {
                cause.push_str(&format!(" (and {others} other address(es) failed too)"));
            }
            Err(ProbeError::Connect { addr, cause })
        }
        // `resolve` never returns an empty list; keep a sane error anyway.
        None => Err(ProbeError::Resolve {
            host: "?".to_owned(),
            cause: "no addresses to connect to".to_owned(),
        }),
    }
}

async fn tls_handshake(
    opts: &ProbeOptions,
    target: &Target,
    tcp: TcpStream,
    peer: SocketAddr,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ProbeError> {
    let tls_err = |cause: String| ProbeError::Tls { addr: peer, cause };
    let provider = ring_provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(e.to_string()))?;
    let mut config = if opts.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert::new(&provider)))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(system_roots())
            .with_no_client_auth()
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let server_name =
        ServerName::try_from(target.host.clone()).map_err(|e| ProbeError::InvalidUrl {
            url: target.host.clone(),
            reason: format!("not usable as a TLS server name: {e}"),
        })?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    connector
        .connect(server_name, tcp)
        .await
        .map_err(|e| classify_tls_error(&e, target, peer))
}

fn classify_tls_error(e: &io::Error, target: &Target, peer: SocketAddr) -> ProbeError {
    let tls = |cause: String| ProbeError::Tls { addr: peer, cause };
    let Some(err) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return tls(match e.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => format!(
                "the server closed the connection during the handshake ({}) — is it a TLS \
                 server? use http:// for h2c",
                describe_io(e)
            ),
            _ => describe_io(e),
        });
    };
    match err {
        rustls::Error::InvalidCertificate(cert_err) => tls(match cert_err {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                "certificate not trusted — pass -k for self-signed certificates".to_owned()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!(
                    "certificate is not valid for {} — pass -k to ignore",
                    target.host
                )
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "certificate has expired — pass -k to ignore".to_owned()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "certificate is not valid yet (check the clocks) — pass -k to ignore".to_owned()
            }
            other => format!("invalid certificate ({other:?}) — pass -k to ignore"),
        }),
        rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol) => {
            ProbeError::NotH2 {
                addr: peer,
                detail: "it refused ALPN h2 (no_application_protocol alert)".to_owned(),
            }
        }
        rustls::Error::InvalidMessage(_) => tls(format!(
            "{err} — is this a plaintext server? use http:// for h2c"
        )),
        other => tls(other.to_string()),
    }
}

/// Root certificates from the system bundle ($SSL_CERT_FILE or the usual distribution
/// paths). h2push carries no root store of its own; an empty store just means every
/// certificate is "not trusted", which the error message explains.
fn system_roots() -> rustls::RootCertStore {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    let candidates = std::env::var_os("SSL_CERT_FILE")
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain(
            [
                "/etc/ssl/certs/ca-certificates.crt",
                "/etc/pki/tls/certs/ca-bundle.crt",
                "/etc/ssl/cert.pem",
                "/etc/ssl/ca-bundle.pem",
            ]
            .map(std::path::PathBuf::from),
        );
    for path in candidates {
        if let Ok(iter) = CertificateDer::pem_file_iter(&path) {
            let (added, _) = roots.add_parsable_certificates(iter.flatten());
            if added > 0 {
                break;
            }
        }
    }
    roots
}

/// Short, lower-case descriptions of the common socket errors.
pub(crate) fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        io::ErrorKind::ConnectionReset => "connection reset by peer".to_owned(),
        io::ErrorKind::ConnectionAborted => "connection aborted".to_owned(),
        io::ErrorKind::TimedOut => "connection timed out".to_owned(),
        io::ErrorKind::UnexpectedEof => "connection closed unexpectedly".to_owned(),
        io::ErrorKind::BrokenPipe => "connection closed by peer (broken pipe)".to_owned(),
        _ => e.to_string(),
    }
}

/// Describes an h2 error, preferring the socket error or the HTTP/2 error code name.
pub(crate) fn describe_h2(e: &h2::Error) -> String {
    if let Some(io) = e.get_io() {
        return describe_io(io);
    }
    match e.reason() {
        Some(reason) if e.is_go_away() => {
            format!("the server closed the connection (GOAWAY {reason:?}): {e}")
        }
        Some(reason) if e.is_reset() && e.is_remote() => {
            format!("the server reset the stream ({reason:?})")
        }
        Some(reason) if e.is_reset() && e.is_library() => format!(
            "the server sent an invalid HTTP/2 response, so the probe reset the stream \
             ({reason:?}): {e}"
        ),
        _ => e.to_string(),
    }
}
