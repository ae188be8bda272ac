'use strict';
// fanout.js — the fanout benchmark application on Socket.IO 4.8 for Node,
// the peer examples/fanout is compared with. Same events, same answers:
//   join(room)          the socket joins the room; ack(true) when asked
//   say(room, payload)  `said`(payload) to the room except the sender;
//                       ack(true) when asked
// Same Engine.IO settings as examples/fanout: Node's defaults (pingInterval
// 25 s, pingTimeout 20 s), maxPayload 1,000,000 bytes, no compression.
//
// usage: node bench/peers/fanout.js [--port N] [--host ADDR]
// Prints "listening on http://HOST:PORT" once it accepts connections.
const http = require('http');
const path = require('path');

function requireFromRepo(name) {
  try {
    return require(name);
  } catch (_) {
    return require(path.join(__dirname, '..', '..', 'node_modules', name));
  }
}
const { Server } = requireFromRepo('socket.io');

function flag(name, def) {
  const i = process.argv.indexOf('--' + name);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  const env = process.env['PARLEY_' + name.toUpperCase().replace(/-/g, '_')];
  return env !== undefined ? env : def;
}

const host = flag('host', '127.0.0.1');
const port = Number(flag('port', '3000'));

const server = http.createServer((req, res) => {
  res.writeHead(404, { 'Content-Type': 'application/json' });
  res.end('{"error":"not found"}');
});
const io = new Server(server, {
  path: '/socket.io/',
  serveClient: false,
  maxHttpBufferSize: 1e6,
  perMessageDeflate: false,
  httpCompression: false,
});

io.on('connection', (socket) => {
  socket.on('join', (room, ack) => {
    if (typeof room !== 'string') return;
    socket.join(room);
    if (typeof ack === 'function') ack(true);
  });
  socket.on('say', (room, payload, ack) => {
    if (typeof room !== 'string') return;
    socket.to(room).emit('said', payload);
    if (typeof ack === 'function') ack(true);
  });
});

server.listen(port, host, () => {
  const a = server.address();
  console.log(`listening on http://${a.address}:${a.port} (socket.io ${require(
    path.join(path.dirname(require.resolve('socket.io')), '..', 'package.json')).version}, node ${process.version})`);
});

function shutdown() {
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
