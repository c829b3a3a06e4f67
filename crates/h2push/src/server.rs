//! The server: listeners, TLS, connection limits and graceful shutdown.
//!
//! This module owns everything between a listening socket and a connection driver: binding
//! (each address a clear error, and an address some other process listens on is one), the
//! TLS handshake and ALPN choice (`h2` → HTTP/2, otherwise HTTP/1.1) with its deadline,
//! preface sniffing on plaintext ports, the connection cap (see `conn::slots`), and shutdown
//! in two
//! steps — stop accepting and ask every connection to finish (GOAWAY on HTTP/2), then after
//! the grace period close what is left. Serving requests is `conn`'s.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;

use crate::conn::cork::Corked;
use crate::conn::slots::{Slot, Slots};
use crate::conn::sniff::{sniff, Sniffed};
use crate::conn::{engine, h1, h2, ConnInfo, HttpService, Limits};

pub use crate::conn::slots::ConnStats;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A listening address could not be bound: another process (another h2push, say)
    /// already listens there, or the address is not this host's.
    #[error("cannot listen on {addr}: {}", bind_reason(source))]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// A TLS address was given but no TLS configuration.
    #[error("{0} is a TLS address but the server has no TLS configuration; call .tls(..)")]
    NoTls(SocketAddr),
    /// Nothing to listen on.
    #[error("no address to listen on")]
    NoAddress,
}

/// How many threads each serving thread's runtime may start for blocking work (opening,
/// stat-ing and reading files). tokio's default, 512, lets 4,096 requests for a large file
/// arriving at once start 1,024 threads on two serving threads (+40 MiB of stacks and
/// allocator state, and fragmented heaps after they exit); a file operation takes
/// microseconds from the page cache, so a few threads per serving thread keep up.
pub const BLOCKING_THREADS: usize = 8;

/// The runtime of a serving thread: current-thread, every driver, at most
/// [`BLOCKING_THREADS`] blocking threads. [`ServerBuilder::threads`] runs the extra threads
/// on these; run [`Server::serve`] on one too to get the same bound on the first.
pub fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
}

/// Builds a [`Server`]: addresses, TLS, limits.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use axum::{routing::get, Router};
/// let identity = h2push::tls::TlsIdentity::generate_dev()?;
/// let server = h2push::Server::builder()
///     .tls(identity.server_config(&[b"h2", b"http/1.1"])?)
///     .bind_tls("127.0.0.1:8443".parse()?)
///     .bind_plain("127.0.0.1:8080".parse()?)
///     .build()?;
/// let app: Router = Router::new().route("/", get(|| async { "hello" }));
/// server.serve(app).await;
/// # Ok(())
/// # }
/// ```
#[derive(Default)]
#[must_use]
pub struct ServerBuilder {
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: Limits,
    tls_addrs: Vec<SocketAddr>,
    plain_addrs: Vec<SocketAddr>,
    threads: usize,
}

impl ServerBuilder {
    /// The TLS configuration for TLS addresses. Without ALPN protocols set, `h2` and
    /// `http/1.1` are offered.
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Protocol limits and timeouts.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Listens on `addr` for TLS (HTTP/2 and HTTP/1.1 by ALPN). May be called again.
    pub fn bind_tls(mut self, addr: SocketAddr) -> Self {
        self.tls_addrs.push(addr);
        self
    }

    /// Listens on `addr` in plaintext: HTTP/1.1, and h2c for clients that open with the
    /// HTTP/2 preface (prior knowledge). May be called again.
    pub fn bind_plain(mut self, addr: SocketAddr) -> Self {
        self.plain_addrs.push(addr);
        self
    }

    /// Serves on `n` threads, each with a single-threaded runtime of its own and its own
    /// listening sockets on the same addresses (`SO_REUSEPORT`: the kernel spreads the
    /// connections; the first socket of each address is bound exclusively, so an address
    /// another process listens on is still an error). A connection then lives on one thread from accept to close, with no
    /// work stealing or cross-thread wake-ups. The default, 1, serves on the runtime that calls
    /// [`Server::serve`], whatever its kind.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// Binds every address (port 0 picks a free port; see [`Server::tls_addrs`]).
    pub fn build(self) -> Result<Server, ServerError> {
        let tls = match self.tls {
            Some(mut cfg) => {
                if cfg.alpn_protocols.is_empty() {
                    Arc::make_mut(&mut cfg).alpn_protocols =
                        vec![b"h2".to_vec(), b"http/1.1".to_vec()];
                }
                Some(TlsAcceptor::from(cfg))
            }
            None => None,
        };
        if self.tls_addrs.is_empty() && self.plain_addrs.is_empty() {
            return Err(ServerError::NoAddress);
        }
        let threads = self.threads.max(1);
        let share = threads > 1;
        let requested = (self.tls_addrs.into_iter().map(|a| (a, true)))
            .chain(self.plain_addrs.into_iter().map(|a| (a, false)));
        let mut first = Vec::new();
        // Where the first set really listens (port 0 picked a port): the other threads'
        // listeners bind the same.
        let mut resolved = Vec::new();
        for (addr, is_tls) in requested {
            if is_tls && tls.is_none() {
                return Err(ServerError::NoTls(addr));
            }
            let listener = bind(addr, Reuse::First { share })?;
            let actual = listener
                .local_addr()
                .map_err(|source| ServerError::Bind { addr, source })?;
            first.push((listener, is_tls));
            resolved.push((actual, is_tls));
        }
        let mut sets = vec![first];
        for _ in 1..threads {
            let set = resolved
                .iter()
                .map(|&(addr, is_tls)| Ok((bind(addr, Reuse::Join)?, is_tls)))
                .collect::<Result<Vec<_>, ServerError>>()?;
            sets.push(set);
        }
        let (shutdown, _) = watch::channel(false);
        Ok(Server {
            tls,
            slots: Slots::new(self.limits.max_connections),
            limits: Arc::new(self.limits),
            sets,
            shutdown,
        })
    }
}

/// How a listening socket shares its address.
#[derive(Clone, Copy)]
enum Reuse {
    /// The first socket on the address: bound without `SO_REUSEPORT`, so that the bind fails
    /// if any other socket listens there (with or without it). With `share`, `SO_REUSEPORT`
    /// is set after the bind and before `listen`, so the server's other threads can join.
    First { share: bool },
    /// Another thread's socket on an address the first one holds.
    Join,
}

fn bind(addr: SocketAddr, reuse: Reuse) -> Result<std::net::TcpListener, ServerError> {
    let err = |source| ServerError::Bind { addr, source };
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )
    .map_err(err)?;
    // Lets a restarted server bind over connections left in TIME_WAIT; never lets two
    // sockets listen on one address.
    socket.set_reuse_address(true).map_err(err)?;
    #[cfg(unix)]
    if let Reuse::Join = reuse {
        socket.set_reuse_port(true).map_err(err)?;
    }
    socket.set_nonblocking(true).map_err(err)?;
    socket.bind(&addr.into()).map_err(err)?;
    #[cfg(unix)]
    if let Reuse::First { share: true } = reuse {
        socket.set_reuse_port(true).map_err(err)?;
    }
    #[cfg(not(unix))]
    let _ = reuse;
    socket.listen(1024).map_err(err)?;
    Ok(socket.into())
}

/// The reason in a bind error, in words that say what to do about the usual one.
fn bind_reason(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::AddrInUse {
        format!("the address is already in use by another process (another h2push?) ({e})")
    } else {
        e.to_string()
    }
}

/// An HTTP/2 and HTTP/1.1 server for any [`HttpService`], with push and 103 Early Hints.
pub struct Server {
    tls: Option<TlsAcceptor>,
    limits: Arc<Limits>,
    slots: Arc<Slots>,
    /// One set of listeners per serving thread, each set on the same addresses.
    sets: Vec<Vec<(std::net::TcpListener, bool)>>,
    shutdown: watch::Sender<bool>,
}

/// Starts a graceful shutdown of the [`Server`] it came from.
///
/// ```no_run
/// # async fn run(server: h2push::Server) {
/// let handle = server.shutdown_handle();
/// tokio::spawn(async move {
///     h2push::server::shutdown_signal().await;
///     handle.shutdown();
/// });
/// # }
/// ```
#[derive(Clone)]
pub struct ShutdownHandle(watch::Sender<bool>);

impl ShutdownHandle {
    /// Stops accepting, sends GOAWAY, lets in-flight requests finish within the grace period.
    pub fn shutdown(&self) {
        self.0.send_replace(true);
    }
}

/// Waits for a shutdown (graceful or forced) to be asked for.
#[derive(Clone)]
pub(crate) struct ShutdownSignal(watch::Receiver<bool>);

impl ShutdownSignal {
    pub(crate) async fn wait(&mut self) {
        if self.0.wait_for(|stop| *stop).await.is_err() {
            // The server is gone without asking; nothing will ever ask.
            std::future::pending::<()>().await;
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled, so a signal that arrives in between is not
/// lost. Call it from within a Tokio runtime.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut int = signal(SignalKind::interrupt()).ok();
        let mut term = signal(SignalKind::terminate()).ok();
        async move {
            let int = async {
                match &mut int {
                    Some(s) => drop(s.recv().await),
                    None => std::future::pending().await,
                }
            };
            let term = async {
                match &mut term {
                    Some(s) => drop(s.recv().await),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = int => {}
                () = term => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Server {
    /// Starts building a server.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The bound TLS addresses, in the order given.
    pub fn tls_addrs(&self) -> Vec<SocketAddr> {
        self.addrs(true)
    }

    /// The bound plaintext addresses, in the order given.
    pub fn plain_addrs(&self) -> Vec<SocketAddr> {
        self.addrs(false)
    }

    fn addrs(&self, tls: bool) -> Vec<SocketAddr> {
        self.sets[0]
            .iter()
            .filter(|(_, t)| *t == tls)
            .filter_map(|(l, _)| l.local_addr().ok())
            .collect()
    }

    /// A handle that starts a graceful shutdown.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.shutdown.clone())
    }

    /// The counters of the connection cap (open, refused, evicted), readable while serving.
    pub fn stats(&self) -> ConnStats {
        ConnStats(self.slots.clone())
    }

    /// Serves `svc` until a shutdown is asked for through a [`ShutdownHandle`], then drains:
    /// returns once every connection has finished, or the grace period is over.
    pub async fn serve<S: HttpService>(self, svc: S) {
        let Server {
            tls,
            limits,
            slots,
            sets,
            shutdown,
        } = self;
        let mut sets = sets.into_iter();
        let Some(first) = sets.next() else { return };
        let mut threads = Vec::new();
        for (i, set) in sets.enumerate() {
            let (svc, tls, limits, slots) =
                (svc.clone(), tls.clone(), limits.clone(), slots.clone());
            let asked = ShutdownSignal(shutdown.subscribe());
            let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
            let spawned = std::thread::Builder::new()
                .name(format!("h2push-{}", i + 1))
                .spawn(move || {
                    match runtime() {
                        Ok(rt) => rt.block_on(serve_set(set, tls, svc, limits, slots, asked)),
                        Err(e) => tracing::error!("cannot start a serving thread's runtime: {e}"),
                    }
                    let _ = done_tx.send(());
                });
            match spawned {
                Ok(_) => threads.push(done_rx),
                Err(e) => tracing::error!("cannot start a serving thread: {e}"),
            }
        }
        let asked = ShutdownSignal(shutdown.subscribe());
        serve_set(first, tls, svc, limits, slots, asked).await;
        for done in threads {
            // An error means the thread ended without saying so: it is finished either way.
            let _ = done.await;
        }
        drop(shutdown);
    }
}

/// Serves one set of listeners on the current runtime until shutdown, then drains its
/// connections within the grace period.
async fn serve_set<S: HttpService>(
    listeners: Vec<(std::net::TcpListener, bool)>,
    tls: Option<TlsAcceptor>,
    svc: S,
    limits: Arc<Limits>,
    slots: Arc<Slots>,
    graceful: ShutdownSignal,
) {
    let (force_tx, force_rx) = watch::channel(false);
    let force = ShutdownSignal(force_rx);
    let (drain_tx, mut drained) = mpsc::channel::<()>(1);
    let mut accept_tasks = Vec::new();
    for (listener, is_tls) in listeners {
        let listener = match TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("cannot use a listener: {e}");
                continue;
            }
        };
        let acceptor = if is_tls { tls.clone() } else { None };
        accept_tasks.push(tokio::spawn(accept_loop(
            listener,
            acceptor,
            svc.clone(),
            limits.clone(),
            slots.clone(),
            graceful.clone(),
            force.clone(),
            drain_tx.clone(),
        )));
    }
    drop(drain_tx);

    let mut asked = graceful;
    asked.wait().await;
    for t in &accept_tasks {
        t.abort();
    }
    for t in accept_tasks {
        let _ = t.await;
    }
    // Every connection task holds a drain sender; recv() ends when the last is gone.
    if tokio::time::timeout(limits.shutdown_grace, drained.recv())
        .await
        .is_err()
    {
        tracing::warn!(
            "shutdown grace of {:?} over; closing the remaining connections",
            limits.shutdown_grace
        );
        force_tx.send_replace(true);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), drained.recv()).await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn accept_loop<S: HttpService>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    svc: S,
    limits: Arc<Limits>,
    slots: Arc<Slots>,
    graceful: ShutdownSignal,
    force: ShutdownSignal,
    drain: mpsc::Sender<()>,
) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        // At the cap, the connection idle the longest makes room; if none is idle, this one
        // is closed (counted, and logged at most once a second).
        let Some(slot) = slots.admit() else {
            continue;
        };
        let (svc, limits, tls, graceful, mut force, drain) = (
            svc.clone(),
            limits.clone(),
            tls.clone(),
            graceful.clone(),
            force.clone(),
            drain.clone(),
        );
        tokio::spawn(async move {
            let _drain = drain;
            let slot = Arc::new(slot);
            tokio::select! {
                () = serve_connection(tcp, peer, tls, svc, &limits, graceful, slot) => {}
                () = force.wait() => {}
            }
        });
    }
}

async fn serve_connection<S: HttpService>(
    tcp: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    svc: S,
    limits: &Limits,
    shutdown: ShutdownSignal,
    slot: Arc<Slot>,
) {
    let _ = tcp.set_nodelay(true);
    let Ok(local) = tcp.local_addr() else { return };
    let info = ConnInfo {
        peer,
        local,
        tls: tls.is_some(),
    };
    match tls {
        Some(acceptor) => {
            let corked = Corked::new(tcp);
            let cork = corked.cork();
            let handshake = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(corked));
            let stream = tokio::select! {
                r = handshake => match r {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, "TLS handshake failed: {e}");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                },
                () = slot.evicted() => return,
            };
            if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                if engine::selected() {
                    engine::serve(stream, svc, info, limits, shutdown, &slot).await
                } else {
                    h2::serve(stream, cork, svc, info, limits, shutdown, &slot).await
                }
            } else {
                h1::serve(stream, cork, svc, info, limits, shutdown, slot).await
            }
        }
        None => {
            let sniffed = tokio::select! {
                r = sniff(tcp, limits.preface_timeout) => r,
                () = slot.evicted() => return,
            };
            match sniffed {
                Ok((Sniffed::H2c, io)) if engine::selected() => {
                    engine::serve(io, svc, info, limits, shutdown, &slot).await
                }
                Ok((Sniffed::H2c, io)) => {
                    let io = Corked::new(io);
                    let cork = io.cork();
                    h2::serve(io, cork, svc, info, limits, shutdown, &slot).await
                }
                Ok((Sniffed::Http1, io)) => {
                    let io = Corked::new(io);
                    let cork = io.cork();
                    h1::serve(io, cork, svc, info, limits, shutdown, slot).await
                }
                Err(e) => tracing::debug!(%peer, "no request: {e}"),
            }
        }
    }
}
