//! Recognising content-hashed file names.
//!
//! This module owns one decision: does a request path name a file whose name changes
//! whenever its content does (`index-D_6Ay_gG.js`, `main.3f2a9c1b.js`,
//! `variables-8adf115d.css`), so that the file can be cached as immutable? It is a pure
//! function of the path ([`is_content_hashed`]); what `Cache-Control` follows from it is
//! `freshness.rs`'s business.
//!
//! # The rule
//!
//! A path is content-hashed if one of its *candidates* looks like a hash. Candidates come
//! from every segment (directories too); in the last one the extension (`.js`, `.woff2`) is
//! dropped first, and each `.`-separated part is looked at alone:
//!
//! - **tokens**: the part, and each of its `-`/`_`-separated pieces, of 8 or more ASCII
//!   letters and digits (webpack `main.3f2a9c1b`, mdBook `variables-8adf115d`, rustdoc
//!   `SourceSerif4-Regular-46f98efaafac5295`, Next.js `a1b2c3d4e5f6a7b8`);
//! - **tails**: the last 8 characters of a part when a `-` comes before them (Rollup, Vite
//!   and esbuild's `[name]-[hash]`, whose base64url hashes may themselves hold `-` and `_`),
//!   and a whole part of exactly 8 characters that is not the first (`[name].[hash]`, as
//!   Astro and SvelteKit write them).
//!
//! Characters fall in classes — upper case, lower case, digit — and a *change* is two
//! neighbours of different classes (`-` and `_` neither count nor join). Words change
//! class rarely, and mostly where a capital starts a word (`OpenSans`, `SourceSerif4`);
//! random strings change class all the time. A candidate looks like a hash when:
//!
//! - it mixes upper and lower case, and has at least 3 changes (a token) or 2 (a tail),
//!   where a capital starting a word is not a change: in a token, neither the capital after
//!   a lower-case letter or digit when two lower-case letters follow it (`PullParserToken`)
//!   nor the step from a capital to lower case; in a tail only the latter, after a single
//!   capital, and a trailing number is ignored (`iPhone14`, `MacBook2`);
//! - it is in one case (hex, base32, base36) and has a letter and a digit: hex needs 12 or
//!   more characters or 2 changes (`8adf115d` yes; `decade2020`, `cafe2024` no), esbuild's
//!   8-character base32 (`A-Z`, `2-7`) 2 changes, anything else 4 changes (`html5shiv`,
//!   `ubuntu2204`, `libk5crypto3` no);
//! - digits alone never are: dates (`20240101`), timestamps and ids are numbers too; and a
//!   single-case tail holding `-` or `_` never is (`2i4-gen2`).
//!
//! A name that is missed costs one revalidation per visit (today's behaviour); a word taken
//! for a hash costs a year of a stale file. The rule leans accordingly: it accepts about 90 %
//! of random 8-character base64url (Vite) and hex (webpack, mdBook) hashes and nearly all
//! longer ones, and is tested against common names both ways in this file.

/// True if `path` (a request path or a decoded key, with or without the leading `/`; a
/// query is ignored) names a content-hashed file, by the rule in this module's docs.
///
/// ```
/// use h2push::files::is_content_hashed;
/// assert!(is_content_hashed("/assets/index-D_6Ay_gG.js"));
/// assert!(is_content_hashed("/static/js/main.3f2a9c1b.js"));
/// assert!(is_content_hashed("/css/variables-8adf115d.css"));
/// assert!(!is_content_hashed("/js/bootstrap.min.js"));
/// assert!(!is_content_hashed("/reports/sales-20240101.pdf"));
/// ```
pub fn is_content_hashed(path: &str) -> bool {
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let mut segments = path.split('/').filter(|s| !s.is_empty()).peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        let parts: Vec<&str> = segment.split('.').collect();
        let stems = if last && parts.len() > 1 {
            &parts[..parts.len() - 1]
        } else {
            &parts[..]
        };
        for (i, part) in stems.iter().enumerate() {
            if part_has_hash(part, i > 0) {
                return true;
            }
        }
    }
    false
}

/// Whether one `.`-separated part holds a hash; `later` if it is not the segment's first.
fn part_has_hash(part: &str, later: bool) -> bool {
    if part
        .split(['-', '_'])
        .any(|t| looks_like_hash(t, Form::Token))
    {
        return true;
    }
    let b = part.as_bytes();
    if b.len() >= 10 && b[b.len() - 9] == b'-' && looks_like_hash(&part[b.len() - 8..], Form::Tail)
    {
        return true;
    }
    later && b.len() == 8 && looks_like_hash(part, Form::Tail)
}

/// Where a candidate was found, which decides how much evidence it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// A whole `-`/`_`-free piece of a name, of any length ≥ 8.
    Token,
    /// Exactly the 8 characters a bundler's `[hash]` takes, in the place it puts them.
    Tail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Upper,
    Lower,
    Digit,
    Sep,
}

fn class(b: u8) -> Option<Class> {
    match b {
        b'A'..=b'Z' => Some(Class::Upper),
        b'a'..=b'z' => Some(Class::Lower),
        b'0'..=b'9' => Some(Class::Digit),
        b'-' | b'_' => Some(Class::Sep),
        _ => None,
    }
}

/// The rule of the module docs for one candidate.
fn looks_like_hash(s: &str, form: Form) -> bool {
    let b = s.as_bytes();
    if b.len() < 8 || (form == Form::Tail && b.len() != 8) {
        return false;
    }
    let Some(classes) = b.iter().map(|&c| class(c)).collect::<Option<Vec<Class>>>() else {
        return false;
    };
    let has = |c: Class| classes.contains(&c);
    let sep = has(Class::Sep);
    if sep && form == Form::Token {
        return false;
    }
    let (upper, lower, digit) = (has(Class::Upper), has(Class::Lower), has(Class::Digit));
    if upper && lower {
        return match form {
            Form::Token => changes(&classes, form) >= 3,
            Form::Tail => changes(&classes, form) >= 2,
        };
    }
    if !(upper || lower) || !digit || sep {
        return false;
    }
    // One case, letters and digits.
    let n = changes(&classes, Form::Token);
    let hex = b
        .iter()
        .all(|&c| c.is_ascii_digit() || matches!(c.to_ascii_lowercase(), b'a'..=b'f'));
    if hex {
        b.len() >= 12 || n >= 2
    } else if b.len() == 8
        && b.iter()
            .all(|&c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c))
    {
        n >= 2
    } else {
        n >= 4
    }
}

/// Counts class changes as the module docs define them for `form`.
fn changes(classes: &[Class], form: Form) -> usize {
    let mut end = classes.len();
    if form == Form::Tail {
        while end > 0 && classes[end - 1] == Class::Digit {
            end -= 1;
        }
    }
    let c = &classes[..end];
    let mut n = 0;
    for i in 1..c.len() {
        let (a, b) = (c[i - 1], c[i]);
        if a == b || a == Class::Sep || b == Class::Sep {
            continue;
        }
        if a == Class::Upper && b == Class::Lower {
            let single_capital = i < 2 || c[i - 2] != Class::Upper;
            if form == Form::Token || single_capital {
                continue;
            }
        }
        let starts_word = b == Class::Upper
            && c.get(i + 1) == Some(&Class::Lower)
            && c.get(i + 2) == Some(&Class::Lower);
        if form == Form::Token && starts_word {
            continue;
        }
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names real builds write (the hash is what must be recognised).
    const HASHED: &[&str] = &[
        // Vite / Rollup / Rolldown: `[name]-[hash]`, 8 base64url characters.
        "/assets/index-D_6Ay_gG.js",
        "/assets/react-CHdo91hT.svg",
        "/assets/index-Do1prLBU.js",
        "/assets/index-CWn8iCZ_.css",
        "/assets/hero-tQMT578D.png",
        "/assets/vendor-DBt-sK3a.js",
        "/assets/index-B-3xYz1q.js",
        "/assets/Inter-Variable-Xk2pQ9aZ.woff2",
        // webpack / Create React App / Docusaurus: `[name].[contenthash]`.
        "/static/js/main.3f2a9c1b.js",
        "/static/js/787.c4e7f8f5.chunk.js",
        "/static/css/main.073c9b0a.css",
        "/assets/js/935f2afb.8c9d0e1f.js",
        "/assets/js/runtime~main.5e6f7a8b.js",
        "/main.a1b2c3d4e5f6a7b8c9d0.js",
        // Parcel.
        "/index.9f3a2b1c.js",
        // mdBook.
        "/css/variables-8adf115d.css",
        "/book-a0b12cfe.js",
        "/fonts/open-sans-v17-all-charsets-300-ce6ad1fc.woff2",
        // rustdoc.
        "/static.files/storage-a8f3b7c2.js",
        "/static.files/rustdoc-081576b923113409.css",
        "/static.files/SourceSerif4-Regular-46f98efaafac5295.ttf.woff2",
        // esbuild and Angular: `[name]-[hash]`, 8 base32 characters.
        "/chunk-5QCIYH7W.js",
        "/main-JXKZ6E5O.js",
        "/polyfills-FFHMD2TL.js",
        // Next.js, Astro, SvelteKit, Gatsby, Hugo.
        "/_next/static/chunks/main-app-0d1a7b3c5f2e8a9b.js",
        "/_next/static/css/a1b2c3d4e5f6a7b8.css",
        "/_next/static/Xj3kP9aQwE1r2t3y4u5iQ/_buildManifest.js",
        "/_astro/index.DvPF-B5a.css",
        "/_app/immutable/entry/start.CdL5Tb6x.js",
        "/app-5d3b2f8a9c1e4b7d6f0a.js",
        "/component---src-pages-index-js-1a2b3c4d5e6f7a8b9c0d.js",
        "/css/main.min.6f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4.css",
        // A hash directory.
        "/assets/3f2a9c1b7d/app.js",
    ];

    /// Names people and tools write that must keep revalidating.
    const PLAIN: &[&str] = &[
        "/",
        "/index.html",
        "/js/bootstrap.min.js",
        "/js/jquery-min.js",
        "/jquery-3.7.1.min.js",
        "/css/fontawesome.css",
        "/css/font-awesome.min.css",
        "/fonts/fa-solid-900.woff2",
        "/fonts/fontawesome-webfont.woff2",
        "/fonts/glyphicons-halflings-regular.woff2",
        "/fonts/MaterialIcons-Regular.woff2",
        "/fonts/OpenSans-Bold.woff2",
        "/fonts/Inter-Variable.woff2",
        "/fonts/Roboto-BoldItalic.ttf",
        "/fonts/Roboto-SemiBold.ttf",
        "/fonts/SourceSerif4-Regular.ttf.woff2",
        "/fonts/JetBrainsMono-ExtraBold.woff2",
        "/fonts/DejaVuSansMono.ttf",
        "/fonts/roboto-v30-latin-700.woff2",
        "/fonts/noto-sans-jp-v52-japanese-700.woff2",
        "/css/variables.css",
        "/js/application.js",
        "/something-longword.js",
        "/reports/sales-20240101.pdf",
        "/20240101.json",
        "/backup-1700000000.tar",
        "/img/hero-1920x1080.jpg",
        "/icons/favicon-32x32.png",
        "/icons/android-chrome-512x512.png",
        "/icons/apple-touch-icon-180x180.png",
        "/logo192.png",
        "/js/html5shiv.min.js",
        "/js/polyfill-es2015.js",
        "/js/bootstrap5.bundle.js",
        "/downloads/ubuntu2204.iso",
        "/downloads/python311.zip",
        "/img/product-iPhone14.jpg",
        "/img/product-MacBook2.jpg",
        "/docs/PullParserTextToken.html",
        "/docs/HeadphoneMicDisableSeq.txt",
        "/docs/CHANGELOG.md",
        "/docs/README-v2.md",
        "/downloads/v2-beta1.zip",
        "/img/photo001.jpg",
        "/img/IMG_20240101_123456.jpg",
        "/img/DSC01234.jpg",
        "/img/cafe2024.jpg",
        "/img/decade2020.png",
        "/img/deadbeef.png",
        "/Scarlett-2i4-gen2.conf",
        "/js/webpack-runtime.js",
        "/js/chunk-vendors.js",
        "/js/serviceworker.js",
        "/manifest.webmanifest",
        "/app.css?v=3f2a9c1b",
        "/assets/longword/typescript/lighthouse.js",
    ];

    #[test]
    fn real_build_names_are_hashed() {
        let missed: Vec<_> = HASHED.iter().filter(|p| !is_content_hashed(p)).collect();
        assert!(missed.is_empty(), "not recognised: {missed:?}");
    }

    #[test]
    fn ordinary_names_are_not() {
        let wrong: Vec<_> = PLAIN.iter().filter(|p| is_content_hashed(p)).collect();
        assert!(wrong.is_empty(), "taken for hashes: {wrong:?}");
    }

    /// Real hashes the rule gives up on (too few class changes to tell from a word): they
    /// are revalidated, as every file was before.
    const KNOWN_MISSES: &[&str] = &[
        "/styles-5INURTSO.css",
        "/assets/index-KRVVbiqg.js",
        "/main.20240101.js",
        "/assets/app-deadbeef.js",
    ];

    #[test]
    fn known_misses_stay_misses() {
        let hit: Vec<_> = KNOWN_MISSES
            .iter()
            .filter(|p| is_content_hashed(p))
            .collect();
        assert!(
            hit.is_empty(),
            "the rule changed; update the docs' rates: {hit:?}"
        );
    }

    #[test]
    fn candidates_are_bounded_by_form() {
        assert!(looks_like_hash("D_6Ay_gG", Form::Tail));
        assert!(
            !looks_like_hash("D_6Ay_gG", Form::Token),
            "a token has no separators"
        );
        assert!(
            !looks_like_hash("Do1prLBUx", Form::Tail),
            "a tail is 8 long"
        );
        assert!(!looks_like_hash("3f2a9c1", Form::Token), "7 is too short");
        assert!(!looks_like_hash("3f2a9c1b.", Form::Token));
        assert!(!looks_like_hash("ünïcödé1", Form::Token));
        assert!(!is_content_hashed(""));
        assert!(
            is_content_hashed("assets/index-D_6Ay_gG.js"),
            "keys have no slash"
        );
    }

    /// A deterministic stand-in for random hashes (xorshift), to check the acceptance
    /// rate the module docs promise.
    fn random_strings(alphabet: &[u8], len: usize, n: usize) -> Vec<String> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..n)
            .map(|_| {
                (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        alphabet[(x % alphabet.len() as u64) as usize] as char
                    })
                    .collect()
            })
            .collect()
    }

    fn accepted(paths: impl Iterator<Item = String>) -> f64 {
        let (mut yes, mut all) = (0, 0);
        for p in paths {
            all += 1;
            yes += usize::from(is_content_hashed(&p));
        }
        yes as f64 / all as f64
    }

    #[test]
    fn most_random_hashes_are_recognised() {
        let b64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let hex = b"0123456789abcdef";
        let vite = accepted(
            random_strings(b64, 8, 4000)
                .into_iter()
                .map(|h| format!("/assets/index-{h}.js")),
        );
        eprintln!("accepted: Vite-style {vite}");
        assert!(vite > 0.85, "Vite-style: {vite}");
        let webpack = accepted(
            random_strings(hex, 8, 4000)
                .into_iter()
                .map(|h| format!("/static/js/main.{h}.js")),
        );
        eprintln!("accepted: webpack-style {webpack}");
        assert!(webpack > 0.85, "webpack-style: {webpack}");
        let long = accepted(
            random_strings(hex, 16, 4000)
                .into_iter()
                .map(|h| format!("/rustdoc-{h}.css")),
        );
        eprintln!("accepted: 16 hex {long}");
        assert!(long > 0.99, "16 hex: {long}");
    }
}
