// portal.js — the patient portal (/portal/, issue 8): upcoming visits with a
// "Join" button (the browser join page) and "Copy link for the desktop app"
// (its start screen takes the same link), booking a free time with a doctor,
// cancelling a visit that has not started (only before the clinic's notice,
// patient-cancel-notice: past its deadline the button gives way to the reason
// in words and "please call the clinic"), past visits, statements with
// amounts, and "download my record" (the FHIR Bundle). The server answers
// only with the signed-in patient's own data (GET /api/v1/me/..., own
// consults); this page shows it.
import {
  h, fill, $, api, say, guarded, setupSignIn, ApiError, fmtTime, fmtDateTime, fmtDate, fmtAmount,
  startOfDay, addDays, isoDate, fromIsoDate, rfc3339, STATUS_WORDS, download,
} from '/web/common/tv.js';

const REFRESH_MS = 30000;
const CLAIM_WORDS = { ready: 'Not yet sent to the insurer', submitted: 'Sent to the insurer', paid: 'Paid', denied: 'Refused by the insurer' };
const state = { doctors: [], links: new Map(Object.entries(JSON.parse(sessionStorage.getItem('portal.links') || '{}'))), chosen: null };

function remember (id, link) {
  if (!link) return;
  state.links.set(id, link);
  sessionStorage.setItem('portal.links', JSON.stringify(Object.fromEntries(state.links)));
}

// The visits: GET me/visits ({upcoming, past}, with join links) where the
// server has it (with can_cancel / cancel_deadline per visit and the
// clinic's notice in words), else the patient's own consults split at "now".
async function loadVisits () {
  try {
    const v = await api('GET', 'me/visits');
    const norm = (x) => ({ ...(x.consult || {}), ...x });
    return { upcoming: (v.upcoming || []).map(norm), past: (v.past || []).map(norm), notice: v.cancel_notice };
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
  }
  const r = await api('GET', 'consults');
  const live = (c) => c.status === 'scheduled' || c.status === 'waiting' || c.status === 'in-progress';
  const now = Date.now();
  return {
    upcoming: r.consults.filter((c) => live(c) && new Date(c.scheduled_end).getTime() > now),
    past: r.consults.filter((c) => !(live(c) && new Date(c.scheduled_end).getTime() > now)).reverse(),
  };
}

const whenOf = (c) => `${fmtDateTime(c.scheduled_start)}–${fmtTime(c.scheduled_end)}`;
const doctorOf = (c) => c.doctor || (state.doctors.find((d) => d.id === c.doctor_id) || {}).display_name || 'your doctor';

async function refreshVisits () {
  const v = await loadVisits();
  // Links not given with the visits: asked for one by one (re-created by the server).
  await Promise.all(v.upcoming.filter((c) => !c.join_link && !state.links.has(c.id)).map(async (c) => {
    try { remember(c.id, (await api('GET', `consults/${c.id}/join-link`)).join_link); } catch {}
  }));
  fill('upcoming', v.upcoming.length ? v.upcoming.map((c) => {
    const link = c.join_link || c.join_url || state.links.get(c.id);
    const client = c.client_link || c.desktop_link;
    return h('li', { class: 'visit', dataset: { consult: c.id } },
      h('strong', {}, whenOf(c)), ` with ${doctorOf(c)} `, h('span', { class: 'badge' }, STATUS_WORDS[c.status] || c.status),
      h('div', { class: 'actions' },
        link ? h('a', { class: 'button', href: link, target: '_blank', rel: 'noopener', 'aria-label': `Join the visit of ${whenOf(c)} in the browser` }, 'Join') : h('span', { class: 'muted' }, 'The join link is in your invitation.'),
        client ? h('a', { class: 'button secondary', href: client, 'aria-label': `Join the visit of ${whenOf(c)} with the desktop app` }, 'Open in the desktop app') : null,
        link && !client ? h('button', { type: 'button', class: 'secondary', 'aria-label': `Copy the link of the visit of ${whenOf(c)} for the desktop app`, onclick: () => copyLink(link) }, 'Copy link for the desktop app') : null,
        cancelControl(c, v.notice)));
  }) : h('li', { class: 'muted' }, 'No upcoming visits. You can book one below.'));
  fill('past', v.past.length ? v.past.map((c) => h('li', {},
    h('strong', {}, fmtDate(c.scheduled_start)), ` ${fmtTime(c.scheduled_start)} with ${doctorOf(c)}: `,
    STATUS_WORDS[c.status] || c.status)) : h('li', { class: 'muted' }, 'No past visits.'));
}

// "Cancel visit" while the clinic's rule allows it (can_cancel from the
// server; absent on the fallback list: the server still decides); past the
// deadline, why not and what to do instead.
function cancelControl (c, notice) {
  if (c.status !== 'scheduled') return null;
  if (c.can_cancel === false) {
    const its = !notice ? 'advance notice' : `${notice}${notice.endsWith('s') ? "'" : "'s"} notice`;
    return h('p', { class: 'muted cancel-closed' },
      `This clinic asks for ${its} to cancel or change a visit online. To cancel or change this one now, please call the clinic.`);
  }
  return [
    h('button', { type: 'button', class: 'secondary', 'aria-label': `Cancel the visit of ${whenOf(c)}`, onclick: () => cancel(c) }, 'Cancel visit'),
    c.cancel_deadline ? h('span', { class: 'muted cancel-until' }, ` You can cancel online until ${fmtDateTime(c.cancel_deadline)}.`) : null,
  ];
}

// The desktop app joins with the same link: pasted on its start screen.
async function copyLink (link) {
  try {
    await navigator.clipboard.writeText(link);
    say('Link copied. Paste it on the start screen of the Televisit app and press Join.', 'ok');
  } catch {
    say(`Your browser did not let the page copy. The link is: ${link}`, 'info');
  }
}

async function cancel (c) {
  try {
    await api('POST', `consults/${c.id}/cancel`, {});
    say(`Your visit of ${whenOf(c)} is cancelled.`, 'ok');
  } catch (e) {
    say(e instanceof ApiError && e.code === 'wrong_state' ? 'This visit has already started or ended, so it cannot be cancelled here. Please call the clinic.' : e.message, 'error');
  }
  await guarded(refreshVisits);
}

// ---- booking ---------------------------------------------------------------

async function showSlots (ev) {
  if (ev) ev.preventDefault();
  const id = $('book-doctor').value;
  if (!id || !$('book-day').value) return;
  const d0 = fromIsoDate($('book-day').value);
  const from = new Date(Math.max(d0.getTime(), Date.now()));
  const to = addDays(d0, 1);
  fill('book-confirm');
  state.chosen = null;
  if (to <= from) { fill('book-slots', h('p', { class: 'muted' }, 'That day is over: choose a later day.')); return; }
  const r = await api('GET', `doctors/${id}/slots?from=${encodeURIComponent(rfc3339(from))}&to=${encodeURIComponent(rfc3339(to))}`);
  fill('book-slots', r.slots.length ? h('ul', { class: 'row plain', 'aria-label': 'Free times' }, r.slots.map((s) => h('li', {},
    h('button', { type: 'button', class: 'slot-free', dataset: { start: s.start }, 'aria-pressed': 'false',
      'aria-label': `Free at ${fmtTime(s.start)}`, onclick: (e) => choose(id, s, e.currentTarget) }, fmtTime(s.start)))))
    : h('p', { class: 'muted' }, 'No free times that day. Try another day.'));
}

function choose (doctorId, s, btn) {
  for (const b of document.querySelectorAll('#book-slots .slot-free')) b.setAttribute('aria-pressed', b === btn ? 'true' : 'false');
  state.chosen = { doctorId, s };
  const name = (state.doctors.find((d) => d.id === doctorId) || {}).display_name;
  fill('book-confirm', h('p', {}, `Book ${fmtDateTime(s.start)}–${fmtTime(s.end)} with ${name}?`),
    h('button', { type: 'button', id: 'book-confirm-button', onclick: book }, 'Book this time'));
  $('book-confirm-button').focus();
}

async function book () {
  const { doctorId, s } = state.chosen;
  try {
    const r = await api('POST', 'consults', { doctor_id: doctorId, start: s.start });
    remember(r.consult.id, r.join_link);
    say(`Booked: ${whenOf(r.consult)} with ${r.consult.doctor}. It is listed under "Upcoming visits" with its Join button.`, 'ok');
    fill('book-confirm');
  } catch (e) {
    say(e instanceof ApiError && e.code === 'conflict' ? 'You already have a visit at that time. Choose another time.' : e.message, 'error');
  }
  await guarded(showSlots);
  await guarded(refreshVisits);
}

// ---- statements and record ---------------------------------------------------

async function refreshStatements () {
  let r;
  try { r = await api('GET', 'me/statements'); } catch (e) {
    if (e instanceof ApiError && e.status === 404) { fill('statements', h('p', { class: 'muted' }, 'Statements are not available yet.')); return; }
    throw e;
  }
  const list = r.statements;
  if (!list.length) { fill('statements', h('p', { class: 'muted' }, 'No statements yet.')); return; }
  fill('statements', h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', { class: 'muted' }, 'One statement per billed visit'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Visit date'), h('th', { scope: 'col' }, 'Doctor'),
      h('th', { scope: 'col' }, 'Service'), h('th', { scope: 'col' }, 'Claim'), h('th', { scope: 'col', class: 'num' }, 'Amount'),
      h('th', { scope: 'col' }, 'Printable'))),
    h('tbody', {}, list.map((s) => h('tr', { dataset: { consult: s.consult_id } },
      h('td', {}, fmtDate(s.service_at)),
      h('td', {}, s.doctor || ''),
      h('td', {}, s.description || s.code || ''),
      h('td', {}, CLAIM_WORDS[s.claim_status] || s.claim_status || ''),
      h('td', { class: 'num' }, fmtAmount(s.amount, s.currency)),
      h('td', {}, h('button', { type: 'button', class: 'secondary', 'aria-label': `Download the statement of ${fmtDate(s.service_at)}`,
        onclick: () => guarded(() => saveStatement(s)) }, 'Download'))))))));
}

// The server's printable statement (date, doctor, service, amount, how to pay).
async function saveStatement (s) {
  const res = await api('GET', `me/statements/${s.id}.html`, undefined, { raw: true });
  download(`statement-${s.date || isoDate(new Date(s.service_at))}.html`, await res.text(), 'text/html');
  say('The statement was downloaded: open it to print it.', 'ok');
}

async function downloadRecord () {
  const res = await api('GET', 'me/record', undefined, { raw: true });
  const text = await res.text();
  download(`my-record-${isoDate(new Date())}.json`, text, 'application/fhir+json');
  say('Your record was downloaded (a FHIR JSON file).', 'ok');
}

// ---- start -----------------------------------------------------------------

async function start () {
  const r = await api('GET', 'doctors');
  state.doctors = r.doctors;
  fill('book-doctor', state.doctors.map((d) => h('option', { value: d.id }, d.display_name)));
  $('book-day').value = isoDate(addDays(startOfDay(new Date()), 1));
  $('book-day').min = isoDate(new Date());
  $('book-form').addEventListener('submit', (ev) => guarded(() => showSlots(ev)));
  $('record-download').addEventListener('click', () => guarded(downloadRecord));
  await refreshVisits();
  await guarded(refreshStatements);
  setInterval(() => { if (!document.hidden) guarded(refreshVisits); }, REFRESH_MS);
}

setupSignIn({ roles: ['patient'], onReady: start });
