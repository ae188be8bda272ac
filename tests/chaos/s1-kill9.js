// s1-kill9.js — scenario 1: kill -9 three times during a send load from 200
// clients, restarting each time on the same data. Passes when every message
// ever acked is in the history exactly once, seqs have no gaps, and every
// client's view equals the server's history.
'use strict';
const { ChaosServer } = require('./server');
const { Fleet } = require('./driver');
const { LOAD_ARGS, users, expect, expectNone, finalAudit, sleep, secs } = require('./common');

module.exports = {
  id: 1,
  title: 'kill -9 x3 under send load from 200 clients',
  async run(ctx) {
    const n = ctx.quick ? 60 : 200;
    const kills = 3;
    const rng = ctx.rng.derive('s1');
    const server = new ChaosServer({ args: LOAD_ARGS });
    ctx.cleanup(() => server.stop());
    await server.start();
    // The auditor joins general before anyone sends, so its own join is
    // part of the history every client syncs.
    const audit0 = require('./audit');
    await audit0.history(server.url, 'auditor', ['general']);
    const fleet = await Fleet.create({
      seed: ctx.seed, url: server.url, users: users(n, 'k'), processes: 2,
      clientOpts: { from: 'zero', ackTimeoutMs: 5000, reconnectionDelay: 300, reconnectionDelayMax: 2000 },
    });
    ctx.cleanup(() => fleet.close());
    const conn = await fleet.connect({ concurrency: 50 });
    expectNone('clients that did not connect', conn.failed.slice(0, 10).map((f) => `${f.user}: ${f.error}`));
    ctx.log(`  ${n} clients connected in ${conn.ms} ms`);

    const loadMs = ctx.quick ? 8000 : 14000;
    const rate = ctx.quick ? 1 : 0.5; // per client per second
    const load = fleet.load({ channel: 'general', ratePerClient: rate, durationMs: loadMs, label: 's1' });
    const recoveries = [];
    const started = Date.now();
    for (let k = 0; k < kills; k++) {
      await sleep(rng.int(800, 2000));
      const before = await fleet.status();
      const r = await server.restart('SIGKILL');
      const since = server.current.listeningAt;
      const back = await fleet.waitBack({ since, timeoutMs: 60000 });
      expect(back.back === back.n, `after kill ${k + 1}: only ${back.back} of ${back.n} clients came back within 60 s: ${JSON.stringify(back.missing.slice(0, 3))}`);
      const recoveryMs = Math.max(...back.syncedAt) - since;
      recoveries.push({ kill: k + 1, ackedBefore: before.acked, restartMs: r.startMs, recoveryMs });
      ctx.log(`  kill ${k + 1} at +${secs(Date.now() - started)} s: ${before.acked} acked so far, restart ${r.startMs} ms, all ${n} back and resynced ${recoveryMs} ms after listening`);
    }
    const sent = await load;
    const res = await finalAudit({ fleet, url: server.url, auditor: 'auditor', channels: ['general'] });
    expectNone('server problems', server.problems());
    expect(res.acked === sent.sent, `sent ${sent.sent}, acked ${res.acked}`);
    expect(res.acked > n, `too little load to prove anything: ${res.acked} acked`);
    return {
      clients: n,
      acked: res.acked,
      historyEvents: res.events,
      retries: res.st.sendAttempts - res.acked,
      duplicateAcks: res.st.dupAcks,
      restartMs: recoveries.map((r) => r.restartMs),
      recoveryMs: recoveries.map((r) => r.recoveryMs),
    };
  },
};
