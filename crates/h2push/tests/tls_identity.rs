//! TLS identities: the development certificate works for its names with a client that trusts
//! it, PEM files round-trip, the SPKI pin is right, and bad files give helpful errors.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use base64::Engine as _;
use h2push::tls::{TlsError, TlsIdentity};
use rustls::pki_types::ServerName;

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration that trusts only `trusted`'s certificate.
fn client_trusting(trusted: &TlsIdentity) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.cert_chain()[0].clone()).unwrap();
    rustls::ClientConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

type Connected = (
    std::io::Result<tokio_rustls::client::TlsStream<tokio::io::DuplexStream>>,
    std::io::Result<tokio_rustls::server::TlsStream<tokio::io::DuplexStream>>,
);

/// One TLS handshake in memory between `connector` and `acceptor`, for `name`.
async fn connect(
    connector: &tokio_rustls::TlsConnector,
    acceptor: &tokio_rustls::TlsAcceptor,
    name: &str,
) -> Connected {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let name = ServerName::try_from(name.to_owned()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        tokio::join!(
            connector.connect(name, client_io),
            acceptor.accept(server_io)
        )
    })
    .await
    .expect("handshake hung")
}

/// Handshakes in memory with a client that trusts only `trusted`'s certificate.
async fn handshake(server: &TlsIdentity, trusted: &TlsIdentity, name: &str) -> Result<(), String> {
    let mut client = client_trusting(trusted);
    client.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(server.server_config(&[b"h2"]).unwrap());
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let (client, server) = connect(&connector, &acceptor, name).await;
    let client = client.map_err(|e| e.to_string())?;
    drop(server);
    assert_eq!(client.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    Ok(())
}

#[tokio::test]
async fn dev_certificate_is_valid_for_its_names() {
    let id = TlsIdentity::generate_dev().unwrap();
    for name in ["localhost", "127.0.0.1", "::1"] {
        handshake(&id, &id, name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let err = handshake(&id, &id, "example.com").await.unwrap_err();
    assert!(err.contains("not valid for name \"example.com\""), "{err}");
    // A different dev certificate is not trusted.
    let other = TlsIdentity::generate_dev().unwrap();
    let err = handshake(&other, &id, "localhost").await.unwrap_err();
    assert!(err.contains("invalid peer certificate"), "{err}");
}

/// The server resumes sessions from stateless tickets: a second connection of a client that
/// kept the first one's ticket is a resumed handshake, and the server keeps no session state.
#[tokio::test]
async fn sessions_resume_from_stateless_tickets() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let id = TlsIdentity::generate_dev().unwrap();
    let server = id.server_config(&[b"h2"]).unwrap();
    assert!(server.ticketer.enabled(), "tickets are stateless");
    let client = Arc::new(client_trusting(&id));
    let acceptor = tokio_rustls::TlsAcceptor::from(server);
    let connector = tokio_rustls::TlsConnector::from(client);
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let (client, server) = connect(&connector, &acceptor, "localhost").await;
        let (mut client, mut server) = (client.unwrap(), server.unwrap());
        // The tickets follow the handshake: read a byte so the client takes them in.
        server.write_all(b"x").await.unwrap();
        server.flush().await.unwrap();
        let mut byte = [0u8; 1];
        client.read_exact(&mut byte).await.unwrap();
        kinds.push(client.get_ref().1.handshake_kind());
    }
    assert_eq!(
        kinds,
        [
            Some(rustls::HandshakeKind::Full),
            Some(rustls::HandshakeKind::Resumed)
        ],
        "the second connection resumes the first one's session"
    );
}

#[test]
fn server_config_advertises_the_given_alpn() {
    let id = TlsIdentity::generate_dev().unwrap();
    let config = id.server_config(&[b"h2", b"http/1.1"]).unwrap();
    assert_eq!(
        config.alpn_protocols,
        [b"h2".to_vec(), b"http/1.1".to_vec()]
    );
    assert!(id.server_config(&[]).unwrap().alpn_protocols.is_empty());
}

#[test]
fn spki_pin_is_the_sha256_of_the_public_key() {
    let id = TlsIdentity::generate_dev().unwrap();
    let key_pair = rcgen::KeyPair::from_pem(&id.key_pem()).unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA256, &key_pair.public_key_der());
    let expected = base64::engine::general_purpose::STANDARD.encode(digest);
    assert_eq!(id.spki_sha256_base64(), expected);
    assert_eq!(expected.len(), 44);
    assert!(expected.ends_with('='));
    assert_ne!(
        id.spki_sha256_base64(),
        TlsIdentity::generate_dev().unwrap().spki_sha256_base64()
    );
}

#[test]
fn pem_files_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let id = TlsIdentity::generate_dev().unwrap();
    let nested = dir.path().join("a/b");
    let (cert, key) = id.write_pem(&nested).unwrap();
    assert_eq!(cert, nested.join("cert.pem"));
    assert_eq!(key, nested.join("key.pem"));
    assert!(id.cert_pem().starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert!(id.key_pem().starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert!(id.cert_pem().lines().all(|l| l.len() <= 64));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let loaded = TlsIdentity::from_pem_files(&cert, &key).unwrap();
    assert_eq!(loaded.cert_pem(), id.cert_pem());
    assert_eq!(loaded.key_pem(), id.key_pem());
    assert_eq!(loaded.spki_sha256_base64(), id.spki_sha256_base64());
    assert_eq!(loaded.cert_chain(), id.cert_chain());
    // Writing again over existing files works too.
    TlsIdentity::generate_dev()
        .unwrap()
        .write_pem(&nested)
        .unwrap();
}

/// Writes `cert`/`key` contents into a temp dir and loads them, expecting an error.
fn load_err(cert: &[u8], key: &[u8]) -> (TlsError, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (c, k) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&c, cert).unwrap();
    std::fs::write(&k, key).unwrap();
    let err = TlsIdentity::from_pem_files(&c, &k).unwrap_err();
    let msg = err.to_string();
    (err, msg, dir)
}

#[test]
fn missing_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let id = TlsIdentity::generate_dev().unwrap();
    let (cert, key) = id.write_pem(dir.path()).unwrap();
    let nowhere = dir.path().join("nope.pem");

    let err = TlsIdentity::from_pem_files(&nowhere, &key).unwrap_err();
    assert!(
        matches!(
            err,
            TlsError::Read {
                what: "certificate",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "cannot read certificate file {}: not found — check the path",
            nowhere.display()
        )
    );
    let err = TlsIdentity::from_pem_files(&cert, &nowhere).unwrap_err();
    assert!(
        matches!(
            err,
            TlsError::Read {
                what: "private key",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("nope.pem: not found"), "{err}");
    // A directory is not a file either.
    let err = TlsIdentity::from_pem_files(dir.path(), &key).unwrap_err();
    assert!(matches!(err, TlsError::Read { .. }), "{err:?}");
}

#[test]
fn files_without_the_expected_blocks() {
    let id = TlsIdentity::generate_dev().unwrap();
    let (cert, key) = (id.cert_pem(), id.key_pem());

    let (err, msg, dir) = load_err(b"hello, not pem\n", key.as_bytes());
    assert!(matches!(err, TlsError::NoCertificate { .. }), "{err:?}");
    assert!(
        msg.contains(&dir.path().join("c.pem").display().to_string()),
        "{msg}"
    );
    assert!(
        msg.contains("no -----BEGIN CERTIFICATE----- block"),
        "{msg}"
    );
    assert!(msg.contains("no PEM blocks at all"), "{msg}");

    let (err, msg, _dir) = load_err(b"", key.as_bytes());
    assert!(matches!(err, TlsError::NoCertificate { .. }), "{msg}");

    let (err, msg, _dir) = load_err(cert.as_bytes(), b"");
    assert!(matches!(err, TlsError::NoPrivateKey { .. }), "{err:?}");
    assert!(msg.contains("k.pem contains no private key"), "{msg}");

    // Swapped files get a hint.
    let (err, msg, _dir) = load_err(key.as_bytes(), cert.as_bytes());
    assert!(matches!(err, TlsError::NoCertificate { .. }), "{err:?}");
    assert!(
        msg.contains("are the certificate and key files swapped?"),
        "{msg}"
    );
    let (err, msg, _dir) = load_err(cert.as_bytes(), cert.as_bytes());
    assert!(matches!(err, TlsError::NoPrivateKey { .. }), "{err:?}");
    assert!(msg.contains("swapped?"), "{msg}");
}

#[test]
fn malformed_contents() {
    let id = TlsIdentity::generate_dev().unwrap();
    let key = id.key_pem();

    let broken = "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n";
    let (err, msg, _dir) = load_err(broken.as_bytes(), key.as_bytes());
    assert!(
        matches!(
            err,
            TlsError::InvalidPem {
                what: "certificate",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(msg.contains("c.pem is not valid PEM"), "{msg}");

    let unterminated = "-----BEGIN CERTIFICATE-----\nMIIB\n";
    let (err, _, _dir) = load_err(unterminated.as_bytes(), key.as_bytes());
    assert!(matches!(err, TlsError::InvalidPem { .. }), "{err:?}");

    let der = id.cert_chain()[0].to_vec();
    let (err, msg, _dir) = load_err(&der, key.as_bytes());
    assert!(matches!(err, TlsError::InvalidPem { .. }), "{err:?}");
    assert!(msg.contains("binary DER"), "{msg}");

    // Well-formed PEM whose content is not a certificate.
    let junk = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
    let (err, msg, _dir) = load_err(junk.as_bytes(), key.as_bytes());
    assert!(
        matches!(err, TlsError::InvalidCertificate { .. }),
        "{err:?}"
    );
    assert!(msg.contains("not a valid X.509 certificate"), "{msg}");

    let junk_key = "-----BEGIN PRIVATE KEY-----\naGVsbG8gd29ybGQ=\n-----END PRIVATE KEY-----\n";
    let (err, msg, _dir) = load_err(id.cert_pem().as_bytes(), junk_key.as_bytes());
    assert!(matches!(err, TlsError::UnsupportedKey { .. }), "{err:?}");
    assert!(msg.contains("k.pem: unsupported or corrupt key"), "{msg}");
}

#[test]
fn key_of_another_certificate_is_a_mismatch() {
    let a = TlsIdentity::generate_dev().unwrap();
    let b = TlsIdentity::generate_dev().unwrap();
    let (err, msg, dir) = load_err(a.cert_pem().as_bytes(), b.key_pem().as_bytes());
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err:?}");
    let (c, k) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    assert!(
        msg.starts_with(&format!(
            "private key file {} does not match the certificate in {}",
            k.display(),
            c.display()
        )),
        "{msg}"
    );
}

fn openssl_available() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipping: openssl is not installed");
    }
    ok
}

fn sh(script: &str, dir: &Path) -> (bool, String) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success(), text)
}

#[test]
fn openssl_agrees_on_the_spki_pin_and_validity() {
    if !openssl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let id = TlsIdentity::generate_dev().unwrap();
    id.write_pem(dir.path()).unwrap();
    let (ok, pin) = sh(
        "openssl x509 -in cert.pem -pubkey -noout | openssl pkey -pubin -outform der \
         | openssl dgst -sha256 -binary | base64",
        dir.path(),
    );
    assert!(ok);
    assert_eq!(pin, id.spki_sha256_base64());
    // Valid for about a year: still valid in 360 days, no longer in 370.
    let (ok, _) = sh(
        "openssl x509 -in cert.pem -noout -checkend 31104000",
        dir.path(),
    );
    assert!(ok, "expires within 360 days");
    let (ok, _) = sh(
        "openssl x509 -in cert.pem -noout -checkend 31968000",
        dir.path(),
    );
    assert!(!ok, "valid for more than 370 days");
    let (_, sans) = sh(
        "openssl x509 -in cert.pem -noout -ext subjectAltName",
        dir.path(),
    );
    for san in [
        "DNS:localhost",
        "IP Address:127.0.0.1",
        "IP Address:0:0:0:0:0:0:0:1",
    ] {
        assert!(sans.contains(san), "{sans}");
    }
}

#[test]
fn openssl_generated_rsa_and_ec_keys_load() {
    if !openssl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ok, _) = sh(
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa8.pem -out rsa.crt \
           -subj /CN=localhost -days 2 2>/dev/null \
         && openssl pkey -in rsa8.pem -traditional -out rsa1.pem \
         && openssl ecparam -name prime256v1 -genkey -noout -out ec.pem \
         && openssl req -x509 -key ec.pem -out ec.crt -subj /CN=localhost -days 2 2>/dev/null",
        dir.path(),
    );
    assert!(ok, "openssl failed to make test keys");
    let p = |f: &str| dir.path().join(f);
    for (cert, key, label) in [
        ("rsa.crt", "rsa8.pem", "PRIVATE KEY"),
        ("rsa.crt", "rsa1.pem", "RSA PRIVATE KEY"),
        ("ec.crt", "ec.pem", "EC PRIVATE KEY"),
    ] {
        let id = TlsIdentity::from_pem_files(&p(cert), &p(key))
            .unwrap_or_else(|e| panic!("{cert} + {key}: {e}"));
        assert!(id
            .key_pem()
            .starts_with(&format!("-----BEGIN {label}-----")));
        id.server_config(&[b"h2"]).unwrap();
        let (_, pin) = sh(
            &format!(
                "openssl x509 -in {cert} -pubkey -noout | openssl pkey -pubin -outform der \
                 | openssl dgst -sha256 -binary | base64"
            ),
            dir.path(),
        );
        assert_eq!(pin, id.spki_sha256_base64());
    }
    let err = TlsIdentity::from_pem_files(&p("rsa.crt"), &p("ec.pem")).unwrap_err();
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err:?}");
}
