//! A minimal driver for the engine, shared by the interop tests: it reads what the socket
//! has, feeds the connection, answers each request from a small fixed application, and
//! writes every batch. No TLS, no timers beyond the drain deadline, no service.
//!
//! The application: `/big` is 1 MiB, `/push` sends a 103, the page, and a push of
//! `/pushed.css`, `/echo` answers with the request body's length (and trailers) once it
//! ended, `/upload` answers 401 at once and drains the body it does not want (an early
//! answer, RFC 9113 §8.1), anything else answers with its path.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use h2push_h2::server::{Config, Connection, Event};
use h2push_h2::StreamId;
use http::{HeaderMap, Request, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub const BIG: usize = 1024 * 1024;

/// Serves one connection to its end.
pub async fn serve<IO: AsyncRead + AsyncWrite + Unpin>(mut io: IO) {
    let mut conn = Connection::new(Config::default());
    let mut input = BytesMut::with_capacity(64 * 1024);
    let mut echo: Vec<(StreamId, usize)> = Vec::new();
    loop {
        // The time first: what a deadline resets goes out with this batch.
        let wake = conn.expire(Instant::now());
        let mut out = Vec::new();
        conn.transmit(&mut out, usize::MAX);
        for chunk in out {
            if io.write_all(&chunk).await.is_err() {
                return;
            }
        }
        if conn.is_closed() {
            return;
        }
        let read = io.read_buf(&mut input);
        let n = match wake {
            Some(at) => match tokio::time::timeout_at(at.into(), read).await {
                Ok(r) => r,
                Err(_) => continue, // a deadline: expire() acts on it next turn
            },
            None => read.await,
        };
        match n {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if conn.recv(&mut input).is_err() {
            continue; // the GOAWAY goes out on the next turn
        }
        while let Some(event) = conn.poll_event() {
            answer(&mut conn, &mut echo, event);
        }
    }
}

fn answer(conn: &mut Connection, echo: &mut Vec<(StreamId, usize)>, event: Event) {
    let none = HeaderMap::new();
    match event {
        Event::Request {
            stream,
            head,
            end_stream,
        } => {
            let path = head.request.uri().path().to_owned();
            match path.as_str() {
                "/big" => {
                    conn.send_response(stream, StatusCode::OK, &none, false)
                        .unwrap();
                    conn.send_data(stream, Bytes::from(vec![b'x'; BIG]), true)
                        .unwrap();
                }
                "/push" => {
                    let mut link = HeaderMap::new();
                    link.insert(
                        "link",
                        "</pushed.css>; rel=preload; as=style".parse().unwrap(),
                    );
                    conn.send_informational(stream, StatusCode::EARLY_HINTS, &link)
                        .unwrap();
                    conn.send_response(stream, StatusCode::OK, &none, false)
                        .unwrap();
                    let authority = head
                        .request
                        .uri()
                        .authority()
                        .map_or("localhost", |a| a.as_str());
                    let req = Request::get(format!("https://{authority}/pushed.css"))
                        .body(())
                        .unwrap();
                    if let Ok(pushed) = conn.push_promise(stream, &req) {
                        conn.send_response(pushed, StatusCode::OK, &none, false)
                            .unwrap();
                        conn.send_data(pushed, Bytes::from_static(b"body{}"), true)
                            .unwrap();
                    }
                    conn.send_data(stream, Bytes::from_static(b"<html>"), true)
                        .unwrap();
                }
                "/echo" if !end_stream => echo.push((stream, 0)),
                "/upload" => {
                    conn.send_response(stream, StatusCode::UNAUTHORIZED, &none, false)
                        .unwrap();
                    conn.send_data(stream, Bytes::from_static(b"missing token\n"), true)
                        .unwrap();
                    if !end_stream {
                        let _ = conn
                            .drain_request_body(stream, Instant::now() + Duration::from_secs(1));
                    }
                }
                _ => {
                    conn.send_response(stream, StatusCode::OK, &none, false)
                        .unwrap();
                    conn.send_data(stream, Bytes::from(path), true).unwrap();
                }
            }
        }
        Event::Data {
            stream,
            data,
            end_stream,
        } => {
            conn.release(stream, data.len());
            if let Some(e) = echo.iter_mut().find(|e| e.0 == stream) {
                e.1 += data.len();
                if end_stream {
                    let mut trailers = HeaderMap::new();
                    trailers.insert("x-done", "yes".parse().unwrap());
                    conn.send_response(stream, StatusCode::OK, &none, false)
                        .unwrap();
                    conn.send_data(stream, Bytes::from(e.1.to_string()), false)
                        .unwrap();
                    conn.send_trailers(stream, trailers).unwrap();
                }
            }
        }
        _ => {}
    }
}
