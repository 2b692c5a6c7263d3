/* test-audit-tx.c — a change and the audit row that records it commit in ONE transaction.
 *
 * Why (issue 7 hardening of issue 4's trail): an audit row appended after
 * the change, in a transaction of its own, is lost when the process dies in
 * between (a change nobody can account for), and one appended before it
 * records a change that may never happen. The row is staged
 * (tv_store_audit_stage) and the store appends it inside the change's
 * transaction just before COMMIT. Checked:
 *  - store: a failure injected between the change and its COMMIT
 *    ("fail:audit-staged") leaves neither the consult nor the row; success
 *    leaves both (the row names the new consult), the chain verifies; a row
 *    staged for a change that fails validation is never written, and does
 *    not ride along with a later, unrelated commit;
 *  - server: with TV_STORE_FAULT=audit-before-commit the server dies inside
 *    the booking's transaction (exit 99, no reply): after a restart neither
 *    the booking nor its row exists; without the fault a booking, a cancel
 *    and a user creation each leave exactly one 2xx row, written in the same
 *    transaction (the row's time is not before the change's), the chain verifies.
 * Every case runs under a watchdog; the server is waited on, never slept on.
 * Thread: main thread only.
 */
#define G_LOG_DOMAIN "test-audit-tx"

#include <string.h>

#include <glib.h>
#include <sqlite3.h>

#include "server/tv-store-audit.h"
#include "server/tv-store-schedule.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"


static void
stage (TvStore *store, const char *action)
{
  TvAuditRow row = {
    .user_id = (char *) "u-op", .role = (char *) "operator", .action = (char *) action,
    .resource_type = (char *) "consult", .source = (char *) "local", .outcome = (char *) "ok",
  };
  tv_store_audit_stage (store, &row);
}

static gint64
count (TvStore *store, const char *action)
{
  g_autoptr (GPtrArray) rows = tv_store_audit_list (store, NULL, NULL, 0, 0, 0, NULL);
  g_assert_nonnull (rows);
  gint64 n = 0;
  for (guint i = 0; i < rows->len; i++)
    n += g_strcmp0 (((TvAuditRow *) g_ptr_array_index (rows, i))->action, action) == 0;
  return n;
}

static guint
consult_count (TvStore *store)
{
  g_autoptr (GPtrArray) all = tv_store_consult_list (store, NULL);
  g_assert_nonnull (all);
  return all->len;
}

static gboolean
create (TvStore *store, char **id_out, GError **error)
{
  gint64 now = g_get_real_time ();
  g_autoptr (TvConsult) c = NULL;
  g_autofree char *d = NULL, *p = NULL;
  if (!tv_store_consult_create (store, "Dr. Test Doctor", "Pat Synthetic", now + G_USEC_PER_SEC * (gint64) 3600,
                                now + G_USEC_PER_SEC * (gint64) 7200, now, &c, &d, &p, error))
    return FALSE;
  if (id_out)
    *id_out = g_strdup (c->id);
  return TRUE;
}

/* ---- store ---------------------------------------------------------------- */

static void
test_store_fault_leaves_neither (void)
{
  tv_test_watchdog_start (30, g_test_get_path ());
  const char *dir = tv_test_tmpdir ();
  g_setenv ("TV_STORE_FAULT", "fail:audit-staged", TRUE);
  TvStore *store = tv_test_store_open (dir);
  g_unsetenv ("TV_STORE_FAULT");

  stage (store, "ctl.create");
  g_autoptr (GError) error = NULL;
  g_assert_false (create (store, NULL, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO);
  g_assert_nonnull (strstr (error->message, "audit row"));
  g_assert_false (tv_store_audit_unstage (store, NULL));
  g_assert_cmpuint (consult_count (store), ==, 0);
  g_assert_cmpint (count (store, "ctl.create"), ==, 0);
  tv_store_close (store);
  tv_test_watchdog_stop ();
}

static void
test_store_success_leaves_both (void)
{
  tv_test_watchdog_start (30, g_test_get_path ());
  const char *dir = tv_test_tmpdir ();
  TvStore *store = tv_test_store_open (dir);
  g_autoptr (GError) error = NULL;

  /* A change that fails its checks commits nothing: the row is never written ... */
  stage (store, "ctl.refused");
  gint64 now = g_get_real_time ();
  g_autoptr (TvConsult) bad = NULL;
  g_autofree char *bd = NULL, *bp = NULL;
  g_assert_false (tv_store_consult_create (store, "", "Pat Synthetic", now, now + 1, now, &bad, &bd, &bp, &error));
  g_clear_error (&error);
  g_assert_false (tv_store_audit_unstage (store, NULL));
  /* ... and does not ride along with the next, unrelated change. */
  g_assert_true (create (store, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count (store, "ctl.refused"), ==, 0);

  /* Success: the consult and its row, the row naming the new consult. */
  stage (store, "ctl.create");
  g_autofree char *id = NULL;
  g_assert_true (create (store, &id, &error));
  g_assert_no_error (error);
  gint64 seq = 0;
  g_assert_true (tv_store_audit_unstage (store, &seq));
  g_assert_cmpint (seq, >, 0);
  g_autoptr (GPtrArray) rows = tv_store_audit_list (store, "u-op", NULL, 0, 0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rows->len, ==, 1);
  const TvAuditRow *r = g_ptr_array_index (rows, 0);
  g_assert_cmpint (r->seq, ==, seq);
  g_assert_cmpstr (r->action, ==, "ctl.create");
  g_assert_cmpstr (r->resource_id, ==, id);
  g_assert_cmpuint (consult_count (store), ==, 2);
  /* Unstaged: the next commit carries nothing. */
  g_assert_true (create (store, NULL, &error));
  gint64 n = tv_test_assert_audit_chain (store);
  g_assert_cmpint (n, ==, 1);
  tv_store_close (store);
  tv_test_watchdog_stop ();
}

/* ---- server ----------------------------------------------------------------- */

static char *
day_after_tomorrow_at (int hour)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GDateTime) d = g_date_time_add_days (now, 2);
  return g_strdup_printf ("%04d-%02d-%02dT%02d:00:00Z", g_date_time_get_year (d), g_date_time_get_month (d),
                          g_date_time_get_day_of_month (d), hour);
}

static gint64
rows_for (TvStore *store, const char *action, const char *outcome, const char *resource_id)
{
  g_autoptr (GPtrArray) rows = tv_store_audit_list (store, NULL, NULL, 0, 0, 0, NULL);
  g_assert_nonnull (rows);
  gint64 n = 0;
  for (guint i = 0; i < rows->len; i++) {
    const TvAuditRow *r = g_ptr_array_index (rows, i);
    n += g_strcmp0 (r->action, action) == 0 && g_strcmp0 (r->outcome, outcome) == 0
         && (resource_id == NULL || g_strcmp0 (r->resource_id, resource_id) == 0);
  }
  return n;
}

static void
test_server_crash_inside_booking (void)
{
  tv_test_watchdog_start (90, g_test_get_path ());
  const char *dir = tv_test_tmpdir ();
  g_autofree char *doc = tv_test_create_user (dir, "dr.tx", "Dr. Test Doctor", TV_ROLE_DOCTOR, "UTC", NULL);
  g_autofree char *pat = tv_test_create_user (dir, "pat.tx", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  g_autofree char *adm = tv_test_create_user (dir, "ada.tx", "Ada Admin", TV_ROLE_ADMIN, NULL, NULL);
  guint status = 0;

  /* The doctor's hours first, on a server without the fault. */
  TvTestServer *server = tv_test_server_start (dir, NULL);
  tv_test_open_all_day (server, "dr.tx", doc);
  g_assert_cmpint (tv_test_server_stop (server, 10000), ==, 0);
  tv_test_server_free (server);

  /* The fault: the server dies after the booking's change and its audit
   * row, before COMMIT. */
  g_autofree char *start = day_after_tomorrow_at (9);
  g_autofree char *book = g_strdup_printf ("{\"doctor_id\":\"%s\",\"patient_id\":\"%s\",\"start\":\"%s\"}", doc,
                                           pat, start);
  g_setenv ("TV_STORE_FAULT", "audit-before-commit", TRUE);
  server = tv_test_server_start (dir, NULL);
  g_unsetenv ("TV_STORE_FAULT");
  g_autofree char *t_pat = tv_test_login (server, "pat.tx", NULL);   /* logins stage nothing */
  {
    g_autoptr (TvTestHttp) http = tv_test_http_new (server);
    tv_test_http_set_tolerate_transport_errors (http, TRUE);
    status = tv_test_http_request (http, "POST", "/api/v1/consults", t_pat, book, -1, NULL);
    g_assert_cmpuint (status, ==, 0);   /* no reply: the process died */
  }
  g_assert_cmpint (tv_test_server_stop (server, 10000), ==, 99);
  tv_test_server_free (server);
  {
    g_autoptr (TvStore) store = tv_test_store_open (dir);
    g_assert_cmpuint (consult_count (store), ==, 0);
    g_assert_cmpint (rows_for (store, "POST /api/v1/consults", "2xx", NULL), ==, 0);
    tv_test_assert_audit_chain (store);
  }

  /* Without the fault: each change leaves its one row. */
  server = tv_test_server_start (dir, NULL);
  g_free (t_pat);
  t_pat = tv_test_login (server, "pat.tx", NULL);
  g_autoptr (JsonNode) booked = NULL;
  tv_test_http (server, "POST", "/api/v1/consults", t_pat, book, &status, &booked);
  g_assert_cmpuint (status, ==, 201);
  g_autofree char *cid = g_strdup (tv_test_json_str (tv_test_http_object (booked, "consult"), "id"));
  g_autofree char *cancel = g_strdup_printf ("/api/v1/consults/%s/cancel", cid);
  tv_test_http (server, "POST", cancel, t_pat, "{}", &status, NULL);
  g_assert_cmpuint (status, ==, 200);
  /* A refused change (cancelled twice) leaves its 4xx row and nothing else. */
  tv_test_http (server, "POST", cancel, t_pat, "{}", &status, NULL);
  g_assert_cmpuint (status / 100, ==, 4);
  g_autofree char *t_adm = tv_test_login (server, "ada.tx", NULL);
  tv_test_http (server, "POST", "/api/v1/users", t_adm,
                "{\"username\":\"pat.two\",\"display_name\":\"Pat Second\",\"roles\":[\"patient\"],"
                "\"password\":\"a-long-enough-password-1\"}", &status, NULL);
  g_assert_cmpuint (status, ==, 201);
  g_assert_cmpint (tv_test_server_stop (server, 10000), ==, 0);
  tv_test_server_free (server);

  g_autoptr (TvStore) store = tv_test_store_open (dir);
  g_assert_cmpint (rows_for (store, "POST /api/v1/consults", "2xx", cid), ==, 1);
  g_assert_cmpint (rows_for (store, "POST /api/v1/consults/{id}/cancel", "2xx", cid), ==, 1);
  g_assert_cmpint (rows_for (store, "POST /api/v1/consults/{id}/cancel", "4xx", cid), ==, 1);
  g_assert_cmpint (rows_for (store, "POST /api/v1/users", "2xx", NULL), ==, 1);
  /* The booking's row names its patient (filled in by the store) and was
   * written in the change's transaction: not before the consult's creation. */
  g_autoptr (GPtrArray) rows = tv_store_audit_list (store, NULL, pat, 0, 0, 0, NULL);
  g_autoptr (TvConsult) c = NULL;
  g_assert_true (tv_store_consult_get (store, cid, &c, NULL));
  gboolean seen = FALSE;
  for (guint i = 0; i < rows->len; i++) {
    const TvAuditRow *r = g_ptr_array_index (rows, i);
    if (g_strcmp0 (r->action, "POST /api/v1/consults") == 0) {
      seen = TRUE;
      g_assert_cmpint (r->at, >=, c->created_at);
      g_assert_cmpstr (r->detail, ==, "committed with the change");
    }
  }
  g_assert_true (seen);
  gint64 n = tv_test_assert_audit_chain (store);
  g_test_message ("%" G_GINT64_FORMAT " audit rows, chain intact", n);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_test_add_func ("/audit-tx/store/fault-leaves-neither", test_store_fault_leaves_neither);
  g_test_add_func ("/audit-tx/store/success-leaves-both", test_store_success_leaves_both);
  g_test_add_func ("/audit-tx/server/crash-inside-booking", test_server_crash_inside_booking);
  return g_test_run ();
}
