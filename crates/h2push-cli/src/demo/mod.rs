//! `h2push demo`: the seeds' demo site, served by h2push with zero set-up.
//!
//! This module owns the command's flags and starting the server: a TLS identity (an
//! in-memory development certificate, or `--cert/--key` so a restarted server keeps the pin a
//! browser was told about), the listener, and the lines printed for the user (URLs and the
//! SPKI pin Chromium needs). The site itself — routes, pages, assets — is [`routes`]'s; the
//! streaming APIs are [`sse`]'s (`/api/events`) and [`chat`]'s (`/api/chat`,
//! `/api/chat-stream`). Push, 103 and the wire format of events are the `h2push` library's.

mod assets;
mod chat;
mod routes;
mod sse;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use h2push::Server;

use crate::{startup, CliError};

/// Flags of `h2push demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Listen for HTTPS (HTTP/2 and HTTP/1.1 by ALPN) here; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
    addr: SocketAddr,
    /// PEM certificate chain (e.g. from `h2push cert`). Without --cert/--key a self-signed
    /// certificate for localhost, 127.0.0.1 and ::1 is made in memory.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// PEM private key for --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// Write no access log (one line per request, to stderr).
    #[arg(long)]
    no_access_log: bool,
}

/// Runs the demo until SIGINT/SIGTERM, then shuts down gracefully.
pub fn run(args: DemoArgs) -> Result<ExitCode, CliError> {
    startup::init_logging(!args.no_access_log);
    let (identity, generated) = startup::tls_identity(args.cert.as_deref(), args.key.as_deref())?;
    let builder = Server::builder()
        .tls(identity.server_config(&[b"h2", b"http/1.1"])?)
        .bind_tls(args.addr);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let server = builder.build()?;
        // Listen for SIGINT/SIGTERM before announcing the server, so a signal sent as soon as
        // the URL is printed still shuts it down gracefully.
        let signal = h2push::server::shutdown_signal();
        println!("h2push demo: push, 103 Early Hints and server-sent events");
        startup::announce_addrs(&server);
        startup::announce_pin(&identity, generated);

        // Streams watch `stopping` and end, so a graceful shutdown need not wait them out.
        let (stopping, state_rx) = tokio::sync::watch::channel(false);
        let handle = server.shutdown_handle();
        tokio::spawn(async move {
            signal.await;
            tracing::info!("shutting down: ending streams, finishing in-flight requests");
            stopping.send_replace(true);
            handle.shutdown();
        });
        let state = routes::AppState { shutdown: state_rx };
        server.serve(routes::app(state)).await;
        Ok::<_, CliError>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
