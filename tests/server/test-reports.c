/* test-reports.c — the operations report: figures, CSV, HTML, API and televisitctl.
 *
 * Why: a report is only useful if its figures are right, so a known synthetic
 * dataset is built through the store's own calls (arrival, admission, media,
 * completion with its billing line, cancel, no-show) at fixed times and the
 * counts, medians (odd and even counts) and billed sums are checked exactly,
 * per day and doctor, per day, per doctor and in total. The CSV is checked
 * for RFC 4180 quoting (a doctor's name with a comma and quotes) and the HTML
 * for its SVG charts and escaped names; the API serves all three to admin and
 * billing (the authorization matrix checks the other roles) with a CSP that
 * allows the page's one style element; televisitctl report prints the same.
 * Thread: main thread only; every case under a watchdog.
 */
#define G_LOG_DOMAIN "test-reports"

#include <string.h>
#include <sys/wait.h>

#include <curl/curl.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "server/tv-report.h"
#include "server/tv-roles.h"
#include "server/tv-store-billing.h"
#include "server/tv-store-reports.h"
#include "server/tv-store-schedule.h"
#include "server/tv-store-waitroom.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"

#define MIN_US ((gint64) 60 * G_USEC_PER_SEC)
/* 2030-01-07T09:00:00Z, a Monday. */
#define DAY1 (G_GINT64_CONSTANT (1894006800) * G_USEC_PER_SEC)
#define DAY2 (DAY1 + 24 * 60 * MIN_US)
/* Synthetic names; the first needs escaping in HTML and quoting in CSV. */
#define DOC_A "Dr. \"Ada\", <Lovelace> & Co"
#define DOC_B "Dr. Bob Synthetic"

typedef struct {
  const char *dir;
  char *doc_a, *doc_b, *patient;
  GPtrArray *consults;   /* ids, in creation order */
} World;

static void
world_free (World *w)
{
  g_free (w->doc_a);
  g_free (w->doc_b);
  g_free (w->patient);
  g_ptr_array_unref (w->consults);
}

/* One consult of @doctor_id starting at @start: @outcome "held" (arrives at
 * start, admitted @wait_min later, connected @conn_min), "cancelled", "no-show"
 * or "scheduled". */
static char *
consult (World *w, TvStore *store, const char *doctor_id, const char *doctor_name, gint64 start, const char *outcome,
         gint64 wait_min, gint64 conn_min)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TvConsult) c = NULL;
  g_autofree char *dt = NULL, *pt = NULL;
  g_assert_true (tv_store_consult_create (store, doctor_name, "Pat Synthetic", start, start + 600 * MIN_US,
                                          start - 24 * 60 * MIN_US, &c, &dt, &pt, &error));
  g_assert_no_error (error);
  g_autofree char *sql = g_strdup_printf ("UPDATE consults SET doctor_id = '%s', patient_id = '%s', scheduled_end = "
                                          "%" G_GINT64_FORMAT " WHERE id = '%s'", doctor_id, w->patient,
                                          start + 30 * MIN_US, c->id);
  tv_test_store_exec (w->dir, sql);
  if (strcmp (outcome, "held") == 0) {
    g_assert_true (tv_store_consult_patient_arrived (store, c->id, start, NULL, &error));
    g_assert_true (tv_store_consult_admitted (store, c->id, start + wait_min * MIN_US, &error));
    gint64 up = start + wait_min * MIN_US + MIN_US / 2;
    g_assert_true (tv_store_consult_media_started (store, c->id, up, &error));
    g_assert_true (tv_store_consult_media_stopped (store, c->id, up + conn_min * MIN_US, &error));
    g_assert_true (tv_store_consult_complete (store, c->id, "ended-by-doctor", up + conn_min * MIN_US + 1, &error));
  } else if (strcmp (outcome, "cancelled") == 0) {
    g_assert_true (tv_store_consult_cancel (store, c->id, "cancelled-by-admin", start - 60 * MIN_US, &error));
  } else if (strcmp (outcome, "no-show") == 0) {
    g_assert_true (tv_store_consult_no_show (store, c->id, start + 20 * MIN_US, &error));
  }
  g_assert_no_error (error);
  g_ptr_array_add (w->consults, g_strdup (c->id));
  return g_strdup (c->id);
}

/* Day 1: A held 3 (waits 1, 3, 8; calls 10, 20, 40 min), 1 cancelled,
 * 1 no-show; B held 2 (waits 2, 5; calls 10, 15). Day 2: A held 1 (wait 4,
 * call 30) and 1 still scheduled. Day 3 empty. Outside the range: one more. */
static void
world_build (World *w, TvStore *store)
{
  w->consults = g_ptr_array_new_with_free_func (g_free);
  const struct { int doc; gint64 start; const char *outcome; gint64 wait, conn; } plan[] = {
    { 0, DAY1, "held", 1, 10 }, { 0, DAY1 + 60 * MIN_US, "held", 8, 40 }, { 0, DAY1 + 120 * MIN_US, "held", 3, 20 },
    { 0, DAY1 + 180 * MIN_US, "cancelled", 0, 0 }, { 0, DAY1 + 240 * MIN_US, "no-show", 0, 0 },
    { 1, DAY1, "held", 2, 10 }, { 1, DAY1 + 60 * MIN_US, "held", 5, 15 },
    { 0, DAY2, "held", 4, 30 }, { 0, DAY2 + 60 * MIN_US, "scheduled", 0, 0 },
    { 1, DAY1 - 24 * 60 * MIN_US, "held", 9, 9 },   /* 2030-01-06: outside */
  };
  for (guint i = 0; i < G_N_ELEMENTS (plan); i++) {
    g_autofree char *id = consult (w, store, plan[i].doc == 0 ? w->doc_a : w->doc_b, plan[i].doc == 0 ? DOC_A : DOC_B,
                                   plan[i].start, plan[i].outcome, plan[i].wait, plan[i].conn);
  }
}

static void
world_setup (World *w)
{
  w->dir = tv_test_tmpdir ();
  w->doc_a = tv_test_create_user (w->dir, "dr.ada", DOC_A, TV_ROLE_DOCTOR, NULL, NULL);
  w->doc_b = tv_test_create_user (w->dir, "dr.bob", DOC_B, TV_ROLE_DOCTOR, NULL, NULL);
  w->patient = tv_test_create_user (w->dir, "pat.synthetic", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  g_autofree char *db = g_build_filename (w->dir, "televisit.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (TvStore) store = tv_store_open (db, &error);
  g_assert_no_error (error);
  world_build (w, store);
}

/* Sum of the fees of @doctor_id's lines (not denied) for consults starting in
 * [@from, @to), straight from the file. */
static gint64
billed_of (World *w, const char *doctor_id, gint64 from, gint64 to)
{
  g_autofree char *sql = g_strdup_printf (
    "SELECT COALESCE(sum(b.fee_cents), 0) FROM billing_lines b JOIN consults c ON c.id = b.consult_id"
    " WHERE b.status <> 'denied' AND c.doctor_id = '%s' AND c.scheduled_start >= %" G_GINT64_FORMAT
    " AND c.scheduled_start < %" G_GINT64_FORMAT, doctor_id, from, to);
  return tv_test_store_int (w->dir, sql);
}

static const TvReportRow *
find_row (GPtrArray *rows, const char *day, const char *doctor_id)
{
  for (guint i = 0; i < rows->len; i++) {
    const TvReportRow *r = g_ptr_array_index (rows, i);
    if (g_strcmp0 (r->day, day) == 0 && g_strcmp0 (r->doctor_id, doctor_id) == 0)
      return r;
  }
  g_error ("no report row for %s / %s", day ? day : "-", doctor_id ? doctor_id : "-");
  return NULL;
}

static void
check_row (const TvReportRow *r, guint consults, guint held, guint cancelled, guint no_show, gint64 wait_s,
           gint64 conn_s, gint64 billed)
{
  g_assert_cmpuint (r->consults, ==, consults);
  g_assert_cmpuint (r->held, ==, held);
  g_assert_cmpuint (r->cancelled, ==, cancelled);
  g_assert_cmpuint (r->no_show, ==, no_show);
  g_assert_cmpint (r->median_wait_us, ==, wait_s < 0 ? -1 : wait_s * G_USEC_PER_SEC);
  g_assert_cmpint (r->median_connected_us, ==, conn_s < 0 ? -1 : conn_s * G_USEC_PER_SEC);
  g_assert_cmpint (r->billed_cents, ==, billed);
}

/* ---- cases --------------------------------------------------------------- */

static void
test_figures (void)
{
  tv_test_watchdog_start (60, "figures");
  World w = { 0 };
  world_setup (&w);
  g_autofree char *db = g_build_filename (w.dir, "televisit.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (TvStore) store = tv_store_open (db, &error);

  /* Deny the line of A's first consult: it no longer counts as billed. */
  g_autoptr (TvBillingLine) line = NULL;
  g_assert_true (tv_store_billing_get_for_consult (store, g_ptr_array_index (w.consults, 0), &line, &error));
  g_assert_no_error (error);
  g_assert_cmpint (line->fee_cents, >, 0);
  g_autofree char *deny = g_strdup_printf ("UPDATE billing_lines SET status = 'denied' WHERE id = '%s'", line->id);
  tv_test_store_exec (w.dir, deny);
  const gint64 d1 = DAY1 - 9 * 60 * MIN_US, d2 = DAY2 - 9 * 60 * MIN_US, d3 = d2 + 24 * 60 * MIN_US;
  gint64 a1 = billed_of (&w, w.doc_a, d1, d2), b1 = billed_of (&w, w.doc_b, d1, d2), a2 = billed_of (&w, w.doc_a, d2, d3);
  g_assert_cmpint (a1, >, 0);
  g_assert_cmpint (b1, >, 0);

  g_autoptr (TvReport) r = tv_store_report_operations (store, "2030-01-07", "2030-01-09", "UTC", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (r->rows->len, ==, 3);
  /* A on day 1: 5 consults; waits 1,3,8 -> 3 min (odd); calls 10,20,40 -> 20 min. */
  check_row (find_row (r->rows, "2030-01-07", w.doc_a), 5, 3, 1, 1, 180, 1200, a1);
  /* B on day 1: waits 2,5 -> 3.5 min (even: mean of the middle two); calls 10,15 -> 12.5. */
  check_row (find_row (r->rows, "2030-01-07", w.doc_b), 2, 2, 0, 0, 210, 750, b1);
  check_row (find_row (r->rows, "2030-01-08", w.doc_a), 2, 1, 0, 0, 240, 1800, a2);
  g_assert_cmpuint (r->by_day->len, ==, 3);   /* the empty 2030-01-09 too */
  /* Day 1 all: waits 1,2,3,5,8 -> 3; calls 10,10,15,20,40 -> 15. */
  check_row (find_row (r->by_day, "2030-01-07", NULL), 7, 5, 1, 1, 180, 900, a1 + b1);
  check_row (find_row (r->by_day, "2030-01-09", NULL), 0, 0, 0, 0, -1, -1, 0);
  g_assert_cmpuint (r->by_doctor->len, ==, 2);
  /* A overall: waits 1,3,4,8 -> 3.5; calls 10,20,30,40 -> 25. */
  check_row (find_row (r->by_doctor, NULL, w.doc_a), 7, 4, 1, 1, 210, 1500, a1 + a2);
  g_assert_cmpstr (find_row (r->by_doctor, NULL, w.doc_a)->doctor, ==, DOC_A);
  /* Total: waits 1,2,3,4,5,8 -> 3.5; calls 10,10,15,20,30,40 -> 17.5. */
  check_row (r->total, 9, 6, 1, 1, 210, 1050, a1 + b1 + a2);
  g_assert_cmpstr (r->total->currency, ==, "USD");

  /* One doctor; another zone moves the day boundary (09:00Z is 01:00 in Los Angeles, same day;
   * Pacific/Kiritimati is UTC+14: day 1's 09:00Z falls on the 7th 23:00, 10:00Z on the 8th). */
  g_autoptr (TvReport) rb = tv_store_report_operations (store, "2030-01-07", "2030-01-07", NULL, w.doc_b, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rb->rows->len, ==, 1);
  check_row (rb->total, 2, 2, 0, 0, 210, 750, b1);
  g_autoptr (TvReport) rk = tv_store_report_operations (store, "2030-01-07", "2030-01-08", "Pacific/Kiritimati",
                                                        w.doc_b, &error);
  g_assert_no_error (error);
  const TvReportRow *k1 = find_row (rk->by_day, "2030-01-07", NULL), *k2 = find_row (rk->by_day, "2030-01-08", NULL);
  check_row (k1, 1, 1, 0, 0, 120, 600, k1->billed_cents);
  check_row (k2, 1, 1, 0, 0, 300, 900, k2->billed_cents);
  g_assert_cmpint (k1->billed_cents + k2->billed_cents, ==, b1);

  /* Bad input: a clear INVALID naming the field. */
  const char *bad[][3] = {
    { "2030-1-07", "2030-01-08", "UTC" }, { "2030-01-07", "2030-02-30", "UTC" }, { "2030-01-08", "2030-01-07", "UTC" },
    { "2030-01-07", "2031-02-07", "UTC" }, { "2030-01-07", "2030-01-08", "Mars/Olympus" },
  };
  const char *names[] = { "from", "to", "before from", "more than 366 days", "tz" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) e = NULL;
    g_assert_null (tv_store_report_operations (store, bad[i][0], bad[i][1], bad[i][2], NULL, &e));
    g_assert_error (e, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
    g_assert_nonnull (strstr (e->message, names[i]));
  }
  world_free (&w);
  tv_test_watchdog_stop ();
}

static void
test_formats (void)
{
  tv_test_watchdog_start (60, "formats");
  World w = { 0 };
  world_setup (&w);
  g_autofree char *db = g_build_filename (w.dir, "televisit.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (TvStore) store = tv_store_open (db, &error);
  g_autoptr (TvReport) r = tv_store_report_operations (store, "2030-01-07", "2030-01-08", "UTC", NULL, &error);
  g_assert_no_error (error);

  g_autofree char *csv = tv_report_to_csv (r);
  g_auto (GStrv) lines = g_strsplit (csv, "\r\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 5);   /* header, 3 rows, "" after the last CRLF */
  g_assert_cmpstr (lines[0], ==, "date,doctor_id,doctor,consults,held,cancelled,no_shows,median_wait_minutes,"
                                 "median_connected_minutes,billed,currency");
  g_autofree char *a1 = g_strdup_printf ("2030-01-07,%s,\"Dr. \"\"Ada\"\", <Lovelace> & Co\",5,3,1,1,3.0,20.0,", w.doc_a);
  g_assert_true (g_str_has_prefix (lines[1], a1));
  g_autofree char *b1 = g_strdup_printf ("2030-01-07,%s,Dr. Bob Synthetic,2,2,0,0,3.5,12.5,", w.doc_b);
  g_assert_true (g_str_has_prefix (lines[2], b1));
  g_assert_cmpstr (lines[4], ==, "");

  g_autofree char *html = tv_report_to_html (r);
  g_assert_true (g_str_has_prefix (html, "<!DOCTYPE html>"));
  g_assert_nonnull (strstr (html, "<svg viewBox="));
  g_assert_nonnull (strstr (html, "role=\"img\""));
  g_assert_nonnull (strstr (html, "<title id=\"days-t\">Consults per day</title>"));
  g_assert_nonnull (strstr (html, "Dr. &quot;Ada&quot;, &lt;Lovelace&gt; &amp; Co"));
  g_assert_null (strstr (html, "<Lovelace>"));
  g_assert_null (strstr (html, "<script"));
  g_assert_null (strstr (html, "Pat Synthetic"));   /* no patient in a report */
  /* A long name is cut in the chart only (the tables keep it whole). */
  TvReportRow *first = g_ptr_array_index (r->by_doctor, 0);
  g_free (first->doctor);
  first->doctor = g_strdup ("Dr. Maximiliane Synthetica-Überlänge von Testhausen");
  g_autofree char *html2 = tv_report_to_html (r);
  g_assert_nonnull (strstr (html2, ">Dr. Maximiliane Synthetica-…</text>"));
  g_assert_nonnull (strstr (html2, ">Dr. Maximiliane Synthetica-Überlänge von Testhausen</td>"));
  /* The page's CSP allows exactly its style element. */
  const char *s0 = strstr (html, "<style>") + strlen ("<style>");
  const char *s1 = strstr (s0, "</style>");
  guint8 digest[32];
  gsize dlen = sizeof digest;
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (sum, (const guchar *) s0, s1 - s0);
  g_checksum_get_digest (sum, digest, &dlen);
  g_autofree char *b64 = g_base64_encode (digest, dlen);
  g_assert_nonnull (strstr (tv_report_html_csp (), b64));
  g_assert_nonnull (strstr (tv_report_html_csp (), "default-src 'none'"));

  g_autoptr (JsonNode) json = tv_report_to_json (r);
  JsonObject *o = json_node_get_object (json);
  JsonObject *t = json_object_get_object_member (o, "total");
  g_assert_cmpint (json_object_get_int_member (t, "held"), ==, 6);
  g_assert_cmpfloat (json_object_get_double_member (t, "median_wait_minutes"), ==, 3.5);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (o, "by_day")), ==, 2);

  /* Units: rounding of minutes and amounts. */
  g_autofree char *m1 = tv_report_format_minutes (89 * G_USEC_PER_SEC);
  g_assert_cmpstr (m1, ==, "1.5");
  g_autofree char *m2 = tv_report_format_minutes (0);
  g_assert_cmpstr (m2, ==, "0.0");
  g_autofree char *m3 = tv_report_format_minutes (-1);
  g_assert_cmpstr (m3, ==, "");
  g_autofree char *c1 = tv_report_format_amount (123405);
  g_assert_cmpstr (c1, ==, "1234.05");
  world_free (&w);
  tv_test_watchdog_stop ();
}

/* ---- over HTTPS and televisitctl ------------------------------------------- */

typedef struct {
  GString *body;
  char *content_type;
  char *csp;
} Fetched;

static size_t
on_body (char *data, size_t size, size_t n, void *user)
{
  g_string_append_len (((Fetched *) user)->body, data, size * n);
  return size * n;
}

static size_t
on_header (char *data, size_t size, size_t n, void *user)
{
  Fetched *f = user;
  g_autofree char *line = g_strstrip (g_strndup (data, size * n));
  if (g_ascii_strncasecmp (line, "content-type:", 13) == 0)
    f->content_type = g_strdup (g_strstrip (line + 13));
  else if (g_ascii_strncasecmp (line, "content-security-policy:", 24) == 0)
    f->csp = g_strdup (g_strstrip (line + 24));
  return size * n;
}

/* GET @path with @token; returns the status and fills @f. */
static long
fetch (TvTestServer *server, const char *path, const char *token, Fetched *f)
{
  CURL *curl = curl_easy_init ();
  g_autofree char *url = g_strdup_printf ("https://127.0.0.1:%u%s", tv_test_server_get_port (server), path);
  g_autofree char *auth = g_strdup_printf ("Authorization: Bearer %s", token);
  struct curl_slist *headers = curl_slist_append (NULL, auth);
  f->body = g_string_new (NULL);
  curl_easy_setopt (curl, CURLOPT_URL, url);
  curl_easy_setopt (curl, CURLOPT_CAINFO, tv_test_server_get_cert_path (server));
  curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt (curl, CURLOPT_WRITEDATA, f);
  curl_easy_setopt (curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt (curl, CURLOPT_HEADERDATA, f);
  curl_easy_setopt (curl, CURLOPT_TIMEOUT, 20L);
  g_assert_cmpint (curl_easy_perform (curl), ==, CURLE_OK);
  long status = 0;
  curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all (headers);
  curl_easy_cleanup (curl);
  return status;
}

static void
fetched_clear (Fetched *f)
{
  if (f->body != NULL)
    g_string_free (f->body, TRUE);
  g_free (f->content_type);
  g_free (f->csp);
  memset (f, 0, sizeof *f);
}

static void
test_api_and_ctl (void)
{
  tv_test_watchdog_start (90, "api");
  World w = { 0 };
  world_setup (&w);
  g_autofree char *admin = tv_test_create_user (w.dir, "admin", "Ada Admin", TV_ROLE_ADMIN, NULL, NULL);
  g_autofree char *bill = tv_test_create_user (w.dir, "bill", "Bill Billing", TV_ROLE_BILLING, NULL, NULL);
  TvTestServer *server = tv_test_server_start (w.dir, NULL);
  g_autofree char *ta = tv_test_login (server, "admin", NULL);
  g_autofree char *tb = tv_test_login (server, "bill", NULL);

  JsonNode *reply = NULL;
  guint status = 0;
  tv_test_http (server, "GET", "/api/v1/reports/operations?from=2030-01-07&to=2030-01-08", ta, NULL, &status, &reply);
  g_assert_cmpuint (status, ==, 200);
  JsonObject *total = tv_test_http_object (reply, "total");
  g_assert_cmpint (json_object_get_int_member (total, "consults"), ==, 9);
  g_assert_cmpint (json_object_get_int_member (total, "no_shows"), ==, 1);
  g_clear_pointer (&reply, json_node_unref);
  g_autofree char *q = g_strdup_printf ("/api/v1/reports/operations?from=2030-01-07&to=2030-01-07&doctor=%s", w.doc_b);
  tv_test_http (server, "GET", q, tb, NULL, &status, &reply);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpint (json_object_get_int_member (tv_test_http_object (reply, "total"), "held"), ==, 2);
  g_clear_pointer (&reply, json_node_unref);
  tv_test_http (server, "GET", "/api/v1/reports/operations?from=2030-13-01", ta, NULL, &status, &reply);
  g_assert_cmpuint (status, ==, 400);
  g_assert_cmpstr (tv_test_http_error_code (reply), ==, "invalid_field");
  g_clear_pointer (&reply, json_node_unref);
  tv_test_http (server, "GET", "/api/v1/reports/operations?tz=Nowhere/Else", ta, NULL, &status, &reply);
  g_assert_cmpuint (status, ==, 400);
  g_clear_pointer (&reply, json_node_unref);
  /* Defaults: the 30 days ending today. */
  tv_test_http (server, "GET", "/api/v1/reports/operations", ta, NULL, &status, &reply);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_node_get_object (reply), "by_day")),
                    ==, 30);
  g_clear_pointer (&reply, json_node_unref);

  Fetched f = { 0 };
  g_assert_cmpint (fetch (server, "/api/v1/reports/operations.csv?from=2030-01-07&to=2030-01-08", tb, &f), ==, 200);
  g_assert_true (g_str_has_prefix (f.content_type, "text/csv"));
  g_assert_true (g_str_has_prefix (f.body->str, "date,doctor_id,doctor,"));
  g_assert_nonnull (strstr (f.body->str, "\"Dr. \"\"Ada\"\", <Lovelace> & Co\""));
  fetched_clear (&f);
  g_assert_cmpint (fetch (server, "/api/v1/reports/operations.html?from=2030-01-07&to=2030-01-08", ta, &f), ==, 200);
  g_assert_true (g_str_has_prefix (f.content_type, "text/html"));
  g_assert_nonnull (strstr (f.body->str, "<svg"));
  g_assert_nonnull (strstr (f.body->str, "&lt;Lovelace&gt;"));
  g_assert_cmpstr (f.csp, ==, tv_report_html_csp ());
  fetched_clear (&f);

  /* Audited: one row per report request (json 4 + csv + html). */
  g_assert_cmpint (tv_test_store_int (w.dir, "SELECT count(*) FROM audit WHERE action = 'reports.operations'"), >=, 6);
  g_assert_cmpint (tv_test_server_stop (server, 10000), ==, 0);
  tv_test_server_free (server);

  /* televisitctl report: same figures. */
  g_autofree char *ctl = g_build_filename (tv_test_build_dir (), "televisitctl", NULL);
  const char *argv_csv[] = { ctl, "--data-dir", w.dir, "report", "--from", "2030-01-07", "--to", "2030-01-08", "--csv",
                             NULL };
  g_autofree char *out = NULL, *err = NULL;
  int st = 0;
  g_assert_true (g_spawn_sync (NULL, (char **) argv_csv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &st, NULL));
  g_assert_true (g_spawn_check_wait_status (st, NULL));
  g_auto (GStrv) lines = g_strsplit (out, "\r\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 5);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  const char *argv_txt[] = { ctl, "--data-dir", w.dir, "report", "--from", "2030-01-07", "--to", "2030-01-08", NULL };
  g_assert_true (g_spawn_sync (NULL, (char **) argv_txt, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &st, NULL));
  g_assert_true (g_spawn_check_wait_status (st, NULL));
  g_assert_nonnull (strstr (out, "PER DOCTOR"));
  g_assert_nonnull (strstr (out, DOC_B));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  const char *argv_bad[] = { ctl, "--data-dir", w.dir, "report", "--from", "2030-01-09", "--to", "2030-01-08", NULL };
  g_assert_true (g_spawn_sync (NULL, (char **) argv_bad, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &st, NULL));
  g_assert_true (WIFEXITED (st) && WEXITSTATUS (st) == 1);
  g_assert_nonnull (strstr (err, "before from"));
  g_assert_cmpint (tv_test_store_int (w.dir, "SELECT count(*) FROM audit WHERE action = 'ctl.report'"), ==, 3);
  world_free (&w);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_test_add_func ("/reports/figures", test_figures);
  g_test_add_func ("/reports/formats", test_formats);
  g_test_add_func ("/reports/api-and-ctl", test_api_and_ctl);
  return g_test_run ();
}
