// lib.mjs — process, /proc and statistics helpers shared by bench/bench.mjs.
//
// Everything here runs in the one Node process that drives the benchmark; child
// processes (servers, clients, Chromium) are spawned with their output piped so
// their progress lines can be awaited (no sleeps to synchronise).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import readline from 'node:readline';

export const CLK_TCK = 100; // Linux USER_HZ: /proc/PID/stat counts in 1/100 s

// CLOCK_MONOTONIC in µs: the clock g_get_monotonic_time() reads in our clients.
export const monoUs = () => Number(process.hrtime.bigint() / 1000n);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function median (xs) { return percentile(xs, 0.5); }
export function percentile (xs, p) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * p, lo = Math.floor(i), hi = Math.ceil(i);
  return s[lo] + (s[hi] - s[lo]) * (i - lo);
}

// A child process whose stdout lines can be awaited: waitLine(re, ms).
export class Child {
  constructor (cmd, args, { env, name, stderrFile } = {}) {
    this.name = name || cmd;
    this.lines = [];
    this.waiters = [];
    this.proc = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.pid = this.proc.pid;
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, sig) => resolve({ code, sig })));
    this.exitCode = null;
    this.exited.then((r) => { this.exitCode = r.code; for (const w of this.waiters) w.check(); });
    const out = stderrFile ? fs.createWriteStream(stderrFile.replace(/\.err$/, '') + '.out') : null;
    readline.createInterface({ input: this.proc.stdout }).on('line', (line) => {
      const t = monoUs();
      this.lines.push({ t, line });
      if (out) out.write(`${t} ${line}\n`);
      for (const w of this.waiters) w.check();
    });
    const err = stderrFile ? fs.createWriteStream(stderrFile) : null;
    this.stderrTail = '';
    this.proc.stderr.on('data', (d) => {
      if (err) err.write(d);
      this.stderrTail = (this.stderrTail + d).slice(-4000);
    });
  }

  // Resolves with the first stdout line matching @re ({t, line, m}); rejects on
  // timeout or when the process exits without printing it.
  waitLine (re, ms = 30000) {
    return new Promise((resolve, reject) => {
      const w = {};
      const done = (fn, v) => { clearTimeout(w.timer); this.waiters = this.waiters.filter((x) => x !== w); fn(v); };
      w.check = () => {
        for (const l of this.lines) {
          const m = l.line.match(re);
          if (m) return done(resolve, { ...l, m });
        }
        if (this.exitCode !== null)
          done(reject, new Error(`${this.name} exited (${this.exitCode}) before "${re}": ${this.stderrTail.slice(-600)}`));
      };
      w.timer = setTimeout(() => done(reject, new Error(`${this.name}: no "${re}" within ${ms} ms`)), ms);
      this.waiters.push(w);
      w.check();
    });
  }

  async wait (ms = 60000) {
    let timer;
    const t = new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`${this.name}: still running after ${ms} ms`)), ms); });
    try { return await Promise.race([this.exited, t]); } finally { clearTimeout(timer); }
  }

  kill (sig = 'SIGTERM') { if (this.exitCode === null) { try { this.proc.kill(sig); } catch {} } }
}

// utime + stime of one process (all its threads), in seconds; NaN if gone.
export function cpuSeconds (pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch { return NaN; }
}

// PID -> parent PID for every process, from /proc.
function parentMap () {
  const m = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      m.set(Number(d), Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {}
  }
  return m;
}

// CPU seconds of @pid and all its descendants, per PID (so a window can be
// taken over the processes alive at both ends).
export function treeCpu (pid) {
  const parents = parentMap();
  const want = new Set([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [p, pp] of parents) if (!want.has(p) && want.has(pp)) { want.add(p); grew = true; }
  }
  const out = new Map();
  for (const p of want) { const c = cpuSeconds(p); if (!Number.isNaN(c)) out.set(p, c); }
  return out;
}

export function treeCpuDelta (a, b) {
  let sum = 0;
  for (const [p, c] of b) sum += c - (a.get(p) || 0);   // a process born in the window counts whole
  return sum;
}

export function sh (cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts }).trim();
}

export function trySh (cmd, args) {
  try { return sh(cmd, args); } catch (e) { return ''; }
}

export function machine () {
  const cpu = os.cpus();
  const ver = (cmd, args, re) => { const o = trySh(cmd, args); const m = o.match(re); return m ? m[1] : o.split('\n')[0] || '?'; };
  return {
    nproc: cpu.length,
    cpu_model: cpu[0] ? cpu[0].model : '?',
    memory_gib: Math.round(os.totalmem() / 2 ** 30 * 10) / 10,
    kernel: os.release(),
    debian: trySh('cat', ['/etc/debian_version']),
    gstreamer: ver('pkg-config', ['--modversion', 'gstreamer-1.0'], /(.*)/),
    libnice: ver('pkg-config', ['--modversion', 'nice'], /(.*)/),
    libwebsockets: ver('pkg-config', ['--modversion', 'libwebsockets'], /(.*)/),
    openssl: ver('openssl', ['version'], /OpenSSL (\S+)/),
    chromium: ver('/usr/lib/chromium/chromium', ['--version'], /Chromium (\S+)/),
    janus: ver('dpkg-query', ['-W', '-f=${Version}', 'janus'], /(.*)/),
    node: process.version,
    load_before: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}
