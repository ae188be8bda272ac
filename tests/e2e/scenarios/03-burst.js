// 3. Five messages typed and sent within one second: all five are
// delivered, once each, in the order they were written — on the sender's
// page, on the other user's page and in the server's history.
'use strict';
const { assertCommittedOnce } = require('../lib');

module.exports = {
  id: 3,
  title: 'five messages within a second: all delivered, in order',
  async run(ctx) {
    const eve = await ctx.user('Eve');
    const fay = await ctx.user('Fay');
    const texts = [1, 2, 3, 4, 5].map((i) => `burst ${i} of 5`);
    // Typed and submitted with Enter inside the page, back to back (a
    // round trip to the test per keystroke would stretch the burst).
    const ms = await eve.page.evaluate((all) => {
      const input = document.querySelector('#composer-input');
      const t0 = performance.now();
      for (const t of all) {
        input.focus();
        input.value = t;
        input.dispatchEvent(new InputEvent('input', { bubbles: true, data: t, inputType: 'insertText' }));
        input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));
      }
      return Math.round(performance.now() - t0);
    }, texts);
    if (ms >= 1000) throw new Error(`the five sends took ${ms} ms, not within a second`);
    await eve.waitDelivered(texts);
    await fay.waitDelivered(texts);
    await assertCommittedOnce(ctx.server, texts);
    ctx.log(`five sends in ${ms} ms; delivered in order on both pages and the server`);
  },
};
