// 24-chat-typing-presence: the ephemeral part of the chat against the real
// `parley serve` — typing:start/stop (to the others in the channel only,
// the 3 s rebroadcast throttle, the 10 s expiry, the end on a message and
// on the last socket closing, invalid input dropped silently) and presence
// (online at connect to channel-sharers only, presence:set with several
// devices and invisible, presence:get, the 5 s grace after the last socket,
// bad input).
//
// The server runs with PARLEY_DEFAULT_CHANNELS='' so that nobody shares a
// channel unless a test makes them: strangers must see nothing.
//
// "Nothing was sent" is checked without sleeps: a round trip on the sending
// socket proves the server handled what it sent before, and a round trip on
// the receiving socket then proves anything queued for it has arrived.
'use strict';
const assert = require('assert');
const { test, run } = require('./lib/harness');
const { startParley, request } = require('./lib/parley');

const ENV = { PARLEY_LOG_LEVEL: 'info', PARLEY_DEFAULT_CHANNELS: '' };
const THROTTLE_MS = 3000;
const EXPIRY_MS = 10000;
const GRACE_MS = 5000;

let p;
let stopped = false;

// Connects as user (device optional); records every event the socket gets.
async function as(user, device) {
  if (!p) p = await startParley({ env: ENV });
  const auth = { user, name: user[0].toUpperCase() + user.slice(1) };
  if (device) auth.device = device;
  const { socket, ready } = await p.connect(auth);
  socket.events = [];
  socket.onAny((event, ...args) => socket.events.push({ event, payload: args[0], at: Date.now() }));
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

// A round trip that changes nothing.
async function flush(...socks) {
  for (const s of socks) ok(await request(s.socket, 'presence:get', { users: [] }));
}

function take(s, event, pred = () => true) {
  const got = s.socket.events.filter((e) => e.event === event && pred(e.payload));
  s.socket.events = s.socket.events.filter((e) => !(e.event === event && pred(e.payload)));
  return got.map((e) => e.payload);
}

// The next `event` matching pred on s (already recorded or future), with the
// time it arrived.
async function expectEvent(s, event, pred = () => true, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const i = s.socket.events.findIndex((e) => e.event === event && pred(e.payload));
    if (i >= 0) {
      const e = s.socket.events.splice(i, 1)[0];
      return Object.assign(e.payload, { __at: e.at });
    }
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

function strip(ev) {
  const { __at, ...rest } = ev;
  return rest;
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

// A public channel made by the first user and joined by the others.
async function channelWith(owner, ...others) {
  const id = uid('ch');
  ok(await request(owner.socket, 'channel:create', { id, kind: 'public' }));
  for (const o of others) ok(await request(o.socket, 'channel:join', { channel: id }));
  await flush(owner, ...others);
  for (const s of [owner, ...others]) s.socket.events = [];
  return id;
}

// ---- typing ----


test('typing: start and stop reach the others in the channel, not the typist', async () => {
  const alice = await as(uid('alice'));
  const alice2 = await as(alice.user);
  const bob = await as(uid('bob'));
  const zoe = await as(uid('zoe'));
  const ch = await channelWith(alice, bob);
  await channelWith(zoe); // zoe is somewhere else

  alice.socket.emit('typing:start', { channel: ch });
  const ev = await expectEvent(bob, 'typing');
  assert.deepStrictEqual(strip(ev), { channel: ch, user: { id: alice.user, name: alice.user[0].toUpperCase() + alice.user.slice(1) }, typing: true });

  alice.socket.emit('typing:stop', { channel: ch });
  assert.deepStrictEqual(strip(await expectEvent(bob, 'typing')), { channel: ch, user: ev.user, typing: false });

  // stopping again, when not typing, says nothing
  alice.socket.emit('typing:stop', { channel: ch });
  await flush(alice, alice2, bob, zoe);
  assert.deepStrictEqual(take(bob, 'typing'), []);
  assert.deepStrictEqual(take(alice, 'typing'), [], 'the typist gets nothing');
  assert.deepStrictEqual(take(alice2, 'typing'), [], "the typist's other socket gets nothing");
  assert.deepStrictEqual(take(zoe, 'typing'), [], 'a non-member gets nothing');

  // bob types back; alice's sockets see it, bob's does not
  bob.socket.emit('typing:start', { channel: ch });
  assert.strictEqual((await expectEvent(alice, 'typing')).user.id, bob.user);
  assert.strictEqual((await expectEvent(alice2, 'typing')).typing, true);
  bob.socket.emit('typing:stop', { channel: ch });
  assert.strictEqual((await expectEvent(alice, 'typing')).typing, false);
  for (const s of [alice, alice2, bob, zoe]) await disconnect(s);
});

test('typing: invalid input is dropped without an answer and changes nothing', async () => {
  const alice = await as(uid('alice'));
  const bob = await as(uid('bob'));
  const zoe = await as(uid('zoe'));
  const ch = await channelWith(alice, bob);
  const zch = await channelWith(zoe);
  for (const bad of [{}, { channel: 5 }, { channel: '' }, { channel: 'Bad!' }, { channel: 'a'.repeat(65) },
    { channel: 'no-such-channel' }, { channel: zch }, { channel: 'dm:x' }, { channel: [ch] }]) {
    alice.socket.emit('typing:start', bad);
  }
  alice.socket.emit('typing:start', 'not an object');
  alice.socket.emit('typing:start');
  // zoe is not a member of ch: her typing there goes nowhere
  zoe.socket.emit('typing:start', { channel: ch });
  await flush(alice, zoe, bob);
  assert.deepStrictEqual(take(bob, 'typing'), []);
  assert.deepStrictEqual(take(zoe, 'typing'), []);
  assert.ok(alice.socket.connected && zoe.socket.connected, 'the connections stay up');
  // and the valid form still works afterwards
  alice.socket.emit('typing:start', { channel: ch });
  assert.strictEqual((await expectEvent(bob, 'typing')).typing, true);
  for (const s of [alice, bob, zoe]) await disconnect(s);
});

test('typing: a start is rebroadcast at most every 3 s, and ends by itself 10 s after the last', async () => {
  const alice = await as(uid('alice'));
  const bob = await as(uid('bob'));
  const ch = await channelWith(alice, bob);
  const t0 = Date.now();
  let last = 0;
  // a keystroke every 400 ms for 3.6 s
  while (Date.now() - t0 < THROTTLE_MS + 600) {
    alice.socket.emit('typing:start', { channel: ch });
    last = Date.now();
    await new Promise((r) => setTimeout(r, 400));
  }
  await flush(alice, bob);
  const starts = bob.socket.events.filter((e) => e.event === 'typing');
  assert.strictEqual(starts.length, 2, `two starts in 3.6 s: ${JSON.stringify(starts)}`);
  assert.ok(starts.every((e) => e.payload.typing === true));
  const gap = starts[1].at - starts[0].at;
  assert.ok(gap >= THROTTLE_MS - 100 && gap < THROTTLE_MS + 700, `rebroadcast after ${gap} ms`);
  take(bob, 'typing');
  // no stop, no message: typing:false arrives by itself, 10 s after the last start
  const end = await expectEvent(bob, 'typing', () => true, EXPIRY_MS + 3000);
  assert.strictEqual(end.typing, false);
  const after = end.__at - last;
  assert.ok(after >= EXPIRY_MS - 150 && after < EXPIRY_MS + 1500, `expired ${after} ms after the last start`);
  await flush(alice, bob);
  assert.deepStrictEqual(take(bob, 'typing'), [], 'exactly one stop');
  for (const s of [alice, bob]) await disconnect(s);
});

test("typing: the typist's message ends it", async () => {
  const alice = await as(uid('alice'));
  const bob = await as(uid('bob'));
  const carol = await as(uid('carol'));
  const ch = await channelWith(alice, bob, carol);
  alice.socket.emit('typing:start', { channel: ch });
  await expectEvent(bob, 'typing', (e) => e.typing);
  // someone else's message does not end alice's typing
  ok(await request(carol.socket, 'message:send', { channel: ch, clientId: 'c1', text: 'hi' }));
  await flush(alice, bob);
  assert.deepStrictEqual(take(bob, 'typing'), []);
  const sent = Date.now();
  ok(await request(alice.socket, 'message:send', { channel: ch, clientId: 'a1', text: 'hello' }));
  const msg = await expectEvent(bob, 'message:new', (m) => m.clientId === 'a1');
  const end = await expectEvent(bob, 'typing');
  assert.deepStrictEqual(strip(end), { channel: ch, user: { id: alice.user, name: end.user.name }, typing: false });
  assert.ok(end.__at >= msg.__at, 'typing:false comes with the message, not before');
  assert.ok(end.__at - sent < 2000, 'not the 10 s expiry');
  await flush(alice, bob);
  assert.deepStrictEqual(take(bob, 'typing'), []);
  for (const s of [alice, bob, carol]) await disconnect(s);
});

test("typing: ends when the typist's last socket closes", async () => {
  const alice = await as(uid('alice'));
  const alice2 = await as(alice.user, 'mobile');
  const bob = await as(uid('bob'));
  const ch = await channelWith(alice, bob);
  alice.socket.emit('typing:start', { channel: ch });
  await expectEvent(bob, 'typing', (e) => e.typing);
  await disconnect(alice); // another socket of alice's remains
  await flush(alice2, bob);
  assert.deepStrictEqual(take(bob, 'typing'), [], 'still typing while a socket remains');
  const closed = Date.now();
  await disconnect(alice2);
  const end = await expectEvent(bob, 'typing');
  assert.strictEqual(end.typing, false);
  assert.strictEqual(end.user.id, alice.user);
  assert.ok(end.__at - closed < 2000, 'at once, not after the expiry');
  await disconnect(bob);
});

// ---- presence ----

function presenceOf(user) {
  return (e) => e.user === user;
}

test('presence: online at connect, to the users sharing a channel only', async () => {
  const alice = await as(uid('alice'));
  const bobId = uid('bob');
  const bob0 = await as(bobId);
  const zoe = await as(uid('zoe'));
  await channelWith(alice, bob0);
  await channelWith(zoe);
  // bob goes offline for real: the restart forgets every presence
  await p.restart();
  const a = await as(alice.user);
  const z = await as(zoe.user);
  await flush(a, z);
  a.socket.events = [];
  z.socket.events = [];

  const b = await as(bobId);
  const ev = await expectEvent(a, 'presence', presenceOf(bobId));
  assert.deepStrictEqual(strip(ev), { user: bobId, status: 'online', devices: { web: 'online' } });
  // a second device
  const b2 = await as(bobId, 'mobile');
  assert.deepStrictEqual(strip(await expectEvent(a, 'presence', presenceOf(bobId))),
    { user: bobId, status: 'online', devices: { web: 'online', mobile: 'online' } });
  // a stranger connecting is news to nobody; zoe hears nothing of bob
  const z2 = await as(zoe.user, 'desktop');
  await flush(b, b2, z, z2, a);
  assert.deepStrictEqual(take(a, 'presence'), [], 'nothing about zoe');
  assert.deepStrictEqual(take(z, 'presence'), [], 'zoe shares no channel with bob');
  assert.deepStrictEqual(take(b, 'presence', presenceOf(bobId)), [], "bob's own sockets are not told about bob");
  for (const s of [a, b, b2, z, z2]) await disconnect(s);
});

test('presence:set: idle, dnd, invisible; the most present device wins; only changes are sent', async () => {
  const alice = await as(uid('alice'));
  const bob = await as(uid('bob'));
  const zoe = await as(uid('zoe'));
  await channelWith(alice, bob);
  await channelWith(zoe);
  const bobM = await as(bob.user, 'mobile');
  await expectEvent(alice, 'presence', presenceOf(bob.user)); // the mobile device
  const steps = [
    [bobM, 'idle', { status: 'online', devices: { web: 'online', mobile: 'idle' } }],
    [bob, 'dnd', { status: 'idle', devices: { web: 'dnd', mobile: 'idle' } }],
    [bob, 'invisible', { status: 'idle', devices: { mobile: 'idle' } }],
    [bobM, 'invisible', { status: 'offline', devices: {} }],
    [bobM, 'invisible', null], // no change, no event
    [bobM, 'dnd', { status: 'dnd', devices: { mobile: 'dnd' } }],
    [bob, 'online', { status: 'online', devices: { web: 'online', mobile: 'dnd' } }],
  ];
  for (const [s, status, expected] of steps) {
    const ack = ok(await request(s.socket, 'presence:set', { status }));
    assert.deepStrictEqual(ack, { ok: true });
    await flush(alice);
    const got = take(alice, 'presence', presenceOf(bob.user));
    assert.deepStrictEqual(got, expected ? [{ user: bob.user, ...expected }] : [], `after ${status}`);
  }
  // presence:get says the same as the last event
  const ack = ok(await request(alice.socket, 'presence:get', { users: [bob.user] }));
  assert.deepStrictEqual(ack.presence, [{ user: bob.user, status: 'online', devices: { web: 'online', mobile: 'dnd' } }]);
  // zoe's status is nobody's business here
  ok(await request(zoe.socket, 'presence:set', { status: 'dnd' }));
  await flush(zoe, alice, bob);
  assert.deepStrictEqual(take(alice, 'presence'), []);
  assert.deepStrictEqual(take(bob, 'presence'), []);
  assert.deepStrictEqual(take(zoe, 'presence'), []);
  for (const s of [alice, bob, bobM, zoe]) await disconnect(s);
});

test('presence:get: sharers as others see them, strangers and unknown ids offline', async () => {
  const alice = await as(uid('alice'));
  const bob = await as(uid('bob'), 'desktop');
  const zoe = await as(uid('zoe'));
  await channelWith(alice, bob);
  await channelWith(zoe);
  ok(await request(bob.socket, 'presence:set', { status: 'idle' }));
  const ack = ok(await request(alice.socket, 'presence:get', { users: [bob.user, zoe.user, 'nobody-at-all', alice.user, bob.user] }));
  assert.deepStrictEqual(ack.presence, [
    { user: bob.user, status: 'idle', devices: { desktop: 'idle' } },
    { user: zoe.user, status: 'offline', devices: {} }, // online, but shares nothing with alice
    { user: 'nobody-at-all', status: 'offline', devices: {} },
    { user: alice.user, status: 'online', devices: { web: 'online' } },
    { user: bob.user, status: 'idle', devices: { desktop: 'idle' } },
  ]);
  assert.deepStrictEqual(ok(await request(zoe.socket, 'presence:get', { users: [bob.user] })).presence,
    [{ user: bob.user, status: 'offline', devices: {} }]);
  assert.deepStrictEqual(ok(await request(zoe.socket, 'presence:get', {
    users: Array.from({ length: 100 }, (_, i) => `u${i}`),
  })).presence.length, 100);
  // invisible reads as offline, to others and in the answer to oneself
  ok(await request(bob.socket, 'presence:set', { status: 'invisible' }));
  assert.deepStrictEqual(ok(await request(alice.socket, 'presence:get', { users: [bob.user] })).presence,
    [{ user: bob.user, status: 'offline', devices: {} }]);
  assert.deepStrictEqual(ok(await request(bob.socket, 'presence:get', { users: [bob.user] })).presence,
    [{ user: bob.user, status: 'offline', devices: {} }]);
  for (const s of [alice, bob, zoe]) await disconnect(s);
});

test('presence:set and presence:get: bad input is refused precisely and changes nothing', async () => {
  const alice = await as(uid('alice'));
  const bob = await as(uid('bob'));
  await channelWith(alice, bob);
  for (const bad of [{}, { status: 5 }, { status: '' }, { status: 'away' }, { status: 'offline' },
    { status: 'Online' }, { status: 'online\u0000' }, { status: null }, { status: ['online'] }]) {
    fails(await request(bob.socket, 'presence:set', bad), 'bad_request', 'status');
  }
  fails(await request(bob.socket, 'presence:set', 'online'), 'bad_request', 'payload');
  const tooMany = Array.from({ length: 101 }, (_, i) => `u${i}`);
  for (const [bad, field] of [[{}, 'users'], [{ users: 'bob' }, 'users'], [{ users: { 0: 'bob' } }, 'users'],
    [{ users: tooMany }, 'users'], [{ users: ['bob', 5] }, 'users[1]'], [{ users: ['Bad!'] }, 'users[0]'],
    [{ users: [''] }, 'users[0]'], [{ users: ['a'.repeat(65)] }, 'users[0]'], [{ users: ['a\u0000b'] }, 'users[0]']]) {
    fails(await request(alice.socket, 'presence:get', bad), 'bad_request', field);
  }
  await flush(bob, alice);
  assert.deepStrictEqual(take(alice, 'presence'), [], 'no presence change was sent');
  assert.deepStrictEqual(ok(await request(alice.socket, 'presence:get', { users: [bob.user] })).presence,
    [{ user: bob.user, status: 'online', devices: { web: 'online' } }]);
  assert.ok(alice.socket.connected && bob.socket.connected);
  for (const s of [alice, bob]) await disconnect(s);
});

test('presence: a reload within 5 s shows nothing; a device gone lingers 5 s; offline 5 s after the last socket', async () => {
  const alice = await as(uid('alice'));
  const carol = await as(uid('carol'));
  await channelWith(alice, carol);
  const carolM = await as(carol.user, 'mobile');
  await expectEvent(alice, 'presence', presenceOf(carol.user));
  const mobileGone = Date.now();
  await disconnect(carolM);
  await disconnect(carol);
  const carol2 = await as(carol.user); // a reload of the web tab: back within the grace
  await flush(carol2, alice);
  assert.deepStrictEqual(take(alice, 'presence'), [], 'nothing changed for others yet');
  // presence:get during the grace still shows both devices
  assert.deepStrictEqual(ok(await request(alice.socket, 'presence:get', { users: [carol.user] })).presence,
    [{ user: carol.user, status: 'online', devices: { web: 'online', mobile: 'online' } }]);
  await new Promise((r) => setTimeout(r, 500));
  const closed = Date.now();
  await disconnect(carol2);
  assert.strictEqual(ok(await request(alice.socket, 'presence:get', { users: [carol.user] })).presence[0].status, 'online');
  // the mobile device goes 5 s after it closed; web still lingers then
  const noMobile = await expectEvent(alice, 'presence', presenceOf(carol.user), GRACE_MS + 3000);
  assert.deepStrictEqual(strip(noMobile), { user: carol.user, status: 'online', devices: { web: 'online' } });
  const t1 = noMobile.__at - mobileGone;
  assert.ok(t1 >= GRACE_MS - 150 && t1 < GRACE_MS + 1500, `mobile gone ${t1} ms after it closed`);
  const off = await expectEvent(alice, 'presence', presenceOf(carol.user), GRACE_MS + 3000);
  assert.deepStrictEqual(strip(off), { user: carol.user, status: 'offline', devices: {} });
  const t2 = off.__at - closed;
  assert.ok(t2 >= GRACE_MS - 150 && t2 < GRACE_MS + 1500, `offline ${t2} ms after the last socket closed`);
  await flush(alice);
  assert.deepStrictEqual(take(alice, 'presence'), [], 'no offline/online flap');
  assert.deepStrictEqual(ok(await request(alice.socket, 'presence:get', { users: [carol.user] })).presence,
    [{ user: carol.user, status: 'offline', devices: {} }]);
  await disconnect(alice);
});

test('presence: an invisible device neither shows nor lingers', async () => {
  const alice = await as(uid('alice'));
  const dave = await as(uid('dave'));
  await channelWith(alice, dave);
  const daveBot = await as(dave.user, 'bot');
  await expectEvent(alice, 'presence', presenceOf(dave.user));
  ok(await request(daveBot.socket, 'presence:set', { status: 'invisible' }));
  assert.deepStrictEqual(strip(await expectEvent(alice, 'presence', presenceOf(dave.user))),
    { user: dave.user, status: 'online', devices: { web: 'online' } });
  await disconnect(daveBot);
  ok(await request(dave.socket, 'presence:set', { status: 'idle' }));
  assert.deepStrictEqual(strip(await expectEvent(alice, 'presence', presenceOf(dave.user))),
    { user: dave.user, status: 'idle', devices: { web: 'idle' } });
  await flush(alice);
  assert.deepStrictEqual(take(alice, 'presence'), []);
  await disconnect(alice);
  await disconnect(dave);
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
