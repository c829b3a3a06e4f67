"""The dynamic sites of bench/browser-pageload.sh: a FastAPI app that answers "/" with the Vite
build's index.html after THINK_MS of think time (a database, a template) and serves the
build's other files as they are.

    SITE=DIST THINK_MS=300 [LINK_HEADER=1] uvicorn app:app --port PORT

With LINK_HEADER=1 the page's response carries a Link header for what its <head> loads, as a
framework would write it: `rel=preload; as=style` for stylesheets, `rel=modulepreload` for
module scripts, `crossorigin` where the tag has it. Otherwise no Link header at all.
"""
import asyncio
import os
from html.parser import HTMLParser

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SITE = os.environ["SITE"]
THINK = float(os.environ.get("THINK_MS", "300")) / 1000
LINK = os.environ.get("LINK_HEADER", "0") == "1"


class HeadLinks(HTMLParser):
    """The Link header values for a page's stylesheets and module scripts."""

    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cors = "; crossorigin" if "crossorigin" in a else ""
        if tag == "link" and a.get("rel") == "stylesheet" and a.get("href"):
            self.links.append(f"<{a['href']}>; rel=preload; as=style{cors}")
        elif tag == "script" and a.get("type") == "module" and a.get("src"):
            self.links.append(f"<{a['src']}>; rel=modulepreload{cors}")


def page():
    with open(os.path.join(SITE, "index.html"), encoding="utf-8") as f:
        return f.read()


app = FastAPI()


@app.get("/", response_class=HTMLResponse)
async def index():
    await asyncio.sleep(THINK)
    html = page()
    headers = {}
    if LINK:
        scan = HeadLinks()
        scan.feed(html)
        headers["Link"] = ", ".join(scan.links)
    return HTMLResponse(html, headers=headers)


app.mount("/", StaticFiles(directory=SITE), name="site")
