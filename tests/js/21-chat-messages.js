// 21-chat-messages: message:send, message:edit, message:delete, reaction:add
// and reaction:remove against the real server: acks and broadcasts (not to
// the sending socket, to the sender's other sockets), every bad input with
// its precise code and field and nothing changed, permissions, not found,
// idempotent retries, seq continuity under 50 concurrent senders, the
// per-user send rate limit, and typing stopping when the message arrives.
'use strict';
const assert = require('assert');
const { test, run } = require('./lib/harness');
const { startParley, request, next, withParley, recorder, barrier } = require('./lib/parley');

function expectError(r, code, re, what) {
  assert.strictEqual(r.ok, false, `${what}: expected ${code}, got ${JSON.stringify(r)}`);
  assert.strictEqual(r.error.code, code, `${what}: ${JSON.stringify(r)}`);
  assert.match(r.error.message, re, `${what}: message names the field`);
}

function seqOf(ready, channel) {
  const ch = ready.channels.find((c) => c.id === channel);
  assert.ok(ch, `ready lists ${channel}`);
  return ch.seq;
}

// Events after seq in channel, through channel:sync.
async function eventsAfter(socket, channel, after) {
  const r = await request(socket, 'channel:sync', { channel, after });
  assert.strictEqual(r.ok, true, JSON.stringify(r));
  return r.events;
}

const send = (s, channel, clientId, text, extra = {}) =>
  request(s, 'message:send', { channel, clientId, text, ...extra });

function withoutType(ev) {
  const { type, ...rest } = ev;
  return rest;
}

test('message:send: the ack carries the message; others and the sender\'s other sockets get message:new, the sending socket does not', async () => {
  await withParley({}, async (p) => {
    const a1 = await p.connect({ user: 'alice', name: 'Alice' });
    const b = await p.connect({ user: 'bob', name: 'Bob' });
    const a2 = await p.connect({ user: 'alice', name: 'Alice' });
    const base = seqOf(a2.ready, 'general');
    const own = recorder(a1.socket, ['message:new']);
    const atBob = next(b.socket, 'message:new');
    const atA2 = next(a2.socket, 'message:new');
    const before = Date.now();
    const r = await send(a1.socket, 'general', 'c-1', 'hello, world ✓');
    const after = Date.now();
    assert.strictEqual(r.ok, true, JSON.stringify(r));
    const m = r.message;
    assert.deepStrictEqual(Object.keys(m).sort(),
      ['author', 'channel', 'clientId', 'id', 'reactions', 'seq', 'text', 'ts']);
    assert.ok(typeof m.id === 'string' && m.id.length > 0);
    assert.strictEqual(m.channel, 'general');
    assert.strictEqual(m.seq, base + 1);
    assert.ok(m.ts >= before - 1000 && m.ts <= after + 1000, `ts ${m.ts} is the server clock now`);
    assert.deepStrictEqual(m.author, { id: 'alice', name: 'Alice' });
    assert.strictEqual(m.text, 'hello, world ✓');
    assert.strictEqual(m.clientId, 'c-1');
    assert.deepStrictEqual(m.reactions, {});
    assert.deepStrictEqual(await atBob, m);
    assert.deepStrictEqual(await atA2, m);
    await barrier(a1.socket);
    assert.deepStrictEqual(own, [], 'the sending socket gets no copy of its own message');
    // persisted as the event that was broadcast
    const evs = await eventsAfter(b.socket, 'general', base);
    assert.deepStrictEqual(evs, [{ type: 'message:new', ...m }]);
  });
});

test('message:send: replyTo a message of the same channel; otherwise not_found', async () => {
  await withParley({}, async (p) => {
    const a = await p.connect({ user: 'alice', name: 'Alice' });
    const b = await p.connect({ user: 'bob', name: 'Bob' });
    const created = await request(a.socket, 'channel:create', { id: 'other', kind: 'public' });
    assert.strictEqual(created.ok, true, JSON.stringify(created));
    const elsewhere = await send(a.socket, 'other', 'o-1', 'in another channel');
    assert.strictEqual(elsewhere.ok, true);
    const m1 = (await send(a.socket, 'general', 'g-1', 'question?')).message;
    const atAlice = next(a.socket, 'message:new');
    const reply = await send(b.socket, 'general', 'g-2', 'answer', { replyTo: m1.id });
    assert.strictEqual(reply.ok, true, JSON.stringify(reply));
    assert.strictEqual(reply.message.replyTo, m1.id);
    assert.deepStrictEqual(await atAlice, reply.message);
    const seq = reply.message.seq;
    expectError(await send(b.socket, 'general', 'g-3', 'x', { replyTo: 'nosuchmessage' }),
      'not_found', /replyTo/, 'unknown replyTo');
    expectError(await send(b.socket, 'general', 'g-4', 'x', { replyTo: elsewhere.message.id }),
      'not_found', /replyTo/, 'replyTo in another channel');
    assert.deepStrictEqual(await eventsAfter(a.socket, 'general', seq), [], 'nothing persisted');
    // the refused clientIds are free: nothing was stored under them
    const again = await send(b.socket, 'general', 'g-3', 'now fine');
    assert.strictEqual(again.ok, true);
    assert.strictEqual(again.duplicate, undefined);
    assert.strictEqual(again.message.seq, seq + 1);
  });
});

test('message:send: each bad input is refused with its code and field; nothing changes; the connection stays', async () => {
  await withParley({}, async (p) => {
    const a = await p.connect({ user: 'alice', name: 'Alice' });
    const b = await p.connect({ user: 'bob', name: 'Bob' });
    const c = await p.connect({ user: 'carol', name: 'Carol' });
    const secret = await request(c.socket, 'channel:create', { id: 'secret', kind: 'private' });
    assert.strictEqual(secret.ok, true, JSON.stringify(secret));
    const base = seqOf(c.ready, 'general');
    const atBob = recorder(b.socket, ['message:new']);
    const ok = { channel: 'general', clientId: 'k', text: 'hi' };
    const cases = [
      ['channel missing', { clientId: 'k', text: 'hi' }, 'bad_request', /channel/],
      ['channel not a string', { ...ok, channel: 42 }, 'bad_request', /channel/],
      ['channel bad id', { ...ok, channel: 'Not An Id!' }, 'bad_request', /channel/],
      ['channel too long', { ...ok, channel: 'a'.repeat(65) }, 'bad_request', /channel/],
      ['channel bad dm id', { ...ok, channel: 'dm:Alice' }, 'bad_request', /channel/],
      ['clientId missing', { channel: 'general', text: 'hi' }, 'bad_request', /clientId/],
      ['clientId empty', { ...ok, clientId: '' }, 'bad_request', /clientId/],
      ['clientId not a string', { ...ok, clientId: 5 }, 'bad_request', /clientId/],
      ['clientId too long', { ...ok, clientId: 'x'.repeat(65) }, 'bad_request', /clientId/],
      ['text missing', { channel: 'general', clientId: 'k' }, 'bad_request', /text/],
      ['text null', { ...ok, text: null }, 'bad_request', /text/],
      ['text empty', { ...ok, text: '' }, 'bad_request', /text/],
      ['text not a string', { ...ok, text: 42 }, 'bad_request', /text/],
      ['text an object', { ...ok, text: { a: 1 } }, 'bad_request', /text/],
      ['text with NUL', { ...ok, text: 'a\u0000b' }, 'bad_request', /text/],
      ['text 4001 characters', { ...ok, text: 'a'.repeat(4001) }, 'too_large', /text.*4000 characters/],
      ['text over 10 KiB', { ...ok, text: '€'.repeat(3413) + 'ab' }, 'too_large', /text.*10240 bytes/],
      ['text 4000 emoji (16000 bytes)', { ...ok, text: '😀'.repeat(4000) }, 'too_large', /text/],
      ['replyTo not a string', { ...ok, replyTo: 5 }, 'bad_request', /replyTo/],
      ['replyTo empty', { ...ok, replyTo: '' }, 'bad_request', /replyTo/],
      ['replyTo too long', { ...ok, replyTo: 'm'.repeat(65) }, 'bad_request', /replyTo/],
      ['unknown channel', { ...ok, channel: 'nope' }, 'not_found', /nope/],
      ['not a member', { ...ok, channel: 'secret' }, 'forbidden', /secret/],
    ];
    for (const [what, payload, code, re] of cases)
      expectError(await request(a.socket, 'message:send', payload), code, re, what);
    expectError(await request(a.socket, 'message:send', 'just a string'), 'bad_request', /payload/, 'payload not an object');
    assert.ok(a.socket.connected, 'a bad request never closes the connection');
    assert.deepStrictEqual(await eventsAfter(b.socket, 'general', base), [], 'nothing persisted');
    await barrier(b.socket);
    assert.deepStrictEqual(atBob, [], 'nothing broadcast');
    // the limits themselves are allowed, and 'k' was never taken
    const longest = await send(a.socket, 'general', 'k', 'a'.repeat(4000));
    assert.strictEqual(longest.ok, true, JSON.stringify(longest).slice(0, 200));
    assert.strictEqual(longest.message.seq, base + 1);
    const heaviest = await send(a.socket, 'general', 'k2', '€'.repeat(3413) + 'a'); // 10240 bytes
    assert.strictEqual(heaviest.ok, true, JSON.stringify(heaviest).slice(0, 200));
    const astral = await send(a.socket, 'general', 'k3', '😀'.repeat(2560)); // 2560 chars, 10240 bytes
    assert.strictEqual(astral.ok, true, JSON.stringify(astral).slice(0, 200));
    assert.strictEqual(astral.message.seq, base + 3);
  });
});

test('message:send: a retry with the same clientId returns the original with duplicate:true and broadcasts nothing', async () => {
  await withParley({}, async (p) => {
    const a1 = await p.connect({ user: 'alice', name: 'Alice' });
    const a2 = await p.connect({ user: 'alice', name: 'Alice' });
    const b = await p.connect({ user: 'bob', name: 'Bob' });
    const atBob = recorder(b.socket, ['message:new']);
    const atA2 = recorder(a2.socket, ['message:new']);
    const first = await send(a1.socket, 'general', 'once', 'exactly once');
    assert.strictEqual(first.ok, true);
    assert.strictEqual(first.duplicate, undefined, 'a first send is no duplicate');
    const retry = await send(a1.socket, 'general', 'once', 'exactly once');
    assert.strictEqual(retry.ok, true);
    assert.strictEqual(retry.duplicate, true);
    assert.deepStrictEqual(retry.message, first.message);
    const changed = await send(a2.socket, 'general', 'once', 'different text, same key');
    assert.strictEqual(changed.duplicate, true, 'from another socket of the same user too');
    assert.deepStrictEqual(changed.message, first.message, 'the original, not the new text');
    // the same clientId from another user is another message
    const bobs = await send(b.socket, 'general', 'once', 'bob\'s own');
    assert.strictEqual(bobs.ok, true);
    assert.strictEqual(bobs.duplicate, undefined);
    assert.strictEqual(bobs.message.seq, first.message.seq + 1, 'retries took no seq');
    // two sends of one key at the same time: one message
    const [x, y] = await Promise.all([send(a1.socket, 'general', 'race', 'r'), send(a1.socket, 'general', 'race', 'r')]);
    assert.ok(x.ok && y.ok);
    assert.strictEqual(x.message.id, y.message.id);
    assert.strictEqual([x.duplicate, y.duplicate].filter(Boolean).length, 1);
    await barrier(b.socket);
    await barrier(a2.socket);
    assert.deepStrictEqual(atBob.map((r) => r.a.id), [first.message.id, x.message.id]);
    assert.deepStrictEqual(atA2.map((r) => r.a.id), [first.message.id, bobs.message.id, x.message.id]);
    const evs = await eventsAfter(b.socket, 'general', first.message.seq - 1);
    assert.deepStrictEqual(evs.map((e) => e.seq), [first.message.seq, first.message.seq + 1, first.message.seq + 2]);
  });
});

test('message:send: 50 concurrent senders: every ack ok, seqs contiguous with no gap or duplicate, broadcast in order', async () => {
  const SENDERS = 50, EACH = 20;
  await withParley({}, async (p) => {
    const watcher = await p.connect({ user: 'watcher', name: 'Watcher' });
    const clients = [];
    for (let i = 0; i < SENDERS; i++) clients.push(await p.connect({ user: `u${i}`, name: `User ${i}` }));
    const base = seqOf(clients[SENDERS - 1].ready, 'general');
    const seen = recorder(watcher.socket, ['message:new']);
    const acks = await Promise.all(clients.map((c, i) => Promise.all(
      Array.from({ length: EACH }, (_, j) => send(c.socket, 'general', `m${j}`, `u${i} says ${j}`)))));
    const all = acks.flat();
    for (const r of all) assert.strictEqual(r.ok, true, JSON.stringify(r));
    const seqs = all.map((r) => r.message.seq).sort((a, b) => a - b);
    const want = Array.from({ length: SENDERS * EACH }, (_, k) => base + 1 + k);
    assert.deepStrictEqual(seqs, want, 'seqs base+1..base+N, each once');
    assert.strictEqual(new Set(all.map((r) => r.message.id)).size, SENDERS * EACH, 'distinct ids');
    await barrier(watcher.socket);
    assert.deepStrictEqual(seen.map((r) => r.a.seq), want, 'the watcher got every message once, in seq order');
    // and the log agrees
    const page1 = await request(watcher.socket, 'channel:sync', { channel: 'general', after: base });
    const page2 = await request(watcher.socket, 'channel:sync', { channel: 'general', after: base + 500 });
    assert.strictEqual(page1.hasMore, true);
    assert.strictEqual(page2.hasMore, false);
    assert.deepStrictEqual([...page1.events, ...page2.events].map((e) => e.seq), want);
  });
});

test('message:edit: the author edits (event in the ack, message:updated to others); errors change nothing', async () => {
  await withParley({}, async (p) => {
    const a = await p.connect({ user: 'alice', name: 'Alice' });
    const b = await p.connect({ user: 'bob', name: 'Bob' });
    const c = await p.connect({ user: 'carol', name: 'Carol' });
    await request(c.socket, 'channel:create', { id: 'secret', kind: 'private' });
    const m = (await send(a.socket, 'general', 'e1', 'typo hree')).message;
    const own = recorder(a.socket, ['message:updated']);
    const atBob = recorder(b.socket, ['message:updated']);
    const r = await request(a.socket, 'message:edit', { channel: 'general', id: m.id, text: 'typo here' });
    assert.strictEqual(r.ok, true, JSON.stringify(r));
    const ev = r.event;
    assert.deepStrictEqual(Object.keys(ev).sort(), ['channel', 'editedAt', 'id', 'seq', 'text', 'type']);
    assert.strictEqual(ev.type, 'message:updated');
    assert.strictEqual(ev.channel, 'general');
    assert.strictEqual(ev.id, m.id);
    assert.strictEqual(ev.seq, m.seq + 1);
    assert.strictEqual(ev.text, 'typo here');
    assert.ok(ev.editedAt >= m.ts);
    const ok = { channel: 'general', id: m.id, text: 'x' };
    const cases = [
      ['not the author', b, ok, 'forbidden', /author/],
      ['id missing', a, { channel: 'general', text: 'x' }, 'bad_request', /\bid\b/],
      ['id not a string', a, { ...ok, id: 7 }, 'bad_request', /\bid\b/],
      ['id too long', a, { ...ok, id: 'i'.repeat(65) }, 'bad_request', /\bid\b/],
      ['text empty', a, { ...ok, text: '' }, 'bad_request', /text/],
      ['text missing', a, { channel: 'general', id: m.id }, 'bad_request', /text/],
      ['text too long', a, { ...ok, text: 'a'.repeat(4001) }, 'too_large', /text/],
      ['channel missing', a, { id: m.id, text: 'x' }, 'bad_request', /channel/],
      ['unknown message', a, { ...ok, id: 'nosuchmessage' }, 'not_found', /nosuchmessage/],
      ['unknown channel', a, { ...ok, channel: 'nope' }, 'not_found', /nope/],
      ['not a member', a, { ...ok, channel: 'secret' }, 'forbidden', /secret/],
    ];
    for (const [what, who, payload, code, re] of cases)
      expectError(await request(who.socket, 'message:edit', payload), code, re, what);
    await barrier(b.socket);
    await barrier(a.socket);
    assert.deepStrictEqual(atBob.map((x) => x.a), [withoutType(ev)], 'bob got the one update, as acked');
    assert.deepStrictEqual(own, [], 'the editing socket gets no broadcast');
    assert.deepStrictEqual(await eventsAfter(a.socket, 'general', ev.seq), [], 'errors persisted nothing');
    const h = await request(b.socket, 'history:get', { channel: 'general' });
    const now = h.messages.find((x) => x.id === m.id);
    assert.strictEqual(now.text, 'typo here');
    assert.strictEqual(now.editedAt, ev.editedAt);
  });
});

test('message:delete: the author or a channel owner deletes; others may not; a second delete is unchanged', async () => {
  await withParley({}, async (p) => {
    const a = await p.connect({ user: 'alice', name: 'Alice' });
    const b = await p.connect({ user: 'bob', name: 'Bob' });
    const c = await p.connect({ user: 'carol', name: 'Carol' });
    assert.strictEqual((await request(c.socket, 'channel:create', { id: 'team', kind: 'public' })).ok, true);
    assert.strictEqual((await request(a.socket, 'channel:join', { channel: 'team' })).ok, true);
    assert.strictEqual((await request(b.socket, 'channel:join', { channel: 'team' })).ok, true);
    const b1 = (await send(b.socket, 'team', 'b1', 'first')).message;
    const b2 = (await send(b.socket, 'team', 'b2', 'second')).message;
    const atAlice = recorder(a.socket, ['message:deleted']);
    expectError(await request(a.socket, 'message:delete', { channel: 'team', id: b1.id }),
      'forbidden', /owner\/admin/, 'a plain member deleting another\'s message');
    const r = await request(b.socket, 'message:delete', { channel: 'team', id: b1.id });
    assert.strictEqual(r.ok, true, JSON.stringify(r));
    assert.deepStrictEqual(r.event, { type: 'message:deleted', channel: 'team', id: b1.id, seq: b2.seq + 1 });
    const again = await request(b.socket, 'message:delete', { channel: 'team', id: b1.id });
    assert.deepStrictEqual(again, { ok: true, unchanged: true });
    const byOwner = await request(c.socket, 'message:delete', { channel: 'team', id: b2.id });
    assert.strictEqual(byOwner.ok, true, JSON.stringify(byOwner));
    assert.strictEqual(byOwner.event.seq, b2.seq + 2, 'the unchanged delete took no seq');
    expectError(await request(b.socket, 'message:edit', { channel: 'team', id: b1.id, text: 'back' }),
      'not_found', /message/, 'editing a deleted message');
    expectError(await request(a.socket, 'reaction:add', { channel: 'team', id: b1.id, emoji: '👍' }),
      'not_found', /message/, 'reacting to a deleted message');
    expectError(await request(b.socket, 'message:delete', { channel: 'team', id: 'nosuchmessage' }),
      'not_found', /nosuchmessage/, 'unknown message');
    expectError(await request(b.socket, 'message:delete', { channel: 'team' }),
      'bad_request', /\bid\b/, 'id missing');
    expectError(await request(b.socket, 'message:delete', { channel: 'nope', id: b1.id }),
      'not_found', /nope/, 'unknown channel');
    await barrier(a.socket);
    assert.deepStrictEqual(atAlice.map((x) => x.a), [withoutType(r.event), withoutType(byOwner.event)]);
    const h = await request(a.socket, 'history:get', { channel: 'team' });
    const gone = h.messages.find((x) => x.id === b1.id);
    assert.strictEqual(gone.deleted, true);
    assert.strictEqual(gone.text, '');
    assert.deepStrictEqual(await eventsAfter(a.socket, 'team', byOwner.event.seq), []);
  });
});

test('reaction:add / reaction:remove: events with op, unchanged repeats, emoji validation', async () => {
  await withParley({}, async (p) => {
    const a = await p.connect({ user: 'alice', name: 'Alice' });
    const b = await p.connect({ user: 'bob', name: 'Bob' });
    const c = await p.connect({ user: 'carol', name: 'Carol' });
    await request(c.socket, 'channel:create', { id: 'secret', kind: 'private' });
    const m = (await send(a.socket, 'general', 'r1', 'react to me')).message;
    const atAlice = recorder(a.socket, ['reaction:updated']);
    const own = recorder(b.socket, ['reaction:updated']);
    const add = await request(b.socket, 'reaction:add', { channel: 'general', id: m.id, emoji: '👍' });
    assert.strictEqual(add.ok, true, JSON.stringify(add));
    assert.deepStrictEqual(add.event, { type: 'reaction:updated', channel: 'general', id: m.id, seq: m.seq + 1, emoji: '👍', user: 'bob', op: 'add' });
    assert.deepStrictEqual(await request(b.socket, 'reaction:add', { channel: 'general', id: m.id, emoji: '👍' }),
      { ok: true, unchanged: true });
    const mine = await request(a.socket, 'reaction:add', { channel: 'general', id: m.id, emoji: '👍' });
    assert.strictEqual(mine.event.seq, m.seq + 2);
    const long = await request(b.socket, 'reaction:add', { channel: 'general', id: m.id, emoji: 'a'.repeat(32) });
    assert.strictEqual(long.ok, true, '32 characters is the limit');
    let h = await request(b.socket, 'history:get', { channel: 'general' });
    assert.deepStrictEqual(h.messages.find((x) => x.id === m.id).reactions, { '👍': ['bob', 'alice'], ['a'.repeat(32)]: ['bob'] });
    const rm = await request(b.socket, 'reaction:remove', { channel: 'general', id: m.id, emoji: '👍' });
    assert.deepStrictEqual(rm.event, { type: 'reaction:updated', channel: 'general', id: m.id, seq: m.seq + 4, emoji: '👍', user: 'bob', op: 'remove' });
    assert.deepStrictEqual(await request(b.socket, 'reaction:remove', { channel: 'general', id: m.id, emoji: '👍' }),
      { ok: true, unchanged: true });
    const ok = { channel: 'general', id: m.id, emoji: '🎉' };
    const cases = [
      ['emoji missing', { channel: 'general', id: m.id }, 'bad_request', /emoji/],
      ['emoji empty', { ...ok, emoji: '' }, 'bad_request', /emoji/],
      ['emoji not a string', { ...ok, emoji: 5 }, 'bad_request', /emoji/],
      ['emoji 33 characters', { ...ok, emoji: 'a'.repeat(33) }, 'bad_request', /emoji/],
      ['emoji over 64 bytes', { ...ok, emoji: '😀'.repeat(17) }, 'bad_request', /emoji/],
      ['emoji with a space', { ...ok, emoji: 'a b' }, 'bad_request', /emoji/],
      ['emoji with a newline', { ...ok, emoji: '\n' }, 'bad_request', /emoji/],
      ['id missing', { channel: 'general', emoji: '🎉' }, 'bad_request', /\bid\b/],
      ['unknown message', { ...ok, id: 'nosuchmessage' }, 'not_found', /nosuchmessage/],
      ['unknown channel', { ...ok, channel: 'nope' }, 'not_found', /nope/],
      ['not a member', { ...ok, channel: 'secret' }, 'forbidden', /secret/],
    ];
    for (const ev of ['reaction:add', 'reaction:remove'])
      for (const [what, payload, code, re] of cases)
        expectError(await request(b.socket, ev, payload), code, re, `${ev}: ${what}`);
    await barrier(a.socket);
    await barrier(b.socket);
    assert.deepStrictEqual(atAlice.map((x) => x.a), [add.event, long.event, rm.event].map(withoutType));
    assert.deepStrictEqual(own.map((x) => x.a), [withoutType(mine.event)], 'bob saw only alice\'s reaction');
    assert.deepStrictEqual(await eventsAfter(a.socket, 'general', rm.event.seq), []);
    h = await request(b.socket, 'history:get', { channel: 'general' });
    assert.deepStrictEqual(h.messages.find((x) => x.id === m.id).reactions, { '👍': ['alice'], ['a'.repeat(32)]: ['bob'] });
  });
});

test('message:send: past the per-user rate some sends are rate_limited with retryAfterMs, and stored nothing', async () => {
  await withParley({}, async (p) => {
    const a1 = await p.connect({ user: 'alice', name: 'Alice' });
    const a2 = await p.connect({ user: 'alice', name: 'Alice' });
    const base = seqOf(a2.ready, 'general');
    // the limit is per user: both sockets draw from one bucket
    const all = await Promise.all(Array.from({ length: 25 }, (_, i) => send(i % 2 ? a2.socket : a1.socket, 'general', `rl${i}`, `n${i}`)));
    const ok = all.filter((r) => r.ok), limited = all.filter((r) => !r.ok);
    assert.ok(ok.length >= 20, `the burst of 20 passes (got ${ok.length})`);
    assert.ok(limited.length >= 1, 'some were refused');
    for (const r of limited) {
      assert.strictEqual(r.error.code, 'rate_limited', JSON.stringify(r));
      assert.match(r.error.message, /message:send/);
      assert.ok(Number.isInteger(r.error.retryAfterMs) && r.error.retryAfterMs >= 1 && r.error.retryAfterMs <= 1000,
        `retryAfterMs ${r.error.retryAfterMs}`);
    }
    const evs = await eventsAfter(a1.socket, 'general', base);
    assert.strictEqual(evs.length, ok.length, 'only accepted sends were stored');
    assert.deepStrictEqual(evs.map((e) => e.seq), ok.map((r) => r.message.seq).sort((x, y) => x - y));
    // after the advised wait a send goes through
    const wait = Math.max(...limited.map((r) => r.error.retryAfterMs));
    await new Promise((r) => setTimeout(r, wait));
    const later = await send(a1.socket, 'general', 'later', 'after waiting');
    assert.strictEqual(later.ok, true, JSON.stringify(later));
    assert.ok(a1.socket.connected && a2.socket.connected);
  });
});

test('message:send: the author\'s typing indicator stops when the message arrives', async () => {
  await withParley({}, async (p) => {
    const a = await p.connect({ user: 'alice', name: 'Alice' });
    const b = await p.connect({ user: 'bob', name: 'Bob' });
    const started = next(b.socket, 'typing', (t) => t.typing === true);
    a.socket.emit('typing:start', { channel: 'general' });
    assert.deepStrictEqual(await started, { channel: 'general', user: { id: 'alice', name: 'Alice' }, typing: true });
    const order = [];
    b.socket.on('message:new', () => order.push('message:new'));
    const stopped = next(b.socket, 'typing', (t) => t.typing === false);
    b.socket.on('typing', (t) => { if (!t.typing) order.push('typing:false'); });
    const r = await send(a.socket, 'general', 't1', 'done typing');
    assert.strictEqual(r.ok, true);
    assert.deepStrictEqual(await stopped, { channel: 'general', user: { id: 'alice', name: 'Alice' }, typing: false });
    assert.deepStrictEqual(order, ['message:new', 'typing:false']);
  });
});

run();
