//! The limit and deadline flags every serving command shares, and the `[limits]` section.
//!
//! This module owns turning `--max-connections`, `--send-timeout` and the like, and the
//! config file's `[limits]` keys, into an `h2push::Limits`: a flag wins over the file, the
//! file over the library's defaults. Durations are seconds, fractions allowed.

use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::Deserialize;

/// Connection limits and the deadlines for peers that stall.
#[derive(clap::Args, Default)]
pub struct LimitArgs {
    /// SETTINGS_MAX_CONCURRENT_STREAMS to advertise [default: 128].
    #[arg(long, value_name = "N")]
    pub max_concurrent_streams: Option<u32>,
    /// Open connections at most; at the cap the longest-idle connection is closed to admit a
    /// new one, and only when none is idle is the new one refused [default: 10000].
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Close connections with no request in flight for this long (HTTP/2: GOAWAY)
    /// [default: 60].
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub idle_timeout: Option<Duration>,
    /// Time from accept to the end of the TLS handshake [default: 10].
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub handshake_timeout: Option<Duration>,
    /// Time from the TLS handshake (or, in plaintext, the accept) to a complete HTTP/2
    /// preface, or to the first bytes of an HTTP/1.1 request [default: 10].
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub preface_timeout: Option<Duration>,
    /// Time for an HTTP/1.1 request head; an idle HTTP/1.1 keep-alive connection closes
    /// after this or the idle timeout, whichever is shorter [default: 10].
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub header_read_timeout: Option<Duration>,
    /// A request body being read that brings no data for this long fails; its stream is
    /// reset (HTTP/2) or its connection closed (HTTP/1.1) [default: 30].
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub body_idle_timeout: Option<Duration>,
    /// A response that makes no progress for this long (the client opens no flow-control
    /// window, or reads nothing from the socket) is reset and its memory freed; a connection
    /// left with only stalled streams is closed [default: 60].
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub send_timeout: Option<Duration>,
    /// After an HTTP/2 GOAWAY (idle, eviction, shutdown), close the connection this long
    /// after its last stream ended even if the client never acknowledged [default: 5].
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub goaway_timeout: Option<Duration>,
    /// On shutdown, how long in-flight requests may take before connections close
    /// [default: 10].
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub shutdown_grace: Option<Duration>,
}

/// The `[limits]` section of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    pub max_concurrent_streams: Option<u32>,
    pub max_header_list_size: Option<u32>,
    pub max_connections: Option<usize>,
    pub idle_timeout_secs: Option<Secs>,
    pub handshake_timeout_secs: Option<Secs>,
    pub preface_timeout_secs: Option<Secs>,
    pub header_read_timeout_secs: Option<Secs>,
    pub body_idle_timeout_secs: Option<Secs>,
    pub send_timeout_secs: Option<Secs>,
    pub goaway_timeout_secs: Option<Secs>,
    pub shutdown_grace_secs: Option<Secs>,
}

/// A positive number of seconds in the config file, checked while parsing (so a mistake
/// names its line).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Secs(pub Duration);

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        to_duration(v).map(Secs).map_err(de::Error::custom)
    }
}

fn to_duration(v: f64) -> Result<Duration, String> {
    if v.is_finite() && v > 0.0 && v < 1e9 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!("{v} is not a positive number of seconds"))
    }
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    to_duration(v)
}

/// The limits: flags over the `[limits]` section over the defaults.
pub fn limits(args: &LimitArgs, section: &LimitsSection) -> h2push::Limits {
    let c = section;
    let mut l = h2push::Limits::default();
    let secs = |flag: Option<Duration>, key: Option<Secs>| flag.or(key.map(|s| s.0));
    if let Some(v) = args.max_concurrent_streams.or(c.max_concurrent_streams) {
        l.max_concurrent_streams = v;
    }
    if let Some(v) = c.max_header_list_size {
        l.max_header_list_size = v;
    }
    if let Some(v) = args.max_connections.or(c.max_connections) {
        l.max_connections = v;
    }
    let deadlines = [
        (&mut l.idle_timeout, args.idle_timeout, c.idle_timeout_secs),
        (
            &mut l.handshake_timeout,
            args.handshake_timeout,
            c.handshake_timeout_secs,
        ),
        (
            &mut l.preface_timeout,
            args.preface_timeout,
            c.preface_timeout_secs,
        ),
        (
            &mut l.header_read_timeout,
            args.header_read_timeout,
            c.header_read_timeout_secs,
        ),
        (
            &mut l.body_idle_timeout,
            args.body_idle_timeout,
            c.body_idle_timeout_secs,
        ),
        (&mut l.send_timeout, args.send_timeout, c.send_timeout_secs),
        (
            &mut l.goaway_timeout,
            args.goaway_timeout,
            c.goaway_timeout_secs,
        ),
        (
            &mut l.shutdown_grace,
            args.shutdown_grace,
            c.shutdown_grace_secs,
        ),
    ];
    for (field, flag, key) in deadlines {
        if let Some(v) = secs(flag, key) {
            *field = v;
        }
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_wins_over_the_file_and_the_file_over_the_default() {
        let section: LimitsSection =
            toml::from_str("send_timeout_secs = 2.5\ngoaway_timeout_secs = 3\n").unwrap();
        let args = LimitArgs {
            goaway_timeout: Some(Duration::from_secs(1)),
            ..LimitArgs::default()
        };
        let l = limits(&args, &section);
        assert_eq!(l.send_timeout, Duration::from_millis(2500));
        assert_eq!(l.goaway_timeout, Duration::from_secs(1));
        assert_eq!(
            l.body_idle_timeout,
            h2push::Limits::default().body_idle_timeout
        );
    }

    #[test]
    fn zero_or_negative_seconds_are_refused() {
        assert!(parse_secs("0").is_err());
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("soon").is_err());
        assert_eq!(parse_secs("0.25"), Ok(Duration::from_millis(250)));
        let e = toml::from_str::<LimitsSection>("send_timeout_secs = 0\n").unwrap_err();
        assert!(e.to_string().contains("positive"), "{e}");
    }
}
