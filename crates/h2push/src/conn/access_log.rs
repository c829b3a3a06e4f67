//! The access log: one line per request, the same for every protocol.
//!
//! The drivers fill an [`AccessRecord`] as a request goes by and hand it here when the
//! response ends; this module owns the line's format (tracing target `h2push::access`, level
//! INFO) and nothing else.

use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::time::Instant;

use http::uri::PathAndQuery;
use http::{Method, StatusCode};

use super::Protocol;

/// How a response ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Every byte was handed to the connection.
    Complete,
    /// The client reset or closed the stream first.
    ClientGone,
    /// The response body failed, or the connection broke.
    Failed,
}

/// What the hint policy announced for a response (its 103 and `Link: rel=preload` paths),
/// left in the response's extensions for the log line.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hinted(pub(crate) Vec<String>);

/// What one request did, for its log line.
pub(crate) struct AccessRecord {
    pub peer: SocketAddr,
    pub protocol: Protocol,
    pub method: Method,
    pub target: String,
    pub status: Option<StatusCode>,
    pub bytes: u64,
    pub start: Instant,
    pub pushed: Vec<PathAndQuery>,
    pub early_hints: u32,
    /// What the hint policy announced (103 and `Link: rel=preload`).
    pub hinted: Vec<String>,
    /// Set for a pushed response: the path it answers.
    pub pushed_response: bool,
    /// Whether the line will be written; when not, nothing is allocated for it.
    enabled: bool,
}

impl AccessRecord {
    pub(crate) fn new(peer: SocketAddr, protocol: Protocol, method: &Method, target: &str) -> Self {
        let enabled = tracing::enabled!(target: "h2push::access", tracing::Level::INFO);
        AccessRecord {
            peer,
            protocol,
            method: method.clone(),
            target: if enabled {
                target.to_owned()
            } else {
                String::new()
            },
            status: None,
            bytes: 0,
            start: Instant::now(),
            pushed: Vec::new(),
            early_hints: 0,
            hinted: Vec::new(),
            pushed_response: false,
            enabled,
        }
    }

    /// Writes the line, unless access logging is off.
    pub(crate) fn finish(self, outcome: Outcome) {
        if self.enabled {
            tracing::info!(target: "h2push::access", "{}", Line(&self, outcome));
        }
    }
}

struct Line<'a>(&'a AccessRecord, Outcome);

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        let status = r.status.map_or(0, |s| s.as_u16());
        let kind = if r.pushed_response { "PUSHED " } else { "" };
        write!(
            f,
            "{} {} {kind}{} {} {} {}B {:.1}ms",
            r.peer.ip(),
            r.protocol,
            r.method,
            r.target,
            status,
            r.bytes,
            r.start.elapsed().as_secs_f64() * 1e3,
        )?;
        if !r.pushed.is_empty() {
            let mut list = String::new();
            for (i, p) in r.pushed.iter().enumerate() {
                if i > 0 {
                    list.push(',');
                }
                let _ = write!(list, "{p}");
            }
            write!(f, " pushed={list}")?;
        }
        if r.early_hints > 0 {
            write!(f, " early_hints={}", r.early_hints)?;
        }
        if !r.hinted.is_empty() {
            write!(f, " hinted={}", r.hinted.join(","))?;
        }
        match self.1 {
            Outcome::Complete => Ok(()),
            Outcome::ClientGone => f.write_str(" (client gone)"),
            Outcome::Failed => f.write_str(" (failed)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_names_protocol_status_bytes_and_pushes() {
        let mut r = AccessRecord::new(
            "127.0.0.1:5000".parse().unwrap(),
            Protocol::H2 { tls: true },
            &Method::GET,
            "/",
        );
        // No subscriber in unit tests, so the record skipped its target: give it one.
        r.target = "/".into();
        r.status = Some(StatusCode::OK);
        r.bytes = 42;
        r.pushed = vec![
            PathAndQuery::from_static("/a.css"),
            PathAndQuery::from_static("/b.js"),
        ];
        r.early_hints = 1;
        r.hinted = vec!["/a.css".into(), "/f.woff2".into()];
        let line = Line(&r, Outcome::Complete).to_string();
        assert!(line.starts_with("127.0.0.1 h2 GET / 200 42B "), "{line}");
        assert!(
            line.ends_with("pushed=/a.css,/b.js early_hints=1 hinted=/a.css,/f.woff2"),
            "{line}"
        );
    }
}
