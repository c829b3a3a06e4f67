//! `h2push proxy` and the config file's `[[proxy]]` sections.
//!
//! This module owns putting h2push in front of an existing app: the `proxy` subcommand (one
//! upstream for every path, the upstream's `Link: rel=preload` headers pushed and
//! early-hinted), and the `[[proxy]]` sections `serve` mixes with its static root
//! (`prefix = "/api"`, `upstream = "http://127.0.0.1:8000"`), with their upstream transport
//! settings (`https://` with `upstream_ca`, `tls_server_name`, `upstream_insecure`; h2c by
//! `h2c://` or `upstream_http2`), checked with the line of the key at fault. The proxying
//! itself is the library's `h2push::proxy`; TLS, limits and logging follow `serve`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use h2push::files::StaticFiles;
use h2push::hints::{HintLayer, HintPolicy};
use h2push::proxy::{HostHeader, Proxy, ProxyConfig, ProxyRoutes};
use h2push::{BoxError, Server};
use serde::Deserialize;
use toml::Spanned;
use tower::util::{Either, MapErr};
use tower::Layer;

use crate::CliError;

#[derive(Args)]
pub struct ProxyArgs {
    /// The app to forward to: http://, https:// or h2c://host:port[/base] (h2c: HTTP/2 with
    /// prior knowledge; https: ALPN offers h2 and http/1.1, the app picks).
    #[arg(long, value_name = "URL")]
    upstream: String,
    #[command(flatten)]
    transport: TransportArgs,
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
    /// Sec-Fetch-Dest), and hint them in the next navigation's 103 while the app thinks.
    /// shared [default]: only what any visitor could be given — responses a shared cache may
    /// store (no `private`, `no-store`, `Set-Cookie` or `Vary: Cookie`), fetched after the page
    /// on two different connections; all: every sub-resource (a page that shows one user's
    /// avatar would name it to others); off.
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

/// How to reach the upstream, beyond its URL.
#[derive(Args, Default)]
pub struct TransportArgs {
    /// Trust the CA certificates in this PEM file, instead of the system's, for an https://
    /// upstream (a private CA, a development certificate).
    #[arg(long, value_name = "PATH")]
    upstream_ca: Option<PathBuf>,
    /// Accept any certificate from an https:// upstream, unverified: for self-signed
    /// development backends only (logged loudly at start).
    #[arg(long)]
    upstream_insecure: bool,
    /// The name sent as SNI to an https:// upstream and required in its certificate
    /// [default: the URL's host].
    #[arg(long, value_name = "NAME")]
    tls_server_name: Option<String>,
    /// Speak HTTP/2 with prior knowledge (h2c) to an http:// upstream, as an h2c:// URL does.
    #[arg(long)]
    upstream_http2: bool,
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
    /// `http://`, `https://` or `h2c://host:port[/base]`.
    pub upstream: Spanned<String>,
    /// `"preserve"` (default), `"upstream"`, or the value to send.
    pub host: Option<String>,
    pub connect_timeout_ms: Option<u64>,
    pub read_timeout_secs: Option<u64>,
    pub max_in_flight: Option<usize>,
    /// A PEM file of CAs to trust instead of the system's (relative to the config file).
    pub upstream_ca: Option<Spanned<PathBuf>>,
    /// Accept any certificate (self-signed development backends only).
    pub upstream_insecure: Option<Spanned<bool>>,
    /// SNI and certificate name for an https upstream (default: the URL's host).
    pub tls_server_name: Option<Spanned<String>>,
    /// HTTP/2 with prior knowledge to an http:// upstream.
    pub upstream_http2: Option<Spanned<bool>>,
}

impl ProxySection {
    fn transport(&self) -> TransportArgs {
        TransportArgs {
            upstream_ca: self.upstream_ca.as_ref().map(|p| p.get_ref().clone()),
            upstream_insecure: self
                .upstream_insecure
                .as_ref()
                .is_some_and(|b| *b.get_ref()),
            tls_server_name: self.tls_server_name.as_ref().map(|n| n.get_ref().clone()),
            upstream_http2: self.upstream_http2.as_ref().is_some_and(|b| *b.get_ref()),
        }
    }

    /// Makes a relative `upstream_ca` relative to the config file's directory.
    pub fn resolve_paths(&mut self, base: &Path) {
        if let Some(p) = &mut self.upstream_ca {
            if p.get_ref().is_relative() {
                *p.get_mut() = base.join(p.get_ref());
            }
        }
    }
}

/// Checks each `[[proxy]]` section's upstream and transport keys; the error names the line,
/// column and key. (A CA file is read when the proxy is built; its errors name the file.)
pub fn check_sections(sections: &[ProxySection], text: &str) -> Result<(), String> {
    let at = |span: std::ops::Range<usize>, key: &str, why: &str| {
        let (line, col) = crate::config::line_col(text, span.start);
        Err(format!("line {line}, column {col}: [[proxy]] {key}: {why}"))
    };
    for s in sections {
        let url = s.upstream.get_ref();
        let config = match url.parse() {
            Ok(uri) => ProxyConfig::new(uri).map_err(|e| e.to_string()),
            Err(e) => Err(format!("{url:?}: {e}")),
        };
        let config = match config {
            Ok(c) => c,
            Err(e) => return at(s.upstream.span(), "upstream", &e),
        };
        if let Some(n) = &s.tls_server_name {
            if rustls_name(n.get_ref()).is_err() {
                return at(n.span(), "tls_server_name", "not a DNS name or IP address");
            }
        }
        let on = |b: &Option<Spanned<bool>>| b.as_ref().filter(|b| *b.get_ref()).map(Spanned::span);
        let tls_keys = [
            ("upstream_ca", s.upstream_ca.as_ref().map(Spanned::span)),
            ("upstream_insecure", on(&s.upstream_insecure)),
            (
                "tls_server_name",
                s.tls_server_name.as_ref().map(Spanned::span),
            ),
        ];
        for (key, span) in tls_keys {
            if let (Some(span), false) = (span, config.is_https()) {
                return at(span, key, "needs an https:// upstream");
            }
        }
        if let (Some(span), true) = (on(&s.upstream_http2), config.is_https()) {
            return at(
                span,
                "upstream_http2",
                "is for http:// upstreams (over https, ALPN picks h2)",
            );
        }
        if let (Some(span), Some(_)) = (on(&s.upstream_insecure), &s.upstream_ca) {
            return at(
                span,
                "upstream_insecure",
                "and upstream_ca together: choose one",
            );
        }
    }
    Ok(())
}

fn rustls_name(name: &str) -> Result<h2push::proxy::ServerName<'static>, CliError> {
    h2push::proxy::ServerName::try_from(name.to_owned())
        .map_err(|_| format!("TLS server name {name:?}: not a DNS name or IP address").into())
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
    transport: &TransportArgs,
) -> Result<ProxyConfig, CliError> {
    let uri = upstream
        .parse()
        .map_err(|e| format!("upstream {upstream:?}: {e}"))?;
    let mut c = ProxyConfig::new(uri)?;
    c.host = host_header(host)?;
    c.connect_timeout = Duration::from_millis(connect_ms);
    c.read_timeout = Duration::from_secs(read_secs);
    c.max_in_flight = max_in_flight;
    c.http2 |= transport.upstream_http2;
    c.tls.insecure = transport.upstream_insecure;
    if let Some(name) = &transport.tls_server_name {
        c.tls.server_name = Some(rustls_name(name)?);
    }
    if let Some(path) = &transport.upstream_ca {
        c.tls = std::mem::take(&mut c.tls)
            .load_ca_file(path)
            .map_err(|e| format!("upstream {upstream}: {e}"))?;
    }
    c.check()?;
    if c.tls.insecure {
        println!(
            "  WARNING: upstream {upstream}: TLS certificate verification is OFF \
             (--upstream-insecure / upstream_insecure): for development backends only"
        );
    }
    Ok(c)
}

/// The transport in words, for the start-up lines: "" for plain HTTP/1.1.
fn transport_note(c: &ProxyConfig) -> &'static str {
    match (c.is_https(), c.http2, c.tls.insecure, c.tls.ca.is_some()) {
        (true, _, true, _) => " (TLS, certificate NOT verified)",
        (true, _, _, true) => " (TLS, CA file)",
        (true, _, _, _) => " (TLS, system roots)",
        (false, true, _, _) => " (h2c, prior knowledge)",
        _ => "",
    }
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
            s.upstream.get_ref(),
            s.host.as_deref().unwrap_or("preserve"),
            s.connect_timeout_ms.unwrap_or(5000),
            s.read_timeout_secs.unwrap_or(60),
            s.max_in_flight.unwrap_or(1024),
            &s.transport(),
        )
        .map_err(|e| format!("[[proxy]] {}: {e}", s.prefix.0))?;
        c.early_hints = flags.early_hints;
        c.scan_html = flags.html_scan;
        let note = transport_note(&c);
        println!("  proxy {} -> {}{note}", s.prefix.0, s.upstream.get_ref());
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
        &args.transport,
    )?;
    let note = transport_note(&config);
    config.early_hints = !args.no_early_hints;
    config.scan_html = !args.no_html_scan;
    let proxy = Proxy::new(config);
    let mut policy = HintPolicy::default();
    policy.push_rules = !args.no_push;
    policy.push_preload_links = !args.no_push;
    policy.early_hints = !args.no_early_hints;
    // Without static files, "static" learns nothing: the same as off.
    policy.learn.mode = args
        .learn
        .map_or(h2push::hints::LearnMode::Shared, Into::into);
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
        println!("h2push proxying to {}{note}", proxy.upstream());
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
        let none = TransportArgs::default();
        assert!(proxy_config("ftp://x", "preserve", 1, 1, 1, &none).is_err());
        assert!(proxy_config("https://x", "preserve", 1, 1, 1, &none).is_ok());
        let c = proxy_config("h2c://x:1", "preserve", 1, 1, 1, &none).unwrap();
        assert!(c.http2);
    }

    #[test]
    fn bad_prefix_names_its_line() {
        let e =
            crate::config::Config::parse("[[proxy]]\nprefix = \"api\"\nupstream = \"http://a\"\n")
                .unwrap_err();
        assert!(e.starts_with("line 2"), "{e}");
    }
}

#[cfg(test)]
mod transport_tests {
    use super::*;

    fn err(text: &str) -> String {
        crate::config::Config::parse(text).unwrap_err()
    }

    #[test]
    fn transport_keys_parse() {
        let c = crate::config::Config::parse(
            "[[proxy]]\nprefix = \"/api\"\nupstream = \"https://127.0.0.1:8443\"\n\
             tls_server_name = \"api.internal\"\nupstream_insecure = true\n\
             [[proxy]]\nprefix = \"/h2\"\nupstream = \"http://127.0.0.1:8001\"\nupstream_http2 = true\n",
        )
        .unwrap();
        let t = c.proxy[0].transport();
        assert!(t.upstream_insecure && t.tls_server_name.as_deref() == Some("api.internal"));
        assert!(c.proxy[1].transport().upstream_http2);
    }

    #[test]
    fn transport_mistakes_name_line_and_key() {
        let e = err("[[proxy]]\nprefix = \"/\"\nupstream = \"ftp://a\"\n");
        assert!(
            e.starts_with("line 3") && e.contains("upstream") && e.contains("scheme"),
            "{e}"
        );
        let e =
            err("[[proxy]]\nprefix = \"/\"\nupstream = \"http://a\"\nupstream_ca = \"ca.pem\"\n");
        assert!(
            e.starts_with("line 4") && e.contains("upstream_ca") && e.contains("https://"),
            "{e}"
        );
        let e = err("[[proxy]]\nprefix = \"/\"\nupstream = \"https://a\"\nupstream_http2 = true\n");
        assert!(
            e.starts_with("line 4") && e.contains("upstream_http2"),
            "{e}"
        );
        let e =
            err("[[proxy]]\nprefix = \"/\"\nupstream = \"https://a\"\ntls_server_name = \"a b\"\n");
        assert!(
            e.starts_with("line 4") && e.contains("tls_server_name"),
            "{e}"
        );
        let e = err(
            "[[proxy]]\nprefix = \"/\"\nupstream = \"https://a\"\nupstream_insecure = \"yes\"\n",
        );
        assert!(
            e.starts_with("line 4, column 21") && e.contains("boolean"),
            "{e}"
        );
        let e = err("[[proxy]]\nprefix = \"/\"\nupstream = \"https://a\"\nupstream_ca = \"ca.pem\"\nupstream_insecure = true\n");
        assert!(e.starts_with("line 5") && e.contains("choose one"), "{e}");
    }

    #[test]
    fn a_bad_ca_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("not-a-ca.pem");
        std::fs::write(&ca, "nope\n").unwrap();
        let t = TransportArgs {
            upstream_ca: Some(ca),
            ..TransportArgs::default()
        };
        let e = proxy_config("https://a", "preserve", 1, 1, 1, &t)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not-a-ca.pem") && e.contains("no PEM certificates"),
            "{e}"
        );
    }
}
