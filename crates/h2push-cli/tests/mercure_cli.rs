//! `h2push serve --mercure` end to end: the binary serves a Mercure hub next to the static
//! files (a subscriber gets what a JWT-holding publisher posts; a publisher without a JWT gets
//! 401), and a bad `[mercure]` key in the config file is reported with the file, line and key.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

mod support;

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use support::BIN;

const KEY: &str = "cli-mercure-key";

/// One HTTP/1.1 request on a new connection; the whole response as text.
fn fetch(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn post(addr: SocketAddr, auth: Option<&str>, body: &str) -> String {
    let auth = auth.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    fetch(
        addr,
        &format!(
            "POST /.well-known/mercure HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[test]
fn serve_mercure_publishes_to_subscribers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "hi\n").unwrap();
    let served = support::spawn([
        "serve",
        dir.path().to_str().unwrap(),
        "--addr",
        "127.0.0.1:0",
        "--h2c",
        "127.0.0.1:0",
        "--mercure",
        "--mercure-publisher-jwt-key",
        KEY,
        "--mercure-anonymous",
    ]);
    let addr = served.h2c.expect("a plaintext address");

    let mut sub = TcpStream::connect(addr).unwrap();
    sub.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    sub.write_all(
        b"GET /.well-known/mercure?topic=https%3A%2F%2Fexample.com%2Fbooks%2F%7Bid%7D HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    let mut reader = BufReader::new(sub);
    let mut head = String::new();
    reader.read_line(&mut head).unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    let unauthorized = post(addr, None, "topic=https://example.com/books/1&data=x");
    assert!(unauthorized.starts_with("HTTP/1.1 401"), "{unauthorized}");

    let token = encode(
        &Header::new(Algorithm::HS256),
        &serde_json::json!({"mercure": {"publish": ["*"]}}),
        &EncodingKey::from_secret(KEY.as_bytes()),
    )
    .unwrap();
    let ok = post(
        addr,
        Some(&token),
        "topic=https://example.com/books/1&data=hello",
    );
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.contains("urn:uuid:"), "{ok}");

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "no event; read {seen:?}");
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("stream ended; read {seen:?}");
        }
        if line.contains("data: hello") {
            break;
        }
        seen.push(line);
    }
    // The static files are still served.
    let page = fetch(
        addr,
        "GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        page.starts_with("HTTP/1.1 200") && page.ends_with("hi\n"),
        "{page}"
    );
}

#[test]
fn a_bad_mercure_key_in_the_config_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("h2push.toml");
    std::fs::write(
        &config,
        "[mercure]\nalgorithm = \"RS256\"\npublisher_jwt_key = \"not a PEM key\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["serve", dir.path().to_str().unwrap(), "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(config.to_str().unwrap())
            && err.contains("line 3")
            && err.contains("publisher_jwt_key"),
        "{err}"
    );
}
