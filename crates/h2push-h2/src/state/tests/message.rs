//! Message rules on decoded header lists (§8.1, §8.2, §8.3, §8.5, RFC 8441).

use crate::state::message::{parse_request, parse_trailers, Malformed, RequestHead};

type Fields<'a> = &'a [(&'a str, &'a str)];

fn req(fields: Fields<'_>) -> Result<RequestHead, Malformed> {
    parse_request(
        fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
        false,
    )
}

fn req_ext(fields: Fields<'_>) -> Result<RequestHead, Malformed> {
    parse_request(
        fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
        true,
    )
}

const GET: [(&str, &str); 4] = [
    (":method", "GET"),
    (":scheme", "https"),
    (":authority", "example.com"),
    (":path", "/"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    GET.iter().chain(extra).copied().collect()
}

#[test]
fn a_plain_request_becomes_an_http_request_8_3_1() {
    let h = req(&with(&[("user-agent", "curl"), ("content-length", "5")])).unwrap();
    assert_eq!(h.request.method(), http::Method::GET);
    assert_eq!(h.request.uri(), "https://example.com/");
    assert_eq!(h.request.version(), http::Version::HTTP_2);
    assert_eq!(h.request.headers()["user-agent"], "curl");
    assert_eq!(h.content_length, Some(5));
}

#[test]
fn pseudo_header_after_a_regular_field_is_malformed_8_3() {
    let f = [
        (":method", "GET"),
        ("accept", "*/*"),
        (":scheme", "https"),
        (":path", "/"),
    ];
    assert!(req(&f).is_err());
}

#[test]
fn unknown_pseudo_header_is_malformed_8_3() {
    assert!(req(&with(&[(":foo", "bar")])).is_err());
}

#[test]
fn response_pseudo_header_in_a_request_is_malformed_8_3() {
    assert!(req(&with(&[(":status", "200")])).is_err());
}

#[test]
fn duplicate_pseudo_header_is_malformed_8_3_1() {
    assert!(req(&with(&[(":path", "/again")])).is_err());
}

#[test]
fn missing_method_scheme_or_path_is_malformed_8_3_1() {
    for skip in [":method", ":scheme", ":path"] {
        let f: Vec<_> = GET.iter().filter(|(n, _)| *n != skip).copied().collect();
        assert!(req(&f).is_err(), "without {skip}");
    }
    // :authority is optional.
    let f: Vec<_> = GET
        .iter()
        .filter(|(n, _)| *n != ":authority")
        .copied()
        .collect();
    assert_eq!(req(&f).unwrap().request.uri(), "/");
}

#[test]
fn empty_path_is_malformed_8_3_1() {
    let f = [(":method", "GET"), (":scheme", "https"), (":path", "")];
    assert!(req(&f).is_err());
    let f = [(":method", "GET"), (":scheme", "https"), (":path", "x")];
    assert!(req(&f).is_err());
}

#[test]
fn options_asterisk_is_accepted_8_3_1() {
    let f = [(":method", "OPTIONS"), (":scheme", "https"), (":path", "*")];
    assert_eq!(req(&f).unwrap().request.uri(), "*");
    let f = [(":method", "GET"), (":scheme", "https"), (":path", "*")];
    assert!(req(&f).is_err());
}

#[test]
fn connect_has_authority_only_8_5() {
    let h = req(&[(":method", "CONNECT"), (":authority", "example.com:443")]).unwrap();
    assert_eq!(h.request.uri().authority().unwrap(), "example.com:443");
    assert!(req(&[(":method", "CONNECT")]).is_err());
    let f = [
        (":method", "CONNECT"),
        (":authority", "a:1"),
        (":path", "/"),
    ];
    assert!(req(&f).is_err());
    let f = [
        (":method", "CONNECT"),
        (":authority", "a:1"),
        (":scheme", "https"),
    ];
    assert!(req(&f).is_err());
}

#[test]
fn extended_connect_needs_the_setting_rfc8441_4() {
    let f = [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":authority", "example.com"),
        (":path", "/chat"),
    ];
    assert!(req(&f).is_err()); // :protocol unknown without ENABLE_CONNECT_PROTOCOL
    let h = req_ext(&f).unwrap();
    assert_eq!(h.protocol.as_deref(), Some("websocket"));
    assert_eq!(h.request.uri(), "https://example.com/chat");
    // :protocol needs CONNECT, and the extended form needs :path and :scheme.
    let g = [
        (":method", "GET"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":path", "/"),
    ];
    assert!(req_ext(&g).is_err());
    let g = [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":authority", "a"),
    ];
    assert!(req_ext(&g).is_err());
}

#[test]
fn uppercase_field_name_is_malformed_8_2_1() {
    assert!(req(&with(&[("Accept", "*/*")])).is_err());
}

#[test]
fn invalid_characters_in_names_are_malformed_8_2_1() {
    for name in ["a b", "a:b", "", "é", "a\"b"] {
        assert!(req(&with(&[(name, "x")])).is_err(), "{name:?}");
    }
}

#[test]
fn invalid_characters_in_values_are_malformed_8_2_1() {
    for value in ["a\0b", "a\rb", "a\nb", " a", "a ", "\ta", "a\t"] {
        assert!(req(&with(&[("x", value)])).is_err(), "{value:?}");
    }
    assert!(req(&with(&[("x", "a b\tc")])).is_ok());
    assert!(req(&with(&[("x", "")])).is_ok());
    let f = [(":method", "GET"), (":scheme", "https"), (":path", "/ ")];
    assert!(req(&f).is_err());
}

#[test]
fn connection_specific_fields_are_malformed_8_2_2() {
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
    ] {
        assert!(req(&with(&[(name, "x")])).is_err(), "{name}");
    }
}

#[test]
fn te_other_than_trailers_is_malformed_8_2_2() {
    assert!(req(&with(&[("te", "trailers")])).is_ok());
    assert!(req(&with(&[("te", "gzip")])).is_err());
}

#[test]
fn invalid_or_conflicting_content_length_is_malformed_8_1_1() {
    assert!(req(&with(&[("content-length", "x")])).is_err());
    assert!(req(&with(&[("content-length", "-1")])).is_err());
    assert!(req(&with(&[("content-length", "1"), ("content-length", "2")])).is_err());
    let h = req(&with(&[("content-length", "3"), ("content-length", "3")])).unwrap();
    assert_eq!(h.content_length, Some(3));
}

#[test]
fn host_differing_from_authority_is_malformed_8_3_1() {
    assert!(req(&with(&[("host", "example.com")])).is_ok());
    assert!(req(&with(&[("host", "evil.example")])).is_err());
}

#[test]
fn userinfo_in_authority_is_malformed_8_3_1() {
    let f = [
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "u@a"),
        (":path", "/"),
    ];
    assert!(req(&f).is_err());
}

#[test]
fn cookie_crumbs_are_joined_8_2_3() {
    let h = req(&with(&[("cookie", "a=1"), ("cookie", "b=2")])).unwrap();
    assert_eq!(h.request.headers()["cookie"], "a=1; b=2");
    assert_eq!(h.request.headers().get_all("cookie").iter().count(), 1);
}

#[test]
fn pseudo_header_in_trailers_is_malformed_8_1() {
    let t =
        |f: &[(&str, &str)]| parse_trailers(f.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
    assert!(t(&[("x-checksum", "abc")]).is_ok());
    assert!(t(&[(":path", "/")]).is_err());
    assert!(t(&[("x", "1"), (":status", "200")]).is_err());
    assert!(t(&[("Upper", "1")]).is_err());
    assert!(t(&[("connection", "close")]).is_err());
}

#[test]
fn malformed_is_a_stream_protocol_error_8_1_1() {
    let e = req(&[])
        .unwrap_err()
        .into_stream_error(crate::StreamId::new(7));
    assert_eq!(e.reason, crate::Reason::PROTOCOL_ERROR);
    assert_eq!(e.stream, crate::StreamId::new(7));
}
