//! Server push (§8.4, §5.1 reserved (local), §5.1.2, §6.8).

use super::{conn_err, id, stream_err, streams, streams_with};
use crate::error::Reason;
use crate::state::{Config, PushError, SendError, StreamState};

#[test]
fn push_only_on_an_open_or_half_closed_remote_client_stream_8_4() {
    let mut s = streams();
    assert_eq!(s.push_promise(id(1)), Err(PushError::ParentNotOpen)); // idle
    s.recv_headers(id(1), false).unwrap();
    assert!(s.push_promise(id(1)).is_ok()); // open
    s.recv_headers(id(3), true).unwrap();
    assert!(s.push_promise(id(3)).is_ok()); // half-closed (remote)
    s.send_head(id(3), true).unwrap(); // closed
    assert_eq!(s.push_promise(id(3)), Err(PushError::ParentNotOpen));
    s.send_head(id(1), true).unwrap(); // half-closed (local)
    assert_eq!(s.push_promise(id(1)), Err(PushError::ParentNotOpen));
    assert_eq!(s.push_promise(id(2)), Err(PushError::ParentNotOpen)); // a pushed stream
}

#[test]
fn push_disabled_by_the_client_8_4() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    s.set_peer_enable_push(false);
    assert_eq!(s.push_promise(id(1)), Err(PushError::Disabled));
    s.set_peer_enable_push(true);
    assert!(s.push_promise(id(1)).is_ok());
}

#[test]
fn pushed_ids_are_even_and_ascending_5_1_1() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    let ids: Vec<u32> = (0..4)
        .map(|_| s.push_promise(id(1)).unwrap().into())
        .collect();
    assert_eq!(ids, [2, 4, 6, 8]);
    assert_eq!(s.reserved_streams(), 4);
    assert_eq!(s.active_pushed_streams(), 0);
}

#[test]
fn pushes_honour_the_client_max_concurrent_streams_5_1_2() {
    let mut s = streams();
    s.set_peer_max_concurrent_streams(1);
    s.recv_headers(id(1), true).unwrap();
    let p = s.push_promise(id(1)).unwrap();
    assert_eq!(s.push_promise(id(1)), Err(PushError::ConcurrencyLimit));
    s.send_head(p, false).unwrap();
    assert_eq!(s.active_pushed_streams(), 1);
    assert_eq!(s.push_promise(id(1)), Err(PushError::ConcurrencyLimit));
    s.send_data(p, 0, true).unwrap();
    assert_eq!(s.active_pushed_streams(), 0);
    assert!(s.push_promise(id(1)).is_ok());
}

#[test]
fn no_pushes_when_the_client_allows_zero_streams_5_1_2() {
    let mut s = streams();
    s.set_peer_max_concurrent_streams(0);
    s.recv_headers(id(1), true).unwrap();
    assert_eq!(s.push_promise(id(1)), Err(PushError::ConcurrencyLimit));
}

#[test]
fn starting_a_push_over_a_lowered_limit_is_refused_5_1_2() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    let a = s.push_promise(id(1)).unwrap();
    let b = s.push_promise(id(1)).unwrap();
    s.set_peer_max_concurrent_streams(1);
    s.send_informational(a).unwrap(); // starts a: 103 on a pushed stream
    assert!(!s.can_start_push());
    assert_eq!(s.send_head(b, true), Err(SendError::ConcurrencyLimit));
    assert_eq!(s.state(b), StreamState::ReservedLocal);
    s.send_head(a, true).unwrap();
    s.send_head(b, true).unwrap();
}

#[test]
fn reserved_streams_do_not_count_toward_our_limit_5_1_2() {
    let mut s = streams_with(Config {
        max_concurrent_streams: 1,
        ..Config::default()
    });
    s.recv_headers(id(1), true).unwrap();
    s.push_promise(id(1)).unwrap();
    s.send_head(id(1), true).unwrap();
    assert!(s.recv_headers(id(3), true).is_ok());
}

#[test]
fn goaway_from_the_client_stops_pushes_6_8() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    let a = s.push_promise(id(1)).unwrap();
    let b = s.push_promise(id(1)).unwrap();
    s.send_head(a, false).unwrap();
    assert_eq!(s.recv_goaway(a), vec![b]);
    assert_eq!(s.state(b), StreamState::Closed);
    assert_eq!(s.push_promise(id(1)), Err(PushError::GoingAway));
    // a was processed by the client and goes on; so does the request.
    s.send_data(a, 1, true).unwrap();
    s.send_head(id(1), true).unwrap();
}

#[test]
fn client_reset_frees_a_promised_stream_8_4() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    let p = s.push_promise(id(1)).unwrap();
    assert_eq!(s.recv_reset(p, Reason::CANCEL), Ok(true));
    assert_eq!(s.reserved_streams(), 0);
    assert_eq!(s.state(p), StreamState::Closed);
    assert_eq!(s.send_head(p, true), Err(SendError::Ended));
    let q = s.push_promise(id(1)).unwrap();
    s.send_head(q, false).unwrap();
    assert_eq!(s.recv_reset(q, Reason::REFUSED_STREAM), Ok(true));
    assert_eq!(s.active_pushed_streams(), 0);
}

#[test]
fn headers_from_the_client_on_a_promised_stream_is_connection_protocol_error_5_1() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    let p = s.push_promise(id(1)).unwrap();
    assert_eq!(conn_err(s.recv_headers(p, true)), Reason::PROTOCOL_ERROR);
}

#[test]
fn data_from_the_client_on_a_promised_stream_is_connection_protocol_error_5_1() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    let p = s.push_promise(id(1)).unwrap();
    assert_eq!(conn_err(s.recv_data(p, 1, false)), Reason::PROTOCOL_ERROR);
}

#[test]
fn window_update_on_a_promised_stream_is_allowed_5_1() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    let p = s.push_promise(id(1)).unwrap();
    s.recv_window_update(p, 1000).unwrap();
    s.send_head(p, false).unwrap();
    s.recv_window_update(id(0), 1000).unwrap();
    assert_eq!(s.send_capacity(p), 65_535 + 1000);
}

#[test]
fn data_from_the_client_on_a_started_push_is_stream_closed_5_1() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    let p = s.push_promise(id(1)).unwrap();
    s.send_head(p, false).unwrap();
    assert_eq!(s.state(p), StreamState::HalfClosedRemote);
    assert_eq!(
        stream_err(s.recv_data(p, 1, false), p),
        Reason::STREAM_CLOSED
    );
}

#[test]
fn headers_on_an_unused_even_id_is_connection_protocol_error_5_1_1() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    s.push_promise(id(1)).unwrap();
    assert_eq!(
        conn_err(s.recv_headers(id(4), true)),
        Reason::PROTOCOL_ERROR
    );
    assert_eq!(
        conn_err(s.recv_window_update(id(4), 1)),
        Reason::PROTOCOL_ERROR
    );
}
