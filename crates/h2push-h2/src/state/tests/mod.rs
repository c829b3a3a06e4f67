//! Tests of the state module, one per rule, each named after the RFC section it checks.

mod flow;
mod message;
mod prop;
mod push;
mod recv;
mod send;

use super::{Action, Config, Streams};
use crate::error::{ProtocolError, Reason};
use crate::frame::StreamId;

pub(super) fn id(n: u32) -> StreamId {
    StreamId::new(n)
}

pub(super) fn streams() -> Streams {
    Streams::new(Config::default())
}

/// A connection whose SETTINGS were acknowledged and whose first actions were taken.
pub(super) fn streams_with(config: Config) -> Streams {
    let mut s = Streams::new(config);
    s.recv_settings_ack();
    actions(&mut s);
    s
}

pub(super) fn actions(s: &mut Streams) -> Vec<Action> {
    std::iter::from_fn(|| s.poll_action()).collect()
}

/// The code of a connection error; panics (in the test) on anything else.
#[track_caller]
pub(super) fn conn_err<T: std::fmt::Debug>(r: Result<T, ProtocolError>) -> Reason {
    match r {
        Err(ProtocolError::Connection(e)) => e.reason,
        other => panic!("expected a connection error, got {other:?}"),
    }
}

/// The code of a stream error; panics (in the test) on anything else.
#[track_caller]
pub(super) fn stream_err<T: std::fmt::Debug>(r: Result<T, ProtocolError>, on: StreamId) -> Reason {
    match r {
        Err(ProtocolError::Stream(e)) => {
            assert_eq!(e.stream, on);
            e.reason
        }
        other => panic!("expected a stream error, got {other:?}"),
    }
}
