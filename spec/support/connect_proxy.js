// A small HTTP CONNECT proxy for the proxy specs (spec/support/proxy.lua
// starts and stops it).  One process, several listeners on 127.0.0.1, each
// with its own behaviour, given as arguments:
//
//   node connect_proxy.js PORT:open  PORT:auth:USER:PASSWORD  PORT:refuse:STATUS
//
//   open     tunnels every CONNECT to a 127.0.0.1 port
//   auth     the same, only with "Proxy-Authorization: Basic base64(USER:PASSWORD)";
//            otherwise 407, with a body that quotes the header it got
//            (the specs check that no such echo reaches an error)
//   refuse   answers every CONNECT with STATUS
//   close    closes the connection on every CONNECT, without an answer
//
// Anything but CONNECT gets its listener's counts as JSON (GET /_stats):
// { connects = CONNECT requests, tunnels = tunnels opened, refused =,
//   authorizations = [the Proxy-Authorization values received, in order],
//   targets = ["127.0.0.1:443", ...] }.
// Tunnels go only to 127.0.0.1.  It prints "ready" once every listener
// listens; it exits when its stdin closes (the spec's pipe) or on SIGTERM.
'use strict';
const net = require('net');

const listeners = process.argv.slice(2).map((arg) => {
  const [port, mode, a, b] = arg.split(':');
  return { port: Number(port), mode, a, b, stats: { connects: 0, tunnels: 0, refused: 0, authorizations: [], targets: [] } };
});

function answer(sock, status, reason, body, extra) {
  sock.end(`HTTP/1.1 ${status} ${reason}\r\n${extra || ''}Content-Length: ${Buffer.byteLength(body)}\r\n`
    + `Connection: close\r\n\r\n${body}`);
}

function handle(l, sock) {
  let head = Buffer.alloc(0);
  const onData = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (head.length > 65536) sock.destroy();
      return;
    }
    sock.removeListener('data', onData);
    const lines = head.slice(0, end).toString('latin1').split('\r\n');
    const rest = head.slice(end + 4);
    const [method, target] = lines[0].split(' ');
    const headers = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    if (method !== 'CONNECT') {
      answer(sock, 200, 'OK', JSON.stringify(l.stats), 'Content-Type: application/json\r\n');
      return;
    }
    l.stats.connects++;
    l.stats.targets.push(target);
    const auth = headers['proxy-authorization'];
    if (auth !== undefined) l.stats.authorizations.push(auth);
    if (l.mode === 'close') {
      l.stats.refused++;
      sock.destroy();
      return;
    }
    if (l.mode === 'refuse') {
      l.stats.refused++;
      answer(sock, Number(l.a), 'Refused', `refused CONNECT ${target}\n`);
      return;
    }
    if (l.mode === 'auth') {
      const want = 'Basic ' + Buffer.from(`${l.a}:${l.b}`).toString('base64');
      if (auth !== want) {
        l.stats.refused++;
        answer(sock, 407, 'Proxy Authentication Required',
          `bad credentials: got Proxy-Authorization ${auth}, decoded `
          + `${auth ? Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString() : ''}\n`,
          'Proxy-Authenticate: Basic realm="kombo-lua proxy spec"\r\n');
        return;
      }
    }
    const m = /^127\.0\.0\.1:(\d+)$/.exec(target || '');
    if (!m) {
      l.stats.refused++;
      answer(sock, 403, 'Forbidden', 'only 127.0.0.1\n');
      return;
    }
    const up = net.connect(Number(m[1]), '127.0.0.1', () => {
      l.stats.tunnels++;
      sock.write('HTTP/1.1 200 Connection established\r\n\r\n');
      if (rest.length) up.write(rest);
      sock.pipe(up);
      up.pipe(sock);
    });
    up.on('error', () => {
      if (!sock.destroyed) answer(sock, 502, 'Bad Gateway', 'upstream refused\n');
    });
    sock.on('error', () => up.destroy());
    sock.on('close', () => up.destroy());
    up.on('close', () => sock.destroy());
  };
  sock.on('data', onData);
  sock.on('error', () => {});
}

let ready = 0;
for (const l of listeners) {
  net.createServer((sock) => handle(l, sock)).listen(l.port, '127.0.0.1', () => {
    if (++ready === listeners.length) process.stdout.write('ready\n');
  });
}
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
