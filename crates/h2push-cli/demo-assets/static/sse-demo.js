// The SSE demo page: the same /api/events stream read by EventSource and by the fetch-based
// SseClient, side by side, each showing its events, last id and reconnections.
//
// EventSource reconnects by itself and sends Last-Event-ID; when it gives up for good (it
// closes after a fatal answer) this page opens a new one with ?lastEventId=, because a new
// EventSource cannot send the header. The page also remembers the last id across reloads.

import { SseClient } from './sse-reader.js';

const $ = (id) => document.getElementById(id);
const STORE = 'h2push-demo-last-event-id';

/** Appends a line to a log list; ticks carry their id in data-id for tests and styling. */
function log(list, text, id, note = false) {
  const li = document.createElement('li');
  if (id) {
    li.dataset.id = id;
    const tag = document.createElement('span');
    tag.className = 'id';
    tag.textContent = '#' + id;
    li.append(tag, ' ');
  }
  li.append(text);
  if (note) li.className = 'note';
  list.appendChild(li);
  list.scrollTop = list.scrollHeight;
}

function setStatus(el, state, text) {
  el.dataset.state = state;
  el.textContent = text;
}

/** The text of one tick, with how long it took from the server's clock to here. */
function describeTick(data) {
  try {
    const t = JSON.parse(data);
    const lag = Date.now() - t.sent_ms;
    return t.text + ' (' + lag + ' ms on the way)';
  } catch (_) {
    return data;
  }
}

// ---- EventSource ----------------------------------------------------------------------

const es = {
  source: null,
  connections: 0,
  done: false,
  last: sessionStorage.getItem(STORE) || '',
  of: 15,
  retryTimer: null,
};

function esOpen() {
  esClose();
  es.done = false;
  const url = es.last ? '/api/events?lastEventId=' + encodeURIComponent(es.last) : '/api/events';
  setStatus($('es-status'), 'connecting', es.last ? 'Connecting, resuming after id ' + es.last + '…' : 'Connecting…');
  const source = new EventSource(url);
  es.source = source;
  source.addEventListener('open', () => {
    es.connections++;
    $('es-connections').textContent = es.connections;
    setStatus($('es-status'), 'open', 'Connected.');
  });
  source.addEventListener('welcome', (ev) => {
    const w = JSON.parse(ev.data);
    es.of = w.of;
    log($('es-log'), w.resumed ? 'resuming at message ' + w.resume_from : 'stream started', '', true);
  });
  source.addEventListener('tick', (ev) => {
    es.last = ev.lastEventId;
    sessionStorage.setItem(STORE, es.last);
    $('es-last').textContent = es.last;
    log($('es-log'), describeTick(ev.data), ev.lastEventId);
  });
  source.addEventListener('done', (ev) => {
    es.done = true;
    sessionStorage.removeItem(STORE); // a reload starts over
    log($('es-log'), ev.data, '', true);
    setStatus($('es-status'), 'done', 'All messages received.');
    source.close();
  });
  source.addEventListener('error', () => {
    if (es.done) return;
    if (source.readyState === EventSource.CONNECTING) {
      // The browser reconnects by itself after the server's retry: time.
      setStatus($('es-status'), 'reconnecting', 'Connection lost; the browser is reconnecting (Last-Event-ID: ' + (es.last || 'none') + ')…');
    } else if (Number(es.last) >= es.of) {
      // The server answered 204: it has nothing after the last id.
      es.done = true;
      sessionStorage.removeItem(STORE);
      setStatus($('es-status'), 'done', 'All messages received.');
    } else {
      // Closed for good (e.g. a 5xx, or the server answered 204): try again ourselves.
      setStatus($('es-status'), 'reconnecting', 'Closed; reopening in 2 s…');
      es.retryTimer = setTimeout(esOpen, 2000);
    }
  });
}

function esClose() {
  clearTimeout(es.retryTimer);
  if (es.source) es.source.close();
  es.source = null;
}

$('es-start').addEventListener('click', esOpen);
$('es-stop').addEventListener('click', () => {
  esClose();
  setStatus($('es-status'), 'stopped', 'Stopped by you.');
});
$('es-reset').addEventListener('click', () => {
  es.last = '';
  sessionStorage.removeItem(STORE);
  $('es-last').textContent = 'none';
  $('es-log').replaceChildren();
  esOpen();
});
if (es.last) $('es-last').textContent = es.last;

// ---- fetch() reader -------------------------------------------------------------------

let client = null;
let frConnections = 0;
let frLast = ''; // the last id seen: Start after Stop resumes from it

$('fr-start').addEventListener('click', () => {
  if (client) return;
  $('fr-start').disabled = true;
  $('fr-stop').disabled = false;
  client = new SseClient('/api/events', {
    lastEventId: frLast,
    onStatus: (state, detail) => {
      if (state === 'open') {
        frConnections++;
        $('fr-connections').textContent = frConnections;
      }
      setStatus($('fr-status'), state, detail.charAt(0).toUpperCase() + detail.slice(1) + '.');
      if (state === 'done' || state === 'stopped' || state === 'error') {
        client = null;
        $('fr-start').disabled = false;
        $('fr-stop').disabled = true;
      }
    },
    onEvent: (ev) => {
      if (ev.type === 'tick') {
        frLast = ev.lastEventId;
        $('fr-last').textContent = ev.lastEventId;
        log($('fr-log'), describeTick(ev.data), ev.lastEventId);
      } else if (ev.type === 'welcome') {
        const w = JSON.parse(ev.data);
        log($('fr-log'), w.resumed ? 'resuming at message ' + w.resume_from : 'stream started', '', true);
      } else if (ev.type === 'done') {
        log($('fr-log'), ev.data, '', true);
        frLast = ''; // the next Start begins a new run
        client.finish('all messages received');
      }
    },
  });
  client.start();
});
$('fr-stop').addEventListener('click', () => { if (client) client.stop(); });

// Start the EventSource at once, resuming where a previous visit stopped.
esOpen();
