//! Hints: which resources a response should push, early-hint or preload.
//!
//! This module owns the hint side of h2push: the [`EarlyHints`](early_hints::EarlyHints)
//! extension, `Link` header parsing ([`link`]), and the push policy ([`policy`]: configured
//! rules and the response's `Link: rel=preload` headers). It decides; the connection drivers
//! in `conn` send.

pub mod early_hints;
pub mod link;
pub mod policy;

pub use link::{destination_for, parse_links, Hint, Link};
pub use policy::{is_navigation, HintLayer, HintPolicy, HintService, PushRule};
