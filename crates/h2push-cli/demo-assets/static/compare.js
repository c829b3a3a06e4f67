// The comparison page: fills in numbers measured on this page's own connection.
//
// Navigation Timing gives the connection set-up, the first 103 (firstInterimResponseStart,
// where the browser exposes it) and the first byte; /api/data tells what the server saw
// (protocol, whether the client allows push); a short EventSource on /api/events (resumed
// near its end, so it is over in a few seconds) gives SSE's open-to-first-event time and
// the gap between two events.

const $ = (id) => document.getElementById(id);
const ms = (v) => v.toFixed(1) + ' ms';

function navigationNumbers() {
  const nav = performance.getEntriesByType('navigation')[0];
  if (!nav) return null;
  const setup = nav.connectEnd - nav.connectStart;
  $('n-protocol').textContent = nav.nextHopProtocol || '(not exposed)';
  $('n-connect').textContent = setup > 0 ? ms(setup) : '0 ms: the connection was already open';
  const interim = nav.firstInterimResponseStart || 0;
  $('n-interim').textContent = interim > 0
    ? ms(interim - nav.requestStart) + ' after the request'
    : 'no 103 for this page (the server hints only on "/")';
  $('n-ttfb').textContent = ms(nav.responseStart - nav.requestStart) + ' after the request';
  const early = performance.getEntriesByType('resource').filter((e) => e.initiatorType === 'early-hints');
  return { nav, setup, early };
}

async function fetchNumbers() {
  const started = performance.now();
  const res = await fetch('/api/data', { cache: 'no-store' });
  const data = await res.json();
  const took = performance.now() - started;
  $('n-fetch').textContent = ms(took) + ' over ' + (data.connection.protocol || 'unknown');
  return data;
}

/** Opens an EventSource near the stream's end and times its first events. */
function sseNumbers() {
  return new Promise((resolve) => {
    const opened = performance.now();
    const source = new EventSource('/api/events?lastEventId=12');
    const times = [];
    const finish = () => {
      source.close();
      resolve(times);
    };
    source.addEventListener('tick', () => {
      times.push(performance.now());
      if (times.length === 1) $('n-sse-first').textContent = ms(times[0] - opened);
      if (times.length === 2) {
        $('n-sse-gap').textContent = ms(times[1] - times[0]) + ' (the server sends one a second)';
        finish();
      }
    });
    source.addEventListener('error', () => { if (source.readyState === EventSource.CLOSED) finish(); });
    setTimeout(finish, 5000);
  });
}

async function main() {
  const status = $('compare-status');
  const navInfo = navigationNumbers();
  try {
    const data = await fetchNumbers();
    $('live-push').textContent = data.connection.push.accepted
      ? 'Your client allows push: the server could push here.'
      : 'Refused: ' + data.connection.push.detail + '. The server pushes nothing here.';
    $('live-hints').textContent = 'The index page sends a 103 with 2 preload links; ' +
      'open it to see them arrive by early hints.' +
      (navInfo && navInfo.nav.firstInterimResponseStart > 0 ? ' This page got one too.' : '');
    $('live-ws').textContent = 'A WebSocket would need its own handshake' +
      (navInfo && navInfo.setup > 0 ? ' on a new connection, about ' + ms(navInfo.setup) + ' here' : '') +
      '; SSE and fetch reuse this ' + (data.connection.protocol || '') + ' connection.';
    status.textContent = 'Measuring server-sent events…';
    const times = await sseNumbers();
    $('live-sse').textContent = times.length > 0
      ? 'First event ' + $('n-sse-first').textContent + ' after opening the stream.'
      : 'No event arrived (is the server running?).';
    status.dataset.state = 'done';
    status.textContent = 'Done.';
    document.body.dataset.measured = 'true';
  } catch (err) {
    status.dataset.state = 'error';
    status.textContent = 'Measuring failed: ' + err.message;
  }
}

main();
