//! RFC 7541's own examples (Appendix C), the decoder's refusals, and round trips.

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, StatusCode};

use super::{Decoder, Encoder};
use crate::error::Reason;

fn hex(s: &str) -> Bytes {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>()
        .into()
}

fn decode(d: &mut Decoder, block: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let within = d
        .decode(&hex(block), 1 << 20, |n, v| {
            out.push((
                String::from_utf8(n.to_vec()).unwrap(),
                String::from_utf8(v.to_vec()).unwrap(),
            ))
        })
        .unwrap();
    assert!(within);
    out
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn requests_c3_c4(blocks: [&str; 3]) {
    let mut d = Decoder::new(4096);
    let first = [
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
    ];
    assert_eq!(decode(&mut d, blocks[0]), pairs(&first));
    assert_eq!(d.table_size(), 57);
    let mut second = first.to_vec();
    second.push(("cache-control", "no-cache"));
    assert_eq!(decode(&mut d, blocks[1]), pairs(&second));
    assert_eq!(d.table_size(), 110);
    let third = [
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/index.html"),
        (":authority", "www.example.com"),
        ("custom-key", "custom-value"),
    ];
    assert_eq!(decode(&mut d, blocks[2]), pairs(&third));
    assert_eq!(d.table_size(), 164);
}

#[test]
fn requests_without_huffman_appendix_c3() {
    requests_c3_c4([
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "8286 84be 5808 6e6f 2d63 6163 6865",
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
    ]);
}

#[test]
fn requests_with_huffman_appendix_c4() {
    requests_c3_c4([
        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        "8286 84be 5886 a8eb 1064 9cbf",
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
    ]);
}

#[test]
fn responses_with_eviction_appendix_c5() {
    let mut d = Decoder::new(256);
    let first = [
        (":status", "302"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("location", "https://www.example.com"),
    ];
    let b1 = "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 \
              2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 \
              6c65 2e63 6f6d";
    assert_eq!(decode(&mut d, b1), pairs(&first));
    assert_eq!(d.table_size(), 222);
    let mut second = first;
    second[0] = (":status", "307");
    assert_eq!(decode(&mut d, "4803 3330 37c1 c0bf"), pairs(&second));
    assert_eq!(d.table_size(), 222);
    let b3 = "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d \
              54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 \
              5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e \
              3d31";
    let third = [
        (":status", "200"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
        ("location", "https://www.example.com"),
        ("content-encoding", "gzip"),
        (
            "set-cookie",
            "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
        ),
    ];
    assert_eq!(decode(&mut d, b3), pairs(&third));
    assert_eq!(d.table_size(), 215);
}

fn refused(block: &[u8], max_table: usize) -> String {
    let mut d = Decoder::new(max_table);
    let e = d
        .decode(&Bytes::copy_from_slice(block), 1 << 16, |_, _| {})
        .expect_err("the block must be refused");
    assert_eq!(e.reason, Reason::COMPRESSION_ERROR, "{e}");
    e.detail.to_string()
}

#[test]
fn index_zero_is_compression_error_6_1() {
    assert!(refused(&[0x80], 4096).contains("index 0"));
}

#[test]
fn index_past_the_tables_is_compression_error_2_3_3() {
    assert!(refused(&[0xbe], 4096).contains("past the dynamic table"));
}

#[test]
fn size_update_after_a_field_is_compression_error_4_2() {
    assert!(refused(&[0x82, 0x20], 4096).contains("after the first field"));
}

#[test]
fn size_update_above_our_setting_is_compression_error_6_3() {
    // 0x3f 0xe1 0x1f = 31 + 97 + 31*128 = 4096 + 128 > 4096.
    assert!(refused(&[0x3f, 0xe1, 0x20], 4096).contains("above SETTINGS_HEADER_TABLE_SIZE"));
    let mut d = Decoder::new(4096);
    d.decode(
        &Bytes::from_static(&[0x20, 0x3f, 0xe1, 0x1f]),
        1 << 16,
        |_, _| {},
    )
    .expect("two updates at the start, the last at the limit");
}

#[test]
fn truncated_string_is_compression_error_5_2() {
    assert!(refused(&[0x40, 0x05, b'a', b'b'], 4096).contains("inside a string"));
}

#[test]
fn truncated_integer_is_compression_error_5_1() {
    assert!(refused(&[0xff], 4096).contains("inside an integer"));
}

#[test]
fn bad_huffman_padding_is_compression_error_5_2() {
    // A literal without indexing, new name "a" (raw), value Huffman "0" padded with zeros.
    assert!(refused(&[0x00, 0x01, b'a', 0x81, 0x00], 4096).contains("padding"));
}

#[test]
fn a_list_above_the_limit_is_decoded_to_its_end_but_not_handed_out() {
    let mut d = Decoder::new(4096);
    // "custom-key: custom-header" with indexing (55 octets), then that entry twice more.
    let block = Bytes::from_static(b"\x40\x0acustom-key\x0dcustom-header\xbe\xbe");
    let mut seen = 0;
    let within = d.decode(&block, 120, |_, _| seen += 1).unwrap();
    assert!(!within);
    assert_eq!(seen, 2, "55 + 55 fit in 120, the third does not");
    assert_eq!(d.table_size(), 55, "the table is in step");
}

#[test]
fn an_hpack_bomb_is_bounded_by_the_list_limit() {
    // One 4000-octet entry, then 10,000 one-octet references to it: 40 MB decoded if
    // copied. The limit stops handing them out after the first few; nothing is copied.
    let mut block = vec![0x40, 0x01, b'x', 0x7f];
    block.extend(std::iter::once(0x7f).chain(integer_tail(4000 - 127)));
    block.extend(std::iter::repeat(b'v').take(4000));
    block.extend(std::iter::repeat(0xbe).take(10_000));
    let mut d = Decoder::new(4096);
    let mut handed = 0usize;
    let within = d
        .decode(&Bytes::from(block), 64 * 1024, |_, v| handed += v.len())
        .unwrap();
    assert!(!within);
    assert!(handed <= 64 * 1024, "{handed} octets handed out");
}

fn integer_tail(mut rest: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
    out
}

fn headers(list: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (n, v) in list {
        map.append(
            http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    map
}

fn round_trip(enc: &mut Encoder, dec: &mut Decoder, status: StatusCode, fields: &HeaderMap) {
    let mut block = BytesMut::new();
    enc.encode_response(status, fields, &mut block);
    let mut out = Vec::new();
    assert!(dec
        .decode(&block.freeze(), 1 << 20, |n, v| out.push((n, v)))
        .unwrap());
    assert_eq!(out[0].0, ":status");
    assert_eq!(out[0].1, status.as_str());
    let got: Vec<(Bytes, Bytes)> = out[1..].to_vec();
    let want: Vec<(Bytes, Bytes)> = fields
        .iter()
        .map(|(n, v)| {
            (
                Bytes::copy_from_slice(n.as_str().as_bytes()),
                Bytes::copy_from_slice(v.as_bytes()),
            )
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn a_repeated_response_reuses_its_block() {
    let mut enc = Encoder::new();
    let mut dec = Decoder::new(4096);
    let fields = headers(&[
        ("content-type", "text/css"),
        ("content-length", "272"),
        ("etag", "\"abc\""),
        ("date", "Wed, 02 Dec 2026 12:00:00 GMT"),
    ]);
    for _ in 0..3 {
        round_trip(&mut enc, &mut dec, StatusCode::OK, &fields);
    }
    let mut a = BytesMut::new();
    enc.encode_response(StatusCode::OK, &fields, &mut a);
    let mut b = BytesMut::new();
    enc.encode_response(StatusCode::OK, &fields, &mut b);
    assert_eq!(a, b);
    // Indexed: status, content-type, content-length, etag; date a literal with its name indexed.
    assert!(a.len() < 30, "{} octets: {:x?}", a.len(), &a[..]);
}

#[test]
fn secrets_are_never_indexed_7_1_3() {
    let mut enc = Encoder::new();
    let fields = headers(&[("set-cookie", "id=42")]);
    let mut block = BytesMut::new();
    enc.encode_response(StatusCode::OK, &fields, &mut block);
    assert_eq!(
        block[1] & 0xf0,
        0x10,
        "never-indexed literal: {:x?}",
        &block[..]
    );
    assert_eq!(enc.table_size(), 0);
}

#[test]
fn a_smaller_peer_table_is_announced_at_the_next_block_4_2() {
    let mut enc = Encoder::new();
    let mut dec = Decoder::new(4096);
    let fields = headers(&[("content-type", "text/html")]);
    round_trip(&mut enc, &mut dec, StatusCode::OK, &fields);
    enc.set_peer_max_table_size(0);
    enc.set_peer_max_table_size(100);
    let mut block = BytesMut::new();
    enc.encode_response(StatusCode::OK, &fields, &mut block);
    // Two updates: to 0 (the smallest), then to 100.
    assert_eq!(&block[..3], [0x20, 0x3f, 0x45]);
    round_trip(&mut enc, &mut dec, StatusCode::OK, &fields);
    assert_eq!(dec.table_size(), enc.table_size());
}

proptest::proptest! {
    #[test]
    fn any_responses_round_trip(
        responses in proptest::collection::vec(
            (
                proptest::sample::select(vec![200u16, 204, 304, 404, 103, 500, 302]),
                proptest::collection::vec(
                    (
                        proptest::sample::select(vec![
                            "content-type", "cache-control", "etag", "date", "x-a", "set-cookie",
                            "vary", "link", "content-length",
                        ]),
                        "[ -~]{0,40}",
                    ),
                    0..8,
                ),
                proptest::option::of(0usize..5000),
            ),
            1..20,
        )
    ) {
        let mut enc = Encoder::new();
        let mut dec = Decoder::new(4096);
        for (status, fields, resize) in responses {
            if let Some(n) = resize {
                enc.set_peer_max_table_size(n);
            }
            let mut map = HeaderMap::new();
            for (n, v) in &fields {
                let v = v.trim();
                map.append(*n, HeaderValue::from_str(v).unwrap());
            }
            round_trip(&mut enc, &mut dec, StatusCode::from_u16(status).unwrap(), &map);
            proptest::prop_assert_eq!(dec.table_size(), enc.table_size());
        }
    }

    #[test]
    fn random_blocks_never_panic(block in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
        let mut d = Decoder::new(4096);
        let _ = d.decode(&Bytes::from(block), 1 << 16, |_, _| {});
    }
}
