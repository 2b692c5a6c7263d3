// tv.js — shared page code of the clinic's web pages (front desk, portal,
// billing worklist, reports): sign-in, API calls with the session token kept in
// sessionStorage, API errors in plain words, dates and times in the user's own
// time zone, and a tiny DOM builder (text is always set as text, never as HTML,
// so names from the API cannot inject markup).
// Loaded as an ES module by every page (the server's CSP allows no inline
// script); runs on the browser's main thread only.

const TOKEN_KEY = 'televisit.session';
const USER_KEY = 'televisit.user';

// ---- DOM ------------------------------------------------------------------

// h('button', {class: 'x', onclick: fn, 'aria-label': '…'}, 'text', child…)
// Attributes starting with "on" become listeners; null/false attributes and
// children are skipped; strings become text nodes.
export function h (tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append (el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Replaces the children of @el (or the element with id @el).
export function fill (el, ...children) {
  if (typeof el === 'string') el = document.getElementById(el);
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (id) => document.getElementById(id);

// ---- API ------------------------------------------------------------------

// @message: plain words for the screen; @detail: the server's own message.
export class ApiError extends Error {
  constructor (status, code, message, detail = '') {
    super(message);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

export function token () { return sessionStorage.getItem(TOKEN_KEY); }
export function currentUser () {
  try { return JSON.parse(sessionStorage.getItem(USER_KEY) || 'null'); } catch { return null; }
}

// Calls /api/v1/@path. Resolves with the parsed JSON reply (null for 204);
// rejects with an ApiError whose message is plain words for the person at
// the screen. A 401 (session ended) clears the token and shows the sign-in form.
export async function api (method, path, body, { raw = false } = {}) {
  const headers = {};
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(`/api/v1/${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'network', 'The clinic server cannot be reached. Check the network connection and try again.');
  }
  if (res.ok && raw) return res;
  let json = null;
  if (res.status !== 204) {
    const text = await res.text();
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  }
  if (res.ok) return json;
  const code = json && json.error ? json.error.code : 'http_' + res.status;
  const detail = json && json.error ? json.error.message : '';
  if (res.status === 401 && path !== 'login') {
    // The session is gone: the sign-in form comes back saying so, and the
    // error carries the same words, because the caller's catch usually says
    // e.message in the same status region right after (with another wording
    // it overwrote the form's notice, or not, depending on timing).
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(USER_KEY);
    const why = code === 'session_expired' ? 'Your session has ended. Please sign in again.' : 'Please sign in.';
    if (signInHook) signInHook(why);
    throw new ApiError(res.status, code, why, detail);
  }
  throw new ApiError(res.status, code, plainWords(res.status, code, detail, res.headers.get('Retry-After')), detail);
}

// What an API error means, in words for the clinic's staff and patients.
export function plainWords (status, code, detail, retryAfter) {
  const d = detail ? ` (${detail})` : '';
  switch (code) {
    case 'slot_taken': return 'Someone else has just booked this time. The calendar has been refreshed: please choose another time.';
    case 'conflict': return `This cannot be saved because it clashes with something that already exists${d}.`;
    case 'wrong_state': return `This visit can no longer be changed that way${d}.`;
    case 'unauthenticated': return 'The user name or password is not right, or you are not signed in.';
    case 'session_expired': return 'Your session has ended. Please sign in again.';
    case 'forbidden': return 'Your account is not allowed to do this. Ask the clinic administrator if you need it.';
    case 'not_found': return `This record no longer exists${d}.`;
    case 'too_many_attempts': return `Too many failed sign-in attempts. Please wait ${retryAfter || 'a few'} seconds and try again.`;
    case 'missing_field': case 'invalid_field': case 'invalid_json': return `Please check what you entered${d}.`;
    case 'body_too_large': return 'That is too much data to send at once.';
    case 'internal': return 'The server had a problem and nothing was changed. Please try again; call support if it keeps happening.';
    default: return `The request failed (HTTP ${status})${d}.`;
  }
}

// Shows @msg (plain words) in the page's live status region (id "status"),
// as an error (role alert) or as a notice.
export function say (msg, kind = 'info') {
  const el = $('status');
  if (!el) return;
  el.className = `status status-${kind}`;
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.textContent = msg;
  el.hidden = !msg;
}

// Runs async @fn; an error is said in plain words. Returns fn's result or undefined.
export async function guarded (fn) {
  try { return await fn(); } catch (e) {
    say(e instanceof ApiError ? e.message : `Something went wrong in this page: ${e.message}`, 'error');
    return undefined;
  }
}

// ---- sign-in --------------------------------------------------------------

let signInHook = null;

// Sets up the page's sign-in: builds the form into the element with id "login"
// and the signed-in bar (name, "Sign out") into id "whoami"; the main content
// (id "app") is shown once signed in. @roles: the roles this page is for; a user holding none
// of them is told so (the server refuses their calls anyway). @onReady(user)
// runs after sign-in (or at once when the tab still holds a live session).
export async function setupSignIn ({ roles, onReady }) {
  fill('login', h('h2', { id: 'login-h' }, 'Sign in'),
    h('form', { id: 'login-form' },
      h('div', { class: 'field' }, h('label', { for: 'username' }, 'User name'),
        h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true })),
      h('div', { class: 'field' }, h('label', { for: 'password' }, 'Password'),
        h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
      h('button', { type: 'submit' }, 'Sign in')));
  fill('whoami', h('span', {}, 'Signed in as ', h('strong', { id: 'whoami-name' })),
    h('button', { type: 'button', class: 'secondary', id: 'logout' }, 'Sign out'));
  const form = $('login-form');
  const app = $('app');
  const showForm = (msg) => {
    delete document.body.dataset.ready;
    app.hidden = true;
    $('login').hidden = false;
    $('whoami').hidden = true;
    if (msg) say(msg, 'info');
    $('username').focus();
  };
  signInHook = showForm;
  let started = false;
  const ready = async (user) => {
    sessionStorage.setItem(USER_KEY, JSON.stringify(user));
    const ok = user.roles.some((r) => roles.includes(r));
    fill('whoami-name', `${user.display_name} (${user.roles.join(', ')})`);
    $('whoami').hidden = false;
    $('login').hidden = true;
    if (!ok) {
      app.hidden = true;
      say(`This page is for ${roles.join(' or ')} accounts; you are signed in as ${user.roles.join(', ')}.`, 'error');
      document.body.dataset.ready = 'true';
      return;
    }
    app.hidden = false;
    say('');
    started = true;
    await guarded(() => onReady(user));
    document.body.dataset.ready = 'true';  // drawn and listening, or refused (tests wait for it)
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const username = $('username').value.trim();
    const password = $('password').value;
    if (!username || !password) { say('Please enter your user name and password.', 'error'); return; }
    const r = await guarded(() => api('POST', 'login', { username, password }));
    if (!r) { $('password').select(); return; }
    sessionStorage.setItem(TOKEN_KEY, r.token);
    $('password').value = '';
    // Signed in again after the session ended: start the page afresh (its
    // listeners and timers exist already), the new token in sessionStorage.
    if (started) { location.reload(); return; }
    await ready(r.user);
  });
  $('logout').addEventListener('click', async () => {
    try { await api('POST', 'logout', {}); } catch {}
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(USER_KEY);
    location.reload();
  });
  if (token()) {
    try {
      const me = await api('GET', 'me');
      await ready(me.user);
      return;
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401) say(e.message, 'error');
    }
  }
  showForm();
}

// ---- dates and times (the browser's own time zone) --------------------------

const locale = undefined;  // the browser's language
const fmtCache = new Map();
function fmt (opts) {
  const k = JSON.stringify(opts);
  if (!fmtCache.has(k)) fmtCache.set(k, new Intl.DateTimeFormat(locale, opts));
  return fmtCache.get(k);
}
const asDate = (t) => (t instanceof Date ? t : new Date(t));
export const fmtTime = (t) => fmt({ hour: '2-digit', minute: '2-digit' }).format(asDate(t));
export const fmtDate = (t) => fmt({ weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' }).format(asDate(t));
export const fmtDay = (t) => fmt({ weekday: 'short', day: 'numeric', month: 'short' }).format(asDate(t));
export const fmtDateTime = (t) => `${fmtDate(t)}, ${fmtTime(t)}`;
export const timeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

// Local midnight of the day holding @t, and @n days later.
export function startOfDay (t) { const d = new Date(asDate(t)); d.setHours(0, 0, 0, 0); return d; }
export function addDays (t, n) { const d = new Date(asDate(t)); d.setDate(d.getDate() + n); return d; }
// Monday 00:00 of @t's week.
export function startOfWeek (t) { const d = startOfDay(t); return addDays(d, -((d.getDay() + 6) % 7)); }
// YYYY-MM-DD of @t in local time (for <input type=date>).
export function isoDate (t) {
  const d = asDate(t);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}
// RFC 3339 with offset for a local Date (the API refuses times without one).
export function rfc3339 (t) { return asDate(t).toISOString().replace(/\.\d{3}Z$/, 'Z'); }
// Local Date from YYYY-MM-DD.
export function fromIsoDate (s) { const [y, m, d] = s.split('-').map(Number); return new Date(y, m - 1, d); }

// Words for a consult status.
export const STATUS_WORDS = {
  scheduled: 'Scheduled', waiting: 'Waiting', 'in-progress': 'In progress', completed: 'Completed',
  'no-show': 'No-show', cancelled: 'Cancelled',
};

// Money: @cents in @currency (ISO 4217), in the browser's language.
// fmtAmount: the same for the API's decimal strings ("75.00").
export const fmtAmount = (amount, currency) => fmtMoney(Math.round(Number(amount) * 100), currency);
export function fmtMoney (cents, currency = 'EUR') {
  try { return new Intl.NumberFormat(locale, { style: 'currency', currency }).format(cents / 100); } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

// Saves @text as a file named @name (CSV export, record download).
export function download (name, text, type = 'text/plain') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
