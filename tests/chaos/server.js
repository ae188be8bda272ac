// server.js — `parley serve` under the chaos suite's control: start, kill
// with any signal (kill -9 included), start again on the same port and data
// directory, and keep every run's log, so a scenario can look for a line
// (slow_consumer) or a sanitizer report across restarts. CHAOS_SERVER_ARGS
// (space-separated flags) is added to every start, for experiments such as
// CHAOS_SERVER_ARGS=--recovery=false. tests/js/lib's
// launcher restarts only after a clean stop and keeps only the last log.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const BUILD_DIR = process.env.PARLEY_BUILD_DIR || path.join(__dirname, '..', '..', 'build-test');

const SANITIZER = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|ThreadSanitizer|SUMMARY: UndefinedBehaviorSanitizer/;

class ChaosServer {
  // opts: args (extra flags), env, dataDir, logLevel (default info)
  constructor(opts = {}) {
    this.opts = opts;
    this.dataDir = opts.dataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'parley-chaos-'));
    this.port = opts.port || 0;
    this.runs = []; // { pid, log, startedAt, listeningAt, exit }
    this.proc = null;
  }

  get url() { return `http://127.0.0.1:${this.port}`; }
  get pid() { return this.proc ? this.proc.pid : null; }
  get current() { return this.runs[this.runs.length - 1]; }

  // Starts a run; resolves once it logs "listening" (first start picks a
  // free port; later starts reuse it so clients find the server again).
  start({ timeoutMs = 30000 } = {}) {
    const exe = path.join(BUILD_DIR, 'parley');
    const args = ['serve', '--port', String(this.port), '--data', this.dataDir,
      '--log-level', this.opts.logLevel || 'info', ...(this.opts.args || []),
      ...(process.env.CHAOS_SERVER_ARGS ? process.env.CHAOS_SERVER_ARGS.split(' ').filter(Boolean) : [])];
    const env = { ...process.env, ...(this.opts.env || {}) };
    // A leak report at every SIGTERM of a crash-tested server would be noise;
    // leaks are the unit tests' business. Other sanitizer errors still abort.
    env.ASAN_OPTIONS = [env.ASAN_OPTIONS, 'detect_leaks=0'].filter(Boolean).join(':');
    const startedAt = Date.now();
    const proc = spawn(exe, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    const run = { pid: proc.pid, log: '', startedAt, listeningAt: 0, exit: null };
    this.runs.push(run);
    this.proc = proc;
    run.exited = new Promise((resolve) => proc.on('exit', (code, sig) => {
      run.exit = { code, sig, at: Date.now() };
      if (this.proc === proc) this.proc = null;
      resolve(run.exit);
    }));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`parley did not start in ${timeoutMs} ms:\n${run.log.slice(-4000)}`)), timeoutMs);
      let seen = false;
      proc.stderr.on('data', (d) => {
        run.log += d.toString();
        if (process.env.CHAOS_VERBOSE) process.stderr.write(d);
        if (seen) return;
        const line = run.log.split('\n').find((l) => l.includes('"event":"listening"'));
        if (!line) return;
        seen = true;
        clearTimeout(timer);
        const m = [...line.matchAll(/:(\d{2,5})\b/g)].pop();
        this.port = m ? Number(m[1]) : this.port;
        run.listeningAt = Date.now();
        resolve(run);
      });
      run.exited.then((e) => { if (!seen) { clearTimeout(timer); reject(new Error(`parley exited (${e.code}/${e.sig}) before listening:\n${run.log.slice(-4000)}`)); } });
    });
  }

  // Sends signal and waits for the exit (SIGKILL after graceMs).
  async kill(signal = 'SIGKILL', graceMs = 15000) {
    const proc = this.proc;
    if (!proc) return null;
    const run = this.current;
    const t0 = Date.now();
    proc.kill(signal);
    const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    const exit = await run.exited;
    clearTimeout(t);
    if (signal !== 'SIGKILL' && exit.sig === 'SIGKILL') run.hung = `did not exit within ${graceMs} ms of ${signal}`;
    return { ...exit, ms: Date.now() - t0 };
  }

  async restart(signal = 'SIGKILL') {
    const exit = await this.kill(signal);
    const run = await this.start();
    return { exit, startMs: run.listeningAt - run.startedAt };
  }

  log() { return this.runs.map((r) => r.log).join(''); }

  // Parsed JSON log lines with the given event name, across runs.
  events(name) {
    const out = [];
    for (const l of this.log().split('\n')) {
      if (!l.includes(`"event":"${name}"`)) continue;
      try { out.push(JSON.parse(l)); } catch (_) { /* not a log line */ }
    }
    return out;
  }

  // Sanitizer reports and unexpected exits: anything here fails a scenario.
  problems() {
    const out = [];
    for (const r of this.runs) {
      const m = SANITIZER.exec(r.log);
      if (m) out.push(`run pid ${r.pid}: sanitizer report:\n${r.log.slice(Math.max(0, m.index - 200), m.index + 3000)}`);
      if (r.hung) out.push(`run pid ${r.pid}: ${r.hung}`);
      if (r.exit && r.exit.sig && r.exit.sig !== 'SIGKILL') out.push(`run pid ${r.pid}: died of ${r.exit.sig}\n${r.log.slice(-2000)}`);
      if (r.exit && r.exit.code) out.push(`run pid ${r.pid}: exit code ${r.exit.code}\n${r.log.slice(-2000)}`);
    }
    return out;
  }

  // VmRSS and VmHWM of the live process, in KiB.
  memory() {
    if (!this.proc) return null;
    try {
      const t = fs.readFileSync(`/proc/${this.proc.pid}/status`, 'utf8');
      const kb = (k) => { const m = new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(t); return m ? Number(m[1]) : null; };
      return { rssKiB: kb('VmRSS'), hwmKiB: kb('VmHWM') };
    } catch (_) {
      return null;
    }
  }

  // Stops the server (SIGTERM) and removes its data.
  async stop({ keepData = false } = {}) {
    if (this.proc) await this.kill('SIGTERM');
    if (!keepData) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

module.exports = { ChaosServer, BUILD_DIR };
