#!/usr/bin/env node
// test-desk.mjs — the front desk's calendar in Chromium (issue 8): a scheduler
// signs in, finds a patient, books a free slot of tomorrow in two clicks; the
// booking is in the store and shows in the calendar with its join link; a
// second scheduler in another browser context racing for the same slot is told
// "someone else has just booked this time" and sees the calendar refreshed;
// move, cancel; the doctor's hours (an overlap refused in plain words) and a
// day off; registering a patient with an e-mail address; a no-show; the
// session ending and signing in again; booking with the keyboard alone in a 200 % zoomed window
// (no sideways scrolling, every control labelled); and a patient refused by the
// scheduler's API (403, audited) and by the server when she reopens the desk page
// with her page cookie (403 page, page.open audited; the cookie HttpOnly).
// Run: tests/web/test-desk.mjs [--build BUILD] [--screenshots DIR]  (TAP; TV_BUILD_DIR,
// TV_SCREENSHOTS work too; make check-web runs it)
import path from 'node:path';
import { run, ok, note, signIn } from './clinic.mjs';
import { dayAfter, setHours, deskBook, noPageErrors } from './pages.mjs';

await run(async (clinic) => {
  await clinic.start();
  const sched = clinic.user('desk.one', 'Sam Scheduler', 'scheduler');
  clinic.user('desk.two', 'Kim Scheduler', 'scheduler');
  const doc = clinic.user('dr.web', 'Dr. Test Doctor', 'doctor', ['--time-zone', 'Europe/Berlin', '--slot-minutes', '30']);
  const pat = clinic.user('pat.web', 'Pat Synthetic', 'patient');
  const pat2 = clinic.user('alex.web', 'Alex Synthetic', 'patient');
  const st = await clinic.login('desk.one');
  await setHours(clinic, st, doc.id, [['08:00', '12:00'], ['13:00', '17:00']]);
  const other = clinic.user('dr.ada', 'Dr. Ada Synthetic', 'doctor', ['--time-zone', 'Europe/Berlin', '--slot-minutes', '20']);
  await setHours(clinic, st, other.id, [['09:00', '13:00']]);
  await clinic.browserLaunch();

  // ---- scheduler one books tomorrow's first free slot for Pat
  const a = await clinic.context({ timezoneId: 'Europe/Berlin' });
  const pa = await a.newPage();
  await pa.goto(`${clinic.origin}/desk/`);
  await signIn(pa, 'desk.one');
  await pa.getByRole('button', { name: 'Next' }).click();
  const tomorrow = dayAfter(1);
  await pa.waitForFunction((d) => document.getElementById('day').value === d, tomorrow);
  const slots = pa.locator(`.slot-free[data-doctor="${doc.id}"]`);
  const free = (p, start) => p.locator(`.slot-free[data-doctor="${doc.id}"][data-start="${start}"]`);
  const firstStart = await deskBook(pa, 'pat syn', 'Pat Synthetic', doc.id);
  ok(/Booked Pat Synthetic/.test(await pa.locator('#status').textContent()), 'scheduler: the booking is confirmed in words');
  const row = clinic.sql(`SELECT patient_id || '|' || status FROM consults WHERE doctor_id = '${doc.id}' AND status != 'cancelled'`);
  ok(row === `${pat.id}|scheduled`, 'store: one scheduled consult of the doctor, for Pat', row);
  ok(/\/join#token=/.test(await pa.locator('#join-link').textContent()), "scheduler: the patient's join link is shown on the booking");
  ok(await pa.locator('.consult.st-scheduled', { hasText: 'Pat Synthetic' }).count() === 1, 'calendar: the booking shows with status Scheduled');
  ok(await free(pa, firstStart).count() === 0, 'calendar: the booked slot is no longer offered');
  if (clinic.shots) await pa.screenshot({ path: path.join(clinic.shots, 'desk-day.png'), fullPage: true });

  // ---- the race: both schedulers choose the same slot, one wins
  const b = await clinic.context({ timezoneId: 'Europe/Berlin' });
  const pb = await b.newPage();
  await pb.goto(`${clinic.origin}/desk/`);
  await signIn(pb, 'desk.two');
  await pb.getByRole('button', { name: 'Next' }).click();
  await pb.getByLabel('Find a patient').fill('alex');
  await pb.getByRole('button', { name: 'Find' }).click();
  await pb.getByRole('button', { name: 'Choose Alex Synthetic' }).click();
  const target = await slots.first().getAttribute('data-start');
  await free(pb, target).click();
  await free(pa, target).click();
  await pa.getByRole('button', { name: 'Book', exact: true }).click();
  await pa.locator('#status.status-ok').waitFor();
  await pb.getByRole('button', { name: 'Book', exact: true }).click();
  const alert = pb.getByRole('alert');
  await alert.waitFor();
  ok(/Someone else has just booked this time/.test(await alert.textContent()), 'race: the loser is told the slot was just taken', await alert.textContent());
  await free(pb, target).waitFor({ state: 'detached' });
  ok(await pb.locator('.consult', { hasText: 'Pat Synthetic' }).count() === 2, "race: the loser's calendar is refreshed (both of Pat's bookings shown)");
  const live = clinic.sql(`SELECT count(*) FROM consults WHERE doctor_id = '${doc.id}' AND scheduled_start = (SELECT scheduled_start FROM consults WHERE doctor_id = '${doc.id}' ORDER BY scheduled_start DESC LIMIT 1) AND status != 'cancelled'`);
  ok(live === '1', 'store: one live consult at the raced time', live);
  ok(clinic.sql(`SELECT count(*) FROM consults WHERE patient_id = '${pat2.id}'`) === '0', 'store: nothing written for the loser');
  if (clinic.shots) await pb.screenshot({ path: path.join(clinic.shots, 'desk-slot-taken.png'), fullPage: true });
  // The other scheduler opens Pat's first booking: its join link is re-created by the server.
  const linkA = await pa.locator('#join-link').textContent();
  await pb.locator('.consult', { hasText: 'Pat Synthetic' }).last().click();
  await pb.locator('#join-link').waitFor();
  ok(await pb.locator('#join-link').textContent() === linkA, 'join link: another scheduler sees the same link on the booking (GET …/join-link)');
  await pb.locator('#doctor-join-link').waitFor({ state: 'attached' });
  ok(/\/join#token=/.test(await pb.locator('#doctor-join-link').textContent()) && await pb.locator('#doctor-join-link').textContent() !== linkA,
    "join link: the doctor's own link is there too, for a doctor without an account");

  // ---- move Pat's second booking to a later slot, then cancel it
  await pa.locator('.consult', { hasText: 'Pat Synthetic' }).nth(1).click();
  await pa.getByRole('button', { name: 'Move to another time' }).click();
  const later = await slots.nth(2).getAttribute('data-start');
  await free(pa, later).click();
  await pa.getByRole('button', { name: 'Move here' }).click();
  await pa.locator('#status.status-ok', { hasText: 'Moved' }).waitFor();
  const moved = clinic.sql(`SELECT count(*) FROM consults WHERE patient_id = '${pat.id}' AND status = 'scheduled'`);
  ok(moved === '2', 'move: still two scheduled consults for Pat', moved);
  await pa.getByRole('button', { name: 'Cancel visit' }).click();
  await pa.locator('#status.status-ok', { hasText: 'Cancelled' }).waitFor();
  ok(clinic.sql(`SELECT count(*) FROM consults WHERE patient_id = '${pat.id}' AND status = 'cancelled'`) === '1', 'cancel: the consult is cancelled in the store');
  ok(await free(pa, later).count() === 1, 'cancel: the slot is offered again');

  // ---- the doctor's hours: an overlapping range is refused in plain words; a day off is added
  await pa.getByLabel('Doctor', { exact: true }).selectOption({ label: 'Dr. Test Doctor' });
  await pa.getByRole('button', { name: 'Show hours' }).click();
  await pa.locator('#hours-rows tr').nth(13).waitFor();
  ok(await pa.locator('#hours-rows tr').count() === 14, 'hours: the weekly plan shows (7 days x 2 ranges)');
  await pa.getByRole('button', { name: 'Add hours' }).click();
  await pa.getByRole('button', { name: 'Save weekly hours' }).click();
  await pa.getByRole('alert').waitFor();
  ok(/Please check what you entered \(.*hours\[/.test(await pa.getByRole('alert').textContent()), 'hours: an overlapping range is refused, naming the entry', await pa.getByRole('alert').textContent());
  ok(clinic.sql(`SELECT count(*) FROM availability WHERE doctor_id = '${doc.id}'`) === '14', 'hours: nothing saved on the refusal');
  await pa.getByRole('button', { name: 'Remove row 15' }).click();
  await pa.getByLabel('Date', { exact: true }).nth(1).fill(dayAfter(2));
  await pa.getByRole('button', { name: 'Add exception' }).click();
  await pa.locator('#status.status-ok', { hasText: 'Exception added' }).waitFor();
  ok(clinic.sql(`SELECT kind FROM availability_exceptions WHERE doctor_id = '${doc.id}' AND date = '${dayAfter(2)}'`) === 'off', 'exceptions: the day off is stored');
  await pa.getByLabel('View', { exact: true }).selectOption('week');
  await pa.locator('.calendar.week .cal-col').first().waitFor();
  if (clinic.shots) {
    // A full-page capture draws the sticky status where the view was scrolled to, over
    // the content there; from the top it sits in its own place above the page.
    await pa.evaluate(() => window.scrollTo(0, 0));
    await pa.screenshot({ path: path.join(clinic.shots, 'desk-week-hours.png'), fullPage: true });
  }
  await pa.getByLabel('View', { exact: true }).selectOption('day');

  // ---- register a new patient with an e-mail address for reminders
  await pa.locator('#register summary').click();
  await pa.getByLabel('Full name').fill('Robin Synthetic');
  await pa.getByLabel('User name (a-z').fill('robin.web');
  await pa.getByLabel('E-mail for invitations').fill('robin.synthetic@example.org');
  await pa.getByRole('button', { name: 'Register', exact: true }).click();
  await pa.locator('#initial-password').waitFor();
  ok((await pa.locator('#initial-password').textContent()).length >= 8, 'register: the first password is shown once to hand over');
  const found = await clinic.request('GET', '/api/v1/users?role=patient&q=robin', st);
  const robin = found.json.users.find((u) => u.username === 'robin.web');
  ok(robin && robin.display_name === 'Robin Synthetic', 'register: the patient account exists');
  const contact = await clinic.request('GET', `/api/v1/users/${robin.id}/contact`, st);
  ok(contact.json.contact.email === 'robin.synthetic@example.org', 'register: the e-mail address is stored', contact.text);
  await pa.locator('#contact-form:not([hidden])').waitFor();
  ok(await pa.getByLabel('E-mail', { exact: true }).inputValue() === 'robin.synthetic@example.org', 'register: Robin is chosen, with the contact details shown for editing');
  await pb.getByLabel('Find a patient').fill('rob');
  await pb.getByRole('button', { name: 'Choose Robin Synthetic' }).waitFor();
  ok(true, 'find: results appear while typing (no Find press), the new patient included');

  // ---- a visit whose start has passed: marked no-show from its booking
  const late = await clinic.request('POST', '/api/v1/consults', st, { doctor_id: doc.id, patient_id: robin.id, start: `${dayAfter(1)}T15:00:00+00:00` });
  const startUs = (Date.now() - 60000) * 1000;
  clinic.sqlWrite(`UPDATE consults SET scheduled_start = ${startUs}, scheduled_end = ${startUs + 30 * 60e6} WHERE id = '${late.json.consult.id}'`);
  await pa.getByLabel('Date', { exact: true }).first().fill(dayAfter(0, 'Europe/Berlin', -60000));
  const lateBtn = pa.locator(`#calendar [data-consult="${late.json.consult.id}"]`);
  await lateBtn.click();
  await pa.getByRole('button', { name: 'Mark no-show' }).click();
  await pa.locator('#status.status-ok', { hasText: 'not shown up' }).waitFor();
  ok(clinic.sql(`SELECT status FROM consults WHERE id = '${late.json.consult.id}'`) === 'no-show', 'no-show: marked from the booking, stored');
  ok(/No-show/.test(await lateBtn.textContent()), 'no-show: the calendar shows the status');

  // ---- the session ends (logged out elsewhere): the sign-in form comes back; signed in
  // again, the page starts afresh and one click books one visit (no doubled listeners)
  const tokA = await pa.evaluate(() => sessionStorage.getItem('televisit.session'));
  await clinic.request('POST', '/api/v1/logout', tokA, {});
  await pa.getByRole('button', { name: 'Refresh' }).click();
  await pa.locator('#login-form').waitFor();
  ok(/Please sign in/.test(await pa.locator('#status').textContent()), 'session ended: the sign-in form comes back, saying so');
  await signIn(pa, 'desk.one');
  await pa.getByRole('button', { name: 'Next' }).click();
  await pa.waitForFunction((d) => document.getElementById('day').value === d, tomorrow);
  await deskBook(pa, 'robin', 'Robin Synthetic', doc.id);
  ok(clinic.sql(`SELECT count(*) FROM consults WHERE patient_id = '${robin.id}' AND status = 'scheduled'`) === '1', 'signed in again: one click booked exactly one visit');

  // ---- keyboard only, at 200 % zoom (the 1400 px window seen as 700 CSS px): book for Alex
  const z = await clinic.context({ timezoneId: 'Europe/Berlin', viewport: { width: 700, height: 900 } });
  const pz = await z.newPage();
  await pz.goto(`${clinic.origin}/desk/`);
  await signIn(pz, 'desk.two');
  await pz.getByRole('button', { name: 'Next' }).focus();
  await pz.keyboard.press('Enter');
  await pz.waitForFunction((d) => document.getElementById('day').value === d, tomorrow);
  await pz.getByLabel('Find a patient').focus();
  await pz.keyboard.type('alex');
  await pz.keyboard.press('Enter');
  await pz.getByRole('button', { name: 'Choose Alex Synthetic' }).focus();
  await pz.keyboard.press('Enter');
  await pz.locator('#chosen-patient', { hasText: 'Alex' }).waitFor();
  const second = pz.locator(`.slot-free[data-doctor="${doc.id}"]`).nth(1);
  await second.focus();
  const secondStart = await second.getAttribute('data-start');
  const before = await second.elementHandle();
  await pz.evaluate(() => document.getElementById('refresh').click());
  await pz.waitForFunction((el) => !el.isConnected, before);
  ok(await pz.evaluate(() => document.activeElement.dataset.start) === secondStart, 'keyboard: a calendar refresh keeps the focus on the same slot');
  await pz.locator(`.slot-free[data-doctor="${doc.id}"]`).first().focus();
  await pz.keyboard.press('Enter');
  await pz.waitForFunction(() => document.activeElement && document.activeElement.id === 'confirm-book');
  ok(true, 'keyboard: Enter on a free slot moves the focus to "Book"');
  await pz.keyboard.press('Enter');
  await pz.locator('#status.status-ok', { hasText: 'Booked Alex Synthetic' }).waitFor();
  ok(clinic.sql(`SELECT count(*) FROM consults WHERE patient_id = '${pat2.id}' AND status = 'scheduled'`) === '1', 'keyboard: Alex booked without the mouse');
  const overflow = await pz.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  ok(overflow <= 0, 'zoom 200 %: the desk fits the width (no sideways scrolling)', `overflow ${overflow}px`);
  const unlabelled = await pz.evaluate(() => [...document.querySelectorAll('input, select, button')]
    .filter((el) => !el.labels?.length && !el.getAttribute('aria-label') && !el.textContent.trim()).map((el) => el.id || el.outerHTML.slice(0, 60)));
  ok(unlabelled.length === 0, 'every control has a label', unlabelled.join(', '));
  if (clinic.shots) await pz.screenshot({ path: path.join(clinic.shots, 'desk-zoom200.png') });

  // ---- a patient opening the desk: the page says so, the API refuses with 403 (audited)
  const c = await clinic.context();
  const pc = await c.newPage();
  await pc.goto(`${clinic.origin}/desk/`);
  await signIn(pc, 'pat.web');
  await pc.getByRole('alert').waitFor();
  ok(/for scheduler or admin accounts/.test(await pc.getByRole('alert').textContent()), 'patient on /desk/: told the page is not for them');
  ok(!(await pc.locator('#app').isVisible()), 'patient on /desk/: no calendar shown');
  // The server checks the page too: signing in set the page cookie (HttpOnly, hidden from scripts),
  // and opening the desk again with it is refused with 403 and audited; her portal opens.
  const jar = (await c.cookies()).filter((k) => k.name === 'tv_session');
  ok(jar.length === 1 && jar[0].httpOnly && jar[0].secure && jar[0].sameSite === 'Strict' && jar[0].expires === -1,
    'patient: signing in set the page cookie (Secure, HttpOnly, SameSite=Strict, session)', JSON.stringify(jar.map((k) => ({ ...k, value: '…' }))));
  ok(!(await pc.evaluate(() => document.cookie)).includes('tv_session'), 'patient: the page cookie is not readable by scripts');
  const reopened = await pc.goto(`${clinic.origin}/desk/`);
  ok(reopened.status() === 403 && /This page is for schedulers and administrators\. You are signed in as a patient\./.test(await pc.locator('main').textContent()),
    'patient reopening /desk/: 403, the page says whom it is for', reopened.status());
  const pageRow = clinic.sql(`SELECT count(*) FROM audit WHERE user_id = '${pat.id}' AND action = 'page.open' AND resource_type = 'page' AND resource_id = 'desk' AND detail = 'http 403'`);
  ok(Number(pageRow) === 1, 'patient reopening /desk/: one page.open refusal in the audit trail', pageRow);
  const portal = await pc.goto(`${clinic.origin}/portal/`);
  ok(portal.status() === 200, 'patient: her portal opens with the same cookie', portal.status());
  const ptok = await clinic.login('pat.web');
  const r = await clinic.request('GET', '/api/v1/users?role=patient', ptok);
  ok(r.status === 403 && !/Synthetic/.test(r.text), "patient: the scheduler's patient search answers 403 without data", r.text);
  const audited = clinic.sql(`SELECT count(*) FROM audit WHERE user_id = '${pat.id}' AND action = 'GET /api/v1/users' AND detail = 'http 403'`);
  ok(Number(audited) >= 1, 'patient: the refusal is in the audit trail', audited);

  noPageErrors([a, b, c, z], 'desk pages');
  note(`scheduler ${sched.id.slice(0, 8)}… booked through ${clinic.origin}`);
});
