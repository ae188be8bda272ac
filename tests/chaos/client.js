// client.js — one chaos client: a real socket.io-client that behaves as a
// careful chat app does, and remembers exactly what it saw.
//
// - It sends with retry: the same clientId until the server acks, with
//   exponential backoff and full jitter after a timeout or a disconnect, and
//   the server's retryAfterMs after rate_limited.
// - It keeps a view per channel: seq -> the event it saw (live broadcast,
//   channel:sync result, or its own send's ack), and `last`, the highest seq
//   up to which it has everything. A seq that does not follow `last` is a
//   gap: it calls channel:sync from `last` (again while hasMore). After every
//   reconnect (each `ready`) it resyncs every channel the same way.
// - It counts what a scenario judges: conflicting events for one seq,
//   repeated deliveries, live broadcasts out of seq order, refusals, server
//   disconnects, reconnects, delivery latency of messages stamped `t=<ms>`.
//
// Reconnecting is socket.io-client's own (its Manager, jittered backoff);
// the worker seeds Math.random so that jitter replays too. When the server
// disconnects a socket on purpose ("io server disconnect", which the stock
// client does not retry) or refuses it with a connect_error, the client
// reconnects after its own backoff, as an app should, and counts it.
'use strict';
const { io } = require('socket.io-client');
const crypto = require('crypto');

const EVENT_TYPES = ['message:new', 'message:updated', 'message:deleted', 'reaction:updated', 'member:joined', 'member:left'];

// A compact, comparable form of one channel event.
function eventEntry(type, p) {
  switch (type) {
    case 'message:new':
      return `m|${p.id}|${p.author && p.author.id}|${p.clientId}`;
    case 'member:joined':
    case 'member:left':
      return `${type === 'member:joined' ? 'j' : 'l'}|${p.user && p.user.id}`;
    case 'reaction:updated':
      return `r|${p.id}|${p.emoji}|${p.user}|${p.op}`;
    default:
      return `${type}|${p.id}`;
  }
}

// Hash of the ordered entries (from, to] of a seq -> entry map.
function viewHash(entries, from, to) {
  const h = crypto.createHash('sha1');
  for (let s = from + 1; s <= to; s++) h.update(`${s}:${entries.get(s)}\n`);
  return h.digest('hex');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class ChaosClient {
  // opts: url, user, name, rng, from ('zero' | 'ready': where a view starts),
  // ackTimeoutMs, backoffBaseMs, backoffMaxMs, query, ioOpts, trackLatency,
  // syncLimit (channel:sync page size, default 500), join (channels to join
  // on the first connection)
  constructor(opts) {
    this.opts = opts;
    this.user = opts.user;
    this.rng = opts.rng;
    this.from = opts.from || 'zero';
    this.ackTimeoutMs = opts.ackTimeoutMs || 10000;
    this.backoffBaseMs = opts.backoffBaseMs || 100;
    this.backoffMaxMs = opts.backoffMaxMs || 3000;
    this.syncLimit = opts.syncLimit || 500;
    this.views = new Map();
    this.live = false;
    this.closed = false;
    this.liveWaiters = [];
    this.syncedWaiters = [];
    this.sendNo = 0;
    this.sent = [];
    this.pendingSends = 0;
    this.latencies = [];
    this.lastLive = new Map();
    this.st = {
      connects: 0, readies: 0, disconnects: 0, reasons: {}, serverDisconnects: 0,
      refusals: {}, connectErrors: 0, syncCalls: 0, syncErrors: 0, gaps: 0, dupes: 0,
      outOfOrder: 0, sendAttempts: 0, sendTimeouts: 0, rateLimited: 0, dupAcks: 0,
    };
    this.conflicts = [];
    this.errors = [];
    this.firstReadyAt = 0;
    this.lastReadyAt = 0;
    this.lastSyncedAt = 0;
    this.readyEpoch = 0;
  }

  start() {
    const o = this.opts;
    this.socket = io(o.url, {
      auth: { user: this.user, name: o.name || this.user },
      forceNew: true,
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: o.reconnectionDelay || 500,
      reconnectionDelayMax: o.reconnectionDelayMax || 5000,
      randomizationFactor: 0.5,
      timeout: o.connectTimeoutMs || 10000,
      query: o.query || {},
      ...(o.ioOpts || {}),
    });
    const s = this.socket;
    s.on('connect', () => { this.st.connects++; });
    s.on('ready', (r) => this._onReady(r));
    s.on('disconnect', (reason) => this._onDisconnect(reason));
    s.on('connect_error', (e) => this._onConnectError(e));
    for (const type of EVENT_TYPES) {
      s.on(type, (p) => this._onEvent(type, p));
    }
    return this.waitLive(o.firstReadyTimeoutMs || 60000);
  }

  _onReady(r) {
    this.st.readies++;
    this.readyEpoch++;
    this.lastReadyAt = Date.now();
    if (!this.firstReadyAt) this.firstReadyAt = this.lastReadyAt;
    this.readyInfo = r;
    this.lastLive.clear();
    for (const ch of r.channels || []) {
      if (!this.views.has(ch.id)) this.views.set(ch.id, this._newView(ch.id, this.from === 'ready' ? ch.seq : 0));
      this.views.get(ch.id).target = ch.seq;
    }
    this.live = true;
    const w = this.liveWaiters;
    this.liveWaiters = [];
    for (const f of w) f();
    this._syncAfterReady(this.readyEpoch);
  }

  async _syncAfterReady(epoch) {
    if (this.opts.join) await this._joinMissing();
    await Promise.all([...this.views.keys()].map((ch) => this.sync(ch)));
    if (epoch !== this.readyEpoch || !this.live) return; // a newer connection took over
    this._checkSynced();
  }

  // Once every view has been synced on the current connection, the client
  // counts as resynced (whichever sync finished last).
  _checkSynced() {
    if (!this.live || this.lastSyncedAt >= this.lastReadyAt) return;
    if (![...this.views.values()].every((v) => v.syncOk)) return;
    this.lastSyncedAt = Date.now();
    const w = this.syncedWaiters;
    this.syncedWaiters = [];
    for (const f of w) f();
  }

  // Joins the channels in opts.join this user is not a member of yet. After
  // a reconnect the server already has the membership (ready lists it), so
  // this runs once per channel; a channel that ready stops listing after
  // having been joined is a lost membership, recorded as an error.
  async _joinMissing() {
    const listed = new Set((this.readyInfo.channels || []).map((c) => c.id));
    for (const ch of this.opts.join) {
      if (listed.has(ch)) continue;
      if (this.views.has(ch)) {
        this.errors.push({ op: 'ready', channel: ch, error: `membership of ${ch} lost: ready does not list it after a reconnect` });
        continue;
      }
      const res = await new Promise((resolve) => {
        this.socket.timeout(this.ackTimeoutMs).emit('channel:join', { channel: ch }, (err, r) => {
          if (!err && r && r.ok && !this.views.has(ch)) {
            this.views.set(ch, this._newView(ch, this.from === 'ready' ? r.channel.seq : 0));
          }
          resolve(err ? null : r);
        });
      });
      if (!res || !res.ok) {
        this.st.joinErrors = (this.st.joinErrors || 0) + 1;
        if (res) this.errors.push({ op: 'channel:join', channel: ch, error: res.error });
      }
    }
  }

  _onDisconnect(reason) {
    this.live = false;
    this.st.disconnects++;
    this.st.reasons[reason] = (this.st.reasons[reason] || 0) + 1;
    for (const v of this.views.values()) v.syncOk = false;
    if (this.closed) return;
    if (reason === 'io server disconnect') {
      // The stock client stays down after this; an app reconnects.
      this.st.serverDisconnects++;
      this._reconnectLater();
    }
  }

  _onConnectError(e) {
    this.st.connectErrors++;
    if (this.closed) return;
    if (e && e.data && e.data.code) {
      this.st.refusals[e.data.code] = (this.st.refusals[e.data.code] || 0) + 1;
    }
    // A refusal by the server (a CONNECT_ERROR packet) is not retried by the
    // stock client; transport failures are (socket.active stays true).
    if (!this.socket.active) this._reconnectLater(e && e.data && e.data.retryAfterMs);
  }

  _reconnectLater(hintMs) {
    if (this.reconnectTimer) return;
    const ms = (hintMs || 0) + this._backoff(Math.min(this.st.serverDisconnects + this.st.connectErrors, 6));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.closed && !this.socket.connected) this.socket.connect();
    }, ms);
  }

  _newView(channel, base) {
    return { channel, base, last: base, max: base, entries: new Map(), target: base, syncing: null, again: false, syncOk: false };
  }

  _onEvent(type, p) {
    if (!p || typeof p.seq !== 'number' || !p.channel) return;
    const v = this.views.get(p.channel);
    if (!v) return; // a channel this client is not tracking
    if (type === 'message:new') {
      const prev = this.lastLive.get(p.channel) || 0;
      if (p.seq <= prev) this.st.outOfOrder++;
      this.lastLive.set(p.channel, p.seq);
      if (this.opts.trackLatency && typeof p.text === 'string') {
        const m = / t=(\d+)/.exec(p.text);
        if (m) { const now = Date.now(); this.latencies.push([now, now - Number(m[1])]); }
      }
    }
    this._insert(v, p.seq, eventEntry(type, p), 'live');
  }

  _insert(v, seq, entry, src) {
    if (seq <= v.base) return;
    const had = v.entries.get(seq);
    if (had !== undefined) {
      if (had !== entry) this.conflicts.push({ channel: v.channel, seq, had, got: entry, src });
      else this.st.dupes++;
      return;
    }
    v.entries.set(seq, entry);
    if (seq > v.max) v.max = seq;
    while (v.entries.has(v.last + 1)) v.last++;
    // A hole behind a live event or an ack: fetch what is missing. (Inside
    // a sync answer the running sync goes on by itself.)
    if (v.max > v.last && this.live && src !== 'sync' && v.max === seq) {
      this.st.gaps++;
      this.st[`gaps_${src}`] = (this.st[`gaps_${src}`] || 0) + 1;
      this.sync(v.channel);
    }
  }

  // channel:sync from `last` until hasMore is false. Concurrent calls fold
  // into the running one (which goes round again). Resolves when done or
  // when the connection drops (the next ready syncs again).
  sync(channel) {
    const v = this.views.get(channel);
    if (!v) return Promise.resolve();
    if (v.syncing) { v.again = true; return v.syncing; }
    v.syncing = (async () => {
      try {
        do {
          v.again = false;
          let more = true;
          while (more) {
            if (!this.live || this.closed) return;
            const after = v.last;
            this.st.syncCalls++;
            let top = after;
            const res = await new Promise((resolve) => {
              this.socket.timeout(this.ackTimeoutMs).emit('channel:sync', { channel, after, limit: this.syncLimit }, (err, r) => {
                if (err) return resolve(null);
                if (r && r.ok) {
                  for (const ev of r.events) {
                    const { type, ...payload } = ev;
                    payload.channel = payload.channel || channel;
                    this._insert(v, ev.seq, eventEntry(type, payload), 'sync');
                    if (ev.seq > top) top = ev.seq;
                  }
                }
                resolve(r || { ok: false });
              });
            });
            if (res === null) {
              this.st.syncErrors++;
              if (!this.live || this.closed) return; // disconnected: the next ready syncs
              await sleep(this._backoff(2)); // timed out on a live connection: ask again
              continue;
            }
            if (!res.ok) {
              this.st.syncErrors++;
              const code = res && res.error && res.error.code;
              if (code === 'rate_limited') { await sleep((res.error.retryAfterMs || 100) + this.rng.int(0, 50)); continue; }
              this.errors.push({ op: 'channel:sync', channel, after, error: res && res.error });
              return;
            }
            if (v.last < top) {
              // The server's answer itself skipped a seq.
              this.errors.push({ op: 'channel:sync', channel, after, error: `answer not contiguous: last ${v.last}, answer reached ${top}` });
              return;
            }
            more = res.hasMore;
            if (more && res.events.length === 0) {
              this.errors.push({ op: 'channel:sync', channel, after, error: 'hasMore with no events' });
              return;
            }
          }
        } while (v.again);
        v.syncOk = true;
      } finally {
        v.syncing = null;
      }
      this._checkSynced();
    })();
    return v.syncing;
  }

  waitLive(timeoutMs = 60000) {
    if (this.live) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.user}: not connected within ${timeoutMs} ms`)), timeoutMs);
      this.liveWaiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  // Resolves once connected and every channel synced since the last ready.
  waitSynced(timeoutMs = 60000) {
    if (this.live && this.lastSyncedAt >= this.lastReadyAt && this.lastSyncedAt) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.user}: not synced within ${timeoutMs} ms`)), timeoutMs);
      this.syncedWaiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  _backoff(attempt) {
    const cap = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** attempt);
    return Math.floor(this.rng() * cap) + 10; // full jitter
  }

  // Sends until acked (or a refusal that retrying cannot fix). Resolves with
  // the record { clientId, channel, seq, id, attempts, ... }.
  async send(channel, text, clientId) {
    const rec = { clientId: clientId || `${this.user}-${++this.sendNo}`, channel, attempts: 0, firstAt: Date.now(), seq: 0, id: null };
    this.sent.push(rec);
    this.pendingSends++;
    try {
      for (let attempt = 0; ; attempt++) {
        if (this.closed) { rec.error = 'closed before ack'; return rec; }
        if (!this.live) {
          try { await this.waitLive(this.opts.sendLiveWaitMs || 120000); } catch (_) { /* look again */ }
          continue;
        }
        rec.attempts++;
        this.st.sendAttempts++;
        // The ack goes into the view inside the callback, not after an
        // await: packets that came in the same read are handled
        // synchronously, and a promise would let the broadcasts behind the
        // ack overtake it (a false gap).
        const res = await new Promise((resolve) => {
          this.socket.timeout(this.ackTimeoutMs).emit('message:send', { channel, clientId: rec.clientId, text }, (err, r) => {
            if (err) return resolve(null);
            if (r && r.ok && r.message) {
              const m = r.message;
              const v = this.views.get(channel);
              if (v) this._insert(v, m.seq, eventEntry('message:new', m), 'ack');
            }
            resolve(r || { ok: false, error: { code: 'no_answer' } });
          });
        });
        if (res === null) {
          this.st.sendTimeouts++;
          await sleep(this._backoff(attempt));
          continue;
        }
        if (res.ok) {
          const m = res.message;
          rec.seq = m.seq;
          rec.id = m.id;
          rec.ackAt = Date.now();
          if (res.duplicate) { rec.duplicateAck = true; this.st.dupAcks++; }
          if (m.clientId !== rec.clientId || m.channel !== channel) {
            this.errors.push({ op: 'message:send', clientId: rec.clientId, error: `ack for another message: ${JSON.stringify(m)}` });
          }
          return rec;
        }
        const err = res.error || { code: 'no_answer' };
        if (err.code === 'rate_limited') {
          this.st.rateLimited++;
          await sleep((err.retryAfterMs || 100) + this.rng.int(0, 20));
          attempt = 0;
          continue;
        }
        if (err.code === 'internal' || err.code === 'unavailable') {
          // The store refused while closing (SIGTERM): retry like a timeout.
          await sleep(this._backoff(attempt));
          continue;
        }
        rec.error = err;
        this.errors.push({ op: 'message:send', clientId: rec.clientId, error: err });
        return rec;
      }
    } finally {
      this.pendingSends--;
    }
  }

  // What a scenario needs to judge this client, small enough to ship
  // between processes.
  summary({ withEntries = false } = {}) {
    const views = {};
    for (const [ch, v] of this.views) {
      views[ch] = { base: v.base, last: v.last, max: v.max, hash: viewHash(v.entries, v.base, v.last) };
      if (withEntries) views[ch].entries = [...v.entries.entries()].sort((a, b) => a[0] - b[0]);
    }
    return {
      user: this.user,
      live: this.live,
      views,
      st: this.st,
      conflicts: this.conflicts,
      errors: this.errors,
      sent: this.sent.map((r) => ({ clientId: r.clientId, channel: r.channel, seq: r.seq, id: r.id, attempts: r.attempts, error: r.error, duplicateAck: !!r.duplicateAck })),
      pendingSends: this.pendingSends,
      firstReadyAt: this.firstReadyAt,
      lastReadyAt: this.lastReadyAt,
      lastSyncedAt: this.lastSyncedAt,
    };
  }

  close() {
    this.closed = true;
    const w = this.liveWaiters;
    this.liveWaiters = [];
    for (const f of w) f();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.socket) this.socket.close();
    this.live = false;
  }
}

module.exports = { ChaosClient, eventEntry, viewHash, EVENT_TYPES };
