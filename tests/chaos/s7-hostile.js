// s7-hostile.js — scenario 7: malformed and hostile traffic mixed into a
// normal load. Twenty well-behaved clients send 2 messages/s each (inside
// the default limits, which this scenario keeps: 10 sends/s per user, 50
// events/s per socket) while hostile.js's offenders hit the same server:
// garbage bytes, bad frames, oversize payloads, invalid JSON, floods over
// the rate limits, too many sockets for one user, half-open sockets. The
// server runs with 2 s head/connect timeouts and a 2 s + 2 s heartbeat so
// that the half-open ones are dealt with inside the scenario.
// Passes when every offender is closed or refused (as expected for it)
// within hostile.DEADLINE_MS; the good clients are never disconnected, never
// rate-limited, need no retry, and their delivery latency stays within
// 2x + 25 ms (p50) of before; every acked message (the flooder's included)
// is in history once; every view equals the history; the server is sound.
'use strict';
const { ChaosServer } = require('./server');
const { Fleet, latencyStats } = require('./driver');
const audit = require('./audit');
const { unleash } = require('./hostile');
const { users, expect, expectNone, finalAudit, sleep } = require('./common');

module.exports = {
  id: 7,
  title: 'malformed and hostile traffic mixed into a normal load',
  async run(ctx) {
    const server = new ChaosServer({
      args: ['--http-head-timeout-ms', '2000', '--connect-timeout-ms', '2000', '--ping-interval-ms', '2000', '--ping-timeout-ms', '2000', '--max-sockets-per-user', '10'],
    });
    ctx.cleanup(() => server.stop());
    await server.start();
    await audit.history(server.url, 'auditor', ['general']);
    const good = users(20, 'g');
    const fleet = await Fleet.create({
      seed: ctx.seed, url: server.url, users: good, processes: 0,
      clientOpts: { from: 'zero', ackTimeoutMs: 10000, trackLatency: true },
    });
    ctx.cleanup(() => fleet.close());
    const conn = await fleet.connect({ concurrency: 20 });
    expectNone('clients that did not connect', conn.failed.map((f) => `${f.user}: ${f.error}`));

    const t0 = Date.now();
    const load = fleet.load({ channel: 'general', ratePerClient: 2, durationMs: 14000, stamp: true, label: 's7' });
    await sleep(3000);
    const attackAt = Date.now();
    const results = await unleash(server.port, ctx.rng.derive('hostile'));
    const attackEnd = Date.now();
    for (const r of results) ctx.log(`  ${r.outcome === (r.expect === 'close' ? 'closed' : 'refused') ? 'ok  ' : 'FAIL'} ${r.name}: ${r.outcome}${r.ms !== null ? ` after ${r.ms} ms` : ''}${r.detail ? ` (${r.detail})` : ''}`);
    await load;
    const res = await finalAudit({ fleet, url: server.url, auditor: 'auditor', channels: ['general'] });

    const wrong = results.filter((r) => r.outcome !== (r.expect === 'close' ? 'closed' : 'refused'));
    expectNone('offenders the server did not deal with', wrong.map((r) => `${r.name}: expected ${r.expect}, got ${r.outcome} (${r.detail})`));
    const hurt = res.sums.filter((s) => s.st.disconnects || s.st.rateLimited || s.st.sendTimeouts).map((s) => `${s.user}: ${JSON.stringify({ disconnects: s.st.disconnects, reasons: s.st.reasons, rateLimited: s.st.rateLimited, timeouts: s.st.sendTimeouts })}`);
    expectNone('good clients affected by the offenders', hurt);
    // The flood's accepted sends are acked messages too.
    const floods = results.filter((r) => r.accepted);
    const floodSums = floods.map((r) => ({ user: r.user, sent: r.accepted.map((a) => ({ ...a })), views: {}, conflicts: [], errors: [], st: {} }));
    const fl = audit.checkAcked(floodSums, res.hist);
    expectNone('flood messages that were acked', fl.fails);
    for (const f of floods) expect(f.acks.rate_limited > 0 && f.acks.retryAfter === f.acks.rate_limited, `${f.name}: rate_limited acks must carry retryAfterMs: ${JSON.stringify(f.acks)}`);
    const before = latencyStats(await fleet.latencies({ from: t0 + 500, to: attackAt }));
    const during = latencyStats(await fleet.latencies({ from: attackAt, to: attackEnd }));
    ctx.log(`  good clients' delivery latency before: p50 ${before.p50} ms, p95 ${before.p95} ms; during the attack: p50 ${during.p50} ms, p95 ${during.p95} ms`);
    expect(during.n > 0, 'no latency samples during the attack');
    expect(during.p50 <= 2 * before.p50 + 25, `good clients slowed down: p50 ${before.p50} -> ${during.p50} ms`);
    expectNone('server problems', server.problems());
    return {
      offenders: results.length,
      closeMs: Object.fromEntries(results.filter((r) => r.expect === 'close').map((r) => [r.name, r.ms])),
      floodAcks: Object.fromEntries(floods.map((f) => [f.user, f.acks])),
      goodAcked: res.acked,
      latencyBefore: { p50: before.p50, p95: before.p95 },
      latencyDuring: { p50: during.p50, p95: during.p95 },
    };
  },
};
