//! Connection tests (raw frames in, frames out).
