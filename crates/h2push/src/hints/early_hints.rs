//! 103 Early Hints: the [`EarlyHints`] request extension.
//!
//! This module owns the API an application uses to send `Link` hints before its final
//! response (RFC 8297) and the rule that a 103 can only precede the final head. Writing the
//! 103 on the wire is left to the HTTP/2 driver in `conn`; over HTTP/1.1 (hyper has
//! no server-side 1xx) the links are kept and merged into the final response's `Link` header
//! by the HTTP/1.1 driver, so the client still learns them.

use std::fmt;
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
    Stream(Arc<dyn HintStream>),
    Deferred(Arc<Mutex<Vec<HeaderValue>>>),
}

impl EarlyHints {
    pub(crate) fn new(stream: Arc<dyn HintStream>) -> Self {
        EarlyHints {
            inner: Inner::Stream(stream),
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
        matches!(self.inner, Inner::Stream(_))
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
            Inner::Stream(s) => s.send(links),
            Inner::Deferred(kept) => {
                kept.lock().unwrap_or_else(|e| e.into_inner()).extend(links);
                Ok(())
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
            Inner::Stream(_) => Vec::new(),
            Inner::Deferred(kept) => kept.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
    }
}

impl fmt::Debug for EarlyHints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner {
            Inner::Stream(_) => f.write_str("EarlyHints(103)"),
            Inner::Deferred(_) => f.write_str("EarlyHints(deferred to Link)"),
        }
    }
}
