//! The `h2push` binary end to end: serve, probe, cert, config errors, and nghttp (an
//! external HTTP/2 client) seeing the pushes.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod support;

use support::{Running as Served, BIN};

fn serve(args: &[&str]) -> Served {
    support::spawn(std::iter::once("serve").chain(args.iter().copied()))
}

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>t</title>\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("style.css"), "body{}\n").unwrap();
    std::fs::write(dir.path().join("app.js"), "void 0;\n").unwrap();
    std::fs::write(
        dir.path().join("h2push.toml"),
        "[[push]]\npath = \"/\"\nresources = [\"/style.css\", \"/app.js\"]\n",
    )
    .unwrap();
    dir
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).output().expect("run h2push");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn serve_site(dir: &Path) -> Served {
    let root = dir.to_str().unwrap();
    let config = dir.join("h2push.toml");
    serve(&[
        root,
        "--addr",
        "127.0.0.1:0",
        "--h2c",
        "127.0.0.1:0",
        "--config",
        config.to_str().unwrap(),
    ])
}

#[test]
fn serve_prints_its_urls_and_the_spki_pin() {
    let dir = site();
    let s = serve_site(dir.path());
    assert!(s.h2c.is_some(), "{:?}", s.stdout);
    let pin_line = s.stdout.iter().find(|l| l.contains("SPKI pin")).unwrap();
    let pin = pin_line.rsplit(' ').next().unwrap();
    assert_eq!(pin.len(), 44, "base64 of 32 bytes: {pin}");
    assert!(s
        .stdout
        .iter()
        .any(|l| l.contains("push / -> /style.css, /app.js")));
}

#[test]
fn probe_shows_the_pushes_and_the_103_of_serve() {
    let dir = site();
    let s = serve_site(dir.path());
    let url = format!("https://{}/", s.tls);
    let (ok, out, err) = run(&["probe", &url, "-k", "-H", "sec-fetch-mode: navigate"]);
    assert!(ok, "{err}");
    assert!(out.contains("103"), "{out}");
    assert!(out.contains("PUSH_PROMISE  /style.css"), "{out}");
    assert!(out.contains("PUSH_PROMISE  /app.js"), "{out}");
    let (ok, json, err) = run(&["probe", &url, "-k", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v["exchanges"][0]["pushes"].as_array().unwrap().len(),
        2,
        "{json}"
    );
    // --no-push: the client refuses push, and the server sends none.
    let (ok, out, _) = run(&["probe", &url, "-k", "--no-push"]);
    assert!(ok);
    assert!(!out.contains("PUSH_PROMISE"), "{out}");
}

#[test]
fn probe_without_k_explains_the_certificate_error() {
    let dir = site();
    let s = serve_site(dir.path());
    let (ok, _, err) = run(&["probe", &format!("https://{}/", s.tls)]);
    assert!(!ok);
    assert!(err.contains("-k"), "{err}");
}

#[test]
fn nghttp_sees_the_push_promises() {
    if Command::new("nghttp").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("H2PUSH_REQUIRE_EXTERNAL").is_none(),
            "nghttp is required (scripts/install-test-deps installs nghttp2-client)"
        );
        eprintln!("skipped: nghttp not installed");
        return;
    }
    let dir = site();
    let s = serve_site(dir.path());
    let out = Command::new("nghttp")
        .args(["-nv", "-t", "10", &format!("https://{}/", s.tls)])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("recv PUSH_PROMISE frame").count(), 2, "{text}");
    assert!(text.contains(":path: /style.css"), "{text}");
    assert!(text.contains(":path: /app.js"), "{text}");
    assert!(text.contains(":scheme: https"), "{text}");
}

#[test]
fn cert_writes_a_pair_that_serve_loads() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("certs");
    let (ok, stdout, err) = run(&["cert", "--out", out.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(stdout.contains("SPKI SHA-256"), "{stdout}");
    let (cert, key) = (out.join("cert.pem"), out.join("key.pem"));
    let site = site();
    let s = serve(&[
        site.path().to_str().unwrap(),
        "--addr",
        "127.0.0.1:0",
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    assert!(
        !s.stdout.iter().any(|l| l.contains("in memory")),
        "{:?}",
        s.stdout
    );
    let (ok, out, err) = run(&["probe", &format!("https://{}/style.css", s.tls), "-k"]);
    assert!(ok, "{err}");
    assert!(out.contains("200"), "{out}");
}

#[test]
fn a_bad_config_names_file_line_and_key() {
    let dir = site();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[[push]]\npath = \"/\"\nresorces = [\"/a.css\"]\n").unwrap();
    let (ok, _, err) = run(&[
        "serve",
        dir.path().to_str().unwrap(),
        "--addr",
        "127.0.0.1:0",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("bad.toml: line 3, column 1"), "{err}");
    assert!(err.contains("resorces"), "{err}");
}

#[test]
fn a_bad_certificate_file_is_a_clear_error() {
    let dir = site();
    let bogus = dir.path().join("bogus.pem");
    std::fs::write(&bogus, "not a certificate\n").unwrap();
    let (ok, _, err) = run(&[
        "serve",
        dir.path().to_str().unwrap(),
        "--addr",
        "127.0.0.1:0",
        "--cert",
        bogus.to_str().unwrap(),
        "--key",
        bogus.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("bogus.pem"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_missing_root_is_a_clear_error() {
    let (ok, _, err) = run(&["serve", "/no/such/dir", "--addr", "127.0.0.1:0"]);
    assert!(!ok);
    assert!(err.contains("/no/such/dir"), "{err}");
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let dir = site();
    let mut s = serve_site(dir.path());
    let pid = s.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = s.child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "h2push did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_second_serve_on_a_served_address_exits_with_an_error_naming_it() {
    let dir = site();
    let first = serve_site(dir.path());
    let addr = first.tls.to_string();
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["serve", dir.path().to_str().unwrap(), "--addr", &addr])
        .args(["--threads", "2"])
        .output()
        .expect("run h2push");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the second instance started: {err}");
    assert!(err.contains(&addr), "{err}");
    assert!(err.contains("in use"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn serve_help_explains_the_deadlines() {
    let (ok, out, _) = run(&["serve", "--help"]);
    assert!(ok);
    for flag in [
        "--handshake-timeout",
        "--preface-timeout",
        "--header-read-timeout",
        "--body-idle-timeout",
        "--send-timeout",
        "--goaway-timeout",
        "--max-connections",
    ] {
        assert!(out.contains(flag), "{flag} missing from:\n{out}");
    }
}
