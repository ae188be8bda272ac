// 29-chat-membership-hooks: a new membership tells presence both ways (the
// members learn the newcomer's presence and the newcomer theirs), and
// leaving a channel takes the user out of its voice channel at once.
'use strict';
const assert = require('assert');
const { startParley, request, next } = require('./lib/parley');
const { test, run } = require('./lib/harness');

let p;

test('start with no default channels', async () => {
  p = await startParley({ env: { PARLEY_DEFAULT_CHANNELS: '' } });
});

test('an invite makes presence flow both ways', async () => {
  const alice = await p.connect({ user: 'alice' });
  const bob = await p.connect({ user: 'bob' });
  const created = await request(alice.socket, 'channel:create', { id: 'secret', kind: 'private' });
  assert.strictEqual(created.ok, true);
  const aliceSeesBob = next(alice.socket, 'presence', (e) => e.user === 'bob');
  const bobSeesAlice = next(bob.socket, 'presence', (e) => e.user === 'alice');
  assert.strictEqual((await request(alice.socket, 'channel:invite', { channel: 'secret', user: 'bob' })).ok, true);
  assert.strictEqual((await aliceSeesBob).status, 'online');
  assert.strictEqual((await bobSeesAlice).status, 'online');
  alice.socket.disconnect();
  bob.socket.disconnect();
});

test('leaving a channel leaves its voice channel at once', async () => {
  const carol = await p.connect({ user: 'carol' });
  const dave = await p.connect({ user: 'dave' });
  await request(carol.socket, 'channel:create', { id: 'room', kind: 'public' });
  await request(dave.socket, 'channel:join', { channel: 'room' });
  const joined = await request(dave.socket, 'voice:join', { channel: 'room' });
  assert.strictEqual(joined.ok, true);
  const left = next(carol.socket, 'voice:state', (e) => e.user === 'dave' && e.joined === false);
  assert.strictEqual((await request(dave.socket, 'channel:leave', { channel: 'room' })).ok, true);
  const st = await left;
  assert.strictEqual(st.channel, 'room');
  const again = await request(carol.socket, 'voice:join', { channel: 'room' });
  assert.deepStrictEqual(again.participants.map((x) => x.user), ['carol']);
});

test('stop', async () => {
  assert.strictEqual(await p.stop(), 0);
});

run();
