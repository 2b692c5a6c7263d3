// clinic.mjs — fixtures for the browser tests of the clinic's pages (desk,
// portal, billing, reports): a televisit-server in a temporary data dir, users
// made with televisitctl, JSON API calls from Node, Debian's Chromium driven by
// playwright-core (never a downloaded browser), and a tiny TAP reporter.
// Child processes are awaited on their output lines (bench/lib.mjs's Child),
// pages on their DOM (playwright's auto-waiting): no sleeps to synchronise.
import https from 'node:https';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Child } from '../../bench/lib.mjs';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');
export const CHROMIUM = '/usr/bin/chromium';
export const PASSWORD = 'web-test-password-1';

// ---- TAP ------------------------------------------------------------------
let n = 0, failed = 0;
export function ok (cond, name, extra) {
  n++;
  if (!cond) failed++;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${name}`);
  if (!cond && extra !== undefined) console.log(`# ${String(extra).split('\n').join('\n# ')}`);
  return cond;
}
export const note = (msg) => console.log(`# ${msg}`);
export function done () { console.log(`1..${n}`); return failed ? 1 : 0; }

// ---- the server -------------------------------------------------------------
export class Clinic {
  // @build: the build dir holding televisit-server, televisitctl, televisit-client.
  constructor (build) {
    this.build = path.resolve(ROOT, build);
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-web-'));
    this.dir = path.join(this.tmp, 'data');
    this.children = [];
  }

  bin (name) { return path.join(this.build, name); }

  async start (extra = []) {
    const args = ['--data-dir', this.dir, '--listen', '127.0.0.1', '--port', '0', '--log-level', 'warning', ...extra];
    this.srv = this.track(new Child(this.bin('televisit-server'), args, { name: 'televisit-server', stderrFile: path.join(this.tmp, 'server.err') }));
    const { m } = await this.srv.waitLine(/^listening on wss:\/\/\S+?:(\d+)\/?$/, 20000);
    this.port = Number(m[1]);
    this.origin = `https://127.0.0.1:${this.port}`;
    this.ca = fs.readFileSync(path.join(this.dir, 'tls', 'cert.pem'));
    return this;
  }

  track (child) { this.children.push(child); return child; }

  // A user made with televisitctl (password PASSWORD); returns the API's user object.
  user (username, name, roles, extra = []) {
    const out = execFileSync(this.bin('televisitctl'), ['--data-dir', this.dir, 'user', 'add', '--username', username, '--name', name,
      '--role', roles, '--password-stdin', '--json', ...extra], { encoding: 'utf8', input: PASSWORD + '\n' });
    return JSON.parse(out).user;
  }

  // One API call from Node: resolves {status, json}.
  request (method, p, token, body) {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? '' : JSON.stringify(body);
      const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) };
      if (token) headers.authorization = `Bearer ${token}`;
      const req = https.request({ host: '127.0.0.1', port: this.port, method, path: p, ca: this.ca, servername: 'localhost', headers }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json = null;
          try { json = JSON.parse(text); } catch {}
          resolve({ status: res.statusCode, json, text, headers: res.headers });
        });
      });
      req.on('error', reject);
      req.end(data);
    });
  }

  async login (username) {
    const r = await this.request('POST', '/api/v1/login', null, { username, password: PASSWORD });
    if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${r.text}`);
    return r.json.token;
  }

  // sqlite3 query on the server's database (read-only checks of what was written).
  sql (query) {
    return execFileSync('sqlite3', ['-readonly', path.join(this.dir, 'televisit.db'), query], { encoding: 'utf8' }).trim();
  }

  // TEST-ONLY write (e.g. moving a booked visit's start into the past, which
  // the API rightly refuses), as the C tests' fixtures do with tv_test_store_exec.
  sqlWrite (query) {
    execFileSync('sqlite3', ['-cmd', '.timeout 5000', path.join(this.dir, 'televisit.db'), query], { encoding: 'utf8' });
  }

  // Stops the browser and every child (SIGTERM, then SIGKILL after 10 s).
  // Resolves with the server's exit ({code, sig}; null if it never started).
  async stop () {
    if (this.browser) { try { await this.browser.close(); } catch {} }
    for (const c of this.children) c.kill('SIGTERM');
    for (const c of this.children) { try { await c.wait(10000); } catch { c.kill('SIGKILL'); } }
    const srv = this.srv ? await this.srv.exited : null;
    if (!process.env.TV_WEB_KEEP_TMP) fs.rmSync(this.tmp, { recursive: true, force: true });
    return srv;
  }

  // ---- Chromium -------------------------------------------------------------
  // @extraArgs: more Chromium switches (the join test adds loopback ICE).
  async browserLaunch (extraArgs = []) {
    const { chromium } = await import('playwright-core');
    this.browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
             '--disable-component-update', '--disable-sync', '--use-fake-device-for-media-stream',
             '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required', ...extraArgs],
    });
    return this.browser;
  }

  // A fresh browser context (its own sessionStorage: one person at one screen).
  // Console errors and CSP violations of the page are collected in ctx.errors.
  async context (opts = {}) {
    const ctx = await this.browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 1000 }, ...opts });
    ctx.errors = [];
    ctx.on('page', (page) => {
      page.on('console', (m) => { if (m.type() === 'error') ctx.errors.push(m.text()); });
      page.on('pageerror', (e) => ctx.errors.push(String(e)));
    });
    return ctx;
  }
}

// Signs in on the page's form (web/common/tv.js) and waits until the page is ready.
export async function signIn (page, username) {
  await page.getByLabel('User name', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#whoami').waitFor({ state: 'visible' });
  // The page has drawn its content and set up its controls (or said it is not for this account).
  await page.locator('body[data-ready="true"]').waitFor({ state: 'attached' });
}

// Runs @body(clinic), prints TAP, exits with 1 on a failed check or an exception.
export async function run (body) {
  const args = process.argv.slice(2);
  const bi = args.indexOf('--build');
  const si = args.indexOf('--screenshots');
  const clinic = new Clinic(bi >= 0 ? args[bi + 1] : (process.env.TV_BUILD_DIR || 'build'));
  clinic.shots = si >= 0 ? path.resolve(args[si + 1]) : (process.env.TV_SCREENSHOTS || null);
  const watchdog = setTimeout(() => { ok(false, 'watchdog: the test did not finish within 240 s'); clinic.stop().finally(() => process.exit(1)); }, 240000);
  try {
    await body(clinic);
  } catch (e) {
    ok(false, 'no exception', e.stack);
  }
  clearTimeout(watchdog);
  const err = path.join(clinic.tmp, 'server.err');
  const stderr = fs.existsSync(err) ? fs.readFileSync(err, 'utf8') : '';
  const srv = await clinic.stop();
  // SIGTERM ends the server cleanly: exit 0 (a sanitizer report would make it fail).
  if (srv) ok(srv.code === 0, 'server: exit 0 on SIGTERM', `exit ${srv.code} ${srv.sig || ''}: ${stderr.slice(-1500)}`);
  process.exit(done());
}
