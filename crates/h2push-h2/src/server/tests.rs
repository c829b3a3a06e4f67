//! A server connection driven by a scripted client: raw frames in, frames out, no sockets.

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Request, StatusCode};

use super::{Config, Connection, Event};
use crate::error::Reason;
use crate::frame::{Frame, FrameDecoder, FrameEncoder, Settings, StreamId, PREFACE};
use crate::hpack::{Decoder, Encoder};
use crate::state::StreamState;

/// The client's side: encodes requests, reads what the server wrote.
struct Client {
    enc: FrameEncoder,
    hpack: Encoder,
    dec: FrameDecoder,
    hpack_dec: Decoder,
    input: BytesMut,
}

/// One frame the server wrote, with its header block decoded.
#[derive(Debug)]
enum Seen {
    Head {
        stream: u32,
        status: String,
        fields: Vec<(String, String)>,
        end: bool,
    },
    Promise {
        stream: u32,
        promised: u32,
        path: String,
    },
    Data {
        stream: u32,
        len: usize,
        end: bool,
    },
    Reset {
        stream: u32,
        reason: Reason,
    },
    GoAway {
        reason: Reason,
    },
    Other(String),
}

impl Client {
    fn new() -> Client {
        Client {
            enc: FrameEncoder::new(),
            hpack: Encoder::new(),
            dec: FrameDecoder::new(),
            hpack_dec: Decoder::new(4096),
            input: BytesMut::new(),
        }
    }

    fn preface(&self, settings: &Settings) -> BytesMut {
        let mut b = BytesMut::from(&PREFACE[..]);
        self.enc.settings(&mut b, settings);
        b
    }

    fn request(&mut self, out: &mut BytesMut, stream: u32, fields: &[(&str, &str)], end: bool) {
        let mut block = BytesMut::new();
        let mut list: Vec<(&[u8], &[u8])> = vec![
            (b":method", b"GET"),
            (b":scheme", b"https"),
            (b":authority", b"example.com"),
            (b":path", b"/"),
        ];
        list.extend(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
        self.hpack.encode_fields(list, &mut block);
        self.enc.headers(out, StreamId::new(stream), &block, end);
    }

    fn read(&mut self, conn: &mut Connection) -> Vec<Seen> {
        let mut chunks = Vec::new();
        conn.transmit(&mut chunks, usize::MAX);
        for c in chunks {
            self.input.extend_from_slice(&c);
        }
        let mut seen = Vec::new();
        while let Some(frame) = self
            .dec
            .decode(&mut self.input)
            .expect("server frames are valid")
        {
            seen.push(match frame {
                Frame::Headers(h) => {
                    let mut fields = Vec::new();
                    self.hpack_dec
                        .decode(&h.block, usize::MAX, |n, v| {
                            fields.push((
                                String::from_utf8(n.to_vec()).unwrap(),
                                String::from_utf8(v.to_vec()).unwrap(),
                            ))
                        })
                        .unwrap();
                    let status = fields
                        .iter()
                        .find(|(n, _)| n == ":status")
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default();
                    Seen::Head {
                        stream: h.stream.into(),
                        status,
                        fields,
                        end: h.end_stream,
                    }
                }
                Frame::PushPromise(p) => {
                    let mut path = String::new();
                    self.hpack_dec
                        .decode(&p.block, usize::MAX, |n, v| {
                            if &n[..] == b":path" {
                                path = String::from_utf8(v.to_vec()).unwrap();
                            }
                        })
                        .unwrap();
                    Seen::Promise {
                        stream: p.stream.into(),
                        promised: p.promised.into(),
                        path,
                    }
                }
                Frame::Data(d) => Seen::Data {
                    stream: d.stream.into(),
                    len: d.data.len(),
                    end: d.end_stream,
                },
                Frame::RstStream(r) => Seen::Reset {
                    stream: r.stream.into(),
                    reason: r.reason,
                },
                Frame::GoAway(g) => Seen::GoAway { reason: g.reason },
                other => Seen::Other(format!("{other:?}")),
            });
        }
        seen
    }
}

/// A connection past the preface and SETTINGS exchange, and its client.
fn open(settings: Settings) -> (Connection, Client) {
    open_with(Config::default(), settings)
}

fn open_with(config: Config, settings: Settings) -> (Connection, Client) {
    let mut conn = Connection::new(config);
    let mut client = Client::new();
    let mut b = client.preface(&settings);
    conn.recv(&mut b).unwrap();
    let first = client.read(&mut conn);
    assert!(
        first
            .iter()
            .any(|s| matches!(s, Seen::Other(f) if f.contains("Settings("))),
        "server SETTINGS first: {first:?}"
    );
    (conn, client)
}

/// An open connection with one request on stream 1 (no fields beyond the pseudo-headers),
/// its body to come unless `end`.
fn one_request(end: bool) -> (Connection, Client, StreamId) {
    let (mut conn, mut client) = open(Settings::default());
    let mut b = BytesMut::new();
    client.request(&mut b, 1, &[], end);
    conn.recv(&mut b).unwrap();
    let (id, _) = request_event(&mut conn);
    (conn, client, id)
}

fn request_event(conn: &mut Connection) -> (StreamId, bool) {
    match conn.poll_event() {
        Some(Event::Request {
            stream, end_stream, ..
        }) => (stream, end_stream),
        other => panic!("expected a request, got {other:?}"),
    }
}

#[test]
fn a_get_is_answered_with_head_and_body_8_1() {
    let (mut conn, mut client) = open(Settings::default());
    let mut b = BytesMut::new();
    client.request(&mut b, 1, &[("accept", "*/*")], true);
    conn.recv(&mut b).unwrap();
    let (id, end) = request_event(&mut conn);
    assert_eq!((u32::from(id), end), (1, true));
    let mut fields = HeaderMap::new();
    fields.insert("content-type", "text/plain".parse().unwrap());
    conn.send_response(id, StatusCode::OK, &fields, false)
        .unwrap();
    conn.send_data(id, Bytes::from_static(b"hello"), true)
        .unwrap();
    let seen = client.read(&mut conn);
    match &seen[..] {
        [Seen::Head {
            stream: 1,
            status,
            fields,
            end: false,
        }, Seen::Data {
            stream: 1,
            len: 5,
            end: true,
        }] => {
            assert_eq!(status, "200");
            assert!(fields.contains(&("content-type".into(), "text/plain".into())));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(conn.streams().state(id), StreamState::Closed);
}

#[test]
fn early_hints_precede_the_final_head_and_not_after_it_8_1() {
    let (mut conn, mut client, id) = one_request(true);
    let mut link = HeaderMap::new();
    link.insert("link", "</a.css>; rel=preload; as=style".parse().unwrap());
    conn.send_informational(id, StatusCode::EARLY_HINTS, &link)
        .unwrap();
    conn.send_response(id, StatusCode::OK, &HeaderMap::new(), true)
        .unwrap();
    assert!(conn
        .send_informational(id, StatusCode::EARLY_HINTS, &link)
        .is_err());
    let seen = client.read(&mut conn);
    match &seen[..] {
        [Seen::Head {
            status: s1,
            end: false,
            ..
        }, Seen::Head {
            status: s2,
            end: true,
            ..
        }] => {
            assert_eq!((s1.as_str(), s2.as_str()), ("103", "200"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_push_promise_goes_before_the_parents_body_8_4() {
    let (mut conn, mut client, id) = one_request(true);
    conn.send_response(id, StatusCode::OK, &HeaderMap::new(), false)
        .unwrap();
    let req = Request::get("https://example.com/style.css")
        .body(())
        .unwrap();
    let pushed = conn.push_promise(id, &req).unwrap();
    assert_eq!(u32::from(pushed), 2);
    conn.send_data(id, Bytes::from_static(b"<html>"), true)
        .unwrap();
    conn.send_response(pushed, StatusCode::OK, &HeaderMap::new(), false)
        .unwrap();
    conn.send_data(pushed, Bytes::from_static(b"body{}"), true)
        .unwrap();
    let seen = client.read(&mut conn);
    let promise = seen.iter().position(
        |s| matches!(s, Seen::Promise { stream: 1, promised: 2, path } if path == "/style.css"),
    );
    let parent_data = seen
        .iter()
        .position(|s| matches!(s, Seen::Data { stream: 1, .. }));
    let pushed_data = seen.iter().position(|s| {
        matches!(
            s,
            Seen::Data {
                stream: 2,
                len: 6,
                end: true
            }
        )
    });
    assert!(
        promise.is_some() && parent_data.is_some() && pushed_data.is_some(),
        "{seen:?}"
    );
    assert!(promise < parent_data, "{seen:?}");
}

#[test]
fn no_push_when_the_client_disabled_it_8_4() {
    let (mut conn, mut client) = open(Settings {
        enable_push: Some(false),
        ..Settings::default()
    });
    let mut b = BytesMut::new();
    client.request(&mut b, 1, &[], true);
    conn.recv(&mut b).unwrap();
    let (id, _) = request_event(&mut conn);
    let req = Request::get("https://example.com/a.js").body(()).unwrap();
    assert!(conn.push_promise(id, &req).is_err());
    assert!(!conn.can_push());
}

#[test]
fn a_pseudo_header_in_trailers_resets_the_stream_8_1() {
    let (mut conn, mut client) = open(Settings::default());
    let mut b = BytesMut::new();
    client.request(&mut b, 1, &[], false);
    let mut block = BytesMut::new();
    client
        .hpack
        .encode_fields([(&b":status"[..], &b"200"[..])], &mut block);
    client.enc.headers(&mut b, StreamId::new(1), &block, true);
    conn.recv(&mut b).unwrap();
    request_event(&mut conn);
    match conn.poll_event() {
        Some(Event::Reset {
            reason: Reason::PROTOCOL_ERROR,
            ..
        }) => {}
        other => panic!("expected the stream reset, got {other:?}"),
    }
    let seen = client.read(&mut conn);
    assert!(
        seen.iter().any(|s| matches!(
            s,
            Seen::Reset {
                stream: 1,
                reason: Reason::PROTOCOL_ERROR
            }
        )),
        "{seen:?}"
    );
}

#[test]
fn an_early_answer_drains_the_upload_instead_of_resetting_it_8_1() {
    let (mut conn, mut client, id) = one_request(false);
    conn.send_response(id, StatusCode::UNAUTHORIZED, &HeaderMap::new(), true)
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    conn.drain_request_body(id, deadline).unwrap();
    // The client goes on sending its body and ends it: no error, no reset.
    let mut b = BytesMut::new();
    client
        .enc
        .data(&mut b, StreamId::new(1), &[0u8; 1000], false);
    client
        .enc
        .data(&mut b, StreamId::new(1), &[0u8; 1000], true);
    conn.recv(&mut b).unwrap();
    let seen = client.read(&mut conn);
    assert!(
        matches!(&seen[0], Seen::Head { status, end: true, .. } if status == "401"),
        "{seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|s| matches!(s, Seen::Reset { .. } | Seen::GoAway { .. })),
        "{seen:?}"
    );
    assert_eq!(conn.streams().state(id), StreamState::Closed);
}

#[test]
fn a_drain_past_its_deadline_is_reset_with_no_error_8_1() {
    let (mut conn, mut client, id) = one_request(false);
    conn.send_response(id, StatusCode::UNAUTHORIZED, &HeaderMap::new(), true)
        .unwrap();
    let now = std::time::Instant::now();
    conn.drain_request_body(id, now + std::time::Duration::from_millis(10))
        .unwrap();
    conn.expire(now + std::time::Duration::from_secs(1));
    let seen = client.read(&mut conn);
    assert!(
        seen.iter().any(|s| matches!(
            s,
            Seen::Reset {
                stream: 1,
                reason: Reason::NO_ERROR
            }
        )),
        "{seen:?}"
    );
}

#[test]
fn data_waits_for_the_window_and_goes_on_after_window_update_6_9() {
    let (mut conn, mut client, id) = one_request(true);
    conn.send_response(id, StatusCode::OK, &HeaderMap::new(), false)
        .unwrap();
    conn.send_data(id, Bytes::from(vec![7u8; 100_000]), true)
        .unwrap();
    let sent: usize = client
        .read(&mut conn)
        .iter()
        .map(|s| {
            if let Seen::Data { len, .. } = s {
                *len
            } else {
                0
            }
        })
        .sum();
    assert_eq!(sent, 65_535, "the default window");
    assert_eq!(conn.queued(id), 100_000 - 65_535);
    let mut b = BytesMut::new();
    client.enc.window_update(&mut b, StreamId::ZERO, 50_000);
    client.enc.window_update(&mut b, StreamId::new(1), 50_000);
    conn.recv(&mut b).unwrap();
    let seen = client.read(&mut conn);
    let more: usize = seen
        .iter()
        .map(|s| {
            if let Seen::Data { len, .. } = s {
                *len
            } else {
                0
            }
        })
        .sum();
    assert_eq!(more, 100_000 - 65_535);
    assert!(
        matches!(seen.last(), Some(Seen::Data { end: true, .. })),
        "{seen:?}"
    );
}

#[test]
fn urgent_responses_are_sent_first_rfc9218_10() {
    let (mut conn, mut client) = open(Settings::default());
    let mut b = BytesMut::new();
    client.request(&mut b, 1, &[("priority", "u=5")], true); // an image
    client.request(&mut b, 3, &[("priority", "u=1")], true); // a stylesheet
    conn.recv(&mut b).unwrap();
    let (image, _) = request_event(&mut conn);
    let (css, _) = request_event(&mut conn);
    for id in [image, css] {
        conn.send_response(id, StatusCode::OK, &HeaderMap::new(), false)
            .unwrap();
        conn.send_data(id, Bytes::from(vec![1u8; 20_000]), true)
            .unwrap();
    }
    let seen = client.read(&mut conn);
    let data: Vec<u32> = seen
        .iter()
        .filter_map(|s| {
            if let Seen::Data { stream, .. } = s {
                Some(*stream)
            } else {
                None
            }
        })
        .collect();
    let last_css = data.iter().rposition(|&s| s == 3).unwrap();
    let first_image = data.iter().position(|&s| s == 1).unwrap();
    assert!(
        last_css < first_image,
        "CSS (3) before the image (1): {data:?}"
    );
}

#[test]
fn the_first_frame_must_be_settings_3_4() {
    let mut conn = Connection::new(Config::default());
    let mut client = Client::new();
    let mut b = BytesMut::from(&PREFACE[..]);
    client.enc.ping(&mut b, [0; 8]);
    let e = conn.recv(&mut b).unwrap_err();
    assert_eq!(e.reason, Reason::PROTOCOL_ERROR);
    assert!(conn.is_closed());
    let seen = client.read(&mut conn);
    assert!(
        seen.iter().any(|s| matches!(
            s,
            Seen::GoAway {
                reason: Reason::PROTOCOL_ERROR
            }
        )),
        "{seen:?}"
    );
}

#[test]
fn a_wrong_preface_is_protocol_error_3_4() {
    let mut conn = Connection::new(Config::default());
    let mut b = BytesMut::from(&b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..]);
    assert_eq!(
        conn.recv(&mut b).unwrap_err().reason,
        Reason::PROTOCOL_ERROR
    );
}

#[test]
fn a_push_promise_from_the_client_is_protocol_error_8_4() {
    let (mut conn, mut client) = open(Settings::default());
    let mut b = BytesMut::new();
    client.request(&mut b, 1, &[], false);
    let mut block = BytesMut::new();
    client
        .hpack
        .encode_fields([(&b":method"[..], &b"GET"[..])], &mut block);
    client
        .enc
        .push_promise(&mut b, StreamId::new(1), StreamId::new(2), &block);
    assert_eq!(
        conn.recv(&mut b).unwrap_err().reason,
        Reason::PROTOCOL_ERROR
    );
}

#[test]
fn a_head_above_the_list_limit_gets_431_10_5_1() {
    let config = Config {
        max_header_list_size: 16 * 1024,
        ..Config::default()
    };
    let (mut conn, mut client) = open_with(config, Settings::default());
    let big = "x".repeat(30 * 1024);
    let mut b = BytesMut::new();
    // Larger than one frame: the block goes in CONTINUATIONs, within the block bound.
    client.request(&mut b, 1, &[("x-big", &big)], true);
    client.request(&mut b, 3, &[], true);
    conn.recv(&mut b).unwrap();
    let (next, _) = request_event(&mut conn);
    assert_eq!(
        u32::from(next),
        3,
        "the oversized request is not handed out; the next one is"
    );
    let seen = client.read(&mut conn);
    assert!(
        seen.iter().any(
            |s| matches!(s, Seen::Head { stream: 1, status, end: true, .. } if status == "431")
        ),
        "{seen:?}"
    );
}

#[test]
fn a_header_block_above_its_bound_is_refused_as_a_flood() {
    let (mut conn, mut client) = open(Settings::default());
    let big = "x".repeat(70 * 1024);
    let mut b = BytesMut::new();
    client.request(&mut b, 1, &[("x-big", &big)], true);
    assert_eq!(
        conn.recv(&mut b).unwrap_err().reason,
        Reason::ENHANCE_YOUR_CALM
    );
}

#[test]
fn ping_is_answered_6_7() {
    let (mut conn, mut client) = open(Settings::default());
    let mut b = BytesMut::new();
    client.enc.ping(&mut b, *b"12345678");
    conn.recv(&mut b).unwrap();
    let seen = client.read(&mut conn);
    assert!(
        seen.iter()
            .any(|s| matches!(s, Seen::Other(f) if f.contains("ack: true"))),
        "{seen:?}"
    );
}

#[test]
fn a_drain_asked_for_before_the_body_is_written_starts_when_it_is_8_1() {
    let (mut conn, mut client, id) = one_request(false);
    conn.send_response(id, StatusCode::UNAUTHORIZED, &HeaderMap::new(), false)
        .unwrap();
    conn.send_data(id, Bytes::from_static(b"missing token\n"), true)
        .unwrap();
    let now = std::time::Instant::now();
    conn.drain_request_body(id, now + std::time::Duration::from_millis(10))
        .unwrap();
    let first = client.read(&mut conn);
    assert!(
        !first.iter().any(|s| matches!(s, Seen::Reset { .. })),
        "{first:?}"
    );
    assert_eq!(conn.streams().state(id), StreamState::Draining);
    let wake = conn.expire(now);
    assert!(wake.is_some(), "the drain's deadline is waited for");
    conn.expire(now + std::time::Duration::from_secs(1));
    let seen = client.read(&mut conn);
    assert!(
        seen.iter().any(|s| matches!(
            s,
            Seen::Reset {
                stream: 1,
                reason: Reason::NO_ERROR
            }
        )),
        "{seen:?}"
    );
}

#[test]
fn an_upload_abandoned_during_a_drain_ends_with_rst_no_error_8_1() {
    let (mut conn, mut client) = open(Settings::default());
    let mut b = BytesMut::new();
    client.request(&mut b, 1, &[("content-length", "4000")], false);
    conn.recv(&mut b).unwrap();
    let (id, _) = request_event(&mut conn);
    conn.send_response(id, StatusCode::UNAUTHORIZED, &HeaderMap::new(), true)
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    conn.drain_request_body(id, deadline).unwrap();
    // The client stops at our answer: 1000 of 4000 octets, then an empty END_STREAM.
    let mut b = BytesMut::new();
    client
        .enc
        .data(&mut b, StreamId::new(1), &[0u8; 1000], false);
    client.enc.data(&mut b, StreamId::new(1), &[], true);
    conn.recv(&mut b).unwrap();
    let seen = client.read(&mut conn);
    assert!(
        seen.iter().any(|s| matches!(
            s,
            Seen::Reset {
                stream: 1,
                reason: Reason::NO_ERROR
            }
        )),
        "{seen:?}"
    );
    assert!(
        !seen.iter().any(|s| matches!(s, Seen::GoAway { .. })),
        "{seen:?}"
    );
    assert_eq!(conn.streams().state(id), StreamState::Closed);
}
