#!/usr/bin/env node
// test-join-reconnect.mjs — the browser join page comes back by itself (issue 5):
// a Chromium patient and a headless desktop-client doctor are in a call with one
// chat message; the server is killed (SIGKILL) and restarted on the same port and
// data directory. The page shows its reconnect banner, reconnects with back-off,
// rejoins with the same token, the call is negotiated again (frames painted after
// the restart) and the chat history is replayed without duplicates; the doctor's
// end then reaches the page. The consult is completed with connected time > 0.
// Run: tests/web/test-join-reconnect.mjs [--build BUILD]  (TAP; make check-web)
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Child } from '../../bench/lib.mjs';
import { run, ok } from './clinic.mjs';

const DOCTOR_CHAT = 'Stay on the line, please.';

await run(async (clinic) => {
  await clinic.start();
  const created = JSON.parse(execFileSync(clinic.bin('televisitctl'), ['--data-dir', clinic.dir, 'create', '--doctor', 'Dr. Test Doctor',
    '--patient', 'Pat Synthetic', '--start', 'now', '--json'], { encoding: 'utf8' }));
  await clinic.browserLaunch(['--allow-loopback-in-peer-connection']);
  const ctx = await clinic.context();
  const page = await ctx.newPage();
  await page.goto(`${clinic.origin}/join#token=${created.tokens.patient}`);
  await page.locator('#screen-waiting').waitFor({ state: 'visible', timeout: 20000 });

  const tokFile = path.join(clinic.tmp, 'doctor.tok');
  fs.writeFileSync(tokFile, created.tokens.doctor, { mode: 0o600 });
  const doctor = clinic.track(new Child(clinic.bin('televisit-client'), ['--server', `wss://127.0.0.1:${clinic.port}/`,
    '--ca', path.join(clinic.dir, 'tls', 'cert.pem'), '--token-file', tokFile, '--headless', '--test-media',
    '--ice-address', '127.0.0.1', '--end-on-exit', '--chat', DOCTOR_CHAT],
  { name: 'televisit-client', stderrFile: path.join(clinic.tmp, 'doctor.err') }));
  await doctor.waitLine(/^media connected/, 30000);
  await page.waitForFunction(() => window.tvJoin.framesRendered >= 30, null, { timeout: 20000 });
  await page.locator('#chat-log li', { hasText: DOCTOR_CHAT }).waitFor({ timeout: 15000 });
  ok(true, 'before the crash: call connected, frames painted, chat shown');

  // ---- the server dies
  clinic.srv.kill('SIGKILL');
  await clinic.srv.wait(10000);
  await page.locator('#banner', { hasText: 'reconnecting' }).waitFor({ state: 'visible', timeout: 20000 });
  ok(true, 'page: "Connection lost — reconnecting…" banner while the server is away');
  const before = await page.evaluate(() => window.tvJoin.framesRendered);

  // ---- and comes back on the same port and data directory
  clinic.srv = clinic.track(new Child(clinic.bin('televisit-server'), ['--data-dir', clinic.dir, '--listen', '127.0.0.1',
    '--port', String(clinic.port), '--log-level', 'warning'], { name: 'televisit-server', stderrFile: path.join(clinic.tmp, 'server2.err') }));
  await clinic.srv.waitLine(/^listening on wss:/, 20000);
  await page.locator('#banner').waitFor({ state: 'hidden', timeout: 40000 });
  await page.waitForFunction((n) => window.tvJoin.framesRendered >= n + 30 && window.tvJoin.screen === 'call', before,
    { timeout: 40000 });
  const st = await page.evaluate(() => ({ reconnects: window.tvJoin.reconnects, chat: window.tvJoin.chat.length }));
  ok(st.reconnects >= 1, 'page: reconnected by itself and the call runs again (30+ new frames)', JSON.stringify(st));
  ok(st.chat === 1 && (await page.locator('#chat-log li').count()) === 1,
    'page: the replayed chat history shows each message once', JSON.stringify(st));

  // ---- the doctor ends the visit
  doctor.kill('SIGTERM');
  const r = await doctor.wait(30000);
  ok(r.code === 0, 'doctor client: exit 0 after the restart', `exit ${r.code}: ${doctor.stderrTail.slice(-600)}`);
  await page.locator('#screen-ended').waitFor({ state: 'visible', timeout: 15000 });
  ok(true, 'page: "the visit has ended"');
  const row = clinic.sql(`SELECT status || '|' || (connected_us > 0) FROM consults WHERE id = '${created.id}'`);
  ok(row === 'completed|1', 'store: consult completed with connected time > 0', row);
  await ctx.close();
});
