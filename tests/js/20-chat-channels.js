// 20-chat-channels: channel:create, channel:join, channel:leave,
// channel:list, channel:browse, channel:invite, invite:create,
// invite:accept and dm:open against the real `parley serve`: happy paths,
// every bad input with its precise error, permissions, not_found, conflict,
// the member:joined / member:left broadcasts (seq = previous + 1, never to
// the requesting socket), the last 50 messages on joining, rooms after a
// reconnect (message:new without re-joining), and channels and memberships
// across a restart. Uses message:send (messages.c) to make history.
//
// "Nothing was sent" is checked without sleeps: a broadcast is queued before
// the ack that follows it, and a later round trip on a receiving socket
// flushes anything queued for it before.
'use strict';
const assert = require('assert');
const { test, run } = require('./lib/harness');
const { startParley, request } = require('./lib/parley');

// PARLEY_LOG_LEVEL=warn (parley.js's default) hides the "listening" line
// that startServer waits for.
const ENV = { PARLEY_LOG_LEVEL: 'info' };

let p;
let nextUser = 0;

// A fresh user id per call, so tests do not see each other's events.
function uid(base) {
  nextUser++;
  return `${base}${nextUser}`;
}

// Connects as user; records every event the socket receives, except those
// of the default channel "general" (every first-time user joins it, so its
// member:joined events reach everyone).
async function as(user, name) {
  const { socket, ready } = await p.connect({ user, name: name || user.toUpperCase() });
  socket.events = [];
  socket.onAny((event, ...args) => {
    if (!(args[0] && args[0].channel === 'general')) socket.events.push({ event, payload: args[0] });
  });
  return { socket, ready, user };
}

// A round trip: whatever was queued for the socket before has arrived.
async function flush(s) {
  const ack = await request(s.socket, 'channel:browse', {});
  assert.strictEqual(ack.ok, true);
}

function take(s, event) {
  const got = s.socket.events.filter((e) => e.event === event);
  s.socket.events = s.socket.events.filter((e) => e.event !== event);
  return got.map((e) => e.payload);
}

// Waits for the next `event` on s (recorded or future) matching pred, or
// of the channel pred names when it is a string.
async function expectEvent(s, event, pred = () => true, timeoutMs = 5000) {
  if (typeof pred === 'string') {
    const channel = pred;
    pred = (e) => e.channel === channel;
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const i = s.socket.events.findIndex((e) => e.event === event && pred(e.payload));
    if (i >= 0) return s.socket.events.splice(i, 1)[0].payload;
    const left = deadline - Date.now();
    if (left <= 0 || !s.socket.connected) throw new Error(`${s.user}: no ${event} within ${timeoutMs} ms`);
    await new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        s.socket.off(event, done);
        s.socket.off('disconnect', done);
        resolve();
      };
      const t = setTimeout(done, left);
      s.socket.on(event, done);
      s.socket.on('disconnect', done);
    });
  }
}

async function noEvents(s, ...events) {
  await flush(s);
  for (const e of events) assert.deepStrictEqual(take(s, e), [], `${s.user} got no ${e}`);
}

function ok(ack) {
  assert.strictEqual(ack.ok, true, `expected ok, got ${JSON.stringify(ack)}`);
  return ack;
}

function fails(ack, code, ...words) {
  assert.strictEqual(ack.ok, false, `expected ${code}, got ${JSON.stringify(ack)}`);
  assert.strictEqual(ack.error.code, code, JSON.stringify(ack));
  assert.strictEqual(typeof ack.error.message, 'string');
  for (const w of words) assert.ok(ack.error.message.includes(w), `"${ack.error.message}" names ${w}`);
}

const CHANNEL_KEYS = ['id', 'kind', 'members', 'name', 'seq', 'topic'];
const MINE_KEYS = ['id', 'kind', 'lastRead', 'members', 'name', 'role', 'seq', 'topic', 'unread'];

function memberEvent(channel, seq, user) {
  return { channel, seq, user: { id: user, name: user.toUpperCase() } };
}

async function browse(s) {
  return ok(await request(s.socket, 'channel:browse', {})).channels;
}

async function mine(s) {
  return ok(await request(s.socket, 'channel:list', {})).channels;
}

async function channelSeq(s, id) {
  const c = (await mine(s)).find((x) => x.id === id);
  return c && c.seq;
}

test('start', async () => {
  p = await startParley({ env: ENV });
});

test('channel:create: public and private, defaults, the creator\'s other sockets hear seq 1', async () => {
  const u = uid('ann');
  const a = await as(u);
  const a2 = await as(u);
  const id = uid('room');
  const ack = ok(await request(a.socket, 'channel:create', { id, name: 'Room ✓', kind: 'public', topic: 'talk' }));
  assert.deepStrictEqual(ack.channel, { id, name: 'Room ✓', kind: 'public', topic: 'talk', seq: 1, members: 1 });
  assert.deepStrictEqual(await expectEvent(a2, 'member:joined'), memberEvent(id, 1, u));
  await noEvents(a, 'member:joined');

  const pid = uid('priv');
  const pack = ok(await request(a.socket, 'channel:create', { id: pid, kind: 'private' }));
  assert.deepStrictEqual(pack.channel, { id: pid, name: pid, kind: 'private', topic: '', seq: 1, members: 1 });
  // topic may be empty, name may be 64 characters of several bytes each
  const long = 'é'.repeat(64);
  const lack = ok(await request(a.socket, 'channel:create', { id: uid('long'), kind: 'public', name: long, topic: '' }));
  assert.strictEqual(lack.channel.name, long);
  assert.strictEqual(lack.channel.topic, '');
  const tack = ok(await request(a.socket, 'channel:create', { id: uid('t'), kind: 'public', topic: 'x'.repeat(256) }));
  assert.strictEqual(tack.channel.topic.length, 256);
  const maxId = 'a-_9'.repeat(16);
  ok(await request(a.socket, 'channel:create', { id: maxId, kind: 'private' }));

  const list = await mine(a);
  const ids = list.map((c) => c.id);
  for (const x of [id, pid, maxId]) assert.ok(ids.includes(x), `${x} in channel:list`);
  const b = (await browse(a)).map((c) => c.id);
  assert.ok(b.includes(id));
  assert.ok(!b.includes(pid), 'private channels are not browsable');
});

test('channel:create: conflict on an existing id, nothing changes', async () => {
  const u = uid('bea');
  const a = await as(u);
  const other = await as(uid('cal'));
  const id = uid('dup');
  ok(await request(a.socket, 'channel:create', { id, kind: 'public', topic: 'first' }));
  fails(await request(other.socket, 'channel:create', { id, kind: 'private', topic: 'second' }), 'conflict', id);
  fails(await request(a.socket, 'channel:create', { id: 'general', kind: 'public' }), 'conflict', 'general');
  const c = (await browse(a)).find((x) => x.id === id);
  assert.deepStrictEqual(c, { id, name: id, kind: 'public', topic: 'first', seq: 1, members: 1 });
  // two creators at once: exactly one wins
  const id2 = uid('race');
  const [r1, r2] = await Promise.all([
    request(a.socket, 'channel:create', { id: id2, kind: 'public' }),
    request(other.socket, 'channel:create', { id: id2, kind: 'public' }),
  ]);
  assert.deepStrictEqual([r1.ok, r2.ok].sort(), [false, true]);
  fails(r1.ok ? r2 : r1, 'conflict', id2);
});

test('channel:create: bad input is bad_request naming the field and changes nothing', async () => {
  const u = uid('cid');
  const a = await as(u);
  const a2 = await as(u);
  const before = (await browse(a)).length;
  const cases = [
    [{ kind: 'public' }, 'id'],
    [{ id: 5, kind: 'public' }, 'id'],
    [{ id: '', kind: 'public' }, 'id'],
    [{ id: 'Upper', kind: 'public' }, 'id'],
    [{ id: 'has space', kind: 'public' }, 'id'],
    [{ id: 'a'.repeat(65), kind: 'public' }, 'id'],
    [{ id: 'dm:x:y', kind: 'public' }, 'id'],
    [{ id: 'ok1', kind: 'public', name: '' }, 'name'],
    [{ id: 'ok1', kind: 'public', name: 7 }, 'name'],
    [{ id: 'ok1', kind: 'public', name: 'n'.repeat(65) }, 'name'],
    [{ id: 'ok1', kind: 'public', name: 'a\u0000b' }, 'name'],
    [{ id: 'ok1' }, 'kind'],
    [{ id: 'ok1', kind: 'dm' }, 'kind'],
    [{ id: 'ok1', kind: 'Public' }, 'kind'],
    [{ id: 'ok1', kind: 1 }, 'kind'],
    [{ id: 'ok1', kind: 'public', topic: 'x'.repeat(257) }, 'topic'],
    [{ id: 'ok1', kind: 'public', topic: ['t'] }, 'topic'],
  ];
  for (const [payload, field] of cases) {
    const ack = await request(a.socket, 'channel:create', payload);
    fails(ack, 'bad_request', field);
  }
  fails(await request(a.socket, 'channel:create', 'general'), 'bad_request', 'object');
  assert.strictEqual((await browse(a)).length, before);
  fails(await request(a.socket, 'channel:join', { channel: 'ok1' }), 'not_found', 'ok1');
  await noEvents(a2, 'member:joined');
  assert.ok(a.socket.connected && a2.socket.connected);
});

test('channel:join: member:joined (seq + 1) to members and the joiner\'s other sockets, not the sender', async () => {
  const ua = uid('dan'), ub = uid('eve');
  const a = await as(ua);
  const b = await as(ub);
  const b2 = await as(ub);
  const id = uid('join');
  ok(await request(a.socket, 'channel:create', { id, kind: 'public', topic: 'hi' }));
  const ack = ok(await request(b.socket, 'channel:join', { channel: id }));
  assert.deepStrictEqual(ack.channel, { id, name: id, kind: 'public', topic: 'hi', seq: 2, members: 2 });
  assert.deepStrictEqual(ack.messages, []);
  assert.deepStrictEqual(await expectEvent(a, 'member:joined'), memberEvent(id, 2, ub));
  assert.deepStrictEqual(await expectEvent(b2, 'member:joined'), memberEvent(id, 2, ub));
  await noEvents(b, 'member:joined');

  // joining again: the same answer, no event, no seq
  const again = ok(await request(b.socket, 'channel:join', { channel: id }));
  assert.deepStrictEqual(again.channel, ack.channel);
  await noEvents(a, 'member:joined');
  await noEvents(b2, 'member:joined');

  const listed = (await mine(b)).find((c) => c.id === id);
  assert.deepStrictEqual(Object.keys(listed).sort(), MINE_KEYS);
  assert.deepStrictEqual(listed, { id, name: id, kind: 'public', topic: 'hi', seq: 2, lastRead: 2, unread: 0, members: 2, role: 'member' });

  // a third joiner: seq 3 to both earlier members
  const c = await as(uid('fay'));
  ok(await request(c.socket, 'channel:join', { channel: id }));
  assert.strictEqual((await expectEvent(a, 'member:joined')).seq, 3);
  assert.strictEqual((await expectEvent(b, 'member:joined')).seq, 3);
});

test('channel:join and invite:accept answer the last 50 messages, oldest first', async () => {
  // three authors, so that 57 sends fit in the per-user send bursts
  const authors = [await as(uid('ab')), await as(uid('ac')), await as(uid('ad'))];
  const id = uid('hist');
  ok(await request(authors[0].socket, 'channel:create', { id, kind: 'public' }));
  for (const a of authors.slice(1)) ok(await request(a.socket, 'channel:join', { channel: id }));
  const sent = [];
  for (let i = 1; i <= 57; i++) {
    const a = authors[i % 3];
    sent.push(ok(await request(a.socket, 'message:send', { channel: id, clientId: `k${i}`, text: `m${i}` })).message);
  }
  assert.strictEqual(sent[56].seq, 60);
  const j = await as(uid('ae'));
  const ack = ok(await request(j.socket, 'channel:join', { channel: id }));
  assert.strictEqual(ack.channel.seq, 61);
  assert.strictEqual(ack.messages.length, 50);
  assert.deepStrictEqual(ack.messages, sent.slice(7));
  assert.deepStrictEqual(ack.messages.map((m) => m.seq), Array.from({ length: 50 }, (_, i) => 11 + i));
  // the joiner is in the room at once
  const more = ok(await request(authors[0].socket, 'message:send', { channel: id, clientId: 'k58', text: 'm58' })).message;
  assert.deepStrictEqual(await expectEvent(j, 'message:new', id), more);
  const listed = (await mine(j)).find((c) => c.id === id);
  assert.strictEqual(listed.lastRead, 61);
  assert.strictEqual(listed.unread, 1);

  const { code } = ok(await request(authors[1].socket, 'invite:create', { channel: id }));
  const g = await as(uid('af'));
  const acc = ok(await request(g.socket, 'invite:accept', { code }));
  assert.strictEqual(acc.channel.seq, 63);
  assert.deepStrictEqual(acc.messages, [...sent.slice(8), more]);
});

test('channel:join: not_found, private is forbidden, bad ids', async () => {
  const owner = await as(uid('gus'));
  const x = await as(uid('hal'));
  const pid = uid('secret');
  ok(await request(owner.socket, 'channel:create', { id: pid, kind: 'private' }));
  fails(await request(x.socket, 'channel:join', { channel: pid }), 'forbidden', pid);
  fails(await request(x.socket, 'channel:join', { channel: 'nope-nope' }), 'not_found', 'nope-nope');
  for (const bad of [undefined, 1, '', 'UP', 'a'.repeat(65), 'dm:x', { id: 'general' }])
    fails(await request(x.socket, 'channel:join', { channel: bad }), 'bad_request', 'channel');
  await noEvents(owner, 'member:joined');
  assert.strictEqual(await channelSeq(owner, pid), 1);
  assert.ok(!(await mine(x)).some((c) => c.id === pid));
  assert.ok(x.socket.connected);
});

test('channel:leave: member:left (seq + 1) to members and the leaver\'s other sockets; then out of the room', async () => {
  const ua = uid('ida'), ub = uid('jon');
  const a = await as(ua);
  const b = await as(ub);
  const b2 = await as(ub);
  const id = uid('leave');
  ok(await request(a.socket, 'channel:create', { id, kind: 'public' }));
  ok(await request(b.socket, 'channel:join', { channel: id }));
  await expectEvent(a, 'member:joined');
  await expectEvent(b2, 'member:joined');

  const ack = ok(await request(b.socket, 'channel:leave', { channel: id }));
  assert.deepStrictEqual(ack, { ok: true });
  assert.deepStrictEqual(await expectEvent(a, 'member:left'), memberEvent(id, 3, ub));
  assert.deepStrictEqual(await expectEvent(b2, 'member:left'), memberEvent(id, 3, ub));
  await noEvents(b, 'member:left');
  assert.ok(!(await mine(b)).some((c) => c.id === id));
  assert.strictEqual((await browse(a)).find((c) => c.id === id).members, 1);

  // the leaver's sockets no longer hear the channel
  const c = await as(uid('kim'));
  ok(await request(c.socket, 'channel:join', { channel: id }));
  assert.strictEqual((await expectEvent(a, 'member:joined')).seq, 4);
  await noEvents(b, 'member:joined');
  await noEvents(b2, 'member:joined');

  // leaving again: not a member
  fails(await request(b.socket, 'channel:leave', { channel: id }), 'forbidden', id);
  fails(await request(b.socket, 'channel:leave', { channel: 'nowhere' }), 'not_found', 'nowhere');
  for (const bad of [undefined, null, 3, 'A', 'a'.repeat(65)])
    fails(await request(b.socket, 'channel:leave', { channel: bad }), 'bad_request', 'channel');
  await noEvents(a, 'member:left');
  assert.strictEqual(await channelSeq(a, id), 4);

  // rejoining works and continues the seq
  const re = ok(await request(b.socket, 'channel:join', { channel: id }));
  assert.strictEqual(re.channel.seq, 5);
  assert.strictEqual((await expectEvent(a, 'member:joined')).seq, 5);
});

test('channel:list and channel:browse: shapes and order', async () => {
  const u = uid('lou');
  const a = await as(u);
  const ids = [uid('zz'), uid('aa'), uid('mm')];
  for (const id of ids) ok(await request(a.socket, 'channel:create', { id, kind: 'public' }));
  const priv = uid('pp');
  ok(await request(a.socket, 'channel:create', { id: priv, kind: 'private', topic: 'shh' }));
  const list = await mine(a);
  for (const c of list) assert.deepStrictEqual(Object.keys(c).sort(), MINE_KEYS);
  assert.deepStrictEqual(list.map((c) => c.id).sort(), ['general', ...ids, priv].sort());
  assert.deepStrictEqual(list.find((c) => c.id === priv),
    { id: priv, name: priv, kind: 'private', topic: 'shh', seq: 1, lastRead: 1, unread: 0, members: 1, role: 'owner' });
  const all = await browse(a);
  for (const c of all) {
    assert.deepStrictEqual(Object.keys(c).sort(), CHANNEL_KEYS);
    assert.strictEqual(c.kind, 'public');
  }
  const bids = all.map((c) => c.id);
  assert.deepStrictEqual(bids, [...bids].sort(), 'browse is ordered by id');
  for (const id of ids) assert.ok(bids.includes(id));
  assert.ok(bids.includes('general'));
  // extra fields are ignored
  ok(await request(a.socket, 'channel:list', { junk: 1 }));
});

test('channel:invite: owner adds a user; the invitee\'s sockets join the room and hear member:joined', async () => {
  const uo = uid('mia'), ub = uid('ned');
  const o = await as(uo);
  const o2 = await as(uo);
  const b = await as(ub);
  const b2 = await as(ub);
  const pid = uid('club');
  ok(await request(o.socket, 'channel:create', { id: pid, kind: 'private' }));
  await expectEvent(o2, 'member:joined');

  assert.deepStrictEqual(ok(await request(o.socket, 'channel:invite', { channel: pid, user: ub })), { ok: true });
  for (const s of [o2, b, b2]) assert.deepStrictEqual(await expectEvent(s, 'member:joined'), memberEvent(pid, 2, ub));
  await noEvents(o, 'member:joined');
  const listed = (await mine(b)).find((c) => c.id === pid);
  assert.strictEqual(listed.seq, 2);
  assert.strictEqual(listed.lastRead, 2);

  // now a member: join answers without an event
  const j = ok(await request(b.socket, 'channel:join', { channel: pid }));
  assert.strictEqual(j.channel.seq, 2);
  // inviting a member again: {} and no event
  ok(await request(o.socket, 'channel:invite', { channel: pid, user: ub }));
  await noEvents(o2, 'member:joined');
  await noEvents(b2, 'member:joined');

  // the invitee's sockets are in the room: they hear the next join
  const c = await as(uid('ola'));
  ok(await request(o.socket, 'channel:invite', { channel: pid, user: c.user }));
  for (const s of [b, b2, o2, c]) assert.strictEqual((await expectEvent(s, 'member:joined')).seq, 3);
});

test('channel:invite: permissions, public channels, not_found, bad input', async () => {
  const o = await as(uid('pat'));
  const m = await as(uid('quin'));
  const outsider = await as(uid('ray'));
  const target = await as(uid('sue'));
  const pid = uid('vault');
  ok(await request(o.socket, 'channel:create', { id: pid, kind: 'private' }));
  ok(await request(o.socket, 'channel:invite', { channel: pid, user: m.user }));
  await expectEvent(m, 'member:joined');

  fails(await request(m.socket, 'channel:invite', { channel: pid, user: target.user }), 'forbidden', pid);
  fails(await request(outsider.socket, 'channel:invite', { channel: pid, user: target.user }), 'forbidden', pid);
  const pub = uid('open');
  ok(await request(o.socket, 'channel:create', { id: pub, kind: 'public' }));
  fails(await request(o.socket, 'channel:invite', { channel: pub, user: target.user }), 'bad_request', 'public');
  fails(await request(o.socket, 'channel:invite', { channel: 'ghost', user: target.user }), 'not_found', 'ghost');
  fails(await request(o.socket, 'channel:invite', { channel: pid, user: 'nobody-here' }), 'not_found', 'nobody-here');
  for (const bad of [undefined, 4, '', 'Bob', 'a b', 'u'.repeat(65)])
    fails(await request(o.socket, 'channel:invite', { channel: pid, user: bad }), 'bad_request', 'user');
  fails(await request(o.socket, 'channel:invite', { user: target.user }), 'bad_request', 'channel');
  await noEvents(m, 'member:joined');
  await noEvents(target, 'member:joined');
  assert.strictEqual(await channelSeq(o, pid), 2);
  assert.ok(!(await mine(target)).some((c) => c.id === pid));
  assert.ok(!(await mine(target)).some((c) => c.id === pub));
});

test('invite:create / invite:accept: share codes for public and private channels', async () => {
  const o = await as(uid('tom'));
  const m = await as(uid('uma'));
  const guest = await as(uid('vic'));
  const guest2 = await as(uid('wes'));
  const pub = uid('share');
  ok(await request(o.socket, 'channel:create', { id: pub, kind: 'public', topic: 'T' }));
  ok(await request(m.socket, 'channel:join', { channel: pub }));
  await expectEvent(o, 'member:joined', pub);
  // any member of a public channel may make a code
  const { code } = ok(await request(m.socket, 'invite:create', { channel: pub }));
  assert.match(code, /^[0-9a-z]{12}$/);
  const acc = ok(await request(guest.socket, 'invite:accept', { code }));
  assert.deepStrictEqual(acc.channel, { id: pub, name: pub, kind: 'public', topic: 'T', seq: 3, members: 3 });
  assert.deepStrictEqual(acc.messages, []);
  assert.deepStrictEqual(await expectEvent(o, 'member:joined'), memberEvent(pub, 3, guest.user));
  assert.deepStrictEqual(await expectEvent(m, 'member:joined'), memberEvent(pub, 3, guest.user));
  await noEvents(guest, 'member:joined');
  // accepting again: same channel, no event; codes are reusable
  assert.strictEqual(ok(await request(guest.socket, 'invite:accept', { code })).channel.seq, 3);
  await noEvents(o, 'member:joined');
  ok(await request(guest2.socket, 'invite:accept', { code }));
  assert.strictEqual((await expectEvent(o, 'member:joined', pub)).seq, 4);
  assert.strictEqual((await expectEvent(m, 'member:joined', pub)).seq, 4);

  // private: owner only
  const pid = uid('hidden');
  ok(await request(o.socket, 'channel:create', { id: pid, kind: 'private' }));
  ok(await request(o.socket, 'channel:invite', { channel: pid, user: m.user }));
  assert.strictEqual((await expectEvent(m, 'member:joined', pid)).seq, 2);
  fails(await request(m.socket, 'invite:create', { channel: pid }), 'forbidden', pid);
  fails(await request(guest.socket, 'invite:create', { channel: pid }), 'forbidden', pid);
  const pcode = ok(await request(o.socket, 'invite:create', { channel: pid })).code;
  assert.notStrictEqual(pcode, code);
  const pacc = ok(await request(guest.socket, 'invite:accept', { code: pcode }));
  assert.strictEqual(pacc.channel.id, pid);
  assert.strictEqual(pacc.channel.kind, 'private');
  assert.deepStrictEqual(await expectEvent(m, 'member:joined', pid), memberEvent(pid, 3, guest.user));
  assert.deepStrictEqual(await expectEvent(o, 'member:joined', pid), memberEvent(pid, 3, guest.user));

  // errors
  fails(await request(o.socket, 'invite:create', { channel: 'ghost' }), 'not_found', 'ghost');
  fails(await request(o.socket, 'invite:create', { channel: 'BAD' }), 'bad_request', 'channel');
  fails(await request(o.socket, 'invite:create', {}), 'bad_request', 'channel');
  fails(await request(guest2.socket, 'invite:accept', { code: 'zzzzzzzzzzzz' }), 'not_found', 'invite');
  fails(await request(guest2.socket, 'invite:accept', {}), 'bad_request', 'code');
  fails(await request(guest2.socket, 'invite:accept', { code: 12 }), 'bad_request', 'code');
  fails(await request(guest2.socket, 'invite:accept', { code: '' }), 'bad_request', 'code');
  fails(await request(guest2.socket, 'invite:accept', { code: 'c'.repeat(65) }), 'bad_request', 'code');
  await noEvents(m, 'member:joined');
  assert.ok(!(await mine(guest2)).some((c) => c.id === pid));
});

test('dm:open: dm:<a>:<b>, both members, the other user hears seq 1 and 2; opening again is the same channel', async () => {
  // names chosen so the opener sorts second
  const ua = uid('zed'), ub = uid('abe');
  const a = await as(ua);
  const a2 = await as(ua);
  const b = await as(ub);
  const id = `dm:${ub}:${ua}`;
  const ack = ok(await request(a.socket, 'dm:open', { user: ub }));
  assert.deepStrictEqual(ack.channel, { id, name: id, kind: 'dm', topic: '', seq: 2, members: 2 });
  assert.deepStrictEqual(await expectEvent(b, 'member:joined', (e) => e.seq === 1), memberEvent(id, 1, ua));
  assert.deepStrictEqual(await expectEvent(b, 'member:joined', (e) => e.seq === 2), memberEvent(id, 2, ub));
  assert.deepStrictEqual(await expectEvent(a2, 'member:joined', (e) => e.seq === 1), memberEvent(id, 1, ua));
  assert.deepStrictEqual(await expectEvent(a2, 'member:joined', (e) => e.seq === 2), memberEvent(id, 2, ub));
  await noEvents(a, 'member:joined');

  const again = ok(await request(b.socket, 'dm:open', { user: ua }));
  assert.deepStrictEqual(again.channel, ack.channel);
  await noEvents(a2, 'member:joined');
  const listed = (await mine(b)).find((c) => c.id === id);
  assert.deepStrictEqual(listed, { id, name: id, kind: 'dm', topic: '', seq: 2, lastRead: 2, unread: 0, members: 2, role: 'member' });
  assert.ok(!(await browse(a)).some((c) => c.id === id), 'DMs are not browsable');

  // members may fetch it with channel:join; others may not; nobody leaves it
  assert.strictEqual(ok(await request(b.socket, 'channel:join', { channel: id })).channel.id, id);
  const x = await as(uid('cyd'));
  fails(await request(x.socket, 'channel:join', { channel: id }), 'forbidden', id);
  fails(await request(a.socket, 'channel:leave', { channel: id }), 'forbidden', id);
  fails(await request(a.socket, 'channel:invite', { channel: id, user: x.user }), 'bad_request', 'direct message');
  fails(await request(a.socket, 'invite:create', { channel: id }), 'bad_request', 'direct message');
  await noEvents(b, 'member:joined', 'member:left');
  assert.strictEqual(await channelSeq(a, id), 2);
});

test('dm:open: both sides at once make one channel; self, unknown and bad users', async () => {
  const ua = uid('gil'), ub = uid('hob');
  const a = await as(ua);
  const b = await as(ub);
  const [ra, rb] = await Promise.all([
    request(a.socket, 'dm:open', { user: ub }),
    request(b.socket, 'dm:open', { user: ua }),
  ]);
  ok(ra);
  ok(rb);
  assert.deepStrictEqual(ra.channel, rb.channel);
  assert.strictEqual(ra.channel.seq, 2);

  fails(await request(a.socket, 'dm:open', { user: ua }), 'bad_request', 'user');
  fails(await request(a.socket, 'dm:open', { user: 'never-seen' }), 'not_found', 'never-seen');
  for (const bad of [undefined, null, 9, '', 'Caps', 'x'.repeat(65), 'a:b'])
    fails(await request(a.socket, 'dm:open', { user: bad }), 'bad_request', 'user');
  assert.strictEqual((await mine(a)).filter((c) => c.kind === 'dm').length, 1);
});

test('after a reconnect the socket is in its channels without re-joining', async () => {
  const ua = uid('ivy'), ub = uid('jay');
  const a = await as(ua);
  const id = uid('sticky');
  const pid = uid('stickyp');
  ok(await request(a.socket, 'channel:create', { id, kind: 'public' }));
  ok(await request(a.socket, 'channel:create', { id: pid, kind: 'private' }));
  a.socket.disconnect();
  const back = await as(ua);
  const ids = back.ready.channels.map((c) => c.id);
  assert.ok(ids.includes(id) && ids.includes(pid));
  const b = await as(ub);
  ok(await request(b.socket, 'channel:join', { channel: id }));
  assert.deepStrictEqual(await expectEvent(back, 'member:joined'), memberEvent(id, 2, ub));
  ok(await request(back.socket, 'channel:invite', { channel: pid, user: ub }));
  assert.deepStrictEqual(await expectEvent(b, 'member:joined'), memberEvent(pid, 2, ub));
  const m = ok(await request(b.socket, 'message:send', { channel: pid, clientId: 'r1', text: 'still there?' })).message;
  assert.deepStrictEqual(await expectEvent(back, 'message:new', pid), m);
});

test('the server exits cleanly', async () => {
  const code = await p.stop();
  assert.strictEqual(code, 0, 'exit 0, no sanitizer report:\n' + p.stderr().slice(-3000));
});

test('channels, memberships, invites and DMs survive a restart; seqs continue', async () => {
  p = await startParley({ env: ENV });
  try {
    const a = await as('ann');
    const b = await as('bob');
    const c = await as('cat');
    ok(await request(a.socket, 'channel:create', { id: 'pub', kind: 'public', name: 'Pub', topic: 'tp' }));
    ok(await request(a.socket, 'channel:create', { id: 'priv', kind: 'private' }));
    ok(await request(b.socket, 'channel:join', { channel: 'pub' }));
    ok(await request(a.socket, 'channel:invite', { channel: 'priv', user: 'bob' }));
    const { code } = ok(await request(a.socket, 'invite:create', { channel: 'priv' }));
    ok(await request(a.socket, 'dm:open', { user: 'bob' }));
    ok(await request(c.socket, 'channel:join', { channel: 'pub' }));
    ok(await request(c.socket, 'channel:leave', { channel: 'pub' }));
    const beforeA = await mine(a);
    const beforeBrowse = await browse(a);

    await p.restart();

    const a2 = await as('ann');
    const b2 = await as('bob');
    const c2 = await as('cat');
    assert.deepStrictEqual(await mine(a2), beforeA);
    assert.deepStrictEqual(await browse(a2), beforeBrowse);
    const ready = a2.ready.channels.map((x) => x.id).sort();
    assert.deepStrictEqual(ready, ['dm:ann:bob', 'general', 'priv', 'pub']);
    assert.deepStrictEqual(b2.ready.channels.map((x) => x.id).sort(), ['dm:ann:bob', 'general', 'priv', 'pub']);
    assert.deepStrictEqual(c2.ready.channels.map((x) => x.id).sort(), ['general']);
    const pub = beforeA.find((x) => x.id === 'pub');
    assert.deepStrictEqual(pub, { id: 'pub', name: 'Pub', kind: 'public', topic: 'tp', seq: 4, lastRead: 1, unread: 0, members: 2, role: 'owner' });
    // ready says the role too, as the store kept it
    const roles = (r) => Object.fromEntries(r.ready.channels.map((x) => [x.id, x.role]));
    assert.deepStrictEqual(roles(a2), { 'dm:ann:bob': 'member', general: 'member', priv: 'owner', pub: 'owner' });
    assert.deepStrictEqual(roles(b2).pub, 'member');

    // the model came back: permissions, conflicts, codes and rooms
    fails(await request(a2.socket, 'channel:create', { id: 'priv', kind: 'public' }), 'conflict', 'priv');
    fails(await request(b2.socket, 'channel:invite', { channel: 'priv', user: 'cat' }), 'forbidden', 'priv');
    fails(await request(c2.socket, 'channel:join', { channel: 'priv' }), 'forbidden', 'priv');
    assert.strictEqual(ok(await request(b2.socket, 'dm:open', { user: 'ann' })).channel.seq, 2);
    ok(await request(c2.socket, 'channel:join', { channel: 'pub' }));
    for (const s of [a2, b2]) assert.deepStrictEqual(await expectEvent(s, 'member:joined'), memberEvent('pub', 5, 'cat'));
    const acc = ok(await request(c2.socket, 'invite:accept', { code }));
    assert.strictEqual(acc.channel.seq, 3);
    for (const s of [a2, b2]) assert.deepStrictEqual(await expectEvent(s, 'member:joined'), memberEvent('priv', 3, 'cat'));
    const m = ok(await request(c2.socket, 'message:send', { channel: 'priv', clientId: 'after', text: 'hi' })).message;
    assert.strictEqual(m.seq, 4);
    for (const s of [a2, b2]) assert.deepStrictEqual(await expectEvent(s, 'message:new', 'priv'), m);
  } finally {
    const code = await p.stop();
    assert.strictEqual(code, 0, 'exit 0, no sanitizer report:\n' + p.stderr().slice(-3000));
  }
});

run();
