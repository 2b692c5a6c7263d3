/* test-audit.c — the audit trail: hash chain, tamper detection, hooks, queries.
 *
 * Why: an audit trail is only worth something if editing or deleting a row in
 * the database file is found (the test does what an attacker with file access
 * would: drop the append-only triggers, then UPDATE/DELETE), and if the real
 * server actually writes the rows (login ok/failure/logout, a booking, a
 * consult join, a refused 403) without names or tokens in them.
 * Store cases run on a fresh file each; the server cases share one server.
 * Every case runs under a watchdog; the server is waited on, never slept on.
 * Thread: main thread only.
 */
#define G_LOG_DOMAIN "test-audit"

#include <string.h>

#include <glib.h>
#include <sqlite3.h>

#include "server/tv-store-audit.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"

#define ALL_DAY TV_TEST_ALL_DAY_HOURS

/* ---- helpers ------------------------------------------------------------- */

static TvStore *
fresh_store (char **dir_out)
{
  const char *dir = tv_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "televisit.db", NULL);
  g_autoptr (GError) error = NULL;
  TvStore *store = tv_store_open (path, &error);
  g_assert_no_error (error);
  *dir_out = g_strdup (dir);
  return store;
}

static void
append (TvStore *store, gint64 at, const char *user, const char *action, const char *patient)
{
  TvAuditRow row = {
    .at = at, .user_id = (char *) user, .role = (char *) "doctor", .action = (char *) action,
    .resource_type = (char *) "consult", .resource_id = (char *) "c-1", .patient_id = (char *) patient,
    .source = (char *) "127.0.0.1", .outcome = (char *) "ok",
  };
  g_autoptr (GError) error = NULL;
  gint64 seq = 0;
  g_assert_true (tv_store_audit_append (store, &row, &seq, &error));
  g_assert_no_error (error);
  g_assert_cmpint (seq, >, 0);
}

static void
expect_verify (TvStore *store, gint64 rows, gint64 broken)
{
  gint64 n = -1, b = -1;
  g_autofree char *reason = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_true (tv_store_audit_verify (store, &n, &b, &reason, &error));
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, rows);
  g_assert_cmpint (b, ==, broken);
  g_assert_true ((broken == 0) == (reason == NULL));
}

/* Runs SQL on the file as a separate connection would; returns sqlite3's code. */
static int
raw_sql (const char *dir, const char *sql)
{
  g_autofree char *path = g_build_filename (dir, "televisit.db", NULL);
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  int rc = sqlite3_exec (db, sql, NULL, NULL, NULL);
  sqlite3_close (db);
  return rc;
}

/* Runs televisitctl with @args; returns its exit status, *@out its stdout. */
static int
ctl (const char *dir, const char *const *args, char **out)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (argv, g_build_filename (tv_test_build_dir (), "televisitctl", NULL));
  g_ptr_array_add (argv, g_strdup ("--data-dir"));
  g_ptr_array_add (argv, g_strdup (dir));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *err = NULL;
  int status = 0;
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, out, &err, &status,
                               &error));
  g_assert_no_error (error);
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

/* ---- store cases -------------------------------------------------------- */

static void
test_chain (void)
{
  tv_test_watchdog_start (30, g_test_get_path ());
  g_autofree char *dir = NULL;
  g_autoptr (TvStore) store = fresh_store (&dir);
  expect_verify (store, 0, 0);
  gint64 t0 = g_get_real_time ();
  for (int i = 0; i < 12; i++)
    append (store, t0 + i, i % 2 ? "u-1" : "u-2", i % 3 ? "consult.join" : "login", i % 4 ? "p-1" : "");
  tv_store_audit_add (store, "u-3", "admin", "audit.query", "audit", NULL, NULL, "::1", "2xx", "http 200");
  tv_store_audit_add_local (store, "ctl.show", "consult", "c-9", "p-2", "ok", NULL);
  expect_verify (store, 14, 0);

  /* Bad rows are refused and leave nothing behind. */
  TvAuditRow bad = { .at = t0, .action = (char *) "" };
  g_autoptr (GError) error = NULL;
  g_assert_false (tv_store_audit_append (store, &bad, NULL, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
  g_clear_error (&error);
  g_autofree char *big = g_strnfill (TV_STORE_AUDIT_MAX_FIELD + 1, 'x');
  TvAuditRow bad2 = { .at = t0, .action = (char *) "login", .detail = big };
  g_assert_false (tv_store_audit_append (store, &bad2, NULL, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
  g_clear_error (&error);
  expect_verify (store, 14, 0);

  /* Append-only: the triggers refuse UPDATE and DELETE from any connection. */
  g_assert_cmpint (raw_sql (dir, "UPDATE audit SET outcome = 'refused' WHERE seq = 7"), ==, SQLITE_CONSTRAINT);
  g_assert_cmpint (raw_sql (dir, "DELETE FROM audit WHERE seq = 7"), ==, SQLITE_CONSTRAINT);
  expect_verify (store, 14, 0);

  /* An attacker with the file drops the trigger and edits one field of row 7. */
  g_assert_cmpint (raw_sql (dir, "DROP TRIGGER audit_no_update;"
                                 "UPDATE audit SET user_id = 'u-9' WHERE seq = 7"), ==, SQLITE_OK);
  expect_verify (store, 14, 7);
  /* Forging the edited row's stored hash as well still breaks at that row. */
  g_autoptr (GPtrArray) rows = tv_store_audit_list (store, NULL, NULL, 0, 0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rows->len, ==, 14);
  g_assert_cmpstr (((TvAuditRow *) g_ptr_array_index (rows, 0))->prev_hash, ==, TV_STORE_AUDIT_GENESIS);
  g_assert_cmpint (raw_sql (dir, "UPDATE audit SET hash = '1111111111111111111111111111111111111111111111111111111111111111'"
                                 " WHERE seq = 7"), ==, SQLITE_OK);
  expect_verify (store, 14, 7);
  tv_test_watchdog_stop ();
}

static void
test_delete (void)
{
  tv_test_watchdog_start (30, g_test_get_path ());
  g_autofree char *dir = NULL;
  g_autoptr (TvStore) store = fresh_store (&dir);
  gint64 t0 = g_get_real_time ();
  for (int i = 0; i < 8; i++)
    append (store, t0 + i, "u-1", "login", NULL);
  expect_verify (store, 8, 0);
  g_assert_cmpint (raw_sql (dir, "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 4"), ==, SQLITE_OK);
  expect_verify (store, 7, 5);

  /* televisitctl agrees: exit 4 naming the row. */
  g_autofree char *out = NULL;
  const char *verify[] = { "audit", "verify", NULL };
  g_assert_cmpint (ctl (dir, verify, &out), ==, 4);
  g_assert_true (g_str_has_prefix (out, "broken at row 5: "));
  tv_test_watchdog_stop ();
}

static void
test_filters (void)
{
  tv_test_watchdog_start (30, g_test_get_path ());
  g_autofree char *dir = NULL;
  g_autoptr (TvStore) store = fresh_store (&dir);
  gint64 day = (gint64) 86400 * G_USEC_PER_SEC;
  gint64 t0 = (gint64) 1893456000 * G_USEC_PER_SEC;   /* 2030-01-01T00:00:00Z */
  append (store, t0, "u-1", "login", NULL);
  append (store, t0 + day, "u-1", "consult.join", "p-1");
  append (store, t0 + 2 * day, "u-2", "consult.join", "p-1");
  append (store, t0 + 3 * day, "u-2", "consult.join", "p-2");
  g_autoptr (GError) error = NULL;
  struct { const char *user, *patient; gint64 from, to; guint want; } cases[] = {
    { NULL, NULL, 0, 0, 4 },
    { "u-1", NULL, 0, 0, 2 },
    { NULL, "p-1", 0, 0, 2 },
    { "u-2", "p-1", 0, 0, 1 },
    { NULL, NULL, t0 + day, 0, 3 },
    { NULL, NULL, 0, t0 + day, 1 },
    { NULL, NULL, t0 + day, t0 + 3 * day, 2 },
    { "nobody", NULL, 0, 0, 0 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GPtrArray) rows = tv_store_audit_list (store, cases[i].user, cases[i].patient, cases[i].from,
                                                      cases[i].to, 0, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (rows->len, ==, cases[i].want);
  }

  /* The same through televisitctl (its list is audited: one more row after). */
  g_autofree char *out = NULL;
  const char *list[] = { "audit", "list", "--patient", "p-1", "--from", "2030-01-02T00:00:00Z", "--to",
                         "2030-01-03T00:00:00Z", "--json", NULL };
  g_assert_cmpint (ctl (dir, list, &out), ==, 0);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, out, -1, NULL));
  JsonArray *arr = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "rows");
  g_assert_cmpuint (json_array_get_length (arr), ==, 1);
  JsonObject *r = json_array_get_object_element (arr, 0);
  g_assert_cmpstr (tv_test_json_str (r, "user_id"), ==, "u-1");
  g_assert_cmpstr (tv_test_json_str (r, "at"), ==, "2030-01-02T00:00:00.000000Z");
  g_autofree char *vout = NULL;
  const char *verify[] = { "audit", "verify", NULL };
  g_assert_cmpint (ctl (dir, verify, &vout), ==, 0);
  g_assert_cmpstr (vout, ==, "5 rows, chain intact\n");
  const char *bad[] = { "audit", "list", "--from", "yesterday", NULL };
  g_autofree char *bout = NULL;
  g_assert_cmpint (ctl (dir, bad, &bout), ==, 1);
  tv_test_watchdog_stop ();
}

static void
child_exited (GPid pid, gint status, gpointer data)
{
  guint *left = data;
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  g_spawn_close_pid (pid);
  (*left)--;
}

static gboolean
none_left (gpointer data)
{
  return *(guint *) data == 0;
}

/* Several televisitctl processes append while this process does: the chain
 * stays one line (each append reads the last hash under BEGIN IMMEDIATE). */
static void
test_concurrent (void)
{
  tv_test_watchdog_start (60, g_test_get_path ());
  g_autofree char *dir = NULL;
  g_autoptr (TvStore) store = fresh_store (&dir);
  g_autofree char *ctl_path = g_build_filename (tv_test_build_dir (), "televisitctl", NULL);
  guint left = 6;
  for (guint i = 0; i < 6; i++) {
    const char *argv[] = { ctl_path, "--data-dir", dir, "audit", "list", "--user", "nobody", NULL };
    GPid pid = 0;
    g_autoptr (GError) error = NULL;
    g_assert_true (g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                                  NULL, NULL, &pid, &error));
    g_assert_no_error (error);
    g_child_watch_add (pid, child_exited, &left);
  }
  gint64 t0 = g_get_real_time ();
  for (int i = 0; i < 30; i++)
    append (store, t0 + i, "u-1", "consult.join", "p-1");
  g_assert_true (tv_test_wait_until (none_left, &left, 30000));
  expect_verify (store, 36, 0);

  /* A televisitctl change of patient data leaves its row too. */
  g_autofree char *out = NULL;
  const char *add[] = { "user", "add", "--username", "pat.concurrent", "--name", "Pat Synthetic", "--role",
                        "patient", NULL };
  g_assert_cmpint (ctl (dir, add, &out), ==, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = tv_store_audit_list (store, NULL, NULL, 0, 0, 0, &error);
  g_assert_no_error (error);
  const TvAuditRow *last = g_ptr_array_index (rows, rows->len - 1);
  g_assert_cmpstr (last->action, ==, "ctl.user-add");
  g_assert_cmpstr (last->role, ==, "operator");
  g_assert_cmpstr (last->source, ==, "local");
  g_assert_cmpstr (last->patient_id, ==, last->resource_id);
  g_assert_cmpuint (strlen (last->patient_id), ==, 36);
  expect_verify (store, 37, 0);
  tv_test_watchdog_stop ();
}

/* ---- through the real server ------------------------------------------- */

/* Rows of the server's store matching @action and @user (NULL = any). */
static guint
count_rows (const char *dir, const char *action, const char *user, const char *outcome, const char *patient)
{
  g_autofree char *path = g_build_filename (dir, "televisit.db", NULL);
  g_autoptr (TvStore) store = tv_store_open (path, NULL);
  g_assert_nonnull (store);
  g_autoptr (GPtrArray) rows = tv_store_audit_list (store, user, patient, 0, 0, 0, NULL);
  g_assert_nonnull (rows);
  guint n = 0;
  for (guint i = 0; i < rows->len; i++) {
    const TvAuditRow *r = g_ptr_array_index (rows, i);
    if (g_strcmp0 (r->action, action) == 0 && (outcome == NULL || g_strcmp0 (r->outcome, outcome) == 0))
      n++;
  }
  return n;
}

static void
test_server (void)
{
  tv_test_watchdog_start (90, g_test_get_path ());
  const char *dir = tv_test_tmpdir ();
  g_autofree char *admin = tv_test_create_user (dir, "ada.admin", "Ada Admin", TV_ROLE_ADMIN, NULL, NULL);
  g_autofree char *doc = tv_test_create_user (dir, "dr.audit", "Dr. Test Doctor", TV_ROLE_DOCTOR, "UTC", NULL);
  g_autofree char *pat = tv_test_create_user (dir, "pat.audit", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  TvTestServer *server = tv_test_server_start (dir, NULL);
  guint status = 0;

  /* Login failure, login, logout. */
  g_autofree char *body = g_strdup ("{\"username\":\"pat.audit\",\"password\":\"wrong-password-1\"}");
  tv_test_http (server, "POST", "/api/v1/login", NULL, body, &status, NULL);
  g_assert_cmpuint (status, ==, 401);
  g_autofree char *t_pat0 = tv_test_login (server, "pat.audit", NULL);
  tv_test_http (server, "POST", "/api/v1/logout", t_pat0, NULL, &status, NULL);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpuint (count_rows (dir, "login", pat, "4xx", NULL), ==, 1);
  g_assert_cmpuint (count_rows (dir, "login", pat, "2xx", NULL), ==, 1);
  g_assert_cmpuint (count_rows (dir, "logout", pat, "2xx", NULL), ==, 1);

  /* A booking by the patient, then the patient joins the consult. */
  g_autofree char *t_doc = tv_test_login (server, "dr.audit", NULL);
  g_autofree char *t_pat = tv_test_login (server, "pat.audit", NULL);
  g_autofree char *t_admin = tv_test_login (server, "ada.admin", NULL);
  g_autofree char *avail = g_strdup_printf ("/api/v1/doctors/%s/availability", doc);
  tv_test_http (server, "PUT", avail, t_doc, ALL_DAY, &status, NULL);
  g_assert_cmpuint (status, ==, 200);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GDateTime) tomorrow = g_date_time_add_days (now, 2);
  g_autofree char *start = g_strdup_printf ("%04d-%02d-%02dT09:00:00Z", g_date_time_get_year (tomorrow),
                                            g_date_time_get_month (tomorrow),
                                            g_date_time_get_day_of_month (tomorrow));
  g_autofree char *book = g_strdup_printf ("{\"doctor_id\":\"%s\",\"start\":\"%s\"}", doc, start);
  g_autoptr (JsonNode) booked = NULL;
  tv_test_http (server, "POST", "/api/v1/consults", t_pat, book, &status, &booked);
  g_assert_cmpuint (status, ==, 201);
  const char *cid = tv_test_json_str (tv_test_http_object (booked, "consult"), "id");
  const char *link = tv_test_json_str (json_node_get_object (booked), "join_link");
  g_assert_nonnull (cid);
  g_assert_nonnull (strstr (link, "#token="));
  const char *ptok = strstr (link, "#token=") + strlen ("#token=");
  g_assert_cmpuint (count_rows (dir, "POST /api/v1/consults", pat, "2xx", pat), ==, 1);
  /* A doctor reading the consult: the row names the patient it concerns. */
  g_autofree char *cpath = g_strdup_printf ("/api/v1/consults/%s", cid);
  tv_test_http (server, "GET", cpath, t_doc, NULL, &status, NULL);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpuint (count_rows (dir, "GET /api/v1/consults/{id}", doc, "2xx", pat), ==, 1);

  TvWsHub *hub = tv_test_hub_new (server);
  g_autoptr (TvTestPeer) peer = tv_test_peer_connect (hub, tv_test_server_get_url (server));
  g_autoptr (JsonObject) joined = tv_test_peer_join (peer, ptok, "patient");
  g_autoptr (TvTestPeer) intruder = tv_test_peer_connect (hub, tv_test_server_get_url (server));
  tv_test_peer_send (intruder, "{\"type\":\"join\",\"token\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}");
  g_autoptr (JsonObject) refused = tv_test_peer_expect (intruder, "error", 0);
  g_autoptr (JsonObject) waiting = tv_test_peer_expect (peer, "waiting", 0);
  /* The refusal's row is written before the error is sent. */
  g_assert_true (tv_test_peer_wait_closed (intruder, 5000));
  g_assert_cmpuint (count_rows (dir, "consult.join", pat, "ok", pat), ==, 1);
  g_assert_cmpuint (count_rows (dir, "consult.join", "", "refused", NULL), ==, 1);

  /* The admin's query (filters work) and a non-admin's 403, both audited. */
  g_autofree char *q = g_strdup_printf ("/api/v1/audit?user_id=%s&patient_id=%s", pat, pat);
  g_autoptr (JsonNode) list = NULL;
  tv_test_http (server, "GET", q, t_admin, NULL, &status, &list);
  g_assert_cmpuint (status, ==, 200);
  JsonArray *rows = json_object_get_array_member (json_node_get_object (list), "rows");
  g_assert_cmpuint (json_array_get_length (rows), >=, 2);
  for (guint i = 0; i < json_array_get_length (rows); i++) {
    JsonObject *r = json_array_get_object_element (rows, i);
    g_assert_cmpstr (tv_test_json_str (r, "user_id"), ==, pat);
    g_assert_cmpstr (tv_test_json_str (r, "patient_id"), ==, pat);
  }
  g_autoptr (JsonNode) bad = NULL;
  tv_test_http (server, "GET", "/api/v1/audit?from=yesterday", t_admin, NULL, &status, &bad);
  g_assert_cmpuint (status, ==, 400);
  tv_test_http (server, "GET", "/api/v1/audit", t_doc, NULL, &status, NULL);
  g_assert_cmpuint (status, ==, 403);
  g_assert_cmpuint (count_rows (dir, "audit.query", admin, "2xx", pat), ==, 1);
  g_assert_cmpuint (count_rows (dir, "GET /api/v1/audit", doc, "4xx", NULL), ==, 1);

  /* No names, usernames or tokens anywhere in the trail. */
  g_autofree char *path = g_build_filename (dir, "televisit.db", NULL);
  {
    g_autoptr (TvStore) store = tv_store_open (path, NULL);
    g_autoptr (GPtrArray) all = tv_store_audit_list (store, NULL, NULL, 0, 0, 0, NULL);
    for (guint i = 0; i < all->len; i++) {
      g_autoptr (JsonNode) n = tv_audit_row_to_json (g_ptr_array_index (all, i));
      g_autofree char *text = json_to_string (n, FALSE);
      g_assert_null (strstr (text, "Synthetic"));
      g_assert_null (strstr (text, "Dr. Test"));
      g_assert_null (strstr (text, "pat.audit"));
      g_assert_null (strstr (text, ptok));
      g_assert_null (strstr (text, t_pat));
    }
    expect_verify (store, all->len, 0);
  }
  tv_test_peer_close (peer);
  g_assert_cmpint (tv_test_server_stop (server, 10000), ==, 0);
  tv_test_server_free (server);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_test_add_func ("/audit/chain", test_chain);
  g_test_add_func ("/audit/delete", test_delete);
  g_test_add_func ("/audit/filters", test_filters);
  g_test_add_func ("/audit/concurrent", test_concurrent);
  g_test_add_func ("/audit/server", test_server);
  return g_test_run ();
}
