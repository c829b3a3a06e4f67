//! What every serving subcommand (`serve`, `demo`) does the same way at start-up.
//!
//! This module owns logging set-up, choosing the TLS identity (PEM files, or a certificate made
//! in memory), and the lines that announce a server: its URLs, and the certificate's SPKI pin,
//! printed last (tests and scripts read up to it). What each command serves is its own.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use h2push::tls::TlsIdentity;
use h2push::Server;

use crate::CliError;

/// Where and how a serving command listens: the flags `serve` and `proxy` share.
#[derive(clap::Args)]
pub struct ListenArgs {
    /// Listen for HTTPS (HTTP/2 and HTTP/1.1 by ALPN) here. May repeat.
    /// [default: 127.0.0.1:8443]
    #[arg(long = "addr", value_name = "ADDR")]
    pub addrs: Vec<SocketAddr>,
    /// Also listen in plaintext here: HTTP/1.1, and h2c for clients with prior knowledge.
    /// Off unless given. May repeat.
    #[arg(long = "h2c", value_name = "ADDR")]
    pub h2c: Vec<SocketAddr>,
    /// PEM certificate chain. Without --cert/--key a self-signed certificate for
    /// localhost, 127.0.0.1 and ::1 is made in memory.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// PEM private key for --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Serving threads, each with its own runtime and listening sockets (SO_REUSEPORT)
    /// [default: one per core].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Write no access log (one line per request, to stderr).
    #[arg(long)]
    pub no_access_log: bool,
}

impl ListenArgs {
    /// The serving threads: as given, else one per core.
    pub fn threads(&self) -> usize {
        self.threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        })
    }
}

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
