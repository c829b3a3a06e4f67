//! Zero-config hints: the resources in a static HTML file's `<head>` that a preload can serve.
//!
//! This module owns reading a page's `<head>` the way a browser's preload scanner would and
//! returning what the page needs first, each with the relation, `as=` and `crossorigin` the
//! page will fetch it with (a preload that differs in credentials mode is downloaded twice):
//! stylesheets (for all or screen media), classic scripts without `async` (`defer` ones too),
//! module scripts (as `modulepreload`, the main bundle of Vite, Astro, SvelteKit or Next
//! builds), `<link rel=preload>` and `<link rel=modulepreload>`, and `<link rel=preconnect>`
//! to other origins. Left out: `async` and `nomodule` scripts, print stylesheets, anything
//! inside `<noscript>` or `<template>`, anything after the head ends (explicitly or
//! implicitly, as the HTML tree builder would end it), and other origins. Icons and manifests
//! (`rel=icon`, `apple-touch-icon`, `manifest`…) are fetched by the browser itself, which no
//! preload serves: they are returned apart, as paths never to hint. Results are cached per
//! file version (path + ETag), so a file is read once per edit. Serving the file is
//! [`crate::files`]'s; deciding what to do with the hints is the policy's.
//!
//! Tokenizing is [`html5gum`]'s: a WHATWG-conformant tokenizer (it passes html5lib's
//! tokenizer tests) with no dependencies and `forbid(unsafe_code)`, which is all a head scan
//! needs. `lol_html` was the other candidate; it is a streaming *rewriter* with CSS selector
//! machinery and several dependencies, more than reading a few tags calls for. URL
//! resolution (`<base href>`, relative paths) is the `url` crate's.

use std::path::Path;
use std::sync::Arc;

use html5gum::{DefaultEmitter, StartTag, Token, Tokenizer};
use http::HeaderValue;

use super::link::Hint;
use super::scan_cache::ScanCache;

/// Heads larger than this are cut here (the tags past it are simply not seen).
const MAX_READ: u64 = 256 * 1024;
/// At most this many hints from one page.
const MAX_HINTS: usize = 32;
/// The origin relative URLs are resolved against; only results on it are kept.
const ORIGIN: &str = "http://h2push.invalid";

/// The resources of an HTML document requested at `doc_path` (which relative URLs are
/// resolved against) that a preload can serve, in document order: same-origin paths, and
/// preconnects to other origins.
///
/// ```
/// use h2push::hints::HintRel;
/// let html = r#"<!doctype html><html><head>
///   <link rel=icon href="/favicon.svg">
///   <link rel=stylesheet href="css/site.css">
///   <link rel=preload href="/f.woff2" as=font crossorigin>
///   <script type="module" crossorigin src="/assets/index-D_6Ay_gG.js"></script>
///   <script src="/app.js"></script>
///   <script src="/analytics.js" async></script>
/// </head><body><script src="/late.js"></script></body></html>"#;
/// let hints = h2push::hints::scan_head(html, "/blog/index.html");
/// let paths: Vec<&str> = hints.iter().map(|h| h.path.as_str()).collect();
/// assert_eq!(paths, ["/blog/css/site.css", "/f.woff2", "/assets/index-D_6Ay_gG.js", "/app.js"]);
/// assert_eq!(hints[1].as_.as_deref(), Some("font"));
/// assert_eq!(hints[2].rel, HintRel::ModulePreload);
/// assert_eq!(hints[2].crossorigin.as_deref(), Some(""));
/// ```
pub fn scan_head(html: &str, doc_path: &str) -> Vec<Hint> {
    scan(html, doc_path).hints
}

/// What a head scan found: the hints, and the paths no preload can serve (icons, the
/// manifest), never to be hinted for the page.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct HeadScan {
    pub hints: Vec<Hint>,
    pub never: Vec<String>,
}

/// The `rel` values of links the browser fetches by itself, for which a preload is never
/// used.
const BROWSER_FETCHED: &[&str] = &[
    "icon",
    "apple-touch-icon",
    "apple-touch-icon-precomposed",
    "mask-icon",
    "manifest",
];

pub(crate) fn scan(html: &str, doc_path: &str) -> HeadScan {
    let mut never = vec!["/favicon.ico".to_owned()];
    let Ok(mut base) = url::Url::parse(ORIGIN).and_then(|o| o.join(doc_path)) else {
        return HeadScan {
            hints: Vec::new(),
            never,
        };
    };
    let mut emitter = DefaultEmitter::default();
    // Switch to RAWTEXT/RCDATA/script states after <style>, <title>, <script>, <noscript>…
    // as a browser with scripting on does, so their contents are never taken for tags.
    emitter.naively_switch_states(true);
    let mut hints = Vec::new();
    let mut base_seen = false;
    // Inside <noscript> or <template>: markup a browser (with scripting on) does not act on.
    let mut inert: Vec<Vec<u8>> = Vec::new();
    // Inside <title>, <style> or <script>: the text that follows is their content.
    let mut raw_text = false;
    // Reading a &str cannot fail: the error type is Infallible.
    for token in Tokenizer::new_with_emitter(html, emitter).flatten() {
        match token {
            Token::StartTag(tag) => {
                let name = tag.name.as_slice();
                if !inert.is_empty() {
                    if name == b"template" {
                        inert.push(name.to_vec());
                    }
                    continue;
                }
                match name {
                    b"html" | b"head" | b"meta" | b"basefont" | b"bgsound" => {}
                    b"title" | b"style" | b"noframes" => raw_text = true,
                    b"noscript" | b"template" => inert.push(name.to_vec()),
                    b"base" if !base_seen => {
                        base_seen = true;
                        if let Some(b) = attr(&tag, "href").and_then(|h| base.join(h.trim()).ok()) {
                            base = b;
                        }
                    }
                    b"base" => {}
                    b"link" => match link_hint(&tag, &base) {
                        Linked::Hint(h) => hints.push(h),
                        Linked::Never(p) if !never.contains(&p) => never.push(p),
                        Linked::Never(_) => {}
                        Linked::Nothing => {}
                    },
                    b"script" => {
                        raw_text = true;
                        hints.extend(script_hint(&tag, &base));
                    }
                    // Any other start tag starts the body (the "in head" insertion mode).
                    _ => break,
                }
                if hints.len() >= MAX_HINTS {
                    break;
                }
            }
            Token::EndTag(tag) => {
                let name = tag.name.as_slice();
                if inert.last().is_some_and(|n| n.as_slice() == name) {
                    inert.pop();
                } else if inert.is_empty() {
                    match name {
                        b"title" | b"style" | b"noframes" | b"script" => raw_text = false,
                        b"head" | b"body" | b"html" => break,
                        _ => {}
                    }
                }
            }
            // Text in the head that is not whitespace (and not an element's content) starts
            // the body too.
            Token::String(text)
                if inert.is_empty()
                    && !raw_text
                    && !text.value.iter().all(u8::is_ascii_whitespace) =>
            {
                break
            }
            _ => {}
        }
    }
    let mut hints = dedupe(hints);
    hints.retain(|h| !never.contains(&h.path));
    HeadScan { hints, never }
}

fn dedupe(hints: Vec<Hint>) -> Vec<Hint> {
    let mut out: Vec<Hint> = Vec::with_capacity(hints.len());
    for h in hints {
        if !out.iter().any(|o| o.path == h.path) {
            out.push(h);
        }
    }
    out
}

fn attr<'a>(tag: &'a StartTag<()>, name: &str) -> Option<&'a str> {
    tag.attributes
        .get(name.as_bytes())
        .and_then(|v| std::str::from_utf8(&v.value).ok())
}

fn has_attr(tag: &StartTag<()>, name: &str) -> bool {
    tag.attributes.contains_key(name.as_bytes())
}

/// The same-origin path (with query) of `href` resolved against `base`.
pub(super) fn local_path(base: &url::Url, href: &str) -> Option<String> {
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    let u = base.join(href).ok()?;
    if u.origin() != base.origin() || u.scheme() != "http" || u.host_str() != Some("h2push.invalid")
    {
        return None;
    }
    let mut p = u.path().to_owned();
    if let Some(q) = u.query() {
        p.push('?');
        p.push_str(q);
    }
    Some(p)
}

fn crossorigin(tag: &StartTag<()>) -> Option<String> {
    attr(tag, "crossorigin").map(|v| match v.trim().to_ascii_lowercase().as_str() {
        "use-credentials" => "use-credentials".to_owned(),
        _ => String::new(),
    })
}

/// What one `<link>` means for the hints.
enum Linked {
    Hint(Hint),
    /// A path the browser fetches by itself (an icon): never hinted.
    Never(String),
    Nothing,
}

fn link_hint(tag: &StartTag<()>, base: &url::Url) -> Linked {
    link_hint_of(tag, base).unwrap_or(Linked::Nothing)
}

fn link_hint_of(tag: &StartTag<()>, base: &url::Url) -> Option<Linked> {
    let rel = attr(tag, "rel")?.to_ascii_lowercase();
    let rels: Vec<&str> = rel.split_ascii_whitespace().collect();
    let href = attr(tag, "href")?;
    if rels.contains(&"preconnect") {
        let origin = base.join(href.trim()).ok()?.origin();
        if !origin.is_tuple() || origin == base.origin() {
            return None;
        }
        return Some(Linked::Hint(Hint::preconnect(
            origin.ascii_serialization(),
            crossorigin(tag).as_deref(),
        )));
    }
    let path = local_path(base, href)?;
    if rels.iter().any(|r| BROWSER_FETCHED.contains(r)) {
        return Some(Linked::Never(path));
    }
    if !screen_media(tag) {
        return None;
    }
    if rels.contains(&"stylesheet") {
        if rels.contains(&"alternate") || has_attr(tag, "disabled") {
            return None;
        }
        let mut h = Hint::new(path).with_as("style");
        h.crossorigin = crossorigin(tag);
        return Some(Linked::Hint(h));
    }
    if rels.contains(&"modulepreload") {
        let mut h = Hint::module(path);
        h.crossorigin = crossorigin(tag);
        return Some(Linked::Hint(h));
    }
    if rels.contains(&"preload") {
        let mut h = Hint::new(path);
        if let Some(a) = attr(tag, "as").map(str::trim).filter(|a| !a.is_empty()) {
            h = h.with_as(a);
        }
        h.crossorigin = match crossorigin(tag) {
            // The preload spec requires CORS for fonts whatever the markup says.
            None if h.as_.as_deref() == Some("font") => Some(String::new()),
            c => c,
        };
        return Some(Linked::Hint(h));
    }
    None
}

/// Whether a `media` attribute (if any) applies to a screen.
fn screen_media(tag: &StartTag<()>) -> bool {
    match attr(tag, "media").map(|m| m.trim().to_ascii_lowercase()) {
        None => true,
        Some(m) => {
            m.is_empty()
                || m.split(',').any(|q| {
                    let q = q.trim();
                    q.starts_with("all") || q.starts_with("screen") || q.starts_with('(')
                })
        }
    }
}

fn script_hint(tag: &StartTag<()>, base: &url::Url) -> Option<Hint> {
    let src = attr(tag, "src")?;
    if has_attr(tag, "async") || has_attr(tag, "nomodule") {
        return None;
    }
    let path = local_path(base, src)?;
    let mut h = match attr(tag, "type").map(|t| t.trim().to_ascii_lowercase()) {
        Some(t) if t == "module" => Hint::module(path),
        None => Hint::new(path).with_as("script"),
        Some(t)
            if t.is_empty()
                || matches!(
                    t.as_str(),
                    "text/javascript" | "application/javascript" | "application/ecmascript"
                ) =>
        {
            Hint::new(path).with_as("script")
        }
        Some(_) => return None,
    };
    h.crossorigin = crossorigin(tag);
    Some(h)
}

/// Head scans cached per file version.
#[derive(Debug)]
pub(crate) struct HeadCache(ScanCache<HeadScan>);

impl Default for HeadCache {
    fn default() -> Self {
        HeadCache(ScanCache::new(MAX_READ))
    }
}

impl HeadCache {
    /// The scan of the HTML file at `fs_path`, served for `doc_path` with `etag`: from the
    /// cache, or read and scanned now. A file that cannot be read has no hints.
    pub(crate) async fn scan(
        &self,
        doc_path: &str,
        fs_path: &Path,
        etag: &HeaderValue,
    ) -> Arc<HeadScan> {
        self.0
            .get(doc_path, fs_path, etag, |text| scan(text, doc_path))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(html: &str, doc: &str) -> Vec<String> {
        scan_head(html, doc).into_iter().map(|h| h.path).collect()
    }

    #[test]
    fn finds_blocking_resources_and_ignores_the_rest() {
        let html = r#"<!DOCTYPE html>
<html><head>
<meta charset=utf-8><title>A <link rel=stylesheet href=/in-title.css></title>
<style>/* <link rel=stylesheet href=/in-style.css> */ body{}</style>
<link rel="stylesheet" href="/main.css">
<link rel="stylesheet" href="/print.css" media="print">
<link rel="stylesheet" href="/wide.css" media="screen and (min-width: 900px)">
<link rel="alternate stylesheet" href="/alt.css">
<link rel="preload" href="/font.woff2" as="font" type="font/woff2">
<link rel="preload" href="/hero.jpg" as="image">
<link rel="icon" href="/favicon.ico">
<script>document.write('<script src=/written.js></scr' + 'ipt>')</script>
<script src="/blocking.js"></script>
<script src="/async.js" async></script>
<script src="/defer.js" defer></script>
<script src="/mod.js" type="module"></script>
<script src="/legacy.js" nomodule></script>
<script src="/data.json" type="application/json"></script>
<noscript><link rel="stylesheet" href="/noscript.css"></noscript>
<template><link rel="stylesheet" href="/template.css"></template>
<link rel="stylesheet" href="https://cdn.example/x.css">
<link rel="stylesheet" href="//cdn.example/y.css">
</head>
<body><link rel="stylesheet" href="/body.css"><script src="/body.js"></script></body></html>"#;
        assert_eq!(
            paths(html, "/"),
            [
                "/main.css",
                "/wide.css",
                "/font.woff2",
                "/hero.jpg",
                "/blocking.js",
                "/defer.js",
                "/mod.js"
            ]
        );
        let hints = scan_head(html, "/");
        assert_eq!(hints[2].as_.as_deref(), Some("font"));
        assert_eq!(hints[2].crossorigin.as_deref(), Some(""), "fonts are CORS");
        assert_eq!(hints[3].as_.as_deref(), Some("image"));
        assert_eq!(hints[5].rel, crate::hints::HintRel::Preload);
        assert_eq!(hints[6].rel, crate::hints::HintRel::ModulePreload);
        assert_eq!(scan(html, "/").never, ["/favicon.ico"]);
    }

    #[test]
    fn a_vite_build_head() {
        // What `vite build` writes for the React template (Vite 8).
        let html = r#"<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>vite-project</title>
    <script type="module" crossorigin src="/assets/index-D_6Ay_gG.js"></script>
    <link rel="modulepreload" crossorigin href="/assets/vendor-BxT1c9.js">
    <link rel="stylesheet" crossorigin href="/assets/index-CjS8uB0k.css">
    <link rel="preconnect" href="https://fonts.example" crossorigin>
    <link rel="manifest" href="/site.webmanifest">
  </head>
  <body>
    <div id="root"></div>
  </body>
</html>"#;
        let got = scan(html, "/");
        let links: Vec<String> = got
            .hints
            .iter()
            .map(|h| h.to_link().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            links,
            [
                "</assets/index-D_6Ay_gG.js>; rel=modulepreload; crossorigin",
                "</assets/vendor-BxT1c9.js>; rel=modulepreload; crossorigin",
                "</assets/index-CjS8uB0k.css>; rel=preload; as=style; crossorigin",
                "<https://fonts.example>; rel=preconnect; crossorigin",
            ]
        );
        assert_eq!(
            got.never,
            ["/favicon.ico", "/favicon.svg", "/site.webmanifest"]
        );
    }

    #[test]
    fn an_icon_is_never_hinted_even_when_preloaded() {
        let html = r#"<link rel=icon href=/i.svg><link rel=preload href=/i.svg as=image>"#;
        assert!(scan_head(html, "/").is_empty());
    }

    #[test]
    fn the_head_ends_implicitly() {
        let html = "<link rel=stylesheet href=a.css><p>hello</p><link rel=stylesheet href=b.css>";
        assert_eq!(paths(html, "/docs/page.html"), ["/docs/a.css"]);
        let html =
            "<head><link rel=stylesheet href=/a.css>Some text<link rel=stylesheet href=/b.css>";
        assert_eq!(paths(html, "/"), ["/a.css"]);
        let html =
            "<head><link rel=stylesheet href=/a.css></head><link rel=stylesheet href=/b.css>";
        assert_eq!(paths(html, "/"), ["/a.css"]);
    }

    #[test]
    fn base_href_and_relative_urls_resolve() {
        let html = r#"<base href="/static/v2/"><link rel=stylesheet href="site.css?x=1#frag">
            <script src="../lib.js"></script><base href="/ignored/">"#;
        assert_eq!(
            paths(html, "/blog/post"),
            ["/static/v2/site.css?x=1", "/static/lib.js"]
        );
    }

    #[test]
    fn garbage_and_huge_inputs_are_harmless() {
        assert!(scan_head("", "/").is_empty());
        assert!(scan_head("<<<>>><link rel=", "/").is_empty());
        assert!(scan_head("<link rel=stylesheet href=/a.css>", "not a path").len() <= 1);
        let many: String = (0..100)
            .map(|i| format!("<link rel=stylesheet href=/{i}.css>"))
            .collect();
        assert_eq!(scan_head(&many, "/").len(), MAX_HINTS);
        let dupes = "<link rel=stylesheet href=/a.css><link rel=preload href=/a.css as=style>";
        assert_eq!(paths(dupes, "/"), ["/a.css"]);
    }

    #[tokio::test]
    async fn the_cache_scans_the_file_it_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("index.html");
        std::fs::write(
            &f,
            "<link rel=stylesheet href=one.css><link rel=icon href=i.svg>",
        )
        .unwrap();
        let cache = HeadCache::default();
        let v1 = HeaderValue::from_static("\"1\"");
        let got = cache.scan("/docs/", &f, &v1).await;
        assert_eq!(got.hints[0].path, "/docs/one.css");
        assert_eq!(got.never, ["/favicon.ico", "/docs/i.svg"]);
    }
}
