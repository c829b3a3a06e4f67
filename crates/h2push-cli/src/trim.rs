//! Giving freed memory back to the system after a burst of connections.
//!
//! glibc's allocator keeps the pages of freed blocks inside its heaps: after thousands of
//! connections (or stalled streams) close, the process's RSS stays near its peak. This module
//! owns one task that asks glibc to return the free pages (`malloc_trim(0)`) when the number
//! of open connections has fallen since its last look, and once more when it has stayed at or
//! below that level for [`AGAIN_AFTER`]: what is freed after the connections close (tokio's
//! blocking threads exit 10 s after their last job) is returned too. Measured in
//! `docs/benchmarks.md` ("Hostile clients"). Other platforms and allocators do nothing here.

use std::time::Duration;

use h2push::server::ConnStats;
use tokio::time::Instant;

/// How often the connection count is looked at.
const EVERY: Duration = Duration::from_secs(5);

/// After a trim, how long the count must not rise before the heap is trimmed once more:
/// longer than tokio's blocking threads stay idle (10 s) before they exit.
const AGAIN_AFTER: Duration = Duration::from_secs(15);

/// Runs until the runtime ends: trims the heap after the open connections decreased.
pub async fn after_connections_close(stats: ConnStats) {
    let mut when = Trims::new(stats.open());
    let mut interval = tokio::time::interval(EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if when.look(stats.open(), Instant::now()) {
            trim();
        }
    }
}

/// When to trim, from the open-connection counts seen.
#[derive(Debug)]
struct Trims {
    /// The count at the last look.
    last: usize,
    /// After a trim: the count then, and when to trim again if it has not risen above it.
    again: Option<(usize, Instant)>,
}

impl Trims {
    fn new(open: usize) -> Self {
        Trims {
            last: open,
            again: None,
        }
    }

    /// Takes the count seen at `now`; whether to trim.
    fn look(&mut self, open: usize, now: Instant) -> bool {
        let fell = open < self.last;
        self.last = open;
        if fell {
            self.again = Some((open, now + AGAIN_AFTER));
            return true;
        }
        match self.again {
            Some((level, _)) if open > level => {
                // Busy again: the next fall trims.
                self.again = None;
                false
            }
            Some((_, at)) if now >= at => {
                self.again = None;
                true
            }
            _ => false,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_when_the_count_falls_and_once_more_after_it_stayed_low() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut t = Trims::new(0);
        assert!(!t.look(32, at(5)), "a rise does not trim");
        assert!(t.look(3, at(10)), "a fall trims");
        assert!(!t.look(3, at(15)));
        assert!(t.look(0, at(20)), "a further fall trims");
        assert!(
            !t.look(0, at(30)),
            "not before AGAIN_AFTER from the last trim"
        );
        assert!(t.look(0, at(35)), "once more after AGAIN_AFTER");
        assert!(!t.look(0, at(50)), "only once");
        assert!(!t.look(0, at(500)));
    }

    #[test]
    fn a_rise_cancels_the_second_trim() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut t = Trims::new(10);
        assert!(t.look(2, at(5)));
        assert!(!t.look(5, at(10)), "busy again");
        assert!(!t.look(5, at(25)), "no second trim while busy");
        assert!(t.look(1, at(30)), "the next fall trims");
    }
}
