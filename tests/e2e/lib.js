// lib.js — helpers for the browser end-to-end tests: launch Debian's
// chromium headless through playwright-core, open a signed-in user's page,
// and read and drive the UI the way a person would (type, press Enter,
// read what the page shows). Waits are on page state, never fixed sleeps.
//
// Not a test framework: run.js runs the scenarios; each scenario is a
// plain async function that throws on failure.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');
const { request } = require('../js/lib/parley');

const CHROMIUM = process.env.PARLEY_CHROMIUM || '/usr/bin/chromium';

async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (scripts/install-deps.sh test) or set PARLEY_CHROMIUM`);
  }
  // launch() makes a fresh temporary profile (--user-data-dir) itself and
  // deletes it on close.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

function tmpDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// Polls fn until it returns a truthy value (or throws the last error) —
// for conditions that live in Node, outside the page.
async function until(fn, { timeoutMs = 10000, what = 'condition', everyMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// A person using the web UI in their own browser context (own storage).
class User {
  constructor(name, context, page, baseUrl) {
    this.name = name;
    this.id = name.toLowerCase();
    this.context = context;
    this.page = page;
    this.baseUrl = baseUrl;
    this.errors = [];
    this.dialogs = [];
    this._watch(page);
  }

  _watch(page) {
    page.on('pageerror', (e) => this.errors.push(`${this.name}: page error: ${e.message}`));
    page.on('dialog', (d) => {
      this.dialogs.push(`${d.type()}: ${d.message()}`);
      d.dismiss().catch(() => {});
    });
    page.on('console', (m) => {
      if (process.env.E2E_VERBOSE) console.log(`  [${this.name}] ${m.type()}: ${m.text()}`);
    });
  }

  // Opens the UI in a new context and signs in by name (open mode).
  static async open(browser, baseUrl, name, { context } = {}) {
    const ctx = context || (await browser.newContext({ viewport: { width: 1100, height: 720 } }));
    const page = await ctx.newPage();
    const u = new User(name, ctx, page, baseUrl);
    await page.goto(baseUrl + '/');
    await page.fill('#signin-name', name);
    await page.click('#signin-form button[type=submit]');
    await u.waitConnected();
    await u.waitActive('general');
    return u;
  }

  // Another tab of the same user (same context, so same storage and
  // session): it signs itself in from the saved session.
  async newTab(url = this.baseUrl + '/') {
    const page = await this.context.newPage();
    const tab = new User(this.name, this.context, page, this.baseUrl);
    await page.goto(url);
    await tab.waitConnected();
    return tab;
  }

  async waitConnected(timeoutMs = 15000) {
    await this.page.waitForFunction(() => window.parley && window.parley.client && window.parley.client.connected && window.parley.connection.state === 'connected', null, { timeout: timeoutMs });
  }

  async waitActive(channel, timeoutMs = 10000) {
    await this.page.waitForFunction((c) => window.parley.active === c, channel, { timeout: timeoutMs });
  }

  async open(channel) {
    await this.page.click(`.channel[data-channel="${channel}"]`);
    await this.waitActive(channel);
  }

  async type(text) {
    await this.page.fill('#composer-input', '');
    await this.page.type('#composer-input', text, { delay: 5 });
  }

  // Types and presses Enter, as a person would.
  async send(text) {
    await this.page.fill('#composer-input', text);
    await this.page.press('#composer-input', 'Enter');
  }

  // What the open channel shows: [{text, state, author, seq, clientId}].
  async messages() {
    return this.page.$$eval('#messages article.msg', (nodes) =>
      nodes.map((n) => ({
        text: (n.querySelector('.text') || {}).textContent || '',
        state: n.dataset.state,
        author: n.dataset.author,
        seq: n.dataset.seq ? Number(n.dataset.seq) : null,
        clientId: n.dataset.clientId || null,
        error: (n.querySelector('.msg-error .error-text') || {}).textContent || null,
      })),
    );
  }

  // Waits until the page shows every text of `texts`, sent (committed), in
  // this order and each exactly once; returns the shown messages.
  async waitDelivered(texts, { timeoutMs = 15000 } = {}) {
    await this.page.waitForFunction(
      (want) => {
        const shown = [...document.querySelectorAll('#messages article.msg')].map((n) => ({
          text: (n.querySelector('.text') || {}).textContent,
          state: n.dataset.state,
        }));
        const mine = shown.filter((m) => want.includes(m.text));
        return mine.length === want.length && mine.every((m, i) => m.text === want[i] && m.state === 'sent');
      },
      texts,
      { timeout: timeoutMs, polling: 50 },
    ).catch(async (e) => {
      const shown = (await this.messages()).filter((m) => texts.includes(m.text));
      throw new Error(`${this.name}: expected ${JSON.stringify(texts)} delivered in order, page shows ${JSON.stringify(shown)} (${e.message.split('\n')[0]})`);
    });
    return this.messages();
  }

  // Waits until the element's text matches `want` (a RegExp or a substring).
  async waitText(selector, want, { timeoutMs = 10000, what } = {}) {
    const re = want instanceof RegExp ? [want.source, want.flags] : null;
    await this.page
      .waitForFunction(
        ([sel, src, flags, sub]) => {
          const n = document.querySelector(sel);
          if (!n) return false;
          return src !== null ? new RegExp(src, flags).test(n.textContent) : n.textContent.includes(sub);
        },
        [selector, re ? re[0] : null, re ? re[1] : null, re ? null : want],
        { timeout: timeoutMs, polling: 50 },
      )
      .catch(async (e) => {
        const t = await this.page.$eval(selector, (n) => n.textContent).catch(() => '(missing)');
        throw new Error(`${this.name}: ${what || selector}: wanted ${want}, page shows ${JSON.stringify(t)} (${e.message.split('\n')[0]})`);
      });
  }

  // The page's connection banner: {hidden, state, queued, text}.
  async banner() {
    return this.page.$eval('#banner', (b) => ({ hidden: b.hidden, state: b.dataset.state, queued: Number(b.dataset.queued || 0), text: b.textContent }));
  }

  // Emulates the tab going to the background or coming back (headless
  // pages are always visible; the page sees what a hidden tab sees).
  async setVisible(visible) {
    await this.page.evaluate((v) => {
      const state = v ? 'visible' : 'hidden';
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => !v });
      document.dispatchEvent(new Event('visibilitychange'));
    }, visible);
  }

  check() {
    if (this.errors.length) throw new Error(this.errors.join('\n'));
  }

  async close() {
    await this.context.close().catch(() => {});
  }
}

// Every message of a channel as the server has it (oldest first), read by a
// separate Node client: what was really committed, whatever pages show.
async function serverMessages(server, channel = 'general') {
  const { socket } = await server.connect({ user: 'auditor', name: 'Auditor' });
  try {
    const out = [];
    let before;
    for (;;) {
      const r = await request(socket, 'history:get', before ? { channel, before, limit: 100 } : { channel, limit: 100 });
      if (!r.ok) throw new Error(`history:get ${channel}: ${JSON.stringify(r.error)}`);
      out.unshift(...r.messages);
      if (!r.hasMore || !r.messages.length) return out;
      before = r.messages[0].seq;
    }
  } finally {
    socket.disconnect();
  }
}

// Asserts that the server holds each of texts exactly once, in this order.
async function assertCommittedOnce(server, texts, channel = 'general') {
  const all = await serverMessages(server, channel);
  const got = all.filter((m) => texts.includes(m.text)).map((m) => m.text);
  if (JSON.stringify(got) !== JSON.stringify(texts)) {
    throw new Error(`server history of ${channel}: expected ${JSON.stringify(texts)} once each in order, found ${JSON.stringify(got)}`);
  }
}

module.exports = { launchBrowser, User, until, tmpDir, serverMessages, assertCommittedOnce };
