//! Server push: the [`Pusher`] request extension and the rules every push must pass.
//!
//! This module owns the push API an application sees (like Go's `http.Pusher`) and the guards
//! of RFC 9113 §8.4 that do not depend on frames: safe methods only, same origin only, a valid
//! path, one push per path per connection (`PushBook`), and no more outstanding pushes than
//! the client allows. Sending PUSH_PROMISE frames and the pushed responses is left to the
//! HTTP/2 driver in `conn`, which implements `PushStream`; which resources deserve a
//! push is left to the hint policy in [`crate::hints`].

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

/// Why a push was not made. Every variant is a normal outcome, not a failure of the page:
/// the parent response goes on either way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The client sent `SETTINGS_ENABLE_PUSH = 0` (curl, Chrome ≥ 106, Firefox ≥ 132).
    #[error("the client disabled server push (SETTINGS_ENABLE_PUSH = 0)")]
    Disabled,
    /// The request came over HTTP/1.1, which has no push.
    #[error("server push needs HTTP/2; this request came over HTTP/1.1")]
    Http1,
    /// A pushed response cannot push (RFC 9113 §8.4: promises go on client-initiated streams).
    #[error("a pushed response cannot push")]
    Nested,
    /// This path was already pushed on this connection.
    #[error("{0} was already pushed on this connection")]
    AlreadyPushed(String),
    /// The client cancelled an earlier push of this path on this connection.
    #[error("the client cancelled an earlier push of {0}")]
    Cancelled(String),
    /// The parent response has ended; a PUSH_PROMISE can only go on an open stream
    /// (RFC 9113 §8.4).
    #[error("the parent response has already ended")]
    ParentClosed,
    /// As many pushes are outstanding as the client's `SETTINGS_MAX_CONCURRENT_STREAMS` allows.
    #[error("{limit} pushes are already outstanding, the client's limit")]
    TooManyPushes {
        /// The client's limit.
        limit: usize,
    },
    /// Only GET and HEAD can be pushed (RFC 9113 §8.4: safe, cacheable, no content).
    #[error("{0} cannot be pushed: only GET and HEAD are safe and cacheable")]
    UnsafeMethod(Method),
    /// The path names another origin than the parent request's (RFC 9113 §8.4.1).
    #[error("{0} is not of the same origin as the request")]
    CrossOrigin(String),
    /// The path is not an absolute path like `/style.css`.
    #[error("{0:?} is not a push path (it must start with a single '/')")]
    InvalidPath(String),
    /// The HTTP/2 layer refused the promise.
    #[error("the HTTP/2 layer refused the push: {0}")]
    Protocol(String),
}

/// A promised request: what a PUSH_PROMISE announces and what the pushed response answers.
#[derive(Debug, Clone)]
pub struct Promise {
    /// GET or HEAD.
    pub method: Method,
    /// The path and query, e.g. `/style.css`.
    pub path: PathAndQuery,
    /// Extra header fields for the promise, e.g. `accept-encoding`.
    pub headers: HeaderMap,
}

/// The request fields a pushed response is produced with, copied from its parent, so that
/// the service answers the push as it would answer the browser (encoding, language, session).
pub(crate) const INHERITED: [http::HeaderName; 5] = [
    http::header::ACCEPT_ENCODING,
    http::header::ACCEPT_LANGUAGE,
    http::header::USER_AGENT,
    http::header::COOKIE,
    http::header::AUTHORIZATION,
];

/// The HTTP/2 side of a push: implemented by the connection driver for one parent stream.
pub(crate) trait PushStream: Send + Sync {
    /// The parent request's scheme and authority; a promise must repeat them (RFC 9113 §8.4.1).
    fn origin(&self) -> (&Scheme, &Authority);
    /// Sends the PUSH_PROMISE and starts the pushed response.
    fn push(&self, promise: Promise) -> Result<(), PushError>;
    /// False once the connection knows pushes will be refused (the client disabled them).
    fn is_enabled(&self) -> bool {
        true
    }
    /// The connection's push ledger, for [`Pusher::observe`].
    fn book(&self) -> Option<&Arc<PushBook>> {
        None
    }
}

/// What became of a push, as the connection driver saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushEvent {
    /// The PUSH_PROMISE went out.
    Promised,
    /// The client reset the pushed stream (CANCEL or REFUSED_STREAM) before it ended.
    Cancelled,
    /// The pushed response ended (or was cut off) after this many body bytes.
    Sent(u64),
}

/// Told of every [`PushEvent`] on a connection (the hint policy counts them for its metrics).
pub(crate) trait PushObserver: Send + Sync {
    fn event(&self, event: PushEvent);
}

/// Pushes resources to the client along with the current response (a request extension).
///
/// Every request h2push serves carries a `Pusher`. Over HTTP/2 it sends a PUSH_PROMISE and
/// produces the pushed response by running the same service on a synthetic GET, so static
/// files and application routes alike can be pushed. Over HTTP/1.1, or when the client has
/// disabled push, every call returns a [`PushError`] and nothing else happens.
///
/// ```
/// use axum::{routing::get, Extension, Router};
/// use h2push::Pusher;
///
/// async fn index(Extension(pusher): Extension<Pusher>) -> &'static str {
///     // Not pushing is never an error for the page itself.
///     let _ = pusher.push("/style.css");
///     "<link rel=stylesheet href=/style.css>"
/// }
///
/// let app: Router = Router::new().route("/", get(index));
/// # drop(app);
/// ```
#[derive(Clone)]
pub struct Pusher {
    inner: Result<Arc<dyn PushStream>, PushError>,
}

impl Pusher {
    pub(crate) fn new(stream: Arc<dyn PushStream>) -> Self {
        Pusher { inner: Ok(stream) }
    }

    /// A pusher whose every push fails with `why`.
    ///
    /// ```
    /// use h2push::{PushError, Pusher};
    /// let p = Pusher::unavailable(PushError::Http1);
    /// assert_eq!(p.push("/a.css"), Err(PushError::Http1));
    /// ```
    pub fn unavailable(why: PushError) -> Self {
        Pusher { inner: Err(why) }
    }

    /// Whether this pusher belongs to a pushed response (which cannot push in turn).
    pub(crate) fn is_for_pushed_response(&self) -> bool {
        matches!(self.inner, Err(PushError::Nested))
    }

    /// Reports this connection's push events to `observer` (the first observer of a
    /// connection stays; later calls do nothing).
    pub(crate) fn observe(&self, observer: Arc<dyn PushObserver>) {
        if let Some(book) = self.inner.as_ref().ok().and_then(|s| s.book()) {
            let _ = book.observer.set(observer);
        }
    }

    /// Whether pushes can be attempted at all (HTTP/2, push not known to be disabled).
    ///
    /// ```
    /// # use h2push::{PushError, Pusher};
    /// assert!(!Pusher::unavailable(PushError::Disabled).is_available());
    /// ```
    pub fn is_available(&self) -> bool {
        self.inner.as_ref().is_ok_and(|s| s.is_enabled())
    }

    /// Pushes `path` (e.g. `/app.js`, or an absolute URL of the same origin) with GET.
    ///
    /// ```
    /// # use h2push::{PushError, Pusher};
    /// # let pusher = Pusher::unavailable(PushError::Http1);
    /// match pusher.push("/app.js") {
    ///     Ok(()) => {}
    ///     Err(why) => eprintln!("not pushed: {why}"),
    /// }
    /// ```
    pub fn push(&self, path: &str) -> Result<(), PushError> {
        self.promise(path).send()
    }

    /// Starts a promise with extra header fields or another method.
    ///
    /// ```
    /// # use h2push::{PushError, Pusher};
    /// # let pusher = Pusher::unavailable(PushError::Http1);
    /// let _ = pusher
    ///     .promise("/app.js")
    ///     .header(http::header::ACCEPT_ENCODING, http::HeaderValue::from_static("br"))
    ///     .send();
    /// ```
    pub fn promise(&self, path: &str) -> PushBuilder<'_> {
        PushBuilder {
            pusher: self,
            path: path.to_owned(),
            method: Method::GET,
            headers: HeaderMap::new(),
        }
    }
}

/// The paths a lent [`Pusher`] pushed (see [`Pusher::logged`]).
#[derive(Default)]
pub(crate) struct PushLog(Mutex<Vec<PathAndQuery>>);

impl PushLog {
    /// The paths pushed so far, in order; the log is empty after.
    pub(crate) fn take(&self) -> Vec<PathAndQuery> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A push stream that logs the promises that went out.
struct Logged {
    inner: Arc<dyn PushStream>,
    log: Arc<PushLog>,
}

impl PushStream for Logged {
    fn origin(&self) -> (&Scheme, &Authority) {
        self.inner.origin()
    }
    fn push(&self, promise: Promise) -> Result<(), PushError> {
        let path = promise.path.clone();
        self.inner.push(promise)?;
        self.log
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(path);
        Ok(())
    }
    fn is_enabled(&self) -> bool {
        self.inner.is_enabled()
    }
    fn book(&self) -> Option<&Arc<PushBook>> {
        self.inner.book()
    }
}

impl Pusher {
    /// The same pusher, logging what it pushes: the hint policy lends it to the application,
    /// so that the application's own pushes count in the client's cache digest too.
    pub(crate) fn logged(&self) -> (Pusher, Arc<PushLog>) {
        let log = Arc::new(PushLog::default());
        let inner = self.inner.clone().map(|stream| {
            Arc::new(Logged {
                inner: stream,
                log: log.clone(),
            }) as Arc<dyn PushStream>
        });
        (Pusher { inner }, log)
    }
}

impl fmt::Debug for Pusher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Ok(_) => f.write_str("Pusher(available)"),
            Err(e) => write!(f, "Pusher(unavailable: {e})"),
        }
    }
}

/// A push being put together; see [`Pusher::promise`].
#[must_use = "a promise does nothing until .send()"]
pub struct PushBuilder<'a> {
    pusher: &'a Pusher,
    path: String,
    method: Method,
    headers: HeaderMap,
}

impl PushBuilder<'_> {
    /// The method of the promised request: GET (the default) or HEAD.
    ///
    /// ```
    /// # use h2push::{PushError, Pusher};
    /// # let pusher = Pusher::unavailable(PushError::Http1);
    /// let _ = pusher.promise("/big.bin").method(http::Method::HEAD).send();
    /// ```
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Adds a header field to the promised request.
    ///
    /// ```
    /// # use h2push::{PushError, Pusher};
    /// # let pusher = Pusher::unavailable(PushError::Http1);
    /// let _ = pusher
    ///     .promise("/font.woff2")
    ///     .header(http::header::ACCEPT, http::HeaderValue::from_static("font/woff2"))
    ///     .send();
    /// ```
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Checks the promise against RFC 9113 §8.4 and sends it.
    ///
    /// ```
    /// # use h2push::{PushError, Pusher};
    /// # let pusher = Pusher::unavailable(PushError::Http1);
    /// assert_eq!(pusher.promise("/a.css").send(), Err(PushError::Http1));
    /// ```
    pub fn send(self) -> Result<(), PushError> {
        let stream = self.pusher.inner.as_ref().map_err(Clone::clone)?;
        if self.method != Method::GET && self.method != Method::HEAD {
            return Err(PushError::UnsafeMethod(self.method));
        }
        let (scheme, authority) = stream.origin();
        let path = same_origin_path(&self.path, scheme, authority)?;
        stream.push(Promise {
            method: self.method,
            path,
            headers: self.headers,
        })
    }
}

/// The path of `target` if it is a local path or an absolute URL of the given origin.
fn same_origin_path(
    target: &str,
    scheme: &Scheme,
    authority: &Authority,
) -> Result<PathAndQuery, PushError> {
    let invalid = || PushError::InvalidPath(target.to_owned());
    if target.starts_with('/') {
        // "//host/x" is a scheme-relative URL naming another authority, not a path.
        if target.starts_with("//") {
            return Err(PushError::CrossOrigin(target.to_owned()));
        }
        return target.parse::<PathAndQuery>().map_err(|_| invalid());
    }
    let uri: Uri = target.parse().map_err(|_| invalid())?;
    match (uri.scheme(), uri.authority()) {
        (Some(s), Some(a))
            if s == scheme && a.as_str().eq_ignore_ascii_case(authority.as_str()) =>
        {
            Ok(uri
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/")))
        }
        (Some(_), Some(_)) => Err(PushError::CrossOrigin(target.to_owned())),
        _ => Err(invalid()),
    }
}

/// The per-connection push ledger ("push diary"): which paths were pushed or cancelled (the
/// last [`DIARY_SIZE`] of each), how many pushes are outstanding, and what the client allows.
///
/// The HTTP/2 driver consults it before every PUSH_PROMISE, so that one connection never
/// pushes a path twice and never holds more outstanding pushes than the client's
/// `SETTINGS_MAX_CONCURRENT_STREAMS` (above it, h2 ≥ 0.4.15 queues the extra pushed
/// responses and answers a client's reset of a queued one with GOAWAY).
pub(crate) struct PushBook {
    observer: OnceLock<Arc<dyn PushObserver>>,
    disabled: AtomicBool,
    limit: AtomicUsize,
    outstanding: AtomicUsize,
    /// Pushes whose response is fully queued but maybe not yet written: h2 still counts their
    /// streams as open until its next flush, so their slots are freed only after it.
    finished: AtomicUsize,
    pushed: Mutex<Diary>,
    cancelled: Mutex<Diary>,
}

impl fmt::Debug for PushBook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushBook")
            .field("disabled", &self.disabled)
            .field("limit", &self.limit)
            .field("outstanding", &self.outstanding)
            .finish_non_exhaustive()
    }
}

/// One outstanding push. Dropped when its response is fully queued; its slot in the
/// [`PushBook`] is then freed at the connection's next flush ([`PushBook::release_flushed`]).
pub(crate) struct PushSlot {
    book: Arc<PushBook>,
}

impl Drop for PushSlot {
    fn drop(&mut self) {
        self.book.finished.fetch_add(1, Ordering::AcqRel);
    }
}

impl PushBook {
    pub(crate) fn new() -> Self {
        PushBook {
            observer: OnceLock::new(),
            disabled: AtomicBool::new(false),
            limit: AtomicUsize::new(usize::MAX),
            outstanding: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            pushed: Mutex::new(Diary::default()),
            cancelled: Mutex::new(Diary::default()),
        }
    }

    /// Tells the connection's observer, if any, of `event`.
    pub(crate) fn notify(&self, event: PushEvent) {
        if let Some(o) = self.observer.get() {
            o.event(event);
        }
    }

    /// Records the client's current `SETTINGS_MAX_CONCURRENT_STREAMS`.
    pub(crate) fn set_limit(&self, limit: usize) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// Records that the client refused push for this connection.
    pub(crate) fn set_disabled(&self) {
        self.disabled.store(true, Ordering::Relaxed);
    }

    /// Whether the client is known to have disabled push.
    pub(crate) fn is_disabled(&self) -> bool {
        self.disabled.load(Ordering::Relaxed)
    }

    /// Reserves a slot for pushing `path`, or says why not. The path counts as pushed only
    /// once [`PushBook::commit`] is called, after the PUSH_PROMISE went out.
    pub(crate) fn reserve(self: &Arc<Self>, path: &PathAndQuery) -> Result<PushSlot, PushError> {
        if self.is_disabled() {
            return Err(PushError::Disabled);
        }
        if lock(&self.cancelled).contains(path) {
            return Err(PushError::Cancelled(path.to_string()));
        }
        if lock(&self.pushed).contains(path) {
            return Err(PushError::AlreadyPushed(path.to_string()));
        }
        let limit = self.limit.load(Ordering::Relaxed);
        let taken = self
            .outstanding
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            });
        match taken {
            Ok(_) => Ok(PushSlot { book: self.clone() }),
            Err(_) => Err(PushError::TooManyPushes { limit }),
        }
    }

    /// How many pushes have finished queuing so far; take this before a flush and hand it to
    /// [`PushBook::release_flushed`] after it, so only pushes the flush covered are freed.
    pub(crate) fn finished_before_flush(&self) -> usize {
        self.finished.load(Ordering::Acquire)
    }

    /// Frees the slots of `n` finished pushes (a value from
    /// [`PushBook::finished_before_flush`]) once the flush that wrote them is done.
    pub(crate) fn release_flushed(&self, n: usize) {
        if n > 0 {
            self.finished.fetch_sub(n, Ordering::AcqRel);
            self.outstanding.fetch_sub(n, Ordering::AcqRel);
        }
    }

    /// Marks `path` as pushed on this connection; false if another push of it won the race.
    pub(crate) fn commit(&self, path: &PathAndQuery) -> bool {
        lock(&self.pushed).insert(path.clone())
    }

    /// Marks `path` as cancelled by the client: it is not pushed again on this connection.
    pub(crate) fn cancelled(&self, path: &PathAndQuery) {
        lock(&self.cancelled).insert(path.clone());
    }
}

/// Entries a [`Diary`] keeps (Apache's `H2PushDiarySize` default).
pub(crate) const DIARY_SIZE: usize = 256;

/// A bounded set of paths: past [`DIARY_SIZE`] entries the oldest is forgotten, so a long-lived
/// connection's memory stays bounded (at worst a very old path is pushed once more).
#[derive(Debug, Default)]
pub(crate) struct Diary {
    set: HashSet<PathAndQuery>,
    order: VecDeque<PathAndQuery>,
}

impl Diary {
    fn contains(&self, path: &PathAndQuery) -> bool {
        self.set.contains(path)
    }

    /// Adds `path`; false if it was there already.
    fn insert(&mut self, path: PathAndQuery) -> bool {
        if !self.set.insert(path.clone()) {
            return false;
        }
        self.order.push_back(path);
        if self.order.len() > DIARY_SIZE {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked (plain sets).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> (Scheme, Authority) {
        (Scheme::HTTPS, Authority::from_static("example.com:8443"))
    }

    #[test]
    fn local_paths_pass() {
        let (s, a) = origin();
        assert_eq!(
            same_origin_path("/a.css?v=1", &s, &a).unwrap(),
            "/a.css?v=1"
        );
    }

    #[test]
    fn absolute_url_of_same_origin_passes_and_others_fail() {
        let (s, a) = origin();
        assert_eq!(
            same_origin_path("https://EXAMPLE.com:8443/x.js", &s, &a).unwrap(),
            "/x.js"
        );
        assert!(matches!(
            same_origin_path("https://other.com:8443/x.js", &s, &a),
            Err(PushError::CrossOrigin(_))
        ));
        assert!(matches!(
            same_origin_path("http://example.com:8443/x.js", &s, &a),
            Err(PushError::CrossOrigin(_))
        ));
        assert!(matches!(
            same_origin_path("//other.com/x.js", &s, &a),
            Err(PushError::CrossOrigin(_))
        ));
    }

    #[test]
    fn relative_and_garbage_paths_fail() {
        let (s, a) = origin();
        for bad in ["a.css", "", "/a b", "javascript:alert(1)"] {
            assert!(
                matches!(
                    same_origin_path(bad, &s, &a),
                    Err(PushError::InvalidPath(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn book_refuses_a_second_push_and_cancelled_paths() {
        let book = Arc::new(PushBook::new());
        let p = PathAndQuery::from_static("/a.css");
        let slot = book.reserve(&p).unwrap();
        assert!(book.commit(&p));
        drop(slot);
        assert_eq!(
            book.reserve(&p).err(),
            Some(PushError::AlreadyPushed("/a.css".into()))
        );
        let q = PathAndQuery::from_static("/b.css");
        book.cancelled(&q);
        assert_eq!(
            book.reserve(&q).err(),
            Some(PushError::Cancelled("/b.css".into()))
        );
    }

    #[test]
    fn book_holds_outstanding_pushes_to_the_limit() {
        let book = Arc::new(PushBook::new());
        book.set_limit(2);
        let a = book.reserve(&PathAndQuery::from_static("/a")).unwrap();
        let _b = book.reserve(&PathAndQuery::from_static("/b")).unwrap();
        assert_eq!(
            book.reserve(&PathAndQuery::from_static("/c")).err(),
            Some(PushError::TooManyPushes { limit: 2 })
        );
        drop(a);
        // Queued is not written: the slot stays taken until the flush after it.
        let done = book.finished_before_flush();
        assert_eq!(done, 1);
        assert!(book.reserve(&PathAndQuery::from_static("/c")).is_err());
        book.release_flushed(done);
        assert!(book.reserve(&PathAndQuery::from_static("/c")).is_ok());
    }

    #[test]
    fn unsafe_methods_are_refused_before_anything_is_sent() {
        struct Never(Scheme, Authority);
        impl PushStream for Never {
            fn origin(&self) -> (&Scheme, &Authority) {
                (&self.0, &self.1)
            }
            fn push(&self, _: Promise) -> Result<(), PushError> {
                panic!("must not be reached")
            }
        }
        let (s, a) = origin();
        let p = Pusher::new(Arc::new(Never(s, a)));
        assert_eq!(
            p.promise("/x").method(Method::POST).send(),
            Err(PushError::UnsafeMethod(Method::POST))
        );
    }

    #[test]
    fn the_diary_forgets_its_oldest_entry_past_its_size() {
        let mut diary = Diary::default();
        let path = |i: usize| format!("/r{i}").parse::<PathAndQuery>().unwrap();
        for i in 0..DIARY_SIZE {
            assert!(diary.insert(path(i)));
        }
        assert!(!diary.insert(path(0)), "already there");
        assert!(diary.insert(path(DIARY_SIZE)));
        assert!(!diary.contains(&path(0)), "the oldest is forgotten");
        assert!(diary.contains(&path(1)) && diary.contains(&path(DIARY_SIZE)));
        assert_eq!(diary.set.len(), DIARY_SIZE);
        assert_eq!(diary.order.len(), DIARY_SIZE);
    }

    #[test]
    fn disabled_book_refuses() {
        let book = Arc::new(PushBook::new());
        book.set_disabled();
        assert_eq!(
            book.reserve(&PathAndQuery::from_static("/a")).err(),
            Some(PushError::Disabled)
        );
    }
}
