// Unit tests of the demo's fetch-based SSE reader (demo-assets/static/sse-reader.js) in
// Node, no browser: the parser against the spec's rules, cut into chunks every possible way,
// and the client's reconnection (Last-Event-ID, retry:, 204, Stop) against a tiny local
// server on loopback.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { EventStreamParser, SseClient, isEventStream } from '../crates/h2push-cli/demo-assets/static/sse-reader.js';

/** Parses `chunks` in order; returns the events and retry values seen. */
function parse(chunks, finish = true) {
  const events = [];
  const retries = [];
  const p = new EventStreamParser({ onEvent: (e) => events.push(e), onRetry: (ms) => retries.push(ms) });
  for (const c of chunks) p.feed(c);
  if (finish) p.finish();
  return { events, retries, lastEventId: p.lastEventId };
}

/** Parses `stream` whole and cut at every one and two places; all must agree. */
function parseEveryWay(stream) {
  const whole = parse([stream]);
  for (let i = 0; i <= stream.length; i++) {
    assert.deepEqual(parse([stream.slice(0, i), stream.slice(i)]), whole, `cut at ${i}`);
    for (let j = i; j <= stream.length; j += 3) {
      const three = [stream.slice(0, i), stream.slice(i, j), stream.slice(j)];
      assert.deepEqual(parse(three), whole, `cut at ${i} and ${j}`);
    }
  }
  // One character at a time, too.
  assert.deepEqual(parse([...stream]), whole, 'one character at a time');
  return whole;
}

const ev = (type, data, lastEventId = '') => ({ type, data, lastEventId });

test('LF, CRLF and CR all end lines, mixed in one stream', () => {
  const { events } = parseEveryWay('data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: d\r\n\n');
  assert.deepEqual(events, [ev('message', 'a'), ev('message', 'b'), ev('message', 'c'), ev('message', 'd')]);
});

test('multi-line data joins with LF; empty data lines count', () => {
  const { events } = parseEveryWay('data: one\ndata: two\r\ndata\rdata:\n\n');
  assert.deepEqual(events, [ev('message', 'one\ntwo\n\n')]);
});

test('named events, ids that persist, one leading space stripped', () => {
  const { events, lastEventId } = parseEveryWay(
    'event: tick\nid: 1\ndata:  two spaces\n\ndata:x\n\nid\ndata: y\n\n',
  );
  assert.deepEqual(events, [ev('tick', ' two spaces', '1'), ev('message', 'x', '1'), ev('message', 'y', '')]);
  assert.equal(lastEventId, '');
});

test('comments, unknown fields and ids with NUL are ignored', () => {
  const { events } = parseEveryWay(': heartbeat\nfoo: bar\nid: 7\ndata: a\n\nid: 8\u0000\ndata: b\n\n');
  assert.deepEqual(events, [ev('message', 'a', '7'), ev('message', 'b', '7')]);
});

test('retry takes ASCII digits only', () => {
  const { retries } = parseEveryWay('retry: 1500\nretry: 15x\nretry: -1\nretry:\nretry: 20\n\n');
  assert.deepEqual(retries, [1500, 20]);
});

test('an event without data dispatches nothing but still sets the last id', () => {
  const out = parseEveryWay('id: 42\n\nevent: only-type\n\n');
  assert.deepEqual(out.events, []);
  assert.equal(out.lastEventId, '42');
});

test('an event cut off by the end of the stream is dropped', () => {
  assert.deepEqual(parse(['data: complete\n\ndata: partial\n']).events, [ev('message', 'complete')]);
  assert.deepEqual(parse(['data: partial']).events, []);
});

test('isEventStream checks the MIME essence only', () => {
  assert.ok(isEventStream('text/event-stream'));
  assert.ok(isEventStream('Text/Event-Stream; charset=utf-8'));
  assert.ok(!isEventStream('text/plain'));
  assert.ok(!isEventStream(null));
});

/** A loopback server answering with `handler(req, res, n)` for the n-th request (from 1). */
async function serve(handler) {
  let n = 0;
  const requests = [];
  const server = createServer((req, res) => {
    n += 1;
    requests.push({ lastEventId: req.headers['last-event-id'], method: req.method });
    handler(req, res, n);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/events`;
  return { url, requests, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

/** Runs a client until it reports one of `final` states; returns events and states. */
function runClient(url, options, final = ['done', 'error', 'stopped']) {
  return new Promise((resolve) => {
    const events = [];
    const states = [];
    const client = new SseClient(url, {
      ...options,
      onEvent: (e) => events.push(e),
      onStatus: (state, detail) => {
        states.push(state);
        if (final.includes(state)) resolve({ events, states, detail, client });
        options.onStatus?.(state, detail, client);
      },
    });
    client.start();
  });
}

test('the client reconnects with Last-Event-ID and stops on 204', async () => {
  const server = await serve((req, res, n) => {
    if (n === 1) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // Split an event across writes, then break the connection mid-event.
      res.write('retry: 10\nid: 1\ndata: first\n\nid: 2\nda');
      setTimeout(() => res.write('ta: second\r\n\r\nid: 3\ndata: never'), 20);
      setTimeout(() => res.socket.destroy(), 60);
    } else if (n === 2) {
      res.writeHead(503).end(); // a 5xx is retried
    } else if (n === 3) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('id: 3\ndata: third\n\n');
    } else {
      res.writeHead(204).end();
    }
  });
  try {
    const { events, states } = await runClient(server.url, { method: 'POST', body: '{}' });
    assert.deepEqual(events.map((e) => e.data), ['first', 'second', 'third']);
    assert.deepEqual(server.requests.map((r) => r.lastEventId), [undefined, '2', '2', '3']);
    assert.ok(server.requests.every((r) => r.method === 'POST'));
    assert.equal(states.at(-1), 'done');
    assert.ok(states.includes('reconnecting'));
  } finally {
    await server.close();
  }
});

test('a 4xx or a wrong Content-Type is fatal, with the JSON error shown', async () => {
  const server = await serve((req, res, n) => {
    if (n === 1) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":"\\"message\\" is empty"}');
    } else {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<p>no</p>');
    }
  });
  try {
    const first = await runClient(server.url, {});
    assert.equal(first.states.at(-1), 'error');
    assert.equal(first.detail, '400: "message" is empty');
    const second = await runClient(server.url, {});
    assert.match(second.detail, /not an event stream: text\/html/);
    assert.equal(server.requests.length, 2, 'no retries after a fatal answer');
  } finally {
    await server.close();
  }
});

test('stop() aborts an open stream and does not reconnect', async () => {
  const server = await serve((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('id: 1\ndata: hello\n\n'); // and never ends
  });
  try {
    const result = await runClient(server.url, {
      onStatus: (state, _detail, client) => { if (state === 'open') setTimeout(() => client.stop(), 50); },
    });
    assert.equal(result.states.at(-1), 'stopped');
    assert.deepEqual(result.events.map((e) => e.data), ['hello']);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(server.requests.length, 1);
  } finally {
    await server.close();
  }
});

test('backoff grows exponentially, with jitter, up to the cap', () => {
  const c = new SseClient('/x', { baseDelay: 100, maxDelay: 1000 });
  for (let attempt = 1; attempt <= 8; attempt++) {
    const exp = Math.min(1000, 100 * 2 ** (attempt - 1));
    for (let k = 0; k < 20; k++) {
      const d = c.backoff(attempt);
      assert.ok(d >= exp / 2 && d <= exp, `attempt ${attempt}: ${d} not in [${exp / 2}, ${exp}]`);
    }
  }
});
