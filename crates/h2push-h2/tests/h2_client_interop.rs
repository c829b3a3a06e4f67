//! The engine against an independent HTTP/2 client (the `h2` crate's), over an in-memory
//! pipe with a minimal driver: requests with and without bodies, many streams at once, a
//! 103 before the response, server push, a body larger than every window, and trailers.

use std::time::Duration;

mod driver;

use bytes::Bytes;
use driver::{serve, BIG};
use http::Request;

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
