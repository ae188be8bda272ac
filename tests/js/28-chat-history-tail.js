// 28-chat-history-tail: the per-channel history tail (src/chat/tail.c)
// against the real server. Every history:get and channel:join answer equals
// the store's truth — a model built from the acknowledged events in seq
// order, which is also checked against the store's event log
// (channel:sync) — after sends, edits, deletes and reactions, inside the
// tail, at its boundary and beyond it; paging back through more messages
// than the tail holds gives every message once (no gap, no duplicate) with
// hasMore exact; after a restart (SIGTERM and kill -9) the rebuilt tail
// answers the same pages; a tail that loads while writes land stays equal.
// Also prints the time of 1,000 history:get answered from the tail and of
// 1,000 answered by the store (printed, not asserted).
'use strict';
const assert = require('assert');
const { test, run, readProcStat } = require('./lib/harness');
const { startParley, request, withParley } = require('./lib/parley');

const TAIL = 200; // CHAT_TAIL_MESSAGES in src/chat/tail.h
const FAST = { env: { PARLEY_SEND_RATE: '100000', PARLEY_SEND_BURST: '100000', PARLEY_EVENT_RATE: '100000', PARLEY_EVENT_BURST: '100000' } };

async function ok(promise) {
  const r = await promise;
  assert.strictEqual(r.ok, true, JSON.stringify(r).slice(0, 300));
  return r;
}

// The channel's messages as the store holds them, built the way a client
// would: every committed event applied in seq order (acks from several
// sockets arrive in any order, so events are sorted first). Authors carry
// their current names, as history does.
class Model {
  constructor() { this.events = new Map(); this.names = {}; }
  add(ev) {
    const prev = this.events.get(ev.seq);
    if (prev) assert.deepStrictEqual(prev, ev, `two events with seq ${ev.seq}`);
    this.events.set(ev.seq, ev);
  }
  message(m) { this.add({ type: 'message:new', ...m }); }
  list() {
    const byId = new Map();
    for (const ev of [...this.events.values()].sort((x, y) => x.seq - y.seq)) {
      if (ev.type === 'message:new') {
        const { type, ...m } = ev;
        byId.set(m.id, JSON.parse(JSON.stringify(m)));
        continue;
      }
      const m = byId.get(ev.id);
      if (!m) continue; // member events
      if (ev.type === 'message:updated') {
        m.text = ev.text;
        m.editedAt = ev.editedAt;
      } else if (ev.type === 'message:deleted') {
        m.text = '';
        m.deleted = true;
        m.reactions = {};
      } else if (ev.type === 'reaction:updated') {
        const users = m.reactions[ev.emoji] || [];
        const i = users.indexOf(ev.user);
        if (ev.op === 'add' && i < 0) users.push(ev.user);
        if (ev.op === 'remove' && i >= 0) users.splice(i, 1);
        if (users.length) m.reactions[ev.emoji] = users;
        else delete m.reactions[ev.emoji];
      }
    }
    return [...byId.values()].sort((x, y) => x.seq - y.seq)
      .map((m) => ({ ...m, author: { id: m.author.id, name: this.names[m.author.id] || m.author.name } }));
  }
  page(before, limit, all = this.list()) {
    const older = before ? all.filter((m) => m.seq < before) : all;
    const messages = older.slice(Math.max(0, older.length - limit));
    return { ok: true, messages, hasMore: older.length > messages.length };
  }
}

function samePage(got, want, what) {
  if (got.hasMore !== want.hasMore || got.messages.length !== want.messages.length)
    assert.fail(`${what}: got ${got.messages.length} messages hasMore ${got.hasMore}, want ${want.messages.length} hasMore ${want.hasMore}` +
      ` (seqs ${got.messages.map((m) => m.seq).join(',')} vs ${want.messages.map((m) => m.seq).join(',')})`);
  for (let i = 0; i < want.messages.length; i++)
    assert.deepStrictEqual(got.messages[i], want.messages[i], `${what}: message ${i} (seq ${want.messages[i].seq})`);
  assert.deepStrictEqual(got, want, what);
}

// Pages back through the whole channel with several limits, each page
// compared with the model; the pages together hold every message once.
// Then the pages around the tail's boundary, one by one.
async function compareAll(s, channel, model, what) {
  const all = model.list();
  for (const limit of [50, 100, 37, 1]) {
    let before = 0;
    const seen = [];
    for (;;) {
      const req = { channel, limit };
      if (before) req.before = before;
      const r = await ok(request(s, 'history:get', req));
      samePage(r, model.page(before, limit, all), `${what}: limit ${limit} before ${before}`);
      seen.unshift(...r.messages.map((m) => m.seq));
      if (!r.hasMore) break;
      before = r.messages[0].seq;
    }
    assert.deepStrictEqual(seen, all.map((m) => m.seq), `${what}: limit ${limit}: every message once, in order`);
  }
  if (all.length > TAIL) {
    const edge = all[all.length - TAIL].seq; // the oldest message the tail holds
    for (const before of [edge - 1, edge, edge + 1, all[all.length - TAIL + 1].seq, edge + 2])
      for (const limit of [1, 2, 3, 50, 100]) {
        const r = await ok(request(s, 'history:get', { channel, before, limit }));
        samePage(r, model.page(before, limit, all), `${what}: boundary: before ${before} limit ${limit}`);
      }
  }
  const join = await ok(request(s, 'channel:join', { channel }));
  samePage({ ok: true, messages: join.messages, hasMore: all.length > 50 }, model.page(0, 50, all), `${what}: channel:join`);
}

// The store's own event log, replayed, must give the same messages as the
// acknowledged events did (so the model really is the store's truth).
async function checkAgainstLog(s, channel, model, what) {
  const log = new Model();
  log.names = model.names;
  let after = 0;
  for (;;) {
    const r = await ok(request(s, 'channel:sync', { channel, after }));
    for (const e of r.events) log.add(e);
    if (!r.hasMore) break;
    after = r.events[r.events.length - 1].seq;
  }
  assert.deepStrictEqual(log.list(), model.list(), `${what}: the model equals the store's log`);
}

// Sends n messages from the sockets in turn, `parallel` at a time.
async function sendMany(model, sockets, channel, prefix, n, parallel = 25) {
  const sent = [];
  for (let i = 0; i < n; i += parallel) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + parallel); j++) {
      const s = sockets[j % sockets.length];
      batch.push(ok(request(s, 'message:send', { channel, clientId: `${prefix}${j}`, text: `${prefix} ${j}` })));
    }
    for (const r of await Promise.all(batch)) {
      model.message(r.message);
      sent.push(r.message);
    }
  }
  return sent.sort((x, y) => x.seq - y.seq);
}

// A request on a message; its event (if it changed anything) goes to the model.
async function change(model, s, event, payload) {
  const r = await ok(request(s, event, payload));
  if (r.event) model.add(r.event);
  return r;
}

test('pages equal the store after sends, edits, deletes and reactions, across the tail boundary and restarts', async () => {
  await withParley(FAST, async (p) => {
    const model = new Model();
    model.names = { alice: 'Alice', bob: 'Bob', carol: 'Carol' };
    let a = await p.connect({ user: 'alice', name: 'Alice' });
    let b = await p.connect({ user: 'bob', name: 'Bob' });
    let c = await p.connect({ user: 'carol', name: 'Carol' });
    await ok(request(a.socket, 'channel:create', { id: 'tail', kind: 'public' }));
    await ok(request(b.socket, 'channel:join', { channel: 'tail' }));
    await ok(request(c.socket, 'channel:join', { channel: 'tail' }));

    // A few messages, read (the tail loads, complete), then more than the
    // tail holds, sent while it is cached.
    let sent = await sendMany(model, [a.socket, b.socket, c.socket], 'tail', 'early', 30);
    await compareAll(a.socket, 'tail', model, 'complete tail');
    sent = sent.concat(await sendMany(model, [a.socket, b.socket, c.socket], 'tail', 'm', TAIL + 40));
    assert.strictEqual(model.list().length, TAIL + 70);
    await compareAll(b.socket, 'tail', model, 'past the tail');

    let sock = { alice: a.socket, bob: b.socket, carol: c.socket };
    const by = (m) => sock[m.author.id];
    const newest = sent[sent.length - 1], inside = sent[sent.length - 10];
    const edge = sent[sent.length - TAIL], beyond = sent[sent.length - TAIL - 1], first = sent[0];
    // Inside the tail, at its oldest message, just beyond it, and the first.
    for (const m of [newest, inside, edge, beyond, first]) {
      await change(model, by(m), 'message:edit', { channel: 'tail', id: m.id, text: `edited ${m.seq}` });
      await change(model, a.socket, 'reaction:add', { channel: 'tail', id: m.id, emoji: '+1' });
      await change(model, b.socket, 'reaction:add', { channel: 'tail', id: m.id, emoji: '+1' });
      await change(model, c.socket, 'reaction:add', { channel: 'tail', id: m.id, emoji: '🎉' });
      await change(model, a.socket, 'reaction:remove', { channel: 'tail', id: m.id, emoji: '+1' });
      await change(model, a.socket, 'reaction:add', { channel: 'tail', id: m.id, emoji: '+1' }); // after bob now
      await change(model, c.socket, 'reaction:add', { channel: 'tail', id: m.id, emoji: 'x' });
      await change(model, c.socket, 'reaction:remove', { channel: 'tail', id: m.id, emoji: 'x' }); // emoji gone
      const same = await change(model, b.socket, 'reaction:add', { channel: 'tail', id: m.id, emoji: '+1' });
      assert.strictEqual(same.unchanged, true);
    }
    await change(model, by(inside), 'message:edit', { channel: 'tail', id: inside.id, text: 'edited twice' });
    // Reactions from three sockets at once on one message: the order of
    // the users is the commit order, whatever order the acks come in.
    await Promise.all(['alice', 'bob', 'carol'].map((u) =>
      change(model, sock[u], 'reaction:add', { channel: 'tail', id: newest.id, emoji: 'race' })));
    await compareAll(c.socket, 'tail', model, 'after edits and reactions');
    // Deletes (the owner may delete anyone's): text and reactions go.
    for (const m of [inside, edge, beyond, sent[sent.length - 2]])
      await change(model, a.socket, 'message:delete', { channel: 'tail', id: m.id });
    const again = await change(model, a.socket, 'message:delete', { channel: 'tail', id: inside.id });
    assert.strictEqual(again.unchanged, true);
    await compareAll(a.socket, 'tail', model, 'after deletes');
    await checkAgainstLog(a.socket, 'tail', model, 'before the restarts');

    // A rename shows on old messages (the store joins the current name).
    a.socket.disconnect();
    a = await p.connect({ user: 'alice', name: 'Alice Liddell' });
    model.names.alice = 'Alice Liddell';
    await compareAll(b.socket, 'tail', model, 'after a rename');
    const pagesBefore = [];
    for (const before of [0, edge.seq, beyond.seq, first.seq + 1])
      pagesBefore.push(await ok(request(b.socket, 'history:get', { channel: 'tail', before: before || undefined, limit: 100 })));

    // Restarts: the tail is rebuilt from the store and answers the same.
    for (const signal of ['SIGTERM', 'SIGKILL']) {
      await p.restart(signal);
      a = await p.connect({ user: 'alice', name: 'Alice Liddell' });
      b = await p.connect({ user: 'bob', name: 'Bob' });
      c = await p.connect({ user: 'carol', name: 'Carol' });
      sock = { alice: a.socket, bob: b.socket, carol: c.socket };
      const pagesAfter = [];
      for (const before of [0, edge.seq, beyond.seq, first.seq + 1])
        pagesAfter.push(await ok(request(b.socket, 'history:get', { channel: 'tail', before: before || undefined, limit: 100 })));
      assert.deepStrictEqual(pagesAfter, pagesBefore, `${signal}: the same pages as before the restart`);
      await compareAll(c.socket, 'tail', model, `after ${signal}`);
    }
    // And the rebuilt tail keeps up with new writes.
    const more = await sendMany(model, [a.socket, b.socket, c.socket], 'tail', 'late', 15);
    await change(model, c.socket, 'reaction:add', { channel: 'tail', id: more[3].id, emoji: '+1' });
    await change(model, by(more[3]), 'message:edit', { channel: 'tail', id: more[3].id, text: 'late edit' });
    await change(model, a.socket, 'message:delete', { channel: 'tail', id: more[5].id });
    await compareAll(a.socket, 'tail', model, 'after the restarts and more writes');
    await checkAgainstLog(a.socket, 'tail', model, 'at the end');
  });
});

test('a tail that loads while writes land stays equal to the store', async () => {
  await withParley(FAST, async (p) => {
    const model = new Model();
    model.names = { alice: 'Alice', bob: 'Bob', carol: 'Carol', dave: 'Dave' };
    const users = ['alice', 'bob', 'carol'];
    let conns = [];
    for (const u of users) conns.push(await p.connect({ user: u, name: model.names[u] }));
    await ok(request(conns[0].socket, 'channel:create', { id: 'race', kind: 'public' }));
    for (const x of conns.slice(1)) await ok(request(x.socket, 'channel:join', { channel: 'race' }));
    const seed = await sendMany(model, conns.map((x) => x.socket), 'race', 'seed', 60);

    for (let round = 0; round < 3; round++) {
      // A fresh server has no tail: the first reads below load it while
      // the writes are committing.
      await p.restart();
      conns = [];
      for (const u of users) conns.push(await p.connect({ user: u, name: model.names[u] }));
      const reader = await p.connect({ user: 'dave', name: 'Dave' });
      if (round === 0) await ok(request(reader.socket, 'channel:join', { channel: 'race' }));
      const recent = seed.slice(-8);
      const writes = [];
      conns.forEach((x, i) => {
        writes.push((async () => {
          for (let k = 0; k < 6; k++) {
            const m = recent[(k + i) % recent.length];
            await change(model, x.socket, k % 3 === 2 ? 'reaction:remove' : 'reaction:add', { channel: 'race', id: m.id, emoji: k % 2 ? 'a' : 'b' });
            const r = await ok(request(x.socket, 'message:send', { channel: 'race', clientId: `r${round}-${i}-${k}`, text: `round ${round}` }));
            model.message(r.message);
            if (k === 3) await change(model, x.socket, 'message:edit', { channel: 'race', id: r.message.id, text: 'edited at once' });
          }
        })());
      });
      const reads = [];
      for (let k = 0; k < 20; k++) reads.push(ok(request(reader.socket, 'history:get', { channel: 'race', limit: 100 })));
      await Promise.all(writes);
      for (const r of await Promise.all(reads)) {
        const seqs = r.messages.map((m) => m.seq);
        assert.deepStrictEqual(seqs, [...new Set(seqs)].sort((x, y) => x - y), 'each page in seq order, no duplicate');
      }
      await compareAll(reader.socket, 'race', model, `round ${round}`);
    }
    await checkAgainstLog(conns[0].socket, 'race', model, 'race');
  });
});

test('timing: 1,000 history:get answered from the tail and by the store (printed)', async () => {
  await withParley(FAST, async (p) => {
    const model = new Model();
    const a = await p.connect({ user: 'alice', name: 'Alice' });
    await ok(request(a.socket, 'channel:create', { id: 'bench', kind: 'public' }));
    const sent = await sendMany(model, [a.socket], 'bench', 'b', TAIL + 100, 50);
    // The newest 50 (in the tail) against 50 older than the tail: the
    // same size of page, the second read by the store's reader threads as
    // every page was before the tail.
    const older = sent[60].seq;
    const want = { newest: model.page(0, 50), older: model.page(older, 50) };
    const variants = [['tail (no before)', {}, want.newest], ['store (before older than the tail)', { before: older }, want.older]];
    const report = [];
    for (const [name, extra, expected] of variants) {
      samePage(await ok(request(a.socket, 'history:get', { channel: 'bench', ...extra })), expected, name); // warm
      const cpu0 = readProcStat(p.pid).cpuMs;
      let t = process.hrtime.bigint();
      for (let i = 0; i < 1000; i++) await request(a.socket, 'history:get', { channel: 'bench', ...extra });
      const seqMs = Number(process.hrtime.bigint() - t) / 1e6;
      const cpu1 = readProcStat(p.pid).cpuMs;
      // 100 in flight at a time: 1,000 pages at once (~10 MB of answers)
      // would pass the per-socket output cap, and the server would rightly
      // drop the slow reader.
      t = process.hrtime.bigint();
      for (let i = 0; i < 10; i++) {
        const batch = await Promise.all(Array.from({ length: 100 }, () => request(a.socket, 'history:get', { channel: 'bench', ...extra })));
        if (i === 0) samePage(batch[99], expected, name);
      }
      const parMs = Number(process.hrtime.bigint() - t) / 1e6;
      const cpu2 = readProcStat(p.pid).cpuMs;
      report.push(`  ${name}: 1,000 one after another ${seqMs.toFixed(0)} ms (${seqMs.toFixed(0)} µs each, server CPU ${cpu1 - cpu0} ms);` +
        ` 1,000 as 10 x 100 in flight ${parMs.toFixed(0)} ms (server CPU ${cpu2 - cpu1} ms)`);
    }
    console.log(`# history:get timing (50 messages a page, binary in ${process.env.PARLEY_BUILD_DIR || 'build'}):\n` + report.map((l) => '#' + l).join('\n'));
  });
});

run();
