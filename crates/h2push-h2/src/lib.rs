//! h2push's server-side HTTP/2 engine (RFC 9113, RFC 7541, RFC 9218).
//!
//! This crate owns the wire protocol and nothing else: frame encoding and decoding with every
//! size and flag rule (`frame`), header compression (`hpack`), stream and connection state
//! with the exact error for each rule (`state`), and the RFC 9218 priority signals and the
//! order they give responses (`priority`). It does no I/O and knows no application policy —
//! bytes and calls go in, frames and events come out — so every RFC rule is testable with
//! byte strings and no sockets. The socket, TLS, timers and what to push are the `h2push`
//! crate's (`conn/h2`).
//!
//! Why hand-written: no maintained Rust HTTP/2 implementation offers both server push and
//! 1xx responses at speed (the `h2` crate does both, but with a lock per connection and copies
//! that cost more than half of h2push's CPU on small responses).

pub mod error;
pub mod frame;
pub mod hpack;
pub mod priority;
pub mod server;
pub mod state;

pub use error::{ConnectionError, ProtocolError, Reason, StreamError};
pub use frame::StreamId;
