// 27-chat-limits: the limits of `parley serve` over real sockets with
// socket.io-client — sockets per user (default 10, --max-sockets-per-user),
// connection attempts per user (--connect-rate/--connect-burst), the
// per-socket event token bucket (--event-rate/--event-burst: rate_limited
// acks with retryAfterMs, the connection kept, service again after the
// wait), the disconnect after persistent abuse (more than 100 refusals in a
// minute) that leaves other users alone, unknown events and non-object
// payloads (bad_request), a message over --max-payload (that connection
// closed with 1009, the others unaffected), and /health, /ready, /metrics.
//
// Waiting for the server to notice a client's disconnect is done by reading
// parley_chat_disconnects_total until it moves: there is no event to await
// when the user still has other sockets online.
'use strict';
const assert = require('assert');
const { test, run } = require('./lib/harness');
const { startParley, request } = require('./lib/parley');

const ENV = { PARLEY_LOG_LEVEL: 'info', PARLEY_DEFAULT_CHANNELS: '' };
const MAX_PAYLOAD = 4096;
const EVENT_RATE = 5;
const EVENT_BURST = 10;
const MAX_REFUSALS = 100; // the default of --max-refusals, as PROTOCOL.md sets it

const CONFIGS = {
  // defaults, apart from a small Engine.IO maxPayload
  main: ['--max-payload', String(MAX_PAYLOAD)],
  two: ['--max-sockets-per-user', '2'],
  rate: ['--event-rate', String(EVENT_RATE), '--event-burst', String(EVENT_BURST)],
  connect: ['--connect-rate', '1', '--connect-burst', '2'],
};
const servers = {};

async function server(kind) {
  if (!servers[kind]) servers[kind] = await startParley({ env: ENV, args: CONFIGS[kind] });
  return servers[kind];
}

process.on('exit', () => {
  for (const p of Object.values(servers)) { try { process.kill(p.pid, 'SIGKILL'); } catch (e) { /* gone */ } }
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function metrics(p) {
  const res = await fetch(`${p.url}/metrics`);
  assert.strictEqual(res.status, 200);
  const text = await res.text();
  const values = {};
  for (const line of text.split('\n')) {
    const m = /^(parley_[a-z_]+) (\S+)$/.exec(line);
    if (m) values[m[1]] = Number(m[2]);
  }
  return { text, values, type: res.headers.get('content-type') };
}

// Resolves once metric `name` reaches at least `value` (the server has done
// the work we cannot observe as an event).
async function metricReaches(p, name, value, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { values } = await metrics(p);
    if (values[name] >= value) return values[name];
    if (Date.now() > deadline) throw new Error(`${name} stayed at ${values[name]}, expected >= ${value}`);
    await sleep(20);
  }
}

async function close(socket) {
  if (!socket.connected) return;
  const gone = new Promise((resolve) => socket.once('disconnect', resolve));
  socket.disconnect();
  await gone;
}

// Disconnects the socket and waits until the server has unlinked it.
async function closeAndSettle(p, socket) {
  const before = (await metrics(p)).values.parley_chat_disconnects_total;
  await close(socket);
  await metricReaches(p, 'parley_chat_disconnects_total', before + 1);
}

function ok(ack) {
  assert.strictEqual(ack.ok, true, `expected ok, got ${JSON.stringify(ack)}`);
  return ack;
}

function fails(ack, code, message) {
  assert.strictEqual(ack.ok, false, `expected ${code}, got ${JSON.stringify(ack)}`);
  assert.strictEqual(ack.error.code, code, JSON.stringify(ack));
  if (message instanceof RegExp) assert.match(ack.error.message, message);
  else if (message) assert.strictEqual(ack.error.message, message);
  return ack;
}

async function tooMany(p, auth) {
  const r = await p.refused(auth);
  assert.strictEqual(r.message, 'too_many_connections', JSON.stringify(r));
  assert.strictEqual(r.data.code, 'too_many_connections', JSON.stringify(r));
  assert.strictEqual(r.data.message, 'too many connections for this user');
}

const ping = (socket) => request(socket, 'presence:get', { users: [] });

// ---- sockets per user ----

test('at most 10 sockets per user: the 11th is refused, a closed one frees a place', async () => {
  const p = await server('main');
  const alice = [];
  for (let i = 0; i < 10; i++) alice.push((await p.connect({ user: 'alice', device: i % 2 ? 'mobile' : 'web' })).socket);
  await tooMany(p, { user: 'alice' });
  await tooMany(p, { user: 'alice', device: 'bot' }); // per user, not per device
  // Other users are not limited by alice's sockets.
  const bob = (await p.connect({ user: 'bob' })).socket;
  ok(await ping(bob));
  // The refusals cost alice's open sockets nothing.
  for (const s of alice) assert.ok(s.connected);
  ok(await ping(alice[9]));

  await closeAndSettle(p, alice.shift());
  alice.push((await p.connect({ user: 'alice' })).socket);
  await tooMany(p, { user: 'alice' });
  // All 10 work.
  for (const ack of await Promise.all(alice.map(ping))) ok(ack);
  for (const s of [...alice, bob]) await close(s);
});

test('10 simultaneous attempts beyond the limit: exactly 10 of 14 get in', async () => {
  const p = await server('main');
  const results = await Promise.allSettled(Array.from({ length: 14 }, () => p.connect({ user: 'carol' })));
  const inside = results.filter((r) => r.status === 'fulfilled').map((r) => r.value.socket);
  const refused = results.filter((r) => r.status === 'rejected').map((r) => r.reason);
  assert.strictEqual(inside.length, 10, refused.map((e) => e.message).join(', '));
  for (const e of refused) {
    assert.strictEqual(e.message, 'too_many_connections');
    assert.strictEqual(e.data.code, 'too_many_connections');
  }
  for (const s of inside) await close(s);
});

test('--max-sockets-per-user 2 is honoured', async () => {
  const p = await server('two');
  const a = (await p.connect({ user: 'dan' })).socket;
  const b = (await p.connect({ user: 'dan', device: 'mobile' })).socket;
  await tooMany(p, { user: 'dan', device: 'desktop' });
  const other = (await p.connect({ user: 'erin' })).socket;
  await closeAndSettle(p, a);
  const c = (await p.connect({ user: 'dan' })).socket;
  await tooMany(p, { user: 'dan' });
  for (const s of [b, c, other]) { ok(await ping(s)); await close(s); }
});

test('connection attempts per user: past the burst, rate_limited with retryAfterMs', async () => {
  const p = await server('connect'); // 1 attempt/s, burst 2
  const inside = [];
  let refusal = null;
  const started = Date.now();
  for (let i = 0; i < 10 && !refusal; i++) {
    try {
      inside.push((await p.connect({ user: 'frank' })).socket);
    } catch (e) {
      refusal = e;
    }
  }
  assert.ok(refusal, 'a refusal within 10 quick attempts');
  const elapsedS = (Date.now() - started) / 1000;
  assert.ok(inside.length >= 2 && inside.length <= 3 + Math.ceil(elapsedS), `${inside.length} got in in ${elapsedS} s`);
  assert.strictEqual(refusal.message, 'rate_limited');
  assert.strictEqual(refusal.data.code, 'rate_limited');
  assert.strictEqual(refusal.data.message, 'too many connection attempts for this user; retry later');
  assert.ok(Number.isInteger(refusal.data.retryAfterMs) && refusal.data.retryAfterMs > 0 && refusal.data.retryAfterMs <= 1000,
    JSON.stringify(refusal.data));
  // Another user has their own bucket.
  inside.push((await p.connect({ user: 'grace' })).socket);
  await sleep(refusal.data.retryAfterMs);
  inside.push((await p.connect({ user: 'frank' })).socket);
  for (const s of inside) await close(s);
});

// ---- the per-socket event rate ----

test('event rate: 30 at once on a 5/s burst-10 socket — rate_limited acks, connection kept, service after retryAfterMs', async () => {
  const p = await server('rate');
  const before = (await metrics(p)).values;
  const s1 = (await p.connect({ user: 'eve' })).socket;
  const s2 = (await p.connect({ user: 'eve', device: 'mobile' })).socket;
  const started = Date.now();
  const acks = await Promise.all(Array.from({ length: 30 }, () => ping(s1)));
  const refill = Math.floor(((Date.now() - started) / 1000) * EVENT_RATE);
  const passed = acks.filter((a) => a.ok);
  const limited = acks.filter((a) => !a.ok);
  // The burst, plus whatever the bucket refilled while the 30 were read.
  assert.ok(passed.length >= EVENT_BURST && passed.length <= EVENT_BURST + refill + 1, `${passed.length} passed`);
  assert.strictEqual(passed.length + limited.length, 30);
  let retry = 0;
  for (const a of limited) {
    fails(a, 'rate_limited', `too many events: at most ${EVENT_RATE}/s (burst ${EVENT_BURST})`);
    assert.deepStrictEqual(Object.keys(a.error).sort(), ['code', 'message', 'retryAfterMs']);
    assert.ok(Number.isInteger(a.error.retryAfterMs), JSON.stringify(a));
    assert.ok(a.error.retryAfterMs > 0 && a.error.retryAfterMs <= 1000 / EVENT_RATE, JSON.stringify(a));
    retry = Math.max(retry, a.error.retryAfterMs);
  }
  // The bucket is the socket's: eve's other socket is served at once.
  ok(await ping(s2));
  assert.ok(s1.connected);
  await sleep(retry);
  ok(await ping(s1));
  const after = (await metrics(p)).values;
  assert.strictEqual(after.parley_rate_limited_total - before.parley_rate_limited_total, limited.length);
  assert.ok(after.parley_errors_total - before.parley_errors_total >= limited.length);
  await close(s1);
  await close(s2);
});

test('persistent abuse: the refusal past 100 in a minute disconnects that socket only', async () => {
  const p = await server('rate');
  const eve = (await p.connect({ user: 'eve' })).socket;
  const mal = (await p.connect({ user: 'mallory' })).socket;
  const mal2 = (await p.connect({ user: 'mallory', device: 'mobile' })).socket;
  const before = (await metrics(p)).values;
  const disconnected = new Promise((resolve) => mal.once('disconnect', resolve));
  let passed = 0, limited = 0, other = 0;
  for (let i = 0; i < 150; i++) {
    mal.emit('presence:get', { users: [] }, (a) => {
      if (a && a.ok) passed++;
      else if (a && a.error && a.error.code === 'rate_limited') limited++;
      else other++;
    });
  }
  const reason = await disconnected;
  assert.strictEqual(reason, 'io server disconnect');
  assert.strictEqual(other, 0);
  assert.ok(passed >= EVENT_BURST, `${passed} passed`);
  // Refusals 1..100 are answered; the 101st is the disconnect.
  assert.strictEqual(limited, MAX_REFUSALS, `${passed} passed, ${limited} refused before the disconnect`);
  // The rest of the user is unharmed, and so is everyone else.
  ok(await ping(eve));
  ok(await ping(mal2));
  assert.ok(eve.connected && mal2.connected);
  const after = (await metrics(p)).values;
  assert.strictEqual(after.parley_rate_limited_total - before.parley_rate_limited_total, MAX_REFUSALS + 1);
  const line = p.stderr().split('\n').find((l) => l.includes('"event":"abuse_disconnect"'));
  assert.ok(line && line.includes('mallory'), p.stderr().slice(-2000));
  await close(eve);
  await close(mal2);
});

// ---- bad events ----

test('an unknown event gets bad_request naming it; the connection stays', async () => {
  const p = await server('main');
  const s = (await p.connect({ user: 'henry' })).socket;
  fails(await request(s, 'no:such:event', {}), 'bad_request', 'unknown event "no:such:event"');
  fails(await request(s, 'Message:Send', { channel: 'general', text: 'x' }), 'bad_request', 'unknown event "Message:Send"');
  fails(await request(s, 'message:send ', {}), 'bad_request', 'unknown event "message:send "');
  const long = 'e'.repeat(2000);
  fails(await request(s, long, {}), 'bad_request', /^unknown event "eeee/);
  assert.ok(s.connected);
  ok(await ping(s));
  await close(s);
});

test('a payload that is not an object gets bad_request naming the event', async () => {
  const p = await server('main');
  const s = (await p.connect({ user: 'ivan' })).socket;
  for (const bad of [5, 'users', [1, 2], ['alice'], true, null, 0.5])
    fails(await request(s, 'presence:get', bad), 'bad_request', 'presence:get: the payload must be an object');
  fails(await request(s, 'channel:create', 'general'), 'bad_request', 'channel:create: the payload must be an object');
  assert.ok(s.connected);
  ok(await ping(s));
  await close(s);
});

test('a message over --max-payload closes that connection (1009); the others go on', async () => {
  const p = await server('main');
  const big = (await p.connect({ user: 'judy' })).socket;
  const bystander = (await p.connect({ user: 'ken' })).socket;
  const same = (await p.connect({ user: 'judy', device: 'mobile' })).socket;
  // Just under the limit is fine.
  const nearly = await request(big, 'presence:get', { users: ['x'.repeat(MAX_PAYLOAD - 200)] });
  assert.ok(nearly && typeof nearly.ok === 'boolean', JSON.stringify(nearly).slice(0, 200));
  assert.ok(big.connected);

  const ws = big.io.engine.transport.ws;
  assert.ok(ws && typeof ws.on === 'function', 'the websocket transport is reachable');
  const wsClosed = new Promise((resolve) => ws.on('close', (code, why) => resolve({ code, why: String(why) })));
  const gone = new Promise((resolve) => big.once('disconnect', resolve));
  let answered = false;
  big.emit('presence:get', { users: ['x'.repeat(MAX_PAYLOAD * 3)] }, () => { answered = true; });
  const closed = await wsClosed;
  assert.strictEqual(closed.code, 1009, JSON.stringify(closed));
  assert.strictEqual(await gone, 'transport close');
  assert.strictEqual(answered, false);
  for (const s of [bystander, same]) { ok(await ping(s)); assert.ok(s.connected); }
  await close(bystander);
  await close(same);
});

// ---- health, readiness, metrics ----

test('/health, /ready and /metrics answer', async () => {
  const p = await server('main');
  const socks = [];
  for (const u of ['lena', 'mike', 'nora']) socks.push((await p.connect({ user: u })).socket);

  const h = await fetch(`${p.url}/health`);
  assert.strictEqual(h.status, 200);
  assert.match(h.headers.get('content-type'), /^application\/json/);
  const health = await h.json();
  assert.strictEqual(health.status, 'ok');
  assert.strictEqual(typeof health.version, 'string');
  assert.ok(Number.isInteger(health.uptime_s) && health.uptime_s >= 0);
  assert.ok(health.connections >= socks.length, JSON.stringify(health));
  assert.strictEqual((await fetch(`${p.url}/health`, { method: 'POST' })).status, 405);

  // Byte-exact: the body is the JSON text and nothing after it.
  const r = await fetch(`${p.url}/ready`);
  assert.strictEqual(r.status, 200);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  const ready = Buffer.from(await r.arrayBuffer());
  assert.strictEqual(JSON.stringify(ready.toString('latin1')), JSON.stringify('{"status":"ready","store":"ok"}'),
    `/ready body (Content-Length ${r.headers.get('content-length')})`);

  const m = await metrics(p);
  assert.match(m.type, /^text\/plain/);
  for (const name of ['connections', 'rate_limited_total', 'chat_refused_total', 'events_in_total', 'errors_total']) {
    assert.ok(Number.isFinite(m.values[`parley_${name}`]), `parley_${name} in\n${m.text}`);
    assert.match(m.text, new RegExp(`^# TYPE parley_${name} (gauge|counter)$`, 'm'));
  }
  assert.match(m.text, /^# TYPE parley_connections gauge$/m);
  assert.match(m.text, /^# TYPE parley_rate_limited_total counter$/m);
  assert.ok(m.values.parley_connections >= socks.length, m.text);
  // A refused sign-in is counted.
  await p.refused({ user: 'Not Valid' });
  assert.strictEqual((await metrics(p)).values.parley_chat_refused_total, m.values.parley_chat_refused_total + 1);
  const open = m.values.parley_connections;
  for (const s of socks) await close(s);
  // TCP connections close after the sockets do: the gauge goes down.
  const deadline = Date.now() + 5000;
  let now = open;
  while (now > open - socks.length && Date.now() < deadline) {
    await sleep(20);
    now = (await metrics(p)).values.parley_connections;
  }
  assert.ok(now <= open - socks.length, `parley_connections ${open} -> ${now}`);
});

test('servers exit cleanly', async () => {
  for (const [kind, p] of Object.entries(servers)) {
    assert.strictEqual(await p.stop(), 0, `${kind}: ${p.stderr().split('\n').slice(-10).join('\n')}`);
    delete servers[kind];
  }
});

run();
