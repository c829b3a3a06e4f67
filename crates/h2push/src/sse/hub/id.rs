//! Event ids: what they look like on the wire and how they order.
//!
//! This file owns [`EventId`] and its text form, the position type the backends order events
//! by, and the small random numbers the hub needs (epochs, jitter). Assigning ids is the
//! backends' business; deciding what a client missed is the hub's.
//!
//! # Format
//!
//! An id is `EPOCH_POSITION`, for example `k3x9q0_42` (memory hub) or
//! `1v8zd2a_1732240000000-3` (Redis hub):
//!
//! - `EPOCH` names the history the position belongs to, in lowercase base 36: a memory hub
//!   draws a fresh one at start, so a restarted process never takes an old id for one of its
//!   own; a Redis hub uses the generation stored in Redis, which changes only when Redis loses
//!   its data.
//! - `POSITION` is one number (`42`) or a Redis stream id (`ms-seq`), decimal. Positions come
//!   from **one sequence per hub**, shared by all topics: every event of every topic gets a
//!   larger position than every event before it. That is what lets one `Last-Event-ID` resume
//!   a subscription to several topics: the client missed exactly the events of its topics
//!   whose position is larger than the one it names.
//!
//! Ids use only ASCII letters, digits, `_` and `-`: no byte a browser treats as unsafe in a
//! request header; 10 to 25 bytes in practice, never more than 55.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

/// A place in a hub's single event sequence. Redis stream ids (`ms-seq`) map onto it as
/// `(ms, seq)`; the memory hub counts in `hi` and leaves `lo` at zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) struct Pos {
    pub hi: u64,
    pub lo: u64,
}

impl Pos {
    /// Before every event.
    pub const ZERO: Pos = Pos { hi: 0, lo: 0 };

    pub fn new(hi: u64, lo: u64) -> Pos {
        Pos { hi, lo }
    }

    /// Parses `hi` or `hi-lo` (decimal), as a Redis stream id is written.
    pub fn parse(s: &str) -> Option<Pos> {
        let (hi, lo) = match s.split_once('-') {
            Some((hi, lo)) => (hi, Some(lo)),
            None => (s, None),
        };
        let num = |t: &str| -> Option<u64> {
            if t.is_empty() || t.len() > 20 || !t.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            t.parse().ok()
        };
        Some(Pos {
            hi: num(hi)?,
            lo: match lo {
                Some(lo) => num(lo)?,
                None => 0,
            },
        })
    }

    /// The Redis stream id form, `hi-lo`.
    pub fn stream_id(self) -> String {
        format!("{}-{}", self.hi, self.lo)
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == 0 {
            write!(f, "{}", self.hi)
        } else {
            write!(f, "{}-{}", self.hi, self.lo)
        }
    }
}

/// The id of a published event, as its subscribers see it in the `id:` field and send it back
/// in `Last-Event-ID`.
///
/// Ids of one hub (one epoch) are totally ordered, across topics too; ids of different
/// epochs do not compare (`partial_cmp` is `None`).
///
/// ```
/// use h2push::sse::hub::EventId;
///
/// let a: EventId = "k3x9q0_41".parse()?;
/// let b: EventId = "k3x9q0_42".parse()?;
/// assert!(a < b);
/// assert_eq!(b.to_string(), "k3x9q0_42");
/// assert_eq!(b.epoch(), "k3x9q0");
///
/// let redis: EventId = "1v8zd2a_1732240000000-3".parse()?;
/// assert_eq!(redis.stream_id(), "1732240000000-3");
/// let other_epoch: EventId = "zz_42".parse()?;
/// assert_eq!(b.partial_cmp(&other_epoch), None);
/// # Ok::<(), h2push::sse::hub::InvalidEventId>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventId {
    epoch: Epoch,
    pos: Pos,
}

impl EventId {
    pub(crate) fn new(epoch: Epoch, pos: Pos) -> EventId {
        EventId { epoch, pos }
    }

    pub(crate) fn pos(&self) -> Pos {
        self.pos
    }

    pub(crate) fn epoch_value(&self) -> Epoch {
        self.epoch
    }

    /// The epoch part, in base 36: the history this id belongs to.
    pub fn epoch(&self) -> String {
        self.epoch.to_string()
    }

    /// The position as a Redis stream entry id (`ms-seq`; `n-0` for a memory hub's `n`).
    pub fn stream_id(&self) -> String {
        self.pos.stream_id()
    }
}

impl PartialOrd for EventId {
    fn partial_cmp(&self, other: &EventId) -> Option<Ordering> {
        (self.epoch == other.epoch).then(|| self.pos.cmp(&other.pos))
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.epoch, self.pos)
    }
}

/// A string that is not an h2push event id (see [`EventId`] for the format).
///
/// ```
/// assert!("no-underscore".parse::<h2push::sse::hub::EventId>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an h2push event id (expected EPOCH_POSITION, like k3x9q0_42)")]
pub struct InvalidEventId;

impl FromStr for EventId {
    type Err = InvalidEventId;

    fn from_str(s: &str) -> Result<EventId, InvalidEventId> {
        let (epoch, pos) = s.split_once('_').ok_or(InvalidEventId)?;
        Ok(EventId {
            epoch: Epoch::parse(epoch).ok_or(InvalidEventId)?,
            pos: Pos::parse(pos).ok_or(InvalidEventId)?,
        })
    }
}

/// An epoch: a number shown in base 36, at most 13 digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Epoch(pub u64);

impl Epoch {
    /// A fresh random epoch of 40 bits (at most 8 base-36 digits).
    pub fn random() -> Epoch {
        Epoch(random_u64() & ((1 << 40) - 1) | 1)
    }

    pub fn parse(s: &str) -> Option<Epoch> {
        if s.is_empty() || s.len() > 13 {
            return None;
        }
        let mut n: u64 = 0;
        for b in s.bytes() {
            let d = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'z' => b - b'a' + 10,
                _ => return None,
            };
            n = n.checked_mul(36)?.checked_add(u64::from(d))?;
        }
        Some(Epoch(n))
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut digits = [0u8; 13];
        let mut n = self.0;
        let mut i = digits.len();
        loop {
            i -= 1;
            let d = (n % 36) as u8;
            digits[i] = if d < 10 { b'0' + d } else { b'a' + d - 10 };
            n /= 36;
            if n == 0 {
                break;
            }
        }
        // Only ASCII digits and letters were written.
        f.write_str(std::str::from_utf8(&digits[i..]).unwrap_or("0"))
    }
}

/// A fast, non-cryptographic random number (splitmix64 over a global counter seeded from the
/// clock): for epochs and jitter, never for secrets.
pub(crate) fn random_u64() -> u64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut s = STATE.load(AtomicOrdering::Relaxed);
    if s == 0 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let seed = now ^ (u64::from(std::process::id()) << 32) ^ (&STATE as *const _ as u64);
        let _ = STATE.compare_exchange(
            0,
            seed | 1,
            AtomicOrdering::Relaxed,
            AtomicOrdering::Relaxed,
        );
    }
    s = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, AtomicOrdering::Relaxed);
    let mut z = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `base` changed by a random amount of at most `fraction` of it, up or down.
pub(crate) fn jitter(base: std::time::Duration, fraction: f64) -> std::time::Duration {
    let unit = (random_u64() >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
    let factor = 1.0 + fraction * (2.0 * unit - 1.0);
    base.mul_f64(factor.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_and_print() {
        assert_eq!(Pos::parse("42"), Some(Pos::new(42, 0)));
        assert_eq!(Pos::parse("17-3"), Some(Pos::new(17, 3)));
        assert_eq!(Pos::new(17, 0).to_string(), "17");
        assert_eq!(Pos::new(17, 3).to_string(), "17-3");
        for bad in [
            "",
            "-",
            "1-",
            "-1",
            "1-2-3",
            "a",
            " 1",
            "+1",
            "99999999999999999999999",
        ] {
            assert_eq!(Pos::parse(bad), None, "{bad:?}");
        }
        assert!(Pos::new(1, 5) < Pos::new(2, 0));
    }

    #[test]
    fn epochs_round_trip_in_base36() {
        for n in [0, 1, 35, 36, (1 << 40) - 1, u64::MAX] {
            let e = Epoch(n);
            assert_eq!(Epoch::parse(&e.to_string()), Some(e), "{n}");
        }
        assert_eq!(Epoch(35).to_string(), "z");
        assert_eq!(Epoch::parse("A"), None);
        assert!(Epoch::random().to_string().len() <= 8);
        assert_ne!(Epoch::random(), Epoch::random());
    }

    #[test]
    fn ids_are_short_and_header_safe() {
        let id = EventId::new(Epoch(u64::MAX), Pos::new(u64::MAX, u64::MAX));
        let text = id.to_string();
        assert!(text.len() <= 55, "{text}");
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        assert_eq!(text.parse::<EventId>(), Ok(id));
        let id = EventId::new(Epoch::random(), Pos::new(1_732_240_000_000, 12));
        assert!(id.to_string().len() <= 36);
    }

    #[test]
    fn jitter_stays_in_bounds() {
        let base = std::time::Duration::from_secs(10);
        for _ in 0..1000 {
            let j = jitter(base, 0.2);
            assert!(
                j >= std::time::Duration::from_secs(8) && j <= std::time::Duration::from_secs(12)
            );
        }
    }
}
