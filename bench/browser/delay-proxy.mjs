// A TCP relay on loopback that adds RTT/2 to every chunk in each direction (netem is not
// available in this kernel), and one RTT more to a connection's first chunk towards the
// server (the TCP handshake). Order is kept; no bandwidth limit; half-closes are passed on.
//
//   node delay-proxy.mjs --rtt-ms 100 LISTEN_PORT:TARGET_PORT [LISTEN_PORT:TARGET_PORT ...]
//
// Listens on 127.0.0.1:LISTEN_PORT and connects each accepted connection to
// 127.0.0.1:TARGET_PORT. Prints "ready" once every listener is bound.
import net from 'node:net';

let rtt = 100;
const pairs = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--rtt-ms') rtt = Number(args[++i]);
  else if (/^\d+:\d+$/.test(args[i])) pairs.push(args[i].split(':').map(Number));
  else {
    console.error(`delay-proxy: bad argument '${args[i]}' (usage: --rtt-ms MS LISTEN:TARGET ...)`);
    process.exit(2);
  }
}
if (!pairs.length || !(rtt >= 0)) {
  console.error('usage: node delay-proxy.mjs --rtt-ms MS LISTEN_PORT:TARGET_PORT ...');
  process.exit(2);
}
const oneWay = rtt / 2;

// Delivers what `from` reads to `to`, each chunk oneWay ms after it was read; the first
// chunk `first` ms more (the TCP handshake's round trip, which loopback does not have).
function pipe(from, to, first = 0) {
  const queue = []; // [dueTime, Buffer | null (end)]
  let timer = null;
  const flush = () => {
    timer = null;
    const now = performance.now();
    while (queue.length && queue[0][0] <= now + 0.5) {
      const [, data] = queue.shift();
      if (data === null) to.end();
      else if (!to.destroyed) to.write(data);
    }
    if (queue.length) timer = setTimeout(flush, queue[0][0] - performance.now());
  };
  const push = (data) => {
    const due = performance.now() + oneWay + first;
    first = 0;
    queue.push([due, data]);
    if (!timer) timer = setTimeout(flush, queue[0][0] - performance.now());
  };
  from.on('data', (d) => push(d));
  from.on('end', () => push(null));
}

let ready = 0;
for (const [listen, target] of pairs) {
  const server = net.createServer({ noDelay: true }, (client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: target, noDelay: true });
    // A real client can send its first byte one RTT after its SYN (SYN, SYN-ACK): the
    // first chunk towards the server waits that round trip too.
    pipe(client, upstream, rtt);
    pipe(upstream, client);
    const kill = () => { client.destroy(); upstream.destroy(); };
    client.on('error', kill);
    upstream.on('error', kill);
    client.on('close', () => setTimeout(() => upstream.destroy(), oneWay));
    upstream.on('close', () => setTimeout(() => client.destroy(), oneWay));
  });
  server.listen(listen, '127.0.0.1', () => {
    if (++ready === pairs.length) console.log('ready');
  });
  server.on('error', (e) => {
    console.error(`delay-proxy: ${listen}: ${e.message}`);
    process.exit(1);
  });
}
