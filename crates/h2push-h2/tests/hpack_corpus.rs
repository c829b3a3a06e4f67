//! HPACK against the public `hpack-test-case` corpus (copied, with its licence, into
//! `tests/data/hpack-test-case`): every story of every encoder decodes to its header lists
//! (RFC 7541 interoperability), and every raw story encoded by our encoder decodes back
//! with our decoder and with an independent one (the `hpack` crate).

use std::io::Read;

use bytes::{Bytes, BytesMut};
use h2push_h2::hpack::{Decoder, Encoder};
use serde_json::Value;

const ENCODERS: [&str; 5] = [
    "go-hpack",
    "nghttp2",
    "nghttp2-change-table-size",
    "node-http2-hpack",
    "python-hpack",
];

fn stories(name: &str) -> Vec<Value> {
    let path = format!(
        "{}/tests/data/hpack-test-case/{name}.json.gz",
        env!("CARGO_MANIFEST_DIR")
    );
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut json = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut json)
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    match serde_json::from_str(&json).unwrap_or_else(|e| panic!("{path}: {e}")) {
        Value::Array(stories) => stories,
        other => panic!("{path}: not an array: {other:.60}"),
    }
}

fn hex(s: &str) -> Bytes {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect::<Vec<u8>>()
        .into()
}

/// A case's header list as (name, value) pairs.
fn header_list(case: &Value) -> Vec<(String, String)> {
    case["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .map(|h| {
            let (n, v) = h
                .as_object()
                .expect("one field")
                .iter()
                .next()
                .expect("field");
            (n.clone(), v.as_str().expect("value").to_owned())
        })
        .collect()
}

#[test]
fn every_story_of_every_encoder_decodes() {
    let mut cases = 0;
    for encoder in ENCODERS {
        for story in stories(encoder) {
            let file = story["file"].as_str().unwrap_or("?").to_owned();
            let mut dec = Decoder::new(4096);
            for case in story["cases"].as_array().expect("cases") {
                if let Some(size) = case["header_table_size"].as_u64() {
                    dec.set_max_allowed_table_size(size as usize);
                }
                let wire = hex(case["wire"].as_str().expect("wire"));
                let mut got = Vec::new();
                let within = dec
                    .decode(&wire, usize::MAX, |n, v| {
                        got.push((
                            String::from_utf8_lossy(&n).into_owned(),
                            String::from_utf8_lossy(&v).into_owned(),
                        ))
                    })
                    .unwrap_or_else(|e| panic!("{encoder}/{file} case {}: {e}", case["seqno"]));
                assert!(within);
                assert_eq!(
                    got,
                    header_list(case),
                    "{encoder}/{file} case {}",
                    case["seqno"]
                );
                cases += 1;
            }
        }
    }
    assert!(cases > 5 * 32 * 10, "only {cases} cases read");
}

#[test]
fn raw_stories_round_trip_through_our_encoder() {
    let mut ours_total = 0usize;
    let mut raw_total = 0usize;
    for story in stories("raw-data") {
        let file = story["file"].as_str().unwrap_or("?").to_owned();
        let mut enc = Encoder::new();
        let mut dec = Decoder::new(4096);
        let mut independent = hpack::Decoder::new();
        for (i, case) in story["cases"].as_array().expect("cases").iter().enumerate() {
            let list = header_list(case);
            let mut block = BytesMut::new();
            enc.encode_fields(
                list.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
                &mut block,
            );
            let block = block.freeze();
            ours_total += block.len();
            raw_total += list
                .iter()
                .map(|(n, v)| n.len() + v.len() + 4)
                .sum::<usize>();

            let mut got = Vec::new();
            dec.decode(&block, usize::MAX, |n, v| {
                got.push((
                    String::from_utf8_lossy(&n).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                ))
            })
            .unwrap_or_else(|e| panic!("raw-data/{file} case {i}: {e}"));
            assert_eq!(got, list, "ours: raw-data/{file} case {i}");

            let theirs: Vec<(String, String)> = independent
                .decode(&block)
                .unwrap_or_else(|e| panic!("hpack crate: raw-data/{file} case {i}: {e:?}"))
                .into_iter()
                .map(|(n, v)| {
                    (
                        String::from_utf8_lossy(&n).into_owned(),
                        String::from_utf8_lossy(&v).into_owned(),
                    )
                })
                .collect();
            assert_eq!(theirs, list, "hpack crate: raw-data/{file} case {i}");
        }
    }
    println!("raw-data: {raw_total} octets of fields, {ours_total} octets encoded");
    assert!(
        ours_total * 3 < raw_total,
        "{ours_total} of {raw_total}: compression too weak"
    );
}
