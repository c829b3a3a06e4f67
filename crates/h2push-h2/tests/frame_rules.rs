//! Every size, stream and flag rule of the frame decoder, one test per rule, with raw byte
//! strings; each test names its section of RFC 9113 (or RFC 7540, 8441, 9218).

mod support;

use bytes::{Bytes, BytesMut};
use h2push_h2::frame::{Frame, FrameDecoder, FrameType, Ping, PrioritySpec};
use h2push_h2::Reason;
use support::{conn_err, decode, decode_all, raw, sid, stream_err};

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PRIORITY: u8 = 0x2;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const PRIORITY_UPDATE: u8 = 0x10;

const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIO: u8 = 0x20;

// ---- §4.1, §5.5: frame format, unknown types, unused flags

#[test]
fn unknown_frame_type_is_passed_on_to_be_ignored_4_1_5_5() {
    let Some(Frame::Unknown(u)) = decode(&raw(0xfa, 0x3, 7, b"xyz")).unwrap() else {
        panic!()
    };
    assert_eq!(
        (u.kind, u.flags, u.stream),
        (FrameType::from(0xfa), 0x3, sid(7))
    );
    assert_eq!(&u.payload[..], b"xyz");
}

#[test]
fn unused_flags_are_ignored_4_1() {
    let f = decode(&raw(PING, 0xfe, 0, b"12345678")).unwrap();
    assert_eq!(
        f,
        Some(Frame::Ping(Ping {
            ack: false,
            payload: *b"12345678"
        }))
    );
}

#[test]
fn reserved_stream_bit_is_ignored_4_1() {
    let f = decode(&raw(RST_STREAM, 0, 0x8000_0003, &[0, 0, 0, 8]))
        .unwrap()
        .unwrap();
    assert_eq!(f.stream(), sid(3));
}

#[test]
fn payloads_are_slices_of_the_input_not_copies_4_1() {
    let mut buf = BytesMut::from(&raw(DATA, 0, 1, b"hello")[..]);
    let base = buf.as_ptr() as usize;
    let Some(Frame::Data(d)) = FrameDecoder::new().decode(&mut buf).unwrap() else {
        panic!()
    };
    assert_eq!(d.data.as_ptr() as usize, base + 9);
}

// ---- §4.2: frame size

#[test]
fn frame_larger_than_max_frame_size_is_frame_size_error_before_its_payload_4_2() {
    // Only the header of a 16 385-octet DATA frame: refused at once, nothing buffered.
    let head = &raw(DATA, 0, 1, &vec![0; 16_385])[..9];
    assert_eq!(conn_err(decode(head)), Reason::FRAME_SIZE_ERROR);
}

#[test]
fn oversized_frames_that_change_connection_state_are_connection_errors_4_2() {
    let big = vec![0; 16_386]; // a multiple of 6, so SETTINGS breaks only the size rule
    for (kind, stream) in [
        (HEADERS, 1),
        (PUSH_PROMISE, 1),
        (SETTINGS, 0),
        (0xfa, 0),
        (DATA, 1),
    ] {
        let wire = raw(kind, 0, stream, &big);
        assert_eq!(
            conn_err(decode(&wire)),
            Reason::FRAME_SIZE_ERROR,
            "type {kind}"
        );
    }
}

#[test]
fn oversized_frame_on_a_stream_that_cannot_change_the_connection_is_a_stream_error_4_2() {
    for kind in [PRIORITY, 0xfa] {
        let mut wire = raw(kind, 0, 3, &vec![0; 20_000]);
        wire.extend(raw(PING, 0, 0, b"abcdefgh"));
        let mut dec = FrameDecoder::new();
        let mut buf = BytesMut::new();
        // The payload arrives in pieces while the decoder discards it.
        let mut errors = 0;
        let mut frames = Vec::new();
        for chunk in wire.chunks(1000) {
            buf.extend_from_slice(chunk);
            loop {
                match dec.decode(&mut buf) {
                    Ok(Some(f)) => frames.push(f),
                    Ok(None) => break,
                    Err(e) => {
                        assert_eq!(stream_err(Err(e)), (sid(3), Reason::FRAME_SIZE_ERROR));
                        errors += 1;
                    }
                }
            }
        }
        assert_eq!(errors, 1);
        assert_eq!(
            frames,
            [Frame::Ping(Ping {
                ack: false,
                payload: *b"abcdefgh"
            })]
        );
    }
}

#[test]
fn a_raised_max_frame_size_admits_larger_frames_4_2() {
    let mut dec = FrameDecoder::new();
    dec.set_max_frame_size(1 << 20);
    let mut buf = BytesMut::from(&raw(DATA, 0, 1, &vec![1; 100_000])[..]);
    let Some(Frame::Data(d)) = dec.decode(&mut buf).unwrap() else {
        panic!()
    };
    assert_eq!(d.data.len(), 100_000);
}

// ---- §6.1: DATA

#[test]
fn data_on_stream_zero_is_protocol_error_6_1() {
    assert_eq!(
        conn_err(decode(&raw(DATA, 0, 0, b"x"))),
        Reason::PROTOCOL_ERROR
    );
}

#[test]
fn data_padding_is_removed_and_counts_for_flow_control_6_1() {
    let Some(Frame::Data(d)) =
        decode(&raw(DATA, PADDED | END_STREAM, 1, b"\x03abc\0\0\0")).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (&d.data[..], d.flow_len, d.end_stream),
        (&b"abc"[..], 7, true)
    );
}

#[test]
fn data_padding_as_long_as_the_payload_is_protocol_error_6_1() {
    assert_eq!(
        conn_err(decode(&raw(DATA, PADDED, 1, b"\x04abc"))),
        Reason::PROTOCOL_ERROR
    );
    assert_eq!(
        conn_err(decode(&raw(DATA, PADDED, 1, b"\x05abc"))),
        Reason::PROTOCOL_ERROR
    );
    // Padding of payload length - 1: all padding, no data, fine.
    let Some(Frame::Data(d)) = decode(&raw(DATA, PADDED, 1, b"\x03abc")).unwrap() else {
        panic!()
    };
    assert!(d.data.is_empty());
}

#[test]
fn padded_data_without_room_for_pad_length_is_frame_size_error_4_2_6_1() {
    assert_eq!(
        conn_err(decode(&raw(DATA, PADDED, 1, b""))),
        Reason::FRAME_SIZE_ERROR
    );
}

// ---- §6.2: HEADERS

#[test]
fn headers_on_stream_zero_is_protocol_error_6_2() {
    let r = decode(&raw(HEADERS, END_HEADERS, 0, b"\x82"));
    assert_eq!(conn_err(r), Reason::PROTOCOL_ERROR);
}

#[test]
fn headers_padding_as_long_as_the_payload_is_protocol_error_6_2() {
    let r = decode(&raw(HEADERS, END_HEADERS | PADDED, 1, b"\x03\x82\0"));
    assert_eq!(conn_err(r), Reason::PROTOCOL_ERROR);
}

#[test]
fn headers_padding_leaving_no_room_for_priority_fields_is_protocol_error_6_2() {
    // 7 octets: Pad Length, 5 priority octets, 1 more: padding of 2 does not fit.
    let r = decode(&raw(
        HEADERS,
        END_HEADERS | PADDED | PRIO,
        1,
        b"\x02\0\0\0\0\x10\0",
    ));
    assert_eq!(conn_err(r), Reason::PROTOCOL_ERROR);
}

#[test]
fn headers_too_short_for_priority_fields_is_frame_size_error_4_2_6_2() {
    let r = decode(&raw(HEADERS, END_HEADERS | PRIO, 1, b"\0\0\0"));
    assert_eq!(conn_err(r), Reason::FRAME_SIZE_ERROR);
}

#[test]
fn headers_with_priority_and_padding_yields_the_bare_block_6_2() {
    let payload = b"\x02\x80\0\0\x03\x0f\x82\x86\0\0";
    let Some(Frame::Headers(h)) =
        decode(&raw(HEADERS, END_HEADERS | PADDED | PRIO, 5, payload)).unwrap()
    else {
        panic!()
    };
    let spec = PrioritySpec {
        dependency: sid(3),
        exclusive: true,
        weight: 15,
    };
    assert_eq!(
        (h.priority, &h.block[..], h.end_stream),
        (Some(spec), &b"\x82\x86"[..], false)
    );
}

#[test]
fn headers_depending_on_itself_is_stream_protocol_error_with_block_kept_5_3_1() {
    let mut wire = raw(HEADERS, END_HEADERS | PRIO, 3, b"\0\0\0\x03\x10\x82");
    wire.extend(raw(PING, 0, 0, b"12345678"));
    let mut dec = FrameDecoder::new();
    let mut buf = BytesMut::from(&wire[..]);
    assert_eq!(
        stream_err(dec.decode(&mut buf)),
        (sid(3), Reason::PROTOCOL_ERROR)
    );
    // The block must still reach HPACK (§4.3).
    assert_eq!(&dec.take_rejected_headers().unwrap().block[..], b"\x82");
    assert!(matches!(dec.decode(&mut buf), Ok(Some(Frame::Ping(_)))));
    assert_eq!(dec.take_rejected_headers(), None);
}

// ---- §6.3: PRIORITY

#[test]
fn priority_is_parsed_to_be_ignored_6_3() {
    let Some(Frame::Priority(p)) = decode(&raw(PRIORITY, 0, 5, b"\0\0\0\x03\x07")).unwrap() else {
        panic!()
    };
    assert_eq!(
        p.spec,
        PrioritySpec {
            dependency: sid(3),
            exclusive: false,
            weight: 7
        }
    );
}

#[test]
fn priority_on_stream_zero_is_protocol_error_6_3() {
    assert_eq!(
        conn_err(decode(&raw(PRIORITY, 0, 0, b"\0\0\0\x03\x07"))),
        Reason::PROTOCOL_ERROR
    );
}

#[test]
fn priority_length_not_five_is_stream_frame_size_error_6_3() {
    let mut wire = raw(PRIORITY, 0, 5, b"\0\0\0\x03");
    wire.extend(raw(PRIORITY, 0, 7, b"\0\0\0\x03\x07\0"));
    wire.extend(raw(PING, 0, 0, b"12345678"));
    let mut dec = FrameDecoder::new();
    let mut buf = BytesMut::from(&wire[..]);
    assert_eq!(
        stream_err(dec.decode(&mut buf)),
        (sid(5), Reason::FRAME_SIZE_ERROR)
    );
    assert_eq!(
        stream_err(dec.decode(&mut buf)),
        (sid(7), Reason::FRAME_SIZE_ERROR)
    );
    assert!(matches!(dec.decode(&mut buf), Ok(Some(Frame::Ping(_)))));
}

#[test]
fn priority_depending_on_itself_is_stream_protocol_error_5_3_1() {
    let r = decode(&raw(PRIORITY, 0, 5, b"\x80\0\0\x05\x07"));
    assert_eq!(stream_err(r), (sid(5), Reason::PROTOCOL_ERROR));
}

// ---- §6.4: RST_STREAM

#[test]
fn rst_stream_on_stream_zero_is_protocol_error_6_4() {
    assert_eq!(
        conn_err(decode(&raw(RST_STREAM, 0, 0, &[0, 0, 0, 8]))),
        Reason::PROTOCOL_ERROR
    );
}

#[test]
fn rst_stream_length_not_four_is_frame_size_error_6_4() {
    for len in [0, 3, 5] {
        let r = decode(&raw(RST_STREAM, 0, 1, &vec![0; len]));
        assert_eq!(conn_err(r), Reason::FRAME_SIZE_ERROR, "length {len}");
    }
}

// ---- §6.5: SETTINGS

fn setting(id: u16, value: u32) -> Vec<u8> {
    raw(
        SETTINGS,
        0,
        0,
        &[&id.to_be_bytes()[..], &value.to_be_bytes()].concat(),
    )
}

#[test]
fn settings_on_a_stream_is_protocol_error_6_5() {
    assert_eq!(
        conn_err(decode(&raw(SETTINGS, 0, 1, b""))),
        Reason::PROTOCOL_ERROR
    );
}

#[test]
fn settings_length_not_multiple_of_six_is_frame_size_error_6_5() {
    let r = decode(&raw(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100, 0]));
    assert_eq!(conn_err(r), Reason::FRAME_SIZE_ERROR);
}

#[test]
fn settings_ack_with_payload_is_frame_size_error_6_5() {
    let r = decode(&raw(SETTINGS, ACK, 0, &[0, 3, 0, 0, 0, 100]));
    assert_eq!(conn_err(r), Reason::FRAME_SIZE_ERROR);
    assert_eq!(
        decode(&raw(SETTINGS, ACK, 0, b"")).unwrap(),
        Some(Frame::SettingsAck)
    );
}

#[test]
fn settings_enable_push_not_0_or_1_is_protocol_error_6_5_2() {
    assert_eq!(conn_err(decode(&setting(0x2, 2))), Reason::PROTOCOL_ERROR);
    let Some(Frame::Settings(s)) = decode(&setting(0x2, 1)).unwrap() else {
        panic!()
    };
    assert_eq!(s.enable_push, Some(true));
}

#[test]
fn settings_initial_window_size_above_2_31_minus_1_is_flow_control_error_6_5_2() {
    assert_eq!(
        conn_err(decode(&setting(0x4, 1 << 31))),
        Reason::FLOW_CONTROL_ERROR
    );
    let Some(Frame::Settings(s)) = decode(&setting(0x4, (1 << 31) - 1)).unwrap() else {
        panic!()
    };
    assert_eq!(s.initial_window_size, Some((1 << 31) - 1));
}

#[test]
fn settings_max_frame_size_outside_its_range_is_protocol_error_6_5_2() {
    assert_eq!(
        conn_err(decode(&setting(0x5, 16_383))),
        Reason::PROTOCOL_ERROR
    );
    assert_eq!(
        conn_err(decode(&setting(0x5, 1 << 24))),
        Reason::PROTOCOL_ERROR
    );
    for ok in [16_384, (1 << 24) - 1] {
        let Some(Frame::Settings(s)) = decode(&setting(0x5, ok)).unwrap() else {
            panic!()
        };
        assert_eq!(s.max_frame_size, Some(ok));
    }
}

#[test]
fn settings_enable_connect_protocol_not_0_or_1_is_protocol_error_rfc8441_3() {
    assert_eq!(conn_err(decode(&setting(0x8, 2))), Reason::PROTOCOL_ERROR);
    let Some(Frame::Settings(s)) = decode(&setting(0x8, 1)).unwrap() else {
        panic!()
    };
    assert_eq!(s.enable_connect_protocol, Some(true));
}

#[test]
fn settings_no_rfc7540_priorities_not_0_or_1_is_protocol_error_rfc9218_2_1() {
    assert_eq!(conn_err(decode(&setting(0x9, 7))), Reason::PROTOCOL_ERROR);
    let Some(Frame::Settings(s)) = decode(&setting(0x9, 1)).unwrap() else {
        panic!()
    };
    assert_eq!(s.no_rfc7540_priorities, Some(true));
}

#[test]
fn settings_with_unknown_identifiers_are_ignored_6_5_2() {
    let Some(Frame::Settings(s)) = decode(&setting(0xabcd, 99)).unwrap() else {
        panic!()
    };
    assert_eq!(s, Default::default());
    let Some(Frame::Settings(s)) = decode(&setting(0x6, 8192)).unwrap() else {
        panic!()
    };
    assert_eq!(s.max_header_list_size, Some(8192));
}

// ---- §6.6: PUSH_PROMISE

#[test]
fn push_promise_on_stream_zero_is_protocol_error_6_6() {
    let r = decode(&raw(PUSH_PROMISE, END_HEADERS, 0, b"\0\0\0\x02\x82"));
    assert_eq!(conn_err(r), Reason::PROTOCOL_ERROR);
}

#[test]
fn push_promise_too_short_for_the_promised_stream_is_frame_size_error_4_2_6_6() {
    let r = decode(&raw(PUSH_PROMISE, END_HEADERS, 1, b"\0\0\0"));
    assert_eq!(conn_err(r), Reason::FRAME_SIZE_ERROR);
}

#[test]
fn push_promise_padding_is_removed_6_6() {
    let payload = b"\x01\0\0\0\x02\x82\0";
    let Some(Frame::PushPromise(p)) =
        decode(&raw(PUSH_PROMISE, END_HEADERS | PADDED, 1, payload)).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (p.stream, p.promised, &p.block[..]),
        (sid(1), sid(2), &b"\x82"[..])
    );
    let r = decode(&raw(
        PUSH_PROMISE,
        END_HEADERS | PADDED,
        1,
        b"\x02\0\0\0\x02\x82",
    ));
    assert_eq!(conn_err(r), Reason::PROTOCOL_ERROR);
}

// ---- §6.7: PING

#[test]
fn ping_on_a_stream_is_protocol_error_6_7() {
    assert_eq!(
        conn_err(decode(&raw(PING, 0, 1, b"12345678"))),
        Reason::PROTOCOL_ERROR
    );
}

#[test]
fn ping_length_not_eight_is_frame_size_error_6_7() {
    assert_eq!(
        conn_err(decode(&raw(PING, 0, 0, b"1234567"))),
        Reason::FRAME_SIZE_ERROR
    );
    assert_eq!(
        conn_err(decode(&raw(PING, ACK, 0, b"123456789"))),
        Reason::FRAME_SIZE_ERROR
    );
}

// ---- §6.8: GOAWAY

#[test]
fn goaway_on_a_stream_is_protocol_error_6_8() {
    let r = decode(&raw(GOAWAY, 0, 1, &[0, 0, 0, 1, 0, 0, 0, 0]));
    assert_eq!(conn_err(r), Reason::PROTOCOL_ERROR);
}

#[test]
fn goaway_shorter_than_eight_octets_is_frame_size_error_6_8() {
    assert_eq!(
        conn_err(decode(&raw(GOAWAY, 0, 0, &[0; 7]))),
        Reason::FRAME_SIZE_ERROR
    );
}

#[test]
fn goaway_debug_data_is_kept_6_8() {
    let Some(Frame::GoAway(g)) = decode(&raw(GOAWAY, 0, 0, b"\x80\0\0\x07\0\0\0\x0bcalm")).unwrap()
    else {
        panic!()
    };
    assert_eq!(g.last_stream, sid(7));
    assert_eq!(g.reason, Reason::ENHANCE_YOUR_CALM);
    assert_eq!(g.debug_data, Bytes::from_static(b"calm"));
}

// ---- §6.9: WINDOW_UPDATE

#[test]
fn window_update_length_not_four_is_frame_size_error_6_9() {
    for (stream, len) in [(0, 3), (1, 5), (1, 0)] {
        let r = decode(&raw(WINDOW_UPDATE, 0, stream, &vec![1; len]));
        assert_eq!(
            conn_err(r),
            Reason::FRAME_SIZE_ERROR,
            "stream {stream} length {len}"
        );
    }
}

#[test]
fn window_update_increment_zero_on_a_stream_is_stream_protocol_error_6_9() {
    let mut wire = raw(WINDOW_UPDATE, 0, 3, &[0x80, 0, 0, 0]); // reserved bit, increment 0
    wire.extend(raw(WINDOW_UPDATE, 0, 3, &[0, 0, 0, 1]));
    let mut dec = FrameDecoder::new();
    let mut buf = BytesMut::from(&wire[..]);
    assert_eq!(
        stream_err(dec.decode(&mut buf)),
        (sid(3), Reason::PROTOCOL_ERROR)
    );
    let Some(Frame::WindowUpdate(w)) = dec.decode(&mut buf).unwrap() else {
        panic!()
    };
    assert_eq!((w.stream, w.increment), (sid(3), 1));
}

#[test]
fn window_update_increment_zero_on_the_connection_is_connection_protocol_error_6_9() {
    let r = decode(&raw(WINDOW_UPDATE, 0, 0, &[0, 0, 0, 0]));
    assert_eq!(conn_err(r), Reason::PROTOCOL_ERROR);
}

// ---- RFC 9218 §7.1: PRIORITY_UPDATE

#[test]
fn priority_update_on_a_stream_is_protocol_error_rfc9218_7_1() {
    let r = decode(&raw(PRIORITY_UPDATE, 0, 1, b"\0\0\0\x01u=1"));
    assert_eq!(conn_err(r), Reason::PROTOCOL_ERROR);
}

#[test]
fn priority_update_shorter_than_four_octets_is_frame_size_error_rfc9218_7_1() {
    assert_eq!(
        conn_err(decode(&raw(PRIORITY_UPDATE, 0, 0, b"\0\0\x01"))),
        Reason::FRAME_SIZE_ERROR
    );
}

#[test]
fn priority_update_for_stream_zero_is_protocol_error_rfc9218_7_1() {
    let r = decode(&raw(PRIORITY_UPDATE, 0, 0, b"\0\0\0\0u=1"));
    assert_eq!(conn_err(r), Reason::PROTOCOL_ERROR);
}

#[test]
fn priority_update_with_an_empty_field_value_is_accepted_rfc9218_7_1() {
    let frames = decode_all(&raw(PRIORITY_UPDATE, 0, 0, b"\0\0\0\x03")).unwrap();
    let [Frame::PriorityUpdate(p)] = &frames[..] else {
        panic!()
    };
    assert_eq!((p.prioritized, p.field_value.len()), (sid(3), 0));
}
