//! A Mercure client library from PyPI against the hub: `mercure-publisher` (its
//! `MercurePublisher` makes the publisher JWT with PyJWT and posts the form) publishes a
//! private update that an authorized HTTP/2 subscriber receives, and gets the hub's 403 for a
//! topic outside its claim.
//!
//! The library is looked for in the venv at `H2PUSH_MERCURE_VENV`, else the tests' venv
//! (`H2PUSH_TEST_VENV`, else `~/.cache/h2push-test-venv`); install it there with
//! `pip install mercure-publisher`. Without it the test is skipped, unless
//! `H2PUSH_REQUIRE_EXTERNAL` is set: then it fails.

mod sse_http_support;

use std::path::PathBuf;
use std::process::Command;

use h2push::sse::hub::{Hub, HubConfig};
use h2push::sse::mercure::{JwtKey, MercureConfig, MercureService};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use sse_http_support::*;

const KEY: &str = "!ChangeThisMercureHubJWTSecretKey!";

fn python() -> Option<PathBuf> {
    let venv = std::env::var_os("H2PUSH_MERCURE_VENV")
        .or_else(|| std::env::var_os("H2PUSH_TEST_VENV"))
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .unwrap_or_else(|| PathBuf::from(".cache"));
            cache.join("h2push-test-venv")
        });
    let py = venv.join("bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import mercure_publisher"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(py);
    }
    let msg = format!(
        "{} cannot import mercure_publisher: run `{} -m pip install mercure-publisher`",
        py.display(),
        py.display()
    );
    if std::env::var_os("H2PUSH_REQUIRE_EXTERNAL").is_some() {
        panic!("{msg}");
    }
    eprintln!("skipped: {msg}");
    None
}

const SCRIPT: &str = r#"
import sys
from mercure_publisher import MercureConfig, MercurePublisher, MercurePublishError

hub, key = sys.argv[1], sys.argv[2]
config = MercureConfig(hub_url=hub, publisher_jwt_key=key,
                       publish_topics=["https://example.com/books/{id}"])
with MercurePublisher(config) as p:
    update_id = p.publish("https://example.com/books/1", {"title": "Mercure"},
                          private=True, type="book", retry=1500)
    print("id", update_id)
    try:
        p.publish("https://example.com/users/1", "no")
        print("refused", "no")
    except MercurePublishError as e:
        print("refused", e.status_code)
"#;

#[tokio::test]
async fn mercure_publisher_from_pypi_publishes_and_is_refused_outside_its_claim() {
    let Some(py) = python() else { return };
    let svc = MercureService::new(
        Hub::memory(HubConfig::default()),
        MercureConfig {
            publisher_key: Some(JwtKey::hs256(KEY)),
            ..MercureConfig::default()
        },
    );
    let server = serve(svc).await;
    let sub_jwt = encode(
        &Header::new(Algorithm::HS256),
        &serde_json::json!({"mercure": {"subscribe": ["https://example.com/books/{id}"]}}),
        &EncodingKey::from_secret(KEY.as_bytes()),
    )
    .unwrap();
    let mut conn = H2::connect(server.addr).await;
    let auth = format!("Bearer {sub_jwt}");
    let (parts, mut events) = conn
        .get(
            "/.well-known/mercure?topic=https%3A%2F%2Fexample.com%2Fbooks%2F%7Bid%7D",
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(parts.status, http::StatusCode::OK);

    let hub_url = format!("http://{}/.well-known/mercure", server.addr);
    let out = within(
        "the Python publisher",
        tokio::task::spawn_blocking(move || {
            Command::new(py)
                .args(["-c", SCRIPT, &hub_url, KEY])
                .output()
                .expect("run python")
        }),
    )
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut id = None;
    let mut refused = None;
    for line in stdout.lines() {
        match line.split_once(' ') {
            Some(("id", v)) => id = Some(v.to_owned()),
            Some(("refused", v)) => refused = Some(v.to_owned()),
            _ => {}
        }
    }
    let id = id.unwrap_or_else(|| panic!("no id in {stdout:?}"));
    assert!(id.starts_with("urn:uuid:"), "{id}");
    assert_eq!(refused.as_deref(), Some("403"), "{stdout}");

    let got = events.events(1).await;
    assert_eq!(got[0].data, r#"{"title": "Mercure"}"#);
    assert_eq!(got[0].event_type, "book");
    assert_eq!(got[0].last_event_id, id);
}
