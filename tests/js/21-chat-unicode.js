// 21-chat-unicode: strings a JavaScript client can produce but UTF-8 cannot
// carry (lone surrogates) do not cost the client its connection: the server
// reads them as U+FFFD, as a browser's own UTF-8 encoder would; emoji and
// other astral characters arrive intact and count as one character each.
'use strict';
const assert = require('assert');
const { startParley, request, next } = require('./lib/parley');
const { test, run } = require('./lib/harness');

let p;

test('start', async () => {
  p = await startParley();
});

test('a lone surrogate becomes U+FFFD and the connection stays up', async () => {
  const a = await p.connect({ user: 'ann' });
  const b = await p.connect({ user: 'ben' });
  const got = next(b.socket, 'message:new', (m) => m.clientId === 'u1');
  const ack = await request(a.socket, 'message:send', { channel: 'general', clientId: 'u1', text: 'x\ud800y' });
  assert.strictEqual(ack.ok, true, JSON.stringify(ack));
  assert.strictEqual(ack.message.text, 'x\ufffdy');
  assert.strictEqual((await got).text, 'x\ufffdy');
  assert.ok(a.socket.connected);
  // A lone surrogate in a field that must be an id is a precise bad_request.
  const bad = await request(a.socket, 'channel:join', { channel: '\udc00' });
  assert.strictEqual(bad.ok, false);
  assert.strictEqual(bad.error.code, 'bad_request');
  assert.match(bad.error.message, /channel/);
  assert.ok(a.socket.connected);
});

test('astral characters are kept and counted as one character each', async () => {
  const a = await p.connect({ user: 'cat' });
  const emoji = '\u{1F600}'.repeat(4000); // 4000 characters, 16000 bytes: over the byte cap
  const big = await request(a.socket, 'message:send', { channel: 'general', clientId: 'e1', text: emoji });
  assert.strictEqual(big.ok, false);
  assert.strictEqual(big.error.code, 'too_large');
  const ok = await request(a.socket, 'message:send', { channel: 'general', clientId: 'e2', text: '\u{1F600}\u{1F389}' });
  assert.strictEqual(ok.ok, true);
  assert.strictEqual(ok.message.text, '\u{1F600}\u{1F389}');
});

test('stop', async () => {
  assert.strictEqual(await p.stop(), 0);
});

run();
