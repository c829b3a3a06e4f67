// The chatbot page: POST the message to /api/chat and show the reply as its tokens stream in.
//
// The stream is read by SseClient (fetch + spec-exact parser); Stop aborts it through the
// client's AbortController. If the connection breaks mid-reply the client reconnects with
// Last-Event-ID and the server sends the rest of the same reply.

import { SseClient } from './sse-reader.js';

const $ = (id) => document.getElementById(id);
const form = $('chat-form');
const input = $('chat-input');
const sendButton = $('chat-send');
const stopButton = $('chat-stop');
const status = $('chat-status');
let client = null;

function setStatus(state, text) {
  status.dataset.state = state;
  status.textContent = text;
}

/** Adds a message bubble and returns the element its text goes into. */
function bubble(who, text) {
  const div = document.createElement('div');
  div.className = 'bubble ' + who;
  const name = document.createElement('span');
  name.className = 'who';
  name.textContent = who === 'user' ? 'You' : 'h2push bot';
  const body = document.createElement('span');
  body.className = 'text';
  body.textContent = text;
  div.append(name, body);
  $('chat-log').appendChild(div);
  return body;
}

function busy(on) {
  sendButton.disabled = on;
  stopButton.disabled = !on;
  $('chat-log').setAttribute('aria-busy', on ? 'true' : 'false');
}

function send(message) {
  if (client) return;
  bubble('user', message);
  const reply = bubble('bot', '');
  const replyBox = reply.parentElement;
  replyBox.id = 'reply-' + $('chat-log').children.length;
  replyBox.dataset.streaming = 'true';
  let tokens = 0;
  const started = performance.now();
  $('chat-tokens').textContent = '0';
  $('chat-ttft').textContent = '–';
  busy(true);

  client = new SseClient('/api/chat', {
    method: 'POST',
    body: JSON.stringify({ message }),
    headers: { 'Content-Type': 'application/json' },
    maxAttempts: 5,
    onEvent: (ev) => {
      if (ev.type === 'token') {
        if (tokens === 0) $('chat-ttft').textContent = (performance.now() - started).toFixed(0) + ' ms';
        tokens++;
        reply.textContent += ev.data;
        replyBox.dataset.tokens = String(tokens);
        $('chat-tokens').textContent = String(tokens);
        $('chat-reads').textContent = String(client.chunks);
      } else if (ev.type === 'done') {
        client.finish('reply complete: ' + tokens + ' tokens in ' + ((performance.now() - started) / 1000).toFixed(1) + ' s');
      }
    },
    onStatus: (state, detail) => {
      if (state === 'open') setStatus('open', 'Streaming the reply…');
      else if (state === 'connecting') setStatus('connecting', 'Sending…');
      else if (state === 'reconnecting') setStatus('reconnecting', 'Connection lost; ' + detail + '.');
      else {
        // done, stopped or error: the stream is over.
        replyBox.dataset.streaming = 'false';
        replyBox.dataset.outcome = state;
        if (state === 'stopped') setStatus('stopped', 'Stopped after ' + tokens + ' tokens.');
        else if (state === 'error') {
          replyBox.classList.add('error');
          if (!reply.textContent) reply.textContent = detail;
          setStatus('error', 'Failed: ' + detail);
        } else setStatus('done', detail.charAt(0).toUpperCase() + detail.slice(1) + '.');
        client = null;
        busy(false);
        input.focus();
      }
    },
  });
  client.start();
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const message = input.value.trim();
  if (!message) {
    setStatus('error', 'Type a message first.');
    input.focus();
    return;
  }
  send(message);
  input.value = '';
});

input.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) form.requestSubmit();
});

stopButton.addEventListener('click', () => { if (client) client.stop(); });
