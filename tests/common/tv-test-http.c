/* tv-test-http.c — HTTPS client (libcurl) and account helpers for tests (see tv-test-http.h).
 *
 * Why: blocking libcurl calls run in a worker thread so the test thread can
 * keep iterating its main context (an in-process server, a scripted peer) and
 * wait on the result with tv_test_wait_until — a timeout, never a sleep.
 * Thread: the test's main thread (curl itself runs on a short-lived worker).
 */
#define G_LOG_DOMAIN "tv-test"

#include "tests/common/tv-test-http.h"
#include "server/tv-password.h"
#include "server/tv-store-users.h"

#include <string.h>
#include <curl/curl.h>
#include <sqlite3.h>

struct _TvTestHttp {
  CURL *curl;
  char *base;             /* https://127.0.0.1:PORT */
  char *ca;
  GHashTable *headers;    /* lower-case name -> value, last request */
  glong new_connections;
  gboolean tolerate;      /* transport errors return 0 instead of failing */
  char *last_body;        /* the last reply's body as text (any content type) */
  char *cookie;           /* sent as the Cookie header (tv_test_http_set_cookie), or NULL */
};

typedef struct {
  TvTestHttp *client;
  GByteArray *body;
  CURLcode rc;
  char errbuf[CURL_ERROR_SIZE];
  gint done;
} Job;

static void
global_init (void)
{
  static gsize once;
  if (g_once_init_enter (&once)) {
    curl_global_init (CURL_GLOBAL_DEFAULT);
    g_once_init_leave (&once, 1);
  }
}

static size_t
on_body (char *data, size_t size, size_t n, void *user)
{
  g_byte_array_append (((Job *) user)->body, (const guint8 *) data, (guint) (size * n));
  return size * n;
}

static size_t
on_header (char *data, size_t size, size_t n, void *user)
{
  TvTestHttp *c = ((Job *) user)->client;
  gsize len = size * n;
  g_autofree char *line = g_strndup (data, len);
  char *colon = strchr (line, ':');
  if (colon != NULL) {
    *colon = '\0';
    g_autofree char *name = g_ascii_strdown (g_strstrip (line), -1);
    g_hash_table_replace (c->headers, g_steal_pointer (&name), g_strdup (g_strstrip (colon + 1)));
  }
  return len;
}

static gpointer
run_job (gpointer data)
{
  Job *job = data;
  job->rc = curl_easy_perform (job->client->curl);
  g_atomic_int_set (&job->done, 1);
  g_main_context_wakeup (NULL);
  return NULL;
}

static gboolean
job_done (gpointer data)
{
  return g_atomic_int_get (&((Job *) data)->done) != 0;
}

TvTestHttp *
tv_test_http_new (TvTestServer *server)
{
  global_init ();
  TvTestHttp *c = g_new0 (TvTestHttp, 1);
  c->curl = curl_easy_init ();
  g_assert_nonnull (c->curl);
  c->base = g_strdup_printf ("https://127.0.0.1:%u", tv_test_server_get_port (server));
  c->ca = g_strdup (tv_test_server_get_cert_path (server));
  c->headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return c;
}

void
tv_test_http_free (TvTestHttp *c)
{
  if (c == NULL)
    return;
  curl_easy_cleanup (c->curl);
  g_free (c->base);
  g_free (c->ca);
  g_hash_table_unref (c->headers);
  g_free (c->last_body);
  g_free (c->cookie);
  g_free (c);
}

guint
tv_test_http_request (TvTestHttp *c, const char *method, const char *path, const char *token, const char *body,
                      gssize body_len, JsonNode **reply)
{
  g_return_val_if_fail (c != NULL && method != NULL && path != NULL, 0);
  if (reply != NULL)
    *reply = NULL;
  Job job = { .client = c, .body = g_byte_array_new () };
  struct curl_slist *hdrs = NULL;
  g_autofree char *url = g_strconcat (c->base, path, NULL);
  g_autofree char *auth = token ? g_strconcat ("Authorization: Bearer ", token, NULL) : NULL;

  g_hash_table_remove_all (c->headers);
  CURL *h = c->curl;
  curl_easy_setopt (h, CURLOPT_URL, url);
  curl_easy_setopt (h, CURLOPT_CAINFO, c->ca);
  curl_easy_setopt (h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt (h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (h, CURLOPT_TIMEOUT_MS, (long) TV_TEST_HTTP_TIMEOUT_MS - 1000);
  curl_easy_setopt (h, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt (h, CURLOPT_NOBODY, strcmp (method, "HEAD") == 0 ? 1L : 0L);
  curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, &job);
  curl_easy_setopt (h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt (h, CURLOPT_HEADERDATA, &job);
  curl_easy_setopt (h, CURLOPT_ERRORBUFFER, job.errbuf);
  curl_easy_setopt (h, CURLOPT_COOKIE, c->cookie);
  hdrs = curl_slist_append (hdrs, "Expect:");
  if (auth)
    hdrs = curl_slist_append (hdrs, auth);
  if (body != NULL) {
    hdrs = curl_slist_append (hdrs, "Content-Type: application/json");
    curl_easy_setopt (h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt (h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) (body_len < 0 ? strlen (body) : (gsize) body_len));
  } else {
    curl_easy_setopt (h, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt (h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) -1);
    curl_easy_setopt (h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt (h, CURLOPT_CUSTOMREQUEST, method);
    /* HTTPGET reset NOBODY: a HEAD must not wait for a body. */
    if (strcmp (method, "HEAD") == 0)
      curl_easy_setopt (h, CURLOPT_NOBODY, 1L);
  }
  curl_easy_setopt (h, CURLOPT_HTTPHEADER, hdrs);

  GThread *t = g_thread_new ("tv-test-http", run_job, &job);
  gboolean finished = tv_test_wait_until (job_done, &job, TV_TEST_HTTP_TIMEOUT_MS);
  g_thread_join (t);   /* curl's own timeout ends it shortly after ours */
  curl_slist_free_all (hdrs);
  curl_easy_setopt (h, CURLOPT_HTTPHEADER, NULL);
  if (finished && job.rc != CURLE_OK && c->tolerate) {
    g_test_message ("%s %s: transport error (tolerated): %s", method, path,
                    job.errbuf[0] ? job.errbuf : curl_easy_strerror (job.rc));
    g_byte_array_unref (job.body);
    return 0;
  }
  if (!finished || job.rc != CURLE_OK) {
    g_autofree char *msg = g_strdup_printf ("%s %s: %s", method, path,
                                            job.errbuf[0] ? job.errbuf : curl_easy_strerror (job.rc));
    g_byte_array_unref (job.body);
    g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, msg);
    return 0;
  }
  long status = 0, connects = 0;
  curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo (h, CURLINFO_NUM_CONNECTS, &connects);
  c->new_connections = connects;
  g_free (c->last_body);
  c->last_body = g_strndup ((const char *) job.body->data, job.body->len);
  if (reply != NULL && job.body->len > 0) {
    g_autoptr (JsonParser) p = json_parser_new ();
    if (json_parser_load_from_data (p, (const char *) job.body->data, job.body->len, NULL)
        && json_parser_get_root (p) != NULL)
      *reply = json_node_ref (json_parser_get_root (p));
  }
  g_byte_array_unref (job.body);
  return (guint) status;
}

void
tv_test_http_set_tolerate_transport_errors (TvTestHttp *c, gboolean tolerate)
{
  c->tolerate = tolerate;
}

void
tv_test_http_set_cookie (TvTestHttp *c, const char *cookie)
{
  g_return_if_fail (c != NULL);
  g_free (c->cookie);
  c->cookie = g_strdup (cookie);
}

const char *
tv_test_http_header (TvTestHttp *c, const char *name)
{
  g_autofree char *lower = g_ascii_strdown (name, -1);
  return g_hash_table_lookup (c->headers, lower);
}

glong
tv_test_http_new_connections (TvTestHttp *c)
{
  return c->new_connections;
}

void
tv_test_http (TvTestServer *server, const char *method, const char *path, const char *token,
              const char *json_body, guint *status, JsonNode **reply)
{
  g_autoptr (TvTestHttp) c = tv_test_http_new (server);
  guint s = tv_test_http_request (c, method, path, token, json_body, -1, reply);
  if (status != NULL)
    *status = s;
}

const char *
tv_test_http_error_code (JsonNode *reply)
{
  JsonObject *err = tv_test_http_object (reply, "error");
  return err != NULL ? tv_test_json_str (err, "code") : NULL;
}

JsonObject *
tv_test_http_object (JsonNode *reply, const char *name)
{
  if (reply == NULL || !JSON_NODE_HOLDS_OBJECT (reply))
    return NULL;
  JsonNode *m = json_object_get_member (json_node_get_object (reply), name);
  return m != NULL && JSON_NODE_HOLDS_OBJECT (m) ? json_node_get_object (m) : NULL;
}

/* ---- accounts ---------------------------------------------------------------- */

static TvStore *
open_store (const char *data_dir)
{
  g_autofree char *path = g_build_filename (data_dir, "televisit.db", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_cmpint (g_mkdir_with_parents (data_dir, 0700), ==, 0);
  TvStore *store = tv_store_open (path, &error);
  g_assert_no_error (error);
  return store;
}

char *
tv_test_create_user (const char *data_dir, const char *username, const char *display_name, guint roles,
                     const char *time_zone, const char *password)
{
  g_setenv ("TV_SCRYPT_LN", "10", FALSE);
  g_autoptr (GError) error = NULL;
  g_autoptr (TvStore) store = open_store (data_dir);
  g_autofree char *hash = tv_password_hash (password ? password : TV_TEST_PASSWORD, &error);
  g_assert_no_error (error);
  if (time_zone == NULL && (roles & TV_ROLE_DOCTOR))
    time_zone = "UTC";
  g_autoptr (TvUser) user = NULL;
  tv_store_user_create (store, username, display_name, roles, time_zone, 0, hash, g_get_real_time (), &user,
                        &error);
  g_assert_no_error (error);
  return g_strdup (user->id);
}

char *
tv_test_login (TvTestServer *server, const char *username, const char *password)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "username");
  json_builder_add_string_value (b, username);
  json_builder_set_member_name (b, "password");
  json_builder_add_string_value (b, password ? password : TV_TEST_PASSWORD);
  json_builder_end_object (b);
  g_autoptr (JsonNode) body = json_builder_get_root (b);
  g_autofree char *text = json_to_string (body, FALSE);
  g_autoptr (JsonNode) reply = NULL;
  guint status = 0;
  tv_test_http (server, "POST", "/api/v1/login", NULL, text, &status, &reply);
  if (status != 200) {
    g_autofree char *got = reply ? json_to_string (reply, FALSE) : g_strdup ("(no body)");
    g_autofree char *msg = g_strdup_printf ("login as %s: status %u: %s", username, status, got);
    g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, msg);
  }
  const char *token = tv_test_json_str (json_node_get_object (reply), "token");
  g_assert_nonnull (token);
  return g_strdup (token);
}

void
tv_test_store_exec (const char *data_dir, const char *sql)
{
  g_autofree char *path = g_build_filename (data_dir, "televisit.db", NULL);
  sqlite3 *db = NULL;
  char *err = NULL;
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  int rc = sqlite3_exec (db, sql, NULL, NULL, &err);
  if (rc != SQLITE_OK)
    g_error ("SQL failed: %s: %s", sql, err ? err : "?");
  sqlite3_close (db);
}

gint64
tv_test_store_int (const char *data_dir, const char *sql)
{
  g_autofree char *path = g_build_filename (data_dir, "televisit.db", NULL);
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  gint64 v = -1;
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &st, NULL), ==, SQLITE_OK);
  if (sqlite3_step (st) == SQLITE_ROW)
    v = sqlite3_column_int64 (st, 0);
  sqlite3_finalize (st);
  sqlite3_close (db);
  return v;
}

const char *
tv_test_http_body (TvTestHttp *c)
{
  return c->last_body ? c->last_body : "";
}

void
tv_test_open_all_day (TvTestServer *server, const char *username, const char *doctor_id)
{
  g_autofree char *token = tv_test_login (server, username, NULL);
  g_autofree char *path = g_strdup_printf ("/api/v1/doctors/%s/availability", doctor_id);
  guint status = 0;
  tv_test_http (server, "PUT", path, token, TV_TEST_ALL_DAY_HOURS, &status, NULL);
  g_assert_cmpuint (status, ==, 200);
}

TvTestServer *
tv_test_bookable_clinic (const char *data_dir, const char *suffix, char **doctor_id, char **patient_id)
{
  g_autofree char *doctor = g_strdup_printf ("dr.%s", suffix);
  g_autofree char *patient = g_strdup_printf ("pat.%s", suffix);
  g_autofree char *desk = g_strdup_printf ("desk.%s", suffix);
  *doctor_id = tv_test_create_user (data_dir, doctor, "Dr. Test Doctor", TV_ROLE_DOCTOR, "UTC", NULL);
  *patient_id = tv_test_create_user (data_dir, patient, "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  g_free (tv_test_create_user (data_dir, desk, "Front Desk", TV_ROLE_SCHEDULER, NULL, NULL));
  TvTestServer *server = tv_test_server_start (data_dir, NULL);
  tv_test_open_all_day (server, doctor, *doctor_id);
  return server;
}

char *
tv_test_booking_body (const char *doctor_id, const char *patient_id, guint days, guint hour)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GDateTime) d = g_date_time_add_days (now, (gint) days);
  return g_strdup_printf ("{\"doctor_id\":\"%s\",\"patient_id\":\"%s\",\"start\":\"%04d-%02d-%02dT%02u:00:00Z\"}",
                          doctor_id, patient_id, g_date_time_get_year (d), g_date_time_get_month (d),
                          g_date_time_get_day_of_month (d), hour);
}

void
tv_test_server_stop_replied_once (TvTestServer *server, guint timeout_ms)
{
  g_autofree char *log = tv_test_server_read_stderr (server);
  g_assert_null (strstr (log, "replied twice"));
  g_assert_null (strstr (log, "did not reply"));
  g_assert_cmpint (tv_test_server_stop (server, timeout_ms), ==, 0);
  tv_test_server_free (server);
}
