// 4. A message sent and the page reloaded at once (before the ack can
// come back): after the reload the message is there, once, sent — on the
// sender's page, the other user's page and the server. Three rounds, so
// the reload lands at different points of the send.
'use strict';
const { assertCommittedOnce } = require('../lib');

module.exports = {
  id: 4,
  title: 'send then reload at once: the message is there, once',
  async run(ctx) {
    const gus = await ctx.user('Gus');
    const hal = await ctx.user('Hal');
    const texts = [];
    for (let round = 1; round <= 3; round++) {
      const text = `sent just before reload ${round}`;
      texts.push(text);
      await gus.page.fill('#composer-input', text);
      // Enter and reload in the same turn of the page's event loop for the
      // first round; the others give the send a head start of a few ms.
      await gus.page.evaluate((r) => {
        const input = document.querySelector('#composer-input');
        input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));
        if (r === 1) location.reload();
        else setTimeout(() => location.reload(), r === 2 ? 1 : 5);
      }, round);
      await gus.page.waitForLoadState('load');
      await gus.waitConnected();
      await gus.waitDelivered(texts);
    }
    await hal.waitDelivered(texts);
    await assertCommittedOnce(ctx.server, texts);
    ctx.log('three send-and-reload rounds: each message shown once after the reload, committed once');
  },
};
