//! `h2push proxy`'s upstream transport flags and `[[proxy]]`'s transport keys, from the
//! binary: the help names them, and mistakes exit with an error naming the file, line and
//! key, or the CA file and what is wrong with it. Nothing is served.

use std::process::Command;

mod support;

use support::BIN;

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).output().expect("run h2push");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn proxy_help_shows_the_transport_flags() {
    let (ok, out, err) = run(&["proxy", "--help"]);
    assert!(ok, "{err}");
    for flag in [
        "--upstream-ca",
        "--upstream-insecure",
        "--tls-server-name",
        "--upstream-http2",
        "--connect-timeout-ms",
        "--read-timeout",
        "h2c://",
        "https://",
    ] {
        assert!(out.contains(flag), "{flag} missing from:\n{out}");
    }
}

#[test]
fn a_bad_ca_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("broken-ca.pem");
    std::fs::write(&ca, "not pem\n").unwrap();
    let (ok, _, err) = run(&[
        "proxy",
        "--upstream",
        "https://127.0.0.1:9",
        "--upstream-ca",
        ca.to_str().unwrap(),
    ]);
    assert!(!ok, "started with a broken CA file");
    assert!(
        err.contains("broken-ca.pem") && err.contains("no PEM certificates"),
        "{err}"
    );
}

#[test]
fn tls_flags_on_a_plain_upstream_are_refused() {
    let (ok, _, err) = run(&[
        "proxy",
        "--upstream",
        "http://127.0.0.1:9",
        "--upstream-insecure",
    ]);
    assert!(!ok, "started");
    assert!(err.contains("https://"), "{err}");
}

#[test]
fn a_config_mistake_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("h2push.toml");
    std::fs::write(
        &config,
        "[[proxy]]\nprefix = \"/api\"\nupstream = \"http://127.0.0.1:9\"\nupstream_ca = \"ca.pem\"\n",
    )
    .unwrap();
    let (ok, _, err) = run(&[
        "serve",
        dir.path().to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(!ok, "started");
    assert!(
        err.contains("h2push.toml") && err.contains("line 4") && err.contains("upstream_ca"),
        "{err}"
    );
}
