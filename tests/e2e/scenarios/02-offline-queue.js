// 2. The browser goes offline (context.setOffline), three messages are
// written and shown as queued (banner: offline, 3 queued); meanwhile the
// other user writes one. Back online: the three are delivered once each,
// in order, to both pages and the server, and the one written meanwhile
// reaches the page that was offline (channel:sync).
'use strict';
const { assertCommittedOnce } = require('../lib');

module.exports = {
  id: 2,
  title: 'offline: three queued messages delivered once, in order, when back online',
  async run(ctx) {
    const cat = await ctx.user('Cat');
    const dan = await ctx.user('Dan');
    const texts = ['offline one', 'offline two', 'offline three'];

    await cat.context.setOffline(true);
    await cat.page.waitForFunction(() => window.parley.connection.state === 'offline', null, { timeout: 5000 });
    for (const t of texts) await cat.send(t);
    await cat.page.waitForFunction(
      (want) => {
        const shown = [...document.querySelectorAll('#messages article.msg.pending')];
        return shown.length === want.length && shown.every((n, i) => n.querySelector('.text').textContent === want[i] && n.dataset.state === 'queued');
      },
      texts,
      { timeout: 5000 },
    );
    const b = await cat.banner();
    if (b.hidden || b.state !== 'offline' || b.queued !== 3 || !/3 messages queued/.test(b.text)) {
      throw new Error(`offline banner: ${JSON.stringify(b)}`);
    }
    ctx.log(`banner while offline: "${b.text}"`);
    // Nothing went out: Dan's page round-trips to the server, which has none of them.
    await dan.send('while Cat is away');
    await dan.waitDelivered(['while Cat is away']);
    const early = (await dan.messages()).filter((m) => texts.includes(m.text));
    if (early.length) throw new Error(`sent while offline: ${JSON.stringify(early)}`);

    await cat.context.setOffline(false);
    await cat.waitDelivered(texts);
    await dan.waitDelivered([...texts]);
    await cat.waitDelivered(['while Cat is away']);
    await cat.page.waitForFunction(() => document.querySelector('#banner').hidden, null, { timeout: 5000 });
    await assertCommittedOnce(ctx.server, ['while Cat is away', ...texts]);
    // Exactly once on both pages, too.
    for (const u of [cat, dan]) {
      const shown = (await u.messages()).map((m) => m.text).filter((t) => texts.includes(t));
      if (shown.length !== 3) throw new Error(`${u.name} shows ${JSON.stringify(shown)}`);
    }
    ctx.log('three queued messages delivered once, in order; the message written meanwhile synced');
  },
};
