//! Field blocks over CONTINUATION frames (RFC 9113 §4.3, §6.10): joining, the frames that
//! may not interleave, and the bounds against CONTINUATION floods; and the decoder's
//! handling of input that arrives in pieces and of a connection error.

mod support;

use bytes::BytesMut;
use h2push_h2::frame::{Frame, FrameDecoder};
use h2push_h2::Reason;
use support::{conn_err, decode_all, raw, sid, stream_err};

const HEADERS: u8 = 0x1;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PRIO: u8 = 0x20;

fn last_err(wire: &[u8]) -> Result<Option<Frame>, h2push_h2::error::ProtocolError> {
    decode_all(wire).map(|v| v.into_iter().last())
}

#[test]
fn continuation_fragments_are_joined_into_one_headers_6_10() {
    let mut wire = raw(HEADERS, END_STREAM, 1, b"\x82");
    wire.extend(raw(CONTINUATION, 0, 1, b""));
    wire.extend(raw(CONTINUATION, 0, 1, b"\x86"));
    wire.extend(raw(CONTINUATION, END_HEADERS, 1, b"\x84\x41"));
    let frames = decode_all(&wire).unwrap();
    let [Frame::Headers(h)] = &frames[..] else {
        panic!("{frames:?}")
    };
    assert_eq!(
        (&h.block[..], h.end_stream),
        (&b"\x82\x86\x84\x41"[..], true)
    );
}

#[test]
fn continuation_fragments_are_joined_into_one_push_promise_6_10() {
    let mut wire = raw(PUSH_PROMISE, 0, 1, b"\0\0\0\x02\x82");
    wire.extend(raw(CONTINUATION, END_HEADERS, 1, b"\x87"));
    let frames = decode_all(&wire).unwrap();
    let [Frame::PushPromise(p)] = &frames[..] else {
        panic!()
    };
    assert_eq!((p.promised, &p.block[..]), (sid(2), &b"\x82\x87"[..]));
}

#[test]
fn a_block_arriving_in_pieces_is_yielded_once_whole_6_10() {
    let first = raw(HEADERS, 0, 1, b"\x82");
    let mut wire = first.clone();
    wire.extend(raw(CONTINUATION, END_HEADERS, 1, b"\x86"));
    let mut dec = FrameDecoder::new();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for (i, b) in wire.iter().enumerate() {
        buf.extend_from_slice(&[*b]);
        if let Some(f) = dec.decode(&mut buf).unwrap() {
            got.push(f);
        }
        // Open from the end of the HEADERS frame to the end of the CONTINUATION.
        assert_eq!(
            dec.in_header_block(),
            i + 1 >= first.len() && i + 1 < wire.len(),
            "{i}"
        );
    }
    assert_eq!(got.len(), 1);
}

#[test]
fn continuation_without_a_field_block_is_protocol_error_6_10() {
    let r = last_err(&raw(CONTINUATION, END_HEADERS, 1, b"\x82"));
    assert_eq!(conn_err(r), Reason::PROTOCOL_ERROR);
}

#[test]
fn continuation_after_end_headers_is_protocol_error_6_10() {
    let mut wire = raw(HEADERS, END_HEADERS, 1, b"\x82");
    wire.extend(raw(CONTINUATION, END_HEADERS, 1, b"\x86"));
    assert_eq!(conn_err(last_err(&wire)), Reason::PROTOCOL_ERROR);
}

#[test]
fn continuation_on_another_stream_is_protocol_error_6_10() {
    let mut wire = raw(HEADERS, 0, 1, b"\x82");
    wire.extend(raw(CONTINUATION, END_HEADERS, 3, b"\x86"));
    assert_eq!(conn_err(last_err(&wire)), Reason::PROTOCOL_ERROR);
}

#[test]
fn continuation_on_stream_zero_is_protocol_error_6_10() {
    let r = last_err(&raw(CONTINUATION, END_HEADERS, 0, b"\x82"));
    assert_eq!(conn_err(r), Reason::PROTOCOL_ERROR);
}

#[test]
fn any_other_frame_inside_a_field_block_is_protocol_error_4_3() {
    for (kind, stream, payload) in [
        (PING, 0, &b"12345678"[..]),
        (HEADERS, 1, b"\x82"),
        (0x0, 1, b"body"),
    ] {
        let mut wire = raw(HEADERS, 0, 1, b"\x82");
        wire.extend(raw(kind, END_HEADERS, stream, payload));
        assert_eq!(
            conn_err(last_err(&wire)),
            Reason::PROTOCOL_ERROR,
            "type {kind}"
        );
    }
}

#[test]
fn an_unknown_frame_inside_a_field_block_is_protocol_error_5_5() {
    let mut wire = raw(HEADERS, 0, 1, b"\x82");
    wire.extend(raw(0xfa, 0, 1, b""));
    assert_eq!(conn_err(last_err(&wire)), Reason::PROTOCOL_ERROR);
}

#[test]
fn the_interleaving_frame_is_refused_from_its_header_alone_4_3() {
    let mut wire = raw(HEADERS, 0, 1, b"\x82");
    wire.extend(&raw(0x0, 0, 1, &[0; 100])[..9]); // DATA header, payload not yet here
    assert_eq!(conn_err(last_err(&wire)), Reason::PROTOCOL_ERROR);
}

#[test]
fn too_many_continuation_frames_is_enhance_your_calm() {
    // Empty CONTINUATION frames grow nothing: only a count bounds them.
    let mut dec = FrameDecoder::new();
    dec.set_header_block_limits(1 << 16, 4);
    let mut wire = raw(HEADERS, 0, 1, b"\x82");
    for _ in 0..5 {
        wire.extend(raw(CONTINUATION, 0, 1, b""));
    }
    let mut buf = BytesMut::from(&wire[..]);
    assert_eq!(conn_err(dec.decode(&mut buf)), Reason::ENHANCE_YOUR_CALM);
}

#[test]
fn the_continuation_bound_admits_exactly_its_count() {
    let mut dec = FrameDecoder::new();
    dec.set_header_block_limits(1 << 16, 4);
    let mut wire = raw(HEADERS, 0, 1, b"\x82");
    for i in 0..4 {
        wire.extend(raw(
            CONTINUATION,
            if i == 3 { END_HEADERS } else { 0 },
            1,
            b"\x86",
        ));
    }
    let mut buf = BytesMut::from(&wire[..]);
    let Some(Frame::Headers(h)) = dec.decode(&mut buf).unwrap() else {
        panic!()
    };
    assert_eq!(h.block.len(), 5);
}

#[test]
fn a_field_block_larger_than_the_bound_is_enhance_your_calm() {
    let mut dec = FrameDecoder::new();
    dec.set_header_block_limits(100, 32);
    let mut wire = raw(HEADERS, 0, 1, &[0x82; 60]);
    wire.extend(raw(CONTINUATION, END_HEADERS, 1, &[0x86; 41]));
    let mut buf = BytesMut::from(&wire[..]);
    assert_eq!(conn_err(dec.decode(&mut buf)), Reason::ENHANCE_YOUR_CALM);

    let mut dec = FrameDecoder::new();
    dec.set_header_block_limits(100, 32);
    let mut buf = BytesMut::from(&raw(HEADERS, END_HEADERS, 1, &[0x82; 101])[..]);
    assert_eq!(conn_err(dec.decode(&mut buf)), Reason::ENHANCE_YOUR_CALM);
}

#[test]
fn a_self_dependency_in_a_split_block_is_reported_once_the_block_is_whole_5_3_1() {
    let mut wire = raw(HEADERS, PRIO, 5, b"\0\0\0\x05\x10\x82");
    wire.extend(raw(CONTINUATION, END_HEADERS, 5, b"\x86"));
    let mut dec = FrameDecoder::new();
    let mut buf = BytesMut::from(&wire[..]);
    assert_eq!(
        stream_err(dec.decode(&mut buf)),
        (sid(5), Reason::PROTOCOL_ERROR)
    );
    assert_eq!(&dec.take_rejected_headers().unwrap().block[..], b"\x82\x86");
    assert!(!dec.in_header_block());
}

// ---- the decoder as a whole

#[test]
fn frames_arriving_octet_by_octet_decode_once_whole_4_1() {
    let wire = raw(HEADERS, END_HEADERS, 1, b"\x82\x86");
    let mut dec = FrameDecoder::new();
    let mut buf = BytesMut::new();
    for (i, b) in wire.iter().enumerate() {
        buf.extend_from_slice(&[*b]);
        let f = dec.decode(&mut buf).unwrap();
        assert_eq!(f.is_some(), i == wire.len() - 1);
    }
    assert!(buf.is_empty());
}

#[test]
fn after_a_connection_error_the_decoder_stays_failed_5_4_1() {
    let mut dec = FrameDecoder::new();
    let mut buf = BytesMut::from(&raw(PING, 0, 1, b"12345678")[..]);
    assert_eq!(conn_err(dec.decode(&mut buf)), Reason::PROTOCOL_ERROR);
    let mut fresh = BytesMut::from(&raw(PING, 0, 0, b"12345678")[..]);
    assert_eq!(conn_err(dec.decode(&mut fresh)), Reason::PROTOCOL_ERROR);
}
