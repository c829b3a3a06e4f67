//! The second level of a page's critical chain: what its stylesheets make the browser fetch.
//!
//! This module owns reading a served stylesheet the way a browser's CSS loader would and
//! returning what it fetches next, which the page's HTML does not name and the browser's
//! preload scanner cannot see until the stylesheet has arrived: `@import`ed stylesheets
//! (render-blocking), the web fonts of `@font-face` rules (the source the browser picks:
//! the first `url()` whose `format()` it supports; faces whose `unicode-range` leaves out
//! basic Latin are skipped, and regular faces rank before bold and italic ones), and a few
//! `background-image`s (a hero) of rules that apply without user interaction (no `:hover`,
//! `:focus`…, no pseudo-elements). `@media print` is skipped; other `@media`, `@supports`
//! and `@layer` blocks are read. Everything is capped, so a huge stylesheet yields a handful
//! of hints. Scans are cached per file version, as the HTML scan's are.
//!
//! Tokenizing is [`cssparser`]'s (Servo's and Firefox's CSS Syntax Level 3 tokenizer and
//! block parser): comments, escapes, `url()` in its quoted and unquoted forms and nested
//! blocks are read as a browser reads them, which regular expressions cannot do. Which of
//! these hints a page gets is the policy's.

use std::path::Path;
use std::sync::Arc;

use cssparser::{Delimiter, Parser, ParserInput, Token, UnicodeRange};
use http::HeaderValue;

use super::link::Hint;
use super::scan_cache::ScanCache;

/// Stylesheets larger than this are read up to here.
const MAX_READ: u64 = 512 * 1024;
/// `@import`s taken from one stylesheet at most.
const MAX_IMPORTS: usize = 4;
/// Font faces taken from one stylesheet at most (the best ranked).
const MAX_FONTS: usize = 4;
/// Background images taken from one stylesheet at most (the first ones).
const MAX_IMAGES: usize = 2;
/// How deep `@media`/`@supports`/`@layer` blocks are followed.
const MAX_DEPTH: u8 = 4;
/// The origin relative URLs are resolved against; only results on it are kept.
const ORIGIN: &str = "http://h2push.invalid";

/// What the stylesheet served at `css_path` makes the browser fetch next: its `@import`s
/// (`as=style`), its fonts (`as=font`, always `crossorigin`) and its first background images
/// (`as=image`), in that order, same-origin only, relative URLs resolved against `css_path`.
///
/// ```
/// let css = r#"
///   @import url("base.css");
///   @font-face { font-family: Body; src: local("Body"), url(../fonts/body-3f2a.woff2) format("woff2"),
///                url(../fonts/body-3f2a.woff) format("woff"); }
///   @font-face { font-family: Body; src: url(/fonts/cyr.woff2); unicode-range: U+0400-045F; }
///   .hero { background: #000 url('/img/hero-9c1b.jpg') center / cover; }
///   a:hover { background-image: url(/img/hover.png); }
/// "#;
/// let hints = h2push::hints::scan_css(css, "/css/site.css");
/// let links: Vec<_> = hints.iter().map(|h| h.to_link().to_str().unwrap().to_owned()).collect();
/// assert_eq!(links, [
///     "</css/base.css>; rel=preload; as=style",
///     "</fonts/body-3f2a.woff2>; rel=preload; as=font; crossorigin",
///     "</img/hero-9c1b.jpg>; rel=preload; as=image",
/// ]);
/// ```
pub fn scan_css(css: &str, css_path: &str) -> Vec<Hint> {
    let Ok(base) = url::Url::parse(ORIGIN).and_then(|o| o.join(css_path)) else {
        return Vec::new();
    };
    let mut found = Found::default();
    let mut input = ParserInput::new(css);
    let mut parser = Parser::new(&mut input);
    rules(&mut parser, &base, &mut found, 0);
    found.into_hints()
}

/// What one stylesheet names, before ranking and capping.
#[derive(Default)]
struct Found {
    imports: Vec<String>,
    fonts: Vec<Face>,
    images: Vec<String>,
}

/// One `@font-face` rule's fetched source and how likely a page is to use it.
struct Face {
    path: String,
    /// Lower is likelier: regular before bold, upright before italic.
    rank: u8,
}

impl Found {
    fn into_hints(mut self) -> Vec<Hint> {
        // Stable: faces of equal rank keep their order in the stylesheet.
        self.fonts.sort_by_key(|f| f.rank);
        let mut hints: Vec<Hint> = Vec::new();
        let imports = self.imports.into_iter().take(MAX_IMPORTS);
        let styles = imports.map(|p| Hint::new(p).with_as("style"));
        let fonts = self.fonts.into_iter().take(MAX_FONTS).map(|f| {
            // Fonts are always fetched in CORS mode.
            Hint::new(f.path).with_as("font").with_fetch_mode("cors")
        });
        let images = self.images.into_iter().take(MAX_IMAGES);
        let images = images.map(|p| Hint::new(p).with_as("image"));
        for h in styles.chain(fonts).chain(images) {
            if !hints.iter().any(|o| o.path == h.path) {
                hints.push(h);
            }
        }
        hints
    }
}

/// Reads a list of rules (a stylesheet, or the block of `@media` and the like).
fn rules(p: &mut Parser<'_, '_>, base: &url::Url, found: &mut Found, depth: u8) {
    loop {
        let token = match p.next() {
            Ok(t) => t.clone(),
            Err(_) => return,
        };
        match token {
            Token::AtKeyword(name) => at_rule(&name.to_ascii_lowercase(), p, base, found, depth),
            Token::Semicolon | Token::CDO | Token::CDC => {}
            first => qualified_rule(&first, p, base, found),
        }
    }
}

fn at_rule(name: &str, p: &mut Parser<'_, '_>, base: &url::Url, found: &mut Found, depth: u8) {
    match name {
        "import" => {
            let _ = p.parse_until_after(Delimiter::Semicolon, |p| {
                let url = p.expect_url_or_string()?.as_ref().to_owned();
                if !prelude_is_print(p) {
                    found.imports.extend(local_path(base, &url));
                }
                Ok::<_, cssparser::ParseError<'_, ()>>(())
            });
        }
        "font-face" => {
            if skip_to_block(p).is_some() {
                let _ = p.parse_nested_block(|p| {
                    found.fonts.extend(font_face(p, base));
                    Ok::<_, cssparser::ParseError<'_, ()>>(())
                });
            }
        }
        "media" | "supports" | "layer" | "container" => {
            let print = name == "media" && prelude_is_print(p);
            // `@layer a, b;` has no block: it ends at the semicolon.
            if skip_to_block(p).is_some() && !print && depth < MAX_DEPTH {
                let _ = p.parse_nested_block(|p| {
                    rules(p, base, found, depth + 1);
                    Ok::<_, cssparser::ParseError<'_, ()>>(())
                });
            }
        }
        // @keyframes, @page, @charset, @namespace, @counter-style…: nothing to fetch early.
        _ => {
            let _ = skip_to_block(p);
        }
    }
}

/// Skips an at-rule's prelude; `Some` if a `{}` block follows (the parser is then at it),
/// `None` if the rule ended with `;` or the input.
fn skip_to_block(p: &mut Parser<'_, '_>) -> Option<()> {
    loop {
        match p.next().ok()? {
            Token::CurlyBracketBlock => return Some(()),
            Token::Semicolon => return None,
            _ => {}
        }
    }
}

/// Whether the media query list ahead is only for print (consumes up to, not including, a
/// `{`, a `;` or the end). `@media print, screen` is not.
fn prelude_is_print(p: &mut Parser<'_, '_>) -> bool {
    let state = p.state();
    let mut idents = Vec::new();
    while let Ok(t) = p.next() {
        match t {
            Token::CurlyBracketBlock | Token::Semicolon => break,
            Token::Ident(i) => idents.push(i.to_ascii_lowercase()),
            Token::Comma => idents.push(",".into()),
            _ => {}
        }
    }
    p.reset(&state);
    !idents.is_empty()
        && idents
            .split(|i| i == ",")
            .all(|query| query.iter().any(|i| i == "print") && !query.iter().any(|i| i == "not"))
}

/// A style rule: its selector up to the block, then its declarations.
fn qualified_rule(first: &Token<'_>, p: &mut Parser<'_, '_>, base: &url::Url, found: &mut Found) {
    let mut interactive = false;
    let mut after_colon = matches!(first, Token::Colon);
    if matches!(first, Token::CurlyBracketBlock) {
        return; // a stray block: nothing to read
    }
    loop {
        match p.next() {
            Ok(Token::CurlyBracketBlock) => break,
            Ok(Token::Colon) if after_colon => interactive = true, // `::before`
            Ok(Token::Colon) => {
                after_colon = true;
                continue;
            }
            Ok(Token::Ident(name) | Token::Function(name)) if after_colon => {
                let name = name.to_ascii_lowercase();
                interactive |= INTERACTIVE.contains(&name.as_str());
            }
            Ok(_) => {}
            Err(_) => return,
        }
        after_colon = false;
    }
    let want_images = !interactive && found.images.len() < MAX_IMAGES;
    let _ = p.parse_nested_block(|p| {
        declarations(p, |name, p| {
            if want_images && (name == "background" || name == "background-image") {
                if let Some(first) = urls(p).into_iter().next() {
                    found.images.extend(local_path(base, &first));
                }
            }
        });
        Ok::<_, cssparser::ParseError<'_, ()>>(())
    });
}

/// Pseudo-classes and pseudo-elements whose rules do not apply on first render.
const INTERACTIVE: &[&str] = &[
    "hover",
    "focus",
    "focus-within",
    "focus-visible",
    "active",
    "visited",
    "target",
    "checked",
    "before",
    "after",
    "selection",
    "placeholder",
    "disabled",
];

/// Calls `each(name, value_parser)` for every `name: value;` of a declaration block.
fn declarations(p: &mut Parser<'_, '_>, mut each: impl FnMut(&str, &mut Parser<'_, '_>)) {
    while !p.is_exhausted() {
        let _ = p.parse_until_after(Delimiter::Semicolon, |p| {
            let name = p.expect_ident()?.to_ascii_lowercase();
            p.expect_colon()?;
            each(&name, p);
            Ok::<_, cssparser::ParseError<'_, ()>>(())
        });
    }
}

/// The `url()`s of a value, in order, at any depth (`image-set(url(a) 1x)`), except inside
/// `local()`.
fn urls(p: &mut Parser<'_, '_>) -> Vec<String> {
    let mut out = Vec::new();
    collect_urls(p, &mut out);
    out
}

fn collect_urls(p: &mut Parser<'_, '_>, out: &mut Vec<String>) {
    while let Ok(t) = p.next() {
        match t {
            Token::UnquotedUrl(u) => out.push(u.as_ref().to_owned()),
            Token::Function(f) if f.eq_ignore_ascii_case("url") => {
                let _ = p.parse_nested_block(|p| {
                    let u = p.expect_string()?.as_ref().to_owned();
                    out.push(u);
                    Ok::<_, cssparser::ParseError<'_, ()>>(())
                });
            }
            Token::Function(f) if f.eq_ignore_ascii_case("local") => {}
            Token::Function(_)
            | Token::ParenthesisBlock
            | Token::SquareBracketBlock
            | Token::CurlyBracketBlock => {
                let _ = p.parse_nested_block(|p| {
                    collect_urls(p, out);
                    Ok::<_, cssparser::ParseError<'_, ()>>(())
                });
            }
            _ => {}
        }
    }
}

/// The source a browser fetches for one `@font-face` block, unless the face is for other
/// scripts than basic Latin.
fn font_face(p: &mut Parser<'_, '_>, base: &url::Url) -> Option<Face> {
    let mut src = None;
    let mut latin = true;
    let (mut bold, mut italic) = (false, false);
    declarations(p, |name, p| match name {
        // A later `src` wins, as in the old IE syntax (`src: url(x.eot); src: …`).
        "src" => src = font_source(p),
        "unicode-range" => {
            let ranges = p.parse_comma_separated_ignoring_errors(|p| {
                UnicodeRange::parse(p).map_err(cssparser::ParseError::<()>::from)
            });
            latin = ranges.is_empty() || ranges.iter().any(|r| r.start <= 0x61 && 0x61 <= r.end);
        }
        "font-weight" => bold = font_weight_is_bold(p),
        "font-style" => {
            italic = matches!(p.expect_ident(), Ok(s) if !s.eq_ignore_ascii_case("normal"));
        }
        _ => {}
    });
    let path = local_path(base, &src?)?;
    latin.then_some(Face {
        path,
        rank: u8::from(bold) + 2 * u8::from(italic),
    })
}

/// The first source of a `src` list in a format every browser takes (not EOT or SVG fonts).
fn font_source(p: &mut Parser<'_, '_>) -> Option<String> {
    let sources = p.parse_comma_separated_ignoring_errors(|p| {
        let mut url = None;
        let mut format = None;
        while let Ok(t) = p.next() {
            match t {
                Token::UnquotedUrl(u) => url = Some(u.as_ref().to_owned()),
                Token::Function(f) if f.eq_ignore_ascii_case("url") => {
                    url = p
                        .parse_nested_block(|p| {
                            Ok::<_, cssparser::ParseError<'_, ()>>(
                                p.expect_string()?.as_ref().to_owned(),
                            )
                        })
                        .ok();
                }
                Token::Function(f) if f.eq_ignore_ascii_case("format") => {
                    format = p
                        .parse_nested_block(|p| {
                            let t = p.next()?.clone();
                            Ok::<_, cssparser::ParseError<'_, ()>>(match t {
                                Token::QuotedString(s) | Token::Ident(s) => {
                                    s.as_ref().to_ascii_lowercase()
                                }
                                _ => String::new(),
                            })
                        })
                        .ok();
                }
                Token::Function(_) => {
                    let _ = p.parse_nested_block(|p| {
                        while p.next().is_ok() {}
                        Ok::<_, cssparser::ParseError<'_, ()>>(())
                    });
                }
                _ => {}
            }
        }
        Ok::<_, cssparser::ParseError<'_, ()>>((url, format))
    });
    sources.into_iter().find_map(|(url, format)| {
        let usable = !matches!(format.as_deref(), Some("embedded-opentype" | "svg"));
        url.filter(|_| usable)
    })
}

/// Whether a `font-weight` value is bold only (a variable range that includes 400 is not).
fn font_weight_is_bold(p: &mut Parser<'_, '_>) -> bool {
    let mut weights = Vec::new();
    while let Ok(t) = p.next() {
        match t {
            Token::Number { value, .. } => weights.push(*value),
            Token::Ident(i) if i.eq_ignore_ascii_case("bold") => weights.push(700.0),
            Token::Ident(i) if i.eq_ignore_ascii_case("bolder") => weights.push(700.0),
            _ => {}
        }
    }
    match weights.as_slice() {
        [w] => *w >= 600.0,
        [lo, hi] => !(lo..=hi).contains(&&400.0),
        _ => false,
    }
}

/// The same-origin path (with query) of `href` resolved against `base`.
fn local_path(base: &url::Url, href: &str) -> Option<String> {
    super::html::local_path(base, href)
}

/// Stylesheet scans cached per file version.
#[derive(Debug)]
pub(crate) struct SheetCache(ScanCache<Vec<Hint>>);

impl Default for SheetCache {
    fn default() -> Self {
        SheetCache(ScanCache::new(MAX_READ))
    }
}

impl SheetCache {
    /// The hints of the stylesheet at `fs_path`, served for `css_path` with `etag`: from the
    /// cache, or read and scanned now. A file that cannot be read has none.
    pub(crate) async fn hints(
        &self,
        css_path: &str,
        fs_path: &Path,
        etag: &HeaderValue,
    ) -> Arc<Vec<Hint>> {
        self.0
            .get(css_path, fs_path, etag, |text| scan_css(text, css_path))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(css: &str, at: &str) -> Vec<String> {
        scan_css(css, at).into_iter().map(|h| h.path).collect()
    }

    #[test]
    fn imports_in_every_syntax_and_not_for_print() {
        let css = r#"@charset "utf-8";
            @import "a.css";
            @import url(b.css) screen;
            @import url('c.css') print;
            @import url("d.css") print, screen;
            /* @import "commented.css"; */
            @import "https://cdn.example/e.css";
            body { color: red }"#;
        assert_eq!(
            paths(css, "/css/site.css"),
            ["/css/a.css", "/css/b.css", "/css/d.css"]
        );
    }

    #[test]
    fn the_source_a_browser_picks() {
        let css = r#"
            @font-face { font-family: Old; src: url(old.eot); src: url(old.eot?#iefix) format('embedded-opentype'), url(old.woff2) format('woff2'); }
            @font-face { font-family: Local; src: local(Local Sans), local("Local"), url("/f/local.woff2"); }
            @font-face { font-family: Esc; src: url(/f/a\29 b.woff2); }"#;
        assert_eq!(
            paths(css, "/s.css"),
            ["/old.woff2", "/f/local.woff2", "/f/a)b.woff2"]
        );
        let h = scan_css(css, "/s.css");
        assert!(h
            .iter()
            .all(|h| h.as_.as_deref() == Some("font") && h.crossorigin.as_deref() == Some("")));
    }

    #[test]
    fn regular_latin_faces_first_and_capped() {
        // The shape of mdBook's fonts.css: many weights of one family, a code font last.
        let mut css = String::new();
        for (w, style) in [
            (300, "normal"),
            (300, "italic"),
            (400, "normal"),
            (400, "italic"),
            (600, "normal"),
            (700, "normal"),
            (800, "italic"),
        ] {
            css.push_str(&format!(
                "@font-face {{ font-family: 'Open Sans'; font-style: {style}; font-weight: {w}; src: local('Open Sans'), url('fonts/open-sans-{w}-{style}.woff2') format('woff2'); }}\n"
            ));
        }
        css.push_str(
            "@font-face { font-family: Code; font-weight: 100 900; src: url(fonts/code.woff2); }\n",
        );
        css.push_str("@font-face { font-family: Cyr; src: url(fonts/cyr.woff2); unicode-range: U+0400-045F, U+0490-0491; }\n");
        css.push_str("@font-face { font-family: Latin; src: url(fonts/latin.woff2); unicode-range: U+0000-00FF, U+0131; }\n");
        let got = paths(&css, "/book/css/fonts.css");
        assert_eq!(
            got,
            [
                "/book/css/fonts/open-sans-300-normal.woff2",
                "/book/css/fonts/open-sans-400-normal.woff2",
                "/book/css/fonts/code.woff2",
                "/book/css/fonts/latin.woff2",
            ],
            "regular upright faces first, in stylesheet order; Cyrillic-only skipped"
        );
    }

    #[test]
    fn backgrounds_that_render_at_once_and_only_the_first() {
        let css = r#"
            a:hover { background: url(/hover.png) }
            .btn:focus-visible { background-image: url(/focus.png) }
            .x::before { background: url(/before.png) }
            .logo { background-image: url(data:image/png;base64,AAAA) }
            .hero { background-image: linear-gradient(#000, #fff), image-set(url(/hero.avif) 1x, url(/hero2x.avif) 2x) }
            @media print { .p { background: url(/print.png) } }
            @media (min-width: 800px) { .wide { background: url(wide.jpg) } }
            .third { background: url(/third.png) }"#;
        assert_eq!(paths(css, "/css/a.css"), ["/hero.avif", "/css/wide.jpg"]);
    }

    #[test]
    fn garbage_and_huge_inputs_are_harmless() {
        for css in [
            "",
            "{{{{",
            "@import",
            "@font-face",
            "@font-face { src: }",
            "a { background: url( }",
            "@media { @media { @media { @media { @media { @media { a { background: url(/deep.png) } } } } } } }",
            "}}}} a { background: url(/after-garbage.png) }",
        ] {
            let _ = scan_css(css, "/s.css");
        }
        let many: String = (0..1000)
            .map(|i| format!("@import 'i{i}.css'; @font-face {{ src: url(f{i}.woff2) }} .c{i} {{ background: url(b{i}.png) }}\n"))
            .collect();
        assert_eq!(
            scan_css(&many, "/s.css").len(),
            MAX_IMPORTS + MAX_FONTS + MAX_IMAGES
        );
    }
}
