// run.js — the browser end-to-end suite: starts `parley serve` (serving
// web/ and the socket.io bundle), launches chromium headless once, and runs
// the scenarios in tests/e2e/scenarios/ in order, each with fresh users and
// browser contexts. Prints one "ok"/"not ok" line per scenario and exits 1
// if any failed. tests/js/50-e2e-browser.js is its ctest entry.
//
//   E2E_ONLY=2,7          run only these scenarios
//   E2E_BLACKHOLE_MS=n    how long scenario 7 keeps the socket dead (60000)
//   E2E_SCREENSHOT=path   also write the two-users screenshot there (the
//                         README's docs/screenshot.png is made this way);
//                         it always goes to $PARLEY_BUILD_DIR/e2e-screenshot.png
//   E2E_VERBOSE=1         echo the pages' console
'use strict';
const fs = require('fs');
const path = require('path');
const { launchBrowser, User } = require('./lib');
const { startParley } = require('../js/lib/parley');

const SOURCE = process.env.PARLEY_SOURCE_DIR || path.resolve(__dirname, '..', '..');
const SUITE_LIMIT_MS = 290000;

function serverArgs(extra = []) {
  return ['--web-root', path.join(SOURCE, 'web'), '--client-dir', path.join(SOURCE, 'node_modules', 'socket.io-client', 'dist'), ...extra];
}

function loadScenarios() {
  const dir = path.join(__dirname, 'scenarios');
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d\d-.*\.js$/.test(f))
    .sort()
    .map((f) => require(path.join(dir, f)));
}

async function main() {
  const only = (process.env.E2E_ONLY || '').split(',').filter(Boolean).map(Number);
  const started = Date.now();
  const guard = setTimeout(() => {
    console.log(`not ok - the suite did not finish within ${SUITE_LIMIT_MS / 1000} s`);
    process.exit(1);
  }, SUITE_LIMIT_MS);
  guard.unref();

  const server = await startParley({ args: serverArgs() });
  const browser = await launchBrowser();
  console.log(`e2e: chromium ${browser.version()}, server ${server.url}`);
  const results = [];
  for (const sc of loadScenarios()) {
    if (only.length && !only.includes(sc.id)) continue;
    const cleanups = [];
    const users = [];
    const ctx = {
      browser,
      server,
      source: SOURCE,
      serverArgs,
      log: (m) => console.log(`  ${m}`),
      cleanup: (f) => cleanups.push(f),
      // A signed-in user on the server's page (or baseUrl, e.g. a proxy).
      async user(name, baseUrl = server.url) {
        const u = await User.open(browser, baseUrl, name);
        users.push(u);
        return u;
      },
      track(u) {
        users.push(u);
        return u;
      },
    };
    const t0 = Date.now();
    let error = null;
    try {
      await sc.run(ctx);
      for (const u of users) u.check();
    } catch (e) {
      error = e;
    }
    for (const f of cleanups.reverse()) {
      try {
        await f();
      } catch (e) {
        if (!error) error = e;
      }
    }
    for (const u of users) await u.close();
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    if (error) {
      console.log(`not ok - ${sc.id} ${sc.title} (${secs} s)\n  ${(error.stack || String(error)).split('\n').join('\n  ')}`);
      const tail = server.stderr().split('\n').slice(-15).join('\n  ');
      if (tail.trim()) console.log(`  server log (last lines):\n  ${tail}`);
    } else {
      console.log(`ok - ${sc.id} ${sc.title} (${secs} s)`);
    }
    results.push({ id: sc.id, ok: !error });
  }
  await browser.close();
  await server.stop();
  const failed = results.filter((r) => !r.ok).length;
  console.log(`e2e: ${results.length - failed} passed, ${failed} failed, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return failed === 0;
}

module.exports = { main, serverArgs };

if (require.main === module) {
  main().then(
    (ok) => process.exit(ok ? 0 : 1),
    (e) => {
      console.log(`not ok - e2e suite: ${e.stack || e}`);
      process.exit(1);
    },
  );
}
