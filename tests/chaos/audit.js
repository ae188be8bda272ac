// audit.js — the hard checks shared by the scenarios: read the server's
// history with a fresh connection (channel:sync from 0, page after page) and
// hold it against what the clients were acked and what they saw.
//
//   history(url, user, channels)   -> { channel: [[seq, entry], ...] }
//   checkHistory(history)          seqs 1..N without a hole; no message id and
//                                  no (author, clientId) twice
//   checkAcked(sums, history)      every send acked, and each acked message in
//                                  history exactly once, at the acked seq
//   checkViews(sums, history)      every client's view equals the server's
//                                  history over the client's window, up to
//                                  the end; no conflicting event for a seq
// Each check returns a list of failures (strings); empty means it held.
'use strict';
const { io } = require('socket.io-client');
const { eventEntry, viewHash } = require('./client');

const MAX_REPORTED = 10;

async function history(url, user, channels, { timeoutMs = 30000, limit = 100 } = {}) {
  const socket = io(url, { auth: { user, name: user }, forceNew: true, reconnection: false, transports: ['websocket'] });
  try {
    const ready = await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('auditor: no ready')), timeoutMs);
      socket.once('ready', (r) => { clearTimeout(t); resolve(r); });
      socket.once('connect_error', (e) => { clearTimeout(t); reject(new Error(`auditor refused: ${e.message} ${JSON.stringify(e.data)}`)); });
    });
    const out = {};
    for (const ch of channels || ready.channels.map((c) => c.id)) {
      const list = [];
      let after = 0;
      for (;;) {
        const res = await socket.timeout(timeoutMs).emitWithAck('channel:sync', { channel: ch, after, limit });
        if (!res.ok) throw new Error(`auditor: channel:sync ${ch} after ${after}: ${JSON.stringify(res.error)}`);
        for (const ev of res.events) {
          const { type, ...p } = ev;
          p.channel = p.channel || ch;
          list.push([ev.seq, eventEntry(type, p)]);
          after = Math.max(after, ev.seq);
        }
        if (!res.hasMore) break;
        if (!res.events.length) throw new Error(`auditor: channel:sync ${ch}: hasMore without events`);
      }
      out[ch] = list;
    }
    return out;
  } finally {
    socket.close();
  }
}

function cap(list, more) {
  if (list.length > MAX_REPORTED) return [...list.slice(0, MAX_REPORTED), `... and ${list.length - MAX_REPORTED} more ${more}`];
  return list;
}

function checkHistory(hist) {
  const fails = [];
  for (const [ch, list] of Object.entries(hist)) {
    const ids = new Map();
    const cids = new Map();
    list.forEach(([seq, entry], i) => {
      if (seq !== i + 1) fails.push(`${ch}: history position ${i + 1} holds seq ${seq} (a gap or a repeat)`);
      if (!entry.startsWith('m|')) return;
      const [, id, author, clientId] = entry.split('|');
      if (ids.has(id)) fails.push(`${ch}: message id ${id} at seq ${ids.get(id)} and ${seq}`);
      ids.set(id, seq);
      const k = `${author}|${clientId}`;
      if (cids.has(k)) fails.push(`${ch}: ${author}'s clientId ${clientId} stored twice, seq ${cids.get(k)} and ${seq}`);
      cids.set(k, seq);
    });
  }
  return cap(fails, 'history failures');
}

function checkAcked(sums, hist) {
  const fails = [];
  const where = {};
  for (const [ch, list] of Object.entries(hist)) {
    const m = new Map();
    for (const [seq, entry] of list) {
      if (!entry.startsWith('m|')) continue;
      const [, id, author, clientId] = entry.split('|');
      const k = `${author}|${clientId}`;
      if (!m.has(k)) m.set(k, []);
      m.get(k).push({ seq, id });
    }
    where[ch] = m;
  }
  let acked = 0;
  for (const s of sums) {
    for (const r of s.sent) {
      if (!r.seq) {
        fails.push(`${s.user}: send ${r.clientId} to ${r.channel} never acked${r.error ? ` (${JSON.stringify(r.error)})` : ''}`);
        continue;
      }
      acked++;
      const found = (where[r.channel] && where[r.channel].get(`${s.user}|${r.clientId}`)) || [];
      if (found.length === 0) fails.push(`${s.user}: acked message ${r.clientId} (seq ${r.seq}, id ${r.id}) is not in ${r.channel}'s history: LOST`);
      else if (found.length > 1) fails.push(`${s.user}: acked message ${r.clientId} is in ${r.channel}'s history ${found.length} times (seqs ${found.map((f) => f.seq)})`);
      else if (found[0].seq !== r.seq || found[0].id !== r.id) fails.push(`${s.user}: ${r.clientId} acked as seq ${r.seq} id ${r.id}, history has seq ${found[0].seq} id ${found[0].id}`);
    }
  }
  return { fails: cap(fails, 'send failures'), acked };
}

// hist must cover every channel of every view.
function checkViews(sums, hist, { requireEnd = true } = {}) {
  const fails = [];
  const hashCache = new Map();
  const maps = {};
  for (const [ch, list] of Object.entries(hist)) maps[ch] = new Map(list);
  for (const s of sums) {
    for (const c of s.conflicts) fails.push(`${s.user}: ${c.channel} seq ${c.seq} seen as ${c.had} and as ${c.got} (${c.src})`);
    for (const e of s.errors) fails.push(`${s.user}: ${e.op}: ${typeof e.error === 'string' ? e.error : JSON.stringify(e.error)}`);
    for (const [ch, v] of Object.entries(s.views)) {
      const m = maps[ch];
      if (!m) { fails.push(`${s.user}: view of ${ch}, which the auditor cannot read`); continue; }
      const end = hist[ch].length;
      if (requireEnd && v.last !== end) fails.push(`${s.user}: ${ch} view ends at seq ${v.last} (max seen ${v.max}), history at ${end}`);
      if (v.last > end) fails.push(`${s.user}: ${ch} view reaches seq ${v.last}, beyond the history's ${end}`);
      const k = `${ch}|${v.base}|${v.last}`;
      if (!hashCache.has(k)) hashCache.set(k, viewHash(m, v.base, Math.min(v.last, end)));
      if (v.last <= end && hashCache.get(k) !== v.hash) fails.push(`${s.user}: ${ch} view (${v.base}, ${v.last}] differs from the history`);
    }
  }
  return cap(fails, 'view failures');
}

// For a report: the first seq where one client's entries differ.
function firstDifference(entries, list, base) {
  const m = new Map(list);
  for (const [seq, entry] of entries) {
    if (seq > base && m.get(seq) !== entry) return `seq ${seq}: client ${entry}, server ${m.get(seq)}`;
  }
  return 'no difference in the entries the client holds';
}

module.exports = { history, checkHistory, checkAcked, checkViews, firstDifference };
