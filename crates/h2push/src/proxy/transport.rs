//! How the proxy reaches its upstream: plain HTTP/1.1, h2c, or TLS.
//!
//! This module owns the upstream side's transport settings ([`UpstreamTls`]: which CAs are
//! trusted, the name sent as SNI and checked in the certificate, the insecure switch for
//! self-signed development backends), loading a CA file with errors that name the file and
//! what is wrong with it ([`CaFileError`]), and turning them into the rustls client config
//! and hyper-rustls connector that `client.rs` pools. ALPN offers `h2` and `http/1.1` to an
//! https upstream and the client speaks whichever it picks; an h2c upstream gets HTTP/2 with
//! prior knowledge. The system's roots are read once per process.

use crate::tls::AcceptAnyCert;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hyper_rustls::{FixedServerNameResolver, HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::{PemObject, SectionKind};

/// TLS to an `https://` upstream.
///
/// ```
/// use h2push::proxy::UpstreamTls;
/// let tls = UpstreamTls::default();
/// assert!(tls.ca.is_none() && tls.server_name.is_none() && !tls.insecure);
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct UpstreamTls {
    /// Trust these CAs instead of the system's (see [`UpstreamTls::load_ca_file`]).
    pub ca: Option<Arc<RootCertStore>>,
    /// The name sent as SNI and required in the certificate; default: the URL's host.
    pub server_name: Option<ServerName<'static>>,
    /// Accept any certificate (self-signed development backends). Never in production.
    pub insecure: bool,
}

/// Why a CA file could not be used; it names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CA file {}: {why}", path.display())]
pub struct CaFileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub why: String,
}

impl UpstreamTls {
    /// Reads a PEM file of one or more CA certificates to trust instead of the system's.
    ///
    /// ```
    /// use h2push::proxy::UpstreamTls;
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("ca.pem");
    /// std::fs::write(&path, "not a certificate").unwrap();
    /// let e = UpstreamTls::default().load_ca_file(&path).unwrap_err();
    /// assert!(e.to_string().contains("ca.pem") && e.to_string().contains("no PEM"), "{e}");
    /// ```
    pub fn load_ca_file(mut self, path: &Path) -> Result<Self, CaFileError> {
        let err = |why: String| CaFileError {
            path: path.to_owned(),
            why,
        };
        let text = std::fs::read(path).map_err(|e| err(format!("cannot read it: {e}")))?;
        let mut store = RootCertStore::empty();
        let mut keys = 0;
        for (i, item) in <(SectionKind, Vec<u8>)>::pem_slice_iter(&text).enumerate() {
            let (kind, der) = item.map_err(|e| err(format!("PEM block {}: {e}", i + 1)))?;
            match kind {
                SectionKind::Certificate => {
                    let n = store.len() + 1;
                    store.add(CertificateDer::from(der)).map_err(|e| {
                        err(format!(
                            "certificate {n} is not a usable CA certificate: {e}"
                        ))
                    })?;
                }
                SectionKind::PrivateKey
                | SectionKind::RsaPrivateKey
                | SectionKind::EcPrivateKey => keys += 1,
                _ => {}
            }
        }
        if store.is_empty() {
            let why = if keys > 0 {
                "holds a private key but no certificate (pass the CA's certificate)"
            } else {
                "no PEM certificates in it (expected -----BEGIN CERTIFICATE-----)"
            };
            return Err(err(why.into()));
        }
        self.ca = Some(Arc::new(store));
        Ok(self)
    }
}

/// The connector every upstream client uses: TCP, then TLS for `https://`.
pub(crate) type Connector = HttpsConnector<HttpConnector>;

/// TCP with the connect timeout, wrapped in TLS for https URIs (plain http passes through).
pub(crate) fn connector(tls: &UpstreamTls, connect_timeout: Duration) -> Connector {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(connect_timeout));
    tcp.set_keepalive(Some(Duration::from_secs(60)));
    let builder = HttpsConnectorBuilder::new()
        .with_tls_config(client_config(tls))
        .https_or_http();
    let builder = match &tls.server_name {
        Some(name) => builder.with_server_name_resolver(FixedServerNameResolver::new(name.clone())),
        None => builder,
    };
    // ALPN h2 + http/1.1; the client speaks what the upstream picks.
    builder.enable_all_versions().wrap_connector(tcp)
}

fn client_config(tls: &UpstreamTls) -> ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports TLS 1.2 and 1.3");
    if tls.insecure {
        return builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert::new(&provider)))
            .with_no_client_auth();
    }
    let roots = tls.ca.clone().unwrap_or_else(system_roots);
    builder.with_root_certificates(roots).with_no_client_auth()
}

/// The system's trusted CAs, read once; a warning if there are none.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::warn!("reading the system's CA certificates: {e}");
            }
            let mut store = RootCertStore::empty();
            let (added, ignored) = store.add_parsable_certificates(found.certs);
            if ignored > 0 {
                tracing::debug!("{ignored} system CA certificates could not be used");
            }
            if added == 0 {
                tracing::warn!(
                    "no system CA certificates found: https upstreams will fail verification \
                     unless a CA file is given"
                );
            }
            Arc::new(store)
        })
        .clone()
}
