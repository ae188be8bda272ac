// 25-chat-voice: voice:join, voice:update, voice:leave and rtc:signal
// against the real `parley serve` — the voice:state broadcasts to the
// channel's members (never to the requesting socket), one voice channel per
// user, leaving on the last socket's disconnect and on channel:leave,
// signalling relayed only between participants of the same channel, and
// every bad input with its precise error and no effect.
//
// The server runs with PARLEY_DEFAULT_CHANNELS='' and each test makes its
// own channels, so no test sees another's events. "Nothing was sent" is
// checked without sleeps: a round trip on the sending socket, then one on
// each receiving socket, flushes whatever was queued before.
'use strict';
const assert = require('assert');
const { test, run } = require('./lib/harness');
const { startParley, request } = require('./lib/parley');

const ENV = { PARLEY_LOG_LEVEL: 'info', PARLEY_DEFAULT_CHANNELS: '' };

let p;
let stopped = false;

async function as(user, device) {
  if (!p) p = await startParley({ env: ENV });
  const auth = { user, name: user.toUpperCase() };
  if (device) auth.device = device;
  const { socket, ready } = await p.connect(auth);
  socket.events = [];
  socket.onAny((event, ...args) => socket.events.push({ event, payload: args[0] }));
  return { socket, ready, user };
}

function ok(ack) {
  assert.strictEqual(ack.ok, true, `expected ok, got ${JSON.stringify(ack)}`);
  return ack;
}

function fails(ack, code, field) {
  assert.strictEqual(ack.ok, false, `expected ${code}, got ${JSON.stringify(ack)}`);
  assert.strictEqual(ack.error.code, code, JSON.stringify(ack));
  if (field) assert.ok(ack.error.message.includes(field), `message names ${field}: ${ack.error.message}`);
}

async function flush(...socks) {
  for (const s of socks) ok(await request(s.socket, 'presence:get', { users: [] }));
}

function take(s, event) {
  const got = s.socket.events.filter((e) => e.event === event);
  s.socket.events = s.socket.events.filter((e) => e.event !== event);
  return got.map((e) => e.payload);
}

async function expectEvent(s, event, pred = () => true, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const i = s.socket.events.findIndex((e) => e.event === event && pred(e.payload));
    if (i >= 0) return s.socket.events.splice(i, 1)[0].payload;
    const left = deadline - Date.now();
    if (left <= 0 || !s.socket.connected) throw new Error(`${s.user}: no ${event} within ${timeoutMs} ms`);
    await new Promise((resolve) => {
      const done = () => { clearTimeout(t); s.socket.offAny(done); s.socket.off('disconnect', done); resolve(); };
      const t = setTimeout(done, left);
      s.socket.onAny(done);
      s.socket.on('disconnect', done);
    });
  }
}

async function disconnect(s) {
  const gone = new Promise((resolve) => s.socket.once('disconnect', resolve));
  s.socket.disconnect();
  await gone;
}

let nextId = 0;
function uid(base) {
  nextId++;
  return `${base}${nextId}`;
}

async function channelWith(owner, ...others) {
  const id = uid('vc');
  ok(await request(owner.socket, 'channel:create', { id, kind: 'public' }));
  for (const o of others) ok(await request(o.socket, 'channel:join', { channel: id }));
  await flush(owner, ...others);
  for (const s of [owner, ...others]) s.socket.events = [];
  return id;
}

function state(channel, user, joined, muted = false, deafened = false, speaking = false) {
  return { channel, user, joined, muted, deafened, speaking };
}

function part(user, muted = false, deafened = false, speaking = false) {
  return { user, muted, deafened, speaking };
}

// Flushes the sockets and forgets what they received so far.
async function quiet(...socks) {
  await flush(...socks);
  for (const s of socks) s.socket.events = [];
}

// Nothing of these events reached any of the sockets (after flushing).
async function nothing(socks, ...events) {
  await flush(...socks);
  for (const s of socks) for (const e of events) assert.deepStrictEqual(take(s, e), [], `${s.user} got no ${e}`);
}

test('voice:join, voice:update, voice:leave: acks with the participants, voice:state to the members', async () => {
  const alice = await as(uid('alice'));
  const alice2 = await as(alice.user, 'mobile');
  const bob = await as(uid('bob'));
  const zoe = await as(uid('zoe'));
  const ch = await channelWith(alice, bob);
  await channelWith(zoe);

  const j = ok(await request(alice.socket, 'voice:join', { channel: ch }));
  assert.deepStrictEqual(j, { ok: true, participants: [part(alice.user)] });
  assert.deepStrictEqual(await expectEvent(bob, 'voice:state'), state(ch, alice.user, true));
  assert.deepStrictEqual(await expectEvent(alice2, 'voice:state'), state(ch, alice.user, true), "the joiner's other socket");
  await nothing([alice, zoe], 'voice:state');

  const bj = ok(await request(bob.socket, 'voice:join', { channel: ch, muted: true }));
  assert.deepStrictEqual(bj.participants, [part(alice.user), part(bob.user, true)]);
  assert.deepStrictEqual(await expectEvent(alice, 'voice:state'), state(ch, bob.user, true, true));

  const u = ok(await request(alice.socket, 'voice:update', { speaking: true }));
  assert.deepStrictEqual(u.participants, [part(alice.user, false, false, true), part(bob.user, true)]);
  assert.deepStrictEqual(await expectEvent(bob, 'voice:state'), state(ch, alice.user, true, false, false, true));
  ok(await request(bob.socket, 'voice:update', { muted: false, deafened: true }));
  assert.deepStrictEqual(await expectEvent(alice, 'voice:state'), state(ch, bob.user, true, false, true));

  // an update that changes nothing is answered but not broadcast
  await quiet(alice, alice2, bob, zoe);
  const same = ok(await request(alice.socket, 'voice:update', { speaking: true }));
  assert.deepStrictEqual(same.participants, [part(alice.user, false, false, true), part(bob.user, false, true)]);
  ok(await request(alice.socket, 'voice:update', {}));
  await nothing([bob, alice2, zoe], 'voice:state');

  const l = ok(await request(bob.socket, 'voice:leave', {}));
  assert.deepStrictEqual(l, { ok: true, participants: [part(alice.user, false, false, true)] });
  assert.deepStrictEqual(await expectEvent(alice, 'voice:state'), state(ch, bob.user, false));
  // leaving again is harmless: nobody is told anything
  assert.deepStrictEqual(ok(await request(bob.socket, 'voice:leave', {})), { ok: true, participants: [] });
  await nothing([alice, zoe], 'voice:state');
  for (const s of [alice, alice2, bob, zoe]) await disconnect(s);
});

test('one voice channel at a time: joining another leaves the first; rejoining keeps the flags', async () => {
  const alice = await as(uid('alice'));
  const bob = await as(uid('bob'));
  const ch1 = await channelWith(alice, bob);
  const ch2 = await channelWith(alice, bob);
  ok(await request(alice.socket, 'voice:join', { channel: ch1, muted: true }));
  assert.deepStrictEqual(await expectEvent(bob, 'voice:state'), state(ch1, alice.user, true, true));
  const j2 = ok(await request(alice.socket, 'voice:join', { channel: ch2 }));
  assert.deepStrictEqual(j2.participants, [part(alice.user)], 'a join into another channel starts unmuted');
  assert.deepStrictEqual(await expectEvent(bob, 'voice:state'), state(ch1, alice.user, false));
  assert.deepStrictEqual(await expectEvent(bob, 'voice:state'), state(ch2, alice.user, true));
  // bob in ch1 sees nobody there any more
  assert.deepStrictEqual(ok(await request(bob.socket, 'voice:join', { channel: ch1 })).participants, [part(bob.user)]);
  // joining the channel one is in again: flags not given are kept
  ok(await request(alice.socket, 'voice:update', { deafened: true, speaking: true }));
  const again = ok(await request(alice.socket, 'voice:join', { channel: ch2, muted: true }));
  assert.deepStrictEqual(again.participants, [part(alice.user, true, true, true)]);
  await flush(bob);
  assert.deepStrictEqual(take(bob, 'voice:state').pop(), state(ch2, alice.user, true, true, true, true));
  for (const s of [alice, bob]) await disconnect(s);
});

test("voice: the user's last socket closing leaves; so does leaving the channel", async () => {
  const alice = await as(uid('alice'));
  const bob = await as(uid('bob'));
  const bob2 = await as(bob.user, 'desktop');
  const carol = await as(uid('carol'));
  const ch = await channelWith(alice, bob, carol);
  ok(await request(bob.socket, 'voice:join', { channel: ch }));
  ok(await request(alice.socket, 'voice:join', { channel: ch }));
  await expectEvent(alice, 'voice:state', (e) => e.user === bob.user);
  await quiet(alice, bob, bob2, carol);
  await disconnect(bob);
  await nothing([bob2, alice], 'voice:state'); // bob2 still holds the session
  assert.deepStrictEqual(ok(await request(alice.socket, 'voice:update', {})).participants,
    [part(alice.user), part(bob.user)]);
  await disconnect(bob2);
  assert.deepStrictEqual(await expectEvent(alice, 'voice:state'), state(ch, bob.user, false));
  assert.deepStrictEqual(ok(await request(alice.socket, 'voice:update', {})).participants, [part(alice.user)]);

  // carol joins, then leaves the channel itself: she is out of its voice too
  ok(await request(carol.socket, 'voice:join', { channel: ch }));
  await expectEvent(alice, 'voice:state', (e) => e.user === carol.user && e.joined);
  ok(await request(carol.socket, 'channel:leave', { channel: ch }));
  assert.deepStrictEqual(ok(await request(alice.socket, 'voice:update', {})).participants, [part(alice.user)]);
  assert.deepStrictEqual(await expectEvent(alice, 'voice:state', (e) => e.user === carol.user), state(ch, carol.user, false));
  fails(await request(carol.socket, 'voice:update', { muted: true }), 'conflict', 'voice');
  fails(await request(alice.socket, 'rtc:signal', { to: carol.user, type: 'offer', data: {} }), 'forbidden', carol.user);
  for (const s of [alice, carol]) await disconnect(s);
});

test('rtc:signal: relayed to every socket of the peer, only within the same voice channel', async () => {
  const alice = await as(uid('alice'));
  const bob = await as(uid('bob'));
  const bob2 = await as(bob.user, 'mobile');
  const carol = await as(uid('carol'));
  const ch = await channelWith(alice, bob, carol);
  const other = await channelWith(carol, bob);
  ok(await request(alice.socket, 'voice:join', { channel: ch }));
  ok(await request(bob.socket, 'voice:join', { channel: ch }));

  const data = { sdp: 'v=0\r\no=- 46117317 2 IN IP4 127.0.0.1\r\n', nested: [1, { x: null }], text: 'ünï' };
  assert.deepStrictEqual(await request(alice.socket, 'rtc:signal', { to: bob.user, type: 'offer', data }), { ok: true });
  for (const s of [bob, bob2]) {
    assert.deepStrictEqual(await expectEvent(s, 'rtc:signal'), { from: alice.user, type: 'offer', data });
  }
  ok(await request(bob2.socket, 'rtc:signal', { to: alice.user, type: 'answer', data: 'a string is JSON too' }));
  assert.deepStrictEqual(await expectEvent(alice, 'rtc:signal'), { from: bob.user, type: 'answer', data: 'a string is JSON too' });
  for (const type of ['candidate', 'bye']) {
    ok(await request(alice.socket, 'rtc:signal', { to: bob.user, type, data: type === 'bye' ? undefined : { c: 1 } }));
    const got = await expectEvent(bob, 'rtc:signal');
    assert.deepStrictEqual(got, { from: alice.user, type, data: type === 'bye' ? null : { c: 1 } });
  }
  await nothing([carol], 'rtc:signal');
  await quiet(alice, bob, bob2, carol);

  // carol is in no voice channel, then in another one
  fails(await request(alice.socket, 'rtc:signal', { to: carol.user, type: 'offer', data: {} }), 'forbidden', carol.user);
  fails(await request(carol.socket, 'rtc:signal', { to: alice.user, type: 'offer', data: {} }), 'forbidden', 'voice');
  ok(await request(carol.socket, 'voice:join', { channel: other }));
  fails(await request(carol.socket, 'rtc:signal', { to: alice.user, type: 'offer', data: {} }), 'forbidden', alice.user);
  fails(await request(alice.socket, 'rtc:signal', { to: 'nobody-here', type: 'offer', data: {} }), 'forbidden', 'nobody-here');
  // bob moves to carol's channel: now they may talk, and alice may not reach bob
  ok(await request(bob.socket, 'voice:join', { channel: other }));
  ok(await request(carol.socket, 'rtc:signal', { to: bob.user, type: 'offer', data: 1 }));
  for (const s of [bob, bob2]) assert.deepStrictEqual(await expectEvent(s, 'rtc:signal'), { from: carol.user, type: 'offer', data: 1 });
  fails(await request(alice.socket, 'rtc:signal', { to: bob.user, type: 'offer', data: {} }), 'forbidden', bob.user);
  await nothing([alice, bob, bob2, carol], 'rtc:signal');
  for (const s of [alice, bob, bob2, carol]) await disconnect(s);
});

test('voice and rtc:signal: bad input is refused precisely and changes nothing', async () => {
  const alice = await as(uid('alice'));
  const bob = await as(uid('bob'));
  const zoe = await as(uid('zoe'));
  const ch = await channelWith(alice, bob);
  const zch = await channelWith(zoe);
  const cases = [
    [{}, 'bad_request', 'channel'],
    [{ channel: 5 }, 'bad_request', 'channel'],
    [{ channel: '' }, 'bad_request', 'channel'],
    [{ channel: 'Bad!' }, 'bad_request', 'channel'],
    [{ channel: 'a'.repeat(65) }, 'bad_request', 'channel'],
    [{ channel: 'dm:x' }, 'bad_request', 'channel'],
    [{ channel: 'no-such-channel' }, 'not_found', 'no-such-channel'],
    [{ channel: zch }, 'forbidden', zch],
    [{ channel: ch, muted: 'yes' }, 'bad_request', 'muted'],
    [{ channel: ch, deafened: 1 }, 'bad_request', 'deafened'],
  ];
  for (const [payload, code, field] of cases) fails(await request(alice.socket, 'voice:join', payload), code, field);
  fails(await request(alice.socket, 'voice:join', 'general'), 'bad_request', 'payload');
  // not in a voice channel yet
  fails(await request(alice.socket, 'voice:update', { muted: true }), 'conflict', 'voice');
  ok(await request(alice.socket, 'voice:join', { channel: ch }));
  await expectEvent(bob, 'voice:state');
  for (const [payload, field] of [[{ muted: 'no' }, 'muted'], [{ deafened: 0 }, 'deafened'], [{ speaking: [] }, 'speaking'],
    [{ muted: true, speaking: 'x' }, 'speaking']]) {
    fails(await request(alice.socket, 'voice:update', payload), 'bad_request', field);
  }
  ok(await request(bob.socket, 'voice:join', { channel: ch }));
  await expectEvent(alice, 'voice:state');

  const big = 'x'.repeat(16 * 1024);
  const signals = [
    [{ type: 'offer', data: {} }, 'bad_request', 'to'],
    [{ to: 5, type: 'offer', data: {} }, 'bad_request', 'to'],
    [{ to: 'Bad!', type: 'offer', data: {} }, 'bad_request', 'to'],
    [{ to: '', type: 'offer', data: {} }, 'bad_request', 'to'],
    [{ to: alice.user, type: 'offer', data: {} }, 'bad_request', 'to'],
    [{ to: bob.user, data: {} }, 'bad_request', 'type'],
    [{ to: bob.user, type: 'hello', data: {} }, 'bad_request', 'type'],
    [{ to: bob.user, type: 'Offer', data: {} }, 'bad_request', 'type'],
    [{ to: bob.user, type: 7, data: {} }, 'bad_request', 'type'],
    [{ to: bob.user, type: 'offer', data: big }, 'too_large', 'data'],
    [{ to: bob.user, type: 'offer', data: { sdp: big } }, 'too_large', 'data'],
  ];
  for (const [payload, code, field] of signals) fails(await request(alice.socket, 'rtc:signal', payload), code, field);
  // just under the cap passes: 16384 bytes of JSON
  ok(await request(alice.socket, 'rtc:signal', { to: bob.user, type: 'candidate', data: big.slice(2) }));
  assert.strictEqual((await expectEvent(bob, 'rtc:signal')).data.length, 16 * 1024 - 2);

  await nothing([alice, bob, zoe], 'voice:state', 'rtc:signal');
  // the state is what it was
  assert.deepStrictEqual(ok(await request(bob.socket, 'voice:update', {})).participants, [part(alice.user), part(bob.user)]);
  assert.ok(alice.socket.connected && bob.socket.connected && zoe.socket.connected);
  for (const s of [alice, bob, zoe]) await disconnect(s);
});

test('the server exits cleanly (no sanitizer report)', async () => {
  if (!p) return;
  const code = await p.stop();
  stopped = true;
  assert.strictEqual(code, 0, 'exit 0:\n' + p.stderr().slice(-3000));
});

// With TEST_ONLY the stop above may not run: never leave the server behind.
process.on('exit', () => {
  if (p && !stopped) try { process.kill(p.pid, 'SIGKILL'); } catch (e) { /* already gone */ }
});

run();
