// 6. The server is restarted (SIGTERM, then started again on the same port
// and data) while two users chat: both pages show that they are
// reconnecting, come back by themselves (no reload: a marker left on the
// page survives), a message written while the server was down is queued
// and delivered, and sending works as before.
'use strict';
const { assertCommittedOnce } = require('../lib');

module.exports = {
  id: 6,
  title: 'server restarted while chatting: reconnects, sending works, no reload',
  async run(ctx) {
    const kim = await ctx.user('Kim');
    const lou = await ctx.user('Lou');
    await kim.send('before the restart');
    await lou.waitDelivered(['before the restart']);
    for (const u of [kim, lou]) await u.page.evaluate(() => (window.__noReload = true));

    const restarted = ctx.server.restart();
    await kim.page.waitForFunction(() => window.parley.connection.state !== 'connected', null, { timeout: 10000 });
    await kim.send('while the server is down');
    await restarted;
    const t0 = Date.now();
    await kim.waitConnected(20000);
    await lou.waitConnected(20000);
    ctx.log(`both pages reconnected ${Date.now() - t0} ms after the server was back`);
    await kim.send('after the restart');
    await lou.send('me too');
    const texts = ['before the restart', 'while the server is down', 'after the restart'];
    await kim.waitDelivered(texts);
    await lou.waitDelivered(texts);
    await kim.waitDelivered(['me too']);
    for (const u of [kim, lou]) {
      if (!(await u.page.evaluate(() => window.__noReload === true))) throw new Error(`${u.name}'s page was reloaded`);
    }
    await assertCommittedOnce(ctx.server, texts);
  },
};
