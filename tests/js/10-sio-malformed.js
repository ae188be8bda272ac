// 10-sio-malformed: every kind of malformed or out-of-place Socket.IO
// packet closes the offending session ("parse error") and only it: a
// bystander socket.io-client connected all along keeps working and is never
// disconnected, and new sessions are still accepted. Heartbeats are slowed
// down so that only the protocol error can explain a close.
'use strict';
const assert = require('assert');
const { test, run } = require('./lib/harness');
const { startEcho, connect, call, rawConnected } = require('./lib/sio-util');

const SLOW = ['--ping-interval-ms', '20000', '--ping-timeout-ms', '20000',
  '--connect-timeout-ms', '20000'];

const PH = (n) => `{"_placeholder":true,"num":${n}}`;

// [name, frames to send after joining "/"]; Buffers go as binary frames.
const CASES = [
  ['unknown packet type', ['4abc']],
  ['empty Socket.IO packet', ['4']],
  ['EVENT payload not an array', ['42{}']],
  ['EVENT payload empty', ['42[]']],
  ['EVENT name not a string', ['42[1,2]']],
  ['EVENT name reserved', ['42["disconnect"]']],
  ['EVENT without payload', ['42']],
  ['bad ack id', ['42abc["message-with-ack",1]']],
  ['ack id overflow', ['4299999999999999999999["message-with-ack"]']],
  ['truncated JSON', ['42["message",{"a":']],
  ['trailing garbage after JSON', ['42["message"] x']],
  ['ACK without id', ['43[]']],
  ['ACK payload not an array', ['431{}']],
  ['DISCONNECT with a payload', ['41{"a":1}']],
  ['second CONNECT to a joined namespace', ['40']],
  ['CONNECT payload not an object', ['40/custom,[1]']],
  ['CONNECT with bad JSON', ['40/custom,{"token":']],
  ['CONNECT_ERROR from a client', ['44{"message":"x"}']],
  ['EVENT for a namespace not joined', ['42/custom,["message"]']],
  ['DISCONNECT for a namespace not joined', ['41/custom,']],
  ['namespace with a control character', ['42/a\u0001b,["message"]']],
  ['namespace too long', [`42/${'n'.repeat(300)},["message"]`]],
  ['namespace without comma before payload', ['42/custom["message"]']],
  ['binary packet without attachment count', [`45["message",${PH(0)}]`]],
  ['zero attachments', [`450-["message"]`]],
  ['too many attachments', [`4511-["message"${`,${PH(0)}`.repeat(11)}]`]],
  ['placeholder out of range', [`451-["message",${PH(3)}]`, Buffer.from([1])]],
  ['placeholder num not an integer', [`451-["message",{"_placeholder":true,"num":"0"}]`, Buffer.from([1])]],
  ['attachment no placeholder uses', [`452-["message",${PH(0)}]`, Buffer.from([1]), Buffer.from([2])]],
  ['text while attachments are awaited', [`452-["message",${PH(0)},${PH(1)}]`, Buffer.from([1]), '42["message"]']],
  ['binary message nobody awaits', [Buffer.from([1, 2, 3])]],
  ['BINARY_ACK without id', [`461-[${PH(0)}]`, Buffer.from([1])]],
];

test('each malformed packet closes only its own session', async () => {
  const srv = await startEcho(SLOW);
  try {
    const bystander = await connect(srv.port, '/', { transports: ['websocket'] });
    let bystanderDropped = false;
    bystander.on('disconnect', () => { bystanderDropped = true; });
    const failures = [];
    for (const [name, frames] of CASES) {
      const raw = await rawConnected(srv.port);
      for (const f of frames) raw.send(f);
      try {
        await raw.closed(2000);
      } catch (e) {
        failures.push(`${name}: session not closed`);
        raw.ws.terminate();
      }
      // the bystander is unaffected after each case
      const back = await call(bystander, 3000, 'message-with-ack', name);
      assert.deepStrictEqual(back, [name]);
    }
    assert.deepStrictEqual(failures, []);
    assert.strictEqual(bystanderDropped, false);
    assert.strictEqual(bystander.connected, true);
    const errors = srv.stderr().split('\n').filter((l) => l.includes('"sio_protocol_error"'));
    assert.strictEqual(errors.length, CASES.length, 'one logged protocol error per case');

    // the server still takes new sessions
    const fresh = await connect(srv.port, '/', { transports: ['polling'] });
    assert.deepStrictEqual(await call(fresh, 3000, 'message-with-ack', 'ok'), ['ok']);
    fresh.close();
    bystander.close();
  } finally {
    const code = await srv.stop();
    assert.strictEqual(code, 0, srv.stderr().slice(-2000));
  }
});

test('well-formed edge cases are accepted, not closed', async () => {
  const srv = await startEcho(SLOW);
  try {
    const raw = await rawConnected(srv.port);
    // a CONNECT with no comma after the namespace, a namespace event with id
    raw.send('40/custom');
    assert.match(await raw.next(), /^40\/custom,\{"sid":"[^"]+"\}$/);
    assert.strictEqual(await raw.next(), '42/custom,["auth",{}]');
    raw.send('42["message-with-ack"]');
    raw.send('4212["message-with-ack","x",{"y":[null,1.5,"\\u0000"]}]');
    assert.strictEqual(await raw.next(), '4312["x",{"y":[null,1.5,"\\u0000"]}]');
    // unknown event names are ignored; ACKs for nothing are ignored
    raw.send('42["no-such-event",1]');
    raw.send('43999[]');
    // a binary event whose placeholders repeat
    raw.send(`451-["message",${PH(0)},${PH(0)}]`);
    raw.send(Buffer.from([9]));
    assert.strictEqual(await raw.next(), `451-["message-back",${PH(0)},${PH(0)}]`);
    assert.ok(Buffer.from([9]).equals(await raw.next()));
    // leaving the last namespace keeps the session
    raw.send('41');
    raw.send('41/custom,');
    raw.send('40');
    assert.match(await raw.next(), /^40\{"sid":"[^"]+"\}$/);
    assert.strictEqual(raw.isClosed(), false);
    raw.ws.close();
  } finally {
    const code = await srv.stop();
    assert.strictEqual(code, 0, srv.stderr().slice(-2000));
  }
});

test('malformed packets over long-polling close that session only', async () => {
  const srv = await startEcho(SLOW);
  const base = `http://127.0.0.1:${srv.port}/socket.io/?EIO=4&transport=polling`;
  try {
    const bystander = await connect(srv.port, '/', { transports: ['polling'] });
    for (const bad of ['4abc', '42{}', '42["message"\x1e40', 'bAQID']) {
      const open = await (await fetch(base)).text();
      const sid = JSON.parse(open.slice(1)).sid;
      const url = `${base}&sid=${sid}`;
      assert.strictEqual(await (await fetch(url, { method: 'POST', body: '40' })).text(), 'ok');
      const ok = await (await fetch(url)).text();
      assert.match(ok, /^40\{"sid"/);
      await fetch(url, { method: 'POST', body: bad }).catch(() => {});
      // the session is gone: a poll gets the close packet or 400
      const poll = await fetch(url);
      const body = await poll.text();
      assert.ok(poll.status === 400 || body === '1' || body.endsWith('\x1e1'),
        `${JSON.stringify(bad)}: got ${poll.status} ${JSON.stringify(body)}`);
      if (poll.status === 200) assert.strictEqual((await fetch(url)).status, 400);
      assert.deepStrictEqual(await call(bystander, 3000, 'message-with-ack', bad), [bad]);
    }
    assert.strictEqual(bystander.connected, true);
    bystander.close();
  } finally {
    const code = await srv.stop();
    assert.strictEqual(code, 0, srv.stderr().slice(-2000));
  }
});

run();
