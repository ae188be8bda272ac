// 26-chat-auth: who may connect to `parley serve`, over real sockets with
// socket.io-client — JWT sign-in with HS256 (valid, expired, not yet valid,
// the leeway, wrong signature, tampered claims, alg none, bad claims, every
// malformed spelling tests/js/lib/jwt.js knows), RS256 and ES256 with a
// public key file (including the HS/RS confusion attack), open mode (user
// ids, names, devices), and the configurations the server must refuse to
// start with: open mode on a non-loopback address, a bad public key.
//
// Every refusal is a connect_error whose message is "unauthorized" and
// whose data is {code: "unauthorized", message}; the message is checked
// against the text src/chat/auth.c gives for that defect, so a token
// refused for the wrong reason fails the test.
//
// The startup checks never listen on 0.0.0.0: the refusal comes before the
// listener, and a child that logs "listening" is killed at once and fails.
'use strict';
const assert = require('assert');
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { test, run, binPath } = require('./lib/harness');
const { startParley, request } = require('./lib/parley');
const jwt = require('./lib/jwt');

const ENV = { PARLEY_LOG_LEVEL: 'info', PARLEY_DEFAULT_CHANNELS: '' };
const SECRET = 'test-secret-26-\u00e9-not-for-production';
const LEEWAY_S = 30; // CHAT_AUTH_DEFAULT_LEEWAY: parley serve has no flag for it

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-auth-'));
const servers = {};
let keys = null;

function getKeys() {
  if (!keys) {
    keys = jwt.generateKeys();
    fs.writeFileSync(path.join(tmp, 'rsa.pem'), keys.rsa.publicKey);
    fs.writeFileSync(path.join(tmp, 'ec.pem'), keys.ec.publicKey);
  }
  return keys;
}

// One server per configuration, started on first use.
async function server(kind) {
  if (servers[kind]) return servers[kind];
  let args = [];
  if (kind === 'hs') args = ['--jwt-secret', SECRET];
  if (kind === 'rs') { getKeys(); args = ['--jwt-alg', 'RS256', '--jwt-public-key', path.join(tmp, 'rsa.pem')]; }
  if (kind === 'es') { getKeys(); args = ['--jwt-alg', 'ES256', '--jwt-public-key', path.join(tmp, 'ec.pem')]; }
  servers[kind] = await startParley({ env: ENV, args });
  return servers[kind];
}

process.on('exit', () => {
  for (const p of Object.values(servers)) { try { process.kill(p.pid, 'SIGKILL'); } catch (e) { /* gone */ } }
  fs.rmSync(tmp, { recursive: true, force: true });
});

// Refused with connect_error "unauthorized" and a data.message that is
// exactly `want` (a string) or matches it (a RegExp).
async function refusedWith(p, auth, want) {
  const r = await p.refused(auth);
  assert.strictEqual(r.message, 'unauthorized', `connect_error message: ${JSON.stringify(r)}`);
  assert.ok(r.data && typeof r.data === 'object', `connect_error data: ${JSON.stringify(r)}`);
  assert.deepStrictEqual(Object.keys(r.data).sort(), ['code', 'message'], JSON.stringify(r.data));
  assert.strictEqual(r.data.code, 'unauthorized', JSON.stringify(r.data));
  if (want instanceof RegExp) assert.match(r.data.message, want);
  else assert.strictEqual(r.data.message, want);
  return r.data.message;
}

async function accepted(p, auth, id, name) {
  const { socket, ready } = await p.connect(auth);
  assert.deepStrictEqual(ready.user, { id, name });
  assert.strictEqual(typeof ready.sessionId, 'string');
  assert.ok(Array.isArray(ready.channels));
  return socket;
}

async function close(socket) {
  if (!socket.connected) return;
  const gone = new Promise((resolve) => socket.once('disconnect', resolve));
  socket.disconnect();
  await gone;
}

// A negative case from jwt.js: its message is a distinctive part of what the
// server says, except where the whole text is known (checked exactly).
function expectMessage(c) {
  const exact = ['token signature invalid', 'token expired', 'token not yet valid', 'missing sub',
    'missing exp', 'claim name must be a string', 'claim sub must match ^[a-z0-9_.@-]{1,64}$',
    'token is empty', 'token signature is not valid base64url', 'token header is not valid base64url'];
  if (exact.includes(c.message) || /^alg \S+ not allowed \(expected \S+\)$/.test(c.message)) return c.message;
  return new RegExp(c.message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
}

async function negativeCases(p, opts) {
  const cases = jwt.negativeCases(opts);
  assert.ok(cases.length >= 20, 'jwt.js gave its cases');
  for (const c of cases) {
    try {
      await refusedWith(p, { token: c.token }, expectMessage(c));
    } catch (e) {
      e.message = `${c.name}: ${e.message}`;
      throw e;
    }
  }
  return cases.map((c) => c.name);
}

// ---- HS256 ----

test('hs256: a valid token signs in as sub with its name; auth.user and auth.name are ignored', async () => {
  const p = await server('hs');
  const s1 = await accepted(p, { token: jwt.hs256({ sub: 'alice', name: 'Alice A.' }, SECRET) }, 'alice', 'Alice A.');
  const s2 = await accepted(p, { token: jwt.hs256({ sub: 'bob.b@x-y_z' }, SECRET) }, 'bob.b@x-y_z', 'bob.b@x-y_z');
  const s3 = await accepted(p, { token: jwt.hs256({ sub: 'carol', name: 'Carol' }, SECRET), user: 'mallory', name: 'Mallory' },
    'carol', 'Carol');
  // The name is checked for characters, not bytes: 64 four-byte characters.
  const wide = '\u{1F600}'.repeat(64);
  const s4 = await accepted(p, { token: jwt.hs256({ sub: 'dave', name: wide }, SECRET) }, 'dave', wide);
  // Fractional NumericDates are numbers too.
  const s5 = await accepted(p, { token: jwt.hs256({ sub: 'erin', exp: jwt.now() + 60.5, nbf: jwt.now() - 0.5 }, SECRET) },
    'erin', 'erin');
  for (const s of [s1, s2, s3, s4, s5]) await close(s);
});

test('hs256: device is taken from auth in JWT mode too; an unknown device is refused', async () => {
  const p = await server('hs');
  const token = jwt.hs256({ sub: 'dev1' }, SECRET);
  const s = await accepted(p, { token, device: 'bot' }, 'dev1', 'dev1');
  const ack = await request(s, 'presence:get', { users: ['dev1'] });
  assert.strictEqual(ack.ok, true, JSON.stringify(ack));
  assert.deepStrictEqual(ack.presence[0].devices, { bot: 'online' });
  await close(s);
  await refusedWith(p, { token, device: 'toaster' }, 'auth.device must be one of "web", "mobile", "desktop", "bot"');
});

test('hs256: expired, not yet valid, and the 30 s leeway either side', async () => {
  const p = await server('hs');
  const t = jwt.now();
  await refusedWith(p, { token: jwt.hs256({ sub: 'alice', exp: t - 3600 }, SECRET) }, 'token expired');
  await refusedWith(p, { token: jwt.hs256({ sub: 'alice', exp: t - LEEWAY_S - 15 }, SECRET) }, 'token expired');
  await refusedWith(p, { token: jwt.hs256({ sub: 'alice', nbf: t + 3600 }, SECRET) }, 'token not yet valid');
  await refusedWith(p, { token: jwt.hs256({ sub: 'alice', nbf: t + LEEWAY_S + 15 }, SECRET) }, 'token not yet valid');
  // Inside the leeway: a token that expired 10 s ago, one valid in 10 s.
  const a = await accepted(p, { token: jwt.hs256({ sub: 'late', exp: t - 10 }, SECRET) }, 'late', 'late');
  const b = await accepted(p, { token: jwt.hs256({ sub: 'early', nbf: t + 10 }, SECRET) }, 'early', 'early');
  await close(a);
  await close(b);
});

test('hs256: wrong signature, tampered payload, alg none with and without a signature', async () => {
  const p = await server('hs');
  await refusedWith(p, { token: jwt.hs256({ sub: 'alice' }, 'not-the-secret') }, 'token signature invalid');
  // A secret that is a prefix of the real one is not the real one.
  await refusedWith(p, { token: jwt.hs256({ sub: 'alice' }, SECRET.slice(0, -1)) }, 'token signature invalid');
  const good = jwt.hs256({ sub: 'alice' }, SECRET);
  const [h, , s] = good.split('.');
  const tampered = `${h}.${jwt.b64url(JSON.stringify({ sub: 'admin', exp: jwt.now() + 3600 }))}.${s}`;
  await refusedWith(p, { token: tampered }, 'token signature invalid');
  // The signature of the good token, shortened by one byte.
  const short = `${h}.${good.split('.')[1]}.${jwt.b64url(Buffer.from(s, 'base64url').subarray(0, 31))}`;
  await refusedWith(p, { token: short }, 'token signature invalid (HS256 signatures are 32 bytes, got 31)');
  await refusedWith(p, { token: jwt.unsigned({ sub: 'alice' }) }, 'alg none not allowed (expected HS256)');
  await refusedWith(p, { token: jwt.unsigned({ sub: 'alice' }, { signature: Buffer.from(s, 'base64url') }) },
    'alg none not allowed (expected HS256)');
  // "none" in another case, and a correct HMAC under a lower-case alg name.
  await refusedWith(p, { token: jwt.raw({ alg: 'None', typ: 'JWT' }, { sub: 'alice', exp: jwt.now() + 60 }, 'none') },
    'alg None not allowed (expected HS256)');
  await refusedWith(p, { token: jwt.raw({ alg: 'hs256', typ: 'JWT' }, { sub: 'alice', exp: jwt.now() + 60 }, 'HS256', SECRET) },
    'alg hs256 not allowed (expected HS256)');
  await refusedWith(p, { token: jwt.raw({ typ: 'JWT' }, { sub: 'alice', exp: jwt.now() + 60 }, 'HS256', SECRET) },
    'token header has no alg');
});

test('hs256: claims — missing sub, bad sub, wrong-type sub, name and exp', async () => {
  const p = await server('hs');
  const t = jwt.now() + 3600;
  const cases = [
    [{ name: 'No One', exp: t }, 'missing sub'],
    [{ sub: 'Alice', exp: t }, 'claim sub must match ^[a-z0-9_.@-]{1,64}$'],
    [{ sub: '', exp: t }, 'claim sub must match ^[a-z0-9_.@-]{1,64}$'],
    [{ sub: 'a b', exp: t }, 'claim sub must match ^[a-z0-9_.@-]{1,64}$'],
    [{ sub: 'a'.repeat(65), exp: t }, 'claim sub must match ^[a-z0-9_.@-]{1,64}$'],
    [{ sub: 42, exp: t }, 'claim sub must be a string'],
    [{ sub: null, exp: t }, 'claim sub must be a string'],
    [{ sub: 'alice', name: 42, exp: t }, 'claim name must be a string'],
    [{ sub: 'alice', name: ['Alice'], exp: t }, 'claim name must be a string'],
    [{ sub: 'alice', name: '', exp: t }, 'claim name must be 1 to 64 characters of UTF-8 without control characters'],
    [{ sub: 'alice', name: 'Al\u0007ice', exp: t }, 'claim name must be 1 to 64 characters of UTF-8 without control characters'],
    [{ sub: 'alice', name: 'x'.repeat(65), exp: t }, 'claim name must be 1 to 64 characters of UTF-8 without control characters'],
    [{ sub: 'alice', exp: String(t) }, 'claim exp must be a number'],
    [{ sub: 'alice', exp: null }, 'claim exp must be a number'],
    [{ sub: 'alice', exp: t, nbf: 'now' }, 'claim nbf must be a number'],
    [{ sub: 'alice' }, 'missing exp'],
  ];
  for (const [claims, message] of cases) {
    const token = jwt.raw({ alg: 'HS256', typ: 'JWT' }, claims, 'HS256', SECRET);
    await refusedWith(p, { token }, message).catch((e) => { e.message = `${JSON.stringify(claims)}: ${e.message}`; throw e; });
  }
  // 64 characters is the longest sub; a null name means "absent".
  const sub = 'a'.repeat(64);
  await close(await accepted(p, { token: jwt.hs256({ sub, name: null }, SECRET) }, sub, sub));
});

test('hs256: every malformed token and bad claim jwt.js knows is refused with its message', async () => {
  const p = await server('hs');
  const names = await negativeCases(p, { alg: 'HS256', secret: SECRET, user: 'alice' });
  for (const n of ['alg none, no signature', 'padding', 'two parts', 'oversize', 'Bearer prefix', 'duplicate sub'])
    assert.ok(names.includes(n), n);
});

test('hs256: header typ and crit, and auth fields of the wrong shape', async () => {
  const p = await server('hs');
  const claims = { sub: 'alice', exp: jwt.now() + 3600 };
  await refusedWith(p, { token: jwt.raw({ alg: 'HS256', typ: 'JWS' }, claims, 'HS256', SECRET) },
    'token header typ must be "JWT"');
  await refusedWith(p, { token: jwt.raw({ alg: 'HS256', crit: ['exp'] }, claims, 'HS256', SECRET) },
    'token header crit is not supported (no extensions are understood)');
  // typ is a media type: compared without case; absent is fine.
  await close(await accepted(p, { token: jwt.raw({ alg: 'HS256', typ: 'jwt' }, claims, 'HS256', SECRET) }, 'alice', 'alice'));
  await close(await accepted(p, { token: jwt.raw({ alg: 'HS256' }, claims, 'HS256', SECRET) }, 'alice', 'alice'));
  await refusedWith(p, { token: 12345 }, 'auth.token must be a string');
  await refusedWith(p, { token: { sub: 'alice' } }, 'auth.token must be a string');
  await refusedWith(p, { token: '' }, 'token is empty');
  await refusedWith(p, { token: 'a.b' }, "token must have 3 parts separated by '.' (header.payload.signature)");
  await refusedWith(p, { token: 'not a token at all' }, "token must have 3 parts separated by '.' (header.payload.signature)");
  await refusedWith(p, { token: '..' }, /^token header is not valid JSON/);
  await refusedWith(p, { token: `${jwt.b64url('[1]')}.e30.AAAA` }, 'token header is not a JSON object');
  await refusedWith(p, { token: 'x'.repeat(jwt.TOKEN_MAX + 1) }, `token too large (${jwt.TOKEN_MAX + 1} bytes, max ${jwt.TOKEN_MAX})`);
});

test('hs256: open-mode sign-in (auth.user) is refused, and so is no auth at all', async () => {
  const p = await server('hs');
  await refusedWith(p, { user: 'alice', name: 'Alice' }, 'auth.token is required (this server signs in with JWT, not auth.user)');
  await refusedWith(p, { user: 'alice', token: null }, 'auth.token is required (this server signs in with JWT, not auth.user)');
  await refusedWith(p, {}, 'auth.token is required');
  await refusedWith(p, undefined, 'auth.token is required');
  // Refusals leave the server serving.
  await close(await accepted(p, { token: jwt.hs256({ sub: 'alice' }, SECRET) }, 'alice', 'alice'));
});

// ---- RS256 and ES256 ----

test('rs256: a valid token signs in; HS/RS confusion and other algs are refused', async () => {
  const p = await server('rs');
  const { rsa, ec } = getKeys();
  await close(await accepted(p, { token: jwt.rs256({ sub: 'rsuser', name: 'RS User' }, rsa.privateKey) }, 'rsuser', 'RS User'));
  // The confusion attack: HS256 MAC'd with the public key PEM as the secret.
  await refusedWith(p, { token: jwt.confusion({ sub: 'rsuser' }, rsa.publicKey) }, 'alg HS256 not allowed (expected RS256)');
  // The same MAC under an honest-looking RS256 header: 32 bytes is no RSA signature.
  await refusedWith(p, { token: jwt.raw({ alg: 'RS256', typ: 'JWT' }, { sub: 'rsuser', exp: jwt.now() + 60 }, 'HS256', Buffer.from(rsa.publicKey)) },
    'token signature invalid (RS256 signatures for this key are 256 bytes, got 32)');
  await refusedWith(p, { token: jwt.es256({ sub: 'rsuser' }, ec.privateKey) }, 'alg ES256 not allowed (expected RS256)');
  await refusedWith(p, { token: jwt.hs256({ sub: 'rsuser' }, SECRET) }, 'alg HS256 not allowed (expected RS256)');
  // Signed by another RSA key.
  const other = require('crypto').generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  await refusedWith(p, { token: jwt.rs256({ sub: 'rsuser' }, other) }, 'token signature invalid');
  await refusedWith(p, { user: 'rsuser' }, 'auth.token is required (this server signs in with JWT, not auth.user)');
});

test('rs256: jwt.js negative cases, confusion included', async () => {
  const p = await server('rs');
  const { rsa } = getKeys();
  const names = await negativeCases(p, { alg: 'RS256', privateKey: rsa.privateKey, publicKey: rsa.publicKey, user: 'rsuser' });
  assert.ok(names.includes('HS/RS confusion'));
});

test('es256: a valid token signs in; confusion, DER signatures and other algs are refused', async () => {
  const p = await server('es');
  const { rsa, ec } = getKeys();
  await close(await accepted(p, { token: jwt.es256({ sub: 'esuser', name: 'ES User' }, ec.privateKey) }, 'esuser', 'ES User'));
  await refusedWith(p, { token: jwt.confusion({ sub: 'esuser' }, ec.publicKey) }, 'alg HS256 not allowed (expected ES256)');
  await refusedWith(p, { token: jwt.raw({ alg: 'ES256', typ: 'JWT' }, { sub: 'esuser', exp: jwt.now() + 60 }, 'HS256', Buffer.from(ec.publicKey)) },
    'token signature invalid (ES256 signatures are r||s, 64 bytes, got 32)');
  // JWS wants r||s; a DER-encoded ECDSA signature (70-72 bytes) is refused.
  const input = `${jwt.b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT' }))}.${jwt.b64url(JSON.stringify({ sub: 'esuser', exp: jwt.now() + 60 }))}`;
  const der = require('crypto').sign('sha256', Buffer.from(input), ec.privateKey);
  await refusedWith(p, { token: `${input}.${jwt.b64url(der)}` },
    new RegExp(`^token signature invalid \\(ES256 signatures are r\\|\\|s, 64 bytes, got ${der.length}\\)$`));
  await refusedWith(p, { token: jwt.rs256({ sub: 'esuser' }, rsa.privateKey) }, 'alg RS256 not allowed (expected ES256)');
  const other = require('crypto').generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  await refusedWith(p, { token: jwt.es256({ sub: 'esuser' }, other) }, 'token signature invalid');
});

test('es256: jwt.js negative cases, confusion included', async () => {
  const p = await server('es');
  const { ec } = getKeys();
  const names = await negativeCases(p, { alg: 'ES256', privateKey: ec.privateKey, publicKey: ec.publicKey, user: 'esuser' });
  assert.ok(names.includes('HS/RS confusion'));
});

// ---- open mode ----

test('open: sign in by user id; the name defaults to the id', async () => {
  const p = await server('open');
  const sockets = [
    await accepted(p, { user: 'alice', name: 'Alice Liddell' }, 'alice', 'Alice Liddell'),
    await accepted(p, { user: 'bob' }, 'bob', 'bob'),
    await accepted(p, { user: 'c.d@e-f_0', name: null }, 'c.d@e-f_0', 'c.d@e-f_0'),
    await accepted(p, { user: 'z'.repeat(64), name: '\u00e9'.repeat(64) }, 'z'.repeat(64), '\u00e9'.repeat(64)),
    // A token is ignored in open mode: there is no key to check it with.
    await accepted(p, { user: 'tokened', token: 'whatever' }, 'tokened', 'tokened'),
  ];
  for (const s of sockets) await close(s);
});

test('open: missing and invalid user ids and names are refused with precise messages', async () => {
  const p = await server('open');
  const pattern = 'auth.user must match ^[a-z0-9_.@-]{1,64}$';
  const nameMsg = 'auth.name must be 1 to 64 characters of UTF-8 without control characters';
  const cases = [
    [undefined, 'auth.user is required'],
    [{}, 'auth.user is required'],
    [{ user: null }, 'auth.user is required'],
    [{ name: 'Alice' }, 'auth.user is required'],
    [{ token: jwt.hs256({ sub: 'alice' }, SECRET) }, 'auth.user is required (this server is in open mode and does not check tokens)'],
    [{ user: 42 }, 'auth.user must be a string'],
    [{ user: ['alice'] }, 'auth.user must be a string'],
    [{ user: true }, 'auth.user must be a string'],
    [{ user: '' }, pattern],
    [{ user: 'Alice' }, pattern],
    [{ user: 'al ice' }, pattern],
    [{ user: 'al:ice' }, pattern],
    [{ user: 'al\u00efce' }, pattern],
    [{ user: 'a'.repeat(65) }, pattern],
    [{ user: 'alice\u0000' }, pattern],
    [{ user: 'alice', name: 7 }, 'auth.name must be a string'],
    [{ user: 'alice', name: { first: 'A' } }, 'auth.name must be a string'],
    [{ user: 'alice', name: '' }, nameMsg],
    [{ user: 'alice', name: 'x'.repeat(65) }, nameMsg],
    [{ user: 'alice', name: 'Al\nice' }, nameMsg],
    [{ user: 'alice', name: 'Al\u0085ice' }, nameMsg],
    [{ user: 'alice', name: 'Al\u007fice' }, nameMsg],
  ];
  for (const [auth, message] of cases)
    await refusedWith(p, auth, message).catch((e) => { e.message = `${JSON.stringify(auth)}: ${e.message}`; throw e; });
});

test('open: devices web, mobile, desktop, bot are accepted; others are refused', async () => {
  const p = await server('open');
  const sockets = [];
  for (const device of ['web', 'mobile', 'desktop', 'bot'])
    sockets.push(await accepted(p, { user: 'multi', name: 'Multi', device }, 'multi', 'Multi'));
  const ack = await request(sockets[0], 'presence:get', { users: ['multi'] });
  assert.strictEqual(ack.ok, true, JSON.stringify(ack));
  assert.deepStrictEqual(ack.presence[0].devices, { web: 'online', mobile: 'online', desktop: 'online', bot: 'online' });
  // No device (or null) means web.
  const solo = await accepted(p, { user: 'solo', device: null }, 'solo', 'solo');
  const ack2 = await request(solo, 'presence:get', { users: ['solo'] });
  assert.deepStrictEqual(ack2.presence[0].devices, { web: 'online' });
  const msg = 'auth.device must be one of "web", "mobile", "desktop", "bot"';
  for (const device of ['tv', 'Web', 'WEB', '', 'web ', 'mobile\u0000', 5, true, ['web'], { kind: 'web' }])
    await refusedWith(p, { user: 'dev', device }, msg).catch((e) => { e.message = `${JSON.stringify(device)}: ${e.message}`; throw e; });
  // The device is checked before the user.
  await refusedWith(p, { user: 'Bad User', device: 'tv' }, msg);
  for (const s of [...sockets, solo]) await close(s);
});

// ---- refusing to start ----

// Runs `parley serve args` and resolves with {code, stderr, listened} once it
// exits. A child that starts listening is killed at once (listened: true).
function runServe(args, env = {}, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const base = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PARLEY_')) base[k] = v;
    base.PARLEY_BUILD_DIR = process.env.PARLEY_BUILD_DIR || '';
    const data = fs.mkdtempSync(path.join(tmp, 'data-'));
    const child = spawn(binPath('parley'), ['serve', '--port', '0', '--data', data, ...args], {
      env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let listened = false;
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`parley serve ${args.join(' ')}: no exit in time:\n${stderr}`)); }, timeoutMs);
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!listened && stderr.includes('"event":"listening"')) { listened = true; child.kill('SIGKILL'); }
    });
    child.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stderr, listened }); });
  });
}

function logLines(stderr) {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

async function refusesToStart(args, env, want) {
  const r = await runServe(args, env);
  assert.strictEqual(r.listened, false, `it listened (killed): ${r.stderr}`);
  assert.notStrictEqual(r.code, 0, `exit code: ${r.stderr}`);
  assert.notStrictEqual(r.code, null, `killed by ${r.signal}: ${r.stderr}`);
  const errors = logLines(r.stderr).filter((l) => l.level === 'error');
  assert.ok(errors.some((l) => want.test(l.msg)), `an error line matching ${want}:\n${r.stderr}`);
  return r;
}

test('startup: open mode on a non-loopback address is refused before listening', async () => {
  const want = /open mode .*only allowed on loopback; listening on 0\.0\.0\.0 needs --insecure-open/;
  const r = await refusesToStart(['--host', '0.0.0.0'], {}, want);
  const line = logLines(r.stderr).find((l) => want.test(l.msg));
  assert.strictEqual(line.event, 'config');
  assert.match(line.msg, /--jwt-secret/);
  await refusesToStart([], { PARLEY_HOST: '0.0.0.0' }, want);
  await refusesToStart(['--host', '::'], {}, /listening on :: needs --insecure-open/);
  await refusesToStart(['--host', '192.0.2.1'], {}, /listening on 192\.0\.2\.1 needs --insecure-open/);
  // A flag value that is not a boolean is a usage error, before anything else.
  const r2 = await runServe(['--host', '0.0.0.0', '--insecure-open=maybe']);
  assert.strictEqual(r2.listened, false, r2.stderr);
  assert.strictEqual(r2.code, 2, r2.stderr);
  assert.match(r2.stderr, /--insecure-open: expected true or false, got "maybe"/);
});

test('startup: --insecure-open parses (on 127.0.0.1) and open mode serves', async () => {
  for (const extra of [['--insecure-open'], ['--insecure-open=true']]) {
    const p = await startParley({ env: ENV, args: ['--host', '127.0.0.1', ...extra] });
    try {
      assert.match(p.stderr(), /"event":"open_mode"/);
      const { socket, ready } = await p.connect({ user: 'alice' });
      assert.deepStrictEqual(ready.user, { id: 'alice', name: 'alice' });
      socket.disconnect();
    } finally {
      assert.strictEqual(await p.stop(), 0);
    }
  }
  // On loopback without the flag, open mode is fine too; with a secret, no warning.
  const r = await runServe(['--host', '127.0.0.1', '--jwt-secret', SECRET]);
  assert.strictEqual(r.listened, true, r.stderr);
  assert.doesNotMatch(r.stderr, /"event":"open_mode"/);
});

test('startup: a bad --jwt-public-key or --jwt-alg is refused with a precise message', async () => {
  const { rsa, ec } = getKeys();
  const missing = path.join(tmp, 'no-such-key.pem');
  await refusesToStart(['--jwt-alg', 'RS256', '--jwt-public-key', missing], {},
    new RegExp(`^authentication: cannot open public key file ${missing.replace(/[.]/g, '\\.')}: No such file or directory$`));
  const garbage = path.join(tmp, 'garbage.pem');
  fs.writeFileSync(garbage, 'this is not a key\n');
  await refusesToStart(['--jwt-alg', 'RS256', '--jwt-public-key', garbage], {}, /does not parse as PEM \(expected BEGIN PUBLIC KEY/);
  const empty = path.join(tmp, 'empty.pem');
  fs.writeFileSync(empty, '');
  await refusesToStart(['--jwt-alg', 'ES256', '--jwt-public-key', empty], {}, /does not parse as PEM/);
  await refusesToStart(['--jwt-alg', 'RS256', '--jwt-public-key', tmp], {}, /public key file .*: Is a directory$/);
  await refusesToStart(['--jwt-alg', 'RS256', '--jwt-public-key', path.join(tmp, 'ec.pem')], {},
    /^authentication: EC key given for RS256 \(needs an RSA key\)$/);
  await refusesToStart(['--jwt-alg', 'ES256', '--jwt-public-key', path.join(tmp, 'rsa.pem')], {},
    /^authentication: RSA key given for ES256 \(needs an EC P-256 key\)$/);
  const crypto = require('crypto');
  const small = path.join(tmp, 'rsa1024.pem');
  fs.writeFileSync(small, crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }));
  await refusesToStart(['--jwt-alg', 'RS256', '--jwt-public-key', small], {}, /RSA key is 1024 bits; RS256 needs at least 2048/);
  const p384 = path.join(tmp, 'p384.pem');
  fs.writeFileSync(p384, crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'pem' }));
  await refusesToStart(['--jwt-alg', 'ES256', '--jwt-public-key', p384], {}, /EC key is not on curve P-256/);
  // Contradictions: a key without saying RS/ES256, a secret with RS256, an unknown alg.
  await refusesToStart(['--jwt-public-key', path.join(tmp, 'rsa.pem')], {}, /HS256 takes a secret, not a public key/);
  await refusesToStart(['--jwt-alg', 'RS256', '--jwt-secret', SECRET, '--jwt-public-key', path.join(tmp, 'rsa.pem')], {},
    /RS256 takes a public key, not a secret/);
  await refusesToStart(['--jwt-alg', 'none', '--jwt-secret', SECRET], {}, /--jwt-alg: expected HS256, RS256 or ES256, got "none"/);
  await refusesToStart(['--jwt-alg', 'hs256', '--jwt-secret', SECRET], {}, /--jwt-alg: expected HS256, RS256 or ES256, got "hs256"/);
  // The environment form of the same settings.
  await refusesToStart([], { PARLEY_JWT_ALG: 'ES256', PARLEY_JWT_PUBLIC_KEY: missing }, /cannot open public key file/);
  // And a good key file starts (checked, then killed as soon as it listens).
  const ok = await runServe(['--jwt-alg', 'RS256', '--jwt-public-key', path.join(tmp, 'rsa.pem')]);
  assert.strictEqual(ok.listened, true, ok.stderr);
  assert.ok(rsa && ec);
});

test('servers exit cleanly', async () => {
  for (const [kind, p] of Object.entries(servers)) {
    assert.strictEqual(await p.stop(), 0, `${kind}: ${p.stderr().split('\n').slice(-10).join('\n')}`);
    delete servers[kind];
  }
});

run();
