// sio-util.js — shared pieces of the Socket.IO integration tests
// (tests/js/10-sio-*): start examples/echo, connect socket.io-client 4.8
// sockets, await events with deadlines, and raw WebSocket sessions for
// sending packets no well-behaved client would send.
'use strict';
const { io } = require('socket.io-client');
const WebSocket = require('ws');
const { startServer } = require('./harness');

// examples/echo with the test hooks on a free port (or opts.port).
function startEcho(extra = [], opts = {}) {
  const args = ['--port', String(opts.port || 0), '--test-hooks', ...extra];
  return startServer('echo', args, opts);
}

// Resolves with the arguments of the next `event` on emitter, or rejects
// after ms.
function once(emitter, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`no "${event}" within ${ms} ms`));
    }, ms);
    function on(...args) {
      clearTimeout(t);
      emitter.off(event, on);
      resolve(args);
    }
    emitter.on(event, on);
  });
}

// A connected client socket; rejects with the connect_error.
function connect(port, nsp = '/', opts = {}, ms = 5000) {
  const socket = io(`http://127.0.0.1:${port}${nsp}`, {
    forceNew: true,
    reconnection: false,
    ...opts,
  });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { socket.close(); reject(new Error('connect timed out')); }, ms);
    socket.once('connect', () => { clearTimeout(t); socket.off('connect_error'); resolve(socket); });
    socket.once('connect_error', (err) => { clearTimeout(t); socket.close(); reject(err); });
  });
}

// emit with an ack, resolving with the array of the ack's arguments, or
// rejecting after ms.
function call(socket, ms, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(ms).emit(...args, (err, ...res) => (err ? reject(err) : resolve(res)));
  });
}

// call() for acks of one value.
async function call1(socket, ms, ...args) {
  return (await call(socket, ms, ...args))[0];
}

// A raw Engine.IO WebSocket session: messages arrive in `queue`; next()
// awaits the next one that is not a ping (pings are answered).
function rawSession(port) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`);
  const queue = [];
  const waiters = [];
  let closed = false;
  const closeWaiters = [];
  ws.on('message', (data, isBinary) => {
    const msg = isBinary ? Buffer.from(data) : data.toString();
    if (msg === '2') { ws.send('3'); return; }
    if (waiters.length) waiters.shift()(msg); else queue.push(msg);
  });
  ws.on('close', () => { closed = true; closeWaiters.splice(0).forEach((f) => f()); });
  ws.on('error', () => {});
  const session = {
    ws,
    opened: new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }),
    next(ms = 3000) {
      if (queue.length) return Promise.resolve(queue.shift());
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no message within ${ms} ms`)), ms);
        waiters.push((m) => { clearTimeout(t); resolve(m); });
      });
    },
    send(data) { ws.send(data); },
    closed(ms = 3000) {
      if (closed) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`not closed within ${ms} ms`)), ms);
        closeWaiters.push(() => { clearTimeout(t); resolve(); });
      });
    },
    isClosed() { return closed; },
  };
  return session;
}

// A raw session connected to namespace "/" (the open packet, CONNECT and
// the auth event consumed).
async function rawConnected(port) {
  const s = rawSession(port);
  await s.opened;
  const open = await s.next();
  if (!open.startsWith('0{')) throw new Error('expected an open packet, got ' + open);
  s.send('40');
  const ok = await s.next();
  if (!ok.startsWith('40{')) throw new Error('expected CONNECT answer, got ' + ok);
  await s.next(); // auth event
  return s;
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

module.exports = { startEcho, once, connect, call, call1, rawSession, rawConnected, sleep };
