'use strict';
// The case runner of our WebSocket conformance suite, modelled on the
// Autobahn|Testsuite's fuzzing client: for each case a fresh connection,
// the case's frames sent as raw bytes, the server's events recorded, and a
// verdict from what was expected of the events and of the close:
//
//   OK             events and close as the case expects;
//   NON-STRICT     an outcome the case allows but does not prefer (for
//                  example the connection failed before an earlier valid
//                  message was echoed, or failed without a close frame);
//   INFORMATIONAL  the specification leaves the outcome open: we only
//                  report what happened;
//   FAILED         anything else, and any protocol violation by the server.
//
// Cases are defined in 02-ws-conformance.js; this file only runs them.

const { RawWs } = require('./rawws');

const RANK = { OK: 0, INFORMATIONAL: 1, 'NON-STRICT': 2, FAILED: 3 };

// The worse of two verdicts; when both fall short, both reasons are told.
function worst(a, b) {
  const w = RANK[a.status] >= RANK[b.status] ? a : b;
  if (a.status !== 'OK' && b.status !== 'OK') return { status: w.status, detail: `${a.detail}; and ${b.detail}` };
  return w;
}

function describe(ev) {
  if (!ev) return 'nothing';
  const d = ev.data ? ev.data : Buffer.alloc(0);
  const show = d.length > 24 ? `${d.length} bytes` : JSON.stringify(d.toString('latin1'));
  if (ev.type === 'message') return `${ev.binary ? 'binary' : 'text'} message ${show}`;
  if (ev.type === 'marker') return `timeout ${ev.label}`;
  return `${ev.type} ${show}`;
}

function describeList(list) {
  return list.length ? list.map(describe).join(', ') : 'nothing';
}

function sameEvents(got, want) {
  if (got.length !== want.length) return false;
  for (let i = 0; i < got.length; i++) {
    const g = got[i];
    const w = want[i];
    if (g.type !== w.type) return false;
    if (w.type === 'marker') {
      if (g.label !== w.label) return false;
      continue;
    }
    if (w.type === 'message' && g.binary !== w.binary) return false;
    if (!g.data.equals(w.data)) return false;
  }
  return true;
}

// What a case function gets: the connection and the ways to say what it
// expects.
class CaseContext {
  constructor(c, timing) {
    this.c = c;
    this.timing = timing;
    this.expected = { OK: [] };
    this.close = { byMe: true, codes: [1000], clean: true, dropOk: false };
    this.autoClose = true;
    this.deadlineMs = timing.failMs;
    this.infoReason = null;
    this.customResult = null;
  }
  ok(events) {
    this.expected.OK = events;
  }
  nonStrict(events, why) {
    this.expected['NON-STRICT'] = events;
    this.nonStrictWhy = why;
  }
  // The server is to fail the connection, with one of codes. dropOk: the
  // case's expectation also allows closing TCP without a close frame.
  failBy(codes, { dropOk = false } = {}) {
    this.close = { byMe: false, codes, clean: false, dropOk };
  }
  // We close (with codes[0] unless the case sends its own close); the
  // server must answer with a close frame carrying one of codes.
  closeByMe(codes = [1000], { clean = true, dropOk = false } = {}) {
    this.close = { byMe: true, codes, clean, dropOk };
  }
  // The case sends its own close frames.
  suppressClose() {
    this.autoClose = false;
  }
  informational(reason) {
    this.infoReason = reason;
  }
  marker(label) {
    this.c._record({ type: 'marker', label, data: Buffer.alloc(0) });
  }
  // For cases that judge themselves (performance, compression).
  result(status, detail) {
    this.customResult = { status, detail };
  }
  // True if the server is still connected after ms (nothing closed it).
  async stillOpenAfter(ms) {
    const closed = await this.c.waitClosed(ms);
    return !closed && !this.c.closeReceived;
  }
}

// Runs events through a barrier: a ping whose pong proves the server has
// handled everything we sent before it. Removes the barrier pong from the
// record so expectations need not mention it.
async function barrier(c, timeoutMs) {
  const tag = Buffer.from(`suite-barrier-${Math.random().toString(36).slice(2)}`);
  const n = c.events.length;
  await c.sendFrame({ opcode: 9, payload: tag });
  const ev = await c.waitFor((e) => e.type === 'pong' && e.data.equals(tag), timeoutMs, { since: n });
  if (ev) c.events.splice(c.events.indexOf(ev), 1);
  return !!ev;
}

function judgeEvents(got, expected) {
  for (const [status, list] of Object.entries(expected)) {
    if (sameEvents(got, list)) {
      return status === 'OK'
        ? { status: 'OK' }
        : { status, detail: `got ${describeList(got)}; expected ${describeList(expected.OK)}` };
    }
  }
  const alts = Object.entries(expected)
    .map(([s, l]) => `${s}: ${describeList(l)}`)
    .join(' | ');
  return { status: 'FAILED', detail: `got ${describeList(got)}; expected ${alts}` };
}

function judgeClose(c, exp) {
  const cr = c.closeReceived;
  const cs = c.closeSent;
  const codes = exp.codes.join(' or ');
  const got = cr ? (cr.code === null ? 'a close frame without code' : `close ${cr.code}${cr.reason ? ` "${cr.reason}"` : ''}`) : 'no close frame';
  if (exp.byMe) {
    if (cr && cr.first) return { status: 'FAILED', detail: `server failed the connection (${got}); expected it to stay open until we closed` };
    if (!cs && !cr && c.tcpClosed && !c.droppedByMe) return { status: 'FAILED', detail: 'server dropped the connection (no close frame) before we closed' };
    if (!cs) return { status: 'FAILED', detail: 'suite error: no close was sent' };
    if (!cr) {
      if (c.droppedByMe) return { status: 'FAILED', detail: `no answer to our close within the deadline (expected close ${codes})` };
      if (exp.dropOk) return { status: 'OK' };
      if (exp.clean) return { status: 'FAILED', detail: `server closed TCP without answering our close frame (expected close ${codes})` };
      return { status: 'NON-STRICT', detail: 'server closed TCP without a close frame' };
    }
    if (cr.code !== null && !exp.codes.includes(cr.code)) return { status: 'FAILED', detail: `expected close ${codes}, got ${got}` };
    if (c.droppedByMe) return { status: 'FAILED', detail: 'server did not close TCP after the closing handshake' };
    return { status: 'OK' };
  }
  if (cs && !cs.reply) return { status: 'FAILED', detail: `server did not fail the connection; expected close ${codes}` };
  if (!c.tcpClosed || c.droppedByMe) {
    if (!cr) return { status: 'FAILED', detail: `server did not fail the connection within the deadline; expected close ${codes}` };
  }
  if (!cr) {
    if (exp.dropOk) return { status: 'OK' };
    return { status: 'NON-STRICT', detail: `server closed TCP without a close frame (expected close ${codes})` };
  }
  if (cr.code === null) return { status: 'NON-STRICT', detail: `close frame without a code; expected close ${codes}` };
  if (!exp.codes.includes(cr.code)) return { status: 'FAILED', detail: `expected close ${codes}, got ${got}` };
  if (c.droppedByMe) return { status: 'FAILED', detail: 'server did not close TCP after the closing handshake' };
  return { status: 'OK' };
}

// Run one case against host:port. Returns { status, detail, ms }.
async function runCase(cs, { host = '127.0.0.1', port, timing }) {
  const t0 = Date.now();
  let c;
  try {
    c = await RawWs.connect({ host, port, deflate: cs.deflate || null, timeoutMs: timing.handshakeMs });
  } catch (e) {
    return { status: 'FAILED', detail: `connect: ${e.message}`, ms: Date.now() - t0 };
  }
  if (c.status !== 101 || c.handshakeError) {
    return { status: 'FAILED', detail: `handshake: ${c.handshakeError || c.statusLine}`, ms: Date.now() - t0 };
  }
  const t = new CaseContext(c, timing);
  let res;
  try {
    await cs.fn(t, c);
    const exp = t.close;
    if (exp.byMe && t.autoClose && c.open && !c.closeSent) {
      // Like Autobahn's finishWhenDone: close once what we expect has
      // arrived; then make sure nothing more was on its way.
      const matches = () => sameEvents(c.events.filter((e) => e.type !== 'violation'), t.expected.OK);
      if (!matches()) await c.waitFor(() => matches(), t.deadlineMs);
      if (c.open && !c.closeSent) await barrier(c, t.deadlineMs);
      if (c.open && !c.closeSent) await c.sendClose(exp.codes[0]);
    }
    if (!(await c.waitClosed(t.deadlineMs))) {
      c.destroy();
      await c.waitClosed(1000);
    }
    const got = c.events.filter((e) => e.type !== 'violation' && e.type !== 'close');
    if (t.customResult) res = t.customResult;
    else res = worst(judgeEvents(got, t.expected), judgeClose(c, exp));
    if (t.infoReason && res.status !== 'FAILED') {
      const what = `${describeList(got)}; ${c.closeReceived ? `close ${c.closeReceived.code}` : 'no close frame'}`;
      res = { status: 'INFORMATIONAL', detail: `${t.infoReason}: got ${what}` };
    } else if (t.infoReason) {
      res = { status: 'INFORMATIONAL', detail: `${t.infoReason}: ${res.detail}` };
    }
  } catch (e) {
    res = { status: 'FAILED', detail: `suite error: ${e.stack}` };
  } finally {
    c.destroy();
  }
  if (c.violations.length) {
    res = { status: 'FAILED', detail: `server protocol violation: ${c.violations.join('; ')}${res.detail ? ` (and: ${res.detail})` : ''}` };
  }
  res.ms = Date.now() - t0;
  return res;
}

module.exports = { runCase, sameEvents, describeList, CaseContext, RANK };
