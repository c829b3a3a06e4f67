//! A Mercure update as it travels through the hub, and its ids.
//!
//! This file owns [`Update`] (topics, data, privacy, id, type, retry), its envelope — the JSON
//! text the hub carries as one event's `data` on the internal topic, so that the memory and
//! Redis backends, history and replay work unchanged — and its re-encoding as the SSE event a
//! Mercure subscriber receives. It also owns the ids: generated `urn:uuid:` ids, and the
//! bounded index from a Mercure id to the hub id it was stored under, which turns a
//! subscriber's `Last-Event-ID` into a place in the hub's history.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::sse::Event;

/// One Mercure update.
///
/// ```
/// use h2push::sse::mercure::Update;
///
/// let u = Update::new(["https://example.com/books/1"], "{\"title\":\"x\"}");
/// assert!(!u.private);
/// assert!(u.id.starts_with("urn:uuid:"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// The topics; the first is the canonical one, the others alternates.
    #[serde(rename = "t")]
    pub topics: Vec<String>,
    /// The content.
    #[serde(rename = "d")]
    pub data: String,
    /// Only subscribers authorized for one of the topics get it.
    #[serde(rename = "p", default, skip_serializing_if = "is_false")]
    pub private: bool,
    /// The update's id (the SSE `id:`).
    #[serde(rename = "i")]
    pub id: String,
    /// The SSE `event:` type.
    #[serde(rename = "y", default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// The SSE `retry:`, in milliseconds.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<u64>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Update {
    /// A public update of `data` on `topics`, with a fresh `urn:uuid:` id.
    pub fn new<I, S>(topics: I, data: impl Into<String>) -> Update
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Update {
            topics: topics.into_iter().map(Into::into).collect(),
            data: data.into(),
            private: false,
            id: new_id(),
            event_type: None,
            retry: None,
        }
    }

    pub(crate) fn envelope(&self) -> String {
        // Serializing plain strings, numbers and booleans cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub(crate) fn from_envelope(data: &str) -> Option<Update> {
        serde_json::from_str(data).ok()
    }

    /// The event a subscriber receives: `id:`, `event:` (if a type was given), `retry:` (if
    /// given), `data:`.
    ///
    /// ```
    /// use h2push::sse::mercure::Update;
    ///
    /// let mut u = Update::new(["/a"], "hi");
    /// u.id = "urn:uuid:1".into();
    /// u.event_type = Some("greeting".into());
    /// assert_eq!(u.encode(), "event: greeting\nid: urn:uuid:1\ndata: hi\n\n");
    /// ```
    pub fn encode(&self) -> Bytes {
        let mut event = Event::data(self.data.clone());
        if let Some(t) = &self.event_type {
            event = event.clone().event(t.clone()).unwrap_or(event);
        }
        event = event.clone().id(self.id.clone()).unwrap_or(event);
        if let Some(ms) = self.retry {
            event = event.retry(Duration::from_millis(ms));
        }
        event.encode()
    }
}

/// A fresh `urn:uuid:` id (a version 4 UUID from the system's secure random source).
///
/// ```
/// let id = h2push::sse::mercure::new_id();
/// assert_eq!(id.len(), "urn:uuid:".len() + 36);
/// assert_ne!(id, h2push::sse::mercure::new_id());
/// ```
pub fn new_id() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        // The system source does not fail on supported platforms; fall back to the hub's
        // jitter source mixed with the clock rather than panic.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        b = t.to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The bounded index from Mercure ids to hub ids, newest last.
pub(crate) struct IdIndex {
    cap: usize,
    inner: Mutex<IndexInner>,
}

#[derive(Default)]
struct IndexInner {
    map: HashMap<String, String>,
    order: VecDeque<String>,
}

impl IdIndex {
    pub fn new(cap: usize) -> IdIndex {
        IdIndex {
            cap: cap.max(16),
            inner: Mutex::default(),
        }
    }

    pub fn record(&self, mercure_id: &str, hub_id: &str) {
        let mut st = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if st.map.contains_key(mercure_id) {
            return;
        }
        if st.order.len() >= self.cap {
            if let Some(old) = st.order.pop_front() {
                st.map.remove(&old);
            }
        }
        st.map.insert(mercure_id.to_owned(), hub_id.to_owned());
        st.order.push_back(mercure_id.to_owned());
    }

    pub fn hub_id(&self, mercure_id: &str) -> Option<String> {
        let st = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        st.map.get(mercure_id).cloned()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trips() {
        let mut u = Update::new(["/a", "/b"], "line1\nline2");
        u.private = true;
        u.retry = Some(1500);
        let back = Update::from_envelope(&u.envelope()).unwrap();
        assert_eq!(back, u);
        let text = String::from_utf8(u.encode().to_vec()).unwrap();
        assert!(
            text.contains("retry: 1500\n") && text.contains("data: line1\ndata: line2\n"),
            "{text}"
        );
    }

    #[test]
    fn index_is_bounded() {
        let idx = IdIndex::new(16);
        for i in 0..100 {
            idx.record(&format!("m{i}"), &format!("h{i}"));
        }
        assert_eq!(idx.len(), 16);
        assert_eq!(idx.hub_id("m99").as_deref(), Some("h99"));
        assert_eq!(idx.hub_id("m0"), None);
    }
}
