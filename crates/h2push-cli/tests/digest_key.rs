//! The digest cookie's key shared through `H2PUSH_DIGEST_KEY`: an instance does not push
//! again what another instance with the same key already pushed (its cookie says so), while
//! an instance with another key reads the cookie as a first visit; a bad key stops the
//! server with a clear message.

use std::path::Path;
use std::process::Command;

mod support;

use support::BIN;

const KEY: &str = "q0Vt3f8JmXbR2nYc7LwZp5Hs9KdA1eUg6TiO4";

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let w = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    w("index.html", "<!doctype html><title>t</title>\n");
    w("style.css", "body{}\n");
    w("app.js", "void 0;\n");
    w(
        "h2push.toml",
        "[[push]]\npath = \"/\"\nresources = [\"/style.css\", \"/app.js\"]\n",
    );
    dir
}

fn serve(dir: &Path, env: &[(&str, &str)]) -> support::Running {
    let config = dir.join("h2push.toml");
    support::spawn_with_env(
        [
            "serve",
            dir.to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
            "--no-access-log",
        ],
        env,
    )
}

/// Probes `/` with push on; returns the pushed paths and the digest cookie set, if any.
fn probe(server: &support::Running, cookie: Option<&str>) -> (Vec<String>, Option<String>) {
    let url = format!("https://{}/", server.tls);
    let mut args = vec!["probe".to_owned(), url, "-k".into(), "--json".into()];
    if let Some(c) = cookie {
        args.extend(["-H".into(), format!("cookie: {c}")]);
    }
    let out = Command::new(BIN).args(&args).output().expect("run probe");
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{json} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let ex = &v["exchanges"][0];
    let pushes = ex["pushes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["promised_path"].as_str().unwrap().to_owned())
        .collect();
    let cookie = ex["response"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0] == "set-cookie")
        .and_then(|h| h[1].as_str())
        .map(|c| c.split(';').next().unwrap().to_owned());
    (pushes, cookie)
}

#[test]
fn instances_sharing_a_key_read_each_others_digest_cookies() {
    let dir = site();
    let a = serve(dir.path(), &[("H2PUSH_DIGEST_KEY", KEY)]);
    let b = serve(dir.path(), &[("H2PUSH_DIGEST_KEY", KEY)]);
    let own = serve(
        dir.path(),
        &[(
            "H2PUSH_DIGEST_KEY",
            "another-random-key-0123456789abcdefXYZ",
        )],
    );
    assert!(
        a.stdout
            .iter()
            .any(|l| l.contains("digest cookie key: from H2PUSH_DIGEST_KEY")),
        "{:?}",
        a.stdout
    );
    assert!(
        !a.stdout.iter().any(|l| l.contains(KEY)),
        "the key is never printed"
    );

    let (pushed, cookie) = probe(&a, None);
    assert_eq!(pushed, ["/style.css", "/app.js"]);
    let cookie = cookie.expect("a digest cookie");
    let (pushed, _) = probe(&b, Some(&cookie));
    assert!(
        pushed.is_empty(),
        "b read a's cookie, yet pushed {pushed:?}"
    );
    let (pushed, _) = probe(&own, Some(&cookie));
    assert_eq!(
        pushed,
        ["/style.css", "/app.js"],
        "another key: a first visit"
    );
}

#[test]
fn a_bad_key_is_a_clear_error() {
    let dir = site();
    for (key, says) in [("changeme", "at least 32"), ("", "at least 32")] {
        let out = Command::new(BIN)
            .args([
                "serve",
                dir.path().to_str().unwrap(),
                "--addr",
                "127.0.0.1:0",
            ])
            .env("H2PUSH_DIGEST_KEY", key)
            .output()
            .expect("run h2push");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(
            err.contains("H2PUSH_DIGEST_KEY") && err.contains(says),
            "{err}"
        );
    }
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[hints]\ndigest_key = \"short\"\n").unwrap();
    let out = Command::new(BIN)
        .args([
            "serve",
            dir.path().to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
        ])
        .arg("--config")
        .arg(&config)
        .env_remove("H2PUSH_DIGEST_KEY")
        .output()
        .expect("run h2push");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("bad.toml: line 2") && err.contains("at least 32"),
        "{err}"
    );
}
