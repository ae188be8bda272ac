// 01-http: the HTTP/1.1 front door of `parley serve`, over raw sockets.
// /health, static files (MIME, ETag/304, traversal attempts), limits (431,
// 413), error answers (400/405/501/505), keep-alive and pipelining, the
// slowloris timeout, EMFILE survival, and the SIGTERM drain.
'use strict';
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const net = require('net');
const { startServer, rawRequest, readProcStat, test, run } = require('./lib/harness');

const webRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-web-'));
fs.writeFileSync(path.join(webRoot, 'index.html'), '<!doctype html><title>t</title>hello');
fs.writeFileSync(path.join(webRoot, 'app.js'), 'export const x = 1;\n');
fs.mkdirSync(path.join(webRoot, 'sub'));
fs.writeFileSync(path.join(webRoot, 'sub', 'index.html'), 'sub index');
const secretDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-secret-'));
fs.writeFileSync(path.join(secretDir, 'secret.txt'), 'TOP-SECRET');
fs.symlinkSync(path.join(secretDir, 'secret.txt'), path.join(webRoot, 'leak.txt'));

function serve(extra = [], opts = {}) {
  return startServer('parley', ['serve', '--port', '0', '--web-root', webRoot,
    '--data', fs.mkdtempSync(path.join(os.tmpdir(), 'parley-data-')), ...extra], opts);
}

function head(res, name) { return res.headers[name.toLowerCase()]; }

test('GET /health answers JSON with status, version, uptime and connections', async () => {
  const srv = await serve();
  try {
    const [res] = await rawRequest(srv.port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.strictEqual(res.status, 200);
    assert.match(head(res, 'content-type'), /^application\/json/);
    const body = JSON.parse(res.body);
    assert.strictEqual(body.status, 'ok');
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    assert.strictEqual(typeof body.uptime_s, 'number');
    assert.ok(body.connections >= 1, 'counts this connection');
    const [r405] = await rawRequest(srv.port, 'POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
    assert.strictEqual(r405.status, 405);
    assert.match(head(r405, 'allow'), /GET/);
  } finally { await srv.stop(); }
});

test('static files: index, MIME types, ETag and 304, 404', async () => {
  const srv = await serve();
  try {
    const [root] = await rawRequest(srv.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.strictEqual(root.status, 200);
    assert.match(head(root, 'content-type'), /^text\/html/);
    assert.match(root.body, /hello/);
    const etag = head(root, 'etag');
    assert.ok(etag, 'has an ETag');
    const [cached] = await rawRequest(srv.port, `GET /index.html HTTP/1.1\r\nHost: x\r\nIf-None-Match: ${etag}\r\n\r\n`);
    assert.strictEqual(cached.status, 304);
    assert.strictEqual(cached.body, '');
    const [stale] = await rawRequest(srv.port, 'GET /index.html HTTP/1.1\r\nHost: x\r\nIf-None-Match: "nope"\r\n\r\n');
    assert.strictEqual(stale.status, 200);
    const [js] = await rawRequest(srv.port, 'GET /app.js HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(head(js, 'content-type'), /^text\/javascript/);
    const [sub] = await rawRequest(srv.port, 'GET /sub/ HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.strictEqual(sub.body, 'sub index');
    const [headOnly] = await rawRequest(srv.port, 'HEAD /app.js HTTP/1.1\r\nHost: x\r\n\r\n', { head: true });
    assert.strictEqual(headOnly.status, 200);
    assert.strictEqual(head(headOnly, 'content-length'), String('export const x = 1;\n'.length));
    assert.strictEqual(headOnly.body, '');
    const [missing] = await rawRequest(srv.port, 'GET /nope.html HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.strictEqual(missing.status, 404);
    const [put] = await rawRequest(srv.port, 'PUT /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
    assert.strictEqual(put.status, 405);
  } finally { await srv.stop(); }
});

test('the socket.io browser bundle is served like the Node server serves it', async () => {
  const clientDir = path.join(process.env.PARLEY_SOURCE_DIR || path.join(__dirname, '..', '..'),
    'node_modules', 'socket.io-client', 'dist');
  const srv = await serve(['--client-dir', clientDir]);
  try {
    for (const name of ['socket.io.js', 'socket.io.min.js', 'socket.io.esm.min.js', 'socket.io.min.js.map']) {
      const [res] = await rawRequest(srv.port, `GET /socket.io/${name} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.strictEqual(res.status, 200, name);
      assert.strictEqual(res.body, fs.readFileSync(path.join(clientDir, name), 'utf8'), name);
      assert.ok(head(res, 'etag'), name);
    }
    const [js] = await rawRequest(srv.port, 'GET /socket.io/socket.io.min.js HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(head(js, 'content-type'), /^text\/javascript/);
    // Anything else under the path is Engine.IO's, not a file.
    const [other] = await rawRequest(srv.port, 'GET /socket.io/../../package.json HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.notStrictEqual(other.status, 200);
  } finally { await srv.stop(); }
});

test('path traversal never leaves the web root', async () => {
  const srv = await serve();
  try {
    const attempts = [
      '/../../../../etc/passwd', '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/%2E%2E%2f%2E%2E%2fetc/passwd',
      '/..%2f..%2fetc/passwd', '/sub/../../etc/passwd', '//etc/passwd', '/%2fetc%2fpasswd',
      '/index.html%00.js', '/%00', '/..%5c..%5cetc/passwd', '/leak.txt',
      `/${'../'.repeat(40)}etc/passwd`, `/..${encodeURIComponent(secretDir)}/secret.txt`,
    ];
    for (const p of attempts) {
      const [res] = await rawRequest(srv.port, `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.ok(res.status === 400 || res.status === 404, `${p} -> ${res.status}`);
      assert.ok(!/root:|TOP-SECRET/.test(res.body), `${p} leaked`);
    }
    // A raw NUL byte in the target is malformed.
    const [nul] = await rawRequest(srv.port, 'GET /index.html\0 HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.strictEqual(nul.status, 400);
  } finally { await srv.stop(); }
});

test('limits and error answers: 431, 413, 400, 501, 505', async () => {
  const srv = await serve(['--http-max-body', '1K']);
  try {
    const big = 'GET / HTTP/1.1\r\nHost: x\r\nX-Big: ' + 'a'.repeat(9000) + '\r\n\r\n';
    assert.strictEqual((await rawRequest(srv.port, big))[0].status, 431);
    let many = 'GET / HTTP/1.1\r\nHost: x\r\n';
    for (let i = 0; i < 101; i++) many += `X-H${i}: v\r\n`;
    assert.strictEqual((await rawRequest(srv.port, many + '\r\n'))[0].status, 431);
    let hundred = 'GET / HTTP/1.1\r\nHost: x\r\n';
    for (let i = 0; i < 99; i++) hundred += `X-H${i}: v\r\n`;
    assert.strictEqual((await rawRequest(srv.port, hundred + '\r\n'))[0].status, 200, '100 headers are fine');
    const post = 'POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n' + 'b'.repeat(2048);
    assert.strictEqual((await rawRequest(srv.port, post))[0].status, 413);
    assert.strictEqual((await rawRequest(srv.port, 'GARBAGE\r\n\r\n'))[0].status, 400);
    assert.strictEqual((await rawRequest(srv.port, 'GET / HTTP/1.1\r\nBad Header: x\r\nHost: x\r\n\r\n'))[0].status, 400);
    assert.strictEqual((await rawRequest(srv.port, 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n'))[0].status, 400);
    assert.strictEqual((await rawRequest(srv.port, 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'))[0].status, 501);
    assert.strictEqual((await rawRequest(srv.port, 'GET / HTTP/2.0\r\nHost: x\r\n\r\n'))[0].status, 505);
    // The server is still healthy after all that.
    assert.strictEqual((await rawRequest(srv.port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n'))[0].status, 200);
  } finally { await srv.stop(); }
});

test('keep-alive and pipelining answer in order on one connection', async () => {
  const srv = await serve();
  try {
    const reqs = 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /app.js HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    const res = await rawRequest(srv.port, reqs, { count: 3 });
    assert.deepStrictEqual(res.map((r) => r.status), [200, 200, 404]);
    assert.match(res[1].body, /export const x/);
    // A POST body split across writes still arrives whole.
    const split = await rawRequest(srv.port, ['POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234', '56789'], { count: 1 });
    assert.strictEqual(split[0].status, 405);
  } finally { await srv.stop(); }
});

test('a request head fed one byte at a time is served', async () => {
  const srv = await serve();
  try {
    const req = 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n';
    const [res] = await rawRequest(srv.port, req.split(''), { count: 1 });
    assert.strictEqual(res.status, 200);
  } finally { await srv.stop(); }
});

test('slowloris: a head that does not complete in time is dropped', async () => {
  const srv = await serve(['--http-head-timeout-ms', '300']);
  try {
    const sock = net.connect(srv.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write('GET / HTTP/1.1\r\nHost: x\r\n');
    const closed = await new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), 5000);
      sock.once('close', () => { clearTimeout(t); resolve(true); });
      sock.resume();
    });
    assert.ok(closed, 'server closed the slow connection');
    assert.strictEqual((await rawRequest(srv.port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n'))[0].status, 200);
  } finally { await srv.stop(); }
});

test('EMFILE: the accept loop survives the descriptor limit without spinning and recovers', async () => {
  const srv = await serve([], { ulimit: 64 });
  const socks = [];
  try {
    for (let i = 0; i < 120; i++) {
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('error', () => {});
      socks.push(s);
    }
    await Promise.all(socks.map((s) => new Promise((r) => { s.once('connect', r); s.once('error', r); s.once('close', r); })));
    // Hold the server at its limit for a second and measure its CPU time.
    const before = readProcStat(srv.pid);
    await new Promise((r) => setTimeout(r, 1000));
    const after = readProcStat(srv.pid);
    const cpuMs = after.cpuMs - before.cpuMs;
    assert.ok(cpuMs < 500, `server burned ${cpuMs} ms of CPU in 1 s at EMFILE (spinning?)`);
    for (const s of socks) s.destroy();
    // Once descriptors are free again, new connections are served.
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      try {
        const [res] = await rawRequest(srv.port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
        ok = res.status === 200;
      } catch (e) { await new Promise((r) => setTimeout(r, 100)); }
    }
    assert.ok(ok, 'serves again after descriptors are released');
    assert.ok(srv.stderr().includes('accept_failed'), 'logs the refused accepts');
  } finally { for (const s of socks) s.destroy(); await srv.stop(); }
});

test('SIGTERM: stops accepting, closes idle connections, exits 0', async () => {
  const srv = await serve();
  const sock = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  sock.resume();
  const closed = new Promise((r) => sock.once('close', r));
  const code = await srv.stop('SIGTERM');
  await closed;
  assert.strictEqual(code, 0);
  assert.match(srv.stderr(), /"event":"draining"/);
});

run();
