// 10-sio-basics: socket.io-client 4.8 against examples/echo over each
// transport (polling only, websocket only, polling then upgrade): the auth
// payload, emits and acks both ways with Buffer arguments, ack timeouts on
// the server side, namespaces (multiplexed, unknown), middleware refusal
// with its data, server- and client-side disconnects, and a clean exit.
'use strict';
const assert = require('assert');
const { io } = require('socket.io-client');
const { test, run } = require('./lib/harness');
const { startEcho, once, connect, call, call1 } = require('./lib/sio-util');

const TRANSPORTS = [
  { name: 'polling only', opts: { transports: ['polling'] }, final: 'polling' },
  { name: 'websocket only', opts: { transports: ['websocket'] }, final: 'websocket' },
  { name: 'polling then upgrade', opts: {}, final: 'websocket' },
];

async function stopClean(srv) {
  const code = await srv.stop();
  assert.strictEqual(code, 0, 'server exits 0 (no sanitizer report):\n' + srv.stderr().slice(-2000));
}

for (const tr of TRANSPORTS) {
  test(`${tr.name}: auth, emits and acks both ways with Buffers`, async () => {
    const srv = await startEcho();
    try {
      const socket = io(`http://127.0.0.1:${srv.port}`, {
        forceNew: true, reconnection: false, auth: { token: 'abc', n: 1 }, ...tr.opts,
      });
      const [auth] = await once(socket, 'auth');
      assert.deepStrictEqual(auth, { token: 'abc', n: 1 });
      if (tr.final === 'websocket' && socket.io.engine.transport.name !== 'websocket')
        await once(socket.io.engine, 'upgrade');
      assert.strictEqual(socket.io.engine.transport.name, tr.final);

      // client -> server event, server -> client event, with binary
      const bin = Buffer.from([0, 1, 2, 250, 255]);
      socket.emit('message', 1, 'two', { three: [true, null] }, bin, [Buffer.from('x')]);
      const back = await once(socket, 'message-back');
      assert.strictEqual(back.length, 5);
      assert.deepStrictEqual(back.slice(0, 3), [1, 'two', { three: [true, null] }]);
      assert.ok(Buffer.from(back[3]).equals(bin), 'buffer comes back');
      assert.ok(Buffer.from(back[4][0]).equals(Buffer.from('x')), 'nested buffer comes back');

      // client asks for an ack
      const acked = await call(socket, 3000, 'message-with-ack', 'a', { b: 2 }, bin);
      assert.strictEqual(acked[0], 'a');
      assert.deepStrictEqual(acked[1], { b: 2 });
      assert.ok(Buffer.from(acked[2]).equals(bin));
      assert.deepStrictEqual(await call(socket, 3000, 'message-with-ack'), [],
        'an ack with no arguments');

      // server asks for an ack; the client answers with a Buffer
      socket.once('question', (q, b, ack) => {
        assert.strictEqual(q, 'q?');
        ack('yes', Buffer.concat([Buffer.from(b), Buffer.from([9])]));
      });
      assert.strictEqual(await call1(socket, 3000, 'ask', 2000, 'q?', Buffer.from([7])), true);
      const [err, yes, reply] = await once(socket, 'answer');
      assert.strictEqual(err, null);
      assert.strictEqual(yes, 'yes');
      assert.ok(Buffer.from(reply).equals(Buffer.from([7, 9])));

      // server ack timeout: the client never answers
      socket.once('question', () => {});
      const t0 = Date.now();
      await call(socket, 3000, 'ask', 150, 'ignored');
      const [terr] = await once(socket, 'answer');
      assert.match(terr, /timed out/);
      assert.ok(Date.now() - t0 >= 140, 'the timeout is not early');

      // a big binary argument
      const big = Buffer.alloc(300 * 1024, 0xab);
      socket.emit('message', big);
      const [bigBack] = await once(socket, 'message-back');
      assert.ok(Buffer.from(bigBack).equals(big));
      socket.close();
    } finally { await stopClean(srv); }
  });
}

test('namespaces: multiplexed on one session, unknown one refused', async () => {
  const srv = await startEcho();
  try {
    const manager = new io.Manager(`http://127.0.0.1:${srv.port}`, { reconnection: false, transports: ['websocket'] });
    const root = manager.socket('/');
    const custom = manager.socket('/custom', { auth: { who: 'c' } });
    root.connect();
    custom.connect();
    const [[rootAuth], [customAuth]] = await Promise.all([once(root, 'auth'), once(custom, 'auth')]);
    assert.deepStrictEqual(rootAuth, {});
    assert.deepStrictEqual(customAuth, { who: 'c' });
    assert.notStrictEqual(root.id, custom.id, 'one socket id per namespace');
    assert.strictEqual(manager.engine.id && typeof manager.engine.id, 'string');

    // a broadcast in "/custom" does not reach "/"
    let leaked = false;
    root.on('hello', () => { leaked = true; });
    const hello = once(custom, 'hello');
    assert.strictEqual(await call1(custom, 3000, 'to', { event: 'hello', args: [1] }), true);
    await hello;
    assert.strictEqual(await call1(root, 3000, 'room-size', root.id), 1);
    assert.strictEqual(leaked, false);

    // unknown namespace on the same session
    const nope = manager.socket('/nope');
    nope.connect();
    const [err] = await once(nope, 'connect_error');
    assert.strictEqual(err.message, 'Invalid namespace');
    // the session survives
    assert.strictEqual(await call1(root, 3000, 'room-size', root.id), 1);

    // leaving one namespace keeps the other
    const customId = custom.id;
    custom.disconnect();
    assert.deepStrictEqual(await call(root, 3000, 'message-with-ack', 'still'), ['still']);
    assert.strictEqual(await call1(root, 3000, 'room-size', customId), 0);
    root.close();
  } finally { await stopClean(srv); }
});

test('middleware refusal reaches the client as connect_error with message and data', async () => {
  const srv = await startEcho();
  try {
    for (const transports of [['polling'], ['websocket']]) {
      await assert.rejects(connect(srv.port, '/private', { transports, auth: { token: 'wrong' } }),
        (err) => {
          assert.strictEqual(err.message, 'not authorized');
          assert.deepStrictEqual(err.data, { code: 4001, hint: 'send auth.token' });
          return true;
        });
    }
    const ok = await connect(srv.port, '/private', { auth: { token: 'letmein' } });
    const me = [await call1(ok, 3000, 'whoami')];
    assert.deepStrictEqual(me[0].auth, { token: 'letmein' });
    assert.strictEqual(me[0].id, ok.id);
    ok.close();
  } finally { await stopClean(srv); }
});

test('disconnects: server namespace disconnect, whole session, client side', async () => {
  const srv = await startEcho();
  try {
    const observer = await connect(srv.port);
    const manager = new io.Manager(`http://127.0.0.1:${srv.port}`, { reconnection: false });
    const a = manager.socket('/');
    const b = manager.socket('/custom');
    a.connect();
    b.connect();
    await Promise.all([once(a, 'connect'), once(b, 'connect')]);

    // one namespace only
    const gone = once(b, 'disconnect');
    b.emit('disconnect-me', false);
    const [reason] = await gone;
    assert.strictEqual(reason, 'io server disconnect');
    assert.strictEqual(a.connected, true);
    assert.deepStrictEqual(await call(a, 3000, 'message-with-ack', 1), [1]);

    // the whole session
    b.connect();
    await once(b, 'connect');
    const aid = a.id;
    assert.strictEqual(await call1(observer, 3000, 'room-size', aid), 1);
    const ga = once(a, 'disconnect');
    const gb = once(b, 'disconnect');
    a.emit('disconnect-me', true);
    const [[ra], [rb]] = await Promise.all([ga, gb]);
    assert.strictEqual(ra, 'io server disconnect');
    assert.strictEqual(rb, 'io server disconnect');
    assert.strictEqual(await call1(observer, 3000, 'room-size', aid), 0);

    // client side: the server forgets the socket
    const c = await connect(srv.port);
    const cid = c.id;
    assert.strictEqual(await call1(observer, 3000, 'room-size', cid), 1);
    c.disconnect();
    for (let i = 0; i < 50; i++) {
      if (await call1(observer, 3000, 'room-size', cid) === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.strictEqual(await call1(observer, 3000, 'room-size', cid), 0);
    observer.close();
    manager._close && manager._close();
  } finally { await stopClean(srv); }
});

test('a session that joins no namespace is closed after connectTimeout', async () => {
  const srv = await startEcho(['--connect-timeout-ms', '300', '--ping-interval-ms', '5000',
    '--ping-timeout-ms', '5000']);
  try {
    const { Socket } = require('engine.io-client');
    const eio = new Socket(`ws://127.0.0.1:${srv.port}`, { path: '/socket.io/', transports: ['websocket'] });
    await once(eio, 'open');
    const t0 = Date.now();
    await once(eio, 'close', 3000);
    const dt = Date.now() - t0;
    assert.ok(dt >= 250 && dt < 2000, `closed after ${dt} ms`);
  } finally { await stopClean(srv); }
});

run();
