// 05-ws-drain: SIGTERM while WebSocket clients are connected. Every client
// gets a close frame with 1001 (going away), the process exits 0 well within
// its drain timeout, and a client that ignores the close is cut at the
// timeout rather than holding the process.
'use strict';
const assert = require('assert');
const net = require('net');
const WebSocket = require('ws');
const { startServer, test, run } = require('./lib/harness');

function connect(port) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

test('SIGTERM closes every WebSocket with 1001 and exits 0', async () => {
  const srv = await startServer('ws-echo', ['--port', '0']);
  const clients = await Promise.all([1, 2, 3, 4, 5].map(() => connect(srv.port)));
  // Prove they are live first.
  const echoed = await new Promise((r) => { clients[0].once('message', (d) => r(String(d))); clients[0].send('hi'); });
  assert.strictEqual(echoed, 'hi');
  const codes = clients.map((ws) => new Promise((r) => ws.once('close', (code) => r(code))));
  const exit = srv.stop('SIGTERM');
  assert.deepStrictEqual(await Promise.all(codes), [1001, 1001, 1001, 1001, 1001]);
  assert.strictEqual(await exit, 0);
});

test('a peer that never answers the close is cut at the drain timeout', async () => {
  const srv = await startServer('ws-echo', ['--port', '0']);
  // A raw socket that completes the handshake and then reads nothing more.
  const sock = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  sock.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  await new Promise((r) => sock.once('data', r));
  sock.pause(); // never read the close frame, never answer it
  const started = Date.now();
  const code = await srv.stop('SIGTERM', 20000);
  assert.strictEqual(code, 0);
  assert.ok(Date.now() - started < 15000, 'exited within the drain timeout');
  sock.destroy();
});

run();
