//! The HTTP/2 engine of our own (`h2push-h2`) against the `h2` crate's server, on one core,
//! before it drives the real server: the same `h2` crate client, over an in-memory pipe,
//! asks for the same small response; each server is a minimal loop (no TLS, no service).
//! Also: the engine's memory per idle connection.
//!
//! ```sh
//! cargo run --release -p h2push-bench --bin engine -- -n 200000 -c 10 -r 3
//! ```

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use clap::Parser;
use h2push_h2::server::{Config, Connection, Event};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

#[derive(Parser)]
#[command(about = "HTTP/2 engine throughput (ours vs the h2 crate's server) and idle memory")]
struct Args {
    /// Requests per measured run.
    #[arg(short = 'n', default_value_t = 100_000)]
    requests: usize,
    /// Streams in flight at once.
    #[arg(short = 'c', default_value_t = 10)]
    concurrency: usize,
    /// Runs per server (interleaved); the median is reported.
    #[arg(short = 'r', default_value_t = 3)]
    runs: usize,
    /// Response body size in octets.
    #[arg(long, default_value_t = 272)]
    size: usize,
    /// Idle connections for the memory figure.
    #[arg(long, default_value_t = 10_000)]
    idle: usize,
}

fn response_fields(size: usize) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("text/css"));
    h.insert("content-length", HeaderValue::from(size));
    h.insert("etag", HeaderValue::from_static("\"110-5f3a9c\""));
    h.insert(
        "last-modified",
        HeaderValue::from_static("Wed, 25 Nov 2026 10:00:00 GMT"),
    );
    h.insert("cache-control", HeaderValue::from_static("no-cache"));
    h.insert("accept-ranges", HeaderValue::from_static("bytes"));
    h.insert(
        "date",
        HeaderValue::from_static("Wed, 02 Dec 2026 12:00:00 GMT"),
    );
    h
}

async fn ours(mut io: DuplexStream, body: Bytes) {
    let mut conn = Connection::new(Config::default());
    let fields = response_fields(body.len());
    let mut input = BytesMut::with_capacity(64 * 1024);
    let mut out = Vec::new();
    let mut batch = BytesMut::new();
    loop {
        // One write per batch, as a TLS stream gets it (the pipe has no vectored write).
        out.clear();
        conn.transmit(&mut out, usize::MAX);
        for chunk in &out {
            batch.extend_from_slice(chunk);
        }
        if !batch.is_empty() && io.write_all(&batch.split()).await.is_err() {
            return;
        }
        match io.read_buf(&mut input).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if conn.recv(&mut input).is_err() {
            continue;
        }
        while let Some(event) = conn.poll_event() {
            if let Event::Request { stream, .. } = event {
                let _ = conn.send_response(stream, StatusCode::OK, &fields, false);
                let _ = conn.send_data(stream, body.clone(), true);
            }
        }
    }
}

async fn theirs(io: DuplexStream, body: Bytes) {
    let Ok(mut conn) = h2::server::handshake(io).await else {
        return;
    };
    let fields = response_fields(body.len());
    while let Some(Ok((_req, mut respond))) = conn.accept().await {
        let mut res = Response::new(());
        *res.headers_mut() = fields.clone();
        if let Ok(mut send) = respond.send_response(res, false) {
            // The h2 crate sends as the windows allow; capacity is assigned as needed.
            send.reserve_capacity(body.len());
            let _ = send.send_data(body.clone(), true);
        }
    }
}

/// Runs `n` requests, `c` at a time, against `server`; returns requests per second.
async fn run<F, Fut>(server: F, n: usize, c: usize) -> f64
where
    F: FnOnce(DuplexStream) -> Fut,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let (client_io, server_io) = tokio::io::duplex(256 * 1024);
    let local = tokio::task::LocalSet::new();
    local.spawn_local(server(server_io));
    local
        .run_until(async move {
            let (client, connection) = h2::client::handshake(client_io).await.expect("handshake");
            tokio::task::spawn_local(async move {
                let _ = connection.await;
            });
            let start = Instant::now();
            let mut tasks = Vec::new();
            for w in 0..c {
                let mut client = client.clone();
                let share = n / c + usize::from(w < n % c);
                tasks.push(tokio::task::spawn_local(async move {
                    for _ in 0..share {
                        client = client.ready().await.expect("ready");
                        let req = Request::get("https://localhost/style.css")
                            .body(())
                            .unwrap();
                        let (resp, _) = client.send_request(req, true).expect("send");
                        let mut body = resp.await.expect("response").into_body();
                        while let Some(chunk) = body.data().await {
                            let chunk = chunk.expect("data");
                            let _ = body.flow_control().release_capacity(chunk.len());
                        }
                    }
                }));
            }
            for t in tasks {
                t.await.expect("client task");
            }
            n as f64 / start.elapsed().as_secs_f64()
        })
        .await
}

fn rss_kib() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4
}

/// Memory per connection of the engine alone, after the preface, SETTINGS and one request.
fn idle_memory(k: usize) -> f64 {
    let mut client = BytesMut::new();
    client.extend_from_slice(h2push_h2::frame::PREFACE);
    let enc = h2push_h2::frame::FrameEncoder::new();
    enc.settings(&mut client, &h2push_h2::frame::Settings::default());
    let before = rss_kib();
    let mut conns = Vec::with_capacity(k);
    for _ in 0..k {
        let mut conn = Connection::new(Config::default());
        let mut input = client.clone();
        conn.recv(&mut input).expect("preface");
        let mut out = Vec::new();
        conn.transmit(&mut out, usize::MAX);
        conns.push(conn);
    }
    let after = rss_kib();
    let per = (after.saturating_sub(before)) as f64 * 1024.0 / k as f64;
    drop(conns);
    per
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let body = Bytes::from(vec![b'x'; args.size]);
    let (n, c) = (args.requests, args.concurrency);
    // Warm-up, then interleaved runs.
    let ours_with = |body: Bytes| move |io| ours(io, body);
    let theirs_with = |body: Bytes| move |io| theirs(io, body);
    rt.block_on(run(ours_with(body.clone()), n / 10, c));
    rt.block_on(run(theirs_with(body.clone()), n / 10, c));
    for _ in 0..args.runs {
        a.push(rt.block_on(run(ours_with(body.clone()), n, c)));
        b.push(rt.block_on(run(theirs_with(body.clone()), n, c)));
        std::thread::sleep(Duration::from_millis(100));
    }
    let (a, b) = (median(a), median(b));
    println!(
        "{n} requests of {} octets x {} runs, {c} in flight, one core, the h2 crate's client for both",
        args.size, args.runs
    );
    println!("h2push-h2 engine   {a:>10.0} req/s");
    println!("h2 crate server    {b:>10.0} req/s");
    println!("ratio              {:>10.2}x", a / b);
    let per = idle_memory(args.idle);
    println!(
        "engine memory per idle connection: {:.1} KiB ({} connections)",
        per / 1024.0,
        args.idle
    );
}
