// driver.js — runs many chaos clients (client.js): several per Node process,
// and for large counts spread over child processes (the open-file limit is
// 20000 per process, and one process's event loop is one core).
//
//   const fleet = await Fleet.create({ seed, url, users, processes, clientOpts })
//   await fleet.connect()            every client connected and synced
//   await fleet.load({...})          sends with retry (see Group.load)
//   await fleet.settle()             every send acked
//   await fleet.syncAll()            every view brought up to date
//   const sums = await fleet.summaries()
//   await fleet.close()
//
// A Group holds the clients of one process; a Worker is the same interface
// over IPC to a child process running a Group. Fleet fans calls out to its
// groups and joins the answers. Randomness is seeded: each client gets its
// own stream derived from the run's seed and its user id, and each worker
// replaces Math.random (which socket.io-client's reconnect backoff uses)
// with a seeded stream. Timing on a busy machine still varies between runs;
// the seed fixes every random choice, not the scheduler.
'use strict';
const { fork } = require('child_process');
const path = require('path');
const { ChaosClient } = require('./client');
const { makeRng } = require('./rng');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted, p) {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

class Group {
  constructor({ seed, label = 'g0' }) {
    this.seed = seed;
    this.label = label;
    this.clients = new Map();
  }

  // specs: [{user, name?, query?}]; common: ChaosClient options shared by all.
  add(specs, common) {
    for (const sp of specs) {
      const c = new ChaosClient({ ...common, ...sp, rng: makeRng(this.seed, `client/${sp.user}`) });
      this.clients.set(sp.user, c);
    }
    return this.clients.size;
  }

  _pick(users) {
    if (!users) return [...this.clients.values()];
    return users.map((u) => this.clients.get(u)).filter(Boolean);
  }

  // Starts the clients, at most `concurrency` connecting at once, and waits
  // until each is connected and synced. Resolves with the users that failed.
  async connect({ users, concurrency = 100, timeoutMs = 60000 } = {}) {
    const todo = this._pick(users);
    const failed = [];
    let i = 0;
    const started = Date.now();
    const worker = async () => {
      while (i < todo.length) {
        const c = todo[i++];
        try {
          await c.start();
          await c.waitSynced(Math.max(1000, timeoutMs - (Date.now() - started)));
        } catch (e) {
          failed.push({ user: c.user, error: e.message });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
    return { failed, ms: Date.now() - started };
  }

  // Sends messages with retry.
  //   channel: a channel id, or a function (user) => channel (not over IPC:
  //            use channelOf: {prefix, size, users} there)
  //   ratePerClient: mean sends per second per client (Poisson), or
  //   interval: fixed ms between sends (with pipeline)
  //   durationMs / count: stop after this long / this many per client
  //   pipeline: do not wait for an ack before the next send (at most
  //             `window` unacked per client)
  //   textBytes: pad the text to about this size; stamp: add t=<ms>
  //   awaitAcks: resolve only once every send of this load is acked
  // Resolves with { sent } (number started).
  async load(o) {
    const clients = this._pick(o.users);
    const end = o.durationMs ? Date.now() + o.durationMs : Infinity;
    const count = o.count || Infinity;
    const pad = o.textBytes ? 'x'.repeat(Math.max(0, o.textBytes - 40)) : '';
    let sent = 0;
    const acks = [];
    const chOf = (c) => (typeof o.channel === 'string' ? o.channel : this._channelOf(o.channelOf, c.user));
    await Promise.all(clients.map(async (c) => {
      const rng = c.rng.derive(`load/${o.label || ''}`);
      const inflight = new Set();
      const t0 = Date.now();
      for (let n = 0; n < count && Date.now() < end && !c.closed; n++) {
        // A fixed interval is kept on the clock (timers run late on a busy
        // machine; the sends that fell due meanwhile go out at once).
        const wait = o.interval !== undefined ? t0 + n * o.interval - Date.now() : rng.exp(1000 / o.ratePerClient);
        if (wait > 0) await sleep(wait);
        if (Date.now() >= end) break;
        const text = `${c.user} #${c.sendNo + 1}${o.stamp ? ` t=${Date.now()}` : ''} ${pad}`;
        sent++;
        const p = c.send(chOf(c), text);
        acks.push(p);
        if (o.pipeline) {
          inflight.add(p);
          p.finally(() => inflight.delete(p));
          while (inflight.size >= (o.window || 50)) await Promise.race(inflight);
        } else {
          await p;
        }
      }
    }));
    if (o.awaitAcks) await Promise.all(acks);
    return { sent };
  }

  _channelOf(spec, user) {
    if (!spec) throw new Error('load: channel or channelOf required');
    const i = spec.users.indexOf(user);
    return `${spec.prefix}${Math.floor(i / spec.size)}`;
  }

  // Waits until no client has a send in flight.
  async settle({ timeoutMs = 60000 } = {}) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const pending = [...this.clients.values()].reduce((a, c) => a + c.pendingSends, 0);
      if (!pending) return { pending: 0 };
      if (Date.now() > end) return { pending };
      await sleep(50);
    }
  }

  // Waits for every client to be connected, then resyncs every channel of
  // every client; resolves with the users that could not be brought up.
  async syncAll({ users, timeoutMs = 60000 } = {}) {
    const failed = [];
    await Promise.all(this._pick(users).map(async (c) => {
      try {
        await c.waitLive(timeoutMs);
        for (let round = 0; round < 5; round++) {
          await Promise.all([...c.views.keys()].map((ch) => c.sync(ch)));
          if ([...c.views.values()].every((v) => v.syncOk && v.last === v.max)) return;
          await c.waitLive(timeoutMs);
        }
        failed.push({ user: c.user, error: 'views not complete after 5 sync rounds' });
      } catch (e) {
        failed.push({ user: c.user, error: e.message });
      }
    }));
    return { failed };
  }

  // Waits until every client has had a ready after `since` (ms epoch) and
  // finished its resync; resolves with the timing of each.
  async waitBack({ since, timeoutMs = 120000 } = {}) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const all = [...this.clients.values()];
      const back = all.filter((c) => c.live && c.lastReadyAt >= since && c.lastSyncedAt >= c.lastReadyAt);
      if (back.length === all.length || Date.now() > end) {
        return {
          n: all.length,
          back: back.length,
          readyAt: all.filter((c) => c.lastReadyAt >= since).map((c) => c.lastReadyAt),
          syncedAt: back.map((c) => c.lastSyncedAt),
          missing: all.filter((c) => !back.includes(c)).slice(0, 20).map((c) => ({ user: c.user, live: c.live, lastReadyAt: c.lastReadyAt, st: c.st })),
        };
      }
      await sleep(100);
    }
  }

  // Waits until every client has lost its connection (after a kill).
  async waitDown({ timeoutMs = 60000 } = {}) {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if ([...this.clients.values()].every((c) => !c.live)) return { down: true };
      await sleep(20);
    }
    return { down: false, live: [...this.clients.values()].filter((c) => c.live).length };
  }

  status() {
    const all = [...this.clients.values()];
    const sum = (f) => all.reduce((a, c) => a + f(c), 0);
    return {
      n: all.length,
      live: sum((c) => (c.live ? 1 : 0)),
      pendingSends: sum((c) => c.pendingSends),
      sent: sum((c) => c.sent.length),
      acked: sum((c) => c.sent.filter((r) => r.seq).length),
    };
  }

  summaries({ users, withEntries = false } = {}) {
    return this._pick(users).map((c) => c.summary({ withEntries }));
  }

  // Delivery latencies (ms) of stamped messages received in [from, to).
  latencies({ users, from = 0, to = Infinity } = {}) {
    const out = [];
    for (const c of this._pick(users)) {
      for (const [at, ms] of c.latencies) if (at >= from && at < to) out.push(ms);
    }
    return out;
  }

  clearLatencies() {
    for (const c of this.clients.values()) c.latencies = [];
  }

  close() {
    for (const c of this.clients.values()) c.close();
    return true;
  }
}

// The Group interface over IPC to a child process.
class Worker {
  constructor(child, label) {
    this.child = child;
    this.label = label;
    this.nextId = 1;
    this.calls = new Map();
    this.exited = null;
    child.on('message', (m) => {
      const call = this.calls.get(m.id);
      if (!call) return;
      this.calls.delete(m.id);
      if (m.error) call.reject(new Error(`${label}: ${m.error}`));
      else call.resolve(m.result);
    });
    child.on('exit', (code, sig) => {
      this.exited = { code, sig };
      for (const c of this.calls.values()) c.reject(new Error(`${label} exited (${code}/${sig})`));
      this.calls.clear();
    });
  }

  static async spawn({ seed, label }) {
    const child = fork(__filename, ['--worker', String(seed), label], {
      // JSON, not 'advanced': Node's V8-serialized IPC has had bugs with
      // large messages, and one run lost both workers' channels at once.
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env },
    });
    const w = new Worker(child, label);
    await w.call('ping');
    return w;
  }

  call(method, ...args) {
    if (this.exited) return Promise.reject(new Error(`${this.label} has exited`));
    const id = this.nextId++;
    const p = new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      this.child.send({ id, method, args }, (err) => {
        if (err && this.calls.has(id)) { this.calls.delete(id); reject(new Error(`${this.label}: ${method}: ${err.message}`)); }
      });
    });
    // Scenarios start long calls (a load) and await them later: a worker
    // that dies meanwhile must fail the scenario, not crash the suite.
    p.catch(() => {});
    return p;
  }

  async close() {
    try { await this.call('close'); } catch (_) { /* already gone */ }
    this.child.disconnect();
    if (!this.exited) await new Promise((r) => this.child.once('exit', r));
  }
}

for (const m of ['add', 'connect', 'load', 'settle', 'syncAll', 'waitBack', 'waitDown', 'status', 'summaries', 'latencies', 'clearLatencies']) {
  Worker.prototype[m] = function (...args) { return this.call(m, ...args); };
}

// Clients spread over `processes` groups (0: all in this process).
class Fleet {
  // users: [{user, name?, query?}]; clientOpts: ChaosClient options.
  static async create({ seed, url, users, processes = 0, clientOpts = {} }) {
    const f = new Fleet();
    f.users = users;
    const n = Math.max(1, processes);
    f.groups = [];
    for (let i = 0; i < n; i++) {
      const label = `g${i}`;
      f.groups.push(processes ? await Worker.spawn({ seed, label }) : new Group({ seed, label }));
    }
    f.owner = new Map();
    // Contiguous slices, so each channel's members mostly share a process.
    const per = Math.ceil(users.length / n);
    for (let i = 0; i < n; i++) {
      const slice = users.slice(i * per, (i + 1) * per);
      for (const u of slice) f.owner.set(u.user, f.groups[i]);
      await f.groups[i].add(slice, { url, ...clientOpts });
    }
    return f;
  }

  _byGroup(users) {
    if (!users) return this.groups.map((g) => [g, undefined]);
    const m = new Map();
    for (const u of users) {
      const g = this.owner.get(u);
      if (!m.has(g)) m.set(g, []);
      m.get(g).push(u);
    }
    return [...m.entries()];
  }

  async _each(method, o = {}) {
    return Promise.all(this._byGroup(o.users).map(([g, users]) => g[method]({ ...o, users })));
  }

  async connect(o = {}) {
    const r = await this._each('connect', o);
    return { failed: r.flatMap((x) => x.failed), ms: Math.max(...r.map((x) => x.ms)) };
  }

  async load(o) {
    const r = await this._each('load', o);
    return { sent: r.reduce((a, x) => a + x.sent, 0) };
  }

  async settle(o = {}) {
    const r = await this._each('settle', o);
    return { pending: r.reduce((a, x) => a + x.pending, 0) };
  }

  async syncAll(o = {}) {
    const r = await this._each('syncAll', o);
    return { failed: r.flatMap((x) => x.failed) };
  }

  async waitBack(o) {
    const r = await this._each('waitBack', o);
    return {
      n: r.reduce((a, x) => a + x.n, 0),
      back: r.reduce((a, x) => a + x.back, 0),
      readyAt: r.flatMap((x) => x.readyAt),
      syncedAt: r.flatMap((x) => x.syncedAt),
      missing: r.flatMap((x) => x.missing),
    };
  }

  async waitDown(o = {}) {
    const r = await this._each('waitDown', o);
    return { down: r.every((x) => x.down), live: r.reduce((a, x) => a + (x.live || 0), 0) };
  }

  async status() {
    const r = await this._each('status');
    const out = {};
    for (const x of r) for (const [k, v] of Object.entries(x)) out[k] = (out[k] || 0) + v;
    return out;
  }

  async summaries(o = {}) {
    return (await this._each('summaries', o)).flat();
  }

  async latencies(o = {}) {
    return (await this._each('latencies', o)).flat();
  }

  async clearLatencies() {
    await Promise.all(this.groups.map((g) => g.clearLatencies()));
  }

  async close() {
    await Promise.all(this.groups.map((g) => g.close()));
  }
}

// Latency figures from a list of samples.
function latencyStats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s.length ? s[s.length - 1] : null };
}

// Child process: a Group driven over IPC.
if (require.main === module && process.argv[2] === '--worker') {
  const seed = process.argv[3];
  const label = process.argv[4];
  const mathRng = makeRng(seed, `math/${label}`);
  Math.random = () => mathRng();
  const group = new Group({ seed, label });
  const reply = (m) => {
    if (!process.connected) return; // the parent is gone or closing us
    process.send(m, (err) => { if (err) process.stderr.write(`${label}: reply to call ${m.id} lost: ${err.message}\n`); });
  };
  process.on('message', async ({ id, method, args }) => {
    try {
      let result;
      if (method === 'ping') result = 'pong';
      else if (method === 'close') result = group.close();
      else result = await group[method](...args);
      reply({ id, result });
    } catch (e) {
      reply({ id, error: (e && e.stack) || String(e) });
    }
  });
  process.on('disconnect', () => { group.close(); setTimeout(() => process.exit(0), 200).unref(); });
}

module.exports = { Group, Worker, Fleet, latencyStats, percentile };
