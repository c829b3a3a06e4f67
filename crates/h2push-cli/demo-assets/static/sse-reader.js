// Server-sent events over fetch(): a spec-exact parser and a reconnecting client.
//
// EventSource only does GET without a body or headers of your own. Streaming APIs (chat
// completions and the like) answer a POST with text/event-stream, so pages read those with
// fetch() and a stream reader. This module owns that: `EventStreamParser` follows the WHATWG
// HTML "parse an event stream" and "interpret an event stream" algorithms (§9.2.5–9.2.6), fed
// text in chunks split anywhere; `SseClient` fetches, feeds the parser, stops on an
// AbortController, and reconnects with exponential backoff and jitter, sending Last-Event-ID
// so the server can resume. Rendering is the pages' own business.

/** Whether a Content-Type is an event stream (the check EventSource makes). */
export function isEventStream(contentType) {
  const essence = (contentType || '').split(';')[0].trim().toLowerCase();
  return essence === 'text/event-stream';
}

/**
 * The event-stream parser. Feed it decoded text with `feed()`; it calls `onEvent({type, data,
 * lastEventId})` for each complete event and `onRetry(ms)` for each valid `retry:` field.
 * Lines may end in CRLF, LF or CR, and a chunk may end anywhere, even between a CR and its LF.
 */
export class EventStreamParser {
  constructor({ onEvent, onRetry = () => {}, lastEventId = '' } = {}) {
    this.onEvent = onEvent;
    this.onRetry = onRetry;
    this.line = '';            // the incomplete line carried over from the last chunk
    this.skipLF = false;       // the last chunk ended in CR: a leading LF belongs to it
    this.data = '';            // the data buffer
    this.eventType = '';       // the event type buffer
    this.idBuffer = lastEventId; // the last event ID buffer
    this.lastEventId = lastEventId; // the source's last event ID string
  }

  /** Feeds a piece of the stream (already UTF-8 decoded, BOM already stripped). */
  feed(text) {
    let start = 0;
    if (this.skipLF && text.length > 0) {
      if (text[0] === '\n') start = 1;
      this.skipLF = false;
    }
    for (let i = start; i < text.length; i++) {
      const c = text[i];
      if (c !== '\r' && c !== '\n') continue;
      this.line += text.slice(start, i);
      this.processLine(this.line);
      this.line = '';
      if (c === '\r') {
        if (i + 1 < text.length) {
          if (text[i + 1] === '\n') i++;
        } else {
          this.skipLF = true; // the LF of a CRLF may come in the next chunk
        }
      }
      start = i + 1;
    }
    this.line += text.slice(start);
  }

  /** The stream ended: an event without its blank line is dropped, as the spec says. */
  finish() {
    this.line = '';
    this.data = '';
    this.eventType = '';
    this.skipLF = false;
  }

  processLine(line) {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line[0] === ':') return; // a comment, e.g. a heartbeat
    const colon = line.indexOf(':');
    let field = line;
    let value = '';
    if (colon >= 0) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value[0] === ' ') value = value.slice(1);
    }
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.data += value + '\n';
        break;
      case 'id':
        if (!value.includes('\0')) this.idBuffer = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.onRetry(parseInt(value, 10));
        break;
      default:
        break; // unknown fields are ignored
    }
  }

  dispatch() {
    this.lastEventId = this.idBuffer;
    if (this.data === '') {
      this.eventType = '';
      return;
    }
    const data = this.data.endsWith('\n') ? this.data.slice(0, -1) : this.data;
    const type = this.eventType || 'message';
    this.data = '';
    this.eventType = '';
    this.onEvent({ type, data, lastEventId: this.lastEventId });
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

/** Thrown for answers that retrying cannot fix (a 4xx, a wrong Content-Type). */
class FatalError extends Error {}

/**
 * A reconnecting event-stream client over fetch().
 *
 *   const client = new SseClient('/api/events', {
 *     onEvent: (ev) => ..., onStatus: (state, detail) => ...,
 *   });
 *   client.start(); ... client.stop();
 *
 * Options: `method`, `body` (a string, resent on every reconnect), `headers`, `baseDelay`
 * (ms; a `retry:` field from the server replaces it), `maxDelay`, `maxAttempts`.
 * States reported: connecting, open, reconnecting, done (server said 204 or the stream was
 * finished by the page), stopped (the page called stop()), error (fatal).
 */
export class SseClient {
  constructor(url, options = {}) {
    this.url = url;
    this.options = options;
    this.onEvent = options.onEvent || (() => {});
    this.onStatus = options.onStatus || (() => {});
    this.baseDelay = options.baseDelay ?? 1000;
    this.maxDelay = options.maxDelay ?? 30000;
    this.maxAttempts = options.maxAttempts ?? Infinity;
    this.lastEventId = options.lastEventId || '';
    this.stopper = null;
    this.finished = false;
    this.chunks = 0; // network reads so far, for the curious
  }

  /** Connects (and keeps reconnecting) until stop() or finish(). */
  start() {
    if (this.stopper) return;
    this.stopper = new AbortController();
    this.finished = false;
    this.run(this.stopper.signal);
  }

  /** Aborts the stream now and does not reconnect. */
  stop() {
    if (!this.stopper) return;
    this.stopper.abort();
    this.stopper = null;
    if (!this.finished) this.onStatus('stopped', 'stopped by you');
  }

  /** Ends the stream because the page has all it wanted (e.g. a `done` event). */
  finish(detail = 'complete') {
    this.finished = true;
    if (this.stopper) this.stopper.abort();
    this.stopper = null;
    this.onStatus('done', detail);
  }

  async run(signal) {
    let attempt = 0;
    while (!signal.aborted) {
      this.onStatus(attempt === 0 ? 'connecting' : 'reconnecting', 'connecting…');
      let sawEvent = false;
      try {
        sawEvent = await this.connectOnce(signal);
        if (signal.aborted) return;
        if (sawEvent === null) {
          this.finished = true;
          this.stopper = null;
          this.onStatus('done', 'the server has nothing more to send (204)');
          return;
        }
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof FatalError) {
          this.stopper = null;
          this.onStatus('error', err.message);
          return;
        }
        sawEvent = err.sawEvent === true;
      }
      // A stream that delivered events starts the backoff over.
      attempt = sawEvent ? 1 : attempt + 1;
      if (attempt > this.maxAttempts) {
        this.stopper = null;
        this.onStatus('error', 'gave up after ' + this.maxAttempts + ' attempts');
        return;
      }
      const delay = this.backoff(attempt);
      this.onStatus('reconnecting', 'reconnecting in ' + (delay / 1000).toFixed(1) + ' s (attempt ' + attempt + ')' +
        (this.lastEventId ? ', resuming after id ' + this.lastEventId : ''));
      await sleep(delay, signal);
    }
  }

  /** Exponential backoff with "equal jitter": half the delay fixed, half random. */
  backoff(attempt) {
    const exp = Math.min(this.maxDelay, this.baseDelay * 2 ** (attempt - 1));
    return Math.round(exp / 2 + Math.random() * (exp / 2));
  }

  /**
   * One connection: resolves true/false (events seen or not) when the stream ends, null on
   * 204; throws on network errors (with `sawEvent`) and FatalError on unfixable answers.
   */
  async connectOnce(signal) {
    const headers = new Headers(this.options.headers || {});
    headers.set('Accept', 'text/event-stream');
    if (this.lastEventId) headers.set('Last-Event-ID', this.lastEventId);
    const res = await fetch(this.url, {
      method: this.options.method || 'GET',
      body: this.options.body,
      headers,
      cache: 'no-store',
      signal,
    });
    if (res.status === 204) return null;
    if (!res.ok) {
      const message = await errorMessage(res);
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
        throw new FatalError(message);
      }
      throw Object.assign(new Error(message), { sawEvent: false });
    }
    if (!isEventStream(res.headers.get('content-type'))) {
      throw new FatalError('not an event stream: ' + res.headers.get('content-type'));
    }
    this.onStatus('open', 'connected');
    let sawEvent = false;
    const parser = new EventStreamParser({
      lastEventId: this.lastEventId,
      onEvent: (ev) => {
        sawEvent = true;
        this.lastEventId = ev.lastEventId;
        this.onEvent(ev);
      },
      onRetry: (ms) => { this.baseDelay = ms; },
    });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.chunks++;
        parser.feed(value);
        if (signal.aborted) break;
      }
    } catch (err) {
      err.sawEvent = sawEvent;
      throw err;
    } finally {
      // The ID may have been set by an event without data, too.
      if (parser.lastEventId) this.lastEventId = parser.lastEventId;
      parser.finish();
    }
    return sawEvent;
  }
}

/** The `error` of a JSON error body, or the status line. */
async function errorMessage(res) {
  try {
    const body = await res.json();
    if (body && typeof body.error === 'string') return res.status + ': ' + body.error;
  } catch (_) {
    // not JSON: fall through
  }
  return 'HTTP ' + res.status + ' ' + res.statusText;
}
