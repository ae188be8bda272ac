// s2-netcut.js — scenario 2: a network cut through the proxy (30 s; set
// CHAOS_CUT_MS to change it), then restore. Every live connection goes
// silent (bytes swallowed, nothing closed) and new ones are accepted and
// never answered, while the clients keep trying to send. Passes when every
// client reconnects by itself after the restore, every send is acked and in
// history exactly once, and every view equals the history.
//
// Before the cut, one lost ack on purpose: a client's downstream is stalled,
// its send commits (another socket sees the broadcast), its connection is
// reset; the retry with the same clientId must be answered duplicate:true
// and the history must hold the message once.
//
// Heartbeat: the server runs with a 2 s ping interval and 2 s timeout, so
// both ends notice the cut within about 4 s; the clients' connect timeout
// is 5 s. With the defaults (25 s + 20 s) a 30 s cut is noticed only when
// the heartbeat runs out at 45 s, which makes the same test 15 s longer.
'use strict';
const { ChaosServer } = require('./server');
const { startProxy } = require('./proxy');
const { Fleet } = require('./driver');
const audit = require('./audit');
const { LOAD_ARGS, users, expect, expectNone, finalAudit, sleep, secs, observe } = require('./common');

module.exports = {
  id: 2,
  title: 'network cut through the proxy, then restore',
  async run(ctx) {
    const n = ctx.quick ? 40 : 100;
    const cutMs = Number(process.env.CHAOS_CUT_MS || (ctx.quick ? 8000 : 30000));
    const server = new ChaosServer({ args: [...LOAD_ARGS, '--ping-interval-ms', '2000', '--ping-timeout-ms', '2000'] });
    ctx.cleanup(() => server.stop());
    await server.start();
    const px = await startProxy({ targetPort: server.port });
    ctx.cleanup(() => px.close());
    await audit.history(server.url, 'auditor', ['general']);
    const fleet = await Fleet.create({
      seed: ctx.seed, url: px.url, users: users(n, 'n').map((u) => ({ ...u, query: { chaos: u.user } })), processes: 2,
      clientOpts: { from: 'zero', ackTimeoutMs: 4000, connectTimeoutMs: 5000, reconnectionDelay: 500, reconnectionDelayMax: 3000 },
    });
    ctx.cleanup(() => fleet.close());
    const conn = await fleet.connect({ concurrency: 50 });
    expectNone('clients that did not connect', conn.failed.slice(0, 10).map((f) => `${f.user}: ${f.error}`));
    expect(px.list().length >= n, `expected ${n} connections through the proxy, saw ${px.list().length}`);

    // The lost ack.
    const victim = users(n, 'n')[0].user;
    const observer = await observe(server.url, 'observer');
    ctx.cleanup(() => observer.close());
    expect(px.stall(`#${victim}`, 'down') === 1, `no proxy connection tagged ${victim}`);
    const lone = fleet.load({ users: [victim], channel: 'general', count: 1, interval: 0, label: 's2-lost-ack' });
    await observer.next('message:new', (m) => m.author.id === victim, 10000);
    px.reset(`#${victim}`);
    await lone;
    const [vs] = await fleet.summaries({ users: [victim] });
    const lostAck = vs.sent[vs.sent.length - 1];
    expect(lostAck.seq && lostAck.duplicateAck, `the retry after a lost ack was not answered duplicate:true: ${JSON.stringify(lostAck)}`);
    ctx.log(`  lost ack: ${victim}'s retry of ${lostAck.clientId} answered duplicate:true with seq ${lostAck.seq}`);

    const loadMs = cutMs + 8000;
    const load = fleet.load({ channel: 'general', ratePerClient: 1, durationMs: loadMs, label: 's2' });
    await sleep(2000);
    const before = await fleet.status();
    const cut = px.cut();
    const cutAt = Date.now();
    ctx.log(`  cut ${cut} live connections with ${before.acked} messages acked`);
    const down = await fleet.waitDown({ timeoutMs: Math.min(cutMs, 15000) });
    const detectMs = Date.now() - cutAt;
    ctx.log(`  clients noticed the cut: ${down.down ? `all, within ${detectMs} ms` : `${down.live} still think they are connected`}`);
    const remaining = cutMs - (Date.now() - cutAt);
    if (remaining > 0) await sleep(remaining);
    const swallowed = px.stats.blackholed;
    px.restore();
    const restoredAt = Date.now();
    const back = await fleet.waitBack({ since: restoredAt, timeoutMs: 60000 });
    expect(back.back === back.n, `only ${back.back} of ${back.n} clients came back by themselves within 60 s: ${JSON.stringify(back.missing.slice(0, 3))}`);
    const recoveryMs = Math.max(...back.syncedAt) - restoredAt;
    ctx.log(`  restored after ${secs(restoredAt - cutAt)} s; all ${n} back and resynced in ${recoveryMs} ms (${swallowed} connections black-holed in all)`);
    const sent = await load;
    const res = await finalAudit({ fleet, url: server.url, auditor: 'auditor', channels: ['general'] });
    expectNone('server problems', server.problems());
    expect(res.acked === sent.sent + 1, `sent ${sent.sent + 1}, acked ${res.acked}`);
    expect(down.down, `not every client noticed the cut (${down.live} did not)`);
    return {
      clients: n,
      cutMs: restoredAt - cutAt,
      detectMs,
      recoveryMs,
      acked: res.acked,
      retries: res.st.sendAttempts - res.acked,
      duplicateAcks: res.st.dupAcks,
      blackholedConnections: swallowed,
    };
  },
};
