// harness.js — shared pieces for the Node integration tests: start a built
// binary and learn its port from its "listening" log line, raw HTTP
// exchanges, /proc readings, and a tiny sequential test runner whose last
// line is "N passed, N failed".
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const path = require('path');

const BUILD_DIR = process.env.PARLEY_BUILD_DIR || path.join(__dirname, '..', '..', '..', 'build');

function binPath(name) {
  return path.join(BUILD_DIR, name);
}

// Starts BUILD_DIR/<bin> with args; resolves once it logs its "listening"
// event, with { port, pid, proc, stderr(), stop(signal) }. The port is the
// last ":NNNN" in that line's message. opts.ulimit caps open files;
// opts.env adds variables.
function startServer(bin, args = [], opts = {}) {
  const exe = binPath(bin);
  let cmd = exe, argv = args;
  if (opts.ulimit) {
    cmd = '/bin/sh';
    argv = ['-c', `ulimit -n ${opts.ulimit} && exec "$0" "$@"`, exe, ...args];
  }
  const proc = spawn(cmd, argv, {
    env: { ...process.env, ...(opts.env || {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let exited = null;
  const exitPromise = new Promise((resolve) => proc.on('exit', (code, sig) => {
    exited = { code, sig };
    resolve(code === null ? 128 : code);
  }));
  proc.stdout.on('data', (d) => { if (opts.echo) process.stdout.write(d); });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${bin} did not start:\n${err}`)), opts.startTimeoutMs || 15000);
    proc.stderr.on('data', (d) => {
      err += d.toString();
      if (process.env.PARLEY_TEST_VERBOSE) process.stderr.write(d);
      const line = err.split('\n').find((l) => l.includes('"event":"listening"'));
      if (line && timer) {
        clearTimeout(timer);
        const m = [...line.matchAll(/:(\d{2,5})\b/g)].pop();
        const port = m ? Number(m[1]) : 0;
        resolve({
          port, pid: proc.pid, proc,
          stderr: () => err,
          exited: () => exited,
          async stop(signal = 'SIGTERM', timeoutMs = 10000) {
            if (!exited) proc.kill(signal);
            const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
            const code = await exitPromise;
            clearTimeout(t);
            return code;
          },
        });
      }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${bin} exited with ${code}:\n${err}`)); });
  });
}

// Parses HTTP/1.1 responses out of a byte stream. Returns { responses, rest }.
function parseResponses(buf, headOnly) {
  const out = [];
  for (;;) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) break;
    const lines = buf.slice(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (!m) throw new Error('bad status line: ' + lines[0]);
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const status = Number(m[1]);
    const noBody = headOnly || status === 304 || status === 204 || status === 101 || (status >= 100 && status < 200);
    const len = noBody ? 0 : Number(headers['content-length'] || 0);
    if (buf.length < end + 4 + len) break;
    out.push({ status, headers, body: buf.slice(end + 4, end + 4 + len).toString() });
    buf = buf.slice(end + 4 + len);
  }
  return { responses: out, rest: buf };
}

// Sends data (a string, or an array of chunks written one at a time) and
// collects opts.count responses (default 1), or whatever came before close.
function rawRequest(port, data, opts = {}) {
  const count = opts.count || 1;
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, opts.host || '127.0.0.1');
    sock.setNoDelay(true);
    let buf = Buffer.alloc(0);
    let got = [];
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('no response in time')); }, opts.timeoutMs || 10000);
    const finish = () => { clearTimeout(timer); sock.destroy(); resolve(got); };
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const r = parseResponses(buf, opts.head);
      got = got.concat(r.responses);
      buf = r.rest;
      if (got.length >= count) finish();
    });
    sock.on('close', finish);
    sock.on('error', (e) => { if (!got.length) { clearTimeout(timer); reject(e); } });
    sock.on('connect', async () => {
      const chunks = Array.isArray(data) ? data : [data];
      for (const c of chunks) {
        sock.write(c);
        // Separate segments, so the server sees the pieces as separate reads.
        if (chunks.length > 1) await new Promise((r) => setTimeout(r, 2));
      }
    });
  });
}

// CPU time (user+system) and RSS of a process, from /proc.
function readProcStat(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssPages = Number(fields[21]);
  return { cpuMs: ticks * 10, rssKiB: rssPages * 4 };
}

const tests = [];
function test(name, fn) { tests.push({ name, fn }); }

async function run() {
  let passed = 0, failed = 0;
  const only = process.env.TEST_ONLY;
  for (const t of tests) {
    if (only && !t.name.includes(only)) continue;
    const started = Date.now();
    try {
      await t.fn();
      passed++;
      console.log(`ok - ${t.name} (${Date.now() - started} ms)`);
    } catch (e) {
      failed++;
      console.log(`not ok - ${t.name}\n  ${(e && e.stack || String(e)).split('\n').join('\n  ')}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

module.exports = { BUILD_DIR, binPath, startServer, rawRequest, parseResponses, readProcStat, test, run };
