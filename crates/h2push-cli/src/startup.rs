//! What every serving subcommand (`serve`, `demo`) does the same way at start-up.
//!
//! This module owns logging set-up, choosing the TLS identity (PEM files, or a certificate made
//! in memory), and the lines that announce a server: its URLs, and the certificate's SPKI pin,
//! printed last (tests and scripts read up to it). What each command serves is its own.

use std::io::Write;
use std::path::Path;

use h2push::tls::TlsIdentity;
use h2push::Server;

use crate::CliError;

/// Logs to stderr; `RUST_LOG` overrides the default filter. Without `access_log`, the
/// per-request lines (target `h2push::access`) are off.
pub fn init_logging(access_log: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if access_log {
        "info"
    } else {
        "info,h2push::access=off"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// The identity from `cert` and `key`, or, with neither, a certificate made in memory (then
/// the flag is true).
pub fn tls_identity(
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<(TlsIdentity, bool), CliError> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok((TlsIdentity::from_pem_files(cert, key)?, false)),
        (None, None) => Ok((TlsIdentity::generate_dev()?, true)),
        _ => Err("a certificate needs its key and a key its certificate: give both".into()),
    }
}

/// Prints the server's URLs.
pub fn announce_addrs(server: &Server) {
    for a in server.tls_addrs() {
        println!("  https://{a}/  (HTTP/2 with push and 103, HTTP/1.1)");
    }
    for a in server.plain_addrs() {
        println!("  http://{a}/  (HTTP/1.1, h2c prior knowledge)");
    }
}

/// Prints where the certificate came from and its pin, the last line of the announcement.
pub fn announce_pin(identity: &TlsIdentity, generated: bool) {
    if generated {
        println!("  certificate: self-signed for localhost, 127.0.0.1, ::1 (in memory)");
    }
    let pin = identity.spki_sha256_base64();
    println!("  SPKI pin: {pin}");
    println!("    chromium --ignore-certificate-errors-spki-list={pin}");
    let _ = std::io::stdout().flush();
}
