// 10-sio-recovery: reconnection and connection state recovery with
// socket.io-client 4.8 against examples/echo: automatic reconnect after a
// server restart; socket.recovered === true after a short cut, with the same
// id, rooms and user data, and the events emitted meanwhile (to its rooms
// and to it alone) replayed in order; no recovery after a deliberate
// disconnect, after maxDisconnectionDuration, or with a forged pid.
'use strict';
const assert = require('assert');
const { io } = require('socket.io-client');
const { test, run } = require('./lib/harness');
const { startEcho, once, connect, call1, rawSession, sleep } = require('./lib/sio-util');

async function stopClean(srv) {
  const code = await srv.stop();
  assert.strictEqual(code, 0, 'server exits 0 (no sanitizer report):\n' + srv.stderr().slice(-2000));
}

function reconnecting(port, opts = {}) {
  return io(`http://127.0.0.1:${port}`, {
    forceNew: true, reconnectionDelay: 50, reconnectionDelayMax: 100, randomizationFactor: 0, ...opts,
  });
}

// Waits until the server has seen a socket go (its own room is empty).
async function untilGone(observer, id) {
  for (let i = 0; i < 200; i++) {
    if (await call1(observer, 3000, 'room-size', id) === 0) return;
    await sleep(10);
  }
  throw new Error(`server still has ${id}`);
}

test('automatic reconnect after a server restart', async () => {
  let srv = await startEcho();
  const port = srv.port;
  const socket = reconnecting(port);
  try {
    await once(socket, 'connect');
    const firstId = socket.id;
    const gone = once(socket, 'disconnect');
    await stopClean(srv);
    const [reason] = await gone;
    assert.match(reason, /transport close|transport error|ping timeout/);
    srv = await startEcho([], { port });
    await once(socket, 'connect', 10000);
    assert.notStrictEqual(socket.id, firstId);
    assert.ok(!socket.recovered);
    assert.deepStrictEqual(await call1(socket, 3000, 'message-with-ack', 'again'), 'again');
  } finally {
    socket.close();
    await stopClean(srv);
  }
});

for (const transports of [['websocket'], ['polling']]) {
  test(`recovery after a short cut (${transports[0]}): same id, rooms, data; missed events replayed`, async () => {
    const srv = await startEcho(['--recovery']);
    const a = reconnecting(srv.port, { transports });
    const first = once(a, 'connect');
    try {
      const observer = await connect(srv.port, '/', { transports: ['websocket'] });
      await first;
      assert.ok(!a.recovered);
      const id = a.id;
      const me = await call1(a, 3000, 'whoami');
      assert.strictEqual(me.recovered, false);
      assert.strictEqual(await call1(a, 3000, 'join', 'room-r'), true);

      const seen = [];
      a.on('ev', (...args) => seen.push(args));
      assert.strictEqual(await call1(observer, 3000, 'to', { rooms: ['room-r'], event: 'ev', args: ['before'] }), true);
      while (seen.length < 1) await sleep(5);
      assert.strictEqual(seen[0][0], 'before');
      assert.strictEqual(typeof seen[0][1], 'string', 'the offset rides as the last argument');

      // the cut; the client comes back by itself a little later
      const dropped = once(a, 'disconnect');
      const back = once(a, 'connect', 10000);
      a.io.reconnectionDelay(400);
      a.io.reconnectionDelayMax(400);
      a.io.engine.close();
      const [reason] = await dropped;
      assert.match(reason, /forced close|transport close/);
      await untilGone(observer, id);

      // meanwhile: to its room, to it alone, and to a room it is not in
      await call1(observer, 3000, 'to', { rooms: ['room-r'], event: 'ev', args: ['during-1'] });
      await call1(observer, 3000, 'to', { rooms: [id], event: 'ev', args: ['during-2', Buffer.from([5])] });
      await call1(observer, 3000, 'to', { rooms: ['elsewhere'], event: 'ev', args: ['not-for-a'] });
      await call1(observer, 3000, 'to', { rooms: ['room-r'], except: [id], event: 'ev', args: ['excluded'] });
      await call1(observer, 3000, 'to', { rooms: ['room-r'], event: 'ev', args: ['during-3'] });

      await back;
      assert.strictEqual(a.recovered, true);
      assert.strictEqual(a.id, id);
      const deadline = Date.now() + 3000;
      while (seen.length < 4 && Date.now() < deadline) await sleep(10);
      await call1(a, 3000, 'room-size', 'x');
      assert.deepStrictEqual(seen.map((s) => s[0]), ['before', 'during-1', 'during-2', 'during-3']);
      assert.ok(Buffer.from(seen[2][1]).equals(Buffer.from([5])), 'binary survives the replay');
      const offsets = seen.map((s) => s[s.length - 1]);
      assert.strictEqual(new Set(offsets).size, 4, 'each event has its own offset');

      const me2 = await call1(a, 3000, 'whoami');
      assert.strictEqual(me2.recovered, true);
      assert.strictEqual(me2.serial, me.serial, 'user data carried over');
      assert.deepStrictEqual(me2.auth, {}, 'pid and offset are not the app\'s auth');
      assert.strictEqual(await call1(observer, 3000, 'room-size', 'room-r'), 1, 'rooms restored');
      assert.strictEqual(await call1(observer, 3000, 'room-size', id), 1);

      // live events keep flowing after the replay
      await call1(observer, 3000, 'to', { rooms: ['room-r'], event: 'ev', args: ['after'] });
      while (seen.length < 5) await sleep(5);
      assert.strictEqual(seen[4][0], 'after');
      observer.close();
    } finally {
      a.close();
      await stopClean(srv);
    }
  });
}

test('a cut before any event still recovers (no offset yet)', async () => {
  const srv = await startEcho(['--recovery']);
  const a = reconnecting(srv.port, { transports: ['websocket'] });
  const first = once(a, 'connect');
  try {
    const observer = await connect(srv.port, '/', { transports: ['websocket'] });
    await first;
    // the auth event carries an offset; make the client forget it, as a
    // client that received nothing would
    a._lastOffset = undefined;
    const id = a.id;
    const seen = [];
    a.on('ev', (...args) => seen.push(args[0]));
    const back = once(a, 'connect', 10000);
    a.io.reconnectionDelay(400);
    a.io.reconnectionDelayMax(400);
    a.io.engine.close();
    await untilGone(observer, id);
    await call1(observer, 3000, 'to', { rooms: [id], event: 'ev', args: ['missed'] });
    await back;
    assert.strictEqual(a.recovered, true);
    await call1(a, 3000, 'room-size', 'x');
    assert.ok(seen.includes('missed'));
    observer.close();
  } finally {
    a.close();
    await stopClean(srv);
  }
});

test('no recovery after a deliberate disconnect, after expiry, or with a forged pid', async () => {
  const srv = await startEcho(['--recovery', '--max-disconnection-ms', '300']);
  try {
    // deliberate: the client leaves, then connects again
    const a = reconnecting(srv.port, { transports: ['websocket'] });
    await once(a, 'connect');
    const id = a.id;
    a.disconnect();
    a.connect();
    await once(a, 'connect');
    assert.ok(!a.recovered);
    assert.notStrictEqual(a.id, id);
    a.close();

    // expiry: the client comes back after maxDisconnectionDuration
    const b = reconnecting(srv.port, { transports: ['websocket'], reconnectionDelay: 800, reconnectionDelayMax: 800 });
    await once(b, 'connect');
    const bid = b.id;
    const bBack = once(b, 'connect', 10000);
    b.io.engine.close();
    await bBack;
    assert.ok(!b.recovered);
    assert.notStrictEqual(b.id, bid);
    b.close();

    // forged pid: a fresh socket, and the pid is not echoed as auth
    const raw = rawSession(srv.port);
    await raw.opened;
    await raw.next();
    raw.send('40{"pid":"AAAAAAAAAAAAAAAAAAAA","offset":"1","token":"t"}');
    const ok = JSON.parse((await raw.next()).slice(2));
    assert.ok(ok.sid && ok.pid && ok.pid !== 'AAAAAAAAAAAAAAAAAAAA');
    const auth = await raw.next();
    assert.match(auth, /^42\["auth",\{"token":"t"\},"\d+"\]$/);
    raw.ws.close();
  } finally { await stopClean(srv); }
});

run();
