//! Page load under 100 ms RTT: how much push, 103 Early Hints and the cache digest save.
//!
//! Puts a user-space delay proxy (50 ms each way; netem is not available here) in front of
//! each server and loads a page with a browser-like HTTP/2 client: it requests the page,
//! acts on a 103 at once (fetching its `rel=preload` links that have an `as=`), uses pushed
//! responses instead of fetching, parses the HTML's `<head>` for its render-blocking
//! resources (h2push's own scanner, which follows the browser's rules) and each stylesheet
//! for the fonts it loads, and fetches whatever it still lacks. The figure is the time from
//! sending the page request to holding the page and every critical resource (connection set-up
//! excluded). `bench/pageload.sh` starts the servers and runs this.
//!
//! ```text
//! pageload site DIR
//! pageload run --site DIR --target h2push=127.0.0.1:8443 --target nginx=127.0.0.1:8444 \
//!     --dynamic --delay-ms 50 --runs 9
//! ```

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use clap::{Parser, Subcommand};
use h2::client::{PushPromises, SendRequest};
use h2push::hints::{parse_links, scan_head, Hint, HintLayer, HintPolicy, PushRule};
use http::{HeaderValue, Request};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tower::Layer;

#[path = "pageload/net.rs"]
mod net;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write the benchmark site (index.html, style.css, app.js, font.woff2, hero.png).
    Site { dir: PathBuf },
    /// Measure page loads.
    Run(RunArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// The site (for the in-process dynamic server).
    #[arg(long)]
    site: PathBuf,
    /// `NAME=ADDR` of a TLS HTTP/2 server serving the site; may repeat. The one named
    /// `h2push` also gets the digest repeat-visit runs.
    #[arg(long = "target", value_parser = parse_target)]
    targets: Vec<(String, SocketAddr)>,
    /// Also serve the page from an in-process h2push with think time (a dynamic page).
    #[arg(long)]
    dynamic: bool,
    /// The dynamic page's think time.
    #[arg(long, default_value_t = 100)]
    think_ms: u64,
    /// One-way delay added by the proxy.
    #[arg(long, default_value_t = 50)]
    delay_ms: u64,
    /// Loads per case (the median is reported).
    #[arg(long, default_value_t = 9)]
    runs: usize,
}

fn parse_target(s: &str) -> Result<(String, SocketAddr), String> {
    let (name, addr) = s.split_once('=').ok_or("expected NAME=ADDR")?;
    Ok((
        name.to_owned(),
        addr.parse().map_err(|e| format!("{addr}: {e}"))?,
    ))
}

const INDEX: &str = r#"<!doctype html>
<html lang="en"><head>
<meta charset="utf-8"><title>page load</title>
<link rel="stylesheet" href="/style.css">
<script src="/app.js"></script>
</head><body><h1>Page load under 100 ms RTT</h1><img src="/hero.png" alt=""></body></html>
"#;

fn write_site(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut css = String::from(
        "@font-face { font-family: Body; src: url(/font.woff2) format(\"woff2\"); }\n\
         body { font-family: Body, sans-serif; }\n",
    );
    for i in 0..300 {
        css.push_str(&format!(".c{i} {{ margin: {i}px; padding: {i}px; }}\n"));
    }
    let js: String = (0..600).map(|i| format!("var v{i} = {i} * 2;\n")).collect();
    let noise = |n: usize, seed: u32| -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    };
    std::fs::write(dir.join("index.html"), INDEX)?;
    std::fs::write(dir.join("style.css"), css)?;
    std::fs::write(dir.join("app.js"), js)?;
    std::fs::write(dir.join("font.woff2"), noise(24 * 1024, 7))?;
    std::fs::write(dir.join("hero.png"), noise(48 * 1024, 11))?;
    Ok(())
}

/// How the client behaves on one visit.
#[derive(Clone, Default)]
struct Mode {
    push: bool,
    act_on_103: bool,
    cookie: Option<String>,
    /// Paths the client holds from an earlier visit (fresh: no revalidation needed).
    cache: HashSet<String>,
}

/// What one visit measured.
#[derive(Debug, Default, Clone)]
struct Visit {
    elapsed: Duration,
    pushed_bytes: usize,
    promised: usize,
    requests: usize,
    cookie: Option<String>,
    got: HashSet<String>,
}

/// The resources of one visit: what is done, in flight, and their bodies.
#[derive(Default)]
struct Loads {
    started: HashSet<String>,
    done: HashMap<String, (Instant, Bytes)>,
    pushed_bytes: usize,
    promised: usize,
    requests: usize,
}

struct Page {
    send: SendRequest<Bytes>,
    loads: Mutex<Loads>,
    changed: watch::Sender<u64>,
}

impl Page {
    fn finish(&self, path: String, body: Bytes, pushed: bool) {
        let mut l = self.loads.lock().unwrap();
        if pushed {
            l.pushed_bytes += body.len();
        }
        l.done.insert(path, (Instant::now(), body));
        drop(l);
        self.changed.send_modify(|v| *v += 1);
    }

    /// Starts fetching `path` unless it is cached, pushed, or already requested.
    fn ensure(self: &Arc<Self>, path: &str) {
        {
            let mut l = self.loads.lock().unwrap();
            if !l.started.insert(path.to_owned()) {
                return;
            }
            l.requests += 1;
        }
        let page = self.clone();
        let path = path.to_owned();
        tokio::spawn(async move {
            let req = request(&path, false, None);
            if let Ok(body) = fetch(page.send.clone(), req).await {
                page.finish(path, body, false);
            }
        });
    }

    async fn wait(&self, path: &str) -> (Instant, Bytes) {
        let mut rx = self.changed.subscribe();
        loop {
            if let Some(d) = self.loads.lock().unwrap().done.get(path) {
                return d.clone();
            }
            if rx.changed().await.is_err() {
                return (Instant::now(), Bytes::new());
            }
        }
    }
}

fn request(path: &str, navigate: bool, cookie: Option<&str>) -> Request<()> {
    let mut req = Request::get(format!("https://localhost{path}"))
        .body(())
        .unwrap();
    let h = req.headers_mut();
    if navigate {
        h.insert("sec-fetch-mode", HeaderValue::from_static("navigate"));
        h.insert("accept", HeaderValue::from_static("text/html,*/*;q=0.8"));
    } else {
        h.insert("sec-fetch-mode", HeaderValue::from_static("no-cors"));
    }
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        h.insert("cookie", c);
    }
    req
}

async fn fetch(mut send: SendRequest<Bytes>, req: Request<()>) -> Result<Bytes, BoxError> {
    send = send.ready().await?;
    let (res, _) = send.send_request(req, true)?;
    read_body(res.await?.into_body()).await
}

async fn read_body(mut body: h2::RecvStream) -> Result<Bytes, BoxError> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        let _ = body.flow_control().release_capacity(chunk.len());
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// The `url(...)` targets of a stylesheet that are fonts (what a browser fetches to render
/// text). A CSS tokenizer would be overkill for a benchmark's own stylesheet.
fn css_fonts(css: &str) -> Vec<String> {
    css.split("url(")
        .skip(1)
        .filter_map(|rest| {
            let target = rest.split(')').next()?.trim().trim_matches(['"', '\'']);
            (target.starts_with('/') && h2push::hints::destination_for(target) == Some("font"))
                .then(|| target.to_owned())
        })
        .collect()
}

/// Takes every PUSH_PROMISE received so far: a pushed resource the client does not hold is
/// marked started (so it is not fetched) and read in the background; one it holds is
/// cancelled by dropping it.
fn take_promises(
    promises: &mut PushPromises,
    done: &mut bool,
    page: &Arc<Page>,
    cx: &mut Context<'_>,
) {
    while !*done {
        let next = std::pin::pin!(promises.push_promise()).poll(cx);
        let promise = match next {
            Poll::Ready(Some(Ok(p))) => p,
            Poll::Ready(_) => {
                *done = true;
                return;
            }
            Poll::Pending => return,
        };
        let (req, res) = promise.into_parts();
        let path = req.uri().path().to_owned();
        let mut loads = page.loads.lock().unwrap();
        loads.promised += 1;
        if !loads.started.insert(path.clone()) {
            continue;
        }
        drop(loads);
        let page = page.clone();
        tokio::spawn(async move {
            if let Ok(res) = res.await {
                if let Ok(body) = read_body(res.into_body()).await {
                    page.finish(path, body, true);
                }
            }
        });
    }
}

/// A browser acts on a 103's `rel=preload` links that have an `as=` (Chrome ignores others).
fn act_on_103(page: &Arc<Page>, info: &http::Response<()>) {
    for link in info.headers().get_all("link") {
        let hints = parse_links(link.to_str().unwrap_or(""));
        for h in hints
            .iter()
            .filter_map(|l| l.to_hint())
            .filter(|h| h.as_.is_some())
        {
            page.ensure(&h.path);
        }
    }
}

/// One page load on a fresh connection through `proxy`.
async fn visit(
    proxy: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    mode: &Mode,
) -> Result<Visit, BoxError> {
    let tcp = TcpStream::connect(proxy).await?;
    tcp.set_nodelay(true)?;
    let name = rustls_pki_types::ServerName::try_from("localhost")?;
    let io = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await?;
    let mut builder = h2::client::Builder::new();
    builder
        .enable_push(mode.push)
        .initial_window_size(4 << 20)
        .initial_connection_window_size(8 << 20);
    let (send, conn) = builder.handshake::<_, Bytes>(io).await?;
    let driver = tokio::spawn(conn);
    let send = send.ready().await?;

    let (changed, _) = watch::channel(0);
    let page = Arc::new(Page {
        send: send.clone(),
        loads: Mutex::default(),
        changed,
    });
    for p in &mode.cache {
        page.loads.lock().unwrap().started.insert(p.clone());
    }
    let t0 = Instant::now();
    let (mut res_fut, _) = send
        .clone()
        .send_request(request("/", true, mode.cookie.as_deref()), true)?;

    // Pushed responses are taken as their PUSH_PROMISEs arrive (while the 103s, the head and
    // the body are read), used when they complete; what the cache holds is cancelled at once.
    let mut promises = res_fut.push_promises();
    let mut promises_done = false;
    let mut interim = Vec::new();
    let res = std::future::poll_fn(|cx| {
        take_promises(&mut promises, &mut promises_done, &page, cx);
        loop {
            match res_fut.poll_informational(cx) {
                Poll::Ready(Some(Ok(info))) => {
                    if mode.act_on_103 {
                        act_on_103(&page, &info);
                    }
                    interim.push(info);
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(None) => break,
                Poll::Pending => return Poll::Pending,
            }
        }
        take_promises(&mut promises, &mut promises_done, &page, cx);
        Pin::new(&mut res_fut).poll(cx)
    })
    .await?;
    if res.status() != 200 {
        return Err(format!("GET / through {proxy}: {}", res.status()).into());
    }
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("h2push_digest="))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    let mut body = res.into_body();
    let mut buf = BytesMut::new();
    std::future::poll_fn(|cx| loop {
        take_promises(&mut promises, &mut promises_done, &page, cx);
        match body.poll_data(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                let _ = body.flow_control().release_capacity(chunk.len());
                buf.extend_from_slice(&chunk);
            }
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
            Poll::Ready(None) => return Poll::Ready(Ok(())),
            Poll::Pending => return Poll::Pending,
        }
    })
    .await?;
    let html = buf.freeze();
    let mut last = Instant::now();

    // The critical resources: the head's render-blocking ones, and the fonts their
    // stylesheets load.
    let critical: Vec<Hint> = scan_head(&String::from_utf8_lossy(&html), "/");
    let waits = critical.iter().map(|h| {
        let page = page.clone();
        let cached = mode.cache.contains(&h.path);
        let h = h.clone();
        async move {
            if cached {
                return t0;
            }
            page.ensure(&h.path);
            let (mut at, body) = page.wait(&h.path).await;
            if h.as_.as_deref() == Some("style") {
                for font in css_fonts(&String::from_utf8_lossy(&body)) {
                    if !mode.cache.contains(&font) {
                        page.ensure(&font);
                        at = at.max(page.wait(&font).await.0);
                    }
                }
            }
            at
        }
    });
    for at in futures_util::future::join_all(waits).await {
        last = last.max(at);
    }
    let elapsed = last - t0;
    let loads = page.loads.lock().unwrap();
    let visit = Visit {
        elapsed,
        pushed_bytes: loads.pushed_bytes,
        promised: loads.promised,
        requests: loads.requests + 1,
        cookie,
        got: loads
            .done
            .keys()
            .cloned()
            .chain(mode.cache.iter().cloned())
            .collect(),
    };
    drop(loads);
    driver.abort();
    Ok(visit)
}

/// The in-process dynamic page: `/` after `think`, everything else from the site's files,
/// hinted by a rule (the page is not a file, so there is nothing to scan).
async fn dynamic_server(site: &Path, think: Duration) -> Result<SocketAddr, BoxError> {
    use axum::routing::get;
    let files = h2push::StaticFiles::new(site)?;
    let html = std::fs::read_to_string(site.join("index.html"))?;
    let app = axum::Router::new()
        .route(
            "/",
            get(move || {
                let html = html.clone();
                async move {
                    tokio::time::sleep(think).await;
                    axum::response::Html(html)
                }
            }),
        )
        .fallback_service(files.clone());
    let rule = PushRule::new("/", ["/style.css", "/font.woff2", "/app.js"].map(Hint::new));
    let service = HintLayer::new(HintPolicy::with_rules([rule]).with_files(files)).layer(app);
    let identity = h2push::tls::TlsIdentity::generate_dev()?;
    let server = h2push::Server::builder()
        .tls(identity.server_config(&[b"h2"])?)
        .bind_tls("127.0.0.1:0".parse()?)
        .build()?;
    let addr = server.tls_addrs()[0];
    tokio::spawn(server.serve(service));
    Ok(addr)
}

/// One row of the results: a page, a server, a client behaviour, its runs.
struct Case {
    page: &'static str,
    server: String,
    client: &'static str,
    proxy: SocketAddr,
    mode: Mode,
    /// Load once with this mode first and carry its cookie and cache (a repeat visit).
    warm_up: Option<Mode>,
    runs: Vec<Visit>,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let args = match Cli::parse().cmd {
        Cmd::Site { dir } => return Ok(write_site(&dir)?),
        Cmd::Run(a) => a,
    };
    let delay = Duration::from_millis(args.delay_ms);
    let tls = net::client_tls();
    let mut servers: Vec<(&'static str, String, SocketAddr)> = Vec::new();
    for (name, addr) in &args.targets {
        servers.push(("static", name.clone(), *addr));
    }
    if args.dynamic {
        let addr = dynamic_server(&args.site, Duration::from_millis(args.think_ms)).await?;
        servers.push(("dynamic", "h2push".into(), addr));
    }
    let none = Mode::default();
    let push = Mode {
        push: true,
        ..Mode::default()
    };
    let early = Mode {
        act_on_103: true,
        ..Mode::default()
    };
    let mut cases = Vec::new();
    for (page, server, addr) in servers {
        let proxy = net::delay_proxy(addr, delay).await?;
        let mut add = |client, mode: &Mode, warm_up: Option<&Mode>| {
            cases.push(Case {
                page,
                server: server.clone(),
                client,
                proxy,
                mode: mode.clone(),
                warm_up: warm_up.cloned(),
                runs: Vec::new(),
            })
        };
        add("no hints", &none, None);
        add("push", &push, None);
        if server == "h2push" {
            add("103", &early, None);
            if page == "static" {
                add("push, repeat visit + digest", &push, Some(&push));
                add("push, repeat visit, no cookie", &push, Some(&push));
            }
        }
    }
    // Round-robin over the cases so that drift on a shared machine hits all of them alike.
    for _ in 0..args.runs {
        for case in &mut cases {
            let mut mode = case.mode.clone();
            if let Some(w) = &case.warm_up {
                let first = visit(case.proxy, tls.clone(), w).await?;
                mode.cache = first.got;
                if case.client.ends_with("digest") {
                    mode.cookie = first.cookie;
                }
            }
            case.runs.push(visit(case.proxy, tls.clone(), &mode).await?);
        }
    }

    println!("| page | server | client | median ms | × no hints | promised | pushed KiB used | requests |");
    println!("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |");
    let base: HashMap<(String, &str), Duration> = cases
        .iter()
        .filter(|c| c.client == "no hints")
        .map(|c| {
            (
                (c.server.clone(), c.page),
                median(c.runs.iter().map(|v| v.elapsed).collect()),
            )
        })
        .collect();
    for c in &cases {
        let ms = median(c.runs.iter().map(|v| v.elapsed).collect());
        let ratio = base
            .get(&(c.server.clone(), c.page))
            .map_or(f64::NAN, |b| ms.as_secs_f64() / b.as_secs_f64());
        let kib = c.runs.iter().map(|v| v.pushed_bytes).max().unwrap_or(0) as f64 / 1024.0;
        let requests = c.runs.iter().map(|v| v.requests).max().unwrap_or(0);
        let promised = c.runs.iter().map(|v| v.promised).max().unwrap_or(0);
        println!(
            "| {} | {} | {} | {:.0} | {:.2} | {} | {:.1} | {} |",
            c.page,
            c.server,
            c.client,
            ms.as_secs_f64() * 1e3,
            ratio,
            promised,
            kib,
            requests
        );
    }
    println!(
        "\n{} loads per case, median; one-way delay {} ms; {} cores.",
        args.runs,
        args.delay_ms,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    Ok(())
}
