//! Scans of static files, cached per file version.
//!
//! This module owns the one cache the HTML and CSS scans share: the result of reading a file
//! once, keyed by the path it is served at and valid while its ETag stays the same, so an
//! edited file is scanned again and an unchanged one never is. A file is read up to a limit
//! (what lies past it is not seen); one that cannot be read scans as empty. Bounded: a full
//! cache forgets an arbitrary entry. What a scan finds is the scanner's business.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use http::HeaderValue;
use tokio::io::AsyncReadExt as _;

/// Files remembered at most.
const MAX_FILES: usize = 1024;

/// Scan results of type `T`, per served path and file version.
#[derive(Debug)]
pub(crate) struct ScanCache<T> {
    /// Bytes of a file read at most.
    max_read: u64,
    files: Mutex<HashMap<String, (HeaderValue, Arc<T>)>>,
}

impl<T> ScanCache<T> {
    pub(crate) fn new(max_read: u64) -> Self {
        ScanCache {
            max_read,
            files: Mutex::default(),
        }
    }

    /// The scan of the file at `fs_path`, served at `path` with `etag`: from the cache, or
    /// read and `scan`ned now (a file that cannot be read is scanned as empty text).
    pub(crate) async fn get(
        &self,
        path: &str,
        fs_path: &Path,
        etag: &HeaderValue,
        scan: impl FnOnce(&str) -> T,
    ) -> Arc<T> {
        if let Some((tag, found)) = lock(&self.files).get(path) {
            if tag == etag {
                return found.clone();
            }
        }
        let text = read_prefix(fs_path, self.max_read)
            .await
            .unwrap_or_else(|e| {
                tracing::debug!(path = %fs_path.display(), "cannot read a file to scan: {e}");
                String::new()
            });
        let found = Arc::new(scan(&text));
        let mut files = lock(&self.files);
        if files.len() >= MAX_FILES && !files.contains_key(path) {
            if let Some(victim) = files.keys().next().cloned() {
                files.remove(&victim);
            }
        }
        files.insert(path.to_owned(), (etag.clone(), found.clone()));
        found
    }
}

async fn read_prefix(path: &Path, max: u64) -> std::io::Result<String> {
    let file = tokio::fs::File::open(path).await?;
    let mut buf = Vec::new();
    file.take(max).read_to_end(&mut buf).await?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_new_version_only_is_scanned_again() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("page.html");
        std::fs::write(&f, "one").unwrap();
        let cache = ScanCache::new(1024);
        let v1 = HeaderValue::from_static("\"1\"");
        let v2 = HeaderValue::from_static("\"2\"");
        let upper = |t: &str| t.to_uppercase();
        assert_eq!(*cache.get("/", &f, &v1, upper).await, "ONE");
        std::fs::write(&f, "two").unwrap();
        assert_eq!(
            *cache.get("/", &f, &v1, upper).await,
            "ONE",
            "same version: cached"
        );
        assert_eq!(*cache.get("/", &f, &v2, upper).await, "TWO");
        let missing = dir.path().join("gone.html");
        assert_eq!(*cache.get("/gone", &missing, &v1, upper).await, "");
        let short = ScanCache::new(2);
        assert_eq!(
            *short.get("/", &f, &v1, upper).await,
            "TW",
            "read up to the limit"
        );
    }
}
