//! The connection cap, with eviction of idle connections.
//!
//! This module owns who may hold one of the server's `max_connections` slots. Every
//! accepted connection takes a [`Slot`], shared by all serving threads, and says through it
//! whether it is busy (a request in flight) or idle (handshaking, or waiting between
//! requests). At the cap, the connection idle the longest is told to leave (its driver closes
//! it, HTTP/2 with a GOAWAY) and its slot goes to the newcomer at once; only when every
//! connection is busy is the newcomer refused. Refusals are counted ([`ConnStats`]) and logged
//! at most once a second. How a driver closes on eviction is the driver's.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// `idle_since` of a connection with a request in flight.
const BUSY: u64 = u64::MAX;

/// The slots of one server.
pub(crate) struct Slots {
    max: usize,
    epoch: Instant,
    table: Mutex<slab::Slab<Arc<Entry>>>,
    refused: AtomicU64,
    evicted: AtomicU64,
    log: Mutex<RefusalLog>,
}

struct RefusalLog {
    last: Option<Instant>,
    unlogged: u64,
}

/// One connection's entry.
struct Entry {
    /// Milliseconds since `Slots::epoch` at which it became idle, or [`BUSY`].
    idle_since: AtomicU64,
    /// Requests in flight (HTTP/1.1 counts them; HTTP/2 says 0 or 1).
    in_flight: AtomicU32,
    evict: Notify,
}

/// A connection's hold on one slot; the slot is free again when this is dropped.
pub(crate) struct Slot {
    slots: Arc<Slots>,
    key: usize,
    entry: Arc<Entry>,
}

impl Slots {
    pub(crate) fn new(max: usize) -> Arc<Slots> {
        Arc::new(Slots {
            max,
            epoch: Instant::now(),
            table: Mutex::new(slab::Slab::new()),
            refused: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            log: Mutex::new(RefusalLog {
                last: None,
                unlogged: 0,
            }),
        })
    }

    fn table(&self) -> MutexGuard<'_, slab::Slab<Arc<Entry>>> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(BUSY - 1)
    }

    /// A slot for a new connection (idle until it says otherwise): a free one, else the one
    /// of the connection idle the longest, which is told to close. `None` when every
    /// connection is busy; the refusal is counted and logged (at most once a second).
    pub(crate) fn admit(self: &Arc<Self>) -> Option<Slot> {
        let entry = Arc::new(Entry {
            idle_since: AtomicU64::new(self.now_ms()),
            in_flight: AtomicU32::new(0),
            evict: Notify::new(),
        });
        let mut table = self.table();
        if table.len() >= self.max {
            let oldest = table
                .iter()
                .map(|(k, e)| (e.idle_since.load(Ordering::Relaxed), k))
                .filter(|&(since, _)| since != BUSY)
                .min();
            let Some((_, key)) = oldest else {
                drop(table);
                self.refused();
                return None;
            };
            let gone = table.remove(key);
            // Stores a permit if the driver is not waiting yet: it sees it at its next poll.
            gone.evict.notify_one();
            self.evicted.fetch_add(1, Ordering::Relaxed);
        }
        let key = table.insert(entry.clone());
        Some(Slot {
            slots: self.clone(),
            key,
            entry,
        })
    }

    fn refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.unlogged += 1;
        let now = Instant::now();
        let due = match log.last {
            Some(t) => now.duration_since(t) >= Duration::from_secs(1),
            None => true,
        };
        if due {
            tracing::warn!(
                "connection limit of {} reached with no idle connection to close: \
                 refused {} connection(s) since the last report",
                self.max,
                log.unlogged
            );
            log.last = Some(now);
            log.unlogged = 0;
        }
    }
}

impl Slot {
    /// A request started (HTTP/1.1), or the connection has streams (HTTP/2).
    pub(crate) fn begin(&self) {
        if self.entry.in_flight.fetch_add(1, Ordering::Relaxed) == 0 {
            self.entry.idle_since.store(BUSY, Ordering::Relaxed);
        }
    }

    /// A request ended; with none left the connection is idle from now.
    pub(crate) fn end(&self) {
        let before = self.entry.in_flight.fetch_sub(1, Ordering::Relaxed);
        if before == 1 {
            let now = self.slots.now_ms();
            self.entry.idle_since.store(now, Ordering::Relaxed);
        } else if before == 0 {
            // Unbalanced: keep the count at zero.
            self.entry.in_flight.store(0, Ordering::Relaxed);
        }
    }

    /// Whether the connection has nothing in flight.
    #[cfg(test)]
    fn is_idle(&self) -> bool {
        self.entry.in_flight.load(Ordering::Relaxed) == 0
    }

    /// How long the connection has had nothing in flight (`None` while busy).
    pub(crate) fn idle_for(&self) -> Option<Duration> {
        match self.entry.idle_since.load(Ordering::Relaxed) {
            BUSY => None,
            since => Some(Duration::from_millis(
                self.slots.now_ms().saturating_sub(since),
            )),
        }
    }

    /// Resolves once the connection has been chosen to make room for a new one.
    pub(crate) async fn evicted(&self) {
        self.entry.evict.notified().await;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut table = self.slots.table();
        if table
            .get(self.key)
            .is_some_and(|e| Arc::ptr_eq(e, &self.entry))
        {
            table.remove(self.key);
        }
    }
}

/// Counters of a server's connection cap, readable while it serves.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = h2push::Server::builder()
///     .bind_plain("127.0.0.1:0".parse()?)
///     .build()?;
/// let stats = server.stats();
/// assert_eq!((stats.open(), stats.refused(), stats.evicted()), (0, 0, 0));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ConnStats(pub(crate) Arc<Slots>);

impl ConnStats {
    /// Connections holding a slot now.
    pub fn open(&self) -> usize {
        self.0.table().len()
    }

    /// Connections refused at the cap because none was idle, since the server was built.
    pub fn refused(&self) -> u64 {
        self.0.refused.load(Ordering::Relaxed)
    }

    /// Idle connections closed at the cap to admit new ones, since the server was built.
    pub fn evicted(&self) -> u64 {
        self.0.evicted.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for ConnStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnStats")
            .field("open", &self.open())
            .field("refused", &self.refused())
            .field("evicted", &self.evicted())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_idle_makes_room_and_busy_ones_never_do() {
        let slots = Slots::new(2);
        let a = slots.admit().unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let b = slots.admit().unwrap();
        // Both idle: the third takes a's slot (a idled first).
        let c = slots.admit().unwrap();
        assert_eq!(ConnStats(slots.clone()).open(), 2);
        assert_eq!(ConnStats(slots.clone()).evicted(), 1);
        drop(a); // a's entry is gone already; dropping it frees nothing else
        assert_eq!(ConnStats(slots.clone()).open(), 2);
        b.begin();
        c.begin();
        assert!(slots.admit().is_none(), "all busy: refused");
        assert_eq!(ConnStats(slots.clone()).refused(), 1);
        c.end();
        assert!(c.is_idle());
        let d = slots.admit().unwrap();
        assert_eq!(ConnStats(slots.clone()).evicted(), 2);
        drop((b, d));
        assert_eq!(ConnStats(slots.clone()).open(), 0);
    }
}
