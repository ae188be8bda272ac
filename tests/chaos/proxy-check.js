// proxy-check.js — checks that the chaos proxy does what the scenarios rely
// on, against a plain TCP echo server: pass-through, per-chunk delay, stall
// (both directions and downstream only) with resume, RST, black-hole of a
// live connection and of new ones, tags, and the connection list. Run
// first by the suite: a scenario on a broken injector proves nothing.
'use strict';
const net = require('net');
const assert = require('assert');
const { startProxy } = require('./proxy');

function echoServer() {
  return new Promise((resolve) => {
    const socks = new Set();
    const srv = net.createServer({ allowHalfOpen: true }, (s) => {
      socks.add(s);
      s.on('data', (d) => s.write(d));
      s.on('end', () => s.end());
      s.on('error', () => {});
      s.on('close', () => socks.delete(s));
    });
    srv.listen(0, '127.0.0.1', () => resolve({ srv, socks, port: srv.address().port }));
  });
}

// A client that collects what it reads; read(n, ms) waits for n bytes.
function client(port, first = '') {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let buf = '';
    const waiters = [];
    const ev = { closed: false, reset: false };
    s.on('data', (d) => {
      buf += d.toString();
      for (const w of [...waiters]) w();
    });
    s.on('error', (e) => { if (e.code === 'ECONNRESET') ev.reset = true; });
    s.on('close', () => { ev.closed = true; for (const w of [...waiters]) w(); });
    s.on('connect', () => {
      if (first) s.write(first);
      resolve({
        s, ev,
        get buf() { return buf; },
        read(n, ms) {
          return new Promise((res) => {
            const check = () => {
              if (buf.length >= n || ev.closed) { done(true); }
            };
            const done = (ok) => { clearTimeout(t); waiters.splice(waiters.indexOf(check), 1); res(ok && buf.length >= n); };
            const t = setTimeout(() => done(false), ms);
            waiters.push(check);
            check();
          });
        },
        closed(ms) {
          return new Promise((res) => {
            if (ev.closed) return res(true);
            const t = setTimeout(() => res(false), ms);
            s.once('close', () => { clearTimeout(t); res(true); });
          });
        },
      });
    });
    s.on('error', reject);
  });
}

async function checkProxy(log = console.log) {
  const echo = await echoServer();
  const px = await startProxy({ targetPort: echo.port });
  try {
    // pass-through and tag
    const a = await client(px.port, 'GET /socket.io/?EIO=4&chaos=alpha HTTP/1.1\r\n');
    assert(await a.read(10, 2000), 'pass-through: no echo');
    assert.strictEqual(px.select('#alpha').length, 1, 'tag not read');
    // delay: an echo crosses the proxy twice
    px.delay('#alpha', 150);
    const t0 = Date.now();
    a.s.write('x');
    const before = a.buf.length;
    assert(await a.read(before + 1, 2000), 'delay: nothing came back');
    const took = Date.now() - t0;
    assert(took >= 290, `delay: echo took ${took} ms, expected >= 300`);
    px.resume('#alpha');
    // stall both ways: nothing crosses, nothing closes; resume delivers
    px.stall('#alpha', 'both');
    const n = a.buf.length;
    a.s.write('stalled');
    assert(!(await a.read(n + 7, 300)), 'stall: data crossed');
    assert(!a.ev.closed, 'stall: closed the connection');
    px.resume('#alpha');
    assert(await a.read(n + 7, 2000), 'resume: stalled data lost');
    // downstream stall: the client's bytes still reach the server
    const serverSeen = [...echo.socks][0];
    let upBytes = 0;
    serverSeen.on('data', (d) => { upBytes += d.length; });
    px.stall('#alpha', 'down');
    const m = a.buf.length;
    a.s.write('downstall');
    await new Promise((r) => setTimeout(r, 200));
    assert.strictEqual(upBytes, 9, 'down stall: upstream blocked');
    assert.strictEqual(a.buf.length, m, 'down stall: downstream crossed');
    px.resume('#alpha');
    assert(await a.read(m + 9, 2000), 'down stall: lost on resume');
    // reset: the client sees ECONNRESET
    px.reset('#alpha');
    assert(await a.closed(2000), 'reset: not closed');
    assert(a.ev.reset, 'reset: no RST seen by the client');
    // black-hole a live connection: silence, no close either way
    const b = await client(px.port, 'hello');
    assert(await b.read(5, 2000));
    assert.strictEqual(px.list().length, 1, 'list: expected one live connection');
    px.blackhole('all');
    b.s.write('lost');
    assert(!(await b.read(9, 300)), 'blackhole: data crossed');
    assert(!b.ev.closed, 'blackhole: closed');
    // a black-holed client's close does not reach the server
    const serverSocks = echo.socks.size;
    b.s.end();
    await new Promise((r) => setTimeout(r, 200));
    assert.strictEqual(echo.socks.size, serverSocks, 'blackhole: close crossed');
    // cut: new connections are accepted and swallowed
    px.cut();
    const c = await client(px.port, 'anyone?');
    assert(!(await c.read(1, 300)), 'cut: a new connection was answered');
    px.restore();
    const d = await client(px.port, 'back');
    assert(await d.read(4, 2000), 'restore: no echo');
    px.setMode('reset');
    const e = await client(px.port).catch((err) => ({ err }));
    if (!e.err) assert(await e.closed(2000), 'reset mode: not closed');
    px.setMode('pass');
    for (const x of [c, d]) x.s.destroy();
    if (!e.err) e.s.destroy();
    log('proxy check: pass-through, tag, delay, stall (both, down), resume, reset, blackhole, cut/restore, reset mode: ok');
  } finally {
    await px.close();
    for (const s of echo.socks) s.destroy();
    echo.srv.close();
  }
}

module.exports = { checkProxy };
if (require.main === module) checkProxy().catch((e) => { console.error(e); process.exit(1); });
