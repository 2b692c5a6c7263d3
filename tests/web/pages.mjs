// pages.mjs — helpers shared by the page tests: the doctor's hours through the
// API, dates as the pages show them, and (until the server serves web/ itself)
// serving the repository's web/ files on the server's origin inside Chromium.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, note } from './clinic.mjs';

// Opens the doctor every day 00:00-24:00 (their zone), so tomorrow has slots whatever the hour.
export async function setAllDayHours (clinic, token, doctorId) {
  const hours = [];
  for (let d = 1; d <= 7; d++) hours.push({ weekday: d, start: '00:00', end: '24:00' });
  const r = await clinic.request('PUT', `/api/v1/doctors/${doctorId}/availability`, token, { hours });
  if (r.status !== 200) throw new Error(`availability: ${r.status} ${r.text}`);
}

// YYYY-MM-DD of today + @n days in the local zone of @tz.
export function dayAfter (n, tz = 'Europe/Berlin') {
  const d = new Date(Date.now() + n * 86400000);
  return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.png': 'image/png', '.svg': 'image/svg+xml' };

// When the server does not serve /desk/ yet, answers /<area>/ and /web/<path>
// from the working tree's web/ (with the server's CSP) inside @ctx.
export async function servePages (clinic, ctx) {
  if (clinic.serves === undefined) {
    const r = await clinic.request('GET', '/desk/');
    clinic.serves = r.status === 200;
    if (!clinic.serves) note('server does not serve web/ yet: the test serves it from the tree');
  }
  if (clinic.serves) return;
  await ctx.route(`${clinic.origin}/**`, (route) => {
    const u = new URL(route.request().url());
    let file = null;
    if (u.pathname.startsWith('/web/')) file = path.join(ROOT, u.pathname);
    else if (/^\/([a-z]+\/)?$/.test(u.pathname)) file = path.join(ROOT, 'web', u.pathname, 'index.html');
    if (!file) return route.continue();
    if (!fs.existsSync(file)) return route.fulfill({ status: 404, body: 'not found' });
    return route.fulfill({
      status: 200, body: fs.readFileSync(file), contentType: TYPES[path.extname(file)] || 'application/octet-stream',
      headers: { 'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'" },
    });
  });
}
