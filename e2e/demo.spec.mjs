// End-to-end tests of `h2push demo` in Debian Chromium, driven by playwright-core.
//
// scripts/e2e builds the binary, starts the demo and passes its address and SPKI pin in the
// environment; this file drives the browser and checks what a person would see: the index
// page over HTTP/2 with its CSS and JS fetched by 103 Early Hints, the fetch demo's JSON,
// server-sent events in order, a chatbot reply that grows and can be stopped, and (last, as
// it replaces the server) both SSE readers resuming after the server is killed and started
// again. Every page is screenshotted under test-output/e2e/ and checked not to be blank.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { launchChromium } from './browser.mjs';
import { inkStats } from './png.mjs';
import { fetchedTwice, requestsDuring } from './fetches.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the browser tests with scripts/e2e`);
  return v;
};
const BASE = env('H2PUSH_BASE');
const PIN = env('H2PUSH_PIN');
const OUT = process.env.H2PUSH_OUT || 'test-output/e2e';
// The demo's access log (scripts/e2e sends the server's stderr there).
const SERVER_LOG = join(OUT, 'server.log');

let context;
let userDataDir;

/** Starts Chromium with a fresh profile (the one `context` and `userDataDir` point to). */
async function launch() {
  userDataDir = mkdtempSync(join(tmpdir(), 'h2push-e2e-profile-'));
  context = await launchChromium(userDataDir, PIN);
}

/** Closes Chromium and removes its profile. */
async function shutDown() {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
}

before(async () => {
  mkdirSync(OUT, { recursive: true });
  await launch();
});

after(async () => {
  await shutDown();
  for (const child of started) child.kill('SIGTERM');
});

/** Saves a full-page screenshot as OUT/name.png and checks that it is not blank. */
async function screenshot(page, name) {
  const png = await page.screenshot({ fullPage: true });
  writeFileSync(join(OUT, `${name}.png`), png);
  const ink = inkStats(png);
  assert.ok(png.length > 8000, `${name}.png is only ${png.length} bytes`);
  assert.ok(ink.inkFraction > 0.02, `${name}.png looks blank: ${(ink.inkFraction * 100).toFixed(2)}% ink`);
  assert.ok(ink.colours > 16, `${name}.png has only ${ink.colours} colours`);
}

/** Checks the page fits a narrow phone screen without sideways scrolling. */
async function fitsWidth(page, width) {
  await page.setViewportSize({ width, height: 800 });
  const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(scroll <= width, `the page is ${scroll} px wide at a ${width} px viewport`);
}

/** The ids of the `tick` entries in a log list, as numbers, in page order. */
const ids = (page, list) =>
  page.$$eval(`#${list} li[data-id]`, (lis) => lis.map((li) => Number(li.dataset.id)));

/** Waits until a log list holds at least `n` ticks. */
const waitForTicks = (page, list, n, timeout = 15000) =>
  page.waitForFunction(
    ([list, n]) => document.querySelectorAll(`#${list} li[data-id]`).length >= n,
    [list, n],
    { timeout },
  );

/** Asserts the ids are consecutive from 1: in order, none missing, none twice. */
function assertConsecutive(list, what) {
  assert.ok(list.length > 0, `${what}: no events`);
  assert.deepEqual(list, list.map((_, i) => i + 1), `${what}: ids out of order, missing or repeated`);
}

describe('h2push demo in Chromium', () => {
  test('the index page comes over h2 and its CSS and JS by 103 Early Hints', async () => {
    // The first Chromium launched in a run sometimes ignores the 103 altogether (here: in
    // about half of the runs on 2026-11-22, on and off): Navigation Timing shows the 103
    // ~250 ms before the page, the server's log shows no request until the page was sent,
    // then the parser fetches the CSS and JS ("link"), and that browser process does so for
    // every later load too. A newly launched one has not done so once in those runs. Cause
    // not found (the server's 103 is checked below either way). So one retry, in a newly
    // launched Chromium with a new profile; that load must show early hints, and the first
    // one's timings are kept in the message if it does not.
    let page;
    let timing;
    let first;
    for (let attempt = 1; attempt <= 2; attempt++) {
      if (attempt > 1) {
        await shutDown();
        await launch();
      }
      page = await context.newPage();
      const res = await page.goto(`${BASE}/`);
      assert.equal(res.status(), 200);
      await page.waitForSelector('body[data-arrivals]');
      timing = await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const resources = performance.getEntriesByType('resource').map((e) => ({
          path: new URL(e.name).pathname,
          initiatorType: e.initiatorType,
          nextHopProtocol: e.nextHopProtocol,
          startTime: Math.round(e.startTime),
        }));
        return {
          protocol: nav.nextHopProtocol,
          interim: nav.firstInterimResponseStart,
          // responseStart counts the 103 as the first response; this is the 200's.
          finalStart: Math.round(nav.finalResponseHeadersStart || nav.responseStart),
          resources,
        };
      });
      const hinted = timing.resources.filter((r) => r.initiatorType === 'early-hints').length;
      if (hinted >= 2 || attempt === 2) break;
      first = timing;
      console.log(`early hints not used on the first load, retrying: ${JSON.stringify(first)}`);
      await page.close();
    }
    const seen = JSON.stringify({ timing, first });
    assert.equal(timing.protocol, 'h2');
    assert.ok(timing.interim > 0, 'no 103 seen by Navigation Timing');
    // The 103 came well before the page itself: the server's side of the bargain.
    assert.ok(timing.finalStart - timing.interim > 150, `103 too close to the page: ${seen}`);
    for (const path of ['/static/style.css', '/static/app.js']) {
      const entries = timing.resources.filter((r) => r.path === path);
      assert.equal(entries.length, 1, `${path} fetched ${entries.length} times: ${seen}`);
      assert.equal(entries[0].initiatorType, 'early-hints', `${path}: ${seen}`);
      assert.equal(entries[0].nextHopProtocol, 'h2');
    }
    // The page itself says so, from the same API.
    const arrivals = await page.$$eval('#arrivals tbody tr', (rows) => rows.map((r) => r.dataset.arrival));
    assert.deepEqual(arrivals, ['early-hints', 'early-hints']);
    assert.match(await page.textContent('#server-hints'), /^sent: a 103/);
    assert.match(await page.textContent('#server-pushes'), /client disabled server push/);
    await screenshot(page, 'index');
    await fitsWidth(page, 375);
    await screenshot(page, 'index-375px');
    await page.close();
  });

  test('no URL is fetched twice, on a first visit or a repeat visit', async () => {
    // A newly launched browser with an empty profile, then the same profile again.
    await shutDown();
    await launch();
    for (const visit of ['first', 'repeat']) {
      const page = await context.newPage();
      const reqs = await requestsDuring(SERVER_LOG, async () => {
        const res = await page.goto(`${BASE}/`);
        assert.equal(res.status(), 200);
        await page.waitForSelector('body[data-arrivals]');
      });
      const twice = fetchedTwice(reqs);
      assert.deepEqual(twice, [], `${visit} visit fetched twice: ${JSON.stringify(reqs)}`);
      assert.ok(reqs.some((r) => r.target === '/'), `${visit} visit: no request for / in ${JSON.stringify(reqs)}`);
      await page.close();
    }
  });

  test('the fetch demo renders the JSON of /api/data', async () => {
    const page = await context.newPage();
    await page.goto(`${BASE}/fetch-demo`);
    await page.waitForSelector('body[data-loaded="true"]');
    assert.match(await page.textContent('#data-message'), /Hello from h2push/);
    assert.equal(await page.textContent('#data-protocol'), 'h2');
    assert.equal(await page.textContent('#data-next-hop'), 'h2');
    assert.match(await page.textContent('#data-push'), /^no: the client disabled server push/);
    assert.equal(await page.locator('#data-techniques tbody tr').count(), 4);
    const raw = JSON.parse(await page.textContent('#data-raw'));
    assert.equal(raw.connection.protocol, 'h2');
    await screenshot(page, 'fetch-demo');
    await fitsWidth(page, 375);
    await page.close();
  });

  test('the SSE demo receives messages in order with EventSource and with fetch()', async () => {
    const page = await context.newPage();
    await page.goto(`${BASE}/sse-demo`);
    await page.click('#fr-start');
    await waitForTicks(page, 'es-log', 3);
    await waitForTicks(page, 'fr-log', 3);
    assertConsecutive(await ids(page, 'es-log'), 'EventSource');
    assertConsecutive(await ids(page, 'fr-log'), 'fetch reader');
    // Stop aborts the fetch reader: no more events arrive.
    await page.click('#fr-stop');
    await page.waitForSelector('#fr-status[data-state="stopped"]');
    const stoppedAt = (await ids(page, 'fr-log')).length;
    await page.waitForTimeout(1500);
    assert.equal((await ids(page, 'fr-log')).length, stoppedAt, 'events arrived after Stop');
    await screenshot(page, 'sse-demo');
    await fitsWidth(page, 375);
    await screenshot(page, 'sse-demo-375px');
    await page.close();
  });

  test('the chatbot streams a reply that grows, frame by frame', async () => {
    const page = await context.newPage();
    await page.goto(`${BASE}/fetch-sse-chatbot`);
    // Record the reply's length at every animation frame while it streams.
    await page.evaluate(() => {
      window.replyLengths = [];
      const tick = () => {
        const replies = document.querySelectorAll('.bubble.bot .text');
        const last = replies[replies.length - 1];
        if (last) window.replyLengths.push(last.textContent.length);
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    await page.fill('#chat-input', 'How does 103 Early Hints work?');
    await page.click('#chat-send');
    await page.waitForSelector('#chat-status[data-state="done"]', { timeout: 20000 });
    const lengths = await page.evaluate(() => window.replyLengths);
    const distinct = [...new Set(lengths)];
    assert.ok(distinct.length >= 10, `the reply grew in only ${distinct.length} steps`);
    for (let i = 1; i < distinct.length; i++) assert.ok(distinct[i] > distinct[i - 1], 'the reply shrank');
    const reply = await page.textContent('.bubble.bot .text');
    assert.match(reply, /^You asked: “How does 103 Early Hints work\?”/);
    assert.match(reply, /Early Hints response/);
    assert.match(reply, /WebSocket to hear about the others\.$/);
    await screenshot(page, 'chatbot');
    await fitsWidth(page, 375);
    await screenshot(page, 'chatbot-375px');
    await page.close();
  });

  test('Stop aborts the chatbot stream', async () => {
    const page = await context.newPage();
    await page.goto(`${BASE}/fetch-sse-chatbot`);
    await page.fill('#chat-input', 'Tell me about server push');
    await page.click('#chat-send');
    await page.waitForFunction(() => Number(document.querySelector('.bubble.bot')?.dataset.tokens) >= 3);
    await page.click('#chat-stop');
    await page.waitForSelector('#chat-status[data-state="stopped"]');
    const at = await page.textContent('.bubble.bot .text');
    await page.waitForTimeout(1000);
    assert.equal(await page.textContent('.bubble.bot .text'), at, 'the reply grew after Stop');
    assert.equal(await page.getAttribute('.bubble.bot', 'data-outcome'), 'stopped');
    assert.ok(at.length < 200, 'the whole reply arrived before Stop');
    assert.equal(await page.isEnabled('#chat-send'), true);
    await page.close();
  });

  test('the comparison page shows numbers from this connection', async () => {
    const page = await context.newPage();
    await page.goto(`${BASE}/compare`);
    await page.waitForSelector('body[data-measured="true"]', { timeout: 15000 });
    assert.equal(await page.textContent('#n-protocol'), 'h2');
    assert.match(await page.textContent('#n-fetch'), /ms over h2$/);
    assert.match(await page.textContent('#n-sse-first'), /^\d+(\.\d)? ms$/);
    assert.match(await page.textContent('#live-push'), /^Refused/);
    await screenshot(page, 'compare');
    await fitsWidth(page, 375);
    await page.close();
  });

  test('after the server is killed and restarted, both SSE readers resume after their last id', async () => {
    const page = await context.newPage();
    await page.goto(`${BASE}/sse-demo`);
    await page.click('#fr-start');
    await waitForTicks(page, 'es-log', 3);
    await waitForTicks(page, 'fr-log', 2);

    process.kill(Number(env('H2PUSH_PID')), 'SIGKILL');
    await page.waitForSelector('#es-status[data-state="reconnecting"]');
    await page.waitForSelector('#fr-status[data-state="reconnecting"]');
    const seenBefore = { es: await ids(page, 'es-log'), fr: await ids(page, 'fr-log') };
    await page.waitForTimeout(1500); // down for a while: reconnect attempts fail meanwhile
    await restartServer();

    await waitForTicks(page, 'es-log', seenBefore.es.length + 2);
    await waitForTicks(page, 'fr-log', seenBefore.fr.length + 2);
    const es = await ids(page, 'es-log');
    const fr = await ids(page, 'fr-log');
    assertConsecutive(es, 'EventSource after the restart');
    assertConsecutive(fr, 'fetch reader after the restart');
    // Each reader made a second connection, and the server resumed it after its last id.
    assert.ok(Number(await page.textContent('#es-connections')) >= 2);
    assert.ok(Number(await page.textContent('#fr-connections')) >= 2);
    const notes = await page.$$eval('#es-log li.note, #fr-log li.note', (lis) => lis.map((li) => li.textContent));
    assert.ok(notes.includes(`resuming at message ${seenBefore.es.at(-1) + 1}`), JSON.stringify(notes));
    assert.ok(notes.includes(`resuming at message ${seenBefore.fr.at(-1) + 1}`), JSON.stringify(notes));
    await screenshot(page, 'sse-demo-after-restart');
    await page.close();
  });
});

/** Servers this file started (the restarted demo), stopped in after(). */
const started = [];

/** Starts the demo again on the same address with the same certificate. */
async function restartServer() {
  const child = spawn(
    env('H2PUSH_BIN'),
    ['demo', '--addr', env('H2PUSH_ADDR'), '--cert', env('H2PUSH_CERT'), '--key', env('H2PUSH_KEY'), '--no-access-log'],
    { stdio: ['ignore', 'pipe', openSync(join(OUT, 'server-restarted.log'), 'a')] },
  );
  started.push(child);
  // scripts/e2e kills every PID in this file when it exits, whatever happens here.
  if (process.env.H2PUSH_PID_FILE) appendFileSync(process.env.H2PUSH_PID_FILE, `${child.pid}\n`);
  const lines = createInterface({ input: child.stdout });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the restarted server printed no SPKI pin')), 15000);
    child.once('exit', (code) => reject(new Error(`the restarted server exited: ${code}`)));
    lines.on('line', (line) => {
      if (line.includes('SPKI pin')) {
        clearTimeout(timer);
        assert.equal(line.trim().split(' ').at(-1), PIN, 'the restarted server has another key');
        resolve();
      }
    });
  });
}
