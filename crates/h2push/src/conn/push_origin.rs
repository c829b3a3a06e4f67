//! What both HTTP/2 drivers build alike for server push, from a request stream.
//!
//! This module owns [`PushOrigin`]: the parent request's scheme and authority (which every
//! promise must repeat, RFC 9113 §8.4.1) and the session fields its pushes inherit, and the
//! two requests one push needs — the one the PUSH_PROMISE carries and the synthetic one the
//! service answers. Sending the frames and the push rules that need stream state are the
//! drivers' ([`super::h2`], [`super::engine`]); the rules that need none are
//! [`crate::push`]'s.

use http::header::{ACCEPT_ENCODING, HOST};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, Request, Uri};

use super::{insert_request_extensions, ConnInfo, Protocol};
use crate::body::Body;
use crate::push::{Promise, PushError, Pusher, INHERITED};
use crate::EarlyHints;

/// A request stream's origin and the fields its pushes inherit.
pub(crate) struct PushOrigin {
    pub(crate) scheme: Scheme,
    pub(crate) authority: Authority,
    /// The parent's session fields ([`INHERITED`]); empty when push is off.
    pub(crate) inherited: HeaderMap,
}

/// The two requests of one push.
pub(crate) struct PushRequests {
    /// What the PUSH_PROMISE carries: what a client needs to match the push to its own
    /// request (the pseudo-fields, the app's extra fields, the parent's accept-encoding).
    pub(crate) promised: Request<()>,
    /// What the service answers: the parent's session fields plus the promise's own.
    pub(crate) request: Request<Body>,
    pub(crate) path: PathAndQuery,
}

impl PushOrigin {
    /// The origin of the request `parts` on a connection of `default_scheme`; with
    /// `can_push`, the session fields are copied too (a client that refused push gets none,
    /// so nothing is copied for it — browsers and load generators all refuse).
    pub(crate) fn of(
        parts: &http::request::Parts,
        default_scheme: &Scheme,
        info: &ConnInfo,
        can_push: bool,
    ) -> PushOrigin {
        let scheme = parts
            .uri
            .scheme()
            .cloned()
            .unwrap_or(default_scheme.clone());
        let authority = parts
            .uri
            .authority()
            .cloned()
            .or_else(|| parts.headers.get(HOST)?.to_str().ok()?.parse().ok())
            .unwrap_or_else(|| local_authority(info.local));
        let mut inherited = HeaderMap::new();
        for name in INHERITED.iter().filter(|_| can_push) {
            for v in parts.headers.get_all(name) {
                inherited.append(name, v.clone());
            }
        }
        PushOrigin {
            scheme,
            authority,
            inherited,
        }
    }

    /// The requests of `promise`, pushed on a connection described by `info`.
    pub(crate) fn requests(
        &self,
        promise: Promise,
        info: &ConnInfo,
    ) -> Result<PushRequests, PushError> {
        let uri = Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(promise.path.clone())
            .build()
            .map_err(|e| PushError::InvalidPath(e.to_string()))?;
        let mut promise_headers = promise.headers;
        if !promise_headers.contains_key(ACCEPT_ENCODING) {
            if let Some(v) = self.inherited.get(ACCEPT_ENCODING) {
                promise_headers.insert(ACCEPT_ENCODING, v.clone());
            }
        }
        let mut headers = self.inherited.clone();
        for (name, value) in &promise_headers {
            headers.insert(name, value.clone());
        }
        let mut promised = Request::new(());
        *promised.method_mut() = promise.method.clone();
        *promised.uri_mut() = uri.clone();
        *promised.headers_mut() = promise_headers;
        let mut request = Request::new(Body::empty());
        *request.method_mut() = promise.method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        insert_request_extensions(
            request.extensions_mut(),
            Pusher::unavailable(PushError::Nested),
            EarlyHints::deferred(),
            info,
            Protocol::H2 { tls: info.tls },
        );
        Ok(PushRequests {
            promised,
            request,
            path: promise.path,
        })
    }
}

/// The authority of a request that named none (neither `:authority` nor `Host`).
fn local_authority(local: std::net::SocketAddr) -> Authority {
    // Only reached when the client sent neither :authority nor Host; a SocketAddr always
    // parses as an authority.
    local
        .to_string()
        .parse()
        .unwrap_or_else(|_| Authority::from_static("localhost"))
}
