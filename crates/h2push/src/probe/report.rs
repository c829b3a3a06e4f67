//! What a probe saw, and how it is printed.
//!
//! This file owns the report types ([`ProbeReport`], [`Exchange`], [`Informational`],
//! [`Pushed`], [`Response`]), the flat [`TimelineEvent`] view, the [`Totals`], and both
//! renderings: human text ([`ProbeReport::render_text`]) and JSON (the [`serde::Serialize`]
//! impls, where bodies appear as their lengths and times as fractional milliseconds). Filling
//! the report in is left to the connection code in the sibling modules.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::ser::{SerializeSeq as _, SerializeStruct as _};
use serde::{Serialize, Serializer};

/// Everything one probe observed on its connection. All times are measured from the moment
/// the probe started.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    /// The URL that was probed.
    pub url: String,
    /// The address the connection was made to.
    pub peer: SocketAddr,
    /// `"h2"` (over TLS) or `"h2c"` (cleartext, prior knowledge).
    pub protocol: String,
    /// The ALPN protocol the server selected (`Some("h2")` over TLS, `None` for h2c).
    pub alpn: Option<String>,
    /// The TLS version, e.g. `"TLS 1.3"`, or `None` for h2c.
    pub tls_version: Option<String>,
    /// The TLS cipher suite, e.g. `"TLS13_AES_128_GCM_SHA256"`, or `None` for h2c.
    pub cipher_suite: Option<String>,
    /// How long the TCP connect took.
    pub connect_time: Duration,
    /// How long the TLS handshake took (`None` for h2c).
    pub tls_time: Option<Duration>,
    /// When the connection was ready for requests (TCP + TLS + HTTP/2 preface sent).
    pub connected_at: Duration,
    /// One entry per request, in the order they were sent.
    pub exchanges: Vec<Exchange>,
    /// When the probe finished.
    pub elapsed: Duration,
}

/// One request and everything the server sent because of it.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    /// The request method.
    #[serde(serialize_with = "ser_display")]
    pub method: http::Method,
    /// The request path (with query).
    pub path: String,
    /// When the request HEADERS were handed to the connection.
    #[serde(rename = "sent_at_ms", serialize_with = "ser_ms")]
    pub sent_at: Duration,
    /// Interim (1xx) responses, e.g. 103 Early Hints, in arrival order.
    pub informational: Vec<Informational>,
    /// Streams the server pushed while answering this request, in PUSH_PROMISE order.
    pub pushes: Vec<Pushed>,
    /// The final response.
    pub response: Response,
}

/// An interim (1xx) response such as 103 Early Hints.
#[derive(Debug, Clone, Serialize)]
pub struct Informational {
    /// The status, e.g. 103.
    #[serde(serialize_with = "ser_status")]
    pub status: StatusCode,
    /// All its headers, including every `link` value.
    #[serde(serialize_with = "ser_headers")]
    pub headers: HeaderMap,
    /// When it was received.
    #[serde(rename = "at_ms", serialize_with = "ser_ms")]
    pub at: Duration,
}

impl Informational {
    /// Every `link` header value, in order (several fields and comma-joined values alike are
    /// returned as sent).
    pub fn links(&self) -> Vec<String> {
        header_values(&self.headers, "link")
    }
}

/// How a pushed stream ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum PushOutcome {
    /// The whole pushed response arrived.
    Completed,
    /// The probe cancelled it (RST_STREAM CANCEL), because of
    /// [`ProbeOptions::reset_pushes`](super::ProbeOptions::reset_pushes).
    ResetByClient,
    /// The server reset it; the HTTP/2 error code name, e.g. `"CANCEL"`.
    ResetByServer(String),
    /// It had not finished when the probe stopped waiting
    /// ([`ProbeOptions::push_wait`](super::ProbeOptions::push_wait)); the probe cancelled it.
    TimedOut,
    /// The connection failed under it (GOAWAY, I/O error, protocol error).
    Failed(String),
}

/// A server push: the promised request and what arrived on the pushed stream.
#[derive(Debug, Clone, Serialize)]
pub struct Pushed {
    /// The promised request's path (with query).
    pub promised_path: String,
    /// The promised request's headers (PUSH_PROMISE header block, without pseudo-headers).
    #[serde(serialize_with = "ser_headers")]
    pub promise_headers: HeaderMap,
    /// When the PUSH_PROMISE was received.
    #[serde(rename = "promised_at_ms", serialize_with = "ser_ms")]
    pub promised_at: Duration,
    /// The pushed response's status, if its headers arrived.
    #[serde(serialize_with = "ser_opt_status")]
    pub status: Option<StatusCode>,
    /// The pushed response's headers (empty if they never arrived).
    #[serde(serialize_with = "ser_headers")]
    pub headers: HeaderMap,
    /// The body bytes received (in JSON: their count, as `body_len`).
    #[serde(rename = "body_len", serialize_with = "ser_len")]
    pub body: Bytes,
    /// When the stream ended, was reset, or was given up on.
    #[serde(rename = "finished_at_ms", serialize_with = "ser_ms")]
    pub finished_at: Duration,
    /// How it ended.
    pub outcome: PushOutcome,
}

/// The final response to a request.
#[derive(Debug, Clone, Serialize)]
pub struct Response {
    /// The status.
    #[serde(serialize_with = "ser_status")]
    pub status: StatusCode,
    /// The headers.
    #[serde(serialize_with = "ser_headers")]
    pub headers: HeaderMap,
    /// The body (in JSON: its length, as `body_len`).
    #[serde(rename = "body_len", serialize_with = "ser_len")]
    pub body: Bytes,
    /// When the response HEADERS arrived.
    #[serde(rename = "head_at_ms", serialize_with = "ser_ms")]
    pub head_at: Duration,
    /// When the response stream ended.
    #[serde(rename = "finished_at_ms", serialize_with = "ser_ms")]
    pub finished_at: Duration,
}

/// Counts over the whole probe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Final responses received.
    pub responses: usize,
    /// PUSH_PROMISEs received.
    pub pushes: usize,
    /// Body bytes received on pushed streams.
    pub pushed_bytes: usize,
    /// 103 Early Hints responses received.
    pub early_hints: usize,
}

/// One entry of [`ProbeReport::timeline`].
#[derive(Debug, Clone, Copy)]
pub struct TimelineEvent<'a> {
    /// When it happened.
    pub at: Duration,
    /// What happened.
    pub kind: EventKind<'a>,
}

/// What a [`TimelineEvent`] records.
#[derive(Debug, Clone, Copy)]
pub enum EventKind<'a> {
    /// The connection became ready.
    Connected,
    /// A request was sent.
    Request(&'a Exchange),
    /// An interim response arrived.
    Informational(&'a Exchange, &'a Informational),
    /// A PUSH_PROMISE arrived.
    PushPromise(&'a Exchange, &'a Pushed),
    /// A pushed stream ended (any [`PushOutcome`]).
    PushEnd(&'a Exchange, &'a Pushed),
    /// The final response's HEADERS arrived.
    ResponseHead(&'a Exchange),
    /// The final response ended.
    ResponseEnd(&'a Exchange),
}

impl ProbeReport {
    /// All events of all exchanges, ordered by time (ties keep causal order: request, hints,
    /// promises, response headers, pushed responses, response end).
    pub fn timeline(&self) -> Vec<TimelineEvent<'_>> {
        let mut events = vec![TimelineEvent {
            at: self.connected_at,
            kind: EventKind::Connected,
        }];
        for ex in &self.exchanges {
            let ev = |at, kind| TimelineEvent { at, kind };
            events.push(ev(ex.sent_at, EventKind::Request(ex)));
            for info in &ex.informational {
                events.push(ev(info.at, EventKind::Informational(ex, info)));
            }
            for push in &ex.pushes {
                events.push(ev(push.promised_at, EventKind::PushPromise(ex, push)));
            }
            events.push(ev(ex.response.head_at, EventKind::ResponseHead(ex)));
            for push in &ex.pushes {
                events.push(ev(push.finished_at, EventKind::PushEnd(ex, push)));
            }
            events.push(ev(ex.response.finished_at, EventKind::ResponseEnd(ex)));
        }
        events.sort_by_key(|e| e.at); // stable: equal times keep the order above
        events
    }

    /// Counts of responses, pushes, pushed bytes and early hints.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for ex in &self.exchanges {
            t.responses += 1;
            t.pushes += ex.pushes.len();
            t.pushed_bytes += ex.pushes.iter().map(|p| p.body.len()).sum::<usize>();
            t.early_hints += ex
                .informational
                .iter()
                .filter(|i| i.status == StatusCode::EARLY_HINTS)
                .count();
        }
        t
    }

    /// The report as human-readable lines: the timeline with times in milliseconds, then
    /// the totals.
    ///
    /// ```text
    ///      0.9 ms  connected 127.0.0.1:8443 (TLS 1.3, ALPN h2)
    ///      1.0 ms  GET /
    ///      1.4 ms  103 Early Hints  </style.css>; rel=preload; as=style
    ///      1.5 ms  PUSH_PROMISE  /style.css
    ///      1.9 ms  HEADERS  200  /
    ///      2.1 ms  pushed /style.css  200  1,234 bytes
    ///      2.6 ms  200  /  5,678 bytes
    ///   totals: 1 response, 1 push (1,234 bytes), 1 early hints
    /// ```
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for event in self.timeline() {
            out.push_str(&format!("{:>8.1} ms  ", ms(event.at)));
            out.push_str(&self.describe(&event.kind));
            out.push('\n');
        }
        let t = self.totals();
        out.push_str(&format!(
            "  totals: {} {}, {} {} ({} bytes), {} early hints\n",
            t.responses,
            if t.responses == 1 {
                "response"
            } else {
                "responses"
            },
            t.pushes,
            if t.pushes == 1 { "push" } else { "pushes" },
            thousands(t.pushed_bytes),
            t.early_hints
        ));
        out
    }

    /// The report as pretty-printed JSON (bodies as lengths, times as milliseconds, plus
    /// `totals`).
    pub fn render_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    fn describe(&self, kind: &EventKind<'_>) -> String {
        match kind {
            EventKind::Connected => match (&self.tls_version, &self.alpn) {
                (Some(v), alpn) => format!(
                    "connected {} ({v}, ALPN {})",
                    self.peer,
                    alpn.as_deref().unwrap_or("none")
                ),
                (None, _) => format!("connected {} (h2c, prior knowledge)", self.peer),
            },
            EventKind::Request(ex) => format!("{} {}", ex.method, ex.path),
            EventKind::Informational(_, info) => {
                let reason = info.status.canonical_reason().unwrap_or("");
                let links = info.links();
                let links = if links.is_empty() {
                    "(no link headers)".to_owned()
                } else {
                    links.join(", ")
                };
                format!("{} {reason}  {links}", info.status.as_u16())
            }
            EventKind::PushPromise(_, push) => format!("PUSH_PROMISE  {}", push.promised_path),
            EventKind::PushEnd(_, push) => {
                let status = push
                    .status
                    .map(|s| format!("  {}", s.as_u16()))
                    .unwrap_or_default();
                let what = match &push.outcome {
                    PushOutcome::Completed => format!("{} bytes", thousands(push.body.len())),
                    PushOutcome::ResetByClient => "reset by client (CANCEL)".to_owned(),
                    PushOutcome::ResetByServer(r) => format!(
                        "reset by server ({r}) after {} bytes",
                        thousands(push.body.len())
                    ),
                    PushOutcome::TimedOut => format!(
                        "still incomplete after {} bytes; cancelled",
                        thousands(push.body.len())
                    ),
                    PushOutcome::Failed(e) => format!("failed: {e}"),
                };
                format!("pushed {}{status}  {what}", push.promised_path)
            }
            EventKind::ResponseHead(ex) => {
                format!("HEADERS  {}  {}", ex.response.status.as_u16(), ex.path)
            }
            EventKind::ResponseEnd(ex) => format!(
                "{}  {}  {} bytes",
                ex.response.status.as_u16(),
                ex.path,
                thousands(ex.response.body.len())
            ),
        }
    }
}

impl Serialize for ProbeReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("ProbeReport", 12)?;
        st.serialize_field("url", &self.url)?;
        st.serialize_field("peer", &self.peer.to_string())?;
        st.serialize_field("protocol", &self.protocol)?;
        st.serialize_field("alpn", &self.alpn)?;
        st.serialize_field("tls_version", &self.tls_version)?;
        st.serialize_field("cipher_suite", &self.cipher_suite)?;
        st.serialize_field("connect_time_ms", &ms(self.connect_time))?;
        st.serialize_field("tls_time_ms", &self.tls_time.map(ms))?;
        st.serialize_field("connected_at_ms", &ms(self.connected_at))?;
        st.serialize_field("exchanges", &self.exchanges)?;
        st.serialize_field("totals", &self.totals())?;
        st.serialize_field("elapsed_ms", &ms(self.elapsed))?;
        st.end()
    }
}

/// All values of header `name`, lossily decoded as UTF-8.
fn header_values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `1234567` → `"1,234,567"`.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ser_ms<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(ms(*d))
}

fn ser_len<S: Serializer>(b: &Bytes, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(b.len() as u64)
}

fn ser_status<S: Serializer>(st: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u16(st.as_u16())
}

fn ser_opt_status<S: Serializer>(st: &Option<StatusCode>, s: S) -> Result<S::Ok, S::Error> {
    match st {
        Some(st) => s.serialize_some(&st.as_u16()),
        None => s.serialize_none(),
    }
}

fn ser_display<S: Serializer, T: std::fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// Headers as a list of `[name, value]` pairs, so repeated fields (several `link`s) survive.
fn ser_headers<S: Serializer>(h: &HeaderMap, s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(h.len()))?;
    for (name, value) in h {
        let value = String::from_utf8_lossy(value.as_bytes());
        seq.serialize_element(&[name.as_str(), value.as_ref()])?;
    }
    seq.end()
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
