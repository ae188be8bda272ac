// 40-bench-smoke: the benchmark tools work — bench/loadgen runs every
// scenario for a moment against examples/fanout, the Node peer
// (bench/peers/fanout.js) and `parley serve`, and its JSON says what a
// working run says (everything connected, messages delivered, each with a
// latency sample, no errors). Not a benchmark: nothing here is timed, and
// the sizes are tiny; `make bench` is the benchmark.
'use strict';
const assert = require('assert');
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { test, run, startServer, binPath } = require('./lib/harness');
const { startParley } = require('./lib/parley');
const { startOnFreePort } = require('./lib/proc');

const SRC = process.env.PARLEY_SOURCE_DIR || path.join(__dirname, '..', '..');
const LOADGEN = binPath('loadgen');

// Runs loadgen; resolves with { code, json, stderr }.
function loadgen(args, timeoutMs = 120000) {
  return new Promise((resolve, reject) => {
    const p = spawn(LOADGEN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`loadgen ${args.join(' ')} timed out:\n${err}`)); }, timeoutMs);
    p.on('exit', (code) => {
      clearTimeout(t);
      let json = null;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) json = JSON.parse(line);
      resolve({ code, json, stderr: err });
    });
  });
}

async function ok(args) {
  const r = await loadgen(args);
  assert.strictEqual(r.code, 0, `loadgen ${args.join(' ')} failed:\n${r.stderr}`);
  assert.ok(r.json, `no JSON line:\n${r.stderr}`);
  return r.json;
}

const SHORT = ['--warmup-ms', '200', '--duration-ms', '800', '--setup-timeout-ms', '30000'];

function checkFanout(j, n) {
  assert.strictEqual(j.errors, 0, `errors: ${j.first_error}`);
  assert.strictEqual(j.established, n);
  assert.ok(j.sent > 0, 'sent something');
  assert.ok(j.delivered > 0, 'delivered something');
  assert.strictEqual(j.latency_us.count, j.delivered, 'one latency sample per delivery');
  assert.ok(j.latency_us.p50 > 0 && j.latency_us.p50 <= j.latency_us.p99 && j.latency_us.p99 <= j.latency_us.max);
  assert.ok(j.acked > 0 && j.ack_latency_us.count === j.acked);
  assert.ok(j.server_cpu_s >= 0 && j.gen_cpu_s >= 0 && j.server_rss_kib > 0, 'server and generator figures');
}

test('options: --help, a bad scenario, a closed port', async () => {
  let r = await loadgen(['--help']);
  assert.strictEqual(r.code, 0);
  r = await loadgen(['nosuch']);
  assert.notStrictEqual(r.code, 0);
  assert.match(r.stderr, /unknown scenario/);
  r = await loadgen(['fanout', '--connections', '3', '--senders', '4']);
  assert.notStrictEqual(r.code, 0);
  assert.match(r.stderr, /--senders/);
  // a port nobody listens on: the run fails at once, saying why
  const srv = await startServer('fanout', ['--port', '0']);
  const port = srv.port;
  await srv.stop();
  r = await loadgen(['idle', '--port', String(port), '--connections', '2']);
  assert.notStrictEqual(r.code, 0);
  assert.match(r.stderr, /refused/);
});

test('fanout against examples/fanout: fixed rate, saturation, two processes', async () => {
  const srv = await startServer('fanout', ['--port', '0']);
  try {
    const base = ['fanout', '--port', String(srv.port), '--server-pid', String(srv.pid), '--connections', '20',
      '--rooms', '2', '--senders', '2', ...SHORT];
    let j = await ok([...base, '--rate', '50']);
    checkFanout(j, 20);
    // each say reaches the 9 others of its room: never more than that
    assert.ok(j.delivered <= j.sent * 9 + 9 * 2 * 50, `delivered ${j.delivered} for ${j.sent} sent`);
    j = await ok([...base, '--rate', '0', '--window', '4']);
    checkFanout(j, 20);
    j = await ok([...base, '--rate', '20', '--procs', '2']);
    checkFanout(j, 20);
  } finally {
    assert.strictEqual(await srv.stop(), 0, srv.stderr().slice(-2000));
  }
});

test('fanout against the Node peer (socket.io 4.8)', async () => {
  const peer = await startOnFreePort(path.join(SRC, 'bench', 'peers', 'fanout.js'), { node: true, name: 'node-peer' });
  try {
    const j = await ok(['fanout', '--port', String(peer.port), '--server-pid', String(peer.pid), '--connections', '20',
      '--rooms', '2', '--senders', '2', '--rate', '50', '--label', 'node', ...SHORT]);
    checkFanout(j, 20);
    assert.strictEqual(j.label, 'node');
  } finally {
    await peer.stop();
  }
});

test('idle, connect and storm against examples/fanout', async () => {
  const srv = await startServer('fanout', ['--port', '0']);
  try {
    const base = ['--port', String(srv.port), '--server-pid', String(srv.pid), '--setup-timeout-ms', '30000'];
    let j = await ok(['idle', ...base, '--connections', '50', '--settle-ms', '100', '--duration-ms', '300']);
    assert.strictEqual(j.established, 50);
    assert.strictEqual(j.errors, 0, j.first_error);
    assert.ok(j.server_rss_kib > 0 && j.server_rss_base_kib > 0 && 'server_rss_per_conn_bytes' in j);

    j = await ok(['connect', ...base, '--connections', '100', '--concurrency', '20']);
    assert.strictEqual(j.connect_latency_us.count, 100);
    assert.strictEqual(j.established, 100);
    assert.ok(j.connects_per_s > 0 && j.server_cpu_us_per_connect > 0);

    j = await ok(['storm', ...base, '--connections', '100']);
    assert.strictEqual(j.connect_latency_us.count, 100, 'every connection came back once');
    assert.strictEqual(j.established, 100);
    assert.ok(j.window_s > 0);
  } finally {
    assert.strictEqual(await srv.stop(), 0, srv.stderr().slice(-2000));
  }
});

test('chat against parley serve (open mode)', async () => {
  const p = await startParley({
    args: ['--default-channels', '', '--send-rate', '100000', '--send-burst', '100000',
      '--event-rate', '100000', '--event-burst', '100000'],
  });
  try {
    for (const mode of [['--rate', '20'], ['--rate', '0', '--window', '2']]) {
      const j = await ok(['chat', '--port', String(p.port), '--server-pid', String(p.pid), '--connections', '20',
        '--rooms', '10', '--senders', '10', '--channel-prefix', 'smoke', ...mode, ...SHORT]);
      assert.strictEqual(j.errors, 0, j.first_error);
      assert.strictEqual(j.refused, 0, j.first_refusal);
      assert.strictEqual(j.established, 20);
      assert.ok(j.acked > 0 && j.ack_latency_us.count === j.acked, 'acked sends with latencies');
      assert.ok(j.delivered > 0 && j.latency_us.count === j.delivered, 'message:new received');
    }
    // the messages are really in the store: history has them
    const { socket } = await p.connect({ user: 'smoke-reader' });
    const { request } = require('./lib/parley');
    const joined = await request(socket, 'channel:join', { channel: 'smoke-0' });
    assert.ok(joined.ok, JSON.stringify(joined));
    assert.ok(joined.messages.length > 0 && /^T\d+:\d+;/.test(joined.messages[0].text));
  } finally {
    await p.stop();
  }
});

test('report.js turns results into the ratio table', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-report-'));
  const res = path.join(dir, 'results.jsonl');
  const mach = path.join(dir, 'machine.json');
  const mk = (server, dps) => JSON.stringify({ case: 'fanout_sat', server, cmd: 'x', result: {
    delivered_per_s: dps, server_cpu_pct: 90, gen_cpu_pct: 30, server_cpu_s_per_million_deliveries: 1,
    latency_us: { p50: 1, p99: 2, p999: 3, max: 4 }, errors: 0, skipped: 0, server_rss_kib: 1024 } });
  fs.writeFileSync(res, mk('parley', 1300000) + '\n' + mk('node', 100000) + '\n');
  fs.writeFileSync(mach, JSON.stringify({ cpus: 'test' }));
  const out = await new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [path.join(SRC, 'bench', 'report.js'), res, mach]);
    let o = '';
    c.stdout.on('data', (d) => { o += d; });
    c.on('exit', (code) => (code === 0 ? resolve(o) : reject(new Error('report.js failed'))));
  });
  const row = out.split('\n').find((l) => l.startsWith('| fanout saturation: deliveries/s'));
  assert.ok(row, out);
  assert.match(row, /1,300,000 \| 100,000 \| 13\.00× \| >= 1\.2M\/s and >= 8x \| yes/);
  fs.rmSync(dir, { recursive: true });
});

run();
