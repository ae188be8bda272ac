// 9. Markup in user data is shown as text and runs nothing: a message
// `<img src=x onerror=alert(1)>`, a display name, an edited message, a
// channel name and topic, all with markup. Both pages: the text is shown
// verbatim, no <img>/<script> element appears, no dialog opens, the
// onerror flag stays unset.
'use strict';

module.exports = {
  id: 9,
  title: 'a message with <img src=x onerror=alert(1)> shows as text and runs nothing',
  async run(ctx) {
    const pat = await ctx.user('Pat <img src=x onerror=alert(2)>');
    const quin = await ctx.user('Quin');
    const payload = '<img src=x onerror=alert(1)>';
    const flagged = '<img src=x onerror="window.__xss=1">';
    await pat.send(payload);
    await pat.send(flagged);
    await quin.waitDelivered([payload, flagged]);
    await pat.waitDelivered([payload, flagged]);

    // An edit with markup, a channel whose name and topic are markup.
    const mine = await pat.page.$$('#messages article.msg[data-author^="pat"]');
    await mine[mine.length - 1].hover();
    await pat.page.click('#messages article.msg:last-of-type .act-edit');
    await pat.page.fill('#messages .edit-box', '<script>window.__xss=2</script><b>bold?</b>');
    await pat.page.press('#messages .edit-box', 'Enter');
    await quin.waitDelivered([payload, '<script>window.__xss=2</script><b>bold?</b>']);
    const created = await pat.page.evaluate(() => window.parley.client.createChannel({ id: 'markup', name: '<i>x</i><img src=y onerror=alert(3)>', kind: 'public', topic: '<svg onload=alert(4)>' }));
    if (!created.ok) throw new Error('createChannel failed');
    await pat.page.waitForSelector('.channel[data-channel="markup"]');
    await pat.open('markup');
    await pat.waitText('#chat-title', '<i>x</i><img src=y onerror=alert(3)>');
    await pat.waitText('#chat-topic', '<svg onload=alert(4)>');

    for (const u of [pat, quin]) {
      const r = await u.page.evaluate(() => ({
        imgs: document.querySelectorAll('img').length,
        scripts: [...document.querySelectorAll('script')].map((s) => s.getAttribute('src')),
        bold: document.querySelectorAll('#messages b, #messages i, .channel-list i, #chat-title i, #messages svg').length,
        xss: window.__xss || null,
        author: [...document.querySelectorAll('#messages .author')].map((a) => a.textContent),
      }));
      if (r.imgs || r.bold || r.xss || r.scripts.length !== 1 || r.scripts[0] !== 'app.js') throw new Error(`${u.name}: markup became elements: ${JSON.stringify(r)}`);
      if (u === quin && !r.author.includes('Pat <img src=x onerror=alert(2)>')) throw new Error(`${u.name}: display name not shown as text: ${JSON.stringify(r.author)}`);
      if (u.dialogs.length) throw new Error(`${u.name}: dialogs opened: ${u.dialogs.join(', ')}`);
    }
    ctx.log('markup shown verbatim in messages, an edit, a display name, a channel name and topic; no element, no dialog, no flag');
  },
};
