// The browser side of bench/browser-pageload.sh: loads pages in Debian's Chromium, a new
// browser process per load, and prints medians as a Markdown table.
//
//   node run.mjs --chromium PATH --pin SPKI [--runs 7] [--warmup 2] [--out FILE.jsonl]
//                [--rtt-ms MS] --target SITE/SERVER=URL [--target ...]
//                [--server-log SITE/SERVER=FILE ...] [--fail-on-twice]
//
// Per SITE, the SERVERs' targets are loaded in turn (A, B, A, B, ...): --warmup rounds that are
// not counted, then --runs measured rounds. One round per server is a first visit (a new,
// empty profile) followed by a repeat visit (a new browser process on the same profile, so the
// disk cache and cookies of the first visit, and no open connection: a user coming back).
//
// Timings are from the navigation's start (the page's time origin), connection and TLS set-up
// included. Network requests are counted from the DevTools protocol (Network domain), where a
// response from the memory or disk cache, a service worker or a prefetch is not a network
// request; resource timing is used for FCP, LCP, load and initiator types.
//
// The DevTools protocol does not show the preloads Chromium makes for a 103 Early Hints (the
// browser process makes them before the page exists), so what went over the network is also
// taken from each server's access log (--server-log): every request it logged while a load
// ran, 304s included. An h2push log line is "TIME INFO ADDR h2 GET /path 200 123B ..."; an
// nginx line (log_format of browser-pageload.sh) "MSEC GET /path 200 123".
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const opt = { runs: 7, warmup: 2, out: null, targets: [], logs: {}, failOnTwice: false, chromium: '/usr/bin/chromium', pin: null, rtt: null };
{
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const v = () => {
      if (i + 1 >= a.length) die(`${a[i]} needs a value`);
      return a[++i];
    };
    switch (a[i]) {
      case '--runs': opt.runs = Number(v()); break;
      case '--warmup': opt.warmup = Number(v()); break;
      case '--out': opt.out = v(); break;
      case '--chromium': opt.chromium = v(); break;
      case '--pin': opt.pin = v(); break;
      case '--rtt-ms': opt.rtt = v(); break;
      case '--fail-on-twice': opt.failOnTwice = true; break;
      case '--target': {
        const m = /^([^/=]+)\/([^=]+)=(https:\/\/.+)$/.exec(v());
        if (!m) die(`--target wants SITE/SERVER=https://...`);
        opt.targets.push({ site: m[1], server: m[2], url: m[3] });
        break;
      }
      case '--server-log': {
        const m = /^([^=]+)=(.+)$/.exec(v());
        if (!m) die('--server-log wants SITE/SERVER=FILE');
        opt.logs[m[1]] = m[2];
        break;
      }
      default: die(`unknown argument '${a[i]}'`);
    }
  }
  if (!opt.targets.length || !opt.pin || !(opt.runs >= 1) || !(opt.warmup >= 0)) {
    die('usage: node run.mjs --pin SPKI [--runs N] [--warmup N] [--out F] --target SITE/SERVER=URL ...');
  }
}

function die(msg) {
  console.error(`run.mjs: ${msg}`);
  process.exit(2);
}

const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-default-browser-check', '--window-size=1280,800',
];

// The browsers running now, killed if this driver is stopped (timeout, Ctrl-C).
const running = new Set();
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(sig, () => {
    for (const p of running) p.kill('SIGKILL');
    process.exit(130);
  });
}

// Starts Chromium on `profile` and connects to it over the DevTools protocol.
async function launch(profile) {
  const proc = spawn(opt.chromium, [
    ...FLAGS, `--user-data-dir=${profile}`, `--ignore-certificate-errors-spki-list=${opt.pin}`,
    '--remote-debugging-port=0', 'about:blank',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  const ws = await new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`chromium did not start in 30 s:\n${err.slice(-2000)}`)), 30000);
    proc.stderr.on('data', (d) => {
      err += d;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`chromium exited (${code}):\n${err.slice(-2000)}`)); });
  });
  proc.stderr.resume();
  try {
    return { proc, browser: await chromium.connectOverCDP(ws) };
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
}

// Closes the browser as a user would (so its disk cache is written) and waits for the process.
async function close({ proc, browser }) {
  const exited = new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
  try {
    const s = await browser.newBrowserCDPSession();
    await s.send('Browser.close').catch(() => {});
  } catch { /* already gone */ }
  const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
  await exited;
  clearTimeout(t);
  await browser.close().catch(() => {});
}

// What the page itself reports: navigation and paint timing, LCP, resource timing.
function pageMetrics() {
  return new Promise((resolve) => {
    const lcp = [];
    const po = new PerformanceObserver((l) => lcp.push(...l.getEntries()));
    po.observe({ type: 'largest-contentful-paint', buffered: true });
    setTimeout(() => {
      po.disconnect();
      const nav = performance.getEntriesByType('navigation')[0];
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      const last = lcp[lcp.length - 1];
      resolve({
        ttfb: nav.responseStart,
        finalTtfb: nav.finalResponseHeadersStart || nav.responseStart,
        interim: nav.firstInterimResponseStart || 0,
        fcp: fcp ? fcp.startTime : null,
        lcp: last ? last.startTime : null,
        lcpWhat: last ? `${last.element ? last.element.tagName.toLowerCase() : '?'} ${last.url || ''}`.trim() : null,
        load: nav.loadEventStart,
        // When the page's last byte came and when the parser was done with it (module and
        // defer scripts run after that).
        htmlEnd: nav.responseEnd,
        domInteractive: nav.domInteractive,
        navTransfer: nav.transferSize,
        resources: performance.getEntriesByType('resource').map((r) => ({
          url: r.name, initiator: r.initiatorType, transfer: r.transferSize,
          body: r.encodedBodySize, start: r.startTime, end: r.responseEnd,
        })),
      });
    }, 50);
  });
}

// One page load in a fresh browser process on `profile`.
async function load(url, profile) {
  const t0 = Date.now();
  const b = await launch(profile);
  try {
    const ctx = b.browser.contexts()[0];
    const page = ctx.pages()[0] || (await ctx.newPage());
    const cdp = await ctx.newCDPSession(page);
    const reqs = new Map(); // requestId -> what the protocol told about it
    let inflight = 0;
    let lastEvent = Date.now();
    const get = (id) => {
      if (!reqs.has(id)) reqs.set(id, { id, url: null, network: false, cached: null, status: null, bytes: 0 });
      return reqs.get(id);
    };
    cdp.on('Network.requestWillBeSent', (e) => {
      lastEvent = Date.now();
      const r = get(e.requestId);
      if (e.redirectResponse) {
        // A redirect ends one request and starts the next under the same id: keep both.
        reqs.set(`${e.requestId}#${reqs.size}`, { ...r, network: !e.redirectResponse.fromDiskCache, status: e.redirectResponse.status });
      }
      if (!r.url) inflight++;
      Object.assign(r, { url: e.request.url, type: e.type, initiator: e.initiator && e.initiator.type, done: false });
    });
    cdp.on('Network.requestServedFromCache', (e) => { get(e.requestId).cached = 'memory'; });
    const early = []; // the Link headers of the 103s the page's navigation got
    cdp.on('Network.responseReceivedEarlyHints', (e) => {
      for (const [k, v] of Object.entries(e.headers || {})) if (k.toLowerCase() === 'link') early.push(v);
    });
    cdp.on('Network.responseReceived', (e) => {
      lastEvent = Date.now();
      const r = get(e.requestId);
      const s = e.response;
      r.status = s.status;
      r.protocol = s.protocol;
      r.cached = r.cached || (s.fromDiskCache ? 'disk' : s.fromServiceWorker ? 'service-worker'
        : s.fromPrefetchCache ? 'prefetch' : s.fromEarlyHints ? 'early-hints' : null);
      r.network = !r.cached;
      if (!r.url) r.url = s.url;
    });
    const finish = (e, ok) => {
      lastEvent = Date.now();
      const r = get(e.requestId);
      if (!r.done) { r.done = true; inflight = Math.max(0, inflight - 1); }
      if (ok) r.bytes = e.encodedDataLength;
      else r.failed = e.errorText;
    };
    cdp.on('Network.loadingFinished', (e) => finish(e, true));
    cdp.on('Network.loadingFailed', (e) => finish(e, false));
    await cdp.send('Network.enable');

    await page.goto(url, { waitUntil: 'load', timeout: 30000 });
    // Late requests (fonts, images started by script) and LCP updates: wait for 300 ms with
    // nothing in flight, 5 s at most.
    const until = Date.now() + 5000;
    while (Date.now() < until && (inflight > 0 || Date.now() - lastEvent < 300)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const m = await page.evaluate(pageMetrics);
    const all = [...reqs.values()].filter((r) => r.url && !r.url.startsWith('data:'));
    const net = all.filter((r) => r.network && r.status !== null);
    const perUrl = {};
    for (const r of net) perUrl[r.url] = (perUrl[r.url] || 0) + 1;
    m.netRequests = net.length;
    m.netBytes = net.reduce((s, r) => s + (r.bytes || 0), 0);
    m.twice = Object.entries(perUrl).filter(([, n]) => n > 1).map(([u, n]) => ({ url: u, n }));
    m.t0 = t0;
    m.earlyHints = early.join('\n').split(/\n|,\s*(?=<)/).filter(Boolean);
    m.requests = all.map(({ url: u, network, cached, status, type, initiator, bytes, failed }) =>
      ({ url: u, network, cached, status, type, initiator, bytes, failed }));
    await close(b);
    m.t1 = Date.now(); // the browser has exited: nothing after this is this load's
    return m;
  } finally {
    if (b.proc.exitCode === null && b.proc.signalCode === null) await close(b);
  }
}

const median = (xs) => {
  const v = xs.filter((x) => x !== null && x !== undefined && !Number.isNaN(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const h = v.length >> 1;
  return v.length % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
};

const sites = [...new Set(opt.targets.map((t) => t.site))];
const records = [];
const outFile = opt.out ? fs.openSync(opt.out, 'w') : null;
const started = Date.now();
for (const site of sites) {
  const targets = opt.targets.filter((t) => t.site === site);
  for (let round = 0; round < opt.warmup + opt.runs; round++) {
    const warm = round < opt.warmup;
    for (const t of targets) {
      const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'h2push-chromium-'));
      try {
        for (const visit of ['first', 'repeat']) {
          let m;
          try {
            m = await load(t.url, profile);
          } catch (e) {
            console.error(`${site}/${t.server} ${visit} round ${round}: ${e.message.split('\n')[0]}`);
            m = { error: e.message.split('\n')[0] };
          }
          const rec = { site, server: t.server, visit, round, warmup: warm, ...m };
          records.push(rec);
          if (outFile !== null) fs.writeSync(outFile, JSON.stringify(rec) + '\n');
          if (!m.error) {
            console.error(`${warm ? 'warm-up' : 'run'} ${round} ${site}/${t.server} ${visit}: `
              + `lcp ${m.lcp?.toFixed(0)} ms, load ${m.load?.toFixed(0)} ms, DevTools: ${m.netRequests} requests`
              + (m.twice.length ? `, twice: ${m.twice.map((x) => new URL(x.url).pathname).join(' ')}` : ''));
          }
        }
      } finally {
        fs.rmSync(profile, { recursive: true, force: true });
      }
    }
  }
}

// What each server logged during each load.
const ansi = /\x1b\[[0-9;]*m/g;
function readLog(file) {
  const out = [];
  let text = '';
  try { text = fs.readFileSync(file, 'utf8'); } catch { return null; }
  for (const raw of text.split('\n')) {
    const line = raw.replace(ansi, '');
    let m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)\s+INFO\s+\S+\s+\S+\s+([A-Z]+)\s+(\S+)\s+(\d{3})\s+(\d+)B/.exec(line);
    if (m) { out.push({ t: Date.parse(m[1]), method: m[2], path: m[3], status: +m[4], bytes: +m[5] }); continue; }
    m = /^(\d+\.\d+)\s+([A-Z]+)\s+(\S+)\s+(\d{3})\s+(\d+)/.exec(line);
    if (m) out.push({ t: Math.round(parseFloat(m[1]) * 1000), method: m[2], path: m[3], status: +m[4], bytes: +m[5] });
  }
  return out;
}
const logs = {};
for (const [k, f] of Object.entries(opt.logs)) logs[k] = readLog(f);
// A first visit fetches its page at least: if the log shows nothing for one, it was not
// understood (another format), and DevTools' counts are used for that server instead.
for (const r of records) {
  const key = `${r.site}/${r.server}`;
  if (!logs[key] || r.error || r.visit !== 'first') continue;
  if (!logs[key].some((x) => x.t >= r.t0 && x.t <= r.t1)) {
    console.error(`run.mjs: no request of a first visit found in ${opt.logs[key]}: counting ${key} from DevTools`);
    logs[key] = null;
  }
}
for (const r of records) {
  const log = logs[`${r.site}/${r.server}`];
  if (!log || r.error) continue;
  const seen = log.filter((x) => x.t >= r.t0 && x.t <= r.t1);
  const per = {};
  for (const x of seen) per[x.path] = (per[x.path] || 0) + 1;
  r.server_requests = seen.map(({ path: p, status, bytes }) => ({ path: p, status, bytes }));
  r.srvRequests = seen.length;
  r.srv304 = seen.filter((x) => x.status === 304).length;
  r.srvBytes = seen.reduce((a, x) => a + x.bytes, 0);
  r.srvTwice = Object.entries(per).filter(([, n]) => n > 1).map(([p, n]) => ({
    url: p, n, statuses: seen.filter((x) => x.path === p).map((x) => x.status).join('+'),
  }));
}
if (outFile !== null) {
  fs.ftruncateSync(outFile, 0);
  fs.writeSync(outFile, records.map((r) => JSON.stringify(r)).join('\n') + '\n', 0);
}

// The report.
const ms = (x) => (x === null ? '–' : Math.round(x).toString());
const num = (x) => (x === null ? '–' : Number.isInteger(x) ? `${x}` : x.toFixed(1));
const ratio = (a, b) => (a === null || b === null || !b ? '–' : (a / b).toFixed(2));
const servers = [...new Set(opt.targets.map((t) => t.server))];
const ref = servers.includes('nginx') ? 'nginx' : servers[servers.length - 1];
const haveLogs = Object.keys(logs).length > 0;
const lines = [];
lines.push(`Chromium ${opt.chromium}, RTT ${opt.rtt ?? '?'} ms, ${opt.runs} measured loads per case after ${opt.warmup} warm-up rounds, medians (${((Date.now() - started) / 1000).toFixed(0)} s).`);
lines.push('');
lines.push('| site | visit | server | TTFB ms | FCP ms | LCP ms | LCP min–max | load ms | requests (304s) | KiB | URLs fetched twice | twice in DevTools | resources by initiatorType |');
lines.push('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
const twiceList = [];
const pathOf = (u) => (u.startsWith('/') ? u : new URL(u).pathname);
for (const site of sites) {
  for (const visit of ['first', 'repeat']) {
    const med = {};
    for (const server of servers) {
      const rs = records.filter((r) => !r.warmup && !r.error && r.site === site && r.server === server && r.visit === visit);
      if (!rs.length) continue;
      const fromLog = haveLogs && rs.every((r) => r.srvRequests !== undefined);
      const m = {};
      for (const c of ['finalTtfb', 'fcp', 'lcp', 'load']) m[c] = median(rs.map((r) => r[c]));
      const lcps = rs.map((r) => r.lcp).filter((x) => x !== null);
      const spread = lcps.length ? `${ms(Math.min(...lcps))}–${ms(Math.max(...lcps))}` : '–';
      m.req = median(rs.map((r) => (fromLog ? r.srvRequests : r.netRequests)));
      m.r304 = fromLog ? median(rs.map((r) => r.srv304)) : null;
      m.kib = median(rs.map((r) => (fromLog ? r.srvBytes : r.netBytes) / 1024));
      m.twice = median(rs.map((r) => (fromLog ? r.srvTwice : r.twice).length));
      m.twiceDt = median(rs.map((r) => r.twice.length));
      const kinds = {};
      for (const r of rs) for (const x of r.resources) kinds[x.initiator] = 1;
      const byKind = Object.keys(kinds).sort().map((k) => {
        const n = median(rs.map((r) => r.resources.filter((x) => x.initiator === k).length));
        const onNet = median(rs.map((r) => r.resources.filter((x) => x.initiator === k && x.transfer > 0).length));
        return `${k} ${num(n)}${onNet !== n ? ` (${num(onNet)} net)` : ''}`;
      });
      med[server] = m;
      const errors = records.filter((r) => !r.warmup && r.error && r.site === site && r.server === server && r.visit === visit).length;
      lines.push(`| ${site} | ${visit} | ${server} | ${ms(m.finalTtfb)} | ${ms(m.fcp)} | ${ms(m.lcp)} | ${spread} | ${ms(m.load)} | ${num(m.req)}${m.r304 ? ` (${num(m.r304)})` : ''} | ${m.kib.toFixed(1)} | ${num(m.twice)} | ${num(m.twiceDt)} | ${byKind.join(', ') || '–'}${errors ? ` — ${errors} failed loads` : ''} |`);
      const seen = {};
      for (const r of rs) for (const x of (fromLog ? r.srvTwice : r.twice)) {
        const k = `${pathOf(x.url)} ×${x.n}${x.statuses ? ` (${x.statuses})` : ''}`;
        seen[k] = (seen[k] || 0) + 1;
      }
      for (const [k, n] of Object.entries(seen)) twiceList.push(`${site}, ${visit} visit, ${server}: \`${k.replace(/ .*/, '')}\`${k.replace(/^\S+/, '')} in ${n} of ${rs.length} loads`);
    }
    for (const server of servers) {
      if (server === ref || !med[server] || !med[ref]) continue;
      const a = med[server], b = med[ref];
      lines.push(`| ${site} | ${visit} | **${server} / ${ref}** | ${ratio(a.finalTtfb, b.finalTtfb)} | ${ratio(a.fcp, b.fcp)} | **${ratio(a.lcp, b.lcp)}** | | ${ratio(a.load, b.load)} | ${ratio(a.req, b.req)} | ${ratio(a.kib, b.kib)} | | | |`);
    }
  }
}
lines.push('');
lines.push(`URLs fetched over the network more than once in one load (${haveLogs ? 'from the servers\' access logs, statuses in order' : 'DevTools'}; measured loads):`);
lines.push('');
if (!twiceList.length) lines.push('- none');
for (const t of twiceList) lines.push(`- ${t}`);
// What each server's 103s said on first visits (the commonest set of links).
const hintLines = [];
for (const site of sites) {
  for (const server of servers) {
    const rs = records.filter((r) => !r.warmup && !r.error && r.site === site && r.server === server && r.visit === 'first');
    const sets = {};
    for (const r of rs) {
      const k = (r.earlyHints || []).map((l) => `\`${l.trim()}\``).join(', ');
      sets[k] = (sets[k] || 0) + 1;
    }
    const best = Object.entries(sets).sort((a, b) => b[1] - a[1])[0];
    if (best && best[0]) hintLines.push(`- ${site}, ${server} (${best[1]} of ${rs.length} first visits): ${best[0]}`);
  }
}
lines.push('');
lines.push('103 Early Hints on first visits (Link values, as DevTools reports them):');
lines.push('');
if (!hintLines.length) lines.push('- none');
lines.push(...hintLines);
const lcpWhat = {};
for (const r of records) if (!r.warmup && r.lcpWhat) lcpWhat[`${r.site}: ${r.lcpWhat.replace(/https:\/\/[^/]+/, '')}`] = 1;
lines.push('');
lines.push(`LCP elements: ${Object.keys(lcpWhat).join('; ')}.`);
console.log(lines.join('\n'));
// --fail-on-twice: exit 3 if any measured load fetched a URL twice (for tests and CI).
if (opt.failOnTwice && twiceList.length) process.exit(3);
