//! Counters of what the hint policy did, in the Prometheus text format.
//!
//! This module owns the metric names and their meaning; the policy layer counts and serves
//! them at its opt-in path, and the HTTP/2 driver reports each push's fate to them (a
//! `PushObserver` registered on the connection). Encoding is `prometheus-client`'s (the Prometheus project's Rust
//! client, OpenMetrics text, which Prometheus scrapes natively); the counters are plain atomic
//! counters of that crate, so counting costs an atomic add and rendering happens only when
//! scraped.
//!
//! | metric | labels | counts |
//! | --- | --- | --- |
//! | `h2push_requests_total` | `protocol` (h2, h2c, https/1.1, http/1.1) | client requests |
//! | `h2push_pushes_promised_total` | | PUSH_PROMISEs sent (the policy's and the app's) |
//! | `h2push_pushes_refused_total` | `setting` (`enable_push`, `max_concurrent_streams`) | pushes the client's SETTINGS refused |
//! | `h2push_pushes_cancelled_total` | | pushed streams the client reset (CANCEL, REFUSED_STREAM) before they ended |
//! | `h2push_pushes_skipped_total` | `reason` (`diary`, `cancelled`, `digest`, `conditional`, `budget`) | pushes the policy did not make |
//! | `h2push_pushed_bytes_total` | | body bytes of pushed responses |
//! | `h2push_early_hints_total` | | 103 responses sent |
//! | `h2push_hints_total` | `source` (`rule`, `html`, `learned`, `link`) | hints found, per request |

use prometheus_client::encoding::text::encode;

use crate::push::{PushEvent, PushObserver};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

type Labels = [(&'static str, &'static str); 1];

/// The `protocol` label values, in the order of `HintMetrics::by_protocol`.
const PROTOCOLS: [&str; 4] = ["h2", "h2c", "https/1.1", "http/1.1"];

/// Why the policy did not push a hint it had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    /// Already pushed on this connection.
    Diary,
    /// The client cancelled an earlier push of it on this connection.
    Cancelled,
    /// The client's digest cookie says it has this version.
    Digest,
    /// The parent request was conditional: the client has the page, and so its resources.
    Conditional,
    /// Over the page's budget.
    Budget,
}

impl Skip {
    fn label(self) -> &'static str {
        match self {
            Skip::Diary => "diary",
            Skip::Cancelled => "cancelled",
            Skip::Digest => "digest",
            Skip::Conditional => "conditional",
            Skip::Budget => "budget",
        }
    }
}

/// Where a hint came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Rule,
    Html,
    Css,
    Learned,
    Link,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::Rule => "rule",
            Source::Html => "html",
            Source::Css => "css",
            Source::Learned => "learned",
            Source::Link => "link",
        }
    }
}

/// The hint policy's counters, shared by every clone of one [`HintLayer`](super::HintLayer).
///
/// ```
/// let layer = h2push::hints::HintLayer::new(h2push::hints::HintPolicy::default());
/// let text = layer.metrics().render();
/// assert!(text.contains("h2push_pushes_promised_total 0"));
/// assert!(text.ends_with("# EOF\n"));
/// ```
pub struct HintMetrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    /// The `requests` series per protocol, resolved once: counting is then one atomic add.
    by_protocol: [Counter; 4],
    promised: Counter,
    refused: Family<Labels, Counter>,
    cancelled: Counter,
    skipped: Family<Labels, Counter>,
    pushed_bytes: Counter,
    early_hints: Counter,
    hints: Family<Labels, Counter>,
}

impl std::fmt::Debug for HintMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HintMetrics")
            .field("promised", &self.promised.get())
            .field("early_hints", &self.early_hints.get())
            .finish_non_exhaustive()
    }
}

impl Default for HintMetrics {
    fn default() -> Self {
        let mut m = HintMetrics {
            registry: Registry::default(),
            requests: Family::default(),
            by_protocol: Default::default(),
            promised: Counter::default(),
            refused: Family::default(),
            cancelled: Counter::default(),
            skipped: Family::default(),
            pushed_bytes: Counter::default(),
            early_hints: Counter::default(),
            hints: Family::default(),
        };
        let r = &mut m.registry;
        r.register(
            "h2push_requests",
            "Client requests, by protocol",
            m.requests.clone(),
        );
        r.register(
            "h2push_pushes_promised",
            "PUSH_PROMISEs sent",
            m.promised.clone(),
        );
        r.register(
            "h2push_pushes_refused",
            "Pushes refused by the client's SETTINGS (ENABLE_PUSH=0, MAX_CONCURRENT_STREAMS)",
            m.refused.clone(),
        );
        r.register(
            "h2push_pushes_cancelled",
            "Pushed streams the client reset (CANCEL or REFUSED_STREAM) before they ended",
            m.cancelled.clone(),
        );
        r.register(
            "h2push_pushes_skipped",
            "Pushes not made because the client has the resource or the page's budget is spent",
            m.skipped.clone(),
        );
        r.register(
            "h2push_pushed_bytes",
            "Body bytes of pushed responses",
            m.pushed_bytes.clone(),
        );
        r.register(
            "h2push_early_hints",
            "103 Early Hints responses sent",
            m.early_hints.clone(),
        );
        r.register("h2push_hints", "Hints found, by source", m.hints.clone());
        for (i, protocol) in PROTOCOLS.iter().enumerate() {
            m.by_protocol[i] = m.requests.get_or_create(&[("protocol", protocol)]).clone();
        }
        // Zero series for the labelled counters, so that a scrape shows every case.
        for setting in ["enable_push", "max_concurrent_streams"] {
            let _ = m.refused.get_or_create(&[("setting", setting)]);
        }
        for skip in [
            Skip::Diary,
            Skip::Cancelled,
            Skip::Digest,
            Skip::Conditional,
            Skip::Budget,
        ] {
            let _ = m.skipped.get_or_create(&[("reason", skip.label())]);
        }
        m
    }
}

impl HintMetrics {
    /// The counters in the OpenMetrics text format (what `/metrics` serves).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// The content type of [`HintMetrics::render`]'s output.
    pub const CONTENT_TYPE: &'static str =
        "application/openmetrics-text; version=1.0.0; charset=utf-8";

    pub(crate) fn request(&self, protocol: crate::Protocol) {
        use crate::Protocol::*;
        let i = match protocol {
            H2 { tls: true } => 0,
            H2 { tls: false } => 1,
            Http1 { tls: true } => 2,
            Http1 { tls: false } => 3,
        };
        self.by_protocol[i].inc();
    }

    pub(crate) fn refused(&self, max_concurrent_streams: bool, n: u64) {
        let setting = if max_concurrent_streams {
            "max_concurrent_streams"
        } else {
            "enable_push"
        };
        self.refused
            .get_or_create(&[("setting", setting)])
            .inc_by(n);
    }

    pub(crate) fn skipped(&self, why: Skip) {
        self.skipped.get_or_create(&[("reason", why.label())]).inc();
    }

    pub(crate) fn early_hints(&self) {
        self.early_hints.inc();
    }

    pub(crate) fn hints(&self, source: Source, n: usize) {
        if n > 0 {
            self.hints
                .get_or_create(&[("source", source.label())])
                .inc_by(n as u64);
        }
    }
}

impl PushObserver for HintMetrics {
    fn event(&self, event: PushEvent) {
        match event {
            PushEvent::Promised => self.promised.inc(),
            PushEvent::Cancelled => self.cancelled.inc(),
            PushEvent::Sent(bytes) => self.pushed_bytes.inc_by(bytes),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_with_their_labels() {
        let m = HintMetrics::default();
        m.request(crate::Protocol::H2 { tls: true });
        m.request(crate::Protocol::H2 { tls: true });
        m.skipped(Skip::Digest);
        m.refused(false, 3);
        m.event(PushEvent::Sent(1234));
        m.hints(Source::Html, 2);
        let t = m.render();
        for line in [
            "h2push_requests_total{protocol=\"h2\"} 2",
            "h2push_pushes_skipped_total{reason=\"digest\"} 1",
            "h2push_pushes_skipped_total{reason=\"budget\"} 0",
            "h2push_pushes_refused_total{setting=\"enable_push\"} 3",
            "h2push_pushed_bytes_total 1234",
            "h2push_hints_total{source=\"html\"} 2",
            "# TYPE h2push_early_hints counter",
        ] {
            assert!(t.lines().any(|l| l == line), "missing {line:?} in\n{t}");
        }
    }
}
