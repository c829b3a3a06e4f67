//! Hints: which resources a response should push, early-hint or preload.
//!
//! This module owns the hint side of h2push, one feature per file as h2o keeps them:
//!
//! - [`link`]: the hint model ([`Hint`]) and `Link` header parsing and writing;
//! - [`policy`]: the declaration ([`HintPolicy`], [`PushRule`]) and the navigation test;
//! - `service`: the tower layer ([`HintLayer`]) that applies it to each request;
//! - `html`: what a static page's `<head>` names that a preload can serve ([`scan_head`]);
//! - `css`: what its stylesheets fetch next — imports, fonts, a hero ([`scan_css`]);
//! - `learn`: hints learned from `Referer` ([`LearnConfig`]);
//! - `digest`: the cross-visit cache digest cookie ([`CacheDigest`], [`DigestConfig`]);
//! - `digest_key`: its key from a secret text shared by instances ([`DigestConfig::with_key`]);
//! - `order`: push order and the per-page [`Budget`];
//! - `reuse`: whether the browser will reuse a hinted response ([`reused_from_cache`]), and
//!   whether a response is anyone's (what a dynamic page may learn);
//! - `metrics`: Prometheus counters ([`HintMetrics`]);
//! - [`early_hints`]: the [`EarlyHints`](early_hints::EarlyHints) request extension.
//!
//! It decides; the connection drivers in `conn` send. The per-connection push diary (one push
//! per path, none after the client cancelled it) is [`crate::push`]'s `PushBook`, which every
//! push passes through.
//!
//! ```
//! use h2push::hints::{Hint, HintLayer, HintPolicy, PushRule};
//! use tower::Layer;
//! # let dir = tempfile::tempdir().unwrap();
//! let files = h2push::StaticFiles::new(dir.path()).unwrap();
//! // `serve ./site` with no configuration: HTML scanning, learning, digest, 103, preload.
//! let mut policy = HintPolicy::default().with_files(files.clone());
//! // Plus a rule and a metrics page.
//! policy.rules.push(PushRule::new("/", [Hint::new("/font.woff2")]));
//! policy.metrics_path = Some("/metrics".into());
//! let service = HintLayer::new(policy).layer(files);
//! # drop(service);
//! ```

mod body;
mod css;
mod digest;
mod digest_key;
pub mod early_hints;
mod html;
mod learn;
pub mod link;
mod metrics;
mod order;
pub mod policy;
mod reuse;
mod scan_cache;
mod service;

pub use body::HintBody;
pub use css::scan_css;
pub use digest::{resource_key, CacheDigest, DigestConfig};
pub use digest_key::{DigestKeyError, MIN_DIGEST_KEY_LEN};
pub use html::scan_head;
pub use learn::{LearnConfig, LearnMode};
pub use link::{destination_for, parse_links, Hint, HintRel, Link};
pub use metrics::HintMetrics;
pub use order::{sort_hints, Budget, Priority};
pub use policy::{is_navigation, HintPolicy, PushRule};
pub use reuse::reused_from_cache;
pub use service::{HintLayer, HintService};
