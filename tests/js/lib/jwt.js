'use strict';
// jwt.js — mint JSON Web Tokens for the integration tests with node:crypto
// only: HS256, RS256 and ES256 (the signature as raw r||s, as JWS wants),
// plus the tokens a server must refuse (alg "none", HS/RS confusion, bad
// encodings, bad claims) with the refusal message Parley gives for each
// (src/chat/auth.c). Not a JWT library: no verification, no JWKS.
//
//   const jwt = require('./lib/jwt');
//   const tok = jwt.hs256({ sub: 'alice', name: 'Alice' }, secret);   // exp = now + 1h
//   const { rsa, ec } = jwt.generateKeys();                           // PEM strings
//   jwt.rs256({ sub: 'bob' }, rsa.privateKey);
//   for (const c of jwt.negativeCases({ secret })) { /* c.name, c.token, c.message */ }

const crypto = require('crypto');

const TOKEN_MAX = 8192; // CHAT_AUTH_TOKEN_MAX

function b64url(data) {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(String(data), 'utf8');
  return buf.toString('base64url');
}

function now() {
  return Math.floor(Date.now() / 1000);
}

// JSON text as given (so tests can send duplicate keys or broken JSON), or
// an object serialised.
function jsonText(x) {
  return typeof x === 'string' ? x : JSON.stringify(x);
}

// Signs input (the ASCII "header.payload") for alg with key; returns bytes.
function signature(alg, input, key) {
  switch (alg) {
  case 'HS256':
    return crypto.createHmac('sha256', key).update(input).digest();
  case 'RS256':
    return crypto.sign('sha256', Buffer.from(input), key);
  case 'ES256':
    return crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  case 'none':
    return Buffer.alloc(0);
  default:
    throw new Error(`jwt.js: cannot sign ${alg}`);
  }
}

// The general form: header and payload as objects or raw JSON text, signed
// as signAlg (default header.alg) with key. Nothing is checked or added.
function raw(header, payload, signAlg, key) {
  const input = `${b64url(jsonText(header))}.${b64url(jsonText(payload))}`;
  const alg = signAlg || (typeof header === 'object' ? header.alg : undefined);
  return `${input}.${b64url(signature(alg, input, key))}`;
}

// claims get exp = now + opts.expiresIn (default 3600) unless claims has an
// exp or opts.expiresIn is null. opts.header adds or overrides header fields.
function sign(claims, alg, key, opts = {}) {
  const body = { ...claims };
  const expiresIn = opts.expiresIn === undefined ? 3600 : opts.expiresIn;
  if (body.exp === undefined && expiresIn !== null) body.exp = now() + expiresIn;
  const header = { alg, typ: 'JWT', ...(opts.header || {}) };
  return raw(header, body, alg, key);
}

const hs256 = (claims, secret, opts) => sign(claims, 'HS256', secret, opts);
const rs256 = (claims, privateKey, opts) => sign(claims, 'RS256', privateKey, opts);
const es256 = (claims, privateKey, opts) => sign(claims, 'ES256', privateKey, opts);

// alg "none": empty signature, or opts.signature (bytes) if given.
function unsigned(claims, opts = {}) {
  const body = { exp: now() + 3600, ...claims };
  const input = `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify(body))}`;
  return `${input}.${opts.signature ? b64url(opts.signature) : ''}`;
}

// The HS/RS confusion attack: claims HS256, MAC'd with the server's public
// key PEM text as the secret.
function confusion(claims, publicKeyPem) {
  return sign(claims, 'HS256', Buffer.from(publicKeyPem));
}

// { rsa: {publicKey, privateKey}, ec: {publicKey, privateKey} }, PEM (SPKI
// and PKCS#8). RSA 2048 takes a moment; call once per test file.
function generateKeys() {
  const pem = { publicKeyEncoding: { type: 'spki', format: 'pem' },
                privateKeyEncoding: { type: 'pkcs8', format: 'pem' } };
  return {
    rsa: crypto.generateKeyPairSync('rsa', { modulusLength: 2048, ...pem }),
    ec: crypto.generateKeyPairSync('ec', { namedCurve: 'P-256', ...pem }),
  };
}

function replaceSig(token, sigPart) {
  return token.slice(0, token.lastIndexOf('.') + 1) + sigPart;
}

// Tokens a server configured with opts must refuse, each with the message
// (or a distinctive part of it) Parley answers. opts: { alg = 'HS256',
// secret | privateKey, publicKey (for the confusion case), user = 'alice' }.
// Every token is otherwise valid, so the named defect is the only reason.
function negativeCases(opts) {
  const alg = opts.alg || 'HS256';
  const key = alg === 'HS256' ? opts.secret : opts.privateKey;
  if (!key) throw new Error('jwt.js: negativeCases needs secret or privateKey');
  const user = opts.user || 'alice';
  const t = now();
  const ok = (claims, o) => sign({ sub: user, ...claims }, alg, key, o);
  const good = ok({});
  const [h, p, s] = good.split('.');
  const other = alg === 'HS256' ? 'not-the-secret' : (alg === 'RS256'
    ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
  // Set a low bit the last character must have clear (its unused bits).
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const noncanon = s.slice(0, -1) + abc[abc.indexOf(s[s.length - 1]) | 1];
  const wrongAlg = alg === 'HS256' ? 'RS256' : 'HS256';

  const cases = [
    { name: 'alg none, no signature', token: unsigned({ sub: user }),
      message: `alg none not allowed (expected ${alg})` },
    { name: 'alg none, with signature', token: unsigned({ sub: user }, { signature: Buffer.alloc(32, 7) }),
      message: `alg none not allowed (expected ${alg})` },
    { name: 'alg mismatch', token: raw({ alg: wrongAlg, typ: 'JWT' }, { sub: user, exp: t + 3600 }, 'HS256', 'x'),
      message: `alg ${wrongAlg} not allowed (expected ${alg})` },
    { name: 'wrong signature', token: sign({ sub: user }, alg, other),
      message: 'token signature invalid' },
    { name: 'tampered payload', token: `${h}.${b64url(JSON.stringify({ sub: 'admin', exp: t + 3600 }))}.${s}`,
      message: 'token signature invalid' },
    { name: 'expired', token: ok({ exp: t - 3600 }), message: 'token expired' },
    { name: 'not yet valid', token: ok({ nbf: t + 3600 }), message: 'token not yet valid' },
    { name: 'missing sub', token: sign({ name: 'No One' }, alg, key), message: 'missing sub' },
    { name: 'bad sub', token: ok({ sub: 'Not Valid!' }), message: 'claim sub must match ^[a-z0-9_.@-]{1,64}$' },
    { name: 'non-string name', token: ok({ name: 42 }), message: 'claim name must be a string' },
    { name: 'missing exp', token: ok({}, { expiresIn: null }), message: 'missing exp' },
    { name: 'bad JSON claims', token: raw({ alg, typ: 'JWT' }, '{"sub":', alg, key),
      message: 'token claims are not valid JSON' },
    { name: 'duplicate sub', token: raw({ alg, typ: 'JWT' }, `{"sub":"${user}","exp":${t + 3600},"sub":"admin"}`, alg, key),
      message: 'duplicate' },
    { name: 'bad JSON header', token: raw('{"alg":', { sub: user }, alg, key),
      message: 'token header is not valid JSON' },
    { name: 'padding', token: `${good}=`, message: 'token signature is not valid base64url' },
    { name: 'standard base64 alphabet', token: `${h.slice(0, 2)}+${h.slice(3)}.${p}.${s}`,
      message: 'token header is not valid base64url' },
    { name: 'non-canonical base64url', token: replaceSig(good, noncanon),
      message: 'token signature is not valid base64url' },
    { name: 'two parts', token: `${h}.${p}`, message: 'token must have 3 parts' },
    { name: 'four parts', token: `${good}.${s}`, message: 'token must have 3 parts' },
    { name: 'empty', token: '', message: 'token is empty' },
    { name: 'Bearer prefix', token: `Bearer ${good}`, message: 'Bearer' },
    { name: 'oversize', token: ok({ pad: 'x'.repeat(TOKEN_MAX) }), message: 'token too large' },
  ];
  if (opts.publicKey && alg !== 'HS256') {
    cases.push({ name: 'HS/RS confusion', token: confusion({ sub: user }, opts.publicKey),
      message: `alg HS256 not allowed (expected ${alg})` });
  }
  return cases;
}

module.exports = {
  TOKEN_MAX,
  b64url,
  now,
  raw,
  sign,
  hs256,
  rs256,
  es256,
  unsigned,
  confusion,
  generateKeys,
  negativeCases,
};
