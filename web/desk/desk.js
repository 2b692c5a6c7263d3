// desk.js — the front desk's scheduler calendar (/desk/, issue 8).
// Day or week view of one or several doctors side by side: free slots and
// booked consults with their status; book a free slot for the chosen patient
// in two clicks (the slot, then "Book"), move a booking by choosing another
// free slot, cancel, mark a no-show; the waiting room polled every 5 s;
// find or register patients; edit a doctor's weekly hours and exceptions.
// Everything goes through the documented /api/v1/ routes, which check the
// scheduler role server-side; this page only shows what they answer.
import {
  h, fill, $, api, say, guarded, setupSignIn, ApiError, fmtTime, fmtDay, fmtDateTime, fmtDate,
  startOfDay, startOfWeek, addDays, isoDate, fromIsoDate, rfc3339, STATUS_WORDS,
} from '/web/common/tv.js';

const WAIT_POLL_MS = 5000;
const CAL_POLL_MS = 30000;
const JOINABLE = new Set(['scheduled', 'waiting', 'in-progress']);
const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

const state = {
  doctors: [],
  shown: new Set(JSON.parse(sessionStorage.getItem('desk.doctors') || '[]')),
  view: sessionStorage.getItem('desk.view') || 'day',
  day: startOfDay(new Date()),
  patient: null,          // {id, display_name, username}
  selected: null,         // {kind: 'slot', doctor, start, end} | {kind: 'consult', consult}
  moving: null,           // the consult being rescheduled
  consults: new Map(),    // id -> consult of the shown range
  joinLinks: new Map(Object.entries(JSON.parse(sessionStorage.getItem('desk.links') || '{}'))),
  loading: false,
};

function rememberLink (id, link) {
  state.joinLinks.set(id, link);
  sessionStorage.setItem('desk.links', JSON.stringify(Object.fromEntries(state.joinLinks)));
}

const doctorName = (id) => (state.doctors.find((d) => d.id === id) || {}).display_name || 'unknown doctor';

// ---- calendar --------------------------------------------------------------

function range () {
  const from = state.view === 'week' ? startOfWeek(state.day) : state.day;
  return { from, to: addDays(from, state.view === 'week' ? 7 : 1) };
}

function renderDoctorChoices () {
  fill('doctor-choices', state.doctors.map((d) => h('label', { class: 'row' },
    h('input', {
      type: 'checkbox', value: d.id, checked: state.shown.has(d.id),
      onchange: (ev) => {
        if (ev.target.checked) state.shown.add(d.id); else state.shown.delete(d.id);
        sessionStorage.setItem('desk.doctors', JSON.stringify([...state.shown]));
        refresh();
      },
    }), ` ${d.display_name}`)));
  if (!state.doctors.length) fill('doctor-choices', h('span', { class: 'muted' }, 'No doctors yet.'));
  fill('hours-doctor', state.doctors.map((d) => h('option', { value: d.id }, d.display_name)));
}

// Loads free slots and consults of the shown doctors and range, then draws.
async function refresh () {
  const { from, to } = range();
  $('day').value = isoDate(state.day);
  $('view').value = state.view;
  fill('cal-range', state.view === 'week' ? `${fmtDay(from)} – ${fmtDay(addDays(to, -1))}` : fmtDate(from));
  const ids = state.doctors.filter((d) => state.shown.has(d.id)).map((d) => d.id);
  const q = `from=${encodeURIComponent(rfc3339(from))}&to=${encodeURIComponent(rfc3339(to))}`;
  state.loading = true;
  try {
    const per = await Promise.all(ids.map(async (id) => {
      const [s, c] = await Promise.all([
        api('GET', `doctors/${id}/slots?${q}`),
        api('GET', `consults?${q}&doctor_id=${id}`),
      ]);
      return { id, slots: s.slots, consults: c.consults };
    }));
    state.consults = new Map();
    for (const p of per) for (const c of p.consults) state.consults.set(c.id, c);
    // A redraw must not throw a keyboard user's focus away: put it back on the same slot or booking.
    const f = document.activeElement;
    const had = f && $('calendar').contains(f) ? { ...f.dataset } : null;
    drawCalendar(per, from);
    if (had) {
      const again = had.consult ? document.querySelector(`#calendar [data-consult="${had.consult}"]`)
        : document.querySelector(`#calendar [data-doctor="${had.doctor}"][data-start="${had.start}"]`);
      if (again) again.focus();
    }
    if (state.selected && state.selected.kind === 'consult') {
      const c = state.consults.get(state.selected.consult.id);
      if (c) { state.selected.consult = c; drawAction(); }
    }
  } finally { state.loading = false; }
}

function drawCalendar (per, from) {
  const cal = $('calendar');
  cal.className = state.view === 'week' ? 'calendar-week' : 'calendar';
  if (!per.length) { fill(cal, h('p', { class: 'muted' }, 'Choose one or more doctors above.')); return; }
  const now = new Date();
  const column = (p, d0, title, heading) => {
    const d1 = addDays(d0, 1);
    const inDay = (t) => { const x = new Date(t); return x >= d0 && x < d1; };
    const items = [
      ...p.slots.filter((s) => inDay(s.start)).map((s) => ({ t: new Date(s.start), el: slotButton(p.id, s) })),
      ...p.consults.filter((c) => inDay(c.scheduled_start)).map((c) => ({ t: new Date(c.scheduled_start), el: consultButton(c) })),
    ].sort((a, b) => a.t - b.t);
    return h('section', { class: 'cal-col', 'aria-label': title }, heading,
      items.length ? h('ol', {}, items.map((it) => h('li', {}, it.el)))
        : h('p', { class: 'muted' }, d1 <= now ? 'Over.' : 'No free times.'));
  };
  if (state.view === 'day') {
    fill(cal, per.map((p) => column(p, from, `${doctorName(p.id)} — ${fmtDay(from)}`,
      h('h3', {}, doctorName(p.id), h('br'), h('span', { class: 'muted' }, fmtDay(from))))));
    return;
  }
  // Week: one row of seven days per doctor.
  fill(cal, per.map((p) => h('section', { class: 'cal-doctor', 'aria-label': doctorName(p.id) },
    h('h3', {}, doctorName(p.id)),
    h('div', { class: 'calendar week' }, [0, 1, 2, 3, 4, 5, 6].map((i) => {
      const d0 = addDays(from, i);
      return column(p, d0, `${doctorName(p.id)} — ${fmtDay(d0)}`, h('h4', {}, fmtDay(d0)));
    })))));
}

function slotButton (doctorId, s) {
  const sel = state.selected && state.selected.kind === 'slot' && state.selected.doctor === doctorId && state.selected.start === s.start;
  return h('button', {
    type: 'button', class: 'slot-free', 'aria-pressed': sel ? 'true' : 'false',
    'aria-label': `Free ${fmtTime(s.start)} to ${fmtTime(s.end)} with ${doctorName(doctorId)}`,
    dataset: { doctor: doctorId, start: s.start },
    onclick: () => { state.selected = { kind: 'slot', doctor: doctorId, start: s.start, end: s.end }; markPressed(); drawAction(true); },
  }, `${fmtTime(s.start)} free`);
}

function markPressed () {
  for (const b of document.querySelectorAll('.slot-free')) {
    const sel = state.selected && state.selected.kind === 'slot' && b.dataset.doctor === state.selected.doctor && b.dataset.start === state.selected.start;
    b.setAttribute('aria-pressed', sel ? 'true' : 'false');
  }
}

function consultButton (c) {
  return h('button', {
    type: 'button', class: `consult st-${c.status}`, dataset: { consult: c.id },
    'aria-label': `${fmtTime(c.scheduled_start)} ${c.patient} with ${c.doctor}: ${STATUS_WORDS[c.status] || c.status}`,
    onclick: () => { state.selected = { kind: 'consult', consult: c }; markPressed(); drawAction(true); },
  }, `${fmtTime(c.scheduled_start)} ${c.patient} `, h('span', { class: 'badge' }, STATUS_WORDS[c.status] || c.status));
}

// ---- the action panel ------------------------------------------------------

function drawAction (focus) {
  const s = state.selected;
  const box = $('action');
  if (!s) { fill(box, h('p', { class: 'muted' }, 'Nothing chosen yet.')); return; }
  if (s.kind === 'slot') {
    const when = `${fmtDateTime(s.start)}–${fmtTime(s.end)} with ${doctorName(s.doctor)}`;
    if (state.moving) {
      const m = state.moving;
      fill(box, h('p', {}, `Move ${m.patient}'s visit (${fmtDateTime(m.scheduled_start)}) to ${when}?`),
        h('div', { class: 'actions' },
          h('button', { type: 'button', id: 'confirm-move', onclick: () => moveTo(m, s) }, 'Move here'),
          h('button', { type: 'button', class: 'secondary', onclick: stopMoving }, 'Stop moving')));
    } else if (wrongDoctor(s)) {
      fill(box, h('p', {}, 'A visit can only move to another time with the same doctor.'));
    } else if (!state.patient) {
      fill(box, h('p', {}, `Free: ${when}.`), h('p', {}, 'Find and choose a patient first (in "Patient" below), then choose "Book".'));
      if (focus) $('patient-q').focus();
      return;
    } else {
      fill(box, h('p', {}, `Book ${state.patient.display_name} on ${when}?`),
        h('div', { class: 'actions' },
          h('button', { type: 'button', id: 'confirm-book', onclick: () => book(s) }, 'Book'),
          h('button', { type: 'button', class: 'secondary', onclick: () => { state.selected = null; markPressed(); drawAction(); } }, 'Clear')));
    }
    if (focus) { const b = box.querySelector('button'); if (b) b.focus(); }
    return;
  }
  const c = s.consult;
  const link = JOINABLE.has(c.status) ? state.joinLinks.get(c.id) : null;
  const started = new Date(c.scheduled_start) <= new Date();
  const reminder = reminderWords(c);
  fill(box,
    h('dl', {},
      h('dt', {}, 'Patient'), h('dd', {}, c.patient),
      h('dt', {}, 'Doctor'), h('dd', {}, c.doctor),
      h('dt', {}, 'When'), h('dd', {}, `${fmtDateTime(c.scheduled_start)}–${fmtTime(c.scheduled_end)}`),
      h('dt', {}, 'Status'), h('dd', { id: 'consult-status' }, STATUS_WORDS[c.status] || c.status,
        c.end_reason ? ` (${c.end_reason})` : ''),
      h('dt', {}, 'Reminder'), h('dd', {}, reminder),
      h('dt', {}, "Patient's join link"),
      h('dd', { id: 'join-link-box' }, link ? h('div', { class: 'linkbox', id: 'join-link' }, link)
        : h('span', { class: 'muted' }, JOINABLE.has(c.status) ? 'Loading…' : 'None: nobody can join this visit any more.')),
      h('dd', { id: 'doctor-link-box' })),
    h('div', { class: 'actions' },
      c.status === 'scheduled' ? h('button', { type: 'button', class: 'secondary', id: 'start-move', onclick: () => startMoving(c) }, 'Move to another time') : null,
      c.status === 'scheduled' ? h('button', { type: 'button', class: 'danger', id: 'cancel-consult', onclick: () => cancel(c) }, 'Cancel visit') : null,
      (c.status === 'scheduled' || c.status === 'waiting') && started
        ? h('button', { type: 'button', class: 'secondary', id: 'no-show', onclick: () => noShow(c) }, 'Mark no-show') : null));
  if (focus) { const b = box.querySelector('button'); if (b) b.focus(); }
  if (JOINABLE.has(c.status)) fetchJoinLink(c);
}

// Asks the server for the consult's current join link (re-created from its
// key) and shows it, unless another booking was chosen meanwhile.
async function fetchJoinLink (c) {
  let text;
  try {
    const r = await api('GET', `consults/${c.id}/join-link`);
    rememberLink(c.id, r.join_link);
    text = r.join_link;
    if (r.doctor_join_link && state.selected && state.selected.kind === 'consult' && state.selected.consult.id === c.id)
      fill('doctor-link-box', h('details', {}, h('summary', {}, "Doctor's join link (for a doctor without an account)"),
        h('div', { class: 'linkbox', id: 'doctor-join-link' }, r.doctor_join_link)));
  } catch (e) {
    text = null;
    if (state.selected && state.selected.kind === 'consult' && state.selected.consult.id === c.id)
      fill('join-link-box', h('span', { class: 'muted' }, e instanceof ApiError && e.status === 404
        ? 'This link cannot be shown again; moving the visit gives a new one.' : e.message));
  }
  if (text && state.selected && state.selected.kind === 'consult' && state.selected.consult.id === c.id)
    fill('join-link-box', h('div', { class: 'linkbox', id: 'join-link' }, text));
}

function wrongDoctor (s) { return state.moving && state.moving.doctor_id !== s.doctor; }

// The consult's reminders (staff see them on every consult: kind, due time,
// status, attempts, last error), one line each.
function reminderWords (c) {
  const list = Array.isArray(c.reminders) ? c.reminders : [];
  if (!list.length) return 'none';
  return h('ul', { class: 'plain', id: 'reminders' }, list.map((r) => h('li', {},
    `${r.kind === 'invitation' ? 'Invitation' : `Reminder ${r.offset || ''} before`}: ${r.status}`,
    r.due_at ? ` (due ${fmtDateTime(r.due_at)})` : '',
    r.attempts > 1 ? `, ${r.attempts} attempts` : '',
    r.last_error ? ` — ${r.last_error}` : '')));
}

async function book (s) {
  const patient = state.patient;
  try {
    const r = await api('POST', 'consults', { doctor_id: s.doctor, patient_id: patient.id, start: s.start });
    rememberLink(r.consult.id, r.join_link);
    state.selected = { kind: 'consult', consult: r.consult };
    await refresh();
    drawAction(true);
    say(`Booked ${patient.display_name} with ${r.consult.doctor} on ${fmtDateTime(r.consult.scheduled_start)}.`, 'ok');
  } catch (e) { await afterFailure(e); }
}

function startMoving (c) {
  state.moving = c;
  say(`Choose a free time of ${c.doctor} in the calendar for ${c.patient}'s visit, then "Move here".`, 'info');
  const first = document.querySelector(`.slot-free[data-doctor="${c.doctor_id}"]`);
  if (first) first.focus();
}

function stopMoving () { state.moving = null; state.selected = null; markPressed(); drawAction(); say(''); }

async function moveTo (c, s) {
  try {
    const r = await api('POST', `consults/${c.id}/reschedule`, { start: s.start });
    if (r.join_link) rememberLink(c.id, r.join_link);
    state.moving = null;
    state.selected = { kind: 'consult', consult: r.consult };
    await refresh();
    drawAction(true);
    say(`Moved ${c.patient}'s visit to ${fmtDateTime(r.consult.scheduled_start)}. The old join link no longer works; give the patient the new one.`, 'ok');
  } catch (e) { await afterFailure(e); }
}

async function cancel (c) {
  try {
    const r = await api('POST', `consults/${c.id}/cancel`, {});
    state.selected = { kind: 'consult', consult: r.consult };
    await refresh();
    drawAction(true);
    say(`Cancelled ${c.patient}'s visit of ${fmtDateTime(c.scheduled_start)}; the time is free again.`, 'ok');
  } catch (e) { await afterFailure(e); }
}

async function noShow (c) {
  try {
    const r = await api('POST', `consults/${c.id}/no-show`, {});
    state.selected = { kind: 'consult', consult: r.consult };
    await refresh();
    drawAction(true);
    say(`Marked ${c.patient} as not shown up.`, 'ok');
  } catch (e) { await afterFailure(e); }
}

// A refused change: the calendar is re-read so it shows what is true now, and
// the reason is said in plain words (409 slot_taken: someone else was faster).
async function afterFailure (e) {
  if (e instanceof ApiError && (e.code === 'slot_taken' || e.code === 'wrong_state' || e.status === 404)) {
    state.selected = null;
    await guarded(refresh);
    drawAction();
  }
  say(e instanceof ApiError ? e.message : `Something went wrong in this page: ${e.message}`, 'error');
}

// ---- patients --------------------------------------------------------------

function choosePatient (u) {
  state.patient = u;
  fill('chosen-patient', `${u.display_name} (${u.username})`);
  say(`${u.display_name} chosen: now choose a free time and "Book".`, 'info');
  if (state.selected && state.selected.kind === 'slot') drawAction(true);
  $('contact-form').hidden = true;
  guarded(async () => {
    const r = await api('GET', `users/${u.id}/contact`);
    if (state.patient !== u) return;
    $('contact-email').value = r.contact.email || '';
    $('contact-phone').value = r.contact.phone || '';
    $('contact-form').hidden = false;
  });
}

// Saves the chosen patient's e-mail and phone (empty clears; reminders need the e-mail).
async function saveContact (ev) {
  ev.preventDefault();
  const u = state.patient;
  await api('PUT', `users/${u.id}/contact`, { email: $('contact-email').value.trim(), phone: $('contact-phone').value.trim() });
  say(`Contact details of ${u.display_name} saved.`, 'ok');
}

let searchTimer = 0;
let searchSeq = 0;
async function searchPatients (ev) {
  if (ev) ev.preventDefault();
  clearTimeout(searchTimer);
  const seq = ++searchSeq;
  const q = $('patient-q').value.trim();
  const r = await guarded(() => api('GET', `users?role=patient&q=${encodeURIComponent(q)}`));
  if (!r || seq !== searchSeq) return;  // a newer search is on its way
  if (!r.users.length) { fill('patient-results', h('li', { class: 'muted' }, 'No patient found. Check the spelling or register them below.')); return; }
  fill('patient-results', r.users.slice(0, 50).map((u) => h('li', { class: 'row' },
    h('span', {}, u.display_name, ' ', h('span', { class: 'muted' }, `(${u.username})`), u.disabled ? ' — disabled' : ''),
    h('button', { type: 'button', class: 'secondary', disabled: u.disabled, 'aria-label': `Choose ${u.display_name}`, onclick: () => choosePatient(u) }, 'Choose'))));
}

async function registerPatient (ev) {
  ev.preventDefault();
  const body = { username: $('new-username').value.trim().toLowerCase(), display_name: $('new-name').value.trim(), roles: ['patient'] };
  if ($('new-email').value.trim()) body.email = $('new-email').value.trim();
  if ($('new-phone').value.trim()) body.phone = $('new-phone').value.trim();
  const r = await guarded(() => api('POST', 'users', body));
  if (!r) return;
  fill('register-result', h('div', { class: 'status status-ok', role: 'status' },
    `${r.user.display_name} is registered as "${r.user.username}".`,
    r.initial_password ? [' First password (shown only now, hand it to the patient): ', h('strong', { class: 'linkbox', id: 'initial-password' }, r.initial_password)] : ''));
  $('register-form').reset();
  choosePatient(r.user);
}

// ---- waiting room ----------------------------------------------------------

async function pollWaiting () {
  const from = startOfDay(new Date()), to = addDays(from, 1);
  try {
    const r = await api('GET', `consults?status=waiting&from=${encodeURIComponent(rfc3339(from))}&to=${encodeURIComponent(rfc3339(to))}`);
    fill('waiting', r.consults.length
      ? r.consults.map((c) => h('li', {}, h('strong', {}, c.patient), ` for ${c.doctor}, booked ${fmtTime(c.scheduled_start)}`))
      : h('li', { class: 'muted' }, 'Nobody is waiting.'));
    fill('wait-updated', `(updated ${fmtTime(new Date())})`);
    // A change of status in the shown calendar: redraw it too.
    if (r.consults.some((c) => state.consults.has(c.id) && state.consults.get(c.id).status !== c.status) && !state.loading) await refresh();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) fill('wait-updated', '(not updated: server unreachable)');
  }
}

// ---- hours and exceptions --------------------------------------------------

function hoursRow (r) {
  const n = document.querySelectorAll('#hours-rows tr').length + 1;
  const tr = h('tr', {},
    h('td', {}, h('select', { 'aria-label': `Weekday of row ${n}`, class: 'wd' },
      WEEKDAYS.map((w, i) => h('option', { value: i + 1, selected: r.weekday === i + 1 }, w)))),
    h('td', {}, h('input', { class: 'hs', value: r.start, 'aria-label': `From (HH:MM) of row ${n}`, pattern: '([01][0-9]|2[0-3]):[0-5][0-9]', size: 6 })),
    h('td', {}, h('input', { class: 'he', value: r.end, 'aria-label': `To (HH:MM, 24:00 for midnight) of row ${n}`, pattern: '([01][0-9]|2[0-3]):[0-5][0-9]|24:00', size: 6 })),
    h('td', {}, h('button', { type: 'button', class: 'secondary', 'aria-label': `Remove row ${n}`, onclick: () => tr.remove() }, 'Remove')));
  return tr;
}

async function loadHours () {
  const id = $('hours-doctor').value;
  if (!id) return;
  const from = isoDate(new Date()), to = isoDate(addDays(new Date(), 366));
  const [a, x] = await Promise.all([api('GET', `doctors/${id}/availability`), api('GET', `doctors/${id}/exceptions?from=${from}&to=${to}`)]);
  fill('hours-tz', `(in the doctor's time zone, ${a.time_zone}; ${a.slot_minutes}-minute visits)`);
  fill('hours-rows');
  for (const r of a.hours) $('hours-rows').append(hoursRow(r));
  fill('exceptions', x.exceptions.length ? x.exceptions.map((e) => h('li', { class: 'row' },
    h('span', {}, `${fmtDate(fromIsoDate(e.date))}: ${e.kind === 'off' ? 'time off' : 'extra hours'}`, e.start ? ` ${e.start}–${e.end}` : ' (whole day)'),
    h('button', { type: 'button', class: 'secondary', 'aria-label': `Delete the exception of ${e.date}`, onclick: () => guarded(async () => {
      await api('DELETE', `doctors/${id}/exceptions/${e.id}`);
      say('Exception deleted.', 'ok');
      await loadHours();
      await refresh();
    }) }, 'Delete'))) : h('li', { class: 'muted' }, 'No exceptions in the coming year.'));
  $('hours-editor').hidden = false;
}

async function saveHours () {
  const id = $('hours-doctor').value;
  const hours = [...document.querySelectorAll('#hours-rows tr')].map((tr) => ({
    weekday: Number(tr.querySelector('.wd').value), start: tr.querySelector('.hs').value.trim(), end: tr.querySelector('.he').value.trim(),
  }));
  await api('PUT', `doctors/${id}/availability`, { hours });
  say(`Weekly hours of ${doctorName(id)} saved. Visits already booked are kept.`, 'ok');
  await loadHours();
  await refresh();
}

async function addException (ev) {
  ev.preventDefault();
  const id = $('hours-doctor').value;
  const body = { date: $('ex-date').value, kind: $('ex-kind').value };
  if ($('ex-start').value || $('ex-end').value) { body.start = $('ex-start').value; body.end = $('ex-end').value; }
  await api('POST', `doctors/${id}/exceptions`, body);
  $('exception-form').reset();
  say('Exception added.', 'ok');
  await loadHours();
  await refresh();
}

// ---- start -----------------------------------------------------------------

function shift (n) {
  state.day = addDays(state.day, state.view === 'week' ? 7 * n : n);
  state.selected = null;
  drawAction();
  guarded(refresh);
}

async function start () {
  const r = await api('GET', 'doctors');
  state.doctors = r.doctors;
  const known = new Set(state.doctors.map((d) => d.id));
  state.shown = new Set([...state.shown].filter((id) => known.has(id)));
  if (!state.shown.size) for (const d of state.doctors.slice(0, 3)) state.shown.add(d.id);
  renderDoctorChoices();
  $('view').addEventListener('change', () => { state.view = $('view').value; sessionStorage.setItem('desk.view', state.view); guarded(refresh); });
  $('day').addEventListener('change', () => { if ($('day').value) { state.day = fromIsoDate($('day').value); guarded(refresh); } });
  $('prev').addEventListener('click', () => shift(-1));
  $('next').addEventListener('click', () => shift(1));
  $('today').addEventListener('click', () => { state.day = startOfDay(new Date()); guarded(refresh); });
  $('refresh').addEventListener('click', () => guarded(refresh));
  $('cal-controls').addEventListener('submit', (ev) => ev.preventDefault());
  $('patient-search').addEventListener('submit', searchPatients);
  // Results while typing (from 2 characters, 300 ms after the last key).
  $('patient-q').addEventListener('input', () => {
    clearTimeout(searchTimer);
    if ($('patient-q').value.trim().length >= 2) searchTimer = setTimeout(searchPatients, 300);
  });
  $('register-form').addEventListener('submit', registerPatient);
  $('contact-form').addEventListener('submit', (ev) => guarded(() => saveContact(ev)));
  $('hours-load').addEventListener('click', () => guarded(loadHours));
  $('hours-add').addEventListener('click', () => $('hours-rows').append(hoursRow({ weekday: 1, start: '09:00', end: '17:00' })));
  $('hours-save').addEventListener('click', () => guarded(saveHours));
  $('exception-form').addEventListener('submit', (ev) => guarded(() => addException(ev)));
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && state.moving) stopMoving(); });
  await refresh();
  await pollWaiting();
  setInterval(pollWaiting, WAIT_POLL_MS);
  setInterval(() => { if (!state.loading && !document.hidden) guarded(refresh); }, CAL_POLL_MS);
}

setupSignIn({ roles: ['scheduler', 'admin'], onReady: start });
