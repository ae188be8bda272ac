'use strict';
// Which WebSocket echo server a suite drives: examples/ws-echo from
// PARLEY_BUILD_DIR (the default), or the reference server on the `ws`
// package when the suite is run with --against-ref (or PARLEY_WS_TARGET=ref),
// which is how the suites check themselves.

const path = require('path');
const proc = require('./proc');

const REF_SCRIPT = path.join(__dirname, 'ref-ws-echo.js');

function targetKind(argv = process.argv) {
  if (argv.includes('--against-ref') || process.env.PARLEY_WS_TARGET === 'ref') return 'ref';
  return 'ws-echo';
}

// opts: maxMessage, maxFragments, idleTimeoutMs, allowedOrigins (array),
// extraArgs. Resolves to the proc handle plus { kind, url }.
async function startEchoServer(kind, opts = {}) {
  const args = ['--host', '127.0.0.1'];
  if (opts.maxMessage !== undefined) args.push('--max-message', String(opts.maxMessage));
  if (opts.maxFragments !== undefined) args.push('--max-fragments', String(opts.maxFragments));
  if (opts.idleTimeoutMs !== undefined) args.push('--idle-timeout-ms', String(opts.idleTimeoutMs));
  if (opts.allowedOrigins) args.push('--allowed-origins', opts.allowedOrigins.join(','));
  if (opts.extraArgs) args.push(...opts.extraArgs);
  let h;
  if (kind === 'ref') {
    h = await proc.startOnFreePort(REF_SCRIPT, { node: true, args, name: 'ref-ws-echo' });
  } else {
    const bin = proc.findBinary('ws-echo');
    if (!bin) {
      throw new Error(
        `ws-echo not found in ${proc.buildDir()}: build it, set PARLEY_BUILD_DIR, ` +
          'or run with --against-ref to check the suite against the `ws` reference server'
      );
    }
    h = await proc.startOnFreePort(bin, { args, name: 'ws-echo' });
  }
  h.kind = kind;
  h.url = `ws://127.0.0.1:${h.port}/`;
  return h;
}

module.exports = { targetKind, startEchoServer };
