"""The dynamic site of bench/browser-pageload.sh: a FastAPI app that answers "/" with the Vite
build's index.html after THINK_MS of think time (a database, a template), with no Link
header, and serves the build's other files as they are.

    SITE=DIST THINK_MS=300 uvicorn app:app --port PORT
"""
import asyncio
import os

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SITE = os.environ["SITE"]
THINK = float(os.environ.get("THINK_MS", "300")) / 1000
app = FastAPI()


@app.get("/", response_class=HTMLResponse)
async def index():
    await asyncio.sleep(THINK)
    with open(os.path.join(SITE, "index.html"), encoding="utf-8") as f:
        return HTMLResponse(f.read())


app.mount("/", StaticFiles(directory=SITE), name="site")
