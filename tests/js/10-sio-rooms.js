// 10-sio-rooms: rooms and broadcasts through examples/echo (join, leave,
// several rooms at once, exceptions by room and by socket id, binary
// broadcasts), 1,000 websocket clients in one room receiving one broadcast
// each, and examples/fanout (join / say -> said to the room but the sender).
'use strict';
const assert = require('assert');
const { test, run, startServer } = require('./lib/harness');
const { startEcho, once, connect, call1, sleep } = require('./lib/sio-util');

async function stopClean(srv) {
  const code = await srv.stop();
  assert.strictEqual(code, 0, 'server exits 0 (no sanitizer report):\n' + srv.stderr().slice(-2000));
}

// Collects every `event` each socket receives.
function record(sockets, event) {
  const got = new Map(sockets.map((s) => [s, []]));
  for (const s of sockets) s.on(event, (...args) => got.get(s).push(args));
  return got;
}

// Sends a broadcast through one socket and waits until `expect` sockets got
// it, then a little more so that extra deliveries would show.
async function broadcastAndSettle(via, spec, receivers, got, expect) {
  assert.strictEqual(await call1(via, 3000, 'to', spec), true);
  const deadline = Date.now() + 5000;
  const count = () => [...got.values()].reduce((n, l) => n + l.length, 0);
  while (count() < expect && Date.now() < deadline) await sleep(10);
  // a round trip to each receiver: anything sent before is delivered by then
  await Promise.all(receivers.map((s) => call1(s, 3000, 'room-size', 'x')));
}

test('join, leave, rooms and exceptions', async () => {
  const srv = await startEcho();
  try {
    const socks = await Promise.all([0, 1, 2, 3, 4].map((i) => connect(srv.port, '/', {
      transports: i % 2 ? ['polling'] : ['websocket'],
    })));
    const [a, b, c, d, e] = socks;
    for (const s of [a, b, c]) assert.strictEqual(await call1(s, 3000, 'join', 'red'), true);
    for (const s of [c, d]) assert.strictEqual(await call1(s, 3000, 'join', 'blue'), true);
    assert.strictEqual(await call1(a, 3000, 'join', 'red'), true, 'joining twice is fine');
    assert.strictEqual(await call1(e, 3000, 'room-size', 'red'), 3);
    assert.strictEqual(await call1(e, 3000, 'room-size', 'blue'), 2);

    let got = record(socks, 'ev');
    // one room
    await broadcastAndSettle(e, { rooms: ['red'], event: 'ev', args: ['r'] }, socks, got, 3);
    assert.deepStrictEqual(socks.map((s) => got.get(s).length), [1, 1, 1, 0, 0]);
    assert.deepStrictEqual(got.get(a)[0], ['r']);

    // two rooms: c is in both and gets it once
    got = record(socks, 'ev2');
    await broadcastAndSettle(e, { rooms: ['red', 'blue'], event: 'ev2', args: [] }, socks, got, 4);
    assert.deepStrictEqual(socks.map((s) => got.get(s).length), [1, 1, 1, 1, 0]);

    // except a room and a socket id
    got = record(socks, 'ev3');
    await broadcastAndSettle(e, { rooms: ['red', 'blue'], except: ['blue', a.id], event: 'ev3' },
      socks, got, 1);
    assert.deepStrictEqual(socks.map((s) => got.get(s).length), [0, 1, 0, 0, 0]);

    // the whole namespace except the sender (socket.broadcast.emit)
    got = record(socks, 'ev4');
    await broadcastAndSettle(e, { except: [e.id], event: 'ev4', args: [{ deep: [1, 2] }] }, socks, got, 4);
    assert.deepStrictEqual(socks.map((s) => got.get(s).length), [1, 1, 1, 1, 0]);
    assert.deepStrictEqual(got.get(d)[0], [{ deep: [1, 2] }]);

    // a socket's own room reaches only it
    got = record(socks, 'ev5');
    await broadcastAndSettle(a, { rooms: [d.id], event: 'ev5' }, socks, got, 1);
    assert.deepStrictEqual(socks.map((s) => got.get(s).length), [0, 0, 0, 1, 0]);

    // binary broadcast
    got = record(socks, 'bin');
    e.emit('to', { rooms: ['blue'], event: 'bin', args: ['b', { _placeholder: true, num: 0 }] },
      Buffer.from([1, 2, 3]), () => {});
    await broadcastAndSettle(e, { rooms: ['nobody'], event: 'x' }, socks, got, 2);
    assert.deepStrictEqual(socks.map((s) => got.get(s).length), [0, 0, 1, 1, 0]);

    // leave, and a disconnected socket leaves everything
    assert.strictEqual(await call1(b, 3000, 'leave', 'red'), true);
    assert.strictEqual(await call1(e, 3000, 'room-size', 'red'), 2);
    c.disconnect();
    await sleep(50);
    assert.strictEqual(await call1(e, 3000, 'room-size', 'red'), 1);
    assert.strictEqual(await call1(e, 3000, 'room-size', 'blue'), 1);
    got = record(socks, 'ev6');
    await broadcastAndSettle(e, { rooms: ['red', 'blue'], event: 'ev6' }, [a, b, d, e], got, 2);
    assert.deepStrictEqual(socks.map((s) => got.get(s).length), [1, 0, 0, 1, 0]);
    for (const s of socks) s.close();
  } finally { await stopClean(srv); }
});

test('1,000 websocket clients in one room each receive one broadcast', async () => {
  const N = 1000;
  const srv = await startEcho(['--ping-interval-ms', '25000', '--ping-timeout-ms', '20000',
    '--connect-timeout-ms', '20000'], { ulimit: 4096 });
  try {
    const clients = [];
    for (let i = 0; i < N; i += 100) {
      const batch = await Promise.all(Array.from({ length: Math.min(100, N - i) },
        () => connect(srv.port, '/', { transports: ['websocket'] }, 20000)));
      clients.push(...batch);
    }
    await Promise.all(clients.map((s) => call1(s, 10000, 'join', 'big')));
    assert.strictEqual(await call1(clients[0], 3000, 'room-size', 'big'), N);
    const counts = new Map(clients.map((s) => [s, 0]));
    let total = 0;
    let done;
    const all = new Promise((r) => { done = r; });
    for (const s of clients) {
      s.on('news', (msg, n) => {
        assert.strictEqual(msg, 'hello room');
        assert.strictEqual(n, 42);
        counts.set(s, counts.get(s) + 1);
        if (++total === N) done();
      });
    }
    const t0 = Date.now();
    assert.strictEqual(await call1(clients[0], 3000, 'to', { rooms: ['big'], event: 'news', args: ['hello room', 42] }), true);
    await Promise.race([all, sleep(20000).then(() => { throw new Error(`only ${total} of ${N} got it`); })]);
    const ms = Date.now() - t0;
    // one round trip per client: nothing more is on its way
    await Promise.all(clients.map((s) => call1(s, 10000, 'room-size', 'x')));
    assert.ok([...counts.values()].every((n) => n === 1), 'each got exactly one');
    console.log(`# ${N} receivers in ${ms} ms`);
    for (const s of clients) s.close();
  } finally { await stopClean(srv); }
});

test('examples/fanout: say reaches the room but the sender', async () => {
  const srv = await startServer('fanout', ['--port', '0']);
  try {
    const socks = await Promise.all([0, 1, 2, 3].map(() => connect(srv.port, '/', { transports: ['websocket'] })));
    const [a, b, c, d] = socks;
    for (const s of [a, b, c]) assert.strictEqual(await call1(s, 3000, 'join', 'room1'), true);
    const got = record(socks, 'said');
    assert.strictEqual(await call1(a, 3000, 'say', 'room1', { text: 'hi', n: [1, 2] }), true);
    const deadline = Date.now() + 5000;
    while ((got.get(b).length < 1 || got.get(c).length < 1) && Date.now() < deadline) await sleep(10);
    await Promise.all(socks.map((s) => call1(s, 3000, 'join', 'other')));
    assert.deepStrictEqual(socks.map((s) => got.get(s).length), [0, 1, 1, 0]);
    assert.deepStrictEqual(got.get(b)[0], [{ text: 'hi', n: [1, 2] }]);
    // binary payloads too
    b.emit('say', 'room1', Buffer.from('bytes'));
    const [payload] = await once(c, 'said');
    assert.ok(Buffer.from(payload).equals(Buffer.from('bytes')));
    for (const s of socks) s.close();
  } finally { await stopClean(srv); }
});

run();
