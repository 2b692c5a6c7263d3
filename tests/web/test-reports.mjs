#!/usr/bin/env node
// test-reports.mjs — the managers' report page and the billing worklist's
// guard in Chromium (issue 8): a billing user signs in to /reports/, sees the
// totals, the charts (SVG with a title for screen readers) and the tables for
// the visits booked, filters by doctor, downloads the CSV; a patient opening
// /reports/ is told the page is not for them and the report API answers 403
// (audited) without figures.
// Run: tests/web/test-reports.mjs [--build BUILD] [--screenshots DIR]  (TAP; make check-web)
import path from 'node:path';
import fs from 'node:fs';
import { run, ok, signIn } from './clinic.mjs';
import { setHours, noPageErrors, fitsAt200, dayAfter } from './pages.mjs';

await run(async (clinic) => {
  await clinic.start();
  clinic.user('desk.one', 'Sam Scheduler', 'scheduler');
  clinic.user('bill.web', 'Bo Billing', 'billing');
  const doc = clinic.user('dr.web', 'Dr. Test Doctor', 'doctor', ['--time-zone', 'Europe/Berlin', '--slot-minutes', '15']);
  const doc2 = clinic.user('dr.two', 'Dr. Other Doctor', 'doctor', ['--time-zone', 'Europe/Berlin', '--slot-minutes', '15']);
  const pats = ['pat.a', 'pat.b', 'pat.c'].map((u, i) => clinic.user(u, `Pat Synthetic ${i}`, 'patient'));
  const st = await clinic.login('desk.one');
  await setHours(clinic, st, doc.id);
  await setHours(clinic, st, doc2.id);
  // Three visits tomorrow (two with Dr. Test Doctor, one cancelled; one with the other doctor).
  const book = async (d, p, hour) => {
    const start = `${dayAfter(1)}T${String(hour).padStart(2, '0')}:00:00+00:00`;
    const r = await clinic.request('POST', '/api/v1/consults', st, { doctor_id: d.id, patient_id: p.id, start });
    if (r.status !== 201) throw new Error(`book: ${r.status} ${r.text}`);
    return r.json.consult.id;
  };
  await book(doc, pats[0], 9);
  const c2 = await book(doc, pats[1], 10);
  await book(doc2, pats[2], 9);
  const cr = await clinic.request('POST', `/api/v1/consults/${c2}/cancel`, st, {});
  if (cr.status !== 200) throw new Error(`cancel: ${cr.status}`);
  await clinic.browserLaunch();

  const ctx = await clinic.context({ timezoneId: 'Europe/Berlin', acceptDownloads: true });
  const page = await ctx.newPage();
  await page.goto(`${clinic.origin}/reports/`);
  await signIn(page, 'bill.web');
  await page.getByLabel('To (inclusive)').fill(dayAfter(2));
  await page.getByRole('button', { name: 'Show report' }).click();
  const tile = (label) => page.locator('.tile', { hasText: label }).locator('.big');
  await page.waitForFunction(() => document.querySelector('.tile .big') && document.querySelector('.tile .big').textContent === '3');
  ok(await tile('Visits booked').textContent() === '3', 'reports: 3 visits booked in the range');
  ok(await tile('Cancelled').textContent() === '1', 'reports: 1 cancelled');
  ok(await page.locator('#chart-days svg[role="img"] title').first().textContent() === 'Visits per day by outcome', 'reports: the daily chart is an SVG image with a title for screen readers');
  ok(await page.locator('#table-doctors tbody tr').count() === 2, 'reports: one row per doctor in the table');
  if (clinic.shots) await page.screenshot({ path: path.join(clinic.shots, 'reports.png'), fullPage: true });

  await fitsAt200(page, 'reports page');
  await page.getByLabel('Doctor', { exact: true }).selectOption({ label: 'Dr. Other Doctor' });
  await page.getByRole('button', { name: 'Show report' }).click();
  await page.waitForFunction(() => document.querySelector('.tile .big').textContent === '1');
  ok(await page.locator('#table-doctors tbody tr').count() === 1, 'reports: filtered to one doctor, one visit');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
  const csv = fs.readFileSync(await dl.path(), 'utf8');
  ok(/^date,doctor_id,doctor,consults/.test(csv) && csv.includes('Dr. Other Doctor') && !csv.includes('Dr. Test Doctor'), 'reports: the CSV holds the filtered report', csv.slice(0, 300));
  const [hd] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download printable page' }).click()]);
  const html = fs.readFileSync(await hd.path(), 'utf8');
  ok(/<svg/.test(html) && html.includes('Dr. Other Doctor'), 'reports: the printable page (charts) downloads', html.slice(0, 200));
  ok(!/Pat Synthetic/.test(await page.content()), 'reports: no patient name on the page');

  // ---- a patient: told so, and the API refuses (403, audited, no figures)
  const pctx = await clinic.context();
  const pp = await pctx.newPage();
  await pp.goto(`${clinic.origin}/reports/`);
  await signIn(pp, 'pat.a');
  await pp.getByRole('alert').waitFor();
  ok(/for admin or billing accounts/.test(await pp.getByRole('alert').textContent()), 'patient on /reports/: told the page is not for them');
  const ptok = await clinic.login('pat.a');
  const r = await clinic.request('GET', '/api/v1/reports/operations', ptok);
  ok(r.status === 403 && !/consults/.test(r.text), 'patient: the report API answers 403 without figures', r.text);
  const audited = clinic.sql(`SELECT count(*) FROM audit WHERE user_id = '${pats[0].id}' AND action LIKE 'GET /api/v1/reports/operations%' AND detail = 'http 403'`);
  ok(Number(audited) >= 1, 'patient: the refusal is in the audit trail', audited);
  noPageErrors([ctx, pctx], 'reports page');
});
