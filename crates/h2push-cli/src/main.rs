//! The `h2push` command: serve a directory with push and 103 Early Hints, probe a server,
//! write a development certificate.
//!
//! This file owns the command line (clap) and logging set-up; each subcommand lives in its own
//! module. The server, TLS, files and probe themselves are the `h2push` library's.

mod cert;
mod config;
mod demo;
mod limits;
mod mercure_args;
mod probe;
mod proxy;
mod serve;
mod sse_args;
mod startup;
mod trim;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// An HTTP/2 server that gets a page's critical resources to the client before it asks.
///
/// It pushes them (RFC 9113 §8.4) to clients that accept push, sends them as 103 Early Hints
/// to browsers (which no longer accept push but act on 103), and keeps `Link: rel=preload`
/// for everyone else.
#[derive(Parser)]
#[command(name = "h2push", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a directory of static files over HTTPS (HTTP/2 with push and 103, HTTP/1.1).
    Serve(Box<serve::ServeArgs>),
    /// Serve the demo site: push, 103 Early Hints, EventSource and a streaming chatbot.
    Demo(demo::DemoArgs),
    /// Fetch a URL over HTTP/2 and show what the server pushes and early-hints.
    Probe(probe::ProbeArgs),
    /// Put h2push in front of an app (http, h2c, https): its Link preloads become pushes and 103s.
    Proxy(Box<proxy::ProxyArgs>),
    /// Write a self-signed development certificate (cert.pem, key.pem) to a directory.
    Cert(cert::CertArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(*args),
        Command::Demo(args) => demo::run(args),
        Command::Probe(args) => probe::run(args),
        Command::Cert(args) => cert::run(args),
        Command::Proxy(args) => proxy::run(*args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("h2push: {e}");
            ExitCode::from(2)
        }
    }
}

/// The error every subcommand returns: printed as `h2push: <message>`.
pub type CliError = Box<dyn std::error::Error + Send + Sync>;
