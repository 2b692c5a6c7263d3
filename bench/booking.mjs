// booking.mjs — booking throughput of `make bench` (issue 6, item 4).
//
// 64 concurrent clients (one keep-alive HTTPS connection each, a lean TLS
// client: LeanConn below) book and cancel
// through the real API for 30 s: POST /api/v1/consults as a scheduler, then
// POST /api/v1/consults/{id}/cancel, over 16 doctors (UTC, 15-min slots, open
// every day 00:00-24:00) and 64 patients (one per client: a patient may not
// hold two overlapping consults). Each client picks a random future slot of a
// random doctor, so clients collide on slots now and then (409 slot_taken is
// counted, not an error).
// Double bookings are counted three ways: (a) live — a 201 for a doctor and slot
// that, by our own bookkeeping, another booking holds between its 201 and its
// cancel was sent; (b) in the store afterwards — live consults of one doctor
// whose times overlap (sqlite3 on the server's database); (c) over the whole
// run, in commit order — per doctor and slot, each booking's audit row after
// the previous holder's cancel row.
// No reference system: the target is absolute (>= 5,000 bookings/s).
import https from 'node:https';
import tls from 'node:tls';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { monoUs, percentile, cpuSeconds } from './lib.mjs';

function request (agent, port, ca, method, p, token, body) {
  return new Promise((resolve, reject) => {
    const data = body ? JSON.stringify(body) : '';
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) };
    if (token) headers.authorization = `Bearer ${token}`;
    const req = https.request({ host: '127.0.0.1', port, method, path: p, ca, agent, headers, servername: 'localhost' }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch {}
        resolve({ status: res.statusCode, json });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

// One keep-alive HTTPS/1.1 connection of a load client, kept lean so the
// client is not what limits the run: Node's `https` module cost ~0.3 ms of
// CPU per booking + cancel (as much as half the server's), most of it in its
// request/response objects and streams. Here a request is one string written
// to the TLS socket and the reply is cut from the byte stream by its
// Content-Length (every API reply has one; no chunked encoding). One request
// at a time per connection, like the `https` agent with maxSockets 1.
class LeanConn {
  constructor (port, ca) {
    this.port = port; this.ca = ca; this.buf = null; this.pending = null;
  }

  open () {
    return new Promise((resolve, reject) => {
      this.sock = tls.connect({ host: '127.0.0.1', port: this.port, ca: this.ca, servername: 'localhost',
                                ALPNProtocols: ['http/1.1'] }, () => { this.sock.off('error', reject); resolve(); });
      this.sock.once('error', reject);
      this.sock.setNoDelay(true);
      this.sock.on('data', (d) => this.onData(d));
      const fail = (e) => { const p = this.pending; this.pending = null; if (p) p.reject(e || new Error('connection closed')); };
      this.sock.on('error', fail);
      this.sock.on('close', () => fail(null));
    });
  }

  request (method, p, token, body) {
    const data = body ? JSON.stringify(body) : '';
    const head = `${method} ${p} HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer ${token}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(data)}\r\n\r\n`;
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.sock.write(head + data);
    });
  }

  onData (d) {
    this.buf = this.buf ? Buffer.concat([this.buf, d]) : d;
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buf.toString('latin1', 0, end);
    const m = /\r\ncontent-length: *(\d+)/i.exec(head);
    const len = m ? Number(m[1]) : 0;
    if (this.buf.length < end + 4 + len) return;
    const text = this.buf.toString('utf8', end + 4, end + 4 + len);
    this.buf = this.buf.length > end + 4 + len ? this.buf.subarray(end + 4 + len) : null;
    let json = null;
    try { json = JSON.parse(text); } catch {}
    const p = this.pending; this.pending = null;
    if (p) p.resolve({ status: Number(head.slice(9, 12)), json });
  }

  close () { this.sock.destroy(); }
}

function ctlUser (ctl, dataDir, args) {
  const out = execFileSync(ctl, ['--data-dir', dataDir, 'user', 'add', ...args, '--json'], { encoding: 'utf8', input: 'bench-password-1\n' });
  return JSON.parse(out).user;
}

export async function benchBooking ({ server, ctl, seconds, clients, doctors: nDoctors }) {
  const port = Number(server.url.split(':').pop());
  const ca = fs.readFileSync(server.ca);
  const pw = ['--password-stdin'];
  ctlUser(ctl, server.dir, ['--username', 'bench.scheduler', '--name', 'Bench Scheduler', '--role', 'scheduler', ...pw]);
  const doctors = [], patients = [];
  for (let i = 0; i < nDoctors; i++)
    doctors.push(ctlUser(ctl, server.dir, ['--username', `bench.dr${i}`, '--name', `Dr. Test Doctor ${i}`, '--role', 'doctor', '--time-zone', 'UTC', '--slot-minutes', '15', ...pw]).id);
  for (let i = 0; i < clients; i++)
    patients.push(ctlUser(ctl, server.dir, ['--username', `bench.pat${i}`, '--name', `Pat Synthetic ${i}`, '--role', 'patient', ...pw]).id);

  const setupAgent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const login = await request(setupAgent, port, ca, 'POST', '/api/v1/login', null, { username: 'bench.scheduler', password: 'bench-password-1' });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${JSON.stringify(login.json)}`);
  const token = login.json.token;
  const hours = [];
  for (let d = 1; d <= 7; d++) hours.push({ weekday: d, start: '00:00', end: '24:00' });
  for (const id of doctors) {
    const r = await request(setupAgent, port, ca, 'PUT', `/api/v1/doctors/${id}/availability`, token, { hours });
    if (r.status !== 200) throw new Error(`availability: ${r.status} ${JSON.stringify(r.json)}`);
  }
  setupAgent.destroy();

  // Slots: the next 7 days from tomorrow 00:00 UTC, every 15 minutes.
  const day0 = new Date(); day0.setUTCHours(0, 0, 0, 0); day0.setUTCDate(day0.getUTCDate() + 1);
  const nSlots = 7 * 96;
  const slotIso = (k) => new Date(day0.getTime() + k * 15 * 60000).toISOString().replace('.000Z', 'Z');

  const held = new Map();      // "doctor|slot" -> booking count holding it (should never exceed 1)
  const lat = [];
  let booked = 0, taken = 0, conflicts = 0, errors = 0, cancelled = 0, doubleLive = 0;
  // CPU of the server and of this load client over the run: on a shared
  // machine the server's CPU per booking moves much less than bookings/s.
  const srvCpu0 = cpuSeconds(server.srv.pid), cli0 = process.cpuUsage();
  const t0 = monoUs(), until = t0 + seconds * 1e6;
  const worker = async (w) => {
    let conn = new LeanConn(port, ca);
    await conn.open();
    const req = async (method, p, body) => {
      if (conn === null) { conn = new LeanConn(port, ca); await conn.open(); }
      try { return await conn.request(method, p, token, body); } catch (e) { conn.close(); conn = null; throw e; }
    };
    while (monoUs() < until) {
      const doc = doctors[Math.floor(Math.random() * doctors.length)];
      const k = Math.floor(Math.random() * nSlots);
      const key = `${doc}|${k}`;
      const s = monoUs();
      let r;
      try {
        r = await req('POST', '/api/v1/consults', { doctor_id: doc, patient_id: patients[w], start: slotIso(k) });
      } catch (e) { errors++; continue; }
      const e = monoUs();
      if (r.status === 201) {
        booked++;
        lat.push((e - s) / 1000);
        if ((held.get(key) || 0) > 0) doubleLive++;
        held.set(key, (held.get(key) || 0) + 1);
        // The slot is free again from the moment the cancel is SENT: it may
        // commit any time after that, and the replies of one group commit
        // come back in any order, so a 201 for the next booking of the slot
        // can overtake this cancel's 200 without any overlap in the store.
        const cp = req('POST', `/api/v1/consults/${r.json.consult.id}/cancel`, null).catch(() => null);
        held.set(key, held.get(key) - 1);
        const c = await cp;
        if (c && c.status === 200) cancelled++; else errors++;
      } else if (r.status === 409 && r.json && r.json.error && r.json.error.code === 'slot_taken') taken++;
      else if (r.status === 409) conflicts++;
      else { errors++; if (errors <= 3) process.stderr.write(`bench: booking: ${r.status} ${JSON.stringify(r.json)}\n`); }
    }
    if (conn) conn.close();
  };
  await Promise.all(Array.from({ length: clients }, (_, w) => worker(w)));
  const elapsed = (monoUs() - t0) / 1e6;
  const serverCpu = cpuSeconds(server.srv.pid) - srvCpu0;
  const cli = process.cpuUsage(cli0);
  const clientCpu = (cli.user + cli.system) / 1e6;

  // Overlapping live consults of one doctor, straight from the store.
  let doubleStore = null, doubleAudit = null;
  try {
    doubleStore = Number(execFileSync('sqlite3', [path.join(server.dir, 'televisit.db'),
      "SELECT count(*) FROM consults a JOIN consults b ON a.doctor_id = b.doctor_id AND a.id < b.id " +
      "WHERE a.doctor_id IS NOT NULL AND a.status NOT IN ('cancelled','no-show') AND b.status NOT IN ('cancelled','no-show') " +
      'AND a.scheduled_start < b.scheduled_end AND b.scheduled_start < a.scheduled_end;'], { encoding: 'utf8' }).trim());
  } catch (e) { process.stderr.write(`bench: booking: store check failed: ${e.message}\n`); }
  // The same for every booking made and cancelled during the run, in COMMIT
  // order: the audit trail's seq orders the booking's and the cancel's rows
  // (each committed with its change). Per doctor and slot, a booking must
  // commit after the previous holder's cancel.
  try {
    doubleAudit = Number(execFileSync('sqlite3', [path.join(server.dir, 'televisit.db'),
      "WITH ev AS (SELECT resource_id AS id, min(CASE WHEN action = 'POST /api/v1/consults' THEN seq END) AS b, " +
      "min(CASE WHEN action = 'POST /api/v1/consults/{id}/cancel' THEN seq END) AS c FROM audit " +
      "WHERE outcome = '2xx' AND action IN ('POST /api/v1/consults', 'POST /api/v1/consults/{id}/cancel') GROUP BY resource_id), " +
      'k AS (SELECT consults.doctor_id AS d, consults.scheduled_start AS s, ev.b AS b, ev.c AS c FROM ev JOIN consults ON consults.id = ev.id WHERE ev.b IS NOT NULL), ' +
      'w AS (SELECT b, lag(b) OVER win AS pb, lag(c) OVER win AS pc FROM k WINDOW win AS (PARTITION BY d, s ORDER BY b)) ' +
      'SELECT count(*) FROM w WHERE pb IS NOT NULL AND (pc IS NULL OR pc > b);'], { encoding: 'utf8' }).trim());
  } catch (e) { process.stderr.write(`bench: booking: audit-order check failed: ${e.message}\n`); }
  return {
    clients, doctors: nDoctors, seconds: elapsed,
    bookings: booked, bookings_per_s: booked / elapsed, cancelled, slot_taken: taken, conflicts, errors,
    p50_ms: percentile(lat, 0.5), p99_ms: percentile(lat, 0.99),
    double_bookings_live: doubleLive, double_bookings_store: doubleStore, double_bookings_audit: doubleAudit,
    server_cpu_s: serverCpu, client_cpu_s: clientCpu,
    client_cpu_ms_per_booking: booked > 0 ? (clientCpu * 1000) / booked : NaN,
    // book + cancel: both requests of a booking, per 201.
    server_cpu_ms_per_booking: booked > 0 ? (serverCpu * 1000) / booked : NaN,
  };
}
