#!/usr/bin/env node
// test-join.mjs — a patient joins from Chromium while the doctor uses the desktop
// client (issue 5): the join page at /join#token=... shows the waiting room with
// the doctor's name and time, the headless televisit-client doctor admits, and a
// real WebRTC call runs between the browser's RTCPeerConnection and webrtcbin
// (VP8 + Opus, bundle, trickle ICE on loopback). Asserted: video frames decoded on
// BOTH sides (the page counts painted frames with requestVideoFrameCallback, the
// client reports video_frames_decoded), chat delivered both ways (the client's
// --chat line shows on the page, the page's message is printed by the client),
// and the consult recorded in the store (completed, connected time > 0, the chat
// rows). Also the clear messages for a malformed and an unknown link, a blocked
// camera (join without it), and the page's revalidation (ETag, 304).
// Run: tests/web/test-join.mjs [--build BUILD] [--screenshots DIR]  (TAP; make check-web)
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Child } from '../../bench/lib.mjs';
import { run, ok, note } from './clinic.mjs';

// Chromium gathers no loopback candidates unless told to; webrtcbin's side is
// pinned to 127.0.0.1 with --ice-address.
const LOOPBACK_ICE = ['--allow-loopback-in-peer-connection'];
const DOCTOR_CHAT = 'Hello Pat, can you hear me?';
const PATIENT_CHAT = 'Yes, loud and clear — thank you, doctor.';

// GET @p with extra @headers from Node: resolves {status, headers}.
function get (clinic, p, headers = {}) {
  return new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port: clinic.port, path: p, ca: clinic.ca, servername: 'localhost', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers }));
    }).on('error', reject);
  });
}

const createConsult = (clinic) => JSON.parse(execFileSync(clinic.bin('televisitctl'), ['--data-dir', clinic.dir, 'create',
  '--doctor', 'Dr. Test Doctor', '--patient', 'Pat Synthetic', '--start', 'now', '--json'], { encoding: 'utf8' }));

await run(async (clinic) => {
  await clinic.start();
  const created = createConsult(clinic);
  const consult = created.id;
  await clinic.browserLaunch(LOOPBACK_ICE);

  // ---- the page is revalidated, not re-sent
  const first = await get(clinic, '/join');
  ok(first.status === 200 && /^"[0-9a-f]{32}"$/.test(first.headers.etag) && first.headers['cache-control'] === 'no-cache',
    '/join: 200 with an ETag and Cache-Control: no-cache', JSON.stringify(first.headers));
  const again = await get(clinic, '/join', { 'if-none-match': first.headers.etag });
  ok(again.status === 304, '/join with If-None-Match: 304 Not Modified', `status ${again.status}`);

  // ---- camera blocked: said in plain words, and the patient can still join
  const other = createConsult(clinic);
  const denied = await clinic.context();
  await denied.addInitScript(() => {
    navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
  });
  const pd = await denied.newPage();
  await pd.goto(`${clinic.origin}/join#token=${other.tokens.patient}`);
  await pd.locator('#problem-title', { hasText: 'Camera and microphone are blocked' }).waitFor();
  ok(true, 'camera denied: "Camera and microphone are blocked" with what to do');
  await pd.getByRole('button', { name: 'Join without camera and microphone' }).click();
  await pd.locator('#screen-waiting').waitFor({ state: 'visible' });
  ok(true, 'camera denied: "join without camera and microphone" reaches the waiting room');
  await denied.close();

  // ---- a bad link and an unknown one get clear words, no call
  const bad = await clinic.context();
  const pb = await bad.newPage();
  await pb.goto(`${clinic.origin}/join#token=short`);
  await pb.locator('#screen-problem').waitFor({ state: 'visible' });
  ok(/incomplete/i.test(await pb.locator('#problem-title').textContent()), 'malformed link: "This link is incomplete"');
  await pb.goto(`${clinic.origin}/join#token=${'A'.repeat(43)}`);
  await pb.reload();
  await pb.locator('#problem-title', { hasText: 'does not work' }).waitFor();
  ok(true, 'unknown token: the server refuses it (4102) and the page says the link does not work');
  await bad.close();

  // ---- the patient opens the link and waits
  const ctx = await clinic.context();
  const page = await ctx.newPage();
  await page.goto(`${clinic.origin}/join#token=${created.tokens.patient}`);
  await page.locator('#screen-waiting').waitFor({ state: 'visible', timeout: 20000 });
  const who = await page.locator('#waiting-doctor').textContent();
  ok(who.includes('Dr. Test Doctor'), "waiting room: shows the doctor's name", who);
  ok(/Scheduled for/.test(await page.locator('#waiting-time').textContent()), 'waiting room: shows the scheduled time');
  if (clinic.shots) await page.screenshot({ path: path.join(clinic.shots, 'join-waiting.png') });

  // ---- the doctor: headless desktop client, admits automatically, ends after the call
  const tokFile = path.join(clinic.tmp, 'doctor.tok');
  fs.writeFileSync(tokFile, created.tokens.doctor, { mode: 0o600 });
  const stats = path.join(clinic.tmp, 'doctor.json');
  const doctor = clinic.track(new Child(clinic.bin('televisit-client'), ['--server', `wss://127.0.0.1:${clinic.port}/`,
    '--ca', path.join(clinic.dir, 'tls', 'cert.pem'), '--token-file', tokFile, '--headless', '--test-media',
    '--ice-address', '127.0.0.1', '--duration', '8', '--end-on-exit', '--stats-json', stats, '--chat', DOCTOR_CHAT],
  { name: 'televisit-client', stderrFile: path.join(clinic.tmp, 'doctor.err') }));
  await doctor.waitLine(/^media connected/, 30000);
  ok(true, 'doctor client: media connected with the browser');

  await page.locator('#screen-call').waitFor({ state: 'visible' });
  await page.waitForFunction(() => window.tvJoin.framesRendered >= 30, null, { timeout: 20000 });
  ok(true, 'page: 30+ remote video frames painted (requestVideoFrameCallback)');

  // ---- chat both ways
  await page.locator('#chat-log li.theirs', { hasText: DOCTOR_CHAT }).waitFor({ timeout: 15000 });
  ok(true, "page: the doctor's chat message is shown");
  await page.getByLabel('Message', { exact: true }).fill(PATIENT_CHAT);
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  const got = await doctor.waitLine(/^chat from=patient /, 15000);
  ok(got.line.includes(PATIENT_CHAT), "doctor client: prints the patient's chat message", got.line);
  await page.locator('#chat-log li.mine', { hasText: PATIENT_CHAT }).waitFor();
  ok(true, 'page: its own message is echoed back by the server (stored)');

  await page.waitForFunction(() => window.tvJoin.quality !== null, null, { timeout: 10000 });
  const q = await page.evaluate(() => window.tvJoin.quality);
  ok(q.kbps > 0, 'page: the quality indicator shows a bitrate from getStats', JSON.stringify(q));
  if (clinic.shots) await page.screenshot({ path: path.join(clinic.shots, 'join-call.png') });

  // ---- the doctor's duration ends the consult; both sides say so
  const r = await doctor.wait(30000);
  ok(r.code === 0, 'doctor client: exit 0', `exit ${r.code}: ${doctor.stderrTail.slice(-800)}`);
  await page.locator('#screen-ended').waitFor({ state: 'visible', timeout: 15000 });
  ok(true, 'page: "the visit has ended" after the doctor ended it');
  const s = JSON.parse(fs.readFileSync(stats, 'utf8'));
  ok(s.video_frames_decoded >= 30, 'doctor client: 30+ video frames decoded from the browser', `video_frames_decoded=${s.video_frames_decoded}`);
  ok(s.audio_buffers_decoded > 0, 'doctor client: audio from the browser decoded', `audio_buffers_decoded=${s.audio_buffers_decoded}`);
  const frames = await page.evaluate(() => window.tvJoin.framesRendered);
  note(`page frames painted: ${frames}; client frames decoded: ${s.video_frames_decoded}`);

  // ---- the record
  const row = clinic.sql(`SELECT status || '|' || (connected_us > 0) || '|' || end_reason FROM consults WHERE id = '${consult}'`);
  ok(row === 'completed|1|ended-by-doctor', 'store: consult completed by the doctor with connected time > 0', row);
  const chats = clinic.sql(`SELECT sender_role FROM consult_chat WHERE consult_id = '${consult}' ORDER BY id`);
  ok(chats === 'doctor\npatient', 'store: both chat messages kept with the consult, in order', chats);
  const shown = JSON.parse(execFileSync(clinic.bin('televisitctl'), ['--data-dir', clinic.dir, 'show', consult, '--json'], { encoding: 'utf8' }));
  ok(Array.isArray(shown.chat) && shown.chat.length === 2 && shown.chat[1].text === PATIENT_CHAT,
    'televisitctl show: lists the chat with the consult', JSON.stringify(shown.chat));
  ok(ctx.errors.filter((e) => !/WebSocket|ERR_/.test(e)).length === 0, 'page: no script errors or CSP violations', ctx.errors.join('\n'));
  await ctx.close();
});
