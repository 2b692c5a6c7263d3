/* tv-api-auth.c — POST /api/v1/login, POST /api/v1/logout, GET /api/v1/me.
 *
 * Why: the session lifecycle of the HTTPS API. Login checks the throttle first
 * (cheap, before any scrypt work), then verifies the password on a worker
 * thread (scrypt with N = 2^15 takes ~0.1 s and 32 MiB: on the main loop it
 * would stall every consult's signaling), then opens the session back on the
 * main loop. Every failure is recorded per username and per address — even
 * when the client hangs up before the answer — and logged at message level
 * with the user id when the account exists and the address; never the
 * password, and never the attempted username when no such account exists (it
 * may be a mistyped password). Unknown usernames cost a scrypt run too, so
 * timing does not reveal which accounts exist. Checks in flight are bounded
 * per username, per address and in total (429 beyond), so parallel guesses
 * cannot outrun the throttle, which only counts finished attempts.
 * Thread: handlers and results on the main loop; scrypt on the pool's threads.
 */
#define G_LOG_DOMAIN "tv-api-auth"

#include "server/tv-api.h"
#include "server/tv-password.h"
#include "server/tv-web.h"

#include <openssl/crypto.h>
#include <string.h>

#define MAX_BUSY_PER_USER 1
#define MAX_BUSY_PER_ADDRESS 4
#define MAX_BUSY_TOTAL 32
#define VERIFY_THREADS 2

/* Per-router state of the login endpoint: owned by the router, refcounted
 * because verification jobs may finish after the router is gone. */
typedef struct {
  GThreadPool *pool;      /* scrypt runs here */
  GMainContext *ctx;      /* where results are handled (the router's loop) */
  GHashTable *busy_users; /* username -> number of checks in flight */
  GHashTable *busy_addrs; /* address -> number */
  guint busy_total;
  char *dummy_hash;       /* verified for unknown usernames (same cost as a real one) */
  guint dummy_ln;
  gboolean closed;        /* the router is gone: results are dropped */
} AuthState;

typedef struct {
  AuthState *state;       /* reference */
  TvHttpRequest *req;     /* reference */
  char *username;         /* normalized */
  char *address;
  char *password;         /* wiped when freed */
  char *hash;             /* the user's stored hash, or the dummy one */
  TvUser *user;           /* NULL: no such account */
  gboolean match;
  GError *error;          /* the stored hash could not be used */
} LoginJob;

static void
auth_state_release (AuthState *st)
{
  g_free (st->dummy_hash);
  g_hash_table_unref (st->busy_users);
  g_hash_table_unref (st->busy_addrs);
  g_main_context_unref (st->ctx);
}

static AuthState *
auth_state_ref (AuthState *st)
{
  return g_atomic_rc_box_acquire (st);
}

static void
auth_state_unref (AuthState *st)
{
  g_atomic_rc_box_release_full (st, (GDestroyNotify) auth_state_release);
}

static guint
busy_get (GHashTable *t, const char *key)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (t, key));
}

static void
busy_add (GHashTable *t, const char *key, int delta)
{
  guint n = (guint) ((int) busy_get (t, key) + delta);
  if (n == 0)
    g_hash_table_remove (t, key);
  else
    g_hash_table_replace (t, g_strdup (key), GUINT_TO_POINTER (n));
}

/* Main loop. */
static void
login_job_free (LoginJob *job)
{
  if (job->password) {
    memset (job->password, 0, strlen (job->password));
    g_free (job->password);
  }
  g_free (job->username);
  g_free (job->address);
  g_free (job->hash);
  tv_user_free (job->user);
  g_clear_error (&job->error);
  tv_http_request_unref (job->req);
  auth_state_unref (job->state);
  g_free (job);
}

/* A job the pool dropped unrun (router freed): undo its bookkeeping too. */
static void
login_job_drop (gpointer data)
{
  LoginJob *job = data;
  job->state->busy_total--;
  busy_add (job->state->busy_users, job->username, -1);
  busy_add (job->state->busy_addrs, job->address, -1);
  login_job_free (job);
}

/* Returns: a hash of a random password at the current cost (computed once). */
static const char *
dummy_hash (AuthState *st)
{
  if (st->dummy_hash == NULL || st->dummy_ln != tv_password_current_ln ()) {
    g_autofree char *pw = tv_password_generate ();
    g_free (st->dummy_hash);
    st->dummy_hash = pw ? tv_password_hash (pw, NULL) : NULL;
    st->dummy_ln = tv_password_current_ln ();
  }
  return st->dummy_hash;
}

static void
reply_bad_credentials (TvHttpRequest *req)
{
  tv_http_reply_error (req, 401, "unauthenticated", "wrong username or password");
}

static void
reply_busy (TvHttpRequest *req, const char *what)
{
  tv_http_reply_add_header (req, "Retry-After", "1");
  tv_http_reply_error (req, 429, "too_many_attempts", "%s; try again in 1 s", what);
}

static void
record_failure (TvStore *store, const LoginJob *job, gint64 now)
{
  g_autoptr (GError) error = NULL;
  if (!tv_store_login_failure_record (store, job->username, job->user ? job->user->id : NULL, job->address, now,
                                      &error))
    g_warning ("could not record a failed login: %s", error->message);
}

static JsonNode *
login_reply (const char *token, const TvSession *session, const TvUser *user)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree char *expires = tv_http_format_time (session->expires_at);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "token");
  json_builder_add_string_value (b, token);
  json_builder_set_member_name (b, "expires_at");
  json_builder_add_string_value (b, expires);
  json_builder_set_member_name (b, "idle_timeout_s");
  json_builder_add_int_value (b, session->idle_timeout_us / G_USEC_PER_SEC);
  json_builder_set_member_name (b, "user");
  json_builder_add_value (b, tv_http_user_to_json (user));
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* Main loop, once the worker is done: record, log, open the session, reply. */
static gboolean
login_finish (gpointer data)
{
  LoginJob *job = data;
  AuthState *st = job->state;
  TvHttpRequest *req = job->req;
  st->busy_total--;
  busy_add (st->busy_users, job->username, -1);
  busy_add (st->busy_addrs, job->address, -1);
  if (st->closed) {
    login_job_free (job);
    return G_SOURCE_REMOVE;
  }
  TvStore *store = tv_http_request_store (req);
  const TvServerConfig *cfg = tv_http_request_config (req);
  gint64 now = g_get_real_time ();
  gboolean gone = tv_http_request_is_gone (req);
  /* Declared before the first goto: cleanup must never see them uninitialised. */
  g_autoptr (GError) error = NULL;
  g_autofree char *token = NULL;
  g_autoptr (TvSession) session = NULL;
  gint64 idle_us, life_us;

  if (!job->match) {
    if (job->error != NULL)
      g_warning ("user %s: stored password hash unusable: %s", job->user->id, job->error->message);
    /* Recorded even when the client hung up: dropping the connection must not
     * be a way around the throttle. */
    record_failure (store, job, now);
    if (job->user)
      g_message ("login failed: wrong password for user %s from %s", job->user->id, job->address);
    else
      g_message ("login failed: unknown username from %s", job->address);
    reply_bad_credentials (req);
    goto out;
  }
  if (job->user->disabled) {
    g_message ("login refused: user %s is disabled (from %s)", job->user->id, job->address);
    tv_http_reply_error (req, 403, "forbidden", "this account is disabled");
    goto out;
  }
  if (!tv_store_login_failures_clear (store, job->username, &error)) {
    g_warning ("could not clear login failures: %s", error->message);
    g_clear_error (&error);
  }
  if (gone) {
    g_message ("login: user %s from %s hung up before the answer; no session opened", job->user->id, job->address);
    goto out;
  }
  idle_us = (gint64) (cfg ? cfg->session_idle_minutes : TV_SERVER_DEFAULT_SESSION_IDLE_MINUTES) * 60
                   * G_USEC_PER_SEC;
  life_us = (gint64) (cfg ? cfg->session_max_hours : TV_SERVER_DEFAULT_SESSION_MAX_HOURS) * 3600
                   * G_USEC_PER_SEC;
  if (!tv_store_session_create (store, job->user->id, job->address, idle_us, life_us, now, &token, &session,
                                &error)) {
    tv_http_reply_store_error (req, error, "session create");
    goto out;
  }
  g_message ("login: user %s from %s", job->user->id, job->address);
  /* The page cookie: same token, only for opening pages (tv-web.h). */
  char *cookie = g_strconcat (TV_WEB_SESSION_COOKIE "=", token, TV_WEB_COOKIE_ATTRS, NULL);
  tv_http_reply_add_header (req, "Set-Cookie", cookie);
  memset (cookie, 0, strlen (cookie));
  g_free (cookie);
  tv_http_reply_json (req, 200, login_reply (token, session, job->user));
  memset (token, 0, strlen (token));
out:
  login_job_free (job);
  return G_SOURCE_REMOVE;
}

/* Worker thread: the scrypt work only (no store, no logs). */
static void
login_verify (gpointer data, gpointer pool_data)
{
  LoginJob *job = data;
  if (job->hash != NULL)
    job->match = tv_password_verify (job->password, job->hash, &job->error) && job->user != NULL;
  memset (job->password, 0, strlen (job->password));
  /* This thread's OpenSSL state goes now, as on the store writer thread
   * (tv-http.c, writer_run): GLib ends pool threads without a join. */
  OPENSSL_thread_stop ();
  /* Always through a source: g_main_context_invoke() would run login_finish
   * right here, on this worker, whenever it can acquire a context nobody is
   * iterating at that instant (seen with the fuzz target's detached requests:
   * the store used off the main thread, and the waiting loop never woken). */
  GSource *src = g_idle_source_new ();
  g_source_set_priority (src, G_PRIORITY_DEFAULT);
  g_source_set_callback (src, login_finish, job, NULL);
  g_source_attach (src, job->state->ctx);
  g_source_unref (src);
}

static void
handle_login (TvHttpRequest *req, gpointer user_data)
{
  AuthState *st = user_data;
  TvStore *store = tv_http_request_store (req);
  const char *address = tv_http_request_address (req);
  gint64 now = tv_http_request_now (req);
  /* Every attempt is audited (ok, failure, throttled), with the user id once known. */
  tv_http_request_audit (req, "login", NULL, NULL);
  JsonObject *body = tv_http_request_body_object (req);
  const char *username_in = NULL, *password = NULL;
  if (body == NULL || !tv_http_get_string (req, body, "username", TRUE, 256, &username_in)
      || !tv_http_get_string (req, body, "password", TRUE, TV_PASSWORD_MAX_BYTES, &password))
    return;
  if (*username_in == '\0' || *password == '\0') {
    tv_http_reply_error (req, 400, "invalid_field", "username and password must not be empty");
    return;
  }
  /* Usernames are lower case: accept "Dr.Who" for "dr.who". */
  g_autofree char *username = g_utf8_strdown (username_in, -1);

  g_autoptr (GError) error = NULL;
  g_autoptr (TvUser) user = NULL;
  g_autofree char *hash = NULL;
  if (!tv_store_user_get_by_username (store, username, &user, &hash, &error)
      && !g_error_matches (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND)) {
    tv_http_reply_store_error (req, error, "user lookup");
    return;
  }
  g_clear_error (&error);
  if (user != NULL)
    tv_http_request_audit (req, "login", user, NULL);

  gint64 retry_us = 0;
  if (!tv_store_login_throttle (store, username, address, now, &retry_us, &error)) {
    tv_http_reply_store_error (req, error, "login throttle");
    return;
  }
  if (retry_us > 0) {
    gint64 retry_s = (retry_us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC;
    g_autofree char *after = g_strdup_printf ("%" G_GINT64_FORMAT, retry_s);
    g_message ("login throttled: %s%s from %s; retry after %" G_GINT64_FORMAT " s",
               user ? "user " : "an unknown username", user ? user->id : "", address, retry_s);
    tv_http_reply_add_header (req, "Retry-After", after);
    tv_http_reply_error (req, 429, "too_many_attempts",
                         "too many failed logins; try again in %" G_GINT64_FORMAT " s", retry_s);
    return;
  }
  if (busy_get (st->busy_users, username) >= MAX_BUSY_PER_USER) {
    reply_busy (req, "a login for this account is already being checked");
    return;
  }
  if (busy_get (st->busy_addrs, address) >= MAX_BUSY_PER_ADDRESS || st->busy_total >= MAX_BUSY_TOTAL) {
    g_message ("login refused: too many logins in progress (from %s)", address);
    reply_busy (req, "too many logins in progress");
    return;
  }

  LoginJob *job = g_new0 (LoginJob, 1);
  job->state = auth_state_ref (st);
  job->req = tv_http_request_ref (req);
  job->username = g_strdup (username);
  job->address = g_strdup (address);
  job->password = g_strdup (password);
  job->hash = user ? g_steal_pointer (&hash) : g_strdup (dummy_hash (st));
  job->user = g_steal_pointer (&user);
  st->busy_total++;
  busy_add (st->busy_users, username, 1);
  busy_add (st->busy_addrs, address, 1);
  tv_http_request_defer (req);
  if (!g_thread_pool_push (st->pool, job, &error)) {
    /* Cannot happen with a non-exclusive pool, but answer rather than hang. */
    g_warning ("login: cannot start the password check: %s", error->message);
    tv_http_reply_error (req, 500, "internal", "internal error");
    login_job_drop (job);
  }
}

static void
handle_logout (TvHttpRequest *req, gpointer user_data)
{
  const TvSession *session = tv_http_request_session (req);
  g_autoptr (GError) error = NULL;
  tv_http_request_audit (req, "logout", NULL, NULL);
  if (!tv_store_session_end (tv_http_request_store (req), session->key, "logout", tv_http_request_now (req),
                             &error)) {
    tv_http_reply_store_error (req, error, "session end");
    return;
  }
  g_message ("logout: user %s", session->user_id);
  tv_http_reply_add_header (req, "Set-Cookie", TV_WEB_SESSION_COOKIE "=; Max-Age=0" TV_WEB_COOKIE_ATTRS);
  JsonNode *ok = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (ok, json_object_new ());
  tv_http_reply_json (req, 200, ok);
}

static void
handle_me (TvHttpRequest *req, gpointer user_data)
{
  const TvSession *session = tv_http_request_session (req);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree char *created = tv_http_format_time (session->created_at);
  g_autofree char *expires = tv_http_format_time (session->expires_at);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "user");
  json_builder_add_value (b, tv_http_user_to_json (tv_http_request_user (req)));
  json_builder_set_member_name (b, "session");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "created_at");
  json_builder_add_string_value (b, created);
  json_builder_set_member_name (b, "expires_at");
  json_builder_add_string_value (b, expires);
  json_builder_set_member_name (b, "idle_timeout_s");
  json_builder_add_int_value (b, session->idle_timeout_us / G_USEC_PER_SEC);
  json_builder_end_object (b);
  json_builder_end_object (b);
  tv_http_reply_json (req, 200, json_builder_get_root (b));
}

static const TvHttpRoute login_routes[] = {
  { "POST", "/api/v1/login", 0, handle_login },
};

static const TvHttpRoute session_routes[] = {
  { "POST", "/api/v1/logout", TV_ROLE_ANY, handle_logout },
  { "GET", "/api/v1/me", TV_ROLE_ANY, handle_me },
};

/* The router is being freed: drop queued checks, wait for running ones (their
 * results then find the state closed), release the router's reference. */
static void
auth_state_close (gpointer data)
{
  AuthState *st = data;
  st->closed = TRUE;
  g_thread_pool_free (st->pool, TRUE, TRUE);
  st->pool = NULL;
  auth_state_unref (st);
}

void
tv_server_api_auth_register (TvHttp *http, TvServer *server)
{
  AuthState *st = g_atomic_rc_box_new0 (AuthState);
  st->ctx = g_main_context_ref_thread_default ();
  st->busy_users = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  st->busy_addrs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  /* Non-exclusive pool: threads are created on demand and shared; failing to
   * create one is reported when a job is pushed. */
  st->pool = g_thread_pool_new_full (login_verify, st, login_job_drop, VERIFY_THREADS, FALSE, NULL);
  tv_http_add_routes_full (http, login_routes, G_N_ELEMENTS (login_routes), st, auth_state_close);
  tv_http_add_routes (http, session_routes, G_N_ELEMENTS (session_routes), server);
}
