// parley.js — start `parley serve` for a test: a fresh data directory, a
// free port, open mode by default; connect socket.io clients; restart on
// the same data. Shared by every chat test.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { io } = require('socket.io-client');
const { startServer } = require('./harness');

// opts: { env: {PARLEY_*...}, args: [...], dataDir }
async function startParley(opts = {}) {
  const dataDir = opts.dataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'parley-test-'));
  let port = opts.port || 0;
  const launch = async () => {
    const s = await startServer('parley', ['serve', '--port', String(port), '--data', dataDir, ...(opts.args || [])],
      { env: { ...(opts.env || {}) } });
    port = s.port;
    return s;
  };
  let srv = await launch();
  const clients = [];
  const api = {
    dataDir,
    get port() { return port; },
    get url() { return `http://127.0.0.1:${port}`; },
    get pid() { return srv.pid; },
    stderr: () => srv.stderr(),
    // A connected client; resolves after `ready` with { socket, ready }.
    async connect(auth, ioOpts = {}) {
      const socket = io(api.url, { auth, forceNew: true, reconnection: false, transports: ['websocket'], ...ioOpts });
      clients.push(socket);
      const ready = await new Promise((resolve, reject) => {
        socket.once('ready', resolve);
        socket.once('connect_error', (e) => reject(Object.assign(new Error(e.message), { data: e.data })));
      });
      return { socket, ready };
    },
    // A client that is expected to be refused: resolves with the connect_error.
    async refused(auth, ioOpts = {}) {
      const socket = io(api.url, { auth, forceNew: true, reconnection: false, transports: ['websocket'], ...ioOpts });
      clients.push(socket);
      return new Promise((resolve, reject) => {
        socket.once('connect_error', (e) => resolve({ message: e.message, data: e.data }));
        socket.once('ready', () => reject(new Error('connected, expected a refusal')));
      });
    },
    async restart(signal = 'SIGTERM') {
      await srv.stop(signal);
      srv = await launch();
    },
    async stop(signal = 'SIGTERM') {
      for (const c of clients) c.disconnect();
      return srv.stop(signal);
    },
  };
  return api;
}

// Emits with an ack and resolves with the ack's argument.
function request(socket, event, payload, timeoutMs = 5000) {
  return socket.timeout(timeoutMs).emitWithAck(event, payload);
}

// Resolves with the next `event` on socket (optionally matching pred).
function next(socket, event, pred = () => true, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { socket.off(event, on); reject(new Error(`no ${event} within ${timeoutMs} ms`)); }, timeoutMs);
    function on(...args) {
      if (!pred(...args)) return;
      clearTimeout(t);
      socket.off(event, on);
      resolve(args[0]);
    }
    socket.on(event, on);
  });
}

// Resolves true if no `event` arrives within ms (for "nothing is sent" checks).
function silent(socket, event, ms, pred = () => true) {
  return new Promise((resolve) => {
    let seen = false;
    const on = (...a) => { if (pred(...a)) seen = true; };
    socket.on(event, on);
    setTimeout(() => { socket.off(event, on); resolve(!seen); }, ms);
  });
}

// Runs fn with a fresh server; the server must exit cleanly (status 0: no
// sanitizer report) when fn succeeded.
async function withParley(opts, fn) {
  const p = await startParley(opts);
  let ok = false;
  try {
    await fn(p);
    ok = true;
  } finally {
    const code = await p.stop();
    if (ok && code !== 0) throw new Error('server exits cleanly: status ' + code + '\n' + p.stderr().slice(-3000));
  }
}

// Every `events` a socket receives, in order, as {e, a}.
function recorder(socket, events) {
  const got = [];
  for (const e of events) socket.on(e, (a) => got.push({ e, a }));
  return got;
}

// A round trip on socket: whatever the server sent it before is delivered.
async function barrier(socket) {
  const r = await request(socket, 'notification:list', { limit: 1 });
  if (!r || r.ok !== true) throw new Error('barrier: ' + JSON.stringify(r));
}

module.exports = { startParley, request, next, silent, withParley, recorder, barrier };
