//! What the proxy answers when the upstream does not.
//!
//! This module owns the mapping from an upstream failure to a status (refused, unreachable
//! or a failed TLS handshake: 502; timed out: 504; too many requests in flight: 503) and the
//! short plain-text body naming the cause. Logging the failure is the caller's business, as it knows the request.

use std::error::Error as StdError;
use std::fmt;
use std::io;

use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};

use crate::Body;

/// Why the proxy could not get a response from the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpstreamError {
    /// The upstream refused the connection or could not be reached.
    Connect(String),
    /// The TLS handshake with an `https://` upstream failed (an untrusted certificate, a
    /// name mismatch...); the text is rustls's.
    Tls(String),
    /// Connecting took longer than the connect timeout.
    ConnectTimeout,
    /// The response head took longer than the read timeout.
    ReadTimeout,
    /// The upstream closed or broke the connection before a complete response head.
    Broken(String),
    /// The upstream already has its maximum of requests in flight.
    Busy,
}

impl UpstreamError {
    /// The status the client receives: 502, 503 or 504.
    ///
    /// ```
    /// use h2push::proxy::UpstreamError;
    /// assert_eq!(UpstreamError::ReadTimeout.status().as_u16(), 504);
    /// assert_eq!(UpstreamError::Connect("refused".into()).status().as_u16(), 502);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            UpstreamError::Connect(_) | UpstreamError::Broken(_) | UpstreamError::Tls(_) => {
                StatusCode::BAD_GATEWAY
            }
            UpstreamError::ConnectTimeout | UpstreamError::ReadTimeout => {
                StatusCode::GATEWAY_TIMEOUT
            }
            UpstreamError::Busy => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Classifies an error of hyper-util's client.
    pub(crate) fn from_client(e: &hyper_util::client::legacy::Error) -> Self {
        if let Some(tls) = tls_error(e) {
            return UpstreamError::Tls(tls.to_string());
        }
        if e.is_connect() {
            if has_timed_out(e) {
                return UpstreamError::ConnectTimeout;
            }
            return UpstreamError::Connect(root_cause(e));
        }
        UpstreamError::Broken(root_cause(e))
    }

    /// The response sent to the client.
    pub(crate) fn response(&self, upstream: &str) -> Response<Body> {
        let body = format!(
            "{} {}: upstream {upstream}: {self}\n",
            self.status().as_u16(),
            self.status().canonical_reason().unwrap_or("")
        );
        let mut res = Response::new(Body::from(body));
        *res.status_mut() = self.status();
        let h = res.headers_mut();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if matches!(self, UpstreamError::Busy) {
            h.insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        res
    }
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamError::Connect(why) => write!(f, "connection failed ({why})"),
            UpstreamError::Tls(why) => write!(f, "TLS handshake failed ({why})"),
            UpstreamError::ConnectTimeout => f.write_str("connect timed out"),
            UpstreamError::ReadTimeout => f.write_str("response timed out"),
            UpstreamError::Broken(why) => write!(f, "no complete response ({why})"),
            UpstreamError::Busy => f.write_str("too many requests in flight"),
        }
    }
}

impl StdError for UpstreamError {}

fn has_timed_out(e: &(dyn StdError + 'static)) -> bool {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::TimedOut {
                return true;
            }
        }
        if err.to_string().contains("timed out") {
            return true;
        }
        cur = err.source();
    }
    false
}

/// The rustls error in `e`'s chain, if any (rustls's come wrapped in an `io::Error`).
fn tls_error<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // hyper-rustls wraps tokio-rustls's io::Error in another: unwrap them all.
        let mut inner = err.downcast_ref::<io::Error>().and_then(|io| io.get_ref());
        while let Some(i) = inner {
            if let Some(tls) = i.downcast_ref::<rustls::Error>() {
                return Some(tls);
            }
            inner = i.downcast_ref::<io::Error>().and_then(|io| io.get_ref());
        }
        cur = err.source();
    }
    None
}

/// The innermost error's message: "Connection refused (os error 111)" rather than
/// "client error (Connect)".
fn root_cause(e: &(dyn StdError + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn body_names_the_cause() {
        let res = UpstreamError::Connect("Connection refused (os error 111)".into())
            .response("127.0.0.1:9");
        assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.starts_with("502 Bad Gateway"), "{text}");
        assert!(text.contains("refused"), "{text}");
    }

    #[test]
    fn busy_is_503_with_retry_after() {
        let res = UpstreamError::Busy.response("x");
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()["retry-after"], "1");
    }
}
