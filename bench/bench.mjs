// bench.mjs — `make bench`: Televisit next to what a user would pick instead,
// measured side by side in the same run on the same machine (issue 6).
//
//   setup    call setup, our two clients through our server vs Chromium (2 PCs)
//   cpu      CPU seconds of a 20 s 640x480@30 VP8+Opus call, both ends, both
//            sides sending the same clip (a y4m of our test pattern and a WAV
//            of our tone, made once per run); Chromium's own fake camera once
//            more for information
//   load     2,000 WSS clients: televisit-server vs Janus (same load client)
//   booking  64 clients booking + cancelling through the HTTPS API for 30 s
//   badnet   5 % UDP loss (nftables) between two network namespaces, then a
//            3 s outage: fps, freezes > 500 ms, recovery; then 5 % loss with
//            100 ms added to every UDP datagram each way (LD_PRELOAD shim
//            bench/tv-bench-delay.c): fps, freezes, measured RTT
//
// Prints ONE table (figures and ratios ours/reference) and writes every raw
// figure to BUILD/bench/results.json. --smoke runs each part with tiny sizes
// and checks only that numbers came out. Options: --build DIR (default build),
// --only setup,cpu,load,booking,badnet, --smoke, --calls N, --out FILE,
// --booking-seconds N and --booking-clients N (shorter booking runs for A/B),
// --booking-idle-seconds N (server kept up idle after the load; the WAL's size
// at the end) and --wal-trace FILE (the booking part's WAL samples, TSV);
// for A/B runs of our side of cpu and badnet: --no-reference (skip Chromium there),
// --loss-seconds N, --our-args "...". cpu: --cpu-video-kbps N (our target in
// the cpu part, default 1700 = Chromium's ceiling at 640x480). badnet's added
// delay: --delay-ms N (one way, default 100; 0 = no delay run), --jitter-ms N
// (default 0), --delay-seconds N (default 20).
// Method and results: docs/BENCHMARKS.md.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchBooking as bookingRun } from './booking.mjs';
import { Child, monoUs, sleep, median, percentile, cpuSeconds, treeCpu, treeCpuDelta, sh, trySh, machine } from './lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);

// ---- options -------------------------------------------------------------
const argv = process.argv.slice(2);
const opt = (name, def) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : def; };
const SMOKE = argv.includes('--smoke');
const BUILD = path.resolve(ROOT, opt('--build', 'build'));
const ONLY = (opt('--only', 'setup,cpu,load,booking,badnet')).split(',');
const CALLS = Number(opt('--calls', SMOKE ? 2 : 12));
const CPU_S = SMOKE ? 3 : 20;
const LOAD_CLIENTS = Number(opt('--clients', SMOKE ? 20 : 2000));
const LOAD_S = SMOKE ? 3 : 15, LOAD_WARMUP_S = SMOKE ? 1 : 3;
const LOSS_S = Number(opt('--loss-seconds', SMOKE ? 4 : 30)), LOSS_PCT = 5, OUTAGE_S = 3;
const NO_REF = argv.includes('--no-reference');
const DELAY_MS = Number(opt('--delay-ms', 100)), JITTER_MS = Number(opt('--jitter-ms', 0));
const DELAY_S = Number(opt('--delay-seconds', SMOKE ? 4 : 20));
const BOOKING_S = Number(opt('--booking-seconds', SMOKE ? 3 : 30));
const BOOKING_CLIENTS = Number(opt('--booking-clients', SMOKE ? 8 : 64));
// After the booking load the server stays up, idle, this long (WAL size at the
// end of it: docs/BENCHMARKS.md, "WAL size under load"); --wal-trace FILE
// writes the WAL samples (every 0.5 s) as TSV.
const BOOKING_IDLE_S = Number(opt('--booking-idle-seconds', 0));
const WAL_TRACE = opt('--wal-trace', null);
const OUT = path.resolve(opt('--out', path.join(BUILD, 'bench', 'results.json')));
const CHROMIUM = '/usr/bin/chromium';
const W = 640, H = 480, FPS = 30;
// Extra televisit-client flags for experiments (e.g. --our-args "--latency 20").
const OUR_ARGS = (opt('--our-args', '') || '').split(' ').filter(Boolean);
// Our video target in the cpu part: WebRTC's ceiling for one 640x480 stream
// (1.7 Mbit/s), which Chromium reaches on the clip, so ours is not below it.
const CPU_KBPS = Number(opt('--cpu-video-kbps', 1700));
// Extra flags of the part running now: the cpu part's clip for our clients
// (--video-file/--audio-file) and for Chromium (--use-file-for-fake-*).
let partArgs = [], partChromiumArgs = [];

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-bench-'));
const children = new Set();
const cleanups = [];
const results = { machine: machine(), smoke: SMOKE, started: new Date().toISOString() };

function track (c) { children.add(c); c.exited.then(() => children.delete(c)); return c; }
function log (...a) { process.stderr.write(`bench: ${a.join(' ')}\n`); }

// Everything we started goes away on exit, failure or Ctrl-C (namespaces too).
let cleaned = false;
function cleanup () {
  if (cleaned) return;
  cleaned = true;
  for (const c of children) c.kill('SIGKILL');
  for (const f of cleanups.reverse()) { try { f(); } catch {} }
  if (!process.env.TV_BENCH_KEEP_TMP) fs.rmSync(TMP, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { cleanup(); process.exit(130); });

const bin = (name) => path.join(BUILD, name);
const inNs = (ns, cmd, args) => (ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, args]);

// ---- our server and clients ---------------------------------------------
async function startServer ({ ns, listen = '127.0.0.1', hostname, dir }) {
  fs.mkdirSync(dir, { recursive: true });
  const args = ['--data-dir', dir, '--listen', listen, '--port', '0', '--log-level', 'warning',
                '--max-connections', '10000', '--join-timeout', '60'];
  if (hostname) args.push('--hostname', hostname);
  const [cmd, a] = inNs(ns, bin('televisit-server'), args);
  const srv = track(new Child(cmd, a, { name: 'televisit-server', stderrFile: path.join(dir, 'server.err') }));
  const { m } = await srv.waitLine(/^listening on (wss:\/\/\S+?)\/?$/, 20000);
  const url = m[1].replace('0.0.0.0', '127.0.0.1');
  return { srv, url, dir, ca: path.join(dir, 'tls', 'cert.pem'), key: path.join(dir, 'tls', 'key.pem') };
}

// Creates @n consults through the store API and returns [{doctor, patient}] token files.
function makeConsults (server, n) {
  const out = path.join(server.dir, `tokens-${Date.now()}-${n}`);
  sh(bin('tv-bench-load'), ['tokens', '--db', path.join(server.dir, 'televisit.db'), '--consults', String(n), '--out', out]);
  const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
  const pairs = [];
  for (let i = 0; i < n; i++) {
    const d = `${out}.${i}.doctor`, p = `${out}.${i}.patient`;
    fs.writeFileSync(d, lines[2 * i] + '\n', { mode: 0o600 });
    fs.writeFileSync(p, lines[2 * i + 1] + '\n', { mode: 0o600 });
    pairs.push({ doctor: d, patient: p });
  }
  return { pairs, file: out };
}

// One call between our two headless clients. Resolves with both stats JSON
// objects plus the stdout event times; @during(doctor, patient) runs once both
// decoded their first remote frame (CPU window, impairments).
async function ourCall (server, tokens, { duration, nsDoc, nsPat, iceDoc = '127.0.0.1', icePat = '127.0.0.1', during, tag, env }) {
  const one = (role, ns, ice) => {
    const stats = path.join(TMP, `${tag}-${role}.json`);
    const args = ['--server', server.url, '--ca', server.ca, '--token-file', tokens[role], '--headless', '--test-media',
                  '--ice-address', ice, '--duration', String(duration), '--stats-json', stats,
                  '--video-size', `${W}x${H}`, '--framerate', String(FPS)];
    if (role === 'doctor') args.push('--end-on-exit');
    args.push(...partArgs, ...OUR_ARGS);
    const [cmd, a] = inNs(ns, bin('televisit-client'), args);
    return { c: track(new Child(cmd, a, { name: `client-${role}`, env, stderrFile: path.join(TMP, `${tag}-${role}.err`) })), stats };
  };
  const doc = one('doctor', nsDoc, iceDoc);
  await doc.c.waitLine(/^joined /, 20000);
  const pat = one('patient', nsPat, icePat);
  let extra = null;
  if (during) {
    await Promise.all([doc.c.waitLine(/^first remote frame/, 40000), pat.c.waitLine(/^first remote frame/, 40000)]);
    extra = await during(doc.c, pat.c);
  }
  const limit = (duration + 40) * 1000;
  const [rd, rp] = await Promise.all([doc.c.wait(limit), pat.c.wait(limit)]);
  const read = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));
  const sd = read(doc.stats), sp = read(pat.stats);
  if (rd.code !== 0 || rp.code !== 0)
    throw new Error(`our call ${tag}: exit ${rd.code}/${rp.code} (${sd.exit_reason}/${sp.exit_reason})`);
  return { doctor: sd, patient: sp, extra };
}

// ---- Chromium -----------------------------------------------------------
async function launchChromium (ns, env) {
  const { chromium } = await import('playwright-core');
  const userDir = fs.mkdtempSync(path.join(TMP, 'chromium-'));
  let exe = CHROMIUM;
  if (ns) {
    exe = path.join(TMP, `chromium-in-${ns}.sh`);
    fs.writeFileSync(exe, `#!/bin/sh\nexec ip netns exec ${ns} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  }
  const ctx = await chromium.launchPersistentContext(userDir, {
    executablePath: exe,
    headless: true,
    ...(env ? { env: { ...process.env, ...env } } : {}),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           '--use-fake-device-for-media-stream=fps=30', '--use-fake-ui-for-media-stream',
           '--autoplay-policy=no-user-gesture-required', ...partChromiumArgs],
  });
  // The browser process: the one whose command line names our profile and is
  // not a --type= child; CPU is summed over it and all its descendants.
  let browserPid = 0;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cl = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cl.includes(userDir) && !cl.includes('--type=') && cl.includes('chromium')) browserPid = Number(d);
    } catch {}
  }
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') log('chromium console:', m.text()); });
  await page.goto('file://' + path.join(HERE, 'page', 'call.html'));
  const got = await page.evaluate(([w, h, f]) => window.tvb.init(w, h, f), [W, H, FPS]);
  const close = async () => { try { await ctx.close(); } catch {} };
  cleanups.push(() => { if (browserPid) try { process.kill(browserPid, 'SIGKILL'); } catch {} });
  return { ctx, page, browserPid, settings: got, close };
}

// ---- 1. call setup --------------------------------------------------------
async function benchSetup () {
  log(`setup: ${CALLS} calls each`);
  const server = await startServer({ dir: path.join(TMP, 'srv-setup') });
  const { pairs } = makeConsults(server, CALLS);
  const ours = [], chrome = [];
  // Interleaved (ours, Chromium, ours, ...) so both meet the same background load.
  const cr = await launchChromium();
  for (let i = 0; i < CALLS; i++) {
    const r = await ourCall(server, pairs[i], { duration: 1, tag: `setup${i}` });
    const t0 = Math.min(r.doctor.started_us, r.patient.started_us);
    ours.push((r.doctor.first_remote_frame_us - t0) / 1000, (r.patient.first_remote_frame_us - t0) / 1000);
    chrome.push(...await cr.page.evaluate(() => window.tvb.setup()));
  }
  await cr.close();
  server.srv.kill();
  await server.srv.wait(10000);
  results.setup = {
    ours_ms: ours, chromium_ms: chrome, chromium_capture: cr.settings,
    ours_median: median(ours), ours_p90: percentile(ours, 0.9),
    chromium_median: median(chrome), chromium_p90: percentile(chrome, 0.9),
  };
}

// ---- 2. CPU per call ------------------------------------------------------
const ROUNDS = SMOKE ? 1 : 2;
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

// The same picture and sound for both sides: our test pattern (SMPTE bars
// moving 4 px per frame, which wraps after 160 frames, so the clip loops
// without a cut; the noise patch is fresh in every frame) and our tone (440 Hz,
// a whole number of periods in 3 s), written once per run into TMP.
const CLIP_FRAMES = SMOKE ? 30 : 160;
function makeClip () {
  const y4m = path.join(TMP, 'cpu-clip.y4m'), wav = path.join(TMP, 'cpu-clip.wav');
  sh('gst-launch-1.0', ['-q', 'videotestsrc', `num-buffers=${CLIP_FRAMES}`, 'pattern=smpte', 'horizontal-speed=4', '!',
                        `video/x-raw,format=I420,width=${W},height=${H},framerate=${FPS}/1,pixel-aspect-ratio=1/1`,
                        '!', 'y4menc', '!', 'filesink', `location=${y4m}`]);
  sh('gst-launch-1.0', ['-q', 'audiotestsrc', 'num-buffers=150', 'samplesperbuffer=960', 'wave=sine', 'freq=440',
                        'volume=0.2', '!', 'audio/x-raw,format=S16LE,rate=48000,channels=1', '!', 'wavenc', '!',
                        'filesink', `location=${wav}`]);
  return { y4m, wav };
}

// Alternates ours and the reference ROUNDS times, both on the same clip; keeps
// every round and the means. Then Chromium once on its own fake camera (a flat
// picture with a turning "pacman"), for information only.
async function benchCpu () {
  const clip = makeClip();
  partArgs = ['--video-file', clip.y4m, '--audio-file', clip.wav, '--video-bitrate', String(CPU_KBPS)];
  partChromiumArgs = [`--use-file-for-fake-video-capture=${clip.y4m}`, `--use-file-for-fake-audio-capture=${clip.wav}`];
  const rounds = [];
  try {
    for (let i = 0; i < ROUNDS; i++) rounds.push(await cpuRound());
  } finally {
    partArgs = []; partChromiumArgs = [];
  }
  const avgOf = (side, f) => mean(rounds.map((r) => r[side][f]));
  const avgArr = (side, f) => [0, 1].map((k) => mean(rounds.map((r) => r[side][f][k])));
  results.cpu = {
    seconds: CPU_S, rounds, content: `same clip both sides: ${CLIP_FRAMES} frames of our test pattern, 440 Hz tone`,
    our_target_kbps: CPU_KBPS,
    ours: { cpu_s: avgOf('ours', 'cpu_s'), fps: avgArr('ours', 'fps'), video_kbps: avgArr('ours', 'video_kbps') },
    chromium: { cpu_s: avgOf('chromium', 'cpu_s'), fps: avgArr('chromium', 'fps'), video_kbps: avgArr('chromium', 'video_kbps'), processes: rounds[0].chromium.processes },
  };
  if (!NO_REF) {
    log(`cpu: ${CPU_S} s Chromium call on its own fake camera (not judged)`);
    results.cpu.chromium_own_camera = await chromiumCpu();
  }
}

// One Chromium call of CPU_S seconds: CPU of all its processes, fps, video bitrate.
async function chromiumCpu () {
  const cr = await launchChromium();
  await cr.page.evaluate(() => window.tvb.startLong(false));
  const c0 = treeCpu(cr.browserPid), s0 = await cr.page.evaluate(() => window.tvb.sample());
  await sleep(CPU_S * 1000);
  const c1 = treeCpu(cr.browserPid), s1 = await cr.page.evaluate(() => window.tvb.sample());
  await cr.page.evaluate(() => window.tvb.stop());
  await cr.close();
  const dt = (s1.t - s0.t) / 1000;
  return {
    cpu_s: treeCpuDelta(c0, c1) / dt * CPU_S,
    processes: c1.size,
    fps: [0, 1].map((i) => (s1.sides[i].framesDecoded - s0.sides[i].framesDecoded) / dt),
    video_kbps: [0, 1].map((i) => (s1.sides[i].videoBytesSent - s0.sides[i].videoBytesSent) * 8 / 1000 / dt),
  };
}

async function cpuRound () {
  log(`cpu: ${CPU_S} s call each`);
  const server = await startServer({ dir: fs.mkdtempSync(path.join(TMP, 'srv-cpu-')) });
  const { pairs } = makeConsults(server, 1);
  const r = await ourCall(server, pairs[0], {
    duration: CPU_S + 3, tag: 'cpu',
    during: async (d, p) => {
      const a0 = cpuSeconds(d.pid) + cpuSeconds(p.pid), t0 = monoUs();
      await sleep(CPU_S * 1000);
      const a1 = cpuSeconds(d.pid) + cpuSeconds(p.pid), t1 = monoUs();
      return { cpu_s: a1 - a0, window_s: (t1 - t0) / 1e6, t0, t1 };
    },
  });
  server.srv.kill();
  await server.srv.wait(10000);
  const fps = (s) => (s.video_frames_decoded - 1) / ((s.last_remote_frame_us - s.first_remote_frame_us) / 1e6);
  const kbps = (s) => s.video_bytes_sent * 8 / 1000 / ((s.last_remote_frame_us - s.started_us) / 1e6);
  const ours = {
    cpu_s: r.extra.cpu_s / r.extra.window_s * CPU_S,
    fps: [fps(r.doctor), fps(r.patient)],
    video_kbps: [kbps(r.doctor), kbps(r.patient)],
  };

  if (NO_REF) // A/B runs of our side only: no reference figures
    return { ours, chromium: { cpu_s: NaN, processes: 0, fps: [NaN, NaN], video_kbps: [NaN, NaN] }, load: os.loadavg()[0] };
  return { ours, chromium: await chromiumCpu(), load: os.loadavg()[0] };
}

// ---- 3. signaling load ------------------------------------------------------
function waitPort (host, port, ms) {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect(port, host);
      s.on('connect', () => { s.destroy(); resolve(); });
      s.on('error', () => { s.destroy(); if (Date.now() > until) reject(new Error(`port ${port} never opened`)); else setTimeout(attempt, 50); });
    };
    attempt();
  });
}

function freePort () {
  return new Promise((resolve) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
}

async function runLoad (args) {
  const c = track(new Child(bin('tv-bench-load'), args, { name: 'tv-bench-load', stderrFile: path.join(TMP, `load-${args[1]}.err`) }));
  const { line } = await c.waitLine(/^\{/, (LOAD_S + 120) * 1000);
  await c.wait(30000);
  return JSON.parse(line);
}

async function startJanus (server) {
  const dir = fs.mkdtempSync(path.join(TMP, 'janus-'));
  for (const d of ['plugins', 'transports', 'none']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const lib = '/usr/lib/x86_64-linux-gnu/janus';
  fs.symlinkSync(`${lib}/plugins/libjanus_videocall.so`, path.join(dir, 'plugins', 'libjanus_videocall.so'));
  fs.symlinkSync(`${lib}/transports/libjanus_websockets.so`, path.join(dir, 'transports', 'libjanus_websockets.so'));
  const port = await freePort();
  for (const f of ['janus.jcfg', 'janus.transport.websockets.jcfg', 'janus.plugin.videocall.jcfg']) {
    const t = fs.readFileSync(path.join(HERE, 'janus', f + '.in'), 'utf8')
      .replaceAll('@DIR@', dir).replaceAll('@CERT@', server.ca).replaceAll('@KEY@', server.key).replaceAll('@PORT@', String(port));
    fs.writeFileSync(path.join(dir, f), t);
  }
  const j = track(new Child('janus', ['-F', dir, '-C', path.join(dir, 'janus.jcfg'), '-L', path.join(dir, 'janus.log'), '-N'],
                            { name: 'janus' }));
  await waitPort('127.0.0.1', port, 20000);
  return { j, url: `wss://127.0.0.1:${port}/` };
}

async function benchLoad () {
  const rounds = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push(await loadRound());
  const avg = (side) => {
    const o = {};
    for (const k of Object.keys(rounds[0][side])) if (typeof rounds[0][side][k] === 'number') o[k] = mean(rounds.map((r) => r[side][k]));
    return o;
  };
  results.load = { rounds, ours: avg('ours'), janus: avg('janus') };
}

async function loadRound () {
  log(`load: ${LOAD_CLIENTS} clients, ${LOAD_S} s each`);
  const server = await startServer({ dir: fs.mkdtempSync(path.join(TMP, 'srv-load-')) });
  const { file } = makeConsults(server, Math.ceil(LOAD_CLIENTS / 2));
  const common = ['--clients', String(LOAD_CLIENTS), '--duration', String(LOAD_S), '--warmup', String(LOAD_WARMUP_S), '--ca', server.ca];
  const ours = await runLoad(['--target', 'televisit', '--url', server.url + '/', '--tokens', file, '--server-pid', String(server.srv.pid), ...common]);
  server.srv.kill();
  await server.srv.wait(20000);
  const janus = await startJanus(server);
  const theirs = await runLoad(['--target', 'janus', '--url', janus.url, '--server-pid', String(janus.j.pid), ...common]);
  janus.j.kill();
  await janus.j.wait(20000).catch(() => janus.j.kill('SIGKILL'));
  return { ours, janus: theirs };
}

// ---- 4. booking throughput -------------------------------------------------
async function benchBooking () {
  const seconds = BOOKING_S, clients = BOOKING_CLIENTS;
  log(`booking: ${clients} clients, ${seconds} s`);
  const server = await startServer({ dir: path.join(TMP, 'srv-booking') });
  const wal = walSampler(path.join(server.dir, 'televisit.db'), server.srv.pid);
  try {
    results.booking = await bookingRun({ server, ctl: bin('televisitctl'), seconds, clients, doctors: 16 });
    results.booking.wal_at_load_end = wal.sample('load end');
    if (BOOKING_IDLE_S > 0) await sleep(BOOKING_IDLE_S * 1000);
    results.booking.wal = wal.stop();
  } finally {
    wal.stop();
    server.srv.kill();
    await server.srv.wait(10000);
  }
}

// The store's WAL every 0.5 s while the booking part runs: the -wal file's
// size, and from the WAL index (-shm, SQLite's WalIndexHdr / WalCkptInfo,
// native byte order) the frames in the WAL (mxFrame) and those copied back
// (nBackfill); from the WAL header its checkpoint sequence (big-endian), which
// SQLite increments each time the WAL restarts from its start. Also the CPU
// time of the server's checkpoint thread ("tv-checkpoint").
function walSampler (db, pid) {
  const rows = [], t0 = monoUs();
  const u32 = (file, off, be) => {
    try {
      const fd = fs.openSync(file, 'r');
      try {
        const b = Buffer.alloc(4);
        return fs.readSync(fd, b, 0, 4, off) === 4 ? (be ? b.readUInt32BE(0) : b.readUInt32LE(0)) : NaN;
      } finally { fs.closeSync(fd); }
    } catch { return NaN; }
  };
  const ckptCpu = () => {
    try {
      for (const t of fs.readdirSync(`/proc/${pid}/task`))
        if (fs.readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim() === 'tv-checkpoint')
          return cpuSeconds(`${pid}/task/${t}`);
    } catch {}
    return 0;
  };
  const sample = (tag = '') => {
    let size = 0;
    try { size = fs.statSync(db + '-wal').size; } catch {}
    const r = { t_s: (monoUs() - t0) / 1e6, wal_bytes: size, mx_frame: u32(db + '-shm', 16), backfill: u32(db + '-shm', 96),
                ckpt_seq: u32(db + '-wal', 12, true), ckpt_thread_cpu_s: ckptCpu(), tag };
    rows.push(r);
    return r;
  };
  const timer = setInterval(sample, 500);
  let summary = null;
  return {
    sample,
    stop () {
      if (summary) return summary;
      clearInterval(timer);
      const last = sample('end');
      const seqs = rows.map((r) => r.ckpt_seq).filter(Number.isFinite);
      summary = { peak_bytes: Math.max(...rows.map((r) => r.wal_bytes)), end_bytes: last.wal_bytes,
                  peak_frames: Math.max(0, ...rows.map((r) => r.mx_frame).filter(Number.isFinite)),
                  restarts: seqs.length ? seqs[seqs.length - 1] - seqs[0] : NaN, idle_s: BOOKING_IDLE_S,
                  ckpt_thread_cpu_s: last.ckpt_thread_cpu_s, samples: rows.length };
      if (WAL_TRACE)
        fs.writeFileSync(WAL_TRACE, Object.keys(rows[0]).join('\t') + '\n' + rows.map((r) => Object.values(r).join('\t')).join('\n') + '\n');
      return summary;
    },
  };
}

// ---- 5. bad network ---------------------------------------------------------
function nsSetup () {
  const id = `${process.pid}`;
  const A = `tvb-a-${id}`, B = `tvb-b-${id}`;
  const ip = (...a) => sh('ip', a);
  cleanups.push(() => { trySh('ip', ['netns', 'del', A]); trySh('ip', ['netns', 'del', B]); });
  ip('netns', 'add', A);
  ip('netns', 'add', B);
  ip('link', 'add', `tvbx${id}`, 'type', 'veth', 'peer', 'name', `tvby${id}`);
  ip('link', 'set', `tvbx${id}`, 'netns', A);
  ip('link', 'set', `tvby${id}`, 'netns', B);
  // libnice skips interfaces named veth*: give the ends plain names.
  ip('-n', A, 'link', 'set', `tvbx${id}`, 'name', 'bench0');
  ip('-n', B, 'link', 'set', `tvby${id}`, 'name', 'bench0');
  ip('-n', A, 'addr', 'add', '198.18.0.1/24', 'dev', 'bench0');
  ip('-n', B, 'addr', 'add', '198.18.0.2/24', 'dev', 'bench0');
  for (const n of [A, B]) { ip('-n', n, 'link', 'set', 'lo', 'up'); ip('-n', n, 'link', 'set', 'bench0', 'up'); }
  return { A, B };
}

// Loss in the input hook (senders see no error); the outage is a second table
// that drops all UDP and is deleted when the link "returns". The rules count,
// so every run reports the loss it really met: one A/B run decoded 30 fps
// without a single gap because its media went over ICE-TCP (libnice gathers
// TCP candidates too), which a UDP rule never touches. TCP other than to and
// from the signaling server (@keepTcpPort) is therefore dropped, so media
// takes UDP as in Chromium's call.
function nft (ns, script) { sh('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: script, stdio: ['pipe', 'pipe', 'pipe'] }); }
function setLoss (nss, pct, keepTcpPort) {
  for (const n of nss) {
    trySh('ip', ['netns', 'exec', n, 'nft', 'delete', 'table', 'inet', 'tvbloss']);
    if (pct > 0)
      nft(n, `table inet tvbloss {\n chain inp {\n  type filter hook input priority 0; policy accept;\n` +
             `  meta l4proto udp counter\n  meta l4proto udp numgen random mod 100 < ${pct} counter drop\n` +
             `  tcp dport ${keepTcpPort} accept\n  tcp sport ${keepTcpPort} accept\n  meta l4proto tcp counter drop\n }\n}\n`);
  }
}
// Since setLoss: UDP packets that met the loss table, how many it dropped,
// and TCP packets dropped (ICE-TCP attempts).
function lossCounted (nss) {
  const m = { udp_packets: 0, dropped: 0, tcp_dropped: 0, loss_pct: NaN };
  for (const n of nss) {
    const c = [...trySh('ip', ['netns', 'exec', n, 'nft', 'list', 'table', 'inet', 'tvbloss']).matchAll(/counter packets (\d+)/g)].map((x) => Number(x[1]));
    if (c.length !== 3) return { udp_packets: NaN, dropped: NaN, tcp_dropped: NaN, loss_pct: NaN };
    m.udp_packets += c[0];
    m.dropped += c[1];
    m.tcp_dropped += c[2];
  }
  m.loss_pct = m.udp_packets ? 100 * m.dropped / m.udp_packets : NaN;
  return m;
}
function setOutage (nss, on) {
  for (const n of nss) {
    if (on) nft(n, 'table inet tvbout {\n chain inp {\n  type filter hook input priority -10; policy accept;\n  meta l4proto udp drop\n }\n}\n');
    else sh('ip', ['netns', 'exec', n, 'nft', 'delete', 'table', 'inet', 'tvbout']);
  }
}

// Added delay: no netem, so the sending processes themselves hold every UDP
// datagram for DELAY_MS (± JITTER_MS) before it leaves, through the LD_PRELOAD
// shim bench/tv-bench-delay.c (our clients: each delays what it sends;
// Chromium: its network service holds both peer connections' sockets, so each
// direction is delayed once there too). Each process writes the shim's counters
// to PREFIX.PID.
function delayEnv (prefix) {
  return { LD_PRELOAD: bin('tv-bench-delay.so'), TV_BENCH_DELAY_MS: String(DELAY_MS),
           TV_BENCH_JITTER_MS: String(JITTER_MS), TV_BENCH_DELAY_STATS: prefix };
}
// The shim's counters summed over every process that sent UDP under @prefix:
// datagrams delayed (and through which call), refused (a destination outside loopback and 198.18.0.0/24:
// must be 0), dropped (queue full, send error) and how late the shim thread
// sent them past their due time.
function delayCounted (prefix) {
  const dir = path.dirname(prefix), base = path.basename(prefix) + '.';
  const m = { processes: 0, delayed: 0, refused: 0, dropped: 0, late_mean_ms: NaN, late_max_ms: 0,
              by_call: { sendto: 0, sendmsg: 0, sendmmsg: 0, send: 0 } };
  let lateSum = 0, sent = 0;
  for (const f of fs.readdirSync(dir)) {
    if (!f.startsWith(base) || f.endsWith('.tmp')) continue;
    let j;
    try { j = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')); } catch { continue; }
    m.processes++;
    m.delayed += j.delayed;
    m.refused += j.refused;
    m.dropped += j.dropped_full + j.dropped_error;
    m.late_max_ms = Math.max(m.late_max_ms, j.late_max_ms);
    for (const k of Object.keys(m.by_call)) m.by_call[k] += (j.by_call && j.by_call[k]) || 0;
    lateSum += j.late_mean_ms * j.sent;
    sent += j.sent;
  }
  m.late_mean_ms = sent ? lateSum / sent : NaN;
  return m;
}

async function benchBadnet () {
  log(`badnet: ${LOSS_S} s at ${LOSS_PCT} % loss, then a ${OUTAGE_S} s outage, each` +
      (DELAY_MS > 0 ? `; then ${DELAY_S} s at ${LOSS_PCT} % loss + ${DELAY_MS} ms delay each way` : ''));
  if (DELAY_MS > 0 && !fs.existsSync(bin('tv-bench-delay.so')))
    throw new Error(`${bin('tv-bench-delay.so')} missing: make B=... ${path.relative(ROOT, bin('tv-bench-delay.so'))} (or --delay-ms 0)`);
  const { A, B } = nsSetup();
  const both = [A, B];
  const server = await startServer({ ns: A, listen: '198.18.0.1', hostname: '198.18.0.1', dir: path.join(TMP, 'srv-badnet') });
  const { pairs } = makeConsults(server, 3);
  const where = { nsDoc: A, nsPat: B, iceDoc: '198.18.0.1', icePat: '198.18.0.2' };
  const sigPort = Number(new URL(server.url).port);
  // (a) loss
  setLoss(both, LOSS_PCT, sigPort);
  const lossRun = await ourCall(server, pairs[0], {
    ...where, duration: LOSS_S, tag: 'loss',
  });
  const fps = (s) => (s.video_frames_decoded - 1) / ((s.last_remote_frame_us - s.first_remote_frame_us) / 1e6);
  const ours = {
    fps: [fps(lossRun.doctor), fps(lossRun.patient)],
    freezes: [lossRun.doctor.video_freezes, lossRun.patient.video_freezes],
    max_gap_ms: [lossRun.doctor.video_max_gap_us / 1000, lossRun.patient.video_max_gap_us / 1000],
    packets_lost: [lossRun.doctor.packets_lost, lossRun.patient.packets_lost],
    measured: lossCounted(both),
  };
  // (b) outage, loss still on
  setLoss(both, LOSS_PCT, sigPort);
  const OUT_AT = SMOKE ? 2 : 5;
  const outRun = await ourCall(server, pairs[1], {
    ...where, duration: OUT_AT + OUTAGE_S + (SMOKE ? 4 : 8), tag: 'outage',
    during: async () => {
      await sleep(OUT_AT * 1000);
      setOutage(both, true);
      await sleep(OUTAGE_S * 1000);
      // The link is back for the doctor once A's table is gone, before B's
      // is deleted: taken after both, the clock missed frames decoded in
      // between (recovery n/a when it came back within ~15 ms).
      const end_us = monoUs();
      setOutage(both, false);
      return { end_us };
    },
  });
  ours.recovery_ms = [outRun.doctor, outRun.patient].map((s) =>
    s.video_max_gap_end_us > outRun.extra.end_us ? (s.video_max_gap_end_us - outRun.extra.end_us) / 1000 : NaN);
  // (c) loss + added delay; RTT as our clients measured it (RTCP report blocks)
  if (DELAY_MS > 0) {
    setLoss(both, LOSS_PCT, sigPort);
    const prefix = path.join(TMP, 'delay-ours');
    const r = await ourCall(server, pairs[2], { ...where, duration: DELAY_S, tag: 'delay', env: delayEnv(prefix) });
    ours.delay = {
      fps: [fps(r.doctor), fps(r.patient)],
      freezes: [r.doctor.video_freezes, r.patient.video_freezes],
      max_gap_ms: [r.doctor.video_max_gap_us / 1000, r.patient.video_max_gap_us / 1000],
      packets_lost: [r.doctor.packets_lost, r.patient.packets_lost],
      rtt_ms: [r.doctor.rtt_ms, r.patient.rtt_ms],
      measured: lossCounted(both),
      shim: delayCounted(prefix),
    };
  }
  server.srv.kill();
  await server.srv.wait(10000);
  if (NO_REF) {
    setLoss(both, 0, sigPort);
    const none = [NaN, NaN];
    results.badnet = { loss_pct: LOSS_PCT, seconds: LOSS_S, outage_s: OUTAGE_S, ...delayInfo(),
                       chromium_mode: 'skipped (--no-reference)', ours,
                       chromium: { fps: none, freezes: none, max_gap_ms: none, packets_lost: none, recovery_ms: none,
                                   measured: { udp_packets: NaN, dropped: NaN, tcp_dropped: NaN, loss_pct: NaN } } };
    return;
  }

  // Chromium: both peer connections in one page in namespace A (documented
  // fallback), over 198.18.0.1; every packet passes A's input hook once, as
  // every packet of our call passes its receiver's input hook once.
  setLoss(both, LOSS_PCT, sigPort);
  const cr = await launchChromium(A);
  await cr.page.evaluate(() => window.tvb.startLong(true));
  const s0 = await cr.page.evaluate(() => window.tvb.sample());
  await sleep(LOSS_S * 1000);
  const s1 = await cr.page.evaluate(() => window.tvb.sample());
  const dt = (s1.t - s0.t) / 1000;
  const chrome = {
    fps: [0, 1].map((i) => (s1.frames[i].frames - s0.frames[i].frames) / dt),
    freezes: [0, 1].map((i) => s1.frames[i].freezes - s0.frames[i].freezes),
    max_gap_ms: [0, 1].map((i) => s1.frames[i].maxGap),
    packets_lost: [0, 1].map((i) => s1.sides[i].packetsLost),
    measured: lossCounted(both),
  };
  setOutage(both, true);
  await sleep(OUTAGE_S * 1000);
  const endMs = Date.now();
  setOutage(both, false);
  await sleep((SMOKE ? 4 : 10) * 1000);
  const s2 = await cr.page.evaluate(() => window.tvb.sample());
  chrome.recovery_ms = [0, 1].map((i) => (s2.frames[i].maxGapEnd > endMs ? s2.frames[i].maxGapEnd - endMs : NaN));
  await cr.page.evaluate(() => window.tvb.stop());
  await cr.close();
  // (c) loss + added delay: a second Chromium with the shim in every process.
  if (DELAY_MS > 0) {
    setLoss(both, LOSS_PCT, sigPort);
    const prefix = path.join(TMP, 'delay-chromium');
    const crd = await launchChromium(A, delayEnv(prefix));
    await crd.page.evaluate(() => window.tvb.startLong(true));
    const d0 = await crd.page.evaluate(() => window.tvb.sample());
    await sleep(DELAY_S * 1000);
    const d1 = await crd.page.evaluate(() => window.tvb.sample());
    const ddt = (d1.t - d0.t) / 1000;
    chrome.delay = {
      fps: [0, 1].map((i) => (d1.frames[i].frames - d0.frames[i].frames) / ddt),
      freezes: [0, 1].map((i) => d1.frames[i].freezes - d0.frames[i].freezes),
      max_gap_ms: [0, 1].map((i) => d1.frames[i].maxGap),
      packets_lost: [0, 1].map((i) => d1.sides[i].packetsLost - d0.sides[i].packetsLost),
      rtt_ms: [0, 1].map((i) => d1.sides[i].rttRtcpMs),
      rtt_ice_ms: [0, 1].map((i) => d1.sides[i].rttIceMs),
      measured: lossCounted(both),
    };
    await crd.page.evaluate(() => window.tvb.stop());
    await crd.close();
    chrome.delay.shim = delayCounted(prefix);
  }
  setLoss(both, 0, sigPort);
  results.badnet = { loss_pct: LOSS_PCT, seconds: LOSS_S, outage_s: OUTAGE_S, ...delayInfo(),
                     chromium_mode: 'two RTCPeerConnections in one page in namespace A (fallback)', ours, chromium: chrome };
}

function delayInfo () {
  return DELAY_MS > 0
    ? { delay_ms: DELAY_MS, jitter_ms: JITTER_MS, delay_seconds: DELAY_S, delay: 'LD_PRELOAD shim bench/tv-bench-delay.c (no netem on this kernel)' }
    : { delay_ms: 0, delay: 'none (--delay-ms 0)' };
}

// ---- the table ------------------------------------------------------------
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(x >= 100 ? 0 : 1) : 'n/a');
const avg = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const worst = (xs) => Math.max(...xs);

function table () {
  const rows = [];
  // A target relative to the reference ("0.5x", "<= ref") is not judged when the
  // reference was not measured (--no-reference).
  const noRef = (ref, target) => (ref === 'n/a' || ref === 'NaN') && /x$|ref$/.test(target);
  const row = (what, ours, ref, ratio, target, ok) =>
    rows.push([what, ours, ref, Number.isFinite(ratio) ? ratio.toFixed(2) : 'n/a', target,
               ok === undefined || noRef(ref, target) ? '' : ok ? 'met' : 'MISSED']);
  const r = results;
  for (const k of ['setup', 'cpu', 'load', 'booking', 'badnet'])
    if (r[k] && r[k].error) { rows.push([k, 'FAILED', '-', '-', '-', r[k].error.slice(0, 100)]); delete r[k]; }
  if (r.setup) {
    row('call setup median, ms', f1(r.setup.ours_median), f1(r.setup.chromium_median), r.setup.ours_median / r.setup.chromium_median, '<= 0.8x', r.setup.ours_median <= 0.8 * r.setup.chromium_median);
    row('call setup p90, ms', f1(r.setup.ours_p90), f1(r.setup.chromium_p90), r.setup.ours_p90 / r.setup.chromium_p90, '', undefined);
  }
  if (r.cpu) {
    const o = r.cpu.ours, c = r.cpu.chromium;
    row(`CPU s, ${r.cpu.seconds} s call, both ends, same clip`, f1(o.cpu_s), f1(c.cpu_s), o.cpu_s / c.cpu_s, '<= 0.5x', o.cpu_s <= 0.5 * c.cpu_s);
    row('  decoded fps (worse side)', f1(Math.min(...o.fps)), f1(Math.min(...c.fps)), Math.min(...o.fps) / Math.min(...c.fps), '', undefined);
    row('  video kbit/s sent (avg side)', f1(avg(o.video_kbps)), f1(avg(c.video_kbps)), avg(o.video_kbps) / avg(c.video_kbps), '>= 1x', avg(o.video_kbps) >= avg(c.video_kbps));
    const own = r.cpu.chromium_own_camera;
    if (own) {
      row('  Chromium on its own fake camera: CPU s', '-', f1(own.cpu_s), NaN, 'not judged', undefined);
      row('    its fps (worse side) / video kbit/s', '-', `${f1(Math.min(...own.fps))} / ${f1(avg(own.video_kbps))}`, NaN, '', undefined);
    }
  }
  if (r.load) {
    const o = r.load.ours, j = r.load.janus;
    row(`signaling round trips/s (${o.authenticated}/${j.authenticated} clients)`, f1(o.round_trips_per_s), f1(j.round_trips_per_s), o.round_trips_per_s / j.round_trips_per_s, '>= 2x', o.round_trips_per_s >= 2 * j.round_trips_per_s);
    row('  latency p50, ms', f1(o.p50_ms), f1(j.p50_ms), o.p50_ms / j.p50_ms, '', undefined);
    row('  latency p99, ms', f1(o.p99_ms), f1(j.p99_ms), o.p99_ms / j.p99_ms, '<= 0.5x', o.p99_ms <= 0.5 * j.p99_ms);
    row('  server RSS per client, KiB', f1(o.rss_per_client_kb), f1(j.rss_per_client_kb), o.rss_per_client_kb / j.rss_per_client_kb, '<= 0.5x', o.rss_per_client_kb <= 0.5 * j.rss_per_client_kb);
    row('  server CPU s in the window', f1(o.server_cpu_s), f1(j.server_cpu_s), o.server_cpu_s / j.server_cpu_s, '', undefined);
  }
  if (r.booking) {
    const b = r.booking;
    row(`bookings/s (${b.clients} clients, book + cancel)`, f1(b.bookings_per_s), '-', NaN, '>= 5000/s', b.bookings_per_s >= 5000);
    row('  booking latency p99, ms', f1(b.p99_ms), '-', NaN, '', undefined);
    row('  server CPU ms per booking (+ its cancel)', Number.isFinite(b.server_cpu_ms_per_booking) ? b.server_cpu_ms_per_booking.toFixed(2) : 'n/a', '-', NaN, '', undefined);
    row('  load client CPU ms per booking (+ its cancel)', Number.isFinite(b.client_cpu_ms_per_booking) ? b.client_cpu_ms_per_booking.toFixed(2) : 'n/a', '-', NaN, '', undefined);
    if (b.wal)
      row(`  WAL MiB peak / at the end${b.wal.idle_s > 0 ? ` (+${b.wal.idle_s} s idle)` : ''}`,
          `${(b.wal.peak_bytes / 1048576).toFixed(1)} / ${(b.wal.end_bytes / 1048576).toFixed(1)}`, '-', NaN, '', undefined);
    row('  double bookings (live / in store / by commit order)', `${b.double_bookings_live} / ${b.double_bookings_store} / ${b.double_bookings_audit}`, '-', NaN, '0',
        b.double_bookings_live === 0 && b.double_bookings_store === 0 && b.double_bookings_audit === 0);
  }
  if (r.badnet) {
    const o = r.badnet.ours, c = r.badnet.chromium;
    row(`${r.badnet.loss_pct} % loss: decoded fps (worse side)`, f1(Math.min(...o.fps)), f1(Math.min(...c.fps)), Math.min(...o.fps) / Math.min(...c.fps), '>= 1x', Math.min(...o.fps) >= Math.min(...c.fps));
    row('  freezes > 500 ms (both sides)', String(o.freezes[0] + o.freezes[1]), String(c.freezes[0] + c.freezes[1]), NaN, '<= ref', o.freezes[0] + o.freezes[1] <= c.freezes[0] + c.freezes[1]);
    const lossOk = (m) => Number.isFinite(m.loss_pct) && m.loss_pct >= r.badnet.loss_pct / 2;
    row('  UDP loss met (nftables counters), %', f1(o.measured.loss_pct), f1(c.measured.loss_pct), NaN, `~${r.badnet.loss_pct}`,
        lossOk(o.measured) && (NO_REF || lossOk(c.measured)));
    row(`  recovery after ${r.badnet.outage_s} s outage, ms (worse)`, f1(worst(o.recovery_ms)), f1(worst(c.recovery_ms)), worst(o.recovery_ms) / worst(c.recovery_ms), '<= 1000 ms', worst(o.recovery_ms) <= 1000);
    if (o.delay) {
      const od = o.delay, cd = c.delay || { fps: [NaN, NaN], freezes: [NaN, NaN], rtt_ms: [NaN, NaN], measured: { loss_pct: NaN }, shim: null };
      const jit = r.badnet.jitter_ms ? ` ±${r.badnet.jitter_ms}` : '';
      row(`${r.badnet.loss_pct} % loss + ${r.badnet.delay_ms}${jit} ms each way: decoded fps (worse side)`, f1(Math.min(...od.fps)), f1(Math.min(...cd.fps)), Math.min(...od.fps) / Math.min(...cd.fps), '>= 1x', Math.min(...od.fps) >= Math.min(...cd.fps));
      row('  freezes > 500 ms (both sides)', String(od.freezes[0] + od.freezes[1]), String(cd.freezes[0] + cd.freezes[1]), NaN, '<= ref', od.freezes[0] + od.freezes[1] <= cd.freezes[0] + cd.freezes[1]);
      row('  RTT measured (RTCP), ms (worse side)', f1(worst(od.rtt_ms)), f1(worst(cd.rtt_ms)), NaN, `~${2 * r.badnet.delay_ms}`, undefined);
      row('  UDP loss met (nftables counters), %', f1(od.measured.loss_pct), f1(cd.measured.loss_pct), NaN, `~${r.badnet.loss_pct}`,
          lossOk(od.measured) && (NO_REF || lossOk(cd.measured)));
      row('  datagrams to other addresses (refused by the shim)', String(od.shim.refused), String(cd.shim ? cd.shim.refused : 'n/a'), NaN, '0',
          od.shim.refused === 0 && (!cd.shim || cd.shim.refused === 0));
    }
  }
  const head = ['measure', 'televisit', 'reference', 'ratio', 'target', ''];
  const refs = 'reference: Chromium ' + r.machine.chromium + ' (setup, cpu, badnet), Janus ' + r.machine.janus + ' (load)';
  const all = [head, ...rows];
  const wid = head.map((_, i) => Math.max(...all.map((x) => String(x[i]).length)));
  const fmt = (x) => x.map((c, i) => (i === 0 ? String(c).padEnd(wid[i]) : String(c).padStart(wid[i]))).join('  ');
  const lines = [fmt(head), wid.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt), refs,
                 `machine: ${r.machine.nproc} x ${r.machine.cpu_model}, ${r.machine.memory_gib} GiB, kernel ${r.machine.kernel}${SMOKE ? '  [SMOKE: sizes too small to mean anything]' : ''}`];
  return lines.join('\n');
}

// ---- main -------------------------------------------------------------------
const parts = { setup: benchSetup, cpu: benchCpu, load: benchLoad, booking: benchBooking, badnet: benchBadnet };
let failed = 0;
for (const name of Object.keys(parts)) {
  if (!ONLY.includes(name)) continue;
  try {
    await parts[name]();
  } catch (e) {
    failed++;
    results[name] = { error: String(e && e.message || e) };
    log(`${name} FAILED: ${e && e.stack || e}`);
    for (const c of [...children]) c.kill('SIGKILL');
  }
}
results.finished = new Date().toISOString();
fs.mkdirSync(path.dirname(OUT), { recursive: true });
fs.writeFileSync(OUT, JSON.stringify(results, null, 2) + '\n');
const errors = Object.fromEntries(Object.entries(results).filter(([, v]) => v && v.error));
const text = table();
Object.assign(results, errors);
console.log(text);
fs.writeFileSync(OUT.replace(/\.json$/, '.txt'), text + '\n');
log(`raw figures: ${OUT}`);
if (SMOKE) {
  // Smoke: numbers must have come out of every part that ran, nothing more.
  // --no-reference skips Chromium in cpu and badnet: only our figures count there.
  const ref = (x) => NO_REF || x > 0;
  const bad = [];
  if (results.setup && !(results.setup.ours_median > 0 && results.setup.chromium_median > 0)) bad.push('setup');
  if (results.cpu && !(results.cpu.ours && results.cpu.ours.cpu_s > 0 && ref(results.cpu.chromium.cpu_s))) bad.push('cpu');
  if (results.load && !(results.load.ours && results.load.ours.round_trips > 0 && results.load.janus.round_trips > 0)) bad.push('load');
  if (results.booking && !(results.booking.bookings > 0)) bad.push('booking');
  if (results.badnet && !(results.badnet.ours && results.badnet.ours.fps[0] > 0 && ref(results.badnet.chromium.fps[0]))) bad.push('badnet');
  if (results.badnet && results.badnet.ours && DELAY_MS > 0 &&
      !(results.badnet.ours.delay && results.badnet.ours.delay.shim.delayed > 0 &&
        (NO_REF || (results.badnet.chromium.delay && results.badnet.chromium.delay.shim.delayed > 0)))) bad.push('badnet delay');
  if (bad.length) { log(`smoke: no numbers from ${bad.join(', ')}`); failed++; }
}
cleanup();
process.exit(failed ? 1 : 0);
