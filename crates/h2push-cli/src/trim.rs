//! Giving freed memory back to the system after a burst of connections.
//!
//! glibc's allocator keeps the pages of freed blocks inside its heaps: after thousands of
//! connections (or stalled streams) close, the process's RSS stays near its peak. This module
//! owns one task that, when the number of open connections has fallen since its last look,
//! asks glibc to return the free pages (`malloc_trim(0)`); measured in `docs/benchmarks.md`
//! ("Hostile clients"). Other platforms and allocators do nothing here.

use std::time::Duration;

use h2push::server::ConnStats;

/// How often the connection count is looked at.
const EVERY: Duration = Duration::from_secs(5);

/// Runs until the runtime ends: trims the heap after the open connections decreased.
pub async fn after_connections_close(stats: ConnStats) {
    let mut last = stats.open();
    let mut interval = tokio::time::interval(EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let open = stats.open();
        if open < last {
            trim();
        }
        last = open;
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    extern "C" {
        fn malloc_trim(pad: usize) -> std::os::raw::c_int;
    }
    // SAFETY: malloc_trim only walks glibc's own heaps under their locks; it takes no
    // pointers from us and may be called from any thread at any time.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
