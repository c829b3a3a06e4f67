//! Stream identifiers (RFC 9113 §5.1.1).

use std::fmt;

/// A 31-bit stream identifier. Streams the client opens are odd, those the server opens
/// (pushes) are even; `0` is the connection itself.
///
/// ```
/// use h2push_h2::StreamId;
///
/// let s = StreamId::new(1);
/// assert!(s.is_client_initiated());
/// assert!(StreamId::new(2).is_server_initiated());
/// assert!(StreamId::ZERO.is_zero());
/// // The reserved high bit is ignored on receipt (§4.1).
/// assert_eq!(StreamId::from_wire(0x8000_0005), StreamId::new(5));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId(u32);

impl StreamId {
    /// Stream 0: frames about the connection as a whole.
    pub const ZERO: StreamId = StreamId(0);
    /// The largest stream identifier, 2^31 - 1.
    pub const MAX: StreamId = StreamId(0x7fff_ffff);

    /// The identifier `id`, which must fit in 31 bits.
    ///
    /// # Panics
    ///
    /// If `id` has the reserved high bit set; use [`StreamId::from_wire`] for received values.
    pub const fn new(id: u32) -> StreamId {
        assert!(id <= 0x7fff_ffff, "stream identifiers have 31 bits");
        StreamId(id)
    }

    /// The identifier in a received 32-bit field, the reserved bit cleared (§4.1).
    pub const fn from_wire(raw: u32) -> StreamId {
        StreamId(raw & 0x7fff_ffff)
    }

    /// Whether this is stream 0.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Whether the client opens streams with this identifier (odd).
    pub const fn is_client_initiated(self) -> bool {
        self.0 % 2 == 1
    }

    /// Whether the server opens streams with this identifier (even, not 0).
    pub const fn is_server_initiated(self) -> bool {
        self.0 != 0 && self.0 % 2 == 0
    }

    /// The next identifier of the same parity, if there is one.
    pub const fn next(self) -> Option<StreamId> {
        if self.0 >= 0x7fff_fffe {
            None
        } else {
            Some(StreamId(self.0 + 2))
        }
    }
}

impl From<StreamId> for u32 {
    fn from(s: StreamId) -> u32 {
        s.0
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamId({})", self.0)
    }
}
