// 29-chat-connect-rate: connection attempts per user are rate limited
// (connect_error "rate_limited" with retryAfterMs); a DM has no owner, so
// neither side may delete the other's messages; the text limits are
// settings.
'use strict';
const assert = require('assert');
const { startParley, request } = require('./lib/parley');
const { test, run } = require('./lib/harness');

let p;

test('start with a small connect burst and small text limits', async () => {
  p = await startParley({ args: ['--connect-rate', '1', '--connect-burst', '3', '--max-text-chars', '10', '--max-text-bytes', '20'] });
});

test('too many connection attempts by one user are refused with rate_limited', async () => {
  const first = await p.connect({ user: 'flood' }); // creates the user
  first.socket.disconnect();
  const results = [];
  for (let i = 0; i < 6; i++) {
    try {
      const c = await p.connect({ user: 'flood' });
      results.push('ok');
      c.socket.disconnect();
    } catch (e) {
      results.push(e.message);
      if (e.message === 'rate_limited') {
        assert.strictEqual(e.data.code, 'rate_limited');
        assert.ok(e.data.retryAfterMs > 0, JSON.stringify(e.data));
      }
    }
  }
  assert.ok(results.includes('rate_limited'), results.join(','));
  // Another user is not affected.
  const other = await p.connect({ user: 'calm' });
  assert.ok(other.socket.connected);
  other.socket.disconnect();
});

test('a DM has no owner: neither side deletes the other\'s messages', async () => {
  const a = await p.connect({ user: 'dmaa' });
  const b = await p.connect({ user: 'dmbb' });
  const dm = await request(a.socket, 'dm:open', { user: 'dmbb' });
  assert.strictEqual(dm.ok, true);
  const id = dm.channel.id;
  const sent = await request(b.socket, 'message:send', { channel: id, clientId: 'k1', text: 'mine' });
  assert.strictEqual(sent.ok, true);
  const del = await request(a.socket, 'message:delete', { channel: id, id: sent.message.id });
  assert.strictEqual(del.ok, false);
  assert.strictEqual(del.error.code, 'forbidden');
  const own = await request(b.socket, 'message:delete', { channel: id, id: sent.message.id });
  assert.strictEqual(own.ok, true);
});

test('the text limits come from the settings', async () => {
  const a = await p.connect({ user: 'texty' });
  const ok = await request(a.socket, 'message:send', { channel: 'general', clientId: 't1', text: '0123456789' });
  assert.strictEqual(ok.ok, true);
  const chars = await request(a.socket, 'message:send', { channel: 'general', clientId: 't2', text: '01234567890' });
  assert.strictEqual(chars.error.code, 'too_large');
  assert.match(chars.error.message, /10/);
  const bytes = await request(a.socket, 'message:send', { channel: 'general', clientId: 't3', text: 'ééééééééééé'.slice(0, 10) + 'é' });
  assert.strictEqual(bytes.error.code, 'too_large');
});

test('stop', async () => {
  assert.strictEqual(await p.stop(), 0);
});

run();
