// proxy.js — a TCP proxy of our own between chaos clients and the server,
// commanded by the test at run time: delay, stall, reset or black-hole
// connections, one at a time or all at once, and list the live ones.
//
// It is the fault injector for the chaos scenarios (there is no tc netem on
// this machine). Loopback only: it listens on 127.0.0.1 and forwards to
// 127.0.0.1. Not a general proxy: no TLS, no HTTP awareness beyond reading a
// `chaos=<tag>` query parameter out of the first bytes a client sends, so a
// test can name the connection of one particular client (socket.io-client:
// `query: { chaos: 'slow' }`).
//
// Faults, per connection:
//   delay(ms)        every chunk waits ms before it is forwarded (order kept)
//   stall(dir)       stop forwarding without closing: stop reading the side(s)
//                    that feed `dir` ('down' = server to client, 'up', 'both'),
//                    so TCP back-pressure reaches the sender; resume() undoes
//   reset()          destroy both sides with a TCP RST
//   blackhole()      keep reading both sides, forward nothing, never answer,
//                    never close; cannot be undone (the streams are cut)
// and for connections still to come, setMode(): 'pass', 'blackhole' (accept
// and swallow, no upstream connection at all) or 'reset' (RST on accept).
// cut() = black-hole every live connection and every new one; restore() =
// new connections pass again (the black-holed ones stay dead until their
// peers give up on them: that is what a cut network looks like).
//
// `which` selects connections: 'all', an id, an array of ids, a tag string
// prefixed with '#' ('#slow'), or a predicate (conn) => bool.
'use strict';
const net = require('net');
const { EventEmitter } = require('events');

class ChaosProxy extends EventEmitter {
  constructor({ targetPort, targetHost = '127.0.0.1', port = 0 } = {}) {
    super();
    if (targetHost !== '127.0.0.1' && targetHost !== 'localhost') throw new Error('proxy: loopback only');
    this.targetHost = targetHost;
    this.targetPort = targetPort;
    this.port = port;
    this.mode = 'pass';
    this.conns = new Map();
    this.nextId = 1;
    this.server = null;
    this.stats = { accepted: 0, blackholed: 0, resets: 0, upstreamErrors: 0 };
  }

  start() {
    return new Promise((resolve, reject) => {
      this.server = net.createServer({ allowHalfOpen: true }, (c) => this._accept(c));
      this.server.maxConnections = 60000;
      this.server.on('error', reject);
      this.server.listen(this.port, '127.0.0.1', 4096, () => {
        this.port = this.server.address().port;
        resolve(this.port);
      });
    });
  }

  get url() { return `http://127.0.0.1:${this.port}`; }

  // The server may come back on another port after a restart.
  setTarget(port) { this.targetPort = port; }

  // Mode for connections accepted from now on: 'pass', 'blackhole', 'reset'.
  setMode(mode) {
    if (!['pass', 'blackhole', 'reset'].includes(mode)) throw new Error(`proxy: unknown mode ${mode}`);
    this.mode = mode;
  }

  _accept(client) {
    const id = this.nextId++;
    this.stats.accepted++;
    client.setNoDelay(true);
    if (this.mode === 'reset') {
      this.stats.resets++;
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    const conn = {
      id,
      tag: null,
      clientPort: client.remotePort,
      opened: Date.now(),
      client,
      upstream: null,
      state: 'pass', // pass | blackhole | closed
      stalled: { up: false, down: false },
      delayMs: 0,
      bytesUp: 0,
      bytesDown: 0,
      pendingUp: [], // chunks waiting for the upstream to connect
      lastDue: { up: 0, down: 0 },
      timers: new Set(),
    };
    this.conns.set(id, conn);
    // Half-open sockets: a FIN is passed on only while forwarding, so a
    // black-holed peer never hears back, not even a FIN.
    client.on('error', () => { conn.clientError = true; });
    client.on('end', () => { if (conn.state === 'pass' && conn.upstream && !conn.upstream.destroyed) conn.upstream.end(); });
    client.on('close', () => this._sideClosed(conn, 'client'));
    client.on('data', (d) => this._fromClient(conn, d));
    if (this.mode === 'blackhole') {
      this.stats.blackholed++;
      conn.state = 'blackhole';
      return;
    }
    const up = net.connect({ host: this.targetHost, port: this.targetPort, allowHalfOpen: true });
    conn.upstream = up;
    up.setNoDelay(true);
    up.on('connect', () => {
      const q = conn.pendingUp;
      conn.pendingUp = [];
      for (const d of q) this._forward(conn, 'up', d);
    });
    up.on('data', (d) => this._fromServer(conn, d));
    up.on('error', () => { conn.upstreamError = true; this.stats.upstreamErrors++; });
    up.on('end', () => { if (conn.state === 'pass' && !client.destroyed) client.end(); });
    up.on('close', () => this._sideClosed(conn, 'upstream'));
    this._applyStall(conn);
  }

  // One side closed. Passing connections pass the close on (an RST when
  // the server's side errored, as the kernel would); black-holed ones do
  // not: across a cut network neither peer learns of the other's close.
  _sideClosed(conn, side) {
    conn[side === 'client' ? 'clientGone' : 'upstreamGone'] = true;
    if (conn.state === 'pass') {
      const other = side === 'client' ? conn.upstream : conn.client;
      if (other && !other.destroyed) {
        if (conn[side === 'client' ? 'clientError' : 'upstreamError']) other.resetAndDestroy();
        else other.destroySoon(); // FIN after what is already queued
      }
      this._closed(conn);
      return;
    }
    if (conn.clientGone && (conn.upstreamGone || !conn.upstream)) this._closed(conn);
  }

  _closed(conn) {
    if (conn.state === 'closed') return;
    conn.state = 'closed';
    for (const t of conn.timers) clearTimeout(t);
    conn.timers.clear();
    for (const sock of [conn.client, conn.upstream]) {
      if (sock && !sock.destroyed && !sock.writableEnded) sock.destroy();
    }
    this.conns.delete(conn.id);
    this.emit('close', conn);
  }

  _fromClient(conn, d) {
    if (conn.tag === null) {
      const m = /[?&]chaos=([A-Za-z0-9_.-]+)/.exec(d.toString('latin1', 0, Math.min(d.length, 2048)));
      conn.tag = m ? m[1] : '';
      if (m) this.emit('tagged', conn);
    }
    conn.bytesUp += d.length;
    if (conn.state !== 'pass') return; // black-holed: swallowed
    this._forward(conn, 'up', d);
  }

  _fromServer(conn, d) {
    conn.bytesDown += d.length;
    if (conn.state !== 'pass') return;
    this._forward(conn, 'down', d);
  }

  // Writes d toward dir, after the connection's delay (order kept: a chunk
  // never overtakes an earlier one).
  _forward(conn, dir, d) {
    const dst = dir === 'up' ? conn.upstream : conn.client;
    if (dir === 'up' && conn.upstream && conn.upstream.connecting) {
      conn.pendingUp.push(d);
      return;
    }
    if (!conn.delayMs) {
      if (!dst.destroyed) dst.write(d);
      return;
    }
    const now = Date.now();
    const due = Math.max(now + conn.delayMs, conn.lastDue[dir]);
    conn.lastDue[dir] = due;
    const t = setTimeout(() => {
      conn.timers.delete(t);
      if (conn.state === 'pass' && !dst.destroyed) dst.write(d);
    }, due - now);
    conn.timers.add(t);
  }

  // Reading from a side is what feeds the other direction: not reading the
  // server stalls 'down', not reading the client stalls 'up'.
  _applyStall(conn) {
    if (conn.state !== 'pass') return;
    const setReading = (sock, stalled) => {
      if (!sock || sock.destroyed) return;
      if (stalled) sock.pause(); else sock.resume();
    };
    setReading(conn.upstream, conn.stalled.down);
    setReading(conn.client, conn.stalled.up);
  }

  select(which = 'all') {
    const all = [...this.conns.values()];
    if (which === 'all') return all;
    if (typeof which === 'function') return all.filter(which);
    if (typeof which === 'number') return all.filter((c) => c.id === which);
    if (Array.isArray(which)) return all.filter((c) => which.includes(c.id));
    if (typeof which === 'string' && which.startsWith('#')) return all.filter((c) => c.tag === which.slice(1));
    throw new Error(`proxy: bad selector ${which}`);
  }

  delay(which, ms) {
    const cs = this.select(which);
    for (const c of cs) c.delayMs = ms;
    return cs.length;
  }

  stall(which, dir = 'both') {
    const cs = this.select(which);
    for (const c of cs) {
      if (dir === 'both' || dir === 'down') c.stalled.down = true;
      if (dir === 'both' || dir === 'up') c.stalled.up = true;
      this._applyStall(c);
    }
    return cs.length;
  }

  resume(which) {
    const cs = this.select(which);
    for (const c of cs) {
      c.stalled = { up: false, down: false };
      c.delayMs = 0;
      this._applyStall(c);
    }
    return cs.length;
  }

  reset(which) {
    const cs = this.select(which);
    for (const c of cs) {
      this.stats.resets++;
      c.state = 'closed';
      for (const t of c.timers) clearTimeout(t);
      if (!c.client.destroyed) c.client.resetAndDestroy();
      if (c.upstream && !c.upstream.destroyed) c.upstream.resetAndDestroy();
      this.conns.delete(c.id);
      this.emit('close', c);
    }
    return cs.length;
  }

  blackhole(which) {
    const cs = this.select(which);
    for (const c of cs) {
      if (c.state !== 'pass') continue;
      this.stats.blackholed++;
      c.state = 'blackhole';
      for (const t of c.timers) clearTimeout(t);
      c.timers.clear();
      // Keep reading both sides so neither peer sees back-pressure: to
      // them the other end has simply gone quiet.
      c.client.resume();
      if (c.upstream) c.upstream.resume();
    }
    return cs.length;
  }

  cut() {
    this.setMode('blackhole');
    return this.blackhole('all');
  }

  restore() {
    this.setMode('pass');
  }

  // Live connections, without the sockets.
  list() {
    return [...this.conns.values()].map((c) => ({
      id: c.id,
      tag: c.tag,
      clientPort: c.clientPort,
      ageMs: Date.now() - c.opened,
      state: c.state,
      stalled: { ...c.stalled },
      delayMs: c.delayMs,
      bytesUp: c.bytesUp,
      bytesDown: c.bytesDown,
    }));
  }

  // Closes the listener and every connection (plainly, no RST).
  close() {
    for (const c of [...this.conns.values()]) this._closed(c);
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

async function startProxy(opts) {
  const p = new ChaosProxy(opts);
  await p.start();
  return p;
}

module.exports = { ChaosProxy, startProxy };
