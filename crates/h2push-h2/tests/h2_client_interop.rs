//! The engine against an independent HTTP/2 client (the `h2` crate's), over an in-memory
//! pipe with a minimal driver: requests with and without bodies, many streams at once, a
//! 103 before the response, server push, a body larger than every window, and trailers.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use h2push_h2::server::{Config, Connection, Event};
use h2push_h2::StreamId;
use http::{HeaderMap, Request, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

const BIG: usize = 1024 * 1024;

/// Answers every request: `/big` with 1 MiB, `/push` with a push of `/pushed.css` and a 103,
/// `/echo` with the request body's length once it ended, anything else with its path.
async fn serve(mut io: DuplexStream) {
    let mut conn = Connection::new(Config::default());
    let mut input = BytesMut::with_capacity(64 * 1024);
    let mut echo: Vec<(StreamId, usize)> = Vec::new();
    loop {
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
        match io.read_buf(&mut input).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if conn.recv(&mut input).is_err() {
            continue; // the GOAWAY goes out on the next turn
        }
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Request {
                    stream,
                    head,
                    end_stream,
                } => {
                    let path = head.request.uri().path().to_owned();
                    let none = HeaderMap::new();
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
                            let req = Request::get("https://example.com/pushed.css")
                                .body(())
                                .unwrap();
                            let pushed = conn.push_promise(stream, &req).unwrap();
                            conn.send_data(stream, Bytes::from_static(b"<html>"), true)
                                .unwrap();
                            conn.send_response(pushed, StatusCode::OK, &none, false)
                                .unwrap();
                            conn.send_data(pushed, Bytes::from_static(b"body{}"), true)
                                .unwrap();
                        }
                        "/echo" if !end_stream => echo.push((stream, 0)),
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
                            conn.send_response(stream, StatusCode::OK, &HeaderMap::new(), false)
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
    }
}

async fn body(mut recv: h2::RecvStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = recv.data().await {
        let chunk = chunk.expect("body chunk");
        recv.flow_control().release_capacity(chunk.len()).unwrap();
        out.extend_from_slice(&chunk);
    }
    out
}

#[tokio::test]
async fn the_h2_crate_client_gets_every_kind_of_answer() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let server = tokio::spawn(serve(server_io));
        let (client, connection) = h2::client::handshake(client_io).await.expect("handshake");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut client = client.ready().await.unwrap();

        // Many streams at once.
        let mut answers = Vec::new();
        for i in 0..50 {
            let req = Request::get(format!("https://example.com/n{i}"))
                .body(())
                .unwrap();
            let (resp, _) = client.send_request(req, true).unwrap();
            answers.push((i, resp));
            client = client.ready().await.unwrap();
        }
        for (i, resp) in answers {
            let resp = resp.await.expect("response");
            assert_eq!(resp.status(), 200);
            assert_eq!(body(resp.into_body()).await, format!("/n{i}").into_bytes());
        }

        // A body larger than every window.
        let (resp, _) = client
            .send_request(
                Request::get("https://example.com/big").body(()).unwrap(),
                true,
            )
            .unwrap();
        let resp = resp.await.unwrap();
        assert_eq!(body(resp.into_body()).await.len(), BIG);

        // 103, then the response and a push.
        let (mut resp, _) = client
            .send_request(
                Request::get("https://example.com/push").body(()).unwrap(),
                true,
            )
            .unwrap();
        let mut pushes = resp.push_promises();
        let resp = resp.await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(body(resp.into_body()).await, b"<html>");
        let push = pushes
            .push_promise()
            .await
            .expect("a push")
            .expect("valid push");
        let (req, pushed) = push.into_parts();
        assert_eq!(req.uri().path(), "/pushed.css");
        let pushed = pushed.await.unwrap();
        assert_eq!(body(pushed.into_body()).await, b"body{}");

        // A request body, answered with its length and trailers.
        let (resp, mut send) = client
            .send_request(
                Request::post("https://example.com/echo").body(()).unwrap(),
                false,
            )
            .unwrap();
        send.send_data(Bytes::from(vec![1u8; 200_000]), true)
            .unwrap();
        let resp = resp.await.unwrap();
        let mut recv = resp.into_body();
        let mut got = Vec::new();
        while let Some(chunk) = recv.data().await {
            got.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(got, b"200000");
        let trailers = recv.trailers().await.unwrap().expect("trailers");
        assert_eq!(trailers["x-done"], "yes");

        server.abort();
    })
    .await
    .expect("the exchange finished within 30 s");
}
