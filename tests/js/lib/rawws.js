'use strict';
// A WebSocket client on a raw TCP socket, for conformance and limit tests:
// it sends whatever bytes a test asks for (reserved bits, reserved opcodes,
// unmasked or oversized control frames, frames split at any byte), and
// reads the server's frames strictly, recording every event and every
// protocol violation by the server. Masking and permessage-deflate are our
// own (see pmd.js). Not a client for applications: it never hides or
// repairs anything.

const crypto = require('crypto');
const { EventEmitter } = require('events');
const net = require('net');
const { isUtf8 } = require('buffer');
const pmd = require('./pmd');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 };

function toBuf(x) {
  if (x === undefined || x === null) return Buffer.alloc(0);
  return Buffer.isBuffer(x) ? x : Buffer.from(x);
}

// payload repeated up to len bytes (Autobahn's "payload_len").
function repeatTo(pattern, len) {
  const p = toBuf(pattern);
  const out = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i += p.length) p.copy(out, i, 0, Math.min(p.length, len - i));
  return out;
}

function mask(payload, key) {
  const out = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i++) out[i] = payload[i] ^ key[i & 3];
  return out;
}

// Encode one frame. opts: opcode, fin (true), rsv (0..7, RSV1 = 4),
// payload, mask (true), maskKey (random).
function encodeFrame(opts) {
  const { opcode, fin = true, rsv = 0, mask: doMask = true } = opts;
  const payload = toBuf(opts.payload);
  const len = payload.length;
  let ext = 0;
  if (len > 0xffff) ext = 8;
  else if (len > 125) ext = 2;
  const head = Buffer.alloc(2 + ext + (doMask ? 4 : 0));
  head[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  head[1] = (doMask ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(len, 2);
  else if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
  if (!doMask) return Buffer.concat([head, payload]);
  const key = opts.maskKey || crypto.randomBytes(4);
  key.copy(head, 2 + ext);
  return Buffer.concat([head, mask(payload, key)]);
}

function closePayload(code, reason) {
  if (code === undefined || code === null) return toBuf(reason);
  const r = toBuf(reason);
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  return b;
}

function validCloseCode(code) {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

class RawWs extends EventEmitter {
  constructor(socket) {
    super();
    this.socket = socket;
    this.status = null; // HTTP status of the handshake response
    this.responseHeaders = {};
    this.handshakeError = null;
    this.codec = null; // permessage-deflate, when negotiated
    this.events = []; // { type: message|ping|pong|close|violation, ... , t }
    this.violations = [];
    this.closeSent = null; // { code, t }
    this.closeReceived = null; // { code, reason, t, first }
    this.tcpClosed = null; // { t, by: 'server'|'client' }
    this.droppedByMe = false;
    this.socketError = null;
    this._chunks = [];
    this._len = 0;
    this._msg = null; // message being reassembled
    this._chain = Promise.resolve(); // keeps events in wire order across async inflate
    this._closedWaiters = [];
    this.maxMessage = 64 * 1024 * 1024;
    this.autoPong = true; // answer the server's pings, as any client would
  }

  // Open a TCP connection and do the opening handshake.
  //   host, port, path ('/'), origin, headers ({}), deflate: array of offers
  //   (pmd.formatOffer) or null, extensionsHeader (raw override),
  //   timeoutMs (5000), autoPong (true: answer pings)
  // Resolves once the response head is read. For a non-101 answer the
  // instance has .status and .responseHeaders and the socket is closed.
  static connect(opts) {
    const { host = '127.0.0.1', port, path = '/', origin, headers = {}, deflate = null, timeoutMs = 5000 } = opts;
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.setNoDelay(true);
      const ws = new RawWs(socket);
      if (opts.autoPong === false) ws.autoPong = false;
      const key = crypto.randomBytes(16).toString('base64');
      let head = Buffer.alloc(0);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`handshake with ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const fail = (e) => {
        clearTimeout(timer);
        socket.destroy();
        reject(e);
      };
      socket.once('error', fail);
      socket.once('connect', () => {
        const lines = [
          `GET ${path} HTTP/1.1`,
          `Host: ${host}:${port}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${key}`,
          'Sec-WebSocket-Version: 13',
        ];
        if (origin) lines.push(`Origin: ${origin}`);
        const ext = opts.extensionsHeader || (deflate && deflate.length ? pmd.formatOffers(deflate) : null);
        if (ext) lines.push(`Sec-WebSocket-Extensions: ${ext}`);
        for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
        socket.write(lines.join('\r\n') + '\r\n\r\n');
      });
      const onHead = (d) => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (head.length > 16384) fail(new Error('handshake response head too large'));
          return;
        }
        clearTimeout(timer);
        socket.removeListener('data', onHead);
        socket.removeListener('error', fail);
        const text = head.subarray(0, end).toString('latin1');
        const rest = head.subarray(end + 4);
        const [statusLine, ...hl] = text.split('\r\n');
        const m = /^HTTP\/1\.1 (\d{3})/.exec(statusLine);
        ws.status = m ? Number(m[1]) : null;
        ws.statusLine = statusLine;
        for (const l of hl) {
          const i = l.indexOf(':');
          if (i > 0) {
            const k = l.slice(0, i).trim().toLowerCase();
            const v = l.slice(i + 1).trim();
            ws.responseHeaders[k] = k in ws.responseHeaders ? `${ws.responseHeaders[k]}, ${v}` : v;
          }
        }
        if (ws.status !== 101) {
          ws.responseBody = rest;
          socket.destroy();
          return resolve(ws);
        }
        const h = ws.responseHeaders;
        const expect = crypto.createHash('sha1').update(key + GUID).digest('base64');
        if ((h.upgrade || '').toLowerCase() !== 'websocket') ws.handshakeError = `Upgrade header is "${h.upgrade}"`;
        else if (!/(^|,)\s*upgrade\s*(,|$)/i.test(h.connection || '')) ws.handshakeError = `Connection header is "${h.connection}"`;
        else if (h['sec-websocket-accept'] !== expect) ws.handshakeError = `Sec-WebSocket-Accept is "${h['sec-websocket-accept']}", expected "${expect}"`;
        else if (h['sec-websocket-protocol'] !== undefined) ws.handshakeError = 'server chose a subprotocol we did not offer';
        if (!ws.handshakeError) {
          try {
            const got = pmd.acceptResponse(deflate || [], h['sec-websocket-extensions']);
            if (got) ws.codec = pmd.codecFor(got);
          } catch (e) {
            ws.handshakeError = `permessage-deflate negotiation: ${e.message}`;
          }
        }
        if (ws.handshakeError) {
          socket.destroy();
          return resolve(ws);
        }
        ws._attach();
        if (rest.length) ws._onData(rest);
        resolve(ws);
      };
      socket.on('data', onHead);
    });
  }

  _attach() {
    const s = this.socket;
    s.on('data', (d) => this._onData(d));
    s.on('error', (e) => {
      this.socketError = e;
    });
    s.on('close', () => {
      // Wait for the event chain so "closed" is seen after every message.
      this._chain = this._chain.then(() => {
        if (!this.tcpClosed) this.tcpClosed = { t: Date.now(), by: this.droppedByMe ? 'client' : 'server' };
        this.emit('tcpclose');
        for (const w of this._closedWaiters.splice(0)) w(true);
      });
    });
  }

  get open() {
    return !this.tcpClosed && !this.socket.destroyed;
  }

  _record(ev) {
    ev.t = Date.now();
    this.events.push(ev);
    if (ev.type === 'violation') this.violations.push(ev.detail);
    this.emit('event', ev);
  }

  _violation(detail) {
    this._record({ type: 'violation', detail });
  }

  _take(n) {
    // Return the first n buffered bytes as one Buffer, consuming them.
    let out;
    if (n === 0) return Buffer.alloc(0);
    if (this._chunks[0].length >= n) {
      out = this._chunks[0].subarray(0, n);
      if (this._chunks[0].length === n) this._chunks.shift();
      else this._chunks[0] = this._chunks[0].subarray(n);
    } else {
      const all = Buffer.concat(this._chunks, this._len);
      out = all.subarray(0, n);
      this._chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this._len -= n;
    return out;
  }

  _peek(n) {
    if (this._chunks[0].length < n) this._chunks = [Buffer.concat(this._chunks, this._len)];
    return this._chunks[0];
  }

  _onData(d) {
    this._chunks.push(d);
    this._len += d.length;
    for (;;) {
      if (this._len < 2) return;
      const h = this._peek(Math.min(this._len, 14));
      const b0 = h[0];
      const b1 = h[1];
      let len = b1 & 0x7f;
      let hl = 2;
      if (len === 126) {
        if (this._len < 4) return;
        len = this._peek(4).readUInt16BE(2);
        hl = 4;
        if (len < 126) this._violation(`non-minimal 16-bit length ${len}`);
      } else if (len === 127) {
        if (this._len < 10) return;
        const big = this._peek(10).readBigUInt64BE(2);
        if (big >> 63n) this._violation('64-bit length with the top bit set');
        if (big < 65536n) this._violation(`non-minimal 64-bit length ${big}`);
        if (big > BigInt(this.maxMessage)) {
          this._violation(`frame of ${big} bytes, beyond what the suite accepts`);
          return this.destroy();
        }
        len = Number(big);
        hl = 10;
      }
      const masked = (b1 & 0x80) !== 0;
      if (masked) hl += 4;
      if (this._len < hl + len) return;
      const hdr = this._take(hl);
      let payload = this._take(len);
      if (masked) {
        this._violation('server sent a masked frame');
        payload = mask(payload, hdr.subarray(hl - 4, hl));
      }
      this._frame({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, payload });
    }
  }

  _frame(f) {
    if (this._closeSeen) {
      this._violation(`frame (opcode ${f.opcode}) after the server's close frame`);
      return;
    }
    const control = f.opcode >= 8;
    if (![0, 1, 2, 8, 9, 10].includes(f.opcode)) this._violation(`reserved opcode ${f.opcode}`);
    if (f.rsv & 3) this._violation(`RSV bits ${f.rsv.toString(2).padStart(3, '0')} set`);
    if (f.rsv & 4) {
      if (!this.codec) this._violation('RSV1 set without permessage-deflate');
      else if (control || f.opcode === 0) this._violation(`RSV1 set on ${control ? 'a control' : 'a continuation'} frame`);
    }
    if (control) {
      if (!f.fin) this._violation(`fragmented control frame (opcode ${f.opcode})`);
      if (f.payload.length > 125) this._violation(`control frame payload of ${f.payload.length} bytes`);
      if (f.opcode === OP.PING) {
        this._queue(() => {
          this._record({ type: 'ping', data: f.payload });
          if (this.autoPong && !this.closeSent) this.write(encodeFrame({ opcode: OP.PONG, payload: f.payload })).catch(() => {});
        });
      } else if (f.opcode === OP.PONG) {
        this._queue(() => this._record({ type: 'pong', data: f.payload }));
      } else if (f.opcode === OP.CLOSE) {
        this._onClose(f.payload);
      }
      return;
    }
    if (f.opcode === OP.CONT) {
      if (!this._msg) return this._violation('continuation frame with no message in progress');
      this._msg.parts.push(f.payload);
      this._msg.size += f.payload.length;
    } else {
      if (this._msg) this._violation(`new data frame (opcode ${f.opcode}) inside a fragmented message`);
      this._msg = { opcode: f.opcode, compressed: (f.rsv & 4) !== 0, parts: [f.payload], size: f.payload.length, frames: 0 };
    }
    this._msg.frames++;
    if (!f.fin) return;
    const msg = this._msg;
    this._msg = null;
    let data = Buffer.concat(msg.parts, msg.size);
    this._queue(async () => {
      if (msg.compressed) {
        try {
          data = await this.codec.decompressor.decompress(data, this.maxMessage);
        } catch (e) {
          this._violation(`cannot inflate the server's message: ${e.message}`);
          return;
        }
      }
      if (msg.opcode === OP.TEXT && !isUtf8(data)) this._violation('server sent a text message that is not UTF-8');
      this._record({ type: 'message', binary: msg.opcode === OP.BINARY, data, frames: msg.frames, compressed: msg.compressed });
    });
  }

  _onClose(p) {
    this._closeSeen = true;
    let code = null;
    let reason = Buffer.alloc(0);
    if (p.length === 1) this._violation('close frame with a 1-byte payload');
    if (p.length >= 2) {
      code = p.readUInt16BE(0);
      reason = p.subarray(2);
      if (!validCloseCode(code)) this._violation(`server sent close code ${code}, which must not be sent`);
      if (!isUtf8(reason)) this._violation('close reason is not UTF-8');
    }
    this._queue(() => {
      this.closeReceived = { code, reason: reason.toString(), t: Date.now(), first: !this.closeSent };
      this._record({ type: 'close', code, reason: reason.toString() });
      if (!this.closeSent) {
        // Answer as a normal endpoint would: echo the code.
        this.closeSent = { code, t: Date.now(), reply: true };
        this.write(encodeFrame({ opcode: OP.CLOSE, payload: closePayload(code === null ? undefined : code) })).catch(() => {});
      }
    });
  }

  _queue(fn) {
    this._chain = this._chain.then(fn).catch((e) => this._violation(`suite error: ${e.stack}`));
  }

  // Write bytes; with chop, in pieces of that size, each flushed before the
  // next. Resolves when written (or when the socket is gone).
  async write(buf, { chop = 0 } = {}) {
    if (!chop || chop >= buf.length) return this._write(buf);
    for (let i = 0; i < buf.length; i += chop) {
      if (this.socket.destroyed) return;
      await this._write(buf.subarray(i, i + chop));
    }
  }

  _write(buf) {
    return new Promise((resolve) => {
      if (this.socket.destroyed || !this.socket.writable) return resolve(false);
      this.socket.write(buf, (err) => resolve(!err));
    });
  }

  frame(opts) {
    return encodeFrame(opts);
  }

  // Encode and write one frame (see encodeFrame); chop as for write().
  sendFrame(opts) {
    return this.write(encodeFrame(opts), { chop: opts.chop });
  }

  // Send a close frame with optional code and reason; records that we
  // started (or answered) the closing handshake.
  sendClose(code, reason, opts = {}) {
    if (!this.closeSent) this.closeSent = { code, t: Date.now() };
    return this.sendFrame({ opcode: OP.CLOSE, payload: closePayload(code, reason), ...opts });
  }

  // Send a whole message: compressed when deflate was negotiated (unless
  // compress: false), split into frames of fragSize payload bytes when
  // fragSize > 0, each frame written with chop.
  async sendMessage(data, { binary = false, fragSize = 0, compress = !!this.codec, chop = 0 } = {}) {
    let payload = toBuf(data);
    if (compress) payload = await this.codec.compressor.compress(payload);
    const opcode = binary ? OP.BINARY : OP.TEXT;
    const frames = [];
    if (!fragSize || payload.length <= fragSize) {
      frames.push(encodeFrame({ opcode, rsv: compress ? 4 : 0, payload }));
    } else {
      for (let i = 0; i < payload.length; i += fragSize) {
        frames.push(
          encodeFrame({
            opcode: i === 0 ? opcode : OP.CONT,
            rsv: i === 0 && compress ? 4 : 0,
            fin: i + fragSize >= payload.length,
            payload: payload.subarray(i, i + fragSize),
          })
        );
      }
    }
    return this.write(Buffer.concat(frames), { chop });
  }

  // Resolve with the first event (recorded from now on, or already recorded
  // when `past` is true) that pred accepts, or null after timeoutMs or when
  // the TCP connection closes first.
  // With since: n, events recorded from index n on count too.
  waitFor(pred, timeoutMs, { past = false, since = null } = {}) {
    const from = past ? 0 : since;
    if (from !== null) {
      const hit = this.events.slice(from).find(pred);
      if (hit) return Promise.resolve(hit);
    }
    return new Promise((resolve) => {
      const done = (v) => {
        clearTimeout(timer);
        this.removeListener('event', onEv);
        this.removeListener('tcpclose', onClose);
        resolve(v);
      };
      const onEv = (ev) => {
        if (pred(ev)) done(ev);
      };
      const onClose = () => done(null);
      const timer = setTimeout(() => done(null), timeoutMs);
      this.on('event', onEv);
      if (this.tcpClosed) return done(null);
      this.once('tcpclose', onClose);
    });
  }

  // Resolve true once the TCP connection is closed, false after timeoutMs.
  waitClosed(timeoutMs) {
    if (this.tcpClosed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = this._closedWaiters.indexOf(w);
        if (i >= 0) this._closedWaiters.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      const w = (v) => {
        clearTimeout(timer);
        resolve(v);
      };
      this._closedWaiters.push(w);
    });
  }

  // Drop the TCP connection from our side.
  destroy() {
    if (!this.tcpClosed) {
      this.droppedByMe = true;
      this.socket.destroy();
    }
  }
}

module.exports = { RawWs, OP, encodeFrame, closePayload, repeatTo, validCloseCode };
