"""The reverse-proxy tests' upstream: a FastAPI app as the seeds run it (under Hypercorn).

`/` sets `Link: </static/style.css>; rel=preload; as=style, </static/app.js>; rel=preload;
as=script` after a short think time; Hypercorn itself pushes nothing for it. Behind
`h2push proxy` the page's CSS and JS are pushed and early-hinted. Run:
    hypercorn --bind 127.0.0.1:8000 tests.upstreams.fastapi_app:app
(or with `--root-path`-free `fastapi_app:app` from this directory).
"""

import asyncio

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

app = FastAPI()

LINK = "</static/style.css>; rel=preload; as=style, </static/app.js>; rel=preload; as=script"
INDEX = (
    "<!doctype html><title>fastapi</title>"
    "<link rel=stylesheet href=/static/style.css><script src=/static/app.js></script>\n"
)
CSS = "body { color: teal }\n"
JS = "console.log('fastapi');\n"


@app.get("/")
async def index() -> HTMLResponse:
    await asyncio.sleep(0.2)  # think time: the hints can go out while the app works
    return HTMLResponse(INDEX, headers={"Link": LINK})


@app.get("/static/style.css")
async def style() -> Response:
    return Response(CSS, media_type="text/css")


@app.get("/static/app.js")
async def script() -> Response:
    return Response(JS, media_type="text/javascript")


@app.get("/health")
async def health() -> PlainTextResponse:
    return PlainTextResponse("ok")
