//! SETTINGS frames (RFC 9113 §6.5) and the values §6.5.2, RFC 8441 §3 and RFC 9218 §2.1
//! constrain.
//!
//! This module owns a SETTINGS payload's layout and each value's legal range. Applying
//! settings (a new initial window to every stream, a new table size to HPACK, the ACK and
//! its timeout) is `state`'s.

use bytes::BufMut;

use crate::error::{ConnectionError, Reason};

/// Setting identifiers (§6.5.2, RFC 8441 §3, RFC 9218 §2.1).
pub mod setting {
    /// `0x1`: SETTINGS_HEADER_TABLE_SIZE.
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    /// `0x2`: SETTINGS_ENABLE_PUSH, 0 or 1.
    pub const ENABLE_PUSH: u16 = 0x2;
    /// `0x3`: SETTINGS_MAX_CONCURRENT_STREAMS.
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    /// `0x4`: SETTINGS_INITIAL_WINDOW_SIZE, at most 2^31 - 1.
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    /// `0x5`: SETTINGS_MAX_FRAME_SIZE, 2^14 ..= 2^24 - 1.
    pub const MAX_FRAME_SIZE: u16 = 0x5;
    /// `0x6`: SETTINGS_MAX_HEADER_LIST_SIZE.
    pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;
    /// `0x8`: SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3), 0 or 1.
    pub const ENABLE_CONNECT_PROTOCOL: u16 = 0x8;
    /// `0x9`: SETTINGS_NO_RFC7540_PRIORITIES (RFC 9218 §2.1), 0 or 1.
    pub const NO_RFC7540_PRIORITIES: u16 = 0x9;
}

/// The largest flow-control window and SETTINGS_INITIAL_WINDOW_SIZE, 2^31 - 1 (§6.9.1).
pub const MAX_WINDOW_SIZE: u32 = (1 << 31) - 1;

/// The settings one SETTINGS frame carries (not an ACK): `None` for each one absent.
/// A setting repeated in the frame takes its last value, as processing them in order
/// would (§6.5.3); every occurrence is checked. Unknown identifiers are ignored (§6.5.2).
///
/// ```
/// use h2push_h2::frame::Settings;
///
/// let s = Settings { enable_push: Some(false), initial_window_size: Some(1 << 20), ..Settings::default() };
/// let mut payload = Vec::new();
/// s.write_payload(&mut payload);
/// assert_eq!(payload, [0, 2, 0, 0, 0, 0, 0, 4, 0, 0x10, 0, 0]);
/// assert_eq!(Settings::parse(&payload), Ok(s));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// SETTINGS_HEADER_TABLE_SIZE.
    pub header_table_size: Option<u32>,
    /// SETTINGS_ENABLE_PUSH.
    pub enable_push: Option<bool>,
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub max_concurrent_streams: Option<u32>,
    /// SETTINGS_INITIAL_WINDOW_SIZE (at most [`MAX_WINDOW_SIZE`]).
    pub initial_window_size: Option<u32>,
    /// SETTINGS_MAX_FRAME_SIZE (2^14 ..= 2^24 - 1).
    pub max_frame_size: Option<u32>,
    /// SETTINGS_MAX_HEADER_LIST_SIZE.
    pub max_header_list_size: Option<u32>,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441).
    pub enable_connect_protocol: Option<bool>,
    /// SETTINGS_NO_RFC7540_PRIORITIES (RFC 9218).
    pub no_rfc7540_priorities: Option<bool>,
}

fn flag_value(value: u32, detail: &'static str) -> Result<bool, ConnectionError> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(ConnectionError::new(Reason::PROTOCOL_ERROR, detail)),
    }
}

impl Settings {
    /// The settings in a SETTINGS payload: a sequence of 6-octet (identifier, value) pairs.
    ///
    /// Errors, all connection errors: a length not a multiple of 6 is FRAME_SIZE_ERROR
    /// (§6.5); ENABLE_PUSH, ENABLE_CONNECT_PROTOCOL or NO_RFC7540_PRIORITIES other than 0
    /// or 1 is PROTOCOL_ERROR; INITIAL_WINDOW_SIZE above 2^31 - 1 is FLOW_CONTROL_ERROR;
    /// MAX_FRAME_SIZE outside 2^14 ..= 2^24 - 1 is PROTOCOL_ERROR (§6.5.2).
    pub fn parse(payload: &[u8]) -> Result<Settings, ConnectionError> {
        if payload.len() % 6 != 0 {
            return Err(ConnectionError::new(
                Reason::FRAME_SIZE_ERROR,
                "SETTINGS length not a multiple of 6",
            ));
        }
        let mut s = Settings::default();
        for pair in payload.chunks_exact(6) {
            let id = u16::from_be_bytes([pair[0], pair[1]]);
            let value = u32::from_be_bytes([pair[2], pair[3], pair[4], pair[5]]);
            match id {
                setting::HEADER_TABLE_SIZE => s.header_table_size = Some(value),
                setting::ENABLE_PUSH => {
                    s.enable_push = Some(flag_value(value, "SETTINGS_ENABLE_PUSH not 0 or 1")?);
                }
                setting::MAX_CONCURRENT_STREAMS => s.max_concurrent_streams = Some(value),
                setting::INITIAL_WINDOW_SIZE => {
                    if value > MAX_WINDOW_SIZE {
                        return Err(ConnectionError::new(
                            Reason::FLOW_CONTROL_ERROR,
                            "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1",
                        ));
                    }
                    s.initial_window_size = Some(value);
                }
                setting::MAX_FRAME_SIZE => {
                    if !(super::DEFAULT_MAX_FRAME_SIZE..=super::MAX_MAX_FRAME_SIZE).contains(&value)
                    {
                        return Err(ConnectionError::new(
                            Reason::PROTOCOL_ERROR,
                            "SETTINGS_MAX_FRAME_SIZE outside 2^14..2^24-1",
                        ));
                    }
                    s.max_frame_size = Some(value);
                }
                setting::MAX_HEADER_LIST_SIZE => s.max_header_list_size = Some(value),
                setting::ENABLE_CONNECT_PROTOCOL => {
                    s.enable_connect_protocol = Some(flag_value(
                        value,
                        "SETTINGS_ENABLE_CONNECT_PROTOCOL not 0 or 1",
                    )?);
                }
                setting::NO_RFC7540_PRIORITIES => {
                    s.no_rfc7540_priorities = Some(flag_value(
                        value,
                        "SETTINGS_NO_RFC7540_PRIORITIES not 0 or 1",
                    )?);
                }
                _ => {} // unknown or unsupported: ignored (§6.5.2)
            }
        }
        Ok(s)
    }

    /// The settings present, in identifier order, as (identifier, value) pairs.
    pub fn pairs(&self) -> impl Iterator<Item = (u16, u32)> {
        let b = |v: Option<bool>| v.map(u32::from);
        [
            (setting::HEADER_TABLE_SIZE, self.header_table_size),
            (setting::ENABLE_PUSH, b(self.enable_push)),
            (setting::MAX_CONCURRENT_STREAMS, self.max_concurrent_streams),
            (setting::INITIAL_WINDOW_SIZE, self.initial_window_size),
            (setting::MAX_FRAME_SIZE, self.max_frame_size),
            (setting::MAX_HEADER_LIST_SIZE, self.max_header_list_size),
            (
                setting::ENABLE_CONNECT_PROTOCOL,
                b(self.enable_connect_protocol),
            ),
            (
                setting::NO_RFC7540_PRIORITIES,
                b(self.no_rfc7540_priorities),
            ),
        ]
        .into_iter()
        .filter_map(|(id, v)| v.map(|v| (id, v)))
    }

    /// The payload's length: 6 octets per setting present.
    pub fn payload_len(&self) -> usize {
        6 * self.pairs().count()
    }

    /// Appends the payload (the settings present, in identifier order) to `dst`.
    pub fn write_payload<B: BufMut>(&self, dst: &mut B) {
        for (id, value) in self.pairs() {
            dst.put_u16(id);
            dst.put_u32(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_setting_takes_its_last_value_6_5_3() {
        let p = [0, 4, 0, 0, 0, 1, 0, 4, 0, 0, 0, 2];
        assert_eq!(Settings::parse(&p).unwrap().initial_window_size, Some(2));
    }

    #[test]
    fn every_occurrence_is_checked_6_5_2() {
        // An illegal value is an error even if a later occurrence is legal.
        let p = [0, 2, 0, 0, 0, 2, 0, 2, 0, 0, 0, 1];
        assert_eq!(
            Settings::parse(&p).unwrap_err().reason,
            Reason::PROTOCOL_ERROR
        );
    }
}
