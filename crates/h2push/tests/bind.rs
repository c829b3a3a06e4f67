//! One server per address: binding an address some other process (another h2push included)
//! listens on is an error that names the address, while a server's own threads still share
//! their addresses.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use h2push::{Server, ServerError};

fn plain(addr: SocketAddr, threads: usize) -> Result<Server, ServerError> {
    Server::builder().bind_plain(addr).threads(threads).build()
}

#[test]
fn an_address_another_socket_listens_on_is_a_bind_error_naming_it() {
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = other.local_addr().unwrap();
    for threads in [1, 2] {
        match plain(addr, threads) {
            Err(e @ ServerError::Bind { addr: a, .. }) => {
                assert_eq!(a, addr);
                let msg = e.to_string();
                assert!(msg.contains(&addr.to_string()), "{msg}");
                assert!(msg.contains("in use"), "{msg}");
            }
            Err(e) => panic!("expected a bind error, got {e}"),
            Ok(_) => panic!("bound {addr} (threads {threads}) while another socket listens"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_a_served_address_fails_and_the_first_keeps_serving() {
    let first = plain("127.0.0.1:0".parse().unwrap(), 2).expect("first server");
    let addr = first.plain_addrs()[0];
    let handle = first.shutdown_handle();
    let app = Router::new().route(
        "/",
        get(|| async {
            let thread = std::thread::current();
            let serving = if thread.name() == Some("h2push-1") {
                "2"
            } else {
                "1"
            };
            format!("first, thread {serving}")
        }),
    );
    let task = tokio::spawn(first.serve(app));

    let second = plain(addr, 2);
    assert!(
        matches!(second, Err(ServerError::Bind { addr: a, .. }) if a == addr),
        "a second server on {addr}: {:?}",
        second.as_ref().err()
    );
    // Connections spread over the first server's two threads (the kernel hashes each
    // connection's addresses: 40 fresh ports all on one thread has odds of 2^-39).
    let mut threads = std::collections::BTreeSet::new();
    for i in 0..40 {
        let (status, text) = common::get_http1(addr, "/").await;
        assert_eq!(status, 200, "request {i}: {text}");
        let Some((_, thread)) = text.rsplit_once("first, thread ") else {
            panic!("request {i}: {text}");
        };
        threads.insert(thread.to_string());
    }
    assert_eq!(threads.len(), 2, "threads that served: {threads:?}");
    handle.shutdown();
    tokio::time::timeout(Duration::from_secs(15), task)
        .await
        .expect("stops in time")
        .unwrap();
}
