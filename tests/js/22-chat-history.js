// 22-chat-history: history:get and channel:sync against the real server —
// paging with hasMore, limits, every bad input, permissions, not found;
// sync returns exactly what was broadcast ({type, ...payload}) in seq order;
// and messages, seqs and idempotency keys survive a restart (SIGTERM and
// kill -9).
'use strict';
const assert = require('assert');
const { test, run } = require('./lib/harness');
const { startParley, request, withParley } = require('./lib/parley');

// Rate limits out of the way: these tests send hundreds of messages.
const FAST = { env: { PARLEY_SEND_RATE: '100000', PARLEY_SEND_BURST: '100000', PARLEY_EVENT_RATE: '100000', PARLEY_EVENT_BURST: '100000' } };

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

async function ok(promise) {
  const r = await promise;
  assert.strictEqual(r.ok, true, JSON.stringify(r).slice(0, 300));
  return r;
}

const send = (s, channel, clientId, text, extra = {}) =>
  ok(request(s, 'message:send', { channel, clientId, text, ...extra }));

// Sends n messages "<prefix><i>" one after another; returns the messages.
async function sendMany(s, channel, prefix, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push((await send(s, channel, `${prefix}${i}`, `${prefix}${i}`)).message);
  return out;
}

const range = (from, n) => Array.from({ length: n }, (_, k) => from + k);

test('history:get: newest page by default, oldest first, paging with before and hasMore, limits', async () => {
  await withParley(FAST, async (p) => {
    const a = await p.connect({ user: 'alice', name: 'Alice' });
    const c = await p.connect({ user: 'carol', name: 'Carol' });
    await ok(request(a.socket, 'channel:create', { id: 'hist', kind: 'public' }));
    const sent = await sendMany(a.socket, 'hist', 'm', 120);
    const first = sent[0].seq;
    assert.deepStrictEqual(sent.map((m) => m.seq), range(first, 120));

    const p1 = await ok(request(a.socket, 'history:get', { channel: 'hist' }));
    assert.strictEqual(p1.messages.length, 50, 'default limit 50');
    assert.strictEqual(p1.hasMore, true);
    assert.deepStrictEqual(p1.messages, sent.slice(70), 'the newest 50, oldest first, as sent');
    const p2 = await ok(request(a.socket, 'history:get', { channel: 'hist', before: p1.messages[0].seq }));
    assert.deepStrictEqual(p2.messages, sent.slice(20, 70));
    assert.strictEqual(p2.hasMore, true);
    const p3 = await ok(request(a.socket, 'history:get', { channel: 'hist', before: p2.messages[0].seq }));
    assert.deepStrictEqual(p3.messages, sent.slice(0, 20));
    assert.strictEqual(p3.hasMore, false, 'nothing older');

    const big = await ok(request(a.socket, 'history:get', { channel: 'hist', limit: 100 }));
    assert.deepStrictEqual(big.messages, sent.slice(20));
    const one = await ok(request(a.socket, 'history:get', { channel: 'hist', limit: 1, before: sent[10].seq }));
    assert.deepStrictEqual(one.messages, [sent[9]]);
    assert.strictEqual(one.hasMore, true);
    const past = await ok(request(a.socket, 'history:get', { channel: 'hist', before: sent[119].seq + 1000 }));
    assert.deepStrictEqual(past.messages, sent.slice(70), 'before beyond the end = newest');
    const none = await ok(request(a.socket, 'history:get', { channel: 'hist', before: 1 }));
    assert.deepStrictEqual(none, { ok: true, messages: [], hasMore: false });

    const cases = [
      ['limit 0', { channel: 'hist', limit: 0 }, 'bad_request', /limit/],
      ['limit 101', { channel: 'hist', limit: 101 }, 'bad_request', /limit/],
      ['limit negative', { channel: 'hist', limit: -1 }, 'bad_request', /limit/],
      ['limit a string', { channel: 'hist', limit: '10' }, 'bad_request', /limit/],
      ['limit fractional', { channel: 'hist', limit: 1.5 }, 'bad_request', /limit/],
      ['before 0', { channel: 'hist', before: 0 }, 'bad_request', /before/],
      ['before negative', { channel: 'hist', before: -5 }, 'bad_request', /before/],
      ['before a string', { channel: 'hist', before: 'x' }, 'bad_request', /before/],
      ['channel missing', {}, 'bad_request', /channel/],
      ['channel bad id', { channel: 'Hist' }, 'bad_request', /channel/],
      ['unknown channel', { channel: 'nope' }, 'not_found', /nope/],
    ];
    for (const [what, payload, code, re] of cases)
      expectError(await request(a.socket, 'history:get', payload), code, re, what);
    expectError(await request(c.socket, 'history:get', { channel: 'hist' }), 'forbidden', /hist/, 'not a member');
    assert.ok(a.socket.connected && c.socket.connected);
  });
});

test('channel:sync: exactly the broadcast events in seq order, paging, limits and errors', async () => {
  await withParley(FAST, async (p) => {
    const a = await p.connect({ user: 'alice', name: 'Alice' });
    const b = await p.connect({ user: 'bob', name: 'Bob' });
    const c = await p.connect({ user: 'carol', name: 'Carol' });
    await ok(request(a.socket, 'channel:create', { id: 'sync', kind: 'public' }));
    await ok(request(b.socket, 'channel:join', { channel: 'sync' }));
    // everything bob receives about the channel from now on
    const seen = [];
    for (const e of ['message:new', 'message:updated', 'message:deleted', 'reaction:updated', 'member:joined', 'member:left'])
      b.socket.on(e, (x) => { if (x.channel === 'sync') seen.push({ type: e, ...x }); });
    const joinSeq = (await ok(request(b.socket, 'channel:sync', { channel: 'sync', after: 0 }))).events.pop().seq;

    const [m1, m2, m3] = await sendMany(a.socket, 'sync', 's', 3);
    await ok(request(a.socket, 'message:edit', { channel: 'sync', id: m1.id, text: 's0 edited' }));
    await ok(request(a.socket, 'reaction:add', { channel: 'sync', id: m2.id, emoji: '🎉' }));
    await ok(request(c.socket, 'channel:join', { channel: 'sync' }));
    await ok(request(a.socket, 'message:delete', { channel: 'sync', id: m3.id }));
    await ok(request(c.socket, 'channel:leave', { channel: 'sync' }));
    const last = (await send(a.socket, 'sync', 'tail', 'the end')).message;
    // bob's ack-less view is complete once his own request round-trips
    const all = await ok(request(b.socket, 'channel:sync', { channel: 'sync', after: joinSeq }));
    assert.strictEqual(all.hasMore, false);
    assert.deepStrictEqual(all.events.map((e) => e.seq), range(joinSeq + 1, last.seq - joinSeq));
    assert.deepStrictEqual(all.events.map((e) => e.type), ['message:new', 'message:new', 'message:new', 'message:updated',
      'reaction:updated', 'member:joined', 'message:deleted', 'member:left', 'message:new']);
    // identical to what was broadcast, except that the deleted message's
    // words are gone from the log too
    assert.strictEqual(seen.length, all.events.length);
    for (let i = 0; i < seen.length; i++) {
      if (seen[i].type === 'message:new' && seen[i].id === m3.id) {
        assert.strictEqual(all.events[i].deleted, true);
        assert.strictEqual(all.events[i].text, '');
        assert.deepStrictEqual({ ...all.events[i], text: m3.text, deleted: undefined }, { ...seen[i], deleted: undefined });
      } else {
        assert.deepStrictEqual(all.events[i], seen[i], `event ${i} (${seen[i].type})`);
      }
    }

    // paging with limit: the pages add up to the whole
    const pages = [];
    let after = 0, more = true, rounds = 0;
    while (more) {
      const r = await ok(request(b.socket, 'channel:sync', { channel: 'sync', after, limit: 4 }));
      assert.ok(r.events.length <= 4);
      pages.push(...r.events);
      more = r.hasMore;
      if (r.events.length) after = r.events[r.events.length - 1].seq;
      assert.ok(++rounds < 20);
    }
    assert.deepStrictEqual(pages.map((e) => e.seq), range(1, last.seq));
    assert.deepStrictEqual(await ok(request(b.socket, 'channel:sync', { channel: 'sync', after: last.seq })),
      { ok: true, events: [], hasMore: false });
    assert.deepStrictEqual(await ok(request(b.socket, 'channel:sync', { channel: 'sync', after: last.seq + 100 })),
      { ok: true, events: [], hasMore: false });
    await ok(request(b.socket, 'channel:sync', { channel: 'sync', after: 0, limit: 500 }));

    const cases = [
      ['after missing', { channel: 'sync' }, 'bad_request', /after/],
      ['after negative', { channel: 'sync', after: -1 }, 'bad_request', /after/],
      ['after a string', { channel: 'sync', after: '3' }, 'bad_request', /after/],
      ['limit 0', { channel: 'sync', after: 0, limit: 0 }, 'bad_request', /limit/],
      ['limit 501', { channel: 'sync', after: 0, limit: 501 }, 'bad_request', /limit/],
      ['channel missing', { after: 0 }, 'bad_request', /channel/],
      ['unknown channel', { channel: 'nope', after: 0 }, 'not_found', /nope/],
    ];
    for (const [what, payload, code, re] of cases)
      expectError(await request(b.socket, 'channel:sync', payload), code, re, what);
    expectError(await request(c.socket, 'channel:sync', { channel: 'sync', after: 0 }), 'forbidden', /sync/, 'not a member (any more)');
  });
});

test('channel:sync: 500 events per page by default, hasMore until the end', async () => {
  await withParley(FAST, async (p) => {
    const a = await p.connect({ user: 'alice', name: 'Alice' });
    await ok(request(a.socket, 'channel:create', { id: 'busy', kind: 'public' }));
    // 600 messages, 100 in flight at a time
    for (let k = 0; k < 6; k++)
      await Promise.all(range(k * 100, 100).map((i) => send(a.socket, 'busy', `b${i}`, `b${i}`)));
    const p1 = await ok(request(a.socket, 'channel:sync', { channel: 'busy', after: 0 }));
    assert.strictEqual(p1.events.length, 500);
    assert.strictEqual(p1.hasMore, true);
    const p2 = await ok(request(a.socket, 'channel:sync', { channel: 'busy', after: 500 }));
    assert.strictEqual(p2.hasMore, false);
    assert.deepStrictEqual([...p1.events, ...p2.events].map((e) => e.seq), range(1, 601), 'member:joined + 600 messages');
    const texts = new Set(p2.events.concat(p1.events).filter((e) => e.type === 'message:new').map((e) => e.text));
    assert.strictEqual(texts.size, 600);
  });
});

test('messages, seqs and clientIds survive a restart and kill -9; seq continues', async () => {
  await withParley({}, async (p) => {
    let a = await p.connect({ user: 'alice', name: 'Alice' });
    const before = await sendMany(a.socket, 'general', 'r', 5);
    await p.restart();
    a = await p.connect({ user: 'alice', name: 'Alice' });
    const last = before[4].seq;
    assert.strictEqual(seqOf(a.ready, 'general'), last, 'ready reports the stored seq');
    const h = await ok(request(a.socket, 'history:get', { channel: 'general' }));
    assert.deepStrictEqual(h.messages, before);
    const dup = await ok(request(a.socket, 'message:send', { channel: 'general', clientId: 'r2', text: 'again' }));
    assert.strictEqual(dup.duplicate, true, 'the idempotency key outlives the process');
    assert.deepStrictEqual(dup.message, before[2]);
    const next = (await send(a.socket, 'general', 'after-restart', 'new')).message;
    assert.strictEqual(next.seq, last + 1, 'seq continues after a restart');

    // an acknowledged message survives kill -9
    const acked = await sendMany(a.socket, 'general', 'k', 3);
    await p.restart('SIGKILL');
    a = await p.connect({ user: 'alice', name: 'Alice' });
    assert.strictEqual(seqOf(a.ready, 'general'), acked[2].seq);
    const evs = await ok(request(a.socket, 'channel:sync', { channel: 'general', after: 0 }));
    assert.deepStrictEqual(evs.events.map((e) => e.seq), range(1, acked[2].seq), 'no gap, no duplicate');
    assert.deepStrictEqual(evs.events.slice(-3).map(({ type, ...m }) => m), acked);
    const after = (await send(a.socket, 'general', 'after-kill', 'still counting')).message;
    assert.strictEqual(after.seq, acked[2].seq + 1);
  });
});

run();
