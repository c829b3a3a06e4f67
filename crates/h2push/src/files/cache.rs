//! The in-memory cache of small files.
//!
//! This module owns the map from request key to loaded [`Entry`], its size bound and the
//! freshness rule: an entry is trusted for `revalidate_after` (1 s by default, like nginx's
//! `open_file_cache valid`), after which exactly one request wins the right to check it against
//! the disk while concurrent requests keep being served from the entry they have. A lookup
//! takes a read lock only long enough to clone an `Arc`; no lock is ever held across an
//! `.await` or a syscall.
//!
//! The bound is simple: when an entry does not fit, it is not cached (the request is served
//! from disk) — there is no eviction beyond dropping entries whose files changed or vanished.
//! Loading entries and checking them are `entry.rs`'s business.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::entry::Entry;

/// The result of a cache lookup.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// Serve this entry as is.
    Fresh(Arc<Entry>),
    /// This caller must check the entry against the disk before using it.
    Stale(Arc<Entry>),
    /// Not cached.
    Miss,
}

/// Entries by key, with their total cost.
#[derive(Debug)]
pub(crate) struct Cache {
    map: RwLock<Map>,
    max_bytes: u64,
    revalidate_ms: u64,
    epoch: Instant,
}

#[derive(Debug, Default)]
struct Map {
    entries: HashMap<Box<str>, Arc<Entry>>,
    used: u64,
}

impl Cache {
    /// An empty cache holding at most `max_bytes` (see [`Entry::cost`]), whose entries are
    /// rechecked after `revalidate_after`.
    pub(crate) fn new(max_bytes: u64, revalidate_after: Duration) -> Self {
        Cache {
            map: RwLock::new(Map::default()),
            max_bytes,
            revalidate_ms: u64::try_from(revalidate_after.as_millis()).unwrap_or(u64::MAX),
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Looks `key` up. At most one caller per revalidation period gets [`Lookup::Stale`].
    pub(crate) fn get(&self, key: &str) -> Lookup {
        let entry = {
            let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
            match map.entries.get(key) {
                Some(e) => Arc::clone(e),
                None => return Lookup::Miss,
            }
        };
        let now = self.now_ms();
        let checked = entry.checked_at.load(Ordering::Acquire);
        if now.saturating_sub(checked) < self.revalidate_ms {
            return Lookup::Fresh(entry);
        }
        // Claim the check; whoever loses the race serves the entry as it is.
        match entry
            .checked_at
            .compare_exchange(checked, now, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Lookup::Stale(entry),
            Err(_) => Lookup::Fresh(entry),
        }
    }

    /// Caches `entry` under `key`, replacing what was there. Returns the shared entry, or gives
    /// the entry back if it cannot be cached (it streams from disk, or it does not fit; in the
    /// latter case any older entry for the key is dropped too, since it is outdated).
    pub(crate) fn insert(&self, key: &str, entry: Box<Entry>) -> Result<Arc<Entry>, Box<Entry>> {
        if !entry.in_memory() {
            self.remove(key, None);
            return Err(entry);
        }
        entry.checked_at.store(self.now_ms(), Ordering::Release);
        let cost = entry.cost();
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        let old_cost = map.entries.get(key).map_or(0, |e| e.cost());
        let used = map.used - old_cost;
        if used.saturating_add(cost) > self.max_bytes {
            if map.entries.remove(key).is_some() {
                map.used = used;
            }
            drop(map);
            return Err(entry);
        }
        let entry = Arc::new(*entry);
        map.entries.insert(key.into(), Arc::clone(&entry));
        map.used = used + cost;
        Ok(entry)
    }

    /// Drops the entry for `key` — only if it is still `expected`, when given.
    pub(crate) fn remove(&self, key: &str, expected: Option<&Arc<Entry>>) {
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        let Some(current) = map.entries.get(key) else {
            return;
        };
        if expected.is_some_and(|e| !Arc::ptr_eq(e, current)) {
            return;
        }
        let cost = current.cost();
        map.entries.remove(key);
        map.used -= cost;
    }

    /// Total cost of the cached entries.
    #[cfg(test)]
    pub(crate) fn used(&self) -> u64 {
        self.map.read().unwrap_or_else(PoisonError::into_inner).used
    }

    /// Number of cached entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::entry::{load, LoadOptions};
    use super::*;

    fn setup(files: &[(&str, usize)]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        for (name, len) in files {
            std::fs::write(root.join(name), vec![b'x'; *len]).unwrap();
        }
        (dir, root)
    }

    fn load_key(root: &std::path::Path, key: &str) -> Box<Entry> {
        let policy = super::super::freshness::CachePolicy::new();
        let opts = LoadOptions {
            index: None,
            precompressed: false,
            max_in_memory: 10_000,
            cache: &policy,
        };
        load(root, key, opts).unwrap()
    }

    #[test]
    fn fresh_then_one_stale_claim() {
        let (_d, root) = setup(&[("a", 10)]);
        let cache = Cache::new(1 << 20, Duration::ZERO);
        assert!(matches!(cache.get("a"), Lookup::Miss));
        cache.insert("a", load_key(&root, "a")).unwrap();
        // With a zero period every lookup claims a check (the clock moved or not).
        assert!(matches!(
            cache.get("a"),
            Lookup::Stale(_) | Lookup::Fresh(_)
        ));

        let cache = Cache::new(1 << 20, Duration::from_secs(3600));
        cache.insert("a", load_key(&root, "a")).unwrap();
        assert!(matches!(cache.get("a"), Lookup::Fresh(_)));
    }

    #[test]
    fn size_bound_and_accounting() {
        let (_d, root) = setup(&[("a", 3000), ("b", 3000), ("c", 100)]);
        let cache = Cache::new(5000, Duration::from_secs(1));
        let a = cache.insert("a", load_key(&root, "a")).unwrap();
        assert!(
            cache.insert("b", load_key(&root, "b")).is_err(),
            "b does not fit"
        );
        cache.insert("c", load_key(&root, "c")).unwrap();
        assert_eq!(cache.len(), 2);
        let used = cache.used();
        // Replacing an entry accounts for the old one.
        cache.insert("a", load_key(&root, "a")).unwrap();
        assert_eq!(cache.used(), used);
        // Removing a stale Arc is a no-op; removing the current one frees its cost.
        cache.remove("a", Some(&a));
        assert_eq!(cache.len(), 2);
        cache.remove("a", None);
        cache.remove("c", None);
        assert_eq!((cache.len(), cache.used()), (0, 0));
    }

    #[test]
    fn streaming_entries_are_not_cached() {
        let (_d, root) = setup(&[("big", 20_000)]);
        let cache = Cache::new(1 << 20, Duration::from_secs(1));
        assert!(cache.insert("big", load_key(&root, "big")).is_err());
        assert_eq!(cache.len(), 0);
    }
}
