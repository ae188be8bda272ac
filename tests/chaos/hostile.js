// hostile.js — the offenders of scenario 7: malformed and hostile traffic.
// Each actor does one bad thing to the server and resolves with what the
// server did about it: { name, expect: 'close' | 'refuse', outcome,
// ms (from the offence to the close or the refusal), detail }.
//   outcome 'closed'   the server closed the connection
//   outcome 'refused'  the server answered with an error and kept going
//   outcome 'ignored'  neither happened within the deadline
// Raw TCP and the `ws` client for the byte-level offences, socket.io-client
// for the protocol-level ones. Random bytes come from the scenario's seed.
'use strict';
const net = require('net');
const WebSocket = require('ws');
const { io } = require('socket.io-client');

const DEADLINE_MS = 15000;

function bytes(rng, n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rng() * 256);
  return b;
}

// Resolves when sock closes, or with null after ms.
function closedWithin(emitter, ms, event = 'close') {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const t = setTimeout(() => resolve(null), ms);
    emitter.once(event, (...a) => { clearTimeout(t); resolve({ ms: Date.now() - t0, args: a }); });
  });
}

function result(name, expect, closed, detail = '') {
  return closed ? { name, expect, outcome: 'closed', ms: closed.ms, detail } : { name, expect, outcome: 'ignored', ms: null, detail };
}

// A raw TCP offender: connect, send `data` (or nothing), wait for the close.
async function rawTcp(port, name, data) {
  const s = net.connect({ port, host: '127.0.0.1' });
  s.on('error', () => {});
  let answer = '';
  s.on('data', (d) => { answer += d.toString('latin1'); });
  await new Promise((r) => s.once('connect', r));
  const closing = closedWithin(s, DEADLINE_MS);
  if (data) s.write(data);
  const c = await closing;
  s.destroy();
  return result(name, 'close', c, answer.split('\r\n')[0].slice(0, 60));
}

// An Engine.IO WebSocket session; resolves once the open packet arrived.
// opts.sio: also join the main namespace as `user`. opts.pong (default
// true): answer the server's pings.
function eioSession(port, opts = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, { maxPayload: 64 << 20 });
    const t = setTimeout(() => reject(new Error('eio session: no open')), 10000);
    ws.on('error', () => {});
    const frames = [];
    ws.on('message', (d) => {
      const m = d.toString();
      frames.push(m);
      if (m === '2' && opts.pong !== false) ws.send('3');
      if (m.startsWith('0{')) {
        if (opts.sio) ws.send(`40${JSON.stringify({ user: opts.sio, name: opts.sio })}`);
        else { clearTimeout(t); resolve({ ws, frames }); }
      }
      if (opts.sio && m.startsWith('40')) { clearTimeout(t); resolve({ ws, frames }); }
    });
    ws.on('close', () => { clearTimeout(t); reject(new Error('eio session closed before open')); });
  });
}

async function wsOffence(port, name, opts, offend) {
  const { ws, frames } = await eioSession(port, opts);
  ws.removeAllListeners('close');
  const closing = closedWithin(ws, DEADLINE_MS);
  offend(ws);
  const c = await closing;
  ws.terminate();
  return result(name, 'close', c, c ? `close code ${c.args[0]}` : `frames: ${frames.slice(-3).join(' | ').slice(0, 120)}`);
}

// A socket.io-client that connects as `user`.
function sioClient(port, user) {
  const socket = io(`http://127.0.0.1:${port}`, { auth: { user, name: user }, forceNew: true, reconnection: false, transports: ['websocket'] });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${user}: no ready`)), 10000);
    socket.once('ready', () => { clearTimeout(t); resolve(socket); });
    socket.once('connect_error', (e) => { clearTimeout(t); reject(Object.assign(new Error(`${user}: ${e.message}`), { data: e.data })); });
  });
}

// A request that must be refused with `code` while the socket stays up.
async function refusedRequest(port, name, user, event, payload, code) {
  const socket = await sioClient(port, user);
  try {
    const t0 = Date.now();
    const r = await socket.timeout(DEADLINE_MS).emitWithAck(event, payload);
    const ms = Date.now() - t0;
    await new Promise((res) => setTimeout(res, 100));
    const ok = r && r.ok === false && r.error && r.error.code === code && socket.connected;
    return { name, expect: 'refuse', outcome: ok ? 'refused' : 'ignored', ms, detail: JSON.stringify(r).slice(0, 160) + (socket.connected ? '' : ' (and disconnected)') };
  } finally {
    socket.close();
  }
}

// Floods `event` as fast as the socket takes it; resolves once the server
// disconnects it. Records the acks: accepted sends must be in history.
async function flood(port, name, user, event, payloadOf, count) {
  const socket = await sioClient(port, user);
  const acks = { ok: 0, rate_limited: 0, other: 0, retryAfter: 0 };
  const accepted = [];
  const closing = closedWithin(socket, DEADLINE_MS, 'disconnect');
  const t0 = Date.now();
  for (let i = 0; i < count && socket.connected; i++) {
    const payload = payloadOf(i);
    socket.timeout(DEADLINE_MS).emit(event, payload, (err, r) => {
      if (err) return;
      if (r && r.ok) { acks.ok++; if (r.message) accepted.push({ clientId: r.message.clientId, seq: r.message.seq, id: r.message.id, channel: r.message.channel }); }
      else if (r && r.error && r.error.code === 'rate_limited') { acks.rate_limited++; if (r.error.retryAfterMs > 0) acks.retryAfter++; }
      else acks.other++;
    });
    if (i % 50 === 49) await new Promise((res) => setImmediate(res));
  }
  const c = await closing;
  socket.close();
  const r = result(name, 'close', c ? { ms: Date.now() - t0 } : null, `acks ${JSON.stringify(acks)}${c ? `, disconnect: ${c.args[0]}` : ''}`);
  r.acks = acks;
  r.accepted = accepted;
  r.user = user;
  return r;
}

// More sockets than --max-sockets-per-user allows: the extra ones must be
// refused with too_many_connections, the others stay.
async function tooMany(port, name, user, limit) {
  const sockets = [];
  let refused = 0;
  let other = '';
  const t0 = Date.now();
  for (let i = 0; i < limit + 2; i++) {
    try {
      sockets.push(await sioClient(port, user));
    } catch (e) {
      if (e.data && e.data.code === 'too_many_connections') refused++;
      else other = e.message;
    }
  }
  const ms = Date.now() - t0;
  const up = sockets.filter((s) => s.connected).length;
  for (const s of sockets) s.close();
  const ok = refused === 2 && up === limit;
  return { name, expect: 'refuse', outcome: ok ? 'refused' : 'ignored', ms, detail: `${up} connected, ${refused} refused too_many_connections${other ? `, other error: ${other}` : ''}` };
}

// Every offender at once. Returns their results.
async function unleash(port, rng, { maxSocketsPerUser = 10, channel = 'general' } = {}) {
  const actors = [
    rawTcp(port, 'random bytes instead of HTTP', bytes(rng, 4096)),
    rawTcp(port, 'malformed HTTP request line', 'GARBAGE /socket.io/ HTTP/9.9\r\nHost: x\r\n\r\n'),
    rawTcp(port, 'half-open: connects, sends nothing', null),
    rawTcp(port, 'half-open: request head never finished', 'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgr'),
    wsOffence(port, 'WebSocket frame with a reserved opcode', {}, (ws) => ws._socket.write(Buffer.from([0x83, 0x84, 1, 2, 3, 4, 5, 6, 7, 8]))),
    wsOffence(port, 'unmasked client frame', {}, (ws) => ws._socket.write(Buffer.from([0x81, 0x02, 0x34, 0x32]))),
    wsOffence(port, 'random bytes inside a WebSocket', {}, (ws) => ws._socket.write(bytes(rng, 2048))),
    wsOffence(port, 'not an Engine.IO packet', {}, (ws) => ws.send('\u0007garbage')),
    wsOffence(port, 'message over maxPayload (2 MB)', { sio: 'big' }, (ws) => ws.send(`42${JSON.stringify(['message:send', { channel, clientId: 'big-1', text: 'x'.repeat(2e6) }])}`)),
    wsOffence(port, 'invalid JSON in a Socket.IO event', { sio: 'badjson' }, (ws) => ws.send('421["message:send",{"channel":"general","clientId":')),
    wsOffence(port, 'Engine.IO session that never joins a namespace', {}, () => {}),
    wsOffence(port, 'client that stops answering pings', { sio: 'mute', pong: false }, () => {}),
    wsOffence(port, 'client that half-closes after connecting', { sio: 'halfclose' }, (ws) => ws._socket.end()),
    refusedRequest(port, 'text over 10 KiB', 'toolong', 'message:send', { channel, clientId: 'long-1', text: 'y'.repeat(20000) }, 'too_large'),
    refusedRequest(port, 'message:send with a number for a channel', 'badfield', 'message:send', { channel: 42, clientId: 'bad-1', text: 'hi' }, 'bad_request'),
    flood(port, 'message:send flood over the send rate', 'flooder', 'message:send', (i) => ({ channel, clientId: `flood-${i}`, text: `flood ${i}` }), 2000),
    flood(port, 'request flood over the event rate', 'spammer', 'channel:list', () => ({}), 2000),
    tooMany(port, 'more sockets than --max-sockets-per-user', 'multi', maxSocketsPerUser),
  ];
  return Promise.all(actors.map((p, i) => p.catch((e) => ({ name: `actor ${i}`, expect: '?', outcome: 'error', ms: null, detail: e.message }))));
}

module.exports = { unleash, DEADLINE_MS };
