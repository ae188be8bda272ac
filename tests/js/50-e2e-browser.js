// 50-e2e-browser.js — the browser end-to-end suite (issue 7) as one ctest
// entry: the web UI and web/parley-client.js in Debian's chromium, headless,
// against the real `parley serve`. The scenarios are in tests/e2e/scenarios/;
// tests/e2e/run.js says how to run a subset.
'use strict';
const path = require('path');
const { main } = require(path.join(__dirname, '..', 'e2e', 'run'));

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (e) => {
    console.log(`not ok - e2e suite: ${e.stack || e}`);
    process.exit(1);
  },
);
