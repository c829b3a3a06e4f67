//! Flow-control windows (RFC 9113 §5.2, §6.9).
//!
//! This module owns the arithmetic of one window, for sending ([`SendWindow`]) and for
//! receiving ([`RecvWindow`]): the 2^31-1 bound, windows that go negative after a SETTINGS
//! change (§6.9.2), the check that received DATA fits what we advertised (§6.9.1), and when
//! to announce credit back with WINDOW_UPDATE (batched, auto-tuned). Which window a frame
//! counts against, and which error kind a violation is, are the stream set's
//! ([`super::Streams`]); sending the WINDOW_UPDATE frames is the connection's.

use std::time::{Duration, Instant};

/// The largest window size, 2^31 - 1 (§6.9.1).
pub const MAX_WINDOW: u32 = 0x7fff_ffff;

/// Every window's initial size until SETTINGS say otherwise, 65,535 (§6.9.2).
pub const DEFAULT_WINDOW: u32 = 65_535;

/// A window would exceed 2^31 - 1 (§6.9.1): a FLOW_CONTROL_ERROR, of the stream or of the
/// connection depending on whose window it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowOverflow;

/// How much DATA we may still send on a stream or on the connection (§6.9).
///
/// It may be negative after the peer lowers SETTINGS_INITIAL_WINDOW_SIZE (§6.9.2); nothing
/// can be sent until WINDOW_UPDATEs bring it above zero.
///
/// ```
/// use h2push_h2::state::flow::SendWindow;
///
/// let mut w = SendWindow::new(100);
/// w.consume(60);
/// w.adjust(-50).unwrap(); // the peer lowered its initial window by 50
/// assert_eq!(w.size(), -10);
/// assert_eq!(w.available(), 0);
/// w.increase(30).unwrap();
/// assert_eq!(w.available(), 20);
/// assert!(w.increase(0x7fff_ffff).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendWindow(i64);

impl SendWindow {
    /// A window of `initial` bytes.
    pub fn new(initial: u32) -> SendWindow {
        SendWindow(i64::from(initial))
    }

    /// The window, which may be negative.
    pub fn size(self) -> i64 {
        self.0
    }

    /// How many bytes may be sent now (0 when the window is negative).
    pub fn available(self) -> u32 {
        self.0.clamp(0, i64::from(MAX_WINDOW)) as u32
    }

    /// Counts `n` bytes sent. The caller checks [`SendWindow::available`] first.
    pub fn consume(&mut self, n: u32) {
        self.0 -= i64::from(n);
    }

    /// A WINDOW_UPDATE of `increment`; refused, and the window unchanged, past 2^31 - 1.
    pub fn increase(&mut self, increment: u32) -> Result<(), WindowOverflow> {
        self.adjust(i64::from(increment))
    }

    /// A change of SETTINGS_INITIAL_WINDOW_SIZE by `delta` (§6.9.2); refused, and the window
    /// unchanged, past 2^31 - 1.
    pub fn adjust(&mut self, delta: i64) -> Result<(), WindowOverflow> {
        let next = self.0 + delta;
        if next > i64::from(MAX_WINDOW) {
            return Err(WindowOverflow);
        }
        self.0 = next;
        Ok(())
    }
}

/// DATA beyond the window we advertised (§6.9.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowExceeded;

/// What we let the peer send on a stream or on the connection, and when to say more.
///
/// Three amounts add up to at most `target`: the peer's `credit` (what it may still send,
/// counting every WINDOW_UPDATE we have announced), the bytes received and not yet
/// released by the application (`buffered`), and the bytes released and not yet announced.
/// Receipt ([`RecvWindow::recv`]) and consumption ([`RecvWindow::release`]) are separate, so
/// a slow reader's window closes while a fast one's stays open.
///
/// Announcements are batched: [`RecvWindow::poll_update`] gives an increment only once half
/// the target is waiting to be announced. Auto-tuning: when two announcements come less than
/// two round trips apart, the reader keeps up with a sender that the window limits, and the
/// target doubles, up to `max`.
///
/// ```
/// use std::time::{Duration, Instant};
/// use h2push_h2::state::flow::RecvWindow;
///
/// let mut w = RecvWindow::new(1000, 4000);
/// w.recv(600).unwrap();
/// assert!(w.recv(500).is_err()); // 600 + 500 > 1000
/// w.release(400);
/// assert_eq!(w.poll_update(None, Duration::ZERO), None); // less than half announced-worth
/// w.release(200);
/// assert_eq!(w.poll_update(None, Duration::ZERO), Some(600));
///
/// // A fast reader: the next batch comes within two round trips, so the window doubles.
/// let t = Instant::now();
/// let mut w = RecvWindow::new(1000, 4000);
/// w.recv(500).unwrap();
/// w.release(500);
/// assert_eq!(w.poll_update(Some(t), Duration::from_millis(50)), Some(500));
/// w.recv(500).unwrap();
/// w.release(500);
/// let inc = w.poll_update(Some(t + Duration::from_millis(10)), Duration::from_millis(50));
/// assert_eq!(inc, Some(1500)); // 500 released + 1000 of growth
/// assert_eq!(w.target(), 2000);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecvWindow {
    credit: i64,
    buffered: u64,
    target: i64,
    max: i64,
    last_update: Option<Instant>,
}

impl RecvWindow {
    /// A window whose peer was told `initial`, auto-tuned up to `max` (at least `initial`,
    /// at most 2^31 - 1).
    pub fn new(initial: u32, max: u32) -> RecvWindow {
        let initial = i64::from(initial.min(MAX_WINDOW));
        RecvWindow {
            credit: initial,
            buffered: 0,
            target: initial,
            max: i64::from(max.min(MAX_WINDOW)).max(initial),
            last_update: None,
        }
    }

    /// What the peer may still send (negative after our SETTINGS lowered it, §6.9.2).
    pub fn credit(&self) -> i64 {
        self.credit
    }

    /// Bytes received and not yet released.
    pub fn buffered(&self) -> u64 {
        self.buffered
    }

    /// The window size aimed at.
    pub fn target(&self) -> i64 {
        self.target
    }

    /// The auto-tuning bound.
    pub fn max(&self) -> i64 {
        self.max
    }

    /// Counts `n` received bytes (padding included, §6.1); refused, and nothing counted, if
    /// the peer had less credit.
    pub fn recv(&mut self, n: u32) -> Result<(), WindowExceeded> {
        if i64::from(n) > self.credit {
            return Err(WindowExceeded);
        }
        self.credit -= i64::from(n);
        self.buffered += u64::from(n);
        Ok(())
    }

    /// The application consumed `n` bytes (at most what is buffered: more is ignored).
    /// Returns how many were released.
    pub fn release(&mut self, n: u64) -> u64 {
        let n = n.min(self.buffered);
        self.buffered -= n;
        n
    }

    /// Releases everything buffered (the stream was reset or drained). Returns how much.
    pub fn release_all(&mut self) -> u64 {
        std::mem::take(&mut self.buffered)
    }

    /// Shifts credit and target by `delta`: our SETTINGS_INITIAL_WINDOW_SIZE took effect
    /// (§6.9.2, the receiving side).
    pub fn adjust(&mut self, delta: i64) {
        self.credit += delta;
        self.target = (self.target + delta).max(0);
        self.max = self.max.max(self.target);
    }

    /// Raises the target to at least `at_least` (bounded by `max`): the connection's window
    /// keeps ahead of a stream's that grew.
    pub fn raise_target(&mut self, at_least: i64) {
        self.target = self.target.max(at_least.min(self.max));
    }

    /// The increment of the WINDOW_UPDATE to send now, if half the target is waiting to be
    /// announced; the credit counts it at once. `now` (if known) and the round-trip estimate
    /// `rtt` drive auto-tuning.
    pub fn poll_update(&mut self, now: Option<Instant>, rtt: Duration) -> Option<u32> {
        let unannounced = self.unannounced();
        if unannounced <= 0 || unannounced < self.target / 2 {
            return None;
        }
        if let (Some(now), Some(last)) = (now, self.last_update) {
            if now.saturating_duration_since(last) < rtt * 2 && self.target < self.max {
                self.target = (self.target * 2).min(self.max);
            }
        }
        if now.is_some() {
            self.last_update = now;
        }
        let inc = self.unannounced().min(i64::from(MAX_WINDOW)) as u32;
        self.credit += i64::from(inc);
        Some(inc)
    }

    fn unannounced(&self) -> i64 {
        self.target - self.credit - self.buffered as i64
    }
}
