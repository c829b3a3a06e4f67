//! The HTTP/2 connection driver, on the `h2` crate.
//!
//! This module owns one HTTP/2 connection's life: the handshake with the server's limits, the
//! accept loop (which is also what drives h2's frame I/O), a task per stream, the idle timeout
//! and graceful shutdown (GOAWAY, then let open streams finish). Streams, pushes and 103s are
//! [`stream`]'s; writing bodies is [`send`]'s.

mod send;
mod stream;

use std::sync::Arc;

use http::uri::Scheme;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{ConnInfo, HttpService, Limits};
use crate::push::PushBook;
use crate::server::ShutdownSignal;

/// What every stream of one connection shares.
pub(crate) struct Conn<S> {
    svc: S,
    info: ConnInfo,
    scheme: Scheme,
    push_book: Arc<PushBook>,
}

/// Serves HTTP/2 on `io` (after TLS with ALPN `h2`, or h2c prior knowledge) until the client
/// leaves, the connection idles out, or the server shuts down.
pub(crate) async fn serve<IO, S>(
    io: IO,
    svc: S,
    info: ConnInfo,
    limits: &Limits,
    mut shutdown: ShutdownSignal,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: HttpService,
{
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(limits.max_concurrent_streams)
        .max_header_list_size(limits.max_header_list_size)
        .initial_window_size(1024 * 1024)
        .initial_connection_window_size(4 * 1024 * 1024);
    let handshake = tokio::time::timeout(limits.header_read_timeout, builder.handshake(io));
    let mut h2 = match handshake.await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            tracing::debug!(peer = %info.peer, "HTTP/2 handshake failed: {e}");
            return;
        }
        Err(_) => {
            tracing::debug!(peer = %info.peer, "HTTP/2 handshake timed out");
            return;
        }
    };
    let conn = Arc::new(Conn {
        svc,
        info,
        scheme: if info.tls {
            Scheme::HTTPS
        } else {
            Scheme::HTTP
        },
        push_book: Arc::new(PushBook::new()),
    });

    let idle = tokio::time::sleep(limits.idle_timeout);
    tokio::pin!(idle);
    let mut closing = false;
    loop {
        tokio::select! {
            accepted = h2.accept() => match accepted {
                Some(Ok((req, respond))) => {
                    // The client's SETTINGS come before its first request, so this is current.
                    conn.push_book.set_limit(h2.max_concurrent_send_streams());
                    tokio::spawn(stream::serve_stream(conn.clone(), req, respond));
                    idle.as_mut().reset(tokio::time::Instant::now() + limits.idle_timeout);
                }
                Some(Err(e)) => {
                    if !e.is_io() && !e.is_go_away() {
                        tracing::debug!(peer = %info.peer, "HTTP/2 connection error: {e}");
                    }
                    break;
                }
                None => break,
            },
            () = &mut idle, if !closing => {
                // Streams still running (an event stream, a slow upload) keep the connection;
                // only a connection with nothing in flight is idle.
                if h2.has_streams() {
                    idle.as_mut().reset(tokio::time::Instant::now() + limits.idle_timeout);
                } else {
                    h2.graceful_shutdown();
                    closing = true;
                }
            }
            () = shutdown.wait(), if !closing => {
                h2.graceful_shutdown();
                closing = true;
            }
        }
    }
}
