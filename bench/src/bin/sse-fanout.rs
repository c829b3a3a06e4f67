//! SSE fan-out load: N subscribers to one topic, spread over HTTP/2 connections (many streams
//! each) and, optionally, HTTP/1.1 connections, all over TLS; one publisher. Reports the
//! server's RSS per idle subscriber, publish→receive latency at a steady rate, and deliveries
//! per second when publishing as fast as the server takes it. Works against h2push
//! (`serve --sse`) and the Go peer of `bench/peers.sh` (`bench/peer.go`, same endpoints).
//!
//! ```text
//! sse-fanout --addr 127.0.0.1:8443 -n 10000 --per-conn 100 --h1 100 \
//!     --token T --server-pid PID --label h2push
//! ```
//!
//! Each event's data is the publisher's clock in nanoseconds (plus padding); a subscriber's
//! latency is its own clock on arrival minus that (same process, same clock).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

#[derive(Parser, Clone)]
struct Args {
    /// The server (TLS).
    #[arg(long)]
    addr: SocketAddr,
    /// Subscribers over HTTP/2.
    #[arg(short = 'n', long, default_value_t = 1000)]
    subscribers: usize,
    /// HTTP/2 streams (subscribers) per connection.
    #[arg(long, default_value_t = 100)]
    per_conn: usize,
    /// Extra subscribers over HTTP/1.1 (one connection each).
    #[arg(long, default_value_t = 0)]
    h1: usize,
    /// The topic.
    #[arg(long, default_value = "bench")]
    topic: String,
    /// Bearer token for POST /publish (h2push needs one; the Go peer none).
    #[arg(long)]
    token: Option<String>,
    /// The server's PID, to read its RSS from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Events published for the latency measurement.
    #[arg(long, default_value_t = 50)]
    latency_events: usize,
    /// Their rate, per second.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Seconds of publishing as fast as possible, for deliveries per second (0: skip).
    #[arg(long, default_value_t = 5)]
    burst_secs: u64,
    /// Publish requests in flight during the burst.
    #[arg(long, default_value_t = 4)]
    inflight: usize,
    /// Bytes of padding in each event's data.
    #[arg(long, default_value_t = 32)]
    payload: usize,
    /// Worker threads of this client.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// A name for the report line.
    #[arg(long, default_value = "server")]
    label: String,
}

static START: OnceLock<Instant> = OnceLock::new();
fn now_ns() -> u64 {
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// What all subscribers add to.
#[derive(Default)]
struct Totals {
    delivered: AtomicU64,
    gaps: AtomicU64,
    /// Latencies in µs over HTTP/2 and over HTTP/1.1, recorded only while `recording` is set.
    latencies: Mutex<Vec<u32>>,
    latencies_h1: Mutex<Vec<u32>>,
    recording: std::sync::atomic::AtomicBool,
}

/// Finds `data: <digits>` lines in a stream cut into arbitrary chunks.
struct Scanner {
    carry: Vec<u8>,
}

impl Scanner {
    /// Returns (events, gaps) and pushes latencies if asked.
    fn feed(&mut self, chunk: &[u8], record: Option<&mut Vec<u32>>, now: u64) -> (u64, u64) {
        let buf: &[u8] = if self.carry.is_empty() {
            chunk
        } else {
            self.carry.extend_from_slice(chunk);
            &self.carry
        };
        // Only complete events (ending in a blank line) are scanned; the rest is carried.
        let end = match memchr::memmem::rfind(buf, b"\n\n") {
            Some(i) => i + 2,
            None => {
                if self.carry.is_empty() {
                    self.carry.extend_from_slice(chunk);
                }
                return (0, 0);
            }
        };
        let (mut n, mut gaps) = (0, 0);
        let mut lat = record;
        for pos in memchr::memmem::find_iter(&buf[..end], b"data: ") {
            if pos > 0 && buf[pos - 1] != b'\n' {
                continue;
            }
            let digits = &buf[pos + 6..end];
            let mut v: u64 = 0;
            let mut len = 0;
            for &b in digits.iter().take(20) {
                if !b.is_ascii_digit() {
                    break;
                }
                v = v * 10 + u64::from(b - b'0');
                len += 1;
            }
            if len == 0 {
                gaps += 1; // a gap event's JSON data
                continue;
            }
            n += 1;
            if let Some(l) = lat.as_deref_mut() {
                l.push((now.saturating_sub(v) / 1000) as u32);
            }
        }
        let rest = buf[end..].to_vec();
        self.carry = rest;
        (n, gaps)
    }
}

fn account(totals: &Totals, scanner: &mut Scanner, chunk: &[u8], h1: bool) {
    let now = now_ns();
    let (n, g) = if totals.recording.load(Ordering::Relaxed) {
        let mut v = Vec::new();
        let r = scanner.feed(chunk, Some(&mut v), now);
        if !v.is_empty() {
            let store = if h1 {
                &totals.latencies_h1
            } else {
                &totals.latencies
            };
            store.lock().unwrap().extend(v);
        }
        r
    } else {
        scanner.feed(chunk, None, now)
    };
    if n > 0 {
        totals.delivered.fetch_add(n, Ordering::Relaxed);
    }
    if g > 0 {
        totals.gaps.fetch_add(g, Ordering::Relaxed);
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

async fn tls(
    addr: SocketAddr,
    alpn: &[u8],
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Error> {
    let connector = TlsConnector::from(h2push::tls::insecure_client_config(&[alpn]));
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let name = rustls_pki_types::ServerName::try_from("localhost")?;
    Ok(connector.connect(name, tcp).await?)
}

/// One HTTP/2 connection carrying `streams` subscriptions; returns once all got their 200.
async fn h2_subscribers(
    args: Arc<Args>,
    streams: usize,
    totals: Arc<Totals>,
) -> Result<h2::client::SendRequest<Bytes>, Error> {
    let io = tls(args.addr, b"h2").await?;
    let (client, conn) = h2::client::Builder::new()
        .initial_window_size(1 << 20)
        .initial_connection_window_size(16 << 20)
        .handshake(io)
        .await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut heads = Vec::with_capacity(streams);
    for _ in 0..streams {
        let mut client = client.clone().ready().await?;
        let req =
            http::Request::get(format!("https://localhost/events?topic={}", args.topic)).body(())?;
        let (res, _) = client.send_request(req, true)?;
        heads.push(res);
    }
    for res in heads {
        let res = res.await?;
        if res.status() != 200 {
            return Err(format!("subscription answered {}", res.status()).into());
        }
        let mut body = res.into_body();
        let totals = totals.clone();
        tokio::spawn(async move {
            let mut scanner = Scanner { carry: Vec::new() };
            while let Some(Ok(chunk)) = body.data().await {
                let _ = body.flow_control().release_capacity(chunk.len());
                account(&totals, &mut scanner, &chunk, false);
            }
        });
    }
    Ok(client)
}

/// One HTTP/1.1 subscription on its own connection.
async fn h1_subscriber(args: Arc<Args>, totals: Arc<Totals>) -> Result<(), Error> {
    let io = tls(args.addr, b"http/1.1").await?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(io)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = http::Request::get(format!("/events?topic={}", args.topic))
        .header("host", "localhost")
        .body(Empty::new())?;
    let res = send.send_request(req).await?;
    if res.status() != 200 {
        return Err(format!("subscription answered {}", res.status()).into());
    }
    let mut body = res.into_body();
    tokio::spawn(async move {
        let _send = send;
        let mut scanner = Scanner { carry: Vec::new() };
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                account(&totals, &mut scanner, &data, true);
            }
        }
    });
    Ok(())
}

/// Publishes one event; returns whether the server took it.
async fn publish(client: &mut h2::client::SendRequest<Bytes>, args: &Args) -> Result<bool, Error> {
    let body = format!(
        "topic={}&data={}+{}",
        args.topic,
        now_ns(),
        "x".repeat(args.payload)
    );
    let mut req = http::Request::post("https://localhost/publish")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(t) = &args.token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let mut ready = client.clone().ready().await?;
    let (res, mut stream) = ready.send_request(req.body(())?, false)?;
    stream.send_data(Bytes::from(body), true)?;
    let res = res.await?;
    let ok = res.status() == 200;
    let mut body = res.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    Ok(ok)
}

fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

async fn run(args: Arc<Args>) -> Result<(), Error> {
    START.get_or_init(Instant::now);
    let totals = Arc::new(Totals::default());
    let rss_before = rss_kib(args.server_pid);

    // Subscribe: HTTP/2 connections in parallel (bounded), then HTTP/1.1 ones.
    let started = Instant::now();
    let conns = args.subscribers.div_ceil(args.per_conn.max(1));
    let sem = Arc::new(tokio::sync::Semaphore::new(32));
    let mut tasks = Vec::new();
    for c in 0..conns {
        let streams = args.per_conn.min(args.subscribers - c * args.per_conn);
        let (args, totals, sem) = (args.clone(), totals.clone(), sem.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await;
            h2_subscribers(args, streams, totals).await
        }));
    }
    let mut clients = Vec::new();
    for t in tasks {
        clients.push(t.await??);
    }
    let mut tasks = Vec::new();
    for _ in 0..args.h1 {
        let (args, totals, sem) = (args.clone(), totals.clone(), sem.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await;
            h1_subscriber(args, totals).await
        }));
    }
    for t in tasks {
        t.await??;
    }
    let total_subs = args.subscribers + args.h1;
    eprintln!(
        "{total_subs} subscribers in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = rss_kib(args.server_pid);

    // Latency at a steady rate.
    let mut publisher = {
        let io = tls(args.addr, b"h2").await?;
        let (client, conn) = h2::client::handshake(io).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    };
    totals.recording.store(true, Ordering::Relaxed);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
    let mut refused = 0;
    for _ in 0..args.latency_events {
        tick.tick().await;
        if !publish(&mut publisher, &args).await? {
            refused += 1;
        }
    }
    let expected = (args.latency_events - refused) as u64 * total_subs as u64;
    let deadline = Instant::now() + Duration::from_secs(10);
    while totals.delivered.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    totals.recording.store(false, Ordering::Relaxed);
    let got = totals.delivered.load(Ordering::Relaxed);
    let mut lat_h2 = std::mem::take(&mut *totals.latencies.lock().unwrap());
    let mut lat_h1 = std::mem::take(&mut *totals.latencies_h1.lock().unwrap());
    let mut lat: Vec<u32> = lat_h2.iter().chain(&lat_h1).copied().collect();
    lat.sort_unstable();
    lat_h2.sort_unstable();
    lat_h1.sort_unstable();

    // Deliveries per second, publishing as fast as the server takes it.
    let (mut rate, mut delivered_share, mut published) = (f64::NAN, f64::NAN, 0u64);
    if args.burst_secs > 0 {
        let before = totals.delivered.load(Ordering::Relaxed);
        let count = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let until = start + Duration::from_secs(args.burst_secs);
        let mut loops = Vec::new();
        for _ in 0..args.inflight {
            let (mut client, args, count) = (publisher.clone(), args.clone(), count.clone());
            loops.push(tokio::spawn(async move {
                while Instant::now() < until {
                    match publish(&mut client, &args).await {
                        Ok(true) => {
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(false) => {}
                        Err(_) => break,
                    }
                }
            }));
        }
        for l in loops {
            let _ = l.await;
        }
        published = count.load(Ordering::Relaxed);
        // Let the last events arrive (bounded), then count.
        let target = before + published * total_subs as u64;
        let mut last_change = Instant::now();
        let mut last = totals.delivered.load(Ordering::Relaxed);
        let mut last_at = Instant::now();
        while last < target && last_change.elapsed() < Duration::from_secs(2) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let now = totals.delivered.load(Ordering::Relaxed);
            if now != last {
                last = now;
                last_change = Instant::now();
                last_at = last_change;
            }
        }
        let delivered = last - before;
        rate = delivered as f64 / (last_at - start).as_secs_f64();
        delivered_share = delivered as f64 / (published * total_subs as u64).max(1) as f64;
    }

    let per_sub = match (rss_before, rss_idle) {
        (Some(b), Some(a)) => format!("{:.2}", (a.saturating_sub(b)) as f64 / total_subs as f64),
        _ => "n/a".into(),
    };
    println!(
        "{label}: subscribers={total_subs} (h2 {h2} over {conns} conns, h1 {h1}) | rss before={b} KiB idle={i} KiB per-subscriber={per_sub} KiB | \
latency over {le} events at {rate_in}/s: p50={p50:.2} ms p99={p99:.2} ms max={max:.2} ms (h2 p50={h2p50:.2} p99={h2p99:.2}; h1 p50={h1p50:.2} p99={h1p99:.2}) ({got}/{expected} delivered) | \
burst {bs}s: published={published} deliveries/s={rate:.0} delivered={share:.1}% gaps={gaps}",
        label = args.label,
        h2 = args.subscribers,
        h1 = args.h1,
        b = rss_before.map_or("n/a".into(), |v| v.to_string()),
        i = rss_idle.map_or("n/a".into(), |v| v.to_string()),
        le = args.latency_events,
        rate_in = args.rate,
        p50 = percentile(&lat, 0.50),
        p99 = percentile(&lat, 0.99),
        max = percentile(&lat, 1.0),
        h2p50 = percentile(&lat_h2, 0.50),
        h2p99 = percentile(&lat_h2, 0.99),
        h1p50 = percentile(&lat_h1, 0.50),
        h1p99 = percentile(&lat_h1, 0.99),
        bs = args.burst_secs,
        share = delivered_share * 100.0,
        gaps = totals.gaps.load(Ordering::Relaxed),
    );
    drop(clients);
    Ok(())
}

fn main() -> Result<(), Error> {
    let args = Arc::new(Args::parse());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}
