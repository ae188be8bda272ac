'use strict';
// Process helpers shared by the Node integration suites: find a binary in
// PARLEY_BUILD_DIR, pick a free loopback port, start a server and wait until
// it is ready (its log says so and its port accepts), and make sure every
// child dies with the test process. Not a supervisor: a child that exits
// early is reported with its output, never restarted.

const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const path = require('path');

const children = new Set();

function killAll() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch (_) {
        // already gone
      }
    }
  }
}

process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    killAll();
    process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
  });
}

function sourceDir() {
  return process.env.PARLEY_SOURCE_DIR || path.resolve(__dirname, '..', '..', '..');
}

function buildDir() {
  return process.env.PARLEY_BUILD_DIR || path.join(sourceDir(), 'build-test');
}

// Path of a binary built by CMake (top level of the build dir), or null.
function findBinary(name) {
  const p = path.join(buildDir(), name);
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return p;
  } catch (_) {
    return null;
  }
}

// A port that was free on host a moment ago. The kernel picks it, so two
// suites running in parallel do not collide on a fixed number.
function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function tryConnect(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

// Start a server process and resolve once it is ready.
//   cmd, args, env (merged over process.env), cwd
//   readyPattern: RegExp the combined stdout/stderr must match (optional)
//   port, host: if given, the port must accept a TCP connection
//   timeoutMs: give up (and kill the child) after this long
//   name: label for messages
// Resolves to a handle { child, pid, port, host, output(), stop(), exited }.
// Rejects with the child's output if it exits or times out before ready.
function startProcess(opts) {
  const {
    cmd,
    args = [],
    env = {},
    cwd,
    readyPattern = null,
    port = null,
    host = '127.0.0.1',
    timeoutMs = 15000,
    name = path.basename(cmd),
  } = opts;
  const child = spawn(cmd, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  const handle = {
    child,
    pid: child.pid,
    port,
    host,
    name,
    exited,
    output: () => out,
    // SIGTERM, then SIGKILL if it lingers; resolves with the exit status.
    async stop(graceMs = 3000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const st = await exited;
      clearTimeout(timer);
      return st;
    },
  };

  return new Promise((resolve, reject) => {
    let done = false;
    let logReady = readyPattern === null;
    let probing = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stdout.removeListener('data', onData);
      child.stderr.removeListener('data', onData);
      if (err) {
        child.kill('SIGKILL');
        reject(new Error(`${name}: ${err}\n--- output ---\n${out}`));
      } else {
        resolve(handle);
      }
    };
    // Probing is driven by events: after the ready line, and again each
    // time the child writes something, with a short retry only while the
    // port still refuses (a server may log before listen() returns).
    const probe = async () => {
      if (done || probing || !logReady) return;
      if (port === null) return finish(null);
      probing = true;
      for (let delay = 5; !done; delay = Math.min(delay * 2, 100)) {
        if (await tryConnect(host, port)) return finish(null);
        await new Promise((r) => setTimeout(r, delay));
      }
    };
    const onData = (d) => {
      out += d.toString();
      if (!logReady && readyPattern.test(out)) {
        logReady = true;
        probe();
      }
    };
    // Keep collecting output after readiness for diagnostics.
    child.stdout.on('data', (d) => {
      if (done) out += d.toString();
    });
    child.stderr.on('data', (d) => {
      if (done) out += d.toString();
    });
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', (e) => finish(`failed to start: ${e.message}`));
    exited.then(({ code, signal }) => finish(`exited before ready (code ${code}, signal ${signal})`));
    const timer = setTimeout(() => finish(`not ready after ${timeoutMs} ms`), timeoutMs);
    probe();
  });
}

// Start a binary from the build dir on a free port. `args` may contain the
// placeholder '{port}', replaced by the chosen port; if it does not, and
// portFlag is set (default '--port'), `--port N` is appended.
async function startBinary(name, opts = {}) {
  const bin = findBinary(name);
  if (!bin) throw new Error(`${name} not found in ${buildDir()} (set PARLEY_BUILD_DIR)`);
  return startOnFreePort(bin, opts);
}

async function startOnFreePort(cmd, opts = {}) {
  const host = opts.host || '127.0.0.1';
  const port = opts.port || (await freePort(host));
  let args = (opts.args || []).map((a) => (a === '{port}' ? String(port) : a));
  const portFlag = opts.portFlag === undefined ? '--port' : opts.portFlag;
  if (!(opts.args || []).includes('{port}') && portFlag) args = [portFlag, String(port), ...args];
  return startProcess({
    readyPattern: /listening/,
    ...opts,
    cmd: opts.node ? process.execPath : cmd,
    args: opts.node ? [cmd, ...args] : args,
    port,
    host,
  });
}

// Resident set size and its peak, in bytes, from /proc (Linux only).
function memoryOf(pid) {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : null;
  };
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

module.exports = {
  sourceDir,
  buildDir,
  findBinary,
  freePort,
  startProcess,
  startBinary,
  startOnFreePort,
  memoryOf,
  killAll,
};
