// 7. The tab goes to the background and its connection dies silently for
// 60 s (a TCP proxy between the page and the server black-holes every live
// and new connection: no FIN, no RST, nothing), then the network is back
// and the tab is shown: sending works at once, and what the other user
// wrote meanwhile is there.
//
// A sleeping laptop runs no timers, so its socket.io heartbeat cannot notice
// the dead connection. A headless page cannot be put to sleep like that
// (CDP's Page.setWebLifecycleState 'frozen' left the page's timers running
// when we tried), so this scenario's server uses a heartbeat longer than the
// outage instead: when the tab is shown, the client still believes it is
// connected, exactly as after a sleep. Only the client's own check on
// visibilitychange can then bring it back quickly — without it, the send
// would wait for its 10 s ack timeout.
'use strict';
const { startParley } = require('../../js/lib/parley');
const { startProxy } = require('../../chaos/proxy');
const { User, assertCommittedOnce } = require('../lib');

const OUTAGE_MS = Number(process.env.E2E_BLACKHOLE_MS || 60000);
const AT_ONCE_MS = 5000;

module.exports = {
  id: 7,
  title: 'tab hidden, socket black-holed for 60 s, shown: sending works at once',
  async run(ctx) {
    const server = await startParley({ args: ctx.serverArgs(['--ping-interval-ms', '120000', '--ping-timeout-ms', '60000']) });
    ctx.cleanup(() => server.stop());
    const proxy = await startProxy({ targetPort: server.port });
    ctx.cleanup(() => proxy.close());

    const liz = ctx.track(await User.open(ctx.browser, proxy.url, 'Liz'));
    const max = ctx.track(await User.open(ctx.browser, server.url, 'Max'));
    await liz.send('before the sleep');
    await max.waitDelivered(['before the sleep']);

    await liz.setVisible(false);
    const cut = proxy.cut();
    ctx.log(`tab hidden; ${cut} connection(s) black-holed for ${OUTAGE_MS / 1000} s`);
    await max.send('while Liz sleeps');
    await max.waitDelivered(['while Liz sleeps']);
    // The outage itself: a length of time, not an event to wait for.
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    const before = await liz.page.evaluate(() => window.parley.connection.state);
    ctx.log(`after the outage the hidden page believes it is: ${before}`);

    proxy.restore();
    const t0 = Date.now();
    await liz.setVisible(true);
    await liz.send('after the sleep');
    await liz.waitDelivered(['before the sleep', 'after the sleep'], { timeoutMs: AT_ONCE_MS });
    const ms = Date.now() - t0;
    ctx.log(`shown: the message was acknowledged ${ms} ms later`);
    await max.waitDelivered(['before the sleep', 'while Liz sleeps', 'after the sleep']);
    await liz.waitDelivered(['before the sleep', 'while Liz sleeps', 'after the sleep']);
    await assertCommittedOnce(server, ['before the sleep', 'while Liz sleeps', 'after the sleep']);
  },
};
