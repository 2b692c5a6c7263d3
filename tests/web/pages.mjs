// pages.mjs — steps shared by the page tests: the doctor's hours through the
// API, dates as the pages show them, and the front desk's booking done the way
// a scheduler does it (find the patient, choose, a free slot, "Book").
import fs from 'node:fs';
import path from 'node:path';
import { ok, ROOT } from './clinic.mjs';

// Sets the doctor's hours every day of the week to @ranges ([start, end] in
// their zone); the default 00:00-24:00 has free slots whatever the hour.
export async function setHours (clinic, token, doctorId, ranges = [['00:00', '24:00']]) {
  const hours = [];
  for (let d = 1; d <= 7; d++) for (const [start, end] of ranges) hours.push({ weekday: d, start, end });
  const r = await clinic.request('PUT', `/api/v1/doctors/${doctorId}/availability`, token, { hours });
  if (r.status !== 200) throw new Error(`availability: ${r.status} ${r.text}`);
}

// YYYY-MM-DD of today + @n days (+ @ms) in the local zone of @tz.
export function dayAfter (n, tz = 'Europe/Berlin', ms = 0) {
  const d = new Date(Date.now() + n * 86400000 + ms);
  return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
}

// On a signed-in /desk/ page: finds @query, chooses @name, books the first
// free slot shown of @doctorId (or the one starting at @start). Resolves with the slot's start.
export async function deskBook (page, query, name, doctorId, start) {
  await page.getByLabel('Find a patient').fill(query);
  await page.getByRole('button', { name: 'Find', exact: true }).click();
  await page.getByRole('button', { name: `Choose ${name}` }).click();
  const free = page.locator(`.slot-free[data-doctor="${doctorId}"]`);
  const slot = start ? free.and(page.locator(`[data-start="${start}"]`)) : free.first();
  await slot.waitFor();
  const at = await slot.getAttribute('data-start');
  await slot.click();                                                    // click 1: the slot
  await page.getByRole('button', { name: 'Book', exact: true }).click(); // click 2: Book
  await page.locator('#status.status-ok', { hasText: `Booked ${name}` }).waitFor();
  return at;
}

// The page's context saw no script errors or CSP violations (network errors aside).
export function noPageErrors (ctxs, what) {
  const errs = ctxs.flatMap((c) => c.errors).filter((e) => !/Failed to load resource|WebSocket|ERR_/.test(e));
  return ok(errs.length === 0, `${what}: no script errors or CSP violations`, errs.join('\n'));
}

// A billing code table for tests: the shipped one plus a 0-minute video visit
// of an established patient (fee 42.50), so a short test call is billed.
export function testBillingCodes (clinic) {
  const file = path.join(clinic.tmp, 'billing-codes.conf');
  fs.writeFileSync(file, fs.readFileSync(path.join(ROOT, 'server', 'billing-codes.conf'), 'utf8') +
    '\n[test0]\nscheme = telemedicine\ncode = 98999\nmodality = audio-video\npatient = established\n' +
    'minutes = 0\nfee = 42.50\ndescription = Test video visit, any length\n');
  return ['--billing-codes', file];
}

// At 200 % zoom a 1400 px window is 700 CSS px wide: @page, resized so, must
// not scroll sideways (wide tables scroll inside their own box).
export async function fitsAt200 (page, what) {
  await page.setViewportSize({ width: 700, height: 900 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  ok(overflow <= 0, `${what} at 200 % zoom: no sideways scrolling`, `overflow ${overflow}px`);
  await page.setViewportSize({ width: 1400, height: 1000 });
}
