//! Flow control (§5.2, §6.9, §6.9.1, §6.9.2) and the window-update policy.

use std::time::{Duration, Instant};

use super::{actions, conn_err, id, stream_err, streams, streams_with};
use crate::error::Reason;
use crate::state::flow::MAX_WINDOW;
use crate::state::{Action, Config, RecvData, Streams};

fn updates(s: &mut Streams, on: u32) -> u32 {
    actions(s)
        .into_iter()
        .filter_map(|a| match a {
            Action::WindowUpdate { stream, increment } if u32::from(stream) == on => {
                Some(increment)
            }
            _ => None,
        })
        .sum()
}

#[test]
fn the_connection_window_is_raised_at_start_6_9_2() {
    let mut s = Streams::new(Config {
        initial_connection_window: 1 << 20,
        ..Config::default()
    });
    assert_eq!(updates(&mut s, 0), (1 << 20) - 65_535);
    let mut s = Streams::new(Config {
        initial_connection_window: 1000,
        ..Config::default()
    });
    assert_eq!(updates(&mut s, 0), 0); // a window cannot shrink below 65,535
}

#[test]
fn initial_window_change_adjusts_send_windows_and_may_go_negative_6_9_2() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    s.send_head(id(1), false).unwrap();
    s.send_data(id(1), 60_000, false).unwrap();
    s.set_peer_initial_window_size(50_000).unwrap();
    assert_eq!(s.store().get(id(1)).unwrap().send.size(), -10_000);
    assert_eq!(s.send_capacity(id(1)), 0);
    s.set_peer_initial_window_size(80_000).unwrap();
    assert_eq!(s.store().get(id(1)).unwrap().send.size(), 20_000);
    // New streams start at the new size.
    s.recv_headers(id(3), true).unwrap();
    assert_eq!(s.store().get(id(3)).unwrap().send.size(), 80_000);
    // The connection window is not changed by SETTINGS.
    assert_eq!(s.connection_send_window(), 65_535 - 60_000);
}

#[test]
fn initial_window_change_past_the_maximum_is_connection_flow_control_error_6_9_2() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    s.recv_window_update(id(1), MAX_WINDOW - 65_535).unwrap();
    let e = s.set_peer_initial_window_size(65_536).unwrap_err();
    assert_eq!(e.reason, Reason::FLOW_CONTROL_ERROR);
}

#[test]
fn initial_window_size_above_the_maximum_is_flow_control_error_6_5_2() {
    let mut s = streams();
    let e = s.set_peer_initial_window_size(MAX_WINDOW + 1).unwrap_err();
    assert_eq!(e.reason, Reason::FLOW_CONTROL_ERROR);
    assert!(s.set_peer_initial_window_size(MAX_WINDOW).is_ok());
}

#[test]
fn window_update_overflow_on_a_stream_is_stream_flow_control_error_6_9_1() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    s.recv_window_update(id(1), MAX_WINDOW - 65_535).unwrap();
    assert_eq!(
        stream_err(s.recv_window_update(id(1), 1), id(1)),
        Reason::FLOW_CONTROL_ERROR
    );
    assert_eq!(
        s.send_head(id(1), true),
        Err(crate::state::SendError::Ended)
    );
}

#[test]
fn window_update_overflow_on_the_connection_is_connection_flow_control_error_6_9_1() {
    let mut s = streams();
    s.recv_window_update(id(0), MAX_WINDOW - 65_535).unwrap();
    assert_eq!(
        conn_err(s.recv_window_update(id(0), 1)),
        Reason::FLOW_CONTROL_ERROR
    );
}

#[test]
fn window_update_of_zero_is_protocol_error_6_9() {
    let mut s = streams();
    s.recv_headers(id(1), true).unwrap();
    assert_eq!(
        stream_err(s.recv_window_update(id(1), 0), id(1)),
        Reason::PROTOCOL_ERROR
    );
    assert_eq!(
        conn_err(s.recv_window_update(id(0), 0)),
        Reason::PROTOCOL_ERROR
    );
}

#[test]
fn data_beyond_the_stream_window_is_stream_flow_control_error_6_9_1() {
    let mut s = streams_with(Config {
        initial_stream_window: 1000,
        ..Config::default()
    });
    s.recv_headers(id(1), false).unwrap();
    s.recv_data(id(1), 1000, false).unwrap();
    assert_eq!(
        stream_err(s.recv_data(id(1), 1, false), id(1)),
        Reason::FLOW_CONTROL_ERROR
    );
    // Both frames' bytes went back to the connection window.
    assert_eq!(s.connection_recv_window().buffered(), 0);
}

#[test]
fn data_beyond_the_connection_window_is_connection_flow_control_error_6_9_1() {
    let mut s = streams_with(Config {
        initial_connection_window: 65_535,
        ..Config::default()
    });
    for n in [1, 3] {
        s.recv_headers(id(n), false).unwrap();
        s.recv_data(id(n), 32_000, false).unwrap();
    }
    assert_eq!(
        conn_err(s.recv_data(id(1), 2_000, false)),
        Reason::FLOW_CONTROL_ERROR
    );
}

#[test]
fn padding_counts_against_windows_and_is_released_at_once_6_1() {
    let mut s = streams_with(Config {
        initial_stream_window: 1000,
        ..Config::default()
    });
    s.recv_headers(id(1), false).unwrap();
    s.recv_data_padded(id(1), 600, 500, false).unwrap();
    let st = s.store().get(id(1)).unwrap();
    assert_eq!(st.recv.buffered(), 100); // the payload only waits for the application
    assert_eq!(st.received, 100);
    assert!(updates(&mut s, 1) >= 500); // the padding's credit came back
}

#[test]
fn data_on_closed_streams_counts_against_the_connection_window_6_9() {
    let mut s = streams_with(Config {
        initial_connection_window: 65_535,
        ..Config::default()
    });
    s.recv_headers(id(1), false).unwrap();
    s.send_reset(id(1)).unwrap();
    for _ in 0..10 {
        assert_eq!(s.recv_data(id(1), 16_000, false), Ok(RecvData::Discarded));
    }
    // 160 KB through a 64 KB connection window: credit was returned as it was ignored.
    assert!(updates(&mut s, 0) >= 16_000 * 8);
}

#[test]
fn window_updates_are_batched_at_half_the_window_6_9() {
    let mut s = streams_with(Config {
        initial_stream_window: 10_000,
        initial_connection_window: 65_535,
        ..Config::default()
    });
    s.recv_headers(id(1), false).unwrap();
    s.recv_data(id(1), 8_000, false).unwrap();
    s.release(id(1), 4_000, None);
    assert_eq!(updates(&mut s, 1), 0);
    s.release(id(1), 1_000, None);
    assert_eq!(updates(&mut s, 1), 5_000);
    s.release(id(1), 3_000, None);
    assert_eq!(updates(&mut s, 1), 0);
}

#[test]
fn a_slow_reader_gets_no_credit_and_the_window_holds_6_9() {
    let mut s = streams_with(Config {
        initial_stream_window: 10_000,
        ..Config::default()
    });
    s.recv_headers(id(1), false).unwrap();
    s.recv_data(id(1), 10_000, false).unwrap();
    assert_eq!(updates(&mut s, 1), 0);
    assert!(s.recv_data(id(1), 1, false).is_err());
}

#[test]
fn a_fast_reader_window_grows_up_to_the_bound() {
    let max = 16 * 10_000;
    let mut s = streams_with(Config {
        initial_stream_window: 10_000,
        max_stream_window: max,
        ..Config::default()
    });
    s.set_rtt(Duration::from_millis(50));
    let t = Instant::now();
    s.recv_headers(id(1), false).unwrap();
    let mut credit: i64 = 10_000;
    for i in 0..200u32 {
        let n = (credit as u32).min(5_000);
        s.recv_data(id(1), n, false).unwrap();
        s.release(
            id(1),
            u64::from(n),
            Some(t + Duration::from_millis(u64::from(i))),
        );
        credit = credit - i64::from(n) + i64::from(updates(&mut s, 1));
    }
    let target = s.store().get(id(1)).unwrap().recv.target();
    assert_eq!(target, i64::from(max));
    // The connection window kept ahead of the stream's.
    assert!(s.connection_recv_window().target() >= target);
}

#[test]
fn a_reader_slower_than_two_round_trips_keeps_its_window() {
    let mut s = streams_with(Config {
        initial_stream_window: 10_000,
        ..Config::default()
    });
    s.set_rtt(Duration::from_millis(10));
    let t = Instant::now();
    s.recv_headers(id(1), false).unwrap();
    for i in 0..20u64 {
        s.recv_data(id(1), 5_000, false).unwrap();
        s.release(id(1), 5_000, Some(t + Duration::from_secs(i)));
        actions(&mut s);
    }
    assert_eq!(s.store().get(id(1)).unwrap().recv.target(), 10_000);
}

#[test]
fn our_smaller_initial_window_applies_once_acknowledged_6_9_2() {
    let mut s = Streams::new(Config {
        initial_stream_window: 1_000,
        ..Config::default()
    });
    s.recv_headers(id(1), false).unwrap();
    // Before the ACK the client may use the default 65,535.
    s.recv_data(id(1), 30_000, false).unwrap();
    s.recv_settings_ack();
    assert_eq!(s.store().get(id(1)).unwrap().recv.credit(), 1_000 - 30_000);
    assert_eq!(
        stream_err(s.recv_data(id(1), 1, false), id(1)),
        Reason::FLOW_CONTROL_ERROR
    );
    s.recv_headers(id(3), false).unwrap();
    assert_eq!(s.store().get(id(3)).unwrap().recv.credit(), 1_000);
}
