//! The static file service.
//!
//! This module owns [`StaticFiles`], a `tower` service answering GET and HEAD requests with
//! files from a root directory: index files, MIME types, strong ETags and Last-Modified with
//! conditional requests, single byte ranges, precompressed `.br` / `.gz` siblings and an
//! in-memory cache of small files. It does not own connections, push, Early Hints or TLS: the
//! connection layers call it like any other service, and may use [`StaticFiles::lookup`] to
//! learn a path's ETag without making a request.
//!
//! # Decisions
//!
//! - **Methods**: GET and HEAD; anything else is 405 with `Allow: GET, HEAD`.
//! - **Paths**: `..` (raw or encoded), an encoded `/` or `\` inside a segment, a raw `\`,
//!   NUL and invalid UTF-8 are 400. Hidden names (a segment starting with `.`, except
//!   `.well-known`) are 404, whether requested or reached through a symlink. Symlinks are
//!   followed, but a file whose canonical path is outside the canonical root is 404.
//! - **Directories**: `dir/` serves `dir/index.html` (see [`StaticFiles::index_file`]); `dir`
//!   without the slash is a 301 to `dir/` (query kept); there are no listings (404).
//! - **Root**: canonicalised once, in [`StaticFiles::new`]. A deploy that swaps a `current`
//!   symlink to a new release directory needs a new `StaticFiles`.
//! - **Validators**: a strong ETag hashed from (device, inode, length, mtime in ns) — stable
//!   across restarts, distinct per precompressed variant — and `Last-Modified`.
//!   `If-None-Match` (`*`, lists, weak comparison) beats `If-Modified-Since`; `If-Match` and
//!   `If-Unmodified-Since` give 412. A 304 carries ETag, Last-Modified, Cache-Control, Vary.
//! - **Cache-Control** ([`CachePolicy`]): the first matching path-pattern rule; else, for a
//!   content-hashed name that is not HTML, `public, max-age=31536000, immutable` (browsers
//!   do not even revalidate); else `no-cache` (clients revalidate, which our ETags make a
//!   cheap 304). A name is content-hashed when a segment, or a `.`/`-`/`_`-separated part
//!   of one, of 8 or more letters and digits looks random — mixes classes (upper, lower,
//!   digit) the way hashes do and words do not: `index-D_6Ay_gG.js`, `main.3f2a9c1b.js`,
//!   `variables-8adf115d.css` yes; `bootstrap.min.js`, `Inter-Variable.woff2`,
//!   `sales-20240101.pdf` no ([`is_content_hashed`] has the exact rule). HTML is never
//!   taken for immutable: it is what a URL names, and it names the hashed files.
//! - **Memory cache**: files up to 256 KiB (each variant) are kept in memory with their
//!   headers, 64 MiB in all; when the cache is full, further files are served from disk
//!   (there is no eviction). An entry is checked with a `stat` (three with precompressed files
//!   on: `x`, `x.br`, `x.gz`) at most once per second, so an edited file is served fresh
//!   within about a second; a cache hit does no syscall and no await. Larger files are not
//!   cached: each request resolves and opens them, and they stream in 64 KiB chunks.
//! - **Precompressed files** (on by default): `x.br` / `x.gz` next to `x` are served when
//!   `Accept-Encoding` allows (highest q-value wins, br on ties, `q=0` refuses), with
//!   `Content-Encoding` and `Vary: accept-encoding`. `x` itself must exist. A request with
//!   `Range` always gets the identity file, so byte offsets mean what the client thinks.
//!   A file without a sibling the client accepts is compressed on the fly by
//!   `crate::compress`, in front of this service; this service never compresses.
//! - **Ranges**: one range per request (206, or 416 with `bytes */len`); a request for several
//!   ranges gets the whole file with 200. `If-Range` is honoured; HEAD ignores `Range`.
//! - **Errors**: permission denied is 403; other I/O errors are 500 and logged with `tracing`.

mod cache;
mod conditional;
pub(crate) mod encoding;
mod entry;
mod freshness;
mod future;
mod hashed;
mod mime;
mod path;
mod range;
mod response;
mod stream;

use std::convert::Infallible;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use http::request::Parts;
use http::{HeaderValue, Method, Request, Response, StatusCode};

pub use self::freshness::{CachePolicy, IMMUTABLE};
pub use self::future::ResponseFuture;
pub use self::hashed::is_content_hashed;

use self::cache::{Cache, Lookup};
use self::encoding::{Accepted, Encoding};
use self::entry::{Data, Entry, LoadOptions, Variant};
use self::path::{Miss, Reject};
use self::response::{Plan, Source};
use crate::Body;

/// Files up to this size are cached in memory by default (256 KiB).
pub const DEFAULT_MAX_CACHED_FILE_SIZE: u64 = 256 * 1024;
/// The default bound on the whole in-memory cache (64 MiB).
pub const DEFAULT_MAX_CACHE_SIZE: u64 = 64 * 1024 * 1024;
/// How long a cached file is trusted before it is checked against the disk again by default.
pub const DEFAULT_REVALIDATE_AFTER: Duration = Duration::from_secs(1);

/// Why a [`StaticFiles`] could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FilesError {
    /// The root could not be resolved (it does not exist, or cannot be reached).
    #[error("static file root {}: {source}", path.display())]
    Root {
        /// The root as given.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// The root exists but is not a directory.
    #[error("static file root {} is not a directory", path.display())]
    NotADirectory {
        /// The root as given.
        path: PathBuf,
    },
}

/// A `tower` service serving the files under a root directory.
///
/// Cloning is cheap: clones share the configuration and the file cache. Builder methods
/// ([`cache_control`](Self::cache_control) and the like) start a fresh cache, so call them
/// before cloning the service out to connections.
///
/// ```
/// use h2push::StaticFiles;
/// use http_body_util::BodyExt;
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), h2push::BoxError> {
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("index.html"), "<h1>hi</h1>")?;
///
/// let files = StaticFiles::new(dir.path())?
///     .cache_control(Some(http::HeaderValue::from_static("max-age=60")));
/// let res = files.oneshot(http::Request::get("/").body(())?).await?;
/// assert_eq!(res.status(), 200);
/// assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
/// assert_eq!(res.into_body().collect().await?.to_bytes(), "<h1>hi</h1>");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct StaticFiles {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    config: Config,
    cache: Cache,
}

#[derive(Debug, Clone)]
struct Config {
    cache: CachePolicy,
    precompressed: bool,
    index_file: Option<String>,
    max_cached_file_size: u64,
    max_cache_size: u64,
    revalidate_after: Duration,
}

/// What a request path maps to, as returned by [`StaticFiles::lookup`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FileMeta {
    /// The canonical path of the file on disk.
    pub path: PathBuf,
    /// Length of the (identity) file in bytes.
    pub len: u64,
    /// The strong ETag a GET without `Accept-Encoding` would carry, quotes included.
    pub etag: HeaderValue,
    /// The Content-Type it is served with.
    pub content_type: HeaderValue,
    /// The file's modification time, if the platform reports one.
    pub last_modified: Option<SystemTime>,
    /// The `Cache-Control` it is served with, if any.
    pub cache_control: Option<HeaderValue>,
}

impl StaticFiles {
    /// Serves the files under `root`, which is canonicalised now.
    ///
    /// Fails with an error naming the path if `root` does not exist or is not a directory.
    ///
    /// ```
    /// let err = h2push::StaticFiles::new("/no/such/dir").unwrap_err();
    /// assert!(err.to_string().contains("/no/such/dir"));
    /// ```
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, FilesError> {
        let given = root.into();
        let root = std::fs::canonicalize(&given).map_err(|source| FilesError::Root {
            path: given.clone(),
            source,
        })?;
        let meta = std::fs::metadata(&root).map_err(|source| FilesError::Root {
            path: given.clone(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(FilesError::NotADirectory { path: given });
        }
        let config = Config {
            cache: CachePolicy::new(),
            precompressed: true,
            index_file: Some("index.html".to_owned()),
            max_cached_file_size: DEFAULT_MAX_CACHED_FILE_SIZE,
            max_cache_size: DEFAULT_MAX_CACHE_SIZE,
            revalidate_after: DEFAULT_REVALIDATE_AFTER,
        };
        Ok(Self::build(root, config))
    }

    fn build(root: PathBuf, config: Config) -> Self {
        let cache = Cache::new(config.max_cache_size, config.revalidate_after);
        StaticFiles {
            inner: Arc::new(Inner {
                root,
                config,
                cache,
            }),
        }
    }

    fn reconfigure(self, change: impl FnOnce(&mut Config)) -> Self {
        let mut config = self.inner.config.clone();
        change(&mut config);
        Self::build(self.inner.root.clone(), config)
    }

    /// The `Cache-Control` sent with files and 304s that no rule matches and whose names are
    /// not content-hashed (HTML included); `None` sends none. Shorthand for
    /// [`CachePolicy::default_value`] on the current policy.
    ///
    /// Default: `no-cache` — browsers may store files but must revalidate before use, which
    /// costs a round trip answered by a cheap 304, and never shows a stale file after a
    /// deploy. Content-hashed names get [`IMMUTABLE`] regardless; [`Self::cache_policy`]
    /// changes that.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let files = h2push::StaticFiles::new(dir.path())?
    ///     .cache_control(Some(http::HeaderValue::from_static("public, max-age=3600")));
    /// # Ok::<(), h2push::files::FilesError>(())
    /// ```
    pub fn cache_control(self, value: Option<HeaderValue>) -> Self {
        self.reconfigure(|c| c.cache = c.cache.clone().default_value(value))
    }

    /// Replaces the whole `Cache-Control` policy: rules by path pattern, the value for
    /// content-hashed names and the default.
    ///
    /// ```
    /// use h2push::files::CachePolicy;
    /// use http::HeaderValue;
    /// # let dir = tempfile::tempdir().unwrap();
    /// let files = h2push::StaticFiles::new(dir.path())?.cache_policy(
    ///     CachePolicy::new().rule("/assets/*", Some(HeaderValue::from_static("max-age=600"))),
    /// );
    /// # Ok::<(), h2push::files::FilesError>(())
    /// ```
    pub fn cache_policy(self, policy: CachePolicy) -> Self {
        self.reconfigure(|c| c.cache = policy)
    }

    /// Whether to serve `x.br` / `x.gz` siblings of `x` to clients that accept them (default
    /// on). Off, each request costs one `stat` less per revalidation and never varies.
    pub fn precompressed(self, on: bool) -> Self {
        self.reconfigure(|c| c.precompressed = on)
    }

    /// The file served for a directory requested with a trailing slash (default
    /// `index.html`). A name that is not a single plain file name (empty, `.`, `..`, or
    /// containing a slash or backslash) disables index files: directories are then 404.
    pub fn index_file(self, name: &str) -> Self {
        let valid = !name.is_empty()
            && name != "."
            && name != ".."
            && !name.contains(['/', '\\', '\0'])
            && Path::new(name).file_name() == Some(name.as_ref());
        if !valid {
            tracing::warn!(name, "invalid index file name; directories will be 404");
        }
        let name = valid.then(|| name.to_owned());
        self.reconfigure(|c| c.index_file = name)
    }

    /// Files up to `bytes` long are cached in memory (default
    /// [`DEFAULT_MAX_CACHED_FILE_SIZE`]); larger ones are streamed from disk. 0 disables the
    /// cache for all but empty files.
    pub fn max_cached_file_size(self, bytes: u64) -> Self {
        self.reconfigure(|c| c.max_cached_file_size = bytes)
    }

    /// Bound on the memory the file cache may use (default [`DEFAULT_MAX_CACHE_SIZE`]).
    /// Files that no longer fit are served from disk.
    pub fn max_cache_size(self, bytes: u64) -> Self {
        self.reconfigure(|c| c.max_cache_size = bytes)
    }

    /// How long a cached file is served without checking the disk (default one second).
    pub fn revalidate_after(self, period: Duration) -> Self {
        self.reconfigure(|c| c.revalidate_after = period)
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// What the request path `path` (as in a request URI: percent-encoded, starting with
    /// `/`; a query is ignored) would be served from, with its ETag; `None` if the request
    /// would not get a 200. Uses and fills the same cache as requests.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("app.js"), "console.log(1)")?;
    /// let files = h2push::StaticFiles::new(dir.path())?;
    /// let meta = files.lookup("/app.js").await.expect("exists");
    /// assert_eq!(meta.len, 14);
    /// assert!(meta.etag.to_str()?.starts_with('"'));
    /// assert!(files.lookup("/missing.js").await.is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn lookup(&self, path: &str) -> Option<FileMeta> {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        let key = path::parse(path).ok()?;
        let stale = match self.inner.cache.get(&key) {
            Lookup::Fresh(e) => return Some(file_meta(&e)),
            Lookup::Stale(e) => Some(e),
            Lookup::Miss => None,
        };
        match Arc::clone(&self.inner).resolve(key.into(), stale).await {
            Ok(Resolved::Cached(e)) => Some(file_meta(&e)),
            Ok(Resolved::Owned(e)) => Some(file_meta(&e)),
            Err(_) => None,
        }
    }

    /// Answers one request; the synchronous part of `Service::call`.
    fn serve(&self, parts: Parts) -> ResponseFuture {
        let head = parts.method == Method::HEAD;
        if parts.method != Method::GET && !head {
            return ResponseFuture::ready(response::method_not_allowed());
        }
        let key = match path::parse(parts.uri.path()) {
            Ok(key) => key,
            Err(Reject::BadRequest) => {
                return ResponseFuture::ready(response::status(StatusCode::BAD_REQUEST, head))
            }
            Err(Reject::NotFound) => {
                return ResponseFuture::ready(response::status(StatusCode::NOT_FOUND, head))
            }
        };
        // The hot path: a fresh cache hit is answered without awaiting anything.
        let stale = match self.inner.cache.get(&key) {
            Lookup::Fresh(entry) => {
                return ResponseFuture::ready(self.inner.cached(&parts, &entry))
            }
            Lookup::Stale(entry) => Some(entry),
            Lookup::Miss => None,
        };
        let key: Box<str> = key.into();
        let inner = Arc::clone(&self.inner);
        ResponseFuture::boxed(async move {
            match Arc::clone(&inner).resolve(key.clone(), stale).await {
                Ok(Resolved::Cached(entry)) => inner.cached(&parts, &entry),
                Ok(Resolved::Owned(entry)) => inner.owned(&parts, entry),
                Err(miss) => inner.miss(&parts, &key, miss),
            }
        })
    }
}

/// An entry ready to serve: shared from the cache, or loaded for this request only.
enum Resolved {
    Cached(Arc<Entry>),
    Owned(Box<Entry>),
}

/// What the blocking half of [`Inner::resolve`] found.
enum Checked {
    /// The stale entry still matches the disk.
    Valid(Arc<Entry>),
    /// A fresh load.
    Loaded(Result<Box<Entry>, Miss>),
}

impl Inner {
    fn load_options(&self) -> LoadOptions<'_> {
        LoadOptions {
            index: self.config.index_file.as_deref(),
            precompressed: self.config.precompressed,
            max_in_memory: self.config.max_cached_file_size,
            cache: &self.config.cache,
        }
    }

    /// Checks a stale entry or loads the key from disk (on the blocking pool), updating the
    /// cache.
    async fn resolve(
        self: Arc<Self>,
        key: Box<str>,
        stale: Option<Arc<Entry>>,
    ) -> Result<Resolved, Miss> {
        let this = Arc::clone(&self);
        let job_key = key.clone();
        let job = tokio::task::spawn_blocking(move || {
            if let Some(old) = stale {
                if old.still_valid(this.config.precompressed) {
                    return Checked::Valid(old);
                }
                this.cache.remove(&job_key, Some(&old));
            }
            Checked::Loaded(entry::load(&this.root, &job_key, this.load_options()))
        });
        match job.await {
            Ok(Checked::Valid(entry)) => Ok(Resolved::Cached(entry)),
            Ok(Checked::Loaded(Ok(entry))) => Ok(match self.cache.insert(&key, entry) {
                Ok(shared) => Resolved::Cached(shared),
                Err(entry) => Resolved::Owned(entry),
            }),
            Ok(Checked::Loaded(Err(miss))) => Err(miss),
            Err(join) => Err(Miss::Io(io::Error::other(join))),
        }
    }

    /// Which coding of `entry` to send.
    fn choose(&self, parts: &Parts, entry: &Entry) -> Encoding {
        if !self.config.precompressed || !entry.has_siblings() || response::wants_range(parts) {
            return Encoding::Identity;
        }
        Accepted::from_headers(&parts.headers).choose(entry.br.is_some(), entry.gzip.is_some())
    }

    fn plan<'a>(&'a self, entry: &'a Entry, meta: &'a entry::Meta, enc: Encoding) -> Plan<'a> {
        Plan {
            meta,
            content_type: &entry.content_type,
            encoding: enc,
            vary: self.config.precompressed && entry.has_siblings(),
            cache_control: entry.cache_control.as_ref(),
        }
    }

    /// Serves a cached entry (always in memory).
    fn cached(&self, parts: &Parts, entry: &Entry) -> Response<Body> {
        let enc = self.choose(parts, entry);
        let variant = entry.variant(enc);
        let Data::Mem(bytes) = &variant.data else {
            tracing::error!(path = %entry.fs_path.display(), "bug: a streaming entry was cached");
            return response::status(StatusCode::INTERNAL_SERVER_ERROR, false);
        };
        let plan = self.plan(entry, &variant.meta, enc);
        response::file(parts, plan, Source::Mem(bytes.clone()))
    }

    /// Serves an entry loaded for this request only (large, or the cache is full).
    fn owned(&self, parts: &Parts, entry: Box<Entry>) -> Response<Body> {
        let enc = self.choose(parts, &entry);
        let vary = self.config.precompressed && entry.has_siblings();
        let content_type = entry.content_type.clone();
        let cache_control = entry.cache_control.clone();
        let Variant { meta, data } = entry.into_variant(enc);
        let plan = Plan {
            meta: &meta,
            content_type: &content_type,
            encoding: enc,
            vary,
            cache_control: cache_control.as_ref(),
        };
        response::file(parts, plan, source_of(data))
    }

    /// The response when a key maps to no file.
    fn miss(&self, parts: &Parts, key: &str, miss: Miss) -> Response<Body> {
        let head = parts.method == Method::HEAD;
        match miss {
            Miss::NotFound => response::status(StatusCode::NOT_FOUND, head),
            Miss::Forbidden => response::status(StatusCode::FORBIDDEN, head),
            Miss::Redirect => {
                response::redirect(&response::redirect_location(key, parts.uri.query()))
            }
            Miss::Io(e) => {
                tracing::error!(root = %self.root.display(), path = %parts.uri.path(), error = %e, "static file I/O error");
                response::status(StatusCode::INTERNAL_SERVER_ERROR, head)
            }
        }
    }
}

fn source_of(data: Data) -> Source {
    match data {
        Data::Mem(b) => Source::Mem(b),
        Data::File(f) => Source::File(f),
    }
}

fn file_meta(entry: &Entry) -> FileMeta {
    let meta = &entry.identity.meta;
    FileMeta {
        path: entry.canon.clone(),
        len: meta.len,
        etag: meta.etag.clone(),
        content_type: entry.content_type.clone(),
        last_modified: meta.modified,
        cache_control: entry.cache_control.clone(),
    }
}

impl fmt::Debug for StaticFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticFiles")
            .field("root", &self.inner.root)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl<B: Send + 'static> tower_service::Service<Request<B>> for StaticFiles {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> ResponseFuture {
        // The request body is never read: GET and HEAD have none worth reading.
        let (parts, _body) = req.into_parts();
        self.serve(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_rejects_missing_and_non_directories() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = StaticFiles::new(&missing).unwrap_err();
        assert!(matches!(err, FilesError::Root { .. }));
        assert!(err.to_string().contains(&*missing.to_string_lossy()));
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let err = StaticFiles::new(&file).unwrap_err();
        assert!(matches!(err, FilesError::NotADirectory { .. }));
        assert!(err.to_string().contains("not a directory"));
        let ok = StaticFiles::new(dir.path()).unwrap();
        assert_eq!(ok.root(), std::fs::canonicalize(dir.path()).unwrap());
    }

    #[test]
    fn io_errors_are_500() {
        let dir = tempfile::tempdir().unwrap();
        let files = StaticFiles::new(dir.path()).unwrap();
        let (parts, ()) = Request::get("/x").body(()).unwrap().into_parts();
        let res = files
            .inner
            .miss(&parts, "x", Miss::Io(io::Error::other("disk on fire")));
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let res = files.inner.miss(&parts, "x", Miss::Forbidden);
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn index_file_validation() {
        let dir = tempfile::tempdir().unwrap();
        let files = StaticFiles::new(dir.path()).unwrap();
        let files = files.index_file("../x");
        assert!(files.inner.config.index_file.is_none());
        let files = files.index_file("default.htm");
        assert_eq!(
            files.inner.config.index_file.as_deref(),
            Some("default.htm")
        );
    }
}
