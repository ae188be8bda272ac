// 1. Two users chat and see each other's typing and presence: typing shows
// while one types and clears when the message lands; each sees the other
// online, and the one who stays sees the other go offline once the leaver's
// page is closed (after the server's 5 s grace).
'use strict';
const { assertCommittedOnce } = require('../lib');

module.exports = {
  id: 1,
  title: 'two users chat, seeing typing and presence',
  async run(ctx) {
    const ann = await ctx.user('Ann');
    const ben = await ctx.user('Ben');

    await ann.type('hello Ben, are you th');
    await ben.waitText('#typing', 'Ann is typing', { what: "Ben's typing indicator" });
    await ann.page.press('#composer-input', 'Enter');
    await ben.waitDelivered(['hello Ben, are you th']);
    await ben.page.waitForFunction(() => document.querySelector('#typing').textContent === '', null, { timeout: 5000 });

    await ben.type('yes, here');
    await ann.waitText('#typing', 'Ben is typing', { what: "Ann's typing indicator" });
    await ben.page.press('#composer-input', 'Enter');
    await ann.waitDelivered(['hello Ben, are you th', 'yes, here']);
    await ben.waitDelivered(['hello Ben, are you th', 'yes, here']);

    // Presence: the dot by each author's name.
    await ben.page.waitForSelector('#messages article[data-author="ann"] .dot[data-status="online"]', { timeout: 5000 });
    await ann.page.waitForSelector('#messages article[data-author="ben"] .dot[data-status="online"]', { timeout: 5000 });
    await ann.page.close();
    await ben.page.waitForSelector('#messages article[data-author="ann"] .dot[data-status="offline"]', { timeout: 12000 });
    ctx.log('typing shown and cleared both ways; Ann online, then offline after her page closed');
    await assertCommittedOnce(ctx.server, ['hello Ben, are you th', 'yes, here']);
  },
};
