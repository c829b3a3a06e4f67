// The index page's script: shows how this page's critical resources arrived.
//
// It reads the Resource Timing entries of /static/style.css and /static/app.js (this very
// file) and names how each came: by 103 Early Hints (initiatorType "early-hints"), by server
// push (the server's report on the page says it pushed it and the browser took it), by a
// preload or <link> element, from the cache, or as a plain request. It is a classic script,
// not a module: the 103's `as=script` preload only matches a classic, no-CORS script fetch.
'use strict';

(function () {
  const CRITICAL = ['/static/style.css', '/static/app.js'];
  const status = document.getElementById('arrival-status');
  const tbody = document.querySelector('#arrivals tbody');

  /** How the server says it handled `path`: true if it pushed it. */
  function serverPushed(path) {
    const li = document.querySelector('#server-pushes li[data-path="' + path + '"]');
    return li !== null && li.dataset.pushed === 'true';
  }

  /** A short, human name for how a resource arrived. */
  function arrivedBy(entry, path) {
    if (entry.initiatorType === 'early-hints') return ['early-hints', '103 Early Hints'];
    if (entry.transferSize === 0 && entry.decodedBodySize > 0) {
      return serverPushed(path) ? ['pushed', 'server push (no request went out)'] : ['cache', 'cache'];
    }
    if (entry.initiatorType === 'link') return ['preload', '<link> / preload'];
    return ['plain', 'plain request (' + entry.initiatorType + ')'];
  }

  function cell(row, text, className) {
    const td = document.createElement('td');
    if (className) {
      const span = document.createElement('span');
      span.className = 'badge ' + className;
      span.textContent = text;
      td.appendChild(span);
    } else {
      td.textContent = text;
    }
    row.appendChild(td);
  }

  function render(entries) {
    tbody.replaceChildren();
    const result = [];
    for (const path of CRITICAL) {
      const entry = entries.get(path);
      const row = document.createElement('tr');
      row.dataset.path = path;
      const th = document.createElement('th');
      th.scope = 'row';
      th.innerHTML = '<code></code>';
      th.firstChild.textContent = path;
      row.appendChild(th);
      if (!entry) {
        cell(row, 'no timing entry');
        cell(row, '–');
        cell(row, '–');
        cell(row, '–');
        cell(row, '–');
      } else {
        const [kind, label] = arrivedBy(entry, path);
        row.dataset.arrival = kind;
        row.dataset.initiatorType = entry.initiatorType;
        row.dataset.nextHopProtocol = entry.nextHopProtocol;
        cell(row, label, kind);
        cell(row, entry.initiatorType);
        cell(row, entry.nextHopProtocol || '(not exposed)');
        cell(row, entry.fetchStart.toFixed(1));
        cell(row, entry.responseEnd.toFixed(1));
        result.push({ path, kind, initiatorType: entry.initiatorType, nextHopProtocol: entry.nextHopProtocol });
      }
      tbody.appendChild(row);
    }
    const nav = performance.getEntriesByType('navigation')[0];
    const proto = nav ? nav.nextHopProtocol : 'unknown';
    const early = result.filter((r) => r.kind === 'early-hints').length;
    status.dataset.state = 'done';
    status.textContent = 'This page came over ' + proto + '; ' + early + ' of ' + CRITICAL.length +
      ' critical resources came by 103 Early Hints.';
    document.body.dataset.arrivals = JSON.stringify({ protocol: proto, resources: result });
  }

  /** Collects the entries for CRITICAL, waiting briefly for ones not recorded yet. */
  function collect() {
    const found = new Map();
    const take = (list) => {
      for (const e of list) {
        const path = new URL(e.name).pathname;
        if (CRITICAL.includes(path) && !found.has(path)) found.set(path, e);
      }
    };
    take(performance.getEntriesByType('resource'));
    if (found.size === CRITICAL.length || !('PerformanceObserver' in window)) {
      render(found);
      return;
    }
    const observer = new PerformanceObserver((list) => {
      take(list.getEntries());
      if (found.size === CRITICAL.length) {
        observer.disconnect();
        render(found);
      }
    });
    observer.observe({ type: 'resource', buffered: true });
    // Give up waiting after two seconds and show what is known.
    setTimeout(() => { observer.disconnect(); render(found); }, 2000);
  }

  collect();
})();
