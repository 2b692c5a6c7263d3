/* test-api-billing.c — the billing HTTPS API against a real server.
 *
 * Why: what billing staff, doctors and patients see goes through the router,
 * the role checks, JSON / CSV / HTML rendering and the audit trail; this
 * checks the outcomes they care about: facts set by the consult's doctor and
 * refused to others (nothing written), the line made when the consult ends,
 * list by date and status, single and bulk status changes (all or nothing,
 * wrong transitions 409), the RFC 4180 export (text/csv, CRLF, quoting, no
 * visit notes), statements only for the patient's own consults (another's is
 * 404 and audited), the HTML statement with every value escaped, and a
 * figure: the time to export 10 000 lines.
 * One server for the whole file, under a watchdog.
 * Thread: main thread only.
 */
#define G_LOG_DOMAIN "test-api-billing"

#include <string.h>

#include <glib.h>

#include "server/tv-store-audit.h"
#include "server/tv-store-billing.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"

#define MIN_US ((gint64) 60 * G_USEC_PER_SEC)

typedef struct {
  const char *dir;
  TvTestServer *server;
  char *doc1, *doc2, *pat1, *pat2, *bill, *admin;     /* user ids */
  char *t_doc1, *t_doc2, *t_pat1, *t_pat2, *t_bill, *t_admin;  /* session tokens */
} World;

static World w;

/* A consult of @doctor_id with @patient_id (display name @patient) that had
 * @minutes of media, started @days_ago days ago, still open. */
static char *
consult_open (const char *doctor_id, const char *patient_id, const char *patient, gint64 minutes, gint64 days_ago)
{
  g_autofree char *id = NULL;
  tv_test_create_consult (w.dir, "Dr. Test Doctor", patient, 3600, &id, NULL, NULL);
  /* One hour apart (a doctor's consults may not overlap), from 01:00 UTC of the day @days_ago days
   * before today: the day is the same whatever the time of the run (tests filter by that UTC date; a
   * start counted back from now fell on the day before shortly after midnight). */
  static gint64 n = 0;
  const gint64 day_us = (gint64) 24 * 3600 * G_USEC_PER_SEC;
  gint64 now = g_get_real_time ();
  gint64 start = now - now % day_us - days_ago * day_us + (gint64) (1 + n++) * 3600 * G_USEC_PER_SEC;
  g_assert_cmpint (n, <, 20);
  g_autofree char *sql = g_strdup_printf ("UPDATE consults SET doctor_id = '%s', patient_id = '%s',"
                                          " status = 'in-progress', started_at = %" G_GINT64_FORMAT ", scheduled_start = %" G_GINT64_FORMAT ", scheduled_end = %" G_GINT64_FORMAT ","
                                          " connected_us = %" G_GINT64_FORMAT " WHERE id = '%s'",
                                          doctor_id, patient_id, start, start, start + 15 * MIN_US, minutes * MIN_US, id);
  tv_test_store_exec (w.dir, sql);
  return g_steal_pointer (&id);
}

static JsonObject *
expect (const char *method, const char *path, const char *token, const char *body, guint want_status,
        JsonNode **keep)
{
  guint status = 0;
  JsonNode *reply = NULL;
  tv_test_http (w.server, method, path, token, body, &status, &reply);
  if (status != want_status)
    g_error ("%s %s: %u, wanted %u", method, path, status, want_status);
  *keep = reply;
  return reply && JSON_NODE_HOLDS_OBJECT (reply) ? json_node_get_object (reply) : NULL;
}

static void
world_setup (void)
{
  w.dir = tv_test_tmpdir ();
  w.doc1 = tv_test_create_user (w.dir, "doc1", "Dr. Test Doctor", TV_ROLE_DOCTOR, "Europe/Paris", NULL);
  w.doc2 = tv_test_create_user (w.dir, "doc2", "Dr. Other Doctor", TV_ROLE_DOCTOR, "Europe/Paris", NULL);
  w.pat1 = tv_test_create_user (w.dir, "pat1", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  w.pat2 = tv_test_create_user (w.dir, "pat2", "Pia Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  w.bill = tv_test_create_user (w.dir, "bill", "Bo Billing", TV_ROLE_BILLING, NULL, NULL);
  w.admin = tv_test_create_user (w.dir, "admin", "Ada Admin", TV_ROLE_ADMIN, NULL, NULL);
  const char *args[] = { "--payment-instructions", "Pay <b>online</b> & \"by phone\": 555-0100", NULL };
  w.server = tv_test_server_start (w.dir, args);
  w.t_doc1 = tv_test_login (w.server, "doc1", NULL);
  w.t_doc2 = tv_test_login (w.server, "doc2", NULL);
  w.t_pat1 = tv_test_login (w.server, "pat1", NULL);
  w.t_pat2 = tv_test_login (w.server, "pat2", NULL);
  w.t_bill = tv_test_login (w.server, "bill", NULL);
  w.t_admin = tv_test_login (w.server, "admin", NULL);
}

static void
test_facts_and_line (void)
{
  g_autofree char *c1 = consult_open (w.doc1, w.pat1, "Pat Synthetic", 21, 1);
  g_autofree char *path = g_strdup_printf ("/api/v1/consults/%s/facts", c1);
  g_autoptr (JsonNode) r = NULL;

  /* Defaults before anything is set. */
  JsonObject *o = expect ("GET", path, w.t_doc1, NULL, 200, &r);
  g_assert_cmpstr (json_object_get_string_member (o, "modality"), ==, "audio-video");
  g_assert_cmpstr (json_object_get_string_member (o, "patient_location"), ==, "home");
  g_assert_cmpstr (json_object_get_string_member (o, "patient_status"), ==, "established");
  g_assert_true (json_object_get_boolean_member (o, "defaults"));

  /* Refusals change nothing: another doctor, a patient, bad values. */
  const char *good = "{\"modality\":\"audio-only\",\"audio_only_reason\":\"no camera\","
                     "\"patient_location\":\"other\",\"patient_status\":\"new\","
                     "\"note\":\"NOTE-MARKER, with \\\"quotes\\\"\\nand a newline\"}";
  g_autoptr (JsonNode) r1 = NULL, r2 = NULL, r3 = NULL, r4 = NULL, r5 = NULL, r6 = NULL;
  expect ("PUT", path, w.t_doc2, good, 403, &r1);
  expect ("PUT", path, w.t_pat1, good, 403, &r2);
  o = expect ("PUT", path, w.t_doc1, "{\"modality\":\"audio-only\"}", 400, &r3);
  g_assert_cmpstr (tv_test_http_error_code (r3), ==, "invalid_field");
  expect ("PUT", path, w.t_doc1, "{\"modality\":\"hologram\"}", 400, &r4);
  expect ("PUT", path, w.t_doc1, "{\"colour\":\"red\"}", 400, &r5);
  expect ("PUT", "/api/v1/consults/00000000-0000-0000-0000-000000000000/facts", w.t_doc1, good, 404, &r6);
  g_autoptr (JsonNode) r7 = NULL;
  o = expect ("GET", path, w.t_doc1, NULL, 200, &r7);
  g_assert_true (json_object_get_boolean_member (o, "defaults"));

  /* The consult's doctor sets them. */
  g_autoptr (JsonNode) r8 = NULL;
  o = expect ("PUT", path, w.t_doc1, good, 200, &r8);
  g_assert_cmpstr (json_object_get_string_member (o, "modality"), ==, "audio-only");
  g_assert_cmpstr (json_object_get_string_member (o, "audio_only_reason"), ==, "no camera");
  g_assert_false (json_object_get_boolean_member (o, "defaults"));

  /* The consult ends (as televisitctl end does): one line, 98009 (new, audio-only, 21 min... 15 <= 21 < 30 -> 98008). */
  tv_test_end_consult (w.dir, c1, "ended-by-admin");
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM billing_lines WHERE consult_id = '%s'"
                                          " AND code = '98008' AND pos = '02' AND minutes = 21", c1);
  g_assert_cmpint (tv_test_store_int (w.dir, sql), ==, 1);
  /* Completed: the modality is final now, the note is not. */
  g_autoptr (JsonNode) r9 = NULL, r10 = NULL;
  expect ("PUT", path, w.t_doc1, "{\"modality\":\"audio-video\"}", 409, &r9);
  g_assert_cmpstr (tv_test_http_error_code (r9), ==, "wrong_state");
  expect ("PUT", path, w.t_doc1, "{\"note\":\"NOTE-MARKER, amended\"}", 200, &r10);

  /* Audited: the facts change names the consult's patient. */
  g_autofree char *asql = g_strdup_printf ("SELECT count(*) FROM audit WHERE action = 'consult.facts.set'"
                                           " AND patient_id = '%s' AND outcome = '2xx'", w.pat1);
  g_assert_cmpint (tv_test_store_int (w.dir, asql), >=, 2);
}

static void
test_too_short (void)
{
  g_autofree char *c = consult_open (w.doc1, w.pat1, "Pat Synthetic", 7, 1);
  g_autofree char *path = g_strdup_printf ("/api/v1/consults/%s/facts", c);
  g_autoptr (JsonNode) r = NULL, r2 = NULL;
  expect ("PUT", path, w.t_doc1, "{\"modality\":\"audio-only\",\"audio_only_reason\":\"phone only\"}", 200, &r);
  tv_test_end_consult (w.dir, c, "ended-by-admin");
  JsonObject *o = expect ("GET", path, w.t_admin, NULL, 200, &r2);
  g_assert_cmpstr (json_object_get_string_member (o, "unbilled_reason"), ==,
                   "connected 7 min, below the 10 min minimum for 98012");
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM billing_lines WHERE consult_id = '%s'", c);
  g_assert_cmpint (tv_test_store_int (w.dir, sql), ==, 0);
}

static char *
line_of (const char *consult_id)
{
  g_autofree char *sql = g_strdup_printf ("SELECT rowid FROM billing_lines WHERE consult_id = '%s'", consult_id);
  gint64 rowid = tv_test_store_int (w.dir, sql);
  g_autoptr (GError) error = NULL;
  g_autofree char *db = g_build_filename (w.dir, "televisit.db", NULL);
  g_autoptr (TvStore) store = tv_store_open (db, &error);
  g_assert_no_error (error);
  g_assert_cmpint (rowid, >, 0);
  g_autoptr (TvBillingLine) l = NULL;
  g_assert_true (tv_store_billing_get_for_consult (store, consult_id, &l, &error));
  return g_strdup (l->id);
}

static void
test_status_list_export (void)
{
  g_autofree char *ca = consult_open (w.doc2, w.pat2, "Doe, \"Jim\"", 35, 3);
  g_autofree char *cb = consult_open (w.doc2, w.pat2, "Pia Synthetic", 12, 3);
  g_autofree char *note = g_strdup_printf ("/api/v1/consults/%s/facts", ca);
  g_autoptr (JsonNode) rn = NULL;
  expect ("PUT", note, w.t_doc2, "{\"note\":\"SECRET-NOTE, \\\"q\\\"\\r\\nx\"}", 200, &rn);
  tv_test_end_consult (w.dir, ca, "ended-by-admin");
  tv_test_end_consult (w.dir, cb, "ended-by-admin");
  g_autofree char *la = line_of (ca), *lb = line_of (cb);

  /* List by status and date range. */
  g_autoptr (JsonNode) r1 = NULL;
  JsonObject *o = expect ("GET", "/api/v1/billing/lines?status=ready", w.t_bill, NULL, 200, &r1);
  g_assert_cmpint (json_object_get_int_member (o, "count"), >=, 2);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GDateTime) d3 = g_date_time_add_days (now, -3);
  g_autofree char *day = g_date_time_format (d3, "%Y-%m-%d");
  g_autofree char *range = g_strdup_printf ("/api/v1/billing/lines?from=%s&to=%s", day, day);
  g_autoptr (JsonNode) r2 = NULL;
  o = expect ("GET", range, w.t_bill, NULL, 200, &r2);
  g_assert_cmpint (json_object_get_int_member (o, "count"), ==, 2);
  g_autoptr (JsonNode) r3 = NULL, r4 = NULL, r5 = NULL;
  expect ("GET", "/api/v1/billing/lines?status=lost", w.t_bill, NULL, 400, &r3);
  expect ("GET", "/api/v1/billing/lines?from=yesterday", w.t_bill, NULL, 400, &r4);
  expect ("GET", "/api/v1/billing/lines", w.t_doc1, NULL, 403, &r5);

  /* One line ready -> paid: 409; bulk with an unknown id: 400 and nothing changes. */
  g_autofree char *one = g_strdup_printf ("/api/v1/billing/lines/%s/status", la);
  g_autoptr (JsonNode) r6 = NULL, r7 = NULL;
  expect ("PUT", one, w.t_bill, "{\"status\":\"paid\"}", 409, &r6);
  g_autofree char *bad_bulk = g_strdup_printf ("{\"status\":\"submitted\",\"ids\":[\"%s\","
                                               "\"00000000-0000-0000-0000-000000000000\"]}", la);
  expect ("POST", "/api/v1/billing/lines/status", w.t_bill, bad_bulk, 400, &r7);
  g_autofree char *still = g_strdup_printf ("SELECT count(*) FROM billing_lines WHERE id IN ('%s','%s')"
                                            " AND status = 'ready'", la, lb);
  g_assert_cmpint (tv_test_store_int (w.dir, still), ==, 2);

  /* Bulk submit, then paid / denied one by one. */
  g_autofree char *bulk = g_strdup_printf ("{\"status\":\"submitted\",\"ids\":[\"%s\",\"%s\"]}", la, lb);
  g_autoptr (JsonNode) r8 = NULL, r9 = NULL, r10 = NULL;
  o = expect ("POST", "/api/v1/billing/lines/status", w.t_bill, bulk, 200, &r8);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (o, "lines")), ==, 2);
  o = expect ("PUT", one, w.t_bill, "{\"status\":\"paid\"}", 200, &r9);
  g_autofree char *two = g_strdup_printf ("/api/v1/billing/lines/%s/status", lb);
  expect ("PUT", two, w.t_admin, "{\"status\":\"denied\"}", 200, &r10);
  g_autofree char *audit = g_strdup_printf ("SELECT count(*) FROM audit WHERE action = 'billing.status'"
                                            " AND resource_id IN ('%s','%s') AND outcome = 'ok'", la, lb);
  g_assert_cmpint (tv_test_store_int (w.dir, audit), ==, 4);

  /* Export: text/csv, CRLF, the awkward name quoted, no note. */
  g_autoptr (TvTestHttp) http = tv_test_http_new (w.server);
  g_autofree char *export = g_strdup_printf ("/api/v1/billing/export?from=%s&to=%s", day, day);
  g_autoptr (JsonNode) raw = NULL;
  guint status = tv_test_http_request (http, "GET", export, w.t_bill, NULL, 0, &raw);
  g_assert_cmpuint (status, ==, 200);
  g_assert_true (g_str_has_prefix (tv_test_http_header (http, "Content-Type"), "text/csv"));
  const char *csv = tv_test_http_body (http);
  g_assert_nonnull (csv);
  g_assert_true (g_str_has_prefix (csv, "line_id,consult_id,service_date,doctor_id,doctor,patient_id,patient,"));
  g_assert_nonnull (strstr (csv, ",\"Doe, \"\"Jim\"\"\","));
  g_assert_null (strstr (csv, "SECRET-NOTE"));
  g_assert_true (g_str_has_suffix (csv, "\r\n"));
  g_assert_nonnull (strstr (csv, ",paid,"));
  g_assert_nonnull (strstr (csv, ",denied,"));
  g_autoptr (JsonNode) r11 = NULL;
  expect ("GET", "/api/v1/billing/export", w.t_pat1, NULL, 403, &r11);
}

static void
test_statements (void)
{
  g_autofree char *c1 = consult_open (w.doc1, w.pat1, "Pat <i>Synthetic</i>", 16, 2);
  g_autofree char *c2 = consult_open (w.doc2, w.pat2, "Pia Synthetic", 16, 2);
  tv_test_end_consult (w.dir, c1, "ended-by-admin");
  tv_test_end_consult (w.dir, c2, "ended-by-admin");
  g_autofree char *l1 = line_of (c1), *l2 = line_of (c2);

  g_autoptr (JsonNode) r1 = NULL;
  JsonObject *o = expect ("GET", "/api/v1/me/statements", w.t_pat1, NULL, 200, &r1);
  JsonArray *list = json_object_get_array_member (o, "statements");
  gboolean found_own = FALSE;
  for (guint i = 0; i < json_array_get_length (list); i++) {
    JsonObject *s = json_array_get_object_element (list, i);
    g_assert_cmpstr (json_object_get_string_member (s, "id"), !=, l2);
    found_own |= g_strcmp0 (json_object_get_string_member (s, "id"), l1) == 0;
  }
  g_assert_true (found_own);

  g_autofree char *own = g_strdup_printf ("/api/v1/me/statements/%s", l1);
  g_autoptr (JsonNode) r2 = NULL;
  o = expect ("GET", own, w.t_pat1, NULL, 200, &r2);
  g_assert_cmpstr (json_object_get_string_member (o, "code"), ==, "98004");
  g_assert_cmpstr (json_object_get_string_member (o, "amount"), ==, "55.00");
  g_assert_cmpstr (json_object_get_string_member (o, "doctor"), ==, "Dr. Test Doctor");
  g_assert_cmpstr (json_object_get_string_member (o, "description"), ==, "Video visit, at least 10 minutes");
  g_assert_cmpstr (json_object_get_string_member (o, "how_to_pay"), ==, "Pay <b>online</b> & \"by phone\": 555-0100");

  /* Another patient's statement: 404 like an unknown one, audited as a 4xx. */
  g_autofree char *other = g_strdup_printf ("/api/v1/me/statements/%s", l2);
  g_autoptr (JsonNode) r3 = NULL, r4 = NULL, r5 = NULL;
  expect ("GET", other, w.t_pat1, NULL, 404, &r3);
  g_autofree char *other_html = g_strdup_printf ("/api/v1/me/statements/%s.html", l2);
  expect ("GET", other_html, w.t_pat1, NULL, 404, &r4);
  expect ("GET", own, w.t_bill, NULL, 403, &r5);
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM audit WHERE action = 'statement.read'"
                                          " AND resource_id LIKE '%s%%' AND user_id = '%s' AND outcome = '4xx'", l2, w.pat1);
  g_assert_cmpint (tv_test_store_int (w.dir, sql), ==, 2);

  /* The printable page: HTML, every value escaped. */
  g_autoptr (TvTestHttp) http = tv_test_http_new (w.server);
  g_autofree char *html_path = g_strdup_printf ("/api/v1/me/statements/%s.html", l1);
  g_autoptr (JsonNode) raw = NULL;
  g_assert_cmpuint (tv_test_http_request (http, "GET", html_path, w.t_pat1, NULL, 0, &raw), ==, 200);
  g_assert_true (g_str_has_prefix (tv_test_http_header (http, "Content-Type"), "text/html"));
  const char *page = tv_test_http_body (http);
  g_assert_nonnull (strstr (page, "Pat &lt;i&gt;Synthetic&lt;/i&gt;"));
  g_assert_nonnull (strstr (page, "Pay &lt;b&gt;online&lt;/b&gt; &amp; &quot;by phone&quot;: 555-0100"));
  g_assert_null (strstr (page, "<i>Synthetic"));
  g_assert_nonnull (strstr (page, "55.00 USD"));
}

/* The "facts" message: the doctor's is stored and confirmed; a patient's is
 * refused (4202, not fatal); bad values are refused by the parser (4006/4003)
 * and change nothing. */
static void
test_facts_message (void)
{
  g_autofree char *id = NULL, *dtok = NULL, *ptok = NULL;
  tv_test_create_consult (w.dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dtok, &ptok);
  TvWsHub *hub = tv_test_hub_new (w.server);
  const char *url = tv_test_server_get_url (w.server);
  TvTestPeer *doctor = tv_test_peer_connect (hub, url);
  TvTestPeer *patient = tv_test_peer_connect (hub, url);
  g_autoptr (JsonObject) dj = tv_test_peer_join (doctor, dtok, "doctor");
  g_autoptr (JsonObject) pj = tv_test_peer_join (patient, ptok, "patient");
  g_autoptr (JsonObject) pw = tv_test_peer_expect (patient, "waiting", 0);
  /* Whatever the doctor is told about the waiting patient: taken until the barrier. */
  tv_test_peer_send (doctor, "{\"type\":\"ping\",\"id\":777}");
  for (;;) {
    g_autoptr (JsonObject) m = tv_test_peer_next (doctor, 10000);
    g_assert_nonnull (m);
    if (g_strcmp0 (tv_test_json_str (m, "type"), "pong") == 0)
      break;
  }

  tv_test_peer_send (patient, "{\"type\":\"facts\",\"modality\":\"audio-video\"}");
  g_autoptr (JsonObject) e1 = tv_test_peer_expect_error_ref (patient, 4202, "facts");
  tv_test_peer_send (doctor, "{\"type\":\"facts\",\"modality\":\"audio-only\"}");
  g_autoptr (JsonObject) e2 = tv_test_peer_expect_error_ref (doctor, 4003, "facts");
  tv_test_peer_send (doctor, "{\"type\":\"facts\",\"patient_location\":\"moon\"}");
  g_autoptr (JsonObject) e3 = tv_test_peer_expect_error_ref (doctor, 4006, "facts");
  tv_test_peer_send (doctor, "{\"type\":\"facts\"}");
  g_autoptr (JsonObject) e4 = tv_test_peer_expect_error_ref (doctor, 4003, "facts");
  g_autofree char *none = g_strdup_printf ("SELECT count(*) FROM consult_facts WHERE consult_id = '%s'", id);
  g_assert_cmpint (tv_test_store_int (w.dir, none), ==, 0);

  tv_test_peer_send (doctor, "{\"type\":\"facts\",\"modality\":\"audio-only\","
                             "\"audio_only_reason\":\"no camera\",\"patient_status\":\"new\"}");
  g_autoptr (JsonObject) saved = tv_test_peer_expect (doctor, "facts-saved", 0);
  g_assert_cmpstr (tv_test_json_str (saved, "modality"), ==, "audio-only");
  g_assert_cmpstr (tv_test_json_str (saved, "audio_only_reason"), ==, "no camera");
  g_assert_cmpstr (tv_test_json_str (saved, "patient_location"), ==, "home");
  g_assert_cmpstr (tv_test_json_str (saved, "patient_status"), ==, "new");
  g_autofree char *one = g_strdup_printf ("SELECT count(*) FROM consult_facts WHERE consult_id = '%s'"
                                          " AND modality = 'audio-only' AND patient_status = 'new'", id);
  g_assert_cmpint (tv_test_store_int (w.dir, one), ==, 1);
  g_autofree char *audit = g_strdup_printf ("SELECT count(*) FROM audit WHERE action = 'consult.facts.set'"
                                            " AND resource_id = '%s' AND outcome = 'ok'", id);
  g_assert_cmpint (tv_test_store_int (w.dir, audit), ==, 1);
  tv_test_peer_free (doctor);
  tv_test_peer_free (patient);
  tv_ws_hub_free (hub);
}

/* A figure for the report: CSV export of 10 000 lines over HTTPS. */
static void
test_export_10k (void)
{
  g_autofree char *c = consult_open (w.doc1, w.pat1, "Pat Synthetic", 16, 400);
  tv_test_end_consult (w.dir, c, "ended-by-admin");
  g_autofree char *sql = g_strdup_printf (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)"
    " INSERT INTO consults (id, doctor, patient, scheduled_start, status, created_at, started_at, ended_at,"
    " connected_us, end_reason, doctor_id, patient_id, scheduled_end)"
    " SELECT printf('%%08x-0000-4000-8000-%%012x', i, i), 'Dr. Test Doctor', 'Pat, \"Bulk\"', 1000000 + i * 1000000000,"
    " 'completed', 1000000, 1000000 + i, 2000000 + i, 900000000, 'ended-by-admin', '%s', '%s', 1000000 + i * 1000000000 + 900000000 FROM n;"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)"
    " INSERT INTO billing_lines (id, consult_id, service_at, scheme, code, modifiers, pos, modality,"
    " patient_status, minutes, fee_cents, currency, description, status, created_at, status_at)"
    " SELECT printf('%%08x-1111-4000-8000-%%012x', i, i), printf('%%08x-0000-4000-8000-%%012x', i, i),"
    " 1000000 + i, 'telemedicine', '98004', '', '10', 'audio-video', 'established', 15, 5500, 'USD',"
    " 'Video visit, at least 10 minutes', 'ready', 2000000, 2000000 FROM n;",
    w.doc1, w.pat1);
  tv_test_store_exec (w.dir, sql);
  g_autoptr (TvTestHttp) http = tv_test_http_new (w.server);
  g_autoptr (JsonNode) raw = NULL;
  gint64 t0 = g_get_monotonic_time ();
  guint status = tv_test_http_request (http, "GET", "/api/v1/billing/export?to=1970-01-02", w.t_bill, NULL, 0, &raw);
  gint64 t1 = g_get_monotonic_time ();
  g_assert_cmpuint (status, ==, 200);
  const char *csv = tv_test_http_body (http);
  guint rows = 0;
  for (const char *p = csv; (p = strstr (p, "\r\n")) != NULL; p += 2)
    rows++;
  g_assert_cmpuint (rows, ==, 10001);
  g_test_message ("figure: CSV export of 10000 lines over HTTPS: %.0f ms, %zu bytes", (t1 - t0) / 1000.0,
                  strlen (csv));
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  tv_test_watchdog_start (120, "test-api-billing");
  world_setup ();
  g_test_add_func ("/api-billing/facts-and-line", test_facts_and_line);
  g_test_add_func ("/api-billing/too-short", test_too_short);
  g_test_add_func ("/api-billing/status-list-export", test_status_list_export);
  g_test_add_func ("/api-billing/statements", test_statements);
  g_test_add_func ("/api-billing/facts-message", test_facts_message);
  g_test_add_func ("/api-billing/export-10k", test_export_10k);
  int rc = g_test_run ();
  tv_test_server_stop (w.server, 10000);
  tv_test_server_free (w.server);
  return rc;
}
