//! A file loaded from disk, with its response headers precomputed.
//!
//! This module owns what is known about one servable file: its variants (identity and the
//! precompressed `.br` / `.gz` siblings), each with its bytes (small files) or open handle
//! (large ones) and its header values — Content-Type, ETag, Last-Modified, Content-Length —
//! built once. It also owns the ETag recipe and the one-`stat`-per-variant revalidation.
//! Finding the file is `path.rs`'s job; keeping entries around is `cache.rs`'s.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::HeaderValue;

use super::conditional::unix_secs;
use super::encoding::Encoding;
use super::freshness::CachePolicy;
use super::path::{self, Miss};

/// What identifies a version of a file on disk: if any of this changes, the file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_nanos: i128,
}

impl Stamp {
    pub(crate) fn of(meta: &Metadata) -> Self {
        #[cfg(unix)]
        let (dev, ino) = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        };
        #[cfg(not(unix))]
        let (dev, ino) = (0, 0);
        let mtime_nanos = match meta.modified().map(|t| t.duration_since(UNIX_EPOCH)) {
            Ok(Ok(d)) => d.as_nanos() as i128,
            Ok(Err(before)) => -(before.duration().as_nanos() as i128),
            Err(_) => 0,
        };
        Stamp {
            dev,
            ino,
            len: meta.len(),
            mtime_nanos,
        }
    }

    /// The strong ETag for this version: `"<len hex>-<hash hex>[-br|-gz]"`.
    ///
    /// The hash (FNV-1a, stable across runs and builds) covers device, inode, length and the
    /// modification time in nanoseconds, so the inode number itself is not disclosed. The
    /// suffix keeps a compressed variant's tag distinct from the identity one's.
    fn etag(&self, encoding: Encoding) -> HeaderValue {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let bytes = [
            &self.dev.to_le_bytes()[..],
            &self.ino.to_le_bytes()[..],
            &self.len.to_le_bytes()[..],
            &self.mtime_nanos.to_le_bytes()[..],
        ];
        for b in bytes.iter().flat_map(|s| s.iter()) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let suffix = match encoding {
            Encoding::Identity => "",
            Encoding::Br => "-br",
            Encoding::Gzip => "-gz",
            Encoding::Zstd => "-zst",
        };
        let tag = format!("\"{:x}-{h:016x}{suffix}\"", self.len);
        // Only hex digits, dashes and quotes: always a valid header value.
        HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
    }
}

/// The header values and validators of one variant.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub(crate) stamp: Stamp,
    /// Length of the body actually held or to be streamed.
    pub(crate) len: u64,
    pub(crate) etag: HeaderValue,
    pub(crate) content_length: HeaderValue,
    pub(crate) last_modified: Option<HeaderValue>,
    /// Exact modification time.
    pub(crate) modified: Option<SystemTime>,
    /// Modification time in whole seconds, as Last-Modified states it.
    pub(crate) modified_secs: Option<u64>,
}

impl Meta {
    fn new(meta: &Metadata, len: u64, encoding: Encoding) -> Self {
        let stamp = Stamp::of(meta);
        let modified = meta.modified().ok();
        Meta {
            stamp,
            len,
            etag: stamp.etag(encoding),
            content_length: HeaderValue::from(len),
            last_modified: modified
                .and_then(|t| HeaderValue::from_str(&httpdate::fmt_http_date(t)).ok()),
            modified,
            modified_secs: modified.map(unix_secs),
        }
    }
}

/// Where a variant's bytes are.
#[derive(Debug)]
pub(crate) enum Data {
    /// In memory, shared.
    Mem(Bytes),
    /// Too large to keep: an open handle to stream from.
    File(File),
}

/// One representation of a file.
#[derive(Debug)]
pub(crate) struct Variant {
    pub(crate) meta: Meta,
    pub(crate) data: Data,
}

impl Variant {
    /// Builds a variant from an open file, reading it whole if it is at most `max` bytes.
    fn read(file: File, meta: &Metadata, encoding: Encoding, max: u64) -> io::Result<Self> {
        let len = meta.len();
        if len > max {
            return Ok(Variant {
                meta: Meta::new(meta, len, encoding),
                data: Data::File(file),
            });
        }
        // Read no more than stat said, so a file growing meanwhile cannot blow the limit.
        let mut buf = Vec::with_capacity(len as usize);
        (&file).take(len).read_to_end(&mut buf)?;
        Ok(Variant {
            meta: Meta::new(meta, buf.len() as u64, encoding),
            data: Data::Mem(Bytes::from(buf)),
        })
    }
}

/// Everything needed to answer requests for one key.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The path as requested (root + key [+ index]); what revalidation stats.
    pub(crate) fs_path: PathBuf,
    /// The canonical path of the identity file.
    pub(crate) canon: PathBuf,
    pub(crate) content_type: HeaderValue,
    /// Chosen once, by the service's [`CachePolicy`], from the key and the content type.
    pub(crate) cache_control: Option<HeaderValue>,
    pub(crate) identity: Variant,
    pub(crate) br: Option<Variant>,
    pub(crate) gzip: Option<Variant>,
    /// When (ms since the cache's epoch) this entry was last checked against the disk.
    pub(crate) checked_at: AtomicU64,
}

/// What loading needs to know from the service's configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoadOptions<'a> {
    pub(crate) index: Option<&'a str>,
    pub(crate) precompressed: bool,
    /// Files up to this size are read into memory; larger ones are streamed.
    pub(crate) max_in_memory: u64,
    pub(crate) cache: &'a CachePolicy,
}

/// Finds, opens and (if small) reads the file for `key`, with its siblings. Blocking.
pub(crate) fn load(root: &Path, key: &str, opts: LoadOptions<'_>) -> Result<Box<Entry>, Miss> {
    let opened = path::open(root, key, opts.index)?;
    let identity = Variant::read(
        opened.file,
        &opened.meta,
        Encoding::Identity,
        opts.max_in_memory,
    )
    .map_err(Miss::from)?;
    let sibling = |encoding: Encoding| {
        if !opts.precompressed {
            return None;
        }
        let (file, meta) = path::open_sibling(root, &opened.fs_path, encoding.suffix())?;
        match Variant::read(file, &meta, encoding, opts.max_in_memory) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::debug!(path = %opened.fs_path.display(), ?encoding, error = %e, "ignoring an unreadable precompressed sibling");
                None
            }
        }
    };
    let content_type = super::mime::content_type(&opened.fs_path);
    let html = content_type.as_bytes().starts_with(b"text/html");
    Ok(Box::new(Entry {
        cache_control: opts.cache.choose(key, html),
        content_type,
        br: sibling(Encoding::Br),
        gzip: sibling(Encoding::Gzip),
        identity,
        fs_path: opened.fs_path,
        canon: opened.canon,
        checked_at: AtomicU64::new(0),
    }))
}

impl Entry {
    /// The variant for an encoding, falling back to identity.
    pub(crate) fn variant(&self, encoding: Encoding) -> &Variant {
        match encoding {
            Encoding::Br => self.br.as_ref().unwrap_or(&self.identity),
            Encoding::Gzip => self.gzip.as_ref().unwrap_or(&self.identity),
            Encoding::Identity | Encoding::Zstd => &self.identity,
        }
    }

    /// Takes a variant out (to stream its file), falling back to identity.
    pub(crate) fn into_variant(self, encoding: Encoding) -> Variant {
        match encoding {
            Encoding::Br => self.br.unwrap_or(self.identity),
            Encoding::Gzip => self.gzip.unwrap_or(self.identity),
            Encoding::Identity | Encoding::Zstd => self.identity,
        }
    }

    /// True if the response may differ with Accept-Encoding.
    pub(crate) fn has_siblings(&self) -> bool {
        self.br.is_some() || self.gzip.is_some()
    }

    fn variants(&self) -> impl Iterator<Item = &Variant> {
        std::iter::once(&self.identity).chain(self.br.iter().chain(self.gzip.iter()))
    }

    /// True if every variant is in memory, i.e. the entry may be cached.
    pub(crate) fn in_memory(&self) -> bool {
        self.variants().all(|v| matches!(v.data, Data::Mem(_)))
    }

    /// Bytes the entry costs the cache: its data plus a fixed overhead for the rest.
    pub(crate) fn cost(&self) -> u64 {
        const OVERHEAD: u64 = 512;
        let paths = (self.fs_path.as_os_str().len() + self.canon.as_os_str().len()) as u64;
        OVERHEAD + paths + self.variants().map(|v| v.meta.len).sum::<u64>()
    }

    /// True if the files on disk are still those this entry was built from: one `stat` of
    /// the identity file, plus one per possible sibling when precompressed files are on.
    /// Blocking.
    pub(crate) fn still_valid(&self, precompressed: bool) -> bool {
        fn same(path: &Path, expected: Option<&Variant>) -> bool {
            match (std::fs::metadata(path), expected) {
                (Ok(m), Some(v)) => m.is_file() && Stamp::of(&m) == v.meta.stamp,
                (Err(e), None) => e.kind() == io::ErrorKind::NotFound,
                _ => false,
            }
        }
        same(&self.fs_path, Some(&self.identity))
            && (!precompressed
                || (same(
                    &path::with_suffix(&self.fs_path, Encoding::Br.suffix()),
                    self.br.as_ref(),
                ) && same(
                    &path::with_suffix(&self.fs_path, Encoding::Gzip.suffix()),
                    self.gzip.as_ref(),
                )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(max: u64) -> LoadOptions<'static> {
        static POLICY: std::sync::OnceLock<CachePolicy> = std::sync::OnceLock::new();
        LoadOptions {
            index: Some("index.html"),
            precompressed: true,
            max_in_memory: max,
            cache: POLICY.get_or_init(CachePolicy::new),
        }
    }

    #[test]
    fn loads_small_file_with_siblings() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::write(root.join("a.js"), "let a = 1;").unwrap();
        std::fs::write(root.join("a.js.br"), "BR").unwrap();
        let e = load(&root, "a.js", opts(1024)).unwrap();
        assert!(e.in_memory());
        assert!(e.has_siblings());
        assert!(e.gzip.is_none());
        assert_eq!(e.identity.meta.len, 10);
        assert_eq!(e.variant(Encoding::Br).meta.len, 2);
        assert_eq!(e.variant(Encoding::Gzip).meta.len, 10);
        let tag = e.identity.meta.etag.to_str().unwrap();
        assert!(tag.starts_with("\"a-") && tag.ends_with('"'), "{tag}");
        assert!(e
            .br
            .as_ref()
            .unwrap()
            .meta
            .etag
            .to_str()
            .unwrap()
            .ends_with("-br\""));
        assert!(e.still_valid(true));
        std::fs::write(root.join("a.js.gz"), "GZ").unwrap();
        assert!(!e.still_valid(true), "a new sibling invalidates");
        assert!(e.still_valid(false));
    }

    #[test]
    fn cache_control_is_chosen_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(root.join("d")).unwrap();
        std::fs::write(root.join("d/index.html"), "<p>").unwrap();
        std::fs::write(root.join("main.3f2a9c1b.js"), "1").unwrap();
        std::fs::write(root.join("main.3f2a9c1b.html"), "<p>").unwrap();
        let cc = |key: &str| load(&root, key, opts(1024)).unwrap().cache_control;
        assert_eq!(
            cc("main.3f2a9c1b.js").unwrap(),
            super::super::freshness::IMMUTABLE
        );
        assert_eq!(
            cc("main.3f2a9c1b.html").unwrap(),
            "no-cache",
            "HTML is never immutable"
        );
        assert_eq!(cc("d/").unwrap(), "no-cache");
    }

    #[test]
    fn large_file_is_kept_open_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::write(root.join("big.bin"), vec![7u8; 5000]).unwrap();
        let e = load(&root, "big.bin", opts(4096)).unwrap();
        assert!(!e.in_memory());
        assert!(matches!(e.identity.data, Data::File(_)));
        assert_eq!(e.identity.meta.content_length, "5000");
    }

    #[test]
    fn etag_depends_on_every_field() {
        let s = Stamp {
            dev: 1,
            ino: 2,
            len: 3,
            mtime_nanos: 4,
        };
        let base = s.etag(Encoding::Identity);
        for other in [
            Stamp { dev: 9, ..s },
            Stamp { ino: 9, ..s },
            Stamp { len: 9, ..s },
            Stamp {
                mtime_nanos: 5,
                ..s
            },
        ] {
            assert_ne!(other.etag(Encoding::Identity), base);
        }
        assert_eq!(s.etag(Encoding::Identity), base, "deterministic");
    }
}
