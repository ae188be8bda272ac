#!/usr/bin/env node
'use strict';
// 03-ws-interop: the `ws` npm client, as applications use it, against
// examples/ws-echo: text, binary, 1 MiB, fragmented sends, with and without
// permessage-deflate (several parameter sets), ping/pong, close codes and
// reasons, and 1009 for a message over --max-message.
//
//   node tests/js/03-ws-interop.js [--against-ref]

const assert = require('assert');
const crypto = require('crypto');
const { test, before, after } = require('node:test');
const WebSocket = require('ws');
const { targetKind, startEchoServer } = require('./lib/ws-target');
const { checkServerExit } = require('./lib/ws-checks');

const kind = targetKind();
const SMALL_MAX = 1024;
let server; // defaults
let small; // --max-message SMALL_MAX

before(async () => {
  server = await startEchoServer(kind);
  small = await startEchoServer(kind, { maxMessage: SMALL_MAX });
});

after(async () => {
  const problems = [];
  for (const s of [server, small]) if (s) problems.push(await checkServerExit(s));
  assert.deepStrictEqual(problems.filter(Boolean), []);
});

function open(url, opts = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...opts });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function nextMessage(ws, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no message in time')), timeoutMs);
    ws.once('message', (data, isBinary) => {
      clearTimeout(t);
      resolve({ data, isBinary });
    });
  });
}

function closed(ws, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('not closed in time')), timeoutMs);
    ws.once('close', (code, reason) => {
      clearTimeout(t);
      resolve({ code, reason: reason.toString() });
    });
  });
}

async function echo(ws, data, opts = {}) {
  const p = nextMessage(ws);
  ws.send(data, opts);
  const got = await p;
  const binary = opts.binary !== undefined ? opts.binary : !(typeof data === 'string');
  assert.strictEqual(got.isBinary, binary, 'echo keeps the opcode');
  assert.ok(Buffer.from(data).equals(got.data), `echo of ${Buffer.byteLength(data)} bytes is identical`);
}

async function closeNormally(ws) {
  const c = closed(ws);
  ws.close(1000);
  assert.strictEqual((await c).code, 1000);
}

const DEFLATE_VARIANTS = [
  ['no compression', false],
  ['permessage-deflate, defaults', { threshold: 0 }],
  ['permessage-deflate, no context takeover both ways', { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true }],
  ['permessage-deflate, window bits 10 (server) and 9 (client)', { threshold: 0, serverMaxWindowBits: 10, clientMaxWindowBits: 9 }],
];

for (const [name, pmd] of DEFLATE_VARIANTS) {
  test(`echo text, binary, empty and 1 MiB messages (${name})`, async () => {
    const ws = await open(server.url, { perMessageDeflate: pmd });
    if (pmd) assert.match(ws.extensions, /permessage-deflate/, 'server accepted permessage-deflate');
    else assert.strictEqual(ws.extensions, '');
    await echo(ws, 'hello, parley');
    await echo(ws, 'grüße, κόσμε, 💬');
    await echo(ws, '');
    await echo(ws, Buffer.alloc(0), { binary: true });
    await echo(ws, crypto.randomBytes(300), { binary: true });
    // Repeated messages exercise the compression window across messages.
    for (let i = 0; i < 50; i++) await echo(ws, `{"seq":${i},"text":"the same words again and again ${i % 7}"}`);
    await echo(ws, 'x'.repeat(1024 * 1024));
    await echo(ws, crypto.randomBytes(1024 * 1024), { binary: true });
    await closeNormally(ws);
  });

  test(`fragmented sends are echoed as one message (${name})`, async () => {
    const ws = await open(server.url, { perMessageDeflate: pmd });
    for (const binary of [false, true]) {
      const parts = ['first part, ', 'second, ', 'x'.repeat(70000), ', last'];
      const p = nextMessage(ws);
      parts.forEach((part, i) => ws.send(binary ? Buffer.from(part) : part, { binary, fin: i === parts.length - 1 }));
      const got = await p;
      assert.strictEqual(got.isBinary, binary);
      assert.strictEqual(got.data.toString(), parts.join(''));
    }
    await closeNormally(ws);
  });
}

test('ping is answered with a pong carrying the same payload', async () => {
  const ws = await open(server.url);
  for (const payload of [Buffer.alloc(0), Buffer.from('are you there?'), crypto.randomBytes(125)]) {
    const p = new Promise((resolve) => ws.once('pong', resolve));
    ws.ping(payload);
    assert.ok((await p).equals(payload));
  }
  await closeNormally(ws);
});

test('client close 1000 is answered with 1000', async () => {
  const ws = await open(server.url);
  await closeNormally(ws);
});

test('client close 4000 with a reason is answered with 4000', async () => {
  const ws = await open(server.url, { perMessageDeflate: { threshold: 0 } });
  await echo(ws, 'before closing');
  const c = closed(ws);
  ws.close(4000, 'done here');
  const got = await c;
  assert.strictEqual(got.code, 4000);
  // The RFC lets the answer carry any reason; we only show it.
  if (got.reason !== 'done here') console.log(`# close reason echoed as "${got.reason}"`);
});

for (const [name, pmd] of [
  ['uncompressed', false],
  ['compressed', { threshold: 0 }],
]) {
  test(`a message over --max-message gets close 1009 (${name})`, async () => {
    const ws = await open(small.url, { perMessageDeflate: pmd });
    await echo(ws, 'a'.repeat(SMALL_MAX)); // exactly the limit is fine
    const c = closed(ws);
    ws.on('error', () => {});
    ws.send('a'.repeat(SMALL_MAX + 1));
    assert.strictEqual((await c).code, 1009);
  });
}

test('a fragmented message growing over --max-message gets close 1009', async () => {
  const ws = await open(small.url);
  const c = closed(ws);
  ws.on('error', () => {});
  for (let i = 0; i < 4; i++) ws.send('b'.repeat(400), { fin: false });
  assert.strictEqual((await c).code, 1009);
});
