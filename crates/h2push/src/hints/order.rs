//! Push order and the per-page push budget.
//!
//! This module owns two small rules. **Order**: stylesheets and fonts first, then scripts,
//! then images, then the rest — Apache's `H2PushPriority` defaults (CSS before everything,
//! JavaScript interleaved, images after), so that what blocks rendering is on the wire first.
//! The sort is stable: within a class, the order of the sources is kept. **Budget**: a page
//! pushes at most so many resources and so many bytes ("push enough to fill the idle network
//! time and no more"). Which hints exist is the policy's; whether the client already has one
//! is the diary's and the digest's.

use super::link::Hint;

/// How urgently a hinted resource is needed, from its `as=` destination. Lower goes first.
///
/// ```
/// use h2push::hints::{Hint, Priority};
/// assert_eq!(Priority::of(&Hint::new("/a.css")), Priority::RenderBlocking);
/// assert_eq!(Priority::of(&Hint::new("/f.woff2")), Priority::RenderBlocking);
/// assert!(Priority::of(&Hint::new("/a.js")) < Priority::of(&Hint::new("/a.png")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Stylesheets and fonts: nothing renders without them.
    RenderBlocking,
    /// Scripts.
    Script,
    /// Images.
    Image,
    /// Anything else (`fetch`, unknown types).
    Other,
}

impl Priority {
    /// The priority of `hint`, from its `as=` (or, without one, its extension).
    pub fn of(hint: &Hint) -> Priority {
        let dest = hint
            .as_
            .as_deref()
            .or_else(|| super::link::destination_for(&hint.path));
        match dest {
            Some("style" | "font") => Priority::RenderBlocking,
            Some("script") => Priority::Script,
            Some("image") => Priority::Image,
            _ => Priority::Other,
        }
    }
}

/// Sorts hints into push order: by [`Priority`], stable within a priority.
///
/// ```
/// use h2push::hints::{sort_hints, Hint};
/// let mut h = vec![Hint::new("/i.png"), Hint::new("/a.js"), Hint::new("/f.woff2"), Hint::new("/s.css")];
/// sort_hints(&mut h);
/// let order: Vec<&str> = h.iter().map(|h| h.path.as_str()).collect();
/// assert_eq!(order, ["/f.woff2", "/s.css", "/a.js", "/i.png"]);
/// ```
pub fn sort_hints(hints: &mut [Hint]) {
    hints.sort_by_key(Priority::of);
}

/// Appends `more` to `hints`, skipping paths already present (the first source wins).
pub(crate) fn merge_unique(hints: &mut Vec<Hint>, more: impl IntoIterator<Item = Hint>) {
    for h in more {
        if !hints.iter().any(|x| x.path == h.path) {
            hints.push(h);
        }
    }
}

/// What one page may push: at most `resources` pushes and `bytes` bytes of pushed bodies.
///
/// ```
/// let b = h2push::hints::Budget::default();
/// assert_eq!((b.resources, b.bytes), (12, 512 * 1024));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Pushes per page at most.
    pub resources: usize,
    /// Bytes per page at most (the identity length of each pushed file; resources whose
    /// length is unknown count 0 bytes but one resource).
    pub bytes: u64,
}

impl Default for Budget {
    /// 12 resources, 512 KiB: a page's critical CSS, fonts and scripts, not its gallery.
    fn default() -> Self {
        Budget {
            resources: 12,
            bytes: 512 * 1024,
        }
    }
}

impl Budget {
    /// No limit at all.
    ///
    /// ```
    /// assert_eq!(h2push::hints::Budget::unlimited().resources, usize::MAX);
    /// ```
    pub fn unlimited() -> Self {
        Budget {
            resources: usize::MAX,
            bytes: u64::MAX,
        }
    }
}

/// What one page has spent of its [`Budget`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spent {
    budget: Budget,
    resources: usize,
    bytes: u64,
}

impl Spent {
    pub(crate) fn new(budget: Budget) -> Self {
        Spent {
            budget,
            resources: 0,
            bytes: 0,
        }
    }

    /// Whether a resource of `len` bytes still fits.
    pub(crate) fn fits(&self, len: Option<u64>) -> bool {
        self.resources < self.budget.resources
            && self.bytes.saturating_add(len.unwrap_or(0)) <= self.budget.bytes
    }

    /// Records a push of `len` bytes.
    pub(crate) fn take(&mut self, len: Option<u64>) {
        self.resources += 1;
        self.bytes = self.bytes.saturating_add(len.unwrap_or(0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_as_beats_the_extension() {
        let h = Hint::new("/fonts/x.bin").with_as("font");
        assert_eq!(Priority::of(&h), Priority::RenderBlocking);
        assert_eq!(Priority::of(&Hint::new("/api")), Priority::Other);
    }

    #[test]
    fn sort_is_stable_within_a_class() {
        let mut h: Vec<Hint> = ["/b.js", "/a.css", "/a.js", "/b.css"]
            .into_iter()
            .map(Hint::new)
            .collect();
        sort_hints(&mut h);
        let order: Vec<&str> = h.iter().map(|h| h.path.as_str()).collect();
        assert_eq!(order, ["/a.css", "/b.css", "/b.js", "/a.js"]);
    }

    #[test]
    fn budget_counts_resources_and_bytes() {
        let mut s = Spent::new(Budget {
            resources: 3,
            bytes: 100,
        });
        assert!(s.fits(Some(60)));
        s.take(Some(60));
        assert!(!s.fits(Some(41)), "60 + 41 > 100");
        assert!(s.fits(Some(40)));
        s.take(Some(40));
        assert!(s.fits(None), "unknown length counts 0 bytes");
        s.take(None);
        assert!(!s.fits(Some(0)), "3 resources spent");
    }

    #[test]
    fn merge_keeps_the_first_source() {
        let mut h = vec![Hint::new("/a.css")];
        merge_unique(
            &mut h,
            [Hint::new("/a.css").hint_only(), Hint::new("/b.js")],
        );
        assert_eq!(h.len(), 2);
        assert!(!h[0].nopush);
    }
}
