//! Priority signals (RFC 9218 §4–§8): what a `priority` field value or a PRIORITY_UPDATE
//! value says, and how the signals of one stream combine into the priority it is served at.
//!
//! This file owns parsing the field value (a Structured Field Dictionary, RFC 8941 §3.2, read
//! with the `sfv` crate's allocation-free visitor), the rules for unknown, out-of-range and
//! wrongly typed parameters (§4), and the order of precedence between the request header
//! (§5), PRIORITY_UPDATE (§7) and the server's own choice (§8). Decoding the frame itself is
//! `frame`'s; updates for streams not yet open wait in [`PendingUpdates`](super::PendingUpdates);
//! the order streams are served in is the [`Scheduler`](super::Scheduler)'s.

use std::fmt;

use sfv::visitor::{
    DictionaryVisitor, EntryVisitor, Ignored, InnerListVisitor, ItemVisitor, ParameterVisitor,
};
use sfv::{BareItemFromInput, KeyRef, Parser, Version};

/// A response's priority (RFC 9218 §4): its urgency, 0 (most urgent) to 7 (least), and
/// whether the client can use it in parts (incremental).
///
/// The fields are public for struct literals; an urgency above 7 is read as 7 wherever this
/// crate uses one (the [`Scheduler`](super::Scheduler) clamps it). What Chromium sends, for
/// reference: `u=0, i` for the document, `u=1` for render-blocking CSS and fonts, `u=2`
/// (script) to `u=4` (async script), and `i` with `u=2`…`u=4` for images.
///
/// ```
/// use h2push_h2::priority::Priority;
///
/// assert_eq!(Priority::default(), Priority { urgency: 3, incremental: false });
/// let doc = Priority::from_field_value(b"u=0, i");
/// assert_eq!(doc, Priority::new(0, true));
/// assert_eq!(doc.to_string(), "u=0, i");
/// // Not a Dictionary: the defaults (§4).
/// assert_eq!(Priority::from_field_value(b"u=1,,"), Priority::DEFAULT);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Priority {
    /// `u`: 0 is the most urgent, 7 the least (§4.1); 3 by default.
    pub urgency: u8,
    /// `i`: whether the response is useful to the client before it is complete (§4.2);
    /// false by default.
    pub incremental: bool,
}

impl Priority {
    /// The urgency when none is given (§4.1).
    pub const DEFAULT_URGENCY: u8 = 3;
    /// The least urgent level (§4.1: background work, `u=7`).
    pub const LOWEST_URGENCY: u8 = 7;
    /// `u=3`, not incremental: the priority of a request that signals none (§4).
    pub const DEFAULT: Priority = Priority {
        urgency: Priority::DEFAULT_URGENCY,
        incremental: false,
    };

    /// The priority `urgency`, `incremental`.
    ///
    /// # Panics
    ///
    /// If `urgency` is above 7.
    ///
    /// ```
    /// use h2push_h2::priority::Priority;
    ///
    /// let css = Priority::new(1, false);
    /// assert_eq!(css.urgency, 1);
    /// ```
    pub const fn new(urgency: u8, incremental: bool) -> Priority {
        assert!(urgency <= Priority::LOWEST_URGENCY, "urgency is 0..=7");
        Priority {
            urgency,
            incremental,
        }
    }

    /// The priority a request's `priority` field value asks for (§5), or a PRIORITY_UPDATE's
    /// value (§7): the parameters it carries, defaults for the rest (§4), and all defaults if
    /// the value is not a Dictionary.
    ///
    /// ```
    /// use h2push_h2::priority::Priority;
    ///
    /// assert_eq!(Priority::from_field_value(b"u=1"), Priority::new(1, false));
    /// assert_eq!(Priority::from_field_value(b"u=9, i"), Priority::new(3, true));
    /// ```
    pub fn from_field_value(value: &[u8]) -> Priority {
        PriorityParams::parse(value)
            .unwrap_or_default()
            .or_defaults()
    }

    /// The priority a request's `priority` field lines ask for, taken together as one field
    /// (RFC 8941 §4.2: lines are combined before parsing; a later key wins).
    ///
    /// ```
    /// use h2push_h2::priority::Priority;
    ///
    /// let lines: [&[u8]; 2] = [b"u=2", b"i"];
    /// assert_eq!(Priority::from_field_lines(lines), Priority::new(2, true));
    /// ```
    pub fn from_field_lines<'a, I>(lines: I) -> Priority
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        PriorityParams::parse_lines(lines)
            .unwrap_or_default()
            .or_defaults()
    }

    /// The priority the `priority` fields of a request's `headers` ask for (§5).
    ///
    /// ```
    /// use h2push_h2::priority::Priority;
    ///
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("priority", http::HeaderValue::from_static("u=4, i"));
    /// assert_eq!(Priority::from_headers(&headers), Priority::new(4, true));
    /// assert_eq!(Priority::from_headers(&http::HeaderMap::new()), Priority::DEFAULT);
    /// ```
    pub fn from_headers(headers: &http::HeaderMap) -> Priority {
        Priority::from_field_lines(headers.get_all("priority").iter().map(|v| v.as_bytes()))
    }
}

impl Default for Priority {
    fn default() -> Self {
        Priority::DEFAULT
    }
}

/// The field value for this priority: `u=N`, then `, i` when incremental.
impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "u={}", self.urgency.min(Priority::LOWEST_URGENCY))?;
        if self.incremental {
            f.write_str(", i")?;
        }
        Ok(())
    }
}

/// The priority parameters one field value carries, each `None` when absent or ignored
/// (§4: unknown keys, values out of range and values of other types are ignored).
///
/// A client's signal replaces the whole priority, absent parameters taking their defaults
/// ([`or_defaults`](Self::or_defaults), §4); a server's signal overrides only the parameters it
/// carries ([`over`](Self::over), §8).
///
/// ```
/// use h2push_h2::priority::{Priority, PriorityParams};
///
/// let p = PriorityParams::parse(b"u=1, x=?1").unwrap();
/// assert_eq!(p, PriorityParams { urgency: Some(1), incremental: None });
/// assert_eq!(p.over(Priority::new(4, true)), Priority::new(1, true));
/// assert_eq!(p.to_string(), "u=1");
/// assert_eq!(PriorityParams::parse(b"u=1;"), None); // not a Dictionary
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PriorityParams {
    /// `u`, if present as an Integer in 0..=7.
    pub urgency: Option<u8>,
    /// `i`, if present as a Boolean.
    pub incremental: Option<bool>,
}

impl PriorityParams {
    /// No parameters.
    pub const NONE: PriorityParams = PriorityParams {
        urgency: None,
        incremental: None,
    };

    /// The parameters of `value`, or `None` if it is not a Dictionary (RFC 8941 §4.2.2:
    /// a value that fails to parse is ignored as a whole).
    ///
    /// ```
    /// use h2push_h2::priority::PriorityParams;
    ///
    /// // Parameters on a member and unknown keys are ignored; the last `u` wins.
    /// let p = PriorityParams::parse(b"u=5;foo, ext=(1 2), u=2, i=?0").unwrap();
    /// assert_eq!(p, PriorityParams { urgency: Some(2), incremental: Some(false) });
    /// ```
    pub fn parse(value: &[u8]) -> Option<PriorityParams> {
        PriorityParams::parse_lines([value])
    }

    /// The parameters of several field lines of one field, in order (RFC 8941 §4.2: as if
    /// joined by commas, a later key replacing an earlier one); `None` if any line is not a
    /// Dictionary.
    ///
    /// ```
    /// use h2push_h2::priority::PriorityParams;
    ///
    /// let lines: [&[u8]; 2] = [b"u=1, i", b"u=6"];
    /// let p = PriorityParams::parse_lines(lines).unwrap();
    /// assert_eq!(p, PriorityParams { urgency: Some(6), incremental: Some(true) });
    /// ```
    pub fn parse_lines<'a, I>(lines: I) -> Option<PriorityParams>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        // The visitor writes as it goes; the result counts only once every line has parsed.
        let mut params = PriorityParams::NONE;
        for line in lines {
            Parser::new(line)
                // RFC 9218 is defined on RFC 8941; Dates and Display Strings are not its types.
                .with_version(Version::Rfc8941)
                .parse_dictionary_with_visitor(&mut params)
                .ok()?;
        }
        Some(params)
    }

    /// A client's signal as a whole priority: each absent parameter takes its default (§4:
    /// "a server SHOULD act as if their default values were specified").
    ///
    /// ```
    /// use h2push_h2::priority::{Priority, PriorityParams};
    ///
    /// let only_i = PriorityParams { urgency: None, incremental: Some(true) };
    /// assert_eq!(only_i.or_defaults(), Priority::new(3, true));
    /// ```
    pub fn or_defaults(self) -> Priority {
        self.over(Priority::DEFAULT)
    }

    /// These parameters laid over `base`: each one present replaces `base`'s, the others stay
    /// (§8: a parameter in the response wins; one omitted keeps the request's value).
    ///
    /// ```
    /// use h2push_h2::priority::{Priority, PriorityParams};
    ///
    /// // The server promotes render-blocking CSS the client asked for at u=4.
    /// let server = PriorityParams { urgency: Some(1), incremental: None };
    /// assert_eq!(server.over(Priority::new(4, false)), Priority::new(1, false));
    /// ```
    pub fn over(self, base: Priority) -> Priority {
        Priority {
            urgency: self.urgency.unwrap_or(base.urgency),
            incremental: self.incremental.unwrap_or(base.incremental),
        }
    }

    /// Whether no parameter is present.
    ///
    /// ```
    /// use h2push_h2::priority::PriorityParams;
    ///
    /// assert!(PriorityParams::parse(b"x=1").unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.urgency.is_none() && self.incremental.is_none()
    }
}

impl From<Priority> for PriorityParams {
    fn from(p: Priority) -> Self {
        PriorityParams {
            urgency: Some(p.urgency.min(Priority::LOWEST_URGENCY)),
            incremental: Some(p.incremental),
        }
    }
}

/// The field value carrying exactly the present parameters (for a response's `priority`
/// header, §8): `u=N`, `i` or `i=?0`, comma-separated; empty if none.
impl fmt::Display for PriorityParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(u) = self.urgency {
            write!(f, "u={}", u.min(Priority::LOWEST_URGENCY))?;
        }
        if let Some(i) = self.incremental {
            if self.urgency.is_some() {
                f.write_str(", ")?;
            }
            f.write_str(if i { "i" } else { "i=?0" })?;
        }
        Ok(())
    }
}

// The Dictionary visitor: `u` and `i` are read, every other key is skipped (still checked
// for syntax by the parser).
impl<'de> DictionaryVisitor<'de> for PriorityParams {
    type Error = std::convert::Infallible;

    fn entry(&mut self, key: &'de KeyRef) -> Result<impl EntryVisitor<'de>, Self::Error> {
        Ok(match key.as_str() {
            "u" => Some(Member::Urgency(&mut self.urgency)),
            "i" => Some(Member::Incremental(&mut self.incremental)),
            _ => None, // §4: unknown parameters are ignored
        })
    }
}

/// The value slot of a known member. A repeated key replaces the earlier value (RFC 8941
/// §4.2.2), so an ignored later value clears the slot rather than keeping the earlier one.
enum Member<'a> {
    Urgency(&'a mut Option<u8>),
    Incremental(&'a mut Option<bool>),
}

impl<'de> ItemVisitor<'de> for Member<'_> {
    type Error = std::convert::Infallible;

    fn bare_item(
        self,
        item: BareItemFromInput<'de>,
    ) -> Result<impl ParameterVisitor<'de>, Self::Error> {
        match self {
            // §4.1: an Integer between 0 and 7 inclusive; anything else is ignored.
            Member::Urgency(slot) => {
                *slot = item
                    .as_integer()
                    .and_then(|n| u8::try_from(n).ok())
                    .filter(|&u| u <= Priority::LOWEST_URGENCY);
            }
            // §4.2: a Boolean; anything else is ignored.
            Member::Incremental(slot) => *slot = item.as_boolean(),
        }
        // Neither parameter defines parameters of its own; any are ignored.
        Ok(Ignored)
    }
}

impl<'de> EntryVisitor<'de> for Member<'_> {
    fn inner_list(self) -> Result<impl InnerListVisitor<'de>, Self::Error> {
        // An Inner List is of an unexpected type (§4): ignored.
        match self {
            Member::Urgency(slot) => *slot = None,
            Member::Incremental(slot) => *slot = None,
        }
        Ok(Ignored)
    }
}

/// All the priority signals of one stream, and the priority they give (§5, §7, §8).
///
/// The client's signal is the request's `priority` header, replaced as a whole by each
/// PRIORITY_UPDATE after it, including one received before the stream opened (§7: the most
/// recent signal overrides any other). The server's signal (§8: the application's own view,
/// e.g. promoting render-blocking CSS) overrides the parameters it carries, whatever the
/// client says before or after.
///
/// ```
/// use h2push_h2::priority::{Priority, PriorityParams, StreamPriority};
///
/// // An image: `priority: u=4, i` on the request.
/// let mut s = StreamPriority::new(Priority::from_field_value(b"u=4, i"), None);
/// assert_eq!(s.effective(), Priority::new(4, true));
/// // The client reprioritises it (PRIORITY_UPDATE, §7): the header no longer counts.
/// assert!(s.on_update(b"u=2"));
/// assert_eq!(s.effective(), Priority::new(2, false));
/// // The application decides it is urgent (§8); later client updates keep that urgency.
/// s.set_server(PriorityParams { urgency: Some(0), incremental: None });
/// assert!(s.on_update(b"u=5, i"));
/// assert_eq!(s.effective(), Priority::new(0, true));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamPriority {
    client: Priority,
    server: PriorityParams,
}

impl StreamPriority {
    /// The signals of a stream whose HEADERS asked for `header` (use
    /// [`Priority::from_headers`] or [`Priority::from_field_lines`]; [`Priority::DEFAULT`] if
    /// none), with the PRIORITY_UPDATE that arrived before them, if any, taking precedence
    /// (§7; see [`PendingUpdates::take`](super::PendingUpdates::take)).
    ///
    /// ```
    /// use h2push_h2::priority::{Priority, StreamPriority};
    ///
    /// let early = Some(Priority::new(1, false));
    /// let s = StreamPriority::new(Priority::new(5, true), early);
    /// assert_eq!(s.effective(), Priority::new(1, false));
    /// ```
    pub fn new(header: Priority, buffered_update: Option<Priority>) -> StreamPriority {
        StreamPriority {
            client: buffered_update.unwrap_or(header),
            server: PriorityParams::NONE,
        }
    }

    /// A PRIORITY_UPDATE's `field_value` for this stream (§7): it replaces the client's
    /// signal, absent parameters taking their defaults. A value that is not a Dictionary is
    /// ignored, leaving the priority as it was, and `false` is returned.
    ///
    /// ```
    /// use h2push_h2::priority::{Priority, StreamPriority};
    ///
    /// let mut s = StreamPriority::new(Priority::new(1, true), None);
    /// assert!(!s.on_update(b"u=="));
    /// assert_eq!(s.effective(), Priority::new(1, true));
    /// assert!(s.on_update(b"i"));
    /// assert_eq!(s.effective(), Priority::new(3, true));
    /// ```
    pub fn on_update(&mut self, field_value: &[u8]) -> bool {
        match PriorityParams::parse(field_value) {
            Some(p) => {
                self.client = p.or_defaults();
                true
            }
            None => false,
        }
    }

    /// Replaces the client's signal with `priority` (an update parsed elsewhere).
    ///
    /// ```
    /// use h2push_h2::priority::{Priority, StreamPriority};
    ///
    /// let mut s = StreamPriority::default();
    /// s.set_client(Priority::new(6, false));
    /// assert_eq!(s.client(), Priority::new(6, false));
    /// ```
    pub fn set_client(&mut self, priority: Priority) {
        self.client = priority;
    }

    /// Sets the server's signal (§8), replacing any earlier one: each parameter in `params`
    /// overrides the client's. [`PriorityParams::NONE`] gives the client's signal back.
    ///
    /// ```
    /// use h2push_h2::priority::{Priority, PriorityParams, StreamPriority};
    ///
    /// let mut s = StreamPriority::new(Priority::new(4, true), None);
    /// s.set_server(PriorityParams { urgency: None, incremental: Some(false) });
    /// assert_eq!(s.effective(), Priority::new(4, false));
    /// s.set_server(PriorityParams::NONE);
    /// assert_eq!(s.effective(), Priority::new(4, true));
    /// ```
    pub fn set_server(&mut self, params: PriorityParams) {
        self.server = params;
    }

    /// The client's signal: the latest of the request header and PRIORITY_UPDATEs.
    ///
    /// ```
    /// use h2push_h2::priority::{Priority, StreamPriority};
    ///
    /// assert_eq!(StreamPriority::default().client(), Priority::DEFAULT);
    /// ```
    pub fn client(&self) -> Priority {
        self.client
    }

    /// The server's signal (§8), as set by [`set_server`](Self::set_server).
    ///
    /// ```
    /// use h2push_h2::priority::{PriorityParams, StreamPriority};
    ///
    /// assert_eq!(StreamPriority::default().server(), PriorityParams::NONE);
    /// ```
    pub fn server(&self) -> PriorityParams {
        self.server
    }

    /// The priority to serve the stream at: the server's parameters over the client's
    /// signal (§8).
    ///
    /// ```
    /// use h2push_h2::priority::{Priority, StreamPriority};
    ///
    /// assert_eq!(StreamPriority::default().effective(), Priority::DEFAULT);
    /// ```
    pub fn effective(&self) -> Priority {
        self.server.over(self.client)
    }
}

#[cfg(test)]
mod tests;
