#!/usr/bin/env node
'use strict';
// 04-ws-limits: examples/ws-echo started with small limits, driven by our
// raw client: too many fragments (1009), messages over --max-message
// (1009, also from a frame header alone), a decompression bomb (1009 with
// the server's memory not following the inflated size), the idle timeout,
// and the Origin allowlist (403 / 101).
//
//   node tests/js/04-ws-limits.js [--against-ref]
//
// Against the `ws` reference server the fragment-count test is skipped: `ws`
// has no such limit.

const assert = require('assert');
const zlib = require('zlib');
const { test, before, after } = require('node:test');
const { RawWs, OP, repeatTo } = require('./lib/rawws');
const { memoryOf } = require('./lib/proc');
const { targetKind, startEchoServer } = require('./lib/ws-target');
const { checkServerExit } = require('./lib/ws-checks');

const kind = targetKind();
const MAX_MESSAGE = 65536;
const MAX_FRAGMENTS = 16;
const IDLE_MS = 400;
const DEADLINE = 3000;
const servers = {};

before(async () => {
  servers.limits = await startEchoServer(kind, { maxMessage: MAX_MESSAGE, maxFragments: MAX_FRAGMENTS });
  servers.idle = await startEchoServer(kind, { idleTimeoutMs: IDLE_MS });
  servers.origin = await startEchoServer(kind, { allowedOrigins: ['https://good.example'] });
});

after(async () => {
  const problems = [];
  for (const s of Object.values(servers)) problems.push(await checkServerExit(s));
  assert.deepStrictEqual(problems.filter(Boolean), []);
});

async function connect(server, opts = {}) {
  const c = await RawWs.connect({ port: server.port, ...opts });
  assert.strictEqual(c.status, 101, `handshake: ${c.statusLine}`);
  assert.strictEqual(c.handshakeError, null);
  return c;
}

// The server's close frame (waiting for it), and TCP closed after it.
// code: the expected close code, or an array of acceptable ones.
async function expectClose(c, code, what) {
  const codes = [].concat(code);
  const ev = await c.waitFor((e) => e.type === 'close', DEADLINE, { since: 0 });
  assert.ok(ev, `${what}: expected close ${codes.join('/')}, got no close frame${c.tcpClosed ? ' (TCP closed)' : ' in time'}`);
  assert.ok(codes.includes(ev.code), `${what}: expected close ${codes.join('/')}, got ${ev.code} "${ev.reason}"`);
  assert.ok(await c.waitClosed(DEADLINE), `${what}: server closed TCP after the close handshake`);
  assert.deepStrictEqual(c.violations, []);
}

async function expectEcho(c, data, binary = false) {
  const n = c.events.length;
  await c.sendMessage(data, { binary });
  const ev = await c.waitFor((e) => e.type === 'message', DEADLINE, { since: n });
  assert.ok(ev, 'echo arrived');
  assert.ok(ev.data.equals(Buffer.from(data)), 'echo is identical');
}

function fragmentsOf(payload, n) {
  const size = Math.ceil(payload.length / n);
  const frames = [];
  for (let i = 0; i < n; i++) {
    frames.push({ opcode: i === 0 ? OP.TEXT : OP.CONT, fin: i === n - 1, payload: payload.subarray(i * size, (i + 1) * size) });
  }
  return frames;
}

test(`a message in ${MAX_FRAGMENTS} fragments is echoed; one more fragment gets close 1009`, { skip: kind === 'ref' && '`ws` has no fragment limit' }, async () => {
  const c = await connect(servers.limits);
  const p = Buffer.from('x'.repeat(MAX_FRAGMENTS * 4));
  await c.write(Buffer.concat(fragmentsOf(p, MAX_FRAGMENTS).map((f) => c.frame(f))));
  const ev = await c.waitFor((e) => e.type === 'message', DEADLINE, { since: 0 });
  assert.ok(ev && ev.data.equals(p), `${MAX_FRAGMENTS} fragments echoed`);
  await c.write(Buffer.concat(fragmentsOf(p, MAX_FRAGMENTS + 1).map((f) => c.frame(f))));
  await expectClose(c, 1009, `${MAX_FRAGMENTS + 1} fragments`);
});

test('thousands of empty fragments get close 1009, before the message ends', { skip: kind === 'ref' && '`ws` has no fragment limit' }, async () => {
  const c = await connect(servers.limits);
  const frames = [c.frame({ opcode: OP.TEXT, fin: false, payload: 'a' })];
  for (let i = 0; i < 5000; i++) frames.push(c.frame({ opcode: OP.CONT, fin: false }));
  await c.write(Buffer.concat(frames));
  // No final fragment: the close must come from the count alone.
  await expectClose(c, 1009, '5001 fragments');
});

test(`a message of exactly --max-message (${MAX_MESSAGE}) is echoed; one byte more gets close 1009`, async () => {
  const c = await connect(servers.limits);
  await expectEcho(c, repeatTo('m', MAX_MESSAGE));
  await c.sendMessage(repeatTo('m', MAX_MESSAGE + 1));
  await expectClose(c, 1009, 'max-message + 1');
});

test('a fragmented message growing past --max-message gets close 1009', async () => {
  const c = await connect(servers.limits);
  const part = repeatTo(Buffer.from([1, 2, 3]), MAX_MESSAGE / 2);
  await c.sendFrame({ opcode: OP.BINARY, fin: false, payload: part });
  await c.sendFrame({ opcode: OP.CONT, fin: false, payload: part });
  await c.sendFrame({ opcode: OP.CONT, fin: false, payload: Buffer.from([9]) });
  await expectClose(c, 1009, 'fragments past max-message');
});

test('a frame header announcing 1 GiB gets close 1009 at once, without the payload', async () => {
  const c = await connect(servers.limits);
  const head = Buffer.alloc(14);
  head[0] = 0x82;
  head[1] = 0x80 | 127;
  head.writeBigUInt64BE(1n << 30n, 2);
  await c.write(head); // mask key is zeros; no payload follows
  await expectClose(c, 1009, '1 GiB header');
});

test('a decompression bomb gets close 1009 and the server does not inflate it all', async () => {
  // 64 MiB of zeros deflate to about 62 KiB: under --max-message as sent,
  // a thousand times over it inflated.
  const bombSize = 64 * 1024 * 1024;
  const z = zlib.deflateRawSync(Buffer.alloc(bombSize), { level: 9, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const payload = z.subarray(0, z.length - 4); // strip the 00 00 ff ff tail
  assert.ok(payload.length < MAX_MESSAGE, `bomb is ${payload.length} bytes compressed`);
  const c = await connect(servers.limits, { deflate: [{ clientMaxWindowBits: true }] });
  assert.ok(c.codec, 'server accepted permessage-deflate');
  await expectEcho(c, 'a small compressed message first');
  const before = memoryOf(servers.limits.pid);
  await c.sendFrame({ opcode: OP.BINARY, rsv: 4, payload });
  // `ws` resets its inflater mid-stream when the limit is hit, and the
  // rest of the input then fails as corrupt data: 1007. Ours must say 1009.
  await expectClose(c, kind === 'ref' ? [1009, 1007] : 1009, 'decompression bomb');
  const afterMem = memoryOf(servers.limits.pid);
  const grew = afterMem.hwm - before.rss;
  assert.ok(grew < 32 * 1024 * 1024, `server peak RSS grew by ${(grew / 1048576).toFixed(1)} MiB for a ${bombSize / 1048576} MiB bomb`);
});

test(`an idle connection is closed with 1001 after --idle-timeout-ms (${IDLE_MS})`, async () => {
  // A client that does not even answer pings (a server may ping to tell
  // an idle client from a dead one).
  const c = await connect(servers.idle, { autoPong: false });
  const t0 = Date.now();
  const ev = await c.waitFor((e) => e.type === 'close', IDLE_MS + DEADLINE, { since: 0 });
  const ms = Date.now() - t0;
  assert.ok(ev, `closed within ${IDLE_MS + DEADLINE} ms`);
  assert.ok(ms >= IDLE_MS * 0.9, `not before the timeout (closed after ${ms} ms)`);
  assert.strictEqual(ev.code, 1001, `close code 1001 (going away), got ${ev.code} "${ev.reason}"`);
  assert.ok(await c.waitClosed(DEADLINE), 'TCP closed after the close handshake');
  assert.deepStrictEqual(c.violations, []);
});

test('a silent client that answers the server\'s pings is kept', { skip: kind === 'ref' && 'the reference server sends no keepalive pings' }, async () => {
  const c = await connect(servers.idle);
  assert.ok(!(await c.waitClosed(IDLE_MS * 3)), 'open after three timeouts');
  assert.strictEqual(c.closeReceived, null);
  assert.ok(c.events.some((e) => e.type === 'ping'), 'the server pinged');
  await c.sendClose(1000);
  await expectClose(c, 1000, 'normal close');
});

test('a connection that keeps talking is not closed by the idle timeout', async () => {
  const c = await connect(servers.idle);
  // Three timeouts' worth of traffic, one message every third of a timeout.
  for (let i = 0; i < 9; i++) {
    await expectEcho(c, `still here ${i}`);
    assert.ok(!(await c.waitClosed(IDLE_MS / 3)), `open after ${i + 1} messages`);
  }
  assert.strictEqual(c.closeReceived, null);
  await c.sendClose(1000);
  await expectClose(c, 1000, 'normal close');
});

test('a handshake from a disallowed Origin is refused with 403', async () => {
  const c = await RawWs.connect({ port: servers.origin.port, origin: 'https://evil.example' });
  assert.strictEqual(c.status, 403, `got "${c.statusLine}"`);
});

test('a handshake from the allowed Origin is accepted and echoes', async () => {
  const c = await connect(servers.origin, { origin: 'https://good.example' });
  await expectEcho(c, 'hello from a good origin');
  await c.sendClose(1000);
  await expectClose(c, 1000, 'normal close');
});

test('a handshake without Origin (not a browser) is reported', async () => {
  const c = await RawWs.connect({ port: servers.origin.port });
  // The contract does not say; non-browser clients send no Origin.
  console.log(`# handshake without Origin under --allowed-origins: ${c.statusLine}`);
  if (c.status === 101) c.destroy();
});
