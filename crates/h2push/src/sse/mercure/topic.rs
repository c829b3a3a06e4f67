//! Topic selectors: which topics a subscription (or a JWT claim) names.
//!
//! This file owns [`Selector`] and the URI Template matching behind it. A Mercure topic
//! selector is `*` (every topic), a URI Template (RFC 6570) that matches the topics it could
//! expand to, or any other string, which matches the identical topic. Matching is
//! hand-written over the template's parts, without regular expressions:
//!
//! | Expression | Matches |
//! |---|---|
//! | `{var}`, `{x,y}` (level 1–3 simple) | unreserved characters, `%XX`, `,` — no `/`, `?`, `#` |
//! | `{+var}` (reserved) | any characters a URI may hold (`/`, `?`, `:`, … too) |
//! | `{#var}` (fragment) | nothing, or `#` then reserved characters |
//! | `{.var}` `{/var}` `{;var}` `{?var}` `{&var}` | nothing, or the operator's prefix then its values |
//!
//! Prefix modifiers (`{var:3}`) and explode (`{var*}`) are accepted; explode lets the value
//! repeat its separator (`{/path*}` matches `/a/b/c`); the prefix length is not enforced (a
//! shorter-or-equal value check would need the variable's undefined/defined state, which a
//! match cannot know). A string with an unbalanced `{` or `}` is not a template and matches
//! only itself.

/// A topic selector, compiled once and matched against every update's topics.
///
/// ```
/// use h2push::sse::mercure::Selector;
///
/// let s = Selector::new("https://example.com/books/{id}");
/// assert!(s.matches("https://example.com/books/1"));
/// assert!(!s.matches("https://example.com/books/1/reviews"));
/// assert!(Selector::new("*").matches("urn:anything"));
/// assert!(Selector::new("https://example.com/a").matches("https://example.com/a"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Any,
    Exact,
    Template(Vec<Part>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Expr(Expr),
}

/// One `{…}` expression as a pattern: nothing, or `prefix` (if any) followed by characters
/// of `class`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Expr {
    prefix: Option<char>,
    class: Class,
    /// Extra characters allowed after the prefix (the separator of exploded or
    /// name=value forms).
    extra: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Unreserved characters and percent-escapes.
    Unreserved,
    /// Unreserved, reserved and percent-escapes.
    Reserved,
}

impl Class {
    fn allows(self, c: char) -> bool {
        let unreserved = c.is_ascii_alphanumeric() || "-._~%".contains(c);
        match self {
            Class::Unreserved => unreserved,
            Class::Reserved => unreserved || ":/?#[]@!$&'()*+,;=".contains(c),
        }
    }
}

impl Selector {
    /// Compiles `text`: `*`, a URI Template, or an exact topic.
    pub fn new(text: &str) -> Selector {
        let kind = if text == "*" {
            Kind::Any
        } else {
            match parse_template(text) {
                Some(parts) if parts.iter().any(|p| matches!(p, Part::Expr(_))) => {
                    Kind::Template(parts)
                }
                _ => Kind::Exact,
            }
        };
        Selector {
            text: text.to_owned(),
            kind,
        }
    }

    /// An exact matcher (draft-08's `Exact` type, the `match` query parameter): matches the
    /// identical topic only, even if it looks like a template; `*` still matches everything.
    ///
    /// ```
    /// use h2push::sse::mercure::Selector;
    /// assert!(!Selector::exact("/books/{id}").matches("/books/1"));
    /// assert!(Selector::exact("/books/{id}").matches("/books/{id}"));
    /// assert!(Selector::exact("*").matches("/anything"));
    /// ```
    pub fn exact(text: &str) -> Selector {
        Selector {
            text: text.to_owned(),
            kind: if text == "*" { Kind::Any } else { Kind::Exact },
        }
    }

    /// The selector as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the selector is a URI Template (has at least one expression).
    ///
    /// ```
    /// use h2push::sse::mercure::Selector;
    /// assert!(Selector::new("/books/{id}").is_template());
    /// assert!(!Selector::new("/books/1").is_template());
    /// ```
    pub fn is_template(&self) -> bool {
        matches!(self.kind, Kind::Template(_))
    }

    /// Whether `topic` is selected: equal to the selector, or `*`, or matched by the template.
    pub fn matches(&self, topic: &str) -> bool {
        match &self.kind {
            Kind::Any => true,
            Kind::Exact => self.text == topic,
            Kind::Template(parts) => self.text == topic || template_matches(parts, topic),
        }
    }
}

/// Whether any of `selectors` matches any of `topics`.
///
/// ```
/// use h2push::sse::mercure::{any_match, Selector};
/// let sel = [Selector::new("/users/{id}")];
/// assert!(any_match(&sel, ["/books/1", "/users/7"]));
/// assert!(!any_match(&sel, ["/books/1"]));
/// ```
pub fn any_match<'a>(selectors: &[Selector], topics: impl IntoIterator<Item = &'a str>) -> bool {
    topics
        .into_iter()
        .any(|t| selectors.iter().any(|s| s.matches(t)))
}

fn parse_template(text: &str) -> Option<Vec<Part>> {
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            None => {
                parts.push(Part::Literal(rest.to_owned()));
                break;
            }
            Some(i) if rest.as_bytes()[i] == b'}' => return None,
            Some(i) => {
                if i > 0 {
                    parts.push(Part::Literal(rest[..i].to_owned()));
                }
                let after = &rest[i + 1..];
                let end = after.find('}')?;
                let body = &after[..end];
                if body.contains('{') {
                    return None;
                }
                parts.push(Part::Expr(parse_expr(body)?));
                rest = &after[end + 1..];
            }
        }
    }
    Some(parts)
}

fn parse_expr(body: &str) -> Option<Expr> {
    let (op, vars) = match body.chars().next()? {
        c @ ('+' | '#' | '.' | '/' | ';' | '?' | '&') => (Some(c), &body[1..]),
        // Reserved for future extensions by RFC 6570: not a template we can match.
        '=' | ',' | '!' | '@' | '|' => return None,
        _ => (None, body),
    };
    let mut explode = false;
    for var in vars.split(',') {
        let (name, modifier) = match var.find([':', '*']) {
            Some(i) => (&var[..i], &var[i..]),
            None => (var, ""),
        };
        let name_ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '%');
        let modifier_ok = match modifier {
            "" => true,
            "*" => {
                explode = true;
                true
            }
            m => m.strip_prefix(':').is_some_and(|n| {
                !n.is_empty() && n.len() <= 4 && n.bytes().all(|b| b.is_ascii_digit())
            }),
        };
        if !name_ok || !modifier_ok {
            return None;
        }
    }
    let multi = vars.contains(',') || explode;
    Some(match op {
        None => Expr {
            prefix: None,
            class: Class::Unreserved,
            extra: ",",
        },
        Some('+') => Expr {
            prefix: None,
            class: Class::Reserved,
            extra: "",
        },
        Some('#') => Expr {
            prefix: Some('#'),
            class: Class::Reserved,
            extra: "",
        },
        Some('.') => Expr {
            prefix: Some('.'),
            class: Class::Unreserved,
            extra: ",",
        },
        Some('/') => Expr {
            prefix: Some('/'),
            class: Class::Unreserved,
            extra: if multi { ",/" } else { "," },
        },
        Some(';') => Expr {
            prefix: Some(';'),
            class: Class::Unreserved,
            extra: ",=;",
        },
        Some('?') => Expr {
            prefix: Some('?'),
            class: Class::Unreserved,
            extra: ",=&",
        },
        Some('&') => Expr {
            prefix: Some('&'),
            class: Class::Unreserved,
            extra: ",=&",
        },
        Some(_) => return None,
    })
}

/// Matches by tracking every position of `topic` reachable after each part: no
/// backtracking, `O(parts × len²)` at worst (topics are short).
fn template_matches(parts: &[Part], topic: &str) -> bool {
    let chars: Vec<char> = topic.chars().collect();
    let n = chars.len();
    let mut reach = vec![false; n + 1];
    reach[0] = true;
    for part in parts {
        let mut next = vec![false; n + 1];
        for start in (0..=n).filter(|&i| reach[i]) {
            match part {
                Part::Literal(lit) => {
                    let lit: Vec<char> = lit.chars().collect();
                    if chars[start..].starts_with(&lit) {
                        next[start + lit.len()] = true;
                    }
                }
                Part::Expr(e) => {
                    // An undefined variable expands to nothing.
                    next[start] = true;
                    let mut i = start;
                    if let Some(p) = e.prefix {
                        if chars.get(i) != Some(&p) {
                            continue;
                        }
                        i += 1;
                        next[i] = true;
                    }
                    while i < n && (e.class.allows(chars[i]) || e.extra.contains(chars[i])) {
                        i += 1;
                        next[i] = true;
                    }
                }
            }
        }
        reach = next;
    }
    reach[n]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(template: &str, topic: &str) -> bool {
        Selector::new(template).matches(topic)
    }

    #[test]
    fn level_one_simple() {
        assert!(m(
            "https://example.com/books/{id}",
            "https://example.com/books/1"
        ));
        assert!(m(
            "https://example.com/books/{id}",
            "https://example.com/books/"
        ));
        assert!(m("/books/{id}.jsonld", "/books/a%20b.jsonld"));
        assert!(!m(
            "https://example.com/books/{id}",
            "https://example.com/books/1/x"
        ));
        assert!(!m(
            "https://example.com/books/{id}",
            "https://example.org/books/1"
        ));
    }

    #[test]
    fn reserved_and_fragment() {
        assert!(m(
            "https://example.com/{+path}",
            "https://example.com/a/b?c=d"
        ));
        assert!(m("/page{#section}", "/page#top/x"));
        assert!(m("/page{#section}", "/page"));
        assert!(!m("/page{#section}", "/pagex"));
    }

    #[test]
    fn operators_with_prefixes() {
        assert!(m("/files{/dir}", "/files/docs"));
        assert!(!m("/files{/dir}", "/files/docs/2024"));
        assert!(m("/files{/dir*}", "/files/docs/2024"));
        assert!(m("/files{/dir,name}", "/files/docs,a.txt"));
        assert!(m("/x{.ext}", "/x.json"));
        assert!(m("/map{;x,y}", "/map;x=1;y=2"));
        assert!(m("/search{?q,lang}", "/search?q=cat&lang=en"));
        assert!(m("/search{?q}{&lang}", "/search?q=cat&lang=en"));
        assert!(m("/search{?q}", "/search"));
        assert!(!m("/search{?q}", "/search#q"));
        assert!(m("/users/{id:3}", "/users/abc"));
    }

    #[test]
    fn several_expressions_backtrack_by_positions() {
        let s = Selector::new("/{a}-{b}");
        assert!(s.matches("/x-y-z"));
        assert!(s.matches("/x-"));
        assert!(!s.matches("/xyz/"));
    }

    #[test]
    fn non_templates_are_exact() {
        assert!(!Selector::new("/a{").is_template());
        assert!(m("/a{", "/a{"));
        assert!(!m("/a{", "/a"));
        assert!(!Selector::new("/a}b{").is_template());
        assert!(!Selector::new("/{!x}").is_template());
        assert!(!Selector::new("/{}").is_template());
    }
}
