//! 103 Early Hints: the [`EarlyHints`] request extension.
//!
//! This module owns the API an application uses to send `Link` hints before its final
//! response (RFC 8297) and the rule that a 103 can only precede the final head. Writing the
//! 103 on the wire is left to the HTTP/2 driver in `conn`; over HTTP/1.1 (hyper has
//! no server-side 1xx) the links are kept and merged into the final response's `Link` header
//! by the HTTP/1.1 driver, so the client still learns them.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use http::HeaderValue;

/// Why a 103 was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EarlyHintsError {
    /// The final response head is already out; a 103 can only come before it.
    #[error("the final response head was already sent; 103 must precede it")]
    HeadSent,
    /// Nothing to send.
    #[error("no links to send")]
    Empty,
    /// The HTTP/2 layer refused the 103 (the stream is gone).
    #[error("the HTTP/2 layer refused the 103: {0}")]
    Protocol(String),
}

/// The protocol side of early hints for one request.
pub(crate) trait HintStream: Send + Sync {
    fn send(&self, links: Vec<HeaderValue>) -> Result<(), EarlyHintsError>;
}

/// Sends 103 Early Hints before the final response (a request extension).
///
/// Over HTTP/2 each [`send`](EarlyHints::send) writes one 103 with one `Link` field per link.
/// Over HTTP/1.1 nothing is sent early; the links are added to the final response's `Link`
/// header instead. Chrome acts on the first 103 of a navigation only, and only on
/// `rel=preload` links with an `as=` (or `rel=preconnect`).
///
/// ```
/// use axum::{routing::get, Extension, Router};
/// use h2push::EarlyHints;
/// use http::HeaderValue;
///
/// async fn index(Extension(hints): Extension<EarlyHints>) -> &'static str {
///     let _ = hints.send([HeaderValue::from_static("</style.css>; rel=preload; as=style")]);
///     // ... think time: query a database, render a template ...
///     "<link rel=stylesheet href=/style.css>"
/// }
///
/// let app: Router = Router::new().route("/", get(index));
/// # drop(app);
/// ```
#[derive(Clone)]
pub struct EarlyHints {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    /// The stream, and whether a 103 went out on it.
    Stream(Arc<dyn HintStream>, Arc<AtomicBool>),
    Deferred(Arc<Mutex<Vec<HeaderValue>>>),
    Gathering(Arc<Gather>),
}

/// Links gathered from several senders of one request, until [`GatherHandle::flush`] sends
/// them as one 103 through `target` (browsers act on the first 103 only).
struct Gather {
    target: EarlyHints,
    /// `None` once flushed: later links go straight to `target`.
    links: Mutex<Option<Vec<HeaderValue>>>,
}

/// Flushes the links an [`EarlyHints::gathering`] collected.
pub(crate) struct GatherHandle(Arc<Gather>);

impl GatherHandle {
    /// Sends what was gathered as one 103 (nothing if nothing was); later sends go out at
    /// once. Only the first call does anything.
    pub(crate) fn flush(&self) -> Result<(), EarlyHintsError> {
        let links = self
            .0
            .links
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match links {
            Some(links) if !links.is_empty() => self.0.target.send(links),
            _ => Ok(()),
        }
    }
}

impl EarlyHints {
    pub(crate) fn new(stream: Arc<dyn HintStream>) -> Self {
        EarlyHints {
            inner: Inner::Stream(stream, Arc::default()),
        }
    }

    /// Early hints that are kept and added to the final response's `Link` header (HTTP/1.1).
    /// [`EarlyHints::deferred_links`] reads them back.
    ///
    /// ```
    /// use h2push::EarlyHints;
    /// use http::HeaderValue;
    /// let hints = EarlyHints::deferred();
    /// hints.send([HeaderValue::from_static("</a.css>; rel=preload; as=style")]).unwrap();
    /// assert_eq!(hints.deferred_links().len(), 1);
    /// ```
    pub fn deferred() -> Self {
        EarlyHints {
            inner: Inner::Deferred(Arc::default()),
        }
    }

    /// Whether a 103 really goes out (HTTP/2) or the links wait for the final response.
    ///
    /// ```
    /// assert!(!h2push::EarlyHints::deferred().sends_informational());
    /// ```
    pub fn sends_informational(&self) -> bool {
        match &self.inner {
            Inner::Stream(..) => true,
            Inner::Deferred(_) => false,
            Inner::Gathering(g) => g.target.sends_informational(),
        }
    }

    /// Sends one 103 carrying `links`, each a `Link` field value such as
    /// `</style.css>; rel=preload; as=style`.
    ///
    /// ```
    /// use h2push::{EarlyHints, EarlyHintsError};
    /// let hints = EarlyHints::deferred();
    /// assert_eq!(hints.send([]), Err(EarlyHintsError::Empty));
    /// ```
    pub fn send<I>(&self, links: I) -> Result<(), EarlyHintsError>
    where
        I: IntoIterator<Item = HeaderValue>,
    {
        let links: Vec<HeaderValue> = links.into_iter().collect();
        if links.is_empty() {
            return Err(EarlyHintsError::Empty);
        }
        match &self.inner {
            Inner::Stream(s, sent) => {
                s.send(links)?;
                sent.store(true, Ordering::Release);
                Ok(())
            }
            Inner::Deferred(kept) => {
                kept.lock().unwrap_or_else(|e| e.into_inner()).extend(links);
                Ok(())
            }
            Inner::Gathering(g) => {
                let mut gathered = g.links.lock().unwrap_or_else(|e| e.into_inner());
                match gathered.as_mut() {
                    Some(kept) => {
                        // One link per target: the first sender's (the policy's) wins.
                        for l in links {
                            if !kept.iter().any(|k| same_target(k, &l)) {
                                kept.push(l);
                            }
                        }
                        Ok(())
                    }
                    None => {
                        drop(gathered);
                        g.target.send(links)
                    }
                }
            }
        }
    }

    /// The links kept by deferred hints (empty for HTTP/2 hints, which are sent at once).
    ///
    /// ```
    /// assert!(h2push::EarlyHints::deferred().deferred_links().is_empty());
    /// ```
    pub fn deferred_links(&self) -> Vec<HeaderValue> {
        match &self.inner {
            Inner::Stream(..) => Vec::new(),
            Inner::Deferred(kept) => kept.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            Inner::Gathering(g) => g.target.deferred_links(),
        }
    }
}

/// Whether two `Link` values name the same target (`<…>`), whatever their parameters.
fn same_target(a: &HeaderValue, b: &HeaderValue) -> bool {
    let target = |v: &HeaderValue| {
        let s = v.as_bytes();
        s.iter()
            .position(|&c| c == b'>')
            .map(|end| s[..end].to_vec())
    };
    match (target(a), target(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

impl EarlyHints {
    /// Whether a 103 has gone out for this request (through this handle or another of the
    /// same request). Browsers act on the first 103 only, so a later one is worth sending
    /// only when none went out yet.
    pub(crate) fn informational_sent(&self) -> bool {
        match &self.inner {
            Inner::Stream(_, sent) => sent.load(Ordering::Acquire),
            Inner::Deferred(_) => false,
            Inner::Gathering(g) => g.target.informational_sent(),
        }
    }

    /// An `EarlyHints` that gathers what is sent through it until the handle flushes it as
    /// one 103 through this one: the hint policy lends it to the application, so that its
    /// own hints and the policy's reach the browser in the first 103, the one it acts on.
    pub(crate) fn gathering(&self) -> (EarlyHints, GatherHandle) {
        let gather = Arc::new(Gather {
            target: self.clone(),
            links: Mutex::new(Some(Vec::new())),
        });
        (
            EarlyHints {
                inner: Inner::Gathering(gather.clone()),
            },
            GatherHandle(gather),
        )
    }
}

impl fmt::Debug for EarlyHints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Stream(..) => f.write_str("EarlyHints(103)"),
            Inner::Deferred(_) => f.write_str("EarlyHints(deferred to Link)"),
            Inner::Gathering(g) => write!(f, "EarlyHints(gathering for {:?})", g.target),
        }
    }
}
