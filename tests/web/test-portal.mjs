#!/usr/bin/env node
// test-portal.mjs — one visit from booking to call, across the pages (issue 8):
// a scheduler books a slot for Pat at the front desk; Pat signs in to the
// portal, sees the visit under "Upcoming visits" and presses "Join": the
// browser join page opens and a real call runs with a headless
// televisit-client as the doctor (video frames decoded both ways); afterwards
// the portal lists the visit as completed with its statement (a 0-minute test
// code bills the short call), "Download my record" saves her FHIR Bundle, and
// the billing user's CSV export holds the visit. Pat also books a visit
// herself and cancels it; another patient's join link is refused (403, audited).
// Run: tests/web/test-portal.mjs [--build BUILD] [--screenshots DIR]  (TAP; make check-web)
import fs from 'node:fs';
import path from 'node:path';
import { Child } from '../../bench/lib.mjs';
import { run, ok, note, signIn } from './clinic.mjs';
import { setHours, deskBook, noPageErrors, fitsAt200, dayAfter, testBillingCodes } from './pages.mjs';

await run(async (clinic) => {
  await clinic.start(testBillingCodes(clinic));
  clinic.user('bill.web', 'Bo Billing', 'billing');
  clinic.user('desk.one', 'Sam Scheduler', 'scheduler');
  const doc = clinic.user('dr.web', 'Dr. Test Doctor', 'doctor', ['--time-zone', 'Europe/Berlin', '--slot-minutes', '5']);
  const pat = clinic.user('pat.web', 'Pat Synthetic', 'patient');
  const other = clinic.user('alex.web', 'Alex Synthetic', 'patient');
  const st = await clinic.login('desk.one');
  await setHours(clinic, st, doc.id);
  await clinic.browserLaunch(['--allow-loopback-in-peer-connection']);

  // ---- the front desk books today's next free slot for Pat
  const desk = await clinic.context({ timezoneId: 'Europe/Berlin' });
  const pd = await desk.newPage();
  await pd.goto(`${clinic.origin}/desk/`);
  await signIn(pd, 'desk.one');
  await deskBook(pd, 'pat', 'Pat Synthetic', doc.id);
  const consult = clinic.sql(`SELECT id FROM consults WHERE patient_id = '${pat.id}' AND status = 'scheduled'`);
  ok(/^[0-9a-f-]{36}$/.test(consult), 'desk: the visit is booked in the store', consult);

  // ---- Pat signs in to the portal and sees it
  const ctx = await clinic.context({ timezoneId: 'Europe/Berlin', acceptDownloads: true });
  const pp = await ctx.newPage();
  await pp.goto(`${clinic.origin}/portal/`);
  await signIn(pp, 'pat.web');
  const visit = pp.locator(`#upcoming li[data-consult="${consult}"]`);
  await visit.waitFor();
  ok(/Dr\. Test Doctor/.test(await visit.textContent()), 'portal: the upcoming visit shows with the doctor');
  // Booked for today: inside the clinic's default 24 hours' notice, so no Cancel but why and what to do.
  ok(await visit.getByRole('button', { name: /^Cancel the visit/ }).count() === 0 &&
    /24 hours' notice .*please call the clinic/.test(await visit.locator('.cancel-closed').textContent()),
  "portal: today's visit has no Cancel, it says 24 hours' notice and to call the clinic", await visit.textContent());
  const join = visit.getByRole('link', { name: /^Join the visit/ });
  await join.waitFor();
  ok(/\/join#token=/.test(await join.getAttribute('href')), 'portal: "Join" points at the browser join page with her link');
  if (clinic.shots) await pp.screenshot({ path: path.join(clinic.shots, 'portal.png'), fullPage: true });

  await fitsAt200(pp, 'portal page');
  // ---- Pat joins from the portal; the doctor is the headless desktop client
  const [call] = await Promise.all([ctx.waitForEvent('page'), join.click()]);
  await call.locator('#screen-waiting').waitFor({ state: 'visible', timeout: 20000 });
  ok(true, 'join page: Pat waits for the doctor');
  await pd.locator('#waiting li', { hasText: 'Pat Synthetic' }).waitFor({ timeout: 15000 });
  ok(true, "desk: Pat appears in the waiting room list (polled)");
  await pd.locator(`#calendar [data-consult="${consult}"].st-waiting`).waitFor({ timeout: 15000 });
  ok(true, 'desk: her booking shows the status Waiting');
  const links = await clinic.request('GET', `/api/v1/consults/${consult}/join-link`, st);
  const tokFile = path.join(clinic.tmp, 'doctor.tok');
  fs.writeFileSync(tokFile, new URL(links.json.doctor_join_link).hash.replace('#token=', ''), { mode: 0o600 });
  const stats = path.join(clinic.tmp, 'doctor.json');
  const doctor = clinic.track(new Child(clinic.bin('televisit-client'), ['--server', `wss://127.0.0.1:${clinic.port}/`,
    '--ca', path.join(clinic.dir, 'tls', 'cert.pem'), '--token-file', tokFile, '--headless', '--test-media',
    '--ice-address', '127.0.0.1', '--duration', '12', '--end-on-exit', '--stats-json', stats],
  { name: 'televisit-client', stderrFile: path.join(clinic.tmp, 'doctor.err') }));
  await doctor.waitLine(/^media connected/, 30000);
  // Frames the page's remote <video> decoded and presented (the media stack's own count).
  const shown = () => { const v = document.getElementById('remote'); return v ? v.getVideoPlaybackQuality().totalVideoFrames : 0; };
  await call.waitForFunction(() => { const v = document.getElementById('remote'); return v && v.getVideoPlaybackQuality().totalVideoFrames >= 30; }, null, { timeout: 20000 });
  ok(true, "join page: 30+ of the doctor's video frames decoded and shown");
  const pageFrames = await call.evaluate(shown);
  const r = await doctor.wait(40000);
  ok(r.code === 0, 'doctor client: exit 0 after the call', `exit ${r.code}: ${doctor.stderrTail.slice(-800)}`);
  const s = JSON.parse(fs.readFileSync(stats, 'utf8'));
  ok(s.video_frames_decoded >= 30, "doctor client: 30+ of Pat's video frames decoded", `video_frames_decoded=${s.video_frames_decoded}`);
  note(`frames: page ${pageFrames}+ (when counted), client ${s.video_frames_decoded}`);
  ok(clinic.sql(`SELECT status FROM consults WHERE id = '${consult}'`) === 'completed', 'store: the visit is completed');
  await call.close();

  // ---- afterwards: a past visit
  await pp.reload();
  await pp.locator('#past li', { hasText: 'Completed' }).waitFor();
  ok(await pp.locator(`#upcoming li[data-consult="${consult}"]`).count() === 0, 'portal: the visit moved from upcoming to past (Completed)');
  const stmt = pp.locator(`#statements tr[data-consult="${consult}"]`);
  await stmt.waitFor();
  ok(/Dr\. Test Doctor/.test(await stmt.textContent()) && /\$42\.50/.test(await stmt.textContent()), "portal: the visit's statement with its amount", await stmt.textContent());
  const [sd] = await Promise.all([pp.waitForEvent('download'), stmt.getByRole('button', { name: /^Download the statement/ }).click()]);
  ok(/42\.50/.test(fs.readFileSync(await sd.path(), 'utf8')), 'portal: the printable statement downloads with its amount');
  if (clinic.shots) await pp.screenshot({ path: path.join(clinic.shots, 'portal-after.png'), fullPage: true });
  const [rec] = await Promise.all([pp.waitForEvent('download'), pp.getByRole('button', { name: 'Download my record' }).click()]);
  const bundle = JSON.parse(fs.readFileSync(await rec.path(), 'utf8'));
  ok(bundle.resourceType === 'Bundle' && JSON.stringify(bundle).includes(consult), 'portal: "Download my record" saves her FHIR Bundle with the visit');

  // ---- the billing user exports the CSV holding that visit
  const bctx = await clinic.context({ timezoneId: 'Europe/Berlin', acceptDownloads: true });
  const pb = await bctx.newPage();
  await pb.goto(`${clinic.origin}/billing/`);
  await signIn(pb, 'bill.web');
  await pb.locator('#lines tr[data-line]').first().waitFor();
  const [dl] = await Promise.all([pb.waitForEvent('download'), pb.getByRole('button', { name: 'Export CSV' }).click()]);
  const csv = fs.readFileSync(await dl.path(), 'utf8');
  ok(csv.split(/\r?\n/).some((l) => l.includes(consult) && l.includes('Pat Synthetic') && l.includes('42.50')), 'billing: the exported CSV holds the visit', csv.slice(0, 400));

  // ---- Pat books a visit herself (in three days: outside the notice), then cancels
  await pp.getByLabel('Day').fill(dayAfter(3));
  await pp.getByRole('button', { name: 'Show free times' }).click();
  await pp.locator('#book-slots .slot-free').nth(3).click();
  await pp.getByRole('button', { name: 'Book this time' }).click();
  await pp.locator('#status.status-ok', { hasText: 'Booked' }).waitFor();
  const own = clinic.sql(`SELECT id || '|' || booked_by FROM consults WHERE patient_id = '${pat.id}' AND status = 'scheduled'`);
  ok(own.endsWith(`|${pat.id}`), 'portal: Pat booked a visit herself (booked_by is Pat)', own);
  const ownId = own.split('|')[0];
  ok(/You can cancel online until /.test(await pp.locator(`#upcoming li[data-consult="${ownId}"] .cancel-until`).textContent()), 'portal: her own visit says until when she can cancel online');
  await pp.locator(`#upcoming li[data-consult="${ownId}"]`).getByRole('button', { name: /^Cancel the visit/ }).click();
  await pp.locator('#status.status-ok', { hasText: 'cancelled' }).waitFor();
  ok(clinic.sql(`SELECT status || '|' || end_reason FROM consults WHERE id = '${ownId}'`) === 'cancelled|cancelled-by-patient', 'portal: Pat cancelled it (cancelled-by-patient)');

  // ---- someone else's visit: 403, audited, no link
  const ot = await clinic.login('alex.web');
  const refused = await clinic.request('GET', `/api/v1/consults/${consult}/join-link`, ot);
  ok(refused.status === 403 && !/token=/.test(refused.text), "another patient: Pat's join link refused (403, no link)", refused.text);
  const audited = clinic.sql(`SELECT count(*) FROM audit WHERE user_id = '${other.id}' AND action = 'GET /api/v1/consults/{id}/join-link' AND detail = 'http 403'`);
  ok(audited === '1', 'another patient: the refusal is in the audit trail', audited);
  noPageErrors([desk, ctx, bctx], 'desk, portal and billing');
});
