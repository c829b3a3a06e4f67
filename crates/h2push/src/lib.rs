//! h2push: an HTTP/2 server that gets a page's critical resources to the client before it
//! asks (server push and 103 Early Hints) and streams live events to it.
#![warn(missing_docs)]

pub mod body;
pub mod compress;
pub(crate) mod conn;
mod field_list;
pub mod files;
pub mod hints;
pub mod probe;
pub mod proxy;
pub mod push;
pub mod server;
pub mod sse;
pub mod tls;

pub use body::{Body, BoxError};
pub use compress::{CompressConfig, CompressionLayer};
pub use conn::{HttpService, Limits, PeerAddr, Protocol};
pub use files::StaticFiles;
pub use hints::early_hints::{EarlyHints, EarlyHintsError};
pub use push::{PushBuilder, PushError, Pusher};
pub use server::{Server, ServerBuilder, ServerError, ShutdownHandle};
