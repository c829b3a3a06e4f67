//! Cross-origin access to the Mercure hub (CORS), for pages on other origins.
//!
//! This file owns which origins may use the hub ([`MercureConfig::cors_origins`]), the
//! preflight answer and the headers added to every hub response. Credentials (the
//! `mercureAuthorization` cookie) are always allowed for a listed origin, which is therefore
//! echoed, never `*`. Routing is `mod.rs`'s.
//!
//! [`MercureConfig::cors_origins`]: super::MercureConfig::cors_origins

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, VARY,
};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use crate::Body;

/// The `Access-Control-Allow-Origin` value for `origin`, if `allowed` lists it (or `*`).
pub(super) fn allowed(allowed: &[String], origin: Option<&HeaderValue>) -> Option<HeaderValue> {
    let origin = origin?;
    let o = origin.to_str().ok()?;
    allowed
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(o))
        .then(|| origin.clone())
}

/// Adds the CORS headers for `origin` to a hub response.
pub(super) fn add_headers(list: &[String], origin: Option<&HeaderValue>, h: &mut HeaderMap) {
    if list.is_empty() {
        return;
    }
    h.append(VARY, HeaderValue::from_static("origin"));
    if let Some(allow) = allowed(list, origin) {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        h.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

/// The answer to a preflight `OPTIONS` request.
pub(super) fn preflight(list: &[String], origin: Option<&HeaderValue>) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    if allowed(list, origin).is_some() {
        let h = res.headers_mut();
        h.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        h.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, last-event-id, cache-control"),
        );
        h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    }
    add_headers(list, origin, res.headers_mut());
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_origins_are_echoed_with_credentials() {
        let list = vec!["https://app.example/".to_owned()];
        let o = HeaderValue::from_static("https://app.example");
        let mut h = HeaderMap::new();
        add_headers(&list, Some(&o), &mut h);
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        let mut h = HeaderMap::new();
        add_headers(
            &list,
            Some(&HeaderValue::from_static("https://evil.example")),
            &mut h,
        );
        assert!(h.get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        assert!(allowed(&["*".into()], Some(&o)).is_some());
        assert!(allowed(&[], Some(&o)).is_none());
    }
}
