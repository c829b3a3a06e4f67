"""Makes the pictures, fonts and pages of bench/browser-pageload.sh's sites (no third-party
images: everything is drawn here, the fonts are subsets of Debian's DejaVu).

    python make_sites.py vite-assets SRC_DIR     hero.png and react.svg for the Vite template
    python make_sites.py content OUT_DIR         the content site (hashed file names)

Needs fontTools and brotli (the benchmark's venv has them) for `content`.
"""
import hashlib
import math
import os
import random
import struct
import sys
import zlib


def png(width, height, pixel, noise, seed):
    """An RGB PNG: `pixel(x, y)` gives the colour, plus (r, g, b) `noise` levels of seeded grain (the
    grain is what makes the file as large as a photo-like picture)."""
    rnd = random.Random(seed)
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            r, g, b = pixel(x, y)
            if noise:
                r += rnd.randrange(noise[0])
                g += rnd.randrange(noise[1])
                b += rnd.randrange(noise[2])
            rows += bytes((min(255, int(r)), min(255, int(g)), min(255, int(b))))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    head = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head)
            + chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(b"IEND", b""))


def vite_assets(src):
    """The template's hero picture (stacked layers, 340x358 for a 170x179 slot) and a React
    logo big enough (> 4 KiB) that Vite emits it as its own hashed file, as it does the
    template's."""
    def hero(x, y):
        layer = (y * 4 // 358)
        t = x / 340
        return (60 + 120 * t + 20 * layer, 40 + 30 * layer, 200 - 60 * t)

    os.makedirs(os.path.join(src, "assets"), exist_ok=True)
    with open(os.path.join(src, "assets", "hero.png"), "wb") as f:
        f.write(png(340, 358, hero, (2, 1, 1), 1))

    paths = []
    for turn in (0, 60, 120):
        a = math.radians(turn)
        pts = []
        for i in range(112):
            t = 2 * math.pi * i / 112
            ex, ey = 11 * math.cos(t), 4.2 * math.sin(t)
            pts.append("%.3f,%.3f" % (11.5 + ex * math.cos(a) - ey * math.sin(a),
                                      10.2 + ex * math.sin(a) + ey * math.cos(a)))
        paths.append('<polygon points="%s"/>' % " ".join(pts))
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="35.93" height="32" viewBox="0 0 23 20.4">'
           '<g fill="none" stroke="#00d8ff" stroke-width="1">%s</g>'
           '<circle cx="11.5" cy="10.2" r="2.05" fill="#00d8ff"/></svg>\n' % "".join(paths))
    with open(os.path.join(src, "assets", "react.svg"), "w") as f:
        f.write(svg)


def hashed(out, sub, stem, ext, data):
    """Writes `data` as OUT/SUB/STEM-HASH.EXT (8 hex digits of its SHA-256) and returns its URL."""
    name = "%s-%s.%s" % (stem, hashlib.sha256(data).hexdigest()[:8], ext)
    os.makedirs(os.path.join(out, sub), exist_ok=True)
    with open(os.path.join(out, sub, name), "wb") as f:
        f.write(data)
    return "/%s/%s" % (sub, name)


def woff2(ttf):
    """A Latin subset of a system TrueType font as WOFF2."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(ttf, recalcTimestamp=False)
    opts = subset.Options()
    opts.flavor = "woff2"
    opts.layout_features = ["kern", "liga"]
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=list(range(0x20, 0x7F)) + list(range(0xA0, 0x180)))
    sub.subset(font)
    import io
    buf = io.BytesIO()
    font.flavor = "woff2"
    font.save(buf)
    return buf.getvalue()


WORDS = ("request stream server browser latency header frame cache round trip push hint "
         "connection render paint font image style script module preload early response "
         "origin network page content resource budget digest cookie byte window").split()


def paragraphs(seed, n):
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        sentences = []
        for _ in range(rnd.randrange(4, 8)):
            words = [rnd.choice(WORDS) for _ in range(rnd.randrange(8, 18))]
            sentences.append(" ".join(words).capitalize() + ".")
        out.append("<p>%s</p>" % " ".join(sentences))
    return "\n      ".join(out)


def content(out):
    """A documentation-style site: four pages, one hashed stylesheet declaring two web fonts
    (@font-face, woff2) and a CSS background hero, a deferred script, a favicon."""
    fonts = "/usr/share/fonts/truetype/dejavu"
    serif = hashed(out, "fonts", "serif", "woff2", woff2(os.path.join(fonts, "DejaVuSerif.ttf")))
    sans = hashed(out, "fonts", "sans-bold", "woff2", woff2(os.path.join(fonts, "DejaVuSans-Bold.ttf")))

    def sky(x, y):
        t, u = x / 1120, y / 420
        return (30 + 90 * u + 40 * t, 60 + 80 * u, 140 + 60 * (1 - u))

    hero = hashed(out, "img", "hero", "png", png(1120, 420, sky, (1, 2, 1), 2))
    css = """@font-face {
  font-family: "Bench Serif";
  src: url(%(serif)s) format("woff2");
  font-weight: 400;
  font-style: normal;
}
@font-face {
  font-family: "Bench Sans";
  src: url(%(sans)s) format("woff2");
  font-weight: 700;
  font-style: normal;
}
html { font: 18px/1.6 "Bench Serif", Georgia, serif; color: #222; background: #fdfdfb; }
body { margin: 0; }
header.top { display: flex; gap: 24px; align-items: center; padding: 12px 32px; background: #1b2430; }
header.top a { color: #e8eef5; font: 700 16px "Bench Sans", sans-serif; text-decoration: none; }
.hero {
  background-image: url(%(hero)s);
  background-size: cover;
  background-position: center;
  min-height: 420px;
  display: flex;
  align-items: flex-end;
  padding: 0 32px 32px;
}
.hero h1 { font: 700 52px/1.1 "Bench Sans", sans-serif; color: #fff; margin: 0; text-shadow: 0 2px 8px rgba(0,0,0,.4); }
main { max-width: 46em; margin: 0 auto; padding: 24px 32px 64px; }
h2 { font: 700 28px/1.2 "Bench Sans", sans-serif; margin: 1.6em 0 .4em; }
nav.toc { font: 700 15px "Bench Sans", sans-serif; border-left: 3px solid #c9d3de; padding-left: 12px; }
footer { text-align: center; font-size: 14px; color: #777; padding: 24px; }
""" % {"serif": serif, "sans": sans, "hero": hero}
    style = hashed(out, "css", "style", "css", css.encode())
    js = b"""// Marks the current page in the navigation bar and numbers the sections.
document.querySelectorAll('header.top a').forEach(function (a) {
  if (a.getAttribute('href') === location.pathname) a.setAttribute('aria-current', 'page');
});
document.querySelectorAll('main h2').forEach(function (h, i) { h.id = h.id || 'section-' + (i + 1); });
"""
    script = hashed(out, "js", "site", "js", js)
    favicon = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1b2430"/><path d="M4 12V4h5a2 2 0 0 1 0 4H4" fill="none" stroke="#fff" stroke-width="1.6"/></svg>\n'
    with open(os.path.join(out, "favicon.svg"), "wb") as f:
        f.write(favicon)

    pages = [("index.html", "Guide to fast pages"), ("latency.html", "Round trips"),
             ("caching.html", "Caching"), ("about.html", "About this site")]
    nav = "\n      ".join('<a href="/%s">%s</a>' % (p if p != "index.html" else "", t)
                          for p, t in pages)
    for i, (page, title) in enumerate(pages):
        sections = "\n      ".join("<h2>Section %d</h2>\n      %s" % (s + 1, paragraphs(i * 10 + s, 3))
                                   for s in range(5))
        html = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>%(title)s</title>
    <link rel="icon" type="image/svg+xml" href="/favicon.svg">
    <link rel="stylesheet" href="%(style)s">
    <script defer src="%(script)s"></script>
  </head>
  <body>
    <header class="top">
      %(nav)s
    </header>
    <div class="hero"><h1>%(title)s</h1></div>
    <main>
      <nav class="toc">On this page: five sections.</nav>
      %(sections)s
    </main>
    <footer>Made by bench/browser/make_sites.py for the page-load benchmark.</footer>
  </body>
</html>
""" % {"title": title, "style": style, "script": script, "nav": nav, "sections": sections}
        with open(os.path.join(out, page), "w") as f:
            f.write(html)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("vite-assets", "content"):
        sys.exit(__doc__)
    os.makedirs(sys.argv[2], exist_ok=True)
    {"vite-assets": vite_assets, "content": content}[sys.argv[1]](sys.argv[2])
