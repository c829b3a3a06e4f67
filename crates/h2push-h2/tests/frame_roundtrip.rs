//! The encoder: what it writes for each frame type, CONTINUATION and DATA splitting, and
//! encode → decode identity; and proptests that random input never panics the decoder.

mod support;

use bytes::{Bytes, BytesMut};
use h2push_h2::frame::{
    Data, Frame, FrameDecoder, FrameEncoder, FrameHead, FrameType, GoAway, Headers, Ping, Priority,
    PrioritySpec, PriorityUpdate, PushPromise, RstStream, Settings, Unknown, WindowUpdate,
};
use h2push_h2::{Reason, StreamId};
use proptest::prelude::*;
use support::{decode_all, raw, sid};

fn encode(enc: &FrameEncoder, frames: &[Frame]) -> BytesMut {
    let mut out = BytesMut::new();
    for f in frames {
        enc.frame(&mut out, f);
    }
    out
}

fn heads(mut wire: &[u8]) -> Vec<FrameHead> {
    let mut v = Vec::new();
    while let Some(h) = FrameHead::parse(wire) {
        wire = &wire[9 + h.length as usize..];
        v.push(h);
    }
    v
}

fn one_of_each() -> Vec<Frame> {
    let b = Bytes::from_static;
    vec![
        Frame::Data(Data::new(sid(1), b(b"body"), true)),
        Frame::Headers(Headers {
            stream: sid(3),
            end_stream: false,
            priority: None,
            block: b(b"\x88"),
        }),
        Frame::Headers(Headers {
            stream: sid(5),
            end_stream: true,
            priority: Some(PrioritySpec {
                dependency: sid(3),
                exclusive: true,
                weight: 200,
            }),
            block: b(b"\x82\x86"),
        }),
        Frame::Priority(Priority {
            stream: sid(7),
            spec: PrioritySpec {
                dependency: StreamId::ZERO,
                exclusive: false,
                weight: 15,
            },
        }),
        Frame::RstStream(RstStream {
            stream: sid(1),
            reason: Reason::CANCEL,
        }),
        Frame::Settings(Settings {
            header_table_size: Some(0),
            enable_push: Some(false),
            max_concurrent_streams: Some(100),
            initial_window_size: Some(1 << 20),
            max_frame_size: Some(1 << 15),
            max_header_list_size: Some(16_384),
            enable_connect_protocol: Some(true),
            no_rfc7540_priorities: Some(true),
        }),
        Frame::SettingsAck,
        Frame::PushPromise(PushPromise {
            stream: sid(1),
            promised: sid(2),
            block: b(b"\x82\x87"),
        }),
        Frame::Ping(Ping {
            ack: false,
            payload: *b"01234567",
        }),
        Frame::Ping(Ping {
            ack: true,
            payload: *b"76543210",
        }),
        Frame::GoAway(GoAway {
            last_stream: sid(9),
            reason: Reason::NO_ERROR,
            debug_data: b(b"bye"),
        }),
        Frame::WindowUpdate(WindowUpdate {
            stream: StreamId::ZERO,
            increment: (1 << 31) - 1,
        }),
        Frame::WindowUpdate(WindowUpdate {
            stream: sid(1),
            increment: 1,
        }),
        Frame::PriorityUpdate(PriorityUpdate {
            prioritized: sid(3),
            field_value: b(b"u=0, i"),
        }),
        Frame::Unknown(Unknown {
            kind: FrameType::from(0xb),
            flags: 0x1,
            stream: sid(1),
            payload: b(b"ext"),
        }),
    ]
}

#[test]
fn every_frame_type_round_trips() {
    let frames = one_of_each();
    let wire = encode(&FrameEncoder::new(), &frames);
    assert_eq!(decode_all(&wire).unwrap(), frames);
}

#[test]
fn the_encoder_writes_the_rfc_layouts_6() {
    let enc = FrameEncoder::new();
    let mut out = Vec::new();
    enc.settings_ack(&mut out);
    enc.ping_ack(&mut out, *b"abcdefgh");
    enc.rst_stream(&mut out, sid(3), Reason::REFUSED_STREAM);
    enc.goaway(&mut out, sid(5), Reason::PROTOCOL_ERROR, b"x");
    enc.data(&mut out, sid(1), b"", true);
    let mut want = raw(0x4, 0x1, 0, b"");
    want.extend(raw(0x6, 0x1, 0, b"abcdefgh"));
    want.extend(raw(0x3, 0, 3, &[0, 0, 0, 7]));
    want.extend(raw(0x7, 0, 0, b"\0\0\0\x05\0\0\0\x01x"));
    want.extend(raw(0x0, 0x1, 1, b""));
    assert_eq!(out, want);
}

#[test]
fn headers_are_split_into_continuation_at_the_peer_max_frame_size_6_10() {
    let enc = FrameEncoder::new();
    let block: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
    let mut out = BytesMut::new();
    enc.headers(&mut out, sid(1), &block, true);
    let h = heads(&out);
    let shape: Vec<_> = h.iter().map(|h| (h.kind, h.flags, h.length)).collect();
    assert_eq!(
        shape,
        [
            (FrameType::HEADERS, 0x1, 16_384),
            (FrameType::CONTINUATION, 0, 16_384),
            (FrameType::CONTINUATION, 0x4, 40_000 - 2 * 16_384),
        ]
    );
    let frames = decode_all(&out).unwrap();
    let [Frame::Headers(got)] = &frames[..] else {
        panic!()
    };
    assert_eq!((&got.block[..], got.end_stream), (&block[..], true));
}

#[test]
fn push_promise_first_frame_leaves_room_for_the_promised_stream_6_6() {
    let enc = FrameEncoder::new();
    let block = vec![0x82; 16_384];
    let mut out = BytesMut::new();
    enc.push_promise(&mut out, sid(1), sid(2), &block);
    let shape: Vec<_> = heads(&out)
        .iter()
        .map(|h| (h.kind, h.flags, h.length))
        .collect();
    assert_eq!(
        shape,
        [
            (FrameType::PUSH_PROMISE, 0, 16_384),
            (FrameType::CONTINUATION, 0x4, 4)
        ]
    );
    let frames = decode_all(&out).unwrap();
    let [Frame::PushPromise(p)] = &frames[..] else {
        panic!()
    };
    assert_eq!(p.block.len(), 16_384);
}

#[test]
fn a_block_that_fits_exactly_is_one_frame_6_2() {
    let enc = FrameEncoder::new();
    let mut out = BytesMut::new();
    enc.headers(&mut out, sid(1), &vec![0x82; 16_384], false);
    enc.headers(&mut out, sid(3), b"", false);
    let shape: Vec<_> = heads(&out)
        .iter()
        .map(|h| (h.kind, h.flags, h.length))
        .collect();
    assert_eq!(
        shape,
        [
            (FrameType::HEADERS, 0x4, 16_384),
            (FrameType::HEADERS, 0x4, 0)
        ]
    );
}

#[test]
fn data_is_split_at_the_peer_max_frame_size_end_stream_on_the_last_6_1() {
    let mut enc = FrameEncoder::new();
    enc.set_max_frame_size(20_000);
    let mut out = BytesMut::new();
    enc.data(&mut out, sid(1), &vec![9; 50_000], true);
    let shape: Vec<_> = heads(&out).iter().map(|h| (h.flags, h.length)).collect();
    assert_eq!(shape, [(0, 20_000), (0, 20_000), (0x1, 10_000)]);
}

#[test]
fn data_head_writes_only_the_header_for_a_payload_sent_apart_6_1() {
    let enc = FrameEncoder::new();
    let body = Bytes::from(vec![5u8; 1000]);
    let mut out = BytesMut::new();
    assert_eq!(enc.data_head(&mut out, sid(1), body.len(), true), 1000);
    assert_eq!(out.len(), 9);
    out.extend_from_slice(&body);
    let frames = decode_all(&out).unwrap();
    assert_eq!(frames, [Frame::Data(Data::new(sid(1), body, true))]);
    // Longer than a frame: the frame carries what fits, without END_STREAM.
    let mut out = BytesMut::new();
    assert_eq!(enc.data_head(&mut out, sid(1), 70_000, true), 16_384);
    assert_eq!(FrameHead::parse(&out).unwrap().flags, 0);
}

#[test]
fn goaway_debug_data_is_cut_to_one_frame_6_8() {
    let enc = FrameEncoder::new();
    let mut out = BytesMut::new();
    enc.goaway(
        &mut out,
        sid(1),
        Reason::INTERNAL_ERROR,
        &vec![b'x'; 20_000],
    );
    assert_eq!(FrameHead::parse(&out).unwrap().length, 16_384);
    assert!(matches!(&decode_all(&out).unwrap()[..], [Frame::GoAway(_)]));
}

#[test]
fn encoding_into_a_reserved_buffer_allocates_nothing() {
    let enc = FrameEncoder::new();
    let mut out = BytesMut::with_capacity(4096);
    let at = out.as_ptr();
    for i in 0..20 {
        enc.headers(&mut out, sid(2 * i + 1), b"\x88\x5f\x87", false);
        enc.data(&mut out, sid(2 * i + 1), b"<p>hi</p>", true);
        enc.window_update(&mut out, StreamId::ZERO, 9);
    }
    assert_eq!(out.as_ptr(), at);
    assert_eq!(decode_all(&out).unwrap().len(), 60);
}

#[test]
fn max_frame_sizes_are_clamped_to_the_legal_range_6_5_2() {
    let mut enc = FrameEncoder::new();
    enc.set_max_frame_size(100);
    assert_eq!(enc.max_frame_size(), 16_384);
    enc.set_max_frame_size(u32::MAX);
    assert_eq!(enc.max_frame_size(), (1 << 24) - 1);
    let mut dec = FrameDecoder::new();
    dec.set_max_frame_size(0);
    assert_eq!(dec.max_frame_size(), 16_384);
}

// ---- proptests

fn stream() -> impl Strategy<Value = StreamId> {
    (1u32..=0x7fff_ffff).prop_map(StreamId::new)
}

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn spec() -> impl Strategy<Value = PrioritySpec> {
    (0u32..=0x7fff_ffff, any::<bool>(), any::<u8>()).prop_map(|(d, exclusive, weight)| {
        PrioritySpec {
            dependency: StreamId::new(d),
            exclusive,
            weight,
        }
    })
}

fn settings() -> impl Strategy<Value = Settings> {
    let o = |s: BoxedStrategy<u32>| proptest::option::of(s);
    (
        (
            o(any::<u32>().boxed()),
            proptest::option::of(any::<bool>()),
            o(any::<u32>().boxed()),
        ),
        (
            o((0u32..=0x7fff_ffff).boxed()),
            o((16_384u32..=0xff_ffff).boxed()),
            o(any::<u32>().boxed()),
        ),
        (
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<bool>()),
        ),
    )
        .prop_map(|((a, b, c), (d, e, f), (g, h))| Settings {
            header_table_size: a,
            enable_push: b,
            max_concurrent_streams: c,
            initial_window_size: d,
            max_frame_size: e,
            max_header_list_size: f,
            enable_connect_protocol: g,
            no_rfc7540_priorities: h,
        })
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        (stream(), bytes(40_000), any::<bool>())
            .prop_map(|(s, d, e)| Frame::Data(Data::new(s, d, e))),
        (
            stream(),
            any::<bool>(),
            proptest::option::of(spec()),
            bytes(40_000)
        )
            .prop_filter("no self-dependency", |(s, _, p, _)| p
                .map_or(true, |p| p.dependency != *s))
            .prop_map(|(stream, end_stream, priority, block)| {
                Frame::Headers(Headers {
                    stream,
                    end_stream,
                    priority,
                    block,
                })
            }),
        (stream(), spec())
            .prop_filter("no self-dependency", |(s, p)| p.dependency != *s)
            .prop_map(|(stream, spec)| Frame::Priority(Priority { stream, spec })),
        (stream(), any::<u32>()).prop_map(|(stream, r)| Frame::RstStream(RstStream {
            stream,
            reason: r.into()
        })),
        settings().prop_map(Frame::Settings),
        Just(Frame::SettingsAck),
        (stream(), stream(), bytes(40_000)).prop_map(|(stream, promised, block)| {
            Frame::PushPromise(PushPromise {
                stream,
                promised,
                block,
            })
        }),
        (any::<bool>(), any::<[u8; 8]>())
            .prop_map(|(ack, payload)| Frame::Ping(Ping { ack, payload })),
        (0u32..=0x7fff_ffff, any::<u32>(), bytes(100)).prop_map(|(l, r, debug_data)| {
            Frame::GoAway(GoAway {
                last_stream: StreamId::new(l),
                reason: r.into(),
                debug_data,
            })
        }),
        (0u32..=0x7fff_ffff, 1u32..=0x7fff_ffff).prop_map(|(s, increment)| {
            Frame::WindowUpdate(WindowUpdate {
                stream: StreamId::new(s),
                increment,
            })
        }),
        (stream(), bytes(100)).prop_map(|(prioritized, field_value)| Frame::PriorityUpdate(
            PriorityUpdate {
                prioritized,
                field_value
            }
        )),
        (0x11u8..=0xff, any::<u8>(), 0u32..=0x7fff_ffff, bytes(100)).prop_map(
            |(k, flags, s, payload)| {
                Frame::Unknown(Unknown {
                    kind: FrameType::from(k),
                    flags,
                    stream: StreamId::new(s),
                    payload,
                })
            }
        ),
    ]
}

/// The frames a decoder yields for `data` fed in chunks of the sizes `cuts` cycles through,
/// and the error that stopped it, if one did.
fn feed(dec: &mut FrameDecoder, data: &[u8], cuts: &[usize]) -> (Vec<Frame>, bool) {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().cycle() {
        let end = (at + cut.max(1)).min(data.len());
        buf.extend_from_slice(&data[at..end]);
        at = end;
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(f)) => out.push(f),
                Ok(None) => break,
                Err(h2push_h2::error::ProtocolError::Stream(_)) => {}
                Err(_) => return (out, true),
            }
        }
        if at == data.len() {
            return (out, false);
        }
    }
    (out, false)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_the_decoder(
        data in proptest::collection::vec(any::<u8>(), 0..2000),
        cuts in proptest::collection::vec(1usize..64, 1..8),
    ) {
        let mut dec = FrameDecoder::new();
        dec.set_header_block_limits(512, 4);
        feed(&mut dec, &data, &cuts);
    }

    #[test]
    fn random_frame_bodies_behind_valid_heads_never_panic_the_decoder(
        frames in proptest::collection::vec(
            (0u8..=0x11, any::<u8>(), 0u32..8, proptest::collection::vec(any::<u8>(), 0..40)),
            1..20,
        ),
    ) {
        // Plausible frames (small lengths, known types, low streams) reach the payload
        // parsers far more often than random bytes do.
        let wire: Vec<u8> = frames.iter().flat_map(|(k, f, s, p)| raw(*k, *f, *s, p)).collect();
        feed(&mut FrameDecoder::new(), &wire, &[7]);
    }

    #[test]
    fn encode_then_decode_is_identity(
        frames in proptest::collection::vec(frame(), 1..6),
        max in prop_oneof![Just(16_384u32), 16_384u32..=100_000],
        cuts in proptest::collection::vec(1usize..5000, 1..4),
    ) {
        let mut enc = FrameEncoder::new();
        enc.set_max_frame_size(max);
        let wire = encode(&enc, &frames);
        let mut dec = FrameDecoder::new();
        dec.set_max_frame_size(max);
        let (got, failed) = feed(&mut dec, &wire, &cuts);
        prop_assert!(!failed);
        prop_assert_eq!(got, split_data(frames, max as usize));
    }
}

/// The frames as the encoder sends them: DATA longer than `max` as frame-sized pieces,
/// END_STREAM on the last.
fn split_data(frames: Vec<Frame>, max: usize) -> Vec<Frame> {
    let mut out = Vec::new();
    for f in frames {
        match f {
            Frame::Data(d) if d.data.len() > max => {
                let n = d.data.len();
                for at in (0..n).step_by(max) {
                    let end = (at + max).min(n);
                    out.push(Frame::Data(Data::new(
                        d.stream,
                        d.data.slice(at..end),
                        d.end_stream && end == n,
                    )));
                }
            }
            f => out.push(f),
        }
    }
    out
}
