//! The RFC 9218 rules for priority signals (§4, §4.1, §4.2, §5, §7, §8), one test each,
//! named by section, and property tests of the field-value parser.

use proptest::prelude::*;

use super::*;

proptest! {
    #[test]
    fn any_bytes_parse_without_panic(v in prop::collection::vec(any::<u8>(), 0..64)) {
        let x = Priority::from_field_value(&v);
        prop_assert!(x.urgency <= 7);
        let _ = PriorityParams::parse(&v);
    }

    #[test]
    fn dictionary_like_values_parse_as_their_last_u_and_i(
        members in prop::collection::vec((0usize..4, -3i64..12, any::<bool>()), 0..6),
    ) {
        // Build a valid Dictionary from u, i and an unknown key, then check §4's rules.
        let mut parts = Vec::new();
        let (mut u, mut i) = (None, None);
        for (key, n, b) in members {
            match key {
                0 => {
                    parts.push(format!("u={n}"));
                    u = u8::try_from(n).ok().filter(|&x| x <= 7);
                }
                1 => {
                    parts.push(if b { "i".to_string() } else { "i=?0".to_string() });
                    i = Some(b);
                }
                2 => {
                    parts.push(format!("i={n}"));
                    i = None;
                }
                _ => parts.push(format!("x{n}=?{}", u8::from(b)).replace('-', "m")),
            }
        }
        let v = parts.join(", ");
        let got = PriorityParams::parse(v.as_bytes());
        prop_assert_eq!(got, Some(PriorityParams { urgency: u, incremental: i }), "{}", v);
    }
}

fn p(v: &str) -> Priority {
    Priority::from_field_value(v.as_bytes())
}

fn params(v: &str) -> Option<PriorityParams> {
    PriorityParams::parse(v.as_bytes())
}

#[test]
fn s4_absent_parameters_take_defaults() {
    assert_eq!(p(""), Priority::new(3, false));
    assert_eq!(p("u=5"), Priority::new(5, false));
    assert_eq!(p("i"), Priority::new(3, true));
    assert_eq!(p("   "), Priority::DEFAULT);
}

#[test]
fn s4_unknown_parameters_ignored() {
    assert_eq!(p("x;a, u=5, i"), Priority::new(5, true));
    assert_eq!(p("foo=bar, baz=(1 2), u=2"), Priority::new(2, false));
    assert_eq!(params("zzz=1"), Some(PriorityParams::NONE));
    // Keys are case-sensitive lowercase in RFC 8941: `U` is not a key at all.
    assert_eq!(p("U=1"), Priority::DEFAULT);
}

#[test]
fn s4_1_urgency_out_of_range_ignored() {
    assert_eq!(p("u=-1, i"), Priority::new(3, true));
    assert_eq!(p("u=8, i"), Priority::new(3, true));
    assert_eq!(p("u=999999999999999"), Priority::DEFAULT);
    assert_eq!(p("u=0"), Priority::new(0, false));
    assert_eq!(p("u=7"), Priority::new(7, false));
}

#[test]
fn s4_1_urgency_of_other_types_ignored() {
    for v in [
        "u=1.0", "u=6.5", "u=\"1\"", "u=a", "u=?1", "u", "u=:AQ==:", "u=(1)", "u=()",
    ] {
        assert_eq!(params(v).map(|x| x.urgency), Some(None), "{v}");
        assert_eq!(p(v), Priority::DEFAULT, "{v}");
    }
}

#[test]
fn s4_2_incremental_boolean_only() {
    assert_eq!(p("i"), Priority::new(3, true));
    assert_eq!(p("i=?1"), Priority::new(3, true));
    assert_eq!(p("i=?0"), Priority::new(3, false));
    for v in ["i=1", "i=0", "i=true", "i=\"?1\"", "i=(?1)", "i=1.5"] {
        assert_eq!(params(v).map(|x| x.incremental), Some(None), "{v}");
        assert_eq!(p(&format!("{v}, u=5")), Priority::new(5, false), "{v}");
    }
}

#[test]
fn s4_member_parameters_ignored() {
    assert_eq!(p("u=5;x, i;y"), Priority::new(5, true));
    assert_eq!(p("u=1;u=7, i=?0;i"), Priority::new(1, false));
}

#[test]
fn rfc8941_repeated_key_last_wins_even_if_ignored() {
    assert_eq!(p("u=6, i, u=5, i=?0"), Priority::new(5, false));
    // The later, ignored value replaces the earlier one: back to the defaults.
    assert_eq!(p("u=1, i, u=9, i=2"), Priority::DEFAULT);
    assert_eq!(p("u=6, i, u=(), i=()"), Priority::DEFAULT);
}

#[test]
fn s4_not_a_dictionary_gives_defaults() {
    for v in [
        "u=1,",
        ",u=1",
        "u=1,,i",
        "u=1 i",
        "u==1",
        "(u=1)",
        "u=1;",
        "\"u=1\"",
        "u=1\x0b",
        "u=@1659578233", // a Date: RFC 9651 only, not RFC 8941
        "u=%\"x\"",      // a Display String: likewise
    ] {
        assert_eq!(params(v), None, "{v}");
        assert_eq!(p(v), Priority::DEFAULT, "{v}");
    }
    assert_eq!(Priority::from_field_value(b"u=1\xff"), Priority::DEFAULT);
}

#[test]
fn s5_whitespace_per_rfc8941() {
    assert_eq!(p("  u=2 ,  i  "), Priority::new(2, true));
    assert_eq!(p("u=2,i"), Priority::new(2, true));
    // Around commas the optional whitespace includes tabs (RFC 8941 OWS).
    assert_eq!(p("u=2\t,\ti"), Priority::new(2, true));
}

#[test]
fn s5_several_field_lines_are_one_field() {
    let lines: [&[u8]; 3] = [b"u=1", b"x=y", b"i"];
    assert_eq!(Priority::from_field_lines(lines), Priority::new(1, true));
    let later: [&[u8]; 2] = [b"u=1", b"u=4"];
    assert_eq!(Priority::from_field_lines(later), Priority::new(4, false));
    // One bad line spoils the field (RFC 8941 §4.2: failure is for the whole field).
    let bad: [&[u8]; 2] = [b"u=1", b"i,,"];
    assert_eq!(Priority::from_field_lines(bad), Priority::DEFAULT);
    let none: [&[u8]; 0] = [];
    assert_eq!(Priority::from_field_lines(none), Priority::DEFAULT);
}

#[test]
fn s5_from_header_map() {
    let mut h = http::HeaderMap::new();
    h.append("priority", http::HeaderValue::from_static("u=2"));
    h.append("priority", http::HeaderValue::from_static("i"));
    h.append("x-other", http::HeaderValue::from_static("u=7"));
    assert_eq!(Priority::from_headers(&h), Priority::new(2, true));
}

#[test]
fn chromium_signals() {
    assert_eq!(p("u=0, i"), Priority::new(0, true)); // document
    assert_eq!(p("u=1"), Priority::new(1, false)); // CSS, fonts
    assert_eq!(p("u=2"), Priority::new(2, false)); // script
    assert_eq!(p("u=4, i"), Priority::new(4, true)); // image
    assert_eq!(p("u=3, i"), Priority::new(3, true));
}

#[test]
fn serialisation_round_trips() {
    for u in 0..=7 {
        for i in [false, true] {
            let x = Priority::new(u, i);
            assert_eq!(p(&x.to_string()), x);
            let pp = PriorityParams::from(x);
            assert_eq!(params(&pp.to_string()), Some(pp));
        }
    }
    assert_eq!(PriorityParams::NONE.to_string(), "");
    let only_i = PriorityParams {
        urgency: None,
        incremental: Some(false),
    };
    assert_eq!(only_i.to_string(), "i=?0");
    assert_eq!(
        Priority {
            urgency: 200,
            incremental: false
        }
        .to_string(),
        "u=7"
    );
}

#[test]
fn s7_update_replaces_header_signal_with_defaults_for_absent() {
    let mut s = StreamPriority::new(p("u=1, i"), None);
    assert!(s.on_update(b"u=5"));
    assert_eq!(s.effective(), Priority::new(5, false));
    assert!(s.on_update(b""));
    assert_eq!(s.effective(), Priority::DEFAULT);
}

#[test]
fn s7_unparseable_update_ignored() {
    let mut s = StreamPriority::new(p("u=1, i"), None);
    assert!(!s.on_update(b"u=0,"));
    assert_eq!(s.effective(), Priority::new(1, true));
}

#[test]
fn s7_buffered_update_beats_header() {
    let s = StreamPriority::new(p("u=5"), Some(Priority::new(0, true)));
    assert_eq!(s.effective(), Priority::new(0, true));
    let s = StreamPriority::new(p("u=5"), None);
    assert_eq!(s.effective(), Priority::new(5, false));
}

#[test]
fn s8_server_overrides_per_parameter() {
    // §8's example: client u=5, server u=1 -> u=1, the client's `i` stays.
    let mut s = StreamPriority::new(p("u=5, i"), None);
    s.set_server(params("u=1").unwrap());
    assert_eq!(s.effective(), Priority::new(1, true));
    // Server says only i: urgency is the client's.
    s.set_server(params("i=?0").unwrap());
    assert_eq!(s.effective(), Priority::new(5, false));
    // The server's parameter survives a later client update.
    s.set_server(params("u=1").unwrap());
    assert!(s.on_update(b"u=6"));
    assert_eq!(s.effective(), Priority::new(1, false));
    assert_eq!(s.client(), Priority::new(6, false));
}
