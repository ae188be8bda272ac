// 12. The README's screenshot: two users chatting on a fresh server (so no
// test chatter shows), with a reply, reactions, an unread badge, a DM and
// the other user typing. Written to $PARLEY_BUILD_DIR/e2e-screenshot.png,
// and to E2E_SCREENSHOT when set (docs/screenshot.png is made that way).
'use strict';
const fs = require('fs');
const path = require('path');
const { startParley } = require('../../js/lib/parley');
const { User } = require('../lib');

module.exports = {
  id: 12,
  title: 'two users chatting, screenshot',
  async run(ctx) {
    const server = await startParley({ args: ctx.serverArgs() });
    ctx.cleanup(() => server.stop());
    const ada = ctx.track(await User.open(ctx.browser, server.url, 'Ada'));
    const lin = ctx.track(await User.open(ctx.browser, server.url, 'Linus'));
    await lin.page.evaluate(() => window.parley.client.createChannel({ id: 'release', name: 'release', kind: 'public', topic: 'Shipping 1.0' }));
    await ada.page.evaluate(() => window.parley.client.join('release'));
    await lin.page.evaluate(() => window.parley.client.createChannel({ id: 'design', name: 'design', kind: 'public', topic: 'Look and feel' }));
    await ada.page.evaluate(() => window.parley.client.join('design'));
    await ada.page.evaluate(() => window.parley.client.openDm('linus'));
    await lin.open('release');
    await ada.open('release');

    await ada.send('Morning! The release build is green on all three platforms.');
    await lin.waitDelivered(['Morning! The release build is green on all three platforms.']);
    await lin.send('Great. Did the reconnect fix make it in? Laptops waking from sleep were losing messages.');
    await ada.waitDelivered(['Great. Did the reconnect fix make it in? Laptops waking from sleep were losing messages.']);
    const msg = ada.page.locator('#messages article.msg', { has: ada.page.locator('.text', { hasText: 'reconnect fix' }) });
    await msg.hover();
    await msg.locator('.act-reply').click();
    await ada.send('Yes: the client checks the socket when the tab comes back and resyncs from the last seq. Nothing lost, nothing doubled.');
    await lin.waitDelivered(['Yes: the client checks the socket when the tab comes back and resyncs from the last seq. Nothing lost, nothing doubled.']);
    const reply = lin.page.locator('#messages article.msg', { has: lin.page.locator('.text', { hasText: 'Nothing lost' }) });
    await reply.hover();
    await reply.locator('.act-react').click();
    await lin.page.click('#messages .picker button:has-text("🎉")');
    await ada.page.waitForSelector('#messages .reaction[data-emoji="🎉"]');
    await lin.send('Ship it 🚀');
    await ada.waitDelivered(['Ship it 🚀']);
    const ship = ada.page.locator('#messages article.msg', { has: ada.page.locator('.text', { hasText: 'Ship it' }) });
    await ship.hover();
    await ship.locator('.act-react').click();
    await ada.page.click('#messages .picker button:has-text("👍")');
    await lin.page.waitForSelector('#messages .reaction[data-emoji="👍"]');
    // Something unread elsewhere, and Linus typing.
    await lin.open('design');
    await lin.send('New icons are in the design channel when you have a minute.');
    await ada.page.waitForSelector('.channel[data-channel="design"] .badge');
    await lin.open('release');
    await lin.type('Tagging v1.0 now');
    await ada.waitText('#typing', 'Linus is typing');
    await ada.page.mouse.move(0, 0);

    const out = [path.join(process.env.PARLEY_BUILD_DIR || require('os').tmpdir(), 'e2e-screenshot.png')];
    if (process.env.E2E_SCREENSHOT) out.push(path.resolve(process.env.E2E_SCREENSHOT));
    for (const p of out) {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      await ada.page.screenshot({ path: p });
    }
    ctx.log(`screenshot: ${out.join(', ')}`);
  },
};
