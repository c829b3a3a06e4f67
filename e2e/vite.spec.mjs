// A Vite build served by `h2push serve DIR` with no configuration, in Debian Chromium.
//
// scripts/e2e builds the site (bench/browser/build-vite-site.sh: the React template of
// create-vite, pinned versions) and passes its directory; this file starts h2push on it,
// lets one browser teach it the page (learning), then checks what a new visitor's browser
// fetches: no URL twice — the 103's hints match the page's own requests (module script as
// modulepreload, crossorigin carried over, no icon hinted) — and, on the repeat visit, no
// request at all for the content-hashed assets (immutable).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { launchChromium } from './browser.mjs';
import { fetchedTwice, requestsDuring } from './fetches.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the browser tests with scripts/e2e`);
  return v;
};
const SITE = env('H2PUSH_VITE_SITE');
const PIN = env('H2PUSH_PIN');
const OUT = process.env.H2PUSH_OUT || 'test-output/e2e';
const LOG = join(OUT, 'vite-server.log');

let server;
let base;
const profiles = [];

/** Starts `h2push serve SITE` on a free port with the test certificate; resolves its URL. */
async function startServer() {
  server = spawn(
    env('H2PUSH_BIN'),
    ['serve', SITE, '--addr', '127.0.0.1:0', '--cert', env('H2PUSH_CERT'), '--key', env('H2PUSH_KEY')],
    { stdio: ['ignore', 'pipe', openSync(LOG, 'w')] },
  );
  // scripts/e2e kills every PID in this file when it exits, whatever happens here.
  if (process.env.H2PUSH_PID_FILE) appendFileSync(process.env.H2PUSH_PID_FILE, `${server.pid}\n`);
  const lines = createInterface({ input: server.stdout });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('h2push serve printed no https:// URL')), 15000);
    server.once('exit', (code) => reject(new Error(`h2push serve exited: ${code}`)));
    lines.on('line', (line) => {
      const m = line.match(/(https:\/\/127\.0\.0\.1:\d+)\//);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
}

/** Loads `/` in a newly launched browser on `profile`; returns the server's requests. */
async function visit(profile) {
  const context = await launchChromium(profile, PIN);
  try {
    const page = await context.newPage();
    return await requestsDuring(LOG, async () => {
      const res = await page.goto(`${base}/`);
      assert.equal(res.status(), 200);
      await page.waitForSelector('#root *');
      await page.waitForLoadState('load');
    });
  } finally {
    await context.close();
  }
}

const newProfile = () => {
  const dir = mkdtempSync(join(tmpdir(), 'h2push-e2e-vite-'));
  profiles.push(dir);
  return dir;
};

before(async () => {
  mkdirSync(OUT, { recursive: true });
  base = await startServer();
});

after(() => {
  server?.kill('SIGTERM');
  for (const dir of profiles) rmSync(dir, { recursive: true, force: true });
});

describe('a Vite build behind h2push serve, in Chromium', () => {
  test('no URL is fetched twice, and a repeat visit fetches no hashed asset', async () => {
    // One visitor teaches the server what the page fetches (Referer, Sec-Fetch-*).
    const teacher = await visit(newProfile());
    assert.ok(teacher.some((r) => r.target === '/'), `no request for /: ${JSON.stringify(teacher)}`);

    const profile = newProfile();
    const first = await visit(profile);
    assert.deepEqual(fetchedTwice(first), [], `first visit fetched twice: ${JSON.stringify(first)}`);
    assert.ok(first.some((r) => r.target.startsWith('/assets/')), `no asset fetched: ${JSON.stringify(first)}`);

    const repeat = await visit(profile);
    assert.deepEqual(fetchedTwice(repeat), [], `repeat visit fetched twice: ${JSON.stringify(repeat)}`);
    const hashed = repeat.filter((r) => r.target.startsWith('/assets/'));
    assert.deepEqual(hashed, [], `the repeat visit asked for hashed assets: ${JSON.stringify(repeat)}`);
  });
});
