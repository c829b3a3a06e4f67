//! TLS identities: the certificate chain and private key the server presents.
//!
//! This module owns getting an identity — generating a self-signed development certificate
//! with no setup at all, or loading a PEM certificate chain and key from files with error
//! messages that name the file and say what is wrong — and turning it into a
//! [`rustls::ServerConfig`]. It also computes the SPKI pin Chromium's
//! `--ignore-certificate-errors-spki-list` takes, so a browser can be pointed at a dev server
//! without clicking through warnings. Accepting connections, choosing the ALPN list and the
//! command-line flags are left to the server and CLI.
//!
//! Every rustls configuration in h2push is built with an explicit ring provider
//! (`ring_provider()`), never `ServerConfig::builder()`: that builder panics when more than
//! one crypto provider is compiled into the binary.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};

/// The crypto provider every h2push rustls configuration (server and probe) is built with.
pub(crate) fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate chain (leaf first) and the private key matching its leaf.
///
/// ```
/// use h2push::tls::TlsIdentity;
///
/// let id = TlsIdentity::generate_dev()?;
/// let config = id.server_config(&[b"h2", b"http/1.1"])?;
/// assert_eq!(config.alpn_protocols, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
/// println!("--ignore-certificate-errors-spki-list={}", id.spki_sha256_base64());
/// # Ok::<(), h2push::tls::TlsError>(())
/// ```
pub struct TlsIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// DER of the leaf's SubjectPublicKeyInfo, including its outer SEQUENCE.
    spki: Vec<u8>,
}

/// Why a TLS identity could not be generated, loaded, written or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate or key file could not be read.
    #[error("cannot read {what} file {}: {}", path.display(), describe_io(source))]
    Read {
        /// "certificate" or "private key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A file is not well-formed PEM.
    #[error("{what} file {} is not valid PEM ({detail}); expected text with -----BEGIN …----- / -----END …----- blocks", path.display())]
    InvalidPem {
        /// "certificate" or "private key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What the PEM parser said.
        detail: String,
    },
    /// The certificate file holds no `CERTIFICATE` block.
    #[error("certificate file {} contains no -----BEGIN CERTIFICATE----- block{hint}", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
        /// A hint about what the file does contain, starting with "; ", or empty.
        hint: String,
    },
    /// The key file holds no private key block.
    #[error("private key file {} contains no private key (expected -----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY){hint}", path.display())]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
        /// A hint about what the file does contain, starting with "; ", or empty.
        hint: String,
    },
    /// The leaf certificate could not be parsed as X.509.
    #[error("certificate file {}: the first certificate is not a valid X.509 certificate: {detail}", path.display())]
    InvalidCertificate {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        detail: String,
    },
    /// The private key is of a kind rustls (ring) cannot sign with.
    #[error("private key file {}: unsupported or corrupt key ({detail}); use an ECDSA P-256/P-384, Ed25519 or RSA (2048+ bit) key", path.display())]
    UnsupportedKey {
        /// The file.
        path: PathBuf,
        /// What rustls said.
        detail: String,
    },
    /// The private key does not belong to the leaf certificate.
    #[error("private key file {} does not match the certificate in {} — the key's public key differs from the first certificate's; pass the key that was generated with that certificate", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// Writing a PEM file failed.
    #[error("cannot write {}: {}", path.display(), describe_io(source))]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// rcgen failed to generate the development certificate.
    #[error("cannot generate a development certificate: {0}")]
    Generate(String),
    /// rustls rejected the identity when building a configuration.
    #[error("cannot build the TLS configuration: {0}")]
    Config(String),
}

fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "not found — check the path".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

impl TlsIdentity {
    /// Generates a self-signed ECDSA P-256 certificate for `localhost`, `127.0.0.1` and `::1`,
    /// valid from a day ago until a year from now.
    ///
    /// Browsers will not trust it; pass [`spki_sha256_base64`](Self::spki_sha256_base64) to
    /// Chromium's `--ignore-certificate-errors-spki-list`, or `-k` to the probe.
    pub fn generate_dev() -> Result<Self, TlsError> {
        let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
        let names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        // rcgen turns the strings that parse as IP addresses into iPAddress SANs.
        let mut params = rcgen::CertificateParams::new(names).map_err(generate)?;
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, "h2push development certificate");
        dn.push(rcgen::DnType::OrganizationName, "h2push");
        params.distinguished_name = dn;
        let now = SystemTime::now();
        // A day of slack for clocks that are behind; "about a year" of validity going forward.
        params.not_before = (now - Duration::from_secs(24 * 3600)).into();
        params.not_after = (now + Duration::from_secs(365 * 24 * 3600)).into();
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        // No serial number given: rcgen derives one from the public key, so every generated
        // certificate has its own (Firefox rejects reused issuer+serial pairs).
        let key_pair = rcgen::KeyPair::generate().map_err(generate)?;
        let cert = params.self_signed(&key_pair).map_err(generate)?;
        Ok(Self {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der())),
            spki: key_pair.public_key_der(),
        })
    }

    /// Loads a PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or
    /// SEC1), and checks that the key belongs to the leaf certificate.
    ///
    /// Every error names the offending file and what is wrong with it.
    ///
    /// ```no_run
    /// use h2push::tls::TlsIdentity;
    /// use std::path::Path;
    ///
    /// let id = TlsIdentity::from_pem_files(Path::new("cert.pem"), Path::new("key.pem"))?;
    /// # Ok::<(), h2push::tls::TlsError>(())
    /// ```
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let cert_sections = read_sections(cert, "certificate")?;
        let chain: Vec<CertificateDer<'static>> = cert_sections
            .iter()
            .filter(|(kind, _)| *kind == SectionKind::Certificate)
            .map(|(_, der)| CertificateDer::from(der.clone()))
            .collect();
        if chain.is_empty() {
            let hint = if cert_sections.iter().any(|(k, _)| is_key_kind(*k)) {
                "; it holds a private key — are the certificate and key files swapped?".to_owned()
            } else {
                sections_hint(&cert_sections)
            };
            return Err(TlsError::NoCertificate {
                path: cert.to_owned(),
                hint,
            });
        }

        let key_sections = read_sections(key, "private key")?;
        let Some(private_key) = key_sections
            .iter()
            .find_map(|(kind, der)| to_private_key(*kind, der.clone()))
        else {
            let hint = if key_sections
                .iter()
                .any(|(k, _)| *k == SectionKind::Certificate)
            {
                "; it holds a certificate — are the certificate and key files swapped?".to_owned()
            } else {
                sections_hint(&key_sections)
            };
            return Err(TlsError::NoPrivateKey {
                path: key.to_owned(),
                hint,
            });
        };

        let spki = leaf_spki(&chain[0]).map_err(|detail| TlsError::InvalidCertificate {
            path: cert.to_owned(),
            detail,
        })?;
        let signing_key = ring_provider()
            .key_provider
            .load_private_key(private_key.clone_key())
            .map_err(|e| TlsError::UnsupportedKey {
                path: key.to_owned(),
                detail: e.to_string(),
            })?;
        // ring can derive the public key for every key type it loads; if a key type ever
        // cannot, the check is skipped and rustls reports a mismatch at handshake time.
        if let Some(key_spki) = signing_key.public_key() {
            if key_spki.as_ref() != spki.as_slice() {
                return Err(TlsError::KeyMismatch {
                    cert: cert.to_owned(),
                    key: key.to_owned(),
                });
            }
        }
        Ok(Self {
            chain,
            key: private_key,
            spki,
        })
    }

    /// The certificate chain, leaf first.
    pub fn cert_chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The private key of the leaf certificate.
    pub fn private_key(&self) -> &PrivateKeyDer<'static> {
        &self.key
    }

    /// The certificate chain as PEM, leaf first, one `CERTIFICATE` block per certificate.
    pub fn cert_pem(&self) -> String {
        self.chain
            .iter()
            .map(|c| pem_block("CERTIFICATE", c.as_ref()))
            .collect()
    }

    /// The private key as PEM, in the format it was loaded in (generated keys are PKCS#8,
    /// `PRIVATE KEY`).
    pub fn key_pem(&self) -> String {
        let label = match &self.key {
            PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
            PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
            _ => "PRIVATE KEY",
        };
        pem_block(label, self.key.secret_der())
    }

    /// Writes `cert.pem` and `key.pem` into `dir` (created if missing) and returns their
    /// paths. On Unix the key file is created with mode 0600.
    ///
    /// ```no_run
    /// # let id = h2push::tls::TlsIdentity::generate_dev()?;
    /// let (cert, key) = id.write_pem(std::path::Path::new("dev-tls"))?;
    /// # Ok::<(), h2push::tls::TlsError>(())
    /// ```
    pub fn write_pem(&self, dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
        std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
            path: dir.to_owned(),
            source,
        })?;
        let cert_path = dir.join("cert.pem");
        let key_path = dir.join("key.pem");
        write_file(&cert_path, self.cert_pem().as_bytes(), false)?;
        write_file(&key_path, self.key_pem().as_bytes(), true)?;
        Ok((cert_path, key_path))
    }

    /// Base64 (standard alphabet, padded) of the SHA-256 of the leaf certificate's
    /// SubjectPublicKeyInfo DER: the value Chromium's `--ignore-certificate-errors-spki-list`
    /// expects.
    pub fn spki_sha256_base64(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, &self.spki);
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    }

    /// A rustls server configuration presenting this identity, built with the ring provider
    /// (safe default protocol versions, no client authentication) and advertising `alpn` in
    /// order of preference, e.g. `&[b"h2", b"http/1.1"]`.
    pub fn server_config(&self, alpn: &[&[u8]]) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let config_err = |e: rustls::Error| TlsError::Config(e.to_string());
        let mut config = rustls::ServerConfig::builder_with_provider(ring_provider())
            .with_safe_default_protocol_versions()
            .map_err(config_err)?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(config_err)?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        // Stateless resumption tickets (as nginx and h2o send by default): the session lives
        // in the ticket the client keeps, encrypted under a key rustls rotates, instead of in
        // a server-side cache. Resumption works on every serving thread, and a flood of new
        // connections leaves no per-session entries behind: those entries, made while an
        // attack's streams filled the heap, kept ~1 MiB of freed pages from being returned
        // (`docs/benchmarks.md`, "Hostile clients").
        config.ticketer = rustls::crypto::ring::Ticketer::new().map_err(config_err)?;
        Ok(Arc::new(config))
    }
}

impl Clone for TlsIdentity {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            spki: self.spki.clone(),
        }
    }
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("certificates", &self.chain.len())
            .field("spki_sha256", &self.spki_sha256_base64())
            .finish_non_exhaustive()
    }
}

/// Reads `path` and splits it into its PEM sections (of any kind rustls-pki-types knows).
fn read_sections(path: &Path, what: &'static str) -> Result<Vec<(SectionKind, Vec<u8>)>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })?;
    let mut sections = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(&bytes) {
        match section {
            Ok(s) => sections.push(s),
            Err(e) => {
                return Err(TlsError::InvalidPem {
                    what,
                    path: path.to_owned(),
                    detail: e.to_string(),
                })
            }
        }
    }
    if sections.is_empty() && bytes.first() == Some(&0x30) {
        return Err(TlsError::InvalidPem {
            what,
            path: path.to_owned(),
            detail: "it looks like binary DER; convert it with `openssl x509 -inform der` or \
                     `openssl pkey -inform der`"
                .to_owned(),
        });
    }
    Ok(sections)
}

fn is_key_kind(kind: SectionKind) -> bool {
    matches!(
        kind,
        SectionKind::PrivateKey | SectionKind::RsaPrivateKey | SectionKind::EcPrivateKey
    )
}

fn to_private_key(kind: SectionKind, der: Vec<u8>) -> Option<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem(kind, der)
}

fn sections_hint(sections: &[(SectionKind, Vec<u8>)]) -> String {
    if sections.is_empty() {
        "; the file has no PEM blocks at all".to_owned()
    } else {
        let kinds: Vec<String> = sections.iter().map(|(k, _)| format!("{k:?}")).collect();
        format!("; it only holds: {}", kinds.join(", "))
    }
}

/// The full SubjectPublicKeyInfo DER of a certificate, parsed by rustls' (webpki's) X.509
/// parser rather than a hand-written DER walker.
fn leaf_spki(cert: &CertificateDer<'_>) -> Result<Vec<u8>, String> {
    let parsed = rustls::server::ParsedCertificate::try_from(cert).map_err(|e| e.to_string())?;
    Ok(parsed.subject_public_key_info().as_ref().to_vec())
}

fn pem_block(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    // base64 output is ASCII, so 64-byte chunks are valid UTF-8.
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn write_file(path: &Path, contents: &[u8], private: bool) -> Result<(), TlsError> {
    use std::io::Write as _;
    let err = |source| TlsError::Write {
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(err)?;
    // `mode` only applies when the file is created; tighten an existing key file as well.
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(err)?;
    }
    file.write_all(contents).map_err(err)?;
    Ok(())
}

/// A TLS client configuration that trusts any server certificate (what `probe -k` uses), for
/// tests and benchmarks against development servers. Handshake signatures are still checked,
/// so the server must hold the key of the certificate it shows.
///
/// ```
/// let config = h2push::tls::insecure_client_config(&[b"h2"]);
/// assert_eq!(config.alpn_protocols, vec![b"h2".to_vec()]);
/// ```
pub fn insecure_client_config(alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let provider = ring_provider();
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCert::new(&provider)))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// The `-k` verifier: accepts whatever certificate the server presents, but still verifies
/// the handshake signatures against it using the ring provider's algorithms.
#[derive(Debug)]
pub(crate) struct AcceptAnyCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AcceptAnyCert {
    pub(crate) fn new(provider: &CryptoProvider) -> Self {
        AcceptAnyCert {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
