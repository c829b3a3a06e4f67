//! Frames from the client (§5.1, §5.1.1, §5.1.2, §5.4, §6.4, §8.1.1).

use std::time::{Duration, Instant};

use super::{actions, conn_err, id, stream_err, streams, streams_with};
use crate::error::Reason;
use crate::state::{Config, RecvData, RecvHeaders, StreamState};

#[test]
fn headers_opens_a_stream_5_1() {
    let mut s = streams();
    assert_eq!(s.state(id(1)), StreamState::Idle);
    assert_eq!(s.recv_headers(id(1), false), Ok(RecvHeaders::Request));
    assert_eq!(s.state(id(1)), StreamState::Open);
    assert_eq!(s.recv_headers(id(3), true), Ok(RecvHeaders::Request));
    assert_eq!(s.state(id(3)), StreamState::HalfClosedRemote);
    assert_eq!(s.active_client_streams(), 2);
    assert_eq!(s.last_client_stream(), id(3));
}

#[test]
fn data_on_idle_stream_is_connection_protocol_error_5_1() {
    let mut s = streams();
    assert_eq!(
        conn_err(s.recv_data(id(1), 1, false)),
        Reason::PROTOCOL_ERROR
    );
    assert_eq!(
        conn_err(s.recv_data(id(2), 1, false)),
        Reason::PROTOCOL_ERROR
    );
}

#[test]
fn rst_stream_on_idle_stream_is_connection_protocol_error_6_4() {
    let mut s = streams();
    let e = s.recv_reset(id(1), Reason::CANCEL).unwrap_err();
    assert_eq!(e.reason, Reason::PROTOCOL_ERROR);
    let e = s.recv_reset(id(2), Reason::CANCEL).unwrap_err();
    assert_eq!(e.reason, Reason::PROTOCOL_ERROR);
}

#[test]
fn window_update_on_idle_stream_is_connection_protocol_error_5_1() {
    let mut s = streams();
    assert_eq!(
        conn_err(s.recv_window_update(id(5), 10)),
        Reason::PROTOCOL_ERROR
    );
}

#[test]
fn frames_on_stream_zero_are_connection_protocol_errors_6_1_6_2_6_4() {
    let mut s = streams();
    assert_eq!(
        conn_err(s.recv_headers(id(0), true)),
        Reason::PROTOCOL_ERROR
    );
    assert_eq!(
        conn_err(s.recv_data(id(0), 1, true)),
        Reason::PROTOCOL_ERROR
    );
    assert!(s.recv_reset(id(0), Reason::CANCEL).is_err());
}

#[test]
fn data_on_half_closed_remote_is_stream_closed_5_1() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    assert_eq!(
        stream_err(s.recv_data(id(1), 4, false), id(1)),
        Reason::STREAM_CLOSED
    );
    assert_eq!(s.state(id(1)), StreamState::Closed);
}

#[test]
fn headers_on_half_closed_remote_is_stream_closed_5_1() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    assert_eq!(
        stream_err(s.recv_headers(id(1), true), id(1)),
        Reason::STREAM_CLOSED
    );
}

#[test]
fn trailers_are_accepted_with_end_stream_8_1() {
    let mut s = streams();
    s.recv_headers(id(1), false).unwrap();
    assert_eq!(s.recv_data(id(1), 3, false), Ok(RecvData::Deliver));
    assert_eq!(s.recv_headers(id(1), true), Ok(RecvHeaders::Trailers));
    assert_eq!(s.state(id(1)), StreamState::HalfClosedRemote);
}

#[test]
fn trailers_without_end_stream_are_stream_protocol_error_8_1() {
    let mut s = streams();
    s.recv_headers(id(1), false).unwrap();
    assert_eq!(
        stream_err(s.recv_headers(id(1), false), id(1)),
        Reason::PROTOCOL_ERROR
    );
    assert_eq!(s.state(id(1)), StreamState::Closed);
}

#[test]
fn third_headers_is_stream_closed_8_1() {
    let mut s = streams();
    s.recv_headers(id(1), false).unwrap();
    s.recv_headers(id(1), true).unwrap();
    assert_eq!(
        stream_err(s.recv_headers(id(1), true), id(1)),
        Reason::STREAM_CLOSED
    );
}

#[test]
fn new_stream_id_not_above_highest_is_connection_protocol_error_5_1_1() {
    let mut s = streams();
    s.recv_headers(id(5), true).unwrap();
    s.send_head(id(5), true).unwrap();
    // 3 was never used: implicitly closed, and not a valid new stream.
    assert_eq!(
        conn_err(s.recv_headers(id(3), true)),
        Reason::PROTOCOL_ERROR
    );
    // 5 closed both ways: reusing it is a connection STREAM_CLOSED (§5.1 closed).
    assert_eq!(
        conn_err(s.recv_headers(id(5), false)),
        Reason::STREAM_CLOSED
    );
}

#[test]
fn even_stream_from_client_is_connection_protocol_error_5_1_1() {
    let mut s = streams();
    assert_eq!(
        conn_err(s.recv_headers(id(2), false)),
        Reason::PROTOCOL_ERROR
    );
}

#[test]
fn lower_idle_streams_are_implicitly_closed_5_1_1() {
    let mut s = streams();
    s.recv_headers(id(7), false).unwrap();
    for n in [1, 3, 5] {
        assert_eq!(s.state(id(n)), StreamState::Closed);
    }
    assert_eq!(
        stream_err(s.recv_data(id(3), 1, false), id(3)),
        Reason::STREAM_CLOSED
    );
    // WINDOW_UPDATE and RST_STREAM on them are ignored (§5.1 closed).
    s.recv_window_update(id(3), 5).unwrap();
    assert_eq!(s.recv_reset(id(3), Reason::CANCEL), Ok(false));
}

#[test]
fn over_max_concurrent_streams_is_refused_stream_5_1_2() {
    let mut s = streams_with(Config {
        max_concurrent_streams: 2,
        ..Config::default()
    });
    s.recv_headers(id(1), false).unwrap();
    s.recv_headers(id(3), false).unwrap();
    assert_eq!(
        stream_err(s.recv_headers(id(5), false), id(5)),
        Reason::REFUSED_STREAM
    );
    assert_eq!(s.active_client_streams(), 2);
    // The refused request's body, already in flight, is ignored, not an error (§5.1).
    assert_eq!(s.recv_data(id(5), 100, true), Ok(RecvData::Discarded));
    // The id is used up (§5.1.1).
    assert_eq!(s.last_client_stream(), id(5));
    // Once a stream closes there is room again.
    s.send_head(id(1), true).unwrap();
    s.recv_data(id(1), 0, true).unwrap();
    assert_eq!(s.recv_headers(id(7), true), Ok(RecvHeaders::Request));
}

#[test]
fn half_closed_streams_count_toward_the_limit_5_1_2() {
    let mut s = streams_with(Config {
        max_concurrent_streams: 1,
        ..Config::default()
    });
    s.recv_headers(id(1), true).unwrap(); // half-closed (remote)
    assert_eq!(
        stream_err(s.recv_headers(id(3), true), id(3)),
        Reason::REFUSED_STREAM
    );
}

#[test]
fn frames_after_our_reset_are_ignored_5_1() {
    let mut s = streams();
    s.recv_headers(id(1), false).unwrap();
    s.recv_data(id(1), 10, false).unwrap();
    s.send_reset(id(1)).unwrap();
    assert_eq!(s.recv_data(id(1), 20, false), Ok(RecvData::Discarded));
    assert_eq!(s.recv_headers(id(1), true), Ok(RecvHeaders::Ignored));
    assert_eq!(s.recv_window_update(id(1), 1), Ok(()));
    assert_eq!(s.recv_reset(id(1), Reason::CANCEL), Ok(false));
    // The ignored DATA and the buffered DATA were released on the connection (§6.9).
    assert_eq!(s.connection_recv_window().buffered(), 0);
}

#[test]
fn frames_long_after_our_reset_are_stream_closed_5_1() {
    let mut s = streams();
    let t = Instant::now();
    s.expire(t);
    s.recv_headers(id(1), false).unwrap();
    s.send_reset(id(1)).unwrap();
    assert_eq!(s.recv_data(id(1), 1, false), Ok(RecvData::Discarded));
    let next = s.expire(t + Duration::from_millis(500)).unwrap();
    assert_eq!(next, t + s.config().reset_grace);
    assert_eq!(s.recv_data(id(1), 1, false), Ok(RecvData::Discarded));
    s.expire(t + s.config().reset_grace);
    assert_eq!(
        stream_err(s.recv_data(id(1), 1, false), id(1)),
        Reason::STREAM_CLOSED
    );
}

#[test]
fn stream_error_closes_the_stream_and_ignores_what_follows_5_4_2() {
    let mut s = streams();
    s.recv_headers(id(1), false).unwrap();
    assert!(s.recv_headers(id(1), false).is_err()); // trailers without END_STREAM
    assert_eq!(s.recv_data(id(1), 5, true), Ok(RecvData::Discarded));
    assert_eq!(s.active_client_streams(), 0);
}

#[test]
fn data_after_end_stream_both_ways_is_connection_stream_closed_5_1() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    s.send_head(id(1), true).unwrap();
    assert_eq!(s.state(id(1)), StreamState::Closed);
    assert_eq!(
        conn_err(s.recv_data(id(1), 1, false)),
        Reason::STREAM_CLOSED
    );
    assert_eq!(conn_err(s.recv_headers(id(1), true)), Reason::STREAM_CLOSED);
}

#[test]
fn window_update_and_rst_after_end_stream_are_ignored_5_1() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    s.send_head(id(1), true).unwrap();
    assert_eq!(s.recv_window_update(id(1), 100), Ok(()));
    assert_eq!(s.recv_reset(id(1), Reason::NO_ERROR), Ok(false));
}

#[test]
fn data_after_client_reset_is_stream_closed_5_1() {
    let mut s = streams();
    s.recv_headers(id(1), false).unwrap();
    assert_eq!(s.recv_reset(id(1), Reason::CANCEL), Ok(true));
    assert_eq!(s.state(id(1)), StreamState::Closed);
    assert_eq!(
        stream_err(s.recv_data(id(1), 1, false), id(1)),
        Reason::STREAM_CLOSED
    );
    assert!(s.send_head(id(1), false).is_err());
}

#[test]
fn rst_stream_is_never_answered_5_4_2() {
    let mut s = streams();
    s.recv_headers(id(1), false).unwrap();
    assert_eq!(s.recv_reset(id(1), Reason::CANCEL), Ok(true));
    assert_eq!(s.recv_reset(id(1), Reason::CANCEL), Ok(false));
}

#[test]
fn data_on_forgotten_closed_stream_is_stream_closed_5_1() {
    let mut s = streams_with(Config {
        closed_memory: 0,
        ..Config::default()
    });
    s.recv_headers(id(1), true).unwrap();
    s.send_head(id(1), true).unwrap();
    assert_eq!(
        stream_err(s.recv_data(id(1), 1, false), id(1)),
        Reason::STREAM_CLOSED
    );
}

#[test]
fn data_beyond_content_length_is_malformed_8_1_1() {
    let mut s = streams();
    s.recv_headers(id(1), false).unwrap();
    s.expect_content_length(id(1), 4).unwrap();
    s.recv_data(id(1), 3, false).unwrap();
    assert_eq!(
        stream_err(s.recv_data(id(1), 2, false), id(1)),
        Reason::PROTOCOL_ERROR
    );
}

#[test]
fn body_short_of_content_length_is_malformed_8_1_1() {
    let mut s = streams();
    s.recv_headers(id(1), false).unwrap();
    s.expect_content_length(id(1), 4).unwrap();
    s.recv_data(id(1), 3, false).unwrap();
    assert_eq!(
        stream_err(s.recv_data(id(1), 0, true), id(1)),
        Reason::PROTOCOL_ERROR
    );
    let mut s = streams();
    s.recv_headers(id(1), false).unwrap();
    s.expect_content_length(id(1), 4).unwrap();
    s.recv_data(id(1), 3, false).unwrap();
    assert_eq!(
        stream_err(s.recv_headers(id(1), true), id(1)),
        Reason::PROTOCOL_ERROR
    );
}

#[test]
fn content_length_on_a_bodiless_request_is_malformed_8_1_1() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    assert_eq!(
        stream_err(s.expect_content_length(id(1), 10), id(1)),
        Reason::PROTOCOL_ERROR
    );
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    assert_eq!(s.expect_content_length(id(1), 0), Ok(()));
}

#[test]
fn body_matching_content_length_is_accepted_8_1_1() {
    let mut s = streams();
    s.recv_headers(id(1), false).unwrap();
    s.expect_content_length(id(1), 5).unwrap();
    s.recv_data_padded(id(1), 10, 7, false).unwrap(); // 3 payload bytes
    assert_eq!(s.recv_data(id(1), 2, true), Ok(RecvData::Deliver));
}

#[test]
fn push_promise_from_client_is_connection_protocol_error_8_4() {
    let mut s = streams();
    assert_eq!(s.recv_push_promise().reason, Reason::PROTOCOL_ERROR);
}

#[test]
fn streams_after_our_goaway_are_ignored_6_8() {
    let mut s = streams();
    s.recv_headers(id(1), false).unwrap();
    s.send_goaway(id(1));
    assert_eq!(s.recv_headers(id(3), false), Ok(RecvHeaders::Ignored));
    assert_eq!(s.recv_data(id(3), 10, true), Ok(RecvData::Discarded));
    // Streams up to the last id go on.
    assert_eq!(s.recv_data(id(1), 10, true), Ok(RecvData::Deliver));
    let _ = actions(&mut s);
}
