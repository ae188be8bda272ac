#!/usr/bin/env node
'use strict';
// Reference WebSocket echo server on the `ws` package, with the same command
// line as examples/ws-echo. The conformance suites run against it with
// --against-ref to check themselves: a case that fails here is suspect in
// the suite before it is suspect in Parley. Not a model of Parley's
// behaviour: `ws` has no fragment-count limit, and fails UTF-8 only once a
// whole message has arrived.
//
//   ref-ws-echo.js --port N [--host H] [--max-message BYTES]
//                  [--max-fragments N (accepted, not enforced)]
//                  [--idle-timeout-ms N] [--allowed-origins a,b]

const { WebSocketServer } = require('ws');

function parseArgs(argv) {
  const o = { host: '127.0.0.1', port: 0, maxMessage: 16 * 1024 * 1024, idleTimeoutMs: 0, allowedOrigins: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--port') o.port = Number(v());
    else if (a === '--host') o.host = v();
    else if (a === '--max-message') o.maxMessage = Number(v());
    else if (a === '--max-fragments') o.maxFragments = Number(v());
    else if (a === '--idle-timeout-ms') o.idleTimeoutMs = Number(v());
    else if (a === '--allowed-origins') o.allowedOrigins = v().split(',').filter(Boolean);
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

function log(fields) {
  process.stderr.write(JSON.stringify({ ts: new Date().toISOString(), ...fields }) + '\n');
}

function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`ref-ws-echo: ${e.message}\n`);
    process.exit(2);
  }
  const wss = new WebSocketServer({
    host: o.host,
    port: o.port,
    maxPayload: o.maxMessage,
    // threshold 0: compress every message, so the suite's inflater sees
    // small messages too.
    perMessageDeflate: { threshold: 0 },
    verifyClient: o.allowedOrigins
      ? (info, cb) => {
          const origin = info.req.headers.origin;
          if (origin === undefined || o.allowedOrigins.includes(origin)) cb(true);
          else cb(false, 403, 'origin not allowed');
        }
      : undefined,
  });
  wss.on('listening', () => log({ level: 'info', msg: 'listening', host: o.host, port: wss.address().port }));
  wss.on('connection', (ws, req) => {
    ws.on('error', () => {}); // ws closes with the right code itself
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    if (o.idleTimeoutMs > 0) {
      let timer = null;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => ws.close(1001, 'idle timeout'), o.idleTimeoutMs);
      };
      req.socket.on('data', arm);
      ws.on('close', () => clearTimeout(timer));
      arm();
    }
  });
  const stop = () => {
    wss.close();
    for (const c of wss.clients) c.terminate();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
