//! What we send: heads, DATA, trailers, resets, and draining early answers (§8.1, §5.1).

use std::time::{Duration, Instant};

use super::{actions, id, streams, streams_with};
use crate::error::Reason;
use crate::state::{Action, Config, RecvData, RecvHeaders, SendError, StreamState};

#[test]
fn informational_heads_any_number_before_the_final_head_8_1() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    for _ in 0..3 {
        s.send_informational(id(1)).unwrap(); // 103, 103, 100…
    }
    s.send_head(id(1), false).unwrap();
    s.send_data(id(1), 10, false).unwrap();
    s.send_trailers(id(1)).unwrap();
    assert_eq!(s.state(id(1)), StreamState::Closed);
}

#[test]
fn informational_after_the_final_head_is_refused_8_1() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    s.send_head(id(1), false).unwrap();
    assert_eq!(s.send_informational(id(1)), Err(SendError::FinalHeadSent));
    assert_eq!(s.send_head(id(1), false), Err(SendError::FinalHeadSent));
    assert_eq!(s.state(id(1)), StreamState::HalfClosedRemote);
}

#[test]
fn any_head_after_end_of_stream_is_refused_8_1() {
    let mut s = streams();
    s.recv_headers(id(1), false).unwrap();
    s.send_head(id(1), true).unwrap();
    assert_eq!(s.state(id(1)), StreamState::HalfClosedLocal);
    assert_eq!(s.send_informational(id(1)), Err(SendError::Ended));
    assert_eq!(s.send_head(id(1), true), Err(SendError::Ended));
    assert_eq!(s.send_data(id(1), 1, true), Err(SendError::Ended));
    assert_eq!(s.send_trailers(id(1)), Err(SendError::Ended));
}

#[test]
fn data_or_trailers_before_the_final_head_are_refused_8_1() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    assert_eq!(s.send_data(id(1), 1, false), Err(SendError::NoFinalHead));
    s.send_informational(id(1)).unwrap();
    assert_eq!(s.send_trailers(id(1)), Err(SendError::NoFinalHead));
    assert_eq!(s.send_capacity(id(1)), 0);
}

#[test]
fn sending_on_an_unknown_stream_is_refused() {
    let mut s = streams();
    assert_eq!(s.send_head(id(1), true), Err(SendError::UnknownStream));
    assert_eq!(s.send_data(id(9), 1, true), Err(SendError::UnknownStream));
    assert_eq!(s.send_reset(id(1)), Err(SendError::UnknownStream));
}

#[test]
fn reset_of_a_closed_stream_is_refused_5_1() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    s.send_head(id(1), true).unwrap();
    assert_eq!(s.send_reset(id(1)), Err(SendError::Ended));
}

#[test]
fn data_beyond_the_send_window_is_refused_6_9() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    s.send_head(id(1), false).unwrap();
    assert_eq!(s.send_capacity(id(1)), 65_535);
    s.send_data(id(1), 65_000, false).unwrap();
    assert_eq!(
        s.send_data(id(1), 1_000, false),
        Err(SendError::FlowControl { available: 535 })
    );
    s.recv_window_update(id(1), 10_000).unwrap();
    assert_eq!(s.send_capacity(id(1)), 535); // now the connection limits
    s.recv_window_update(id(0), 10_000).unwrap();
    assert_eq!(s.send_capacity(id(1)), 10_535);
}

#[test]
fn early_answer_goes_half_closed_local_5_1() {
    let mut s = streams();
    s.recv_headers(id(1), false).unwrap();
    s.send_head(id(1), true).unwrap();
    assert_eq!(s.state(id(1)), StreamState::HalfClosedLocal);
    assert_eq!(s.recv_data(id(1), 10, false), Ok(RecvData::Deliver));
    assert_eq!(s.recv_data(id(1), 10, true), Ok(RecvData::Deliver));
    assert_eq!(s.state(id(1)), StreamState::Closed); // held until released
    s.release(id(1), 20, None);
    assert_eq!(s.store().iter().count(), 0);
}

fn draining(config: Config) -> (crate::state::Streams, Instant) {
    let mut s = streams_with(config);
    let t = Instant::now();
    s.expire(t);
    s.recv_headers(id(1), false).unwrap();
    s.recv_data(id(1), 100, false).unwrap();
    s.send_head(id(1), true).unwrap();
    s.drain(id(1), t + Duration::from_secs(1)).unwrap();
    (s, t)
}

#[test]
fn draining_discards_and_returns_credit_8_1() {
    let (mut s, _) = draining(Config::default());
    assert_eq!(s.state(id(1)), StreamState::Draining);
    assert_eq!(s.connection_recv_window().buffered(), 0);
    let mut stream_credit = 0;
    for _ in 0..20 {
        assert_eq!(s.recv_data(id(1), 16_384, false), Ok(RecvData::Discarded));
        for a in actions(&mut s) {
            if let Action::WindowUpdate { stream, increment } = a {
                if stream == id(1) {
                    stream_credit += increment;
                }
            }
        }
    }
    // 20 × 16 KiB is beyond a 64 KiB stream window: credit came back as it was discarded.
    assert!(stream_credit >= 16_384 * 16);
}

#[test]
fn draining_past_its_byte_bound_resets_with_no_error_8_1() {
    let (mut s, _) = draining(Config {
        drain_max_bytes: 1_000,
        ..Config::default()
    });
    assert_eq!(s.recv_data(id(1), 600, false), Ok(RecvData::Discarded));
    assert!(actions(&mut s)
        .iter()
        .all(|a| !matches!(a, Action::Reset { .. })));
    assert_eq!(s.recv_data(id(1), 600, false), Ok(RecvData::Discarded));
    let reset = Action::Reset {
        stream: id(1),
        reason: Reason::NO_ERROR,
    };
    assert!(actions(&mut s).contains(&reset));
    // What the client had in flight is ignored, not answered with STREAM_CLOSED.
    assert_eq!(s.recv_data(id(1), 16_000, false), Ok(RecvData::Discarded));
    assert_eq!(s.recv_headers(id(1), true), Ok(RecvHeaders::Ignored));
}

#[test]
fn draining_past_its_deadline_resets_with_no_error_8_1() {
    let (mut s, t) = draining(Config::default());
    assert_eq!(
        s.expire(t + Duration::from_millis(10)),
        Some(t + Duration::from_secs(1))
    );
    assert!(actions(&mut s).is_empty());
    s.expire(t + Duration::from_secs(1));
    assert_eq!(
        actions(&mut s),
        vec![Action::Reset {
            stream: id(1),
            reason: Reason::NO_ERROR
        }]
    );
    assert_eq!(s.recv_data(id(1), 10, true), Ok(RecvData::Discarded));
}

#[test]
fn draining_ends_without_reset_when_the_request_ends_8_1() {
    let (mut s, t) = draining(Config::default());
    assert_eq!(s.recv_data(id(1), 10, true), Ok(RecvData::Discarded));
    assert_eq!(s.state(id(1)), StreamState::Closed);
    s.expire(t + Duration::from_secs(5));
    assert!(actions(&mut s)
        .iter()
        .all(|a| !matches!(a, Action::Reset { .. })));
    let (mut s, _) = draining(Config::default());
    assert_eq!(s.recv_headers(id(1), true), Ok(RecvHeaders::Ignored)); // trailers
    assert_eq!(s.state(id(1)), StreamState::Closed);
}

#[test]
fn drain_needs_a_complete_response_and_an_open_request_8_1() {
    let mut s = streams();
    let t = Instant::now();
    s.recv_headers(id(1), false).unwrap();
    assert_eq!(s.drain(id(1), t), Err(SendError::NotHalfClosedLocal));
    s.recv_headers(id(3), true).unwrap();
    s.send_head(id(3), false).unwrap();
    assert_eq!(s.drain(id(3), t), Err(SendError::NotHalfClosedLocal));
    assert_eq!(s.drain(id(9), t), Err(SendError::UnknownStream));
}

#[test]
fn release_after_reset_changes_nothing_6_9() {
    let mut s = streams();
    s.recv_headers(id(1), false).unwrap();
    s.recv_data(id(1), 1000, false).unwrap();
    s.send_reset(id(1)).unwrap();
    let before = s.connection_recv_window().clone();
    s.release(id(1), 1000, None);
    assert_eq!(s.connection_recv_window(), &before);
}
