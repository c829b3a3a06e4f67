//! Request path → file path, and the traversal defence.
//!
//! This module owns two steps. [`parse`] turns the request's URI path into a normalised,
//! percent-decoded *key* (`"css/site.css"`, `"docs/"`, `""` for the root) or rejects it: `..`
//! segments (raw or encoded), encoded slashes, backslashes (raw or encoded), NUL and invalid
//! UTF-8 are 400; hidden segments (a leading `.`, except `.well-known`) are 404. The key is
//! what the cache is indexed by. [`open`] then maps a key to a file under the root on disk:
//! it canonicalises the path (resolving symlinks), checks that the result is still inside the
//! canonical root and not hidden, serves the index file for directories and opens the file.
//! Reading the file and building headers is left to `entry.rs`.

use std::borrow::Cow;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io;
use std::path::{Component, Path, PathBuf};

use percent_encoding::percent_decode_str;

/// Why a request path cannot be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reject {
    /// The path is malformed or an attack: 400.
    BadRequest,
    /// The path names something that is never served (a hidden file): 404.
    NotFound,
}

/// The one hidden name that is served: RFC 8615 well-known URIs.
const WELL_KNOWN: &str = ".well-known";

/// Normalises a request's URI path into a cache key, or rejects it.
///
/// The key has no leading slash, no empty, `.` or `..` segments, and ends with `/` when the
/// request did (so `"docs"` and `"docs/"` are different keys: the first redirects). A path
/// that needs no decoding or normalising is borrowed, so the hot path does not allocate.
pub(crate) fn parse(raw: &str) -> Result<Cow<'_, str>, Reject> {
    let rest = raw.strip_prefix('/').ok_or(Reject::BadRequest)?;
    if is_plain(rest) {
        return Ok(Cow::Borrowed(rest));
    }
    let mut out = String::with_capacity(rest.len());
    for raw_seg in rest.split('/') {
        if raw_seg.contains('\\') {
            return Err(Reject::BadRequest);
        }
        let bytes: Cow<'_, [u8]> = percent_decode_str(raw_seg).into();
        if bytes.iter().any(|&b| b == b'/' || b == b'\\' || b == 0) {
            return Err(Reject::BadRequest);
        }
        let seg = std::str::from_utf8(&bytes).map_err(|_| Reject::BadRequest)?;
        match seg {
            "" | "." => continue,
            ".." => return Err(Reject::BadRequest),
            _ => check_segment(seg)?,
        }
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(seg);
    }
    if rest.ends_with('/') && !out.is_empty() {
        out.push('/');
    }
    Ok(Cow::Owned(out))
}

/// True if `rest` is already a valid key: nothing to decode, nothing to normalise.
fn is_plain(rest: &str) -> bool {
    if rest.contains(['%', '\\']) {
        return false;
    }
    let mut segs = rest.split('/').peekable();
    while let Some(seg) = segs.next() {
        let last = segs.peek().is_none();
        if seg.is_empty() {
            // Only the trailing slash (or the root itself) may leave an empty segment.
            if !last {
                return false;
            }
        } else if check_segment(seg).is_err() {
            return false;
        }
    }
    true
}

/// Rejects a decoded, non-empty segment that is not `..`, `.`: hidden names and anything the
/// platform would read as more than one plain name (a Windows drive prefix, say).
fn check_segment(seg: &str) -> Result<(), Reject> {
    if seg.starts_with('.') {
        if seg == ".." {
            return Err(Reject::BadRequest);
        }
        if seg != WELL_KNOWN {
            return Err(Reject::NotFound);
        }
    }
    if !cfg!(unix) {
        let mut c = Path::new(seg).components();
        match (c.next(), c.next()) {
            (Some(Component::Normal(n)), None) if n == seg => {}
            _ => return Err(Reject::BadRequest),
        }
    }
    Ok(())
}

/// True if a key names a directory (the root, or a path ending with `/`).
pub(crate) fn is_dir_key(key: &str) -> bool {
    key.is_empty() || key.ends_with('/')
}

/// `root` joined with the key's segments: the path as requested, before resolving symlinks.
pub(crate) fn join(root: &Path, key: &str) -> PathBuf {
    let mut p = root.to_path_buf();
    for seg in key.split('/').filter(|s| !s.is_empty()) {
        p.push(seg);
    }
    p
}

/// `path` with `suffix` appended to its file name (`a.js` → `a.js.br`).
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = OsString::from(path.as_os_str());
    s.push(suffix);
    PathBuf::from(s)
}

/// Why a key maps to no servable file.
#[derive(Debug)]
pub(crate) enum Miss {
    /// Nothing (servable) there: 404.
    NotFound,
    /// The file exists but may not be read: 403.
    Forbidden,
    /// A directory requested without the trailing slash: redirect to `key/`.
    Redirect,
    /// Anything else: 500.
    Io(io::Error),
}

impl From<io::Error> for Miss {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::InvalidInput => Miss::NotFound,
            io::ErrorKind::PermissionDenied => Miss::Forbidden,
            _ if is_not_found_like(&e) => Miss::NotFound,
            _ => Miss::Io(e),
        }
    }
}

/// ENOTDIR (a file used as a directory), ELOOP and ENAMETOOLONG are the client's doing: 404.
fn is_not_found_like(e: &io::Error) -> bool {
    #[cfg(target_os = "linux")]
    const CODES: &[i32] = &[20, 40, 36];
    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
    const CODES: &[i32] = &[20, 62, 63];
    #[cfg(not(any(
        target_os = "linux",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    )))]
    const CODES: &[i32] = &[];
    e.raw_os_error().is_some_and(|c| CODES.contains(&c))
}

/// Canonicalises `path` and checks that the result is inside `root` (itself canonical) and
/// has no hidden component below it. This is what makes symlinks out of the root harmless.
pub(crate) fn confine(root: &Path, path: &Path) -> Result<PathBuf, Miss> {
    let canon = std::fs::canonicalize(path)?;
    let Ok(below) = canon.strip_prefix(root) else {
        tracing::debug!(path = %path.display(), target = %canon.display(), "refusing a path that resolves outside the root");
        return Err(Miss::NotFound);
    };
    for c in below.components() {
        match c {
            Component::Normal(name) => {
                let name = name.as_encoded_bytes();
                if name.first() == Some(&b'.') && name != WELL_KNOWN.as_bytes() {
                    return Err(Miss::NotFound);
                }
            }
            _ => return Err(Miss::NotFound),
        }
    }
    Ok(canon)
}

/// A regular file found for a key, open for reading.
#[derive(Debug)]
pub(crate) struct Opened {
    /// The path as requested (root + key [+ index file]); symlinks not resolved. Revalidation
    /// stats this path, and siblings (`.br`, `.gz`) are looked up next to it.
    pub(crate) fs_path: PathBuf,
    /// The canonical path of the file.
    pub(crate) canon: PathBuf,
    /// The open file.
    pub(crate) file: File,
    /// `fstat` of the open file.
    pub(crate) meta: Metadata,
}

/// Finds and opens the regular file for `key` under `root`. Blocking.
///
/// Directories give their index file when the key ends with `/` (and [`Miss::Redirect`]
/// otherwise); without an index file (`index` is `None` or the file is missing) they are 404,
/// as is anything that is not a regular file (fifos, devices, sockets).
pub(crate) fn open(root: &Path, key: &str, index: Option<&str>) -> Result<Opened, Miss> {
    let mut fs_path = join(root, key);
    let mut canon = confine(root, &fs_path)?;
    let mut meta = std::fs::metadata(&canon)?;
    if meta.is_dir() {
        if !is_dir_key(key) {
            return Err(Miss::Redirect);
        }
        fs_path.push(index.ok_or(Miss::NotFound)?);
        canon = confine(root, &fs_path)?;
        meta = std::fs::metadata(&canon)?;
    } else if is_dir_key(key) {
        // `file.txt/`: nginx and Apache say 404 too.
        return Err(Miss::NotFound);
    }
    if !meta.is_file() {
        return Err(Miss::NotFound);
    }
    let file = File::open(&canon)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(Miss::NotFound);
    }
    Ok(Opened {
        fs_path,
        canon,
        file,
        meta,
    })
}

/// Opens the sibling `fs_path + suffix` if it exists, is a regular file and stays confined to
/// `root`. Any problem just means "no such variant". Blocking.
pub(crate) fn open_sibling(root: &Path, fs_path: &Path, suffix: &str) -> Option<(File, Metadata)> {
    let path = with_suffix(fs_path, suffix);
    let canon = confine(root, &path).ok()?;
    let file = File::open(canon).ok()?;
    let meta = file.metadata().ok()?;
    meta.is_file().then_some((file, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> Result<String, Reject> {
        parse(raw).map(Cow::into_owned)
    }

    #[test]
    fn plain_paths_are_borrowed() {
        assert!(matches!(parse("/a/b.html"), Ok(Cow::Borrowed("a/b.html"))));
        assert!(matches!(parse("/docs/"), Ok(Cow::Borrowed("docs/"))));
        assert!(matches!(parse("/"), Ok(Cow::Borrowed(""))));
        assert!(matches!(
            parse("/.well-known/x"),
            Ok(Cow::Borrowed(".well-known/x"))
        ));
    }

    #[test]
    fn normalises_empty_and_dot_segments() {
        assert_eq!(key("//a///b").unwrap(), "a/b");
        assert_eq!(key("/./a/./b/").unwrap(), "a/b/");
        assert_eq!(key("//").unwrap(), "");
        assert_eq!(key("/docs/.").unwrap(), "docs");
        assert_eq!(key("/%61%20b").unwrap(), "a b");
        assert_eq!(key("/caf%C3%A9").unwrap(), "café");
    }

    #[test]
    fn rejects_traversal_and_bad_bytes() {
        for raw in [
            "/..",
            "/../x",
            "/a/../../x",
            "/%2e%2e/x",
            "/%2E%2e/x",
            "/a/%2e%2E",
            "/a%2fb",
            "/a%2F..%2Fb",
            "/a\\b",
            "/a%5cb",
            "/a%5C..",
            "/a%00b",
            "/%ff",
            "/%c3%28",
            "relative",
            "",
            "*",
        ] {
            assert_eq!(key(raw), Err(Reject::BadRequest), "{raw}");
        }
    }

    #[test]
    fn hides_dotfiles() {
        for raw in ["/.git/config", "/.env", "/a/.htaccess", "/%2egit/HEAD"] {
            assert_eq!(key(raw), Err(Reject::NotFound), "{raw}");
        }
    }

    #[test]
    fn dir_keys() {
        assert!(is_dir_key(""));
        assert!(is_dir_key("docs/"));
        assert!(!is_dir_key("docs"));
        assert_eq!(join(Path::new("/r"), "a/b/"), Path::new("/r/a/b"));
        assert_eq!(
            with_suffix(Path::new("/r/a.js"), ".br"),
            Path::new("/r/a.js.br")
        );
    }

    #[test]
    fn io_errors_map_to_statuses() {
        use io::ErrorKind::*;
        assert!(matches!(
            Miss::from(io::Error::from(NotFound)),
            Miss::NotFound
        ));
        assert!(matches!(
            Miss::from(io::Error::from(PermissionDenied)),
            Miss::Forbidden
        ));
        #[cfg(target_os = "linux")]
        for code in [20, 36, 40] {
            assert!(matches!(
                Miss::from(io::Error::from_raw_os_error(code)),
                Miss::NotFound
            ));
        }
        assert!(matches!(
            Miss::from(io::Error::other("disk on fire")),
            Miss::Io(_)
        ));
    }

    #[test]
    fn confine_refuses_symlinks_out_of_root() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(outer.path().join("secret"), "s").unwrap();
        std::fs::write(root.join("ok"), "o").unwrap();
        let root = std::fs::canonicalize(&root).unwrap();
        assert!(confine(&root, &root.join("ok")).is_ok());
        assert!(matches!(
            confine(&root, &root.join("missing")),
            Err(Miss::NotFound)
        ));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outer.path().join("secret"), root.join("out")).unwrap();
            std::os::unix::fs::symlink(root.join("ok"), root.join("in")).unwrap();
            assert!(matches!(
                confine(&root, &root.join("out")),
                Err(Miss::NotFound)
            ));
            assert_eq!(confine(&root, &root.join("in")).unwrap(), root.join("ok"));
        }
    }
}
