//! `Link` header fields (RFC 8288) as hints: parsing and writing the links browsers act on
//! in a 103 and a response — `rel=preload`, `rel=modulepreload` and `rel=preconnect`.
//!
//! Hand-written rather than taken from a crate: the few `Link` parsers on crates.io either
//! drop parameters without values (`nopush`) or allocate a map per link, and the grammar we
//! need — `<target>` then `;`-separated `name[=value]` parameters, values as tokens or
//! quoted strings, links separated by commas outside `<>` and quotes — fits in a page.
//! Deciding what to do with a hint is [`super::policy`]'s.

use std::fmt::Write as _;

use http::HeaderValue;

/// The link relation a hint is announced with.
///
/// A preload is only used by the browser when it matches the later request exactly (URL,
/// destination and credentials mode), so the relation follows how the page loads the
/// resource: module scripts are `modulepreload`ed (Chromium acts on it in a 103, with the
/// module fetch's CORS mode), other resources `preload`ed with their `as=`, and other origins
/// the page uses are `preconnect`ed.
///
/// ```
/// use h2push::hints::{Hint, HintRel};
/// assert_eq!(Hint::new("/a.js").rel, HintRel::Preload);
/// assert_eq!(Hint::module("/m.js").rel, HintRel::ModulePreload);
/// assert_eq!(HintRel::Preconnect.as_str(), "preconnect");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HintRel {
    /// `rel=preload` with `as=`: fetch the resource as the destination says.
    #[default]
    Preload,
    /// `rel=modulepreload`: fetch a module script (destination `script`, CORS mode).
    ModulePreload,
    /// `rel=preconnect`: open a connection to another origin. Never pushed.
    Preconnect,
}

impl HintRel {
    /// The `rel` token.
    pub fn as_str(self) -> &'static str {
        match self {
            HintRel::Preload => "preload",
            HintRel::ModulePreload => "modulepreload",
            HintRel::Preconnect => "preconnect",
        }
    }
}

/// One resource worth hinting: a same-origin path with its request destination (`as=`) and
/// the credentials mode (`crossorigin`) the page will fetch it with — or, for
/// [`HintRel::Preconnect`], another origin.
///
/// ```
/// use h2push::hints::Hint;
/// let h = Hint::new("/style.css");
/// assert_eq!(h.as_.as_deref(), Some("style"));
/// assert_eq!(h.to_link().to_str().unwrap(), "</style.css>; rel=preload; as=style");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Hint {
    /// The path (and query), e.g. `/style.css`; for a preconnect, the origin
    /// (`https://fonts.example`).
    pub path: String,
    /// How the hint is announced.
    pub rel: HintRel,
    /// The request destination: `style`, `script`, `font`, `image`, `fetch`, …
    pub as_: Option<String>,
    /// The `crossorigin` attribute, if any (`""` for the bare attribute, or `use-credentials`).
    pub crossorigin: Option<String>,
    /// Hint only (103 and preload), never push (nginx and h2o's `nopush`).
    pub nopush: bool,
    /// Push only: never announced to the client in a 103 or a `Link` header (h2o's
    /// `x-http2-push-only`), e.g. for a resource the page loads in a way a preload would not
    /// match.
    pub push_only: bool,
}

impl Hint {
    /// A hint for `path`, its `as=` guessed from the extension (fonts get `crossorigin`,
    /// as the preload spec requires for them).
    ///
    /// ```
    /// use h2push::hints::Hint;
    /// let f = Hint::new("/f.woff2");
    /// assert_eq!((f.as_.as_deref(), f.crossorigin.as_deref()), (Some("font"), Some("")));
    /// ```
    pub fn new(path: impl Into<String>) -> Self {
        let path = path.into();
        let as_ = destination_for(&path).map(str::to_owned);
        let crossorigin = (as_.as_deref() == Some("font")).then(String::new);
        Hint {
            path,
            rel: HintRel::Preload,
            as_,
            crossorigin,
            nopush: false,
            push_only: false,
        }
    }

    /// A `modulepreload` hint for the module script at `path` (destination `script`).
    ///
    /// ```
    /// let m = h2push::hints::Hint::module("/assets/index-D_6Ay_gG.js");
    /// assert_eq!(m.to_link(), "</assets/index-D_6Ay_gG.js>; rel=modulepreload");
    /// ```
    pub fn module(path: impl Into<String>) -> Self {
        Hint {
            rel: HintRel::ModulePreload,
            as_: Some("script".to_owned()),
            crossorigin: None,
            ..Hint::new(path)
        }
    }

    /// A `preconnect` hint for `origin` (`scheme://host[:port]`), never pushed.
    ///
    /// ```
    /// let p = h2push::hints::Hint::preconnect("https://fonts.example", Some(""));
    /// assert_eq!(p.to_link(), "<https://fonts.example>; rel=preconnect; crossorigin");
    /// ```
    pub fn preconnect(origin: impl Into<String>, crossorigin: Option<&str>) -> Self {
        Hint {
            path: origin.into(),
            rel: HintRel::Preconnect,
            as_: None,
            crossorigin: crossorigin.map(str::to_owned),
            nopush: true,
            push_only: false,
        }
    }

    /// The same hint with the credentials mode of a request made in `mode`
    /// (`Sec-Fetch-Mode`): `cors` becomes the bare `crossorigin` attribute, anything else
    /// none. Fonts are always CORS.
    ///
    /// ```
    /// let h = h2push::hints::Hint::new("/a.png").with_fetch_mode("cors");
    /// assert_eq!(h.crossorigin.as_deref(), Some(""));
    /// ```
    #[must_use]
    pub fn with_fetch_mode(mut self, mode: &str) -> Self {
        let font = self.as_.as_deref() == Some("font");
        self.crossorigin = (mode == "cors" || font).then(String::new);
        self
    }

    /// Whether the hint names a path of this origin that could be pushed (not a
    /// preconnect).
    pub fn is_local(&self) -> bool {
        self.rel != HintRel::Preconnect
    }

    /// The same hint with `as=` set explicitly.
    ///
    /// ```
    /// let h = h2push::hints::Hint::new("/data").with_as("fetch");
    /// assert_eq!(h.as_.as_deref(), Some("fetch"));
    /// ```
    #[must_use]
    pub fn with_as(mut self, as_: &str) -> Self {
        self.as_ = Some(as_.to_ascii_lowercase());
        self
    }

    /// The same hint, announced but never pushed (`nopush`).
    ///
    /// ```
    /// assert!(h2push::hints::Hint::new("/big.png").hint_only().nopush);
    /// ```
    #[must_use]
    pub fn hint_only(mut self) -> Self {
        self.nopush = true;
        self
    }

    /// The same hint, pushed but never announced (`x-http2-push-only`).
    ///
    /// ```
    /// assert!(h2push::hints::Hint::new("/a.js").push_only().push_only);
    /// ```
    #[must_use]
    pub fn push_only(mut self) -> Self {
        self.push_only = true;
        self
    }

    /// The `Link` field value announcing this hint.
    ///
    /// ```
    /// use h2push::hints::Hint;
    /// let mut h = Hint::new("/a.js");
    /// h.nopush = true;
    /// assert_eq!(h.to_link(), "</a.js>; rel=preload; as=script; nopush");
    /// ```
    pub fn to_link(&self) -> HeaderValue {
        let mut s = format!("<{}>; rel={}", self.path, self.rel.as_str());
        if let (HintRel::Preload, Some(a)) = (self.rel, &self.as_) {
            let _ = write!(s, "; as={a}");
        }
        match self.crossorigin.as_deref() {
            Some("") => s.push_str("; crossorigin"),
            Some(c) => {
                let _ = write!(s, "; crossorigin={c}");
            }
            None => {}
        }
        // A preconnect is never pushed: saying so would be noise.
        if self.nopush && self.rel != HintRel::Preconnect {
            s.push_str("; nopush");
        }
        if self.push_only {
            s.push_str("; x-http2-push-only");
        }
        // The path came from a config file or a Link header, both already header-safe; a
        // stray control character would make this fail, so fall back to the bare path.
        HeaderValue::try_from(s).unwrap_or_else(|_| HeaderValue::from_static("</>; rel=preload"))
    }
}

/// The preload destination for a path's extension, as browsers expect it in `as=`.
///
/// ```
/// assert_eq!(h2push::hints::destination_for("/x/app.mjs?v=2"), Some("script"));
/// assert_eq!(h2push::hints::destination_for("/data"), None);
/// ```
pub fn destination_for(path: &str) -> Option<&'static str> {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "css" => "style",
        "js" | "mjs" => "script",
        "woff2" | "woff" | "ttf" | "otf" => "font",
        "png" | "jpg" | "jpeg" | "gif" | "webp" | "avif" | "svg" | "ico" => "image",
        "json" => "fetch",
        _ => return None,
    })
}

/// One parsed link: its target and parameters (names lower-cased, values unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The URI reference between `<` and `>`.
    pub target: String,
    /// `(name, value)` pairs; a parameter without `=` has the value `None`.
    pub params: Vec<(String, Option<String>)>,
}

impl Link {
    /// The value of parameter `name`, if present (`Some(None)` when it has no value).
    ///
    /// ```
    /// let l = &h2push::hints::parse_links("</a>; rel=preload; nopush")[0];
    /// assert_eq!(l.param("rel"), Some(Some("preload")));
    /// assert_eq!(l.param("nopush"), Some(None));
    /// ```
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_deref())
    }

    /// Whether `rel` lists `relation` (rel may hold several, space-separated).
    ///
    /// ```
    /// let l = &h2push::hints::parse_links(r#"</a>; rel="preload prefetch""#)[0];
    /// assert!(l.has_rel("preload") && l.has_rel("PREFETCH") && !l.has_rel("next"));
    /// ```
    pub fn has_rel(&self, relation: &str) -> bool {
        self.param("rel").flatten().is_some_and(|r| {
            r.split_ascii_whitespace()
                .any(|t| t.eq_ignore_ascii_case(relation))
        })
    }

    /// This link as a [`Hint`] if it is a `rel=preload` or `rel=modulepreload` of a local
    /// path, or a `rel=preconnect` to another origin.
    ///
    /// ```
    /// use h2push::hints::{parse_links, HintRel};
    /// let l = &parse_links("</s.css>; rel=preload; as=style")[0];
    /// assert_eq!(l.to_hint().unwrap().path, "/s.css");
    /// let m = &parse_links("</m.js>; rel=modulepreload; crossorigin")[0];
    /// assert_eq!(m.to_hint().unwrap().rel, HintRel::ModulePreload);
    /// let p = &parse_links("<https://cdn.example>; rel=preconnect")[0];
    /// assert_eq!(p.to_hint().unwrap().rel, HintRel::Preconnect);
    /// ```
    pub fn to_hint(&self) -> Option<Hint> {
        let crossorigin = self
            .param("crossorigin")
            .map(|v| v.unwrap_or("").to_owned());
        if self.has_rel("preconnect") {
            let origin = url::Url::parse(&self.target).ok()?.origin();
            return origin.is_tuple().then(|| Hint {
                crossorigin,
                ..Hint::preconnect(origin.ascii_serialization(), None)
            });
        }
        let rel = if self.has_rel("modulepreload") {
            HintRel::ModulePreload
        } else if self.has_rel("preload") {
            HintRel::Preload
        } else {
            return None;
        };
        if !self.target.starts_with('/') || self.target.starts_with("//") {
            return None;
        }
        let as_ = match rel {
            HintRel::ModulePreload => Some("script".to_owned()),
            _ => self.param("as").flatten().map(str::to_ascii_lowercase),
        };
        Some(Hint {
            path: self.target.clone(),
            rel,
            as_,
            crossorigin,
            nopush: self.param("nopush").is_some(),
            push_only: self.param("x-http2-push-only").is_some()
                || self.param("push-only").is_some(),
        })
    }
}

/// Parses one `Link` field value into its links; malformed links are skipped, never an error.
///
/// ```
/// let links = h2push::hints::parse_links(
///     r#"</a.css>; rel=preload; as=style, <https://x.test/b>; rel="preconnect""#,
/// );
/// assert_eq!(links.len(), 2);
/// assert_eq!(links[1].target, "https://x.test/b");
/// ```
pub fn parse_links(value: &str) -> Vec<Link> {
    let mut links = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        let Some(after_lt) = rest.strip_prefix('<') else {
            // Not a link start: skip to the next comma outside quotes and try again.
            match skip_past_comma(rest) {
                Some(r) => {
                    rest = r;
                    continue;
                }
                None => return links,
            }
        };
        let Some(end) = after_lt.find('>') else {
            return links;
        };
        let target = after_lt[..end].trim().to_owned();
        let (params, r) = parse_params(&after_lt[end + 1..]);
        links.push(Link { target, params });
        rest = r;
    }
}

/// Parses `; name[=value]` parameters up to the comma that ends the link.
fn parse_params(mut s: &str) -> (Vec<(String, Option<String>)>, &str) {
    let mut params = Vec::new();
    loop {
        s = s.trim_start_matches([' ', '\t']);
        match s.as_bytes().first() {
            Some(b';') => s = &s[1..],
            Some(b',') | None => return (params, s.get(1..).unwrap_or("")),
            // Garbage between parameters: give up on this link's parameters.
            Some(_) => return (params, skip_past_comma(s).unwrap_or("")),
        }
        s = s.trim_start_matches([' ', '\t']);
        let name_end = s
            .find(|c: char| matches!(c, '=' | ';' | ',') || c.is_whitespace())
            .unwrap_or(s.len());
        let name = s[..name_end].to_ascii_lowercase();
        s = s[name_end..].trim_start_matches([' ', '\t']);
        let value = if let Some(v) = s.strip_prefix('=') {
            let v = v.trim_start_matches([' ', '\t']);
            if let Some(q) = v.strip_prefix('"') {
                let (val, r) = unquote(q);
                s = r;
                Some(val)
            } else {
                let end = v.find([';', ',']).unwrap_or(v.len());
                s = &v[end..];
                Some(v[..end].trim().to_owned())
            }
        } else {
            None
        };
        if !name.is_empty() {
            params.push((name, value));
        }
    }
}

/// Reads a quoted string (after its opening quote), handling `\` escapes.
fn unquote(s: &str) -> (String, &str) {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, &s[i + 1..]),
            '\\' => {
                if let Some((_, e)) = chars.next() {
                    out.push(e);
                }
            }
            c => out.push(c),
        }
    }
    (out, "")
}

fn skip_past_comma(s: &str) -> Option<&str> {
    let mut in_quotes = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => return Some(&s[i + 1..]),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preload_with_as_crossorigin_and_nopush() {
        let l = parse_links("</f.woff2>; rel=preload; as=font; crossorigin; nopush");
        let h = l[0].to_hint().unwrap();
        assert_eq!(h.path, "/f.woff2");
        assert_eq!(h.as_.as_deref(), Some("font"));
        assert_eq!(h.crossorigin.as_deref(), Some(""));
        assert!(h.nopush);
        assert!(!h.push_only);
    }

    #[test]
    fn push_only_in_both_spellings() {
        for v in [
            "</a.js>; rel=preload; x-http2-push-only",
            "</a.js>; rel=preload; push-only",
        ] {
            assert!(parse_links(v)[0].to_hint().unwrap().push_only, "{v}");
        }
    }

    #[test]
    fn quoted_values_with_commas_and_escapes() {
        let l = parse_links(r#"</a>; rel="preload"; title="x, \"y\"", </b>; rel=preload"#);
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].param("title"), Some(Some("x, \"y\"")));
        assert_eq!(l[1].target, "/b");
    }

    #[test]
    fn non_preload_and_foreign_targets_are_not_hints() {
        for v in [
            "</a>; rel=prefetch",
            "<https://cdn.test/a.css>; rel=preload; as=style",
            "<//cdn.test/a.css>; rel=preload",
            "<a.css>; rel=preload",
        ] {
            assert_eq!(parse_links(v)[0].to_hint(), None, "{v}");
        }
    }

    #[test]
    fn garbage_is_skipped_not_fatal() {
        assert!(parse_links("").is_empty());
        assert!(parse_links("garbage").is_empty());
        assert!(parse_links("<unterminated; rel=preload").is_empty());
        let l = parse_links("junk, </ok>; rel=preload");
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].target, "/ok");
        let l = parse_links("</a>; rel=preload x y, </b>; rel=preload");
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn hints_round_trip_through_their_link() {
        for path in ["/a.css", "/b.js?v=1", "/c.woff2", "/d.png", "/e"] {
            let mut h = Hint::new(path);
            h.nopush = path.ends_with('s');
            h.push_only = path.ends_with('g');
            let link = h.to_link();
            let back = parse_links(link.to_str().unwrap())[0].to_hint().unwrap();
            assert_eq!(back, h, "{link:?}");
        }
        let mut m = Hint::module("/m.js");
        m.crossorigin = Some("use-credentials".into());
        let p = Hint::preconnect("https://fonts.example:8443", Some(""));
        for h in [Hint::module("/m.js"), m, p] {
            let link = h.to_link();
            let back = parse_links(link.to_str().unwrap())[0].to_hint().unwrap();
            assert_eq!(back, h, "{link:?}");
        }
    }

    #[test]
    fn modulepreload_is_a_script_and_keeps_its_crossorigin() {
        let h = parse_links("</m.js>; rel=modulepreload; crossorigin")[0]
            .to_hint()
            .unwrap();
        assert_eq!(h.rel, HintRel::ModulePreload);
        assert_eq!(h.as_.as_deref(), Some("script"));
        assert_eq!(h.crossorigin.as_deref(), Some(""));
        assert_eq!(h.to_link(), "</m.js>; rel=modulepreload; crossorigin");
    }

    #[test]
    fn preconnect_keeps_only_the_origin_and_never_pushes() {
        let h = parse_links("<https://Fonts.Example/css?x=1>; rel=preconnect; crossorigin")[0]
            .to_hint()
            .unwrap();
        assert_eq!(h.path, "https://fonts.example");
        assert!(h.nopush && !h.is_local());
        for v in ["</local>; rel=preconnect", "<data:x>; rel=preconnect"] {
            assert_eq!(parse_links(v)[0].to_hint(), None, "{v}");
        }
    }

    #[test]
    fn fetch_mode_sets_the_credentials_mode() {
        assert_eq!(
            Hint::new("/a.png").with_fetch_mode("no-cors").crossorigin,
            None
        );
        assert_eq!(
            Hint::new("/a.css")
                .with_fetch_mode("cors")
                .crossorigin
                .as_deref(),
            Some("")
        );
        assert_eq!(
            Hint::new("/f.woff2")
                .with_fetch_mode("no-cors")
                .crossorigin
                .as_deref(),
            Some(""),
            "fonts are always CORS"
        );
    }
}
