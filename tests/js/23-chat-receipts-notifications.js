// 23-chat-receipts-notifications: read:mark (monotonic, `read` to the other
// sockets only when it moved, unread counts in channel:list and `ready`) and
// notifications (mention, reply, dm, reaction: live to every socket of the
// user after the commit, kept for offline users and counted in `ready`,
// notification:list paging, notification:read), with every bad input.
'use strict';
const assert = require('assert');
const { test, run } = require('./lib/harness');
const { startParley, request, next, withParley, recorder, barrier } = require('./lib/parley');

function expectError(r, code, re, what) {
  assert.strictEqual(r.ok, false, `${what}: expected ${code}, got ${JSON.stringify(r)}`);
  assert.strictEqual(r.error.code, code, `${what}: ${JSON.stringify(r)}`);
  assert.match(r.error.message, re, `${what}: message names the field`);
}

function channelOf(list, id) {
  const ch = list.find((c) => c.id === id);
  assert.ok(ch, `${id} is listed`);
  return ch;
}

async function ok(promise) {
  const r = await promise;
  assert.strictEqual(r.ok, true, JSON.stringify(r).slice(0, 300));
  return r;
}

let keys = 0;
const send = (s, channel, text, extra = {}) =>
  ok(request(s, 'message:send', { channel, clientId: `k${++keys}`, text, ...extra })).then((r) => r.message);

async function unread(socket, channel) {
  const r = await ok(request(socket, 'channel:list', {}));
  const ch = channelOf(r.channels, channel);
  return { lastRead: ch.lastRead, unread: ch.unread };
}

test('read:mark: moves forward only, `read` to the other sockets when it moved, unread counts in channel:list and ready', async () => {
  await withParley({}, async (p) => {
    const a = await p.connect({ user: 'alice', name: 'Alice' });
    const b1 = await p.connect({ user: 'bob', name: 'Bob' });
    const b2 = await p.connect({ user: 'bob', name: 'Bob' });
    const c = await p.connect({ user: 'carol', name: 'Carol' });
    await ok(request(c.socket, 'channel:create', { id: 'secret', kind: 'private' }));
    const joined = channelOf(b1.ready.channels, 'general');
    assert.strictEqual(joined.lastRead, joined.seq, 'a new member has read up to their join');
    assert.strictEqual(joined.unread, 0);
    const ms = [await send(a.socket, 'general', 'one'), await send(a.socket, 'general', 'two'), await send(a.socket, 'general', 'three')];
    const s = ms[0].seq;
    assert.deepStrictEqual(await unread(b1.socket, 'general'), { lastRead: joined.seq, unread: 3 });
    assert.deepStrictEqual(await unread(a.socket, 'general'), { lastRead: channelOf(a.ready.channels, 'general').lastRead, unread: 0 },
      'one\'s own messages are never unread');

    const atAlice = recorder(a.socket, ['read']);
    const atB2 = recorder(b2.socket, ['read']);
    const own = recorder(b1.socket, ['read']);
    const r = await ok(request(b1.socket, 'read:mark', { channel: 'general', seq: s + 1 }));
    assert.deepStrictEqual(r, { ok: true, lastRead: s + 1 });
    assert.deepStrictEqual(await unread(b1.socket, 'general'), { lastRead: s + 1, unread: 1 });
    // backwards: no move, no event
    assert.deepStrictEqual(await ok(request(b2.socket, 'read:mark', { channel: 'general', seq: s })), { ok: true, lastRead: s + 1 });
    assert.deepStrictEqual(await ok(request(b2.socket, 'read:mark', { channel: 'general', seq: s + 1 })), { ok: true, lastRead: s + 1 });
    const ok2 = { channel: 'general', seq: s };
    const cases = [
      ['seq beyond the channel', { ...ok2, seq: s + 3 }, 'bad_request', /seq/],
      ['seq missing', { channel: 'general' }, 'bad_request', /seq/],
      ['seq a string', { ...ok2, seq: '5' }, 'bad_request', /seq/],
      ['seq negative', { ...ok2, seq: -1 }, 'bad_request', /seq/],
      ['seq fractional', { ...ok2, seq: 1.5 }, 'bad_request', /seq/],
      ['channel missing', { seq: s }, 'bad_request', /channel/],
      ['channel bad id', { ...ok2, channel: 'A B' }, 'bad_request', /channel/],
      ['unknown channel', { ...ok2, channel: 'nope' }, 'not_found', /nope/],
      ['not a member', { ...ok2, channel: 'secret' }, 'forbidden', /secret/],
    ];
    for (const [what, payload, code, re] of cases)
      expectError(await request(b1.socket, 'read:mark', payload), code, re, what);
    for (const sk of [a, b1, b2]) await barrier(sk.socket);
    const ev = { channel: 'general', user: 'bob', seq: s + 1 };
    assert.deepStrictEqual(atAlice.map((x) => x.a), [ev], 'others hear of the move once');
    assert.deepStrictEqual(atB2.map((x) => x.a), [ev], 'so do the reader\'s other devices');
    assert.deepStrictEqual(own, [], 'not the marking socket');
    assert.deepStrictEqual(await unread(b1.socket, 'general'), { lastRead: s + 1, unread: 1 }, 'errors changed nothing');

    // the next connection's ready has the same numbers
    const b3 = await p.connect({ user: 'bob', name: 'Bob' });
    const g = channelOf(b3.ready.channels, 'general');
    assert.strictEqual(g.lastRead, s + 1);
    assert.strictEqual(g.unread, 1);
    await ok(request(b3.socket, 'read:mark', { channel: 'general', seq: ms[2].seq }));
    assert.deepStrictEqual(await unread(b1.socket, 'general'), { lastRead: ms[2].seq, unread: 0 });
    // deleted messages are not unread
    const gone = await send(a.socket, 'general', 'oops');
    await ok(request(a.socket, 'message:delete', { channel: 'general', id: gone.id }));
    assert.strictEqual((await unread(b1.socket, 'general')).unread, 0);
  });
});

const NOTIFICATION_KEYS = ['channel', 'from', 'id', 'kind', 'messageId', 'read', 'ts'];

test('notifications: mention, reply, dm and reaction, live to every socket of the user, never to the actor', async () => {
  await withParley({}, async (p) => {
    const a = await p.connect({ user: 'alice', name: 'Alice' });
    const b1 = await p.connect({ user: 'bob', name: 'Bob' });
    const b2 = await p.connect({ user: 'bob', name: 'Bob' });
    const c = await p.connect({ user: 'carol', name: 'Carol' });
    const d = await p.connect({ user: 'dave', name: 'Dave' });
    const got = {
      alice: recorder(a.socket, ['notification']), bob1: recorder(b1.socket, ['notification']),
      bob2: recorder(b2.socket, ['notification']), carol: recorder(c.socket, ['notification']),
      dave: recorder(d.socket, ['notification']),
    };
    const settle = async () => { for (const s of [a, b1, b2, c, d]) await barrier(s.socket); };
    const take = () => { const out = {}; for (const k in got) out[k] = got[k].splice(0).map((x) => x.a); return out; };

    // mentions: members only, not yourself, any case, with punctuation
    const before = Date.now();
    const m1 = await send(a.socket, 'general', 'hi @bob and (@Carol), not @nobody or @alice or mail@dave');
    await settle();
    let n = take();
    assert.strictEqual(n.bob1.length, 1);
    assert.deepStrictEqual(Object.keys(n.bob1[0]).sort(), NOTIFICATION_KEYS);
    assert.ok(Number.isInteger(n.bob1[0].id));
    assert.ok(n.bob1[0].ts >= before - 1000 && n.bob1[0].ts <= Date.now() + 1000);
    assert.deepStrictEqual({ ...n.bob1[0], id: 0, ts: 0 },
      { id: 0, kind: 'mention', channel: 'general', messageId: m1.id, from: { id: 'alice', name: 'Alice' }, ts: 0, read: false });
    assert.deepStrictEqual(n.bob2, n.bob1, 'every socket of the user');
    assert.strictEqual(n.carol.length, 1);
    assert.strictEqual(n.carol[0].kind, 'mention');
    assert.deepStrictEqual([n.alice, n.dave], [[], []], 'not the author, not an address that merely contains @dave');

    // a reply notifies the replied-to author; a reply that also mentions gives one notification
    const r1 = await send(b1.socket, 'general', 'sure', { replyTo: m1.id });
    const r2 = await send(c.socket, 'general', 'me too @alice.', { replyTo: m1.id });
    const self = await send(a.socket, 'general', 'replying to myself', { replyTo: m1.id });
    await settle();
    n = take();
    assert.deepStrictEqual(n.alice.map((x) => [x.kind, x.messageId, x.from.id]), [['reply', r1.id, 'bob'], ['mention', r2.id, 'carol']]);
    assert.deepStrictEqual([n.bob1, n.carol, n.dave], [[], [], []]);
    assert.ok(self.id);

    // a DM notifies the other user
    const dm = await ok(request(a.socket, 'dm:open', { user: 'bob' }));
    const dmId = dm.channel.id;
    assert.strictEqual(dmId, 'dm:alice:bob');
    const inDm = await send(a.socket, dmId, 'psst');
    await settle();
    n = take();
    assert.deepStrictEqual(n.bob1.map((x) => [x.kind, x.channel, x.messageId, x.from.id]), [['dm', dmId, inDm.id, 'alice']]);
    assert.deepStrictEqual(n.bob2, n.bob1);
    assert.deepStrictEqual([n.alice, n.carol, n.dave], [[], [], []]);
    // mentioned in a DM: one notification, a mention
    const both = await send(a.socket, dmId, '@bob look');
    await settle();
    assert.deepStrictEqual(take().bob1.map((x) => [x.kind, x.messageId]), [['mention', both.id]]);

    // reactions notify the author, not for their own, not for removals
    await ok(request(c.socket, 'reaction:add', { channel: 'general', id: m1.id, emoji: '👀' }));
    await ok(request(a.socket, 'reaction:add', { channel: 'general', id: m1.id, emoji: '👀' }));
    await ok(request(c.socket, 'reaction:remove', { channel: 'general', id: m1.id, emoji: '👀' }));
    await settle();
    n = take();
    assert.deepStrictEqual(n.alice.map((x) => [x.kind, x.channel, x.messageId, x.from]),
      [['reaction', 'general', m1.id, { id: 'carol', name: 'Carol' }]]);
    assert.deepStrictEqual([n.bob1, n.carol, n.dave], [[], [], []]);

    // a mention of someone outside the channel notifies nobody
    await ok(request(a.socket, 'channel:create', { id: 'team', kind: 'private' }));
    await send(a.socket, 'team', 'hey @dave');
    await settle();
    assert.deepStrictEqual(take().dave, []);

    // what was delivered is also stored
    const list = await ok(request(b1.socket, 'notification:list', {}));
    assert.deepStrictEqual(list.notifications.map((x) => x.kind), ['mention', 'dm', 'mention'], 'newest first');
    assert.strictEqual(list.hasMore, false);
  });
});

test('notifications: kept while offline, counted in ready, listed with paging, marked read', async () => {
  await withParley({}, async (p) => {
    const a = await p.connect({ user: 'alice', name: 'Alice' });
    let b = await p.connect({ user: 'bob', name: 'Bob' });
    const c = await p.connect({ user: 'carol', name: 'Carol' });
    assert.deepStrictEqual(b.ready.notifications, { unread: 0 });
    const gone = new Promise((resolve) => b.socket.once('disconnect', resolve));
    b.socket.disconnect();
    await gone;
    const ms = [];
    for (let i = 0; i < 3; i++) ms.push(await send(a.socket, 'general', `@bob number ${i}`));
    b = await p.connect({ user: 'bob', name: 'Bob' });
    assert.deepStrictEqual(b.ready.notifications, { unread: 3 }, 'offline notifications are counted on connect');

    const all = await ok(request(b.socket, 'notification:list', {}));
    assert.strictEqual(all.hasMore, false);
    assert.deepStrictEqual(all.notifications.map((x) => x.messageId), [ms[2].id, ms[1].id, ms[0].id], 'newest first');
    for (const x of all.notifications) {
      assert.deepStrictEqual(Object.keys(x).sort(), NOTIFICATION_KEYS);
      assert.strictEqual(x.read, false);
      assert.strictEqual(x.kind, 'mention');
    }
    const ids = all.notifications.map((x) => x.id);
    assert.ok(ids[0] > ids[1] && ids[1] > ids[2]);
    const pg1 = await ok(request(b.socket, 'notification:list', { limit: 2 }));
    assert.deepStrictEqual(pg1.notifications.map((x) => x.id), ids.slice(0, 2));
    assert.strictEqual(pg1.hasMore, true);
    const pg2 = await ok(request(b.socket, 'notification:list', { limit: 2, before: ids[1] }));
    assert.deepStrictEqual(pg2.notifications.map((x) => x.id), ids.slice(2));
    assert.strictEqual(pg2.hasMore, false);

    assert.deepStrictEqual(await ok(request(b.socket, 'notification:read', { ids: [ids[1]] })), { ok: true, unread: 2 });
    const unreadOnly = await ok(request(b.socket, 'notification:list', { unreadOnly: true }));
    assert.deepStrictEqual(unreadOnly.notifications.map((x) => x.id), [ids[0], ids[2]]);
    const mixed = await ok(request(b.socket, 'notification:list', {}));
    assert.deepStrictEqual(mixed.notifications.map((x) => x.read), [false, true, false]);
    // someone else's ids and unknown ids are ignored
    assert.deepStrictEqual(await ok(request(c.socket, 'notification:read', { ids: [ids[0], 987654] })), { ok: true, unread: 0 });
    assert.deepStrictEqual(await ok(request(b.socket, 'notification:read', { ids: [ids[1], 987654] })), { ok: true, unread: 2 });

    const cases = [
      ['notification:read', {}, /ids/],
      ['notification:read', { ids: 'x' }, /ids/],
      ['notification:read', { ids: [] }, /ids/],
      ['notification:read', { ids: ['a'] }, /ids/],
      ['notification:read', { ids: [0] }, /ids/],
      ['notification:read', { ids: [1.5] }, /ids/],
      ['notification:read', { ids: Array.from({ length: 1001 }, (_, i) => i + 1) }, /ids/],
      ['notification:read', { ids: [ids[0]], all: true }, /ids|all/],
      ['notification:read', { all: 'yes' }, /all/],
      ['notification:read', { all: false }, /ids/],
      ['notification:list', { limit: 0 }, /limit/],
      ['notification:list', { limit: 101 }, /limit/],
      ['notification:list', { limit: 'x' }, /limit/],
      ['notification:list', { before: 0 }, /before/],
      ['notification:list', { before: 'x' }, /before/],
      ['notification:list', { unreadOnly: 'yes' }, /unreadOnly/],
    ];
    for (const [ev, payload, re] of cases)
      expectError(await request(b.socket, ev, payload), 'bad_request', re, `${ev} ${JSON.stringify(payload).slice(0, 40)}`);
    assert.strictEqual((await ok(request(b.socket, 'notification:list', { unreadOnly: true }))).notifications.length, 2,
      'bad requests changed nothing');

    assert.deepStrictEqual(await ok(request(b.socket, 'notification:read', { all: true })), { ok: true, unread: 0 });
    const b2 = await p.connect({ user: 'bob', name: 'Bob' });
    assert.deepStrictEqual(b2.ready.notifications, { unread: 0 });
    // a live notification for an online user is counted too
    const live = next(b2.socket, 'notification');
    await send(a.socket, 'general', 'ping @bob');
    assert.strictEqual((await live).read, false);
    const b3 = await p.connect({ user: 'bob', name: 'Bob' });
    assert.deepStrictEqual(b3.ready.notifications, { unread: 1 });
  });
});

run();
