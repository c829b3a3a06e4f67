//! h2push: an HTTP/2 server that gets a page's critical resources to the client before it
//! asks (server push and 103 Early Hints) and streams live events to it.
#![warn(missing_docs)]

pub mod body;
pub mod probe;
pub mod tls;

pub use body::{Body, BoxError};
