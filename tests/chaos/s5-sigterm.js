// s5-sigterm.js — scenario 5: SIGTERM during a send load, then start again
// on the same data. Passes when the server exits cleanly within its drain
// timeout, no acked message is lost (each in history exactly once), every
// client reconnects by itself — and none was told "io server disconnect",
// after which the stock socket.io-client does not reconnect at all — and
// every view equals the history.
'use strict';
const { ChaosServer } = require('./server');
const { Fleet } = require('./driver');
const audit = require('./audit');
const { LOAD_ARGS, users, expect, expectNone, finalAudit, sleep } = require('./common');

module.exports = {
  id: 5,
  title: 'SIGTERM under send load, then start again',
  async run(ctx) {
    const n = ctx.quick ? 50 : 100;
    const drainMs = 5000;
    const server = new ChaosServer({ args: [...LOAD_ARGS, '--drain-timeout-ms', String(drainMs)] });
    ctx.cleanup(() => server.stop());
    await server.start();
    await audit.history(server.url, 'auditor', ['general']);
    const fleet = await Fleet.create({
      seed: ctx.seed, url: server.url, users: users(n, 't'), processes: 2,
      clientOpts: { from: 'zero', ackTimeoutMs: 5000, reconnectionDelay: 300, reconnectionDelayMax: 2000 },
    });
    ctx.cleanup(() => fleet.close());
    const conn = await fleet.connect({ concurrency: 50 });
    expectNone('clients that did not connect', conn.failed.slice(0, 10).map((f) => `${f.user}: ${f.error}`));

    const load = fleet.load({ channel: 'general', ratePerClient: 2, durationMs: 9000, label: 's5' });
    await sleep(ctx.rng.int(2000, 3000));
    const before = await fleet.status();
    const t0 = Date.now();
    const exit = await server.kill('SIGTERM', drainMs + 5000);
    const exitMs = Date.now() - t0;
    ctx.log(`  SIGTERM with ${before.acked} acked and ${before.pendingSends} in flight: exit ${JSON.stringify({ code: exit.code, sig: exit.sig })} after ${exitMs} ms`);
    expect(exit.code === 0 && !exit.sig, `the server did not exit cleanly on SIGTERM: ${JSON.stringify(exit)}`);
    expect(exitMs <= drainMs + 2000, `the drain took ${exitMs} ms (drain timeout ${drainMs} ms)`);
    const run = await server.start();
    const back = await fleet.waitBack({ since: run.listeningAt, timeoutMs: 60000 });
    expect(back.back === back.n, `only ${back.back} of ${back.n} clients came back by themselves: ${JSON.stringify(back.missing.slice(0, 3))}`);
    const recoveryMs = Math.max(...back.syncedAt) - run.listeningAt;
    ctx.log(`  restarted in ${run.listeningAt - run.startedAt} ms; all ${n} back and resynced ${recoveryMs} ms after listening`);
    const sent = await load;
    const res = await finalAudit({ fleet, url: server.url, auditor: 'auditor', channels: ['general'] });
    expectNone('server problems', server.problems());
    expect(res.acked === sent.sent, `sent ${sent.sent}, acked ${res.acked}`);
    const told = res.sums.filter((s) => s.st.serverDisconnects > 0).map((s) => s.user);
    expect(told.length === 0, `${told.length} clients were sent "io server disconnect" on shutdown, which stock socket.io clients never recover from (e.g. ${told.slice(0, 5)})`);
    const reasons = {};
    for (const s of res.sums) for (const [r, k] of Object.entries(s.st.reasons)) reasons[r] = (reasons[r] || 0) + k;
    return { clients: n, exitMs, restartMs: run.listeningAt - run.startedAt, recoveryMs, acked: res.acked, retries: res.st.sendAttempts - res.acked, duplicateAcks: res.st.dupAcks, disconnectReasons: reasons };
  },
};
