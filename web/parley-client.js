// parley-client.js — a reliable browser client for a Parley server, on top of
// socket.io-client. Any web app can use it; our UI (app.js) is one user.
//
// What it gives an app:
// - An outbox in localStorage: every message gets a clientId, is shown as
//   queued at once, is sent in order one at a time, and is retried with
//   exponential backoff and jitter until the server acknowledges it. The
//   server dedupes by clientId, and the client drops an entry as soon as it
//   sees the message committed (ack, broadcast or sync), so a message is
//   never shown or stored twice.
// - Gap-free channel events: every persisted event has the channel's seq;
//   the client remembers the last seq per channel, hands events to the app
//   exactly once and in order, and calls channel:sync (looping while
//   hasMore) after every reconnect and whenever it sees a gap.
// - Reconnection that survives backgrounding and sleep: on visibilitychange,
//   online, focus, pageshow and resume it probes the connection with a
//   cheap request and a short timeout and reconnects at once when the probe
//   fails or the socket is already down. navigator.onLine === false holds
//   the connection down (a WebSocket may look open while the network is
//   gone) until the browser says it is back.
// - A health monitor (RTT; healthy / degraded / offline) as events.
// - Every listener it adds (window, document, socket) is removed by close();
//   listeners are added once per client, never per connection.
//
// What it is not: no rendering, no message store beyond the outbox; the app
// keeps its own view of messages, fed by the 'event' stream and history().
//
// Outboxes are per browser tab (a tab id in sessionStorage, held with a Web
// Lock while the page lives) so two tabs of one user never send each
// other's messages; a tab adopts the outbox of a tab that is gone.

const DEFAULTS = {
  url: undefined, // the page's origin
  auth: null, // {user, name} in open mode, or {token}
  device: 'web',
  io: null, // socket.io-client's io(); default: the server's ESM bundle
  storage: undefined, // localStorage
  transports: ['websocket', 'polling'],
  requestTimeoutMs: 10000,
  sendTimeoutMs: 10000,
  probeTimeoutMs: 2500, // the longest a check waits for its probe
  probeMinTimeoutMs: 750, // the shortest: a check waits 4 round trips, within these bounds
  healthIntervalMs: 15000,
  degradedRttMs: 1000,
  retryBaseMs: 500,
  retryMaxMs: 30000,
  reconnectDelayMs: 500,
  reconnectDelayMaxMs: 5000,
  connectTimeoutMs: 10000,
  syncLimit: 500,
  typingRepeatMs: 2500,
};

// Errors whose retry cannot succeed: the entry is marked failed for the user
// to fix, retry or discard. Anything else (timeouts, disconnects,
// rate_limited, internal) is retried.
const PERMANENT = new Set(['bad_request', 'too_large', 'forbidden', 'not_found', 'unauthorized', 'conflict']);

// Events of the server that are persisted with a seq.
const SEQ_EVENTS = ['message:new', 'message:updated', 'message:deleted', 'reaction:updated', 'member:joined', 'member:left'];
// Ephemeral events passed through as they come.
const PASS_EVENTS = ['typing', 'presence', 'read', 'notification', 'voice:state', 'rtc:signal'];

export class ParleyError extends Error {
  constructor(code, message, retryAfterMs) {
    super(message || code);
    this.name = 'ParleyError';
    this.code = code;
    if (retryAfterMs !== undefined) this.retryAfterMs = retryAfterMs;
  }
}

function randomId(bytes = 12) {
  const a = new Uint8Array(bytes);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}

// The subject of a JWT, read without verifying it: only to name this user's
// outbox in storage before the server has said who we are.
function tokenSubject(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part)).sub || null;
  } catch (_) {
    return null;
  }
}

function sessionStore() {
  try {
    return globalThis.sessionStorage || null;
  } catch (_) {
    return null;
  }
}

export class ParleyClient {
  constructor(options = {}) {
    this.opts = { ...DEFAULTS, ...options };
    if (!this.opts.auth) throw new TypeError('ParleyClient: auth is required ({user, name} or {token})');
    if (this.opts.storage === undefined) {
      try {
        this.opts.storage = globalThis.localStorage;
      } catch (_) {
        this.opts.storage = null;
      }
    }
    this.userKey = this.opts.auth.user || tokenSubject(this.opts.auth.token || '') || 'anonymous';
    this.user = null;
    this.socket = null;
    this.channels = new Map(); // id -> {id, name, kind, topic, seq, lastRead, unread, members?}
    this.connection = 'idle'; // idle, connecting, connected, reconnecting, offline, unauthorized, closed
    this.health = { state: 'offline', rtt: null, at: 0 };
    this.outbox = []; // [{clientId, channel, text, replyTo?, state, attempts, error?, createdAt}]

    this._handlers = new Map();
    this._domListeners = []; // [target, type, fn]
    this._socketListeners = []; // [emitter, type, fn]
    this._timers = new Set();
    this._seq = new Map(); // channel -> {last, syncing, again}
    // channel -> {base, baseSeq, seqs}: the server's unread count as of
    // baseSeq, and the seqs of others' messages we saw after it.
    this._unread = new Map();
    this._stubs = new Set(); // channels known only from an event, until channel:list names them
    this._sendGen = 0;
    this._inFlight = null;
    this._retryTimer = null;
    this._everReady = false;
    this._closed = false;
    this._offline = false;
    this._probing = null;
    this._lastProbeStart = 0;
    this._srtt = null; // smoothed round-trip time of answered probes
    this._lastForced = 0;
    this._healthTimer = null;
    this._reconnectTimer = null;
    this._reconnectAttempts = 0;
    this._typingSent = new Map(); // channel -> last typing:start time
    this._listPending = null;
    this._tab = null;
    this._releaseTab = null;
  }

  // ---- events ----------------------------------------------------------

  // Subscribes; returns a function that unsubscribes.
  on(type, fn) {
    if (!this._handlers.has(type)) this._handlers.set(type, new Set());
    this._handlers.get(type).add(fn);
    return () => this.off(type, fn);
  }

  off(type, fn) {
    const set = this._handlers.get(type);
    if (set) set.delete(fn);
  }

  _emit(type, data) {
    const set = this._handlers.get(type);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(data);
      } catch (e) {
        // One broken handler must not stop the others or the client.
        setTimeout(() => {
          throw e;
        });
      }
    }
  }

  // ---- lifecycle -------------------------------------------------------

  // Claims this tab's outbox, loads it, and connects. Resolves once the
  // outbox is loaded (the app can show queued messages and send at once);
  // the connection comes and goes by itself after that.
  start() {
    if (!this._starting) this._starting = this._start();
    return this._starting;
  }

  async _start() {
    if (this.socket || this._closed) return;
    this._tab = await this._claimTab();
    if (this._closed) return;
    this._loadOutbox();
    let io = this.opts.io;
    if (!io) {
      const base = this.opts.url || globalThis.location.href;
      ({ io } = await import(new URL('/socket.io/socket.io.esm.min.js', base).href));
    }
    if (this._closed) return;
    const auth = { ...this.opts.auth, device: this.opts.auth.device || this.opts.device };
    const ioOpts = {
      auth,
      autoConnect: false,
      forceNew: true,
      transports: this.opts.transports,
      tryAllTransports: this.opts.transports.length > 1,
      reconnectionDelay: this.opts.reconnectDelayMs,
      reconnectionDelayMax: this.opts.reconnectDelayMaxMs,
      randomizationFactor: 0.5,
      timeout: this.opts.connectTimeoutMs,
    };
    this.socket = this.opts.url ? io(this.opts.url, ioOpts) : io(ioOpts);
    this._wireSocket();
    this._wireDom();
    this._emit('outbox', this.outbox.slice());
    if (globalThis.navigator && navigator.onLine === false) {
      this._offline = true;
      this._setConnection('offline');
    } else {
      this._setConnection('connecting');
      this.socket.connect();
    }
  }

  // Disconnects and removes every listener, timer and lock this client
  // holds. The outbox stays in storage for the next start (or another tab).
  close() {
    if (this._closed) return;
    this._closed = true;
    for (const [target, type, fn] of this._domListeners) target.removeEventListener(type, fn);
    this._domListeners = [];
    for (const [emitter, type, fn] of this._socketListeners) emitter.off(type, fn);
    this._socketListeners = [];
    for (const t of this._timers) clearTimeout(t);
    this._timers.clear();
    clearInterval(this._healthTimer);
    this._healthTimer = null;
    if (this.socket) this.socket.disconnect();
    if (this._releaseTab) this._releaseTab();
    this._releaseTab = null;
    this._setConnection('closed');
    this._setHealth('offline', null);
    this._handlers.clear();
  }

  // Drops the current connection (dead or not) and connects again now.
  reconnect() {
    if (this._closed || !this.socket || this._offline || this._authFailed) return;
    this._clearTimer('_reconnectTimer');
    this.socket.disconnect();
    this._setConnection('reconnecting');
    this.socket.connect();
  }

  get connected() {
    return !!(this.socket && this.socket.connected && this.connection === 'connected');
  }

  // ---- timers ------------------------------------------------------------

  _later(ms, fn) {
    if (this._closed) return null; // e.g. an ack failing after close()
    const t = setTimeout(() => {
      this._timers.delete(t);
      fn();
    }, ms);
    this._timers.add(t);
    return t;
  }

  _clearTimer(name) {
    if (this[name]) {
      clearTimeout(this[name]);
      this._timers.delete(this[name]);
      this[name] = null;
    }
  }

  _backoff(attempt, base = this.opts.retryBaseMs, max = this.opts.retryMaxMs) {
    const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 20));
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  // ---- wiring --------------------------------------------------------------

  _listen(emitter, type, fn) {
    emitter.on(type, fn);
    this._socketListeners.push([emitter, type, fn]);
  }

  _listenDom(target, type, fn) {
    if (!target || !target.addEventListener) return;
    target.addEventListener(type, fn);
    this._domListeners.push([target, type, fn]);
  }

  _wireSocket() {
    const s = this.socket;
    this._listen(s, 'connect', () => {
      this._reconnectAttempts = 0;
      this._clearTimer('_reconnectTimer');
    });
    this._listen(s, 'ready', (r) => this._onReady(r));
    this._listen(s, 'disconnect', (reason) => this._onDisconnect(reason));
    this._listen(s, 'connect_error', (err) => this._onConnectError(err));
    for (const type of SEQ_EVENTS) {
      this._listen(s, type, (payload) => this._accept({ type, ...payload }, 'live'));
    }
    for (const type of PASS_EVENTS) {
      this._listen(s, type, (payload) => this._onPassThrough(type, payload));
    }
  }

  _wireDom() {
    const w = globalThis.window;
    const d = globalThis.document;
    this._listenDom(w, 'online', () => {
      this._offline = false;
      if (this.socket && !this.socket.connected) this.reconnect();
      else this.check('online');
    });
    this._listenDom(w, 'offline', () => {
      // The browser knows there is no network; a socket that looks open
      // now is not to be trusted (Chromium keeps WebSockets "open" through
      // an outage). Hold everything until `online`.
      this._offline = true;
      this._clearTimer('_reconnectTimer');
      if (this.socket) this.socket.disconnect();
      this._setConnection('offline');
      this._setHealth('offline', null);
    });
    this._listenDom(w, 'focus', () => this.check('focus'));
    this._listenDom(w, 'pageshow', () => this.check('pageshow'));
    this._listenDom(d, 'visibilitychange', () => {
      if (d.visibilityState === 'visible') this.check('visible');
      this._scheduleHealth();
    });
    this._listenDom(d, 'resume', () => this.check('resume'));
    this._scheduleHealth();
  }

  // ---- connection and health ----------------------------------------------

  _setConnection(state) {
    if (this.connection === state) return;
    this.connection = state;
    this._emit('connection', { state, queued: this.queuedCount() });
    if (state !== 'connected') this._setHealth('offline', null);
  }

  _setHealth(state, rtt) {
    const prev = this.health;
    this.health = { state, rtt, at: Date.now() };
    if (prev.state !== state || prev.rtt !== rtt) this._emit('health', { ...this.health });
  }

  // Probes the connection now (a cheap request with a short timeout) and
  // reconnects at once if it is down or the probe fails. The app may call
  // it too; the client calls it when the page becomes visible, the network
  // comes back, the window gets focus or the page resumes.
  check(reason = 'manual') {
    if (this._closed || !this.socket || this._offline || this._authFailed) return Promise.resolve(false);
    if (!this.socket.connected) {
      // Waiting out a reconnect backoff makes no sense when the user is
      // looking: try now.
      // (At most every 2 s: a burst of focus events must not keep killing
      // the attempt it just started.)
      if (reason !== 'timer' && Date.now() - this._lastForced > 2000) {
        this._lastForced = Date.now();
        this.reconnect();
      }
      return Promise.resolve(false);
    }
    return this._probe(reason === 'timer' ? this.opts.requestTimeoutMs : this._checkTimeout()).then((ok) => {
      if (!ok && !this._closed && !this._offline) this.reconnect();
      return ok;
    });
  }

  // How long a check waits: a connection that answered in 20 ms is dead
  // long before 2.5 s, and the user who just came back is waiting to send.
  _checkTimeout() {
    const { probeTimeoutMs: max, probeMinTimeoutMs: min } = this.opts;
    return this._srtt === null ? max : Math.min(max, Math.max(min, 4 * this._srtt));
  }

  _probe(timeoutMs) {
    if (this._probing) return this._probing;
    const started = performance.now();
    this._lastProbeStart = Date.now();
    const socket = this.socket;
    this._probing = new Promise((resolve) => {
      socket.timeout(timeoutMs).emit('presence:get', { users: [] }, (err) => {
        this._probing = null;
        if (err || socket !== this.socket) {
          if (this.connection === 'connected') this._setHealth('degraded', null);
          resolve(false);
          return;
        }
        const rtt = Math.round(performance.now() - started);
        this._srtt = this._srtt === null ? rtt : Math.round(0.75 * this._srtt + 0.25 * rtt);
        if (this.connection === 'connected') this._setHealth(rtt > this.opts.degradedRttMs ? 'degraded' : 'healthy', rtt);
        resolve(true);
      });
    });
    return this._probing;
  }

  // Periodic probes while the page is visible; none while hidden (the
  // browser throttles hidden timers anyway, and the visible check covers
  // the return).
  _scheduleHealth() {
    clearInterval(this._healthTimer);
    this._healthTimer = null;
    if (this._closed) return;
    const d = globalThis.document;
    if (d && d.visibilityState === 'hidden') return;
    this._healthTimer = setInterval(() => {
      if (this.connected) this.check('timer');
    }, this.opts.healthIntervalMs);
  }

  _onDisconnect(reason) {
    this._abandonInFlight();
    if (this._closed) return;
    if (this._offline) {
      this._setConnection('offline');
      return;
    }
    this._setConnection(this._everReady ? 'reconnecting' : 'connecting');
    // socket.io reconnects by itself except after a server-side disconnect
    // or our own disconnect() (which reconnect() follows with connect()).
    if (reason === 'io server disconnect') this._scheduleReconnect();
  }

  _onConnectError(err) {
    if (this._closed) return;
    const data = (err && err.data) || {};
    if (data.code === 'unauthorized') {
      // The same credentials will not do better: nothing reconnects until
      // the app starts a client with new ones.
      this._authFailed = true;
      this._setConnection('unauthorized');
      this._emit('auth_error', { code: data.code, message: data.message || err.message });
      return;
    }
    if (!this.socket.active) this._scheduleReconnect(data.retryAfterMs);
    this._setConnection(this._everReady ? 'reconnecting' : 'connecting');
  }

  _scheduleReconnect(atLeastMs = 0) {
    if (this._reconnectTimer || this._offline || this._closed) return;
    const delay = Math.max(atLeastMs || 0, this._backoff(this._reconnectAttempts++, this.opts.reconnectDelayMs, this.opts.reconnectDelayMaxMs));
    this._reconnectTimer = this._later(delay, () => {
      this._reconnectTimer = null;
      if (!this.socket.connected) this.reconnect();
    });
  }

  // ---- ready and channels -------------------------------------------------

  _onReady(r) {
    const again = this._everReady;
    this._everReady = true;
    this.user = r.user;
    const seen = new Set();
    for (const c of r.channels || []) {
      seen.add(c.id);
      this._upsertChannel(c);
    }
    for (const id of [...this.channels.keys()]) {
      if (!seen.has(id)) this._dropChannel(id);
    }
    this._setConnection('connected');
    this._emit('channels', this.channelList());
    this._emit('ready', { ...r, reconnect: again });
    this._probe(this.opts.probeTimeoutMs);
    for (const c of r.channels || []) {
      const st = this._seq.get(c.id);
      if (c.seq > st.last) this._sync(c.id);
    }
    this._adoptOrphans();
    this._pump(true);
  }

  // Adds or refreshes a channel. A channel new to this client starts at the
  // server's seq: what came before is history (history()), not events.
  _upsertChannel(c) {
    if (!this._seq.has(c.id)) this._seq.set(c.id, { last: c.seq || 0, syncing: false, again: false, failures: 0 });
    const prev = this.channels.get(c.id) || {};
    const next = { ...prev, ...c };
    if (c.lastRead === undefined && prev.lastRead === undefined) next.lastRead = 0;
    if (c.unread === undefined && prev.unread === undefined) next.unread = 0;
    // The server's seq in a listing may be behind what we already saw.
    next.seq = Math.max(prev.seq || 0, c.seq || 0, this._seq.get(c.id).last);
    this.channels.set(c.id, next);
    if (c.unread !== undefined || !this._unread.has(c.id)) {
      const old = this._unread.get(c.id);
      const baseSeq = c.seq || 0;
      this._unread.set(c.id, { base: c.unread || 0, baseSeq, seqs: old ? old.seqs.filter((x) => x > baseSeq) : [] });
    }
    this._countUnread(c.id);
    return next;
  }

  // unread = others' messages after lastRead: the server's count (while
  // lastRead is before the point it was counted at) plus what came since.
  _countUnread(id) {
    const ch = this.channels.get(id);
    const u = this._unread.get(id);
    if (!ch || !u) return;
    const lastRead = ch.lastRead || 0;
    u.seqs = u.seqs.filter((x) => x > lastRead);
    ch.unread = (lastRead >= u.baseSeq ? 0 : u.base) + u.seqs.length;
  }

  _dropChannel(id) {
    if (!this.channels.has(id)) return;
    this.channels.delete(id);
    this._seq.delete(id);
    this._unread.delete(id);
    this._stubs.delete(id);
    this._emit('channel:removed', { channel: id });
  }

  channelList() {
    return [...this.channels.values()].map((c) => ({ ...c }));
  }

  // Refreshes names and counts of channels we learnt about from an event
  // (an invite, a DM someone opened): one channel:list for a burst.
  _refreshChannels() {
    if (this._listPending) return;
    this._listPending = this.request('channel:list', {})
      .then((r) => {
        const listed = new Set();
        for (const c of r.channels) {
          listed.add(c.id);
          this._stubs.delete(c.id);
          this._upsertChannel(c);
        }
        // A stub made from a straggling event of a channel we have left.
        for (const id of [...this._stubs]) {
          if (!listed.has(id)) this._dropChannel(id);
        }
        this._emit('channels', this.channelList());
      })
      .catch(() => {})
      .finally(() => {
        this._listPending = null;
      });
  }

  // ---- the event stream ------------------------------------------------------

  // Every persisted event goes through here, whatever brought it (a
  // broadcast, an ack, a sync). Delivered to the app once and in seq order;
  // a gap starts a sync and the event waits for it.
  _accept(ev, source) {
    if (!ev || typeof ev.channel !== 'string' || !Number.isInteger(ev.seq)) return false;
    let st = this._seq.get(ev.channel);
    if (!st) {
      // A channel we did not know (an invite, a DM, a join on another
      // device): this event is where we start.
      st = { last: ev.seq - 1, syncing: false, again: false, failures: 0 };
      this._seq.set(ev.channel, st);
      this.channels.set(ev.channel, { id: ev.channel, name: ev.channel, kind: ev.channel.startsWith('dm:') ? 'dm' : 'public', topic: '', seq: ev.seq - 1, lastRead: 0, unread: 0 });
      this._unread.set(ev.channel, { base: 0, baseSeq: ev.seq - 1, seqs: [] });
      this._stubs.add(ev.channel);
      this._refreshChannels();
    }
    if (ev.seq <= st.last) return false;
    if (ev.seq > st.last + 1) {
      this._sync(ev.channel);
      return false;
    }
    st.last = ev.seq;
    const ch = this.channels.get(ev.channel);
    if (ch) ch.seq = Math.max(ch.seq || 0, ev.seq);
    const mine = this.user && ((ev.author && ev.author.id === this.user.id) || (ev.user && ev.user.id === this.user.id));
    if (ev.type === 'message:new') {
      if (mine) this._settleByClientId(ev.clientId, ev);
      else if (ch && this._unread.has(ev.channel)) {
        // Up to baseSeq the server's count has it already (a sync after
        // ready replays messages that count included).
        const u = this._unread.get(ev.channel);
        if (ev.seq > u.baseSeq) {
          u.seqs.push(ev.seq);
          this._countUnread(ev.channel);
        }
      }
    }
    this._emit('event', { ...ev, source });
    if (ev.type === 'member:left' && mine && this.channels.has(ev.channel)) this._dropChannel(ev.channel);
    return true;
  }

  // channel:sync from the last seq we saw until the server has no more.
  async _sync(channel) {
    const st = this._seq.get(channel);
    if (!st) return;
    if (st.syncing) {
      st.again = true;
      return;
    }
    st.syncing = true;
    try {
      do {
        st.again = false;
        for (;;) {
          if (!this.socket || !this.socket.connected) return;
          const r = await this.request('channel:sync', { channel, after: st.last, limit: this.opts.syncLimit });
          if (this._seq.get(channel) !== st) return;
          for (const ev of r.events) this._accept(ev, 'sync');
          if (!r.hasMore || r.events.length === 0) break;
        }
      } while (st.again);
      st.failures = 0;
      this._emit('synced', { channel, seq: st.last });
    } catch (e) {
      if (e.code === 'forbidden' || e.code === 'not_found') this._dropChannel(channel);
      else if (e.code !== 'offline') {
        // A timeout, rate_limited or internal: try again, backing off. (Offline:
        // the next ready syncs every channel that is behind.)
        const wait = Math.max(e.retryAfterMs || 0, this._backoff(st.failures++, this.opts.retryBaseMs, this.opts.retryMaxMs));
        this._later(wait, () => {
          if (this._seq.get(channel) === st) this._sync(channel);
        });
      }
    } finally {
      st.syncing = false;
    }
  }

  _onPassThrough(type, payload) {
    if (type === 'read' && this.user && payload && payload.user === this.user.id) {
      const ch = this.channels.get(payload.channel);
      if (ch && payload.seq > (ch.lastRead || 0)) {
        ch.lastRead = payload.seq;
        this._countUnread(payload.channel);
        this._emit('channels', this.channelList());
      }
    }
    this._emit(type, payload);
  }

  // ---- requests -----------------------------------------------------------------

  // Emits a request and resolves with its ack; rejects with a ParleyError
  // (the server's code, or 'offline' / 'timeout'). Never buffers a request
  // while disconnected: the caller decides what to do.
  request(event, payload = {}, timeoutMs = this.opts.requestTimeoutMs) {
    return new Promise((resolve, reject) => {
      if (!this.socket || !this.socket.connected) {
        reject(new ParleyError('offline', 'not connected'));
        return;
      }
      this.socket.timeout(timeoutMs).emit(event, payload, (err, ack) => {
        if (err) reject(new ParleyError('timeout', `${event}: no answer within ${timeoutMs} ms`));
        else if (!ack || ack.ok !== true) {
          const e = (ack && ack.error) || {};
          reject(new ParleyError(e.code || 'internal', e.message || `${event} failed`, e.retryAfterMs));
        } else resolve(ack);
      });
    });
  }

  // Requests whose ack carries a channel this user now belongs to.
  // role: ours in a channel new to us (the acks' channel objects carry
  // none; ready and channel:list do).
  async _channelRequest(event, payload, role = 'member') {
    const r = await this.request(event, payload);
    if (r.channel) {
      // New to us: everything before now counts as read (it is history).
      const known = this.channels.has(r.channel.id);
      this._upsertChannel(known ? r.channel : { lastRead: r.channel.seq, unread: 0, role, ...r.channel });
      this._emit('channels', this.channelList());
    }
    return r;
  }

  createChannel(spec) {
    return this._channelRequest('channel:create', spec, 'owner');
  }

  join(channel) {
    return this._channelRequest('channel:join', { channel });
  }

  acceptInvite(code) {
    return this._channelRequest('invite:accept', { code });
  }

  openDm(user) {
    return this._channelRequest('dm:open', { user });
  }

  async leave(channel) {
    const r = await this.request('channel:leave', { channel });
    this._dropChannel(channel);
    this._emit('channels', this.channelList());
    return r;
  }

  browse() {
    return this.request('channel:browse', {});
  }

  invite(channel, user) {
    return this.request('channel:invite', { channel, user });
  }

  createInvite(channel) {
    return this.request('invite:create', { channel });
  }

  history(channel, before, limit) {
    const p = { channel };
    if (before !== undefined && before !== null) p.before = before;
    if (limit) p.limit = limit;
    return this.request('history:get', p);
  }

  // Requests that cause one channel event: the ack's event goes through the
  // event stream like everyone else's (we get no broadcast of our own).
  async _eventRequest(name, payload) {
    const r = await this.request(name, payload);
    if (r.event) this._accept(r.event, 'ack');
    return r;
  }

  edit(channel, id, text) {
    return this._eventRequest('message:edit', { channel, id, text });
  }

  remove(channel, id) {
    return this._eventRequest('message:delete', { channel, id });
  }

  react(channel, id, emoji, on = true) {
    return this._eventRequest(on ? 'reaction:add' : 'reaction:remove', { channel, id, emoji });
  }

  async markRead(channel, seq) {
    const ch = this.channels.get(channel);
    if (ch && seq <= (ch.lastRead || 0) && !ch.unread) return { lastRead: ch.lastRead };
    const r = await this.request('read:mark', { channel, seq });
    const c = this.channels.get(channel);
    if (c) {
      c.lastRead = Math.max(c.lastRead || 0, r.lastRead);
      this._countUnread(channel);
      this._emit('channels', this.channelList());
    }
    return r;
  }

  // typing(channel, true) as the user types (repeated at most every
  // typingRepeatMs), typing(channel, false) when they stop. Best effort.
  typing(channel, on) {
    if (!this.connected) return;
    const last = this._typingSent.get(channel) || 0;
    if (on) {
      if (Date.now() - last < this.opts.typingRepeatMs) return;
      this._typingSent.set(channel, Date.now());
      this.socket.emit('typing:start', { channel });
    } else if (last) {
      this._typingSent.delete(channel);
      this.socket.emit('typing:stop', { channel });
    }
  }

  setPresence(status) {
    return this.request('presence:set', { status });
  }

  getPresence(users) {
    return this.request('presence:get', { users });
  }

  notifications(opts = {}) {
    return this.request('notification:list', opts);
  }

  readNotifications(idsOrAll) {
    return this.request('notification:read', idsOrAll === true ? { all: true } : { ids: idsOrAll });
  }

  // ---- the outbox ------------------------------------------------------------------

  _outboxKey(tab = this._tab) {
    return `parley:outbox:${this.userKey}:${tab}`;
  }

  _loadOutbox() {
    const st = this.opts.storage;
    let entries = [];
    try {
      entries = JSON.parse((st && st.getItem(this._outboxKey())) || '[]');
    } catch (_) {
      entries = [];
    }
    const known = new Set(this.outbox.map((e) => e.clientId));
    for (const e of Array.isArray(entries) ? entries : []) {
      if (!e || typeof e.clientId !== 'string' || known.has(e.clientId)) continue;
      if (e.state === 'sending') e.state = 'queued';
      this.outbox.push(e);
    }
    // Anything queued before the stored outbox was read goes after it.
    this.outbox.sort((a, b) => (a.createdAt || 0) - (b.createdAt || 0));
  }

  _saveOutbox() {
    const st = this.opts.storage;
    if (!st || !this._tab) return;
    try {
      if (this.outbox.length) st.setItem(this._outboxKey(), JSON.stringify(this.outbox));
      else st.removeItem(this._outboxKey());
    } catch (_) {
      // Storage full or denied: the outbox still works for this page.
    }
  }

  _outboxChanged() {
    this._saveOutbox();
    this._emit('outbox', this.outbox.map((e) => ({ ...e })));
    this._emit('connection', { state: this.connection, queued: this.queuedCount() });
  }

  queuedCount() {
    return this.outbox.filter((e) => e.state !== 'failed').length;
  }

  // Queues a message and returns its outbox entry (a copy). It is sent as
  // soon as the connection allows, in order, until the server has it.
  send(channel, text, { replyTo } = {}) {
    const entry = { clientId: randomId(), channel, text, state: 'queued', attempts: 0, createdAt: Date.now() };
    if (replyTo) entry.replyTo = replyTo;
    this.outbox.push(entry);
    this.typing(channel, false);
    this._outboxChanged();
    this._pump(false);
    return { ...entry };
  }

  // Sends a failed entry again (after the user fixed the cause).
  retry(clientId) {
    const e = this.outbox.find((x) => x.clientId === clientId);
    if (!e) return false;
    e.state = 'queued';
    e.attempts = 0;
    delete e.error;
    this._outboxChanged();
    this._pump(true);
    return true;
  }

  // Gives up on an entry that is not in flight.
  discard(clientId) {
    const i = this.outbox.findIndex((x) => x.clientId === clientId);
    if (i < 0 || (this._inFlight && this._inFlight.clientId === clientId)) return false;
    this.outbox.splice(i, 1);
    this._outboxChanged();
    return true;
  }

  // Sends the first queued entry; the next goes when it is acknowledged.
  // `now` skips a pending backoff (a fresh connection, a user's retry).
  _pump(now) {
    if (this._closed || this._inFlight || this._offline) return;
    if (now) this._clearTimer('_retryTimer');
    if (this._retryTimer || !this.connected) return;
    const entry = this.outbox.find((e) => e.state === 'queued');
    if (!entry) return;
    const gen = ++this._sendGen;
    entry.state = 'sending';
    entry.attempts++;
    this._inFlight = entry;
    this._outboxChanged();
    const payload = { channel: entry.channel, clientId: entry.clientId, text: entry.text };
    if (entry.replyTo) payload.replyTo = entry.replyTo;
    // A callback, not a promise: the message must enter the event stream
    // before any later packet is handled, or we would see a false gap.
    this.socket.timeout(this.opts.sendTimeoutMs).emit('message:send', payload, (err, ack) => {
      if (gen !== this._sendGen) return;
      this._inFlight = null;
      if (err) {
        this._requeue(entry, 0);
        if (this.socket.connected) this.check('send-timeout');
        return;
      }
      if (ack && ack.ok) {
        this._settleByClientId(entry.clientId, ack.message);
        if (ack.message) this._accept({ type: 'message:new', ...ack.message }, 'ack');
        this._pump(false);
        return;
      }
      const e = (ack && ack.error) || { code: 'internal', message: 'no answer' };
      if (PERMANENT.has(e.code)) {
        entry.state = 'failed';
        entry.error = { code: e.code, message: e.message };
        this._outboxChanged();
        this._emit('send:failed', { ...entry });
        this._pump(false);
      } else {
        this._requeue(entry, e.retryAfterMs || 0);
      }
    });
  }

  _requeue(entry, atLeastMs) {
    if (!this.outbox.includes(entry)) {
      this._pump(false);
      return;
    }
    entry.state = 'queued';
    this._outboxChanged();
    this._clearTimer('_retryTimer');
    const delay = Math.max(atLeastMs, this._backoff(entry.attempts - 1));
    this._retryTimer = this._later(delay, () => {
      this._retryTimer = null;
      this._pump(false);
    });
  }

  // The connection went away with a send in flight: it goes back to the
  // queue; the next connection sends it again (the server dedupes).
  _abandonInFlight() {
    this._sendGen++;
    const e = this._inFlight;
    this._inFlight = null;
    if (e && this.outbox.includes(e)) {
      e.state = 'queued';
      this._outboxChanged();
    }
  }

  // The server has this message: the entry is done, however we learnt it.
  _settleByClientId(clientId, message) {
    const i = this.outbox.findIndex((e) => e.clientId === clientId);
    if (i < 0) return;
    const [entry] = this.outbox.splice(i, 1);
    if (this._inFlight === entry) {
      this._inFlight = null;
      this._sendGen++;
      this._pump(false);
    }
    this._outboxChanged();
    this._emit('sent', { clientId, message });
  }

  // ---- tabs ------------------------------------------------------------------------

  // This tab's id: kept across reloads in sessionStorage, held with a Web
  // Lock while the page lives. A duplicated tab (same sessionStorage) finds
  // the lock taken and makes itself a new id.
  async _claimTab() {
    const ss = sessionStore();
    let tab = (ss && ss.getItem('parley:tab')) || randomId(6);
    if (globalThis.navigator && navigator.locks) {
      // A reloaded page may start before the old one let go: wait a little.
      if (!(await this._lockTab(tab, 1500))) {
        tab = randomId(6);
        await this._lockTab(tab, 0);
      }
    }
    try {
      if (ss) ss.setItem('parley:tab', tab);
    } catch (_) {
      // private mode: the tab id lives as long as the page
    }
    return tab;
  }

  _lockTab(tab, waitMs) {
    return new Promise((resolve) => {
      const ac = waitMs ? new AbortController() : null;
      const t = waitMs ? setTimeout(() => ac.abort(), waitMs) : null;
      navigator.locks
        .request(`parley:tab:${tab}`, waitMs ? { signal: ac.signal } : { ifAvailable: true }, (lock) => {
          clearTimeout(t);
          if (!lock || this._closed) {
            resolve(false);
            return undefined;
          }
          resolve(true);
          return new Promise((release) => {
            this._releaseTab = release;
          });
        })
        .catch(() => {
          clearTimeout(t);
          resolve(false);
        });
    });
  }

  // Takes over the outboxes of this user's tabs that are gone (their lock
  // is free), so a message queued in a closed tab is still delivered.
  _adoptOrphans() {
    const st = this.opts.storage;
    if (!st || !globalThis.navigator || !navigator.locks) return;
    const prefix = `parley:outbox:${this.userKey}:`;
    const others = [];
    try {
      for (let i = 0; i < st.length; i++) {
        const k = st.key(i);
        if (k && k.startsWith(prefix) && k !== this._outboxKey()) others.push(k.slice(prefix.length));
      }
    } catch (_) {
      return;
    }
    for (const tab of others) {
      navigator.locks
        .request(`parley:tab:${tab}`, { ifAvailable: true }, (lock) => {
          if (!lock || this._closed) return;
          let entries = [];
          try {
            entries = JSON.parse(st.getItem(this._outboxKey(tab)) || '[]');
            st.removeItem(this._outboxKey(tab));
          } catch (_) {
            return;
          }
          const known = new Set(this.outbox.map((e) => e.clientId));
          const add = (Array.isArray(entries) ? entries : []).filter((e) => e && typeof e.clientId === 'string' && !known.has(e.clientId));
          if (!add.length) return;
          for (const e of add) if (e.state === 'sending') e.state = 'queued';
          this.outbox.push(...add);
          this.outbox.sort((a, b) => (a.createdAt || 0) - (b.createdAt || 0));
          this._outboxChanged();
          this._pump(true);
        })
        .catch(() => {});
    }
  }
}

export default ParleyClient;
