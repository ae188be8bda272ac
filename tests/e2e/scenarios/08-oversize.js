// 8. An oversize message (5000 characters; the limit is 4000): the page
// says clearly why it was not sent and offers retry / edit / discard; the
// messages written before and after it are delivered, the other user never
// sees the big one, and the queue is not stuck behind it.
'use strict';
const { assertCommittedOnce, serverMessages } = require('../lib');

module.exports = {
  id: 8,
  title: 'oversize message: a clear error in the UI, nothing else lost',
  async run(ctx) {
    const ned = await ctx.user('Ned');
    const oli = await ctx.user('Oli');
    const big = 'x'.repeat(5000);
    await ned.send('before the big one');
    await ned.send(big);
    await ned.send('after the big one');
    await ned.waitDelivered(['before the big one', 'after the big one']);
    await ned.page.waitForSelector('#messages article.msg[data-state="failed"] .msg-error', { timeout: 10000 });
    const failed = (await ned.messages()).filter((m) => m.state === 'failed');
    if (failed.length !== 1 || failed[0].text !== big) throw new Error(`failed messages: ${JSON.stringify(failed.map((m) => ({ ...m, text: m.text.length })))}`);
    if (!/too long/i.test(failed[0].error) || !/4000 characters/.test(failed[0].error)) throw new Error(`unclear error: ${failed[0].error}`);
    ctx.log(`error shown: "${failed[0].error}"`);
    for (const b of ['.act-retry', '.act-edit-failed', '.act-discard']) {
      if (!(await ned.page.$(`#messages article.msg[data-state="failed"] ${b}`))) throw new Error(`no ${b} button on the failed message`);
    }
    const banner = await ned.banner();
    if (!banner.hidden) throw new Error(`banner counts a failed message as queued: ${JSON.stringify(banner)}`);
    await oli.waitDelivered(['before the big one', 'after the big one']);
    if ((await oli.messages()).some((m) => m.text === big)) throw new Error('Oli sees the oversize message');
    await assertCommittedOnce(ctx.server, ['before the big one', 'after the big one']);
    if ((await serverMessages(ctx.server)).some((m) => m.text === big)) throw new Error('the server stored the oversize message');

    // Edit puts the text back in the composer; the failed entry goes away.
    await ned.page.click('#messages article.msg[data-state="failed"] .act-edit-failed');
    await ned.page.waitForFunction((n) => document.querySelector('#composer-input').value.length === n && !document.querySelector('#messages article.msg[data-state="failed"]'), big.length, { timeout: 5000 });
    await ned.page.fill('#composer-input', 'x'.repeat(40));
    await ned.page.press('#composer-input', 'Enter');
    await ned.waitDelivered(['before the big one', 'after the big one', 'x'.repeat(40)]);
  },
};
