/* test-http-auth.c — the HTTPS API framework and accounts endpoints, black-box.
 *
 * Why: login, logout, idle and absolute session expiry, disabled accounts,
 * throttling of failed logins (429 + Retry-After, audit log lines), the
 * router's error replies (400/401/403/404/405/413), security headers and
 * keep-alive, the users endpoints' bad input, and that a session the server
 * has just accepted (its lookup answered from the store's session cache) is
 * refused at its next request once another process ended it, disabled its
 * user or changed its roles — all through a real
 * televisit-server over TLS on loopback, asserting statuses, error codes,
 * headers, rows in the store and lines in the server's log. Time is moved by
 * rewriting timestamps in the store, never by sleeping.
 * Thread: main thread only; every case runs under a watchdog.
 */
#define G_LOG_DOMAIN "test-http-auth"

#include <string.h>

#include "server/tv-store-users.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"

typedef struct {
  const char *dir;
  TvTestServer *server;
} World;

static void
world_start (World *w, const char *const *args)
{
  w->dir = tv_test_tmpdir ();
  /* The store is created (and migrated) by the first user, before the server opens it. */
  w->server = NULL;
  (void) args;
}

static void
world_serve (World *w, const char *const *args)
{
  w->server = tv_test_server_start (w->dir, args);
}

static void
world_stop (World *w)
{
  g_assert_cmpint (tv_test_server_stop (w->server, 5000), ==, 0);
  tv_test_server_free (w->server);
}

static guint
post_json (TvTestServer *s, const char *path, const char *token, const char *body, JsonNode **reply)
{
  guint status = 0;
  tv_test_http (s, "POST", path, token, body, &status, reply);
  return status;
}

static guint
login_status (TvTestServer *s, const char *username, const char *password, JsonNode **reply)
{
  g_autofree char *body = g_strdup_printf ("{\"username\":\"%s\",\"password\":\"%s\"}", username, password);
  return post_json (s, "/api/v1/login", NULL, body, reply);
}

static guint
get_me (TvTestServer *s, const char *token, JsonNode **reply)
{
  guint status = 0;
  tv_test_http (s, "GET", "/api/v1/me", token, NULL, &status, reply);
  return status;
}

static void
assert_error (JsonNode *reply, const char *code)
{
  g_assert_nonnull (reply);
  g_assert_cmpstr (tv_test_http_error_code (reply), ==, code);
  JsonObject *err = tv_test_http_object (reply, "error");
  const char *msg = tv_test_json_str (err, "message");
  g_assert_nonnull (msg);
  g_assert_cmpuint (strlen (msg), >, 0);
}

/* ---- login / logout / me ------------------------------------------------------ */

static void
test_login_ok (void)
{
  World w;
  world_start (&w, NULL);
  g_autofree char *id = tv_test_create_user (w.dir, "dr.test", "Dr. Test Doctor", TV_ROLE_DOCTOR | TV_ROLE_SCHEDULER,
                                             "Europe/Paris", NULL);
  world_serve (&w, NULL);

  g_autoptr (JsonNode) reply = NULL;
  gint64 before = g_get_real_time ();
  g_assert_cmpuint (login_status (w.server, "dr.test", TV_TEST_PASSWORD, &reply), ==, 200);
  JsonObject *o = json_node_get_object (reply);
  const char *token = tv_test_json_str (o, "token");
  g_assert_true (tv_store_token_is_wellformed (token));   /* 32 random bytes, base64url */
  g_assert_cmpint (tv_test_json_int (o, "idle_timeout_s", 0), ==, 15 * 60);
  g_autoptr (GDateTime) exp = g_date_time_new_from_iso8601 (tv_test_json_str (o, "expires_at"), NULL);
  g_assert_nonnull (exp);
  gint64 exp_s = g_date_time_to_unix (exp);
  g_assert_cmpint (exp_s, >=, before / G_USEC_PER_SEC + 12 * 3600 - 1);
  g_assert_cmpint (exp_s, <=, g_get_real_time () / G_USEC_PER_SEC + 12 * 3600 + 1);
  JsonObject *user = tv_test_http_object (reply, "user");
  g_assert_cmpstr (tv_test_json_str (user, "id"), ==, id);
  g_assert_cmpstr (tv_test_json_str (user, "username"), ==, "dr.test");
  g_assert_cmpstr (tv_test_json_str (user, "display_name"), ==, "Dr. Test Doctor");
  JsonArray *roles = json_object_get_array_member (user, "roles");
  g_assert_cmpuint (json_array_get_length (roles), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (roles, 0), ==, "doctor");
  g_assert_cmpstr (json_array_get_string_element (roles, 1), ==, "scheduler");

  /* The store keeps the token's hash only. */
  g_autofree char *leak = g_strdup_printf ("SELECT count(*) FROM sessions WHERE sha256 = '%s'", token);
  g_assert_cmpint (tv_test_store_int (w.dir, leak), ==, 0);
  g_assert_cmpint (tv_test_store_int (w.dir, "SELECT count(*) FROM sessions WHERE ended_at = 0"), ==, 1);

  g_autoptr (JsonNode) me = NULL;
  g_assert_cmpuint (get_me (w.server, token, &me), ==, 200);
  g_assert_cmpstr (tv_test_json_str (tv_test_http_object (me, "user"), "id"), ==, id);
  g_assert_cmpint (tv_test_json_int (tv_test_http_object (me, "session"), "idle_timeout_s", 0), ==, 900);

  /* Upper-case usernames are accepted (usernames are lower case). */
  g_autoptr (JsonNode) r2 = NULL;
  g_assert_cmpuint (login_status (w.server, "DR.Test", TV_TEST_PASSWORD, &r2), ==, 200);

  /* The token never reaches the log. */
  g_autofree char *log = tv_test_server_read_stderr (w.server);
  g_assert_null (strstr (log, token));
  g_assert_null (strstr (log, TV_TEST_PASSWORD));
  g_autofree char *line = g_strdup_printf ("login: user %s from 127.0.0.1", id);
  g_assert_nonnull (strstr (log, line));
  world_stop (&w);
}

static void
test_login_refused (void)
{
  World w;
  world_start (&w, NULL);
  g_autofree char *id = tv_test_create_user (w.dir, "pat.one", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  g_autofree char *off = tv_test_create_user (w.dir, "pat.off", "Pat Disabled", TV_ROLE_PATIENT, NULL, NULL);
  world_serve (&w, NULL);

  g_autoptr (JsonNode) r1 = NULL, r2 = NULL, r3 = NULL, r4 = NULL;
  g_assert_cmpuint (login_status (w.server, "pat.one", "wrong password!", &r1), ==, 401);
  assert_error (r1, "unauthenticated");
  g_assert_cmpuint (login_status (w.server, "no.such.user", "typed-secret-99", &r2), ==, 401);
  assert_error (r2, "unauthenticated");
  /* Same answer for both: nothing tells an unknown user from a wrong password. */
  g_assert_cmpstr (tv_test_json_str (tv_test_http_object (r1, "error"), "message"), ==,
                   tv_test_json_str (tv_test_http_object (r2, "error"), "message"));
  g_assert_cmpint (tv_test_store_int (w.dir, "SELECT count(*) FROM sessions"), ==, 0);
  g_assert_cmpint (tv_test_store_int (w.dir, "SELECT count(*) FROM login_failures"), ==, 2);

  /* A disabled user cannot log in, even with the right password. */
  g_autofree char *sql = g_strdup_printf ("UPDATE users SET disabled = 1 WHERE id = '%s'", off);
  tv_test_store_exec (w.dir, sql);
  g_assert_cmpuint (login_status (w.server, "pat.off", TV_TEST_PASSWORD, &r3), ==, 403);
  assert_error (r3, "forbidden");
  g_assert_cmpint (tv_test_store_int (w.dir, "SELECT count(*) FROM sessions"), ==, 0);

  /* Audit lines: user id and address for a known user; neither the password nor
   * the attempted username when there is no such account. */
  g_autofree char *log = tv_test_server_read_stderr (w.server);
  g_autofree char *line = g_strdup_printf ("login failed: wrong password for user %s from 127.0.0.1", id);
  g_assert_nonnull (strstr (log, line));
  g_assert_nonnull (strstr (log, "login failed: unknown username from 127.0.0.1"));
  g_assert_null (strstr (log, "wrong password!"));
  g_assert_null (strstr (log, "no.such.user"));
  g_assert_null (strstr (log, "typed-secret-99"));
  g_assert_nonnull (strstr (log, "is disabled"));

  /* A good login still works. */
  g_assert_cmpuint (login_status (w.server, "pat.one", TV_TEST_PASSWORD, &r4), ==, 200);
  world_stop (&w);
}

static void
test_logout (void)
{
  World w;
  world_start (&w, NULL);
  g_autofree char *id = tv_test_create_user (w.dir, "pat.two", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  world_serve (&w, NULL);
  g_autofree char *t1 = tv_test_login (w.server, "pat.two", NULL);
  g_autofree char *t2 = tv_test_login (w.server, "pat.two", NULL);
  g_autoptr (JsonNode) r = NULL, r2 = NULL, r3 = NULL, r4 = NULL;
  g_assert_cmpuint (post_json (w.server, "/api/v1/logout", t1, NULL, &r), ==, 200);
  g_assert_cmpuint (get_me (w.server, t1, &r2), ==, 401);
  assert_error (r2, "unauthenticated");
  g_assert_cmpuint (post_json (w.server, "/api/v1/logout", t1, NULL, &r3), ==, 401);
  /* The other session of the same user is untouched. */
  g_assert_cmpuint (get_me (w.server, t2, &r4), ==, 200);
  g_assert_cmpint (tv_test_store_int (w.dir, "SELECT count(*) FROM sessions WHERE end_reason = 'logout'"), ==, 1);
  world_stop (&w);
}

static void
test_idle_timeout (void)
{
  World w;
  world_start (&w, NULL);
  g_autofree char *id = tv_test_create_user (w.dir, "pat.idle", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  world_serve (&w, NULL);
  g_autofree char *t = tv_test_login (w.server, "pat.idle", NULL);
  g_autoptr (JsonNode) r1 = NULL, r2 = NULL, r3 = NULL;

  /* 14 minutes idle: fine, and the use moves last_seen to now. */
  tv_test_store_exec (w.dir, "UPDATE sessions SET last_seen = last_seen - 14 * 60 * 1000000");
  g_assert_cmpuint (get_me (w.server, t, &r1), ==, 200);
  gint64 lag = g_get_real_time () - tv_test_store_int (w.dir, "SELECT last_seen FROM sessions");
  g_assert_cmpint (lag, <, 10 * G_USEC_PER_SEC);

  /* 16 minutes idle (default timeout 15): 401 session_expired, ended "idle". */
  tv_test_store_exec (w.dir, "UPDATE sessions SET last_seen = last_seen - 16 * 60 * 1000000");
  g_assert_cmpuint (get_me (w.server, t, &r2), ==, 401);
  assert_error (r2, "session_expired");
  g_assert_cmpint (tv_test_store_int (w.dir, "SELECT count(*) FROM sessions WHERE end_reason = 'idle'"), ==, 1);
  g_assert_cmpuint (get_me (w.server, t, &r3), ==, 401);
  assert_error (r3, "session_expired");
  world_stop (&w);
}

static void
test_absolute_expiry (void)
{
  World w;
  world_start (&w, NULL);
  g_autofree char *id = tv_test_create_user (w.dir, "pat.abs", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  const char *args[] = { "--session-idle-minutes", "5", "--session-max-hours", "1", NULL };
  world_serve (&w, args);
  g_autoptr (JsonNode) login = NULL, r1 = NULL, r2 = NULL;
  g_assert_cmpuint (login_status (w.server, "pat.abs", TV_TEST_PASSWORD, &login), ==, 200);
  JsonObject *o = json_node_get_object (login);
  g_assert_cmpint (tv_test_json_int (o, "idle_timeout_s", 0), ==, 300);
  g_autoptr (GDateTime) exp = g_date_time_new_from_iso8601 (tv_test_json_str (o, "expires_at"), NULL);
  gint64 left = g_date_time_to_unix (exp) - g_get_real_time () / G_USEC_PER_SEC;
  g_assert_cmpint (left, >, 3600 - 10);
  g_assert_cmpint (left, <=, 3600);
  const char *t = tv_test_json_str (o, "token");

  /* Active (last_seen now) but past the absolute expiry: refused. */
  g_assert_cmpuint (get_me (w.server, t, &r1), ==, 200);
  tv_test_store_exec (w.dir, "UPDATE sessions SET created_at = created_at - 3601000000,"
                             " expires_at = expires_at - 3601000000");
  g_assert_cmpuint (get_me (w.server, t, &r2), ==, 401);
  assert_error (r2, "session_expired");
  g_assert_cmpint (tv_test_store_int (w.dir, "SELECT count(*) FROM sessions WHERE end_reason = 'expired'"), ==, 1);
  world_stop (&w);
}

static void
test_disabled_sessions_end (void)
{
  World w;
  world_start (&w, NULL);
  g_autofree char *id = tv_test_create_user (w.dir, "pat.dis", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  world_serve (&w, NULL);
  g_autofree char *t = tv_test_login (w.server, "pat.dis", NULL);
  g_autoptr (JsonNode) r0 = NULL, r1 = NULL;
  g_assert_cmpuint (get_me (w.server, t, &r0), ==, 200);
  g_assert_cmpuint (get_me (w.server, t, &r1), ==, 200);
  /* As `televisitctl user disable` does, from another process. */
  g_autofree char *path = g_build_filename (w.dir, "televisit.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (TvStore) store = tv_store_open (path, &error);
  g_assert_no_error (error);
  g_assert_true (tv_store_user_set_disabled (store, id, TRUE, g_get_real_time (), &error));
  g_autoptr (JsonNode) r = NULL;
  g_assert_cmpuint (get_me (w.server, t, &r), ==, 401);
  assert_error (r, "unauthenticated");
  world_stop (&w);
}

/* A session used twice (the second lookup answered from the server's session
 * cache, tv-store-users.c) and then changed by another process — this test's,
 * as televisitctl would — is judged on the change at its very next request:
 * roles, then the session ended. A second session of the same user, used in
 * between, is untouched by the first one's end. */
static void
test_changed_elsewhere (void)
{
  World w;
  world_start (&w, NULL);
  g_autofree char *id = tv_test_create_user (w.dir, "dr.else", "Dr. Test Doctor", TV_ROLE_DOCTOR | TV_ROLE_SCHEDULER,
                                             NULL, NULL);
  world_serve (&w, NULL);
  g_autofree char *t = tv_test_login (w.server, "dr.else", NULL);
  g_autofree char *t2 = tv_test_login (w.server, "dr.else", NULL);
  for (int i = 0; i < 3; i++) {
    g_autoptr (JsonNode) r = NULL;
    g_assert_cmpuint (get_me (w.server, t, &r), ==, 200);
    JsonArray *roles = json_object_get_array_member (tv_test_http_object (r, "user"), "roles");
    g_assert_cmpuint (json_array_get_length (roles), ==, 2);
  }
  g_autofree char *drop = g_strdup_printf ("DELETE FROM user_roles WHERE user_id = '%s' AND role = 'scheduler'", id);
  tv_test_store_exec (w.dir, drop);
  g_autoptr (JsonNode) r1 = NULL;
  g_assert_cmpuint (get_me (w.server, t, &r1), ==, 200);
  JsonArray *roles = json_object_get_array_member (tv_test_http_object (r1, "user"), "roles");
  g_assert_cmpuint (json_array_get_length (roles), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (roles, 0), ==, "doctor");

  g_autoptr (JsonNode) r2 = NULL, r3 = NULL, r4 = NULL, r5 = NULL;
  g_assert_cmpuint (get_me (w.server, t, &r2), ==, 200);
  g_assert_cmpuint (get_me (w.server, t2, &r3), ==, 200);
  /* the store keeps the SHA-256 of the token (tv-store-users.h) */
  g_autofree char *key = g_compute_checksum_for_string (G_CHECKSUM_SHA256, t, -1);
  g_autofree char *end = g_strdup_printf ("UPDATE sessions SET ended_at = %" G_GINT64_FORMAT ", end_reason = 'revoked'"
                                          " WHERE sha256 = '%s'", g_get_real_time (), key);
  tv_test_store_exec (w.dir, end);
  g_assert_cmpuint (get_me (w.server, t, &r4), ==, 401);
  assert_error (r4, "unauthenticated");
  g_assert_cmpuint (get_me (w.server, t2, &r5), ==, 200);
  world_stop (&w);
}

/* ---- throttling ------------------------------------------------------------------ */

static void
test_throttle_account (void)
{
  World w;
  world_start (&w, NULL);
  g_autofree char *id = tv_test_create_user (w.dir, "pat.thr", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  world_serve (&w, NULL);
  g_autoptr (TvTestHttp) c = tv_test_http_new (w.server);
  const char *bad = "{\"username\":\"pat.thr\",\"password\":\"not the password\"}";
  g_autofree char *good = g_strdup_printf ("{\"username\":\"pat.thr\",\"password\":\"%s\"}", TV_TEST_PASSWORD);
  for (int i = 0; i < TV_LOGIN_FREE_FAILURES; i++) {
    g_autoptr (JsonNode) r = NULL;
    g_assert_cmpuint (tv_test_http_request (c, "POST", "/api/v1/login", NULL, bad, -1, &r), ==, 401);
  }
  /* The 6th attempt within the second is refused before the password is even
   * checked: the right password gets 429 too. */
  g_autoptr (JsonNode) r6 = NULL;
  g_assert_cmpuint (tv_test_http_request (c, "POST", "/api/v1/login", NULL, good, -1, &r6), ==, 429);
  assert_error (r6, "too_many_attempts");
  g_assert_cmpstr (tv_test_http_header (c, "Retry-After"), ==, "1");
  g_assert_cmpint (tv_test_store_int (w.dir, "SELECT count(*) FROM sessions"), ==, 0);
  g_assert_cmpint (tv_test_store_int (w.dir, "SELECT count(*) FROM login_failures"), ==, 5);

  /* Once the second has passed (moved back in the store) another failure doubles the wait. */
  tv_test_store_exec (w.dir, "UPDATE login_failures SET at = at - 1100000");
  g_autoptr (JsonNode) r7 = NULL, r8 = NULL;
  g_assert_cmpuint (tv_test_http_request (c, "POST", "/api/v1/login", NULL, bad, -1, &r7), ==, 401);
  g_assert_cmpuint (tv_test_http_request (c, "POST", "/api/v1/login", NULL, good, -1, &r8), ==, 429);
  g_assert_cmpstr (tv_test_http_header (c, "Retry-After"), ==, "2");

  /* After the wait the right password logs in and the account's count restarts. */
  tv_test_store_exec (w.dir, "UPDATE login_failures SET at = at - 2100000");
  g_autoptr (JsonNode) r9 = NULL;
  g_assert_cmpuint (tv_test_http_request (c, "POST", "/api/v1/login", NULL, good, -1, &r9), ==, 200);

  g_autofree char *log = tv_test_server_read_stderr (w.server);
  g_autofree char *line = g_strdup_printf ("login throttled: user %s from 127.0.0.1", id);
  g_assert_nonnull (strstr (log, line));
  g_assert_null (strstr (log, "not the password"));
  world_stop (&w);
}

static void
test_throttle_address (void)
{
  World w;
  world_start (&w, NULL);
  g_autofree char *id = tv_test_create_user (w.dir, "pat.addr", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  world_serve (&w, NULL);
  /* Five different unknown usernames from one address ... */
  for (int i = 0; i < TV_LOGIN_FREE_FAILURES; i++) {
    g_autofree char *user = g_strdup_printf ("guess%d", i);
    g_autoptr (JsonNode) r = NULL;
    g_assert_cmpuint (login_status (w.server, user, "whatever-password", &r), ==, 401);
  }
  /* ... throttle that address, for any account. */
  g_autoptr (JsonNode) r = NULL;
  g_assert_cmpuint (login_status (w.server, "pat.addr", TV_TEST_PASSWORD, &r), ==, 429);
  assert_error (r, "too_many_attempts");
  g_autofree char *log = tv_test_server_read_stderr (w.server);
  g_assert_nonnull (strstr (log, "login throttled"));
  g_assert_null (strstr (log, "guess0"));
  world_stop (&w);
}

/* ---- the router ------------------------------------------------------------------ */

/* 40 levels of objects: valid JSON, but deeper than the router parses. */
#define DEEP_JSON "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":" \
  "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":" \
  "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":" \
  "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":1" \
  "}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}"

static void
test_bad_requests (void)
{
  World w;
  world_start (&w, NULL);
  g_autofree char *id = tv_test_create_user (w.dir, "boss", "Ada Admin", TV_ROLE_ADMIN, NULL, NULL);
  world_serve (&w, NULL);
  g_autofree char *admin = tv_test_login (w.server, "boss", NULL);
  g_autoptr (TvTestHttp) c = tv_test_http_new (w.server);
  const struct {
    const char *why, *method, *path, *body;
    gboolean auth;
    guint status;
    const char *code;
  } cases[] = {
    { "not JSON", "POST", "/api/v1/login", "{username:", FALSE, 400, "invalid_json" },
    { "JSON array", "POST", "/api/v1/login", "[1,2]", FALSE, 400, "invalid_json" },
    { "JSON string", "POST", "/api/v1/login", "\"x\"", FALSE, 400, "invalid_json" },
    { "no body", "POST", "/api/v1/login", NULL, FALSE, 400, "invalid_json" },
    { "trailing garbage", "POST", "/api/v1/login", "{\"username\":\"a\"} x", FALSE, 400, "invalid_json" },
    { "nested too deep", "POST", "/api/v1/login", DEEP_JSON, FALSE, 400, "invalid_json" },
    { "not UTF-8", "POST", "/api/v1/login", "{\"username\":\"\xff\xfe\",\"password\":\"x\"}", FALSE, 400,
      "invalid_json" },
    /* json-glib would hand "boss\u0000x" to the handler as "boss". */
    { "NUL in a string", "POST", "/api/v1/login", "{\"username\":\"boss\\u0000x\",\"password\":\"x\"}", FALSE, 400,
      "invalid_json" },
    { "NUL in the password", "POST", "/api/v1/login", "{\"username\":\"b\",\"password\":\"x\\u0000\"}", FALSE,
      400, "invalid_json" },
    { "missing password", "POST", "/api/v1/login", "{\"username\":\"boss\"}", FALSE, 400, "missing_field" },
    { "missing username", "POST", "/api/v1/login", "{\"password\":\"x\"}", FALSE, 400, "missing_field" },
    { "username a number", "POST", "/api/v1/login", "{\"username\":7,\"password\":\"x\"}", FALSE, 400,
      "invalid_field" },
    { "password null", "POST", "/api/v1/login", "{\"username\":\"boss\",\"password\":null}", FALSE, 400,
      "invalid_field" },
    { "empty strings", "POST", "/api/v1/login", "{\"username\":\"\",\"password\":\"\"}", FALSE, 400,
      "invalid_field" },
    { "unknown route", "GET", "/api/v1/nothing-here", NULL, TRUE, 404, "not_found" },
    { "route prefix only", "GET", "/api/v1/", NULL, TRUE, 404, "not_found" },
    { "not the API", "GET", "/index.html", NULL, FALSE, 404, "not_found" },
    { "extra segment", "GET", "/api/v1/me/more", NULL, TRUE, 404, "not_found" },
    { "wrong method", "GET", "/api/v1/login", NULL, FALSE, 405, "method_not_allowed" },
    { "wrong method 2", "DELETE", "/api/v1/me", NULL, TRUE, 405, "method_not_allowed" },
    { "no token", "GET", "/api/v1/me", NULL, FALSE, 401, "unauthenticated" },
    { "users: bad role filter", "GET", "/api/v1/users?role=wizard", NULL, TRUE, 400, "invalid_field" },
    { "users: not a uuid", "GET", "/api/v1/users/not-a-uuid", NULL, TRUE, 404, "not_found" },
    { "users: no such id", "GET", "/api/v1/users/00000000-0000-4000-8000-000000000000", NULL, TRUE, 404,
      "not_found" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (JsonNode) r = NULL;
    g_test_message ("bad request: %s", cases[i].why);
    guint status = tv_test_http_request (c, cases[i].method, cases[i].path, cases[i].auth ? admin : NULL,
                                         cases[i].body, -1, &r);
    g_assert_cmpuint (status, ==, cases[i].status);
    assert_error (r, cases[i].code);
    if (status == 405)
      g_assert_nonnull (tv_test_http_header (c, "Allow"));
    if (status == 401)
      g_assert_nonnull (tv_test_http_header (c, "WWW-Authenticate"));
  }
  /* An escaped backslash before u0000 is the text \u0000, not a NUL: the handler sees it (a wrong login). */
  {
    g_autoptr (JsonNode) r = NULL;
    g_assert_cmpuint (tv_test_http_request (c, "POST", "/api/v1/login", NULL,
                                            "{\"username\":\"b\\\\u0000\",\"password\":\"x\"}", -1, &r), ==, 401);
    assert_error (r, "unauthenticated");
  }
  /* Malformed Authorization headers. */
  const char *bad_tokens[] = { "", "x", "Bearer", "not-a-token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
  for (guint i = 0; i < G_N_ELEMENTS (bad_tokens); i++) {
    g_autoptr (JsonNode) r = NULL;
    g_assert_cmpuint (tv_test_http_request (c, "GET", "/api/v1/me", bad_tokens[i], NULL, -1, &r), ==, 401);
    assert_error (r, "unauthenticated");
  }
  g_assert_cmpint (tv_test_store_int (w.dir, "SELECT count(*) FROM users"), ==, 1);
  world_stop (&w);
}

/* What json-glib 1.6 accepts beyond JSON is refused by the router, with a message
 * naming the problem, before any handler (the gate of signaling/tv-sig-json.c). */
static void
test_strict_json (void)
{
  World w;
  world_start (&w, NULL);
  g_autofree char *id = tv_test_create_user (w.dir, "boss", "Ada Admin", TV_ROLE_ADMIN, NULL, NULL);
  world_serve (&w, NULL);
  g_autoptr (TvTestHttp) c = tv_test_http_new (w.server);
  const struct {
    const char *why, *body, *needle;
  } cases[] = {
    { "comment", "{\"username\":\"boss\", /* hi */ \"password\":\"x\"}", "comment" },
    { "line comment", "{\"username\":\"boss\",\n// hi\n\"password\":\"x\"}", "comment" },
    { "single quotes", "{'username':'boss','password':'x'}", "single-quoted" },
    { "duplicate key", "{\"username\":\"boss\",\"password\":\"x\",\"username\":\"other\"}",
      "duplicate member \"username\"" },
    { "duplicate key nested", "{\"username\":\"boss\",\"password\":\"x\",\"o\":[{\"k\":1,\"k\":2}]}",
      "duplicate member \"k\"" },
    { "duplicate key, other escape", "{\"username\":\"boss\",\"password\":\"x\",\"\\u0075sername\":\"b\"}",
      "more than once" },
    { "trailing value", "{\"username\":\"boss\",\"password\":\"x\"} {\"username\":\"other\"}", "after the end" },
    { "trailing scalar", "{\"username\":\"boss\",\"password\":\"x\"} 1", "after the end" },
    { "NaN", "{\"username\":\"boss\",\"password\":\"x\",\"n\":NaN}", "NaN" },
    { "Infinity", "{\"username\":\"boss\",\"password\":\"x\",\"n\":-Infinity}", "Infinity" },
    { "hex number", "{\"username\":\"boss\",\"password\":\"x\",\"n\":0x1F}", "hexadecimal" },
    { "leading zero", "{\"username\":\"boss\",\"password\":\"x\",\"n\":007}", "leading zero" },
    { "raw control character", "{\"username\":\"bo\tss\",\"password\":\"x\"}", "control character" },
    { "NUL escape", "{\"username\":\"boss\\u0000x\",\"password\":\"x\"}", "\\u0000" },
    { "byte-order mark", "\xef\xbb\xbf{\"username\":\"boss\",\"password\":\"x\"}", "byte-order mark" },
    { "number too long", "{\"username\":\"boss\",\"password\":\"x\",\"n\":12345678901234567890}",
      "field \"n\": number out of range" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (JsonNode) r = NULL;
    g_test_message ("strict JSON: %s", cases[i].why);
    g_assert_cmpuint (tv_test_http_request (c, "POST", "/api/v1/login", NULL, cases[i].body, -1, &r), ==, 400);
    assert_error (r, "invalid_json");
    const char *msg = tv_test_json_str (tv_test_http_object (r, "error"), "message");
    if (strstr (msg, cases[i].needle) == NULL)
      g_error ("%s: message \"%s\" does not name \"%s\"", cases[i].why, msg, cases[i].needle);
  }
  /* No login happened: no session was created. */
  g_assert_cmpint (tv_test_store_int (w.dir, "SELECT count(*) FROM sessions"), ==, 0);
  world_stop (&w);
}

static void
test_body_limit (void)
{
  World w;
  world_start (&w, NULL);
  g_autofree char *id = tv_test_create_user (w.dir, "boss", "Ada Admin", TV_ROLE_ADMIN, NULL, NULL);
  world_serve (&w, NULL);
  g_autofree char *admin = tv_test_login (w.server, "boss", NULL);
  g_autoptr (TvTestHttp) c = tv_test_http_new (w.server);

  /* Exactly 64 KiB of valid JSON is read (and refused for its content) ... */
  GString *big = g_string_new ("{\"username\":\"");
  while (big->len < 64 * 1024 - 2)
    g_string_append_c (big, 'a');
  g_string_append (big, "\"}");
  g_assert_cmpuint (big->len, ==, 64 * 1024);
  g_autoptr (JsonNode) r1 = NULL;
  g_assert_cmpuint (tv_test_http_request (c, "POST", "/api/v1/users", admin, big->str, -1, &r1), ==, 400);
  /* ... one byte more is 413; the body is drained, so the connection stays usable. */
  g_string_insert_c (big, 13, 'a');
  g_autoptr (JsonNode) r2 = NULL;
  g_assert_cmpuint (tv_test_http_request (c, "POST", "/api/v1/users", admin, big->str, -1, &r2), ==, 413);
  assert_error (r2, "body_too_large");
  g_autoptr (JsonNode) r2b = NULL;
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/api/v1/me", admin, NULL, -1, &r2b), ==, 200);
  g_assert_cmpint (tv_test_http_new_connections (c), ==, 0);
  /* 1 MiB: still drained and answered. */
  GString *huge = g_string_sized_new (10 * 1024 * 1024);
  g_string_set_size (huge, 1024 * 1024);
  memset (huge->str, ' ', huge->len);
  g_autoptr (JsonNode) r3 = NULL;
  g_assert_cmpuint (tv_test_http_request (c, "POST", "/api/v1/login", NULL, huge->str, (gssize) huge->len, &r3), ==,
                    413);
  assert_error (r3, "body_too_large");
  /* 10 MiB announced: answered 413 at once and the connection closed without
   * reading it — a client still sending may see a reset instead of the answer. */
  g_string_set_size (huge, 10 * 1024 * 1024);
  memset (huge->str, ' ', huge->len);
  tv_test_http_set_tolerate_transport_errors (c, TRUE);
  g_autoptr (JsonNode) r3b = NULL;
  guint st = tv_test_http_request (c, "POST", "/api/v1/login", NULL, huge->str, (gssize) huge->len, &r3b);
  g_assert_true (st == 413 || st == 0);
  if (st == 413)
    g_assert_cmpstr (tv_test_http_header (c, "Connection"), ==, "close");
  tv_test_http_set_tolerate_transport_errors (c, FALSE);
  g_string_free (huge, TRUE);
  g_string_free (big, TRUE);
  g_assert_cmpint (tv_test_store_int (w.dir, "SELECT count(*) FROM users"), ==, 1);
  /* The server is fine afterwards. */
  g_autoptr (JsonNode) r4 = NULL;
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/api/v1/me", admin, NULL, -1, &r4), ==, 200);
  world_stop (&w);
}

static void
test_headers_keepalive (void)
{
  World w;
  world_start (&w, NULL);
  g_autofree char *id = tv_test_create_user (w.dir, "boss", "Ada Admin", TV_ROLE_ADMIN, NULL, NULL);
  world_serve (&w, NULL);
  g_autofree char *admin = tv_test_login (w.server, "boss", NULL);
  g_autoptr (TvTestHttp) c = tv_test_http_new (w.server);
  const char *paths[] = { "/api/v1/me", "/api/v1/nothing", "/api/v1/users" };
  for (guint i = 0; i < G_N_ELEMENTS (paths); i++) {
    g_autoptr (JsonNode) r = NULL;
    tv_test_http_request (c, "GET", paths[i], admin, NULL, -1, &r);
    g_assert_nonnull (r);
    g_assert_cmpstr (tv_test_http_header (c, "Content-Type"), ==, "application/json");
    g_assert_cmpstr (tv_test_http_header (c, "Cache-Control"), ==, "no-store");
    g_assert_cmpstr (tv_test_http_header (c, "X-Content-Type-Options"), ==, "nosniff");
    g_assert_true (g_str_has_prefix (tv_test_http_header (c, "Strict-Transport-Security"), "max-age="));
    g_assert_true (g_str_has_prefix (tv_test_http_header (c, "Content-Security-Policy"), "default-src 'none'"));
    /* Keep-alive: every request after the first reuses the connection. */
    g_assert_cmpint (tv_test_http_new_connections (c), ==, i == 0 ? 1 : 0);
  }
  world_stop (&w);
}

/* ---- users endpoints: bad input writes nothing ---------------------------------------- */

static void
test_users_bad_input (void)
{
  World w;
  world_start (&w, NULL);
  g_autofree char *a = tv_test_create_user (w.dir, "boss", "Ada Admin", TV_ROLE_ADMIN, NULL, NULL);
  g_autofree char *s = tv_test_create_user (w.dir, "desk", "Sam Scheduler", TV_ROLE_SCHEDULER, NULL, NULL);
  world_serve (&w, NULL);
  g_autofree char *admin = tv_test_login (w.server, "boss", NULL);
  g_autofree char *sched = tv_test_login (w.server, "desk", NULL);
  const struct {
    const char *why, *body;
    gboolean as_scheduler;
    guint status;
    const char *code;
  } cases[] = {
    { "no username", "{\"display_name\":\"Pat\",\"roles\":[\"patient\"]}", FALSE, 400, "missing_field" },
    { "no display name", "{\"username\":\"pat.x\",\"roles\":[\"patient\"]}", FALSE, 400, "missing_field" },
    { "no roles", "{\"username\":\"pat.x\",\"display_name\":\"Pat\"}", FALSE, 400, "missing_field" },
    { "empty roles", "{\"username\":\"pat.x\",\"display_name\":\"Pat\",\"roles\":[]}", FALSE, 400, "invalid_field" },
    { "unknown role", "{\"username\":\"pat.x\",\"display_name\":\"Pat\",\"roles\":[\"wizard\"]}", FALSE, 400,
      "invalid_field" },
    { "roles not array", "{\"username\":\"pat.x\",\"display_name\":\"Pat\",\"roles\":\"patient\"}", FALSE, 400,
      "invalid_field" },
    { "bad username", "{\"username\":\"Pat X\",\"display_name\":\"Pat\",\"roles\":[\"patient\"]}", FALSE, 400,
      "invalid_field" },
    { "blank display name", "{\"username\":\"pat.x\",\"display_name\":\"  \",\"roles\":[\"patient\"]}", FALSE, 400,
      "invalid_field" },
    { "bad zone", "{\"username\":\"dr.x\",\"display_name\":\"Dr\",\"roles\":[\"doctor\"],\"time_zone\":\"Nowhere/X\"}",
      FALSE, 400, "invalid_field" },
    { "bad slot", "{\"username\":\"dr.x\",\"display_name\":\"Dr\",\"roles\":[\"doctor\"],\"slot_minutes\":3}", FALSE,
      400, "invalid_field" },
    { "slot not integer", "{\"username\":\"dr.x\",\"display_name\":\"Dr\",\"roles\":[\"doctor\"],\"slot_minutes\":1.5}",
      FALSE, 400, "invalid_field" },
    { "short password", "{\"username\":\"pat.x\",\"display_name\":\"Pat\",\"roles\":[\"patient\"],\"password\":\"x\"}",
      FALSE, 400, "invalid_field" },
    { "taken username", "{\"username\":\"desk\",\"display_name\":\"Pat\",\"roles\":[\"patient\"]}", FALSE, 409,
      "conflict" },
    { "scheduler makes a doctor", "{\"username\":\"dr.y\",\"display_name\":\"Dr\",\"roles\":[\"doctor\"]}", TRUE, 403,
      "forbidden" },
    { "scheduler makes patient+admin",
      "{\"username\":\"pat.y\",\"display_name\":\"Pat\",\"roles\":[\"patient\",\"admin\"]}", TRUE, 403, "forbidden" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (JsonNode) r = NULL;
    g_test_message ("users bad input: %s", cases[i].why);
    g_assert_cmpuint (post_json (w.server, "/api/v1/users", cases[i].as_scheduler ? sched : admin, cases[i].body, &r),
                      ==, cases[i].status);
    assert_error (r, cases[i].code);
  }
  /* Nothing was half-written. */
  g_assert_cmpint (tv_test_store_int (w.dir, "SELECT count(*) FROM users"), ==, 2);
  g_assert_cmpint (tv_test_store_int (w.dir, "SELECT count(*) FROM user_roles"), ==, 2);

  /* And the good cases: the scheduler registers a patient (password generated,
   * shown once), the admin a doctor with a zone and a chosen password. */
  g_autoptr (JsonNode) ok1 = NULL, ok2 = NULL;
  g_assert_cmpuint (post_json (w.server, "/api/v1/users", sched,
                               "{\"username\":\"pat.new\",\"display_name\":\"Pat Synthetic\",\"roles\":[\"patient\"]}",
                               &ok1), ==, 201);
  const char *initial = tv_test_json_str (json_node_get_object (ok1), "initial_password");
  g_assert_nonnull (initial);
  g_assert_cmpuint (post_json (w.server, "/api/v1/users", admin,
                               "{\"username\":\"dr.new\",\"display_name\":\"Dr. Test Doctor\",\"roles\":[\"doctor\"],"
                               "\"time_zone\":\"America/New_York\",\"slot_minutes\":30,"
                               "\"password\":\"doctor-password-1\"}", &ok2), ==, 201);
  JsonObject *doc = tv_test_http_object (ok2, "user");
  g_assert_cmpstr (tv_test_json_str (doc, "time_zone"), ==, "America/New_York");
  g_assert_cmpint (tv_test_json_int (doc, "slot_minutes", 0), ==, 30);
  g_assert_null (json_object_get_member (json_node_get_object (ok2), "initial_password"));
  g_autofree char *t1 = tv_test_login (w.server, "pat.new", initial);
  g_autofree char *t2 = tv_test_login (w.server, "dr.new", "doctor-password-1");
  g_autofree char *log = tv_test_server_read_stderr (w.server);
  g_assert_null (strstr (log, initial));
  g_assert_null (strstr (log, "Pat Synthetic"));
  world_stop (&w);
}

/* ---- main ---------------------------------------------------------------------------- */

static void
run_with_watchdog (gconstpointer data)
{
  tv_test_watchdog_start (60, g_test_get_path ());
  ((void (*) (void)) data) ();
  tv_test_watchdog_stop ();
}

#define ADD(path, fn) g_test_add_data_func ((path), (gconstpointer) (fn), run_with_watchdog)

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_setenv ("TV_SCRYPT_LN", "10", TRUE);
  ADD ("/http-auth/login/ok", test_login_ok);
  ADD ("/http-auth/login/refused", test_login_refused);
  ADD ("/http-auth/logout", test_logout);
  ADD ("/http-auth/session/idle-timeout", test_idle_timeout);
  ADD ("/http-auth/session/absolute-expiry", test_absolute_expiry);
  ADD ("/http-auth/session/disabled-user", test_disabled_sessions_end);
  ADD ("/http-auth/session/changed-elsewhere", test_changed_elsewhere);
  ADD ("/http-auth/throttle/account", test_throttle_account);
  ADD ("/http-auth/throttle/address", test_throttle_address);
  ADD ("/http-auth/router/bad-requests", test_bad_requests);
  ADD ("/http-auth/router/strict-json", test_strict_json);
  ADD ("/http-auth/router/body-limit", test_body_limit);
  ADD ("/http-auth/router/headers-keepalive", test_headers_keepalive);
  ADD ("/http-auth/users/bad-input", test_users_bad_input);
  return g_test_run ();
}
