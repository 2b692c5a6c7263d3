/* fuzz-http.c — libFuzzer target for the HTTPS API: request bodies, query strings, paths.
 *
 * Why: every /api/v1/ request carries outside bytes (JSON body, query
 * parameters, path segments, the Authorization header) into the router and the
 * handlers of every area. Whatever arrives must give a well-formed reply — a
 * status the API documents and, for errors, {"error": {"code", "message"}} —
 * never a crash, a leak, a 500, a handler that forgets to reply (a warning) or
 * a password hash in a reply.
 * Input (text):
 *   line 1: METHOD SP PATH[?QUERY]   (query split at '&', each part %-decoded as lws does;
 *           a method lws does not report becomes OTHER)
 *   line 2: the Authorization header value, empty for none; "$admin", "$doctor",
 *           "$patient", "$scheduler", "$billing" in it are replaced by a fresh
 *           session token of that user
 *   rest:   the request body
 * The router and every area's routes (tv_server_api_register_all) run on a
 * store in a temporary directory with one user per role (password
 * "correct horse battery staple"), through tv_http_handle_detached().
 * Build and run: `make fuzz FUZZ_TARGETS=http`; `make check` replays tests/fuzz/corpus/http/.
 * Thread: libFuzzer's thread (the router's "main loop" thread here).
 */
#define G_LOG_DOMAIN "tv-fuzz"

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/tv-api.h"
#include "server/tv-http.h"
#include "server/tv-password.h"
#include "server/tv-store-users.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define PASSWORD "correct horse battery staple"

static const struct {
  const char *placeholder, *username, *display, *tz;
  guint roles;
} people[] = {
  { "$admin", "fuzz.admin", "Ada Admin", NULL, TV_ROLE_ADMIN },
  { "$doctor", "fuzz.doctor", "Dr. Test Doctor", "Europe/Berlin", TV_ROLE_DOCTOR },
  { "$patient", "fuzz.patient", "Pat Synthetic", NULL, TV_ROLE_PATIENT },
  { "$scheduler", "fuzz.scheduler", "Sam Scheduler", NULL, TV_ROLE_SCHEDULER },
  { "$billing", "fuzz.billing", "Bill Billing", NULL, TV_ROLE_BILLING },
};

static TvStore *store;
static TvServerConfig *cfg;
static TvHttp *http;
static char *dir, *db_path;
static char *user_ids[G_N_ELEMENTS (people)];

/* Logs are dropped (speed); a warning or critical from our code is a finding. */
static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) {
    g_log_writer_standard_streams (level, fields, n_fields, data);
    abort ();
  }
  return G_LOG_WRITER_HANDLED;
}

static void
cleanup (void)
{
  g_clear_pointer (&http, tv_http_free);
  g_clear_pointer (&store, tv_store_close);
  g_clear_pointer (&cfg, tv_server_config_free);
  if (db_path) {
    const char *suffixes[] = { "", "-wal", "-shm", "-journal" };
    for (gsize i = 0; i < G_N_ELEMENTS (suffixes); i++) {
      g_autofree char *p = g_strconcat (db_path, suffixes[i], NULL);
      g_unlink (p);
    }
    g_rmdir (dir);
  }
  g_clear_pointer (&db_path, g_free);
  g_clear_pointer (&dir, g_free);
  for (gsize i = 0; i < G_N_ELEMENTS (people); i++)
    g_clear_pointer (&user_ids[i], g_free);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  GError *error = NULL;
  /* The cheapest scrypt the password module allows (tests only). */
  g_setenv ("TV_SCRYPT_LN", "10", TRUE);
  g_log_set_writer_func (log_writer, NULL, NULL);
  dir = g_dir_make_tmp ("tv-fuzz-http-XXXXXX", &error);
  if (!dir)
    g_error ("fuzz-http: %s", error->message);
  db_path = g_build_filename (dir, "televisit.db", NULL);
  store = tv_store_open (db_path, &error);
  if (!store)
    g_error ("fuzz-http: %s", error->message);
  cfg = tv_server_config_new_default ();
  g_autofree char *hash = tv_password_hash (PASSWORD, &error);
  if (!hash)
    g_error ("fuzz-http: %s", error->message);
  for (gsize i = 0; i < G_N_ELEMENTS (people); i++) {
    TvUser *u = NULL;
    if (!tv_store_user_create (store, people[i].username, people[i].display, people[i].roles, people[i].tz, 0,
                               hash, g_get_real_time (), &u, &error))
      g_error ("fuzz-http: %s", error->message);
    user_ids[i] = g_strdup (u->id);
    tv_user_free (u);
  }
  http = tv_http_new (store, cfg);
  tv_server_api_register_all (http, NULL);
  atexit (cleanup);
  return 0;
}

/* Replaces each placeholder in @auth with a new session token of its user. */
static char *
expand_auth (const char *auth)
{
  char *out = g_strdup (auth);
  for (gsize i = 0; i < G_N_ELEMENTS (people); i++) {
    if (strstr (out, people[i].placeholder) == NULL)
      continue;
    g_autofree char *token = NULL;
    GError *error = NULL;
    if (!tv_store_session_create (store, user_ids[i], "127.0.0.1", (gint64) 3600 * G_USEC_PER_SEC,
                                  (gint64) 3600 * G_USEC_PER_SEC, g_get_real_time (), &token, NULL, &error))
      g_error ("fuzz-http: %s", error->message);
    g_auto (GStrv) parts = g_strsplit (out, people[i].placeholder, -1);
    g_free (out);
    out = g_strjoinv (token, parts);
  }
  return out;
}

/* Errors under /api/v1/ are {"error": {"code", "message"}}; under /fhir/ they
 * are a FHIR OperationOutcome with at least one issue (docs/API.md). */
static gboolean
error_shape_ok (const char *path, JsonObject *o)
{
  if (o == NULL)
    return FALSE;
  if (g_str_has_prefix (path, "/fhir/")) {
    if (g_strcmp0 (json_object_get_string_member_with_default (o, "resourceType", NULL), "OperationOutcome") != 0)
      return FALSE;
    JsonArray *issues = json_object_has_member (o, "issue") ? json_object_get_array_member (o, "issue") : NULL;
    return issues != NULL && json_array_get_length (issues) > 0;
  }
  JsonObject *e = json_object_has_member (o, "error") ? json_object_get_object_member (o, "error") : NULL;
  return e != NULL && json_object_has_member (e, "code") && json_object_has_member (e, "message");
}

static void
check_reply (const char *path, guint status, const char *reply)
{
  static const guint documented[] = { 200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 413, 429 };
  gboolean known = FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (documented); i++)
    known |= status == documented[i];
  if (!known) {
    g_printerr ("fuzz-http: status %u: %s\n", status, reply);
    abort ();
  }
  if (strstr (reply, "$scrypt$") != NULL)
    abort (); /* a password hash must never leave the server */
  if (*reply == '\0')
    return;
  /* Other paths are the compiled-in web pages (tv-web.c): HTML, CSS, JS. */
  if (!g_str_has_prefix (path, "/api/") && !g_str_has_prefix (path, "/fhir/"))
    return;
  JsonParser *parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, reply, -1, NULL))
    abort ();
  if (status >= 400) {
    JsonNode *root = json_parser_get_root (parser);
    if (!error_shape_ok (path, JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL))
      abort ();
  }
  g_object_unref (parser);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *text = (const char *) data, *end = text + size;
  const char *nl1 = memchr (text, '\n', size);
  if (nl1 == NULL)
    return 0;
  const char *nl2 = memchr (nl1 + 1, '\n', (size_t) (end - nl1 - 1));
  const char *body = nl2 ? nl2 + 1 : end;

  g_autofree char *line = g_strndup (text, (gsize) (nl1 - text));
  g_autofree char *auth_raw = g_strndup (nl1 + 1, (gsize) ((nl2 ? nl2 : end) - nl1 - 1));
  char *sp = strchr (line, ' ');
  if (sp == NULL)
    return 0;
  *sp = '\0';
  char *path = sp + 1;
  char *q = strchr (path, '?');
  g_auto (GStrv) query = NULL;
  if (q) {
    *q = '\0';
    query = g_strsplit (q + 1, "&", -1);
    for (char **f = query; *f; f++) {
      /* lws turns '+' into ' ' and decodes %XX; an invalid escape stays as is. */
      g_strdelimit (*f, "+", ' ');
      char *dec = g_uri_unescape_string (*f, NULL);
      if (dec) {
        g_free (*f);
        *f = dec;
      }
    }
  }
  g_autofree char *auth = *auth_raw ? expand_auth (auth_raw) : NULL;
  g_autofree char *reply = NULL;
  /* lws only ever reports these methods (tv-http's method_of). */
  static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", NULL };
  const char *method = g_strv_contains (methods, line) ? line : "OTHER";
  guint status = tv_http_handle_detached (http, method, path, (const char *const *) query, auth,
                                          (const guint8 *) body, (gsize) (end - body), &reply);
  check_reply (path, status, reply);
  return 0;
}
