// 22-chat-sync-budget: one channel:sync answer stays well inside the
// connection's output cap (a quarter of --max-output): with large messages
// the answer stops early with hasMore, and paging on returns everything,
// in order, once — the client is never cut off by its own catch-up.
'use strict';
const assert = require('assert');
const { startParley, request } = require('./lib/parley');
const { test, run } = require('./lib/harness');

let p;

test('start with a 64 KiB output cap', async () => {
  p = await startParley({ args: ['--max-output', '64K'] });
});

test('sync pages by bytes and loses nothing', async () => {
  const a = await p.connect({ user: 'writer' });
  const base = (await request(a.socket, 'channel:sync', { channel: 'general', after: 0 })).events.length;
  const big = 'x'.repeat(3900);
  for (let i = 0; i < 20; i++) {
    const r = await request(a.socket, 'message:send', { channel: 'general', clientId: `b${i}`, text: `${i}:${big}` });
    assert.strictEqual(r.ok, true);
  }
  const reader = await p.connect({ user: 'reader' });
  let after = 0, pages = 0;
  const seen = [];
  for (;;) {
    const r = await request(reader.socket, 'channel:sync', { channel: 'general', after });
    assert.strictEqual(r.ok, true);
    pages++;
    assert.ok(JSON.stringify(r.events).length <= 16 * 1024 + 4096, 'an answer stays near the budget');
    for (const e of r.events) { seen.push(e); after = e.seq; }
    if (!r.hasMore) break;
    assert.ok(r.events.length > 0);
  }
  assert.ok(pages > 2, `paged by bytes (${pages} pages)`);
  const seqs = seen.map((e) => e.seq);
  assert.deepStrictEqual(seqs, seqs.slice().sort((x, y) => x - y));
  assert.strictEqual(new Set(seqs).size, seqs.length);
  const texts = seen.filter((e) => e.type === 'message:new').map((e) => Number(e.text.split(':')[0]));
  assert.deepStrictEqual(texts, [...Array(20).keys()]);
  assert.ok(seen.length >= base + 20);
  assert.ok(reader.socket.connected, 'still connected after catching up');
});

test('stop', async () => {
  assert.strictEqual(await p.stop(), 0);
});

run();
