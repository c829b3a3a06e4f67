// The fetch demo: GET /api/data and render the JSON answer, with how the request went.
//
// It owns only this page's rendering; the data comes from the server's /api/data route.

const $ = (id) => document.getElementById(id);

/** Fills a table body with one row per technique. */
function renderTechniques(list) {
  const tbody = document.querySelector('#data-techniques tbody');
  tbody.replaceChildren();
  for (const t of list || []) {
    const row = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = t.name;
    row.appendChild(th);
    for (const text of [t.direction, t.browsers]) {
      const td = document.createElement('td');
      td.textContent = text;
      row.appendChild(td);
    }
    tbody.appendChild(row);
  }
}

/** The newest Resource Timing entry for `url`, if any. */
function timingFor(url) {
  const entries = performance.getEntriesByName(new URL(url, location.href).href);
  return entries[entries.length - 1];
}

async function load() {
  const status = $('fetch-status');
  status.dataset.state = 'connecting';
  status.textContent = 'Fetching /api/data…';
  const started = performance.now();
  try {
    const res = await fetch('/api/data', { headers: { Accept: 'application/json' }, cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    const data = await res.json();
    const elapsed = performance.now() - started;
    $('data-message').textContent = data.message;
    $('data-time').textContent = new Date(data.server_time_ms).toISOString();
    $('data-protocol').textContent = data.connection.protocol ?? 'unknown';
    $('data-peer').textContent = data.connection.peer ?? 'unknown';
    const push = data.connection.push;
    $('data-push').textContent = (push.accepted ? 'yes: ' : 'no: ') + push.detail;
    const entry = timingFor('/api/data');
    $('data-next-hop').textContent = entry && entry.nextHopProtocol ? entry.nextHopProtocol : '(not exposed)';
    $('data-duration').textContent = elapsed.toFixed(1) + ' ms';
    renderTechniques(data.techniques);
    $('data-raw').textContent = JSON.stringify(data, null, 2);
    status.dataset.state = 'done';
    status.textContent = 'Loaded in ' + elapsed.toFixed(1) + ' ms.';
    document.body.dataset.loaded = 'true';
  } catch (err) {
    status.dataset.state = 'error';
    status.textContent = 'Failed: ' + err.message;
  }
}

$('fetch-button').addEventListener('click', load);
load();
