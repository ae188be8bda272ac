'use strict';
// permessage-deflate (RFC 7692) for the suites' raw WebSocket client:
// writing offers, checking a server's response against them, and a
// compressor and decompressor on Node's zlib (raw deflate, Z_SYNC_FLUSH,
// the 00 00 ff ff tail stripped on send and put back on receive, the LZ77
// window kept or dropped between messages as negotiated). Not a general
// extension framework: permessage-deflate is the only extension we know.

const zlib = require('zlib');

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

// offer: { clientNoContextTakeover, clientMaxWindowBits (true | 8..15),
//          serverNoContextTakeover, serverMaxWindowBits (8..15) }
function formatOffer(offer) {
  let s = 'permessage-deflate';
  if (offer.clientNoContextTakeover) s += '; client_no_context_takeover';
  if (offer.clientMaxWindowBits === true) s += '; client_max_window_bits';
  else if (offer.clientMaxWindowBits) s += `; client_max_window_bits=${offer.clientMaxWindowBits}`;
  if (offer.serverNoContextTakeover) s += '; server_no_context_takeover';
  if (offer.serverMaxWindowBits) s += `; server_max_window_bits=${offer.serverMaxWindowBits}`;
  return s;
}

// The offers as one Sec-WebSocket-Extensions value, in preference order.
function formatOffers(offers) {
  return offers.map(formatOffer).join(', ');
}

// Split an extensions header into [{ name, params: [[key, value|true]] }].
// Quoted values are unquoted. Throws on syntax the RFC does not allow.
function parseExtensions(value) {
  const out = [];
  for (const part of value.split(',')) {
    const items = part.split(';').map((x) => x.trim());
    const name = items.shift();
    if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) throw new Error(`bad extension name "${name}"`);
    const params = [];
    for (const item of items) {
      const m = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*(?:=\s*(.*))?$/.exec(item);
      if (!m) throw new Error(`bad extension parameter "${item}"`);
      let v = m[2] === undefined ? true : m[2];
      if (typeof v === 'string' && v.startsWith('"')) {
        if (!v.endsWith('"') || v.length < 2) throw new Error(`bad quoted value ${v}`);
        v = v.slice(1, -1);
      }
      params.push([m[1].toLowerCase(), v]);
    }
    out.push({ name: name.toLowerCase(), params });
  }
  return out;
}

function windowBits(v, what) {
  if (typeof v !== 'string' || !/^[0-9]+$/.test(v)) throw new Error(`${what} needs a value 8..15, got ${v}`);
  const n = Number(v);
  if (n < 8 || n > 15) throw new Error(`${what}=${n} is outside 8..15`);
  return n;
}

// Check a server's Sec-WebSocket-Extensions response against what we
// offered. Returns the negotiated parameters, or null when the server
// declined (no header). Throws with the reason when the response is one a
// client must fail the connection for (RFC 7692 section 7.1).
function acceptResponse(offers, header) {
  if (header === undefined || header.trim() === '') return null;
  const exts = parseExtensions(header);
  if (exts.length !== 1 || exts[0].name !== 'permessage-deflate') {
    throw new Error(`server accepted extensions we did not offer: ${header}`);
  }
  if (offers.length === 0) throw new Error(`server accepted permessage-deflate we did not offer`);
  const got = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: null,
    clientMaxWindowBits: null,
  };
  const seen = new Set();
  for (const [k, v] of exts[0].params) {
    if (seen.has(k)) throw new Error(`parameter ${k} repeated`);
    seen.add(k);
    if (k === 'server_no_context_takeover' || k === 'client_no_context_takeover') {
      if (v !== true) throw new Error(`${k} takes no value`);
      got[k === 'server_no_context_takeover' ? 'serverNoContextTakeover' : 'clientNoContextTakeover'] = true;
    } else if (k === 'server_max_window_bits') {
      got.serverMaxWindowBits = windowBits(v, k);
    } else if (k === 'client_max_window_bits') {
      got.clientMaxWindowBits = windowBits(v, k);
    } else {
      throw new Error(`unknown parameter ${k}`);
    }
  }
  // The response must accept one of the offers.
  const reasons = [];
  for (const offer of offers) {
    const why = [];
    if (offer.serverNoContextTakeover && !got.serverNoContextTakeover) {
      why.push('offer asked for server_no_context_takeover but the response lacks it');
    }
    if (offer.serverMaxWindowBits) {
      if (got.serverMaxWindowBits === null) why.push('offer limited server_max_window_bits but the response lacks it');
      else if (got.serverMaxWindowBits > offer.serverMaxWindowBits) why.push('server_max_window_bits above the offer');
    }
    if (got.clientMaxWindowBits !== null) {
      if (!offer.clientMaxWindowBits) why.push('client_max_window_bits in response but not in offer');
      else if (offer.clientMaxWindowBits !== true && got.clientMaxWindowBits > offer.clientMaxWindowBits) {
        why.push('client_max_window_bits above the offer');
      }
    }
    if (why.length === 0) return got;
    reasons.push(why.join('; '));
  }
  throw new Error(`response "${header}" matches no offer: ${reasons.join(' | ')}`);
}

// A zlib stream driven one message at a time: write, Z_SYNC_FLUSH, collect.
class FlushStream {
  constructor(make) {
    this._make = make;
    this._z = null;
    this._chunks = [];
    this._len = 0;
    this._limit = Infinity;
    this._over = false;
  }
  _stream() {
    if (!this._z) {
      this._z = this._make();
      this._z.on('data', (d) => {
        this._len += d.length;
        if (this._len > this._limit) this._over = true;
        else this._chunks.push(d);
      });
      this._z.on('error', (e) => {
        this._err = e;
      });
    }
    return this._z;
  }
  run(input, limit = Infinity) {
    const z = this._stream();
    this._chunks = [];
    this._len = 0;
    this._limit = limit;
    this._over = false;
    this._err = null;
    return new Promise((resolve, reject) => {
      const onErr = (e) => reject(e);
      z.once('error', onErr);
      z.write(input);
      z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        z.removeListener('error', onErr);
        if (this._err) return reject(this._err);
        if (this._over) return reject(new Error(`inflated size exceeds ${this._limit}`));
        resolve(Buffer.concat(this._chunks, this._len));
      });
    });
  }
  reset() {
    if (this._z) {
      this._z.removeAllListeners('data');
      this._z.on('error', () => {});
      this._z.close();
    }
    this._z = null;
  }
}

// Our side's compressor. windowBits is what the server allowed us
// (client_max_window_bits, 15 when absent); contextTakeover is false when
// the server sent client_no_context_takeover.
class Compressor {
  constructor({ windowBits: wb = 15, contextTakeover = true, level = zlib.constants.Z_DEFAULT_COMPRESSION } = {}) {
    this.contextTakeover = contextTakeover;
    // zlib cannot make a raw stream with a 256-byte window (it silently
    // uses 512). Huffman-only coding makes no back-references at all, which
    // is within any window.
    const opts = { windowBits: Math.max(wb, 9), level, memLevel: 8 };
    if (wb < 9) opts.strategy = zlib.constants.Z_HUFFMAN_ONLY;
    this._fs = new FlushStream(() => zlib.createDeflateRaw(opts));
  }
  async compress(data) {
    const out = await this._fs.run(data);
    if (!this.contextTakeover) this._fs.reset();
    if (out.length >= 4 && out.subarray(out.length - 4).equals(TAIL)) return out.subarray(0, out.length - 4);
    throw new Error('deflate output does not end with a sync flush');
  }
}

// Our side's decompressor. contextTakeover is false when the server
// promised server_no_context_takeover: we then start each message with an
// empty window, so a server that breaks its promise makes inflate fail.
class Decompressor {
  constructor({ contextTakeover = true } = {}) {
    this.contextTakeover = contextTakeover;
    this._fs = new FlushStream(() => zlib.createInflateRaw({ windowBits: 15 }));
  }
  async decompress(data, limit = Infinity) {
    try {
      return await this._fs.run(Buffer.concat([data, TAIL]), limit);
    } finally {
      if (!this.contextTakeover) this._fs.reset();
    }
  }
}

// Compressor and decompressor for negotiated parameters `got` (from
// acceptResponse).
function codecFor(got) {
  return {
    params: got,
    compressor: new Compressor({
      windowBits: got.clientMaxWindowBits || 15,
      contextTakeover: !got.clientNoContextTakeover,
    }),
    decompressor: new Decompressor({ contextTakeover: !got.serverNoContextTakeover }),
  };
}

module.exports = {
  formatOffer,
  formatOffers,
  parseExtensions,
  acceptResponse,
  Compressor,
  Decompressor,
  codecFor,
  TAIL,
};
