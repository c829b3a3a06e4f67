//! RFC 9218 extensible priorities: the priority each response is served at, and the order
//! that gives the streams' frames.
//!
//! This module owns the priority signals — the `priority` header field (§5), the
//! PRIORITY_UPDATE field value (§7) and the server's own choice (§8), parsed into
//! [`Priority`] and [`PriorityParams`] and merged per stream by [`StreamPriority`] — the buffer of PRIORITY_UPDATEs for streams not yet open
//! with its §7.1 errors ([`PendingUpdates`]), and the [`Scheduler`] that picks which ready
//! stream writes next (§10). It leaves decoding the PRIORITY_UPDATE frame to `frame`, stream
//! states, flow control and what is ready to `state` and the connection, and what priority a
//! resource deserves (e.g. promoting render-blocking CSS, the priority of a push) to the
//! application, which says so through [`StreamPriority::set_server`] or
//! [`Scheduler::update`].
//!
//! How the pieces go together, for one request:
//!
//! ```
//! use h2push_h2::priority::{PendingUpdates, Priority, PriorityParams, Scheduler, StreamPriority};
//! use h2push_h2::StreamId;
//!
//! let mut pending = PendingUpdates::new(32);
//! let mut sched = Scheduler::new();
//! let id = StreamId::new(1);
//!
//! // HEADERS open stream 1 with `priority: u=4`.
//! let mut headers = http::HeaderMap::new();
//! headers.insert("priority", http::HeaderValue::from_static("u=4"));
//! let mut prio = StreamPriority::new(Priority::from_headers(&headers), pending.take(id));
//! sched.insert(id, prio.effective());
//!
//! // The application knows it is render-blocking CSS (§8).
//! prio.set_server(PriorityParams { urgency: Some(1), incremental: None });
//! sched.update(id, prio.effective());
//!
//! // A PRIORITY_UPDATE for the open stream (§7).
//! if prio.on_update(b"u=5, i") {
//!     sched.update(id, prio.effective());
//! }
//! assert_eq!(sched.priority(id), Some(Priority::new(1, true)));
//!
//! // The response has data and window: it is ready.
//! sched.set_ready(id, true);
//! assert_eq!(sched.next(), Some(id));
//! ```

mod pending;
mod scheduler;
mod signal;

pub use self::pending::{Buffered, PendingUpdates};
pub use self::scheduler::{Scheduler, DEFAULT_QUANTUM};
pub use self::signal::{Priority, PriorityParams, StreamPriority};
