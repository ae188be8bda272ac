// 5. Two tabs of the same user (one browser profile, so shared storage and
// session): both receive what others send, both can send, each sees what
// the other tab sent, and nothing shows twice.
'use strict';
const { assertCommittedOnce, serverMessages } = require('../lib');

module.exports = {
  id: 5,
  title: 'two tabs of one user: both receive, both send',
  async run(ctx) {
    const ida1 = await ctx.user('Ida');
    const ida2 = ctx.track(await ida1.newTab());
    const jim = await ctx.user('Jim');
    await ida2.waitActive('general');

    await jim.send('hello both tabs');
    await ida1.waitDelivered(['hello both tabs']);
    await ida2.waitDelivered(['hello both tabs']);
    await ida1.send('from tab one');
    await ida2.send('from tab two');
    const all = ['hello both tabs', 'from tab one', 'from tab two'];
    // Tab two may commit first: the order is the server's, the same everywhere.
    const committed = (await serverMessages(ctx.server)).map((m) => m.text).filter((t) => all.includes(t));
    for (const u of [ida1, ida2, jim]) await u.waitDelivered(committed);
    await assertCommittedOnce(ctx.server, committed);
    ctx.log(`both tabs received and sent; order everywhere: ${JSON.stringify(committed)}`);
  },
};
