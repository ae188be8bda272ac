// common.js — small pieces the chaos scenarios share: user lists, server
// flags for load, the final audit, failure reporting.
'use strict';
const { io } = require('socket.io-client');
const audit = require('./audit');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Limits raised so that load tests measure delivery, not the rate limiter
// (scenario 7 runs with the defaults where it tests them).
const LOAD_ARGS = ['--send-rate', '5000', '--send-burst', '5000', '--event-rate', '10000', '--event-burst', '10000'];

function users(n, prefix = 'u') {
  const w = String(n - 1).length;
  return Array.from({ length: n }, (_, i) => ({ user: `${prefix}${String(i).padStart(w, '0')}` }));
}

class ScenarioFailure extends Error {}

// Throws with every failure listed (the first few of each kind).
function expectNone(what, fails) {
  if (fails.length) throw new ScenarioFailure(`${what}:\n    ${fails.join('\n    ')}`);
}

function expect(cond, msg) {
  if (!cond) throw new ScenarioFailure(msg);
}

// The end-of-scenario audit: every send acked and in history exactly once,
// history gap-free, every view equal to history. Returns figures.
async function finalAudit({ fleet, url, auditor, channels, settleMs = 60000, historyLimit = 100 }) {
  const settled = await fleet.settle({ timeoutMs: settleMs });
  expect(settled.pending === 0, `${settled.pending} sends still unacked ${settleMs} ms after the load stopped`);
  const synced = await fleet.syncAll({ timeoutMs: 60000 });
  expectNone('clients that could not resync', synced.failed.slice(0, 10).map((f) => `${f.user}: ${f.error}`));
  const sums = await fleet.summaries();
  const hist = await audit.history(url, auditor, channels, { limit: historyLimit });
  expectNone('server history', audit.checkHistory(hist));
  const acked = audit.checkAcked(sums, hist);
  expectNone('acked messages', acked.fails);
  const views = audit.checkViews(sums, hist);
  if (views.length) {
    // Say where the first bad view goes wrong.
    const bad = views[0].split(':')[0];
    const [detail] = await fleet.summaries({ users: [bad], withEntries: true });
    const lines = [...views];
    if (detail) {
      for (const [ch, v] of Object.entries(detail.views)) {
        if (hist[ch]) lines.push(`${bad} ${ch}: first difference ${audit.firstDifference(v.entries, hist[ch], v.base)}`);
      }
    }
    expectNone('client views', lines);
  }
  const st = sums.reduce((a, s) => {
    for (const [k, v] of Object.entries(s.st)) if (typeof v === 'number') a[k] = (a[k] || 0) + v;
    return a;
  }, {});
  const messages = Object.values(hist).reduce((a, l) => a + l.filter(([, e]) => e.startsWith('m|')).length, 0);
  return { acked: acked.acked, messages, events: Object.values(hist).reduce((a, l) => a + l.length, 0), st, sums, hist };
}

// A plain socket.io client in this process that can wait for one event.
async function observe(url, user, { timeoutMs = 10000 } = {}) {
  const socket = io(url, { auth: { user, name: user }, forceNew: true, reconnection: false, transports: ['websocket'] });
  const ready = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${user}: no ready`)), timeoutMs);
    socket.once('ready', (r) => { clearTimeout(t); resolve(r); });
    socket.once('connect_error', (e) => { clearTimeout(t); reject(new Error(`${user} refused: ${e.message}`)); });
  });
  return {
    socket,
    ready,
    next(event, pred = () => true, ms = 10000) {
      return new Promise((resolve, reject) => {
        const on = (p) => { if (pred(p)) { clearTimeout(t); socket.off(event, on); resolve(p); } };
        const t = setTimeout(() => { socket.off(event, on); reject(new Error(`${user}: no matching ${event} within ${ms} ms`)); }, ms);
        socket.on(event, on);
      });
    },
    request(event, payload, ms = 10000) { return socket.timeout(ms).emitWithAck(event, payload); },
    close() { socket.close(); },
  };
}

function secs(ms) { return Math.round(ms / 100) / 10; }

module.exports = { observe, sleep, LOAD_ARGS, users, expect, expectNone, finalAudit, ScenarioFailure, secs };
