'use strict';
// report.js — turns the results of one bench/run.sh run into the tables of
// docs/benchmarks.md: the side-by-side ratio table (Parley / Node, one row
// per figure, with the targets), the raw figures of every run, the
// machine, and the exact commands.
//
// usage: node bench/report.js RESULTS.jsonl MACHINE.json
// RESULTS.jsonl: one line per run: {"case", "server", "cmd", "result"}
// where result is the loadgen's JSON line (or null when the run failed).
// Prints Markdown on stdout.
const fs = require('fs');

const [resultsPath, machinePath] = process.argv.slice(2);
if (!resultsPath || !machinePath) {
  console.error('usage: node bench/report.js RESULTS.jsonl MACHINE.json');
  process.exit(2);
}
const runs = fs.readFileSync(resultsPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const machine = JSON.parse(fs.readFileSync(machinePath, 'utf8'));

function find(kase, server) {
  const r = runs.find((x) => x.case === kase && x.server === server);
  return r ? r.result : undefined;
}

const fmt = (v, digits) => {
  if (v === undefined || v === null || Number.isNaN(v)) return 'n/a';
  if (typeof v === 'string') return v;
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(digits === undefined ? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2) : digits);
};

// Each row: which run, how to read the figure, which way is better, and the
// issue's target (on Parley's figure, or on the ratio).
const ms = (us) => (us === undefined ? undefined : us / 1000);
const rows = [
  { kase: 'fanout_sat', name: 'fanout saturation: deliveries/s', get: (r) => r.delivered_per_s,
    better: 'higher', target: { parley: (v) => v >= 1.2e6, ratio: (q) => q >= 8, text: '>= 1.2M/s and >= 8x' } },
  { kase: 'fanout_sat', name: 'fanout saturation: server CPU s per million deliveries',
    get: (r) => r.server_cpu_s_per_million_deliveries, better: 'lower' },
  { kase: 'fanout_sat', name: 'fanout saturation: server CPU, % of its core', get: (r) => r.server_cpu_pct, better: 'info' },
  { kase: 'fanout_sat', name: 'fanout saturation: generator CPU, % of its core', get: (r) => r.gen_cpu_pct, better: 'info' },
  { kase: 'fanout_100k', name: 'fanout at 100k deliveries/s: latency p99 (ms)', get: (r) => ms(r.latency_us.p99),
    better: 'lower', target: { parley: (v) => v <= 5, text: '<= 5 ms' } },
  { kase: 'fanout_100k', name: 'fanout at 100k deliveries/s: latency p50 (ms)', get: (r) => ms(r.latency_us.p50), better: 'lower' },
  { kase: 'fanout_100k', name: 'fanout at 100k deliveries/s: latency p99.9 (ms)', get: (r) => ms(r.latency_us.p999), better: 'lower' },
  { kase: 'fanout_100k', name: 'fanout at 100k deliveries/s: delivered/s', get: (r) => r.delivered_per_s, better: 'info' },
  { kase: 'fanout_100k', name: 'fanout at 100k deliveries/s: server CPU s per million deliveries',
    get: (r) => r.server_cpu_s_per_million_deliveries, better: 'lower' },
  { kase: 'fanout_500k', name: 'fanout at 500k deliveries/s: server CPU s per million deliveries (= us each)',
    get: (r) => r.server_cpu_s_per_million_deliveries, better: 'lower', target: { parley: (v) => v <= 1.0, text: '<= 1.0 us' } },
  { kase: 'fanout_500k', name: 'fanout at 500k deliveries/s: delivered/s', get: (r) => r.delivered_per_s, better: 'info' },
  { kase: 'fanout_500k', name: 'fanout at 500k deliveries/s: latency p99 (ms)', get: (r) => ms(r.latency_us.p99), better: 'lower' },
  { kase: 'idle', name: 'idle: server RSS per connection (KiB)', get: (r) => r.server_rss_per_conn_bytes / 1024,
    better: 'lower', target: { parley: (v) => v <= 2, text: '<= 2 KiB' } },
  { kase: 'idle', name: 'idle: connections held', get: (r) => r.established, better: 'info' },
  { kase: 'connect', name: 'connect: connections/s', get: (r) => r.connects_per_s, better: 'higher',
    note: (r) => (r.timed_out ? ` (gave up; ${fmt(r.established, 0)} up)` : ''),
    target: { ratio: (q) => q >= 3, text: '>= 3x' } },
  { kase: 'connect', name: 'connect: server CPU us per connection', get: (r) => r.server_cpu_us_per_connect, better: 'lower' },
  { kase: 'connect', name: 'connect: establishment p99 (ms)', get: (r) => ms(r.connect_latency_us.p99), better: 'lower' },
  { kase: 'storm', name: 'storm: seconds until all are back', get: (r) => r.window_s, better: 'lower',
    note: (r) => (r.timed_out ? ` (gave up; ${fmt(r.established, 0)} back)` : '') },
  { kase: 'storm', name: 'storm: outage per client p50 (ms)', get: (r) => ms(r.connect_latency_us.p50), better: 'lower' },
  { kase: 'storm', name: 'storm: outage per client p99 (ms)', get: (r) => ms(r.connect_latency_us.p99), better: 'lower' },
  { kase: 'storm', name: 'storm: server CPU us per re-connection', get: (r) => r.server_cpu_us_per_connect, better: 'lower' },
  { kase: 'chat_sat', name: 'chat saturation: persisted, acked messages/s', get: (r) => r.acked_per_s, better: 'higher',
    target: { parley: (v) => v >= 50000, text: '>= 50,000/s' } },
  { kase: 'chat_sat', name: 'chat saturation: ack p99 (ms)', get: (r) => ms(r.ack_latency_us.p99), better: 'lower' },
  { kase: 'chat_sat', name: 'chat saturation: server CPU s per million messages', get: (r) => r.server_cpu_s_per_million_messages, better: 'lower' },
  { kase: 'chat_fixed', name: 'chat at a fixed rate: offered messages/s', get: (r) => r.sent_per_s, better: 'info' },
  { kase: 'chat_fixed', name: 'chat at a fixed rate: persisted, acked messages/s', get: (r) => r.acked_per_s, better: 'higher' },
  { kase: 'chat_fixed', name: 'chat at a fixed rate: ack p99 (ms)', get: (r) => ms(r.ack_latency_us.p99), better: 'lower',
    target: { parley: (v, r) => v < 10 && r.acked_per_s >= 49000, text: '< 10 ms at 50,000/s' } },
  { kase: 'chat_fixed', name: 'chat at a fixed rate: ack p50 (ms)', get: (r) => ms(r.ack_latency_us.p50), better: 'lower' },
  { kase: 'chat_fixed', name: 'chat at a fixed rate: send-to-receive p99 (ms)', get: (r) => ms(r.latency_us.p99), better: 'lower' },
];

function value(kase, server, get) {
  const r = find(kase, server);
  if (!r) return undefined;
  try {
    const v = get(r);
    return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
  } catch (_) {
    return undefined;
  }
}

const out = [];
out.push('| figure | Parley | Node (socket.io) | Parley / Node | target | met |');
out.push('|---|---:|---:|---:|---|---|');
for (const row of rows) {
  const p = value(row.kase, 'parley', row.get);
  const n = value(row.kase, 'node', row.get);
  if (p === undefined && n === undefined) continue;
  const ratio = p !== undefined && n !== undefined && n !== 0 ? p / n : undefined;
  let met = '';
  if (row.target) {
    const checks = [];
    if (row.target.parley) checks.push(p !== undefined ? row.target.parley(p, find(row.kase, 'parley')) : undefined);
    if (row.target.ratio) checks.push(ratio !== undefined ? row.target.ratio(ratio) : undefined);
    met = checks.includes(undefined) ? 'n/a' : checks.every(Boolean) ? 'yes' : '**no**';
  }
  const note = (server) => {
    const r = find(row.kase, server);
    return r && row.note ? row.note(r) : '';
  };
  const nodeCell = n !== undefined ? fmt(n) + note('node') : (!runs.some((x) => x.case === row.kase && x.server === 'node') ? '—' : 'n/a');
  out.push(`| ${row.name}${row.better === 'lower' ? ' ↓' : row.better === 'higher' ? ' ↑' : ''} | ${fmt(p)}${note('parley')} | ${nodeCell} | ${ratio !== undefined && row.better !== 'info' ? fmt(ratio, 2) + '×' : ''} | ${row.target ? row.target.text : ''} | ${met} |`);
}
out.push('');
const noise = (k) => Math.max(0, ...runs.map((x) => (x.result && typeof x.result[k] === 'number' ? x.result[k] : 0)));
const ns = noise('server_core_others_pct'), ng = noise('gen_core_others_pct');
if (ns > 10 || ng > 10) {
  out.push(`**Noisy run:** other processes took up to ${fmt(ns, 0)} % of the server's core and up to ${fmt(ng, 0)} % of the ` +
    'generator\'s core during these measurements (see the last columns below; 0 on a quiet machine). A starved server ' +
    'turns its loop less often and batches more, so throughput and latency figures are pessimistic and CPU per delivery ' +
    'optimistic; the CPU-per-operation rows are the least affected.');
  out.push('');
}
out.push('↑ higher is better, ↓ lower is better; — : no Node run for this figure (the chat scenario is Parley-only; ' +
  'Node runs at 500k/s only when its saturation throughput reaches that).');
out.push('');

// Raw figures of every run, so nothing in the ratios is hidden.
out.push('<details><summary>Every run in full</summary>');
out.push('');
out.push('| run | server | delivered/s | acked/s | p50 ms | p99 ms | p99.9 ms | max ms | server CPU % | gen CPU % | others on server core % | others on gen core % | server RSS MiB | errors | skipped |');
out.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const x of runs) {
  const r = x.result;
  if (!r) {
    out.push(`| ${x.case} | ${x.server} | failed: ${x.error || 'no result'} |||||||||||||`);
    continue;
  }
  const lat = r.latency_us || r.connect_latency_us || {};
  out.push(`| ${x.case} | ${x.server} | ${fmt(r.delivered_per_s)} | ${fmt(r.acked_per_s !== undefined ? r.acked_per_s : r.connects_per_s)} | ` +
    `${fmt(ms(lat.p50))} | ${fmt(ms(lat.p99))} | ${fmt(ms(lat.p999))} | ${fmt(ms(lat.max))} | ${fmt(r.server_cpu_pct)} | ` +
    `${fmt(r.gen_cpu_pct)} | ${fmt(r.server_core_others_pct)} | ${fmt(r.gen_core_others_pct)} | ${fmt(r.server_rss_kib / 1024)} | ${fmt(r.errors, 0)} | ${fmt(r.skipped, 0)} |`);
}
out.push('');
out.push('For connect and storm the acked/s column holds connections/s and the latencies are establishment (connect) or outage (storm) times. ' +
  '"Others on server/gen core": CPU time other processes took on the pinned core during the window (from /proc/stat): ' +
  'the noise in that run; on a quiet machine both are near 0.');
out.push('');
out.push('</details>');
out.push('');

out.push('<details><summary>Machine, versions and exact commands</summary>');
out.push('');
for (const [k, v] of Object.entries(machine)) out.push(`- ${k}: ${v}`);
out.push('');
out.push('```sh');
for (const x of runs) {
  if (x.server_cmd) out.push(x.server_cmd);
  out.push(x.cmd);
}
out.push('```');
out.push('');
out.push('</details>');
console.log(out.join('\n'));
