// billing.js — the billing worklist (/billing/, issue 8): billing lines by
// service date range and claim status (GET /api/v1/billing/lines), status
// changes for the chosen lines in one all-or-nothing request (POST
// /api/v1/billing/lines/status), and the CSV export of the same filter
// (GET /api/v1/billing/export). The server checks the billing/admin role on
// every call and audits it; this page only shows what it answers.
import { h, fill, $, api, say, guarded, setupSignIn, ApiError, fmtDate, fmtMoney, fmtAmount, isoDate, addDays, download } from '/web/common/tv.js';

const CLAIM_WORDS = { ready: 'Ready', submitted: 'Submitted', paid: 'Paid', denied: 'Denied' };
let lines = [];

function query () {
  const q = new URLSearchParams();
  if ($('from').value) q.set('from', $('from').value);
  if ($('to').value) q.set('to', $('to').value);
  if ($('claim').value) q.set('status', $('claim').value);
  return q.toString();
}

function chosen () { return [...document.querySelectorAll('#lines input[type=checkbox]:checked')].map((b) => b.value); }

function countChosen () {
  const n = chosen().length;
  fill('chosen-count', n ? `${n} chosen` : 'none chosen');
  $('apply-status').disabled = n === 0;
  $('all').checked = n > 0 && n === lines.length;
}

async function load () {
  const r = await api('GET', `billing/lines?${query()}`);
  lines = r.lines;
  fill('lines', lines.length ? lines.map((l) => h('tr', { dataset: { line: l.id } },
    h('td', {}, h('input', { type: 'checkbox', value: l.id, 'aria-label': `Choose the line of ${l.patient}, ${fmtDate(l.service_at)}`, onchange: countChosen })),
    h('td', {}, fmtDate(l.service_at)),
    h('td', {}, l.patient || ''),
    h('td', {}, l.doctor || ''),
    h('td', {}, l.code, l.modifiers && l.modifiers.length ? ` (${[].concat(l.modifiers).join(', ')})` : ''),
    h('td', {}, l.description || ''),
    h('td', { class: 'num' }, String(l.minutes)),
    h('td', { class: 'num' }, fmtMoney(l.fee_cents, l.currency)),
    h('td', { class: 'claim' }, CLAIM_WORDS[l.status] || l.status)))
    : h('tr', {}, h('td', { colspan: 9, class: 'muted' }, 'No billing lines for this choice.')));
  fill('lines-summary', `(${r.count} line${r.count === 1 ? '' : 's'}${r.total && lines[0] ? `, ${fmtAmount(r.total, lines[0].currency)} in all` : ''}${r.truncated ? '; only the first ones are shown: narrow the dates' : ''})`);
  countChosen();
}

async function applyStatus () {
  const ids = chosen();
  if (!ids.length) return;
  const status = $('new-status').value;
  try {
    await api('POST', 'billing/lines/status', { ids, status });
    say(`${ids.length} line${ids.length === 1 ? '' : 's'} set to ${CLAIM_WORDS[status]}.`, 'ok');
  } catch (e) {
    say(e instanceof ApiError && e.code === 'wrong_state'
      ? `Nothing was changed: ${e.detail}. A line goes Ready → Submitted → Paid or Denied, and Denied → Submitted.`
      : e.message, 'error');
  }
  await guarded(load);
}

async function exportCsv () {
  const res = await api('GET', `billing/export?${query()}`, undefined, { raw: true });
  const text = await res.text();
  download(`billing-${$('from').value || 'all'}-${$('to').value || 'all'}.csv`, text, 'text/csv');
  say(`Exported ${Math.max(0, text.trim().split('\n').length - 1)} lines as CSV.`, 'ok');
}

async function start () {
  $('from').value = isoDate(addDays(new Date(), -30));
  $('to').value = isoDate(new Date());
  $('filters').addEventListener('submit', (ev) => { ev.preventDefault(); guarded(load); });
  $('export').addEventListener('click', () => guarded(exportCsv));
  $('apply-status').addEventListener('click', () => guarded(applyStatus));
  $('all').addEventListener('change', () => {
    for (const b of document.querySelectorAll('#lines input[type=checkbox]')) b.checked = $('all').checked;
    countChosen();
  });
  await load();
}

setupSignIn({ roles: ['billing', 'admin'], onReady: start });
