// 11. web/parley-client.js on its own, without our UI (imported by a page
// that is not ours): listeners on window, document, the socket, its
// manager and engine do not grow across reconnects, and close() removes
// every one it added; a reconnect after missed events syncs them in pages
// (channel:sync looping while hasMore) and delivers each once, in seq
// order, and counts them as unread once; a message sent while disconnected
// is persisted in localStorage and delivered once on reconnect; health
// events carry the RTT.
'use strict';

const RECONNECTS = 6;

// Listeners on window and document, as DevTools sees them, without those
// of playwright's own injected script (it adds some while a test waits).
async function domListeners(cdp) {
  const out = {};
  for (const expr of ['window', 'document']) {
    const { result } = await cdp.send('Runtime.evaluate', { expression: expr });
    const { listeners } = await cdp.send('DOMDebugger.getEventListeners', { objectId: result.objectId });
    await cdp.send('Runtime.releaseObject', { objectId: result.objectId });
    const pw = new Set(listeners.filter((l) => l.type.startsWith('__playwright')).map((l) => l.scriptId));
    const ours = listeners.filter((l) => !pw.has(l.scriptId));
    out[expr] = ours.length;
    if (process.env.E2E_VERBOSE) console.log(`  ${expr}: ${JSON.stringify(ours.map((l) => l.type))}`);
  }
  return out;
}

// Listeners registered on socket.io emitters (the socket, its manager, the
// current engine). The bundle is minified, so the registry is found by its
// shape: the object whose keys are "$<event>" -> [listeners].
function emitterCounts() {
  const n = (em) => {
    if (!em) return 0;
    for (const k of Object.keys(em)) {
      const v = em[k];
      if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length && Object.keys(v).every((x) => x.startsWith('$'))) {
        return Object.values(v).reduce((a, l) => a + l.length, 0);
      }
    }
    return 0;
  };
  const c = window.c;
  return { socket: n(c.socket), manager: n(c.socket.io), engine: n(c.socket.io.engine) };
}

module.exports = {
  id: 11,
  title: 'client module alone: no listener growth, clean teardown, paged resync, outbox',
  async run(ctx) {
    const context = await ctx.browser.newContext();
    ctx.cleanup(() => context.close());
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // Any page of the origin will do: /health is JSON, no UI of ours runs.
    await page.goto(ctx.server.url + '/health');
    const cdp = await context.newCDPSession(page);
    // The baseline is taken with both modules loaded: socket.io-client adds
    // two window listeners once per page when its module loads (pagehide,
    // offline), not per client or connection.
    await page.evaluate(() => Promise.all([import('/socket.io/socket.io.esm.min.js'), import('/parley-client.js')]));
    const base = await domListeners(cdp);

    await page.evaluate(async () => {
      const { ParleyClient } = await import('/parley-client.js');
      const c = new ParleyClient({ auth: { user: 'uma', name: 'Uma' }, syncLimit: 2 });
      window.c = c;
      window.got = [];
      window.readies = 0;
      window.healths = [];
      c.on('event', (e) => window.got.push(e));
      c.on('ready', () => window.readies++);
      c.on('health', (h) => window.healths.push(h));
      await c.start();
    });
    await page.waitForFunction(() => window.c.connected && window.readies === 1, null, { timeout: 10000 });
    const counts = () => page.evaluate(emitterCounts);
    const first = { ...(await counts()), ...(await domListeners(cdp)) };
    for (let i = 2; i <= RECONNECTS + 1; i++) {
      await page.evaluate(() => c.reconnect());
      await page.waitForFunction((k) => window.c.connected && window.readies === k, i, { timeout: 10000 });
    }
    const after = { ...(await counts()), ...(await domListeners(cdp)) };
    if (JSON.stringify(first) !== JSON.stringify(after)) throw new Error(`listeners grew over ${RECONNECTS} reconnects: ${JSON.stringify(first)} -> ${JSON.stringify(after)}`);
    ctx.log(`listeners after 1 and ${RECONNECTS + 1} connections: ${JSON.stringify(after)} (window/document before the client: ${JSON.stringify(base)})`);

    // Missed events come back through channel:sync, two per page.
    await page.evaluate(() => {
      window.syncs = 0;
      const emit = c.socket.emit.bind(c.socket);
      c.socket.emit = (ev, ...rest) => {
        if (ev === 'channel:sync') window.syncs++;
        return emit(ev, ...rest);
      };
      c.socket.disconnect();
      window.got = [];
    });
    await page.waitForFunction(() => !window.c.connected, null, { timeout: 5000 });
    await page.evaluate(() => window.c.send('general', 'queued while away'));
    const stored = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('parley:outbox:uma:')).map((k) => JSON.parse(localStorage.getItem(k))));
    if (stored.length !== 1 || stored[0].length !== 1 || stored[0][0].text !== 'queued while away') throw new Error(`outbox in localStorage: ${JSON.stringify(stored)}`);
    const { socket: vic } = await ctx.server.connect({ user: 'vic', name: 'Vic' });
    const missed = [1, 2, 3, 4, 5].map((i) => `missed ${i}`);
    for (const text of missed) {
      const r = await vic.timeout(5000).emitWithAck('message:send', { channel: 'general', clientId: `vic-${text}`, text });
      if (!r.ok) throw new Error(JSON.stringify(r));
    }
    vic.disconnect();
    await page.evaluate(() => c.reconnect());
    await page.waitForFunction(
      (want) => {
        const texts = window.got.filter((e) => e.type === 'message:new').map((e) => e.text);
        return want.every((t) => texts.includes(t));
      },
      [...missed, 'queued while away'],
      { timeout: 10000 },
    );
    const r = await page.evaluate(() => ({
      got: window.got.filter((e) => e.channel === 'general').map((e) => ({ type: e.type, seq: e.seq, text: e.text, source: e.source })),
      syncs: window.syncs,
      outbox: c.outbox.length,
      stored: Object.keys(localStorage).filter((k) => k.startsWith('parley:outbox:')).length,
    }));
    for (let i = 1; i < r.got.length; i++) {
      if (r.got[i].seq !== r.got[i - 1].seq + 1) throw new Error(`events not once and in seq order: ${JSON.stringify(r.got)}`);
    }
    const texts = r.got.filter((e) => e.type === 'message:new').map((e) => e.text);
    if (JSON.stringify(texts.filter((t) => missed.includes(t))) !== JSON.stringify(missed)) throw new Error(`missed messages: ${JSON.stringify(texts)}`);
    if (texts.filter((t) => t === 'queued while away').length !== 1) throw new Error(`queued message delivered ${texts.filter((t) => t === 'queued while away').length} times`);
    if (r.syncs < 3) throw new Error(`expected channel:sync to page (limit 2) at least 3 times, saw ${r.syncs}`);
    if (r.outbox || r.stored) throw new Error(`outbox not emptied: ${JSON.stringify(r)}`);
    ctx.log(`${r.got.length} events after the reconnect, seq ${r.got[0].seq}..${r.got[r.got.length - 1].seq}, ${r.syncs} channel:sync pages`);

    // The missed messages were in ready's unread already: the sync that
    // brings them must not count them twice.
    await page.waitForFunction(() => !window.c._seq.get('general').syncing, null, { timeout: 5000 });
    const unread = await page.evaluate(async () => {
      const listed = (await c.request('channel:list', {})).channels.find((x) => x.id === 'general');
      return { client: c.channels.get('general').unread, server: listed.unread, lastRead: listed.lastRead };
    });
    if (unread.client !== unread.server || unread.server < missed.length) throw new Error(`unread after the resync: ${JSON.stringify(unread)}`);
    ctx.log(`unread after the resync: ${unread.client}, as the server counts`);

    const healths = await page.evaluate(() => window.healths);
    if (!healths.some((h) => h.state === 'healthy' && typeof h.rtt === 'number')) throw new Error(`no healthy health event with an RTT: ${JSON.stringify(healths)}`);

    // Teardown leaves nothing behind.
    await page.evaluate(() => c.close());
    const closed = { ...(await counts()), ...(await domListeners(cdp)) };
    if (closed.window !== base.window || closed.document !== base.document || closed.socket !== 0) {
      throw new Error(`close() left listeners: before ${JSON.stringify(base)}, after close ${JSON.stringify(closed)}`);
    }
    if (errors.length) throw new Error(errors.join('\n'));
    ctx.log(`after close(): ${JSON.stringify(closed)}`);
  },
};
