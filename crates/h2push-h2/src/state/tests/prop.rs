//! Random sequences of operations never panic and keep the invariants: windows within
//! bounds, counts equal to the states held, the connection's buffered bytes equal to the
//! streams', our concurrency limit kept.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::error::{ProtocolError, Reason};
use crate::frame::StreamId;
use crate::state::flow::MAX_WINDOW;
use crate::state::stream::State;
use crate::state::{Action, Config, Streams};

#[derive(Clone, Debug)]
enum Op {
    RecvHeaders(u32, bool),
    RecvData(u32, u32, u32, bool),
    RecvReset(u32),
    RecvWindowUpdate(u32, u32),
    RecvGoaway(u32),
    SettingsAck,
    PeerInitialWindow(u32),
    PeerMaxConcurrent(u32),
    PeerEnablePush(bool),
    SendInformational(u32),
    SendHead(u32, bool),
    SendData(u32, u32, bool),
    SendTrailers(u32),
    SendReset(u32),
    SendGoaway(u32),
    Push(u32),
    Release(u32, u64),
    Drain(u32, u64),
    Expire(u64),
}

fn sid() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..24, Just(MAX_WINDOW), Just(MAX_WINDOW - 1)]
}

fn len() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..20_000, Just(65_535), Just(u32::MAX), Just(MAX_WINDOW)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (sid(), any::<bool>()).prop_map(|(i, e)| Op::RecvHeaders(i, e)),
        4 => (sid(), len(), 0u32..300, any::<bool>()).prop_map(|(i, l, p, e)| Op::RecvData(i, l, p, e)),
        1 => sid().prop_map(Op::RecvReset),
        2 => (sid(), len()).prop_map(|(i, n)| Op::RecvWindowUpdate(i, n)),
        1 => sid().prop_map(Op::RecvGoaway),
        1 => Just(Op::SettingsAck),
        1 => len().prop_map(Op::PeerInitialWindow),
        1 => (0u32..4).prop_map(Op::PeerMaxConcurrent),
        1 => any::<bool>().prop_map(Op::PeerEnablePush),
        2 => sid().prop_map(Op::SendInformational),
        3 => (sid(), any::<bool>()).prop_map(|(i, e)| Op::SendHead(i, e)),
        3 => (sid(), len(), any::<bool>()).prop_map(|(i, l, e)| Op::SendData(i, l, e)),
        1 => sid().prop_map(Op::SendTrailers),
        1 => sid().prop_map(Op::SendReset),
        1 => sid().prop_map(Op::SendGoaway),
        2 => sid().prop_map(Op::Push),
        4 => (sid(), 0u64..40_000).prop_map(|(i, n)| Op::Release(i, n)),
        1 => (sid(), 0u64..3_000).prop_map(|(i, d)| Op::Drain(i, d)),
        1 => (0u64..3_000).prop_map(Op::Expire),
    ]
}

fn check(s: &Streams) {
    let store = s.store();
    let mut client = 0;
    let mut pushed = 0;
    let mut reserved = 0;
    let mut buffered = 0;
    for st in store.iter() {
        if st.state == State::ReservedLocal {
            reserved += 1;
        } else if st.state.is_active() {
            if st.id.is_client_initiated() {
                client += 1;
            } else {
                pushed += 1;
            }
        }
        let r = &st.recv;
        assert!(r.credit() + r.buffered() as i64 <= r.target(), "{st:?}");
        assert!(
            r.target() <= r.max() && r.max() <= i64::from(MAX_WINDOW),
            "{st:?}"
        );
        assert!(st.send.size() <= i64::from(MAX_WINDOW));
        if let State::Closed(_) = st.state {
            assert!(
                r.buffered() > 0,
                "a closed stream held with nothing buffered"
            );
        }
        buffered += r.buffered();
    }
    assert_eq!(client, s.active_client_streams());
    assert_eq!(pushed, s.active_pushed_streams());
    assert_eq!(reserved, s.reserved_streams());
    assert!(client <= s.config().max_concurrent_streams as usize);
    let c = s.connection_recv_window();
    assert_eq!(c.buffered(), buffered);
    assert!(c.credit() >= 0 && c.credit() + c.buffered() as i64 <= c.target());
    assert!(c.target() <= c.max() && c.max() <= i64::from(MAX_WINDOW));
    assert!(s.connection_send_window() <= i64::from(MAX_WINDOW));
}

fn run(ops: Vec<Op>, config: Config) {
    let t0 = Instant::now();
    let mut now = t0;
    let mut s = Streams::new(config);
    for op in ops {
        let id = StreamId::new;
        let r: Result<(), ProtocolError> = match op {
            Op::RecvHeaders(i, e) => s.recv_headers(id(i), e).map(drop),
            Op::RecvData(i, l, p, e) => s.recv_data_padded(id(i), l, p, e).map(drop),
            Op::RecvReset(i) => s
                .recv_reset(id(i), Reason::CANCEL)
                .map(drop)
                .map_err(Into::into),
            Op::RecvWindowUpdate(i, n) => s.recv_window_update(id(i), n),
            Op::RecvGoaway(i) => {
                s.recv_goaway(id(i));
                Ok(())
            }
            Op::SettingsAck => {
                s.recv_settings_ack();
                Ok(())
            }
            Op::PeerInitialWindow(n) => s.set_peer_initial_window_size(n).map_err(Into::into),
            Op::PeerMaxConcurrent(n) => {
                s.set_peer_max_concurrent_streams(n);
                Ok(())
            }
            Op::PeerEnablePush(b) => {
                s.set_peer_enable_push(b);
                Ok(())
            }
            Op::SendInformational(i) => {
                let _ = s.send_informational(id(i));
                Ok(())
            }
            Op::SendHead(i, e) => {
                let _ = s.send_head(id(i), e);
                Ok(())
            }
            Op::SendData(i, l, e) => {
                let _ = s.send_data(id(i), l, e);
                Ok(())
            }
            Op::SendTrailers(i) => {
                let _ = s.send_trailers(id(i));
                Ok(())
            }
            Op::SendReset(i) => {
                let _ = s.send_reset(id(i));
                Ok(())
            }
            Op::SendGoaway(i) => {
                s.send_goaway(id(i));
                Ok(())
            }
            Op::Push(i) => {
                if let Ok(p) = s.push_promise(id(i)) {
                    assert!(p.is_server_initiated());
                }
                Ok(())
            }
            Op::Release(i, n) => {
                s.release(id(i), n, Some(now));
                Ok(())
            }
            Op::Drain(i, d) => {
                let _ = s.drain(id(i), now + Duration::from_millis(d));
                Ok(())
            }
            Op::Expire(d) => {
                now += Duration::from_millis(d);
                if let Some(next) = s.expire(now) {
                    assert!(next + Duration::from_secs(3600) > now);
                }
                Ok(())
            }
        };
        while let Some(a) = s.poll_action() {
            if let Action::WindowUpdate { increment, .. } = a {
                assert!((1..=MAX_WINDOW).contains(&increment));
            }
        }
        if let Err(ProtocolError::Connection(_)) = r {
            return; // the connection ends
        }
        check(&s);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_operations_never_panic_and_keep_invariants(ops in prop::collection::vec(op(), 1..80)) {
        run(ops, Config::default());
    }

    #[test]
    fn random_operations_with_tight_limits(ops in prop::collection::vec(op(), 1..80)) {
        run(ops, Config {
            max_concurrent_streams: 2,
            initial_stream_window: 1_000,
            initial_connection_window: 70_000,
            max_stream_window: 4_000,
            max_connection_window: 100_000,
            closed_memory: 2,
            drain_max_bytes: 5_000,
            ..Config::default()
        });
    }
}

fn field() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    let name = prop_oneof![
        Just(b":method".to_vec()),
        Just(b":scheme".to_vec()),
        Just(b":authority".to_vec()),
        Just(b":path".to_vec()),
        Just(b":protocol".to_vec()),
        Just(b"cookie".to_vec()),
        Just(b"content-length".to_vec()),
        Just(b"host".to_vec()),
        Just(b"te".to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    let value = prop_oneof![
        Just(b"GET".to_vec()),
        Just(b"CONNECT".to_vec()),
        Just(b"https".to_vec()),
        Just(b"/".to_vec()),
        Just(b"*".to_vec()),
        Just(b"a.example:443".to_vec()),
        Just(b"12".to_vec()),
        prop::collection::vec(any::<u8>(), 0..12),
    ];
    (name, value)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn random_header_lists_never_panic(fields in prop::collection::vec(field(), 0..10), ext: bool) {
        let pairs = fields.iter().map(|(n, v)| (&n[..], &v[..]));
        if let Ok(head) = crate::state::message::parse_request(pairs.clone(), ext) {
            // What passes has a method and no connection-specific field.
            prop_assert!(!head.request.headers().contains_key("connection"));
        }
        let _ = crate::state::message::parse_trailers(pairs);
    }
}
