/* tv-api-auth.c — POST /api/v1/login, POST /api/v1/logout, GET /api/v1/me.
 *
 * Why: the session lifecycle of the HTTPS API. Login checks the throttle first
 * (cheap, before the scrypt work), then the password; every failure is
 * recorded per username and per address and logged at message level with the
 * user id when the account exists and the address — never the password, and
 * never the attempted username when no such account exists (it may be a
 * mistyped password). Unknown usernames cost a scrypt run too, so timing does
 * not reveal which accounts exist.
 * Thread: main loop only (handlers run inside the lws callback).
 */
#define G_LOG_DOMAIN "tv-api-auth"

#include "server/tv-api.h"
#include "server/tv-password.h"

#include <string.h>

/* A hash of a random password at the current cost, computed once, verified
 * against when the username is unknown. */
static char *
dummy_hash (void)
{
  static char *hash;
  static guint hash_ln;
  if (hash == NULL || hash_ln != tv_password_current_ln ()) {
    g_autofree char *pw = tv_password_generate ();
    g_free (hash);
    hash = pw ? tv_password_hash (pw, NULL) : NULL;
    hash_ln = tv_password_current_ln ();
  }
  return hash;
}

static void
reply_bad_credentials (TvHttpRequest *req)
{
  tv_http_reply_error (req, 401, "unauthenticated", "wrong username or password");
}

static void
record_failure (TvHttpRequest *req, const char *username, const char *user_id)
{
  g_autoptr (GError) error = NULL;
  if (!tv_store_login_failure_record (tv_http_request_store (req), username, user_id,
                                      tv_http_request_address (req), tv_http_request_now (req), &error))
    g_warning ("could not record a failed login: %s", error->message);
}

static void
handle_login (TvHttpRequest *req, gpointer user_data)
{
  TvStore *store = tv_http_request_store (req);
  const TvServerConfig *cfg = tv_http_request_config (req);
  const char *address = tv_http_request_address (req);
  gint64 now = tv_http_request_now (req);
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

  if (user == NULL) {
    const char *dummy = dummy_hash ();
    if (dummy)
      tv_password_verify (password, dummy, NULL);
    record_failure (req, username, NULL);
    g_message ("login failed: unknown username from %s", address);
    reply_bad_credentials (req);
    return;
  }
  if (!tv_password_verify (password, hash, &error)) {
    if (error != NULL)
      g_warning ("user %s: stored password hash unusable: %s", user->id, error->message);
    record_failure (req, username, user->id);
    g_message ("login failed: wrong password for user %s from %s", user->id, address);
    reply_bad_credentials (req);
    return;
  }
  if (user->disabled) {
    g_message ("login refused: user %s is disabled (from %s)", user->id, address);
    tv_http_reply_error (req, 403, "forbidden", "this account is disabled");
    return;
  }

  gint64 idle_us = (gint64) (cfg ? cfg->session_idle_minutes : TV_SERVER_DEFAULT_SESSION_IDLE_MINUTES) * 60
                   * G_USEC_PER_SEC;
  gint64 life_us = (gint64) (cfg ? cfg->session_max_hours : TV_SERVER_DEFAULT_SESSION_MAX_HOURS) * 3600
                   * G_USEC_PER_SEC;
  g_autofree char *token = NULL;
  g_autoptr (TvSession) session = NULL;
  if (!tv_store_session_create (store, user->id, address, idle_us, life_us, now, &token, &session, &error)) {
    tv_http_reply_store_error (req, error, "session create");
    return;
  }
  if (!tv_store_login_failures_clear (store, username, &error)) {
    g_warning ("could not clear login failures: %s", error->message);
    g_clear_error (&error);
  }
  g_message ("login: user %s from %s", user->id, address);

  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree char *expires = tv_http_format_time (session->expires_at);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "token");
  json_builder_add_string_value (b, token);
  json_builder_set_member_name (b, "expires_at");
  json_builder_add_string_value (b, expires);
  json_builder_set_member_name (b, "idle_timeout_s");
  json_builder_add_int_value (b, idle_us / G_USEC_PER_SEC);
  json_builder_set_member_name (b, "user");
  json_builder_add_value (b, tv_http_user_to_json (user));
  json_builder_end_object (b);
  tv_http_reply_json (req, 200, json_builder_get_root (b));
  memset (token, 0, strlen (token));
}

static void
handle_logout (TvHttpRequest *req, gpointer user_data)
{
  const TvSession *session = tv_http_request_session (req);
  g_autoptr (GError) error = NULL;
  if (!tv_store_session_end (tv_http_request_store (req), session->key, "logout", tv_http_request_now (req),
                             &error)) {
    tv_http_reply_store_error (req, error, "session end");
    return;
  }
  g_message ("logout: user %s", session->user_id);
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

static const TvHttpRoute routes[] = {
  { "POST", "/api/v1/login", 0, handle_login },
  { "POST", "/api/v1/logout", TV_ROLE_ANY, handle_logout },
  { "GET", "/api/v1/me", TV_ROLE_ANY, handle_me },
};

void
tv_server_api_auth_register (TvHttp *http, TvServer *server)
{
  tv_http_add_routes (http, routes, G_N_ELEMENTS (routes), server);
}
