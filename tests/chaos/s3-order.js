// s3-order.js — scenario 3: five messages from one client within 50 ms
// (sent without waiting for acks), then 1,000 from ten clients as fast as
// acks allow. Passes when every message is delivered to every member, each
// sender's messages hold seqs in the order they were sent, live broadcasts
// arrive in seq order, and every view equals the history.
'use strict';
const { ChaosServer } = require('./server');
const { Fleet, latencyStats } = require('./driver');
const audit = require('./audit');
const { LOAD_ARGS, users, expect, expectNone, finalAudit } = require('./common');

// Per sender, in send order (the clientId's number), seqs must rise.
function senderOrder(sums, channel) {
  const fails = [];
  for (const s of sums) {
    const mine = s.sent.filter((r) => r.channel === channel && r.seq)
      .map((r) => ({ n: Number(r.clientId.slice(r.clientId.lastIndexOf('-') + 1)), seq: r.seq }))
      .sort((a, b) => a.n - b.n);
    for (let i = 1; i < mine.length; i++) {
      if (mine[i].seq <= mine[i - 1].seq) fails.push(`${s.user}: message #${mine[i].n} has seq ${mine[i].seq}, not after #${mine[i - 1].n}'s ${mine[i - 1].seq}`);
    }
  }
  return fails;
}

module.exports = {
  id: 3,
  title: '5 messages in 50 ms from one client, then 1,000 from ten clients',
  async run(ctx) {
    const server = new ChaosServer({ args: LOAD_ARGS });
    ctx.cleanup(() => server.stop());
    await server.start();
    await audit.history(server.url, 'auditor', ['general']);
    const senders = users(10, 's');
    const readers = users(10, 'r');
    const fleet = await Fleet.create({
      seed: ctx.seed, url: server.url, users: [...senders, ...readers], processes: 0,
      clientOpts: { from: 'zero', ackTimeoutMs: 10000, trackLatency: true },
    });
    ctx.cleanup(() => fleet.close());
    const conn = await fleet.connect({ concurrency: 20 });
    expectNone('clients that did not connect', conn.failed.map((f) => `${f.user}: ${f.error}`));

    // Five in 50 ms from s0: one every 10 ms, none waiting for its ack.
    const t0 = Date.now();
    await fleet.load({ users: [senders[0].user], channel: 'general', count: 5, interval: 10, pipeline: true, window: 5, awaitAcks: true, label: 'burst' });
    const burstMs = Date.now() - t0;
    const [s0] = await fleet.summaries({ users: [senders[0].user] });
    const burst = s0.sent.slice(-5);
    expectNone('burst order', senderOrder([s0], 'general'));
    expect(burst.every((r) => r.attempts === 1), `burst needed retries: ${JSON.stringify(burst)}`);
    ctx.log(`  burst: 5 sent within 50 ms, all acked in ${burstMs} ms, seqs ${burst.map((r) => r.seq).join(',')}`);

    // 100 each from ten senders, each waiting for its ack before the next.
    const gapsBefore = (await fleet.summaries()).reduce((a, x) => a + x.st.gaps, 0);
    const t1 = Date.now();
    const r = await fleet.load({ users: senders.map((u) => u.user), channel: 'general', count: 100, interval: 0, stamp: true, awaitAcks: true, label: 'stream' });
    const streamMs = Date.now() - t1;
    expect(r.sent === 1000, `sent ${r.sent} of 1000`);

    const res = await finalAudit({ fleet, url: server.url, auditor: 'auditor', channels: ['general'] });
    const lat = latencyStats(await fleet.latencies({ users: readers.map((u) => u.user) }));
    const gaps = res.st.gaps - gapsBefore;
    ctx.log(`  1,000 from ten clients in ${streamMs} ms (${Math.round(1000000 / streamMs)} msg/s); delivery p50 ${lat.p50} ms, p99 ${lat.p99} ms; seq gaps seen live: ${gaps}`);
    expectNone('sender order', senderOrder(res.sums, 'general'));
    expect(res.st.outOfOrder === 0, `${res.st.outOfOrder} live broadcasts arrived out of seq order`);
    // No fault here, so nothing may have to be fetched by a sync.
    expect(gaps === 0, `${gaps} seq gaps in the live broadcasts without any fault`);
    expect(res.acked === 1005, `acked ${res.acked} of 1005`);
    expect(lat.n === 1000 * readers.length, `readers received ${lat.n} stamped messages live, expected ${1000 * readers.length}`);
    expectNone('server problems', server.problems());
    return { burstAckMs: burstMs, streamMs, msgPerSec: Math.round(1000000 / streamMs), deliveryP50Ms: lat.p50, deliveryP99Ms: lat.p99, liveGaps: gaps };
  },
};
