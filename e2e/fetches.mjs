// What went over the network in one page load, as the server saw it.
//
// Chromium makes the preloads of a 103 in its browser process, where the page's DevTools
// session and Resource Timing do not show a second fetch of the same URL; the server's access
// log does. This module reads the lines an h2push access log gained while a load ran and counts
// the requests per target, so a test can assert that no URL was fetched twice.

import { readFileSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const ANSI = /\x1b\[[0-9;]*m/g;
// "<ip> <protocol> [PUSHED ]<METHOD> <target> <status> <bytes>B <ms>ms ..."
const LINE = /\s(?:h2|h2c|https\/1\.1|http\/1\.1)\s(PUSHED\s)?([A-Z]+)\s(\S+)\s(\d{3})\s/;

/** The requests (not pushed responses) in access-log `text`, as `{ method, target, status }`. */
export function requests(text) {
  const out = [];
  for (const raw of text.split('\n')) {
    const m = raw.replace(ANSI, '').match(LINE);
    if (m && !m[1]) out.push({ method: m[2], target: m[3], status: Number(m[4]) });
  }
  return out;
}

/**
 * Runs `load()`, waits until the log has been quiet for `settleMs` (late fetches such as the
 * favicon's land in the count), and returns the requests the log gained meanwhile.
 */
export async function requestsDuring(logPath, load, { settleMs = 1500, maxWaitMs = 10000 } = {}) {
  const start = statSync(logPath).size;
  await load();
  let size = statSync(logPath).size;
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    await sleep(settleMs);
    const now = statSync(logPath).size;
    if (now === size || Date.now() > deadline) break;
    size = now;
  }
  const text = readFileSync(logPath).subarray(start).toString('utf8');
  return requests(text);
}

/** The targets requested more than once, with their counts. */
export function fetchedTwice(reqs) {
  const counts = new Map();
  for (const r of reqs) counts.set(r.target, (counts.get(r.target) || 0) + 1);
  return [...counts].filter(([, n]) => n > 1);
}
