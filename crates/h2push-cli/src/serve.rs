//! `h2push serve`: static files over HTTPS with push and 103 Early Hints.
//!
//! This module owns turning flags and the config file into a running server: flags override
//! the file, the file overrides the defaults. With no certificate given, it makes one in
//! memory and prints the pin Chromium needs to trust it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use h2push::files::StaticFiles;
use h2push::hints::{HintLayer, HintPolicy};
use h2push::Server;
use tower::Layer;

use crate::config::{CacheControl, Config, LearnSetting};
use crate::{startup, CliError};

#[derive(Args)]
pub struct ServeArgs {
    /// The directory to serve [default: the config's `root`, else the current directory].
    root: Option<PathBuf>,
    #[command(flatten)]
    listen: startup::ListenArgs,
    /// A TOML config file: push rules ([[push]] path = "/" resources = ["/style.css"]),
    /// addresses, TLS, limits. Flags given here win over it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Cache-Control for static files whose names are not content-hashed, HTML included
    /// [default: no-cache]; "" sends none.
    ///
    /// Content-hashed names get "public, max-age=31536000, immutable": a path segment, or a
    /// `.`/`-`/`_`-separated part of one, of 8 or more letters and digits that changes
    /// between upper case, lower case and digits the way hashes do and words do not
    /// (index-D_6Ay_gG.js, main.3f2a9c1b.js, variables-8adf115d.css; not bootstrap.min.js,
    /// Inter-Variable.woff2, sales-20240101.pdf). HTML never is. The config file's
    /// [[cache]] path = "/assets/*" cache_control = "..." rules override both, first match
    /// wins.
    #[arg(long, value_name = "VALUE")]
    cache_control: Option<String>,
    /// Do not serve precompressed .br/.gz siblings.
    #[arg(long)]
    no_precompressed: bool,
    /// Do not compress responses on the fly. By default text, JSON, JavaScript, SVG, wasm
    /// and fonts other than woff/woff2 of 1 KiB or more (or of unknown length) are sent
    /// with brotli (quality 4), zstd (3) or gzip (6), the client's Accept-Encoding choosing;
    /// a precompressed sibling, an upstream that compressed, a Range request and
    /// text/event-stream are left alone. Config: compress = false.
    #[arg(long)]
    no_compress: bool,
    /// Push nothing (103 Early Hints and Link headers still go out).
    #[arg(long)]
    no_push: bool,
    /// Send no 103 Early Hints.
    #[arg(long)]
    no_early_hints: bool,
    /// Set no cache digest cookie (push as to a first visit every time).
    ///
    /// The cookie is sealed with a key that is random per process unless H2PUSH_DIGEST_KEY
    /// (or the config's [hints] digest_key) gives one: at least 32 printable characters,
    /// e.g. from `openssl rand -base64 32`. Give every instance behind a load balancer the
    /// same key so that they read each other's cookies.
    #[arg(long)]
    no_digest: bool,
    /// Do not scan static HTML pages for render-blocking resources.
    #[arg(long)]
    no_html_scan: bool,
    /// Learn hints from Referer for: off; static pages; shared [default]: static pages, and
    /// on dynamic pages (the app's, [[proxy]] routes) only what any visitor could be given
    /// (responses a shared cache may store, seen after the page on two connections); all.
    #[arg(long, value_name = "MODE")]
    learn: Option<LearnSetting>,
    /// Serve Prometheus metrics of pushes and hints at this path, e.g. /metrics.
    #[arg(long, value_name = "PATH")]
    metrics_path: Option<String>,
    #[command(flatten)]
    limits: crate::limits::LimitArgs,
    #[command(flatten)]
    sse: crate::sse_args::SseArgs,
}

pub fn run(args: ServeArgs) -> Result<ExitCode, CliError> {
    startup::init_logging(!args.listen.no_access_log);
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };

    let root = args
        .root
        .clone()
        .or(config.root.clone())
        .unwrap_or_else(|| PathBuf::from("."));
    let flag = args
        .cache_control
        .as_deref()
        .map(CacheControl::parse)
        .transpose()?;
    let mut files = StaticFiles::new(&root)?.cache_policy(config.cache_policy(flag));
    files = files.precompressed(!args.no_precompressed && config.precompressed.unwrap_or(true));

    let policy = hint_policy(&args, &config, files.clone())?;
    let flags = crate::proxy::RouteHintFlags {
        early_hints: policy.early_hints,
        html_scan: policy.html_scan,
    };
    let service =
        HintLayer::new(policy.clone()).layer(crate::proxy::front(files, &config.proxy, flags)?);

    let (identity, generated) = startup::tls_identity(
        args.listen.cert.as_deref().or(config.tls.cert.as_deref()),
        args.listen.key.as_deref().or(config.tls.key.as_deref()),
    )?;

    let limits = crate::limits::limits(&args.limits, &config.limits);
    let mut addrs = if args.listen.addrs.is_empty() {
        config.listen.clone()
    } else {
        args.listen.addrs.clone()
    };
    let h2c = if args.listen.h2c.is_empty() {
        config.h2c.clone()
    } else {
        args.listen.h2c.clone()
    };
    if addrs.is_empty() {
        addrs.push(SocketAddr::from(([127, 0, 0, 1], 8443)));
    }
    let threads = args.listen.threads();
    let mut builder = Server::builder()
        .tls(identity.server_config(&[b"h2", b"http/1.1"])?)
        .limits(limits)
        .threads(threads);
    for a in &addrs {
        builder = builder.bind_tls(*a);
    }
    for a in &h2c {
        builder = builder.bind_plain(*a);
    }

    // One single-threaded runtime per serving thread (the server starts the others).
    let runtime = h2push::server::runtime()?;
    runtime.block_on(async {
        let server = builder.build()?;
        // Listen for SIGINT/SIGTERM before announcing the server: a signal sent as soon as
        // the URL is printed must not kill the process ungracefully.
        let signal = h2push::server::shutdown_signal();
        println!("h2push serving {}", root.display());
        startup::announce_addrs(&server);
        for rule in &policy.rules {
            let list: Vec<&str> = rule.resources.iter().map(|h| h.path.as_str()).collect();
            println!("  push {} -> {}", rule.path, list.join(", "));
        }
        if let Some(p) = &policy.metrics_path {
            println!("  metrics: {p}");
        }
        startup::announce_pin(&identity, generated);

        tokio::spawn(crate::trim::after_connections_close(server.stats()));
        let handle = server.shutdown_handle();
        tokio::spawn(async move {
            signal.await;
            tracing::info!("shutting down: finishing in-flight requests");
            handle.shutdown();
        });
        let service = crate::sse_args::mount_hub(&args.sse, config.sse.as_ref(), service)?;
        let service = crate::mercure_args::mount_mercure(
            &args.sse.mercure,
            config.mercure.as_ref(),
            args.sse.redis.as_deref(),
            config.sse.as_ref().and_then(|s| s.redis_prefix.as_deref()),
            service,
        )?;
        let compress = !args.no_compress && config.compress.unwrap_or(true);
        let service = compression(compress).layer(service);
        server.serve(service).await;
        Ok::<_, CliError>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The compression layer, in front of everything (pushed responses included).
pub fn compression(on: bool) -> h2push::CompressionLayer {
    h2push::CompressionLayer::new(if on {
        h2push::CompressConfig::default()
    } else {
        h2push::CompressConfig::disabled()
    })
}

/// The hint policy: flags over the `[hints]` section over the defaults.
fn hint_policy(
    args: &ServeArgs,
    config: &Config,
    files: StaticFiles,
) -> Result<HintPolicy, CliError> {
    let h = &config.hints;
    let mut policy = HintPolicy::with_rules(config.push_rules()).with_files(files);
    let push = !args.no_push && h.push.unwrap_or(true);
    policy.push_rules = push;
    policy.push_preload_links = push && h.push_preload.unwrap_or(true);
    policy.early_hints = !args.no_early_hints && h.early_hints.unwrap_or(true);
    policy.preload_header = h.preload_header.unwrap_or(true);
    policy.html_scan = !args.no_html_scan && h.html_scan.unwrap_or(true);
    if args.no_digest || h.digest == Some(false) {
        policy.digest = None;
    }
    if let Some(digest) = policy.digest.as_mut() {
        let env = std::env::var_os(crate::config::DIGEST_KEY_ENV);
        if let Some(source) = crate::config::apply_digest_key(digest, env, h.digest_key.as_ref())? {
            let from = match source {
                crate::config::KeySource::Env => crate::config::DIGEST_KEY_ENV,
                crate::config::KeySource::File => "[hints] digest_key",
            };
            println!("  digest cookie key: from {from}");
        }
    }
    if let Some(mode) = args.learn.or(h.learn) {
        policy.learn.mode = mode.into();
    }
    if let Some(n) = h.budget_resources {
        policy.budget.resources = n;
    }
    if let Some(n) = h.budget_bytes {
        policy.budget.bytes = n;
    }
    policy.metrics_path = match &args.metrics_path {
        Some(p) if !p.starts_with('/') => {
            return Err(format!("--metrics-path {p:?} must start with '/'").into())
        }
        Some(p) => Some(p.clone()),
        None => h.metrics_path.as_ref().map(|p| p.0.clone()),
    };
    Ok(policy)
}
