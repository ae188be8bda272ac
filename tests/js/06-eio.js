// 06-eio: the Engine.IO v4 layer against examples/echo --engine-only (every
// message echoed), with raw HTTP and WebSocket: handshakes and the Node
// server's error answers, polling payloads, binary, heartbeat, upgrade
// without loss or reordering, maxPayload on both transports, CORS, duplicate
// polls, reaping of idle sessions, and malformed input closing only the
// offending session.
'use strict';
const assert = require('assert');
const WebSocket = require('ws');
const { startServer, test, run } = require('./lib/harness');

let srv, base, wsBase;

async function get(path, opts = {}) {
  const res = await fetch(base + path, opts);
  return { status: res.status, headers: res.headers, body: await res.text() };
}
async function open() {
  const r = await get('/engine.io/?EIO=4&transport=polling');
  assert.strictEqual(r.status, 200);
  return JSON.parse(r.body.slice(1)).sid;
}
const poll = (sid) => get(`/engine.io/?EIO=4&transport=polling&sid=${sid}`);
const post = (sid, body) => get(`/engine.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body });

function wsOpen(query) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${wsBase}/engine.io/?EIO=4&transport=websocket${query || ''}`);
    ws.binaryType = 'nodebuffer';
    const inbox = [];
    const waiters = [];
    ws.on('message', (data, isBinary) => {
      const m = isBinary ? data : data.toString();
      const w = waiters.shift();
      if (w) w(m); else inbox.push(m);
    });
    ws.next = () => new Promise((r) => { if (inbox.length) r(inbox.shift()); else waiters.push(r); });
    ws.closed = new Promise((r) => ws.once('close', (code) => r(code)));
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

test('start the engine-only echo server', async () => {
  srv = await startServer('echo', ['--engine-only', '--port', '0']);
  base = `http://127.0.0.1:${srv.port}`;
  wsBase = `ws://127.0.0.1:${srv.port}`;
});

test('handshake over polling and over WebSocket', async () => {
  const r = await get('/engine.io/?EIO=4&transport=polling');
  assert.strictEqual(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain/);
  assert.strictEqual(r.body[0], '0');
  const h = JSON.parse(r.body.slice(1));
  assert.deepStrictEqual(Object.keys(h).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
  assert.deepStrictEqual(h.upgrades, ['websocket']);
  assert.strictEqual(h.pingInterval, 300);
  assert.strictEqual(h.pingTimeout, 200);
  assert.strictEqual(h.maxPayload, 1000000);
  assert.match(h.sid, /^[A-Za-z0-9_-]{20}$/);
  const ws = await wsOpen();
  const first = await ws.next();
  assert.deepStrictEqual(JSON.parse(first.slice(1)).upgrades, []);
  ws.close();
});

test('errors are answered as the Node server answers them', async () => {
  const cases = [
    ['/engine.io/?transport=polling', 400, 5],
    ['/engine.io/?EIO=3&transport=polling', 400, 5],
    ['/engine.io/?EIO=4&transport=carrier-pigeon', 400, 0],
    ['/engine.io/?EIO=4&transport=polling&sid=doesnotexist', 400, 1],
  ];
  for (const [path, status, code] of cases) {
    const r = await get(path);
    assert.strictEqual(r.status, status, path);
    assert.strictEqual(JSON.parse(r.body).code, code, path);
  }
  const p = await get('/engine.io/?EIO=4&transport=polling', { method: 'POST', body: '4x' });
  assert.strictEqual(p.status, 400);
  assert.strictEqual(JSON.parse(p.body).code, 2);
  const put = await get('/engine.io/?EIO=4&transport=polling', { method: 'PUT', body: '' });
  assert.strictEqual(put.status, 400);
});

test('polling: several text and binary packets in one payload, echoed in order', async () => {
  const sid = await open();
  const r = await post(sid, '4one\x1e4two\x1ebAQIDBA==\x1e4three');
  assert.strictEqual(r.status, 200);
  assert.strictEqual(r.body, 'ok');
  assert.strictEqual((await poll(sid)).body, '4one\x1e4two\x1ebAQIDBA==\x1e4three');
  await post(sid, '1');
});

test('WebSocket: text and binary messages', async () => {
  const ws = await wsOpen();
  await ws.next();
  ws.send('4héllo');
  assert.strictEqual(await ws.next(), '4héllo');
  ws.send(Buffer.from([0, 1, 2, 255]));
  assert.deepStrictEqual(await ws.next(), Buffer.from([0, 1, 2, 255]));
  ws.close();
});

test('heartbeat: pings on both transports; a silent session is closed', async () => {
  const sid = await open();
  for (let i = 0; i < 2; i++) {
    assert.strictEqual((await poll(sid)).body, '2');
    await post(sid, '3');
  }
  // Stop answering: the next poll returns the ping, then the session dies.
  assert.strictEqual((await poll(sid)).body, '2');
  const last = await poll(sid);
  assert.ok(last.status === 400 || last.body.endsWith('1'), `got ${last.status} ${last.body}`);
  assert.strictEqual((await poll(sid)).status, 400);
  const ws = await wsOpen();
  await ws.next();
  assert.strictEqual(await ws.next(), '2');
  ws.send('3');
  assert.strictEqual(await ws.next(), '2');
  await ws.closed; // no pong this time
});

test('a polling session that never polls again is reaped', async () => {
  const sid = await open();
  await new Promise((r) => setTimeout(r, 700)); // pingInterval + pingTimeout = 500 ms
  assert.strictEqual((await poll(sid)).status, 400);
});

test('upgrade from polling loses and reorders nothing', async () => {
  const sid = await open();
  // Messages in flight before, during and after the upgrade.
  await post(sid, '4m1\x1e4m2');
  const ws = await wsOpen(`&sid=${sid}`);
  ws.send('2probe');
  assert.strictEqual(await ws.next(), '3probe');
  await post(sid, '4m3');
  // The pending data comes back on polling; the upgrade noop ends the poll.
  const before = (await poll(sid)).body.split('\x1e');
  if (before.includes('2')) await post(sid, '3'); // keep the heartbeat alive
  await post(sid, '4m4');
  ws.send('5');
  ws.send('4m5');
  const got = before.filter((p) => p !== '6' && p !== '2');
  while (got.length < 5) {
    const m = await ws.next();
    if (m === '2') ws.send('3');
    else got.push(m);
  }
  assert.deepStrictEqual(got, ['4m1', '4m2', '4m3', '4m4', '4m5']);
  // After the upgrade, polling and a second WebSocket are refused.
  assert.strictEqual((await poll(sid)).status, 400);
  const extra = await wsOpen(`&sid=${sid}`);
  await extra.closed;
  ws.close();
});

test('an upgrade probe that does not complete in time is closed; polling goes on', async () => {
  const slow = await startServer('echo', ['--engine-only', '--port', '0', '--upgrade-timeout-ms', '200',
    '--ping-interval-ms', '10000', '--ping-timeout-ms', '10000']);
  const saved = [base, wsBase];
  base = `http://127.0.0.1:${slow.port}`;
  wsBase = `ws://127.0.0.1:${slow.port}`;
  try {
    const sid = await open();
    const t0 = Date.now();
    const probe = await wsOpen(`&sid=${sid}`);
    probe.send('2probe');
    assert.strictEqual(await probe.next(), '3probe');
    // Never sends "5": the server gives up on the probe with 1001.
    assert.strictEqual(await probe.closed, 1001);
    const waited = Date.now() - t0;
    assert.ok(waited >= 180 && waited < 3000, `probe closed after ${waited} ms`);
    // The session stays on polling, and a new probe may complete.
    const r = await poll(sid); // the noop that released the poll for the probe
    assert.strictEqual(r.body, '6');
    await post(sid, '4still');
    assert.strictEqual((await poll(sid)).body, '4still');
    const ws = await wsOpen(`&sid=${sid}`);
    ws.send('2probe');
    assert.strictEqual(await ws.next(), '3probe');
    ws.send('5');
    ws.send('4upgraded');
    assert.strictEqual(await ws.next(), '4upgraded');
    ws.close();
  } finally {
    [base, wsBase] = saved;
    await slow.stop();
  }
});

test('maxPayload: an oversize POST gets 413, an oversize frame 1009', async () => {
  const sid = await open();
  const big = '4' + 'x'.repeat(1000001);
  const r = await post(sid, big);
  assert.strictEqual(r.status, 413);
  assert.strictEqual((await poll(sid)).status, 400, 'session closed');
  const ws = await wsOpen();
  await ws.next();
  ws.send(big);
  assert.strictEqual(await ws.closed, 1009);
});

test('duplicate GET polls close the session; the first poll gets the close packet', async () => {
  const sid = await open();
  const first = poll(sid);
  await new Promise((r) => setTimeout(r, 20));
  const second = await poll(sid);
  assert.strictEqual(second.status, 400);
  assert.strictEqual((await first).body, '1');
  assert.strictEqual((await poll(sid)).status, 400);
});

test('CORS: preflight and allow-origin headers', async () => {
  const pre = await get('/engine.io/?EIO=4&transport=polling', {
    method: 'OPTIONS',
    headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
  });
  assert.strictEqual(pre.status, 204);
  assert.ok(pre.headers.get('access-control-allow-origin'));
  assert.match(pre.headers.get('access-control-allow-methods'), /POST/);
  assert.match(pre.headers.get('access-control-allow-headers'), /content-type/);
  const r = await get('/engine.io/?EIO=4&transport=polling', { headers: { Origin: 'https://app.example' } });
  assert.ok(r.headers.get('access-control-allow-origin'));
});

// Keeps a polling session alive (answers its pings) until stop() is called;
// resolves stop() with the message packets it saw.
function keepAlive(sid) {
  let running = true;
  const seen = [];
  const loop = (async () => {
    while (running) {
      const r = await poll(sid);
      if (r.status !== 200) throw new Error(`session ${sid} died: ${r.status} ${r.body}`);
      for (const pkt of r.body.split('\x1e')) {
        if (pkt === '2') await post(sid, '3');
        else if (pkt.startsWith('4')) seen.push(pkt);
      }
    }
  })();
  return { stop: async () => { running = false; await loop; return seen; } };
}

test('malformed input closes only the offending session', async () => {
  const good = await open();
  const alive = keepAlive(good);
  const bad = await open();
  for (const body of ['abc', '', '4ok\x1e\x1e4x', 'b!!!notbase64', '9nine']) {
    const s = await open();
    const r = await post(s, body);
    assert.strictEqual(r.status, 400, JSON.stringify(body));
    assert.strictEqual((await poll(s)).status, 400, 'closed: ' + JSON.stringify(body));
  }
  const ws = await wsOpen();
  await ws.next();
  ws.send('xyz');
  await ws.closed;
  await post(bad, '7');
  // The healthy session is untouched.
  await post(good, '4still-here');
  await post(good, '4bye'); // wakes the keep-alive poll for the last time
  const seen = await alive.stop();
  assert.ok(seen.includes('4still-here'), JSON.stringify(seen));
});

test('stop', async () => {
  assert.strictEqual(await srv.stop(), 0);
});

run();
