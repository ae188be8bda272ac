// 10. The rest of the UI, as two people use it: create a private channel,
// share an invite link that joins whoever opens it, mention, reply, react,
// edit, delete (an owner's too), unread badges and read markers, a DM with its "Seen", the
// notifications panel, and presence in the DM list.
'use strict';

async function act(u, text, action) {
  const msg = u.page.locator('#messages article.msg', { has: u.page.locator('.text', { hasText: text }) }).last();
  await msg.hover();
  await msg.locator(action).click();
  return msg;
}

module.exports = {
  id: 10,
  title: 'UI: invite links, replies, reactions, edit, delete, unread, DMs, notifications',
  async run(ctx) {
    const rae = await ctx.user('Rae');
    const sam = await ctx.user('Sam');

    // A private channel from the dialog; its invite link joins Sam.
    await rae.page.click('#create-btn');
    await rae.page.fill('#create-form input[name="name"]', 'Secret plans');
    await rae.page.selectOption('#create-form select[name="kind"]', 'private');
    await rae.page.click('#dialog button[type="submit"]');
    await rae.waitActive('secret-plans');
    await rae.page.click('#invite-btn');
    await rae.page.waitForFunction(() => /#invite=/.test(document.querySelector('#dialog .invite-url').value), null, { timeout: 5000 });
    const link = await rae.page.$eval('#dialog .invite-url', (i) => i.value);
    await rae.page.click('#dialog .dialog-close');
    await sam.page.goto(link);
    await sam.waitConnected();
    await sam.waitActive('secret-plans');
    await rae.waitText('#messages', 'Sam joined.');
    ctx.log(`invite link ${link.replace(/^https?:\/\/[^/]+/, '')} joined Sam`);

    // A mention while Rae looks elsewhere: bell and badge; reading the
    // channel reads the notification too.
    await rae.open('general');
    await sam.send('hi @rae, what is the plan?');
    await rae.waitText('#notif-count', '1', { what: "Rae's notification count" });
    await rae.page.waitForSelector('.channel[data-channel="secret-plans"] .badge[data-unread="1"]', { timeout: 10000 });
    await rae.open('secret-plans');
    await rae.waitDelivered(['hi @rae, what is the plan?']);
    await rae.page.waitForSelector('#notif-count', { state: 'hidden', timeout: 5000 });
    // Reply; reaction; edit; delete.
    await act(rae, 'hi @rae', '.act-reply');
    await rae.waitText('#reply-text', 'Replying to Sam');
    await rae.send('welcome!');
    await sam.waitDelivered(['hi @rae, what is the plan?', 'welcome!']);
    await sam.page.waitForSelector('#messages article.msg:last-of-type .reply-quote:has-text("what is the plan")');
    await act(sam, 'welcome!', '.act-react');
    await sam.page.click('#messages .picker button:has-text("👍")');
    await rae.page.waitForSelector('#messages .reaction[data-emoji="👍"] .count:has-text("1")');
    await act(rae, 'welcome!', '.act-edit');
    await rae.page.fill('#messages .edit-box', 'welcome, Sam!');
    await rae.page.press('#messages .edit-box', 'Enter');
    await sam.page.waitForSelector('#messages article.msg:has(.text:has-text("welcome, Sam!")) .edited');
    await act(sam, 'hi @rae', '.act-delete');
    await sam.page.click('#messages .confirm button.danger');
    await rae.waitText('#messages', 'This message was deleted.');
    ctx.log('mention notified, reply quoted, reaction counted, edit marked, delete shown');

    // Read markers: what Rae has on screen is marked read. Then an unread
    // badge while she looks elsewhere; opening the channel reads it.
    const readUpTo = () => rae.page.waitForFunction(() => {
      const c = window.parley.client.channels.get('secret-plans');
      return c.lastRead === c.seq && c.unread === 0;
    }, null, { timeout: 5000 });
    await readUpTo();
    await rae.open('general');
    await sam.send('are you there?');
    await rae.page.waitForSelector('.channel[data-channel="secret-plans"] .badge[data-unread="1"]', { timeout: 10000 });
    await rae.open('secret-plans');
    await readUpTo();
    await rae.page.waitForFunction(() => !document.querySelector('.channel[data-channel="secret-plans"] .badge'), null, { timeout: 5000 });
    // Rae owns the channel: she may delete Sam's message too; Sam may not
    // delete hers (no Delete offered).
    const hers = sam.page.locator('#messages article.msg', { has: sam.page.locator('.text', { hasText: 'welcome, Sam!' }) });
    await hers.hover();
    if (await hers.locator('.act-delete').count()) throw new Error("Sam is offered Delete on Rae's message");
    await act(rae, 'are you there?', '.act-delete');
    await rae.page.click('#messages .confirm button.danger');
    await sam.page.waitForFunction(() => [...document.querySelectorAll('#messages article.msg')].filter((m) => /This message was deleted/.test(m.textContent)).length === 2, null, { timeout: 5000 });

    // A DM: Sam sees it with a badge, opens it; Rae sees "Seen".
    await rae.page.click('#dm-btn');
    await rae.page.fill('#dm-form input[name="user"]', 'sam');
    await rae.page.click('#dialog button[type="submit"]');
    await rae.waitActive('dm:rae:sam');
    await rae.page.waitForSelector('.channel[data-channel="dm:rae:sam"] .dot[data-status="online"]', { timeout: 5000 });
    await rae.send('psst');
    await sam.page.waitForSelector('.channel[data-channel="dm:rae:sam"] .badge[data-unread="1"]', { timeout: 10000 });
    // One: the DM. The reply notification came while Sam had its channel
    // on screen, so it was read in place.
    await sam.waitText('#notif-count', '1', { what: "Sam's notification count (the DM only)" });
    await sam.open('dm:rae:sam');
    await sam.waitDelivered(['psst']);
    await sam.page.waitForSelector('#notif-count', { state: 'hidden', timeout: 5000 });
    await rae.page.waitForSelector('#messages article.msg:has(.text:has-text("psst")) .state:has-text("Seen")', { timeout: 5000 });

    // The notifications panel lists what happened to Sam.
    await sam.page.click('#notif-btn');
    await sam.page.waitForSelector('#dialog .notif-list li:has-text("replied to you")', { timeout: 5000 });
    await sam.page.waitForSelector('#dialog .notif-list li:has-text("sent you a message")', { timeout: 5000 });
    ctx.log('unread badge cleared on open; DM badge, "Seen" marker, notifications panel');
  },
};
