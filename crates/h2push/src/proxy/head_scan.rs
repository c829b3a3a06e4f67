//! Reading the `<head>` of a proxied HTML page as it streams by.
//!
//! This module owns [`HeadTap`], a body wrapper that hands every frame of the upstream's
//! response on the moment it arrives and keeps a copy of the first bytes — until the head
//! ends (`</head>` or `<body`), [`MAX_HEAD`] bytes, or the body ends, whichever comes first.
//! Then, off the response's path (a spawned task), it runs [`scan_head`] over the copy and
//! hands the hints to a callback; the body itself is never held back. A body that breaks
//! off before that point yields nothing. Which responses are worth tapping
//! ([`worth_scanning`]: HTML, uncompressed) and what to do with the hints are decided here
//! and by the proxy service respectively.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::HeaderMap;
use http_body::{Frame, SizeHint};

use crate::hints::{scan_head, Hint};

/// The most bytes of a page copied for the scan (64 KiB).
pub(crate) const MAX_HEAD: usize = 64 * 1024;

/// Called once with the hints found in the head.
pub(crate) type OnHead = Box<dyn FnOnce(Vec<Hint>) + Send>;

/// True if a response with these headers is a page whose head can be read: `text/html`, and
/// no `Content-Encoding` other than `identity` (a compressed body would need decoding, and
/// a streaming one — `text/event-stream` — is never HTML).
pub(crate) fn worth_scanning(headers: &HeaderMap) -> bool {
    let identity = headers.get_all(CONTENT_ENCODING).iter().all(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .all(|c| c.trim().is_empty() || c.trim().eq_ignore_ascii_case("identity"))
        })
    });
    is_html(headers) && identity
}

/// True if the response is `text/html` (whatever its encoding).
pub(crate) fn is_html(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            let essence = t.split(';').next().unwrap_or("").trim();
            essence.eq_ignore_ascii_case("text/html")
        })
}

pin_project_lite::pin_project! {
    /// A response body that copies its first bytes for a head scan while passing every
    /// frame through unchanged.
    pub(crate) struct HeadTap<B> {
        #[pin]
        inner: B,
        tap: Option<Tap>,
    }
}

struct Tap {
    buf: Vec<u8>,
    doc_path: String,
    on_head: OnHead,
}

impl<B> HeadTap<B> {
    /// Wraps `inner`; `on_head` gets what [`scan_head`] finds in it for `doc_path`.
    pub(crate) fn new(inner: B, doc_path: &str, on_head: OnHead) -> Self {
        HeadTap {
            inner,
            tap: Some(Tap {
                buf: Vec::new(),
                doc_path: doc_path.to_owned(),
                on_head,
            }),
        }
    }
}

impl Tap {
    /// Copies what is still wanted of `data`; true once the copy is complete.
    fn feed(&mut self, data: &[u8]) -> bool {
        let room = MAX_HEAD - self.buf.len();
        let old = self.buf.len();
        self.buf.extend_from_slice(&data[..data.len().min(room)]);
        // `</head` or `<body` may straddle two chunks: look again at the last few bytes.
        let from = old.saturating_sub(5);
        head_ends(&self.buf[from..]) || self.buf.len() >= MAX_HEAD
    }

    /// Scans the copy and reports, in a task of its own when there is a runtime.
    fn finish(self) {
        let Tap {
            buf,
            doc_path,
            on_head,
        } = self;
        let job = move || {
            let text = String::from_utf8_lossy(&buf);
            on_head(scan_head(&text, &doc_path));
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move { job() });
            }
            Err(_) => job(),
        }
    }
}

/// True if `bytes` hold the end of a head: `</head` or the start of `<body`, in any case.
fn head_ends(bytes: &[u8]) -> bool {
    bytes
        .windows(6)
        .any(|w| w.eq_ignore_ascii_case(b"</head") || w[..5].eq_ignore_ascii_case(b"<body"))
        || bytes
            .get(bytes.len().saturating_sub(5)..)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"<body"))
}

impl<B> http_body::Body for HeadTap<B>
where
    B: http_body::Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let mut inner = this.inner;
        let polled = inner.as_mut().poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                let complete = match (frame.data_ref(), this.tap.as_mut()) {
                    (Some(data), Some(tap)) => tap.feed(data),
                    _ => false,
                };
                // A body whose length is known says it has ended after its last frame, and
                // is not polled again: the copy is complete then too.
                if complete || inner.is_end_stream() {
                    if let Some(tap) = this.tap.take() {
                        tap.finish();
                    }
                }
            }
            Poll::Ready(None) => {
                if let Some(tap) = this.tap.take() {
                    tap.finish();
                }
            }
            // A broken body tells nothing reliable about the page.
            Poll::Ready(Some(Err(_))) => *this.tap = None,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use http_body_util::{BodyExt, StreamBody};

    use super::*;

    type Chunks = Vec<Result<Frame<Bytes>, std::io::Error>>;

    fn chunks(parts: &[&[u8]]) -> Chunks {
        parts
            .iter()
            .map(|p| Ok(Frame::data(Bytes::copy_from_slice(p))))
            .collect()
    }

    /// Runs `frames` through a tap (no runtime: the scan runs inline) and returns the body
    /// as read and the hints reported, if any.
    fn run(frames: Chunks) -> (Vec<u8>, Option<Vec<String>>) {
        let got: Arc<Mutex<Option<Vec<String>>>> = Arc::default();
        let sink = got.clone();
        let body = StreamBody::new(futures_util::stream::iter(frames));
        let tap = HeadTap::new(
            body,
            "/page",
            Box::new(move |hints| {
                *sink.lock().unwrap() = Some(hints.into_iter().map(|h| h.path).collect());
            }),
        );
        let read = futures_util::FutureExt::now_or_never(tap.collect())
            .expect("a ready stream")
            .map(|c| c.to_bytes().to_vec())
            .unwrap_or_default();
        let hints = got.lock().unwrap().take();
        (read, hints)
    }

    #[test]
    fn every_byte_passes_and_the_head_is_scanned() {
        let page: &[&[u8]] = &[
            b"<!doctype html><html><he",
            b"ad><link rel=stylesheet href=/a.css></HE",
            b"AD><body>",
            &[b'x'; 100_000],
        ];
        let (read, hints) = run(chunks(page));
        assert_eq!(read, page.concat());
        assert_eq!(hints.unwrap(), ["/a.css"]);
    }

    #[test]
    fn the_copy_is_bounded() {
        let mut big = b"<html><head><link rel=stylesheet href=/a.css>".to_vec();
        big.extend(std::iter::repeat_n(b' ', 3 * MAX_HEAD));
        big.extend_from_slice(b"<link rel=stylesheet href=/late.css></head>");
        let (read, hints) = run(chunks(&[&big]));
        assert_eq!(read.len(), big.len());
        assert_eq!(
            hints.unwrap(),
            ["/a.css"],
            "what is past the bound is not seen"
        );
    }

    #[test]
    fn a_short_page_is_scanned_at_its_end_and_a_broken_one_not_at_all() {
        let (_, hints) = run(chunks(&[b"<link rel=stylesheet href=/s.css>"]));
        assert_eq!(hints.unwrap(), ["/s.css"]);
        let mut frames = chunks(&[b"<link rel=stylesheet href=/s.css>"]);
        frames.push(Err(std::io::Error::other("upstream broke off")));
        let (_, hints) = run(frames);
        assert!(hints.is_none(), "{hints:?}");
    }

    #[test]
    fn a_body_that_knows_its_end_is_scanned_without_a_last_poll() {
        let got: Arc<Mutex<Option<Vec<Hint>>>> = Arc::default();
        let sink = got.clone();
        let body = http_body_util::Full::new(Bytes::from_static(
            b"<title>t</title><link rel=stylesheet href=/s.css>",
        ));
        let mut tap = std::pin::pin!(HeadTap::new(
            body,
            "/",
            Box::new(move |h| *sink.lock().unwrap() = Some(h)),
        ));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(matches!(
            http_body::Body::poll_frame(tap.as_mut(), &mut cx),
            Poll::Ready(Some(Ok(_)))
        ));
        // A connection driver stops here: the body says it has ended.
        assert!(http_body::Body::is_end_stream(&*tap));
        let hints = got
            .lock()
            .unwrap()
            .take()
            .expect("scanned at the last frame");
        assert_eq!(hints[0].path, "/s.css");
    }

    #[test]
    fn head_end_is_found_across_chunks_and_in_any_case() {
        assert!(head_ends(b"...</head>"));
        assert!(head_ends(b"...<BODY class=x>"));
        assert!(head_ends(b"<body"));
        assert!(!head_ends(b"<bod"));
        assert!(!head_ends(b"<header>"));
        let mut t = Tap {
            buf: Vec::new(),
            doc_path: "/".into(),
            on_head: Box::new(|_| {}),
        };
        assert!(!t.feed(b"<html><head></he"));
        assert!(t.feed(b"ad>"));
    }

    #[test]
    fn only_plain_html_is_worth_scanning() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.append(*k, http::HeaderValue::from_static(v));
            }
            worth_scanning(&m)
        };
        assert!(h(&[("content-type", "text/html; charset=utf-8")]));
        assert!(h(&[
            ("content-type", "TEXT/HTML"),
            ("content-encoding", "identity")
        ]));
        assert!(!h(&[
            ("content-type", "text/html"),
            ("content-encoding", "gzip")
        ]));
        assert!(!h(&[
            ("content-type", "text/html"),
            ("content-encoding", "br")
        ]));
        assert!(!h(&[("content-type", "text/event-stream")]));
        assert!(!h(&[("content-type", "application/xhtml+xml")]));
        assert!(!h(&[("content-type", "text/htmlx")]));
        assert!(!h(&[]));
    }
}
