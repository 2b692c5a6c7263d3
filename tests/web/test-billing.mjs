#!/usr/bin/env node
// test-billing.mjs — the billing worklist in Chromium (issue 8): three visits
// completed (televisitctl end; a 0-minute test code bills them) give three
// "Ready" lines; the billing user chooses two and sets them Submitted (stored,
// one audit row each); a choice mixing a Ready and a Submitted line set to
// Paid is refused in plain words and changes nothing; the status filter and
// the CSV export of the filtered lines; a patient opening /billing/ is told
// so and the API answers 403 (audited).
// Run: tests/web/test-billing.mjs [--build BUILD] [--screenshots DIR]  (TAP; make check-web)
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { run, ok, signIn } from './clinic.mjs';
import { setHours, noPageErrors, fitsAt200, dayAfter, testBillingCodes } from './pages.mjs';

await run(async (clinic) => {
  await clinic.start(testBillingCodes(clinic));
  clinic.user('desk.one', 'Sam Scheduler', 'scheduler');
  clinic.user('bill.web', 'Bo Billing', 'billing');
  const doc = clinic.user('dr.web', 'Dr. Test Doctor', 'doctor', ['--time-zone', 'Europe/Berlin']);
  const pats = ['pat.a', 'pat.b', 'pat.c'].map((u, i) => clinic.user(u, `Pat Synthetic ${'ABC'[i]}`, 'patient'));
  const st = await clinic.login('desk.one');
  await setHours(clinic, st, doc.id);
  const consults = [];
  for (let i = 0; i < 3; i++) {
    const r = await clinic.request('POST', '/api/v1/consults', st, { doctor_id: doc.id, patient_id: pats[i].id, start: `${dayAfter(1)}T0${i + 7}:00:00+00:00` });
    if (r.status !== 201) throw new Error(`book: ${r.status} ${r.text}`);
    consults.push(r.json.consult.id);
    execFileSync(clinic.bin('televisitctl'), ['--data-dir', clinic.dir, 'end', r.json.consult.id], { encoding: 'utf8' });
  }
  ok(clinic.sql("SELECT count(*) FROM billing_lines WHERE status = 'ready'") === '3', 'setup: three completed visits, three ready lines');
  await clinic.browserLaunch();

  const ctx = await clinic.context({ timezoneId: 'Europe/Berlin', acceptDownloads: true });
  const page = await ctx.newPage();
  await page.goto(`${clinic.origin}/billing/`);
  await signIn(page, 'bill.web');
  const rows = page.locator('#lines tr[data-line]');
  await rows.nth(2).waitFor();
  ok(await rows.count() === 3 && /42\.50/.test(await rows.first().textContent()), 'worklist: the three lines with their fee');
  ok(/3 lines/.test(await page.locator('#lines-summary').textContent()), 'worklist: the count and total are shown', await page.locator('#lines-summary').textContent());

  // ---- two chosen -> Submitted
  await page.getByRole('checkbox', { name: /Pat Synthetic A/ }).check();
  await page.getByRole('checkbox', { name: /Pat Synthetic B/ }).check();
  ok(/2 chosen/.test(await page.locator('#chosen-count').textContent()), 'worklist: "2 chosen"');
  await page.getByLabel('Set chosen lines to').selectOption('submitted');
  await page.getByRole('button', { name: 'Change status' }).click();
  await page.locator('#status.status-ok', { hasText: '2 lines set to Submitted' }).waitFor();
  const sub = clinic.sql("SELECT c.patient_id FROM billing_lines b JOIN consults c ON c.id = b.consult_id WHERE b.status = 'submitted' ORDER BY c.patient_id");
  ok(sub === [pats[0].id, pats[1].id].sort().join('\n'), 'store: the two chosen lines are submitted', sub);
  ok(clinic.sql("SELECT count(*) FROM audit WHERE action = 'billing.status' AND detail = 'ready->submitted'") === '2', 'audit: one billing.status row per line');
  if (clinic.shots) await page.screenshot({ path: path.join(clinic.shots, 'billing.png'), fullPage: true });

  await fitsAt200(page, 'billing page');
  // ---- a mixed choice -> Paid: refused, nothing changed
  await page.getByRole('checkbox', { name: /Pat Synthetic B/ }).check();
  await page.getByRole('checkbox', { name: /Pat Synthetic C/ }).check();
  await page.getByLabel('Set chosen lines to').selectOption('paid');
  await page.getByRole('button', { name: 'Change status' }).click();
  await page.getByRole('alert').waitFor();
  ok(/^Nothing was changed: .*ready.*paid/i.test(await page.getByRole('alert').textContent()), 'worklist: a transition not allowed is refused in plain words', await page.getByRole('alert').textContent());
  ok(clinic.sql("SELECT count(*) FROM billing_lines WHERE status = 'paid'") === '0', 'store: no line changed (all or nothing)');

  // ---- filter by claim status, export the filtered lines
  await page.getByLabel('Claim status').selectOption('submitted');
  await page.getByRole('button', { name: 'Show lines' }).click();
  await page.waitForFunction(() => document.querySelectorAll('#lines tr[data-line]').length === 2);
  ok(true, 'worklist: the Submitted filter shows the two lines');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
  const csv = fs.readFileSync(await dl.path(), 'utf8').trim().split(/\r?\n/);
  ok(csv.length === 3 && csv[0].startsWith('line_id,consult_id,') && csv.slice(1).every((l) => /,submitted,/.test(l)),
    'export: CSV header and the two submitted lines', csv.join('\n'));
  ok(csv.some((l) => l.includes(consults[0])) && !csv.some((l) => l.includes(consults[2])), 'export: the chosen visits, not the others');

  // ---- a patient: told so; the API refuses (403, audited)
  const pctx = await clinic.context();
  const pp = await pctx.newPage();
  await pp.goto(`${clinic.origin}/billing/`);
  await signIn(pp, 'pat.a');
  ok(/for billing or admin accounts/.test(await pp.getByRole('alert').textContent()), 'patient on /billing/: told the page is not for them');
  const ptok = await clinic.login('pat.a');
  const r = await clinic.request('GET', '/api/v1/billing/lines', ptok);
  ok(r.status === 403 && !/Synthetic/.test(r.text), 'patient: the billing API answers 403 without data', r.text);
  ok(Number(clinic.sql(`SELECT count(*) FROM audit WHERE user_id = '${pats[0].id}' AND action = 'GET /api/v1/billing/lines' AND detail = 'http 403'`)) >= 1,
    'patient: the refusal is in the audit trail');
  noPageErrors([ctx, pctx], 'billing page');
});
