// reports.js — the operations report for managers (/reports/, issue 8): the
// figures of GET /api/v1/reports/operations (roles admin and billing, checked
// and audited by the server; no patient appears in it) as totals, SVG bar
// charts (each with a title and description for screen readers) and tables,
// filtered by date range and doctor, days counted in the browser's time zone;
// the same report as CSV (…/operations.csv) or as the server's printable page
// (…/operations.html).
import { h, fill, $, api, say, guarded, setupSignIn, fmtDate, fmtMoney, isoDate, addDays, fromIsoDate, timeZone, download } from '/web/common/tv.js';

const SVG = 'http://www.w3.org/2000/svg';
function s (tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function query () {
  const q = new URLSearchParams({ from: $('from').value, to: $('to').value, tz: timeZone() });
  if ($('doctor').value) q.set('doctor', $('doctor').value);
  return q.toString();
}

const minutes = (m) => (m === null || m === undefined ? '—' : `${Number(m).toFixed(1)} min`);
const money = (r) => (r.currency && r.currency !== 'mixed' ? fmtMoney(r.billed_cents, r.currency) : r.currency === 'mixed' ? `${(r.billed_cents / 100).toFixed(2)} (mixed currencies)` : '—');

// A bar chart: @bars [{label, parts: [{value, cls, name}]}], stacked; @title/@desc for screen readers.
function barChart (bars, title, desc) {
  const W = Math.max(360, bars.length * 28 + 60), H = 220, left = 40, bottom = 40, top = 10;
  const max = Math.max(1, ...bars.map((b) => b.parts.reduce((a, p) => a + p.value, 0)));
  const bw = (W - left - 10) / Math.max(1, bars.length);
  const y = (v) => top + (H - top - bottom) * (1 - v / max);
  const g = [];
  bars.forEach((b, i) => {
    let acc = 0;
    const x = left + i * bw + bw * 0.15;
    for (const p of b.parts) {
      if (p.value <= 0) continue;
      g.push(s('rect', { x, y: y(acc + p.value), width: bw * 0.7, height: y(acc) - y(acc + p.value), class: p.cls },
        s('title', {}, `${b.label}: ${p.name} ${p.text ?? p.value}`)));
      acc += p.value;
    }
    if (i % Math.max(1, Math.ceil(44 / bw)) === 0)
      g.push(s('text', { x: x + bw * 0.35, y: H - bottom + 14, 'text-anchor': 'middle' }, b.short || b.label));
  });
  const id = `c${Math.random().toString(36).slice(2)}`;
  return s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${id}t ${id}d` },
    s('title', { id: `${id}t` }, title), s('desc', { id: `${id}d` }, desc),
    s('line', { x1: left, y1: H - bottom, x2: W - 5, y2: H - bottom, class: 'axis' }),
    s('line', { x1: left, y1: top, x2: left, y2: H - bottom, class: 'axis' }),
    s('text', { x: left - 4, y: top + 10, 'text-anchor': 'end' }, String(Math.round(max * 10) / 10)),
    s('text', { x: left - 4, y: H - bottom, 'text-anchor': 'end' }, '0'), g);
}

function table (cols, rows, caption) {
  return h('table', {}, h('caption', { class: 'muted' }, caption),
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
    h('tbody', {}, rows.length ? rows.map((r) => h('tr', {}, cols.map((c, i) => (i === 0 ? h('th', { scope: 'row' }, c.get(r)) : h('td', { class: c.num ? 'num' : null }, c.get(r))))))
      : h('tr', {}, h('td', { colspan: cols.length, class: 'muted' }, 'No visits in this range.'))));
}

// The stacked parts of one group's bar: held, cancelled, no-show, the rest.
const outcomes = (d) => [
  { value: d.held, cls: 'b-held', name: 'held' }, { value: d.cancelled, cls: 'b-cancelled', name: 'cancelled' },
  { value: d.no_shows, cls: 'b-noshow', name: 'no-show' },
  { value: Math.max(0, d.consults - d.held - d.cancelled - d.no_shows), cls: 'b-other', name: 'other' },
];

const FIGURES = [
  { label: 'Visits booked', get: (r) => r.consults, num: true },
  { label: 'Held', get: (r) => r.held, num: true },
  { label: 'Cancelled', get: (r) => r.cancelled, num: true },
  { label: 'No-shows', get: (r) => r.no_shows, num: true },
  { label: 'Median wait', get: (r) => minutes(r.median_wait_minutes), num: true },
  { label: 'Median call length', get: (r) => minutes(r.median_connected_minutes), num: true },
  { label: 'Billed', get: (r) => money(r), num: true },
];

async function load () {
  const r = await api('GET', `reports/operations?${query()}`);
  const doctor = $('doctor').value ? $('doctor').selectedOptions[0].textContent : 'all doctors';
  fill('range-words', `${fmtDate(fromIsoDate(r.from))} to ${fmtDate(fromIsoDate(r.to))}, ${doctor}, days in ${r.tz}.`);
  fill('totals', FIGURES.map((f) => h('div', { class: 'tile' }, h('div', { class: 'muted' }, f.label), h('div', { class: 'big' }, String(f.get(r.total))))));
  const days = r.by_day;
  const short = (d) => d.day.slice(5);
  fill('chart-days', barChart(days.map((d) => ({
    label: fmtDate(fromIsoDate(d.day)), short: short(d),
    parts: outcomes(d),
  })), 'Visits per day by outcome', `${r.total.consults} visits booked, ${r.total.held} held, ${r.total.cancelled} cancelled, ${r.total.no_shows} no-shows; the table "Per day" has every figure.`));
  fill('chart-wait', barChart(days.map((d) => ({
    label: fmtDate(fromIsoDate(d.day)), short: short(d),
    parts: [{ value: d.median_wait_minutes || 0, cls: 'b-wait', name: 'median wait', text: minutes(d.median_wait_minutes) }],
  })), 'Median wait per day', `Median wait over the whole range: ${minutes(r.total.median_wait_minutes)}.`));
  fill('chart-doctors', barChart(r.by_doctor.map((d) => ({
    label: d.doctor, short: d.doctor.length > 14 ? `${d.doctor.slice(0, 13)}…` : d.doctor, parts: outcomes(d),
  })), 'Visits per doctor by outcome', r.by_doctor.map((d) => `${d.doctor}: ${d.consults} booked, ${d.held} held`).join('; ') || 'No visits.'));
  fill('table-doctors', table([{ label: 'Doctor', get: (d) => d.doctor }, ...FIGURES], r.by_doctor, 'Figures per doctor'));
  fill('table-days', table([{ label: 'Day', get: (d) => fmtDate(fromIsoDate(d.day)) }, ...FIGURES], days, 'Figures per day (every day of the range)'));
}

// The same report as a file: CSV for a spreadsheet, or the server's
// self-contained printable HTML page (charts and tables, no script).
async function save (ext, type, words) {
  const res = await api('GET', `reports/operations.${ext}?${query()}`, undefined, { raw: true });
  download(`operations-${$('from').value}-${$('to').value}.${ext}`, await res.text(), type);
  say(`The report was downloaded ${words}.`, 'ok');
}

async function start () {
  const r = await api('GET', 'doctors');
  for (const d of r.doctors) $('doctor').append(h('option', { value: d.id }, d.display_name));
  $('to').value = isoDate(new Date());
  $('from').value = isoDate(addDays(new Date(), -13));
  $('filters').addEventListener('submit', (ev) => { ev.preventDefault(); guarded(load); });
  $('csv').addEventListener('click', () => guarded(() => save('csv', 'text/csv', 'as CSV')));
  $('html').addEventListener('click', () => guarded(() => save('html', 'text/html', 'as a printable page (open it in any browser)')));
  await load();
}

setupSignIn({ roles: ['admin', 'billing'], onReady: start });
