//! `h2push probe`: fetch a URL over HTTP/2 and show what the server pushes and hints.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use h2push::probe::{probe, ProbeOptions};
use http::{HeaderName, HeaderValue};

use crate::CliError;

#[derive(Args)]
pub struct ProbeArgs {
    /// The URL: https://HOST:PORT/PATH, or http://… for h2c prior knowledge.
    url: http::Uri,
    /// More paths to fetch afterwards on the same connection, in order.
    paths: Vec<String>,
    /// Accept any certificate (for self-signed development certificates).
    #[arg(short = 'k', long)]
    insecure: bool,
    /// Advertise SETTINGS_ENABLE_PUSH = 0, as browsers and curl do.
    #[arg(long)]
    no_push: bool,
    /// Reset (CANCEL) every pushed stream as soon as it is promised.
    #[arg(long)]
    reset_pushes: bool,
    /// Advertise this SETTINGS_MAX_CONCURRENT_STREAMS (limits the server's pushes).
    #[arg(long, value_name = "N")]
    max_concurrent_streams: Option<u32>,
    /// Send a request header, e.g. -H 'sec-fetch-mode: navigate'. May repeat.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Connect to this address instead of resolving the URL's host.
    #[arg(long, value_name = "ADDR")]
    connect_to: Option<SocketAddr>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    timeout: f64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ProbeArgs) -> Result<ExitCode, CliError> {
    let mut headers = Vec::new();
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| format!("header {h:?} has no ':'; write it as 'name: value'"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("{:?} is not a valid header name", name.trim()))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| format!("the value of header {name} is not valid"))?;
        headers.push((name, value));
    }
    if !(args.timeout > 0.0 && args.timeout.is_finite()) {
        return Err("--timeout must be a positive number of seconds".into());
    }
    let opts = ProbeOptions {
        url: args.url,
        extra_paths: args.paths,
        connect_to: args.connect_to,
        insecure: args.insecure,
        enable_push: !args.no_push,
        reset_pushes: args.reset_pushes,
        max_concurrent_streams: args.max_concurrent_streams,
        headers,
        timeout: Duration::from_secs_f64(args.timeout),
        ..ProbeOptions::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(probe(&opts))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render_text());
    }
    Ok(ExitCode::SUCCESS)
}
