//! `h2push proxy` and the config file's `[[proxy]]` sections.
//!
//! This module owns putting h2push in front of an existing HTTP/1.1 app: the `proxy`
//! subcommand (one upstream for every path, the upstream's `Link: rel=preload` headers pushed
//! and early-hinted), and the `[[proxy]]` sections `serve` mixes with its static root
//! (`prefix = "/api"`, `upstream = "http://127.0.0.1:8000"`). The proxying itself is the
//! library's `h2push::proxy`; TLS, limits and logging follow `serve`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use h2push::files::StaticFiles;
use h2push::hints::{HintLayer, HintPolicy};
use h2push::proxy::{HostHeader, Proxy, ProxyConfig, ProxyRoutes};
use h2push::{BoxError, Server};
use serde::Deserialize;
use tower::util::{Either, MapErr};
use tower::Layer;

use crate::CliError;

#[derive(Args)]
pub struct ProxyArgs {
    /// The app to forward to: http://host:port[/base].
    #[arg(long, value_name = "URL")]
    upstream: String,
    #[command(flatten)]
    listen: crate::startup::ListenArgs,
    #[command(flatten)]
    limits: crate::limits::LimitArgs,
    /// The Host the upstream sees: "preserve" (the client's), "upstream" (the URL's) or a value.
    #[arg(long, value_name = "HOST", default_value = "preserve")]
    host: String,
    /// Connect timeout in milliseconds (504 after it).
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    connect_timeout_ms: u64,
    /// Read timeout in seconds: for the response head (504) and between body reads (reset).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    read_timeout: u64,
    /// Requests in flight to the upstream at most; more get 503.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    max_in_flight: usize,
    /// Push nothing (103 Early Hints and Link headers still go out).
    #[arg(long)]
    no_push: bool,
    /// Send no 103 Early Hints from remembered routes (the upstream's own 103s still pass).
    #[arg(long)]
    no_early_hints: bool,
    /// Learn each page's sub-resources from what browsers fetch after it (Referer,
    /// Sec-Fetch-Dest), and hint them in the next navigation's 103 while the app thinks: off
    /// [default] or all. A proxied page is dynamic: turn this on where a page's images,
    /// fonts and scripts are the same for every user (learned hints of a page that shows one
    /// user's avatar would name it to others).
    #[arg(long, value_name = "MODE")]
    learn: Option<crate::config::LearnSetting>,
    /// Do not read the <head> of proxied HTML pages. By default the stylesheets, scripts
    /// and preloads it names are remembered per route (with the app's Link preloads) and
    /// sent as a 103 to the next navigation while the app is still thinking.
    #[arg(long)]
    no_html_scan: bool,
    /// Do not compress the upstream's uncompressed responses on the fly (brotli, zstd or
    /// gzip by Accept-Encoding; text, JSON, JavaScript, SVG of 1 KiB or more; never
    /// text/event-stream, never what the upstream compressed itself).
    #[arg(long)]
    no_compress: bool,
}

/// What `serve`'s flags and `[hints]` say about the proxied routes' hints.
#[derive(Debug, Clone, Copy)]
pub struct RouteHintFlags {
    /// Send remembered hints as a 103.
    pub early_hints: bool,
    /// Read proxied HTML heads.
    pub html_scan: bool,
}

/// A `[[proxy]]` section: requests under `prefix` go to `upstream`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySection {
    /// `/api` proxies `/api` and everything below it; `/` everything not served otherwise.
    pub prefix: crate::config::LocalPath,
    /// `http://host:port[/base]`.
    pub upstream: String,
    /// `"preserve"` (default), `"upstream"`, or the value to send.
    pub host: Option<String>,
    pub connect_timeout_ms: Option<u64>,
    pub read_timeout_secs: Option<u64>,
    pub max_in_flight: Option<usize>,
}

fn host_header(s: &str) -> Result<HostHeader, CliError> {
    Ok(match s {
        "preserve" => HostHeader::Preserve,
        "upstream" => HostHeader::Upstream,
        v => HostHeader::Rewrite(v.parse().map_err(|_| format!("invalid host {v:?}"))?),
    })
}

fn proxy_config(
    upstream: &str,
    host: &str,
    connect_ms: u64,
    read_secs: u64,
    max_in_flight: usize,
) -> Result<ProxyConfig, CliError> {
    let uri = upstream
        .parse()
        .map_err(|e| format!("upstream {upstream:?}: {e}"))?;
    let mut c = ProxyConfig::new(uri)?;
    c.host = host_header(host)?;
    c.connect_timeout = Duration::from_millis(connect_ms);
    c.read_timeout = Duration::from_secs(read_secs);
    c.max_in_flight = max_in_flight;
    Ok(c)
}

type Files = MapErr<StaticFiles, fn(Infallible) -> BoxError>;

/// `serve`'s service: the static files alone, or mixed with the `[[proxy]]` prefixes.
pub fn front(
    files: StaticFiles,
    sections: &[ProxySection],
    flags: RouteHintFlags,
) -> Result<Either<Files, ProxyRoutes<StaticFiles>>, CliError> {
    if sections.is_empty() {
        let never: fn(Infallible) -> BoxError = |e| match e {};
        return Ok(Either::Left(MapErr::new(files, never)));
    }
    let mut routes = ProxyRoutes::new(files);
    for s in sections {
        let mut c = proxy_config(
            &s.upstream,
            s.host.as_deref().unwrap_or("preserve"),
            s.connect_timeout_ms.unwrap_or(5000),
            s.read_timeout_secs.unwrap_or(60),
            s.max_in_flight.unwrap_or(1024),
        )?;
        c.early_hints = flags.early_hints;
        c.scan_html = flags.html_scan;
        println!("  proxy {} -> {}", s.prefix.0, s.upstream);
        routes = routes.route(s.prefix.0.clone(), Proxy::new(c));
    }
    Ok(Either::Right(routes))
}

pub fn run(args: ProxyArgs) -> Result<ExitCode, CliError> {
    crate::startup::init_logging(!args.listen.no_access_log);
    let mut config = proxy_config(
        &args.upstream,
        &args.host,
        args.connect_timeout_ms,
        args.read_timeout,
        args.max_in_flight,
    )?;
    config.early_hints = !args.no_early_hints;
    config.scan_html = !args.no_html_scan;
    let proxy = Proxy::new(config);
    let mut policy = HintPolicy::default();
    policy.push_rules = !args.no_push;
    policy.push_preload_links = !args.no_push;
    policy.early_hints = !args.no_early_hints;
    policy.learn.mode = match args.learn {
        // Without static files, "static" learns nothing: the same as off.
        Some(mode) => mode.into(),
        None => h2push::hints::LearnMode::Off,
    };
    // The digest cookie's key: H2PUSH_DIGEST_KEY, else random per process.
    let env = std::env::var_os(crate::config::DIGEST_KEY_ENV);
    let keyed = match policy.digest.as_mut() {
        Some(d) => crate::config::apply_digest_key(d, env, None)?.is_some(),
        None => false,
    };
    let service = crate::serve::compression(!args.no_compress)
        .layer(HintLayer::new(policy).layer(proxy.clone()));

    let (identity, generated) =
        crate::startup::tls_identity(args.listen.cert.as_deref(), args.listen.key.as_deref())?;
    let mut addrs = args.listen.addrs.clone();
    if addrs.is_empty() {
        addrs.push(SocketAddr::from(([127, 0, 0, 1], 8443)));
    }
    let threads = args.listen.threads();
    let mut builder = Server::builder()
        .tls(identity.server_config(&[b"h2", b"http/1.1"])?)
        .limits(crate::limits::limits(
            &args.limits,
            &crate::limits::LimitsSection::default(),
        ))
        .threads(threads);
    for a in &addrs {
        builder = builder.bind_tls(*a);
    }
    for a in &args.listen.h2c {
        builder = builder.bind_plain(*a);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let server = builder.build()?;
        let signal = h2push::server::shutdown_signal();
        println!("h2push proxying to {}", proxy.upstream());
        if keyed {
            println!(
                "  digest cookie key: from {}",
                crate::config::DIGEST_KEY_ENV
            );
        }
        crate::startup::announce_addrs(&server);
        crate::startup::announce_pin(&identity, generated);
        let handle = server.shutdown_handle();
        tokio::spawn(async move {
            signal.await;
            handle.shutdown();
        });
        server.serve(service).await;
        Ok::<_, CliError>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_sections_parse() {
        let c = crate::config::Config::parse(
            "[[proxy]]\nprefix = \"/api\"\nupstream = \"http://127.0.0.1:8000\"\nhost = \"upstream\"\n",
        )
        .unwrap();
        assert_eq!(c.proxy[0].prefix.0, "/api");
        assert!(matches!(
            host_header("upstream").unwrap(),
            HostHeader::Upstream
        ));
        assert!(proxy_config("https://x", "preserve", 1, 1, 1).is_err());
    }

    #[test]
    fn bad_prefix_names_its_line() {
        let e =
            crate::config::Config::parse("[[proxy]]\nprefix = \"api\"\nupstream = \"http://a\"\n")
                .unwrap_err();
        assert!(e.starts_with("line 2"), "{e}");
    }
}
