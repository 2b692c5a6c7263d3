/* test-server-waitroom.c — the waiting room, admit, send-back and the doctor's dashboard over real WSS.
 *
 * Why: the waiting room changes when a consult pairs (only once the doctor is
 * present and has admitted the patient) and adds timestamps to the consult
 * record; the dashboard pushes a doctor's day to an authenticated connection.
 * These tests hold the server to signaling/PROTOCOL.md sections 3.16-3.22 and
 * 10 by what arrives on the wire and what lands in the store (arrived_at,
 * admitted_at, wait_us, started_at, ended_at, in order).
 *
 * Thread: main thread only; every wait iterates the default main context with
 * a timeout, and each case runs under a watchdog.
 */
#define G_LOG_DOMAIN "tv-test-server-waitroom"

#include <string.h>

#include "server/tv-roles.h"
#include "signaling/tv-sig-error.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"

#define SDP_JSON                                                                                        \
  "v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\na=group:BUNDLE 0\\r\\n" \
  "m=video 9 UDP/TLS/RTP/SAVPF 96\\r\\nc=IN IP4 0.0.0.0\\r\\na=mid:0\\r\\na=sendrecv\\r\\n"           \
  "a=rtpmap:96 VP8/90000\\r\\n"
#define CLOSE_WAIT_MS 5000
#define CLOSE_POLICY 1008

static TvTestServer *server;
static const char *dir;
static TvWsHub *hub;

static void
ensure_server (void)
{
  if (server != NULL)
    return;
  dir = tv_test_tmpdir ();
  server = tv_test_server_start (dir, NULL);
  hub = tv_test_hub_new (server);
}

static TvTestPeer *
peer (const char *name)
{
  TvTestPeer *p = tv_test_peer_connect (hub, tv_test_server_get_url (server));
  tv_test_peer_set_name (p, name);
  return p;
}

typedef struct {
  char *id, *dtok, *ptok;
} Consult;

static void
consult_new (Consult *c)
{
  ensure_server ();
  tv_test_create_consult (dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &c->id, &c->dtok, &c->ptok);
}

static void
consult_clear (Consult *c)
{
  g_free (c->id);
  g_free (c->dtok);
  g_free (c->ptok);
}

static void
expect_error (TvTestPeer *p, const char *json, int code, const char *ref)
{
  g_autoptr (JsonObject) err = NULL;
  tv_test_peer_send (p, json);
  err = tv_test_peer_expect_error_ref (p, code, ref);
  tv_test_peer_sync (p);
}

static void
expect_waiting (TvTestPeer *p, gboolean doctor_present)
{
  g_autoptr (JsonObject) w = tv_test_peer_expect (p, "waiting", 0);
  g_autoptr (GDateTime) start = g_date_time_new_from_iso8601 (tv_test_json_str (w, "scheduled_start"), NULL);

  g_assert_cmpstr (tv_test_json_str (w, "doctor"), ==, "Dr. Test Doctor");
  g_assert_nonnull (start);
  g_assert_cmpint (tv_test_json_bool (w, "doctor_present"), ==, doctor_present ? 1 : 0);
}

static void
expect_paired_both (TvTestPeer *doctor, TvTestPeer *patient)
{
  g_autoptr (JsonObject) dp = tv_test_peer_expect (doctor, "paired", 0);
  g_autoptr (JsonObject) pp = tv_test_peer_expect (patient, "paired", 0);
  g_assert_cmpint (tv_test_json_bool (dp, "offerer"), ==, 1);
  g_assert_cmpint (tv_test_json_bool (pp, "offerer"), ==, 0);
}

static void
negotiate_and_connect (TvTestPeer *doctor, TvTestPeer *patient)
{
  g_autoptr (JsonObject) offer = NULL;
  g_autoptr (JsonObject) answer = NULL;

  tv_test_peer_send (doctor, "{\"type\":\"offer\",\"sdp\":\"" SDP_JSON "\"}");
  offer = tv_test_peer_expect (patient, "offer", 0);
  tv_test_peer_send (patient, "{\"type\":\"answer\",\"sdp\":\"" SDP_JSON "\"}");
  answer = tv_test_peer_expect (doctor, "answer", 0);
  tv_test_peer_send (doctor, "{\"type\":\"media\",\"state\":\"connected\"}");
  tv_test_peer_send (patient, "{\"type\":\"media\",\"state\":\"connected\"}");
  tv_test_peer_sync (doctor);
  tv_test_peer_sync (patient);
}

/* Patient first: waiting, doctor-ready, refusals before admission, admit,
 * media, send-back, admit again, end; every timestamp set once and ordered. */
static void
test_waiting_room_admit (void)
{
  g_autoptr (TvTestPeer) patient = NULL;
  g_autoptr (TvTestPeer) doctor = NULL;
  g_autoptr (JsonObject) pj = NULL, dj = NULL, ready = NULL, ended_d = NULL, ended_p = NULL;
  g_autoptr (TvConsult) waiting = NULL, admitted = NULL, started = NULL, back = NULL, done = NULL;
  Consult c;

  consult_new (&c);
  patient = peer ("patient");
  pj = tv_test_peer_join (patient, c.ptok, "patient");
  g_assert_cmpint (tv_test_json_bool (pj, "peer_present"), ==, 0);
  expect_waiting (patient, FALSE);
  waiting = tv_test_get_consult (dir, c.id);
  g_assert_cmpint (waiting->status, ==, TV_CONSULT_WAITING);
  g_assert_cmpint (waiting->arrived_at, >, 0);
  g_assert_cmpint (waiting->admitted_at, ==, 0);
  g_assert_cmpint (waiting->wait_us, ==, 0);

  doctor = peer ("doctor");
  dj = tv_test_peer_join (doctor, c.dtok, "doctor");
  g_assert_cmpint (tv_test_json_bool (dj, "peer_present"), ==, 1);
  ready = tv_test_peer_expect (patient, "doctor-ready", 0);
  tv_test_peer_sync (doctor);

  /* Not admitted: no negotiation; only the doctor admits; nothing to send back. */
  expect_error (doctor, "{\"type\":\"offer\",\"sdp\":\"" SDP_JSON "\"}", TV_SIG_ERR_NOT_PAIRED, "offer");
  expect_error (patient, "{\"type\":\"admit\"}", TV_SIG_ERR_NOT_ALLOWED, "admit");
  expect_error (patient, "{\"type\":\"send-back\"}", TV_SIG_ERR_NOT_ALLOWED, "send-back");
  expect_error (doctor, "{\"type\":\"send-back\"}", TV_SIG_ERR_NOT_WAITING, "send-back");

  tv_test_peer_send (doctor, "{\"type\":\"admit\"}");
  expect_paired_both (doctor, patient);
  admitted = tv_test_get_consult (dir, c.id);
  g_assert_cmpint (admitted->arrived_at, ==, waiting->arrived_at);
  g_assert_cmpint (admitted->admitted_at, >=, admitted->arrived_at);
  g_assert_cmpint (admitted->wait_us, ==, admitted->admitted_at - admitted->arrived_at);
  g_assert_cmpint (admitted->status, ==, TV_CONSULT_WAITING);
  expect_error (doctor, "{\"type\":\"admit\"}", TV_SIG_ERR_NOT_WAITING, "admit");

  negotiate_and_connect (doctor, patient);
  started = tv_test_get_consult (dir, c.id);
  g_assert_cmpint (started->status, ==, TV_CONSULT_IN_PROGRESS);
  g_assert_cmpint (started->started_at, >=, started->admitted_at);
  g_assert_cmpint (started->media_up_since, >, 0);

  /* Send back: the patient waits again, the connected interval closes. */
  tv_test_peer_send (doctor, "{\"type\":\"send-back\"}");
  expect_waiting (patient, TRUE);
  tv_test_peer_sync (doctor);
  back = tv_test_get_consult (dir, c.id);
  g_assert_cmpint (back->status, ==, TV_CONSULT_IN_PROGRESS);
  g_assert_cmpint (back->media_up_since, ==, 0);
  g_assert_cmpint (back->connected_us, >, 0);
  expect_error (doctor, "{\"type\":\"offer\",\"sdp\":\"" SDP_JSON "\"}", TV_SIG_ERR_NOT_PAIRED, "offer");
  expect_error (patient, "{\"type\":\"media\",\"state\":\"connected\"}", TV_SIG_ERR_NOT_PAIRED, "media");

  /* Admitted again: a fresh pairing; the first admission time stays. */
  tv_test_peer_send (doctor, "{\"type\":\"admit\"}");
  expect_paired_both (doctor, patient);
  negotiate_and_connect (doctor, patient);

  tv_test_peer_send (doctor, "{\"type\":\"end\"}");
  ended_d = tv_test_peer_expect (doctor, "ended", 0);
  ended_p = tv_test_peer_expect (patient, "ended", 0);
  g_assert_true (tv_test_peer_wait_closed (patient, CLOSE_WAIT_MS));
  done = tv_test_get_consult (dir, c.id);
  g_assert_cmpint (done->status, ==, TV_CONSULT_COMPLETED);
  g_assert_cmpint (done->admitted_at, ==, admitted->admitted_at);
  g_assert_cmpint (done->wait_us, ==, admitted->wait_us);
  g_assert_cmpint (done->arrived_at, <=, done->admitted_at);
  g_assert_cmpint (done->admitted_at, <=, done->started_at);
  g_assert_cmpint (done->started_at, <=, done->ended_at);
  g_assert_cmpint (done->connected_us, >, back->connected_us);
  consult_clear (&c);
}

/* The doctor leaves while the admitted patient waits: the patient gets
 * peer-left and, when the doctor returns, is paired without a new admit. */
static void
test_admission_lasts (void)
{
  g_autoptr (TvTestPeer) patient = NULL;
  g_autoptr (TvTestPeer) doctor = NULL;
  g_autoptr (TvTestPeer) doctor2 = NULL;
  g_autoptr (JsonObject) j1 = NULL, j2 = NULL, j3 = NULL, pj = NULL, left = NULL, pj2 = NULL;
  Consult c;

  consult_new (&c);
  doctor = peer ("doctor");
  j1 = tv_test_peer_join (doctor, c.dtok, "doctor");
  patient = peer ("patient");
  j2 = tv_test_peer_join (patient, c.ptok, "patient");
  expect_waiting (patient, TRUE);
  pj = tv_test_peer_expect (doctor, "peer-joined", 0);
  tv_test_peer_send (doctor, "{\"type\":\"admit\"}");
  expect_paired_both (doctor, patient);

  tv_test_peer_send (doctor, "{\"type\":\"leave\"}");
  left = tv_test_peer_expect (patient, "peer-left", 0);
  g_assert_true (tv_test_peer_wait_closed (doctor, CLOSE_WAIT_MS));
  tv_test_peer_sync (patient);

  doctor2 = peer ("doctor (back)");
  j3 = tv_test_peer_join (doctor2, c.dtok, "doctor");
  pj2 = tv_test_peer_expect (patient, "peer-joined", 0);
  expect_paired_both (doctor2, patient);
  consult_clear (&c);
}

/* Admit, send-back, join by consult id and auth on connections that may not. */
static void
test_waitroom_errors (void)
{
  g_autoptr (TvTestPeer) p = NULL;
  g_autoptr (TvTestPeer) bad = NULL;
  g_autoptr (JsonObject) err = NULL;
  Consult c;

  consult_new (&c);
  p = peer ("unjoined");
  expect_error (p, "{\"type\":\"admit\"}", TV_SIG_ERR_NOT_JOINED, "admit");
  expect_error (p, "{\"type\":\"send-back\"}", TV_SIG_ERR_NOT_JOINED, "send-back");
  {
    g_autofree char *j = g_strdup_printf ("{\"type\":\"admit\",\"consult\":\"%s\"}", c.id);
    expect_error (p, j, TV_SIG_ERR_NOT_AUTHENTICATED, "admit");
    g_free (j);
    j = g_strdup_printf ("{\"type\":\"join\",\"consult\":\"%s\"}", c.id);
    expect_error (p, j, TV_SIG_ERR_NOT_AUTHENTICATED, "join");
  }
  /* An unknown session is fatal, like an unknown token. */
  bad = peer ("bad session");
  tv_test_peer_send (bad, "{\"type\":\"auth\",\"session\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}");
  err = tv_test_peer_expect_error_ref (bad, TV_SIG_ERR_TOKEN_INVALID, "auth");
  g_assert_true (tv_test_peer_wait_closed (bad, CLOSE_WAIT_MS));
  g_assert_cmpint (tv_test_peer_get_close_code (bad), ==, CLOSE_POLICY);
  consult_clear (&c);
}

/* ---- the dashboard ---------------------------------------------------------- */

/* Makes @c a consult booked for @doctor_id / @patient_id starting now (as
 * the schedule's booking would), so it is on today's dashboard. */
static void
book_now (Consult *c, const char *doctor_id, const char *patient_id)
{
  gint64 now = g_get_real_time ();
  g_autofree char *sql = g_strdup_printf (
    "UPDATE consults SET doctor_id = '%s', patient_id = '%s', scheduled_start = %" G_GINT64_FORMAT
    ", scheduled_end = %" G_GINT64_FORMAT " WHERE id = '%s'",
    doctor_id, patient_id, now, now + (gint64) 900 * G_USEC_PER_SEC, c->id);
  tv_test_store_exec (dir, sql);
}

static JsonObject *
dashboard_item (JsonObject *dash, const char *consult_id)
{
  JsonArray *items = json_object_get_array_member (dash, "consults");
  for (guint i = 0; items && i < json_array_get_length (items); i++) {
    JsonObject *it = json_array_get_object_element (items, i);
    if (g_strcmp0 (tv_test_json_str (it, "id"), consult_id) == 0)
      return it;
  }
  return NULL;
}

static void
test_dashboard (void)
{
  g_autoptr (TvTestPeer) dash = NULL, patient = NULL, other = NULL, nodoc = NULL;
  g_autoptr (JsonObject) authed = NULL, d1 = NULL, d2 = NULL, joined = NULL, paired_d = NULL, paired_p = NULL;
  g_autoptr (JsonObject) d3 = NULL, pj = NULL, err = NULL, authed2 = NULL, dother = NULL, err2 = NULL;
  g_autoptr (JsonObject) joined_d = NULL;
  g_autoptr (TvConsult) row = NULL;
  g_autofree char *doc_id = NULL, *doc2_id = NULL, *pat_id = NULL;
  g_autofree char *session = NULL, *session2 = NULL, *psession = NULL;
  JsonObject *it;
  Consult c;

  consult_new (&c);
  doc_id = tv_test_create_user (dir, "dr.dash", "Dr. Test Doctor", TV_ROLE_DOCTOR, "Europe/Berlin", NULL);
  doc2_id = tv_test_create_user (dir, "dr.other", "Dr. Other Doctor", TV_ROLE_DOCTOR, NULL, NULL);
  pat_id = tv_test_create_user (dir, "pat.dash", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  book_now (&c, doc_id, pat_id);
  session = tv_test_login (server, "dr.dash", NULL);
  session2 = tv_test_login (server, "dr.other", NULL);
  psession = tv_test_login (server, "pat.dash", NULL);

  /* auth: authed, then today's consults; nobody there yet. */
  dash = peer ("dashboard");
  tv_test_peer_sendf (dash, "{\"type\":\"auth\",\"session\":\"%s\"}", session);
  authed = tv_test_peer_expect (dash, "authed", 0);
  g_assert_cmpstr (tv_test_json_str (authed, "user"), ==, doc_id);
  g_assert_cmpstr (tv_test_json_str (authed, "name"), ==, "Dr. Test Doctor");
  d1 = tv_test_peer_expect (dash, "dashboard", 0);
  g_assert_cmpstr (tv_test_json_str (d1, "time_zone"), ==, "Europe/Berlin");
  it = dashboard_item (d1, c.id);
  g_assert_nonnull (it);
  g_assert_cmpstr (tv_test_json_str (it, "status"), ==, "scheduled");
  g_assert_cmpstr (tv_test_json_str (it, "patient"), ==, "Pat Synthetic");
  g_assert_cmpint (tv_test_json_bool (it, "patient_present"), ==, 0);
  g_assert_false (json_object_has_member (it, "waiting_since"));
  expect_error (dash, "{\"type\":\"auth\",\"session\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
                TV_SIG_ERR_ALREADY_JOINED, "auth");

  /* The patient arrives: a fresh dashboard shows them waiting. */
  patient = peer ("patient");
  joined = tv_test_peer_join (patient, c.ptok, "patient");
  expect_waiting (patient, FALSE);
  d2 = tv_test_peer_expect (dash, "dashboard", 0);
  it = dashboard_item (d2, c.id);
  g_assert_cmpstr (tv_test_json_str (it, "status"), ==, "waiting");
  g_assert_cmpint (tv_test_json_bool (it, "patient_present"), ==, 1);
  g_assert_nonnull (tv_test_json_str (it, "waiting_since"));

  /* Another doctor may neither admit nor join it. */
  other = peer ("other doctor");
  tv_test_peer_sendf (other, "{\"type\":\"auth\",\"session\":\"%s\"}", session2);
  authed2 = tv_test_peer_expect (other, "authed", 0);
  dother = tv_test_peer_expect (other, "dashboard", 0);
  g_assert_null (dashboard_item (dother, c.id));
  {
    g_autofree char *j = g_strdup_printf ("{\"type\":\"admit\",\"consult\":\"%s\"}", c.id);
    expect_error (other, j, TV_SIG_ERR_NOT_YOUR_CONSULT, "admit");
    g_free (j);
    j = g_strdup_printf ("{\"type\":\"join\",\"consult\":\"%s\"}", c.id);
    expect_error (other, j, TV_SIG_ERR_NOT_YOUR_CONSULT, "join");
  }

  /* Admit from the dashboard (the doctor is not in the room yet), then join
   * by consult id: paired at once. */
  tv_test_peer_sendf (dash, "{\"type\":\"admit\",\"consult\":\"%s\"}", c.id);
  tv_test_peer_sync (dash);
  row = tv_test_get_consult (dir, c.id);
  g_assert_cmpint (row->admitted_at, >=, row->arrived_at);
  g_assert_cmpint (row->wait_us, ==, row->admitted_at - row->arrived_at);
  tv_test_peer_sendf (dash, "{\"type\":\"join\",\"consult\":\"%s\"}", c.id);
  joined_d = tv_test_peer_expect (dash, "joined", 0);
  g_assert_cmpstr (tv_test_json_str (joined_d, "role"), ==, "doctor");
  g_assert_cmpint (tv_test_json_bool (joined_d, "peer_present"), ==, 1);
  pj = tv_test_peer_expect (patient, "peer-joined", 0);
  paired_d = tv_test_peer_expect (dash, "paired", 0);
  paired_p = tv_test_peer_expect (patient, "paired", 0);
  /* In the call: no longer waiting. */
  d3 = tv_test_peer_expect (dash, "dashboard", 0);
  it = dashboard_item (d3, c.id);
  g_assert_false (json_object_has_member (it, "waiting_since"));
  g_assert_cmpint (tv_test_json_bool (it, "patient_present"), ==, 1);

  /* Only doctors get a dashboard. */
  nodoc = peer ("patient dashboard");
  tv_test_peer_sendf (nodoc, "{\"type\":\"auth\",\"session\":\"%s\"}", psession);
  err = tv_test_peer_expect_error_ref (nodoc, TV_SIG_ERR_NOT_A_DOCTOR, "auth");
  g_assert_true (tv_test_peer_wait_closed (nodoc, CLOSE_WAIT_MS));

  /* Logging out ends the feed within the 1 s check. */
  {
    guint status = 0;
    tv_test_http (server, "POST", "/api/v1/logout", session2, NULL, &status, NULL);
    g_assert_cmpuint (status, <, 300);
  }
  err2 = tv_test_peer_expect_error (other, TV_SIG_ERR_TOKEN_INVALID);
  g_assert_true (tv_test_peer_wait_closed (other, CLOSE_WAIT_MS));
  consult_clear (&c);
}

static void
run_with_watchdog (gconstpointer data)
{
  tv_test_watchdog_start (60, g_test_get_path ());
  ((void (*) (void)) data) ();
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  int rc;

  tv_test_init (&argc, &argv);
#define ADD(path, fn) g_test_add_data_func ((path), (gconstpointer) (fn), run_with_watchdog)
  ADD ("/server-waitroom/admit-send-back-end", test_waiting_room_admit);
  ADD ("/server-waitroom/admission-lasts", test_admission_lasts);
  ADD ("/server-waitroom/errors", test_waitroom_errors);
  ADD ("/server-waitroom/dashboard", test_dashboard);
  rc = g_test_run ();
  if (hub)
    tv_ws_hub_free (hub);
  if (server) {
    g_assert_cmpint (tv_test_server_stop (server, 10000), ==, 0);
    tv_test_server_free (server);
  }
  return rc;
}
